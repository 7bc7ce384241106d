//! The shell actor: the only reader of a shell's PTY. It sends commands, follows their
//! output to the marker, answers sudo prompts, reports prompts that wait for input, and sets
//! the marker up again in shells that commands start.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Request, RunOptions, Shared, read_log};
use crate::expect::{
    Prompt, PromptKind, ShellPrompt, classify, posix_shell_prompt, repl_prompt, shell_prompt,
    starts_nested_shell,
};
use crate::jobs::{Job, JobStatus};
use crate::pty::{PtyOutput, PtyProcess};
use crate::secret::{Secret, redact};
use crate::session::encode::{
    self, Marker, START_POSIX_SHELL, is_non_posix_shell, probe_line, probe_token, probed_pid,
    setup_line,
};
use crate::term::{Event, Stripper};

/// Quiet time after which a prompt-looking last line is taken to be waiting for input.
const SETTLE: Duration = Duration::from_millis(300);
/// How long a shell started by a command gets to answer our set-up lines.
const NESTED_SETUP: Duration = Duration::from_secs(5);
/// Recent output kept for prompt classification (host-key fingerprints sit a few lines up).
const RECENT: usize = 4096;

/// A command in flight.
pub(super) struct Running {
    job: Arc<Job>,
    command: String,
    options: RunOptions,
    sudo_typed: bool,
    sudo_rejected: bool,
    interrupted: bool,
    /// Line number at which we last answered a prompt (so one prompt is answered once).
    answered_line: Option<usize>,
    /// We answered a password prompt: the prompt and the newline the program prints after
    /// reading the password are not output.
    swallow_newline: bool,
    nested: Option<Nested>,
}

/// Setting up the marker in a shell started by the command (`sudo -i`, `su -`, `bash`...).
pub(super) struct Nested {
    /// The level the set-up line was sent for (valid once `decided`).
    depth: u32,
    /// The probe answered and the set-up line went out.
    decided: bool,
    /// The probe came from the shell we already had: its prompt was reset, no new level.
    reset: bool,
    /// The PID the probe reported.
    pid: Option<u32>,
    fallback_sent: bool,
    /// Give up on the set-up after this.
    deadline: Instant,
    /// Output during the set-up: dropped when the shell answers, kept as the command's
    /// output when it turns out not to be a shell (bounded).
    held: String,
}

impl Nested {
    /// What to add to the output when the set-up failed, with a note explaining it.
    fn give_back(self) -> (String, String) {
        (
            self.held,
            "the command showed a prompt that looked like a shell, so our shell probe line was typed into it; it is not a shell we can drive (its answer, if any, is part of the output)".into(),
        )
    }
}

/// Output kept while a nested shell is being set up.
const HELD: usize = 64 * 1024;

pub(super) struct Actor {
    pub(super) proc: PtyProcess,
    pub(super) rx: PtyOutput,
    pub(super) req_rx: mpsc::UnboundedReceiver<Request>,
    pub(super) stripper: Stripper,
    pub(super) nonce: String,
    pub(super) depth: u32,
    pub(super) shared: Arc<Shared>,
    pub(super) log: PathBuf,
    pub(super) running: Option<Running>,
    /// The PID of the shell at each level (index 0 is level 1), as far as probes told.
    pub(super) pids: Vec<Option<u32>>,
    /// Completed lines seen since start (prompt answers are tied to a line).
    pub(super) lines: usize,
    pub(super) recent: String,
    pub(super) last_output: Instant,
    /// The quiet output was already looked at for prompts.
    pub(super) settle_checked: bool,
    pub(super) events: Vec<Event>,
}

