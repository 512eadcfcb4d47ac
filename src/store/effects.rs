//! What the outbound effects of provisioning read and write: team and user details for
//! emails and webhooks, invitation times, the shared invitation key, and the team
//! entries an IdP writes on a user (the rollcall User extension's `teams`).

use super::sealed_columns::SERVER_SECRETS;
use super::sql::{Q, Row};
use super::{StoreError, Tx};
use crate::domain::kinds::{MembershipSource, MembershipState, TeamRole};
use crate::domain::{MembershipId, OrgId, TeamId, UserId};
use std::collections::HashMap;

/// A team as an email or a webhook names it.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamInfo {
    pub id: TeamId,
    pub name: String,
    pub org_name: String,
    /// The team's effective settings: its own `settings` object with the policies
    /// applied to it (see [`super::policies::effective`]).
    pub settings: serde_json::Value,
}

/// A user as an email or a webhook names it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserInfo {
    pub id: UserId,
    pub user_name: String,
    pub doc: serde_json::Map<String, serde_json::Value>,
}

/// A membership as the SCIM `teams` attribute renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTeam {
    pub user_id: UserId,
    pub team_id: TeamId,
    pub team_name: String,
    pub role: TeamRole,
    pub state: MembershipState,
    pub source: MembershipSource,
}

fn json(text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Decode(format!("stored JSON: {e}")))
}

/// The teams `ids` of the org with their org's name, in one query.
pub async fn team_infos(
    tx: &mut Tx,
    org_id: &OrgId,
    ids: &[TeamId],
) -> Result<HashMap<TeamId, TeamInfo>, StoreError> {
    let mut out = HashMap::new();
    let d = tx.dialect();
    for chunk in ids.chunks(500) {
        let mut q = Q::new(&format!(
            "SELECT t.id, t.name, {} AS settings, o.name AS org_name FROM teams t \
             JOIN orgs o ON o.id = t.org_id WHERE t.org_id = ? AND t.id IN (",
            d.json_out("t.settings")
        ))
        .bind(org_id);
        q.push_list(chunk);
        q.push(")");
        for row in tx.fetch_all(q).await? {
            let info = TeamInfo {
                id: row.id("id")?,
                name: row.text("name")?,
                org_name: row.text("org_name")?,
                settings: json(&row.text("settings")?)?,
            };
            out.insert(info.id.clone(), info);
        }
    }
    // Policies override the team's own settings (e.g. the SSO policy's `sso_enforced`).
    let ids: Vec<TeamId> = out.keys().cloned().collect();
    for (team_id, applied) in super::policies::applied_to_teams(tx, &ids).await? {
        if let Some(info) = out.get_mut(&team_id) {
            let e = super::policies::effective(&info.settings, &applied);
            info.settings = serde_json::Value::Object(e.settings);
        }
    }
    Ok(out)
}

/// The users `ids` of the org (those that still exist), in one query.
pub async fn user_infos(
    tx: &mut Tx,
    org_id: &OrgId,
    ids: &[UserId],
) -> Result<HashMap<UserId, UserInfo>, StoreError> {
    let mut out = HashMap::new();
    let d = tx.dialect();
    for chunk in ids.chunks(500) {
        let mut q = Q::new(&format!(
            "SELECT id, org_id, user_name, {} AS doc FROM scim_users WHERE id IN (",
            d.json_out("doc")
        ));
        q.push_list(chunk);
        q.push(")");
        // The org is checked here, not in the query: see `teams::active_user_ids`.
        for row in tx.fetch_all(q).await? {
            if row.str("org_id")? != org_id.as_str() {
                continue;
            }
            let doc = match json(&row.text("doc")?)? {
                serde_json::Value::Object(m) => m,
                _ => serde_json::Map::new(),
            };
            let info = UserInfo {
                id: row.id("id")?,
                user_name: row.text("user_name")?,
                doc,
            };
            out.insert(info.id.clone(), info);
        }
    }
    Ok(out)
}

/// Records that invitations were sent for `ids` at `at`, valid until `expires_at`.
pub async fn set_invited(
    tx: &mut Tx,
    ids: &[MembershipId],
    at: &str,
    expires_at: &str,
) -> Result<(), StoreError> {
    for chunk in ids.chunks(500) {
        let mut q = Q::new(
            "UPDATE memberships SET invited_at = ?, invitation_expires_at = ? WHERE id IN (",
        )
        .bind(at)
        .bind(expires_at);
        q.push_list(chunk);
        q.push(")");
        tx.execute(q).await?;
    }
    Ok(())
}

/// A membership with its times, for resending invitations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberOfTeam {
    pub id: MembershipId,
    pub user_id: UserId,
    pub role: TeamRole,
    pub state: MembershipState,
}

/// The memberships of `user_ids` in one team of the org.
pub async fn members_of_team(
    tx: &mut Tx,
    org_id: &OrgId,
    team_id: &TeamId,
    user_ids: &[UserId],
) -> Result<Vec<MemberOfTeam>, StoreError> {
    let mut out = Vec::new();
    for chunk in user_ids.chunks(500) {
        let mut q = Q::new(
            "SELECT id, user_id, role, state FROM memberships \
             WHERE org_id = ? AND team_id = ? AND user_id IN (",
        )
        .bind(org_id)
        .bind(team_id);
        q.push_list(chunk);
        q.push(")");
        for row in tx.fetch_all(q).await? {
            out.push(MemberOfTeam {
                id: row.id("id")?,
                user_id: row.id("user_id")?,
                role: row.parse("role")?,
                state: row.parse("state")?,
            });
        }
    }
    Ok(out)
}

