//! detect, is_prompt_of, refine, renamed_to.

use super::*;

/// (bytes as the device prints the prompt, family, mode, host, sub-mode)
type PromptSample = (
    &'static [u8],
    &'static str,
    Mode,
    &'static str,
    Option<&'static str>,
);

pub(super) const PROMPTS: &[PromptSample] = &[
    (b"\r\nR1>", "cisco_ios", Mode::User, "R1", None),
    (b"\r\nR1#", "cisco_ios", Mode::Privileged, "R1", None),
    (
        b"R1(config)#",
        "cisco_ios",
        Mode::Config,
        "R1",
        Some("config"),
    ),
    (
        b"R1(config-if)#",
        "cisco_ios",
        Mode::Config,
        "R1",
        Some("config-if"),
    ),
    (
        b"core-sw.lab(config-router)#",
        "cisco_ios",
        Mode::Config,
        "core-sw.lab",
        Some("config-router"),
    ),
    (
        b"sw1(config-if-Et1)#",
        "cisco_ios",
        Mode::Config,
        "sw1",
        Some("config-if-Et1"),
    ),
    // NX-OS with `terminal color persist` colours its prompt (netmiko#164).
    (
        b"\x1b[1;32mn9k\x1b[0m# ",
        "cisco_ios",
        Mode::Privileged,
        "n9k",
        None,
    ),
    (
        b"n9k(conf-tm-dest)#",
        "cisco_nxos",
        Mode::Config,
        "n9k",
        Some("conf-tm-dest"),
    ),
    (
        b"n9k(maint-mode)#",
        "cisco_nxos",
        Mode::Privileged,
        "n9k",
        None,
    ),
    (b"n9k(maint-mode)>", "cisco_nxos", Mode::User, "n9k", None),
    (b"asa/admin>", "cisco_asa", Mode::User, "asa/admin", None),
    (
        b"asa/ctx1(config)#",
        "cisco_asa",
        Mode::Config,
        "asa/ctx1",
        Some("config"),
    ),
    (
        b"asa/admin# ",
        "cisco_asa",
        Mode::Privileged,
        "asa/admin",
        None,
    ),
    (
        b"mcptjunos@vmx1> ",
        "juniper_junos",
        Mode::Operational,
        "vmx1",
        None,
    ),
    (
        b"\r\n[edit]\r\nuser@r1# ",
        "juniper_junos",
        Mode::Config,
        "r1",
        None,
    ),
    (
        b"admin@PA-VM(active)> ",
        "paloalto_panos",
        Mode::Operational,
        "PA-VM",
        Some("active"),
    ),
    (
        b"admin@PA-VM(passive)# ",
        "paloalto_panos",
        Mode::Config,
        "PA-VM",
        Some("passive"),
    ),
    (b"<HUAWEI>", "huawei_vrp", Mode::Operational, "HUAWEI", None),
    (b"HRP_M<fw1>", "huawei_vrp", Mode::Operational, "fw1", None),
    (b"[HUAWEI]", "huawei_vrp", Mode::Config, "HUAWEI", None),
    (b"[~CE1]", "huawei_vrp", Mode::Config, "CE1", None),
    (b"[*CE1]", "huawei_vrp", Mode::Config, "CE1", None),
    (b"RBM_P<H3C>", "hp_comware", Mode::Operational, "H3C", None),
    (
        b"RBM_S[H3C-GigabitEthernet1/0/1]",
        "hp_comware",
        Mode::Config,
        "H3C-GigabitEthernet1/0/1",
        None,
    ),
    (
        b"\x1b[9999B\x1b[m\x1b[K[admin@MikroTik] > ",
        "mikrotik_routeros",
        Mode::Operational,
        "MikroTik",
        None,
    ),
    (
        b"[admin@CCR - new site] > ",
        "mikrotik_routeros",
        Mode::Operational,
        "CCR - new site",
        None,
    ),
    (
        b"[admin@MikroTik] /system identity> ",
        "mikrotik_routeros",
        Mode::Operational,
        "MikroTik",
        Some("/system identity"),
    ),
    (
        b"[admin@MikroTik] <SAFE> > ",
        "mikrotik_routeros",
        Mode::Operational,
        "MikroTik",
        None,
    ),
    (b"A:R1# ", "nokia_sros", Mode::Operational, "R1", None),
    (
        b"*A:R1>config>router# ",
        "nokia_sros",
        Mode::Config,
        "R1",
        Some("config>router"),
    ),
    (
        b"[/]\r\nA:admin@R1# ",
        "nokia_sros",
        Mode::Operational,
        "R1",
        None,
    ),
    (
        b"FGT-1 # ",
        "fortinet_fortios",
        Mode::Operational,
        "FGT-1",
        None,
    ),
    (
        b"FGT-1 (interface) # ",
        "fortinet_fortios",
        Mode::Config,
        "FGT-1",
        Some("interface"),
    ),
    (b"edge01--> ", "generic", Mode::Operational, "edge01", None),
    (b"ns5gt-> ", "generic", Mode::Operational, "ns5gt", None),
];

