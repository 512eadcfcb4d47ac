//! Teams, subscriptions (seat pools), org settings, memberships and seat counting.

use super::sql::{Q, Row};
use super::{StoreError, Tx};
use crate::domain::kinds::{
    LoginType, MembershipSource, MembershipState, OrgRole, SeatOverflow, TeamRole,
};
use crate::domain::time::Timestamp;
use crate::domain::{GroupId, MappingId, MembershipId, OrgId, SubscriptionId, TeamId, UserId};

/// A team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: TeamId,
    pub org_id: OrgId,
    pub name: String,
    pub description: String,
    pub login_type: LoginType,
    pub subscription_id: SubscriptionId,
    /// Seats reserved for (and capping) this team; None shares the unreserved pool.
    pub reserved_seats: Option<i64>,
    pub created: Timestamp,
}

/// A subscription: a pool of seats covering one or more teams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub org_id: OrgId,
    pub label: String,
    pub plan: String,
    pub seats: i64,
    pub created: Timestamp,
}

/// Per-org settings of the provisioning rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgSettings {
    pub initial_team_id: Option<TeamId>,
    pub default_team_id: Option<TeamId>,
    pub seat_overflow: SeatOverflow,
    pub idp_managed_teams: bool,
}

/// A team membership row: a user in a team, with its role, source and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMembership {
    pub id: MembershipId,
    pub team_id: TeamId,
    pub user_id: UserId,
    pub role: TeamRole,
    pub source: MembershipSource,
    pub state: MembershipState,
}

/// Seat-holding states (every state but `awaiting_seat`): what
/// [`MembershipState::seat_states_sql`] says, as a constant for `format!`.
pub const SEAT_STATES: &str = "('invited', 'pending_app_login', 'active')";

pub(super) fn decode_team(r: &Row) -> Result<Team, StoreError> {
    Ok(Team {
        id: r.id("id")?,
        org_id: r.id("org_id")?,
        name: r.text("name")?,
        description: r.text("description")?,
        login_type: r.parse("login_type")?,
        subscription_id: r.id("subscription_id")?,
        reserved_seats: r.opt_int("reserved_seats")?,
        created: r.parse("created_at")?,
    })
}

pub(super) fn decode_membership(r: &Row) -> Result<TeamMembership, StoreError> {
    Ok(TeamMembership {
        id: r.id("id")?,
        team_id: r.id("team_id")?,
        user_id: r.id("user_id")?,
        role: r.parse("role")?,
        source: r.parse("source")?,
        state: r.parse("state")?,
    })
}

const TEAM_COLUMNS: &str =
    "id, org_id, name, description, login_type, subscription_id, reserved_seats, created_at";

