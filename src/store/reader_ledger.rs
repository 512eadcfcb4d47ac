//! The writer's rule, checked: a task never asks for a write transaction while it holds
//! a reader from the pool.
//!
//! On SQLite a request's write joins a group commit that may stay open for the requests
//! queued behind it (see [`super::sqlite_writer`]). If the request also held a reader,
//! and every reader were held that way, the queued requests could wait for a reader that
//! is only returned after the commit they are needed for: a deadlock that needs load to
//! show (on PostgreSQL, the pool running dry). A request context cannot own the reader
//! in the type system here (a GET's token check hands its reader to the handler through
//! the request's extensions), so debug builds keep a ledger of the readers each tokio
//! task holds and [`super::Store::write`] panics, naming the rule, when the calling task
//! holds one. Release builds keep nothing and check nothing; both compile the same code
//! (`cfg!`, not `#[cfg]`), so the release build cannot break unseen.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How many readers each task holds.
type Held = Arc<Mutex<HashMap<tokio::task::Id, usize>>>;

/// Which tasks hold readers right now (kept in debug builds only).
#[derive(Debug, Default, Clone)]
pub(super) struct ReaderLedger {
    held: Held,
}

/// One reader held by one task: taken off the ledger when dropped.
#[derive(Debug)]
pub(super) struct HeldReader {
    entry: Option<(Held, tokio::task::Id)>,
}

/// Whether this build keeps the ledger.
const CHECKED: bool = cfg!(debug_assertions);

impl ReaderLedger {
    /// Records that the current task took a reader (outside a task: not tracked).
    pub(super) fn hold(&self) -> HeldReader {
        let entry = tokio::task::try_id().filter(|_| CHECKED).map(|task| {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            *held.entry(task).or_default() += 1;
            (Arc::clone(&self.held), task)
        });
        HeldReader { entry }
    }

    /// Debug builds: panics if the current task holds a reader (the caller is about to
    /// wait for the writer).
    pub(super) fn assert_none_held(&self) {
        let Some(task) = tokio::task::try_id().filter(|_| CHECKED) else {
            return;
        };
        let held = self
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&task)
            .copied()
            .unwrap_or(0);
        assert!(
            held == 0,
            "a write transaction was asked for while this task holds {held} reader(s): \
             drop the reader first (see store::sqlite_writer)"
        );
    }
}

impl Drop for HeldReader {
    fn drop(&mut self) {
        if let Some((held, task)) = self.entry.take() {
            let mut held = held.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = held.get_mut(&task) {
                *n -= 1;
                if *n == 0 {
                    held.remove(&task);
                }
            }
        }
    }
}
