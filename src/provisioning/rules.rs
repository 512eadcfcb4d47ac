//! The provisioning rules of DESIGN.md: a user's wanted memberships are the union of the
//! mapped groups they are in, the org's default team and the teams the IdP sets on the
//! user (the rollcall extension's `teams`); after every change the
//! difference is applied, seats are taken or waited for, and freed seats go to the
//! waitlist first come, first served. Runs inside the caller's transaction.

use super::Error;
use crate::domain::kinds::{MembershipSource, MembershipState, SeatOverflow, TeamRole};
use crate::domain::{GroupId, MembershipId, OrgId, SubscriptionId, TeamId, UserId};
use crate::store::StoreError;
use crate::store::Tx;
use crate::store::effects;
use crate::store::teams::{self, Team, TeamMembership};
use std::collections::{BTreeMap, BTreeSet};

/// What a reconciliation changed, for emails, webhooks and the audit log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Memberships that got a seat (new, or promoted from the waitlist).
    pub granted: Vec<TeamMembership>,
    /// New memberships waiting for a seat.
    pub waitlisted: Vec<TeamMembership>,
    /// Memberships removed (and whether each held a seat).
    pub removed: Vec<(TeamMembership, bool)>,
    /// Memberships whose role or source changed: (before, after).
    pub changed: Vec<(TeamMembership, TeamMembership)>,
}

/// Recomputes the memberships of `user_ids` (deleted or inactive users want none).
pub async fn reconcile_users(
    tx: &mut Tx,
    org_id: &OrgId,
    user_ids: &[UserId],
    now: &str,
) -> Result<Changes, Error> {
    reconcile(tx, org_id, user_ids, now, None).await
}

/// As [`reconcile_users`] for a user created in this transaction: in no group and no
/// team yet, so only the default team can be wanted, and whether it is active is known
/// from its document: no group, role, membership or activity queries per create.
pub async fn reconcile_new_user(
    tx: &mut Tx,
    org_id: &OrgId,
    user_id: &UserId,
    active: bool,
    now: &str,
) -> Result<Changes, Error> {
    reconcile(tx, org_id, std::slice::from_ref(user_id), now, Some(active)).await
}

/// `fresh`: the users were created in this transaction, all active or all not.
async fn reconcile(
    tx: &mut Tx,
    org_id: &OrgId,
    user_ids: &[UserId],
    now: &str,
    fresh: Option<bool>,
) -> Result<Changes, Error> {
    let mut changes = Changes::default();
    if user_ids.is_empty() {
        return Ok(changes);
    }
    let settings = teams::settings(tx, org_id).await?;
    let active = match fresh {
        Some(true) => user_ids.iter().cloned().collect(),
        Some(false) => BTreeSet::new(),
        None => teams::active_user_ids(tx, org_id, user_ids).await?,
    };

    // Wanted: (user, team) -> (role, source).
    let mut wanted: BTreeMap<(UserId, TeamId), (TeamRole, MembershipSource)> = BTreeMap::new();
    let mut want = |user: &UserId, team: &TeamId, role: TeamRole, source: MembershipSource| {
        let entry = wanted
            .entry((user.clone(), team.clone()))
            .or_insert((role, source));
        // Highest role wins; the most specific source names it.
        if role.rank() > entry.0.rank() {
            entry.0 = role;
        }
        if source.rank() > entry.1.rank() {
            entry.1 = source;
        }
    };
    // Mapped groups and the IdP's team attributes, in one query.
    let mapped = if fresh.is_some() {
        Vec::new()
    } else {
        effects::wanted_team_roles(tx, user_ids).await?
    };
    for (user, team, role, source) in mapped {
        if active.contains(&user) {
            want(&user, &team, role, source);
        }
    }
    if let Some(default_team) = &settings.default_team_id {
        for user in user_ids.iter().filter(|u| active.contains(*u)) {
            want(
                user,
                default_team,
                TeamRole::User,
                MembershipSource::Default,
            );
        }
    }
    // Org roles (from mapped groups, or an admin's grant); their holders want the initial
    // team. A new user has neither.
    if fresh.is_none() {
        for (user, source) in super::roles::reconcile(tx, org_id, user_ids, &active, now).await? {
            if let Some(initial) = &settings.initial_team_id {
                want(&user, initial, TeamRole::User, source);
            }
        }
    }

    let current = if fresh.is_some() {
        Vec::new()
    } else {
        teams::memberships_of_users(tx, user_ids).await?
    };
    let mut removed = Vec::new();
    let mut kept: BTreeSet<(UserId, TeamId)> = BTreeSet::new();
    for m in current {
        let key = (m.user_id.clone(), m.team_id.clone());
        // Deprovisioning takes manual memberships too.
        let manual_kept = m.source == MembershipSource::Manual
            && !settings.idp_managed_teams
            && active.contains(&m.user_id);
        match wanted.get(&key) {
            _ if manual_kept => {
                kept.insert(key);
            }
            Some((role, source)) => {
                if m.role != *role || m.source != *source {
                    teams::update_membership(tx, &m.id, *role, *source).await?;
                    let after = TeamMembership {
                        role: *role,
                        source: *source,
                        ..m.clone()
                    };
                    changes.changed.push((m, after));
                }
                kept.insert(key);
            }
            None => removed.push(m),
        }
    }

    // Removals first, then the waitlist gets the freed seats, then newcomers queue.
    let mut freed_subscriptions = BTreeSet::new();
    if !removed.is_empty() {
        let freed_teams: BTreeSet<&TeamId> = removed
            .iter()
            .filter(|m| m.state.holds_seat())
            .map(|m| &m.team_id)
            .collect();
        for team_id in freed_teams {
            if let Some(team) = team(tx, org_id, team_id).await? {
                freed_subscriptions.insert(team.subscription_id);
            }
        }
        // Pool locks before the delete: the held-seats trigger then locks the team rows in
        // the same order as a grant does (pool, then team), so PostgreSQL cannot deadlock.
        for subscription in &freed_subscriptions {
            teams::lock_pool(tx, subscription).await?;
        }
        let ids: Vec<MembershipId> = removed.iter().map(|m| m.id.clone()).collect();
        teams::delete_memberships(tx, &ids).await?;
        for m in removed {
            let held = m.state.holds_seat();
            changes.removed.push((m, held));
        }
    }
    for subscription in &freed_subscriptions {
        changes
            .granted
            .extend(fill_waitlist(tx, subscription, now).await?);
    }

    let mut additions: BTreeMap<TeamId, Vec<(UserId, TeamRole, MembershipSource)>> =
        BTreeMap::new();
    for ((user, team), (role, source)) in wanted {
        if !kept.contains(&(user.clone(), team.clone())) {
            additions
                .entry(team)
                .or_default()
                .push((user, role, source));
        }
    }
    for (team_id, users) in additions {
        let Some(team) = team(tx, org_id, &team_id).await? else {
            continue;
        };
        // Someone already waiting for this team comes before a newcomer.
        let teams::SeatRoom {
            pool,
            mut free,
            queue_ahead,
        } = teams::seat_room(tx, &team).await?;
        let mut inserted = Vec::with_capacity(users.len());
        for (user, role, source) in users {
            let seat = free > 0 && !queue_ahead;
            if !seat && settings.seat_overflow == SeatOverflow::Reject {
                return Err(seat_limit(tx, &team, pool).await);
            }
            if seat {
                free -= 1;
            }
            inserted.push(TeamMembership {
                id: MembershipId::new_v7(),
                team_id: team.id.clone(),
                user_id: user,
                role,
                source,
                state: if seat {
                    MembershipState::Invited
                } else {
                    MembershipState::AwaitingSeat
                },
            });
        }
        teams::insert_memberships(tx, org_id, &inserted, now).await?;
        for m in inserted {
            if !m.state.holds_seat() {
                changes.waitlisted.push(m);
            } else {
                changes.granted.push(m);
            }
        }
    }
    Ok(changes)
}

