//! The session engine against the real sshd of the test bed.

mod common;

use std::time::Duration;

use common::exec::{attempt, req, run, wait_for};
use common::testbed::{password, sudo_password};
use common::{engine, require_testbed, rt};
use mcp_ssh_session::config::Config;
use mcp_ssh_session::jobs::{JobStatus, Waited};
use mcp_ssh_session::secret::Secret;
use mcp_ssh_session::session::{ExecRequest, SessionManager};
use tokio_util::sync::CancellationToken;

#[test]
fn exit_codes_are_exact() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        for (cmd, code) in [
            ("true", 0),
            ("false", 1),
            ("exit_7() { return 7; }; exit_7", 7),
            ("sh -c 'exit 7'", 7),
        ] {
            let s = run(&e, "fixture", cmd).await;
            assert_eq!(s.exit_code, Some(code), "{cmd}: {s:?}");
            assert_eq!(s.status, JobStatus::Completed);
        }
        let s = run(&e, "fixture", "echo hello").await;
        assert_eq!(s.output, "hello\n");
        e.close_all().await;
    });
}

#[test]
fn state_persists_and_output_is_clean() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        run(&e, "fixture", "cd /tmp && export MCPT_X=42").await;
        let s = run(&e, "fixture", "pwd; echo $MCPT_X").await;
        assert_eq!(s.output, "/tmp\n42\n");
        assert_eq!(s.cwd.as_deref(), Some("/tmp"));
        let s = run(&e, "fixture", "echo to-stderr >&2; printf 'no newline'").await;
        assert_eq!(s.output, "to-stderr\nno newline");
        let s = run(
            &e,
            "fixture",
            "printf 'h\\303\\251llo \\342\\234\\223 \\377!\\n'",
        )
        .await;
        assert_eq!(s.output, "héllo ✓ \u{FFFD}!\n");
        let s = run(
            &e,
            "fixture",
            "ls --color=always -d / ; printf '\\033[31mred\\033[0m\\n'",
        )
        .await;
        assert_eq!(s.output, "/\nred\n");
        e.close_all().await;
    });
}

#[test]
fn big_output_is_complete() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let (job, w) = e
            .execute(
                &req("fixture", "seq 1 10000", 20),
                &CancellationToken::new(),
            )
            .await
            .unwrap();
        assert_eq!(w, Waited::Finished);
        let expected: String = (1..=10000).map(|i| format!("{i}\n")).collect();
        let all = job.read_output(0, 1 << 20);
        assert_eq!(all.text, expected);
        let snap = job.snapshot(1 << 20);
        assert_eq!(snap.output, expected);
        assert!(!snap.truncated);
        let small = job.snapshot(1000);
        assert!(small.truncated);
        assert!(small.output.starts_with("1\n2\n"));
        assert!(small.output.ends_with("9999\n10000\n"));
        e.close_all().await;
    });
}

#[test]
fn scripts_heredocs_quotes_and_long_lines() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let s = run(&e, "fixture", "x=1\nif [ $x = 1 ]; then\n  echo one\nfi\ncat <<'EOF'\n$x 'quoted' \"double\"\n~. tilde-dot\nEOF\nfalse").await;
        assert_eq!(s.output, "one\n$x 'quoted' \"double\"\n~. tilde-dot\n");
        assert_eq!(s.exit_code, Some(1));
        let long = "y".repeat(20_000);
        let s = run(&e, "fixture", &format!("echo {long} | wc -c")).await;
        assert_eq!(s.output.trim(), "20001");
        let s = run(&e, "fixture", "printf '%s|' 'tab\there' \"it's\" 'bang!'").await;
        assert_eq!(s.output, "tab\there|it's|bang!|");
        // Control characters reach the command literally.
        let s = run(&e, "fixture", "printf '%s' 'a\u{3}b\u{4}c' | od -An -c | tr -s ' '").await;
        assert_eq!(s.output.trim(), "a 003 b 004 c");
        // A syntax error is reported, and the shell is fine afterwards.
        let s = run(&e, "fixture", "echo 'unterminated").await;
        assert!(s.output.contains("unexpected EOF"), "{s:?}");
        // bash repeats its previous prompt unexpanded after this error: the exit status must
        // still be this command's, not the previous one's.
        assert_eq!(s.exit_code, Some(2), "{s:?}");
        let s = run(&e, "fixture", "echo ok").await;
        assert_eq!(s.output, "ok\n");
        e.close_all().await;
    });
}

