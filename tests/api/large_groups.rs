//! A group of 10,000 members takes 100 more and loses them again through Entra-style
//! PATCH requests, and the counts stay right. (How fast is for the benchmark to say.)

use crate::harness::TestApp;
use crate::harness::{GROUP_SCHEMA, PATCH_OP, bulk_users, filter};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashSet;

const BASE_MEMBERS: usize = 10_000;
const CHANGE: usize = 100;

async fn member_ids(app: &TestApp, group: &str) -> HashSet<String> {
    let r = app.get(&format!("/Groups/{group}")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body["detail"]);
    r.body["members"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn member_values(ids: &[String]) -> Value {
    Value::Array(ids.iter().map(|id| json!({"value": id})).collect())
}

async fn entra_adds_and_removes_100_members_of_a_10000_member_group(app: TestApp) {
    let _heavy = crate::harness::heavy().await;
    let users = bulk_users(&app, "big", 0..BASE_MEMBERS + CHANGE).await;
    let (base, extra) = users.split_at(BASE_MEMBERS);
    let r = app
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "Everyone", "members": member_values(base)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body["detail"]);
    let group = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(member_ids(&app, &group).await.len(), BASE_MEMBERS);

    // Entra: one Add with the new members as the value.
    let r = app
        .patch(
            &format!("/Groups/{group}?excludedAttributes=members"),
            &json!({
                "schemas": [PATCH_OP],
                "Operations": [{"op": "Add", "path": "members", "value": member_values(extra)}]
            }),
        )
        .await;
    assert!(
        r.status == StatusCode::OK || r.status == StatusCode::NO_CONTENT,
        "{:?}",
        r.body
    );
    let after_add = member_ids(&app, &group).await;
    assert_eq!(after_add.len(), BASE_MEMBERS + CHANGE);
    assert!(extra.iter().all(|id| after_add.contains(id)));
    let r = filter(
        &app,
        "/Groups",
        &format!(r#"members.value eq "{}""#, extra[42]),
    )
    .await;
    assert_eq!(r.body["totalResults"], 1);

    // Adding the same members again changes nothing.
    let r = app
        .patch(
            &format!("/Groups/{group}"),
            &json!({
                "schemas": [PATCH_OP],
                "Operations": [{"op": "Add", "path": "members", "value": member_values(&extra[..10])}]
            }),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body["detail"]);
    // The answer to a PATCH on a group this large leaves its members out.
    assert_eq!(r.body["id"], group.as_str());
    assert!(
        r.body.get("members").is_none(),
        "a 10,000-member PATCH answer echoes no members"
    );
    assert_eq!(member_ids(&app, &group).await.len(), BASE_MEMBERS + CHANGE);

    // Entra: one Remove with the members to drop as the value.
    let r = app
        .patch(
            &format!("/Groups/{group}"),
            &json!({
                "schemas": [PATCH_OP],
                "Operations": [{"op": "Remove", "path": "members", "value": member_values(extra)}]
            }),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body["detail"]);
    let after_remove = member_ids(&app, &group).await;
    assert_eq!(after_remove.len(), BASE_MEMBERS);
    assert!(extra.iter().all(|id| !after_remove.contains(id)));
    assert!(base.iter().all(|id| after_remove.contains(id)));
    let r = filter(
        &app,
        "/Groups",
        &format!(r#"members.value eq "{}""#, extra[42]),
    )
    .await;
    assert_eq!(r.body["totalResults"], 0);
    // The users themselves are untouched.
    assert_eq!(
        app.get("/Users?count=0").await.body["totalResults"],
        BASE_MEMBERS + CHANGE
    );

    // What IdPs ask for on big groups: no members at all.
    for path in [
        format!("/Groups/{group}?excludedAttributes=members"),
        "/Groups?excludedAttributes=members&filter=displayName%20eq%20%22Everyone%22".to_owned(),
    ] {
        let r = app.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let resource = r.body.get("Resources").map_or(&r.body, |rs| &rs[0]);
        assert_eq!(resource["displayName"], "Everyone", "{path}");
        assert!(resource.get("members").is_none(), "{path} returned members");
    }
}

crate::both_backends!(entra_adds_and_removes_100_members_of_a_10000_member_group);
