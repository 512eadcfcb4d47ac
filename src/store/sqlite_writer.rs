//! The SQLite write connection, driven inline.
//!
//! SQLite runs one write transaction at a time, so every SCIM change waits for the one
//! before it: the writer's time per transaction bounds the write throughput. Through
//! sqlx each statement is a round trip to the connection's worker thread and back to a
//! busy async runtime, which cost more than the statements themselves (about 70 µs per
//! statement, a dozen statements per user created). Here the statements run on the
//! calling task instead: each takes microseconds, and the transaction holds an async
//! mutex, so waiting writers park rather than block a thread. Readers run the same way
//! (see [`super::sqlite_readers`]).

use super::StoreError;
use super::sql::{Q, Row};
use super::sqlite_checkpointer::WRITER_BACKSTOP_PAGES;
use super::sqlite_inline::{self, STATEMENT_CACHE, from_sqlite};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// The one write connection. Cheap to clone.
#[derive(Clone)]
pub(super) struct Writer {
    conn: Arc<Mutex<rusqlite::Connection>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    /// Opens (creating if missing) the database file in WAL mode.
    pub(super) fn open(path: &Path, busy_timeout: Duration) -> Result<Writer, StoreError> {
        let conn = rusqlite::Connection::open(path)
            .map_err(|e| StoreError::Connect(format!("{}: {e}", path.display())))?;
        conn.busy_timeout(busy_timeout).map_err(from_sqlite)?;
        // WAL lets the readers run beside the writer; in WAL mode NORMAL syncs at
        // checkpoints, not at every commit, and the checkpointer thread runs those.
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = {WRITER_BACKSTOP_PAGES};"
        ))
        .map_err(|e| StoreError::Connect(format!("{}: {e}", path.display())))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Writer {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Waits for the writer, then `BEGIN IMMEDIATE`.
    pub(super) async fn begin(&self) -> Result<WriteTx, StoreError> {
        let conn = self.conn.clone().lock_owned().await;
        if !conn.is_autocommit() {
            // A transaction left open (its rollback failed): end it before the next.
            conn.execute_batch("ROLLBACK").map_err(from_sqlite)?;
        }
        conn.execute_batch("BEGIN IMMEDIATE").map_err(from_sqlite)?;
        Ok(WriteTx { conn, open: true })
    }

    /// Runs SQL outside any transaction (test set-up; never request data).
    pub(super) async fn execute_raw(&self, sql: &str) -> Result<(), StoreError> {
        self.conn
            .lock()
            .await
            .execute_batch(sql)
            .map_err(from_sqlite)
    }
}

/// A write transaction. Dropped without [`WriteTx::commit`], it rolls back at once.
pub(super) struct WriteTx {
    conn: OwnedMutexGuard<rusqlite::Connection>,
    open: bool,
}

impl WriteTx {
    /// Runs a statement and returns the number of rows it changed.
    pub(super) fn execute(&mut self, q: Q) -> Result<u64, StoreError> {
        sqlite_inline::execute(&self.conn, q)
    }

    /// Runs a query and returns its rows, at most `max`.
    pub(super) fn fetch(&mut self, q: Q, max: usize) -> Result<Vec<Row>, StoreError> {
        sqlite_inline::fetch(&self.conn, q, max)
    }

    /// Commits; on failure the transaction is rolled back when dropped.
    pub(super) fn commit(mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("COMMIT").map_err(from_sqlite)?;
        self.open = false;
        Ok(())
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if self.open
            && let Err(e) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::error!(error = %e, "rolling back a SQLite write transaction failed");
        }
    }
}
