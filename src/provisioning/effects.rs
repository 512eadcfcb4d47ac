//! The outbound effects of a SCIM change, written in the request's transaction
//! (DESIGN.md "Provisioning rules" 4 and 8, "Outbound effects"): the audit log, the
//! webhooks and the joining emails. A change costs a handful of statements whatever it
//! moved: team and user details (one query each, only when memberships moved), the
//! invitation times (one update), the audit entries (one insert) and the outbox rows
//! (the org's endpoints, then one insert).
//!
//! Dedupe keys name the fact, never the request, so a replayed request that changes
//! nothing queues nothing and a retried one cannot queue twice: `invite:{membership}`,
//! `membership.granted:{membership}`, `user.updated:{user}:v{version}` ...

use super::Error;
use super::invitations::{self, Invitations};
use super::rules::Changes;
use crate::clock::format_timestamp;
use crate::domain::{OrgId, TeamId, UserId};
use crate::outbox::{self, Email, Event, EventType, OutboxError};
use crate::store::effects::{self as sql, TeamInfo, UserInfo};
use crate::store::resources::StoredResource;
use crate::store::teams::TeamMembership;
use crate::store::{Tx, audit, sessions as sessions_sql};
use scim::schema::ResourceKind;
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap};
use time::OffsetDateTime;

/// What a SCIM request did to the resource it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Created,
    Replaced,
    Patched,
    Deleted,
}

/// The resource change at the root of the effects.
#[derive(Debug, Clone, Copy)]
pub struct ResourceChange<'a> {
    pub kind: ResourceKind,
    pub verb: Verb,
    pub id: &'a str,
    /// The document before (None for a create).
    pub before: Option<&'a Map<String, Value>>,
    /// The resource after (None for a delete).
    pub after: Option<&'a StoredResource>,
}

impl<'a> ResourceChange<'a> {
    /// A change to resource `id` (a PUT or PATCH) from `before` to `after`.
    pub fn update(
        kind: ResourceKind,
        verb: Verb,
        id: &'a str,
        before: &'a Map<String, Value>,
        after: &'a StoredResource,
    ) -> Self {
        ResourceChange {
            kind,
            verb,
            id,
            before: Some(before),
            after: Some(after),
        }
    }
}

/// Who made the change and when.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub org_id: &'a OrgId,
    /// `scim:<token label>`, `admin:<token label>` ...
    pub actor: &'a str,
    pub now: OffsetDateTime,
}

/// What the effects learnt about the teams and users involved.
#[derive(Debug)]
pub struct Recorded<'a> {
    pub granted: &'a [TeamMembership],
    pub teams: HashMap<TeamId, TeamInfo>,
    users: HashMap<UserId, UserInfo>,
}

impl Recorded<'_> {
    pub(super) fn user(&self, id: &UserId) -> Option<&UserInfo> {
        self.users.get(id)
    }
}

pub(super) fn outbox_error(e: OutboxError) -> Error {
    match e {
        OutboxError::Store(s) => Error::Store(s),
        other => Error::Internal(other.to_string()),
    }
}

fn noun(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "user",
        ResourceKind::Group => "group",
    }
}

fn verb_name(verb: Verb) -> &'static str {
    match verb {
        Verb::Created => "created",
        Verb::Replaced => "replaced",
        Verb::Patched => "patched",
        Verb::Deleted => "deleted",
    }
}

fn active(doc: Option<&Map<String, Value>>) -> Option<bool> {
    doc.map(|d| d.get("active").and_then(Value::as_bool).unwrap_or(true))
}

