//! `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas` (RFC 7644 §4), built from the
//! schema documents in `scim-schemas/` and the configured limits.

use super::render::{LIST_SCHEMA, base_url};
use super::resources::scim_response;
use crate::http::{ApiError, AppState};
use crate::provisioning::Actor;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use scim::discovery::{Limits, PaginationMethod};
use scim::schema::ROLLCALL_USER_SCHEMA;
use serde_json::{Map, Value, json};

fn list_of(items: Vec<Map<String, Value>>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": items.len(),
        "itemsPerPage": items.len(),
        "startIndex": 1,
        "Resources": items,
    })
}

fn ok(body: &Value) -> Response {
    scim_response(StatusCode::OK, body, None, None)
}

pub async fn service_provider_config(
    State(s): State<AppState>,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    let l = &s.config.scim;
    let limits = Limits {
        base_url: base_url(&s, &h),
        max_results: l.max_results,
        bulk_max_operations: l.bulk_max_operations,
        bulk_max_payload: l.bulk_max_payload,
        default_pagination: PaginationMethod::Index,
        default_page_size: l.default_count,
        max_page_size: l.max_results,
        // Cursors name a position, not server state, so they do not expire.
        cursor_timeout_secs: 86_400,
        documentation_uri: None,
    };
    let mut doc = scim::discovery::service_provider_config(&limits);
    // Passwords sent by PUT or PATCH are accepted (and stored only as a hash).
    doc.insert("changePassword".into(), json!({"supported": true}));
    Ok(ok(&Value::Object(doc)))
}

pub async fn resource_types(State(s): State<AppState>, h: HeaderMap) -> Result<Response, ApiError> {
    Ok(ok(&list_of(scim::discovery::resource_types(
        &s.registry,
        &base_url(&s, &h),
    ))))
}

pub async fn resource_type(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let rt = s
        .registry
        .resource_types()
        .iter()
        .find(|rt| rt.name.eq_ignore_ascii_case(&name))
        .ok_or_else(|| ApiError::NotFound(format!("no resource type {name:?}")))?;
    Ok(ok(&Value::Object(scim::discovery::resource_type(
        rt,
        &base_url(&s, &h),
    ))))
}

pub async fn schemas(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    let mut docs = scim::discovery::schemas(&s.registry, &base_url(&s, &h));
    for doc in &mut docs {
        with_team_ids(&s, &actor, doc).await?;
    }
    Ok(ok(&list_of(docs)))
}

pub async fn schema(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut doc = scim::discovery::schema(&s.registry, &id, &base_url(&s, &h))
        .ok_or_else(|| ApiError::NotFound(format!("no schema {id:?}")))?;
    with_team_ids(&s, &actor, &mut doc).await?;
    Ok(ok(&Value::Object(doc)))
}

/// The rollcall extension as this org sees it: `teams.value` lists the org's team ids
/// as its canonical values (RFC 7643 §7), so an IdP admin (and a tester generating
/// values from the schema) can pick a team that exists.
async fn with_team_ids(
    s: &AppState,
    actor: &Actor,
    doc: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    if doc.get("id").and_then(Value::as_str) != Some(ROLLCALL_USER_SCHEMA) {
        return Ok(());
    }
    let ids = s.directory.team_ids(actor).await?;
    let value = doc
        .get_mut("attributes")
        .and_then(Value::as_array_mut)
        .and_then(|attrs| attrs.iter_mut().find(|a| a["name"] == "teams"))
        .and_then(|teams| teams.get_mut("subAttributes"))
        .and_then(Value::as_array_mut)
        .and_then(|subs| subs.iter_mut().find(|a| a["name"] == "value"))
        .and_then(Value::as_object_mut);
    if let Some(value) = value {
        value.insert("canonicalValues".into(), json!(ids));
    }
    Ok(())
}
