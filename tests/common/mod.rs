//! Helpers shared by the integration tests (each test file compiles this module on its own,
//! so everything here may be unused in some of them).
//!
//! ```ignore
//! mod common;
//! use common::require_testbed;
//!
//! #[test]
//! fn my_test() {
//!     let bed = require_testbed!(); // &'static TestBed, or prints SKIP and returns
//!     let (code, out, _) = bed.ssh(&["fixture", "whoami"]);
//! }
//! ```
#![allow(dead_code)]

pub mod exec;
pub mod mcp_client;
#[path = "../../fixtures/testbed.rs"]
pub mod testbed;

pub use testbed::TestBed;

use std::sync::Arc;
use std::time::Duration;

use mcp_ssh_session::config::Config;
use mcp_ssh_session::session::SessionManager;

/// A session engine that reaches the bed through its ssh config.
pub fn engine(bed: &TestBed) -> Arc<SessionManager> {
    let config = Config {
        ssh_program: "ssh".into(),
        ssh_config: Some(bed.ssh_config().to_path_buf()),
        connect_timeout: Duration::from_secs(20),
        ..Config::default()
    };
    Arc::new(SessionManager::new(config).expect("engine"))
}

/// A multi-threaded runtime for one test.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// True when running in CI (`CI` set to anything but empty, `0` or `false`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Whether a test may not skip: in CI on Linux, where the test bed and the pinned clients are
/// installed. Elsewhere (macOS CI included) a skip prints a SKIP line.
pub fn must_not_skip() -> bool {
    in_ci() && cfg!(target_os = "linux")
}

/// The running test's name (libtest names each test thread after its test).
pub fn current_test_name() -> String {
    std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .unwrap_or("<test>")
        .to_string()
}

/// Why this test cannot use the bed, printed as a skip; panics in CI on Linux, where the bed
/// is required.
fn skip(test: &str, reason: &str) {
    if must_not_skip() {
        panic!("{test}: the sshd test bed is required in CI, but: {reason}");
    }
    // Straight to fd 2: libtest captures `eprintln!` of passing tests, so it would never show.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {reason}");
}

/// Prints `SKIP <test>: <reason>` for a test that cannot do its work here for a reason that is
/// not the test bed's (a concurrent run holding what it needs); never a failure, in CI neither.
pub fn skip_visibly(test: &str, reason: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {reason}");
}

/// True (after printing `SKIP <test>: <reason>`, or panicking in CI) when the test bed cannot
/// run here; for tests that start beds of their own.
pub fn testbed_or_skip_reason_only(test: &str) -> bool {
    match testbed::skip_reason() {
        Some(reason) => {
            skip(test, &reason);
            true
        }
        None => false,
    }
}

/// The shared test bed, or `None` (after printing `SKIP <test>: <reason>`) when not root.
/// A bed that fails to start as root is a test failure, not a skip.
pub fn testbed_or_skip(test: &str) -> Option<&'static TestBed> {
    if let Some(reason) = testbed::skip_reason() {
        skip(test, &reason);
        return None;
    }
    match TestBed::shared() {
        Ok(bed) => Some(bed),
        Err(e) => panic!("{test}: the sshd test bed failed to start: {e}"),
    }
}

/// A private test bed (for destructive tests: restart, stop), or `None` when not root.
pub fn private_testbed_or_skip(test: &str) -> Option<TestBed> {
    if let Some(reason) = testbed::skip_reason() {
        skip(test, &reason);
        return None;
    }
    match TestBed::start() {
        Ok(bed) => Some(bed),
        Err(e) => panic!("{test}: a private sshd test bed failed to start: {e}"),
    }
}

/// `let bed = require_testbed!();` gives the shared `&'static TestBed`, or prints
/// `SKIP <test>: <reason>` and returns from the test when not root or not on Linux (panics
/// in CI on Linux).
#[allow(unused_macros)]
macro_rules! require_testbed {
    () => {
        match $crate::common::testbed_or_skip(&$crate::common::current_test_name()) {
            Some(bed) => bed,
            None => return,
        }
    };
}

/// Like `require_testbed!`, but a private `TestBed` of this test's own (stopped on drop).
#[allow(unused_macros)]
macro_rules! require_private_testbed {
    () => {
        match $crate::common::private_testbed_or_skip(&$crate::common::current_test_name()) {
            Some(bed) => bed,
            None => return,
        }
    };
}

#[allow(unused_imports)]
pub(crate) use {require_private_testbed, require_testbed};
