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

    /// Input or an interrupt for a command that is no longer running: it is never typed into
    /// whatever runs next.
    #[error(
        "command {id} is not running (status: {status}); nothing was sent. Use get_command_status('{id}') to see its result"
    )]
    NotRunning { id: String, status: &'static str },

    /// A command id that we do not know (never existed, or dropped from the bounded history).
    #[error("unknown command id {0:?}. Use list_command_history to see known ids")]
    UnknownCommand(String),

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

    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            what,
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
