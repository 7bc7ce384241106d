//! One ControlMaster per destination: its argv, its control socket (`-O check`, `-O exit`),
//! and what ssh's own messages mean when it fails. The login conversation in its terminal
//! (prompts, host keys) is the session layer's (`session::login`).
//!
//! The master stays in the foreground as our PTY child (no `-f`, no ControlPersist): if the
//! server dies, the kernel hangs up its terminal and the master goes with it, so no master
//! outlives the server. (With `-f`, ssh's parent exits right after forking the master, and the
//! hang-up that the session leader's exit sends to its process group can kill the new master
//! before it detaches.) Readiness is the control socket appearing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::Error;
use crate::pty::{PtyOutput, PtyProcess};
use crate::ssh::resolve::first_lines;
use crate::ssh::{Argv, Resolved, SshProgram, Target};

/// Longest wait for the master to answer `ssh -O check` or `-O exit` (it answers in
/// milliseconds unless it is wedged).
const CONTROL_LIMIT: Duration = Duration::from_secs(10);

/// A live ControlMaster (`ssh -M -N` in the foreground, as our PTY child).
#[derive(Debug)]
pub struct Master {
    ssh: SshProgram,
    host: String,
    /// What logs may show (`user@host:port`, or an `OVRD_` alias alone).
    label: String,
    socket: PathBuf,
    closed: AtomicBool,
    /// False once the master process has ended (its terminal reached EOF).
    running: Arc<AtomicBool>,
    proc: PtyProcess,
}

/// What starting a master needs besides the destination.
pub struct MasterStart<'a> {
    pub ssh: &'a SshProgram,
    pub target: &'a Target,
    pub resolved: Option<&'a Resolved>,
    pub socket: PathBuf,
    pub log: PathBuf,
    pub timeout: Duration,
    /// `user@host:port`, for messages.
    pub label: &'a str,
    /// This run's known_hosts file, where a host key the human accepts is recorded.
    pub known_hosts: Option<PathBuf>,
}

impl MasterStart<'_> {
    /// `ssh -E LOG -S SOCKET -M -N ... -- host`: a master in the foreground, logging to LOG
    /// at INFO whatever the user's LogLevel (the log is ours; it tells us when ssh added a
    /// host key). `known_hosts` replaces the user's `UserKnownHostsFile` list (this run's file
    /// first, see `ask::session_known_hosts`).
    pub fn argv(&self, known_hosts: Option<&str>) -> Argv {
        let mut argv = self
            .ssh
            .argv()
            .arg("-E")
            .arg(&self.log)
            .control(&self.socket)
            .arg("-M")
            .arg("-N")
            .opt("ControlMaster", "yes")
            .opt("ControlPersist", "no")
            .opt("LogLevel", "INFO");
        // Keep-alives make a dead network visible; only when the user configured none.
        if self.resolved.and_then(|r| r.get("serveraliveinterval")) == Some("0") {
            argv = argv
                .opt("ServerAliveInterval", 15)
                .opt("ServerAliveCountMax", 4);
        }
        if let Some(files) = known_hosts {
            argv = argv.opt("UserKnownHostsFile", files);
        }
        argv.target_options(self.target)
            .destination(&self.target.host)
    }
}

impl Master {
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// A master whose control socket is up: its terminal keeps being drained (ssh may print
    /// warnings there) so that its end is noticed.
    pub fn running(
        ssh: &SshProgram,
        host: &str,
        label: &str,
        socket: PathBuf,
        proc: PtyProcess,
        mut rx: PtyOutput,
    ) -> Master {
        let running = Arc::new(AtomicBool::new(true));
        let flag = running.clone();
        tokio::spawn(async move {
            while rx.recv().await.is_some() {}
            flag.store(false, Ordering::Release);
        });
        Master {
            ssh: ssh.clone(),
            host: host.to_string(),
            label: label.to_string(),
            socket,
            closed: AtomicBool::new(false),
            running,
            proc,
        }
    }

    /// `ssh -O check`: true when the master answers (within [`CONTROL_LIMIT`]).
    pub async fn check(&self) -> bool {
        if self.closed.load(Ordering::Relaxed)
            || !self.running.load(Ordering::Acquire)
            || !self.socket.exists()
        {
            return false;
        }
        answers(&self.ssh, &self.socket, &self.host, &self.label).await
    }

    /// `ssh -O exit`: closes the master and every session multiplexed on it. A master that
    /// does not answer within [`CONTROL_LIMIT`] (wedged, stopped) is killed with its process
    /// group all the same, so closing and shutdown cannot hang on it.
    pub async fn exit(&self) {
        if self.closed.swap(true, Ordering::Relaxed) {
            return;
        }
        if let Ok(None) = self.control("exit").output_within(CONTROL_LIMIT).await {
            tracing::warn!(dest = %self.label, "the ControlMaster did not answer `ssh -O exit` within {} s; killing it", CONTROL_LIMIT.as_secs());
        }
        self.proc.terminate(Duration::from_millis(500)).await;
        let _ = std::fs::remove_file(&self.socket);
    }

    fn control(&self, op: &str) -> crate::ssh::Argv {
        control(&self.ssh, &self.socket, op, &self.host)
    }
}

