//! The POSIX dialect: a shell (bash, dash, ash, ksh, zsh) whose prompt is our marker.
//!
//! Every command is typed as one line that numbers it ([`encode::command_line`]); the marker
//! the prompt prints afterwards carries that number, the exit status and the working
//! directory. A marker is accepted only for the command it names (or when the shell the
//! command was typed into has ended, which only that command can have caused). After an
//! interrupt, a sync line is run before the shell takes another command, so a Ctrl-C still on
//! its way can never land on the next one. Commands that start a shell (`sudo -i`, `su -`,
//! `bash`...) are followed into it: once its prompt waits, the probe asks which shell answered
//! and the marker is set up inside at the next level. sudo's prompt is ours (`SUDO_PROMPT`
//! with this session's nonce); only that prompt gets the sudo password.

pub mod bootstrap;
pub mod encode;
pub mod nested;

use tokio::time::Instant;

use crate::expect::{
    Prompt, PromptKind, ShellPrompt, posix_shell_prompt, repl_prompt, shell_prompt,
};
use crate::jobs::JobStatus;
use crate::secret::Secret;
use crate::session::dialect::{Action, Actions, CommandSpec, Completion, Dialect};
use encode::{
    Marker, START_POSIX_SHELL, command_line, is_non_posix_shell, probe_line, probed_pid,
    probed_shell, setup_line, sudo_prompt_tag, sync_line,
};
use nested::starts_nested_shell;

/// How long a shell started by a command gets to answer our set-up lines.
const NESTED_SETUP: std::time::Duration = std::time::Duration::from_secs(5);
/// Output kept while a nested shell is being set up.
const HELD: usize = 64 * 1024;
/// Sync lines re-sent at most (each stale marker means a Ctrl-C flushed the previous one).
const SYNC_RETRIES: u32 = 5;

/// A POSIX shell set up with our marker.
pub struct PosixDialect {
    nonce: String,
    /// The current nesting level (1: the login shell).
    depth: u32,
    /// The PID of the shell at each level (index 0 is level 1), as far as probes told.
    pids: Vec<Option<u32>>,
    /// The last sequence number the shell at the current level was given.
    shell_seq: u64,
    /// Raw input left text on the shell's current line: the next command kills it first.
    dirty_line: bool,
    cmd: Option<Cmd>,
    sync: Option<Sync>,
    /// Sequence numbers for sync lines (commands get theirs from the actor): counted down
    /// from the top, so they never meet.
    next_sync_seq: u64,
}

/// The command in flight.
struct Cmd {
    seq: u64,
    /// The level it was typed at.
    depth: u32,
    text: String,
    sudo_password: Option<Secret>,
    sudo_typed: bool,
    sudo_rejected: bool,
    interrupted: bool,
    /// We typed a password: the newline the program prints after reading it is not output.
    swallow_newline: bool,
    nested: Option<Nested>,
}

/// Setting up the marker in a shell started by the command.
struct Nested {
    /// The level the set-up line was sent for (valid once `decided`).
    depth: u32,
    /// The probe answered and the set-up line went out.
    decided: bool,
    /// The probe came from the shell we already had: its prompt was reset, no new level.
    reset: bool,
    pid: Option<u32>,
    fallback_sent: bool,
    deadline: Instant,
    /// Output during the set-up: dropped when the shell answers, kept as the command's
    /// output when it turns out not to be a shell (bounded).
    held: String,
}

/// Waiting for the marker of a sync line.
struct Sync {
    seq: u64,
    retries: u32,
}

/// What [`bootstrap`] learned about the shell.
#[derive(Debug, Clone, Default)]
pub struct PosixInfo {
    pub login_shell: Option<String>,
    pub posix_fallback: bool,
    pub cwd: Option<String>,
    pub depth: u32,
}

impl PosixDialect {
    /// A dialect for a shell set up with `nonce` at level 1, whose last marker carried `seq`.
    pub fn new(nonce: String, pid: Option<u32>, seq: u64) -> Self {
        PosixDialect {
            nonce,
            depth: 1,
            pids: vec![pid],
            shell_seq: seq,
            dirty_line: false,
            cmd: None,
            sync: None,
            next_sync_seq: u64::MAX / 2,
        }
    }

