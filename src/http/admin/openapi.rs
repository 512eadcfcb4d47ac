//! The OpenAPI document of the admin API, generated from the handlers' annotations.

use super::{
    audit, error, invitations, mappings, members, policies, roles, settings, sso_oidc, sso_saml,
    subscriptions, teams, webhooks,
};
use crate::http::openapi::{AdminToken, EachOperation, RequestText, retry_after};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ObjectBuilder, OneOfBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder, Schema};
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
    modifiers(
        &AdminToken,
        &COMMON_RESPONSES,
        &AlternativeFields,
        &RequestText
    ),
    security(("admin_token" = []))
)]
pub struct ApiDoc;

/// Adds the answers an operation can give whatever its handler, so no annotation can
/// forget them: 401 everywhere (the token is checked first); 400 and 413 where a JSON body
/// is read; 400 where a query string is read; 404 where the path names a resource; 500 and
/// 503 everywhere (`http::router`'s timeout answers 503 too). A handler's own description
/// of a 400 or 404 is kept.
const COMMON_RESPONSES: EachOperation = EachOperation(add_common_responses);

fn add_common_responses(path: &str, op: &mut Operation) {
    let reads_query = op
        .parameters
        .iter()
        .flatten()
        .any(|p| p.parameter_in == ParameterIn::Query);
    let responses = &mut op.responses.responses;
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| error_response(description).build().into());
    };
    if op.request_body.is_some() {
        add(
            "400",
            "The body is empty, not JSON, or not of the schema (an unknown field, a wrong type \
             or value)",
        );
        add("413", "The body is larger than 1 MiB");
    }
    if reads_query {
        add("400", "The query string is not of the parameters' schema");
    }
    if path.contains('{') {
        add("404", "No such resource in the token's organization");
    }
    add("414", "The URI is longer than 32 KiB");
    add("500", "Our fault; the cause is in the server log");
    add(
        "503",
        "The database is unavailable, or the request took longer than 60 s (that answer has \
         no body); try again later",
    );
    responses.entry("429".to_owned()).or_insert_with(|| {
        error_response(
            "Over a rate limit: too many requests from this address or with this token, \
                 or too many failed authentications from this address",
        )
        .header("Retry-After", retry_after())
        .build()
        .into()
    });
    let unauthorized = error_response("No admin token, or not a valid one (a SCIM token is not)")
        .header(
            "WWW-Authenticate",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some("`Bearer realm=\"rollcall-admin\"`"))
                .build(),
        );
    responses.insert("401".to_owned(), unauthorized.build().into());
    for (status, response) in responses.iter_mut() {
        if let RefOr::T(r) = response
            && r.description.is_empty()
        {
            r.description = default_description(status).to_owned();
        }
    }
}

/// For an annotation that names a status without saying what it means here.
fn default_description(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "204" => "Done; no body",
        "404" => "No such resource in the token's organization",
        "409" => "The change conflicts with the current state",
        _ => "See the error body",
    }
}

fn error_response(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    )
}

/// Rules between fields that a derived schema cannot state. The server refuses a request
/// that breaks them with 400.
struct AlternativeFields;

impl Modify for AlternativeFields {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        // The IdP's metadata, or its entity id, SSO URL and certificate; given both, the
        // explicit fields win over the metadata's.
        constrain(
            &mut components.schemas,
            "NewSamlConnection",
            AnyOfBuilder::new()
                .item(present(&["idp_metadata_xml"], &[]))
                .item(present(
                    &["idp_entity_id", "idp_sso_url", "idp_certificate"],
                    &[],
                ))
                .into(),
        );
        // A team (with an optional team role) or an org role, never both.
        constrain(
            &mut components.schemas,
            "NewMapping",
            OneOfBuilder::new()
                .item(present(&["team_id"], &["org_role"]))
                .item(present(&["org_role"], &["team_id", "team_role"]))
                .into(),
        );
    }
}

/// An object whose `required` fields are strings and whose `absent` fields are absent or
/// null (the server reads null as absent).
fn present(required: &[&str], absent: &[&str]) -> ObjectBuilder {
    let mut o = ObjectBuilder::new();
    for name in required {
        o = o
            .required(*name)
            .property(*name, ObjectBuilder::new().schema_type(Type::String));
    }
    for name in absent {
        o = o.property(*name, ObjectBuilder::new().schema_type(Type::Null));
    }
    o
}

/// Replaces the component `name` by all of itself and `rule`.
fn constrain(
    schemas: &mut std::collections::BTreeMap<String, RefOr<Schema>>,
    name: &str,
    rule: Schema,
) {
    if let Some(schema) = schemas.remove(name) {
        let both = AllOfBuilder::new().item(schema).item(rule).build();
        schemas.insert(name.to_owned(), Schema::AllOf(both).into());
    }
}

/// The document as JSON.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
