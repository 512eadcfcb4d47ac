//! Input the server refuses cleanly (issue 16, points 1, 2 and 13): control characters,
//! sizes beyond the advertised limits, URIs and bodies over the limit. Each answers a
//! clear error in the route's own format, never a 500, and stores nothing.

mod control_chars;
mod edges;
mod limits;

use crate::harness::TestApp;
use crate::harness::{RawResp, raw};
use reqwest::Method;

/// A request to a path of the server outside `/scim/v2`.
async fn at(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> RawResp {
    raw(
        app,
        method,
        &format!("{}{path}", app.address),
        body,
        token,
        headers,
    )
    .await
}

/// `GET /Users` (or `/Groups`) `totalResults`.
async fn total(app: &TestApp, endpoint: &str) -> i64 {
    let r = app.get(endpoint).await;
    r.body["totalResults"]
        .as_i64()
        .unwrap_or_else(|| panic!("{:?}", r.body))
}
