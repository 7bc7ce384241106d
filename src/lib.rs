//! mcp-ssh-session: persistent, stateful SSH sessions for AI agents, through the user's own OpenSSH.
//!
//! Layers, bottom up:
//! - [`ssh`]: argv building and validation, `ssh -G` resolution, the ControlMaster per destination.
//! - [`pty`]: a child process in a pseudo-terminal, its output as a stream of byte chunks.
//! - [`term`]: the escape-sequence stripper (vte) that turns PTY bytes into clean text and markers.
//! - [`expect`]: the expect-style matcher and the prompt patterns (password, sudo, host key, pager, shell).
//! - [`devices`]: network-device knowledge (prompts, pagers, paging-off, enable, errors per vendor) as data and pure functions.
//! - [`session`]: a persistent shell driven by the per-session marker protocol; destinations and the manager.
//! - [`jobs`]: command records, their bounded output and the history.
//! - [`transfer`]: files through sftp batches (or an exec channel, or sudo) on the same master.
//! - [`mcp`]: the MCP tools over stdio.
//! - [`cli`]: the command-line front end.

pub mod audit;
pub mod cli;
pub mod config;
pub mod devices;
pub mod error;
pub mod expect;
pub mod jobs;
pub mod mcp;
pub mod policy;
pub mod private_dir;
pub mod pty;
pub mod secret;
pub mod session;
pub mod ssh;
pub mod term;
pub mod transfer;
