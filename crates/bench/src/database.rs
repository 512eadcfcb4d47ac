//! The databases the benchmark touches itself: a PostgreSQL database of its own for each
//! run (created, analysed, dropped), and the server's outbox, read to wait until the
//! seeding's joining emails are delivered. The server has no API that says whether its
//! outbox is delivered, so the benchmark reads the table; it never writes the server's
//! tables.

use super::BenchError;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection as _, Executor as _};
use std::str::FromStr as _;

/// A database of its own on a PostgreSQL server, dropped by [`PgDatabase::drop_database`].
#[derive(Debug)]
pub struct PgDatabase {
    server: String,
    name: String,
}

impl PgDatabase {
    /// Creates `rollcall_bench_<random>` on the server at `pg_url`.
    pub async fn create(pg_url: &str) -> Result<PgDatabase, BenchError> {
        let server = server_url(pg_url)?;
        let name = format!("rollcall_bench_{}", uuid::Uuid::new_v4().simple());
        let mut admin = connect_pg(&with_database(&server, "postgres")).await?;
        let created = admin
            // The name is ours (letters, digits, `_`): nothing to inject.
            .execute(sqlx::raw_sql(AssertSqlSafe(format!(
                "CREATE DATABASE {name}"
            ))))
            .await
            .map(drop)
            .map_err(|e| BenchError::Setup(format!("cannot create database {name}: {e}")));
        let _ = admin.close().await;
        created?;
        Ok(PgDatabase { server, name })
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL the server under test connects to.
    pub fn url(&self) -> String {
        with_database(&self.server, &self.name)
    }

    /// Whether autovacuum (which also keeps planner statistics fresh) runs on the server.
    pub async fn autovacuum_on(&self) -> Result<bool, BenchError> {
        let mut db = connect_pg(&self.url()).await?;
        let value: Result<String, _> = sqlx::query_scalar("SHOW autovacuum")
            .fetch_one(&mut db)
            .await;
        let _ = db.close().await;
        let value = value.map_err(|e| BenchError::Setup(format!("SHOW autovacuum: {e}")))?;
        Ok(value != "off")
    }

    /// `ANALYZE`: what autovacuum does after bulk changes, when it is off.
    pub async fn analyze(&self) -> Result<(), BenchError> {
        let mut db = connect_pg(&self.url()).await?;
        let done = db.execute(sqlx::raw_sql("ANALYZE")).await;
        let _ = db.close().await;
        done.map(drop)
            .map_err(|e| BenchError::Setup(format!("ANALYZE: {e}")))
    }

    /// Drops the database (the server under test must have stopped).
    pub async fn drop_database(self) -> Result<(), BenchError> {
        let mut admin = connect_pg(&with_database(&self.server, "postgres")).await?;
        let dropped = admin
            .execute(sqlx::raw_sql(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))))
            .await
            .map(drop)
            .map_err(|e| BenchError::Setup(format!("cannot drop database {}: {e}", self.name)));
        let _ = admin.close().await;
        dropped
    }
}

async fn connect_pg(url: &str) -> Result<PgConnection, BenchError> {
    PgConnection::connect(url)
        .await
        .map_err(|e| BenchError::Setup(format!("PostgreSQL: {e}")))
}

/// The server part of a PostgreSQL URL (scheme, credentials, host, port, query): a
/// database name in the path is ignored.
fn server_url(url: &str) -> Result<String, BenchError> {
    let (scheme, rest) = url
        .split_once("://")
        .filter(|(s, _)| *s == "postgres" || *s == "postgresql")
        .ok_or_else(|| {
            // Only the scheme: the rest may hold a password.
            let scheme = url.split(':').next().unwrap_or_default();
            BenchError::Usage(format!(
                "--pg-url must look like postgres://USER@HOST:PORT, not {scheme}:..."
            ))
        })?;
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let authority = rest.split('/').next().unwrap_or_default();
    Ok(match query {
        Some(q) => format!("{scheme}://{authority}/?{q}"),
        None => format!("{scheme}://{authority}/"),
    })
}

/// `server_url` (ending in `/` or `/?query`) with a database name.
fn with_database(server: &str, database: &str) -> String {
    match server.split_once("/?") {
        Some((s, q)) => format!("{s}/{database}?{q}"),
        None => format!("{server}{database}"),
    }
}

/// A connection to the server's database that reads its outbox.
#[derive(Debug)]
pub enum Outbox {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// Every outbox row, and those not delivered yet (`pending` or `sending`); the same
/// query as the server's `store::outbox::counts`.
const OUTBOX_COUNTS: &str = "SELECT COUNT(*) AS total, \
     COUNT(CASE WHEN state IN ('pending', 'sending') THEN 1 END) AS undelivered \
     FROM outbox";

impl Outbox {
    /// Connects to the server's database at `database_url` (`sqlite:` read-only).
    pub async fn open(database_url: &str) -> Result<Outbox, BenchError> {
        let failed =
            |e: sqlx::Error| BenchError::Setup(format!("opening the server's database: {e}"));
        if database_url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(database_url)
                .map_err(failed)?
                .read_only(true);
            Ok(Outbox::Sqlite(
                SqliteConnection::connect_with(&options)
                    .await
                    .map_err(failed)?,
            ))
        } else {
            Ok(Outbox::Postgres(
                PgConnection::connect(database_url).await.map_err(failed)?,
            ))
        }
    }

    /// (all rows, rows not delivered yet).
    pub async fn counts(&mut self) -> Result<(i64, i64), BenchError> {
        let counts = match self {
            Outbox::Sqlite(c) => sqlx::query_as(OUTBOX_COUNTS).fetch_one(c).await,
            Outbox::Postgres(c) => sqlx::query_as(OUTBOX_COUNTS).fetch_one(c).await,
        };
        counts.map_err(|e| BenchError::Setup(format!("reading the outbox: {e}")))
    }

    pub async fn close(self) {
        let _ = match self {
            Outbox::Sqlite(c) => c.close().await,
            Outbox::Postgres(c) => c.close().await,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_urls_lose_their_database_and_keep_their_query() {
        let s = server_url("postgres://postgres@127.0.0.1:5432").unwrap();
        assert_eq!(
            with_database(&s, "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        let s = server_url("postgresql://u:p@h/postgres?sslmode=disable").unwrap();
        assert_eq!(
            with_database(&s, "x"),
            "postgresql://u:p@h/x?sslmode=disable"
        );
        let s = server_url("postgres://u@h:1/").unwrap();
        assert_eq!(with_database(&s, "db"), "postgres://u@h:1/db");
        assert!(server_url("sqlite:x.db").is_err());
        let refused = server_url("mysql://u:secret@h").unwrap_err().to_string();
        assert!(!refused.contains("secret"), "{refused}");
    }

    #[tokio::test]
    async fn reads_the_outbox_of_a_sqlite_database() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("r.db").display());
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true);
        let mut writer = SqliteConnection::connect_with(&options).await.unwrap();
        writer
            .execute(sqlx::raw_sql(
                "CREATE TABLE outbox (id INTEGER PRIMARY KEY, state TEXT NOT NULL); \
                 INSERT INTO outbox (state) VALUES ('pending'), ('sending'), ('delivered'), ('failed');",
            ))
            .await
            .unwrap();
        let mut outbox = Outbox::open(&url).await.unwrap();
        assert_eq!(outbox.counts().await.unwrap(), (4, 2));
        outbox.close().await;
    }
}
