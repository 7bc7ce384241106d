//! The shell actor: the only reader of a shell's PTY, and a lifecycle loop that does not know
//! which protocol runs in it. It takes requests (each naming its command), feeds the terminal's
//! events to the [`Dialect`], carries out its actions on the command record, reports prompts
//! that wait for input and full-screen programs, and finishes every record it was handed,
//! whatever happens to the shell.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

mod interrupt;
mod waiting;

use super::{Request, RunOptions, Shared, read_log};
use crate::jobs::{Job, JobStatus};
use crate::pty::{PtyInput, PtyOutput, PtyProcess};
use crate::secret::{Secret, redact, redact_partial};
use crate::session::dialect::{Action, Actions, CommandSpec, Dialect, Enable};
use crate::ssh::ask::Asker;
use crate::term::input::secret_answer;
use crate::term::{Event, Stripper};

/// Quiet time after which a prompt-looking last line is taken to be waiting for input.
const SETTLE: Duration = Duration::from_millis(300);
/// Recent output kept for prompt classification (host-key fingerprints sit a few lines up).
const RECENT: usize = 4096;

/// A command in flight.
struct Running {
    job: Arc<Job>,
    /// Line count at which we last reported a prompt (so one prompt is reported once).
    answered_line: Option<usize>,
    /// Who may answer a login prompt the command meets, and the line last put to them.
    asker: Option<Arc<dyn Asker>>,
    asked_line: Option<usize>,
}

pub(super) struct Parts {
    /// The actor's own request queue, for answers that come back from a task it started.
    pub to_self: mpsc::WeakSender<Request>,
    pub proc: PtyProcess,
    pub rx: PtyOutput,
    pub req_rx: mpsc::Receiver<Request>,
    pub stripper: Stripper,
    pub dialect: Box<dyn Dialect>,
    pub shared: Arc<Shared>,
    pub log: PathBuf,
    pub rows: u16,
}

pub(super) struct Actor {
    to_self: mpsc::WeakSender<Request>,
    proc: PtyProcess,
    input: PtyInput,
    rx: PtyOutput,
    req_rx: mpsc::Receiver<Request>,
    stripper: Stripper,
    dialect: Box<dyn Dialect>,
    shared: Arc<Shared>,
    log: PathBuf,
    rows: u16,
    running: Option<Running>,
    /// The last interrupt sent to the running command: which command, when, how many so far.
    interrupted: Option<(String, Instant, u8)>,
    /// A command handed over while the dialect was still busy (re-synchronising).
    waiting: Option<Request>,
    /// The next command's sequence number in this shell.
    next_seq: u64,
    /// Completed lines seen since start (prompt reports are tied to a line).
    lines: usize,
    recent: String,
    last_output: Instant,
    /// The quiet output was already looked at for prompts.
    settle_checked: bool,
    events: Vec<Event>,
    actions: Actions,
}

impl Actor {
    pub(super) fn new(p: Parts) -> Actor {
        Actor {
            to_self: p.to_self,
            input: p.proc.input().clone(),
            proc: p.proc,
            rx: p.rx,
            req_rx: p.req_rx,
            stripper: p.stripper,
            dialect: p.dialect,
            shared: p.shared,
            log: p.log,
            rows: p.rows,
            running: None,
            interrupted: None,
            waiting: None,
            // 0 and 1 went to the set-up and the first `cd`.
            next_seq: 2,
            lines: 0,
            recent: String::new(),
            last_output: Instant::now(),
            settle_checked: false,
            events: Vec::new(),
            actions: Actions::default(),
        }
    }

