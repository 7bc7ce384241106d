//! A child process in a pseudo-terminal (portable-pty), its output as a stream of byte chunks.
//!
//! portable-pty is blocking: one reader thread per PTY feeds a bounded tokio channel (so a
//! flood of output applies back-pressure to the remote side instead of growing memory), and
//! waiting/killing happen off the async threads. The slave end is dropped right after spawning,
//! or the reader would never see EOF. The writer is kept for the child's whole life, because
//! dropping it types a newline and Ctrl-D into the terminal.

pub mod tail;

use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::sync::Mutex;
use std::time::Duration;

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};
use tokio::sync::mpsc;

/// Chunks of raw PTY output; `None` from `recv` means EOF (the child closed the terminal).
pub type PtyOutput = mpsc::Receiver<Vec<u8>>;

/// Size of one read from the PTY.
const READ_CHUNK: usize = 64 * 1024;
/// Chunks buffered between the reader thread and the consumer.
const CHANNEL_DEPTH: usize = 32;

/// A running child in a PTY.
pub struct PtyProcess {
    // Mutexes only to make the handle Sync (futures holding `&PtyProcess` across awaits must
    // be Send); there is no contention, one actor owns each PTY.
    /// Held only to keep the terminal open for the child.
    _master: Mutex<Box<dyn MasterPty + Send>>,
    writer: Mutex<Box<dyn Write + Send>>,
    child: Mutex<Box<dyn Child + Send + Sync>>,
    pid: Option<u32>,
}

impl std::fmt::Debug for PtyProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PtyProcess")
            .field("pid", &self.pid)
            .finish()
    }
}

impl PtyProcess {
    /// Spawns `cmd` in a new PTY of `cols` x `rows`.
    pub fn spawn(cmd: CommandBuilder, cols: u16, rows: u16) -> std::io::Result<(Self, PtyOutput)> {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .map_err(std::io::Error::other)?;
        let child = pair
            .slave
            .spawn_command(cmd)
            .map_err(std::io::Error::other)?;
        drop(pair.slave);
        // Our own duplicate of the master fd: the reader thread reads and polls the same fd.
        let master_fd = pair
            .master
            .as_raw_fd()
            .ok_or_else(|| std::io::Error::other("the PTY has no file descriptor"))?;
        // SAFETY: dup(2) of a valid fd; the new fd is owned by the File below.
        let dup = unsafe { libc::dup(master_fd) };
        if dup < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `dup` is a fresh fd that nothing else owns.
        let mut reader = unsafe { std::fs::File::from_raw_fd(dup) };
        let writer = pair.master.take_writer().map_err(std::io::Error::other)?;
        let pid = child.process_id();
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        std::thread::Builder::new()
            .name(format!("pty-reader-{}", pid.unwrap_or(0)))
            .spawn(move || {
                let mut buf = vec![0u8; READ_CHUNK];
                loop {
                    let mut filled = match reader.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        // EIO once the child side is closed: that is EOF for a PTY.
                        Err(_) => break,
                    };
                    // A terminal hands out a few KiB per read. Under a flood, take what is
                    // already waiting before waking the consumer: fewer wake-ups and
                    // allocations per byte; a lone prompt still goes out at once.
                    let mut eof = false;
                    while filled + 4096 <= buf.len() && readable_now(dup) {
                        match reader.read(&mut buf[filled..]) {
                            Ok(0) => {
                                eof = true;
                                break;
                            }
                            Ok(n) => filled += n,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(_) => {
                                eof = true;
                                break;
                            }
                        }
                    }
                    if tx.blocking_send(buf[..filled].to_vec()).is_err() || eof {
                        break;
                    }
                }
            })?;
        Ok((
            PtyProcess {
                _master: Mutex::new(pair.master),
                writer: Mutex::new(writer),
                child: Mutex::new(child),
                pid,
            },
            rx,
        ))
    }

    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Writes bytes to the terminal. PTY input buffers hold a few KiB; the remote side reads
    /// promptly, so a blocking write here is short.
    pub fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let w = self.writer.get_mut().unwrap_or_else(|e| e.into_inner());
        w.write_all(bytes)?;
        w.flush()
    }

    /// Exit code if the child has exited (does not block).
    pub fn try_exit_code(&self) -> Option<i32> {
        let mut c = self.child.lock().unwrap_or_else(|e| e.into_inner());
        match c.try_wait() {
            Ok(Some(status)) => Some(status.exit_code() as i32),
            _ => None,
        }
    }

    /// Waits at most `limit` for the child to exit.
    pub async fn wait_for(&self, limit: Duration) -> Option<i32> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(code) = self.try_exit_code() {
                return Some(code);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Ends the child: SIGHUP to its process group (it is a session leader, so that reaches
    /// everything it started in the terminal), then SIGKILL after a grace period, then reap.
    pub async fn terminate(&self, grace: Duration) {
        if self.try_exit_code().is_some() {
            return;
        }
        if let Some(pid) = self.pid {
            signal_group(pid, libc::SIGHUP);
            if self.wait_for(grace).await.is_none() {
                signal_group(pid, libc::SIGKILL);
                let _ = self.wait_for(Duration::from_secs(2)).await;
            }
        }
    }
}

impl Drop for PtyProcess {
    fn drop(&mut self) {
        // A PTY child must not outlive its owner: hang it up. Reaping happens in terminate();
        // here we only make sure nothing keeps running.
        if self.try_exit_code().is_none()
            && let Some(pid) = self.pid
        {
            signal_group(pid, libc::SIGHUP);
        }
    }
}

/// True when a read on `fd` would not block.
fn readable_now(fd: std::os::fd::RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    unsafe { libc::poll(&mut p, 1, 0) > 0 && (p.revents & libc::POLLIN) != 0 }
}

fn signal_group(pid: u32, sig: i32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is touched.
    unsafe {
        if libc::kill(-pid, sig) != 0 {
            libc::kill(pid, sig);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_a_child_and_sees_eof_and_exit_code() {
        let mut cmd = CommandBuilder::new("sh");
        cmd.args(["-c", "printf 'hi\\n'; exit 3"]);
        let (p, mut rx) = PtyProcess::spawn(cmd, 80, 24).unwrap();
        let mut all = Vec::new();
        while let Some(chunk) = rx.recv().await {
            all.extend_from_slice(&chunk);
        }
        assert_eq!(String::from_utf8_lossy(&all), "hi\r\n");
        assert_eq!(p.wait_for(Duration::from_secs(5)).await, Some(3));
    }

    #[tokio::test]
    async fn terminate_ends_a_sleeping_child() {
        let cmd = {
            let mut c = CommandBuilder::new("sleep");
            c.arg("100");
            c
        };
        let (p, _rx) = PtyProcess::spawn(cmd, 80, 24).unwrap();
        p.terminate(Duration::from_millis(200)).await;
        assert!(p.try_exit_code().is_some());
    }
}
