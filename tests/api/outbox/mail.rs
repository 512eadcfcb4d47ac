//! Emails: the file transport, SMTP with AUTH, dedupe, retries with backoff, two
//! workers racing, and the worker that `App` runs.

use super::fixture::{Db, at, body, email, header, options};
use super::sink::{SinkOptions, SmtpSink, closed_port};
use crate::harness::Backend;
use rollcall::outbox::{Email, Mailer, State, WorkerOptions};
use rollcall::store::Store;
use rollcall::store::outbox as outbox_sql;
use secrecy::SecretString;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const FROM: &str = "Acme via rollcall <noreply@rollcall.test>";

fn smtp(url: &str) -> Mailer {
    Mailer::smtp(&SecretString::from(url.to_owned()), FROM).unwrap()
}

async fn file_transport_writes_one_eml_per_email(db: Db) {
    let outbox_dir = db.dir.path().join("outbox");
    let worker = db.worker(Mailer::file(&outbox_dir, FROM).unwrap(), options());
    let id = db
        .enqueue(
            "invite:m1",
            &email("ada@example.com", "Welcome to Engineering"),
        )
        .await
        .unwrap();
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(worker.run_once().await.unwrap(), 0, "nothing left to send");
    let files: Vec<_> = std::fs::read_dir(&outbox_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files, vec![format!("{id}.eml")]);
    let eml = std::fs::read_to_string(outbox_dir.join(&files[0])).unwrap();
    assert_eq!(header(&eml, "To").unwrap(), "ada@example.com");
    assert_eq!(
        header(&eml, "From").unwrap(),
        "\"Acme via rollcall\" <noreply@rollcall.test>"
    );
    assert_eq!(header(&eml, "Subject").unwrap(), "Welcome to Engineering");
    assert_eq!(
        header(&eml, "Message-ID").unwrap(),
        format!("<{id}@rollcall.test>")
    );
    assert!(body(&eml).contains("you have a seat."), "{eml}");
    let m = db.message(&id).await;
    assert_eq!(m.state, State::Delivered);
    assert!(m.delivered.is_some() && m.claimed_by.is_none());
    let attempts = db.attempts(&id).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, "delivered");
    assert_eq!(attempts[0].worker, worker.id());
}

