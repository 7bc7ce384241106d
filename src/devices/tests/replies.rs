//! device_error, interstitial, setup_reply, enable_step.

use super::*;

/// (family, what the device wrote after the echo, the error line)
pub(super) const ERRORS: &[(&str, &[u8], &str)] = &[
    (
        "cisco_ios",
        b"            ^\r\n% Invalid input detected at '^' marker.\r\n\r\nR1>",
        "% Invalid input detected at '^' marker.",
    ),
    ("cisco_ios", b"% Incomplete command.\r\n\r\nR1#", "% Incomplete command."),
    ("cisco_ios", b"% Ambiguous command:  \"s\"\r\nR1#", "% Ambiguous command:  \"s\""),
    (
        "cisco_ios",
        b"Translating \"bogus\"\r\n% Unknown command or computer name, or unable to find computer address\r\nR1>",
        "% Unknown command or computer name, or unable to find computer address",
    ),
    ("cisco_ios", b"Command authorization failed.\r\nR1#", "Command authorization failed."),
    ("cisco_ios", b"Command rejected: Bad VLAN list\r\nR1(config-if)#", "Command rejected: Bad VLAN list"),
    ("cisco_ios", b"% Unrecognized command\r\nR1#", "% Unrecognized command"),
    ("cisco_ios", b"% Bad secrets\r\n\r\nR1>", "% Bad secrets"),
    ("cisco_ios", b"% Bad mask /33 for address 10.0.0.1\r\n", "% Bad mask /33 for address 10.0.0.1"),
    ("cisco_ios", b"%Error opening tftp://x/y (Timed out)\r\n", "%Error opening tftp://x/y (Timed out)"),
    ("cisco_ios", b"% Access denied\r\n", "% Access denied"),
    ("cisco_nxos", b"% Invalid command at '^' marker.\r\nn9k#", "% Invalid command at '^' marker."),
    ("cisco_nxos", b"ERROR: port-channel does not exist\r\nn9k#", "ERROR: port-channel does not exist"),
    ("cisco_nxos", b"% Invalid input detected at '^' marker.\r\n", "% Invalid input detected at '^' marker."),
    ("cisco_nxos", b"% Invalid parameter detected at '^' marker.\r\n", "% Invalid parameter detected at '^' marker."),
    ("cisco_nxos", b"% Invalid number at '^' marker.\r\n", "% Invalid number at '^' marker."),
    ("cisco_nxos", b"% Incomplete command at '^' marker.\r\n", "% Incomplete command at '^' marker."),
    ("cisco_nxos", b"% Ambiguous command at '^' marker.\r\n", "% Ambiguous command at '^' marker."),
    ("cisco_nxos", b"syntax error, expecting <command>\r\n", "syntax error, expecting <command>"),
    ("cisco_asa", b"% Invalid input detected at '^' marker.\r\n", "% Invalid input detected at '^' marker."),
    ("cisco_asa", b"% Incomplete command\r\n", "% Incomplete command"),
    ("cisco_asa", b"% Ambiguous command\r\n", "% Ambiguous command"),
    ("cisco_asa", b"Command authorization failed\r\n", "Command authorization failed"),
    ("cisco_asa", b"ERROR: % Invalid input detected at '^' marker.\r\nasa#", "ERROR: % Invalid input detected at '^' marker."),
    ("arista_eos", b"% Invalid input (at token 1: 'bogus')\r\nsw1#", "% Invalid input (at token 1: 'bogus')"),
    ("arista_eos", b"% Invalid input (privileged mode required)\r\nsw1>", "% Invalid input (privileged mode required)"),
    ("arista_eos", b"% Incomplete command\r\nsw1#", "% Incomplete command"),
    ("arista_eos", b"% Ambiguous command\r\nsw1#", "% Ambiguous command"),
    ("arista_eos", b"% Error: no such interface\r\n", "% Error: no such interface"),
    ("arista_eos", b"% Cannot commit: session has been aborted\r\n", "% Cannot commit: session has been aborted"),
    ("arista_eos", b"% Unavailable command (not supported on this hardware platform)\r\n", "% Unavailable command (not supported on this hardware platform)"),
    ("arista_eos", b"% Access denied\r\nsw1>", "% Access denied"),
    (
        "juniper_junos",
        b"                ^\r\nunknown command.\r\nuser@r1> ",
        "unknown command.",
    ),
    (
        "juniper_junos",
        b"                     ^\r\nsyntax error, expecting <command>.\r\nuser@r1> ",
        "syntax error, expecting <command>.",
    ),
    ("juniper_junos", b"           ^\r\n's' is ambiguous.\r\nPossible completions:\r\n", "'s' is ambiguous."),
    ("juniper_junos", b"missing mandatory argument 'host'.\r\n", "missing mandatory argument 'host'."),
    ("juniper_junos", b"invalid numeric value: 'x'\r\n", "invalid numeric value: 'x'"),
    ("juniper_junos", b"No valid completions\r\n", "No valid completions"),
    (
        "juniper_junos",
        b"[edit interfaces]\r\n  'ge-0/0/0'\r\n    error: bad value\r\nerror: configuration check-out failed\r\n",
        "error: bad value",
    ),
    (
        "huawei_vrp",
        b"            ^\r\nError: Unrecognized command found at '^' position.\r\n<HUAWEI>",
        "Error: Unrecognized command found at '^' position.",
    ),
    ("huawei_vrp", b"Error:Too many parameters found at '^' position.\r\n", "Error:Too many parameters found at '^' position."),
    ("huawei_vrp", b"% Wrong parameter found at '^' position.\r\n", "% Wrong parameter found at '^' position."),
    ("hp_comware", b"% Unrecognized command found at '^' position.\r\n<H3C>", "% Unrecognized command found at '^' position."),
    ("mikrotik_routeros", b"bad command name bogus (line 1 column 1)\r\n[a@b] > ", "bad command name bogus (line 1 column 1)"),
    ("mikrotik_routeros", b"expected end of command (line 1 column 24)\r\n", "expected end of command (line 1 column 24)"),
    ("mikrotik_routeros", b"syntax error (line 1 column 7)\r\n", "syntax error (line 1 column 7)"),
    ("mikrotik_routeros", b"no such item\r\n", "no such item"),
    ("mikrotik_routeros", b"expected command name (line 1 column 1)\r\n", "expected command name (line 1 column 1)"),
    ("mikrotik_routeros", b"invalid value for argument address\r\n", "invalid value for argument address"),
    ("mikrotik_routeros", b"input does not match any value of interface\r\n", "input does not match any value of interface"),
    ("mikrotik_routeros", b"failure: already have such address\r\n", "failure: already have such address"),
    ("fortinet_fortios", b"Unknown action 0\r\nCommand fail. Return code -61\r\n", "Unknown action 0"),
    ("fortinet_fortios", b"Command fail. Return code -61\r\n", "Command fail. Return code -61"),
    ("fortinet_fortios", b"Return code -651\r\n", "Return code -651"),
    ("fortinet_fortios", b"command parse error before 'x'\r\n", "command parse error before 'x'"),
    ("paloalto_panos", b"Unknown command: bogus\r\n", "Unknown command: bogus"),
    ("paloalto_panos", b"Invalid syntax.\r\n", "Invalid syntax."),
    ("paloalto_panos", b"Server error : x is not a valid reference\r\n", "Server error : x is not a valid reference"),
    ("paloalto_panos", b"Validation Error:\r\n", "Validation Error:"),
    ("nokia_sros", b"MINOR: CLI Command not allowed for this user.\r\n", "MINOR: CLI Command not allowed for this user."),
    ("nokia_sros", b"Error: Bad command.\r\n", "Error: Bad command."),
    ("nokia_sros", b"MAJOR: MGMT_CORE #2201: Unknown element\r\n", "MAJOR: MGMT_CORE #2201: Unknown element"),
    ("nokia_sros", b"CRITICAL: system failure\r\n", "CRITICAL: system failure"),
    ("nokia_sros", b"Bad Command: bogus\r\n", "Bad Command: bogus"),
    (
        "generic",
        b"Error: unknown command \"printf '%s' x\". Type 'help' for a list of commands.\r\nedge01--> ",
        "Error: unknown command \"printf '%s' x\". Type 'help' for a list of commands.",
    ),
    ("generic", b"sh: printf: command not found\r\n", "sh: printf: command not found"),
    ("generic", b"% Invalid command \"x\"\r\nsw-->", "% Invalid command \"x\""),
];

