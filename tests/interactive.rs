//! read_screen / send_keys against full-screen programs in the real sshd test bed.

mod common;

use std::sync::Arc;

use common::{engine, exec, require_testbed, rt};
use mcp_ssh_session::jobs::{Job, JobSnapshot, JobStatus, Waited};
use mcp_ssh_session::mcp::interactive::{
    DEFAULT_MAX_LINES, KeysSent, ScreenView, read_screen, screen_text, send_keys,
};
use mcp_ssh_session::session::SessionManager;
use mcp_ssh_session::term::screen::Shown;

const HOST: &str = "fixture";

/// Runs `command` like execute_command with a timeout of `secs`.
async fn execute(e: &SessionManager, command: &str, secs: u64) -> (Arc<Job>, Waited) {
    exec::execute(e, &exec::req(HOST, command, secs)).await
}

async fn run(e: &SessionManager, command: &str) -> JobSnapshot {
    exec::run(e, HOST, command).await
}

async fn screen(e: &SessionManager, max_lines: usize) -> ScreenView {
    read_screen(e, HOST, None, None, max_lines)
        .await
        .expect("read_screen")
}

async fn keys(e: &SessionManager, keys: &str) -> KeysSent {
    send_keys(e, HOST, keys, None, None, DEFAULT_MAX_LINES)
        .await
        .unwrap_or_else(|err| panic!("send_keys {keys:?}: {err}"))
}

fn assert_full_screen_prompt(job: &Job, waited: Waited) {
    let s = job.snapshot(1 << 20);
    assert_eq!(waited, Waited::AwaitingInput, "{s:?}");
    assert_eq!(s.status, JobStatus::AwaitingInput);
    assert_eq!(
        s.awaiting_input.as_ref().map(|a| a.kind.as_str()),
        Some("interactive"),
        "{s:?}"
    );
}

#[test]
fn less_is_read_and_quit() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let (job, w) = execute(&e, "less /etc/services", 10).await;
        assert_full_screen_prompt(&job, w);

        let v = screen(&e, 100).await;
        assert!(v.screen.alternate_screen, "{v:?}");
        let services = std::fs::read_to_string("/etc/services").unwrap();
        let first: Vec<&str> = services.lines().take(3).collect();
        let shown: Vec<&str> = v.screen.lines.iter().map(|l| l.trim_end()).collect();
        assert_eq!(&shown[..3], &first[..], "{}", screen_text(&v));
        assert_eq!((v.screen.rows, v.screen.columns), (50, 200));
        assert_eq!(v.screen.lines.len(), 50);
        let cmd = v.command.as_ref().expect("the job is reported");
        assert_eq!(cmd.command_id, job.id);
        assert_eq!(cmd.awaiting_input.as_deref(), Some("interactive"));
        // The default 24 rows: less's prompt sits on the bottom row with the cursor.
        let v = screen(&e, DEFAULT_MAX_LINES).await;
        assert_eq!(v.screen.lines.len(), DEFAULT_MAX_LINES);
        assert_eq!(v.screen.cursor_row, 49);
        assert_eq!(v.screen.first_row, 26);

        // Page down: the first lines scroll away.
        let k = keys(&e, "<pgdn>").await;
        assert!(k.settled);
        let v = screen(&e, 100).await;
        assert_ne!(v.screen.lines[0], first[0], "{}", screen_text(&v));

        let k = keys(&e, "q").await;
        assert_eq!(k.bytes_sent, 1);
        assert!(!k.screen.alternate_screen, "{k:?}");
        let s = exec::finished(&job, 5).await;
        assert_eq!(
            (s.status, s.exit_code),
            (JobStatus::Completed, Some(0)),
            "{s:?}"
        );
        let c = k.command.expect("command state");
        assert_eq!((c.status, c.exit_code), (JobStatus::Completed, Some(0)));

        let s = run(&e, "echo after-less").await;
        assert_eq!(s.output, "after-less\n");
        e.close_all().await;
    });
}

