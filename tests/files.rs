//! The file engine (src/transfer) against the real sshd of the test bed: read_file and
//! write_file semantics, atomic replace, sudo, nasty paths, hosts without sftp, ProxyJump,
//! streamed transfers and the local root.
//!
//! The bed's sshd runs on this machine, so a "remote" path is a local path seen by a test
//! user; each test works in a fresh directory owned by that user.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::testbed::{TestBed, sudo_password};
use common::{require_testbed, rt};
use mcp_ssh_session::config::Config;
use mcp_ssh_session::error::{Error, FileProblem};
use mcp_ssh_session::secret::Secret;
use mcp_ssh_session::session::SessionManager;
use mcp_ssh_session::transfer::list::ListRequest;
use mcp_ssh_session::transfer::sftp::MAX_ENTRIES;
use mcp_ssh_session::transfer::stream::{DownloadRequest, UploadRequest, Verified};
use mcp_ssh_session::transfer::text::{ReadRequest, WriteRequest};
use mcp_ssh_session::transfer::{
    Files, Kind, Login, MAX_TEXT_BYTES, SudoRequest, Via, sha256, sha256_file,
};
use tokio_util::sync::CancellationToken;

// ---------------------------------------------------------------------------------------------
// Helpers

/// The file engine over the bed, with its local root in a fresh directory.
struct Env {
    files: Files,
    local: tempfile::TempDir,
}

fn env(bed: &TestBed) -> Env {
    let local = tempfile::Builder::new()
        .prefix("mcpf-local-")
        .tempdir()
        .expect("local root");
    let config = Config {
        ssh_program: "ssh".into(),
        ssh_config: Some(bed.ssh_config().to_path_buf()),
        connect_timeout: Duration::from_secs(20),
        local_root: Some(local.path().to_path_buf()),
        ..Config::default()
    };
    let manager = Arc::new(SessionManager::new(config).expect("engine"));
    Env {
        files: Files::new(manager).expect("file engine"),
        local,
    }
}

/// A directory owned by `user` (0755), removed at the end of the test.
struct RemoteDir {
    dir: tempfile::TempDir,
}

impl RemoteDir {
    fn new(user: &str) -> RemoteDir {
        let dir = tempfile::Builder::new()
            .prefix("mcpf-")
            .tempdir_in("/tmp")
            .expect("remote dir");
        let (uid, gid) = ids(user);
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        RemoteDir { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }
}

fn ids(user: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f[0] == user).then(|| (f[2].parse().unwrap(), f[3].parse().unwrap()))
        })
        .unwrap_or_else(|| panic!("no user {user}"))
}

fn login(host: &str) -> Login {
    Login {
        host: host.into(),
        ..Default::default()
    }
}

fn never() -> CancellationToken {
    CancellationToken::new()
}

fn read_req(host: &str, path: &str) -> ReadRequest {
    ReadRequest {
        login: login(host),
        path: path.into(),
        limit: MAX_TEXT_BYTES,
        utf8: true,
        ..Default::default()
    }
}

fn write_req(host: &str, path: &str, content: &[u8]) -> WriteRequest {
    WriteRequest {
        login: login(host),
        path: path.into(),
        content: content.to_vec(),
        ..Default::default()
    }
}

fn sudo(password: &str) -> SudoRequest {
    SudoRequest {
        use_sudo: true,
        password: Secret::new(password),
    }
}

fn problem(e: &Error) -> FileProblem {
    match e {
        Error::RemoteFile { problem, .. } => *problem,
        other => panic!("not a file error: {other}"),
    }
}

fn mode_of(p: &str) -> u32 {
    std::fs::metadata(p).unwrap().mode() & 0o7777
}

/// Random bytes from /dev/urandom.
fn random_file(path: &Path, len: usize) {
    use std::io::{Read, Write};
    let mut src = std::fs::File::open("/dev/urandom").unwrap();
    let mut out = std::fs::File::create(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len());
        src.read_exact(&mut buf[..n]).unwrap();
        out.write_all(&buf[..n]).unwrap();
        left -= n;
    }
}

/// `link` is still a symlink, and `target` holds what was written through it.
fn assert_written_through(link: &str, target: &str, context: &str) {
    assert!(
        std::fs::symlink_metadata(link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link was replaced: {context}"
    );
    assert_eq!(
        std::fs::read_to_string(target).unwrap(),
        "through the link",
        "{context}"
    );
}

// ---------------------------------------------------------------------------------------------
// read_file / write_file

#[test]
fn text_round_trips_exactly() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = env(bed);
        let d = RemoteDir::new("mcptkey");
        for (name, text) in [
            ("unicode.txt", "héllo wörld — 日本語 ✓\nzweite Zeile\n"),
            ("crlf.txt", "line one\r\nline two\r\n"),
            ("no-newline.txt", "no final newline"),
            ("empty.txt", ""),
        ] {
            let p = d.path(name);
            let w = e
                .files
                .write(&write_req("fixture", &p, text.as_bytes()), &never())
                .await;
            let w = w.unwrap_or_else(|err| panic!("{name}: {err}"));
            assert_eq!(
                (w.path.as_str(), w.bytes, w.via),
                (p.as_str(), text.len() as u64, Via::Sftp)
            );
            assert!(w.atomic, "{name}");
            assert_eq!(w.sha256, sha256(text.as_bytes()));
            assert_eq!(
                std::fs::read(&p).unwrap(),
                text.as_bytes(),
                "{name} on disk"
            );
            assert_eq!(std::fs::metadata(&p).unwrap().uid(), ids("mcptkey").0);
            let r = e
                .files
                .read(&read_req("fixture", &p), &never())
                .await
                .unwrap();
            assert_eq!(r.content, text.as_bytes(), "{name} read back");
            assert_eq!(
                (r.size, r.truncated, r.via),
                (Some(text.len() as u64), false, Via::Sftp)
            );
            assert_eq!(r.sha256, sha256(text.as_bytes()));
            assert_eq!(
                r.mode.as_deref(),
                Some("0644"),
                "{name}: a new file is 0644"
            );
        }
        // No temporary file is left behind.
        let left: Vec<_> = std::fs::read_dir(d.root())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 4, "{left:?}");
    });
}

