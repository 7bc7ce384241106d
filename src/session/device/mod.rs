//! The network-device dialect: a router's or switch's CLI, driven by its learned prompt.
//!
//! A device has no marker and no exit status. A line typed into it is done when the prompt the
//! session learned comes back (or another prompt of the same device: `>` to `#`, `(config)#`,
//! `[edit]`, `<R1>` to `[R1]`, a rename the command announced), never after a fixed idle
//! time. The vendor knowledge is data in [`crate::devices`]; this module keeps the state:
//! the prompt it learned, the steps it still has to take (learning the prompt, turning the
//! pager off, `enable`), and the line in flight with its echo, pagers and output.
//!
//! At open: Enter (the exact prompt is learned from the line that comes back), then the
//! family's paging-off, width and other set-up commands, their replies checked. A command
//! with several lines is a config block: sent line by line, each waiting for the prompt, and
//! stopped at the first line the device rejects. Pagers are answered with the continue key
//! whenever paging is on, and their prompts and erasures never reach the output.

mod step;

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::devices::{self, Detected, EnableStep, Mode, PromptMatch, Reply, Setup, SetupKind};
use crate::jobs::{DeviceState, JobStatus};
use crate::session::dialect::{Action, Actions, CommandSpec, Completion, Dialect};
use step::{Line, Step};

/// An internal step (learning the prompt, a set-up command) that takes longer than this is
/// abandoned, so that a device that ignores one never blocks the session.
const STEP_LIMIT: Duration = Duration::from_secs(5);
/// `enable` gets this long to reach the privileged prompt or say no.
const ENABLE_LIMIT: Duration = Duration::from_secs(15);

/// A device CLI whose prompt the session learned at login.
pub struct DeviceDialect {
    learned: Detected,
    /// Paging is known to be off: no pager is expected (but one is still answered).
    paging_off: bool,
    /// Why paging could not be turned off, for a note.
    paging_refused: Option<String>,
    /// Set-up kinds a command was accepted for.
    done_kinds: Vec<SetupKind>,
    /// Steps to take before the next line of the user's command.
    steps: VecDeque<Step>,
    /// The line in flight.
    line: Option<Line>,
    /// The user's command, while one runs.
    cmd: Option<Cmd>,
    /// Things the first command should report (login questions answered, paging refused).
    pending_notes: Vec<String>,
}

/// The user's command.
struct Cmd {
    lines: Vec<String>,
    /// Index of the next line to send.
    next: usize,
    /// Blank lines and context lines (`[edit]`) held back: shown only if output follows them.
    held: Vec<String>,
    /// Some output line was shown (leading blank lines are dropped).
    started: bool,
    device_error: Option<String>,
    /// The block stopped at this line (index, text) because the device rejected it.
    rejected: Option<usize>,
    interrupted: bool,
    /// `enable` failed: the command was not run.
    enable_failed: Option<String>,
    /// The command ends the session (`exit`, `logout`, `quit`).
    leaves: bool,
}

impl DeviceDialect {
    /// A dialect for a device whose login showed `detected`; `notes` say what the login
    /// answered on the way (interstitials).
    pub fn new(detected: Detected, notes: Vec<String>) -> Self {
        DeviceDialect {
            learned: detected,
            paging_off: false,
            paging_refused: None,
            done_kinds: Vec::new(),
            steps: VecDeque::new(),
            line: None,
            cmd: None,
            pending_notes: notes,
        }
    }

    /// The device as a result shows it.
    fn state(&self) -> DeviceState {
        let f = self.learned.family;
        DeviceState {
            family: f.name.to_string(),
            vendor: f.vendor.to_string(),
            mode: self.learned.mode.as_str().to_string(),
            prompt: self.learned.prompt.trim().to_string(),
        }
    }

    fn publish(&self, out: &mut Actions) {
        let s = self.state();
        out.push(Action::Mode(format!(
            "{} ({} mode, prompt {:?})",
            s.vendor, s.mode, s.prompt
        )));
        out.push(Action::Device(s));
    }

    /// Starts the next step, or the next line of the user's command, when nothing is in flight.
    fn advance(&mut self, out: &mut Actions) {
        while self.line.is_none() {
            let step = match self.steps.pop_front() {
                Some(step) => step,
                None => match &mut self.cmd {
                    Some(cmd) if cmd.next < cmd.lines.len() => {
                        cmd.next += 1;
                        Step::User(cmd.next - 1)
                    }
                    Some(_) => {
                        self.complete(out);
                        return;
                    }
                    None => return,
                },
            };
            let typed = match &step {
                Step::Learn => String::new(),
                Step::Setup { setup, line, .. } => setup.lines[*line].to_string(),
                Step::Enable { command, .. } => command.clone(),
                Step::User(i) => self
                    .cmd
                    .as_ref()
                    .map(|c| c.lines[*i].clone())
                    .unwrap_or_default(),
                Step::Raw => unreachable!("raw input starts a line directly"),
            };
            tracing::trace!(line = %typed, "device: typing");
            let mut bytes = typed.clone().into_bytes();
            bytes.push(b'\r');
            out.write(bytes);
            let limit = match &step {
                Step::Learn | Step::Setup { .. } => Some(Instant::now() + STEP_LIMIT),
                Step::Enable { .. } => Some(Instant::now() + ENABLE_LIMIT),
                _ => None,
            };
            self.line = Some(Line::new(step, typed, limit));
        }
    }

