//! An `ssh -tt` session to a fake device in a PTY of its own, for tests/fakes.rs and
//! tests/devices.rs (included with `#[path]`).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use mcp_ssh_session::term::{Event, Stripper};
use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};
use regex::Regex;

use crate::common::testbed::TestBed;

/// Liveness bound for one expectation (generous: the machine is shared and slow).
pub const WAIT: Duration = Duration::from_secs(30);
pub const CTRL_C: &[u8] = b"\x03";

/// One `ssh -tt` session to a fake device in a PTY of its own.
pub struct Cli {
    pub name: String,
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    rx: mpsc::Receiver<Vec<u8>>,
    /// Everything received.
    pub raw: Vec<u8>,
    /// Start of what the next expectation looks at.
    pub mark: usize,
}

impl Cli {
    pub fn open(bed: &TestBed, alias: &str) -> Cli {
        Cli::open_sized(bed, alias, 80, 24)
    }

    pub fn open_sized(bed: &TestBed, alias: &str, cols: u16, rows: u16) -> Cli {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let mut cmd = CommandBuilder::new("ssh");
        cmd.arg("-F");
        cmd.arg(bed.ssh_config());
        cmd.args(["-o", "BatchMode=yes", "-e", "none", "-tt", "--", alias]);
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("SSH_AUTH_SOCK");
        let child = pty.slave.spawn_command(cmd).expect("spawning ssh");
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().expect("pty reader");
        let writer = pty.master.take_writer().expect("pty writer");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Cli {
            name: alias.to_string(),
            master: pty.master,
            writer,
            child,
            rx,
            raw: Vec::new(),
            mark: 0,
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("writing to the pty");
        self.writer.flush().expect("flushing the pty");
    }

    /// Types a command line and Enter (CR, as a terminal sends it).
    pub fn line(&mut self, text: &str) {
        self.send(format!("{text}\r").as_bytes());
    }

    /// Moves whatever has arrived into `raw`, waiting up to `limit` for the first piece.
    /// False when the stream ended.
    pub fn pump(&mut self, limit: Duration) -> bool {
        match self.rx.recv_timeout(limit) {
            Ok(data) => {
                self.raw.extend_from_slice(&data);
                while let Ok(data) = self.rx.try_recv() {
                    self.raw.extend_from_slice(&data);
                }
                true
            }
            Err(mpsc::RecvTimeoutError::Timeout) => true,
            Err(mpsc::RecvTimeoutError::Disconnected) => false,
        }
    }

    /// What a terminal shows for the bytes since the mark: completed lines, then the current
    /// line.
    pub fn rendered(&self) -> String {
        render(&self.raw[self.mark..])
    }

    /// Waits until the rendered text since the mark matches `pattern`; returns that text and
    /// moves the mark past everything received so far.
    pub fn expect(&mut self, pattern: &str) -> String {
        let re = Regex::new(pattern).expect("test regex");
        let deadline = Instant::now() + WAIT;
        loop {
            let text = self.rendered();
            if re.is_match(&text) {
                self.mark = self.raw.len();
                return text;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero() && self.pump(left.min(Duration::from_millis(200))),
                "{}: no {pattern:?} within {WAIT:?}; got {text:?}\nraw: {:?}",
                self.name,
                String::from_utf8_lossy(&self.raw[self.mark..])
            );
        }
    }

    /// Waits until the raw bytes since the mark contain `needle`; returns the raw bytes up to
    /// and including it and moves the mark past it.
    pub fn expect_raw(&mut self, needle: &[u8]) -> Vec<u8> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(at) = find(&self.raw[self.mark..], needle) {
                let end = self.mark + at + needle.len();
                let got = self.raw[self.mark..end].to_vec();
                self.mark = end;
                return got;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero() && self.pump(left.min(Duration::from_millis(200))),
                "{}: no {:?} within {WAIT:?}; raw: {:?}",
                self.name,
                String::from_utf8_lossy(needle),
                String::from_utf8_lossy(&self.raw[self.mark..])
            );
        }
    }

    /// Sends `command` and returns the rendered text up to the prompt matched by `prompt`.
    pub fn run(&mut self, command: &str, prompt: &str) -> String {
        self.line(command);
        self.expect(prompt)
    }

    /// Everything received in the next `d` (for "nothing happens" checks).
    pub fn collect_for(&mut self, d: Duration) -> String {
        let end = Instant::now() + d;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            if !self.pump(left) {
                break;
            }
        }
        self.rendered()
    }

    /// Waits for ssh to exit (the device closed the session); its exit code.
    pub fn wait_exit(&mut self) -> u32 {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.exit_code();
            }
            assert!(Instant::now() < deadline, "{}: ssh did not exit", self.name);
            self.pump(Duration::from_millis(100));
        }
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = &self.master;
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The text a terminal shows for `bytes`, through the crate's line model.
pub fn render(bytes: &[u8]) -> String {
    let mut stripper = Stripper::new();
    let mut events = Vec::new();
    stripper.feed(bytes, &mut events);
    let mut text: String = events
        .into_iter()
        .filter_map(|e| match e {
            Event::Text(t) => Some(t),
            _ => None,
        })
        .collect();
    text.push_str(&stripper.partial_line());
    text
}
