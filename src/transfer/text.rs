//! read_file and write_file: bounded reads (with an offset to page through large files) and
//! writes that replace a file atomically or append to it.

use std::io::{Read, Seek, SeekFrom};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::error::{Error, FileProblem, Result};
use crate::session::MasterLease;
use crate::ssh::shown::Shown;
use crate::transfer::ShownAs;
use crate::transfer::codec::utf8_cut;
use crate::transfer::exec::{Input, Sudo};
use crate::transfer::replace::Replace;
use crate::transfer::script::{Script, Stage, WriteArgs};
use crate::transfer::sftp::{Sftp, problem};
use crate::transfer::{Files, Login, MAX_TEXT_BYTES, SudoRequest, Via, path, sha256};

#[derive(Debug, Clone, Default)]
pub struct ReadRequest {
    pub login: Login,
    pub path: String,
    pub offset: u64,
    /// Bytes to return at most (capped at [`MAX_TEXT_BYTES`]).
    pub limit: u64,
    pub sudo: SudoRequest,
    /// Cut a truncated read on a UTF-8 character boundary.
    pub utf8: bool,
}

#[derive(Debug, Clone)]
pub struct ReadOutcome {
    /// The path as resolved (`~` expanded).
    pub path: String,
    pub content: Vec<u8>,
    pub offset: u64,
    /// The file's size, when the server reports one (special files report 0).
    pub size: Option<u64>,
    pub truncated: bool,
    /// Where the rest starts, when truncated.
    pub next_offset: Option<u64>,
    pub mode: Option<String>,
    pub via: Via,
    /// SHA-256 of `content`.
    pub sha256: String,
}

#[derive(Debug, Clone, Default)]
pub struct WriteRequest {
    pub login: Login,
    pub path: String,
    pub content: Vec<u8>,
    pub append: bool,
    pub make_dirs: bool,
    pub permissions: Option<u32>,
    pub sudo: SudoRequest,
}

#[derive(Debug, Clone)]
pub struct WriteOutcome {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    pub mode: Option<String>,
    pub via: Via,
    /// Replaced through a temporary file and a rename (false: appended, or in place).
    pub atomic: bool,
    /// sudo did not ask for a password.
    pub passwordless: bool,
    pub notes: Vec<String>,
}

/// What one read produced, before the outcome is assembled.
struct Raw {
    /// The first `limit + 1` bytes from the offset at most (one more tells "there is more").
    content: Vec<u8>,
    size: Option<u64>,
    mode: Option<String>,
}

impl Files {
    pub async fn read(&self, req: &ReadRequest, cancel: &CancellationToken) -> Result<ReadOutcome> {
        path::check("remote_path", &req.path)?;
        let limit = req.limit.min(MAX_TEXT_BYTES);
        let mut conn = self.open(&req.login, cancel).await?;
        let result = async {
            let p = self.resolve(&conn, &req.path, cancel).await?;
            let first = match conn.sftp.as_mut() {
                Some(s) => (
                    self.read_sftp(s, &p, req.offset, limit, cancel).await,
                    Via::Sftp,
                ),
                None => (
                    self.read_exec(&conn.lease, &p, req.offset, limit, None, cancel)
                        .await
                        .map_err(|e| conn.no_transport(e)),
                    Via::Exec,
                ),
            };
            let password = self.sudo_password(&req.login.host, req.sudo.password.as_ref());
            let (raw, via) = match first {
                (
                    Err(Error::RemoteFile {
                        problem: FileProblem::PermissionDenied,
                        ..
                    }),
                    _,
                ) if req.sudo.use_sudo || password.is_some() => {
                    let sudo = Sudo { password };
                    match self
                        .read_exec(&conn.lease, &p, req.offset, limit, Some(&sudo), cancel)
                        .await
                    {
                        Ok(raw) => (raw, Via::Sudo),
                        Err(Error::Cancelled) => return Err(Error::Cancelled),
                        Err(e) => return Err(Error::file(&p, FileProblem::Sudo, sudo_detail(e))),
                    }
                }
                (r, via) => (r?, via),
            };
            Ok(outcome(p, raw, req.offset, limit, req.utf8, via))
        }
        .await;
        conn.finish(result).await
    }

