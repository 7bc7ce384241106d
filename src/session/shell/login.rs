//! The first moments of a shell session: wait for the login to show a prompt, answer what a
//! terminal would answer, and tell from the prompt what kind of CLI this is, before anything
//! is typed.
//!
//! A POSIX shell prompt (`user@host:~$ `) or a device prompt (`Router>`, `<HUAWEI>`) decides
//! at once. Anything else (a themed prompt we do not recognise, an empty one) is decided once
//! output pauses, by the POSIX set-up's probe: a shell answers it, a CLI that is not a shell
//! answers with an error and shows its prompt again.

use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::expect::{
    Expect, ExpectError, Needle, Prompt, PromptKind, posix_shell_prompt, repl_prompt,
};
use crate::pty::PtyInput;

/// Output must pause this long before an unrecognised last line counts as the prompt.
const SETTLE: Duration = Duration::from_millis(300);
/// With nothing on the last line, wait this long in all before deciding.
const EMPTY_PROMPT: Duration = Duration::from_secs(1);

/// What the login showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// A POSIX shell's prompt, or one we could not place (None: an empty prompt): the POSIX
    /// set-up runs, and its probe decides.
    Shell { prompt: Option<String> },
    /// A network device's prompt.
    Device { prompt: String },
}

#[derive(Debug)]
pub enum LoginError {
    Expect(ExpectError),
    /// Something asked for input before any prompt (a password, a question we cannot answer).
    Asked(Prompt),
}

/// Waits for the login's first prompt.
pub async fn await_prompt(
    ex: &mut Expect,
    input: &PtyInput,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<Login, LoginError> {
    let started = Instant::now();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let needles = [
            Needle::Line(is_shell_prompt),
            Needle::Line(is_device_prompt),
            Needle::Prompt,
            Needle::Quiet(SETTLE),
        ];
        let m = ex
            .expect(&needles, left, cancel)
            .await
            .map_err(LoginError::Expect)?;
        match m.index {
            0 => {
                return Ok(Login::Shell {
                    prompt: Some(m.matched),
                });
            }
            1 => {
                return Ok(Login::Device {
                    prompt: m.matched.trim().to_string(),
                });
            }
            2 => {
                let prompt = m.prompt.expect("Prompt needles carry the prompt");
                match prompt.kind {
                    // A banner waiting for a key: the conservative answer is Enter.
                    PromptKind::PressKey => {
                        let _ = input.write(b"\r");
                    }
                    _ => return Err(LoginError::Asked(prompt)),
                }
            }
            _ => {
                let line = ex.line_before_cursor();
                if !line.trim().is_empty() {
                    ex.take_pending();
                    return Ok(Login::Shell { prompt: Some(line) });
                }
                if started.elapsed() >= EMPTY_PROMPT {
                    ex.take_pending();
                    return Ok(Login::Shell { prompt: None });
                }
            }
        }
    }
}

/// A prompt only a POSIX shell shows: it ends in `$`, `#` or `%` and carries a user, a path
/// or a shell's name (`user@host:~$ `, `[u@h tmp]# `, `bash-5.2$ `, `~ $ `), and is no
/// device's.
pub fn is_shell_prompt(line: &str) -> bool {
    let t = line.trim();
    t.len() > 1 && posix_shell_prompt(t) && !is_device_prompt(t)
}

/// Device prompts of the common vendor families, with the host name as they print it:
/// Cisco-like `Router>`, `Router#`, `Router(config-if)#`; Junos `user@r1>`; Huawei/H3C
/// `<HUAWEI>`, `[HUAWEI]`, `[~HUAWEI]`; MikroTik `[admin@MikroTik] > `.
pub fn is_device_prompt(line: &str) -> bool {
    static DEVICE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(concat!(
            // ASCII classes: host names are ASCII, and Unicode ones would blow up the automaton.
            r"(?-u)^(?:",
            r"[A-Za-z][0-9A-Za-z_.\-/:]{0,62}(?:\([0-9A-Za-z_.\-/:+]{0,32}\))?[>#]",
            r"|[0-9A-Za-z_.\-]+@[0-9A-Za-z_.\-]+[>#]",
            r"|(?:(?i:hrp|rbm)_[a-z]?)?<[0-9A-Za-z_.\-@()/:]{1,48}>",
            r"|\[[~*]{0,2}[0-9A-Za-z_.\-@/:]{1,64}\]",
            r"|\[[0-9A-Za-z_.\-+@ ]+@[0-9A-Za-z_.\- ]+\] ?[ -=?-~]{0,32}>",
            r")$"
        ))
        .expect("valid regex")
    });
    static SHELL_NAMED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(?:[\w.]*sh)-\d").expect("valid regex"));
    let t = line.trim();
    DEVICE.is_match(t) && !SHELL_NAMED.is_match(t) && !repl_prompt(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_and_device_prompts_are_told_apart() {
        for p in [
            "mcptkey@host:~$ ",
            "root@vm:~# ",
            "[u@h tmp]$ ",
            "bash-5.2$ ",
            "~ $ ",
            "user@host ~ % ",
            "host:/etc% ",
        ] {
            assert!(is_shell_prompt(p), "{p:?}");
            assert!(!is_device_prompt(p), "{p:?}");
        }
        for p in [
            "Router>",
            "Router#",
            "Router(config-if)#",
            "sw1.lab#",
            "user@r1>",
            "<HUAWEI>",
            "[HUAWEI]",
            "[~HUAWEI]",
            "[admin@MikroTik] > ",
            "[admin@MikroTik] /system> ",
        ] {
            assert!(is_device_prompt(p), "{p:?}");
            assert!(!is_shell_prompt(p), "{p:?}");
        }
        for p in [
            "sh-5.2#",
            "bash-5.2#",
            "$ ",
            "Password: ",
            ">>> ",
            "mysql> ",
        ] {
            assert!(!is_device_prompt(p), "{p:?}");
        }
    }
}
