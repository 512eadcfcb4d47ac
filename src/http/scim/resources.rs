//! `/Users` and `/Groups`: one set of handlers, the resource kind fixed per route.

use super::list::{ListRequest, list_response};
use super::render::{self, Projection, base_url};
use crate::http::extract::{AuthSnapshot, ScimBody, query_pairs};
use crate::http::{ApiError, AppState};
use crate::provisioning::{Actor, View, etag};
use crate::store::Tx;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use scim::schema::ResourceKind;
use serde_json::Value;

/// A SCIM JSON response with status and optional ETag/Location.
pub fn scim_response(
    status: StatusCode,
    body: &Value,
    view: Option<&View>,
    location: Option<String>,
) -> Response {
    // Straight to bytes: `to_string` goes through `fmt::Display`, a few µs slower per page.
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = (status, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(crate::http::SCIM_CONTENT_TYPE),
    );
    if let Some(v) = view
        && let Ok(tag) = header::HeaderValue::from_str(&etag(v.stored.version))
    {
        headers.insert(header::ETAG, tag);
    }
    if let Some(loc) = location.and_then(|l| header::HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, loc);
    }
    response
}

fn projection(uri: &Uri) -> Result<Projection, ApiError> {
    let pairs = query_pairs(uri)?;
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    Projection::parse(get("attributes"), get("excludedAttributes"))
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The `If-Match` header, if sent. One with a byte that is not visible ASCII cannot be
/// an entity-tag list of ours: it fails the precondition instead of counting as absent.
fn if_match(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    headers
        .get(header::IF_MATCH)
        .map(|v| {
            v.to_str().map_err(|_| {
                ApiError::PreconditionFailed("If-Match is not a list of entity-tags".into())
            })
        })
        .transpose()
}

/// The kind-specific routes call these with the kind bound.
pub async fn create(
    state: AppState,
    kind: ResourceKind,
    actor: Actor,
    uri: Uri,
    headers: HeaderMap,
    body: Value,
) -> Result<Response, ApiError> {
    let p = projection(&uri)?;
    let view = state.directory.create(&actor, kind, &body).await?;
    tracing::info!(kind = ?kind, id = %view.stored.id, "created");
    let base = base_url(&state, &headers);
    let location = render::location(&base, kind, &view.stored.id);
    let body = render::resource(&state.registry, &base, &view, &p);
    Ok(scim_response(
        StatusCode::CREATED,
        &body,
        Some(&view),
        Some(location),
    ))
}

pub async fn get(
    state: AppState,
    kind: ResourceKind,
    actor: Actor,
    id: String,
    uri: Uri,
    headers: HeaderMap,
    reader: Option<Tx>,
) -> Result<Response, ApiError> {
    let p = projection(&uri)?;
    let rt = state.registry.resource_type(kind);
    let with_refs = p.wants_refs(&state.registry, rt);
    let view = state
        .directory
        .get(&actor, kind, &id, with_refs, !p.is_default(), reader)
        .await?;
    if let Some(inm) = header_str(&headers, header::IF_NONE_MATCH)
        && crate::provisioning::if_match_holds(inm, view.stored.version)
    {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(tag) = header::HeaderValue::from_str(&etag(view.stored.version)) {
            response.headers_mut().insert(header::ETAG, tag);
        }
        return Ok(response);
    }
    let base = base_url(&state, &headers);
    let body = render::resource(&state.registry, &base, &view, &p);
    Ok(scim_response(StatusCode::OK, &body, Some(&view), None))
}

pub async fn replace(
    state: AppState,
    kind: ResourceKind,
    actor: Actor,
    id: String,
    uri: Uri,
    headers: HeaderMap,
    body: Value,
) -> Result<Response, ApiError> {
    let p = projection(&uri)?;
    let view = state
        .directory
        .replace(&actor, kind, &id, &body, if_match(&headers)?)
        .await?;
    tracing::info!(kind = ?kind, %id, "replaced");
    let base = base_url(&state, &headers);
    let body = render::resource(&state.registry, &base, &view, &p);
    Ok(scim_response(StatusCode::OK, &body, Some(&view), None))
}

pub async fn patch(
    state: AppState,
    kind: ResourceKind,
    actor: Actor,
    id: String,
    uri: Uri,
    headers: HeaderMap,
    body: Value,
) -> Result<Response, ApiError> {
    let p = projection(&uri)?;
    let rt = state.registry.resource_type(kind);
    let with_refs = p.wants_refs(&state.registry, rt);
    let view = state
        .directory
        .patch(&actor, kind, &id, &body, if_match(&headers)?, with_refs)
        .await?;
    tracing::info!(kind = ?kind, %id, "patched");
    let base = base_url(&state, &headers);
    let body = render::resource(&state.registry, &base, &view, &p);
    // RFC 7644 §3.5.2: 200 with the resource (IdPs such as Entra read it back).
    Ok(scim_response(StatusCode::OK, &body, Some(&view), None))
}

pub async fn delete(
    state: AppState,
    kind: ResourceKind,
    actor: Actor,
    id: String,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state
        .directory
        .delete(&actor, kind, &id, if_match(&headers)?)
        .await?;
    tracing::info!(kind = ?kind, %id, "deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list(
    state: AppState,
    kind: Option<ResourceKind>,
    actor: Actor,
    uri: Uri,
    headers: HeaderMap,
    reader: Option<Tx>,
) -> Result<Response, ApiError> {
    let request = ListRequest::from_query(&query_pairs(&uri)?)?;
    list_response(&state, kind, &actor, &headers, request, reader).await
}

pub async fn search(
    state: AppState,
    kind: Option<ResourceKind>,
    actor: Actor,
    headers: HeaderMap,
    body: Value,
) -> Result<Response, ApiError> {
    let request = ListRequest::from_search_body(&body)?;
    list_response(&state, kind, &actor, &headers, request, None).await
}

macro_rules! kind_routes {
    ($modname:ident, $kind:expr) => {
        /// Handlers with the resource kind bound.
        pub mod $modname {
            use super::*;

            pub async fn create(
                State(s): State<AppState>,
                Extension(a): Extension<Actor>,
                uri: Uri,
                h: HeaderMap,
                ScimBody(b): ScimBody,
            ) -> Result<Response, ApiError> {
                super::create(s, $kind, a, uri, h, b).await
            }
            pub async fn get(
                State(s): State<AppState>,
                Extension(a): Extension<Actor>,
                snapshot: Option<Extension<AuthSnapshot>>,
                Path(id): Path<String>,
                uri: Uri,
                h: HeaderMap,
            ) -> Result<Response, ApiError> {
                let reader = snapshot.and_then(|Extension(s)| s.take());
                super::get(s, $kind, a, id, uri, h, reader).await
            }
            pub async fn replace(
                State(s): State<AppState>,
                Extension(a): Extension<Actor>,
                Path(id): Path<String>,
                uri: Uri,
                h: HeaderMap,
                ScimBody(b): ScimBody,
            ) -> Result<Response, ApiError> {
                super::replace(s, $kind, a, id, uri, h, b).await
            }
            pub async fn patch(
                State(s): State<AppState>,
                Extension(a): Extension<Actor>,
                Path(id): Path<String>,
                uri: Uri,
                h: HeaderMap,
                ScimBody(b): ScimBody,
            ) -> Result<Response, ApiError> {
                super::patch(s, $kind, a, id, uri, h, b).await
            }
            pub async fn delete(
                State(s): State<AppState>,
                Extension(a): Extension<Actor>,
                Path(id): Path<String>,
                h: HeaderMap,
            ) -> Result<Response, ApiError> {
                super::delete(s, $kind, a, id, h).await
            }
            pub async fn list(
                State(s): State<AppState>,
                Extension(a): Extension<Actor>,
                snapshot: Option<Extension<AuthSnapshot>>,
                uri: Uri,
                h: HeaderMap,
            ) -> Result<Response, ApiError> {
                let reader = snapshot.and_then(|Extension(s)| s.take());
                super::list(s, Some($kind), a, uri, h, reader).await
            }
            pub async fn search(
                State(s): State<AppState>,
                Extension(a): Extension<Actor>,
                h: HeaderMap,
                ScimBody(b): ScimBody,
            ) -> Result<Response, ApiError> {
                super::search(s, Some($kind), a, h, b).await
            }
        }
    };
}

kind_routes!(users, ResourceKind::User);
kind_routes!(groups, ResourceKind::Group);

/// `POST /.search` across all resource types.
pub async fn search_all(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    h: HeaderMap,
    ScimBody(b): ScimBody,
) -> Result<Response, ApiError> {
    search(s, None, a, h, b).await
}