/// `ssh -O check` on the master at `socket`: true when it answers within [`CONTROL_LIMIT`].
/// For helpers that hold a socket but not the [`Master`] (file transfers).
pub async fn answers(ssh: &SshProgram, socket: &Path, host: &str, label: &str) -> bool {
    match control(ssh, socket, "check", host)
        .output_within(CONTROL_LIMIT)
        .await
    {
        Ok(Some(o)) => o.status.success(),
        Ok(None) => {
            tracing::warn!(dest = %label, "the ControlMaster did not answer `ssh -O check` within {} s; replacing it", CONTROL_LIMIT.as_secs());
            false
        }
        Err(_) => false,
    }
}

/// `ssh -F none -S socket -O op -- host`. The user's configuration is not read: `-S` names
/// the master, and a slow `Match exec` there must not slow every check.
fn control(ssh: &SshProgram, socket: &Path, op: &str, host: &str) -> crate::ssh::Argv {
    ssh.argv_without_config()
        .control(socket)
        .arg("-O")
        .arg(op)
        .destination(host)
}

impl Drop for Master {
    fn drop(&mut self) {
        // The PtyProcess hangs the master up when it drops; the socket file goes with it.
        if !self.closed.swap(true, Ordering::Relaxed) {
            let _ = std::fs::remove_file(&self.socket);
        }
    }
}

pub(crate) fn unknown_key_detail(
    key_type: Option<&str>,
    fingerprint: Option<&str>,
    host: &str,
) -> String {
    format!(
        "the server's {} host key {} is not in known_hosts, and host keys are never accepted automatically. Check the fingerprint with the server's administrator, then add it (for example run `ssh {host}` once in a terminal and answer yes)",
        key_type.unwrap_or("unknown-type"),
        fingerprint.unwrap_or("(fingerprint not shown)"),
    )
}

/// Turns ssh's log and terminal text into the error that names the failing stage.
pub(crate) async fn diagnose(
    s: &MasterStart<'_>,
    dest: &str,
    text: &str,
    code: Option<i32>,
) -> Error {
    let lower = text.to_ascii_lowercase();
    let fingerprint = text
        .split_whitespace()
        .find(|w| w.starts_with("SHA256:") || w.starts_with("MD5:"))
        .map(|w| w.trim_end_matches('.').to_string());
    if lower.contains("remote host identification has changed") {
        return Error::HostKey {
            dest: dest.into(),
            detail: format!(
                "the host key CHANGED since it was recorded in known_hosts (new key {}). This can mean a man-in-the-middle attack, or a reinstalled server. Verify with the administrator; if it is legitimate, remove the old key with `ssh-keygen -R` and connect once in a terminal",
                fingerprint.as_deref().unwrap_or("fingerprint not shown")
            ),
        };
    }
    if lower.contains("host key verification failed") || lower.contains("host key is known for") {
        let fp = match fingerprint {
            Some(f) => Some(f),
            None => probe_fingerprint(s).await,
        };
        let key_type = text
            .split("No ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .map(str::to_string);
        return Error::HostKey {
            dest: dest.into(),
            detail: unknown_key_detail(key_type.as_deref(), fp.as_deref(), &s.target.host),
        };
    }
    let summary = first_lines(
        &text
            .lines()
            .filter(|l| !is_info_line(l))
            .collect::<Vec<_>>()
            .join("\n"),
        4,
    );
    if lower.contains("permission denied") || lower.contains("too many authentication failures") {
        return Error::AuthFailed {
            dest: dest.into(),
            detail: format!(
                "{summary}. Check the user name, the key (ssh-agent, IdentityFile, key_filename) or pass `password`"
            ),
        };
    }
    if code == Some(0) {
        return Error::Master {
            dest: dest.into(),
            detail: format!(
                "ssh connected but the control socket {} did not appear: {summary}",
                s.socket.display()
            ),
        };
    }
    Error::Connect {
        dest: dest.into(),
        detail: format!("{summary} (ssh exit code {})", code.unwrap_or(-1)),
    }
}

/// Lines the master logs at INFO that are not about a failure.
fn is_info_line(line: &str) -> bool {
    line.starts_with("Warning: Permanently added") || line.starts_with("Authenticated to ")
}

/// ssh with `StrictHostKeyChecking yes` does not print the fingerprint of an unknown key. Repeat
/// the connection with debug output and strict checking forced on (it can never accept the
/// key) and read the `Server host key:` line.
async fn probe_fingerprint(s: &MasterStart<'_>) -> Option<String> {
    let argv = s
        .ssh
        .argv()
        .arg("-v")
        .opt("BatchMode", "yes")
        .opt("StrictHostKeyChecking", "yes")
        .opt("ControlMaster", "no")
        .opt("ControlPath", "none")
        .target_options(s.target)
        .destination(&s.target.host)
        .arg("true");
    let out = argv.output_within(Duration::from_secs(10)).await.ok()??;
    let err = String::from_utf8_lossy(&out.stderr);
    err.lines()
        .find_map(|l| l.split("Server host key: ").nth(1))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .map(str::to_string)
}