/// Inserts a subscription.
pub async fn insert_subscription(tx: &mut Tx, s: &Subscription) -> Result<(), StoreError> {
    tx.execute(
        Q::new(
            "INSERT INTO subscriptions (id, org_id, label, plan, seats, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(s.id.as_str())
        .bind(s.org_id.as_str())
        .bind(s.label.as_str())
        .bind(s.plan.as_str())
        .bind(s.seats)
        .bind(s.created.as_str()),
    )
    .await?;
    Ok(())
}

/// Inserts a team; a name taken in the org (case-insensitively) is a Conflict.
pub async fn insert_team(tx: &mut Tx, t: &Team) -> Result<(), StoreError> {
    tx.execute(
        Q::new(
            "INSERT INTO teams (id, org_id, name, name_norm, description, login_type, \
             subscription_id, reserved_seats, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(t.id.as_str())
        .bind(t.org_id.as_str())
        .bind(t.name.as_str())
        .bind(scim::text::fold_key(&t.name))
        .bind(t.description.as_str())
        .bind(t.login_type)
        .bind(t.subscription_id.as_str())
        .bind(t.reserved_seats)
        .bind(t.created.as_str())
        .bind(t.created.as_str()),
    )
    .await?;
    Ok(())
}

/// One team of the org.
pub async fn get_team(
    tx: &mut Tx,
    org_id: &OrgId,
    id: &TeamId,
) -> Result<Option<Team>, StoreError> {
    let row = tx
        .fetch_optional(
            Q::new(&format!(
                "SELECT {TEAM_COLUMNS} FROM teams WHERE org_id = ? AND id = ?"
            ))
            .bind(org_id)
            .bind(id),
        )
        .await?;
    row.as_ref().map(decode_team).transpose()
}

/// Writes the org's settings (insert or replace).
pub async fn put_settings(tx: &mut Tx, org_id: &OrgId, s: &OrgSettings) -> Result<(), StoreError> {
    tx.execute(
        Q::new(
            "INSERT INTO org_settings (org_id, initial_team_id, default_team_id, seat_overflow, \
             idp_managed_teams) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (org_id) DO UPDATE SET initial_team_id = excluded.initial_team_id, \
             default_team_id = excluded.default_team_id, seat_overflow = excluded.seat_overflow, \
             idp_managed_teams = excluded.idp_managed_teams",
        )
        .bind(org_id)
        .bind(s.initial_team_id.clone())
        .bind(s.default_team_id.clone())
        .bind(s.seat_overflow)
        .bind(s.idp_managed_teams),
    )
    .await?;
    Ok(())
}

/// The org's settings (defaults when none were written).
pub async fn settings(tx: &mut Tx, org_id: &OrgId) -> Result<OrgSettings, StoreError> {
    let row = tx
        .fetch_optional(
            Q::new(
                "SELECT initial_team_id, default_team_id, seat_overflow, idp_managed_teams \
                 FROM org_settings WHERE org_id = ?",
            )
            .bind(org_id),
        )
        .await?;
    Ok(match row {
        None => OrgSettings {
            initial_team_id: None,
            default_team_id: None,
            seat_overflow: SeatOverflow::Waitlist,
            idp_managed_teams: false,
        },
        Some(r) => OrgSettings {
            initial_team_id: r.opt_id("initial_team_id")?,
            default_team_id: r.opt_id("default_team_id")?,
            seat_overflow: r.parse("seat_overflow")?,
            idp_managed_teams: r.bool("idp_managed_teams")?,
        },
    })
}

/// The memberships of the given users.
pub async fn memberships_of_users(
    tx: &mut Tx,
    user_ids: &[UserId],
) -> Result<Vec<TeamMembership>, StoreError> {
    let head = Q::new(
        "SELECT id, team_id, user_id, role, source, state FROM memberships WHERE user_id IN (",
    );
    tx.fetch_all_in(head, user_ids, ") ORDER BY user_id, team_id", 500)
        .await?
        .iter()
        .map(decode_membership)
        .collect()
}

/// Locks the subscription's seat pool until the transaction ends, so two requests racing
/// for its last seat are serialised (PostgreSQL row lock; SQLite's write transactions
/// are already exclusive). Returns the pool size.
pub async fn lock_pool(tx: &mut Tx, subscription_id: &SubscriptionId) -> Result<i64, StoreError> {
    let d = tx.dialect();
    let mut q = Q::new("SELECT seats FROM subscriptions WHERE id = ?").bind(subscription_id);
    q.push(d.for_update());
    tx.fetch_one(q).await?.int("seats")
}

/// Whether `team` can seat newcomers now, read with its pool locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatRoom {
    /// The subscription's seats.
    pub pool: i64,
    /// Seats the team can still take (see [`free_seats`]).
    pub free: i64,
    /// Someone already waits in the team's queue (they come before a newcomer).
    pub queue_ahead: bool,
}

/// [`lock_pool`], [`free_seats`] and "is anyone waiting" in one statement: a create runs
/// it once, on the single SQLite writer.
pub async fn seat_room(tx: &mut Tx, team: &Team) -> Result<SeatRoom, StoreError> {
    let d = tx.dialect();
    let mut q = Q::new(
        "SELECT s.seats, \
         (SELECT CAST(COALESCE(SUM(reserved_seats), 0) AS BIGINT) FROM teams \
           WHERE subscription_id = s.id) AS reserved, \
         (SELECT CAST(COALESCE(SUM(held_seats), 0) AS BIGINT) FROM teams \
           WHERE subscription_id = s.id AND reserved_seats IS NULL) AS shared_held, \
         (SELECT CAST(held_seats AS BIGINT) FROM teams WHERE id = ",
    );
    q.push_bind(team.id.as_str()).push(") AS team_held, ");
    match team.reserved_seats {
        Some(_) => q
            .push("EXISTS (SELECT 1 FROM memberships WHERE team_id = ")
            .push_bind(team.id.as_str())
            .push(" AND state = 'awaiting_seat')"),
        None => q.push(
            "EXISTS (SELECT 1 FROM memberships m JOIN teams t ON t.id = m.team_id \
             WHERE t.subscription_id = s.id AND t.reserved_seats IS NULL \
             AND m.state = 'awaiting_seat')",
        ),
    };
    q.push(" AS queue_ahead FROM subscriptions s WHERE s.id = ")
        .push_bind(team.subscription_id.as_str());
    q.push(d.for_update());
    let row = tx.fetch_one(q).await?;
    let pool = row.int("seats")?;
    let free = match team.reserved_seats {
        Some(reserved) => reservation_left(reserved, row.int("team_held")?),
        None => shared_left(pool, row.int("reserved")?, row.int("shared_held")?),
    };
    Ok(SeatRoom {
        pool,
        free,
        queue_ahead: row.bool("queue_ahead")?,
    })
}

/// How many more seats `team` can take now: its reservation left, or the pool left
/// after every reservation and every seat held by teams that share the pool.
pub async fn free_seats(tx: &mut Tx, team: &Team, pool: i64) -> Result<i64, StoreError> {
    match team.reserved_seats {
        Some(reserved) => Ok(reservation_left(reserved, seats_held(tx, &team.id).await?)),
        // An unlimited pool (no --seats) needs no count.
        None if pool == i64::MAX => Ok(i64::MAX),
        None => {
            let row = tx
                .fetch_one(
                    Q::new(
                        "SELECT CAST(COALESCE(SUM(reserved_seats), 0) AS BIGINT) AS reserved, \
                         CAST(COALESCE(SUM(CASE WHEN reserved_seats IS NULL THEN held_seats END), 0) \
                         AS BIGINT) AS held FROM teams WHERE subscription_id = ?",
                    )
                    .bind(team.subscription_id.as_str()),
                )
                .await?;
            Ok(shared_left(pool, row.int("reserved")?, row.int("held")?))
        }
    }
}

/// Seats a team with a reservation can still take.
fn reservation_left(reserved: i64, held: i64) -> i64 {
    (reserved - held).max(0)
}

/// Seats left to the teams that share a pool: the pool less every reservation and every
/// seat they hold. An unlimited pool (no `--seats`) never runs out.
fn shared_left(pool: i64, reserved: i64, shared_held: i64) -> i64 {
    if pool == i64::MAX {
        i64::MAX
    } else {
        (pool - reserved - shared_held).max(0)
    }
}

/// Inserts a membership in the given state (`awaiting_seat` rows get the next wait_seq).
pub async fn insert_membership(
    tx: &mut Tx,
    org_id: &OrgId,
    m: &TeamMembership,
    now: &str,
) -> Result<(), StoreError> {
    insert_memberships(tx, org_id, std::slice::from_ref(m), now).await
}

/// Inserts memberships in their given states, a few hundred rows per statement (a group
/// PATCH adds 100 members at a time). `awaiting_seat` rows queue in slice order.
pub async fn insert_memberships(
    tx: &mut Tx,
    org_id: &OrgId,
    ms: &[TeamMembership],
    now: &str,
) -> Result<(), StoreError> {
    let mut next_wait = if ms.iter().any(|m| !m.state.holds_seat()) {
        // First come, first served across every team of a pool; callers hold the pool
        // lock, so two transactions cannot read the same maximum for one pool.
        tx.fetch_one(Q::new(
            "SELECT CAST(COALESCE(MAX(wait_seq), 0) AS BIGINT) AS n FROM memberships",
        ))
        .await?
        .int("n")?
    } else {
        0
    };
    for chunk in ms.chunks(200) {
        let mut q = Q::new(
            "INSERT INTO memberships (id, org_id, team_id, user_id, role, source, state, \
             wait_seq, added_at, invited_at) VALUES ",
        );
        for (i, m) in chunk.iter().enumerate() {
            let waiting = !m.state.holds_seat();
            let wait_seq = if waiting {
                next_wait += 1;
                Some(next_wait)
            } else {
                None
            };
            q.push(if i == 0 { "(" } else { ", (" })
                .push_bind(m.id.as_str())
                .push(", ")
                .push_bind(org_id)
                .push(", ")
                .push_bind(m.team_id.as_str())
                .push(", ")
                .push_bind(m.user_id.as_str())
                .push(", ")
                .push_bind(m.role)
                .push(", ")
                .push_bind(m.source)
                .push(", ")
                .push_bind(m.state)
                .push(", ")
                .push_bind(wait_seq)
                .push(", ")
                .push_bind(now)
                .push(", ")
                .push_bind(if waiting { None } else { Some(now) })
                .push(")");
        }
        tx.execute(q).await?;
    }
    Ok(())
}

/// Deletes memberships by id.
pub async fn delete_memberships(tx: &mut Tx, ids: &[MembershipId]) -> Result<(), StoreError> {
    for chunk in ids.chunks(500) {
        let mut q = Q::new("DELETE FROM memberships WHERE id IN (");
        q.push_list(chunk);
        q.push(")");
        tx.execute(q).await?;
    }
    Ok(())
}

/// Changes a membership's role and source.
pub async fn update_membership(
    tx: &mut Tx,
    id: &MembershipId,
    role: TeamRole,
    source: MembershipSource,
) -> Result<(), StoreError> {
    tx.execute(
        Q::new("UPDATE memberships SET role = ?, source = ? WHERE id = ?")
            .bind(role)
            .bind(source)
            .bind(id),
    )
    .await?;
    Ok(())
}

/// The longest-waiting memberships of one team (`team_id`), or of every team of the
/// subscription that shares its pool (`team_id` None), oldest first.
pub async fn waiting(
    tx: &mut Tx,
    subscription_id: &SubscriptionId,
    team_id: Option<&TeamId>,
    limit: i64,
) -> Result<Vec<TeamMembership>, StoreError> {
    let mut q = Q::new(
        "SELECT m.id, m.team_id, m.user_id, m.role, m.source, m.state FROM memberships m \
         JOIN teams t ON t.id = m.team_id \
         WHERE t.subscription_id = ? AND m.state = 'awaiting_seat' AND ",
    )
    .bind(subscription_id);
    match team_id {
        Some(id) => q.push("m.team_id = ").push_bind(id),
        None => q.push("t.reserved_seats IS NULL"),
    };
    q.push(" ORDER BY m.wait_seq").push_limit(limit);
    let rows = tx.fetch_all(q).await?;
    rows.iter().map(decode_membership).collect()
}

/// Gives a waiting membership its seat: it becomes `invited`.
pub async fn grant_seat(tx: &mut Tx, id: &MembershipId, now: &str) -> Result<(), StoreError> {
    tx.execute(
        Q::new(
            "UPDATE memberships SET state = 'invited', wait_seq = NULL, invited_at = ? \
             WHERE id = ? AND state = 'awaiting_seat'",
        )
        .bind(now)
        .bind(id),
    )
    .await?;
    Ok(())
}

/// The teams of a subscription.
pub async fn teams_of_subscription(
    tx: &mut Tx,
    subscription_id: &SubscriptionId,
) -> Result<Vec<Team>, StoreError> {
    let rows = tx
        .fetch_all(
            Q::new(&format!(
                "SELECT {TEAM_COLUMNS} FROM teams WHERE subscription_id = ? ORDER BY created_at, id"
            ))
            .bind(subscription_id),
        )
        .await?;
    rows.iter().map(decode_team).collect()
}

/// (user, team, role) wanted through mapped groups the users are in.
pub async fn mapped_team_roles(
    tx: &mut Tx,
    user_ids: &[UserId],
) -> Result<Vec<(UserId, TeamId, TeamRole)>, StoreError> {
    let head = Q::new(
        "SELECT gm.member_id AS user_id, m.team_id, m.team_role FROM scim_group_members gm \
         JOIN group_mappings m ON m.group_id = gm.group_id \
         WHERE m.team_id IS NOT NULL AND gm.member_id IN (",
    );
    tx.fetch_all_in(head, user_ids, ")", 500)
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.id("user_id")?,
                row.id("team_id")?,
                row.parse("team_role")?,
            ))
        })
        .collect()
}

