//! Spool files: the full output of commands that outgrow the inline size, on disk for paging.
//!
//! They live in a private directory of this server under the user's cache directory
//! (`$XDG_CACHE_HOME/mcp-ssh-session`, else `~/.cache/mcp-ssh-session`), not in
//! `$XDG_RUNTIME_DIR`, which is RAM on most systems. Each command's spool is capped
//! (`MCP_SSH_SPOOL_LIMIT`) and all of them together share a budget (`MCP_SSH_SPOOL_TOTAL`).
//! A spool that reaches a cap or cannot be written (disk full) stops there and says why, so
//! that a result never offers output that is gone.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::output::floor_boundary;
use crate::private_dir::{PrivateDir, ensure_base};

/// Bytes gathered in memory before they are written to the spool file.
const WRITE_CHUNK: usize = 64 * 1024;

/// The spool directory of this server and the budget its files share.
#[derive(Debug)]
pub struct Spools {
    /// The private directory, or why there is none (output is then kept as head and tail only).
    dir: Result<PrivateDir, String>,
    budget: Arc<Budget>,
    per_command: u64,
    counter: AtomicU64,
}

impl Spools {
    /// Spools in a private directory under `base` (created 0700 if missing). Without a base,
    /// or when it cannot be used, there are no spool files and results say why.
    pub fn new(base: Option<&Path>, per_command: u64, total: u64) -> Spools {
        let dir = match base {
            None => Err("no spool directory: neither XDG_CACHE_HOME nor HOME is set".to_string()),
            Some(base) => ensure_base(base)
                .and_then(|()| PrivateDir::create(base, "spool-"))
                .map_err(|e| {
                    format!(
                        "the spool directory under {} cannot be used: {e}",
                        base.display()
                    )
                }),
        };
        if let Err(why) = &dir {
            tracing::warn!("{why}; long outputs keep only their head and tail");
        }
        Spools {
            dir,
            budget: Arc::new(Budget {
                total,
                used: AtomicU64::new(0),
            }),
            per_command,
            counter: AtomicU64::new(0),
        }
    }

    /// The private directory, when there is one.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().ok().map(PrivateDir::path)
    }

    /// Bytes held by all spool files now.
    pub fn used(&self) -> u64 {
        self.budget.used.load(Ordering::Relaxed)
    }

    /// What one command's output needs to start a spool file once it outgrows the inline size.
    pub fn slot(&self) -> SpoolSlot {
        let path = match &self.dir {
            Ok(dir) => {
                let n = self.counter.fetch_add(1, Ordering::Relaxed);
                Ok(dir.path().join(format!("o{n}.out")))
            }
            Err(why) => Err(why.clone()),
        };
        SpoolSlot {
            path,
            budget: self.budget.clone(),
            cap: self.per_command,
        }
    }
}

/// The user's cache directory for spools: `$XDG_CACHE_HOME/mcp-ssh-session` (an absolute
/// path, as the XDG spec requires), else `$HOME/.cache/mcp-ssh-session`.
pub fn default_base() -> Option<PathBuf> {
    base_from(|var| std::env::var_os(var))
}

fn base_from(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    let absolute = |name: &str| var(name).map(PathBuf::from).filter(|p| p.is_absolute());
    absolute("XDG_CACHE_HOME")
        .or_else(|| absolute("HOME").map(|h| h.join(".cache")))
        .map(|c| c.join("mcp-ssh-session"))
}

/// The bytes all spool files may hold together.
#[derive(Debug)]
struct Budget {
    total: u64,
    used: AtomicU64,
}

impl Budget {
    /// Takes up to `want` bytes; returns how many were granted.
    fn reserve(&self, want: u64) -> u64 {
        let mut granted = 0;
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                granted = want.min(self.total.saturating_sub(used));
                Some(used + granted)
            });
        granted
    }

    fn release(&self, n: u64) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// A spool file not created yet (output is created lazily, most commands never need one).
#[derive(Debug)]
pub struct SpoolSlot {
    path: Result<PathBuf, String>,
    budget: Arc<Budget>,
    cap: u64,
}

