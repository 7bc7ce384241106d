//! The device dialect fed by hand, the way the shell actor feeds it: bytes through a Stripper,
//! completed text, and the unterminated line after every chunk.

use super::*;
use crate::devices::detect;
use crate::secret::Secret;
use crate::term::{Event, Stripper};

/// A dialect with a stripper in front, as the actor holds them.
struct Session {
    d: DeviceDialect,
    stripper: Stripper,
    /// Everything typed so far.
    typed: Vec<u8>,
    output: String,
    done: Vec<Completion>,
    waiting: bool,
}

impl Session {
    fn ios() -> Session {
        let mut s = Session {
            d: DeviceDialect::new(detect("R1>").unwrap(), Vec::new()),
            stripper: Stripper::new(),
            typed: Vec::new(),
            output: String::new(),
            done: Vec::new(),
            waiting: false,
        };
        let mut out = Actions::default();
        s.d.open(&mut out);
        s.apply(out);
        s
    }

    fn apply(&mut self, mut out: Actions) {
        for a in out.drain() {
            match a {
                Action::Write(b) => self.typed.extend(b),
                Action::Secret(p) => {
                    self.typed.extend(p.expose().as_bytes());
                    self.typed.push(b'\n');
                }
                Action::Output(t) => self.output.push_str(&t),
                Action::TakePartial => {
                    self.stripper.take_partial_line();
                }
                Action::Complete(c) => self.done.push(c),
                Action::AwaitInput(_) => self.waiting = true,
                _ => {}
            }
        }
    }

    /// The device prints `bytes`.
    fn device(&mut self, bytes: &[u8]) {
        let mut events = Vec::new();
        self.stripper.feed(bytes, &mut events);
        let mut out = Actions::default();
        for e in events {
            if let Event::Text(t) = e {
                self.d.on_text(&t, &mut out);
            }
        }
        let partial = self.stripper.partial_line();
        self.d.on_partial(&partial, false, &mut out);
        self.apply(out);
    }

    fn typed(&mut self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut self.typed)).into_owned()
    }

    /// Answers the set-up (Enter, `terminal length 0`, `terminal width 511`) as IOS does in
    /// privileged mode.
    fn open_privileged(&mut self) {
        assert_eq!(self.typed(), "\r");
        self.device(b"\r\nR1#");
        assert_eq!(self.typed(), "terminal length 0\r");
        self.device(b"terminal length 0\r\nR1#");
        assert_eq!(self.typed(), "terminal width 511\r");
        self.device(b"terminal width 511\r\nR1#");
        assert!(self.d.ready());
    }

    fn run(&mut self, text: &str, enable: Option<(&Secret, &str)>) {
        let spec = CommandSpec {
            seq: 1,
            text,
            sudo_password: None,
            enable: enable
                .map(|(password, command)| crate::session::dialect::Enable { password, command }),
        };
        let mut out = Actions::default();
        self.d.begin(&spec, &mut out);
        self.apply(out);
    }
}

#[test]
fn open_learns_the_prompt_and_turns_paging_off() {
    let mut s = Session::ios();
    s.open_privileged();
    assert_eq!(s.d.learned.prompt, "R1#");
    assert!(s.d.paging_off);
    assert_eq!(s.d.name(), "cisco_ios");
}

#[test]
fn a_command_ends_at_the_prompt_with_its_echo_pagers_and_prompt_removed() {
    let mut s = Session::ios();
    s.open_privileged();
    s.run("show run", None);
    assert_eq!(s.typed(), "show run\r");
    // Echo split across chunks, output, a pager with IOS's erasure, the prompt.
    s.device(b"show r");
    s.device(b"un\r\nBuilding configuration...\r\n\r\nline 1\r\n --More-- ");
    assert_eq!(s.typed(), " ", "the pager gets the continue key");
    let mut erase = vec![0x08; 9];
    erase.extend_from_slice(&[b' '; 9]);
    erase.extend_from_slice(&[0x08; 9]);
    erase.extend_from_slice(b"line 2\r\nend\r\n\r\nR1#");
    s.device(&erase);
    assert_eq!(
        s.output,
        "Building configuration...\n\nline 1\nline 2\nend\n"
    );
    assert_eq!(s.done.len(), 1);
    let c = &s.done[0];
    assert_eq!(
        (c.status, c.exit_code, c.device_error.as_deref()),
        (JobStatus::Completed, None, None)
    );
    assert!(s.d.ready());
}

