//! pager and clean_output: every vendor's pager prompt and erasure, the way the device sends
//! them (the erasure only after the answer), through the line model, answered as a dialect
//! does (consume the line, type the answer).

use super::*;

/// The cleaned output of `command` after the device wrote `segments`, checking on the way that
/// the last line is a prompt of the device and that the echo is found.
fn output(prompt: &str, command: &str, s: &Seen) -> String {
    let learned = learned(prompt);
    assert!(
        is_prompt_of(&learned, &s.line).is_some(),
        "{:?} does not end the output",
        s.line
    );
    let Echo::Ends(end) = echo_end(&learned, command, &s.text) else {
        panic!("no echo of {command:?} in {:?}", s.text);
    };
    clean_output(&learned, &format!("{}{}", &s.text[end..], s.line))
}

fn erase_ios() -> Vec<u8> {
    bytes(&[&[8; 9], &[b' '; 9], &[8; 9]])
}

#[test]
fn cisco_more_with_backspace_erasure() {
    let erase = erase_ios();
    let s = seen(&[
        b"R1#show running-config\r\nBuilding configuration...\r\n\r\nversion 17.9\r\n --More-- ",
        &bytes(&[&erase, b"!\r\nhostname R1\r\n --More-- "]),
        &bytes(&[
            &erase,
            b"interface GigabitEthernet1\r\n description uplink-1\r\nend\r\n\r\nR1#",
        ]),
    ]);
    assert_eq!(s.answers, [" ", " "]);
    // The erasure leaves its spaces after a short line; a consumed pager leaves nothing else.
    assert_eq!(
        s.text,
        "R1#show running-config\nBuilding configuration...\n\nversion 17.9\n!        \nhostname R1\ninterface GigabitEthernet1\n description uplink-1\nend\n\n"
    );
    assert_eq!(s.line, "R1#");
    assert_eq!(
        output("R1#", "show running-config", &s),
        "Building configuration...\n\nversion 17.9\n!\nhostname R1\ninterface GigabitEthernet1\n description uplink-1\nend\n"
    );
}

#[test]
fn arista_more_erased_with_cr_and_erase_line() {
    let s = seen(&[
        b"sw1#show running-config\r\n! Command: show running-config\r\n --More-- ",
        b"\r\x1b[K!\r\nhostname sw1\r\nsw1#",
    ]);
    assert_eq!(s.answers, [" "]);
    assert_eq!(
        s.text,
        "sw1#show running-config\n! Command: show running-config\n!\nhostname sw1\n"
    );
    assert_eq!(
        output("sw1#", "show running-config", &s),
        "! Command: show running-config\n!\nhostname sw1\n"
    );
}

#[test]
fn junos_more_percent_erased_with_spaces_and_context_lines_dropped() {
    let erase = bytes(&[b"\r", &[b' '; 40], b"\r"]);
    let s = seen(&[
        b"mcptjunos@vmx1> show configuration \r\n## Last commit: 2024-01-01\r\nsystem {\r\n---(more 27%)---",
        &bytes(&[&erase, b"    host-name vmx1;\r\n---(more 80%)---"]),
        &bytes(&[&erase, b"}\r\n\r\n{master:0}\r\nmcptjunos@vmx1> "]),
    ]);
    assert_eq!(s.answers, [" ", " "]);
    assert_eq!(
        s.text,
        format!(
            "mcptjunos@vmx1> show configuration \n## Last commit: 2024-01-01\nsystem {{\n    host-name vmx1;{}\n}}{}\n\n{{master:0}}\n",
            " ".repeat(40 - 19),
            " ".repeat(39)
        )
    );
    assert_eq!(
        output("mcptjunos@vmx1> ", "show configuration", &s),
        "## Last commit: 2024-01-01\nsystem {\n    host-name vmx1;\n}\n"
    );
}

