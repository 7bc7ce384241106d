//! The small POSIX sh programs an exec channel runs (without sftp, and under sudo), and the
//! remote command line that starts them.
//!
//! The command line is read by the login shell first, which may be sh, bash, zsh, csh, tcsh
//! or fish. So it is `sh -c '<script>' sh <args>` where the script is one line with no
//! single quote, no `!` (csh history) and no backslash before a backslash or quote (fish),
//! and every argument is single-quoted and made only of letters, digits, `_./,+=@:` and
//! `\ooo` octal escapes that the script decodes with printf. No path, content or secret can
//! change how any of those shells reads the line; content goes through stdin, and sudo's
//! password is typed at sudo's own prompt.
//!
//! Every script reports on stderr in lines `NONCE:X value`: `R` when it runs (after sudo
//! accepted the password), `L` an `ls -ln` line, `H` a SHA-256, `E code` an error, `W` a
//! warning, `I` written in place, `M` the home directory. Data on stdout follows a line
//! `NONCE:D`, so that whatever an rc file prints first is skipped.

/// Shared definitions; `sum SIZE` prints the SHA-256 of its stdin with the tool the probe
/// found for that size (`$k`: its first letter for big files, its second for small ones, see
/// [`Script::home`]).
const PRELUDE: &str = "n=$1;k=$2;shift 2;set -f;LC_ALL=C;export LC_ALL;\
say(){ printf \"%s:%s\\n\" \"$n\" \"$*\" >&2;};\
fail(){ say E \"$*\";exit 3;};\
dec(){ printf \"$1\";};\
sum(){ if [ \"${1:-0}\" -ge 16777216 ];then t=${k%\"${k#?}\"};else t=${k#?};t=${t%\"${t#?}\"};fi;\
case $t in o) openssl dgst -sha256 -r;; s) sha256sum;; a) shasum -a 256;;\
*) cat >/dev/null;echo none;; esac;};\
say R;";

/// Checks shared by reads: a readable regular file, else a clean error code.
const READABLE: &str = "if [ -d \"$p\" ];then fail isdir;fi;\
if [ -e \"$p\" ];then :;else d=$(dirname \"$p\");\
if [ -d \"$d\" ] && [ -x \"$d\" ];then fail notfound;elif [ -d \"$d\" ];then fail denied;else fail notfound;fi;fi;\
if [ -f \"$p\" ];then :;else fail notreg;fi;\
if [ -r \"$p\" ];then :;else fail denied;fi;\
q=$(ls -lnLd \"$p\");say L \"$q\";set -- $q;z=$5;";

/// A program and its arguments.
#[derive(Debug, Clone)]
pub struct Script {
    body: String,
    args: Vec<String>,
    /// The host's SHA-256 tools (see [`Script::home`]).
    hash: String,
}

impl Script {
    /// The probe: `$HOME` of the login user (`M`), and the tools (`S`, three letters): the
    /// SHA-256 tool for big files and the one for small ones, then `d` when `sync -d FILE`
    /// flushes one file (Linux; else `n`). OpenSSL (`o`) uses the CPU's SHA instructions,
    /// several times faster than coreutils on big files, but takes 10-20 ms to start;
    /// sha256sum (`s`) and shasum (`a`) start at once; `n`: none.
    pub fn home() -> Script {
        Script::new(
            "say M \"$HOME\";b=n;s=n;\
             if command -v sha256sum >/dev/null 2>&1;then b=s;s=s;\
             elif command -v shasum >/dev/null 2>&1;then b=a;s=a;fi;\
             if [ \"$(printf \"\" | openssl dgst -sha256 -r 2>/dev/null | cut -c1-8)\" = e3b0c442 ];\
             then b=o;if [ $s = n ];then s=o;fi;fi;f=n;\
             if [ \"$(uname -s 2>/dev/null)\" = Linux ] && sync --help 2>&1 | grep -q -e --data -e -d;then f=d;fi;\
             say S $b$s$f",
            vec![],
        )
    }

    /// `limit` bytes of `path` from `offset`, after an `L` line with its size.
    pub fn read(path: &str, offset: u64, limit: u64) -> Script {
        Script::new(
            &format!(
                "p=$(dec \"$1\");o=$2;l=$3;{READABLE}printf \"%s:D\\n\" \"$n\";\
                 if [ \"$o\" -gt 0 ];then tail -c +$((o+1)) \"$p\";else cat \"$p\";fi|head -c \"$l\""
            ),
            vec![encode(path), offset.to_string(), limit.to_string()],
        )
    }

