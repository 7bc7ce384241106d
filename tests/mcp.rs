//! End-to-end tests through real MCP clients over stdio, against the sshd test bed: an rmcp
//! client spawning the built binary, a raw JSON-RPC exchange, the Python MCP SDK and the
//! MCP Inspector CLI (both installed by fixtures/test.sh).
//!
//! Each test starts its own server process, so libtest runs them in parallel.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::mcp_client::{BIN, CALL_LIMIT, Server, args};
use common::require_testbed;
use common::testbed::{password, sudo_password};
use rmcp::model::{CallToolRequestParams, ClientRequest, Request, Tool};
use rmcp::service::PeerRequestOptions;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

// ---------------------------------------------------------------------------------------------
// Helpers of this file (the MCP client is tests/common/mcp_client.rs)

/// Versions of the foreign clients; fixtures/test.sh installs exactly these.
const PYTHON_MCP_VERSION: &str = "2.3.0";
const INSPECTOR_VERSION: &str = "2.12.0";

/// A file under the crate's `target/` for figures the README quotes.
fn write_figure(name: &str, text: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&dir).expect("target dir");
    std::fs::write(dir.join(name), format!("{text}\n")).expect("writing the figure");
}

/// An empty ssh config for the cases that never connect.
fn empty_ssh_config() -> tempfile::NamedTempFile {
    tempfile::NamedTempFile::new().expect("temp ssh config")
}

