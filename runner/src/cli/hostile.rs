//! `matrix hostile`: the hostile-clients generator (see `load::hostile`); the runner starts it as
//! a child process, like wrk or k6, for `model = "hostile"` loads.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The server, ip:port (loopback).
    #[arg(long)]
    pub addr: String,
    /// The path of the fresh requests and the half-sent ones.
    #[arg(long, default_value = "/plaintext")]
    pub path: String,
    /// Slowloris clients to hold (a request head begun, never finished); as many idle keep-alive
    /// clients unless `--idle` says otherwise.
    #[arg(long)]
    pub connections: u32,
    /// Idle keep-alive clients to hold (default: as many as `--connections`).
    #[arg(long)]
    pub idle: Option<u32>,
    #[arg(long)]
    pub duration_ms: u64,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let ip: std::net::SocketAddr = args.addr.parse()?;
    anyhow::ensure!(
        ip.ip().is_loopback(),
        "matrix hostile talks to loopback servers only"
    );
    let _ = crate::sys::limits::raise_open_files();
    let report = crate::load::hostile::run(
        &args.addr,
        &args.path,
        args.connections,
        args.idle.unwrap_or(args.connections),
        Duration::from_millis(args.duration_ms),
    );
    println!("{}", crate::load::hostile::line(&report));
    Ok(ExitCode::SUCCESS)
}
