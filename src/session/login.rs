//! The ControlMaster's login: the conversation in its terminal until the control socket
//! appears.
//!
//! Secrets go only to the prompt that asked for them: the login password to a password prompt
//! that names the target (`user@host's password:`, `(user@host) Password:`), a key passphrase
//! to the prompt for one of the target's keys. Behind a ProxyJump bastion that asks for its own
//! password, the target's password is never offered to it: the bastion's prompt is reported as
//! needing its own credential. Host-key questions are never answered yes on our own.
//!
//! What only a human should answer goes to the human when the front end can reach one
//! ([`crate::ssh::ask`]): an unknown host key (refuse, accept for this run, accept and save),
//! a password, one-time code or passphrase nobody gave (through a one-time page the model never
//! sees), and "touch your security key".

use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::expect::{Expect, ExpectError, Needle, Prompt, PromptKind};
use crate::pty::PtyProcess;
use crate::secret::Secret;
use crate::ssh::ask;
use crate::ssh::master::{Master, MasterStart, diagnose, unknown_key_detail};
use crate::ssh::watch::CreationWatch;
use crate::term::input::secret_answer;

/// Questions that are not about a secret are only trusted once output has settled.
const SETTLE: Duration = Duration::from_millis(400);

/// Starts the master and logs in. Returns it with notes for the caller (a host key that ssh
/// added because the user's config says so).
pub async fn start_master(
    s: MasterStart<'_>,
    password: Option<&Secret>,
    cancel: &CancellationToken,
) -> Result<(Master, Vec<String>)> {
    let _ = std::fs::remove_file(&s.socket);
    // A host key the human accepts "for this run" goes to this run's file (see ask::host_key).
    let known_hosts = s
        .known_hosts
        .as_deref()
        .and_then(|k| ask::session_known_hosts(s.resolved, k));
    let argv = s.argv(known_hosts.as_ref().map(|(files, _)| files.as_str()));
    tracing::debug!(argv = %argv.display(), "starting ControlMaster");
    let (proc, rx) =
        PtyProcess::spawn(argv.pty_command("dumb"), 200, 50).map_err(|source| Error::Spawn {
            program: s.ssh.program.clone(),
            source,
        })?;
    let watch = CreationWatch::new(&s.socket).map_err(|e| {
        Error::io(
            format!("cannot watch {} for the control socket", s.socket.display()),
            e,
        )
    })?;
    let mut ex = Expect::new(rx);
    let mut login = Login {
        s: &s,
        password,
        answered: Vec::new(),
        known_hosts: known_hosts.map(|(_, k)| k),
        save_key: None,
        human_key: false,
        deadline: Instant::now() + s.timeout,
        touch_told: false,
    };
    let touch = Regex::new(r"Confirm user presence for key[^\n]*").expect("valid regex");
    let outcome = loop {
        let left = login.deadline.saturating_duration_since(Instant::now());
        let needles = [Needle::Prompt, Needle::Eof, Needle::Regex(touch.clone())];
        tokio::select! {
            r = watch.created() => break r
                .map(|()| true)
                .map_err(|e| Error::io("watching for the control socket", e)),
            m = ex.expect(&needles, left, cancel) => match m {
                Ok(m) if m.index == 1 => break Ok(false),
                Ok(m) if m.index == 2 => login.touch(&m.matched),
                Ok(m) => {
                    let prompt = m.prompt.expect("Prompt needles carry the prompt");
                    if let Err(e) = login.on_prompt(&prompt, &mut ex, &proc, cancel).await {
                        break Err(e);
                    }
                }
                Err(ExpectError::Cancelled) => break Err(Error::Cancelled),
                Err(ExpectError::Eof { .. }) => break Ok(false),
                Err(ExpectError::Timeout { seen, .. }) => break Err(Error::Connect {
                    dest: s.label.to_string(),
                    detail: format!(
                        "no connection after {}s (last output: {:?})",
                        s.timeout.as_secs(),
                        tail(&seen)
                    ),
                }),
            },
        }
    };
    match outcome {
        Ok(true) => {
            let (rx, _, _) = ex.into_parts();
            // A key the human chose to save goes to their known_hosts now.
            drop(login.save_key.take());
            let notes = if login.human_key {
                vec![format!(
                    "the user accepted the host key of {} when asked",
                    s.label
                )]
            } else {
                added_host_key(&s).await.into_iter().collect()
            };
            Ok((
                Master::running(s.ssh, &s.target.host, s.label, s.socket.clone(), proc, rx),
                notes,
            ))
        }
        Ok(false) => {
            let code = proc.wait_for(Duration::from_secs(5)).await;
            let log = std::fs::read_to_string(&s.log).unwrap_or_default();
            let text = format!("{log}\n{}", ex.pending_text());
            Err(diagnose(&s, s.label, &text, code).await)
        }
        Err(e) => {
            proc.terminate(Duration::from_millis(200)).await;
            Err(e)
        }
    }
}

