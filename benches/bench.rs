//! End-to-end benchmark: the MCP server (the built binary, driven over stdio JSON-RPC) next
//! to the raw OpenSSH floor, on the same loopback sshd test bed.
//!
//! ```text
//! cargo bench                                # full run (needs root: it starts the sshd)
//! cargo bench --bench bench -- --smoke       # a few iterations of everything, < 30 s
//! MCP_BENCH_SMOKE=1 cargo bench              # the same
//! cargo bench --bench bench -- --hold-bed    # only start the bed (for profiling by hand)
//! cargo bench --bench bench -- --only files  # one part: round-trips, new-hosts, throughput,
//!                                            # device, files, concurrency (repeatable)
//! ```
//!
//! `cargo bench` passes `--bench` and gets the full run; without it (as `cargo test
//! --all-targets` runs benches) the smoke mode runs, which fails only when something errors,
//! never on a timing. The full run prints a table (ours, floor, ratio, target, PASS/MISS) and
//! writes it as markdown to `<target dir>/bench.md`.
//!
//! What is measured (medians unless said otherwise):
//! 1. Round trip of `execute_command("true")` / `("echo hi")` on a warm session and of a no-op
//!    tool call (`list_sessions`), next to the same command in an already open `ssh -tt` shell
//!    delimited by a printf marker, and `ssh -S CTL host true` through a warm master.
//! 2. First command on a new host, next to a plain `ssh host true`.
//! 3. A second session (a parallel shell while the main one is busy) through the existing
//!    master, next to a new `ssh -S CTL -tt` shell up to its first marker.
//! 4. Throughput of a command printing 100 MB, next to raw `ssh host CMD > /dev/null`.
//! 5. 20 sessions each running 50 commands at once.
//! 6. Server RSS with 20 idle sessions, and its peak while a command prints 10 / 100 MB.
//! 7. upload_file and download_file of a 50 MB random file (size and SHA-256 checked on both
//!    ends), next to plain `sftp` of the same file through a warm master and over a new
//!    connection.
//! 8. A network device (the fake Cisco IOS): connect to the first result of a new session,
//!    next to a plain `ssh -tt` login up to the device's prompt; a warm `show running-config`
//!    (100+ lines) through the pager, and with paging off.

#[path = "../fixtures/testbed.rs"]
mod testbed;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};
use serde_json::{Value, json};
use testbed::TestBed;

type Res<T> = Result<T, String>;

/// The server binary, built by cargo with the same profile as this benchmark.
const SERVER_BIN: &str = env!("CARGO_BIN_EXE_mcp-ssh-session");
/// The alias (user mcptkey, key login) used for single-session measurements.
const HOST: &str = "fixture";
/// Users with key login and bash, for hosts named freely (`Host *` maps them to the bed).
const BENCH_USERS: &[&str] = &["mcptkey", "mcptsudo"];
const CALL_TIMEOUT: Duration = Duration::from_secs(300);
/// 99 characters + newline: 100-byte lines.
const LINE: &str = "0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopq";

// -------------------------------------------------------------------------------------------
// Plan

struct Plan {
    full: bool,
    /// Parts to run (`--only`); empty: all of them.
    only: Vec<String>,
    /// Calls per round-trip metric (true, echo hi, list_sessions), interleaved.
    round_trips: usize,
    /// Commands in the open-shell floor.
    shell_floor: usize,
    /// `ssh -S CTL host true` runs.
    master_floor: usize,
    /// New `ssh -S CTL -tt` shells (second-session floor).
    mux_shells: usize,
    /// New hosts (first command + second session), interleaved with plain `ssh host true`.
    new_hosts: usize,
    /// Runs of the big-output command, ours and raw each.
    throughput_runs: usize,
    big_bytes: u64,
    small_bytes: u64,
    sessions: usize,
    commands_per_session: usize,
    /// New device sessions (and plain logins) timed.
    device_logins: usize,
    /// Warm `show running-config` runs, paged and unpaged each.
    device_listings: usize,
    /// Size of the file moved by upload_file/download_file and by plain sftp.
    transfer_bytes: u64,
    /// Runs of each transfer, ours and plain sftp interleaved.
    transfer_runs: usize,
}

impl Plan {
    fn full() -> Plan {
        Plan {
            full: true,
            only: Vec::new(),
            round_trips: 300,
            shell_floor: 500,
            master_floor: 200,
            mux_shells: 30,
            new_hosts: 15,
            throughput_runs: 3,
            big_bytes: 100_000_000,
            small_bytes: 10_000_000,
            sessions: 20,
            commands_per_session: 50,
            device_logins: 10,
            device_listings: 30,
            transfer_bytes: 50_000_000,
            transfer_runs: 7,
        }
    }

    fn smoke() -> Plan {
        Plan {
            full: false,
            only: Vec::new(),
            round_trips: 5,
            shell_floor: 5,
            master_floor: 3,
            mux_shells: 2,
            new_hosts: 2,
            throughput_runs: 1,
            big_bytes: 2_000_000,
            small_bytes: 200_000,
            sessions: 3,
            commands_per_session: 3,
            device_logins: 1,
            device_listings: 2,
            transfer_bytes: 2_000_000,
            transfer_runs: 1,
        }
    }

    /// Whether the part named `part` runs (see `--only`).
    fn wants(&self, part: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| p == part)
    }
}

const PARTS: &[&str] = &[
    "round-trips",
    "new-hosts",
    "throughput",
    "device",
    "files",
    "concurrency",
];

// -------------------------------------------------------------------------------------------
// Statistics and formatting

#[derive(Clone, Copy, Debug)]
struct Stats {
    median: Duration,
    p99: Duration,
}

fn stats(samples: &[Duration]) -> Stats {
    let mut s = samples.to_vec();
    s.sort();
    if s.is_empty() {
        return Stats {
            median: Duration::ZERO,
            p99: Duration::ZERO,
        };
    }
    let n = s.len();
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2
    };
    // Nearest rank.
    let rank = ((n as f64) * 0.99).ceil() as usize;
    Stats {
        median,
        p99: s[rank.clamp(1, n) - 1],
    }
}

fn median_f64(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn fmt_ms(d: Duration) -> String {
    let m = ms(d);
    if m < 10.0 {
        format!("{m:.3} ms")
    } else if m < 1000.0 {
        format!("{m:.1} ms")
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// A byte count in MB (10^6), whole when large.
fn fmt_size(bytes: u64) -> String {
    let mb = bytes as f64 / 1e6;
    if mb >= 10.0 {
        format!("{mb:.0} MB")
    } else {
        format!("{mb:.1} MB")
    }
}

fn fmt_mb(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 * 1024.0 / 1e6)
}

#[derive(Clone, Copy, PartialEq)]
enum Verdict {
    Pass,
    Miss,
    Info,
    Error,
}

impl Verdict {
    fn of(ok: bool) -> Verdict {
        if ok { Verdict::Pass } else { Verdict::Miss }
    }
    fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Miss => "MISS",
            Verdict::Info => "-",
            Verdict::Error => "ERROR",
        }
    }
}

struct Row {
    metric: String,
    ours: String,
    floor: String,
    ratio: String,
    target: String,
    verdict: Verdict,
}