    async fn read_sftp(
        &self,
        s: &mut Sftp,
        p: &str,
        offset: u64,
        limit: u64,
        cancel: &CancellationToken,
    ) -> Result<Raw> {
        match s.is_dir(p, cancel).await? {
            Some(true) => return Err(Error::file(p, FileProblem::IsADirectory, "")),
            None => return Err(Error::file(p, FileProblem::NotFound, "")),
            Some(false) => {}
        }
        let entry = s.entry(p, cancel).await?;
        let size = entry.as_ref().map(|e| e.size);
        let mode = entry.map(|e| e.mode);
        if offset > 0 && size.is_some_and(|n| offset >= n) {
            return Ok(Raw {
                content: Vec::new(),
                size,
                mode,
            });
        }
        let tmp = self.staging("r");
        // `reget` resumes after the local file's length: a sparse file of `offset` bytes
        // makes sftp start there.
        let f = std::fs::File::create(&tmp.0)
            .map_err(|e| Error::io("creating a staging file for read_file", e))?;
        f.set_len(offset)
            .map_err(|e| Error::io("creating a staging file for read_file", e))?;
        drop(f);
        let local = tmp.0.to_string_lossy().into_owned();
        let command = if offset > 0 { "reget" } else { "get" };
        let line = path::batch_line(command, &[p, &local])?;
        // Stop once there is one byte more than the limit: a huge file is not fetched whole.
        let enough = offset + limit + 1;
        let staged = tmp.0.clone();
        let out = s
            .run_watched(&line, cancel, Duration::from_millis(10), &mut || {
                std::fs::metadata(&staged).is_ok_and(|m| m.len() >= enough)
            })
            .await?;
        let have = std::fs::metadata(&tmp.0).map(|m| m.len()).unwrap_or(0);
        if !out.is_empty() && have < enough {
            let text = out.join("\n");
            return Err(Error::file(p, problem(&text), text));
        }
        let mut content = Vec::new();
        let mut f = std::fs::File::open(&tmp.0)
            .map_err(|e| Error::io("reading the staging file of read_file", e))?;
        f.seek(SeekFrom::Start(offset))
            .and_then(|_| f.take(limit + 1).read_to_end(&mut content))
            .map_err(|e| Error::io("reading the staging file of read_file", e))?;
        Ok(Raw {
            content,
            size,
            mode,
        })
    }

