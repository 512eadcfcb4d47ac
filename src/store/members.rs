//! Group membership rows: (group, member) pairs indexed both ways, so a change costs in
//! proportion to the members changed, not to the size of the group.

use super::sql::{Q, can_match};
use super::{StoreError, Tx};
use crate::domain::{GroupId, OrgId};

/// A member of a group as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub group_id: GroupId,
    pub member_id: String,
    /// "User" or "Group".
    pub member_type: String,
}

/// A SCIM group a user belongs to (a `scim_group_members` row with the group's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMembership {
    pub member_id: String,
    pub group_id: GroupId,
    pub group_display: String,
}

/// Adds members (ignoring ones already present). Returns how many rows were added.
pub async fn add(
    tx: &mut Tx,
    org_id: &OrgId,
    group_id: &GroupId,
    members: &[(String, &'static str)],
) -> Result<u64, StoreError> {
    let mut added = 0;
    for chunk in members.chunks(200) {
        let mut q = Q::new(
            "INSERT INTO scim_group_members (group_id, member_id, member_type, org_id) VALUES ",
        );
        for (i, (id, kind)) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(")
                .push_bind(group_id)
                .push(", ")
                .push_bind(id.as_str())
                .push(", ")
                .push_bind(*kind)
                .push(", ")
                .push_bind(org_id)
                .push(")");
        }
        q.push(" ON CONFLICT (group_id, member_id) DO NOTHING");
        added += tx.execute(q).await?;
    }
    Ok(added)
}

/// Removes the given members. Returns how many rows were removed.
pub async fn remove(tx: &mut Tx, group_id: &GroupId, ids: &[String]) -> Result<u64, StoreError> {
    let mut removed = 0;
    let ids: Vec<&String> = ids.iter().filter(|id| can_match(id)).collect();
    for chunk in ids.chunks(500) {
        let mut q = Q::new("DELETE FROM scim_group_members WHERE group_id = ? AND member_id IN (")
            .bind(group_id);
        q.push_list(chunk);
        q.push(")");
        removed += tx.execute(q).await?;
    }
    Ok(removed)
}

/// Removes every member of a group.
pub async fn remove_all(tx: &mut Tx, group_id: &GroupId) -> Result<u64, StoreError> {
    tx.execute(Q::new("DELETE FROM scim_group_members WHERE group_id = ?").bind(group_id))
        .await
}

/// The members of the given groups, in a stable order.
pub async fn of_groups(tx: &mut Tx, group_ids: &[GroupId]) -> Result<Vec<Member>, StoreError> {
    let mut out = Vec::new();
    for chunk in group_ids.chunks(500) {
        if chunk.is_empty() {
            continue;
        }
        let mut q = Q::new(
            "SELECT gm.group_id, gm.member_id, gm.member_type \
             FROM scim_group_members gm WHERE gm.group_id IN (",
        );
        q.push_list(chunk);
        q.push(") ORDER BY gm.group_id, gm.member_id");
        for row in tx.fetch_all(q).await? {
            out.push(Member {
                group_id: row.id("group_id")?,
                member_id: row.text("member_id")?,
                member_type: row.text("member_type")?,
            });
        }
    }
    Ok(out)
}

/// The groups the given members belong to (directly), ordered by member, then group
/// name, then group id.
pub async fn of_members(
    tx: &mut Tx,
    member_ids: &[String],
) -> Result<Vec<GroupMembership>, StoreError> {
    let mut out = Vec::new();
    for chunk in member_ids.chunks(500) {
        if chunk.is_empty() {
            continue;
        }
        let mut q = Q::new(
            "SELECT gm.member_id, gm.group_id, g.display_name, g.display_name_norm \
             FROM scim_group_members gm JOIN scim_groups g ON g.id = gm.group_id \
             WHERE gm.member_id IN (",
        );
        q.push_list(chunk);
        q.push(")");
        for row in tx.fetch_all(q).await? {
            let membership = GroupMembership {
                member_id: row.text("member_id")?,
                group_id: row.id("group_id")?,
                group_display: row.text("display_name")?,
            };
            out.push((row.text("display_name_norm")?, membership));
        }
    }
    Ok(by_owner_then_name(out, |m| {
        (&m.member_id, m.group_id.as_str())
    }))
}

/// Rows `(name, row)` ordered by owner, then name, then id, where `key` gives a row's
/// (owner, id): the order a page's references are shown in. Sorted here rather than by
/// an `ORDER BY` past the indexed owner column, which makes SQLite build a temporary
/// b-tree on every run.
pub(super) fn by_owner_then_name<T>(
    mut rows: Vec<(String, T)>,
    key: impl Fn(&T) -> (&str, &str),
) -> Vec<T> {
    rows.sort_unstable_by(|(a_name, a), (b_name, b)| {
        let ((a_owner, a_id), (b_owner, b_id)) = (key(a), key(b));
        (a_owner, a_name.as_str(), a_id).cmp(&(b_owner, b_name.as_str(), b_id))
    });
    rows.into_iter().map(|(_, row)| row).collect()
}

/// The number of members of a group, counted no further than `limit` (bounded cost).
pub async fn count_up_to(tx: &mut Tx, group_id: &GroupId, limit: i64) -> Result<i64, StoreError> {
    let mut q =
        Q::new("SELECT COUNT(*) AS n FROM (SELECT 1 FROM scim_group_members WHERE group_id = ?")
            .bind(group_id);
    q.push_limit(limit).push(") AS capped");
    tx.fetch_one(q).await?.int("n")
}
