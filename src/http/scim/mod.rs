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
use resources::{AllKinds, Groups, KindRoute, Users};

/// Routes relative to `/scim/v2`.
pub fn router(state: AppState) -> Router {
    let router = kind_routes::<Users>(Router::new(), "/Users");
    kind_routes::<Groups>(router, "/Groups")
        .route("/.search", post(resources::search::<AllKinds>))
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

/// The routes of one resource kind under `base` (`/Users` or `/Groups`).
fn kind_routes<K: KindRoute>(router: Router<AppState>, base: &str) -> Router<AppState> {
    use resources::{create, delete, list, search, write};
    router
        .route(base, get(list::<K>).post(create::<K>))
        // Entra's reference collection sends `/Users/?filter=...`.
        .route(&format!("{base}/"), get(list::<K>).post(create::<K>))
        .route(&format!("{base}/.search"), post(search::<K>))
        .route(
            &format!("{base}/{{id}}"),
            get(resources::get::<K>)
                .put(write::<K>)
                .patch(write::<K>)
                .delete(delete::<K>),
        )
}
