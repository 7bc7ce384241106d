//! Building ssh argv one argument at a time, with the destination always after `--`.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use crate::secret::is_secret_env;
use crate::ssh::Target;

/// The user's ssh binary and the config file passed to every invocation.
#[derive(Debug, Clone)]
pub struct SshProgram {
    pub program: PathBuf,
    pub config: Option<PathBuf>,
}

impl SshProgram {
    /// A fresh argv: `ssh [-F config]`.
    pub fn argv(&self) -> Argv {
        let mut a = Argv {
            program: self.program.clone(),
            args: Vec::new(),
        };
        if let Some(cfg) = &self.config {
            a = a.arg("-F").arg(cfg);
        }
        a
    }
}

/// An argv under construction. Each `arg` is one argument: nothing is ever split or
/// re-parsed by a shell on our side.
#[derive(Debug, Clone)]
pub struct Argv {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

impl Argv {
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().to_os_string());
        self
    }

    /// `-o Key=Value`.
    pub fn opt(self, key: &str, value: impl std::fmt::Display) -> Self {
        self.arg("-o").arg(format!("{key}={value}"))
    }

    /// `-S path`: the control socket.
    pub fn control(self, socket: &Path) -> Self {
        self.arg("-S").arg(socket)
    }

    /// `-l`, `-p`, `-i` from the caller's target. `IdentitiesOnly` makes an explicit key the one
    /// that is offered, as the Python tool's `key_filename` did.
    pub fn target_options(mut self, t: &Target) -> Self {
        if let Some(u) = &t.user {
            self = self.arg("-l").arg(u);
        }
        if let Some(p) = t.port {
            self = self.arg("-p").arg(p.to_string());
        }
        if let Some(k) = &t.identity {
            self = self.arg("-i").arg(k).opt("IdentitiesOnly", "yes");
        }
        self
    }

    /// `-- host [remote command]`: the end of options, so a host can never be read as one.
    pub fn destination(self, host: &str) -> Self {
        self.arg("--").arg(host)
    }

    /// For `tokio::process`: null stdin, secrets removed from the environment.
    pub fn tokio_command(&self) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(&self.program);
        c.args(&self.args).stdin(std::process::Stdio::null());
        for (k, _) in std::env::vars_os() {
            if k.to_str().is_some_and(is_secret_env) {
                c.env_remove(&k);
            }
        }
        c.kill_on_drop(true);
        c
    }

    /// For a PTY child: `TERM` set, secrets removed from the environment.
    pub fn pty_command(&self, term: &str) -> portable_pty::CommandBuilder {
        let mut c = portable_pty::CommandBuilder::new(&self.program);
        c.args(&self.args);
        for (k, _) in std::env::vars_os() {
            if k.to_str().is_some_and(is_secret_env) {
                c.env_remove(&k);
            }
        }
        c.env("TERM", term);
        if let Ok(cwd) = std::env::current_dir() {
            c.cwd(cwd);
        }
        c
    }

    /// The argv for logs (it never holds a secret: secrets are typed into prompts).
    pub fn display(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_comes_after_double_dash() {
        let ssh = SshProgram {
            program: "ssh".into(),
            config: Some("/tmp/cfg".into()),
        };
        let t = Target::new("web", Some("bob"), Some(2200), Some("/k/id")).unwrap();
        let a = ssh
            .argv()
            .opt("BatchMode", "yes")
            .target_options(&t)
            .destination(&t.host);
        let args: Vec<String> = a
            .args
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "-F",
                "/tmp/cfg",
                "-o",
                "BatchMode=yes",
                "-l",
                "bob",
                "-p",
                "2200",
                "-i",
                "/k/id",
                "-o",
                "IdentitiesOnly=yes",
                "--",
                "web"
            ]
        );
    }
}
