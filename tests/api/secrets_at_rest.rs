//! Secrets at rest (issue 16 point 7): what the database holds shows no secret in clear,
//! secrets stored in clear by an earlier version are sealed at start, and
//! `rollcall keys rotate-master` moves them to a new master key.

use crate::effects::{eml_files, store};

use crate::harness::{
    Backend, PgDatabase, TestApp, fresh_database, new_master_key, rollcall_command, serve_process,
};
use crate::outbox::fixture::{body, unfold};
use crate::outbox::receiver::Receiver;
use reqwest::StatusCode;
use rollcall::config::{Config, Overrides};
use rollcall::domain::WebhookId;
use rollcall::outbox::{self, WebhookSecret};
use rollcall::store::seal::MasterKey;
use rollcall::store::{Dialect, Q, Store, effects, sessions, sso_oidc};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use std::time::Duration;

/// Every text value of every table of the app's database, one per line: what someone
/// holding a copy of the database (or a backup) reads.
pub async fn database_text(database_url: &str) -> String {
    let s = Store::connect(database_url).await.unwrap();
    let mut tx = s.read().await.unwrap();
    let tables_sql = match tx.dialect() {
        Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
        Dialect::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = 'public'"
        }
    };
    let tables: Vec<String> = tx
        .fetch_all(Q::new(tables_sql))
        .await
        .unwrap()
        .iter()
        .map(|r| r.text("name").unwrap())
        .collect();
    let mut out = String::new();
    for table in tables {
        // Each column as text on SQLite; on PostgreSQL the whole row (JSONB included).
        let selects: Vec<String> = match tx.dialect() {
            Dialect::Sqlite => tx
                .fetch_all(Q::new("SELECT name FROM pragma_table_info(?)").bind(table.as_str()))
                .await
                .unwrap()
                .iter()
                .map(|r| {
                    let column = r.text("name").unwrap();
                    // JSON documents are JSONB blobs: read back as JSON text.
                    format!(
                        "SELECT CASE WHEN typeof(c) = 'blob' AND json_valid(c, 8) THEN json(c) \
                         WHEN typeof(c) = 'blob' THEN hex(c) ELSE CAST(c AS TEXT) END AS v \
                         FROM (SELECT \"{column}\" AS c FROM \"{table}\")"
                    )
                })
                .collect(),
            Dialect::Postgres => vec![format!("SELECT CAST(t AS TEXT) AS v FROM \"{table}\" t")],
        };
        for sql in selects {
            for row in tx.fetch_all(Q::new(&sql)).await.unwrap() {
                if let Some(text) = row.opt_text("v").unwrap() {
                    out.push_str(&text);
                    out.push('\n');
                }
            }
        }
    }
    drop(tx);
    s.close().await;
    out
}

/// The stored values of `column` in `table`.
async fn stored(app: &TestApp, table: &str, column: &str) -> Vec<String> {
    let s = Store::connect(&app.database_url).await.unwrap();
    let mut tx = s.read().await.unwrap();
    let rows = tx
        .fetch_all(Q::new(&format!(
            "SELECT {column} AS v FROM {table} WHERE {column} <> ''"
        )))
        .await
        .unwrap();
    rows.iter().map(|r| r.text("v").unwrap()).collect()
}

