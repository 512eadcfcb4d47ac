//! The SQLite write connection, driven inline, with group commit.
//!
//! SQLite runs one write transaction at a time, so every SCIM change waits for the one
//! before it: the writer's time per transaction bounds the write throughput. Through
//! sqlx each statement is a round trip to the connection's worker thread and back to a
//! busy async runtime, which cost more than the statements themselves (about 70 µs per
//! statement, a dozen statements per user created). Here the statements run on the
//! calling task instead: each takes microseconds, and the transaction holds an async
//! mutex, so waiting writers park rather than block a thread. Readers run the same way
//! (see [`super::sqlite_readers`]).
//!
//! Group commit: each request's changes are a savepoint inside one shared transaction.
//! A request that finishes while others wait for the writer leaves the transaction open
//! for them; the last one of the run (or the [`MAX_BATCH`]th) commits it, and every
//! request of the batch answers only after that COMMIT, with its outcome. A COMMIT
//! writes each page once however many requests changed it, so bulk provisioning writes
//! far less. A request that fails is rolled back to its savepoint and leaves the others'
//! changes alone. So a commit may wait for the requests after it: never hold a reader
//! from the pool while committing, or those requests could wait for that reader (debug
//! builds check this: [`super::reader_ledger`]).

use super::StoreError;
use super::durability::SqliteSynchronous;
use super::sql::{Q, Row};
use super::sqlite_checkpointer::WRITER_BACKSTOP_PAGES;
use super::sqlite_inline::{self, STATEMENT_CACHE, from_sqlite};
use rusqlite::OpenFlags;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};

/// Requests committed together at most: bounds the wait of the first of them.
const MAX_BATCH: usize = 64;

/// How long a batch may stay open when the requests it was left open for went away
/// (their clients disconnected) before a watchdog commits it.
const ORPHAN_BATCH_AFTER: Duration = Duration::from_millis(20);

/// The outcome when SQLite itself rolled the transaction back (e.g. after an I/O error).
const ROLLED_BACK: &str = "SQLite rolled the transaction back";

/// What a request of a batch learns: the COMMIT's outcome, or why it failed.
type Outcome = Result<(), String>;

/// The connection and the requests whose changes sit in its open transaction.
struct Shared {
    conn: rusqlite::Connection,
    /// One sender per request released into the open transaction.
    batch: Vec<oneshot::Sender<Outcome>>,
    /// Batches ended so far: tells a watchdog whether its batch is still open.
    ended: u64,
    /// Whether a watchdog already waits on the open batch.
    watched: bool,
}

