//! `ssh -G`: the user's configuration (Host, Match, Include, ProxyJump, User, Port...) resolved
//! by ssh itself, so that we see a destination exactly as `ssh HOST` would.

use std::collections::HashMap;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::ssh::{SshProgram, Target};

/// The resolved options we care about, plus the whole map for diagnostics.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub hostname: String,
    pub user: String,
    pub port: u16,
    /// Every `IdentityFile`, in order (ssh tries them all).
    pub identity_files: Vec<String>,
    pub options: HashMap<String, String>,
}

impl Resolved {
    /// `user@host:port` with the host as the caller named it (an alias stays an alias).
    pub fn label(&self, requested_host: &str) -> String {
        format!("{}@{}:{}", self.user, requested_host, self.port)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }

    /// The connection goes through other hosts first (ProxyJump or ProxyCommand), which may
    /// ask for credentials of their own.
    pub fn has_hops(&self) -> bool {
        ["proxyjump", "proxycommand"]
            .iter()
            .any(|k| self.get(k).is_some_and(|v| v != "none"))
    }

    /// Parses `ssh -G` output: one `key value` per line, keys lower-case. Repeated keys
    /// (identityfile...) keep the first value.
    pub fn parse(text: &str) -> Option<Self> {
        let mut options = HashMap::new();
        let mut identity_files = Vec::new();
        for line in text.lines() {
            if let Some((k, v)) = line.split_once(' ') {
                let k = k.to_ascii_lowercase();
                if k == "identityfile" {
                    identity_files.push(v.to_string());
                }
                options.entry(k).or_insert_with(|| v.to_string());
            }
        }
        Some(Resolved {
            hostname: options.get("hostname")?.clone(),
            user: options.get("user")?.clone(),
            port: options.get("port")?.parse().ok()?,
            identity_files,
            options,
        })
    }
}

/// Runs `ssh [-F cfg] -G [-l u] [-p p] [-i k] -- host`, for at most `limit`: the user's
/// configuration can run commands (`Match exec`), and one that hangs must not hang the call.
pub async fn resolve(ssh: &SshProgram, target: &Target, limit: Duration) -> Result<Resolved> {
    let argv = ssh
        .argv()
        .arg("-G")
        .target_options(target)
        .destination(&target.host);
    let out = argv
        .output_within(limit)
        .await
        .map_err(|source| Error::Spawn {
            program: ssh.program.clone(),
            source,
        })?
        .ok_or_else(|| Error::Resolve {
            host: target.host.clone(),
            detail: format!(
                "`ssh -G {}` did not finish within {} s and was stopped. Something in the ssh configuration hangs, most likely a `Match exec` command; run `ssh -G {}` in a terminal to see it",
                target.host,
                limit.as_secs_f32(),
                target.host
            ),
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Resolve {
            host: target.host.clone(),
            detail: first_lines(&stderr, 3),
        });
    }
    Resolved::parse(&stdout).ok_or_else(|| Error::Resolve {
        host: target.host.clone(),
        detail: "ssh -G printed no hostname/user/port".into(),
    })
}

pub(crate) fn first_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(n)
        .collect();
    if lines.is_empty() {
        "no error message".into()
    } else {
        lines.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ssh_g_output() {
        let r = Resolved::parse(
            "host web\nuser deploy\nhostname 10.1.2.3\nport 2222\nidentityfile ~/.ssh/a\nidentityfile ~/.ssh/b\nproxyjump bastion\n",
        )
        .unwrap();
        assert_eq!(r.user, "deploy");
        assert_eq!(r.port, 2222);
        assert_eq!(r.hostname, "10.1.2.3");
        assert_eq!(r.get("identityfile"), Some("~/.ssh/a"));
        assert_eq!(r.get("proxyjump"), Some("bastion"));
        assert_eq!(r.identity_files, ["~/.ssh/a", "~/.ssh/b"]);
        assert!(r.has_hops());
        assert_eq!(r.label("web"), "deploy@web:2222");
        assert!(Resolved::parse("user x\n").is_none());
    }
}
