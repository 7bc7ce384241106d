//! Local paths for upload_file and download_file, confined to one directory (the local
//! root): relative paths are taken from it, and `..`, symlinks leading out and absolute
//! paths elsewhere are refused, so a model cannot read `~/.ssh/id_ed25519` or overwrite
//! `~/.bashrc` through a transfer.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct LocalRoot {
    root: PathBuf,
}

impl LocalRoot {
    /// `configured` (flag or environment), else the working directory; it must exist.
    pub fn new(configured: Option<&Path>) -> Result<Self> {
        let given = match configured {
            Some(p) => p.to_path_buf(),
            None => std::env::current_dir()
                .map_err(|e| Error::io("cannot read the working directory", e))?,
        };
        let root = given.canonicalize().map_err(|e| Error::LocalFile {
            path: given.display().to_string(),
            detail: format!("the local root cannot be used: {e}"),
        })?;
        if !root.is_dir() {
            return Err(Error::LocalFile {
                path: root.display().to_string(),
                detail: "the local root is not a directory".into(),
            });
        }
        Ok(LocalRoot { root })
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    /// An existing regular file under the root, to upload.
    pub fn source(&self, given: &str) -> Result<PathBuf> {
        let path = self.confine(given)?;
        let meta = std::fs::metadata(&path).map_err(|e| self.refuse(given, e.to_string()))?;
        if meta.is_dir() {
            return Err(self.refuse(given, "is a directory; upload one file at a time".into()));
        }
        if !meta.is_file() {
            return Err(self.refuse(given, "not a regular file".into()));
        }
        Ok(path)
    }

    /// Where a download goes: under the root, in an existing directory. An existing
    /// directory as `given` means `default_name` inside it.
    pub fn destination(&self, given: &str, default_name: &str) -> Result<PathBuf> {
        let mut path = self.confine(given)?;
        if path.is_dir() {
            if default_name.is_empty() || default_name.contains('/') {
                return Err(self.refuse(given, "is a directory".into()));
            }
            path = self.confine(&path.join(default_name).to_string_lossy())?;
        }
        let parent = path.parent().unwrap_or(&self.root);
        if !parent.is_dir() {
            return Err(self.refuse(
                given,
                format!("the directory {} does not exist", parent.display()),
            ));
        }
        if path.is_dir() {
            return Err(self.refuse(given, "is a directory".into()));
        }
        Ok(path)
    }

    /// The path as it really is (symlinks resolved as far as it exists), checked to lie
    /// under the root.
    fn confine(&self, given: &str) -> Result<PathBuf> {
        if given.is_empty() {
            return Err(Error::invalid("local_path", "it is empty"));
        }
        if given.contains('\0') || given.contains('\n') {
            return Err(Error::invalid(
                "local_path",
                "it contains a newline or NUL byte",
            ));
        }
        let joined = self.root.join(given);
        // The deepest existing ancestor, canonical (symlinks resolved), then the rest.
        let mut existing = joined.as_path();
        let mut rest: Vec<&std::ffi::OsStr> = Vec::new();
        let canonical = loop {
            match existing.canonicalize() {
                Ok(c) => break c,
                Err(_) => {
                    let name = existing.file_name();
                    match (existing.parent(), name) {
                        (Some(parent), Some(name)) => {
                            rest.push(name);
                            existing = parent;
                        }
                        // `..` or `/` that does not resolve.
                        _ => return Err(self.refuse(given, "cannot be resolved".into())),
                    }
                }
            }
        };
        let mut path = canonical;
        for name in rest.into_iter().rev() {
            match Path::new(name).components().next() {
                Some(Component::Normal(n)) => path.push(n),
                _ => {
                    return Err(self.refuse(
                        given,
                        "contains `..` after a directory that does not exist".into(),
                    ));
                }
            }
        }
        if !path.starts_with(&self.root) {
            return Err(self.refuse(
                given,
                format!(
                    "resolves to {}, outside the local root {} (start the server with --local-root or MCP_SSH_LOCAL_ROOT to allow another directory)",
                    path.display(),
                    self.root.display()
                ),
            ));
        }
        Ok(path)
    }

    fn refuse(&self, given: &str, detail: String) -> Error {
        Error::LocalFile {
            path: given.to_string(),
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confines_paths_to_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root_dir = dir.path().join("root");
        std::fs::create_dir_all(root_dir.join("sub")).unwrap();
        std::fs::write(root_dir.join("sub/f"), b"x").unwrap();
        std::fs::write(dir.path().join("secret"), b"s").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), root_dir.join("out")).unwrap();
        std::os::unix::fs::symlink(dir.path(), root_dir.join("outdir")).unwrap();
        std::os::unix::fs::symlink(root_dir.join("sub/f"), root_dir.join("in")).unwrap();
        let root = LocalRoot::new(Some(&root_dir)).unwrap();
        let canon = root_dir.canonicalize().unwrap();

        assert_eq!(root.source("sub/f").unwrap(), canon.join("sub/f"));
        assert_eq!(root.source("in").unwrap(), canon.join("sub/f"));
        assert_eq!(root.source("sub/../sub/f").unwrap(), canon.join("sub/f"));
        for bad in [
            "../secret",
            "../../etc/passwd",
            "/etc/passwd",
            "out",
            "outdir/secret",
            "sub/../../secret",
        ] {
            let e = root.source(bad).unwrap_err().to_string();
            assert!(e.contains("outside the local root"), "{bad}: {e}");
        }
        assert!(
            root.source("sub")
                .unwrap_err()
                .to_string()
                .contains("directory")
        );
        assert!(root.source("missing").is_err());

        assert_eq!(root.destination("new", "x").unwrap(), canon.join("new"));
        assert_eq!(
            root.destination("sub", "r.bin").unwrap(),
            canon.join("sub/r.bin")
        );
        assert_eq!(
            root.destination(&canon.join("sub/n").to_string_lossy(), "x")
                .unwrap(),
            canon.join("sub/n")
        );
        for bad in ["../new", "outdir/new", "/tmp/new", "nodir/x/../../../y"] {
            assert!(root.destination(bad, "x").is_err(), "{bad}");
        }
        assert!(
            root.destination("nodir/new", "x")
                .unwrap_err()
                .to_string()
                .contains("does not exist")
        );
        assert!(root.destination("sub", "").is_err());
    }
}
