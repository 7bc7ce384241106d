"""Drive mcp-ssh-session with the official Python MCP SDK (pinned in fixtures/test.sh).

Usage: python3 python_client.py BINARY SSH_CONFIG HOST
Run by tests/mcp.rs (python_sdk_client). The SDK hands the server only HOME, LOGNAME, PATH,
SHELL, TERM and USER unless `env` is given, so the environment is passed explicitly.
Prints `python-client: OK` and exits 0 when every check holds; raises otherwise.
"""

import asyncio
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def text_of(result) -> str:
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def main(binary: str, ssh_config: str, host: str) -> None:
    env = dict(os.environ)
    env["RUST_LOG"] = "warn"
    params = StdioServerParameters(command=binary, args=["--ssh-config", ssh_config], env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            assert init.server_info.name == "mcp-ssh-session", init.server_info

            tools = (await session.list_tools()).tools
            names = {t.name for t in tools}
            for required in ("execute_command", "get_command_status", "list_sessions"):
                assert required in names, f"{required} missing from {sorted(names)}"

            res = await session.call_tool(
                "execute_command",
                {"host": host, "command": "echo py-$((6*7)); exit_3() { return 3; }; exit_3"},
            )
            text = text_of(res)
            assert not res.is_error, f"a non-zero exit code is not a tool error: {text}"
            sc = res.structured_content
            assert sc is not None, "execute_command returned no structuredContent"
            assert sc["exit_code"] == 3, sc
            assert sc["output"] == "py-42\n", sc
            assert sc["status"] == "completed", sc
            assert text.startswith("Exit Status: 3"), text

            # A numeric string for an integer parameter, as some clients send.
            res = await session.call_tool(
                "execute_command", {"host": host, "command": "echo again", "timeout": "20"}
            )
            assert not res.is_error, text_of(res)
            assert res.structured_content["output"] == "again\n", res.structured_content

            bad = await session.call_tool("execute_command", {"host": host, "command": ""})
            assert bad.is_error, f"an empty command must be a tool error: {text_of(bad)}"
            assert "command" in text_of(bad), text_of(bad)

            res = await session.call_tool("close_all_sessions", {})
            assert not res.is_error, text_of(res)
    print("python-client: OK")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    asyncio.run(main(*sys.argv[1:]))
