//! list_directory: a directory's entries (or one file's) with stat-like detail, in pages.

use tokio_util::sync::CancellationToken;

use crate::error::{Error, FileProblem, Result};
use crate::ssh::shown::Shown;
use crate::transfer::ShownAs;
use crate::transfer::exec::Input;
use crate::transfer::listing::{self, Entry, Kind};
use crate::transfer::script::Script;
use crate::transfer::sftp::problem;
use crate::transfer::{Files, Login, Via, path};

#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub login: Login,
    pub path: String,
    pub offset: usize,
    pub limit: usize,
}

#[derive(Debug, Clone)]
pub struct Listing {
    pub path: String,
    /// False when `path` is a file (the listing is that one entry).
    pub is_dir: bool,
    pub entries: Vec<Entry>,
    /// Entries in the whole directory (`.` and `..` not counted).
    pub total: usize,
    pub offset: usize,
    /// Where the next page starts, when there is one.
    pub next_offset: Option<usize>,
    pub via: Via,
}

impl Files {
    pub async fn list(&self, req: &ListRequest, cancel: &CancellationToken) -> Result<Listing> {
        path::check("remote_path", &req.path)?;
        let mut conn = self.open(&req.login, cancel).await?;
        let result = async {
            let p = self.resolve(&conn, &req.path, cancel).await?;
            let (is_dir, mut entries, via) = match conn.sftp.as_mut() {
                Some(s) => match s.is_dir(&p, cancel).await? {
                    None => return Err(Error::file(&p, FileProblem::NotFound, "")),
                    Some(d) => (d, s.list(&p, cancel).await?, Via::Sftp),
                },
                None => {
                    let (d, e) = self
                        .list_exec(&conn.lease, &p, cancel)
                        .await
                        .map_err(|e| conn.no_transport(e))?;
                    (d, e, Via::Exec)
                }
            };
            if !is_dir {
                for e in &mut entries {
                    e.name = path::split(&p).1;
                }
            }
            let total = entries.len();
            let start = req.offset.min(total);
            let end = start.saturating_add(req.limit).min(total);
            let page: Vec<Entry> = entries.drain(start..end).collect();
            Ok(Listing {
                path: p,
                is_dir,
                entries: page,
                total,
                offset: start,
                next_offset: (end < total).then_some(end),
                via,
            })
        }
        .await;
        conn.finish(result).await
    }

    async fn list_exec(
        &self,
        lease: &crate::session::MasterLease,
        p: &str,
        cancel: &CancellationToken,
    ) -> Result<(bool, Vec<Entry>)> {
        let mut e = self
            .exec(lease, &Script::list(p), Input::None, None, cancel)
            .await?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = e.read_data(&mut buf, cancel).await?;
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        let report = e.finish(cancel).await?;
        if let Some(err) = report.error(p) {
            return Err(err);
        }
        let is_dir = report.has('T', "dir");
        let today = listing::today();
        let mut entries = Vec::new();
        for line in String::from_utf8_lossy(&out).lines() {
            match listing::parse(line, today) {
                Some(mut e) => {
                    if e.kind == Kind::Symlink
                        && let Some((name, _target)) = e.name.split_once(" -> ")
                    {
                        e.name = name.to_string();
                    }
                    if e.name != "." && e.name != ".." {
                        entries.push(e);
                    }
                }
                None if line.starts_with("total ") => {}
                None => {
                    if let Some(last) = entries.last_mut() {
                        last.name.push('\n');
                        last.name.push_str(line);
                    }
                }
            }
        }
        if entries.is_empty() && report.code != 0 {
            let text = report.other.join("\n");
            return Err(Error::file(p, problem(&text), text));
        }
        Ok((is_dir, entries))
    }
}

impl ShownAs for Listing {
    fn shown_as(mut self, shown: &Shown) -> Self {
        self.path = shown.scrub(&self.path);
        self
    }
}
