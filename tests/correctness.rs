//! Engine correctness against the real sshd of the test bed: every byte of output and every
//! exit code belongs to the right command, input and interrupts reach only the command they
//! name, secrets go only where they were asked for, and every command record is finished.

mod common;

use std::time::Duration;

use common::exec::{ended, execute, req, run};
use common::testbed::{password, sudo_password};
use common::{engine, require_testbed, rt};
use mcp_ssh_session::error::Error;
use mcp_ssh_session::jobs::{JobStatus, Waited};
use mcp_ssh_session::secret::Secret;
use tokio_util::sync::CancellationToken;

#[test]
fn input_typed_into_an_idle_shell_is_a_command_of_its_own() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        run(&e, "fixture", "cd /tmp").await;
        let sent = e
            .session_input("fixture", None, None, "sleep 2; echo FROM_INPUT\n")
            .await
            .expect("input");
        assert!(
            sent.claimed,
            "the idle shell runs the input as its own command"
        );
        // The next command does not get the input's output or its exit status.
        let s = run(&e, "fixture", "pwd; (exit 3)").await;
        assert_eq!(
            (s.output.as_str(), s.exit_code),
            ("/tmp\n", Some(3)),
            "{s:?}"
        );
        assert!(
            s.notes.iter().any(|n| n.contains("parallel shell")),
            "{s:?}"
        );
        let input = ended(&sent.job, 10).await;
        assert_eq!(
            (input.output.as_str(), input.status, input.exit_code),
            ("FROM_INPUT\n", JobStatus::Completed, Some(0)),
            "{input:?}"
        );
        assert!(input.command.starts_with("send_input_by_session: "));
        // Text with no Enter would only sit on an idle shell's line: refused, not typed.
        let err = e
            .session_input("fixture", None, None, "half a command")
            .await
            .expect_err("no line end");
        assert!(err.to_string().contains("no Enter"), "{err}");
        let s = run(&e, "fixture", "echo clean").await;
        assert_eq!(s.output, "clean\n");
        e.close_all().await;
    });
}

#[test]
fn input_and_interrupts_for_an_ended_command_are_refused() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let done = run(&e, "fixture", "true").await;
        // The next command is running in the same shell now.
        let (next, w) = execute(&e, &req("fixture", "read x; echo \"next:$x\"", 0)).await;
        assert_eq!(w, Waited::TimedOut);
        for err in [
            e.interrupt(&done.command_id).await.expect_err("ended"),
            e.send_input(&done.command_id, b"stray\n".to_vec())
                .await
                .expect_err("ended"),
        ] {
            assert!(matches!(err, Error::NotRunning { .. }), "{err}");
            assert!(err.to_string().contains("nothing was sent"), "{err}");
        }
        e.send_input(&next.id, b"mine\n".to_vec()).await.unwrap();
        let s = ended(&next, 10).await;
        assert_eq!(s.output, "next:mine\n", "{s:?}");
        e.close_all().await;
    });
}

#[test]
fn interrupts_never_spill_onto_the_next_command() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        for i in 0..8 {
            // Interrupt at different moments: while it runs, right as it ends, after.
            let (job, _) = execute(&e, &req("fixture", "sleep 0.3; echo slept", 0)).await;
            tokio::time::sleep(Duration::from_millis(40 * i)).await;
            let _ = e.interrupt(&job.id).await;
            let first = ended(&job, 10).await;
            assert!(
                matches!(first.status, JobStatus::Interrupted | JobStatus::Completed),
                "{first:?}"
            );
            let s = run(&e, "fixture", &format!("echo round-{i}; (exit {i})")).await;
            assert_eq!(
                (s.output.clone(), s.exit_code, s.status),
                (format!("round-{i}\n"), Some(i as i32), JobStatus::Completed),
                "round {i}: {s:?}"
            );
        }
        e.close_all().await;
    });
}

