//! Network devices through the session engine, against the fake devices of the test bed:
//! detection at login, completion by the learned prompt, pagers, enable, config blocks,
//! renames, slow commands, breaks, and results without an exit status.

mod common;

use std::time::{Duration, Instant};

use common::exec::{self, ended, execute as start, req};
use common::testbed::{DEVICE_JUMP_ALIAS, ENABLE_PASSWORD};
use common::{engine, require_testbed, rt};
use mcp_ssh_session::jobs::{JobSnapshot, JobStatus, Waited};
use mcp_ssh_session::secret::Secret;
use mcp_ssh_session::session::{ExecRequest, SessionManager};

/// Runs `r` on a device: it must finish, with no exit status and the device described.
async fn run_req(e: &SessionManager, r: ExecRequest) -> JobSnapshot {
    let s = exec::run_req(e, &r).await;
    assert_eq!(s.exit_code, None, "devices have no exit status: {s:?}");
    assert!(s.device.is_some(), "{s:?}");
    s
}

async fn run(e: &SessionManager, host: &str, command: &str) -> JobSnapshot {
    run_req(e, req(host, command, 30)).await
}

/// The first command on a new device session. Liveness only (the benchmark measures): a
/// device is recognised from its prompt, never after the 30 s set-up timeout of a shell.
async fn first(e: &SessionManager, host: &str, command: &str) -> JobSnapshot {
    let started = Instant::now();
    let s = run(e, host, command).await;
    let took = started.elapsed();
    eprintln!("{host}: connect to first result in {took:?}");
    assert!(took < Duration::from_secs(20), "{host}: {took:?}");
    s
}

fn enabled(host: &str, command: &str, password: &str) -> ExecRequest {
    ExecRequest {
        enable_password: Secret::new(password),
        ..req(host, command, 30)
    }
}

/// A listing of at least `min` lines, each once, no pager text.
fn whole_listing(s: &JobSnapshot, min: usize) {
    let lines = s.output.lines().count();
    assert!(lines >= min, "{lines} lines: {:?}", s.output);
    let lower = s.output.to_lowercase();
    assert!(!lower.contains("more"), "pager text: {:?}", s.output);
    assert!(!s.output.contains('\u{8}') && !s.output.contains('\u{1b}'));
}

/// What every fake must do beside its own quirks, on the session engine.
struct Common<'a> {
    host: &'a str,
    /// A slow command (a line a second) that ends by itself, and its last line.
    slow: &'a str,
    slow_ends: &'a str,
    /// A slow command that only a break ends.
    endless: &'a str,
    /// A config block with one bad line: the block, which line, of how many.
    block: &'a str,
    rejected: (usize, usize),
    /// What leaves the block's mode, so the session is back where it was.
    leave: &'a str,
}

/// A slow command runs until its prompt comes back; a never-ending one stops at the vendor's
/// break with the session usable after it; a config block stops at its rejected line and says
/// which; a bad command has no exit status and names the device's error.
async fn common_behaviours(e: &SessionManager, c: Common<'_>) {
    let s = run(e, c.host, c.slow).await;
    assert_eq!(s.status, JobStatus::Completed, "{s:?}");
    assert!(
        s.output.trim_end().ends_with(c.slow_ends),
        "{}: {s:?}",
        c.host
    );

    let (job, w) = start(e, &req(c.host, c.endless, 2)).await;
    assert_eq!(
        w,
        Waited::TimedOut,
        "{}: {:?}",
        c.host,
        job.snapshot(1 << 20)
    );
    e.interrupt(&job.id).await.unwrap();
    let s = ended(&job, 10).await;
    assert_eq!(s.status, JobStatus::Interrupted, "{}: {s:?}", c.host);
    assert!(s.output.lines().count() >= 2, "{}: {s:?}", c.host);

    let s = run(e, c.host, c.block).await;
    let (line, of) = c.rejected;
    assert!(s.device_error.is_some(), "{}: {s:?}", c.host);
    assert!(
        s.notes
            .iter()
            .any(|n| n.contains(&format!("rejected line {line} of {of}"))),
        "{}: {s:?}",
        c.host
    );
    let s = run(e, c.host, c.leave).await;
    assert_eq!(s.device_error, None, "{}: {s:?}", c.host);
}

