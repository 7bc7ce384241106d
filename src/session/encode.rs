//! What we type into a remote shell: the bootstrap that installs the marker prompt, commands
//! wrapped so that exactly one prompt follows each of them, and the marker's parser.
//!
//! The remote terminal runs in canonical mode with echo off and line editing off, so input is
//! read line by line by the kernel's line discipline. Three consequences shape this module:
//! - control bytes in a command would be acted on by the terminal (Ctrl-C, Ctrl-D, erase...),
//!   so each one is preceded by VLNEXT (Ctrl-V), which makes the next byte literal;
//! - one physical line holds at most 4095 bytes, so long lines are split with a
//!   backslash-newline between single-quoted pieces, which the shell joins again;
//! - a multi-line script typed as is would print one prompt per line, so every command is
//!   sent as one `eval '<quoted script>'`: one logical line, one prompt, its exit status.

/// The OSC number of our prompt marker: `ESC ] 7770 ; nonce ; depth ; status ; cwd BEL`.
pub const MARKER_OSC: &str = "7770";

/// Physical line budget, well under the kernel's 4095-byte canonical line limit.
const MAX_PHYSICAL_LINE: usize = 1000;

const VLNEXT: u8 = 0x16;

/// Pushes `c`, quoting terminal control characters with VLNEXT.
fn push_literal(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    let bytes = c.encode_utf8(&mut buf).as_bytes();
    if bytes.len() == 1 && is_tty_special(bytes[0]) {
        out.push(VLNEXT);
    }
    out.extend_from_slice(bytes);
}

fn is_tty_special(b: u8) -> bool {
    (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f
}

/// `s` with terminal control characters quoted (for typing a secret at a prompt).
pub fn literal_bytes(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 2);
    for c in s.chars() {
        push_literal(&mut out, c);
    }
    out
}

/// The bytes that run `command` in a POSIX shell or zsh set up by [`bootstrap`].
/// The leading space keeps it out of history where `HISTCONTROL=ignorespace` applies.
pub fn command_line(command: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(command.len() + 16);
    out.extend_from_slice(b" eval '");
    let mut line_len = out.len();
    for c in command.chars() {
        if c == '\n' {
            out.push(b'\n');
            line_len = 0;
            continue;
        }
        let width = if c == '\'' { 4 } else { c.len_utf8() + 1 };
        if line_len + width > MAX_PHYSICAL_LINE {
            // Close the quote, continue the line, reopen: the shell joins `'ab'\<LF>'cd'` into `abcd`.
            out.extend_from_slice(b"'\\\n'");
            line_len = 1;
        }
        if c == '\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            push_literal(&mut out, c);
        }
        line_len += width;
    }
    out.extend_from_slice(b"'\n");
    out
}

/// Lines that identify the shell and install the marker prompt: the probe, then the setup.
///
/// The probe prints a token and `$SHELL` in any shell, POSIX or not (csh, fish): when the
/// login shell cannot run the setup line, we know before trying. It goes first because the
/// setup line turns line editing off, and input typed ahead of that moment may sit in
/// readline's own buffer, unread, once readline is off.
pub fn bootstrap(nonce: &str, depth: u32) -> Vec<u8> {
    let mut out = probe_line(nonce);
    out.extend_from_slice(&setup_line(nonce, depth));
    out
}

/// The probe alone: the login shell's path, then the shell's PID (so that a prompt reset
/// by `source ~/.bashrc` or `exec bash` is told apart from a new shell inside the old one).
/// `unset HISTFILE` first: with `PROMPT_COMMAND='history -a'` bash would save this very line
/// after running it. Every part is valid csh; fish rejects `unset` and `$$` but still
/// prints the first token.
pub fn probe_line(nonce: &str) -> Vec<u8> {
    format!(" unset HISTFILE; echo MCP''PROBE''{nonce} \"$SHELL\"; echo MCP''PID''{nonce} $$\n")
        .into_bytes()
}

/// The text the probe prints before the shell's PID.
pub fn pid_token(nonce: &str) -> String {
    format!("MCPPID{nonce}")
}

/// The PID a probe reported in `text`, if its line has arrived.
pub fn probed_pid(text: &str, nonce: &str) -> Option<u32> {
    let token = pid_token(nonce);
    let at = text.find(&token)? + token.len();
    let rest = &text[at..];
    // Only a completed line counts: the digits may still be arriving.
    let line = &rest[..rest.find('\n')?];
    line.trim().parse().ok()
}

