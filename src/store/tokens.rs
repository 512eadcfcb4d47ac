//! SCIM bearer tokens, stored only as SHA-256 hashes.

use super::sql::Q;
use super::{StoreError, Tx};

/// A token as listed (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: String,
    pub org_id: String,
    pub label: String,
    pub created: String,
    pub revoked: Option<String>,
}

/// A live token found by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenMatch {
    pub id: String,
    pub org_id: String,
    pub label: String,
    pub token_hash: String,
}

/// Stores a new token's hash.
pub async fn insert(tx: &mut Tx, info: &TokenInfo, token_hash: &str) -> Result<(), StoreError> {
    tx.execute(
        Q::new(
            "INSERT INTO scim_tokens (id, org_id, label, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(info.id.as_str())
        .bind(info.org_id.as_str())
        .bind(info.label.as_str())
        .bind(token_hash)
        .bind(info.created.as_str()),
    )
    .await?;
    Ok(())
}

/// The tokens of an org, oldest first.
pub async fn list(tx: &mut Tx, org_id: &str) -> Result<Vec<TokenInfo>, StoreError> {
    let rows = tx
        .fetch_all(
            Q::new(
                "SELECT id, org_id, label, created_at, revoked_at FROM scim_tokens \
                 WHERE org_id = ? ORDER BY created_at, id",
            )
            .bind(org_id),
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(TokenInfo {
                id: r.text("id")?,
                org_id: r.text("org_id")?,
                label: r.text("label")?,
                created: r.text("created_at")?,
                revoked: r.opt_text("revoked_at")?,
            })
        })
        .collect()
}

/// Revokes a token. Returns false if no live token has that id.
pub async fn revoke(tx: &mut Tx, id: &str, now: &str) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            Q::new("UPDATE scim_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(now)
                .bind(id),
        )
        .await?;
    Ok(n == 1)
}

/// The live token with this hash, if any.
pub async fn find_live(tx: &mut Tx, token_hash: &str) -> Result<Option<TokenMatch>, StoreError> {
    let row = tx
        .fetch_optional(
            Q::new(
                "SELECT id, org_id, label, token_hash FROM scim_tokens \
                 WHERE token_hash = ? AND revoked_at IS NULL",
            )
            .bind(token_hash),
        )
        .await?;
    row.map(|r| {
        Ok(TokenMatch {
            id: r.text("id")?,
            org_id: r.text("org_id")?,
            label: r.text("label")?,
            token_hash: r.text("token_hash")?,
        })
    })
    .transpose()
}
