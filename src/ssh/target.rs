//! A destination as the caller named it, validated so it can never become an ssh option.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// Host, user, port and key as given by the caller (after `OVRD_` overrides); ssh's own
/// configuration fills in the rest when it resolves them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    pub host: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity: Option<PathBuf>,
}

impl Target {
    /// Validates every field. Empty optional strings count as absent (agents send `""`).
    pub fn new(
        host: &str,
        user: Option<&str>,
        port: Option<u16>,
        identity: Option<&str>,
    ) -> Result<Self> {
        validate_word("host", host)?;
        let user = match user.filter(|u| !u.is_empty()) {
            Some(u) => {
                validate_word("username", u)?;
                Some(u.to_string())
            }
            None => None,
        };
        if port == Some(0) {
            return Err(Error::invalid("port", "0 is not a port; use 1-65535"));
        }
        let identity = match identity.filter(|k| !k.is_empty()) {
            Some(k) => {
                if k.chars().any(char::is_control) {
                    return Err(Error::invalid(
                        "key_filename",
                        "it contains control characters",
                    ));
                }
                Some(expand_tilde(k))
            }
            None => None,
        };
        Ok(Target {
            host: host.to_string(),
            user,
            port,
            identity,
        })
    }
}

/// Hosts and users reach ssh's argv; one starting with `-` would be parsed as an option
/// (`-oProxyCommand=...` runs a command), and whitespace or control characters have no business there.
fn validate_word(what: &'static str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(what, "it is empty"));
    }
    if value.starts_with('-') {
        return Err(Error::invalid(
            what,
            format!("{value:?} starts with '-', which ssh would read as an option"),
        ));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(
            what,
            format!("{value:?} contains whitespace or control characters"),
        ));
    }
    if value.len() > 255 {
        return Err(Error::invalid(what, "it is longer than 255 bytes"));
    }
    Ok(())
}

fn expand_tilde(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(rest),
            None => PathBuf::from(path),
        },
        None => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_option_like_and_odd_hosts() {
        for bad in [
            "-oProxyCommand=touch /tmp/x",
            "-v",
            "a b",
            "a\tb",
            "a\nb",
            "",
            "x\u{7}",
        ] {
            assert!(Target::new(bad, None, None, None).is_err(), "{bad:?}");
            assert!(Target::new("ok", Some(bad), None, None).is_err() || bad.is_empty());
        }
        assert!(Target::new("h", None, Some(0), None).is_err());
    }

    #[test]
    fn accepts_normal_destinations() {
        let t = Target::new("web-1.example.com", Some("deploy"), Some(2222), Some("")).unwrap();
        assert_eq!(t.user.as_deref(), Some("deploy"));
        assert_eq!(t.identity, None);
        assert!(Target::new("[::1]", None, None, None).is_ok());
        assert!(
            Target::new("10.0.0.1", Some(""), None, None)
                .unwrap()
                .user
                .is_none()
        );
    }
}
