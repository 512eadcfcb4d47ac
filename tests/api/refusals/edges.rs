//! Point 13: a URI over the limit answered 414 with an empty body (hyper's answer), and
//! the SSO routes answered an oversized body in text/plain (axum's). Each is now an
//! error in the route family's own format.

use super::at;

use crate::harness::ERROR_SCHEMA;
use crate::harness::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Past our limit (32 KiB), below hyper's (64 KiB), where our answer is the one given.
fn long_query() -> String {
    format!("?filter={}", "a".repeat(40 * 1024))
}

async fn a_uri_over_the_limit_is_414_in_the_route_format(app: TestApp) {
    let admin = app.admin().await;
    let q = long_query();
    let r = at(
        &app,
        Method::GET,
        &format!("/scim/v2/Users{q}"),
        None,
        Some(&app.token),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::URI_TOO_LONG, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    let body = r.json();
    assert_eq!(body["schemas"], json!([ERROR_SCHEMA]));
    assert_eq!(body["status"], "414");
    assert_eq!(
        body["detail"],
        "The request URI is longer than 32768 bytes."
    );

    let r = at(
        &app,
        Method::GET,
        &format!("/admin/v1/teams{q}"),
        None,
        Some(&admin.token),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::URI_TOO_LONG, "{}", r.text);
    assert_eq!(r.json()["error"], "uri_too_long");

    let r = at(
        &app,
        Method::POST,
        &format!("/oauth/token{q}"),
        None,
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::URI_TOO_LONG, "{}", r.text);
    let body = r.json();
    assert_eq!(body["error"], "uri_too_long");
    assert!(body["error_description"].is_string(), "{body}");

    for path in ["/sign-in/email", "/sso/saml/x/acs", "/invitations/x"] {
        let r = at(&app, Method::POST, &format!("{path}{q}"), None, None, &[]).await;
        assert_eq!(r.status, StatusCode::URI_TOO_LONG, "{path}: {}", r.text);
        assert_eq!(r.header("content-type"), Some("application/json"), "{path}");
        assert_eq!(r.json()["error"], "uri_too_long", "{path}");
    }
    // The limit leaves room for the longest filter, percent-encoded.
    let filter = format!("userName eq \"{}\"", "é".repeat(4000));
    let r = app
        .get(&crate::harness::with_query(
            "/Users",
            &[("filter", &filter)],
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

async fn oversized_bodies_answer_in_the_route_format(app: TestApp) {
    let admin = app.admin().await;
    // Just over every limit (1 MiB): the server answers before reading it, and a body
    // much larger than the socket buffers would break the pipe before the answer is read.
    let big = vec![b'a'; 1024 * 1024 + 64 * 1024];
    let form = [("content-type", "application/x-www-form-urlencoded")];

    let r = at(
        &app,
        Method::POST,
        "/oauth/token",
        Some(big.clone()),
        None,
        &form,
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    let body = r.json();
    assert_eq!(body["error"], "payload_too_large", "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    let r = at(
        &app,
        Method::POST,
        "/oauth/introspect",
        Some(big.clone()),
        None,
        &form,
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert_eq!(r.json()["error"], "payload_too_large");

    for path in ["/sign-in/email", "/sign-in/email/verify", "/sso/saml/x/acs"] {
        let r = at(&app, Method::POST, path, Some(big.clone()), None, &form).await;
        assert_eq!(
            r.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{path}: {}",
            r.text
        );
        assert_eq!(r.header("content-type"), Some("application/json"), "{path}");
        let body = r.json();
        assert_eq!(body["error"], "payload_too_large", "{path}: {body}");
        assert!(body["message"].is_string(), "{path}: {body}");
    }

    let r = at(
        &app,
        Method::POST,
        "/admin/v1/teams",
        Some(big),
        Some(&admin.token),
        &[("content-type", "application/json")],
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json()["error"], "payload_too_large");
}

crate::both_backends!(
    a_uri_over_the_limit_is_414_in_the_route_format,
    oversized_bodies_answer_in_the_route_format,
);
