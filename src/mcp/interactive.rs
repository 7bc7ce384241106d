//! Interactive tools: read_screen and send_keys over a terminal model of the session's PTY.

use rmcp::tool_router;

use crate::mcp::SshServer;

#[tool_router(router = interactive_tools, vis = "pub(crate)", allow_empty)]
impl SshServer {}
