//! `matrix delay`: the link delayer (see `hosts::delay`); the runner starts it inside the server's
//! namespace for links with a round-trip time.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The netfilter queue the namespace's NFQUEUE rules send packets to.
    #[arg(long, default_value_t = 0)]
    pub queue: u16,
    /// File holding the hold per packet in microseconds (half the round trip); re-read as it changes.
    #[arg(long)]
    pub control: PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode> {
    crate::hosts::delay::run(args.queue, &args.control)?;
    Ok(ExitCode::SUCCESS)
}
