//! The fake network devices of the test bed (fixtures/devices/*.py), driven with the plain
//! OpenSSH client under a PTY (`ssh -tt alias`), no crate code but the escape stripper that
//! renders what a terminal would show. These tests pin what each fake does, byte for byte
//! where it matters (pager erasures, echo repaints, terminal probes), so the device support
//! built on them is tested against devices that behave as the real ones.
//! Root-only: skipped with a `SKIP` line when not root, a failure in CI.

mod common;
#[path = "common/device_cli.rs"]
mod device_cli;

use std::time::{Duration, Instant};

use common::require_testbed;
use common::testbed::{DEVICE_JUMP_ALIAS, ENABLE_PASSWORD, TestBed};
use device_cli::{CTRL_C, Cli, WAIT, find, render};
use regex::Regex;

/// The number captured by `pattern` in `text`.
fn number(pattern: &str, text: &str) -> usize {
    let caps = Regex::new(pattern)
        .unwrap()
        .captures(text)
        .unwrap_or_else(|| panic!("no {pattern:?} in {text:?}"));
    caps[1].parse().unwrap()
}

/// A ping interrupted after its second reply stopped early: between 2 and `total - 1` sent.
fn assert_broken_early(sent: usize, total: usize) {
    assert!((2..total).contains(&sent), "{sent} of {total} sent");
}

/// The lines between the echo line (first) and the prompt (last), trimmed of trailing
/// spaces: a command's output as the terminal shows it.
fn output_lines(rendered: &str) -> Vec<String> {
    let lines: Vec<&str> = rendered.split('\n').collect();
    lines[1..lines.len() - 1]
        .iter()
        .map(|l| l.trim_end().to_string())
        .collect()
}

