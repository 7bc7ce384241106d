//! Command records: status, exit code, bounded output, timing; and the bounded history.

pub mod output;
pub mod spool;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::expect::Prompt;
use crate::ssh::Shown;
pub use output::{Gap, OutputBuffer, OutputSlice};
pub use spool::Spools;

/// Where a command is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Running,
    AwaitingInput,
    Completed,
    Failed,
    Interrupted,
}

impl JobStatus {
    pub fn is_active(self) -> bool {
        matches!(self, JobStatus::Running | JobStatus::AwaitingInput)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Running => "running",
            JobStatus::AwaitingInput => "awaiting_input",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Interrupted => "interrupted",
        }
    }
}

/// The network device a command ran on, as its result shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct DeviceState {
    /// The vendor family (`cisco_ios`, `juniper_junos`...).
    pub family: String,
    pub vendor: String,
    /// `user`, `privileged`, `operational` or `config`.
    pub mode: String,
    pub prompt: String,
}

/// The mutable part of a job, updated by the shell that runs it.
#[derive(Debug)]
pub struct JobState {
    pub status: JobStatus,
    pub exit_code: Option<i32>,
    pub output: OutputBuffer,
    /// The unterminated last line as the terminal shows it now.
    pub partial: String,
    pub ended_at: Option<SystemTime>,
    ended: Option<Instant>,
    pub cwd: Option<String>,
    pub awaiting: Option<Prompt>,
    /// Things the agent should know (shell reset, nested shell entered, ran in a parallel shell...).
    pub notes: Vec<String>,
    pub error: Option<String>,
    /// A network device's error line for the command (devices have no exit status).
    pub device_error: Option<String>,
    /// The network device the command ran on.
    pub device: Option<DeviceState>,
}

impl JobState {
    /// A command that was waiting for input runs again (it got input, or printed more).
    pub fn resume(&mut self) {
        if self.status == JobStatus::AwaitingInput {
            self.status = JobStatus::Running;
            self.awaiting = None;
        }
    }
}

/// One command.
#[derive(Debug)]
pub struct Job {
    pub id: String,
    /// `user@host:port`.
    pub session: String,
    pub command: String,
    pub started_at: SystemTime,
    started: Instant,
    state: Mutex<JobState>,
    changed: watch::Sender<u64>,
    /// What may be shown of the job's destination: ssh's words in errors, notes and prompts
    /// are scrubbed with it (the output is the remote program's and is left as it is).
    shown: OnceLock<Arc<Shown>>,
}

/// How waiting for a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    Finished,
    AwaitingInput,
    TimedOut,
    Cancelled,
}

/// A copy of a job's state for a tool result.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct JobSnapshot {
    pub command_id: String,
    pub session: String,
    pub command: String,
    pub status: JobStatus,
    /// The remote exit status; null while running, or when the shell ended without one.
    pub exit_code: Option<i32>,
    pub output: String,
    /// True when `output` is cut (head and tail kept); the note in it says how to read the rest.
    pub truncated: bool,
    pub output_bytes: u64,
    pub duration_ms: u64,
    /// The shell's working directory after the command.
    pub cwd: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub awaiting_input: Option<AwaitingInput>,
    pub notes: Vec<String>,
    pub error: Option<String>,
    /// A network device's error line (devices have no exit status).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_error: Option<String>,
    /// The network device (vendor family, mode, prompt) the command ran on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceState>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AwaitingInput {
    /// password, sudo_password, passphrase, ssh_host_key, yes_no, press_key, pager, user_input.
    pub kind: String,
    pub prompt: String,
}

impl Job {
    pub fn new(session: String, command: String, output: OutputBuffer) -> Arc<Job> {
        let (changed, _) = watch::channel(0);
        Arc::new(Job {
            id: uuid::Uuid::new_v4().to_string(),
            session,
            command,
            started_at: SystemTime::now(),
            started: Instant::now(),
            state: Mutex::new(JobState {
                status: JobStatus::Running,
                exit_code: None,
                output,
                partial: String::new(),
                ended_at: None,
                ended: None,
                cwd: None,
                awaiting: None,
                notes: Vec::new(),
                error: None,
                device_error: None,
                device: None,
            }),
            changed,
            shown: OnceLock::new(),
        })
    }

