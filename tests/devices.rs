//! The device table (src/devices) against the fake devices, read the way a device dialect
//! reads a session: the PTY bytes through a Stripper, the current line looked at after every
//! chunk (interstitials and pagers answered, prompts recognised), the echo found, the output
//! cleaned and checked for errors, enable and renames followed. This pins that the table and
//! its functions work on devices that behave as the real ones, before the dialect exists.
//! Root-only: skipped with a `SKIP` line when not root, a failure in CI.

mod common;
#[path = "common/device_cli.rs"]
mod device_cli;

use std::time::{Duration, Instant};

use common::require_testbed;
use common::testbed::{DEVICE_JUMP_ALIAS, ENABLE_PASSWORD, TestBed};
use device_cli::{Cli, WAIT};
use mcp_ssh_session::devices::{
    Detected, Echo, EnableStep, Mode, PromptMatch, Reply, Setup, clean_output, detect,
    device_error, echo_end, enable_step, interstitial, is_prompt_of, pager, refine, setup_reply,
};
use mcp_ssh_session::term::{Event, Stripper};

/// How long output must be quiet before a renamed prompt is believed.
const SETTLE: Duration = Duration::from_millis(400);

/// A fake device session read through the device functions.
struct Device {
    cli: Cli,
    stripper: Stripper,
    /// Bytes of `cli.raw` already fed to the stripper.
    fed: usize,
    /// Completed text since the last command was sent.
    text: String,
    learned: Detected,
    /// Login interstitials answered, by name.
    interstitials: Vec<&'static str>,
}

/// What one command gave.
struct Outcome {
    output: String,
    error: Option<String>,
    pagers: usize,
    prompt: PromptMatch,
}

impl Device {
    /// Logs in: answers interstitials until the current line is a device prompt.
    fn open(bed: &TestBed, alias: &str) -> Device {
        let cli = Cli::open(bed, alias);
        let mut device = Device {
            cli,
            stripper: Stripper::new(),
            fed: 0,
            text: String::new(),
            learned: detect("R1>").expect("a placeholder prompt"),
            interstitials: Vec::new(),
        };
        let deadline = Instant::now() + WAIT;
        loop {
            assert!(
                Instant::now() < deadline,
                "{alias}: no prompt: {:?}",
                device.text
            );
            device.step(Duration::from_millis(100));
            let line = device.stripper.partial_line();
            if let Some(i) = interstitial(&line) {
                device.stripper.take_partial_line();
                device.interstitials.push(i.name);
                device.cli.send(i.answer.as_bytes());
            } else if let Some(found) = detect(&line) {
                device.learned = found;
                return device;
            }
        }
    }

    /// Feeds what arrived within `wait` to the stripper; false when nothing did.
    fn step(&mut self, wait: Duration) -> bool {
        self.cli.pump(wait);
        if self.fed == self.cli.raw.len() {
            return false;
        }
        let mut events = Vec::new();
        self.stripper.feed(&self.cli.raw[self.fed..], &mut events);
        self.fed = self.cli.raw.len();
        for event in events {
            if let Event::Text(text) = event {
                self.text.push_str(&text);
            }
        }
        true
    }

    /// Runs one command line until a prompt of the device ends it; re-learns the prompt.
    fn run(&mut self, command: &str) -> Outcome {
        self.text.clear();
        self.cli.line(command);
        let mut pagers = 0;
        let deadline = Instant::now() + WAIT;
        let prompt = loop {
            assert!(
                Instant::now() < deadline,
                "{command:?}: no prompt: {:?} / {:?}",
                self.text,
                self.stripper.partial_line()
            );
            self.step(Duration::from_millis(50));
            let line = self.stripper.partial_line();
            if let Some(p) = pager(&line) {
                self.stripper.take_partial_line();
                self.cli.send(p.answer.as_bytes());
                pagers += 1;
                continue;
            }
            // No prompt counts before the echo's newline (MikroTik repaints the prompt).
            if !self.text.contains('\n') {
                continue;
            }
            match is_prompt_of(&self.learned, &line) {
                Some(PromptMatch::Renamed(found)) => {
                    let announced = self.learned.family.renamed_to(command).as_deref()
                        == Some(found.hostname.as_str());
                    // Believed at once when announced, else only once output has settled.
                    if announced || (!self.step(SETTLE) && self.stripper.partial_line() == line) {
                        break PromptMatch::Renamed(found);
                    }
                }
                Some(m) => break m,
                None => {}
            }
        };
        let line = self.stripper.partial_line();
        let start = match echo_end(&self.learned, command, &self.text) {
            Echo::Ends(end) => end,
            other => panic!("{command:?}: echo {other:?} in {:?}", self.text),
        };
        let output = clean_output(&self.learned, &format!("{}{line}", &self.text[start..]));
        let error = device_error(self.learned.family, &output);
        match &prompt {
            PromptMatch::Same => {}
            PromptMatch::Moved(found) | PromptMatch::Renamed(found) => {
                self.learned = found.clone();
            }
        }
        Outcome {
            output,
            error,
            pagers,
            prompt,
        }
    }

