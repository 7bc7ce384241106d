//! The escape stripper: a vte [`Perform`] over a one-line model.
//!
//! Only the current (unterminated) line is kept editable, because that is all CR, backspace,
//! erase-in-line and horizontal moves can touch; completed lines go straight into the output
//! string, so 100 MB of command output costs one pass and no per-line allocation.

use std::fmt;

use vte::{Params, Parser, Perform};

/// The OSC number of our markers (`ESC ] 7770 ; payload BEL`).
const MARKER_OSC: &[u8] = b"7770";
/// Longest current line kept; beyond it the line is emitted as is, so a program that never
/// prints a newline cannot grow memory without bound.
const MAX_LINE: usize = 256 * 1024;
/// Private modes that switch to the alternate screen (xterm's three generations of it).
const ALT_SCREEN_MODES: [u16; 3] = [1049, 1047, 47];

/// What the stripper found in the byte stream, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Clean text. Completed lines end with '\n'.
    Text(String),
    /// Payload of an `OSC 7770 ; <payload> BEL` (or ST-terminated) sequence: the bytes after
    /// "7770;" (all remaining OSC params re-joined with ';'), lossy UTF-8.
    Marker(String),
    /// The program asked the terminal something and may wait for the answer.
    Query(Query),
}

/// Terminal queries a program may stall on until a terminal answers (MikroTik probes the
/// cursor position at login; other devices ask for the terminal's identity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// `CSI 6 n`: where is the cursor? The line model knows the column (1-based).
    CursorPosition { column: usize },
    /// `CSI c`, `CSI 0 c` or `ESC Z`: what terminal is this?
    DeviceAttributes,
    /// `CSI 5 n`: are you there?
    Status,
}

impl Query {
    /// A VT100-compatible answer, for a terminal of `rows` rows whose cursor sits on the last
    /// one (a program that just moved the cursor far down to measure the height gets `rows`).
    pub fn answer(self, rows: u16) -> Vec<u8> {
        match self {
            Query::CursorPosition { column } => format!("\x1b[{rows};{column}R").into_bytes(),
            Query::DeviceAttributes => b"\x1b[?1;2c".to_vec(),
            Query::Status => b"\x1b[0n".to_vec(),
        }
    }
}

/// Turns raw PTY bytes into [`Event`]s. Keeps parser state between [`Stripper::feed`] calls,
/// so input may be split anywhere.
#[derive(Default)]
pub struct Stripper {
    parser: Parser,
    line: Line,
    /// Every byte through vte (the reference behaviour the plain-text bypass must match).
    vte_only: bool,
}

impl fmt::Debug for Stripper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stripper")
            .field("partial_line", &self.partial_line())
            .field("col", &self.line.col)
            .field("alt_screen", &self.line.alt_screen)
            .field("app_cursor", &self.line.app_cursor)
            .finish_non_exhaustive()
    }
}

impl Stripper {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed raw PTY bytes (may split anywhere: inside UTF-8 sequences, escape sequences, CRLF
    /// pairs). Appends events to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Event>) {
        let mut performer = Performer {
            line: &mut self.line,
            text: String::new(),
            out,
        };
        // Plain ASCII text and C0 controls bypass vte while it is provably in its ground
        // state, where it would only hand them back one char at a time: most command output
        // is such runs, and this turns them into string copies. Anything else (ESC, UTF-8,
        // DEL) goes to vte byte by byte until a callback shows it is back in the ground state.
        let mut i = 0;
        while i < bytes.len() {
            if !performer.line.in_seq && !self.vte_only {
                let end = bytes[i..]
                    .iter()
                    .position(|b| !(0x20..0x7f).contains(b))
                    .map_or(bytes.len(), |p| i + p);
                if end > i {
                    // SAFETY: every byte in the run is printable ASCII, so valid UTF-8.
                    let text = unsafe { std::str::from_utf8_unchecked(&bytes[i..end]) };
                    performer.ascii(text);
                    i = end;
                    continue;
                }
                if is_plain(bytes[i]) {
                    performer.control(bytes[i]);
                    i += 1;
                    continue;
                }
            }
            let b = bytes[i];
            performer.line.in_seq = true;
            self.parser.advance(&mut performer, &bytes[i..i + 1]);
            // A callback during this byte proves the ground state only if the byte itself did
            // not start something new: an ESC, or a UTF-8 lead byte that follows a broken
            // character (vte prints U+FFFD for the old one, then keeps the new one pending).
            if b == 0x1b || b >= 0xc0 {
                performer.line.in_seq = true;
            }
            i += 1;
        }
        performer.flush_text();
    }

