//! A terminal model (vt100) of one shell's PTY, built only when an interactive tool asks:
//! the shell keeps a raw byte tail ([`RawTail`]) and the screen catches up from the position
//! it reached last time, so plain commands never pay for terminal emulation.

use std::sync::Mutex;

use schemars::JsonSchema;
use serde::Serialize;

use crate::pty::tail::RawTail;

/// Records the window title (OSC 0 / OSC 2); vt100 only reports it through a callback.
#[derive(Default)]
struct Titles {
    title: Option<String>,
}

impl vt100::Callbacks for Titles {
    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        let t = String::from_utf8_lossy(title).trim().to_string();
        self.title = (!t.is_empty()).then_some(t);
    }
}

/// A terminal screen fed from a shell's raw output by position.
pub struct Screen {
    parser: vt100::Parser<Titles>,
    rows: u16,
    columns: u16,
    /// Position in the raw stream (a `RawTail::total()`) up to which bytes were fed.
    fed: u64,
}

impl std::fmt::Debug for Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Screen")
            .field("rows", &self.rows)
            .field("columns", &self.columns)
            .field("fed", &self.fed)
            .finish()
    }
}

// Which rows a snapshot holds when the screen has more rows than were asked for.
// Variant and field notes are `//` comments: doc comments would all go into the output
// schema that every client reads at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Shown {
    // Every row down to the last one with content or the cursor.
    All,
    // The bottom rows with content (the cursor is among them).
    Bottom,
    // Rows around the cursor.
    AroundCursor,
}

/// What the terminal shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ScreenSnapshot {
    /// Rows as text; lines[0] is row first_row.
    pub lines: Vec<String>,
    pub first_row: u16,
    pub shown: Shown,
    /// 0-based, like first_row.
    pub cursor_row: u16,
    pub cursor_col: u16,
    pub rows: u16,
    pub columns: u16,
    // True while a full-screen program (vim, less...) holds the alternate screen.
    pub alternate_screen: bool,
    // Window title, if the program set one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

impl Screen {
    pub fn new(rows: u16, columns: u16) -> Self {
        let rows = rows.max(1);
        let columns = columns.max(1);
        Screen {
            parser: fresh_parser(rows, columns),
            rows,
            columns,
            fed: 0,
        }
    }

    /// Raw-stream position fed so far.
    pub fn fed(&self) -> u64 {
        self.fed
    }

    /// Feeds bytes that follow the ones fed before.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.parser.process(bytes);
        self.fed += bytes.len() as u64;
    }

    /// Catches up with `tail`. Returns true when the tail had already dropped bytes this
    /// screen never saw, so it was rebuilt from what the tail still holds.
    pub fn update(&mut self, tail: &Mutex<RawTail>) -> bool {
        // Copy under the lock, emulate outside it: the shell actor pushes into this tail.
        let (bytes, gap, total) = {
            let t = tail.lock().unwrap_or_else(|e| e.into_inner());
            let (bytes, gap) = t.since(self.fed);
            (bytes, gap, t.total())
        };
        if gap {
            self.parser = fresh_parser(self.rows, self.columns);
            // The tail starts somewhere inside the stream, maybe mid-escape-sequence or
            // mid-character: start at the first ESC or line feed, where the stream resyncs.
            let start = bytes
                .iter()
                .position(|&b| b == 0x1b || b == b'\n')
                .unwrap_or(bytes.len());
            self.parser.process(&bytes[start..]);
        } else {
            self.parser.process(&bytes);
        }
        self.fed = total;
        gap
    }

    pub fn alternate_screen(&self) -> bool {
        self.parser.screen().alternate_screen()
    }

    /// DECCKM: cursor keys must be sent as `ESC O x` instead of `ESC [ x`.
    pub fn application_cursor(&self) -> bool {
        self.parser.screen().application_cursor()
    }

    /// The screen as text: all rows when they fit in `max_lines`, else the bottom rows with
    /// content when the cursor is among them, else the rows around the cursor.
    pub fn snapshot(&self, max_lines: usize) -> ScreenSnapshot {
        let screen = self.parser.screen();
        let (cursor_row, cursor_col) = screen.cursor_position();
        // After writing the last column the cursor waits past the edge (pending wrap);
        // a terminal reports it on the last column.
        let cursor_col = cursor_col.min(self.columns - 1);
        let all: Vec<String> = screen
            .rows(0, self.columns)
            .map(|r| r.trim_end().to_string())
            .collect();
        // Blank rows below both the content and the cursor say nothing.
        let last_content = all.iter().rposition(|l| !l.is_empty()).unwrap_or(0);
        let end = last_content.max(cursor_row as usize).min(all.len() - 1) + 1;
        let max_lines = max_lines.max(1);
        let cursor = cursor_row as usize;
        let (start, shown) = if end <= max_lines {
            (0, Shown::All)
        } else if cursor >= end - max_lines {
            (end - max_lines, Shown::Bottom)
        } else {
            let start = cursor.saturating_sub(max_lines / 2).min(end - max_lines);
            (start, Shown::AroundCursor)
        };
        let stop = (start + max_lines).min(end);
        ScreenSnapshot {
            lines: all[start..stop].to_vec(),
            first_row: start as u16,
            shown,
            cursor_row,
            cursor_col,
            rows: self.rows,
            columns: self.columns,
            alternate_screen: screen.alternate_screen(),
            title: self.parser.callbacks().title.clone(),
        }
    }
}

