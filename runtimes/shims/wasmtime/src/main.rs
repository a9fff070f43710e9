//! `containerd-shim-wasmtime-v1`: runs the server's wasip2 component in a container the way
//! `wasmtime run -S inherit-network` runs it directly (same engine defaults, host network, only
//! the environment the container spec gives), so the difference between the two is the
//! container path: containerd, the shim, youki's sandbox.

use anyhow::{Context, Result};
use containerd_shim_wasm::sandbox::context::RuntimeContext;
use containerd_shim_wasm::sandbox::Sandbox;
use containerd_shim_wasm::shim::{Cli, Shim, Version};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::Command;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

struct WasmtimeShim;

struct WasmtimeSandbox {
    engine: Engine,
}

impl Default for WasmtimeSandbox {
    fn default() -> Self {
        // `wasmtime run`'s defaults (on-demand allocator; async is always on since 49).
        let config = wasmtime::Config::new();
        WasmtimeSandbox {
            engine: Engine::new(&config).expect("a default wasmtime engine"),
        }
    }
}

struct State {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl Shim for WasmtimeShim {
    fn name() -> &'static str {
        "wasmtime"
    }

    fn version() -> Version {
        Version {
            version: env!("CARGO_PKG_VERSION"),
            // Cargo.toml pins the wasmtime crates to this release.
            revision: "wasm-bench shim on containerd-shim-wasm 1.0.1, wasmtime 49.0.3",
        }
    }

    type Sandbox = WasmtimeSandbox;
}

impl Sandbox for WasmtimeSandbox {
    async fn run_wasi(&self, ctx: &impl RuntimeContext) -> Result<i32> {
        let bytes = ctx.entrypoint().source.as_bytes()?;
        let component = Component::from_binary(&self.engine, &bytes)
            .map_err(anyhow::Error::from)
            .context("the entrypoint is not a wasm component (this shim runs wasip2 components)")?;
        let mut wasi = WasiCtx::builder();
        // As `wasmtime run -S inherit-network` (whose `-S tcp` is on by default); the library's
        // builder leaves TCP off unless asked.
        wasi.inherit_stdio()
            .inherit_network()
            .allow_tcp(true)
            .allow_ip_name_lookup(true);
        wasi.args(ctx.args());
        for pair in ctx.envs() {
            if let Some((key, value)) = pair.split_once('=') {
                wasi.env(key, value);
            }
        }
        let mut store = Store::new(
            &self.engine,
            State {
                wasi: wasi.build(),
                table: ResourceTable::new(),
            },
        );
        let mut linker = Linker::new(&self.engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        let command = Command::instantiate_async(&mut store, &component, &linker).await?;
        // The container's process is PID 1 of its namespace, which ignores signals it does not
        // handle: without this, `ctr task kill` (SIGTERM) would not stop it.
        tokio::select! {
            result = command.wasi_cli_run().call_run(&mut store) => {
                Ok(if result?.is_ok() { 0 } else { 1 })
            }
            code = terminated() => Ok(code),
        }
    }
}

/// Resolves on SIGTERM or SIGINT with the exit code a signalled process reports.
async fn terminated() -> i32 {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => 128 + libc::SIGTERM,
        _ = int.recv() => 128 + libc::SIGINT,
    }
}

fn main() {
    WasmtimeShim::run(None);
}
