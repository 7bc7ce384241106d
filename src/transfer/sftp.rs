//! One `sftp -b -` per operation, through the ControlMaster, driven one command at a time.
//!
//! Each command is sent as a batch line starting with `-` (sftp goes on after an error,
//! which we read ourselves) and followed by a comment line holding a nonce. sftp echoes
//! every batch line as `sftp> LINE` once the previous command has finished, so the echo of
//! our comment marks the end of the command's output; stdout and stderr share one pipe so
//! that errors arrive in order. A remote file name cannot forge the marker: it never sees
//! the nonce.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::ChildStdin;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, FileProblem, Result};
use crate::session::MasterLease;
use crate::ssh::{Argv, SshProgram};
use crate::transfer::child::{Proc, split_output_pipe};
use crate::transfer::listing::{self, Entry};
use crate::transfer::path;

/// The OpenSSH programs a transfer runs.
#[derive(Debug, Clone)]
pub struct Programs {
    pub ssh: SshProgram,
    pub sftp: PathBuf,
}

impl Programs {
    /// `sftp` next to the ssh binary when there is one (same OpenSSH install), else on PATH.
    pub fn new(ssh: SshProgram) -> Programs {
        let sibling = ssh
            .program
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(|d| d.join("sftp"))
            .filter(|p| p.is_file());
        let sftp = sibling
            .or_else(|| which::which("sftp").ok())
            .unwrap_or_else(|| PathBuf::from("sftp"));
        Programs { ssh, sftp }
    }

    /// Options that send a client through the master and nowhere else: if the master is
    /// gone, ssh would otherwise open a new connection of its own; `ProxyCommand=false`
    /// makes that attempt fail at once, without touching the network, and BatchMode keeps
    /// it from ever prompting.
    pub fn through_master(argv: Argv, socket: &Path) -> Argv {
        argv.opt("ControlPath", socket.display())
            .opt("ControlMaster", "no")
            .opt("BatchMode", "yes")
            .opt("ProxyCommand", "false")
    }
}

pub(crate) struct Sftp {
    proc: Proc,
    /// Dropped to end the session (EOF on sftp's batch input).
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    nonce: String,
    seq: u64,
    label: String,
    /// The login user's home directory (sftp starts there).
    pub home: String,
    /// The login user, as the master authenticated.
    pub user: Option<String>,
}

/// sftp could not start a session; what it printed.
pub(crate) struct NotStarted(pub String);

