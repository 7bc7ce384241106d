//! upload_file and download_file: files of any size, streamed (memory stays bounded), each
//! landing under a temporary name and renamed into place only after its size and SHA-256
//! match the source's.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::Digest;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, FileProblem, Result};
use crate::session::MasterLease;
use crate::transfer::exec::Sudo;
use crate::transfer::listing;
use crate::transfer::replace::{ExpectedHash, Replace};
use crate::transfer::script::{Script, WriteArgs};
use crate::transfer::sftp::{Sftp, problem};
use crate::transfer::{
    Files, LocalTemp, Login, Progress, SudoRequest, Via, hex, path, sha256_file,
};

#[derive(Debug, Clone, Default)]
pub struct UploadRequest {
    pub login: Login,
    pub local_path: String,
    pub remote_path: String,
    pub make_dirs: bool,
    pub permissions: Option<u32>,
    pub sudo: SudoRequest,
}

#[derive(Debug, Clone, Default)]
pub struct DownloadRequest {
    pub login: Login,
    pub remote_path: String,
    pub local_path: String,
    pub sudo: SudoRequest,
}

/// How the copy was checked against its source: size and SHA-256 on both ends, or the
/// size only (the host has no sha256sum, shasum or openssl, or no shell).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verified {
    Sha256,
    Size,
}

#[derive(Debug, Clone)]
pub struct TransferOutcome {
    pub local_path: PathBuf,
    pub remote_path: String,
    pub bytes: u64,
    pub sha256: String,
    pub verified: Verified,
    pub via: Via,
    pub seconds: f64,
    pub mode: Option<String>,
    pub atomic: bool,
    pub notes: Vec<String>,
}

type HashTask = tokio::task::JoinHandle<std::io::Result<(String, u64)>>;

fn hash_in_background(p: &Path) -> HashTask {
    let p = p.to_path_buf();
    tokio::task::spawn_blocking(move || sha256_file(&p))
}

async fn hash_result(task: HashTask, local: &Path) -> Result<(String, u64)> {
    task.await
        .map_err(|e| Error::io("hashing the local file", std::io::Error::other(e)))?
        .map_err(|e| Error::LocalFile {
            path: local.display().to_string(),
            detail: format!("cannot read it: {e}"),
        })
}