    fn sudo_prompt(&self, partial: &str) -> Option<String> {
        let tag = sudo_prompt_tag(&self.nonce);
        let at = partial.rfind(&tag)?;
        let rest = partial[at + tag.len()..].trim_end();
        // `[sudo mcp:NONCE] password for USER:` and nothing after it.
        let user = rest.strip_prefix(" password for ")?.strip_suffix(':')?;
        (!user.contains(char::is_whitespace)).then(|| format!("[sudo] password for {user}:"))
    }

    fn start_sync(&mut self, out: &mut Actions) {
        let seq = self.next_sync_seq;
        self.next_sync_seq += 1;
        out.write(sync_line(seq));
        self.sync = Some(Sync { seq, retries: 0 });
    }

    /// The new shell's probe answered: decide its level and send the set-up line.
    fn nested_probe_answered(&mut self, out: &mut Actions) {
        let Some(cmd) = &mut self.cmd else { return };
        let Some(n) = &mut cmd.nested else { return };
        if n.decided {
            return;
        }
        // Only a completed line counts: the path may still be arriving.
        let Some(shell) = probed_shell(&n.held, &self.nonce) else {
            return;
        };
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
        bytes.extend_from_slice(&setup_line(&self.nonce, n.depth, cmd.seq));
        out.write(bytes);
    }

    fn give_back(n: Nested, out: &mut Actions) {
        out.output(n.held);
        out.note("the command showed a prompt that looked like a shell, so our shell probe line was typed into it; it is not a shell we can drive (its answer, if any, is part of the output)");
    }
}

impl Dialect for PosixDialect {
    fn name(&self) -> String {
        "posix".into()
    }

    fn begin(&mut self, cmd: &CommandSpec<'_>, out: &mut Actions) {
        if cmd.enable.is_some() {
            out.note("enable_password is for network devices; this host is a POSIX shell, so it was not used");
        }
        out.write(command_line(cmd.text, cmd.seq, self.dirty_line));
        self.dirty_line = false;
        self.shell_seq = cmd.seq;
        self.cmd = Some(Cmd {
            seq: cmd.seq,
            depth: self.depth,
            text: cmd.text.to_string(),
            sudo_password: cmd.sudo_password.cloned(),
            sudo_typed: false,
            sudo_rejected: false,
            interrupted: false,
            swallow_newline: false,
            nested: None,
        });
    }

    fn begin_raw(&mut self, bytes: &[u8], out: &mut Actions) {
        out.write(bytes.to_vec());
        // Text after the last line end stays on the shell's line.
        self.dirty_line = bytes
            .iter()
            .rposition(|b| *b == b'\n' || *b == b'\r')
            .is_none_or(|i| i + 1 < bytes.len());
        self.cmd = Some(Cmd {
            seq: self.shell_seq,
            depth: self.depth,
            text: String::from_utf8_lossy(bytes).into_owned(),
            sudo_password: None,
            sudo_typed: false,
            sudo_rejected: false,
            interrupted: false,
            swallow_newline: false,
            nested: None,
        });
    }

    fn on_text(&mut self, text: &str, out: &mut Actions) {
        let Some(cmd) = &mut self.cmd else { return };
        if let Some(n) = &mut cmd.nested {
            if n.held.len() < HELD {
                n.held.push_str(text);
            }
            self.nested_probe_answered(out);
            return;
        }
        let text = if std::mem::take(&mut cmd.swallow_newline) {
            text.strip_prefix('\n').unwrap_or(text)
        } else {
            text
        };
        // The shell's own goodbye is not the command's output.
        if is_exit_command(&cmd.text) {
            out.output(strip_goodbye(text));
        } else {
            out.output(text);
        }
    }