    /// Runs a setup entry line by line and reads the reply.
    fn setup(&mut self, setup: &Setup) -> Reply {
        let reply: String = setup.lines.iter().map(|l| self.run(l).output).collect();
        setup_reply(self.learned.family, setup, &reply)
    }

    /// Turns paging off with the family's alternatives; the last reply.
    fn paging_off(&mut self) -> Reply {
        let mut last = Reply::Unconfirmed;
        for setup in self.learned.family.paging_off() {
            last = self.setup(setup);
            if last == Reply::Accepted {
                break;
            }
        }
        last
    }

    /// `enable` with `secret`: Ok with the privileged prompt learned, or the device's refusal.
    /// A second password prompt means the secret was wrong: it gets empty lines.
    fn enable(&mut self, secret: &str) -> Result<(), String> {
        self.text.clear();
        self.cli.line("enable");
        let mut asked = 0;
        let deadline = Instant::now() + WAIT;
        loop {
            assert!(Instant::now() < deadline, "enable: {:?}", self.text);
            self.step(Duration::from_millis(50));
            let line = self.stripper.partial_line();
            match enable_step(&self.learned, &self.text, &line) {
                Some(EnableStep::Password) => {
                    self.stripper.take_partial_line();
                    self.cli.line(if asked == 0 { secret } else { "" });
                    asked += 1;
                }
                Some(EnableStep::Done(found)) => {
                    self.learned = found;
                    return Ok(());
                }
                Some(EnableStep::Refused(why)) => return Err(why),
                None => {}
            }
        }
    }
}

/// A listing through answered pagers equals the same listing with paging off, line for line.
fn paged_equals_unpaged(device: &mut Device, command: &str, unpaged: &str, min_lines: usize) {
    let paged = device.run(command);
    assert!(paged.pagers >= 3, "{command:?}: {} pagers", paged.pagers);
    assert_eq!(paged.error, None);
    let plain = device.run(unpaged);
    assert_eq!(plain.pagers, 0, "{unpaged:?} still paged");
    assert!(
        plain.output.lines().count() >= min_lines,
        "{unpaged:?}: {} lines",
        plain.output.lines().count()
    );
    assert_eq!(paged.output, plain.output, "{command:?} through the pager");
    assert!(
        !paged.output.to_lowercase().contains("more"),
        "{:?}",
        paged.output
    );
}

fn moved_to(outcome: &Outcome, mode: Mode) -> &Detected {
    match &outcome.prompt {
        PromptMatch::Moved(d) if d.mode == mode => d,
        other => panic!("expected a move to {mode:?}, got {other:?}"),
    }
}