fn user_name(doc: &Map<String, Value>) -> &str {
    doc.get("userName")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn user_json(id: &str, doc: &Map<String, Value>) -> Value {
    json!({
        "id": id,
        "userName": user_name(doc),
        "externalId": doc.get("externalId"),
        "active": active(Some(doc)),
    })
}

fn membership_json(m: &TeamMembership, r: &Recorded<'_>) -> Value {
    json!({
        "id": m.id,
        "team": {"id": m.team_id, "name": r.teams.get(&m.team_id).map(|t| t.name.as_str())},
        "user": {"id": m.user_id, "userName": r.user(&m.user_id).map(|u| u.user_name.as_str())},
        "role": m.role,
        "source": m.source,
        "state": m.state,
    })
}

fn audit_membership(m: &TeamMembership) -> Value {
    json!({
        "id": m.id,
        "team_id": m.team_id,
        "user_id": m.user_id,
        "role": m.role,
        "source": m.source,
        "state": m.state,
    })
}

/// Writes the audit entries, webhooks and joining emails of one change in `tx`.
/// Returns the team details it loaded (a new user's view reuses them).
pub async fn record(
    tx: &mut Tx,
    inv: &Invitations,
    origin: Origin<'_>,
    change: Option<ResourceChange<'_>>,
    changes: &Changes,
) -> Result<HashMap<TeamId, TeamInfo>, Error> {
    let stamp = format_timestamp(origin.now);
    let org_id = origin.org_id;

    // Details of the teams and users the memberships name.
    let moved = changes
        .granted
        .iter()
        .chain(&changes.waitlisted)
        .chain(changes.removed.iter().map(|(m, _)| m))
        .chain(changes.changed.iter().map(|(_, a)| a));
    let mut team_ids = BTreeSet::new();
    let mut user_ids = BTreeSet::new();
    for m in moved {
        team_ids.insert(m.team_id.clone());
        user_ids.insert(m.user_id.clone());
    }
    let mut users = HashMap::new();
    if let Some(c) = change.filter(|c| c.kind == ResourceKind::User) {
        let doc = c.after.map(|s| &s.doc).or(c.before);
        if let Some(doc) = doc {
            let id = UserId::from(c.id);
            user_ids.remove(&id);
            let info = invitations::user_info(&id, user_name(doc), doc);
            users.insert(id, info);
        }
    }
    let teams = if team_ids.is_empty() {
        HashMap::new()
    } else {
        let ids: Vec<TeamId> = team_ids.into_iter().collect();
        sql::team_infos(tx, org_id, &ids).await?
    };
    if !user_ids.is_empty() {
        let ids: Vec<UserId> = user_ids.into_iter().collect();
        users.extend(sql::user_infos(tx, org_id, &ids).await?);
    }
    let recorded = Recorded {
        granted: &changes.granted,
        teams,
        users,
    };

    // What caused a role change, so that the same change twice is not one event.
    let cause = change.map_or_else(
        || format!("at:{stamp}"),
        |c| match c.after {
            Some(s) => format!("{}:{}:v{}", noun(c.kind), c.id, s.version),
            None => format!("{}:{}:deleted", noun(c.kind), c.id),
        },
    );

    let mut entries: Vec<(String, String, Option<Value>, Option<Value>)> = Vec::new();
    let mut events: Vec<(String, Event)> = Vec::new();
    if let Some(c) = change {
        let after_doc = c.after.map(|s| Value::Object(s.doc.clone()));
        let before_doc = c.before.map(|d| Value::Object(d.clone()));
        entries.push((
            format!("{}.{}", noun(c.kind), verb_name(c.verb)),
            format!("{}:{}", noun(c.kind), c.id),
            before_doc,
            after_doc,
        ));
        if c.kind == ResourceKind::User {
            let was = active(c.before);
            let is = active(c.after.map(|s| &s.doc));
            let version = c.after.map_or(0, |s| s.version);
            let (kind, key) = match (c.verb, was, is) {
                (Verb::Created, ..) => (EventType::UserProvisioned, c.id.to_owned()),
                (Verb::Deleted, ..) => (EventType::UserDeprovisioned, format!("{}:deleted", c.id)),
                (_, Some(true), Some(false)) => {
                    (EventType::UserDeprovisioned, format!("{}:v{version}", c.id))
                }
                (_, Some(false), Some(true)) => {
                    (EventType::UserProvisioned, format!("{}:v{version}", c.id))
                }
                _ => (EventType::UserUpdated, format!("{}:v{version}", c.id)),
            };
            let doc = c.after.map(|s| &s.doc).or(c.before);
            if let Some(doc) = doc {
                events.push((
                    format!("{}:{key}", kind.as_str()),
                    Event {
                        kind,
                        data: json!({"user": user_json(c.id, doc)}),
                    },
                ));
            }
        }
    }
    let target = |m: &TeamMembership| format!("membership:{}/{}", m.team_id, m.user_id);
    let mut push_event = |kind: EventType, key: String, data: Value| {
        events.push((format!("{}:{key}", kind.as_str()), Event { kind, data }));
    };
    // In the order the rules applied them: changes, removals, then grants.
    for (m, held) in &changes.removed {
        entries.push((
            "membership.removed".into(),
            target(m),
            Some(audit_membership(m)),
            None,
        ));
        push_event(
            EventType::MembershipRemoved,
            m.id.to_string(),
            json!({"membership": membership_json(m, &recorded)}),
        );
        if *held {
            push_event(
                EventType::SeatReleased,
                m.id.to_string(),
                json!({"membership": membership_json(m, &recorded)}),
            );
        }
    }
    for (before, after) in &changes.changed {
        entries.push((
            "membership.updated".into(),
            target(after),
            Some(audit_membership(before)),
            Some(audit_membership(after)),
        ));
        if before.role != after.role {
            push_event(
                EventType::RoleChanged,
                format!("{}:{}:{cause}", after.id, after.role),
                json!({
                    "membership": membership_json(after, &recorded),
                    "previous_role": before.role,
                }),
            );
        }
    }

    for m in &changes.granted {
        entries.push((
            "membership.granted".into(),
            target(m),
            None,
            Some(audit_membership(m)),
        ));
        push_event(
            EventType::MembershipGranted,
            m.id.to_string(),
            json!({"membership": membership_json(m, &recorded)}),
        );
    }
    for m in &changes.waitlisted {
        entries.push((
            "membership.waitlisted".into(),
            target(m),
            None,
            Some(audit_membership(m)),
        ));
        push_event(
            EventType::MembershipWaitlisted,
            m.id.to_string(),
            json!({"membership": membership_json(m, &recorded)}),
        );
    }
    revoke_sessions(
        tx,
        org_id,
        &stamp,
        change,
        changes,
        &cause,
        &recorded,
        &mut entries,
        &mut events,
    )
    .await?;
    let mut emails: Vec<(String, Email)> = Vec::new();
    let (invited, no_address) =
        invitations::joining_emails(inv, &recorded, origin.now, &mut emails);
    // The seat is held and the membership is `invited`, but nobody was told: say why
    // where an admin looks (the member view shows it too, from the missing invitation).
    for m in no_address {
        entries.push((
            "membership.invitation_not_sent".into(),
            target(m),
            None,
            Some(json!({"membership_id": m.id, "reason": invitations::NO_ADDRESS})),
        ));
    }
    if !invited.is_empty() {
        sql::set_invited(
            tx,
            &invited,
            &stamp,
            &format_timestamp(inv.expiry(origin.now)),
        )
        .await?;
    }
    let audit_entries: Vec<audit::NewEntry<'_>> = entries
        .iter()
        .map(|(action, target, before, after)| audit::NewEntry {
            org_id,
            at: &stamp,
            actor: origin.actor,
            action,
            target,
            before: before.as_ref(),
            after: after.as_ref(),
        })
        .collect();
    audit::insert_many(tx, &audit_entries).await?;
    outbox::enqueue_batch(tx, org_id, &emails, &events, origin.now)
        .await
        .map_err(outbox_error)?;
    Ok(recorded.teams)
}

/// Deprovisioning revokes sessions at once (DESIGN.md "Provisioning rules" 5): a user
/// deactivated, deleted, or left without any membership loses every session and refresh
/// token in this transaction, so introspection answers inactive from the commit on. One
/// audit entry and one `user.sessions_revoked` webhook per user whose sessions went.
#[allow(clippy::too_many_arguments)]
async fn revoke_sessions(
    tx: &mut Tx,
    org_id: &OrgId,
    stamp: &str,
    change: Option<ResourceChange<'_>>,
    changes: &Changes,
    cause: &str,
    recorded: &Recorded<'_>,
    entries: &mut Vec<(String, String, Option<Value>, Option<Value>)>,
    events: &mut Vec<(String, Event)>,
) -> Result<(), Error> {
    let mut revoke: Vec<(UserId, &'static str)> = Vec::new();
    if let Some(c) = change.filter(|c| c.kind == ResourceKind::User) {
        match (c.verb, active(c.before), active(c.after.map(|s| &s.doc))) {
            (Verb::Deleted, ..) => revoke.push((UserId::from(c.id), "deleted")),
            (_, Some(true), Some(false)) => revoke.push((UserId::from(c.id), "deactivated")),
            _ => {}
        }
    }
    let losers: BTreeSet<UserId> = changes
        .removed
        .iter()
        .map(|(m, _)| m.user_id.clone())
        .filter(|u| !revoke.iter().any(|(r, _)| r == u))
        .collect();
    if !losers.is_empty() {
        let losers: Vec<UserId> = losers.into_iter().collect();
        for user in sessions_sql::without_memberships(tx, &losers).await? {
            revoke.push((user, "no_membership"));
        }
    }
    for (user, reason) in revoke {
        let ids = sessions_sql::revoke_user_sessions(tx, org_id, &user, stamp, reason).await?;
        if ids.is_empty() {
            continue;
        }
        let detail = json!({"sessions": ids, "reason": reason});
        entries.push((
            "user.sessions_revoked".into(),
            format!("user:{user}"),
            None,
            Some(detail),
        ));
        let user_name = recorded.user(&user).map(|u| u.user_name.as_str());
        let kind = EventType::UserSessionsRevoked;
        events.push((
            format!("{}:{user}:{cause}", kind.as_str()),
            Event {
                kind,
                data: json!({
                    "user": {"id": user, "userName": user_name},
                    "sessions": ids,
                    "reason": reason,
                }),
            },
        ));
    }
    Ok(())
}
