//! Loopback ports for servers.

use anyhow::{Context, Result};

/// A free loopback port: bind port 0, read it, release it. Each cell asks anew, so no two cells share
/// a port, and a port taken by someone else is never chosen.
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .context("cannot find a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}
