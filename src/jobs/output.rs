//! A command's output with bounded memory: everything while it is small, then the head and
//! the tail in memory and the whole stream in a spool file (capped, see [`super::spool`]) for
//! paging. When the spool stops short (a cap, a full disk), the bytes between its end and the
//! tail in memory are gone, and every result and read says exactly which ones and why.

use serde::Serialize;

use super::spool::{SpoolFile, SpoolSlot};

/// Output of one command.
#[derive(Debug)]
pub struct OutputBuffer {
    /// Everything, while `total <= inline_cap`; afterwards the first `inline_cap / 2` bytes.
    head: String,
    /// The last `inline_cap / 2` (up to twice that) bytes once the output outgrew `inline_cap`.
    tail: String,
    total: u64,
    inline_cap: usize,
    /// The output outgrew `inline_cap`: head and tail (and the spool) hold it from then on.
    overflowed: bool,
    spool: Spool,
}

#[derive(Debug)]
enum Spool {
    /// The output still fits inline; the slot starts a spool file once it does not.
    NotYet(Option<SpoolSlot>),
    Active(SpoolFile),
    /// There is no spool file, and this is why.
    Missing(String),
}

/// Output bytes `[start, end)` that are no longer available, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Gap {
    pub start: u64,
    pub end: u64,
    pub reason: String,
}

/// A slice of output read back by offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSlice {
    pub text: String,
    /// Where `text` starts (the requested offset, moved past a split character).
    pub offset: u64,
    pub total: u64,
    /// Where to read next: after `text`, and past the gap when `text` ran into one.
    pub next_offset: u64,
    /// The part of the output in the requested range that is no longer available.
    pub gap: Option<Gap>,
}

impl OutputBuffer {
    /// `inline_cap`: bytes returned inline; `spool`: where the full output goes once it is
    /// larger (None: keep head and tail only).
    pub fn new(inline_cap: usize, spool: Option<SpoolSlot>) -> Self {
        OutputBuffer {
            head: String::new(),
            tail: String::new(),
            total: 0,
            inline_cap: inline_cap.max(64),
            overflowed: false,
            spool: Spool::NotYet(spool),
        }
    }

    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    pub fn push(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let fits = !self.overflowed && self.total as usize + text.len() <= self.inline_cap;
        self.total += text.len() as u64;
        if fits {
            self.head.push_str(text);
            return;
        }
        let keep = self.inline_cap / 2;
        if !self.overflowed {
            self.overflowed = true;
            self.start_spool();
            let cut = floor_boundary(&self.head, keep);
            self.tail = self.head[cut..].to_string();
            self.head.truncate(cut);
        }
        if let Spool::Active(f) = &mut self.spool {
            f.append(text);
        }
        // The head is short only while the tail is empty: when the first overflowing text
        // came in one piece larger than the inline size. Fill it from there.
        let mut rest = text;
        if self.head.len() < keep {
            let take = floor_boundary(text, keep - self.head.len());
            self.head.push_str(&text[..take]);
            rest = &text[take..];
        }
        self.tail.push_str(rest);
        if self.tail.len() > keep * 2 {
            let cut = ceil_boundary(&self.tail, self.tail.len() - keep);
            self.tail.drain(..cut);
        }
    }

    /// Creates the spool file and puts the output so far (all in `head`) into it.
    fn start_spool(&mut self) {
        let slot = match std::mem::replace(&mut self.spool, Spool::NotYet(None)) {
            Spool::NotYet(Some(slot)) => slot,
            Spool::NotYet(None) => {
                self.spool = Spool::Missing("no spool file is kept for this output".into());
                return;
            }
            other => {
                self.spool = other;
                return;
            }
        };
        self.spool = match slot.create() {
            Ok(mut f) => {
                f.append(&self.head);
                Spool::Active(f)
            }
            Err(why) => {
                tracing::warn!("{why}; keeping head and tail only");
                Spool::Missing(why)
            }
        };
    }

    /// Where the tail in memory starts.
    fn tail_start(&self) -> u64 {
        self.total - self.tail.len() as u64
    }

    /// The bytes that are in neither the spool nor memory: between the end of what the
    /// spool (or the head) holds and the tail, when the spool stopped short or never was.
    pub fn gap(&self) -> Option<Gap> {
        if !self.overflowed {
            return None;
        }
        let (kept, reason) = match &self.spool {
            Spool::Active(f) => (f.accepted(), f.stopped().unwrap_or("not kept").to_string()),
            Spool::Missing(why) => (0, why.clone()),
            Spool::NotYet(_) => (0, "no spool file".to_string()),
        };
        let start = kept.max(self.head.len() as u64);
        let end = self.tail_start();
        (start < end).then_some(Gap { start, end, reason })
    }