/// One command's output from byte 0, as far as it could be kept.
#[derive(Debug)]
pub struct SpoolFile {
    file: File,
    path: PathBuf,
    /// Accepted bytes not yet written.
    pending: Vec<u8>,
    /// Bytes written to the file: `[0, written)` can be read back.
    written: u64,
    budget: Arc<Budget>,
    cap: u64,
    /// Why the spool stopped taking output (at `accepted()`), once it did.
    stopped: Option<String>,
}

impl SpoolSlot {
    /// Creates the file (0600, never an existing one); the error says why there is no spool.
    pub fn create(self) -> Result<SpoolFile, String> {
        let path = self.path?;
        let file = File::options()
            .create_new(true)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| {
                format!(
                    "the spool file {} could not be created: {e}",
                    path.display()
                )
            })?;
        Ok(SpoolFile {
            file,
            path,
            pending: Vec::new(),
            written: 0,
            budget: self.budget,
            cap: self.cap,
            stopped: None,
        })
    }
}

impl SpoolFile {
    /// Bytes taken so far: the spool holds output `[0, accepted)` unless a write fails later.
    pub fn accepted(&self) -> u64 {
        self.written + self.pending.len() as u64
    }

    /// Why the spool stopped taking output, if it did.
    pub fn stopped(&self) -> Option<&str> {
        self.stopped.as_deref()
    }

    /// Appends as much of `text` as the caps allow, cut at a character boundary. The first
    /// refusal stops the spool for good: it must stay one contiguous prefix of the output.
    pub fn append(&mut self, text: &str) {
        if self.stopped.is_some() || text.is_empty() {
            return;
        }
        let room = self.cap.saturating_sub(self.accepted());
        let want = (text.len() as u64).min(room);
        let granted = self.budget.reserve(want) as usize;
        let n = floor_boundary(text, granted);
        self.budget.release((granted - n) as u64);
        self.pending.extend_from_slice(&text.as_bytes()[..n]);
        if n < text.len() {
            self.stopped = Some(if (n as u64) < room {
                format!(
                    "the spool total for all commands (MCP_SSH_SPOOL_TOTAL, {} bytes) was reached",
                    self.budget.total
                )
            } else {
                format!(
                    "the spool limit per command (MCP_SSH_SPOOL_LIMIT, {} bytes) was reached",
                    self.cap
                )
            });
        }
        if self.pending.len() >= WRITE_CHUNK || self.stopped.is_some() {
            self.flush();
        }
    }

