//! Setting a freshly logged-in shell up for the marker protocol: the probe (which shell, which
//! PID), the set-up line, and for a parallel shell the `cd` into the main shell's directory.
//!
//! The probe and the set-up line go out together (one round trip): when the probe says the
//! login shell is not POSIX (csh, fish), bash or sh is started in it and the set-up line is
//! typed again there. When nothing answers the probe and the prompt comes back after an error
//! line, the other side is not a shell at all (a network device's CLI): the caller is told so.

use std::time::Duration;

use regex::Regex;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::encode::{
    Marker, START_POSIX_SHELL, command_line, is_non_posix_shell, probe_line, probe_token,
    probed_pid, setup_line,
};
use super::{PosixDialect, PosixInfo};
use crate::expect::{Expect, ExpectError, Needle};
use crate::pty::PtyInput;

/// How long output must pause, with the probe unanswered and a prompt showing, before the
/// other side counts as not being a shell.
const NO_SHELL_QUIET: Duration = Duration::from_millis(700);

/// Why a set-up failed.
#[derive(Debug)]
pub enum SetupError {
    /// The probe got no answer and the prompt came back: not a POSIX shell (a device CLI).
    NotAShell { prompt: String, reply: String },
    /// The terminal ended, the time ran out, or the call was cancelled.
    Expect(ExpectError),
    /// Writing to the terminal failed.
    Write(std::io::Error),
}

/// What the set-up needs.
pub struct Setup<'a> {
    pub nonce: &'a str,
    pub input: &'a PtyInput,
    pub deadline: Instant,
    /// The prompt line the login showed, if any (to recognise it coming back after an error).
    pub login_prompt: Option<&'a str>,
    /// Start in this directory (parallel shells follow the main shell).
    pub cwd: Option<&'a str>,
}

/// Sets the shell up and returns the dialect that drives it from now on.
pub async fn setup(
    ex: &mut Expect,
    s: Setup<'_>,
    cancel: &CancellationToken,
) -> Result<(PosixDialect, PosixInfo), SetupError> {
    let write = |bytes: &[u8]| s.input.write(bytes).map_err(SetupError::Write);
    let mut typed = probe_line(s.nonce);
    typed.extend_from_slice(&setup_line(s.nonce, 1, 0));
    write(&typed)?;
    // The whole line: a path cut at a chunk boundary must not be read as the shell.
    let token = Regex::new(&format!(
        "{}[ \\t]*(\\S*)[ \\t]*\\r?\\n",
        regex::escape(&probe_token(s.nonce))
    ))
    .expect("valid regex");
    let mut info = PosixInfo {
        depth: 1,
        ..Default::default()
    };
    // Everything the probe printed, for its PID line; and whether it answered at all.
    let mut probe_text = String::new();
    let mut answered = false;
    loop {
        let left = s.deadline.saturating_duration_since(Instant::now());
        let needles = [
            Needle::Marker,
            Needle::Regex(token.clone()),
            Needle::Quiet(NO_SHELL_QUIET),
        ];
        let m = ex
            .expect(&needles, left, cancel)
            .await
            .map_err(SetupError::Expect)?;
        match m.index {
            0 => {
                probe_text.push_str(&m.before);
                let Some(marker) =
                    Marker::parse(&m.matched).filter(|mk| mk.nonce == s.nonce && mk.seq == 0)
                else {
                    continue;
                };
                info.cwd = Some(marker.cwd);
                info.depth = marker.depth;
                break;
            }
            1 => {
                probe_text.push_str(&m.before);
                probe_text.push_str(&m.matched);
                answered = true;
                let login = token
                    .captures(&m.matched)
                    .and_then(|c| c.get(1))
                    .map(|x| x.as_str().to_string())
                    .filter(|x| !x.is_empty());
                let non_posix = login.as_deref().is_some_and(is_non_posix_shell);
                info.login_shell = login;
                if non_posix && !info.posix_fallback {
                    tracing::info!(shell = ?info.login_shell, "login shell is not POSIX; starting bash/sh inside it");
                    info.posix_fallback = true;
                    let mut bytes = START_POSIX_SHELL.to_vec();
                    bytes.extend_from_slice(&setup_line(s.nonce, 1, 0));
                    write(&bytes)?;
                }
            }
            _ => {
                // Quiet. A shell that is slow to start says nothing; a CLI that is not a shell
                // answers our line with an error and shows its prompt again.
                let prompt = ex.line_before_cursor().trim().to_string();
                let reply = ex.pending_text();
                let prompt_back = !prompt.is_empty()
                    && (s.login_prompt.is_some_and(|p| p.trim() == prompt)
                        || crate::expect::shell_prompt(&prompt).is_some());
                if !answered && prompt_back && reply.trim_end() != prompt {
                    return Err(SetupError::NotAShell { prompt, reply });
                }
            }
        }
    }
    let pid = probed_pid(&probe_text, s.nonce).filter(|_| !info.posix_fallback);
    // With bash started inside a non-POSIX login shell, the PID we saw is not our shell's.
    let mut seq = 0;
    if let Some(cwd) = s.cwd.filter(|c| Some(*c) != info.cwd.as_deref()) {
        seq = 1;
        let cd = format!("cd -- '{}' 2>/dev/null", cwd.replace('\'', "'\\''"));
        write(&command_line(&cd, seq, false))?;
        loop {
            // Numbered: if the deadline passes first, its marker, still on its way, names a
            // command that is no longer running and is ignored.
            let left = s.deadline.saturating_duration_since(Instant::now());
            match ex.expect(&[Needle::Marker], left, cancel).await {
                Ok(m) => {
                    if let Some(mk) =
                        Marker::parse(&m.matched).filter(|mk| mk.nonce == s.nonce && mk.seq == seq)
                    {
                        info.cwd = Some(mk.cwd);
                        break;
                    }
                }
                Err(ExpectError::Cancelled) => {
                    return Err(SetupError::Expect(ExpectError::Cancelled));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "cd for a parallel shell did not finish in time");
                    break;
                }
            }
        }
    }
    let mut dialect = PosixDialect::new(s.nonce.to_string(), pid, seq);
    dialect.depth = info.depth;
    Ok((dialect, info))
}