    /// The current unterminated line, as a terminal would show it (after CR, BS, erase-line).
    pub fn partial_line(&self) -> String {
        self.line.to_text()
    }

    /// The current line up to the cursor: where a prompt ends when a program drew something
    /// to its right (zsh's RPROMPT) and moved the cursor back.
    pub fn line_before_cursor(&self) -> String {
        self.line.to_text().chars().take(self.line.col).collect()
    }

    /// Emit-and-clear the unterminated line (caller decided output ended without a newline).
    pub fn take_partial_line(&mut self) -> String {
        let s = self.partial_line();
        self.line.clear();
        s
    }

    /// True while the alternate screen (CSI ?1049h / ?1047h / ?47h) is active (cleared by the
    /// matching `l`).
    pub fn in_alternate_screen(&self) -> bool {
        self.line.alt_screen
    }

    /// True while cursor keys are in application mode (DECCKM, `CSI ?1h`), which full-screen
    /// programs and line editors set while they read keys. Clearing the screen or moving the
    /// cursor does not count: `clear; sleep 3` is not waiting for anyone.
    pub fn application_cursor(&self) -> bool {
        self.line.app_cursor
    }
}

/// The editable current line and the little terminal state that outlives one `feed`.
///
/// Most lines are only ever appended to (CR before LF does not count: it only moves the
/// cursor). Those stay in `plain`, a String, and go to the output with one copy; a line that
/// is really edited (overwritten after CR, backspace, erase, cursor moves) switches to
/// `chars`, one char per column (wide chars count as one: we have no screen width anyway).
#[derive(Default)]
struct Line {
    plain: String,
    /// Chars in `plain`.
    plain_len: usize,
    chars: Vec<char>,
    /// True when the line lives in `chars`.
    edited: bool,
    col: usize,
    /// False only when vte is known to be in its ground state (no escape sequence or UTF-8
    /// character under way), so that plain ASCII may bypass it.
    in_seq: bool,
    alt_screen: bool,
    app_cursor: bool,
}

impl Line {
    /// Length in columns.
    fn len(&self) -> usize {
        if self.edited {
            self.chars.len()
        } else {
            self.plain_len
        }
    }

    /// The line as chars, for editing (moves a plain line over once).
    fn chars_mut(&mut self) -> &mut Vec<char> {
        if !self.edited {
            self.chars.clear();
            self.chars.extend(self.plain.chars());
            self.plain.clear();
            self.plain_len = 0;
            self.edited = true;
        }
        &mut self.chars
    }

    fn to_text(&self) -> String {
        if self.edited {
            self.chars.iter().collect()
        } else {
            self.plain.clone()
        }
    }

    /// Empties the line and puts the cursor at column 0.
    fn clear(&mut self) {
        self.plain.clear();
        self.plain_len = 0;
        self.chars.clear();
        self.edited = false;
        self.col = 0;
    }

    /// Appends the line to `out` and empties it.
    fn drain_into(&mut self, out: &mut String) {
        if self.edited {
            out.extend(self.chars.iter());
        } else {
            out.push_str(&self.plain);
        }
        self.clear();
    }
}

/// Bytes that vte, in its ground state, would pass to `print` or `execute` one by one: ASCII
/// printables and C0 controls except ESC (DEL, 0x7f, is left to vte).
fn is_plain(b: u8) -> bool {
    b != 0x1b && b < 0x7f
}

/// Borrows the line for one `feed` call and collects its output.
struct Performer<'a> {
    line: &'a mut Line,
    /// Completed text not yet pushed as an event; coalesces every line of one `feed`.
    text: String,
    out: &'a mut Vec<Event>,
}

