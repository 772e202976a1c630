//! The real `apiome` binary as the process-level tests drive it: started on
//! a random loopback port, its CLI run against the same data, stopped by
//! SIGTERM or killed by SIGKILL. Shared by `crash.rs`, `scale_out.rs` and
//! `data_keys.rs`.

#![allow(
    dead_code,
    clippy::unwrap_used,
    reason = "each test binary uses part of it; a failed unwrap is a failed test"
)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const APIOME: &str = env!("CARGO_BIN_EXE_apiome");
/// The one origin every process answers for (the token issuer and
/// audience), as behind a load balancer.
pub const PUBLIC_URL: &str = "http://localhost:8080";

/// A running server; killed if a test step panics first.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The port it bound.
    pub port: u16,
}

impl Server {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// SIGKILL: no shutdown hook, no flush, no goodbye.
    pub fn kill(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM, and the clean exit it must lead to.
    pub fn terminate(mut self) {
        let mut child = self.child.take().unwrap();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(child.wait().unwrap().success(), "no clean exit on SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The database, and none of the caller's configuration: every
/// variable apiome reads is cleared (the test sets what it means to).
fn database(command: &mut Command, database_url: Option<&str>) {
    for key in server::config::KEYS {
        command.env_remove(key.env);
    }
    command.env_remove("APIOME_CONFIG");
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
}

/// Starts `apiome serve` on `data` (SQLite there unless `database_url`),
/// waits for it to say it serves, and keeps draining its log so it never
/// blocks on a full pipe.
pub fn serve(data: &Path, database_url: Option<&str>) -> Server {
    serve_with(data, database_url, &[])
}

/// [`serve`] with these environment variables set too.
pub fn serve_with(data: &Path, database_url: Option<&str>, env: &[(&str, &str)]) -> Server {
    let mut command = Command::new(APIOME);
    database(&mut command, database_url);
    command.envs(env.iter().copied());
    command
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--admin-bind",
            "127.0.0.1:0",
            "--public-url",
            PUBLIC_URL,
        ])
        .arg("--data-dir")
        .arg(data)
        .env("RUST_LOG", "warn,apiome=info,server=info")
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut line = String::new();
    let port = loop {
        assert!(Instant::now() < deadline, "the server did not start");
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "the server exited before serving"
        );
        if line.contains("apiome is serving")
            && let Some(port) = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("port="))
                .and_then(|p| p.parse::<u16>().ok())
        {
            break port;
        }
    };
    std::thread::spawn(move || {
        let mut sink = String::new();
        while stderr.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    Server {
        child: Some(child),
        base: format!("http://127.0.0.1:{port}"),
        port,
    }
}

/// Runs `apiome ARGS --data-dir DATA`, expecting success; its JSON output.
pub fn cli(data: &Path, database_url: Option<&str>, args: &[&str]) -> serde_json::Value {
    cli_with(data, database_url, &[], args)
}

/// [`cli`] with these environment variables set too.
pub fn cli_with(
    data: &Path,
    database_url: Option<&str>,
    env: &[(&str, &str)],
    args: &[&str],
) -> serde_json::Value {
    let mut command = Command::new(APIOME);
    command.args(args).arg("--data-dir").arg(data);
    database(&mut command, database_url);
    command.envs(env.iter().copied());
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
