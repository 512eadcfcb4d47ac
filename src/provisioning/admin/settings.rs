//! Org settings: default team, seat overflow, IdP-managed teams. Changing the default
//! team or IdP management recomputes every active user's memberships in one transaction.

use super::audit::record;
use super::kinds::SeatOverflow;
use super::teams::team;
use super::{Admin, AdminActor, AdminError, to_json};
use crate::domain::TeamId;
use crate::provisioning::rules;
use crate::store::teams::{self, OrgSettings};
use serde::{Deserialize, Deserializer, Serialize};

/// The org's settings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SettingsView {
    /// The org's first team (read-only).
    #[schema(value_type = Option<String>)]
    pub initial_team_id: Option<TeamId>,
    /// The team every provisioned user joins; null: none.
    #[schema(value_type = Option<String>)]
    pub default_team_id: Option<TeamId>,
    pub seat_overflow: SeatOverflow,
    /// When true, team members come only from the IdP: admins cannot add or remove them.
    pub idp_managed_teams: bool,
}

/// Changes to the settings; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsUpdate {
    /// A team id, or null for no default team.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub default_team_id: Option<Option<TeamId>>,
    pub seat_overflow: Option<SeatOverflow>,
    pub idp_managed_teams: Option<bool>,
}

/// A field that is present (possibly null) becomes `Some(...)`; absent stays None.
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn view(s: &OrgSettings) -> SettingsView {
    SettingsView {
        initial_team_id: s.initial_team_id.clone(),
        default_team_id: s.default_team_id.clone(),
        seat_overflow: s.seat_overflow,
        idp_managed_teams: s.idp_managed_teams,
    }
}

impl Admin {
    /// The org's settings.
    pub async fn get_settings(&self, actor: &AdminActor) -> Result<SettingsView, AdminError> {
        let mut tx = self.read().await?;
        Ok(view(&teams::settings(&mut tx, &actor.org_id).await?))
    }

    /// Changes the settings and applies what follows from them.
    pub async fn update_settings(
        &self,
        actor: &AdminActor,
        update: SettingsUpdate,
    ) -> Result<SettingsView, AdminError> {
        let now = self.now();
        let mut tx = self.write().await?;
        let before = teams::settings(&mut tx, &actor.org_id).await?;
        let mut after = before.clone();
        if let Some(default) = update.default_team_id {
            if let Some(id) = &default {
                team(&mut tx, &actor.org_id, id).await?;
            }
            after.default_team_id = default;
        }
        if let Some(o) = update.seat_overflow {
            after.seat_overflow = o;
        }
        if let Some(managed) = update.idp_managed_teams {
            after.idp_managed_teams = managed;
        }
        teams::put_settings(&mut tx, &actor.org_id, &after).await?;
        if after.default_team_id != before.default_team_id
            || after.idp_managed_teams != before.idp_managed_teams
        {
            // Every active user may want something else now: one pass, batched by the
            // rules, in this transaction.
            let users = crate::store::team_admin::active_user_ids(&mut tx, &actor.org_id).await?;
            let changes = rules::reconcile_users(&mut tx, &actor.org_id, &users, &now).await?;
            self.effects(&mut tx, actor, &changes).await?;
        }
        let (b, a) = (view(&before), view(&after));
        record(
            &mut tx,
            actor,
            &now,
            "org_settings.updated",
            &format!("org:{}", actor.org_id),
            Some(&to_json(&b)?),
            Some(&to_json(&a)?),
        )
        .await?;
        tx.commit().await?;
        Ok(a)
    }
}
