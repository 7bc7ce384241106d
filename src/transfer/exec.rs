//! A non-PTY exec channel through the ControlMaster (`ssh -S CTL -T host 'sh -c ...'`):
//! data through pipes, never through a terminal. Used where sftp is not available and for
//! everything under sudo.
//!
//! sudo runs with `-S` and a prompt of our own: the password is written to its stdin only
//! when that prompt appears, and the script then announces itself (`R`) before any content
//! is sent, so the content can never be taken for a password nor the password for content.
//! A second prompt means the password was refused (sudo says so after about 2 seconds).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, FileProblem, Result};
use crate::secret::Secret;
use crate::session::MasterLease;
use crate::transfer::child::Proc;
use crate::transfer::listing::{self, Entry};
use crate::transfer::script::Script;
use crate::transfer::sftp::{Programs, problem};

/// What a script reads on its stdin.
#[derive(Debug)]
pub(crate) enum Input {
    /// Nothing (EOF at once): a host whose exec channel is not a shell (ForceCommand
    /// internal-sftp, a device CLI) gives up at once instead of waiting for input.
    None,
    /// Bytes we write (content, or sudo's password first).
    Pipe,
    /// A local file, read by ssh itself: nothing passes through this process.
    File(std::fs::File),
}

/// How to run a script under sudo.
#[derive(Debug, Clone, Default)]
pub struct Sudo {
    pub password: Option<Secret>,
}

enum Event {
    Line(String),
    Prompt,
}

pub(crate) struct Exec {
    proc: Proc,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    events: mpsc::UnboundedReceiver<Event>,
    nonce: String,
    label: String,
    lines: Vec<String>,
    /// Bytes of stdout read past the data marker while looking for it.
    pending: Vec<u8>,
    data_started: bool,
    pub sudo_prompted: bool,
}

/// A script's output for a blocking reader (see [`Exec::take_data`]).
pub(crate) struct DataPipe {
    pub head: Vec<u8>,
    pub pipe: std::fs::File,
}

/// A script's report when it ended.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub code: i32,
    /// `X value` lines, in order.
    pub status: Vec<(char, String)>,
    /// Other stderr lines (tool messages, rc-file noise).
    pub other: Vec<String>,
}

impl Report {
    pub fn get(&self, key: char) -> Option<&str> {
        self.status
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, key: char, value: &str) -> bool {
        self.status.iter().any(|(k, v)| *k == key && v == value)
    }

    /// A write script copied the file in place (its owner could not be kept by a rename);
    /// the note that says so.
    pub fn in_place(&self) -> Option<String> {
        self.has('I', "owner").then(|| {
            "the file's owner could not be kept by a rename: it was written in place (not atomically)".to_string()
        })
    }

    /// The first 64 hex digits of an `H` line, or None (no tool on the host).
    pub fn sha256(&self) -> Option<String> {
        let v = self.get('H')?;
        let hex: String = v
            .trim_start_matches('\\')
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        (hex.len() == 64).then(|| hex.to_ascii_lowercase())
    }

    /// The file as the script left it (its `L` line), or why there is none: the script's
    /// own error, or what else it printed.
    pub fn entry(&self, path: &str, what: &str) -> Result<Entry> {
        if let Some(err) = self.error(path) {
            return Err(err);
        }
        self.get('L')
            .and_then(|l| listing::parse(l, listing::today()))
            .ok_or_else(|| {
                let text = self.other_text();
                Error::file(
                    path,
                    problem(&text),
                    format!("the {what} did not finish: {text}"),
                )
            })
    }

    fn other_text(&self) -> String {
        self.other.join("\n")
    }

    /// The script's own error, as a file error on `path`.
    pub fn error(&self, path: &str) -> Option<Error> {
        let e = self.get('E')?;
        let (code, arg) = e.split_once(' ').unwrap_or((e, ""));
        let text = self.other_text();
        let (problem, detail) = match code {
            "isdir" => (FileProblem::IsADirectory, String::new()),
            "notfound" => (FileProblem::NotFound, String::new()),
            "notreg" => (FileProblem::NotRegular, String::new()),
            "denied" => (FileProblem::PermissionDenied, String::new()),
            "noparent" => (FileProblem::ParentMissing, String::new()),
            "notdir" => (FileProblem::NotADirectory, String::new()),
            "mismatch" => (
                FileProblem::Mismatch,
                "the SHA-256 of what arrived differs from what was sent; the old file is unchanged"
                    .into(),
            ),
            // What cut it short (a full disk, a denied directory) is in the tool's message.
            "short" => (
                problem(&text),
                format!(
                    "the transfer was cut short ({} bytes arrived; the old file is unchanged){}",
                    if arg.is_empty() { "no" } else { arg },
                    if text.is_empty() {
                        String::new()
                    } else {
                        format!(": {text}")
                    }
                ),
            ),
            other => (problem(&text), format!("{other} failed: {text}")),
        };
        Some(Error::file(path, problem, detail))
    }
}