impl Sftp {
    /// Starts sftp through the master; `fifo` is a free path in a private directory (the
    /// output pipe is made there and removed at once).
    pub async fn start(
        programs: &Programs,
        lease: &MasterLease,
        fifo: &Path,
        cancel: &CancellationToken,
    ) -> Result<std::result::Result<Sftp, NotStarted>> {
        let mut argv = Argv {
            program: programs.sftp.clone(),
            args: Vec::new(),
        };
        if let Some(cfg) = &programs.ssh.config {
            argv = argv.arg("-F").arg(cfg);
        }
        argv = argv.arg("-S").arg(&programs.ssh.program).arg("-b").arg("-");
        let argv = Programs::through_master(argv, &lease.socket).destination(&lease.target.host);
        let (reader, writer, writer2) = split_output_pipe(fifo)
            .map_err(|e| Error::io("creating a pipe for sftp's output", e))?;
        // In a UTF-8 locale sftp prints non-ASCII names as they are, not as octal escapes.
        let mut proc = Proc::spawn(
            &argv,
            &[("LC_ALL", "C.UTF-8")],
            std::process::Stdio::piped(),
            writer.into(),
            writer2.into(),
        )?;
        let stdin = proc.child().stdin.take();
        let (tx, rx) = mpsc::channel(256);
        std::thread::Builder::new()
            .name("sftp-reader".into())
            .spawn(move || {
                let mut r = std::io::BufReader::with_capacity(64 * 1024, reader);
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    match r.read_until(b'\n', &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    while matches!(buf.last(), Some(b'\n' | b'\r')) {
                        buf.pop();
                    }
                    if tx
                        .blocking_send(String::from_utf8_lossy(&buf).into_owned())
                        .is_err()
                    {
                        break;
                    }
                }
            })
            .map_err(|e| Error::io("starting the sftp reader thread", e))?;
        let user = lease.user.clone();
        let mut s = Sftp {
            proc,
            stdin,
            lines: rx,
            nonce: uuid::Uuid::new_v4().simple().to_string(),
            seq: 0,
            label: lease.label.clone(),
            home: String::new(),
            user,
        };
        match s.run("pwd", cancel).await {
            Ok(out) => {
                let home = out
                    .iter()
                    .find_map(|l| l.strip_prefix("Remote working directory: "))
                    .map(str::to_string);
                match home {
                    Some(h) => {
                        s.home = h;
                        Ok(Ok(s))
                    }
                    None => Ok(Err(NotStarted(out.join("\n")))),
                }
            }
            Err(Error::Disconnected { detail, .. }) => Ok(Err(NotStarted(detail))),
            Err(e) => Err(e),
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.proc.pid()
    }

    /// Runs one batch line; its output lines (empty for success of most commands).
    pub async fn run(&mut self, line: &str, cancel: &CancellationToken) -> Result<Vec<String>> {
        Ok(self.run_lines(line, cancel).await?.lines)
    }

    /// Like [`Sftp::run`], with the count of lines past [`MAX_LINES`].
    async fn run_lines(&mut self, line: &str, cancel: &CancellationToken) -> Result<Lines> {
        self.run_counted(line, cancel, Duration::from_secs(3600), &mut || false)
            .await
    }

    /// Like [`Sftp::run`], calling `watch` every `every` while the command runs (progress,
    /// or enough bytes read). When `watch` returns true, sftp is stopped at once and the
    /// output so far is returned; the session cannot be used after that.
    pub async fn run_watched(
        &mut self,
        line: &str,
        cancel: &CancellationToken,
        every: Duration,
        watch: &mut (dyn FnMut() -> bool + Send),
    ) -> Result<Vec<String>> {
        Ok(self.run_counted(line, cancel, every, watch).await?.lines)
    }

    /// Runs one batch line, keeping at most [`MAX_LINES`] of its output and counting the rest.
    async fn run_counted(
        &mut self,
        line: &str,
        cancel: &CancellationToken,
        every: Duration,
        watch: &mut (dyn FnMut() -> bool + Send),
    ) -> Result<Lines> {
        self.seq += 1;
        let marker = format!("# {}-{}", self.nonce, self.seq);
        let echo = format!("sftp> {marker}");
        let mut out = Vec::new();
        let mut dropped = 0;
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(self.ended(out).await);
        };
        let sent = stdin
            .write_all(format!("{line}\n{marker}\n").as_bytes())
            .await;
        if sent.is_err() {
            return Err(self.ended(out).await);
        }
        let _ = stdin.flush().await;
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            tokio::select! {
                l = self.lines.recv() => match l {
                    None => return Err(self.ended(out).await),
                    Some(l) if l == echo => return Ok(Lines { lines: out, dropped }),
                    Some(l) if l.starts_with("sftp> ") => {}
                    Some(l) => {
                        // A listing can be long: memory stays bounded, and the count of
                        // what was left out lets the caller say so.
                        if out.len() < MAX_LINES {
                            out.push(l);
                        } else {
                            dropped += 1;
                        }
                    }
                },
                _ = ticker.tick() => if watch() {
                    self.proc.kill();
                    return Ok(Lines { lines: out, dropped });
                },
                _ = cancel.cancelled() => {
                    self.proc.kill();
                    return Err(Error::Cancelled);
                }
            }
        }
    }

    async fn ended(&mut self, out: Vec<String>) -> Error {
        let code = self.proc.finish(Duration::from_secs(2)).await;
        let text = out.join("\n");
        Error::Disconnected {
            dest: self.label.clone(),
            detail: format!(
                "sftp ended (exit code {code}){}",
                if text.is_empty() {
                    String::new()
                } else {
                    format!(": {text}")
                }
            ),
        }
    }

    /// Ends the session: EOF on its input, then a short wait.
    pub async fn close(mut self) {
        drop(self.stdin.take());
        self.proc.finish(Duration::from_secs(2)).await;
    }

    /// Runs a command that prints nothing when it succeeds; its output is the error.
    pub async fn quiet(
        &mut self,
        command: &str,
        args: &[&str],
        subject: &str,
        cancel: &CancellationToken,
    ) -> Result<()> {
        let out = self.run(&path::batch_line(command, args)?, cancel).await?;
        check_quiet(out, subject)
    }

    /// `Some(true)` for a directory, `Some(false)` for something else, `None` when missing.
    pub async fn is_dir(&mut self, p: &str, cancel: &CancellationToken) -> Result<Option<bool>> {
        let out = self.run(&path::batch_line("cd", &[p])?, cancel).await?;
        if out.is_empty() {
            return Ok(Some(true));
        }
        let text = out.join("\n");
        match problem(&text) {
            FileProblem::NotADirectory if text.contains("is not a directory") => Ok(Some(false)),
            // A missing path, or a file where a directory should be on the way to it.
            FileProblem::NotFound | FileProblem::NotADirectory => Ok(None),
            other => Err(Error::file(p, other, text)),
        }
    }

    /// The entry for `p` as its directory lists it (not following a symlink), or None. An
    /// error when that cannot be known: the directory cannot be listed, or it has so many
    /// entries that the listing was cut before the name.
    pub async fn lstat(&mut self, p: &str, cancel: &CancellationToken) -> Result<Option<Entry>> {
        let (dir, name) = path::split(p);
        let listed = match self.list(&dir, cancel).await {
            Ok(l) => l,
            Err(Error::RemoteFile {
                problem: FileProblem::NotFound,
                ..
            }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let unlisted = listed.unlisted;
        match listed.entries.into_iter().find(|e| e.name == name) {
            Some(e) => Ok(Some(e)),
            None if unlisted > 0 => Err(Error::file(
                p,
                FileProblem::Other,
                format!(
                    "{dir} has more than {MAX_ENTRIES} entries; the listing was cut before the name"
                ),
            )),
            None => Ok(None),
        }
    }

    /// The one entry of a path that is not a directory, following a symlink (a dangling
    /// one shows as the link), or None when sftp lists nothing for it.
    pub async fn entry(&mut self, p: &str, cancel: &CancellationToken) -> Result<Option<Entry>> {
        Ok(self.list(p, cancel).await?.entries.into_iter().next())
    }

    /// `ls -la`: a directory's entries (names relative to it, `.` and `..` left out), or the
    /// one entry of a file (named by its full path), following symlinks. About
    /// [`MAX_ENTRIES`] entries at most; `unlisted` counts the lines past them.
    pub async fn list(&mut self, p: &str, cancel: &CancellationToken) -> Result<Listed> {
        let out = self
            .run_lines(&path::batch_line("ls -la", &[p])?, cancel)
            .await?;
        let today = listing::today();
        let prefix = if p.ends_with('/') {
            p.to_string()
        } else {
            format!("{p}/")
        };
        let mut entries = Vec::with_capacity(out.lines.len());
        let mut errors = Vec::new();
        for l in out.lines {
            match listing::parse(&l, today) {
                Some(mut e) => {
                    if let Some(rel) = e.name.strip_prefix(&prefix) {
                        e.name = rel.to_string();
                    }
                    if e.name != "." && e.name != ".." {
                        entries.push(e);
                    }
                }
                // A name holding a newline continues on the next line.
                None if !l.starts_with("Can't ")
                    && !l.starts_with("remote ")
                    && entries.last().is_some() =>
                {
                    let last = entries.last_mut().expect("checked");
                    last.name.push('\n');
                    last.name.push_str(&l);
                }
                None => errors.push(l),
            }
        }
        if entries.is_empty() && !errors.is_empty() {
            let text = errors.join("\n");
            let problem = problem(&text);
            return Err(Error::file(p, problem, text));
        }
        Ok(Listed {
            entries,
            unlisted: out.dropped,
        })
    }

    /// Free space in bytes of the file system holding `dir` (`df`), if the server says.
    pub async fn available(&mut self, dir: &str, cancel: &CancellationToken) -> Option<u64> {
        let out = self
            .run(&path::batch_line("df", &[dir]).ok()?, cancel)
            .await
            .ok()?;
        // "Size Used Avail (root) %Capacity" in KiB, then the numbers.
        let nums: Vec<u64> = out
            .last()?
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        nums.get(2).map(|kib| kib * 1024)
    }
}

/// Entries one listing keeps (a directory with more is listed up to here, and says so).
pub const MAX_ENTRIES: usize = 200_000;

/// Lines an sftp session keeps for one command: a listing's entries after `.` and `..`.
const MAX_LINES: usize = MAX_ENTRIES + 2;

/// A command's output lines, and how many more it printed past [`MAX_LINES`].
struct Lines {
    lines: Vec<String>,
    dropped: usize,
}

/// What `ls -la` listed: about [`MAX_ENTRIES`] entries at most, and the number of lines past them
/// (about as many entries; a name holding a newline takes more than one).
#[derive(Debug)]
pub struct Listed {
    pub entries: Vec<Entry>,
    pub unlisted: usize,
}

/// The output of a command that prints nothing on success.
fn check_quiet(out: Vec<String>, subject: &str) -> Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    let text = out.join("\n");
    Err(Error::file(subject, problem(&text), text))
}

