//! Group mappings as the admin API lists and removes them (inserting is in
//! [`super::teams::insert_mapping`]).

use super::sql::{Q, Row};
use super::teams::GroupMapping;
use super::{StoreError, Tx};
use crate::domain::{MappingId, OrgId};

/// A mapping with the names an admin recognises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingDetail {
    pub mapping: GroupMapping,
    pub group_name: String,
    pub team_name: Option<String>,
}

fn decode(r: &Row) -> Result<MappingDetail, StoreError> {
    Ok(MappingDetail {
        mapping: GroupMapping {
            id: r.id("id")?,
            org_id: r.id("org_id")?,
            group_id: r.id("group_id")?,
            team_id: r.opt_id("team_id")?,
            team_role: r.opt_parse("team_role")?,
            org_role: r.opt_parse("org_role")?,
            created: r.parse("created_at")?,
        },
        group_name: r.text("group_name")?,
        team_name: r.opt_text("team_name")?,
    })
}

/// The org's mappings (or one), oldest first.
pub async fn list(
    tx: &mut Tx,
    org_id: &OrgId,
    id: Option<&MappingId>,
) -> Result<Vec<MappingDetail>, StoreError> {
    let mut q = Q::new(
        "SELECT m.id, m.org_id, m.group_id, m.team_id, m.team_role, m.org_role, m.created_at, \
         g.display_name AS group_name, t.name AS team_name FROM group_mappings m \
         JOIN scim_groups g ON g.id = m.group_id LEFT JOIN teams t ON t.id = m.team_id \
         WHERE m.org_id = ?",
    )
    .bind(org_id);
    if let Some(id) = id {
        q.push(" AND m.id = ").push_bind(id);
    }
    q.push(" ORDER BY m.created_at, m.id");
    tx.fetch_all(q).await?.iter().map(decode).collect()
}

/// Deletes a mapping. Returns false if the org has no such mapping.
pub async fn delete(tx: &mut Tx, org_id: &OrgId, id: &MappingId) -> Result<bool, StoreError> {
    Ok(tx
        .execute(
            Q::new("DELETE FROM group_mappings WHERE org_id = ? AND id = ?")
                .bind(org_id)
                .bind(id),
        )
        .await?
        == 1)
}
