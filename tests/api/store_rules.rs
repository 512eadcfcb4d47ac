//! The store's rules that are not types: a task asking for the writer while it holds a
//! reader fails loudly (debug builds, as tests run), and an insert that inserted nothing
//! says so instead of returning another row's key.

use crate::harness::TestApp;
use rollcall::store::{Dialect, Q, Store};

async fn a_write_beside_a_held_reader_fails_loudly(app: TestApp) {
    let store = Store::connect(&app.database_url).await.unwrap();

    // One task holding a reader while it asks for the writer: the debug check panics.
    let s = store.clone();
    let beside = tokio::spawn(async move {
        let reader = s.read_snapshot().await.unwrap();
        let _write = s.write().await;
        drop(reader);
    })
    .await
    .expect_err("a write beside a held reader must fail");
    let message = beside.into_panic();
    let message = message
        .downcast_ref::<String>()
        .map(String::as_str)
        .unwrap_or_default();
    assert!(
        message.contains("while this task holds 1 reader"),
        "unexpected panic: {message}"
    );

    // The reader dropped first, the same task writes.
    let s = store.clone();
    tokio::spawn(async move {
        let mut reader = s.read().await.unwrap();
        reader.fetch_one(Q::new("SELECT 1 AS one")).await.unwrap();
        drop(reader);
        s.write().await.unwrap().commit().await.unwrap();
    })
    .await
    .expect("a write after the reader was dropped");

    // A reader held by another task does not stop this one.
    let s = store.clone();
    let (held_tx, held_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let holder = tokio::spawn(async move {
        let reader = s.read().await.unwrap();
        held_tx.send(()).unwrap();
        let _ = release_rx.await;
        drop(reader);
    });
    held_rx.await.unwrap();
    let s = store.clone();
    tokio::spawn(async move { s.write().await.unwrap().commit().await.unwrap() })
        .await
        .expect("another task's reader does not block a write");
    release_tx.send(()).unwrap();
    holder.await.unwrap();
    store.close().await;
}

async fn an_insert_that_inserts_nothing_says_so(app: TestApp) {
    let store = Store::connect(&app.database_url).await.unwrap();
    let ddl = match store.dialect() {
        Dialect::Sqlite => "CREATE TABLE rule_t (k INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
        Dialect::Postgres => {
            "CREATE TABLE rule_t (k BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE)"
        }
    };
    store.execute_raw(ddl).await.unwrap();
    let insert = |name: &str| {
        Q::new("INSERT INTO rule_t (name) VALUES (?) ON CONFLICT (name) DO NOTHING")
            .bind(name.to_owned())
    };

    let mut tx = store.write().await.unwrap();
    let ann = tx.insert_returning_key(insert("ann"), "k").await.unwrap();
    let bob = tx.insert_returning_key(insert("bob"), "k").await.unwrap();
    assert!(
        ann.is_some() && bob.is_some() && ann != bob,
        "{ann:?} {bob:?}"
    );
    // SQLite's last inserted rowid would still be bob's here.
    let again = tx.insert_returning_key(insert("ann"), "k").await.unwrap();
    assert_eq!(again, None, "an INSERT that hit its conflict has no key");
    tx.commit().await.unwrap();
    store.close().await;
}

crate::both_backends!(
    a_write_beside_a_held_reader_fails_loudly,
    an_insert_that_inserts_nothing_says_so
);
