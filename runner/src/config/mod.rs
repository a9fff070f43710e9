//! What to measure and with what: the matrix file, the runtime and tool definitions, and the
//! pieces of syntax they share (CPU lists, durations, names, argv placeholders).

pub mod cpus;
mod duration;
pub mod go_patch;
pub mod hosts;
pub mod matrix;
pub mod names;
pub mod placeholders;
pub mod runtimes;
pub mod servers;
pub mod versions;
pub mod workloads;

pub use hosts::{HostKind, HostSpec, LinkSpec};
pub use matrix::{Cell, Counts, Generator, LoadModel, LoadSpec, Matrix, Settings};
pub use placeholders::Placeholders;
pub use runtimes::{RuntimeDef, RuntimeDefs};
pub use servers::{BuildDef, ServerDef, ServerDefs};
