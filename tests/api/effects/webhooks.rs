//! The rules emit signed webhooks through the outbox, verified by an independent
//! Standard Webhooks implementation on a real HTTP receiver.

use super::{patch, set_pool, store};
use crate::harness::TestApp;
use crate::outbox::receiver::Receiver;
use reqwest::StatusCode;
use rollcall::domain::{GroupId, MappingId, TeamId};
use rollcall::outbox::{self, NewEndpoint, WebhookSecret};
use rollcall::store::teams::{self, GroupMapping};
use serde_json::{Value, json};
use std::time::Duration;

async fn endpoint(app: &TestApp, url: &str, secret: &WebhookSecret) {
    let s = store(app).await;
    let mut tx = s.write().await.unwrap();
    outbox::create_endpoint(
        &mut tx,
        &app.org_id,
        NewEndpoint {
            url: url.to_owned(),
            secret: Some(secret.clone()),
            event_types: None,
            enabled: true,
        },
        time::OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    s.close().await;
}

/// The verified bodies received so far, once there are `n` (or after 10 s).
async fn received(receiver: &Receiver, secret: &WebhookSecret, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        if receiver.deliveries().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let verifier = standardwebhooks::Webhook::new(secret.expose()).unwrap();
    receiver
        .deliveries()
        .iter()
        .map(|d| {
            verifier.verify(&d.body, &d.headers).unwrap();
            serde_json::from_slice(&d.body).unwrap()
        })
        .collect()
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

async fn provisioning_emits_signed_webhooks_once(app: TestApp) {
    let receiver = Receiver::start(&[]).await;
    let secret = WebhookSecret::generate().unwrap();
    endpoint(&app, &receiver.url, &secret).await;
    set_pool(&app, 1).await;

    let ada = app.create_user("ada@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let got = received(&receiver, &secret, 4).await;
    assert_eq!(got.len(), 4, "{got:#?}");
    let provisioned = of_type(&got, "user.provisioned");
    // The worker delivers concurrently: arrival order is not creation order.
    let mut names: Vec<&str> = provisioned
        .iter()
        .filter_map(|e| e["data"]["user"]["userName"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["ada@example.com", "bob@example.com"]);
    let granted = of_type(&got, "membership.granted");
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0]["data"]["membership"]["user"]["id"], ada.as_str());
    assert_eq!(granted[0]["data"]["membership"]["team"]["name"], "Acme");
    assert_eq!(granted[0]["data"]["membership"]["state"], "invited");
    let waiting = of_type(&got, "membership.waitlisted");
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0]["data"]["membership"]["user"]["id"], bob.as_str());

    // An update; then the same PATCH again, which changes nothing and emits nothing.
    let rename = patch(json!([{"op": "replace", "path": "displayName", "value": "Bob B."}]));
    assert_eq!(
        app.patch(&format!("/Users/{bob}"), &rename).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.patch(&format!("/Users/{bob}"), &rename).await.status,
        StatusCode::OK
    );

    // A mapped group makes Bob a team admin: role.changed.
    let group = app.create_group("Team admins", &[]).await;
    let team = granted[0]["data"]["membership"]["team"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let s = store(&app).await;
    let mut tx = s.write().await.unwrap();
    teams::insert_mapping(
        &mut tx,
        &GroupMapping {
            id: MappingId::new_v4(),
            org_id: app.org_id.clone(),
            group_id: GroupId::from(group.clone()),
            team_id: Some(TeamId::from(team.clone())),
            team_role: Some(rollcall::domain::kinds::TeamRole::Admin),
            org_role: None,
            created: "2026-01-01T00:00:00.000Z".parse().unwrap(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    s.close().await;
    let add_bob = patch(json!([{"op": "add", "path": "members", "value": [{"value": bob}]}]));
    assert_eq!(
        app.patch(&format!("/Groups/{group}"), &add_bob)
            .await
            .status,
        StatusCode::OK
    );

    // Ada leaves: deprovisioned, her membership removed and seat released, and Bob,
    // waiting, gets it.
    assert_eq!(
        app.delete(&format!("/Users/{ada}")).await.status,
        StatusCode::NO_CONTENT
    );
    let got = received(&receiver, &secret, 10).await;
    let types: Vec<&str> = got.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(got.len(), 10, "{types:?}");
    assert_eq!(of_type(&got, "user.updated").len(), 1, "{types:?}");
    let role = of_type(&got, "role.changed");
    assert_eq!(role.len(), 1, "{types:?}");
    assert_eq!(role[0]["data"]["membership"]["role"], "admin");
    assert_eq!(role[0]["data"]["previous_role"], "user");
    assert_eq!(role[0]["data"]["membership"]["source"], "group");
    let gone = of_type(&got, "user.deprovisioned");
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0]["data"]["user"]["id"], ada.as_str());
    let removed = of_type(&got, "membership.removed");
    assert_eq!(removed.len(), 1);
    assert_eq!(
        removed[0]["data"]["membership"]["user"]["userName"],
        "ada@example.com"
    );
    assert_eq!(of_type(&got, "seat.released").len(), 1);
    let granted = of_type(&got, "membership.granted");
    assert_eq!(granted.len(), 2);
    assert_eq!(granted[1]["data"]["membership"]["user"]["id"], bob.as_str());
    assert_eq!(granted[1]["data"]["membership"]["role"], "admin");

    // active:false is a deprovisioning too; nothing was delivered twice.
    let off = patch(json!([{"op": "replace", "path": "active", "value": false}]));
    assert_eq!(
        app.patch(&format!("/Users/{bob}"), &off).await.status,
        StatusCode::OK
    );
    received(&receiver, &secret, 13).await;
    // Every event row delivered: the worker sends none of them again.
    app.outbox_settled().await;
    let got = received(&receiver, &secret, 13).await;
    let types: Vec<&str> = got.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(got.len(), 13, "{types:?}");
    assert_eq!(of_type(&got, "user.deprovisioned").len(), 2, "{types:?}");
    assert_eq!(of_type(&got, "seat.released").len(), 2, "{types:?}");
    let ids: std::collections::BTreeSet<String> = receiver
        .deliveries()
        .iter()
        .map(|d| d.header("webhook-id").to_owned())
        .collect();
    assert_eq!(ids.len(), 13, "each event once");
}

crate::both_backends!(setup = crate::harness::spawn_fast_outbox; provisioning_emits_signed_webhooks_once);
