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

/// One pipe with two write ends that are separate open files (made through a FIFO at `path`,
/// removed at once): a child's stdout and stderr that stay in order on one pipe, while a
/// flag set on one end does not reach the other. OpenSSH's ControlMaster makes the stdio of
/// every session it serves non-blocking, and sftp's stderr is its ssh's: sharing one open file
/// with sftp's stdout, that made sftp drop output whenever the pipe was full (a long listing
/// lost entries).
pub(crate) fn split_output_pipe(
    path: &std::path::Path,
) -> std::io::Result<(std::fs::File, std::fs::File, std::fs::File)> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: mkfifo(3) with a valid C string.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let opened = (|| {
        // Opening the reading end first without blocking lets the writers open at once.
        let reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?;
        let fd = reader.as_raw_fd();
        // SAFETY: fcntl(2) on a descriptor we own; the reader thread wants blocking reads.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        let out = std::fs::OpenOptions::new().write(true).open(path)?;
        let err = std::fs::OpenOptions::new().write(true).open(path)?;
        Ok((reader, out, err))
    })();
    let _ = std::fs::remove_file(path);
    opened
}
