//! `rollcall serve` killed with SIGKILL while emails are queued and in flight to a slow
//! SMTP server; after a restart every email has arrived exactly once, the interrupted
//! ones as soon as the dead process's short lease ran out.

use super::fixture::{Db, at, email, header};
use super::sink::{SinkOptions, SmtpSink};
use rollcall::clock::Timestamp;
use rollcall::outbox::State;
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use time::OffsetDateTime;

const EMAILS: usize = 20;
/// The sink answers DATA after this long, so the kill lands while sends are in flight.
const SMTP_DELAY: f64 = 1.5;

/// The lease of the servers here: a few seconds, so the test waits for it to run out
/// rather than moving claims in the database.
const LEASE: Duration = Duration::from_secs(2);

fn serve(db: &Db, smtp_url: &str) -> Child {
    let lease = LEASE.as_millis().to_string();
    super::fixture::serve(
        db,
        &[
            ("ROLLCALL_SMTP_URL", smtp_url),
            ("ROLLCALL_OUTBOX_LEASE_MS", &lease),
        ],
        Stdio::null(),
    )
}

/// Counts rows by state.
async fn states(db: &Db) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for m in db.messages().await {
        *counts.entry(m.state.as_str()).or_insert(0) += 1;
    }
    counts
}

/// True once a later round is in flight: some row delivered, every open attempt started
/// after the last delivered one finished, and recently enough that the sink is still
/// holding its answer. (Killing while a round's rows are being marked delivered would hit
/// the documented window on purpose.)
async fn later_round_in_flight(db: &Db) -> bool {
    let mut last_done = None;
    let mut open = Vec::new();
    for m in db.messages().await {
        for a in db.attempts(&m.id).await {
            match a.outcome.as_str() {
                "delivered" => last_done = last_done.max(a.finished.clone()),
                "in_progress" => open.push(a.started),
                _ => {}
            }
        }
    }
    match last_done {
        Some(done) => {
            let fresh =
                Timestamp::from(OffsetDateTime::now_utc() - time::Duration::milliseconds(500));
            !open.is_empty() && open.iter().all(|s| *s >= done && *s >= fresh)
        }
        None => false,
    }
}

async fn a_killed_server_delivers_each_queued_email_exactly_once_after_restart(db: Db) {
    let _heavy = crate::harness::heavy().await;
    let sink = SmtpSink::start(SinkOptions {
        delay: SMTP_DELAY,
        ..SinkOptions::default()
    })
    .await;
    let mut ids = Vec::new();
    for i in 0..EMAILS {
        let e = email(&format!("user{i}@example.com"), &format!("Welcome {i}"));
        ids.push(db.enqueue(&format!("invite:{i}"), &e).await.unwrap());
    }

    let mut server = serve(&db, &sink.url());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !later_round_in_flight(&db).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no second round: {:?}",
            states(&db).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Well inside the sink's delay: those sends have not been accepted yet.
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();

    let before = states(&db).await;
    let delivered = before.get("delivered").copied().unwrap_or(0);
    let in_flight = before.get("sending").copied().unwrap_or(0);
    assert!(delivered > 0 && in_flight > 0, "{before:?}");
    // A send cut off before the server's 250 is not a delivery: once the dead process's
    // connections are gone, nothing more can arrive.
    sink.wait_until_idle(Duration::from_secs(10)).await;
    assert_eq!(sink.received().len(), delivered, "{before:?}");

    // The dead process's claims are short leases: none runs past one lease from now
    // (they were taken or renewed before the kill), so its rows are not stuck for minutes.
    let lease_end = OffsetDateTime::now_utc() + LEASE;
    let dead_claims: BTreeMap<String, Timestamp> = db
        .messages()
        .await
        .into_iter()
        .filter(|m| m.state == State::Sending)
        .map(|m| (m.id.clone(), m.claimed_until.unwrap()))
        .collect();
    assert_eq!(dead_claims.len(), in_flight);
    for (id, until) in &dead_claims {
        assert!(at(until) <= lease_end, "{id}: claimed until {until}");
    }

    let mut server = serve(&db, &sink.url());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while states(&db).await.get("delivered").copied().unwrap_or(0) < EMAILS {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            states(&db).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // SIGTERM: a graceful stop.
    Command::new("kill")
        .arg(server.id().to_string())
        .status()
        .unwrap();
    assert!(server.wait().unwrap().success());

    let got = sink.received();
    let mut per_id: BTreeMap<String, usize> = BTreeMap::new();
    for m in &got {
        let mid = header(&m.data, "Message-ID").unwrap();
        let id = mid
            .trim_start_matches('<')
            .split('@')
            .next()
            .unwrap()
            .to_owned();
        *per_id.entry(id).or_insert(0) += 1;
    }
    assert_eq!(got.len(), EMAILS, "{per_id:?}");
    assert!(per_id.values().all(|&n| n == 1), "{per_id:?}");
    let mut interrupted = 0;
    for id in &ids {
        let m = db.message(id).await;
        assert_eq!(m.state, State::Delivered);
        assert_eq!(per_id.get(id), Some(&1), "{id}");
        let attempts = db.attempts(id).await;
        let outcomes: Vec<&str> = attempts.iter().map(|a| a.outcome.as_str()).collect();
        match outcomes.as_slice() {
            ["delivered"] => {}
            ["interrupted", "delivered"] => {
                interrupted += 1;
                assert!(at(&attempts[1].started) > at(&attempts[0].started));
                // Taken again once the dead worker's lease had run out, not before.
                assert!(
                    at(&attempts[1].started) >= at(&dead_claims[id]),
                    "{id}: {attempts:?}"
                );
            }
            other => panic!("{id}: {other:?}"),
        }
    }
    assert_eq!(
        interrupted, in_flight,
        "each send cut off by the kill is on record"
    );
}

crate::both_backends!(setup = crate::outbox::fixture::Db::new; a_killed_server_delivers_each_queued_email_exactly_once_after_restart);
