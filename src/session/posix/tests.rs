//! The POSIX dialect fed by hand: which marker completes which command, what is typed when.

use super::*;

const NONCE: &str = "n0nce";

fn marker(depth: u32, seq: u64, status: i32, cwd: &str) -> String {
    format!("{NONCE};{depth};{seq};{status};{cwd}")
}

fn dialect() -> PosixDialect {
    PosixDialect::new(NONCE.into(), Some(100), 0)
}

fn spec(seq: u64, text: &str) -> CommandSpec<'_> {
    CommandSpec {
        seq,
        text,
        sudo_password: None,
        enable: None,
    }
}

fn written(out: &mut Actions) -> Vec<String> {
    out.drain()
        .filter_map(|a| match a {
            Action::Write(b) => Some(String::from_utf8_lossy(&b).into_owned()),
            _ => None,
        })
        .collect()
}

fn completions(out: &mut Actions) -> Vec<Completion> {
    out.drain()
        .filter_map(|a| match a {
            Action::Complete(c) => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn a_marker_completes_only_the_command_it_names() {
    let mut d = dialect();
    let mut out = Actions::default();
    d.begin(&spec(5, "pwd"), &mut out);
    assert_eq!(written(&mut out), [" __mcp_cmd 5 $?; eval 'pwd'\n"]);
    // A prompt from something earlier (Ctrl-C at the idle prompt, raw input): not pwd's.
    d.on_marker(&marker(1, 4, 0, "/home/u"), &mut out);
    assert!(completions(&mut out).is_empty());
    assert!(!d.ready());
    d.on_marker(&marker(1, 5, 3, "/tmp"), &mut out);
    assert_eq!(
        completions(&mut out),
        [Completion::exited(JobStatus::Completed, 3)]
    );
    assert!(d.ready());
    // Another nonce is someone else's shell (a nested session of another server).
    d.begin(&spec(6, "true"), &mut out);
    out.drain();
    d.on_marker("other;1;6;0;/", &mut out);
    assert!(completions(&mut out).is_empty());
}

#[test]
fn raw_input_runs_as_its_own_command_and_a_partial_line_is_killed_later() {
    let mut d = dialect();
    let mut out = Actions::default();
    d.begin_raw(b"sleep 2; echo FROM_INPUT\n", &mut out);
    assert_eq!(written(&mut out), ["sleep 2; echo FROM_INPUT\n"]);
    d.on_text("FROM_INPUT\n", &mut out);
    assert!(matches!(&out.0[..], [Action::Output(t)] if t == "FROM_INPUT\n"));
    out.drain();
    // The raw line carries no number: the shell's last one shows.
    d.on_marker(&marker(1, 0, 0, "/"), &mut out);
    assert_eq!(
        completions(&mut out),
        [Completion::exited(JobStatus::Completed, 0)]
    );
    d.begin_raw(b"ech", &mut out);
    out.drain();
    d.on_marker(&marker(1, 0, 130, "/"), &mut out);
    out.drain();
    d.begin(&spec(7, "pwd"), &mut out);
    assert_eq!(written(&mut out), ["\u{15} __mcp_cmd 7 $?; eval 'pwd'\n"]);
}

#[test]
fn after_an_interrupt_the_shell_syncs_before_the_next_command() {
    let mut d = dialect();
    let mut out = Actions::default();
    d.begin(&spec(3, "sleep 100"), &mut out);
    out.drain();
    d.interrupt(&mut out);
    assert_eq!(written(&mut out), ["\u{3}"]);
    d.on_marker(&marker(1, 3, 130, "/"), &mut out);
    let actions: Vec<Action> = out.drain().collect();
    assert!(matches!(
        &actions[..],
        [Action::Cwd(_), Action::Complete(c), Action::Write(w)]
            if c.status == JobStatus::Interrupted && c.exit_code == Some(130)
                && String::from_utf8_lossy(w).contains("__mcp_cmd")
    ));
    assert!(!d.ready(), "busy until the sync line's marker");
    // The Ctrl-C reached the idle prompt after our sync line and flushed it: send it again.
    d.on_marker(&marker(1, 3, 130, "/"), &mut out);
    let again = written(&mut out);
    assert_eq!(again.len(), 1);
    assert!(again[0].starts_with(" stty -echo icanon"));
    assert!(!d.ready());
    let sync_seq: u64 = again[0]
        .split_whitespace()
        .nth(5)
        .and_then(|n| n.parse().ok())
        .expect("the sync line names its number");
    d.on_marker(&marker(1, sync_seq, 0, "/"), &mut out);
    assert!(d.ready());
}

#[test]
fn only_our_sudo_prompt_gets_the_sudo_password() {
    let pw = Secret::new("s3cret-pw").unwrap();
    let mut d = dialect();
    let mut out = Actions::default();
    let cmd = CommandSpec {
        seq: 2,
        text: "sudo -k; sudo whoami",
        sudo_password: Some(&pw),
        enable: None,
    };
    d.begin(&cmd, &mut out);
    out.drain();
    // Output that merely looks like sudo's prompt gets nothing.
    assert!(!d.on_partial("[sudo] password for bob: ", false, &mut out));
    assert!(out.0.is_empty());
    let ours = format!("{} password for bob: ", sudo_prompt_tag(NONCE));
    assert!(d.on_partial(&ours, false, &mut out));
    let actions: Vec<Action> = out.drain().collect();
    assert!(matches!(&actions[..], [Action::TakePartial, Action::Secret(s)] if s == &pw));
    // The newline sudo prints after the password is not output.
    d.on_text("\nroot\n", &mut out);
    assert!(matches!(&out.0[..], [Action::Output(t)] if t == "root\n"));
    out.drain();
    // Asked again: rejected, Ctrl-C, never typed twice.
    assert!(d.on_partial(&ours, false, &mut out));
    assert_eq!(written(&mut out), ["\u{3}"]);
    d.on_marker(&marker(1, 2, 1, "/"), &mut out);
    let c = completions(&mut out);
    assert_eq!(c[0].status, JobStatus::Failed);
    assert!(c[0].error.as_deref().unwrap().contains("sudo rejected"));
}

#[test]
fn without_a_sudo_password_our_prompt_is_reported_readably() {
    let mut d = dialect();
    let mut out = Actions::default();
    d.begin(&spec(2, "pseudo-tool --password"), &mut out);
    out.drain();
    // A password prompt of another program is not sudo's, whatever the command says.
    assert!(!d.on_partial("Password: ", false, &mut out));
    let ours = format!("{} password for bob: ", sudo_prompt_tag(NONCE));
    assert!(d.on_partial(&ours, true, &mut out));
    let actions: Vec<Action> = out.drain().collect();
    assert!(matches!(
        &actions[..],
        [Action::AwaitInput(p)] if p.kind == PromptKind::SudoPassword && p.text == "[sudo] password for bob:"
    ));
    assert_eq!(d.show_prompt(&ours), "[sudo] password for bob:");
}

#[test]
fn a_nested_shell_is_set_up_at_the_next_level_and_exit_returns() {
    let mut d = dialect();
    let mut out = Actions::default();
    d.begin(&spec(4, "sudo -i"), &mut out);
    out.drain();
    // Not settled yet: nothing is typed into what may still be printing.
    assert!(!d.on_partial("root@vm:~# ", false, &mut out));
    assert!(d.on_partial("root@vm:~# ", true, &mut out));
    let actions: Vec<Action> = out.drain().collect();
    assert!(matches!(&actions[0], Action::TakePartial));
    assert!(
        matches!(&actions[1], Action::Write(w) if String::from_utf8_lossy(w).contains("MCP''PROBE''"))
    );
    d.on_text(
        &format!("MCPPROBE{NONCE} /bin/bash\nMCPPID{NONCE} 4242\n"),
        &mut out,
    );
    let set_up = written(&mut out);
    assert_eq!(set_up.len(), 1);
    assert!(set_up[0].contains(&format!("7770;{NONCE};2;")) && set_up[0].contains("__mcp_seq=4"));
    d.on_marker(&marker(2, 4, 0, "/root"), &mut out);
    let actions: Vec<Action> = out.drain().collect();
    assert!(actions.iter().any(|a| matches!(a, Action::Depth(2))));
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Note(n) if n.contains("new shell")))
    );
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Complete(c) if c.exit_code == Some(0)))
    );
    // `exit` in the nested shell: the outer shell's prompt still carries the number it had.
    d.begin(&spec(9, "exit"), &mut out);
    out.drain();
    d.on_text("logout\n", &mut out);
    assert!(out.0.is_empty(), "the goodbye is not output");
    d.on_marker(&marker(1, 4, 0, "/home/u"), &mut out);
    let actions: Vec<Action> = out.drain().collect();
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Note(n) if n.contains("back in the shell at level 1")))
    );
    assert!(actions.iter().any(|a| matches!(a, Action::Complete(_))));
}