    async fn read_exec(
        &self,
        lease: &MasterLease,
        p: &str,
        offset: u64,
        limit: u64,
        sudo: Option<&Sudo>,
        cancel: &CancellationToken,
    ) -> Result<Raw> {
        let mut e = self
            .exec(
                lease,
                &Script::read(p, offset, limit + 1),
                Input::None,
                sudo,
                cancel,
            )
            .await?;
        let mut content = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = e.read_data(&mut buf, cancel).await?;
            if n == 0 {
                break;
            }
            content.extend_from_slice(&buf[..n]);
            if content.len() as u64 > limit {
                break;
            }
        }
        let entry = e.finish(cancel).await?.entry(p, "read")?;
        Ok(Raw {
            content,
            size: Some(entry.size),
            mode: Some(entry.mode),
        })
    }

    pub async fn write(
        &self,
        req: &WriteRequest,
        cancel: &CancellationToken,
    ) -> Result<WriteOutcome> {
        path::check("remote_path", &req.path)?;
        let size = req.content.len() as u64;
        if size > MAX_TEXT_BYTES {
            return Err(Error::invalid(
                "content",
                format!("{size} bytes is over the {MAX_TEXT_BYTES}-byte limit; use upload_file"),
            ));
        }
        let sha = sha256(&req.content);
        let under_sudo = req.sudo.use_sudo || req.sudo.password.is_some();
        // sudo writes go through the exec channel: no sftp session is started for them.
        let mut conn = if under_sudo {
            self.open_for_stream(&req.login, cancel).await?
        } else {
            self.open(&req.login, cancel).await?
        };
        let result = async {
            let p = self.resolve(&conn, &req.path, cancel).await?;
            if under_sudo {
                let password = self.sudo_password(&req.login.host, req.sudo.password.as_ref());
                let sudo = Sudo { password };
                return self
                    .write_exec(&conn.lease, &p, req, &sha, Some(&sudo), cancel)
                    .await
                    .map_err(|e| match e {
                        Error::Cancelled => Error::Cancelled,
                        Error::RemoteFile {
                            problem: FileProblem::Sudo,
                            ..
                        } => e,
                        e => Error::file(&p, FileProblem::Sudo, sudo_detail(e)),
                    });
            }
            match conn.sftp.as_mut() {
                Some(s) => self.write_sftp(s, &conn.lease, &p, req, &sha, cancel).await,
                None => {
                    let mut o = self
                        .write_exec(&conn.lease, &p, req, &sha, None, cancel)
                        .await
                        .map_err(|e| conn.no_transport(e))?;
                    if let Some(why) = &conn.no_sftp {
                        o.notes.push(format!("written over an exec channel: {why}"));
                    }
                    Ok(o)
                }
            }
        }
        .await;
        conn.finish(result).await
    }

    async fn write_sftp(
        &self,
        s: &mut Sftp,
        lease: &MasterLease,
        p: &str,
        req: &WriteRequest,
        sha: &str,
        cancel: &CancellationToken,
    ) -> Result<WriteOutcome> {
        let size = req.content.len() as u64;
        if req.append {
            return self.append_sftp(s, p, req, sha, cancel).await;
        }
        let staged = self.staging("w");
        write_staging(&staged.0, 0, &req.content)?;
        let done = self
            .replace_sftp(
                s,
                lease,
                &Replace {
                    local: &staged.0,
                    size,
                    remote: p,
                    make_dirs: req.make_dirs,
                    permissions: req.permissions,
                    into_dir: None,
                },
                None,
                cancel,
            )
            .await?;
        Ok(WriteOutcome {
            path: done.path,
            bytes: size,
            sha256: sha.to_string(),
            mode: done.mode,
            via: Via::Sftp,
            atomic: done.atomic,
            passwordless: false,
            notes: done.notes,
        })
    }

    /// Appends with sftp's resume (`reput`): the staging file holds a hole the size of the
    /// remote file, then the new content, and sftp sends what lies beyond the remote size
    /// (opened for appending on the server).
    async fn append_sftp(
        &self,
        s: &mut Sftp,
        p: &str,
        req: &WriteRequest,
        sha: &str,
        cancel: &CancellationToken,
    ) -> Result<WriteOutcome> {
        let kind = s.is_dir(p, cancel).await?;
        if kind == Some(true) {
            return Err(Error::file(p, FileProblem::IsADirectory, ""));
        }
        let (dir, _) = path::split(p);
        if req.make_dirs {
            // Only parents are made: what `p` is does not change.
            self.make_dirs_sftp(s, &dir, cancel).await?;
        }
        let existing = kind == Some(false);
        let old = if existing {
            s.entry(p, cancel).await?.map_or(0, |e| e.size)
        } else {
            0
        };
        let staged = self.staging("a");
        write_staging(&staged.0, old, &req.content)?;
        let local = staged.0.to_string_lossy().into_owned();
        if !req.content.is_empty() || !existing {
            let command = if old > 0 { "reput" } else { "put" };
            let out = s
                .run(&path::batch_line(command, &[&local, p])?, cancel)
                .await?;
            if !out.is_empty() {
                let text = out.join("\n");
                let pr = match problem(&text) {
                    FileProblem::NotFound => FileProblem::ParentMissing,
                    other => other,
                };
                return Err(Error::file(p, pr, text));
            }
        }
        if let Some(m) = req.permissions {
            s.quiet(&format!("chmod {m:o}"), &[p], p, cancel).await?;
        }
        let mode = s.entry(p, cancel).await.ok().flatten().map(|e| e.mode);
        Ok(WriteOutcome {
            path: p.to_string(),
            bytes: req.content.len() as u64,
            sha256: sha.to_string(),
            mode,
            via: Via::Sftp,
            atomic: false,
            passwordless: false,
            notes: vec![],
        })
    }

    async fn write_exec(
        &self,
        lease: &MasterLease,
        p: &str,
        req: &WriteRequest,
        sha: &str,
        sudo: Option<&Sudo>,
        cancel: &CancellationToken,
    ) -> Result<WriteOutcome> {
        use tokio::io::AsyncWriteExt;
        let tag = crate::transfer::tag();
        let script = Script::write(
            &WriteArgs {
                path: p,
                size: req.content.len() as u64,
                permissions: req.permissions,
                append: req.append,
                make_dirs: req.make_dirs,
                sha256: Some(sha),
                into_dir: None,
                tag: &tag,
            },
            Stage::All,
        );
        let mut e = self.exec(lease, &script, Input::Pipe, sudo, cancel).await?;
        let passwordless = sudo.is_some() && !e.sudo_prompted;
        if let Some(stdin) = e.stdin() {
            // A script that failed early has closed its stdin; its report says why.
            let _ = stdin.write_all(&req.content).await;
        }
        let report = e.finish(cancel).await?;
        let entry = report.entry(p, "write")?;
        let in_place = report.in_place();
        let atomic = !req.append && in_place.is_none();
        let mut notes: Vec<String> = in_place.into_iter().collect();
        if report.has('W', "nomode") {
            notes
                .push("the host's stat has no -c: the old file's mode was not carried over".into());
        }
        Ok(WriteOutcome {
            path: entry.name,
            bytes: req.content.len() as u64,
            sha256: sha.to_string(),
            mode: Some(entry.mode),
            via: if sudo.is_some() { Via::Sudo } else { Via::Exec },
            atomic,
            passwordless,
            notes,
        })
    }
}

