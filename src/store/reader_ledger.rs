//! The writer's rule, checked: a task never asks for a write transaction while it holds
//! a reader from the pool.
//!
//! On SQLite a request's write joins a group commit that may stay open for the requests
//! queued behind it (see [`super::sqlite_writer`]). If the request also held a reader,
//! and every reader were held that way, the queued requests could wait for a reader that
//! is only returned after the commit they are needed for: a deadlock that needs load to
//! show. A request context cannot own the reader in the type system here (a GET's
//! token check hands its reader to the handler through the request's extensions), so
//! debug builds keep a ledger of the readers each tokio task holds and
//! [`super::Store::write`] panics, naming the rule, when the calling task holds one.
//! Release builds keep nothing and check nothing.

#[cfg(debug_assertions)]
use std::collections::HashMap;
#[cfg(debug_assertions)]
use std::sync::{Arc, Mutex};

/// How many readers each task holds.
#[cfg(debug_assertions)]
type Held = Arc<Mutex<HashMap<tokio::task::Id, usize>>>;

/// Which tasks hold readers right now (debug builds); an empty shell in release builds.
#[derive(Debug, Default, Clone)]
pub(super) struct ReaderLedger {
    #[cfg(debug_assertions)]
    held: Held,
}

/// One reader held by one task: taken off the ledger when dropped.
#[derive(Debug)]
pub(super) struct HeldReader {
    #[cfg(debug_assertions)]
    entry: Option<(Held, tokio::task::Id)>,
}

impl ReaderLedger {
    /// Records that the current task took a reader (outside a task: not tracked).
    pub(super) fn hold(&self) -> HeldReader {
        #[cfg(debug_assertions)]
        {
            let entry = tokio::task::try_id().map(|task| {
                let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
                *held.entry(task).or_default() += 1;
                (Arc::clone(&self.held), task)
            });
            HeldReader { entry }
        }
        #[cfg(not(debug_assertions))]
        HeldReader {}
    }

    /// Debug builds: panics if the current task holds a reader (the caller is about to
    /// wait for the writer).
    pub(super) fn assert_none_held(&self) {
        #[cfg(debug_assertions)]
        if let Some(task) = tokio::task::try_id() {
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
}

impl Drop for HeldReader {
    fn drop(&mut self) {
        #[cfg(debug_assertions)]
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
