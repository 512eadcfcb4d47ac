//! The OpenAPI document of the admin API, generated from the handlers' annotations.

use super::{
    audit, error, invitations, mappings, members, policies, roles, settings, sso_oidc, sso_saml,
    subscriptions, teams, webhooks,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rollcall admin API",
        description = "Teams, seats, group mappings, org settings and roles, policies, webhooks \
                       and the audit log of one organization, authenticated by an admin token \
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
        members::list_members,
        members::add_member,
        members::remove_member,
        members::waitlist,
        invitations::resend_invite,
        invitations::send_instructions,
        subscriptions::list_subscriptions,
        subscriptions::create_subscription,
        subscriptions::update_subscription,
        mappings::list_mappings,
        mappings::create_mapping,
        mappings::delete_mapping,
        settings::get_settings,
        settings::update_settings,
        roles::list_org_roles,
        roles::assign_org_role,
        roles::revoke_org_role,
        webhooks::list_webhooks,
        webhooks::create_webhook,
        webhooks::get_webhook,
        webhooks::update_webhook,
        webhooks::delete_webhook,
        audit::list_audit,
        policies::get_sso_policy,
        policies::put_sso_policy,
        policies::list_settings_policies,
        policies::create_settings_policy,
        policies::get_settings_policy,
        policies::update_settings_policy,
        policies::delete_settings_policy,
        policies::effective_settings,
        sso_saml::list_saml_connections,
        sso_saml::create_saml_connection,
        sso_saml::get_saml_connection,
        sso_saml::update_saml_connection,
        sso_saml::delete_saml_connection,
        sso_oidc::list_oidc_connections,
        sso_oidc::create_oidc_connection,
        sso_oidc::get_oidc_connection,
        sso_oidc::update_oidc_connection,
        sso_oidc::delete_oidc_connection,
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