/// The setup line.
///
/// It works in bash, dash, busybox ash, ksh and zsh: echo off, line editing off (no
/// readline redraws, no completion on TAB, no bracketed paste), history off, prompt hooks of
/// themes removed, pagers turned into `cat`, and PS1 set to an OSC sequence carrying the nonce,
/// the shell depth, the last exit status and the working directory. The ESC and BEL bytes are
/// produced by printf on the remote side, so the marker never appears in what we type (the
/// terminal may echo this line before `stty -echo` runs).
pub fn setup_line(nonce: &str, depth: u32) -> Vec<u8> {
    let osc = format!("$(printf '\\033]{MARKER_OSC};{nonce};{depth};')");
    let bel = "$(printf '\\007')";
    let line1 = format!(
        " stty -echo 2>/dev/null; \
if [ -n \"${{ZSH_VERSION:-}}\" ]; then \
builtin unsetopt zle prompt_subst prompt_sp prompt_cr 2>/dev/null; \
builtin setopt prompt_percent no_bang_hist 2>/dev/null; \
builtin unset precmd_functions preexec_functions RPROMPT RPS1 RPROMPT2 RPS2 TMOUT 2>/dev/null; \
builtin unfunction precmd preexec TRAPALRM 2>/dev/null; \
PS1=\"{osc}%?;%d{bel}\"; \
else \
command set +o emacs 2>/dev/null; command set +o vi 2>/dev/null; \
if [ -n \"${{BASH_VERSION:-}}\" ]; then set +o history +H; history -c; unset PROMPT_COMMAND PS0; trap - DEBUG; fi; \
command unset TMOUT 2>/dev/null; \
PS1=\"{osc}\"'$?;$PWD'\"{bel}\"; \
fi; \
PS2=''; unset HISTFILE; \
export PAGER=cat GIT_PAGER=cat SYSTEMD_PAGER=cat MANPAGER=cat\n"
    );
    line1.into_bytes()
}

/// Login shells whose syntax the setup line does not fit: a POSIX shell is started in them.
pub fn is_non_posix_shell(shell_path: &str) -> bool {
    let name = shell_path.rsplit('/').next().unwrap_or(shell_path);
    let name = name.trim_start_matches('-');
    matches!(
        name,
        "csh"
            | "tcsh"
            | "fish"
            | "nu"
            | "nushell"
            | "elvish"
            | "xonsh"
            | "pwsh"
            | "rc"
            | "es"
            | "ion"
    )
}

/// The text the probe of [`bootstrap`] prints.
pub fn probe_token(nonce: &str) -> String {
    format!("MCPPROBE{nonce}")
}

/// Starts a POSIX shell from a login shell that is not one (csh, tcsh, fish, nushell): bash if
/// present, else sh. The syntax is plain enough for all of them.
pub const START_POSIX_SHELL: &[u8] =
    b" sh -c 'command -v bash >/dev/null 2>&1 && exec bash -i || exec sh -i'\n";

/// A parsed prompt marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub nonce: String,
    pub depth: u32,
    pub status: i32,
    pub cwd: String,
}

