//! The one place every tool call passes through: the policy decides whether it may run
//! (asking the human for confirm rules), login questions reach the human while it runs, and
//! the audit log records it. A new tool that reaches a host needs one line in [`TOOLS`].
//!
//! On protocol 2026-07-28 the server may not send requests to the client: a question is
//! returned as an `input_required` result while the call goes on in the background, parked
//! under a random `requestState`; the client's retry carries the answer back to it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ElicitRequest,
    ElicitResult, InputRequest, InputRequiredResult, JsonObject, ProtocolVersion,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::audit::{AuditLog, Entry};
use crate::jobs::rfc3339;
use crate::mcp::SshServer;
use crate::mcp::human::{Asked, Human, Route};
use crate::policy::{Action, Policy, Verdict};
use crate::secret::{Secret, redact};
use crate::ssh::ask;
use crate::ssh::overrides::Field;

/// How a tool reaches a host, for the policy and the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Runs its `command` argument.
    Run,
    /// Types its `input_text` (or `keys`) into a terminal.
    Type,
    /// Reads files (`remote_path`).
    Read,
    /// Changes files (`remote_path`).
    Write,
    /// Anything else on a host (close a session, interrupt a command).
    Other,
}

/// Every tool that reaches a host. Tools not listed (status, history, listings, the screen
/// model) only read the server's own records and are neither checked nor audited.
const TOOLS: &[(&str, Reach)] = &[
    ("execute_command", Reach::Run),
    ("execute_command_async", Reach::Run),
    ("send_input", Reach::Type),
    ("send_input_by_session", Reach::Type),
    ("send_keys", Reach::Type),
    ("interrupt_command_by_id", Reach::Other),
    ("close_session", Reach::Other),
    ("close_all_sessions", Reach::Other),
    // The file tools.
    ("read_file", Reach::Read),
    ("download_file", Reach::Read),
    ("list_directory", Reach::Read),
    ("write_file", Reach::Write),
    ("upload_file", Reach::Write),
];

fn reach(tool: &str) -> Option<Reach> {
    TOOLS.iter().find(|(n, _)| *n == tool).map(|(_, r)| *r)
}

/// How long a question of a 2026-07-28 call waits for the client's retry.
const PARKED_FOR: Duration = Duration::from_secs(600);
/// The key of our one question in `inputRequests`.
const ANSWER: &str = "answer";

/// The policy, the audit log and the calls waiting for an answer.
#[derive(Default)]
pub struct Guard {
    pub audit: Option<AuditLog>,
    pub policy: Option<Policy>,
    parked: Mutex<HashMap<String, Parked>>,
}

impl Guard {
    pub fn new(audit: Option<AuditLog>, policy: Option<Policy>) -> Self {
        Guard {
            audit,
            policy,
            parked: Mutex::default(),
        }
    }

    /// At shutdown: the audit log reaches the disk.
    pub fn close(&self) {
        if let Some(a) = &self.audit {
            a.sync();
        }
    }
}

/// A 2026-07-28 call that asked a question and goes on in the background.
struct Parked {
    tool: String,
    task: tokio::task::JoinHandle<CallToolResult>,
    questions: mpsc::Receiver<Asked>,
    answer: Option<oneshot::Sender<ElicitResult>>,
    cancel: CancellationToken,
    since: Instant,
}

/// What a call is about, read from its arguments.
struct Facts {
    tool: String,
    reach: Reach,
    host: Option<String>,
    command: Option<String>,
    typed: Option<String>,
    path: Option<String>,
    command_id: Option<String>,
    /// Secrets of this call (arguments and `OVRD_` values), to mask in the audit line.
    secrets: Vec<Secret>,
}

