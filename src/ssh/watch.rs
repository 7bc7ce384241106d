//! Waiting for a file to appear, without polling: inotify on its directory.
//!
//! ssh creates the ControlMaster's socket once the connection is authenticated and the
//! master listens; its appearance is our readiness signal.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use tokio::io::unix::AsyncFd;

/// Watches one directory for a file to be created.
pub struct CreationWatch {
    fd: AsyncFd<OwnedFd>,
    target: PathBuf,
}

impl CreationWatch {
    /// Starts watching `target`'s directory. Check `exists()` after this, never before, so
    /// that a creation between the two cannot be missed.
    pub fn new(target: &Path) -> io::Result<Self> {
        let dir = target.parent().unwrap_or(Path::new("."));
        // SAFETY: plain syscalls; the fd is owned right away.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut cdir = dir.as_os_str().as_bytes().to_vec();
        cdir.push(0);
        // SAFETY: cdir is NUL-terminated and outlives the call.
        let wd = unsafe {
            libc::inotify_add_watch(
                fd.as_raw_fd(),
                cdir.as_ptr().cast(),
                libc::IN_CREATE | libc::IN_MOVED_TO,
            )
        };
        if wd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: we own `fd` outright and it stays open for the AsyncFd's whole life.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(io::Error::from)?;
        Ok(CreationWatch {
            fd,
            target: target.to_path_buf(),
        })
    }

    /// Returns once the target exists.
    pub async fn created(&self) -> io::Result<()> {
        let mut buf = [0u8; 4096];
        loop {
            if self.target.exists() {
                return Ok(());
            }
            let mut guard = self.fd.readable().await?;
            // Drain the events; which file they name does not matter, exists() decides.
            loop {
                // SAFETY: buf is valid for writes of its length.
                let n = unsafe {
                    libc::read(
                        self.fd.get_ref().as_raw_fd(),
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                    )
                };
                if n <= 0 {
                    break;
                }
            }
            guard.clear_ready();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sees_a_file_created_later() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sock");
        let w = CreationWatch::new(&target).unwrap();
        let t2 = target.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            std::fs::write(dir.path().join("other"), b"").unwrap();
            std::fs::write(&t2, b"").unwrap();
            // keep the dir alive until the file exists
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            drop(dir);
        });
        tokio::time::timeout(std::time::Duration::from_secs(5), w.created())
            .await
            .expect("in time")
            .unwrap();
        assert!(target.exists());
    }
}
