//! The helpers a transfer spawns (`sftp`, `ssh` exec channels): each in its own process
//! group, killed with the group on drop or cancellation, with no secret in argv or the
//! environment (see [`crate::ssh::Argv::tokio_command`]).

use std::time::Duration;

use crate::error::{Error, Result};
use crate::ssh::Argv;

#[derive(Debug)]
pub(crate) struct Proc {
    child: tokio::process::Child,
    pgid: Option<i32>,
    exited: Option<i32>,
    spawned: std::time::Instant,
}

impl Proc {
    /// Spawns `argv` with the given stdio and extra environment in a new process group.
    pub fn spawn(
        argv: &Argv,
        env: &[(&str, &str)],
        stdin: std::process::Stdio,
        stdout: std::process::Stdio,
        stderr: std::process::Stdio,
    ) -> Result<Proc> {
        let mut cmd = argv.tokio_command();
        cmd.stdin(stdin)
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0);
        for (k, v) in env {
            cmd.env(k, v);
        }
        // A helper dies with the server (even one killed with SIGKILL), so an sftp can never
        // finish a transfer nobody waits for. The signal follows the thread that spawned it:
        // we spawn from runtime worker threads, which live as long as the server.
        #[cfg(target_os = "linux")]
        // SAFETY: prctl(2) is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
                Ok(())
            });
        }
        tracing::debug!(argv = %argv.display(), "spawning");
        let child = cmd.spawn().map_err(|source| Error::Spawn {
            program: argv.program.clone(),
            source,
        })?;
        // `cmd` (and the pipe ends it held for the child) goes here.
        drop(cmd);
        let pgid = child.id().and_then(|p| i32::try_from(p).ok());
        Ok(Proc {
            child,
            pgid,
            exited: None,
            spawned: std::time::Instant::now(),
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.pgid.map(|p| p as u32)
    }

    pub fn child(&mut self) -> &mut tokio::process::Child {
        &mut self.child
    }

    /// Waits for the exit; the code, or -1 for a signal.
    pub async fn wait(&mut self) -> i32 {
        if let Some(c) = self.exited {
            return c;
        }
        let code = match self.child.wait().await {
            Ok(s) => s.code().unwrap_or(-1),
            Err(_) => -1,
        };
        self.exited = Some(code);
        tracing::debug!(code, after = ?self.spawned.elapsed(), "helper exited");
        code
    }

    /// Waits at most `grace`, then kills the group and reaps.
    pub async fn finish(&mut self, grace: Duration) -> i32 {
        match tokio::time::timeout(grace, self.wait()).await {
            Ok(c) => c,
            Err(_) => {
                self.kill();
                self.wait().await
            }
        }
    }

    /// SIGKILL to the whole group (sftp and the ssh it started, or ssh and its children).
    pub fn kill(&mut self) {
        if self.exited.is_some() {
            return;
        }
        // Once the leader is reaped its group id may be reused: never signal it then.
        if let Ok(Some(s)) = self.child.try_wait() {
            self.exited = Some(s.code().unwrap_or(-1));
            return;
        }
        if let Some(pg) = self.pgid {
            // SAFETY: kill(2) on our own child's process group.
            unsafe {
                libc::kill(-pg, libc::SIGKILL);
            }
        }
        let _ = self.child.start_kill();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // tokio reaps a dropped child in the background (kill_on_drop is set too).
        self.kill();
    }
}
