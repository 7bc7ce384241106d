//! Persistent shells: the dialect seam ([`dialect`]) with the POSIX marker protocol
//! ([`posix`]), one shell actor per PTY ([`shell`]), destinations with their master and shells
//! ([`destination`]), the master's login conversation ([`login`]), and the manager the tools use.

pub mod destination;
pub mod device;
pub mod dialect;
pub mod login;
pub mod manager;
pub mod posix;
pub mod shell;

pub use destination::MasterLease;
pub use manager::{ExecRequest, SessionInfo, SessionInput, SessionManager};