impl Exec {
    /// Starts `script` through the master and waits until it runs (after sudo's password,
    /// when `sudo` is given).
    pub async fn start(
        programs: &Programs,
        lease: &MasterLease,
        script: &Script,
        input: Input,
        sudo: Option<&Sudo>,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<Exec> {
        let nonce = format!("MCP{}", &uuid::Uuid::new_v4().simple().to_string()[..20]);
        let prompt = format!("MCPSUDO{nonce}:");
        let argv = Programs::through_master(programs.ssh.argv(), &lease.socket)
            .arg("-T")
            .arg("-e")
            .arg("none")
            .destination(&lease.target.host)
            .arg(script.command_line(&nonce, sudo.map(|_| prompt.as_str())));
        // sudo's password always goes through our pipe.
        let stdin = match (input, sudo) {
            (_, Some(_)) | (Input::Pipe, None) => std::process::Stdio::piped(),
            (Input::None, None) => std::process::Stdio::null(),
            (Input::File(f), None) => std::process::Stdio::from(f),
        };
        let mut proc = Proc::spawn(
            &argv,
            &[],
            stdin,
            std::process::Stdio::piped(),
            std::process::Stdio::piped(),
        )?;
        let stdin = proc.child().stdin.take();
        let stdout = proc.child().stdout.take();
        let stderr = proc.child().stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(watch_stderr(stderr, prompt, tx));
        let mut exec = Exec {
            proc,
            stdin,
            stdout,
            events: rx,
            nonce,
            label: lease.label.clone(),
            lines: Vec::new(),
            pending: Vec::new(),
            data_started: false,
            sudo_prompted: false,
        };
        exec.wait_ready(sudo, timeout, cancel).await?;
        Ok(exec)
    }

    async fn wait_ready(
        &mut self,
        sudo: Option<&Sudo>,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<()> {
        let ready = format!("{}:R", self.nonce);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut typed = false;
        loop {
            let ev = tokio::select! {
                ev = self.events.recv() => ev,
                _ = tokio::time::sleep_until(deadline) => {
                    self.proc.kill();
                    return Err(Error::Disconnected {
                        dest: self.label.clone(),
                        detail: format!("the remote command did not start within {}s", timeout.as_secs()),
                    });
                }
                _ = cancel.cancelled() => {
                    self.proc.kill();
                    return Err(Error::Cancelled);
                }
            };
            match ev {
                Some(Event::Line(l)) if l == ready => return Ok(()),
                Some(Event::Line(l)) => self.lines.push(l),
                Some(Event::Prompt) => {
                    self.sudo_prompted = true;
                    let password = sudo.and_then(|s| s.password.as_ref());
                    let refuse = |detail: &str| Error::file("sudo", FileProblem::Sudo, detail);
                    match password {
                        None => {
                            self.proc.kill();
                            return Err(refuse(
                                "sudo asked for a password and none was given: pass sudo_password (or set OVRD_<host>_SUDO_PASS)",
                            ));
                        }
                        Some(_) if typed => {
                            self.proc.kill();
                            return Err(refuse("sudo rejected the password (wrong sudo_password)"));
                        }
                        Some(pw) => {
                            typed = true;
                            let Some(stdin) = self.stdin.as_mut() else {
                                continue;
                            };
                            let line = format!("{}\n", pw.expose());
                            if stdin.write_all(line.as_bytes()).await.is_err() {
                                continue;
                            }
                            let _ = stdin.flush().await;
                        }
                    }
                }
                None => {
                    let code = self.proc.finish(Duration::from_secs(2)).await;
                    let text = self.lines.join("\n");
                    // The host's exec channel was proved to run a POSIX shell before any
                    // sudo run (`Files::exec`): ended before the ready line, sudo refused.
                    let under_sudo = sudo.is_some();
                    return Err(if under_sudo {
                        Error::file("sudo", FileProblem::Sudo, text)
                    } else {
                        Error::file(
                            &self.label,
                            FileProblem::NoTransport,
                            format!(
                                "the exec channel gave no POSIX shell (exit code {code}){}",
                                if text.is_empty() {
                                    String::new()
                                } else {
                                    format!(": {text}")
                                }
                            ),
                        )
                    });
                }
            }
        }
    }

    /// Where content goes (writes, uploads).
    pub fn stdin(&mut self) -> Option<&mut ChildStdin> {
        self.stdin.as_mut()
    }

    /// Reads stdout up to the script's data marker, dropping what came before it (rc-file
    /// noise). False when the script ended without one (its report says why).
    async fn reach_data(&mut self, cancel: &CancellationToken) -> Result<bool> {
        let marker = format!("{}:D\n", self.nonce);
        let mut chunk = vec![0u8; 64 * 1024];
        while !self.data_started {
            let Some(stdout) = self.stdout.as_mut() else {
                return Ok(false);
            };
            let k = tokio::select! {
                r = stdout.read(&mut chunk) => r.map_err(|e| Error::io("reading from the exec channel", e))?,
                _ = cancel.cancelled() => { self.proc.kill(); return Err(Error::Cancelled) }
            };
            self.pending.extend_from_slice(&chunk[..k]);
            if let Some(at) = find(&self.pending, marker.as_bytes()) {
                self.pending.drain(..at + marker.len());
                self.data_started = true;
            } else if k == 0 {
                return Ok(false);
            } else if self.pending.len() > 1 << 20 {
                // Keep enough to find a marker cut in two.
                let keep = self.pending.len() - marker.len();
                self.pending.drain(..keep);
            }
        }
        Ok(true)
    }

    /// Reads data the script prints after its data marker; 0 at the end.
    pub async fn read_data(&mut self, buf: &mut [u8], cancel: &CancellationToken) -> Result<usize> {
        if !self.reach_data(cancel).await? {
            return Ok(0);
        }
        if !self.pending.is_empty() {
            let n = buf.len().min(self.pending.len());
            buf[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            return Ok(n);
        }
        let Some(stdout) = self.stdout.as_mut() else {
            return Ok(0);
        };
        tokio::select! {
            r = stdout.read(buf) => r.map_err(|e| Error::io("reading from the exec channel", e)),
            _ = cancel.cancelled() => { self.proc.kill(); Err(Error::Cancelled) }
        }
    }

    /// The data after the marker for a blocking reader: what arrived with the marker, and
    /// the pipe itself (in blocking mode). None when the script ended without data.
    pub async fn take_data(&mut self, cancel: &CancellationToken) -> Result<Option<DataPipe>> {
        if !self.reach_data(cancel).await? {
            return Ok(None);
        }
        let Some(stdout) = self.stdout.take() else {
            return Ok(None);
        };
        let fd = stdout
            .into_owned_fd()
            .map_err(|e| Error::io("taking the exec channel's output", e))?;
        // tokio left it non-blocking.
        // SAFETY: fcntl(2) on a descriptor we own.
        unsafe {
            use std::os::fd::AsRawFd;
            let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
        Ok(Some(DataPipe {
            head: std::mem::take(&mut self.pending),
            pipe: std::fs::File::from(fd),
        }))
    }

    pub fn pid(&self) -> Option<u32> {
        self.proc.pid()
    }

    /// A status line (`X value`) that has already arrived, without waiting.
    pub fn status_now(&mut self, key: char) -> Option<String> {
        while let Ok(ev) = self.events.try_recv() {
            if let Event::Line(l) = ev {
                self.lines.push(l);
            }
        }
        let prefix = format!("{}:{key} ", self.nonce);
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
    }

    /// Closes stdin (end of content), waits for the script and returns its report.
    pub async fn finish(self, cancel: &CancellationToken) -> Result<Report> {
        self.finish_watched(cancel, &mut || {}).await
    }

    /// Like [`Exec::finish`], calling `tick` every 250 ms meanwhile (progress).
    pub async fn finish_watched(
        mut self,
        cancel: &CancellationToken,
        tick: &mut (dyn FnMut() + Send),
    ) -> Result<Report> {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.shutdown().await;
        }
        // Unread data is not wanted: drop the pipe so the remote side cannot block on it.
        self.stdout = None;
        let prefix = format!("{}:", self.nonce);
        let mut report = Report::default();
        let mut lines = std::mem::take(&mut self.lines);
        let mut ticker = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                ev = self.events.recv() => match ev {
                    Some(Event::Line(l)) => lines.push(l),
                    Some(Event::Prompt) => {}
                    None => break,
                },
                _ = ticker.tick() => tick(),
                _ = cancel.cancelled() => {
                    self.proc.kill();
                    return Err(Error::Cancelled);
                }
            }
        }
        report.code = tokio::select! {
            c = self.proc.wait() => c,
            _ = cancel.cancelled() => { self.proc.kill(); return Err(Error::Cancelled) }
        };
        for l in lines {
            match l.strip_prefix(&prefix).and_then(|r| {
                let mut c = r.chars();
                let k = c.next()?;
                Some((k, c.as_str().trim_start().to_string()))
            }) {
                Some(kv) => report.status.push(kv),
                None => report.other.push(l),
            }
        }
        Ok(report)
    }

    /// Ends the channel at once (cancelled or abandoned transfer).
    pub fn kill(&mut self) {
        self.proc.kill();
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Splits stderr into lines, and reports sudo's prompt (which ends without a newline).
async fn watch_stderr(
    mut stderr: tokio::process::ChildStderr,
    prompt: String,
    tx: mpsc::UnboundedSender<Event>,
) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 8192];
    loop {
        let n = match stderr.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Some(i) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\n', '\r']);
            // A prompt followed by a newline (sudo printing more on the same line).
            if let Some(rest) = text.strip_prefix(prompt.as_str()) {
                let _ = tx.send(Event::Prompt);
                if !rest.is_empty() {
                    let _ = tx.send(Event::Line(rest.to_string()));
                }
                continue;
            }
            let _ = tx.send(Event::Line(text.to_string()));
        }
        let partial = String::from_utf8_lossy(&buf);
        if partial.contains(prompt.as_str())
            || partial.starts_with("[sudo] password for")
            || partial.trim_end() == "Password:"
        {
            buf.clear();
            if tx.send(Event::Prompt).is_err() {
                break;
            }
        }
    }
    if !buf.is_empty() {
        let _ = tx.send(Event::Line(String::from_utf8_lossy(&buf).into_owned()));
    }
}
