//! Prompt patterns: does the text a program left on the screen ask for input, is it a shell
//! waiting for a command, and does a command start a nested shell.
//!
//! Prompts sit on the unterminated last line (programs do not print a newline after them), so
//! the classifiers look at that line only; completed lines merely supply context such as a host
//! key's fingerprint. That rule alone rejects most false positives (`password: x` in a config
//! dump, `Press any key` in a help text).

use std::path::Path;
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
static YES_NO: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)[(\[](?:yes|y)/(?:no|n)(?:/[^()\[\]]{1,20})?[)\]]\s*[:?]?$"));
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

/// Does this command start a new interactive shell inside the current one? True for `sudo -i`,
/// `su -`, `bash`, `ssh host`, `docker exec -it c sh`, `kubectl exec -it pod -- sh`, `chroot
/// /x`, `nsenter -t 1 -a`...; false when a command is given (`bash script.sh`, `sudo -i ls`,
/// `ssh host uptime`, `su -c id`). Leading whitespace and env assignments (`FOO=1 bash`) are
/// allowed. Only the first line of a multi-line command counts; a `;`/`&&`/`|` chain or a
/// redirection makes it false (the shell would return, or it is not reading the terminal).
pub fn starts_nested_shell(command: &str) -> bool {
    let first = command.lines().next().unwrap_or("");
    match split_words(first) {
        Some(words) => {
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            nested(&words)
        }
        None => false,
    }
}

/// Shell-like word splitting of one line. None when the line has an operator (`;`, `&`, `|`,
/// `<`, `>`, parentheses) outside quotes, or an unterminated quote.
fn split_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '#' if !in_word => break,
            ';' | '&' | '|' | '<' | '>' | '(' | ')' => return None,
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        q => word.push(q),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => word.push(chars.next()?),
                        q => word.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(e) = chars.next() {
                    word.push(e);
                }
            }
            _ => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "tcsh", "csh", "yash",
];

fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

/// The program name of a word (`/usr/bin/bash` -> `bash`).
fn program(word: &str) -> &str {
    Path::new(word)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(word)
}

fn nested(words: &[&str]) -> bool {
    let mut words = words;
    while let [w, rest @ ..] = words
        && is_assignment(w)
    {
        words = rest;
    }
    let Some((cmd, args)) = words.split_first() else {
        return false;
    };
    match program(cmd) {
        "exec" => wrapper(args, &["-a"]),
        "command" | "builtin" => wrapper(args, &[]),
        "env" => wrapper(args, &["-u", "-C", "-S", "--unset", "--chdir"]),
        "busybox" => nested(args),
        "sudo" => sudo(args),
        "doas" => doas(args),
        "su" => su(args),
        "ssh" => ssh(args),
        "docker" | "podman" | "nerdctl" => container_exec(args, "exec", false),
        "kubectl" | "oc" => container_exec(args, "exec", true),
        "lxc" | "incus" => lxc_exec(args),
        "chroot" => chroot(args),
        "machinectl" => machinectl(args),
        "nsenter" => nsenter(args),
        "newgrp" => args.iter().filter(|a| !a.starts_with('-')).count() <= 1,
        "sg" => args.len() == 1,
        name if SHELLS.contains(&name) => shell(args),
        _ => false,
    }
}

/// Skips the options of a prefix command (`exec -l`, `env -i`, assignments) and judges the
/// command after it. `with_arg` lists the options that take a separate argument.
fn wrapper(args: &[&str], with_arg: &[&str]) -> bool {
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if *a == "--" {
            i += 1;
            break;
        } else if with_arg.contains(a) {
            i += 2;
        } else if a.starts_with('-') || is_assignment(a) {
            i += 1;
        } else {
            break;
        }
    }
    args.get(i..).is_some_and(nested)
}