/// A mapping of an IdP group to a team and role (or to an org role).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMapping {
    pub id: MappingId,
    pub org_id: OrgId,
    pub group_id: GroupId,
    pub team_id: Option<TeamId>,
    pub team_role: Option<TeamRole>,
    pub org_role: Option<OrgRole>,
    pub created: Timestamp,
}

/// Inserts a group mapping.
pub async fn insert_mapping(tx: &mut Tx, m: &GroupMapping) -> Result<(), StoreError> {
    tx.execute(
        Q::new(
            "INSERT INTO group_mappings (id, org_id, group_id, team_id, team_role, org_role, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(m.id.as_str())
        .bind(m.org_id.as_str())
        .bind(m.group_id.as_str())
        .bind(m.team_id.clone())
        .bind(m.team_role)
        .bind(m.org_role)
        .bind(m.created.as_str()),
    )
    .await?;
    Ok(())
}

/// Seats held in one team.
pub async fn seats_held(tx: &mut Tx, team_id: &TeamId) -> Result<i64, StoreError> {
    tx.fetch_one(
        // Kept by the memberships triggers (migration 0010).
        Q::new("SELECT held_seats AS n FROM teams WHERE id = ?").bind(team_id),
    )
    .await?
    .int("n")
}

/// Which of `user_ids` exist in the org and are active.
pub async fn active_user_ids(
    tx: &mut Tx,
    org_id: &OrgId,
    user_ids: &[UserId],
) -> Result<std::collections::BTreeSet<UserId>, StoreError> {
    // By id alone, the org checked here: with `org_id = ?` in the query SQLite walks
    // the organization's rows instead of probing the `id` index (no statistics).
    let mut head = Q::new("SELECT id, org_id FROM scim_users WHERE active = ");
    head.push_bind(true).push(" AND id IN (");
    let mut out = std::collections::BTreeSet::new();
    for row in tx.fetch_all_in(head, user_ids, ")", 500).await? {
        if row.str("org_id")? == org_id.as_str() {
            out.insert(row.id("id")?);
        }
    }
    Ok(out)
}

/// Whether any mapping names this group.
pub async fn group_is_mapped(tx: &mut Tx, group_id: &GroupId) -> Result<bool, StoreError> {
    Ok(tx
        .fetch_optional(
            Q::new("SELECT 1 AS one FROM group_mappings WHERE group_id = ? LIMIT 1").bind(group_id),
        )
        .await?
        .is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seat_states_are_the_enum_s() {
        assert_eq!(SEAT_STATES, MembershipState::seat_states_sql());
    }
}
