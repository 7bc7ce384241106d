//! The private runtime directory: control sockets and ssh logs (output spools live on disk,
//! see `jobs::spool`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::private_dir::PrivateDir;

/// sun_path holds 108 bytes; ssh first binds `<ControlPath>.<16 random chars>`, so the path we
/// hand it must leave room for 17 more bytes and the terminating NUL.
const MAX_SOCKET_PATH: usize = 108 - 18;

/// A 0700 directory, removed on drop, with short unique names for sockets and files.
#[derive(Debug)]
pub struct RuntimeDir {
    dir: PrivateDir,
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
            // Directories of servers that died without cleaning up (SIGKILL) hold sockets
            // and logs; creating ours removes them.
            match PrivateDir::create(&base, "mcp-ssh-") {
                Ok(dir) => {
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
