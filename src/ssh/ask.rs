//! Questions only a human should answer during a login: an unknown host key, a password or
//! one-time code or key passphrase that nobody gave us, and "touch your security key".
//!
//! The front end that can reach a human (the MCP server, through elicitation) puts an
//! [`Asker`] in scope for the duration of a tool call ([`scope`]); the login code asks
//! [`current`] when it meets such a prompt. Without one in scope, or when the front end cannot
//! ask, the answer is an error saying why, and the login fails as it always did.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use crate::secret::Secret;
use crate::ssh::{Resolved, Shown};

/// A boxed future, for the object-safe [`Asker`].
pub type Asking<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the human decided about an unknown host key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyDecision {
    Refuse,
    /// Trust the key for connections of this server run only.
    AcceptForThisRun,
    /// Trust it and add it to the user's known_hosts.
    AcceptAndSave,
}

/// An unknown host key (a changed key is never asked about).
#[derive(Debug, Clone)]
pub struct HostKeyQuestion {
    /// The destination as it may be shown.
    pub dest: String,
    pub key_type: Option<String>,
    pub fingerprint: Option<String>,
}

/// A secret the login needs and nobody gave.
#[derive(Debug, Clone)]
pub struct SecretQuestion {
    pub dest: String,
    /// `a password`, `a key passphrase`, `an answer`...
    pub what: &'static str,
    /// Who asks, when it is not `dest`: a ProxyJump hop's `user@host`, a key that is not the
    /// target's. The human must know whose secret to type.
    pub hop: Option<String>,
    /// The prompt ssh printed.
    pub prompt: String,
}

/// Reaches the human. `Err` says why no answer came (cannot ask, declined, timed out), for
/// the error the login then reports.
pub trait Asker: Send + Sync {
    fn host_key<'a>(
        &'a self,
        q: &'a HostKeyQuestion,
    ) -> Asking<'a, Result<HostKeyDecision, String>>;
    fn secret<'a>(&'a self, q: &'a SecretQuestion) -> Asking<'a, Result<Secret, String>>;
    /// A hardware key waits for a touch: tell the human (the login keeps waiting).
    fn touch(&self, dest: &str, prompt: &str);
}

tokio::task_local! {
    static ASKER: Arc<dyn Asker>;
}

/// Runs `f` with `asker` answering the login questions it meets.
pub async fn scope<F: Future>(asker: Arc<dyn Asker>, f: F) -> F::Output {
    ASKER.scope(asker, f).await
}

/// The asker in scope, if any.
pub fn current() -> Option<Arc<dyn Asker>> {
    ASKER.try_with(Arc::clone).ok()
}

/// The asker in scope (if any), seeing questions as `shown` allows: for work that goes on
/// outside the scope (a command that logs in somewhere after its tool call returned).
pub fn current_for(shown: Arc<Shown>) -> Option<Arc<dyn Asker>> {
    let inner = current()?;
    Some(if shown.hides() {
        Arc::new(Scrubbed { inner, shown })
    } else {
        inner
    })
}

/// Runs `f` with the asker in scope (if any) seeing questions as `shown` allows: an `OVRD_`
/// alias's real host, user and key path never reach the human's dialog either.
pub async fn scrubbed<F: Future>(shown: Arc<Shown>, f: F) -> F::Output {
    match current() {
        Some(inner) if shown.hides() => scope(Arc::new(Scrubbed { inner, shown }), f).await,
        _ => f.await,
    }
}

struct Scrubbed {
    inner: Arc<dyn Asker>,
    shown: Arc<Shown>,
}

impl Asker for Scrubbed {
    fn host_key<'a>(
        &'a self,
        q: &'a HostKeyQuestion,
    ) -> Asking<'a, Result<HostKeyDecision, String>> {
        Box::pin(async move {
            let q = HostKeyQuestion {
                dest: self.shown.scrub(&q.dest),
                ..q.clone()
            };
            self.inner.host_key(&q).await
        })
    }

    fn secret<'a>(&'a self, q: &'a SecretQuestion) -> Asking<'a, Result<Secret, String>> {
        Box::pin(async move {
            let q = SecretQuestion {
                dest: self.shown.scrub(&q.dest),
                what: q.what,
                hop: q.hop.as_deref().map(|h| self.shown.scrub(h)),
                prompt: self.shown.scrub(&q.prompt),
            };
            self.inner.secret(&q).await
        })
    }

    fn touch(&self, dest: &str, prompt: &str) {
        self.inner
            .touch(&self.shown.scrub(dest), &self.shown.scrub(prompt));
    }
}

/// Asks about an unknown host key: the bytes to type at ssh's question, or why not.
///
/// "For this run" works because the master is started with this run's own known_hosts file
/// first in `UserKnownHostsFile` ([`session_known_hosts`]): ssh records an accepted key in the
/// first file, which is ours; "and save" then copies what ssh recorded to the user's file
/// (when the returned [`SaveKey`] is dropped, after the login).
pub async fn host_key(
    q: HostKeyQuestion,
    known_hosts: Option<&KnownHosts>,
) -> Result<(&'static [u8], Option<SaveKey>), String> {
    let Some(asker) = current() else {
        return Err(String::new());
    };
    let Some(known_hosts) = known_hosts else {
        return Err(
            " (this connection cannot record a key for this run only, so the user was not asked)"
                .into(),
        );
    };
    match asker.host_key(&q).await {
        Ok(HostKeyDecision::Refuse) => Err(" The user refused the key.".into()),
        Ok(HostKeyDecision::AcceptForThisRun) => Ok((b"yes\n", None)),
        Ok(HostKeyDecision::AcceptAndSave) => Ok((b"yes\n", Some(known_hosts.save_key()))),
        Err(why) => Err(format!(" The user could not be asked: {why}.")),
    }
}