    /// The prompt came back: the line in flight is done, and the prompt is not output.
    fn line_done(&mut self, now: Option<Detected>, out: &mut Actions) {
        let Some(mut line) = self.line.take() else {
            return;
        };
        out.push(Action::TakePartial);
        tracing::trace!(line = %line.typed, pagers = line.pagers, "device: prompt back");
        if let Some(found) = now {
            let moved = found.prompt != self.learned.prompt || found.mode != self.learned.mode;
            self.learned = found;
            if moved {
                self.publish(out);
            }
        }
        // Only a set-up command's reply is read as a whole.
        let reply_text = matches!(line.step, Step::Setup { .. })
            .then(|| line.output_text(&self.learned))
            .unwrap_or_default();
        match line.step {
            Step::Learn | Step::Enable { .. } => {}
            Step::Raw => self.stream(&mut line, out, true),
            Step::Setup {
                setup,
                line: index,
                ref mut reply,
            } => {
                reply.push_str(&reply_text);
                if index + 1 < setup.lines.len() {
                    self.steps.push_front(Step::Setup {
                        setup,
                        line: index + 1,
                        reply: std::mem::take(reply),
                    });
                } else {
                    let reply = std::mem::take(reply);
                    self.setup_done(setup, &reply, out);
                }
            }
            Step::User(i) => {
                self.stream(&mut line, out, true);
                if let Some(cmd) = &mut self.cmd
                    && cmd.device_error.is_some()
                    && cmd.next < cmd.lines.len()
                {
                    // A block stops at the first line the device rejects.
                    cmd.rejected = Some(i);
                    cmd.next = cmd.lines.len();
                }
            }
        }
        self.advance(out);
    }

    /// A set-up command's reply: paging off or not, and what the reply says about the family.
    fn setup_done(&mut self, setup: &'static Setup, reply: &str, out: &mut Actions) {
        match devices::setup_reply(self.learned.family, setup, reply) {
            Reply::Accepted => {
                if setup.kind == SetupKind::Paging {
                    self.paging_off = true;
                    self.paging_refused = None;
                }
                self.done_kinds.push(setup.kind);
                // The other ways to do the same thing are not needed.
                self.steps.retain(
                    |s| !matches!(s, Step::Setup { setup: other, .. } if other.kind == setup.kind),
                );
            }
            Reply::Refused(why) => {
                if setup.kind == SetupKind::Paging {
                    self.paging_refused = Some(why);
                }
            }
            Reply::Unconfirmed => {
                if setup.kind == SetupKind::Paging && self.paging_refused.is_none() {
                    self.paging_refused =
                        Some(format!("no confirmation for `{}`", setup.lines.join("; ")));
                }
            }
        }
        // A reply can name the family better (`Pagination disabled.` is Arista's): what is
        // left of the set-up is the new family's.
        if let Some(better) = devices::refine(&self.learned, reply) {
            self.learned = better;
            self.publish(out);
            self.steps.retain(|s| !matches!(s, Step::Setup { .. }));
            let family = self.learned.family;
            for setup in family
                .paging_off()
                .chain(family.width())
                .chain(family.other_setup())
            {
                if !self.done_kinds.contains(&setup.kind) {
                    self.steps.push_back(Step::Setup {
                        setup,
                        line: 0,
                        reply: String::new(),
                    });
                }
            }
        }
    }

    /// Output lines of the user's command, as they complete after its echo. With `done`, the
    /// line is over: what was held back (blank and context lines above the prompt) is dropped.
    fn stream(&mut self, line: &mut Line, out: &mut Actions, done: bool) {
        let Some(cmd) = &mut self.cmd else { return };
        let family = self.learned.family;
        // One piece of output per chunk, not per line: each piece is redacted and published.
        let mut shown = String::new();
        for text in line.take_complete_lines() {
            let Some(clean) = devices::clean_line(&text) else {
                continue;
            };
            if clean.is_empty() || family.is_context_line(clean) {
                if cmd.started {
                    cmd.held.push(clean.to_string());
                }
                continue;
            }
            for h in cmd.held.drain(..) {
                shown.push_str(&h);
                shown.push('\n');
            }
            shown.push_str(clean);
            shown.push('\n');
            cmd.started = true;
            if cmd.device_error.is_none() {
                cmd.device_error = devices::device_error(family, clean);
            }
        }
        if !shown.is_empty() {
            out.output(shown);
        }
        if done {
            cmd.held.clear();
        }
    }

