//! `spawn_app`: a real server on 127.0.0.1:0 with a fresh database (a SQLite file in a
//! temporary directory, or a PostgreSQL database of its own that is dropped afterwards),
//! one organization and its SCIM token. [`TestApp::builder`] sets the options (a manual
//! clock, SMTP, a fast outbox, settings); the preset option sets below are thin helpers on top of it.

use super::backends::{Backend, PgDatabase, fresh_database};
use rollcall::app::App;
use rollcall::clock::{Clock, ManualClock, SystemClock};
use rollcall::config::{Config, Overrides};
use rollcall::domain::OrgId;
use rollcall::store::Store;
use rollcall::store::tokens::{self, TokenKind};
use std::sync::Arc;

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    pub backend: Backend,
    /// `http://127.0.0.1:PORT`
    pub address: String,
    /// `http://127.0.0.1:PORT/scim/v2`
    pub base: String,
    pub token: String,
    pub org_id: OrgId,
    pub client: reqwest::Client,
    pub database_url: String,
    /// The server's master key: a store that reads or writes secrets needs it.
    pub master_key: Arc<rollcall::store::seal::MasterKey>,
    /// The same as base64 text, for `ROLLCALL_MASTER_KEY` of a CLI or server process.
    pub master_key_text: secrecy::SecretString,
    /// The server's clock when the test asked for one it moves ([`Builder::manual_clock`]).
    pub manual_clock: Option<Arc<ManualClock>>,
    // Fields drop in this order: the server stops and lets go of the database before
    // its files and its PostgreSQL database go.
    _server: Running,
    /// The server's own sign-in and sessions (tests drive `sign_in` through it).
    pub sso: rollcall::sso::Sso,
    pub data_dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
}

/// A server with the default settings (as `TestApp::builder(backend).spawn()`).
pub async fn spawn_app(backend: Backend) -> TestApp {
    TestApp::builder(backend).spawn().await
}

/// A server whose outbox worker polls every 50 ms, for tests that wait for an email or a
/// webhook.
pub async fn spawn_fast_outbox(backend: Backend) -> TestApp {
    TestApp::builder(backend).fast_outbox().spawn().await
}

/// As [`spawn_fast_outbox`], on a clock only the test moves ([`TestApp::advance`]).
pub async fn spawn_on_manual_clock(backend: Backend) -> TestApp {
    TestApp::builder(backend)
        .fast_outbox()
        .manual_clock()
        .spawn()
        .await
}

/// What a test server may reach although it is internal: the test peers (OIDC provider,
/// SAML IdP, webhook receivers) listen on loopback, which the server refuses by default.
/// A test of that refusal passes `outbound_allow_hosts: Some(vec![])`.
pub fn local_peers() -> Vec<String> {
    vec!["127.0.0.1".into(), "localhost".into()]
}

/// The options of a test server; [`Builder::spawn`] starts it.
#[must_use]
pub struct Builder {
    backend: Backend,
    overrides: Overrides,
    manual_clock: Option<Arc<ManualClock>>,
}

impl Builder {
    /// Settings of the test's own (`database_url`, `data_dir` and `listen` are always the
    /// test's). Replaces what earlier calls set.
    pub fn overrides(mut self, overrides: Overrides) -> Builder {
        self.overrides = overrides;
        self
    }

    /// The outbox worker polls every 50 ms, so a test waits little for a delivery.
    pub fn fast_outbox(mut self) -> Builder {
        self.overrides.outbox_poll_ms = Some(50);
        self
    }

    /// Emails go to this SMTP server (`smtp://...`, e.g. a test's `SmtpSink`).
    pub fn smtp(mut self, url: String) -> Builder {
        self.overrides.smtp_url = Some(url);
        self
    }

    /// A clock that starts now and moves only when the test says
    /// ([`TestApp::advance`]): links and codes expire without real waiting.
    pub fn manual_clock(mut self) -> Builder {
        self.manual_clock = Some(Arc::new(ManualClock::new(time::OffsetDateTime::now_utc())));
        self
    }