#[test]
fn every_error_shape_is_found() {
    for (name, written, error) in ERRORS {
        let s = seen(&[written]);
        let f = family(name).unwrap();
        assert_eq!(
            device_error(f, &s.text).as_deref(),
            Some(*error),
            "{name}: {written:?}"
        );
    }
}

#[test]
fn ordinary_output_is_not_an_error() {
    let outputs: &[(&str, &str)] = &[
        ("cisco_ios", "Building configuration...\n[OK]\n"),
        (
            "cisco_ios",
            "logging host 10.0.0.1\n description % Invalid input test\n",
        ),
        (
            "cisco_ios",
            "% Interface Gi1 IP address 10.0.0.1 removed due to enabling VRF\n",
        ),
        ("juniper_junos", "commit complete\n"),
        (
            "juniper_junos",
            "    description \"syntax error handling\";\n",
        ),
        (
            "huawei_vrp",
            "Info: The configuration takes effect on the current user terminal interface only.\n",
        ),
        (
            "huawei_vrp",
            "Warning: This operation may cause service interruption.\n",
        ),
        ("mikrotik_routeros", "  name: MikroTik\n"),
        ("arista_eos", "Pagination disabled.\n"),
        ("generic", "proxy: running\nerrors: 0\n"),
    ];
    for (name, text) in outputs {
        assert_eq!(
            device_error(family(name).unwrap(), text),
            None,
            "{name}: {text:?}"
        );
    }
}

