//! File tools: read_file and write_file (the Python tool's parameters and messages), streamed
//! upload_file and download_file, and list_directory. The work happens in [`crate::transfer`];
//! each tool parses its parameters, calls the engine once, and formats the outcome.

mod params;
mod text;

use std::time::Duration;

use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ProgressNotificationParam, RequestMetaObject};
use rmcp::{Peer, RoleServer, tool, tool_router};
use tokio_util::sync::CancellationToken;

use crate::mcp::{SshServer, result, tool_error};
use crate::transfer::codec::{self, Codec};
use crate::transfer::list::ListRequest;
use crate::transfer::stream::{DownloadRequest, UploadRequest};
use crate::transfer::text::{ReadRequest, WriteRequest};
use crate::transfer::{MAX_TEXT_BYTES, Via};

pub use params::{
    DirListing, DownloadParams, FileRead, FileWritten, ListParams, ReadFileParams, SudoParams,
    Transferred, UploadParams, WriteFileParams,
};
use params::{LIST_MAX, LIST_PAGE, codecs, mode_decimal, sudo};
use text::{listing_line, mb, python_error, python_text, read_error, transfer_reply, write_error};

impl SshServer {
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
        let files = &self.files;
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
        let files = &self.files;
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
        let files = &self.files;
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
        transfer_reply(outcome, true)
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
        let files = &self.files;
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
        transfer_reply(outcome, false)
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
        let files = &self.files;
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
        if let Some(kept) = l.listed_up_to {
            let dir = if l.path.contains('\'') {
                "DIR".to_string()
            } else {
                format!("'{}'", l.path)
            };
            // After ls's "total", "." and ".." lines.
            t.push_str(&format!(
                "Only the first {kept} entries (in name order) can be listed here; for the other {}, list a narrower path or use execute_command: `LC_ALL=C ls -la {dir} | tail -n +{}`.\n",
                l.total - kept,
                kept + 4
            ));
        }
        let sc = DirListing {
            path: l.path,
            total: l.total,
            offset: l.offset,
            next_offset: l.next_offset,
            listed_up_to: l.listed_up_to,
            entries: l.entries,
        };
        result(t, &sc)
    }
}
