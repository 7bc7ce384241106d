//! One persistent remote shell: `ssh -tt` through the destination's ControlMaster, in a PTY,
//! set up for the marker protocol, and driven by an actor task that is the only reader of
//! its PTY. Commands are handed to the actor; their output and completion are recorded in
//! the job, so a command can outlive the tool call that started it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use regex::Regex;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::expect::{Expect, ExpectError, Needle};
use crate::jobs::Job;
use crate::pty::PtyProcess;
use crate::pty::tail::RawTail;
use crate::secret::Secret;
use crate::session::encode::{
    Marker, START_POSIX_SHELL, bootstrap, is_non_posix_shell, probe_token, probed_pid, setup_line,
};
use crate::ssh::{SshProgram, Target};

mod actor;

use actor::Actor;

/// How to spawn a shell.
pub struct ShellSpawn<'a> {
    pub ssh: &'a SshProgram,
    pub target: &'a Target,
    pub socket: &'a Path,
    pub log: PathBuf,
    pub label: &'a str,
    pub index: usize,
    pub columns: u16,
    pub rows: u16,
    pub timeout: Duration,
    /// Start in this directory (parallel shells follow the main shell's cwd).
    pub cwd: Option<String>,
}

/// What is known about a shell, for listings and notes.
#[derive(Debug, Clone, Default)]
pub struct ShellInfo {
    pub login_shell: Option<String>,
    /// 1 for the login shell's level; more inside `sudo -i`, `su -`, `bash`...
    pub depth: u32,
    pub cwd: Option<String>,
    /// Set when the login shell was not POSIX and we started bash/sh inside it.
    pub posix_fallback: bool,
    /// Why the shell ended, once it has.
    pub ended: Option<String>,
    pub current_job: Option<String>,
}

/// Options of one command run.
#[derive(Default)]
pub struct RunOptions {
    pub sudo_password: Option<Secret>,
    /// Every secret of this call, for redaction.
    pub secrets: Vec<Secret>,
}

enum Request {
    Run {
        job: Arc<Job>,
        command: String,
        options: RunOptions,
    },
    Input(Vec<u8>),
    Interrupt,
    Close,
}

struct Shared {
    busy: AtomicBool,
    alive: AtomicBool,
    info: Mutex<ShellInfo>,
    /// Raw terminal output, for the screen model of interactive tools.
    raw: Arc<Mutex<RawTail>>,
}

/// Raw output kept per shell for `read_screen`.
const RAW_TAIL: usize = 256 * 1024;

/// A handle to a shell actor.
pub struct ShellHandle {
    pub index: usize,
    tx: mpsc::UnboundedSender<Request>,
    shared: Arc<Shared>,
    pid: Option<u32>,
}

impl std::fmt::Debug for ShellHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShellHandle")
            .field("index", &self.index)
            .field("pid", &self.pid)
            .finish()
    }
}

