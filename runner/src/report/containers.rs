//! The origin README's own path: each build's OCI image and its sizes, and "direct vs container":
//! a server run directly against the same build run as a container through containerd and a
//! shim, paired by round.

use serde::Serialize;

use super::format::{millis, Figure, Unit, DASH};
use crate::analysis::cell::CellFigures;
use crate::analysis::Analysis;
use crate::results::{Run, Status};

/// One build's image, FROM scratch.
#[derive(Debug, Serialize)]
pub struct ImageRow {
    /// "rust/wasip2".
    pub build: String,
    pub platform: String,
    /// The build itself, and the image as a registry transfers it and as it unpacks.
    pub build_size: String,
    pub compressed: String,
    pub uncompressed: String,
    /// "sha256:3f2a9c1e0b7d…"
    pub digest: String,
}

/// Megabytes of 10^6 bytes, as Docker prints image sizes (the origin README's 2.76 / 7.31 MB).
pub fn decimal_megabytes(n: u64) -> String {
    format!("{:.2} MB", n as f64 / 1e6)
}

pub fn images(run: &Run) -> Vec<ImageRow> {
    run.images
        .iter()
        .map(|(build, image)| ImageRow {
            build: build.clone(),
            platform: image.platform.clone(),
            build_size: decimal_megabytes(image.build_bytes),
            compressed: decimal_megabytes(image.compressed_bytes),
            uncompressed: decimal_megabytes(image.uncompressed_bytes),
            digest: format!("{}…", &image.digest[..image.digest.len().min(19)]),
        })
        .collect()
}

/// A container cell beside its direct counterpart.
#[derive(Debug, Serialize)]
pub struct ContainerPair {
    /// "rust · wasmtime default against containerd wasmtime, plaintext peak-50".
    pub title: String,
    pub direct_id: String,
    pub container_id: String,
    /// "wasmtime 49.0.3" / "containerd 1.6.20 · shim-wasmtime 0.1.0".
    pub direct_version: String,
    pub container_version: String,
    pub status: String,
    pub reason: String,
    pub direct_rps: Figure,
    pub container_rps: Figure,
    /// Container req/s over direct req/s, paired by round.
    pub rps_ratio: Figure,
    pub direct_cpu: Figure,
    pub container_cpu: Figure,
    /// Container CPU per request over direct, paired by round: the container path's cost.
    pub cpu_ratio: Figure,
    pub direct_rss: String,
    pub container_rss: String,
    pub direct_startup: String,
    pub container_startup: String,
}

/// Every measured container cell beside its direct counterpart, as the analysis paired them.
pub fn direct_vs_container(run: &Run, a: &Analysis) -> Vec<ContainerPair> {
    a.container_pairs.iter().map(|p| pair(run, a, p)).collect()
}