#[test]
fn a_cleared_screen_is_not_a_program_waiting_for_input() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let (job, w) = execute(&e, &req("fixture", "clear; sleep 2; echo done", 15)).await;
        let s = job.snapshot(1 << 20);
        assert_eq!(w, Waited::Finished, "{s:?}");
        assert_eq!((s.status, s.exit_code), (JobStatus::Completed, Some(0)));
        assert!(s.output.ends_with("done\n"), "{s:?}");
        // A progress bar redrawn in place is running output, not a prompt.
        let (job, w) = execute(
            &e,
            &req(
                "fixture",
                "for i in 1 2 3; do printf '\\r[%s/3] working' $i; sleep 0.5; done; echo",
                15,
            ),
        )
        .await;
        assert_eq!(w, Waited::Finished, "{:?}", job.snapshot(1000));
        e.close_all().await;
    });
}

#[test]
fn a_time_limit_stops_a_command_waiting_at_a_prompt() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let (job, w) = execute(
            &e,
            &req("fixture", "read -p 'Really? [y/N] ' a; echo \"a=$a\"", 5),
        )
        .await;
        assert_eq!(w, Waited::AwaitingInput);
        e.stop_at(
            &job,
            tokio::time::Instant::now() + Duration::from_secs(1),
            "interrupted after the 1s timeout",
        )
        .await;
        let s = ended(&job, 1).await;
        assert_eq!(s.status, JobStatus::Interrupted, "{s:?}");
        assert!(s.notes.iter().any(|n| n.contains("1s timeout")), "{s:?}");
        // A program that ignores Ctrl-C is ended with its shell.
        let (job, _) = execute(&e, &req("fixture", "trap '' INT QUIT; sleep 60", 0)).await;
        e.stop_at(&job, tokio::time::Instant::now(), "time limit")
            .await;
        let s = ended(&job, 1).await;
        assert_eq!(s.status, JobStatus::Interrupted, "{s:?}");
        assert!(
            s.error
                .as_deref()
                .unwrap_or("")
                .contains("shell was closed"),
            "{s:?}"
        );
        let s = run(&e, "fixture", "echo fresh").await;
        assert_eq!(s.output, "fresh\n");
        e.close_all().await;
    });
}

#[test]
fn the_sudo_password_goes_only_to_our_sudo_prompt() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        // Output that looks like sudo's prompt, and a command that merely contains "sudo".
        for command in [
            "printf '[sudo] password for mcptsudo: '; read -r got; echo \"got=${#got}\"",
            "echo pseudo; printf 'Password: '; read -r got; echo \"got=${#got}\"",
        ] {
            let mut r = req("fixture-sudo", command, 5);
            r.sudo_password = Secret::new(sudo_password());
            let (job, w) = execute(&e, &r).await;
            let s = job.snapshot(1 << 20);
            assert_eq!(w, Waited::AwaitingInput, "{command}: {s:?}");
            e.send_input(&job.id, b"typed-by-hand\n".to_vec())
                .await
                .unwrap();
            let s = ended(&job, 10).await;
            assert!(s.output.ends_with("got=13\n"), "{command}: {s:?}");
            assert!(!s.output.contains(sudo_password()));
        }
        // sudo itself asks with our prompt and gets it.
        let mut r = req("fixture-sudo", "sudo -k; sudo whoami", 20);
        r.sudo_password = Secret::new(sudo_password());
        let (job, w) = execute(&e, &r).await;
        let s = job.snapshot(1 << 20);
        assert_eq!(
            (w, s.output.as_str(), s.exit_code),
            (Waited::Finished, "root\n", Some(0)),
            "{s:?}"
        );
        // Without a password, sudo's prompt is reported as it would read in a terminal.
        let (job, w) = execute(&e, &req("fixture-sudo", "sudo -k; sudo true", 20)).await;
        let s = job.snapshot(1 << 20);
        assert_eq!(w, Waited::AwaitingInput, "{s:?}");
        let a = s.awaiting_input.unwrap();
        assert_eq!(
            (a.kind.as_str(), a.prompt.as_str()),
            ("sudo_password", "[sudo] password for mcptsudo:")
        );
        e.interrupt(&job.id).await.unwrap();
        ended(&job, 10).await;
        e.close_all().await;
    });
}

