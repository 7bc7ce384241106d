//! How the file tools' results read: the Python tool's `Exit Status` texts for read_file and
//! write_file (errors included), and short summaries for transfers and listings.

use rmcp::model::{CallToolResult, ContentBlock};

use crate::error::{Error, FileProblem, Result};
use crate::mcp::files::params::Transferred;
use crate::mcp::{result, tool_error};
use crate::transfer::stream::{TransferOutcome, Verified};
use crate::transfer::{Entry, Via};

/// The Python tool's result shape: `Exit Status: N`, then labelled sections.
pub(super) fn python_text(status: i32, sections: &[(&str, &str)]) -> String {
    let mut t = format!("Exit Status: {status}\n\n");
    for (label, body) in sections {
        if !body.is_empty() {
            t.push_str(&format!("{label}:\n{body}\n"));
        }
    }
    t
}

/// A failed read_file/write_file: the Python text, as a tool error.
pub(super) fn python_error(message: &str) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(python_text(
        1,
        &[("STDERR", message)],
    ))])
}

/// Connection and parameter errors read like every other tool's; file errors like Python's.
pub(super) fn read_error(e: &Error, given: &str) -> CallToolResult {
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

pub(super) fn write_error(e: &Error, given: &str) -> CallToolResult {
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

pub(super) fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// An upload's or a download's result.
pub(super) fn transfer_reply(outcome: Result<TransferOutcome>, upload: bool) -> CallToolResult {
    match outcome {
        Ok(o) => {
            let text = if upload {
                transferred_text("Uploaded", &o, &format!("to {}", o.remote_path))
            } else {
                let dest = format!("from {} to {}", o.remote_path, o.local_path.display());
                transferred_text("Downloaded", &o, &dest)
            };
            result(text, &transferred(o))
        }
        Err(e) => tool_error(&e),
    }
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

pub(super) fn via_name(v: Via) -> &'static str {
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

pub(super) fn listing_line(e: &Entry) -> String {
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