#[test]
fn marker_text_in_output_does_not_end_a_command() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        // The real prompt string printed as output, and lookalike OSC sequences.
        let s = run(&e, "fixture", "printf '%s' \"$PS1\"; printf '\\033]7770;x;1;0;/\\007'; echo 7770 MCPPROBE; sleep 0.3; echo after; exit_3() { return 3; }; exit_3").await;
        assert_eq!(s.output, "7770 MCPPROBE\nafter\n");
        assert_eq!(s.exit_code, Some(3));
        e.close_all().await;
    });
}

#[test]
fn every_login_shell_works() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        for host in [
            "fixture",
            "fixture-dash",
            "fixture-zsh",
            "fixture-ash",
            "fixture-tcsh",
        ] {
            let s = run(&e, host, "cd /tmp; export V=ok; false").await;
            assert_eq!(s.exit_code, Some(1), "{host}: {s:?}");
            let s = run(&e, host, "echo \"$V $(pwd)\"; sh -c 'exit 7'").await;
            assert_eq!(
                (s.output.as_str(), s.exit_code),
                ("ok /tmp\n", Some(7)),
                "{host}: {s:?}"
            );
            assert_eq!(s.cwd.as_deref(), Some("/tmp"), "{host}");
            let fallback = s.notes.iter().any(|n| n.contains("not POSIX"));
            if host == "fixture-tcsh" {
                // The first command's notes carry it; later ones do not repeat it.
            } else {
                assert!(!fallback, "{host}: {s:?}");
            }
        }
        let tcsh = e
            .sessions()
            .into_iter()
            .find(|s| s.host == "fixture-tcsh")
            .unwrap();
        assert!(
            tcsh.shells[0]
                .login_shell
                .as_deref()
                .unwrap_or("")
                .ends_with("tcsh"),
            "{tcsh:?}"
        );
        e.close_all().await;
    });
}

#[test]
fn password_login_and_wrong_password() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let mut r = req("fixture-pass", "whoami", 20);
        let err = e
            .execute(&r, &CancellationToken::new())
            .await
            .expect_err("no password must fail");
        let msg = err.to_string();
        assert!(
            msg.contains("asked for a password") && msg.to_lowercase().contains("password:"),
            "{msg}"
        );
        r.password = Secret::new("wrong-password");
        let err = e
            .execute(&r, &CancellationToken::new())
            .await
            .expect_err("wrong password must fail");
        assert!(err.to_string().contains("rejected"), "{err}");
        r.password = Secret::new(password());
        let (s, _) = attempt(&e, &r).await;
        assert_eq!(s.output, "mcptpass\n");
        assert!(!s.output.contains(password()));
        e.close_all().await;
    });
}

#[test]
fn key_with_passphrase() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let err = e
            .execute(
                &req("fixture-passphrase", "true", 20),
                &CancellationToken::new(),
            )
            .await
            .expect_err("needs passphrase");
        assert!(err.to_string().contains("passphrase"), "{err}");
        let mut r = req("fixture-passphrase", "whoami", 20);
        r.password = Secret::new(password());
        let (s, _) = attempt(&e, &r).await;
        assert_eq!(s.output, "mcptkey\n");
        e.close_all().await;
    });
}

#[test]
fn sudo_with_right_and_wrong_password() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let mut r = req("fixture-sudo", "sudo -k; sudo whoami", 20);
        r.sudo_password = Secret::new(sudo_password());
        let (s, _) = attempt(&e, &r.clone()).await;
        assert_eq!(
            (s.output.as_str(), s.exit_code),
            ("root\n", Some(0)),
            "{s:?}"
        );
        r.sudo_password = Secret::new("not-the-password");
        let (s, w) = attempt(&e, &r.clone()).await;
        assert_eq!(w, Waited::Finished);
        assert_eq!(s.status, JobStatus::Failed, "{s:?}");
        assert!(
            s.error.as_deref().unwrap_or("").contains("sudo rejected"),
            "{s:?}"
        );
        // No password: the command waits for input instead of hanging until the timeout.
        r.sudo_password = None;
        let (s, w) = attempt(&e, &r.clone()).await;
        assert_eq!(w, Waited::AwaitingInput, "{s:?}");
        assert_eq!(s.awaiting_input.as_ref().unwrap().kind, "sudo_password");
        // The shell stays usable: the next command runs in a parallel shell or after Ctrl-C.
        e.interrupt(&s.command_id).await.expect("interrupt");
        let s = run(&e, "fixture-sudo", "echo still-here").await;
        assert_eq!(s.output, "still-here\n");
        // A secret typed into the command itself is redacted from the record and the output.
        let mut r = req(
            "fixture-sudo",
            &format!(
                "echo '{pw}' | sudo -S -k -p '' true; echo '{pw}'",
                pw = sudo_password()
            ),
            20,
        );
        r.sudo_password = Secret::new(sudo_password());
        let (s, _) = attempt(&e, &r).await;
        assert_eq!(
            (s.output.as_str(), s.exit_code),
            ("***\n", Some(0)),
            "{s:?}"
        );
        for j in e.jobs.all() {
            let snap = j.snapshot(1 << 20);
            assert!(
                !snap.output.contains(sudo_password()) && !snap.command.contains(sudo_password()),
                "{snap:?}"
            );
        }
        e.close_all().await;
    });
}

