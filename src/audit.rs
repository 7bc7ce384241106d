//! The audit log: one JSON line per tool call that touches a host, for a security team or a
//! user reviewing what an agent did. Never a secret, never command output.
//!
//! The file is opened with `O_APPEND` (each line is one `write`, so lines of concurrent calls
//! never interleave), created with mode 0600, and fsync'd when the server shuts down.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use crate::error::{Error, Result};

/// One audited call.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Entry {
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    pub tool: String,
    /// The host as the agent named it (an `OVRD_` alias, never its real host), or the session
    /// of a command id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The command line, with known secrets masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_id: Option<String>,
    /// `completed`, `running`, `awaiting_input`, `failed`, `interrupted`, `ok`, `error` or
    /// `refused`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    /// Bytes of output produced, of input typed, or of a file moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// The policy rule that refused or asked, and the human's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Why the call failed (already free of real hosts and secrets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The open audit log.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl AuditLog {
    /// Opens (or creates, mode 0600) `path` for appending.
    pub fn open(path: &Path) -> Result<AuditLog> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::io(format!("cannot open the audit log {}", path.display()), e))?;
        if let Ok(m) = file.metadata()
            && m.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), mode = format!("{:o}", m.permissions().mode() & 0o777), "the audit log is readable or writable by others");
        }
        Ok(AuditLog {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// Appends one line. A failure is logged, never fatal to the call.
    pub fn record(&self, entry: &Entry) {
        let mut line = match serde_json::to_vec(entry) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "cannot serialise an audit entry");
                return;
            }
        };
        line.push(b'\n');
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = f.write_all(&line) {
            tracing::error!(error = %e, path = %self.path.display(), "cannot write to the audit log");
        }
    }

    /// Flushes the file to disk (at shutdown).
    pub fn sync(&self) {
        let f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = f.sync_all() {
            tracing::error!(error = %e, path = %self.path.display(), "cannot fsync the audit log");
        }
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        self.sync();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_private_json_lines() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("audit.jsonl");
        std::fs::write(&p, "earlier line\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let log = AuditLog::open(&p).unwrap();
        log.record(&Entry {
            time: "t".into(),
            tool: "execute_command".into(),
            host: Some("web".into()),
            command: Some("ls".into()),
            status: "completed".into(),
            exit_code: Some(0),
            ..Entry::default()
        });
        drop(log);
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "earlier line");
        let v: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(v["host"], "web");
        assert_eq!(v["exit_code"], 0);
        assert!(v.get("path").is_none());
        let fresh = d.path().join("new.jsonl");
        AuditLog::open(&fresh).unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