#[test]
fn append_make_dirs_and_permissions() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = env(bed);
        let d = RemoteDir::new("mcptkey");
        let p = d.path("log.txt");
        let mut w = write_req("fixture", &p, b"one\n");
        w.append = true;
        let o = e.files.write(&w, &never()).await.unwrap();
        assert!(!o.atomic);
        w.content = "twö\n".as_bytes().to_vec();
        e.files.write(&w, &never()).await.unwrap();
        w.content = b"".to_vec();
        e.files.write(&w, &never()).await.unwrap();
        w.content = b"three".to_vec();
        e.files.write(&w, &never()).await.unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "one\ntwö\nthree");

        // make_dirs creates every missing parent; without it the parent must exist.
        let deep = d.path("a/b c/d/new.txt");
        let err = e
            .files
            .write(&write_req("fixture", &deep, b"x"), &never())
            .await
            .unwrap_err();
        assert_eq!(problem(&err), FileProblem::ParentMissing, "{err}");
        let mut w = write_req("fixture", &deep, b"deep");
        w.make_dirs = true;
        w.permissions = Some(0o600);
        let o = e.files.write(&w, &never()).await.unwrap();
        assert_eq!(o.mode.as_deref(), Some("0600"));
        assert_eq!(std::fs::read(&deep).unwrap(), b"deep");
        assert_eq!(mode_of(&deep), 0o600);

        // Replacing keeps the old mode unless permissions says otherwise.
        let keep = d.path("script.sh");
        std::fs::write(&keep, "old").unwrap();
        std::os::unix::fs::chown(&keep, Some(ids("mcptkey").0), Some(ids("mcptkey").1)).unwrap();
        std::fs::set_permissions(&keep, std::fs::Permissions::from_mode(0o750)).unwrap();
        e.files
            .write(&write_req("fixture", &keep, b"#!/bin/sh\n"), &never())
            .await
            .unwrap();
        assert_eq!(mode_of(&keep), 0o750);
        let mut w = write_req("fixture", &keep, b"new");
        w.permissions = Some(0o640);
        e.files.write(&w, &never()).await.unwrap();
        assert_eq!(mode_of(&keep), 0o640);
        // Appending with permissions changes the mode too.
        let mut w = write_req("fixture", &keep, b"+");
        w.append = true;
        w.permissions = Some(0o644);
        e.files.write(&w, &never()).await.unwrap();
        assert_eq!(
            (
                std::fs::read_to_string(&keep).unwrap().as_str(),
                mode_of(&keep)
            ),
            ("new+", 0o644)
        );
    });
}

#[test]
fn tilde_and_relative_paths_resolve_to_the_home_directory() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = env(bed);
        let name = format!("mcpf-home-{}.txt", std::process::id());
        for given in [format!("~/{name}"), name.clone()] {
            let o = e
                .files
                .write(&write_req("fixture", &given, b"home"), &never())
                .await
                .unwrap();
            assert_eq!(o.path, format!("/home/mcptkey/{name}"));
            let r = e
                .files
                .read(&read_req("fixture", &given), &never())
                .await
                .unwrap();
            assert_eq!(
                (r.path.as_str(), r.content.as_slice()),
                (o.path.as_str(), &b"home"[..])
            );
        }
        let l = e
            .files
            .list(
                &ListRequest {
                    login: login("fixture"),
                    path: "~".into(),
                    offset: 0,
                    limit: 1000,
                },
                &never(),
            )
            .await
            .unwrap();
        assert_eq!(l.path, "/home/mcptkey");
        assert!(l.entries.iter().any(|x| x.name == name), "{:?}", l.entries);
        std::fs::remove_file(format!("/home/mcptkey/{name}")).unwrap();
    });
}