impl Row {
    fn new(metric: impl Into<String>, ours: impl Into<String>) -> Row {
        Row {
            metric: metric.into(),
            ours: ours.into(),
            floor: String::new(),
            ratio: String::new(),
            target: String::new(),
            verdict: Verdict::Info,
        }
    }
    fn floor(mut self, floor: impl Into<String>) -> Row {
        self.floor = floor.into();
        self
    }
    fn ratio(mut self, r: f64) -> Row {
        self.ratio = format!("{r:.2}x");
        self
    }
    fn target(mut self, target: impl Into<String>, verdict: Verdict) -> Row {
        self.target = target.into();
        self.verdict = verdict;
        self
    }
    fn error(metric: &str, why: &str) -> Row {
        let mut r = Row::new(metric, "error");
        r.verdict = Verdict::Error;
        r.target = why.chars().take(200).collect();
        r
    }
}

const HEADERS: [&str; 6] = ["metric", "ours", "floor", "ratio", "target", "result"];

fn cells(r: &Row) -> [&str; 6] {
    [
        &r.metric,
        &r.ours,
        &r.floor,
        &r.ratio,
        &r.target,
        r.verdict.label(),
    ]
}

fn text_table(rows: &[Row]) -> String {
    let mut width = HEADERS.map(|h| h.chars().count());
    for r in rows {
        for (w, c) in width.iter_mut().zip(cells(r)) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |c: [&str; 6]| {
        let mut s = String::new();
        for (i, (text, w)) in c.iter().zip(width).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            // Numbers right-aligned, text left-aligned.
            if (1..=3).contains(&i) {
                let _ = write!(s, "{text:>w$}");
            } else {
                let _ = write!(s, "{text:<w$}");
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(HEADERS);
    out.push('\n');
    out.push_str(&"-".repeat(width.iter().sum::<usize>() + 2 * (width.len() - 1)));
    out.push('\n');
    for r in rows {
        out.push_str(&line(cells(r)));
        out.push('\n');
    }
    out
}

fn markdown_table(rows: &[Row]) -> String {
    // Markdown drops leading spaces: indent sub-rows with em spaces.
    let esc = |s: &str| {
        let body = s.trim_start();
        let indent = s.len() - body.len();
        format!(
            "{}{}",
            "&emsp;".repeat(indent.min(1)),
            body.replace('|', "\\|")
        )
    };
    let mut out = format!("| {} |\n", HEADERS.join(" | "));
    out.push_str("|---|---:|---:|---:|---|---|\n");
    for r in rows {
        let c = cells(r).map(esc);
        out.push_str(&format!("| {} |\n", c.join(" | ")));
    }
    out
}

// -------------------------------------------------------------------------------------------
// Machine

fn machine() -> Vec<(String, String)> {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let nproc = thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let ssh = Command::new("ssh")
        .arg("-V")
        .output()
        .map(|o| {
            let t = String::from_utf8_lossy(&o.stderr).trim().to_string();
            if t.is_empty() {
                String::from_utf8_lossy(&o.stdout).trim().to_string()
            } else {
                t
            }
        })
        .unwrap_or_else(|e| format!("ssh -V failed: {e}"));
    let mem = fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or("unknown".into(), |kib| {
            format!("{:.1} GB", kib as f64 / 1024.0 / 1024.0)
        });
    vec![
        ("cpu".into(), format!("{nproc} x {model}")),
        ("memory".into(), mem),
        ("kernel".into(), kernel),
        ("ssh".into(), ssh),
        (
            "server".into(),
            format!(
                "{} ({})",
                SERVER_BIN,
                if cfg!(debug_assertions) {
                    "debug build"
                } else {
                    "optimized build"
                }
            ),
        ),
    ]
}

/// The 1-minute load average.
fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

// -------------------------------------------------------------------------------------------
// Processes and /proc

/// Environment variables that would let ssh use something other than the bed's key.
const SCRUB_ENV: &[&str] = &[
    "SSH_AUTH_SOCK",
    "SSH_ASKPASS",
    "SSH_ASKPASS_REQUIRE",
    "DISPLAY",
];

fn ssh_cmd(bed: &TestBed) -> Command {
    let mut cmd = Command::new("ssh");
    cmd.arg("-F").arg(bed.ssh_config());
    for v in SCRUB_ENV {
        cmd.env_remove(v);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Runs ssh to completion (stdout to /dev/null) and returns the wall time.
fn time_ssh(bed: &TestBed, args: &[&str]) -> Res<Duration> {
    let mut cmd = ssh_cmd(bed);
    cmd.args(args);
    let start = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("spawning ssh {args:?}: {e}"))?;
    let took = start.elapsed();
    if !out.status.success() {
        return Err(format!(
            "ssh {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(took)
}

/// (VmRSS, VmHWM) in KiB.
fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Sum of VmRSS (KiB) and count of the direct children of `pid`.
fn children_rss_kib(pid: u32) -> (u64, usize) {
    let Ok(entries) = fs::read_dir("/proc") else {
        return (0, 0);
    };
    let mut total = 0;
    let mut count = 0;
    for e in entries.flatten() {
        let Some(child) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // The command name may hold spaces: fields start after the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if ppid == Some(pid) {
            if let Some((rss, _)) = rss_kib(child) {
                total += rss;
            }
            count += 1;
        }
    }
    (total, count)
}

/// Samples the VmRSS of `pid` every 50 ms until dropped; `peak()` gives the highest seen.
struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    handle: Option<thread::JoinHandle<()>>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let (s, p) = (stop.clone(), peak.clone());
        let handle = thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some((rss, _)) = rss_kib(pid) {
                    p.fetch_max(rss, Ordering::Relaxed);
                }
                thread::sleep(Duration::from_millis(50));
            }
        });
        RssSampler {
            stop,
            peak,
            handle: Some(handle),
        }
    }

    fn finish(mut self, pid: u32) -> u64 {
        if let Some((rss, _)) = rss_kib(pid) {
            self.peak.fetch_max(rss, Ordering::Relaxed);
        }
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

// -------------------------------------------------------------------------------------------
// A minimal MCP client: line-delimited JSON-RPC over the server's stdin/stdout

type Pending = Arc<Mutex<HashMap<u64, mpsc::Sender<Value>>>>;

struct Mcp {
    child: Child,
    stdin: Mutex<Option<ChildStdin>>,
    pending: Pending,
    next_id: AtomicU64,
    reader: Option<thread::JoinHandle<()>>,
    log: PathBuf,
}

impl Mcp {
    fn start(bed: &TestBed, log: PathBuf, local_root: &Path) -> Res<Mcp> {
        let stderr = fs::File::create(&log).map_err(|e| format!("creating {log:?}: {e}"))?;
        let mut cmd = Command::new(SERVER_BIN);
        cmd.arg("--ssh-config")
            .arg(bed.ssh_config())
            .arg("--local-root")
            .arg(local_root)
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr);
        for v in SCRUB_ENV {
            cmd.env_remove(v);
        }
        // The server goes when the benchmark goes (it closes its masters on SIGTERM). The
        // bench runs only where the test bed does (Linux); elsewhere it must still compile.
        #[cfg(target_os = "linux")]
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong);
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("spawning {SERVER_BIN}: {e}"))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
        let p = pending.clone();
        let reader = thread::spawn(move || {
            let mut lines = BufReader::with_capacity(1 << 16, stdout);
            let mut line = String::new();
            loop {
                line.clear();
                match lines.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let Ok(msg) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                // Responses only; notifications (progress, logs) are not asked for.
                if msg.get("method").is_some() {
                    continue;
                }
                if let Some(id) = msg.get("id").and_then(Value::as_u64)
                    && let Some(tx) = p.lock().unwrap().remove(&id)
                {
                    let _ = tx.send(msg);
                }
            }
            // EOF: every waiting call fails.
            p.lock().unwrap().clear();
        });
        let mcp = Mcp {
            child,
            stdin: Mutex::new(Some(stdin)),
            pending,
            next_id: AtomicU64::new(1),
            reader: Some(reader),
            log,
        };
        mcp.request(
            "initialize",
            json!({
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "mcp-ssh-session-bench", "version": "0"}
            }),
        )?;
        mcp.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))?;
        Ok(mcp)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn server_log(&self) -> String {
        let t = fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = t.lines().rev().take(20).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    fn send(&self, msg: &Value) -> Res<()> {
        let mut line = serde_json::to_vec(msg).map_err(|e| e.to_string())?;
        line.push(b'\n');
        let mut g = self.stdin.lock().unwrap();
        let w = g.as_mut().ok_or("the server's stdin is closed")?;
        w.write_all(&line)
            .and_then(|_| w.flush())
            .map_err(|e| format!("writing to the server: {e}"))
    }

    /// A request; the `result`, or the JSON-RPC error as text.
    fn request(&self, method: &str, params: Value) -> Res<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        self.pending.lock().unwrap().insert(id, tx);
        let sent =
            self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        if let Err(e) = sent {
            self.pending.lock().unwrap().remove(&id);
            return Err(e);
        }
        let msg = rx.recv_timeout(CALL_TIMEOUT).map_err(|e| {
            self.pending.lock().unwrap().remove(&id);
            format!(
                "{method}: no response ({e}); server log tail:\n{}",
                self.server_log()
            )
        })?;
        if let Some(err) = msg.get("error") {
            return Err(format!("{method}: JSON-RPC error {err}"));
        }
        msg.get("result")
            .cloned()
            .ok_or_else(|| format!("{method}: response without result: {msg}"))
    }

    /// tools/call; the result's structuredContent (or the whole result), error when isError.
    fn call(&self, tool: &str, args: Value) -> Res<Value> {
        let r = self.request("tools/call", json!({"name": tool, "arguments": args}))?;
        if r.get("isError").and_then(Value::as_bool) == Some(true) {
            return Err(format!("{tool}: tool error: {}", content_text(&r)));
        }
        Ok(r.get("structuredContent").cloned().unwrap_or(r))
    }

    /// execute_command, checked: completed with exit code 0.
    fn exec(&self, host: &str, user: Option<&str>, command: &str, timeout: u64) -> Res<Value> {
        let mut args = json!({"host": host, "command": command, "timeout": timeout});
        if let Some(u) = user {
            args["username"] = json!(u);
        }
        let s = self.call("execute_command", args)?;
        if s.get("exit_code").and_then(Value::as_i64) != Some(0) {
            return Err(format!(
                "execute_command({host}, {command:?}) did not complete with exit code 0: {}",
                trimmed(&s)
            ));
        }
        Ok(s)
    }

    fn shutdown(mut self) {
        // EOF on stdin: the server closes its sessions and exits.
        self.stdin.lock().unwrap().take();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
            }
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

