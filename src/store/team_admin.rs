//! What the admin API reads and changes about teams, subscriptions and memberships beyond
//! what the provisioning rules need (those queries are in [`super::teams`]).

use super::sql::{Q, Row};
use super::teams::{self, Subscription, Team};
use super::{StoreError, Tx};
use crate::domain::kinds::{MembershipSource, MembershipState, TeamRole};
use crate::domain::time::Timestamp;
use crate::domain::{MembershipId, OrgId, SubscriptionId, TeamId, UserId};

/// A team with its settings document and seat counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamSummary {
    pub team: Team,
    /// The team's settings, a JSON document as text.
    pub settings: String,
    /// Seats held (memberships in a seat-holding state).
    pub assigned: i64,
    /// Memberships waiting for a seat.
    pub waiting: i64,
    pub updated: Timestamp,
}

/// The org's teams (or one of them) with seat counts, oldest first.
pub async fn team_summaries(
    tx: &mut Tx,
    org_id: &OrgId,
    team_id: Option<&TeamId>,
) -> Result<Vec<TeamSummary>, StoreError> {
    let settings = tx.dialect().json_out("t.settings");
    let mut q = Q::new(&format!(
        "SELECT t.id, t.org_id, t.name, t.description, t.login_type, t.subscription_id, \
         t.reserved_seats, t.created_at, t.updated_at, {settings} AS settings, \
         t.held_seats AS assigned, \
         (SELECT COUNT(*) FROM memberships m WHERE m.team_id = t.id \
           AND m.state = 'awaiting_seat') AS waiting \
         FROM teams t WHERE t.org_id = ?"
    ))
    .bind(org_id);
    if let Some(id) = team_id {
        q.push(" AND t.id = ").push_bind(id);
    }
    q.push(" ORDER BY t.created_at, t.id");
    let rows = tx.fetch_all(q).await?;
    rows.iter()
        .map(|r| {
            Ok(TeamSummary {
                team: teams::decode_team(r)?,
                settings: r.text("settings")?,
                assigned: r.int("assigned")?,
                waiting: r.int("waiting")?,
                updated: r.parse("updated_at")?,
            })
        })
        .collect()
}

/// Changes a team's name, description, login type and settings (JSON text). A name taken
/// in the org is a Conflict. Returns false if the org has no such team.
pub async fn update_team(
    tx: &mut Tx,
    team: &Team,
    settings: &str,
    now: &str,
) -> Result<bool, StoreError> {
    let json_in = tx.dialect().json_in();
    let mut q = Q::new(
        "UPDATE teams SET name = ?, name_norm = ?, description = ?, login_type = ?, settings = ",
    )
    .bind(team.name.as_str())
    .bind(scim::text::fold_key(&team.name))
    .bind(team.description.as_str())
    .bind(team.login_type);
    // `json_in` is `?` or `?::jsonb`: its placeholder takes the next bound value.
    q.push(json_in);
    q.args.push(settings.into());
    q.push(", updated_at = ")
        .push_bind(now)
        .push(" WHERE org_id = ")
        .push_bind(team.org_id.as_str())
        .push(" AND id = ")
        .push_bind(team.id.as_str());
    Ok(tx.execute(q).await? == 1)
}

/// Sets or clears a team's reserved seats.
pub async fn set_reserved_seats(
    tx: &mut Tx,
    team_id: &TeamId,
    seats: Option<i64>,
    now: &str,
) -> Result<(), StoreError> {
    tx.execute(
        Q::new("UPDATE teams SET reserved_seats = ?, updated_at = ? WHERE id = ?")
            .bind(seats)
            .bind(now)
            .bind(team_id),
    )
    .await?;
    Ok(())
}

/// Moves a team to another subscription.
pub async fn set_team_subscription(
    tx: &mut Tx,
    team_id: &TeamId,
    subscription_id: &SubscriptionId,
    now: &str,
) -> Result<(), StoreError> {
    tx.execute(
        Q::new("UPDATE teams SET subscription_id = ?, updated_at = ? WHERE id = ?")
            .bind(subscription_id)
            .bind(now)
            .bind(team_id),
    )
    .await?;
    Ok(())
}

/// Deletes a team. Returns false if the org has no such team.
pub async fn delete_team(tx: &mut Tx, org_id: &OrgId, id: &TeamId) -> Result<bool, StoreError> {
    Ok(tx
        .execute(
            Q::new("DELETE FROM teams WHERE org_id = ? AND id = ?")
                .bind(org_id)
                .bind(id),
        )
        .await?
        == 1)
}

/// Memberships of a team in any state.
pub async fn count_memberships(tx: &mut Tx, team_id: &TeamId) -> Result<i64, StoreError> {
    tx.fetch_one(Q::new("SELECT COUNT(*) AS n FROM memberships WHERE team_id = ?").bind(team_id))
        .await?
        .int("n")
}

/// Seats reserved by the teams of a subscription, leaving out `except` (a team whose
/// reservation is about to change).
pub async fn reserved_sum(
    tx: &mut Tx,
    subscription_id: &SubscriptionId,
    except: Option<&TeamId>,
) -> Result<i64, StoreError> {
    let mut q = Q::new(
        "SELECT CAST(COALESCE(SUM(reserved_seats), 0) AS BIGINT) AS n FROM teams \
         WHERE subscription_id = ?",
    )
    .bind(subscription_id);
    if let Some(team) = except {
        q.push(" AND id <> ").push_bind(team);
    }
    tx.fetch_one(q).await?.int("n")
}

/// A subscription with what its teams reserve and hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSummary {
    pub subscription: Subscription,
    pub reserved: i64,
    pub assigned: i64,
    pub teams: i64,
}

