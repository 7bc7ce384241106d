//! A destination (host, user, port as the caller named them): its resolved configuration,
//! its ControlMaster and its shells. The first shell is the main one, whose state (cwd,
//! variables) persists between calls; when it is busy, commands run in parallel shells
//! through the same master, up to a limit.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::session::login::start_master;
use crate::session::shell::{ShellHandle, ShellSpawn};
use crate::ssh::master::MasterStart;
use crate::ssh::{Master, Resolved, RuntimeDir, Shown, SshProgram, Target, resolve};

/// Identifies a session: the host as the caller named it (an `OVRD_` alias stays an alias),
/// with the user and port it connects as where known before ssh's configuration fills them in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionKey {
    pub host: String,
    pub user: Option<String>,
    pub port: Option<u16>,
}

impl SessionKey {
    /// Same host name, and same user/port where the caller names them.
    pub fn matches(&self, host: &str, user: Option<&str>, port: Option<u16>) -> bool {
        self.host == host
            && (user.is_none() || self.user.as_deref() == user)
            && (port.is_none() || self.port == port)
    }

    pub fn of(name: &str, t: &Target) -> Self {
        SessionKey {
            host: name.to_string(),
            user: t.user.clone(),
            port: t.port,
        }
    }
}

/// A claimed shell plus what the caller should be told about it.
pub struct Acquired {
    pub shell: Arc<ShellHandle>,
    pub notes: Vec<String>,
}

/// What connecting needs besides the destination itself.
pub struct Connect<'a> {
    pub config: &'a Config,
    pub ssh: &'a SshProgram,
    pub runtime: &'a RuntimeDir,
    pub target: &'a Target,
    /// Typed at the target's own password or key-passphrase prompt.
    pub password: Option<&'a Secret>,
}

/// The authenticated connection, for work that needs no shell (sftp batches, exec channels,
/// forwards): everything needed to run another ssh client through the master.
#[derive(Debug, Clone)]
pub struct MasterLease {
    /// The ControlMaster's socket (`-S` / `-o ControlPath=`).
    pub socket: PathBuf,
    /// The destination as ssh is given it (host after `OVRD_` overrides, user, port, key).
    pub target: Target,
    /// `user@host:port` (the alias alone for an `OVRD_` alias), for messages.
    pub label: String,
    /// The user ssh logs in as (from `ssh -G`; never shown for an `OVRD_` alias).
    pub user: Option<String>,
    /// What the caller should know about the login (a host key ssh added).
    pub notes: Vec<String>,
    /// What may be shown of this destination: scrub ssh's and sftp's messages with it.
    pub shown: Arc<Shown>,
}

pub struct Destination {
    pub key: SessionKey,
    /// What may be shown: labels and messages go through it.
    pub shown: Arc<Shown>,
    inner: tokio::sync::Mutex<Inner>,
    label: std::sync::Mutex<String>,
    /// A copy of the shell list for readers that must not wait while a shell or master
    /// starts (listings, read_screen): updated whenever the list changes.
    view: std::sync::Mutex<View>,
    /// Cancelled by [`Destination::close`]: a connect in progress gives up, and a closed
    /// destination is never revived (a later call makes a new one).
    closed: CancellationToken,
}

#[derive(Default, Clone)]
struct View {
    shells: Vec<Arc<ShellHandle>>,
    connected: bool,
}

struct Inner {
    target: Target,
    resolved: Option<Resolved>,
    master: Option<Master>,
    shells: Vec<Arc<ShellHandle>>,
    next_index: usize,
    /// The main shell's cwd, remembered for parallel shells and after a reset.
    last_cwd: Option<String>,
    /// What the first shell turned out to be (`posix`, or a device family): later shells of
    /// the destination skip the wait for a prompt that tells.
    dialect: Option<String>,
}

impl Destination {
    pub fn new(target: Target, shown: Arc<Shown>) -> Self {
        let label = shown.label(&target, None);
        Destination {
            key: SessionKey::of(shown.name(), &target),
            shown,
            inner: tokio::sync::Mutex::new(Inner {
                target,
                resolved: None,
                master: None,
                shells: Vec::new(),
                next_index: 1,
                last_cwd: None,
                dialect: None,
            }),
            label: std::sync::Mutex::new(label),
            view: std::sync::Mutex::new(View::default()),
            closed: CancellationToken::new(),
        }
    }

