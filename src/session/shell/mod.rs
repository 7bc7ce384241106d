//! One persistent remote shell: `ssh -tt` through the destination's ControlMaster, in a PTY.
//!
//! Spawning logs in ([`login`]): the first prompt decides whether the other side is a POSIX
//! shell (set up for the marker protocol, [`crate::session::posix`]) or a network device's
//! CLI. From then on an actor task ([`actor`]) is the only reader of the PTY and drives the
//! chosen [`Dialect`]. Commands are handed to the actor with their record; their output and
//! completion land in the record, so a command can outlive the tool call that started it.
//! Input and interrupts name the command they are for and are refused once it has ended.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::expect::{Expect, ExpectError};
use crate::jobs::{Job, JobStatus};
use crate::pty::PtyProcess;
use crate::pty::tail::RawTail;
use crate::secret::Secret;
use crate::session::device::DeviceDialect;
use crate::session::dialect::Dialect;
use crate::session::posix::bootstrap::{Setup, SetupError, setup};
use crate::ssh::{SshProgram, Target};

mod actor;
pub mod login;

use actor::Actor;
use login::Login;

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
    /// What an earlier shell of this destination turned out to be: a POSIX shell is set up
    /// without waiting for its prompt (the set-up still notices if it is not one).
    pub known_dialect: Option<String>,
}

/// What is known about a shell, for listings and notes.
#[derive(Debug, Clone, Default)]
pub struct ShellInfo {
    /// `posix`, or a device family.
    pub dialect: String,
    pub login_shell: Option<String>,
    /// 1 for the login shell's level; more inside `sudo -i`, `su -`, `bash`...
    pub depth: u32,
    pub cwd: Option<String>,
    /// Set when the login shell was not POSIX and we started bash/sh inside it.
    pub posix_fallback: bool,
    /// A device's mode and prompt.
    pub mode: Option<String>,
    /// Why the shell ended, once it has.
    pub ended: Option<String>,
    pub current_job: Option<String>,
    /// What the login answered on the way (a banner's key), for the first command's notes.
    pub login_notes: Vec<String>,
}

/// Options of one command run.
#[derive(Default)]
pub struct RunOptions {
    pub sudo_password: Option<Secret>,
    /// A network device's enable step: the password and the command (`enable`).
    pub enable_password: Option<Secret>,
    pub enable_command: String,
    /// Every secret of this call, for redaction.
    pub secrets: Vec<Secret>,
    /// Who can answer, in the human's stead, a login prompt the command meets (`ssh other`).
    pub asker: Option<Arc<dyn crate::ssh::ask::Asker>>,
}

/// Why a request about a command was refused.
pub type Reply = oneshot::Sender<std::result::Result<(), String>>;

pub(crate) enum Request {
    /// Run a command in the claimed shell.
    Run {
        job: Arc<Job>,
        command: String,
        options: RunOptions,
    },
    /// Raw input typed into the claimed, idle shell, recorded as its own command.
    Raw { job: Arc<Job>, bytes: Vec<u8> },
    /// Input for the named command (an answer, keys).
    Input {
        job_id: String,
        bytes: Vec<u8>,
        reply: Reply,
    },
    /// Interrupt the named command.
    Interrupt { job_id: String, reply: Reply },
    /// End the named command by ending its shell (it ignored interrupts).
    Kill {
        job_id: String,
        reason: String,
        reply: Reply,
    },
    /// The human's answer to the named command's prompt on `line` (typed only if that prompt
    /// still waits), or why none came (the prompt is then reported as waiting for input).
    Answer {
        job_id: String,
        line: usize,
        answer: std::result::Result<Secret, (String, crate::expect::Prompt)>,
    },
}

