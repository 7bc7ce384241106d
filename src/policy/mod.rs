//! The administrator's policy (optional): which hosts may be reached, read-only mode with an
//! allow-list of commands, commands that are refused, and commands a human must confirm.
//!
//! ```toml
//! allowed_hosts = ["web-*", "db1.example.com"]
//! read_only = true
//! allow = ["ls *", "cat *", "df *", "systemctl status *"]
//! deny = ["rm -rf /", "mkfs*", "shutdown", "reboot", "dd of=/dev/*"]
//! confirm = ["systemctl restart *", "apt-get install"]
//! ```
//!
//! Patterns are matched against each command the line would run, as the shell splits it
//! ([`shell::split`]). A `deny` or `confirm` pattern matches a command when its first word
//! matches the program (glob, with or without the directory) and every further word matches
//! one of the arguments (`-rf` also matches `-r -f` and `-fr`). An `allow` pattern must match
//! the whole command word by word; a last `*` stands for any further arguments. A deny list is
//! a guard-rail against mistakes, not a sandbox: read-only mode with an allow-list is the
//! stronger form.

pub mod shell;
mod wrappers;

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use shell::SimpleCommand;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    allowed_hosts: Option<Vec<String>>,
    #[serde(default)]
    read_only: bool,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
    #[serde(default)]
    confirm: Vec<String>,
}

/// A command pattern, as written and as words.
#[derive(Debug, Clone)]
struct Rule {
    text: String,
    words: Vec<String>,
}

impl Rule {
    fn new(kind: &str, text: &str) -> Result<Rule> {
        let cmds = shell::split(text)
            .map_err(|e| Error::invalid("policy", format!("{kind} pattern {text:?}: {}", e.0)))?;
        match cmds.as_slice() {
            [one] if !one.words.is_empty() => Ok(Rule {
                text: text.to_string(),
                words: one.words.clone(),
            }),
            _ => Err(Error::invalid(
                "policy",
                format!("{kind} pattern {text:?} must be one simple command"),
            )),
        }
    }

    fn program_matches(&self, c: &SimpleCommand) -> bool {
        let (Some(word), Some(program)) = (c.words.first(), c.program()) else {
            return false;
        };
        glob(&self.words[0], program) || glob(&self.words[0], word)
    }

    /// deny/confirm: the program, and each further pattern word somewhere in the arguments.
    fn appears_in(&self, c: &SimpleCommand) -> bool {
        if !self.program_matches(c) {
            return false;
        }
        let args = &c.words[1..];
        let flags: String = args
            .iter()
            .take_while(|a| *a != "--")
            .filter(|a| is_short_flags(a))
            .flat_map(|a| a[1..].chars())
            .collect();
        self.words[1..].iter().all(|p| {
            args.iter().any(|a| glob(p, a))
                || (is_short_flags(p) && p[1..].chars().all(|f| flags.contains(f)))
        })
    }

    /// allow: the whole command, word by word; a last `*` takes any further arguments.
    fn covers(&self, c: &SimpleCommand) -> bool {
        if !self.program_matches(c) || c.dynamic.iter().any(|d| *d) {
            return false;
        }
        let (pat, args) = (&self.words[1..], &c.words[1..]);
        match pat.split_last() {
            Some((last, head)) if last == "*" => {
                args.len() >= head.len() && head.iter().zip(args).all(|(p, a)| glob(p, a))
            }
            _ => pat.len() == args.len() && pat.iter().zip(args).all(|(p, a)| glob(p, a)),
        }
    }
}

fn is_short_flags(w: &str) -> bool {
    w.len() > 1
        && w.starts_with('-')
        && !w.starts_with("--")
        && w[1..].chars().all(|c| c.is_ascii_alphabetic())
}

/// What a tool call does on a host, as far as the policy cares.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    /// A command line for the remote shell.
    Run(&'a str),
    /// Text typed into a running program or raw into a shell's terminal.
    Type(&'a str),
    /// Reading files (read_file, download, listings).
    ReadFiles,
    /// Changing files (write_file, upload).
    WriteFiles,
    /// Anything else that reaches a host (closing a session, interrupting).
    Other,
}

/// The policy's answer for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Refused; the text names the rule and what to do.
    Refuse(String),
    /// A human must approve; the text names the rule.
    Confirm(String),
}

/// A loaded policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    hosts: Option<Vec<String>>,
    read_only: bool,
    allow: Vec<Rule>,
    deny: Vec<Rule>,
    confirm: Vec<Rule>,
}

