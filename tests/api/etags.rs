//! ETags (RFC 7644 §3.14): the `ETag` header is `meta.version`, `If-Match` guards
//! changes, `If-None-Match` saves a download.

use crate::helpers::TestApp;
use crate::support::{USER_SCHEMA, assert_scim_error};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn etag_header_is_meta_version_and_changes_on_update(app: TestApp) {
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "etag@example.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let v1 = r.header("etag").expect("ETag on create").to_owned();
    assert_eq!(r.body["meta"]["version"], v1.as_str());

    let got = app.get(&format!("/Users/{id}")).await;
    assert_eq!(got.header("etag"), Some(v1.as_str()));
    assert_eq!(got.body["meta"]["version"], v1.as_str());

    let put = app
        .put(
            &format!("/Users/{id}"),
            &json!({"schemas": [USER_SCHEMA], "userName": "etag@example.com", "title": "new"}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK);
    let v2 = put.header("etag").expect("ETag on PUT").to_owned();
    assert_ne!(v1, v2, "the version must change with the resource");
    assert_eq!(put.body["meta"]["version"], v2.as_str());
    let got = app.get(&format!("/Users/{id}")).await;
    assert_eq!(got.header("etag"), Some(v2.as_str()));

    // A group's version changes when its membership does, even through a member's delete.
    let gid = app.create_group("Team", &[&id]).await;
    let g1 = app.get(&format!("/Groups/{gid}")).await;
    let g1v = g1.header("etag").unwrap().to_owned();
    assert_eq!(
        app.delete(&format!("/Users/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    let g2 = app.get(&format!("/Groups/{gid}")).await;
    assert_ne!(g2.header("etag").unwrap(), g1v);
    assert_eq!(g2.body["meta"]["version"], g2.header("etag").unwrap());
}

async fn if_match_mismatch_is_412_and_changes_nothing(app: TestApp) {
    let id = app.create_user("guarded@example.com").await;
    let before = app.get(&format!("/Users/{id}")).await.body;
    let stale = "W/\"999\"";
    let put = app
        .request_with(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(&json!({"userName": "guarded@example.com", "title": "changed"})),
            Some(&app.token),
            &[("If-Match", stale)],
        )
        .await;
    assert_scim_error(&put, StatusCode::PRECONDITION_FAILED, None);
    let got = app.get(&format!("/Users/{id}")).await;
    assert!(
        got.body.get("title").is_none(),
        "PUT applied despite 412: {:?}",
        got.body
    );
    assert_eq!(
        got.body, before,
        "a refused PUT changes nothing, not even meta"
    );

    let del = app
        .request_with(
            Method::DELETE,
            &format!("/Users/{id}"),
            None,
            Some(&app.token),
            &[("If-Match", stale)],
        )
        .await;
    assert_scim_error(&del, StatusCode::PRECONDITION_FAILED, None);
    assert_eq!(
        app.get(&format!("/Users/{id}")).await.status,
        StatusCode::OK
    );
}

async fn matching_if_match_applies_the_change(app: TestApp) {
    let id = app.create_user("match@example.com").await;
    let current = app.get(&format!("/Users/{id}")).await;
    let etag = current.header("etag").unwrap().to_owned();
    let put = app
        .request_with(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(&json!({"userName": "match@example.com", "title": "ok"})),
            Some(&app.token),
            &[("If-Match", &etag)],
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    assert_eq!(put.body["title"], "ok");
    // The old ETag is stale now.
    let again = app
        .request_with(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(&json!({"userName": "match@example.com", "title": "again"})),
            Some(&app.token),
            &[("If-Match", &etag)],
        )
        .await;
    assert_eq!(again.status, StatusCode::PRECONDITION_FAILED);
    // `*` matches any version.
    let star = app
        .request_with(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(&json!({"userName": "match@example.com", "title": "star"})),
            Some(&app.token),
            &[("If-Match", "*")],
        )
        .await;
    assert_eq!(star.status, StatusCode::OK, "{:?}", star.body);
    let current = star.header("etag").unwrap().to_owned();
    let del = app
        .request_with(
            Method::DELETE,
            &format!("/Users/{id}"),
            None,
            Some(&app.token),
            &[("If-Match", &current)],
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
}

async fn if_none_match_with_the_current_version_is_304(app: TestApp) {
    let id = app.create_user("cached@example.com").await;
    let first = app.get(&format!("/Users/{id}")).await;
    let etag = first.header("etag").unwrap().to_owned();
    let cached = app
        .request_with(
            Method::GET,
            &format!("/Users/{id}"),
            None,
            Some(&app.token),
            &[("If-None-Match", &etag)],
        )
        .await;
    assert_eq!(cached.status, StatusCode::NOT_MODIFIED);
    assert!(cached.body.is_null(), "304 has no body: {:?}", cached.body);
    assert_eq!(cached.header("etag"), Some(etag.as_str()));

    app.put(
        &format!("/Users/{id}"),
        &json!({"userName": "cached@example.com", "title": "t"}),
    )
    .await;
    let changed = app
        .request_with(
            Method::GET,
            &format!("/Users/{id}"),
            None,
            Some(&app.token),
            &[("If-None-Match", &etag)],
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(changed.body["title"], "t");
    assert_ne!(changed.header("etag"), Some(etag.as_str()));
}

crate::backends!(
    etag_header_is_meta_version_and_changes_on_update,
    if_match_mismatch_is_412_and_changes_nothing,
    matching_if_match_applies_the_change,
    if_none_match_with_the_current_version_is_304,
);
