//! Secrets (passwords, passphrases, `OVRD_*` values) that must never reach logs, argv, child
//! environments, files or tool output.
//!
//! A [`Secret`] lives in a zeroizing buffer: its bytes are overwritten when the last copy is
//! dropped. It has no `Debug` or `Display` that shows it, no `Serialize`, and tool arguments are
//! deserialized straight into it ([`opt_secret`]), so no plain `String` copy of ours outlives
//! the parse. (The JSON-RPC layer's own copy of the request is rmcp's and is not wiped.)

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

/// A secret string. Only [`Secret::expose`] shows it, at the one place where it is typed into
/// a terminal.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a value; empty strings count as "no secret" (agents often send `""` for unset fields).
    pub fn new(value: impl Into<String>) -> Option<Self> {
        let value = Zeroizing::new(value.into());
        (!value.is_empty()).then_some(Secret(value))
    }

    /// A secret from outside (a tool argument, an environment variable): empty means none,
    /// and a line break is refused, because typed at a prompt it would end the answer and
    /// turn the rest into input for whatever reads next (a shell).
    pub fn parse(value: impl Into<String>) -> Result<Option<Self>, &'static str> {
        let value = Zeroizing::new(value.into());
        if value.contains(['\n', '\r']) {
            return Err(
                "a secret cannot contain a line break (it is typed at a prompt, where Enter ends it)",
            );
        }
        Ok((!value.is_empty()).then(|| Secret(value)))
    }

    /// The clear text, for writing to a PTY prompt only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        // Equal lengths first, then every byte: no early exit that depends on the content.
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl Eq for Secret {}

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

impl<'de> Deserialize<'de> for Secret {
    /// A JSON string, read into the zeroizing buffer. An empty string is refused here;
    /// optional fields use [`opt_secret`], where `""` means "not given".
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_string(SecretVisitor)?
            .ok_or_else(|| serde::de::Error::custom("the secret is empty"))
    }
}

struct SecretVisitor;

impl serde::de::Visitor<'_> for SecretVisitor {
    type Value = Option<Secret>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Secret::parse(v).map_err(E::custom)
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        // Moved, not copied: the buffer that held the value is the one wiped on drop.
        Secret::parse(v).map_err(E::custom)
    }
}

/// `Option<Secret>` from a string, `""` or null (tool parameters such as `password`).
pub fn opt_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    struct OptVisitor;
    impl<'de> serde::de::Visitor<'de> for OptVisitor {
        type Value = Option<Secret>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string or null")
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_string(SecretVisitor)
        }
    }
    d.deserialize_option(OptVisitor)
}

impl schemars::JsonSchema for Secret {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string"})
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
        if s.0.chars().count() >= 4 && out.contains(s.0.as_str()) {
            out = out.replace(s.0.as_str(), "***");
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
        assert_eq!(s, Secret::new("hunter22").unwrap());
        assert_ne!(s, Secret::new("hunter23").unwrap());
        assert_ne!(s, Secret::new("hunter2").unwrap());
    }

    #[test]
    fn parsed_from_json_without_showing_it() {
        #[derive(Deserialize, Debug)]
        struct P {
            #[serde(default, deserialize_with = "opt_secret")]
            password: Option<Secret>,
        }
        let p: P = serde_json::from_str(r#"{"password": "pw-123"}"#).unwrap();
        assert_eq!(p.password.as_ref().map(Secret::expose), Some("pw-123"));
        assert!(!format!("{p:?}").contains("pw-123"));
        for empty in [r#"{"password": ""}"#, r#"{"password": null}"#, "{}"] {
            let p: P = serde_json::from_str(empty).unwrap();
            assert!(p.password.is_none(), "{empty}");
        }
        let e = serde_json::from_str::<P>(r#"{"password": 5}"#).unwrap_err();
        assert!(e.to_string().contains("a string"), "{e}");
        let e = serde_json::from_str::<P>(r#"{"password": "pw\nrm -rf ~"}"#).unwrap_err();
        assert!(e.to_string().contains("line break"), "{e}");
        let s: Secret = serde_json::from_value(serde_json::json!("x1")).unwrap();
        assert_eq!(s.expose(), "x1");
    }

    #[test]
    fn the_buffer_is_wiped_on_drop() {
        // Zeroizing overwrites the String's bytes before freeing them; check it on the buffer
        // itself through a Zeroizing of our own, then that Secret uses the same type.
        let mut z = Zeroizing::new(String::from("wipe-me"));
        let ptr = z.as_ptr();
        let len = z.len();
        zeroize::Zeroize::zeroize(&mut *z);
        assert!(z.is_empty());
        // SAFETY: zeroize clears the String's length but keeps its allocation, which `z` still owns.
        let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
        assert!(bytes.iter().all(|b| *b == 0), "{bytes:?}");
        let s = Secret::new("x").unwrap();
        let _: &Zeroizing<String> = &s.0;
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
