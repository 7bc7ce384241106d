//! One error type whose variants name the stage that failed, so that a message tells the user
//! (or the model) what happened and what to do next.

use std::path::PathBuf;

/// Everything that can go wrong between a tool call and a remote shell.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter was refused before anything ran.
    #[error("invalid {what}: {reason}")]
    InvalidInput { what: &'static str, reason: String },

    /// The `ssh` (or `sftp`) program could not be started at all.
    #[error(
        "could not run {program}: {source}. Install OpenSSH or set MCP_SSH_BIN to the ssh binary"
    )]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `ssh -G` refused the destination (bad config file, bad alias...).
    #[error("ssh could not resolve {host}: {detail}")]
    Resolve { host: String, detail: String },

    /// Connecting or starting the ControlMaster failed (network, DNS, refused, proxy...).
    #[error("could not connect to {dest}: {detail}")]
    Connect { dest: String, detail: String },

    /// The server asked for a secret that we were not given.
    #[error("{dest} asked for {what} (prompt: {prompt:?}) and none was given. {hint}")]
    AuthNeeded {
        dest: String,
        what: &'static str,
        prompt: String,
        hint: &'static str,
    },

    /// Authentication was attempted and refused.
    #[error("authentication to {dest} failed: {detail}")]
    AuthFailed { dest: String, detail: String },

    /// The host key is unknown or changed; we never accept one silently.
    #[error("host key of {dest} is not trusted: {detail}")]
    HostKey { dest: String, detail: String },

    /// The ControlMaster is gone or misbehaves.
    #[error("the ssh connection master for {dest} failed: {detail}")]
    Master { dest: String, detail: String },

    /// The remote shell could not be set up with our marker protocol.
    #[error("could not set up a shell on {dest}: {detail}")]
    Shell { dest: String, detail: String },

    /// The connection or shell died while in use.
    #[error("the connection to {dest} was lost: {detail}")]
    Disconnected { dest: String, detail: String },

    /// Too many shells for one destination.
    #[error(
        "{dest} already has {limit} shells, all busy (running: {running}). Wait for one to finish, interrupt one, or raise MCP_SSH_MAX_SHELLS (sshd's MaxSessions defaults to 10)"
    )]
    ShellLimit {
        dest: String,
        limit: usize,
        running: String,
    },

    /// The caller gave up (MCP cancellation, Ctrl-C of the CLI).
    #[error("cancelled")]
    Cancelled,

    /// Keys for a shell that runs no program: they would be typed in front of the next command.
    #[error(
        "no command is running in {session}'s shell, so there is nothing to send keys to; start the program with execute_command (e.g. `vim FILE`), then use send_keys"
    )]
    Idle { session: String },

    /// Input or an interrupt for a command that is no longer running: it is never typed into
    /// whatever runs next.
    #[error(
        "command {id} is not running (status: {status}); nothing was sent. Use get_command_status('{id}') to see its result"
    )]
    NotRunning { id: String, status: &'static str },

    /// A command id that we do not know (never existed, or dropped from the bounded history).
    #[error("unknown command id {0:?}. Use list_command_history to see known ids")]
    UnknownCommand(String),

    /// A remote file operation failed; `problem` says why in words a caller can act on.
    #[error("{path}: {problem}{}", detail_suffix(.detail))]
    RemoteFile {
        path: String,
        problem: FileProblem,
        detail: String,
    },

    /// A local path for upload_file/download_file was refused or could not be used.
    #[error("local path {path}: {detail}")]
    LocalFile { path: String, detail: String },

    /// Local I/O (runtime directory, spool files).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn file(path: &str, problem: FileProblem, detail: impl Into<String>) -> Self {
        Error::RemoteFile {
            path: path.to_string(),
            problem,
            detail: detail.into(),
        }
    }

    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            what,
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

/// Why a remote file operation failed, as far as the server told us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileProblem {
    NotFound,
    /// A parent directory is missing (writes).
    ParentMissing,
    /// A component of the path is a file, not a directory.
    NotADirectory,
    /// make_dirs could not create a parent directory.
    MakeDirs,
    IsADirectory,
    /// A device, FIFO, socket...: nothing to read as a file.
    NotRegular,
    PermissionDenied,
    DiskFull,
    ReadOnly,
    /// sudo refused (wrong password, not allowed) or needs a password we were not given.
    Sudo,
    /// The transfer arrived, but its size or SHA-256 differs from the source.
    Mismatch,
    /// Neither sftp nor a POSIX shell on an exec channel is available on the host.
    NoTransport,
    Other,
}

impl std::fmt::Display for FileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileProblem::NotFound => "no such file or directory",
            FileProblem::ParentMissing => {
                "the parent directory does not exist (make_dirs=true creates it)"
            }
            FileProblem::NotADirectory => "a component of the path is not a directory",
            FileProblem::MakeDirs => "the parent directories could not be created",
            FileProblem::IsADirectory => "is a directory",
            FileProblem::NotRegular => "not a regular file",
            FileProblem::PermissionDenied => {
                "permission denied (use_sudo=true or sudo_password retries with sudo)"
            }
            FileProblem::DiskFull => "no space left on the remote file system",
            FileProblem::ReadOnly => "the remote file system is read-only",
            FileProblem::Sudo => "sudo failed",
            FileProblem::Mismatch => "the transferred file does not match its source",
            FileProblem::NoTransport => "no way to transfer files",
            FileProblem::Other => "the operation failed",
        })
    }
}
