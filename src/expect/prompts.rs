//! Prompt patterns: does the text a program left on the screen ask for input, and is it a
//! shell or a program waiting for a command.
//!
//! Prompts sit on the unterminated last line (programs do not print a newline after them), so
//! the classifiers look at that line only; completed lines merely supply context such as a host
//! key's fingerprint. That rule alone rejects most false positives (`password: x` in a config
//! dump, `Press any key` in a help text).

use std::sync::LazyLock;

use regex::Regex;

/// What kind of input a prompt asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptKind {
    /// ssh/login/su password: `user@host's password: `, `Password: `, `(user@host) Password: `,
    /// `Password for user@host: `, `Passwort: ` (German), one-time codes (`Verification
    /// code: `, `Enter PASSCODE: `).
    Password,
    /// sudo's own prompt: `[sudo] password for alice: `, `[sudo] Passwort für alice: `,
    /// `sudo password for alice:`, sudo-rs's `[sudo: authenticate] Password: `. (sudo
    /// configured with a custom prompt saying just `Password:` is classified Password; the
    /// caller decides.)
    SudoPassword,
    /// `Enter passphrase for key '/x/id': `, `Enter passphrase for /x/id: `,
    /// `Enter PIN for ED25519-SK key /x: `, `Enter PIN for authenticator: `
    Passphrase,
    /// OpenSSH unknown host key question `Are you sure you want to continue connecting
    /// (yes/no/[fingerprint])? ` (also `(yes/no)?`); fingerprint `SHA256:...` (or `MD5:..`)
    /// taken from the recent text if present, plus the key type (ED25519, RSA, ECDSA...)
    HostKey {
        key_type: Option<String>,
        fingerprint: Option<String>,
    },
    /// `(yes/no)`, `(y/n)`, `[y/N]`, `[Y/n]`, `[yes/no]`, `(Y/N)` at the end, optional trailing
    /// `:`/`?`/space
    YesNo,
    /// `Press any key to continue`, `Press ENTER to continue`, `Press RETURN to continue`,
    /// `Hit any key`, `[Press Enter]`
    PressKey,
    /// Pagers: `--More--`, ` --More-- `, `-- More --`, `---- More ----` (Huawei/H3C),
    /// `<--- More --->`, `--More--(42%)`, Juniper `---(more 42%)---`, `(END)`, `lines 1-24`,
    /// `lines 1-24/300 byte 3000`, a lone `:` (less), MikroTik `-- [Q quit|D dump|down]`
    Pager,
    /// Generic input request: a last line ending in `: ` after `Enter ...`/`Please enter
    /// ...`/`Type ...` (e.g. `Enter your name: `), or a short question ending in `? ` (<= 80
    /// chars, not containing `|`, not SQL-ish, not a URL).
    Input,
    /// A full-screen program (vim, less, top...) holds the terminal's alternate screen: drive it
    /// with read_screen / send_keys. Not produced by `classify`; the shell reports it.
    FullScreen,
}

/// A request for input found on the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub kind: PromptKind,
    /// The prompt line, trimmed.
    pub text: String,
}

/// Builds a regex from a literal pattern; a typo is a bug caught by every test.
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("built-in prompt pattern")
}

