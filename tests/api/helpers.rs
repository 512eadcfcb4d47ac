//! `spawn_app`: a real server on 127.0.0.1:0 with a fresh database (a SQLite file in a
//! temporary directory, or a PostgreSQL database of its own that is dropped afterwards),
//! one organization and its SCIM token; and typed request helpers.

use reqwest::{Method, StatusCode};
use rollcall::app::App;
use rollcall::clock::SystemClock;
use rollcall::config::{Config, Overrides};
use rollcall::store::{Store, tokens};
use serde_json::Value;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests use (trust auth); each test gets a database of its own.
pub fn pg_admin_url() -> String {
    std::env::var("ROLLCALL_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// Drops the test's PostgreSQL database when the test ends.
pub struct PgDatabase {
    pub name: String,
}

impl PgDatabase {
    pub async fn create() -> PgDatabase {
        let name = format!("rollcall_test_{}", uuid::Uuid::new_v4().simple());
        let admin = Store::connect(&format!("{}/postgres", pg_admin_url()))
            .await
            .expect("PostgreSQL must be running at 127.0.0.1:5432 (see .ci/run)");
        admin
            .execute_raw(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        admin.close().await;
        PgDatabase { name }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", pg_admin_url(), self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime; a thread with its own runtime can block.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(admin) = Store::connect(&format!("{}/postgres", pg_admin_url())).await {
                    let _ = admin
                        .execute_raw(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    admin.close().await;
                }
            });
        })
        .join();
    }
}

/// Held for the whole of a test that loads both cores for seconds (thousands of users
/// seeded, a 10,000-member group, server processes killed mid-delivery): such tests run
/// one at a time, so none of them starves another's timing-sensitive step. The suite's
/// second thread goes on with light tests meanwhile.
pub async fn heavy() -> tokio::sync::SemaphorePermit<'static> {
    static HEAVY: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
    HEAVY.acquire().await.unwrap()
}

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    pub backend: Backend,
    /// `http://127.0.0.1:PORT`
    pub address: String,
    /// `http://127.0.0.1:PORT/scim/v2`
    pub base: String,
    pub token: String,
    pub org_id: String,
    pub client: reqwest::Client,
    pub database_url: String,
    /// The server's master key: a store that reads or writes secrets needs it.
    pub master_key: std::sync::Arc<rollcall::store::seal::MasterKey>,
    /// The same as base64 text, for `ROLLCALL_MASTER_KEY` of a CLI or server process.
    pub master_key_text: secrecy::SecretString,
    // Fields drop in this order: the server stops and lets go of the database before
    // its files and its PostgreSQL database go.
    _server: Running,
    /// The server's own sign-in and sessions (tests drive `sign_in` through it).
    pub sso: rollcall::sso::Sso,
    pub data_dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
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

/// A response: status, headers, JSON body (Null when empty).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What a test server may reach although it is internal: the test peers (OIDC provider,
/// webhook receivers) listen on loopback, which the server refuses by default. A test of
/// that refusal passes `outbound_allow_hosts: Some(vec![])`.
pub fn local_peers() -> Vec<String> {
    vec!["127.0.0.1".into(), "localhost".into()]
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Overrides::default()).await
}

/// As [`spawn_app`], with settings of the test's own (`database_url`, `data_dir` and
/// `listen` are always the test's).
pub async fn spawn_app_with(backend: Backend, overrides: Overrides) -> TestApp {
    spawn_app_with_clock(backend, overrides, std::sync::Arc::new(SystemClock)).await
}

/// As [`spawn_app_with`], on a clock of the test's own (e.g. a `ManualClock` it moves to
/// make links and codes expire).
pub async fn spawn_app_with_clock(
    backend: Backend,
    overrides: Overrides,
    clock: std::sync::Arc<dyn rollcall::clock::Clock>,
) -> TestApp {
    rollcall::telemetry::init();
    rollcall::tls::ensure_crypto_provider();
    let (data_dir, pg, database_url) = fresh_database(backend).await;
    let outbound_allow_hosts = overrides
        .outbound_allow_hosts
        .clone()
        .or_else(|| Some(local_peers()));
    // PostgreSQL needs a key given (SQLite generates one into the data directory).
    let master_key = match (&overrides.master_key, &overrides.master_key_file, backend) {
        (None, None, Backend::Postgres) => Some(new_master_key()),
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
        _server: server,
        sso,
        data_dir,
        _pg: pg,
    }
}

/// A data directory and an empty database of the test's own: the SQLite file in the
/// directory, or a PostgreSQL database (dropped with the returned guard); and its URL.
pub async fn fresh_database(backend: Backend) -> (tempfile::TempDir, Option<PgDatabase>, String) {
    let dir = tempfile::tempdir().unwrap();
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDatabase::create().await),
    };
    let url = match &pg {
        Some(db) => db.url(),
        None => format!("sqlite:{}", dir.path().join("rollcall.db").display()),
    };
    (dir, pg, url)
}

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

/// Creates an organization and a SCIM token for it, as the CLI does.
pub async fn create_org_and_token(database_url: &str, name: &str) -> (String, String) {
    let store = Store::connect(database_url).await.unwrap();
    let (org, _) = rollcall::provisioning::orgs::create_org(
        &store,
        name,
        None,
        &"2026-01-01T00:00:00.000Z".parse().unwrap(),
    )
    .await
    .unwrap();
    let token = rollcall::secrets::new_token(rollcall::secrets::SCIM_TOKEN_PREFIX).unwrap();
    let mut tx = store.write().await.unwrap();
    tokens::insert(
        &mut tx,
        &tokens::TokenInfo {
            id: uuid::Uuid::new_v4().to_string(),
            org_id: org.id.clone(),
            label: format!("{name} test token"),
            created: org.created.clone(),
            revoked: None,
        },
        &rollcall::secrets::token_hash(&token),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    store.close().await;
    (org.id, token)
}

impl TestApp {
    /// A second organization on the same server, with its own token.
    pub async fn other_org(&self, name: &str) -> String {
        create_org_and_token(&self.database_url, name).await.1
    }

    pub async fn request_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{}", self.base, path)
        };
        let mut req = self.client.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/scim+json")
                .body(b.to_string());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Resp {
        self.request_with(method, path, body, Some(&self.token), &[])
            .await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.request(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.request(Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.request(Method::PUT, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.request(Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.request(Method::DELETE, path, None).await
    }

    /// Creates a user and returns its id.
    pub async fn create_user(&self, user_name: &str) -> String {
        let r = self
            .post(
                "/Users",
                &serde_json::json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": user_name,
                    "name": {"givenName": "Given", "familyName": "Family"},
                    "emails": [{"value": user_name, "type": "work", "primary": true}],
                    "active": true
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// Creates a group with members and returns its id.
    pub async fn create_group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members
            .iter()
            .map(|m| serde_json::json!({"value": m}))
            .collect();
        let r = self
            .post(
                "/Groups",
                &serde_json::json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": name,
                    "members": members
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }
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

/// Generates `#[tokio::test]`s running each listed `async fn(TestApp)` on SQLite and on
/// PostgreSQL: `backends!(creates_a_user, ...)` in a test module.
#[macro_export]
macro_rules! backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await).await
                }
            )*
        }
    };
}