impl Marker {
    /// Parses the OSC payload after `7770;`: `nonce;depth;status;cwd` (cwd may hold `;`).
    pub fn parse(payload: &str) -> Option<Marker> {
        let mut parts = payload.splitn(4, ';');
        let nonce = parts.next()?.to_string();
        let depth = parts.next()?.parse().ok()?;
        let status = parts.next()?.trim().parse().ok()?;
        let cwd = parts.next().unwrap_or("").to_string();
        Some(Marker {
            nonce,
            depth,
            status,
            cwd,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_command_is_one_eval_line() {
        assert_eq!(command_line("echo hi"), b" eval 'echo hi'\n");
        assert_eq!(command_line("echo 'a b'"), b" eval 'echo '\\''a b'\\'''\n");
    }

    #[test]
    fn control_characters_are_quoted_for_the_terminal() {
        assert_eq!(
            command_line("printf 'a\u{3}b\rc\td'"),
            b" eval 'printf '\\''a\x16\x03b\x16\rc\td'\\'''\n"
        );
        assert_eq!(literal_bytes("p\u{4}w"), b"p\x16\x04w");
    }

    #[test]
    fn long_lines_are_split_below_the_canonical_limit() {
        let cmd = format!("echo {}", "x".repeat(10_000));
        let bytes = command_line(&cmd);
        for line in bytes.split(|b| *b == b'\n') {
            assert!(line.len() <= MAX_PHYSICAL_LINE + 4, "{}", line.len());
        }
        // Joining the continuation lines gives back the quoted command.
        let joined = String::from_utf8(bytes).unwrap().replace("'\\\n'", "");
        assert_eq!(joined, format!(" eval '{cmd}'\n"));
    }

    #[test]
    fn multi_line_scripts_keep_their_newlines() {
        assert_eq!(
            command_line("cat <<EOF\nx\nEOF"),
            b" eval 'cat <<EOF\nx\nEOF'\n"
        );
    }

    #[test]
    fn non_posix_shells_are_recognised() {
        assert!(is_non_posix_shell("/usr/bin/tcsh"));
        assert!(is_non_posix_shell("/usr/local/bin/fish"));
        assert!(!is_non_posix_shell("/bin/bash"));
        assert!(!is_non_posix_shell("/usr/local/lib/mcpt/ash"));
        assert!(!is_non_posix_shell("/bin/zsh"));
    }

    #[test]
    fn bootstrap_never_contains_the_marker_or_token_literally() {
        let b = String::from_utf8(bootstrap("abc123", 1)).unwrap();
        assert!(b.starts_with(" unset HISTFILE; echo MCP''PROBE''abc123"));
        assert!(!b.contains('\u{1b}'));
        assert!(!b.contains("MCPPROBEabc123"));
        assert!(b.lines().all(|l| l.len() < 4000));
    }

    #[test]
    fn probe_reports_shell_and_pid() {
        let line = String::from_utf8(probe_line("n0")).unwrap();
        assert!(!line.contains("MCPPROBEn0") && !line.contains("MCPPIDn0"));
        assert_eq!(
            probed_pid("MCPPROBEn0 /bin/bash\nMCPPIDn0 4242\n", "n0"),
            Some(4242)
        );
        assert_eq!(probed_pid("MCPPIDn0 42", "n0"), None);
        assert_eq!(probed_pid("MCPPIDx 42\n", "n0"), None);
    }

    #[test]
    fn parses_markers() {
        assert_eq!(
            Marker::parse("n1;2;130;/tmp/a;b"),
            Some(Marker {
                nonce: "n1".into(),
                depth: 2,
                status: 130,
                cwd: "/tmp/a;b".into()
            })
        );
        assert_eq!(Marker::parse("n1;x;0;/"), None);
        assert_eq!(Marker::parse("n1;1"), None);
    }

    // Property tests: what the terminal and the shell make of our bytes.
    use proptest::prelude::*;

    /// The terminal's line discipline (canonical mode): each VLNEXT makes the next byte
    /// literal; any other special byte would act (signal, erase, end of file...). Returns the
    /// bytes the reader gets, or the first special byte that was not quoted.
    fn through_the_tty(bytes: &[u8]) -> Result<Vec<u8>, u8> {
        let mut out = Vec::with_capacity(bytes.len());
        let mut it = bytes.iter();
        while let Some(&b) = it.next() {
            if b == VLNEXT {
                out.push(*it.next().ok_or(b)?);
            } else if is_tty_special(b) {
                return Err(b);
            } else {
                out.push(b);
            }
        }
        Ok(out)
    }

    /// The shell reading `s` (POSIX quoting): `eval` followed by one word made of single-quoted
    /// pieces, `\'` and backslash-newline continuations, then the newline that ends the
    /// command. Returns the word, or why the bytes are anything else.
    fn one_eval_command(s: &str) -> Result<String, String> {
        let rest = s.strip_prefix(" eval ").ok_or("does not start with eval")?;
        let mut word = String::new();
        let mut chars = rest.chars().peekable();
        loop {
            match chars.next() {
                Some('\'') => loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated quote".into()),
                    }
                },
                Some('\\') => match chars.next() {
                    Some('\'') => word.push('\''),
                    Some('\n') => {}
                    other => return Err(format!("unexpected escape {other:?}")),
                },
                Some('\n') => {
                    let tail: String = chars.collect();
                    return if tail.is_empty() {
                        Ok(word)
                    } else {
                        Err(format!("a second command follows: {tail:?}"))
                    };
                }
                other => return Err(format!("{other:?} outside the quotes")),
            }
        }
    }

    #[test]
    fn the_property_checkers_catch_a_second_command() {
        assert_eq!(one_eval_command(" eval 'a'\n"), Ok("a".into()));
        assert!(one_eval_command(" eval 'a'\nrm x\n").is_err());
        assert!(one_eval_command(" eval 'a';rm x\n").is_err());
        assert!(through_the_tty(b"a\x03b").is_err());
        assert_eq!(through_the_tty(b"a\x16\x03b"), Ok(b"a\x03b".to_vec()));
    }

    proptest! {
        #[test]
        fn a_command_is_always_one_eval_of_exactly_that_text(cmd in any::<String>()) {
            prop_assume!(!cmd.contains('\0'));
            let bytes = command_line(&cmd);
            for line in bytes.split(|b| *b == b'\n') {
                prop_assert!(line.len() < 4095, "physical line of {} bytes", line.len());
            }
            let read = through_the_tty(&bytes)
                .map_err(|b| TestCaseError::fail(format!("unquoted special byte {b:#x}")))?;
            let text = String::from_utf8(read).expect("UTF-8 in, UTF-8 out");
            prop_assert_eq!(one_eval_command(&text), Ok(cmd));
        }

        #[test]
        fn a_typed_secret_is_one_line_of_exactly_that_text(secret in any::<String>()) {
            // Secrets never hold a line break (the `Secret` parsers refuse one): the Enter
            // typed after it is the only line end.
            prop_assume!(!secret.contains('\n'));
            let mut bytes = literal_bytes(&secret);
            bytes.push(b'\n');
            let read = through_the_tty(&bytes)
                .map_err(|b| TestCaseError::fail(format!("unquoted special byte {b:#x}")))?;
            let mut want = secret.into_bytes();
            want.push(b'\n');
            prop_assert_eq!(read, want);
        }
    }
}