    pub(super) async fn run(mut self) {
        self.dialect.open(&mut self.actions);
        self.apply();
        loop {
            let settle_at = self.settle_deadline();
            let dialect_at = self.dialect.deadline();
            let retry_at = self.interrupt_retry_at();
            tokio::select! {
                biased;
                () = self.shared.closing.cancelled() => {
                    self.end("the shell was closed".into(), None);
                    self.proc.terminate(Duration::from_millis(300)).await;
                    return;
                }
                req = self.req_rx.recv() => match req {
                    Some(req) => {
                        if let Some(reason) = self.on_request(req) {
                            self.end(reason, None);
                            self.proc.terminate(Duration::from_millis(300)).await;
                            return;
                        }
                    }
                    None => {
                        self.end("the session was closed".into(), None);
                        self.proc.terminate(Duration::from_millis(300)).await;
                        return;
                    }
                },
                chunk = self.rx.recv() => match chunk {
                    Some(bytes) => self.on_output(&bytes),
                    None => {
                        let code = self.proc.wait_for(Duration::from_secs(2)).await;
                        let log = read_log(&self.log);
                        let reason = match code {
                            Some(c) => format!("the shell session ended (exit code {c}){}", suffix(&log)),
                            None => format!("the shell session ended{}", suffix(&log)),
                        };
                        self.end(reason, code);
                        return;
                    }
                },
                () = async { tokio::time::sleep_until(settle_at.expect("checked")).await }, if settle_at.is_some() => self.on_settled(),
                () = async { tokio::time::sleep_until(dialect_at.expect("checked")).await }, if dialect_at.is_some() => {
                    let partial = self.stripper.partial_line();
                    self.dialect.on_deadline(&partial, &mut self.actions);
                    self.apply();
                }
                () = async { tokio::time::sleep_until(retry_at.expect("checked")).await }, if retry_at.is_some() => self.interrupt_again(),
            }
            self.after_step();
        }
    }

    /// Handles a request; returns a reason when the shell must end.
    fn on_request(&mut self, req: Request) -> Option<String> {
        match req {
            Request::Run { .. } | Request::Raw { .. } => {
                if self.running.is_some() || !self.dialect.ready() {
                    self.waiting = Some(req);
                } else {
                    self.start(req);
                }
            }
            Request::Input {
                job_id,
                bytes,
                reply,
            } => {
                let r = self.for_running(&job_id).and_then(|()| {
                    if let Some(r) = &self.running {
                        r.job.update(|s| s.resume());
                    }
                    self.settle_checked = false;
                    let bytes = self.dialect.input(bytes);
                    self.input.write(&bytes).map_err(|e| e.to_string())
                });
                let _ = reply.send(r);
            }
            Request::Interrupt { job_id, reply } => {
                let r = self.for_running(&job_id);
                if r.is_ok() {
                    if let Some(r) = &self.running {
                        r.job.update(|s| s.resume());
                    }
                    self.interrupted = Some((job_id, Instant::now(), 1));
                    self.dialect.interrupt(&mut self.actions);
                    self.apply();
                }
                let _ = reply.send(r);
            }
            Request::Answer {
                job_id,
                line,
                answer,
            } => {
                // Typed only if the prompt it answers is still the one waiting.
                let lines = self.lines;
                let Some(r) = &mut self.running else {
                    return None;
                };
                if r.job.id != job_id || r.asked_line != Some(line) || lines != line {
                    return None;
                }
                match answer {
                    Ok(secret) => {
                        r.job.update(|s| {
                            s.notes.push(
                                "the login prompt was answered by the user through the one-time page"
                                    .into(),
                            )
                        });
                        self.write(&secret_answer(secret.expose()));
                    }
                    Err((why, prompt)) => {
                        r.job.update(|s| {
                            s.notes.push(format!(
                                "the user was asked for the login prompt's answer, but no answer came ({why})"
                            ))
                        });
                        Self::await_input(r, prompt, lines);
                    }
                }
            }
            Request::Kill {
                job_id,
                reason,
                reply,
            } => {
                let r = self.for_running(&job_id);
                let ok = r.is_ok();
                let _ = reply.send(r);
                if ok {
                    if let Some(r) = self.running.take() {
                        self.flush_partial(&r.job);
                        self.finish(
                            &r.job,
                            JobStatus::Interrupted,
                            None,
                            Some(reason.clone()),
                            None,
                        );
                    }
                    return Some(format!("the shell was ended to stop a command: {reason}"));
                }
            }
        }
        None
    }

    /// Ok when `job_id` is the running command; otherwise why the request cannot go to it.
    fn for_running(&self, job_id: &str) -> Result<(), String> {
        match &self.running {
            Some(r) if r.job.id == job_id => Ok(()),
            _ => Err(format!(
                "command {job_id} is no longer running in this shell; nothing was sent"
            )),
        }
    }

