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
        validate_word("host", host, HOST_METACHARACTERS)?;
        let user = match user.filter(|u| !u.is_empty()) {
            Some(u) => {
                validate_word("username", u, USER_METACHARACTERS)?;
                // As in OpenSSH: a trailing backslash would escape whatever follows `%r`.
                if u.ends_with('\\') {
                    return Err(Error::invalid(
                        "username",
                        format!("{u:?} ends with a backslash, which OpenSSH refuses"),
                    ));
                }
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

/// The host part of a destination as ssh reads it: `user@host` is `host` (ssh splits at the
/// last `@`), `ssh://user@host:port/` is `host`. What a policy's host list is matched against:
/// `web-1@evil.example` goes to `evil.example`, whatever its user part looks like.
pub fn host_part(destination: &str) -> &str {
    let (rest, uri) = match destination.strip_prefix("ssh://") {
        Some(r) => (r.trim_end_matches('/'), true),
        None => (destination, false),
    };
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    if !uri {
        return host;
    }
    match host.strip_prefix('[') {
        // `ssh://[::1]:22`
        Some(v6) => v6.split_once(']').map_or(v6, |(h, _)| h),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    }
}

/// Hosts and users reach ssh's argv; one starting with `-` would be parsed as an option
/// (`-oProxyCommand=...` runs a command), and whitespace or control characters have no business there.
/// On top of that, OpenSSH's own rules (`valid_hostname`, `valid_ruser` in its misc.c, enforced
/// by ssh itself only since 9.6): the names end up in `%h`/`%r` of a user's `ProxyCommand`
/// or `Match exec`, which a shell runs, so shell metacharacters could run a command there.
fn validate_word(what: &'static str, value: &str, forbidden: &str) -> Result<()> {
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
    if let Some(c) = value.chars().find(|c| forbidden.contains(*c)) {
        return Err(Error::invalid(
            what,
            format!(
                "{value:?} contains {c:?}; shell metacharacters ({forbidden}) are refused, as OpenSSH 9.6 and later refuse them, because ssh would hand them to a shell in a ProxyCommand or Match exec"
            ),
        ));
    }
    Ok(())
}

/// Characters OpenSSH's `valid_hostname` refuses (besides whitespace and control characters).
const HOST_METACHARACTERS: &str = "'`\"$\\;&<>|(){},";
/// Characters OpenSSH's `valid_ruser` refuses: a user name may hold `$` and `\`
/// (`DOMAIN\user`, `host$` machine accounts).
const USER_METACHARACTERS: &str = "'`\";&<>|(){}";

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
pub(crate) mod tests {
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
    fn refuses_shell_metacharacters_as_openssh_does() {
        for c in "'`\"$\\;&<>|(){},".chars() {
            let host = format!("a{c}b");
            let err = Target::new(&host, None, None, None).expect_err(&host);
            assert!(err.to_string().starts_with("invalid host"), "{err}");
        }
        for host in [
            "a$(touch${IFS}x)",
            "a`id`",
            "x|id",
            "x&id",
            "x;id",
            "[::1];id",
        ] {
            assert!(Target::new(host, None, None, None).is_err(), "{host}");
        }
        for c in "'`\";&<>|(){}".chars() {
            let user = format!("u{c}v");
            let err = Target::new("h", Some(&user), None, None).expect_err(&user);
            assert!(err.to_string().starts_with("invalid username"), "{err}");
        }
        assert!(Target::new("h", Some("user\\"), None, None).is_err());
    }

    #[test]
    fn keeps_ipv6_literals_and_names_openssh_accepts() {
        for host in [
            "[::1]",
            "::1",
            "fe80::1%eth0",
            "[fe80::1%eth0]",
            "2001:db8::42",
            "192.168.1.10",
            "web_1.example.com",
            "my-alias",
            "host.local.",
            "xn--bcher-kva.example",
        ] {
            assert!(Target::new(host, None, None, None).is_ok(), "{host}");
        }
        for user in [
            "deploy",
            "DOMAIN\\alice",
            "machine$",
            "first.last@corp",
            "a_b-c",
        ] {
            assert!(Target::new("h", Some(user), None, None).is_ok(), "{user}");
        }
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

    use proptest::prelude::*;

    /// Strings rich in what could smuggle an option or a second word: dashes, `=`, spaces,
    /// tabs, newlines, other control characters, quotes, NUL and non-ASCII.
    pub(crate) fn nasty() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[-=a-z0-9 \\t\\n\\r\\x00-\\x1f\\x7f'\"\\\\;|&$`@:\\[\\]. é\\u{2028}\\u{85}\\u{a0}]{0,24}",
            "-[a-zA-Z]{1,3}.*",
        ]
    }

    proptest! {
        #[test]
        fn accepted_words_can_never_be_options_or_two_words(
            host in nasty(), user in nasty(), key in nasty(), port in any::<u16>()
        ) {
            if let Ok(t) = Target::new(&host, Some(&user), Some(port), Some(&key)) {
                for w in std::iter::once(&t.host).chain(t.user.iter()) {
                    prop_assert!(!w.is_empty() && !w.starts_with('-'), "{w:?}");
                    prop_assert!(!w.chars().any(|c| c.is_whitespace() || c.is_control()), "{w:?}");
                }
                prop_assert!(t.port != Some(0));
                if let Some(k) = &t.identity {
                    prop_assert!(!k.to_string_lossy().chars().any(char::is_control), "{k:?}");
                }
            } else {
                // Refused only for a reason the rules name.
                let bad = |w: &str| w.is_empty() || w.starts_with('-') || w.len() > 255
                    || w.chars().any(|c| c.is_whitespace() || c.is_control())
                    // OpenSSH's own refusals (valid_hostname / valid_ruser).
                    || w.chars().any(|c| "'`\"$\\;&<>|(){},".contains(c));
                prop_assert!(
                    bad(&host) || (!user.is_empty() && bad(&user)) || port == 0
                        || key.chars().any(char::is_control),
                    "refused without a reason: {host:?} {user:?} {port} {key:?}"
                );
            }
        }
    }

    #[test]
    fn the_host_part_is_what_ssh_connects_to() {
        for (named, host) in [
            ("web-1", "web-1"),
            ("web-1@evil.example", "evil.example"),
            ("a@b@c", "c"),
            ("ssh://u@evil.example:2222/", "evil.example"),
            ("ssh://evil.example", "evil.example"),
            ("ssh://u@[::1]:22", "::1"),
            ("::1", "::1"),
        ] {
            assert_eq!(host_part(named), host, "{named}");
        }
    }
}
