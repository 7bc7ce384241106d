//! Prompts: which family and mode a line is the prompt of, and whether a line is a prompt of
//! the device a session learned.

use super::{FAMILIES, Family, Mode};

/// Longest line taken for a prompt: anything longer is output (and regexes stay cheap on the
/// 256 KiB lines a program without newlines can leave).
pub(super) const MAX_PROMPT: usize = 256;
/// IOS shortens long host names in configuration prompts; a host name that is a prefix of
/// the learned one, at least this long, is the same device.
const MIN_TRUNCATED_HOST: usize = 16;

/// A device prompt, read: what [`detect`] learns at login and [`is_prompt_of`] re-learns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    pub family: &'static Family,
    pub mode: Mode,
    pub hostname: String,
    /// The sub-mode or menu the prompt shows (`config-if`, `/system identity`,
    /// `GigabitEthernet0/0/1`), if any.
    pub submode: Option<String>,
    /// The prompt as the device prints it (with its trailing space, if any).
    pub prompt: String,
}

impl Family {
    /// This family's reading of `line` as a prompt.
    pub fn parse_prompt(&'static self, line: &str) -> Option<Detected> {
        let shown = line.trim();
        if shown.is_empty() || shown.len() > MAX_PROMPT {
            return None;
        }
        let res = self.prompt_res();
        if res.not_prompts.iter().any(|re| re.is_match(shown)) {
            return None;
        }
        res.prompts.iter().find_map(|(mode, re)| {
            let caps = re.captures(shown)?;
            Some(Detected {
                family: self,
                mode: *mode,
                hostname: caps["host"].to_string(),
                submode: caps.name("sub").map(|m| m.as_str().to_string()),
                prompt: line.trim_start().to_string(),
            })
        })
    }

    /// Is `line` one of the lines a prompt of this family prints above itself (`[edit]`)?
    pub fn is_context_line(&self, line: &str) -> bool {
        let shown = line.trim();
        !shown.is_empty()
            && shown.len() <= MAX_PROMPT
            && self
                .compiled()
                .context_lines
                .iter()
                .any(|re| re.is_match(shown))
    }
}

/// The device prompt `line` is (the login's last line, or the line after Enter), if it is
/// one: the first family of [`FAMILIES`] whose prompt shapes match. POSIX shell prompts
/// (`user@host:~$ `, `root@vm:~# `, `[u@h dir]$ `, `bash-5.2$ `, `~ $ `) are not claimed.
pub fn detect(line: &str) -> Option<Detected> {
    FAMILIES.iter().find_map(|f| f.parse_prompt(line))
}

/// How a line relates to the prompt a session learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptMatch {
    /// The learned prompt itself.
    Same,
    /// Another prompt of the same device: a mode change (`>` to `#`, `(config)#`,
    /// `(config-if)#`, `[edit]` above `user@r1#`, `<R1>` to `[R1]`, a MikroTik menu). Re-learn.
    Moved(Detected),
    /// A prompt of the same family with another host name: the device was renamed, or this is
    /// a prompt-shaped line of output. Trust it when the command announced the name
    /// ([`Family::renamed_to`]) or once output has settled, then re-learn.
    Renamed(Detected),
}

/// Is `line` (the current unterminated line) a prompt of the device `learned` describes?
pub fn is_prompt_of(learned: &Detected, line: &str) -> Option<PromptMatch> {
    let shown = line.trim();
    if shown.is_empty() {
        return None;
    }
    if shown == learned.prompt.trim() {
        return Some(PromptMatch::Same);
    }
    let mut found = learned.family.parse_prompt(line)?;
    Some(if same_host(learned, &mut found) {
        PromptMatch::Moved(found)
    } else {
        PromptMatch::Renamed(found)
    })
}

/// Whether `found` names the learned device; normalises its host name (and sub-view) when it
/// does in a shortened or view-suffixed form.
fn same_host(learned: &Detected, found: &mut Detected) -> bool {
    let host = learned.hostname.as_str();
    if found.hostname == host {
        return true;
    }
    if let Some(separator) = learned.family.view_separator
        && let Some(view) = found
            .hostname
            .strip_prefix(host)
            .and_then(|rest| rest.strip_prefix(separator))
        && !view.is_empty()
    {
        found.submode = Some(view.to_string());
        found.hostname = host.to_string();
        return true;
    }
    let (short, long) = if found.hostname.len() < host.len() {
        (found.hostname.as_str(), host)
    } else {
        (host, found.hostname.as_str())
    };
    if short.len() >= MIN_TRUNCATED_HOST && long.starts_with(short) {
        found.hostname = host.to_string();
        return true;
    }
    false
}

/// A better family for `detected` when `text` (a login banner, `show version`, a setup
/// reply) carries the signature of another family whose prompt shape also fits: `Router#` is
/// read as Cisco IOS until `Pagination disabled.` shows Arista EOS. None when nothing better
/// is known (or the detected family's own signature is there).
pub fn refine(detected: &Detected, text: &str) -> Option<Detected> {
    let signed = |f: &Family| {
        f.compiled()
            .signature
            .as_ref()
            .is_some_and(|re| re.is_match(text))
    };
    if signed(detected.family) {
        return None;
    }
    FAMILIES
        .iter()
        .filter(|f| **f != *detected.family && signed(f))
        .find_map(|f| {
            let mut found = f.parse_prompt(&detected.prompt)?;
            found.hostname.clone_from(&detected.hostname);
            Some(found)
        })
}