static HOST_KEY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?:continue connecting \(yes/no(?:/\[fingerprint\])?\)\?|please type 'yes', 'no' or the fingerprint:)$",
    )
});
/// `ED25519 key fingerprint is SHA256:...` (OpenSSH), the last one in the recent text wins.
static FINGERPRINT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:\b([A-Z0-9][A-Z0-9-]*) key fingerprint is )?\b(SHA256:[A-Za-z0-9+/]{20,}=*|MD5:(?:[0-9a-f]{2}:){15}[0-9a-f]{2})",
    )
});
static SUDO: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)(?:\[sudo\b[^\]]*\][^\[]*|^sudo password for \S+\s*)[:：]$"));
static PASSPHRASE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)(?:\bpassphrase\b.*|^enter pin\b.*)[:：]$"));
/// A password word, then optionally `for <someone>`, then the colon that ends the line. The
/// word must start the line or follow a space/bracket, so `var password=` or `"password":`
/// cannot end up here (and they do not end with a colon anyway).
static PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)(?:^|[\s(\[])",
        r"(?:password|passwort|kennwort|passcode|mot de passe|contraseña|senha|wachtwoord|",
        r"lösenord|пароль|密码|パスワード|verification code|one-time password|otp)",
        r"(?:\s+(?:for|für|pour|de|para|of|van|för|для)\s+\S+)?\s*[:：]$",
    ))
});
static PAGER: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)(?:^|\s)<?-{2,}\s*more\s*-{2,}>?\s*(?:\(\d+%\))?$",
        r"|^-{2,}\(more(?:\s+\d+%)?\)-{2,}$",
        r"|^\(END\)$",
        r"|^(?:\S+\s+)?lines \d+-\d+(?:/\d+)?(?:\s.*)?$",
        r"|^:$",
        r"|^--\s*\[Q quit\|.*\]$",
    ))
});
static YES_NO: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)(?:[(\[](?:yes|y)/(?:no|n)(?:/[^()\[\]]{1,20})?[)\]]\s*[:?]?|\[confirm\])$")
});
static PRESS_KEY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^[\[<(*-]*\s*(?:press|hit)\s+(?:any key|a key|<?enter>?|<?return>?|the enter key|space)\b",
    )
});
static INPUT_REQUEST: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^(?:please\s+)?(?:enter|type|provide|specify)\b.*[:：]$"));
static SQL_ISH: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^(?:select|insert|update|delete|with|create|drop|alter)\b|[=*;`]"));

/// Classify what a program left on the screen: `partial_line` is the unterminated last line
/// (where prompts sit), `recent` is up to ~4 KiB of text before it (for host-key fingerprints
/// and pagers). None when it does not look like a request for input.
pub fn classify(partial_line: &str, recent: &str) -> Option<Prompt> {
    let line = partial_line.trim();
    if line.is_empty() {
        return None;
    }
    // Questions and `Enter x: ` only count with the trailing space a program prints after
    // them; without it the line is more likely output cut at a chunk boundary.
    let spaced = partial_line.ends_with(char::is_whitespace);
    let kind = if HOST_KEY.is_match(line) {
        host_key(recent, line)
    } else if SUDO.is_match(line) {
        PromptKind::SudoPassword
    } else if PASSPHRASE.is_match(line) {
        PromptKind::Passphrase
    } else if PASSWORD.is_match(line) {
        PromptKind::Password
    } else if PAGER.is_match(line) {
        PromptKind::Pager
    } else if YES_NO.is_match(line) {
        PromptKind::YesNo
    } else if PRESS_KEY.is_match(line) {
        PromptKind::PressKey
    } else if spaced && (INPUT_REQUEST.is_match(line) || is_question(line)) {
        PromptKind::Input
    } else {
        return None;
    };
    Some(Prompt {
        kind,
        text: line.to_string(),
    })
}

fn host_key(recent: &str, line: &str) -> PromptKind {
    let (mut key_type, mut fingerprint) = (None, None);
    for hay in [recent, line] {
        for caps in FINGERPRINT.captures_iter(hay) {
            key_type = caps.get(1).map(|m| m.as_str().to_string());
            fingerprint = caps.get(2).map(|m| m.as_str().to_string());
        }
    }
    PromptKind::HostKey {
        key_type,
        fingerprint,
    }
}

fn is_question(line: &str) -> bool {
    line.ends_with('?')
        && line.chars().count() <= 80
        && line.chars().any(char::is_alphabetic)
        && !line.contains('|')
        && !line.contains("://")
        && !line.contains("www.")
        && !SQL_ISH.is_match(line)
}

/// How sure [`shell_prompt`] is that a line is a shell prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShellPrompt {
    /// `user@host:path$ `, `[user@host dir]# `, `root@x:/# `, `bash-5.2$ `, `sh-5.2# `,
    /// `host% `, `user@host ~ % `, zsh themed `➜  ~ `, starship `❯ `, network devices
    /// (`Router#`, `Router(config)#`, `[admin@MikroTik] > `, `user@router> `), `PS C:\x> `
    Strong,
    /// bare `$ `, `# `, `% `, `> `
    Weak,
}

