//! Rate limits, in memory per process (several replicas each allow the configured rate).
//!
//! Two kinds of budget, both refused with 429 and `Retry-After` in the route family's own error
//! format:
//! - valid traffic per client address and per bearer token (SCIM and admin API: generous,
//!   an IdP's sync must never feel it; sign-in, session and invitation routes: what
//!   people's browsers need);
//! - failed authentication per client address (bad or revoked tokens, bad refresh tokens,
//!   wrong sign-in codes), much tighter. Once an address has used it up, every request of
//!   it is refused for [`BLOCKED_FOR`], before any credential is checked: an answer that
//!   differed for a right guess would leak it.
//!
//! The client address is the socket's peer, or the last `X-Forwarded-For` hop before the
//! configured trusted proxies.

use crate::config::RateLimitConfig;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Marks a response as a failed authentication attempt (set by the error types of the
/// routes; a 401 counts without it).
#[derive(Debug, Clone, Copy)]
pub struct AuthFailure;

/// The client's address as the rate limits saw it, for handlers that keep budgets of
/// their own (email sign-in).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

impl ClientAddress {
    /// The address of a request, as text; "unknown" where no middleware set it.
    pub fn of(ext: Option<axum::Extension<ClientAddress>>) -> String {
        ext.map_or_else(
            || "unknown".to_owned(),
            |axum::Extension(a)| a.0.to_string(),
        )
    }
}

/// The route families, each with its own valid-traffic budget and error format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Scim,
    Admin,
    /// Sign-in, sessions, invitations and the SSO endpoints: JSON `{"error", "message"}`.
    People,
}

/// How long an address that used up its failure budget is refused: the budget's period,
/// so that a guesser gets at most about twice the budget a minute.
pub const BLOCKED_FOR: Duration = Duration::from_secs(60);

/// Keys kept before idle ones are dropped (a flood of random tokens must not grow memory).
const PRUNE_ABOVE: usize = 100_000;

/// The server's limiters. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct RateLimits {
    api_per_client: Option<DefaultKeyedRateLimiter<IpAddr>>,
    api_per_token: Option<DefaultKeyedRateLimiter<[u8; 16]>>,
    people_per_client: Option<DefaultKeyedRateLimiter<IpAddr>>,
    failures: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Addresses that used up their failure budget, until when.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    trusted_proxies: Vec<IpAddr>,
}

fn per_second(n: u32) -> Option<DefaultKeyedRateLimiter<IpAddr>> {
    NonZeroU32::new(n).map(|n| DefaultKeyedRateLimiter::dashmap(Quota::per_second(n)))
}

impl RateLimits {
    pub fn new(c: &RateLimitConfig) -> Arc<RateLimits> {
        Arc::new(RateLimits {
            api_per_client: per_second(c.api_per_second),
            api_per_token: NonZeroU32::new(c.api_per_second)
                .map(|n| DefaultKeyedRateLimiter::dashmap(Quota::per_second(n))),
            people_per_client: per_second(c.sign_in_per_second),
            failures: NonZeroU32::new(c.auth_failures_per_minute)
                .map(|n| DefaultKeyedRateLimiter::dashmap(Quota::per_minute(n))),
            blocked: Mutex::new(HashMap::new()),
            trusted_proxies: c.trusted_proxies.clone(),
        })
    }

    /// The client's address: the peer, or what the trusted proxies in front say it was.
    pub fn client_address(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> IpAddr {
        let peer = peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        // Each proxy appends the address it received from: read from the right, past
        // the proxies we trust; the first other hop is the client.
        let hops: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|h| h.trim().parse().ok())
            .collect();
        hops.into_iter()
            .rev()
            .find(|h| !self.trusted_proxies.contains(h))
            .unwrap_or(peer)
    }

    /// How long the address must wait, if it may not send this request now.
    fn admit(&self, family: Family, client: IpAddr, headers: &HeaderMap) -> Option<Duration> {
        if let Some(wait) = self.blocked_for(client) {
            return Some(wait);
        }
        let per_client = match family {
            Family::Scim | Family::Admin => &self.api_per_client,
            Family::People => &self.people_per_client,
        };
        if let Some(limiter) = per_client {
            prune(limiter);
            if let Err(not_until) = limiter.check_key(&client) {
                return Some(not_until.wait_time_from(DefaultClock::default().now()));
            }
        }
        if let (Some(limiter), Some(auth)) =
            (&self.api_per_token, headers.get(header::AUTHORIZATION))
            && family != Family::People
        {
            prune(limiter);
            // Keyed by a hash: the limiter never holds a token.
            let digest = Sha256::digest(auth.as_bytes());
            let mut key = [0u8; 16];
            key.copy_from_slice(&digest[..16]);
            if let Err(not_until) = limiter.check_key(&key) {
                return Some(not_until.wait_time_from(DefaultClock::default().now()));
            }
        }
        None
    }

