//! Routes of `crate::sso::session`.

use crate::http::AppState;
use axum::Router;

pub(super) fn router(_state: AppState) -> Router {
    Router::new()
}