static STRONG_PROMPT: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        // An optional `(venv) `/`(base) ` prefix, then user@host with anything up to the sigil.
        r"^(?:\([^)\s]+\)\s+)?(?:",
        r"[\w.-]+@[\w.-]+(?:[:\s~].*)?[$#%>]",
        r"|\[[\w.-]+@[\w.-]+(?:\s[^\]]*)?\]\s*[$#%>]",
        r"|[\w.]*sh-\d+(?:\.\d+)*[$#]",
        // host% / Router# / Router(config-if)# / host$ : a bare word that starts with a letter.
        r"|[A-Za-z][\w.-]*(?:\([\w./-]+\))?[$#%>]",
        r"|PS [A-Za-z]:\\.*>",
        r"|[A-Za-z]:\\.*>",
        r"|.*[➜❯λ]",
        r"|➜\s+\S.*",
        r")$",
    ))
});
static WEAK_PROMPT: LazyLock<Regex> = LazyLock::new(|| re(r"^[$#%>]$"));

/// Does the unterminated last line look like an interactive shell waiting for a command?
/// Prompts end with one of `$ # % > ➜ ❯ λ` followed by optional whitespace (zsh's
/// robbyrussell theme, `➜  ~ `, is the exception: the arrow starts it).
pub fn shell_prompt(partial_line: &str) -> Option<ShellPrompt> {
    let line = partial_line.trim();
    if STRONG_PROMPT.is_match(line) {
        Some(ShellPrompt::Strong)
    } else if WEAK_PROMPT.is_match(line) {
        Some(ShellPrompt::Weak)
    } else {
        None
    }
}

/// A read-eval-print loop waiting for input: Python, IPython, pdb, gdb, lldb, irb, psql,
/// mysql/MariaDB, sqlite, redis-cli, node, mongo, ftp... (prompts a shell never shows).
pub fn repl_prompt(partial_line: &str) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"^(?:>>>|\.\.\.|In \[\d+\]:|\(Pdb\)|\(gdb\)|\(lldb\)|irb\([^)]*\):\d+:\d+[>*]|[\w-]+[=-][#>]|(?:mysql|sqlite|ftp|sftp|node|mongo|redis[^>]*)>|MariaDB \[[^\]]*\]>)\s*$",
        )
        .expect("valid regex")
    });
    RE.is_match(partial_line.trim_start())
}