#[test]
fn reads_are_bounded_and_continue_at_an_offset() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = env(bed);
        let d = RemoteDir::new("mcptkey");
        let p = d.path("abc.txt");
        let text = "abcdefghij-é-0123456789"; // 24 bytes, é at 11..13
        std::fs::write(&p, text).unwrap();
        let mut r = read_req("fixture", &p);
        r.limit = 4;
        let o = e.files.read(&r, &never()).await.unwrap();
        assert_eq!(o.content, b"abcd");
        assert_eq!(
            (o.truncated, o.size, o.next_offset),
            (true, Some(24), Some(4))
        );
        // Page through the whole file; a cut never splits the é.
        let mut all = Vec::new();
        let mut offset = 0;
        loop {
            r.offset = offset;
            r.limit = 6;
            let o = e.files.read(&r, &never()).await.unwrap();
            assert!(std::str::from_utf8(&o.content).is_ok(), "{:?}", o.content);
            all.extend_from_slice(&o.content);
            match o.next_offset {
                Some(n) => offset = n,
                None => break,
            }
        }
        assert_eq!(all, text.as_bytes());
        // Past the end: nothing, not truncated.
        r.offset = 100;
        let o = e.files.read(&r, &never()).await.unwrap();
        assert_eq!((o.content.len(), o.truncated), (0, false));

        // A big file is not fetched whole for a small read.
        let big = d.path("big.bin");
        random_file(Path::new(&big), 64 << 20);
        let mut r = read_req("fixture", &big);
        r.limit = 1000;
        r.offset = 10 << 20;
        r.utf8 = false;
        let o = e.files.read(&r, &never()).await.unwrap();
        let want = &std::fs::read(&big).unwrap()[10 << 20..(10 << 20) + 1000];
        assert_eq!(o.content, want);
        assert_eq!((o.truncated, o.size), (true, Some(64 << 20)));
    });
}

#[test]
fn read_errors_say_what_is_wrong() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = env(bed);
        let d = RemoteDir::new("mcptkey");
        let secret = d.path("secret");
        std::fs::write(&secret, "s").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        for (path, want) in [
            (d.path("missing"), FileProblem::NotFound),
            (
                d.root().to_string_lossy().into_owned(),
                FileProblem::IsADirectory,
            ),
            ("/dev/null".to_string(), FileProblem::NotRegular),
            (secret.clone(), FileProblem::PermissionDenied),
            ("/etc/shadow".to_string(), FileProblem::PermissionDenied),
        ] {
            let err = e
                .files
                .read(&read_req("fixture", &path), &never())
                .await
                .unwrap_err();
            assert_eq!(problem(&err), want, "{path}: {err}");
            assert!(err.to_string().contains(&path), "{err}");
        }
        for bad in ["", "/tmp/a\nb", "/tmp/a\0b"] {
            let err = e
                .files
                .read(&read_req("fixture", bad), &never())
                .await
                .unwrap_err();
            assert!(matches!(err, Error::InvalidInput { .. }), "{bad:?}: {err}");
        }
        let err = e
            .files
            .write(&write_req("fixture", &d.path("x\ny"), b"x"), &never())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("newline"), "{err}");
        let err = e
            .files
            .write(&write_req("fixture", "/etc/mcpf-denied", b"x"), &never())
            .await
            .unwrap_err();
        assert_eq!(problem(&err), FileProblem::PermissionDenied, "{err}");
        let err = e
            .files
            .write(
                &write_req("fixture", &d.root().to_string_lossy(), b"x"),
                &never(),
            )
            .await
            .unwrap_err();
        assert_eq!(problem(&err), FileProblem::IsADirectory, "{err}");
    });
}

// ---------------------------------------------------------------------------------------------
// sudo

/// A root-only file (0600 root:root) in a directory the sudo user can enter.
fn root_only(d: &RemoteDir, name: &str, content: &str) -> String {
    let p = d.path(name);
    std::fs::write(&p, content).unwrap();
    std::os::unix::fs::chown(&p, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
    let q = std::fs::metadata(&p).unwrap();
    assert_eq!((q.uid(), q.mode() & 0o777), (0, 0o640));
    p
}

#[test]
fn sudo_reads_and_writes_root_only_files() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = env(bed);
        let d = RemoteDir::new("mcptsudo");
        let p = root_only(&d, "root.conf", "secret=1\n");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        // Denied without sudo; read with sudo after the denial when asked.
        let err = e
            .files
            .read(&read_req("fixture-sudo", &p), &never())
            .await
            .unwrap_err();
        assert_eq!(problem(&err), FileProblem::PermissionDenied);
        let mut r = read_req("fixture-sudo", &p);
        r.sudo = sudo(sudo_password());
        let o = e.files.read(&r, &never()).await.unwrap();
        assert_eq!(
            (o.content.as_slice(), o.via),
            (&b"secret=1\n"[..], Via::Sudo)
        );

        // A binary write under sudo: atomic, root keeps ownership and the 0600 mode.
        let content: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        let mut w = write_req("fixture-sudo", &p, &content);
        w.sudo = sudo(sudo_password());
        let o = e.files.write(&w, &never()).await.unwrap();
        assert_eq!((o.via, o.atomic, o.passwordless), (Via::Sudo, true, false));
        assert_eq!(std::fs::read(&p).unwrap(), content);
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (0, 0, 0o600));
        // Appending under sudo, and a new file in a root-only directory with make_dirs.
        let mut w = write_req("fixture-sudo", &p, b"tail");
        w.sudo = sudo(sudo_password());
        w.append = true;
        e.files.write(&w, &never()).await.unwrap();
        assert_eq!(
            std::fs::read(&p).unwrap(),
            [content.as_slice(), b"tail"].concat()
        );
        let newp = "/root/mcpf-sudo-test/sub/new.txt".to_string();
        let _ = std::fs::remove_dir_all("/root/mcpf-sudo-test");
        let mut w = write_req("fixture-sudo", &newp, b"made by sudo");
        w.sudo = sudo(sudo_password());
        w.make_dirs = true;
        w.permissions = Some(0o600);
        let o = e.files.write(&w, &never()).await.unwrap();
        assert_eq!(o.path, newp);
        assert_eq!(std::fs::read(&newp).unwrap(), b"made by sudo");
        assert_eq!(mode_of(&newp), 0o600);
        std::fs::remove_dir_all("/root/mcpf-sudo-test").unwrap();
    });
}

