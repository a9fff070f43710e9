//! The benchmark server listens on loopback only, whatever it is told.

use std::process::Command;

#[test]
fn refuses_to_listen_beyond_loopback() {
    for addr in ["0.0.0.0:0", "192.0.2.1:8080"] {
        let out = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--addr", addr])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{addr}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("binds loopback only"), "{addr}: {stderr}");
    }
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
