//! Lenient parameter parsing: some MCP clients send integers and booleans as strings
//! (`"30"`, `"true"`), and agents send `""` for "not set". All are accepted.

use serde::{Deserialize, Deserializer, de::Error};

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrText {
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
}

fn to_i64<E: Error>(v: NumOrText, what: &str) -> Result<Option<i64>, E> {
    match v {
        NumOrText::Int(i) => Ok(Some(i)),
        NumOrText::Float(f) if f.fract() == 0.0 => Ok(Some(f as i64)),
        NumOrText::Float(f) => Err(E::custom(format!("{what} must be a whole number, got {f}"))),
        NumOrText::Text(s) if s.trim().is_empty() => Ok(None),
        NumOrText::Text(s) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| E::custom(format!("{what} must be a whole number, got {s:?}"))),
        NumOrText::Bool(_) => Err(E::custom(format!("{what} must be a whole number"))),
    }
}

/// `Option<u16>` from a number, a numeric string, `""` or null (ports).
pub fn opt_port<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    match Option::<NumOrText>::deserialize(d)? {
        None => Ok(None),
        Some(v) => match to_i64::<D::Error>(v, "port")? {
            None => Ok(None),
            Some(p) if (1..=65535).contains(&p) => Ok(Some(p as u16)),
            Some(p) => Err(D::Error::custom(format!("port must be 1-65535, got {p}"))),
        },
    }
}

/// `Option<u64>` from a number, a numeric string, `""` or null; negative values are refused.
pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<NumOrText>::deserialize(d)? {
        None => Ok(None),
        Some(v) => match to_i64::<D::Error>(v, "value")? {
            None => Ok(None),
            Some(n) if n >= 0 => Ok(Some(n as u64)),
            Some(n) => Err(D::Error::custom(format!("must not be negative, got {n}"))),
        },
    }
}

/// `Option<bool>` from a boolean, `"true"`/`"false"`/`"1"`/`"0"`/`"yes"`/`"no"`, `""` or null.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Option::<NumOrText>::deserialize(d)? {
        None => Ok(None),
        Some(NumOrText::Bool(b)) => Ok(Some(b)),
        Some(NumOrText::Int(i)) => Ok(Some(i != 0)),
        Some(NumOrText::Text(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" | "1" | "yes" | "on" => Ok(Some(true)),
            "false" | "0" | "no" | "off" => Ok(Some(false)),
            _ => Err(D::Error::custom(format!(
                "expected true or false, got {s:?}"
            ))),
        },
        Some(NumOrText::Float(_)) => Err(D::Error::custom("expected true or false")),
    }
}

/// Optional strings: `""` counts as absent.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|s| !s.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize, Debug)]
    struct P {
        #[serde(default, deserialize_with = "opt_port")]
        port: Option<u16>,
        #[serde(default, deserialize_with = "opt_u64")]
        timeout: Option<u64>,
        #[serde(default, deserialize_with = "opt_bool")]
        flag: Option<bool>,
        #[serde(default, deserialize_with = "opt_string")]
        user: Option<String>,
    }

    #[test]
    fn accepts_strings_for_numbers_and_booleans() {
        let p: P = serde_json::from_value(
            json!({"port": "2222", "timeout": "30", "flag": "true", "user": ""}),
        )
        .unwrap();
        assert_eq!(
            (p.port, p.timeout, p.flag, p.user),
            (Some(2222), Some(30), Some(true), None)
        );
        let p: P =
            serde_json::from_value(json!({"port": 22, "timeout": 5.0, "flag": false})).unwrap();
        assert_eq!(
            (p.port, p.timeout, p.flag),
            (Some(22), Some(5), Some(false))
        );
        let p: P = serde_json::from_value(json!({"port": null, "timeout": ""})).unwrap();
        assert_eq!((p.port, p.timeout), (None, None));
    }

    #[test]
    fn refuses_nonsense() {
        assert!(serde_json::from_value::<P>(json!({"port": 70000})).is_err());
        assert!(serde_json::from_value::<P>(json!({"port": "abc"})).is_err());
        assert!(serde_json::from_value::<P>(json!({"timeout": -1})).is_err());
        assert!(serde_json::from_value::<P>(json!({"flag": "maybe"})).is_err());
    }
}