impl Actor {
    pub(super) async fn run(mut self) {
        loop {
            let settle_at = self.settle_deadline();
            tokio::select! {
                biased;
                req = self.req_rx.recv() => match req {
                    Some(Request::Run { job, command, options }) => self.start(job, command, options),
                    Some(Request::Input(bytes)) => {
                        if let Some(r) = &self.running {
                            r.job.update(|s| s.resume());
                        }
                        self.write(&bytes);
                    }
                    Some(Request::Interrupt) => {
                        if let Some(r) = &mut self.running {
                            r.interrupted = true;
                            r.job.update(|s| s.resume());
                        }
                        self.write(&[0x03]);
                    }
                    Some(Request::Close) | None => {
                        self.end("the shell was closed".into(), None);
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
                            Some(c) => format!("the shell session ended (exit code {c}){}", if log.is_empty() { String::new() } else { format!(": {log}") }),
                            None => format!("the shell session ended{}", if log.is_empty() { String::new() } else { format!(": {log}") }),
                        };
                        self.end(reason, code);
                        return;
                    }
                },
                _ = async { tokio::time::sleep_until(settle_at.unwrap()).await }, if settle_at.is_some() => self.on_settled(),
            }
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        // What we type may change what waits on the screen: look again once quiet.
        self.settle_checked = false;
        if let Err(e) = self.proc.write_all(bytes) {
            tracing::warn!(error = %e, "write to shell terminal failed");
        }
    }

    fn start(&mut self, job: Arc<Job>, command: String, options: RunOptions) {
        self.set_current(Some(job.id.clone()));
        // Output that arrived while idle (a background job's message) is not this command's.
        self.stripper.take_partial_line();
        self.stripper.reset_painted();
        self.recent.clear();
        self.write(&encode::command_line(&command));
        self.last_output = Instant::now();
        self.settle_checked = false;
        self.running = Some(Running {
            job,
            command,
            options,
            sudo_typed: false,
            sudo_rejected: false,
            interrupted: false,
            answered_line: None,
            swallow_newline: false,
            nested: None,
        });
    }

    /// The job shows the unterminated last line as the terminal does now (a progress line, a
    /// prompt): status, progress and send_input read it from there.
    fn publish_partial(&mut self) {
        let Some(r) = &self.running else { return };
        if r.nested.is_some() {
            return;
        }
        let partial = self.stripper.partial_line();
        let secrets: Vec<&Secret> = r.options.secrets.iter().collect();
        let partial = if secrets.is_empty() {
            partial
        } else {
            redact(&partial, &secrets)
        };
        // Waiters and progress hear of a change (a progress line redrawn in place).
        if r.job.with_state(|s| s.partial != partial) {
            r.job.update(|s| s.partial = partial);
        }
    }

