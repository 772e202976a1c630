//! Attribute values at rest, through the binary: nothing a person stores is
//! readable in the database files, `apiome keys rotate-data` reseals every
//! value under a new key and retires the old one, the server reads them
//! after, and a bad `APIOME_MASTER_KEY` stops the server on one line.

#![allow(
    clippy::unwrap_used,
    reason = "test steps: a failed unwrap is a failed test"
)]

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::Command;

use support::{APIOME, serve};

mod support;

const VALUE: &str = "sealed.at.rest@example.org";

/// One HTTP/1.1 call; returns (status, body).
fn call(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Every byte of the database's files, as a thief with the disk has them.
fn database_bytes(data: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(data).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("apiome.db")
        {
            all.extend(std::fs::read(path).unwrap());
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn key_file(data: &Path) -> Vec<String> {
    std::fs::read_to_string(data.join("keys").join("data.key"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn values_are_sealed_at_rest_and_rotation_reseals_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let server = serve(&data, None);
    let port = server.port;
    let (status, body) = call(
        port,
        "POST",
        "/v1/accounts",
        None,
        r#"{"handle":"sealed_sam","password":"correct horse battery staple"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let made: serde_json::Value = serde_json::from_str(&body).unwrap();
    let token = made["token"].as_str().unwrap().to_owned();
    let (status, body) = call(
        port,
        "PUT",
        "/v1/me/attributes/email",
        Some(&token),
        &format!(r#"{{"value":"{VALUE}","bucket":"private"}}"#),
    );
    assert_eq!(status, 200, "{body}");
    server.terminate();

    let bytes = database_bytes(&data);
    assert!(
        contains(&bytes, "sealed_sam"),
        "the check can see the database"
    );
    assert!(
        !contains(&bytes, VALUE),
        "the value is readable in the database files"
    );
    assert!(!contains(&bytes, "sealed.at.rest"));
    let before = key_file(&data);
    assert_eq!(before.len(), 1);

    let output = Command::new(APIOME)
        .args(["keys", "rotate-data", "--data-dir"])
        .arg(&data)
        .env_remove("DATABASE_URL")
        .env_remove("APIOME_MASTER_KEY")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rotated: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rotated["values"], 1, "{rotated}");
    // The value is under Sam's own key: only that key is sealed again.
    assert_eq!(rotated["resealed"], 0, "{rotated}");
    assert_eq!(rotated["person_keys"], 1, "{rotated}");
    assert_eq!(rotated["retired"].as_array().unwrap().len(), 1, "{rotated}");
    let after = key_file(&data);
    assert_eq!(after.len(), 1, "the old key is retired from the file");
    assert_ne!(after, before);

    // The server, with only the new key, reads the value back.
    let server = serve(&data, None);
    let port = server.port;
    let (status, body) = call(
        port,
        "POST",
        "/v1/session",
        None,
        r#"{"handle":"sealed_sam","password":"correct horse battery staple"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let session: serde_json::Value = serde_json::from_str(&body).unwrap();
    let token = session["session"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no session token in {body}"));
    let (status, body) = call(port, "GET", "/v1/me/attributes", Some(token), "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(VALUE), "{body}");
    server.terminate();

    // A master key that is not a key: one line, non-zero, nothing served.
    let output = Command::new(APIOME)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--admin-bind",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&data)
        .env_remove("DATABASE_URL")
        .env("APIOME_MASTER_KEY", "hunter2")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("apiome: APIOME_MASTER_KEY") && last.contains("base64"),
        "{stderr}"
    );
}
