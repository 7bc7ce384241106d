//! What the POSIX dialect types into a remote shell: the probe and the set-up line that
//! install the marker prompt, commands wrapped so that exactly one marker follows each of them
//! and names it, and the marker's parser.
//!
//! The remote terminal runs in canonical mode with echo off and line editing off, so input is
//! read line by line by the kernel's line discipline. Three consequences shape this module:
//! - control bytes in a command would be acted on by the terminal, so they are quoted with
//!   VLNEXT ([`crate::term::input`]);
//! - one physical line holds at most 4095 bytes, so long lines are split with a
//!   backslash-newline between single-quoted pieces, which the shell joins again;
//! - a multi-line script typed as is would print one prompt per line, so every command is sent
//!   as one `eval '<quoted script>'`: one logical line, one prompt, its exit status.
//!
//! Every command carries this shell's sequence number: ` __mcp_cmd SEQ $?; eval '...'` sets
//! `__mcp_seq` (which the prompt prints) and hands the previous exit status on, so `$?` in the
//! command is still the status of the command before it.

use crate::term::input::{VKILL, push_literal};

/// The OSC number of our prompt marker:
/// `ESC ] 7770 ; nonce ; depth ; seq ; status ; cwd BEL`.
pub const MARKER_OSC: &str = "7770";

/// Physical line budget, well under the kernel's 4095-byte canonical line limit.
const MAX_PHYSICAL_LINE: usize = 1000;