/// The lines of a paged listing, without the blank lines and the pager's leftovers that a
/// terminal shows where a pager prompt was erased (Cisco's erasure leaves the first column).
fn listing(rendered: &str) -> Vec<String> {
    output_lines(rendered)
        .into_iter()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Answers every pager prompt `pager` (a raw byte string) with a space until `prompt`
/// (regex) ends the output; returns the rendered text and how many pages were answered.
fn page_through(cli: &mut Cli, pager: &[u8], prompt: &str) -> (String, usize) {
    let start = cli.mark;
    let re = Regex::new(prompt).unwrap();
    let mut pages = 0;
    let deadline = Instant::now() + WAIT;
    let mut answered = cli.mark;
    loop {
        assert!(
            Instant::now() < deadline,
            "paging never ended: {}",
            cli.rendered()
        );
        cli.pump(Duration::from_millis(100));
        if let Some(at) = find(&cli.raw[answered..], pager) {
            answered += at + pager.len();
            pages += 1;
            cli.send(b" ");
            continue;
        }
        let text = render(&cli.raw[start..]);
        if re.is_match(&text) {
            cli.mark = cli.raw.len();
            return (text, pages);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cisco IOS-XE

const IOS_USER: &str = r"(?m)^R1>$";
const IOS_PRIV: &str = r"(?m)\nR1#$";

fn ios(bed: &TestBed) -> Cli {
    let mut cli = Cli::open(bed, "fixture-ios");
    // Nothing of the Linux box shows: no motd, no last-login line.
    let text = cli.expect(IOS_USER);
    assert_eq!(text, "\nR1>");
    cli
}

fn ios_enable(cli: &mut Cli) {
    cli.line("enable");
    cli.expect(r"Password: $");
    cli.line(ENABLE_PASSWORD);
    cli.expect(IOS_PRIV);
}

#[test]
fn ios_refuses_paging_off_in_user_exec_and_takes_it_when_privileged() {
    let bed = require_testbed!();
    let mut cli = ios(bed);
    let text = cli.run("terminal length 0", IOS_USER);
    assert_eq!(
        text,
        "terminal length 0\n            ^\n% Invalid input detected at '^' marker.\n\nR1>"
    );
    ios_enable(&mut cli);
    let text = cli.run("terminal length 0", IOS_PRIV);
    assert_eq!(text, "terminal length 0\nR1#");
    let text = cli.run("show terminal", IOS_PRIV);
    assert!(text.contains("Length: 0 lines"), "{text:?}");
}

#[test]
fn ios_show_running_config_pages_with_more_and_backspace_erasure() {
    let bed = require_testbed!();
    let mut cli = ios(bed);
    ios_enable(&mut cli);
    cli.line("show running-config");
    let (paged, pages) = page_through(&mut cli, b" --More-- ", IOS_PRIV);
    assert!(pages >= 4, "{pages} pages");
    let erasure = [&b" --More-- "[..], &[8; 9], &[b' '; 9], &[8; 9]].concat();
    assert!(
        find(&cli.raw, &erasure).is_some(),
        "no IOS erasure after the pager"
    );

    cli.run("terminal length 0", IOS_PRIV);
    let unpaged = cli.run("show running-config", IOS_PRIV);
    assert!(!unpaged.contains("--More--"));
    let all = listing(&unpaged);
    assert!(all.len() >= 100, "{} lines", all.len());
    assert_eq!(
        listing(&paged),
        all,
        "paged listing differs from the unpaged one"
    );
    assert_eq!(all.last().map(String::as_str), Some("end"));
}

#[test]
fn ios_enable_with_wrong_password_asks_three_times_then_bad_secrets() {
    let bed = require_testbed!();
    let mut cli = ios(bed);
    cli.line("enable");
    for _ in 0..3 {
        cli.expect(r"Password: $");
        cli.line("wrong-secret");
    }
    let text = cli.expect(IOS_USER);
    assert_eq!(text, "\n% Bad secrets\n\nR1>");
    // Still usable, and still unprivileged.
    let text = cli.run("show running-config", IOS_USER);
    assert!(
        text.contains("% Invalid input detected at '^' marker."),
        "{text:?}"
    );
}

#[test]
fn ios_configuration_modes_and_hostname_change() {
    let bed = require_testbed!();
    let mut cli = ios(bed);
    ios_enable(&mut cli);
    cli.run("conf t", r"(?m)^R1\(config\)#$");
    cli.run("interface Gi2", r"(?m)^R1\(config-if\)#$");
    cli.run("description to core", r"(?m)^R1\(config-if\)#$");
    let text = cli.run(
        "ip adress 10.0.0.1 255.255.255.0",
        r"(?m)^R1\(config-if\)#$",
    );
    assert!(
        text.contains("\n                 ^\n% Invalid input detected at '^' marker.\n"),
        "{text:?}"
    );
    // A global command from a sub-mode runs at the global level.
    cli.run("hostname core1", r"(?m)^core1\(config\)#$");
    cli.run("end", r"(?m)^core1#$");
    let text = cli.run(
        "show running-config | section GigabitEthernet2$",
        r"(?m)^core1#$",
    );
    assert!(text.contains(" description to core\n"), "{text:?}");
    cli.send(b"conf t\r");
    cli.expect(r"(?m)^core1\(config\)#$");
    cli.send(&[0x1a]);
    cli.expect(r"\^Z\ncore1#$");
}

#[test]
fn ios_errors_have_the_ios_shapes() {
    let bed = require_testbed!();
    let mut cli = ios(bed);
    let text = cli.run("show", IOS_USER);
    assert_eq!(text, "show\n% Incomplete command.\n\nR1>");
    let text = cli.run("bogus", IOS_USER);
    assert_eq!(
        text,
        "bogus\nTranslating \"bogus\"\n% Unknown command or computer name, or unable to find computer address\nR1>"
    );
    let text = cli.run("show bogus", IOS_USER);
    assert_eq!(
        text,
        "show bogus\n        ^\n% Invalid input detected at '^' marker.\n\nR1>"
    );
}

#[test]
fn ios_ping_is_slow_and_only_ctrl_caret_breaks_it() {
    let bed = require_testbed!();
    let mut cli = ios(bed);
    cli.line("ping 192.0.2.7");
    cli.expect(r"Sending 5, 100-byte ICMP Echos to 192.0.2.7, timeout is 2 seconds:\n!$");
    let first = Instant::now();
    let text = cli.expect(IOS_USER);
    assert!(
        first.elapsed() >= Duration::from_secs(3),
        "5 replies a second apart came in {:?}",
        first.elapsed()
    );
    assert!(
        text.starts_with("!!!!\nSuccess rate is 100 percent (5/5)"),
        "{text:?}"
    );

    cli.line("ping 192.0.2.7 repeat 100");
    cli.expect(r"timeout is 2 seconds:\n!$");
    cli.send(CTRL_C);
    let text = cli.collect_for(Duration::from_millis(2500));
    assert!(
        !text.contains("Success"),
        "Ctrl-C broke an IOS ping: {text:?}"
    );
    cli.send(&[0x1e]);
    let text = cli.expect(IOS_USER);
    assert!(text.contains("\nSuccess rate is "), "{text:?}");
    assert!(!text.contains("(100/100)"), "{text:?}");
}

#[test]
fn ios_long_line_scrolls_with_backspaces_and_a_dollar() {
    let bed = require_testbed!();
    let mut cli = ios(bed);
    ios_enable(&mut cli);
    let command = "show running-config | include description uplink-1$|description uplink-2$|description uplink-3$";
    assert!(command.len() > 80);
    let text = cli.run(command, IOS_PRIV);
    let echo = text.lines().next().unwrap();
    assert!(
        echo.starts_with("R1#$") || echo.starts_with('$'),
        "{echo:?}"
    );
    let shown = echo
        .trim_start_matches("R1#")
        .trim_start_matches('$')
        .trim_end();
    assert!(
        command.ends_with(shown),
        "{shown:?} is not the end of the command"
    );
    assert!(find(&cli.raw, &[8; 20]).is_some(), "no backspace repaint");
    assert_eq!(
        output_lines(&text),
        [
            " description uplink-1",
            " description uplink-2",
            " description uplink-3"
        ]
    );
}

#[test]
fn ios_reached_through_proxyjump() {
    let bed = require_testbed!();
    let mut cli = Cli::open(bed, DEVICE_JUMP_ALIAS);
    cli.expect(IOS_USER);
    cli.run("exit", r"exit\n$");
    assert_eq!(cli.wait_exit(), 0);
}

#[test]
fn ios_runs_an_exec_request_without_a_terminal() {
    let bed = require_testbed!();
    let (code, out, err) = bed.ssh(&["fixture-ios", "show", "version"]);
    assert_eq!(code, 0, "{out:?} {err:?}");
    assert!(
        out.starts_with("Cisco IOS XE Software, Version 17.09.04a\r\n"),
        "{out:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Arista EOS

const EOS_USER: &str = r"(?m)^sw1>$";
const EOS_PRIV: &str = r"(?m)^sw1#$";

fn eos(bed: &TestBed) -> Cli {
    let mut cli = Cli::open(bed, "fixture-eos");
    let text = cli.expect(EOS_USER);
    assert!(text.starts_with("Last login: "), "{text:?}");
    cli
}

#[test]
fn eos_enable_paging_and_errors() {
    let bed = require_testbed!();
    let mut cli = eos(bed);
    let text = cli.run("show running-config", EOS_USER);
    assert_eq!(
        text,
        "show running-config\n% Invalid input (privileged mode required)\nsw1>"
    );
    cli.line("enable");
    cli.expect(r"Password: $");
    let text = cli.run("not-the-secret", EOS_USER);
    assert_eq!(text, "\n% Access denied\nsw1>");
    cli.line("enable");
    cli.expect(r"Password: $");
    cli.run(ENABLE_PASSWORD, EOS_PRIV);

    cli.line("show running-config");
    let (paged, pages) = page_through(&mut cli, b" --More-- ", EOS_PRIV);
    assert!(pages >= 4, "{pages} pages");
    assert!(find(&cli.raw, b" --More-- \r\x1b[K").is_some());
    let text = cli.run("terminal length 0", EOS_PRIV);
    assert_eq!(text, "terminal length 0\nPagination disabled.\nsw1#");
    let text = cli.run("terminal width 32767", EOS_PRIV);
    assert_eq!(
        text,
        "terminal width 32767\nWidth set to 32767 columns.\nsw1#"
    );
    let unpaged = cli.run("show running-config", EOS_PRIV);
    assert!(listing(&unpaged).len() >= 100);
    assert_eq!(listing(&paged), listing(&unpaged));

    let text = cli.run("show bogus", EOS_PRIV);
    assert_eq!(
        text,
        "show bogus\n% Invalid input (at token 1: 'bogus')\nsw1#"
    );
    let text = cli.run("show", EOS_PRIV);
    assert_eq!(text, "show\n% Incomplete command\nsw1#");
}

#[test]
fn eos_configuration_modes_hostname_and_ping() {
    let bed = require_testbed!();
    let mut cli = eos(bed);
    // Paging can be turned off before enable on EOS.
    let text = cli.run("terminal length 0", EOS_USER);
    assert!(text.contains("Pagination disabled."));
    cli.line("enable");
    cli.expect(r"Password: $");
    cli.run(ENABLE_PASSWORD, EOS_PRIV);
    cli.run("configure", r"(?m)^sw1\(config\)#$");
    cli.run("interface Ethernet3", r"(?m)^sw1\(config-if-Et3\)#$");
    cli.run("hostname leaf1", r"(?m)^leaf1\(config\)#$");
    cli.run("end", r"(?m)^leaf1#$");

    cli.line("ping 192.0.2.9 repeat 50");
    cli.expect(r"icmp_seq=2 ");
    cli.send(CTRL_C);
    let text = cli.expect(r"(?m)^leaf1#$");
    assert!(
        text.contains("^C\n--- 192.0.2.9 ping statistics ---\n"),
        "{text:?}"
    );
    assert_broken_early(number(r"(\d+) packets transmitted", &text), 50);
}

// ---------------------------------------------------------------------------------------------
// Juniper Junos

const JUNOS_OP: &str = r"(?m)^mcptjunos@vmx1> $";

#[test]
fn junos_pager_configure_and_commit_rename() {
    let bed = require_testbed!();
    let mut cli = Cli::open(bed, "fixture-junos");
    let text = cli.expect(JUNOS_OP);
    assert!(text.contains("--- JUNOS 21.4R3.15"), "{text:?}");

    cli.line("show configuration");
    let (paged, pages) = page_through(&mut cli, b"---(more ", JUNOS_OP);
    assert!(pages >= 4, "{pages} pages");
    let erasure = [&b"\r"[..], &[b' '; 40], b"\r"].concat();
    assert!(find(&cli.raw, &erasure).is_some());
    assert!(
        Regex::new(r"---\(more \d+%\)---")
            .unwrap()
            .is_match(&String::from_utf8_lossy(&cli.raw))
    );
    let text = cli.run("set cli screen-length 0", JUNOS_OP);
    assert_eq!(
        text,
        "set cli screen-length 0 \nScreen length set to 0\nmcptjunos@vmx1> "
    );
    let unpaged = cli.run("show configuration", JUNOS_OP);
    assert!(listing(&unpaged).len() >= 100);
    assert_eq!(listing(&paged), listing(&unpaged));

    let text = cli.run("configure", r"(?m)^mcptjunos@vmx1# $");
    assert_eq!(
        text,
        "configure \nEntering configuration mode\n\n[edit]\nmcptjunos@vmx1# "
    );
    cli.run("set system host-name jr2", r"(?m)^mcptjunos@vmx1# $");
    let text = cli.run("commit", r"(?m)^mcptjunos@jr2# $");
    assert_eq!(text, "commit \ncommit complete\n\n[edit]\nmcptjunos@jr2# ");
    cli.run("exit", r"(?m)^mcptjunos@jr2> $");
}

#[test]
fn junos_errors_completion_and_ping() {
    let bed = require_testbed!();
    let mut cli = Cli::open(bed, "fixture-junos");
    cli.expect(JUNOS_OP);
    let text = cli.run("bogus", JUNOS_OP);
    assert_eq!(
        text,
        "bogus \n                ^\nunknown command.\nmcptjunos@vmx1> "
    );
    let text = cli.run("show bogus", JUNOS_OP);
    assert_eq!(
        text,
        "show bogus \n                     ^\nsyntax error, expecting <command>.\nmcptjunos@vmx1> "
    );
    // Complete-on-space: the echo says what the device understood, not what was typed.
    let text = cli.run("sh ver", JUNOS_OP);
    assert!(
        text.starts_with("show version \nHostname: vmx1\n"),
        "{text:?}"
    );
    let text = cli.run("set cli complete-on-space off", JUNOS_OP);
    assert!(text.contains("\nDisabling complete-on-space\n"));

    // Without a count, a Junos ping runs until it is broken.
    cli.line("ping 192.0.2.1");
    cli.expect(r"icmp_seq=1 ");
    cli.send(CTRL_C);
    let text = cli.expect(JUNOS_OP);
    assert!(
        text.contains("^C\n--- 192.0.2.1 ping statistics ---\n"),
        "{text:?}"
    );
    let count = cli.run("ping 192.0.2.1 count 3", JUNOS_OP);
    assert!(
        count.contains("\n3 packets transmitted, 3 packets received"),
        "{count:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Huawei VRP

#[test]
fn huawei_password_change_question_views_pager_and_errors() {
    let bed = require_testbed!();
    let mut cli = Cli::open(bed, "fixture-huawei");
    cli.expect(r"The password needs to be changed\. Change now\? \[Y/N\]:$");
    cli.line("N");
    cli.expect(r"(?m)^<HUAWEI>$");

    cli.line("display current-configuration");
    let (paged, pages) = page_through(&mut cli, b"  ---- More ----", r"(?m)^<HUAWEI>$");
    assert!(pages >= 4, "{pages} pages");
    let erasure = [&b"  ---- More ----\x1b[42D"[..], &[b' '; 42], b"\x1b[42D"].concat();
    assert!(find(&cli.raw, &erasure).is_some());
    let text = cli.run("screen-length 0 temporary", r"(?m)^<HUAWEI>$");
    assert_eq!(
        text,
        "screen-length 0 temporary\nInfo: The configuration takes effect on the current user terminal interface only.\n<HUAWEI>"
    );
    let unpaged = cli.run("display current-configuration", r"(?m)^<HUAWEI>$");
    assert!(listing(&unpaged).len() >= 100);
    assert_eq!(listing(&paged), listing(&unpaged));

    let text = cli.run("dis bogus", r"(?m)^<HUAWEI>$");
    assert_eq!(
        text,
        "dis bogus\n            ^\nError: Unrecognized command found at '^' position.\n<HUAWEI>"
    );
    let text = cli.run("system-view", r"(?m)^\[HUAWEI\]$");
    assert!(text.contains("Enter system view, return user view with Ctrl+Z."));
    cli.run("sysname R7", r"(?m)^\[R7\]$");
    cli.run(
        "interface GigabitEthernet0/0/3",
        r"(?m)^\[R7-GigabitEthernet0/0/3\]$",
    );
    cli.send(&[0x1a]);
    cli.expect(r"(?m)^<R7>$");

    cli.line("ping -c 100 192.0.2.2");
    cli.expect(r"Sequence=2 ");
    cli.send(CTRL_C);
    let text = cli.expect(r"(?m)^<R7>$");
    assert_broken_early(number(r"(\d+) packet\(s\) transmitted", &text), 100);
}

#[test]
fn huawei_long_line_echo_uses_space_and_cursor_left() {
    let bed = require_testbed!();
    let mut cli = Cli::open_sized(bed, "fixture-huawei", 40, 24);
    cli.expect(r"Change now\? \[Y/N\]:$");
    cli.line("N");
    cli.expect(r"(?m)^<HUAWEI>$");
    let command = "display current-configuration | include description uplink-1$";
    let text = cli.run(command, r"(?m)^<HUAWEI>$");
    assert!(find(&cli.raw, b" \x1b[1D").is_some());
    assert_eq!(text.lines().next(), Some(command));
    assert_eq!(output_lines(&text), [" description uplink-1"]);
}

// ---------------------------------------------------------------------------------------------
// MikroTik RouterOS

const MT_PROMPT: &str = r"(?m)^\[mcptmikrotik@MikroTik\] > $";

/// Logs in; `reply` answers the terminal probe as a terminal would.
fn mikrotik(bed: &TestBed, reply: bool) -> (Cli, Duration) {
    let mut cli = Cli::open(bed, "fixture-mikrotik");
    let probe = cli.expect_raw(b"\x1b[6n");
    assert!(probe.ends_with(b"\x1bZ\x1b[9999C\x1b[6n"), "{probe:?}");
    let probed = Instant::now();
    if reply {
        cli.send(b"\x1b/Z\x1b[24;80R");
    }
    cli.expect(r"Do you want to see the software license\? \[Y/n\]: $");
    let waited = probed.elapsed();
    cli.send(b"n");
    cli.expect(MT_PROMPT);
    (cli, waited)
}

#[test]
fn mikrotik_probe_waits_for_a_reply_then_licence_question() {
    let bed = require_testbed!();
    let (_cli, waited) = mikrotik(bed, false);
    // It waits about 2 s (measured from when the probe was read here: a lower bound).
    assert!(
        waited >= Duration::from_millis(1500),
        "unanswered probe waited only {waited:?}"
    );
    let (mut cli, _) = mikrotik(bed, true);
    let text = cli.run("/system identity print", MT_PROMPT);
    assert_eq!(
        text,
        "[mcptmikrotik@MikroTik] > /system identity print\n  name: MikroTik\n[mcptmikrotik@MikroTik] > "
    );
}

#[test]
fn mikrotik_redraws_the_line_on_enter_and_follows_renames() {
    let bed = require_testbed!();
    let (mut cli, _) = mikrotik(bed, true);
    cli.line("/system identity print");
    let raw = cli.expect_raw(b"  name: MikroTik");
    let redraw = b"\r\x1b[K[mcptmikrotik@MikroTik] > \x1b[36m/system\x1b[m \x1b[36midentity\x1b[m \x1b[35mprint\x1b[m\r\n";
    assert!(
        find(&raw, redraw).is_some(),
        "{:?}",
        String::from_utf8_lossy(&raw)
    );
    cli.expect(MT_PROMPT);

    cli.run(
        "/system identity set name=edge-rtr",
        r"(?m)^\[mcptmikrotik@edge-rtr\] > $",
    );
    cli.run(
        "/interface",
        r"(?m)^\[mcptmikrotik@edge-rtr\] /interface> $",
    );
    let text = cli.run("bogus", r"(?m)^\[mcptmikrotik@edge-rtr\] /interface> $");
    assert!(
        text.contains("\nbad command name bogus (line 1 column 1)\n"),
        "{text:?}"
    );
    // A lone LF is an Enter of its own: two prompts.
    cli.send(b"/\r\n");
    let text = cli.expect(r"(?m)^\[mcptmikrotik@edge-rtr\] > \n\[mcptmikrotik@edge-rtr\] > $");
    assert_eq!(
        text,
        "[mcptmikrotik@edge-rtr] /interface> /\n[mcptmikrotik@edge-rtr] > \n[mcptmikrotik@edge-rtr] > "
    );
}

#[test]
fn mikrotik_print_pages_unless_without_paging_and_ping_is_slow() {
    let bed = require_testbed!();
    let (mut cli, _) = mikrotik(bed, true);
    cli.line("/log print");
    let (paged, pages) = page_through(&mut cli, b"-- [Q quit|D dump|down]", MT_PROMPT);
    assert!(pages >= 4, "{pages} pages");
    assert!(find(&cli.raw, b"-- [Q quit|D dump|down]\r\x1b[K").is_some());
    let unpaged = cli.run("/log print without-paging", MT_PROMPT);
    assert!(!unpaged.contains("Q quit"));
    assert_eq!(listing(&unpaged).len(), 100);
    assert_eq!(listing(&paged), listing(&unpaged));
    let export = cli.run("/export", MT_PROMPT);
    assert!(listing(&export).len() >= 100);

    cli.line("/ping 192.0.2.3");
    cli.expect(r"\n    1 192\.0\.2\.3 ");
    cli.send(CTRL_C);
    let text = cli.expect(MT_PROMPT);
    assert_broken_early(number(r"(?m)^    sent=(\d+) received=", &text), usize::MAX);
}

#[test]
fn mikrotik_wraps_a_long_redraw_at_the_terminal_width() {
    let bed = require_testbed!();
    let (mut cli, _) = mikrotik(bed, true);
    let name = "a-very-long-router-identity-for-the-wrapping-test-0123456789";
    let command = format!("/system identity set name={name}");
    assert!("[mcptmikrotik@MikroTik] > ".len() + command.len() > 80);
    let start = cli.mark;
    cli.line(&command);
    cli.expect(&format!(r"(?m)^\[mcptmikrotik@{name}\] > $"));
    let raw = &cli.raw[start..];
    assert!(
        find(raw, b"\x1b[1A\r\x1b[K").is_some(),
        "{:?}",
        String::from_utf8_lossy(raw)
    );
    let text = render(raw);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0].len(), 80, "{lines:?}");
    assert_eq!(
        format!("{}{}", lines[0], lines[1]),
        format!("[mcptmikrotik@MikroTik] > {command}")
    );
}

// ---------------------------------------------------------------------------------------------
// Restricted appliance shell

#[test]
fn appliance_press_any_key_prompt_errors_pager_and_rename() {
    let bed = require_testbed!();
    let mut cli = Cli::open(bed, "fixture-appliance");
    cli.expect(r"Press any key to continue$");
    cli.send(b" ");
    cli.expect(r"(?m)^edge01--> $");
    let text = cli.run("printf '%s' x; echo $?", r"(?m)^edge01--> $");
    assert_eq!(
        text,
        "printf '%s' x; echo $?\nError: unknown command \"printf '%s' x; echo $?\". Type 'help' for a list of commands.\nedge01--> "
    );
    cli.line("show config");
    let (paged, pages) = page_through(&mut cli, b"-- More --", r"(?m)^edge01--> $");
    assert!(pages >= 4, "{pages} pages");
    assert!(listing(&paged).len() >= 99);
    cli.run("set hostname edge9", r"(?m)^edge9--> $");
    cli.line("ping 192.0.2.4 count 100");
    cli.expect(r"seq=2 ");
    cli.send(CTRL_C);
    let text = cli.expect(r"(?m)^edge9--> $");
    assert_broken_early(number(r"\^C\n(\d+) sent, \d+ received\n", &text), 100);
}
