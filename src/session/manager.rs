//! The engine behind every tool: destinations by key, commands and their records.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::jobs::{Job, JobRegistry, OutputBuffer, Waited};
use crate::secret::{Secret, redact};
use crate::session::destination::{Connect, Destination, MasterLease, SessionKey};
use crate::session::shell::{RunOptions, ShellHandle};
use crate::ssh::{RuntimeDir, SshProgram, Target};

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
    pub timeout: Duration,
}

/// One session in a listing.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SessionInfo {
    /// `user@host:port`.
    pub session: String,
    pub host: String,
    pub connected: bool,
    pub shells: Vec<ShellSummary>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ShellSummary {
    pub index: usize,
    pub alive: bool,
    pub busy: bool,
    pub cwd: Option<String>,
    /// 1 is the login shell; higher inside `sudo -i`, `su -`, `bash`...
    pub depth: u32,
    pub login_shell: Option<String>,
    pub current_command_id: Option<String>,
}

pub struct SessionManager {
    config: Arc<Config>,
    ssh: SshProgram,
    runtime: Arc<RuntimeDir>,
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
            config: Arc::new(config),
            runtime: Arc::new(runtime),
            dests: Mutex::new(HashMap::new()),
            job_shells: Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Host, user, port and key after the Python tool's `OVRD_<host>_*` overrides, validated.
    pub fn target(
        &self,
        host: &str,
        username: Option<&str>,
        port: Option<u16>,
        key_filename: Option<&str>,
    ) -> Result<Target> {
        let ovrd = |what: &str| {
            std::env::var(format!("OVRD_{host}_{what}"))
                .ok()
                .filter(|v| !v.is_empty())
        };
        let real_host = ovrd("HOST").unwrap_or_else(|| host.to_string());
        let user = username
            .filter(|u| !u.is_empty())
            .map(str::to_string)
            .or_else(|| ovrd("USER"));
        let port = match port {
            Some(p) => Some(p),
            None => match ovrd("PORT") {
                Some(p) => Some(p.trim().parse::<u16>().map_err(|_| {
                    Error::invalid(
                        "port",
                        format!("OVRD_{host}_PORT={p:?} is not a port number"),
                    )
                })?),
                None => None,
            },
        };
        let key = key_filename
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .or_else(|| ovrd("KEY"));
        Target::new(&real_host, user.as_deref(), port, key.as_deref())
    }

    fn destination(&self, target: &Target) -> Arc<Destination> {
        let key = SessionKey::of(target);
        let mut g = self.dests.lock().unwrap_or_else(|e| e.into_inner());
        g.entry(key)
            .or_insert_with(|| Arc::new(Destination::new(target.clone())))
            .clone()
    }

    /// The login password for a host: the tool argument, else `OVRD_<host>_PASS`.
    fn login_password(&self, host: &str, given: Option<&Secret>) -> Option<Secret> {
        given.cloned().or_else(|| {
            std::env::var(format!("OVRD_{host}_PASS"))
                .ok()
                .and_then(Secret::new)
        })
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
        let target = self.target(host, username, port, key_filename)?;
        let password = self.login_password(host, password);
        let dest = self.destination(&target);
        let lease = dest
            .master(
                &Connect {
                    config: &self.config,
                    ssh: &self.ssh,
                    runtime: &self.runtime,
                    target: &target,
                    password: password.as_ref(),
                },
                cancel,
            )
            .await;
        if lease.is_err() {
            self.forget_if_empty(&dest);
        }
        lease
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
        let target = self.target(
            &req.host,
            req.username.as_deref(),
            req.port,
            req.key_filename.as_deref(),
        )?;
        let password = self.login_password(&req.host, req.password.as_ref());
        let sudo_password = req.sudo_password.clone().or_else(|| {
            if req.command.trim_start().starts_with("sudo") {
                std::env::var(format!("OVRD_{}_SUDO_PASS", req.host))
                    .ok()
                    .and_then(Secret::new)
            } else {
                None
            }
        });
        let dest = self.destination(&target);
        let acquired = dest
            .acquire(
                &Connect {
                    config: &self.config,
                    ssh: &self.ssh,
                    runtime: &self.runtime,
                    target: &target,
                    password: password.as_ref(),
                },
                cancel,
            )
            .await;
        let acquired = match acquired {
            Ok(a) => a,
            Err(e) => {
                self.forget_if_empty(&dest);
                return Err(e);
            }
        };
        let spool = self.runtime.fresh("o", ".out");
        let secrets: Vec<Secret> = [password, sudo_password.clone()]
            .into_iter()
            .flatten()
            .collect();
        // The record (history, status) never shows a secret, even one typed into the command.
        let shown_command = redact(&req.command, &secrets.iter().collect::<Vec<_>>());
        let job = Job::new(
            dest.label(),
            shown_command,
            OutputBuffer::new(
                self.config.output_limit,
                Some(spool),
                self.config.spool_limit,
            ),
        );
        job.update(|s| s.notes.extend(acquired.notes.iter().cloned()));
        self.jobs.insert(job.clone());
        {
            let mut g = self.job_shells.lock().unwrap_or_else(|e| e.into_inner());
            g.retain(|id, w| {
                w.strong_count() > 0 && self.jobs.get(id).is_some_and(|j| j.status().is_active())
            });
            g.insert(job.id.clone(), Arc::downgrade(&acquired.shell));
        }
        if let Err(e) = acquired.shell.run(
            job.clone(),
            &req.command,
            RunOptions {
                sudo_password,
                secrets,
            },
        ) {
            acquired.shell.release();
            job.finish(crate::jobs::JobStatus::Failed, None, Some(e.to_string()));
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
            self.interrupt(&job.id);
        }
        Ok((job, waited))
    }

