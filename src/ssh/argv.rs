//! Building ssh argv one argument at a time, with the destination always after `--`.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::AsyncReadExt;

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

    /// `ssh -F none`: for control commands (`-O check`, `-O exit`) that need no configuration.
    pub fn argv_without_config(&self) -> Argv {
        Argv {
            program: self.program.clone(),
            args: Vec::new(),
        }
        .arg("-F")
        .arg("none")
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

    /// Runs to the end with null stdin and captured output, in a process group of its own.
    /// `None` when it took longer than `limit`. When it runs out of time, or the caller drops
    /// the future (cancellation), the whole group is killed: ssh and whatever its configuration
    /// started (a `Match exec` command, ...), which killing ssh alone would leave running.
    pub async fn output_within(&self, limit: Duration) -> std::io::Result<Option<Output>> {
        let mut cmd = self.tokio_command();
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd.spawn()?;
        // Declared after `child`, so dropped before it: the group is killed while ssh is not
        // yet reaped, so its id cannot have been reused.
        let mut group = KillGroupOnDrop(child.id());
        let mut stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let run = async {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let (o, e, status) = tokio::join!(
                stdout.read_to_end(&mut out),
                stderr.read_to_end(&mut err),
                child.wait()
            );
            o?;
            e?;
            Ok(Output {
                status: status?,
                stdout: out,
                stderr: err,
            })
        };
        match tokio::time::timeout(limit, run).await {
            Ok(result) => {
                group.0 = None;
                result.map(Some)
            }
            Err(_) => Ok(None),
        }
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

/// Kills a process group (SIGKILL) when dropped, unless disarmed by taking the id out.
struct KillGroupOnDrop(Option<u32>);

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        if let Some(pgid) = self.0.and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: killpg(2) touches no memory; the group id is our own child's.
            unsafe { libc::killpg(pgid, libc::SIGKILL) };
        }
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

    #[tokio::test]
    async fn a_run_out_of_time_is_killed_with_its_children() {
        let scratch = tempfile::tempdir().unwrap();
        let pidfile = scratch.path().join("pid");
        let sh = Argv {
            program: "sh".into(),
            args: Vec::new(),
        };
        // The grandchild stands for what ssh starts for a `Match exec`.
        let script = format!("sleep 300 & echo $! > {}; wait", pidfile.display());
        let started = std::time::Instant::now();
        let out = sh
            .clone()
            .arg("-c")
            .arg(&script)
            .output_within(Duration::from_millis(500))
            .await
            .unwrap();
        assert!(out.is_none());
        assert!(started.elapsed() < Duration::from_secs(60));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let gone = (0..500).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            // SAFETY: signal 0 only checks that the process exists.
            let exists = unsafe { libc::kill(pid, 0) } == 0;
            // A killed orphan may stay a zombie until its new parent reaps it.
            let zombie = cfg!(target_os = "linux")
                && std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z "));
            !exists || zombie
        });
        assert!(gone, "the grandchild {pid} survived");

        let out = sh
            .arg("-c")
            .arg("echo out; echo err >&2; exit 3")
            .output_within(Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(
            (&out.stdout[..], &out.stderr[..]),
            (&b"out\n"[..], &b"err\n"[..])
        );
    }

    use crate::ssh::target::tests::nasty;
    use proptest::prelude::*;

    /// ssh's own reading of an argv (getopt with the options ssh takes): the options it sees,
    /// and the destination (the first operand).
    fn ssh_reads(args: &[OsString]) -> (Vec<(char, Option<String>)>, Option<String>) {
        const WITH_ARG: &str = "BbcDEeFIiJLlmOoPpQRSWw";
        let mut opts = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let a = args[i].to_string_lossy().into_owned();
            if a == "--" {
                return (
                    opts,
                    args.get(i + 1).map(|s| s.to_string_lossy().into_owned()),
                );
            }
            if !a.starts_with('-') || a == "-" {
                return (opts, Some(a));
            }
            for (at, c) in a[1..].char_indices() {
                if WITH_ARG.contains(c) {
                    let rest = &a[1 + at + c.len_utf8()..];
                    let value = if rest.is_empty() {
                        i += 1;
                        args.get(i).map(|s| s.to_string_lossy().into_owned())
                    } else {
                        Some(rest.to_string())
                    };
                    opts.push((c, value));
                    break;
                }
                opts.push((c, None));
            }
            i += 1;
        }
        (opts, None)
    }

    proptest! {
        #[test]
        fn no_value_becomes_an_option_or_a_second_argument(
            host in nasty(), user in nasty(), key in nasty(), port in any::<u16>(), value in nasty()
        ) {
            let Ok(t) = Target::new(&host, Some(&user), Some(port), Some(&key)) else {
                return Ok(());
            };
            let ssh = SshProgram { program: "ssh".into(), config: Some("/cfg".into()) };
            let a = ssh
                .argv()
                .opt("UserKnownHostsFile", &value)
                .target_options(&t)
                .destination(&t.host)
                .arg("true");
            let (opts, dest) = ssh_reads(&a.args);
            let mut want = vec![
                ('F', Some("/cfg".to_string())),
                ('o', Some(format!("UserKnownHostsFile={value}"))),
            ];
            if let Some(u) = &t.user {
                want.push(('l', Some(u.clone())));
            }
            if let Some(p) = t.port {
                want.push(('p', Some(p.to_string())));
            }
            if let Some(k) = &t.identity {
                want.push(('i', Some(k.to_string_lossy().into_owned())));
                want.push(('o', Some("IdentitiesOnly=yes".into())));
            }
            prop_assert_eq!(opts, want);
            prop_assert_eq!(dest.as_deref(), Some(t.host.as_str()));
            // The destination is followed by the remote command only.
            let n = a.args.len();
            prop_assert_eq!(a.args[n - 3].to_str(), Some("--"));
        }
    }
}
