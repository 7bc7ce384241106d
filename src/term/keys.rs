//! Key strings for `send_keys`: text with `<token>`s (`<esc>:wq<enter>`, `<ctrl-c>`, `<up>`)
//! turned into the bytes a terminal (xterm) sends for those keys.

/// The bytes to send, and the `<...>` tokens that were not recognized (sent literally).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Keys {
    pub bytes: Vec<u8>,
    pub unknown: Vec<String>,
}

/// Longest token name looked at; longer `<...>` runs are text.
const MAX_TOKEN: usize = 16;

/// Parses `input`. `application_cursor` is the terminal's DECCKM mode (`ESC[?1h`), in which
/// arrow, Home and End keys are sent as `ESC O x` instead of `ESC [ x`.
///
/// A newline in the text is sent as CR, like Enter (and like a terminal pasting text).
pub fn parse_keys(input: &str, application_cursor: bool) -> Keys {
    let mut keys = Keys::default();
    let mut rest = input;
    while let Some(lt) = rest.find('<') {
        push_text(&mut keys.bytes, &rest[..lt]);
        let after = &rest[lt + 1..];
        // A token is `<name>` with no space or `<` inside (so `a < b` and `a<b` stay text).
        let end = after
            .char_indices()
            .take(MAX_TOKEN + 1)
            .find(|&(_, c)| c == '>' || c == '<' || c.is_whitespace())
            .filter(|&(i, c)| c == '>' && i > 0)
            .map(|(i, _)| i);
        match end {
            Some(end) => {
                let name = &after[..end];
                match key_bytes(&name.to_ascii_lowercase(), application_cursor) {
                    Some(bytes) => keys.bytes.extend_from_slice(&bytes),
                    None => {
                        keys.unknown.push(format!("<{name}>"));
                        push_text(&mut keys.bytes, &format!("<{name}>"));
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                keys.bytes.push(b'<');
                rest = after;
            }
        }
    }
    push_text(&mut keys.bytes, rest);
    keys
}

fn push_text(out: &mut Vec<u8>, text: &str) {
    for b in text.bytes() {
        out.push(if b == b'\n' { b'\r' } else { b });
    }
}

/// The bytes of a key token (lower-case name, without the angle brackets).
fn key_bytes(name: &str, app_cursor: bool) -> Option<Vec<u8>> {
    let csi = |s: &str| [b"\x1b[".as_slice(), s.as_bytes()].concat();
    let ss3 = |s: &str| [b"\x1bO".as_slice(), s.as_bytes()].concat();
    // Cursor keys follow DECCKM.
    let cursor = |c: &str| if app_cursor { ss3(c) } else { csi(c) };
    let bytes = match name {
        "enter" | "return" | "cr" => b"\r".to_vec(),
        "esc" | "escape" => b"\x1b".to_vec(),
        "tab" => b"\t".to_vec(),
        "s-tab" | "shift-tab" | "backtab" => csi("Z"),
        "backspace" | "bs" => vec![0x7f],
        "space" => b" ".to_vec(),
        "lt" => b"<".to_vec(),
        "up" => cursor("A"),
        "down" => cursor("B"),
        "right" => cursor("C"),
        "left" => cursor("D"),
        "home" => cursor("H"),
        "end" => cursor("F"),
        "pgup" | "pageup" => csi("5~"),
        "pgdn" | "pagedown" => csi("6~"),
        "insert" | "ins" => csi("2~"),
        "delete" | "del" => csi("3~"),
        "f1" => ss3("P"),
        "f2" => ss3("Q"),
        "f3" => ss3("R"),
        "f4" => ss3("S"),
        "f5" => csi("15~"),
        "f6" => csi("17~"),
        "f7" => csi("18~"),
        "f8" => csi("19~"),
        "f9" => csi("20~"),
        "f10" => csi("21~"),
        "f11" => csi("23~"),
        "f12" => csi("24~"),
        _ => return modified(name),
    };
    Some(bytes)
}

/// `ctrl-x` (also `ctrl+x`, `c-x`) and `alt-x` (also `alt+x`, `m-x`, `meta-x`).
fn modified(name: &str) -> Option<Vec<u8>> {
    let one = |s: &str| {
        let mut it = s.chars();
        match (it.next(), it.next()) {
            (Some(c), None) => Some(c),
            _ => None,
        }
    };
    for prefix in ["ctrl-", "ctrl+", "c-"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            let b = match (rest, one(rest)) {
                ("space", _) => 0,
                (_, Some(c @ 'a'..='z')) => c as u8 & 0x1f,
                (_, Some(c @ ('@' | '[' | '\\' | ']' | '^' | '_'))) => c as u8 & 0x1f,
                (_, Some('?')) => 0x7f,
                _ => return None,
            };
            return Some(vec![b]);
        }
    }
    for prefix in ["alt-", "alt+", "m-", "meta-"] {
        if let Some(c) = name.strip_prefix(prefix).and_then(one)
            && c.is_ascii_graphic()
        {
            return Some(vec![0x1b, c as u8]);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(s: &str) -> Vec<u8> {
        let k = parse_keys(s, false);
        assert!(k.unknown.is_empty(), "{s}: unknown {:?}", k.unknown);
        k.bytes
    }

    #[test]
    fn text_and_named_keys() {
        assert_eq!(bytes("q"), b"q");
        assert_eq!(bytes("ihello<esc>:wq<enter>"), b"ihello\x1b:wq\r");
        assert_eq!(bytes("<ENTER><Return><Escape><TAB><space>"), b"\r\r\x1b\t ");
        assert_eq!(
            bytes("<backspace><bs><del><delete><insert>"),
            b"\x7f\x7f\x1b[3~\x1b[3~\x1b[2~"
        );
        assert_eq!(
            bytes("<pgup><pageup><pgdn><PageDown>"),
            b"\x1b[5~\x1b[5~\x1b[6~\x1b[6~"
        );
        assert_eq!(bytes("<s-tab>"), b"\x1b[Z");
        assert_eq!(bytes("line one\nline two"), b"line one\rline two");
        assert_eq!(bytes("<lt>enter>"), b"<enter>");
    }

    #[test]
    fn control_and_alt_keys() {
        assert_eq!(
            bytes("<ctrl-c><Ctrl-D><CTRL-z><c-x><ctrl+a>"),
            b"\x03\x04\x1a\x18\x01"
        );
        assert_eq!(
            bytes("<ctrl-[><ctrl-\\><ctrl-]><ctrl-^><ctrl-_>"),
            b"\x1b\x1c\x1d\x1e\x1f"
        );
        assert_eq!(bytes("<ctrl-@><ctrl-space><ctrl-?>"), b"\x00\x00\x7f");
        assert_eq!(bytes("<alt-x><m-.>"), b"\x1bx\x1b.");
    }

    #[test]
    fn function_keys() {
        let all: Vec<u8> = (1..=12).flat_map(|n| bytes(&format!("<f{n}>"))).collect();
        assert_eq!(
            all,
            b"\x1bOP\x1bOQ\x1bOR\x1bOS\x1b[15~\x1b[17~\x1b[18~\x1b[19~\x1b[20~\x1b[21~\x1b[23~\x1b[24~"
        );
        assert_eq!(parse_keys("<f13>", false).unknown, ["<f13>"]);
    }

    #[test]
    fn cursor_keys_follow_application_cursor_mode() {
        let keys = "<up><down><right><left><home><end>";
        assert_eq!(
            parse_keys(keys, false).bytes,
            b"\x1b[A\x1b[B\x1b[C\x1b[D\x1b[H\x1b[F"
        );
        assert_eq!(
            parse_keys(keys, true).bytes,
            b"\x1bOA\x1bOB\x1bOC\x1bOD\x1bOH\x1bOF"
        );
        // Other keys do not change with the mode.
        assert_eq!(parse_keys("<pgup><f5>", true).bytes, b"\x1b[5~\x1b[15~");
    }

    #[test]
    fn unknown_tokens_are_sent_literally_and_reported() {
        let k = parse_keys("<html>x<ctrl-1><Foo>", false);
        assert_eq!(k.bytes, b"<html>x<ctrl-1><Foo>");
        assert_eq!(k.unknown, ["<html>", "<ctrl-1>", "<Foo>"]);
    }

    #[test]
    fn stray_angle_brackets_are_text() {
        assert_eq!(bytes("a<b"), b"a<b");
        assert_eq!(bytes("a < b > c"), b"a < b > c");
        assert_eq!(bytes("<>"), b"<>");
        assert_eq!(bytes("x <"), b"x <");
        assert_eq!(bytes("<<enter>"), b"<\r");
        assert_eq!(bytes("if (a<b) echo ok >x"), b"if (a<b) echo ok >x");
        // Too long to be a token.
        assert_eq!(bytes("<averyveryverylongword>"), b"<averyveryverylongword>");
        // Non-ASCII stays intact.
        assert_eq!(bytes("héllo<enter>✓"), "héllo\r✓".as_bytes());
    }
}