fn content_text(result: &Value) -> String {
    result
        .get("content")
        .and_then(Value::as_array)
        .map(|blocks| {
            blocks
                .iter()
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_else(|| result.to_string())
}

fn trimmed(v: &Value) -> String {
    let mut v = v.clone();
    if let Some(out) = v.get_mut("output")
        && let Some(s) = out.as_str()
        && s.len() > 300
    {
        *out = json!(format!("{}...", s.chars().take(300).collect::<String>()));
    }
    v.to_string()
}

// -------------------------------------------------------------------------------------------
// An ssh client in a PTY (the open-shell floor)

struct PtyShell {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    _master: Box<dyn MasterPty + Send>,
    reader: Box<dyn Read + Send>,
    writer: Box<dyn Write + Send>,
    fd: i32,
    buf: Vec<u8>,
}

impl PtyShell {
    /// `ssh -F cfg ARGS` with a PTY as its terminal, then a quiet shell: no echo, no prompt.
    fn open(bed: &TestBed, args: &[&str]) -> Res<PtyShell> {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 50,
                cols: 200,
                pixel_width: 0,
                pixel_height: 0,
            })
            .map_err(|e| format!("openpty: {e}"))?;
        let mut cmd = CommandBuilder::new("ssh");
        cmd.arg("-F");
        cmd.arg(bed.ssh_config());
        cmd.args(args);
        cmd.env("TERM", "dumb");
        for v in SCRUB_ENV {
            cmd.env_remove(v);
        }
        let child = pair
            .slave
            .spawn_command(cmd)
            .map_err(|e| format!("spawning ssh {args:?} in a PTY: {e}"))?;
        drop(pair.slave);
        let reader = pair
            .master
            .try_clone_reader()
            .map_err(|e| format!("pty reader: {e}"))?;
        let writer = pair
            .master
            .take_writer()
            .map_err(|e| format!("pty writer: {e}"))?;
        let fd = pair.master.as_raw_fd().ok_or("no pty fd")?;
        let mut sh = PtyShell {
            child,
            _master: pair.master,
            reader,
            writer,
            fd,
            buf: Vec::with_capacity(1 << 16),
        };
        sh.send("stty -echo; PS1=''; PS2=''; unset PROMPT_COMMAND; printf 'RE%sDY\\n' A\n")?;
        sh.read_until(b"READY", Duration::from_secs(20))?;
        Ok(sh)
    }

    fn send(&mut self, s: &str) -> Res<()> {
        self.writer
            .write_all(s.as_bytes())
            .and_then(|_| self.writer.flush())
            .map_err(|e| format!("writing to the pty: {e}"))
    }

    /// Reads until `needle` and the end of its line; drops everything up to there. Returns
    /// the number of bytes read. Memory stays small however much comes before the needle.
    fn read_until(&mut self, needle: &[u8], timeout: Duration) -> Res<u64> {
        let deadline = Instant::now() + timeout;
        let mut tmp = [0u8; 1 << 16];
        let mut from = 0;
        let mut total = 0u64;
        loop {
            match find(&self.buf[from..], needle) {
                Some(p) => {
                    let pos = from + p;
                    if let Some(nl) = self.buf[pos..].iter().position(|&b| b == b'\n') {
                        self.buf.drain(..pos + nl + 1);
                        return Ok(total);
                    }
                    from = pos;
                }
                None => {
                    from = self.buf.len().saturating_sub(needle.len() - 1);
                    if from > 1 << 16 {
                        self.buf.drain(..from);
                        from = 0;
                    }
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "no {:?} from the ssh shell within {timeout:?}; got {:?}",
                    String::from_utf8_lossy(needle),
                    String::from_utf8_lossy(&self.buf[self.buf.len().saturating_sub(300)..])
                ));
            }
            let mut pfd = libc::pollfd {
                fd: self.fd,
                events: libc::POLLIN,
                revents: 0,
            };
            let r = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(60_000) as i32 + 1) };
            if r <= 0 {
                continue;
            }
            match self.reader.read(&mut tmp) {
                Ok(0) => return Err("the ssh shell ended".into()),
                Ok(n) => {
                    total += n as u64;
                    self.buf.extend_from_slice(&tmp[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("reading the pty: {e}")),
            }
        }
    }

    fn close(mut self) {
        let _ = self.send("exit\n");
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A foreground `ssh -M -N` master of our own (the floors through a warm master).
struct OwnMaster {
    child: Child,
    ctl: PathBuf,
}

impl OwnMaster {
    fn start(bed: &TestBed) -> Res<OwnMaster> {
        let ctl = bed.dir().join("bm-ctl");
        let _ = fs::remove_file(&ctl);
        let mut cmd = ssh_cmd(bed);
        cmd.args(["-M", "-N", "-o", "ControlPersist=no", "-S"])
            .arg(&ctl)
            .arg(HOST)
            .stderr(Stdio::null());
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("spawning the ssh master: {e}"))?;
        let m = OwnMaster { child, ctl };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let ok = ssh_cmd(bed)
                .args(["-O", "check", "-S"])
                .arg(&m.ctl)
                .arg(HOST)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return Ok(m);
            }
            if Instant::now() > deadline {
                m.stop(bed);
                return Err("the ssh master did not come up within 15 s".into());
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn ctl(&self) -> &str {
        self.ctl.to_str().expect("the bed dir is UTF-8")
    }

    fn stop(mut self, bed: &TestBed) {
        let _ = ssh_cmd(bed)
            .args(["-O", "exit", "-S"])
            .arg(&self.ctl)
            .arg(HOST)
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// -------------------------------------------------------------------------------------------
// Measurements

/// Floors: command in an open `ssh -tt` shell, `ssh -S CTL host true`, new mux shells.
struct Floors {
    shell_true: Stats,
    shell_echo: Stats,
    master_true: Stats,
    mux_shell: Stats,
}

fn measure_floors(bed: &TestBed, plan: &Plan) -> Res<Floors> {
    let mut sh = PtyShell::open(bed, &["-tt", HOST])?;
    let timeout = Duration::from_secs(10);
    let mut run = |line: &str, n: usize| -> Res<Stats> {
        for _ in 0..(n / 10).max(2) {
            sh.send(line)?;
            sh.read_until(b"MXK", timeout)?;
        }
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            sh.send(line)?;
            sh.read_until(b"MXK", timeout)?;
            samples.push(t.elapsed());
        }
        Ok(stats(&samples))
    };
    let shell_true = run("true; printf 'M%sK%d\\n' X $?\n", plan.shell_floor)?;
    let shell_echo = run("echo hi; printf 'M%sK%d\\n' X $?\n", plan.shell_floor)?;
    sh.close();

    let master = OwnMaster::start(bed)?;
    let result = (|| -> Res<(Stats, Stats)> {
        let mut samples = Vec::new();
        for i in 0..plan.master_floor + 3 {
            let d = time_ssh(bed, &["-S", master.ctl(), HOST, "true"])?;
            if i >= 3 {
                samples.push(d);
            }
        }
        let master_true = stats(&samples);
        let mut samples = Vec::new();
        for _ in 0..plan.mux_shells {
            let t = Instant::now();
            let sh = PtyShell::open(bed, &["-S", master.ctl(), "-tt", HOST])?;
            samples.push(t.elapsed());
            sh.close();
        }
        Ok((master_true, stats(&samples)))
    })();
    master.stop(bed);
    let (master_true, mux_shell) = result?;
    Ok(Floors {
        shell_true,
        shell_echo,
        master_true,
        mux_shell,
    })
}

fn round_trips(mcp: &Mcp, plan: &Plan, floors: &Floors, rows: &mut Vec<Row>) -> Res<()> {
    // Warm the session (master + main shell) and the code paths.
    mcp.exec(HOST, None, "true", 30)?;
    let hi = mcp.exec(HOST, None, "echo hi", 30)?;
    let out = hi.get("output").and_then(Value::as_str).unwrap_or("");
    if out.trim() != "hi" {
        return Err(format!("echo hi gave {out:?}, expected \"hi\""));
    }
    for _ in 0..(plan.round_trips / 10).max(2) {
        mcp.exec(HOST, None, "true", 30)?;
        mcp.call("list_sessions", json!({}))?;
    }
    let (mut t_true, mut t_echo, mut t_noop) = (Vec::new(), Vec::new(), Vec::new());
    // Interleaved, so drift hits all three alike.
    for _ in 0..plan.round_trips {
        let t = Instant::now();
        mcp.exec(HOST, None, "true", 30)?;
        t_true.push(t.elapsed());
        let t = Instant::now();
        mcp.exec(HOST, None, "echo hi", 30)?;
        t_echo.push(t.elapsed());
        let t = Instant::now();
        mcp.call("list_sessions", json!({}))?;
        t_noop.push(t.elapsed());
    }
    let (st, se, sn) = (stats(&t_true), stats(&t_echo), stats(&t_noop));
    for (name, s, f) in [
        ("true", st, floors.shell_true),
        ("echo hi", se, floors.shell_echo),
    ] {
        rows.push(
            Row::new(
                format!("1. round trip \"{name}\", median"),
                fmt_ms(s.median),
            )
            .floor(fmt_ms(f.median))
            .ratio(ms(s.median) / ms(f.median))
            .target("<= 2 ms", Verdict::of(s.median <= Duration::from_millis(2))),
        );
        rows.push(
            Row::new("   p99", fmt_ms(s.p99))
                .floor(fmt_ms(f.p99))
                .ratio(ms(s.p99) / ms(f.p99)),
        );
    }
    rows.push(Row::new(
        "   no-op list_sessions, median",
        fmt_ms(sn.median),
    ));
    rows.push(Row::new("   p99", fmt_ms(sn.p99)));
    for (name, s, f) in [
        ("true", st, floors.shell_true),
        ("echo hi", se, floors.shell_echo),
    ] {
        let d = s.median.saturating_sub(sn.median);
        let ratio = ms(d) / ms(f.median);
        rows.push(
            Row::new(format!("   round trip - no-op, \"{name}\""), fmt_ms(d))
                .floor(fmt_ms(f.median))
                .ratio(ratio)
                .target("<= 1.5x floor", Verdict::of(ratio <= 1.5)),
        );
    }
    rows.push(
        Row::new("   \"true\" vs ssh -S CTL host true", fmt_ms(st.median))
            .floor(fmt_ms(floors.master_true.median))
            .ratio(ms(st.median) / ms(floors.master_true.median)),
    );
    Ok(())
}

/// First command on new hosts and a second (parallel) shell through the existing master,
/// interleaved with plain `ssh host true`.
fn new_hosts(
    bed: &TestBed,
    mcp: &Mcp,
    plan: &Plan,
    floors: &Floors,
    rows: &mut Vec<Row>,
) -> Res<()> {
    let (mut first, mut second, mut plain) = (Vec::new(), Vec::new(), Vec::new());
    // One warm-up connection each, not counted.
    time_ssh(bed, &[HOST, "true"])?;
    for i in 0..plan.new_hosts {
        let host = format!("newhost{i}");
        let user = Some(BENCH_USERS[0]);
        let t = Instant::now();
        mcp.exec(&host, user, "true", 60)?;
        first.push(t.elapsed());

        // Keep the main shell busy, so the next command needs a second shell.
        let bg = mcp.call(
            "execute_command_async",
            json!({"host": host, "username": user, "command": "sleep 60", "timeout": 120}),
        )?;
        let id = bg
            .get("command_id")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("execute_command_async gave no command_id: {bg}"))?
            .to_string();
        let t = Instant::now();
        mcp.exec(&host, user, "true", 60)?;
        second.push(t.elapsed());
        mcp.call("interrupt_command_by_id", json!({"command_id": id}))?;
        mcp.call(
            "close_session",
            json!({"host": host, "username": BENCH_USERS[0]}),
        )?;

        plain.push(time_ssh(bed, &[HOST, "true"])?);
    }
    let (f, s, p) = (stats(&first), stats(&second), stats(&plain));
    let ratio = ms(f.median) / ms(p.median);
    rows.push(
        Row::new("2. first command, new host, median", fmt_ms(f.median))
            .floor(fmt_ms(p.median))
            .ratio(ratio)
            .target("<= 1.3x floor", Verdict::of(ratio <= 1.3)),
    );
    rows.push(
        Row::new("   max", fmt_ms(*first.iter().max().expect("samples")))
            .floor(fmt_ms(*plain.iter().max().expect("samples"))),
    );
    rows.push(
        Row::new("3. second session via master, median", fmt_ms(s.median))
            .floor(fmt_ms(floors.mux_shell.median))
            .ratio(ms(s.median) / ms(floors.mux_shell.median))
            .target(
                "<= 30 ms",
                Verdict::of(s.median <= Duration::from_millis(30)),
            ),
    );
    rows.push(
        Row::new("   max", fmt_ms(*second.iter().max().expect("samples")))
            .floor(fmt_ms(floors.mux_shell.p99)),
    );
    Ok(())
}

fn big_output_command(bytes: u64) -> String {
    format!("yes {LINE} | head -c {bytes}")
}

/// Runs the big-output command through the server; (wall time, peak server RSS in KiB).
fn big_output_ours(mcp: &Mcp, bytes: u64) -> Res<(Duration, u64)> {
    let sampler = RssSampler::start(mcp.pid());
    let t = Instant::now();
    let r = mcp.exec(HOST, None, &big_output_command(bytes), 600);
    let took = t.elapsed();
    let peak = sampler.finish(mcp.pid());
    let s = r?;
    let got = s.get("output_bytes").and_then(Value::as_u64).unwrap_or(0);
    if got < bytes {
        return Err(format!(
            "the server saw {got} bytes of output, expected at least {bytes}"
        ));
    }
    Ok((took, peak))
}

fn throughput(
    bed: &TestBed,
    mcp: &Mcp,
    plan: &Plan,
    rows: &mut Vec<Row>,
    mem: &mut Vec<Row>,
) -> Res<()> {
    let master = OwnMaster::start(bed)?;
    let mut sh = match PtyShell::open(bed, &["-S", master.ctl(), "-tt", HOST]) {
        Ok(sh) => sh,
        Err(e) => {
            master.stop(bed);
            return Err(e);
        }
    };
    let r = throughput_with(bed, mcp, plan, &master, &mut sh, rows, mem);
    sh.close();
    master.stop(bed);
    r
}

fn throughput_with(
    bed: &TestBed,
    mcp: &Mcp,
    plan: &Plan,
    master: &OwnMaster,
    sh: &mut PtyShell,
    rows: &mut Vec<Row>,
    mem: &mut Vec<Row>,
) -> Res<()> {
    let mb = plan.big_bytes as f64 / 1e6;
    let rate = |d: Duration| mb / d.as_secs_f64();
    let zero_cmd = format!("head -c {} /dev/zero", plan.big_bytes);
    let text_cmd = big_output_command(plan.big_bytes);
    let pty_line = format!("{text_cmd}; printf 'M%sK%d\\n' X $?\n");
    let base = rss_kib(mcp.pid()).map_or(0, |r| r.0);
    let (_, peak_small) = big_output_ours(mcp, plan.small_bytes)?;
    let (mut ours, mut raw, mut raw_new, mut raw_pty, mut peaks) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..plan.throughput_runs {
        let (d, peak) = big_output_ours(mcp, plan.big_bytes)?;
        ours.push(rate(d));
        peaks.push(peak);
        raw.push(rate(time_ssh(bed, &["-S", master.ctl(), HOST, &zero_cmd])?));
        raw_new.push(rate(time_ssh(bed, &[HOST, &zero_cmd])?));
        let t = Instant::now();
        sh.send(&pty_line)?;
        let got = sh.read_until(b"MXK", Duration::from_secs(600))?;
        raw_pty.push(rate(t.elapsed()));
        if got < plan.big_bytes {
            return Err(format!(
                "the ssh -tt shell gave {got} bytes, expected {}",
                plan.big_bytes
            ));
        }
    }
    let o = median_f64(&ours);
    let fl = |v: &[f64]| median_f64(v);
    rows.push(
        Row::new(
            format!("4. throughput, {}, median", fmt_size(plan.big_bytes)),
            format!("{o:.0} MB/s"),
        )
        .floor(format!("{:.0} MB/s", fl(&raw)))
        .ratio(o / fl(&raw))
        .target(">= 0.7x floor", Verdict::of(o / fl(&raw) >= 0.7)),
    );
    rows.push(
        Row::new("   vs a new ssh connection", "")
            .floor(format!("{:.0} MB/s", fl(&raw_new)))
            .ratio(o / fl(&raw_new)),
    );
    rows.push(
        Row::new("   vs an open ssh -tt shell (PTY)", "")
            .floor(format!("{:.0} MB/s", fl(&raw_pty)))
            .ratio(o / fl(&raw_pty)),
    );
    let peak = peaks.iter().copied().max().unwrap_or(0);
    let growth = peak.saturating_sub(peak_small);
    mem.push(Row::new("   RSS before big outputs", fmt_mb(base)));
    mem.push(
        Row::new(
            format!("   peak RSS printing {}", fmt_size(plan.big_bytes)),
            fmt_mb(peak),
        )
        .floor(format!(
            "{} @{}",
            fmt_mb(peak_small),
            fmt_size(plan.small_bytes)
        ))
        .target(
            format!("growth <= 10 MB ({})", fmt_mb(growth)),
            Verdict::of(growth <= 10 * 1000 * 1000 / 1024),
        ),
    );
    Ok(())
}

/// A fresh server: N sessions opened at once, RSS idle, then M commands each, all at once.
fn concurrency(bed: &TestBed, plan: &Plan, rows: &mut Vec<Row>, mem: &mut Vec<Row>) -> Res<()> {
    let mcp = Arc::new(Mcp::start(
        bed,
        bed.dir().join("bench-server-2.log"),
        bed.dir(),
    )?);
    let result = concurrency_on(&mcp, plan, rows, mem);
    if let Ok(m) = Arc::try_unwrap(mcp) {
        m.shutdown();
    }
    result
}

fn concurrency_on(mcp: &Arc<Mcp>, plan: &Plan, rows: &mut Vec<Row>, mem: &mut Vec<Row>) -> Res<()> {
    let n = plan.sessions;
    let (rss0, _) = rss_kib(mcp.pid()).ok_or("server pid is gone")?;
    let hosts: Vec<(String, &str)> = (1..=n)
        .map(|i| (format!("bench{i}"), BENCH_USERS[i % BENCH_USERS.len()]))
        .collect();

    // Open all sessions at once.
    let t = Instant::now();
    let opened: Vec<Res<()>> = thread::scope(|s| {
        let handles: Vec<_> = hosts
            .iter()
            .map(|(h, u)| s.spawn(move || mcp.exec(h, Some(u), "true", 60).map(|_| ())))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("panicked".into())))
            .collect()
    });
    let open_wall = t.elapsed();
    let open_errors: Vec<String> = opened.into_iter().filter_map(Result::err).collect();
    if !open_errors.is_empty() {
        return Err(format!(
            "{} of {n} sessions failed to open: {}",
            open_errors.len(),
            open_errors[0]
        ));
    }

    // Idle memory.
    thread::sleep(Duration::from_millis(1000));
    let listed = mcp.call("list_sessions", json!({}))?;
    let count = listed
        .get("sessions")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if count != n {
        return Err(format!(
            "list_sessions shows {count} sessions, expected {n}"
        ));
    }
    let (rss_idle, hwm_idle) = rss_kib(mcp.pid()).ok_or("server pid is gone")?;
    let (kids_rss, kids) = children_rss_kib(mcp.pid());

    // Load: every session runs its commands one after the other, all sessions at once.
    let m = plan.commands_per_session;
    let barrier = Barrier::new(n);
    let t = Instant::now();
    let per_session: Vec<(Vec<Duration>, Vec<String>)> = thread::scope(|s| {
        let handles: Vec<_> = hosts
            .iter()
            .map(|(h, u)| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let mut times = Vec::with_capacity(m);
                    let mut errors = Vec::new();
                    for i in 0..m {
                        let t = Instant::now();
                        match mcp.exec(h, Some(u), &format!("echo {h}-{i}"), 60) {
                            Ok(s) => {
                                times.push(t.elapsed());
                                let out = s.get("output").and_then(Value::as_str).unwrap_or("");
                                if out.trim() != format!("{h}-{i}") {
                                    errors.push(format!("{h}: command {i} printed {out:?}"));
                                }
                            }
                            Err(e) => errors.push(e),
                        }
                    }
                    (times, errors)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| (Vec::new(), vec!["panicked".into()]))
            })
            .collect()
    });
    let wall = t.elapsed();
    let times: Vec<Duration> = per_session.iter().flat_map(|(t, _)| t.clone()).collect();
    let errors: Vec<String> = per_session.into_iter().flat_map(|(_, e)| e).collect();
    let st = stats(&times);
    let (rss_after, hwm_after) = rss_kib(mcp.pid()).ok_or("server pid is gone")?;

    rows.push(
        Row::new(format!("5. {n} x {m} commands at once, wall"), fmt_ms(wall))
            .floor(format!("{:.0} cmd/s", (n * m) as f64 / wall.as_secs_f64())),
    );
    rows.push(Row::new("   per command, median", fmt_ms(st.median)));
    rows.push(Row::new("   p99", fmt_ms(st.p99)));
    rows.push(Row::new("   errors", errors.len().to_string()).target(
        if errors.is_empty() {
            "0".to_string()
        } else {
            format!(
                "0 (first: {})",
                errors[0].chars().take(100).collect::<String>()
            )
        },
        Verdict::of(errors.is_empty()),
    ));
    rows.push(Row::new(
        format!("   open {n} sessions at once, wall"),
        fmt_ms(open_wall),
    ));
    mem.insert(
        0,
        Row::new(format!("6. peak RSS, {n} idle sessions"), fmt_mb(hwm_idle))
            .floor(format!("{} at start", fmt_mb(rss0)))
            .target("<= 30 MB", Verdict::of(hwm_idle <= 30 * 1000 * 1000 / 1024)),
    );
    mem.insert(
        1,
        Row::new(format!("   RSS now, {n} idle sessions"), fmt_mb(rss_idle)),
    );
    mem.insert(
        2,
        Row::new(
            format!("   + {kids} ssh client processes"),
            fmt_mb(kids_rss),
        ),
    );
    mem.insert(
        3,
        Row::new(
            format!("   RSS / peak after {} commands", n * m),
            format!("{} / {}", fmt_mb(rss_after), fmt_mb(hwm_after)),
        ),
    );
    if !errors.is_empty() {
        return Err(format!("{} commands failed: {}", errors.len(), errors[0]));
    }
    Ok(())
}

