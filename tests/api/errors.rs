//! Errors an IdP can provoke, each a SCIM error body (RFC 7644 §3.12) with the right
//! status; authentication; content types; and the discovery endpoints.

use crate::harness::{ERROR_SCHEMA, LIST_SCHEMA, RawResp, USER_SCHEMA, raw};
use crate::harness::{TestApp, insert_token};
use reqwest::{Method, StatusCode};
use rollcall::store::Store;
use rollcall::store::tokens::{self, TokenKind};
use serde_json::{Value, json};

/// Asserts a SCIM error in a raw response.
fn assert_raw_error(r: &RawResp, status: StatusCode, scim_type: Option<&str>) -> Value {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(
        r.header("content-type"),
        Some("application/scim+json"),
        "{}",
        r.text
    );
    let body = r.json();
    assert_eq!(body["schemas"], json!([ERROR_SCHEMA]), "{body}");
    assert_eq!(body["status"], status.as_u16().to_string(), "{body}");
    if let Some(t) = scim_type {
        assert_eq!(body["scimType"], t, "{body}");
    }
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body
}

async fn post_bytes(app: &TestApp, bytes: Vec<u8>, content_type: &str) -> RawResp {
    raw(
        app,
        Method::POST,
        "/Users",
        Some(bytes),
        Some(&app.token),
        &[("Content-Type", content_type)],
    )
    .await
}

async fn unknown_routes_are_404_scim_errors(app: TestApp) {
    for path in ["/Nope", "/Users/a/b", "/Groups/x/members"] {
        let r = raw(&app, Method::GET, path, None, Some(&app.token), &[]).await;
        assert_raw_error(&r, StatusCode::NOT_FOUND, None);
    }
    let r = raw(
        &app,
        Method::GET,
        &format!("{}/nope", app.address),
        None,
        None,
        &[],
    )
    .await;
    assert_raw_error(&r, StatusCode::NOT_FOUND, None);
    let r = raw(
        &app,
        Method::GET,
        "/Users/no-such-id",
        None,
        Some(&app.token),
        &[],
    )
    .await;
    assert_raw_error(&r, StatusCode::NOT_FOUND, None);
    let r = raw(
        &app,
        Method::GET,
        "/Groups/no-such-id",
        None,
        Some(&app.token),
        &[],
    )
    .await;
    assert_raw_error(&r, StatusCode::NOT_FOUND, None);
}

async fn requests_without_a_valid_token_are_401(app: TestApp) {
    let check = |r: &RawResp| {
        assert_raw_error(r, StatusCode::UNAUTHORIZED, None);
        let challenge = r.header("www-authenticate").unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer"),
            "WWW-Authenticate: {challenge:?}"
        );
    };
    check(&raw(&app, Method::GET, "/Users", None, None, &[]).await);
    check(
        &raw(
            &app,
            Method::GET,
            "/Users",
            None,
            Some("rcs_not-a-real-token"),
            &[],
        )
        .await,
    );
    check(&raw(&app, Method::GET, "/Users", None, Some(""), &[]).await);
    let basic = [("Authorization", "Basic dXNlcjpwYXNz")];
    check(&raw(&app, Method::GET, "/Users", None, None, &basic).await);
    // Writes too, and nothing is written.
    let body = json!({"userName": "intruder@example.com"})
        .to_string()
        .into_bytes();
    let r = raw(
        &app,
        Method::POST,
        "/Users",
        Some(body),
        Some("rcs_wrong"),
        &[("Content-Type", "application/scim+json")],
    )
    .await;
    check(&r);
    assert_eq!(app.get("/Users").await.body["totalResults"], 0);
}

async fn a_revoked_token_is_401(app: TestApp) {
    // A second token of the same org, revoked while in use.
    let (token, token_id) =
        insert_token(&app.database_url, TokenKind::Scim, &app.org_id, "to revoke").await;
    let store = Store::connect(&app.database_url).await.unwrap();
    let ok = raw(&app, Method::GET, "/Users", None, Some(&token), &[]).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);

    let mut tx = store.write().await.unwrap();
    assert!(
        tokens::revoke(&mut tx, &token_id, "2026-01-02T00:00:00.000Z")
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    store.close().await;
    let r = raw(&app, Method::GET, "/Users", None, Some(&token), &[]).await;
    assert_raw_error(&r, StatusCode::UNAUTHORIZED, None);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    // The org's other token still works.
    assert_eq!(app.get("/Users").await.status, StatusCode::OK);
}

