//! Subscriptions (seat pools) and per-team seat allocations. Every change that can free
//! capacity hands it to waiting members first come, first served, in the same transaction.

use super::audit::record;
use super::kinds::{optional_whole_number, whole_number};
use super::teams::{team, team_view};
use super::{Admin, AdminActor, AdminError, to_json};
use crate::domain::time::Timestamp;
use crate::domain::{OrgId, SubscriptionId, TeamId};
use crate::provisioning::rules::{self, Changes};
use crate::store::teams::{self, Subscription, TeamMembership};
use crate::store::{Tx, team_admin};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::TeamView;

/// A subscription as an admin sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SubscriptionView {
    #[schema(value_type = String)]
    pub id: SubscriptionId,
    pub label: String,
    pub plan: String,
    /// The pool size; null: unlimited.
    pub seats: Option<i64>,
    /// Seats reserved by its teams.
    pub reserved_seats: i64,
    /// Seats held by members of its teams.
    pub assigned_seats: i64,
    /// How many teams it covers.
    pub teams: i64,
    #[schema(value_type = String)]
    pub created: Timestamp,
}

/// A subscription to create.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    /// Not blank (it is trimmed).
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub label: String,
    /// Default `standard`.
    pub plan: Option<String>,
    /// The pool size.
    #[serde(deserialize_with = "whole_number")]
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub seats: i64,
}

/// Changes to a subscription; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionUpdate {
    /// Not blank (it is trimmed).
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub label: Option<String>,
    pub plan: Option<String>,
    /// The new pool size. Growing it seats waiting members first come, first served.
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub seats: Option<i64>,
}

/// A team's seat reservation.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationUpdate {
    /// Seats reserved for (and capping) the team; null clears the reservation.
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub reserved_seats: Option<i64>,
}

fn unlimited(seats: i64) -> Option<i64> {
    (seats != i64::MAX).then_some(seats)
}

fn subscription_view(s: team_admin::SubscriptionSummary) -> SubscriptionView {
    SubscriptionView {
        id: s.subscription.id,
        label: s.subscription.label,
        plan: s.subscription.plan,
        seats: unlimited(s.subscription.seats),
        reserved_seats: s.reserved,
        assigned_seats: s.assigned,
        teams: s.teams,
        created: s.subscription.created,
    }
}

async fn subscription(
    tx: &mut Tx,
    org_id: &OrgId,
    id: &SubscriptionId,
) -> Result<team_admin::SubscriptionSummary, AdminError> {
    team_admin::subscription_summaries(tx, org_id, Some(id))
        .await?
        .pop()
        .ok_or_else(|| {
            AdminError::NotFound(format!(
                "no subscription with id {id:?} in this organization"
            ))
        })
}

fn check_seats(n: i64, what: &str) -> Result<(), AdminError> {
    if n < 0 {
        return Err(AdminError::Invalid(format!(
            "{what} cannot be negative ({n})"
        )));
    }
    Ok(())
}

/// Locks the subscription's pool and checks that giving `team_name` a reservation of
/// `reserved` (None: no reservation) keeps every reservation within the pool. `except`
/// is the team whose current reservation the new one replaces.
pub(super) async fn check_reservations(
    tx: &mut Tx,
    org_id: &OrgId,
    subscription_id: &SubscriptionId,
    except: Option<&TeamId>,
    reserved: Option<i64>,
    team_name: &str,
) -> Result<(), AdminError> {
    let sub = subscription(tx, org_id, subscription_id).await?;
    let pool = teams::lock_pool(tx, subscription_id).await?;
    let Some(r) = reserved else {
        return Ok(());
    };
    check_seats(r, "reserved_seats")?;
    let others = team_admin::reserved_sum(tx, subscription_id, except).await?;
    if others.saturating_add(r) > pool {
        return Err(AdminError::Conflict(format!(
            "cannot reserve {r} seats for team {team_name:?}: subscription {:?} has {pool} \
             seats and its other teams already reserve {others}, so at most {} can be reserved",
            sub.subscription.label,
            (pool - others).max(0)
        )));
    }
    Ok(())
}