/// Asks the human for a secret the login needs, or says why not.
pub async fn secret(q: SecretQuestion) -> Result<Secret, String> {
    match current() {
        Some(asker) => asker.secret(&q).await,
        None => Err("no one to ask".into()),
    }
}

/// Notices ssh's "touch your security key" line and tells the human, once per login.
#[derive(Default)]
pub struct TouchWatch {
    told: bool,
}

impl TouchWatch {
    /// Looks at new terminal text.
    pub fn see(&mut self, dest: &str, text: &str) {
        if self.told {
            return;
        }
        if let Some(line) = text
            .lines()
            .find(|l| l.contains("Confirm user presence for key"))
        {
            self.told = true;
            if let Some(asker) = current() {
                asker.touch(dest, line.trim());
            }
        }
    }
}

/// This run's known_hosts file, put first in a master's `UserKnownHostsFile` so that a key the
/// human accepts "for this run" is recorded there and nowhere else.
#[derive(Debug, Clone)]
pub struct KnownHosts {
    session: PathBuf,
    /// The user's first known_hosts file (where "accept and save" writes).
    user: PathBuf,
}

/// The `UserKnownHostsFile` value for a master, when ssh may ask about a host key
/// (`StrictHostKeyChecking ask`) and the user's files can be named safely.
pub fn session_known_hosts(
    resolved: Option<&Resolved>,
    session: &Path,
) -> Option<(String, KnownHosts)> {
    let r = resolved?;
    if r.get("stricthostkeychecking") != Some("ask") {
        return None;
    }
    let files = r.get("userknownhostsfile")?;
    let session_str = session.to_str()?;
    // ssh splits the value at whitespace (and honours quotes): pass plain paths only.
    if files.contains(['"', '\'']) || session_str.contains(char::is_whitespace) {
        return None;
    }
    let user = PathBuf::from(files.split_whitespace().next()?);
    Some((
        format!("{session_str} {files}"),
        KnownHosts {
            session: session.to_path_buf(),
            user,
        },
    ))
}

impl KnownHosts {
    fn save_key(&self) -> SaveKey {
        SaveKey {
            from: self.session.clone(),
            seen: std::fs::metadata(&self.session)
                .map(|m| m.len())
                .unwrap_or(0),
            to: self.user.clone(),
        }
    }
}

/// Copies the key lines ssh adds to this run's file into the user's known_hosts when dropped.
#[derive(Debug)]
pub struct SaveKey {
    from: PathBuf,
    seen: u64,
    to: PathBuf,
}

impl SaveKey {
    fn save(&self) -> std::io::Result<usize> {
        let text = std::fs::read(&self.from)?;
        let new = text.get(self.seen as usize..).unwrap_or_default();
        let lines: Vec<&[u8]> = new
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        if lines.is_empty() {
            return Ok(0);
        }
        if let Some(dir) = self.to.parent() {
            std::fs::create_dir_all(dir)?;
        }
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&self.to)?;
        let mut out = Vec::new();
        for l in &lines {
            out.extend_from_slice(l);
            out.push(b'\n');
        }
        f.write_all(&out)?;
        f.sync_all()?;
        Ok(lines.len())
    }
}

impl Drop for SaveKey {
    fn drop(&mut self) {
        match self.save() {
            Ok(n) => tracing::info!(
                keys = n,
                "host key added to the user's known_hosts, as the user chose"
            ),
            Err(e) => {
                tracing::warn!(error = %e, file = %self.to.display(), "could not add the accepted host key to known_hosts")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hosts_redirect_only_when_ssh_would_ask() {
        let ask = Resolved::parse(
            "hostname h\nuser u\nport 22\nstricthostkeychecking ask\nuserknownhostsfile /home/u/.ssh/known_hosts /home/u/.ssh/known_hosts2\n",
        )
        .unwrap();
        let (value, kh) = session_known_hosts(Some(&ask), Path::new("/run/x/known_hosts")).unwrap();
        assert_eq!(
            value,
            "/run/x/known_hosts /home/u/.ssh/known_hosts /home/u/.ssh/known_hosts2"
        );
        assert_eq!(kh.user, Path::new("/home/u/.ssh/known_hosts"));
        let strict = Resolved::parse(
            "hostname h\nuser u\nport 22\nstricthostkeychecking true\nuserknownhostsfile /k\n",
        )
        .unwrap();
        assert!(session_known_hosts(Some(&strict), Path::new("/run/k")).is_none());
        assert!(session_known_hosts(None, Path::new("/run/k")).is_none());
    }

    #[test]
    fn saving_copies_only_the_new_lines() {
        let d = tempfile::tempdir().unwrap();
        let session = d.path().join("session");
        std::fs::write(&session, "old line\n").unwrap();
        let kh = KnownHosts {
            session: session.clone(),
            user: d.path().join("ssh/known_hosts"),
        };
        let save = kh.save_key();
        std::fs::write(&session, "old line\n[h]:22 ssh-ed25519 AAAA\n").unwrap();
        drop(save);
        assert_eq!(
            std::fs::read_to_string(d.path().join("ssh/known_hosts")).unwrap(),
            "[h]:22 ssh-ed25519 AAAA\n"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.path().join("ssh/known_hosts"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn touch_is_told_once() {
        let mut w = TouchWatch::default();
        w.see("h", "no\n");
        assert!(!w.told);
        w.see(
            "h",
            "Confirm user presence for key ED25519-SK SHA256:abc\r\n",
        );
        assert!(w.told);
    }
}
