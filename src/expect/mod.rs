//! The expect-style matcher and the prompt patterns.
//!
//! [`Expect`] reads PTY output chunks from a tokio channel, strips them with a
//! [`Stripper`](crate::term::Stripper) and waits until one of several [`Needle`]s shows up in
//! the clean text: a regex, one of our OSC 7770 markers, a prompt asking for input, or the end
//! of the stream.
//!
//! Why not the expectrl crate: its expect loop busy-waits a core (non-blocking reads without
//! sleeping), it drives its own PTY (ptyprocess) rather than the portable-pty we use, its
//! async mode runs on futures-lite/async-io rather than tokio, and it matches the raw bytes,
//! escape sequences and all. This one is tokio-native, never polls, is cancellable with a
//! `CancellationToken`, and is tested by feeding byte chunks through a channel without a PTY.

pub mod prompts;

pub use prompts::{
    Prompt, PromptKind, ShellPrompt, classify, posix_shell_prompt, repl_prompt, shell_prompt,
};

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::mpsc::{self, error::TryRecvError};
use tokio_util::sync::CancellationToken;

use crate::pty::PtyInput;
use crate::term::{Event, Stripper};

/// Unconsumed clean text kept; older text is dropped (a program that floods output while we
/// wait for a prompt must not grow memory without bound).
const MAX_PENDING: usize = 1024 * 1024;
/// Text before the prompt line that [`classify`] gets (host-key fingerprints sit there).
const RECENT: usize = 4 * 1024;
/// Tail of the output quoted in errors.
const SEEN: usize = 4 * 1024;

/// What to wait for.
#[derive(Debug, Clone)]
pub enum Needle {
    /// A regex over the unconsumed clean text, including the unterminated current line (so a
    /// prompt, which has no newline after it, is matched with `\$ $` or `(?m)...$`).
    Regex(regex::Regex),
    /// Any OSC 7770 marker.
    Marker,
    /// The unterminated line looks like a request for input ([`classify`] returns Some).
    Prompt,
    /// The stream ended (PTY closed).
    Eof,
    /// No output arrived for this long (counted from the last chunk, or from the start of
    /// the wait when nothing came). Consumes nothing; `matched` is the unterminated line.
    Quiet(Duration),
    /// The unterminated line up to the cursor satisfies the predicate once all available
    /// output is read (a prompt waiting). Consumes everything; `matched` is that line.
    Line(fn(&str) -> bool),
}

/// A successful [`Expect::expect`]. `before` + `matched` is exactly the text consumed (for a
/// marker, `before` alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// Index of the needle that matched.
    pub index: usize,
    /// Clean text before the match (consumed).
    pub before: String,
    /// The matched text (for Regex), the marker payload (for Marker), the prompt line as shown
    /// (for Prompt), empty for Eof.
    pub matched: String,
    /// For Prompt matches.
    pub prompt: Option<Prompt>,
}

/// Why [`Expect::expect`] gave up. `seen` is the last few KiB of unconsumed output, which is
/// left unconsumed.
#[derive(Debug, thiserror::Error)]
pub enum ExpectError {
    #[error("timed out after {waited:?}; last output: {seen:?}")]
    Timeout { waited: Duration, seen: String },
    #[error("the output ended (the process closed its terminal); last output: {seen:?}")]
    Eof { seen: String },
    #[error("cancelled")]
    Cancelled,
}

/// The expect-style matcher: owns the byte source and a Stripper, keeps unconsumed clean text
/// (bounded: keep the last 1 MiB).
#[derive(Debug)]
pub struct Expect {
    source: mpsc::Receiver<Vec<u8>>,
    stripper: Stripper,
    /// Unconsumed completed text; the current line still lives in the stripper, where CR and
    /// backspace can change it.
    text: String,
    /// Unconsumed markers with their byte offset in `text`, in stream order.
    markers: VecDeque<(usize, String)>,
    /// Reused buffer for the stripper's events.
    events: Vec<Event>,
    eof: bool,
    /// Where to answer terminal queries (cursor position, device attributes), and the
    /// terminal's height for the answer; None: queries are ignored.
    responder: Option<(PtyInput, u16)>,
}

impl Expect {
    pub fn new(source: mpsc::Receiver<Vec<u8>>) -> Self {
        Self {
            source,
            stripper: Stripper::new(),
            text: String::new(),
            markers: VecDeque::new(),
            events: Vec::new(),
            eof: false,
            responder: None,
        }
    }