fn legend(plan: &Plan) -> String {
    let mb = fmt_size(plan.big_bytes);
    format!(
        "Floors (same sshd, same machine): 1. the same command in an already open `ssh -tt` shell, \
         delimited by a printf marker ({sf} runs); `ssh -S CTL host true` through a warm master \
         ({mf} runs). 2. plain `ssh host true`, a new connection. 3. a new `ssh -S CTL -tt` shell \
         through a warm master, up to its first marker ({mx} runs). 4. `ssh -S CTL host 'head -c \
         {b} /dev/zero' >/dev/null` through a warm master; also over a new connection, and \
         `yes <99 chars> | head -c {b}` (what the server runs) in an open `ssh -tt` shell read \
         from its PTY. 6. the peak while printing {smb}. 8. a plain `ssh -tt fixture-ios` login \
         in a PTY, up to the fake IOS's `R1>` prompt ({dl} runs, after one warm-up).\n\
         Ours: through the MCP stdio interface of the built binary, wall time per tools/call \
         (line-delimited JSON-RPC client in this benchmark). Round trips: {rt} calls each, \
         interleaved. New hosts: {nh}, each with a second session while the first runs `sleep`. \
         Throughput: {tr} runs of {mb} of 100-byte lines. Concurrency and idle memory: a fresh \
         server, {s} hosts (users {users}). RSS is the server process alone (VmRSS sampled every \
         50 ms; peak = VmHWM). 7. {xr} runs each of a {xmb} random file: upload_file and \
         download_file (wall time per call, SHA-256 compared on both ends), plain `sftp -b` \
         `put`/`get` through a warm master of the benchmark's own and over a new connection, \
         and the same through the master followed by `openssl dgst -sha256` of both copies (the \
         remote one through the master), interleaved. 8. New sessions to the fake IOS (master, login, set-up and \
         `show clock`), then {dr} warm `show running-config` each with the pager answered and \
         with paging off (privileged).",
        sf = plan.shell_floor,
        mf = plan.master_floor,
        mx = plan.mux_shells,
        b = plan.big_bytes,
        smb = fmt_size(plan.small_bytes),
        rt = plan.round_trips,
        nh = plan.new_hosts,
        tr = plan.throughput_runs,
        s = plan.sessions,
        users = BENCH_USERS.join(", "),
        dl = plan.device_logins,
        dr = plan.device_listings,
        xr = plan.transfer_runs,
        xmb = fmt_size(plan.transfer_bytes),
    )
}

