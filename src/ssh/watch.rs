//! Waiting for a file to appear: inotify on its directory on Linux, polling elsewhere.
//!
//! ssh creates the ControlMaster's socket once the connection is authenticated and the
//! master listens; its appearance is our readiness signal. Other Unixes (macOS, the BSDs) have
//! no inotify; there, and on Linux when no inotify instance is left (`fs.inotify.
//! max_user_instances`, 128 by default, is shared by every program of the user), the path is
//! checked every few milliseconds, which adds at most that much to a login.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often the polling fallback looks for the file.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// Watches for one file to be created.
pub struct CreationWatch {
    target: PathBuf,
    #[cfg(target_os = "linux")]
    inotify: Option<inotify::DirWatch>,
}

impl CreationWatch {
    /// Starts watching for `target`. Check `exists()` after this, never before, so that a
    /// creation between the two cannot be missed.
    pub fn new(target: &Path) -> io::Result<Self> {
        #[cfg(target_os = "linux")]
        {
            let dir = target.parent().unwrap_or(Path::new("."));
            match inotify::DirWatch::new(dir) {
                Ok(w) => {
                    return Ok(CreationWatch {
                        target: target.to_path_buf(),
                        inotify: Some(w),
                    });
                }
                Err(e) => {
                    tracing::debug!(error = %e, "inotify unavailable; polling for the control socket")
                }
            }
        }
        Ok(Self::polling(target))
    }

    /// A watch that polls the path.
    pub fn polling(target: &Path) -> Self {
        CreationWatch {
            target: target.to_path_buf(),
            #[cfg(target_os = "linux")]
            inotify: None,
        }
    }

    /// Returns once the target exists.
    pub async fn created(&self) -> io::Result<()> {
        loop {
            if self.target.exists() {
                return Ok(());
            }
            #[cfg(target_os = "linux")]
            if let Some(w) = &self.inotify {
                w.changed().await?;
                continue;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

#[cfg(target_os = "linux")]
mod inotify {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    use tokio::io::unix::AsyncFd;

    /// An inotify instance watching one directory for entries created or moved in.
    pub struct DirWatch {
        fd: AsyncFd<OwnedFd>,
    }

    impl DirWatch {
        pub fn new(dir: &Path) -> io::Result<Self> {
            // SAFETY: plain syscall; the fd is owned right away.
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
            Ok(DirWatch { fd })
        }

        /// Waits for events and drains them; which entry they name does not matter.
        pub async fn changed(&self) -> io::Result<()> {
            let mut buf = [0u8; 4096];
            let mut guard = self.fd.readable().await?;
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
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sees_a_file_created_later(make: fn(&Path) -> CreationWatch) {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sock");
        let w = make(&target);
        let t2 = target.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            std::fs::write(dir.path().join("other"), b"").unwrap();
            std::fs::write(&t2, b"").unwrap();
            // keep the dir alive until the file exists
            tokio::time::sleep(Duration::from_millis(200)).await;
            drop(dir);
        });
        tokio::time::timeout(Duration::from_secs(5), w.created())
            .await
            .expect("in time")
            .unwrap();
        assert!(target.exists());
    }

    #[tokio::test]
    async fn the_platform_watch_sees_a_file_created_later() {
        sees_a_file_created_later(|t| CreationWatch::new(t).unwrap()).await;
    }

    #[tokio::test]
    async fn the_polling_watch_sees_a_file_created_later() {
        sees_a_file_created_later(CreationWatch::polling).await;
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn linux_uses_inotify() {
        let dir = tempfile::tempdir().unwrap();
        let w = CreationWatch::new(&dir.path().join("sock")).unwrap();
        assert!(w.inotify.is_some());
    }
}