    fn on_marker(&mut self, payload: &str, out: &mut Actions) {
        let Some(m) = Marker::parse(payload) else {
            return;
        };
        if m.nonce != self.nonce {
            return;
        }
        out.push(Action::Cwd(m.cwd.clone()));
        let previous_depth = self.depth;
        if m.depth != self.depth {
            self.depth = m.depth;
            self.pids.truncate(m.depth as usize);
            self.pids.resize(m.depth as usize, None);
            out.push(Action::Depth(m.depth));
        }
        if let Some(sync) = &mut self.sync {
            if m.seq == sync.seq {
                self.sync = None;
                self.shell_seq = m.seq;
            } else if sync.retries < SYNC_RETRIES {
                // A Ctrl-C reached the shell after our sync line and flushed it.
                sync.retries += 1;
                out.write(sync_line(sync.seq));
            }
            return;
        }
        let Some(mut cmd) = self.cmd.take() else {
            return;
        };
        if let Some(n) = cmd.nested.take() {
            if n.decided && m.depth == n.depth && m.seq == cmd.seq {
                self.pids.truncate(m.depth as usize - 1);
                self.pids.push(n.pid);
                self.shell_seq = cmd.seq;
                if n.reset {
                    out.note("the command replaced the shell's prompt (by sourcing a startup file, or by `exec` of a shell in the same process); the session set it up again at the same level");
                } else {
                    if n.fallback_sent {
                        out.note("the new shell is not POSIX-compatible; bash (or sh) was started inside it");
                    }
                    out.note(format!(
                        "a new shell started (level {}); later commands run inside it, and `exit` returns to the previous shell",
                        m.depth
                    ));
                }
                out.complete(Completion::exited(JobStatus::Completed, 0));
                return;
            }
            // The outer shell answered: the "shell" was a program that has ended.
            Self::give_back(n, out);
        }
        // Raw input carries no number of its own: its `seq` is the shell's last one, which
        // is what its marker shows.
        let ours = m.seq == cmd.seq || m.depth < cmd.depth;
        if !ours && cmd.interrupted && m.depth == cmd.depth {
            // The shell is synced before every command, so an earlier number here means our
            // Ctrl-C reached the shell before it ran the command: the line was discarded.
            out.note("the interrupt reached the shell before the command started; it did not run");
            out.complete(Completion::exited(JobStatus::Interrupted, m.status));
            self.start_sync(out);
            return;
        }
        if !ours {
            // A marker of something earlier (a Ctrl-C at an idle prompt): not this command's.
            self.cmd = Some(cmd);
            return;
        }
        self.shell_seq = m.seq;
        if m.depth < previous_depth {
            out.note(format!(
                "the shell at level {previous_depth} ended; back in the shell at level {}",
                m.depth
            ));
        }
        let completion = if cmd.sudo_rejected {
            Completion {
                status: JobStatus::Failed,
                exit_code: Some(m.status),
                error: Some(
                    "sudo rejected the sudo_password (it asked again); the command did not run"
                        .into(),
                ),
                device_error: None,
            }
        } else if cmd.interrupted {
            Completion::exited(JobStatus::Interrupted, m.status)
        } else {
            Completion::exited(JobStatus::Completed, m.status)
        };
        out.complete(completion);
        if cmd.interrupted || cmd.sudo_rejected {
            self.start_sync(out);
        }
    }

    fn on_partial(&mut self, partial: &str, settled: bool, out: &mut Actions) -> bool {
        let Some(sudo_shown) = self.sudo_prompt(partial) else {
            return self.on_other_partial(partial, settled, out);
        };
        let Some(cmd) = &mut self.cmd else {
            return false;
        };
        if cmd.nested.is_some() {
            return true;
        }
        match (&cmd.sudo_password, cmd.sudo_typed) {
            (Some(pw), false) => {
                cmd.sudo_typed = true;
                cmd.swallow_newline = true;
                out.push(Action::TakePartial);
                out.push(Action::Secret(pw.clone()));
            }
            (Some(_), true) => {
                // Asked again: the password was wrong. Ctrl-C ends sudo at once instead of
                // letting it ask twice more.
                cmd.sudo_rejected = true;
                out.push(Action::TakePartial);
                out.write(vec![0x03]);
            }
            (None, _) => out.push(Action::AwaitInput(Prompt {
                kind: PromptKind::SudoPassword,
                text: sudo_shown,
            })),
        }
        true
    }

