//! Where webhooks may go (issue 16, points 9 and 10): internal addresses are refused unless
//! an operator allowed them, with one message for every way of not getting an answer; and
//! no URL credential (userinfo, query) reaches the log or the stored attempts.

use super::fixture::{Db, options, serve};
use super::receiver::Receiver;
use super::sink::closed_port;
use rollcall::domain::WebhookId;
use rollcall::outbound::Destinations;
use rollcall::outbox::{self, Event, EventType, Mailer, NO_ANSWER, NewEndpoint, State};
use serde_json::json;
use std::process::Stdio;
use std::time::Duration;

/// The cloud metadata service: never connected to by these tests.
const METADATA: &str = "http://169.254.169.254/latest/meta-data/";

fn mailer(db: &Db) -> Mailer {
    Mailer::file(
        db.dir.path().join("outbox"),
        "rollcall <noreply@rollcall.test>",
    )
    .unwrap()
}

async fn endpoint(db: &Db, url: &str) -> WebhookId {
    let mut tx = db.store.write().await.unwrap();
    let e = outbox::create_endpoint(
        &mut tx,
        &db.org_id,
        NewEndpoint {
            url: url.to_owned(),
            secret: None,
            event_types: None,
            enabled: true,
        },
        db.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    e.id
}

/// Queues one event for every endpoint; endpoint id -> row id.
async fn enqueue(db: &Db, key: &str) -> Vec<(WebhookId, String)> {
    let mut tx = db.store.write().await.unwrap();
    let ids = outbox::enqueue_event(
        &mut tx,
        &db.org_id,
        key,
        &Event {
            kind: EventType::UserProvisioned,
            data: json!({"user": {"id": "u1"}}),
        },
        db.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut out = Vec::new();
    for id in ids {
        let m = db.message(&id).await;
        out.push((m.endpoint_id.unwrap(), id));
    }
    out
}

async fn webhooks_to_internal_addresses_are_refused_unless_allowed(db: Db) {
    let strict = Destinations::default();
    let allowed = Destinations::allowing(&["127.0.0.1", "localhost"]).unwrap();
    // Checked before any request, so that a regression cannot send one to the metadata
    // service from the test machine.
    for d in [&strict, &allowed] {
        assert!(!d.permits_ip("169.254.169.254".parse().unwrap()));
    }
    let receiver = Receiver::start(&[]).await;
    let port = receiver
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let by_ip = endpoint(&db, &receiver.url).await;
    let by_name = endpoint(&db, &format!("http://localhost:{port}/hooks")).await;
    let metadata = endpoint(&db, METADATA).await;
    let rows = enqueue(&db, "r1").await;
    assert_eq!(rows.len(), 3);

    let worker = db.worker(
        mailer(&db),
        outbox::WorkerOptions {
            destinations: strict,
            ..options()
        },
    );
    assert_eq!(worker.run_once().await.unwrap(), 3);
    assert!(receiver.deliveries().is_empty(), "nothing reached loopback");
    for (_, row) in &rows {
        let m = db.message(row).await;
        assert_eq!(m.state, State::Pending, "retried later: {m:?}");
        assert_eq!(m.last_error.as_deref(), Some(NO_ANSWER), "{m:?}");
    }

    // Allowed hosts are reached (by address and by name); the metadata service is not.
    let worker = db.worker(
        mailer(&db),
        outbox::WorkerOptions {
            destinations: allowed,
            ..options()
        },
    );
    db.clock.advance(time::Duration::minutes(2));
    assert_eq!(worker.run_once().await.unwrap(), 3);
    assert_eq!(receiver.deliveries().len(), 2);
    for (endpoint, row) in &rows {
        let m = db.message(row).await;
        if *endpoint == metadata {
            assert_eq!(m.state, State::Pending);
            assert_eq!(m.last_error.as_deref(), Some(NO_ANSWER), "{m:?}");
        } else {
            assert!([&by_ip, &by_name].contains(&endpoint));
            assert_eq!(m.state, State::Delivered, "{m:?}");
        }
    }

    // An allowed address where nothing listens says the same as a refused one.
    endpoint(&db, &format!("http://127.0.0.1:{}/hooks", closed_port())).await;
    let rows = enqueue(&db, "r2").await;
    assert_eq!(rows.len(), 4);
    db.clock.advance(time::Duration::hours(2));
    while worker.run_once().await.unwrap() > 0 {}
    let errors: Vec<Option<String>> = db
        .messages()
        .await
        .into_iter()
        .filter(|m| m.state == State::Pending)
        .map(|m| m.last_error)
        .collect();
    assert_eq!(
        errors.len(),
        3,
        "two to the metadata service, one to the closed port"
    );
    assert!(
        errors.iter().all(|e| e.as_deref() == Some(NO_ANSWER)),
        "{errors:?}"
    );
}

async fn webhook_urls_leave_no_credential_in_logs_or_attempts(db: Db) {
    const TOKEN: &str = "tok-7f3a9c1e55d2";
    const PASSWORD: &str = "pw-b81d02e4";
    let url = format!(
        "http://hooker:{PASSWORD}@127.0.0.1:{}/hooks?token={TOKEN}",
        closed_port()
    );
    endpoint(&db, &url).await;
    let rows = enqueue(&db, "r1").await;
    let row = &rows[0].1;

    let log_path = db.dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut server = serve(
        &db,
        &[("ROLLCALL_OUTBOUND_ALLOW_HOSTS", "127.0.0.1")],
        Stdio::from(log),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while db.attempts(row).await.iter().all(|a| a.outcome != "retry") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no attempt recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();

    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        text.contains("webhook endpoint not reached") && text.contains("outbox delivery failed"),
        "the failure is logged: {text}"
    );
    assert!(
        text.contains("http://127.0.0.1:"),
        "the log names the endpoint: {text}"
    );
    let mut stored: Vec<String> = db
        .attempts(row)
        .await
        .into_iter()
        .filter_map(|a| a.error)
        .collect();
    stored.extend(db.message(row).await.last_error);
    assert!(!stored.is_empty());
    for secret in [TOKEN, PASSWORD] {
        assert!(!text.contains(secret), "{secret} in the log: {text}");
        for e in &stored {
            assert!(!e.contains(secret), "{secret} in a stored error: {e}");
        }
    }
}

crate::both_backends!(setup = crate::outbox::fixture::Db::new;
    webhooks_to_internal_addresses_are_refused_unless_allowed,
    webhook_urls_leave_no_credential_in_logs_or_attempts,
);
