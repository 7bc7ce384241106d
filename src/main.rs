//! Thin binary: parse arguments, log to stderr, then serve MCP or run `exec`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use mcp_ssh_session::audit::AuditLog;
use mcp_ssh_session::cli::{Cli, Command, exec, take_secret_env};
use mcp_ssh_session::config::Config;
use mcp_ssh_session::error::Error;
use mcp_ssh_session::mcp::{Guard, SshServer};
use mcp_ssh_session::policy::Policy;
use mcp_ssh_session::session::{ExecRequest, SessionManager};
use rmcp::ServiceExt;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Secrets named on the command line are read and removed before any thread starts.
    let (password, sudo_password) = match &cli.command {
        Some(Command::Exec {
            password_env,
            sudo_password_env,
            ..
        }) => (
            take_secret_env(password_env.as_deref()),
            take_secret_env(sudo_password_env.as_deref()),
        ),
        None => (None, None),
    };
    init_logging();
    let config = match Config::from_env(cli.ssh_config.clone()) {
        Ok(c) => c,
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

/// Logs to stderr at RUST_LOG's levels (warn by default).
///
/// rmcp logs whole messages, tool arguments (passwords) included, at debug and trace level: its
/// events are capped at info whatever RUST_LOG says (`rmcp=debug`, `rmcp::service=trace`...),
/// so secrets never reach the log.
fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{Layer, filter};
    let env =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let no_protocol_dumps = filter::filter_fn(|m| {
        !(m.target() == "rmcp" || m.target().starts_with("rmcp::"))
            || *m.level() <= tracing::Level::INFO
    });
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .with_filter(env)
                .with_filter(no_protocol_dumps),
        )
        .init();
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
    let from_env = |flag: Option<PathBuf>, var: &str| {
        flag.or_else(|| {
            std::env::var_os(var)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
    };
    let audit = from_env(audit_log, "MCP_SSH_AUDIT_LOG")
        .map(|p| AuditLog::open(&p))
        .transpose()?;
    let policy = from_env(policy, "MCP_SSH_POLICY")
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
    let server = SshServer::with_guard(engine.clone(), guard.clone());
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
    // No master outlives the server; the audit log reaches the disk.
    engine.close_all().await;
    guard.close();
    ExitCode::SUCCESS
}
