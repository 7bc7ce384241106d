//! Session tools: list, close one, close all, and raw input to a session's shell.

use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::jobs::JobStatus;
use crate::mcp::commands::answer_to_input;
use crate::mcp::params::{opt_port, opt_string};
use crate::mcp::{SshServer, result, tool_error};
use crate::session::SessionInfo;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SessionParams {
    /// Host, as in execute_command.
    pub host: String,
    /// Login user.
    #[serde(default, deserialize_with = "opt_string")]
    pub username: Option<String>,
    /// SSH port.
    #[serde(default, deserialize_with = "opt_port")]
    pub port: Option<u16>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SessionInputParams {
    /// Host, as in execute_command.
    pub host: String,
    /// Raw text for the main shell.
    pub input_text: String,
    /// Login user.
    #[serde(default, deserialize_with = "opt_string")]
    pub username: Option<String>,
    /// SSH port.
    #[serde(default, deserialize_with = "opt_port")]
    pub port: Option<u16>,
}

/// What send_input_by_session did.
#[derive(Debug, Serialize, JsonSchema)]
pub struct InputSent {
    pub session: String,
    /// The command the input went to (a new record of its own when the shell was idle).
    pub command_id: String,
    /// True when the shell was idle and the input runs as its own command.
    pub own_command: bool,
    pub status: JobStatus,
    pub exit_code: Option<i32>,
    /// What the terminal printed after the input, cleaned.
    pub output: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionInfo>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Closed {
    /// `user@host:port` of each closed session.
    pub closed: Vec<String>,
}

#[tool_router(router = session_tools, vis = "pub(crate)")]
impl SshServer {
    /// List open SSH sessions with their shells, working directories and running commands.
    #[tool(
        title = "List sessions",
        output_schema = schema_for_output::<SessionList>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn list_sessions(&self) -> CallToolResult {
        let list = SessionList {
            sessions: self.engine.sessions(),
        };
        let t = if list.sessions.is_empty() {
            "No active SSH sessions".to_string()
        } else {
            let mut t = "Active SSH Sessions:\n".to_string();
            for s in &list.sessions {
                t.push_str(&format!("- {}", s.session));
                if !s.connected {
                    t.push_str(" (disconnected; reconnects on next use)");
                }
                t.push('\n');
                for sh in &s.shells {
                    t.push_str(&format!(
                        "    shell #{}: {}{}{}\n",
                        sh.index,
                        if !sh.alive {
                            "ended (replaced on next use)"
                        } else if sh.busy {
                            "busy"
                        } else {
                            "idle"
                        },
                        sh.cwd
                            .as_deref()
                            .map(|c| format!(", cwd {c}"))
                            .unwrap_or_default(),
                        sh.current_command_id
                            .as_deref()
                            .map(|c| format!(", running {c}"))
                            .unwrap_or_default()
                    ));
                }
            }
            t
        };
        result(t, &list)
    }

    /// Close the session(s) to a host: shells and the ssh connection.
    #[tool(
        title = "Close a session",
        output_schema = schema_for_output::<Closed>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn close_session(&self, Parameters(p): Parameters<SessionParams>) -> CallToolResult {
        match self
            .engine
            .close(&p.host, p.username.as_deref(), p.port)
            .await
        {
            Ok(labels) => {
                let t = if labels.is_empty() {
                    format!("No open session matches {}", p.host)
                } else {
                    labels
                        .iter()
                        .map(|l| format!("Closed session: {l}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                result(t, &Closed { closed: labels })
            }
            Err(e) => tool_error(&e),
        }
    }

    /// Close every SSH session and connection.
    #[tool(
        title = "Close all sessions",
        output_schema = schema_for_output::<Closed>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn close_all_sessions(&self) -> CallToolResult {
        let labels: Vec<String> = self
            .engine
            .sessions()
            .into_iter()
            .map(|s| s.session)
            .collect();
        self.engine.close_all().await;
        result("All SSH sessions closed".into(), &Closed { closed: labels })
    }

    /// Write raw text to a session's main shell terminal (to un-wedge it) and return what it printed.
    #[tool(
        title = "Send input to a session",
        output_schema = schema_for_output::<InputSent>(),
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn send_input_by_session(
        &self,
        Parameters(p): Parameters<SessionInputParams>,
    ) -> CallToolResult {
        let sent = match self
            .engine
            .session_input(&p.host, p.username.as_deref(), p.port, &p.input_text)
            .await
        {
            Ok(s) => s,
            Err(e) => return tool_error(&e),
        };
        let job = sent.job;
        let output = answer_to_input(&job, sent.output_before).await;
        let (status, exit_code) = job.with_state(|s| (s.status, s.exit_code));
        let sent = InputSent {
            session: sent.session,
            command_id: job.id.clone(),
            own_command: sent.claimed,
            status,
            exit_code,
            output,
        };
        let mut t = format!(
            "Input sent successfully to {} ({}command {}, {}{})\n",
            sent.session,
            if sent.own_command {
                "recorded as "
            } else {
                "running "
            },
            sent.command_id,
            sent.status.as_str(),
            sent.exit_code
                .map(|c| format!(", exit code {c}"))
                .unwrap_or_default()
        );
        t.push_str(&format!(
            "\nOutput:\n{}",
            if sent.output.is_empty() {
                "No immediate output received"
            } else {
                &sent.output
            }
        ));
        result(t, &sent)
    }
}