impl Policy {
    /// Reads and checks a policy file.
    pub fn load(path: &Path) -> Result<Policy> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("cannot read the policy file {}", path.display()), e))?;
        Policy::parse(&text)
            .map_err(|e| Error::invalid("policy", format!("{}: {e}", path.display())))
    }

    /// Parses a policy from TOML.
    pub fn parse(text: &str) -> Result<Policy> {
        let f: PolicyFile = toml::from_str(text)
            .map_err(|e| Error::invalid("policy", e.to_string().trim().to_string()))?;
        let rules = |kind: &str, list: &[String]| -> Result<Vec<Rule>> {
            list.iter().map(|t| Rule::new(kind, t)).collect()
        };
        if f.read_only && f.allow.is_empty() {
            tracing::warn!("policy: read_only without an allow list refuses every command");
        }
        Ok(Policy {
            hosts: f.allowed_hosts,
            read_only: f.read_only,
            allow: rules("allow", &f.allow)?,
            deny: rules("deny", &f.deny)?,
            confirm: rules("confirm", &f.confirm)?,
        })
    }

    /// Checks a call that reaches `names` (the host part of the destination as the agent
    /// named it, and the real host behind an `OVRD_` alias) to do `action`.
    pub fn check(&self, names: &[&str], action: Action<'_>) -> Verdict {
        if let Some(hosts) = &self.hosts
            && !names.is_empty()
            && !hosts.iter().any(|h| names.iter().any(|n| glob(h, n)))
        {
            return Verdict::Refuse(format!(
                "the policy does not allow this host (allowed_hosts = {hosts:?})"
            ));
        }
        match action {
            Action::Run(line) => self.check_command(line, false),
            Action::Type(_) if self.read_only => {
                Verdict::Refuse(
                    "the policy is read-only: typing into a terminal could run anything, so it is refused (read_only = true)".into(),
                )
            }
            Action::Type(text) => self.check_command(text, true),
            Action::WriteFiles if self.read_only => Verdict::Refuse(
                "the policy is read-only: files cannot be changed (read_only = true)".into(),
            ),
            _ => Verdict::Allow,
        }
    }

    fn check_command(&self, line: &str, typed: bool) -> Verdict {
        let commands = match shell::split(line) {
            Ok(c) => c,
            // Typed text need not be a command line (an answer to a prompt).
            Err(_) if typed => return Verdict::Allow,
            Err(e) if self.read_only || !self.deny.is_empty() || !self.confirm.is_empty() => {
                return Verdict::Refuse(format!(
                    "the policy cannot check this command line ({}); fix its quoting",
                    e.0
                ));
            }
            Err(_) => return Verdict::Allow,
        };
        for c in &commands {
            if let Some(r) = self.deny.iter().find(|r| r.appears_in(c)) {
                return Verdict::Refuse(format!(
                    "`{}` matches the policy's deny rule {:?}",
                    c.words.join(" "),
                    r.text
                ));
            }
        }
        if self.read_only {
            // A wrapper's redirections are the outer shell's (`sudo cmd > f` writes f), so
            // every command is checked for them; the allow list is for inner programs.
            for c in &commands {
                if let Some(w) = c.writes.iter().find(|w| w.as_str() != "/dev/null") {
                    return Verdict::Refuse(format!(
                        "the policy is read-only: `{}` writes to {w:?} (read_only = true)",
                        c.words.join(" ")
                    ));
                }
            }
            for c in commands.iter().filter(|c| !c.wrapper) {
                if c.words.is_empty() {
                    continue;
                }
                if c.dynamic_program() {
                    return Verdict::Refuse(format!(
                        "the policy is read-only and the program of `{}` comes from an expansion, which cannot be checked against the allow list",
                        c.words.join(" ")
                    ));
                }
                if !self.allow.iter().any(|r| r.covers(c)) {
                    return Verdict::Refuse(format!(
                        "the policy is read-only and `{}` is not on its allow list (read_only = true; allow = {:?})",
                        c.words.join(" "),
                        self.allow
                            .iter()
                            .map(|r| r.text.as_str())
                            .collect::<Vec<_>>()
                    ));
                }
            }
        }
        for c in &commands {
            if let Some(r) = self.confirm.iter().find(|r| r.appears_in(c)) {
                return Verdict::Confirm(format!(
                    "`{}` matches the policy's confirm rule {:?}",
                    c.words.join(" "),
                    r.text
                ));
            }
        }
        Verdict::Allow
    }
}

/// Shell-style glob: `*` any run of characters, `?` one, `[abc]`/`[a-z]`/`[!x]` a class.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob_at(&p, &t)
}

fn glob_at(p: &[char], t: &[char]) -> bool {
    // Iterative with one backtrack point for the last `*`: linear enough for short patterns.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, len)) = class(&p[pi..], t[ti])
                        && matched
                    {
                        pi += len;
                        ti += 1;
                        continue;
                    }
                }
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A `[...]` class at the start of `p`: whether `c` is in it, and the class's length.
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    while let Some(&x) = p.get(i) {
        if x == ']' && !first {
            return Some((found != negate, i + 1));
        }
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|e| *e != ']') {
            found |= (x..=p[i + 2]).contains(&c);
            i += 3;
        } else {
            found |= x == c;
            i += 1;
        }
        first = false;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