    /// The whole file on stdout, and its SHA-256 (`H`) from a second read of the file that
    /// runs beside the first. Not `tee` into the hash: tee copies everything through one
    /// more pipe in small blocks, and that made downloads 1.5x slower than two reads (the
    /// second comes from the page cache). A file that changes during the transfer then
    /// tends to show as a mismatch, where tee would hash exactly the torn copy it sent.
    pub fn download(path: &str) -> Script {
        Script::new(
            &format!(
                "p=$(dec \"$1\");{READABLE}printf \"%s:D\\n\" \"$n\";\
                 {{ h=$(sum \"$z\" <\"$p\")||h=;say H \"$h\";}}&cat \"$p\"||fail read;wait"
            ),
            vec![encode(path)],
        )
    }

    /// `W yes` when the directory may be written to (false on a read-only file system even
    /// for root), else `W no`.
    pub fn writable(dir: &str) -> Script {
        Script::new(
            "p=$(dec \"$1\");if [ -w \"$p\" ];then say W yes;else say W no;fi",
            vec![encode(dir)],
        )
    }

    /// `ls -la` of a directory (names only) or of one path, on stdout.
    pub fn list(path: &str) -> Script {
        Script::new(
            "p=$(dec \"$1\");if [ -e \"$p\" ] || [ -L \"$p\" ];then :;else fail notfound;fi;\
             printf \"%s:D\\n\" \"$n\";if [ -d \"$p\" ];then say T dir;ls -la \"$p\";else ls -lad \"$p\";fi",
            vec![encode(path)],
        )
    }

    /// Writes stdin to `path` (see [`WRITE_PREP`], [`RECEIVE`], [`INSTALL`]), in one stage
    /// or split so that the caller can compare the SHA-256 before the rename.
    pub fn write(w: &WriteArgs<'_>, stage: Stage) -> Script {
        let verify = "if [ -n \"$x\" ];then case \"$h\" in \"$x\"*|none) ;; *) rm -f \"$t\";fail mismatch;; esac;fi;";
        let body = match stage {
            Stage::All => format!("{WRITE_PREP}{RECEIVE}{verify}{INSTALL}"),
            Stage::Receive => format!("{WRITE_PREP}{RECEIVE}"),
            Stage::Install => format!("{WRITE_PREP}{INSTALL}"),
            Stage::Discard => format!("{WRITE_PREP}rm -f \"$t\""),
        };
        Script::new(
            &body,
            vec![
                encode(w.path),
                w.size.to_string(),
                w.permissions.map(|m| format!("{m:o}")).unwrap_or_default(),
                u8::from(w.append && stage == Stage::All).to_string(),
                u8::from(w.make_dirs).to_string(),
                w.sha256.unwrap_or_default().to_string(),
                w.into_dir.map(encode).unwrap_or_default(),
                encode(w.tag),
            ],
        )
    }

    fn new(body: &str, args: Vec<String>) -> Script {
        Script {
            body: format!("{PRELUDE}{body}"),
            args,
            hash: "nnn".into(),
        }
    }

    /// The same script, with the tools the probe found (two of `o`, `s`, `a`, `n`, then `d`
    /// or `n`).
    pub fn hashing_with(mut self, tools: &str) -> Script {
        let b = tools.as_bytes();
        if b.len() == 3 && b[..2].iter().all(|c| b"osan".contains(c)) && b"dn".contains(&b[2]) {
            self.hash = tools.to_string();
        }
        self
    }

    /// The remote command line: `[sudo -S -p PROMPT --] sh -c 'SCRIPT' sh NONCE HASH ARGS...`.
    pub fn command_line(&self, nonce: &str, sudo_prompt: Option<&str>) -> String {
        debug_assert!(login_shell_safe(&self.body), "{}", self.body);
        let mut line = String::new();
        if let Some(prompt) = sudo_prompt {
            line.push_str(&format!("sudo -S -p '{prompt}' -- "));
        }
        line.push_str(&format!("sh -c '{}' sh {nonce} {}", self.body, self.hash));
        for a in &self.args {
            line.push_str(&format!(" '{a}'"));
        }
        line
    }
}

