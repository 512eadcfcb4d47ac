//! `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas` (RFC 7644 §4).

use super::render::base_url;
use super::resources::scim_response;
use crate::http::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

fn list_of(items: Vec<Value>) -> Value {
    json!({
        "schemas": [super::render::LIST_SCHEMA],
        "totalResults": items.len(),
        "itemsPerPage": items.len(),
        "startIndex": 1,
        "Resources": items,
    })
}

pub async fn service_provider_config(
    State(s): State<AppState>,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    let _ = (&s, &h, base_url);
    Ok(scim_response(StatusCode::OK, &json!({}), None, None))
}

pub async fn resource_types(State(s): State<AppState>, h: HeaderMap) -> Result<Response, ApiError> {
    let _ = (&s, &h);
    Ok(scim_response(StatusCode::OK, &list_of(vec![]), None, None))
}

pub async fn resource_type(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let _ = &s;
    Err(ApiError::NotFound(format!("no resource type {name}")))
}

pub async fn schemas(State(s): State<AppState>, h: HeaderMap) -> Result<Response, ApiError> {
    let _ = (&s, &h);
    Ok(scim_response(StatusCode::OK, &list_of(vec![]), None, None))
}

pub async fn schema(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let _ = &s;
    Err(ApiError::NotFound(format!("no schema {id}")))
}
