//! The MCP client side of the end-to-end tests: the built server binary on a child process's
//! stdio with an rmcp client that records progress notifications and plays the human who
//! answers elicitations (when a test gives it answers), and helpers that call tools and check
//! every result against the tool's outputSchema.
//!
//! ```ignore
//! let s = Server::bed(bed).await;
//! let r = s.run("fixture", "echo hi").await;
//! assert_eq!(r.str("output"), "hi\n");
//! s.stop().await;
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ElicitRequestParams, ElicitResult,
    ElicitationAction, Implementation, InitializeRequestParams, ProgressNotificationParam, Tool,
};
use rmcp::service::{
    ClientLifecycleMode, ClientServiceExt, NotificationContext, RequestContext, RunningService,
};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ClientHandler, ErrorData, RoleClient};
use serde_json::{Value, json};

use super::TestBed;

pub const BIN: &str = env!("CARGO_BIN_EXE_mcp-ssh-session");
/// Longest a single tool call (or the MCP start) may take before the test gives up on it.
pub const CALL_LIMIT: Duration = Duration::from_secs(90);

// ---------------------------------------------------------------------------------------------
// The client: records progress, plays the human

/// How the human answers elicitations. The default declares no elicitation at all.
#[derive(Clone, Debug, Default)]
pub struct Answers {
    /// Elicitation modes the client declares (`form`, `url`); none: no elicitation at all.
    pub modes: Vec<&'static str>,
    /// The choice for a host-key question.
    pub host_key: Option<&'static str>,
    /// The answer to a confirmation.
    pub approve: Option<bool>,
    /// Typed into a one-time URL page (posted by the "human").
    pub url_secret: Option<String>,
}

/// The client handler: records every `notifications/progress` and every elicitation, and
/// answers elicitations as its `Answers` say (declining what they do not cover).
#[derive(Clone, Default)]
pub struct TestClient {
    answers: Answers,
    progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    asked: Arc<Mutex<Vec<ElicitRequestParams>>>,
}

impl ClientHandler for TestClient {
    async fn on_progress(&self, p: ProgressNotificationParam, _: NotificationContext<RoleClient>) {
        self.progress.lock().unwrap().push(p);
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        self.asked.lock().unwrap().push(request.clone());
        let a = &self.answers;
        Ok(match request {
            ElicitRequestParams::FormElicitationParams {
                requested_schema, ..
            } => {
                let schema = serde_json::to_value(&requested_schema).unwrap();
                let props = &schema["properties"];
                match (a.host_key, a.approve) {
                    (Some(choice), _) if props.get("decision").is_some() => {
                        ElicitResult::new(ElicitationAction::Accept)
                            .with_content(json!({"decision": choice}))
                    }
                    (_, Some(approve)) if props.get("approve").is_some() => {
                        ElicitResult::new(ElicitationAction::Accept)
                            .with_content(json!({"approve": approve}))
                    }
                    _ => ElicitResult::new(ElicitationAction::Decline),
                }
            }
            ElicitRequestParams::UrlElicitationParams { url, .. } => match &a.url_secret {
                Some(secret) => {
                    // The human opens the page and submits the form, a moment later.
                    let (url, secret) = (url.clone(), secret.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        post_form(&url, &secret).await.expect("posting to the page");
                    });
                    ElicitResult::new(ElicitationAction::Accept)
                }
                None => ElicitResult::new(ElicitationAction::Decline),
            },
            _ => ElicitResult::new(ElicitationAction::Decline),
        })
    }

    fn get_info(&self) -> InitializeRequestParams {
        let mut caps = json!({});
        if !self.answers.modes.is_empty() {
            let modes: serde_json::Map<String, Value> = self
                .answers
                .modes
                .iter()
                .map(|m| (m.to_string(), json!({})))
                .collect();
            caps["elicitation"] = Value::Object(modes);
        }
        let caps: ClientCapabilities = serde_json::from_value(caps).unwrap();
        InitializeRequestParams::new(caps, Implementation::new("mcp-ssh-session-tests", "0"))
    }
}

/// Submits a one-time page's form the way a browser does; the page's answer.
pub async fn post_form(url: &str, secret: &str) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut s = tokio::net::TcpStream::connect(authority).await?;
    let body = format!("secret={}", form_encode(secret));
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).await?;
    Ok(answer)
}

fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Results

/// A tool result, flattened: the text blocks joined, structuredContent (Null when absent).
#[derive(Debug)]
pub struct Reply {
    pub text: String,
    pub sc: Value,
    pub is_error: bool,
    pub raw: CallToolResult,
}