struct Shared {
    busy: AtomicBool,
    alive: AtomicBool,
    info: Mutex<ShellInfo>,
    /// The command the shell runs, so that whoever ends the shell can finish its record.
    current: Mutex<Option<Arc<Job>>>,
    /// Raw terminal output, for the screen model of interactive tools.
    raw: Arc<Mutex<RawTail>>,
    /// Secrets used in this shell: masked in everything it shows.
    secrets: Mutex<Vec<Secret>>,
    /// Cancelled to end the shell.
    closing: CancellationToken,
}

/// Raw output kept per shell for `read_screen`.
const RAW_TAIL: usize = 256 * 1024;
/// Requests queued for one shell at most; beyond it callers are told the shell is swamped.
const REQUEST_QUEUE: usize = 64;

/// A handle to a shell actor.
pub struct ShellHandle {
    pub index: usize,
    tx: mpsc::Sender<Request>,
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
    /// Spawns `ssh -tt` through the master, logs in and sets the shell up. Returns when the
    /// shell is ready for commands.
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
        let (proc, rx) = PtyProcess::spawn(argv.pty_command("xterm-256color"), s.columns, s.rows)
            .map_err(|source| Error::Spawn {
            program: s.ssh.program.clone(),
            source,
        })?;
        let nonce = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        let deadline = Instant::now() + s.timeout;
        let mut ex = Expect::new(rx);
        // Until we know what answers, behave like a terminal: a device may probe it at login.
        ex.answer_queries(proc.input().clone(), s.rows);
        let started = match start(&mut ex, &proc, &nonce, &s, deadline, cancel).await {
            Ok(d) => d,
            Err(e) => {
                proc.terminate(Duration::from_millis(200)).await;
                return Err(e);
            }
        };
        let (dialect, info) = started;
        tracing::debug!(dialect = %info.dialect, login_shell = ?info.login_shell, depth = info.depth, "shell ready");
        let (rx, stripper, _pending) = ex.into_parts();
        let shared = Arc::new(Shared {
            busy: AtomicBool::new(false),
            alive: AtomicBool::new(true),
            info: Mutex::new(info),
            current: Mutex::new(None),
            raw: Arc::new(Mutex::new(RawTail::new(RAW_TAIL))),
            secrets: Mutex::new(Vec::new()),
            closing: CancellationToken::new(),
        });
        let (tx, req_rx) = mpsc::channel(REQUEST_QUEUE);
        let pid = proc.pid();
        let actor = Actor::new(actor::Parts {
            to_self: tx.downgrade(),
            proc,
            rx,
            req_rx,
            stripper,
            dialect,
            shared: shared.clone(),
            log: s.log.clone(),
            rows: s.rows,
        });
        supervise(actor, shared.clone());
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

    fn set_current(&self, id: Option<String>) {
        self.shared
            .info
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .current_job = id;
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

    /// The secrets used in this shell, for masking what it shows.
    pub fn secrets(&self) -> Vec<Secret> {
        self.shared
            .secrets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Runs a command in a claimed shell.
    pub fn run(&self, job: Arc<Job>, command: &str, options: RunOptions) -> Result<()> {
        self.submit(
            job.clone(),
            Request::Run {
                job,
                command: command.to_string(),
                options,
            },
        )
    }

    /// Types raw input into the claimed, idle shell as a command of its own.
    pub fn run_raw(&self, job: Arc<Job>, bytes: Vec<u8>) -> Result<()> {
        self.submit(job.clone(), Request::Raw { job, bytes })
    }

    fn submit(&self, job: Arc<Job>, req: Request) -> Result<()> {
        // The shell's command from the moment it is handed over, not from when the driver gets
        // to it: a listing or a limit error in between names it.
        self.set_current(Some(job.id.clone()));
        *self
            .shared
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(job);
        self.tx.try_send(req).map_err(|e| {
            *self
                .shared
                .current
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = None;
            self.set_current(None);
            Error::Disconnected {
                dest: format!("shell #{}", self.index),
                detail: match e {
                    mpsc::error::TrySendError::Full(_) => {
                        "the shell is not keeping up with requests".into()
                    }
                    mpsc::error::TrySendError::Closed(_) => "the shell has ended".into(),
                },
            }
        })
    }

    /// Types into the named command's terminal.
    pub async fn send_input(
        &self,
        job_id: &str,
        bytes: Vec<u8>,
    ) -> std::result::Result<(), String> {
        self.ask(|reply| Request::Input {
            job_id: job_id.to_string(),
            bytes,
            reply,
        })
        .await
    }

    /// Interrupts the named command.
    pub async fn interrupt(&self, job_id: &str) -> std::result::Result<(), String> {
        self.ask(|reply| Request::Interrupt {
            job_id: job_id.to_string(),
            reply,
        })
        .await
    }

    /// Ends the named command by ending the shell it runs in.
    pub async fn kill(&self, job_id: &str, reason: &str) -> std::result::Result<(), String> {
        self.ask(|reply| Request::Kill {
            job_id: job_id.to_string(),
            reason: reason.to_string(),
            reply,
        })
        .await
    }

    async fn ask(&self, req: impl FnOnce(Reply) -> Request) -> std::result::Result<(), String> {
        let (reply, answer) = oneshot::channel();
        self.tx.try_send(req(reply)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                "the shell is not keeping up with requests; try again".to_string()
            }
            mpsc::error::TrySendError::Closed(_) => "the shell has ended".to_string(),
        })?;
        answer
            .await
            .unwrap_or_else(|_| Err("the shell has ended".to_string()))
    }

