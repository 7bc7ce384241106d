//! Command tools: execute_command (and its async form), status, output paging, interrupt,
//! input, running list and history.

use std::time::Duration;

use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ProgressNotificationParam, RequestMetaObject};
use rmcp::{Peer, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::error::Error;
use crate::jobs::{Gap, Job, JobSnapshot, JobStatus, Waited, rfc3339};
use crate::mcp::params::{opt_port, opt_string, opt_u64};
use crate::mcp::{SshServer, result, text, tool_error};
use crate::secret::{Secret, opt_secret};
use crate::session::ExecRequest;

/// How to log in: the parameters both execute tools share with the Python tool.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Login {
    /// Login user.
    #[serde(default, deserialize_with = "opt_string")]
    pub username: Option<String>,
    /// Login password.
    #[serde(default, deserialize_with = "opt_secret")]
    pub password: Option<Secret>,
    /// Private key file.
    #[serde(default, deserialize_with = "opt_string")]
    pub key_filename: Option<String>,
    /// SSH port.
    #[serde(default, deserialize_with = "opt_port")]
    pub port: Option<u16>,
}

impl Login {
    fn request(self, host: String, command: String, timeout: u64) -> ExecRequest {
        ExecRequest {
            host,
            command,
            username: self.username,
            password: self.password,
            key_filename: self.key_filename,
            port: self.port,
            timeout: Duration::from_secs(timeout),
            ..Default::default()
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ExecuteCommandParams {
    /// Host, IP or ssh config alias.
    pub host: String,
    /// Shell command (cd/export persist).
    pub command: String,
    #[serde(flatten)]
    pub login: Login,
    /// Network device enable password.
    #[serde(default, deserialize_with = "opt_secret")]
    pub enable_password: Option<Secret>,
    /// Network device enable command.
    #[serde(default = "default_enable_command")]
    pub enable_command: String,
    /// Typed once when sudo asks for a password.
    #[serde(default, deserialize_with = "opt_secret")]
    pub sudo_password: Option<Secret>,
    /// Seconds to wait; the command then continues in the background.
    #[serde(default, deserialize_with = "opt_u64")]
    #[schemars(default = "default_timeout_30")]
    pub timeout: Option<u64>,
}

fn default_enable_command() -> String {
    "enable".into()
}
fn default_timeout_30() -> Option<u64> {
    Some(30)
}
fn default_timeout_300() -> Option<u64> {
    Some(300)
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ExecuteAsyncParams {
    /// Host, IP or ssh config alias.
    pub host: String,
    /// Shell command.
    pub command: String,
    #[serde(flatten)]
    pub login: Login,
    /// Seconds before Ctrl-C.
    #[serde(default, deserialize_with = "opt_u64")]
    #[schemars(default = "default_timeout_300")]
    pub timeout: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CommandIdParams {
    /// Command id.
    pub command_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct OutputParams {
    /// Command id.
    pub command_id: String,
    /// Byte offset.
    #[serde(default, deserialize_with = "opt_u64")]
    pub offset: Option<u64>,
    /// Bytes to read.
    #[serde(default, deserialize_with = "opt_u64")]
    pub length: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SendInputParams {
    /// Command id.
    pub command_id: String,
    /// Text to type; \\n is Enter.
    pub input_text: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct HistoryParams {
    /// Entries to list.
    #[serde(default, deserialize_with = "opt_u64")]
    #[schemars(default = "default_history")]
    pub limit: Option<u64>,
}
fn default_history() -> Option<u64> {
    Some(50)
}

/// A command list.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CommandList {
    pub commands: Vec<CommandEntry>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CommandEntry {
    pub command_id: String,
    pub session: String,
    pub command: String,
    pub status: JobStatus,
    pub exit_code: Option<i32>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub duration_ms: u64,
}

/// A command started in the background.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Started {
    pub command_id: String,
    pub session: String,
    pub status: JobStatus,
    pub notes: Vec<String>,
}

/// A slice of a command's output.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OutputChunk {
    pub command_id: String,
    pub status: JobStatus,
    pub offset: u64,
    pub length: u64,
    pub total_bytes: u64,
    /// Offset to pass next time (past any unavailable part); equals total_bytes at the end.
    pub next_offset: u64,
    /// False when part of the range is no longer available (see `unavailable`).
    pub complete: bool,
    /// The bytes of the range that were not kept, and why.
    pub unavailable: Option<Gap>,
    pub output: String,
}

/// What send_input did.
#[derive(Debug, Serialize, JsonSchema)]
pub struct InputResult {
    pub command_id: String,
    pub status: JobStatus,
    pub exit_code: Option<i32>,
    /// Output produced after the input, up to the point the call returned.
    pub new_output: String,
}

const OUTPUT_PAGE: u64 = 50_000;
/// A week: longer timeouts are taken as this (and cannot overflow a deadline).
const MAX_TIMEOUT: u64 = 7 * 24 * 3600;

impl SshServer {
    fn snapshot(&self, job: &Job) -> JobSnapshot {
        job.snapshot(self.engine.config().output_limit)
    }

    fn job(&self, id: &str) -> Result<std::sync::Arc<Job>, CallToolResult> {
        if id.trim().is_empty() {
            return Err(tool_error(&Error::invalid("command_id", "it is empty")));
        }
        self.engine
            .jobs
            .get(id)
            .ok_or_else(|| tool_error(&Error::UnknownCommand(id.to_string())))
    }

    /// Sends progress notifications with the newest output line until `job` leaves Running.
    fn spawn_progress(
        &self,
        job: std::sync::Arc<Job>,
        meta: &RequestMetaObject,
        peer: Peer<RoleServer>,
        stop: CancellationToken,
    ) {
        let Some(token) = meta.get_progress_token() else {
            return;
        };
        tokio::spawn(async move {
            let mut rx = job.subscribe();
            let mut step = 0u32;
            let mut last_sent = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    r = rx.changed() => if r.is_err() { return },
                    _ = stop.cancelled() => return,
                }
                if !job.status().is_active() {
                    return;
                }
                // At most two notifications a second: enough to show life, cheap for the client.
                let next = last_sent + Duration::from_millis(500);
                tokio::select! {
                    _ = tokio::time::sleep_until(next) => {}
                    _ = stop.cancelled() => return,
                }
                rx.borrow_and_update();
                let line = job.with_state(|s| {
                    let p = s.partial.trim();
                    if !p.is_empty() {
                        p.to_string()
                    } else {
                        s.output
                            .tail_text(400)
                            .trim_end()
                            .rsplit('\n')
                            .next()
                            .unwrap_or("")
                            .to_string()
                    }
                });
                step += 1;
                last_sent = tokio::time::Instant::now();
                let msg: String = line.chars().take(200).collect();
                let _ = peer
                    .notify_progress(
                        ProgressNotificationParam::new(token.clone(), step as f64)
                            .with_message(msg),
                    )
                    .await;
            }
        });
    }
}

#[tool_router(router = command_tools, vis = "pub(crate)")]
impl SshServer {
    /// Run a shell command on a host in its persistent session and return the exit code and output. On timeout the command keeps running; follow it by command_id.
    #[tool(
        title = "Run a command over SSH",
        output_schema = schema_for_output::<JobSnapshot>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    async fn execute_command(
        &self,
        Parameters(p): Parameters<ExecuteCommandParams>,
        meta: RequestMetaObject,
        peer: Peer<RoleServer>,
        ct: CancellationToken,
    ) -> CallToolResult {
        let timeout = p.timeout.unwrap_or(30).min(MAX_TIMEOUT);
        let req = ExecRequest {
            sudo_password: p.sudo_password,
            enable_password: p.enable_password,
            enable_command: Some(p.enable_command),
            ..p.login.request(p.host, p.command, timeout)
        };
        let job = match self.engine.start(&req, &ct).await {
            Ok(j) => j,
            Err(e) => return tool_error(&e),
        };
        let stop = CancellationToken::new();
        self.spawn_progress(job.clone(), &meta, peer, stop.clone());
        let waited = job
            .wait(tokio::time::Instant::now() + req.timeout, &ct)
            .await;
        stop.cancel();
        if waited == Waited::Cancelled {
            let _ = self.engine.interrupt(&job.id).await;
        }
        let snap = self.snapshot(&job);
        result(text::command(&snap, Some(waited), Some(timeout)), &snap)
    }

    /// Start a command in the background and return its command_id at once.
    #[tool(
        title = "Start a background command",
        output_schema = schema_for_output::<Started>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    async fn execute_command_async(
        &self,
        Parameters(p): Parameters<ExecuteAsyncParams>,
        ct: CancellationToken,
    ) -> CallToolResult {
        let timeout = p.timeout.unwrap_or(300).min(MAX_TIMEOUT);
        let req = p.login.request(p.host, p.command, timeout);
        let job = match self.engine.start(&req, &ct).await {
            Ok(j) => j,
            Err(e) => return tool_error(&e),
        };
        // The async form's timeout is a limit on the command's life, whatever state the
        // command is in (running, or stopped at a prompt).
        let engine = self.engine.clone();
        let j = job.clone();
        tokio::spawn(async move {
            let until = tokio::time::Instant::now() + Duration::from_secs(timeout);
            engine
                .stop_at(
                    &j,
                    until,
                    &format!("interrupted after the {timeout}s timeout"),
                )
                .await;
        });
        let started = Started {
            command_id: job.id.clone(),
            session: job.session.clone(),
            status: job.status(),
            notes: job.with_state(|s| s.notes.clone()),
        };
        let text = format!(
            "Command started with ID: {id}\nUse get_command_status('{id}') to check progress.\n",
            id = started.command_id
        );
        result(text, &started)
    }

    /// Status, exit code and output so far of a command.
    #[tool(
        title = "Command status",
        output_schema = schema_for_output::<JobSnapshot>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn get_command_status(
        &self,
        Parameters(p): Parameters<CommandIdParams>,
    ) -> CallToolResult {
        let job = match self.job(&p.command_id) {
            Ok(j) => j,
            Err(e) => return e,
        };
        let snap = self.snapshot(&job);
        let mut t = format!(
            "Command ID: {}\nSession: {}\nCommand: {}\nStatus: {}\nStarted: {}\n",
            snap.command_id,
            snap.session,
            snap.command,
            snap.status.as_str(),
            snap.started_at
        );
        if let Some(e) = &snap.ended_at {
            t.push_str(&format!("Ended: {e}\n"));
        }
        t.push_str(&text::command(&snap, None, None));
        result(t, &snap)
    }

    /// Read any part of a command's full output by byte offset (for output cut in results).
    #[tool(
        title = "Read command output",
        output_schema = schema_for_output::<OutputChunk>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn get_command_output(&self, Parameters(p): Parameters<OutputParams>) -> CallToolResult {
        let job = match self.job(&p.command_id) {
            Ok(j) => j,
            Err(e) => return e,
        };
        let slice = job.read_output(
            p.offset.unwrap_or(0),
            p.length.unwrap_or(OUTPUT_PAGE).min(1 << 20) as usize,
        );
        let chunk = OutputChunk {
            command_id: job.id.clone(),
            status: job.status(),
            offset: slice.offset,
            length: slice.text.len() as u64,
            total_bytes: slice.total,
            next_offset: slice.next_offset,
            complete: slice.gap.is_none(),
            unavailable: slice.gap,
            output: slice.text,
        };
        let end = chunk.offset + chunk.length;
        let mut t = format!("Bytes {}-{end} of {}", chunk.offset, chunk.total_bytes);
        if let Some(g) = &chunk.unavailable {
            t.push_str(&format!(
                " (bytes {}-{} are no longer available: {}; continue at offset {})",
                g.start, g.end, g.reason, chunk.next_offset
            ));
        }
        t.push_str(":\n");
        t.push_str(&chunk.output);
        result(t, &chunk)
    }

    /// Send Ctrl-C to a running command; the shell stays usable.
    #[tool(
        title = "Interrupt a command",
        output_schema = schema_for_output::<JobSnapshot>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = true)
    )]
    async fn interrupt_command_by_id(
        &self,
        Parameters(p): Parameters<CommandIdParams>,
    ) -> CallToolResult {
        let job = match self.job(&p.command_id) {
            Ok(j) => j,
            Err(e) => return e,
        };
        if let Err(e) = self.engine.interrupt(&job.id).await {
            return tool_error(&e);
        }
        let _ = job
            .wait(
                tokio::time::Instant::now() + Duration::from_secs(3),
                &CancellationToken::new(),
            )
            .await;
        let snap = self.snapshot(&job);
        let head = if snap.status.is_active() {
            format!(
                "Sent Ctrl-C to command {}; it is still {} (it may ignore SIGINT).\n",
                job.id,
                snap.status.as_str()
            )
        } else {
            format!(
                "Sent interrupt signal to command {}; it is now {}.\n",
                job.id,
                snap.status.as_str()
            )
        };
        result(format!("{head}{}", text::command(&snap, None, None)), &snap)
    }

    /// Type text into a running command (answers a prompt) and return the new output.
    #[tool(
        title = "Send input to a command",
        output_schema = schema_for_output::<InputResult>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    async fn send_input(&self, Parameters(p): Parameters<SendInputParams>) -> CallToolResult {
        let job = match self.job(&p.command_id) {
            Ok(j) => j,
            Err(e) => return e,
        };
        if p.input_text.is_empty() {
            return tool_error(&Error::invalid(
                "input_text",
                "it is empty; send \\n for Enter",
            ));
        }
        let before = job.with_state(|s| s.output.total_bytes());
        let input = p.input_text.replace("\\n", "\n").replace("\\r", "\r");
        if let Err(e) = self.engine.send_input(&job.id, input.into_bytes()).await {
            return tool_error(&e);
        }
        let new_output = answer_to_input(&job, before).await;
        let snap = self.snapshot(&job);
        let r = InputResult {
            command_id: job.id.clone(),
            status: snap.status,
            exit_code: snap.exit_code,
            new_output,
        };
        let t = format!(
            "Input sent successfully\nStatus: {}{}\n\nOutput:\n{}",
            r.status.as_str(),
            r.exit_code
                .map(|c| format!(" (exit code {c})"))
                .unwrap_or_default(),
            if r.new_output.is_empty() {
                "No immediate output received"
            } else {
                &r.new_output
            }
        );
        result(t, &r)
    }

    /// Commands that are running or waiting for input.
    #[tool(
        title = "Running commands",
        output_schema = schema_for_output::<CommandList>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn list_running_commands(&self) -> CallToolResult {
        let list = CommandList {
            commands: self
                .engine
                .jobs
                .all()
                .iter()
                .filter(|j| j.status().is_active())
                .map(|j| entry(j))
                .collect(),
        };
        let t = if list.commands.is_empty() {
            "No running commands".to_string()
        } else {
            format!("Running Commands:\n{}", list_text(&list))
        };
        result(t, &list)
    }

    /// Recent finished commands, newest first (passwords are never recorded).
    #[tool(
        title = "Command history",
        output_schema = schema_for_output::<CommandList>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn list_command_history(
        &self,
        Parameters(p): Parameters<HistoryParams>,
    ) -> CallToolResult {
        let limit = p.limit.unwrap_or(50) as usize;
        let mut done: Vec<_> = self
            .engine
            .jobs
            .all()
            .into_iter()
            .filter(|j| !j.status().is_active())
            .collect();
        done.reverse();
        done.truncate(limit);
        let list = CommandList {
            commands: done.iter().map(|j| entry(j)).collect(),
        };
        let t = if list.commands.is_empty() {
            "No command history".to_string()
        } else {
            format!(
                "Command History (last {}):\n{}",
                list.commands.len(),
                list_text(&list)
            )
        };
        result(t, &list)
    }
}

/// After input to `job`, waits for its answer to show (completion, a new prompt, or a quiet
/// moment; at most a few seconds) and returns the output that followed offset `before`,
/// with the line the terminal shows now.
pub(crate) async fn answer_to_input(job: &Job, before: u64) -> String {
    let mut rx = job.subscribe();
    let start = tokio::time::Instant::now();
    let deadline = start + Duration::from_secs(5);
    let printed =
        |job: &Job| job.with_state(|s| s.output.total_bytes() > before || !s.partial.is_empty());
    loop {
        if !job.status().is_active() || job.status() == JobStatus::AwaitingInput {
            break;
        }
        // Quiet counts once something came back; before that, give a slow link time.
        let quiet = if printed(job) {
            Duration::from_millis(300)
        } else {
            Duration::from_secs(2).saturating_sub(start.elapsed())
        };
        tokio::select! {
            r = rx.changed() => { if r.is_err() { break } }
            _ = tokio::time::sleep(quiet) => break,
            _ = tokio::time::sleep_until(deadline) => break,
        }
    }
    job.read_output(before, 1 << 20).text + &job.with_state(|s| s.partial.clone())
}

/// A listing row: the record without its output (which a snapshot would also summarise).
fn entry(j: &Job) -> CommandEntry {
    let duration_ms = j.duration().as_millis() as u64;
    j.with_state(|s| CommandEntry {
        command_id: j.id.clone(),
        session: j.session.clone(),
        command: j.command.clone(),
        status: s.status,
        exit_code: s.exit_code,
        started_at: rfc3339(j.started_at),
        ended_at: s.ended_at.map(rfc3339),
        duration_ms,
    })
}

fn list_text(l: &CommandList) -> String {
    let mut t = String::new();
    for c in &l.commands {
        t.push_str(&format!(
            "\n- ID: {}\n  Session: {}\n  Command: {}\n  Status: {}\n",
            c.command_id,
            c.session,
            c.command,
            c.status.as_str()
        ));
        if let Some(code) = c.exit_code {
            t.push_str(&format!("  Exit Code: {code}\n"));
        }
        t.push_str(&format!("  Started: {}\n", c.started_at));
        if let Some(e) = &c.ended_at {
            t.push_str(&format!("  Ended: {e}\n"));
        }
    }
    t
}