#[test]
fn every_prompt_shape_is_detected_with_mode_and_host() {
    for (bytes, family, mode, host, sub) in PROMPTS {
        let line = line_of(bytes);
        let d = detect(&line).unwrap_or_else(|| panic!("{line:?} not detected"));
        assert_eq!(d.family.name, *family, "{line:?}");
        assert_eq!(d.mode, *mode, "{line:?}");
        assert_eq!(d.hostname, *host, "{line:?}");
        assert_eq!(d.submode.as_deref(), *sub, "{line:?}");
        assert_eq!(d.prompt, line.trim_start(), "{line:?}");
    }
}

#[test]
fn posix_and_program_prompts_are_not_devices() {
    let lines: &[&[u8]] = &[
        b"user@host:~$ ",
        b"root@vm:~# ",
        b"root@vm:/# ",
        b"root@vm:/etc# ",
        b"[u@h dir]$ ",
        b"[root@centos ~]# ",
        b"bash-5.2$ ",
        b"bash-5.2# ",
        b"sh-5.1# ",
        b"~ $ ",
        b"/ # ",
        b"~ # ",
        b"$ ",
        b"# ",
        b"> ",
        b"% ",
        b"host% ",
        b"user@host ~ % ",
        b"user@host:~> ",
        b"\x1b[01;32muser@host\x1b[00m:\x1b[01;34m~\x1b[00m$ ",
        b"PS C:\\Users\\x> ",
        b"C:\\Users\\x>",
        b">>> ",
        b"irb(main):001:0> ",
        b"Password: ",
        b"--More--",
        b"",
    ];
    for bytes in lines {
        let line = line_of(bytes);
        assert_eq!(detect(&line), None, "{line:?} taken for a device prompt");
    }
}

#[test]
fn mode_changes_are_moves_of_the_same_device() {
    let steps: &[(&str, &[&[u8]])] = &[
        (
            "R1>",
            &[
                b"R1#",
                b"R1(config)#",
                b"R1(config-if)#",
                b"R1(config-router)#",
            ],
        ),
        ("mcptjunos@vmx1> ", &[b"\r\n[edit]\r\nmcptjunos@vmx1# "]),
        (
            "<R1>",
            &[
                b"[R1]",
                b"[~R1]",
                b"[*R1]",
                b"[R1-GigabitEthernet0/0/1]",
                b"[R1-ui-vty0-4]",
            ],
        ),
        (
            "<core-sw1>",
            &[b"[core-sw1]", b"[core-sw1-GigabitEthernet0/0/1]"],
        ),
        ("[admin@MikroTik] > ", &[b"[admin@MikroTik] /interface> "]),
        ("A:R1# ", &[b"*A:R1>config# "]),
    ];
    for (start, moves) in steps {
        let learned = learned(start);
        assert_eq!(
            is_prompt_of(&learned, &line_of(start.as_bytes())),
            Some(PromptMatch::Same)
        );
        for bytes in *moves {
            let line = line_of(bytes);
            match is_prompt_of(&learned, &line) {
                Some(PromptMatch::Moved(d)) => {
                    assert_eq!(d.hostname, learned.hostname, "{line:?}");
                    assert_eq!(d.family, learned.family, "{line:?}");
                }
                other => panic!("{start:?} then {line:?}: {other:?}"),
            }
        }
    }
}

