//! The command line: no subcommand serves MCP on stdio; `exec` runs one command through the
//! same engine for local debugging.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::jobs::{JobStatus, Waited};
use crate::secret::Secret;
use crate::session::{ExecRequest, SessionManager};

#[derive(Debug, Parser)]
#[command(
    name = "mcp-ssh-session",
    version,
    about = "MCP server with persistent SSH sessions through your own OpenSSH",
    long_about = "Without a subcommand, serves the Model Context Protocol on stdin/stdout (logs go to stderr; set RUST_LOG=debug for more).\n\nEnvironment: MCP_SSH_CONFIG (ssh config file, like --ssh-config), MCP_SSH_BIN (ssh binary), MCP_SSH_MAX_SHELLS, MCP_SSH_OUTPUT_LIMIT, MCP_SSH_CONNECT_TIMEOUT, MCP_SSH_HISTORY, MCP_SSH_SPOOL_LIMIT, MCP_SSH_SPOOL_TOTAL (output spools live under $XDG_CACHE_HOME/mcp-ssh-session, else ~/.cache/mcp-ssh-session), MCP_SSH_LOCAL_ROOT (like --local-root), MCP_SSH_AUDIT_LOG (like --audit-log), MCP_SSH_POLICY (like --policy), OVRD_<alias>_HOST/USER/PORT/KEY/PASS/SUDO_PASS/ENABLE_PASS."
)]
pub struct Cli {
    /// ssh config file passed as -F to every ssh we run (default: MCP_SSH_CONFIG, else ssh's own).
    #[arg(long, global = true, value_name = "PATH")]
    pub ssh_config: Option<PathBuf>,

    /// Append one JSON line per tool call that touches a host to this file (default:
    /// MCP_SSH_AUDIT_LOG). Created with mode 0600.
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,

    /// Check tool calls against this TOML policy file (default: MCP_SSH_POLICY).
    #[arg(long, value_name = "PATH")]
    pub policy: Option<PathBuf>,

    /// Directory that upload_file and download_file may read and write under (default:
    /// MCP_SSH_LOCAL_ROOT, else the working directory).
    #[arg(long, global = true, value_name = "DIR")]
    pub local_root: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run COMMAND on HOST through the session engine, print its output, exit with its exit code
    /// (a network device: 0, or 1 when it printed an error; 130 interrupted, 124 timed out, 255 failed).
    Exec {
        /// Host, IP or ~/.ssh/config alias.
        // A host that looks like an option reaches our validation, which says why it is refused.
        #[arg(allow_hyphen_values = true)]
        host: String,
        /// Login user.
        #[arg(short = 'l', long)]
        user: Option<String>,
        /// Port.
        #[arg(short, long)]
        port: Option<u16>,
        /// Private key file.
        #[arg(short = 'i', long)]
        identity: Option<String>,
        /// Seconds to wait for the command.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// Name of an environment variable holding the login password (never the password itself).
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
        /// Name of an environment variable holding the sudo password.
        #[arg(long, value_name = "VAR")]
        sudo_password_env: Option<String>,
        /// Name of an environment variable holding a network device's enable password.
        #[arg(long, value_name = "VAR")]
        enable_password_env: Option<String>,
        /// A network device's enable command.
        #[arg(long, default_value = "enable")]
        enable_command: String,
        /// The command (after `--`); several words are joined with spaces.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

/// Reads a secret from the named variable and removes it, so no child inherits it.
pub fn take_secret_env(var: Option<&str>) -> Option<Secret> {
    let var = var?;
    let value = std::env::var(var).ok()?;
    // SAFETY: called from main before the async runtime starts any thread.
    unsafe { std::env::remove_var(var) };
    match Secret::parse(value) {
        Ok(s) => s,
        Err(why) => {
            eprintln!("mcp-ssh-session: ${var} is ignored: {why}");
            None
        }
    }
}

/// `exec`: one command, output to stdout, the remote exit code as ours (a device's: 0, or 1
/// with its error line on stderr).
pub async fn exec(config: Config, req: ExecRequest) -> ExitCode {
    let engine = match SessionManager::new(config) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            eprintln!("mcp-ssh-session: {e}");
            return ExitCode::from(255);
        }
    };
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            c2.cancel();
        }
    });
    let code = match engine.start(&req, &cancel).await {
        Ok(job) => {
            let deadline = tokio::time::Instant::now() + req.timeout;
            let (waited, _) = stream_output(&job, deadline, &cancel).await;
            if waited == Waited::Cancelled {
                let _ = engine.interrupt(&job.id).await;
                let _ = job
                    .wait(
                        tokio::time::Instant::now() + Duration::from_secs(2),
                        &CancellationToken::new(),
                    )
                    .await;
            }
            let snap = job.snapshot(0);
            for n in &snap.notes {
                eprintln!("note: {n}");
            }
            if let Some(e) = &snap.error {
                eprintln!("error: {e}");
            }
            match (snap.status.is_active(), snap.exit_code) {
                (true, _) => {
                    if let Some(a) = &snap.awaiting_input {
                        eprintln!(
                            "mcp-ssh-session: the command is waiting for input ({}): {:?}",
                            a.kind, a.prompt
                        );
                    } else {
                        eprintln!(
                            "mcp-ssh-session: still running after {}s; interrupting it",
                            req.timeout.as_secs()
                        );
                    }
                    let _ = engine.interrupt(&job.id).await;
                    124
                }
                (false, Some(c)) => c.clamp(0, 255),
                // A network device has no exit status: 0, or 1 when it printed an error.
                (false, None) if snap.status == JobStatus::Completed && snap.device.is_some() => {
                    match &snap.device_error {
                        Some(e) => {
                            eprintln!("device error: {e}");
                            1
                        }
                        None => 0,
                    }
                }
                (false, None) if snap.status == JobStatus::Interrupted => 130,
                (false, None) => 255,
            }
        }
        Err(e) => {
            eprintln!("mcp-ssh-session: {e}");
            255
        }
    };
    engine.close_all().await;
    ExitCode::from(code as u8)
}

/// Copies a job's output to stdout as it arrives, until it ends, waits for input, times out
/// or is cancelled. Returns how the wait ended and the bytes written.
async fn stream_output(
    job: &crate::jobs::Job,
    deadline: tokio::time::Instant,
    cancel: &CancellationToken,
) -> (Waited, u64) {
    use std::io::Write;
    let mut rx = job.subscribe();
    let mut offset = 0u64;
    loop {
        // Status before draining: output pushed when the job finishes is then drained too.
        let status = job.status();
        // Completed lines first; the unterminated last line only once the command is over.
        loop {
            let slice = job.read_output(offset, 1 << 20);
            if slice.text.is_empty() {
                break;
            }
            offset = slice.offset + slice.text.len() as u64;
            let mut out = std::io::stdout().lock();
            if out.write_all(slice.text.as_bytes()).is_err() {
                return (Waited::Cancelled, offset);
            }
            let _ = out.flush();
        }
        if !status.is_active() {
            return (Waited::Finished, offset);
        }
        if status == crate::jobs::JobStatus::AwaitingInput {
            let partial = job.with_state(|s| s.partial.clone());
            let _ = std::io::stdout().write_all(partial.as_bytes());
            return (Waited::AwaitingInput, offset);
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { return (Waited::Finished, offset) },
            _ = tokio::time::sleep_until(deadline) => return (Waited::TimedOut, offset),
            _ = cancel.cancelled() => return (Waited::Cancelled, offset),
        }
    }
}
