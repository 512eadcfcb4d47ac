//! What accepting an invitation reads and changes: one membership by id.

use super::sql::Q;
use super::{StoreError, Tx};
use crate::domain::kinds::{MembershipState, TeamRole};
use crate::domain::time::Timestamp;
use crate::domain::{MembershipId, OrgId, TeamId, UserId};

/// A membership as an invitation link names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invited {
    pub id: MembershipId,
    pub org_id: OrgId,
    pub team_id: TeamId,
    pub user_id: UserId,
    pub role: TeamRole,
    pub state: MembershipState,
    pub invitation_expires: Option<Timestamp>,
    pub accepted: Option<Timestamp>,
}

/// The membership `id`, locked for the rest of the transaction when `lock` (PostgreSQL
/// `FOR UPDATE`; SQLite's write transactions already hold the lock).
pub async fn get(
    tx: &mut Tx,
    id: &MembershipId,
    lock: bool,
) -> Result<Option<Invited>, StoreError> {
    let suffix = if lock { tx.dialect().for_update() } else { "" };
    let row = tx
        .fetch_optional(
            Q::new(&format!(
                "SELECT id, org_id, team_id, user_id, role, state, invitation_expires_at, \
                 accepted_at FROM memberships WHERE id = ?{suffix}"
            ))
            .bind(id),
        )
        .await?;
    row.map(|r| {
        Ok(Invited {
            id: r.id("id")?,
            org_id: r.id("org_id")?,
            team_id: r.id("team_id")?,
            user_id: r.id("user_id")?,
            role: r.parse("role")?,
            state: r.parse("state")?,
            invitation_expires: r.opt_parse("invitation_expires_at")?,
            accepted: r.opt_parse("accepted_at")?,
        })
    })
    .transpose()
}

/// Moves an `invited` membership to `pending_app_login`, accepted at `at`. False if it
/// was not (or no longer) `invited`.
pub async fn accept(tx: &mut Tx, id: &MembershipId, at: &str) -> Result<bool, StoreError> {
    Ok(tx
        .execute(
            Q::new(
                "UPDATE memberships SET state = 'pending_app_login', accepted_at = ? \
                 WHERE id = ? AND state = 'invited'",
            )
            .bind(at)
            .bind(id),
        )
        .await?
        == 1)
}
