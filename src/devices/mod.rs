//! Network devices: the vendor knowledge as data ([`FAMILIES`]) and pure functions over it.
//!
//! Nothing here does I/O or keeps state. A device dialect in `session/` keeps the state and
//! calls these functions on what the [`Stripper`](crate::term::Stripper) renders: completed
//! text lines, and the current unterminated line after every chunk and again once output
//! settles. Adding a vendor is one [`Family`] entry in `table.rs` plus a fake device in
//! `fixtures/devices/`.
//!
//! How a device dialect uses them:
//! - **Login.** Until a prompt shows, each current line goes to [`interstitial`] (type its
//!   answer, name it in the result: `Press any key`, MikroTik's licence question, Huawei's
//!   password change) and to [`detect`]. When the login's last line is a device prompt the
//!   session is a device at once, without the POSIX probe; when [`detect`] says None, the
//!   probe's answer decides (a device answers it with an error line and its prompt, which
//!   [`detect`] then recognises). Terminal queries (`ESC[6n`, `ESC Z`, `ESC[c`) come out of
//!   the stripper as query events, which the matcher and the shell actor answer.
//! - **Learning the prompt.** Send Enter and take the last line: [`detect`] gives a
//!   [`Detected`] (family, mode, host name, prompt). [`refine`] moves it to another family of
//!   the same prompt shape when a banner or a reply names it (`Router#` is Cisco IOS until
//!   `Pagination disabled.` shows it is Arista EOS).
//! - **Opening.** Run the family's [`Setup`] commands: [`Family::paging_off`] first (entries
//!   are alternatives, tried in order until [`setup_reply`] says [`Reply::Accepted`]), then
//!   [`Family::width`] and [`Family::other_setup`]. Paging refused or unconfirmed means pagers
//!   will come and are answered; a paging command refused in user mode is worth retrying after
//!   `enable`.
//! - **Running a command.** Type it and `\r`. The first completed line(s) are its echo:
//!   [`echo_end`] says where the echo ends. After every chunk the current line goes to
//!   [`pager`] (consume the line, type the answer, read on), then to [`is_prompt_of`]:
//!   [`PromptMatch::Same`] and [`PromptMatch::Moved`] complete the command (re-learn the prompt
//!   on `Moved`: `enable`, `configure`, `system-view`, `[edit]`); [`PromptMatch::Renamed`]
//!   completes it only when the command announced that name ([`Family::renamed_to`]; Junos
//!   and PAN-OS rename on the later `commit`) or once output has settled, because a
//!   prompt-shaped line with another host name may be output. A prompt counts only after the
//!   echo's newline: MikroTik repaints the prompt and the command before the output.
//! - **Results.** [`clean_output`] drops the trailing prompt with its context lines, pager
//!   remnants and the trailing spaces of erasures. A device has no exit status: `exit_code` is
//!   null and [`device_error`] gives the vendor's error line for a `device_error` field; the
//!   [`Detected`] gives the family, mode and prompt to show.
//! - **Enable.** With `enable_password` (or `OVRD_<host>_ENABLE_PASS`) and a [`Mode::User`]
//!   prompt, send `enable_command` (default [`Enable::command`]) and feed each current line to
//!   [`enable_step`]: type the secret at [`EnableStep::Password`] and only there; a second
//!   password prompt means the secret was wrong (answer it with empty lines until the device
//!   gives up, so the session stays usable); [`EnableStep::Done`] carries the privileged prompt
//!   to re-learn, [`EnableStep::Refused`] the device's words for a clear error.
//! - **Config blocks.** A multi-line command is sent line by line, each line waiting for a
//!   prompt of the device; the first line whose output [`device_error`] flags stops the block
//!   and is named in the result.
//! - **Interrupting.** Send [`Family::interrupt`]: Ctrl-C, or Cisco's Ctrl-^ where Ctrl-C does
//!   not break a ping.

mod output;
mod prompt;
mod reply;
mod table;

#[cfg(test)]
mod tests;

pub use output::{Echo, clean_line, clean_output, echo_end};
pub use prompt::{Detected, PromptMatch, detect, is_prompt_of, refine};
pub use reply::{
    EnableStep, Interstitial, Pager, Reply, device_error, enable_step, interstitial, pager,
    setup_reply,
};
pub use table::{FAMILIES, INTERSTITIALS, family};

use std::fmt;
use std::sync::{LazyLock, OnceLock};

use regex::Regex;

/// A CLI mode, as far as completion and privileges care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Unprivileged exec of a family that has `enable` (Cisco `R1>`).
    User,
    /// Privileged exec (`R1#`).
    Privileged,
    /// The exec mode of a family without enable (Junos `user@r1>`, Huawei `<R1>`, MikroTik).
    Operational,
    /// Configuration (`R1(config)#`, Junos `#` under `[edit]`, Huawei `[R1]`).
    Config,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::User => "user",
            Mode::Privileged => "privileged",
            Mode::Operational => "operational",
            Mode::Config => "config",
        }
    }
}