impl Reply {
    pub fn new(raw: CallToolResult) -> Reply {
        let text = raw
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
            .collect::<Vec<_>>()
            .join("\n");
        Reply {
            text,
            sc: raw.structured_content.clone().unwrap_or(Value::Null),
            is_error: raw.is_error == Some(true),
            raw,
        }
    }

    /// A string field of the structured content ("" when absent).
    pub fn str(&self, key: &str) -> &str {
        self.sc[key].as_str().unwrap_or("")
    }

    /// Everything the model sees of it.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.text, self.sc)
    }
}

/// Tool arguments from a JSON object.
pub fn args(v: Value) -> serde_json::Map<String, Value> {
    v.as_object()
        .expect("tool arguments must be a JSON object")
        .clone()
}

// ---------------------------------------------------------------------------------------------
// The server process

/// How to start the server and what its client declares; `Launch::default()` is the plain
/// case: no extra arguments or environment, no elicitation, the `initialize` handshake.
#[derive(Default)]
pub struct Launch<'a> {
    /// Command-line arguments after `--ssh-config <file>`.
    pub args: &'a [&'a str],
    /// Environment for the server, applied after RUST_LOG=warn (so it may override that).
    pub env: &'a [(&'a str, &'a str)],
    /// How the client answers elicitations.
    pub answers: Answers,
    /// How the client starts the MCP lifecycle; None: the legacy `initialize` handshake
    /// (2025-11-25).
    pub lifecycle: Option<ClientLifecycleMode>,
}

/// One server process (the built binary) with an rmcp client on its stdio.
pub struct Server {
    pub client: RunningService<RoleClient, TestClient>,
    pub pid: u32,
    /// tools/list as listed at start, by name.
    pub tools: HashMap<String, Tool>,
    handler: TestClient,
    stderr: PathBuf,
    _scratch: tempfile::TempDir,
}

