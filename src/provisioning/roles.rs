//! Org roles from mapped IdP groups, and the rule that the last org admin is never
//! removed (DESIGN.md "Domain model", "Provisioning rules" 7).

use super::Error;
use crate::domain::kinds::{self, MembershipSource};
use crate::domain::{OrgId, UserId};
use crate::store::Tx;
use crate::store::org_roles::{self, OrgRole};
use std::collections::{BTreeMap, BTreeSet};

/// Recomputes the org roles of `user_ids`: mapped groups grant roles (source `group`,
/// the highest wins); an admin's grant (`manual`) stays while the user is active;
/// inactive or deleted users hold none. Fails with [`Error::LastOrgAdmin`] if this
/// removes the org's last admin. Returns every active holder among the users and the
/// source of their role (they all want the initial team).
pub(super) async fn reconcile(
    tx: &mut Tx,
    org_id: &OrgId,
    user_ids: &[UserId],
    active: &BTreeSet<UserId>,
    now: &str,
) -> Result<Vec<(UserId, MembershipSource)>, Error> {
    let mut wanted: BTreeMap<UserId, kinds::OrgRole> = BTreeMap::new();
    for (user, role) in org_roles::mapped(tx, user_ids).await? {
        if !active.contains(&user) {
            continue;
        }
        let entry = wanted.entry(user).or_insert(role);
        if role.rank() > entry.rank() {
            *entry = role;
        }
    }
    let current: BTreeMap<UserId, OrgRole> = org_roles::of_users(tx, org_id, user_ids)
        .await?
        .into_iter()
        .map(|r| (r.user_id.clone(), r))
        .collect();
    let mut removed_admins = Vec::new();
    let mut gone = Vec::new();
    let mut holders = Vec::new();
    let users: BTreeSet<&UserId> = user_ids.iter().collect();
    for user in users {
        match (current.get(user), wanted.get(user)) {
            (Some(c), _) if !active.contains(user) => {
                gone.push(c);
            }
            (Some(c), _) if c.source == MembershipSource::Manual => {
                holders.push((user.clone(), MembershipSource::Manual));
            }
            (Some(c), Some(w)) => {
                if c.role != *w {
                    org_roles::put(tx, org_id, user, *w, MembershipSource::Group, now).await?;
                    if c.role == kinds::OrgRole::OrgAdmin {
                        removed_admins.push(c);
                    }
                }
                holders.push((user.clone(), MembershipSource::Group));
            }
            (Some(c), None) => gone.push(c),
            (None, Some(w)) => {
                org_roles::put(tx, org_id, user, *w, MembershipSource::Group, now).await?;
                holders.push((user.clone(), MembershipSource::Group));
            }
            (None, None) => {}
        }
    }
    if !gone.is_empty() {
        let ids: Vec<UserId> = gone.iter().map(|r| r.user_id.clone()).collect();
        org_roles::delete(tx, org_id, &ids).await?;
        removed_admins.extend(
            gone.into_iter()
                .filter(|r| r.role == kinds::OrgRole::OrgAdmin),
        );
    }
    if !removed_admins.is_empty() {
        ensure_an_admin_remains(tx, org_id, &removed_admins).await?;
    }
    Ok(holders)
}

/// Fails with [`Error::LastOrgAdmin`] if the org has no org admin left after removing
/// `removed` in this transaction (the caller then rolls back: nothing changes).
pub async fn ensure_an_admin_remains(
    tx: &mut Tx,
    org_id: &OrgId,
    removed: &[&OrgRole],
) -> Result<(), Error> {
    org_roles::lock(tx, org_id).await?;
    if org_roles::count_admins(tx, org_id).await? > 0 {
        return Ok(());
    }
    let who: Vec<String> = removed
        .iter()
        .map(|r| match &r.user_name {
            Some(name) => format!("{name:?} ({})", r.user_id),
            None => r.user_id.to_string(),
        })
        .collect();
    Err(Error::LastOrgAdmin(format!(
        "this change would remove the organization's last org admin ({}); grant org_admin \
         to someone else first. Nothing was changed",
        who.join(", ")
    )))
}
