//! Files over the same authenticated ControlMaster as the shells: read_file and write_file,
//! streamed uploads and downloads with SHA-256 checks, and directory listings.
//!
//! The primary path is the user's own `sftp` in batch mode (`sftp -b -`) through the master
//! ([`sftp`]), with every path quoted for its batch grammar ([`path`]). Hosts without the
//! sftp subsystem, and everything under sudo, go through a non-PTY exec channel on the same
//! master running small POSIX sh scripts ([`exec`], [`script`]). Writes that replace a file
//! go to a temporary sibling first and are renamed over it only once complete and checked,
//! so a reader never sees half a file and a cut transfer leaves the old one intact. Local
//! paths are confined to a root directory ([`local`]).

pub mod child;
pub mod codec;
pub mod download;
pub mod exec;
pub mod list;
pub mod listing;
pub mod local;
pub mod path;
pub mod replace;
pub mod script;
pub mod sftp;
pub mod stream;
pub mod text;
pub mod upload;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sha2::Digest;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, FileProblem, Result};
use crate::secret::Secret;
use crate::session::{MasterLease, SessionManager};
use crate::ssh::shown::Shown;
use crate::transfer::exec::{Exec, Input, Sudo};
use crate::transfer::script::Script;
use crate::transfer::sftp::{NotStarted, Programs, Sftp};

pub use crate::transfer::listing::{Entry, Kind};
pub use crate::transfer::local::LocalRoot;

/// Most bytes one read_file returns and one write_file accepts (the Python tool's cap).
pub const MAX_TEXT_BYTES: u64 = 2 * 1024 * 1024;

/// Who to log in as, with the Python tools' parameters.
#[derive(Debug, Clone, Default)]
pub struct Login {
    pub host: String,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub key_filename: Option<String>,
    pub port: Option<u16>,
}

/// sudo as the caller asked for it.
#[derive(Debug, Clone, Default)]
pub struct SudoRequest {
    pub use_sudo: bool,
    pub password: Option<Secret>,
}

/// The way the data went, named in every result: `sftp -b` through the master, a non-PTY
/// exec channel (the host has no sftp subsystem), or an exec channel under sudo. (No doc
/// comments on the variants: they would turn the schema's short `enum` into a `oneOf`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    Sftp,
    Exec,
    Sudo,
}

/// Bytes done and the total when known, for progress notifications.
pub type Progress<'a> = &'a (dyn Fn(u64, Option<u64>) + Send + Sync);

/// The file engine: the session manager's masters plus the OpenSSH clients and the local root.
pub struct Files {
    manager: Arc<SessionManager>,
    programs: Programs,
    local: LocalRoot,
    /// Per destination (`user@host:port`): its shell when its exec channel runs a POSIX
    /// shell, or why not. Learned once; only definite answers are kept.
    shells:
        std::sync::Mutex<std::collections::HashMap<String, std::result::Result<ShellInfo, String>>>,
}

/// An open connection for one operation: the master, and sftp when the host has it.
pub(crate) struct Conn {
    pub lease: MasterLease,
    pub sftp: Option<Sftp>,
    /// Why sftp is not there (for messages).
    pub no_sftp: Option<String>,
}

impl Conn {
    /// A host with no shell either: say why neither way works.
    pub fn no_transport(&self, e: Error) -> Error {
        match (e, &self.no_sftp) {
            (
                Error::RemoteFile {
                    problem: FileProblem::NoTransport,
                    path,
                    detail,
                },
                Some(why),
            ) => Error::file(
                &path,
                FileProblem::NoTransport,
                format!(
                    "{why}; and {detail}. Files cannot be moved to or from this host with these tools (on a network device, use its own copy commands through execute_command)"
                ),
            ),
            (e, _) => e,
        }
    }

    /// Closes sftp and returns what the operation may show: for an `OVRD_` alias, remote
    /// paths and messages are scrubbed of the real destination (a path under the real
    /// user's home reads `~/...`). File content and listed names and owners are remote data
    /// and stay as they are, as command output does.
    pub async fn finish<T: ShownAs>(self, result: Result<T>) -> Result<T> {
        if let Some(s) = self.sftp {
            s.close().await;
        }
        let shown = &self.lease.shown;
        match result {
            Ok(o) if shown.hides() => Ok(o.shown_as(shown)),
            Ok(o) => Ok(o),
            Err(e) => Err(shown.scrub_error(e)),
        }
    }
}