#[test]
fn timeout_returns_an_id_and_the_command_goes_on() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let mut r = req(
            "fixture",
            "echo start; sleep 3; echo end; exit_5() { return 5; }; exit_5",
            20,
        );
        r.timeout = Duration::from_secs(1);
        let (job, w) = e.execute(&r, &CancellationToken::new()).await.unwrap();
        assert_eq!(w, Waited::TimedOut);
        let s = job.snapshot(1 << 20);
        assert_eq!(s.status, JobStatus::Running);
        // What arrived so far (on a loaded machine possibly nothing yet).
        assert!("start\n".starts_with(&s.output), "{s:?}");
        // Meanwhile another command runs in a parallel shell, in the same directory.
        let other = run(&e, "fixture", "echo parallel").await;
        assert_eq!(other.output, "parallel\n");
        assert!(
            other.notes.iter().any(|n| n.contains("parallel shell")),
            "{other:?}"
        );
        let w = wait_for(&job, 10).await;
        assert_eq!(w, Waited::Finished);
        let s = job.snapshot(1 << 20);
        assert_eq!((s.output.as_str(), s.exit_code), ("start\nend\n", Some(5)));
        // An unterminated line (a progress line, a prompt) is part of the output so far.
        let mut r = req(
            "fixture",
            "printf 'step 1\\rstep 2 of 3'; sleep 4; echo; echo done",
            20,
        );
        r.timeout = Duration::from_secs(2);
        let (job, w) = e.execute(&r, &CancellationToken::new()).await.unwrap();
        assert_eq!(w, Waited::TimedOut);
        assert_eq!(job.snapshot(1 << 20).output, "step 2 of 3");
        assert_eq!(wait_for(&job, 10).await, Waited::Finished);
        assert_eq!(job.snapshot(1 << 20).output, "step 2 of 3\ndone\n");

        // Interrupting a long command leaves the shell usable.
        let mut r = req("fixture", "sleep 100", 20);
        r.timeout = Duration::from_millis(200);
        let (job, _) = e.execute(&r, &CancellationToken::new()).await.unwrap();
        e.interrupt(&job.id).await.expect("interrupt");
        let w = wait_for(&job, 5).await;
        assert_eq!(w, Waited::Finished);
        let s = job.snapshot(1000);
        assert_eq!((s.status, s.exit_code), (JobStatus::Interrupted, Some(130)));
        let s = run(&e, "fixture", "echo usable").await;
        assert_eq!(s.output, "usable\n");
        e.close_all().await;
    });
}

#[test]
fn unknown_and_changed_host_keys_are_refused() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        for host in ["fixture-unknown", "fixture-strict", "fixture-changed"] {
            let err = e
                .execute(
                    &req(host, "touch /tmp/mcpt-hostkey-ran", 20),
                    &CancellationToken::new(),
                )
                .await
                .expect_err("host key must be refused");
            let msg = err.to_string();
            assert!(msg.contains("host key"), "{host}: {msg}");
            assert!(msg.contains(bed.host_key_fingerprint()), "{host}: {msg}");
        }
        assert!(!std::path::Path::new("/tmp/mcpt-hostkey-ran").exists());
        e.close_all().await;
    });
}

