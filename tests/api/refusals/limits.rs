//! Point 2: sizes beyond the advertised limits. 11,000 emails answered 500 on SQLite
//! ("too many SQL variables") and 22,000 on PostgreSQL; a 1,000,000-character displayName
//! and 60,000 unknown attributes were accepted. Each is now a 400 naming the limit, on both
//! backends, and the limits are in `/ServiceProviderConfig`.

use super::total;
use crate::harness::TestApp;
use crate::harness::{GROUP_SCHEMA, PATCH_OP, USER_SCHEMA, assert_scim_error};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn emails(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"value": format!("u{i}@example.com")}))
            .collect(),
    )
}

fn detail(r: &crate::harness::Resp) -> &str {
    r.body["detail"].as_str().unwrap_or_default()
}

async fn eleven_thousand_emails_are_a_400_not_a_500(app: TestApp) {
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "many@example.com", "emails": emails(11_000)}),
        )
        .await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert_eq!(
        detail(&r),
        "emails has 11000 values; at most 1000 are accepted"
    );
    assert_eq!(total(&app, "/Users").await, 0);

    // The most allowed is stored and found.
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "most@example.com", "emails": emails(1000)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let r = crate::harness::filter(&app, "/Users", "emails.value eq \"u999@example.com\"").await;
    assert_eq!(r.body["totalResults"], 1);

    // PATCH cannot get past the limit either: nothing is added.
    let more: Vec<Value> = (0..10_000)
        .map(|i| json!({"value": format!("more{i}@example.com")}))
        .collect();
    let r = app
        .patch(
            &format!("/Users/{id}"),
            &json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "emails", "value": more}]}),
        )
        .await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert_eq!(
        detail(&r),
        "emails has 11000 values; at most 1000 are accepted"
    );
    let r = app.get(&format!("/Users/{id}")).await;
    assert_eq!(r.body["emails"].as_array().map(Vec::len), Some(1000));
}

async fn an_over_long_display_name_is_a_400(app: TestApp) {
    for (endpoint, body) in [
        (
            "/Users",
            json!({"schemas": [USER_SCHEMA], "userName": "long@example.com", "displayName": "x".repeat(1_000_000)}),
        ),
        (
            "/Groups",
            json!({"schemas": [GROUP_SCHEMA], "displayName": "x".repeat(4097)}),
        ),
    ] {
        let r = app.post(endpoint, &body).await;
        assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
        assert_eq!(detail(&r), "displayName is longer than 4096 characters");
    }
    assert_eq!(total(&app, "/Users").await, 0);
    assert_eq!(total(&app, "/Groups").await, 0);
    let r = app
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "x".repeat(4096)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

async fn too_many_unknown_attributes_are_a_400(app: TestApp) {
    let mut body = json!({"schemas": [USER_SCHEMA], "userName": "junk@example.com"});
    for i in 0..60_000 {
        body[format!("c{i}")] = json!(1);
    }
    let r = app.post("/Users", &body).await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert_eq!(
        detail(&r),
        "the User has 60000 attributes that are not in the schema; at most 1000 are accepted"
    );
    // Unknown sub-attributes count per object too.
    let mut name = json!({"givenName": "A"});
    for i in 0..1001 {
        name[format!("extra{i}")] = json!(i);
    }
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "junk@example.com", "name": name}),
        )
        .await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert_eq!(total(&app, "/Users").await, 0);
}

/// A statement binds at most 32,766 parameters on SQLite and 65,535 on PostgreSQL. A
/// PATCH naming 20,000 members (the most a request may) goes through in bounded
/// statements; 33,000 is refused before any statement.
async fn a_group_patch_with_more_members_than_a_statement_binds(app: TestApp) {
    let user = app.create_user("member@example.com").await;
    let group = app.create_group("Big", &[&user]).await;
    let ids =
        |n: usize| -> Vec<Value> { (0..n).map(|i| json!({"value": format!("{i}")})).collect() };

    let r = app
        .patch(
            &format!("/Groups/{group}"),
            &json!({"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "members", "value": ids(20_000)}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let r = app
        .patch(
            &format!("/Groups/{group}"),
            &json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": ids(33_000)}]}),
        )
        .await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("tooMany"));
    assert!(detail(&r).contains("at most 20000"), "{}", detail(&r));
    let r = app
        .put(
            &format!("/Groups/{group}"),
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "Big", "members": ids(33_000)}),
        )
        .await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("tooMany"));

    let members = app.get(&format!("/Groups/{group}")).await.body["members"].clone();
    assert_eq!(members.as_array().map(Vec::len), Some(1), "{members}");
    assert_eq!(members[0]["value"], json!(user));
}

crate::both_backends!(
    eleven_thousand_emails_are_a_400_not_a_500,
    an_over_long_display_name_is_a_400,
    too_many_unknown_attributes_are_a_400,
    a_group_patch_with_more_members_than_a_statement_binds,
);
