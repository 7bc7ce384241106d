//! upload_file: a local file (under the local root) to a remote path.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, FileProblem, Result};
use crate::session::MasterLease;
use crate::transfer::exec::{Exec, Input, Sudo};
use crate::transfer::replace::{ReadPosition, Replace};
use crate::transfer::script::{Script, Stage, WriteArgs};
use crate::transfer::stream::{
    HashTask, Route, TransferOutcome, UploadRequest, Verified, hash_in_background, hash_result,
    no_hash_note, no_shell_note,
};
use crate::transfer::{Files, Progress, Via, path, tag};

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
        let name = local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let size = std::fs::metadata(&local)
            .map_err(|e| Error::LocalFile {
                path: req.local_path.clone(),
                detail: e.to_string(),
            })?
            .len();
        // The local hash runs while we connect and send; the copy is checked against it.
        let hash = hash_in_background(&local);
        let mut conn = self.open_for_stream(&req.login, cancel).await?;
        let result = async {
            let p = self.resolve(&conn, &req.remote_path, cancel).await?;
            let route = self
                .route(&conn, &req.sudo, &req.login.host, cancel)
                .await?;
            match route {
                Route::Shell(sudo) => {
                    let up = Upload {
                        local: &local,
                        size,
                        name: &name,
                        remote: &p,
                    };
                    self.upload_exec(&conn.lease, &up, req, sudo.as_ref(), hash, progress, cancel)
                        .await
                }
                Route::Sftp => {
                    let (sha, hashed) = hash_result(hash, &local).await?;
                    if hashed != size {
                        return Err(changed(&local));
                    }
                    let s = conn.sftp.as_mut().expect("the sftp route has sftp");
                    let lease = conn.lease.clone();
                    let done = self
                        .replace_sftp(
                            s,
                            &lease,
                            &Replace {
                                local: &local,
                                size,
                                remote: &p,
                                make_dirs: req.make_dirs,
                                permissions: req.permissions,
                                into_dir: Some(&name),
                            },
                            progress,
                            cancel,
                        )
                        .await?;
                    let mut notes = done.notes;
                    notes.push(no_shell_note());
                    Ok(TransferOutcome {
                        local_path: local.clone(),
                        remote_path: done.path,
                        bytes: size,
                        sha256: sha,
                        verified: Verified::Size,
                        via: Via::Sftp,
                        seconds: 0.0,
                        mode: done.mode,
                        atomic: done.atomic,
                        notes,
                    })
                }
            }
        }
        .await;
        conn.finish(result).await.map(|mut o| {
            o.seconds = started.elapsed().as_secs_f64();
            o
        })
    }

    /// Without sudo: the file itself is ssh's stdin (nothing passes through this process)
    /// into a temporary file whose SHA-256 the host reports; the local hash runs meanwhile,
    /// and only when both agree a second step installs it. Under sudo: the local hash
    /// first, then one script checks and installs (one password prompt).
    #[allow(clippy::too_many_arguments)]
    async fn upload_exec(
        &self,
        lease: &MasterLease,
        up: &Upload<'_>,
        req: &UploadRequest,
        sudo: Option<&Sudo>,
        hash: HashTask,
        progress: Option<Progress<'_>>,
        cancel: &CancellationToken,
    ) -> Result<TransferOutcome> {
        let tag = tag();
        let args = |sha256| up.write_args(req, &tag, sha256);
        let open_local = || {
            std::fs::File::open(up.local).map_err(|err| Error::LocalFile {
                path: up.local.display().to_string(),
                detail: format!("cannot read it: {err}"),
            })
        };
        // A small file is hashed before the connection is up: one step, as under sudo.
        let pre_hashed = sudo.is_some() || hash.is_finished();
        let (report, sha, checked) = if !pre_hashed {
            let receive = Script::write(&args(None), Stage::Receive);
            let e = self
                .exec(lease, &receive, Input::File(open_local()?), None, cancel)
                .await?;
            let mut position = ReadPosition::new(e.pid(), up.local);
            let received = e
                .finish_watched(cancel, &mut || {
                    if let (Some(pr), Some(done)) = (progress, position.get()) {
                        pr(done, Some(up.size));
                    }
                })
                .await?;
            if let Some(err) = received.error(up.remote) {
                return Err(err);
            }
            let remote = received.sha256();
            let verdict = match hash_result(hash, up.local).await {
                Err(e) => Err(e),
                Ok((_, n)) if n != up.size => Err(changed(up.local)),
                Ok((sha, _)) => match &remote {
                    Some(r) if *r != sha => Err(Error::file(
                        up.remote,
                        FileProblem::Mismatch,
                        format!("local SHA-256 {sha}, remote {r}; the old file is unchanged"),
                    )),
                    _ => Ok(sha),
                },
            };
            let sha = match verdict {
                Ok(sha) => sha,
                Err(err) => {
                    let discard = Script::write(&args(None), Stage::Discard);
                    if let Ok(e) = self.exec(lease, &discard, Input::None, None, cancel).await {
                        let _ = e.finish(cancel).await;
                    }
                    return Err(err);
                }
            };
            let install = Script::write(&args(None), Stage::Install);
            let e = self
                .exec(lease, &install, Input::None, None, cancel)
                .await?;
            (e.finish(cancel).await?, sha, remote.is_some())
        } else {
            let (sha, hashed) = hash_result(hash, up.local).await?;
            if hashed != up.size {
                return Err(changed(up.local));
            }
            let script = Script::write(&args(Some(&sha)), Stage::All);
            let report = match sudo {
                // After sudo's password, the content goes through our pipe.
                Some(sudo) => {
                    let mut e = self
                        .exec(lease, &script, Input::Pipe, Some(sudo), cancel)
                        .await?;
                    let mut file = tokio::fs::File::from_std(open_local()?);
                    if let Err(err) = pipe_file(&mut e, &mut file, up, progress, cancel).await {
                        // The remote script sees a short file and removes it.
                        e.kill();
                        return Err(err);
                    }
                    e.finish(cancel).await?
                }
                None => {
                    let e = self
                        .exec(lease, &script, Input::File(open_local()?), None, cancel)
                        .await?;
                    let mut position = ReadPosition::new(e.pid(), up.local);
                    e.finish_watched(cancel, &mut || {
                        if let (Some(pr), Some(done)) = (progress, position.get()) {
                            pr(done, Some(up.size));
                        }
                    })
                    .await?
                }
            };
            let checked = report.sha256().is_some();
            (report, sha, checked)
        };
        let entry = report.entry(up.remote, "upload")?;
        let in_place = report.in_place();
        let atomic = in_place.is_none();
        let mut notes: Vec<String> = in_place.into_iter().collect();
        if !checked {
            notes.push(no_hash_note());
        }
        Ok(TransferOutcome {
            local_path: up.local.to_path_buf(),
            remote_path: entry.name,
            bytes: up.size,
            sha256: sha,
            verified: if checked {
                Verified::Sha256
            } else {
                Verified::Size
            },
            via: if sudo.is_some() { Via::Sudo } else { Via::Exec },
            seconds: 0.0,
            mode: Some(entry.mode),
            atomic,
            notes,
        })
    }
}