#[test]
fn sub_views_and_shortened_hosts_keep_the_learned_host() {
    let vrp = learned("<core-sw1>");
    let Some(PromptMatch::Moved(d)) = is_prompt_of(&vrp, "[core-sw1-GigabitEthernet0/0/1]") else {
        panic!("sub-view not recognised");
    };
    assert_eq!(d.hostname, "core-sw1");
    assert_eq!(d.submode.as_deref(), Some("GigabitEthernet0/0/1"));
    assert_eq!(d.mode, Mode::Config);

    // IOS shortens long host names in configuration prompts.
    let ios = learned("dc1-core-router-0001>");
    let Some(PromptMatch::Moved(d)) = is_prompt_of(&ios, "dc1-core-router-(config)#") else {
        panic!("shortened host not recognised");
    };
    assert_eq!(d.hostname, "dc1-core-router-0001");
    // Too short a common part is another device.
    assert!(matches!(
        is_prompt_of(&learned("R1>"), "R10#"),
        Some(PromptMatch::Renamed(_))
    ));
}

#[test]
fn a_renamed_host_is_a_prompt_of_the_same_family_to_confirm() {
    let cases: &[(&str, &str, &str)] = &[
        ("R1(config)#", "core1(config)#", "core1"),
        ("mcptjunos@vmx1# ", "mcptjunos@jr2# ", "jr2"),
        ("[HUAWEI]", "[R7]", "R7"),
        ("[admin@MikroTik] > ", "[admin@edge-rtr] > ", "edge-rtr"),
        ("edge01--> ", "edge9--> ", "edge9"),
    ];
    for (start, renamed, host) in cases {
        match is_prompt_of(&learned(start), renamed) {
            Some(PromptMatch::Renamed(d)) => assert_eq!(d.hostname, *host),
            other => panic!("{start:?} then {renamed:?}: {other:?}"),
        }
    }
}

#[test]
fn output_lines_are_not_prompts_of_the_learned_device() {
    let ios = learned("R1#");
    for line in [
        "",
        "   ",
        "interface GigabitEthernet1",
        " description uplink-1",
        "R1#show version",
        "Building configuration...",
        "!!!!!",
        "Router(tcl)#",
        "R1# R2#",
    ] {
        assert_eq!(is_prompt_of(&ios, line), None, "{line:?}");
    }
    // Another family's prompt is not this device's either.
    assert_eq!(is_prompt_of(&ios, "<HUAWEI>"), None);
    assert_eq!(is_prompt_of(&learned("<HUAWEI>"), "R1#"), None);
    // Huawei's software version line in `display current-configuration`.
    assert_eq!(
        is_prompt_of(&learned("<HUAWEI>"), "[V200R009C00SPC500]"),
        None
    );
    // A prompt cut in the middle by a chunk boundary is not a prompt yet.
    assert_eq!(
        is_prompt_of(&learned("[admin@MikroTik] > "), "[admin@Mikro"),
        None
    );
    assert_eq!(
        is_prompt_of(&learned("mcptjunos@vmx1> "), "mcptjunos@vm"),
        None
    );
}

/// Prompts only reached through [`refine`] (their shape is Cisco IOS's): (prompt, family, mode).
pub(super) const REFINED: &[(&str, &str, &str, Mode)] = &[
    ("sw1>", "Arista vEOS", "arista_eos", Mode::User),
    (
        "sw1#",
        "Pagination disabled.",
        "arista_eos",
        Mode::Privileged,
    ),
    ("sw1(config-if-Et1)#", "Arista", "arista_eos", Mode::Config),
    ("n9k#", "NX-OS", "cisco_nxos", Mode::Privileged),
    (
        "asa#",
        "Cisco Adaptive Security Appliance Software",
        "cisco_asa",
        Mode::Privileged,
    ),
    (
        "<H3C>",
        "H3C Comware Software",
        "hp_comware",
        Mode::Operational,
    ),
    ("[H3C]", "Comware", "hp_comware", Mode::Config),
];

