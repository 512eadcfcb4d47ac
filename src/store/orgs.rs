//! Organizations.

use super::sql::{Q, Row};
use super::{StoreError, Tx};
use crate::domain::OrgId;
use crate::domain::time::Timestamp;
use scim::text::fold_key;

/// An organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
    pub seats: Option<i64>,
    pub created: Timestamp,
}

fn decode(row: &Row) -> Result<Org, StoreError> {
    Ok(Org {
        id: row.id("id")?,
        name: row.text("name")?,
        seats: row.opt_int("seats")?,
        created: row.parse("created_at")?,
    })
}

/// Inserts an organization; a name already taken (case-insensitively) is a Conflict.
pub async fn insert(tx: &mut Tx, org: &Org) -> Result<(), StoreError> {
    tx.execute(
        Q::new("INSERT INTO orgs (id, name, name_norm, seats, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(org.id.as_str())
            .bind(org.name.as_str())
            .bind(fold_key(&org.name))
            .bind(org.seats)
            .bind(org.created.as_str()),
    )
    .await?;
    Ok(())
}

/// Finds an organization by id or by name (case-insensitive).
pub async fn find(tx: &mut Tx, name_or_id: &str) -> Result<Option<Org>, StoreError> {
    let row = tx
        .fetch_optional(
            Q::new(
                "SELECT id, name, seats, created_at FROM orgs WHERE id = ? OR name_norm = ? \
                 ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END LIMIT 1",
            )
            .bind(name_or_id)
            .bind(fold_key(name_or_id))
            .bind(name_or_id),
        )
        .await?;
    row.as_ref().map(decode).transpose()
}
