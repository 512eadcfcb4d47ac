//! The lease on a row being sent: renewed while a slow send runs, so no other worker
//! sends the row meanwhile; and one `Message-ID` per row, whichever attempt delivers it.

use super::fixture::{Db, email, header, options};
use super::sink::{SinkOptions, SmtpSink};
use rollcall::clock::SystemClock;
use rollcall::outbox::{Mailer, State, Worker, WorkerOptions};
use rollcall::store::Q;
use secrecy::SecretString;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const FROM: &str = "rollcall <noreply@rollcall.test>";

fn smtp(sink: &SmtpSink) -> Mailer {
    Mailer::smtp(&SecretString::from(sink.url()), FROM).unwrap()
}

/// A worker on the real clock (leases run out in real time) with a short lease.
fn real_time_worker(db: &Db, mailer: Mailer, lease: Duration) -> Worker {
    Worker::new(
        db.store.clone(),
        Arc::new(SystemClock),
        mailer,
        WorkerOptions {
            claim_for: lease,
            ..options()
        },
    )
    .unwrap()
}

async fn a_send_slower_than_the_lease_keeps_its_row(db: Db) {
    const LEASE: Duration = Duration::from_secs(2);
    // The server answers DATA after two leases: without renewal the claim would lapse
    // mid-send and the second worker would send the email again.
    let sink = SmtpSink::start(SinkOptions {
        delay: 4.0,
        ..SinkOptions::default()
    })
    .await;
    let id = db
        .enqueue("invite:slow", &email("ada@example.com", "Welcome"))
        .await
        .unwrap();
    // Two workers look for due rows until the email is delivered, or until the row has
    // been taken twice (without renewal they would take it from each other forever);
    // whichever claims it first keeps it for the whole send.
    let taken = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..2 {
        let worker = real_time_worker(&db, smtp(&sink), LEASE);
        let store = db.store.clone();
        let id = id.clone();
        let taken = taken.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let n = worker.run_once().await.unwrap();
                taken.fetch_add(n, Ordering::SeqCst);
                let mut tx = store.read().await.unwrap();
                let m = rollcall::outbox::get_message(&mut tx, &id).await.unwrap();
                drop(tx);
                if m.unwrap().state == State::Delivered || taken.load(Ordering::SeqCst) > 1 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let handled = taken.load(Ordering::SeqCst);
    assert_eq!(handled, 1, "the row was sent by both workers");
    assert_eq!(sink.received().len(), 1);
    let attempts = db.attempts(&id).await;
    let outcomes: Vec<&str> = attempts.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["delivered"]);
    assert_eq!(db.message(&id).await.state, State::Delivered);
}

async fn every_copy_of_a_row_carries_the_same_message_id(db: Db) {
    let sink = SmtpSink::plain().await;
    let worker = db.worker(smtp(&sink), options());
    let welcome = email("ada@example.com", "Welcome");
    let id = db.enqueue("invite:twice", &welcome).await.unwrap();
    assert_eq!(worker.run_once().await.unwrap(), 1);
    // What a crash between the server's 250 and the recording commit leaves: the row
    // still claimed by a worker that is gone, its lease over, its payload whole (the
    // record that was lost would have scrubbed it). It is sent again.
    let past = rollcall::clock::format_timestamp(db.now() - time::Duration::seconds(1));
    let mut tx = db.store.write().await.unwrap();
    tx.execute(
        Q::new(
            "UPDATE outbox SET state = 'sending', claimed_by = 'dead-worker', \
             claimed_until = ?, next_attempt_at = ?, delivered_at = NULL, payload = ? \
             WHERE id = ?",
        )
        .bind(past.as_str())
        .bind(past.as_str())
        .bind(serde_json::to_string(&welcome).unwrap())
        .bind(id.as_str()),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    db.clock.advance(time::Duration::seconds(5));
    assert_eq!(worker.run_once().await.unwrap(), 1);

    let got = sink.received();
    assert_eq!(got.len(), 2, "delivered twice");
    let ids: Vec<String> = got
        .iter()
        .map(|m| header(&m.data, "Message-ID").unwrap())
        .collect();
    assert_eq!(ids[0], ids[1], "one Message-ID for both copies");
    assert_eq!(
        ids[0],
        format!("<{id}@rollcall.test>"),
        "derived from the row"
    );
}

crate::both_backends!(setup = crate::outbox::fixture::Db::new;
    a_send_slower_than_the_lease_keeps_its_row,
    every_copy_of_a_row_carries_the_same_message_id,
);