/// Runs `true` on `host` as `user`, which must fail; returns the error message.
async fn refused(e: &SessionManager, host: &str, user: Option<String>) -> String {
    let mut r = req(host, "true", 20);
    r.username = user;
    e.execute(&r, &CancellationToken::new())
        .await
        .expect_err("must be refused")
        .to_string()
}

#[test]
fn option_injection_is_refused_and_runs_nothing() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let marker = "/tmp/mcpt-injection-ran";
        let _ = std::fs::remove_file(marker);
        for (host, user) in [
            (format!("-oProxyCommand=touch {marker}"), None),
            (
                "fixture".to_string(),
                Some(format!("-oProxyCommand=touch {marker}")),
            ),
            ("fix ture".to_string(), None),
            ("fixture\n-v".to_string(), None),
        ] {
            let err = refused(&e, &host, user).await;
            assert!(err.starts_with("invalid"), "{err}");
        }
        assert!(!std::path::Path::new(marker).exists());
        e.close_all().await;
    });
}

/// OpenSSH before 9.6 hands host and user names to a shell in `%h`/`%r` of a ProxyCommand or
/// `Match exec` without checking them; we refuse shell metacharacters as 9.6 does, before any
/// ssh runs. No sshd is needed: a payload would run locally. Checked with the real ssh (which
/// may have the check itself: Debian backported it to 9.2) and with a stand-in for an older
/// ssh that expands `%h %r` into `sh -c` as such an ssh does for `Match exec "true %h %r"`.
#[test]
fn shell_metacharacters_never_reach_a_proxy_command() {
    rt().block_on(async {
        let scratch = tempfile::tempdir().unwrap();
        let marker = scratch.path().join("payload-ran");
        let config = scratch.path().join("ssh_config");
        std::fs::write(
            &config,
            "Match exec \"true %h %r\"\nHost *\n    ProxyCommand true %h %r\n    User mcptkey\n    ConnectTimeout 5\n",
        )
        .unwrap();
        let old_ssh = scratch.path().join("old-ssh");
        std::fs::write(
            &old_ssh,
            "#!/bin/sh\nuser=\nwhile [ $# -gt 0 ] && [ \"$1\" != -- ]; do\n  [ \"$1\" = -l ] && { shift; user=$1; }\n  shift\ndone\n/bin/sh -c \"true $2 $user\"\nexit 255\n",
        )
        .unwrap();
        std::fs::set_permissions(&old_ssh, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let touch = format!("touch${{IFS}}{}", marker.display());
        let payloads = [
            format!("a$({touch})"),
            format!("a`{touch}`"),
            format!("a;{touch}"),
            format!("a|{touch}"),
            format!("a&{touch}"),
            format!("a&&{touch}"),
        ];
        for ssh in [std::path::PathBuf::from("ssh"), old_ssh] {
            let e = SessionManager::new(Config {
                ssh_program: ssh.clone(),
                ssh_config: Some(config.clone()),
                connect_timeout: Duration::from_secs(10),
                ..Config::default()
            })
            .unwrap();
            for p in &payloads {
                for (host, user) in [(p.clone(), None), ("mcpt-proxy".into(), Some(p.clone()))] {
                    let err = refused(&e, &host, user).await;
                    assert!(
                        err.starts_with("invalid") && err.contains("metacharacters"),
                        "{}: {p}: {err}",
                        ssh.display()
                    );
                }
            }
            e.close_all().await;
            assert!(!marker.exists(), "{}: a payload ran", ssh.display());
        }
    });
}

/// Waits up to 5 s for no process whose command line matches `pattern` to be left (pgrep:
/// Linux and macOS); false if one still runs.
fn gone_soon(pattern: &str) -> bool {
    (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        !std::process::Command::new("pgrep")
            .args(["-f", pattern])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("pgrep")
            .success()
    })
}