    fn start(&mut self, req: Request) {
        // Output that arrived while idle (a background job's message) is not this command's.
        self.stripper.take_partial_line();
        self.recent.clear();
        self.last_output = Instant::now();
        self.settle_checked = false;
        let mut asker = None;
        let job = match req {
            Request::Run {
                job,
                command,
                options,
            } => {
                asker.clone_from(&options.asker);
                self.learn_secrets(&options);
                let seq = self.next_seq;
                self.next_seq += 1;
                let spec = CommandSpec {
                    seq,
                    text: &command,
                    sudo_password: options.sudo_password.as_ref(),
                    enable: options.enable_password.as_ref().map(|password| Enable {
                        password,
                        command: &options.enable_command,
                    }),
                };
                self.dialect.begin(&spec, &mut self.actions);
                job
            }
            Request::Raw { job, bytes } => {
                self.dialect.begin_raw(&bytes, &mut self.actions);
                job
            }
            _ => return,
        };
        self.running = Some(Running {
            job,
            answered_line: None,
            asker,
            asked_line: None,
        });
        self.apply();
    }

    fn learn_secrets(&self, options: &RunOptions) {
        let mut known = self
            .shared
            .secrets
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for s in &options.secrets {
            if !known.contains(s) {
                known.push(s.clone());
            }
        }
    }

    fn secrets(&self) -> Vec<Secret> {
        self.shared
            .secrets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Carries out what the dialect asked for.
    fn apply(&mut self) {
        let actions: Vec<Action> = self.actions.drain().collect();
        for a in actions {
            match a {
                Action::Write(bytes) => self.write(&bytes),
                Action::Secret(s) => self.write(&secret_answer(s.expose())),
                Action::Output(text) => {
                    if let Some(r) = &self.running {
                        let secrets = self.secrets();
                        let refs: Vec<&Secret> = secrets.iter().collect();
                        let clean = redact(&text, &refs);
                        r.job.update(|s| {
                            s.output.push(&clean);
                            s.partial.clear();
                            s.resume();
                        });
                    }
                }
                Action::TakePartial => {
                    self.stripper.take_partial_line();
                    if let Some(r) = &self.running {
                        r.job.update(|s| s.partial.clear());
                    }
                }
                Action::AwaitInput(prompt) => {
                    if let Some(r) = &mut self.running {
                        Self::await_input(r, prompt, self.lines);
                    }
                }
                Action::Note(n) => {
                    if let Some(r) = &self.running {
                        r.job.update(|s| s.notes.push(n));
                    }
                }
                Action::Complete(c) => {
                    if let Some(r) = self.running.take() {
                        self.flush_partial(&r.job);
                        self.finish(&r.job, c.status, c.exit_code, c.error, c.device_error);
                    }
                }
                Action::Cwd(cwd) => {
                    self.info(|i| i.cwd = Some(cwd.clone()));
                    if let Some(r) = &self.running {
                        r.job.update(|s| s.cwd = Some(cwd));
                    }
                }
                Action::Depth(d) => self.info(|i| i.depth = d),
                Action::Mode(m) => self.info(|i| i.mode = Some(m)),
                Action::Device(d) => {
                    if let Some(r) = &self.running {
                        r.job.update(|s| s.device = Some(d));
                    }
                }
            }
        }
    }

    /// The unterminated line belongs to the output of a command that ends here.
    fn flush_partial(&mut self, job: &Job) {
        let partial = self.stripper.take_partial_line();
        let secrets = self.secrets();
        let refs: Vec<&Secret> = secrets.iter().collect();
        let partial = redact(&partial, &refs);
        job.update(|s| {
            // The job's copy of that line is the same text: keep one.
            s.partial.clear();
            s.output.push(&partial);
        });
    }

    fn finish(
        &self,
        job: &Job,
        status: JobStatus,
        code: Option<i32>,
        error: Option<String>,
        device_error: Option<String>,
    ) {
        // Set when the command was handed over (ShellHandle::submit).
        self.info(|i| i.current_job = None);
        *self
            .shared
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        // Free the shell before waking the waiter, whose next command should find it idle.
        if self.dialect.ready() && self.waiting.is_none() {
            self.shared.busy.store(false, Ordering::Release);
        }
        if device_error.is_some() {
            job.update(|s| s.device_error = device_error);
        }
        job.finish(status, code, error);
    }

    /// Frees the shell once the dialect is ready again, and starts a command that waited.
    fn after_step(&mut self) {
        if self.running.is_some() || !self.dialect.ready() {
            return;
        }
        if let Some(req) = self.waiting.take() {
            self.start(req);
            return;
        }
        self.shared.busy.store(false, Ordering::Release);
    }

    fn write(&mut self, bytes: &[u8]) {
        // What we type may change what waits on the screen: look again once quiet.
        self.settle_checked = false;
        if let Err(e) = self.input.write(bytes) {
            tracing::warn!(error = %e, "write to shell terminal failed");
            if let Some(r) = &self.running {
                r.job.update(|s| {
                    s.notes
                        .push(format!("typing into the terminal failed: {e}"))
                });
            }
        }
    }

    fn info(&self, f: impl FnOnce(&mut super::ShellInfo)) {
        let mut i = self.shared.info.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut i);
    }