#[test]
fn cisco_ios_is_driven_by_its_prompt() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let s = first(&e, "fixture-ios", "show version").await;
        assert_eq!(
            s.output.lines().next(),
            Some("Cisco IOS XE Software, Version 17.09.04a"),
            "{s:?}"
        );
        let d = s.device.as_ref().unwrap();
        assert_eq!((d.family.as_str(), d.mode.as_str(), d.prompt.as_str()), ("cisco_ios", "user", "R1>"));
        assert!(
            s.notes.iter().any(|n| n.contains("refused to turn paging off")),
            "user exec refuses `terminal length 0`: {s:?}"
        );
        assert_eq!(s.device_error, None);
        let sessions = e.sessions();
        assert!(sessions.iter().any(|x| x.host == "fixture-ios"));

        // Privileged commands fail in user exec, with the device's words.
        let s = run(&e, "fixture-ios", "show running-config").await;
        assert_eq!(s.device_error.as_deref(), Some("% Invalid input detected at '^' marker."));

        // A wrong enable password: a clear error within seconds, the session still usable.
        let started = Instant::now();
        let (job, _) = start(&e, &enabled("fixture-ios", "show running-config", "wrong-secret")).await;
        let s = job.snapshot(1 << 20);
        assert_eq!(s.status, JobStatus::Failed, "{s:?}");
        assert!(s.error.as_deref().unwrap_or("").contains("% Bad secrets"), "{s:?}");
        assert!(started.elapsed() < Duration::from_secs(20));
        assert!(!s.output.contains("wrong-secret") && !s.notes.iter().any(|n| n.contains("wrong-secret")));

        // The right one: privileged, paging turned off now, the whole configuration.
        let s = run_req(&e, enabled("fixture-ios", "show running-config", ENABLE_PASSWORD)).await;
        assert_eq!(s.device.as_ref().unwrap().mode, "privileged");
        whole_listing(&s, 100);
        assert!(s.output.starts_with("Building configuration...\n"), "{s:?}");
        assert!(s.output.ends_with("!\nend\n"), "{:?}", &s.output[s.output.len() - 40..]);
        let unpaged = s.output.clone();
        // Privileged for later calls, without the password.
        let s = run(&e, "fixture-ios", "terminal length 24").await;
        assert_eq!(s.device_error, None, "{s:?}");
        // With the pager on again, every page is answered: the same listing, line for line.
        let s = run(&e, "fixture-ios", "show running-config").await;
        assert_eq!(s.output, unpaged);

        // A config block stops at the first rejected line and says which.
        let block = "configure terminal\ninterface GigabitEthernet2\ndescription to-core\nip adress 10.9.9.1 255.255.255.0\nmtu 1400\nend";
        let s = run(&e, "fixture-ios", block).await;
        assert_eq!(s.device_error.as_deref(), Some("% Invalid input detected at '^' marker."), "{s:?}");
        assert!(s.notes.iter().any(|n| n.contains("rejected line 4 of 6")), "{s:?}");
        assert_eq!(s.device.as_ref().unwrap().prompt, "R1(config-if)#");
        // A rename inside a block is followed at once.
        let s = run(&e, "fixture-ios", "hostname core9\nend").await;
        assert_eq!(s.device.as_ref().unwrap().prompt, "core9#", "{s:?}");
        let s = run(&e, "fixture-ios", "show clock").await;
        assert_eq!(s.device.as_ref().unwrap().prompt, "core9#");

        // A slow command runs until its prompt comes back.
        let s = run(&e, "fixture-ios", "ping 192.0.2.1 repeat 3").await;
        assert!(s.output.ends_with("Success rate is 100 percent (3/3), round-trip min/avg/max = 1/1/2 ms\n"), "{s:?}");

        // A confirmation question waits for input; send_input answers it.
        let (job, w) = start(&e, &req("fixture-ios", "clear counters", 10)).await;
        let s = job.snapshot(1 << 20);
        assert_eq!(w, Waited::AwaitingInput, "{s:?}");
        assert_eq!(s.awaiting_input.as_ref().unwrap().kind, "yes_no");
        e.send_input(&job.id, b"\n".to_vec()).await.unwrap();
        let s = ended(&job, 10).await;
        assert_eq!(s.status, JobStatus::Completed, "{s:?}");

        // The vendor's break (Ctrl-^ on IOS) stops a long ping.
        let (job, w) = start(&e, &req("fixture-ios", "ping 192.0.2.1 repeat 100", 2)).await;
        assert_eq!(w, Waited::TimedOut);
        e.interrupt(&job.id).await.unwrap();
        let s = ended(&job, 10).await;
        assert_eq!(s.status, JobStatus::Interrupted, "{s:?}");
        let s = run(&e, "fixture-ios", "show clock").await;
        assert_eq!(s.status, JobStatus::Completed);
        e.close_all().await;
    });
}

