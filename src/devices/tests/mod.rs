//! Unit tests of the device functions, fed the way a device dialect gets its input: raw bytes
//! through the [`Stripper`], cut at every position (inside escape sequences, between `\r` and
//! `\n`, inside pager prompts) and byte by byte, asserting exactly what came out.

mod coverage;
mod echo;
mod pagers;
mod prompts;
mod replies;

use super::*;
use crate::term::{Event, Stripper};

/// What a device dialect has seen after the device wrote `segments` (each one what the device
/// writes before it waits for a key): completed text, the current line, and the pager answers
/// it typed (after each chunk a pager prompt on the current line is consumed and answered).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    text: String,
    line: String,
    answers: Vec<&'static str>,
}

/// Plays `segments` with every segment cut by `cuts(segment index, segment)`, answering pager
/// prompts when `answer` is set.
fn play(segments: &[&[u8]], answer: bool, cuts: &dyn Fn(usize, &[u8]) -> Vec<usize>) -> Seen {
    let mut stripper = Stripper::new();
    let mut seen = Seen {
        text: String::new(),
        line: String::new(),
        answers: Vec::new(),
    };
    for (n, segment) in segments.iter().enumerate() {
        let mut at = 0;
        for end in cuts(n, segment).into_iter().chain([segment.len()]) {
            let mut events = Vec::new();
            stripper.feed(&segment[at..end], &mut events);
            at = end;
            for event in events {
                if let Event::Text(text) = event {
                    seen.text.push_str(&text);
                }
            }
            if let Some(p) = pager(&stripper.partial_line()).filter(|_| answer) {
                stripper.take_partial_line();
                seen.answers.push(p.answer);
            }
        }
    }
    seen.line = stripper.partial_line();
    seen
}

/// Plays `segments` whole, byte by byte, and with each segment cut in two at every position,
/// answering pagers; every run must see the same. Returns what they saw.
fn seen(segments: &[&[u8]]) -> Seen {
    every_cut(segments, true)
}

fn every_cut(segments: &[&[u8]], answer: bool) -> Seen {
    let whole = play(segments, answer, &|_, _| Vec::new());
    let bytewise = play(segments, answer, &|_, s| (1..s.len()).collect());
    assert_eq!(bytewise, whole, "byte by byte");
    for (n, segment) in segments.iter().enumerate() {
        for cut in 1..segment.len() {
            let got = play(segments, answer, &|i, _| {
                if i == n { vec![cut] } else { Vec::new() }
            });
            assert_eq!(got, whole, "segment {n} cut at {cut}");
        }
    }
    whole
}

/// The current line a terminal shows after `bytes` (no pager answered), checked at every cut.
fn line_of(bytes: &[u8]) -> String {
    every_cut(&[bytes], false).line
}

/// Completed text and current line after `bytes` in one piece (no cuts, no pager answered).
fn render(bytes: &[u8]) -> String {
    let s = play(&[bytes], false, &|_, _| Vec::new());
    s.text + &s.line
}

/// `detect`, for a prompt the test knows is one.
fn learned(prompt: &str) -> Detected {
    detect(prompt).unwrap_or_else(|| panic!("{prompt:?} is not detected"))
}

/// `[a, b, ...]` of byte slices, concatenated (for bytes with long runs of one value).
fn bytes(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}
