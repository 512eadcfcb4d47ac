//! PATCH over HTTP with the dialects Okta, Entra ID and Google really send: the answer is
//! 200 with the resource, the change is stored, and a failing request changes nothing.

use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn ops(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

async fn okta_deactivates_and_reactivates_with_a_no_path_replace(app: TestApp) {
    let id = app.create_user("dana@example.com").await;
    let r = app
        .patch(
            &format!("/Users/{id}"),
            &ops(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["userName"], "dana@example.com");
    // Deactivated users stay readable and findable.
    let found = app.get("/Users?filter=active%20eq%20false").await;
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["id"], id);
    let r = app
        .patch(
            &format!("/Users/{id}"),
            &ops(json!([{"op": "replace", "value": {"active": true}}])),
        )
        .await;
    assert_eq!(r.body["active"], true);
}

async fn entra_replace_with_string_booleans_and_capitalised_ops(app: TestApp) {
    let id = app.create_user("erin@example.com").await;
    let r = app
        .patch(
            &format!("/Users/{id}"),
            &ops(json!([
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Replace", "path": "displayName", "value": "Erin E."},
                {"op": "Add", "path": "name.givenName", "value": "Erin"}
            ])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["displayName"], "Erin E.");
    assert_eq!(r.body["name"]["givenName"], "Erin");
    let stored = app.get(&format!("/Users/{id}")).await;
    assert_eq!(stored.body["active"], false);
}

async fn entra_adds_a_work_email_and_address_through_value_filter_paths(app: TestApp) {
    let r = app
        .post("/Users", &json!({"userName": "fay@example.com"}))
        .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .patch(
            &format!("/Users/{id}"),
            &ops(json!([
                {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "fay@work.example"},
                {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"}
            ])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["emails"][0]["value"], "fay@work.example");
    assert_eq!(r.body["emails"][0]["type"], "work");
    assert_eq!(r.body["addresses"][0]["streetAddress"], "1 Main St");
    // The new address is indexed for the lookups IdPs make.
    let found = app
        .get("/Users?filter=emails.value%20eq%20%22FAY@work.example%22")
        .await;
    assert_eq!(found.body["totalResults"], 1);
    // Replacing it through the same path changes the one element.
    let r = app
        .patch(
            &format!("/Users/{id}"),
            &ops(json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "fay@new.example"}])),
        )
        .await;
    assert_eq!(r.body["emails"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["emails"][0]["value"], "fay@new.example");
}

async fn entra_sets_the_manager_as_a_bare_id_and_dotted_urn_keys(app: TestApp) {
    let boss = app.create_user("boss@example.com").await;
    let id = app.create_user("gus@example.com").await;
    let r = app
        .patch(
            &format!("/Users/{id}"),
            &ops(json!([
                {"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": boss},
                {"op": "Replace", "value": {
                    format!("{ENTERPRISE}:department"): "Finance",
                    "name.familyName": "Grant"
                }}
            ])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body[ENTERPRISE]["manager"]["value"], boss);
    assert_eq!(r.body[ENTERPRISE]["department"], "Finance");
    assert_eq!(r.body["name"]["familyName"], "Grant");
    assert!(
        r.body["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!(ENTERPRISE))
    );
    let by_dept = app
        .get(&format!(
            "/Users?filter={ENTERPRISE}:department%20eq%20%22finance%22"
        ))
        .await;
    assert_eq!(by_dept.body["totalResults"], 1);
}

async fn okta_renames_a_group_with_its_read_only_id_in_the_value(app: TestApp) {
    let gid = app.create_group("Engineering", &[]).await;
    let r = app
        .patch(
            &format!("/Groups/{gid}"),
            &ops(json!([{"op": "replace", "value": {"id": gid, "displayName": "Platform Engineering"}}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["id"], gid);
    assert_eq!(r.body["displayName"], "Platform Engineering");
    let found = app
        .get("/Groups?filter=displayName%20eq%20%22platform%20engineering%22")
        .await;
    assert_eq!(found.body["totalResults"], 1);
}

async fn remove_members_with_a_value_list_removes_exactly_those(app: TestApp) {
    let a = app.create_user("a@example.com").await;
    let b = app.create_user("b@example.com").await;
    let c = app.create_user("c@example.com").await;
    let gid = app.create_group("Sales", &[&a, &b, &c]).await;
    let r = app
        .patch(
            &format!("/Groups/{gid}"),
            &ops(json!([{"op": "Remove", "path": "members", "value": [{"value": b}]}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let group = app.get(&format!("/Groups/{gid}")).await;
    let mut ids: Vec<&str> = group.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut want = vec![a.as_str(), c.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want);
    // The removed user no longer lists the group; the others do.
    let user_b = app.get(&format!("/Users/{b}")).await;
    assert!(user_b.body.get("groups").is_none(), "{:?}", user_b.body);
    let user_a = app.get(&format!("/Users/{a}")).await;
    assert_eq!(user_a.body["groups"][0]["value"], gid);
}

async fn members_are_added_and_removed_by_filter_path(app: TestApp) {
    let a = app.create_user("m1@example.com").await;
    let b = app.create_user("m2@example.com").await;
    let gid = app.create_group("Support", &[]).await;
    let r = app
        .patch(
            &format!("/Groups/{gid}"),
            &ops(json!([{"op": "Add", "path": "members", "value": [{"value": a}, {"value": b}]}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app
        .patch(
            &format!("/Groups/{gid}"),
            &ops(json!([{"op": "remove", "path": format!("members[value eq \"{a}\"]")}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let members = app
        .get(&format!("/Groups?filter=members.value%20eq%20%22{b}%22"))
        .await;
    assert_eq!(members.body["totalResults"], 1);
    let gone = app
        .get(&format!("/Groups?filter=members.value%20eq%20%22{a}%22"))
        .await;
    assert_eq!(gone.body["totalResults"], 0);
}

async fn a_failing_operation_leaves_everything_unchanged(app: TestApp) {
    let a = app.create_user("h1@example.com").await;
    let gid = app.create_group("Ops", &[&a]).await;
    let before = app.get(&format!("/Groups/{gid}")).await;
    let r = app
        .patch(
            &format!("/Groups/{gid}"),
            &ops(json!([
                {"op": "replace", "path": "displayName", "value": "Renamed"},
                {"op": "remove", "path": "members"},
                {"op": "add", "path": "members", "value": [{"value": "no-such-user"}]}
            ])),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(r.body["scimType"], "invalidValue");
    let after = app.get(&format!("/Groups/{gid}")).await;
    assert_eq!(
        after.body, before.body,
        "a failed PATCH must change nothing"
    );
}

async fn bad_patches_get_scim_errors(app: TestApp) {
    let id = app.create_user("i@example.com").await;
    let cases = [
        (
            json!({"schemas": [PATCH_OP], "Operations": [{"op": "frobnicate", "path": "title", "value": "x"}]}),
            "invalidSyntax",
        ),
        (
            ops(json!([{"op": "replace", "path": "nosuchattr", "value": "x"}])),
            "invalidPath",
        ),
        (
            ops(json!([{"op": "replace", "path": "emails[type eq", "value": "x"}])),
            "invalidPath",
        ),
        (
            ops(json!([{"op": "replace", "path": "id", "value": "x"}])),
            "mutability",
        ),
        (ops(json!([{"op": "remove"}])), "noTarget"),
        (
            ops(json!([{"op": "replace", "path": "active", "value": "maybe"}])),
            "invalidValue",
        ),
        (json!([1, 2]), "invalidSyntax"),
        // RFC 7644 §3.5.2: a PatchOp names its schema, in the array `schemas`.
        (
            json!({"Operations": [{"op": "replace", "path": "title", "value": "x"}]}),
            "invalidSyntax",
        ),
        (
            json!({"schemas": PATCH_OP, "Operations": [{"op": "replace", "path": "title", "value": "x"}]}),
            "invalidSyntax",
        ),
    ];
    for (body, scim_type) in cases {
        let r = app.patch(&format!("/Users/{id}"), &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
        assert_eq!(r.body["scimType"], scim_type, "{body}: {:?}", r.body);
    }
    let user = app.get(&format!("/Users/{id}")).await;
    assert_eq!(
        user.body["meta"]["version"], "W/\"1\"",
        "nothing was changed"
    );
}

async fn patch_honours_if_match(app: TestApp) {
    let id = app.create_user("j@example.com").await;
    let stale = app
        .request_with(
            reqwest::Method::PATCH,
            &format!("/Users/{id}"),
            Some(&ops(
                json!([{"op": "replace", "path": "title", "value": "CTO"}]),
            )),
            Some(&app.token),
            &[("If-Match", "W/\"7\"")],
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(stale.body["status"], "412");
    let fresh = app
        .request_with(
            reqwest::Method::PATCH,
            &format!("/Users/{id}"),
            Some(&ops(
                json!([{"op": "replace", "path": "title", "value": "CTO"}]),
            )),
            Some(&app.token),
            &[("If-Match", "W/\"1\"")],
        )
        .await;
    assert_eq!(fresh.status, StatusCode::OK);
    assert_eq!(fresh.body["title"], "CTO");
    assert_eq!(fresh.header("etag"), Some("W/\"2\""));
}

crate::both_backends!(
    okta_deactivates_and_reactivates_with_a_no_path_replace,
    entra_replace_with_string_booleans_and_capitalised_ops,
    entra_adds_a_work_email_and_address_through_value_filter_paths,
    entra_sets_the_manager_as_a_bare_id_and_dotted_urn_keys,
    okta_renames_a_group_with_its_read_only_id_in_the_value,
    remove_members_with_a_value_list_removes_exactly_those,
    members_are_added_and_removed_by_filter_path,
    a_failing_operation_leaves_everything_unchanged,
    bad_patches_get_scim_errors,
    patch_honours_if_match,
);
