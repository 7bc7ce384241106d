//! The first moments of a shell session: wait for the login to show a prompt, answer what a
//! terminal would answer, and tell from the prompt what kind of CLI this is, before anything
//! is typed.
//!
//! A POSIX shell prompt (`user@host:~$ `) or a device prompt (`Router>`, `<HUAWEI>`) decides
//! at once. Anything else (a themed prompt we do not recognise, an empty one) is decided once
//! output pauses, by the POSIX set-up's probe: a shell answers it, a CLI that is not a shell
//! answers with an error and shows its prompt again.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::devices::{self, Detected};
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
    /// set-up runs, and its probe decides. `answered` as for a device.
    Shell {
        prompt: Option<String>,
        answered: Vec<&'static str>,
    },
    /// A network device's prompt, read with the vendor table; `answered` names the login
    /// questions answered on the way (`software licence question`...).
    Device {
        detected: Detected,
        answered: Vec<&'static str>,
    },
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
    let mut answered = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let needles = [
            Needle::Line(is_shell_prompt),
            Needle::Line(is_device_prompt),
            Needle::Line(|l| devices::interstitial(l).is_some()),
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
                    answered,
                });
            }
            1 => {
                let detected = devices::detect(&m.matched).expect("checked by the needle");
                return Ok(Login::Device { detected, answered });
            }
            2 => {
                // A question between login and prompt (licence, password change, banner):
                // the answer that changes nothing, named in the result.
                let i = devices::interstitial(&m.matched).expect("checked by the needle");
                answered.push(i.name);
                let _ = input.write(i.answer.as_bytes());
            }
            3 => {
                let prompt = m.prompt.expect("Prompt needles carry the prompt");
                match prompt.kind {
                    // A banner waiting for a key: the conservative answer is Enter.
                    PromptKind::PressKey => {
                        answered.push("press a key");
                        let _ = input.write(b"\r");
                    }
                    _ => return Err(LoginError::Asked(prompt)),
                }
            }
            _ => {
                let line = ex.line_before_cursor();
                if !line.trim().is_empty() {
                    ex.take_pending();
                    return Ok(Login::Shell {
                        prompt: Some(line),
                        answered,
                    });
                }
                if started.elapsed() >= EMPTY_PROMPT {
                    ex.take_pending();
                    return Ok(Login::Shell {
                        prompt: None,
                        answered,
                    });
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

/// A prompt of a network device family of the vendor table (`Router>`, `<HUAWEI>`,
/// `[admin@MikroTik] > `, `user@r1>`).
pub fn is_device_prompt(line: &str) -> bool {
    // `mysql>` has the shape of a Cisco user prompt; an appliance's `edge01-->` is also a
    // shape psql uses, but nothing else claims it.
    devices::detect(line).is_some_and(|d| d.family.name == "generic" || !repl_prompt(line))
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