/// The fake Cisco IOS of the test bed and its prompt.
const DEVICE: &str = "fixture-ios";
const DEVICE_PROMPT: &[u8] = b"R1>";

/// A plain `ssh -tt DEVICE` login in a PTY: the time until the device's prompt shows.
fn device_login_floor(bed: &TestBed) -> Res<Duration> {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 50,
            cols: 200,
            pixel_width: 0,
            pixel_height: 0,
        })
        .map_err(|e| format!("openpty: {e}"))?;
    let mut cmd = CommandBuilder::new("ssh");
    cmd.arg("-F");
    cmd.arg(bed.ssh_config());
    cmd.args(["-tt", DEVICE]);
    cmd.env("TERM", "xterm-256color");
    for v in SCRUB_ENV {
        cmd.env_remove(v);
    }
    let start = Instant::now();
    let mut child = pair
        .slave
        .spawn_command(cmd)
        .map_err(|e| format!("spawning ssh -tt {DEVICE}: {e}"))?;
    drop(pair.slave);
    let mut reader = pair
        .master
        .try_clone_reader()
        .map_err(|e| format!("pty reader: {e}"))?;
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            if find(&seen, DEVICE_PROMPT).is_some() {
                let _ = tx.send(());
                return;
            }
        }
    });
    let shown = rx.recv_timeout(Duration::from_secs(30));
    let took = start.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    shown.map_err(|_| {
        format!(
            "no {:?} prompt from ssh -tt {DEVICE} within 30 s",
            String::from_utf8_lossy(DEVICE_PROMPT)
        )
    })?;
    Ok(took)
}