async fn smtp_delivers_once_with_auth_and_the_right_headers(db: Db) {
    let sink = SmtpSink::start(SinkOptions {
        auth: Some("mailer:s3cret-pw".into()),
        ..SinkOptions::default()
    })
    .await;
    let url = format!("smtp://mailer:s3cret-pw@127.0.0.1:{}", sink.port);
    let mailer = smtp(&url);
    assert!(!format!("{mailer:?}").contains("s3cret-pw"), "{mailer:?}");
    let worker = db.worker(mailer, options());
    let id = db
        .enqueue(
            "invite:m2",
            &Email {
                to: "Grace Hopper <grace@example.com>".into(),
                subject: "You are an admin of Compilers".into(),
                text_body: "Plain text part\r\n".into(),
                html_body: Some("<p>HTML part</p>".into()),
                reply_to: Some("it@acme.test".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(worker.run_once().await.unwrap(), 0);
    let got = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let m = &got[0];
    assert_eq!(m.rcpt_tos, vec!["grace@example.com"]);
    assert_eq!(m.auth_user.as_deref(), Some("mailer"));
    assert_eq!(
        header(&m.data, "To").unwrap(),
        "\"Grace Hopper\" <grace@example.com>"
    );
    assert_eq!(
        header(&m.data, "Subject").unwrap(),
        "You are an admin of Compilers"
    );
    assert_eq!(header(&m.data, "Reply-To").unwrap(), "it@acme.test");
    assert_eq!(
        header(&m.data, "Message-ID").unwrap(),
        format!("<{id}@rollcall.test>")
    );
    assert!(
        header(&m.data, "Content-Type")
            .unwrap()
            .starts_with("multipart/alternative")
    );
    assert!(m.data.contains("Plain text part") && m.data.contains("<p>HTML part</p>"));
    assert_eq!(db.message(&id).await.state, State::Delivered);

    // Wrong credentials: the server refuses, the row waits for a retry.
    let bad = db.worker(
        smtp(&format!("smtp://mailer:wrong@127.0.0.1:{}", sink.port)),
        options(),
    );
    let id = db
        .enqueue("invite:m3", &email("x@example.com", "Hi"))
        .await
        .unwrap();
    assert_eq!(bad.run_once().await.unwrap(), 1);
    let row = db.message(&id).await;
    assert_eq!(row.state, State::Pending);
    assert!(
        !row.last_error.unwrap().contains("wrong"),
        "no password in errors"
    );
    assert_eq!(sink.received().len(), 1);
}

async fn the_same_dedupe_key_is_queued_and_delivered_once(db: Db) {
    let sink = SmtpSink::plain().await;
    let worker = db.worker(smtp(&sink.url()), options());
    let e = email("ada@example.com", "Welcome");
    let first = db.enqueue("invite:m1", &e).await;
    assert!(first.is_some());
    // The same SCIM request replayed: a separate transaction, the same key.
    assert_eq!(db.enqueue("invite:m1", &e).await, None);
    // Another org may use the same key for its own email.
    let (other_org, _) = crate::harness::create_org_and_token(&db.url, "Globex").await;
    let mut tx = db.store.write().await.unwrap();
    let theirs = rollcall::outbox::enqueue_email(&mut tx, &other_org, "invite:m1", &e, db.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(theirs.is_some());
    // A transaction that rolls back leaves nothing.
    let mut tx = db.store.write().await.unwrap();
    rollcall::outbox::enqueue_email(&mut tx, &db.org_id, "invite:rolled-back", &e, db.now())
        .await
        .unwrap();
    drop(tx);
    while worker.run_once().await.unwrap() > 0 {}
    // Replayed after delivery: still nothing new.
    assert_eq!(db.enqueue("invite:m1", &e).await, None);
    assert_eq!(worker.run_once().await.unwrap(), 0);
    let got = sink.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 2, "one per org: {got:?}");
    assert_eq!(db.messages().await.len(), 1);
}

/// A change's effects are queued with one multi-row insert: a replay that brings one
/// new key among keys the org already has adds that one row and reports only its id.
async fn a_batch_adds_only_the_keys_the_org_lacks_and_reports_their_ids(db: Db) {
    let batch = |keys: &[&str]| -> Vec<(String, Email)> {
        keys.iter()
            .map(|k| (k.to_string(), email(&format!("{k}@example.com"), k)))
            .collect()
    };
    let enqueue = async |keys: &[&str]| {
        let mut tx = db.store.write().await.unwrap();
        let ids = rollcall::outbox::enqueue_batch(&mut tx, &db.org_id, &batch(keys), &[], db.now())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        ids
    };
    let first = enqueue(&["a", "b"]).await;
    assert_eq!(first.len(), 2);
    let again = enqueue(&["b", "c", "a"]).await;
    assert_eq!(again.len(), 1, "only c is new: {again:?}");
    let keys_by_id: BTreeMap<String, String> = db
        .messages()
        .await
        .into_iter()
        .map(|m| (m.id, m.dedupe_key))
        .collect();
    assert_eq!(keys_by_id.len(), 3);
    assert_eq!(keys_by_id[&again[0]], "c");
    let mut first_keys: Vec<&str> = first.iter().map(|id| keys_by_id[id].as_str()).collect();
    first_keys.sort();
    assert_eq!(first_keys, ["a", "b"]);
    assert!(enqueue(&["a", "c"]).await.is_empty());
}

async fn retries_with_growing_backoff_until_the_smtp_server_is_up(db: Db) {
    let port = closed_port();
    let worker = db.worker(smtp(&format!("smtp://127.0.0.1:{port}")), options());
    let id = db
        .enqueue("invite:m1", &email("ada@example.com", "Welcome"))
        .await
        .unwrap();

    let mut gaps = Vec::new();
    for attempt in 1..=3 {
        let before = db.now();
        assert_eq!(worker.run_once().await.unwrap(), 1, "attempt {attempt}");
        let row = db.message(&id).await;
        assert_eq!(row.state, State::Pending);
        assert_eq!(row.attempts, attempt);
        assert!(
            row.last_error.as_deref().unwrap().contains("refused"),
            "{row:?}"
        );
        let next = at(&row.next_attempt_at);
        gaps.push(next - before);
        // Not due yet: nothing happens until the clock reaches next_attempt_at.
        db.clock.advance(next - before - time::Duration::seconds(1));
        assert_eq!(worker.run_once().await.unwrap(), 0);
        db.clock.advance(time::Duration::seconds(1));
    }
    // Base 30 s doubling, the upper half random: [15, 30], [30, 60], [60, 120].
    for (i, gap) in gaps.iter().enumerate() {
        let full = 30 * (1i64 << i);
        assert!(
            // Stored times keep milliseconds: allow one second below.
            gap.whole_seconds() >= full / 2 - 1 && gap.whole_seconds() <= full,
            "gap {i}: {gap}"
        );
    }
    assert!(gaps.windows(2).all(|w| w[0] <= w[1]), "{gaps:?}");

    let sink = SmtpSink::start(SinkOptions {
        port,
        ..SinkOptions::default()
    })
    .await;
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(worker.run_once().await.unwrap(), 0);
    let got = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1);
    let row = db.message(&id).await;
    assert_eq!(row.state, State::Delivered);
    let attempts = db.attempts(&id).await;
    let outcomes: Vec<&str> = attempts.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["retry", "retry", "retry", "delivered"]);
    assert!(
        attempts[..3]
            .iter()
            .all(|a| a.error.as_deref().is_some_and(|e| e.contains("refused")))
    );
    assert!(attempts[3].error.is_none());
    let starts: Vec<_> = attempts.iter().map(|a| at(&a.started)).collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");
}

async fn gives_up_after_max_attempts(db: Db) {
    let port = closed_port();
    let worker = db.worker(
        smtp(&format!("smtp://127.0.0.1:{port}")),
        WorkerOptions {
            max_attempts: 2,
            ..options()
        },
    );
    let id = db
        .enqueue("invite:m1", &email("ada@example.com", "Welcome"))
        .await
        .unwrap();
    assert_eq!(worker.run_once().await.unwrap(), 1);
    db.clock.advance(time::Duration::hours(2));
    assert_eq!(worker.run_once().await.unwrap(), 1);
    db.clock.advance(time::Duration::hours(2));
    assert_eq!(worker.run_once().await.unwrap(), 0);
    let row = db.message(&id).await;
    assert_eq!(row.state, State::Failed);
    assert!(
        row.last_error
            .unwrap()
            .starts_with("gave up after 2 attempts")
    );
    let outcomes: Vec<String> = db
        .attempts(&id)
        .await
        .into_iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(outcomes, ["retry", "failed"]);
}

async fn two_workers_racing_deliver_each_email_exactly_once(db: Db) {
    let sink = SmtpSink::plain().await;
    let mut ids = BTreeSet::new();
    for i in 0..50 {
        let e = email(&format!("user{i}@example.com"), &format!("Welcome {i}"));
        ids.insert(db.enqueue(&format!("invite:{i}"), &e).await.unwrap());
    }
    // Two stores: separate pools, as two processes would have.
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let store = Store::connect(&db.url).await.unwrap();
        let worker = rollcall::outbox::Worker::new(
            store,
            db.clock.clone(),
            smtp(&sink.url()),
            WorkerOptions {
                batch_size: 4,
                ..options()
            },
        )
        .unwrap();
        tasks.push(tokio::spawn(async move {
            let mut handled = 0;
            loop {
                let n = worker.run_once().await.unwrap();
                if n == 0 {
                    break;
                }
                handled += n;
            }
            handled
        }));
    }
    let mut handled = Vec::new();
    for t in tasks {
        handled.push(t.await.unwrap());
    }
    assert_eq!(handled.iter().sum::<usize>(), 50, "{handled:?}");
    let got = sink.wait_for(50, Duration::from_secs(10)).await;
    let mut per_id = BTreeMap::new();
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
    assert_eq!(got.len(), 50, "{handled:?}");
    assert_eq!(per_id.keys().cloned().collect::<BTreeSet<_>>(), ids);
    assert!(per_id.values().all(|&n| n == 1));
    for id in &ids {
        assert_eq!(db.message(id).await.state, State::Delivered);
        assert_eq!(db.attempts(id).await.len(), 1, "one attempt for {id}");
    }
    if db.backend == Backend::Postgres {
        // SKIP LOCKED lets both work at once rather than one waiting for the other.
        assert!(handled.iter().all(|&n| n > 0), "{handled:?}");
    }
}

