//! Teams: create, list with seat counts, update, delete when empty.

use super::audit::record;
use super::kinds::{LoginType, optional_whole_number};
use super::seats::check_reservations;
use super::{Admin, AdminActor, AdminError, to_json};
use crate::domain::time::Timestamp;
use crate::domain::{OrgId, SubscriptionId, TeamId};
use crate::store::teams::{self, Team};
use crate::store::{StoreError, Tx, team_admin};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A team as an admin sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TeamView {
    #[schema(value_type = String)]
    pub id: TeamId,
    pub name: String,
    pub description: String,
    #[schema(value_type = LoginType)]
    pub login_type: LoginType,
    /// The team's own settings (a JSON object).
    #[schema(value_type = Object)]
    pub settings: Value,
    #[schema(value_type = String)]
    pub subscription_id: SubscriptionId,
    /// Seats reserved for (and capping) this team; null: it shares the unreserved pool.
    pub reserved_seats: Option<i64>,
    /// Seats held by its members.
    pub assigned_seats: i64,
    /// Members waiting for a seat.
    pub waiting: i64,
    /// The org's first team, which org roles add people to; it cannot be deleted.
    pub initial: bool,
    /// The team every provisioned user joins.
    pub default: bool,
    #[schema(value_type = String)]
    pub created: Timestamp,
    #[schema(value_type = String)]
    pub updated: Timestamp,
}

/// A team to create.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTeam {
    /// Not blank (it is trimmed); unique in the org.
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Default `email`.
    pub login_type: Option<LoginType>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
    /// Default: the subscription of the org's initial team.
    #[schema(value_type = Option<String>)]
    pub subscription_id: Option<SubscriptionId>,
    /// Seats to reserve for the team; absent: it shares the unreserved pool.
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub reserved_seats: Option<i64>,
}

/// Changes to a team; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamUpdate {
    /// Not blank (it is trimmed); unique in the org.
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
    pub description: Option<String>,
    pub login_type: Option<LoginType>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
}

fn check_name(name: &str) -> Result<String, AdminError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AdminError::Invalid("a team needs a name".into()));
    }
    Ok(name.to_owned())
}

fn check_settings(v: &Value) -> Result<String, AdminError> {
    if !v.is_object() {
        return Err(AdminError::Invalid("settings must be a JSON object".into()));
    }
    Ok(v.to_string())
}

fn name_taken(name: &str) -> impl FnOnce(StoreError) -> AdminError + '_ {
    move |e| match e {
        // The name as JSON: Rust's `{:?}` escapes combining marks (`i\u{307}`).
        StoreError::Conflict { .. } => AdminError::Conflict(format!(
            "a team named {} already exists in this organization",
            Value::from(name)
        )),
        other => other.into(),
    }
}

pub(super) fn team_not_found(id: &TeamId) -> AdminError {
    AdminError::NotFound(format!("no team with id {id:?} in this organization"))
}

/// The team as an admin sees it, or NotFound.
pub(super) async fn team_view(
    tx: &mut Tx,
    org_id: &OrgId,
    id: &TeamId,
) -> Result<TeamView, AdminError> {
    let settings = teams::settings(tx, org_id).await?;
    let summary = team_admin::team_summaries(tx, org_id, Some(id))
        .await?
        .pop()
        .ok_or_else(|| team_not_found(id))?;
    view(summary, &settings)
}

fn view(s: team_admin::TeamSummary, settings: &teams::OrgSettings) -> Result<TeamView, AdminError> {
    let t = s.team;
    Ok(TeamView {
        initial: settings.initial_team_id.as_ref() == Some(&t.id),
        default: settings.default_team_id.as_ref() == Some(&t.id),
        settings: serde_json::from_str(&s.settings)
            .map_err(|e| AdminError::Internal(format!("team settings: {e}")))?,
        id: t.id,
        name: t.name,
        description: t.description,
        login_type: t.login_type,
        subscription_id: t.subscription_id,
        reserved_seats: t.reserved_seats,
        assigned_seats: s.assigned,
        waiting: s.waiting,
        created: t.created,
        updated: s.updated,
    })
}

/// The team row, or NotFound.
pub(super) async fn team(tx: &mut Tx, org_id: &OrgId, id: &TeamId) -> Result<Team, AdminError> {
    teams::get_team(tx, org_id, id)
        .await?
        .ok_or_else(|| team_not_found(id))
}

impl Admin {
    /// The org's teams, oldest first, with seat counts.
    pub async fn list_teams(&self, actor: &AdminActor) -> Result<Vec<TeamView>, AdminError> {
        let mut tx = self.read().await?;
        let settings = teams::settings(&mut tx, &actor.org_id).await?;
        team_admin::team_summaries(&mut tx, &actor.org_id, None)
            .await?
            .into_iter()
            .map(|s| view(s, &settings))
            .collect()
    }