#[test]
fn refined_prompts_keep_mode_and_host() {
    for (prompt, text, family, mode) in REFINED {
        let d = refine(&learned(prompt), text).unwrap_or_else(|| panic!("{prompt:?}"));
        assert_eq!((d.family.name, d.mode), (*family, *mode), "{prompt:?}");
        assert_eq!(d.hostname, learned(prompt).hostname);
    }
}

#[test]
fn refine_moves_a_cisco_shaped_prompt_to_the_family_a_reply_names() {
    let router = learned("sw1#");
    assert_eq!(router.family.name, "cisco_ios");
    let eos = refine(&router, "Pagination disabled.\n").expect("EOS");
    assert_eq!(
        (eos.family.name, eos.mode),
        ("arista_eos", Mode::Privileged)
    );
    assert_eq!(eos.hostname, "sw1");
    let nxos = refine(&router, "Cisco Nexus Operating System (NX-OS) Software\n").expect("NX-OS");
    assert_eq!(nxos.family.name, "cisco_nxos");
    assert_eq!(
        refine(&router, "Cisco IOS XE Software, Version 17.09.04a\n"),
        None
    );
    assert_eq!(refine(&router, "nothing to see\n"), None);
    // The prompt must fit the other family too: a Junos-shaped prompt is not EOS.
    assert_eq!(
        refine(&learned("user@r1> "), "Pagination disabled.\n"),
        None
    );
    let panos = refine(&learned("admin@PA-VM> "), "sw-version: 10.1.0\nPAN-OS\n").expect("PAN-OS");
    assert_eq!(panos.family.name, "paloalto_panos");
}

#[test]
fn rename_commands_name_the_new_host() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("cisco_ios", "hostname core1", Some("core1")),
        ("cisco_ios", "  hostname  core1 ", Some("core1")),
        ("cisco_ios", "no hostname", None),
        ("cisco_ios", "show hostname", None),
        ("arista_eos", "hostname leaf1", Some("leaf1")),
        ("juniper_junos", "set system host-name jr2", Some("jr2")),
        ("huawei_vrp", "sysname R7", Some("R7")),
        (
            "mikrotik_routeros",
            "/system identity set name=edge-rtr",
            Some("edge-rtr"),
        ),
        (
            "mikrotik_routeros",
            "/system/identity/set name=\"core 1\"",
            Some("core 1"),
        ),
        ("mikrotik_routeros", "/system identity print", None),
        ("fortinet_fortios", "set hostname FGT-2", Some("FGT-2")),
        ("generic", "set hostname edge9", Some("edge9")),
    ];
    for (name, command, host) in cases {
        let f = family(name).unwrap();
        assert_eq!(
            f.renamed_to(command).as_deref(),
            *host,
            "{name}: {command:?}"
        );
    }
}

#[test]
fn context_lines_belong_to_the_prompt_below() {
    let junos = family("juniper_junos").unwrap();
    for line in [
        "[edit]",
        "[edit interfaces ge-0/0/1]",
        "{master:0}",
        "{primary:node0}",
    ] {
        assert!(junos.is_context_line(line), "{line:?}");
    }
    for line in ["", "[editing]", "edit", "{", "}"] {
        assert!(!junos.is_context_line(line), "{line:?}");
    }
    let nokia = family("nokia_sros").unwrap();
    assert!(nokia.is_context_line("(ex)[/configure router \"Base\"]"));
    assert!(nokia.is_context_line("[/]"));
}

#[test]
fn every_family_compiles_and_names_are_unique() {
    let mut names: Vec<&str> = FAMILIES.iter().map(|f| f.name).collect();
    for f in FAMILIES {
        // Touches every regex of the family.
        let _ = f.parse_prompt("x");
        let _ = f.renamed_to("x");
        let _ = device_error(f, "x");
        assert!(!f.prompts.is_empty(), "{}", f.name);
        assert!(!f.interrupt.is_empty(), "{}", f.name);
    }
    let _ = interstitial("x");
    let _ = pager("x");
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), FAMILIES.len());
    assert_eq!(FAMILIES.last().map(|f| f.name), Some("generic"));
}