    pub async fn spawn(self) -> TestApp {
        let Builder {
            backend,
            overrides,
            manual_clock,
        } = self;
        let clock: Arc<dyn Clock> = match &manual_clock {
            Some(manual) => manual.clone(),
            None => Arc::new(SystemClock),
        };
        rollcall::telemetry::init();
        rollcall::tls::ensure_crypto_provider();
        let (data_dir, pg, database_url) = fresh_database(backend).await;
        let outbound_allow_hosts = overrides
            .outbound_allow_hosts
            .clone()
            .or_else(|| Some(local_peers()));
        // PostgreSQL needs a key given (SQLite generates one into the data directory).
        let master_key = match (&overrides.master_key, &overrides.master_key_file, backend) {
            (None, None, Backend::Postgres) => Some(super::process::new_master_key()),
            (key, _, _) => key.clone(),
        };
        let key_file = overrides
            .master_key_file
            .clone()
            .unwrap_or_else(|| data_dir.path().join(rollcall::config::DATA_DIR_KEY_FILE));
        let config = Config::load(&Overrides {
            database_url: Some(database_url.clone()),
            data_dir: Some(data_dir.path().to_owned()),
            listen: Some("127.0.0.1:0".into()),
            outbound_allow_hosts,
            master_key: master_key.clone(),
            ..overrides
        })
        .unwrap();
        let master_key_text = master_key.unwrap_or_else(|| {
            secrecy::SecretString::from(std::fs::read_to_string(&key_file).unwrap().trim())
        });
        let master_key = config.master_key.clone();
        let app = App::build_with_clock(config, clock).await.unwrap();
        let address = format!("http://{}", app.address());
        let sso = app.sso();
        let server = Running::spawn(app);
        let (org_id, token) = create_org_and_token(&database_url, "Acme").await;
        TestApp {
            backend,
            base: format!("{address}/scim/v2"),
            address,
            token,
            org_id,
            client: reqwest::Client::new(),
            database_url,
            master_key,
            master_key_text,
            manual_clock,
            _server: server,
            sso,
            data_dir,
            _pg: pg,
        }
    }
}

impl TestApp {
    /// The options of a test server on `backend`: `TestApp::builder(b).spawn().await` is
    /// [`spawn_app`].
    pub fn builder(backend: Backend) -> Builder {
        Builder {
            backend,
            overrides: Overrides::default(),
            manual_clock: None,
        }
    }

    /// The server's clock, when the test asked for a manual one.
    pub fn clock(&self) -> &Arc<ManualClock> {
        self.manual_clock
            .as_ref()
            .expect("spawn the app with .manual_clock() to move its clock")
    }

    /// Moves the server's manual clock on.
    pub fn advance(&self, by: time::Duration) {
        self.clock().advance(by);
    }

    /// A store on the app's database with its master key (so it reads and writes secrets).
    pub async fn store(&self) -> Store {
        Store::connect(&self.database_url)
            .await
            .unwrap()
            .with_master_key(self.master_key.clone())
    }

    /// A second organization on the same server, with its own token.
    pub async fn other_org(&self, name: &str) -> String {
        create_org_and_token(&self.database_url, name).await.1
    }
}

/// Creates an organization and a SCIM token for it, as the CLI does.
pub async fn create_org_and_token(database_url: &str, name: &str) -> (OrgId, String) {
    let store = Store::connect(database_url).await.unwrap();
    let (org, _) = rollcall::provisioning::orgs::create_org(
        &store,
        name,
        None,
        &"2026-01-01T00:00:00.000Z".parse().unwrap(),
    )
    .await
    .unwrap();
    store.close().await;
    let (token, _) = insert_token(
        database_url,
        TokenKind::Scim,
        &org.id,
        &format!("{name} test token"),
    )
    .await;
    (org.id, token)
}

/// Stores a new token of `kind` for `org_id` as the CLI would; (the token, its id).
pub async fn insert_token(
    database_url: &str,
    kind: TokenKind,
    org_id: &OrgId,
    label: &str,
) -> (String, String) {
    let prefix = match kind {
        TokenKind::Scim => rollcall::secrets::SCIM_TOKEN_PREFIX,
        TokenKind::Admin => rollcall::secrets::ADMIN_TOKEN_PREFIX,
    };
    let token = rollcall::secrets::new_token(prefix).unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    let store = Store::connect(database_url).await.unwrap();
    let mut tx = store.write().await.unwrap();
    tokens::insert_kind(
        &mut tx,
        kind,
        &tokens::TokenInfo {
            id: id.clone(),
            org_id: org_id.clone(),
            label: label.to_owned(),
            created: "2026-01-01T00:00:00.000Z".parse().unwrap(),
            revoked: None,
        },
        &rollcall::secrets::token_hash(&token),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    store.close().await;
    (token, id)
}

/// A server running on the test's runtime. Dropped, it stops gracefully (requests drained,
/// outbox worker stopped, database closed) and the drop returns once it has: a checkpoint
/// or an outbox write on a deleted directory or database would otherwise fail noisily.
pub struct Running {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    pub fn spawn(app: App) -> Running {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Running {
            stop: Some(stop),
            task: Some(task),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let (Some(stop), Some(task)) = (self.stop.take(), self.task.take()) else {
            return;
        };
        let _ = stop.send(());
        // Every API test runs on a multi-threaded runtime, where the drop may wait.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if runtime.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return;
        }
        tokio::task::block_in_place(|| {
            runtime.block_on(async {
                let stopped = tokio::time::timeout(std::time::Duration::from_secs(60), task).await;
                // Not a panic: a drop may run while the test already unwinds.
                if stopped.is_err() {
                    eprintln!("the test server did not stop within 60 s");
                }
            });
        });
    }
}
