//! The last bytes a PTY produced, raw, for models that are built only when asked for
//! (the screen of `read_screen`): plain commands pay a copy, not a terminal emulation.

use std::collections::VecDeque;

/// A bounded ring of raw terminal bytes with a running byte count.
#[derive(Debug)]
pub struct RawTail {
    buf: VecDeque<u8>,
    cap: usize,
    total: u64,
}

impl RawTail {
    pub fn new(cap: usize) -> Self {
        RawTail {
            buf: VecDeque::with_capacity(cap.min(64 * 1024)),
            cap: cap.max(1),
            total: 0,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let bytes = if bytes.len() > self.cap {
            &bytes[bytes.len() - self.cap..]
        } else {
            bytes
        };
        let overflow = (self.buf.len() + bytes.len()).saturating_sub(self.cap);
        self.buf.drain(..overflow);
        self.buf.extend(bytes);
    }

    /// Bytes produced so far, in all.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The bytes after position `from` (a previous `total()`), and whether some of them were
    /// already dropped (then the caller should rebuild its model from what is left).
    pub fn since(&self, from: u64) -> (Vec<u8>, bool) {
        let start_of_buf = self.total - self.buf.len() as u64;
        if from < start_of_buf {
            return (self.buf.iter().copied().collect(), true);
        }
        let skip = (from - start_of_buf) as usize;
        (self.buf.iter().skip(skip).copied().collect(), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_tail_and_reports_gaps() {
        let mut t = RawTail::new(8);
        t.push(b"abcd");
        assert_eq!(t.since(0), (b"abcd".to_vec(), false));
        assert_eq!(t.since(2), (b"cd".to_vec(), false));
        t.push(b"efghij");
        assert_eq!(t.total(), 10);
        assert_eq!(t.since(0), (b"cdefghij".to_vec(), true));
        assert_eq!(t.since(4), (b"efghij".to_vec(), false));
        t.push(&[b'x'; 20]);
        assert_eq!(t.since(10), (vec![b'x'; 8], true));
    }
}
