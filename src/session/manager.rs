//! The engine behind every tool: destinations by key, commands and their records.

mod sessions;

pub use sessions::{SessionInfo, ShellSummary};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::jobs::{Job, JobRegistry, JobStatus, OutputBuffer, Spools, Waited};
use crate::secret::{Secret, redact};
use crate::session::destination::{Connect, Destination, MasterLease, SessionKey};
use crate::session::shell::{RunOptions, ShellHandle};
use crate::ssh::ask;
use crate::ssh::overrides::{Field, Overrides};
use crate::ssh::{RuntimeDir, Shown, SshProgram, Target};

/// A command to run, with the parameters of the Python tool's `execute_command`.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    pub host: String,
    pub command: String,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub key_filename: Option<String>,
    pub port: Option<u16>,
    pub sudo_password: Option<Secret>,
    /// A network device's enable password (`OVRD_<host>_ENABLE_PASS` when not given) and
    /// enable command (default `enable`).
    pub enable_password: Option<Secret>,
    pub enable_command: Option<String>,
    pub timeout: Duration,
}

/// What `send_input_by_session` did.
#[derive(Debug, Clone)]
pub struct SessionInput {
    /// `user@host:port`.
    pub session: String,
    /// The command the input went to: the one running, or a new record for the input itself.
    pub job: Arc<Job>,
    /// True when the shell was idle and the input runs as its own command.
    pub claimed: bool,
    /// The job's output length before the input went in: what follows is the answer.
    pub output_before: u64,
}

/// A destination as the caller named it: what ssh is given, and what may be shown.
#[derive(Debug, Clone)]
pub struct Named {
    /// Host (after `OVRD_` overrides), user, port and key, as ssh is given them.
    pub target: Target,
    pub shown: Arc<Shown>,
}

pub struct SessionManager {
    config: Arc<Config>,
    ssh: SshProgram,
    runtime: Arc<RuntimeDir>,
    /// Output spool files, on disk under the user's cache directory.
    spools: Spools,
    dests: Mutex<HashMap<SessionKey, Arc<Destination>>>,
    /// Which shell runs which job, for input and interrupts.
    job_shells: Mutex<HashMap<String, std::sync::Weak<ShellHandle>>>,
    pub jobs: JobRegistry,
}

