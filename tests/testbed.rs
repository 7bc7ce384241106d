//! The sshd test bed itself, checked with the plain OpenSSH client only (no crate code).
//! Root-only: skipped with a `SKIP` line when not root, a failure in CI.

mod common;

use common::testbed::{self, TestBed};
use common::{require_private_testbed, require_testbed};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

fn ssh_ok(bed: &TestBed, args: &[&str]) -> String {
    let (code, out, err) = bed.ssh(args);
    assert_eq!(
        code,
        0,
        "ssh {args:?} failed\nstdout: {out:?}\nstderr: {err:?}\nsshd log:\n{}",
        bed.sshd_log()
    );
    out
}

fn ssh_fails(bed: &TestBed, args: &[&str]) -> String {
    let (code, out, err) = bed.ssh(args);
    assert_eq!(code, 255, "ssh {args:?} should fail: {out:?} {err:?}");
    err
}

/// `ssh -F cfg ARGS` in the background, stdio to /dev/null.
fn ssh_background(bed: &TestBed, args: &[&str]) -> Child {
    Command::new("ssh")
        .arg("-F")
        .arg(bed.ssh_config())
        .args(["-o", "BatchMode=yes"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning ssh")
}

/// `ssh` answering password or passphrase prompts through SSH_ASKPASS (no terminal needed).
fn ssh_with_askpass(bed: &TestBed, args: &[&str]) -> (i32, String, String) {
    let askpass = bed
        .dir()
        .join(format!("askpass-{}", common::current_test_name()));
    fs::write(
        &askpass,
        format!("#!/bin/sh\nprintf '%s\\n' '{}'\n", testbed::password()),
    )
    .unwrap();
    fs::set_permissions(&askpass, fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("ssh")
        .arg("-F")
        .arg(bed.ssh_config())
        .args(["-o", "NumberOfPasswordPrompts=1"])
        .args(args)
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .output()
        .expect("running ssh");
    let _ = fs::remove_file(&askpass);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// PIDs of processes whose command line or environment mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<(u32, String)> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'))
        {
            continue; // a zombie waiting for its parent is no running process
        }
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let environ = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) || String::from_utf8_lossy(&environ).contains(needle) {
            found.push((pid, cmdline));
        }
    }
    found
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

fn pid_alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

#[test]
fn key_login() {
    let bed = require_testbed!();
    ssh_ok(bed, &["-o", "BatchMode=yes", "fixture", "true"]);
}

#[test]
fn whoami_for_each_alias() {
    let bed = require_testbed!();
    for (alias, user) in [
        ("fixture", "mcptkey"),
        ("fixture-sudo", "mcptsudo"),
        ("fixture-dash", "mcptdash"),
        ("fixture-zsh", "mcptzsh"),
        ("fixture-ash", "mcptash"),
        ("fixture-tcsh", "mcpttcsh"),
    ] {
        let out = ssh_ok(bed, &["-o", "BatchMode=yes", alias, "whoami"]);
        assert_eq!(out.trim(), user, "whoami via {alias}");
    }
}

#[test]
fn each_alias_runs_its_shell() {
    let bed = require_testbed!();
    // `; true` keeps the shell from exec'ing readlink in its own place.
    let probe = "echo \"$0\"; readlink /proc/$$/exe; true";
    for (alias, argv0, exe) in [
        ("fixture", "bash", "bash"),
        ("fixture-dash", "sh", "dash"),
        ("fixture-zsh", "zsh", "zsh"),
        ("fixture-ash", "ash", "busybox"),
        ("fixture-tcsh", "tcsh", "tcsh"),
    ] {
        let out = ssh_ok(bed, &["-o", "BatchMode=yes", alias, probe]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines.first().copied(),
            Some(argv0),
            "$0 via {alias}: {out:?}"
        );
        assert!(
            lines.get(1).is_some_and(|l| l.ends_with(exe)),
            "shell binary via {alias}: {out:?}"
        );
    }
}

#[test]
fn pty_allocation_works() {
    let bed = require_testbed!();
    let out = ssh_ok(bed, &["-tt", "-o", "BatchMode=yes", "fixture", "tty"]);
    assert!(out.trim().starts_with("/dev/pts/"), "tty said {out:?}");
}

#[test]
fn password_user_refuses_key_only_login() {
    let bed = require_testbed!();
    let err = ssh_fails(bed, &["-o", "BatchMode=yes", "fixture-pass", "true"]);
    assert!(err.contains("Permission denied"), "stderr: {err:?}");
}

#[test]
fn password_login_through_pam() {
    let bed = require_testbed!();
    let (code, out, err) = ssh_with_askpass(bed, &["fixture-pass", "whoami"]);
    assert_eq!((code, out.trim()), (0, "mcptpass"), "stderr: {err:?}");
}

#[test]
fn passphrase_key_needs_its_passphrase() {
    let bed = require_testbed!();
    let err = ssh_fails(bed, &["-o", "BatchMode=yes", "fixture-passphrase", "true"]);
    assert!(err.contains("Permission denied"), "stderr: {err:?}");
    let (code, out, err) = ssh_with_askpass(
        bed,
        &[
            "-o",
            "PreferredAuthentications=publickey",
            "fixture-passphrase",
            "whoami",
        ],
    );
    assert_eq!((code, out.trim()), (0, "mcptkey"), "stderr: {err:?}");
}

#[test]
fn sudo_needs_the_password() {
    let bed = require_testbed!();
    let (code, _, err) = bed.ssh(&[
        "-o",
        "BatchMode=yes",
        "fixture-sudo",
        "sudo -k; sudo -n true",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("password is required"), "stderr: {err:?}");
    let cmd = format!(
        "sudo -k; printf '%s\\n' '{}' | sudo -S -p '' whoami",
        testbed::sudo_password()
    );
    let out = ssh_ok(bed, &["-o", "BatchMode=yes", "fixture-sudo", &cmd]);
    assert_eq!(out.trim(), "root");
}

#[test]
fn sftp_subsystem_works() {
    let bed = require_testbed!();
    let out = Command::new("sftp")
        .arg("-F")
        .arg(bed.ssh_config())
        .args(["-b", "-", "fixture"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"pwd\n")?;
            child.wait_with_output()
        })
        .expect("running sftp");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "sftp: {stdout} {:?}", out.stderr);
    assert!(stdout.contains("/home/mcptkey"), "sftp pwd: {stdout}");
}

#[test]
fn unknown_host_key_is_refused() {
    let bed = require_testbed!();
    for alias in ["fixture-strict", "fixture-unknown"] {
        let err = ssh_fails(bed, &["-o", "BatchMode=yes", alias, "true"]);
        assert!(
            err.contains("Host key verification failed"),
            "{alias}: {err:?}"
        );
    }
}

#[test]
fn changed_host_key_is_refused() {
    let bed = require_testbed!();
    let err = ssh_fails(bed, &["-o", "BatchMode=yes", "fixture-changed", "true"]);
    assert!(
        err.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "stderr: {err:?}"
    );
}

#[test]
fn known_hosts_and_fingerprint_match() {
    let bed = require_testbed!();
    let known = fs::read_to_string(bed.known_hosts()).unwrap();
    assert!(
        known.starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 ", bed.port())),
        "{known}"
    );
    let fp = bed.host_key_fingerprint();
    assert!(fp.starts_with("SHA256:"), "{fp}");
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(bed.known_hosts())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(fp));
}