    fn set_current(&self, id: Option<String>) {
        let mut i = self.shared.info.lock().unwrap_or_else(|e| e.into_inner());
        i.current_job = id;
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
                Event::Text(t) => self.on_text(t),
                Event::Marker(payload) => self.on_marker(&payload),
            }
        }
        self.events = events;
        self.publish_partial();
        self.check_prompts(false);
    }

    fn on_text(&mut self, text: String) {
        self.lines += text.matches('\n').count();
        push_recent(&mut self.recent, &text);
        let Some(r) = &mut self.running else { return };
        if let Some(n) = &mut r.nested {
            if n.held.len() < HELD {
                n.held.push_str(&text);
            }
            if n.decided {
                return;
            }
            // The probe tells which shell answered: a non-POSIX one gets bash/sh started in
            // it; the PID tells a new shell from ours with its prompt reset.
            let token = probe_token(&self.nonce);
            let Some(pos) = n.held.find(&token) else {
                return;
            };
            let shell = n.held[pos + token.len()..]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string();
            let mut bytes = Vec::new();
            if is_non_posix_shell(&shell) {
                n.fallback_sent = true;
                n.depth = self.depth + 1;
                bytes.extend_from_slice(START_POSIX_SHELL);
            } else {
                let Some(pid) = probed_pid(&n.held, &self.nonce) else {
                    return;
                };
                n.pid = Some(pid);
                n.reset = self.pids.get(self.depth as usize - 1) == Some(&Some(pid));
                n.depth = if n.reset { self.depth } else { self.depth + 1 };
            }
            n.decided = true;
            bytes.extend_from_slice(&setup_line(&self.nonce, n.depth));
            self.write(&bytes);
            return;
        }
        let text = if std::mem::take(&mut r.swallow_newline) {
            match text.strip_prefix('\n') {
                Some(rest) => rest.to_string(),
                None => text,
            }
        } else {
            text
        };
        // The shell's own goodbye is not the command's output.
        let text = if is_exit_command(&r.command) {
            strip_goodbye(text)
        } else {
            text
        };
        let secrets: Vec<&Secret> = r.options.secrets.iter().collect();
        let clean = if secrets.is_empty() {
            text
        } else {
            redact(&text, &secrets)
        };
        r.job.update(|s| {
            s.output.push(&clean);
            s.partial.clear();
            s.resume();
        });
    }

    fn on_marker(&mut self, payload: &str) {
        let Some(m) = Marker::parse(payload) else {
            return;
        };
        if m.nonce != self.nonce {
            return;
        }
        {
            let mut i = self.shared.info.lock().unwrap_or_else(|e| e.into_inner());
            i.cwd = Some(m.cwd.clone());
            i.depth = m.depth;
        }
        let previous_depth = self.depth;
        self.depth = m.depth;
        if m.depth < previous_depth {
            self.pids.truncate(m.depth as usize);
        }
        let Some(mut r) = self.running.take() else {
            return;
        };
        if r.nested
            .as_ref()
            .is_some_and(|n| !n.decided || m.depth != n.depth)
        {
            // The outer shell answered: the "shell" was a program that has ended.
            let (held, note) = r.nested.take().expect("checked").give_back();
            r.job.update(|s| {
                s.output.push(&held);
                s.notes.push(note);
            });
        }
        if let Some(n) = &r.nested
            && m.depth == n.depth
        {
            let (fallback, reset) = (n.fallback_sent, n.reset);
            self.pids.truncate(m.depth as usize - 1);
            self.pids.push(n.pid);
            r.job.update(|s| {
                s.cwd = Some(m.cwd.clone());
                if reset {
                    s.notes.push("the command replaced the shell's prompt (by sourcing a startup file, or by `exec` of a shell in the same process); the session set it up again at the same level".into());
                    return;
                }
                if fallback {
                    s.notes.push("the new shell is not POSIX-compatible; bash (or sh) was started inside it".into());
                }
                s.notes.push(format!(
                    "a new shell started (level {}); later commands run inside it, and `exit` returns to the previous shell",
                    m.depth
                ));
            });
            self.finish(r, JobStatus::Completed, Some(0), None);
            return;
        }
        r.job.update(|s| {
            s.cwd = Some(m.cwd.clone());
            if m.depth < previous_depth {
                s.notes.push(format!(
                    "the shell at level {previous_depth} ended; back in the shell at level {}",
                    m.depth
                ));
            }
        });
        let (status, error) = if r.sudo_rejected {
            (
                JobStatus::Failed,
                Some(
                    "sudo rejected the sudo_password (it asked again); the command did not run"
                        .to_string(),
                ),
            )
        } else if r.interrupted {
            (JobStatus::Interrupted, None)
        } else {
            (JobStatus::Completed, None)
        };
        self.finish(r, status, Some(m.status), error);
    }

    fn finish(&mut self, r: Running, status: JobStatus, code: Option<i32>, error: Option<String>) {
        // Free the shell before waking the waiter, whose next command should find it idle.
        self.set_current(None);
        self.shared.busy.store(false, Ordering::Release);
        r.job.finish(status, code, error);
    }

    /// When a prompt-like line is waiting, the moment we act on it if nothing else arrives.
    fn settle_deadline(&self) -> Option<Instant> {
        let r = self.running.as_ref()?;
        if let Some(n) = &r.nested {
            return Some(n.deadline);
        }
        if r.job.status() == JobStatus::AwaitingInput {
            return None;
        }
        let partial = self.stripper.partial_line();
        if partial.trim().is_empty()
            && !self.stripper.in_alternate_screen()
            && !self.stripper.painted_screen()
        {
            return None;
        }
        if self.settle_checked {
            return None;
        }
        Some(self.last_output + SETTLE)
    }

    fn on_settled(&mut self) {
        if let Some(n) = self.running.as_ref().and_then(|r| r.nested.as_ref()) {
            if Instant::now() >= n.deadline {
                self.abandon_nested();
            }
            return;
        }
        self.check_prompts(true);
        // Looked once; the next look waits for new output.
        self.settle_checked = true;
    }

    /// Looks at the unterminated last line: sudo prompts are answered at once; other
    /// prompts and nested shell prompts only once output has settled.
    fn check_prompts(&mut self, settled: bool) {
        let lines = self.lines;
        let Some(r) = &mut self.running else { return };
        if r.nested.is_some() {
            return;
        }
        // A full-screen program redraws without new lines; it waits whenever it is quiet.
        if settled && (self.stripper.in_alternate_screen() || self.stripper.painted_screen()) {
            let prompt = Prompt {
                kind: PromptKind::FullScreen,
                text: "full-screen program; use read_screen and send_keys".into(),
            };
            Self::await_input(r, prompt, lines);
            return;
        }
        if r.answered_line == Some(lines) {
            return;
        }
        let partial = self.stripper.partial_line();
        if partial.trim().is_empty() {
            return;
        }
        let prompt = classify(&partial, &self.recent);
        let mentions_sudo = r.command.contains("sudo");
        match &prompt {
            Some(p)
                if p.kind == PromptKind::SudoPassword
                    || (p.kind == PromptKind::Password
                        && mentions_sudo
                        && r.options.sudo_password.is_some()) =>
            {
                match (&r.options.sudo_password, r.sudo_typed) {
                    (Some(pw), false) => {
                        let mut bytes = encode::literal_bytes(pw.expose());
                        bytes.push(b'\n');
                        r.sudo_typed = true;
                        r.answered_line = Some(lines);
                        r.swallow_newline = true;
                        self.stripper.take_partial_line();
                        r.job.update(|s| s.partial.clear());
                        self.write(&bytes);
                    }
                    (Some(_), true) => {
                        // Asked again: the password was wrong. Ctrl-C ends sudo at once
                        // instead of letting it ask twice more.
                        r.sudo_rejected = true;
                        r.answered_line = Some(lines);
                        self.write(&[0x03]);
                    }
                    (None, _) => Self::await_input(r, p.clone(), lines),
                }
                return;
            }
            Some(p)
                if matches!(
                    p.kind,
                    PromptKind::Password | PromptKind::Passphrase | PromptKind::HostKey { .. }
                ) =>
            {
                Self::await_input(r, p.clone(), lines);
                return;
            }
            _ => {}
        }
        if !settled {
            return;
        }
        // Only a shell gets the marker set up: a REPL or a device prompt (`mysql>`, `Router#`)
        // must never receive our set-up lines unless the command itself starts a shell.
        let shell_like = shell_prompt(&partial);
        let nested_shell = match shell_like {
            Some(_) if starts_nested_shell(&r.command) => true,
            Some(ShellPrompt::Strong) => posix_shell_prompt(&partial) && !repl_prompt(&partial),
            _ => false,
        };
        if nested_shell {
            r.nested = Some(Nested {
                depth: self.depth + 1,
                decided: false,
                reset: false,
                pid: None,
                fallback_sent: false,
                deadline: Instant::now() + NESTED_SETUP,
                held: String::new(),
            });
            r.answered_line = Some(lines);
            // The new shell's own prompt is not output.
            self.stripper.take_partial_line();
            r.job.update(|s| s.partial.clear());
            // Probe first: which shell answers decides the level the set-up line names.
            let bytes = probe_line(&self.nonce);
            self.write(&bytes);
            return;
        }
        if let Some(p) = prompt {
            Self::await_input(r, p, lines);
        } else if shell_like.is_some() || repl_prompt(&partial) {
            let p = Prompt {
                kind: PromptKind::Input,
                text: partial.trim().to_string(),
            };
            Self::await_input(r, p, lines);
        }
    }

    /// The shell we tried to set up inside the command never answered: it was not a shell we
    /// can drive. Stop waiting for it and report the program as waiting for input.
    fn abandon_nested(&mut self) {
        let lines = self.lines;
        let partial = self.stripper.partial_line();
        let Some(r) = &mut self.running else { return };
        let Some(n) = r.nested.take() else { return };
        let (held, note) = n.give_back();
        r.job.update(|s| {
            s.output.push(&held);
            s.notes.push(note);
        });
        let text = if partial.trim().is_empty() {
            "(no prompt visible; use read_screen)".to_string()
        } else {
            partial.trim().to_string()
        };
        Self::await_input(
            r,
            Prompt {
                kind: PromptKind::Input,
                text,
            },
            lines,
        );
    }

    fn await_input(r: &mut Running, prompt: Prompt, lines: usize) {
        r.answered_line = Some(lines);
        r.job.update(|s| {
            s.status = JobStatus::AwaitingInput;
            s.awaiting = Some(prompt);
        });
    }

    /// The shell is gone: finish the running job and mark the shell dead.
    fn end(&mut self, reason: String, code: Option<i32>) {
        {
            let mut i = self.shared.info.lock().unwrap_or_else(|e| e.into_inner());
            i.ended = Some(reason.clone());
            i.current_job = None;
        }
        self.shared.alive.store(false, Ordering::Release);
        if let Some(mut r) = self.running.take() {
            let partial = self.stripper.take_partial_line();
            if let Some(n) = r.nested.take() {
                let (held, note) = n.give_back();
                r.job.update(|s| {
                    s.output.push(&held);
                    s.notes.push(note);
                });
            }
            r.job.update(|s| {
                // The job's copy of that line is the same text: keep one.
                s.partial.clear();
                s.output.push(&partial);
            });
            let exited = is_exit_command(&r.command);
            if exited {
                r.job.update(|s| s.notes.push("the shell exited; the next command starts a new shell (working directory and variables reset)".into()));
                r.job.finish(JobStatus::Completed, code, None);
            } else if r.interrupted {
                r.job.finish(JobStatus::Interrupted, code, Some(reason));
            } else {
                r.job.finish(
                    JobStatus::Failed,
                    None,
                    Some(format!("{reason}; the command's outcome is unknown")),
                );
            }
        }
        self.shared.busy.store(false, Ordering::Release);
    }

    /// `cd` for a new parallel shell, so it starts where the main shell is.
    pub(super) async fn change_directory(
        &mut self,
        cwd: &str,
        deadline: Instant,
        cancel: &CancellationToken,
    ) {
        let quoted = format!("cd -- '{}' 2>/dev/null", cwd.replace('\'', "'\\''"));
        self.write(&encode::command_line(&quoted));
        loop {
            tokio::select! {
                chunk = self.rx.recv() => {
                    let Some(bytes) = chunk else { return };
                    let mut events = Vec::new();
                    self.stripper.feed(&bytes, &mut events);
                    for e in events {
                        if let Event::Marker(p) = e
                            && let Some(m) = Marker::parse(&p)
                            && m.nonce == self.nonce
                        {
                            let mut i = self.shared.info.lock().unwrap_or_else(|e| e.into_inner());
                            i.cwd = Some(m.cwd);
                            return;
                        }
                    }
                }
                _ = tokio::time::sleep_until(deadline) => return,
                _ = cancel.cancelled() => return,
            }
        }
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

/// Drops the `logout` / `exit` line a shell prints as it ends.
fn strip_goodbye(text: String) -> String {
    for bye in ["logout\n", "exit\n"] {
        if text == bye {
            return String::new();
        }
        if let Some(rest) = text.strip_suffix(bye)
            && rest.ends_with('\n')
        {
            return rest.to_string();
        }
    }
    text
}

/// A command with an `exit`, `exit 3` or `logout` statement: the shell may be meant to end.
fn is_exit_command(command: &str) -> bool {
    command.split([';', '&', '|', '\n']).any(|stmt| {
        let mut words = stmt.split_whitespace();
        matches!(words.next(), Some("exit" | "logout"))
            && words.next().is_none_or(|w| w.parse::<i32>().is_ok())
            && words.next().is_none()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_commands() {
        assert!(is_exit_command("exit"));
        assert!(is_exit_command(" exit 5 "));
        assert!(is_exit_command("logout"));
        assert!(!is_exit_command("exitcode"));
        assert!(!is_exit_command("echo exit"));
        assert!(is_exit_command("echo err >&2; exit 3"));
    }
}
