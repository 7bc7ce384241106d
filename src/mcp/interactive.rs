//! Interactive tools: read_screen and send_keys over a terminal model of the session's PTY,
//! for full-screen programs (vim, less, top, installers) that a line-based result cannot show.
//!
//! The screen is built lazily: each shell keeps only a raw byte tail, and the [`Screen`] of a
//! shell catches up from where it stopped the last time one of these tools looked.

use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;

use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::jobs::{Job, JobStatus, prompt_kind_name};
use crate::mcp::params::{opt_port, opt_string, opt_u64};
use crate::mcp::{SshServer, result, tool_error};
use crate::pty::tail::RawTail;
use crate::session::SessionManager;
use crate::session::shell::ShellHandle;
use crate::term::keys::parse_keys;
use crate::term::screen::{Screen, ScreenSnapshot};

/// Rows returned when max_lines is not given (the Python tool's default).
pub const DEFAULT_MAX_LINES: usize = 24;
/// After the keys, the screen counts as settled once no output came for this long...
const QUIET: Duration = Duration::from_millis(150);
/// ...or, when nothing at all came back, after this long (a slow link answers late)...
const FIRST_OUTPUT: Duration = Duration::from_millis(600);
/// ...and at the latest after this (a program that redraws all the time never settles).
const MAX_WAIT: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(20);
/// A little more than the quiet time after which the shell classifies a waiting program.
const SHELL_SETTLE: Duration = Duration::from_millis(400);

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReadScreenParams {
    /// Host, as in execute_command.
    pub host: String,
    /// Login user.
    #[serde(default, deserialize_with = "opt_string")]
    pub username: Option<String>,
    /// SSH port.
    #[serde(default, deserialize_with = "opt_port")]
    pub port: Option<u16>,
    /// Rows to return at most.
    #[serde(default, deserialize_with = "opt_u64")]
    #[schemars(default = "default_max_lines")]
    pub max_lines: Option<u64>,
}

fn default_max_lines() -> Option<u64> {
    Some(DEFAULT_MAX_LINES as u64)
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SendKeysParams {
    /// Host, as in execute_command.
    pub host: String,
    /// Text and keys, e.g. `ihi<esc>:wq<enter>`: <enter> <esc> <tab> <backspace> <space> <ctrl-x> <up> <down> <left> <right> <home> <end> <pgup> <pgdn> <f1>..<f12> <lt>.
    pub keys: String,
    /// Login user.
    #[serde(default, deserialize_with = "opt_string")]
    pub username: Option<String>,
    /// SSH port.
    #[serde(default, deserialize_with = "opt_port")]
    pub port: Option<u16>,
    /// Screen rows to return at most.
    #[serde(default, deserialize_with = "opt_u64")]
    #[schemars(default = "default_max_lines")]
    pub max_lines: Option<u64>,
}

// Output types: few doc comments, since they all go into the schemas of tools/list.

/// The command in the shell whose screen is shown.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CommandState {
    pub command_id: String,
    pub command: String,
    pub status: JobStatus,
    pub exit_code: Option<i32>,
    // Why it waits (`interactive` for a full-screen program), while awaiting input.
    pub awaiting_input: Option<String>,
}

/// A shell's screen.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ScreenView {
    // `user@host:port`, and the shell's number in it (as in list_sessions).
    pub session: String,
    pub shell: usize,
    #[serde(flatten)]
    pub screen: ScreenSnapshot,
    // The command running in that shell, if any.
    pub command: Option<CommandState>,
}

/// What send_keys did, and the screen after it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct KeysSent {
    pub session: String,
    pub shell: usize,
    pub bytes_sent: usize,
    /// `<...>` typed as text: not key names.
    pub unknown_tokens: Vec<String>,
    /// False if output was still arriving.
    pub settled: bool,
    #[serde(flatten)]
    pub screen: ScreenSnapshot,
    // The command the keys went to, as it is now (it may have completed).
    pub command: Option<CommandState>,
}

/// Screens by shell, keyed by the shell's raw tail (dropped with the shell).
type ScreenCache = Vec<(Weak<Mutex<RawTail>>, Arc<Mutex<Screen>>)>;
static SCREENS: LazyLock<Mutex<ScreenCache>> = LazyLock::new(|| Mutex::new(Vec::new()));

