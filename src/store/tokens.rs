//! Bearer tokens, stored only as SHA-256 hashes: SCIM tokens (`scim_tokens`) and admin API
//! tokens (`admin_tokens`). Two tables, so a token of one kind never opens the other API.

use super::sql::Q;
use super::{StoreError, Tx};
use crate::domain::OrgId;
use crate::domain::time::Timestamp;

/// Which API a token opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Scim,
    Admin,
}

impl TokenKind {
    fn table(self) -> &'static str {
        match self {
            TokenKind::Scim => "scim_tokens",
            TokenKind::Admin => "admin_tokens",
        }
    }
}

/// A token as listed (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: String,
    pub org_id: OrgId,
    pub label: String,
    pub created: Timestamp,
    pub revoked: Option<Timestamp>,
}

/// A live token found by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenMatch {
    pub id: String,
    pub org_id: OrgId,
    pub label: String,
    pub token_hash: String,
}

/// Stores a new SCIM token's hash.
pub async fn insert(tx: &mut Tx, info: &TokenInfo, token_hash: &str) -> Result<(), StoreError> {
    insert_kind(tx, TokenKind::Scim, info, token_hash).await
}

/// Stores a new token's hash.
pub async fn insert_kind(
    tx: &mut Tx,
    kind: TokenKind,
    info: &TokenInfo,
    token_hash: &str,
) -> Result<(), StoreError> {
    tx.execute(
        Q::new(&format!(
            "INSERT INTO {} (id, org_id, label, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
            kind.table()
        ))
        .bind(info.id.as_str())
        .bind(info.org_id.as_str())
        .bind(info.label.as_str())
        .bind(token_hash)
        .bind(info.created.as_str()),
    )
    .await?;
    Ok(())
}

/// The SCIM tokens of an org, oldest first.
pub async fn list(tx: &mut Tx, org_id: &OrgId) -> Result<Vec<TokenInfo>, StoreError> {
    list_kind(tx, TokenKind::Scim, org_id).await
}

/// The tokens of one kind of an org, oldest first.
pub async fn list_kind(
    tx: &mut Tx,
    kind: TokenKind,
    org_id: &OrgId,
) -> Result<Vec<TokenInfo>, StoreError> {
    let rows = tx
        .fetch_all(
            Q::new(&format!(
                "SELECT id, org_id, label, created_at, revoked_at FROM {} \
                 WHERE org_id = ? ORDER BY created_at, id",
                kind.table()
            ))
            .bind(org_id),
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(TokenInfo {
                id: r.text("id")?,
                org_id: r.id("org_id")?,
                label: r.text("label")?,
                created: r.parse("created_at")?,
                revoked: r.opt_parse("revoked_at")?,
            })
        })
        .collect()
}

/// Revokes a SCIM token. Returns false if no live token has that id.
pub async fn revoke(tx: &mut Tx, id: &str, now: &str) -> Result<bool, StoreError> {
    revoke_kind(tx, TokenKind::Scim, id, now).await
}

/// Revokes a token. Returns false if no live token of that kind has that id.
pub async fn revoke_kind(
    tx: &mut Tx,
    kind: TokenKind,
    id: &str,
    now: &str,
) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            Q::new(&format!(
                "UPDATE {} SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                kind.table()
            ))
            .bind(now)
            .bind(id),
        )
        .await?;
    Ok(n == 1)
}

/// The live SCIM token with this hash, if any.
pub async fn find_live(tx: &mut Tx, token_hash: &str) -> Result<Option<TokenMatch>, StoreError> {
    find_live_kind(tx, TokenKind::Scim, token_hash).await
}

/// The live token of this kind with this hash, if any.
pub async fn find_live_kind(
    tx: &mut Tx,
    kind: TokenKind,
    token_hash: &str,
) -> Result<Option<TokenMatch>, StoreError> {
    let row = tx
        .fetch_optional(
            Q::new(&format!(
                "SELECT id, org_id, label, token_hash FROM {} \
                 WHERE token_hash = ? AND revoked_at IS NULL",
                kind.table()
            ))
            .bind(token_hash),
        )
        .await?;
    row.map(|r| {
        Ok(TokenMatch {
            id: r.text("id")?,
            org_id: r.id("org_id")?,
            label: r.text("label")?,
            token_hash: r.text("token_hash")?,
        })
    })
    .transpose()
}
