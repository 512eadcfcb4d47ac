//! A write rollcall acknowledged survives a power cut: SQLite syncs every commit unless the
//! operator chose otherwise (and is warned), and PostgreSQL's own settings are checked.

use crate::harness::{PgDatabase, serve_process};
use rollcall::config::{Config, Overrides, SqliteSynchronous};
use rollcall::store::{Q, Store, postgres_unsafe_settings};

/// `PRAGMA synchronous` of each SQLite connection that writes, as configured by `value`.
async fn synchronous_with(value: Option<&str>) -> Vec<(&'static str, Option<SqliteSynchronous>)> {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::load(&Overrides {
        data_dir: Some(dir.path().to_owned()),
        sqlite_synchronous: value.map(ToOwned::to_owned),
        ..Overrides::default()
    })
    .unwrap();
    let store = Store::connect_with(config.database_url(), config.sqlite_synchronous)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let levels = store.sqlite_synchronous().await.unwrap();
    store.close().await;
    levels
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sqlite_connection_that_writes_syncs_each_commit_by_default() {
    let full = Some(SqliteSynchronous::Full);
    assert_eq!(
        synchronous_with(None).await,
        [
            ("writer", full),
            ("migrations", full),
            ("checkpointer", full)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn normal_applies_to_every_sqlite_connection_that_writes() {
    let normal = Some(SqliteSynchronous::Normal);
    assert_eq!(
        synchronous_with(Some("normal")).await,
        [
            ("writer", normal),
            ("migrations", normal),
            ("checkpointer", normal)
        ]
    );
}

/// Whether `serve` warned, before it listened, that commits are not synced.
fn warns_at_start(args: &[&str]) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rollcall"));
    cmd.env_remove("ROLLCALL_SQLITE_SYNCHRONOUS");
    let server = serve_process(&mut cmd, dir.path(), args);
    server.startup_log.iter().any(|line| {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        v["level"] == "WARN" && v["fields"]["sqlite_synchronous"] == "normal"
    })
}

#[test]
fn the_server_warns_at_start_when_sqlite_commits_are_not_synced() {
    assert!(warns_at_start(&["--sqlite-synchronous", "normal"]));
    assert!(!warns_at_start(&[]), "no warning on the durable default");
}

/// The check behind the start-up warning on PostgreSQL, against the real server: nothing
/// to report on its defaults, and a session with `synchronous_commit = off` is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_settings_that_lose_commits_are_reported() {
    let db = PgDatabase::create().await;
    let store = Store::connect(&db.url()).await.unwrap();
    let mut tx = store.write().await.unwrap();
    assert_eq!(postgres_unsafe_settings(&mut tx).await.unwrap(), []);
    tx.execute(Q::new("SET LOCAL synchronous_commit = off"))
        .await
        .unwrap();
    assert_eq!(
        postgres_unsafe_settings(&mut tx).await.unwrap(),
        [("synchronous_commit".to_owned(), "off".to_owned())]
    );
    drop(tx);
    store.close().await;
}
