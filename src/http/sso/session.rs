//! Routes of `crate::sso::session`: the JWK Set, the token endpoint (refresh grant) and
//! token introspection for the product's backend.
//!
//! Errors follow OAuth 2.0: `{"error", "error_description"}` (RFC 6749 §5.2), with
//! `Cache-Control: no-store` on every answer that carries or judges a token.

use super::invitations::TokenAnswer;
use super::openapi::{IntrospectForm, Introspection, Jwks, OAuthErrorBody, TokenForm};
use crate::http::AppState;
use crate::http::edge::SsoBody;
use crate::secrets;
use crate::sso::session::{RefreshError, SessionError};
use crate::store::tokens::{self, TokenKind};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub(super) fn router(state: AppState) -> Router {
    Router::new()
        .route("/.well-known/jwks.json", get(get_jwks))
        .route("/oauth/token", post(create_token))
        .route("/oauth/introspect", post(introspect_token))
        .with_state(state)
}

/// An OAuth error answer (RFC 6749 §5.2, RFC 6750 §3.1).
#[derive(Debug)]
enum OAuthError {
    /// 400 `invalid_request`: a parameter is missing, repeated or malformed.
    InvalidRequest(String),
    /// 400 `unsupported_grant_type`.
    UnsupportedGrantType(String),
    /// 400 `invalid_grant`: the refresh token is not (or no longer) valid.
    InvalidGrant(String),
    /// 401 `invalid_token`: the caller's own bearer token (introspection).
    InvalidToken(String),
    /// 415: not a form.
    UnsupportedMediaType(String),
    /// 500, cause logged.
    Internal(String),
    /// 503, cause logged.
    Unavailable(String),
}

impl From<SessionError> for OAuthError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Store(crate::store::StoreError::Connect(m)) => OAuthError::Unavailable(m),
            SessionError::Store(s) => OAuthError::Internal(s.to_string()),
            SessionError::Internal(m) => OAuthError::Internal(m),
        }
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        SessionError::Store(e).into()
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let (status, code, description) = match self {
            OAuthError::InvalidRequest(m) => (StatusCode::BAD_REQUEST, "invalid_request", m),
            OAuthError::UnsupportedGrantType(m) => {
                (StatusCode::BAD_REQUEST, "unsupported_grant_type", m)
            }
            OAuthError::InvalidGrant(m) => (StatusCode::BAD_REQUEST, "invalid_grant", m),
            OAuthError::InvalidToken(m) => (StatusCode::UNAUTHORIZED, "invalid_token", m),
            OAuthError::UnsupportedMediaType(m) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request", m)
            }
            OAuthError::Internal(cause) => {
                tracing::error!(%cause, "session request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "internal error; the cause is in the server log".to_owned(),
                )
            }
            OAuthError::Unavailable(cause) => {
                tracing::error!(%cause, "session request failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the database is unavailable; retry later".to_owned(),
                )
            }
        };
        let mut response = no_store(
            status,
            &json!({"error": code, "error_description": description}),
        );
        if code == "invalid_grant" {
            // A refresh token that is not live: a failed authentication attempt.
            response
                .extensions_mut()
                .insert(crate::http::rate_limit::AuthFailure);
        }
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"rollcall\", error=\"invalid_token\""),
            );
        }
        response
    }
}

