//! Commands that run other commands: `sudo`, `env`, `nice`, `timeout`, `xargs`, `find -exec`,
//! `sh -c '...'`, `eval`... Each is listed, and so is the command it runs.

use super::shell::{SimpleCommand, Unreadable, is_assignment, parse_into};

/// Adds a command, and the commands it runs when it is a wrapper.
pub(super) fn unwrap(
    c: SimpleCommand,
    depth: usize,
    out: &mut Vec<SimpleCommand>,
) -> Result<(), Unreadable> {
    let at = out.len();
    out.push(c);
    let inner = inner_command(&out[at].clone(), depth, out)?;
    // A wrapper: its command is listed next (a script it runs was parsed into `out`).
    out[at].wrapper = inner.is_some() || out.len() > at + 1;
    if let Some(inner) = inner {
        unwrap(inner, depth, out)?;
    }
    Ok(())
}

/// The command a wrapper runs (`sudo -u x cmd` -> `cmd`); script strings (`sh -c`, `eval`)
/// are parsed into `out` directly.
fn inner_command(
    c: &SimpleCommand,
    depth: usize,
    out: &mut Vec<SimpleCommand>,
) -> Result<Option<SimpleCommand>, Unreadable> {
    let Some(program) = c.program() else {
        return Ok(None);
    };
    if c.dynamic_program() {
        return Ok(None);
    }
    let args = &c.words[1..];
    // Options that take a value, per wrapper.
    let (with_value, stop_at_assignments): (&[&str], bool) = match program {
        "sudo" | "doas" => (
            &[
                "-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "-T", "-R",
            ],
            false,
        ),
        "env" => (&["-u", "-C", "-S", "--unset", "--chdir"], true),
        "nice" => (&["-n", "--adjustment"], false),
        "ionice" => (&["-c", "-n", "-p"], false),
        "stdbuf" => (&["-i", "-o", "-e"], false),
        "timeout" => (&["-s", "-k", "--signal", "--kill-after"], false),
        "xargs" => (
            &[
                "-I",
                "-i",
                "-n",
                "-P",
                "-d",
                "-E",
                "-L",
                "-s",
                "-a",
                "--arg-file",
                "--delimiter",
                "--max-args",
                "--max-procs",
                "--replace",
            ],
            false,
        ),
        "nohup" | "time" | "command" | "builtin" | "setsid" | "unbuffer" | "chrt" | "taskset" => {
            (&[], false)
        }
        "exec" => (&["-a"], false),
        "watch" => (&["-n", "--interval"], false),
        "sh" | "bash" | "dash" | "zsh" | "ksh" | "ash" | "busybox" => {
            return script_option(c, depth, out);
        }
        "eval" => {
            parse_into(&args.join(" "), depth + 1, out)?;
            return Ok(None);
        }
        "find" => return Ok(find_exec(c)),
        _ => return Ok(None),
    };
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            i += 1;
            break;
        }
        if stop_at_assignments && is_assignment(a) {
            i += 1;
            continue;
        }
        if !a.starts_with('-') || a == "-" {
            break;
        }
        i += if with_value.contains(&a.as_str()) {
            2
        } else {
            1
        };
    }
    // `timeout DURATION cmd`, `chrt PRIO cmd`, `taskset MASK cmd`: one positional first.
    if matches!(program, "timeout" | "chrt" | "taskset") {
        i += 1;
    }
    if i >= args.len() {
        return Ok(None);
    }
    let from = i + 1;
    Ok(Some(SimpleCommand {
        words: c.words[from..].to_vec(),
        dynamic: c.dynamic[from..].to_vec(),
        writes: Vec::new(),
        wrapper: false,
    }))
}

/// `sh -c 'script'` (also `bash -lc`, `busybox sh -c`): the script is parsed.
fn script_option(
    c: &SimpleCommand,
    depth: usize,
    out: &mut Vec<SimpleCommand>,
) -> Result<Option<SimpleCommand>, Unreadable> {
    let mut words = &c.words[1..];
    if c.program() == Some("busybox") {
        if words.first().is_some_and(|w| w.ends_with("sh")) {
            words = &words[1..];
        } else {
            // `busybox rm ...`: the applet is the command.
            return Ok(Some(SimpleCommand {
                words: words.to_vec(),
                dynamic: c.dynamic[1..].to_vec(),
                ..SimpleCommand::default()
            }));
        }
    }
    for (i, w) in words.iter().enumerate() {
        if !w.starts_with('-') || w == "--" {
            break;
        }
        if !w.starts_with("--") && w.contains('c') {
            if let Some(script) = words.get(i + 1) {
                parse_into(script, depth + 1, out)?;
            }
            return Ok(None);
        }
    }
    Ok(None)
}

/// `find ... -exec cmd args ;` (also `-execdir`, `-ok`, `-okdir`): the command it runs.
fn find_exec(c: &SimpleCommand) -> Option<SimpleCommand> {
    let at = c
        .words
        .iter()
        .position(|w| matches!(w.as_str(), "-exec" | "-execdir" | "-ok" | "-okdir"))?;
    let from = at + 1;
    let end = c.words[from..]
        .iter()
        .position(|w| w == ";" || w == "+")
        .map(|p| p + from)
        .unwrap_or(c.words.len());
    (end > from).then(|| SimpleCommand {
        words: c.words[from..end].to_vec(),
        dynamic: c.dynamic[from..end].to_vec(),
        ..SimpleCommand::default()
    })
}