#[test]
fn a_program_prompt_that_looks_like_a_shell_gets_only_the_probe() {
    let mut d = dialect();
    let mut out = Actions::default();
    d.begin(&spec(2, "./fake-cli"), &mut out);
    out.drain();
    assert!(d.on_partial("root@fake:~# ", true, &mut out));
    out.drain();
    assert!(d.deadline().is_some());
    d.on_text("unset: not found\n", &mut out);
    assert!(out.0.is_empty(), "held while the probe is unanswered");
    d.on_deadline("root@fake:~# ", &mut out);
    let actions: Vec<Action> = out.drain().collect();
    assert!(matches!(&actions[0], Action::Output(t) if t == "unset: not found\n"));
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::AwaitInput(p) if p.text == "root@fake:~#"))
    );
    // REPL prompts never get the probe.
    let mut d = dialect();
    d.begin(&spec(2, "python3"), &mut out);
    out.drain();
    assert!(!d.on_partial(">>> ", true, &mut out));
    assert!(!d.on_partial("Router# ", true, &mut out));
}

#[test]
fn exit_commands() {
    assert!(is_exit_command("exit"));
    assert!(is_exit_command(" exit 5 "));
    assert!(is_exit_command("logout"));
    assert!(!is_exit_command("exitcode"));
    assert!(!is_exit_command("echo exit"));
    assert!(is_exit_command("echo err >&2; exit 3"));
}

#[test]
fn an_interrupt_that_beats_the_command_line_ends_it_as_never_run() {
    let mut d = dialect();
    let mut out = Actions::default();
    d.begin(&spec(6, "sleep 1"), &mut out);
    out.drain();
    // Without an interrupt an older number is just something earlier.
    d.on_marker(&marker(1, 0, 0, "/"), &mut out);
    assert!(completions(&mut out).is_empty());
    d.interrupt(&mut out);
    out.drain();
    d.on_marker(&marker(1, 0, 130, "/"), &mut out);
    let actions: Vec<Action> = out.drain().collect();
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Note(n) if n.contains("did not run")))
    );
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Complete(c) if c.status == JobStatus::Interrupted))
    );
    assert!(!d.ready(), "synced before the next command");
}