    /// The output for a tool result: whole if it fits `limit`, else head and tail with a note
    /// saying how much was left out, which part can be read and how, and which part is gone.
    /// Returns (text, truncated).
    pub fn summary(&self, limit: usize, partial_line: &str, command_id: &str) -> (String, bool) {
        let total = self.total + partial_line.len() as u64;
        if !self.overflowed && total as usize <= limit {
            let mut s = self.head.clone();
            s.push_str(partial_line);
            return (s, false);
        }
        let half = limit / 2;
        let head_end = floor_boundary(&self.head, half.min(self.head.len()));
        let head = &self.head[..head_end];
        let mut tail_src = self.tail.clone();
        if tail_src.is_empty() {
            tail_src = self.head[head_end..].to_string();
        }
        tail_src.push_str(partial_line);
        let tail_start = ceil_boundary(&tail_src, tail_src.len().saturating_sub(half));
        let tail = &tail_src[tail_start..];
        let omitted_from = head.len() as u64;
        let omitted_to = total - tail.len() as u64;
        let read = format!("get_command_output(command_id=\"{command_id}\", offset=N, length=N)");
        let mut parts = vec![format!(
            "{} bytes omitted of {total} total; showing the first {} and last {} bytes",
            omitted_to - omitted_from,
            head.len(),
            tail.len()
        )];
        match self.gap() {
            None => parts.push(format!("read any part with {read}")),
            Some(gap) => {
                if gap.start > omitted_from {
                    parts.push(format!(
                        "bytes {omitted_from}-{} can be read with {read}",
                        gap.start
                    ));
                }
                parts.push(format!(
                    "bytes {}-{} are no longer available: {}",
                    gap.start, gap.end, gap.reason
                ));
                if omitted_to > gap.end {
                    parts.push(format!(
                        "bytes {}-{omitted_to} can be read with {read}",
                        gap.end
                    ));
                }
            }
        }
        let note = format!("\n[... {} ...]\n", parts.join("; "));
        (format!("{head}{note}{tail}"), true)
    }

    /// Reads up to `length` bytes from `offset`, cut to whole characters. A range that runs
    /// into the gap stops there, says so and continues (`next_offset`) after it.
    pub fn read(&mut self, offset: u64, length: usize) -> OutputSlice {
        // A failed write shows up here, so the gap below is what really is on disk.
        self.flush();
        let total = self.total;
        let offset = offset.min(total);
        let end = offset.saturating_add(length as u64).min(total);
        let mut gap = self.gap().filter(|g| offset < g.end && end > g.start);
        let to = gap.as_ref().map_or(end, |g| g.start.max(offset));
        let bytes = match self.bytes(offset, to) {
            Ok(b) => b,
            Err(why) => {
                gap = Some(Gap {
                    start: offset,
                    end: to,
                    reason: why,
                });
                Vec::new()
            }
        };
        let (a, b) = whole_chars(&bytes, offset > 0);
        let text = String::from_utf8_lossy(&bytes[a..b]).into_owned();
        let start = offset + a as u64;
        let stop = offset + b as u64;
        let next_offset = match &gap {
            Some(g) if stop >= g.start => g.end,
            _ => stop,
        };
        OutputSlice {
            text,
            offset: start,
            total,
            next_offset,
            gap,
        }
    }

    /// Bytes `[from, to)` from memory or the spool; the range lies outside the gap.
    fn bytes(&mut self, from: u64, to: u64) -> Result<Vec<u8>, String> {
        if from >= to {
            return Ok(Vec::new());
        }
        if to <= self.head.len() as u64 {
            return Ok(self.head.as_bytes()[from as usize..to as usize].to_vec());
        }
        let tail_start = self.tail_start();
        if self.overflowed && from >= tail_start {
            let t = self.tail.as_bytes();
            return Ok(t[(from - tail_start) as usize..(to - tail_start) as usize].to_vec());
        }
        match &mut self.spool {
            Spool::Active(f) => match f.read_at(from, (to - from) as usize) {
                Ok(b) if b.len() as u64 == to - from => Ok(b),
                Ok(_) => Err("the spool file ends early".into()),
                Err(e) => Err(format!("reading the spool file failed ({e})")),
            },
            _ => Err("no spool file".into()),
        }
    }

    /// Writes what the spool holds in memory (so a later read sees everything).
    pub fn flush(&mut self) {
        if let Spool::Active(f) = &mut self.spool {
            f.flush();
        }
    }

