//! The peer: `oidc-provider` (npm), installed and started by
//! `crates/loadtest/peer/run-peer PORT` on loopback.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

/// The peer's one confidential client.
pub const CLIENT_ID: &str = "bench";
/// Its secret.
pub const CLIENT_SECRET: &str = "bench-secret";
/// The resource indicator that makes its access tokens ES256 JWTs.
pub const RESOURCE: &str = "urn:apiome:bench";

/// A running peer; killed when dropped.
pub struct Peer {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Peer {
    /// Installs (first time) and starts the peer; waits for its ready line.
    pub async fn start(root: &Path) -> Result<Peer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let script = root.join("crates/loadtest/peer/run-peer");
        let mut child = Command::new(&script)
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", script.display()))?;
        let stdout = child.stdout.take().context("the peer's stdout")?;
        tokio::task::spawn_blocking(move || -> Result<()> {
            let mut stdout = BufReader::new(stdout);
            // The first run installs oidc-provider from npm.
            let deadline = Instant::now() + Duration::from_secs(300);
            let mut line = String::new();
            loop {
                if Instant::now() > deadline {
                    bail!("the peer did not start within 300 s");
                }
                line.clear();
                if stdout.read_line(&mut line)? == 0 {
                    bail!("the peer exited before it was ready");
                }
                if line.starts_with("peer ready on") {
                    break;
                }
            }
            std::thread::spawn(move || {
                let mut sink = String::new();
                while stdout.read_line(&mut sink).is_ok_and(|n| n > 0) {
                    sink.clear();
                }
            });
            Ok(())
        })
        .await??;
        Ok(Peer {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
        })
    }

    /// Ends it.
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM so node's own children (if any) end with it.
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill();
    }
}