fn text_arg(args: &JsonObject, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| args.get(*k).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl SshServer {
    /// `tools/call`: every call comes through here.
    pub(crate) async fn guarded_call(
        &self,
        mut req: CallToolRequestParams,
        mut ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.sweep_parked();
        if let Some(state) = req.request_state.take() {
            return self.resume(&state, &req, &ctx).await;
        }
        let caps = ctx
            .client_capabilities()
            .and_then(|c| c.elicitation)
            .map(|e| (e.form.is_some() || e.url.is_none(), e.url.is_some()));
        let (form, url) = caps.unwrap_or((false, false));
        let rounds = ctx
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        let human = |route| Human {
            peer: ctx.peer.clone(),
            form,
            url,
            route,
            progress: ctx.meta.get_progress_token(),
        };
        if !(rounds && (form || url)) {
            let human = Arc::new(human(Route::Request));
            return Ok(self.run_guarded(req, ctx, human).await.into());
        }
        // 2026-07-28 with elicitation: the call runs on its own, so that it can outlive a
        // result that carries a question. Cancelling any round of it cancels it.
        let (tx, questions) = mpsc::channel(1);
        let human = Arc::new(human(Route::Rounds(tx)));
        let cancel = CancellationToken::new();
        let outer = std::mem::replace(&mut ctx.ct, cancel.clone());
        let server = self.clone();
        let tool = req.name.to_string();
        let task = tokio::spawn(async move { server.run_guarded(req, ctx, human).await });
        let parked = Parked {
            tool,
            task,
            questions,
            answer: None,
            cancel,
            since: Instant::now(),
        };
        self.drive(parked, &outer).await
    }

    /// Forgets calls whose client never came back with an answer (their question then
    /// gets none, and the call ends with that error, audited).
    fn sweep_parked(&self) {
        let mut g = self.guard.parked.lock().unwrap_or_else(|e| e.into_inner());
        g.retain(|_, p| p.since.elapsed() < PARKED_FOR && !p.task.is_finished());
    }

    /// The retry of a parked call, with the client's answer.
    async fn resume(
        &self,
        state: &str,
        req: &CallToolRequestParams,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let parked = {
            let mut g = self.guard.parked.lock().unwrap_or_else(|e| e.into_inner());
            match g.get(state) {
                // The state is the client's to echo, and so untrusted: it must name a call of
                // this tool that waits for an answer.
                Some(p) if p.tool == req.name => g.remove(state),
                _ => None,
            }
        };
        let Some(mut parked) = parked else {
            return Ok(CallToolResult::error(vec![ContentBlock::text(
                "Error: this call's question is no longer pending (answered, expired or unknown); call the tool again",
            )])
            .into());
        };
        let answer = req
            .input_responses
            .as_ref()
            .and_then(|r| r.get(ANSWER))
            .and_then(|v| serde_json::from_value::<ElicitResult>(v.clone()).ok());
        if let (Some(tx), Some(a)) = (parked.answer.take(), answer) {
            let _ = tx.send(a);
        }
        self.drive(parked, &ctx.ct).await
    }

    /// Waits for the call to end, or to ask a question (returned as `input_required`).
    async fn drive(
        &self,
        mut p: Parked,
        cancelled: &CancellationToken,
    ) -> Result<CallToolResponse, ErrorData> {
        tokio::select! {
            r = &mut p.task => Ok(finished(r).into()),
            () = cancelled.cancelled() => {
                p.cancel.cancel();
                Ok(finished(p.task.await).into())
            }
            asked = p.questions.recv() => match asked {
                Some(Asked { params, answer }) => {
                    p.answer = Some(answer);
                    p.since = Instant::now();
                    let state = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
                    self.guard
                        .parked
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(state.clone(), p);
                    let requests = [(ANSWER.to_string(), InputRequest::Elicitation(ElicitRequest::new(params)))].into();
                    Ok(InputRequiredResult::new(Some(requests), Some(state)).into())
                }
                None => Ok(finished(p.task.await).into()),
            },
        }
    }

    /// Policy, then the tool with the human in reach, then the audit line.
    async fn run_guarded(
        &self,
        req: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
        human: Arc<Human>,
    ) -> CallToolResult {
        let started = Instant::now();
        let Some(reach) = reach(&req.name) else {
            return self.route(req, ctx, human).await;
        };
        let facts = self.facts(&req, reach);
        let (allowed, policy_note) = self.check_policy(&facts, &human).await;
        let result = match &allowed {
            Ok(()) => self.route(req, ctx, human).await,
            Err(why) => CallToolResult::error(vec![ContentBlock::text(format!(
                "Refused: {why}. The server's policy file decides this; ask the administrator if the call is needed."
            ))]),
        };
        if let Some(log) = &self.guard.audit {
            log.record(&audit_entry(
                &facts,
                &result,
                allowed.is_err(),
                policy_note,
                started.elapsed(),
            ));
        }
        result
    }

    /// The tool itself, with login questions going to the human.
    async fn route(
        &self,
        req: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
        human: Arc<Human>,
    ) -> CallToolResult {
        let call = self.tool_router.call(ToolCallContext::new(self, req, ctx));
        match ask::scope(human, call).await {
            Ok(CallToolResponse::Complete(r)) => r,
            Ok(_) => {
                CallToolResult::error(vec![ContentBlock::text("Error: unexpected tool response")])
            }
            Err(e) => {
                CallToolResult::error(vec![ContentBlock::text(format!("Error: {}", e.message))])
            }
        }
    }

    fn facts(&self, req: &CallToolRequestParams, reach: Reach) -> Facts {
        let empty = JsonObject::new();
        let args = req.arguments.as_ref().unwrap_or(&empty);
        let command_id = text_arg(args, &["command_id"]);
        let host = text_arg(args, &["host"]).or_else(|| {
            let id = command_id.as_deref()?;
            Some(self.engine.jobs.get(id)?.session.clone())
        });
        let mut secrets: Vec<Secret> = ["password", "sudo_password", "enable_password"]
            .iter()
            .filter_map(|k| args.get(*k).and_then(Value::as_str))
            .filter_map(Secret::new)
            .collect();
        if let Some(h) = text_arg(args, &["host"]) {
            let o = self.engine.overrides();
            secrets.extend(
                [Field::Pass, Field::SudoPass, Field::EnablePass]
                    .iter()
                    .filter_map(|f| o.get(&h, *f).cloned()),
            );
        }
        Facts {
            tool: req.name.to_string(),
            reach,
            host,
            command: (reach == Reach::Run)
                .then(|| text_arg(args, &["command"]))
                .flatten(),
            typed: (reach == Reach::Type)
                .then(|| text_arg(args, &["input_text", "keys"]))
                .flatten(),
            path: text_arg(args, &["remote_path", "path", "remote_dir"]),
            command_id,
            secrets,
        }
    }

    /// Ok to run, or why not; plus what the audit line says about the policy.
    async fn check_policy(&self, f: &Facts, human: &Human) -> (Result<(), String>, Option<String>) {
        let Some(policy) = &self.guard.policy else {
            return (Ok(()), None);
        };
        // The host ssh connects to as named (`u@h` is `h`) and, behind an OVRD alias, the
        // real one; none for a command id.
        let mut names: Vec<String> = Vec::new();
        if f.command_id.is_none()
            && let Some(h) = &f.host
        {
            names.push(crate::ssh::target::host_part(h).to_string());
            if let Some(real) = self.engine.overrides().get(h, Field::Host) {
                names.push(real.expose().to_string());
            }
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let action = match f.reach {
            Reach::Run => Action::Run(f.command.as_deref().unwrap_or("")),
            Reach::Type => Action::Type(f.typed.as_deref().unwrap_or("")),
            Reach::Read => Action::ReadFiles,
            Reach::Write => Action::WriteFiles,
            Reach::Other => Action::Other,
        };
        // Verdicts quote the command's words: a secret in them is masked like everywhere else.
        let masked = |t: &str| redact(t, &f.secrets.iter().collect::<Vec<_>>());
        match policy.check(&names, action) {
            Verdict::Allow => (Ok(()), None),
            Verdict::Refuse(why) => {
                let why = masked(&why);
                (Err(why.clone()), Some(format!("refused: {why}")))
            }
            Verdict::Confirm(rule) => {
                let rule = masked(&rule);
                let what = f
                    .command
                    .as_deref()
                    .or(f.typed.as_deref())
                    .map(masked)
                    .unwrap_or_default();
                let message = format!(
                    "Allow the assistant to run this on {}?\n\n{what}\n\n({rule})",
                    f.host.as_deref().unwrap_or("the host")
                );
                match human.confirm(message).await {
                    Ok(true) => (Ok(()), Some(format!("approved by the user: {rule}"))),
                    Ok(false) => {
                        let why = format!("{rule}, and the user did not approve it");
                        (Err(why.clone()), Some(format!("refused: {why}")))
                    }
                    Err(cannot) => {
                        let why = format!("{rule}, which needs the user's approval, but {cannot}");
                        (Err(why.clone()), Some(format!("refused: {why}")))
                    }
                }
            }
        }
    }
}

/// A finished background call's result.
fn finished(r: Result<CallToolResult, tokio::task::JoinError>) -> CallToolResult {
    r.unwrap_or_else(|e| {
        CallToolResult::error(vec![ContentBlock::text(format!(
            "Error: the call failed inside the server ({e})"
        ))])
    })
}

fn audit_entry(
    f: &Facts,
    r: &CallToolResult,
    refused: bool,
    policy: Option<String>,
    took: Duration,
) -> Entry {
    let sc = r.structured_content.as_ref();
    let field = |k: &str| sc.and_then(|v| v.get(k));
    let masked = |t: &str| redact(t, &f.secrets.iter().collect::<Vec<_>>());
    let status = if refused {
        "refused".to_string()
    } else if r.is_error == Some(true) {
        "error".to_string()
    } else {
        field("status")
            .and_then(Value::as_str)
            .unwrap_or("ok")
            .to_string()
    };
    let error = (r.is_error == Some(true) && !refused)
        .then(|| {
            r.content.iter().find_map(|c| {
                c.as_text()
                    .map(|t| masked(&t.text).chars().take(300).collect())
            })
        })
        .flatten();
    let bytes = ["output_bytes", "bytes", "bytes_sent", "size"]
        .iter()
        .find_map(|k| field(k).and_then(Value::as_u64))
        .or_else(|| f.typed.as_ref().map(|t| t.len() as u64));
    Entry {
        time: rfc3339(std::time::SystemTime::now()),
        tool: f.tool.clone(),
        host: f.host.clone(),
        command: f.command.as_deref().map(masked),
        path: f.path.clone(),
        command_id: field("command_id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| f.command_id.clone()),
        status,
        exit_code: field("exit_code").and_then(Value::as_i64).map(|c| c as i32),
        duration_ms: took.as_millis() as u64,
        bytes,
        policy,
        error,
    }
}
