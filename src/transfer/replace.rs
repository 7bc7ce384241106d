//! Putting a local file in place of a remote one over sftp: into a temporary sibling, checked
//! (its size), given its mode, then renamed over the target. A symlink
//! is written through in place (a rename would replace the link itself), and so is a file
//! owned by someone else (a rename would give it our owner); the result says so.

use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::error::{Error, FileProblem, Result};
use crate::session::MasterLease;
use crate::transfer::exec::Input;
use crate::transfer::listing::Kind;
use crate::transfer::script::Script;
use crate::transfer::sftp::{Sftp, problem};
use crate::transfer::{Files, Progress, path};

/// What to put where.
pub(crate) struct Replace<'a> {
    pub local: &'a Path,
    pub size: u64,
    pub remote: &'a str,
    pub make_dirs: bool,
    pub permissions: Option<u32>,
    /// When `remote` is a directory, put the file in it under this name (uploads).
    pub into_dir: Option<&'a str>,
}

#[derive(Debug)]
pub(crate) struct Replaced {
    pub path: String,
    pub mode: Option<String>,
    pub atomic: bool,
    pub notes: Vec<String>,
}

/// New files get this mode over sftp (the server's umask may clear more bits).
const NEW_FILE_MODE: u32 = 0o644;

impl Files {
    pub(crate) async fn replace_sftp(
        &self,
        s: &mut Sftp,
        lease: &MasterLease,
        r: &Replace<'_>,
        progress: Option<Progress<'_>>,
        cancel: &CancellationToken,
    ) -> Result<Replaced> {
        let mut remote = r.remote.to_string();
        if s.is_dir(&remote, cancel).await? == Some(true) {
            match r.into_dir {
                Some(name) => {
                    remote = path::join(&remote, name);
                    if s.is_dir(&remote, cancel).await? == Some(true) {
                        return Err(Error::file(&remote, FileProblem::IsADirectory, ""));
                    }
                }
                None => return Err(Error::file(&remote, FileProblem::IsADirectory, "")),
            }
        }
        let (dir, _) = path::split(&remote);
        if r.make_dirs {
            // Ok only when `dir` is a directory now.
            self.make_dirs_sftp(s, &dir, cancel).await?;
        } else {
            match s.is_dir(&dir, cancel).await? {
                Some(true) => {}
                Some(false) => return Err(Error::file(&dir, FileProblem::NotADirectory, "")),
                None => return Err(Error::file(&remote, FileProblem::ParentMissing, "")),
            }
        }
        // The entry as its directory lists it, to see a symlink. When that cannot be known
        // (the directory cannot be listed, or has too many entries), the file itself, and an
        // existing one is written in place: a symlink stays a symlink either way.
        let (existing, link_unknown) = match s.lstat(&remote, cancel).await {
            Ok(e) => (e, None),
            Err(Error::Cancelled) => return Err(Error::Cancelled),
            Err(e) => {
                let why = match e {
                    Error::RemoteFile { detail, .. } if !detail.is_empty() => detail,
                    other => other.to_string(),
                };
                (s.entry(&remote, cancel).await.ok().flatten(), Some(why))
            }
        };
        let mut notes = Vec::new();
        let mut atomic = true;
        if let Some(e) = &existing {
            if let Some(why) = link_unknown {
                atomic = false;
                notes.push(format!(
                    "whether the path is a symlink could not be checked ({why}): it was written in place (not atomically), so a link would stay"
                ));
            } else if e.kind == Kind::Symlink {
                atomic = false;
                notes.push("the path is a symlink: its target was written in place (not atomically), so the link stays".into());
            } else if let Some(user) = &s.user
                && !e.owner.chars().all(|c| c.is_ascii_digit())
                && e.owner != *user
            {
                atomic = false;
                notes.push(format!(
                    "the file belongs to {}: it was written in place (not atomically) so that it keeps its owner",
                    e.owner
                ));
            }
        }
        let mode = r.permissions.or_else(|| match &existing {
            Some(e) if e.kind == Kind::File => u32::from_str_radix(&e.mode, 8).ok(),
            Some(_) => None,
            None => Some(NEW_FILE_MODE),
        });
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let target = if atomic {
            path::temp_sibling(&remote, &nonce[..12])
        } else {
            remote.clone()
        };
        let local = r.local.to_string_lossy();
        let line = path::batch_line("put", &[&local, &target])?;
        let pid = s.pid();
        let mut position = ReadPosition::new(pid, r.local);
        let out = s
            .run_watched(&line, cancel, Duration::from_millis(250), &mut || {
                if let (Some(p), Some(done)) = (progress, position.get()) {
                    p(done, Some(r.size));
                }
                false
            })
            .await;
        let result = async {
            let out = out?;
            if !out.is_empty() {
                let text = out.join("\n");
                let mut p = problem(&text);
                if p == FileProblem::Other {
                    p = self.diagnose(s, lease, &dir, r.size, cancel).await;
                }
                return Err(Error::file(&remote, p, text));
            }
            let arrived = s.entry(&target, cancel).await?.map(|e| e.size);
            if arrived != Some(r.size) {
                return Err(Error::file(
                    &remote,
                    FileProblem::Mismatch,
                    format!(
                        "{} bytes sent, {} arrived",
                        r.size,
                        arrived.map_or("?".into(), |n| n.to_string())
                    ),
                ));
            }
            if let Some(m) = mode.filter(|_| atomic || r.permissions.is_some()) {
                s.quiet(&format!("chmod {m:o}"), &[&target], &remote, cancel)
                    .await?;
            }
            if atomic {
                s.quiet("rename", &[&target, &remote], &remote, cancel)
                    .await?;
            }
            Ok(())
        }
        .await;
        match result {
            Ok(()) => Ok(Replaced {
                path: remote,
                mode: mode.map(|m| format!("{m:04o}")),
                atomic,
                notes,
            }),
            Err(e) => {
                if atomic {
                    self.remove_remote(s, lease, &target).await;
                }
                Err(e)
            }
        }
    }

