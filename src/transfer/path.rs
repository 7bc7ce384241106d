//! Remote paths: validation, `~` resolution, temporary siblings, and quoting for sftp's
//! batch grammar.
//!
//! sftp reads a batch line with `fgets` into a 2048-byte buffer and splits it with its own
//! shell-like rules (`makeargv` in sftp.c): double quotes keep spaces and `#`, `\"` and `\\`
//! are escapes, and glob characters inside quotes are escaped so that they match literally.
//! Every path we send is absolute and double-quoted, so it can never be read as an option,
//! a comment or a pattern. Two things cannot be carried: a newline or NUL (the line would end
//! there and the rest would be read as another command), and a line longer than the buffer
//! (`fgets` would return its tail as another line). Both are refused before anything runs.

use crate::error::{Error, Result};

/// sftp's line buffer is 2048 bytes including the newline and the terminating NUL; a longer
/// line is read as two commands. Our lines stay well below.
pub const MAX_BATCH_LINE: usize = 2000;

/// Refuses what no transport can carry literally. `what` names the parameter.
pub fn check(what: &'static str, path: &str) -> Result<()> {
    if path.is_empty() {
        return Err(Error::invalid(what, "it is empty"));
    }
    if path.contains('\n') {
        return Err(Error::invalid(
            what,
            format!(
                "{path:?} contains a newline, which sftp's batch grammar cannot carry (the rest would be read as another command); rename the file with execute_command first"
            ),
        ));
    }
    if path.contains('\0') {
        return Err(Error::invalid(what, "it contains a NUL byte"));
    }
    Ok(())
}

/// `~` and `~/x` resolve to the login user's home, as do relative paths (sftp and exec
/// channels both start there). Absolute paths are kept as given.
pub fn resolve(path: &str, home: &str) -> String {
    let home = home.trim_end_matches('/');
    let home = if home.is_empty() { "/" } else { home };
    if path == "~" {
        return home.to_string();
    }
    let rest = path.strip_prefix("~/").unwrap_or(path);
    if rest.starts_with('/') && !path.starts_with("~/") {
        return rest.to_string();
    }
    join(home, rest)
}

/// True when [`resolve`] needs the home directory.
pub fn needs_home(path: &str) -> bool {
    !path.starts_with('/')
}

/// `dir/name`, without doubling the slash after `/`.
pub fn join(dir: &str, name: &str) -> String {
    let name = name.trim_start_matches('/');
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Parent directory and last component of an absolute path (trailing slashes ignored).
pub fn split(path: &str) -> (String, String) {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return ("/".into(), String::new());
    }
    match trimmed.rfind('/') {
        Some(0) => ("/".into(), trimmed[1..].to_string()),
        Some(i) => (trimmed[..i].to_string(), trimmed[i + 1..].to_string()),
        None => (".".into(), trimmed.to_string()),
    }
}

/// A hidden name in the same directory, for writing before an atomic rename. Long names are
/// shortened so the temporary name stays within the usual 255-byte limit.
pub fn temp_sibling(path: &str, nonce: &str) -> String {
    let (dir, name) = split(path);
    join(&dir, &format!(".{}.mcp-{nonce}.tmp", short_name(&name)))
}

/// A file name cut to 180 bytes (at a character boundary), so that a temporary name built
/// from it stays under the 255-byte limit of file names.
pub fn short_name(name: &str) -> &str {
    let mut end = 0;
    for (i, c) in name.char_indices() {
        if i + c.len_utf8() > 180 {
            break;
        }
        end = i + c.len_utf8();
    }
    &name[..end]
}