/// One prompt shape of a family. `pattern` is matched against the whole prompt line with
/// surrounding whitespace trimmed; it captures `host` and optionally `sub` (the sub-mode or
/// menu shown: `config-if`, `/system identity`, `active`).
#[derive(Debug)]
pub struct PromptPattern {
    pub mode: Mode,
    pub pattern: &'static str,
}

/// What a [`Setup`] command is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupKind {
    /// Turns the pager off.
    Paging,
    /// Widens the terminal, so the device does not wrap or scroll long lines.
    Width,
    /// Anything else worth doing at open (Junos `set cli complete-on-space off`).
    Other,
}

/// A command run when a session opens. Entries of one kind are alternatives, tried in order
/// until one is accepted.
#[derive(Debug)]
pub struct Setup {
    pub kind: SetupKind,
    /// Lines typed one by one, each waiting for the prompt (FortiOS needs three).
    pub lines: &'static [&'static str],
    /// A regex the reply must contain for the command to count as done (`Pagination
    /// disabled`); None: done unless the reply is an error.
    pub confirm: Option<&'static str>,
}

/// A pager prompt: `pattern` matches the whole current line (trimmed); `answer` is what to
/// type to get the next page.
#[derive(Debug)]
pub struct PagerPattern {
    pub pattern: &'static str,
    pub answer: &'static str,
}

/// How a family gets privileged.
#[derive(Debug)]
pub struct Enable {
    /// The command (the caller's `enable_command` overrides it).
    pub command: &'static str,
    /// The password prompt (a regex over the trimmed current line).
    pub password_prompt: &'static str,
    /// A regex over the reply that means the password was refused.
    pub rejected: &'static str,
    /// A regex over the reply that confirms success where the prompt does not change
    /// (Nokia's `in admin mode`); None: the prompt must show [`Mode::Privileged`].
    pub confirm: Option<&'static str>,
}

/// A question that can stand between login and the first prompt: `pattern` matches the
/// trimmed current line, `answer` is the conservative reply (the one that changes nothing).
#[derive(Debug)]
pub struct InterstitialPattern {
    /// What to call it in a result (`password change question`).
    pub name: &'static str,
    pub pattern: &'static str,
    pub answer: &'static str,
}

/// Entering and leaving configuration mode.
#[derive(Debug)]
pub struct ConfigMode {
    pub enter: &'static str,
    pub leave: &'static str,
}

/// Everything known about one vendor CLI. The regexes are compiled once, on first use; a
/// pattern that does not compile is a bug that every test finds.
pub struct Family {
    /// Stable identifier (Netmiko's `device_type` where it has one): `cisco_ios`.
    pub name: &'static str,
    /// For people: `Cisco IOS / IOS-XE`.
    pub vendor: &'static str,
    /// Prompt shapes; the first that matches decides the mode.
    pub prompts: &'static [PromptPattern],
    /// Lines that match a prompt shape but are not prompts (`bash-5.2#`, Huawei's
    /// `[V200R009C00SPC500]`), as regexes over the trimmed line.
    pub not_prompts: &'static [&'static str],
    /// Lines printed right above a prompt that belong to it (Junos `[edit]`, `{master:0}`).
    pub context_lines: &'static [&'static str],
    /// When `Some(c)`, a prompt whose host is the learned host followed by `c` and more is the
    /// same device in a sub-view (Huawei `[R1-GigabitEthernet0/0/1]`).
    pub view_separator: Option<char>,
    pub setup: &'static [Setup],
    pub pagers: &'static [PagerPattern],
    pub enable: Option<Enable>,
    pub config: Option<ConfigMode>,
    /// Error shapes: regexes matched against each output line (trimmed).
    pub errors: &'static [&'static str],
    /// Commands that rename the device, as regexes capturing the new name as `host`.
    pub rename: &'static [&'static str],
    /// What to send to break a running command.
    pub interrupt: &'static [u8],
    /// Text that identifies this family among families of the same prompt shape (a banner,
    /// `show version`, a setup reply).
    pub signatures: &'static [&'static str],
}

impl fmt::Debug for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for Family {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Family {}

impl Family {
    /// The setup commands that turn the pager off, in the order to try them.
    pub fn paging_off(&self) -> impl Iterator<Item = &'static Setup> {
        self.setup_of(SetupKind::Paging)
    }

    /// The setup commands that widen the terminal.
    pub fn width(&self) -> impl Iterator<Item = &'static Setup> {
        self.setup_of(SetupKind::Width)
    }

    /// The other setup commands.
    pub fn other_setup(&self) -> impl Iterator<Item = &'static Setup> {
        self.setup_of(SetupKind::Other)
    }

    fn setup_of(&self, kind: SetupKind) -> impl Iterator<Item = &'static Setup> {
        let setup: &'static [Setup] = self.setup;
        setup.iter().filter(move |s| s.kind == kind)
    }

    /// The host name `command` gives the device, if it renames it (`hostname X`,
    /// `sysname X`, `set system host-name X`, `/system identity set name=X`).
    pub fn renamed_to(&self, command: &str) -> Option<String> {
        self.compiled().rename.iter().find_map(|re| {
            let host = re.captures(command)?.name("host")?.as_str();
            Some(host.trim_matches('"').to_string())
        })
    }

    /// The family's prompt shapes, compiled (every family's at the first login, to read its
    /// last line).
    fn prompt_res(&self) -> &'static PromptRes {
        PROMPT_RES[self.index()].get_or_init(|| PromptRes::new(self))
    }

    /// The family's other regexes, compiled when a session of the family needs them: a
    /// login that is a shell never pays for them.
    fn compiled(&self) -> &'static Compiled {
        COMPILED[self.index()].get_or_init(|| Compiled::new(self))
    }

    fn index(&self) -> usize {
        FAMILIES
            .iter()
            .position(|f| std::ptr::eq(f, self))
            .expect("a Family is always an entry of FAMILIES")
    }
}

