//! Routes of `crate::sso::saml`: SP metadata, the SP-initiated start (HTTP-Redirect
//! binding) and the Assertion Consumer Service (HTTP-POST binding), per connection.

use crate::http::AppState;
use crate::http::edge::SsoBody;
use crate::sso::saml::{self, Rejected, SamlError};
use crate::sso::signin::SignedIn;
use crate::store::StoreError;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

pub(super) fn router(state: AppState) -> Router {
    Router::new()
        .route("/sso/saml/{connection_id}/metadata", get(get_metadata))
        .route("/sso/saml/{connection_id}/start", get(start_sign_in))
        .route("/sso/saml/{connection_id}/acs", post(consume_response))
        .with_state(state)
}

/// A refusal as JSON `{"error","message"}`, or a small page for a browser.
struct SamlFailure {
    error: SamlError,
    html: bool,
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

impl SamlFailure {
    fn parts(&self) -> (StatusCode, &'static str) {
        match &self.error {
            SamlError::NoConnection(_) | SamlError::NoOrgConnection => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            SamlError::Disabled => (StatusCode::FORBIDDEN, "connection_disabled"),
            SamlError::Rejected(Rejected::Malformed(_)) => {
                (StatusCode::BAD_REQUEST, "invalid_saml_response")
            }
            SamlError::Rejected(_) => (StatusCode::FORBIDDEN, "saml_response_refused"),
            SamlError::UnknownRequest => (StatusCode::FORBIDDEN, "unknown_request"),
            SamlError::Unsolicited => (StatusCode::FORBIDDEN, "unsolicited_response"),
            SamlError::Replayed => (StatusCode::FORBIDDEN, "assertion_replayed"),
            SamlError::NoIdentity(_) => (StatusCode::FORBIDDEN, "no_identity"),
            SamlError::SignIn(r) => super::refusal_parts(r),
            SamlError::Store(StoreError::Connect(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            SamlError::Store(_) | SamlError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }
}

impl IntoResponse for SamlFailure {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let message = match status {
            StatusCode::INTERNAL_SERVER_ERROR => {
                // The cause is logged once here; it never carries the assertion.
                tracing::error!(cause = %self.error, "SAML sign-in failed");
                "Something went wrong on our side; the cause is in the server log.".to_owned()
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                tracing::warn!(cause = %self.error, "SAML sign-in unavailable");
                "Sign-in is unavailable right now; try again later.".to_owned()
            }
            _ => {
                tracing::info!(reason = %self.error, code, "SAML sign-in refused");
                self.error.to_string()
            }
        };
        let mut response = if self.html {
            let page = format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign-in failed</title>\
                 </head><body><h1>Sign-in failed</h1><p>{}</p></body></html>",
                html_escape(&message)
            );
            (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                page,
            )
                .into_response()
        } else {
            (status, Json(json!({"error": code, "message": message}))).into_response()
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Our SP metadata for the connection.
async fn get_metadata(
    State(state): State<AppState>,
    Path(connection_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, SamlFailure> {
    let xml = saml::metadata(&state.sso, &connection_id)
        .await
        .map_err(|error| SamlFailure {
            error,
            html: wants_html(&headers),
        })?;
    Ok((
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        xml,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
struct StartQuery {
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// Sends the browser to the IdP with a new AuthnRequest.
async fn start_sign_in(
    State(state): State<AppState>,
    Path(connection_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, SamlFailure> {
    let html = wants_html(&headers);
    let query: StartQuery = serde_urlencoded::from_str(query.as_deref().unwrap_or_default())
        .map_err(|_| SamlFailure {
            error: SamlError::Rejected(Rejected::Malformed("the query string is not valid".into())),
            html,
        })?;
    let relay_state = query.relay_state;
    // saml-bindings §3.4.3: RelayState MUST NOT exceed 80 bytes.
    if relay_state.as_ref().is_some_and(|r| r.len() > 80) {
        return Err(SamlFailure {
            error: SamlError::Rejected(Rejected::Malformed(
                "RelayState is longer than 80 bytes".into(),
            )),
            html,
        });
    }
    let url = saml::start(&state.sso, &connection_id, relay_state.as_deref())
        .await
        .map_err(|error| SamlFailure { error, html })?;
    let location = HeaderValue::from_str(&url).map_err(|_| SamlFailure {
        error: SamlError::Internal("the IdP URL is not a header value".into()),
        html,
    })?;
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    // Accepted and ignored: the session is the answer, there is nowhere to go back to.
    #[serde(rename = "RelayState")]
    _relay_state: Option<String>,
}

/// The Assertion Consumer Service (HTTP-POST binding, saml-bindings §3.5).
async fn consume_response(
    State(state): State<AppState>,
    Path(connection_id): Path<String>,
    headers: HeaderMap,
    SsoBody(body): SsoBody,
) -> Result<Response, SamlFailure> {
    let html = wants_html(&headers);
    let malformed = |m: &str| SamlFailure {
        error: SamlError::Rejected(Rejected::Malformed(m.to_owned())),
        html,
    };
    let form: AcsForm = serde_urlencoded::from_bytes(&body)
        .map_err(|_| malformed("the body is not a form (application/x-www-form-urlencoded)"))?;
    let saml_response = form
        .saml_response
        .ok_or_else(|| malformed("the form has no SAMLResponse field"))?;
    let SignedIn {
        access_token,
        refresh_token,
        expires_in,
        ..
    } = saml::consume(&state.sso, &connection_id, &saml_response)
        .await
        .map_err(|error| SamlFailure { error, html })?;
    // RFC 6749 §5.1: the token response, never cached.
    Ok((
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "refresh_token": refresh_token,
        })),
    )
        .into_response())
}
