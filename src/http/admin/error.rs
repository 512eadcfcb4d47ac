//! The admin API's one error type: `{"error": "<code>", "message": "<sentence>"}` with
//! the matching status. (The SCIM error body is for IdPs; this one is for people.)

use crate::provisioning::admin::AdminError;
use crate::store::StoreError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Everything an admin handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AdminApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    LastOrgAdmin(String),
    #[error("{0}")]
    SeatLimit(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Over a rate limit (`http::rate_limit` adds `Retry-After`).
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    UriTooLong(String),
    /// Our fault: logged with its cause, answered with a generic message.
    #[error("{0}")]
    Internal(String),
    /// The database is unreachable: 503.
    #[error("{0}")]
    Unavailable(String),
}

impl From<AdminError> for AdminApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::NotFound(m) => AdminApiError::NotFound(m),
            AdminError::Invalid(m) => AdminApiError::BadRequest(m),
            AdminError::Conflict(m) => AdminApiError::Conflict(m),
            AdminError::LastOrgAdmin(m) => AdminApiError::LastOrgAdmin(m),
            AdminError::SeatLimit(m) => AdminApiError::SeatLimit(m),
            AdminError::Store(e) => e.into(),
            AdminError::Internal(m) => AdminApiError::Internal(m),
        }
    }
}

impl From<StoreError> for AdminApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Connect(m) => AdminApiError::Unavailable(m),
            StoreError::Conflict { constraint } => {
                AdminApiError::Internal(format!("unexpected conflict on {constraint}"))
            }
            StoreError::Migrate(m)
            | StoreError::Decode(m)
            | StoreError::Database(m)
            | StoreError::UnsupportedUrl(m) => AdminApiError::Internal(m),
            e @ (StoreError::Seal(_) | StoreError::NoMasterKey) => {
                AdminApiError::Internal(e.to_string())
            }
        }
    }
}
impl AdminApiError {
    /// Status, error code and the message shown.
    pub fn parts(&self) -> (StatusCode, ErrorCode, String) {
        match self {
            AdminApiError::Unauthorized(m) => {
                (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, m.clone())
            }
            AdminApiError::BadRequest(m) => (
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                m.clone(),
            ),
            AdminApiError::NotFound(m) => (StatusCode::NOT_FOUND, ErrorCode::NotFound, m.clone()),
            AdminApiError::MethodNotAllowed(m) => (
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::MethodNotAllowed,
                m.clone(),
            ),
            AdminApiError::Conflict(m) => (StatusCode::CONFLICT, ErrorCode::Conflict, m.clone()),
            AdminApiError::LastOrgAdmin(m) => {
                (StatusCode::CONFLICT, ErrorCode::LastOrgAdmin, m.clone())
            }
            AdminApiError::SeatLimit(m) => (StatusCode::CONFLICT, ErrorCode::SeatLimit, m.clone()),
            AdminApiError::PayloadTooLarge(m) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                m.clone(),
            ),
            AdminApiError::TooManyRequests(m) => (
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                m.clone(),
            ),
            AdminApiError::UriTooLong(m) => {
                (StatusCode::URI_TOO_LONG, ErrorCode::UriTooLong, m.clone())
            }
            AdminApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                "Something went wrong on our side; the cause is in the server log.".to_owned(),
            ),
            AdminApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                "The database is unavailable; try again later.".to_owned(),
            ),
        }
    }
}

/// The stable code of an admin API error: the `error` of its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 401: no admin token, or not a valid one.
    Unauthorized,
    /// 400: the body or query string is malformed or breaks a rule of the request.
    InvalidRequest,
    /// 404: no such endpoint, or no such resource in the token's organization.
    NotFound,
    /// 405: the endpoint exists, but not with this method.
    MethodNotAllowed,
    /// 409: the change conflicts with the current state (a name taken, a team not empty ...).
    Conflict,
    /// 409: the change would leave the organization without an org admin.
    LastOrgAdmin,
    /// 409: no seat is free and seat overflow is `reject`.
    SeatLimit,
    /// 413: the request body is larger than the server accepts.
    PayloadTooLarge,
    /// 414: the request's URI is longer than the server reads.
    UriTooLong,
    /// 429: over a rate limit; `Retry-After` says when to try again.
    RateLimited,
    /// 500: our fault; the cause is in the server log.
    Internal,
    /// 503: the database is unavailable.
    Unavailable,
}

/// The body of every admin API error.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code a client can match on.
    pub error: ErrorCode,
    /// What went wrong, in a sentence a person understands.
    pub message: String,
}

impl IntoResponse for AdminApiError {
    fn into_response(self) -> Response {
        match &self {
            AdminApiError::Internal(cause) | AdminApiError::Unavailable(cause) => {
                tracing::error!(%cause, "admin request failed");
            }
            _ => {}
        }
        let (status, error, message) = self.parts();
        let mut response = (status, Json(ErrorBody { error, message })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"rollcall-admin\""),
            );
        }
        response
    }
}
