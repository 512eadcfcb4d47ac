//! A real SMTP server on loopback: tests/support/smtp_sink.py on aiosmtpd, from the venv
//! that .ci/run prepares.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

/// A message as the SMTP server stored it.
#[derive(Debug, Clone)]
pub struct Received {
    pub rcpt_tos: Vec<String>,
    pub auth_user: Option<String>,
    /// The RFC 5322 message.
    pub data: String,
}

pub struct SmtpSink {
    child: Child,
    _stdin: Option<ChildStdin>,
    pub port: u16,
    dir: tempfile::TempDir,
}

/// How to start the sink.
#[derive(Debug, Clone, Default)]
pub struct SinkOptions {
    /// 0 picks a free port.
    pub port: u16,
    /// Seconds the server waits before answering 250 to DATA.
    pub delay: f64,
    /// `user:password` the server requires.
    pub auth: Option<String>,
}

fn python() -> PathBuf {
    let venv = std::env::var("ROLLCALL_VENV").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv"),
        PathBuf::from,
    );
    venv.join("bin/python")
}

impl SmtpSink {
    pub fn start(options: SinkOptions) -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let python = python();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let mut cmd = Command::new(&python);
        cmd.arg(&script)
            .arg("--dir")
            .arg(dir.path())
            .arg("--port")
            .arg(options.port.to_string())
            .arg("--delay")
            .arg(options.delay.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(auth) = &options.auth {
            cmd.arg("--auth").arg(auth);
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e}. The SMTP tests need aiosmtpd in the venv: run .ci/run",
                python.display()
            )
        });
        let stdin = child.stdin.take();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(port) = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
        else {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            let _ = child.kill();
            panic!(
                "the SMTP sink did not start (does the venv at {} have aiosmtpd? run .ci/run): {err}",
                python.display()
            );
        };
        SmtpSink {
            child,
            _stdin: stdin,
            port,
            dir,
        }
    }

    /// A sink on a free port, accepting everything at once.
    pub fn plain() -> SmtpSink {
        SmtpSink::start(SinkOptions::default())
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message stored so far.
    pub fn received(&self) -> Vec<Received> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            out.push(Received {
                rcpt_tos: v["rcpt_tos"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_owned())
                    .collect(),
                auth_user: v["auth_user"].as_str().map(ToOwned::to_owned),
                data: v["data"].as_str().unwrap().to_owned(),
            });
        }
        out
    }

    /// Waits until at least `n` messages arrived (or `timeout` passed) and returns all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n || tokio::time::Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port with nothing listening (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
