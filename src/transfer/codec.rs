//! Text encodings for read_file and write_file, with the Python tool's `encoding` and
//! `errors` parameters and its messages (`'utf-8' codec can't decode byte 0xff in
//! position 3: invalid start byte`). Binary files go through download_file/upload_file.

/// A supported encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Utf8,
    Ascii,
    Latin1,
}

/// What to do with bytes (or characters) the encoding cannot represent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    Strict,
    Replace,
    Ignore,
    BackslashReplace,
}

impl Codec {
    pub fn parse(name: &str) -> Result<Codec, String> {
        let n = name.trim().to_ascii_lowercase().replace('_', "-");
        match n.as_str() {
            "utf-8" | "utf8" | "u8" | "utf" | "cp65001" => Ok(Codec::Utf8),
            "ascii" | "us-ascii" | "646" => Ok(Codec::Ascii),
            "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "8859" | "l1" | "cp819" => {
                Ok(Codec::Latin1)
            }
            _ => Err(format!(
                "unknown encoding: {name} (supported: utf-8, ascii, latin-1; use download_file for binary files)"
            )),
        }
    }

    /// The Python codec name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Utf8 => "utf-8",
            Codec::Ascii => "ascii",
            Codec::Latin1 => "latin-1",
        }
    }
}

impl OnError {
    pub fn parse(name: &str) -> Result<OnError, String> {
        match name.trim() {
            "strict" => Ok(OnError::Strict),
            "replace" => Ok(OnError::Replace),
            "ignore" => Ok(OnError::Ignore),
            "backslashreplace" => Ok(OnError::BackslashReplace),
            other => Err(format!(
                "unknown error handler name '{other}' (supported: strict, replace, ignore, backslashreplace)"
            )),
        }
    }
}

/// Bytes to text. Err holds the Python-style reason.
pub fn decode(bytes: &[u8], codec: Codec, on_error: OnError) -> Result<String, String> {
    match codec {
        Codec::Latin1 => Ok(bytes.iter().map(|&b| b as char).collect()),
        Codec::Ascii => {
            let mut out = String::with_capacity(bytes.len());
            for (i, &b) in bytes.iter().enumerate() {
                if b.is_ascii() {
                    out.push(b as char);
                } else {
                    match on_error {
                        OnError::Strict => {
                            return Err(format!(
                                "'ascii' codec can't decode byte {b:#04x} in position {i}: ordinal not in range(128)"
                            ));
                        }
                        OnError::Replace => out.push('\u{fffd}'),
                        OnError::Ignore => {}
                        OnError::BackslashReplace => out.push_str(&format!("\\x{b:02x}")),
                    }
                }
            }
            Ok(out)
        }
        Codec::Utf8 => {
            let mut out = String::with_capacity(bytes.len());
            let mut rest = bytes;
            let mut offset = 0;
            loop {
                match std::str::from_utf8(rest) {
                    Ok(s) => {
                        out.push_str(s);
                        return Ok(out);
                    }
                    Err(e) => {
                        let good = e.valid_up_to();
                        out.push_str(std::str::from_utf8(&rest[..good]).expect("valid prefix"));
                        let bad_len = e.error_len().unwrap_or(rest.len() - good);
                        let bad = &rest[good..good + bad_len];
                        match on_error {
                            OnError::Strict => {
                                let reason = if e.error_len().is_none() {
                                    "unexpected end of data"
                                } else if bad[0] < 0xc2 || bad[0] > 0xf4 {
                                    "invalid start byte"
                                } else {
                                    "invalid continuation byte"
                                };
                                return Err(format!(
                                    "'utf-8' codec can't decode byte {:#04x} in position {}: {reason}",
                                    bad[0],
                                    offset + good
                                ));
                            }
                            OnError::Replace => out.push('\u{fffd}'),
                            OnError::Ignore => {}
                            OnError::BackslashReplace => {
                                for b in bad {
                                    out.push_str(&format!("\\x{b:02x}"));
                                }
                            }
                        }
                        offset += good + bad_len;
                        rest = &rest[good + bad_len..];
                    }
                }
            }
        }
    }
}