fn pair(run: &Run, a: &Analysis, p: &crate::analysis::pairs::ContainerPair) -> ContainerPair {
    let (direct, container) = (&run.cells[p.direct], &run.cells[p.container]);
    let (fd, fc) = (&a.cells[p.direct], &a.cells[p.container]);
    let ratio = |e: Option<&crate::analysis::stats::Estimate>| {
        Figure::of(e, Unit::Multiple)
    };
    let rps = |f: &CellFigures| {
        Figure::of(f.estimates.rps.as_ref(), Unit::Count)
    };
    let cpu = |f: &CellFigures| {
        Figure::of(f.estimates.server_cpu_us_per_request.as_ref(), Unit::Micros)
    };
    let rss = |f: &CellFigures| {
        f.metrics
            .rss_peak_kb
            .map(|kb| super::format::bytes(kb * 1024))
            .unwrap_or_else(|| DASH.into())
    };
    let startup = |f: &CellFigures| {
        f.metrics
            .startup_ms
            .map(millis)
            .unwrap_or_else(|| DASH.into())
    };
    let mut label = format!(
        "{} · {} {} against containerd {}",
        container.server, direct.runtime, direct.mode, container.mode
    );
    if container.write != "single" {
        label.push_str(&format!(" ({} writes)", container.write));
    }
    let failed = [direct, container]
        .into_iter()
        .find(|c| c.status != Status::Ok);
    ContainerPair {
        title: format!("{label}, {} {}", container.workload, container.load),
        direct_id: direct.id.clone(),
        container_id: container.id.clone(),
        direct_version: direct
            .runtime_version
            .clone()
            .unwrap_or_else(|| DASH.into()),
        container_version: container
            .runtime_version
            .clone()
            .unwrap_or_else(|| DASH.into()),
        status: failed.map_or("ok", |c| c.status.as_str()).into(),
        reason: failed
            .and_then(|c| c.reason.clone())
            .unwrap_or_default()
            .replace('\n', " "),
        direct_rps: rps(fd),
        container_rps: rps(fc),
        rps_ratio: ratio(p.ratio.rps.as_ref()),
        direct_cpu: cpu(fd),
        container_cpu: cpu(fc),
        cpu_ratio: ratio(p.ratio.cpu.as_ref()),
        direct_rss: rss(fd),
        container_rss: rss(fc),
        direct_startup: startup(fd),
        container_startup: startup(fc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(
        id: &str,
        runtime: &str,
        mode: &str,
        direct: Option<&str>,
        rps: &[f64],
        cpu: &[f64],
    ) -> crate::results::CellResult {
        let rounds: Vec<serde_json::Value> = rps
            .iter()
            .zip(cpu)
            .enumerate()
            .map(|(i, (r, c))| serde_json::json!({"round": i, "rps": r, "requests": 1000, "window_s": 2.0, "server_cpu_us_per_request": c}))
            .collect();
        serde_json::from_value(serde_json::json!({
            "index": 0, "id": id, "server": "rust", "target": "wasm32-wasip2",
            "runtime": runtime, "mode": mode, "mode_about": "", "direct": direct,
            "write": "single", "workload": "plaintext", "load": "peak-50", "load_model": "peak",
            "generator": "wrk", "concurrency": 50, "offered_rps": null, "status": "ok",
            "reason": null, "runtime_version": "v", "command": [],
            "metrics": {"rss_peak_kb": 2048, "startup_ms": 12.5},
            "flags": [], "repeats_rps": rps, "partial": false, "rounds": rounds,
            "estimates": {
                "rps": crate::analysis::stats::Estimate::of(rps),
                "server_cpu_us_per_request": crate::analysis::stats::Estimate::of(cpu),
            },
        }))
        .unwrap()
    }

    #[test]
    fn a_container_cell_is_paired_with_its_direct_cell_round_by_round() {
        let mut run: Run =
            serde_json::from_str(include_str!("../../tests/fixtures/rounds-run.json")).unwrap();
        run.cells = vec![
            cell(
                "d",
                "wasmtime",
                "default",
                None,
                &[100.0, 200.0, 100.0],
                &[10.0, 10.0, 10.0],
            ),
            // Half the direct cell's req/s in every round (even the noisy one), 1.5x its CPU.
            cell(
                "c",
                "containerd",
                "wasmtime",
                Some("wasmtime/default"),
                &[50.0, 100.0, 50.0],
                &[15.0, 15.0, 15.0],
            ),
            // No direct counterpart in the run: no pair.
            cell(
                "x",
                "containerd",
                "runc",
                Some("native/current-thread"),
                &[1.0, 1.0, 1.0],
                &[1.0, 1.0, 1.0],
            ),
        ];
        let pairs = direct_vs_container(&run, &crate::analysis::analyze(&run));
        assert_eq!(pairs.len(), 1);
        let p = &pairs[0];
        assert_eq!((p.direct_id.as_str(), p.container_id.as_str()), ("d", "c"));
        assert_eq!(p.rps_ratio.value, Some(0.5));
        assert_eq!(p.cpu_ratio.value, Some(1.5));
        assert_eq!(p.direct_rss, "2.00 MB");
        assert_eq!(p.container_startup, "12.5 ms");
        assert_eq!(p.status, "ok");
    }

    #[test]
    fn image_sizes_are_written_as_docker_writes_them() {
        assert_eq!(decimal_megabytes(2_760_000), "2.76 MB");
        assert_eq!(decimal_megabytes(7_314_999), "7.31 MB");
    }
}