impl Admin {
    /// Seats waiting members of the subscription's teams, with the effects (joining
    /// emails, webhooks, audit entries) of each grant.
    pub(super) async fn fill(
        &self,
        tx: &mut Tx,
        actor: &AdminActor,
        now: &str,
        subscription_id: &SubscriptionId,
    ) -> Result<Vec<TeamMembership>, AdminError> {
        let granted = rules::fill_waitlist(tx, subscription_id, now).await?;
        if !granted.is_empty() {
            let changes = Changes {
                granted,
                ..Changes::default()
            };
            self.effects(tx, actor, &changes).await?;
            return Ok(changes.granted);
        }
        Ok(granted)
    }

    /// The org's subscriptions.
    pub async fn list_subscriptions(
        &self,
        actor: &AdminActor,
    ) -> Result<Vec<SubscriptionView>, AdminError> {
        let mut tx = self.read().await?;
        Ok(
            team_admin::subscription_summaries(&mut tx, &actor.org_id, None)
                .await?
                .into_iter()
                .map(subscription_view)
                .collect(),
        )
    }

    /// Creates a subscription.
    pub async fn create_subscription(
        &self,
        actor: &AdminActor,
        new: NewSubscription,
    ) -> Result<SubscriptionView, AdminError> {
        let label = new.label.trim().to_owned();
        if label.is_empty() {
            return Err(AdminError::Invalid("a subscription needs a label".into()));
        }
        check_seats(new.seats, "seats")?;
        let now = self.now();
        let s = Subscription {
            id: SubscriptionId::new_v4(),
            org_id: actor.org_id.clone(),
            label,
            plan: new.plan.unwrap_or_else(|| "standard".to_owned()),
            seats: new.seats,
            created: now.clone(),
        };
        let mut tx = self.write().await?;
        teams::insert_subscription(&mut tx, &s).await?;
        let after = subscription_view(subscription(&mut tx, &actor.org_id, &s.id).await?);
        record(
            &mut tx,
            actor,
            &now,
            "subscription.created",
            &format!("subscription:{}", s.id),
            None,
            Some(&to_json(&after)?),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Changes a subscription's label, plan or pool size. A pool smaller than its
    /// reservations or than the seats held is refused; a larger one seats waiters.
    pub async fn update_subscription(
        &self,
        actor: &AdminActor,
        id: &SubscriptionId,
        update: SubscriptionUpdate,
    ) -> Result<SubscriptionView, AdminError> {
        let now = self.now();
        let mut tx = self.write().await?;
        let current = subscription(&mut tx, &actor.org_id, id).await?;
        let old_pool = teams::lock_pool(&mut tx, id).await?;
        let before = subscription_view(current.clone());
        let mut s = current.subscription.clone();
        if let Some(label) = update.label {
            let label = label.trim().to_owned();
            if label.is_empty() {
                return Err(AdminError::Invalid("a subscription needs a label".into()));
            }
            s.label = label;
        }
        if let Some(plan) = update.plan {
            s.plan = plan;
        }
        if let Some(seats) = update.seats {
            check_seats(seats, "seats")?;
            if seats < current.reserved {
                return Err(AdminError::Conflict(format!(
                    "cannot shrink subscription {:?} to {seats} seats: its teams reserve {} \
                     seats; lower their reservations first",
                    s.label, current.reserved
                )));
            }
            if seats < current.assigned {
                return Err(AdminError::Conflict(format!(
                    "cannot shrink subscription {:?} to {seats} seats: {} seats are held by \
                     members; remove members first",
                    s.label, current.assigned
                )));
            }
            s.seats = seats;
        }
        team_admin::update_subscription(&mut tx, &s).await?;
        let granted = if s.seats > old_pool {
            self.fill(&mut tx, actor, &now, id).await?
        } else {
            Vec::new()
        };
        let after = subscription_view(subscription(&mut tx, &actor.org_id, id).await?);
        let mut after_json = to_json(&after)?;
        after_json["seated_from_waitlist"] = json!(granted.len());
        record(
            &mut tx,
            actor,
            &now,
            "subscription.updated",
            &format!("subscription:{id}"),
            Some(&to_json(&before)?),
            Some(&after_json),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Sets (Some) or clears (None) a team's reserved seats. Waiting members get the
    /// capacity this frees or adds.
    pub async fn set_allocation(
        &self,
        actor: &AdminActor,
        team_id: &TeamId,
        reserved: Option<i64>,
    ) -> Result<TeamView, AdminError> {
        let now = self.now();
        let mut tx = self.write().await?;
        let before = team_view(&mut tx, &actor.org_id, team_id).await?;
        let t = team(&mut tx, &actor.org_id, team_id).await?;
        check_reservations(
            &mut tx,
            &actor.org_id,
            &t.subscription_id,
            Some(team_id),
            reserved,
            &t.name,
        )
        .await?;
        team_admin::set_reserved_seats(&mut tx, team_id, reserved, &now).await?;
        self.fill(&mut tx, actor, &now, &t.subscription_id).await?;
        let action = if reserved.is_some() {
            "team.allocation_set"
        } else {
            "team.allocation_cleared"
        };
        team_changed(tx, actor, &now, action, team_id, &before).await
    }

    /// Moves a team (its reservation, members and waitlist) to another subscription of
    /// the org, if that subscription has room for it.
    pub async fn move_team(
        &self,
        actor: &AdminActor,
        team_id: &TeamId,
        subscription_id: &SubscriptionId,
    ) -> Result<TeamView, AdminError> {
        let now = self.now();
        let mut tx = self.write().await?;
        let before = team_view(&mut tx, &actor.org_id, team_id).await?;
        let t = team(&mut tx, &actor.org_id, team_id).await?;
        if t.subscription_id == *subscription_id {
            return Ok(before);
        }
        // Both pools, in a fixed order so two moves cannot deadlock.
        let (a, b) = if t.subscription_id < *subscription_id {
            (&t.subscription_id, subscription_id)
        } else {
            (subscription_id, &t.subscription_id)
        };
        let target = subscription(&mut tx, &actor.org_id, subscription_id).await?;
        teams::lock_pool(&mut tx, a).await?;
        teams::lock_pool(&mut tx, b).await?;
        check_reservations(
            &mut tx,
            &actor.org_id,
            subscription_id,
            None,
            t.reserved_seats,
            &t.name,
        )
        .await?;
        if t.reserved_seats.is_none() {
            let shared = teams::Team {
                subscription_id: subscription_id.clone(),
                ..t.clone()
            };
            let free = teams::free_seats(&mut tx, &shared, target.subscription.seats).await?;
            if free < before.assigned_seats {
                return Err(AdminError::Conflict(format!(
                    "cannot move team {:?} to subscription {:?}: its members hold {} seats \
                     and that subscription has {free} unreserved seats free",
                    t.name, target.subscription.label, before.assigned_seats
                )));
            }
        }
        team_admin::set_team_subscription(&mut tx, team_id, subscription_id, &now).await?;
        self.fill(&mut tx, actor, &now, &t.subscription_id).await?;
        self.fill(&mut tx, actor, &now, subscription_id).await?;
        team_changed(tx, actor, &now, "team.moved", team_id, &before).await
    }
}

/// Ends a change to a team's seats: the team as it is now, audited against `before`, and
/// the transaction committed.
async fn team_changed(
    mut tx: Tx,
    actor: &AdminActor,
    now: &str,
    action: &str,
    team_id: &TeamId,
    before: &TeamView,
) -> Result<TeamView, AdminError> {
    let after = team_view(&mut tx, &actor.org_id, team_id).await?;
    let target = format!("team:{team_id}");
    let (before_json, after_json) = (to_json(before)?, to_json(&after)?);
    record(
        &mut tx,
        actor,
        now,
        action,
        &target,
        Some(&before_json),
        Some(&after_json),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}