    /// `mkdir` for each missing ancestor of `dir`, top down.
    pub(crate) async fn make_dirs_sftp(
        &self,
        s: &mut Sftp,
        dir: &str,
        cancel: &CancellationToken,
    ) -> Result<()> {
        let mut missing = Vec::new();
        let mut d = dir.to_string();
        while d != "/" && missing.len() < 256 {
            if s.is_dir(&d, cancel).await? == Some(true) {
                break;
            }
            missing.push(d.clone());
            d = path::split(&d).0;
        }
        for m in missing.iter().rev() {
            let out = s.run(&path::batch_line("mkdir", &[m])?, cancel).await?;
            if !out.is_empty() && s.is_dir(m, cancel).await? != Some(true) {
                return Err(Error::file(m, FileProblem::MakeDirs, out.join("\n")));
            }
        }
        Ok(())
    }

    /// sftp reports ENOSPC and EROFS alike as "Failure": ask `df`, then the exec channel.
    async fn diagnose(
        &self,
        s: &mut Sftp,
        lease: &MasterLease,
        dir: &str,
        size: u64,
        cancel: &CancellationToken,
    ) -> FileProblem {
        if let Some(avail) = s.available(dir, cancel).await
            && avail < size.max(1)
        {
            return FileProblem::DiskFull;
        }
        let probe = Script::writable(dir);
        if let Ok(e) = self.exec(lease, &probe, Input::None, None, cancel).await
            && let Ok(report) = e.finish(cancel).await
            && report.has('W', "no")
        {
            return FileProblem::ReadOnly;
        }
        FileProblem::Other
    }

    /// Best-effort removal of a temporary file, in a new sftp session if this one is gone.
    pub(crate) async fn remove_remote(&self, s: &mut Sftp, lease: &MasterLease, p: &str) {
        let token = CancellationToken::new();
        let quick = Duration::from_secs(10);
        let line = match path::batch_line("rm", &[p]) {
            Ok(l) => l,
            Err(_) => return,
        };
        if let Ok(Ok(_)) = tokio::time::timeout(quick, s.run(&line, &token)).await {
            return;
        }
        let fresh = tokio::time::timeout(quick, async {
            if let Ok(Ok(mut s2)) =
                Sftp::start(&self.programs, lease, &self.fifo_path(), &token).await
            {
                let _ = s2.run(&line, &token).await;
                s2.close().await;
            }
        });
        if fresh.await.is_err() {
            tracing::warn!(
                path = p,
                "could not remove a temporary file after a failed transfer"
            );
        }
    }
}

/// How far a child process has read a local file: its file offset in
/// `/proc/<pid>/fdinfo` (Linux; elsewhere no progress is reported for sftp uploads).
pub(crate) struct ReadPosition {
    pid: Option<u32>,
    path: std::path::PathBuf,
    fd: Option<String>,
}

impl ReadPosition {
    pub fn new(pid: Option<u32>, path: &Path) -> Self {
        ReadPosition {
            pid,
            path: path.to_path_buf(),
            fd: None,
        }
    }

    pub fn get(&mut self) -> Option<u64> {
        let pid = self.pid?;
        if self.fd.is_none() {
            let dir = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
            self.fd = dir.flatten().find_map(|e| {
                (std::fs::read_link(e.path()).ok()? == self.path)
                    .then(|| e.file_name().to_string_lossy().into_owned())
            });
        }
        let info =
            std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", self.fd.as_ref()?)).ok()?;
        info.lines()
            .find_map(|l| l.strip_prefix("pos:"))
            .and_then(|v| v.trim().parse().ok())
    }
}
