//! The test peers every test of this binary shares: one OIDC provider process (npm
//! `oidc-provider`, tests/peers/oidc/provider.js), one SAML IdP process (pysaml2,
//! tests/peers/saml/idp.py) and one SMTP server process (aiosmtpd,
//! tests/support/smtp_sink.py). Each starts once, on first use, and each test asks it for
//! what is its own: a provider with its own client, a signing key pair, a mailbox on a port
//! of its own. Starting a process per test put dozens of interpreters on two cores at once.
//!
//! A peer speaks one JSON object per line: `{"ready": true}` once it is up, then an answer
//! `{"id": N, ...}` for each request `{"id": N, ...}` written to its stdin; any other line
//! is its log. It exits when its stdin closes, that is when this test binary exits.
//! Nothing here has a deadline that load can exceed unnoticed: each wait is generous, and
//! when one is really missed the panic says what was awaited and shows the peer's output.

use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OnceCell, oneshot};

/// How long a peer may take to start, and to answer one request, under full load.
const PATIENCE: Duration = Duration::from_secs(180);

/// How many of a peer's last output lines a failure shows.
const KEPT_LINES: usize = 200;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// A running peer process and the requests waiting for its answers.
pub struct Peer {
    name: &'static str,
    stdin: Mutex<ChildStdin>,
    pending: Pending,
    output: Arc<Mutex<VecDeque<String>>>,
    next_id: AtomicU64,
    _child: Child,
}

fn keep(output: &Mutex<VecDeque<String>>, line: String) {
    let mut output = output.lock().unwrap();
    if output.len() == KEPT_LINES {
        output.pop_front();
    }
    output.push_back(line);
}

impl Peer {
    /// Spawns `cmd` and waits (blocking) for its `{"ready": true}` line.
    fn start(name: &'static str, mut cmd: Command) -> Peer {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {name} ({cmd:?}): {e}; run .ci/run"));
        let pending: Pending = Arc::default();
        let output: Arc<Mutex<VecDeque<String>>> = Arc::default();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let (answers, log) = (pending.clone(), output.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line).unwrap_or_default();
                if v["ready"] == true {
                    let _ = ready_tx.send(());
                } else if let Some(waiter) = v["id"]
                    .as_u64()
                    .and_then(|id| answers.lock().unwrap().remove(&id))
                {
                    let _ = waiter.send(v);
                    continue;
                }
                keep(&log, line);
            }
            keep(&log, "(stdout closed: the peer exited)".into());
            // Whoever still waits learns it at once rather than at its deadline.
            answers.lock().unwrap().clear();
        });
        let mut stderr = child.stderr.take().unwrap();
        let log = output.clone();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                while let Some(end) = buf.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=end).collect();
                    keep(&log, String::from_utf8_lossy(&line).trim_end().to_owned());
                }
            }
        });
        let peer = Peer {
            name,
            stdin: Mutex::new(child.stdin.take().unwrap()),
            pending,
            output,
            next_id: AtomicU64::new(1),
            _child: child,
        };
        if ready_rx.recv_timeout(PATIENCE).is_err() {
            panic!(
                "the {name} did not print {{\"ready\": true}} within {PATIENCE:?}; its output:\n{}",
                peer.output()
            );
        }
        peer
    }

    /// The peer's last output lines, for a failure message.
    pub fn output(&self) -> String {
        let lines: Vec<String> = self.output.lock().unwrap().iter().cloned().collect();
        lines.join("\n")
    }

    /// Sends `request` (an object; its `id` is added) and waits for the answer. An answer
    /// with an `error` field is an `Err`.
    pub async fn call(&self, request: Value) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        let mut line = request.clone();
        line["id"] = json!(id);
        {
            // A test that panicked while writing leaves the pipe usable for the others.
            let mut stdin = self.stdin.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = writeln!(stdin, "{line}").and_then(|()| stdin.flush()) {
                panic!(
                    "the {} no longer reads its requests ({e}); its output:\n{}",
                    self.name,
                    self.output()
                );
            }
        }
        let answer = match tokio::time::timeout(PATIENCE, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => panic!(
                "the {} exited while the test waited for its answer to {request}; its output:\n{}",
                self.name,
                self.output()
            ),
            Err(_) => panic!(
                "the {} did not answer {request} within {PATIENCE:?}; its output:\n{}",
                self.name,
                self.output()
            ),
        };
        match answer["error"].as_str() {
            Some(error) => Err(error.to_owned()),
            None => Ok(answer),
        }
    }

    /// Sends `request` without waiting for the answer (from a `Drop`).
    pub fn notify(&self, request: Value) {
        let mut line = request;
        line["id"] = json!(self.next_id.fetch_add(1, Ordering::Relaxed));
        let mut stdin = self.stdin.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(stdin, "{line}").and_then(|()| stdin.flush());
    }
}

/// Starts the peer on first use; every later caller gets the same one.
async fn shared(
    cell: &'static OnceCell<Peer>,
    name: &'static str,
    command: fn() -> Command,
) -> &'static Peer {
    cell.get_or_init(|| async move {
        tokio::task::spawn_blocking(move || Peer::start(name, command()))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    })
    .await
}

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The Python of the venv .ci/run prepares (aiosmtpd, pysaml2).
pub fn python() -> PathBuf {
    std::env::var("ROLLCALL_VENV")
        .map_or_else(|_| repo(".venv"), PathBuf::from)
        .join("bin/python")
}

/// The OIDC provider process.
pub static OIDC: OnceCell<Peer> = OnceCell::const_new();

pub async fn oidc() -> &'static Peer {
    shared(
        &OIDC,
        "OIDC peer (tests/peers/oidc, npm ci by .ci/run)",
        || {
            let dir = repo("tests/peers/oidc");
            assert!(
                dir.join("node_modules/oidc-provider").exists(),
                "the OIDC test peer is not installed: run `npm ci` in {} (.ci/run does)",
                dir.display()
            );
            let mut cmd = Command::new("node");
            cmd.arg(dir.join("provider.js")).current_dir(dir);
            cmd
        },
    )
    .await
}

/// The SAML IdP process.
pub static SAML: OnceCell<Peer> = OnceCell::const_new();

pub async fn saml() -> &'static Peer {
    shared(
        &SAML,
        "SAML peer (pysaml2 in .venv, xmlsec1: .ci/run)",
        || {
            let mut cmd = Command::new(python());
            cmd.arg(repo("tests/peers/saml/idp.py")).arg("serve");
            cmd
        },
    )
    .await
}

/// The SMTP server process.
pub static SMTP: OnceCell<Peer> = OnceCell::const_new();

pub async fn smtp() -> &'static Peer {
    shared(&SMTP, "SMTP sink (aiosmtpd in .venv: .ci/run)", || {
        let mut cmd = Command::new(python());
        cmd.arg(repo("tests/support/smtp_sink.py")).arg("--serve");
        cmd
    })
    .await
}
