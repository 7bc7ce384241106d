//! The test bed leaves no door open: its users get a random password per run, and are locked
//! (password and account) when the last run holding them ends.
//!
//! A test binary of its own: the parent never starts a bed, so the child it runs (this same
//! binary, asked to be the bed's user) is the only holder of the users in this process tree.

mod common;

use std::process::Command;

const CHILD: &str = "MCPT_DOOR_CHILD";

/// `passwd -S user`: the status field (`P` usable, `L` locked) and the account expiry.
fn status(user: &str) -> (String, String) {
    let out = Command::new("passwd").args(["-S", user]).output().unwrap();
    let fields: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let expiry = Command::new("chage").args(["-l", user]).output().unwrap();
    let expires = String::from_utf8_lossy(&expiry.stdout)
        .lines()
        .find(|l| l.starts_with("Account expires"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("")
        .trim()
        .to_string();
    (fields.get(1).cloned().unwrap_or_default(), expires)
}

#[test]
fn users_get_a_random_password_and_are_locked_when_the_run_ends() {
    if std::env::var_os(CHILD).is_some() {
        // The child: take the users, show they work, report the password's shape, exit.
        let bed = common::TestBed::start().expect("bed");
        let password = common::testbed::password();
        assert_eq!(password.len(), 24);
        assert_ne!(
            password, "mcpt-Test-pw7",
            "the password once public in the repository"
        );
        assert_eq!(status("mcptsudo").0, "P");
        let (code, out, err) = bed.ssh(&["fixture", "whoami"]);
        assert_eq!((code, out.as_str()), (0, "mcptkey\n"), "{err}");
        let kept = std::fs::read_to_string(bed.dir().join("password")).unwrap();
        assert_eq!(kept, password);
        println!("CHILD-PASSWORD {password}");
        return;
    }
    if common::testbed_or_skip_reason_only(&common::current_test_name()) {
        return;
    }
    // Another run holding the users keeps them unlocked, rightly: nothing to see then.
    let holders = std::fs::read_dir("/run/mcpt-testbed/holders")
        .map(|d| d.count())
        .unwrap_or(0);
    let busy =
        (holders > 0).then(|| format!("{holders} other test run(s) hold the test users now"));
    let Some(reason) = busy else {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "users_get_a_random_password_and_are_locked_when_the_run_ends",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let first = stdout
            .lines()
            .find_map(|l| l.strip_prefix("CHILD-PASSWORD "))
            .expect("the child ran")
            .to_string();
        // Locked for password and key alike (expired account), password forgotten.
        for user in ["mcptkey", "mcptpass", "mcptsudo", "mcptios"] {
            let (state, expires) = status(user);
            assert_eq!(state, "L", "{user} is not locked");
            assert_ne!(expires, "never", "{user}'s account does not expire");
        }
        assert!(!std::path::Path::new("/run/mcpt-testbed/password").exists());
        // The next run gets another password.
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "users_get_a_random_password_and_are_locked_when_the_run_ends",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let second = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("CHILD-PASSWORD "))
            .expect("the child ran again")
            .to_string();
        assert_ne!(first, second);
        return;
    };
    common::skip_visibly(&common::current_test_name(), &reason);
}