/// Text to bytes. Err holds the Python-style reason.
pub fn encode(text: &str, codec: Codec, on_error: OnError) -> Result<Vec<u8>, String> {
    let limit = match codec {
        Codec::Utf8 => return Ok(text.as_bytes().to_vec()),
        Codec::Ascii => 0x80,
        Codec::Latin1 => 0x100,
    };
    let mut out = Vec::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        let v = c as u32;
        if v < limit {
            out.push(v as u8);
            continue;
        }
        match on_error {
            OnError::Strict => {
                return Err(format!(
                    "'{}' codec can't encode character '\\u{{{v:04x}}}' in position {i}: ordinal not in range({limit})",
                    codec.name()
                ));
            }
            OnError::Replace => out.push(b'?'),
            OnError::Ignore => {}
            OnError::BackslashReplace => {
                let esc = if v <= 0xff {
                    format!("\\x{v:02x}")
                } else if v <= 0xffff {
                    format!("\\u{v:04x}")
                } else {
                    format!("\\U{v:08x}")
                };
                out.extend_from_slice(esc.as_bytes());
            }
        }
    }
    Ok(out)
}

/// The longest prefix of `bytes` (at most `limit`) that does not end inside a UTF-8
/// character, so that a truncated read ends cleanly and the next offset starts on a
/// character. Gives `limit` when the cut is not inside a valid character.
pub fn utf8_cut(bytes: &[u8], limit: usize) -> usize {
    if limit >= bytes.len() {
        return bytes.len();
    }
    // bytes[limit] is the first byte left out; step back over continuation bytes to the
    // lead byte of the character it belongs to.
    let mut i = limit;
    while i > 0 && limit - i < 3 && bytes[i] & 0xc0 == 0x80 {
        i -= 1;
    }
    let len = match bytes[i] {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 0,
    };
    let straddles = i < limit && i + len > limit;
    if straddles
        && bytes
            .get(i..i + len)
            .is_some_and(|c| std::str::from_utf8(c).is_ok())
    {
        i
    } else {
        limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_python() {
        let b = b"ab\xffc\xc3\xa9";
        assert_eq!(
            decode(b, Codec::Utf8, OnError::Replace).unwrap(),
            "ab\u{fffd}cé"
        );
        assert_eq!(decode(b, Codec::Utf8, OnError::Ignore).unwrap(), "abcé");
        assert_eq!(
            decode(b, Codec::Utf8, OnError::BackslashReplace).unwrap(),
            "ab\\xffcé"
        );
        assert_eq!(
            decode(b, Codec::Utf8, OnError::Strict).unwrap_err(),
            "'utf-8' codec can't decode byte 0xff in position 2: invalid start byte"
        );
        assert_eq!(
            decode(b"ok\xc3", Codec::Utf8, OnError::Strict).unwrap_err(),
            "'utf-8' codec can't decode byte 0xc3 in position 2: unexpected end of data"
        );
        assert_eq!(
            decode(b"\xe9", Codec::Latin1, OnError::Strict).unwrap(),
            "é"
        );
        assert!(decode(b"\xe9", Codec::Ascii, OnError::Strict).is_err());
    }

    #[test]
    fn encodes_like_python() {
        assert_eq!(
            encode("é", Codec::Latin1, OnError::Strict).unwrap(),
            b"\xe9"
        );
        assert_eq!(
            encode("aé", Codec::Ascii, OnError::Strict).unwrap_err(),
            "'ascii' codec can't encode character '\\u{00e9}' in position 1: ordinal not in range(128)"
        );
        assert_eq!(encode("aé", Codec::Ascii, OnError::Replace).unwrap(), b"a?");
        assert_eq!(
            encode("é\r\n", Codec::Utf8, OnError::Strict).unwrap(),
            "é\r\n".as_bytes()
        );
    }

    #[test]
    fn names_and_handlers() {
        assert_eq!(Codec::parse("UTF_8").unwrap(), Codec::Utf8);
        assert_eq!(Codec::parse("ISO-8859-1").unwrap(), Codec::Latin1);
        assert!(Codec::parse("utf-16").is_err());
        assert!(OnError::parse("surrogateescape").is_err());
    }

    #[test]
    fn cuts_on_character_boundaries() {
        let s = "aé日x".as_bytes(); // a, c3 a9, e6 97 a5, x
        assert_eq!(utf8_cut(s, 2), 1);
        assert_eq!(utf8_cut(s, 3), 3);
        assert_eq!(utf8_cut(s, 4), 3);
        assert_eq!(utf8_cut(s, 5), 3);
        assert_eq!(utf8_cut(s, 6), 6);
        assert_eq!(utf8_cut(s, 100), s.len());
        // Not UTF-8: cut where asked.
        assert_eq!(utf8_cut(b"\x80\x80\x80\x80", 2), 2);
    }
}
