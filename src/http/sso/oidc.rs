//! Routes of `crate::sso::oidc`: `GET /sso/{org_id}/start` sends the browser to the org's
//! identity provider (its OIDC or SAML connection), `GET /sso/oidc/callback` is where it comes back (the one redirect
//! URI of every OIDC connection). Refusals answer `{"error", "message"}`, or a small
//! page when the browser asks for HTML.

use crate::domain::OrgId;
use crate::http::AppState;
use crate::sso::oidc::{Callback, LoginError, cookie_name};
use crate::sso::start::StartRedirect;
use crate::store::StoreError;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;

const CALLBACK_PATH: &str = "/sso/oidc/callback";

pub(super) fn router(state: AppState) -> Router {
    Router::new()
        .route("/sso/{org_id}/start", get(start_sign_in))
        .route(CALLBACK_PATH, get(finish_oidc_sign_in))
        .with_state(state)
}

#[derive(Debug, Default, Deserialize)]
struct StartQuery {
    connection: Option<String>,
    login_hint: Option<String>,
}

/// A refusal as the person sees it: JSON, or HTML for a browser that asks for it.
struct SignInFailure {
    error: LoginError,
    html: bool,
    clear_cookie: Option<String>,
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

fn bad_query(message: String) -> LoginError {
    LoginError::BadRequest(message)
}

/// Status and stable code of each refusal. Matched by name: a new variant must choose.
fn parts(e: &LoginError) -> (StatusCode, &'static str) {
    match e {
        LoginError::NoConnection => (StatusCode::NOT_FOUND, "no_connection"),
        LoginError::ConnectionRequired(_) => (StatusCode::BAD_REQUEST, "connection_required"),
        LoginError::UnknownConnection(_) => (StatusCode::NOT_FOUND, "unknown_connection"),
        LoginError::BadRequest(_) | LoginError::BadLoginHint => {
            (StatusCode::BAD_REQUEST, "invalid_request")
        }
        LoginError::InvalidState => (StatusCode::BAD_REQUEST, "invalid_state"),
        LoginError::Expired => (StatusCode::BAD_REQUEST, "expired"),
        LoginError::BrowserMismatch => (StatusCode::BAD_REQUEST, "browser_mismatch"),
        LoginError::IdpRefused { .. } => (StatusCode::UNAUTHORIZED, "idp_refused"),
        LoginError::IssuerMismatch => (StatusCode::BAD_REQUEST, "issuer_mismatch"),
        LoginError::MissingCode => (StatusCode::BAD_REQUEST, "missing_code"),
        LoginError::ConnectionGone => (StatusCode::CONFLICT, "connection_gone"),
        LoginError::Idp(_) => (StatusCode::BAD_GATEWAY, "idp_unavailable"),
        LoginError::InvalidIdToken(_) => (StatusCode::UNAUTHORIZED, "invalid_id_token"),
        LoginError::NonceMismatch => (StatusCode::UNAUTHORIZED, "nonce_mismatch"),
        LoginError::MissingClaim(_) => (StatusCode::FORBIDDEN, "missing_claim"),
        LoginError::EmailNotVerified => (StatusCode::FORBIDDEN, "email_not_verified"),
        LoginError::Refused(r) => super::refusal_parts(r),
        LoginError::Store(StoreError::Connect(_)) => {
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
        LoginError::Store(_) | LoginError::Internal(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        }
    }
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

impl IntoResponse for SignInFailure {
    fn into_response(self) -> Response {
        let (status, code) = parts(&self.error);
        let message = if status.is_server_error() && status != StatusCode::BAD_GATEWAY {
            // The cause is ours; it goes to the log (without secrets), not to the person.
            tracing::error!(cause = %self.error, "sign-in failed");
            match status {
                StatusCode::SERVICE_UNAVAILABLE => {
                    "Sign-in is unavailable right now; try again later.".to_owned()
                }
                _ => "Something went wrong on our side; the cause is in the server log.".to_owned(),
            }
        } else if matches!(self.error, LoginError::InvalidIdToken(_)) {
            // The IdP is up but sent a token we cannot trust: worth an operator's look,
            // not an outage alarm. The reason names the check or claim, never the token.
            tracing::warn!(code, reason = %self.error, "the identity provider sent a bad ID token");
            capitalise(&self.error.to_string())
        } else {
            tracing::info!(code, reason = %self.error, "sign-in refused");
            capitalise(&self.error.to_string())
        };
        let mut response = if self.html {
            let page = format!(
                "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
                 <title>Sign-in failed</title></head><body><h1>Sign-in failed</h1>\
                 <p>{}</p><p><small>({code})</small></p></body></html>\n",
                escape_html(&message)
            );
            (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                page,
            )
                .into_response()
        } else {
            (
                status,
                axum::Json(json!({"error": code, "message": message})),
            )
                .into_response()
        };
        no_store(response.headers_mut());
        if let Some(name) = self.clear_cookie
            && let Ok(v) = HeaderValue::from_str(&format!(
                "{name}=; Path={CALLBACK_PATH}; Max-Age=0; HttpOnly; SameSite=Lax"
            ))
        {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
        response
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => {
            let mut out: String = first.to_uppercase().collect();
            out.push_str(chars.as_str());
            if !out.ends_with('.') {
                out.push('.');
            }
            out
        }
        None => String::new(),
    }
}

/// RFC 6749 §5.1: token responses (and anything about a sign-in) are never cached.
fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// The value of cookie `name` in the request's `Cookie` headers (RFC 6265 §5.4).
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"').to_owned())
}

/// `GET /sso/{org_id}/start[?connection=ID][&login_hint=...]`: redirects to the IdP and
/// sets the cookie that binds the login to this browser.
async fn start_sign_in(
    State(state): State<AppState>,
    Path(org_id): Path<OrgId>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, SignInFailure> {
    let html = wants_html(&headers);
    let fail = |error| SignInFailure {
        error,
        html,
        clear_cookie: None,
    };
    let query: StartQuery = serde_urlencoded::from_str(query.as_deref().unwrap_or_default())
        .map_err(|e| fail(bad_query(format!("the query string is malformed: {e}"))))?;
    let started = state
        .sso
        .start_sign_in(
            &org_id,
            query.connection.as_deref(),
            query.login_hint.as_deref(),
        )
        .await
        .map_err(fail)?;
    let started = match started {
        StartRedirect::Oidc(started) => started,
        // SAML binds the login by its AuthnRequest id (InResponseTo), not a cookie.
        StartRedirect::Saml { redirect_to } => {
            let location = HeaderValue::from_str(&redirect_to)
                .map_err(|e| fail(LoginError::Internal(format!("SAML redirect: {e}"))))?;
            let mut response = StatusCode::FOUND.into_response();
            response.headers_mut().insert(header::LOCATION, location);
            no_store(response.headers_mut());
            return Ok(response);
        }
    };
    let secure = if state.sso.oidc_secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    // SameSite=Lax: the IdP sends the browser back with a top-level GET, which Lax allows.
    let cookie = format!(
        "{}={}; Path={CALLBACK_PATH}; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        started.cookie_name, started.cookie_value, started.max_age
    );
    let location = HeaderValue::from_str(&started.redirect_to)
        .map_err(|e| fail(LoginError::Internal(format!("authorization URL: {e}"))))?;
    let cookie = HeaderValue::from_str(&cookie)
        .map_err(|e| fail(LoginError::Internal(format!("cookie: {e}"))))?;
    let mut response = StatusCode::FOUND.into_response();
    response.headers_mut().insert(header::LOCATION, location);
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    no_store(response.headers_mut());
    Ok(response)
}

/// `GET /sso/oidc/callback?code=...&state=...`: finishes the sign-in and answers the
/// session's tokens (RFC 6749 §5.1 shape).
async fn finish_oidc_sign_in(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, SignInFailure> {
    let html = wants_html(&headers);
    let callback: Callback = match serde_urlencoded::from_str(query.as_deref().unwrap_or_default())
    {
        Ok(c) => c,
        Err(e) => {
            return Err(SignInFailure {
                error: bad_query(format!("the query string is malformed: {e}")),
                html,
                clear_cookie: None,
            });
        }
    };
    let name = callback.state.as_deref().map(cookie_name);
    let browser = name.as_deref().and_then(|n| cookie(&headers, n));
    let signed_in = state
        .sso
        .finish_oidc_sign_in(callback, browser.as_deref())
        .await
        .map_err(|error| SignInFailure {
            error,
            html,
            clear_cookie: name.clone(),
        })?;
    let mut response = axum::Json(json!({
        "access_token": signed_in.access_token,
        "token_type": "Bearer",
        "expires_in": signed_in.expires_in,
        "refresh_token": signed_in.refresh_token,
    }))
    .into_response();
    no_store(response.headers_mut());
    if let Some(name) = name
        && let Ok(v) = HeaderValue::from_str(&format!(
            "{name}=; Path={CALLBACK_PATH}; Max-Age=0; HttpOnly; SameSite=Lax"
        ))
    {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_cookie_among_several() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; rollcall_oidc_x=abc; b=2"),
        );
        assert_eq!(cookie(&h, "rollcall_oidc_x").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape_html("<b>\"x\"&"), "&lt;b&gt;&quot;x&quot;&amp;");
    }
}