/// A result whose remote paths and messages are scrubbed for an `OVRD_` alias.
pub(crate) trait ShownAs {
    fn shown_as(self, shown: &Shown) -> Self;
}

impl Files {
    pub fn new(manager: Arc<SessionManager>) -> Result<Files> {
        let local = LocalRoot::new(manager.config().local_root.as_deref())?;
        Ok(Files {
            programs: Programs::new(manager.ssh().clone()),
            manager,
            local,
            shells: Default::default(),
        })
    }

    fn timeout(&self) -> Duration {
        self.manager.config().connect_timeout
    }

    async fn lease(&self, login: &Login, cancel: &CancellationToken) -> Result<MasterLease> {
        self.manager
            .master(
                &login.host,
                login.username.as_deref(),
                login.port,
                login.key_filename.as_deref(),
                login.password.as_ref(),
                cancel,
            )
            .await
    }

    /// `ssh -O check`: whether the master still answers.
    async fn master_alive(&self, lease: &MasterLease) -> bool {
        crate::ssh::master::answers(
            &self.programs.ssh,
            &lease.socket,
            &lease.target.host,
            &lease.label,
        )
        .await
    }

    /// The master and an sftp session on it. A master that died is restarted once; a host
    /// whose master is fine but whose sftp does not start has no sftp (the exec channel
    /// takes over).
    pub(crate) async fn open(&self, login: &Login, cancel: &CancellationToken) -> Result<Conn> {
        let lease = self.lease(login, cancel).await?;
        let shown = lease.shown.clone();
        self.with_sftp(lease, login, cancel)
            .await
            .map_err(|e| shown.scrub_error(e))
    }

    /// For streamed transfers: the master alone when its exec channel runs a shell (the
    /// data goes there), else with sftp.
    pub(crate) async fn open_for_stream(
        &self,
        login: &Login,
        cancel: &CancellationToken,
    ) -> Result<Conn> {
        let lease = self.lease(login, cancel).await?;
        let shown = lease.shown.clone();
        let conn = match self.shell(&lease, cancel).await {
            Ok(_) => Ok(Conn {
                lease,
                sftp: None,
                no_sftp: None,
            }),
            Err(Error::RemoteFile {
                problem: FileProblem::NoTransport,
                ..
            }) => self.with_sftp(lease, login, cancel).await,
            Err(e) => Err(e),
        };
        conn.map_err(|e| shown.scrub_error(e))
    }