/// A prompt of a POSIX shell proper (`user@host:~$ `, `[root@h /]# `, `bash-5.2$ `), as
/// opposed to a device or program prompt that merely ends in `#` or `>` (`Router#`, `mysql>`).
pub fn posix_shell_prompt(partial_line: &str) -> bool {
    let t = partial_line.trim();
    t.ends_with(['$', '#', '%'])
        && (t.contains(['@', ':', '~', '/'])
            || t.starts_with("bash-")
            || t.starts_with("sh-")
            || t.len() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(partial: &str, recent: &str) -> Option<PromptKind> {
        classify(partial, recent).map(|p| p.kind)
    }

    #[test]
    fn classify_positive() {
        use PromptKind::*;
        let cases: &[(&str, PromptKind)] = &[
            ("alice@db1's password: ", Password),
            ("Password: ", Password),
            ("Password:", Password),
            ("(alice@db1) Password: ", Password),
            ("Password for alice@db1: ", Password),
            ("Passwort: ", Password),
            ("Enter password: ", Password),
            ("New password: ", Password),
            ("Retype new password: ", Password),
            ("(current) UNIX password: ", Password),
            ("Verification code: ", Password),
            ("Enter PASSCODE: ", Password),
            ("[sudo] password for alice: ", SudoPassword),
            ("[sudo] Passwort für alice: ", SudoPassword),
            ("sudo password for alice:", SudoPassword),
            ("[sudo: authenticate] Password: ", SudoPassword),
            (
                "output without newline[sudo] password for bob: ",
                SudoPassword,
            ),
            (
                "Enter passphrase for key '/home/a/.ssh/id_ed25519': ",
                Passphrase,
            ),
            ("Enter passphrase for /home/a/.ssh/id_rsa: ", Passphrase),
            (
                "Enter PIN for ED25519-SK key /home/a/.ssh/id_ed25519_sk: ",
                Passphrase,
            ),
            ("Enter PIN for authenticator: ", Passphrase),
            (
                "Bad passphrase, try again for /home/a/.ssh/id_rsa: ",
                Passphrase,
            ),
            ("Do you want to continue? [Y/n] ", YesNo),
            ("Proceed (y/n)? ", YesNo),
            ("Overwrite [y/N]", YesNo),
            ("Really delete (yes/no): ", YesNo),
            ("Confirm [yes/no]?", YesNo),
            ("Save changes (Y/N)", YesNo),
            ("Proceed with reload? [confirm]", YesNo),
            (
                "Clear \"show interface\" counters on all interfaces [confirm]",
                YesNo,
            ),
            ("Press any key to continue", PressKey),
            ("Press any key to continue . . . ", PressKey),
            ("Press ENTER to continue", PressKey),
            ("Press RETURN to continue: ", PressKey),
            ("Hit any key", PressKey),
            ("[Press Enter]", PressKey),
            ("--More--", Pager),
            (" --More-- ", Pager),
            ("-- More --", Pager),
            ("---- More ----", Pager),
            ("  ---- More ----", Pager),
            ("<--- More --->", Pager),
            ("--More--(42%)", Pager),
            ("---(more 42%)---", Pager),
            ("---(more)---", Pager),
            ("(END)", Pager),
            ("lines 1-24", Pager),
            ("lines 1-24/300 byte 3000", Pager),
            ("lines 1-24/300 13%", Pager),
            (":", Pager),
            ("-- [Q quit|D dump|down]", Pager),
            ("-- [Q quit|D dump|up|down]", Pager),
            ("Enter your name: ", Input),
            ("Please enter the project id: ", Input),
            ("Type the new label: ", Input),
            ("Continue anyway? ", Input),
            ("Which version do you want to install? ", Input),
            ("Where should the files go? ", Input),
        ];
        for (line, want) in cases {
            assert_eq!(kind(line, "").as_ref(), Some(want), "{line:?}");
        }
        let p = classify("  Password: ", "").unwrap();
        assert_eq!(p.text, "Password:");
    }

    #[test]
    fn host_key_with_fingerprint() {
        let recent = "The authenticity of host 'db1 (10.0.0.5)' can't be established.\n\
            ED25519 key fingerprint is SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s.\n\
            This key is not known by any other names.\n";
        let q = "Are you sure you want to continue connecting (yes/no/[fingerprint])? ";
        assert_eq!(
            kind(q, recent),
            Some(PromptKind::HostKey {
                key_type: Some("ED25519".into()),
                fingerprint: Some("SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s".into()),
            })
        );
        let md5 = "RSA key fingerprint is MD5:12:34:56:78:9a:bc:de:f0:12:34:56:78:9a:bc:de:f0.\n";
        assert_eq!(
            kind(
                "Are you sure you want to continue connecting (yes/no)? ",
                md5
            ),
            Some(PromptKind::HostKey {
                key_type: Some("RSA".into()),
                fingerprint: Some("MD5:12:34:56:78:9a:bc:de:f0:12:34:56:78:9a:bc:de:f0".into()),
            })
        );
        assert_eq!(
            kind(q, ""),
            Some(PromptKind::HostKey {
                key_type: None,
                fingerprint: None
            })
        );
        assert!(matches!(
            kind("Please type 'yes', 'no' or the fingerprint: ", recent),
            Some(PromptKind::HostKey { .. })
        ));
    }

    #[test]
    fn classify_precedence() {
        // Host key beats yes/no, sudo beats password, passphrase beats password.
        assert!(matches!(
            kind(
                "Are you sure you want to continue connecting (yes/no)? ",
                ""
            ),
            Some(PromptKind::HostKey { .. })
        ));
        assert_eq!(
            kind("[sudo] password for bob: ", ""),
            Some(PromptKind::SudoPassword)
        );
        assert_eq!(
            kind("Enter passphrase (empty for no passphrase): ", ""),
            Some(PromptKind::Passphrase)
        );
        // A pager prompt wins over a question.
        assert_eq!(
            kind("--More-- ", "Any questions?\n"),
            Some(PromptKind::Pager)
        );
        // yes/no beats a generic question.
        assert_eq!(kind("Continue? [y/N] ", ""), Some(PromptKind::YesNo));
    }

    #[test]
    fn classify_rejects() {
        let cases: &[(&str, &str)] = &[
            ("password=secret", ""),
            ("\"password\": \"value\"", ""),
            ("\"password\": \"value\", ", ""),
            ("http://example.com?password=123", ""),
            ("http://example.com/reset?password=1? ", ""),
            ("var password=\"123\"", ""),
            ("", "Labels:\n - password: secret\n"),
            ("Cost is 10$", ""),
            ("   ", ""),
            ("", ""),
            ("SELECT * FROM t WHERE a=1?", ""),
            ("SELECT * FROM t WHERE a=1? ", ""),
            ("more text", "1. Press any key to continue\n"),
            ("1. Press any key to continue", ""),
            ("Enter your name:", ""),
            ("Is this line cut?", ""),
            ("a | b? ", ""),
            ("See www.example.com? ", ""),
            ("done", "--More--\n"),
            (
                "This is a very long line of output that happens to end with a question mark and keeps going? ",
                "",
            ),
            ("Last login: Mon Jan  1 00:00:00 2024 from 10.0.0.1", ""),
            ("user@host:~$ ", ""),
        ];
        for (partial, recent) in cases {
            assert_eq!(kind(partial, recent), None, "{partial:?} after {recent:?}");
        }
    }

    #[test]
    fn shell_prompts() {
        use ShellPrompt::*;
        let cases: &[(&str, Option<ShellPrompt>)] = &[
            ("user@host:~/src$ ", Some(Strong)),
            ("[user@host dir]# ", Some(Strong)),
            ("[user@host ~]$ ", Some(Strong)),
            ("root@x:/# ", Some(Strong)),
            ("bash-5.2$ ", Some(Strong)),
            ("sh-5.2# ", Some(Strong)),
            ("host% ", Some(Strong)),
            ("user@host ~ % ", Some(Strong)),
            ("➜  ~ ", Some(Strong)),
            ("➜  project git:(main) ✗ ", Some(Strong)),
            ("❯ ", Some(Strong)),
            ("~/src ❯ ", Some(Strong)),
            ("λ ", Some(Strong)),
            ("(venv) user@host:~$ ", Some(Strong)),
            ("Router#", Some(Strong)),
            ("Router>", Some(Strong)),
            ("Router(config-if)#", Some(Strong)),
            ("[admin@MikroTik] > ", Some(Strong)),
            ("user@router> ", Some(Strong)),
            ("PS C:\\Users\\bob> ", Some(Strong)),
            ("C:\\Users\\bob>", Some(Strong)),
            ("$ ", Some(Weak)),
            ("# ", Some(Weak)),
            ("% ", Some(Weak)),
            ("> ", Some(Weak)),
            ("$", Some(Weak)),
            ("Cost is 10$", None),
            ("100%", None),
            ("50% ", None),
            (">>> ", None),
            ("", None),
            ("   ", None),
            ("Password: ", None),
            ("--More--", None),
            ("compiling foo", None),
        ];
        for (line, want) in cases {
            assert_eq!(shell_prompt(line), *want, "{line:?}");
        }
    }

    #[test]
    fn repl_prompts_are_not_shells() {
        for p in [
            ">>> ",
            "... ",
            "In [3]: ",
            "(Pdb) ",
            "(gdb) ",
            "irb(main):001:0> ",
            "postgres=# ",
            "postgres-> ",
            "mysql> ",
            "MariaDB [(none)]> ",
            "sqlite> ",
            "redis 127.0.0.1:6379> ",
            "ftp> ",
            "node> ",
        ] {
            assert!(repl_prompt(p), "{p:?}");
            assert!(!posix_shell_prompt(p), "{p:?}");
        }
        for p in [
            "root@vm:~# ",
            "[u@h tmp]$ ",
            "bash-5.2$ ",
            "$ ",
            "# ",
            "host:/etc% ",
        ] {
            assert!(posix_shell_prompt(p), "{p:?}");
            assert!(!repl_prompt(p), "{p:?}");
        }
        for p in ["Router# ", "Router> ", "Enter value: ", "done"] {
            assert!(!posix_shell_prompt(p), "{p:?}");
        }
    }
}
