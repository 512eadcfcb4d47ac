//! Single-resource operations: create, get, replace (PUT), patch, delete.

use super::cursors::CursorKey;
use super::effects::{self, Origin, ResourceChange, Verb};
use super::invitations::Invitations;
use super::members::{apply_member_changes, members_to_add};
use super::rules::{self, Changes};
use super::write::{hash_password, resource_write, table};
use super::{Error, if_match_holds};
use crate::clock::{Clock, format_timestamp};
use crate::domain::kinds::TeamRole;
use crate::domain::{GroupId, OrgId, TeamId, UserId};
use crate::store::effects::{self as effects_sql, TeamInfo, UserTeam};
use crate::store::members::{self, GroupMembership, Member};
use crate::store::resources::{self, ResourceWrite, StoredResource};
use crate::store::{Store, StoreError, Tx};
use scim::ScimError;
use scim::patch::MemberChange;
use scim::resource::Incoming;
use scim::schema::{ROLLCALL_USER_SCHEMA, Registry, ResourceKind};
use scim::text::fold_key;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Groups with more members than this answer a PATCH without `members`.
pub const PATCH_ECHO_MEMBERS: i64 = 1000;

/// Who is making a request: the organization the token belongs to, and the token's
/// label (for logs and the audit log; never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub org_id: OrgId,
    pub label: String,
}

impl Actor {
    /// How the audit log names this caller.
    pub fn audit_name(&self) -> String {
        format!("scim:{}", self.label)
    }
}

/// A resource with the multi-valued references stored outside its document.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub kind: ResourceKind,
    pub stored: StoredResource,
    /// Group members, when loaded.
    pub members: Option<Vec<Member>>,
    /// A user's groups, when loaded.
    pub groups: Option<Vec<GroupMembership>>,
    /// A user's team memberships (the rollcall extension's `teams`).
    pub teams: Option<Vec<UserTeam>>,
}