#[test]
fn huawei_more_erased_with_cursor_left_and_spaces() {
    let erase = bytes(&[b"\x1b[42D", &[b' '; 42], b"\x1b[42D"]);
    let s = seen(&[
        b"<HUAWEI>display current-configuration\r\n!Software Version V200R009C00SPC500\r\n[V200R009C00SPC500]\r\n#\r\n  ---- More ----",
        &bytes(&[&erase, b" sysname HUAWEI\r\n#\r\nreturn\r\n<HUAWEI>"]),
    ]);
    assert_eq!(s.answers, [" "]);
    assert_eq!(
        s.text,
        format!(
            "<HUAWEI>display current-configuration\n!Software Version V200R009C00SPC500\n[V200R009C00SPC500]\n#\n sysname HUAWEI{}\n#\nreturn\n",
            " ".repeat(42 - 15)
        )
    );
    assert_eq!(
        output("<HUAWEI>", "display current-configuration", &s),
        "!Software Version V200R009C00SPC500\n[V200R009C00SPC500]\n#\n sysname HUAWEI\n#\nreturn\n"
    );
}

#[test]
fn comware_more_erased_with_sixteen_columns() {
    let erase = bytes(&[b"\x1b[16D", &[b' '; 16], b"\x1b[16D"]);
    let s = seen(&[
        b"<H3C>display current-configuration\r\n version 7.1.064\r\n  ---- More ----",
        &bytes(&[&erase, b" sysname H3C\r\n<H3C>"]),
    ]);
    assert_eq!(s.answers, [" "]);
    assert_eq!(
        output("<H3C>", "display current-configuration", &s),
        " version 7.1.064\n sysname H3C\n"
    );
}

#[test]
fn mikrotik_pager_after_the_redrawn_echo() {
    let s = seen(&[
        b"[admin@MikroTik] > /log print\r\x1b[K[admin@MikroTik] > \x1b[36m/log\x1b[m \x1b[35mprint\x1b[m\r\n2024-01-01 10:00:00 system,info entry 1\r\n-- [Q quit|D dump|down]",
        b"\r\x1b[K2024-01-01 10:00:01 system,info entry 2\r\n[admin@MikroTik] > ",
    ]);
    assert_eq!(s.answers, [" "]);
    assert_eq!(
        s.text,
        "[admin@MikroTik] > /log print\n2024-01-01 10:00:00 system,info entry 1\n2024-01-01 10:00:01 system,info entry 2\n"
    );
    assert_eq!(
        output("[admin@MikroTik] > ", "/log print", &s),
        "2024-01-01 10:00:00 system,info entry 1\n2024-01-01 10:00:01 system,info entry 2\n"
    );
}

#[test]
fn asa_nokia_fortios_and_generic_pagers() {
    // (prompt, before the pager, its erasure, after)
    type Case = (&'static str, &'static [u8], &'static [u8], &'static [u8]);
    let cases: &[Case] = &[
        (
            "asa#",
            b"asa#show run\r\n: Saved\r\n<--- More --->",
            b"\r              \r",
            b"hostname asa\r\nasa#",
        ),
        (
            "A:R1# ",
            b"A:R1# show port\r\n1/1/1 Up\r\nPress any key to continue (Q to quit)",
            b"\r                                      \r",
            b"1/1/2 Down\r\nA:R1# ",
        ),
        (
            "FGT-1 # ",
            b"FGT-1 # show\r\nconfig system global\r\n--More-- ",
            b"\r          \r",
            b"end\r\nFGT-1 # ",
        ),
        (
            "edge01--> ",
            b"edge01--> show config\r\n# EdgeGate configuration\r\n-- More --",
            b"\r          \r",
            b"system.hostname = edge01\r\nedge01--> ",
        ),
        (
            "zx1--> ",
            b"zx1--> show run\r\nline one\r\n ----- more ----- Press Q or Ctrl+C to break -----",
            b"\r\x1b[K",
            b"line two\r\nzx1--> ",
        ),
    ];
    for (prompt, before, erase, after) in cases {
        let s = seen(&[before, &bytes(&[erase, after])]);
        assert_eq!(s.answers, [" "], "{prompt:?}");
        let command = std::str::from_utf8(before).unwrap().lines().next().unwrap();
        let command = command.trim_start_matches(prompt.trim_end()).trim();
        let out = output(prompt, command, &s);
        assert_eq!(out.lines().count(), 2, "{prompt:?}: {out:?}");
        assert!(!out.to_lowercase().contains("more"), "{prompt:?}: {out:?}");
    }
}

