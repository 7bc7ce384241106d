//! list_directory: a directory's entries (or one file's) with stat-like detail, in pages.

use tokio_util::sync::CancellationToken;

use crate::error::{Error, FileProblem, Result};
use crate::ssh::shown::Shown;
use crate::transfer::ShownAs;
use crate::transfer::exec::Input;
use crate::transfer::listing::{self, Entry, Kind};
use crate::transfer::script::Script;
use crate::transfer::sftp::{Listed, MAX_ENTRIES, problem};
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
    /// Set when the directory has more entries than a listing keeps: the offset from which
    /// nothing can be listed here.
    pub listed_up_to: Option<usize>,
    pub via: Via,
}

impl Files {
    pub async fn list(&self, req: &ListRequest, cancel: &CancellationToken) -> Result<Listing> {
        path::check("remote_path", &req.path)?;
        let mut conn = self.open(&req.login, cancel).await?;
        let result = async {
            let p = self.resolve(&conn, &req.path, cancel).await?;
            let (is_dir, listed, via) = match conn.sftp.as_mut() {
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
            let Listed {
                mut entries,
                unlisted,
            } = listed;
            if !is_dir {
                for e in &mut entries {
                    e.name = path::split(&p).1;
                }
            }
            let kept = entries.len();
            let total = kept + unlisted;
            let start = req.offset.min(kept);
            let end = start.saturating_add(req.limit).min(kept);
            let page: Vec<Entry> = entries.drain(start..end).collect();
            Ok(Listing {
                path: p,
                is_dir,
                entries: page,
                total,
                offset: start,
                next_offset: (end < kept).then_some(end),
                listed_up_to: (unlisted > 0).then_some(kept),
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
    ) -> Result<(bool, Listed)> {
        let mut e = self
            .exec(lease, &Script::list(p), Input::None, None, cancel)
            .await?;
        // Parsed as it arrives: a huge directory costs at most MAX_ENTRIES entries of memory.
        let mut parsed = ExecListing::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = e.read_data(&mut buf, cancel).await?;
            if n == 0 {
                break;
            }
            parsed.feed(&buf[..n]);
        }
        let report = e.finish(cancel).await?;
        if let Some(err) = report.error(p) {
            return Err(err);
        }
        let is_dir = report.has('T', "dir");
        let listed = parsed.finish();
        if listed.entries.is_empty() && report.code != 0 {
            let text = report.other.join("\n");
            return Err(Error::file(p, problem(&text), text));
        }
        Ok((is_dir, listed))
    }
}

/// `ls -la` output from the exec route, line by line.
struct ExecListing {
    today: listing::Today,
    partial: Vec<u8>,
    listed: Listed,
}

impl ExecListing {
    fn new() -> Self {
        ExecListing {
            today: listing::today(),
            partial: Vec::new(),
            listed: Listed {
                entries: Vec::new(),
                unlisted: 0,
            },
        }
    }

    fn feed(&mut self, mut bytes: &[u8]) {
        while let Some(i) = bytes.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&bytes[..i]);
            let line = std::mem::take(&mut self.partial);
            self.line(&String::from_utf8_lossy(&line));
            bytes = &bytes[i + 1..];
        }
        self.partial.extend_from_slice(bytes);
    }

    fn finish(mut self) -> Listed {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&String::from_utf8_lossy(&line));
        }
        self.listed
    }

    fn line(&mut self, line: &str) {
        let l = &mut self.listed;
        match listing::parse(line, self.today) {
            Some(_) if l.entries.len() >= MAX_ENTRIES => l.unlisted += 1,
            Some(mut e) => {
                if e.kind == Kind::Symlink
                    && let Some((name, _target)) = e.name.split_once(" -> ")
                {
                    e.name = name.to_string();
                }
                if e.name != "." && e.name != ".." {
                    l.entries.push(e);
                }
            }
            None if line.starts_with("total ") || l.unlisted > 0 => {}
            // A name holding a newline continues on the next line.
            None => {
                if let Some(last) = l.entries.last_mut() {
                    last.name.push('\n');
                    last.name.push_str(line);
                }
            }
        }
    }
}

impl ShownAs for Listing {
    fn shown_as(mut self, shown: &Shown) -> Self {
        self.path = shown.scrub(&self.path);
        self
    }
}
