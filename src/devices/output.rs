//! A command's output as the device printed it, made clean: its echo found and its trailing
//! prompt, pager remnants and erasure spaces removed. Works on the text the
//! [`Stripper`](crate::term::Stripper) renders, where backspace repaints, `ESC[nD` moves and
//! MikroTik's redraw have already been applied.

use std::sync::LazyLock;

use regex::Regex;

use super::prompt::MAX_PROMPT;
use super::{Detected, FAMILIES, re};

/// Every family's pager prompts, as one regex over a whole (trimmed) line.
static PAGER_LINE: LazyLock<Regex> = LazyLock::new(|| {
    re(&FAMILIES
        .iter()
        .flat_map(|f| f.pagers)
        .map(|p| format!("(?:{})", p.pattern))
        .collect::<Vec<_>>()
        .join("|"))
});

/// The same prompts at the start of a line that goes on: left behind by an erasure that
/// missed (or a line that was never consumed).
static PAGER_REMNANT: LazyLock<Regex> = LazyLock::new(|| {
    let bare: Vec<String> = FAMILIES
        .iter()
        .flat_map(|f| f.pagers)
        .map(|p| {
            let (flags, body) = match p.pattern.strip_prefix("(?i)") {
                Some(body) => ("(?i)", body),
                None => ("", p.pattern),
            };
            let body = body.trim_start_matches('^').trim_end_matches('$');
            format!("(?:{flags}{body})")
        })
        .collect();
    re(&format!(r"^\s*(?:{})\s*", bare.join("|")))
});

/// Where the echo of a command ends in its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// The output proper starts at this byte offset (after the echo's newline).
    Ends(usize),
    /// The lines so far could be the start of a longer (wrapped) echo: wait for more.
    Incomplete,
    /// The first line is not the echo (echo off, or something else came first): keep it.
    Absent,
}

/// Where the echo of `command` ends in `text`, the completed lines that followed sending it.
/// The echo is the prompt (or none, when the prompt line was consumed) and the command as the
/// line model shows it: plain; scrolled by IOS (`R1#$ng-config | include x`, backspace
/// repaints applied); broken over several lines (MikroTik's redraw at the terminal width);
/// or rewritten by the device (Junos completes `sh ver` to `show version `). A line holding
/// only the prompt before the echo (a stray prompt) is part of it.
pub fn echo_end(learned: &Detected, command: &str, text: &str) -> Echo {
    let wanted = squash(command.lines().next().unwrap_or(""));
    let mut seen = String::new();
    let mut consumed = 0;
    let mut first = true;
    for line in text.split_inclusive('\n') {
        let Some(body) = line.strip_suffix('\n') else {
            return Echo::Incomplete;
        };
        let before = consumed;
        consumed += line.len();
        let (body, prompted) = match first.then(|| after_prompt(learned, body)).flatten() {
            Some(rest) => (rest, true),
            None => (body, false),
        };
        seen.push_str(&squash(body));
        if seen == wanted {
            return Echo::Ends(consumed);
        }
        if first && prompted && seen.is_empty() {
            // A stray prompt line: the echo is still to come.
            continue;
        }
        if first && scrolled_echo(&seen, &wanted) {
            return Echo::Ends(consumed);
        }
        if !seen.is_empty() && seen.len() < wanted.len() && wanted.starts_with(&seen) {
            first = false;
            continue;
        }
        return match (first, prompted) {
            // The device rewrote the command (completion, repaint) after the prompt.
            (true, true) => Echo::Ends(consumed),
            (true, false) => Echo::Absent,
            (false, _) => Echo::Ends(before),
        };
    }
    Echo::Incomplete
}

/// IOS shows a line longer than the terminal scrolled, `$` where it was cut: the end of the
/// command after a `$` (or, as ASA redraws it, its start before one).
fn scrolled_echo(seen: &str, wanted: &str) -> bool {
    let tail = seen.strip_prefix('$').filter(|t| !t.is_empty());
    let head = seen.strip_suffix('$').filter(|h| !h.is_empty());
    tail.is_some_and(|t| wanted.ends_with(t)) || head.is_some_and(|h| wanted.starts_with(h))
}

/// `line` after the prompt it starts with: the learned prompt, or else any prompt of the
/// family (the shortest that reads as one).
fn after_prompt<'a>(learned: &Detected, line: &'a str) -> Option<&'a str> {
    if let Some(rest) = line.strip_prefix(learned.prompt.trim_end()) {
        return Some(rest);
    }
    line.char_indices()
        .take_while(|(i, _)| *i < MAX_PROMPT)
        .filter(|(_, c)| matches!(c, '>' | '#' | ']' | '$' | '%'))
        .map(|(i, c)| i + c.len_utf8())
        .find(|&end| learned.family.parse_prompt(&line[..end]).is_some())
        .map(|end| &line[end..])
}

/// Text without whitespace: echoes differ from the command in spacing (completion appends a
/// space, erasures leave trailing ones).
fn squash(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The output `text` (after the echo, up to and including the prompt that completed it)
/// cleaned: without the trailing prompt and the context lines above it (`[edit]`), without
/// pager prompts that survived (whole, or at the start of a line), without the spaces
/// erasures leave at the end of lines, and without leading and trailing blank lines. Lines
/// end with `\n`.
pub fn clean_output(learned: &Detected, text: &str) -> String {
    let family = learned.family;
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.last().is_some_and(|last| {
        last.trim() == learned.prompt.trim() || family.parse_prompt(last).is_some()
    }) {
        lines.pop();
        while lines
            .last()
            .is_some_and(|l| l.trim().is_empty() || family.is_context_line(l))
        {
            lines.pop();
        }
    }
    let kept: Vec<&str> = lines
        .into_iter()
        .filter_map(without_pager)
        .map(str::trim_end)
        .collect();
    let start = kept
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(kept.len());
    let end = kept
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(start, |i| i + 1);
    kept[start..end].iter().map(|l| format!("{l}\n")).collect()
}

/// One completed output line as it should be shown (for output streamed line by line): None
/// for a line that is only a pager prompt, else the line without a pager remnant at its start
/// and without the trailing spaces an erasure leaves.
pub fn clean_line(line: &str) -> Option<&str> {
    without_pager(line).map(str::trim_end)
}

/// `line` without a pager prompt that starts it; None when the line is only a pager prompt.
fn without_pager(line: &str) -> Option<&str> {
    if PAGER_LINE.is_match(line.trim()) {
        return None;
    }
    Some(PAGER_REMNANT.find(line).map_or(line, |m| &line[m.end()..]))
}
