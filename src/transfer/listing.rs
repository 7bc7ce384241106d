//! `ls -l` lines, as sftp prints them (`ls -la` in a batch) and as GNU or busybox `ls -la`
//! prints them on an exec channel: mode, links, owner, group, size, a date, the name.

use serde::Serialize;

/// One directory entry with stat-like detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Entry {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    pub size: u64,
    /// Permission bits in octal, e.g. `0644` (`4755` with setuid).
    pub mode: String,
    pub owner: String,
    pub group: String,
    /// `YYYY-MM-DD HH:MM` (local time of the server) or `YYYY-MM-DD` for files older than
    /// six months, the precision `ls -l` gives.
    pub mtime: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    Char,
    Block,
    Other,
}

impl Kind {
    fn from_char(c: char) -> Kind {
        match c {
            '-' => Kind::File,
            'd' => Kind::Dir,
            'l' => Kind::Symlink,
            'p' => Kind::Fifo,
            's' => Kind::Socket,
            'c' => Kind::Char,
            'b' => Kind::Block,
            _ => Kind::Other,
        }
    }

    /// The `ls -F`-style suffix for a listing.
    pub fn suffix(self) -> &'static str {
        match self {
            Kind::Dir => "/",
            Kind::Symlink => "@",
            Kind::Fifo => "|",
            Kind::Socket => "=",
            _ => "",
        }
    }
}

/// Today's date (year, month, day) in local time: `ls` shows a year only for old files.
pub type Today = (i32, u32, u32);

pub fn today() -> Today {
    // SAFETY: time(2) and localtime_r(3) with valid pointers.
    unsafe {
        let t = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return (1970, 1, 1);
        }
        (tm.tm_year + 1900, tm.tm_mon as u32 + 1, tm.tm_mday as u32)
    }
}

/// Permission bits from `-rwsr-x--T`-style text (the type letter first).
pub fn mode_bits(text: &str) -> Option<u32> {
    let b: Vec<char> = text.chars().collect();
    if b.len() < 10 {
        return None;
    }
    let mut mode = 0u32;
    for (i, (r, w, x)) in [(1, 2, 3), (4, 5, 6), (7, 8, 9)].into_iter().enumerate() {
        let shift = 6 - 3 * i as u32;
        if b[r] == 'r' {
            mode |= 4 << shift;
        }
        if b[w] == 'w' {
            mode |= 2 << shift;
        }
        match b[x] {
            'x' => mode |= 1 << shift,
            's' | 't' => mode |= (1 << shift) | (0o4000 >> i),
            'S' | 'T' => mode |= 0o4000 >> i,
            '-' => {}
            _ => return None,
        }
        if !matches!(b[r], 'r' | '-') || !matches!(b[w], 'w' | '-') {
            return None;
        }
    }
    Some(mode)
}

/// Splits off `n` whitespace-separated words; returns them and the rest after exactly one
/// separator (so a name that starts with spaces keeps them).
fn words(line: &str, n: usize) -> Option<(Vec<&str>, &str)> {
    let mut out = Vec::with_capacity(n);
    let mut rest = line;
    for _ in 0..n {
        rest = rest.trim_start_matches(' ');
        let end = rest.find(' ')?;
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    Some((out, rest.strip_prefix(' ')?))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Nov 30 15:43` (this year, or last year when that date is still to come) or `Nov 30  2024`.
fn date(month: &str, day: &str, time_or_year: &str, today: Today) -> Option<String> {
    let m = MONTHS.iter().position(|x| *x == month)? as u32 + 1;
    let d: u32 = day.parse().ok()?;
    if let Some((h, min)) = time_or_year.split_once(':') {
        let (h, min): (u32, u32) = (h.parse().ok()?, min.parse().ok()?);
        let year = if (m, d) > (today.1, today.2) {
            today.0 - 1
        } else {
            today.0
        };
        Some(format!("{year:04}-{m:02}-{d:02} {h:02}:{min:02}"))
    } else {
        let year: i32 = time_or_year.parse().ok()?;
        Some(format!("{year:04}-{m:02}-{d:02}"))
    }
}

/// Parses one `ls -l` line. The name is returned as printed (sftp prefixes it with the
/// directory it lists); `total N` lines and anything else that is not an entry give None.
pub fn parse(line: &str, today: Today) -> Option<Entry> {
    let (head, _) = words(line, 1)?;
    let mode_text = head[0];
    let kind = Kind::from_char(mode_text.chars().next()?);
    let mode = mode_bits(mode_text)?;
    // mode links owner group size; device files show "major, minor" instead of a size.
    let (w, rest) = words(line, 5)?;
    let (size, rest) = if w[4].ends_with(',') {
        let (_, rest) = words(rest, 1)?;
        (0, rest)
    } else {
        (w[4].parse().ok()?, rest)
    };
    let (d, name) = words(rest, 3)?;
    let mtime = date(d[0], d[1], d[2], today)?;
    Some(Entry {
        name: name.to_string(),
        kind,
        size,
        mode: format!("{mode:04o}"),
        owner: w[2].to_string(),
        group: w[3].to_string(),
        mtime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: Today = (2025, 11, 30);

    #[test]
    fn parses_sftp_lines() {
        let e = parse(
            "-rw-r--r--    ? mcptkey  mcptkey         6 Nov 30 15:43 /home/u/t/f",
            TODAY,
        )
        .unwrap();
        assert_eq!(e.name, "/home/u/t/f");
        assert_eq!((e.kind, e.size, e.mode.as_str()), (Kind::File, 6, "0644"));
        assert_eq!((e.owner.as_str(), e.group.as_str()), ("mcptkey", "mcptkey"));
        assert_eq!(e.mtime, "2025-11-30 15:43");
        let d = parse(
            "drwxr-xr-x    ? 0        0            4096 Dec  3 09:05 /t/ a name ",
            TODAY,
        )
        .unwrap();
        assert_eq!((d.kind, d.name.as_str()), (Kind::Dir, "/t/ a name "));
        assert_eq!(d.mtime, "2024-12-03 09:05");
        let old = parse("-rwsr-x--T 1 root root 10 Jan  2  2019 x", TODAY).unwrap();
        assert_eq!(
            (old.mode.as_str(), old.mtime.as_str()),
            ("5750", "2019-01-02")
        );
    }

    #[test]
    fn parses_gnu_ls_lines_and_skips_others() {
        let dev = parse("crw-rw-rw- 1 root root 1, 3 Nov 30 15:43 null", TODAY).unwrap();
        assert_eq!(
            (dev.kind, dev.size, dev.name.as_str()),
            (Kind::Char, 0, "null")
        );
        let acl = parse("-rw-r--r--+ 1 a b 5 Nov 30 15:43 f", TODAY).unwrap();
        assert_eq!(acl.mode, "0644");
        assert!(parse("total 12", TODAY).is_none());
        assert!(parse("", TODAY).is_none());
        assert!(parse("Can't ls: \"/x\" not found", TODAY).is_none());
    }
}
