//! A command's output with bounded memory: everything while it is small, then the head and
//! the tail in memory and the whole stream in a spool file (itself capped) for paging.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

/// Output of one command.
#[derive(Debug)]
pub struct OutputBuffer {
    /// Everything, while `total <= inline_cap`; afterwards the first `inline_cap / 2` bytes.
    head: String,
    /// The last `inline_cap / 2` bytes once the output outgrew `inline_cap`.
    tail: String,
    total: u64,
    inline_cap: usize,
    /// The output outgrew `inline_cap`: head and tail (and the spool) hold it from then on.
    overflowed: bool,
    spool: Option<Spool>,
    spool_path: Option<PathBuf>,
    spool_cap: u64,
}

#[derive(Debug)]
struct Spool {
    writer: BufWriter<File>,
    written: u64,
}

/// A slice of output read back by offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSlice {
    pub text: String,
    pub offset: u64,
    pub total: u64,
    /// False when the requested range is no longer available (beyond the spool cap).
    pub complete: bool,
}

impl OutputBuffer {
    /// `inline_cap`: bytes returned inline; `spool_path`: where the full output goes once it is
    /// larger (None: keep head and tail only).
    pub fn new(inline_cap: usize, spool_path: Option<PathBuf>, spool_cap: u64) -> Self {
        OutputBuffer {
            head: String::new(),
            tail: String::new(),
            total: 0,
            inline_cap: inline_cap.max(64),
            overflowed: false,
            spool: None,
            spool_path,
            spool_cap,
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
        self.write_spool(text);
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

    fn start_spool(&mut self) {
        let Some(path) = &self.spool_path else { return };
        match File::options()
            .create_new(true)
            .read(true)
            .write(true)
            .open(path)
        {
            Ok(f) => {
                let mut spool = Spool {
                    writer: BufWriter::with_capacity(64 * 1024, f),
                    written: 0,
                };
                let head = self.head.clone();
                if spool.writer.write_all(head.as_bytes()).is_ok() {
                    spool.written = head.len() as u64;
                }
                self.spool = Some(spool);
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot create output spool file; keeping head and tail only")
            }
        }
    }

    fn write_spool(&mut self, text: &str) {
        let cap = self.spool_cap;
        if let Some(s) = &mut self.spool {
            let room = cap.saturating_sub(s.written) as usize;
            let n = floor_boundary(text, room.min(text.len()));
            if n > 0 && s.writer.write_all(&text.as_bytes()[..n]).is_ok() {
                s.written += n as u64;
            }
        }
    }

    /// The output for a tool result: whole if it fits `limit`, else head and tail with a note
    /// saying how much was left out and how to read it. Returns (text, truncated).
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
        let omitted = total.saturating_sub((head.len() + tail.len()) as u64);
        let how = if self.spool.is_some() {
            format!(
                "read any part with get_command_output(command_id=\"{command_id}\", offset=N, length=N)"
            )
        } else {
            "the full output was not kept (no spool file)".to_string()
        };
        let note = format!(
            "\n[... {omitted} bytes omitted of {total} total; showing the first {} and last {} bytes; {how} ...]\n",
            head.len(),
            tail.len()
        );
        (format!("{head}{note}{tail}"), true)
    }

    /// Reads `length` bytes from `offset` (clamped to char boundaries).
    pub fn read(&mut self, offset: u64, length: usize) -> OutputSlice {
        let total = self.total;
        let offset = offset.min(total);
        let end = (offset + length as u64).min(total);
        if self.spool.is_none() {
            // Without a spool file only the head is known beyond doubt.
            let text = &self.head;
            let a = floor_boundary(text, (offset as usize).min(text.len()));
            let b = floor_boundary(text, (end as usize).min(text.len())).max(a);
            return OutputSlice {
                text: text[a..b].to_string(),
                offset: a as u64,
                total,
                complete: !self.overflowed || end as usize <= text.len(),
            };
        }
        let spool = self.spool.as_mut().expect("checked");
        let _ = spool.writer.flush();
        let available = spool.written;
        let want_end = end.min(available);
        let mut bytes = vec![0u8; want_end.saturating_sub(offset) as usize];
        let ok = spool.writer.get_mut().seek(SeekFrom::Start(offset)).is_ok()
            && spool.writer.get_mut().read_exact(&mut bytes).is_ok();
        let _ = spool.writer.get_mut().seek(SeekFrom::End(0));
        if !ok {
            bytes.clear();
        }
        // Trim partial UTF-8 at both ends so the text is valid; report where it really starts.
        let mut start = 0;
        while start < bytes.len() && start < 4 && (bytes[start] & 0xC0) == 0x80 && offset > 0 {
            start += 1;
        }
        let text = String::from_utf8_lossy(&bytes[start..]).into_owned();
        let text = match text.strip_suffix('\u{FFFD}') {
            Some(t) if end < total => t.to_string(),
            _ => text,
        };
        OutputSlice {
            text,
            offset: offset + start as u64,
            total,
            complete: end <= available,
        }
    }

    /// Flushes the spool (so a later read sees everything).
    pub fn flush(&mut self) {
        if let Some(s) = &mut self.spool {
            let _ = s.writer.flush();
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

impl Drop for OutputBuffer {
    fn drop(&mut self) {
        if self.spool.take().is_some()
            && let Some(p) = &self.spool_path
        {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
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

    #[test]
    fn small_output_is_returned_whole() {
        let mut b = OutputBuffer::new(100, None, 0);
        b.push("hello\n");
        b.push("wörld");
        assert_eq!(
            b.summary(100, "", "id"),
            ("hello\nwörld".to_string(), false)
        );
        assert_eq!(b.read(6, 3).text, "wö");
    }

    #[test]
    fn large_output_keeps_head_tail_and_spools_everything() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = OutputBuffer::new(1000, Some(dir.path().join("s")), 1 << 30);
        let mut all = String::new();
        for i in 0..10_000 {
            let line = format!("line {i}\n");
            all.push_str(&line);
            b.push(&line);
        }
        assert_eq!(b.total_bytes(), all.len() as u64);
        let (text, truncated) = b.summary(1000, "", "abc");
        assert!(truncated);
        assert!(text.starts_with("line 0\nline 1\n"));
        assert!(text.ends_with("line 9999\n"));
        assert!(text.contains("get_command_output(command_id=\"abc\""));
        let s = b.read(12345, 100);
        assert_eq!(s.text, &all[12345..12445]);
        assert!(s.complete);
        let s = b.read(all.len() as u64 - 5, 100);
        assert_eq!(s.text, "9999\n");
    }

    #[test]
    fn one_big_first_piece_still_has_a_head() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = OutputBuffer::new(1000, Some(dir.path().join("s")), 1 << 30);
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
    fn without_a_spool_file_head_and_tail_survive() {
        let mut b = OutputBuffer::new(100, None, 0);
        for i in 0..100 {
            b.push(&format!("{i:03}\n"));
        }
        let (text, truncated) = b.summary(100, "", "id");
        assert!(truncated);
        assert!(text.starts_with("000\n001\n"), "{text}");
        assert!(text.ends_with("098\n099\n"), "{text}");
        assert!(text.contains("not kept"), "{text}");
        assert!(!b.read(200, 10).complete);
    }

    #[test]
    fn spool_cap_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = OutputBuffer::new(100, Some(dir.path().join("s")), 500);
        for _ in 0..100 {
            b.push("0123456789");
        }
        let s = b.read(400, 200);
        assert_eq!(s.text.len(), 100);
        assert!(!s.complete);
    }
}