/// A server-wide secret by name, created with `fresh` if there is none yet. Several
/// processes racing here all end up with the one value that was stored first. Stored
/// sealed with the master key, whatever the secret.
pub async fn secret_or_insert(
    tx: &mut Tx,
    name: &str,
    fresh: &str,
    now: &str,
) -> Result<String, StoreError> {
    let sealed = tx.seal(SERVER_SECRETS, name, fresh)?;
    tx.execute(
        Q::new(
            "INSERT INTO server_secrets (name, value, created_at) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(sealed)
        .bind(now),
    )
    .await?;
    let stored = tx
        .fetch_one(Q::new("SELECT value FROM server_secrets WHERE name = ?").bind(name))
        .await?
        .text("value")?;
    tx.open(SERVER_SECRETS, name, &stored)
}

fn decode_user_team(r: &Row) -> Result<UserTeam, StoreError> {
    Ok(UserTeam {
        user_id: r.id("user_id")?,
        team_id: r.id("team_id")?,
        team_name: r.text("team_name")?,
        role: r.parse("role")?,
        state: r.parse("state")?,
        source: r.parse("source")?,
    })
}

/// The memberships of `user_ids` with their team names: one query (index
/// `memberships_user`) for a whole page of users, ordered by user, then team name, then
/// team id.
pub async fn teams_of_users(tx: &mut Tx, user_ids: &[UserId]) -> Result<Vec<UserTeam>, StoreError> {
    let mut out = Vec::new();
    for chunk in user_ids.chunks(1000) {
        if chunk.is_empty() {
            continue;
        }
        let mut q = Q::new(
            "SELECT m.user_id, m.team_id, t.name AS team_name, t.name_norm, m.role, m.state, \
             m.source FROM memberships m JOIN teams t ON t.id = m.team_id WHERE m.user_id IN (",
        );
        q.push_list(chunk);
        q.push(")");
        for row in tx.fetch_all(q).await? {
            out.push((row.text("name_norm")?, decode_user_team(&row)?));
        }
    }
    Ok(super::members::by_owner_then_name(out, |t| {
        (t.user_id.as_str(), t.team_id.as_str())
    }))
}

/// Which of `team_ids` are teams of the org.
pub async fn known_teams(
    tx: &mut Tx,
    org_id: &OrgId,
    team_ids: &[TeamId],
) -> Result<std::collections::BTreeSet<TeamId>, StoreError> {
    let head = Q::new("SELECT id FROM teams WHERE org_id = ? AND id IN (").bind(org_id);
    tx.fetch_all_in(head, team_ids, ")", 500)
        .await?
        .iter()
        .map(|row| row.id("id"))
        .collect()
}

/// Replaces the IdP-written team entries of a user.
pub async fn put_team_attributes(
    tx: &mut Tx,
    user_id: &UserId,
    teams: &[(String, TeamRole)],
    replace: bool,
) -> Result<(), StoreError> {
    if replace {
        tx.execute(Q::new("DELETE FROM user_team_attributes WHERE user_id = ?").bind(user_id))
            .await?;
    }
    if teams.is_empty() {
        return Ok(());
    }
    let mut q = Q::new("INSERT INTO user_team_attributes (user_id, team_id, role) VALUES ");
    for (i, (team, role)) in teams.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push("(")
            .push_bind(user_id)
            .push(", ")
            .push_bind(team.as_str())
            .push(", ")
            .push_bind(*role)
            .push(")");
    }
    tx.execute(q).await?;
    Ok(())
}

/// (user, team, role, source) wanted through mapped groups (`group`) and through team
/// attributes (`attribute`), in one query.
pub async fn wanted_team_roles(
    tx: &mut Tx,
    user_ids: &[UserId],
) -> Result<Vec<(UserId, TeamId, TeamRole, MembershipSource)>, StoreError> {
    let mut out = Vec::new();
    for chunk in user_ids.chunks(400) {
        let mut q = Q::new(
            "SELECT gm.member_id AS user_id, m.team_id, m.team_role AS role, 'group' AS source \
             FROM scim_group_members gm JOIN group_mappings m ON m.group_id = gm.group_id \
             WHERE m.team_id IS NOT NULL AND gm.member_id IN (",
        );
        q.push_list(chunk);
        q.push(
            ") UNION ALL SELECT user_id, team_id, role, 'attribute' AS source \
             FROM user_team_attributes WHERE user_id IN (",
        );
        q.push_list(chunk);
        q.push(")");
        for row in tx.fetch_all(q).await? {
            out.push((
                row.id("user_id")?,
                row.id("team_id")?,
                row.parse("role")?,
                row.parse("source")?,
            ));
        }
    }
    Ok(out)
}

/// The ids of the org's teams, oldest first.
pub async fn team_ids(tx: &mut Tx, org_id: &OrgId) -> Result<Vec<TeamId>, StoreError> {
    let rows = tx
        .fetch_all(
            Q::new("SELECT id FROM teams WHERE org_id = ? ORDER BY created_at, id").bind(org_id),
        )
        .await?;
    rows.iter().map(|r| r.id("id")).collect()
}
