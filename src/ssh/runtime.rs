//! The private runtime directory: control sockets, ssh logs and output spool files.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// sun_path holds 108 bytes; ssh first binds `<ControlPath>.<16 random chars>`, so the path we
/// hand it must leave room for 17 more bytes and the terminating NUL.
const MAX_SOCKET_PATH: usize = 108 - 18;

/// The file in a runtime directory that names the server process owning it.
const OWNER_FILE: &str = "pid";

/// Removes `mcp-ssh-*` directories under `base` whose owner process is gone. Only
/// directories that carry an owner file and belong to our user are touched.
fn remove_orphans(base: &Path, ours: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    // SAFETY: getuid(2) has no preconditions.
    let uid = unsafe { libc::getuid() };
    for entry in entries.flatten() {
        let path = entry.path();
        if path == ours || !entry.file_name().to_string_lossy().starts_with("mcp-ssh-") {
            continue;
        }
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != uid {
            continue;
        }
        let Some(pid) = std::fs::read_to_string(path.join(OWNER_FILE))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: kill(2) with signal 0 only checks that the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !alive {
            tracing::debug!(dir = %path.display(), pid, "removing the runtime directory of a server that is gone");
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// A 0700 directory, removed on drop, with short unique names for sockets and files.
#[derive(Debug)]
pub struct RuntimeDir {
    dir: tempfile::TempDir,
    counter: AtomicU64,
}

impl RuntimeDir {
    /// Under `$XDG_RUNTIME_DIR` when that keeps socket paths short enough, else under /tmp.
    pub fn new() -> Result<Self> {
        let mut bases: Vec<PathBuf> = Vec::new();
        if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").filter(|x| !x.is_empty()) {
            bases.push(PathBuf::from(x));
        }
        bases.push(std::env::temp_dir());
        bases.push(PathBuf::from("/tmp"));
        let mut last_err = None;
        for base in bases {
            // "/<prefix>XXXXXX/m123" must fit.
            if base.as_os_str().len() + 24 > MAX_SOCKET_PATH {
                continue;
            }
            match tempfile::Builder::new()
                .prefix("mcp-ssh-")
                .tempdir_in(&base)
            {
                Ok(dir) => {
                    // tempfile creates 0700 already; say so explicitly, it is the security boundary.
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::PermissionsExt;
                        let _ = std::fs::set_permissions(
                            dir.path(),
                            std::fs::Permissions::from_mode(0o700),
                        );
                    }
                    // Our PID marks the directory as ours; directories of servers that died
                    // without cleaning up (SIGKILL) hold sockets, logs and command output.
                    let _ =
                        std::fs::write(dir.path().join(OWNER_FILE), std::process::id().to_string());
                    remove_orphans(&base, dir.path());
                    return Ok(RuntimeDir {
                        dir,
                        counter: AtomicU64::new(0),
                    });
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(Error::io(
            "could not create a private runtime directory (tried $XDG_RUNTIME_DIR and /tmp)",
            last_err.unwrap_or_else(|| std::io::Error::other("every candidate path is too long")),
        ))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A fresh short name in the directory: `<prefix><n><suffix>`.
    pub fn fresh(&self, prefix: &str, suffix: &str) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        self.dir.path().join(format!("{prefix}{n}{suffix}"))
    }

    /// A control socket path, checked against the sun_path limit.
    pub fn socket(&self) -> Result<PathBuf> {
        let p = self.fresh("m", "");
        if p.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(Error::invalid(
                "runtime directory",
                format!(
                    "control socket path {} is too long for a Unix socket; set XDG_RUNTIME_DIR or TMPDIR to a shorter directory",
                    p.display()
                ),
            ));
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_of_dead_servers_are_removed() {
        let base = tempfile::tempdir().unwrap();
        let dead = base.path().join("mcp-ssh-dead");
        std::fs::create_dir(&dead).unwrap();
        // PID 0x7fffffff is far above any pid_max.
        std::fs::write(dead.join(OWNER_FILE), "2147483647").unwrap();
        let alive = base.path().join("mcp-ssh-alive");
        std::fs::create_dir(&alive).unwrap();
        std::fs::write(alive.join(OWNER_FILE), std::process::id().to_string()).unwrap();
        let foreign = base.path().join("mcp-ssh-unmarked");
        std::fs::create_dir(&foreign).unwrap();
        let ours = base.path().join("mcp-ssh-ours");
        std::fs::create_dir(&ours).unwrap();
        remove_orphans(base.path(), &ours);
        assert!(!dead.exists());
        assert!(alive.exists() && foreign.exists() && ours.exists());
    }

    #[test]
    fn private_and_short() {
        let r = RuntimeDir::new().unwrap();
        let s = r.socket().unwrap();
        assert!(s.as_os_str().len() <= MAX_SOCKET_PATH);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(r.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        assert_ne!(r.fresh("x", ".log"), r.fresh("x", ".log"));
    }
}
