//! One ControlMaster per destination: started in a PTY so that password, passphrase and
//! host-key prompts reach our matcher; checked with `-O check` before reuse; closed with
//! `-O exit` on close, at shutdown and on drop.
//!
//! The master stays in the foreground as our PTY child (no `-f`, no ControlPersist): if the
//! server dies, the kernel hangs up its terminal and the master goes with it, so no master
//! outlives the server. (With `-f`, ssh's parent exits right after forking the master, and the
//! hang-up that the session leader's exit sends to its process group can kill the new master
//! before it detaches.) Readiness is the control socket appearing, watched with inotify.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::expect::{PromptKind, classify};
use crate::pty::PtyProcess;
use crate::secret::Secret;
use crate::ssh::ask;
use crate::ssh::resolve::first_lines;
use crate::ssh::watch::CreationWatch;
use crate::ssh::{Resolved, SshProgram, Target};
use crate::term::{Event, Stripper};

/// A live ControlMaster (a daemonised `ssh -M -f -N`).
#[derive(Debug)]
pub struct Master {
    ssh: SshProgram,
    host: String,
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
    /// Typed at a password or key-passphrase prompt, once.
    pub password: Option<&'a Secret>,
    pub timeout: Duration,
    /// `user@host:port`, for messages.
    pub label: &'a str,
    /// This run's known_hosts file, where a host key the human accepts is recorded.
    pub known_hosts: Option<PathBuf>,
}