/// The bytes that run `command` as number `seq` in a shell set up by [`setup_line`]. With
/// `kill_line`, Ctrl-U first discards whatever raw input left on the shell's current line.
/// The leading space keeps it out of history where `HISTCONTROL=ignorespace` applies.
pub fn command_line(command: &str, seq: u64, kill_line: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(command.len() + 40);
    if kill_line {
        out.push(VKILL);
    }
    out.extend_from_slice(format!(" __mcp_cmd {seq} $?; eval '").as_bytes());
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

/// After an interrupt: a line that does nothing but print a marker numbered `seq`, so that we
/// know every Ctrl-C sent before it has been dealt with. It also turns echo off and canonical
/// input on again, in case the interrupted program left the terminal otherwise.
pub fn sync_line(seq: u64) -> Vec<u8> {
    format!(" stty -echo icanon 2>/dev/null; __mcp_cmd {seq} 0\n").into_bytes()
}

/// The probe: a token and `$SHELL` in any shell, POSIX or not (csh, fish), then the shell's
/// PID (so that a prompt reset by `source ~/.bashrc` or `exec bash` is told apart from a new
/// shell inside the old one). `unset HISTFILE` first: with `PROMPT_COMMAND='history -a'`
/// bash would save this very line after running it. Every part is valid csh; fish rejects
/// `unset` and `$$` but still prints the first token.
pub fn probe_line(nonce: &str) -> Vec<u8> {
    format!(" unset HISTFILE; echo MCP''PROBE''{nonce} \"$SHELL\"; echo MCP''PID''{nonce} $$\n")
        .into_bytes()
}

/// The text the probe prints before the login shell's path.
pub fn probe_token(nonce: &str) -> String {
    format!("MCPPROBE{nonce}")
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

/// The login shell's path a probe reported in `text` (empty when `$SHELL` is unset).
pub fn probed_shell(text: &str, nonce: &str) -> Option<String> {
    let token = probe_token(nonce);
    let at = text.find(&token)? + token.len();
    let rest = &text[at..];
    let line = &rest[..rest.find('\n')?];
    Some(line.trim().to_string())
}

/// The sudo prompt our shells set (`SUDO_PROMPT`): only a prompt carrying this session's
/// nonce gets the sudo password, never a line that merely looks like sudo's.
pub fn sudo_prompt_tag(nonce: &str) -> String {
    format!("[sudo mcp:{nonce}]")
}

/// The set-up line, for a shell at nesting level `depth`, whose first marker carries `seq`.
///
/// bash prints the marker from PROMPT_COMMAND, not PS1: after a syntax error inside `eval`
/// (an unterminated quote), bash shows its previous prompt again without expanding it, which
/// would repeat the last command's number and status.
///
/// It works in bash, dash, busybox ash, ksh and zsh: echo off, line editing off (no readline
/// redraws, no completion on TAB, no bracketed paste), history off, prompt hooks of themes
/// removed, pagers turned into `cat`, our sudo prompt, and PS1 set to an OSC sequence carrying
/// the nonce, the depth, the command's sequence number, the last exit status and the working
/// directory. The ESC and BEL bytes are produced by printf on the remote side, and the sudo
/// prompt's tag is split by quotes, so neither appears in what we type (the terminal may echo
/// this line before `stty -echo` runs).
pub fn setup_line(nonce: &str, depth: u32, seq: u64) -> Vec<u8> {
    let osc = format!("$(printf '\\033]{MARKER_OSC};{nonce};{depth};')");
    let bel = "$(printf '\\007')";
    let line = format!(
        " stty -echo 2>/dev/null; \
__mcp_cmd() {{ __mcp_seq=$1; return $2; }}; __mcp_seq={seq}; \
if [ -n \"${{ZSH_VERSION:-}}\" ]; then \
builtin unsetopt zle prompt_sp prompt_cr 2>/dev/null; \
builtin setopt prompt_subst prompt_percent no_bang_hist 2>/dev/null; \
builtin unset precmd_functions preexec_functions RPROMPT RPS1 RPROMPT2 RPS2 TMOUT 2>/dev/null; \
builtin unfunction precmd preexec TRAPALRM 2>/dev/null; \
PS1=\"{osc}\"'${{__mcp_seq}};%?;%d'\"{bel}\"; \
else \
command set +o emacs 2>/dev/null; command set +o vi 2>/dev/null; \
command unset TMOUT 2>/dev/null; \
if [ -n \"${{BASH_VERSION:-}}\" ]; then set +o history +H; history -c; unset PS0 PROMPT_COMMAND; trap - DEBUG; \
PS1=''; PROMPT_COMMAND='printf \"\\033]{MARKER_OSC};{nonce};{depth};%s;%s;%s\\007\" \"$__mcp_seq\" \"$?\" \"$PWD\"'; \
else PS1=\"{osc}\"'${{__mcp_seq}};$?;$PWD'\"{bel}\"; fi; \
fi; \
PS2=''; unset HISTFILE; \
export SUDO_PROMPT='[sudo mcp:'\"{nonce}\"'] password for %p: '; \
export PAGER=cat GIT_PAGER=cat SYSTEMD_PAGER=cat MANPAGER=cat\n"
    );
    line.into_bytes()
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

/// Starts a POSIX shell from a login shell that is not one (csh, tcsh, fish, nushell): bash if
/// present, else sh. The syntax is plain enough for all of them.
pub const START_POSIX_SHELL: &[u8] =
    b" sh -c 'command -v bash >/dev/null 2>&1 && exec bash -i || exec sh -i'\n";

/// A parsed prompt marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub nonce: String,
    pub depth: u32,
    pub seq: u64,
    pub status: i32,
    pub cwd: String,
}

impl Marker {
    /// Parses the OSC payload after `7770;`: `nonce;depth;seq;status;cwd` (cwd may hold `;`).
    pub fn parse(payload: &str) -> Option<Marker> {
        let mut parts = payload.splitn(5, ';');
        let nonce = parts.next()?.to_string();
        let depth = parts.next()?.parse().ok()?;
        let seq = parts.next()?.trim().parse().ok()?;
        let status = parts.next()?.trim().parse().ok()?;
        let cwd = parts.next().unwrap_or("").to_string();
        Some(Marker {
            nonce,
            depth,
            seq,
            status,
            cwd,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_command_is_one_eval_line_with_its_number() {
        assert_eq!(
            command_line("echo hi", 7, false),
            b" __mcp_cmd 7 $?; eval 'echo hi'\n"
        );
        assert_eq!(
            command_line("echo 'a b'", 8, false),
            b" __mcp_cmd 8 $?; eval 'echo '\\''a b'\\'''\n"
        );
        assert_eq!(
            command_line("pwd", 9, true),
            b"\x15 __mcp_cmd 9 $?; eval 'pwd'\n"
        );
    }

    #[test]
    fn control_characters_are_quoted_for_the_terminal() {
        assert_eq!(
            command_line("printf 'a\u{3}b\rc\td'", 1, false),
            b" __mcp_cmd 1 $?; eval 'printf '\\''a\x16\x03b\x16\rc\td'\\'''\n"
        );
    }

    #[test]
    fn long_lines_are_split_below_the_canonical_limit() {
        let cmd = format!("echo {}", "x".repeat(10_000));
        let bytes = command_line(&cmd, 3, false);
        for line in bytes.split(|b| *b == b'\n') {
            assert!(line.len() <= MAX_PHYSICAL_LINE + 4, "{}", line.len());
        }
        // Joining the continuation lines gives back the quoted command.
        let joined = String::from_utf8(bytes).unwrap().replace("'\\\n'", "");
        assert_eq!(joined, format!(" __mcp_cmd 3 $?; eval '{cmd}'\n"));
    }

    #[test]
    fn multi_line_scripts_keep_their_newlines() {
        assert_eq!(
            command_line("cat <<EOF\nx\nEOF", 2, false),
            b" __mcp_cmd 2 $?; eval 'cat <<EOF\nx\nEOF'\n"
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
    fn typed_lines_never_contain_the_marker_the_token_or_the_sudo_tag() {
        let mut typed = probe_line("abc123");
        typed.extend(setup_line("abc123", 1, 0));
        typed.extend(sync_line(4));
        let b = String::from_utf8(typed).unwrap();
        assert!(b.starts_with(" unset HISTFILE; echo MCP''PROBE''abc123"));
        assert!(!b.contains('\u{1b}'));
        assert!(!b.contains("MCPPROBEabc123") && !b.contains("MCPPIDabc123"));
        assert!(!b.contains(&sudo_prompt_tag("abc123")));
        assert!(b.lines().all(|l| l.len() < 4000));
    }

    #[test]
    fn probe_reports_shell_and_pid() {
        let text = "MCPPROBEn0 /bin/bash\nMCPPIDn0 4242\n";
        assert_eq!(probed_pid(text, "n0"), Some(4242));
        assert_eq!(probed_shell(text, "n0").as_deref(), Some("/bin/bash"));
        assert_eq!(probed_pid("MCPPIDn0 42", "n0"), None);
        assert_eq!(probed_pid("MCPPIDx 42\n", "n0"), None);
        assert_eq!(probed_shell("MCPPROBEn0 \n", "n0").as_deref(), Some(""));
    }

    #[test]
    fn parses_markers() {
        assert_eq!(
            Marker::parse("n1;2;17;130;/tmp/a;b"),
            Some(Marker {
                nonce: "n1".into(),
                depth: 2,
                seq: 17,
                status: 130,
                cwd: "/tmp/a;b".into()
            })
        );
        assert_eq!(Marker::parse("n1;x;0;0;/"), None);
        assert_eq!(Marker::parse("n1;1;2"), None);
        assert_eq!(Marker::parse("n1;1;;0;/"), None);
    }

    // Property tests: what the terminal and the shell make of our bytes.
    use crate::term::input::{VLNEXT, is_tty_special};
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

    /// The shell reading `s` (POSIX quoting): our numbering prefix, `eval` and one word made of
    /// single-quoted pieces, `\'` and backslash-newline continuations, then the newline that
    /// ends the command. Returns the word, or why the bytes are anything else.
    fn one_eval_command(s: &str, seq: u64) -> Result<String, String> {
        let prefix = format!(" __mcp_cmd {seq} $?; eval ");
        let rest = s
            .strip_prefix(&prefix)
            .ok_or("does not start with our prefix")?;
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
        assert_eq!(
            one_eval_command(" __mcp_cmd 1 $?; eval 'a'\n", 1),
            Ok("a".into())
        );
        assert!(one_eval_command(" __mcp_cmd 1 $?; eval 'a'\nrm x\n", 1).is_err());
        assert!(one_eval_command(" __mcp_cmd 1 $?; eval 'a';rm x\n", 1).is_err());
        assert!(through_the_tty(b"a\x03b").is_err());
        assert_eq!(through_the_tty(b"a\x16\x03b"), Ok(b"a\x03b".to_vec()));
    }

    proptest! {
        #[test]
        fn a_command_is_always_one_eval_of_exactly_that_text(cmd in any::<String>(), seq in any::<u64>()) {
            prop_assume!(!cmd.contains('\0'));
            let bytes = command_line(&cmd, seq, false);
            for line in bytes.split(|b| *b == b'\n') {
                prop_assert!(line.len() < 4095, "physical line of {} bytes", line.len());
            }
            let read = through_the_tty(&bytes)
                .map_err(|b| TestCaseError::fail(format!("unquoted special byte {b:#x}")))?;
            let text = String::from_utf8(read).expect("UTF-8 in, UTF-8 out");
            prop_assert_eq!(one_eval_command(&text, seq), Ok(cmd));
        }
    }
}
