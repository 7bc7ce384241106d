//! Quoting what we type for the terminal's line discipline.
//!
//! A remote shell we drive reads its input in canonical mode, where the kernel acts on control
//! bytes (Ctrl-C interrupts, Ctrl-U kills the line, Ctrl-D ends input, DEL erases). To pass
//! such a byte through literally, it is preceded by VLNEXT (Ctrl-V), which makes the next byte
//! literal. Line feeds and tabs are left alone: they are how lines end and what they contain.

/// The "literal next" control character (Ctrl-V).
pub const VLNEXT: u8 = 0x16;
/// The "kill line" control character (Ctrl-U): discards what is typed on the current line.
pub const VKILL: u8 = 0x15;

/// Bytes the line discipline would act on.
pub fn is_tty_special(b: u8) -> bool {
    (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f
}

/// Pushes `c`, quoting terminal control characters with VLNEXT.
pub fn push_literal(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    let bytes = c.encode_utf8(&mut buf).as_bytes();
    if bytes.len() == 1 && is_tty_special(bytes[0]) {
        out.push(VLNEXT);
    }
    out.extend_from_slice(bytes);
}

/// `s` with terminal control characters quoted.
pub fn literal_bytes(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 2);
    for c in s.chars() {
        push_literal(&mut out, c);
    }
    out
}

/// What to type to answer a secret prompt: the secret, quoted, then Enter.
pub fn secret_answer(secret: &str) -> Vec<u8> {
    let mut bytes = literal_bytes(secret);
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes_are_quoted_and_text_is_not() {
        assert_eq!(literal_bytes("p\u{4}w"), b"p\x16\x04w");
        assert_eq!(
            literal_bytes("a\u{3}\u{15}\u{7f}b"),
            b"a\x16\x03\x16\x15\x16\x7fb"
        );
        assert_eq!(literal_bytes("tab\tnew\nline"), b"tab\tnew\nline");
        assert_eq!(literal_bytes("héllo ✓"), "héllo ✓".as_bytes());
        assert_eq!(secret_answer("pw\u{3}"), b"pw\x16\x03\n");
    }

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_typed_secret_is_one_line_of_exactly_that_text(secret in any::<String>()) {
            // Secrets never hold a line break (the `Secret` parsers refuse one): the Enter
            // typed after it is the only line end.
            prop_assume!(!secret.contains('\n'));
            let bytes = secret_answer(&secret);
            let mut read = Vec::new();
            let mut it = bytes.iter();
            while let Some(&b) = it.next() {
                if b == VLNEXT {
                    read.push(*it.next().expect("VLNEXT is never last"));
                } else {
                    prop_assert!(!is_tty_special(b), "unquoted special byte {b:#x}");
                    read.push(b);
                }
            }
            let mut want = secret.into_bytes();
            want.push(b'\n');
            prop_assert_eq!(read, want);
        }
    }
}