#[test]
fn cisco_ios_through_the_table() {
    let bed = require_testbed!();
    let mut ios = Device::open(bed, "fixture-ios");
    assert_eq!(
        (
            ios.learned.family.name,
            ios.learned.mode,
            ios.learned.hostname.as_str()
        ),
        ("cisco_ios", Mode::User, "R1")
    );
    // Refused in user exec, as IOS-XE does; the pagers get answered instead.
    assert_eq!(
        ios.paging_off(),
        Reply::Refused("% Invalid input detected at '^' marker.".into())
    );
    assert_eq!(ios.enable("wrong-secret"), Err("% Bad secrets".into()));
    assert_eq!(ios.learned.mode, Mode::User);
    let show = ios.run("show running-config");
    assert_eq!(
        show.error.as_deref(),
        Some("% Invalid input detected at '^' marker.")
    );
    ios.enable(ENABLE_PASSWORD).expect("enable");
    assert_eq!(
        (ios.learned.mode, ios.learned.prompt.as_str()),
        (Mode::Privileged, "R1#")
    );

    let paged = ios.run("show running-config");
    assert!(paged.pagers >= 4);
    assert_eq!(ios.paging_off(), Reply::Accepted);
    let plain = ios.run("show running-config");
    assert_eq!(paged.output, plain.output);
    assert!(
        plain
            .output
            .starts_with("Building configuration...\n\nCurrent configuration : ")
    );
    assert!(plain.output.ends_with("!\nend\n"), "{:?}", plain.output);
    assert!(plain.output.lines().count() >= 100);

    let config = ios.run("configure terminal");
    assert_eq!(
        config.output,
        "Enter configuration commands, one per line.  End with CNTL/Z.\n"
    );
    moved_to(&config, Mode::Config);
    let interface = ios.run("interface GigabitEthernet2");
    assert_eq!(
        moved_to(&interface, Mode::Config).submode.as_deref(),
        Some("config-if")
    );
    // A config block: the rejected line is found.
    for (line, rejected) in [
        ("description to core", false),
        ("ip adress 10.0.0.1 255.255.255.0", true),
    ] {
        let out = ios.run(line);
        assert_eq!(out.error.is_some(), rejected, "{line:?}: {:?}", out.output);
    }
    // The command announced the new name: the renamed prompt ends it at once.
    let renamed = ios.run("hostname core1");
    assert!(matches!(&renamed.prompt, PromptMatch::Renamed(d) if d.hostname == "core1"));
    assert_eq!(ios.learned.prompt, "core1(config)#");
    ios.run("end");
    assert_eq!(
        (ios.learned.mode, ios.learned.prompt.as_str()),
        (Mode::Privileged, "core1#")
    );
    let ping = ios.run("ping 192.0.2.1");
    assert!(
        ping.output.ends_with(
            "!!!!!\nSuccess rate is 100 percent (5/5), round-trip min/avg/max = 1/1/2 ms\n"
        ),
        "{:?}",
        ping.output
    );
}

#[test]
fn arista_eos_is_refined_from_its_paging_reply() {
    let bed = require_testbed!();
    let mut eos = Device::open(bed, "fixture-eos");
    assert_eq!(eos.learned.family.name, "cisco_ios");
    let reply = eos.run("terminal length 0").output;
    assert_eq!(reply, "Pagination disabled.\n");
    eos.learned = refine(&eos.learned, &reply).expect("Arista");
    assert_eq!(
        (eos.learned.family.name, eos.learned.mode),
        ("arista_eos", Mode::User)
    );
    let width = eos.learned.family.width().next().unwrap();
    assert_eq!(eos.setup(width), Reply::Accepted);
    assert_eq!(eos.enable("wrong-secret"), Err("% Access denied".into()));
    eos.enable(ENABLE_PASSWORD).expect("enable");
    let bad = eos.run("show bogus");
    assert_eq!(
        bad.error.as_deref(),
        Some("% Invalid input (at token 1: 'bogus')")
    );
    let config = eos.run("configure");
    moved_to(&config, Mode::Config);
    let interface = eos.run("interface Ethernet1");
    assert_eq!(
        moved_to(&interface, Mode::Config).submode.as_deref(),
        Some("config-if-Et1")
    );
}

#[test]
fn junos_pager_config_mode_and_commit_rename() {
    let bed = require_testbed!();
    let mut junos = Device::open(bed, "fixture-junos");
    assert_eq!(
        (junos.learned.family.name, junos.learned.hostname.as_str()),
        ("juniper_junos", "vmx1")
    );
    let paged = junos.run("show configuration");
    assert!(paged.pagers >= 4);
    assert_eq!(junos.paging_off(), Reply::Accepted);
    for setup in junos.learned.family.other_setup() {
        assert_eq!(junos.setup(setup), Reply::Accepted);
    }
    let plain = junos.run("show configuration");
    assert_eq!(paged.output, plain.output);
    assert!(plain.output.lines().count() >= 100);

    let bad = junos.run("show bogus");
    assert_eq!(
        bad.error.as_deref(),
        Some("syntax error, expecting <command>.")
    );
    let configure = junos.run("configure");
    assert_eq!(configure.output, "Entering configuration mode\n");
    moved_to(&configure, Mode::Config);
    let set = junos.run("set system host-name jr2");
    assert_eq!((set.output.as_str(), &set.prompt), ("", &PromptMatch::Same));
    // The rename comes with commit: the new prompt is believed once output settles.
    let commit = junos.run("commit");
    assert_eq!(commit.output, "commit complete\n");
    assert!(matches!(&commit.prompt, PromptMatch::Renamed(d) if d.hostname == "jr2"));
    let exit = junos.run("exit");
    assert_eq!(exit.output, "Exiting configuration mode\n");
    assert_eq!(moved_to(&exit, Mode::Operational).prompt, "mcptjunos@jr2> ");
}