/// The one write connection. Cheap to clone.
#[derive(Clone)]
pub(super) struct Writer {
    shared: Arc<Mutex<Shared>>,
    /// Requests waiting for the writer; while there are some, the open transaction is
    /// left open for them to join.
    queued: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

/// Counts a request as queued until it holds the writer (or gives up waiting).
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn enter(count: &'a AtomicUsize) -> Queued<'a> {
        count.fetch_add(1, Ordering::SeqCst);
        Queued(count)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Writer {
    /// Opens (creating if missing) the database file in WAL mode.
    pub(super) fn open(
        path: &Path,
        busy_timeout: Duration,
        synchronous: SqliteSynchronous,
    ) -> Result<Writer, StoreError> {
        let conn = sqlite_inline::open(path, OpenFlags::default(), busy_timeout)?;
        // WAL lets the readers run beside the writer. In WAL mode FULL syncs the WAL at
        // every commit (one fsync per group commit), so an acknowledged write survives a
        // power cut; NORMAL syncs only at checkpoints. Temporary storage in memory: every request is a savepoint, so SQLite keeps the
        // original of each page the request changes in a sub-journal, which past 64 KiB
        // (a user's create touches ~30 pages) went to a temporary file: a create's
        // inserts took twice as long.
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; \
             PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = {WRITER_BACKSTOP_PAGES}; \
             PRAGMA temp_store = MEMORY;",
            synchronous.pragma()
        ))
        .map_err(|e| StoreError::Connect(format!("{}: {e}", path.display())))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Writer {
            shared: Arc::new(Mutex::new(Shared {
                conn,
                batch: Vec::new(),
                ended: 0,
                watched: false,
            })),
            queued: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Waits for the writer, then opens this request's savepoint (in a new
    /// `BEGIN IMMEDIATE` transaction unless a batch is open).
    pub(super) async fn begin(&self) -> Result<WriteTx, StoreError> {
        let mut shared = {
            let _queued = Queued::enter(&self.queued);
            self.shared.clone().lock_owned().await
        };
        if shared.batch.is_empty() {
            if !shared.conn.is_autocommit() {
                // A transaction left open (its rollback failed): end it before the next.
                shared.conn.execute_batch("ROLLBACK").map_err(from_sqlite)?;
            }
            shared
                .conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(from_sqlite)?;
        }
        if let Err(e) = shared.conn.execute_batch("SAVEPOINT request") {
            self.settle(&mut shared);
            return Err(from_sqlite(e));
        }
        Ok(WriteTx {
            shared: Some(shared),
            writer: self.clone(),
        })
    }

    /// `PRAGMA synchronous` as the write connection reads it back.
    pub(super) async fn synchronous(&self) -> Result<i64, StoreError> {
        let shared = self.shared.lock().await;
        shared
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .map_err(from_sqlite)
    }

    /// Runs SQL outside any transaction (test set-up; never request data).
    pub(super) async fn execute_raw(&self, sql: &str) -> Result<(), StoreError> {
        let mut shared = self.shared.lock().await;
        if !shared.batch.is_empty() {
            end_batch(&mut shared);
        }
        shared.conn.execute_batch(sql).map_err(from_sqlite)
    }

    /// After a request is done with the writer: commits the batch unless others wait
    /// to join it (then a watchdog makes sure it is committed even if they go away).
    fn settle(&self, shared: &mut Shared) {
        if shared.batch.is_empty() {
            if !shared.conn.is_autocommit()
                && let Err(e) = shared.conn.execute_batch("ROLLBACK")
            {
                tracing::error!(error = %e, "ending an empty SQLite transaction failed");
            }
            return;
        }
        if self.queued.load(Ordering::SeqCst) == 0 || shared.batch.len() >= MAX_BATCH {
            end_batch(shared);
        } else if !shared.watched {
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                // No runtime to watch from (shutting down): commit now.
                end_batch(shared);
                return;
            };
            shared.watched = true;
            let batch = shared.ended;
            let writer = self.clone();
            runtime.spawn(async move {
                tokio::time::sleep(ORPHAN_BATCH_AFTER).await;
                let mut shared = writer.shared.lock().await;
                if shared.ended == batch && !shared.batch.is_empty() {
                    end_batch(&mut shared);
                }
            });
        }
    }
}

/// Commits the open transaction and tells every request of the batch the outcome.
fn end_batch(shared: &mut Shared) {
    let outcome: Outcome = if shared.conn.is_autocommit() {
        Err(ROLLED_BACK.into())
    } else {
        shared
            .conn
            .execute_batch("COMMIT")
            .map_err(|e| e.to_string())
    };
    if outcome.is_err()
        && !shared.conn.is_autocommit()
        && let Err(e) = shared.conn.execute_batch("ROLLBACK")
    {
        tracing::error!(error = %e, "rolling back a failed SQLite commit failed");
    }
    fail_or_finish(shared, &outcome);
}

/// Sends `outcome` to every request of the batch and closes the batch.
fn fail_or_finish(shared: &mut Shared, outcome: &Outcome) {
    for waiter in shared.batch.drain(..) {
        // A request whose client went away no longer listens.
        let _ = waiter.send(outcome.clone());
    }
    shared.ended += 1;
    shared.watched = false;
}

/// Undoes the current request's changes, keeping the batch's.
fn undo_request(shared: &mut Shared) {
    if shared.conn.is_autocommit() {
        // SQLite rolled back the whole transaction (e.g. after an I/O error): the batch
        // is lost with it.
        fail_or_finish(shared, &Err(ROLLED_BACK.into()));
        return;
    }
    if let Err(e) = shared
        .conn
        .execute_batch("ROLLBACK TO request; RELEASE request")
    {
        tracing::error!(error = %e, "rolling back a SQLite savepoint failed");
        if let Err(e) = shared.conn.execute_batch("ROLLBACK") {
            tracing::error!(error = %e, "rolling back a SQLite write transaction failed");
        }
        fail_or_finish(
            shared,
            &Err(format!("rolling back a savepoint failed: {e}")),
        );
    }
}

/// A request's write transaction (its savepoint). Dropped without [`WriteTx::commit`],
/// its changes are rolled back at once.
pub(super) struct WriteTx {
    /// `None` once committed.
    shared: Option<OwnedMutexGuard<Shared>>,
    writer: Writer,
}

impl WriteTx {
    fn conn(&self) -> Result<&rusqlite::Connection, StoreError> {
        self.shared
            .as_ref()
            .map(|s| &s.conn)
            .ok_or_else(|| StoreError::Database("the transaction has ended".into()))
    }

    /// Runs a statement and returns the number of rows it changed.
    pub(super) fn execute(&mut self, q: Q) -> Result<u64, StoreError> {
        sqlite_inline::execute(self.conn()?, q)
    }

    /// The rowid of the last row this connection inserted (triggers' rows aside).
    pub(super) fn last_insert_rowid(&self) -> Result<i64, StoreError> {
        Ok(self.conn()?.last_insert_rowid())
    }

    /// Runs a query and returns its rows, at most `max`.
    pub(super) fn fetch(&mut self, q: Q, max: usize) -> Result<Vec<Row>, StoreError> {
        sqlite_inline::fetch(self.conn()?, q, max)
    }

    /// Releases the savepoint into the batch and waits for the COMMIT that ends it.
    pub(super) async fn commit(mut self) -> Result<(), StoreError> {
        let Some(mut shared) = self.shared.take() else {
            return Err(StoreError::Database("the transaction has ended".into()));
        };
        if let Err(e) = shared.conn.execute_batch("RELEASE request") {
            undo_request(&mut shared);
            self.writer.settle(&mut shared);
            return Err(from_sqlite(e));
        }
        let (sender, outcome) = oneshot::channel();
        shared.batch.push(sender);
        self.writer.settle(&mut shared);
        drop(shared);
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Database(format!("commit failed: {e}"))),
            Err(_) => Err(StoreError::Database("the commit's outcome was lost".into())),
        }
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if let Some(mut shared) = self.shared.take() {
            undo_request(&mut shared);
            self.writer.settle(&mut shared);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{Q, Store, StoreError};
    use std::time::Duration;

    async fn store_with_table() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("w.db").display());
        let store = Store::connect(&url).await.unwrap();
        store
            .execute_raw("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .await
            .unwrap();
        (dir, store)
    }

    async fn ids(store: &Store) -> Vec<i64> {
        let mut tx = store.read().await.unwrap();
        let rows = tx
            .fetch_all(Q::new("SELECT id FROM t ORDER BY id"))
            .await
            .unwrap();
        rows.iter().map(|r| r.int("id").unwrap()).collect()
    }

    /// Requests committed in one batch keep their own outcome: the ones that fail leave
    /// nothing, the others all persist.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_request_in_a_batch_undoes_only_itself() {
        let (_dir, store) = store_with_table().await;
        store
            .execute_raw("INSERT INTO t (id) VALUES (1)")
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..60_i64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = store.write().await?;
                tx.execute(Q::new("INSERT INTO t (id) VALUES (?)").bind(1000 + i))
                    .await?;
                if i % 3 == 0 {
                    // Its own row first, then a conflict: the whole request must go.
                    tx.execute(Q::new("INSERT INTO t (id) VALUES (1)")).await?;
                }
                tx.commit().await
            }));
        }
        let mut failed = Vec::new();
        for (i, task) in tasks.into_iter().enumerate() {
            match task.await.unwrap() {
                Ok(()) => {}
                Err(StoreError::Conflict { .. }) => failed.push(i as i64),
                Err(e) => panic!("request {i}: {e}"),
            }
        }
        let expected_failed: Vec<i64> = (0..60).filter(|i| i % 3 == 0).collect();
        assert_eq!(failed, expected_failed);
        let mut expected = vec![1];
        expected.extend((0..60).filter(|i| i % 3 != 0).map(|i| 1000 + i));
        assert_eq!(ids(&store).await, expected);
    }

    /// A first request inserts id 1 and commits while a next one waits for the writer, so
    /// the batch is left open for it. The next request is polled only once here: it takes
    /// the writer only when the caller awaits it.
    async fn commit_with_one_queued(
        store: &Store,
    ) -> (
        tokio::task::JoinHandle<Result<(), StoreError>>,
        std::pin::Pin<Box<impl Future<Output = Result<crate::store::Tx, StoreError>> + '_>>,
    ) {
        let mut first = store.write().await.unwrap();
        first
            .execute(Q::new("INSERT INTO t (id) VALUES (1)"))
            .await
            .unwrap();
        let mut next = Box::pin(store.write());
        std::future::poll_fn(|cx| {
            assert!(next.as_mut().poll(cx).is_pending(), "the writer is held");
            std::task::Poll::Ready(())
        })
        .await;
        (tokio::spawn(first.commit()), next)
    }

    /// A request that left the batch open for the next one in the queue still commits
    /// when that next one goes away (its client disconnected) before taking the writer.
    #[tokio::test]
    async fn a_batch_left_for_a_request_that_went_away_still_commits() {
        let (_dir, store) = store_with_table().await;
        let (committed, next) = commit_with_one_queued(&store).await;
        // The commit sees a request queued and leaves the batch open for it...
        tokio::time::sleep(Duration::from_millis(5)).await;
        // ...which then goes away without ever taking the writer.
        drop(next);
        let outcome = tokio::time::timeout(Duration::from_secs(5), committed)
            .await
            .expect("the commit must not wait forever")
            .unwrap();
        outcome.unwrap();
        assert_eq!(ids(&store).await, vec![1]);
    }

    /// A request is answered by the COMMIT of its batch, not before: while the batch is
    /// left open for the next request its commit waits, and when that COMMIT fails every
    /// request of the batch hears it. So a write is acknowledged only once SQLite has
    /// committed it (and, with `synchronous = FULL`, synced the WAL).
    #[tokio::test]
    async fn a_request_is_acknowledged_only_by_the_commit_of_its_batch() {
        let (_dir, store) = store_with_table().await;
        // Checked at COMMIT, not at the statement: makes the batch's COMMIT fail.
        store
            .execute_raw(
                "CREATE TABLE child (id INTEGER PRIMARY KEY, \
                 parent INTEGER REFERENCES t(id) DEFERRABLE INITIALLY DEFERRED)",
            )
            .await
            .unwrap();
        let (acknowledged, next) = commit_with_one_queued(&store).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !acknowledged.is_finished(),
            "answered while its batch was still open"
        );
        let mut next = next.await.unwrap();
        next.execute(Q::new("INSERT INTO child (id, parent) VALUES (1, 99)"))
            .await
            .unwrap();
        assert!(next.commit().await.is_err());
        let first = acknowledged.await.unwrap();
        assert!(
            first.is_err(),
            "a request whose batch failed to commit was told it succeeded"
        );
        assert_eq!(ids(&store).await, Vec::<i64>::new());
    }

    /// A transaction dropped without commit leaves nothing, even inside a batch.
    #[tokio::test]
    async fn a_dropped_request_leaves_nothing() {
        let (_dir, store) = store_with_table().await;
        {
            let mut tx = store.write().await.unwrap();
            tx.execute(Q::new("INSERT INTO t (id) VALUES (7)"))
                .await
                .unwrap();
        }
        let mut tx = store.write().await.unwrap();
        tx.execute(Q::new("INSERT INTO t (id) VALUES (8)"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(ids(&store).await, vec![8]);
    }
}
