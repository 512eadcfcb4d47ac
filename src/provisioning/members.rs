//! Group member changes: validated against the organization, applied as row changes.

use super::Error;
use crate::domain::{GroupId, OrgId, UserId};
use crate::store::Tx;
use crate::store::members;
use crate::store::resources::{self, Table};
use scim::ScimError;
use scim::patch::MemberChange;
use scim::resource::MemberRef;
use scim::schema::Registry;
use serde_json::json;
use std::collections::HashSet;

/// Resolves member references to (id, "User"|"Group"), refusing ids that are not a user
/// or group of this organization. Another org's ids get the same answer as unknown ones.
pub(super) async fn members_to_add(
    tx: &mut Tx,
    org_id: &OrgId,
    group_id: &GroupId,
    refs: &[MemberRef],
) -> Result<Vec<(String, &'static str)>, Error> {
    let mut seen = HashSet::new();
    let ids: Vec<String> = refs
        .iter()
        .filter(|r| seen.insert(r.value.clone()))
        .map(|r| r.value.clone())
        .collect();
    if ids.iter().any(|id| id == group_id.as_str()) {
        return Err(ScimError::InvalidValue("a group cannot be a member of itself".into()).into());
    }
    let users: HashSet<String> = resources::existing_ids(tx, Table::Users, org_id, &ids)
        .await?
        .into_iter()
        .collect();
    let missing: Vec<String> = ids
        .iter()
        .filter(|id| !users.contains(*id))
        .cloned()
        .collect();
    let groups: HashSet<String> = if missing.is_empty() {
        HashSet::new()
    } else {
        resources::existing_ids(tx, Table::Groups, org_id, &missing)
            .await?
            .into_iter()
            .collect()
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if users.contains(&id) {
            out.push((id, "User"));
        } else if groups.contains(&id) {
            out.push((id, "Group"));
        } else {
            return Err(ScimError::InvalidValue(format!(
                "member {id:?} is not a user or group of this organization"
            ))
            .into());
        }
    }
    Ok(out)
}

/// What member changes did.
#[derive(Debug, Default)]
pub(super) struct MemberEffects {
    /// Whether any row changed.
    pub changed: bool,
    /// Members added or removed (only collected when asked: a mapped group's members'
    /// team memberships depend on it). A nested group among them names no user, so the
    /// rules find nothing to want for it.
    pub affected: Vec<UserId>,
}

/// Applies member changes in order.
pub(super) async fn apply_member_changes(
    tx: &mut Tx,
    registry: &Registry,
    org_id: &OrgId,
    group_id: &GroupId,
    changes: &[MemberChange],
    track: bool,
) -> Result<MemberEffects, Error> {
    let mut effects = MemberEffects::default();
    for change in changes {
        let n = match change {
            MemberChange::Add(refs) => {
                let add = members_to_add(tx, org_id, group_id, refs).await?;
                if track {
                    effects
                        .affected
                        .extend(add.iter().map(|(id, _)| UserId::from(id.as_str())));
                }
                members::add(tx, org_id, group_id, &add).await?
            }
            MemberChange::Remove(ids) => {
                if track {
                    effects
                        .affected
                        .extend(ids.iter().map(|id| UserId::from(id.as_str())));
                }
                members::remove(tx, group_id, ids).await?
            }
            MemberChange::RemoveAll => {
                if track {
                    let current = members::of_groups(tx, std::slice::from_ref(group_id)).await?;
                    effects
                        .affected
                        .extend(current.into_iter().map(|m| UserId::from(m.member_id)));
                }
                members::remove_all(tx, group_id).await?
            }
            MemberChange::RemoveMatching(filter) => {
                // Rare (IdPs remove by value); evaluating in memory keeps the SQL simple.
                let rt = registry.resource_type(scim::schema::ResourceKind::Group);
                // The filter is the inside of `members[...]`, evaluated on one element:
                // its paths (`type`) are sub-attributes of `members`.
                let case_exact = |p: &scim::filter::AttrPath| {
                    let full = scim::filter::AttrPath {
                        urn: None,
                        name: "members".into(),
                        sub: Some(p.name.clone()),
                    };
                    registry.case_exact(rt, &full)
                };
                let current = members::of_groups(tx, std::slice::from_ref(group_id)).await?;
                let ids: Vec<String> = current
                    .into_iter()
                    .filter(|m| {
                        let element = json!({
                            "value": m.member_id,
                            "type": m.member_type,
                        });
                        scim::filter::eval(filter, &element, &case_exact)
                    })
                    .map(|m| m.member_id)
                    .collect();
                if track {
                    effects
                        .affected
                        .extend(ids.iter().map(|id| UserId::from(id.as_str())));
                }
                members::remove(tx, group_id, &ids).await?
            }
        };
        effects.changed |= n > 0;
    }
    effects.affected.sort_unstable();
    effects.affected.dedup();
    Ok(effects)
}
