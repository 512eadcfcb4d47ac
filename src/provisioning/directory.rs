//! Single-resource operations: create, get, replace (PUT), patch, delete.

use super::members::{apply_member_changes, members_to_add};
use super::rules;
use super::write::{hash_password, resource_write, table};
use super::{Error, if_match_holds};
use crate::clock::{Clock, format_timestamp};
use crate::store::members::{self, Member, Membership};
use crate::store::resources::{self, StoredResource};
use crate::store::{Store, StoreError, Tx};
use scim::ScimError;
use scim::patch::MemberChange;
use scim::resource::Incoming;
use scim::schema::{Registry, ResourceKind};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Groups with more members than this answer a PATCH without `members`.
pub const PATCH_ECHO_MEMBERS: i64 = 1000;

/// Who is making a request: the organization the token belongs to, and the token's
/// label (for logs and, later, the audit log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub org_id: String,
    pub label: String,
}

/// A resource with the multi-valued references stored outside its document.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub kind: ResourceKind,
    pub stored: StoredResource,
    /// Group members, when loaded.
    pub members: Option<Vec<Member>>,
    /// A user's groups, when loaded.
    pub groups: Option<Vec<Membership>>,
}

/// The SCIM directory of every organization.
#[derive(Debug, Clone)]
pub struct Directory {
    pub(super) store: Store,
    pub(super) registry: Arc<Registry>,
    pub(super) clock: Arc<dyn Clock>,
}

fn not_found(kind: ResourceKind, id: &str) -> Error {
    let name = match kind {
        ResourceKind::User => "User",
        ResourceKind::Group => "Group",
    };
    Error::NotFound(format!("{name} {id} not found"))
}

/// Maps a uniqueness violation to the SCIM error a person can act on.
fn conflict(kind: ResourceKind, doc: &Map<String, Value>) -> Error {
    let (attr, value) = match kind {
        ResourceKind::User => ("userName", doc.get("userName")),
        ResourceKind::Group => ("displayName", doc.get("displayName")),
    };
    let value = value.and_then(Value::as_str).unwrap_or_default();
    Error::Scim(ScimError::Uniqueness(format!(
        "{attr} {value:?} is already taken in this organization"
    )))
}

fn map_write_error(kind: ResourceKind, doc: &Map<String, Value>, e: StoreError) -> Error {
    match e {
        StoreError::Conflict { .. } => conflict(kind, doc),
        other => Error::Store(other),
    }
}

impl Directory {
    /// A directory over `store`.
    pub fn new(store: Store, registry: Arc<Registry>, clock: Arc<dyn Clock>) -> Directory {
        Directory {
            store,
            registry,
            clock,
        }
    }

