//! Webhooks: per-org endpoints, Standard Webhooks signatures checked by an independent
//! implementation (the `standardwebhooks` crate), retries with a stable `webhook-id`.

use super::fixture::{Db, options};
use super::receiver::Receiver;
use rollcall::outbox::{
    self, EndpointUpdate, Event, EventType, Mailer, NewEndpoint, State, WebhookSecret,
};
use serde_json::{Value, json};

fn mailer(db: &Db) -> Mailer {
    Mailer::file(
        db.dir.path().join("outbox"),
        "rollcall <noreply@rollcall.test>",
    )
    .unwrap()
}

async fn create(db: &Db, new: NewEndpoint) -> outbox::Endpoint {
    let mut tx = db.store.write().await.unwrap();
    let e = outbox::create_endpoint(&mut tx, &db.org_id, new, db.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    e
}

async fn enqueue(db: &Db, key: &str, event: &Event) -> Vec<String> {
    let mut tx = db.store.write().await.unwrap();
    let ids = outbox::enqueue_event(&mut tx, &db.org_id, key, event, db.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    ids
}

fn provisioned() -> Event {
    Event {
        kind: EventType::UserProvisioned,
        data: json!({"user": {"id": "u1", "userName": "ada@example.com"}}),
    }
}

async fn signed_webhooks_are_retried_after_a_500_and_delivered_once(db: Db) {
    let receiver = Receiver::start(&[500]).await;
    let secret = WebhookSecret::generate().unwrap();
    create(
        &db,
        NewEndpoint {
            url: receiver.url.clone(),
            secret: Some(secret.clone()),
            event_types: Some(vec![
                EventType::UserProvisioned,
                EventType::MembershipGranted,
            ]),
            enabled: true,
        },
    )
    .await;
    let worker = db.worker(mailer(&db), options());
    let ids = enqueue(&db, "scim-req-1", &provisioned()).await;
    assert_eq!(ids.len(), 1);
    let id = &ids[0];
    // The same event replayed adds nothing.
    assert!(enqueue(&db, "scim-req-1", &provisioned()).await.is_empty());

    assert_eq!(worker.run_once().await.unwrap(), 1);
    let row = db.message(id).await;
    assert_eq!(row.state, State::Pending);
    assert!(
        row.last_error.as_deref().unwrap().starts_with("HTTP 500"),
        "{row:?}"
    );
    db.clock.advance(time::Duration::minutes(1));
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(worker.run_once().await.unwrap(), 0);
    assert_eq!(db.message(id).await.state, State::Delivered);

    let got = receiver.deliveries();
    assert_eq!(got.len(), 2, "a 500, then a 200");
    let verifier = standardwebhooks::Webhook::new(secret.expose()).unwrap();
    for d in &got {
        verifier.verify(&d.body, &d.headers).unwrap();
        assert_eq!(d.header("webhook-id"), id, "the same id on every attempt");
        assert_eq!(d.header("content-type"), "application/json");
        assert_eq!(d.body, got[0].body, "the same bytes on every attempt");
    }
    // The timestamp is that of each attempt (receivers reject stale ones).
    let stamps: Vec<i64> = got
        .iter()
        .map(|d| d.header("webhook-timestamp").parse().unwrap())
        .collect();
    assert_eq!(stamps[1] - stamps[0], 60);
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["type"], "user.provisioned");
    assert_eq!(body["data"], provisioned().data);
    assert!(body["timestamp"].is_string());
    // An independent check that a wrong key or a changed body is refused.
    let other = WebhookSecret::generate().unwrap();
    assert!(
        standardwebhooks::Webhook::new(other.expose())
            .unwrap()
            .verify(&got[0].body, &got[0].headers)
            .is_err()
    );
    assert!(
        verifier
            .verify(b"{\"type\":\"user.deprovisioned\"}", &got[0].headers)
            .is_err()
    );
    let outcomes: Vec<String> = db
        .attempts(id)
        .await
        .into_iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(outcomes, ["retry", "delivered"]);
}

async fn events_go_to_each_enabled_endpoint_that_wants_them(db: Db) {
    let a = Receiver::start(&[]).await;
    let b = Receiver::start(&[]).await;
    let all = create(
        &db,
        NewEndpoint {
            url: a.url.clone(),
            secret: None,
            event_types: None,
            enabled: true,
        },
    )
    .await;
    let seats_only = create(
        &db,
        NewEndpoint {
            url: b.url.clone(),
            secret: None,
            event_types: Some(vec![EventType::SeatReleased]),
            enabled: true,
        },
    )
    .await;
    let disabled = create(
        &db,
        NewEndpoint {
            url: b.url.clone(),
            secret: None,
            event_types: None,
            enabled: false,
        },
    )
    .await;
    assert!(
        WebhookSecret::parse(secret_of(&all)).is_ok(),
        "a generated secret is valid"
    );
    assert!(
        !format!("{all:?}").contains(&secret_of(&all)[6..]),
        "Debug hides the secret"
    );
    // Another org's endpoints are not this org's.
    let (other_org, _) = crate::harness::create_org_and_token(&db.url, "Globex").await;
    let mut tx = db.store.write().await.unwrap();
    assert_eq!(
        outbox::list_endpoints(&mut tx, &db.org_id)
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(
        outbox::list_endpoints(&mut tx, &other_org)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        outbox::get_endpoint(&mut tx, &other_org, &all.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !outbox::delete_endpoint(&mut tx, &other_org, &all.id)
            .await
            .unwrap()
    );
    let bad = outbox::create_endpoint(
        &mut tx,
        &db.org_id,
        NewEndpoint {
            url: "ftp://x.test".into(),
            secret: None,
            event_types: None,
            enabled: true,
        },
        db.now(),
    )
    .await;
    assert!(matches!(bad, Err(outbox::OutboxError::InvalidUrl { .. })));
    tx.commit().await.unwrap();

    assert_eq!(
        enqueue(&db, "r1", &provisioned()).await.len(),
        1,
        "only `all`"
    );
    let released = Event {
        kind: EventType::SeatReleased,
        data: json!({"team": "t1"}),
    };
    assert_eq!(
        enqueue(&db, "r2", &released).await.len(),
        2,
        "`all` and `seats_only`"
    );

    // Enable the disabled one for users only; switch `seats_only` off.
    let mut tx = db.store.write().await.unwrap();
    let updated = outbox::update_endpoint(
        &mut tx,
        &db.org_id,
        &disabled.id,
        EndpointUpdate {
            enabled: Some(true),
            event_types: Some(Some(vec![EventType::UserUpdated])),
            ..Default::default()
        },
        db.now(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(updated.enabled);
    assert_eq!(updated.event_types, Some(vec!["user.updated".to_owned()]));
    outbox::update_endpoint(
        &mut tx,
        &db.org_id,
        &seats_only.id,
        EndpointUpdate {
            enabled: Some(false),
            ..Default::default()
        },
        db.now(),
    )
    .await
    .unwrap()
    .unwrap();
    tx.commit().await.unwrap();
    let updated_event = Event {
        kind: EventType::UserUpdated,
        data: json!({}),
    };
    assert_eq!(
        enqueue(&db, "r3", &updated_event).await.len(),
        2,
        "`all` and the re-enabled one"
    );

    // Rows for an endpoint deleted (or disabled) before delivery fail; the rest go out.
    let mut tx = db.store.write().await.unwrap();
    assert!(
        outbox::delete_endpoint(&mut tx, &db.org_id, &disabled.id)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    let worker = db.worker(mailer(&db), options());
    while worker.run_once().await.unwrap() > 0 {}
    let rows = db.messages().await;
    let failed: Vec<_> = rows.iter().filter(|m| m.state == State::Failed).collect();
    let delivered = rows.iter().filter(|m| m.state == State::Delivered).count();
    assert_eq!((failed.len(), delivered), (2, 3), "{rows:?}");
    let mut errors: Vec<&str> = failed
        .iter()
        .map(|m| m.last_error.as_deref().unwrap())
        .collect();
    errors.sort_unstable();
    assert_eq!(
        errors,
        [
            "the webhook endpoint is disabled",
            "the webhook endpoint was deleted"
        ]
    );
    assert_eq!(a.deliveries().len(), 3);
    assert!(b.deliveries().is_empty());
}

fn secret_of(e: &outbox::Endpoint) -> &str {
    secrecy::ExposeSecret::expose_secret(&e.secret)
}

crate::both_backends!(setup = crate::outbox::fixture::Db::new;
    signed_webhooks_are_retried_after_a_500_and_delivered_once,
    events_go_to_each_enabled_endpoint_that_wants_them,
);
