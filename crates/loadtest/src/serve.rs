//! The shipped (`dist` profile) `apiome`, started on a random loopback port over a seeded
//! data directory, and its peak memory read from `/proc`.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

/// Builds `target/dist/apiome` — the shipped profile: fat LTO, one codegen
/// unit — (a no-op when it is fresh) and returns it.
pub fn build_release() -> Result<PathBuf> {
    let root = crate::workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--profile",
            "dist",
            "--locked",
            "-p",
            "server",
            "--bin",
            "apiome",
        ])
        .current_dir(&root)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --profile dist --bin apiome failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    Ok(target.join("dist/apiome"))
}

/// Reads the database files once, so the figures measure a server that
/// has been running, not this machine's disk: on a fresh machine the
/// seeded file was partly out of the OS page cache and random proofs
/// waited on disk reads (300 proofs/s at 60 % I/O wait, against 10,000/s
/// once cached).
fn warm_page_cache(data: &Path) -> Result<()> {
    let started = std::time::Instant::now();
    let mut bytes = 0u64;
    for entry in std::fs::read_dir(data).with_context(|| format!("reading {}", data.display()))? {
        let path = entry?.path();
        let is_database = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("apiome.db"));
        if is_database && path.is_file() {
            let mut file = std::fs::File::open(&path)?;
            bytes += std::io::copy(&mut file, &mut std::io::sink())?;
        }
    }
    eprintln!(
        "apiome-load: read {:.0} MB of database into the page cache in {:.1} s",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A running server; killed when dropped.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `http://127.0.0.1:ADMIN_PORT`, where `/metrics` is served.
    pub admin: String,
}

impl Server {
    /// Starts `apiome serve` on `data` with rate limits off (the load is
    /// one company hammering on purpose) and waits until it serves.
    pub async fn start(apiome: &Path, data: &Path) -> Result<Server> {
        let dir = data.to_path_buf();
        tokio::task::spawn_blocking(move || warm_page_cache(&dir))
            .await
            .context("warming the page cache")??;
        let mut child = Command::new(apiome)
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--admin-bind",
                "127.0.0.1:0",
            ])
            .arg("--data-dir")
            .arg(data)
            .env("APIOME_RATE_LIMIT", "0")
            .env_remove("DATABASE_URL")
            .env_remove("APIOME_MASTER_KEY")
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", apiome.display()))?;
        let stderr = child.stderr.take().context("the server's stderr")?;
        let (port, admin_port) = tokio::task::spawn_blocking(move || -> Result<(u16, u16)> {
            let mut stderr = BufReader::new(stderr);
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut line = String::new();
            let ports = loop {
                if Instant::now() > deadline {
                    bail!("the server did not start within 120 s");
                }
                line.clear();
                if stderr.read_line(&mut line)? == 0 {
                    bail!("the server exited before serving");
                }
                let field = |name: &str| {
                    line.split_whitespace()
                        .find_map(|w| w.strip_prefix(name))
                        .and_then(|p| p.parse::<u16>().ok())
                };
                if line.contains("apiome is serving")
                    && let (Some(port), Some(admin_port)) = (field("port="), field("admin_port="))
                {
                    break (port, admin_port);
                }
            };
            // Keep draining so the server never blocks on a full pipe.
            std::thread::spawn(move || {
                let mut sink = String::new();
                while stderr.read_line(&mut sink).is_ok_and(|n| n > 0) {
                    sink.clear();
                }
            });
            Ok(ports)
        })
        .await??;
        Ok(Server {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            admin: format!("http://127.0.0.1:{admin_port}"),
        })
    }

    /// The most resident memory the process has had, in KiB.
    pub fn peak_memory(&self) -> Option<u64> {
        let pid = self.child.as_ref()?.id();
        peak_memory_of(pid)
    }

    /// SIGKILL is enough: the seed is a fixture.
    pub fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
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

/// `VmHWM` of a process, in KiB.
pub fn peak_memory_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
