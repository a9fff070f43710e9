//! The operating system side: child processes (pinned, grouped, stopped on every exit path),
//! what /proc says about them, a background sampler, and loopback ports.

pub mod awake;
pub mod limits;
pub mod net;
pub mod process;
pub mod procfs;
pub mod sampler;

pub use process::{interrupted, log_tail, spawn_pinned, Managed};
