//! ETags (RFC 7644 §3.14): the `ETag` header is `meta.version`, `If-Match` guards
//! changes, `If-None-Match` saves a download.

use crate::harness::TestApp;
use crate::harness::{GROUP_SCHEMA, PATCH_OP, USER_SCHEMA, assert_scim_error};
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

/// Sends `method path` with exactly these `If-Match` bytes (which need not be text).
async fn with_raw_if_match(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<&serde_json::Value>,
    if_match: &[u8],
) -> crate::harness::Resp {
    let mut req = app
        .client
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(&app.token)
        .header(
            "If-Match",
            reqwest::header::HeaderValue::from_bytes(if_match).unwrap(),
        );
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/scim+json")
            .body(b.to_string());
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    crate::harness::Resp {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    }
}

async fn an_if_match_that_is_not_an_entity_tag_is_412_and_changes_nothing(app: TestApp) {
    let uid = app.create_user("unreadable@example.com").await;
    let gid = app.create_group("Unreadable", &[&uid]).await;
    for (path, body) in [
        (
            format!("/Users/{uid}"),
            json!({"schemas": [USER_SCHEMA], "userName": "unreadable@example.com", "title": "changed"}),
        ),
        (
            format!("/Groups/{gid}"),
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Changed"}),
        ),
    ] {
        let before = app.get(&path).await;
        let etag = before.header("etag").unwrap().to_owned();
        let version = etag.trim_start_matches("W/").trim_matches('"').to_owned();
        let patch = json!({"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": if path.starts_with("/Users") { "title" } else { "displayName" }, "value": "Changed"}
        ]});
        // The current version, spoilt: a byte that is not visible ASCII after it (which
        // was taken for no If-Match at all), unquoted, unterminated.
        let spoilt: [Vec<u8>; 4] = [
            [etag.as_bytes(), b"\xe9"].concat(),
            b"W/\"99\"\xe9".to_vec(),
            version.clone().into_bytes(),
            format!("W/\"{version}").into_bytes(),
        ];
        for header in &spoilt {
            let shown = String::from_utf8_lossy(header);
            for (method, body) in [
                (Method::PUT, Some(&body)),
                (Method::PATCH, Some(&patch)),
                (Method::DELETE, None),
            ] {
                let r = with_raw_if_match(&app, method.clone(), &path, body, header).await;
                assert_eq!(
                    r.status,
                    StatusCode::PRECONDITION_FAILED,
                    "{method} {path} If-Match {shown}: {:?}",
                    r.body
                );
                assert_scim_error(&r, StatusCode::PRECONDITION_FAILED, None);
            }
        }
        assert_eq!(
            app.get(&path).await.body,
            before.body,
            "{path} changed under a refused If-Match"
        );
    }
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

crate::both_backends!(
    etag_header_is_meta_version_and_changes_on_update,
    if_match_mismatch_is_412_and_changes_nothing,
    matching_if_match_applies_the_change,
    an_if_match_that_is_not_an_entity_tag_is_412_and_changes_nothing,
    if_none_match_with_the_current_version_is_304,
);
