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
use crate::transfer::exec::{DataPipe, Input, Sudo};
use crate::transfer::listing;
use crate::transfer::replace::{ReadPosition, Replace};
use crate::transfer::script::{Script, Stage, WriteArgs};
use crate::transfer::sftp::{Sftp, problem};
use crate::transfer::{
    Conn, Files, LocalTemp, Login, Progress, SudoRequest, Via, hex, path, sha256_file, tag,
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

/// Where the data goes: an exec channel (a POSIX shell hashes it on the way, in the same
/// pass), under sudo when asked, or sftp on a host with no shell (checked by size).
enum Route {
    Shell(Option<Sudo>),
    Sftp,
}

impl Files {
    async fn route(
        &self,
        conn: &Conn,
        sudo: &SudoRequest,
        host: &str,
        cancel: &CancellationToken,
    ) -> Result<Route> {
        if sudo.use_sudo || sudo.password.is_some() {
            let password = self.sudo_password(host, sudo.password.as_ref());
            return Ok(Route::Shell(Some(Sudo { password })));
        }
        match self.shell(&conn.lease, cancel).await {
            Ok(_) => Ok(Route::Shell(None)),
            Err(Error::RemoteFile {
                problem: FileProblem::NoTransport,
                ..
            }) if conn.sftp.is_some() => Ok(Route::Sftp),
            Err(e) => Err(conn.no_transport(e)),
        }
    }

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
        conn.close().await;
        result.map(|mut o| {
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
        if let Some(err) = report.error(up.remote) {
            return Err(err);
        }
        let Some(entry) = report
            .get('L')
            .and_then(|l| listing::parse(l, listing::today()))
        else {
            let text = report.other.join("\n");
            return Err(Error::file(
                up.remote,
                problem(&text),
                format!("the upload did not finish: {text}"),
            ));
        };
        let mut notes = Vec::new();
        if report.has('I', "owner") {
            notes.push("the file's owner could not be kept by a rename: it was written in place (not atomically)".into());
        }
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
        let mut conn = self.open_for_stream(&req.login, cancel).await?;
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
            let mut o = match self
                .route(&conn, &req.sudo, &req.login.host, cancel)
                .await?
            {
                Route::Shell(sudo) => {
                    self.download_exec(&conn.lease, &p, &part, sudo.as_ref(), progress, cancel)
                        .await?
                }
                Route::Sftp => {
                    let s = conn.sftp.as_mut().expect("the sftp route has sftp");
                    self.download_sftp(s, &p, &part, progress, cancel).await?
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

    /// sftp `get` on a host with no shell: checked by size against its listing.
    async fn download_sftp(
        &self,
        s: &mut Sftp,
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
        let mut watch = || {
            if let (Some(pr), Ok(m)) = (progress, std::fs::metadata(&staged)) {
                pr(m.len(), size);
            }
            false
        };
        let out = s
            .run_watched(&line, cancel, Duration::from_millis(250), &mut watch)
            .await?;
        if !out.is_empty() {
            let text = out.join("\n");
            if text.contains("local") {
                return Err(Error::LocalFile {
                    path: part.0.display().to_string(),
                    detail: text,
                });
            }
            return Err(Error::file(p, problem(&text), text));
        }
        let (sha, bytes) = hash_result(hash_in_background(&part.0), &part.0).await?;
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
        Ok(TransferOutcome {
            local_path: part.0.clone(),
            remote_path: p.to_string(),
            bytes,
            sha256: sha,
            verified: Verified::Size,
            via: Via::Sftp,
            seconds: 0.0,
            mode: entry.map(|e| e.mode),
            atomic: true,
            notes: vec![no_shell_note()],
        })
    }

    /// `tee` on the host sends the file and hashes it in the same read; we hash what arrives.
    async fn download_exec(
        &self,
        lease: &MasterLease,
        p: &str,
        part: &LocalTemp,
        sudo: Option<&Sudo>,
        progress: Option<Progress<'_>>,
        cancel: &CancellationToken,
    ) -> Result<TransferOutcome> {
        let mut e = self
            .exec(lease, &Script::download(p), Input::None, sudo, cancel)
            .await?;
        let local_err = |err: std::io::Error| Error::LocalFile {
            path: part.0.display().to_string(),
            detail: err.to_string(),
        };
        let (bytes, sha) = match e.take_data(cancel).await? {
            // The script ended before sending anything: its report says why.
            None => (0, String::new()),
            Some(data) => {
                let total = e
                    .status_now('L')
                    .and_then(|l| listing::parse(&l, listing::today()))
                    .map(|x| x.size);
                let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
                let (to, counter) = (part.0.clone(), done.clone());
                let mut task = tokio::task::spawn_blocking(move || receive(data, &to, &counter));
                let mut ticker = tokio::time::interval(Duration::from_millis(250));
                loop {
                    tokio::select! {
                        r = &mut task => break r
                            .map_err(|e| Error::io("receiving a download", std::io::Error::other(e)))?
                            .map_err(local_err)?,
                        _ = ticker.tick() => if let Some(pr) = progress {
                            pr(done.load(std::sync::atomic::Ordering::Relaxed), total);
                        },
                        _ = cancel.cancelled() => {
                            e.kill();
                            let _ = task.await;
                            return Err(Error::Cancelled);
                        }
                    }
                }
            }
        };
        let report = e.finish(cancel).await?;
        if let Some(err) = report.error(p) {
            return Err(err);
        }
        let entry = report
            .get('L')
            .and_then(|l| listing::parse(l, listing::today()));
        if report.code != 0 || entry.is_none() {
            let text = report.other.join("\n");
            return Err(Error::file(
                p,
                problem(&text),
                format!("the download did not finish: {text}"),
            ));
        }
        let remote = report.sha256();
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
            notes: if remote.is_some() {
                vec![]
            } else {
                vec![no_hash_note()]
            },
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
    e: &mut crate::transfer::exec::Exec,
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

/// Bytes per chunk a download writes and hashes; a few chunks are in flight at most.
const CHUNK: usize = 1 << 20;

/// Copies a download into `to` while another thread hashes it (the two overlap; memory
/// stays at a few chunks). Returns the length and the SHA-256.
fn receive(
    mut data: DataPipe,
    to: &Path,
    done: &std::sync::atomic::AtomicU64,
) -> std::io::Result<(u64, String)> {
    use std::io::{Read, Write};
    let mut out = std::fs::File::create(to)?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
    let hasher = std::thread::Builder::new()
        .name("download-hash".into())
        .spawn(move || {
            let mut h = sha2::Sha256::new();
            for chunk in rx {
                h.update(&chunk);
            }
            hex(&h.finalize())
        })?;
    let mut total = 0u64;
    let mut buf = std::mem::take(&mut data.head);
    let copied = (|| -> std::io::Result<()> {
        loop {
            let mut filled = buf.len();
            buf.resize(CHUNK.max(filled), 0);
            let mut eof = false;
            while filled < CHUNK {
                match data.pipe.read(&mut buf[filled..]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            buf.truncate(filled);
            if !buf.is_empty() {
                out.write_all(&buf)?;
                total += buf.len() as u64;
                done.store(total, std::sync::atomic::Ordering::Relaxed);
                if tx.send(std::mem::take(&mut buf)).is_err() {
                    return Err(std::io::Error::other("the hashing thread ended"));
                }
            }
            if eof {
                return out.flush();
            }
        }
    })();
    drop(tx);
    let sha = hasher
        .join()
        .map_err(|_| std::io::Error::other("the hashing thread panicked"))?;
    copied.map(|()| (total, sha))
}

fn no_hash_note() -> String {
    "the host has no sha256sum, shasum or openssl: checked by size only".into()
}

fn no_shell_note() -> String {
    "the host offers no shell (sftp only): sent with sftp and checked by size only".into()
}