#[test]
fn a_wrong_sudo_password_is_a_clear_error_within_seconds() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = env(bed);
        let d = RemoteDir::new("mcptsudo");
        let p = root_only(&d, "root.conf", "keep me\n");
        let started = Instant::now();
        let mut w = write_req("fixture-sudo", &p, b"never written");
        w.sudo = sudo("not-the-password");
        let err = e.files.write(&w, &never()).await.unwrap_err();
        assert_eq!(problem(&err), FileProblem::Sudo, "{err}");
        assert!(err.to_string().contains("rejected the password"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "keep me\n");
        // No password at all, and sudo asks for one.
        let mut r = read_req("fixture-sudo", &p);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        r.sudo = SudoRequest {
            use_sudo: true,
            password: None,
        };
        let err = e.files.read(&r, &never()).await.unwrap_err();
        assert_eq!(problem(&err), FileProblem::Sudo, "{err}");
        assert!(err.to_string().contains("none was given"), "{err}");
        // The password never appears in any process's command line.
        let argv: String = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|p| std::fs::read(p.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).into_owned())
            .collect();
        assert!(!argv.contains(sudo_password()) && !argv.contains("not-the-password"));
    });
}

// ---------------------------------------------------------------------------------------------
// Paths, symlinks, owners

/// Names that break naive quoting, globbing or option parsing; each must work literally.
const NASTY: &[&str] = &[
    "with space.txt",
    "  leading and trailing  ",
    "quote\"double.txt",
    "quote'single.txt",
    "back\\slash\\",
    "star*.txt",
    "question?.txt",
    "[bracket].txt",
    "-leading-dash",
    "--",
    "#hash",
    "dollar$HOME`x`",
    "tab\there",
    "carriage\rreturn",
    "ünïcödé 日本語",
    "semi;colon&amp|pipe",
];

#[test]
fn nasty_paths_work_literally_and_bad_ones_are_refused() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = env(bed);
        for host in ["fixture", "fixture-nosftp"] {
            let d = RemoteDir::new(if host == "fixture" {
                "mcptkey"
            } else {
                "mcptnosftp"
            });
            // Decoys that a glob or a lost quote would hit instead.
            std::fs::write(d.path("starX.txt"), "decoy").unwrap();
            std::fs::write(d.path("questionX.txt"), "decoy").unwrap();
            std::fs::write(d.path("b.txt"), "decoy").unwrap();
            for name in NASTY {
                let sub = d.path(&format!("dir {name}"));
                let p = format!("{sub}/{name}");
                let content = format!("content of {name}\n");
                let mut w = write_req(host, &p, content.as_bytes());
                w.make_dirs = true;
                let o = e
                    .files
                    .write(&w, &never())
                    .await
                    .unwrap_or_else(|err| panic!("{host} {name:?}: {err}"));
                assert_eq!(o.path, p);
                assert_eq!(
                    std::fs::read_to_string(&p).unwrap(),
                    content,
                    "{host} {name:?}"
                );
                let r = e.files.read(&read_req(host, &p), &never()).await.unwrap();
                assert_eq!(r.content, content.as_bytes(), "{host} {name:?}");
                let l = e
                    .files
                    .list(
                        &ListRequest {
                            login: login(host),
                            path: sub.clone(),
                            offset: 0,
                            limit: 100,
                        },
                        &never(),
                    )
                    .await
                    .unwrap_or_else(|err| panic!("{host} list {name:?}: {err}"));
                let names: Vec<&str> = l.entries.iter().map(|x| x.name.as_str()).collect();
                assert_eq!(names, [*name], "{host}");
                assert_eq!(l.entries[0].size, content.len() as u64);
            }
            let decoys = ["starX.txt", "questionX.txt", "b.txt"]
                .map(|n| std::fs::read_to_string(d.path(n)).unwrap());
            assert_eq!(decoys, ["decoy"; 3], "{host}: a decoy was touched");
            for bad in ["a\nb", "a\0b"] {
                let err = e
                    .files
                    .write(&write_req(host, &d.path(bad), b"x"), &never())
                    .await
                    .unwrap_err();
                assert!(matches!(err, Error::InvalidInput { .. }), "{bad:?}: {err}");
            }
        }
    });
}

#[test]
fn symlinks_and_foreign_owners_are_written_in_place() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = env(bed);
        for (host, user) in [("fixture", "mcptkey"), ("fixture-nosftp", "mcptnosftp")] {
            let d = RemoteDir::new(user);
            let (uid, gid) = ids(user);
            let target = d.path("real.conf");
            std::fs::write(&target, "old").unwrap();
            std::os::unix::fs::chown(&target, Some(uid), Some(gid)).unwrap();
            let link = d.path("link.conf");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            let o = e
                .files
                .write(&write_req(host, &link, b"through the link"), &never())
                .await
                .unwrap();
            assert_written_through(&link, &target, &format!("{host}: {o:?}"));
            if host == "fixture" {
                assert!(!o.atomic && !o.notes.is_empty(), "{o:?}");
            }
        }
        // A file of another user, writable through its group: it keeps its owner.
        let d = RemoteDir::new("mcptkey");
        let gid = ids("mcptkey").1;
        let shared = d.path("shared.txt");
        std::fs::write(&shared, "old").unwrap();
        std::os::unix::fs::chown(&shared, Some(0), Some(gid)).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o664)).unwrap();
        let o = e
            .files
            .write(&write_req("fixture", &shared, b"new"), &never())
            .await
            .unwrap();
        let m = std::fs::metadata(&shared).unwrap();
        assert_eq!((m.uid(), m.gid(), m.mode() & 0o777), (0, gid, 0o664));
        assert_eq!(std::fs::read_to_string(&shared).unwrap(), "new");
        assert!(!o.atomic, "{o:?}");
    });
}