    fn complete(&mut self, out: &mut Actions) {
        let Some(cmd) = self.cmd.take() else { return };
        if let Some(i) = cmd.rejected {
            let left = cmd.lines.len() - i - 1;
            out.note(format!(
                "the device rejected line {} of {} (`{}`); the {left} line{} after it {} not sent",
                i + 1,
                cmd.lines.len(),
                cmd.lines[i],
                if left == 1 { "" } else { "s" },
                if left == 1 { "was" } else { "were" },
            ));
        }
        let (status, error) = match (&cmd.enable_failed, cmd.interrupted) {
            (Some(why), _) => (
                JobStatus::Failed,
                Some(format!(
                    "enable failed ({why}); the command was not run and the session is still at {:?}",
                    self.learned.prompt.trim()
                )),
            ),
            (None, true) => (JobStatus::Interrupted, None),
            (None, false) => (JobStatus::Completed, None),
        };
        out.push(Action::Device(self.state()));
        out.complete(Completion {
            status,
            exit_code: None,
            error,
            device_error: cmd.device_error,
        });
    }

    fn start_cmd(&mut self, lines: Vec<String>, out: &mut Actions) {
        for n in self.pending_notes.drain(..) {
            out.note(n);
        }
        let leaves = lines.len() == 1
            && matches!(lines[0].trim(), "exit" | "logout" | "quit" | "/quit" | "q");
        self.cmd = Some(Cmd {
            lines,
            next: 0,
            held: Vec::new(),
            started: false,
            device_error: None,
            rejected: None,
            interrupted: false,
            enable_failed: None,
            leaves,
        });
        out.push(Action::Device(self.state()));
    }
}

impl Dialect for DeviceDialect {
    fn name(&self) -> String {
        self.learned.family.name.to_string()
    }

    fn open(&mut self, out: &mut Actions) {
        self.publish(out);
        self.steps.push_back(Step::Learn);
        let family = self.learned.family;
        for setup in family
            .paging_off()
            .chain(family.width())
            .chain(family.other_setup())
        {
            self.steps.push_back(Step::Setup {
                setup,
                line: 0,
                reply: String::new(),
            });
        }
        self.advance(out);
    }

    fn begin(&mut self, spec: &CommandSpec<'_>, out: &mut Actions) {
        let lines: Vec<String> = spec
            .text
            .lines()
            .map(str::to_string)
            .filter(|l| !l.trim().is_empty())
            .collect();
        let lines = if lines.is_empty() {
            vec![String::new()]
        } else {
            lines
        };
        self.start_cmd(lines, out);
        if let Some(enable) = spec.enable
            && self.learned.mode == Mode::User
            && self.learned.family.enable.is_some()
        {
            self.steps.push_back(Step::Enable {
                command: enable.command.to_string(),
                password: enable.password.clone(),
                typed: 0,
            });
        }
        if self.paging_refused.is_some() {
            let refused = self.paging_refused.clone().unwrap_or_default();
            out.note(format!(
                "the device refused to turn paging off ({refused}); its pagers are answered and removed from the output"
            ));
        }
        self.advance(out);
    }

    fn begin_raw(&mut self, bytes: &[u8], out: &mut Actions) {
        let text = String::from_utf8_lossy(bytes).into_owned();
        self.start_cmd(vec![text.clone()], out);
        out.write(self.input(bytes.to_vec()));
        self.line = Some(Line::new(Step::Raw, text.trim_end().to_string(), None));
        if let Some(cmd) = &mut self.cmd {
            cmd.next = cmd.lines.len();
        }
    }

    fn on_text(&mut self, text: &str, out: &mut Actions) {
        let Some(mut line) = self.line.take() else {
            return;
        };
        line.push(text, &self.learned);
        if matches!(line.step, Step::User(_) | Step::Raw) {
            self.stream(&mut line, out, false);
        }
        self.line = Some(line);
    }

    fn on_marker(&mut self, _payload: &str, _out: &mut Actions) {}