    /// Ends the shell (and whatever runs in it).
    pub fn close(&self) {
        self.shared.alive.store(false, Ordering::Release);
        self.shared.closing.cancel();
    }
}

/// Logs in and sets the shell up with the dialect its first prompt calls for.
async fn start(
    ex: &mut Expect,
    proc: &PtyProcess,
    nonce: &str,
    s: &ShellSpawn<'_>,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<(Box<dyn Dialect>, ShellInfo)> {
    let dest = s.label.to_string();
    let expect_err = |e: ExpectError, stage: &str| -> Error {
        match e {
            ExpectError::Cancelled => Error::Cancelled,
            ExpectError::Eof { seen } => ended_during_setup(&dest, proc, &s.log, &seen),
            e => Error::Shell {
                dest: dest.clone(),
                detail: format!("{stage}: {e}{}", log_suffix(&s.log)),
            },
        }
    };
    let login = if s.known_dialect.as_deref() == Some("posix") {
        Ok(Login::Shell {
            prompt: None,
            answered: Vec::new(),
        })
    } else {
        login::await_prompt(ex, proc.input(), deadline, cancel).await
    };
    tracing::debug!(?login, "login");
    let login = login.map_err(|e| match e {
            login::LoginError::Expect(e) => expect_err(e, "waiting for the first prompt"),
            login::LoginError::Asked(prompt) => Error::Shell {
                dest: dest.clone(),
                detail: format!(
                    "after logging in, the remote side asked {:?} ({}) before showing a prompt; answer it once in a terminal (`ssh {}`), then try again",
                    prompt.text,
                    crate::jobs::prompt_kind_name(&prompt.kind),
                    s.target.host
                ),
            },
        })?;
    let answered_notes = |answered: &[&str]| -> Vec<String> {
        answered
            .iter()
            .map(|a| format!("at login the other side asked a question ({a}); it was given the answer that changes nothing"))
            .collect()
    };
    let (login_prompt, answered) = match login {
        Login::Device { detected, answered } => {
            return Ok(device(detected, answered_notes(&answered)));
        }
        Login::Shell { prompt, answered } => (prompt, answered),
    };
    let setup_args = Setup {
        nonce,
        input: proc.input(),
        deadline,
        login_prompt: login_prompt.as_deref(),
        cwd: s.cwd.as_deref(),
    };
    match setup(ex, setup_args, cancel).await {
        Ok((dialect, p)) => Ok((
            Box::new(dialect),
            ShellInfo {
                dialect: "posix".into(),
                login_shell: p.login_shell,
                depth: p.depth,
                cwd: p.cwd,
                posix_fallback: p.posix_fallback,
                login_notes: answered_notes(&answered),
                ..Default::default()
            },
        )),
        Err(SetupError::NotAShell { prompt, .. }) => {
            // Not a shell: a CLI whose prompt we did not place at once; the table may know it.
            ex.take_pending();
            match crate::devices::detect(&prompt) {
                Some(detected) => {
                    let mut notes = answered_notes(&answered);
                    notes.push("the login's prompt was not recognised at once; the shell probe typed into it got an error, so it is driven as a network device".into());
                    Ok(device(detected, notes))
                }
                None => Err(Error::Shell {
                    dest,
                    detail: format!(
                        "the other side is not a POSIX shell (it answered our probe with an error and showed {prompt:?} again), and its prompt is not one of a network device family we know"
                    ),
                }),
            }
        }
        Err(SetupError::Write(e)) => Err(Error::Shell {
            dest,
            detail: format!("could not write to the terminal: {e}"),
        }),
        Err(SetupError::Expect(e)) => Err(expect_err(e, "setting up the shell")),
    }
}