    /// Neither a master nor a shell: nothing to list or close (a connect that failed).
    pub fn is_empty(&self) -> bool {
        let v = self.view.lock().unwrap_or_else(|e| e.into_inner());
        !v.connected && v.shells.is_empty()
    }

    fn publish(&self, g: &Inner) {
        let mut v = self.view.lock().unwrap_or_else(|e| e.into_inner());
        v.shells = g.shells.clone();
        v.connected = g.master.is_some();
    }

    /// `user@host:port` (resolved by `ssh -G` once known).
    pub fn label(&self) -> String {
        self.label.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Makes sure the master is up and returns it, without taking a shell.
    pub async fn master(&self, c: &Connect<'_>, cancel: &CancellationToken) -> Result<MasterLease> {
        self.until_closed(async {
            let mut g = self.inner.lock().await;
            self.check_open()?;
            g.shells.retain(|s| s.is_alive());
            let notes = self.ensure_master(&mut g, c, cancel).await?;
            self.publish(&g);
            Ok(MasterLease {
                socket: g.master.as_ref().expect("started").socket().to_path_buf(),
                target: g.target.clone(),
                label: self.label(),
                user: g.resolved.as_ref().map(|r| r.user.clone()),
                notes,
                shown: self.shown.clone(),
            })
        })
        .await
    }

    /// Claims an idle shell, starting the master and a shell as needed.
    pub async fn acquire(&self, c: &Connect<'_>, cancel: &CancellationToken) -> Result<Acquired> {
        self.until_closed(self.acquire_open(c, cancel)).await
    }

    /// Runs `work` unless and until the destination is closed.
    async fn until_closed<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        tokio::select! {
            r = work => r,
            () = self.closed.cancelled() => Err(self.closed_error()),
        }
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.is_cancelled() {
            return Err(self.closed_error());
        }
        Ok(())
    }

    fn closed_error(&self) -> Error {
        Error::Disconnected {
            dest: self.label(),
            detail: "the session was closed (close_session) while this call was connecting; call again to open a new one".into(),
        }
    }

    async fn acquire_open(&self, c: &Connect<'_>, cancel: &CancellationToken) -> Result<Acquired> {
        let mut g = self.inner.lock().await;
        self.check_open()?;
        // A newer key file applies to the next connection.
        if c.target.identity.is_some() {
            g.target.identity = c.target.identity.clone();
        }
        let mut notes = Vec::new();
        if let Some(first) = g.shells.first()
            && !first.is_alive()
        {
            let why = first.info().ended.unwrap_or_else(|| "it ended".into());
            notes.push(format!(
                "the previous shell was lost ({why}); this command runs in a new shell, so the working directory, variables and other shell state were reset"
            ));
        }
        // The main shell's directory, even if that shell just died: the next main shell starts there.
        if let Some(cwd) = g.shells.first().and_then(|s| s.info().cwd) {
            g.last_cwd = Some(cwd);
        }
        g.shells.retain(|s| s.is_alive());
        self.publish(&g);
        if let Some(s) = g.shells.iter().find(|s| s.try_claim()).cloned() {
            if !Arc::ptr_eq(&s, &g.shells[0]) {
                notes.push(parallel_note(&g.shells[0], s.index));
            }
            return Ok(Acquired { shell: s, notes });
        }
        if g.shells.len() >= c.config.max_shells {
            let running: Vec<String> = g
                .shells
                .iter()
                .filter_map(|s| s.info().current_job)
                .collect();
            return Err(Error::ShellLimit {
                dest: self.label(),
                limit: c.config.max_shells,
                running: running.join(", "),
            });
        }
        notes.extend(self.ensure_master(&mut g, c, cancel).await?);
        let label = self.label();
        let index = g.next_index;
        g.next_index += 1;
        let is_main = g.shells.is_empty();
        // A parallel shell, or the main shell replacing a lost one, starts where the main shell
        // was; a destination's very first shell has no such directory yet.
        let cwd = g.last_cwd.clone();
        let socket = g
            .master
            .as_ref()
            .expect("started above")
            .socket()
            .to_path_buf();
        let target = g.target.clone();
        let shell = ShellHandle::spawn(
            ShellSpawn {
                ssh: c.ssh,
                target: &target,
                socket: &socket,
                log: c.runtime.fresh("s", ".log"),
                label: &label,
                index,
                columns: c.config.columns,
                rows: c.config.rows,
                timeout: c.config.connect_timeout,
                cwd,
                known_dialect: g.dialect.clone(),
            },
            cancel,
        )
        .await?;
        let info = shell.info();
        g.dialect = Some(info.dialect.clone());
        notes.extend(info.login_notes.iter().cloned());
        if info.posix_fallback {
            notes.push(format!(
                "the login shell ({}) is not POSIX-compatible; commands run in bash (or sh) started inside it",
                info.login_shell.as_deref().unwrap_or("unknown")
            ));
        }
        if is_main && g.last_cwd.is_some() {
            notes.push(format!(
                "the new shell starts in the previous working directory {}",
                g.last_cwd.as_deref().unwrap_or("")
            ));
        }
        let shell = Arc::new(shell);
        let claimed = shell.try_claim();
        debug_assert!(claimed);
        if !is_main {
            notes.push(parallel_note(&g.shells[0], index));
        }
        g.shells.push(shell.clone());
        self.publish(&g);
        Ok(Acquired { shell, notes })
    }