#[test]
fn a_prompt_shaped_line_in_the_output_does_not_end_the_command() {
    let mut s = Session::ios();
    s.open_privileged();
    s.run("show logging", None);
    s.typed();
    // The prompt text at the start of a completed line is output.
    s.device(b"show logging\r\nR1#reload by admin\r\nR1#");
    assert_eq!(s.output, "R1#reload by admin\n");
    assert_eq!(s.done.len(), 1);
}

#[test]
fn a_config_block_stops_at_the_first_rejected_line() {
    let mut s = Session::ios();
    s.open_privileged();
    s.run(
        "configure terminal\nhostname core1\nip adress 1.2.3.4\ninterface Gi2\nend",
        None,
    );
    assert_eq!(s.typed(), "configure terminal\r");
    s.device(b"configure terminal\r\nEnter configuration commands, one per line.  End with CNTL/Z.\r\nR1(config)#");
    assert_eq!(s.typed(), "hostname core1\r");
    // The rename was announced by the command: its prompt ends the line at once.
    s.device(b"hostname core1\r\ncore1(config)#");
    assert_eq!(s.d.learned.prompt, "core1(config)#");
    assert_eq!(s.typed(), "ip adress 1.2.3.4\r");
    s.device(b"ip adress 1.2.3.4\r\n        ^\r\n% Invalid input detected at '^' marker.\r\n\r\ncore1(config)#");
    assert_eq!(s.typed(), "", "nothing after the rejected line");
    let c = &s.done[0];
    assert_eq!(
        c.device_error.as_deref(),
        Some("% Invalid input detected at '^' marker.")
    );
}

#[test]
fn enable_types_the_secret_once_and_a_wrong_one_fails_cleanly() {
    let mut s = Session::ios();
    assert_eq!(s.typed(), "\r");
    s.device(b"\r\nR1>");
    // IOS-XE refuses paging off in user exec.
    assert_eq!(s.typed(), "terminal length 0\r");
    s.device(b"terminal length 0\r\n                ^\r\n% Invalid input detected at '^' marker.\r\n\r\nR1>");
    s.typed();
    s.device(b"terminal width 511\r\nR1>");
    assert!(s.d.ready());
    let wrong = Secret::new("wrong-one").unwrap();
    s.run("show run", Some((&wrong, "enable")));
    assert_eq!(s.typed(), "enable\r");
    s.device(b"enable\r\nPassword: ");
    assert_eq!(s.typed(), "wrong-one\n");
    s.device(b"\r\nPassword: ");
    assert_eq!(s.typed(), "\r", "asked again: never the secret twice");
    s.device(b"\r\nPassword: ");
    s.typed();
    s.device(b"\r\n% Bad secrets\r\n\r\nR1>");
    let c = &s.done[0];
    assert_eq!(c.status, JobStatus::Failed);
    assert!(
        c.error.as_deref().unwrap().contains("% Bad secrets"),
        "{c:?}"
    );
    assert!(s.d.ready(), "the session stays usable");
    // The right one: privileged, paging retried, then the command.
    let right = Secret::new("s3cret").unwrap();
    s.run("show clock", Some((&right, "enable")));
    assert_eq!(s.typed(), "enable\r");
    s.device(b"enable\r\nPassword: ");
    assert_eq!(s.typed(), "s3cret\n");
    s.device(b"\r\nR1#");
    assert_eq!(s.d.learned.mode, Mode::Privileged);
    assert_eq!(
        s.typed(),
        "terminal length 0\r",
        "paging is retried once privileged"
    );
    s.device(b"terminal length 0\r\nR1#");
    assert_eq!(s.typed(), "show clock\r");
    s.device(b"show clock\r\n*10:00:00.000 UTC Mon Nov 30 2026\r\nR1#");
    assert_eq!(s.done.len(), 2);
    assert_eq!(s.done[1].status, JobStatus::Completed);
    assert!(s.output.ends_with("*10:00:00.000 UTC Mon Nov 30 2026\n"));
}

#[test]
fn enter_is_a_carriage_return_for_a_device() {
    let d = DeviceDialect::new(detect("R1>").unwrap(), Vec::new());
    assert_eq!(d.input(b"yes\n".to_vec()), b"yes\r");
    assert_eq!(d.input(b"a\r\nb\n".to_vec()), b"a\rb\r");
}
