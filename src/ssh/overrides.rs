//! The Python tool's `OVRD_<alias>_<FIELD>` variables, read once at start-up into secrets.
//!
//! `OVRD_<alias>_HOST/USER/PORT/KEY` say where an alias really goes, `_PASS` is its login
//! password, `_SUDO_PASS` and `_ENABLE_PASS` answer sudo and enable prompts. Lookups are made
//! the Python way, by the variable's full name (`OVRD_{host}_{FIELD}`), so aliases may hold
//! underscores. The server removes the variables from its own environment once read.

use std::collections::HashMap;
use std::fmt;

use crate::secret::Secret;

/// The fields an `OVRD_` variable can set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Host,
    User,
    Port,
    Key,
    Pass,
    SudoPass,
    EnablePass,
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::Host,
        Field::User,
        Field::Port,
        Field::Key,
        Field::Pass,
        Field::SudoPass,
        Field::EnablePass,
    ];

    pub fn suffix(self) -> &'static str {
        match self {
            Field::Host => "HOST",
            Field::User => "USER",
            Field::Port => "PORT",
            Field::Key => "KEY",
            Field::Pass => "PASS",
            Field::SudoPass => "SUDO_PASS",
            Field::EnablePass => "ENABLE_PASS",
        }
    }

    /// The variable's name for `alias`.
    pub fn var(self, alias: &str) -> String {
        format!("OVRD_{alias}_{}", self.suffix())
    }
}

/// Every `OVRD_*` variable, by name, each value held as a [`Secret`].
#[derive(Default, Clone)]
pub struct Overrides {
    vars: HashMap<String, Secret>,
}

impl fmt::Debug for Overrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Overrides({} variables)", self.vars.len())
    }
}

impl Overrides {
    /// Reads every non-empty `OVRD_*` variable of the process environment.
    pub fn from_env() -> Self {
        Self::from_pairs(std::env::vars_os().filter_map(|(k, v)| {
            let k = k.into_string().ok()?;
            let v = v.into_string().ok()?;
            Some((k, v))
        }))
    }

    /// From `(name, value)` pairs; names without the `OVRD_` prefix and empty values are
    /// ignored, values with a line break are refused (named in a warning, never shown).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let vars = pairs
            .into_iter()
            .filter(|(k, _)| crate::secret::is_secret_env(k))
            .filter_map(|(k, v)| match Secret::parse(v) {
                Ok(s) => Some((k, s?)),
                Err(why) => {
                    tracing::warn!(variable = %k, "ignored: {why}");
                    None
                }
            })
            .collect();
        Overrides { vars }
    }

    /// The names read, for removing them from the environment.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.keys().map(String::as_str)
    }

    /// The value of `OVRD_{alias}_{FIELD}`.
    pub fn get(&self, alias: &str, field: Field) -> Option<&Secret> {
        self.vars.get(&field.var(alias))
    }

    /// True when any variable names this alias: it is then shown by its alias only.
    pub fn names_alias(&self, alias: &str) -> bool {
        Field::ALL.iter().any(|f| self.get(alias, *f).is_some())
    }

    /// Removes the variables read from this process's environment, so that no child and no
    /// later reader sees them.
    ///
    /// # Safety
    /// Changing the environment races with any other thread reading it: call this before
    /// any thread is started.
    pub unsafe fn remove_from_env(&self) {
        for name in self.names() {
            // SAFETY: the caller guarantees no other thread runs.
            unsafe { std::env::remove_var(name) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_by_full_name_and_hides_values() {
        let o = Overrides::from_pairs(
            [
                ("OVRD_prod_db_HOST", "10.0.0.5"),
                ("OVRD_prod_db_SUDO_PASS", "s3cret-sudo"),
                ("OVRD_empty_PASS", ""),
                ("OVRD_two_PASS", "a\nb"),
                ("PATH", "/bin"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        assert_eq!(
            o.get("prod_db", Field::Host).map(Secret::expose),
            Some("10.0.0.5")
        );
        assert_eq!(
            o.get("prod_db", Field::SudoPass).map(Secret::expose),
            Some("s3cret-sudo")
        );
        // `OVRD_prod_db_SUDO_PASS` is also `OVRD_{prod_db_SUDO}_PASS`, as in the Python tool.
        assert!(o.get("prod_db_SUDO", Field::Pass).is_some());
        assert!(o.names_alias("prod_db"));
        assert!(!o.names_alias("empty") && !o.names_alias("prod") && !o.names_alias("two"));
        let d = format!("{o:?}");
        assert!(!d.contains("10.0.0.5") && !d.contains("s3cret"), "{d}");
    }
}