#[test]
fn huawei_interstitial_views_and_pager() {
    let bed = require_testbed!();
    let mut vrp = Device::open(bed, "fixture-huawei");
    assert_eq!(vrp.interstitials, ["password change question"]);
    assert_eq!(
        (vrp.learned.family.name, vrp.learned.prompt.as_str()),
        ("huawei_vrp", "<HUAWEI>")
    );
    let paged = vrp.run("display current-configuration");
    assert_eq!(vrp.paging_off(), Reply::Accepted);
    let plain = vrp.run("display current-configuration");
    assert!(paged.pagers >= 4);
    assert_eq!(paged.output, plain.output);
    assert!(plain.output.contains("\n[V200R009C00SPC500]\n"));

    let bad = vrp.run("display bogus");
    assert_eq!(
        bad.error.as_deref(),
        Some("Error: Unrecognized command found at '^' position.")
    );
    moved_to(&vrp.run("system-view"), Mode::Config);
    vrp.run("sysname R7");
    assert_eq!(vrp.learned.prompt, "[R7]");
    let view = vrp.run("interface GigabitEthernet0/0/1");
    let d = moved_to(&view, Mode::Config);
    assert_eq!(
        (d.hostname.as_str(), d.submode.as_deref()),
        ("R7", Some("GigabitEthernet0/0/1"))
    );
    moved_to(&vrp.run("return"), Mode::Operational);
}

#[test]
fn mikrotik_redraw_pager_and_rename() {
    let bed = require_testbed!();
    let mut mt = Device::open(bed, "fixture-mikrotik");
    assert_eq!(mt.interstitials, ["software licence question"]);
    assert_eq!(mt.learned.family.name, "mikrotik_routeros");
    let identity = mt.run("/system identity print");
    assert_eq!(identity.output, "  name: MikroTik\n");
    paged_equals_unpaged(&mut mt, "/log print", "/log print without-paging", 100);
    let bad = mt.run("/bogus");
    assert_eq!(
        bad.error.as_deref(),
        Some("bad command name bogus (line 1 column 2)")
    );
    // Longer than the terminal: the redraw is broken at the width.
    let name = "a-very-long-router-identity-for-the-wrapping-test-0123456789";
    let renamed = mt.run(&format!("/system identity set name={name}"));
    assert_eq!(renamed.output, "");
    assert_eq!(mt.learned.hostname, name);
    let menu = mt.run("/interface");
    assert_eq!(
        moved_to(&menu, Mode::Operational).submode.as_deref(),
        Some("/interface")
    );
}

#[test]
fn appliance_is_the_generic_family() {
    let bed = require_testbed!();
    let mut box_ = Device::open(bed, "fixture-appliance");
    assert_eq!(box_.interstitials, ["press any key"]);
    assert_eq!(
        (box_.learned.family.name, box_.learned.prompt.as_str()),
        ("generic", "edge01--> ")
    );
    // What a POSIX probe gets: an error line and the prompt again.
    let probe = box_.run("printf '%s\\n' \"$0\"");
    assert!(
        probe
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("Error: unknown command"))
    );
    assert_eq!(probe.prompt, PromptMatch::Same);
    let paged = box_.run("show config");
    assert!(paged.pagers >= 3);
    assert_eq!(paged.output.lines().count(), 100);
    box_.run("set hostname edge9");
    assert_eq!(box_.learned.prompt, "edge9--> ");
}

#[test]
fn device_behind_proxyjump_is_detected() {
    let bed = require_testbed!();
    let mut ios = Device::open(bed, DEVICE_JUMP_ALIAS);
    assert_eq!(ios.learned.prompt, "R1>");
    assert_eq!(
        ios.run("show version").output.lines().next(),
        Some("Cisco IOS XE Software, Version 17.09.04a")
    );
}