// ---------------------------------------------------------------------------------------------
// Hosts: no sftp, ProxyJump

#[test]
fn a_host_without_sftp_uses_an_exec_channel() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = env(bed);
        let d = RemoteDir::new("mcptnosftp");
        let p = d.path("f.txt");
        let o = e
            .files
            .write(
                &write_req("fixture-nosftp", &p, "exec ✓\n".as_bytes()),
                &never(),
            )
            .await
            .unwrap();
        assert_eq!((o.via, o.atomic), (Via::Exec, true));
        assert!(o.notes.iter().any(|n| n.contains("sftp")), "{o:?}");
        let r = e
            .files
            .read(&read_req("fixture-nosftp", &p), &never())
            .await
            .unwrap();
        assert_eq!(
            (r.content.as_slice(), r.via, r.mode.as_deref()),
            ("exec ✓\n".as_bytes(), Via::Exec, Some("0644"))
        );
        let mut w = write_req("fixture-nosftp", &p, b"more");
        w.append = true;
        e.files.write(&w, &never()).await.unwrap();
        let mut r = read_req("fixture-nosftp", &p);
        r.limit = 3;
        r.offset = 2;
        let o = e.files.read(&r, &never()).await.unwrap();
        assert_eq!(
            (o.content.as_slice(), o.truncated, o.size),
            ("ec ".as_bytes(), true, Some(13))
        );
        let err = e
            .files
            .read(&read_req("fixture-nosftp", &d.path("nope")), &never())
            .await
            .unwrap_err();
        assert_eq!(problem(&err), FileProblem::NotFound, "{err}");
        let err = e
            .files
            .read(&read_req("fixture-nosftp", &d.path("")), &never())
            .await
            .unwrap_err();
        assert_eq!(problem(&err), FileProblem::IsADirectory, "{err}");
        let l = e
            .files
            .list(
                &ListRequest {
                    login: login("fixture-nosftp"),
                    path: d.root().to_string_lossy().into(),
                    offset: 0,
                    limit: 10,
                },
                &never(),
            )
            .await
            .unwrap();
        assert_eq!(l.via, Via::Exec);
        assert_eq!(
            l.entries
                .iter()
                .map(|x| (x.name.as_str(), x.kind))
                .collect::<Vec<_>>(),
            [("f.txt", Kind::File)]
        );
        assert_eq!(l.entries[0].owner, "mcptnosftp");
        // The home directory comes from the shell.
        let o = e
            .files
            .write(
                &write_req("fixture-nosftp", "~/mcpf-home.txt", b"h"),
                &never(),
            )
            .await
            .unwrap();
        assert_eq!(o.path, "/home/mcptnosftp/mcpf-home.txt");
        std::fs::remove_file(&o.path).unwrap();
    });
}

#[test]
fn a_host_behind_proxyjump_is_reached_through_the_same_master() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = env(bed);
        let d = RemoteDir::new("mcptkey");
        let p = d.path("jumped.txt");
        let o = e
            .files
            .write(&write_req("fixture-jump", &p, b"via a jump host"), &never())
            .await
            .unwrap();
        assert_eq!(o.via, Via::Sftp);
        let r = e
            .files
            .read(&read_req("fixture-jump", &p), &never())
            .await
            .unwrap();
        assert_eq!(r.content, b"via a jump host");
        let src = e.local.path().join("up.bin");
        random_file(&src, 3 << 20);
        let up = e
            .files
            .upload(
                &UploadRequest {
                    login: login("fixture-jump"),
                    local_path: "up.bin".into(),
                    remote_path: d.path("up.bin"),
                    ..Default::default()
                },
                None,
                &never(),
            )
            .await
            .unwrap();
        // Every client runs with ProxyCommand=false: only the master's connection (through
        // the jump host) could have carried this.
        assert_eq!((up.verified, up.via), (Verified::Sha256, Via::Exec));
    });
}

// ---------------------------------------------------------------------------------------------
// Streamed transfers

fn upload_req(host: &str, local: &str, remote: &str) -> UploadRequest {
    UploadRequest {
        login: login(host),
        local_path: local.into(),
        remote_path: remote.into(),
        ..Default::default()
    }
}

fn download_req(host: &str, remote: &str, local: &str) -> DownloadRequest {
    DownloadRequest {
        login: login(host),
        remote_path: remote.into(),
        local_path: local.into(),
        ..Default::default()
    }
}