    /// One team.
    pub async fn get_team(&self, actor: &AdminActor, id: &TeamId) -> Result<TeamView, AdminError> {
        let mut tx = self.read().await?;
        team_view(&mut tx, &actor.org_id, id).await
    }

    /// Creates a team (with a seat reservation if asked and the pool allows it).
    pub async fn create_team(
        &self,
        actor: &AdminActor,
        new: NewTeam,
    ) -> Result<TeamView, AdminError> {
        let name = check_name(&new.name)?;
        let login_type = new.login_type.unwrap_or(LoginType::Email);
        let settings_json = check_settings(
            &new.settings
                .unwrap_or_else(|| Value::Object(serde_json::Map::new())),
        )?;
        let now = self.now();
        let mut tx = self.write().await?;
        let subscription_id = match new.subscription_id {
            Some(id) => id,
            None => {
                let settings = teams::settings(&mut tx, &actor.org_id).await?;
                let initial = settings.initial_team_id.ok_or_else(|| {
                    AdminError::Invalid(
                        "the organization has no initial team; name a subscription_id".into(),
                    )
                })?;
                team(&mut tx, &actor.org_id, &initial)
                    .await?
                    .subscription_id
            }
        };
        let t = Team {
            id: TeamId::new_v4(),
            org_id: actor.org_id.clone(),
            name: name.clone(),
            description: new.description.trim().to_owned(),
            login_type,
            subscription_id: subscription_id.clone(),
            reserved_seats: new.reserved_seats,
            created: now.clone(),
        };
        check_reservations(
            &mut tx,
            &actor.org_id,
            &subscription_id,
            None,
            new.reserved_seats,
            &name,
        )
        .await?;
        teams::insert_team(&mut tx, &t)
            .await
            .map_err(name_taken(&name))?;
        team_admin::update_team(&mut tx, &t, &settings_json, &now).await?;
        let after = team_view(&mut tx, &actor.org_id, &t.id).await?;
        record(
            &mut tx,
            actor,
            &now,
            "team.created",
            &format!("team:{}", t.id),
            None,
            Some(&to_json(&after)?),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Changes a team's name, description, login type or settings.
    pub async fn update_team(
        &self,
        actor: &AdminActor,
        id: &TeamId,
        update: TeamUpdate,
    ) -> Result<TeamView, AdminError> {
        let now = self.now();
        let mut tx = self.write().await?;
        let before = team_view(&mut tx, &actor.org_id, id).await?;
        let mut t = team(&mut tx, &actor.org_id, id).await?;
        if let Some(name) = &update.name {
            t.name = check_name(name)?;
        }
        if let Some(d) = update.description {
            t.description = d.trim().to_owned();
        }
        if let Some(lt) = update.login_type {
            t.login_type = lt;
        }
        let settings_json = check_settings(update.settings.as_ref().unwrap_or(&before.settings))?;
        let name = t.name.clone();
        team_admin::update_team(&mut tx, &t, &settings_json, &now)
            .await
            .map_err(name_taken(&name))?;
        let after = team_view(&mut tx, &actor.org_id, id).await?;
        record(
            &mut tx,
            actor,
            &now,
            "team.updated",
            &format!("team:{id}"),
            Some(&to_json(&before)?),
            Some(&to_json(&after)?),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes a team that has no members (waiting ones included). The initial and the
    /// default team cannot be deleted.
    pub async fn delete_team(&self, actor: &AdminActor, id: &TeamId) -> Result<(), AdminError> {
        let now = self.now();
        let mut tx = self.write().await?;
        let before = team_view(&mut tx, &actor.org_id, id).await?;
        if before.initial {
            return Err(AdminError::Conflict(format!(
                "team {:?} is the organization's initial team and cannot be deleted",
                before.name
            )));
        }
        if before.default {
            return Err(AdminError::Conflict(format!(
                "team {:?} is the organization's default team; choose another default team \
                 in the org settings first",
                before.name
            )));
        }
        let members = team_admin::count_memberships(&mut tx, id).await?;
        if members > 0 {
            return Err(AdminError::Conflict(format!(
                "team {:?} still has {members} member(s) ({} holding seats, {} waiting); \
                 only an empty team can be deleted",
                before.name, before.assigned_seats, before.waiting
            )));
        }
        team_admin::delete_team(&mut tx, &actor.org_id, id).await?;
        record(
            &mut tx,
            actor,
            &now,
            "team.deleted",
            &format!("team:{id}"),
            Some(&to_json(&before)?),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