    /// The schema registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub(super) fn now(&self) -> String {
        format_timestamp(self.clock.now())
    }

    fn normalize(&self, kind: ResourceKind, body: &Value) -> Result<Incoming, Error> {
        let rt = self.registry.resource_type(kind);
        Ok(scim::resource::normalize(&self.registry, rt, body)?)
    }

    /// POST: creates a resource.
    pub async fn create(
        &self,
        actor: &Actor,
        kind: ResourceKind,
        body: &Value,
    ) -> Result<View, Error> {
        let incoming = self.normalize(kind, body)?;
        let password_hash = match incoming.password.clone() {
            Some(p) => Some(hash_password(p).await?),
            None => None,
        };
        let write = resource_write(kind, incoming.doc.clone(), password_hash)?;
        let id = uuid::Uuid::new_v4().to_string();
        let now = self.now();
        let mut tx = self.store.write().await?;
        let stored = resources::insert(&mut tx, table(kind), &actor.org_id, &id, &write, &now)
            .await
            .map_err(|e| map_write_error(kind, &incoming.doc, e))?;
        if let Some(list) = &incoming.members {
            let add = members_to_add(&mut tx, &actor.org_id, &id, list).await?;
            members::add(&mut tx, &actor.org_id, &id, &add).await?;
        }
        // A new group is mapped to nothing yet; a new user wants the default team.
        if kind == ResourceKind::User {
            rules::reconcile_new_user(&mut tx, &actor.org_id, &id, &now).await?;
        }
        // A new user is in no group yet: nothing to load.
        let view = self
            .view(&mut tx, kind, stored, kind == ResourceKind::Group)
            .await?;
        tx.commit().await?;
        Ok(view)
    }

    /// GET one resource; `with_refs` loads members/groups.
    pub async fn get(
        &self,
        actor: &Actor,
        kind: ResourceKind,
        id: &str,
        with_refs: bool,
    ) -> Result<View, Error> {
        let mut tx = self.store.read().await?;
        let stored = resources::get(&mut tx, table(kind), &actor.org_id, id, false)
            .await?
            .ok_or_else(|| not_found(kind, id))?;
        self.view(&mut tx, kind, stored, with_refs).await
    }

    /// Loads the current row for a change, checking `If-Match`.
    async fn current(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        kind: ResourceKind,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<StoredResource, Error> {
        let stored = resources::get(tx, table(kind), &actor.org_id, id, true)
            .await?
            .ok_or_else(|| not_found(kind, id))?;
        if let Some(header) = if_match
            && !if_match_holds(header, stored.version)
        {
            return Err(Error::PreconditionFailed(format!(
                "If-Match {header} does not match the current version {}",
                super::etag(stored.version)
            )));
        }
        Ok(stored)
    }

    /// PUT: replaces a resource's attributes (Okta's update path), group members included.
    pub async fn replace(
        &self,
        actor: &Actor,
        kind: ResourceKind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<View, Error> {
        let incoming = self.normalize(kind, body)?;
        let password_hash = match incoming.password.clone() {
            Some(p) => Some(hash_password(p).await?),
            None => None,
        };
        let now = self.now();
        let mut tx = self.store.write().await?;
        let current = self.current(&mut tx, actor, kind, id, if_match).await?;
        let rt = self.registry.resource_type(kind);
        scim::resource::check_immutable(&self.registry, rt, &current.doc, &incoming.doc)?;
        let write = resource_write(kind, incoming.doc.clone(), password_hash)?;
        let stored = resources::update(&mut tx, table(kind), &actor.org_id, &current, &write, &now)
            .await
            .map_err(|e| map_write_error(kind, &incoming.doc, e))?;
        if kind == ResourceKind::Group {
            // RFC 7644 §3.5.1: PUT replaces every attribute; a PUT without `members`
            // leaves the group empty (as Microsoft's reference collection checks).
            let list = incoming.members.clone().unwrap_or_default();
            let changes = vec![MemberChange::RemoveAll, MemberChange::Add(list)];
            let mapped = rules::group_is_mapped(&mut tx, id).await?;
            let effects =
                apply_member_changes(&mut tx, &self.registry, &actor.org_id, id, &changes, mapped)
                    .await?;
            rules::reconcile_users(&mut tx, &actor.org_id, &effects.affected, &now).await?;
        } else {
            rules::reconcile_users(&mut tx, &actor.org_id, &[id.to_owned()], &now).await?;
        }
        let view = self.view(&mut tx, kind, stored, true).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// PATCH: applies a PatchOp request atomically. `with_refs` as for `get`.
    pub async fn patch(
        &self,
        actor: &Actor,
        kind: ResourceKind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        with_refs: bool,
    ) -> Result<View, Error> {
        let ops = scim::patch::parse_request(body)?;
        let rt = self.registry.resource_type(kind);
        let now = self.now();
        let mut tx = self.store.write().await?;
        let current = self.current(&mut tx, actor, kind, id, if_match).await?;
        let mut doc = current.doc.clone();
        let outcome = scim::patch::apply(&self.registry, rt, &mut doc, &ops)?;
        let incoming = scim::resource::normalize(&self.registry, rt, &Value::Object(doc))?;
        scim::resource::check_immutable(&self.registry, rt, &current.doc, &incoming.doc)?;
        let password_hash = match incoming.password.clone() {
            Some(p) => Some(hash_password(p).await?),
            None => None,
        };
        let doc_changed = incoming.doc != current.doc || password_hash.is_some();
        let mut stored = current.clone();
        if doc_changed {
            let write = resource_write(kind, incoming.doc.clone(), password_hash)?;
            stored = resources::update(&mut tx, table(kind), &actor.org_id, &current, &write, &now)
                .await
                .map_err(|e| map_write_error(kind, &incoming.doc, e))?;
        }
        let mapped = kind == ResourceKind::Group
            && !outcome.members.is_empty()
            && rules::group_is_mapped(&mut tx, id).await?;
        let effects = apply_member_changes(
            &mut tx,
            &self.registry,
            &actor.org_id,
            id,
            &outcome.members,
            mapped,
        )
        .await?;
        match kind {
            ResourceKind::Group => {
                rules::reconcile_users(&mut tx, &actor.org_id, &effects.affected, &now).await?;
            }
            ResourceKind::User if doc_changed => {
                rules::reconcile_users(&mut tx, &actor.org_id, &[id.to_owned()], &now).await?;
            }
            ResourceKind::User => {}
        }
        if effects.changed && !doc_changed {
            resources::touch(&mut tx, table(kind), id, &now).await?;
            stored.version += 1;
            stored.updated = now.clone();
        }
        // The answer to a PATCH on a large group leaves its members out: IdPs ignore the
        // body, and echoing 100,000 members for each 100 added would make the cost of a
        // change grow with the group. GET still lists them.
        let with_refs = with_refs
            && (kind == ResourceKind::User
                || members::count_up_to(&mut tx, id, PATCH_ECHO_MEMBERS + 1).await?
                    <= PATCH_ECHO_MEMBERS);
        let view = self.view(&mut tx, kind, stored, with_refs).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// DELETE: removes a resource and every membership naming it.
    pub async fn delete(
        &self,
        actor: &Actor,
        kind: ResourceKind,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), Error> {
        let now = self.now();
        let mut tx = self.store.write().await?;
        self.current(&mut tx, actor, kind, id, if_match).await?;
        // Deprovisioning: the memberships go (and their seats free) in this transaction.
        let affected = match kind {
            ResourceKind::User => vec![id.to_owned()],
            ResourceKind::Group if rules::group_is_mapped(&mut tx, id).await? => {
                members::of_groups(&mut tx, &[id.to_owned()])
                    .await?
                    .into_iter()
                    .map(|m| m.member_id)
                    .collect()
            }
            ResourceKind::Group => Vec::new(),
        };
        resources::delete(&mut tx, table(kind), &actor.org_id, id, &now).await?;
        rules::reconcile_users(&mut tx, &actor.org_id, &affected, &now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Loads what the stored row lacks for rendering.
    pub(super) async fn view(
        &self,
        tx: &mut Tx,
        kind: ResourceKind,
        stored: StoredResource,
        with_refs: bool,
    ) -> Result<View, Error> {
        let mut views = self.views(tx, kind, vec![stored], with_refs).await?;
        views
            .pop()
            .ok_or_else(|| Error::Internal("view of one resource is empty".into()))
    }

    /// Loads members/groups of several resources in one query.
    pub(super) async fn views(
        &self,
        tx: &mut Tx,
        kind: ResourceKind,
        stored: Vec<StoredResource>,
        with_refs: bool,
    ) -> Result<Vec<View>, Error> {
        let ids: Vec<String> = stored.iter().map(|s| s.id.clone()).collect();
        let mut members: HashMap<String, Vec<Member>> = HashMap::new();
        let mut groups: HashMap<String, Vec<Membership>> = HashMap::new();
        if with_refs {
            match kind {
                ResourceKind::Group => {
                    for m in members::of_groups(tx, &ids).await? {
                        members.entry(m.group_id.clone()).or_default().push(m);
                    }
                }
                ResourceKind::User => {
                    for g in members::of_members(tx, &ids).await? {
                        groups.entry(g.member_id.clone()).or_default().push(g);
                    }
                }
            }
        }
        Ok(stored
            .into_iter()
            .map(|s| {
                let (m, g) = match (with_refs, kind) {
                    (false, _) => (None, None),
                    (true, ResourceKind::Group) => {
                        (Some(members.remove(&s.id).unwrap_or_default()), None)
                    }
                    (true, ResourceKind::User) => {
                        (None, Some(groups.remove(&s.id).unwrap_or_default()))
                    }
                };
                View {
                    kind,
                    stored: s,
                    members: m,
                    groups: g,
                }
            })
            .collect())
    }
}
