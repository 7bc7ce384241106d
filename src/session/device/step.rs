//! What a device session is doing: the steps it takes, and the line in flight (what was typed,
//! what came back, where the echo ends).

use tokio::time::Instant;

use crate::devices::{self, Detected, Echo, Setup};
use crate::secret::Secret;

/// One line typed into the device, and what it is for.
pub(super) enum Step {
    /// Enter, to learn the exact prompt.
    Learn,
    /// Line `line` of a set-up command, with the reply of its earlier lines.
    Setup {
        setup: &'static Setup,
        line: usize,
        reply: String,
    },
    /// `enable`; `typed` counts the password prompts answered.
    Enable {
        command: String,
        password: Secret,
        typed: u32,
    },
    /// Line `n` of the user's command.
    User(usize),
    /// Raw input of the user (`send_input_by_session` on an idle session).
    Raw,
}

/// The line in flight.
pub(super) struct Line {
    pub step: Step,
    /// What was typed, for finding its echo and for renames it announces.
    pub typed: String,
    /// Completed text since it was typed: the echo, then the output (what
    /// [`Line::take_complete_lines`] handed out is dropped).
    pub text: String,
    /// A line end came since it was typed (the echo's, at least).
    pub newline: bool,
    /// Where the output starts in `text`, once the echo is found.
    echo: Option<usize>,
    /// How far past the echo the output was handed out.
    taken: usize,
    pub pagers: usize,
    /// Give up on the line after this (internal steps only).
    pub limit: Option<Instant>,
}

impl Line {
    pub fn new(step: Step, typed: String, limit: Option<Instant>) -> Self {
        Line {
            step,
            typed,
            text: String::new(),
            newline: false,
            echo: None,
            taken: 0,
            pagers: 0,
            limit,
        }
    }

    /// More completed text.
    pub fn push(&mut self, text: &str, learned: &Detected) {
        self.text.push_str(text);
        self.newline |= text.contains('\n');
        if self.echo.is_none() {
            self.echo = match devices::echo_end(learned, &self.typed, &self.text) {
                Echo::Ends(n) => Some(n),
                Echo::Absent => Some(0),
                Echo::Incomplete => None,
            };
            self.taken = self.echo.unwrap_or(0);
        }
    }

    /// The completed output lines (without their newline) not handed out before; nothing
    /// until the echo is found.
    pub fn take_complete_lines(&mut self) -> Vec<String> {
        if self.echo.is_none() {
            return Vec::new();
        }
        let rest = &self.text[self.taken..];
        let Some(end) = rest.rfind('\n') else {
            return Vec::new();
        };
        let lines = rest[..end].split('\n').map(str::to_string).collect();
        // Handed out: not kept (a long `show tech` lives in the job's output, not here).
        self.text.drain(..self.taken + end + 1);
        self.taken = 0;
        self.echo = Some(0);
        lines
    }

    /// The whole output of the line, cleaned (a set-up command's reply).
    pub fn output_text(&self, learned: &Detected) -> String {
        let start = self.echo.unwrap_or(0).min(self.text.len());
        devices::clean_output(learned, &self.text[start..])
    }
}
