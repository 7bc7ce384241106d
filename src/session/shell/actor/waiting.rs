//! What a running command waits for: the unterminated last line looked at for prompts (the
//! dialect's own first), login prompts put to the human, full-screen programs told by the
//! terminal's mode once output has settled.

use tokio::time::Instant;

use super::{Actor, Running, SETTLE};
use crate::expect::{Prompt, PromptKind, classify, repl_prompt, shell_prompt};
use crate::jobs::JobStatus;
use crate::session::shell::Request;
use crate::ssh::ask::SecretQuestion;

impl Actor {
    /// When a prompt-like line is waiting, the moment we act on it if nothing else arrives.
    pub(super) fn settle_deadline(&self) -> Option<Instant> {
        let r = self.running.as_ref()?;
        if self.settle_checked || r.job.status() == JobStatus::AwaitingInput {
            return None;
        }
        let waiting_line = !self.stripper.partial_line().trim().is_empty();
        if !waiting_line
            && !self.stripper.in_alternate_screen()
            && !self.stripper.application_cursor()
        {
            return None;
        }
        Some(self.last_output + SETTLE)
    }

    pub(super) fn on_settled(&mut self) {
        self.check_prompts(true);
        // Looked once; the next look waits for new output.
        self.settle_checked = true;
    }

    /// Looks at the unterminated last line. The dialect goes first (its own prompts: sudo,
    /// a nested shell, a device's pager); then prompts that ask for a secret are reported at
    /// once, other prompts and full-screen programs once output has settled.
    pub(super) fn check_prompts(&mut self, settled: bool) {
        let partial = self.stripper.partial_line();
        let handled = self
            .dialect
            .on_partial(&partial, settled, &mut self.actions);
        self.apply();
        if handled || self.running.is_none() {
            return;
        }
        let lines = self.lines;
        let full_screen = self.stripper.in_alternate_screen();
        let app_cursor = self.stripper.application_cursor();
        let Some(r) = &mut self.running else { return };
        // A full-screen program redraws without new lines; it waits whenever it is quiet.
        if settled && full_screen {
            Self::await_input(r, full_screen_prompt(), lines);
            return;
        }
        if r.answered_line == Some(lines) {
            return;
        }
        let prompt = classify(&partial, &self.recent);
        let secret = prompt.as_ref().is_some_and(|p| {
            matches!(
                p.kind,
                PromptKind::Password
                    | PromptKind::SudoPassword
                    | PromptKind::Passphrase
                    | PromptKind::HostKey { .. }
            )
        });
        if secret {
            let prompt = prompt.expect("checked");
            // A login prompt of another host goes to the human when someone can ask them;
            // meanwhile the command counts as running.
            if self.dialect.asks_human(&prompt) && self.ask_human(&prompt, lines) {
                return;
            }
            let Some(r) = &mut self.running else { return };
            Self::await_input(r, prompt, lines);
            return;
        }
        if !settled {
            return;
        }
        if let Some(p) = prompt {
            Self::await_input(r, p, lines);
        } else if !partial.trim().is_empty()
            && (shell_prompt(&partial).is_some() || repl_prompt(&partial))
        {
            let p = Prompt {
                kind: PromptKind::Input,
                text: partial.trim().to_string(),
            };
            Self::await_input(r, p, lines);
        } else if app_cursor {
            // Cursor keys in application mode and nothing that reads as a prompt: a program
            // reading keys (a menu, an editor without the alternate screen).
            Self::await_input(r, full_screen_prompt(), lines);
        }
    }

    /// Puts a login prompt of the running command to the human (once per prompt); the answer
    /// comes back as a request and is typed if the prompt still waits. False when there is no
    /// one to ask.
    fn ask_human(&mut self, prompt: &Prompt, lines: usize) -> bool {
        let Some(r) = &mut self.running else {
            return false;
        };
        let Some(asker) = r.asker.clone() else {
            return false;
        };
        let Some(to_self) = self.to_self.upgrade() else {
            return false;
        };
        if r.asked_line == Some(lines) {
            return true;
        }
        r.asked_line = Some(lines);
        r.answered_line = Some(lines);
        let (job_id, prompt) = (r.job.id.clone(), prompt.clone());
        let q = SecretQuestion {
            dest: r.job.session.clone(),
            what: if prompt.kind == PromptKind::Passphrase {
                "a key passphrase"
            } else {
                "a password"
            },
            hop: None,
            prompt: prompt.text.clone(),
        };
        tokio::spawn(async move {
            let answer = asker.secret(&q).await.map_err(|why| (why, prompt));
            let _ = to_self
                .send(Request::Answer {
                    job_id,
                    line: lines,
                    answer,
                })
                .await;
        });
        true
    }

    pub(super) fn await_input(r: &mut Running, prompt: Prompt, lines: usize) {
        r.answered_line = Some(lines);
        let same = r.job.with_state(|s| {
            s.status == JobStatus::AwaitingInput && s.awaiting.as_ref() == Some(&prompt)
        });
        if same {
            return;
        }
        r.job.update(|s| {
            s.status = JobStatus::AwaitingInput;
            s.awaiting = Some(prompt);
        });
    }
}

fn full_screen_prompt() -> Prompt {
    Prompt {
        kind: PromptKind::FullScreen,
        text: "full-screen program; use read_screen and send_keys".into(),
    }
}