    /// Answers the terminal queries programs send (a device that probes the cursor position at
    /// login waits seconds for an answer a real terminal would give at once).
    pub fn answer_queries(&mut self, input: PtyInput, rows: u16) {
        self.responder = Some((input, rows));
    }

    /// Wait until the earliest of `needles` matches (earliest position in the text wins, ties
    /// go to the lower index; a Marker matches at its position in the stream; Prompt and Eof
    /// are checked after all available input is consumed), the timeout passes, or `cancel`
    /// fires. Never busy-waits: it awaits the channel with `tokio::select!`.
    ///
    /// Output that is already available is matched even with a zero timeout. On error nothing
    /// is consumed.
    pub async fn expect(
        &mut self,
        needles: &[Needle],
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<Matched, ExpectError> {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let quiet = needles.iter().enumerate().find_map(|(i, n)| match n {
            Needle::Quiet(d) => Some((i, *d)),
            _ => None,
        });
        let mut last_chunk = tokio::time::Instant::now();
        loop {
            if cancel.is_cancelled() {
                return Err(ExpectError::Cancelled);
            }
            // Regexes and markers are checked after every chunk, so the 1 MiB bound cannot
            // drop a match that a flood of later output would push out.
            loop {
                if let Some(m) = self.match_stream(needles) {
                    return Ok(m);
                }
                if self.eof {
                    break;
                }
                match self.source.try_recv() {
                    Ok(chunk) => {
                        self.ingest(&chunk);
                        last_chunk = tokio::time::Instant::now();
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => self.eof = true,
                }
            }
            if let Some(m) = self.match_idle(needles) {
                return Ok(m);
            }
            if self.eof {
                return Err(ExpectError::Eof { seen: self.seen() });
            }
            let quiet_at = quiet.map(|(_, d)| last_chunk + d);
            tokio::select! {
                // The deadline before the channel: a flood of output must not starve it.
                biased;
                () = cancel.cancelled() => return Err(ExpectError::Cancelled),
                () = &mut deadline => {
                    return Err(ExpectError::Timeout { waited: timeout, seen: self.seen() });
                }
                () = async { tokio::time::sleep_until(quiet_at.expect("checked")).await }, if quiet_at.is_some() => {
                    let index = quiet.expect("checked").0;
                    return Ok(Matched {
                        index,
                        before: String::new(),
                        matched: self.stripper.partial_line(),
                        prompt: None,
                    });
                }
                chunk = self.source.recv() => match chunk {
                    Some(chunk) => {
                        self.ingest(&chunk);
                        last_chunk = tokio::time::Instant::now();
                    }
                    None => self.eof = true,
                },
            }
        }
    }

    /// The unterminated line up to the cursor (a prompt with a right-hand part drawn after it,
    /// such as zsh's RPROMPT, ends where the cursor waits).
    pub fn line_before_cursor(&self) -> String {
        self.stripper.line_before_cursor()
    }

    /// Consumes everything read so far, the unterminated line included, and returns it.
    pub fn take_pending(&mut self) -> String {
        let partial = self.stripper.take_partial_line();
        self.markers.clear();
        let mut text = std::mem::take(&mut self.text);
        text.push_str(&partial);
        text
    }

    /// Unconsumed clean text (completed lines + current partial line).
    pub fn pending_text(&self) -> String {
        let mut s = self.text.clone();
        s.push_str(&self.stripper.partial_line());
        s
    }

    /// Hand the parts back (the session continues with the raw stream). The string is the
    /// unconsumed completed text; the current partial line stays in the stripper, which needs
    /// it to apply later CRs and backspaces. Unconsumed markers are dropped.
    pub fn into_parts(self) -> (mpsc::Receiver<Vec<u8>>, Stripper, String) {
        (self.source, self.stripper, self.text)
    }

    fn ingest(&mut self, chunk: &[u8]) {
        self.stripper.feed(chunk, &mut self.events);
        for event in self.events.drain(..) {
            match event {
                Event::Text(s) => self.text.push_str(&s),
                Event::Marker(payload) => self.markers.push_back((self.text.len(), payload)),
                Event::Query(q) => {
                    if let Some((input, rows)) = &self.responder {
                        let _ = input.write(&q.answer(*rows));
                    }
                }
            }
        }
        if self.text.len() > MAX_PENDING {
            let cut = ceil_char_boundary(&self.text, self.text.len() - MAX_PENDING);
            self.text.drain(..cut);
            // A marker keeps its place in the stream order even if the text before it is gone.
            for (offset, _) in &mut self.markers {
                *offset = offset.saturating_sub(cut);
            }
        }
    }

    /// The earliest Regex or Marker match in what has arrived so far.
    fn match_stream(&mut self, needles: &[Needle]) -> Option<Matched> {
        let marker = needles
            .iter()
            .position(|n| matches!(n, Needle::Marker))
            .and_then(|index| Some((index, self.markers.front()?.0)));
        let has_regex = needles.iter().any(|n| matches!(n, Needle::Regex(_)));

        let mut best: Option<(usize, usize, usize)> = None; // (start, end, needle index)
        let completed = self.text.len();
        let mut with_partial = false;
        if has_regex {
            // When waiting for a marker too, text after the next marker is not searched: it
            // arrived later, so the marker comes first.
            let hay_end = match marker {
                Some((_, offset)) => offset,
                None => {
                    // Search the current line as well, appended in place rather than copying
                    // up to 1 MiB of text; truncated again below unless the match reaches it.
                    self.text.push_str(&self.stripper.partial_line());
                    with_partial = true;
                    self.text.len()
                }
            };
            let hay = &self.text[..hay_end];
            for (index, needle) in needles.iter().enumerate() {
                if let Needle::Regex(re) = needle
                    && let Some(m) = re.find(hay)
                    && best.is_none_or(|(start, _, _)| m.start() < start)
                {
                    best = Some((m.start(), m.end(), index));
                }
            }
        }

        match (best, marker) {
            (Some((start, end, index)), marker)
                if marker.is_none_or(|(mi, offset)| {
                    start < offset || (start == offset && index < mi)
                }) =>
            {
                let before = self.text[..start].to_string();
                let matched = self.text[start..end].to_string();
                if end > completed {
                    // The match took part of the current line: the rest of it becomes plain
                    // pending text, and the stripper starts a fresh line.
                    self.stripper.take_partial_line();
                } else if with_partial {
                    self.text.truncate(completed);
                }
                self.consume(end);
                Some(Matched {
                    index,
                    before,
                    matched,
                    prompt: None,
                })
            }
            (_, Some((index, offset))) => {
                if with_partial {
                    self.text.truncate(completed);
                }
                let (_, payload) = self.markers.pop_front()?;
                let before = self.text[..offset].to_string();
                self.consume(offset);
                Some(Matched {
                    index,
                    before,
                    matched: payload,
                    prompt: None,
                })
            }
            (_, None) => {
                if with_partial {
                    self.text.truncate(completed);
                }
                None
            }
        }
    }

    /// Prompt and Eof: they describe a state (the output stopped here), so they are only
    /// checked once everything available has been read.
    fn match_idle(&mut self, needles: &[Needle]) -> Option<Matched> {
        for (index, needle) in needles.iter().enumerate() {
            if let Needle::Line(wanted) = needle {
                let line = self.stripper.line_before_cursor();
                if !line.trim().is_empty() && wanted(&line) {
                    self.stripper.take_partial_line();
                    return Some(self.consume_all(index, line, None));
                }
            }
            if let Needle::Prompt = needle {
                let partial = self.stripper.partial_line();
                let recent = &self.text
                    [ceil_char_boundary(&self.text, self.text.len().saturating_sub(RECENT))..];
                if let Some(prompt) = classify(&partial, recent) {
                    self.stripper.take_partial_line();
                    return Some(self.consume_all(index, partial, Some(prompt)));
                }
            }
        }
        if self.eof
            && let Some(index) = needles.iter().position(|n| matches!(n, Needle::Eof))
        {
            let partial = self.stripper.take_partial_line();
            self.text.push_str(&partial);
            return Some(self.consume_all(index, String::new(), None));
        }
        None
    }

    fn consume_all(&mut self, index: usize, matched: String, prompt: Option<Prompt>) -> Matched {
        self.markers.clear();
        Matched {
            index,
            before: std::mem::take(&mut self.text),
            matched,
            prompt,
        }
    }

    /// Drops `n` bytes of text and the markers inside them.
    fn consume(&mut self, n: usize) {
        self.text.drain(..n);
        self.markers.retain_mut(|(offset, _)| {
            let keep = *offset >= n;
            *offset = offset.saturating_sub(n);
            keep
        });
    }

    fn seen(&self) -> String {
        let text = self.pending_text();
        text[ceil_char_boundary(&text, text.len().saturating_sub(SEEN))..].to_string()
    }
}

/// The first char boundary at or after `i` (str::ceil_char_boundary needs a newer Rust).
fn ceil_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    const LONG: Duration = Duration::from_secs(10);

    /// Sends `chunks` from a task with a small delay before each; closes the channel after
    /// the last one unless `keep_open`, in which case it waits until the receiver is dropped.
    fn source(chunks: Vec<Vec<u8>>, keep_open: bool) -> mpsc::Receiver<Vec<u8>> {
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            for chunk in chunks {
                tokio::time::sleep(Duration::from_millis(5)).await;
                if tx.send(chunk).await.is_err() {
                    return;
                }
            }
            if keep_open {
                tx.closed().await;
            }
        });
        rx
    }

    fn chunks(parts: &[&[u8]]) -> Vec<Vec<u8>> {
        parts.iter().map(|p| p.to_vec()).collect()
    }

    fn re(pattern: &str) -> Needle {
        Needle::Regex(Regex::new(pattern).unwrap())
    }

    #[tokio::test]
    async fn regex_across_chunk_boundary() {
        let rx = source(
            chunks(&[b"\x1b[1mhello wo", b"rld\x1b[0m\r\nuser@ho", b"st:~$ "]),
            true,
        );
        let mut ex = Expect::new(rx);
        let cancel = CancellationToken::new();
        let m = ex.expect(&[re("world")], LONG, &cancel).await.unwrap();
        assert_eq!(
            (m.index, m.before.as_str(), m.matched.as_str()),
            (0, "hello ", "world")
        );
        let m = ex
            .expect(&[re(r"@host:~\$ $")], LONG, &cancel)
            .await
            .unwrap();
        assert_eq!(m.before, "\nuser");
        assert_eq!(m.matched, "@host:~$ ");
        assert_eq!(ex.pending_text(), "");
    }

    #[tokio::test]
    async fn marker_in_the_middle_of_a_chunk() {
        let rx = source(
            chunks(&[
                b"out1\r\nou",
                b"t2\x1b]77",
                b"70;abc;0;/tmp\x07after\r\nmo",
                b"re",
            ]),
            false,
        );
        let mut ex = Expect::new(rx);
        let cancel = CancellationToken::new();
        let m = ex.expect(&[Needle::Marker], LONG, &cancel).await.unwrap();
        assert_eq!(m.before, "out1\nout2");
        assert_eq!(m.matched, "abc;0;/tmp");
        let m = ex.expect(&[Needle::Eof], LONG, &cancel).await.unwrap();
        assert_eq!(
            (m.index, m.before.as_str(), m.matched.as_str()),
            (0, "after\nmore", "")
        );
    }

    #[tokio::test]
    async fn marker_comes_before_later_text() {
        let rx = source(chunks(&[b"a\x1b]7770;m1\x07b\x1b]7770;m2\x07"]), true);
        let mut ex = Expect::new(rx);
        let cancel = CancellationToken::new();
        let needles = [re("b"), Needle::Marker];
        let m = ex.expect(&needles, LONG, &cancel).await.unwrap();
        assert_eq!(
            (m.index, m.before.as_str(), m.matched.as_str()),
            (1, "a", "m1")
        );
        let m = ex.expect(&needles, LONG, &cancel).await.unwrap();
        assert_eq!(
            (m.index, m.before.as_str(), m.matched.as_str()),
            (0, "", "b")
        );
        let m = ex.expect(&needles, LONG, &cancel).await.unwrap();
        assert_eq!(
            (m.index, m.before.as_str(), m.matched.as_str()),
            (1, "", "m2")
        );
    }

    #[tokio::test]
    async fn prompt_in_three_pieces() {
        let rx = source(
            chunks(&[b"$ sudo ls\r\n[sudo] pass", b"word for bo", b"b: "]),
            true,
        );
        let mut ex = Expect::new(rx);
        let cancel = CancellationToken::new();
        let m = ex
            .expect(&[re("never"), Needle::Prompt], LONG, &cancel)
            .await
            .unwrap();
        assert_eq!(m.index, 1);
        assert_eq!(m.before, "$ sudo ls\n");
        assert_eq!(m.matched, "[sudo] password for bob: ");
        assert_eq!(
            m.prompt,
            Some(Prompt {
                kind: PromptKind::SudoPassword,
                text: "[sudo] password for bob:".into()
            })
        );
        assert_eq!(ex.pending_text(), "");
    }

    #[tokio::test]
    async fn pager_prompt_then_erased() {
        let mut after = vec![0x08; 9];
        after.extend_from_slice(&[b' '; 9]);
        after.extend_from_slice(&[0x08; 9]);
        after.extend_from_slice(b"line2\r\nRouter#");
        let rx = source(vec![b"line1\r\n --More-- ".to_vec(), after], true);
        let mut ex = Expect::new(rx);
        let cancel = CancellationToken::new();
        let m = ex.expect(&[Needle::Prompt], LONG, &cancel).await.unwrap();
        assert_eq!(m.before, "line1\n");
        assert_eq!(m.prompt.map(|p| p.kind), Some(PromptKind::Pager));
        let m = ex.expect(&[re(r"#$")], LONG, &cancel).await.unwrap();
        assert_eq!(m.before, "line2    \nRouter");
    }

    #[tokio::test]
    async fn quiet_matches_after_output_pauses_and_consumes_nothing() {
        let (tx, rx) = mpsc::channel(4);
        let mut ex = Expect::new(rx);
        let cancel = CancellationToken::new();
        tx.send(b"motd\r\nhost> ".to_vec()).await.unwrap();
        let quiet = Duration::from_millis(100);
        let m = ex
            .expect(&[re("never"), Needle::Quiet(quiet)], LONG, &cancel)
            .await
            .unwrap();
        assert_eq!(
            (m.index, m.before.as_str(), m.matched.as_str()),
            (1, "", "host> ")
        );
        assert_eq!(ex.pending_text(), "motd\nhost> ");
        // A regex that is there still wins over quiet.
        let m = ex
            .expect(&[re("motd"), Needle::Quiet(quiet)], LONG, &cancel)
            .await
            .unwrap();
        assert_eq!(m.index, 0);
        drop(tx);
    }

    #[tokio::test]
    async fn line_predicate_sees_the_line_up_to_the_cursor() {
        let rx = source(
            chunks(&[b"banner\r\nuser@h ~ % ", b"\x1b[20C[12:00]\x1b[27D"]),
            true,
        );
        let mut ex = Expect::new(rx);
        let cancel = CancellationToken::new();
        fn percent(l: &str) -> bool {
            l.trim_end().ends_with('%')
        }
        let m = ex
            .expect(&[re("never"), Needle::Line(percent)], LONG, &cancel)
            .await
            .unwrap();
        assert_eq!(
            (m.index, m.before.as_str(), m.matched.as_str()),
            (1, "banner\n", "user@h ~ % ")
        );
        assert_eq!(ex.pending_text(), "");
    }

    #[tokio::test]
    async fn eof_when_sender_dropped() {
        let rx = source(chunks(&[b"bye\r\n", b"partial"]), false);
        let mut ex = Expect::new(rx);
        let cancel = CancellationToken::new();
        match ex.expect(&[re("never")], LONG, &cancel).await {
            Err(ExpectError::Eof { seen }) => assert_eq!(seen, "bye\npartial"),
            other => panic!("expected Eof, got {other:?}"),
        }
        // Nothing was consumed; an Eof needle now matches and takes everything.
        let m = ex
            .expect(&[re("never"), Needle::Eof], LONG, &cancel)
            .await
            .unwrap();
        assert_eq!((m.index, m.before.as_str()), (1, "bye\npartial"));
        assert_eq!(ex.pending_text(), "");
    }

    #[tokio::test]
    async fn timeout_returns_seen_text() {
        let rx = source(chunks(&[b"some ", b"output\r\nmore"]), true);
        let mut ex = Expect::new(rx);
        let cancel = CancellationToken::new();
        let started = std::time::Instant::now();
        let wait = Duration::from_millis(200);
        match ex.expect(&[re("never")], wait, &cancel).await {
            Err(ExpectError::Timeout { waited, seen }) => {
                assert_eq!(waited, wait);
                assert_eq!(seen, "some output\nmore");
            }
            other => panic!("expected Timeout, got {other:?}"),
        }
        assert!(started.elapsed() >= wait);
        assert_eq!(ex.pending_text(), "some output\nmore");
    }

    #[tokio::test]
    async fn timeout_under_a_flood() {
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(
            async move { while tx.send(b"flood flood flood\r\n".to_vec()).await.is_ok() {} },
        );
        let mut ex = Expect::new(rx);
        let cancel = CancellationToken::new();
        let started = std::time::Instant::now();
        let res = ex
            .expect(&[re("never")], Duration::from_millis(100), &cancel)
            .await;
        assert!(matches!(res, Err(ExpectError::Timeout { .. })), "{res:?}");
        assert!(started.elapsed() < LONG);
        assert!(ex.pending_text().len() <= MAX_PENDING);
    }

    #[tokio::test]
    async fn cancelled_via_token() {
        let rx = source(chunks(&[b"waiting"]), true);
        let mut ex = Expect::new(rx);
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            trigger.cancel();
        });
        let res = ex.expect(&[re("never")], LONG, &cancel).await;
        assert!(matches!(res, Err(ExpectError::Cancelled)), "{res:?}");
        assert_eq!(ex.pending_text(), "waiting");
    }

    #[tokio::test]
    async fn earliest_position_wins() {
        // Both chunks are queued before expect runs, so both regexes see the whole line.
        let (tx, rx) = mpsc::channel(4);
        tx.send(b"alpha be".to_vec()).await.unwrap();
        tx.send(b"ta gamma\r\nabc".to_vec()).await.unwrap();
        let mut ex = Expect::new(rx);
        let cancel = CancellationToken::new();
        let needles = [re("gamma"), re("beta")];
        let m = ex.expect(&needles, LONG, &cancel).await.unwrap();
        assert_eq!(
            (m.index, m.before.as_str(), m.matched.as_str()),
            (1, "alpha ", "beta")
        );
        let m = ex.expect(&needles, LONG, &cancel).await.unwrap();
        assert_eq!(
            (m.index, m.before.as_str(), m.matched.as_str()),
            (0, " ", "gamma")
        );
        // Same start: the lower index wins.
        let m = ex
            .expect(&[re("abc"), re("ab")], LONG, &cancel)
            .await
            .unwrap();
        assert_eq!(
            (m.index, m.before.as_str(), m.matched.as_str()),
            (0, "\n", "abc")
        );
        drop(tx);
    }

    #[tokio::test]
    async fn available_output_matches_with_zero_timeout() {
        let (tx, rx) = mpsc::channel(2);
        tx.send(b"ready> ".to_vec()).await.unwrap();
        let mut ex = Expect::new(rx);
        let cancel = CancellationToken::new();
        let m = ex
            .expect(&[re("> $")], Duration::ZERO, &cancel)
            .await
            .unwrap();
        assert_eq!(m.before, "ready");
        let res = ex.expect(&[re("> $")], Duration::ZERO, &cancel).await;
        assert!(matches!(res, Err(ExpectError::Timeout { .. })), "{res:?}");
        drop(tx);
    }

    #[tokio::test]
    async fn consumed_prompt_line_does_not_come_back() {
        let (tx, rx) = mpsc::channel(4);
        let mut ex = Expect::new(rx);
        let cancel = CancellationToken::new();
        tx.send(b"user@host:~$ ".to_vec()).await.unwrap();
        let m = ex.expect(&[re(r"\$ $")], LONG, &cancel).await.unwrap();
        assert_eq!(m.before, "user@host:~");
        tx.send(b"ls\r\nfile\r\nuser@host:~$ ".to_vec())
            .await
            .unwrap();
        let m = ex.expect(&[re(r"\$ $")], LONG, &cancel).await.unwrap();
        assert_eq!(m.before, "ls\nfile\nuser@host:~");
    }

    #[tokio::test]
    async fn pending_text_is_bounded() {
        let line = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\r\n";
        let chunk = line.repeat(1024); // 64 KiB raw, 63 KiB clean
        let mut parts = vec![chunk; 48];
        parts.push(b"the end\r\n".to_vec());
        let rx = source(parts, true);
        let mut ex = Expect::new(rx);
        let cancel = CancellationToken::new();
        let m = ex.expect(&[re("the end")], LONG, &cancel).await.unwrap();
        assert!(m.before.len() <= MAX_PENDING, "{}", m.before.len());
        assert!(m.before.ends_with("abcd\n"));
    }

    #[tokio::test]
    async fn into_parts_hands_back_state() {
        let (tx, rx) = mpsc::channel(4);
        tx.send(b"done\r\nleft over\r\nhalf".to_vec())
            .await
            .unwrap();
        let mut ex = Expect::new(rx);
        let cancel = CancellationToken::new();
        ex.expect(&[re("done\n")], LONG, &cancel).await.unwrap();
        let (mut rx, stripper, text) = ex.into_parts();
        assert_eq!(text, "left over\n");
        assert_eq!(stripper.partial_line(), "half");
        tx.send(b"more".to_vec()).await.unwrap();
        assert_eq!(rx.recv().await.unwrap(), b"more");
    }
}