#[test]
fn pager_prompts_split_anywhere_are_answered_once() {
    // A prompt arriving in pieces is answered when it is whole, never twice. (Byte by byte,
    // IOS's trailing space comes after the answer, on the emptied line, where the erasure
    // that follows the answer puts it back to column 0.)
    for prompt in [
        &b" --More-- "[..],
        b"---(more 100%)---",
        b"  ---- More ----",
        b"-- [Q quit|D dump|down]",
        b"<--- More --->",
        b"Press any key to continue (Q to quit)",
    ] {
        let written = bytes(&[b"line\r\n", prompt]);
        let runs = [
            play(&[&written], true, &|_, _| Vec::new()),
            play(&[&written], true, &|_, s| (1..s.len()).collect()),
        ];
        for cut in 1..written.len() {
            let got = play(&[&written], true, &|_, _| vec![cut]);
            assert_eq!((&got.text, &got.answers), (&runs[0].text, &runs[0].answers));
        }
        for run in &runs {
            assert_eq!(run.answers, [" "], "{prompt:?}");
            assert_eq!(run.text, "line\n");
            assert!(
                run.line.trim().is_empty() || run.line.starts_with(" (Q"),
                "{run:?}"
            );
        }
    }
}

/// Every pager prompt of the table, as the current line shows it.
pub(super) const PAGER_SAMPLES: &[&str] = &[
    " --More-- ",
    "--More--",
    "-- More --",
    "---(more)---",
    "---(more 27%)---",
    "  ---- More ----",
    "  ---- More ( Press 'Q' to break ) ----",
    "-- [Q quit|D dump|down]",
    "<--- More --->",
    "Press any key to continue (Q to quit)",
    " ----- more ----- Press Q or Ctrl+C to break -----",
];

#[test]
fn every_pager_sample_is_a_pager_answered_with_space() {
    for sample in PAGER_SAMPLES {
        assert_eq!(pager(sample), Some(Pager { answer: " " }), "{sample:?}");
    }
}

#[test]
fn lines_that_only_mention_more_are_not_pagers() {
    for line in [
        "",
        "More",
        "--More",
        "show more",
        "description --More-- here",
        "---(more)--- and text",
        "Press any key",
        "[Q quit|D dump|down]",
        "R1#",
    ] {
        assert_eq!(pager(line), None, "{line:?}");
    }
    assert_eq!(pager(" --More-- "), Some(Pager { answer: " " }));
    assert_eq!(pager("---(more)---"), Some(Pager { answer: " " }));
}

#[test]
fn clean_output_drops_prompt_context_remnants_and_erasure_spaces() {
    let junos = learned("mcptjunos@vmx1# ");
    assert_eq!(
        clean_output(&junos, "\ncommit complete\n\n[edit]\nmcptjunos@jr2# "),
        "commit complete\n"
    );
    let ios = learned("R1#");
    // A pager prompt that was never consumed, and one the erasure left at a line's start.
    assert_eq!(
        clean_output(&ios, "a   \n --More-- \n --More-- b\nc\t \nR1#"),
        "a\nb\nc\n"
    );
    // A prompt-shaped last line of another family is output, not a prompt.
    assert_eq!(clean_output(&ios, "x\n<HUAWEI>"), "x\n<HUAWEI>\n");
    assert_eq!(clean_output(&ios, "R1#"), "");
    assert_eq!(clean_output(&ios, ""), "");
    // Blank lines inside the output stay.
    assert_eq!(clean_output(&ios, "\n\na\n\nb\n\nR1(config)#"), "a\n\nb\n");
}