impl Performer<'_> {
    fn flush_text(&mut self) {
        if !self.text.is_empty() {
            self.out.push(Event::Text(std::mem::take(&mut self.text)));
        }
    }

    /// Moves the current line into the output (without a newline) and starts an empty one.
    fn flush_line(&mut self) {
        self.line.drain_into(&mut self.text);
    }

    fn put(&mut self, c: char) {
        if self.line.col >= MAX_LINE {
            self.flush_line();
        }
        let line = &mut *self.line;
        if !line.edited && line.col == line.plain_len {
            line.plain.push(c);
            line.plain_len += 1;
        } else {
            let col = line.col;
            let chars = line.chars_mut();
            if col < chars.len() {
                chars[col] = c;
            } else {
                // Padding is bounded: every cursor move clamps `col` to MAX_LINE.
                chars.resize(col, ' ');
                chars.push(c);
            }
        }
        line.col += 1;
    }

    fn newline(&mut self) {
        self.flush_line();
        self.text.push('\n');
    }

    fn marker(&mut self, payload: String) {
        // The marker's place in the stream is after everything printed so far, including an
        // unterminated line (output that did not end with a newline).
        self.flush_line();
        self.flush_text();
        self.out.push(Event::Marker(payload));
    }

    fn erase_in_line(&mut self, mode: u16) {
        let line = &mut *self.line;
        let col = line.col;
        match mode {
            // Erasing past the end (a progress line's usual `ESC[K`) changes nothing.
            0 if col < line.len() => line.chars_mut().truncate(col),
            1 => {
                let chars = line.chars_mut();
                let end = (col + 1).min(chars.len());
                chars[..end].fill(' ');
            }
            2 => {
                line.clear();
                line.col = col;
            }
            _ => {}
        }
    }

    fn private_mode(&mut self, params: &Params, set: bool) {
        for param in params.iter() {
            match param.first() {
                Some(m) if ALT_SCREEN_MODES.contains(m) => self.line.alt_screen = set,
                Some(1) => self.line.app_cursor = set,
                _ => {}
            }
        }
    }

    fn query(&mut self, query: Query) {
        // Its place in the stream: after what was printed before it.
        self.flush_text();
        self.out.push(Event::Query(query));
    }
}

/// First parameter of a CSI, with `default` for a missing or zero value (as terminals do for
/// counts).
fn count(params: &Params, default: u16) -> usize {
    let n = params
        .iter()
        .next()
        .and_then(|p| p.first().copied())
        .unwrap_or(0);
    usize::from(if n == 0 { default } else { n })
}

impl Performer<'_> {
    /// Printable ASCII, as vte's ground state would print it char by char.
    fn ascii(&mut self, text: &str) {
        let line = &mut *self.line;
        if !line.edited && line.col == line.plain_len && line.col + text.len() < MAX_LINE {
            line.plain.push_str(text);
            line.plain_len += text.len();
            line.col += text.len();
        } else {
            text.chars().for_each(|c| self.put(c));
        }
    }

    /// What a C0/C1 control does to the line.
    fn control(&mut self, byte: u8) {
        match byte {
            b'\n' => self.newline(),
            b'\r' => self.line.col = 0,
            b'\t' => self.put('\t'),
            0x08 => self.line.col = self.line.col.saturating_sub(1),
            // vte hands stray bytes 0x80..=0x9F (Windows-1252 quotes, binary) to us as 8-bit C1
            // controls, which it does not otherwise support; show that something was there.
            0x80..=0x9F => self.put(char::REPLACEMENT_CHARACTER),
            // BEL, NUL, SO/SI and the other C0 controls mean nothing in a transcript.
            _ => {}
        }
    }
}