/// A device session: its dialect and what listings show of it.
fn device(detected: crate::devices::Detected, notes: Vec<String>) -> (Box<dyn Dialect>, ShellInfo) {
    let info = ShellInfo {
        dialect: detected.family.name.to_string(),
        depth: 1,
        mode: Some(format!(
            "{} ({} mode, prompt {:?})",
            detected.family.vendor,
            detected.mode.as_str(),
            detected.prompt.trim()
        )),
        ..Default::default()
    };
    (Box::new(DeviceDialect::new(detected, notes)), info)
}

/// The shell's terminal closed while it was being set up: say why, as far as ssh told.
fn ended_during_setup(dest: &str, proc: &PtyProcess, log: &Path, seen: &str) -> Error {
    let code = proc.try_exit_code();
    let log = read_log(log);
    if log.contains("administratively prohibited") {
        return Error::Shell {
            dest: dest.to_string(),
            detail: format!(
                "the server refused another session ({log}): its sshd MaxSessions (10 by default) is reached. Wait for a running command to finish, interrupt one, or lower MCP_SSH_MAX_SHELLS"
            ),
        };
    }
    let seen = seen.trim();
    Error::Disconnected {
        dest: dest.to_string(),
        detail: format!(
            "the shell session ended during set-up (ssh exit code {}){}{}",
            code.unwrap_or(-1),
            if log.is_empty() {
                String::new()
            } else {
                format!(": {log}")
            },
            if seen.is_empty() {
                String::new()
            } else {
                format!(
                    "; last output: {:?}",
                    seen.chars()
                        .rev()
                        .take(300)
                        .collect::<String>()
                        .chars()
                        .rev()
                        .collect::<String>()
                )
            }
        ),
    }
}

/// Runs the actor, and makes sure its command record and the shell's state are finished
/// even if the actor panics.
fn supervise(actor: Actor, shared: Arc<Shared>) {
    let task = tokio::spawn(actor.run());
    tokio::spawn(async move {
        if let Err(e) = task.await {
            let why = format!("the shell's driver failed ({e}); this is a bug, please report it");
            tracing::error!("{why}");
            shared.alive.store(false, Ordering::Release);
            {
                let mut i = shared.info.lock().unwrap_or_else(|e| e.into_inner());
                i.ended = Some(why.clone());
                i.current_job = None;
            }
            if let Some(job) = shared
                .current
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
            {
                job.finish(JobStatus::Failed, None, Some(why));
            }
            shared.busy.store(false, Ordering::Release);
        }
    });
}

fn log_suffix(path: &Path) -> String {
    let log = read_log(path);
    if log.is_empty() {
        String::new()
    } else {
        format!("; ssh said: {log}")
    }
}

pub(crate) fn read_log(path: &Path) -> String {
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