    /// Resolves the destination once and starts (or restarts) its master when it is not up.
    /// Returns notes about the login (a host key ssh added).
    async fn ensure_master(
        &self,
        g: &mut Inner,
        c: &Connect<'_>,
        cancel: &CancellationToken,
    ) -> Result<Vec<String>> {
        if g.resolved.is_none() {
            let r = resolve::resolve(c.ssh, &g.target, c.config.connect_timeout).await?;
            tracing::debug!(host = %g.target.host, "resolved with ssh -G");
            self.shown.learn(&g.target, &r);
            *self.label.lock().unwrap_or_else(|e| e.into_inner()) =
                self.shown.label(&g.target, Some(&r));
            g.resolved = Some(r);
        }
        let label = self.label();
        let master_alive = match &g.master {
            None => false,
            // Live shells are multiplexed on the master, so it is up; otherwise ask it.
            Some(m) => !g.shells.is_empty() || m.check().await,
        };
        if master_alive {
            return Ok(Vec::new());
        }
        if let Some(old) = g.master.take() {
            old.exit().await;
        }
        let target = g.target.clone();
        let (master, notes) = start_master(
            MasterStart {
                ssh: c.ssh,
                target: &target,
                resolved: g.resolved.as_ref(),
                socket: c.runtime.socket()?,
                log: c.runtime.fresh("m", ".log"),
                timeout: c.config.connect_timeout,
                label: &label,
                known_hosts: Some(c.runtime.path().join("known_hosts")),
            },
            c.password,
            cancel,
        )
        .await?;
        g.master = Some(master);
        self.publish(g);
        Ok(notes)
    }

    /// The shells, main first; never waits for a connection in progress.
    pub fn shells_snapshot(&self) -> Vec<Arc<ShellHandle>> {
        self.view
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .shells
            .clone()
    }

    /// A master is up and some shell is alive.
    pub fn is_connected(&self) -> bool {
        let v = self.view.lock().unwrap_or_else(|e| e.into_inner());
        v.connected && v.shells.iter().any(|s| s.is_alive())
    }

    /// Closes every shell and the master. A connect in progress is abandoned, and the
    /// destination is never used again.
    pub async fn close(&self) {
        self.closed.cancel();
        let mut g = self.inner.lock().await;
        for s in g.shells.drain(..) {
            s.close();
        }
        *self.view.lock().unwrap_or_else(|e| e.into_inner()) = View::default();
        if let Some(m) = g.master.take() {
            // Give shells a moment to hang up cleanly before the master goes.
            tokio::time::sleep(Duration::from_millis(20)).await;
            m.exit().await;
        }
    }
}

fn parallel_note(main: &ShellHandle, index: usize) -> String {
    let busy_with = main
        .info()
        .current_job
        .map(|id| format!(" (running command {id})"))
        .unwrap_or_default();
    format!(
        "ran in parallel shell #{index} because the main shell is busy{busy_with}; it started in the main shell's last directory, but variables and other state of the main shell do not apply here"
    )
}