/// The state of one login conversation.
struct Login<'a> {
    s: &'a MasterStart<'a>,
    password: Option<&'a Secret>,
    /// Prompts answered so far: the same prompt again means the secret was rejected.
    answered: Vec<String>,
    /// This run's known_hosts, for a host key the human accepts.
    known_hosts: Option<ask::KnownHosts>,
    /// Copies a key the human chose to keep into their known_hosts when dropped.
    save_key: Option<ask::SaveKey>,
    /// The human accepted the host key.
    human_key: bool,
    /// Extended by the time spent waiting for the human.
    deadline: Instant,
    touch_told: bool,
}

impl Login<'_> {
    /// A hardware key waits for a touch: the human is told, once.
    fn touch(&mut self, line: &str) {
        if std::mem::replace(&mut self.touch_told, true) {
            return;
        }
        if let Some(asker) = ask::current() {
            asker.touch(self.s.label, line.trim());
        }
    }

    /// Asks the human for a secret; the time spent waiting does not count against the login.
    async fn ask_secret(
        &mut self,
        what: &'static str,
        hop: Option<&str>,
        prompt: &str,
    ) -> Option<Secret> {
        let asked_at = Instant::now();
        let answer = ask::secret(ask::SecretQuestion {
            dest: self.s.label.to_string(),
            what,
            hop: hop.map(str::to_string),
            prompt: prompt.to_string(),
        })
        .await
        .ok();
        self.deadline += asked_at.elapsed();
        answer
    }

    fn type_secret(&mut self, proc: &PtyProcess, prompt: &str, secret: &Secret) -> Result<()> {
        proc.input()
            .write(&secret_answer(secret.expose()))
            .map_err(|e| Error::Connect {
                dest: self.s.label.to_string(),
                detail: format!("could not answer the prompt: {e}"),
            })?;
        self.answered.push(prompt.to_string());
        Ok(())
    }

    async fn on_prompt(
        &mut self,
        prompt: &Prompt,
        ex: &mut Expect,
        proc: &PtyProcess,
        cancel: &CancellationToken,
    ) -> Result<()> {
        let dest = self.s.label.to_string();
        match &prompt.kind {
            PromptKind::HostKey {
                key_type,
                fingerprint,
            } => {
                let asked_at = Instant::now();
                let q = ask::HostKeyQuestion {
                    dest: dest.clone(),
                    key_type: key_type.clone(),
                    fingerprint: fingerprint.clone(),
                };
                let answer = ask::host_key(q, self.known_hosts.as_ref()).await;
                self.deadline += asked_at.elapsed();
                match answer {
                    Ok((bytes, save)) => {
                        self.save_key = save;
                        self.human_key = true;
                        proc.input().write(bytes).map_err(|e| Error::Connect {
                            dest,
                            detail: format!("could not answer the host-key question: {e}"),
                        })
                    }
                    Err(why) => Err(Error::HostKey {
                        dest,
                        detail: unknown_key_detail(
                            key_type.as_deref(),
                            fingerprint.as_deref(),
                            &self.s.target.host,
                        ) + &why,
                    }),
                }
            }
            PromptKind::Password | PromptKind::SudoPassword | PromptKind::Passphrase => {
                let passphrase = prompt.kind == PromptKind::Passphrase;
                let what = if passphrase {
                    "a key passphrase"
                } else {
                    "a password"
                };
                // Asked again after an answer: it was rejected.
                if self.answered.contains(&prompt.text) || self.answered.len() >= 3 {
                    return Err(Error::AuthFailed {
                        dest,
                        detail: format!(
                            "the {} was rejected (ssh asked again: {:?})",
                            if passphrase { "passphrase" } else { "password" },
                            prompt.text
                        ),
                    });
                }
                let owner = if passphrase {
                    self.key_owner(&prompt.text)
                } else {
                    self.password_owner(&prompt.text)
                };
                // The given secret is the target's only; anything else only a human may give.
                let given = match owner {
                    Owner::Target => self.password,
                    Owner::Other(ref whose) => {
                        tracing::debug!(prompt = %prompt.text, %whose, "a prompt that is not the target's");
                        None
                    }
                };
                let hop = match &owner {
                    Owner::Target => None,
                    Owner::Other(whose) => Some(whose.as_str()),
                };
                let asked = match given {
                    Some(_) => None,
                    None => self.ask_secret(what, hop, &prompt.text).await,
                };
                match (given.or(asked.as_ref()), owner) {
                    (Some(secret), _) => self.type_secret(proc, &prompt.text, secret),
                    (None, Owner::Other(_)) => Err(Error::AuthNeeded {
                        dest,
                        what: if passphrase {
                            "the passphrase of a key that is not the target's"
                        } else {
                            "a password of another host on the way (a ProxyJump or ProxyCommand hop)"
                        },
                        prompt: prompt.text.clone(),
                        hint: other_hop_hint(passphrase),
                    }),
                    (None, Owner::Target) => Err(Error::AuthNeeded {
                        dest,
                        what,
                        prompt: prompt.text.clone(),
                        hint: if passphrase {
                            "Load the key into ssh-agent (ssh-add), pass the passphrase as `password` or set OVRD_<host>_PASS; an MCP client with URL elicitation lets the user type it in a one-time local page."
                        } else {
                            "Pass `password`, set OVRD_<host>_PASS, or set up key authentication (ssh-agent, IdentityFile in ~/.ssh/config); an MCP client with URL elicitation lets the user type it in a one-time local page."
                        },
                    }),
                }
            }
            _ => {
                // A question, unless more output follows at once (then it was just text).
                let any = Needle::Regex(Regex::new("(?s).").expect("valid regex"));
                let left = self.deadline.saturating_duration_since(Instant::now());
                match ex.expect(&[Needle::Quiet(SETTLE), any], left, cancel).await {
                    Ok(m) if m.index == 0 => {
                        // A question nothing else answers (keyboard-interactive): the human may.
                        match self.ask_secret("an answer", None, &prompt.text).await {
                            Some(answer) => self.type_secret(proc, &prompt.text, &answer),
                            None => Err(Error::AuthNeeded {
                                dest,
                                what: "an answer we cannot give",
                                prompt: prompt.text.clone(),
                                hint: "Set up key authentication or ssh-agent for this host, or log in once in a terminal to see what it asks.",
                            }),
                        }
                    }
                    Err(ExpectError::Cancelled) => Err(Error::Cancelled),
                    _ => Ok(()),
                }
            }
        }
    }

    /// Whose password a prompt asks for.
    fn password_owner(&self, prompt: &str) -> Owner {
        static NAMED: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(concat!(
                r"^(?:\((?P<u1>[^@\s()]+)@(?P<h1>[^)\s]+)\)\s.*",
                r"|(?P<u2>[^@\s]+)@(?P<h2>\S+?)'s password:?",
                r"|.*\bfor (?P<u3>[^@\s]+)@(?P<h3>\S+?):?)\s*$"
            ))
            .expect("valid regex")
        });
        let Some(c) = NAMED.captures(prompt.trim()) else {
            // Without a name, only a direct connection is sure to be the target asking.
            return if self.s.resolved.is_some_and(|r| r.has_hops()) {
                Owner::Other("an unnamed host on the way".into())
            } else {
                Owner::Target
            };
        };
        let user = ["u1", "u2", "u3"]
            .iter()
            .find_map(|n| c.name(n))
            .map_or("", |m| m.as_str());
        let host = ["h1", "h2", "h3"]
            .iter()
            .find_map(|n| c.name(n))
            .map_or("", |m| m.as_str());
        let (want_user, want_host) = match self.s.resolved {
            Some(r) => (r.user.as_str(), r.hostname.as_str()),
            None => (
                self.s.target.user.as_deref().unwrap_or(user),
                self.s.target.host.as_str(),
            ),
        };
        if user == want_user && host.eq_ignore_ascii_case(want_host) {
            Owner::Target
        } else {
            Owner::Other(format!("{user}@{host}"))
        }
    }

    /// Whose key a passphrase prompt asks for.
    fn key_owner(&self, prompt: &str) -> Owner {
        static KEY: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r"(?i)\bfor (?:key )?(?:[A-Z0-9-]+ key )?'?(?P<path>[^':]+?)'?\s*:?\s*$")
                .expect("valid regex")
        });
        let Some(r) = self.s.resolved.filter(|r| r.has_hops()) else {
            return Owner::Target;
        };
        let Some(path) = KEY.captures(prompt.trim()).and_then(|c| c.name("path")) else {
            return Owner::Other("an unnamed key".into());
        };
        let path = expand_home(path.as_str());
        let ours = r
            .identity_files
            .iter()
            .map(|f| expand_home(f))
            .chain(
                self.s
                    .target
                    .identity
                    .iter()
                    .map(|p| p.display().to_string()),
            )
            .any(|f| Path::new(&f) == Path::new(&path));
        if ours {
            Owner::Target
        } else {
            Owner::Other(path)
        }
    }
}

