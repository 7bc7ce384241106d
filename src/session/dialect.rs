//! The seam between a shell's lifecycle and the protocol spoken in it.
//!
//! The shell actor ([`super::shell`]) owns the terminal, the request queue and the command
//! records; it does not know what runs on the other side. A [`Dialect`] does: the POSIX marker
//! protocol ([`super::posix`]) or a network device's CLI. The actor hands it the terminal's
//! events for the running command (completed text lines, OSC markers, the unterminated line as
//! it stands after every chunk and once output has settled) and carries out the [`Action`]s it
//! returns. What the dialect does not claim, the actor treats generically: prompts that ask for
//! input, full-screen programs, the shell's end.

use crate::expect::Prompt;
use crate::jobs::{DeviceState, JobStatus};
use crate::secret::Secret;

/// A command handed to a dialect.
#[derive(Debug)]
pub struct CommandSpec<'a> {
    /// This shell's sequence number for the command: completions that carry another one
    /// belong to something else.
    pub seq: u64,
    /// The command as the caller gave it.
    pub text: &'a str,
    /// Typed at the dialect's own sudo prompt, and only there.
    pub sudo_password: Option<&'a Secret>,
    /// A network device's enable step, for dialects that have one.
    pub enable: Option<Enable<'a>>,
}

/// A privilege step before a device command (`enable` on a `>` prompt).
#[derive(Debug, Clone, Copy)]
pub struct Enable<'a> {
    pub password: &'a Secret,
    pub command: &'a str,
}

/// How a command ended, as far as the dialect can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub status: JobStatus,
    /// The exit status; None when the protocol has none (devices) or the shell died.
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    /// A network device's error line (`% Invalid input detected...`).
    pub device_error: Option<String>,
}

impl Completion {
    pub fn exited(status: JobStatus, exit_code: i32) -> Self {
        Completion {
            status,
            exit_code: Some(exit_code),
            error: None,
            device_error: None,
        }
    }
}

/// What the dialect asks the actor to do, in order.
#[derive(Debug)]
pub enum Action {
    /// Type these bytes (already quoted for the terminal).
    Write(Vec<u8>),
    /// Type a secret and Enter at a prompt that asked for it (quoted by the actor, never logged).
    Secret(Secret),
    /// Append to the running command's output.
    Output(String),
    /// The unterminated line on screen is consumed (an answered prompt, a removed pager line):
    /// it is not output.
    TakePartial,
    /// The running command waits for input at this prompt.
    AwaitInput(Prompt),
    /// Something the caller should know about the running command.
    Note(String),
    /// The running command ended. The shell may still be busy (see [`Dialect::ready`]).
    Complete(Completion),
    /// The shell's working directory.
    Cwd(String),
    /// The shell's nesting level (1 is the login shell).
    Depth(u32),
    /// A short description of where the session is (a device's mode and prompt), for listings.
    Mode(String),
    /// The device the running command talks to, as its result shows it.
    Device(DeviceState),
}

/// Collects actions; a thin wrapper so call sites read as sentences.
#[derive(Debug, Default)]
pub struct Actions(pub Vec<Action>);

impl Actions {
    pub fn push(&mut self, a: Action) {
        self.0.push(a);
    }
    pub fn write(&mut self, bytes: impl Into<Vec<u8>>) {
        self.0.push(Action::Write(bytes.into()));
    }
    pub fn output(&mut self, text: impl Into<String>) {
        let text = text.into();
        if !text.is_empty() {
            self.0.push(Action::Output(text));
        }
    }
    pub fn note(&mut self, text: impl Into<String>) {
        self.0.push(Action::Note(text.into()));
    }
    pub fn complete(&mut self, c: Completion) {
        self.0.push(Action::Complete(c));
    }
    pub fn drain(&mut self) -> std::vec::Drain<'_, Action> {
        self.0.drain(..)
    }
}

/// The protocol spoken in a shell. Every method gets the running command's events; the
/// dialect keeps whatever per-command state it needs between them.
pub trait Dialect: Send {
    /// `posix`, or a device family, for listings and results.
    fn name(&self) -> String;

    /// The shell is handed over: anything to do before the first command (a device turns its
    /// pager off). The shell counts as busy until [`Dialect::ready`].
    fn open(&mut self, _out: &mut Actions) {}

    /// What to type for input a caller sends to the running command (`\n` is Enter).
    fn input(&self, bytes: Vec<u8>) -> Vec<u8> {
        bytes
    }

    /// Starts `cmd` in an idle shell.
    fn begin(&mut self, cmd: &CommandSpec<'_>, out: &mut Actions);

    /// Raw input typed into the idle shell on a caller's behalf (`send_input_by_session`): it
    /// runs as a command of its own until the shell is idle again.
    fn begin_raw(&mut self, bytes: &[u8], out: &mut Actions);

    /// Completed lines (each ending in '\n') while a command runs.
    fn on_text(&mut self, text: &str, out: &mut Actions);

    /// An OSC 7770 payload, whether or not a command runs.
    fn on_marker(&mut self, payload: &str, out: &mut Actions);

    /// The unterminated line as the terminal shows it, after every chunk of a running command
    /// (`settled` false) and once output has been quiet for a moment (`settled` true). Returns
    /// true when the dialect dealt with it; otherwise the actor looks for generic prompts.
    fn on_partial(&mut self, partial: &str, settled: bool, out: &mut Actions) -> bool;

    /// Interrupts the running command (Ctrl-C, or a device's break sequence).
    fn interrupt(&mut self, out: &mut Actions);

    /// The shell can take a command (false while a dialect re-synchronises after an
    /// interrupt, or sets up a shell a command started).
    fn ready(&self) -> bool;

    /// A deadline the dialect waits on (a nested set-up that may never be answered).
    fn deadline(&self) -> Option<tokio::time::Instant> {
        None
    }

    /// Called when [`Dialect::deadline`] passes.
    fn on_deadline(&mut self, _partial: &str, _out: &mut Actions) {}

    /// Answer terminal queries (cursor position, device attributes) as a terminal would.
    fn answers_queries(&self) -> bool {
        false
    }

    /// Should this prompt of the running command be put to the human (through the MCP
    /// client's one-time page) rather than left for the model: a login prompt of another host
    /// the command logs in to (`ssh other`)?
    fn asks_human(&self, _prompt: &Prompt) -> bool {
        false
    }

    /// Rewrites a prompt line for the caller (hides protocol tokens).
    fn show_prompt(&self, line: &str) -> String {
        line.to_string()
    }

    /// The shell ended (its terminal closed, or it was closed) with a command running:
    /// complete it as the dialect understands what happened (`exit` was asked for, or not).
    fn ended(&mut self, exit_code: Option<i32>, reason: &str, out: &mut Actions);
}
