//! Waiting on the server's outbox: its own record of what it sent is how a test knows
//! that nothing more will arrive, rather than a pause.

use super::app::TestApp;
use rollcall::outbox::{self, Message, State};
use std::time::Duration;

impl TestApp {
    /// Waits until every outbox row of the test org queued so far is done (delivered or
    /// given up) and returns them; fails the test after 30 s. From then on the worker
    /// sends none of them again, so a test may count what arrived.
    pub async fn outbox_settled(&self) -> Vec<Message> {
        let store = self.store().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let rows = loop {
            let mut tx = store.read().await.unwrap();
            let rows = outbox::list_messages(&mut tx, &self.org_id, 10_000)
                .await
                .unwrap();
            drop(tx);
            if rows
                .iter()
                .all(|m| matches!(m.state, State::Delivered | State::Failed))
            {
                break rows;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the outbox did not settle in 30 s: {rows:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        store.close().await;
        rows
    }
}