    fn on_partial(&mut self, partial: &str, settled: bool, out: &mut Actions) -> bool {
        let Some(line) = &mut self.line else {
            return false;
        };
        if let Some(p) = devices::pager(partial) {
            line.pagers += 1;
            out.push(Action::TakePartial);
            out.write(p.answer.as_bytes().to_vec());
            return true;
        }
        if let Step::Enable {
            password, typed, ..
        } = &mut line.step
        {
            match devices::enable_step(&self.learned, &line.text, partial) {
                Some(EnableStep::Password) => {
                    out.push(Action::TakePartial);
                    if *typed == 0 {
                        out.push(Action::Secret(password.clone()));
                    } else {
                        // Asked again: wrong. Empty answers until the device gives up, so the
                        // session stays usable; the secret is never typed twice.
                        out.write(b"\r".to_vec());
                    }
                    *typed += 1;
                    return true;
                }
                Some(EnableStep::Done(found)) => {
                    // Paging refused in user mode is worth another try now.
                    if self.paging_refused.is_some() {
                        let family = found.family;
                        for setup in family.paging_off().collect::<Vec<_>>().into_iter().rev() {
                            self.steps.push_front(Step::Setup {
                                setup,
                                line: 0,
                                reply: String::new(),
                            });
                        }
                    }
                    self.line_done(Some(found), out);
                    return true;
                }
                Some(EnableStep::Refused(why)) => {
                    if let Some(cmd) = &mut self.cmd {
                        cmd.enable_failed = Some(why);
                        cmd.next = cmd.lines.len();
                    }
                    let now = devices::is_prompt_of(&self.learned, partial).and_then(|m| match m {
                        PromptMatch::Same => None,
                        PromptMatch::Moved(d) | PromptMatch::Renamed(d) => Some(d),
                    });
                    self.line_done(now, out);
                    return true;
                }
                None => return !partial.trim().is_empty(),
            }
        }
        // Nothing counts as the prompt before the echo's newline (MikroTik repaints the
        // prompt and the command first).
        if !line.newline {
            return !partial.trim().is_empty();
        }
        match devices::is_prompt_of(&self.learned, partial) {
            Some(PromptMatch::Same) => {
                self.line_done(None, out);
                true
            }
            Some(PromptMatch::Moved(found)) => {
                self.line_done(Some(found), out);
                true
            }
            Some(PromptMatch::Renamed(found)) => {
                let announced = self.learned.family.renamed_to(&line.typed).as_deref()
                    == Some(found.hostname.as_str());
                if announced || settled {
                    self.line_done(Some(found), out);
                }
                true
            }
            None => false,
        }
    }

    fn interrupt(&mut self, out: &mut Actions) {
        if let Some(cmd) = &mut self.cmd {
            cmd.interrupted = true;
            // Lines of a block not sent yet stay unsent.
            cmd.next = cmd.lines.len();
        }
        out.write(self.learned.family.interrupt.to_vec());
    }

    fn input(&self, mut bytes: Vec<u8>) -> Vec<u8> {
        // A device's line editor reads the terminal raw: Enter is CR, and a lone LF may count
        // as a second Enter (MikroTik).
        let mut out = Vec::with_capacity(bytes.len());
        let mut prev_cr = false;
        for b in bytes.drain(..) {
            match b {
                b'\n' if prev_cr => {}
                b'\n' => out.push(b'\r'),
                other => out.push(other),
            }
            prev_cr = b == b'\r';
        }
        out
    }

    fn ready(&self) -> bool {
        self.line.is_none() && self.steps.is_empty() && self.cmd.is_none()
    }

    fn deadline(&self) -> Option<Instant> {
        self.line.as_ref()?.limit
    }

    fn on_deadline(&mut self, _partial: &str, out: &mut Actions) {
        let Some(line) = self.line.take() else {
            return;
        };
        match line.step {
            Step::Enable { .. } => {
                if let Some(cmd) = &mut self.cmd {
                    cmd.enable_failed = Some(format!(
                        "no privileged prompt within {} s",
                        ENABLE_LIMIT.as_secs()
                    ));
                    cmd.next = cmd.lines.len();
                }
                out.write(self.learned.family.interrupt.to_vec());
            }
            Step::Setup { setup, .. } => {
                tracing::debug!(setup = ?setup.lines, "a set-up command got no prompt back; skipped");
                self.pending_notes.push(format!(
                    "the device did not answer `{}` at set-up; skipped",
                    setup.lines.join("; ")
                ));
                out.write(self.learned.family.interrupt.to_vec());
            }
            _ => {}
        }
        self.advance(out);
    }

    fn answers_queries(&self) -> bool {
        true
    }

    fn ended(&mut self, _exit_code: Option<i32>, reason: &str, out: &mut Actions) {
        self.line = None;
        self.steps.clear();
        let Some(cmd) = self.cmd.take() else { return };
        let completion = if cmd.leaves {
            out.note("the device closed the session; the next command opens a new one");
            Completion {
                status: JobStatus::Completed,
                exit_code: None,
                error: None,
                device_error: None,
            }
        } else {
            Completion {
                status: if cmd.interrupted {
                    JobStatus::Interrupted
                } else {
                    JobStatus::Failed
                },
                exit_code: None,
                error: Some(format!("{reason}; the command's outcome is unknown")),
                device_error: cmd.device_error,
            }
        };
        out.complete(completion);
    }
}

#[cfg(test)]
mod tests;