#[test]
fn arista_eos_is_told_from_ios_by_its_replies() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let s = first(&e, "fixture-eos", "show version").await;
        assert_eq!(s.device.as_ref().unwrap().family, "arista_eos", "{s:?}");
        let s = run_req(&e, enabled("fixture-eos", "show bogus", ENABLE_PASSWORD)).await;
        assert_eq!(s.device.as_ref().unwrap().mode, "privileged");
        assert_eq!(
            s.device_error.as_deref(),
            Some("% Invalid input (at token 1: 'bogus')")
        );
        let s = run(&e, "fixture-eos", "configure\ninterface Ethernet1").await;
        assert_eq!(s.device.as_ref().unwrap().mode, "config");
        run(&e, "fixture-eos", "end").await;
        common_behaviours(
            &e,
            Common {
                host: "fixture-eos",
                slow: "ping 192.0.2.1 repeat 2",
                slow_ends: "rtt min/avg/max/mdev = 0.040/0.050/0.070/0.010 ms",
                endless: "ping 192.0.2.1 repeat 100",
                block: "configure\ninterface Ethernet1\ndescription uplink\nbogus-statement 1\nshutdown\nend",
                rejected: (4, 6),
                leave: "end",
            },
        )
        .await;
        e.close_all().await;
    });
}

#[test]
fn junos_pages_configures_and_renames_on_commit() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let s = first(&e, "fixture-junos", "show configuration").await;
        whole_listing(&s, 100);
        let unpaged = s.output.clone();
        run(&e, "fixture-junos", "set cli screen-length 20").await;
        let s = run(&e, "fixture-junos", "show configuration").await;
        assert_eq!(s.output, unpaged, "through the pager, line for line");
        let s = run(&e, "fixture-junos", "show bogus").await;
        assert_eq!(
            s.device_error.as_deref(),
            Some("syntax error, expecting <command>.")
        );
        let s = run(&e, "fixture-junos", "configure").await;
        assert_eq!(s.device.as_ref().unwrap().mode, "config");
        assert!(!s.output.contains("[edit]"), "{s:?}");
        let s = run(
            &e,
            "fixture-junos",
            "set system host-name jr7\ncommit\nexit",
        )
        .await;
        assert_eq!(s.device.as_ref().unwrap().prompt, "mcptjunos@jr7>", "{s:?}");
        assert!(s.output.contains("commit complete\n"), "{s:?}");
        common_behaviours(
            &e,
            Common {
                host: "fixture-junos",
                slow: "ping 192.0.2.1 count 2",
                slow_ends: "round-trip min/avg/max/stddev = 0.709/0.789/0.851/0.051 ms",
                endless: "ping 192.0.2.1",
                block: "configure\nedit interfaces\nbogus-command\nexit",
                rejected: (3, 4),
                leave: "top\nexit",
            },
        )
        .await;
        e.close_all().await;
    });
}

