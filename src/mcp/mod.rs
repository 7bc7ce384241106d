//! The MCP server over stdio: tool groups in their own files, one shared engine.
//!
//! Every tool returns text a model reads at a glance plus `structuredContent` that matches
//! its output schema. A non-zero exit code is data; tool errors (`isError`) are for "the tool
//! could not do it" and say what to do next.

pub mod commands;
pub mod files;
pub mod guard;
mod human;
pub mod interactive;
mod page;
pub mod params;
pub mod schema;
pub mod sessions;
pub mod text;

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool_handler};

use crate::error::Error;
use crate::session::SessionManager;
pub use guard::Guard;

use crate::transfer::Files;

/// The MCP server: a router over the tool groups and the session engine.
#[derive(Clone)]
pub struct SshServer {
    pub(crate) engine: Arc<SessionManager>,
    /// The file engine; an unusable local root is reported by the file tools.
    pub(crate) files: Arc<Files>,
    tool_router: ToolRouter<SshServer>,
    /// Policy, audit log and the human's answers: every call passes through it.
    guard: Arc<Guard>,
}

impl SshServer {
    /// A server whose calls are checked against a policy and/or audited (a default `Guard`
    /// does neither). Fails when the local root for transfers cannot be used.
    pub fn new(engine: Arc<SessionManager>, guard: Arc<Guard>) -> crate::error::Result<Self> {
        let mut tool_router = Self::command_tools()
            + Self::session_tools()
            + Self::interactive_tools()
            + Self::file_tools();
        for route in tool_router.map.values_mut() {
            schema::compact(&mut route.attr);
        }
        Ok(SshServer {
            files: Arc::new(Files::new(engine.clone())?),
            engine,
            tool_router,
            guard,
        })
    }
}

const INSTRUCTIONS: &str = "Persistent SSH shells through the user's own OpenSSH (~/.ssh/config aliases, ssh-agent, ProxyJump and known_hosts all apply). \
Each host keeps a shell between calls: cd and export persist. Results give the exact exit code, clean output and the working directory. \
Files go over the same connection: read_file/write_file for text, upload_file/download_file for any size (checked by SHA-256), list_directory. \
A command that outlives `timeout` keeps running: follow it with get_command_status(command_id). Host keys are never accepted automatically.";

#[tool_handler(router = self.tool_router)]
impl ServerHandler for SshServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(INSTRUCTIONS)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.guarded_call(request, context).await
    }
}

/// A tool-level error: the message says what happened and what to do next.
pub(crate) fn tool_error(e: &Error) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(format!("Error: {e}"))])
}

/// Text for the model plus structured content for programs.
pub(crate) fn result<T: serde::Serialize>(text: String, structured: &T) -> CallToolResult {
    let mut r = CallToolResult::success(vec![ContentBlock::text(text)]);
    r.structured_content = serde_json::to_value(structured).ok();
    r
}