async fn wrong_methods_are_405_scim_errors(app: TestApp) {
    let id = app.create_user("m@example.com").await;
    for (method, path) in [
        (Method::DELETE, "/Users".to_owned()),
        (Method::PUT, "/Users".to_owned()),
        (Method::PATCH, "/Groups".to_owned()),
        (Method::POST, format!("/Users/{id}")),
        (Method::GET, "/Bulk".to_owned()),
        (Method::GET, "/Users/.search".to_owned()),
        (Method::DELETE, "/ServiceProviderConfig".to_owned()),
    ] {
        let r = raw(&app, method.clone(), &path, None, Some(&app.token), &[]).await;
        assert_raw_error(&r, StatusCode::METHOD_NOT_ALLOWED, None);
    }
    assert_eq!(
        app.get(&format!("/Users/{id}")).await.status,
        StatusCode::OK
    );
}

async fn bodies_that_are_not_json_are_400_invalid_syntax(app: TestApp) {
    let r = post_bytes(&app, br#"{"userName": "#.to_vec(), "application/scim+json").await;
    assert_raw_error(&r, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    let r = post_bytes(&app, b"".to_vec(), "application/scim+json").await;
    assert_raw_error(&r, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    // Invalid UTF-8 inside a string.
    let r = post_bytes(
        &app,
        b"{\"userName\": \"\xff\xfe@example.com\"}".to_vec(),
        "application/scim+json",
    )
    .await;
    assert_raw_error(&r, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    // 10,000 levels of nesting: refused, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let r = post_bytes(&app, deep.into_bytes(), "application/scim+json").await;
    assert_raw_error(&r, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    let deep = format!(
        r#"{{"userName": "deep@example.com", "name": {}1{}}}"#,
        r#"{"a":"#.repeat(10_000),
        "}".repeat(10_000)
    );
    let r = post_bytes(&app, deep.into_bytes(), "application/scim+json").await;
    assert_raw_error(&r, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    // The server is still there and nothing was created.
    assert_eq!(app.get("/Users").await.body["totalResults"], 0);
}

async fn body_above_the_limit_is_413(app: TestApp) {
    let big = json!({"schemas": [USER_SCHEMA], "userName": "big@example.com", "title": "x".repeat(2 * 1024 * 1024)});
    let r = post_bytes(&app, big.to_string().into_bytes(), "application/scim+json").await;
    assert_raw_error(&r, StatusCode::PAYLOAD_TOO_LARGE, None);
    // The unread rest of the body must not be taken for the next request.
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(app.get("/Users").await.body["totalResults"], 0);
}

async fn plain_json_is_accepted_and_responses_are_scim_json(app: TestApp) {
    // Google Workspace sends application/json.
    let body = json!({"schemas": [USER_SCHEMA], "userName": "google@example.com"});
    let r = post_bytes(
        &app,
        body.to_string().into_bytes(),
        "application/json; charset=utf-8",
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    let id = r.json()["id"].as_str().unwrap().to_owned();
    // Something that is not JSON at all is refused with a SCIM error.
    let r = post_bytes(
        &app,
        b"userName=x".to_vec(),
        "application/x-www-form-urlencoded",
    )
    .await;
    assert!(r.status.is_client_error(), "{}", r.text);
    assert_eq!(r.json()["schemas"][0], ERROR_SCHEMA);
    // Every response with a body is application/scim+json.
    for path in [
        "/Users".to_owned(),
        format!("/Users/{id}"),
        "/Groups".to_owned(),
        "/ServiceProviderConfig".to_owned(),
        "/ResourceTypes".to_owned(),
        "/Schemas".to_owned(),
    ] {
        let r = raw(&app, Method::GET, &path, None, Some(&app.token), &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        assert_eq!(
            r.header("content-type"),
            Some("application/scim+json"),
            "{path}"
        );
    }
}

async fn a_content_type_that_is_not_ascii_is_415(app: TestApp) {
    let body = json!({"schemas": [USER_SCHEMA], "userName": "latin1@example.com"});
    for content_type in [&b"application/scim+json\xe9"[..], b"\xe9"] {
        let res = app
            .client
            .post(format!("{}/Users", app.base))
            .bearer_auth(&app.token)
            .header(
                "Content-Type",
                reqwest::header::HeaderValue::from_bytes(content_type).unwrap(),
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let r = RawResp {
            status: res.status(),
            headers: res.headers().clone(),
            text: res.text().await.unwrap(),
        };
        assert_raw_error(
            &r,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("invalidSyntax"),
        );
    }
    assert_eq!(app.get("/Users").await.body["totalResults"], 0);
}

async fn service_provider_config_advertises_what_the_server_does(app: TestApp) {
    let r = app.get("/ServiceProviderConfig").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let c = &r.body;
    assert_eq!(
        c["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
    );
    assert_eq!(c["patch"]["supported"], true);
    assert_eq!(c["bulk"]["supported"], true);
    assert_eq!(c["bulk"]["maxOperations"], 1000);
    assert_eq!(c["bulk"]["maxPayloadSize"], 1024 * 1024);
    assert_eq!(c["filter"]["supported"], true);
    assert_eq!(c["filter"]["maxResults"], 1000);
    assert_eq!(c["sort"]["supported"], true);
    assert_eq!(c["etag"]["supported"], true);
    assert!(c["changePassword"]["supported"].is_boolean(), "{c}");
    assert_eq!(c["pagination"]["cursor"], true, "{c}");
    assert_eq!(c["pagination"]["index"], true, "{c}");
    assert_eq!(c["pagination"]["maxPageSize"], 1000, "{c}");
    assert!(c["pagination"]["defaultPageSize"].as_u64().is_some(), "{c}");
    let schemes = c["authenticationSchemes"].as_array().unwrap();
    assert!(
        schemes.iter().any(|s| s["type"] == "oauthbearertoken"),
        "{c}"
    );
    assert_eq!(
        c["meta"]["location"],
        format!("{}/ServiceProviderConfig", app.base)
    );
}

async fn resource_types_and_schemas_describe_users_and_groups(app: TestApp) {
    let r = app.get("/ResourceTypes").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["schemas"][0], LIST_SCHEMA);
    assert_eq!(r.body["totalResults"], 2);
    let user = app.get("/ResourceTypes/User").await;
    assert_eq!(user.status, StatusCode::OK, "{:?}", user.body);
    assert_eq!(user.body["endpoint"], "/Users");
    assert_eq!(user.body["schema"], USER_SCHEMA);
    let extensions: Vec<&str> = user.body["schemaExtensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["schema"].as_str().unwrap())
        .collect();
    assert!(
        extensions.contains(&crate::harness::ENTERPRISE),
        "{extensions:?}"
    );
    let group = app.get("/ResourceTypes/Group").await;
    assert_eq!(group.body["endpoint"], "/Groups");
    let r = app.get("/ResourceTypes/Device").await;
    crate::harness::assert_scim_error(&r, StatusCode::NOT_FOUND, None);

    let schemas = app.get("/Schemas").await;
    assert_eq!(schemas.status, StatusCode::OK);
    let ids: Vec<&str> = schemas.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    for urn in [
        USER_SCHEMA,
        crate::harness::GROUP_SCHEMA,
        crate::harness::ENTERPRISE,
    ] {
        assert!(ids.contains(&urn), "{urn} missing from {ids:?}");
    }
    let user_schema = app.get(&format!("/Schemas/{USER_SCHEMA}")).await;
    assert_eq!(user_schema.status, StatusCode::OK, "{:?}", user_schema.body);
    assert_eq!(user_schema.body["id"], USER_SCHEMA);
    let user_name = user_schema.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "userName")
        .unwrap();
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["caseExact"], false);
    assert_eq!(user_name["required"], true);
    let r = app.get("/Schemas/urn:example:nothing").await;
    crate::harness::assert_scim_error(&r, StatusCode::NOT_FOUND, None);
}

crate::both_backends!(
    unknown_routes_are_404_scim_errors,
    requests_without_a_valid_token_are_401,
    a_revoked_token_is_401,
    wrong_methods_are_405_scim_errors,
    bodies_that_are_not_json_are_400_invalid_syntax,
    body_above_the_limit_is_413,
    plain_json_is_accepted_and_responses_are_scim_json,
    a_content_type_that_is_not_ascii_is_415,
    service_provider_config_advertises_what_the_server_does,
    resource_types_and_schemas_describe_users_and_groups,
);