#[test]
fn uploads_and_downloads_are_checked_on_every_path() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = env(bed);
        let src = e.local.path().join("src ünï*.bin");
        random_file(&src, (5 << 20) + 123);
        let (sha, size) = sha256_file(&src).unwrap();
        for (host, user, sudo_pw, via) in [
            ("fixture", "mcptkey", None, Via::Exec),
            ("fixture-nosftp", "mcptnosftp", None, Via::Exec),
            ("fixture-sudo", "mcptsudo", Some(sudo_password()), Via::Sudo),
        ] {
            let d = RemoteDir::new(user);
            let remote = d.path("-dest [x] \"q\".bin");
            let mut up = upload_req(host, "src ünï*.bin", &remote);
            if let Some(pw) = sudo_pw {
                up.sudo = sudo(pw);
            }
            let seen = std::sync::Mutex::new(Vec::new());
            let progress = |done: u64, total: Option<u64>| seen.lock().unwrap().push((done, total));
            let o = e
                .files
                .upload(&up, Some(&progress), &never())
                .await
                .unwrap_or_else(|err| panic!("{host}: {err}"));
            assert_eq!(
                (o.via, o.verified, o.bytes, o.sha256.as_str()),
                (via, Verified::Sha256, size, sha.as_str()),
                "{host}"
            );
            assert_eq!(o.remote_path, remote);
            assert_eq!(sha256_file(Path::new(&remote)).unwrap().0, sha, "{host}");
            let owner = std::fs::metadata(&remote).unwrap().uid();
            assert_eq!(
                owner,
                if sudo_pw.is_some() { 0 } else { ids(user).0 },
                "{host}"
            );
            // Into a directory: the local name is kept.
            let o = e
                .files
                .upload(
                    &upload_req(host, "src ünï*.bin", &d.path("")),
                    None,
                    &never(),
                )
                .await;
            if sudo_pw.is_none() {
                assert_eq!(o.unwrap().remote_path, d.path("src ünï*.bin"));
            }
            let mut down = download_req(host, &remote, "back.bin");
            if let Some(pw) = sudo_pw {
                down.sudo = sudo(pw);
            }
            let o = e
                .files
                .download(&down, Some(&progress), &never())
                .await
                .unwrap_or_else(|err| panic!("{host}: {err}"));
            assert_eq!(
                (o.via, o.verified, o.bytes),
                (via, Verified::Sha256, size),
                "{host}"
            );
            let back = e.local.path().join("back.bin");
            assert_eq!(o.local_path, back.canonicalize().unwrap());
            assert_eq!(sha256_file(&back).unwrap().0, sha, "{host}");
            std::fs::remove_file(&back).unwrap();
            // Into a local directory: the remote name is kept.
            std::fs::create_dir_all(e.local.path().join("in")).unwrap();
            let mut down = download_req(host, &remote, "in");
            down.sudo = up.sudo.clone();
            let o = e.files.download(&down, None, &never()).await.unwrap();
            assert_eq!(o.local_path.file_name().unwrap(), "-dest [x] \"q\".bin");
            std::fs::remove_dir_all(e.local.path().join("in")).unwrap();
            // No partial file is left on either side.
            let stray = |dir: &Path| {
                std::fs::read_dir(dir)
                    .unwrap()
                    .flatten()
                    .filter(|x| x.file_name().to_string_lossy().contains(".mcp-"))
                    .count()
            };
            assert_eq!((stray(d.root()), stray(e.local.path())), (0, 0), "{host}");
        }
    });
}