fn device_call(mcp: &Mcp, args: Value) -> Res<Value> {
    let r = mcp.call("execute_command", args)?;
    if r.get("status").and_then(Value::as_str) != Some("completed")
        || r.get("device").is_none()
        || r.get("device_error").is_some()
    {
        return Err(format!(
            "a device command did not complete cleanly: {}",
            trimmed(&r)
        ));
    }
    Ok(r)
}

/// 8. A network device: new sessions to the first result, and warm listings.
fn device(bed: &TestBed, mcp: &Mcp, plan: &Plan, rows: &mut Vec<Row>) -> Res<()> {
    // The fake's first start in a fresh test bed is slow (Python's first run): not counted.
    device_login_floor(bed)?;
    let (mut ours, mut plain) = (Vec::new(), Vec::new());
    for _ in 0..plan.device_logins {
        let t = Instant::now();
        device_call(
            mcp,
            json!({"host": DEVICE, "command": "show clock", "timeout": 60}),
        )?;
        ours.push(t.elapsed());
        mcp.call("close_session", json!({"host": DEVICE}))?;
        plain.push(device_login_floor(bed)?);
    }
    let (o, p) = (stats(&ours), stats(&plain));
    rows.push(
        Row::new(
            "8. device: connect to first result, median",
            fmt_ms(o.median),
        )
        .floor(fmt_ms(p.median))
        .ratio(ms(o.median) / ms(p.median))
        .target(
            "ready <= 2 s after the prompt",
            Verdict::of(o.median <= p.median + Duration::from_secs(2)),
        ),
    );
    // Privileged (enable once), then the pager on: every page of the listing is answered.
    let listing = |paging: &str| -> Res<Vec<Duration>> {
        device_call(
            mcp,
            json!({"host": DEVICE, "command": paging, "timeout": 60}),
        )?;
        let mut runs = Vec::new();
        let mut lines = 0;
        for _ in 0..plan.device_listings {
            let t = Instant::now();
            let r = device_call(
                mcp,
                json!({"host": DEVICE, "command": "show running-config", "timeout": 60}),
            )?;
            runs.push(t.elapsed());
            lines = r
                .get("output")
                .and_then(Value::as_str)
                .map_or(0, |o| o.lines().count());
        }
        if lines < 100 {
            return Err(format!("show running-config gave {lines} lines"));
        }
        Ok(runs)
    };
    device_call(
        mcp,
        json!({"host": DEVICE, "command": "show clock", "enable_password": testbed::ENABLE_PASSWORD, "timeout": 60}),
    )?;
    let paged = stats(&listing("terminal length 24")?);
    let unpaged = stats(&listing("terminal length 0")?);
    rows.push(Row::new(
        "   warm show running-config through the pager, median",
        fmt_ms(paged.median),
    ));
    rows.push(Row::new(
        "   ... with paging off, median",
        fmt_ms(unpaged.median),
    ));
    mcp.call("close_session", json!({"host": DEVICE}))?;
    Ok(())
}

