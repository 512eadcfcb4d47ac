//! The SQLite reader pool: read-only connections on the WAL, each statement run inline
//! on the calling task (see [`super::sqlite_inline`]). A request holds one connection
//! while it reads; a request that finds none idle waits for one.

use super::StoreError;
use super::sql::{Q, Row};
use super::sqlite_inline::{self, STATEMENT_CACHE};
use rusqlite::OpenFlags;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

/// How long a request waits for a reader before it fails rather than hang.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// The pool. Cheap to clone.
#[derive(Clone)]
pub(super) struct Readers {
    idle: Arc<Mutex<Vec<rusqlite::Connection>>>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Readers")
    }
}

impl Readers {
    /// Opens `size` read-only connections on the database file (which must exist, in WAL
    /// mode: the writer opens it first).
    pub(super) fn open(
        path: &Path,
        busy_timeout: Duration,
        size: usize,
    ) -> Result<Readers, StoreError> {
        let mut conns = Vec::with_capacity(size);
        for _ in 0..size {
            let conn = sqlite_inline::open(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                busy_timeout,
            )?;
            conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
            conns.push(conn);
        }
        Ok(Readers {
            idle: Arc::new(Mutex::new(conns)),
            permits: Arc::new(Semaphore::new(size)),
        })
    }

    /// Waits for an idle connection, at most [`ACQUIRE_TIMEOUT`].
    pub(super) async fn acquire(&self) -> Result<ReadConn, StoreError> {
        let closed = || StoreError::Database("the reader pool is closed".into());
        // An idle reader is taken without arming a timer (most requests find one).
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::Closed) => return Err(closed()),
            Err(TryAcquireError::NoPermits) => {
                tokio::time::timeout(ACQUIRE_TIMEOUT, self.permits.clone().acquire_owned())
                    .await
                    .map_err(|_| {
                        StoreError::Database(format!(
                            "no SQLite reader came free within {} s",
                            ACQUIRE_TIMEOUT.as_secs()
                        ))
                    })?
                    .map_err(|_| closed())?
            }
        };
        let conn = self
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .ok_or_else(|| StoreError::Database("no idle reader despite a permit".into()))?;
        Ok(ReadConn {
            conn: Some(conn),
            idle: self.idle.clone(),
            permit: Some(permit),
        })
    }

    /// Refuses further acquires; open connections close as they are returned and dropped.
    pub(super) fn close(&self) {
        self.permits.close();
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// A reader taken from the pool; statements run in autocommit, each on one consistent
/// snapshot, unless [`ReadConn::begin_snapshot`] put them all on one. Returned to the
/// pool when dropped.
pub(super) struct ReadConn {
    conn: Option<rusqlite::Connection>,
    idle: Arc<Mutex<Vec<rusqlite::Connection>>>,
    // Released after the connection is back in `idle` (fields drop in order).
    permit: Option<OwnedSemaphorePermit>,
}

impl ReadConn {
    fn conn(&self) -> Result<&rusqlite::Connection, StoreError> {
        // Only `drop` takes the connection out.
        self.conn
            .as_ref()
            .ok_or_else(|| StoreError::Database("the reader was returned".into()))
    }

    pub(super) fn execute(&mut self, q: Q) -> Result<u64, StoreError> {
        sqlite_inline::execute(self.conn()?, q)
    }

    /// Opens a read transaction: the following statements all see one snapshot, and the
    /// shared locks are taken once for all of them instead of once per statement.
    pub(super) fn begin_snapshot(&mut self) -> Result<(), StoreError> {
        sqlite_inline::execute(self.conn()?, Q::new("BEGIN")).map(|_| ())
    }

    pub(super) fn fetch(&mut self, q: Q, max: usize) -> Result<Vec<Row>, StoreError> {
        sqlite_inline::fetch(self.conn()?, q, max)
    }
}

impl Drop for ReadConn {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if !conn.is_autocommit() {
            // A read transaction's COMMIT only releases its locks.
            let ended = sqlite_inline::execute(&conn, Q::new("COMMIT"))
                .or_else(|_| sqlite_inline::execute(&conn, Q::new("ROLLBACK")));
            if ended.is_err() || !conn.is_autocommit() {
                // Never hand out a connection stuck in a transaction: close it, and the
                // pool stays one smaller (its permit is not returned either).
                tracing::error!("closing an SQLite reader that could not end its transaction");
                if let Some(permit) = self.permit.take() {
                    permit.forget();
                }
                return;
            }
        }
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(conn);
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{Q, Store, Tx};

    async fn count(tx: &mut Tx) -> i64 {
        let row = tx
            .fetch_optional(Q::new("SELECT COUNT(*) AS n FROM t"))
            .await
            .unwrap()
            .unwrap();
        row.int("n").unwrap()
    }

    async fn insert(store: &Store, id: i64) {
        let mut tx = store.write().await.unwrap();
        tx.execute(Q::new("INSERT INTO t (id) VALUES (?)").bind(id))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    /// A snapshot reads the database as of its first statement until it is dropped; its
    /// reader then goes back to the pool out of the transaction, so the next request sees
    /// what was written meanwhile (a reader returned mid-transaction would read that old
    /// snapshot forever).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_snapshot_holds_still_and_its_reader_returns_to_autocommit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite:{}", dir.path().join("r.db").display()))
            .await
            .unwrap();
        store
            .execute_raw("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .await
            .unwrap();
        insert(&store, 1).await;

        let mut snapshot = store.read_snapshot().await.unwrap();
        assert_eq!(count(&mut snapshot).await, 1);
        insert(&store, 2).await;
        assert_eq!(count(&mut snapshot).await, 1, "the snapshot moved");
        drop(snapshot);

        // The pool hands out the reader returned last: the one that held the snapshot.
        let mut autocommit = store.read().await.unwrap();
        assert_eq!(count(&mut autocommit).await, 2);
        insert(&store, 3).await;
        assert_eq!(count(&mut autocommit).await, 3);
        drop(autocommit);
        let mut next = store.read_snapshot().await.unwrap();
        assert_eq!(count(&mut next).await, 3);
    }
}