#[test]
fn a_cancelled_transfer_leaves_the_old_file_intact() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = env(bed);
        let src = e.local.path().join("big.bin");
        random_file(&src, 200 << 20);
        for (host, user) in [("fixture", "mcptkey"), ("fixture-nosftp", "mcptnosftp")] {
            let d = RemoteDir::new(user);
            let remote = d.path("target.bin");
            std::fs::write(&remote, "the old content").unwrap();
            std::os::unix::fs::chown(&remote, Some(ids(user).0), None).unwrap();
            let cancel = CancellationToken::new();
            let c2 = cancel.clone();
            let target = remote.clone();
            // Cancel once the temporary file has started to fill.
            let watcher = std::thread::spawn(move || {
                let dir = Path::new(&target).parent().unwrap().to_path_buf();
                let deadline = Instant::now() + Duration::from_secs(120);
                while Instant::now() < deadline {
                    let growing = std::fs::read_dir(&dir).unwrap().flatten().any(|x| {
                        x.file_name().to_string_lossy().contains(".mcp-")
                            && x.metadata().map(|m| m.len() > 1 << 20).unwrap_or(false)
                    });
                    if growing {
                        c2.cancel();
                        return true;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                false
            });
            let r = e
                .files
                .upload(&upload_req(host, "big.bin", &remote), None, &cancel)
                .await;
            assert!(watcher.join().unwrap(), "{host}: the upload never started");
            assert!(matches!(r, Err(Error::Cancelled)), "{host}: {r:?}");
            assert_eq!(
                std::fs::read_to_string(&remote).unwrap(),
                "the old content",
                "{host}"
            );
            // The temporary file goes too (removed by us, or by the remote script).
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let stray: Vec<_> = std::fs::read_dir(d.root())
                    .unwrap()
                    .flatten()
                    .map(|x| x.file_name())
                    .filter(|n| n.to_string_lossy().contains(".mcp-"))
                    .collect();
                if stray.is_empty() {
                    break;
                }
                assert!(Instant::now() < deadline, "{host}: left behind: {stray:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
}

#[test]
fn local_paths_stay_under_the_local_root() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = env(bed);
        let d = RemoteDir::new("mcptkey");
        std::fs::write(d.path("r.txt"), "remote").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "local secret").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret"),
            e.local.path().join("link-out"),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path(), e.local.path().join("dir-out")).unwrap();
        let abs = outside.path().join("secret").to_string_lossy().into_owned();
        for bad in [
            "../../etc/passwd",
            "/etc/passwd",
            abs.as_str(),
            "link-out",
            "dir-out/secret",
            "../x",
        ] {
            let err = e
                .files
                .upload(&upload_req("fixture", bad, &d.path("u")), None, &never())
                .await
                .unwrap_err();
            assert!(
                matches!(err, Error::LocalFile { .. }),
                "upload {bad}: {err}"
            );
            let err = e
                .files
                .download(
                    &download_req("fixture", &d.path("r.txt"), bad),
                    None,
                    &never(),
                )
                .await
                .unwrap_err();
            assert!(
                matches!(err, Error::LocalFile { .. }),
                "download {bad}: {err}"
            );
        }
        assert!(!Path::new(&d.path("u")).exists());
        assert_eq!(
            std::fs::read_to_string(outside.path().join("secret")).unwrap(),
            "local secret"
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Full and read-only file systems

/// A small tmpfs, unmounted on drop.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(options: &str, owner: &str) -> Option<Mount> {
        let dir = tempfile::Builder::new()
            .prefix("mcpf-mnt-")
            .tempdir_in("/tmp")
            .unwrap()
            .keep();
        let (uid, gid) = ids(owner);
        let opts = format!("size=256k,uid={uid},gid={gid},mode=0755{options}");
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &opts, "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = std::fs::remove_dir(&dir);
            return None;
        }
        Some(Mount(dir))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn disk_full_and_read_only_are_named() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = env(bed);
        let content = vec![b'x'; 400 * 1024];
        for (host, user) in [("fixture", "mcptkey"), ("fixture-nosftp", "mcptnosftp")] {
            let (Some(full), Some(ro)) = (Mount::tmpfs("", user), Mount::tmpfs(",ro", user)) else {
                if common::in_ci() {
                    panic!("mount -t tmpfs failed in CI");
                }
                eprintln!("SKIP disk_full_and_read_only_are_named: cannot mount a tmpfs here");
                return;
            };
            let p = full.0.join("f").to_string_lossy().into_owned();
            std::fs::write(&p, "old").unwrap();
            std::os::unix::fs::chown(&p, Some(ids(user).0), None).unwrap();
            let err = e
                .files
                .write(&write_req(host, &p, &content), &never())
                .await
                .unwrap_err();
            assert_eq!(problem(&err), FileProblem::DiskFull, "{host}: {err}");
            assert_eq!(std::fs::read_to_string(&p).unwrap(), "old", "{host}");
            let stray = std::fs::read_dir(&full.0).unwrap().count();
            assert_eq!(
                stray, 1,
                "{host}: a temporary file was left on the full disk"
            );
            let q = ro.0.join("f").to_string_lossy().into_owned();
            let err = e
                .files
                .write(&write_req(host, &q, b"x"), &never())
                .await
                .unwrap_err();
            assert_eq!(problem(&err), FileProblem::ReadOnly, "{host}: {err}");
        }
    });
}

// ---------------------------------------------------------------------------------------------
// list_directory

#[test]
fn listings_have_detail_and_pages() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = env(bed);
        let d = RemoteDir::new("mcptkey");
        for i in 0..25 {
            std::fs::write(d.path(&format!("f{i:02}")), vec![b'a'; i]).unwrap();
        }
        std::fs::create_dir(d.path("sub")).unwrap();
        std::os::unix::fs::symlink("f01", d.path("zlink")).unwrap();
        std::fs::set_permissions(d.path("f03"), std::fs::Permissions::from_mode(0o4711)).unwrap();
        for host in ["fixture", "fixture-nosftp"] {
            let mut req = ListRequest {
                login: login(host),
                path: d.root().to_string_lossy().into(),
                offset: 0,
                limit: 10,
            };
            let mut names = Vec::new();
            loop {
                let l = e.files.list(&req, &never()).await.unwrap();
                assert_eq!(l.total, 27, "{host}");
                assert!(l.entries.len() <= 10);
                names.extend(l.entries.iter().map(|x| x.name.clone()));
                for x in &l.entries {
                    match x.name.as_str() {
                        "sub" => assert_eq!(x.kind, Kind::Dir),
                        "zlink" => assert_eq!(x.kind, Kind::Symlink),
                        "f03" => assert_eq!((x.mode.as_str(), x.size), ("4711", 3)),
                        "f24" => {
                            assert_eq!((x.kind, x.size, x.owner.as_str()), (Kind::File, 24, "root"))
                        }
                        _ => {}
                    }
                    assert_eq!(x.mtime.len(), 16, "{x:?}");
                }
                match l.next_offset {
                    Some(n) => req.offset = n,
                    None => break,
                }
            }
            let mut want: Vec<String> = (0..25).map(|i| format!("f{i:02}")).collect();
            want.extend(["sub".to_string(), "zlink".to_string()]);
            assert_eq!(names, want, "{host}");
            // One file: its own entry.
            req.path = d.path("f05");
            req.offset = 0;
            let l = e.files.list(&req, &never()).await.unwrap();
            assert!(!l.is_dir);
            assert_eq!(
                l.entries
                    .iter()
                    .map(|x| (x.name.as_str(), x.size))
                    .collect::<Vec<_>>(),
                [("f05", 5)]
            );
            req.path = d.path("missing");
            let err = e.files.list(&req, &never()).await.unwrap_err();
            assert_eq!(problem(&err), FileProblem::NotFound, "{host}: {err}");
        }
    });
}

