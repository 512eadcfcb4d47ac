//! Routes of `crate::sso::saml`.

use crate::http::AppState;
use axum::Router;

pub(super) fn router(_state: AppState) -> Router {
    Router::new()
}
