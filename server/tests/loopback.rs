//! The benchmark server listens on loopback (or the runner's namespace address) only, whatever it
//! is told.

use std::process::Command;

#[test]
fn refuses_to_listen_beyond_loopback() {
    for addr in [
        "0.0.0.0:0",
        "192.0.2.1:8080",
        "10.213.0.2:8080",
        "10.213.1.1:8080",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--addr", addr])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{addr}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("binds loopback (or 10.213.0.1"),
            "{addr}: {stderr}"
        );
    }
    assert!(bench_server::allowed_listen_ip([10, 213, 0, 1].into()));
    assert!(bench_server::allowed_listen_ip([127, 0, 0, 1].into()));
}

#[test]
fn bad_settings_are_named() {
    let out = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--addr", "127.0.0.1:0", "--write", "sideways"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("use single or vectored"));
}