    async fn with_sftp(
        &self,
        mut lease: MasterLease,
        login: &Login,
        cancel: &CancellationToken,
    ) -> Result<Conn> {
        for attempt in 0..2 {
            match Sftp::start(&self.programs, &lease, &self.fifo_path(), cancel).await? {
                Ok(s) => {
                    return Ok(Conn {
                        lease,
                        sftp: Some(s),
                        no_sftp: None,
                    });
                }
                Err(NotStarted(text)) => {
                    if attempt == 0 && !self.master_alive(&lease).await {
                        tracing::debug!(dest = %lease.label, "master gone; reconnecting for sftp");
                        lease = self.lease(login, cancel).await?;
                        continue;
                    }
                    tracing::debug!(dest = %lease.label, %text, "sftp unavailable; using an exec channel");
                    let why = if text.trim().is_empty() {
                        "sftp closed the connection at once (the sftp subsystem is probably disabled)"
                            .to_string()
                    } else if text.contains("Received message too long") {
                        // sftp read text as a packet length: the host printed something
                        // where the sftp protocol should start.
                        "the host answers sftp with text instead of the sftp protocol: a device CLI, a ForceCommand or a start-up file that prints".to_string()
                    } else {
                        format!("sftp did not start: {}", text.trim())
                    };
                    return Ok(Conn {
                        lease,
                        sftp: None,
                        no_sftp: Some(why),
                    });
                }
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// An exec channel running `script`, under sudo when `sudo` is given. Only on a host
    /// whose exec channel is known to run a POSIX shell: anything else (an sftp-only
    /// account, a device CLI) would read our input as something else.
    pub(crate) async fn exec(
        &self,
        lease: &MasterLease,
        script: &Script,
        input: Input,
        sudo: Option<&Sudo>,
        cancel: &CancellationToken,
    ) -> Result<Exec> {
        let info = self.shell_info(lease, cancel).await?;
        Exec::start(
            &self.programs,
            lease,
            &script.clone().hashing_with(&info.hash),
            input,
            sudo,
            self.timeout(),
            cancel,
        )
        .await
    }

    /// The login user's home when the host's exec channel runs a POSIX shell; otherwise a
    /// [`FileProblem::NoTransport`] error saying why. Probed once per destination with no
    /// input, so whatever answers instead of a shell ends at once.
    pub(crate) async fn shell(
        &self,
        lease: &MasterLease,
        cancel: &CancellationToken,
    ) -> Result<String> {
        Ok(self.shell_info(lease, cancel).await?.home)
    }

    async fn shell_info(
        &self,
        lease: &MasterLease,
        cancel: &CancellationToken,
    ) -> Result<ShellInfo> {
        let known = self
            .shells
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&lease.label)
            .cloned();
        let answer = match known {
            Some(a) => a,
            None => {
                let probe = Exec::start(
                    &self.programs,
                    lease,
                    &Script::home(),
                    Input::None,
                    None,
                    self.timeout(),
                    cancel,
                )
                .await;
                let answer = match probe {
                    Ok(e) => {
                        let report = e.finish(cancel).await?;
                        match report.get('M').filter(|h| h.starts_with('/')) {
                            Some(h) => Ok(ShellInfo {
                                home: h.to_string(),
                                hash: report.get('S').unwrap_or("nnn").to_string(),
                            }),
                            None => {
                                Err("the remote shell did not tell its home directory".to_string())
                            }
                        }
                    }
                    Err(Error::RemoteFile {
                        problem: FileProblem::NoTransport,
                        detail,
                        ..
                    }) => {
                        // A master that died looks like a host without a shell: not cached.
                        if !self.master_alive(lease).await {
                            return Err(Error::Disconnected {
                                dest: lease.label.clone(),
                                detail: "the connection master ended; call again to reconnect"
                                    .into(),
                            });
                        }
                        Err(detail)
                    }
                    Err(e) => return Err(e),
                };
                self.shells
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(lease.label.clone(), answer.clone());
                answer
            }
        };
        answer.map_err(|why| Error::file(&lease.label, FileProblem::NoTransport, why))
    }

    /// `path` made absolute: `~`, `~/x` and relative paths from the login user's home.
    pub(crate) async fn resolve(
        &self,
        conn: &Conn,
        remote: &str,
        cancel: &CancellationToken,
    ) -> Result<String> {
        if !path::needs_home(remote) {
            return Ok(remote.to_string());
        }
        let home = match &conn.sftp {
            Some(s) => s.home.clone(),
            None => self
                .shell(&conn.lease, cancel)
                .await
                .map_err(|e| conn.no_transport(e))?,
        };
        Ok(path::resolve(remote, &home))
    }

    /// The sudo password: the one given, else `OVRD_<host>_SUDO_PASS`.
    pub(crate) fn sudo_password(&self, host: &str, given: Option<&Secret>) -> Option<Secret> {
        self.manager.sudo_password(host, given, "sudo")
    }

    /// A free path in the private runtime directory for sftp's output pipe.
    fn fifo_path(&self) -> PathBuf {
        self.manager.runtime().fresh("o", "")
    }

    /// A staging file in the private runtime directory, removed on drop.
    pub(crate) fn staging(&self, tag: &str) -> LocalTemp {
        LocalTemp(self.manager.runtime().fresh(tag, ".part"))
    }
}

/// What the probe learned about a host's shell.
#[derive(Debug, Clone)]
pub(crate) struct ShellInfo {
    pub home: String,
    /// The SHA-256 tools its scripts use (see [`Script::home`]).
    pub hash: String,
}

/// A local file removed when dropped (unless persisted by renaming it away).
#[derive(Debug)]
pub(crate) struct LocalTemp(pub PathBuf);

impl LocalTemp {
    /// Renames the file to `to`; nothing is left to remove.
    pub fn persist(self, to: &Path) -> std::io::Result<()> {
        std::fs::rename(&self.0, to)?;
        std::mem::forget(self);
        Ok(())
    }
}

impl Drop for LocalTemp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A fresh name part for temporary files (12 hex digits).
pub(crate) fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

pub fn sha256(bytes: &[u8]) -> String {
    hex(&sha2::Sha256::digest(bytes))
}

/// SHA-256 and length of a local file, read in 1 MiB pieces (memory stays bounded).
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex(&h.finalize()), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes() {
        assert_eq!(
            sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), b"abc").unwrap();
        assert_eq!(sha256_file(f.path()).unwrap(), (sha256(b"abc"), 3));
    }
}