impl Files {
    pub async fn upload(
        &self,
        req: &UploadRequest,
        progress: Option<Progress<'_>>,
        cancel: &CancellationToken,
    ) -> Result<TransferOutcome> {
        let started = Instant::now();
        let local = self.local.source(&req.local_path)?;
        path::check("remote_path", &req.remote_path)?;
        let size = std::fs::metadata(&local)
            .map_err(|e| Error::LocalFile {
                path: req.local_path.clone(),
                detail: e.to_string(),
            })?
            .len();
        let name = local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let hash = hash_in_background(&local);
        let mut conn = self.open(&req.login, cancel).await?;
        let result = async {
            let p = self.resolve(&conn, &req.remote_path, cancel).await?;
            let sudo = (req.sudo.use_sudo || req.sudo.password.is_some()).then(|| Sudo {
                password: self.sudo_password(&req.login.host, req.sudo.password.as_ref()),
            });
            match (conn.sftp.as_mut(), &sudo) {
                (Some(s), None) => {
                    self.upload_sftp(
                        s,
                        &conn.lease,
                        &local,
                        size,
                        &name,
                        &p,
                        req,
                        hash,
                        progress,
                        cancel,
                    )
                    .await
                }
                _ => {
                    let (sha, hashed) = hash_result(hash, &local).await?;
                    if hashed != size {
                        return Err(changed(&local));
                    }
                    let mut o = self
                        .upload_exec(
                            &conn.lease,
                            &local,
                            size,
                            &sha,
                            &name,
                            &p,
                            req,
                            sudo.as_ref(),
                            progress,
                            cancel,
                        )
                        .await?;
                    if sudo.is_none()
                        && let Some(why) = &conn.no_sftp
                    {
                        o.notes.push(format!("sent over an exec channel: {why}"));
                    }
                    Ok(o)
                }
            }
        }
        .await;
        conn.close().await;
        result.map(|mut o| {
            o.seconds = started.elapsed().as_secs_f64();
            o
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn upload_sftp(
        &self,
        s: &mut Sftp,
        lease: &MasterLease,
        local: &Path,
        size: u64,
        name: &str,
        p: &str,
        req: &UploadRequest,
        hash: HashTask,
        progress: Option<Progress<'_>>,
        cancel: &CancellationToken,
    ) -> Result<TransferOutcome> {
        // The local hash runs while sftp copies; it is needed before the rename.
        let expected: ExpectedHash<'_> = Box::pin(async move {
            let (sha, hashed) = hash_result(hash, local).await?;
            if hashed != size {
                return Err(changed(local));
            }
            Ok(sha)
        });
        let done = self
            .replace_sftp(
                s,
                lease,
                &Replace {
                    local,
                    size,
                    remote: p,
                    make_dirs: req.make_dirs,
                    permissions: req.permissions,
                    into_dir: Some(name),
                },
                Some(expected),
                progress,
                cancel,
            )
            .await?;
        Ok(TransferOutcome {
            local_path: local.to_path_buf(),
            remote_path: done.path,
            bytes: size,
            verified: if done.sha256_checked {
                Verified::Sha256
            } else {
                Verified::Size
            },
            sha256: done.sha256.unwrap_or_default(),
            via: Via::Sftp,
            seconds: 0.0,
            mode: done.mode,
            atomic: done.atomic,
            notes: done.notes,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn upload_exec(
        &self,
        lease: &MasterLease,
        local: &Path,
        size: u64,
        sha: &str,
        name: &str,
        p: &str,
        req: &UploadRequest,
        sudo: Option<&Sudo>,
        progress: Option<Progress<'_>>,
        cancel: &CancellationToken,
    ) -> Result<TransferOutcome> {
        let script = Script::write(&WriteArgs {
            path: p,
            size,
            permissions: req.permissions,
            append: false,
            make_dirs: req.make_dirs,
            sha256: Some(sha),
            into_dir: Some(name),
        });
        let mut e = self.exec(lease, &script, sudo, cancel).await?;
        let mut file = tokio::fs::File::open(local)
            .await
            .map_err(|err| Error::LocalFile {
                path: local.display().to_string(),
                detail: format!("cannot read it: {err}"),
            })?;
        let mut sent = 0u64;
        let mut last = Instant::now();
        let mut buf = vec![0u8; 256 * 1024];
        let streamed: Result<()> = async {
            use tokio::io::AsyncReadExt;
            loop {
                let n = tokio::select! {
                    r = file.read(&mut buf) => r.map_err(|err| Error::LocalFile {
                        path: local.display().to_string(),
                        detail: format!("cannot read it: {err}"),
                    })?,
                    _ = cancel.cancelled() => return Err(Error::Cancelled),
                };
                if n == 0 {
                    return Ok(());
                }
                let Some(stdin) = e.stdin() else {
                    return Ok(());
                };
                let w = tokio::select! {
                    w = stdin.write_all(&buf[..n]) => w,
                    _ = cancel.cancelled() => return Err(Error::Cancelled),
                };
                if w.is_err() {
                    // The script stopped reading; its report says why.
                    return Ok(());
                }
                sent += n as u64;
                if let Some(pr) = progress
                    && last.elapsed() >= Duration::from_millis(250)
                {
                    pr(sent, Some(size));
                    last = Instant::now();
                }
            }
        }
        .await;
        if let Err(err) = streamed {
            // The remote script sees a short file and removes it; the target is untouched.
            e.kill();
            return Err(err);
        }
        let report = e.finish(cancel).await?;
        if let Some(err) = report.error(p) {
            return Err(err);
        }
        let Some(entry) = report
            .get('L')
            .and_then(|l| listing::parse(l, listing::today()))
        else {
            let text = report.other.join("\n");
            return Err(Error::file(
                p,
                problem(&text),
                format!("the upload did not finish: {text}"),
            ));
        };
        let remote = report.sha256();
        let mut notes = Vec::new();
        if report.has('I', "owner") {
            notes.push("the file's owner could not be kept by a rename: it was written in place (not atomically)".into());
        }
        if remote.is_none() {
            notes.push("the host has no sha256sum, shasum or openssl: checked by size only".into());
        }
        Ok(TransferOutcome {
            local_path: local.to_path_buf(),
            remote_path: entry.name,
            bytes: size,
            sha256: sha.to_string(),
            verified: if remote.is_some() {
                Verified::Sha256
            } else {
                Verified::Size
            },
            via: if sudo.is_some() { Via::Sudo } else { Via::Exec },
            seconds: 0.0,
            mode: Some(entry.mode),
            atomic: !report.has('I', "owner"),
            notes,
        })
    }

    pub async fn download(
        &self,
        req: &DownloadRequest,
        progress: Option<Progress<'_>>,
        cancel: &CancellationToken,
    ) -> Result<TransferOutcome> {
        let started = Instant::now();
        path::check("remote_path", &req.remote_path)?;
        // Refuse a bad local path before connecting.
        self.local.destination(&req.local_path, "x")?;
        let mut conn = self.open(&req.login, cancel).await?;
        let result = async {
            let p = self.resolve(&conn, &req.remote_path, cancel).await?;
            let local = self
                .local
                .destination(&req.local_path, &path::split(&p).1)?;
            let dir = local.parent().unwrap_or(Path::new("/"));
            let name = local
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let nonce = &uuid::Uuid::new_v4().simple().to_string()[..12];
            let part = LocalTemp(dir.join(format!(".{name}.mcp-{nonce}.part")));
            let sudo = (req.sudo.use_sudo || req.sudo.password.is_some()).then(|| Sudo {
                password: self.sudo_password(&req.login.host, req.sudo.password.as_ref()),
            });
            let mut o = match (conn.sftp.as_mut(), &sudo) {
                (Some(s), None) => {
                    self.download_sftp(s, &conn.lease, &p, &part, progress, cancel)
                        .await?
                }
                _ => {
                    let mut o = self
                        .download_exec(&conn.lease, &p, &part, sudo.as_ref(), progress, cancel)
                        .await?;
                    if sudo.is_none()
                        && let Some(why) = &conn.no_sftp
                    {
                        o.notes
                            .push(format!("received over an exec channel: {why}"));
                    }
                    o
                }
            };
            part.persist(&local).map_err(|e| Error::LocalFile {
                path: local.display().to_string(),
                detail: format!("cannot move the downloaded file into place: {e}"),
            })?;
            o.local_path = local;
            Ok(o)
        }
        .await;
        conn.close().await;
        result.map(|mut o| {
            o.seconds = started.elapsed().as_secs_f64();
            o
        })
    }

    async fn download_sftp(
        &self,
        s: &mut Sftp,
        lease: &MasterLease,
        p: &str,
        part: &LocalTemp,
        progress: Option<Progress<'_>>,
        cancel: &CancellationToken,
    ) -> Result<TransferOutcome> {
        match s.is_dir(p, cancel).await? {
            Some(true) => {
                return Err(Error::file(
                    p,
                    FileProblem::IsADirectory,
                    "download one file at a time",
                ));
            }
            None => return Err(Error::file(p, FileProblem::NotFound, "")),
            Some(false) => {}
        }
        let entry = s.list(p, cancel).await?.into_iter().next();
        let size = entry.as_ref().map(|e| e.size);
        let line = path::batch_line("get", &[p, &part.0.to_string_lossy()])?;
        let staged = part.0.clone();
        // The remote SHA-256 is computed while sftp copies (both read the page cache).
        let mut watch = || {
            if let (Some(pr), Ok(m)) = (progress, std::fs::metadata(&staged)) {
                pr(m.len(), size);
            }
            false
        };
        let get = s.run_watched(&line, cancel, Duration::from_millis(250), &mut watch);
        let (out, remote) = tokio::join!(get, self.remote_sha256(lease, p, cancel));
        let out = out?;
        if !out.is_empty() {
            let text = out.join("\n");
            let pr = problem(&text);
            let pr = if pr == FileProblem::Other && text.contains("local") {
                // A local write failure (disk full here).
                return Err(Error::LocalFile {
                    path: part.0.display().to_string(),
                    detail: text,
                });
            } else {
                pr
            };
            return Err(Error::file(p, pr, text));
        }
        let (sha, bytes) = hash_result(hash_in_background(&part.0), &part.0).await?;
        let mut notes = Vec::new();
        let verified = match remote {
            Ok(Some(r)) if r == sha => Verified::Sha256,
            Ok(Some(r)) => {
                return Err(Error::file(
                    p,
                    FileProblem::Mismatch,
                    format!("remote SHA-256 {r}, received {sha}; the local file was not written"),
                ));
            }
            Err(Error::Cancelled) => return Err(Error::Cancelled),
            other => {
                notes.push(match other {
                    Err(e) => format!(
                        "checked by size only: the remote SHA-256 could not be computed ({e})"
                    ),
                    _ => {
                        "the host has no sha256sum, shasum or openssl: checked by size only".into()
                    }
                });
                if size.is_some_and(|n| n != bytes && n != 0) {
                    return Err(Error::file(
                        p,
                        FileProblem::Mismatch,
                        format!(
                            "{} bytes listed, {bytes} received; the local file was not written",
                            size.unwrap_or(0)
                        ),
                    ));
                }
                Verified::Size
            }
        };
        Ok(TransferOutcome {
            local_path: part.0.clone(),
            remote_path: p.to_string(),
            bytes,
            sha256: sha,
            verified,
            via: Via::Sftp,
            seconds: 0.0,
            mode: entry.map(|e| e.mode),
            atomic: true,
            notes,
        })
    }

    async fn download_exec(
        &self,
        lease: &MasterLease,
        p: &str,
        part: &LocalTemp,
        sudo: Option<&Sudo>,
        progress: Option<Progress<'_>>,
        cancel: &CancellationToken,
    ) -> Result<TransferOutcome> {
        let mut e = self.exec(lease, &Script::download(p), sudo, cancel).await?;
        let mut file = tokio::fs::File::create(&part.0)
            .await
            .map_err(|err| Error::LocalFile {
                path: part.0.display().to_string(),
                detail: err.to_string(),
            })?;
        let mut h = sha2::Sha256::new();
        let mut bytes = 0u64;
        let mut last = Instant::now();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = e.read_data(&mut buf, cancel).await?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            file.write_all(&buf[..n])
                .await
                .map_err(|err| Error::LocalFile {
                    path: part.0.display().to_string(),
                    detail: err.to_string(),
                })?;
            bytes += n as u64;
            if let Some(pr) = progress
                && last.elapsed() >= Duration::from_millis(250)
            {
                pr(bytes, None);
                last = Instant::now();
            }
        }
        file.flush().await.map_err(|err| Error::LocalFile {
            path: part.0.display().to_string(),
            detail: err.to_string(),
        })?;
        drop(file);
        let report = e.finish(cancel).await?;
        if let Some(err) = report.error(p) {
            return Err(err);
        }
        let entry = report
            .get('L')
            .and_then(|l| listing::parse(l, listing::today()));
        let sha = hex(&h.finalize());
        let remote = report.sha256();
        if report.code != 0 || entry.is_none() {
            let text = report.other.join("\n");
            return Err(Error::file(
                p,
                problem(&text),
                format!("the download did not finish: {text}"),
            ));
        }
        let size = entry.as_ref().map(|e| e.size);
        match &remote {
            Some(r) if *r != sha => {
                return Err(Error::file(
                    p,
                    FileProblem::Mismatch,
                    format!("remote SHA-256 {r}, received {sha}; the local file was not written"),
                ));
            }
            None if size.is_some_and(|n| n != bytes) => {
                return Err(Error::file(
                    p,
                    FileProblem::Mismatch,
                    format!(
                        "{} bytes listed, {bytes} received; the local file was not written",
                        size.unwrap_or(0)
                    ),
                ));
            }
            _ => {}
        }
        let mut notes = Vec::new();
        if remote.is_none() {
            notes.push("the host has no sha256sum, shasum or openssl: checked by size only".into());
        }
        Ok(TransferOutcome {
            local_path: part.0.clone(),
            remote_path: p.to_string(),
            bytes,
            sha256: sha,
            verified: if remote.is_some() {
                Verified::Sha256
            } else {
                Verified::Size
            },
            via: if sudo.is_some() { Via::Sudo } else { Via::Exec },
            seconds: 0.0,
            mode: entry.map(|e| e.mode),
            atomic: true,
            notes,
        })
    }
}

fn changed(local: &Path) -> Error {
    Error::LocalFile {
        path: local.display().to_string(),
        detail: "it changed while it was being read; try again when it is complete".into(),
    }
}