/// An upload's two ends.
struct Upload<'a> {
    local: &'a Path,
    size: u64,
    name: &'a str,
    remote: &'a str,
}

impl<'a> Upload<'a> {
    fn write_args(
        &self,
        req: &UploadRequest,
        tag: &'a str,
        sha256: Option<&'a str>,
    ) -> WriteArgs<'a> {
        WriteArgs {
            path: self.remote,
            size: self.size,
            permissions: req.permissions,
            append: false,
            make_dirs: req.make_dirs,
            sha256,
            into_dir: Some(self.name),
            tag,
        }
    }
}

fn changed(local: &Path) -> Error {
    Error::LocalFile {
        path: local.display().to_string(),
        detail: "it changed while it was being sent; try again when it is complete".into(),
    }
}

/// Streams a local file into the script's stdin (after sudo's password).
async fn pipe_file(
    e: &mut Exec,
    file: &mut tokio::fs::File,
    up: &Upload<'_>,
    progress: Option<Progress<'_>>,
    cancel: &CancellationToken,
) -> Result<()> {
    use tokio::io::AsyncReadExt;
    let mut sent = 0u64;
    let mut last = Instant::now();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = tokio::select! {
            r = file.read(&mut buf) => r.map_err(|err| Error::LocalFile {
                path: up.local.display().to_string(),
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
            pr(sent, Some(up.size));
            last = Instant::now();
        }
    }
}
