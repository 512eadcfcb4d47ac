//! HTTP: the only module that knows axum. Routers, extractors, middleware, errors.

pub mod admin;
mod edge;
pub mod error;
mod extract;
mod openapi;
pub mod rate_limit;
mod scim;
mod sso;
mod text;

use crate::config::Config;
use crate::provisioning::Directory;
use crate::store::Store;
use axum::Router;
use axum::http::{HeaderName, Request};
use rate_limit::Family;
use std::sync::Arc;
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use error::ApiError;

/// The SCIM media type, RFC 7644 §3.1.
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// What every handler can reach. Cloned for every request (axum's `State`), so it is one
/// shared allocation.
#[derive(Debug, Clone)]
pub struct AppState(Arc<AppParts>);

impl AppState {
    pub fn new(parts: AppParts) -> AppState {
        AppState(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// The parts of [`AppState`].
#[derive(Debug)]
pub struct AppParts {
    pub store: Store,
    pub directory: Directory,
    pub registry: Arc<::scim::schema::Registry>,
    pub config: Arc<Config>,
    pub sso: crate::sso::Sso,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The path as logs may show it: invitation links carry a token in the path.
fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    match path.strip_prefix("/invitations/") {
        Some(rest) => {
            let tail = if rest.ends_with("/renew") {
                "/renew"
            } else {
                ""
            };
            format!("/invitations/<token>{tail}").into()
        }
        None => path.into(),
    }
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let limits = rate_limit::RateLimits::new(&state.config.rate_limits);
    let limited = |router: Router, family| {
        router.layer(axum::middleware::from_fn_with_state(
            (limits.clone(), family),
            rate_limit::limit,
        ))
    };
    Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .nest(
            "/scim/v2",
            limited(scim::router(state.clone()), Family::Scim),
        )
        .nest(
            "/admin/v1",
            limited(admin::router(state.clone()), Family::Admin),
        )
        .merge(limited(sso::router(state), Family::People))
        .fallback(extract::not_found)
        .layer(axum::middleware::from_fn(edge::refuse_at_the_edge))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                // Never the query string: it can carry filters with personal data.
                tracing::info_span!(
                    "request",
                    method = %req.method(),
                    path = %loggable_path(req.uri().path()),
                    request_id = %id,
                    org = tracing::field::Empty,
                    token = tracing::field::Empty,
                )
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(60),
        ))
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn invitation_tokens_stay_out_of_the_logs() {
        assert_eq!(
            loggable_path("/invitations/m-1.123.c2ln"),
            "/invitations/<token>"
        );
        assert_eq!(
            loggable_path("/invitations/m-1.123.c2ln/renew"),
            "/invitations/<token>/renew"
        );
        assert_eq!(loggable_path("/scim/v2/Users"), "/scim/v2/Users");
    }
}