/// The shell's screen, caught up with its output.
fn screen_of(
    shell: &ShellHandle,
    engine: &SessionManager,
) -> (Arc<Mutex<Screen>>, Arc<Mutex<RawTail>>) {
    let raw = shell.raw_output();
    let screen = {
        let mut g = SCREENS.lock().unwrap_or_else(|e| e.into_inner());
        g.retain(|(w, _)| w.strong_count() > 0);
        match g
            .iter()
            .find(|(w, _)| std::ptr::eq(w.as_ptr(), Arc::as_ptr(&raw)))
        {
            Some((_, s)) => s.clone(),
            None => {
                let c = engine.config();
                let s = Arc::new(Mutex::new(Screen::new(c.rows, c.columns)));
                g.push((Arc::downgrade(&raw), s.clone()));
                s
            }
        }
    };
    screen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .update(&raw);
    (screen, raw)
}

fn lock(s: &Mutex<Screen>) -> std::sync::MutexGuard<'_, Screen> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// The shell to show: the chosen one of the host's session.
struct Picked {
    session: String,
    shell: Arc<ShellHandle>,
    job: Option<Arc<Job>>,
}

/// The shell whose job waits for input, else one holding the alternate screen, else one
/// running a command, else the main shell.
async fn pick(
    engine: &SessionManager,
    host: &str,
    username: Option<&str>,
    port: Option<u16>,
) -> Result<Picked> {
    if host.trim().is_empty() {
        return Err(Error::invalid("host", "it is empty"));
    }
    let shells = engine.live_shells(host, username, port)?;
    if shells.is_empty() {
        let open: Vec<String> = engine.sessions().into_iter().map(|s| s.session).collect();
        return Err(Error::invalid(
            "host",
            format!(
                "no open session for {host}{}; run execute_command on it first (e.g. the program to drive: `vim FILE`){}",
                match (username, port) {
                    (Some(u), Some(p)) => format!(" (user {u}, port {p})"),
                    (Some(u), None) => format!(" (user {u})"),
                    (None, Some(p)) => format!(" (port {p})"),
                    (None, None) => String::new(),
                },
                if open.is_empty() {
                    String::new()
                } else {
                    format!(". Open sessions: {}", open.join(", "))
                }
            ),
        ));
    }
    let with_jobs: Vec<Picked> = shells
        .into_iter()
        .map(|(session, shell)| {
            let job = shell
                .info()
                .current_job
                .and_then(|id| engine.jobs.get(&id))
                .filter(|j| j.status().is_active());
            Picked {
                session,
                shell,
                job,
            }
        })
        .collect();
    let awaiting = |p: &Picked| {
        p.job
            .as_ref()
            .is_some_and(|j| j.status() == JobStatus::AwaitingInput)
    };
    let alternate =
        |p: &Picked| p.job.is_some() && lock(&screen_of(&p.shell, engine).0).alternate_screen();
    let i = with_jobs
        .iter()
        .position(awaiting)
        .or_else(|| with_jobs.iter().position(alternate))
        .or_else(|| with_jobs.iter().position(|p| p.job.is_some()))
        .unwrap_or(0);
    Ok(with_jobs
        .into_iter()
        .nth(i)
        .expect("index from the same list"))
}

/// The screen with the shell's secrets masked (a program may print one).
fn masked(mut snapshot: ScreenSnapshot, shell: &ShellHandle) -> ScreenSnapshot {
    let secrets = shell.secrets();
    if secrets.is_empty() {
        return snapshot;
    }
    let refs: Vec<&crate::secret::Secret> = secrets.iter().collect();
    for line in &mut snapshot.lines {
        *line = crate::secret::redact(line, &refs);
    }
    if let Some(t) = &mut snapshot.title {
        *t = crate::secret::redact(t, &refs);
    }
    snapshot
}

fn command_state(job: &Job) -> CommandState {
    job.with_state(|s| CommandState {
        command_id: job.id.clone(),
        command: job.command.clone(),
        status: s.status,
        exit_code: s.exit_code,
        awaiting_input: s
            .awaiting
            .as_ref()
            .map(|p| prompt_kind_name(&p.kind).to_string()),
    })
}

fn check_max_lines(max_lines: usize) -> Result<()> {
    if max_lines == 0 {
        return Err(Error::invalid("max_lines", "it must be at least 1"));
    }
    Ok(())
}