impl ShellHandle {
    /// Spawns `ssh -tt` through the master and sets the shell up. Returns when the first
    /// marker prompt has arrived.
    pub async fn spawn(s: ShellSpawn<'_>, cancel: &CancellationToken) -> Result<ShellHandle> {
        let argv = s
            .ssh
            .argv()
            .arg("-E")
            .arg(&s.log)
            .control(s.socket)
            .opt("ControlMaster", "no")
            // A dead master must not silently turn into a new, unshared, prompting connection.
            .opt("BatchMode", "yes")
            // No `~.` escapes: a here-doc line starting with `~.` would drop the connection.
            .arg("-e")
            .arg("none")
            .arg("-tt")
            .target_options(s.target)
            .destination(&s.target.host);
        tracing::debug!(argv = %argv.display(), "starting shell");
        let (mut proc, rx) =
            PtyProcess::spawn(argv.pty_command("xterm-256color"), s.columns, s.rows).map_err(
                |source| Error::Spawn {
                    program: s.ssh.program.clone(),
                    source,
                },
            )?;
        let nonce = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        let dest = s.label.to_string();
        let shell_err = |detail: String| Error::Shell {
            dest: dest.clone(),
            detail,
        };

        // Type-ahead: the shell reads these lines as soon as it is ready.
        proc.write_all(&bootstrap(&nonce, 1))
            .map_err(|e| shell_err(format!("could not write to the terminal: {e}")))?;
        let mut expect = Expect::new(rx);
        let token = Regex::new(&format!(
            "{}[ \\t]*(\\S*)",
            regex::escape(&probe_token(&nonce))
        ))
        .expect("valid regex");
        let deadline = Instant::now() + s.timeout;
        let mut info = ShellInfo {
            depth: 1,
            ..Default::default()
        };
        // Everything the probe printed, for its PID line.
        let mut probe_text = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = expect
                .expect(
                    &[Needle::Marker, Needle::Regex(token.clone()), Needle::Eof],
                    left,
                    cancel,
                )
                .await;
            let m = match m {
                Ok(m) => m,
                Err(ExpectError::Cancelled) => {
                    proc.terminate(Duration::from_millis(200)).await;
                    return Err(Error::Cancelled);
                }
                Err(e) => {
                    proc.terminate(Duration::from_millis(200)).await;
                    let log = read_log(&s.log);
                    return Err(shell_err(format!(
                        "{e}{}",
                        if log.is_empty() {
                            String::new()
                        } else {
                            format!("; ssh said: {log}")
                        }
                    )));
                }
            };
            probe_text.push_str(&m.before);
            probe_text.push_str(&m.matched);
            match m.index {
                0 => {
                    let Some(marker) = Marker::parse(&m.matched).filter(|mk| mk.nonce == nonce)
                    else {
                        continue;
                    };
                    info.cwd = Some(marker.cwd.clone());
                    info.depth = marker.depth;
                    break;
                }
                1 => {
                    let login = token
                        .captures(&m.matched)
                        .and_then(|c| c.get(1))
                        .map(|x| x.as_str().to_string())
                        .filter(|x| !x.is_empty());
                    let non_posix = login.as_deref().is_some_and(is_non_posix_shell);
                    info.login_shell = login;
                    if non_posix && !info.posix_fallback {
                        tracing::info!(shell = ?info.login_shell, "login shell is not POSIX; starting bash/sh inside it");
                        info.posix_fallback = true;
                        let mut bytes = START_POSIX_SHELL.to_vec();
                        bytes.extend_from_slice(&setup_line(&nonce, 1));
                        proc.write_all(&bytes).map_err(|e| {
                            shell_err(format!("could not write to the terminal: {e}"))
                        })?;
                    }
                }
                _ => {
                    let code = proc.wait_for(Duration::from_secs(1)).await;
                    let log = read_log(&s.log);
                    if log.contains("administratively prohibited") {
                        return Err(shell_err(format!(
                            "the server refused another session ({log}): its sshd MaxSessions (10 by default) is reached. Wait for a running command to finish, interrupt one, or lower MCP_SSH_MAX_SHELLS"
                        )));
                    }
                    return Err(Error::Disconnected {
                        dest: dest.clone(),
                        detail: format!(
                            "the shell session ended during set-up (ssh exit code {}){}",
                            code.unwrap_or(-1),
                            if log.is_empty() {
                                String::new()
                            } else {
                                format!(": {log}")
                            }
                        ),
                    });
                }
            }
        }
        tracing::debug!(login_shell = ?info.login_shell, depth = info.depth, "shell ready");
        let (rx, stripper, _pending) = expect.into_parts();
        let shared = Arc::new(Shared {
            busy: AtomicBool::new(false),
            alive: AtomicBool::new(true),
            info: Mutex::new(info.clone()),
            raw: Arc::new(Mutex::new(RawTail::new(RAW_TAIL))),
        });
        let (tx, req_rx) = mpsc::unbounded_channel();
        let pid = proc.pid();
        // With bash started inside a non-POSIX login shell, the PID we saw is not our shell's.
        let shell_pid = probed_pid(&probe_text, &nonce).filter(|_| !info.posix_fallback);
        let mut actor = Actor {
            pids: vec![shell_pid],
            proc,
            rx,
            req_rx,
            stripper,
            nonce,
            depth: info.depth,
            shared: shared.clone(),
            log: s.log.clone(),
            running: None,
            lines: 0,
            recent: String::new(),
            last_output: Instant::now(),
            settle_checked: false,
            events: Vec::new(),
        };
        if let Some(cwd) = s.cwd.filter(|c| Some(c) != info.cwd.as_ref()) {
            actor.change_directory(&cwd, deadline, cancel).await;
        }
        tokio::spawn(actor.run());
        Ok(ShellHandle {
            index: s.index,
            tx,
            shared,
            pid,
        })
    }

    pub fn is_alive(&self) -> bool {
        self.shared.alive.load(Ordering::Acquire)
    }

    pub fn is_busy(&self) -> bool {
        self.shared.busy.load(Ordering::Acquire)
    }

    /// Marks the shell busy if it is alive and idle; the caller must then `run` a command.
    pub fn try_claim(&self) -> bool {
        self.is_alive()
            && self
                .shared
                .busy
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// Releases a claim that was not used.
    pub fn release(&self) {
        self.shared.busy.store(false, Ordering::Release);
    }

    pub fn info(&self) -> ShellInfo {
        self.shared
            .info
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The shell's raw terminal output (last 256 KiB), for a screen model.
    pub fn raw_output(&self) -> Arc<Mutex<RawTail>> {
        self.shared.raw.clone()
    }

    /// Runs a command in a claimed shell.
    pub fn run(&self, job: Arc<Job>, command: &str, options: RunOptions) -> Result<()> {
        self.tx
            .send(Request::Run {
                job,
                command: command.to_string(),
                options,
            })
            .map_err(|_| Error::Disconnected {
                dest: "shell".into(),
                detail: "the shell has ended".into(),
            })
    }

    /// Writes raw bytes to the shell's terminal (answers to prompts, keys).
    pub fn send_input(&self, bytes: Vec<u8>) -> bool {
        self.tx.send(Request::Input(bytes)).is_ok()
    }

    /// Ctrl-C to whatever runs in the foreground.
    pub fn interrupt(&self) -> bool {
        self.tx.send(Request::Interrupt).is_ok()
    }

    /// Ends the shell (and whatever runs in it).
    pub fn close(&self) {
        let _ = self.tx.send(Request::Close);
        self.shared.alive.store(false, Ordering::Release);
    }
}

fn read_log(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Shared connection to"))
        .rev()
        .take(3)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("; ")
}