    fn interrupt(&mut self, out: &mut Actions) {
        if let Some(cmd) = &mut self.cmd {
            cmd.interrupted = true;
        }
        out.write(vec![0x03]);
    }

    fn ready(&self) -> bool {
        self.cmd.is_none() && self.sync.is_none()
    }

    fn deadline(&self) -> Option<Instant> {
        self.cmd.as_ref()?.nested.as_ref().map(|n| n.deadline)
    }

    fn on_deadline(&mut self, partial: &str, out: &mut Actions) {
        let Some(cmd) = &mut self.cmd else { return };
        let Some(n) = cmd.nested.take() else { return };
        // The shell we tried to set up never answered: it was not a shell we can drive.
        Self::give_back(n, out);
        let text = if partial.trim().is_empty() {
            "(no prompt visible; use read_screen)".to_string()
        } else {
            partial.trim().to_string()
        };
        out.push(Action::AwaitInput(Prompt {
            kind: PromptKind::Input,
            text,
        }));
    }

    fn show_prompt(&self, line: &str) -> String {
        self.sudo_prompt(line).unwrap_or_else(|| line.to_string())
    }

    fn asks_human(&self, prompt: &Prompt) -> bool {
        matches!(prompt.kind, PromptKind::Password | PromptKind::Passphrase)
            && self
                .cmd
                .as_ref()
                .is_some_and(|c| c.nested.is_none() && nested::runs_ssh(&c.text))
    }

    fn ended(&mut self, exit_code: Option<i32>, reason: &str, out: &mut Actions) {
        self.sync = None;
        let Some(mut cmd) = self.cmd.take() else {
            return;
        };
        if let Some(n) = cmd.nested.take() {
            Self::give_back(n, out);
        }
        if is_exit_command(&cmd.text) {
            out.note("the shell exited; the next command starts a new shell (working directory and variables reset)");
            out.complete(Completion {
                status: JobStatus::Completed,
                exit_code,
                error: None,
                device_error: None,
            });
        } else if cmd.interrupted {
            out.complete(Completion {
                status: JobStatus::Interrupted,
                exit_code,
                error: Some(reason.to_string()),
                device_error: None,
            });
        } else {
            out.complete(Completion {
                status: JobStatus::Failed,
                exit_code: None,
                error: Some(format!("{reason}; the command's outcome is unknown")),
                device_error: None,
            });
        }
    }
}

impl PosixDialect {
    /// Prompts other than ours: a shell started by the command gets the marker set up.
    fn on_other_partial(&mut self, partial: &str, settled: bool, out: &mut Actions) -> bool {
        let Some(cmd) = &mut self.cmd else {
            return false;
        };
        if cmd.nested.is_some() {
            return true;
        }
        if !settled {
            return false;
        }
        // Only a shell gets the marker set up: a REPL or a device prompt (`mysql>`, `Router#`)
        // must never receive our set-up lines unless the command itself starts a shell.
        let nested_shell = match shell_prompt(partial) {
            Some(_) if starts_nested_shell(&cmd.text) => true,
            Some(ShellPrompt::Strong) => posix_shell_prompt(partial) && !repl_prompt(partial),
            _ => false,
        };
        if !nested_shell {
            return false;
        }
        cmd.nested = Some(Nested {
            depth: self.depth + 1,
            decided: false,
            reset: false,
            pid: None,
            fallback_sent: false,
            deadline: Instant::now() + NESTED_SETUP,
            held: String::new(),
        });
        // The new shell's own prompt is not output.
        out.push(Action::TakePartial);
        // Probe first: which shell answers decides the level the set-up line names.
        out.write(probe_line(&self.nonce));
        true
    }
}

/// Drops the `logout` / `exit` line a shell prints as it ends.
fn strip_goodbye(text: &str) -> &str {
    for bye in ["logout\n", "exit\n"] {
        if text == bye {
            return "";
        }
        if let Some(rest) = text.strip_suffix(bye)
            && rest.ends_with('\n')
        {
            return rest;
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
mod tests;
