//! echo_end on echoes as the line model renders them: plain, scrolled by IOS with backspace
//! repaints, Huawei's space and `ESC[1D` at the margin, MikroTik's coloured redraw (wrapped
//! at the terminal width), Junos's completion. The byte strings were recorded from the fakes
//! in fixtures/devices at narrow terminal widths.

use super::*;

/// The echo's end in what the device wrote, at every cut.
fn echo_of(prompt: &str, command: &str, written: &[u8]) -> (Echo, Seen) {
    let s = seen(&[written]);
    (echo_end(&learned(prompt), command, &s.text), s)
}

/// The output after the echo.
fn after_echo(prompt: &str, command: &str, written: &[u8]) -> String {
    match echo_of(prompt, command, written) {
        (Echo::Ends(end), s) => s.text[end..].to_string(),
        (other, s) => panic!("{command:?}: {other:?} in {:?}", s.text),
    }
}

#[test]
fn plain_echo_after_the_prompt() {
    assert_eq!(
        after_echo(
            "R1#",
            "show clock",
            b"show clock\r\n*10:00:00.000 UTC Mon Jan 1 2024\r\nR1#"
        ),
        "*10:00:00.000 UTC Mon Jan 1 2024\n"
    );
    // The prompt line was not consumed before typing: it is on the echo line.
    assert_eq!(
        after_echo("R1#", "show clock", b"R1#show clock\r\nclock\r\nR1#"),
        "clock\n"
    );
    // CR CR LF and a lone Enter.
    assert_eq!(
        after_echo("R1#", "show clock", b"R1#show clock\r\r\nx\r\n"),
        "x\n"
    );
    assert_eq!(after_echo("R1#", "", b"R1#\r\nR1#"), "");
    assert_eq!(after_echo("R1#", "", b"\r\nR1#"), "");
}

#[test]
fn ios_scrolled_echo_with_backspace_repaints() {
    // `show running-config | include interface GigabitEthernet1` at 40 columns.
    let written = bytes(&[
        b"R1#show running-config | include inter",
        &[8; 35],
        b"$g-config | include interf",
        &[b' '; 9],
        &[8; 9],
        b"ace Gigab",
        &[8; 35],
        b"$ include interface Gigabi",
        &[b' '; 9],
        &[8; 9],
        b"tEthernet",
        &[8; 35],
        b"$nterface GigabitEthernet1",
        &[b' '; 9],
        &[8; 9],
        b"\r\ninterface GigabitEthernet1\r\nR1#",
    ]);
    let command = "show running-config | include interface GigabitEthernet1";
    let (echo, s) = echo_of("R1#", command, &written);
    assert_eq!(
        s.text,
        "R1#$nterface GigabitEthernet1         \ninterface GigabitEthernet1\n"
    );
    assert_eq!(
        echo,
        Echo::Ends("R1#$nterface GigabitEthernet1         \n".len())
    );
    // ASA shows the start instead, cut with a `$` at the end (netmiko#105).
    assert_eq!(
        after_echo(
            "fw1#",
            "show run | inc clock|logging|aaa|http|ssh|telnet|ntp",
            b"fw1# show run | inc clock|logging|aaa|http|ssh|te$\r\nclock timezone CET 1\r\n"
        ),
        "clock timezone CET 1\n"
    );
}

#[test]
fn huawei_space_and_cursor_left_at_the_margin() {
    // `display clock | include UTC` at 30 columns.
    assert_eq!(
        after_echo(
            "<HUAWEI>",
            "display clock | include UTC",
            b"<HUAWEI>display clock | includ \x1b[1De UTC\r\nTime Zone(UTC) : UTC\r\n<HUAWEI>"
        ),
        "Time Zone(UTC) : UTC\n"
    );
}

#[test]
fn mikrotik_redraw_and_wrapped_redraw() {
    assert_eq!(
        after_echo(
            "[admin@MikroTik] > ",
            "/system identity print",
            b"[admin@MikroTik] > /system identity print\r\x1b[K[admin@MikroTik] > \x1b[36m/system\x1b[m \x1b[36midentity\x1b[m \x1b[35mprint\x1b[m\r\n  name: MikroTik\r\n[admin@MikroTik] > "
        ),
        "  name: MikroTik\n"
    );
    // At 40 columns the redraw is broken at the width.
    let command = "/system identity set name=core-router-01";
    let written = b"[root@MikroTik] > /system identity set name=core-router-01\x1b[1A\r\x1b[K[root@MikroTik] > \x1b[36m/system\x1b[m \x1b[36midentity\x1b[m \x1b[35mset\x1b[m \x1b[32mn\x1b[m\r\n\x1b[32mame\x1b[m=core-router-01\r\n[root@core-router-01] > ";
    let (echo, s) = echo_of("[root@MikroTik] > ", command, written);
    assert_eq!(
        s.text,
        "[root@MikroTik] > /system identity set n\name=core-router-01\n"
    );
    assert_eq!(echo, Echo::Ends(s.text.len()));
    // Only the first part so far: wait for the rest.
    assert_eq!(
        echo_end(
            &learned("[root@MikroTik] > "),
            command,
            "[root@MikroTik] > /system identity set n\n"
        ),
        Echo::Incomplete
    );
}

#[test]
fn junos_completion_rewrites_the_echo() {
    // `sh ver` typed, `show version ` echoed (complete-on-space, then on Enter).
    assert_eq!(
        after_echo(
            "mcptjunos@vmx1> ",
            "sh ver",
            b"mcptjunos@vmx1> show version \r\nHostname: vmx1\r\nmcptjunos@vmx1> "
        ),
        "Hostname: vmx1\n"
    );
    // The three spaces and backspaces Junos writes after a word (netmiko#3766).
    assert_eq!(
        after_echo(
            "user@r1> ",
            "show route table T1 10.0.0.1/32",
            b"user@r1> show route table T1 \x20\x20\x20\x08\x08\x0810.0.0.1/32 \r\nroute\r\n"
        ),
        "route\n"
    );
}

#[test]
fn stray_prompts_missing_echoes_and_partial_lines() {
    // A stray prompt before the echo (scrapligo#226) belongs to it.
    assert_eq!(
        after_echo("R1#", "show clock", b"R1#\r\nR1#show clock\r\nclock\r\n"),
        "clock\n"
    );
    let ios = learned("R1#");
    // No echo at all: nothing is taken away.
    assert_eq!(
        echo_end(&ios, "show clock", "*10:00:00 UTC\n"),
        Echo::Absent
    );
    // No complete line yet.
    assert_eq!(echo_end(&ios, "show clock", ""), Echo::Incomplete);
    assert_eq!(
        echo_end(&ios, "show clock", "R1#show clo"),
        Echo::Incomplete
    );
    // The echo of the first line of a multi-line command.
    assert_eq!(
        echo_end(
            &ios,
            "interface Gi1\ndescription x",
            "R1(config)#interface Gi1\n"
        ),
        Echo::Ends("R1(config)#interface Gi1\n".len())
    );
    // A wrapped echo that stops matching: its first line was the echo.
    assert_eq!(
        echo_end(
            &learned("[a@b] > "),
            "/log print where x",
            "[a@b] > /log print\nentry\n"
        ),
        Echo::Ends("[a@b] > /log print\n".len())
    );
}