/// (what the device wrote, interstitial name, answer)
pub(super) const INTERSTITIAL_SAMPLES: &[(&[u8], &str, &str)] = &[
    (
        b"Info: The max number of VTY users is 10.\r\nThe password needs to be changed. Change now? [Y/N]:",
        "password change question",
        "N\r",
    ),
    (
        b"\r\n  MikroTik RouterOS 7.12.1\r\n\r\nDo you want to see the software license? [Y/n]: ",
        "software licence question",
        "n",
    ),
    (b"Please press \"Enter\" to continue!", "press Enter", "\r"),
    (b"(Press 'a' to accept):", "disclaimer", "a"),
    (b"Press Y or ENTER to continue, N to exit.", "press Y or Enter", "\r"),
    (b"=====\r\nPress any key to continue", "press any key", "\r"),
    (b"-- Press any key to continue --", "press any key", "\r"),
    (b"Press ENTER to continue", "press Enter", "\r"),
];

#[test]
fn interstitials_with_their_conservative_answers() {
    for (written, name, answer) in INTERSTITIAL_SAMPLES {
        let line = line_of(written);
        assert_eq!(
            interstitial(&line),
            Some(Interstitial { name, answer }),
            "{line:?}"
        );
    }
    for line in [
        "",
        "R1>",
        "Password: ",
        "Type 'Press any key to continue' to see the banner again",
        "Change now?",
        "The password needs to be changed.",
        "Do you want to continue? [y/n]",
    ] {
        assert_eq!(interstitial(line), None, "{line:?}");
    }
}

