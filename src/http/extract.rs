//! Extractors and middleware that turn every malformed request into a SCIM error.

use super::{ApiError, AppState};
use crate::provisioning::Actor;
use crate::secrets;
use crate::store::Tx;
use crate::store::tokens::{self, TokenMatch};
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, Uri, header};
use axum::middleware::Next;
use axum::response::Response;
use scim::ScimError;
use serde_json::Value;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

/// Fallback for unknown routes.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no such endpoint: {}", uri.path()))
}

/// Fallback for a known route with the wrong method.
pub async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}",
        req.method(),
        req.uri().path()
    ))
}

/// Authenticates the bearer token and attaches the [`Actor`] to the request.
pub async fn authenticate(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = bearer_token(req.headers())
        .ok_or_else(|| ApiError::Unauthorized("a bearer token is required".into()))?;
    let hash = secrets::token_hash(token);
    // A read request goes on reading from the snapshot its token was checked in.
    let reads_only = matches!(*req.method(), Method::GET | Method::HEAD);
    let mut tx = if reads_only {
        state.store.read_snapshot().await?
    } else {
        state.store.read().await?
    };
    let found = verified(tokens::find_live(&mut tx, &hash).await?, &hash)
        .ok_or_else(|| ApiError::Unauthorized("the bearer token is invalid or revoked".into()))?;
    req.extensions_mut().insert(Actor {
        org_id: found.org_id,
        label: found.label,
    });
    if reads_only {
        req.extensions_mut()
            .insert(AuthSnapshot(Arc::new(Mutex::new(Some(tx)))));
    } else {
        // A write must not hold a reader (see `store::sqlite_writer`; debug builds check).
        drop(tx);
    }
    Ok(next.run(req).await)
}

/// The token `found` by `hash` if the hashes match (compared in constant time). Its org
/// and label, never the token, go on the request span to name the caller in every log line.
pub fn verified(found: Option<TokenMatch>, hash: &str) -> Option<TokenMatch> {
    let found = found.filter(|t| secrets::hashes_equal(&t.token_hash, hash))?;
    let span = tracing::Span::current();
    span.record("org", found.org_id.as_str());
    span.record("token", found.label.as_str());
    Some(found)
}

/// The read connection (SQLite: the read transaction) a GET's token was checked on,
/// handed to the handler so that its reads take neither a second connection nor a second
/// snapshot. Dropped with the request if the handler does not take it.
#[derive(Clone)]
pub struct AuthSnapshot(Arc<Mutex<Option<Tx>>>);

impl AuthSnapshot {
    /// The connection, to the first caller only.
    pub fn take(&self) -> Option<Tx> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// The [`AuthSnapshot`]'s connection if the request still carries one (a GET's), else
/// None: the handler then opens its own.
pub struct Snapshot(pub Option<Tx>);

impl<S: Send + Sync> FromRequestParts<S> for Snapshot {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Snapshot(
            parts
                .extensions
                .get::<AuthSnapshot>()
                .and_then(AuthSnapshot::take),
        ))
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| !t.is_empty())
}

/// A JSON request body: `application/scim+json` or `application/json` (Google sends the
/// latter), within the size limit, valid UTF-8, not nested absurdly deep.
#[derive(Debug)]
pub struct ScimBody(pub Value);

impl FromRequest<AppState> for ScimBody {
    type Rejection = ApiError;

    async fn from_request(req: Request<Body>, state: &AppState) -> Result<Self, ApiError> {
        let limit = if req.uri().path().ends_with("/Bulk") {
            state.config.scim.bulk_max_payload
        } else {
            state.config.scim.max_body
        };
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            // A Content-Type that is not visible ASCII names no media type: refused like
            // any other, never taken for an absent one.
            let ct = ct
                .to_str()
                .map_err(|_| {
                    ApiError::UnsupportedMediaType(
                        "the Content-Type is not a media type; send application/scim+json".into(),
                    )
                })?
                .to_ascii_lowercase();
            let essence = ct.split(';').next().unwrap_or_default().trim();
            if !(essence == "application/scim+json"
                || essence == "application/json"
                || essence.is_empty())
            {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "Content-Type {essence} is not supported; send application/scim+json"
                )));
            }
        }
        let too_large = || {
            ApiError::PayloadTooLarge(format!(
                "the request body exceeds the maximum of {limit} bytes"
            ))
        };
        if declared_length(req.headers()).is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| too_large())?;
        parse_json(&bytes).map(ScimBody)
    }
}

/// The body length a request declares (`Content-Length`), if it declares one.
pub fn declared_length(headers: &axum::http::HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

/// Parses a JSON body; serde_json refuses invalid UTF-8 and nesting deeper than 128.
pub fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::InvalidSyntax("the request body is empty".into()).into());
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ScimError::InvalidSyntax(format!("the request body is not valid JSON: {e}")).into()
    })
}

/// The query string as ordered pairs.
pub fn query_pairs(uri: &Uri) -> Result<Vec<(String, String)>, ApiError> {
    match uri.query() {
        None => Ok(Vec::new()),
        Some(q) => serde_urlencoded::from_str(q).map_err(|e| {
            ScimError::InvalidSyntax(format!("the query string is malformed: {e}")).into()
        }),
    }
}
