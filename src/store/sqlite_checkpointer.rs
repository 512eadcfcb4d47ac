//! Checkpoints of the SQLite WAL on a thread of their own.
//!
//! By default SQLite checkpoints inside the commit that grows the WAL past 1,000 pages:
//! the writer copies pages into the database file and fsyncs it while every other write
//! waits (a tenth of the server's time during bulk creates). Here the writer only
//! appends to the WAL, and this thread copies it back with passive checkpoints, which
//! neither take the write lock nor wait for readers.

use super::StoreError;
use super::durability::SqliteSynchronous;
use super::sqlite_inline::{self, from_sqlite};
use rusqlite::OpenFlags;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

/// How often the thread checkpoints.
const EVERY: Duration = Duration::from_millis(250);

/// WAL pages after which the writer checkpoints by itself after all: a backstop for when
/// this thread falls behind (SQLite's default is 1,000).
pub(super) const WRITER_BACKSTOP_PAGES: u32 = 20_000;

/// Stops the thread when the last clone of the store is dropped, and waits for it: once
/// the store is gone, nothing touches its files any more (a test may then delete them).
#[derive(Debug)]
pub(super) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// `PRAGMA synchronous` as its connection read it back at start.
    synchronous: i64,
}

impl Checkpointer {
    /// Starts the thread on its own connection to the database at `path`.
    pub(super) fn start(
        path: &Path,
        busy_timeout: Duration,
        synchronous: SqliteSynchronous,
    ) -> Result<Checkpointer, StoreError> {
        let conn = sqlite_inline::open(path, OpenFlags::default(), busy_timeout)?;
        // A checkpoint writes the database file and may truncate the WAL: it syncs as the
        // writer does.
        conn.execute_batch(&format!("PRAGMA synchronous = {}", synchronous.pragma()))
            .map_err(from_sqlite)?;
        let synchronous = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .map_err(from_sqlite)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                // Wakes at once when the sender is dropped, not at the next tick.
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "SQLite WAL checkpoint failed");
                    }
                }
            })
            .map_err(|e| StoreError::Connect(format!("starting the checkpoint thread: {e}")))?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
            synchronous,
        })
    }

    pub(super) fn synchronous(&self) -> i64 {
        self.synchronous
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // At most one passive checkpoint in flight: it neither waits for readers nor
            // takes the write lock.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{Q, Store};
    use std::time::{Duration, Instant};

    /// The writer no longer checkpoints below its backstop, so only the thread can have
    /// moved committed pages from the WAL into the database file.
    #[tokio::test]
    async fn committed_pages_reach_the_database_file_without_a_checkpoint_at_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let store = Store::connect(&format!("sqlite:{}", path.display()))
            .await
            .unwrap();
        store
            .execute_raw("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            .await
            .unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        let mut tx = store.write().await.unwrap();
        for i in 0..2_000 {
            tx.execute(
                Q::new("INSERT INTO t (id, v) VALUES (?, ?)")
                    .bind(i)
                    .bind("x".repeat(200)),
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        // ~100 pages: far below the writer's backstop, so the commit left them in the WAL.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&path).unwrap().len() < before + 300_000 {
            assert!(
                Instant::now() < deadline,
                "the database file did not grow within 10 s: {} bytes",
                std::fs::metadata(&path).unwrap().len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drop(store);
    }
}