    fn blocked_for(&self, client: IpAddr) -> Option<Duration> {
        let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        let until = *blocked.get(&client)?;
        let now = Instant::now();
        if until > now {
            Some(until - now)
        } else {
            blocked.remove(&client);
            None
        }
    }

    /// Counts a failed attempt; past the budget, the address is blocked until it refills.
    fn failed(&self, client: IpAddr) {
        let Some(limiter) = &self.failures else {
            return;
        };
        prune(limiter);
        if limiter.check_key(&client).is_err() {
            tracing::warn!(%client, blocked_secs = BLOCKED_FOR.as_secs(),
                "too many failed authentication attempts: address blocked");
            let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
            if blocked.len() > PRUNE_ABOVE {
                let now = Instant::now();
                blocked.retain(|_, until| *until > now);
            }
            blocked.insert(client, Instant::now() + BLOCKED_FOR);
        }
    }
}

fn prune<K: std::hash::Hash + Eq + Clone>(limiter: &DefaultKeyedRateLimiter<K>) {
    if limiter.len() > PRUNE_ABOVE {
        limiter.retain_recent();
    }
}

/// The middleware of one route family.
pub async fn limit(
    State((limits, family)): State<(Arc<RateLimits>, Family)>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip());
    let client = limits.client_address(peer, req.headers());
    if let Some(wait) = limits.admit(family, client, req.headers()) {
        return too_many(family, req.uri().path(), wait);
    }
    req.extensions_mut().insert(ClientAddress(client));
    let response = next.run(req).await;
    if response.status() == StatusCode::UNAUTHORIZED
        || response.extensions().get::<AuthFailure>().is_some()
    {
        limits.failed(client);
    }
    response
}

/// 429 in the format of the route family (`/oauth/*` as RFC 6749 §5.2 says), with whole
/// seconds to wait (at least 1).
fn too_many(family: Family, path: &str, wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    let message = format!("Too many requests from this client; retry in {secs} s.");
    let mut response = match family {
        Family::Scim => {
            axum::response::IntoResponse::into_response(super::ApiError::TooManyRequests(message))
        }
        Family::Admin => axum::response::IntoResponse::into_response(
            super::admin::error::AdminApiError::TooManyRequests(message),
        ),
        Family::People if path.starts_with("/oauth/") => {
            axum::response::IntoResponse::into_response((
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(
                    serde_json::json!({"error": "rate_limited", "error_description": message}),
                ),
            ))
        }
        Family::People => axum::response::IntoResponse::into_response((
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(serde_json::json!({"error": "rate_limited", "message": message})),
        )),
    };
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_str(&secs.to_string()).unwrap_or(HeaderValue::from_static("1")),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(trusted: &[&str]) -> Arc<RateLimits> {
        RateLimits::new(&RateLimitConfig {
            api_per_second: 2,
            sign_in_per_second: 1,
            auth_failures_per_minute: 3,
            trusted_proxies: trusted.iter().map(|a| a.parse().unwrap()).collect(),
        })
    }

    fn ip(a: &str) -> IpAddr {
        a.parse().unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let l = limits(&["10.0.0.1"]);
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "6.6.6.6, 203.0.113.9".parse().unwrap());
        // An untrusted peer's header is ignored: it could name anyone.
        assert_eq!(
            l.client_address(Some(ip("198.51.100.7")), &h),
            ip("198.51.100.7")
        );
        // Behind the proxy: the last hop the proxy saw, not what the client wrote first.
        assert_eq!(
            l.client_address(Some(ip("10.0.0.1")), &h),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn failures_block_the_address_and_only_it() {
        let l = limits(&[]);
        let h = HeaderMap::new();
        for _ in 0..3 {
            l.failed(ip("192.0.2.1"));
        }
        assert!(l.admit(Family::Scim, ip("192.0.2.1"), &h).is_none());
        l.failed(ip("192.0.2.1"));
        let wait = l.admit(Family::Scim, ip("192.0.2.1"), &h).expect("blocked");
        assert!(wait > Duration::from_secs(1) && wait <= Duration::from_secs(60));
        assert!(l.admit(Family::Scim, ip("192.0.2.2"), &h).is_none());
    }

    #[test]
    fn valid_traffic_is_limited_per_token_as_well_as_per_address() {
        let l = limits(&[]);
        let mut a = HeaderMap::new();
        a.insert(header::AUTHORIZATION, "Bearer a".parse().unwrap());
        assert!(l.admit(Family::Scim, ip("192.0.2.1"), &a).is_none());
        assert!(l.admit(Family::Scim, ip("192.0.2.2"), &a).is_none());
        // The token's third request in the second, from a third address.
        assert!(l.admit(Family::Admin, ip("192.0.2.3"), &a).is_some());
    }
}