/// A JSON answer that no cache may keep (RFC 6749 §5.1).
fn no_store(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The parameters of an `application/x-www-form-urlencoded` body (RFC 6749 §3.2: a
/// parameter without a value counts as absent; none may be repeated).
fn form(headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if essence != "application/x-www-form-urlencoded" {
        return Err(OAuthError::UnsupportedMediaType(
            "send the parameters as application/x-www-form-urlencoded".into(),
        ));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|e| OAuthError::InvalidRequest(format!("the form is malformed: {e}")))?;
    let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    if let Some((name, _)) = pairs.iter().find(|(n, v)| {
        crate::http::text::has_forbidden_char(n) || crate::http::text::has_forbidden_char(v)
    }) {
        return Err(OAuthError::InvalidRequest(format!(
            "the parameter {:?} holds a control character",
            name.escape_debug().to_string()
        )));
    }
    for (i, (name, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(n, _)| n == name) {
            return Err(OAuthError::InvalidRequest(format!(
                "the parameter {name} is repeated"
            )));
        }
    }
    Ok(pairs)
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// `GET /.well-known/jwks.json`: the public keys that verify access tokens (RFC 7517 §5).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "sessions",
    responses((status = 200, description = "The JWK Set (RFC 7517 §5)",
        content((Jwks = "application/jwk-set+json")))))]
async fn get_jwks(State(state): State<AppState>) -> Result<Response, OAuthError> {
    let jwks = state.sso.sessions().jwks().await?;
    let mut response = (StatusCode::OK, jwks.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    // Short, so that a rotated-in key is seen soon; verifiers refetch on an unknown kid.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    Ok(response)
}

/// `POST /oauth/token` with `grant_type=refresh_token` (RFC 6749 §6): a new access token
/// and a new refresh token; the one presented is retired.
#[utoipa::path(post, path = "/oauth/token", tag = "sessions",
    request_body(content((TokenForm = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "New tokens; the refresh token presented is used up", body = TokenAnswer),
        (status = 400, description = "A parameter is missing, repeated or malformed, the grant type is not \
            `refresh_token`, or the refresh token is not valid (`invalid_grant`)", body = OAuthErrorBody),
        (status = 415, description = "Not a form", body = OAuthErrorBody)))]
async fn create_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    SsoBody(body): SsoBody,
) -> Result<Response, OAuthError> {
    let pairs = form(&headers, &body)?;
    match param(&pairs, "grant_type") {
        Some("refresh_token") => {}
        Some(other) => {
            return Err(OAuthError::UnsupportedGrantType(format!(
                "grant_type {other:?} is not supported; use refresh_token"
            )));
        }
        None => {
            return Err(OAuthError::InvalidRequest(
                "grant_type is required (refresh_token)".into(),
            ));
        }
    }
    let refresh_token = param(&pairs, "refresh_token")
        .ok_or_else(|| OAuthError::InvalidRequest("refresh_token is required".into()))?;
    let issued = state
        .sso
        .sessions()
        .refresh(refresh_token)
        .await
        .map_err(|e| match e {
            RefreshError::Invalid | RefreshError::Reused => OAuthError::InvalidGrant(e.to_string()),
            RefreshError::Session(s) => s.into(),
        })?;
    Ok(no_store(
        StatusCode::OK,
        &json!(TokenAnswer {
            access_token: issued.access_token,
            token_type: "Bearer",
            expires_in: issued.expires_in,
            refresh_token: issued.refresh_token,
            user_id: None,
        }),
    ))
}

/// `POST /oauth/introspect` (RFC 7662): is this access token live, and whose is it? The
/// caller authenticates with an admin token of the org; a token of another org, like any
/// token that is not live, answers only `{"active": false}` (RFC 7662 §2.2).
#[utoipa::path(post, path = "/oauth/introspect", tag = "sessions",
    request_body(content((IntrospectForm = "application/x-www-form-urlencoded"))),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Whether the token is live, and whose it is", body = Introspection),
        (status = 400, description = "`token` is missing, repeated or malformed", body = OAuthErrorBody),
        (status = 401, description = "No admin token, or not a valid one", body = OAuthErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"rollcall\", error=\"invalid_token\"`"))),
        (status = 415, description = "Not a form", body = OAuthErrorBody)))]
async fn introspect_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    SsoBody(body): SsoBody,
) -> Result<Response, OAuthError> {
    let caller = crate::http::extract::bearer_token(&headers).ok_or_else(|| {
        OAuthError::InvalidToken(
            "an admin token of the organization is required: send it as \
             \"Authorization: Bearer <token>\""
                .into(),
        )
    })?;
    let hash = secrets::token_hash(caller);
    let mut tx = state.store.read().await?;
    let found = tokens::find_live_kind(&mut tx, TokenKind::Admin, &hash).await?;
    drop(tx);
    let admin = found
        .filter(|t| secrets::hashes_equal(&t.token_hash, &hash))
        .ok_or_else(|| {
            OAuthError::InvalidToken(
                "the bearer token is not a valid admin token or it was revoked".into(),
            )
        })?;
    let span = tracing::Span::current();
    span.record("org", admin.org_id.as_str());
    span.record("token", admin.label.as_str());
    let pairs = form(&headers, &body)?;
    let token = param(&pairs, "token")
        .ok_or_else(|| OAuthError::InvalidRequest("token is required".into()))?;
    let live = state.sso.sessions().live(token).await?;
    let Some(live) = live.filter(|l| admin.org_id == l.claims.org.as_str()) else {
        return Ok(no_store(StatusCode::OK, &json!({"active": false})));
    };
    let c = live.claims;
    // The teams and org role as they are now, not as signed into the token: the answer
    // is what the product authorises by.
    let mut body = json!({
        "active": true,
        "token_type": "Bearer",
        "iss": c.iss,
        "sub": c.sub,
        "org": c.org,
        "iat": c.iat,
        "exp": c.exp,
        "jti": c.jti,
        "sid": c.sid,
        "teams": live.teams,
    });
    if let (Some(role), Some(obj)) = (live.org_role, body.as_object_mut()) {
        obj.insert("org_role".into(), Value::String(role.as_str().to_owned()));
    }
    Ok(no_store(StatusCode::OK, &body))
}
