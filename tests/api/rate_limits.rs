//! Rate limits (issue 16, point 5): failed authentication per client address, valid
//! traffic per token, 429 with `Retry-After` in each route family's own format. Requests
//! come from other loopback addresses (127.0.0.2, ...) to play other clients.

use crate::harness::admin_token;
use crate::harness::{Backend, TestApp};
use reqwest::StatusCode;
use rollcall::config::Overrides;
use serde_json::Value;
use std::net::IpAddr;
use std::time::Instant;

/// Sends failing attempts until one is refused with 429; asserts the budget was 100 a
/// minute (the budget refills as it is used: one attempt every 0.6 s on top of the 100).
async fn attempts_until_limited<F, Fut>(mut attempt: F) -> reqwest::Response
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = reqwest::Response>,
{
    let started = Instant::now();
    for n in 1..=300 {
        let r = attempt(n).await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            let refilled = started.elapsed().as_secs_f64() / 0.6;
            let failed = (n - 1) as f64;
            assert!(
                (100.0..=101.0 + refilled).contains(&failed),
                "limited after {failed} failures in {:?}",
                started.elapsed()
            );
            return r;
        }
    }
    panic!("300 failed attempts and none was limited");
}

/// A client whose connections come from `ip`.
pub fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// The seconds a 429 says to wait; asserts it is one.
fn retry_after(r: &reqwest::Response) -> u64 {
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn scim_get(client: &reqwest::Client, app: &TestApp, token: &str) -> reqwest::Response {
    client
        .get(format!("{}/Users", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn failed_authentication_is_limited_per_address_before_any_token_is_checked(app: TestApp) {
    let attacker = client_from("127.0.0.2");
    let (guesser, target) = (&attacker, &app);
    let r = attempts_until_limited(|n| async move {
        let r = scim_get(guesser, target, &format!("guess-{n}")).await;
        if r.status() != StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {n}");
        }
        r
    })
    .await;
    let wait = retry_after(&r);
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    assert_eq!(r.headers()["content-type"], "application/scim+json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(body["status"], "429");
    // A right guess now would be refused like a wrong one: nothing is learnt.
    let r = scim_get(&attacker, &app, &app.token).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // The admin API and the sign-in routes refuse the address too, in their formats.
    let admin = admin_token(&app, "ops").await;
    let r = attacker
        .get(format!("{}/admin/v1/teams", app.address))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    retry_after(&r);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited", "{body}");
    let r = attacker
        .post(format!("{}/oauth/token", app.address))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=refresh_token&refresh_token=x")
        .send()
        .await
        .unwrap();
    retry_after(&r);
    // RFC 6749 §5.2's shape on /oauth/*.
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited", "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    // The IdP on its own address goes on as if nothing happened.
    let r = scim_get(&app.client, &app, &app.token).await;
    assert_eq!(r.status(), StatusCode::OK);
}

async fn bad_refresh_tokens_count_as_failed_authentication(backend: Backend) {
    // The sign-in routes' own per-address budget off, to see the failure budget alone.
    let app = TestApp::builder(backend)
        .overrides(Overrides {
            rate_limit_sign_in_per_second: Some(0),
            ..Overrides::default()
        })
        .spawn()
        .await;
    let attacker = client_from("127.0.0.3");
    let (attacker, app) = (&attacker, &app);
    let r = attempts_until_limited(|n| async move {
        let r = attacker
            .post(format!("{}/oauth/token", app.address))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("grant_type=refresh_token&refresh_token=guess-{n}"))
            .send()
            .await
            .unwrap();
        if r.status() != StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "attempt {n}");
        }
        r
    })
    .await;
    retry_after(&r);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited", "{body}");
}

async fn valid_traffic_is_limited_per_token_from_any_address(backend: Backend) {
    let app = TestApp::builder(backend)
        .overrides(Overrides {
            rate_limit_api_per_second: Some(1),
            ..Overrides::default()
        })
        .spawn()
        .await;
    // One token from two addresses: its budget is shared, so at most 1 request a second
    // (plus the first) gets through, whichever address sends it.
    let clients = [client_from("127.0.0.1"), client_from("127.0.0.4")];
    let started = Instant::now();
    let (mut ok, mut limited) = (0, 0);
    for i in 0..20 {
        let r = scim_get(&clients[i % 2], &app, &app.token).await;
        match r.status() {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(retry_after(&r) >= 1);
                limited += 1;
            }
            other => panic!("request {i}: {other}"),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    assert!(limited > 0, "20 requests in {elapsed:.1} s, none limited");
    assert!(
        f64::from(ok) <= 1.0 + elapsed,
        "{ok} requests passed in {elapsed:.1} s at 1 a second"
    );
}

crate::both_backends!(failed_authentication_is_limited_per_address_before_any_token_is_checked);

/// Each on a server with settings of its own.
mod per_backend {
    use super::*;

    crate::both_backends!(setup = crate::harness::backend;
        bad_refresh_tokens_count_as_failed_authentication,
        valid_traffic_is_limited_per_token_from_any_address,
    );
}