    /// The shell running a job, while it runs.
    pub fn shell_of(&self, job_id: &str) -> Option<Arc<ShellHandle>> {
        let g = self.job_shells.lock().unwrap_or_else(|e| e.into_inner());
        g.get(job_id).and_then(|w| w.upgrade())
    }

    /// Types into a running job's terminal. The job counts as running again at once (not
    /// when the shell gets to it), so a waiter that follows sees the answer's effect.
    /// False when the job is not active.
    pub fn send_input(&self, job_id: &str, bytes: Vec<u8>) -> bool {
        match (self.jobs.get(job_id), self.shell_of(job_id)) {
            (Some(job), Some(shell)) if job.status().is_active() => {
                job.update(|s| s.resume());
                shell.send_input(bytes)
            }
            _ => false,
        }
    }

    /// Ctrl-C to a running job. False when it is not running.
    pub fn interrupt(&self, job_id: &str) -> bool {
        match (self.jobs.get(job_id), self.shell_of(job_id)) {
            (Some(job), Some(shell)) if job.status().is_active() => shell.interrupt(),
            _ => false,
        }
    }

    pub fn sessions(&self) -> Vec<SessionInfo> {
        let dests: Vec<Arc<Destination>> = {
            let g = self.dests.lock().unwrap_or_else(|e| e.into_inner());
            g.values().cloned().collect()
        };
        let mut out: Vec<SessionInfo> = dests
            .iter()
            .map(|d| {
                let shells = d.shells_snapshot();
                SessionInfo {
                    session: d.label(),
                    host: d.key.host.clone(),
                    connected: d.is_connected(),
                    shells: shells
                        .iter()
                        .map(|s| {
                            let i = s.info();
                            ShellSummary {
                                index: s.index,
                                alive: s.is_alive(),
                                busy: s.is_busy(),
                                cwd: i.cwd,
                                depth: i.depth,
                                login_shell: i.login_shell,
                                current_command_id: i.current_job,
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        out.sort_by(|a, b| a.session.cmp(&b.session));
        out
    }

    /// Closes the sessions matching host (and user/port when given). Returns their labels.
    pub async fn close(
        &self,
        host: &str,
        username: Option<&str>,
        port: Option<u16>,
    ) -> Result<Vec<String>> {
        let target = self.target(host, username, port, None)?;
        let matching: Vec<Arc<Destination>> = {
            let mut g = self.dests.lock().unwrap_or_else(|e| e.into_inner());
            let keys: Vec<SessionKey> = g.keys().filter(|k| k.matches(&target)).cloned().collect();
            keys.iter().filter_map(|k| g.remove(k)).collect()
        };
        let mut labels = Vec::new();
        for d in matching {
            labels.push(d.label());
            d.close().await;
        }
        Ok(labels)
    }

    /// Closes everything. Returns how many sessions were closed.
    pub async fn close_all(&self) -> usize {
        let all: Vec<Arc<Destination>> = {
            let mut g = self.dests.lock().unwrap_or_else(|e| e.into_inner());
            g.drain().map(|(_, d)| d).collect()
        };
        let n = all.len();
        let mut set = tokio::task::JoinSet::new();
        for d in all {
            set.spawn(async move { d.close().await });
        }
        while set.join_next().await.is_some() {}
        n
    }
}

impl SessionManager {
    /// Sessions matching host, and user/port when given.
    fn matching(&self, target: &Target) -> Vec<Arc<Destination>> {
        let g = self.dests.lock().unwrap_or_else(|e| e.into_inner());
        g.iter()
            .filter(|(k, _)| k.matches(target))
            .map(|(_, d)| d.clone())
            .collect()
    }

    /// The live shells of the sessions matching host (and user/port when given), each with
    /// its session label, main shell first. Empty when there is no session.
    pub fn live_shells(
        &self,
        host: &str,
        username: Option<&str>,
        port: Option<u16>,
    ) -> Result<Vec<(String, Arc<ShellHandle>)>> {
        let target = self.target(host, username, port, None)?;
        let mut out = Vec::new();
        for d in self.matching(&target) {
            let label = d.label();
            out.extend(
                d.shells_snapshot()
                    .into_iter()
                    .filter(|s| s.is_alive())
                    .map(|s| (label.clone(), s)),
            );
        }
        Ok(out)
    }
}
