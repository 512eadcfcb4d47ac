//! The SCIM 2.0 routes under `/scim/v2`, all behind bearer-token authentication.

mod bulk;
mod discovery;
mod list;
mod me;
mod render;
mod resources;

use super::AppState;
use super::extract::{authenticate, method_not_allowed, not_found};
use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use resources::{groups, users};

/// Routes relative to `/scim/v2`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/Users", get(users::list).post(users::create))
        // Entra's reference collection sends `/Users/?filter=...`.
        .route("/Users/", get(users::list).post(users::create))
        .route("/Users/.search", post(users::search))
        .route(
            "/Users/{id}",
            get(users::get)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route("/Groups", get(groups::list).post(groups::create))
        .route("/Groups/", get(groups::list).post(groups::create))
        .route("/Groups/.search", post(groups::search))
        .route(
            "/Groups/{id}",
            get(groups::get)
                .put(groups::replace)
                .patch(groups::patch)
                .delete(groups::delete),
        )
        .route("/.search", post(resources::search_all))
        .route("/Bulk", post(bulk::bulk))
        .route(
            "/ServiceProviderConfig",
            get(discovery::service_provider_config),
        )
        .route("/ResourceTypes", get(discovery::resource_types))
        .route("/ResourceTypes/{name}", get(discovery::resource_type))
        .route("/Schemas", get(discovery::schemas))
        .route("/Schemas/{id}", get(discovery::schema))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(from_fn_with_state(state.clone(), authenticate))
        // After the route layer, so the SCIM-token check does not guard it: `/Me` takes a
        // session access token (and answers a SCIM token itself).
        .route("/Me", get(me::get_me))
        .with_state(state)
}
