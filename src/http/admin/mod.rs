//! The admin API under `/admin/v1`: JSON in and out, authenticated by an admin token,
//! everything scoped to the token's organization. Errors are [`error::AdminApiError`].

mod audit;
mod auth;
pub mod error;
mod openapi;
mod subscriptions;
mod teams;

use super::AppState;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, put};
use axum::{Json, Router};

pub use openapi::document;

/// Routes relative to `/admin/v1`.
pub fn router(state: AppState) -> Router {
    let authenticated = Router::new()
        .route("/teams", get(teams::list_teams).post(teams::create_team))
        .route(
            "/teams/{id}",
            get(teams::get_team)
                .patch(teams::update_team)
                .delete(teams::delete_team),
        )
        .route(
            "/teams/{id}/allocation",
            put(teams::set_allocation).delete(teams::clear_allocation),
        )
        .route("/teams/{id}/subscription", put(teams::move_team))
        .route(
            "/subscriptions",
            get(subscriptions::list_subscriptions).post(subscriptions::create_subscription),
        )
        .route(
            "/subscriptions/{id}",
            axum::routing::patch(subscriptions::update_subscription),
        )
        .route("/audit", get(audit::list_audit))
        .route_layer(from_fn_with_state(state.clone(), auth::authenticate));
    Router::new()
        // The document describes the API; it holds no org data, so it needs no token.
        .route("/openapi.json", get(|| async { Json(document()) }))
        .merge(authenticated)
        .fallback(auth::not_found)
        .method_not_allowed_fallback(auth::method_not_allowed)
        .with_state(state)
}
