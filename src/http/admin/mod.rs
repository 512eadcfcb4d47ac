//! The admin API under `/admin/v1`: JSON in and out, authenticated by an admin token,
//! everything scoped to the token's organization. Errors are [`error::AdminApiError`].

mod audit;
mod auth;
pub mod error;
mod invitations;
mod mappings;
mod members;
mod openapi;
mod policies;
mod roles;
mod settings;
mod sso_connections;
mod sso_oidc;
mod sso_saml;
mod subscriptions;
mod teams;
mod webhooks;

use super::AppState;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post, put};
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
            "/teams/{id}/members",
            get(members::list_members).post(members::add_member),
        )
        .route(
            "/teams/{id}/members/{user_id}",
            delete(members::remove_member),
        )
        .route("/teams/{id}/waitlist", get(members::waitlist))
        .route(
            "/teams/{id}/members/resend-invite",
            post(invitations::resend_invite),
        )
        .route(
            "/teams/{id}/members/send-instructions",
            post(invitations::send_instructions),
        )
        .route(
            "/subscriptions",
            get(subscriptions::list_subscriptions).post(subscriptions::create_subscription),
        )
        .route(
            "/subscriptions/{id}",
            axum::routing::patch(subscriptions::update_subscription),
        )
        .route(
            "/group-mappings",
            get(mappings::list_mappings).post(mappings::create_mapping),
        )
        .route("/group-mappings/{id}", delete(mappings::delete_mapping))
        .route(
            "/settings",
            get(settings::get_settings).patch(settings::update_settings),
        )
        .route(
            "/org-roles",
            get(roles::list_org_roles).post(roles::assign_org_role),
        )
        .route("/org-roles/{user_id}", delete(roles::revoke_org_role))
        .route(
            "/webhooks",
            get(webhooks::list_webhooks).post(webhooks::create_webhook),
        )
        .route(
            "/webhooks/{id}",
            get(webhooks::get_webhook)
                .patch(webhooks::update_webhook)
                .delete(webhooks::delete_webhook),
        )
        .route(
            "/sso/saml-connections",
            get(sso_saml::list_saml_connections).post(sso_saml::create_saml_connection),
        )
        .route(
            "/sso/saml-connections/{id}",
            get(sso_saml::get_saml_connection)
                .patch(sso_saml::update_saml_connection)
                .delete(sso_saml::delete_saml_connection),
        )
        .route(
            "/sso/oidc-connections",
            get(sso_oidc::list_oidc_connections).post(sso_oidc::create_oidc_connection),
        )
        .route(
            "/sso/oidc-connections/{id}",
            get(sso_oidc::get_oidc_connection)
                .patch(sso_oidc::update_oidc_connection)
                .delete(sso_oidc::delete_oidc_connection),
        )
        .route("/audit", get(audit::list_audit))
        .route(
            "/policies/sso",
            get(policies::get_sso_policy).put(policies::put_sso_policy),
        )
        .route(
            "/policies/settings",
            get(policies::list_settings_policies).post(policies::create_settings_policy),
        )
        .route(
            "/policies/settings/{id}",
            get(policies::get_settings_policy)
                .patch(policies::update_settings_policy)
                .delete(policies::delete_settings_policy),
        )
        .route(
            "/teams/{id}/effective-settings",
            get(policies::effective_settings),
        )
        .route_layer(from_fn_with_state(state.clone(), auth::authenticate));
    Router::new()
        // The document describes the API; it holds no org data, so it needs no token.
        .route("/openapi.json", get(|| async { Json(document()) }))
        .merge(authenticated)
        .fallback(auth::not_found)
        .method_not_allowed_fallback(auth::method_not_allowed)
        .with_state(state)
}
