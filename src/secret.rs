//! Secrets (passwords, passphrases) that must never reach logs, argv, child environments or tool output.

use std::fmt;

/// A secret string. `Debug` and `Display` never show it; only [`Secret::expose`] does, at the one
/// place where it is typed into a terminal.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value; empty strings count as "no secret" (agents often send `""` for unset fields).
    pub fn new(value: impl Into<String>) -> Option<Self> {
        let value = value.into();
        (!value.is_empty()).then_some(Secret(value))
    }

    /// The clear text, for writing to a PTY prompt only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Replaces every occurrence of the given secrets in `text` with `***`.
///
/// A belt-and-braces pass over output: typed secrets are not echoed (the shell runs with `stty -echo`
/// and password prompts turn echo off), but a misbehaving program could still print one.
pub fn redact(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        // Very short secrets would blank out ordinary words; 4 characters is the smallest we hide.
        if s.0.chars().count() >= 4 && out.contains(&s.0) {
            out = out.replace(&s.0, "***");
        }
    }
    out
}

/// [`redact`] for a line that is still being written: a secret may be only partly there, so
/// a trailing piece that starts a secret is masked too.
pub fn redact_partial(text: &str, secrets: &[&Secret]) -> String {
    let mut out = redact(text, secrets);
    for s in secrets {
        let secret = s.0.as_str();
        if secret.chars().count() < 4 {
            continue;
        }
        // The longest proper prefix of the secret (3 chars or more) that ends the line.
        let cut = (3..secret.len())
            .rev()
            .filter(|n| secret.is_char_boundary(*n))
            .find(|n| out.ends_with(&secret[..*n]));
        if let Some(n) = cut {
            let keep = out.len() - n;
            out.truncate(keep);
            out.push_str("***");
        }
    }
    out
}

/// Environment variables that carry secrets by convention of the Python mcp-ssh-session
/// (`OVRD_<host>_PASS`, `..._SUDO_PASS`, ...). They are removed from every child's environment.
pub fn is_secret_env(name: &str) -> bool {
    name.starts_with("OVRD_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("hunter22").unwrap();
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        assert_eq!(s.expose(), "hunter22");
        assert!(Secret::new("").is_none());
    }

    #[test]
    fn a_secret_still_being_printed_is_masked_from_its_start() {
        let s = Secret::new("hunter22").unwrap();
        assert_eq!(redact_partial("pw: hunt", &[&s]), "pw: ***");
        assert_eq!(
            redact_partial("pw: hunter22 and hun", &[&s]),
            "pw: *** and ***"
        );
        assert_eq!(redact_partial("a hu", &[&s]), "a hu");
        assert_eq!(redact_partial("nothing", &[&s]), "nothing");
    }

    #[test]
    fn redact_replaces_all_occurrences() {
        let s = Secret::new("hunter22").unwrap();
        assert_eq!(
            redact("a hunter22 b hunter22", &[&s]),
            "a *** b ***".to_string()
        );
        let short = Secret::new("ab").unwrap();
        assert_eq!(redact("abc", &[&short]), "abc");
    }
}