/// Where a write goes: `$p` resolved (into a directory, through a symlink to its target),
/// its directory made with make_dirs, appends done at once; sets `$d`, `$t` (the temporary
/// sibling, named by the caller's tag `$8` so that every stage finds it) and `$ip` (write in
/// place: a symlink that cannot be resolved).
const WRITE_PREP: &str = "u=$(umask);p=$(dec \"$1\");z=$2;pm=$3;a=$4;md=$5;x=$6;\
    if [ -d \"$p\" ] && [ -n \"$7\" ];then p=\"${p%/}/$(dec \"$7\")\";fi;\
    if [ -d \"$p\" ];then fail isdir;fi;d=${p%/*};d=${d:-/};\
    if [ \"$md\" = 1 ];then mkdir -p \"$d\"||fail mkdir;fi;\
    if [ -d \"$d\" ];then :;elif [ -e \"$d\" ];then fail notdir;else fail noparent;fi;\
    if [ \"$a\" = 1 ];then cat >>\"$p\"||fail write;\
    if [ -n \"$pm\" ];then chmod \"$pm\" \"$p\"||fail chmod;fi;say L \"$(ls -lnd \"$p\")\";exit 0;fi;\
    ip=0;if [ -L \"$p\" ];then r=$(readlink -f \"$p\" 2>/dev/null);\
    if [ -n \"$r\" ];then p=$r;d=${p%/*};d=${d:-/};else ip=1;fi;fi;\
    b=${p##*/};if [ ${#b} -gt 150 ];then b=$(printf %s \"$b\"|cut -c1-150);fi;\
    t=\"$d/.$b.mcp-$(dec \"$8\").tmp\";";

/// stdin into `$t` (0600 while it fills), checked against the size `$z`; `H` its SHA-256.
/// Where it can, a detached `sync -d` starts writing `$t` out while it is hashed: renaming a
/// file over another makes ext4 write the new one out first (about 30 ms for 50 MB), and
/// this way that work overlaps the hashing instead of following it.
const RECEIVE: &str = "umask 077;cat >\"$t\"||{ rm -f \"$t\";fail write;};\
    s=$(wc -c <\"$t\");if [ \"$s\" -eq \"$z\" ];then :;else rm -f \"$t\";fail short $s;fi;\
    case $k in ??d) sync -d \"$t\" </dev/null >/dev/null 2>&1 &;; esac;\
    h=$(sum \"$z\" <\"$t\");say H \"$h\";";

/// `$t` takes the old file's mode and owner (or, for a new file, the mode the login umask
/// `$u` gives) and the
/// mode `$pm` when given, then is renamed over `$p`. When the owner cannot be kept (not
/// root) or `$ip`, the checked content is copied over the old file in place (`I owner`).
const INSTALL: &str = "\
    if [ -e \"$p\" ];then mo=$(stat -c \"%a %u:%g\" \"$p\" 2>/dev/null)||mo=;\
    if [ -n \"$mo\" ];then chmod \"${mo%% *}\" \"$t\";chown \"${mo#* }\" \"$t\" 2>/dev/null||ip=1;else say W nomode;fi;\
    else chmod $(printf %o $((0666 & ~0$u))) \"$t\";fi;\
    if [ -n \"$pm\" ];then chmod \"$pm\" \"$t\"||{ rm -f \"$t\";fail chmod;};fi;\
    if [ \"$ip\" = 1 ];then cat \"$t\" >\"$p\"||{ rm -f \"$t\";fail write;};rm -f \"$t\";\
    if [ -n \"$pm\" ];then chmod \"$pm\" \"$p\";fi;say I owner;\
    else mv -f \"$t\" \"$p\"||{ rm -f \"$t\";fail rename;};fi;\
    say L \"$(ls -lnd \"$p\")\"";

/// Which part of [`Script::write`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Receive, check against the given SHA-256, install.
    All,
    /// Receive and report the SHA-256 (`H`), leaving the temporary file.
    Receive,
    /// Install the temporary file a `Receive` left.
    Install,
    /// Remove it.
    Discard,
}

/// What [`Script::write`] needs.
pub struct WriteArgs<'a> {
    pub path: &'a str,
    pub size: u64,
    pub permissions: Option<u32>,
    pub append: bool,
    pub make_dirs: bool,
    pub sha256: Option<&'a str>,
    /// When `path` is a directory, write into it under this name (uploads).
    pub into_dir: Option<&'a str>,
    /// Names the temporary file (letters and digits), the same for every stage.
    pub tag: &'a str,
}

/// An argument as a printf format that prints it back: safe characters as they are,
/// every other byte as `\ooo`.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"_./,+=@:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\{b:03o}"));
        }
    }
    out
}

