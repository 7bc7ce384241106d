//! The vendor table: one [`Family`] per CLI, from the sources in `notes/devices.md` (Netmiko,
//! scrapli, NOC, Oxidized) and the fake devices in `fixtures/devices/`. Order matters where
//! prompt shapes overlap: [`detect`](super::detect) takes the first family whose prompt
//! matches, so the most specific shapes come first and families that share Cisco's shape
//! follow Cisco IOS (they are told apart by [`refine`](super::refine)). Host names inside
//! negated classes are unbounded (`+`): prompts are at most 256 characters anyway, and a
//! bounded repetition of a Unicode class costs megabytes of automaton. The generic family,
//! last, catches appliance prompts that are clearly not POSIX shells (`edge01-->`).

use super::{
    ConfigMode, Enable, Family, InterstitialPattern, Mode, PagerPattern, PromptPattern, Setup,
    SetupKind,
};

const CTRL_C: &[u8] = b"\x03";
/// Ctrl-^ (Ctrl-Shift-6): Cisco's escape sequence, what breaks a ping or traceroute.
const CTRL_CARET: &[u8] = b"\x1e";

const SPACE: &str = " ";

/// The IOS-style password question of `enable`.
const ENABLE_PASSWORD: &str = r"(?i)^(?:enable )?password: ?$";

/// `host>`, `host#`, `host(config-if)#`: Cisco IOS's prompts, shared by Arista EOS. A host
/// name before `>` does not end in `-` (that is an appliance's `host-->`).
const CISCO_PROMPTS: &[PromptPattern] = &[
    PromptPattern {
        mode: Mode::Config,
        pattern: r"^(?P<host>[A-Za-z0-9][\w.\-]{0,62})\((?P<sub>config[\w.\-@/:+]{0,63})\)#$",
    },
    PromptPattern {
        mode: Mode::Privileged,
        pattern: r"^(?P<host>[A-Za-z0-9][\w.\-]{0,62})#$",
    },
    PromptPattern {
        mode: Mode::User,
        pattern: r"^(?P<host>[A-Za-z0-9](?:[\w.\-]{0,61}[\w.])?)>$",
    },
];

/// A shell whose prompt is only its name and version (`bash-5.2#`, `sh-5.1#`): Cisco-shaped,
/// not a device.
const SHELL_LOOKALIKE: &str = r"^\w*sh-\d+(?:\.\d+)*[>#]$";

/// Paging off and a wide terminal, the Cisco IOS way (NX-OS too).
const CISCO_TERMINAL: &[Setup] = &[
    Setup {
        kind: SetupKind::Paging,
        lines: &["terminal length 0"],
        confirm: None,
    },
    Setup {
        kind: SetupKind::Width,
        lines: &["terminal width 511"],
        confirm: None,
    },
];

/// Questions that can stand between login and the first prompt, with conservative answers
/// (never the one that changes something).
pub static INTERSTITIALS: &[InterstitialPattern] = &[
    InterstitialPattern {
        name: "password change question",
        pattern: r"(?i)change now\? ?\[Y/N\] ?:?$",
        answer: "N\r",
    },
    InterstitialPattern {
        name: "software licence question",
        pattern: r"(?i)^do you want to see the software license\? ?\[Y/n\] ?:?$",
        answer: "n",
    },
    InterstitialPattern {
        name: "disclaimer",
        pattern: r"(?i)\(press 'a' to accept\) ?:?$",
        answer: "a",
    },
    InterstitialPattern {
        name: "press Y or Enter",
        pattern: r"(?i)press y or enter to continue",
        answer: "\r",
    },
    InterstitialPattern {
        name: "press Enter",
        pattern: r#"(?i)^(?:please )?press "?(?:enter|return)"? (?:key )?to continue"#,
        answer: "\r",
    },
    InterstitialPattern {
        name: "press any key",
        pattern: r"(?i)^[\[(<*-]*\s*(?:press|hit) any key to continue",
        answer: "\r",
    },
];