#[test]
fn vi_edits_and_writes_a_file() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let path = format!("/tmp/mcpt-vi-{}.txt", uuid::Uuid::new_v4().simple());
        let (job, w) = execute(&e, &format!("vi {path}"), 10).await;
        assert_full_screen_prompt(&job, w);
        let v = screen(&e, 100).await;
        assert!(v.screen.alternate_screen, "{}", screen_text(&v));
        assert_eq!((v.screen.cursor_row, v.screen.cursor_col), (0, 0));
        assert!(v.screen.lines[1].starts_with('~'), "{}", screen_text(&v));

        // A command meanwhile runs in a parallel shell; the screen is still vim's.
        let s = run(&e, "echo parallel").await;
        assert_eq!(s.output, "parallel\n");
        let v = screen(&e, 100).await;
        assert_eq!(v.command.as_ref().unwrap().command_id, job.id, "{v:?}");
        assert!(v.screen.alternate_screen);

        // Insert text, leave insert mode: the text shows and vim waits again.
        let k = keys(&e, "ihello from vi<esc>").await;
        assert_eq!(k.screen.lines[0], "hello from vi", "{k:?}");
        let c = k.command.as_ref().unwrap();
        assert_eq!(c.status, JobStatus::AwaitingInput, "{k:?}");
        assert_eq!(c.awaiting_input.as_deref(), Some("interactive"));
        assert!(k.settled && k.unknown_tokens.is_empty());
        // Cursor keys follow vim's application cursor mode: <left> moves inside the text.
        let k = keys(&e, "<left><left>").await;
        assert_eq!(k.screen.cursor_col, 10, "{k:?}");

        let k = keys(&e, ":wq<enter>").await;
        let c = k.command.clone().expect("command state");
        let s = exec::finished(&job, 5).await;
        assert_eq!(
            (s.status, s.exit_code),
            (JobStatus::Completed, Some(0)),
            "{s:?}"
        );
        // The call itself saw vim end and the command complete.
        assert_eq!(
            (c.status, c.exit_code),
            (JobStatus::Completed, Some(0)),
            "{k:?}"
        );
        assert!(!k.screen.alternate_screen);

        let s = run(&e, &format!("cat {path}; rm -f {path}")).await;
        assert_eq!(s.output, "hello from vi\n");
        e.close_all().await;
    });
}

#[test]
fn top_shows_the_load_and_quits() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let (job, w) = execute(&e, "top", 2).await;
        assert_ne!(w, Waited::Finished, "{:?}", job.snapshot(1 << 20));
        // top leaves the cursor at the bottom: 24 rows show the end of the process list...
        let v = screen(&e, DEFAULT_MAX_LINES).await;
        assert_eq!(v.screen.shown, Shown::Bottom, "{}", screen_text(&v));
        // ...the whole screen has the summary at the top.
        let v = screen(&e, 50).await;
        let text = screen_text(&v);
        assert!(v.screen.lines[0].contains("load average"), "{text}");
        assert_eq!(v.command.as_ref().unwrap().command_id, job.id);

        keys(&e, "q").await;
        let s = exec::finished(&job, 5).await;
        assert_eq!(
            (s.status, s.exit_code),
            (JobStatus::Completed, Some(0)),
            "{s:?}"
        );
        let s = run(&e, "echo after-top").await;
        assert_eq!(s.output, "after-top\n");
        e.close_all().await;
    });
}

#[test]
fn plain_commands_are_unaffected_and_show_on_the_screen() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let s = run(&e, "printf 'one\\ntwo\\n'").await;
        assert_eq!(s.output, "one\ntwo\n");
        // Reading the screen builds the model; commands before and after are not changed.
        let v = screen(&e, DEFAULT_MAX_LINES).await;
        assert!(!v.screen.alternate_screen);
        assert!(v.command.is_none(), "{v:?}");
        let n = v.screen.lines.len();
        assert!(n >= 3, "{}", screen_text(&v));
        assert_eq!(
            v.screen.lines[n - 3..],
            ["one", "two", ""],
            "{}",
            screen_text(&v)
        );

        let s = run(&e, "printf 'three\\n'; false").await;
        assert_eq!((s.output.as_str(), s.exit_code), ("three\n", Some(1)));
        let v = screen(&e, 2).await;
        assert_eq!(v.screen.lines, ["three", ""], "{}", screen_text(&v));

        // No program runs: keys are refused rather than typed into the idle shell.
        let err = send_keys(&e, HOST, "ls<enter>", None, None, 24)
            .await
            .expect_err("idle shell");
        assert!(
            err.to_string().starts_with("no command is running"),
            "not an invalid host: {err}"
        );
        let s = run(&e, "echo still-clean").await;
        assert_eq!(s.output, "still-clean\n");
        e.close_all().await;
    });
}

#[test]
fn clear_errors_without_a_session() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let err = read_screen(&e, HOST, None, None, 24)
            .await
            .expect_err("no session yet");
        let msg = err.to_string();
        assert!(
            msg.contains("no open session for fixture") && msg.contains("execute_command"),
            "{msg}"
        );
        let err = send_keys(&e, "never-connected.example", "q", None, None, 24)
            .await
            .expect_err("no session");
        assert!(err.to_string().contains("no open session"), "{err}");
        let err = read_screen(&e, "-oProxyCommand=x", None, None, 24)
            .await
            .expect_err("bad host");
        assert!(err.to_string().contains("host"), "{err}");

        run(&e, "true").await;
        let err = send_keys(&e, HOST, "", None, None, 24)
            .await
            .expect_err("empty keys");
        assert!(err.to_string().contains("keys"), "{err}");
        let err = read_screen(&e, HOST, None, None, 0)
            .await
            .expect_err("zero rows");
        assert!(err.to_string().contains("max_lines"), "{err}");
        // Another user's session on the same host is not this one.
        let err = read_screen(&e, HOST, Some("mcptpass"), None, 24)
            .await
            .expect_err("other user");
        assert!(err.to_string().contains("Open sessions: "), "{err}");
        e.close_all().await;
    });
}
