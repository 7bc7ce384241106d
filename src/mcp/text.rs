//! How results read for a model: short, first line first, exact numbers.

use crate::jobs::{JobSnapshot, JobStatus, Waited};

/// The text of a command result.
pub fn command(s: &JobSnapshot, waited: Option<Waited>, timeout_secs: Option<u64>) -> String {
    let mut t = String::new();
    match (s.status, waited) {
        (JobStatus::Running, Some(Waited::TimedOut)) => {
            t.push_str(&format!(
                "Command still running after the {}s timeout; it continues in the background.\nCommand ID: {}\nUse get_command_status('{}') to follow it, interrupt_command_by_id('{}') to stop it.\n",
                timeout_secs.unwrap_or(0),
                s.command_id, s.command_id, s.command_id
            ));
        }
        (JobStatus::Running, Some(Waited::Cancelled)) => {
            t.push_str(&format!(
                "Request cancelled; Ctrl-C was sent to the command.\nCommand ID: {}\n",
                s.command_id
            ));
        }
        // Still running with no wait behind it: the caller's own first lines say so
        // (get_command_status's header, interrupt_command_by_id's "still running").
        (JobStatus::Running, None) => {}
        (JobStatus::Running, _) => {
            t.push_str(&format!("Status: running\nCommand ID: {}\n", s.command_id));
        }
        (JobStatus::AwaitingInput, _) => {
            let (kind, prompt) = s
                .awaiting_input
                .as_ref()
                .map(|a| (a.kind.as_str(), a.prompt.as_str()))
                .unwrap_or(("user_input", ""));
            let how = match kind {
                "sudo_password" => "Pass sudo_password to execute_command, or answer",
                _ => "Answer",
            };
            t.push_str(&format!(
                "Command is waiting for input ({kind}): {prompt:?}\nCommand ID: {id}\n{how} with send_input('{id}', 'text\\n'), or stop it with interrupt_command_by_id('{id}').\n",
                id = s.command_id
            ));
        }
        (status, _) => {
            match (s.exit_code, &s.device) {
                (Some(code), _) => t.push_str(&format!("Exit Status: {code}")),
                (None, Some(_)) => t.push_str("Exit Status: n/a (network device)"),
                (None, None) => t.push_str("Exit Status: unknown"),
            }
            if status != JobStatus::Completed {
                t.push_str(&format!(" ({})", status.as_str()));
            }
            t.push_str(&format!("  [{} ms", s.duration_ms));
            if let Some(cwd) = &s.cwd {
                t.push_str(&format!(", cwd {cwd}"));
            }
            t.push_str("]\n");
        }
    }
    if let Some(e) = &s.error {
        t.push_str(&format!("Error: {e}\n"));
    }
    if let Some(e) = &s.device_error {
        t.push_str(&format!("Device error: {e}\n"));
    }
    if let Some(d) = &s.device {
        t.push_str(&format!(
            "Device: {} ({} mode, prompt {:?})\n",
            d.vendor, d.mode, d.prompt
        ));
    }
    for n in &s.notes {
        t.push_str(&format!("Note: {n}\n"));
    }
    if !s.output.is_empty() {
        t.push_str(if s.status.is_active() {
            "\nOUTPUT SO FAR:\n"
        } else {
            "\nOUTPUT:\n"
        });
        t.push_str(&s.output);
        if !s.output.ends_with('\n') {
            t.push('\n');
        }
    }
    t
}
