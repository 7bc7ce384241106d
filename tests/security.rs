//! The security model end to end, through an rmcp client driving the built binary against the
//! sshd test bed: `OVRD_` aliases that hide real hosts and credentials, secrets kept out of
//! results, history and the debug log, the audit log, the policy file, and the human's answers
//! to login questions and confirmations (MCP elicitation, both protocol revisions).

mod common;

use std::path::Path;
use std::time::Duration;

use common::mcp_client::{Answers, Launch, Server, args, post_form};
use common::require_testbed;
use common::testbed::{ENABLE_PASSWORD, password};
use rmcp::model::{CallToolRequestParams, ElicitRequestParams, ProtocolVersion};
use rmcp::service::ClientLifecycleMode;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Helpers of this file (the MCP client, the human included, is tests/common/mcp_client.rs)

/// A TCP port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where `needle` occurs in `hay` as a word of its own (not inside a longer word or number).
fn contains_word(hay: &str, needle: &str) -> bool {
    hay.match_indices(needle).any(|(i, _)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + needle.len()..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        !word(before) && !word(after)
    })
}

// ---------------------------------------------------------------------------------------------
// OVRD aliases and secrets

const ENABLE_SECRET: &str = "mcpt-Enable-9x";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovrd_aliases_hide_real_values_and_secrets_never_show() {
    let bed = require_testbed!();
    let port = bed.port().to_string();
    let down = closed_port().to_string();
    let key = bed.dir().join("id_ed25519").display().to_string();
    let env = [
        // Everything at debug level, rmcp's protocol dumps included (the server caps those).
        ("RUST_LOG", "debug,rmcp=debug,rmcp::service=trace"),
        ("OVRD_prod_db_HOST", "127.0.0.1"),
        ("OVRD_prod_db_PORT", port.as_str()),
        ("OVRD_prod_db_USER", "mcptpass"),
        ("OVRD_prod_db_PASS", password()),
        ("OVRD_prod_db_ENABLE_PASS", ENABLE_SECRET),
        ("OVRD_prod_sudo_HOST", "127.0.0.1"),
        ("OVRD_prod_sudo_PORT", port.as_str()),
        ("OVRD_prod_sudo_USER", "mcptsudo"),
        ("OVRD_prod_sudo_SUDO_PASS", password()),
        // A real name that only the ssh config maps to the bed (`Host *` has its HostName).
        ("OVRD_prod_key_HOST", "mcpt-real-box"),
        ("OVRD_prod_key_USER", "mcptkey"),
        ("OVRD_prod_key_KEY", key.as_str()),
        ("OVRD_prod_down_HOST", "127.0.0.1"),
        ("OVRD_prod_down_PORT", down.as_str()),
        ("OVRD_prod_down_USER", "mcptkey"),
        // A router (the fake IOS) whose enable password only the environment knows.
        ("OVRD_prod_rtr_HOST", "127.0.0.1"),
        ("OVRD_prod_rtr_PORT", port.as_str()),
        ("OVRD_prod_rtr_USER", "mcptios"),
        ("OVRD_prod_rtr_KEY", key.as_str()),
        ("OVRD_prod_rtr_ENABLE_PASS", ENABLE_PASSWORD),
    ];
    let local = tempfile::tempdir().unwrap();
    let local_root = local.path().display().to_string();
    let s = Server::launch(
        bed.ssh_config(),
        Launch {
            args: &["--local-root", &local_root],
            env: &env,
            ..Launch::default()
        },
    )
    .await;
    let mut seen: Vec<String> = Vec::new();

    let r = s
        .ok(
            "execute_command",
            json!({"host": "prod_db", "command": format!("echo db-ok; printf '%s\\n' '{}'", password())}),
        )
        .await;
    assert_eq!(r.sc["output"], json!("db-ok\n***\n"), "{}", r.text);
    assert_eq!(r.sc["session"], json!("prod_db"), "{}", r.text);
    assert!(
        r.text.contains("enable_password is for network devices"),
        "OVRD_prod_db_ENABLE_PASS is noticed: {}",
        r.text
    );
    seen.push(r.all());
    let r = s.run("prod_sudo", "sudo -k; sudo id -u").await;
    assert_eq!(r.sc["output"], json!("0\n"), "{}", r.text);
    seen.push(r.all());
    // Tool arguments win over OVRD values, and are secrets too.
    let r = s
        .ok(
            "execute_command",
            json!({"host": "prod_sudo", "command": "sudo -k; sudo id -un", "sudo_password": password(), "enable_password": ENABLE_SECRET}),
        )
        .await;
    assert_eq!(r.sc["output"], json!("root\n"), "{}", r.text);
    seen.push(r.all());
    // enable with OVRD_prod_rtr_ENABLE_PASS: privileged, the configuration through the pager.
    let r = s.run("prod_rtr", "show running-config").await;
    assert_eq!(r.sc["device"]["mode"], json!("privileged"), "{}", r.text);
    assert!(
        r.sc["output"].as_str().unwrap().ends_with("!\nend\n"),
        "{}",
        r.text
    );
    assert_eq!(r.sc["session"], json!("prod_rtr"), "{}", r.text);
    // The configuration names its last editor (the real user): device output is the device's
    // words and is not rewritten (see the README); everything around it is scanned.
    let output = r.sc["output"].as_str().unwrap().to_string();
    seen.push(
        r.all()
            .replace(&output, "")
            .replace(&serde_json::to_string(&output).unwrap(), ""),
    );
    let r = s.run("prod_key", "echo key-ok; sleep 1.2; echo done").await;
    assert_eq!(r.sc["output"], json!("key-ok\ndone\n"), "{}", r.text);
    seen.push(r.all());
    let r = s
        .ok(
            "execute_command_async",
            json!({"host": "prod_db", "command": "sleep 0.3; echo async-ok"}),
        )
        .await;
    seen.push(r.all());
    let id = r.sc["command_id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(800)).await;
    seen.push(
        s.ok("get_command_status", json!({"command_id": id}))
            .await
            .all(),
    );
    seen.push(
        s.ok("get_command_output", json!({"command_id": id}))
            .await
            .all(),
    );
    // A connection that fails: ssh's error names the real address and port.
    let e = s.refused("prod_down", "true").await;
    assert!(
        e.contains("connect to host prod_down: Connection refused"),
        "ssh's own words, rewritten to the alias: {}",
        e
    );
    seen.push(e.clone());
    // A bad override is reported without its value.
    let e = s
        .err_reply(
            "execute_command",
            json!({"host": "prod_db", "command": "true", "username": "-oProxyCommand=x"}),
        )
        .await;
    seen.push(e.all());
    // The file tools through the aliases: sftp and exec channels on the same masters.
    let dir = format!("/tmp/ovrd-files-{}", std::process::id());
    let file = format!("{dir}/a.txt");
    let r = s
        .ok(
            "write_file",
            json!({"host": "prod_key", "remote_path": file, "content": "files-ok\n", "make_dirs": true}),
        )
        .await;
    seen.push(r.all());
    let r = s
        .ok(
            "read_file",
            json!({"host": "prod_key", "remote_path": file}),
        )
        .await;
    assert!(r.text.contains("files-ok"), "{}", r.text);
    seen.push(r.all());
    let r = s
        .ok(
            "download_file",
            json!({"host": "prod_key", "remote_path": file, "local_path": "a.txt"}),
        )
        .await;
    seen.push(r.all());
    let r = s
        .ok(
            "upload_file",
            json!({"host": "prod_key", "local_path": "a.txt", "remote_path": format!("{dir}/b.txt")}),
        )
        .await;
    seen.push(r.all());
    // Paths under the home directory read `~/...` (the home names the real user).
    let home_file = format!("~/ovrd-files-{}.txt", std::process::id());
    let r = s
        .ok(
            "write_file",
            json!({"host": "prod_key", "remote_path": home_file, "content": "home\n"}),
        )
        .await;
    assert_eq!(r.sc["path"], json!(home_file), "{}", r.text);
    seen.push(r.all());
    let r = s
        .ok(
            "read_file",
            json!({"host": "prod_key", "remote_path": home_file}),
        )
        .await;
    seen.push(r.all());
    // A listing shows owners as the host names them: remote data, like `whoami` or `ls -l`
    // output, which is not rewritten. The destination itself never shows.
    let listing = s
        .ok(
            "list_directory",
            json!({"host": "prod_key", "remote_path": dir}),
        )
        .await
        .all();
    for value in ["127.0.0.1", "mcpt-real-box", &port, &key] {
        assert!(!contains_word(&listing, value), "{value:?} in {listing}");
    }
    // sudo with the alias's OVRD_<alias>_SUDO_PASS, into a directory only root may write.
    let root_file = format!("/root/ovrd-files-{}.txt", std::process::id());
    let r = s
        .ok(
            "write_file",
            json!({"host": "prod_sudo", "remote_path": root_file, "content": "as-root\n", "use_sudo": true}),
        )
        .await;
    seen.push(r.all());
    let r = s
        .ok(
            "read_file",
            json!({"host": "prod_sudo", "remote_path": root_file, "use_sudo": true}),
        )
        .await;
    assert!(r.text.contains("as-root"), "{}", r.text);
    seen.push(r.all());
    let missing = s
        .err_reply(
            "read_file",
            json!({"host": "prod_key", "remote_path": format!("{dir}/missing.txt")}),
        )
        .await;
    seen.push(missing.all());
    let unreachable = s
        .err_reply(
            "read_file",
            json!({"host": "prod_down", "remote_path": file}),
        )
        .await;
    assert!(
        unreachable.text.contains("prod_down"),
        "{}",
        unreachable.text
    );
    seen.push(unreachable.all());
    s.run(
        "prod_sudo",
        &format!("sudo rm -f {root_file}; rm -rf {dir}"),
    )
    .await;

    let l = s.ok("list_sessions", json!({})).await;
    let mut hosts: Vec<&str> = l.sc["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["session"].as_str().unwrap())
        .collect();
    hosts.sort();
    assert_eq!(
        hosts,
        ["prod_db", "prod_key", "prod_rtr", "prod_sudo"],
        "{}",
        l.text
    );
    seen.push(l.all());
    seen.push(s.ok("list_command_history", json!({})).await.all());
    seen.push(s.ok("list_running_commands", json!({})).await.all());
    // read_screen shows the terminal as it is (program output, like `whoami`, is not rewritten).
    s.ok("read_screen", json!({"host": "prod_key"})).await;
    let c = s.ok("close_session", json!({"host": "prod_db"})).await;
    assert_eq!(c.sc["closed"], json!(["prod_db"]), "{}", c.text);
    seen.push(c.all());
    seen.push(s.ok("close_all_sessions", json!({})).await.all());
    for p in s.progress() {
        seen.push(p.message.clone().unwrap_or_default());
    }
    let log = s.log();
    s.stop().await;

    let real = [
        "127.0.0.1",
        "mcptpass",
        "mcptsudo",
        "mcptkey",
        "mcptios",
        "mcpt-real-box",
        &port,
        &down,
        &key,
    ];
    for text in &seen {
        for value in real {
            assert!(!contains_word(text, value), "{value:?} is shown in: {text}");
        }
        for secret in [password(), ENABLE_SECRET, ENABLE_PASSWORD] {
            assert!(!text.contains(secret), "a secret is shown in: {text}");
        }
    }
    assert!(log.contains("DEBUG"), "RUST_LOG=debug logged nothing");
    for line in log.lines() {
        for secret in [password(), ENABLE_SECRET, ENABLE_PASSWORD] {
            assert!(
                !line.contains(secret),
                "a secret is in the log: {line:.300}"
            );
        }
        // Debug lines may name the real destination (argv); info and above never do.
        if !line.contains(" DEBUG ") && !line.contains(" TRACE ") {
            for value in real {
                assert!(!contains_word(line, value), "{value:?} logged: {line:.300}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Audit log

fn audit_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_records_each_call_without_secrets_or_output() {
    let bed = require_testbed!();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let port = bed.port().to_string();
    let env = [
        ("MCP_SSH_AUDIT_LOG", audit.to_str().unwrap()),
        ("OVRD_audit_db_HOST", "127.0.0.1"),
        ("OVRD_audit_db_PORT", port.as_str()),
        ("OVRD_audit_db_USER", "mcptpass"),
        ("OVRD_audit_db_PASS", password()),
    ];
    let s = Server::start(bed.ssh_config(), &env).await;
    let r = s.run("fixture", "printf '%s%s\\n' AUD OUT; exit 3").await;
    assert_eq!(r.sc["output"], json!("AUDOUT\n"));
    s.ok(
        "execute_command",
        json!({"host": "audit_db", "command": format!("echo {} >/dev/null", password())}),
    )
    .await;
    let bg = s
        .ok(
            "execute_command_async",
            json!({"host": "fixture", "command": "cat"}),
        )
        .await;
    let id = bg.sc["command_id"].as_str().unwrap().to_string();
    s.ok(
        "send_input",
        json!({"command_id": id, "input_text": "typed-secret-ish\\n"}),
    )
    .await;
    s.ok("interrupt_command_by_id", json!({"command_id": id}))
        .await;
    s.err("execute_command", json!({"host": "-oX", "command": "true"}))
        .await;
    // Reading the server's own records is not audited; closing sessions is.
    s.ok("list_command_history", json!({})).await;
    s.ok("close_all_sessions", json!({})).await;
    s.stop().await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&audit).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(&audit).unwrap();
    for leak in [
        "AUDOUT",
        password(),
        "typed-secret-ish",
        "127.0.0.1",
        "mcptpass",
    ] {
        assert!(!text.contains(leak), "{leak:?} in the audit log:\n{text}");
    }
    let lines = audit_lines(&audit);
    let tools: Vec<&str> = lines.iter().map(|l| l["tool"].as_str().unwrap()).collect();
    assert_eq!(
        tools,
        [
            "execute_command",
            "execute_command",
            "execute_command_async",
            "send_input",
            "interrupt_command_by_id",
            "execute_command",
            "close_all_sessions"
        ],
        "{text}"
    );
    let first = &lines[0];
    assert_eq!(first["host"], json!("fixture"));
    assert_eq!(first["command"], json!("printf '%s%s\\n' AUD OUT; exit 3"));
    assert_eq!(first["status"], json!("completed"));
    assert_eq!(first["exit_code"], json!(3));
    assert_eq!(first["bytes"], json!(7));
    assert!(first["duration_ms"].is_u64() && first["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(lines[1]["host"], json!("audit_db"));
    assert_eq!(lines[1]["command"], json!("echo *** >/dev/null"));
    assert_eq!(lines[3]["command_id"], json!(id));
    assert_eq!(lines[3]["bytes"], json!(18));
    assert!(lines[3].get("command").is_none(), "{}", lines[3]);
    assert_eq!(lines[5]["status"], json!("error"));
    assert!(
        lines[5]["error"].as_str().unwrap().contains("invalid host"),
        "{}",
        lines[5]
    );
}

// ---------------------------------------------------------------------------------------------
// Policy

fn policy_file(dir: &Path, text: &str) -> String {
    let p = dir.join("policy.toml");
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

const POLICY: &str = r#"
allowed_hosts = ["fixture", "fixture-s*"]
deny = ["rm -rf /", "reboot", "dd of=/dev/*"]
confirm = ["touch *"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_refuses_denied_commands_and_unlisted_hosts_naming_the_rule() {
    let bed = require_testbed!();
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), POLICY);
    let audit = dir.path().join("audit.jsonl");
    let s = Server::launch(
        bed.ssh_config(),
        Launch {
            args: &["--policy", &policy, "--audit-log", audit.to_str().unwrap()],
            ..Launch::default()
        },
    )
    .await;
    let r = s.run("fixture", "echo allowed").await;
    assert_eq!(r.sc["output"], json!("allowed\n"));
    let e = s.refused("fixture", "echo x && sudo /sbin/reboot").await;
    assert!(
        e.contains("`/sbin/reboot` matches the policy's deny rule \"reboot\""),
        "{}",
        e
    );
    let e = s
        .refused("fixture", "sh -c 'dd if=/dev/zero of=/dev/sda'")
        .await;
    assert!(e.contains("dd of=/dev/*"), "{}", e);
    let e = s.refused("fixture-dash", "true").await;
    assert!(e.contains("allowed_hosts"), "{}", e);
    // A confirm rule without a client that can ask: refused, naming the rule.
    let e = s.refused("fixture", "touch /tmp/mcpt-policy-noask").await;
    assert!(
        e.contains("confirm rule \"touch *\"") && e.contains("no form elicitation"),
        "{}",
        e
    );
    assert!(!Path::new("/tmp/mcpt-policy-noask").exists());
    // Typed input is checked too.
    s.run("fixture", "true").await;
    let e = s
        .err(
            "send_input_by_session",
            json!({"host": "fixture", "input_text": "reboot\n"}),
        )
        .await;
    assert!(e.contains("deny rule"), "{e}");
    // A refusal quotes the command's words: a secret passed with the call is masked there.
    let e = s
        .err(
            "execute_command",
            json!({"host": "fixture", "command": "reboot mcpt-Refused-9z", "sudo_password": "mcpt-Refused-9z"}),
        )
        .await;
    assert!(e.contains("`reboot ***` matches"), "{e}");
    s.stop().await;
    let text = std::fs::read_to_string(&audit).unwrap();
    assert!(!text.contains("mcpt-Refused-9z"), "{text}");
    let lines = audit_lines(&audit);
    let refused: Vec<&Value> = lines.iter().filter(|l| l["status"] == "refused").collect();
    assert_eq!(refused.len(), 6, "{lines:?}");
    assert!(
        refused[0]["policy"].as_str().unwrap().contains("deny rule"),
        "{}",
        refused[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_confirm_rules_ask_the_user() {
    let bed = require_testbed!();
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), POLICY);
    let marker = dir.path().join("approved");
    let _ = std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    );
    for approve in [false, true] {
        let answers = Answers {
            modes: vec!["form"],
            approve: Some(approve),
            ..Answers::default()
        };
        let s = Server::launch(
            bed.ssh_config(),
            Launch {
                args: &["--policy", &policy],
                answers,
                ..Launch::default()
            },
        )
        .await;
        let command = format!("touch {}", marker.display());
        let r = s
            .call(
                "execute_command",
                json!({"host": "fixture", "command": command}),
            )
            .await;
        let asked = s.asked();
        assert_eq!(asked.len(), 1, "{asked:?}");
        let ElicitRequestParams::FormElicitationParams { message, .. } = &asked[0] else {
            panic!("{asked:?}")
        };
        assert!(
            message.contains(&command) && message.contains("fixture"),
            "{message}"
        );
        assert_eq!(r.is_error, !approve, "{}", r.text);
        assert_eq!(marker.exists(), approve, "{}", r.text);
        if !approve {
            assert!(r.text.contains("did not approve"), "{}", r.text);
        }
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_policy_runs_only_the_allow_list() {
    let bed = require_testbed!();
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(
        dir.path(),
        "read_only = true\nallow = [\"ls *\", \"cat *\", \"id -u\"]\n",
    );
    let s = Server::launch(
        bed.ssh_config(),
        Launch {
            args: &["--policy", &policy],
            ..Launch::default()
        },
    )
    .await;
    let r = s.run("fixture", "ls / | cat; id -u").await;
    assert_eq!(r.sc["exit_code"], json!(0), "{}", r.text);
    for (command, why) in [
        ("rm -f /tmp/x", "not on its allow list"),
        ("ls > /tmp/mcpt-ro", "writes to"),
        ("id", "not on its allow list"),
    ] {
        let e = s.refused("fixture", command).await;
        assert!(
            e.contains(why) && e.contains("read_only"),
            "{command}: {}",
            e
        );
    }
    let e = s
        .err(
            "send_keys",
            json!({"host": "fixture", "keys": "rm x<enter>"}),
        )
        .await;
    assert!(e.contains("read-only"), "{e}");
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// A human answers login questions

fn host_key_asker(choice: &'static str) -> Answers {
    Answers {
        modes: vec!["form"],
        host_key: Some(choice),
        ..Answers::default()
    }
}

fn modern() -> ClientLifecycleMode {
    ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_host_key_accepted_for_this_run_or_refused() {
    let bed = require_testbed!();
    let empty = bed.dir().join("known_hosts_empty");
    // Accepted for this run: the command runs, known_hosts is untouched.
    let s = Server::answering(bed, host_key_asker("accept_once")).await;
    let r = s.run("fixture-unknown", "echo trusted").await;
    assert_eq!(r.sc["output"], json!("trusted\n"), "{}", r.text);
    let asked = s.forms();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(
        asked[0].contains(bed.host_key_fingerprint()) && asked[0].contains("ED25519"),
        "{}",
        asked[0]
    );
    assert_eq!(std::fs::read_to_string(&empty).unwrap(), "");
    // A new master of the same run trusts it without asking again.
    s.ok("close_session", json!({"host": "fixture-unknown"}))
        .await;
    s.run("fixture-unknown", "true").await;
    assert_eq!(s.forms().len(), 1);
    s.stop().await;

    // Refused by the human.
    let s = Server::answering(bed, host_key_asker("refuse")).await;
    let e = s.refused("fixture-unknown", "true").await;
    assert!(
        e.contains("The user refused the key") && e.contains(bed.host_key_fingerprint()),
        "{}",
        e
    );
    s.stop().await;

    // A client that cannot ask: today's refusal, with the fingerprint and what to do.
    let s = Server::bed(bed).await;
    let e = s.refused("fixture-unknown", "true").await;
    assert!(
        e.contains("never accepted automatically") && e.contains(bed.host_key_fingerprint()),
        "{}",
        e
    );
    s.stop().await;

    // A changed key is refused, never asked about.
    let s = Server::answering(bed, host_key_asker("accept_once")).await;
    let e = s.refused("fixture-changed", "true").await;
    assert!(e.contains("CHANGED"), "{}", e);
    assert!(s.forms().is_empty());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_host_key_accepted_and_saved() {
    // A private bed: this test writes the key into its known_hosts_empty.
    let bed = common::require_private_testbed!();
    let empty = bed.dir().join("known_hosts_empty");
    let s = Server::answering(&bed, host_key_asker("accept_and_save")).await;
    let r = s.run("fixture-unknown", "echo saved").await;
    assert_eq!(r.sc["output"], json!("saved\n"), "{}", r.text);
    s.stop().await;
    let saved = std::fs::read_to_string(&empty).unwrap();
    assert!(
        saved.contains(&format!("[127.0.0.1]:{}", bed.port())) && saved.contains("ssh-ed25519"),
        "{saved}"
    );
    // Another server run needs no one to ask.
    let s = Server::bed(&bed).await;
    s.run("fixture-unknown", "true").await;
    s.stop().await;
}

/// A client with form and URL elicitation whose human types the test password into the page.
fn types_the_password() -> Answers {
    Answers {
        modes: vec!["form", "url"],
        url_secret: Some(password().to_string()),
        ..Answers::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_and_passphrase_through_the_one_time_page() {
    let bed = require_testbed!();
    let s = Server::answering(bed, types_the_password()).await;
    for (host, user) in [
        ("fixture-pass", "mcptpass"),
        ("fixture-passphrase", "mcptkey"),
    ] {
        let r = s.run(host, "whoami").await;
        assert_eq!(r.sc["output"], json!(format!("{user}\n")), "{}", r.text);
    }
    // A nested ssh inside a session: its password prompt goes to the human too, and the
    // model only ever sees that it was answered.
    let cfg = bed.ssh_config().display().to_string();
    let r = s
        .ok(
            "execute_command",
            json!({"host": "fixture", "command": format!("ssh -F {cfg} fixture-pass whoami"), "timeout": 30}),
        )
        .await;
    // The transcript shows the prompt, as a terminal would, never the answer.
    assert!(
        r.sc["output"]
            .as_str()
            .unwrap_or("")
            .ends_with("Password: \nmcptpass\n"),
        "{}",
        r.text
    );
    assert!(r.text.contains("answered by the user"), "{}", r.text);
    assert!(!r.text.contains(password()));
    let asked = s.asked();
    assert_eq!(asked.len(), 3, "{asked:?}");
    for a in &asked {
        let ElicitRequestParams::UrlElicitationParams { url, message, .. } = a else {
            panic!("a secret must be asked through a URL, never a form: {a:?}")
        };
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        assert!(!message.contains(password()));
    }
    // The page was single-use: it is gone.
    let ElicitRequestParams::UrlElicitationParams { url, .. } = &asked[0] else {
        unreachable!()
    };
    assert!(
        post_form(url, "again").await.is_err(),
        "the page still answers"
    );
    let log = s.log();
    s.stop().await;
    assert!(!log.contains(password()));

    // Without URL mode: the fast failure, naming the ways to give the password.
    let s = Server::answering(bed, host_key_asker("refuse")).await;
    let e = s.refused("fixture-pass", "true").await;
    assert!(
        e.contains("asked for a password")
            && e.contains("OVRD_<host>_PASS")
            && e.contains("ssh-agent"),
        "{}",
        e
    );
    assert!(s.asked().is_empty());
    s.stop().await;
}

/// A ProxyJump hop that asks for its own password: the human is asked for it by name, while
/// the target's password (given by the model) goes only to the target's prompt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bastions_password_is_asked_of_the_human_by_name() {
    let bed = require_testbed!();
    let s = Server::answering(bed, types_the_password()).await;
    let r = s
        .ok(
            "execute_command",
            json!({"host": "fixture-behind-bastion", "command": "whoami", "password": password(), "timeout": 30}),
        )
        .await;
    assert_eq!(r.sc["output"], json!("mcptsudo\n"), "{}", r.text);
    let asked = s.asked();
    assert_eq!(
        asked.len(),
        1,
        "only the bastion's prompt is the human's: {asked:?}"
    );
    let ElicitRequestParams::UrlElicitationParams { url, message, .. } = &asked[0] else {
        panic!("a secret must be asked through a URL, never a form: {asked:?}")
    };
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(
        message.contains("needs a password for mcptpass@127.0.0.1, a hop on the way"),
        "the hop is named: {message}"
    );
    assert!(!message.contains(password()));
    let log = s.log();
    s.stop().await;
    assert!(!log.contains(password()));
    assert!(!r.text.contains(password()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_required_rounds_on_protocol_2026_07_28() {
    let bed = require_testbed!();
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), "confirm = [\"echo confirmed\"]\n");
    let answers = Answers {
        modes: vec!["form", "url"],
        host_key: Some("accept_once"),
        approve: Some(true),
        url_secret: Some(password().to_string()),
    };
    let s = Server::launch(
        bed.ssh_config(),
        Launch {
            args: &["--policy", &policy],
            answers,
            lifecycle: Some(modern()),
            ..Launch::default()
        },
    )
    .await;
    // A host key, then a confirmation, then a password: each a round of the same call.
    let r = s.run("fixture-unknown", "echo confirmed").await;
    assert_eq!(r.sc["output"], json!("confirmed\n"), "{}", r.text);
    let r = s.run("fixture-pass", "whoami").await;
    assert_eq!(r.sc["output"], json!("mcptpass\n"), "{}", r.text);
    let asked = s.asked();
    assert_eq!(asked.len(), 3, "{asked:?}");
    assert!(matches!(
        asked[2],
        ElicitRequestParams::UrlElicitationParams { .. }
    ));
    // A retry with a made-up request state finds nothing to resume.
    let mut forged = CallToolRequestParams::new("execute_command")
        .with_arguments(args(json!({"host": "fixture", "command": "true"})));
    forged.request_state = Some("0123456789abcdef".into());
    let r = s.client.call_tool(forged).await.unwrap();
    assert_eq!(r.is_error, Some(true));
    s.stop().await;

    // A 2026-07-28 client without elicitation: the clear refusal.
    let s = Server::launch(
        bed.ssh_config(),
        Launch {
            lifecycle: Some(modern()),
            ..Launch::default()
        },
    )
    .await;
    let e = s.refused("fixture-unknown", "true").await;
    assert!(e.contains("never accepted automatically"), "{}", e);
    s.stop().await;
}