impl SessionManager {
    pub fn new(config: Config) -> Result<Self> {
        let runtime = RuntimeDir::new()?;
        Ok(SessionManager {
            ssh: SshProgram {
                program: config.ssh_program.clone(),
                config: config.ssh_config.clone(),
            },
            jobs: JobRegistry::new(config.history_limit),
            spools: Spools::new(
                config.spool_base.as_deref(),
                config.spool_limit,
                config.spool_total,
            ),
            config: Arc::new(config),
            runtime: Arc::new(runtime),
            dests: Mutex::new(HashMap::new()),
            job_shells: Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The `OVRD_<alias>_*` variables read at start-up.
    pub fn overrides(&self) -> &Overrides {
        &self.config.overrides
    }

    /// Host, user, port and key after the Python tool's `OVRD_<host>_*` overrides (tool
    /// arguments win), validated, with what may be shown of them.
    pub fn named(
        &self,
        host: &str,
        username: Option<&str>,
        port: Option<u16>,
        key_filename: Option<&str>,
    ) -> Result<Named> {
        let o = &self.config.overrides;
        let ovrd = |f: Field| o.get(host, f).map(Secret::expose);
        let shown = Arc::new(if o.names_alias(host) {
            Shown::alias(host)
        } else {
            Shown::plain(host)
        });
        // Hidden before anything can fail: a validation error must not show them either.
        shown.hide_raw(
            ovrd(Field::Host).unwrap_or(host),
            ovrd(Field::User),
            ovrd(Field::Port),
            ovrd(Field::Key),
        );
        let scrub = |e: Error| shown.scrub_error(e);
        let real_host = ovrd(Field::Host).unwrap_or(host);
        let user = username.filter(|u| !u.is_empty()).or(ovrd(Field::User));
        let port = match port {
            Some(p) => Some(p),
            None => match ovrd(Field::Port) {
                Some(p) => Some(p.trim().parse::<u16>().map_err(|_| {
                    Error::invalid(
                        "port",
                        format!("{} is not a port number", Field::Port.var(host)),
                    )
                })?),
                None => None,
            },
        };
        let key = key_filename.filter(|k| !k.is_empty()).or(ovrd(Field::Key));
        let target = Target::new(real_host, user, port, key).map_err(scrub)?;
        if let Some(k) = &target.identity {
            shown.hide_raw(real_host, None, None, Some(&k.to_string_lossy()));
        }
        Ok(Named { target, shown })
    }

    /// The destination ssh is given for a host (see [`SessionManager::named`]).
    pub fn target(
        &self,
        host: &str,
        username: Option<&str>,
        port: Option<u16>,
        key_filename: Option<&str>,
    ) -> Result<Target> {
        Ok(self.named(host, username, port, key_filename)?.target)
    }

    fn destination(&self, named: &Named) -> Arc<Destination> {
        let key = SessionKey::of(named.shown.name(), &named.target);
        let mut g = self.dests.lock().unwrap_or_else(|e| e.into_inner());
        g.entry(key)
            .or_insert_with(|| {
                Arc::new(Destination::new(named.target.clone(), named.shown.clone()))
            })
            .clone()
    }

    /// The login password for a host: the tool argument, else `OVRD_<host>_PASS`.
    fn login_password(&self, host: &str, given: Option<&Secret>) -> Option<Secret> {
        given
            .or_else(|| self.config.overrides.get(host, Field::Pass))
            .cloned()
    }

    /// The sudo password for a command: the tool argument, else `OVRD_<host>_SUDO_PASS` when
    /// the command starts with `sudo` (the Python tool's rule; file tools with `use_sudo` pass
    /// `sudo` as the command).
    pub fn sudo_password(
        &self,
        host: &str,
        given: Option<&Secret>,
        command: &str,
    ) -> Option<Secret> {
        given
            .or_else(|| {
                command
                    .trim_start()
                    .starts_with("sudo")
                    .then(|| self.config.overrides.get(host, Field::SudoPass))
                    .flatten()
            })
            .cloned()
    }

    /// The enable password of a network device: the tool argument, else
    /// `OVRD_<host>_ENABLE_PASS` (for every command, as in the Python tool).
    pub fn enable_password(&self, host: &str, given: Option<&Secret>) -> Option<Secret> {
        given
            .or_else(|| self.config.overrides.get(host, Field::EnablePass))
            .cloned()
    }

    /// Forgets a destination whose connect failed before anything was up, so that no ghost
    /// session stays listed.
    fn forget_if_empty(&self, dest: &Arc<Destination>) {
        if !dest.is_empty() {
            return;
        }
        let mut g = self.dests.lock().unwrap_or_else(|e| e.into_inner());
        if g.get(&dest.key).is_some_and(|d| Arc::ptr_eq(d, dest)) {
            g.remove(&dest.key);
        }
    }

    /// The host's authenticated ControlMaster, started if needed, without taking a shell:
    /// for sftp batches, exec channels and forwards.
    pub async fn master(
        &self,
        host: &str,
        username: Option<&str>,
        port: Option<u16>,
        key_filename: Option<&str>,
        password: Option<&Secret>,
        cancel: &CancellationToken,
    ) -> Result<MasterLease> {
        let named = self.named(host, username, port, key_filename)?;
        let password = self.login_password(host, password);
        let dest = self.destination(&named);
        let connect = Connect {
            config: &self.config,
            ssh: &self.ssh,
            runtime: &self.runtime,
            target: &named.target,
            password: password.as_ref(),
        };
        // A human asked during the login sees only what may be shown.
        let lease = ask::scrubbed(named.shown.clone(), dest.master(&connect, cancel)).await;
        if lease.is_err() {
            self.forget_if_empty(&dest);
        }
        lease.map_err(|e| named.shown.scrub_error(e))
    }

    /// The ssh program every client runs (with the user's `-F` config).
    pub fn ssh(&self) -> &SshProgram {
        &self.ssh
    }

    /// The private (0700) runtime directory, for staging files.
    pub fn runtime(&self) -> &RuntimeDir {
        &self.runtime
    }

    /// Starts a command and returns its record at once; the command goes on in its shell.
    pub async fn start(&self, req: &ExecRequest, cancel: &CancellationToken) -> Result<Arc<Job>> {
        if req.command.trim().is_empty() {
            return Err(Error::invalid("command", "it is empty"));
        }
        if req.command.contains('\0') {
            return Err(Error::invalid("command", "it contains a NUL byte"));
        }
        let named = self.named(
            &req.host,
            req.username.as_deref(),
            req.port,
            req.key_filename.as_deref(),
        )?;
        let password = self.login_password(&req.host, req.password.as_ref());
        let sudo_password = self.sudo_password(&req.host, req.sudo_password.as_ref(), &req.command);
        let enable_password = self.enable_password(&req.host, req.enable_password.as_ref());
        let dest = self.destination(&named);
        let connect = Connect {
            config: &self.config,
            ssh: &self.ssh,
            runtime: &self.runtime,
            target: &named.target,
            password: password.as_ref(),
        };
        let acquired = ask::scrubbed(named.shown.clone(), dest.acquire(&connect, cancel)).await;
        let acquired = match acquired {
            Ok(a) => a,
            Err(e) => {
                self.forget_if_empty(&dest);
                return Err(named.shown.scrub_error(e));
            }
        };
        let secrets: Vec<Secret> = [password, sudo_password.clone(), enable_password.clone()]
            .into_iter()
            .flatten()
            .collect();
        // The record (history, status) never shows a secret, even one typed into the command.
        let shown_command = redact(&req.command, &secrets.iter().collect::<Vec<_>>());
        let job = Job::new(dest.label(), shown_command, self.output_buffer());
        job.set_shown(dest.shown.clone());
        job.update(|s| s.notes.extend(acquired.notes.iter().cloned()));
        self.jobs.insert(job.clone());
        self.remember_shell(&job, &acquired.shell);
        if let Err(e) = acquired.shell.run(
            job.clone(),
            &req.command,
            RunOptions {
                sudo_password,
                enable_password,
                enable_command: req
                    .enable_command
                    .clone()
                    .filter(|c| !c.trim().is_empty())
                    .unwrap_or_else(|| "enable".into()),
                secrets,
                asker: ask::current_for(named.shown.clone()),
            },
        ) {
            acquired.shell.release();
            let e = named.shown.scrub_error(e);
            job.finish(JobStatus::Failed, None, Some(e.to_string()));
            return Err(e);
        }
        Ok(job)
    }

    /// Runs a command and waits up to its timeout (the command goes on after that).
    pub async fn execute(
        &self,
        req: &ExecRequest,
        cancel: &CancellationToken,
    ) -> Result<(Arc<Job>, Waited)> {
        let job = self.start(req, cancel).await?;
        let until = tokio::time::Instant::now() + req.timeout;
        let waited = job.wait(until, cancel).await;
        if waited == Waited::Cancelled {
            // The caller gave up: stop the command, keep the shell.
            let _ = self.interrupt(&job.id).await;
        }
        Ok((job, waited))
    }

    /// The shell running a job, while it runs.
    pub fn shell_of(&self, job_id: &str) -> Option<Arc<ShellHandle>> {
        let g = self.job_shells.lock().unwrap_or_else(|e| e.into_inner());
        g.get(job_id.trim()).and_then(|w| w.upgrade())
    }

    /// The job and its shell, while the job runs; otherwise why not.
    fn active(&self, job_id: &str) -> Result<(Arc<Job>, Arc<ShellHandle>)> {
        let job = self
            .jobs
            .get(job_id)
            .ok_or_else(|| Error::UnknownCommand(job_id.to_string()))?;
        let status = job.status();
        match self.shell_of(job_id) {
            Some(shell) if status.is_active() => Ok((job, shell)),
            _ => Err(Error::NotRunning {
                id: job.id.clone(),
                status: status.as_str(),
            }),
        }
    }

    /// Types into a running job's terminal. The shell's actor counts the job as running
    /// again as it types (a prompt that comes back at once is then reported afresh). Refused
    /// when the job has ended, even if it ended a moment ago: input is never typed into
    /// whatever runs next.
    pub async fn send_input(&self, job_id: &str, bytes: Vec<u8>) -> Result<()> {
        let (job, shell) = self.active(job_id)?;
        shell
            .send_input(&job.id, bytes)
            .await
            .map_err(|detail| self.not_delivered(&job, detail))
    }

    /// Interrupts a running job (Ctrl-C, or a device's break). Refused when it has ended.
    pub async fn interrupt(&self, job_id: &str) -> Result<()> {
        let (job, shell) = self.active(job_id)?;
        shell
            .interrupt(&job.id)
            .await
            .map_err(|detail| self.not_delivered(&job, detail))
    }

    fn not_delivered(&self, job: &Job, detail: String) -> Error {
        match job.status() {
            s if !s.is_active() => Error::NotRunning {
                id: job.id.clone(),
                status: s.as_str(),
            },
            _ => Error::Disconnected {
                dest: job.session.clone(),
                detail,
            },
        }
    }

    /// Stops a job at `until`, whatever state it is in (running, or waiting at a prompt): an
    /// interrupt, another one with Ctrl-\\ if it ignored the first, and if it is still there,
    /// its shell is ended. Returns once the job has ended.
    pub async fn stop_at(&self, job: &Arc<Job>, until: tokio::time::Instant, why: &str) {
        let never = CancellationToken::new();
        if job.wait_ended(until, &never).await {
            return;
        }
        job.update(|s| s.notes.push(why.to_string()));
        let _ = self.interrupt(&job.id).await;
        let grace = Duration::from_secs(3);
        if job
            .wait_ended(tokio::time::Instant::now() + grace, &never)
            .await
        {
            return;
        }
        if let Ok((_, shell)) = self.active(&job.id) {
            let _ = shell.send_input(&job.id, vec![0x03, 0x1c]).await;
        }
        if job
            .wait_ended(tokio::time::Instant::now() + grace, &never)
            .await
        {
            return;
        }
        if let Ok((_, shell)) = self.active(&job.id) {
            let reason = format!("{why}; it ignored Ctrl-C and Ctrl-\\, so its shell was closed");
            let _ = shell.kill(&job.id, &reason).await;
        }
    }

    /// Raw input for a session's main shell (`send_input_by_session`). When the shell is idle,
    /// the input runs as a command of its own (recorded, with its output, and holding the
    /// shell until it is done); when a command runs there, the input goes to that command.
    pub async fn session_input(
        &self,
        host: &str,
        username: Option<&str>,
        port: Option<u16>,
        text: &str,
    ) -> Result<SessionInput> {
        if text.is_empty() {
            return Err(Error::invalid("input_text", "it is empty"));
        }
        let shells = self.live_shells(host, username, port)?;
        let Some((session, shell)) = shells.into_iter().next() else {
            return Err(Error::invalid(
                "host",
                format!("no active shell for {host}; run execute_command first"),
            ));
        };
        if shell.try_claim() {
            let acts = text.bytes().any(|b| b == b'\n' || b == b'\r' || b < 0x20);
            if !acts {
                shell.release();
                return Err(Error::invalid(
                    "input_text",
                    "the session's shell is idle and this text has no Enter (\\n) or control key, so it would only sit on the shell's input line; end it with \\n, or use execute_command to run a command",
                ));
            }
            let secrets = shell.secrets();
            let shown = redact(text, &secrets.iter().collect::<Vec<_>>());
            let job = Job::new(
                session.clone(),
                format!("send_input_by_session: {}", shown.escape_debug()),
                self.output_buffer(),
            );
            self.jobs.insert(job.clone());
            self.remember_shell(&job, &shell);
            if let Err(e) = shell.run_raw(job.clone(), text.as_bytes().to_vec()) {
                shell.release();
                job.finish(JobStatus::Failed, None, Some(e.to_string()));
                return Err(e);
            }
            return Ok(SessionInput {
                session,
                job,
                claimed: true,
                output_before: 0,
            });
        }
        let job = shell
            .info()
            .current_job
            .and_then(|id| self.jobs.get(&id))
            .filter(|j| j.status().is_active())
            .ok_or_else(|| Error::Disconnected {
                dest: session.clone(),
                detail: "the shell is busy finishing a command; try again in a moment".into(),
            })?;
        let output_before = job.with_state(|s| s.output.total_bytes());
        self.send_input(&job.id, text.as_bytes().to_vec()).await?;
        Ok(SessionInput {
            session,
            job,
            claimed: false,
            output_before,
        })
    }

    fn output_buffer(&self) -> OutputBuffer {
        OutputBuffer::new(self.config.output_limit, Some(self.spools.slot()))
    }

    fn remember_shell(&self, job: &Job, shell: &Arc<ShellHandle>) {
        let mut g = self.job_shells.lock().unwrap_or_else(|e| e.into_inner());
        g.retain(|id, w| {
            w.strong_count() > 0 && self.jobs.get(id).is_some_and(|j| j.status().is_active())
        });
        g.insert(job.id.clone(), Arc::downgrade(shell));
    }
}
