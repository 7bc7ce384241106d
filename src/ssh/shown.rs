//! What may be shown about a destination: the one place that decides it.
//!
//! A destination named through `OVRD_<alias>_*` variables is shown as its alias only: the real
//! host name or address, user, port and key path (from the variables, or from `ssh -G` once it
//! resolved them) never appear in a label, an error or a record. Texts that ssh writes (its
//! errors, host-key warnings) quote them; [`Shown::scrub`] rewrites such text to the alias.
//! Any other destination is shown as `user@host:port`, as ssh would connect to it.

use std::sync::Mutex;

use crate::error::Error;
use crate::ssh::{Resolved, Target};

/// What stands in for a hidden user, port or key path.
const HIDDEN: &str = "(hidden)";

/// What may be shown about one destination.
#[derive(Debug)]
pub struct Shown {
    /// The host as the caller named it.
    alias: String,
    /// The values to hide; `None` when nothing is hidden (no `OVRD_` variable names the alias).
    hidden: Option<Mutex<Hidden>>,
}

#[derive(Debug, Default, Clone)]
struct Hidden {
    hosts: Vec<String>,
    users: Vec<String>,
    ports: Vec<String>,
    paths: Vec<String>,
}

impl Hidden {
    fn add(list: &mut Vec<String>, value: &str) {
        let v = value.trim();
        if !v.is_empty() && !list.iter().any(|x| x == v) {
            list.push(v.to_string());
            // Longest first, so that `db.example.com` is rewritten before `db`.
            list.sort_by_key(|x| std::cmp::Reverse(x.len()));
        }
    }
}

impl Shown {
    /// A destination shown as it is.
    pub fn plain(alias: &str) -> Self {
        Shown {
            alias: alias.to_string(),
            hidden: None,
        }
    }

    /// A destination whose real host, user, port and key path are hidden behind `alias`.
    pub fn alias(alias: &str) -> Self {
        let mut h = Hidden::default();
        // The alias itself may be a real name that ssh resolves; it is what we show anyway.
        Hidden::add(&mut h.hosts, alias);
        Shown {
            alias: alias.to_string(),
            hidden: Some(Mutex::new(h)),
        }
    }

    /// True when this destination hides its real values.
    pub fn hides(&self) -> bool {
        self.hidden.is_some()
    }

    /// The host as the caller named it.
    pub fn name(&self) -> &str {
        &self.alias
    }

    fn with_hidden<R>(&self, f: impl FnOnce(&mut Hidden) -> R) -> Option<R> {
        self.hidden
            .as_ref()
            .map(|m| f(&mut m.lock().unwrap_or_else(|e| e.into_inner())))
    }

    /// Hides the values of a target (after overrides): called before anything can fail.
    pub fn hide_raw(&self, host: &str, user: Option<&str>, port: Option<&str>, key: Option<&str>) {
        self.with_hidden(|h| {
            Hidden::add(&mut h.hosts, host);
            user.into_iter().for_each(|u| Hidden::add(&mut h.users, u));
            port.into_iter().for_each(|p| Hidden::add(&mut h.ports, p));
            key.into_iter().for_each(|k| Hidden::add(&mut h.paths, k));
        });
    }

    /// Hides what ssh's configuration added (`HostName`, `User`, `Port`, `IdentityFile`).
    pub fn learn(&self, target: &Target, resolved: &Resolved) {
        self.with_hidden(|h| {
            Hidden::add(&mut h.hosts, &target.host);
            Hidden::add(&mut h.hosts, &resolved.hostname);
            Hidden::add(&mut h.users, &resolved.user);
            Hidden::add(&mut h.ports, &resolved.port.to_string());
            if let Some(k) = &target.identity {
                Hidden::add(&mut h.paths, &k.to_string_lossy());
            }
            if let Some(k) = resolved.get("identityfile") {
                Hidden::add(&mut h.paths, k);
            }
        });
    }

