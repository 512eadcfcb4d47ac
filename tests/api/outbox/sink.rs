//! A real SMTP server on loopback: a mailbox of the test's own, on a port of its own, in
//! the SMTP peer process the tests share (tests/support/smtp_sink.py on aiosmtpd, from the
//! venv that .ci/run prepares; see tests/api/peers.rs).

use serde_json::{Value, json};
use std::time::Duration;

/// A message as the SMTP server stored it.
#[derive(Debug, Clone)]
pub struct Received {
    pub rcpt_tos: Vec<String>,
    pub auth_user: Option<String>,
    /// The RFC 5322 message.
    pub data: String,
}

/// A mailbox: the peer stops listening on its port when it is dropped.
pub struct SmtpSink {
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

impl SmtpSink {
    pub async fn start(options: SinkOptions) -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let peer = crate::peers::smtp().await;
        let answer = peer
            .call(json!({"open": {
                "dir": dir.path(),
                "port": options.port,
                "delay": options.delay,
                "auth": options.auth,
            }}))
            .await
            .unwrap_or_else(|e| {
                panic!("the SMTP sink refused {options:?}: {e}\n{}", peer.output())
            });
        SmtpSink {
            port: u16::try_from(answer["port"].as_u64().unwrap()).unwrap(),
            dir,
        }
    }

    /// A sink on a free port, accepting everything at once.
    pub async fn plain() -> SmtpSink {
        SmtpSink::start(SinkOptions::default()).await
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

impl SmtpSink {
    /// Waits until no client is connected (or `timeout` passed, which fails the test):
    /// from then on no message can still arrive, since a DATA in progress ends with its
    /// connection. Proves that nothing more arrives without sleeping for it.
    pub async fn wait_until_idle(&self, timeout: Duration) {
        let peer = crate::peers::smtp().await;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let answer = peer
                .call(json!({ "live": self.port }))
                .await
                .unwrap_or_else(|e| panic!("the SMTP sink: {e}\n{}", peer.output()));
            let live = answer["live"].as_u64().unwrap();
            if live == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{live} clients still connected to the sink after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(peer) = crate::peers::SMTP.get() {
            peer.notify(json!({ "close": self.port }));
        }
    }
}

/// A loopback port with nothing listening (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
