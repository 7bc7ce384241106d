//! A child process in a pseudo-terminal (portable-pty), its output as a stream of byte chunks.
//!
//! One reader thread per PTY feeds a bounded tokio channel (so a flood of output applies
//! back-pressure to the remote side instead of growing memory). The master is non-blocking:
//! input is written at once by the caller when the terminal takes all of it (a command line
//! does: no thread hand-off on the path of every command), and what it does not take is queued
//! for a writer thread that waits for room (so a program that does not read, or a large paste
//! into one that echoes, never blocks an async thread or the reader). Waiting and killing
//! happen off the async threads. The slave end is dropped right after spawning, or the reader would never see
//! EOF. Our descriptors are duplicated close-on-exec, so no other child inherits a terminal.

pub mod tail;

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};
use tokio::sync::mpsc;

/// Chunks of raw PTY output; `None` from `recv` means EOF (the child closed the terminal).
pub type PtyOutput = mpsc::Receiver<Vec<u8>>;

/// Size of one read from the PTY.
const READ_CHUNK: usize = 64 * 1024;
/// Chunks buffered between the reader thread and the consumer.
const CHANNEL_DEPTH: usize = 32;
/// Input queued for the writer thread at most; beyond it writes are refused, not blocked on.
const INPUT_QUEUE: usize = 16 * 1024 * 1024;

/// A running child in a PTY.
pub struct PtyProcess {
    // Mutexes only to make the handle Sync (futures holding `&PtyProcess` across awaits must
    // be Send); there is no contention, one actor owns each PTY.
    /// Held only to keep the terminal open for the child.
    _master: Mutex<Box<dyn MasterPty + Send>>,
    input: PtyInput,
    child: Mutex<Box<dyn Child + Send + Sync>>,
    pid: Option<u32>,
}

/// The terminal's input side: written at once when the terminal takes it, else queued for the
/// writer thread. Writes never block.
#[derive(Clone)]
pub struct PtyInput {
    /// The master (non-blocking), shared with the writer thread.
    file: Arc<std::fs::File>,
    tx: std::sync::mpsc::Sender<Vec<u8>>,
    /// Bytes queued and not yet written.
    queued: Arc<AtomicUsize>,
    /// Why the writer thread stopped, once it has.
    failed: Arc<Mutex<Option<String>>>,
    /// Held while deciding between writing at once and queueing, so that input keeps its order.
    order: Arc<Mutex<()>>,
}

impl std::fmt::Debug for PtyInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PtyInput")
            .field("queued", &self.queued.load(Ordering::Relaxed))
            .finish()
    }
}

