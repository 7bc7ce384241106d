//! Thin binary: parse arguments, log to stderr, then serve MCP or run `exec`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use mcp_ssh_session::cli::{Cli, Command, exec, take_secret_env};
use mcp_ssh_session::config::Config;
use mcp_ssh_session::mcp::SshServer;
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
    // rmcp logs whole requests, tool arguments (passwords) included, at debug level: it is
    // capped at info whatever RUST_LOG says, so secrets never reach the log.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "warn".into())
        .add_directive("rmcp=info".parse().expect("valid directive"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
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
            None => serve(config).await,
        }
    });
    // stdin may still be blocked in a read; do not wait for it.
    rt.shutdown_timeout(Duration::from_millis(100));
    code
}

async fn serve(config: Config) -> ExitCode {
    // A local root that cannot be used is a start-up error, not a surprise at the first upload.
    if let Err(e) = mcp_ssh_session::transfer::LocalRoot::new(config.local_root.as_deref()) {
        eprintln!("mcp-ssh-session: {e}");
        return ExitCode::from(2);
    }
    let engine = match SessionManager::new(config) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            eprintln!("mcp-ssh-session: {e}");
            return ExitCode::from(2);
        }
    };
    let server = SshServer::new(engine.clone());
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
    // No master outlives the server.
    engine.close_all().await;
    ExitCode::SUCCESS
}
