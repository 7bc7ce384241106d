//! What a device says: pager prompts, login interstitials, error lines, the replies to setup
//! commands and the steps of `enable`.

use std::sync::LazyLock;

use regex::Regex;

use super::{Detected, Family, INTERSTITIALS, Mode, PromptMatch, Setup, is_prompt_of};

/// Longest current line taken for a pager or interstitial prompt.
const MAX_QUESTION: usize = 256;

/// A pager prompt on the current line: consume the line (its erasure follows the answer) and
/// type `answer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pager {
    pub answer: &'static str,
}

/// The pager prompt `line` (the current unterminated line) is, if it is one, of any family:
/// ` --More-- `, `---(more 42%)---`, `  ---- More ----`, `<--- More --->`,
/// `-- [Q quit|D dump|down]`, `Press any key to continue`...
pub fn pager(line: &str) -> Option<Pager> {
    let shown = question(line)?;
    super::PAGERS
        .iter()
        .find(|(re, _)| re.is_match(shown))
        .map(|&(_, answer)| Pager { answer })
}

/// A question between login and the first prompt, with its conservative answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interstitial {
    /// What to call it in the result (`software licence question`).
    pub name: &'static str,
    pub answer: &'static str,
}

static INTERSTITIAL_RES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    INTERSTITIALS
        .iter()
        .map(|i| Regex::new(i.pattern).expect("interstitial pattern"))
        .collect()
});

/// The login interstitial `line` (the current unterminated line) is, if any: Huawei's
/// `Change now? [Y/N]:` (N), MikroTik's `Do you want to see the software license? [Y/n]:` (n),
/// FortiOS's `(Press 'a' to accept):` (a), `Press any key to continue`, `Press Y or ENTER to
/// continue` and `Please press "Enter" to continue!` (Enter).
pub fn interstitial(line: &str) -> Option<Interstitial> {
    let shown = question(line)?;
    let at = INTERSTITIAL_RES.iter().position(|re| re.is_match(shown))?;
    Some(Interstitial {
        name: INTERSTITIALS[at].name,
        answer: INTERSTITIALS[at].answer,
    })
}

fn question(line: &str) -> Option<&str> {
    let shown = line.trim();
    (!shown.is_empty() && shown.len() <= MAX_QUESTION).then_some(shown)
}

/// The first line of `text` (a command's output) that has one of the family's error shapes
/// (`% Invalid input detected at '^' marker.`, `syntax error, expecting <command>.`,
/// `Error: Unrecognized command found at '^' position.`, `bad command name x (line 1 column
/// 1)`), trimmed: the `device_error` of a result.
pub fn device_error(family: &Family, text: &str) -> Option<String> {
    let errors = &family.compiled().errors;
    text.lines()
        .map(str::trim)
        .find(|line| errors.iter().any(|re| re.is_match(line)))
        .map(str::to_string)
}

/// What a device made of a [`Setup`] command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Done (confirmed, or no error where no confirmation is expected).
    Accepted,
    /// The device refused it: its error line (IOS-XE refuses `terminal length 0` in user exec).
    Refused(String),
    /// No error, but not the confirmation expected either: assume it did not take.
    Unconfirmed,
}

/// Reads `reply`, the output of `setup` (one of `family`'s entries).
pub fn setup_reply(family: &Family, setup: &Setup, reply: &str) -> Reply {
    if let Some(error) = device_error(family, reply) {
        return Reply::Refused(error);
    }
    let index = family
        .setup
        .iter()
        .position(|s| std::ptr::eq(s, setup))
        .expect("setup_reply: the Setup is one of the family's entries");
    match &family.compiled().confirms[index] {
        Some(re) if !re.is_match(reply) => Reply::Unconfirmed,
        _ => Reply::Accepted,
    }
}

/// Where `enable` stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnableStep {
    /// The device asks for the enable password. A second time means the first was wrong.
    Password,
    /// Privileged: the prompt to re-learn.
    Done(Detected),
    /// Back at an unprivileged prompt: the device's reason (`% Bad secrets`, `% Access
    /// denied`), or what the prompt shows.
    Refused(String),
}

/// The state of `enable` on the device `learned` describes, from `text` (the completed
/// output since the enable command was sent) and `line` (the current line). None while it is
/// still under way, and for families without enable.
pub fn enable_step(learned: &Detected, text: &str, line: &str) -> Option<EnableStep> {
    let (password, rejected, confirm) = learned.family.compiled().enable.as_ref()?;
    if question(line).is_some_and(|q| password.is_match(q)) {
        return Some(EnableStep::Password);
    }
    let now = match is_prompt_of(learned, line)? {
        PromptMatch::Same => learned.clone(),
        PromptMatch::Moved(found) | PromptMatch::Renamed(found) => found,
    };
    if let Some(reason) = text.lines().map(str::trim).find(|l| rejected.is_match(l)) {
        return Some(EnableStep::Refused(reason.to_string()));
    }
    if now.mode == Mode::Privileged || confirm.as_ref().is_some_and(|re| re.is_match(text)) {
        return Some(EnableStep::Done(now));
    }
    let reason = device_error(learned.family, text)
        .unwrap_or_else(|| format!("the prompt is still {:?}", now.prompt.trim()));
    Some(EnableStep::Refused(reason))
}
