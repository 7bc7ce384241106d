//! download_file: a remote file to a local path (under the local root).

use std::path::Path;
use std::time::{Duration, Instant};

use sha2::Digest;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, FileProblem, Result};
use crate::session::MasterLease;
use crate::transfer::exec::{DataPipe, Input, Sudo};
use crate::transfer::listing;
use crate::transfer::script::Script;
use crate::transfer::sftp::{Sftp, problem};
use crate::transfer::stream::{
    DownloadRequest, Route, TransferOutcome, Verified, hash_in_background, hash_result,
    no_hash_note, no_shell_note,
};
use crate::transfer::{Files, LocalTemp, Progress, Via, hex, path, tag};

impl Files {
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
            let part =
                LocalTemp(dir.join(format!(".{}.mcp-{}.part", path::short_name(&name), tag())));
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
        conn.finish(result).await.map(|mut o| {
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
        let entry = s.entry(p, cancel).await?;
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
            // sftp's own words for our end ("Couldn't open local file ..."); a remote path
            // such as /usr/local/x must not make a remote error look local.
            if text.contains("local file") {
                return Err(Error::LocalFile {
                    path: part.0.display().to_string(),
                    detail: text,
                });
            }
            return Err(Error::file(p, problem(&text), text));
        }
        let (sha, bytes) = hash_result(hash_in_background(&part.0), &part.0).await?;
        if size.is_some_and(|n| n != bytes && n != 0) {
            return Err(size_mismatch(p, size.unwrap_or(0), bytes));
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

    /// The host sends the file and hashes it with a second read beside the transfer; we hash
    /// what arrives.
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
        let entry = report.entry(p, "download")?;
        let remote = report.sha256();
        match &remote {
            Some(r) if *r != sha => {
                return Err(Error::file(
                    p,
                    FileProblem::Mismatch,
                    format!("remote SHA-256 {r}, received {sha}; the local file was not written"),
                ));
            }
            None if entry.size != bytes => return Err(size_mismatch(p, entry.size, bytes)),
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
            mode: Some(entry.mode),
            atomic: true,
            notes: if remote.is_some() {
                vec![]
            } else {
                vec![no_hash_note()]
            },
        })
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
    let mut flushed = 0u64;
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
                if total - flushed >= WRITE_OUT {
                    start_writeback(&out, flushed, total - flushed);
                    flushed = total;
                }
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

/// Bytes a download writes between two starts of writeback.
const WRITE_OUT: u64 = 8 << 20;

/// Starts writing `len` bytes of `file` from `offset` out to disk, without waiting. Renaming
/// the finished file over an old one makes ext4 write all of it out first (about 30 ms for
/// 50 MB, after the transfer); started as it arrives, that work overlaps the transfer.
#[cfg(target_os = "linux")]
fn start_writeback(file: &std::fs::File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: sync_file_range(2) on a descriptor we own; it only schedules I/O.
    unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as _,
            len as _,
            libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &std::fs::File, _: u64, _: u64) {}

fn size_mismatch(p: &str, listed: u64, received: u64) -> Error {
    Error::file(
        p,
        FileProblem::Mismatch,
        format!("{listed} bytes listed, {received} received; the local file was not written"),
    )
}
