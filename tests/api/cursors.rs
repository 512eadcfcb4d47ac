//! Issue 16 point 11: `nextCursor` is opaque (sealed with a server key) and bound to the
//! organization and the query. It used to be base64 of a global row sequence, which told a
//! client how many rows other organizations had created, and opened for anyone.

use crate::harness::{Resp, TestApp};
use crate::harness::{
    SEARCH_REQUEST, USER_SCHEMA, assert_scim_error, bulk_users, list_of, walk_cursor, with_query,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::collections::BTreeSet;

async fn get_as(app: &TestApp, path: &str, token: &str) -> Resp {
    app.request_with(Method::GET, path, None, Some(token), &[])
        .await
}

/// `/Users` at `cursor`, one user a page.
fn users_at(cursor: &str) -> String {
    with_query("/Users", &[("cursor", cursor), ("count", "1")])
}

/// The `nextCursor` of `path` as `token` sees it.
async fn next_cursor(app: &TestApp, path: &str, token: &str) -> String {
    let r = get_as(app, path, token).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["nextCursor"]
        .as_str()
        .unwrap_or_else(|| panic!("no nextCursor: {:?}", r.body))
        .to_owned()
}

/// Creates `n` users in the organization of `token`.
async fn users_of(app: &TestApp, token: &str, prefix: &str, n: usize) {
    for i in 0..n {
        let r = app
            .request_with(
                Method::POST,
                "/Users",
                Some(&json!({"schemas": [USER_SCHEMA], "userName": format!("{prefix}{i}@b.test")})),
                Some(token),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
}

async fn cursors_reveal_no_row_counts(app: TestApp) {
    bulk_users(&app, "a", 0..6).await;
    let first = "/Users?cursor=&count=2";
    let before = next_cursor(&app, first, &app.token).await;
    let raw = URL_SAFE_NO_PAD
        .decode(&before)
        .unwrap_or_else(|e| panic!("{before}: {e}"));
    // Not a number or a tagged number in any spelling a client could read.
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.trim_start_matches(['s', 'o']).parse::<i64>().is_err(),
        "the cursor {before:?} reads as {text:?}"
    );
    let page2 = with_query("/Users", &[("cursor", &before), ("count", "2")]);
    let page2_ids = list_of(&app.get(&page2).await.body, "id");
    assert_eq!(page2_ids.len(), 2);

    // Another organization creates rows; the same position in ours gets a cursor of the
    // same length that leads to the same page, and never the same text twice.
    let globex = app.other_org("Globex").await;
    users_of(&app, &globex, "b", 25).await;
    let after = next_cursor(&app, first, &app.token).await;
    assert_eq!(after.len(), before.len(), "{before} / {after}");
    assert_ne!(after, before);
    let again = with_query("/Users", &[("cursor", &after), ("count", "2")]);
    assert_eq!(list_of(&app.get(&again).await.body, "id"), page2_ids);
    // A sorted list's cursor (an offset) looks the same from outside.
    let sorted = next_cursor(&app, "/Users?cursor=&count=2&sortBy=userName", &app.token).await;
    assert_eq!(sorted.len(), before.len(), "{sorted}");
}

async fn a_filtered_cursor_walk_sees_every_match_once(app: TestApp) {
    let matching = bulk_users(&app, "walk", 0..7).await;
    bulk_users(&app, "other", 0..5).await;
    let ids = walk_cursor(
        &app,
        &with_query(
            "/Users",
            &[
                ("filter", "userName sw \"walk\""),
                ("count", "2"),
                ("cursor", ""),
            ],
        ),
    )
    .await;
    assert_eq!(ids.len(), matching.len(), "{ids:?}");
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>(),
        matching.iter().collect::<BTreeSet<_>>()
    );
}

async fn a_cursor_of_another_organization_is_invalid_cursor(app: TestApp) {
    bulk_users(&app, "a", 0..3).await;
    let globex = app.other_org("Globex").await;
    users_of(&app, &globex, "b", 3).await;
    let ours = next_cursor(&app, "/Users?cursor=&count=1", &app.token).await;
    let r = get_as(&app, &users_at(&ours), &globex).await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidCursor"));
    // And the other way round.
    let theirs = next_cursor(&app, "/Users?cursor=&count=1", &globex).await;
    let r = app.get(&users_at(&theirs)).await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidCursor"));
}

async fn a_cursor_with_another_query_is_invalid_cursor(app: TestApp) {
    bulk_users(&app, "a", 0..4).await;
    let filter = "userName sw \"a\"";
    let cursor = next_cursor(
        &app,
        &with_query(
            "/Users",
            &[("filter", filter), ("count", "1"), ("cursor", "")],
        ),
        &app.token,
    )
    .await;
    for other in [
        vec![("filter", "userName sw \"a1\"")],
        vec![],
        vec![("filter", filter), ("sortBy", "userName")],
        vec![
            ("filter", filter),
            ("sortBy", "userName"),
            ("sortOrder", "descending"),
        ],
    ] {
        let mut params = other.clone();
        params.push(("cursor", &cursor));
        let r = app.get(&with_query("/Users", &params)).await;
        assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidCursor"));
        assert!(
            !r.body["detail"].as_str().unwrap().contains(&cursor),
            "{:?}",
            r.body
        );
    }
    // Another resource type, with the same (empty) rest of the query.
    let unfiltered = next_cursor(&app, "/Users?cursor=&count=1", &app.token).await;
    let r = app
        .get(&with_query(
            "/Groups",
            &[("cursor", &unfiltered), ("count", "1")],
        ))
        .await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidCursor"));
    // The same query may change its page size and attributes (RFC 9865 §2.1), and may
    // come as a SearchRequest.
    let r = app
        .get(&with_query(
            "/Users",
            &[
                ("filter", filter),
                ("cursor", &cursor),
                ("count", "2"),
                ("attributes", "userName"),
            ],
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(list_of(&r.body, "userName").len(), 2);
    let r = app
        .post(
            "/Users/.search",
            &json!({"schemas": [SEARCH_REQUEST], "filter": filter, "cursor": cursor, "count": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

async fn a_changed_cursor_is_invalid_cursor(app: TestApp) {
    bulk_users(&app, "a", 0..3).await;
    let cursor = next_cursor(&app, "/Users?cursor=&count=1", &app.token).await;
    let mut raw = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
    let last = raw.len() - 1;
    for i in [0, raw.len() / 2, last] {
        raw[i] ^= 0x01;
        let flipped = URL_SAFE_NO_PAD.encode(&raw);
        raw[i] ^= 0x01;
        let r = app.get(&users_at(&flipped)).await;
        assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidCursor"));
    }
    let long = "A".repeat(2000);
    for bad in [&cursor[1..], &format!("{cursor}AA"), "czE", &long] {
        let r = app.get(&with_query("/Users", &[("cursor", bad)])).await;
        assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidCursor"));
    }
    // The cursor itself still works.
    let r = app.get(&users_at(&cursor)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

crate::both_backends!(
    cursors_reveal_no_row_counts,
    a_filtered_cursor_walk_sees_every_match_once,
    a_cursor_of_another_organization_is_invalid_cursor,
    a_cursor_with_another_query_is_invalid_cursor,
    a_changed_cursor_is_invalid_cursor,
);