/// What an sftp (or shell) error message says went wrong.
pub fn problem(text: &str) -> FileProblem {
    let l = text.to_ascii_lowercase();
    if l.contains("permission denied") || l.contains("operation not permitted") {
        FileProblem::PermissionDenied
    } else if l.contains("not a regular file") {
        FileProblem::NotRegular
    } else if l.contains("is a directory") {
        FileProblem::IsADirectory
    } else if l.contains("not a directory") {
        FileProblem::NotADirectory
    } else if l.contains("no space left") || l.contains("quota exceeded") {
        FileProblem::DiskFull
    } else if l.contains("read-only file system") {
        FileProblem::ReadOnly
    } else if l.contains("no such file") || l.contains("not found") {
        FileProblem::NotFound
    } else {
        FileProblem::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sftp_messages() {
        for (text, p) in [
            (
                "File \"/home/u/t/missing\" not found.",
                FileProblem::NotFound,
            ),
            (
                "remote open \"/etc/shadow\": Permission denied",
                FileProblem::PermissionDenied,
            ),
            (
                "download /home/u/t/dir/: not a regular file",
                FileProblem::NotRegular,
            ),
            (
                "stat remote: No such file or directory",
                FileProblem::NotFound,
            ),
            (
                "Can't change directory: \"/x/f\" is not a directory",
                FileProblem::NotADirectory,
            ),
            ("write remote \"/m/y\": Failure", FileProblem::Other),
            (
                "sh: 1: cannot create /ro/x: Read-only file system",
                FileProblem::ReadOnly,
            ),
        ] {
            assert_eq!(problem(text), p, "{text}");
        }
    }
}