impl Master {
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Starts a master. `-f` makes ssh fork after authentication, so the exit of the process we
    /// spawned is the readiness signal; until then its terminal shows any prompt.
    pub async fn start(s: MasterStart<'_>, cancel: &CancellationToken) -> Result<Master> {
        let _ = std::fs::remove_file(&s.socket);
        let mut argv = s
            .ssh
            .argv()
            .arg("-E")
            .arg(&s.log)
            .control(&s.socket)
            .arg("-M")
            .arg("-N")
            .opt("ControlMaster", "yes")
            .opt("ControlPersist", "no");
        // Keep-alives make a dead network visible; only when the user configured none.
        if s.resolved.and_then(|r| r.get("serveraliveinterval")) == Some("0") {
            argv = argv
                .opt("ServerAliveInterval", 15)
                .opt("ServerAliveCountMax", 4);
        }
        // A host key the human accepts "for this run" goes to this run's file (see ask::host_key).
        let known_hosts = s
            .known_hosts
            .as_deref()
            .and_then(|k| ask::session_known_hosts(s.resolved, k));
        if let Some((files, _)) = &known_hosts {
            argv = argv.opt("UserKnownHostsFile", files);
        }
        let argv = argv.target_options(s.target).destination(&s.target.host);
        tracing::debug!(argv = %argv.display(), "starting ControlMaster");
        let (mut proc, mut rx) =
            PtyProcess::spawn(argv.pty_command("dumb"), 200, 50).map_err(|source| {
                Error::Spawn {
                    program: s.ssh.program.clone(),
                    source,
                }
            })?;
        let dest = s.label.to_string();
        let mut stripper = Stripper::new();
        let mut events = Vec::new();
        let mut screen = String::new();
        let mut lines_seen = 0usize;
        let mut answered_line: Option<usize> = None;
        // Prompts answered so far: the same prompt again means the secret was rejected; a
        // different one (a ProxyJump host, a key passphrase, then a password) gets an answer.
        let mut answered: Vec<String> = Vec::new();
        let mut deadline = tokio::time::Instant::now() + s.timeout;
        // Copies a key the human accepted into known_hosts when the login is over.
        let mut _save_key = None;
        let mut touch = ask::TouchWatch::default();
        // Generic questions ("Verification code:") are only trusted once output has settled.
        let settle = Duration::from_millis(400);
        let mut pending_question: Option<(tokio::time::Instant, String)> = None;
        let watch = CreationWatch::new(&s.socket).map_err(|e| {
            Error::io(
                format!("cannot watch {} for the control socket", s.socket.display()),
                e,
            )
        })?;
        let mut exited = false;

        let outcome: Result<()> = loop {
            let question_due = pending_question.as_ref().map(|(t, _)| *t);
            tokio::select! {
                r = watch.created() => match r {
                    Ok(()) => break Ok(()),
                    Err(e) => break Err(Error::io("watching for the control socket", e)),
                },
                chunk = rx.recv() => {
                    let Some(bytes) = chunk else { exited = true; break Ok(()) };
                    events.clear();
                    stripper.feed(&bytes, &mut events);
                    for e in &events {
                        if let Event::Text(t) = e {
                            touch.see(&dest, t);
                            lines_seen += t.matches('\n').count();
                            screen.push_str(t);
                            if screen.len() > 16 * 1024 {
                                let cut = screen.len() - 8 * 1024;
                                let cut = (cut..screen.len()).find(|i| screen.is_char_boundary(*i)).unwrap_or(0);
                                screen.drain(..cut);
                            }
                        }
                    }
                    pending_question = None;
                    let partial = stripper.partial_line();
                    if answered_line == Some(lines_seen) {
                        continue;
                    }
                    let Some(prompt) = classify(&partial, &screen) else { continue };
                    match prompt.kind {
                        PromptKind::HostKey { key_type, fingerprint } => {
                            let asked_at = tokio::time::Instant::now();
                            let q = ask::HostKeyQuestion { dest: dest.clone(), key_type: key_type.clone(), fingerprint: fingerprint.clone() };
                            let answer = ask::host_key(q, known_hosts.as_ref().map(|k| &k.1)).await;
                            deadline += asked_at.elapsed();
                            match answer {
                                Ok((bytes, save)) => {
                                    _save_key = save;
                                    if let Err(e) = proc.write_all(bytes) {
                                        break Err(Error::Connect { dest: dest.clone(), detail: format!("could not answer the host-key question: {e}") });
                                    }
                                    answered_line = Some(lines_seen);
                                }
                                Err(why) => break Err(Error::HostKey {
                                    dest: dest.clone(),
                                    detail: unknown_key_detail(key_type.as_deref(), fingerprint.as_deref(), &s.target.host) + &why,
                                }),
                            }
                        }
                        PromptKind::Password | PromptKind::SudoPassword | PromptKind::Passphrase => {
                            let is_passphrase = prompt.kind == PromptKind::Passphrase;
                            // Nothing given: the human may type it in a one-time local page.
                            let asked = match s.password {
                                None if !answered.contains(&prompt.text) && answered.len() < 3 => {
                                    let asked_at = tokio::time::Instant::now();
                                    let what = if is_passphrase { "a key passphrase" } else { "a password" };
                                    let a = ask::secret(ask::SecretQuestion { dest: dest.clone(), what, prompt: prompt.text.clone() }).await.ok();
                                    deadline += asked_at.elapsed();
                                    a
                                }
                                _ => None,
                            };
                            match s.password.or(asked.as_ref()) {
                                // Asked again after an answer: it was rejected.
                                _ if answered.contains(&prompt.text) || answered.len() >= 3 => break Err(Error::AuthFailed {
                                    dest: dest.clone(),
                                    detail: format!(
                                        "the {} was rejected (ssh asked again: {:?})",
                                        if is_passphrase { "passphrase" } else { "password" },
                                        prompt.text
                                    ),
                                }),
                                None => break Err(Error::AuthNeeded {
                                    dest: dest.clone(),
                                    what: if is_passphrase { "a key passphrase" } else { "a password" },
                                    prompt: prompt.text.clone(),
                                    hint: if is_passphrase {
                                        "Load the key into ssh-agent (ssh-add), pass the passphrase as `password` or set OVRD_<host>_PASS; an MCP client with URL elicitation lets the user type it in a one-time local page."
                                    } else {
                                        "Pass `password`, set OVRD_<host>_PASS, or set up key authentication (ssh-agent, IdentityFile in ~/.ssh/config); an MCP client with URL elicitation lets the user type it in a one-time local page."
                                    },
                                }),
                                Some(secret) => {
                                    if let Err(e) = type_secret(&mut proc, secret) {
                                        break Err(Error::Connect { dest: dest.clone(), detail: format!("could not answer the prompt: {e}") });
                                    }
                                    answered.push(prompt.text.clone());
                                    answered_line = Some(lines_seen);
                                }
                            }
                        }
                        _ => {
                            pending_question = Some((tokio::time::Instant::now() + settle, prompt.text));
                        }
                    }
                }
                _ = async { tokio::time::sleep_until(question_due.unwrap()).await }, if question_due.is_some() => {
                    let text = pending_question.take().map(|(_, t)| t).unwrap_or_default();
                    // A question nothing else answers (keyboard-interactive): the human may.
                    let asked_at = tokio::time::Instant::now();
                    let asked = ask::secret(ask::SecretQuestion { dest: dest.clone(), what: "an answer", prompt: text.clone() }).await;
                    deadline += asked_at.elapsed();
                    if let Ok(answer) = asked {
                        if let Err(e) = type_secret(&mut proc, &answer) {
                            break Err(Error::Connect { dest: dest.clone(), detail: format!("could not answer the prompt: {e}") });
                        }
                        answered_line = Some(lines_seen);
                        continue;
                    }
                    break Err(Error::AuthNeeded {
                        dest: dest.clone(),
                        what: "an answer we cannot give",
                        prompt: text,
                        hint: "Set up key authentication or ssh-agent for this host, or log in once in a terminal to see what it asks.",
                    });
                }
                _ = tokio::time::sleep_until(deadline) => {
                    break Err(Error::Connect {
                        dest: dest.clone(),
                        detail: format!("no connection after {}s (last output: {:?})", s.timeout.as_secs(), tail(&screen, &stripper)),
                    });
                }
                _ = cancel.cancelled() => break Err(Error::Cancelled),
            }
        };

        if let Err(e) = outcome {
            proc.terminate(Duration::from_millis(200)).await;
            return Err(e);
        }
        if !exited {
            // Keep draining the master's terminal (it may print warnings) and notice its end.
            let running = Arc::new(AtomicBool::new(true));
            let flag = running.clone();
            tokio::spawn(async move {
                while rx.recv().await.is_some() {}
                flag.store(false, Ordering::Release);
            });
            return Ok(Master {
                ssh: s.ssh.clone(),
                host: s.target.host.clone(),
                socket: s.socket,
                closed: AtomicBool::new(false),
                running,
                proc,
            });
        }
        let code = proc.wait_for(Duration::from_secs(5)).await;
        let log = std::fs::read_to_string(&s.log).unwrap_or_default();
        let text = format!("{log}\n{screen}{}", stripper.partial_line());
        Err(diagnose(&s, &dest, &text, code).await)
    }