#[test]
fn setup_replies_accepted_refused_unconfirmed() {
    let ios = family("cisco_ios").unwrap();
    let paging = ios.paging_off().next().unwrap();
    assert_eq!(paging.lines, ["terminal length 0"]);
    assert_eq!(
        setup_reply(
            ios,
            paging,
            "            ^\n% Invalid input detected at '^' marker.\n\n"
        ),
        Reply::Refused("% Invalid input detected at '^' marker.".into())
    );
    assert_eq!(setup_reply(ios, paging, ""), Reply::Accepted);
    assert_eq!(ios.width().next().unwrap().lines, ["terminal width 511"]);

    let eos = family("arista_eos").unwrap();
    let paging = eos.paging_off().next().unwrap();
    assert_eq!(
        setup_reply(eos, paging, "Pagination disabled.\n"),
        Reply::Accepted
    );
    assert_eq!(setup_reply(eos, paging, "\n"), Reply::Unconfirmed);

    let junos = family("juniper_junos").unwrap();
    let paging = junos.paging_off().next().unwrap();
    assert_eq!(
        setup_reply(junos, paging, "Screen length set to 0\n"),
        Reply::Accepted
    );
    let other = junos.other_setup().next().unwrap();
    assert_eq!(other.lines, ["set cli complete-on-space off"]);
    assert_eq!(
        setup_reply(junos, other, "Disabling complete-on-space\n"),
        Reply::Accepted
    );

    let vrp = family("huawei_vrp").unwrap();
    let paging = vrp.paging_off().next().unwrap();
    assert_eq!(
        setup_reply(
            vrp,
            paging,
            "Info: The configuration takes effect on the current user terminal interface only.\n"
        ),
        Reply::Accepted
    );

    // Alternatives come in order; FortiOS needs three lines.
    let nokia: Vec<_> = family("nokia_sros")
        .unwrap()
        .paging_off()
        .map(|s| s.lines)
        .collect();
    assert_eq!(nokia, [["environment no more"], ["environment more false"]]);
    let fortios = family("fortinet_fortios")
        .unwrap()
        .paging_off()
        .next()
        .unwrap();
    assert_eq!(
        fortios.lines,
        ["config system console", "set output standard", "end"]
    );
    assert_eq!(family("mikrotik_routeros").unwrap().paging_off().count(), 0);
}

#[test]
fn enable_right_and_wrong() {
    let user = learned("R1>");
    let ask = line_of(b"R1>enable\r\nPassword: ");
    assert_eq!(
        enable_step(&user, "R1>enable\n", &ask),
        Some(EnableStep::Password)
    );
    // Typed, not yet answered.
    assert_eq!(enable_step(&user, "R1>enable\n\n", ""), None);
    match enable_step(&user, "R1>enable\n\n", &line_of(b"\r\nR1#")) {
        Some(EnableStep::Done(d)) => {
            assert_eq!((d.mode, d.prompt.as_str()), (Mode::Privileged, "R1#"))
        }
        other => panic!("{other:?}"),
    }
    // IOS asks three times, then gives up.
    assert_eq!(
        enable_step(&user, "R1>enable\n\n", "Password: "),
        Some(EnableStep::Password)
    );
    assert_eq!(
        enable_step(&user, "R1>enable\n\n\n\n% Bad secrets\n\n", "R1>"),
        Some(EnableStep::Refused("% Bad secrets".into()))
    );
    // EOS refuses at once.
    let eos = refine(&learned("sw1>"), "Arista vEOS").unwrap();
    assert_eq!(
        enable_step(&eos, "sw1>enable\n\n% Access denied\n", "sw1>"),
        Some(EnableStep::Refused("% Access denied".into()))
    );
    // Back at the same prompt without a reason.
    assert_eq!(
        enable_step(&user, "R1>enable\n", "R1>"),
        Some(EnableStep::Refused("the prompt is still \"R1>\"".into()))
    );
    // Families without enable.
    assert_eq!(enable_step(&learned("<HUAWEI>"), "", "Password: "), None);
    assert!(family("juniper_junos").unwrap().enable.is_none());
    // Nokia's prompt does not change; its reply says so.
    let nokia = learned("A:R1# ");
    assert_eq!(
        enable_step(&nokia, "A:R1# enable-admin\n", "Password: "),
        Some(EnableStep::Password)
    );
    assert!(matches!(
        enable_step(
            &nokia,
            "A:R1# enable-admin\n\nMINOR: CLI Already in admin mode.\n",
            "A:R1# "
        ),
        Some(EnableStep::Refused(_))
    ));
    assert!(matches!(
        enable_step(
            &nokia,
            "A:R1# enable-admin\n\nYou are now in admin mode.\n",
            "A:R1# "
        ),
        Some(EnableStep::Done(_))
    ));
}

#[test]
fn interrupt_is_ctrl_caret_on_cisco_ios_and_asa() {
    assert_eq!(family("cisco_ios").unwrap().interrupt, b"\x1e");
    assert_eq!(family("cisco_asa").unwrap().interrupt, b"\x1e");
    for name in [
        "juniper_junos",
        "huawei_vrp",
        "mikrotik_routeros",
        "arista_eos",
        "generic",
    ] {
        assert_eq!(family(name).unwrap().interrupt, b"\x03", "{name}");
    }
}
