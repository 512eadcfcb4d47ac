//! Org roles (`org_admin`, `org_analyst`): one per user and org, granted by an admin
//! (`manual`) or through a mapped IdP group (`group`).

use super::sql::{Dialect, Q, Row};
use super::{StoreError, Tx};
use crate::domain::kinds::{self, MembershipSource};
use crate::domain::time::Timestamp;
use crate::domain::{OrgId, UserId};

/// A user's org role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRole {
    pub user_id: UserId,
    /// None when the user no longer exists.
    pub user_name: Option<String>,
    pub role: kinds::OrgRole,
    pub source: MembershipSource,
    pub granted: Timestamp,
}

fn decode(r: &Row) -> Result<OrgRole, StoreError> {
    Ok(OrgRole {
        user_id: r.id("user_id")?,
        user_name: r.opt_text("user_name")?,
        role: r.parse("role")?,
        source: r.parse("source")?,
        granted: r.parse("granted_at")?,
    })
}

const SELECT: &str = "SELECT r.user_id, u.user_name, r.role, r.source, r.granted_at \
                      FROM org_roles r LEFT JOIN scim_users u ON u.id = r.user_id \
                      WHERE r.org_id = ?";

/// The org's roles, oldest grant first.
pub async fn list(tx: &mut Tx, org_id: &OrgId) -> Result<Vec<OrgRole>, StoreError> {
    let mut q = Q::new(SELECT).bind(org_id);
    q.push(" ORDER BY r.granted_at, r.user_id");
    tx.fetch_all(q).await?.iter().map(decode).collect()
}

/// The roles of the given users.
pub async fn of_users(
    tx: &mut Tx,
    org_id: &OrgId,
    user_ids: &[UserId],
) -> Result<Vec<OrgRole>, StoreError> {
    let mut out = Vec::new();
    for chunk in user_ids.chunks(500) {
        let mut q = Q::new(SELECT).bind(org_id);
        q.push(" AND r.user_id IN (");
        q.push_list(chunk);
        q.push(")");
        for row in tx.fetch_all(q).await? {
            out.push(decode(&row)?);
        }
    }
    Ok(out)
}

/// Grants (or replaces) a user's role.
pub async fn put(
    tx: &mut Tx,
    org_id: &OrgId,
    user_id: &UserId,
    role: kinds::OrgRole,
    source: MembershipSource,
    now: &str,
) -> Result<(), StoreError> {
    tx.execute(
        Q::new(
            "INSERT INTO org_roles (org_id, user_id, role, source, granted_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role, \
             source = excluded.source, granted_at = excluded.granted_at",
        )
        .bind(org_id)
        .bind(user_id)
        .bind(role)
        .bind(source)
        .bind(now),
    )
    .await?;
    Ok(())
}

/// Removes the roles of the given users.
pub async fn delete(tx: &mut Tx, org_id: &OrgId, user_ids: &[UserId]) -> Result<(), StoreError> {
    for chunk in user_ids.chunks(500) {
        let mut q = Q::new("DELETE FROM org_roles WHERE org_id = ?").bind(org_id);
        q.push(" AND user_id IN (");
        q.push_list(chunk);
        q.push(")");
        tx.execute(q).await?;
    }
    Ok(())
}

/// Serialises changes that could remove the org's last admin: held until the transaction
/// ends (PostgreSQL row lock on the org; SQLite's write transactions are exclusive). A
/// count taken after this sees every admin removal committed before it.
pub async fn lock(tx: &mut Tx, org_id: &OrgId) -> Result<(), StoreError> {
    let mut q = Q::new("SELECT id FROM orgs WHERE id = ?").bind(org_id);
    // NO KEY UPDATE: rows referencing the org (memberships, audit entries ...) take a key
    // share lock on it, which a plain FOR UPDATE would block until this commits.
    q.push(match tx.dialect() {
        Dialect::Postgres => " FOR NO KEY UPDATE",
        Dialect::Sqlite => "",
    });
    tx.fetch_optional(q).await?;
    Ok(())
}

/// How many org admins the org has.
pub async fn count_admins(tx: &mut Tx, org_id: &OrgId) -> Result<i64, StoreError> {
    tx.fetch_one(
        Q::new("SELECT COUNT(*) AS n FROM org_roles WHERE org_id = ? AND role = 'org_admin'")
            .bind(org_id),
    )
    .await?
    .int("n")
}

/// (user, org role) wanted through mapped groups the users are in.
pub async fn mapped(
    tx: &mut Tx,
    user_ids: &[UserId],
) -> Result<Vec<(UserId, kinds::OrgRole)>, StoreError> {
    let mut out = Vec::new();
    for chunk in user_ids.chunks(500) {
        let mut q = Q::new(
            "SELECT gm.member_id AS user_id, m.org_role FROM scim_group_members gm \
             JOIN group_mappings m ON m.group_id = gm.group_id \
             WHERE m.org_role IS NOT NULL AND gm.member_id IN (",
        );
        q.push_list(chunk);
        q.push(")");
        for row in tx.fetch_all(q).await? {
            out.push((row.id("user_id")?, row.parse("org_role")?));
        }
    }
    Ok(out)
}
