//! OCI images of the server builds, FROM scratch: one layer holding the build and nothing else,
//! written as an OCI image layout tarball (`ctr images import` reads it). Reproducible: fixed
//! timestamps, owners, modes and order, so the same build gives the same digest.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use oci_spec::image::{
    Arch, ConfigBuilder, DescriptorBuilder, Digest, ImageConfigurationBuilder, ImageIndexBuilder,
    ImageManifestBuilder, MediaType, Os, PlatformBuilder, RootFsBuilder,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub use crate::results::records::Image;

/// What an image holds and how it starts.
#[derive(Debug, Clone)]
pub struct ImageSpec<'a> {
    /// e.g. "rust-wasip2"; the image is `wasm-bench/<name>:<digest prefix>`.
    pub name: String,
    /// The build.
    pub file: &'a Path,
    /// Where it sits in the image, e.g. "server" (no leading slash: a tar path).
    pub path_in_image: &'a str,
    pub platform: Platform,
}

/// `linux/amd64` for native builds; `wasi/wasm` for wasm builds (what Docker's wasm support and
/// runwasi's images use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Platform {
    Native,
    Wasm,
}

impl Platform {
    fn os_arch(self) -> (Os, Arch) {
        match self {
            Platform::Native => (Os::Linux, Arch::default()),
            Platform::Wasm => (Os::Other("wasi".into()), Arch::Wasm),
        }
    }

    /// "linux/amd64", "wasi/wasm": what `ctr --platform` takes.
    pub fn label(self) -> String {
        let (os, arch) = self.os_arch();
        format!("{os}/{arch}")
    }
}

/// Writes `<out>/<name>.oci.tar` and returns the image.
pub fn build_image(spec: &ImageSpec, out: &Path) -> Result<Image> {
    let bytes =
        std::fs::read(spec.file).with_context(|| format!("cannot read {}", spec.file.display()))?;
    let layer_tar = layer(&bytes, spec.path_in_image)?;
    let layer_gz = gzip(&layer_tar)?;
    let (os, arch) = spec.platform.os_arch();
    let entrypoint = format!("/{}", spec.path_in_image);
    let config = ImageConfigurationBuilder::default()
        .architecture(arch.clone())
        .os(os.clone())
        .config(
            ConfigBuilder::default()
                .entrypoint(vec![entrypoint.clone()])
                .build()?,
        )
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(vec![format!("sha256:{}", sha256_hex(&layer_tar))])
                .build()?,
        )
        .build()?;
    let config_json = canonical_json(&config)?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(MediaType::ImageConfig, &config_json)?)
        .layers(vec![descriptor(MediaType::ImageLayerGzip, &layer_gz)?])
        .build()?;
    let manifest_json = canonical_json(&manifest)?;
    let digest = sha256_hex(&manifest_json);
    let reference = format!("docker.io/wasm-bench/{}:{}", spec.name, &digest[..12]);
    let mut manifest_descriptor = descriptor(MediaType::ImageManifest, &manifest_json)?;
    manifest_descriptor.set_platform(Some(
        PlatformBuilder::default()
            .os(os)
            .architecture(arch)
            .build()?,
    ));
    manifest_descriptor.set_annotations(Some(
        [
            ("io.containerd.image.name".to_string(), reference.clone()),
            (
                "org.opencontainers.image.ref.name".to_string(),
                reference.rsplit(':').next().unwrap_or_default().to_string(),
            ),
        ]
        .into_iter()
        .collect(),
    ));
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![manifest_descriptor])
        .build()?;
    let blobs = [&layer_gz, &config_json, &manifest_json];
    let tarball = out.join(format!("{}.oci.tar", spec.name));
    std::fs::create_dir_all(out)?;
    let layout = layout(&blobs.map(|b| b.as_slice()), &canonical_json(&index)?)?;
    crate::results::write_atomic(&tarball, &layout)?;
    Ok(Image {
        reference,
        tarball,
        digest: format!("sha256:{digest}"),
        platform: spec.platform.label(),
        entrypoint,
        build_bytes: bytes.len() as u64,
        compressed_bytes: (layer_gz.len() + config_json.len() + manifest_json.len()) as u64,
        uncompressed_bytes: layer_tar.len() as u64,
    })
}

fn descriptor(media_type: MediaType, blob: &[u8]) -> Result<oci_spec::image::Descriptor> {
    let digest: Digest = format!("sha256:{}", sha256_hex(blob)).parse()?;
    Ok(DescriptorBuilder::default()
        .media_type(media_type)
        .digest(digest)
        .size(blob.len() as u64)
        .build()?)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// JSON with object keys sorted: oci-spec keeps annotations in a HashMap, whose order changes from
/// one process to the next (serde_json's own map is ordered).
fn canonical_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(&serde_json::to_value(value)?)?)
}