#[test]
fn restart_drops_sessions_and_comes_back() {
    let bed = require_private_testbed!();
    ssh_ok(&bed, &["-o", "BatchMode=yes", "fixture", "true"]);
    let mut session = ssh_background(&bed, &["fixture", "sleep 5999"]);
    wait_until("the remote sleep", Duration::from_secs(20), || {
        bed.ssh(&["-o", "BatchMode=yes", "fixture", "pgrep -f 'slee[p] 5999'"])
            .0
            == 0
    });
    let old_pid = bed.sshd_pid().unwrap();
    bed.restart().expect("restart");
    assert_ne!(bed.sshd_pid(), Some(old_pid));
    assert!(!pid_alive(old_pid));
    wait_until("the old session to end", Duration::from_secs(10), || {
        session.try_wait().unwrap().is_some()
    });
    ssh_ok(&bed, &["-o", "BatchMode=yes", "fixture", "true"]);
    let (code, out, _) = bed.ssh(&["-o", "BatchMode=yes", "fixture", "pgrep -f 'slee[p] 5999'"]);
    assert_ne!(code, 0, "remote sleep survived the restart: {out}");
}

#[test]
fn stop_leaves_nothing_behind() {
    let bed = require_private_testbed!();
    let dir = bed.dir().to_str().unwrap().to_string();
    let control = format!("{dir}/cm");
    // A ControlMaster (forks into the background), a live session, and a remote orphan.
    let master = ssh_background(
        &bed,
        &[
            "-M",
            "-S",
            &control,
            "-f",
            "-N",
            "-o",
            "ControlPersist=600",
            "fixture",
        ],
    )
    .wait_with_output()
    .unwrap();
    assert!(master.status.success());
    let mut session = ssh_background(&bed, &["fixture", "sleep 5998"]);
    ssh_ok(
        &bed,
        &[
            "-o",
            "BatchMode=yes",
            "fixture",
            "setsid sleep 5997 </dev/null >/dev/null 2>&1 &",
        ],
    );
    wait_until("the remote sleep", Duration::from_secs(20), || {
        bed.ssh(&["-o", "BatchMode=yes", "fixture", "pgrep -f 'slee[p] 5998'"])
            .0
            == 0
    });
    let sshd = bed.sshd_pid().unwrap();
    let port = bed.port();
    assert!(!processes_mentioning(&dir).is_empty());

    bed.stop();
    bed.stop(); // idempotent
    let _ = session.wait();
    assert!(!pid_alive(sshd), "sshd {sshd} survived stop()");
    let left = processes_mentioning(&dir);
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(!std::path::Path::new(&dir).exists(), "{dir} not removed");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(bed.restart().is_err());
}
