//! The WebAssembly server benchmark matrix, as a library; `main.rs` is its command line.
//!
//! Data flows one way: `config` (matrix.toml, runtimes/*.toml) → `setup` (tools found, servers
//! built by `build`, a plan and a ready/skip/fail decision per cell) → `measure` (a server started
//! and loaded by `load`'s generators, read through `sys`) → `results` (one JSON per cell, flags) →
//! `report` (the page and its charts). `http` talks to servers for readiness and conformance;
//! `stats` holds the arithmetic behind published figures.

pub mod analysis;
pub mod build;
pub mod cli;
pub mod config;
pub mod container;
pub mod export;
pub mod hosts;
pub mod http;
pub mod install;
pub mod load;
pub mod measure;
pub mod paths;
pub mod preflight;
pub mod published;
pub mod report;
pub mod results;
pub mod schedule;
pub mod selftest;
pub mod setup;
pub mod sys;
