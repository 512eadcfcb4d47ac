//! A fresh migrated database with one org, a movable clock, workers and emails.

use crate::harness::{Backend, PgDatabase, create_org_and_token};
use rollcall::clock::{Clock, ManualClock};
use rollcall::domain::OrgId;
use rollcall::outbound::Destinations;
use rollcall::outbox::{self, Email, Mailer, Worker, WorkerOptions};
use rollcall::store::Store;
use secrecy::ExposeSecret as _;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

pub struct Db {
    pub backend: Backend,
    pub store: Store,
    pub url: String,
    pub org_id: OrgId,
    pub dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    /// The master key of `store`, for `serve` processes on this database.
    pub master_key_text: secrecy::SecretString,
    _pg: Option<PgDatabase>,
}

impl Db {
    pub async fn new(backend: Backend) -> Db {
        rollcall::telemetry::init();
        let (dir, pg, url) = crate::harness::fresh_database(backend).await;
        let master_key_text = crate::harness::new_master_key();
        let key =
            rollcall::store::seal::MasterKey::from_base64(master_key_text.expose_secret()).unwrap();
        let store = Store::connect(&url)
            .await
            .unwrap()
            .with_master_key(Arc::new(key));
        store.migrate().await.unwrap();
        let (org_id, _) = create_org_and_token(&url, "Acme").await;
        // Real time, so webhook timestamps pass receivers' freshness checks.
        let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
        Db {
            backend,
            store,
            url,
            org_id,
            dir,
            clock,
            master_key_text,
            _pg: pg,
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// A worker on this database with the test clock.
    pub fn worker(&self, mailer: Mailer, options: WorkerOptions) -> Worker {
        Worker::new(self.store.clone(), self.clock.clone(), mailer, options).unwrap()
    }

    /// Queues `email` under `key` in a transaction of its own; the new row's id.
    pub async fn enqueue(&self, key: &str, email: &Email) -> Option<String> {
        let mut tx = self.store.write().await.unwrap();
        let id = outbox::enqueue_email(&mut tx, &self.org_id, key, email, self.now())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        id
    }

    pub async fn message(&self, id: &str) -> outbox::Message {
        let mut tx = self.store.read().await.unwrap();
        outbox::get_message(&mut tx, id).await.unwrap().unwrap()
    }

    pub async fn messages(&self) -> Vec<outbox::Message> {
        let mut tx = self.store.read().await.unwrap();
        outbox::list_messages(&mut tx, &self.org_id, 10_000)
            .await
            .unwrap()
    }

    pub async fn attempts(&self, id: &str) -> Vec<outbox::Attempt> {
        let mut tx = self.store.read().await.unwrap();
        outbox::list_attempts(&mut tx, id).await.unwrap()
    }
}

pub fn email(to: &str, subject: &str) -> Email {
    Email {
        to: to.into(),
        subject: subject.into(),
        text_body: format!("Hello {to},\r\nyou have a seat. {subject}\r\n"),
        html_body: None,
        reply_to: None,
    }
}

/// Options for tests: small batches, the default backoff (the clock is moved instead),
/// webhooks allowed to the receivers on loopback.
pub fn options() -> WorkerOptions {
    WorkerOptions {
        poll_interval: Duration::from_millis(20),
        destinations: Destinations::allowing(&crate::harness::local_peers()).unwrap(),
        ..WorkerOptions::default()
    }
}

/// `rollcall serve` as its own process on this database, with `env` (`ROLLCALL_*`) and
/// its log (JSON) going to `log`.
pub fn serve(db: &Db, env: &[(&str, &str)], log: Stdio) -> Child {
    let mut cmd = crate::harness::rollcall_command();
    cmd.arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .env("ROLLCALL_DATABASE_URL", &db.url)
        .env("ROLLCALL_DATA_DIR", db.dir.path())
        .env("ROLLCALL_MASTER_KEY", db.master_key_text.expose_secret())
        .env("ROLLCALL_MAIL_FROM", "rollcall <noreply@rollcall.test>")
        .env("ROLLCALL_OUTBOX_POLL_MS", "50")
        .env("ROLLCALL_LOG_FORMAT", "json")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Parses a stored timestamp.
pub fn at(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
}

/// The value of a header in an RFC 5322 message (first occurrence, unfolded).
pub fn header(message: &str, name: &str) -> Option<String> {
    let head = message.split("\r\n\r\n").next().unwrap_or_default();
    let mut value: Option<String> = None;
    for line in head.split("\r\n") {
        if let Some(v) = &mut value {
            if line.starts_with([' ', '\t']) {
                v.push_str(line);
                continue;
            }
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case(name)
        {
            value = Some(v.trim().to_owned());
        }
    }
    value
}

/// A quoted-printable body with its soft line breaks and `=3D` undone (enough for the
/// links and codes the tests look for).
pub fn unfold(text: &str) -> String {
    text.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

/// The body of a single-part RFC 5322 message.
pub fn body(message: &str) -> &str {
    message.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}
