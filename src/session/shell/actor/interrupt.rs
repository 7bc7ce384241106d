//! Interrupts a program missed: sent again while nothing answers.

use std::time::Duration;

use tokio::time::Instant;

use super::Actor;

/// An interrupt that nothing answered (no output, the command still running) is sent again
/// after this long, at most [`INTERRUPT_TRIES`] times in all: a program can miss a Ctrl-C
/// (sudo's password prompt takes the signal, but then reads on when it came between writing
/// the prompt and reading).
const INTERRUPT_RETRY: Duration = Duration::from_secs(1);
const INTERRUPT_TRIES: u8 = 3;

impl Actor {
    /// When an unanswered interrupt is sent again, if one is due.
    pub(super) fn interrupt_retry_at(&self) -> Option<Instant> {
        let (id, at, tries) = self.interrupted.as_ref()?;
        let running = self.running.as_ref()?;
        (running.job.id == *id && *tries < INTERRUPT_TRIES).then(|| *at + INTERRUPT_RETRY)
    }

    /// Sends the interrupt again when the command said nothing since the last one; output
    /// means it heard (a REPL prints its prompt again), and then it is not repeated.
    pub(super) fn interrupt_again(&mut self) {
        let Some((id, at, tries)) = self.interrupted.take() else {
            return;
        };
        if self.last_output > at || self.for_running(&id).is_err() {
            return;
        }
        tracing::debug!(command = %id, tries, "no answer to the interrupt; sending it again");
        self.interrupted = Some((id, Instant::now(), tries + 1));
        self.dialect.interrupt(&mut self.actions);
        self.apply();
    }
}
