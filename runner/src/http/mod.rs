//! Talking HTTP to a running server: the workloads and what a correct answer is (`workload`), real
//! requests (`probe`), and the conformance checks every build must pass (`conformance`).

pub mod conformance;
pub mod probe;
pub mod workload;

pub use workload::Workload;