impl Server {
    /// The binary with `--ssh-config <ssh_config>` and `launch`'s arguments, RUST_LOG=warn
    /// unless its environment says otherwise, stderr to a scratch file, no agent or askpass
    /// from the test's environment; then tools/list.
    pub async fn launch(ssh_config: &Path, launch: Launch<'_>) -> Server {
        let scratch = tempfile::tempdir().expect("scratch dir");
        let stderr = scratch.path().join("server.stderr");
        let log = std::fs::File::create(&stderr).expect("stderr file");
        let args: Vec<String> = launch.args.iter().map(|a| a.to_string()).collect();
        let env: Vec<(String, String)> = launch
            .env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let cmd = tokio::process::Command::new(BIN).configure(|c| {
            c.arg("--ssh-config").arg(ssh_config).args(&args);
            for var in ["SSH_AUTH_SOCK", "SSH_ASKPASS", "DISPLAY", "MCP_SSH_CONFIG"] {
                c.env_remove(var);
            }
            c.env("RUST_LOG", "warn");
            for (k, v) in &env {
                c.env(k, v);
            }
        });
        let (transport, _) = TokioChildProcess::builder(cmd)
            .stderr(log)
            .spawn()
            .expect("spawning the server binary");
        let pid = transport.id().expect("server pid");
        let handler = TestClient {
            answers: launch.answers,
            ..TestClient::default()
        };
        let lifecycle = launch.lifecycle.unwrap_or(ClientLifecycleMode::Initialize);
        let client = tokio::time::timeout(
            CALL_LIMIT,
            handler.clone().serve_with_lifecycle(transport, lifecycle),
        )
        .await
        .expect("MCP start timed out")
        .unwrap_or_else(|e| {
            panic!(
                "MCP start failed: {e}\nserver stderr:\n{}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            )
        });
        let tools = client
            .list_all_tools()
            .await
            .expect("tools/list")
            .into_iter()
            .map(|t| (t.name.to_string(), t))
            .collect();
        Server {
            client,
            pid,
            tools,
            handler,
            stderr,
            _scratch: scratch,
        }
    }

    /// The plain server with `env` on top.
    pub async fn start(ssh_config: &Path, env: &[(&str, &str)]) -> Server {
        Server::launch(
            ssh_config,
            Launch {
                env,
                ..Launch::default()
            },
        )
        .await
    }

    /// The plain server on the test bed's ssh config.
    pub async fn bed(bed: &TestBed) -> Server {
        Server::start(bed.ssh_config(), &[]).await
    }

    /// The server on the test bed's ssh config, its client answering elicitations as told.
    pub async fn answering(bed: &TestBed, answers: Answers) -> Server {
        Server::launch(
            bed.ssh_config(),
            Launch {
                answers,
                ..Launch::default()
            },
        )
        .await
    }

    /// The server's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The progress notifications received so far (in the order the client handled them,
    /// which is not always the order they were sent).
    pub fn progress(&self) -> Vec<ProgressNotificationParam> {
        self.handler.progress.lock().unwrap().clone()
    }

    pub fn clear_progress(&self) {
        self.handler.progress.lock().unwrap().clear();
    }

    /// Every elicitation the server sent so far.
    pub fn asked(&self) -> Vec<ElicitRequestParams> {
        self.handler.asked.lock().unwrap().clone()
    }

    /// The messages of the form elicitations the human was shown.
    pub fn forms(&self) -> Vec<String> {
        self.asked()
            .into_iter()
            .filter_map(|a| match a {
                ElicitRequestParams::FormElicitationParams { message, .. } => Some(message),
                _ => None,
            })
            .collect()
    }

    /// Calls a tool; a protocol error or a call slower than `limit` fails the test. Checks the
    /// result against the tool's outputSchema: a successful call of a tool with an outputSchema
    /// carries structuredContent with the schema's required fields and no undeclared one, and
    /// a tool without one returns none.
    pub async fn call_within(&self, tool: &str, a: Value, limit: Duration) -> Reply {
        let params = CallToolRequestParams::new(tool.to_string()).with_arguments(args(a.clone()));
        let raw = match tokio::time::timeout(limit, self.client.call_tool(params)).await {
            Err(_) => panic!(
                "{tool}({a}) took over {limit:?}\nserver stderr:\n{}",
                self.log()
            ),
            Ok(Err(e)) => panic!(
                "{tool}({a}): protocol error {e}\nserver stderr:\n{}",
                self.log()
            ),
            Ok(Ok(r)) => r,
        };
        let r = Reply::new(raw);
        let schema = self
            .tools
            .get(tool)
            .unwrap_or_else(|| panic!("{tool} is not listed"))
            .output_schema
            .clone();
        match (&schema, r.is_error) {
            (Some(schema), false) => {
                assert!(
                    r.sc.is_object(),
                    "{tool}: outputSchema but no structuredContent: {r:?}"
                );
                for key in schema
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let key = key.as_str().unwrap();
                    assert!(r.sc.get(key).is_some(), "{tool}: `{key}` missing: {}", r.sc);
                }
                // Every field returned is declared, so a client can rely on the schema.
                if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                    for key in r.sc.as_object().unwrap().keys() {
                        assert!(
                            props.contains_key(key),
                            "{tool}: `{key}` is returned but not in the outputSchema"
                        );
                    }
                }
            }
            (None, _) => assert!(
                r.sc.is_null(),
                "{tool} returns structuredContent but lists no outputSchema: {}",
                r.sc
            ),
            _ => {}
        }
        r
    }

    pub async fn call(&self, tool: &str, a: Value) -> Reply {
        self.call_within(tool, a, CALL_LIMIT).await
    }

    /// A call that must succeed (isError false).
    pub async fn ok(&self, tool: &str, a: Value) -> Reply {
        let r = self.call(tool, a.clone()).await;
        assert!(!r.is_error, "{tool}({a}) is a tool error: {}", r.text);
        r
    }

    /// A call that must be a tool error (isError true, not a protocol error) with a message.
    pub async fn err_reply(&self, tool: &str, a: Value) -> Reply {
        let r = self.call(tool, a.clone()).await;
        assert!(
            r.is_error,
            "{tool}({a}) must be a tool error, got: {}",
            r.text
        );
        assert!(
            !r.text.trim().is_empty(),
            "{tool}({a}): empty error message"
        );
        r
    }

    /// A call that must be a tool error (see `err_reply`); its text.
    pub async fn err(&self, tool: &str, a: Value) -> String {
        self.err_reply(tool, a).await.text
    }

    /// execute_command that must succeed.
    pub async fn run(&self, host: &str, command: &str) -> Reply {
        self.ok("execute_command", json!({"host": host, "command": command}))
            .await
    }

    /// execute_command that must be a tool error; its text.
    pub async fn refused(&self, host: &str, command: &str) -> String {
        self.err("execute_command", json!({"host": host, "command": command}))
            .await
    }

    /// Polls get_command_status until the command leaves running/awaiting_input.
    pub async fn wait_done(&self, id: &str, limit: Duration) -> Reply {
        let start = Instant::now();
        loop {
            let r = self
                .ok("get_command_status", json!({"command_id": id}))
                .await;
            let status = r.str("status").to_string();
            if status != "running" && status != "awaiting_input" {
                return r;
            }
            assert!(
                start.elapsed() < limit,
                "{id} still {status} after {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `VmHWM` (peak resident set) of the server process, in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .expect("/proc/<server>/status");
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/<pid>/status");
        kb * 1024
    }

    /// Closes the client (stdin EOF); the server closes its sessions and exits.
    pub async fn stop(self) {
        let _ = self.client.cancel().await;
    }
}