/// A missing foreign client is a skip here but a failure in CI on Linux.
fn skip_or_fail(reason: &str) {
    let test = common::current_test_name();
    if common::must_not_skip() {
        panic!("{test}: required in CI, but {reason}");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {reason}");
}

// ---------------------------------------------------------------------------------------------
// tools/list

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_list_is_complete_and_small() {
    let cfg = empty_ssh_config();
    let s = Server::start(cfg.path(), &[]).await;
    for name in [
        "execute_command",
        "execute_command_async",
        "get_command_status",
        "get_command_output",
        "interrupt_command_by_id",
        "send_input",
        "send_input_by_session",
        "list_running_commands",
        "list_command_history",
        "list_sessions",
        "close_session",
        "close_all_sessions",
        "read_file",
        "write_file",
        "upload_file",
        "download_file",
        "list_directory",
    ] {
        assert!(s.tools.contains_key(name), "{name} is not listed");
    }
    for (name, t) in &s.tools {
        assert!(
            t.title.as_deref().is_some_and(|x| !x.is_empty()),
            "{name}: no title"
        );
        assert!(
            t.description.as_deref().is_some_and(|d| d.len() > 20),
            "{name}: no real description"
        );
        assert_eq!(t.input_schema.get("type"), Some(&json!("object")), "{name}");
        let a = t
            .annotations
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no annotations"));
        assert!(
            a.read_only_hint.is_some()
                && a.destructive_hint.is_some()
                && a.idempotent_hint.is_some()
                && a.open_world_hint.is_some(),
            "{name}: annotations incomplete: {a:?}"
        );
        if let Some(o) = &t.output_schema {
            assert_eq!(
                o.get("type"),
                Some(&json!("object")),
                "{name}: outputSchema"
            );
        }
    }
    // Every tool returns structuredContent and lists an outputSchema (every call in this
    // file checks that the content matches it).
    for (name, t) in &s.tools {
        assert!(t.output_schema.is_some(), "{name}: no outputSchema");
    }
    // What the client reads at every start: keep it small.
    let mut tools: Vec<&Tool> = s.tools.values().collect();
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    let size = serde_json::to_string(&tools).unwrap().len();
    let mut each: Vec<(usize, &str)> = tools
        .iter()
        .map(|t| (serde_json::to_string(t).unwrap().len(), t.name.as_ref()))
        .collect();
    each.sort_unstable_by(|a, b| b.cmp(a));
    eprintln!("tools/list bytes per tool: {each:?}");
    eprintln!("tools/list: {} tools, {size} bytes", tools.len());
    write_figure(
        "tools-list-size.txt",
        &format!("{size} bytes ({} tools)", tools.len()),
    );
    assert!(
        // 14 tools took 14.3 KB; the five file tools brought it to 22.3 KB.
        size < 23 * 1024,
        "tools/list is {size} bytes; keep it under 23 KB"
    );
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// execute_command

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_command_exit_codes_and_bad_input() {
    let bed = require_testbed!();
    let s = Server::bed(bed).await;
    for (cmd, code, out) in [
        ("true", 0, ""),
        ("echo hi; false", 1, "hi\n"),
        ("cd /tmp; sh -c 'exit 7'", 7, ""),
    ] {
        let r = s.run("fixture", cmd).await;
        assert_eq!(r.sc["exit_code"], json!(code), "{cmd}: {}", r.sc);
        assert_eq!(r.str("output"), out, "{cmd}");
        assert_eq!(r.str("status"), "completed", "{cmd}");
        assert_eq!(r.sc["truncated"], json!(false), "{cmd}");
        assert!(r.sc["duration_ms"].is_u64(), "{cmd}: {}", r.sc);
        assert!(!r.str("command_id").is_empty(), "{cmd}: {}", r.sc);
        assert!(r.sc.get("cwd").is_some(), "{cmd}: {}", r.sc);
        assert!(
            r.text.starts_with(&format!("Exit Status: {code}")),
            "{cmd}: {}",
            r.text
        );
    }
    // The directory persists: the last command above did `cd /tmp`.
    let r = s.run("fixture", "pwd").await;
    assert_eq!((r.str("output"), r.str("cwd")), ("/tmp\n", "/tmp"));

    // Integers sent as strings, as some clients do.
    let port = bed.port().to_string();
    let r = s
        .ok(
            "execute_command",
            json!({"host": "fixture", "command": "echo strings", "timeout": "30", "port": port}),
        )
        .await;
    assert_eq!(r.str("output"), "strings\n");
    // An absurd timeout is capped, not an overflow that would take the server down.
    let r = s
        .ok(
            "execute_command",
            json!({"host": "fixture", "command": "echo huge", "timeout": u64::MAX}),
        )
        .await;
    assert_eq!(r.str("output"), "huge\n");
    // enable_password is for devices: on a POSIX shell the result says it was not used.
    let r = s
        .ok(
            "execute_command",
            json!({"host": "fixture", "command": "true", "enable_password": "x"}),
        )
        .await;
    assert!(r.text.contains("not used"), "{}", r.text);
    // A network device: no exit status, the device named, its error line, enable applied.
    let r = s
        .ok(
            "execute_command",
            json!({"host": "fixture-ios", "command": "show bogus", "enable_password": common::testbed::ENABLE_PASSWORD}),
        )
        .await;
    assert!(
        r.text.starts_with("Exit Status: n/a (network device)"),
        "{}",
        r.text
    );
    assert_eq!(r.sc["exit_code"], Value::Null, "{}", r.sc);
    assert_eq!(r.sc["device"]["family"], json!("cisco_ios"), "{}", r.sc);
    assert_eq!(r.sc["device"]["mode"], json!("privileged"), "{}", r.sc);
    assert_eq!(
        r.sc["device_error"],
        json!("% Invalid input detected at '^' marker.")
    );
    assert!(
        r.text.contains("Device error: % Invalid input"),
        "{}",
        r.text
    );

    // Bad input: tool errors with a message that names the problem, all at once.
    let marker = "/tmp/mcpt-mcp-proxycommand-ran";
    let _ = std::fs::remove_file(marker);
    let inject = format!("-oProxyCommand=touch {marker}");
    let started = Instant::now();
    let (empty, blank, injected, alias, refused) = tokio::join!(
        s.err("execute_command", json!({"host": "fixture", "command": ""})),
        s.err(
            "execute_command",
            json!({"host": "fixture", "command": "   "})
        ),
        s.err(
            "execute_command",
            json!({"host": inject, "command": "true"})
        ),
        s.err(
            "execute_command",
            json!({"host": "mcpt-no-such-alias", "command": "true"})
        ),
        s.err(
            "execute_command",
            json!({"host": "127.0.0.1", "port": 1, "command": "true"})
        ),
    );
    assert!(
        empty.contains("command") && empty.contains("empty"),
        "{empty}"
    );
    assert!(
        blank.contains("command") && blank.contains("empty"),
        "{blank}"
    );
    assert!(injected.contains("invalid host"), "{injected}");
    assert!(!Path::new(marker).exists(), "the injected ProxyCommand ran");
    assert!(alias.contains("mcpt-no-such-alias"), "{alias}");
    assert!(
        refused.contains("127.0.0.1") && refused.to_lowercase().contains("connect"),
        "{refused}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "bad input was slow"
    );
    // Arguments that do not parse are tool errors too, naming the problem.
    for (a, says) in [
        (
            json!({"host": "fixture", "command": "true", "timeout": "abc"}),
            "\"abc\"",
        ),
        (
            json!({"host": "fixture", "command": "true", "timeout": -1}),
            "negative",
        ),
        (
            json!({"host": "fixture", "command": "true", "port": 0}),
            "port",
        ),
        (
            json!({"host": "fixture", "command": "true", "port": "99999"}),
            "port",
        ),
        (json!({"host": "fixture"}), "command"),
    ] {
        let e = s.err("execute_command", a.clone()).await;
        assert!(e.contains(says), "{a}: {e}");
    }
    // The async form refuses the same way.
    let e = s
        .err(
            "execute_command_async",
            json!({"host": "fixture", "command": ""}),
        )
        .await;
    assert!(e.contains("empty"), "{e}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_leaves_the_command_running() {
    let bed = require_testbed!();
    let s = Server::bed(bed).await;
    let r = s
        .ok(
            "execute_command",
            json!({"host": "fixture", "command": "sleep 3; echo done", "timeout": 1}),
        )
        .await;
    assert_eq!(r.str("status"), "running", "{}", r.text);
    let id = r.str("command_id").to_string();
    assert!(!id.is_empty());
    assert!(
        r.text.contains(&id) && r.text.contains("get_command_status"),
        "{}",
        r.text
    );
    let r = s.wait_done(&id, Duration::from_secs(15)).await;
    assert_eq!(r.str("status"), "completed", "{}", r.text);
    assert_eq!(r.str("output"), "done\n");
    assert_eq!(r.sc["exit_code"], json!(0));
    assert!(r.text.contains("done"), "{}", r.text);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_commands_status_and_interrupt() {
    let bed = require_testbed!();
    let s = Server::bed(bed).await;
    let started = Instant::now();
    let r = s
        .ok(
            "execute_command_async",
            json!({"host": "fixture", "command": "echo a1; sleep 1; echo a2"}),
        )
        .await;
    assert!(started.elapsed() < Duration::from_secs(15));
    let id = r.str("command_id").to_string();
    assert!(r.text.contains(&id), "{}", r.text);
    let r = s.wait_done(&id, Duration::from_secs(15)).await;
    assert_eq!(
        (r.str("status"), r.str("output"), &r.sc["exit_code"]),
        ("completed", "a1\na2\n", &json!(0))
    );

    // Interrupt a long command: it ends as interrupted, and the host stays usable.
    let r = s
        .ok(
            "execute_command_async",
            json!({"host": "fixture", "command": "sleep 100"}),
        )
        .await;
    let id = r.str("command_id").to_string();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let running = s.ok("list_running_commands", json!({})).await;
    assert!(
        running.sc["commands"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["command_id"] == json!(id)),
        "{}",
        running.sc
    );
    let r = s
        .ok("interrupt_command_by_id", json!({"command_id": id}))
        .await;
    assert_eq!(r.str("status"), "interrupted", "{}", r.text);
    let r = s.ok("get_command_status", json!({"command_id": id})).await;
    assert_eq!(r.str("status"), "interrupted", "{}", r.text);
    let started = Instant::now();
    let r = s.run("fixture", "echo next").await;
    assert_eq!(r.str("output"), "next\n");
    assert!(started.elapsed() < Duration::from_secs(15));
    let running = s.ok("list_running_commands", json!({})).await;
    assert_eq!(running.sc["commands"], json!([]), "{}", running.text);

    // The async form's timeout holds whatever the command is doing, a prompt included.
    let r = s
        .ok(
            "execute_command_async",
            json!({"host": "fixture", "command": "read -p 'Proceed? [y/N] ' a", "timeout": 2}),
        )
        .await;
    let waiting = r.str("command_id").to_string();
    let r = s.wait_done(&waiting, Duration::from_secs(20)).await;
    assert_eq!(r.str("status"), "interrupted", "{}", r.text);
    assert!(r.text.contains("2s timeout"), "{}", r.text);

    // Bad ids and finished commands.
    let e = s
        .err("interrupt_command_by_id", json!({"command_id": id}))
        .await;
    assert!(e.contains("not running"), "{e}");
    let e = s
        .err(
            "interrupt_command_by_id",
            json!({"command_id": "no-such-id"}),
        )
        .await;
    assert!(e.contains("unknown command id"), "{e}");
    for bad in ["no-such-id", ""] {
        let e = s
            .err("get_command_status", json!({"command_id": bad}))
            .await;
        assert!(e.contains("command"), "{bad:?}: {e}");
        let e = s
            .err("get_command_output", json!({"command_id": bad}))
            .await;
        assert!(e.contains("command"), "{bad:?}: {e}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_input_answers_a_prompt() {
    let bed = require_testbed!();
    let s = Server::bed(bed).await;
    let r = s
        .ok(
            "execute_command",
            json!({"host": "fixture", "command": "read -p 'name? ' x; echo \"hi $x\"", "timeout": 1}),
        )
        .await;
    assert!(
        ["awaiting_input", "running"].contains(&r.str("status")),
        "{}",
        r.text
    );
    if r.str("status") == "awaiting_input" {
        assert!(
            r.text.contains("\nAnswer with send_input('"),
            "what to do next, on a line of its own: {}",
            r.text
        );
    }
    let id = r.str("command_id").to_string();
    let r = s
        .ok(
            "send_input",
            json!({"command_id": id, "input_text": "bob\n"}),
        )
        .await;
    assert!(r.str("new_output").contains("hi bob"), "{}", r.text);
    assert!(r.text.contains("hi bob"), "{}", r.text);
    assert_eq!(r.str("status"), "completed", "{}", r.text);
    let r = s.wait_done(&id, Duration::from_secs(5)).await;
    assert!(r.str("output").contains("hi bob"), "{}", r.text);

    let e = s
        .err(
            "send_input",
            json!({"command_id": id, "input_text": "late\n"}),
        )
        .await;
    assert!(
        e.contains("not running") && e.contains("nothing was sent"),
        "{e}"
    );
    let e = s
        .err("send_input", json!({"command_id": id, "input_text": ""}))
        .await;
    assert!(e.contains("input_text"), "{e}");
    let e = s
        .err(
            "send_input",
            json!({"command_id": "no-such-id", "input_text": "x\n"}),
        )
        .await;
    assert!(e.contains("unknown command id"), "{e}");

    // send_input_by_session types into the session's main shell.
    let r = s
        .ok(
            "execute_command",
            json!({"host": "fixture", "command": "read y; echo \"got $y\"", "timeout": 1}),
        )
        .await;
    let id = r.str("command_id").to_string();
    let r = s
        .ok(
            "send_input_by_session",
            json!({"host": "fixture", "input_text": "hello\n"}),
        )
        .await;
    assert!(r.text.contains("Input sent"), "{}", r.text);
    assert!(r.str("output").contains("got hello"), "{}", r.text);
    assert_eq!(r.sc["command_id"], json!(id));
    let r = s.wait_done(&id, Duration::from_secs(5)).await;
    assert_eq!(r.str("output"), "got hello\n", "{}", r.text);
    // An idle shell: what it prints still comes back.
    let r = s
        .ok(
            "send_input_by_session",
            json!({"host": "fixture", "input_text": "echo idle-echo\n"}),
        )
        .await;
    assert!(r.str("output").contains("idle-echo"), "{}", r.text);
    let r = s.run("fixture", "echo after").await;
    assert_eq!(r.str("output"), "after\n");
    let e = s
        .err(
            "send_input_by_session",
            json!({"host": "fixture", "input_text": ""}),
        )
        .await;
    assert!(e.contains("input_text"), "{e}");
    let e = s
        .err(
            "send_input_by_session",
            json!({"host": "fixture-zsh", "input_text": "x\n"}),
        )
        .await;
    assert!(e.contains("no active shell"), "{e}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_notifications_carry_output() {
    let bed = require_testbed!();
    let s = Server::bed(bed).await;
    s.run("fixture", "true").await; // connect first: only the loop below is timed
    s.clear_progress();
    let r = s
        .run(
            "fixture",
            "for i in 1 2 3 4; do echo step$i; sleep 0.5; done",
        )
        .await;
    assert_eq!(r.str("output"), "step1\nstep2\nstep3\nstep4\n");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = s.progress();
    assert!(
        !got.is_empty(),
        "no notifications/progress while the loop ran"
    );
    assert!(
        got.iter()
            .any(|p| p.message.as_deref().unwrap_or("").starts_with("step")),
        "no progress message carries an output line: {got:?}"
    );
    // The client handles notifications in spawned tasks, so compare values, not arrival order.
    let mut steps: Vec<f64> = got.iter().map(|p| p.progress).collect();
    steps.sort_by(f64::total_cmp);
    assert!(
        steps.windows(2).all(|w| w[0] < w[1]) && steps[0] > 0.0,
        "progress values must be positive and distinct (increasing): {got:?}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_request_interrupts_the_command() {
    let bed = require_testbed!();
    let s = Server::bed(bed).await;
    s.run("fixture", "true").await;
    let request = ClientRequest::CallToolRequest(Request::new(
        CallToolRequestParams::new("execute_command")
            .with_arguments(args(json!({"host": "fixture", "command": "sleep 30"}))),
    ));
    let handle = s
        .client
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .expect("sending the request");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    handle
        .cancel(Some("test: user pressed stop".into()))
        .await
        .expect("notifications/cancelled");
    let started = Instant::now();
    let r = s.run("fixture", "echo alive").await;
    assert_eq!(r.str("output"), "alive\n");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the host was busy for {:?} after the cancel",
        started.elapsed()
    );
    // The cancelled command was interrupted, not left running.
    let start = Instant::now();
    loop {
        let h = s.ok("list_command_history", json!({})).await;
        let entry = h.sc["commands"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["command"] == json!("sleep 30"))
            .cloned();
        if let Some(e) = entry {
            assert_eq!(e["status"], json!("interrupted"), "{e}");
            let st = s
                .ok("get_command_status", json!({"command_id": e["command_id"]}))
                .await;
            assert_eq!(st.str("status"), "interrupted", "{}", st.text);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the cancelled `sleep 30` never finished: {}",
            s.ok("list_running_commands", json!({})).await.text
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Large output

/// Byte `i` of `head -c 50000000 /dev/zero | tr '\0' x | fold -w 100`.
fn folded_x(i: u64) -> u8 {
    if i % 101 == 100 { b'\n' } else { b'x' }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_output_is_truncated_paged_and_bounded() {
    let bed = require_testbed!();
    let s = Server::bed(bed).await;
    // 500,000 lines of 100 x; fold adds no newline after the last one.
    const TOTAL: u64 = 50_000_000 + 499_999;
    let started = Instant::now();
    let r = s
        .call_within(
            "execute_command",
            json!({"host": "fixture", "timeout": 170,
                   "command": "head -c 50000000 /dev/zero | tr '\\0' 'x' | fold -w 100"}),
            Duration::from_secs(180),
        )
        .await;
    let took = started.elapsed();
    assert!(!r.is_error, "{}", r.text);
    assert_eq!(
        r.str("status"),
        "completed",
        "{}",
        &r.text[..r.text.len().min(2000)]
    );
    assert_eq!(r.sc["exit_code"], json!(0));
    assert_eq!(r.sc["truncated"], json!(true));
    assert_eq!(r.sc["output_bytes"], json!(TOTAL), "output_bytes");
    assert!(
        r.text.contains("get_command_output"),
        "the text must say how to read the rest"
    );
    let text_size = r.text.len();
    let sc_size = serde_json::to_string(&r.sc).unwrap().len();
    let whole = serde_json::to_string(&r.raw).unwrap().len();
    eprintln!(
        "50 MB command: {took:?}; result text {text_size} B, structuredContent {sc_size} B, whole result {whole} B"
    );
    assert!(text_size < 60_000, "result text is {text_size} bytes");
    assert!(sc_size < 60_000, "structuredContent is {sc_size} bytes");
    assert!(
        r.str("output")
            .starts_with(&format!("{}\n", "x".repeat(100))),
        "output starts {:?}",
        &r.str("output")[..r.str("output").len().min(300)]
    );

    // Paging returns exactly the right bytes: start, middle (mid-line), end.
    let id = r.str("command_id").to_string();
    for (offset, length) in [(0u64, 1000u64), (25_000_033, 5000), (TOTAL - 500, 1000)] {
        let p = s
            .ok(
                "get_command_output",
                json!({"command_id": id, "offset": offset, "length": length}),
            )
            .await;
        let end = (offset + length).min(TOTAL);
        let expected: Vec<u8> = (offset..end).map(folded_x).collect();
        let got = p.str("output");
        assert_eq!(got.len(), expected.len(), "length at offset {offset}");
        assert!(
            got.as_bytes() == expected.as_slice(),
            "bytes differ at offset {offset}"
        );
        assert_eq!(p.sc["offset"], json!(offset));
        assert_eq!(p.sc["total_bytes"], json!(TOTAL));
        assert_eq!(p.sc["next_offset"], json!(end));
        assert_eq!(p.sc["complete"], json!(true));
    }
    // Offsets as strings work too.
    let p = s
        .ok(
            "get_command_output",
            json!({"command_id": id, "offset": "101", "length": "101"}),
        )
        .await;
    assert_eq!(p.str("output"), format!("{}\n", "x".repeat(100)));

    let peak = s.peak_rss();
    let mb = peak as f64 / (1024.0 * 1024.0);
    eprintln!("server peak RSS (VmHWM) after 50 MB of output: {mb:.1} MiB");
    write_figure(
        "peak-rss-50mb.txt",
        &format!("{mb:.1} MiB (VmHWM of the server after a 50 MB command; {took:?})"),
    );
    assert!(peak < 100 * 1024 * 1024, "peak RSS {mb:.1} MiB");
    s.stop().await;
}

/// The spool directories of the servers under `cache` (`<cache>/mcp-ssh-session/spool-*`).
fn spool_dirs(cache: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(cache.join("mcp-ssh-session"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with("spool-")
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spools_are_on_disk_capped_in_total_and_honest_about_what_is_gone() {
    use std::os::unix::fs::PermissionsExt;
    let bed = require_testbed!();
    let scratch = tempfile::tempdir().unwrap();
    let cache = scratch.path().join("cache");
    let run = scratch.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    // What a server killed earlier left behind (an owner mark of a process that is gone).
    let leftover = cache.join("mcp-ssh-session/spool-killed");
    std::fs::create_dir_all(&leftover).unwrap();
    std::fs::write(leftover.join("pid"), "2147483647").unwrap();
    std::fs::write(leftover.join("o0.out"), "old output").unwrap();
    let s = Server::start(
        bed.ssh_config(),
        &[
            ("XDG_CACHE_HOME", cache.to_str().unwrap()),
            ("XDG_RUNTIME_DIR", run.to_str().unwrap()),
            ("MCP_SSH_SPOOL_TOTAL", "300000"),
        ],
    )
    .await;
    // 2000 lines of 99 x and a newline.
    let command = "head -c 198000 /dev/zero | tr '\\0' x | fold -w 99; echo";
    let first = s.run("fixture", command).await;
    assert_eq!(first.sc["output_bytes"], json!(200_000), "{}", first.text);
    assert!(
        first.text.contains("read any part with get_command_output"),
        "{}",
        first.text
    );
    assert!(
        !leftover.exists(),
        "the leftover spool directory was not removed"
    );
    let dirs = spool_dirs(&cache);
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    for d in [&dirs[0], &cache.join("mcp-ssh-session")] {
        let mode = std::fs::metadata(d).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{}", d.display());
    }
    let spooled: u64 = std::fs::read_dir(&dirs[0])
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".out"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert_eq!(spooled, 200_000, "the whole output is spooled on disk");
    // Nothing of the output is kept in the runtime directory (RAM on most systems).
    let in_run = std::process::Command::new("find")
        .arg(&run)
        .args(["-name", "*.out"])
        .output()
        .unwrap();
    assert!(
        in_run.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&in_run.stdout)
    );

    // The second command gets the 100,000 bytes left of the total.
    let second = s.run("fixture", command).await;
    let id = second.str("command_id").to_string();
    let text = &second.text;
    assert!(
        text.contains("bytes 100000-")
            && text.contains("are no longer available: the spool total for all commands (MCP_SSH_SPOOL_TOTAL, 300000 bytes) was reached"),
        "{text}"
    );
    assert!(!text.contains("read any part"), "{text}");
    let gone = s
        .ok(
            "get_command_output",
            // Inside the gap whatever the chunking: the tail in memory keeps between half the
            // inline size and all of it (25,600 to 51,200 bytes), so the gap ends at 148,800
            // to 174,400.
            json!({"command_id": id, "offset": 120_000, "length": 1000}),
        )
        .await;
    assert_eq!(gone.sc["complete"], json!(false), "{}", gone.text);
    assert_eq!(gone.sc["output"], json!(""), "{}", gone.text);
    assert_eq!(
        gone.sc["unavailable"]["start"],
        json!(100_000),
        "{}",
        gone.text
    );
    let end = gone.sc["unavailable"]["end"].as_u64().unwrap();
    assert_eq!(gone.sc["next_offset"], json!(end));
    assert!((148_800..=174_400).contains(&end), "{}", gone.text);
    assert!(gone.text.contains("no longer available"), "{}", gone.text);
    // Before the gap and after it, paging works.
    for offset in [50_000, end] {
        let p = s
            .ok(
                "get_command_output",
                json!({"command_id": id, "offset": offset, "length": 200}),
            )
            .await;
        assert_eq!(p.sc["complete"], json!(true), "{}", p.text);
        let expected: String = (offset..offset + 200)
            .map(|i| if i % 100 == 99 { '\n' } else { 'x' })
            .collect();
        assert_eq!(p.str("output"), expected, "at {offset}");
    }
    // At exit the spool directory goes.
    s.stop().await;
    let start = Instant::now();
    while !spool_dirs(&cache).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "spool directory left after exit: {:?}",
            spool_dirs(&cache)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// History and secrets

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_bounded() {
    let bed = require_testbed!();
    let s = Server::start(bed.ssh_config(), &[("MCP_SSH_HISTORY", "5")]).await;
    let mut ids = Vec::new();
    for i in 1..=8 {
        let r = s.run("fixture", &format!("echo h{i}")).await;
        ids.push(r.str("command_id").to_string());
    }
    let h = s.ok("list_command_history", json!({})).await;
    let listed: Vec<&str> = h.sc["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    assert!(
        listed.len() <= 5,
        "MCP_SSH_HISTORY=5, but list_command_history lists {}: {listed:?}",
        listed.len()
    );
    assert_eq!(listed.first(), Some(&"echo h8"), "newest first: {listed:?}");
    for gone in ["echo h1", "echo h2", "echo h3"] {
        assert!(
            !listed.contains(&gone),
            "{gone} is still listed: {listed:?}"
        );
    }
    let e = s
        .err("get_command_status", json!({"command_id": ids[0]}))
        .await;
    assert!(e.contains("unknown command id"), "{e}");
    let h = s.ok("list_command_history", json!({"limit": "2"})).await;
    assert_eq!(h.sc["commands"].as_array().unwrap().len(), 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_never_appear_in_results() {
    let bed = require_testbed!();
    let s = Server::bed(bed).await;
    // A sudo password and a login password: used, never shown.
    let mut texts = Vec::new();
    let r = s
        .ok(
            "execute_command",
            json!({"host": "fixture-sudo", "command": "sudo -k; sudo whoami", "sudo_password": sudo_password()}),
        )
        .await;
    assert_eq!(
        (r.str("output"), &r.sc["exit_code"]),
        ("root\n", &json!(0)),
        "{}",
        r.text
    );
    let sudo_id = r.str("command_id").to_string();
    texts.push(r.text.clone());
    let r = s
        .ok(
            "execute_command",
            json!({"host": "fixture-pass", "command": "whoami", "password": password()}),
        )
        .await;
    assert_eq!(r.str("output"), "mcptpass\n", "{}", r.text);
    let pass_id = r.str("command_id").to_string();
    texts.push(r.text.clone());
    let h = s.ok("list_command_history", json!({})).await;
    texts.push(h.text.clone());
    texts.push(h.sc.to_string());
    for id in [&sudo_id, &pass_id] {
        let st = s.ok("get_command_status", json!({"command_id": id})).await;
        texts.push(st.text.clone());
        texts.push(st.sc.to_string());
        let out = s.ok("get_command_output", json!({"command_id": id})).await;
        texts.push(out.sc.to_string());
    }
    texts.push(s.ok("list_sessions", json!({})).await.sc.to_string());
    for t in &texts {
        assert!(
            !t.contains(password()) && !t.contains(sudo_password()),
            "a password is shown: {t}"
        );
    }
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Sessions

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_and_closed() {
    let bed = require_testbed!();
    let s = Server::bed(bed).await;
    let l = s.ok("list_sessions", json!({})).await;
    assert_eq!(l.sc["sessions"], json!([]), "{}", l.text);
    s.run("fixture", "cd /tmp").await;
    s.run("fixture-zsh", "true").await;
    let l = s.ok("list_sessions", json!({})).await;
    let hosts: Vec<&str> = l.sc["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["host"].as_str().unwrap())
        .collect();
    assert!(
        hosts.contains(&"fixture") && hosts.contains(&"fixture-zsh"),
        "{hosts:?}"
    );
    let fixture = l.sc["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["host"] == json!("fixture"))
        .unwrap();
    assert_eq!(fixture["shells"][0]["cwd"], json!("/tmp"), "{fixture}");
    assert!(l.text.contains("mcptkey@"), "{}", l.text);

    let c = s.ok("close_session", json!({"host": "fixture"})).await;
    let closed = c.sc["closed"].as_array().unwrap();
    assert_eq!(closed.len(), 1, "{}", c.text);
    assert!(c.text.contains("Closed session"), "{}", c.text);
    let l = s.ok("list_sessions", json!({})).await;
    assert!(
        l.sc["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["host"] != json!("fixture")),
        "{}",
        l.text
    );
    // Nothing to close is not an error.
    let c = s
        .ok("close_session", json!({"host": "mcpt-never-used"}))
        .await;
    assert_eq!(c.sc["closed"], json!([]));
    assert!(c.text.contains("No open session"), "{}", c.text);
    let e = s
        .err("close_session", json!({"host": "-oProxyCommand=true"}))
        .await;
    assert!(e.contains("invalid host"), "{e}");

    // A closed host reconnects on the next use.
    let r = s.run("fixture", "echo back").await;
    assert_eq!(r.str("output"), "back\n");
    let c = s.ok("close_all_sessions", json!({})).await;
    assert_eq!(c.sc["closed"].as_array().unwrap().len(), 2, "{}", c.text);
    let l = s.ok("list_sessions", json!({})).await;
    assert_eq!(l.sc["sessions"], json!([]), "{}", l.text);
    assert!(l.text.contains("No active"), "{}", l.text);
    s.stop().await;
}

/// Reads the server's stdout until the response with `id`; every line must be a JSON-RPC
/// message.
async fn response(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    id: u64,
) -> Value {
    loop {
        let line = tokio::time::timeout(CALL_LIMIT, lines.next_line())
            .await
            .expect("no response in time")
            .expect("reading stdout")
            .expect("stdout closed early");
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line:?}"));
        assert_eq!(v["jsonrpc"], json!("2.0"), "not JSON-RPC: {line}");
        if v["id"] == json!(id) {
            return v;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// stdout is JSON-RPC only, even with trace logging

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_is_json_rpc_only_with_trace_logging() {
    let bed = require_testbed!();
    let scratch = tempfile::tempdir().unwrap();
    let log_path = scratch.path().join("stderr");
    let mut child = tokio::process::Command::new(BIN)
        .arg("--ssh-config")
        .arg(bed.ssh_config())
        .env("RUST_LOG", "trace")
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .kill_on_drop(true)
        .spawn()
        .expect("spawning the server");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut send = async |v: Value| {
        stdin
            .write_all(format!("{v}\n").as_bytes())
            .await
            .expect("writing to the server");
    };
    send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "0"}}}),
    )
    .await;
    let init = response(&mut lines, 1).await;
    assert_eq!(
        init["result"]["serverInfo"]["name"],
        json!("mcp-ssh-session"),
        "{init}"
    );
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
    send(
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "execute_command",
        "arguments": {"host": "fixture", "command": "echo raw-ok; echo to-stderr >&2"}}}),
    )
    .await;
    let r = response(&mut lines, 2).await;
    assert_eq!(
        r["result"]["structuredContent"]["output"],
        json!("raw-ok\nto-stderr\n"),
        "{r}"
    );
    send(
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "execute_command",
        "arguments": {"host": "fixture-pass", "command": "whoami", "password": password()}}}),
    )
    .await;
    let r = response(&mut lines, 3).await;
    assert_eq!(
        r["result"]["structuredContent"]["output"],
        json!("mcptpass\n"),
        "{r}"
    );
    send(json!({"jsonrpc": "2.0", "id": 4, "method": "no/such/method"})).await;
    let r = response(&mut lines, 4).await;
    assert!(r["error"]["code"].is_i64(), "{r}");

    // stdin EOF: the server closes its sessions and exits 0, printing nothing more on stdout.
    drop(stdin);
    let rest = tokio::time::timeout(Duration::from_secs(15), async {
        let mut rest = Vec::new();
        while let Ok(Some(l)) = lines.next_line().await {
            rest.push(l);
        }
        rest
    })
    .await
    .expect("the server did not close stdout after stdin EOF");
    for l in rest {
        let v: Value = serde_json::from_str(&l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}"));
        assert_eq!(v["jsonrpc"], json!("2.0"), "{l}");
    }
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("the server did not exit after stdin EOF")
        .unwrap();
    assert!(status.success(), "{status}");
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("DEBUG"),
        "RUST_LOG=trace logged no debug line on stderr"
    );
    let leaks: Vec<String> = log
        .lines()
        .filter(|l| l.contains(password()))
        .take(3)
        .map(|l| {
            l.replace(password(), "<PASSWORD>")
                .chars()
                .take(400)
                .collect()
        })
        .collect();
    assert!(
        leaks.is_empty(),
        "the password is in the trace log:\n{}",
        leaks.join("\n")
    );
}

/// One server run with `RUST_LOG` set to `rust_log` (unset when None): initialize, one
/// `execute_command` carrying `password` for a host that is refused before anything connects,
/// then stdin EOF. Returns the server's stderr.
async fn stderr_of_a_password_call(rust_log: Option<&str>, password: &str) -> String {
    let cfg = empty_ssh_config();
    let scratch = tempfile::tempdir().unwrap();
    let log_path = scratch.path().join("stderr");
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("--ssh-config")
        .arg(cfg.path())
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .kill_on_drop(true);
    if let Some(v) = rust_log {
        cmd.env("RUST_LOG", v);
    }
    let mut child = cmd.spawn().expect("spawning the server");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "log-test", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "execute_command",
            "arguments": {"host": "-mcpt-refused", "command": "true", "password": password}}}),
    ];
    for m in messages {
        stdin.write_all(format!("{m}\n").as_bytes()).await.unwrap();
    }
    // By the tool call's response, rmcp has seen (and could have logged) the request.
    let v = response(&mut lines, 2).await;
    assert_eq!(v["result"]["isError"], json!(true), "{v}");
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("the server did not exit after stdin EOF")
        .unwrap();
    assert!(status.success(), "{status}");
    std::fs::read_to_string(&log_path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_filter_brings_back_rmcp_request_logging() {
    let password = format!("mcpt-log-secret-{}", std::process::id());
    for rust_log in [
        "rmcp::service=debug",
        "rmcp=trace",
        "debug",
        "trace",
        "warn,rmcp::service::serve_inner=trace,rmcp[serve_inner]=trace",
    ] {
        let log = stderr_of_a_password_call(Some(rust_log), &password).await;
        assert!(
            !log.contains(&password),
            "RUST_LOG={rust_log}: the password is in the log:\n{}",
            log.replace(&password, "<PASSWORD>")
        );
        for whole_request in [
            "received request",
            "new event",
            "arguments",
            "CallToolRequest",
        ] {
            assert!(
                !log.contains(whole_request),
                "RUST_LOG={rust_log}: a whole request is logged ({whole_request:?}):\n{}",
                log.replace(&password, "<PASSWORD>")
            );
        }
        // rmcp's INFO lines still come through when asked for: the cap is at INFO, not off.
        if rust_log.starts_with("rmcp") {
            assert!(
                log.contains("Service initialized as server"),
                "RUST_LOG={rust_log}: rmcp's info lines are missing:\n{log}"
            );
        }
    }
    // No RUST_LOG: the default is warn, so a normal session logs nothing, rmcp's info included.
    let log = stderr_of_a_password_call(None, &password).await;
    assert!(
        !log.contains("INFO") && !log.contains("rmcp"),
        "without RUST_LOG the server logged:\n{log}"
    );
}

// ---------------------------------------------------------------------------------------------
// Clients nobody here wrote

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_client() {
    let bed = require_testbed!();
    let probe = tokio::process::Command::new("python3")
        .args([
            "-c",
            "import importlib.metadata as m; import mcp; print(m.version('mcp'))",
        ])
        .output()
        .await;
    match probe {
        Err(e) => return skip_or_fail(&format!("python3 cannot run: {e}")),
        Ok(o) if !o.status.success() => {
            return skip_or_fail(&format!(
                "the Python MCP SDK is not installed (fixtures/test.sh installs mcp=={PYTHON_MCP_VERSION}): {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Ok(o) => {
            let v = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if v != PYTHON_MCP_VERSION {
                return skip_or_fail(&format!(
                    "the Python MCP SDK is {v}, not the pinned {PYTHON_MCP_VERSION} (run fixtures/test.sh)"
                ));
            }
        }
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/python_client.py");
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("python3")
            .arg(&script)
            .arg(BIN)
            .arg(bed.ssh_config())
            .arg("fixture")
            .env_remove("SSH_AUTH_SOCK")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the Python client took over 120 s")
    .expect("running python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("python-client: OK"),
        "the Python SDK client failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_inspector_cli_strict_tools_list() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/node-tools");
    let pkg = root.join("node_modules/@modelcontextprotocol/inspector");
    let version = std::fs::read_to_string(pkg.join("package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["version"].as_str().map(str::to_string));
    if version.as_deref() != Some(INSPECTOR_VERSION) {
        return skip_or_fail(&format!(
            "@modelcontextprotocol/inspector@{INSPECTOR_VERSION} is not in {} (found {version:?}; fixtures/test.sh installs it)",
            root.display()
        ));
    }
    let cfg = empty_ssh_config();
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("node")
            .arg(pkg.join("clients/launcher/build/index.js"))
            .args(["--cli", BIN, "--ssh-config"])
            .arg(cfg.path())
            .args(["--method", "tools/list", "--strict"])
            .env("RUST_LOG", "warn")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the Inspector took over 120 s");
    let out = match out {
        Ok(o) => o,
        Err(e) => return skip_or_fail(&format!("node cannot run: {e}")),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "inspector --strict failed ({}):\n{stderr}",
        out.status
    );
    let listed: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("inspector printed no JSON ({e}):\n{stdout}"));
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .expect("tools array")
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"execute_command"), "{names:?}");
    assert!(
        stderr
            .lines()
            .any(|l| l.trim_start().starts_with("0 errors")),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// File tools (issue 9): the Python tool's texts, transfers with progress, bounded memory, kills

/// A directory owned by a test user, removed at the end of the test (the bed's sshd runs here,
/// so a "remote" path is a local one).
fn user_dir(user: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("mcpf-")
        .tempdir_in("/tmp")
        .unwrap();
    let out = std::process::Command::new("chown")
        .arg(format!("{user}:{user}"))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(out.success());
    dir
}

fn random_bytes(path: &Path, len: u64) {
    let out = std::process::Command::new("head")
        .args(["-c", &len.to_string(), "/dev/urandom"])
        .stdout(std::fs::File::create(path).unwrap())
        .status()
        .unwrap();
    assert!(out.success());
}

fn file_sha256(path: &Path) -> String {
    mcp_ssh_session::transfer::sha256_file(path).unwrap().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_and_write_file_answer_like_the_python_tool() {
    let bed = require_testbed!();
    let s = Server::bed(bed).await;
    let d = user_dir("mcptkey");
    let p = d.path().join("a.txt").to_string_lossy().into_owned();
    let w = s
        .ok(
            "write_file",
            json!({"host": "fixture", "remote_path": p, "content": "hello\nworld\n"}),
        )
        .await;
    assert_eq!(
        w.text,
        format!("Exit Status: 0\n\nMESSAGE:\nWrote 12 bytes to {p}\n")
    );
    assert_eq!(
        (w.str("via"), w.sc["atomic"].as_bool()),
        ("sftp", Some(true))
    );
    let w = s
        .ok(
            "write_file",
            json!({"host": "fixture", "remote_path": p, "content": "more\n", "append": true}),
        )
        .await;
    assert_eq!(
        w.text,
        format!("Exit Status: 0\n\nMESSAGE:\nWrote 5 bytes to {p} (append)\n")
    );
    let r = s
        .ok("read_file", json!({"host": "fixture", "remote_path": p}))
        .await;
    assert_eq!(r.text, "Exit Status: 0\n\nCONTENT:\nhello\nworld\nmore\n\n");
    assert_eq!(r.sc["bytes"], json!(17));
    let r = s
        .ok(
            "read_file",
            json!({"host": "fixture", "remote_path": p, "max_bytes": 4}),
        )
        .await;
    assert!(
        r.text.starts_with("Exit Status: 0\n\nCONTENT:\nhell\n\n[CONTENT TRUNCATED after 4 bytes]\nSTDERR:\nContent truncated to 4 bytes. Increase max_bytes to retrieve full file.\n"),
        "{}",
        r.text
    );
    assert!(
        r.text
            .contains("The file has 17 bytes. Continue with offset=4."),
        "{}",
        r.text
    );
    assert_eq!(
        (r.sc["truncated"].as_bool(), r.sc["next_offset"].as_u64()),
        (Some(true), Some(4))
    );
    let r = s
        .ok(
            "read_file",
            json!({"host": "fixture", "remote_path": p, "offset": "4", "max_bytes": "100"}),
        )
        .await;
    assert_eq!(r.text, "Exit Status: 0\n\nCONTENT:\no\nworld\nmore\n\n");

    // Errors read as the Python tool's did, as tool errors.
    let missing = d.path().join("nope").to_string_lossy().into_owned();
    let dir = d.path().to_string_lossy().into_owned();
    std::fs::write(d.path().join("bin"), b"\xff\xfeok").unwrap();
    let bin = d.path().join("bin").to_string_lossy().into_owned();
    for (tool, a, want) in [
        ("read_file", json!({"host": "fixture", "remote_path": missing}), format!("Remote file not found: {missing}")),
        ("read_file", json!({"host": "fixture", "remote_path": dir}), format!("Remote path is a directory: {dir}")),
        ("read_file", json!({"host": "fixture", "remote_path": ""}), "Remote path must be provided".to_string()),
        ("read_file", json!({"host": "fixture", "remote_path": "/etc/shadow"}), "Permission denied reading file. Set use_sudo=True or provide sudo_password to retry with sudo.".to_string()),
        (
            "read_file",
            json!({"host": "fixture", "remote_path": bin, "errors": "strict"}),
            "Failed to decode file using encoding 'utf-8': 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte".to_string(),
        ),
        ("write_file", json!({"host": "fixture", "remote_path": format!("{missing}/x"), "content": "x"}), format!("Remote path not found: {missing}/x")),
        ("write_file", json!({"host": "fixture", "remote_path": "/etc/mcpf-x", "content": "x"}), "Permission denied writing file. Set use_sudo=True or provide sudo_password to retry with sudo.".to_string()),
        (
            "write_file",
            json!({"host": "fixture", "remote_path": p, "content": "é", "encoding": "ascii"}),
            "Failed to encode content using encoding 'ascii': 'ascii' codec can't encode character".to_string(),
        ),
        // Refused before connecting: the host does not even exist.
        (
            "write_file",
            json!({"host": "no-such-host.invalid", "remote_path": "/tmp/x", "content": "x".repeat(3 * 1024 * 1024)}),
            format!("Content size {} bytes exceeds maximum allowed 2097152 bytes. Split the write into smaller chunks.", 3 * 1024 * 1024),
        ),
    ] {
        let e = s.err(tool, a.clone()).await;
        assert!(e.starts_with("Exit Status: 1\n\nSTDERR:\n"), "{tool}({a}): {e}");
        assert!(e.contains(&want), "{tool}: {e:?} lacks {want:?}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovrd_aliases_reach_the_host_and_give_the_sudo_password() {
    let bed = require_testbed!();
    let port = bed.port().to_string();
    let s = Server::start(
        bed.ssh_config(),
        &[
            ("OVRD_mcpffiles_HOST", "127.0.0.1"),
            ("OVRD_mcpffiles_PORT", &port),
            ("OVRD_mcpffiles_USER", "mcptsudo"),
            ("OVRD_mcpffiles_SUDO_PASS", sudo_password()),
        ],
    )
    .await;
    let d = user_dir("mcptsudo");
    let p = d.path().join("root-only").to_string_lossy().into_owned();
    std::fs::write(&p, "for root\n").unwrap();
    std::process::Command::new("chmod")
        .args(["600", &p])
        .status()
        .unwrap();
    let r = s
        .ok(
            "read_file",
            json!({"host": "mcpffiles", "remote_path": p, "use_sudo": true}),
        )
        .await;
    assert_eq!(
        r.text,
        "Exit Status: 0\n\nCONTENT:\nfor root\n\nSTDERR:\nRead with sudo (permission denied without it).\n"
    );
    assert_eq!(r.str("via"), "sudo");
    let w = s
        .ok(
            "write_file",
            json!({"host": "mcpffiles", "remote_path": p, "content": "new\n", "use_sudo": true}),
        )
        .await;
    assert_eq!(
        w.text,
        format!("Exit Status: 0\n\nMESSAGE:\nWrote 4 bytes to {p} using sudo\n")
    );
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "new\n");
    let l = s
        .ok(
            "list_directory",
            json!({"host": "mcpffiles", "remote_path": d.path()}),
        )
        .await;
    assert_eq!(l.sc["total"], json!(1), "{}", l.text);
    assert!(l.text.contains("root-only"), "{}", l.text);
    // The alias's password never reaches a result or the log.
    assert!(!w.text.contains(sudo_password()) && !s.log().contains(sudo_password()));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_megabytes_up_and_down_with_progress_and_bounded_memory() {
    let bed = require_testbed!();
    let local = tempfile::tempdir().unwrap();
    let root = local.path().to_string_lossy().into_owned();
    let s = Server::start(bed.ssh_config(), &[("MCP_SSH_LOCAL_ROOT", &root)]).await;
    s.run("fixture", "true").await; // connect first
    let src = local.path().join("fifty.bin");
    random_bytes(&src, 50_000_000);
    let sha = file_sha256(&src);
    let rss_before = s.peak_rss();
    let d = user_dir("mcptkey");
    let remote = d.path().join("fifty.bin").to_string_lossy().into_owned();
    s.clear_progress();
    let up = s
        .ok(
            "upload_file",
            json!({"host": "fixture", "local_path": "fifty.bin", "remote_path": remote}),
        )
        .await;
    assert_eq!(
        (
            up.str("sha256"),
            up.str("verified"),
            up.sc["bytes"].as_u64()
        ),
        (sha.as_str(), "sha256", Some(50_000_000))
    );
    assert!(
        up.text.contains("SHA-256 match on both ends"),
        "{}",
        up.text
    );
    assert_eq!(file_sha256(Path::new(&remote)), sha);
    let down = s
        .ok(
            "download_file",
            json!({"host": "fixture", "remote_path": remote, "local_path": "back.bin"}),
        )
        .await;
    assert_eq!(
        (down.str("sha256"), down.str("verified")),
        (sha.as_str(), "sha256")
    );
    assert_eq!(file_sha256(&local.path().join("back.bin")), sha);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = s.progress();
    assert!(
        got.iter()
            .any(|p| p.total == Some(50_000_000.0) && p.progress > 0.0),
        "no progress with the total: {got:?}"
    );
    // Streamed: the server never holds the file.
    let peak = s.peak_rss();
    eprintln!(
        "peak RSS {} MB before, {} MB after 2 x 50 MB",
        rss_before >> 20,
        peak >> 20
    );
    assert!(
        peak < rss_before + (25 << 20),
        "peak RSS grew from {rss_before} to {peak}"
    );
    // Paths outside the local root are refused.
    let e = s
        .err(
            "upload_file",
            json!({"host": "fixture", "local_path": "../../etc/passwd", "remote_path": remote}),
        )
        .await;
    assert!(e.contains("outside the local root"), "{e}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_server_mid_upload_leaves_the_old_file() {
    let bed = require_testbed!();
    let local = tempfile::tempdir().unwrap();
    let root = local.path().to_string_lossy().into_owned();
    let s = Server::start(bed.ssh_config(), &[("MCP_SSH_LOCAL_ROOT", &root)]).await;
    random_bytes(&local.path().join("huge.bin"), 300_000_000);
    let d = user_dir("mcptkey");
    let remote = d.path().join("target.conf");
    std::fs::write(&remote, "the old content\n").unwrap();
    // Ours, or the upload would write it in place to keep its owner.
    std::process::Command::new("chown")
        .arg("mcptkey:mcptkey")
        .arg(&remote)
        .status()
        .unwrap();
    let request = ClientRequest::CallToolRequest(Request::new(
        CallToolRequestParams::new("upload_file").with_arguments(args(json!({
            "host": "fixture", "local_path": "huge.bin", "remote_path": remote
        }))),
    ));
    let _handle = s
        .client
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .expect("sending the request");
    // Once the temporary file is filling, SIGKILL the server.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let filling = std::fs::read_dir(d.path()).unwrap().flatten().any(|e| {
            e.file_name().to_string_lossy().contains(".mcp-")
                && e.metadata().is_ok_and(|m| m.len() > 1 << 20)
        });
        if filling {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the upload never started: {}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    unsafe { libc::kill(s.pid as i32, libc::SIGKILL) };
    // The transfer dies with the server: the temporary file stops growing and is never
    // renamed over the target.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let size = |d: &Path| -> Vec<u64> {
        std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".mcp-"))
            .map(|e| e.metadata().unwrap().len())
            .collect()
    };
    let before = size(d.path());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        size(d.path()),
        before,
        "the transfer went on after the server died"
    );
    assert!(
        before.iter().all(|n| *n < 300_000_000),
        "the copy finished without the server: {before:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&remote).unwrap(),
        "the old content\n"
    );
}