#[test]
fn the_login_password_is_never_offered_to_a_bastion() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        // Both hosts would accept this password: only the target may receive it.
        let mut r = req("fixture-behind-bastion", "whoami", 20);
        r.password = Secret::new(password());
        let err = e
            .execute(&r, &CancellationToken::new())
            .await
            .expect_err("the bastion's prompt is not the target's");
        let msg = err.to_string();
        assert!(msg.contains("mcptpass@127.0.0.1"), "{msg}");
        assert!(msg.contains("another host on the way"), "{msg}");
        // A key-login bastion in front of a password target: the target's prompt is answered.
        let mut r = req("fixture-jump-to-pass", "whoami", 20);
        r.password = Secret::new(password());
        let (job, w) = execute(&e, &r).await;
        let s = job.snapshot(1 << 20);
        assert_eq!(
            (w, s.output.as_str()),
            (Waited::Finished, "mcptpass\n"),
            "{s:?}"
        );
        // No ghost session is left by the failed connect.
        assert!(
            e.sessions()
                .iter()
                .all(|s| s.host != "fixture-behind-bastion"),
            "{:?}",
            e.sessions()
        );
        e.close_all().await;
    });
}

#[test]
fn a_host_key_added_by_the_users_config_is_said() {
    let bed = require_testbed!();
    rt().block_on(async {
        let file = bed.dir().join("known_hosts_acceptnew");
        let _ = std::fs::remove_file(&file);
        let e = engine(bed);
        let s = run(&e, "fixture-acceptnew", "echo in").await;
        assert_eq!(s.output, "in\n");
        let note = s
            .notes
            .iter()
            .find(|n| n.contains("added the host key"))
            .unwrap_or_else(|| panic!("no note: {s:?}"));
        assert!(note.contains("accept-new"), "{note}");
        assert!(note.contains(bed.host_key_fingerprint()), "{note}");
        // Known now: the next connection says nothing.
        e.close_all().await;
        let s = run(&e, "fixture-acceptnew", "echo again").await;
        assert!(!s.notes.iter().any(|n| n.contains("host key")), "{s:?}");
        e.close_all().await;
    });
}

#[test]
fn close_racing_a_connect_leaves_nothing_behind() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let mut r = req("close-race", "echo never", 20);
        r.username = Some("mcptkey".into());
        let e2 = e.clone();
        let racing = tokio::spawn(async move { e2.execute(&r, &CancellationToken::new()).await });
        tokio::time::sleep(Duration::from_millis(30)).await;
        e.close("close-race", None, None).await.unwrap();
        // Closed while connecting, or done before the close: never a revived session.
        if let Err(err) = racing.await.unwrap() {
            assert!(err.to_string().contains("closed"), "{err}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            e.sessions().iter().all(|s| s.host != "close-race"),
            "{:?}",
            e.sessions()
        );
        let leftover = std::process::Command::new("pgrep")
            .args(["-f", "ssh .*-- close-race$"])
            .output()
            .unwrap();
        assert!(
            leftover.stdout.is_empty(),
            "ssh processes left: {}",
            String::from_utf8_lossy(&leftover.stdout)
        );
        e.close_all().await;
    });
}

#[test]
fn a_command_whose_shell_dies_is_finished_with_the_reason() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let mut r = req("dying-shell", "echo $$; sleep 60", 2);
        r.username = Some("mcptkey".into());
        let (job, w) = execute(&e, &r).await;
        assert_eq!(w, Waited::TimedOut);
        let pid = job.snapshot(1000).output.trim().to_string();
        let (code, _, err) = bed.ssh(&["fixture", "kill", "-9", &pid]);
        assert_eq!(code, 0, "{err}");
        let s = ended(&job, 15).await;
        assert_eq!(s.status, JobStatus::Failed, "{s:?}");
        assert!(s.error.as_deref().unwrap_or("").contains("ended"), "{s:?}");
        e.close_all().await;
    });
}