enum Owner {
    Target,
    /// Someone else: a hop's `user@host`, or a key path.
    Other(String),
}

/// What to do about a hop's prompt (the message quotes the prompt, which names the hop).
fn other_hop_hint(passphrase: bool) -> &'static str {
    if passphrase {
        "The `password` of a call is only given to the target's own prompts. Load that key into ssh-agent (ssh-add) so no hop needs a passphrase."
    } else {
        "The `password` of a call is only given to the target's own prompts, never to another host. Give the hop its own credential: a key in ssh-agent or an IdentityFile for it in ~/.ssh/config."
    }
}

fn expand_home(path: &str) -> String {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest).display().to_string(),
        _ => path.to_string(),
    }
}

fn tail(seen: &str) -> String {
    let t: String = seen
        .chars()
        .rev()
        .take(300)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    t.trim().to_string()
}

/// ssh adds an unknown host key by itself when the user's config says
/// `StrictHostKeyChecking accept-new` (or `no`): honoured, but said, with the fingerprint.
async fn added_host_key(s: &MasterStart<'_>) -> Option<String> {
    let log = std::fs::read_to_string(&s.log).ok()?;
    let line = log
        .lines()
        .find(|l| l.starts_with("Warning: Permanently added"))?;
    let key_type = line
        .split('(')
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or("unknown type");
    let fingerprint = match s.resolved {
        Some(r) => known_fingerprint(r).await,
        None => None,
    };
    let setting = s
        .resolved
        .and_then(|r| r.get("stricthostkeychecking"))
        .unwrap_or("accept-new");
    Some(format!(
        "ssh added the host key of {} ({key_type}{}) to known_hosts, because your ssh config sets StrictHostKeyChecking {setting}, which trusts a new host's key on first use. Check the fingerprint with the server's administrator",
        s.label,
        fingerprint.map(|f| format!(", {f}")).unwrap_or_default()
    ))
}

/// The fingerprint of the key known_hosts now holds for the host.
async fn known_fingerprint(r: &crate::ssh::Resolved) -> Option<String> {
    let file = expand_home(r.get("userknownhostsfile")?.split_whitespace().next()?);
    let name = if r.port == 22 {
        r.hostname.clone()
    } else {
        format!("[{}]:{}", r.hostname, r.port)
    };
    let mut cmd = tokio::process::Command::new("ssh-keygen");
    cmd.args(["-l", "-F"])
        .arg(&name)
        .arg("-f")
        .arg(&file)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(5), cmd.output())
        .await
        .ok()?
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find(|w| w.starts_with("SHA256:"))
        .map(str::to_string)
}
