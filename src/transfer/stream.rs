//! upload_file and download_file: files of any size, streamed (memory stays bounded), each
//! landing under a temporary name and renamed into place only after its size and SHA-256
//! match the source's ([`upload`](super::upload), [`download`](super::download)). This
//! file holds what both share: requests, outcomes, the route the data takes.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, FileProblem, Result};
use crate::ssh::shown::Shown;
use crate::transfer::ShownAs;
use crate::transfer::exec::Sudo;
use crate::transfer::{Conn, Files, Login, SudoRequest, Via, sha256_file};

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

pub(crate) type HashTask = tokio::task::JoinHandle<std::io::Result<(String, u64)>>;

pub(crate) fn hash_in_background(p: &Path) -> HashTask {
    let p = p.to_path_buf();
    tokio::task::spawn_blocking(move || sha256_file(&p))
}

pub(crate) async fn hash_result(task: HashTask, local: &Path) -> Result<(String, u64)> {
    task.await
        .map_err(|e| Error::io("hashing the local file", std::io::Error::other(e)))?
        .map_err(|e| Error::LocalFile {
            path: local.display().to_string(),
            detail: format!("cannot read it: {e}"),
        })
}

/// Where the data goes: an exec channel (a POSIX shell hashes it on the way, in the same
/// pass), under sudo when asked, or sftp on a host with no shell (checked by size).
pub(crate) enum Route {
    Shell(Option<Sudo>),
    Sftp,
}

impl Files {
    pub(crate) async fn route(
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
}

pub(crate) fn no_hash_note() -> String {
    "the host has no sha256sum, shasum or openssl: checked by size only".into()
}

pub(crate) fn no_shell_note() -> String {
    "the host offers no shell (sftp only): sent with sftp and checked by size only".into()
}

impl ShownAs for TransferOutcome {
    fn shown_as(mut self, shown: &Shown) -> Self {
        self.remote_path = shown.scrub(&self.remote_path);
        self.notes = self.notes.iter().map(|n| shown.scrub(n)).collect();
        self
    }
}