    /// The session label: the alias alone when hidden, else `user@host:port` (`?` where ssh
    /// has not resolved it yet).
    pub fn label(&self, target: &Target, resolved: Option<&Resolved>) -> String {
        if self.hides() {
            return self.alias.clone();
        }
        match resolved {
            Some(r) => r.label(&target.host),
            None => format!(
                "{}@{}:{}",
                target.user.as_deref().unwrap_or("?"),
                target.host,
                target
                    .port
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "?".into())
            ),
        }
    }

    /// `text` with every hidden value rewritten: host names and addresses (with a port,
    /// `user@` or brackets around them) become the alias, `/home/<user>` becomes `~`, users,
    /// ports and key paths become `(hidden)`. Text of a destination that hides nothing is returned as is.
    pub fn scrub(&self, text: &str) -> String {
        let Some(h) = self.with_hidden(|h| h.clone()) else {
            return text.to_string();
        };
        let mut out = text.to_string();
        for host in &h.hosts {
            out = replace_host(&out, host, &self.alias);
        }
        for path in &h.paths {
            out = out.replace(path.as_str(), HIDDEN);
        }
        for user in &h.users {
            // `/home/<user>` is that user's home: `~` keeps a working directory usable.
            out = replace_word(&out, &format!("/home/{user}"), "~");
            out = replace_word(&out, user, HIDDEN);
        }
        for port in &h.ports {
            for (before, after) in [("port ", "port "), ("Port ", "Port "), ("-p ", "-p ")] {
                out = replace_word(
                    &out,
                    &format!("{before}{port}"),
                    &format!("{after}{HIDDEN}"),
                );
            }
        }
        out
    }

    /// An error with its texts scrubbed (see [`Shown::scrub`]).
    pub fn scrub_error(&self, e: Error) -> Error {
        if !self.hides() {
            return e;
        }
        let s = |t: String| self.scrub(&t);
        match e {
            Error::InvalidInput { what, reason } => Error::InvalidInput {
                what,
                reason: s(reason),
            },
            Error::Resolve { host, detail } => Error::Resolve {
                host: s(host),
                detail: s(detail),
            },
            Error::Connect { dest, detail } => Error::Connect {
                dest: s(dest),
                detail: s(detail),
            },
            Error::AuthNeeded {
                dest,
                what,
                prompt,
                hint,
            } => Error::AuthNeeded {
                dest: s(dest),
                what,
                prompt: s(prompt),
                hint,
            },
            Error::AuthFailed { dest, detail } => Error::AuthFailed {
                dest: s(dest),
                detail: s(detail),
            },
            Error::HostKey { dest, detail } => Error::HostKey {
                dest: s(dest),
                detail: s(detail),
            },
            Error::Master { dest, detail } => Error::Master {
                dest: s(dest),
                detail: s(detail),
            },
            Error::Shell { dest, detail } => Error::Shell {
                dest: s(dest),
                detail: s(detail),
            },
            Error::Disconnected { dest, detail } => Error::Disconnected {
                dest: s(dest),
                detail: s(detail),
            },
            Error::Idle { session } => Error::Idle {
                session: s(session),
            },
            Error::ShellLimit {
                dest,
                limit,
                running,
            } => Error::ShellLimit {
                dest: s(dest),
                limit,
                running,
            },
            Error::Io { context, source } => Error::Io {
                context: s(context),
                source: std::io::Error::new(source.kind(), s(source.to_string())),
            },
            Error::Spawn { program, source } => Error::Spawn {
                program,
                source: std::io::Error::new(source.kind(), s(source.to_string())),
            },
            Error::RemoteFile {
                path,
                problem,
                detail,
            } => Error::RemoteFile {
                path: s(path),
                problem,
                detail: s(detail),
            },
            other => other,
        }
    }
}

/// Characters that continue a host name, user name or number: a match next to one of them is
/// part of a longer word and is left alone.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-')
}

/// Occurrences of `word` in `text` that stand alone: not inside a longer name (a `.` counts
/// as inside when a word character follows it, so `db` is not found in `db.example.com` but
/// is in `db.`).
fn standalone(text: &str, word: &str) -> Vec<usize> {
    if word.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(word).map(|i| i + from) {
        let end = i + word.len();
        let before = text[..i].chars().next_back();
        let mut after = text[end..].chars();
        let next = after.next();
        let starts_clean = !before.is_some_and(|c| is_word_char(c) || c == '.');
        let ends_clean = match next {
            None => true,
            Some('.') => !after.next().is_some_and(is_word_char),
            Some(c) => !is_word_char(c),
        };
        if starts_clean && ends_clean {
            out.push(i);
        }
        from = end;
    }
    out
}

fn replace_word(text: &str, word: &str, with: &str) -> String {
    let hits = standalone(text, word);
    if hits.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for i in hits {
        out.push_str(&text[last..i]);
        out.push_str(with);
        last = i + word.len();
    }
    out.push_str(&text[last..]);
    out
}

