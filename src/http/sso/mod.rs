//! The SSO surface: sign-in start, the OIDC callback, the SAML metadata and ACS,
//! invitation links, email sign-in, and the session endpoints (JWKS, token, introspection).
//! Mounted at the root: these paths are what IdPs and browsers are sent to.

mod invitations;
mod oidc;
mod openapi;
mod saml;
mod session;

use super::AppState;
use axum::Router;
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
