//! `/Users` and `/Groups`: one set of handlers, the resource kind fixed per route.

use super::list::{ListRequest, list_response};
use super::render::{self, Projection, base_url};
use crate::http::extract::{ScimBody, Snapshot, query_pairs};
use crate::http::{ApiError, AppState};
use crate::provisioning::{Actor, View, etag};
use crate::store::Tx;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
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

/// The resource kind a route serves, fixed by its path: [`Users`] or [`Groups`].
pub trait KindRoute: Send + Sync + 'static {
    const KIND: ResourceKind;
}

/// The kinds a list or search covers: one kind's routes, or all of them (`/.search`).
pub trait Scope: Send + Sync + 'static {
    const KINDS: Option<ResourceKind>;
}

impl<K: KindRoute> Scope for K {
    const KINDS: Option<ResourceKind> = Some(K::KIND);
}

/// `/Users`.
pub enum Users {}

impl KindRoute for Users {
    const KIND: ResourceKind = ResourceKind::User;
}

/// `/Groups`.
pub enum Groups {}

impl KindRoute for Groups {
    const KIND: ResourceKind = ResourceKind::Group;
}

/// `/.search`: every resource type.
pub enum AllKinds {}

impl Scope for AllKinds {
    const KINDS: Option<ResourceKind> = None;
}

/// How a `PUT` or `PATCH` changes a resource.
#[derive(Debug, Clone, Copy)]
enum Write {
    Replace,
    Patch,
}

impl Write {
    /// The log message.
    fn past_tense(self) -> &'static str {
        match self {
            Write::Replace => "replaced",
            Write::Patch => "patched",
        }
    }
}

/// What every resource handler reads from the request: the app, the authenticated caller,
/// the URI (its query selects attributes) and the headers (base URL, preconditions).
pub struct Call {
    pub state: AppState,
    pub actor: Actor,
    pub uri: Uri,
    pub headers: HeaderMap,
}

impl FromRequestParts<AppState> for Call {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // `authenticate` runs before every route that extracts a `Call`.
        let actor =
            parts.extensions.get::<Actor>().cloned().ok_or_else(|| {
                ApiError::Internal("no authenticated caller on the request".into())
            })?;
        Ok(Call {
            state: state.clone(),
            actor,
            uri: parts.uri.clone(),
            headers: parts.headers.clone(),
        })
    }
}

impl Call {
    /// The resource `id` of `kind`, or 304 when `If-None-Match` names its version.
    pub async fn get(
        self,
        kind: ResourceKind,
        id: String,
        reader: Option<Tx>,
    ) -> Result<Response, ApiError> {
        let p = projection(&self.uri)?;
        let with_refs = self.wants_refs(kind, &p);
        let view = self
            .state
            .directory
            .get(&self.actor, kind, &id, with_refs, !p.is_default(), reader)
            .await?;
        if let Some(inm) = header_str(&self.headers, header::IF_NONE_MATCH)
            && crate::provisioning::if_match_holds(inm, view.stored.version)
        {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            if let Ok(tag) = header::HeaderValue::from_str(&etag(view.stored.version)) {
                response.headers_mut().insert(header::ETAG, tag);
            }
            return Ok(response);
        }
        Ok(self.respond(StatusCode::OK, &view, &p, None))
    }

    /// A `PUT` or `PATCH` of resource `id` under `If-Match`.
    async fn write(
        self,
        kind: ResourceKind,
        id: String,
        how: Write,
        body: Value,
    ) -> Result<Response, ApiError> {
        let p = projection(&self.uri)?;
        let directory = &self.state.directory;
        let view = match how {
            Write::Replace => {
                let if_match = if_match(&self.headers)?;
                directory
                    .replace(&self.actor, kind, &id, &body, if_match)
                    .await?
            }
            Write::Patch => {
                let with_refs = self.wants_refs(kind, &p);
                let if_match = if_match(&self.headers)?;
                directory
                    .patch(&self.actor, kind, &id, &body, if_match, with_refs)
                    .await?
            }
        };
        tracing::info!(kind = ?kind, %id, "{}", how.past_tense());
        // RFC 7644 §3.5.2: 200 with the resource (IdPs such as Entra read it back).
        Ok(self.respond(StatusCode::OK, &view, &p, None))
    }

    fn wants_refs(&self, kind: ResourceKind, p: &Projection) -> bool {
        let rt = self.state.registry.resource_type(kind);
        p.wants_refs(&self.state.registry, rt)
    }

    /// The resource rendered as the projection asks, with its ETag.
    fn respond(
        &self,
        status: StatusCode,
        view: &View,
        p: &Projection,
        location: Option<String>,
    ) -> Response {
        let base = base_url(&self.state, &self.headers);
        let body = render::resource(&self.state.registry, &base, view, p);
        scim_response(status, &body, Some(view), location)
    }
}

/// `POST /Users`, `POST /Groups`.
pub async fn create<K: KindRoute>(
    call: Call,
    ScimBody(body): ScimBody,
) -> Result<Response, ApiError> {
    let p = projection(&call.uri)?;
    let view = call
        .state
        .directory
        .create(&call.actor, K::KIND, &body)
        .await?;
    tracing::info!(kind = ?K::KIND, id = %view.stored.id, "created");
    let base = base_url(&call.state, &call.headers);
    let location = render::location(&base, K::KIND, &view.stored.id);
    Ok(call.respond(StatusCode::CREATED, &view, &p, Some(location)))
}

/// `GET /Users/{id}`, `GET /Groups/{id}`.
pub async fn get<K: KindRoute>(
    call: Call,
    Snapshot(reader): Snapshot,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    call.get(K::KIND, id, reader).await
}

/// `PUT` or `PATCH` of `/Users/{id}` or `/Groups/{id}`.
pub async fn write<K: KindRoute>(
    method: Method,
    call: Call,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> Result<Response, ApiError> {
    let how = match method {
        Method::PUT => Write::Replace,
        Method::PATCH => Write::Patch,
        other => {
            return Err(ApiError::MethodNotAllowed(format!(
                "{other} is not a write of a resource"
            )));
        }
    };
    call.write(K::KIND, id, how, body).await
}

/// `DELETE /Users/{id}`, `DELETE /Groups/{id}`.
pub async fn delete<K: KindRoute>(
    call: Call,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    call.state
        .directory
        .delete(&call.actor, K::KIND, &id, if_match(&call.headers)?)
        .await?;
    tracing::info!(kind = ?K::KIND, %id, "deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /Users`, `GET /Groups`: a filtered, sorted page.
pub async fn list<S: Scope>(call: Call, Snapshot(reader): Snapshot) -> Result<Response, ApiError> {
    let request = ListRequest::from_query(&query_pairs(&call.uri)?)?;
    list_response(&call, S::KINDS, request, reader).await
}

/// `POST .search` (RFC 7644 §3.4.3) under a kind's path or at the root.
pub async fn search<S: Scope>(call: Call, ScimBody(body): ScimBody) -> Result<Response, ApiError> {
    let request = ListRequest::from_search_body(&body)?;
    list_response(&call, S::KINDS, request, None).await
}