/// Replaces a host together with what ssh writes around it: `user@`, `[...]`, `:port`,
/// ` port N`, and the `(address)` ssh repeats after a host-key host.
fn replace_host(text: &str, host: &str, alias: &str) -> String {
    let hits = standalone(text, host);
    if hits.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for i in hits {
        if i < last {
            continue;
        }
        let mut start = i;
        let mut end = i + host.len();
        // `[host]:port`
        if text[..start].ends_with('[') && text[end..].starts_with(']') {
            start -= 1;
            end += 1;
        }
        // `user@host`
        let head = &text[last..start];
        if let Some(at) = head.strip_suffix('@') {
            let user_start = at
                .rfind(|c: char| c.is_whitespace() || "'\"(<[,".contains(c))
                .map(|p| p + 1)
                .unwrap_or(0);
            start = last + user_start;
        }
        // `:port`, ` port N`
        let tail = &text[end..];
        let digits = |s: &str| s.chars().take_while(char::is_ascii_digit).count();
        if let Some(rest) = tail.strip_prefix(':') {
            let n = digits(rest);
            if n > 0 {
                end += 1 + n;
            }
        } else if let Some(rest) = tail.strip_prefix(" port ") {
            let n = digits(rest);
            if n > 0 {
                end += 6 + n;
            }
        }
        out.push_str(&text[last..start]);
        out.push_str(alias);
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hidden() -> Shown {
        let s = Shown::alias("prod_db");
        s.hide_raw(
            "10.0.0.5",
            Some("dbadmin"),
            Some("2222"),
            Some("/keys/prod"),
        );
        s
    }

    #[test]
    fn ssh_messages_are_rewritten_to_the_alias() {
        let s = hidden();
        for (text, want) in [
            (
                "ssh: connect to host 10.0.0.5 port 2222: Connection refused",
                "ssh: connect to host prod_db: Connection refused",
            ),
            (
                "The authenticity of host '[10.0.0.5]:2222 ([10.0.0.5]:2222)' can't be established.",
                "The authenticity of host 'prod_db (prod_db)' can't be established.",
            ),
            (
                "dbadmin@10.0.0.5: Permission denied (publickey,password).",
                "prod_db: Permission denied (publickey,password).",
            ),
            ("(dbadmin@10.0.0.5) Password: ", "(prod_db) Password: "),
            (
                "Enter passphrase for key '/keys/prod': ",
                "Enter passphrase for key '(hidden)': ",
            ),
            (
                "Connection closed by 10.0.0.5 port 2222",
                "Connection closed by prod_db",
            ),
            ("Invalid user dbadmin from", "Invalid user (hidden) from"),
            ("ssh -p 2222 ...", "ssh -p (hidden) ..."),
            ("connect to 10.0.0.5.", "connect to prod_db."),
            ("/home/dbadmin/src", "~/src"),
            ("/srv/dbadmin/x", "/srv/(hidden)/x"),
        ] {
            assert_eq!(s.scrub(text), want, "{text}");
        }
    }

    #[test]
    fn longer_words_are_left_alone() {
        let s = hidden();
        for text in [
            "110.0.0.55",
            "10.0.0.50",
            "dbadmins",
            "port 22220",
            "10.0.0.5x",
            "10.0.0.5.example",
        ] {
            assert_eq!(s.scrub(text), text);
        }
    }

    #[test]
    fn resolved_values_are_hidden_too() {
        let s = Shown::alias("web");
        let t = Target::new("web", None, None, None).unwrap();
        let r = Resolved::parse(
            "hostname web-7.internal\nuser deploy\nport 2201\nidentityfile ~/.ssh/web\n",
        )
        .unwrap();
        s.learn(&t, &r);
        assert_eq!(s.label(&t, Some(&r)), "web");
        assert_eq!(
            s.scrub("deploy@web-7.internal: Permission denied; key ~/.ssh/web"),
            "web: Permission denied; key (hidden)"
        );
        let e = s.scrub_error(Error::Connect {
            dest: "web".into(),
            detail: "ssh: connect to host web-7.internal port 2201: Connection refused".into(),
        });
        assert_eq!(
            e.to_string(),
            "could not connect to web: ssh: connect to host web: Connection refused"
        );
    }

    #[test]
    fn plain_destinations_show_everything() {
        let s = Shown::plain("web");
        let t = Target::new("web", Some("bob"), Some(22), None).unwrap();
        assert_eq!(s.label(&t, None), "bob@web:22");
        assert_eq!(s.scrub("bob@web:22"), "bob@web:22");
    }
}
