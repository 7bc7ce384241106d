//! Does a command start a new interactive shell inside the current one (`sudo -i`, `su -`,
//! `bash`, `ssh host`, `docker exec -it c sh`...)? The POSIX dialect then expects a new shell
//! prompt and sets the marker up inside it.
//!
//! This is command analysis, not prompt matching: it only decides whether a shell-looking
//! prompt that shows up after the command is expected to be a new shell.

use std::path::Path;

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

/// Does the command run the ssh client (`ssh host`, `ssh -p 2 u@h uptime`, `FOO=1 ssh h`)?
/// Its login prompts are another host's, asked of the human rather than the model.
pub fn runs_ssh(command: &str) -> bool {
    let first = command.lines().next().unwrap_or("");
    let Some(words) = split_words(first) else {
        return false;
    };
    words
        .iter()
        .find(|w| !is_assignment(w))
        .is_some_and(|w| program(w) == "ssh")
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

    #[test]
    fn commands_that_run_ssh() {
        for yes in [
            "ssh h",
            "ssh -p 22 u@h uptime",
            "FOO=1 /usr/bin/ssh h",
            "ssh h 'ls -l'",
        ] {
            assert!(runs_ssh(yes), "{yes}");
        }
        for no in [
            "echo ssh",
            "sshpass -p x ssh h",
            "ls; ssh h",
            "",
            "scp a h:b",
        ] {
            assert!(!runs_ssh(no), "{no}");
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
}