fn fresh_parser(rows: u16, columns: u16) -> vt100::Parser<Titles> {
    let nz = |n: u16| std::num::NonZeroU16::new(n.max(1)).expect("not zero");
    // No scrollback: the tools show the screen, command output has its own record.
    vt100::Parser::new_with_callbacks(nz(rows), nz(columns), 0, Titles::default())
}

impl ScreenSnapshot {
    /// One line about the cursor, the size and which rows are shown.
    pub fn footer(&self) -> String {
        let mut t = format!(
            "[cursor row {}, col {} (0-based); screen {}x{}",
            self.cursor_row, self.cursor_col, self.columns, self.rows
        );
        let last = self.first_row as usize + self.lines.len().saturating_sub(1);
        match self.shown {
            Shown::All => {
                if last + 1 < self.rows as usize {
                    t.push_str(&format!(
                        "; rows {}-{last} (below is blank)",
                        self.first_row
                    ));
                }
            }
            Shown::Bottom | Shown::AroundCursor => t.push_str(&format!(
                "; rows {}-{last} shown ({}); max_lines={} shows all",
                self.first_row,
                if self.shown == Shown::Bottom {
                    "bottom"
                } else {
                    "around the cursor"
                },
                self.rows
            )),
        }
        if self.alternate_screen {
            t.push_str("; full-screen program");
        }
        if let Some(title) = &self.title {
            t.push_str(&format!("; title {title:?}"));
        }
        t.push(']');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen(rows: u16, cols: u16, bytes: &[u8]) -> Screen {
        let mut s = Screen::new(rows, cols);
        s.feed(bytes);
        s
    }

    #[test]
    fn plain_lines_and_cursor() {
        let s = screen(5, 20, b"one\r\ntwo  \r\nthree");
        let snap = s.snapshot(24);
        assert_eq!(snap.lines, ["one", "two", "three"]);
        assert_eq!((snap.cursor_row, snap.cursor_col), (2, 5));
        assert_eq!((snap.rows, snap.columns), (5, 20));
        assert_eq!(snap.shown, Shown::All);
        assert!(!snap.alternate_screen);
        assert_eq!(snap.title, None);
    }

    #[test]
    fn cursor_addressing_and_erase() {
        // CUP to row 3 col 5 (1-based), write; then back to row 1 and erase the line's end.
        let s = screen(4, 20, b"hello world\x1b[3;5HX\x1b[1;6H\x1b[K!");
        let snap = s.snapshot(24);
        assert_eq!(snap.lines, ["hello!", "", "    X"]);
        assert_eq!((snap.cursor_row, snap.cursor_col), (0, 6));
        // A full row leaves the cursor on the last column, not past it.
        let s = screen(2, 5, b"abcde");
        assert_eq!(s.snapshot(5).cursor_col, 4);
    }

    #[test]
    fn clear_screen_and_home() {
        let s = screen(4, 20, b"a\r\nb\r\nc\x1b[H\x1b[2Jtop");
        assert_eq!(s.snapshot(24).lines, ["top"]);
    }

    #[test]
    fn alternate_screen_in_and_out() {
        let mut s = screen(4, 20, b"$ less f\r\n");
        s.feed(b"\x1b[?1049h\x1b[H\x1b[2Jpage 1\x1b[4;1H:");
        let snap = s.snapshot(24);
        assert!(snap.alternate_screen);
        assert_eq!(snap.lines, ["page 1", "", "", ":"]);
        // Leaving restores the normal screen and its cursor.
        s.feed(b"\x1b[?1049l");
        let snap = s.snapshot(24);
        assert!(!snap.alternate_screen);
        // The cursor's row is shown even when blank.
        assert_eq!(snap.lines, ["$ less f", ""]);
        assert_eq!((snap.cursor_row, snap.cursor_col), (1, 0));
    }

    #[test]
    fn vim_like_redraw() {
        let mut s = Screen::new(5, 30);
        // Title, alternate screen, keypad transmit (DECCKM on), scroll region, tildes, status.
        s.feed(b"\x1b]2;f.txt - VIM\x07\x1b[?1049h\x1b[?1h\x1b=\x1b[1;4r\x1b[H\x1b[2J");
        s.feed(b"\x1b[2;1H~\x1b[3;1H~\x1b[4;1H~\x1b[5;1H\"f.txt\" [New]\x1b[1;1H");
        assert!(s.application_cursor());
        let snap = s.snapshot(24);
        assert_eq!(snap.lines, ["", "~", "~", "~", "\"f.txt\" [New]"]);
        assert_eq!(snap.title.as_deref(), Some("f.txt - VIM"));
        // Insert mode: the status line is rewritten, text typed on row 1.
        s.feed(b"\x1b[5;1H\x1b[K-- INSERT --\x1b[1;1Hhello\x1b[1;6H");
        let snap = s.snapshot(24);
        assert_eq!(snap.lines[0], "hello");
        assert_eq!(snap.lines[4], "-- INSERT --");
        assert_eq!((snap.cursor_row, snap.cursor_col), (0, 5));
        // A line inserted above (IL) pushes the text down inside the scroll region.
        s.feed(b"\x1b[1;1H\x1b[Lfirst");
        assert_eq!(
            s.snapshot(24).lines,
            ["first", "hello", "~", "~", "-- INSERT --"]
        );
        // :wq: keypad mode off, back to the shell's screen.
        s.feed(b"\x1b[?1l\x1b>\x1b[r\x1b[?1049l");
        assert!(!s.application_cursor());
        assert!(!s.alternate_screen());
        assert_eq!(s.snapshot(24).lines, [""]);
    }

    #[test]
    fn few_lines_show_the_bottom_or_the_cursor() {
        let text: String = (0..10).map(|i| format!("line {i}\r\n")).collect();
        let mut s = screen(12, 20, text.as_bytes());
        // Cursor on row 10, below the content: the bottom rows, cursor row included.
        let snap = s.snapshot(3);
        assert_eq!(snap.shown, Shown::Bottom);
        assert_eq!(snap.lines, ["line 8", "line 9", ""]);
        assert_eq!(snap.first_row, 8);
        // Cursor far above the bottom: the rows around it.
        s.feed(b"\x1b[3;1H");
        let snap = s.snapshot(3);
        assert_eq!(snap.shown, Shown::AroundCursor);
        assert_eq!(snap.lines, ["line 1", "line 2", "line 3"]);
        assert_eq!(snap.first_row, 1);
        // Everything fits.
        let snap = s.snapshot(50);
        assert_eq!((snap.shown, snap.lines.len()), (Shown::All, 10));
        assert!(snap.footer().contains("rows 0-9"), "{}", snap.footer());
    }

    #[test]
    fn updates_from_a_raw_tail_by_position() {
        let tail = Mutex::new(RawTail::new(64));
        tail.lock().unwrap().push(b"abc");
        let mut s = Screen::new(3, 10);
        assert!(!s.update(&tail));
        tail.lock().unwrap().push(b"def\r\nxyz");
        assert!(!s.update(&tail));
        assert_eq!(s.fed(), 11);
        assert_eq!(s.snapshot(10).lines, ["abcdef", "xyz"]);
        // Nothing new: nothing changes.
        assert!(!s.update(&tail));
        assert_eq!(s.snapshot(10).lines, ["abcdef", "xyz"]);
    }

    #[test]
    fn a_gap_rebuilds_from_the_tail() {
        let tail = Mutex::new(RawTail::new(16));
        let mut s = Screen::new(3, 20);
        tail.lock().unwrap().push(b"old\r\n");
        s.update(&tail);
        // More than the tail holds: it now starts inside the colour sequence (`96m...`).
        tail.lock()
            .unwrap()
            .push(b"\x1b[38;5;196mred\x1b[0m\r\nnext");
        assert!(s.update(&tail));
        // Rebuilt from the first ESC: neither "old" nor the torn "96mred" shows.
        assert_eq!(s.snapshot(10).lines, ["", "next"]);
        assert_eq!(s.fed(), 5 + 24);
    }
}
