//! Tests of SQLite migration 0011, which rebuilds `memberships`, `outbox` and
//! `outbox_attempts` with their CHECK constraints written without IN lists.

use super::backend::SQLITE_MIGRATIONS;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection as _, Executor as _, Row as _};
use std::borrow::Cow;

async fn connect(dir: &tempfile::TempDir) -> SqliteConnection {
    let opts = SqliteConnectOptions::new()
        .filename(dir.path().join("m.db"))
        .create_if_missing(true)
        .foreign_keys(true);
    SqliteConnection::connect_with(&opts).await.unwrap()
}

/// The migrations up to and including `version`.
fn up_to(version: i64) -> Migrator {
    Migrator {
        migrations: Cow::Owned(
            SQLITE_MIGRATIONS
                .migrations
                .iter()
                .filter(|m| m.version <= version)
                .cloned()
                .collect(),
        ),
        ..Migrator::DEFAULT
    }
}

async fn count(conn: &mut SqliteConnection, sql: &'static str) -> i64 {
    (&mut *conn).fetch_one(sql).await.unwrap().get(0)
}

const SEED: &str = "
    INSERT INTO orgs (id, name, name_norm, seats, created_at) VALUES ('o1', 'Acme', 'acme', 10, 't');
    INSERT INTO subscriptions (id, org_id, label, plan, seats, created_at)
        VALUES ('s1', 'o1', 'main', 'team', 10, 't');
    INSERT INTO teams (id, org_id, name, name_norm, login_type, subscription_id, created_at, updated_at)
        VALUES ('t1', 'o1', 'Eng', 'eng', 'email', 's1', 't', 't');
    INSERT INTO memberships (id, org_id, team_id, user_id, role, source, state, wait_seq, added_at)
        VALUES ('m1', 'o1', 't1', 'u1', 'admin', 'group', 'active', NULL, 't'),
               ('m2', 'o1', 't1', 'u2', 'user', 'default', 'awaiting_seat', 7, 't');
    INSERT INTO outbox (id, org_id, kind, dedupe_key, payload, state, attempts, next_attempt_at, created_at)
        VALUES ('x1', 'o1', 'email', 'k1', '{}', 'delivered', 1, 't', 't');
    INSERT INTO outbox_attempts (outbox_id, attempt, worker, started_at, outcome)
        VALUES ('x1', 1, 'w', 't', 'delivered');
";

/// A database migrated before 0011 keeps every row, its seat count and its triggers.
#[tokio::test]
async fn the_rebuilt_tables_keep_their_rows_and_the_seat_triggers_still_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = connect(&dir).await;
    up_to(10).run(&mut conn).await.unwrap();
    conn.execute(SEED).await.unwrap();
    assert_eq!(count(&mut conn, "SELECT held_seats FROM teams").await, 1);

    SQLITE_MIGRATIONS.run(&mut conn).await.unwrap();

    let rows = conn
        .fetch_all("SELECT id, role, source, state, wait_seq FROM memberships ORDER BY id")
        .await
        .unwrap();
    let rows: Vec<(String, String, String, String, Option<i64>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(
        rows,
        [
            (
                "m1".into(),
                "admin".into(),
                "group".into(),
                "active".into(),
                None
            ),
            (
                "m2".into(),
                "user".into(),
                "default".into(),
                "awaiting_seat".into(),
                Some(7)
            ),
        ]
    );
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) FROM outbox_attempts").await,
        1
    );
    assert_eq!(count(&mut conn, "SELECT held_seats FROM teams").await, 1);
    // The triggers came back: a seat granted and one freed still count.
    conn.execute(
        "INSERT INTO memberships (id, org_id, team_id, user_id, role, source, state, added_at)
         VALUES ('m3', 'o1', 't1', 'u3', 'user', 'manual', 'invited', 't')",
    )
    .await
    .unwrap();
    assert_eq!(count(&mut conn, "SELECT held_seats FROM teams").await, 2);
    conn.execute("DELETE FROM memberships WHERE id = 'm1'")
        .await
        .unwrap();
    assert_eq!(count(&mut conn, "SELECT held_seats FROM teams").await, 1);
    // The attempts still hang off their outbox row.
    conn.execute("DELETE FROM outbox WHERE id = 'x1'")
        .await
        .unwrap();
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) FROM outbox_attempts").await,
        0
    );
    let fk_problems = conn.fetch_all("PRAGMA foreign_key_check").await.unwrap();
    assert!(fk_problems.is_empty());
}

/// The constraints still refuse what they refused, and writing the checked columns
/// builds no temporary b-tree any more.
#[tokio::test]
async fn the_checks_still_refuse_bad_values_without_a_temporary_btree() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = connect(&dir).await;
    SQLITE_MIGRATIONS.run(&mut conn).await.unwrap();
    conn.execute(SEED).await.unwrap();
    for bad in [
        "UPDATE memberships SET state = 'gone' WHERE id = 'm1'",
        "UPDATE memberships SET source = 'nobody' WHERE id = 'm1'",
        "UPDATE memberships SET role = 'owner' WHERE id = 'm1'",
        "UPDATE outbox SET state = 'lost' WHERE id = 'x1'",
        "UPDATE outbox SET kind = 'fax' WHERE id = 'x1'",
        "UPDATE outbox_attempts SET outcome = 'maybe' WHERE outbox_id = 'x1'",
    ] {
        let err = conn.execute(bad).await.unwrap_err();
        assert!(err.to_string().contains("CHECK"), "{bad}: {err}");
    }
    for write in [
        "INSERT INTO memberships (id, org_id, team_id, user_id, role, source, state, added_at)
         VALUES ('m9', 'o1', 't1', 'u9', 'user', 'default', 'invited', 't')",
        "UPDATE memberships SET state = 'active', source = 'manual' WHERE id = 'm2'",
        "INSERT INTO outbox (id, org_id, kind, dedupe_key, payload, state, next_attempt_at, created_at)
         VALUES ('x9', 'o1', 'email', 'k9', '{}', 'pending', 't', 't')",
        "UPDATE outbox SET state = 'sending' WHERE id = 'x1'",
        "INSERT INTO outbox_attempts (outbox_id, attempt, worker, started_at, outcome)
         VALUES ('x1', 2, 'w', 't', 'in_progress')",
        "UPDATE outbox_attempts SET outcome = 'retry' WHERE outbox_id = 'x1'",
    ] {
        let plan = sqlx::query(AssertSqlSafe(format!("EXPLAIN {write}")))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        let opcodes: Vec<String> = plan.iter().map(|r| r.get("opcode")).collect();
        assert!(
            !opcodes.iter().any(|op| op == "OpenEphemeral"),
            "{write}: {opcodes:?}"
        );
        conn.execute(write).await.unwrap();
    }
}
