//! File tools: read_file and write_file (the Python tool's parameters and messages), streamed
//! upload_file and download_file, and list_directory. The work happens in [`crate::transfer`];
//! each tool parses its parameters, calls the engine once, and formats the outcome.

use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, ProgressNotificationParam, RequestMetaObject};
use rmcp::{Peer, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, FileProblem};
use crate::mcp::commands::Login;
use crate::mcp::params::{opt_bool, opt_string, opt_u64};
use crate::mcp::{SshServer, result, tool_error};
use crate::secret::Secret;
use crate::transfer::codec::{self, Codec, OnError};
use crate::transfer::list::ListRequest;
use crate::transfer::stream::{DownloadRequest, TransferOutcome, UploadRequest, Verified};
use crate::transfer::text::{ReadRequest, WriteRequest};
use crate::transfer::{self, Entry, MAX_TEXT_BYTES, SudoRequest, Via};

/// Entries per list_directory page unless `limit` says otherwise, and the most it may say.
const LIST_PAGE: u64 = 200;
const LIST_MAX: u64 = 1000;

fn default_utf8() -> Option<String> {
    Some("utf-8".into())
}
fn default_replace() -> Option<String> {
    Some("replace".into())
}
fn default_strict() -> Option<String> {
    Some("strict".into())
}
fn default_page() -> Option<u64> {
    Some(LIST_PAGE)
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReadFileParams {
    /// Host, as in execute_command.
    pub host: String,
    /// Remote path (~ = home).
    pub remote_path: String,
    #[serde(flatten)]
    pub login: Login,
    /// utf-8, ascii or latin-1.
    #[serde(default, deserialize_with = "opt_string")]
    #[schemars(default = "default_utf8")]
    pub encoding: Option<String>,
    /// strict, replace, ignore or backslashreplace.
    #[serde(default, deserialize_with = "opt_string")]
    #[schemars(default = "default_replace")]
    pub errors: Option<String>,
    /// Byte limit (max 2 MiB).
    #[serde(default, deserialize_with = "opt_u64")]
    pub max_bytes: Option<u64>,
    /// Byte offset to start at.
    #[serde(default, deserialize_with = "opt_u64")]
    pub offset: Option<u64>,
    /// sudo password (retries a denied read).
    #[serde(default, deserialize_with = "opt_string")]
    pub sudo_password: Option<String>,
    /// Retry a denied read with sudo.
    #[serde(default, deserialize_with = "opt_bool")]
    pub use_sudo: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct WriteFileParams {
    /// Host, as in execute_command.
    pub host: String,
    /// Remote path (~ = home).
    pub remote_path: String,
    /// Text to write.
    pub content: String,
    #[serde(flatten)]
    pub login: Login,
    /// utf-8, ascii or latin-1.
    #[serde(default, deserialize_with = "opt_string")]
    #[schemars(default = "default_utf8")]
    pub encoding: Option<String>,
    /// strict, replace, ignore or backslashreplace.
    #[serde(default, deserialize_with = "opt_string")]
    #[schemars(default = "default_strict")]
    pub errors: Option<String>,
    /// Add to the end.
    #[serde(default, deserialize_with = "opt_bool")]
    pub append: Option<bool>,
    /// Create missing parents.
    #[serde(default, deserialize_with = "opt_bool")]
    pub make_dirs: Option<bool>,
    /// Mode, decimal (420 = 0644).
    #[serde(default, deserialize_with = "opt_u64")]
    pub permissions: Option<u64>,
    /// Byte limit (max 2 MiB).
    #[serde(default, deserialize_with = "opt_u64")]
    pub max_bytes: Option<u64>,
    /// sudo password.
    #[serde(default, deserialize_with = "opt_string")]
    pub sudo_password: Option<String>,
    /// Write with sudo.
    #[serde(default, deserialize_with = "opt_bool")]
    pub use_sudo: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UploadParams {
    /// Host, as in execute_command.
    pub host: String,
    /// Local file (under the local root).
    pub local_path: String,
    /// Remote file or directory (~ = home).
    pub remote_path: String,
    #[serde(flatten)]
    pub login: Login,
    /// Create missing parents.
    #[serde(default, deserialize_with = "opt_bool")]
    pub make_dirs: Option<bool>,
    /// Mode, decimal (420 = 0644).
    #[serde(default, deserialize_with = "opt_u64")]
    pub permissions: Option<u64>,
    #[serde(flatten)]
    pub sudo: SudoParams,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DownloadParams {
    /// Host, as in execute_command.
    pub host: String,
    /// Remote file (~ = home).
    pub remote_path: String,
    /// Local file or directory (under the local root).
    pub local_path: String,
    #[serde(flatten)]
    pub login: Login,
    #[serde(flatten)]
    pub sudo: SudoParams,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SudoParams {
    /// sudo password.
    #[serde(default, deserialize_with = "opt_string")]
    pub sudo_password: Option<String>,
    /// Use sudo.
    #[serde(default, deserialize_with = "opt_bool")]
    pub use_sudo: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListParams {
    /// Host, as in execute_command.
    pub host: String,
    /// Directory or file (~ = home).
    pub remote_path: String,
    #[serde(flatten)]
    pub login: Login,
    /// Entries to skip.
    #[serde(default, deserialize_with = "opt_u64")]
    pub offset: Option<u64>,
    /// Page size (max 1000).
    #[serde(default, deserialize_with = "opt_u64")]
    #[schemars(default = "default_page")]
    pub limit: Option<u64>,
}

// Output types: no doc comments, they would only lengthen tools/list.

#[derive(Debug, Serialize, JsonSchema)]
pub struct FileRead {
    pub path: String,
    pub bytes: u64,
    pub size: Option<u64>,
    pub offset: u64,
    pub truncated: bool,
    pub next_offset: Option<u64>,
    pub sha256: String,
    pub mode: Option<String>,
    pub via: Via,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FileWritten {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    pub mode: Option<String>,
    pub via: Via,
    pub atomic: bool,
    pub appended: bool,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Transferred {
    pub local_path: String,
    pub remote_path: String,
    pub bytes: u64,
    pub sha256: String,
    pub verified: Verified,
    pub via: Via,
    pub seconds: f64,
    pub mode: Option<String>,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DirListing {
    pub path: String,
    pub total: usize,
    pub offset: usize,
    pub next_offset: Option<usize>,
    pub entries: Vec<Entry>,
}

impl Login {
    fn to_transfer(&self, host: &str) -> transfer::Login {
        transfer::Login {
            host: host.to_string(),
            username: self.username.clone(),
            password: self.password.clone().and_then(Secret::new),
            key_filename: self.key_filename.clone(),
            port: self.port,
        }
    }
}

fn sudo(use_sudo: Option<bool>, password: Option<String>) -> SudoRequest {
    SudoRequest {
        use_sudo: use_sudo.unwrap_or(false),
        password: password.and_then(Secret::new),
    }
}

/// The Python tool's result shape: `Exit Status: N`, then labelled sections.
fn python_text(status: i32, sections: &[(&str, &str)]) -> String {
    let mut t = format!("Exit Status: {status}\n\n");
    for (label, body) in sections {
        if !body.is_empty() {
            t.push_str(&format!("{label}:\n{body}\n"));
        }
    }
    t
}

/// A failed read_file/write_file: the Python text, as a tool error.
fn python_error(message: &str) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(python_text(
        1,
        &[("STDERR", message)],
    ))])
}

/// Connection and parameter errors read like every other tool's; file errors like Python's.
fn read_error(e: &Error, given: &str) -> CallToolResult {
    let msg = match e {
        Error::InvalidInput { what: "remote_path", reason } if reason == "it is empty" => {
            "Remote path must be provided".to_string()
        }
        Error::RemoteFile { problem, path, detail } => match problem {
            FileProblem::NotFound => format!("Remote file not found: {given}"),
            FileProblem::IsADirectory => format!("Remote path is a directory: {path}"),
            FileProblem::PermissionDenied => "Permission denied reading file. Set use_sudo=True or provide sudo_password to retry with sudo.".into(),
            FileProblem::Sudo => format!("Permission denied and sudo failed: {detail}"),
            _ => format!("Error reading remote file: {e}"),
        },
        _ => return tool_error(e),
    };
    python_error(&msg)
}

fn write_error(e: &Error, given: &str) -> CallToolResult {
    let msg = match e {
        Error::InvalidInput { what: "remote_path", reason } if reason == "it is empty" => {
            "Remote path must be provided".to_string()
        }
        Error::RemoteFile { problem, path, detail } => match problem {
            FileProblem::NotFound | FileProblem::ParentMissing => {
                format!("Remote path not found: {given} (make_dirs=true creates missing directories)")
            }
            FileProblem::IsADirectory => format!("Remote path is a directory: {path}"),
            FileProblem::PermissionDenied => "Permission denied writing file. Set use_sudo=True or provide sudo_password to retry with sudo.".into(),
            FileProblem::MakeDirs => format!("Failed to create directories: {path}: {detail}"),
            FileProblem::Sudo => format!("Failed to write file with sudo: {detail}"),
            _ => format!("Error writing remote file: {e}"),
        },
        _ => return tool_error(e),
    };
    python_error(&msg)
}

fn codecs(
    encoding: Option<&str>,
    errors: Option<&str>,
    default_errors: &str,
) -> Result<(Codec, OnError), CallToolResult> {
    let codec = Codec::parse(encoding.unwrap_or("utf-8"))
        .map_err(|e| tool_error(&Error::invalid("encoding", e)))?;
    let on_error = OnError::parse(errors.unwrap_or(default_errors))
        .map_err(|e| tool_error(&Error::invalid("errors", e)))?;
    Ok((codec, on_error))
}

fn mode_decimal(permissions: Option<u64>) -> Result<Option<u32>, CallToolResult> {
    match permissions {
        None => Ok(None),
        Some(p) if p <= 0o7777 => Ok(Some(p as u32)),
        Some(p) => Err(tool_error(&Error::invalid(
            "permissions",
            format!("{p} is not a file mode; give it in decimal (420 = 0644, 493 = 0755)"),
        ))),
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn transferred_text(verb: &str, o: &TransferOutcome, dest: &str) -> String {
    let rate = if o.seconds > 0.0 {
        format!(", {:.0} MB/s", o.bytes as f64 / 1e6 / o.seconds)
    } else {
        String::new()
    };
    let mut t = format!(
        "{verb} {} bytes ({}) {dest} in {:.2} s{rate} via {}.\n",
        o.bytes,
        mb(o.bytes),
        o.seconds,
        via_name(o.via)
    );
    t.push_str(&match o.verified {
        Verified::Sha256 => format!("Size and SHA-256 match on both ends: {}\n", o.sha256),
        Verified::Size => format!(
            "Size matches (SHA-256 {} not checked remotely).\n",
            o.sha256
        ),
    });
    for n in &o.notes {
        t.push_str(&format!("Note: {n}\n"));
    }
    t
}

fn via_name(v: Via) -> &'static str {
    match v {
        Via::Sftp => "sftp",
        Via::Exec => "an exec channel",
        Via::Sudo => "sudo",
    }
}

fn transferred(o: TransferOutcome) -> Transferred {
    Transferred {
        local_path: o.local_path.display().to_string(),
        remote_path: o.remote_path,
        bytes: o.bytes,
        sha256: o.sha256,
        verified: o.verified,
        via: o.via,
        seconds: (o.seconds * 1000.0).round() / 1000.0,
        mode: o.mode,
        notes: o.notes,
    }
}

fn listing_line(e: &Entry) -> String {
    format!(
        "{} {:>8}:{:<8} {:>12} {:<16} {}{}",
        e.mode,
        e.owner,
        e.group,
        e.size,
        e.mtime,
        e.name,
        e.kind.suffix()
    )
}

impl SshServer {
    fn files(&self) -> Result<&Arc<transfer::Files>, CallToolResult> {
        self.files.as_ref().map_err(|e| {
            tool_error(&Error::LocalFile {
                path: "(local root)".into(),
                detail: e.clone(),
            })
        })
    }

    /// Progress notifications (bytes done of the total) at most twice a second, when the
    /// client asked for them. The returned function records progress; dropping the token
    /// guard stops the notifier.
    fn transfer_progress(
        &self,
        meta: &RequestMetaObject,
        peer: Peer<RoleServer>,
    ) -> (
        Option<impl Fn(u64, Option<u64>) + Send + Sync + 'static>,
        CancellationToken,
    ) {
        let stop = CancellationToken::new();
        let Some(token) = meta.get_progress_token() else {
            return (None, stop);
        };
        let (tx, mut rx) = tokio::sync::watch::channel::<(u64, Option<u64>)>((0, None));
        let done = stop.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    r = rx.changed() => if r.is_err() { return },
                    _ = done.cancelled() => return,
                }
                let (bytes, total) = *rx.borrow_and_update();
                let mut p = ProgressNotificationParam::new(token.clone(), bytes as f64)
                    .with_message(format!("{} transferred", mb(bytes)));
                if let Some(t) = total {
                    p = p.with_total(t as f64);
                }
                let _ = peer.notify_progress(p).await;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = done.cancelled() => return,
                }
            }
        });
        let record = move |bytes: u64, total: Option<u64>| {
            tx.send_replace((bytes, total));
        };
        (Some(record), stop)
    }
}

#[tool_router(router = file_tools, vis = "pub(crate)")]
impl SshServer {
    /// Read a text file (sftp on the host's connection). Cut at max_bytes (2 MiB); the result says how to continue.
    #[tool(
        title = "Read a remote file",
        output_schema = schema_for_output::<FileRead>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    async fn read_file(
        &self,
        Parameters(p): Parameters<ReadFileParams>,
        ct: CancellationToken,
    ) -> CallToolResult {
        let files = match self.files() {
            Ok(f) => f,
            Err(r) => return r,
        };
        let (codec, on_error) = match codecs(p.encoding.as_deref(), p.errors.as_deref(), "replace")
        {
            Ok(c) => c,
            Err(r) => return r,
        };
        let limit = p.max_bytes.unwrap_or(MAX_TEXT_BYTES).min(MAX_TEXT_BYTES);
        let req = ReadRequest {
            login: p.login.to_transfer(&p.host),
            path: p.remote_path.clone(),
            offset: p.offset.unwrap_or(0),
            limit,
            sudo: sudo(p.use_sudo, p.sudo_password),
            utf8: codec == Codec::Utf8,
        };
        let o = match files.read(&req, &ct).await {
            Ok(o) => o,
            Err(e) => return read_error(&e, &p.remote_path),
        };
        let text = match codec::decode(&o.content, codec, on_error) {
            Ok(t) => t,
            Err(e) => {
                return python_error(&format!(
                    "Failed to decode file using encoding '{}': {e}",
                    p.encoding.as_deref().unwrap_or("utf-8")
                ));
            }
        };
        let mut content = text;
        let mut stderr = String::new();
        if o.truncated {
            let returned = o.content.len();
            content.push_str(&format!("\n\n[CONTENT TRUNCATED after {returned} bytes]"));
            stderr = format!(
                "Content truncated to {returned} bytes. Increase max_bytes to retrieve full file.\n{}Continue with offset={}.",
                o.size
                    .filter(|n| *n > 0)
                    .map(|n| format!("The file has {n} bytes. "))
                    .unwrap_or_default(),
                o.next_offset.unwrap_or(o.offset + returned as u64)
            );
        }
        if o.via == Via::Sudo {
            stderr = format!("Read with sudo (permission denied without it).\n{stderr}");
        }
        let sc = FileRead {
            path: o.path,
            bytes: o.content.len() as u64,
            size: o.size,
            offset: o.offset,
            truncated: o.truncated,
            next_offset: o.next_offset,
            sha256: o.sha256,
            mode: o.mode,
            via: o.via,
        };
        result(
            python_text(0, &[("CONTENT", &content), ("STDERR", stderr.trim_end())]),
            &sc,
        )
    }

    /// Write a text file: atomic replace keeping the mode, or append.
    #[tool(
        title = "Write a remote file",
        output_schema = schema_for_output::<FileWritten>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    async fn write_file(
        &self,
        Parameters(p): Parameters<WriteFileParams>,
        ct: CancellationToken,
    ) -> CallToolResult {
        let files = match self.files() {
            Ok(f) => f,
            Err(r) => return r,
        };
        let (codec, on_error) = match codecs(p.encoding.as_deref(), p.errors.as_deref(), "strict") {
            Ok(c) => c,
            Err(r) => return r,
        };
        let permissions = match mode_decimal(p.permissions) {
            Ok(m) => m,
            Err(r) => return r,
        };
        let bytes = match codec::encode(&p.content, codec, on_error) {
            Ok(b) => b,
            Err(e) => {
                return python_error(&format!(
                    "Failed to encode content using encoding '{}': {e}",
                    p.encoding.as_deref().unwrap_or("utf-8")
                ));
            }
        };
        let limit = p.max_bytes.unwrap_or(MAX_TEXT_BYTES).min(MAX_TEXT_BYTES);
        if bytes.len() as u64 > limit {
            return python_error(&format!(
                "Content size {} bytes exceeds maximum allowed {limit} bytes. Split the write into smaller chunks.",
                bytes.len()
            ));
        }
        let append = p.append.unwrap_or(false);
        let req = WriteRequest {
            login: p.login.to_transfer(&p.host),
            path: p.remote_path.clone(),
            content: bytes,
            append,
            make_dirs: p.make_dirs.unwrap_or(false),
            permissions,
            sudo: sudo(p.use_sudo, p.sudo_password),
        };
        let o = match files.write(&req, &ct).await {
            Ok(o) => o,
            Err(e) => return write_error(&e, &p.remote_path),
        };
        let mut msg = format!("Wrote {} bytes to {}", o.bytes, o.path);
        if o.via == Via::Sudo {
            msg.push_str(" using sudo");
        }
        if append {
            msg.push_str(" (append)");
        }
        if o.passwordless {
            msg.push_str(" (passwordless)");
        }
        for n in &o.notes {
            msg.push_str(&format!("\nNote: {n}"));
        }
        let sc = FileWritten {
            path: o.path,
            bytes: o.bytes,
            sha256: o.sha256,
            mode: o.mode,
            via: o.via,
            atomic: o.atomic,
            appended: append,
            notes: o.notes,
        };
        result(python_text(0, &[("MESSAGE", &msg)]), &sc)
    }

    /// Upload a local file of any size; checked by SHA-256, replaced atomically.
    #[tool(
        title = "Upload a file",
        output_schema = schema_for_output::<Transferred>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = true)
    )]
    async fn upload_file(
        &self,
        Parameters(p): Parameters<UploadParams>,
        meta: RequestMetaObject,
        peer: Peer<RoleServer>,
        ct: CancellationToken,
    ) -> CallToolResult {
        let files = match self.files() {
            Ok(f) => f,
            Err(r) => return r,
        };
        let permissions = match mode_decimal(p.permissions) {
            Ok(m) => m,
            Err(r) => return r,
        };
        let req = UploadRequest {
            login: p.login.to_transfer(&p.host),
            local_path: p.local_path,
            remote_path: p.remote_path,
            make_dirs: p.make_dirs.unwrap_or(false),
            permissions,
            sudo: sudo(p.sudo.use_sudo, p.sudo.sudo_password),
        };
        let (record, stop) = self.transfer_progress(&meta, peer);
        let outcome = files
            .upload(&req, record.as_ref().map(|f| f as _), &ct)
            .await;
        stop.cancel();
        match outcome {
            Ok(o) => {
                let text = transferred_text("Uploaded", &o, &format!("to {}", o.remote_path));
                result(text, &transferred(o))
            }
            Err(e) => tool_error(&e),
        }
    }

    /// Download a remote file of any size; checked by SHA-256, written atomically.
    #[tool(
        title = "Download a file",
        output_schema = schema_for_output::<Transferred>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = true)
    )]
    async fn download_file(
        &self,
        Parameters(p): Parameters<DownloadParams>,
        meta: RequestMetaObject,
        peer: Peer<RoleServer>,
        ct: CancellationToken,
    ) -> CallToolResult {
        let files = match self.files() {
            Ok(f) => f,
            Err(r) => return r,
        };
        let req = DownloadRequest {
            login: p.login.to_transfer(&p.host),
            remote_path: p.remote_path,
            local_path: p.local_path,
            sudo: sudo(p.sudo.use_sudo, p.sudo.sudo_password),
        };
        let (record, stop) = self.transfer_progress(&meta, peer);
        let outcome = files
            .download(&req, record.as_ref().map(|f| f as _), &ct)
            .await;
        stop.cancel();
        match outcome {
            Ok(o) => {
                let text = transferred_text(
                    "Downloaded",
                    &o,
                    &format!("from {} to {}", o.remote_path, o.local_path.display()),
                );
                result(text, &transferred(o))
            }
            Err(e) => tool_error(&e),
        }
    }

    /// List a directory (or one file) with types, sizes, modes, owners, mtimes; paged.
    #[tool(
        title = "List a remote directory",
        output_schema = schema_for_output::<DirListing>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    async fn list_directory(
        &self,
        Parameters(p): Parameters<ListParams>,
        ct: CancellationToken,
    ) -> CallToolResult {
        let files = match self.files() {
            Ok(f) => f,
            Err(r) => return r,
        };
        let limit = p.limit.unwrap_or(LIST_PAGE).clamp(1, LIST_MAX) as usize;
        let req = ListRequest {
            login: p.login.to_transfer(&p.host),
            path: p.remote_path,
            offset: p.offset.unwrap_or(0) as usize,
            limit,
        };
        let l = match files.list(&req, &ct).await {
            Ok(l) => l,
            Err(e) => return tool_error(&e),
        };
        let mut t = if l.is_dir {
            let shown = if l.entries.is_empty() {
                "none shown".to_string()
            } else {
                format!("{}-{}", l.offset + 1, l.offset + l.entries.len())
            };
            format!("{}: {} entries ({shown})\n", l.path, l.total)
        } else {
            format!("{}:\n", l.path)
        };
        for e in &l.entries {
            t.push_str(&listing_line(e));
            t.push('\n');
        }
        if let Some(next) = l.next_offset {
            t.push_str(&format!("More: call again with offset={next}.\n"));
        }
        let sc = DirListing {
            path: l.path,
            total: l.total,
            offset: l.offset,
            next_offset: l.next_offset,
            entries: l.entries,
        };
        result(t, &sc)
    }
}