/// Waits until no email or webhook is left to send.
async fn outbox_drained(app: &TestApp) {
    for _ in 0..400 {
        let s = store(app).await;
        let mut tx = s.read().await.unwrap();
        let (_, open) = rollcall::store::outbox::counts(&mut tx).await.unwrap();
        drop(tx);
        s.close().await;
        if open == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the outbox did not drain");
}

/// A webhook secret, an invitation and an email sign-in code, all used for real; after
/// delivery the database holds none of them (nor the signing keys) in clear.
async fn no_secret_is_stored_in_clear_and_everything_still_works(app: TestApp) {
    let admin = app.admin().await;
    let receiver = Receiver::start(&[]).await;
    let secret = WebhookSecret::parse(&format!(
        "whsec_{}",
        "czNjcjN0LXdlYmhvb2stc2VjcmV0LTAxMjM0NTY3ODk="
    ))
    .unwrap();
    let r = admin
        .post(
            "/webhooks",
            &json!({"url": receiver.url, "secret": secret.expose()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);

    // Creating a user sends the joining email (with its invitation link) and webhooks.
    app.create_user("ada@example.com").await;
    let joining = eml_files(&app, 1).await;
    let text = unfold(body(&joining[0]));
    let link_start = text.find("/invitations/").expect("an invitation link");
    let link = text[link_start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let r = app
        .request_with(
            reqwest::Method::GET,
            &format!("{}{link}", app.address),
            None,
            None,
            &[("Accept", "application/json")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "the link works: {:?}", r.body);

    // An email sign-in code, and the session it opens (signed with the signing key).
    let sign_in = |path: &str, body: Value| {
        app.client
            .post(format!("{}{path}", app.address))
            .json(&body)
            .send()
    };
    let r = sign_in(
        "/sign-in/email",
        json!({"org_id": app.org_id, "email": "ada@example.com"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let emails = eml_files(&app, 2).await;
    let code_email = emails
        .iter()
        .find(|e| e.contains("sign-in code"))
        .expect("the code email");
    let code = unfold(body(code_email))
        .split_whitespace()
        .find(|w| w.len() == 6 && w.chars().all(|c| c.is_ascii_digit()))
        .unwrap()
        .to_owned();
    let r = sign_in(
        "/sign-in/email/verify",
        json!({"org_id": app.org_id, "email": "ada@example.com", "code": code}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let session: Value = r.json().await.unwrap();
    let access = session["access_token"].as_str().unwrap();
    let me = app
        .request_with(reqwest::Method::GET, "/Me", None, Some(access), &[])
        .await;
    assert_eq!(me.status, StatusCode::OK, "the access token works");

    // Webhooks arrive signed with the secret the admin gave.
    outbox_drained(&app).await;
    let verifier = standardwebhooks::Webhook::new(secret.expose()).unwrap();
    let deliveries = receiver.deliveries();
    assert!(!deliveries.is_empty());
    for d in &deliveries {
        verifier.verify(&d.body, &d.headers).unwrap();
    }

    let everything = database_text(&app.database_url).await;
    let token = link.trim_start_matches("/invitations/");
    for (what, secret) in [
        ("webhook secret", secret.expose()),
        ("webhook key", secret.expose().trim_start_matches("whsec_")),
        ("invitation token", token),
        ("sign-in code", code.as_str()),
    ] {
        assert!(
            !everything.contains(secret),
            "the {what} is stored in clear"
        );
    }
    for (table, column) in [
        ("server_secrets", "value"),
        ("signing_keys", "private_key"),
        ("webhook_endpoints", "secret"),
    ] {
        let values = stored(&app, table, column).await;
        assert!(!values.is_empty(), "{table}.{column}");
        let prefix = format!("sealed:v1:{}:", app.master_key.id());
        assert!(
            values.iter().all(|v| v.starts_with(&prefix)),
            "{table}.{column}: {values:?}"
        );
    }
}

crate::both_backends!(
    no_secret_is_stored_in_clear_and_everything_still_works,
    delivered_emails_lose_their_codes_and_links,
);

/// A database as an earlier version left it: migrated, with secrets in clear.
struct ClearDatabase {
    url: String,
    dir: tempfile::TempDir,
    webhook_id: WebhookId,
    connection_id: String,
    kid: String,
    seed: String,
    _pg: Option<PgDatabase>,
}

const CLEAR_WEBHOOK: &str = "whsec_Y2xlYXItd2ViaG9vay1zZWNyZXQtMDEyMzQ1Njc4OQ==";
const CLEAR_CLIENT_SECRET: &str = "s3cr3t-oidc-client-in-clear";
const CLEAR_INVITATION_KEY: &str =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

impl ClearDatabase {
    async fn create(backend: Backend) -> ClearDatabase {
        rollcall::telemetry::init();
        let (dir, pg, url) = fresh_database(backend).await;
        // Without a master key, `migrate` runs the SQL migrations only, as before.
        let s = Store::connect(&url).await.unwrap();
        s.migrate().await.unwrap();
        let (org_id, _) = crate::harness::create_org_and_token(&url, "Acme").await;
        let now = "2026-01-01T00:00:00.000Z";
        let key = rollcall::sso::session::generate_key(time::OffsetDateTime::now_utc()).unwrap();
        let (webhook_id, connection_id) = ("wh-1".to_owned(), "oidc-1".to_owned());
        let mut tx = s.write().await.unwrap();
        for q in [
            Q::new("INSERT INTO server_secrets (name, value, created_at) VALUES (?, ?, ?)")
                .bind("invitation_hmac_key")
                .bind(CLEAR_INVITATION_KEY)
                .bind(now),
            Q::new(
                "INSERT INTO signing_keys (kid, alg, private_key, public_key, signer, created_at) \
                 VALUES (?, 'EdDSA', ?, ?, 1, ?)",
            )
            .bind(key.kid.as_str())
            .bind(key.private_key.as_str())
            .bind(key.public_key.as_str())
            .bind(now),
            Q::new(
                "INSERT INTO webhook_endpoints (id, org_id, url, secret, enabled, created_at, \
                 updated_at) VALUES (?, ?, 'https://hooks.example.com/x', ?, ?, ?, ?)",
            )
            .bind(webhook_id.as_str())
            .bind(org_id.as_str())
            .bind(CLEAR_WEBHOOK)
            .bind(true)
            .bind(now)
            .bind(now),
            Q::new(
                "INSERT INTO oidc_connections (id, org_id, name, issuer, client_id, \
                 client_secret, scopes, use_userinfo, claim, match_by, jit, enabled, \
                 created_at, updated_at) VALUES (?, ?, 'Okta', 'https://idp.example.com', \
                 'client', ?, '', ?, 'email', 'email', ?, ?, ?, ?)",
            )
            .bind(connection_id.as_str())
            .bind(org_id.as_str())
            .bind(CLEAR_CLIENT_SECRET)
            .bind(false)
            .bind(false)
            .bind(true)
            .bind(now)
            .bind(now),
        ] {
            tx.execute(q).await.unwrap();
        }
        tx.commit().await.unwrap();
        s.close().await;
        ClearDatabase {
            url,
            dir,
            webhook_id: WebhookId::from(webhook_id),
            connection_id,
            kid: key.kid,
            seed: key.private_key,
            _pg: pg,
        }
    }

    /// The configuration of a server on this database with `key`.
    fn config(&self, key: &SecretString) -> Config {
        Config::load(&Overrides {
            database_url: Some(self.url.clone()),
            data_dir: Some(self.dir.path().to_owned()),
            master_key: Some(key.clone()),
            ..Overrides::default()
        })
        .unwrap()
    }
}

async fn clear_secrets_are_sealed_at_start(backend: Backend) {
    let db = ClearDatabase::create(backend).await;
    let key_text = new_master_key();
    let config = db.config(&key_text);
    let key = config.master_key.clone();
    // What `serve` and every command do first; twice, as after a restart.
    let s = rollcall::app::open_store(&config, "2026-01-01T00:00:00.000Z")
        .await
        .unwrap();
    s.close().await;
    let s = rollcall::app::open_store(&config, "2026-01-01T00:00:00.000Z")
        .await
        .unwrap();
    let everything = database_text(&db.url).await;
    for secret in [
        CLEAR_WEBHOOK,
        CLEAR_CLIENT_SECRET,
        CLEAR_INVITATION_KEY,
        db.seed.as_str(),
    ] {
        assert!(!everything.contains(secret), "{secret} still in clear");
    }
    // Sealed once, with this key, and opened to what was stored.
    let mut tx = s.write().await.unwrap();
    let invitation_key = effects::secret_or_insert(&mut tx, "invitation_hmac_key", "fresh", "x")
        .await
        .unwrap();
    assert_eq!(invitation_key, CLEAR_INVITATION_KEY);
    let endpoint = rollcall::store::outbox::get_endpoint(&mut tx, None, &db.webhook_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(endpoint.secret.expose_secret(), CLEAR_WEBHOOK);
    let conn = sso_oidc::list_connections(&mut tx, &endpoint.org_id)
        .await
        .unwrap();
    assert_eq!(conn[0].id, db.connection_id);
    assert_eq!(conn[0].client_secret.expose_secret(), CLEAR_CLIENT_SECRET);
    let signer = sessions::key(&mut tx, &db.kid).await.unwrap().unwrap();
    assert_eq!(signer.private_key, db.seed);
    // A sealed value copied into another row does not open there.
    let sealed = tx
        .fetch_one(Q::new("SELECT value FROM server_secrets"))
        .await
        .unwrap()
        .text("value")
        .unwrap();
    assert!(
        sealed.starts_with(&format!("sealed:v1:{}:", key.id())),
        "{sealed}"
    );
    tx.execute(
        Q::new("UPDATE webhook_endpoints SET secret = ? WHERE id = ?")
            .bind(sealed.as_str())
            .bind(db.webhook_id.as_str()),
    )
    .await
    .unwrap();
    let err = rollcall::store::outbox::get_endpoint(&mut tx, None, &db.webhook_id)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not open"), "{err}");
    drop(tx);
    s.close().await;

    // Another key does not start on this database, and says why.
    let err = rollcall::app::open_store(&db.config(&new_master_key()), "2026-01-01T00:00:00.000Z")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(key.id()) && err.contains("ROLLCALL_MASTER_KEY"),
        "{err}"
    );
}

/// `rollcall ARGS` for this database, with no `ROLLCALL_*` of the test's environment.
fn rollcall(db: &ClearDatabase) -> std::process::Command {
    let mut cmd = rollcall_command();
    cmd.arg("--database-url").arg(&db.url);
    cmd
}

async fn rotate_master_reseals_everything(backend: Backend) {
    let db = ClearDatabase::create(backend).await;
    let old = new_master_key();
    let new = new_master_key();
    let new_file = db.dir.path().join("new.key");
    std::fs::write(&new_file, format!("{}\n", new.expose_secret())).unwrap();
    let old_id = MasterKey::from_base64(old.expose_secret())
        .unwrap()
        .id()
        .to_owned();
    let new_id = MasterKey::from_base64(new.expose_secret())
        .unwrap()
        .id()
        .to_owned();

    let out = rollcall(&db)
        .env("ROLLCALL_MASTER_KEY", old.expose_secret())
        .args(["keys", "rotate-master", "--new-master-key-file"])
        .arg(&new_file)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    for line in [
        "server_secrets.value\t1 re-sealed",
        "signing_keys.private_key\t1 re-sealed",
        "oidc_connections.client_secret\t1 re-sealed",
        "webhook_endpoints.secret\t1 re-sealed",
        &format!("master key {old_id} -> {new_id}\t4 values re-sealed"),
    ] {
        assert!(stdout.lines().any(|l| l == line), "{line:?} in {stdout}");
    }
    for secret in [old.expose_secret(), new.expose_secret(), CLEAR_WEBHOOK] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }

    // The old key no longer starts a server; the new one does, and opens everything.
    let failed = rollcall(&db)
        .env("ROLLCALL_MASTER_KEY", old.expose_secret())
        .arg("--data-dir")
        .arg(db.dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let err = String::from_utf8(failed.stderr).unwrap();
    assert!(!failed.status.success());
    assert!(err.contains(&new_id) && err.contains(&old_id), "{err}");
    let server = serve_process(
        rollcall(&db).env("ROLLCALL_MASTER_KEY", new.expose_secret()),
        db.dir.path(),
        &[],
    );
    drop(server);
    let config = db.config(&new);
    let s = rollcall::app::open_store(&config, "2026-01-01T00:00:00.000Z")
        .await
        .unwrap();
    let mut tx = s.read().await.unwrap();
    let endpoint = rollcall::store::outbox::get_endpoint(&mut tx, None, &db.webhook_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(endpoint.secret.expose_secret(), CLEAR_WEBHOOK);
    drop(tx);
    s.close().await;
}

/// On the embedded default the key is generated into the data directory, and the
/// rotation puts the new key there itself; the files are private whatever the umask.
#[test]
fn the_embedded_default_keeps_its_key_and_files_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |cmd: &mut std::process::Command| {
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let rollcall = || {
        let mut cmd = std::process::Command::new("sh");
        // umask 000: files would be created readable (and writable) by all unless the
        // server sets their modes itself.
        cmd.arg("-c")
            .arg("umask 000 && exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_rollcall"));
        crate::harness::without_rollcall_env(&mut cmd);
        cmd.arg("--data-dir").arg(&data);
        cmd
    };
    run(rollcall().args(["org", "create", "Acme"]));
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let key_file = data.join("master.key");
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&key_file), 0o600);
    assert_eq!(mode(&data.join("rollcall.db")), 0o600);
    for wal in ["rollcall.db-wal", "rollcall.db-shm"] {
        if data.join(wal).exists() {
            assert_eq!(mode(&data.join(wal)), 0o600, "{wal}");
        }
    }
    let first = std::fs::read_to_string(&key_file).unwrap();
    run(rollcall().args(["org", "create", "Globex"]));
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), first, "reused");

    let new = new_master_key();
    let new_file = dir.path().join("new.key");
    std::fs::write(&new_file, new.expose_secret()).unwrap();
    run(rollcall()
        .args(["keys", "rotate-master", "--new-master-key-file"])
        .arg(&new_file));
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap().trim(),
        new.expose_secret()
    );
    assert_eq!(mode(&key_file), 0o600);
    run(rollcall().args(["org", "create", "Initech"]));
}

/// PostgreSQL without a master key refuses to start and says how to give one.
#[test]
fn postgres_needs_a_master_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = rollcall_command()
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--database-url")
        .arg(format!("{}/postgres", crate::harness::pg_admin_url()))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("error: PostgreSQL needs a master key")
            && err.contains("ROLLCALL_MASTER_KEY")
            && err.contains("--master-key-file"),
        "{err}"
    );
    assert!(!dir.path().join("master.key").exists(), "none generated");
}

/// Outbox rows of delivered emails keep the recipient, not the code or the link.
async fn delivered_emails_lose_their_codes_and_links(app: TestApp) {
    app.create_user("bob@example.com").await;
    let joining = eml_files(&app, 1).await;
    let text = unfold(body(&joining[0]));
    let start = text.find("/invitations/").unwrap();
    let token = text[start + "/invitations/".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    outbox_drained(&app).await;
    let s = store(&app).await;
    let mut tx = s.read().await.unwrap();
    let rows = outbox::list_messages(&mut tx, &app.org_id, 100)
        .await
        .unwrap();
    drop(tx);
    s.close().await;
    let email = rows.iter().find(|m| m.kind == outbox::Kind::Email).unwrap();
    assert_eq!(email.state, outbox::State::Delivered);
    assert!(
        email.dedupe_key.starts_with("invite:"),
        "{}",
        email.dedupe_key
    );
    let payload: Value = serde_json::from_str(&email.payload).unwrap();
    assert_eq!(payload, json!({"to": "bob@example.com", "scrubbed": true}));
    for m in &rows {
        assert!(!m.payload.contains(&token), "{}", m.payload);
    }
    // The delivered message itself is readable by the server's user only.
    use std::os::unix::fs::PermissionsExt as _;
    let eml = app
        .data_dir
        .path()
        .join("outbox")
        .join(format!("{}.eml", email.id));
    let mode = std::fs::metadata(&eml).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", eml.display());
}

/// Each seeds its database before its own server starts.
mod own_server {
    use super::*;

    crate::both_backends!(setup = crate::harness::backend;
        clear_secrets_are_sealed_at_start,
        rotate_master_reseals_everything,
    );
}