/// True when `s` reads the same inside single quotes in sh, csh/tcsh and fish.
fn login_shell_safe(s: &str) -> bool {
    !s.contains(['\'', '!', '\n', '\r'])
        && !s.contains("\\\\")
        && s.chars().all(|c| c == '\t' || !c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn all() -> Vec<Script> {
        vec![
            Script::home(),
            Script::read("/a b", 1, 2),
            Script::download("/x"),
            Script::list("/x"),
            Script::writable("/x"),
            Script::write(
                &WriteArgs {
                    path: "/x",
                    size: 3,
                    permissions: Some(0o644),
                    append: false,
                    make_dirs: true,
                    sha256: Some("ab"),
                    into_dir: Some("n"),
                    tag: "t1",
                },
                Stage::All,
            ),
        ]
    }

    #[test]
    fn scripts_are_one_line_and_safe_for_every_login_shell() {
        for s in all() {
            assert!(login_shell_safe(&s.body), "{}", s.body);
            for a in &s.args {
                assert!(
                    a.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_./,+=@:\\".contains(c)),
                    "{a}"
                );
            }
        }
    }

    #[test]
    fn arguments_round_trip_through_sh_printf() {
        for p in [
            "/plain",
            "/a b/c'd\"e\\f",
            "/-dash/%s%n/$(x)/`y`/*?[",
            "/ünï/日本/\u{7f}\t",
            "/~/!x",
        ] {
            let out = Command::new("sh")
                .args(["-c", "printf \"$1\"", "sh", &encode(p)])
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), p);
        }
    }

    /// The scripts parse in the POSIX shells a host may have (dash here; busybox ash when
    /// installed) and in the login shells that read the command line first.
    #[test]
    fn scripts_parse_in_sh() {
        for s in all() {
            for shell in ["sh", "dash", "bash", "busybox"] {
                let mut cmd = Command::new(shell);
                if shell == "busybox" {
                    cmd.arg("sh");
                }
                let Ok(out) = cmd.args(["-n", "-c", &s.body]).output() else {
                    continue;
                };
                assert!(
                    out.status.success(),
                    "{shell}: {}\n{}",
                    String::from_utf8_lossy(&out.stderr),
                    s.body
                );
            }
        }
    }

    #[test]
    fn the_command_line_survives_each_login_shell() {
        // `sh -c LINE` as sshd would run it with each login shell; the script echoes its
        // decoded argument, which must come back unchanged.
        let script = Script::new("say P \"$(dec \"$1\")\"", vec![encode("/x y/'q'/!b/\\z")]);
        let line = script.command_line("N0", None);
        for shell in ["sh", "bash", "zsh", "tcsh", "csh", "fish"] {
            let Ok(out) = Command::new(shell).args(["-c", &line]).output() else {
                continue;
            };
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("N0:R") && err.contains("N0:P /x y/'q'/!b/\\z"),
                "{shell}: {err}"
            );
        }
    }

    /// Runs `script` here with `sh`, stdin from `input`; its report lines.
    fn run_here(script: &Script, input: &[u8]) -> Vec<String> {
        use std::io::Write;
        let line = script.command_line("N1", None);
        let mut child = Command::new("sh")
            .args(["-c", &line])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter_map(|l| l.strip_prefix("N1:").map(str::to_string))
            .collect()
    }

    #[test]
    fn the_probe_names_three_tools_and_a_receive_uses_them() {
        let report = run_here(&Script::home(), b"");
        let tools = report
            .iter()
            .find_map(|l| l.strip_prefix("S "))
            .expect("an S line")
            .to_string();
        assert_eq!(tools.len(), 3, "{report:?}");
        assert_eq!(Script::home().hashing_with(&tools).hash, tools);
        // This test machine is Linux with coreutils: `sync -d FILE` is there.
        #[cfg(target_os = "linux")]
        assert!(tools.ends_with('d'), "{tools}");
        assert_eq!(Script::home().hashing_with("osx").hash, "nnn", "refused");

        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f");
        let content = b"hello\n";
        for tools in [tools.as_str(), "ssn", "nnn"] {
            let args = WriteArgs {
                path: target.to_str().unwrap(),
                size: content.len() as u64,
                permissions: None,
                append: false,
                make_dirs: false,
                sha256: None,
                into_dir: None,
                tag: "t2",
            };
            let receive = Script::write(&args, Stage::Receive).hashing_with(tools);
            let report = run_here(&receive, content);
            let h = report
                .iter()
                .find_map(|l| l.strip_prefix("H "))
                .unwrap_or("");
            let want = if tools.starts_with('n') {
                "none"
            } else {
                "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
            };
            assert!(h.starts_with(want), "{tools}: {report:?}");
            let install = Script::write(&args, Stage::Install).hashing_with(tools);
            run_here(&install, b"");
            assert_eq!(std::fs::read(&target).unwrap(), content, "{tools}");
        }
    }
}