/// A `Match exec` that never returns (a user's config can hold one) fails the call after the
/// connect timeout with a message saying so, and the command it started is killed. No sshd is
/// needed: `ssh -G` runs it.
#[test]
fn a_hanging_match_exec_fails_the_call_in_time() {
    rt().block_on(async {
        let scratch = tempfile::tempdir().unwrap();
        let config = scratch.path().join("ssh_config");
        let sleep = "sleep 987.654";
        std::fs::write(
            &config,
            format!("Match exec \"{sleep}\"\n    ServerAliveInterval 7\n"),
        )
        .unwrap();
        let e = SessionManager::new(Config {
            ssh_program: "ssh".into(),
            ssh_config: Some(config),
            connect_timeout: Duration::from_secs(2),
            ..Config::default()
        })
        .unwrap();
        let err = tokio::time::timeout(
            Duration::from_secs(60),
            e.execute(
                &req("mcpt-match-exec", "true", 20),
                &CancellationToken::new(),
            ),
        )
        .await
        .expect("ssh -G hung the call")
        .expect_err("ssh -G cannot have finished");
        let msg = err.to_string();
        assert!(
            msg.contains("did not finish within 2 s") && msg.contains("Match exec"),
            "{msg}"
        );
        assert!(gone_soon(sleep), "the Match exec command is still running");
        assert!(e.sessions().is_empty(), "{:?}", e.sessions());
        e.close_all().await;
    });
}

/// A master that stops answering (here: SIGSTOP) cannot hang closing or shutdown: `-O exit`
/// is bounded and the master's process group is killed.
#[test]
fn a_wedged_master_is_killed_at_close() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let (s, _) = attempt(&e, &mcptkey_req("wedgemaster", "echo up")).await;
        assert_eq!(s.output, "up\n");
        let pattern = "ssh .* -M -N .*-- wedgemaster$";
        let out = std::process::Command::new("pgrep")
            .args(["-f", pattern])
            .output()
            .unwrap();
        let pids: Vec<i32> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(pids.len(), 1, "one master expected: {pids:?}");
        // SAFETY: kill(2) on the master we just found.
        assert_eq!(unsafe { libc::kill(pids[0], libc::SIGSTOP) }, 0);
        tokio::time::timeout(Duration::from_secs(60), e.close_all())
            .await
            .expect("close_all hung on a stopped master");
        let gone = gone_soon(pattern);
        if !gone {
            // SAFETY: let the stopped master go on, so that it can end.
            unsafe { libc::kill(pids[0], libc::SIGCONT) };
        }
        assert!(gone, "the stopped master survived close_all");
    });
}

fn mcptkey_req(host: &str, command: &str) -> ExecRequest {
    ExecRequest {
        username: Some("mcptkey".into()),
        ..req(host, command, 20)
    }
}

#[test]
fn killed_master_or_shell_is_replaced_on_next_use() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        // Own host names (any name reaches the bed), so that killing by name hits only ours.
        let (s, _) = attempt(&e, &mcptkey_req("killmaster", "cd /tmp; echo $$")).await;
        assert_eq!(s.exit_code, Some(0));
        let st = std::process::Command::new("pkill")
            .args(["-KILL", "-f", "ssh .* -M -N .*-- killmaster$"])
            .status()
            .unwrap();
        assert!(st.success(), "no master found to kill");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (s, _) = attempt(&e, &mcptkey_req("killmaster", "echo back; pwd")).await;
        assert_eq!(s.output, "back\n/tmp\n", "{s:?}");
        assert!(s.notes.iter().any(|n| n.contains("reset")), "{s:?}");

        // Kill the remote shell itself (from another connection).
        let (s, _) = attempt(&e, &mcptkey_req("killshell", "echo $$")).await;
        let pid = s.output.trim().to_string();
        let (code, _, err) = bed.ssh(&["fixture", "kill", "-9", &pid]);
        assert_eq!(code, 0, "{err}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (s, _) = attempt(&e, &mcptkey_req("killshell", "echo again")).await;
        assert_eq!(s.output, "again\n");
        assert!(s.notes.iter().any(|n| n.contains("reset")), "{s:?}");

        // `exit` ends the shell on purpose; the next command gets a new one.
        let (s, _) = attempt(&e, &mcptkey_req("killshell", "exit 4")).await;
        assert_eq!(
            (s.status, s.exit_code),
            (JobStatus::Completed, Some(4)),
            "{s:?}"
        );
        let (s, _) = attempt(&e, &mcptkey_req("killshell", "echo fresh")).await;
        assert_eq!(s.output, "fresh\n");
        e.close_all().await;
    });
}

#[test]
fn sshd_restart_is_survived() {
    let bed = common::require_private_testbed!();
    rt().block_on(async {
        let e = engine(&bed);
        let s = run(&e, "fixture", "echo before").await;
        assert_eq!(s.output, "before\n");
        bed.restart().expect("restart sshd");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let s = run(&e, "fixture", "echo after").await;
        assert_eq!(s.output, "after\n");
        assert!(s.notes.iter().any(|n| n.contains("reset")), "{s:?}");
        e.close_all().await;
    });
}

