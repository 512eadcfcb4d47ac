//! The `rollcall` binary as a process of its own: CLI commands and `rollcall serve`
//! children, with a clean environment; master keys for them.

use serde_json::Value;

/// The `rollcall` binary without the `ROLLCALL_*` settings (and `RUST_LOG`) of the
/// environment the tests run in.
pub fn rollcall_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rollcall"));
    without_rollcall_env(&mut cmd);
    cmd
}

/// Takes the `ROLLCALL_*` settings (and `RUST_LOG`) of the tests' environment out of `cmd`.
pub fn without_rollcall_env(cmd: &mut std::process::Command) {
    for (key, _) in std::env::vars() {
        if key.starts_with("ROLLCALL_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
}

/// A new random master key (base64), as `openssl rand -base64 32` makes one.
pub fn new_master_key() -> secrecy::SecretString {
    rollcall::store::seal::MasterKey::generate_base64().unwrap()
}

/// A `rollcall serve` child process, killed when dropped.
pub struct ServerProcess {
    pub child: std::process::Child,
    /// `127.0.0.1:PORT`
    pub address: String,
    /// The JSON log lines it wrote before it listened.
    pub startup_log: Vec<String>,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd --data-dir DIR EXTRA... serve --listen 127.0.0.1:0` (cmd is the rollcall
/// binary) and learns its port from the JSON log line announcing it.
pub fn serve_process(
    cmd: &mut std::process::Command,
    data_dir: &std::path::Path,
    extra: &[&str],
) -> ServerProcess {
    use std::io::{BufRead, BufReader};
    let mut child = cmd
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("ROLLCALL_LOG_FORMAT", "json")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut startup_log = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let parsed: Value = serde_json::from_str(&line).unwrap_or_default();
            if let Some(address) = parsed["fields"]["address"].as_str() {
                let _ = tx.send((address.to_owned(), std::mem::take(&mut startup_log)));
            } else {
                startup_log.push(line);
            }
            // Keep draining so the server never blocks on a full pipe.
        }
    });
    let (address, startup_log) = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("serve should log the address it listens on");
    ServerProcess {
        child,
        address,
        startup_log,
    }
}
