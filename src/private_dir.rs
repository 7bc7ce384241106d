//! A private directory of this server process (0700, removed on drop) under a shared base
//! directory, marked with its owner so that the next server removes what a killed one left.
//!
//! Used for the runtime directory (sockets, ssh logs) and the output spool directory.

use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

/// The file in a private directory that names the process owning it: `<pid> <hostname>`.
const OWNER_FILE: &str = "pid";

/// A 0700 directory of this process, removed with everything in it on drop.
#[derive(Debug)]
pub struct PrivateDir {
    dir: tempfile::TempDir,
}

impl PrivateDir {
    /// Creates `<base>/<prefix>XXXXXX` (0700) with an owner mark, then removes the `<prefix>*`
    /// directories that servers on this machine, now gone, left under `base`.
    pub fn create(base: &Path, prefix: &str) -> io::Result<PrivateDir> {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir_in(base)?;
        // tempfile creates 0700 already; say so explicitly, it is the security boundary.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
        std::fs::write(dir.path().join(OWNER_FILE), owner_mark(std::process::id()))?;
        remove_orphans(base, prefix, dir.path());
        Ok(PrivateDir { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Creates `path` (and missing parents) 0700 if needed, and checks that it is a directory of
/// ours (a symbolic link to one is fine) that no one else can use, tightening its mode if it
/// is ours but looser.
pub fn ensure_base(path: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)?;
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        return Err(io::Error::other(format!(
            "{} is not a directory",
            path.display()
        )));
    }
    if meta.uid() != current_uid() {
        return Err(io::Error::other(format!(
            "{} belongs to another user (uid {})",
            path.display(),
            meta.uid()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn current_uid() -> u32 {
    // SAFETY: getuid(2) has no preconditions.
    unsafe { libc::getuid() }
}

/// `<pid> <hostname>`: the host name keeps a server from removing the directory of a live
/// server on another machine that shares the base (a home directory on NFS).
fn owner_mark(pid: u32) -> String {
    format!("{pid} {}", hostname())
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for writes of its length; gethostname NUL-terminates within it
    // (or truncates, which is fine for a comparison with ourselves).
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Removes `<prefix>*` directories under `base` whose owner process on this host is gone.
/// Only directories that carry an owner mark and belong to our user are touched.
fn remove_orphans(base: &Path, prefix: &str, ours: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    let uid = current_uid();
    let host = hostname();
    for entry in entries.flatten() {
        let path = entry.path();
        if path == ours || !entry.file_name().to_string_lossy().starts_with(prefix) {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != uid {
            continue;
        }
        let Some((pid, owner_host)) = read_owner(&path) else {
            continue;
        };
        // A mark without a host name was written by an older server of this machine.
        if owner_host.is_some_and(|h| h != host) {
            continue;
        }
        // SAFETY: kill(2) with signal 0 only checks that the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0
            || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !alive {
            tracing::debug!(dir = %path.display(), pid, "removing the directory of a server that is gone");
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

fn read_owner(dir: &Path) -> Option<(i32, Option<String>)> {
    let text = std::fs::read_to_string(dir.join(OWNER_FILE)).ok()?;
    let mut words = text.split_whitespace();
    let pid = words.next()?.parse::<i32>().ok().filter(|p| *p > 0)?;
    Some((pid, words.next().map(str::to_string)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(base: &Path, name: &str, mark: &str) -> std::path::PathBuf {
        let d = base.join(name);
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join(OWNER_FILE), mark).unwrap();
        d
    }

    #[test]
    fn directories_of_dead_servers_on_this_host_are_removed() {
        let base = tempfile::tempdir().unwrap();
        // PID 0x7fffffff is far above any pid_max.
        let dead = marked(base.path(), "x-dead", &owner_mark(0x7fff_ffff));
        let dead_old_style = marked(base.path(), "x-dead-old", "2147483647");
        let alive = marked(base.path(), "x-alive", &owner_mark(std::process::id()));
        let elsewhere = marked(base.path(), "x-elsewhere", "2147483647 some-other-host");
        let other_prefix = marked(base.path(), "y-dead", &owner_mark(0x7fff_ffff));
        let unmarked = base.path().join("x-unmarked");
        std::fs::create_dir(&unmarked).unwrap();
        let ours = PrivateDir::create(base.path(), "x-").unwrap();
        assert!(!dead.exists() && !dead_old_style.exists());
        assert!(alive.exists() && elsewhere.exists() && other_prefix.exists());
        assert!(unmarked.exists() && ours.path().exists());
        let path = ours.path().to_path_buf();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        drop(ours);
        assert!(!path.exists(), "removed on drop");
    }

    #[test]
    fn base_is_created_private_and_must_be_ours() {
        let scratch = tempfile::tempdir().unwrap();
        let base = scratch.path().join("cache/app");
        ensure_base(&base).unwrap();
        let mode = std::fs::metadata(&base).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
        ensure_base(&base).unwrap();
        let mode = std::fs::metadata(&base).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "tightened");
        let link = scratch.path().join("link");
        std::os::unix::fs::symlink(&base, &link).unwrap();
        ensure_base(&link).unwrap();
        let file = scratch.path().join("file");
        std::fs::write(&file, b"").unwrap();
        assert!(ensure_base(&file).is_err());
    }
}