    /// `ssh -O check`: true when the master answers.
    pub async fn check(&self) -> bool {
        if self.closed.load(Ordering::Relaxed)
            || !self.running.load(Ordering::Acquire)
            || !self.socket.exists()
        {
            return false;
        }
        let out = self.control("check").tokio_command().output().await;
        matches!(out, Ok(o) if o.status.success())
    }

    /// `ssh -O exit`: closes the master and every session multiplexed on it.
    pub async fn exit(&self) {
        if self.closed.swap(true, Ordering::Relaxed) {
            return;
        }
        let _ = self.control("exit").tokio_command().output().await;
        self.proc.terminate(Duration::from_millis(500)).await;
        let _ = std::fs::remove_file(&self.socket);
    }

    fn control(&self, op: &str) -> crate::ssh::Argv {
        self.ssh
            .argv()
            .control(&self.socket)
            .arg("-O")
            .arg(op)
            .destination(&self.host)
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        // The PtyProcess hangs the master up when it drops; the socket file goes with it.
        if !self.closed.swap(true, Ordering::Relaxed) {
            let _ = std::fs::remove_file(&self.socket);
        }
    }
}

/// Types a secret and Enter at a prompt, control characters quoted for the terminal.
pub(crate) fn type_secret(proc: &mut PtyProcess, secret: &Secret) -> std::io::Result<()> {
    let mut bytes = crate::session::encode::literal_bytes(secret.expose());
    bytes.push(b'\n');
    proc.write_all(&bytes)
}

fn tail(screen: &str, stripper: &Stripper) -> String {
    let mut t: String = screen
        .chars()
        .rev()
        .take(300)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    t.push_str(&stripper.partial_line());
    t.trim().to_string()
}

fn unknown_key_detail(key_type: Option<&str>, fingerprint: Option<&str>, host: &str) -> String {
    format!(
        "the server's {} host key {} is not in known_hosts, and host keys are never accepted automatically. Check the fingerprint with the server's administrator, then add it (for example run `ssh {host}` once in a terminal and answer yes)",
        key_type.unwrap_or("unknown-type"),
        fingerprint.unwrap_or("(fingerprint not shown)"),
    )
}

/// Turns ssh's log and terminal text into the error that names the failing stage.
async fn diagnose(s: &MasterStart<'_>, dest: &str, text: &str, code: Option<i32>) -> Error {
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
            .filter(|l| !l.starts_with("Warning: Permanently added"))
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
    let out = tokio::time::timeout(Duration::from_secs(10), argv.tokio_command().output())
        .await
        .ok()?
        .ok()?;
    let err = String::from_utf8_lossy(&out.stderr);
    err.lines()
        .find_map(|l| l.split("Server host key: ").nth(1))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .map(str::to_string)
}