/// One argument in double quotes, with `"` and `\` escaped.
pub fn quote(arg: &str) -> String {
    let mut q = String::with_capacity(arg.len() + 2);
    q.push('"');
    for c in arg.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// A batch line: `-` (keep going after an error; we read the error ourselves), the command,
/// its flags, and each argument quoted. Refuses arguments that would break the line.
pub fn batch_line(command: &str, args: &[&str]) -> Result<String> {
    let mut line = format!("-{command}");
    for a in args {
        check("path", a)?;
        line.push(' ');
        line.push_str(&quote(a));
    }
    if line.len() > MAX_BATCH_LINE {
        return Err(Error::invalid(
            "path",
            format!(
                "the sftp command for it would be {} bytes, over sftp's line limit ({MAX_BATCH_LINE}); use a shorter path",
                line.len()
            ),
        ));
    }
    Ok(line)
}

#[cfg(test)]
pub(crate) mod sftp_model {
    //! A model of how sftp reads our batch: `fgets` into its 2048-byte buffer, then its
    //! argument splitter and glob-escape handling, written from the behaviour of sftp.c so
    //! the property tests can check what sftp would do with every line we build.

    /// The lines `fgets(buf, 2048, stdin)` returns for a batch: at most 2047 bytes each.
    pub fn fgets_lines(batch: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut cur = Vec::new();
        for &b in batch {
            cur.push(b);
            if b == b'\n' || cur.len() == 2047 {
                out.push(std::mem::take(&mut cur));
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        // sftp cuts each line at its first newline; a NUL ends the C string.
        out.into_iter()
            .map(|mut l| {
                if let Some(i) = l.iter().position(|&b| b == b'\n' || b == 0) {
                    l.truncate(i);
                }
                l
            })
            .collect()
    }

    #[derive(PartialEq, Clone, Copy)]
    enum State {
        Start,
        Single,
        Double,
        Unquoted,
    }

    fn is_space(b: u8) -> bool {
        matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
    }

    fn is_glob(b: u8) -> bool {
        matches!(b, b'?' | b'[' | b'*')
    }

    /// The argument vector sftp builds from one line, or None where it reports an error.
    pub fn split(line: &[u8]) -> Option<Vec<Vec<u8>>> {
        let mut args: Vec<Vec<u8>> = Vec::new();
        let mut cur: Vec<u8> = Vec::new();
        let mut state = State::Start;
        let mut i = 0;
        let at = |i: usize| line.get(i).copied().unwrap_or(0);
        loop {
            let c = at(i);
            if c != 0 && is_space(c) {
                if state == State::Unquoted {
                    args.push(std::mem::take(&mut cur));
                    state = State::Start;
                } else if state != State::Start {
                    cur.push(c);
                }
            } else if c == b'"' || c == b'\'' {
                let q = if c == b'"' {
                    State::Double
                } else {
                    State::Single
                };
                if state == State::Start || state == State::Unquoted {
                    state = q;
                } else if state == q {
                    state = State::Unquoted;
                } else {
                    cur.push(c);
                }
            } else if c == b'\\' {
                if state == State::Single || state == State::Double {
                    let quot = if state == State::Single { b'\'' } else { b'"' };
                    let next = at(i + 1);
                    if next == quot {
                        i += 1;
                        cur.push(next);
                    } else if is_glob(next) {
                        cur.extend_from_slice(&[b'\\', b'\\', b'\\', next]);
                        i += 1;
                    } else {
                        if next == 0 {
                            return None; // unterminated quote
                        }
                        cur.extend_from_slice(&[b'\\', next]);
                        i += 1;
                    }
                } else {
                    if state == State::Start {
                        state = State::Unquoted;
                    }
                    let next = at(i + 1);
                    if is_glob(next) || next == b'\\' {
                        cur.extend_from_slice(&[b'\\', next]);
                        i += 1;
                    } else {
                        i += 1;
                        if next == 0 {
                            return None;
                        }
                        cur.push(next);
                    }
                }
            } else if c == b'#' && state != State::Single && state != State::Double {
                if state == State::Unquoted {
                    args.push(std::mem::take(&mut cur));
                }
                return Some(args);
            } else if c == 0 {
                if state == State::Single || state == State::Double {
                    return None;
                }
                if state == State::Unquoted {
                    args.push(std::mem::take(&mut cur));
                }
                return Some(args);
            } else {
                if state == State::Start {
                    state = State::Unquoted;
                }
                if (state == State::Single || state == State::Double) && is_glob(c) {
                    cur.extend_from_slice(&[b'\\', c]);
                } else {
                    cur.push(c);
                }
            }
            i += 1;
        }
    }

    /// What sftp does to arguments it does not glob (destinations, rename, mkdir, cd...).
    pub fn undo_glob_escape(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < s.len() {
            if s[i] != b'\\' {
                out.push(s[i]);
                i += 1;
                continue;
            }
            i += 1;
            match s.get(i) {
                Some(&c) if is_glob(c) || c == b'\\' => {
                    out.push(c);
                    i += 1;
                }
                None => out.push(b'\\'),
                Some(&c) => {
                    out.push(b'\\');
                    out.push(c);
                    i += 1;
                }
            }
        }
        out
    }

    /// The literal name a glob pattern matches when it holds no unescaped wildcard (every
    /// `\x` stands for `x`), or None when a wildcard is live (the pattern could match other names).
    pub fn glob_literal(pattern: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < pattern.len() {
            match pattern[i] {
                b'\\' if i + 1 < pattern.len() => {
                    out.push(pattern[i + 1]);
                    i += 2;
                }
                c if is_glob(c) => return None,
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::sftp_model::{fgets_lines, glob_literal, undo_glob_escape};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn resolves_home_relative_and_absolute() {
        assert_eq!(resolve("~", "/home/u"), "/home/u");
        assert_eq!(resolve("~/a/b", "/home/u/"), "/home/u/a/b");
        assert_eq!(resolve("a b", "/home/u"), "/home/u/a b");
        assert_eq!(resolve("/etc/x", "/home/u"), "/etc/x");
        assert_eq!(resolve("~user/x", "/home/u"), "/home/u/~user/x");
        assert_eq!(resolve("-x", "/"), "/-x");
        assert!(needs_home("~") && needs_home("x") && !needs_home("/x"));
    }

    #[test]
    fn splits_and_names_temporaries() {
        assert_eq!(split("/a/b/"), ("/a".into(), "b".into()));
        assert_eq!(split("/a"), ("/".into(), "a".into()));
        assert_eq!(temp_sibling("/d/f.txt", "n1"), "/d/.f.txt.mcp-n1.tmp");
        let long = format!("/d/{}", "é".repeat(200));
        let t = temp_sibling(&long, "n");
        assert!(split(&t).1.len() <= 200, "{}", t.len());
    }

    #[test]
    fn quotes_for_sftp() {
        assert_eq!(quote(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(
            batch_line("get", &["/x y", "/z"]).unwrap(),
            r#"-get "/x y" "/z""#
        );
        assert!(batch_line("get", &["/a\nrm /b"]).is_err());
        assert!(batch_line("get", &["/a\0b"]).is_err());
        assert!(batch_line("get", &[&format!("/{}", "a".repeat(MAX_BATCH_LINE))]).is_err());
    }

    /// Nasty characters are over-represented: quotes, backslashes, glob characters, `#`,
    /// spaces, dashes, control characters, non-ASCII; plus any Unicode at all.
    fn nasty_path() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            3 => prop::sample::select(vec![
                "\"", "\\", "'", "*", "?", "[", "]", "#", " ", "\t", "-", "~", "$", "`",
                "\\\"", "\\\\", "\\*", "\r", "\x01", "\x7f", "é", "日本", "\u{202e}", "sftp> ",
                ";", "!", "%", "@", "/", "..", "\\?",
            ])
            .prop_map(str::to_string),
            2 => "[a-z0-9._]{1,8}",
            1 => any::<String>(),
        ];
        prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever the path, the line we build is either refused or read by sftp as exactly
        /// one command whose arguments are exactly our paths: never a second command, never
        /// a comment, never a live wildcard.
        #[test]
        fn no_path_ever_becomes_a_second_batch_command(a in nasty_path(), b in nasty_path()) {
            let a = format!("/{a}");
            let b = format!("/{b}");
            for cmd in ["get", "put", "rename", "ls -la", "rm", "mkdir", "cd", "chmod 644"] {
                let args: Vec<&str> = match cmd {
                    "get" | "put" | "rename" => vec![&a, &b],
                    _ => vec![&a],
                };
                let line = match batch_line(cmd, &args) {
                    Ok(l) => l,
                    Err(_) => {
                        // Refused only for what cannot be carried.
                        let bad = |p: &str| p.contains(['\n', '\0']);
                        let too_long = args.iter().map(|p| quote(p).len() + 1).sum::<usize>() + cmd.len() + 1 > MAX_BATCH_LINE;
                        prop_assert!(args.iter().any(|p| bad(p)) || too_long, "refused {args:?}");
                        continue;
                    }
                };
                let mut batch = line.clone().into_bytes();
                batch.push(b'\n');
                let lines = fgets_lines(&batch);
                prop_assert_eq!(lines.len(), 1, "one line in, {} commands out: {:?}", lines.len(), line);
                let argv = super::sftp_model::split(&lines[0]).expect("sftp would reject the line");
                let words: Vec<&str> = cmd.split(' ').collect();
                prop_assert_eq!(argv.len(), words.len() + args.len(), "argv {:?}", argv);
                prop_assert_eq!(&argv[0], &format!("-{}", words[0]).into_bytes());
                for (w, got) in words[1..].iter().zip(&argv[1..]) {
                    prop_assert_eq!(got, &w.as_bytes().to_vec());
                }
                for (p, got) in args.iter().zip(&argv[words.len()..]) {
                    // Arguments sftp does not glob come out exactly as given...
                    prop_assert_eq!(&undo_glob_escape(got), &p.as_bytes().to_vec());
                    // ...and those it globs are patterns that match only the literal name.
                    prop_assert_eq!(glob_literal(got), Some(p.as_bytes().to_vec()));
                }
            }
        }

        /// Paths holding a newline or NUL are always refused.
        #[test]
        fn newlines_and_nul_are_refused(a in nasty_path(), sep in prop::sample::select(vec!["\n", "\0", "\r\n"]), b in nasty_path()) {
            let p = format!("/{a}{sep}{b}");
            prop_assert!(check("remote_path", &p).is_err());
            prop_assert!(batch_line("get", &[&p, "/x"]).is_err());
        }
    }
}
