//! Driving the session engine directly: requests, runs that must finish, and waits.

use std::sync::Arc;
use std::time::Duration;

use mcp_ssh_session::jobs::{Job, JobSnapshot, Waited};
use mcp_ssh_session::session::{ExecRequest, SessionManager};
use tokio_util::sync::CancellationToken;

/// Everything a snapshot may hold in these tests.
const ALL: usize = 1 << 20;

/// A command for `host` that the call waits for up to `secs` seconds.
pub fn req(host: &str, command: &str, secs: u64) -> ExecRequest {
    ExecRequest {
        host: host.into(),
        command: command.into(),
        timeout: Duration::from_secs(secs),
        ..Default::default()
    }
}

/// Starts `r` as execute_command does; an engine error fails the test.
pub async fn execute(e: &SessionManager, r: &ExecRequest) -> (Arc<Job>, Waited) {
    // Boxed: a test awaiting dozens of these in one block would otherwise hold every
    // engine future inline, and a debug build's state machine outgrows the test thread's stack.
    Box::pin(e.execute(r, &CancellationToken::new()))
        .await
        .unwrap_or_else(|err| panic!("{:?} on {}: {err}", r.command, r.host))
}

/// Runs `r` and returns where it stands when the call returns, finished or not.
pub async fn attempt(e: &SessionManager, r: &ExecRequest) -> (JobSnapshot, Waited) {
    let (job, waited) = execute(e, r).await;
    (job.snapshot(ALL), waited)
}

/// Runs `r`, which must finish within its timeout.
pub async fn run_req(e: &SessionManager, r: &ExecRequest) -> JobSnapshot {
    let (s, waited) = attempt(e, r).await;
    assert_eq!(
        waited,
        Waited::Finished,
        "{:?} did not finish: {s:?}",
        r.command
    );
    s
}

/// Runs `command` on `host`, which must finish within 30 s.
pub async fn run(e: &SessionManager, host: &str, command: &str) -> JobSnapshot {
    run_req(e, &req(host, command, 30)).await
}

/// Waits up to `secs` for `job` to finish or stop at a prompt.
pub async fn wait_for(job: &Job, secs: u64) -> Waited {
    job.wait(
        tokio::time::Instant::now() + Duration::from_secs(secs),
        &CancellationToken::new(),
    )
    .await
}

/// Waits up to `secs` for `job` to finish; its final state.
pub async fn finished(job: &Job, secs: u64) -> JobSnapshot {
    let waited = wait_for(job, secs).await;
    let s = job.snapshot(ALL);
    assert_eq!(waited, Waited::Finished, "{s:?}");
    s
}

/// Waits up to `secs` for `job` to end in any way (finished, interrupted, lost); its final state.
pub async fn ended(job: &Job, secs: u64) -> JobSnapshot {
    let done = job
        .wait_ended(
            tokio::time::Instant::now() + Duration::from_secs(secs),
            &CancellationToken::new(),
        )
        .await;
    let s = job.snapshot(ALL);
    assert!(done, "did not end within {secs}s: {s:?}");
    s
}