async fn the_server_runs_a_worker_that_writes_eml_files(db: Db) {
    let config = rollcall::config::Config::load(&rollcall::config::Overrides {
        database_url: Some(db.url.clone()),
        data_dir: Some(db.dir.path().to_owned()),
        listen: Some("127.0.0.1:0".into()),
        outbox_poll_ms: Some(50),
        master_key: Some(db.master_key_text.clone()),
        ..Default::default()
    })
    .unwrap();
    let app = rollcall::app::App::build(config).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let id = db
        .enqueue("invite:m1", &email("ada@example.com", "Welcome"))
        .await
        .unwrap();
    let file = db.dir.path().join("outbox").join(format!("{id}.eml"));
    for _ in 0..200 {
        if file.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(file.exists(), "{} was not written", file.display());
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert_eq!(db.message(&id).await.state, State::Delivered);
}

/// `store::outbox::counts` (crates/bench/src/database.rs waits on the same query): every
/// row, and the rows not yet delivered.
async fn counts_tell_how_many_rows_wait_for_delivery(db: Db) {
    let counts = || async {
        let mut tx = db.store.read().await.unwrap();
        rollcall::store::outbox::counts(&mut tx).await.unwrap()
    };
    assert_eq!(counts().await, (0, 0));
    for (key, to) in [
        ("invite:m1", "ada@example.com"),
        ("invite:m2", "bo@example.com"),
    ] {
        db.enqueue(key, &email(to, "Welcome")).await.unwrap();
    }
    assert_eq!(counts().await, (2, 2));
    let outbox_dir = db.dir.path().join("outbox");
    let worker = db.worker(Mailer::file(&outbox_dir, FROM).unwrap(), options());
    assert_eq!(worker.run_once().await.unwrap(), 2);
    assert_eq!(counts().await, (2, 0));
}

/// A worker whose claim expired while it sent (another worker claimed the row again)
/// records nothing when its delivery ends: the row stays with the worker that holds it,
/// which then records its own; the lost claim leaves the worker's other rows alone.
async fn a_delivery_recorded_after_its_claim_was_lost_changes_nothing(db: Db) {
    let lost_id = db
        .enqueue("invite:lost", &email("ada@example.com", "Welcome"))
        .await
        .unwrap();
    let stamp = |t| rollcall::clock::format_timestamp(t);
    let start = db.now();
    let claim = |worker: &'static str, now: time::OffsetDateTime| {
        let store = db.store.clone();
        async move {
            let mut tx = store.write().await.unwrap();
            let until = stamp(now + time::Duration::minutes(5));
            let claimed = outbox_sql::claim_due(&mut tx, worker, &stamp(now), &until, 10)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            claimed
        }
    };
    let first = claim("worker-a", start).await;
    assert_eq!(first.len(), 1);
    // Worker A's claim runs out and worker B claims the row (attempt 2); A claims a row
    // queued meanwhile.
    let later = start + time::Duration::minutes(10);
    let second = claim("worker-b", later).await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].attempts, 2);
    let other_id = db
        .enqueue("invite:other", &email("bob@example.com", "Welcome"))
        .await
        .unwrap();
    let third = claim("worker-a", later).await;
    assert_eq!(third.len(), 1);
    assert_eq!(third[0].id, other_id);

    let finish = |worker: &'static str, id: String, attempt: i64| {
        let store = db.store.clone();
        async move {
            let mut tx = store.write().await.unwrap();
            let owned = outbox_sql::finish_attempt(
                &mut tx,
                &id,
                worker,
                attempt,
                &outbox_sql::Outcome::Delivered,
                &stamp(later),
                None,
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
            owned
        }
    };
    assert!(!finish("worker-a", lost_id.clone(), 1).await);
    let row = db.message(&lost_id).await;
    assert_eq!(row.state, State::Sending);
    assert_eq!(row.claimed_by.as_deref(), Some("worker-b"));
    assert!(finish("worker-a", other_id.clone(), 1).await);
    assert_eq!(db.message(&other_id).await.state, State::Delivered);

    assert!(finish("worker-b", lost_id.clone(), 2).await);
    let row = db.message(&lost_id).await;
    assert_eq!(row.state, State::Delivered);
    assert_eq!(row.claimed_by, None);
    let outcomes: Vec<String> = db
        .attempts(&lost_id)
        .await
        .into_iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(outcomes, ["interrupted", "delivered"]);
}

crate::both_backends!(setup = crate::outbox::fixture::Db::new;
    file_transport_writes_one_eml_per_email,
    counts_tell_how_many_rows_wait_for_delivery,
    smtp_delivers_once_with_auth_and_the_right_headers,
    the_same_dedupe_key_is_queued_and_delivered_once,
    a_batch_adds_only_the_keys_the_org_lacks_and_reports_their_ids,
    retries_with_growing_backoff_until_the_smtp_server_is_up,
    gives_up_after_max_attempts,
    two_workers_racing_deliver_each_email_exactly_once,
    the_server_runs_a_worker_that_writes_eml_files,
    a_delivery_recorded_after_its_claim_was_lost_changes_nothing,
);