/// A shell with no script and no `-c` reads commands from the terminal.
fn shell(args: &[&str]) -> bool {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match *a {
            "-" => return true,
            "--" => return it.next().is_none(),
            "--command" => return false,
            "--rcfile" | "--init-file" | "-o" | "+o" | "-O" | "+O" => {
                it.next();
            }
            _ if a.starts_with("--") => {}
            _ if a.starts_with('-') || a.starts_with('+') => {
                if a[1..].contains('c') {
                    return false;
                }
                // `-s` reads commands from standard input (the terminal) even with arguments.
                if a[1..].contains('s') {
                    return true;
                }
            }
            // A script to run.
            _ => return false,
        }
    }
    true
}

fn sudo(args: &[&str]) -> bool {
    let mut login_or_shell = false;
    let mut i = 0;
    while let Some(a) = args.get(i) {
        i += 1;
        match *a {
            "--" => break,
            "--login" | "--shell" => login_or_shell = true,
            "--list" | "--validate" | "--version" | "--help" | "--edit" => return false,
            "--user" | "--group" | "--host" | "--prompt" | "--chdir" | "--chroot" | "--role"
            | "--type" | "--close-from" | "--command-timeout" | "--other-user" => i += 1,
            _ if a.starts_with("--") => {}
            _ if a.starts_with('-') => {
                for (pos, c) in a.char_indices().skip(1) {
                    match c {
                        'i' | 's' => login_or_shell = true,
                        'l' | 'v' | 'V' | 'h' | 'e' => return false,
                        'u' | 'g' | 'p' | 'C' | 'D' | 'R' | 'T' | 'U' | 'r' | 't' => {
                            // The argument is the rest of this word, or the next word.
                            if pos + 1 == a.len() {
                                i += 1;
                            }
                            break;
                        }
                        _ => {}
                    }
                }
            }
            _ => {
                i -= 1;
                break;
            }
        }
    }
    let mut rest = args.get(i..).unwrap_or(&[]);
    while let [w, tail @ ..] = rest
        && is_assignment(w)
    {
        rest = tail;
    }
    if rest.is_empty() {
        login_or_shell
    } else {
        // `sudo -i ls` runs `ls` in a login shell and returns.
        !login_or_shell && nested(rest)
    }
}

fn doas(args: &[&str]) -> bool {
    let mut shell_flag = false;
    let mut i = 0;
    while let Some(a) = args.get(i) {
        match *a {
            "--" => {
                i += 1;
                break;
            }
            "-u" | "-C" => i += 2,
            "-s" => {
                shell_flag = true;
                i += 1;
            }
            _ if a.starts_with('-') => i += 1,
            _ => break,
        }
    }
    match args.get(i..) {
        Some(rest) if !rest.is_empty() => !shell_flag && nested(rest),
        _ => shell_flag,
    }
}

fn su(args: &[&str]) -> bool {
    let mut users = 0;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match *a {
            "-" | "-l" | "--login" | "-m" | "-p" | "-f" | "-P" | "--pty" => {}
            "-c" | "-C" | "--command" | "--session-command" => return false,
            "-s"
            | "--shell"
            | "-g"
            | "--group"
            | "-G"
            | "--supp-group"
            | "-w"
            | "--whitelist-environment" => {
                it.next();
            }
            _ if a.starts_with("--command=") || a.starts_with("--session-command=") => {
                return false;
            }
            _ if a.starts_with('-') => {}
            _ => users += 1,
        }
    }
    // More than one word after the options are arguments for the user's shell (a script).
    users <= 1
}

fn ssh(args: &[&str]) -> bool {
    /// Parses options from `i` like ssh's getopt: stops at the first non-option, consumes
    /// `--`. False when an option means ssh will not open a shell.
    fn options(args: &[&str], i: &mut usize) -> bool {
        const WITH_ARG: &str = "BbcDEeFIiJLlmOoPpQRSWw";
        const NO_SHELL: &str = "NfGVOQW";
        while let Some(a) = args.get(*i) {
            if *a == "--" {
                *i += 1;
                break;
            }
            let Some(flags) = a.strip_prefix('-').filter(|f| !f.is_empty()) else {
                break;
            };
            *i += 1;
            for (pos, c) in flags.char_indices() {
                if NO_SHELL.contains(c) {
                    return false;
                }
                if WITH_ARG.contains(c) {
                    // The argument is the rest of this word, or the next word.
                    if pos + c.len_utf8() == flags.len() {
                        *i += 1;
                    }
                    break;
                }
            }
        }
        true
    }
    let mut i = 0;
    if !options(args, &mut i) || args.get(i).is_none() {
        return false;
    }
    // ssh parses options again after the destination (`ssh host -p 22`).
    i += 1;
    if !options(args, &mut i) {
        return false;
    }
    match args.get(i..) {
        // A remote command: only a nested shell if that command starts one.
        Some(remote) if !remote.is_empty() => starts_nested_shell(&remote.join(" ")),
        // The destination alone: a login shell over there.
        _ => true,
    }
}