/// A failure under sudo, as the text after "sudo failed: ".
fn sudo_detail(e: Error) -> String {
    match e {
        Error::RemoteFile {
            problem, detail, ..
        } if detail.is_empty() => problem.to_string(),
        Error::RemoteFile {
            problem, detail, ..
        } => format!("{problem}: {detail}"),
        e => e.to_string(),
    }
}

/// Writes `content` at `offset` of a new staging file (0600; a hole before it).
fn write_staging(p: &std::path::Path, offset: u64, content: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(p)
        .map_err(|e| Error::io("creating a staging file", e))?;
    f.set_len(offset)
        .and_then(|_| f.seek(SeekFrom::Start(offset)).map(|_| ()))
        .and_then(|_| f.write_all(content))
        .map_err(|e| Error::io("writing a staging file", e))
}

fn outcome(p: String, raw: Raw, offset: u64, limit: u64, utf8: bool, via: Via) -> ReadOutcome {
    let mut content = raw.content;
    let more = content.len() as u64 > limit || raw.size.is_some_and(|n| n > offset + limit);
    if content.len() as u64 > limit {
        let cut = if utf8 {
            utf8_cut(&content, limit as usize)
        } else {
            limit as usize
        };
        content.truncate(cut);
    }
    let next = offset + content.len() as u64;
    ReadOutcome {
        path: p,
        sha256: sha256(&content),
        offset,
        size: raw.size,
        truncated: more,
        next_offset: more.then_some(next),
        mode: raw.mode,
        via,
        content,
    }
}

impl ShownAs for ReadOutcome {
    fn shown_as(mut self, shown: &Shown) -> Self {
        self.path = shown.scrub(&self.path);
        self
    }
}

impl ShownAs for WriteOutcome {
    fn shown_as(mut self, shown: &Shown) -> Self {
        self.path = shown.scrub(&self.path);
        self.notes = self.notes.iter().map(|n| shown.scrub(n)).collect();
        self
    }
}
