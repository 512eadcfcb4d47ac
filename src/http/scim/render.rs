//! Resources to SCIM JSON: references, `meta`, projection, list and error envelopes.

use crate::http::{ApiError, AppState};
use crate::provisioning::{ListPage, View, etag};
use axum::http::HeaderMap;
use axum::http::header;
use scim::filter::AttrPath;
use scim::resource::Meta;
use scim::schema::{Registry, ResourceKind, ResourceTypeDef};
use serde_json::{Map, Value, json};

/// ListResponse message schema, RFC 7644 §3.4.2.
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// `attributes` / `excludedAttributes` of a request.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    pub attributes: Vec<AttrPath>,
    pub excluded: Vec<AttrPath>,
}

impl Projection {
    /// Parses the two comma-separated lists.
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Result<Projection, ApiError> {
        Ok(Projection {
            attributes: attributes
                .map(scim::project::parse_attr_list)
                .transpose()?
                .unwrap_or_default(),
            excluded: excluded
                .map(scim::project::parse_attr_list)
                .transpose()?
                .unwrap_or_default(),
        })
    }

    /// Whether the references kept outside the document (group `members`, user
    /// `groups`) will be shown, so they are only loaded when needed.
    pub fn wants_refs(&self, registry: &Registry, rt: &ResourceTypeDef) -> bool {
        let name = match rt.kind {
            ResourceKind::Group => "members",
            ResourceKind::User => "groups",
        };
        scim::project::wants(registry, rt, &self.attributes, &self.excluded, name)
    }
}

/// The SCIM base URL (`http://host/scim/v2`) for locations.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(public) = &state.config.public_url {
        return format!("{public}/scim/v2");
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or("localhost");
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{proto}://{host}/scim/v2")
}

/// The location of a resource.
pub fn location(base: &str, kind: ResourceKind, id: &str) -> String {
    match kind {
        ResourceKind::User => format!("{base}/Users/{id}"),
        ResourceKind::Group => format!("{base}/Groups/{id}"),
    }
}

/// Renders one resource with projection.
pub fn resource(registry: &Registry, base: &str, view: &View, p: &Projection) -> Value {
    let rt = registry.resource_type(view.kind);
    let mut extra = Vec::new();
    if let Some(members) = &view.members {
        let list: Vec<Value> = members
            .iter()
            .map(|m| {
                let kind = if m.member_type == "Group" {
                    ResourceKind::Group
                } else {
                    ResourceKind::User
                };
                // No `display`: it is optional (RFC 7643 §4.2), IdPs don't read it, and
                // clients that compare what they wrote with what they read expect none.
                json!({
                    "value": m.member_id,
                    "$ref": location(base, kind, &m.member_id),
                    "type": m.member_type,
                })
            })
            .collect();
        extra.push(("members", Value::Array(list)));
    }
    if let Some(groups) = &view.groups
        && !groups.is_empty()
    {
        let list: Vec<Value> = groups
            .iter()
            .map(|g| {
                json!({
                    "value": g.group_id,
                    "$ref": location(base, ResourceKind::Group, &g.group_id),
                    "display": g.group_display,
                    "type": "direct",
                })
            })
            .collect();
        extra.push(("groups", Value::Array(list)));
    }
    let meta = Meta {
        created: view.stored.created.clone(),
        last_modified: view.stored.updated.clone(),
        location: location(base, view.kind, &view.stored.id),
        version: etag(view.stored.version),
    };
    let mut out = scim::resource::render(
        registry,
        rt,
        &view.stored.id,
        &view.stored.doc,
        &meta,
        extra,
    );
    scim::project::project(registry, rt, &mut out, &p.attributes, &p.excluded);
    Value::Object(out)
}

/// Renders a ListResponse.
pub fn list(registry: &Registry, base: &str, page: &ListPage, p: &Projection) -> Value {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([LIST_SCHEMA]));
    out.insert("totalResults".into(), page.total.into());
    out.insert("itemsPerPage".into(), page.items.len().into());
    if let Some(start) = page.start_index {
        out.insert("startIndex".into(), start.into());
    }
    if let Some(next) = &page.next_cursor {
        out.insert("nextCursor".into(), next.clone().into());
    }
    out.insert(
        "Resources".into(),
        Value::Array(
            page.items
                .iter()
                .map(|v| resource(registry, base, v, p))
                .collect(),
        ),
    );
    Value::Object(out)
}