/// A tar header with everything that could differ between two builds fixed.
fn header(path: &str, size: u64, mode: u32) -> Result<tar::Header> {
    let mut header = tar::Header::new_ustar();
    header.set_path(path)?;
    header.set_size(size);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    Ok(header)
}

/// The image's one layer: the build, executable, at `path`.
fn layer(file: &[u8], path: &str) -> Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.append(&header(path, file.len() as u64, 0o755)?, file)?;
    Ok(tar.into_inner()?)
}

/// gzip with no timestamp or name in its header, at a fixed level.
fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::new(6));
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}

/// The OCI image layout (oci-layout, index.json, blobs/sha256/*) as one tar, in a fixed order.
fn layout(blobs: &[&[u8]], index: &[u8]) -> Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    let oci_layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    tar.append(
        &header("oci-layout", oci_layout.len() as u64, 0o644)?,
        &oci_layout[..],
    )?;
    tar.append(&header("index.json", index.len() as u64, 0o644)?, index)?;
    let mut sorted: Vec<(String, &[u8])> = blobs.iter().map(|b| (sha256_hex(b), *b)).collect();
    sorted.sort();
    for (digest, blob) in sorted {
        let path = format!("blobs/sha256/{digest}");
        tar.append(&header(&path, blob.len() as u64, 0o644)?, blob)?;
    }
    Ok(tar.into_inner()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec<'a>(file: &'a Path) -> ImageSpec<'a> {
        ImageSpec {
            name: "test-image".into(),
            file,
            path_in_image: "server.wasm",
            platform: Platform::Wasm,
        }
    }

    #[test]
    fn the_same_build_gives_the_same_image_twice() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("server.wasm");
        std::fs::write(&file, b"\0asm\x01\0\0\0 a module of sorts").unwrap();
        let first = build_image(&spec(&file), &dir.path().join("a")).unwrap();
        // A later mtime on the input must not change anything.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        std::fs::write(&file, b"\0asm\x01\0\0\0 a module of sorts").unwrap();
        let second = build_image(&spec(&file), &dir.path().join("b")).unwrap();
        assert_eq!(first.digest, second.digest);
        let (a, b) = (
            std::fs::read(&first.tarball).unwrap(),
            std::fs::read(&second.tarball).unwrap(),
        );
        let differs_at = a.iter().zip(&b).position(|(x, y)| x != y);
        assert!(
            a.len() == b.len() && differs_at.is_none(),
            "tarballs of {} and {} bytes differ first at {differs_at:?}: {:?}",
            a.len(),
            b.len(),
            differs_at.map(|i| String::from_utf8_lossy(
                &a[i.saturating_sub(40)..(i + 40).min(a.len())]
            )
            .to_string())
        );
        std::fs::write(&file, b"\0asm\x01\0\0\0 another module").unwrap();
        let third = build_image(&spec(&file), &dir.path().join("c")).unwrap();
        assert_ne!(first.digest, third.digest);
    }

    #[test]
    fn the_layout_is_what_an_importer_reads() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("server.wasm");
        std::fs::write(&file, vec![7u8; 4096]).unwrap();
        let image = build_image(&spec(&file), dir.path()).unwrap();
        let mut archive = tar::Archive::new(std::fs::File::open(&image.tarball).unwrap());
        let mut names = Vec::new();
        let mut index = String::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().display().to_string();
            assert_eq!(entry.header().mtime().unwrap(), 0);
            if name == "index.json" {
                std::io::Read::read_to_string(&mut entry, &mut index).unwrap();
            }
            names.push(name);
        }
        assert_eq!(names[..2], ["oci-layout", "index.json"]);
        assert_eq!(
            names
                .iter()
                .filter(|n| n.starts_with("blobs/sha256/"))
                .count(),
            3
        );
        let index: serde_json::Value = serde_json::from_str(&index).unwrap();
        let manifest = &index["manifests"][0];
        assert_eq!(manifest["digest"], image.digest.as_str());
        assert_eq!(manifest["platform"]["os"], "wasi");
        assert_eq!(manifest["platform"]["architecture"], "wasm");
        assert_eq!(
            manifest["annotations"]["io.containerd.image.name"],
            image.reference.as_str()
        );
        // 4 KB of one byte compresses to almost nothing; unpacked it is the file plus tar framing.
        assert!(image.compressed_bytes < 2000, "{image:?}");
        assert_eq!(image.uncompressed_bytes, 512 + 4096 + 1024);
    }
}