/// A directory past what one listing keeps: the count is right, the listing says where it
/// stops, and a write to a link listed past that point still keeps the link.
#[test]
fn a_directory_past_the_listing_cap_says_so_and_writes_keep_links() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = env(bed);
        let d = RemoteDir::new("mcptkey");
        let files = MAX_ENTRIES + 3;
        for i in 0..files {
            std::fs::File::create(d.root().join(format!("f{i:06}"))).unwrap();
        }
        let (uid, gid) = ids("mcptkey");
        let elsewhere = RemoteDir::new("mcptkey");
        let target = elsewhere.path("real.conf");
        std::fs::write(&target, "old").unwrap();
        std::os::unix::fs::chown(&target, Some(uid), Some(gid)).unwrap();
        // Named to sort after every f file: past the cap.
        let link = d.path("zz-link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        for host in ["fixture", "fixture-nosftp"] {
            let req = ListRequest {
                login: login(host),
                path: d.root().to_string_lossy().into(),
                offset: MAX_ENTRIES - 5,
                limit: 10,
            };
            let l = e.files.list(&req, &never()).await.unwrap();
            assert_eq!(
                (l.total, l.listed_up_to, l.next_offset, l.entries.len()),
                (files + 1, Some(MAX_ENTRIES), None, 5),
                "{host}"
            );
            assert_eq!(
                l.entries.last().map(|x| x.name.clone()),
                Some(format!("f{:06}", MAX_ENTRIES - 1)),
                "{host}"
            );
        }
        let o = e
            .files
            .write(&write_req("fixture", &link, b"through the link"), &never())
            .await
            .unwrap();
        assert_written_through(&link, &target, &format!("{o:?}"));
        assert!(
            !o.atomic && o.notes.iter().any(|n| n.contains("could not be checked")),
            "{o:?}"
        );
    });
}

#[test]
fn an_sftp_only_account_and_a_host_with_neither() {
    let bed = require_testbed!();
    rt().block_on(async {
        let e = env(bed);
        let d = RemoteDir::new("mcptsftponly");
        let p = d.path("f.txt");
        let started = Instant::now();
        let o = e
            .files
            .write(&write_req("fixture-sftponly", &p, b"sftp only\n"), &never())
            .await
            .unwrap();
        assert_eq!((o.via, o.atomic), (Via::Sftp, true));
        let r = e
            .files
            .read(&read_req("fixture-sftponly", "~/../../tmp/x"), &never())
            .await;
        assert!(r.is_err());
        let r = e
            .files
            .read(&read_req("fixture-sftponly", &p), &never())
            .await
            .unwrap();
        assert_eq!(r.content, b"sftp only\n");
        // Streamed transfers go through sftp, checked by size (no shell to hash with).
        let src = e.local.path().join("s.bin");
        random_file(&src, 3 << 20);
        let up = e
            .files
            .upload(
                &upload_req("fixture-sftponly", "s.bin", &d.path("s.bin")),
                None,
                &never(),
            )
            .await
            .unwrap();
        assert_eq!((up.via, up.verified), (Via::Sftp, Verified::Size));
        assert!(up.notes.iter().any(|n| n.contains("sftp only")), "{up:?}");
        let down = e
            .files
            .download(
                &download_req("fixture-sftponly", &d.path("s.bin"), "s2.bin"),
                None,
                &never(),
            )
            .await
            .unwrap();
        assert_eq!((down.via, down.verified), (Via::Sftp, Verified::Size));
        assert_eq!(
            sha256_file(&e.local.path().join("s2.bin")).unwrap(),
            sha256_file(&src).unwrap()
        );
        // sudo needs a shell: a clear error, at once.
        let mut w = write_req("fixture-sftponly", &p, b"x");
        w.sudo = sudo("pw");
        let err = e.files.write(&w, &never()).await.unwrap_err();
        assert_eq!(problem(&err), FileProblem::Sudo, "{err}");
        assert!(err.to_string().contains("no POSIX shell"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{:?}",
            started.elapsed()
        );

        // Neither sftp nor a shell: one clear error naming both.
        let started = Instant::now();
        let err = e
            .files
            .read(&read_req("fixture-nofiles", "/etc/hostname"), &never())
            .await
            .unwrap_err();
        assert_eq!(problem(&err), FileProblem::NoTransport, "{err}");
        let msg = err.to_string();
        assert!(msg.contains("sftp") && msg.contains("shell"), "{msg}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );

        // A network device answers sftp with its CLI: said in words, not as sftp's
        // "Received message too long".
        let err = e
            .files
            .read(&read_req("fixture-ios", "/etc/hostname"), &never())
            .await
            .unwrap_err();
        assert_eq!(problem(&err), FileProblem::NoTransport, "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("answers sftp with text") && msg.contains("network device"),
            "{msg}"
        );
        assert!(!msg.contains("message too long"), "{msg}");
    });
}