#[test]
fn a_large_paste_into_an_echoing_program_does_not_wedge_the_shell() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let (job, _) = execute(&e, &req("fixture", "cat", 0)).await;
        let line = format!("{}\n", "x".repeat(99));
        let paste = line.repeat(10_000); // 1 MB, copied back by cat as it goes
        e.send_input(&job.id, paste.into_bytes()).await.unwrap();
        // The shell stays responsive meanwhile: a status read and a parallel command.
        let s = run(&e, "fixture", "echo alive").await;
        assert_eq!(s.output, "alive\n");
        e.send_input(&job.id, vec![0x04]).await.unwrap();
        let s = ended(&job, 60).await;
        assert_eq!(s.exit_code, Some(0), "{}", s.status.as_str());
        let xs = job.read_output(0, 4 << 20).text.matches('x').count();
        assert_eq!(xs, 99 * 10_000, "every byte comes back");
        e.close_all().await;
    });
}

#[test]
fn a_secret_printed_in_pieces_is_masked() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let half = sudo_password().len() / 2;
        let (a, b) = sudo_password().split_at(half);
        let mut r = req(
            "fixture-sudo",
            &format!("printf '%s' '{a}'; sleep 1; printf '%s\\n' '{b}'"),
            0,
        );
        r.sudo_password = Secret::new(sudo_password());
        let (job, _) = execute(&e, &r).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mid = job.snapshot(1 << 20);
        assert!(
            !mid.output.contains(a),
            "the first half shows while printing: {mid:?}"
        );
        let s = ended(&job, 10).await;
        assert_eq!(s.output, "***\n", "{s:?}");
        // The terminal screen (built from the raw output) is masked too.
        let v = mcp_ssh_session::mcp::interactive::read_screen(&e, "fixture-sudo", None, None, 50)
            .await
            .unwrap();
        assert!(v.screen.lines.iter().any(|l| l.contains("***")), "{v:?}");
        assert!(
            !v.screen.lines.iter().any(|l| l.contains(sudo_password())),
            "{v:?}"
        );
        e.close_all().await;
    });
}

/// A program can miss a Ctrl-C (sudo's password prompt, when the signal comes between writing
/// the prompt and reading): an interrupt nothing answered is sent again, one that the program
/// answered with output is not.
#[test]
fn an_unanswered_interrupt_is_sent_again_and_an_answered_one_is_not() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        // A loop that runs `on_int` at its first Ctrl-C, then takes the next as usual;
        // interrupted once it runs.
        let interrupted = async |on_int: &str| {
            let command =
                format!("bash -c \"trap '{on_int}trap - INT' INT; while :; do sleep 0.2; done\"");
            let mut r = req("fixture", &command, 20);
            r.timeout = Duration::from_millis(500);
            let (job, w) = execute(&e, &r).await;
            assert_eq!(w, Waited::TimedOut);
            e.interrupt(&job.id).await.unwrap();
            job
        };
        // Ignores the first Ctrl-C without a word.
        let job = interrupted("").await;
        let s = ended(&job, 10).await;
        assert_eq!(
            (s.status, s.exit_code),
            (JobStatus::Interrupted, Some(130)),
            "{s:?}"
        );
        // Says it heard the first one: that is left to the caller.
        let job = interrupted("echo heard; ").await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let s = job.snapshot(1 << 20);
        assert_eq!(
            (s.status, s.output.as_str()),
            (JobStatus::Running, "heard\n"),
            "{s:?}"
        );
        e.interrupt(&job.id).await.unwrap();
        let s = ended(&job, 10).await;
        assert_eq!(s.exit_code, Some(130), "{s:?}");
        assert_eq!(run(&e, "fixture", "echo next").await.output, "next\n");
        e.close_all().await;
    });
}
