//! Everything that spawns the user's OpenSSH client: argv building, destination validation,
//! `ssh -G` resolution, the private runtime directory and the ControlMaster.

pub mod argv;
pub mod ask;
pub mod master;
pub mod overrides;
pub mod resolve;
pub mod runtime;
pub mod shown;
pub mod target;
pub mod watch;

pub use argv::{Argv, SshProgram};
pub use master::Master;
pub use resolve::Resolved;
pub use runtime::RuntimeDir;
pub use shown::Shown;
pub use target::Target;
