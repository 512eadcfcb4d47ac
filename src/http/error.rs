//! The one error type that becomes an HTTP response: the SCIM error body of RFC 7644
//! §3.12 (`schemas`, `status` as a string, `scimType`, `detail`) as application/scim+json.

use super::SCIM_CONTENT_TYPE;
use crate::provisioning;
use crate::store::StoreError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scim::ScimError;
use serde_json::json;

/// The SCIM error message schema.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Scim(#[from] ScimError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// Refused by the organization's rules (e.g. no free seat with seat overflow
    /// `reject`). Not 409: IdPs read a 409 on create as "already exists" and link.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    PreconditionFailed(String),
    /// The change conflicts with a rule of the organization (e.g. it would remove the
    /// last org admin): 409 without a scimType, since none of RFC 7644's fits.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UriTooLong(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Over a rate limit (`http::rate_limit` adds `Retry-After`).
    #[error("{0}")]
    TooManyRequests(String),
    /// 501: e.g. `/Me` asked with a token that no user stands behind (RFC 7644 §3.11).
    #[error("{0}")]
    NotImplemented(String),
    /// Our fault: logged with its cause, answered with a generic 500.
    #[error("{0}")]
    Internal(String),
    /// The database is unreachable or failing: 503, so IdPs retry.
    #[error("{0}")]
    Unavailable(String),
}

impl From<provisioning::Error> for ApiError {
    fn from(e: provisioning::Error) -> Self {
        match e {
            provisioning::Error::Scim(e) => ApiError::Scim(e),
            provisioning::Error::NotFound(m) => ApiError::NotFound(m),
            provisioning::Error::PreconditionFailed(m) => ApiError::PreconditionFailed(m),
            provisioning::Error::SeatLimit(m) => ApiError::Forbidden(m),
            provisioning::Error::LastOrgAdmin(m) => ApiError::Conflict(m),
            provisioning::Error::Store(e) => e.into(),
            provisioning::Error::Internal(m) => ApiError::Internal(m),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Connect(m) => ApiError::Unavailable(m),
            StoreError::Conflict { constraint } => {
                ApiError::Internal(format!("unexpected conflict on {constraint}"))
            }
            StoreError::Migrate(m)
            | StoreError::Decode(m)
            | StoreError::Database(m)
            | StoreError::UnsupportedUrl(m) => ApiError::Internal(m),
            e @ (StoreError::Seal(_) | StoreError::NoMasterKey) => {
                ApiError::Internal(e.to_string())
            }
        }
    }
}

impl ApiError {
    /// Status, scimType and the detail shown to the client.
    pub fn parts(&self) -> (StatusCode, Option<&'static str>, String) {
        match self {
            ApiError::Scim(e) => (
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
                Some(e.scim_type()),
                e.detail().to_owned(),
            ),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, None, m.clone()),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, None, m.clone()),
            ApiError::MethodNotAllowed(m) => (StatusCode::METHOD_NOT_ALLOWED, None, m.clone()),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, None, m.clone()),
            ApiError::PreconditionFailed(m) => (StatusCode::PRECONDITION_FAILED, None, m.clone()),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, None, m.clone()),
            ApiError::PayloadTooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, None, m.clone()),
            ApiError::UriTooLong(m) => (StatusCode::URI_TOO_LONG, None, m.clone()),
            ApiError::UnsupportedMediaType(m) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Some("invalidSyntax"),
                m.clone(),
            ),
            ApiError::TooManyRequests(m) => (StatusCode::TOO_MANY_REQUESTS, None, m.clone()),
            ApiError::NotImplemented(m) => (StatusCode::NOT_IMPLEMENTED, None, m.clone()),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "internal error; the cause is in the server log".to_owned(),
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "the database is unavailable; retry later".to_owned(),
            ),
        }
    }

    /// The SCIM error body.
    pub fn body(&self) -> serde_json::Value {
        let (status, scim_type, detail) = self.parts();
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": status.as_u16().to_string(),
            "detail": detail,
        });
        if let (Some(t), Some(obj)) = (scim_type, body.as_object_mut()) {
            obj.insert("scimType".into(), t.into());
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(cause) | ApiError::Unavailable(cause) => {
                tracing::error!(%cause, "request failed");
            }
            _ => {}
        }
        let (status, _, _) = self.parts();
        let mut response = (status, self.body().to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(SCIM_CONTENT_TYPE),
        );
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            // The body was refused unread: what is left of it would be taken for the next
            // request, so the client must not reuse this connection (RFC 9112 §9.6).
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"rollcall\""),
            );
        }
        response
    }
}