    /// Writes what is pending. A failed write (disk full) stops the spool at what is on disk.
    pub fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        match self.file.write_all_at(&self.pending, self.written) {
            Ok(()) => self.written += self.pending.len() as u64,
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "writing an output spool failed");
                self.budget.release(self.pending.len() as u64);
                // What a partial write left beyond `written` is neither counted nor read.
                let _ = self.file.set_len(self.written);
                self.stopped = Some(format!("writing the spool file failed ({e})"));
            }
        }
        self.pending.clear();
    }

    /// Reads `[offset, offset + len)`, clamped to what is on disk (pending bytes are written
    /// first). Fewer bytes than asked when the range runs past the spool's end.
    pub fn read_at(&mut self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        self.flush();
        let end = offset.saturating_add(len as u64).min(self.written);
        let mut buf = vec![0u8; end.saturating_sub(offset) as usize];
        self.file.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        self.budget.release(self.accepted());
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spools(per_command: u64, total: u64) -> (tempfile::TempDir, Spools) {
        let base = tempfile::tempdir().unwrap();
        let s = Spools::new(Some(&base.path().join("cache")), per_command, total);
        (base, s)
    }

    #[test]
    fn the_total_is_shared_and_freed_on_drop() {
        let (_base, s) = spools(1000, 1500);
        let mut a = s.slot().create().unwrap();
        let mut b = s.slot().create().unwrap();
        a.append(&"a".repeat(1000));
        assert_eq!((a.accepted(), a.stopped()), (1000, None));
        a.append("more");
        assert!(
            a.stopped().unwrap().contains("MCP_SSH_SPOOL_LIMIT"),
            "{:?}",
            a.stopped()
        );
        assert_eq!(a.accepted(), 1000);
        b.append(&"b".repeat(800));
        assert_eq!(b.accepted(), 500);
        assert!(
            b.stopped().unwrap().contains("MCP_SSH_SPOOL_TOTAL"),
            "{:?}",
            b.stopped()
        );
        // A stopped spool stays stopped: it is one contiguous prefix of the output.
        b.append("x");
        assert_eq!(b.accepted(), 500);
        assert_eq!(s.used(), 1500);
        assert_eq!(b.read_at(490, 100).unwrap(), b"b".repeat(10));
        let path = a.path.clone();
        drop(a);
        assert!(!path.exists());
        assert_eq!(s.used(), 500);
        let mut c = s.slot().create().unwrap();
        c.append(&"c".repeat(1000));
        assert_eq!((c.accepted(), c.stopped()), (1000, None));
    }

    #[test]
    fn a_cap_never_splits_a_character() {
        let (_base, s) = spools(5, 1 << 20);
        let mut a = s.slot().create().unwrap();
        a.append("abcdé");
        assert_eq!(a.accepted(), 4);
        assert_eq!(s.used(), 4);
        assert_eq!(a.read_at(0, 10).unwrap(), b"abcd");
    }

    #[test]
    fn a_failed_write_stops_the_spool_at_what_is_on_disk() {
        let (_base, s) = spools(1 << 30, 1 << 30);
        let mut a = s.slot().create().unwrap();
        a.append(&"x".repeat(WRITE_CHUNK));
        assert_eq!(a.written, WRITE_CHUNK as u64);
        a.append("pending");
        // The descriptor now refuses writes, as a full disk would.
        a.file = File::open(&a.path).unwrap();
        a.flush();
        let why = a.stopped().expect("stopped").to_string();
        assert!(why.contains("writing the spool file failed"), "{why}");
        assert_eq!(a.accepted(), WRITE_CHUNK as u64);
        assert_eq!(s.used(), WRITE_CHUNK as u64);
        a.append("later");
        assert_eq!(a.accepted(), WRITE_CHUNK as u64);
    }

    #[test]
    fn without_a_directory_the_slot_says_why() {
        let s = Spools::new(None, 1000, 1000);
        assert!(s.dir().is_none());
        let why = s.slot().create().unwrap_err();
        assert!(why.contains("no spool directory"), "{why}");
        let scratch = tempfile::tempdir().unwrap();
        let file = scratch.path().join("not-a-dir");
        std::fs::write(&file, b"").unwrap();
        let s = Spools::new(Some(&file), 1000, 1000);
        let why = s.slot().create().unwrap_err();
        assert!(why.contains("cannot be used"), "{why}");
    }

    #[test]
    fn the_directory_is_private_and_removed_with_the_server() {
        let (base, s) = spools(1000, 1000);
        let dir = s.dir().unwrap().to_path_buf();
        assert!(dir.starts_with(base.path().join("cache")));
        use std::os::unix::fs::PermissionsExt;
        for d in [&dir, &base.path().join("cache")] {
            let mode = std::fs::metadata(d).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{}", d.display());
        }
        let mut a = s.slot().create().unwrap();
        a.append("x");
        a.flush();
        drop(a);
        drop(s);
        assert!(!dir.exists());
    }

    #[test]
    fn the_base_follows_xdg() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| std::ffi::OsString::from(v))
            }
        };
        let base = |pairs| base_from(env(pairs)).map(|p| p.display().to_string());
        assert_eq!(
            base(&[("XDG_CACHE_HOME", "/c"), ("HOME", "/h")]).as_deref(),
            Some("/c/mcp-ssh-session")
        );
        // A relative XDG_CACHE_HOME is invalid by the spec and ignored.
        assert_eq!(
            base(&[("XDG_CACHE_HOME", "rel"), ("HOME", "/h")]).as_deref(),
            Some("/h/.cache/mcp-ssh-session")
        );
        assert_eq!(
            base(&[("HOME", "/h")]).as_deref(),
            Some("/h/.cache/mcp-ssh-session")
        );
        assert_eq!(base(&[]), None);
    }
}