impl Perform for Performer<'_> {
    fn print(&mut self, c: char) {
        // vte prints only in its ground state.
        self.line.in_seq = false;
        self.put(c);
    }

    fn execute(&mut self, byte: u8) {
        // CAN and SUB abort any sequence.
        if byte == 0x18 || byte == 0x1a {
            self.line.in_seq = false;
        }
        self.control(byte);
    }

    fn esc_dispatch(&mut self, intermediates: &[u8], _ignore: bool, byte: u8) {
        self.line.in_seq = false;
        // DECID, the VT52-era "identify terminal".
        if intermediates.is_empty() && byte == b'Z' {
            self.query(Query::DeviceAttributes);
        }
    }

    fn csi_dispatch(&mut self, params: &Params, intermediates: &[u8], ignore: bool, action: char) {
        self.line.in_seq = false;
        if ignore {
            return;
        }
        match (intermediates, action) {
            (b"?", 'h') => self.private_mode(params, true),
            (b"?", 'l') => self.private_mode(params, false),
            // Modes, private sequences (`?2004h`...) and anything with intermediates: no text.
            ([_, ..], _) => {}
            (_, 'K') => {
                let mode = params.iter().next().and_then(|p| p.first().copied());
                self.erase_in_line(mode.unwrap_or(0));
            }
            (_, 'C') => self.line.col = (self.line.col + count(params, 1)).min(MAX_LINE),
            (_, 'D') => self.line.col = self.line.col.saturating_sub(count(params, 1)),
            (_, 'G') => self.line.col = (count(params, 1) - 1).min(MAX_LINE),
            (_, 'P') => {
                let line = &mut *self.line;
                let col = line.col;
                if col < line.len() {
                    let chars = line.chars_mut();
                    let end = (col + count(params, 1)).min(chars.len());
                    chars.drain(col..end);
                }
            }
            (_, '@') => {
                let line = &mut *self.line;
                let col = line.col;
                if col < line.len() {
                    let n = count(params, 1);
                    let chars = line.chars_mut();
                    chars.splice(col..col, std::iter::repeat_n(' ', n));
                    // Like a terminal's right margin: what is pushed past the end is lost.
                    chars.truncate(MAX_LINE);
                }
            }
            (_, 'X') => {
                let line = &mut *self.line;
                let col = line.col;
                if col < line.len() {
                    let chars = line.chars_mut();
                    let end = (col + count(params, 1)).min(chars.len());
                    chars[col..end].fill(' ');
                }
            }
            (_, 'n') => match params.iter().next().and_then(|p| p.first().copied()) {
                Some(6) => self.query(Query::CursorPosition {
                    column: self.line.col + 1,
                }),
                Some(5) => self.query(Query::Status),
                _ => {}
            },
            (_, 'c')
                if params
                    .iter()
                    .next()
                    .and_then(|p| p.first().copied())
                    .unwrap_or(0)
                    == 0 =>
            {
                self.query(Query::DeviceAttributes)
            }
            // SGR, cursor addressing and the rest: a line model has no use for them.
            _ => {}
        }
    }

    fn osc_dispatch(&mut self, params: &[&[u8]], bell_terminated: bool) {
        // Ended by ESC \ (not BEL), vte is in its escape state now; the `\` dispatch follows.
        if bell_terminated {
            self.line.in_seq = false;
        }
        if let [MARKER_OSC, rest @ ..] = params {
            let payload = rest.join(&b";"[..]);
            self.marker(String::from_utf8_lossy(&payload).into_owned());
        }
        // Other OSCs (window titles, cwd reports, hyperlinks) are dropped.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic generator (no rand dependency).
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn run_all(s: &mut Stripper, input: &[u8], cuts: &[usize]) -> (Vec<Event>, String) {
        let mut out = Vec::new();
        let mut at = 0;
        for &c in cuts.iter().chain(std::iter::once(&input.len())) {
            s.feed(&input[at..c], &mut out);
            at = c;
        }
        // Adjacent texts merge differently with other cuts; compare their concatenation.
        let mut merged: Vec<Event> = Vec::new();
        for e in out {
            match (merged.last_mut(), e) {
                (Some(Event::Text(a)), Event::Text(b)) => a.push_str(&b),
                (_, e) => merged.push(e),
            }
        }
        (merged, s.partial_line())
    }

    #[test]
    fn plain_text_bypass_matches_vte_on_random_streams() {
        let pieces: &[&[u8]] = &[
            b"hello ",
            b"world",
            b"\r\n",
            b"\n",
            b"\r",
            b"\t",
            b"\x08",
            b"\x07",
            b"\x00",
            b"\x1b[31m",
            b"\x1b[0m",
            b"\x1b[K",
            b"\x1b[2K",
            b"\x1b[1K",
            b"\x1b[3D",
            b"\x1b[5C",
            b"\x1b[10G",
            b"\x1b[2P",
            b"\x1b[3@",
            b"\x1b[4X",
            b"\x1b[2J\x1b[H",
            b"\x1b[?1049h",
            b"\x1b[?1049l",
            b"\x1b[?2004h",
            b"\x1b]0;title\x07",
            b"\x1b]0;title\x1b\\",
            b"\x1b]7770;n;1;0;/tmp\x07",
            b"\x1b]7770;n;1;2;/\x1b\\",
            b"\x1bPq#0;1\x1b\\",
            b"\x1b(B",
            b"\x1b[1;2;3;4;5;6;7;8;9;10;11;12;13;14;15;16;17;18m",
            b"\x1b[<1;2ignored",
            "h\u{e9}llo \u{2713}".as_bytes(),
            b"\xff",
            b"\xc3",
            b"\x9b",
            b"\x7f",
            b"\x18",
            b"\x1a",
            b" --More-- ",
            b"\x08\x08\x08\x08",
            b"0123456789",
        ];
        let mut rng = XorShift(0x9e3779b97f4a7c15);
        for round in 0..400 {
            let mut input = Vec::new();
            for _ in 0..(rng.next() % 40) {
                input.extend_from_slice(pieces[(rng.next() % pieces.len() as u64) as usize]);
            }
            let mut reference = Stripper {
                vte_only: true,
                ..Stripper::default()
            };
            let expected = run_all(&mut reference, &input, &[]);
            let mut cuts: Vec<usize> = (0..(rng.next() % 6))
                .map(|_| (rng.next() % (input.len() as u64 + 1)) as usize)
                .collect();
            cuts.sort_unstable();
            let got = run_all(&mut Stripper::new(), &input, &cuts);
            assert_eq!(
                got,
                expected,
                "round {round}: {:?} cut at {cuts:?}",
                String::from_utf8_lossy(&input)
            );
            let bytewise: Vec<usize> = (1..input.len()).collect();
            let got = run_all(&mut Stripper::new(), &input, &bytewise);
            assert_eq!(
                got,
                expected,
                "round {round} byte by byte: {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }

    fn t(s: &str) -> Event {
        Event::Text(s.to_string())
    }

    fn m(s: &str) -> Event {
        Event::Marker(s.to_string())
    }

    /// Merges adjacent Text events: where text is cut into events depends on the chunking.
    fn normalize(events: Vec<Event>) -> Vec<Event> {
        let mut out: Vec<Event> = Vec::new();
        for ev in events {
            match (out.last_mut(), ev) {
                (_, Event::Text(s)) if s.is_empty() => panic!("empty Text event"),
                (Some(Event::Text(prev)), Event::Text(s)) => prev.push_str(&s),
                (_, ev) => out.push(ev),
            }
        }
        out
    }

    struct Outcome {
        events: Vec<Event>,
        partial: String,
        alt: bool,
    }

    fn run(chunks: &[&[u8]]) -> Outcome {
        let mut s = Stripper::new();
        let mut events = Vec::new();
        for chunk in chunks {
            s.feed(chunk, &mut events);
        }
        Outcome {
            events: normalize(events),
            partial: s.partial_line(),
            alt: s.in_alternate_screen(),
        }
    }

    /// Feeds `input` whole, split in two at every position, and byte by byte; all must agree
    /// with the expectation.
    fn check_alt(input: &[u8], events: &[Event], partial: &str, alt: bool) {
        let mut splits: Vec<Vec<&[u8]>> = vec![input.chunks(1).collect()];
        for i in 0..=input.len() {
            splits.push(vec![&input[..i], &input[i..]]);
        }
        for chunks in splits {
            let got = run(&chunks);
            assert_eq!(got.events, events, "events for chunks {chunks:?}");
            assert_eq!(got.partial, partial, "partial line for chunks {chunks:?}");
            assert_eq!(got.alt, alt, "alternate screen for chunks {chunks:?}");
        }
    }

    fn check(input: &[u8], events: &[Event], partial: &str) {
        check_alt(input, events, partial, false);
    }

    #[test]
    fn plain_lines_and_partial() {
        check(b"a\nb\nc", &[t("a\nb\n")], "c");
        check(b"", &[], "");
    }

    #[test]
    fn one_feed_coalesces_lines() {
        let mut s = Stripper::new();
        let mut out = Vec::new();
        s.feed(b"a\r\nb\r\nc\r\n", &mut out);
        assert_eq!(out, [t("a\nb\nc\n")]);
    }

    #[test]
    fn sgr_colours_around_prompt() {
        check(
            b"\x1b[01;32muser@host\x1b[00m:\x1b[01;34m~\x1b[00m$ ls\r\nfile\tb\r\n\x1b[01;32muser@host\x1b[00m:~$ ",
            &[t("user@host:~$ ls\nfile\tb\n")],
            "user@host:~$ ",
        );
    }

    #[test]
    fn crlf_split_between_chunks() {
        let got = run(&[b"one\r", b"\ntwo\r", b"\n"]);
        assert_eq!(got.events, [t("one\ntwo\n")]);
        check(b"one\r\ntwo\r\n", &[t("one\ntwo\n")], "");
    }

    #[test]
    fn progress_bar_with_cr() {
        check(b"  0%\r 50%\r100%\r\ndone", &[t("100%\n")], "done");
        check(b"0%\r50%\r100%\r\n", &[t("100%\n")], "");
    }

    #[test]
    fn readline_redraw() {
        check(
            b"PROMPT> \r\x1b[K PROMPT> stty size\r\n",
            &[t(" PROMPT> stty size\n")],
            "",
        );
        check(
            b"PROMPT> \r\x1b[KPROMPT> stty size",
            &[],
            "PROMPT> stty size",
        );
    }

    #[test]
    fn cisco_more_erased_by_backspaces() {
        let mut input = b"line1\r\n --More-- ".to_vec();
        input.extend_from_slice(&[0x08; 9]);
        input.extend_from_slice(&[b' '; 9]);
        input.extend_from_slice(&[0x08; 9]);
        input.extend_from_slice(b"line2\r\n");
        // 9 backspaces from column 10 land on column 1, so the pager's leading space stays.
        check(&input, &[t("line1\n line2    \n")], "");
    }

    #[test]
    fn backspace_stops_at_column_zero() {
        check(b"ab\x08\x08\x08\x08X", &[], "Xb");
    }

    #[test]
    fn osc_title_with_bel_and_st() {
        check(
            b"\x1b]0;user@host: ~\x07user@host:~$ ",
            &[],
            "user@host:~$ ",
        );
        check(
            b"\x1b]2;some title\x1b\\user@host:~$ ",
            &[],
            "user@host:~$ ",
        );
    }

    #[test]
    fn bracketed_paste_mode_dropped() {
        check(
            b"\x1b[?2004huser@host:~$ ls\r\n\x1b[?2004l\rfile\r\n",
            &[t("user@host:~$ ls\nfile\n")],
            "",
        );
    }

    #[test]
    fn utf8_split_inside_chars() {
        check("héllo ✓\r\n".as_bytes(), &[t("héllo ✓\n")], "");
        let got = run(&[b"h\xc3", b"\xa9llo \xe2\x9c", b"\x93"]);
        assert_eq!(got.partial, "héllo ✓");
    }

    #[test]
    fn invalid_bytes_become_replacement() {
        check(b"\xff!", &[], "\u{FFFD}!");
        let mut input = "héllo ✓\r\n".as_bytes().to_vec();
        input.extend_from_slice(b"\xff!");
        check(&input, &[t("héllo ✓\n")], "\u{FFFD}!");
        // A stray Windows-1252 quote byte is in vte's C1 range.
        check(b"\x93q\x94", &[], "\u{FFFD}q\u{FFFD}");
    }

    #[test]
    fn controls_dropped_tab_kept() {
        check(b"a\x07b\x00c\x0e\x0fd\te\r\n", &[t("abcd\te\n")], "");
    }

    #[test]
    fn marker_after_complete_lines() {
        let input = b"a\r\nb\r\n\x1b]7770;abc;1;0;/tmp\x07";
        check(input, &[t("a\nb\n"), m("abc;1;0;/tmp")], "");
        let mut s = Stripper::new();
        let mut out = Vec::new();
        s.feed(input, &mut out);
        assert_eq!(out, [t("a\nb\n"), m("abc;1;0;/tmp")]);
    }

    #[test]
    fn marker_after_partial_line() {
        check(
            b"hi\x1b]7770;abc;1;0;/tmp\x07",
            &[t("hi"), m("abc;1;0;/tmp")],
            "",
        );
        let mut s = Stripper::new();
        let mut out = Vec::new();
        s.feed(b"a\nhi\x1b]7770;abc;1;0;/tmp\x07", &mut out);
        let text: String = out
            .iter()
            .filter_map(|e| match e {
                Event::Text(s) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "a\nhi");
        assert_eq!(out.last(), Some(&m("abc;1;0;/tmp")));
    }

    #[test]
    fn marker_with_st_and_text_after() {
        check(
            b"out\r\n\x1b]7770;abc;1;0;/tmp\x1b\\next\r\nmore",
            &[t("out\n"), m("abc;1;0;/tmp"), t("next\n")],
            "more",
        );
    }

    #[test]
    fn marker_split_across_chunks() {
        let got = run(&[b"x\r\n\x1b]77", b"70;ab", b"c;1\x07y"]);
        assert_eq!(got.events, [t("x\n"), m("abc;1")]);
        assert_eq!(got.partial, "y");
    }

    #[test]
    fn marker_payload_lossy_and_empty() {
        check(b"\x1b]7770;a\xffb\x07", &[m("a\u{FFFD}b")], "");
        check(b"\x1b]7770\x07", &[m("")], "");
        // Another OSC that merely starts with the same digits is not ours.
        check(b"\x1b]77701;x\x07z", &[], "z");
    }

    #[test]
    fn clearing_the_screen_is_not_a_full_screen_mode_but_application_cursor_is() {
        let mut s = Stripper::new();
        let mut out = Vec::new();
        s.feed(b"\x1b[H\x1b[2J\x1b[3Jdone\r\n", &mut out);
        assert!(!s.application_cursor() && !s.in_alternate_screen());
        s.feed(b"\x1b[?1h\x1b=", &mut out);
        assert!(s.application_cursor());
        s.feed(b"\x1b[?1l\x1b>", &mut out);
        assert!(!s.application_cursor());
        // Several private modes in one sequence.
        s.feed(b"\x1b[?1;1049h", &mut out);
        assert!(s.application_cursor() && s.in_alternate_screen());
    }

    #[test]
    fn line_before_cursor_ends_where_the_prompt_waits() {
        let mut s = Stripper::new();
        let mut out = Vec::new();
        // zsh: left prompt, jump right, right prompt, jump back.
        s.feed(b"u@h ~ % \x1b[50C[12:00]\x1b[57D", &mut out);
        assert_eq!(s.line_before_cursor(), "u@h ~ % ");
        assert!(s.partial_line().ends_with("[12:00]"));
    }

    #[test]
    fn terminal_queries_are_events_at_their_place() {
        let q = |c| Event::Query(Query::CursorPosition { column: c });
        check(b"\x1b[9999B\x1b[6n", &[q(1)], "");
        check(b"abc\x1b[6nd", &[q(4)], "abcd");
        check(
            b"x\r\n\x1b[c\x1bZ\x1b[0c\x1b[5n",
            &[
                t("x\n"),
                Event::Query(Query::DeviceAttributes),
                Event::Query(Query::DeviceAttributes),
                Event::Query(Query::DeviceAttributes),
                Event::Query(Query::Status),
            ],
            "",
        );
        // Secondary device attributes and other reports are not answered here.
        check(b"\x1b[>c\x1b[1c\x1b[?6n", &[], "");
        assert_eq!(
            Query::CursorPosition { column: 7 }.answer(50),
            b"\x1b[50;7R".to_vec()
        );
    }

    #[test]
    fn alternate_screen_on_and_off() {
        check_alt(b"\x1b[?1049hvim stuff", &[], "vim stuff", true);
        check_alt(b"\x1b[?1049h\x1b[?1049l$ ", &[], "$ ", false);
        check_alt(b"\x1b[?1047h", &[], "", true);
        check_alt(b"\x1b[?47h", &[], "", true);
        check_alt(b"\x1b[?47h\x1b[?47l", &[], "", false);
        check_alt(b"\x1b[?1;1049h", &[], "", true);
        check_alt(b"\x1b[?2004h\x1b[?25l", &[], "", false);
        // Not private: plain mode 1049 is something else.
        check_alt(b"\x1b[1049h", &[], "", false);
    }

    #[test]
    fn erase_in_line_variants() {
        check(b"abcdef\x1b[3D\x1b[K", &[], "abc");
        check(b"abcdef\x1b[3D\x1b[0K", &[], "abc");
        check(b"abcdef\x1b[3D\x1b[1K", &[], "    ef");
        check(b"abcdef\x1b[3D\x1b[2K", &[], "");
        // After erasing the whole line the cursor stays where it was.
        check(b"abcdef\x1b[3D\x1b[2Kx", &[], "   x");
        check(b"ab\x1b[5G\x1b[1K", &[], "  ");
    }

    #[test]
    fn cursor_moves_and_edits() {
        check(b"ab\x1b[Cc", &[], "ab c");
        check(b"ab\x1b[3Cc", &[], "ab   c");
        check(b"abcd\x1b[Dx", &[], "abcx");
        check(b"abcd\x1b[2Gx", &[], "axcd");
        check(b"abcd\x1b[Gx", &[], "xbcd");
        check(b"abcdef\x1b[3G\x1b[2P", &[], "abef");
        check(b"abcdef\x1b[3G\x1b[P", &[], "abdef");
        check(b"abcdef\x1b[3G\x1b[9P", &[], "ab");
        check(b"abcdef\x1b[3G\x1b[2@", &[], "ab  cdef");
        check(b"abcdef\x1b[3G\x1b[2@XY", &[], "abXYcdef");
        check(b"abcdef\x1b[3G\x1b[2X", &[], "ab  ef");
        check(b"abc\x1b[2G\x1b[9X", &[], "a  ");
        check(b"ab\x1b[9G\x1b[X\x1b[P\x1b[@", &[], "ab");
        // Addressing, erase in display and SGR carry no text.
        check(b"\x1b[H\x1b[2J\x1b[1;31mred\x1b[0m", &[], "red");
        check(
            b"\x1b[9999B\x1b[m\x1b[K[admin@MikroTik] > \x1b[K",
            &[],
            "[admin@MikroTik] > ",
        );
    }

    #[test]
    fn esc_and_dcs_dropped() {
        check(b"a\x1b7b\x1b8c\x1b(Bd\x1b=e", &[], "abcde");
        check(b"a\x1bP1$r0m\x1b\\b", &[], "ab");
    }

    #[test]
    fn very_long_line_is_bounded() {
        let input = vec![b'x'; MAX_LINE + 10];
        let mut s = Stripper::new();
        let mut out = Vec::new();
        s.feed(&input, &mut out);
        assert_eq!(out, [Event::Text("x".repeat(MAX_LINE))]);
        assert_eq!(s.partial_line(), "x".repeat(10));

        // Huge cursor moves are clamped, so padding cannot outgrow the bound either: writing
        // at the limit emits what the line holds and starts over.
        let moves = b"\x1b[65535C".repeat(5);
        let mut s = Stripper::new();
        let mut out = Vec::new();
        s.feed(&[b"a", &moves[..], b"z"].concat(), &mut out);
        assert_eq!(out, [t("a")]);
        assert_eq!(s.partial_line(), "z");
        let mut s = Stripper::new();
        s.feed(&[b"a", &moves[..32], b"z"].concat(), &mut out);
        assert_eq!(s.partial_line().chars().count(), 4 * 65535 + 2);
    }

    #[test]
    fn take_partial_line_clears() {
        let mut s = Stripper::new();
        let mut out = Vec::new();
        s.feed(b"one\r\nPassword: ", &mut out);
        assert_eq!(s.take_partial_line(), "Password: ");
        assert_eq!(s.partial_line(), "");
        s.feed(b"\r\nok\r\n", &mut out);
        assert_eq!(normalize(out), [t("one\n\nok\n")]);
    }

    #[test]
    fn ten_megabytes_of_output() {
        const LINE: &[u8] = b"line of text 0123456789\r\n";
        let n = 10 * 1024 * 1024 / LINE.len();
        let input = LINE.repeat(n);
        let mut s = Stripper::new();
        let mut out = Vec::new();
        for chunk in input.chunks(64 * 1024) {
            s.feed(chunk, &mut out);
        }
        let total: usize = out
            .iter()
            .map(|e| match e {
                Event::Text(s) => s.len(),
                other => panic!("unexpected {other:?}"),
            })
            .sum();
        assert_eq!(total, n * (LINE.len() - 1));
        assert_eq!(s.partial_line(), "");
    }
}