/// Plain `sftp -b -` with one command, through `ctl` (a warm master) or a new connection.
fn time_sftp(bed: &TestBed, ctl: Option<&str>, command: &str) -> Res<Duration> {
    let mut cmd = Command::new("sftp");
    cmd.arg("-F").arg(bed.ssh_config()).args(["-b", "-"]);
    if let Some(c) = ctl {
        cmd.args(["-o", &format!("ControlPath={c}"), "-o", "ControlMaster=no"]);
    }
    cmd.arg(HOST)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for v in SCRUB_ENV {
        cmd.env_remove(v);
    }
    let t = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("spawning sftp: {e}"))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(format!("{command}\n").as_bytes())
        .map_err(|e| format!("writing to sftp: {e}"))?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for sftp: {e}"))?;
    let took = t.elapsed();
    if !out.status.success() {
        return Err(format!(
            "sftp {command:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(took)
}

/// Plain sftp through the master, then the check a careful user adds: the SHA-256 of both
/// copies (OpenSSL, the fastest tool here), the remote one through the same master.
fn time_sftp_checked(
    bed: &TestBed,
    ctl: &str,
    command: &str,
    remote: &str,
    local: &str,
) -> Res<Duration> {
    let t = Instant::now();
    time_sftp(bed, Some(ctl), command)?;
    time_ssh(
        bed,
        &["-S", ctl, HOST, "openssl", "dgst", "-sha256", "-r", remote],
    )?;
    let ok = Command::new("openssl")
        .args(["dgst", "-sha256", "-r", local])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Err("openssl dgst failed locally".into());
    }
    Ok(t.elapsed())
}

/// A tools/call of upload_file or download_file, checked: the SHA-256 must be `sha`.
fn transfer_ours(mcp: &Mcp, tool: &str, args: Value, sha: &str) -> Res<Duration> {
    let t = Instant::now();
    let r = mcp.call(tool, args)?;
    let took = t.elapsed();
    let got = r.get("sha256").and_then(Value::as_str).unwrap_or("");
    let verified = r.get("verified").and_then(Value::as_str).unwrap_or("");
    if got != sha || verified != "sha256" {
        return Err(format!(
            "{tool}: sha256 {got:?} ({verified}), expected {sha}"
        ));
    }
    Ok(took)
}

fn file_transfer(
    bed: &TestBed,
    mcp: &Mcp,
    local: &Path,
    plan: &Plan,
    rows: &mut Vec<Row>,
) -> Res<()> {
    // The remote side: a directory of the bench user (the bed's sshd runs here).
    let remote = bed.dir().join("xfer-remote");
    fs::create_dir_all(&remote).map_err(|e| format!("creating {remote:?}: {e}"))?;
    let chown = Command::new("chown")
        .arg(format!("{}:{}", BENCH_USERS[0], BENCH_USERS[0]))
        .arg(&remote)
        .status();
    if !chown.is_ok_and(|s| s.success()) {
        return Err(format!("chown {remote:?} failed"));
    }
    let src = local.join("src.bin");
    let status = Command::new("head")
        .args(["-c", &plan.transfer_bytes.to_string(), "/dev/urandom"])
        .stdout(fs::File::create(&src).map_err(|e| e.to_string())?)
        .status();
    if !status.is_ok_and(|s| s.success()) {
        return Err("creating the random source file failed".into());
    }
    let sha = {
        let out = Command::new("sha256sum")
            .arg(&src)
            .output()
            .map_err(|e| e.to_string())?;
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string()
    };
    let r = |name: &str| remote.join(name).to_string_lossy().into_owned();
    let l = |name: &str| local.join(name).to_string_lossy().into_owned();
    let master = OwnMaster::start(bed)?;
    let result = (|| -> Res<[Vec<f64>; 8]> {
        // Warm the session and the code paths.
        transfer_ours(
            mcp,
            "upload_file",
            json!({"host": HOST, "local_path": "src.bin", "remote_path": r("warm.bin")}),
            &sha,
        )?;
        let mb = plan.transfer_bytes as f64 / 1e6;
        let rate = |d: Duration| mb / d.as_secs_f64();
        let mut v: [Vec<f64>; 8] = Default::default();
        for i in 0..plan.transfer_runs {
            let up = format!("up{i}.bin");
            v[0].push(rate(transfer_ours(
                mcp,
                "upload_file",
                json!({"host": HOST, "local_path": "src.bin", "remote_path": r(&up)}),
                &sha,
            )?));
            v[1].push(rate(time_sftp(
                bed,
                Some(master.ctl()),
                &format!("put {} {}", l("src.bin"), r("sftp-m.bin")),
            )?));
            v[2].push(rate(time_sftp(
                bed,
                None,
                &format!("put {} {}", l("src.bin"), r("sftp-n.bin")),
            )?));
            v[3].push(rate(transfer_ours(
                mcp,
                "download_file",
                json!({"host": HOST, "remote_path": r(&up), "local_path": "down.bin"}),
                &sha,
            )?));
            v[4].push(rate(time_sftp(
                bed,
                Some(master.ctl()),
                &format!("get {} {}", r(&up), l("sftp-m.bin")),
            )?));
            v[5].push(rate(time_sftp(
                bed,
                None,
                &format!("get {} {}", r(&up), l("sftp-n.bin")),
            )?));
            v[6].push(rate(time_sftp_checked(
                bed,
                master.ctl(),
                &format!("put {} {}", l("src.bin"), r("sftp-c.bin")),
                &r("sftp-c.bin"),
                &l("src.bin"),
            )?));
            v[7].push(rate(time_sftp_checked(
                bed,
                master.ctl(),
                &format!("get {} {}", r(&up), l("sftp-c.bin")),
                &r(&up),
                &l("sftp-c.bin"),
            )?));
            let _ = fs::remove_file(remote.join(&up));
        }
        Ok(v)
    })();
    master.stop(bed);
    let _ = fs::remove_dir_all(&remote);
    let v = result?;
    let m = |i: usize| median_f64(&v[i]);
    let size = fmt_size(plan.transfer_bytes);
    for (what, ours, via_master, via_new, checked) in [
        ("upload_file", m(0), m(1), m(2), m(6)),
        ("download_file", m(3), m(4), m(5), m(7)),
    ] {
        rows.push(
            Row::new(
                format!("7. {what}, {size}, SHA-256 checked"),
                format!("{ours:.0} MB/s"),
            )
            .floor(format!("{via_master:.0} MB/s"))
            .ratio(ours / via_master)
            .target(
                ">= 0.9x sftp via master",
                Verdict::of(ours / via_master >= 0.9),
            ),
        );
        rows.push(
            Row::new("   vs plain sftp over a new connection", "")
                .floor(format!("{via_new:.0} MB/s"))
                .ratio(ours / via_new),
        );
        rows.push(
            Row::new("   vs sftp via master, then SHA-256 of both copies", "")
                .floor(format!("{checked:.0} MB/s"))
                .ratio(ours / checked),
        );
    }
    Ok(())
}

// -------------------------------------------------------------------------------------------

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = args.iter().any(|a| a == "--smoke")
        || !args.iter().any(|a| a == "--bench")
        || std::env::var("MCP_BENCH_SMOKE").is_ok_and(|v| !v.is_empty() && v != "0");
    if let Some(reason) = testbed::skip_reason() {
        println!("mcp-ssh-session bench: skipped: {reason}");
        return ExitCode::SUCCESS;
    }
    let mut plan = if smoke { Plan::smoke() } else { Plan::full() };
    let mut words = args.iter();
    while let Some(a) = words.next() {
        if a == "--only" {
            match words.next() {
                Some(part) if PARTS.contains(&part.as_str()) => plan.only.push(part.clone()),
                other => {
                    eprintln!(
                        "mcp-ssh-session bench: --only takes one of {}, not {other:?}",
                        PARTS.join(", ")
                    );
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    let started = Instant::now();
    let load_before = loadavg();
    println!(
        "mcp-ssh-session bench ({} mode): starting the test-bed sshd...",
        if plan.full { "full" } else { "smoke" }
    );
    let bed = match TestBed::start() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("mcp-ssh-session bench: the test bed failed to start: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.iter().any(|a| a == "--hold-bed") {
        // For profiling by hand: the bed stays up until Enter (or EOF) on stdin.
        println!(
            "test bed up: ssh -F {} fixture; the server: {SERVER_BIN} --ssh-config {}\npress Enter to stop it",
            bed.ssh_config().display(),
            bed.ssh_config().display()
        );
        let _ = std::io::stdin().read_line(&mut String::new());
        bed.stop();
        return ExitCode::SUCCESS;
    }
    let (rows, failed) = run(&bed, &plan);
    bed.stop();

    let mut report = String::new();
    for (k, v) in machine() {
        let _ = writeln!(report, "{k:<7} {v}");
    }
    let _ = writeln!(
        report,
        "{:<7} 1-min load average {load_before} before, {} after (other work on the machine skews figures)",
        "load",
        loadavg()
    );
    let mode = if plan.full {
        "full run".to_string()
    } else {
        "SMOKE run (few iterations; figures are not meaningful)".to_string()
    };
    let _ = writeln!(
        report,
        "{:<7} {mode}, loopback sshd, {:.0} s",
        "mode",
        started.elapsed().as_secs_f64()
    );
    println!("\n{report}\n{}\n{}\n", text_table(&rows), legend(&plan));
    if plan.full {
        let mut md = String::from("Machine:\n\n");
        for line in report.lines() {
            let _ = writeln!(md, "- {line}");
        }
        md.push('\n');
        md.push_str(&markdown_table(&rows));
        md.push('\n');
        md.push_str(&legend(&plan).replace('\n', "\n\n"));
        md.push('\n');
        let target_dir = Path::new(SERVER_BIN)
            .parent()
            .and_then(Path::parent)
            .map_or_else(|| PathBuf::from("target"), Path::to_path_buf);
        let path = target_dir.join("bench.md");
        match fs::write(&path, md) {
            Ok(()) => println!("markdown table written to {}", path.display()),
            Err(e) => eprintln!("writing {}: {e}", path.display()),
        }
    }
    if failed {
        eprintln!("mcp-ssh-session bench: some measurements failed (rows marked ERROR)");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn run(bed: &TestBed, plan: &Plan) -> (Vec<Row>, bool) {
    let mut rows = Vec::new();
    let mut mem = Vec::new();
    let mut transfer = Vec::new();
    let mut failed = false;
    let mut check = |rows: &mut Vec<Row>, what: &str, r: Res<()>| {
        if let Err(e) = r {
            eprintln!("{what}: {e}");
            rows.push(Row::error(what, &e));
            failed = true;
        }
    };
    let floors = if plan.wants("round-trips") || plan.wants("new-hosts") {
        match measure_floors(bed, plan) {
            Ok(f) => Some(f),
            Err(e) => {
                check(&mut rows, "floors (raw ssh)", Err(e));
                None
            }
        }
    } else {
        None
    };
    // upload_file/download_file read and write under the server's local root.
    let local_root = bed.dir().join("xfer-local");
    if let Err(e) = fs::create_dir_all(&local_root) {
        check(
            &mut rows,
            "file transfer",
            Err(format!("creating {local_root:?}: {e}")),
        );
    }
    match Mcp::start(bed, bed.dir().join("bench-server.log"), &local_root) {
        Ok(mcp) => {
            if let Some(floors) = &floors {
                if plan.wants("round-trips") {
                    let r = round_trips(&mcp, plan, floors, &mut rows);
                    check(&mut rows, "round trips", r);
                }
                if plan.wants("new-hosts") {
                    let r = new_hosts(bed, &mcp, plan, floors, &mut rows);
                    check(&mut rows, "new hosts", r);
                }
            }
            if plan.wants("throughput") {
                let r = throughput(bed, &mcp, plan, &mut rows, &mut mem);
                check(&mut rows, "throughput", r);
            }
            if plan.wants("device") {
                let mut device_rows = Vec::new();
                let r = device(bed, &mcp, plan, &mut device_rows);
                check(&mut device_rows, "network device", r);
                transfer.extend(device_rows);
            }
            if plan.wants("files") {
                let r = file_transfer(bed, &mcp, &local_root, plan, &mut transfer);
                check(&mut transfer, "file transfer", r);
            }
            mcp.shutdown();
        }
        Err(e) => check(&mut rows, "starting the server", Err(e)),
    }
    if plan.wants("concurrency") {
        let r = concurrency(bed, plan, &mut rows, &mut mem);
        check(&mut rows, "concurrency", r);
    }
    rows.extend(mem);
    rows.extend(transfer);
    (rows, failed)
}