/// `docker exec -it c sh`, `kubectl exec -it pod -- sh`: interactive only with `-i`, and a
/// shell only if the command is one.
fn container_exec(args: &[&str], sub: &str, kube: bool) -> bool {
    let Some(pos) = args.iter().position(|a| *a == sub) else {
        return false;
    };
    // Global options before the subcommand (`docker --context x exec`) are not parsed.
    let args = &args[pos + 1..];
    let with_arg: &[&str] = if kube {
        &[
            "-c",
            "--container",
            "-n",
            "--namespace",
            "-f",
            "--filename",
            "--context",
            "--pod-running-timeout",
        ]
    } else {
        &[
            "-u",
            "--user",
            "-w",
            "--workdir",
            "-e",
            "--env",
            "--env-file",
            "--detach-keys",
        ]
    };
    let mut interactive = false;
    let mut target = false;
    let mut i = 0;
    while let Some(a) = args.get(i) {
        i += 1;
        if *a == "--" {
            break;
        }
        if with_arg.contains(a) {
            i += 1;
        } else if *a == "--interactive" || *a == "--stdin" {
            interactive = true;
        } else if *a == "--detach" {
            return false;
        } else if let Some(flags) = a.strip_prefix('-').filter(|f| !f.starts_with('-')) {
            interactive |= flags.contains('i');
            if flags.contains('d') && !kube {
                return false;
            }
        } else if !a.starts_with('-') {
            if target {
                i -= 1;
                break;
            }
            target = true;
        }
    }
    interactive && target && args.get(i..).is_some_and(nested)
}

/// `lxc exec c -- bash`: lxc gives the command a terminal by default.
fn lxc_exec(args: &[&str]) -> bool {
    let Some((&"exec", rest)) = args.split_first() else {
        return false;
    };
    let mut i = 0;
    let mut target = false;
    while let Some(a) = rest.get(i) {
        i += 1;
        match *a {
            "--" => break,
            "--env" | "--mode" | "--user" | "--group" | "--cwd" => i += 1,
            _ if a.starts_with('-') => {}
            _ if !target => target = true,
            _ => {
                i -= 1;
                break;
            }
        }
    }
    target && rest.get(i..).is_some_and(nested)
}

/// `chroot /x` runs the user's shell; `chroot /x cmd` runs cmd.
fn chroot(args: &[&str]) -> bool {
    let mut positional = args
        .iter()
        .skip_while(|a| a.starts_with('-'))
        .copied()
        .collect::<Vec<_>>();
    match positional.len() {
        0 => false,
        1 => true,
        _ => nested(&positional.split_off(1)),
    }
}

/// `machinectl shell [user@]machine [command]`.
fn machinectl(args: &[&str]) -> bool {
    let positional: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .copied()
        .collect();
    match positional.split_first() {
        Some((&"shell", rest)) if rest.len() <= 1 => true,
        Some((&"shell", rest)) => nested(&rest[1..]),
        Some((&"login", _)) => true,
        _ => false,
    }
}