#[test]
fn nested_shells_get_the_marker_and_exit_returns() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let mut r = req("fixture-sudo", "sudo -i", 20);
        r.sudo_password = Secret::new(sudo_password());
        let (s, w) = attempt(&e, &r).await;
        assert_eq!(w, Waited::Finished, "{s:?}");
        assert!(s.notes.iter().any(|n| n.contains("new shell")), "{s:?}");
        let s = run(&e, "fixture-sudo", "whoami; cd /root && pwd; false").await;
        assert_eq!(
            (s.output.as_str(), s.exit_code),
            ("root\n/root\n", Some(1)),
            "{s:?}"
        );
        let s = run(&e, "fixture-sudo", "exit").await;
        assert!(
            s.notes.iter().any(|n| n.contains("back in the shell")),
            "{s:?}"
        );
        let s = run(&e, "fixture-sudo", "whoami").await;
        assert_eq!(s.output, "mcptsudo\n");

        // A prompt reset in the same shell is not a new level.
        let s = run(&e, "fixture-sudo", "cd /tmp; source ~/.bashrc").await;
        assert!(s.notes.iter().any(|n| n.contains("same level")), "{s:?}");
        let s = run(&e, "fixture-sudo", "pwd").await;
        assert_eq!(s.output, "/tmp\n");
        assert_eq!(
            e.sessions()
                .iter()
                .find(|x| x.host == "fixture-sudo")
                .unwrap()
                .shells[0]
                .depth,
            1
        );

        // A plain nested bash inside dash, and back.
        run(&e, "fixture-dash", "bash").await;
        let s = run(&e, "fixture-dash", "echo ${BASH_VERSION:+bash}").await;
        assert_eq!(s.output, "bash\n", "{s:?}");
        run(&e, "fixture-dash", "exit").await;
        let s = run(&e, "fixture-dash", "echo ${BASH_VERSION:-dash}").await;
        assert_eq!(s.output, "dash\n", "{s:?}");
        e.close_all().await;
    });
}

#[test]
fn su_asks_for_a_password_that_send_input_answers() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let (s, w) = attempt(&e, &req("fixture-sudo", "su - mcptkey", 20)).await;
        assert_eq!(w, Waited::AwaitingInput, "{s:?}");
        assert_eq!(s.awaiting_input.as_ref().unwrap().kind, "password", "{s:?}");
        let job = e.jobs.get(&s.command_id).unwrap();
        e.send_input(&s.command_id, format!("{}\n", password()).into_bytes())
            .await
            .expect("input");
        let w = wait_for(&job, 15).await;
        let s = job.snapshot(1 << 20);
        assert_eq!(w, Waited::Finished, "{s:?}");
        assert!(s.notes.iter().any(|n| n.contains("new shell")), "{s:?}");
        assert!(!s.output.contains(password()), "{s:?}");
        let s = run(&e, "fixture-sudo", "whoami; pwd").await;
        assert_eq!(s.output, "mcptkey\n/home/mcptkey\n", "{s:?}");
        run(&e, "fixture-sudo", "exit").await;
        let s = run(&e, "fixture-sudo", "whoami").await;
        assert_eq!(s.output, "mcptsudo\n");
        e.close_all().await;
    });
}

#[test]
fn nothing_lands_in_the_shell_history() {
    let bed = require_testbed!();
    rt().block_on(async {
        let history = std::path::Path::new("/home/mcptsudo/.bash_history");
        let before = std::fs::read(history).map(|b| b.len()).unwrap_or(0);
        let e = engine(bed);
        // Another test may run on this user; mark this run's lines.
        let mark = format!("history-check-{}", std::process::id());
        run(&e, "fixture-sudo", &format!("echo {mark}; cd /tmp")).await;
        // The user's rc file turns history saving back on (HISTFILE, `history -a` after each
        // command): lines typed before the set-up turned history off must not be left over.
        run(&e, "fixture-sudo", "source ~/.bashrc").await;
        run(&e, "fixture-sudo", &format!("echo {mark} again")).await;
        e.close_all().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let all = std::fs::read(history).unwrap_or_default();
        let text = String::from_utf8_lossy(all.get(before..).unwrap_or_default());
        for needle in [mark.as_str(), "MCP", "PROBE", "7770", "eval"] {
            assert!(
                !text.contains(needle),
                "{needle:?} found in {}: {text}",
                history.display()
            );
        }
    });
}