    /// The first `n` bytes and the last `n` bytes are always available in memory.
    pub fn tail_text(&self, n: usize) -> String {
        let src = if self.tail.is_empty() {
            &self.head
        } else {
            &self.tail
        };
        let start = ceil_boundary(src, src.len().saturating_sub(n));
        src[start..].to_string()
    }
}

/// The whole characters in `bytes`: skips the continuation bytes of a character split at the
/// start (when `mid_stream`), and drops an incomplete character at the end.
fn whole_chars(bytes: &[u8], mid_stream: bool) -> (usize, usize) {
    let is_continuation = |b: u8| b & 0xC0 == 0x80;
    let mut a = 0;
    while mid_stream && a < bytes.len().min(3) && is_continuation(bytes[a]) {
        a += 1;
    }
    let mut b = bytes.len();
    if let Some(lead) = (a..b).rev().take(4).find(|&i| !is_continuation(bytes[i])) {
        let width = match bytes[lead] {
            x if x < 0x80 => 1,
            x if x >= 0xF0 => 4,
            x if x >= 0xE0 => 3,
            _ => 2,
        };
        if lead + width > b {
            b = lead;
        }
    }
    (a, b)
}

pub(super) fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::spool::Spools;

    /// A spool directory in a scratch dir: (per-command cap, total cap).
    fn spools(per_command: u64, total: u64) -> (tempfile::TempDir, Spools) {
        let base = tempfile::tempdir().unwrap();
        let s = Spools::new(Some(base.path()), per_command, total);
        (base, s)
    }

    /// Pushes each piece; returns them all joined.
    fn push_all(b: &mut OutputBuffer, pieces: impl Iterator<Item = String>) -> String {
        let mut all = String::new();
        for p in pieces {
            b.push(&p);
            all.push_str(&p);
        }
        all
    }

    #[test]
    fn small_output_is_returned_whole() {
        let mut b = OutputBuffer::new(100, None);
        b.push("hello\n");
        b.push("wörld");
        assert_eq!(
            b.summary(100, "", "id"),
            ("hello\nwörld".to_string(), false)
        );
        let s = b.read(6, 3);
        assert_eq!((s.text.as_str(), s.next_offset, s.gap), ("wö", 9, None));
    }

    #[test]
    fn large_output_keeps_head_tail_and_spools_everything() {
        let (_base, spools) = spools(1 << 30, 1 << 30);
        let mut b = OutputBuffer::new(1000, Some(spools.slot()));
        let all = push_all(&mut b, (0..10_000).map(|i| format!("line {i}\n")));
        assert_eq!(b.total_bytes(), all.len() as u64);
        let (text, truncated) = b.summary(1000, "", "abc");
        assert!(truncated);
        assert!(text.starts_with("line 0\nline 1\n"));
        assert!(text.ends_with("line 9999\n"));
        assert!(text.contains("read any part with get_command_output(command_id=\"abc\""));
        let s = b.read(12345, 100);
        assert_eq!(s.text, &all[12345..12445]);
        assert_eq!((s.next_offset, s.gap), (12445, None));
        let s = b.read(all.len() as u64 - 5, 100);
        assert_eq!(s.text, "9999\n");
        assert_eq!(s.next_offset, all.len() as u64);
        assert_eq!(spools.used(), all.len() as u64);
        drop(b);
        assert_eq!(spools.used(), 0, "the spool is freed with its command");
    }

    #[test]
    fn one_big_first_piece_still_has_a_head() {
        let (_base, spools) = spools(1 << 30, 1 << 30);
        let mut b = OutputBuffer::new(1000, Some(spools.slot()));
        let big: String = (0..1000).map(|i| format!("{i:05}\n")).collect();
        b.push(&big);
        b.push("end\n");
        let (text, truncated) = b.summary(1000, "", "id");
        assert!(truncated);
        assert!(text.starts_with("00000\n00001\n"), "{text}");
        assert!(text.ends_with("00999\nend\n"), "{text}");
        assert_eq!(b.read(0, 12).text, "00000\n00001\n");
    }

    #[test]
    fn without_a_spool_file_head_and_tail_survive_and_the_gap_is_named() {
        let mut b = OutputBuffer::new(100, None);
        for i in 0..100 {
            b.push(&format!("{i:03}\n"));
        }
        let (text, truncated) = b.summary(100, "", "id");
        assert!(truncated);
        assert!(text.starts_with("000\n001\n"), "{text}");
        assert!(text.ends_with("098\n099\n"), "{text}");
        assert!(
            text.contains("bytes 50-310 are no longer available: no spool file is kept"),
            "{text}"
        );
        // The tail in memory is longer than the part shown.
        assert!(
            text.contains("bytes 310-350 can be read with get_command_output"),
            "{text}"
        );
        assert!(!text.contains("read any part"), "{text}");
        let s = b.read(200, 10);
        assert_eq!((s.text.as_str(), s.next_offset), ("", 310));
        assert_eq!(s.gap.as_ref().map(|g| (g.start, g.end)), Some((50, 310)));
        // The head and the tail in memory are still served.
        assert_eq!(b.read(0, 8).text, "000\n001\n");
        let s = b.read(392, 100);
        assert_eq!((s.text.as_str(), s.gap.is_none()), ("098\n099\n", true));
    }

    #[test]
    fn a_per_command_cap_leaves_a_named_gap_and_paging_skips_it() {
        let (_base, spools) = spools(500, 1 << 30);
        let mut b = OutputBuffer::new(100, Some(spools.slot()));
        let all = push_all(&mut b, (0..100).map(|i| format!("{i:09}\n")));
        // Spool: [0, 500); tail in memory: the last 50 to 100 bytes.
        let gap = b.gap().expect("a gap");
        assert_eq!(gap.start, 500);
        assert!(gap.end > 500 && gap.end <= 950, "{gap:?}");
        assert!(gap.reason.contains("MCP_SSH_SPOOL_LIMIT"), "{gap:?}");
        let (text, _) = b.summary(100, "", "id");
        assert!(
            text.contains("bytes 50-500 can be read with get_command_output"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "bytes 500-{} are no longer available: the spool limit per command",
                gap.end
            )),
            "{text}"
        );
        // Paging from 0 with next_offset never loops and never returns what is gone.
        let mut offset = 0;
        let mut got = String::new();
        let mut gaps = Vec::new();
        while offset < b.total_bytes() {
            let s = b.read(offset, 128);
            assert_eq!(s.offset, offset);
            got.push_str(&s.text);
            if let Some(g) = s.gap {
                gaps.push((g.start, g.end));
            }
            assert!(s.next_offset > offset, "no progress at {offset}");
            offset = s.next_offset;
        }
        assert_eq!(gaps.first(), Some(&(500, gap.end)));
        let expected = format!("{}{}", &all[..500], &all[gap.end as usize..]);
        assert_eq!(got, expected);
        // A read that ends before the gap is complete.
        let s = b.read(100, 100);
        assert_eq!((s.text.as_str(), s.gap), (&all[100..200], None));
    }

    #[test]
    fn the_total_cap_is_shared_by_commands() {
        let (_base, spools) = spools(1 << 30, 1000);
        let mut first = OutputBuffer::new(100, Some(spools.slot()));
        first.push(&"a".repeat(800));
        let mut second = OutputBuffer::new(100, Some(spools.slot()));
        second.push(&"b".repeat(800));
        assert_eq!(first.gap(), None);
        let gap = second.gap().expect("the second one ran out");
        assert_eq!(gap.start, 200);
        assert!(gap.reason.contains("MCP_SSH_SPOOL_TOTAL"), "{gap:?}");
        drop(first);
        let mut third = OutputBuffer::new(100, Some(spools.slot()));
        third.push(&"c".repeat(800));
        assert_eq!(third.gap(), None, "the first one's bytes were freed");
    }

    #[test]
    fn a_spool_that_cannot_be_created_says_why() {
        let spools = Spools::new(None, 1 << 30, 1 << 30);
        let mut b = OutputBuffer::new(100, Some(spools.slot()));
        b.push(&"x".repeat(1000));
        let (text, _) = b.summary(100, "", "id");
        assert!(
            text.contains("no longer available: no spool directory"),
            "{text}"
        );
    }

    #[test]
    fn reads_cut_at_whole_characters() {
        let (_base, spools) = spools(1 << 30, 1 << 30);
        let mut b = OutputBuffer::new(64, Some(spools.slot()));
        let text = "é".repeat(200);
        b.push(&text);
        // Offset 1 is inside the first 'é': the text starts at the next whole one.
        let s = b.read(1, 5);
        assert_eq!((s.text.as_str(), s.offset, s.next_offset), ("éé", 2, 6));
        assert_eq!(whole_chars("aé".as_bytes(), false), (0, 3));
        assert_eq!(whole_chars(&"aé".as_bytes()[..2], false), (0, 1));
        assert_eq!(whole_chars(&"€x".as_bytes()[1..], true), (2, 3));
    }
}
