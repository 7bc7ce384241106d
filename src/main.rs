//! Thin binary: parse arguments, log to stderr, then serve MCP or run `exec`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use mcp_ssh_session::audit::AuditLog;
use mcp_ssh_session::cli::{Cli, Command, exec, take_secret_env};
use mcp_ssh_session::config::{Config, path_setting};
use mcp_ssh_session::error::Error;
use mcp_ssh_session::mcp::{Guard, SshServer};
use mcp_ssh_session::policy::Policy;
use mcp_ssh_session::session::{ExecRequest, SessionManager};
use rmcp::ServiceExt;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Secrets named on the command line are read and removed before any thread starts.
    let (password, sudo_password, enable_password) = match &cli.command {
        Some(Command::Exec {
            password_env,
            sudo_password_env,
            enable_password_env,
            ..
        }) => (
            take_secret_env(password_env.as_deref()),
            take_secret_env(sudo_password_env.as_deref()),
            take_secret_env(enable_password_env.as_deref()),
        ),
        None => (None, None, None),
    };
    init_logging();
    let config = match Config::from_env(cli.ssh_config.clone()) {
        Ok(mut c) => {
            if let Some(root) = cli.local_root.clone() {
                c.local_root = Some(root);
            }
            c
        }
        Err(e) => {
            eprintln!("mcp-ssh-session: {e}");
            return ExitCode::from(2);
        }
    };
    // The OVRD_* values now live in zeroizing secrets only; no thread runs yet.
    // SAFETY: single-threaded here (the runtime starts below).
    unsafe { config.overrides.remove_from_env() };
    no_core_dumps();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mcp-ssh-session: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = rt.block_on(async move {
        match cli.command {
            Some(Command::Exec {
                host,
                user,
                port,
                identity,
                timeout,
                command,
                enable_command,
                ..
            }) => {
                let req = ExecRequest {
                    host,
                    command: command.join(" "),
                    username: user,
                    password,
                    key_filename: identity,
                    port,
                    sudo_password,
                    enable_password,
                    enable_command: Some(enable_command),
                    timeout: Duration::from_secs(timeout.min(7 * 24 * 3600)),
                };
                exec(config, req).await
            }
            None => match guard(cli.audit_log, cli.policy) {
                Ok(guard) => serve(config, guard).await,
                Err(e) => {
                    eprintln!("mcp-ssh-session: {e}");
                    ExitCode::from(2)
                }
            },
        }
    });
    // stdin may still be blocked in a read; do not wait for it.
    rt.shutdown_timeout(Duration::from_millis(100));
    code
}

/// Logs to stderr, filtered by `RUST_LOG` (default `warn`).
///
/// rmcp logs whole JSON-RPC messages, tool arguments (passwords) included, at debug and trace
/// level. A directive cannot stop that (`RUST_LOG=rmcp::service=debug` is more specific than
/// any `rmcp=info` we could add), so a second filter on the layer itself drops every event and
/// span of an `rmcp` target above INFO, whatever `RUST_LOG` says.
fn init_logging() {
    use tracing_subscriber::filter::{EnvFilter, filter_fn};
    use tracing_subscriber::prelude::*;
    let env = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_filter(filter_fn(|meta| {
            !meta.target().starts_with("rmcp") || *meta.level() <= tracing::Level::INFO
        }))
        .with_filter(env);
    tracing_subscriber::registry().with(layer).init();
}

/// Secrets live in this process's memory: no core file may carry them to disk.
fn no_core_dumps() {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit with a valid pointer to a local struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) } != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "cannot disable core dumps");
    }
}

/// The audit log and the policy, from the flags or MCP_SSH_AUDIT_LOG / MCP_SSH_POLICY.
fn guard(audit_log: Option<PathBuf>, policy: Option<PathBuf>) -> Result<Arc<Guard>, Error> {
    let audit = path_setting(audit_log, "MCP_SSH_AUDIT_LOG")
        .map(|p| AuditLog::open(&p))
        .transpose()?;
    let policy = path_setting(policy, "MCP_SSH_POLICY")
        .map(|p| Policy::load(&p))
        .transpose()?;
    Ok(Arc::new(Guard::new(audit, policy)))
}

async fn serve(config: Config, guard: Arc<Guard>) -> ExitCode {
    let engine = match SessionManager::new(config) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            eprintln!("mcp-ssh-session: {e}");
            return ExitCode::from(2);
        }
    };
    // A local root that cannot be used is a start-up error, not a surprise at the first upload.
    let server = match SshServer::new(engine.clone(), guard.clone()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mcp-ssh-session: {e}");
            return ExitCode::from(2);
        }
    };
    let running = match server.serve(rmcp::transport::stdio()).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "MCP initialisation failed");
            engine.close_all().await;
            return ExitCode::from(1);
        }
    };
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM");
            return ExitCode::from(1);
        }
    };
    tokio::select! {
        r = running.waiting() => {
            if let Err(e) = r {
                tracing::warn!(error = %e, "MCP service ended with an error");
            }
        }
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
    }
    // No master outlives the server. Closing is bounded (a master that does not answer
    // `-O exit` is killed); a second signal stops waiting for it, and the masters' terminals
    // are hung up as the process ends. The audit log reaches the disk either way.
    tokio::select! {
        _ = engine.close_all() => {}
        _ = tokio::signal::ctrl_c() => tracing::warn!("SIGINT again: exiting without waiting for sessions to close"),
        _ = term.recv() => tracing::warn!("SIGTERM again: exiting without waiting for sessions to close"),
    }
    guard.close();
    ExitCode::SUCCESS
}