/// The prompt shapes of one family.
struct PromptRes {
    prompts: Vec<(Mode, Regex)>,
    not_prompts: Vec<Regex>,
}

/// The other regexes of one family.
struct Compiled {
    context_lines: Vec<Regex>,
    errors: Vec<Regex>,
    confirms: Vec<Option<Regex>>,
    enable: Option<(Regex, Regex, Option<Regex>)>,
    rename: Vec<Regex>,
    signature: Option<Regex>,
}

/// Compiles a device pattern with ASCII meanings of `\w`, `\d` and `\s`: host names and CLI
/// words are ASCII, and Unicode classes under bounded repetitions (`\w{0,62}`, as the vendor
/// patterns have) make automata of tens of megabytes.
pub(crate) fn re(pattern: &str) -> Regex {
    let ascii = ascii_classes(pattern);
    Regex::new(&ascii).unwrap_or_else(|e| panic!("device pattern {pattern:?}: {e}"))
}

/// `pattern` with `\w`, `\d`, `\s` spelled as ASCII classes (inside a bracket class, their
/// ranges; outside, a bracket class of them).
fn ascii_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 32);
    let mut in_class = false;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    out.push(c);
                    break;
                };
                let ranges = match e {
                    'w' => Some("0-9A-Za-z_"),
                    'd' => Some("0-9"),
                    's' => Some(" \\t\\n\\r\\x0B\\x0C"),
                    _ => None,
                };
                match (ranges, in_class) {
                    (Some(r), true) => out.push_str(r),
                    (Some(r), false) => {
                        out.push('[');
                        out.push_str(r);
                        out.push(']');
                    }
                    (None, _) => {
                        out.push('\\');
                        out.push(e);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` or `^]` right after the opening bracket is a literal.
                let rest = chars.as_str();
                for lead in ["^]", "]", "^"] {
                    if let Some(r) = rest.strip_prefix(lead) {
                        out.push_str(lead);
                        chars = r.chars();
                        break;
                    }
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

fn all(patterns: &[&str]) -> Vec<Regex> {
    patterns.iter().map(|p| re(p)).collect()
}

impl PromptRes {
    fn new(f: &Family) -> PromptRes {
        PromptRes {
            prompts: f.prompts.iter().map(|p| (p.mode, re(p.pattern))).collect(),
            not_prompts: all(f.not_prompts),
        }
    }
}

impl Compiled {
    fn new(f: &Family) -> Compiled {
        Compiled {
            context_lines: all(f.context_lines),
            errors: all(f.errors),
            confirms: f.setup.iter().map(|s| s.confirm.map(re)).collect(),
            enable: f
                .enable
                .as_ref()
                .map(|e| (re(e.password_prompt), re(e.rejected), e.confirm.map(re))),
            rename: all(f.rename),
            signature: (!f.signatures.is_empty()).then(|| re(&f.signatures.join("|"))),
        }
    }
}

static PROMPT_RES: LazyLock<Vec<OnceLock<PromptRes>>> =
    LazyLock::new(|| FAMILIES.iter().map(|_| OnceLock::new()).collect());
/// Every family's pager prompts with their answers, in table order: a pager is answered
/// whichever family printed it, so all are looked at together (and compiled together, at
/// the first device output, without the families' other patterns).
static PAGERS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    FAMILIES
        .iter()
        .flat_map(|f| f.pagers.iter().map(|p| (re(p.pattern), p.answer)))
        .collect()
});

static COMPILED: LazyLock<Vec<OnceLock<Compiled>>> =
    LazyLock::new(|| FAMILIES.iter().map(|_| OnceLock::new()).collect());

#[cfg(test)]
mod ascii_tests {
    #[test]
    fn classes_become_ascii_inside_and_outside_brackets() {
        use super::ascii_classes as a;
        assert_eq!(a(r"^\w+$"), r"^[0-9A-Za-z_]+$");
        assert_eq!(a(r"[\w.\-]{1,63}"), r"[0-9A-Za-z_.\-]{1,63}");
        assert_eq!(a(r"\d+\s?"), r"[0-9]+[ \t\n\r\x0B\x0C]?");
        assert_eq!(a(r"[^\w\]]x\]"), r"[^0-9A-Za-z_\]]x\]");
        assert_eq!(a(r"[]a]\w"), r"[]a][0-9A-Za-z_]");
        assert_eq!(a(r"\(more\)"), r"\(more\)");
    }
}