/// The families, most specific prompt shapes first.
pub static FAMILIES: &[Family] = &[
    Family {
        name: "juniper_junos",
        vendor: "Juniper Junos",
        prompts: &[
            PromptPattern {
                mode: Mode::Operational,
                pattern: r"^(?P<user>[\w.\-]+)@(?P<host>[A-Za-z0-9][\w.\-]*)>$",
            },
            PromptPattern {
                mode: Mode::Config,
                pattern: r"^(?P<user>[\w.\-]+)@(?P<host>[A-Za-z0-9][\w.\-]*)#$",
            },
        ],
        not_prompts: &[],
        context_lines: &[
            r"^\[edit(?: [^\]]*)?\]$",
            r"^\{(?:master|backup|primary|secondary|linecard|line)(?::[\w.\-]+)?\}$",
        ],
        view_separator: None,
        setup: &[
            Setup {
                kind: SetupKind::Paging,
                lines: &["set cli screen-length 0"],
                confirm: Some(r"Screen length set to 0"),
            },
            Setup {
                kind: SetupKind::Width,
                lines: &["set cli screen-width 511"],
                confirm: Some(r"Screen width set to"),
            },
            Setup {
                kind: SetupKind::Other,
                lines: &["set cli complete-on-space off"],
                confirm: Some(r"Disabling complete-on-space"),
            },
        ],
        pagers: &[PagerPattern {
            pattern: r"^---\(more(?: \d+%)?\)---$",
            answer: SPACE,
        }],
        enable: None,
        config: Some(ConfigMode {
            enter: "configure",
            leave: "exit configuration-mode",
        }),
        errors: &[
            r"^unknown command\.",
            r"^syntax error",
            r"^'.+' is ambiguous\.",
            r"^missing mandatory argument",
            r"^invalid numeric value",
            r"^error: ",
            r"^No valid completions",
        ],
        rename: &[r"^\s*set\s+system\s+host-name\s+(?P<host>\S+)"],
        interrupt: CTRL_C,
        signatures: &[r"JUNOS", r"Junos: "],
    },
    Family {
        name: "paloalto_panos",
        vendor: "Palo Alto PAN-OS",
        prompts: &[
            PromptPattern {
                mode: Mode::Operational,
                pattern: r"^(?P<user>[\w.\-]+)@(?P<host>[A-Za-z0-9][\w.\-]*)(?:\((?P<sub>[\w\-]+)\))?>$",
            },
            PromptPattern {
                mode: Mode::Config,
                pattern: r"^(?P<user>[\w.\-]+)@(?P<host>[A-Za-z0-9][\w.\-]*)(?:\((?P<sub>[\w\-]+)\))?#$",
            },
        ],
        not_prompts: &[],
        context_lines: &[r"^\[edit(?: [^\]]*)?\]$"],
        view_separator: None,
        setup: &[
            Setup {
                kind: SetupKind::Paging,
                lines: &["set cli pager off"],
                confirm: None,
            },
            Setup {
                kind: SetupKind::Width,
                lines: &["set cli terminal width 500"],
                confirm: None,
            },
        ],
        pagers: &[],
        enable: None,
        config: Some(ConfigMode {
            enter: "configure",
            leave: "exit",
        }),
        errors: &[
            r"^Unknown command:",
            r"^Invalid syntax\.",
            r"^Server error",
            r"^Validation Error:",
        ],
        rename: &[r"^\s*set\s+deviceconfig\s+system\s+hostname\s+(?P<host>\S+)"],
        interrupt: CTRL_C,
        signatures: &[r"PAN-OS", r"Palo Alto Networks"],
    },
    Family {
        name: "mikrotik_routeros",
        vendor: "MikroTik RouterOS",
        prompts: &[PromptPattern {
            mode: Mode::Operational,
            pattern: r"^\[(?P<user>[\w.+\-]{1,48})@(?P<host>[^\]]+)\](?: <SAFE>)?(?: (?P<sub>/[^>]*?))? ?>$",
        }],
        not_prompts: &[],
        context_lines: &[],
        view_separator: None,
        setup: &[],
        pagers: &[PagerPattern {
            pattern: r"^-- \[Q quit\|D dump\|down\]$",
            answer: SPACE,
        }],
        enable: None,
        config: None,
        errors: &[
            r"^bad command name ",
            r"^syntax error \(line",
            r"^expected end of command",
            r"^expected command name",
            r"^no such item",
            r"^invalid value for",
            r"^input does not match any value",
            r"^failure: ",
        ],
        rename: &[r#"^\s*/?system[\s/]+identity[\s/]+set\s+(?:.*\s)?name=(?P<host>"[^"]*"|\S+)"#],
        interrupt: CTRL_C,
        signatures: &[r"MikroTik"],
    },
    Family {
        name: "huawei_vrp",
        vendor: "Huawei VRP",
        prompts: &[
            PromptPattern {
                mode: Mode::Operational,
                pattern: r"^(?:HRP_[AMS])?<(?P<host>[^<>\[\]\s]+)>$",
            },
            PromptPattern {
                mode: Mode::Config,
                pattern: r"^(?:HRP_[AMS])?\[[~*]{0,2}(?P<host>[^<>\[\]\s]+)\]$",
            },
        ],
        // The software version line of `display current-configuration`.
        not_prompts: &[r"^\[V\d{3}R\d{3}"],
        context_lines: &[],
        view_separator: Some('-'),
        setup: &[Setup {
            kind: SetupKind::Paging,
            lines: &["screen-length 0 temporary"],
            confirm: Some(r"takes effect"),
        }],
        pagers: &[
            PagerPattern {
                pattern: r"^-{4} More -{4}$",
                answer: SPACE,
            },
            PagerPattern {
                pattern: r"^-{4} More \( Press 'Q' to break \) -{4}$",
                answer: SPACE,
            },
        ],
        enable: None,
        config: Some(ConfigMode {
            enter: "system-view",
            leave: "return",
        }),
        errors: &[
            r"^Error: ?",
            r"^% ?(?:Unrecognized command|Wrong parameter|Incomplete command|Ambiguous command|Too many parameters)",
        ],
        rename: &[r"^\s*sysname\s+(?P<host>\S+)"],
        interrupt: CTRL_C,
        signatures: &[r"(?i)huawei", r"VRP \(R\) software"],
    },
    Family {
        name: "hp_comware",
        vendor: "H3C / HPE Comware",
        prompts: &[
            PromptPattern {
                mode: Mode::Operational,
                pattern: r"^(?:RBM_[PS])?<(?P<host>[^<>\[\]\s]+)>$",
            },
            PromptPattern {
                mode: Mode::Config,
                pattern: r"^(?:RBM_[PS])?\[(?P<host>[^<>\[\]\s]+)\]$",
            },
        ],
        not_prompts: &[],
        context_lines: &[],
        view_separator: Some('-'),
        setup: &[Setup {
            kind: SetupKind::Paging,
            lines: &["screen-length disable"],
            confirm: None,
        }],
        pagers: &[PagerPattern {
            pattern: r"^-{4} More -{4}$",
            answer: SPACE,
        }],
        enable: None,
        config: Some(ConfigMode {
            enter: "system-view",
            leave: "return",
        }),
        errors: &[
            r"^% ?(?:Unrecognized command|Too many parameters|Incomplete command|Ambiguous command|Wrong parameter)",
        ],
        rename: &[r"^\s*sysname\s+(?P<host>\S+)"],
        interrupt: CTRL_C,
        signatures: &[r"H3C", r"Comware"],
    },
    Family {
        name: "nokia_sros",
        vendor: "Nokia SR OS",
        prompts: &[
            PromptPattern {
                mode: Mode::Config,
                pattern: r"^\*?[A-D]:(?P<host>[\w.\-]+)>(?P<sub>config[\w>.\-]*)#$",
            },
            PromptPattern {
                mode: Mode::Operational,
                pattern: r"^\*?[A-D]:(?P<user>[\w.\-]+)@(?P<host>[\w.\-]+)#$",
            },
            PromptPattern {
                mode: Mode::Operational,
                pattern: r"^\*?[A-D]:(?P<host>[\w.\-]+)#$",
            },
        ],
        not_prompts: &[],
        // MD-CLI prints the context above the prompt: `[/]`, `(ex)[/configure router]`.
        context_lines: &[r"^\*?(?:\((?:ex|pr|gl|ro)\))?\[[^\]]*\]$"],
        view_separator: None,
        setup: &[
            Setup {
                kind: SetupKind::Paging,
                lines: &["environment no more"],
                confirm: None,
            },
            Setup {
                kind: SetupKind::Paging,
                lines: &["environment more false"],
                confirm: None,
            },
            Setup {
                kind: SetupKind::Width,
                lines: &["environment console width 512"],
                confirm: None,
            },
        ],
        pagers: &[PagerPattern {
            pattern: r"^Press any key to continue.*$",
            answer: SPACE,
        }],
        enable: Some(Enable {
            command: "enable-admin",
            password_prompt: ENABLE_PASSWORD,
            rejected: r"(?i)invalid password|^MINOR:",
            confirm: Some(r"in admin mode"),
        }),
        config: Some(ConfigMode {
            enter: "configure",
            leave: "exit all",
        }),
        errors: &[
            r"^MINOR:",
            r"^MAJOR:",
            r"^CRITICAL:",
            r"^Error:",
            r"^Bad Command:",
        ],
        rename: &[r#"^\s*(?:/configure\s+)?system\s+name\s+(?P<host>"[^"]*"|\S+)"#],
        interrupt: CTRL_C,
        signatures: &[r"TiMOS", r"Nokia"],
    },
    Family {
        name: "fortinet_fortios",
        vendor: "Fortinet FortiOS",
        prompts: &[
            PromptPattern {
                mode: Mode::Config,
                pattern: r"^(?P<host>[A-Za-z0-9][\w.\-]*) \((?P<sub>[\w.\-]+)\) #$",
            },
            PromptPattern {
                mode: Mode::Operational,
                pattern: r"^(?P<host>[A-Za-z0-9][\w.\-]*) #$",
            },
        ],
        not_prompts: &[],
        context_lines: &[],
        view_separator: None,
        setup: &[Setup {
            kind: SetupKind::Paging,
            lines: &["config system console", "set output standard", "end"],
            confirm: None,
        }],
        pagers: &[PagerPattern {
            pattern: r"^--More--$",
            answer: SPACE,
        }],
        enable: None,
        config: None,
        errors: &[
            r"^Unknown action",
            r"^Command fail",
            r"^Return code -?\d+",
            r"^command parse error",
        ],
        rename: &[r#"^\s*set\s+hostname\s+(?P<host>"[^"]*"|\S+)"#],
        interrupt: CTRL_C,
        signatures: &[r"FortiGate", r"FortiOS"],
    },
    Family {
        name: "cisco_ios",
        vendor: "Cisco IOS / IOS-XE",
        prompts: CISCO_PROMPTS,
        not_prompts: &[SHELL_LOOKALIKE],
        context_lines: &[],
        view_separator: None,
        setup: CISCO_TERMINAL,
        pagers: &[PagerPattern {
            pattern: r"^-{2}\s?More\s?-{2}$",
            answer: SPACE,
        }],
        enable: Some(Enable {
            command: "enable",
            password_prompt: ENABLE_PASSWORD,
            rejected: r"(?m)^% ?(?:Bad secrets|Access denied|Error in authentication|No password set)",
            confirm: None,
        }),
        config: Some(ConfigMode {
            enter: "configure terminal",
            leave: "end",
        }),
        errors: &[
            r"^% ?Invalid input detected",
            r"^% ?Incomplete command",
            r"^% ?Ambiguous command",
            r"^% ?Unknown command",
            r"^% ?Unrecognized command",
            r"^% ?Bad secrets",
            r"^% ?Bad (?:IP address|mask)",
            r"^% ?Error\b",
            r"^% ?Access denied",
            r"^Command authorization failed",
            r"^Command rejected",
        ],
        rename: &[r"^\s*hostname\s+(?P<host>\S+)\s*$"],
        interrupt: CTRL_CARET,
        signatures: &[r"Cisco IOS(?:-XE| XE)? Software"],
    },
    Family {
        name: "cisco_nxos",
        vendor: "Cisco NX-OS",
        prompts: &[
            PromptPattern {
                mode: Mode::Config,
                pattern: r"^(?P<host>[A-Za-z0-9][\w.\-]{0,62})(?:\(maint-mode\))?\((?P<sub>conf[\w.\-@/:+]{0,32})\)#$",
            },
            PromptPattern {
                mode: Mode::Privileged,
                pattern: r"^(?P<host>[A-Za-z0-9][\w.\-]{0,62})(?:\(maint-mode\))?#$",
            },
            PromptPattern {
                mode: Mode::User,
                pattern: r"^(?P<host>[A-Za-z0-9](?:[\w.\-]{0,61}[\w.])?)(?:\(maint-mode\))?>$",
            },
        ],
        not_prompts: &[SHELL_LOOKALIKE, r"\(config-tcl\)#$"],
        context_lines: &[],
        view_separator: None,
        setup: CISCO_TERMINAL,
        pagers: &[PagerPattern {
            pattern: r"^-{2}More-{2}$",
            answer: SPACE,
        }],
        enable: Some(Enable {
            command: "enable",
            password_prompt: ENABLE_PASSWORD,
            rejected: r"(?m)^% ?(?:Bad secrets|Access denied|Permission denied)",
            confirm: None,
        }),
        config: Some(ConfigMode {
            enter: "configure terminal",
            leave: "end",
        }),
        errors: &[
            r"^% ?Invalid input detected",
            r"^% ?Invalid command at",
            r"^% ?Invalid parameter",
            r"^% ?Invalid number at",
            r"^% ?Incomplete command",
            r"^% ?Ambiguous command",
            r"(?i)^error:",
            r"^syntax error",
        ],
        rename: &[r"^\s*hostname\s+(?P<host>\S+)\s*$"],
        interrupt: CTRL_C,
        signatures: &[r"Cisco Nexus Operating System", r"NX-OS"],
    },
    Family {
        name: "cisco_asa",
        vendor: "Cisco ASA",
        prompts: &[
            PromptPattern {
                mode: Mode::Config,
                pattern: r"^(?P<host>[A-Za-z0-9][\w./\-]{0,62})\((?P<sub>config[\w\-]{0,32})\)#$",
            },
            PromptPattern {
                mode: Mode::Privileged,
                pattern: r"^(?P<host>[A-Za-z0-9][\w./\-]{0,62})#$",
            },
            PromptPattern {
                mode: Mode::User,
                pattern: r"^(?P<host>[A-Za-z0-9](?:[\w./\-]{0,61}[\w.])?)>$",
            },
        ],
        not_prompts: &[SHELL_LOOKALIKE],
        context_lines: &[],
        view_separator: None,
        setup: &[Setup {
            kind: SetupKind::Paging,
            lines: &["terminal pager 0"],
            confirm: None,
        }],
        pagers: &[PagerPattern {
            pattern: r"^<--- More --->$",
            answer: SPACE,
        }],
        enable: Some(Enable {
            command: "enable",
            password_prompt: ENABLE_PASSWORD,
            rejected: r"(?m)^(?:Invalid password|% ?Bad secrets|Access denied)",
            confirm: None,
        }),
        config: Some(ConfigMode {
            enter: "configure terminal",
            leave: "end",
        }),
        errors: &[
            r"^ERROR: ",
            r"^% ?Invalid input detected",
            r"^% ?Incomplete command",
            r"^% ?Ambiguous command",
            r"^Command authorization failed",
        ],
        rename: &[r"^\s*hostname\s+(?P<host>\S+)\s*$"],
        interrupt: CTRL_CARET,
        signatures: &[
            r"Cisco Adaptive Security Appliance",
            r"Type help or '\?' for a list of available commands",
        ],
    },
    Family {
        name: "arista_eos",
        vendor: "Arista EOS",
        prompts: CISCO_PROMPTS,
        not_prompts: &[SHELL_LOOKALIKE],
        context_lines: &[],
        view_separator: None,
        setup: &[
            Setup {
                kind: SetupKind::Paging,
                lines: &["terminal length 0"],
                confirm: Some(r"Pagination disabled"),
            },
            Setup {
                kind: SetupKind::Width,
                lines: &["terminal width 32767"],
                confirm: Some(r"Width set to"),
            },
        ],
        pagers: &[PagerPattern {
            pattern: r"^-{2}\s?More\s?-{2}$",
            answer: SPACE,
        }],
        enable: Some(Enable {
            command: "enable",
            password_prompt: ENABLE_PASSWORD,
            rejected: r"(?m)^% ?(?:Access denied|Authentication failed|Bad secret)",
            confirm: None,
        }),
        config: Some(ConfigMode {
            enter: "configure terminal",
            leave: "end",
        }),
        errors: &[
            r"^% ?Invalid input",
            r"^% ?Incomplete command",
            r"^% ?Ambiguous command",
            r"^% ?Error",
            r"^% ?Cannot commit",
            r"^% ?Unavailable command",
            r"^% ?Access denied",
        ],
        rename: &[r"^\s*hostname\s+(?P<host>\S+)\s*$"],
        interrupt: CTRL_C,
        signatures: &[
            r"Arista",
            r"vEOS",
            r"Pagination (?:disabled|set to)",
            r"Width set to \d+ columns",
        ],
    },
    Family {
        name: "generic",
        vendor: "network appliance",
        prompts: &[PromptPattern {
            mode: Mode::Operational,
            pattern: r"^(?P<host>[A-Za-z0-9](?:[\w.\-]*[\w.])?) ?-{1,2}>$",
        }],
        not_prompts: &[],
        context_lines: &[],
        view_separator: None,
        setup: &[],
        pagers: &[
            PagerPattern {
                pattern: r"(?i)^-{2,} ?more ?-{2,} ?press q or ctrl\+c to break ?-{2,}$",
                answer: SPACE,
            },
            PagerPattern {
                pattern: r"(?i)^-- ?more ?--$",
                answer: SPACE,
            },
        ],
        enable: None,
        config: None,
        errors: &[
            r"^% ?(?:Error|Invalid|Unknown|Unrecognized|Incomplete|Ambiguous|Bad)\b",
            r"(?i)^(?:error|syntax error|invalid (?:command|input)|unknown command|unrecognized command|bad command)\b",
            r"(?i)\bcommand not found\b",
        ],
        rename: &[r"(?i)^\s*(?:set\s+)?hostname\s+(?P<host>\S+)\s*$"],
        interrupt: CTRL_C,
        signatures: &[],
    },
];

/// The family named `name` (`cisco_ios`, `juniper_junos`...).
pub fn family(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.name == name)
}
