//! Every SCIM change writes audit entries in its transaction, naming the token's label.

use super::{patch, set_pool, store, user_body};
use crate::harness::TestApp;
use reqwest::StatusCode;
use rollcall::store::audit;
use serde_json::json;

async fn entries(app: &TestApp) -> Vec<audit::Entry> {
    let s = store(app).await;
    let mut tx = s.read().await.unwrap();
    let out = audit::list(&mut tx, &app.org_id, 0, 1000).await.unwrap();
    drop(tx);
    s.close().await;
    out
}

async fn scim_changes_are_audited_with_the_token_label(app: TestApp) {
    set_pool(&app, 1).await;
    let mut body = user_body("ada@example.com");
    body["password"] = json!("correct horse battery staple");
    let r = app.post("/Users", &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let ada = r.body["id"].as_str().unwrap().to_owned();
    let bob = app.create_user("bob@example.com").await;
    let r = app
        .patch(
            &format!("/Users/{ada}"),
            &patch(json!([{"op": "replace", "path": "displayName", "value": "Ada L."}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // A replayed PATCH changes nothing and records nothing.
    let r = app
        .patch(
            &format!("/Users/{ada}"),
            &patch(json!([{"op": "replace", "path": "displayName", "value": "Ada L."}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let group = app.create_group("Engineering", &[&ada]).await;
    assert_eq!(
        app.delete(&format!("/Users/{ada}")).await.status,
        StatusCode::NO_CONTENT
    );

    let log = entries(&app).await;
    let actions: Vec<(&str, &str)> = log
        .iter()
        .map(|e| (e.action.as_str(), e.target.as_str()))
        .collect();
    let team = log[1].target.split(['/', ':']).nth(1).unwrap().to_owned();
    assert_eq!(
        actions,
        [
            ("user.created", format!("user:{ada}").as_str()),
            (
                "membership.granted",
                format!("membership:{team}/{ada}").as_str()
            ),
            ("user.created", format!("user:{bob}").as_str()),
            (
                "membership.waitlisted",
                format!("membership:{team}/{bob}").as_str()
            ),
            ("user.patched", format!("user:{ada}").as_str()),
            ("group.created", format!("group:{group}").as_str()),
            ("user.deleted", format!("user:{ada}").as_str()),
            (
                "membership.removed",
                format!("membership:{team}/{ada}").as_str()
            ),
            // Ada's seat went to Bob, in the same transaction.
            (
                "membership.granted",
                format!("membership:{team}/{bob}").as_str()
            ),
        ]
    );
    for e in &log {
        assert_eq!(e.actor, "scim:Acme test token", "{e:?}");
        assert!(!e.actor.contains("rcs_"), "never the token");
    }
    let created = &log[0];
    assert!(created.before.is_none());
    let after = created.after.as_ref().unwrap();
    assert_eq!(after["userName"], "ada@example.com");
    let text = serde_json::to_string(
        &log.iter()
            .map(|e| (&e.before, &e.after))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(!text.contains("horse"), "no password in the audit log");
    assert!(
        !text.contains("$argon2"),
        "no password hash in the audit log"
    );
    let patched = &log[4];
    assert_eq!(patched.before.as_ref().unwrap().get("displayName"), None);
    assert_eq!(patched.after.as_ref().unwrap()["displayName"], "Ada L.");
    let deleted = &log[6];
    assert_eq!(deleted.before.as_ref().unwrap()["displayName"], "Ada L.");
    assert!(deleted.after.is_none());
    assert_eq!(log[7].before.as_ref().unwrap()["state"], "invited");
    assert_eq!(log[8].after.as_ref().unwrap()["state"], "invited");
}

async fn a_failed_request_leaves_no_audit_entry(app: TestApp) {
    app.create_user("ada@example.com").await;
    let before = entries(&app).await.len();
    let r = app.post("/Users", &user_body("ADA@example.com")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(entries(&app).await.len(), before);
}

crate::both_backends!(setup = crate::harness::spawn_fast_outbox;
    scim_changes_are_audited_with_the_token_label,
    a_failed_request_leaves_no_audit_entry,
);
