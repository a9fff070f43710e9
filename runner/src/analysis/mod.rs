//! Analysis: every figure derived from what was measured, in pure functions with unit tests.

pub mod awake;
