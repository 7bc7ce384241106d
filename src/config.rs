//! Settings, from command-line flags and environment variables (flags win).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::ssh::overrides::Overrides;

/// Engine-wide settings. Built once at start-up; cheap to clone behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The user's `ssh` (MCP_SSH_BIN, else `ssh` on PATH).
    pub ssh_program: PathBuf,
    /// Passed as `-F` to every ssh and sftp we spawn (`--ssh-config` / MCP_SSH_CONFIG).
    pub ssh_config: Option<PathBuf>,
    /// Shells per destination, main shell included (MCP_SSH_MAX_SHELLS). sshd's MaxSessions
    /// defaults to 10 channels per connection.
    pub max_shells: usize,
    /// Bytes of command output in one tool result before the middle is cut (MCP_SSH_OUTPUT_LIMIT).
    pub output_limit: usize,
    /// Bytes of one command's output kept on disk for paging (MCP_SSH_SPOOL_LIMIT).
    pub spool_limit: u64,
    /// Bytes all commands' spools may hold together (MCP_SSH_SPOOL_TOTAL).
    pub spool_total: u64,
    /// Where spool directories go: `$XDG_CACHE_HOME/mcp-ssh-session`, else
    /// `~/.cache/mcp-ssh-session`; None: no spools (results say so).
    pub spool_base: Option<PathBuf>,
    /// Finished commands remembered (MCP_SSH_HISTORY).
    pub history_limit: usize,
    /// Time allowed for connecting, authenticating and setting up a shell (MCP_SSH_CONNECT_TIMEOUT, seconds).
    pub connect_timeout: Duration,
    /// Terminal size of every shell (MCP_SSH_COLUMNS x MCP_SSH_ROWS).
    pub columns: u16,
    pub rows: u16,
    /// The `OVRD_<alias>_*` variables, read once (their values are secrets).
    pub overrides: Arc<Overrides>,
    /// upload_file/download_file only touch local paths under this directory
    /// (`--local-root` / MCP_SSH_LOCAL_ROOT; default: the server's working directory).
    pub local_root: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ssh_program: PathBuf::from("ssh"),
            ssh_config: None,
            max_shells: 8,
            output_limit: 50 * 1024,
            spool_limit: 1 << 30,
            spool_total: 2 << 30,
            spool_base: crate::jobs::spool::default_base(),
            history_limit: 100,
            connect_timeout: Duration::from_secs(30),
            columns: 200,
            rows: 50,
            overrides: Arc::default(),
            local_root: None,
        }
    }
}

impl Config {
    /// Reads the environment; `ssh_config_flag` (from `--ssh-config`) overrides MCP_SSH_CONFIG.
    pub fn from_env(ssh_config_flag: Option<PathBuf>) -> Result<Self> {
        let ssh_program = match std::env::var_os("MCP_SSH_BIN") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => which::which("ssh").map_err(|e| Error::Spawn {
                program: PathBuf::from("ssh"),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, e.to_string()),
            })?,
        };
        let mut c = Config {
            ssh_program,
            overrides: Arc::new(Overrides::from_env()),
            ..Config::default()
        };
        c.ssh_config = path_setting(ssh_config_flag, "MCP_SSH_CONFIG");
        if let Some(path) = &c.ssh_config
            && !path.is_file()
        {
            return Err(Error::invalid(
                "ssh config",
                format!("{} is not a readable file", path.display()),
            ));
        }
        c.max_shells = env_num("MCP_SSH_MAX_SHELLS", c.max_shells as u64)?.max(1) as usize;
        c.output_limit = env_num("MCP_SSH_OUTPUT_LIMIT", c.output_limit as u64)?.max(1024) as usize;
        c.spool_limit = env_num("MCP_SSH_SPOOL_LIMIT", c.spool_limit)?;
        c.spool_total = env_num("MCP_SSH_SPOOL_TOTAL", c.spool_total)?;
        c.history_limit = env_num("MCP_SSH_HISTORY", c.history_limit as u64)?.max(1) as usize;
        c.connect_timeout = Duration::from_secs(env_num("MCP_SSH_CONNECT_TIMEOUT", 30)?.max(1));
        c.columns = env_num("MCP_SSH_COLUMNS", c.columns as u64)?.clamp(20, 1000) as u16;
        c.rows = env_num("MCP_SSH_ROWS", c.rows as u64)?.clamp(5, 500) as u16;
        c.local_root = path_setting(None, "MCP_SSH_LOCAL_ROOT");
        Ok(c)
    }
}

/// A path setting: the command-line flag, else the environment variable when not empty.
pub fn path_setting(flag: Option<PathBuf>, var: &str) -> Option<PathBuf> {
    flag.or_else(|| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

fn env_num(name: &'static str, default: u64) -> Result<u64> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().map_err(|_| {
            Error::invalid(
                "environment variable",
                format!("{name}={v:?} is not a whole number"),
            )
        }),
        _ => Ok(default),
    }
}