fn decode_subscription(r: &Row) -> Result<Subscription, StoreError> {
    Ok(Subscription {
        id: r.id("id")?,
        org_id: r.id("org_id")?,
        label: r.text("label")?,
        plan: r.text("plan")?,
        seats: r.int("seats")?,
        created: r.parse("created_at")?,
    })
}

/// The org's subscriptions (or one), oldest first, with reservations and seats held.
pub async fn subscription_summaries(
    tx: &mut Tx,
    org_id: &OrgId,
    id: Option<&SubscriptionId>,
) -> Result<Vec<SubscriptionSummary>, StoreError> {
    let mut q = Q::new(
        "SELECT s.id, s.org_id, s.label, s.plan, s.seats, s.created_at, \
         (SELECT CAST(COALESCE(SUM(t.reserved_seats), 0) AS BIGINT) FROM teams t \
           WHERE t.subscription_id = s.id) AS reserved, \
         (SELECT COUNT(*) FROM teams t WHERE t.subscription_id = s.id) AS teams, \
         (SELECT CAST(COALESCE(SUM(t.held_seats), 0) AS BIGINT) FROM teams t \
           WHERE t.subscription_id = s.id) AS assigned \
         FROM subscriptions s WHERE s.org_id = ?",
    )
    .bind(org_id);
    if let Some(id) = id {
        q.push(" AND s.id = ").push_bind(id);
    }
    q.push(" ORDER BY s.created_at, s.id");
    let rows = tx.fetch_all(q).await?;
    rows.iter()
        .map(|r| {
            Ok(SubscriptionSummary {
                subscription: decode_subscription(r)?,
                reserved: r.int("reserved")?,
                assigned: r.int("assigned")?,
                teams: r.int("teams")?,
            })
        })
        .collect()
}

/// Changes a subscription's label, plan and pool size.
pub async fn update_subscription(tx: &mut Tx, s: &Subscription) -> Result<bool, StoreError> {
    Ok(tx
        .execute(
            Q::new("UPDATE subscriptions SET label = ?, plan = ?, seats = ? WHERE org_id = ? AND id = ?")
                .bind(s.label.as_str())
                .bind(s.plan.as_str())
                .bind(s.seats)
                .bind(s.org_id.as_str())
                .bind(s.id.as_str()),
        )
        .await?
        == 1)
}

/// A membership as an admin sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDetail {
    pub id: MembershipId,
    pub team_id: TeamId,
    pub user_id: UserId,
    /// None when the user no longer exists.
    pub user_name: Option<String>,
    pub role: TeamRole,
    pub source: MembershipSource,
    pub state: MembershipState,
    pub added: Timestamp,
    pub invited: Option<Timestamp>,
    pub invitation_expires: Option<Timestamp>,
    pub accepted: Option<Timestamp>,
    pub first_sign_in: Option<Timestamp>,
    pub last_active: Option<Timestamp>,
}

/// A team's memberships: seat holders by time added, or (`waiting`) the waitlist in the
/// order it is served.
pub async fn team_memberships(
    tx: &mut Tx,
    team_id: &TeamId,
    waiting: bool,
) -> Result<Vec<MemberDetail>, StoreError> {
    let mut q = Q::new(
        "SELECT m.id, m.team_id, m.user_id, u.user_name, m.role, m.source, m.state, m.added_at, \
         m.invited_at, m.invitation_expires_at, m.accepted_at, m.first_sign_in_at, \
         m.last_active_at FROM memberships m LEFT JOIN scim_users u ON u.id = m.user_id \
         WHERE m.team_id = ?",
    )
    .bind(team_id);
    if waiting {
        q.push(" AND m.state = 'awaiting_seat' ORDER BY m.wait_seq");
    } else {
        q.push(" ORDER BY m.added_at, m.user_id");
    }
    let rows = tx.fetch_all(q).await?;
    rows.iter()
        .map(|r| {
            Ok(MemberDetail {
                id: r.id("id")?,
                team_id: r.id("team_id")?,
                user_id: r.id("user_id")?,
                user_name: r.opt_text("user_name")?,
                role: r.parse("role")?,
                source: r.parse("source")?,
                state: r.parse("state")?,
                added: r.parse("added_at")?,
                invited: r.opt_parse("invited_at")?,
                invitation_expires: r.opt_parse("invitation_expires_at")?,
                accepted: r.opt_parse("accepted_at")?,
                first_sign_in: r.opt_parse("first_sign_in_at")?,
                last_active: r.opt_parse("last_active_at")?,
            })
        })
        .collect()
}

/// Every active user of the org.
pub async fn active_user_ids(tx: &mut Tx, org_id: &OrgId) -> Result<Vec<UserId>, StoreError> {
    let mut q = Q::new("SELECT id FROM scim_users WHERE org_id = ? AND active = ").bind(org_id);
    q.push_bind(true).push(" ORDER BY seq");
    tx.fetch_all(q).await?.iter().map(|r| r.id("id")).collect()
}

/// One membership of a team.
pub async fn membership(
    tx: &mut Tx,
    team_id: &TeamId,
    user_id: &UserId,
) -> Result<Option<super::teams::TeamMembership>, StoreError> {
    let row = tx
        .fetch_optional(
            Q::new(
                "SELECT id, team_id, user_id, role, source, state FROM memberships \
                 WHERE team_id = ? AND user_id = ?",
            )
            .bind(team_id)
            .bind(user_id),
        )
        .await?;
    row.as_ref()
        .map(super::teams::decode_membership)
        .transpose()
}
