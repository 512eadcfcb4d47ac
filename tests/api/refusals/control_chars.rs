//! Point 1: a NUL (or another control character) in SCIM strings, ids, filter literals,
//! admin paths and bodies, and sign-in fields. PostgreSQL answered 500 to each ("invalid
//! byte sequence for encoding UTF8: 0x00") while SQLite stored it; now both backends
//! refuse a stored value with 400 naming the attribute, and find nothing for a key.

use super::{at, total};

use crate::harness::TestApp;
use crate::harness::{
    BULK_REQUEST, ENTERPRISE, GROUP_SCHEMA, PATCH_OP, SEARCH_REQUEST, USER_SCHEMA,
    assert_scim_error, with_query,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn assert_names(r: &crate::harness::Resp, label: &str) {
    assert_scim_error(r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let detail = r.body["detail"].as_str().unwrap_or_default();
    // A PATCH names the operation first.
    let detail = detail.split_once("]: ").map_or(detail, |(_, rest)| rest);
    assert!(
        detail.starts_with(&format!("{label} contains the control character")),
        "{detail}"
    );
}

async fn control_characters_in_stored_scim_strings_are_400_and_nothing_is_stored(app: TestApp) {
    let user = app.create_user("keep@example.com").await;
    let group = app.create_group("Keep", &[&user]).await;
    let user_before = app.get(&format!("/Users/{user}")).await.body;
    let group_before = app.get(&format!("/Groups/{group}")).await.body;

    let posts = [
        (
            json!({"schemas": [USER_SCHEMA], "userName": "nul\0@example.com"}),
            "userName",
        ),
        (
            json!({"schemas": [USER_SCHEMA], "userName": "e@example.com", "emails": [{"value": "e\0@example.com"}]}),
            "emails.value",
        ),
        (
            json!({"schemas": [USER_SCHEMA], "userName": "n@example.com", "name": {"givenName": "A\u{1}"}}),
            "name.givenName",
        ),
        (
            json!({"schemas": [USER_SCHEMA], "userName": "d@example.com", "displayName": "D\0"}),
            "displayName",
        ),
        (
            json!({"schemas": [USER_SCHEMA], "userName": "x@example.com", "externalId": "\u{1b}[31m"}),
            "externalId",
        ),
        (
            json!({"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "ext@example.com", ENTERPRISE: {"department": "R\0D"}}),
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        ),
    ];
    for (body, label) in &posts {
        assert_names(&app.post("/Users", body).await, label);
    }
    let r = app
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "G\0"}),
        )
        .await;
    assert_names(&r, "displayName");
    let r = app
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"value": "\0"}]}),
        )
        .await;
    assert_names(&r, "members.value");

    // PUT and PATCH values, on the user and the group that exist.
    let r = app
        .put(
            &format!("/Users/{user}"),
            &json!({"schemas": [USER_SCHEMA], "userName": "keep@example.com", "title": "T\0"}),
        )
        .await;
    assert_names(&r, "title");
    let r = app
        .patch(
            &format!("/Users/{user}"),
            &json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "add", "path": "emails", "value": [{"value": "p\0@example.com"}]}
            ]}),
        )
        .await;
    assert_names(&r, "emails.value");
    let r = app
        .patch(
            &format!("/Users/{user}"),
            &json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "replace", "value": {"displayName": "\0"}}
            ]}),
        )
        .await;
    assert_names(&r, "displayName");
    let r = app
        .patch(
            &format!("/Groups/{group}"),
            &json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "add", "path": "members", "value": [{"value": "m\0"}]}
            ]}),
        )
        .await;
    assert_names(&r, "members.value");

    // Nothing was stored or changed.
    assert_eq!(total(&app, "/Users").await, 1);
    assert_eq!(total(&app, "/Groups").await, 1);
    assert_eq!(app.get(&format!("/Users/{user}")).await.body, user_before);
    assert_eq!(
        app.get(&format!("/Groups/{group}")).await.body,
        group_before
    );

    // Tab, line feed and carriage return are text (Entra sends CRLF street addresses).
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "crlf@example.com",
                    "addresses": [{"streetAddress": "1 Main St\r\nSuite\t2"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(
        r.body["addresses"][0]["streetAddress"],
        "1 Main St\r\nSuite\t2"
    );
}

async fn a_nul_in_an_id_or_a_filter_literal_finds_nothing(app: TestApp) {
    let user = app.create_user("alice@example.com").await;
    let group = app.create_group("Team", &[&user]).await;
    for path in ["/Users/%00", "/Groups/%00", "/Users/a%00b"] {
        for method in [Method::GET, Method::DELETE] {
            let r = app.request(method.clone(), path, None).await;
            assert_scim_error(&r, StatusCode::NOT_FOUND, None);
        }
        let r = app
            .patch(
                path,
                &json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "x"}]}),
            )
            .await;
        assert_scim_error(&r, StatusCode::NOT_FOUND, None);
    }

    for filter in [
        "userName eq \"alice@example.com\\u0000\"",
        "userName co \"\\u0000\"",
        "userName sw \"alice\\u0000\"",
        "userName gt \"a\\u0000\"",
        "externalId eq \"\\u0000\"",
        "emails.value eq \"alice@example.com\\u0000\"",
        "emails[value eq \"\\u0000\"]",
        "id eq \"\\u0000\"",
        "groups.value eq \"\\u0000\"",
    ] {
        let r = app.get(&with_query("/Users", &[("filter", filter)])).await;
        assert_eq!(r.status, StatusCode::OK, "{filter}: {:?}", r.body);
        assert_eq!(r.body["totalResults"], 0, "{filter}");
    }
    // `ne` is the negation: every user with a userName.
    let r = app
        .get(&with_query(
            "/Users",
            &[("filter", "userName ne \"\\u0000\"")],
        ))
        .await;
    assert_eq!(r.body["totalResults"], 1, "{:?}", r.body);
    let r = app
        .get(&with_query(
            "/Groups",
            &[("filter", "members.value eq \"\\u0000\"")],
        ))
        .await;
    assert_eq!(r.body["totalResults"], 0, "{:?}", r.body);
    let r = app
        .post(
            "/Users/.search",
            &json!({"schemas": [SEARCH_REQUEST], "filter": "userName eq \"\\u0000\""}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["totalResults"], 0);

    // Removing a member by a NUL id removes nobody.
    let r = app
        .patch(
            &format!("/Groups/{group}"),
            &json!({"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "members[value eq \"\\u0000\"]"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let members = app.get(&format!("/Groups/{group}")).await.body["members"].clone();
    assert_eq!(members.as_array().map(Vec::len), Some(1), "{members}");

    // A Bulk operation on a NUL id: that operation is 404, the request goes through.
    let r = app
        .post(
            "/Bulk",
            &json!({"schemas": [BULK_REQUEST], "Operations": [
                {"method": "DELETE", "path": "/Users/\0"},
                {"method": "PATCH", "path": "/Groups/\0", "data": {"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "members"}]}}
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for op in r.body["Operations"].as_array().unwrap() {
        assert_eq!(op["status"], "404", "{op}");
    }
    assert_eq!(total(&app, "/Users").await, 1);
}

async fn a_nul_in_admin_paths_bodies_and_sign_in_is_refused_cleanly(app: TestApp) {
    let admin = app.admin().await;
    let teams_before = admin.get("/teams").await.body;
    let team_id = teams_before[0]["id"].as_str().unwrap().to_owned();

    for path in ["/teams/%00", "/teams/%00/members", "/webhooks/%00"] {
        let r = admin.get(path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {:?}", r.body);
        assert_eq!(r.body["error"], "not_found", "{path}");
    }
    let r = admin
        .call(
            Method::DELETE,
            &format!("/teams/{team_id}/members/%00"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);

    let r = admin.post("/teams", &json!({"name": "Ops\0"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(r.body["error"], "invalid_request");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .starts_with("name contains a control character"),
        "{:?}",
        r.body
    );
    let r = admin
        .patch(
            &format!("/teams/{team_id}"),
            &json!({"description": "\u{7}"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let r = admin
        .post(
            &format!("/teams/{team_id}/members"),
            &json!({"user_id": "\0"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(admin.get("/teams").await.body, teams_before);

    // Sign-in: an org id or address with a NUL is an org or address of nobody.
    let json_post = |path: &'static str, body: Value| {
        let app = &app;
        async move {
            let r = at(
                app,
                Method::POST,
                path,
                Some(body.to_string().into_bytes()),
                None,
                &[("content-type", "application/json")],
            )
            .await;
            (r.status, r.json())
        }
    };
    let org = app.org_id.clone();
    // The sign-in bodies follow the stored-text rule their OpenAPI document states: a
    // control character anywhere is 400 naming the field, before anything is looked up.
    for (path, body, field) in [
        (
            "/sign-in/email",
            json!({"org_id": "\0", "email": "alice@example.com"}),
            "org_id",
        ),
        (
            "/sign-in/email",
            json!({"org_id": format!("{org}\0"), "email": "alice@example.com"}),
            "org_id",
        ),
        (
            "/sign-in/email/verify",
            json!({"org_id": "\0", "email": "alice@example.com", "code": "123456"}),
            "org_id",
        ),
        (
            "/sign-in/email",
            json!({"org_id": org, "email": "alice\0@example.com"}),
            "email",
        ),
    ] {
        let (status, answer) = json_post(path, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {answer}");
        assert_eq!(answer["error"], "invalid_request");
        let message = answer["message"].as_str().unwrap();
        assert!(
            message.contains(field) && message.contains("control character"),
            "{message}"
        );
    }

    // SSO routes with a NUL in the path or the query.
    let r = at(&app, Method::GET, "/sso/%00/start", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(r.json()["error"], "not_found");
    let r = at(
        &app,
        Method::GET,
        &format!("/sso/{org}/start?connection=%00"),
        None,
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.json()["error"], "invalid_request");
    let r = at(
        &app,
        Method::POST,
        "/sso/saml/%00/acs",
        Some(b"SAMLResponse=x".to_vec()),
        None,
        &[("content-type", "application/x-www-form-urlencoded")],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
}

crate::both_backends!(
    control_characters_in_stored_scim_strings_are_400_and_nothing_is_stored,
    a_nul_in_an_id_or_a_filter_literal_finds_nothing,
    a_nul_in_admin_paths_bodies_and_sign_in_is_refused_cleanly,
);
