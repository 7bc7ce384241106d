//! The `exec` subcommand: same engine, output on stdout, the remote exit code as ours.

mod common;

use std::process::Command;

use common::require_testbed;

fn exe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mcp-ssh-session"))
}

#[test]
fn exec_prints_output_and_returns_the_exit_code() {
    let bed = require_testbed!();
    let cfg = bed.ssh_config().to_str().unwrap();
    let out = exe()
        .args([
            "--ssh-config",
            cfg,
            "exec",
            "fixture",
            "--",
            "cd /tmp && pwd",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "/tmp\n");
    assert_eq!(out.status.code(), Some(0));
    let out = exe()
        .args([
            "--ssh-config",
            cfg,
            "exec",
            "fixture",
            "--",
            "echo",
            "err",
            ">&2;",
            "exit",
            "3",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "err\n");
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn exec_reports_errors_clearly() {
    let bed = require_testbed!();
    let cfg = bed.ssh_config().to_str().unwrap();
    // An option-looking host gets past the argument parser to our validation, which refuses
    // it with its reason (not a usage error, and no ssh ever sees it).
    let scratch = tempfile::tempdir().unwrap();
    let marker = scratch.path().join("injected");
    for args in [
        vec![format!("-oProxyCommand=touch {}", marker.display())],
        vec![format!("-oProxyCommand=touch${{IFS}}{}", marker.display())],
        vec![
            "-l".into(),
            format!("-oProxyCommand=touch {}", marker.display()),
            "fixture".into(),
        ],
    ] {
        let out = exe()
            .args(["--ssh-config", cfg, "exec"])
            .args(&args)
            .args(["--", "true"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(255), "{args:?}: {err}");
        assert!(
            err.contains("starts with '-', which ssh would read as an option"),
            "{args:?}: {err}"
        );
    }
    assert!(!marker.exists());
    let out = exe()
        .args(["--ssh-config", cfg, "exec", "fix ture", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid host"), "{err}");
    // Secrets come from a named environment variable, never from argv.
    let out = exe()
        .env("MCPT_PW", common::testbed::password())
        .args([
            "--ssh-config",
            cfg,
            "exec",
            "--password-env",
            "MCPT_PW",
            "fixture-pass",
            "--",
            "whoami",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "mcptpass\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn help_and_version() {
    let out = exe().arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    let out = exe().arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("exec"));
}

#[test]
fn exec_on_a_device_exits_0_or_1_for_its_error() {
    let bed = require_testbed!();
    let cfg = bed.ssh_config().to_str().unwrap();
    let run = |command: &str| {
        exe()
            .args(["--ssh-config", cfg, "exec", "fixture-ios", "--", command])
            .output()
            .unwrap()
    };
    let out = run("show clock");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("UTC"),
        "{out:?}"
    );
    // Privileged only: the device's error line, and 1.
    let out = run("show running-config");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("device error: % Invalid input detected at '^' marker."),
        "{out:?}"
    );
}