    /// Sets what may be shown of the job's destination (once, before the job runs).
    pub fn set_shown(&self, shown: Arc<Shown>) {
        let _ = self.shown.set(shown);
    }

    /// `text` as it may be shown (see [`Shown::scrub`]).
    fn scrub(&self, text: &str) -> String {
        match self.shown.get() {
            Some(s) => s.scrub(text),
            None => text.to_string(),
        }
    }

    /// Applies `f` to the state and wakes waiters.
    pub fn update<R>(&self, f: impl FnOnce(&mut JobState) -> R) -> R {
        let r = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut s)
        };
        self.changed.send_modify(|v| *v += 1);
        r
    }

    pub fn with_state<R>(&self, f: impl FnOnce(&mut JobState) -> R) -> R {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s)
    }

    pub fn status(&self) -> JobStatus {
        self.with_state(|s| s.status)
    }

    /// Marks the job finished (idempotent: the first end wins).
    pub fn finish(&self, status: JobStatus, exit_code: Option<i32>, error: Option<String>) {
        self.update(|s| {
            if !s.status.is_active() {
                return;
            }
            let partial = std::mem::take(&mut s.partial);
            s.output.push(&partial);
            s.output.flush();
            s.status = status;
            s.exit_code = exit_code;
            s.awaiting = None;
            if error.is_some() {
                s.error = error;
            }
            s.ended_at = Some(SystemTime::now());
            s.ended = Some(Instant::now());
        });
    }

    pub fn duration(&self) -> Duration {
        self.with_state(|s| s.ended.unwrap_or_else(Instant::now) - self.started)
    }

    /// Subscribe to changes (new output, status); for waiting and progress.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Waits until the job finishes, stops at a prompt, `until` passes or `cancel` fires.
    pub async fn wait(&self, until: tokio::time::Instant, cancel: &CancellationToken) -> Waited {
        let mut rx = self.subscribe();
        loop {
            match self.status() {
                JobStatus::Running => {}
                JobStatus::AwaitingInput => return Waited::AwaitingInput,
                _ => return Waited::Finished,
            }
            tokio::select! {
                r = rx.changed() => if r.is_err() { return Waited::Finished },
                _ = tokio::time::sleep_until(until) => return Waited::TimedOut,
                _ = cancel.cancelled() => return Waited::Cancelled,
            }
        }
    }

    /// Waits until the job has ended (waiting for input does not count), `until` passes or
    /// `cancel` fires. True when it ended.
    pub async fn wait_ended(
        &self,
        until: tokio::time::Instant,
        cancel: &CancellationToken,
    ) -> bool {
        let mut rx = self.subscribe();
        loop {
            if !self.status().is_active() {
                return true;
            }
            tokio::select! {
                r = rx.changed() => if r.is_err() { return !self.status().is_active() },
                _ = tokio::time::sleep_until(until) => return false,
                _ = cancel.cancelled() => return false,
            }
        }
    }

    pub fn snapshot(&self, limit: usize) -> JobSnapshot {
        let duration_ms = self.duration().as_millis() as u64;
        self.with_state(|s| {
            let (output, truncated) = s.output.summary(limit, &s.partial, &self.id);
            JobSnapshot {
                command_id: self.id.clone(),
                session: self.session.clone(),
                command: self.command.clone(),
                status: s.status,
                exit_code: s.exit_code,
                output,
                truncated,
                output_bytes: s.output.total_bytes() + s.partial.len() as u64,
                duration_ms,
                cwd: s.cwd.as_deref().map(|c| self.scrub(c)),
                started_at: rfc3339(self.started_at),
                ended_at: s.ended_at.map(rfc3339),
                awaiting_input: s.awaiting.as_ref().map(|p| AwaitingInput {
                    kind: prompt_kind_name(&p.kind).to_string(),
                    prompt: self.scrub(&p.text),
                }),
                notes: s.notes.iter().map(|n| self.scrub(n)).collect(),
                error: s.error.as_deref().map(|e| self.scrub(e)),
                device_error: s.device_error.clone(),
                device: s.device.clone(),
            }
        })
    }

    /// Reads part of the full output.
    pub fn read_output(&self, offset: u64, length: usize) -> OutputSlice {
        self.with_state(|s| s.output.read(offset, length))
    }
}

