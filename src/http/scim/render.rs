//! Resources to SCIM JSON: references, `meta`, projection, list and error envelopes.

use crate::http::{ApiError, AppState};
use crate::provisioning::{ListPage, View, etag};
use crate::store::effects::UserTeam;
use axum::http::HeaderMap;
use axum::http::header;
use scim::filter::AttrPath;
use scim::resource::Meta;
use scim::schema::{ROLLCALL_USER_SCHEMA, Registry, ResourceKind, ResourceTypeDef};
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
    if let Some(teams) = &view.teams {
        render_teams(&mut out, teams, &view.stored.doc);
    }
    scim::project::project(registry, rt, &mut out, &p.attributes, &p.excluded);
    Value::Object(out)
}

/// The rollcall extension of a user: `teams`, the teams the IdP set (as it wrote them:
/// `value`, `role`), each with what came of it from the memberships table (`display`,
/// `state`, `source`: returned on request); and `memberships` (read-only, on request),
/// every membership whatever its source (default team, mapped group, attribute, admin).
///
/// `teams` reads back as written, so an IdP comparing what it sent with what it reads
/// (and scim2-tester) sees no difference, and a GET-then-PUT does not turn a default-team
/// or group membership into an IdP assertion that would outlive its group.
fn render_teams(out: &mut Map<String, Value>, teams: &[UserTeam], doc: &Map<String, Value>) {
    let written: Vec<Value> = doc
        .get(ROLLCALL_USER_SCHEMA)
        .and_then(|ext| ext.get("teams"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let team = e.get("value").and_then(Value::as_str)?;
            let role = e.get("role").and_then(Value::as_str).unwrap_or("user");
            let mut entry = json!({"value": team, "role": role});
            if let Some(m) = teams.iter().find(|t| t.team_id == team) {
                entry["display"] = json!(m.team_name);
                entry["state"] = json!(m.state);
                entry["source"] = json!(m.source);
            }
            Some(entry)
        })
        .collect();
    let memberships: Vec<Value> = teams
        .iter()
        .map(|t| {
            json!({
                "value": t.team_id,
                "display": t.team_name,
                "role": t.role,
                "state": t.state,
                "source": t.source,
            })
        })
        .collect();
    let ext = out
        .entry(ROLLCALL_USER_SCHEMA)
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(ext) = ext else {
        return;
    };
    for (name, list) in [("teams", written), ("memberships", memberships)] {
        if list.is_empty() {
            ext.remove(name);
        } else {
            ext.insert(name.into(), Value::Array(list));
        }
    }
    let empty = ext.is_empty();
    if empty {
        out.remove(ROLLCALL_USER_SCHEMA);
    }
    if let Some(Value::Array(schemas)) = out.get_mut("schemas") {
        let listed = schemas.iter().any(|s| s == ROLLCALL_USER_SCHEMA);
        if empty && listed {
            schemas.retain(|s| s != ROLLCALL_USER_SCHEMA);
        } else if !empty && !listed {
            schemas.push(ROLLCALL_USER_SCHEMA.into());
        }
    }
    // `meta` comes last in every resource.
    if let Some(meta) = out.remove("meta") {
        out.insert("meta".into(), meta);
    }
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