    fn on_output(&mut self, bytes: &[u8]) {
        self.last_output = Instant::now();
        self.settle_checked = false;
        self.shared
            .raw
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(bytes);
        let mut events = std::mem::take(&mut self.events);
        events.clear();
        self.stripper.feed(bytes, &mut events);
        for e in events.drain(..) {
            match e {
                Event::Text(t) => {
                    self.lines += t.matches('\n').count();
                    push_recent(&mut self.recent, &t);
                    // Also between commands: a dialect may be busy on its own (a device's
                    // set-up, a sync line).
                    self.dialect.on_text(&t, &mut self.actions);
                }
                Event::Marker(payload) => self.dialect.on_marker(&payload, &mut self.actions),
                Event::Query(q) => {
                    if self.dialect.answers_queries() {
                        let answer = q.answer(self.rows);
                        self.write(&answer);
                    }
                }
            }
            self.apply();
        }
        self.events = events;
        if self.running.is_some() {
            self.publish_partial();
        }
        self.check_prompts(false);
    }

    /// The job shows the unterminated last line as the terminal does now (a progress line, a
    /// prompt): status, progress and send_input read it from there.
    fn publish_partial(&mut self) {
        let Some(r) = &self.running else { return };
        let secrets = self.secrets();
        let refs: Vec<&Secret> = secrets.iter().collect();
        let partial = redact_partial(&self.stripper.partial_line(), &refs);
        let partial = self.dialect.show_prompt(&partial);
        // Waiters and progress hear of a change (a progress line redrawn in place).
        if r.job.with_state(|s| s.partial != partial) {
            r.job.update(|s| s.partial = partial);
        }
    }

    /// The shell is gone: finish the running command (and one that waited) and mark the shell
    /// dead; requests still queued are answered.
    fn end(&mut self, reason: String, code: Option<i32>) {
        self.info(|i| {
            i.ended = Some(reason.clone());
            i.current_job = None;
        });
        self.shared.alive.store(false, Ordering::Release);
        if self.running.is_some() {
            self.dialect.ended(code, &reason, &mut self.actions);
            self.apply();
            // A dialect that had nothing to say about it: the outcome is unknown.
            if let Some(r) = self.running.take() {
                self.flush_partial(&r.job);
                self.finish(
                    &r.job,
                    JobStatus::Failed,
                    None,
                    Some(format!("{reason}; the command's outcome is unknown")),
                    None,
                );
            }
        }
        let not_started = format!("{reason} before the command started; it did not run");
        if let Some(Request::Run { job, .. } | Request::Raw { job, .. }) = self.waiting.take() {
            job.finish(JobStatus::Failed, None, Some(not_started.clone()));
        }
        self.req_rx.close();
        while let Ok(req) = self.req_rx.try_recv() {
            match req {
                Request::Run { job, .. } | Request::Raw { job, .. } => {
                    job.finish(JobStatus::Failed, None, Some(not_started.clone()));
                }
                Request::Input { reply, .. }
                | Request::Interrupt { reply, .. }
                | Request::Kill { reply, .. } => {
                    let _ = reply.send(Err(format!("{reason}; nothing was sent")));
                }
                Request::Answer { .. } => {}
            }
        }
        *self
            .shared
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        self.shared.busy.store(false, Ordering::Release);
    }
}

fn suffix(log: &str) -> String {
    if log.is_empty() {
        String::new()
    } else {
        format!(": {log}")
    }
}

fn push_recent(recent: &mut String, text: &str) {
    recent.push_str(text);
    if recent.len() > RECENT * 2 {
        let mut cut = recent.len() - RECENT;
        while !recent.is_char_boundary(cut) {
            cut += 1;
        }
        recent.drain(..cut);
    }
}