#[test]
fn repls_and_fake_shell_prompts_wait_for_input_and_get_no_set_up() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        // A REPL: awaiting input at its prompt, answered with send_input, ended by exit().
        let mut r = req("fixture", "python3 -q", 20);
        r.timeout = Duration::from_secs(10);
        let (s, w) = attempt(&e, &r).await;
        assert_eq!(w, Waited::AwaitingInput, "{s:?}");
        assert_eq!(s.awaiting_input.as_ref().unwrap().prompt, ">>>", "{s:?}");
        let job = e.jobs.get(&s.command_id).unwrap();
        e.send_input(&s.command_id, b"print(6 * 7)\n".to_vec())
            .await
            .expect("input");
        let w = wait_for(&job, 10).await;
        assert_eq!(w, Waited::AwaitingInput);
        assert!(job.snapshot(1 << 20).output.contains("42\n"));
        e.send_input(&s.command_id, b"exit()\n".to_vec())
            .await
            .expect("input");
        let w = wait_for(&job, 10).await;
        assert_eq!(w, Waited::Finished);
        assert_eq!(job.snapshot(0).exit_code, Some(0));

        // A program prompt ending in `>` that is not a shell never receives set-up lines.
        let mut r = req("fixture", "read -p 'mysql> ' q; echo \"got:$q\"", 20);
        r.timeout = Duration::from_secs(10);
        let (s, w) = attempt(&e, &r).await;
        assert_eq!(w, Waited::AwaitingInput, "{s:?}");
        e.send_input(&s.command_id, b"select 1;\n".to_vec())
            .await
            .expect("input");
        let job = e.jobs.get(&s.command_id).unwrap();
        wait_for(&job, 10).await;
        let s = job.snapshot(1 << 20);
        assert_eq!(
            (s.output.as_str(), s.exit_code),
            ("mysql> got:select 1;\n", Some(0)),
            "{s:?}"
        );

        // A prompt that looks like a shell's but belongs to a program: it gets the probe
        // line only; with no shell answering, it is reported as waiting, with a note.
        let mut r = req(
            "fixture",
            "printf 'root@fake:~# '; read a; read b; echo \"after:${a%% *}:$b\"",
            20,
        );
        r.timeout = Duration::from_secs(15);
        let (s, w) = attempt(&e, &r).await;
        assert_eq!(w, Waited::AwaitingInput, "{s:?}");
        assert!(s.notes.iter().any(|n| n.contains("not a shell")), "{s:?}");
        e.send_input(&s.command_id, b"typed\n".to_vec())
            .await
            .expect("input");
        let job = e.jobs.get(&s.command_id).unwrap();
        wait_for(&job, 10).await;
        let s = job.snapshot(1 << 20);
        assert_eq!(
            (s.output.as_str(), s.exit_code),
            ("after:unset:typed\n", Some(0)),
            "{s:?}"
        );
        let s = run(&e, "fixture", "echo fine").await;
        assert_eq!(s.output, "fine\n");
        e.close_all().await;
    });
}

#[test]
fn shell_limit_is_reported_not_queued() {
    let bed = require_testbed!();
    rt().block_on(async {
        let config = mcp_ssh_session::config::Config {
            ssh_program: "ssh".into(),
            ssh_config: Some(bed.ssh_config().to_path_buf()),
            max_shells: 2,
            ..Default::default()
        };
        let e = SessionManager::new(config).unwrap();
        let mut ids = Vec::new();
        for _ in 0..2 {
            let mut r = mcptkey_req("shell-limit", "sleep 30");
            r.timeout = Duration::ZERO;
            let (job, w) = e.execute(&r, &CancellationToken::new()).await.unwrap();
            assert_eq!(w, Waited::TimedOut);
            ids.push(job.id.clone());
        }
        let err = e
            .execute(
                &mcptkey_req("shell-limit", "true"),
                &CancellationToken::new(),
            )
            .await
            .expect_err("a third shell is over the limit");
        let msg = err.to_string();
        assert!(
            msg.contains("2 shells") && msg.contains("MaxSessions"),
            "{msg}"
        );
        for id in &ids {
            assert!(
                msg.contains(id.as_str()),
                "the message names the running commands: {msg}"
            );
            let _ = e.interrupt(id).await;
        }
        e.close_all().await;
    });
}
