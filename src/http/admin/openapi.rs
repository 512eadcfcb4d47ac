//! The OpenAPI document of the admin API, generated from the handlers' annotations.

use super::{audit, error, subscriptions, teams};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rollcall admin API",
        description = "Teams, seats, group mappings, org settings and roles, webhooks and the \
                       audit log of one organization, authenticated by an admin token \
                       (`rollcall admin-token create --org ORG`)."
    ),
    paths(
        teams::list_teams,
        teams::create_team,
        teams::get_team,
        teams::update_team,
        teams::delete_team,
        teams::set_allocation,
        teams::clear_allocation,
        teams::move_team,
        subscriptions::list_subscriptions,
        subscriptions::create_subscription,
        subscriptions::update_subscription,
        audit::list_audit,
    ),
    components(schemas(error::ErrorBody)),
    modifiers(&AdminToken),
    security(("admin_token" = []))
)]
pub struct ApiDoc;

struct AdminToken;

impl Modify for AdminToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as JSON.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