/// The names agents of the Python tool know for awaiting-input reasons.
pub fn prompt_kind_name(k: &crate::expect::PromptKind) -> &'static str {
    use crate::expect::PromptKind as K;
    match k {
        K::Password => "password",
        K::SudoPassword => "sudo_password",
        K::Passphrase => "passphrase",
        K::HostKey { .. } => "ssh_host_key",
        K::YesNo => "yes_no",
        K::PressKey => "press_key",
        K::Pager => "pager",
        K::Input => "user_input",
        K::FullScreen => "interactive",
    }
}

/// Jobs by id, and their ids in start order.
type JobTable = (HashMap<String, Arc<Job>>, VecDeque<String>);

/// All jobs by id; finished ones beyond the limit are forgotten, oldest first.
#[derive(Debug)]
pub struct JobRegistry {
    inner: Mutex<JobTable>,
    limit: usize,
}

impl JobRegistry {
    pub fn new(limit: usize) -> Self {
        JobRegistry {
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
            limit: limit.max(1),
        }
    }

    pub fn insert(&self, job: Arc<Job>) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.1.push_back(job.id.clone());
        g.0.insert(job.id.clone(), job);
        self.prune(&mut g);
    }

    /// Forgets the oldest finished jobs beyond the limit; active ones are never dropped. Run on
    /// every insert and listing, since jobs finish between inserts.
    fn prune(&self, g: &mut JobTable) {
        let finished = g.0.values().filter(|j| !j.status().is_active()).count();
        let mut excess = finished.saturating_sub(self.limit);
        if excess == 0 {
            return;
        }
        let (map, order) = g;
        order.retain(|id| {
            if excess == 0 {
                return true;
            }
            match map.get(id) {
                Some(j) if !j.status().is_active() => {
                    map.remove(id);
                    excess -= 1;
                    false
                }
                _ => true,
            }
        });
    }

    pub fn get(&self, id: &str) -> Option<Arc<Job>> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.0.get(id.trim()).cloned()
    }

    /// Jobs in start order, newest last.
    pub fn all(&self) -> Vec<Arc<Job>> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        self.prune(&mut g);
        g.1.iter().filter_map(|id| g.0.get(id).cloned()).collect()
    }
}

/// `2026-11-26T05:30:25.123Z` without a date library.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_671_025_123);
        assert_eq!(rfc3339(t), "2026-11-26T05:30:25.123Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn history_is_bounded_and_keeps_running_jobs() {
        let reg = JobRegistry::new(3);
        let running = Job::new("s".into(), "sleep".into(), OutputBuffer::new(100, None));
        reg.insert(running.clone());
        for i in 0..10 {
            let j = Job::new("s".into(), format!("c{i}"), OutputBuffer::new(100, None));
            j.finish(JobStatus::Completed, Some(0), None);
            reg.insert(j);
        }
        let late = Job::new("s".into(), "late".into(), OutputBuffer::new(100, None));
        reg.insert(late.clone());
        late.finish(JobStatus::Completed, Some(0), None);
        let all = reg.all();
        assert_eq!(all.len(), 4, "3 finished and the running one");
        assert!(reg.get(&running.id).is_some());
        assert_eq!(all.last().unwrap().command, "late");
    }

    #[tokio::test]
    async fn wait_returns_when_finished() {
        let j = Job::new("s".into(), "x".into(), OutputBuffer::new(100, None));
        let j2 = j.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            j2.update(|s| s.output.push("done\n"));
            j2.finish(JobStatus::Completed, Some(7), None);
        });
        let w = j
            .wait(
                tokio::time::Instant::now() + Duration::from_secs(5),
                &CancellationToken::new(),
            )
            .await;
        assert_eq!(w, Waited::Finished);
        let snap = j.snapshot(1000);
        assert_eq!(snap.exit_code, Some(7));
        assert_eq!(snap.output, "done\n");
    }
}
