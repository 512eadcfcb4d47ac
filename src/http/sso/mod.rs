//! The SSO surface: sign-in start, the OIDC callback, the SAML metadata and ACS,
//! invitation links, email sign-in, and the session endpoints (JWKS, token, introspection).
//! Mounted at the root: these paths are what IdPs and browsers are sent to.

mod invitations;
mod oidc;
mod openapi;
mod saml;
mod session;

use super::AppState;
use crate::provisioning;
use crate::sso::signin::Refusal;
use crate::store::StoreError;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

pub use openapi::document;

/// Every SSO route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/openapi.json", get(|| async { axum::Json(document()) }))
        .merge(session::router(state.clone()))
        .merge(oidc::router(state.clone()))
        .merge(saml::router(state.clone()))
        .merge(invitations::router(state))
}

/// Status and code of a refusal by the sign-in door every method shares, the same on every
/// sign-in route (OIDC, SAML, email code), so a client handles `user_deactivated` once.
/// Matched by name: a new variant must choose.
fn refusal_parts(r: &Refusal) -> (StatusCode, &'static str) {
    match r {
        Refusal::NoSuchUser => (StatusCode::FORBIDDEN, "no_such_user"),
        Refusal::Ambiguous => (StatusCode::CONFLICT, "ambiguous_user"),
        Refusal::Deactivated => (StatusCode::FORBIDDEN, "user_deactivated"),
        Refusal::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        Refusal::Provisioning(p) => match p {
            provisioning::Error::SeatLimit(_) => (StatusCode::FORBIDDEN, "seat_limit"),
            // Only just-in-time creation runs the SCIM rules during a sign-in.
            provisioning::Error::Scim(_) => (StatusCode::FORBIDDEN, "jit_refused"),
            provisioning::Error::Store(StoreError::Connect(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            provisioning::Error::NotFound(_)
            | provisioning::Error::PreconditionFailed(_)
            | provisioning::Error::LastOrgAdmin(_)
            | provisioning::Error::Store(_)
            | provisioning::Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        },
    }
}
