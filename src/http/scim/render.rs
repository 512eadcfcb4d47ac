//! Resources to SCIM JSON: references, `meta`, projection, list and error envelopes.

use crate::http::{ApiError, AppState};
use crate::provisioning::{ListPage, View, etag};
use crate::store::effects::UserTeam;
use axum::http::HeaderMap;
use axum::http::header;
use scim::filter::AttrPath;
use scim::resource::{Meta, Returning};
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

    /// Neither list given: the resource as shown by default, which needs no team
    /// memberships beyond the document's own `teams` (their state, source and
    /// `memberships` are `returned: request`).
    pub fn is_default(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
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
                    "$ref": location(base, ResourceKind::Group, g.group_id.as_str()),
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
    let (id, doc) = (&view.stored.id, &view.stored.doc);
    // Most reads name no attributes: rendered without what is `returned: request`
    // straight away, instead of rendering everything and projecting it afterwards.
    let by_default = p.is_default();
    let returning = if by_default {
        Returning::Default
    } else {
        Returning::All
    };
    let mut out = scim::resource::render(registry, rt, id, doc, &meta, extra, returning);
    if view.kind == ResourceKind::User {
        // By default the memberships are not shown, so a read does not load them.
        render_teams(
            &mut out,
            view.teams.as_deref().unwrap_or_default(),
            doc,
            !by_default,
        );
    }
    if !by_default {
        scim::project::project(registry, rt, &mut out, &p.attributes, &p.excluded);
    }
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
///
/// Without `on_request`, what is `returned: request` is left out, as the default
/// projection would: `display`, `state`, `source` and `memberships`.
fn render_teams(
    out: &mut Map<String, Value>,
    teams: &[UserTeam],
    doc: &Map<String, Value>,
    on_request: bool,
) {
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
            if !on_request {
                return Some(entry);
            }
            if let Some(m) = teams.iter().find(|t| t.team_id == team) {
                entry["display"] = json!(m.team_name);
                entry["state"] = json!(m.state);
                entry["source"] = json!(m.source);
            }
            Some(entry)
        })
        .collect();
    let memberships: Vec<Value> = if on_request {
        teams
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
            .collect()
    } else {
        Vec::new()
    };
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

#[cfg(test)]
mod tests {
    use super::{Projection, resource};
    use crate::domain::kinds::{MembershipSource, MembershipState, TeamRole};
    use crate::provisioning::View;
    use crate::store::effects::UserTeam;
    use crate::store::members::{GroupMembership, Member};
    use crate::store::resources::StoredResource;
    use scim::schema::{Registry, ResourceKind};
    use serde_json::{Value, json};

    fn view(kind: ResourceKind, doc: Value) -> View {
        let Value::Object(doc) = doc else {
            panic!("not an object")
        };
        View {
            kind,
            stored: StoredResource {
                seq: 7,
                id: "r-1".into(),
                doc,
                version: 3,
                created: "2026-11-30T10:00:00Z".into(),
                updated: "2026-11-30T11:00:00Z".into(),
            },
            members: None,
            groups: None,
            teams: None,
        }
    }

    fn team(id: &str, state: MembershipState, source: MembershipSource) -> UserTeam {
        UserTeam {
            user_id: "r-1".into(),
            team_id: id.into(),
            team_name: format!("Team {id}"),
            role: TeamRole::Admin,
            state,
            source,
        }
    }

    /// The views a read renders: users with and without groups, teams the IdP set or
    /// not, extensions present or absent, attributes outside the schema, groups with
    /// members.
    fn views() -> Vec<View> {
        let ext = scim::schema::ROLLCALL_USER_SCHEMA;
        let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let mut out = Vec::new();
        let mut full = view(
            ResourceKind::User,
            json!({
                "externalId": "e-1",
                "userName": "ada@example.com",
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
                "active": true,
                "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
                "notInTheSchema": {"kept": 1},
                enterprise: {"department": "R&D", "manager": {"value": "m-1"}},
                ext: {"teams": [
                    {"value": "t-1", "role": "admin"},
                    {"value": "t-9", "role": "user"}
                ]},
            }),
        );
        full.groups = Some(vec![GroupMembership {
            member_id: "r-1".into(),
            group_id: "g-1".into(),
            group_display: "Admins".into(),
        }]);
        full.teams = Some(vec![
            team("t-1", MembershipState::Active, MembershipSource::Attribute),
            team(
                "t-2",
                MembershipState::AwaitingSeat,
                MembershipSource::Default,
            ),
        ]);
        out.push(full);
        let mut bare = view(ResourceKind::User, json!({"userName": "bob"}));
        bare.groups = Some(vec![]);
        bare.teams = Some(vec![team(
            "t-2",
            MembershipState::Active,
            MembershipSource::Default,
        )]);
        out.push(bare);
        out.push(view(
            ResourceKind::User,
            json!({"userName": "cy", ext: {}, enterprise: {"employeeNumber": "7"}}),
        ));
        let mut group = view(ResourceKind::Group, json!({"displayName": "Admins"}));
        group.members = Some(vec![Member {
            group_id: "r-1".into(),
            member_id: "u-1".into(),
            member_type: "User".into(),
        }]);
        out.push(group);
        out.push(view(ResourceKind::Group, json!({"displayName": "Empty"})));
        out
    }

    /// A read without `attributes` or `excludedAttributes` skips the projection step and
    /// the loading of team memberships; what it renders must be exactly what projecting
    /// the full resource with two empty lists gives: the same keys in the same order,
    /// nothing `returned: request` (the teams' state, `memberships`), `schemas` listing
    /// what is there.
    #[test]
    fn the_default_rendering_is_the_empty_projection() {
        let registry = Registry::load().unwrap();
        let base = "http://h/scim/v2";
        for v in views() {
            // A read without either list does not load the team memberships.
            let unloaded = View {
                teams: None,
                ..v.clone()
            };
            let fast = resource(&registry, base, &unloaded, &Projection::default());
            // The general path (render everything, then project): an excluded name that
            // resolves to nothing is ignored, so it projects as if both lists were empty.
            let everything = resource(
                &registry,
                base,
                &v,
                &Projection::parse(None, Some("nothingByThisName")).unwrap(),
            );
            assert_eq!(
                serde_json::to_string(&fast).unwrap(),
                serde_json::to_string(&everything).unwrap(),
                "{:?}",
                v.stored.doc
            );
        }
        // And it does leave out what is returned on request only.
        let fast = resource(&registry, base, &views()[0], &Projection::default());
        let ext = &fast[scim::schema::ROLLCALL_USER_SCHEMA];
        assert_eq!(
            ext["teams"],
            json!([{"value": "t-1", "role": "admin"}, {"value": "t-9", "role": "user"}])
        );
        assert!(ext.get("memberships").is_none(), "{ext}");
        let asked = resource(
            &registry,
            base,
            &views()[0],
            &Projection::parse(
                Some("urn:ietf:params:scim:schemas:extension:rollcall:2.0:User:memberships"),
                None,
            )
            .unwrap(),
        );
        assert_eq!(
            asked[scim::schema::ROLLCALL_USER_SCHEMA]["memberships"][1]["state"],
            json!("awaiting_seat")
        );
    }
}
