//! Persistent shells: the marker protocol ([`encode`]), one shell actor per PTY ([`shell`]),
//! destinations with their master and shells ([`destination`]), and the manager the tools use.

pub mod destination;
pub mod encode;
pub mod manager;
pub mod shell;

pub use destination::MasterLease;
pub use manager::{ExecRequest, SessionInfo, SessionManager};