allowed_hosts = ["web-*", "db1.example.com"]
deny = ["rm -rf /", "mkfs*", "shutdown", "reboot", "dd of=/dev/*"]
confirm = ["systemctl restart *", "apt-get install"]
"#;

    fn verdict(p: &Policy, line: &str) -> Verdict {
        p.check(&["web-1"], Action::Run(line))
    }

    #[test]
    fn globs() {
        for (p, t, m) in [
            ("web-*", "web-1", true),
            ("web-*", "db", false),
            ("*", "", true),
            ("a?c", "abc", true),
            ("[a-c]x", "bx", true),
            ("[!a-c]x", "bx", false),
            ("of=/dev/*", "of=/dev/sda", true),
            ("mkfs*", "mkfs.ext4", true),
            ("*.example.com", "db1.example.com", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b", "a", false),
        ] {
            assert_eq!(glob(p, t), m, "{p} {t}");
        }
    }

    #[test]
    fn deny_rules_match_commands_as_the_shell_splits_them() {
        let p = Policy::parse(EXAMPLE).unwrap();
        for line in [
            "rm -rf /",
            "rm -fr /",
            "rm -r -f /",
            "/bin/rm -rf /",
            "cd /tmp && sudo rm -rf /",
            "echo $(reboot)",
            "sh -c 'mkfs.ext4 /dev/sdb'",
            "dd if=/dev/zero of=/dev/sda bs=1M",
            "r''eboot",
            "systemctl status x; shutdown -h now",
            "find / -exec rm -rf / ;",
        ] {
            match verdict(&p, line) {
                Verdict::Refuse(why) => assert!(why.contains("deny rule"), "{line}: {why}"),
                v => panic!("{line}: {v:?}"),
            }
        }
        for line in [
            "rm -rf /tmp/x",
            "echo 'rm -rf /'",
            "grep reboot /var/log/syslog",
            "man shutdown",
            "cat <<EOF\nreboot\nEOF",
            "ls /dev",
        ] {
            assert_eq!(verdict(&p, line), Verdict::Allow, "{line}");
        }
        let Verdict::Refuse(why) = verdict(&p, "rm -rf /") else {
            unreachable!()
        };
        assert_eq!(
            why,
            "`rm -rf /` matches the policy's deny rule \"rm -rf /\""
        );
    }

    #[test]
    fn confirm_rules_ask() {
        let p = Policy::parse(EXAMPLE).unwrap();
        assert!(
            matches!(verdict(&p, "sudo systemctl restart nginx"), Verdict::Confirm(r) if r.contains("systemctl restart *"))
        );
        assert!(matches!(
            verdict(&p, "apt-get -y install curl"),
            Verdict::Confirm(_)
        ));
        assert_eq!(verdict(&p, "systemctl status nginx"), Verdict::Allow);
    }

    #[test]
    fn hosts_outside_the_list_are_refused() {
        let p = Policy::parse(EXAMPLE).unwrap();
        assert_eq!(p.check(&["web-9"], Action::Other), Verdict::Allow);
        assert_eq!(
            p.check(&["prod", "db1.example.com"], Action::Other),
            Verdict::Allow
        );
        assert!(
            matches!(p.check(&["db2"], Action::Other), Verdict::Refuse(r) if r.contains("allowed_hosts"))
        );
        // The guard passes the host part: `web-1@evil.example` is `evil.example`.
        let named = crate::ssh::target::host_part("web-1@evil.example");
        assert!(matches!(
            p.check(&[named], Action::Other),
            Verdict::Refuse(_)
        ));
    }

    #[test]
    fn read_only_runs_only_what_the_allow_list_covers() {
        let p = Policy::parse(
            r#"read_only = true
allow = ["ls *", "cat *", "df -h", "grep *", "systemctl status *"]"#,
        )
        .unwrap();
        for line in [
            "ls -la /etc",
            "ls",
            "cat /etc/hosts | grep local",
            "df -h",
            "sudo systemctl status nginx",
            "ls > /dev/null",
        ] {
            assert_eq!(verdict(&p, line), Verdict::Allow, "{line}");
        }
        for (line, why) in [
            ("df -h /", "not on its allow list"),
            ("rm x", "not on its allow list"),
            ("ls; touch x", "not on its allow list"),
            ("cat a > b", "writes to \"b\""),
            // A wrapper's redirection is the outer shell's: the file is still written.
            (
                "sudo systemctl status x > /etc/cron.d/y",
                "writes to \"/etc/cron.d/y\"",
            ),
            ("nice cat a > b", "writes to \"b\""),
            ("sh -c 'ls' > f", "writes to \"f\""),
            ("$X", "expansion"),
            ("echo $(rm x)", "not on its allow list"),
        ] {
            match verdict(&p, line) {
                Verdict::Refuse(r) => assert!(r.contains(why), "{line}: {r}"),
                v => panic!("{line}: {v:?}"),
            }
        }
        assert!(matches!(
            p.check(&[], Action::WriteFiles),
            Verdict::Refuse(_)
        ));
        assert!(matches!(
            p.check(&[], Action::Type("ls\n")),
            Verdict::Refuse(_)
        ));
        assert_eq!(p.check(&[], Action::ReadFiles), Verdict::Allow);
    }

    #[test]
    fn bad_files_are_refused_clearly() {
        for (text, want) in [
            ("deny = [\"a; b\"]", "one simple command"),
            ("deny = [\"'x\"]", "not closed"),
            ("denny = []", "unknown field"),
            ("read_only = \"yes\"", "invalid type"),
        ] {
            let e = Policy::parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