/// read_screen: the screen of the host's session shell that runs an interactive program.
pub async fn read_screen(
    engine: &SessionManager,
    host: &str,
    username: Option<&str>,
    port: Option<u16>,
    max_lines: usize,
) -> Result<ScreenView> {
    check_max_lines(max_lines)?;
    let p = pick(engine, host, username, port).await?;
    let (screen, _) = screen_of(&p.shell, engine);
    let snapshot = masked(lock(&screen).snapshot(max_lines), &p.shell);
    Ok(ScreenView {
        session: p.session,
        shell: p.shell.index,
        screen: snapshot,
        command: p.job.as_deref().map(command_state),
    })
}

/// send_keys: types `keys` into the program running in the host's session, waits for the
/// screen to settle and returns it with the command's status.
pub async fn send_keys(
    engine: &SessionManager,
    host: &str,
    keys: &str,
    username: Option<&str>,
    port: Option<u16>,
    max_lines: usize,
) -> Result<KeysSent> {
    if keys.is_empty() {
        return Err(Error::invalid(
            "keys",
            "it is empty; send text and key tokens, e.g. \"q\" or \"<esc>:wq<enter>\"",
        ));
    }
    check_max_lines(max_lines)?;
    let p = pick(engine, host, username, port).await?;
    // Keys typed into our idle shell would end up in front of the next command.
    let Some(job) = p.job.clone() else {
        return Err(Error::Idle { session: p.session });
    };
    let (screen, raw) = screen_of(&p.shell, engine);
    let was_waiting = job.status() == JobStatus::AwaitingInput;
    let parsed = parse_keys(keys, lock(&screen).application_cursor());
    let before = raw.lock().unwrap_or_else(|e| e.into_inner()).total();
    engine.send_input(&job.id, parsed.bytes.clone()).await?;
    let settled = settle(&raw, &job, before).await;
    let snapshot = {
        let mut s = lock(&screen);
        s.update(&raw);
        masked(s.snapshot(max_lines), &p.shell)
    };
    // The shell reports a quiet full-screen program (or prompt) as awaiting input a little
    // after our quiet point: wait for that, so the status agrees with the screen.
    if settled && (was_waiting || snapshot.alternate_screen) {
        await_status_change(&job, JobStatus::Running, SHELL_SETTLE).await;
    }
    Ok(KeysSent {
        session: p.session,
        shell: p.shell.index,
        bytes_sent: parsed.bytes.len(),
        unknown_tokens: parsed.unknown,
        settled,
        screen: snapshot,
        command: Some(command_state(&job)),
    })
}

/// Waits up to `limit` while `job` is in `status`.
async fn await_status_change(job: &Job, status: JobStatus, limit: Duration) {
    let mut rx = job.subscribe();
    let until = Instant::now() + limit;
    while job.status() == status {
        tokio::select! {
            r = rx.changed() => if r.is_err() { return },
            _ = tokio::time::sleep_until(until) => return,
        }
    }
}

/// Waits until output has paused (or the job ended). False when it never paused.
async fn settle(raw: &Mutex<RawTail>, job: &Job, before: u64) -> bool {
    let start = Instant::now();
    let mut seen = before;
    let mut last_output: Option<Instant> = None;
    loop {
        tokio::time::sleep(POLL).await;
        let now = Instant::now();
        let total = raw.lock().unwrap_or_else(|e| e.into_inner()).total();
        if total != seen {
            seen = total;
            last_output = Some(now);
        }
        // The job's end marker is the last thing its shell prints.
        if !job.status().is_active() {
            return true;
        }
        let quiet = match last_output {
            Some(t) => now - t >= QUIET,
            None => now - start >= FIRST_OUTPUT,
        };
        if quiet {
            return true;
        }
        if now - start >= MAX_WAIT {
            return false;
        }
    }
}

fn command_line(c: &CommandState) -> String {
    let mut t = format!(
        "Command {} (`{}`): {}",
        c.command_id,
        c.command,
        c.status.as_str()
    );
    if let Some(code) = c.exit_code {
        t.push_str(&format!(", exit code {code}"));
    }
    if let Some(kind) = &c.awaiting_input {
        t.push_str(&format!(" ({kind})"));
    }
    t
}

fn rows_text(s: &ScreenSnapshot) -> String {
    let mut t = s.lines.join("\n");
    t.push('\n');
    t.push_str(&s.footer());
    t.push('\n');
    t
}

