//! The sessions as the tools see them: listed, found by host, closed.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::SessionManager;
use crate::error::Result;
use crate::session::destination::{Destination, SessionKey};
use crate::session::shell::ShellHandle;
use crate::ssh::Target;

/// One session in a listing.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SessionInfo {
    /// `user@host:port`; an `OVRD_` alias alone.
    pub session: String,
    pub host: String,
    pub connected: bool,
    pub shells: Vec<ShellSummary>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ShellSummary {
    pub index: usize,
    pub alive: bool,
    pub busy: bool,
    pub cwd: Option<String>,
    /// 1 is the login shell; higher inside `sudo -i`, `su -`, `bash`...
    pub depth: u32,
    pub login_shell: Option<String>,
    pub current_command_id: Option<String>,
}

/// Longest `close_all` waits for its sessions to close.
const CLOSE_ALL_LIMIT: Duration = Duration::from_secs(30);

impl SessionManager {
    pub fn sessions(&self) -> Vec<SessionInfo> {
        let dests: Vec<Arc<Destination>> = {
            let g = self.dests.lock().unwrap_or_else(|e| e.into_inner());
            g.values().cloned().collect()
        };
        let mut out: Vec<SessionInfo> = dests
            .iter()
            .map(|d| {
                let shells = d.shells_snapshot();
                SessionInfo {
                    session: d.label(),
                    host: d.key.host.clone(),
                    connected: d.is_connected(),
                    shells: shells
                        .iter()
                        .map(|s| {
                            let i = s.info();
                            ShellSummary {
                                index: s.index,
                                alive: s.is_alive(),
                                busy: s.is_busy(),
                                cwd: i.cwd.map(|c| d.shown.scrub(&c)),
                                depth: i.depth,
                                login_shell: i.login_shell,
                                current_command_id: i.current_job,
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        out.sort_by(|a, b| a.session.cmp(&b.session));
        out
    }

    /// Closes the sessions matching host (and user/port when given). Returns their labels.
    pub async fn close(
        &self,
        host: &str,
        username: Option<&str>,
        port: Option<u16>,
    ) -> Result<Vec<String>> {
        let target = self.named(host, username, port, None)?.target;
        let matching: Vec<Arc<Destination>> = {
            let mut g = self.dests.lock().unwrap_or_else(|e| e.into_inner());
            let keys: Vec<SessionKey> = g
                .keys()
                .filter(|k| k.matches(host, target.user.as_deref(), target.port))
                .cloned()
                .collect();
            keys.iter().filter_map(|k| g.remove(k)).collect()
        };
        let mut labels = Vec::new();
        for d in matching {
            labels.push(d.label());
            d.close().await;
        }
        Ok(labels)
    }

    /// Closes everything, in parallel. Returns how many sessions were closed. Each close is
    /// bounded (a master that does not answer `-O exit` is killed); as a last resort, closes
    /// still going after [`CLOSE_ALL_LIMIT`] are abandoned, which hangs their terminals up.
    pub async fn close_all(&self) -> usize {
        let all: Vec<Arc<Destination>> = {
            let mut g = self.dests.lock().unwrap_or_else(|e| e.into_inner());
            g.drain().map(|(_, d)| d).collect()
        };
        let n = all.len();
        let mut set = tokio::task::JoinSet::new();
        for d in all {
            set.spawn(async move { d.close().await });
        }
        let deadline = tokio::time::Instant::now() + CLOSE_ALL_LIMIT;
        loop {
            tokio::select! {
                next = set.join_next() => if next.is_none() { break },
                _ = tokio::time::sleep_until(deadline) => {
                    tracing::warn!(left = set.len(), "sessions still closing after {} s; abandoning them", CLOSE_ALL_LIMIT.as_secs());
                    set.abort_all();
                    break;
                }
            }
        }
        n
    }

    /// Sessions matching host, and user/port when given.
    fn matching(&self, host: &str, target: &Target) -> Vec<Arc<Destination>> {
        let g = self.dests.lock().unwrap_or_else(|e| e.into_inner());
        g.iter()
            .filter(|(k, _)| k.matches(host, target.user.as_deref(), target.port))
            .map(|(_, d)| d.clone())
            .collect()
    }

    /// The live shells of the sessions matching host (and user/port when given), each with
    /// its session label, main shell first. Empty when there is no session.
    pub fn live_shells(
        &self,
        host: &str,
        username: Option<&str>,
        port: Option<u16>,
    ) -> Result<Vec<(String, Arc<ShellHandle>)>> {
        let target = self.named(host, username, port, None)?.target;
        let mut out = Vec::new();
        for d in self.matching(host, &target) {
            let label = d.label();
            out.extend(
                d.shells_snapshot()
                    .into_iter()
                    .filter(|s| s.is_alive())
                    .map(|s| (label.clone(), s)),
            );
        }
        Ok(out)
    }
}
