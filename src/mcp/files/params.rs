//! Parameters of the file tools (the Python tool's names and defaults for read_file and
//! write_file) and their structured results.

use rmcp::model::CallToolResult;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::mcp::commands::Login;
use crate::mcp::params::{opt_bool, opt_string, opt_u64};
use crate::mcp::tool_error;
use crate::secret::{Secret, opt_secret};
use crate::transfer::codec::{Codec, OnError};
use crate::transfer::stream::Verified;
use crate::transfer::{self, Entry, SudoRequest, Via};

/// Entries per list_directory page unless `limit` says otherwise, and the most it may say.
pub(super) const LIST_PAGE: u64 = 200;
pub(super) const LIST_MAX: u64 = 1000;

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
    #[serde(default, deserialize_with = "opt_secret")]
    pub sudo_password: Option<Secret>,
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
    #[serde(default, deserialize_with = "opt_secret")]
    pub sudo_password: Option<Secret>,
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
    #[serde(default, deserialize_with = "opt_secret")]
    pub sudo_password: Option<Secret>,
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
    /// Set when the directory has more entries than one listing keeps (200,000): entries
    /// from this offset on cannot be listed here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listed_up_to: Option<usize>,
    pub entries: Vec<Entry>,
}

impl Login {
    pub(super) fn to_transfer(&self, host: &str) -> transfer::Login {
        transfer::Login {
            host: host.to_string(),
            username: self.username.clone(),
            password: self.password.clone(),
            key_filename: self.key_filename.clone(),
            port: self.port,
        }
    }
}

pub(super) fn sudo(use_sudo: Option<bool>, password: Option<Secret>) -> SudoRequest {
    SudoRequest {
        use_sudo: use_sudo.unwrap_or(false),
        password,
    }
}

pub(super) fn codecs(
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

pub(super) fn mode_decimal(permissions: Option<u64>) -> Result<Option<u32>, CallToolResult> {
    match permissions {
        None => Ok(None),
        Some(p) if p <= 0o7777 => Ok(Some(p as u32)),
        Some(p) => Err(tool_error(&Error::invalid(
            "permissions",
            format!("{p} is not a file mode; give it in decimal (420 = 0644, 493 = 0755)"),
        ))),
    }
}
