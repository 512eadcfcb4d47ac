//! Refusals made before a handler runs, or by the body reader the SSO routes share: a
//! URI over the limit, a NUL in the path, a body over the limit. Each is answered in the
//! error format of the route family the path belongs to (SCIM error on `/scim`, the admin
//! API's `{"error", "message"}`, OAuth's `{"error", "error_description"}` on `/oauth`,
//! `{"error", "message"}` on the other SSO routes), never as axum's or hyper's plain text.

use super::ApiError;
use super::admin::error::AdminApiError;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The longest request target (path and query) answered. Below hyper's own limit (just
/// under 64 KiB, answered with an empty 414 before any of our code runs), above what a
/// SCIM client needs: the longest filter (8 KiB) percent-encoded is at most 24 KiB.
pub const MAX_URI_BYTES: usize = 32 * 1024;

/// The largest body an SSO route reads (a SAML Response with its certificates is tens of
/// KiB), as for SCIM and the admin API; the sign-in routes hold their bodies to less.
pub const MAX_SSO_BODY: usize = 1024 * 1024;

/// Why a request is refused at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    UriTooLong,
    /// A path with a NUL names nothing: no stored id or name holds one.
    NulInPath,
    /// A NUL in the query of a route whose parameters are ids and hints (SCIM's filter
    /// literals are the handlers' to judge: they match nothing).
    NulInQuery,
    BodyTooLarge(usize),
}

impl Refusal {
    fn message(self) -> String {
        match self {
            Refusal::UriTooLong => {
                format!("The request URI is longer than {MAX_URI_BYTES} bytes.")
            }
            Refusal::NulInPath => "Nothing is found at a path with a NUL character.".into(),
            Refusal::NulInQuery => "The query string contains a NUL character.".into(),
            Refusal::BodyTooLarge(limit) => {
                format!("The request body exceeds the maximum of {limit} bytes.")
            }
        }
    }

    /// The answer, in the format of the route family `path` belongs to.
    pub fn into_response_for(self, path: &str) -> Response {
        let message = self.message();
        if path.starts_with("/scim/") {
            return match self {
                Refusal::UriTooLong => ApiError::UriTooLong(message),
                Refusal::NulInPath => ApiError::NotFound(message),
                Refusal::NulInQuery => ApiError::Scim(scim::ScimError::InvalidSyntax(message)),
                Refusal::BodyTooLarge(_) => ApiError::PayloadTooLarge(message),
            }
            .into_response();
        }
        if path.starts_with("/admin/") {
            return match self {
                Refusal::UriTooLong => AdminApiError::UriTooLong(message),
                Refusal::NulInPath => AdminApiError::NotFound(message),
                Refusal::NulInQuery => AdminApiError::BadRequest(message),
                Refusal::BodyTooLarge(_) => AdminApiError::PayloadTooLarge(message),
            }
            .into_response();
        }
        let (status, code) = match self {
            Refusal::UriTooLong => (StatusCode::URI_TOO_LONG, "uri_too_long"),
            Refusal::NulInPath => (StatusCode::NOT_FOUND, "not_found"),
            Refusal::NulInQuery => (StatusCode::BAD_REQUEST, "invalid_request"),
            Refusal::BodyTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        };
        // RFC 6749 §5.2 names the message `error_description`; the other SSO routes
        // answer `message`.
        let body = if path.starts_with("/oauth/") {
            json!({"error": code, "error_description": message})
        } else {
            json!({"error": code, "message": message})
        };
        let mut response = (status, Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if matches!(self, Refusal::BodyTooLarge(_)) {
            // The rest of the body is unread: the connection cannot carry another request.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// Refuses a URI over [`MAX_URI_BYTES`] and a path with a NUL before any route runs.
pub async fn refuse_at_the_edge(req: Request, next: Next) -> Response {
    let uri = req.uri();
    let target = uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    if target > MAX_URI_BYTES {
        return Refusal::UriTooLong.into_response_for(uri.path());
    }
    // A NUL cannot stand raw in a request line; `%00` is how it arrives.
    if uri.path().contains("%00") {
        return Refusal::NulInPath.into_response_for(uri.path());
    }
    if !uri.path().starts_with("/scim/") && uri.query().is_some_and(|q| q.contains("%00")) {
        return Refusal::NulInQuery.into_response_for(uri.path());
    }
    next.run(req).await
}

/// A request body read whole, up to [`MAX_SSO_BODY`] bytes: beyond that, 413 in the
/// route family's format (axum's own `Bytes` answers in plain text).
#[derive(Debug)]
pub struct SsoBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for SsoBody {
    type Rejection = Response;

    async fn from_request(req: Request<Body>, _: &S) -> Result<Self, Response> {
        let path = req.uri().path().to_owned();
        let too_large = || Refusal::BodyTooLarge(MAX_SSO_BODY).into_response_for(&path);
        if super::extract::declared_length(req.headers()).is_some_and(|n| n > MAX_SSO_BODY) {
            return Err(too_large());
        }
        axum::body::to_bytes(req.into_body(), MAX_SSO_BODY)
            .await
            .map(SsoBody)
            .map_err(|_| too_large())
    }
}