impl PtyInput {
    /// Queues `bytes` for the terminal. Fails when the terminal stopped taking input (the
    /// program does not read and the queue is full) or the writer has ended.
    pub fn write(&self, bytes: &[u8]) -> std::io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let _order = self.order.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(why) = self
            .failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, why));
        }
        let queued = self.queued.load(Ordering::Acquire);
        let mut bytes = bytes;
        if queued == 0 {
            // Nothing waits before this input: write what the terminal takes now.
            let n = write_now(&self.file, bytes)?;
            bytes = &bytes[n..];
            if bytes.is_empty() {
                return Ok(());
            }
        }
        if queued + bytes.len() > INPUT_QUEUE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                format!(
                    "the terminal is not taking input: {queued} bytes are still waiting to be read by the program"
                ),
            ));
        }
        self.queued.fetch_add(bytes.len(), Ordering::AcqRel);
        self.tx.send(bytes.to_vec()).map_err(|_| {
            self.queued.fetch_sub(bytes.len(), Ordering::AcqRel);
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the terminal is closed")
        })
    }

    /// A writer thread for `file`, the PTY master's (non-blocking) input side.
    fn start(file: std::fs::File, name: String) -> std::io::Result<PtyInput> {
        let file = Arc::new(file);
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let queued = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(Mutex::new(None));
        let (q, f, out) = (queued.clone(), failed.clone(), file.clone());
        std::thread::Builder::new().name(name).spawn(move || {
            for chunk in rx {
                let r = write_waiting(&out, &chunk);
                q.fetch_sub(chunk.len(), Ordering::AcqRel);
                if let Err(e) = r {
                    *f.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(format!("writing to the terminal failed: {e}"));
                    return;
                }
            }
        })?;
        Ok(PtyInput {
            file,
            tx,
            queued,
            failed,
            order: Arc::new(Mutex::new(())),
        })
    }
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
        // Our own duplicates of the master fd: the reader thread reads and polls one, the
        // writer thread writes the other (portable-pty's own writer types Ctrl-D when dropped).
        let master_fd = pair
            .master
            .as_raw_fd()
            .ok_or_else(|| std::io::Error::other("the PTY has no file descriptor"))?;
        let mut reader = dup_cloexec(master_fd)?;
        let dup = {
            use std::os::fd::AsRawFd;
            reader.as_raw_fd()
        };
        // All duplicates share one open file description, and so this flag.
        set_nonblocking(dup)?;
        let pid = child.process_id();
        let input = PtyInput::start(
            dup_cloexec(master_fd)?,
            format!("pty-writer-{}", pid.unwrap_or(0)),
        )?;
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
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            wait_for(dup, libc::POLLIN);
                            continue;
                        }
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
                            Err(e)
                                if matches!(
                                    e.kind(),
                                    std::io::ErrorKind::Interrupted
                                        | std::io::ErrorKind::WouldBlock
                                ) => {}
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
                input,
                child: Mutex::new(child),
                pid,
            },
            rx,
        ))
    }

    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// The terminal's input side (writes are queued, never blocking).
    pub fn input(&self) -> &PtyInput {
        &self.input
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

/// A close-on-exec duplicate of `fd`, owned by the returned File.
fn dup_cloexec(fd: RawFd) -> std::io::Result<std::fs::File> {
    // SAFETY: F_DUPFD_CLOEXEC of a valid fd returns a fresh fd (or -1).
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `dup` is a fresh fd that nothing else owns.
    Ok(unsafe { std::fs::File::from_raw_fd(dup) })
}

fn set_nonblocking(fd: RawFd) -> std::io::Result<()> {
    // SAFETY: fcntl(2) on a descriptor we own.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Writes what the (non-blocking) terminal takes now; how many bytes that was.
fn write_now(mut file: &std::fs::File, bytes: &[u8]) -> std::io::Result<usize> {
    let mut done = 0;
    while done < bytes.len() {
        match file.write(&bytes[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Writes all of `bytes`, waiting for room in the terminal as long as it takes.
fn write_waiting(file: &std::fs::File, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut done = 0;
    while done < bytes.len() {
        let n = write_now(file, &bytes[done..])?;
        done += n;
        if n == 0 && done < bytes.len() {
            wait_for(file.as_raw_fd(), libc::POLLOUT);
        }
    }
    Ok(())
}

/// Blocks until `fd` is ready for `events` (or hung up, or in error: the next call says).
fn wait_for(fd: RawFd, events: libc::c_short) {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd; EINTR just returns early.
    unsafe { libc::poll(&mut p, 1, -1) };
}

/// True when a read on `fd` would not block.
fn readable_now(fd: RawFd) -> bool {
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
    async fn writes_never_block_and_descriptors_are_close_on_exec() {
        // `cat` echoes everything: 1 MiB in one go would deadlock a blocking writer that is
        // also the only reader.
        let (p, mut rx) = PtyProcess::spawn(CommandBuilder::new("cat"), 80, 24).unwrap();
        let big = vec![b'x'; 1 << 20];
        // Canonical mode takes at most 4095 bytes per line: send many short lines instead.
        let lines: Vec<u8> = big
            .chunks(1000)
            .flat_map(|c| c.iter().copied().chain(std::iter::once(b'\n')))
            .collect();
        p.input().write(&lines).unwrap();
        let mut seen = 0usize;
        while seen < big.len() {
            let chunk = tokio::time::timeout(Duration::from_secs(30), rx.recv())
                .await
                .expect("output keeps coming")
                .expect("not EOF");
            seen += chunk.iter().filter(|b| **b == b'x').count();
        }
        assert!(seen >= big.len());
        #[cfg(target_os = "linux")]
        let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        #[cfg(target_os = "linux")]
        for fd in fds {
            let target = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap_or_default();
            if target.to_string_lossy().contains("ptmx") {
                // SAFETY: F_GETFD on an fd of ours.
                let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
                assert!(
                    flags & libc::FD_CLOEXEC != 0,
                    "fd {fd} ({target:?}) is inherited by children"
                );
            }
        }
        p.terminate(Duration::from_millis(200)).await;
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