fn waiting_scope(team: &Team) -> Option<&TeamId> {
    team.reserved_seats.map(|_| &team.id)
}

async fn team(tx: &mut Tx, org_id: &OrgId, id: &TeamId) -> Result<Option<Team>, StoreError> {
    teams::get_team(tx, org_id, id).await
}

/// Grants freed seats of a subscription to its waiting memberships, oldest first.
pub async fn fill_waitlist(
    tx: &mut Tx,
    subscription_id: &SubscriptionId,
    now: &str,
) -> Result<Vec<TeamMembership>, Error> {
    let pool = teams::lock_pool(tx, subscription_id).await?;
    let mut granted = Vec::new();
    let all = teams::teams_of_subscription(tx, subscription_id).await?;
    let mut scopes: Vec<Team> = all
        .iter()
        .filter(|t| t.reserved_seats.is_some())
        .cloned()
        .collect();
    // The teams sharing the pool are served as one queue; any one of them stands for it.
    if let Some(shared) = all.iter().find(|t| t.reserved_seats.is_none()) {
        scopes.push(shared.clone());
    }
    for team in scopes {
        let free = teams::free_seats(tx, &team, pool).await?;
        if free == 0 {
            continue;
        }
        for m in teams::waiting(tx, subscription_id, waiting_scope(&team), free).await? {
            teams::grant_seat(tx, &m.id, now).await?;
            granted.push(TeamMembership {
                state: MembershipState::Invited,
                ..m
            });
        }
    }
    Ok(granted)
}

async fn seat_limit(tx: &mut Tx, team: &Team, pool: i64) -> Error {
    let held = teams::seats_held(tx, &team.id).await.unwrap_or(-1);
    let capacity = match team.reserved_seats {
        Some(r) => format!("{r} reserved seats"),
        None => format!("the shared pool of a {pool}-seat subscription"),
    };
    Error::SeatLimit(format!(
        "team {:?} has no free seat: {held} held of {capacity}; the organization rejects \
         provisioning beyond its seats (seat overflow: reject)",
        team.name
    ))
}

/// Whether any mapping names this group (group changes only matter then).
pub async fn group_is_mapped(tx: &mut Tx, group_id: &GroupId) -> Result<bool, StoreError> {
    teams::group_is_mapped(tx, group_id).await
}