/// `nsenter -t 1 -a` runs the user's shell in the target's namespaces.
fn nsenter(args: &[&str]) -> bool {
    const WITH_ARG: &[&str] = &["-t", "--target", "-S", "--setuid", "-G", "--setgid"];
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if *a == "--" {
            i += 1;
            break;
        } else if WITH_ARG.contains(a) {
            i += 2;
        } else if a.starts_with('-') {
            i += 1;
        } else {
            break;
        }
    }
    match args.get(i..) {
        Some([]) | None => true,
        Some(rest) => nested(rest),
    }
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
    fn nested_shells() {
        let yes = [
            "sudo -i",
            "sudo -s",
            "sudo -iu bob",
            "sudo -u bob -i",
            "sudo -u x -i",
            "sudo su",
            "sudo su -",
            "sudo -E bash",
            "sudo --login",
            "sudo -- bash",
            "sudo FOO=1 bash",
            "doas -s",
            "doas su -",
            "su",
            "su -",
            "su - bob",
            "su -l bob",
            "su -s /bin/zsh bob",
            "bash",
            "bash -l",
            "bash --login",
            "bash -i",
            "bash --rcfile /tmp/rc",
            "sh",
            "sh -s",
            "zsh",
            "dash",
            "ksh",
            "fish",
            "/bin/bash",
            "busybox sh",
            "exec bash",
            "exec -l bash",
            "command bash",
            "env -i bash",
            "ssh host",
            "ssh -p 22 user@host",
            "ssh -p22 -i ~/.ssh/k -o StrictHostKeyChecking=no user@host",
            "ssh -tt host",
            "ssh -t host sudo -i",
            "ssh host -- bash",
            "ssh host -p 22",
            "docker exec -it c sh",
            "docker exec -i -t -u root c bash",
            "docker exec --interactive --tty c /bin/sh",
            "podman exec -it c bash",
            "kubectl exec -it pod -- sh",
            "kubectl exec -n prod -it pod -c app -- /bin/bash",
            "kubectl exec --stdin --tty pod -- bash",
            "oc exec -it pod -- sh",
            "lxc exec c -- bash",
            "incus exec c -- sh",
            "chroot /x",
            "chroot /x /bin/bash",
            "machinectl shell",
            "machinectl shell root@c",
            "machinectl login c",
            "nsenter -t 1 -a",
            "nsenter -t 1 -m -u -i -n -p -- bash",
            "newgrp",
            "newgrp docker",
            "sg docker",
            "  bash",
            "FOO=1 bash",
            "FOO=1 BAR='a b' sudo -i",
            "bash # start a shell",
            "bash\necho this line does not count",
        ];
        let no = [
            "bash script.sh",
            "bash -c 'x'",
            "bash -lc 'x'",
            "bash -- script.sh",
            "sh -c x",
            "ssh host uptime",
            "ssh host 'ls -l'",
            "ssh -N host",
            "ssh -f host",
            "ssh -O check host",
            "ssh -G host",
            "ssh",
            "ssh -p 22",
            "sudo ls",
            "sudo -i ls",
            "sudo -s ls",
            "sudo -u bob id",
            "sudo -l",
            "sudo -v",
            "sudo",
            "echo bash",
            "su -c id",
            "su bob -c id",
            "su --command=id bob",
            "su bob script.sh",
            "docker exec c ls",
            "docker exec -it c ls",
            "docker exec c sh",
            "docker exec -d c sh",
            "docker ps",
            "kubectl exec pod -- sh",
            "kubectl exec -it pod -- ls",
            "kubectl get pods",
            "lxc exec c -- ls",
            "lxc list",
            "chroot /x ls",
            "machinectl list",
            "machinectl shell root@c /bin/ls",
            "nsenter -t 1 -a ls",
            "sg docker -c id",
            "sg docker id",
            "bash; exit",
            "sudo -i; exit",
            "bash && echo done",
            "ssh host || echo failed",
            "bash < script.sh",
            "echo x | bash",
            "bash &",
            "(bash)",
            "bash 'unterminated",
            "",
            "   ",
            "FOO=1",
            "ls\nbash",
            "vim",
            "python3",
        ];
        for cmd in yes {
            assert!(starts_nested_shell(cmd), "should be nested: {cmd:?}");
        }
        for cmd in no {
            assert!(!starts_nested_shell(cmd), "should not be nested: {cmd:?}");
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