/// The text of a read_screen result: the rows, a line on cursor and size, the command.
pub fn screen_text(v: &ScreenView) -> String {
    let mut t = rows_text(&v.screen);
    t.push_str(&format!("Shell #{} of {}", v.shell, v.session));
    match &v.command {
        Some(c) => t.push_str(&format!("; {}\n", command_line(c))),
        None => t.push_str(": no command running\n"),
    }
    t
}

/// The text of a send_keys result: what was sent, warnings, the command, then the screen.
pub fn keys_text(k: &KeysSent) -> String {
    let mut t = format!(
        "Sent {} bytes to shell #{} of {}.\n",
        k.bytes_sent, k.shell, k.session
    );
    if !k.unknown_tokens.is_empty() {
        t.push_str(&format!(
            "Warning: not key names, typed as text: {} (see the keys parameter for names; <lt> types a literal `<`).\n",
            k.unknown_tokens.join(" ")
        ));
    }
    if let Some(c) = &k.command {
        t.push_str(&command_line(c));
        t.push('\n');
    }
    if !k.settled {
        t.push_str("Output was still arriving; read_screen again to see more.\n");
    }
    t.push_str("Screen:\n");
    t.push_str(&rows_text(&k.screen));
    t
}

fn max_lines(p: Option<u64>) -> usize {
    p.map(|n| n.min(10_000) as usize)
        .unwrap_or(DEFAULT_MAX_LINES)
}

#[tool_router(router = interactive_tools, vis = "pub(crate)")]
impl SshServer {
    /// Show the terminal screen of a host's session (for vim, less, top, installers) with the cursor position.
    #[tool(
        title = "Read the terminal screen",
        output_schema = schema_for_output::<ScreenView>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn read_screen(&self, Parameters(p): Parameters<ReadScreenParams>) -> CallToolResult {
        match read_screen(
            &self.engine,
            &p.host,
            p.username.as_deref(),
            p.port,
            max_lines(p.max_lines),
        )
        .await
        {
            Ok(v) => result(screen_text(&v), &v),
            Err(e) => tool_error(&e),
        }
    }

    /// Type keys into the program running in a host's session; returns the screen after and the command's status.
    #[tool(
        title = "Send keys to a terminal program",
        output_schema = schema_for_output::<KeysSent>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    async fn send_keys(&self, Parameters(p): Parameters<SendKeysParams>) -> CallToolResult {
        match send_keys(
            &self.engine,
            &p.host,
            &p.keys,
            p.username.as_deref(),
            p.port,
            max_lines(p.max_lines),
        )
        .await
        {
            Ok(k) => result(keys_text(&k), &k),
            Err(e) => tool_error(&e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::term::screen::Screen;

    #[test]
    fn result_texts_say_what_happened() {
        let mut screen = Screen::new(5, 20);
        screen.feed(b"\x1b[?1049h\x1b[Hhello\x1b[5;1H:");
        let k = KeysSent {
            session: "u@h:22".into(),
            shell: 2,
            bytes_sent: 9,
            unknown_tokens: vec!["<html>".into()],
            settled: false,
            screen: screen.snapshot(24),
            command: Some(CommandState {
                command_id: "abc".into(),
                command: "less f".into(),
                status: JobStatus::Completed,
                exit_code: Some(0),
                awaiting_input: None,
            }),
        };
        assert_eq!(
            keys_text(&k),
            "Sent 9 bytes to shell #2 of u@h:22.\n\
             Warning: not key names, typed as text: <html> (see the keys parameter for names; <lt> types a literal `<`).\n\
             Command abc (`less f`): completed, exit code 0\n\
             Output was still arriving; read_screen again to see more.\n\
             Screen:\nhello\n\n\n\n:\n\
             [cursor row 4, col 1 (0-based); screen 20x5; full-screen program]\n"
        );
        let v = ScreenView {
            session: "u@h:22".into(),
            shell: 1,
            screen: screen.snapshot(2),
            command: None,
        };
        assert_eq!(
            screen_text(&v),
            "\n:\n[cursor row 4, col 1 (0-based); screen 20x5; rows 3-4 shown (bottom); max_lines=5 shows all; full-screen program]\n\
             Shell #1 of u@h:22: no command running\n"
        );
    }
}