/// The SCIM directory of every organization.
#[derive(Debug, Clone)]
pub struct Directory {
    pub(super) store: Store,
    pub(super) registry: Arc<Registry>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) invitations: Arc<Invitations>,
    /// Seals `nextCursor`; loaded once at start.
    pub(super) cursors: CursorKey,
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
    // As JSON, as the client sent it: Rust's `{:?}` would show `i\u{307}` for `i̇`.
    let value = Value::from(value.and_then(Value::as_str).unwrap_or_default());
    Error::Scim(ScimError::Uniqueness(format!(
        "{attr} {value} is already taken in this organization"
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
    pub fn new(
        store: Store,
        registry: Arc<Registry>,
        clock: Arc<dyn Clock>,
        invitations: Invitations,
        cursors: CursorKey,
    ) -> Directory {
        Directory {
            store,
            registry,
            clock,
            invitations: Arc::new(invitations),
            cursors,
        }
    }

    /// The ids of the org's teams: what the rollcall extension's `teams.value` may name.
    pub async fn team_ids(&self, actor: &Actor) -> Result<Vec<TeamId>, Error> {
        let mut tx = self.store.read().await?;
        Ok(effects_sql::team_ids(&mut tx, &actor.org_id).await?)
    }

    /// What signs invitation links.
    pub fn invitations(&self) -> &Invitations {
        &self.invitations
    }

    /// Writes the effects of a change (audit, webhooks, joining emails) in `tx`.
    async fn record(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        now: time::OffsetDateTime,
        change: Option<ResourceChange<'_>>,
        changes: &Changes,
    ) -> Result<HashMap<TeamId, TeamInfo>, Error> {
        self.record_as(tx, &actor.org_id, &actor.audit_name(), now, change, changes)
            .await
    }

    /// As [`Directory::record`], for a caller the audit log names `audit_name`.
    async fn record_as(
        &self,
        tx: &mut Tx,
        org_id: &OrgId,
        audit_name: &str,
        now: time::OffsetDateTime,
        change: Option<ResourceChange<'_>>,
        changes: &Changes,
    ) -> Result<HashMap<TeamId, TeamInfo>, Error> {
        let origin = Origin {
            org_id,
            actor: audit_name,
            now,
        };
        effects::record(tx, &self.invitations, origin, change, changes).await
    }

    /// The schema registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    fn normalize(&self, kind: ResourceKind, body: &Value) -> Result<Incoming, Error> {
        let rt = self.registry.resource_type(kind);
        let mut incoming = scim::resource::normalize(&self.registry, rt, body)?;
        if kind == ResourceKind::User {
            tidy_teams(&mut incoming.doc)?;
        }
        Ok(incoming)
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
        // Built (and serialised) before waiting for the writer, which every write shares.
        let write = resource_write(kind, incoming.doc.clone(), password_hash)?;
        let mut tx = self.store.write().await?;
        let view = self
            .create_in(
                &mut tx,
                &actor.org_id,
                &actor.audit_name(),
                kind,
                incoming,
                write,
            )
            .await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Creates a user in the caller's transaction: a just-in-time user at sign-in, under
    /// the same rules as a SCIM POST (default team, seats, waitlist or rejection). The
    /// audit log names the caller `audit_name`.
    pub(crate) async fn create_user_in(
        &self,
        tx: &mut Tx,
        org_id: &OrgId,
        audit_name: &str,
        body: &Value,
    ) -> Result<View, Error> {
        let incoming = self.normalize(ResourceKind::User, body)?;
        if incoming.password.is_some() {
            return Err(Error::Internal(
                "a just-in-time user is created without a password".into(),
            ));
        }
        let write = resource_write(ResourceKind::User, incoming.doc.clone(), None)?;
        self.create_in(tx, org_id, audit_name, ResourceKind::User, incoming, write)
            .await
    }

    async fn create_in(
        &self,
        tx: &mut Tx,
        org_id: &OrgId,
        audit_name: &str,
        kind: ResourceKind,
        incoming: Incoming,
        write: ResourceWrite,
    ) -> Result<View, Error> {
        let team_attrs = team_attributes(&incoming.doc)?;
        let id = uuid::Uuid::now_v7().to_string();
        let at = self.clock.now();
        let now = format_timestamp(at);
        let stored = resources::insert(tx, table(kind), org_id, &id, &write, &now)
            .await
            .map_err(|e| map_write_error(kind, &incoming.doc, e))?;
        if let Some(list) = &incoming.members {
            let group_id = GroupId::from(id.as_str());
            let add = members_to_add(tx, org_id, &group_id, list).await?;
            members::add(tx, org_id, &group_id, &add).await?;
        }
        // A new group is mapped to nothing yet; a new user wants the default team (and
        // the teams it names, if any).
        let changes = match kind {
            ResourceKind::User if team_attrs.is_empty() => {
                let active = incoming.doc.get("active").and_then(Value::as_bool) != Some(false);
                rules::reconcile_new_user(tx, org_id, &UserId::from(id.as_str()), active, &now)
                    .await?
            }
            ResourceKind::User => {
                let user_id = UserId::from(id.as_str());
                put_team_attributes(tx, org_id, &user_id, &team_attrs, false).await?;
                rules::reconcile_users(tx, org_id, std::slice::from_ref(&user_id), &now).await?
            }
            ResourceKind::Group => Changes::default(),
        };
        let change = ResourceChange {
            kind,
            verb: Verb::Created,
            id: &id,
            before: None,
            after: Some(&stored),
        };
        let team_infos = self
            .record_as(tx, org_id, audit_name, at, Some(change), &changes)
            .await?;
        // A new user is in no group yet, and its teams are the ones just granted or
        // waitlisted: nothing to load.
        let view = match kind {
            ResourceKind::User => View {
                kind,
                teams: Some(new_user_teams(&changes, &team_infos)),
                stored,
                members: None,
                groups: None,
            },
            ResourceKind::Group => self.view(tx, kind, stored, true, true).await?,
        };
        Ok(view)
    }

    /// GET one resource; `with_refs` loads members/groups, `with_teams` a user's team
    /// memberships. Reads on `reader` if given, as [`Directory::list`] does.
    pub async fn get(
        &self,
        actor: &Actor,
        kind: ResourceKind,
        id: &str,
        with_refs: bool,
        with_teams: bool,
        reader: Option<Tx>,
    ) -> Result<View, Error> {
        let mut tx = match reader {
            Some(tx) => tx,
            None => self.store.read_snapshot().await?,
        };
        let stored = resources::get(&mut tx, table(kind), &actor.org_id, id, false)
            .await?
            .ok_or_else(|| not_found(kind, id))?;
        self.view(&mut tx, kind, stored, with_refs, with_teams)
            .await
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
        let at = self.clock.now();
        let now = format_timestamp(at);
        let mut tx = self.store.write().await?;
        let current = self.current(&mut tx, actor, kind, id, if_match).await?;
        let rt = self.registry.resource_type(kind);
        scim::resource::check_immutable(&self.registry, rt, &current.doc, &incoming.doc)?;
        let write = resource_write(kind, incoming.doc.clone(), password_hash.clone())?;
        let stored = resources::update(&mut tx, table(kind), &actor.org_id, &current, &write, &now)
            .await
            .map_err(|e| map_write_error(kind, &incoming.doc, e))?;
        let (changes, members_changed) = if kind == ResourceKind::Group {
            // RFC 7644 §3.5.1: PUT replaces every attribute; a PUT without `members`
            // leaves the group empty (as Microsoft's reference collection checks).
            let list = incoming.members.clone().unwrap_or_default();
            let changes = vec![MemberChange::RemoveAll, MemberChange::Add(list)];
            let group_id = GroupId::from(id);
            let mapped = rules::group_is_mapped(&mut tx, &group_id).await?;
            self.change_members(&mut tx, actor, &group_id, &changes, mapped, &now)
                .await?
        } else {
            let (before, after) = (&current.doc, &incoming.doc);
            let changes = self
                .user_changed(&mut tx, actor, id, before, after, &now)
                .await?;
            (changes, false)
        };
        // A PUT that sends back what is stored (IdPs re-sync that way) is no change.
        let changed = members_changed || incoming.doc != current.doc || password_hash.is_some();
        let verb = Verb::Replaced;
        let change = changed.then(|| ResourceChange::update(kind, verb, id, &current.doc, &stored));
        self.record(&mut tx, actor, at, change, &changes).await?;
        self.answer(tx, kind, stored, true).await
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
        let at = self.clock.now();
        let now = format_timestamp(at);
        let mut tx = self.store.write().await?;
        let current = self.current(&mut tx, actor, kind, id, if_match).await?;
        let mut doc = current.doc.clone();
        let outcome = scim::patch::apply(&self.registry, rt, &mut doc, &ops)?;
        let mut incoming = scim::resource::normalize(&self.registry, rt, &Value::Object(doc))?;
        scim::resource::check_immutable(&self.registry, rt, &current.doc, &incoming.doc)?;
        if kind == ResourceKind::User {
            tidy_teams(&mut incoming.doc)?;
        }
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
        let group_id = GroupId::from(id);
        let mapped = kind == ResourceKind::Group
            && !outcome.members.is_empty()
            && rules::group_is_mapped(&mut tx, &group_id).await?;
        let (changes, members_changed) = match kind {
            ResourceKind::Group => {
                self.change_members(&mut tx, actor, &group_id, &outcome.members, mapped, &now)
                    .await?
            }
            ResourceKind::User => {
                // A User has no members: its PatchOp cannot name any.
                let changes = if doc_changed {
                    let (before, after) = (&current.doc, &incoming.doc);
                    self.user_changed(&mut tx, actor, id, before, after, &now)
                        .await?
                } else {
                    Changes::default()
                };
                (changes, false)
            }
        };
        if members_changed && !doc_changed {
            resources::touch(&mut tx, table(kind), id, &now).await?;
            stored.version += 1;
            stored.updated = now.clone();
        }
        // A PATCH that changes nothing (a replay) records nothing.
        let changed = doc_changed || members_changed;
        let verb = Verb::Patched;
        let change = changed.then(|| ResourceChange::update(kind, verb, id, &current.doc, &stored));
        self.record(&mut tx, actor, at, change, &changes).await?;
        // The answer to a PATCH on a large group leaves its members out: IdPs ignore the
        // body, and echoing 100,000 members for each 100 added would make the cost of a
        // change grow with the group. GET still lists them.
        let with_refs = with_refs
            && (kind == ResourceKind::User
                || members::count_up_to(&mut tx, &group_id, PATCH_ECHO_MEMBERS + 1).await?
                    <= PATCH_ECHO_MEMBERS);
        self.answer(tx, kind, stored, with_refs).await
    }

    /// DELETE: removes a resource and every membership naming it.
    pub async fn delete(
        &self,
        actor: &Actor,
        kind: ResourceKind,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), Error> {
        let at = self.clock.now();
        let now = format_timestamp(at);
        let mut tx = self.store.write().await?;
        let current = self.current(&mut tx, actor, kind, id, if_match).await?;
        // Deprovisioning: the memberships go (and their seats free) in this transaction.
        let affected: Vec<UserId> = match kind {
            ResourceKind::User => vec![UserId::from(id)],
            ResourceKind::Group if rules::group_is_mapped(&mut tx, &GroupId::from(id)).await? => {
                members::of_groups(&mut tx, &[GroupId::from(id)])
                    .await?
                    .into_iter()
                    .map(|m| UserId::from(m.member_id))
                    .collect()
            }
            ResourceKind::Group => Vec::new(),
        };
        resources::delete(&mut tx, table(kind), &actor.org_id, id, &now).await?;
        let changes = rules::reconcile_users(&mut tx, &actor.org_id, &affected, &now).await?;
        let change = ResourceChange {
            kind,
            verb: Verb::Deleted,
            id,
            before: Some(&current.doc),
            after: None,
        };
        self.record(&mut tx, actor, at, Some(change), &changes)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The answer to a write: the resource as stored, read in the write's transaction,
    /// which then commits.
    async fn answer(
        &self,
        mut tx: Tx,
        kind: ResourceKind,
        stored: StoredResource,
        with_refs: bool,
    ) -> Result<View, Error> {
        let view = self.view(&mut tx, kind, stored, with_refs, true).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Applies `changes` to a group's members and reconciles the users they affect
    /// (`mapped`: the group feeds a team mapping). Also says whether any member changed.
    async fn change_members(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        group_id: &GroupId,
        changes: &[MemberChange],
        mapped: bool,
        now: &str,
    ) -> Result<(Changes, bool), Error> {
        let effects =
            apply_member_changes(tx, &self.registry, &actor.org_id, group_id, changes, mapped)
                .await?;
        let reconciled = rules::reconcile_users(tx, &actor.org_id, &effects.affected, now).await?;
        Ok((reconciled, effects.changed))
    }

    /// A user's document changed from `before` to `after`: their team attributes follow,
    /// then their memberships are reconciled.
    async fn user_changed(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        id: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
        now: &str,
    ) -> Result<Changes, Error> {
        let user_id = UserId::from(id);
        self.sync_team_attributes(tx, actor, &user_id, before, after)
            .await?;
        rules::reconcile_users(tx, &actor.org_id, &[user_id], now).await
    }

    /// Mirrors the IdP's team entries of a user (its rollcall `teams`) into the table the
    /// rules read, when they changed. An unknown team id is the IdP's error (400).
    async fn sync_team_attributes(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        id: &UserId,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
    ) -> Result<(), Error> {
        let wanted = team_attributes(after)?;
        if wanted == team_attributes(before)? {
            return Ok(());
        }
        put_team_attributes(tx, &actor.org_id, id, &wanted, true).await
    }

    /// Loads what the stored row lacks for rendering, as [`Directory::views`] does.
    pub(super) async fn view(
        &self,
        tx: &mut Tx,
        kind: ResourceKind,
        stored: StoredResource,
        with_refs: bool,
        with_teams: bool,
    ) -> Result<View, Error> {
        let mut views = self
            .views(tx, kind, vec![stored], with_refs, with_teams)
            .await?;
        views
            .pop()
            .ok_or_else(|| Error::Internal("view of one resource is empty".into()))
    }

    /// Loads members/groups of several resources in one query (`with_refs`), and the
    /// team memberships of users in another (`with_teams`; without, a user's view has
    /// no `teams` to show beyond what its document holds).
    pub(super) async fn views(
        &self,
        tx: &mut Tx,
        kind: ResourceKind,
        stored: Vec<StoredResource>,
        with_refs: bool,
        with_teams: bool,
    ) -> Result<Vec<View>, Error> {
        let ids: Vec<String> = stored.iter().map(|s| s.id.clone()).collect();
        let mut members: HashMap<String, Vec<Member>> = HashMap::new();
        let mut groups: HashMap<String, Vec<GroupMembership>> = HashMap::new();
        // One indexed query for the whole page.
        let mut teams: HashMap<String, Vec<UserTeam>> = HashMap::new();
        let with_teams = with_teams && kind == ResourceKind::User;
        if with_teams && !ids.is_empty() {
            let user_ids: Vec<UserId> = ids.iter().map(|id| UserId::from(id.as_str())).collect();
            for t in effects_sql::teams_of_users(tx, &user_ids).await? {
                teams.entry(t.user_id.to_string()).or_default().push(t);
            }
        }
        if with_refs {
            match kind {
                ResourceKind::Group => {
                    let group_ids: Vec<GroupId> =
                        ids.iter().map(|id| GroupId::from(id.as_str())).collect();
                    for m in members::of_groups(tx, &group_ids).await? {
                        members.entry(m.group_id.to_string()).or_default().push(m);
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
                let t = with_teams.then(|| teams.remove(&s.id).unwrap_or_default());
                View {
                    kind,
                    stored: s,
                    members: m,
                    groups: g,
                    teams: t,
                }
            })
            .collect())
    }
}

/// The IdP's team entries in a user document: (team id, role), one per team, in order.
/// Teams are keyed by id: naming a team again (a PATCH `add` of a team the user has)
/// sets its role, the last entry wins.
fn team_attributes(doc: &Map<String, Value>) -> Result<Vec<(String, TeamRole)>, Error> {
    let Some(list) = doc
        .get(ROLLCALL_USER_SCHEMA)
        .and_then(|ext| ext.get("teams"))
        .and_then(Value::as_array)
    else {
        return Ok(Vec::new());
    };
    let mut out: Vec<(String, TeamRole)> = Vec::new();
    for entry in list {
        let team = entry
            .get("value")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                ScimError::InvalidValue(format!(
                    "each {ROLLCALL_USER_SCHEMA}:teams entry needs a value (a team id)"
                ))
            })?;
        let role = match entry.get("role").and_then(Value::as_str) {
            None => TeamRole::User,
            Some(r) if r.eq_ignore_ascii_case("user") => TeamRole::User,
            Some(r) if r.eq_ignore_ascii_case("admin") => TeamRole::Admin,
            Some(r) => {
                return Err(ScimError::InvalidValue(format!(
                    "team role {r:?} of team {team:?} is neither \"user\" nor \"admin\""
                ))
                .into());
            }
        };
        out.retain(|(t, _)| t != team);
        out.push((team.to_owned(), role));
    }
    Ok(out)
}

/// Stores the IdP's teams in the document as [`team_attributes`] reads them: one entry
/// per team, roles spelt canonically, so what is read back is what counts.
fn tidy_teams(doc: &mut Map<String, Value>) -> Result<(), Error> {
    let teams = team_attributes(doc)?;
    if let Some(Value::Object(ext)) = doc.get_mut(ROLLCALL_USER_SCHEMA)
        && ext.contains_key("teams")
    {
        let list = teams
            .into_iter()
            .map(|(value, role)| serde_json::json!({"value": value, "role": role}))
            .collect();
        ext.insert("teams".into(), Value::Array(list));
    }
    Ok(())
}

/// Stores a user's team entries after checking that each names a team of the org.
async fn put_team_attributes(
    tx: &mut Tx,
    org_id: &OrgId,
    user_id: &UserId,
    teams: &[(String, TeamRole)],
    replace: bool,
) -> Result<(), Error> {
    if !teams.is_empty() {
        let ids: Vec<TeamId> = teams
            .iter()
            .map(|(t, _)| TeamId::from(t.as_str()))
            .collect();
        let known = effects_sql::known_teams(tx, org_id, &ids).await?;
        if let Some(unknown) = ids.iter().find(|t| !known.contains(*t)) {
            return Err(ScimError::InvalidValue(format!(
                "{ROLLCALL_USER_SCHEMA}:teams names team {unknown:?}, which is not a team of \
                 this organization"
            ))
            .into());
        }
    }
    effects_sql::put_team_attributes(tx, user_id, teams, replace).await?;
    Ok(())
}

/// A new user's teams: every membership it has was just granted or waitlisted.
fn new_user_teams(changes: &Changes, infos: &HashMap<TeamId, TeamInfo>) -> Vec<UserTeam> {
    let mut out: Vec<UserTeam> = changes
        .granted
        .iter()
        .chain(&changes.waitlisted)
        .map(|m| UserTeam {
            user_id: m.user_id.clone(),
            team_id: m.team_id.clone(),
            team_name: infos
                .get(&m.team_id)
                .map(|t| t.name.clone())
                .unwrap_or_default(),
            role: m.role,
            state: m.state,
            source: m.source,
        })
        .collect();
    out.sort_by(|a, b| {
        (fold_key(&a.team_name), &a.team_id).cmp(&(fold_key(&b.team_name), &b.team_id))
    });
    out
}
