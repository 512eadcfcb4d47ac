//! Org roles: list, assign, revoke. The last org admin is never removed; assigning a
//! role also adds the person to the initial team (seat rules apply).

use super::audit::record;
use super::kinds::OrgRole as OrgRoleName;
use super::{Admin, AdminActor, AdminError, to_json};
use crate::domain::kinds::MembershipSource;
use crate::domain::time::Timestamp;
use crate::domain::{OrgId, UserId};
use crate::provisioning::roles::ensure_an_admin_remains;
use crate::provisioning::rules;
use crate::store::Tx;
use crate::store::org_roles::{self, OrgRole};
use crate::store::resources::{self, Table};
use serde::{Deserialize, Serialize};

/// An org role as an admin sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrgRoleView {
    #[schema(value_type = String)]
    pub user_id: UserId,
    /// Absent when the user no longer exists.
    pub user_name: Option<String>,
    #[schema(value_type = OrgRoleName)]
    pub role: OrgRoleName,
    /// `manual` (an admin) or `group` (a mapped IdP group)
    #[schema(value_type = String)]
    pub source: MembershipSource,
    #[schema(value_type = String)]
    pub granted: Timestamp,
}

/// A role to grant.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrgRole {
    #[schema(value_type = String)]
    pub user_id: UserId,
    pub role: OrgRoleName,
}

fn view(r: OrgRole) -> OrgRoleView {
    OrgRoleView {
        user_id: r.user_id,
        user_name: r.user_name,
        role: r.role,
        source: r.source,
        granted: r.granted,
    }
}

/// The user exists in the org and is active, or NotFound / Conflict.
pub(super) async fn active_user(
    tx: &mut Tx,
    org_id: &OrgId,
    user_id: &UserId,
) -> Result<(), AdminError> {
    let ids = [user_id.to_string()];
    if resources::existing_ids(tx, Table::Users, org_id, &ids)
        .await?
        .is_empty()
    {
        return Err(AdminError::NotFound(format!(
            "no user with id {user_id:?} in this organization"
        )));
    }
    if crate::store::teams::active_user_ids(tx, org_id, std::slice::from_ref(user_id))
        .await?
        .is_empty()
    {
        return Err(AdminError::Conflict(format!(
            "user {user_id:?} is deactivated in the identity provider"
        )));
    }
    Ok(())
}

async fn role_of(
    tx: &mut Tx,
    org_id: &OrgId,
    user_id: &UserId,
) -> Result<Option<OrgRole>, AdminError> {
    Ok(org_roles::of_users(tx, org_id, &[user_id.to_owned()])
        .await?
        .pop())
}

impl Admin {
    /// The org's roles, oldest grant first.
    pub async fn list_org_roles(&self, actor: &AdminActor) -> Result<Vec<OrgRoleView>, AdminError> {
        let mut tx = self.read().await?;
        Ok(org_roles::list(&mut tx, &actor.org_id)
            .await?
            .into_iter()
            .map(view)
            .collect())
    }

    /// Grants (or changes) a user's org role and adds them to the initial team.
    pub async fn assign_org_role(
        &self,
        actor: &AdminActor,
        new: NewOrgRole,
    ) -> Result<OrgRoleView, AdminError> {
        let now = self.now();
        let mut tx = self.write().await?;
        active_user(&mut tx, &actor.org_id, &new.user_id).await?;
        let before = role_of(&mut tx, &actor.org_id, &new.user_id).await?;
        org_roles::put(
            &mut tx,
            &actor.org_id,
            &new.user_id,
            new.role,
            MembershipSource::Manual,
            &now,
        )
        .await?;
        if let Some(b) = &before
            && b.role == OrgRoleName::OrgAdmin
            && new.role != OrgRoleName::OrgAdmin
        {
            ensure_an_admin_remains(&mut tx, &actor.org_id, &[b]).await?;
        }
        // The rules add role holders to the initial team (seat rules apply).
        let changes = rules::reconcile_users(
            &mut tx,
            &actor.org_id,
            std::slice::from_ref(&new.user_id),
            &now,
        )
        .await?;
        self.effects(&mut tx, actor, &changes).await?;
        let after = role_of(&mut tx, &actor.org_id, &new.user_id)
            .await?
            .map(view)
            .ok_or_else(|| AdminError::Internal("granted role not found".into()))?;
        record(
            &mut tx,
            actor,
            &now,
            "org_role.assigned",
            &format!("user:{}", new.user_id),
            before.map(view).as_ref().map(to_json).transpose()?.as_ref(),
            Some(&to_json(&after)?),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Revokes a user's org role (an admin's grant; a group's comes and goes with the
    /// group). Refused if it is the org's last admin.
    pub async fn revoke_org_role(
        &self,
        actor: &AdminActor,
        user_id: &UserId,
    ) -> Result<(), AdminError> {
        let now = self.now();
        let mut tx = self.write().await?;
        let before = role_of(&mut tx, &actor.org_id, user_id)
            .await?
            .ok_or_else(|| {
                AdminError::NotFound(format!(
                    "user {user_id:?} has no org role in this organization"
                ))
            })?;
        if before.source == MembershipSource::Group {
            return Err(AdminError::Conflict(format!(
                "the {} role of user {user_id:?} comes from a mapped IdP group; remove the user \
                 from the group in the identity provider or delete the mapping",
                before.role
            )));
        }
        let user = [user_id.to_owned()];
        org_roles::delete(&mut tx, &actor.org_id, &user).await?;
        // A mapped group the user is in grants its role again at once.
        let changes = rules::reconcile_users(&mut tx, &actor.org_id, &user, &now).await?;
        self.effects(&mut tx, actor, &changes).await?;
        let regranted = role_of(&mut tx, &actor.org_id, user_id).await?;
        if before.role == OrgRoleName::OrgAdmin {
            ensure_an_admin_remains(&mut tx, &actor.org_id, &[&before]).await?;
        }
        record(
            &mut tx,
            actor,
            &now,
            "org_role.revoked",
            &format!("user:{user_id}"),
            Some(&to_json(&view(before))?),
            regranted
                .map(view)
                .as_ref()
                .map(to_json)
                .transpose()?
                .as_ref(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