#[test]
fn huawei_answers_the_password_change_question_and_follows_views() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let s = first(&e, "fixture-huawei", "display current-configuration").await;
        assert!(
            s.notes
                .iter()
                .any(|n| n.contains("password change question")),
            "{s:?}"
        );
        whole_listing(&s, 50);
        let s = run(&e, "fixture-huawei", "display bogus").await;
        assert_eq!(
            s.device_error.as_deref(),
            Some("Error: Unrecognized command found at '^' position.")
        );
        let s = run(
            &e,
            "fixture-huawei",
            "system-view\nsysname R7\ninterface GigabitEthernet0/0/1",
        )
        .await;
        assert_eq!(
            s.device.as_ref().unwrap().prompt,
            "[R7-GigabitEthernet0/0/1]",
            "{s:?}"
        );
        let s = run(&e, "fixture-huawei", "return").await;
        assert_eq!(s.device.as_ref().unwrap().prompt, "<R7>");
        common_behaviours(
            &e,
            Common {
                host: "fixture-huawei",
                slow: "ping -c 2 192.0.2.1",
                slow_ends: "round-trip min/avg/max = 1/1/1 ms",
                endless: "ping -c 100 192.0.2.1",
                block: "system-view\ninterface GigabitEthernet0/0/1\ndescription uplink\nbogus\nquit\nreturn",
                rejected: (4, 6),
                leave: "return",
            },
        )
        .await;
        e.close_all().await;
    });
}

#[test]
fn mikrotik_probe_licence_redraw_and_pager() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let s = first(&e, "fixture-mikrotik", "/system identity print").await;
        assert_eq!(s.output, "  name: MikroTik\n", "{s:?}");
        assert!(s.notes.iter().any(|n| n.contains("licence")), "{s:?}");
        let paged = run(&e, "fixture-mikrotik", "/log print").await;
        whole_listing(&paged, 100);
        let plain = run(&e, "fixture-mikrotik", "/log print without-paging").await;
        assert_eq!(paged.output, plain.output);
        let s = run(&e, "fixture-mikrotik", "/bogus").await;
        assert_eq!(
            s.device_error.as_deref(),
            Some("bad command name bogus (line 1 column 2)")
        );
        let s = run(&e, "fixture-mikrotik", "/system identity set name=edge-mt").await;
        assert!(
            s.device.as_ref().unwrap().prompt.contains("edge-mt"),
            "{s:?}"
        );
        common_behaviours(
            &e,
            Common {
                host: "fixture-mikrotik",
                slow: "/ping 192.0.2.1 count=2",
                slow_ends: "sent=2 received=2 packet-loss=0% min-rtt=0ms avg-rtt=1ms max-rtt=2ms",
                endless: "/ping 192.0.2.1",
                block: "/system identity print\n/bogus\n/system identity print",
                rejected: (2, 3),
                leave: "/system identity print",
            },
        )
        .await;
        e.close_all().await;
    });
}

#[test]
fn an_appliance_shell_is_a_device_not_a_shell() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let s = first(&e, "fixture-appliance", "show config").await;
        assert_eq!(s.device.as_ref().unwrap().family, "generic");
        assert!(s.notes.iter().any(|n| n.contains("press any key")), "{s:?}");
        assert_eq!(s.output.lines().count(), 100, "{s:?}");
        whole_listing(&s, 100);
        let s = run(&e, "fixture-appliance", "set hostname edge9").await;
        assert_eq!(s.device.as_ref().unwrap().prompt, "edge9-->");
        common_behaviours(
            &e,
            Common {
                host: "fixture-appliance",
                slow: "ping 192.0.2.1 count 2",
                slow_ends: "2 sent, 2 received",
                endless: "ping 192.0.2.1 count 100",
                block: "show status\nbogus\nshow version",
                rejected: (2, 3),
                leave: "show status",
            },
        )
        .await;
        e.close_all().await;
    });
}

#[test]
fn a_device_behind_proxyjump() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = engine(bed);
        let s = first(&e, DEVICE_JUMP_ALIAS, "show version").await;
        assert_eq!(
            s.output.lines().next(),
            Some("Cisco IOS XE Software, Version 17.09.04a")
        );
        e.close_all().await;
    });
}
