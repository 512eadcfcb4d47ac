//! Email sign-in codes (table `email_sign_in_codes`, migration 0009): stored as hashes,
//! with their expiry, wrong attempts and use.

use super::sql::{Q, can_match};
use super::{StoreError, Tx};
use crate::domain::time::Timestamp;
use crate::domain::{OrgId, UserId};

/// A user an email address belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct UserByEmail {
    pub id: UserId,
    pub active: bool,
    pub doc: serde_json::Map<String, serde_json::Value>,
}

/// The org's users with `email_norm` (`scim::text::fold_key`) among their `emails.value`, through the
/// `(org_id, value_norm)` index.
pub async fn users_by_email(
    tx: &mut Tx,
    org_id: &OrgId,
    email_norm: &str,
) -> Result<Vec<UserByEmail>, StoreError> {
    if !can_match(org_id.as_str()) || !can_match(email_norm) {
        return Ok(Vec::new());
    }
    let doc = tx.dialect().json_out("u.doc");
    let rows = tx
        .fetch_all(
            Q::new(&format!(
                "SELECT DISTINCT u.id, u.active, {doc} AS doc FROM scim_user_emails e \
                 JOIN scim_users u ON u.seq = e.user_seq \
                 WHERE e.org_id = ? AND e.value_norm = ? ORDER BY u.id"
            ))
            .bind(org_id)
            .bind(email_norm),
        )
        .await?;
    rows.iter()
        .map(|r| {
            let doc = match serde_json::from_str(&r.text("doc")?)
                .map_err(|e| StoreError::Decode(format!("stored JSON: {e}")))?
            {
                serde_json::Value::Object(m) => m,
                _ => serde_json::Map::new(),
            };
            Ok(UserByEmail {
                id: r.id("id")?,
                active: r.bool("active")?,
                doc,
            })
        })
        .collect()
}

/// A stored code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub id: String,
    pub org_id: OrgId,
    pub user_id: UserId,
    /// Hex SHA-256 of the code (see `sso::email_code`).
    pub code_hash: String,
    pub attempts: i64,
    pub created: Timestamp,
    pub expires: Timestamp,
    pub used: Option<Timestamp>,
}

/// Stores a new code.
pub async fn insert(tx: &mut Tx, c: &Code) -> Result<(), StoreError> {
    tx.execute(
        Q::new(
            "INSERT INTO email_sign_in_codes (id, org_id, user_id, code_hash, attempts, \
             created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(c.id.as_str())
        .bind(c.org_id.as_str())
        .bind(c.user_id.as_str())
        .bind(c.code_hash.as_str())
        .bind(c.attempts)
        .bind(c.created.as_str())
        .bind(c.expires.as_str())
        .bind(c.used.as_ref()),
    )
    .await?;
    Ok(())
}

/// The user's latest code (a new code replaces the ones before it), locked for the
/// transaction on PostgreSQL.
pub async fn latest(
    tx: &mut Tx,
    org_id: &OrgId,
    user_id: &UserId,
) -> Result<Option<Code>, StoreError> {
    let lock = tx.dialect().for_update();
    let row = tx
        .fetch_optional(
            Q::new(&format!(
                "SELECT id, org_id, user_id, code_hash, attempts, created_at, expires_at, used_at \
                 FROM email_sign_in_codes WHERE org_id = ? AND user_id = ? \
                 ORDER BY created_at DESC, id DESC LIMIT 1{lock}"
            ))
            .bind(org_id)
            .bind(user_id),
        )
        .await?;
    row.map(|r| {
        Ok(Code {
            id: r.text("id")?,
            org_id: r.id("org_id")?,
            user_id: r.id("user_id")?,
            code_hash: r.text("code_hash")?,
            attempts: r.int("attempts")?,
            created: r.parse("created_at")?,
            expires: r.parse("expires_at")?,
            used: r.opt_parse("used_at")?,
        })
    })
    .transpose()
}

/// Counts a wrong attempt.
pub async fn add_attempt(tx: &mut Tx, id: &str) -> Result<(), StoreError> {
    tx.execute(
        Q::new("UPDATE email_sign_in_codes SET attempts = attempts + 1 WHERE id = ?").bind(id),
    )
    .await?;
    Ok(())
}

/// Marks a code used at `at`; false if it already was (a concurrent verify won).
pub async fn mark_used(tx: &mut Tx, id: &str, at: &str) -> Result<bool, StoreError> {
    Ok(tx
        .execute(
            Q::new("UPDATE email_sign_in_codes SET used_at = ? WHERE id = ? AND used_at IS NULL")
                .bind(at)
                .bind(id),
        )
        .await?
        == 1)
}

/// The org's name (None if there is no such org).
pub async fn org_name(tx: &mut Tx, org_id: &OrgId) -> Result<Option<String>, StoreError> {
    tx.fetch_optional(Q::new("SELECT name FROM orgs WHERE id = ?").bind(org_id))
        .await?
        .map(|r| r.text("name"))
        .transpose()
}

/// What happened in an email sign-in event (table `sign_in_email_events`, migration 0012).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    CodeSent,
    NoticeSent,
    WrongCode,
}

impl EventKind {
    fn as_sql(self) -> &'static str {
        match self {
            EventKind::CodeSent => "code_sent",
            EventKind::NoticeSent => "notice_sent",
            EventKind::WrongCode => "wrong_code",
        }
    }
}

/// Records an event of `requester` (a client address) about a user, and forgets the
/// user's events older than `forget_before`.
pub async fn record_event(
    tx: &mut Tx,
    org_id: &OrgId,
    user_id: &UserId,
    requester: &str,
    kind: EventKind,
    code_id: Option<&str>,
    (at, forget_before): (&str, &str),
) -> Result<(), StoreError> {
    tx.execute(
        Q::new("DELETE FROM sign_in_email_events WHERE org_id = ? AND user_id = ? AND at < ?")
            .bind(org_id)
            .bind(user_id)
            .bind(forget_before),
    )
    .await?;
    tx.execute(
        Q::new(
            "INSERT INTO sign_in_email_events (org_id, user_id, requester, kind, code_id, at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(org_id)
        .bind(user_id)
        .bind(requester)
        .bind(kind.as_sql())
        .bind(code_id.map(str::to_owned))
        .bind(at),
    )
    .await?;
    Ok(())
}

/// Emails (codes and notices) sent to the user since `since`: all of them, and those
/// `requester` asked for.
pub async fn emails_since(
    tx: &mut Tx,
    org_id: &OrgId,
    user_id: &UserId,
    requester: &str,
    since: &str,
) -> Result<(i64, i64), StoreError> {
    let row = tx
        .fetch_one(
            Q::new(
                "SELECT COUNT(*) AS total, \
                 COALESCE(SUM(CASE WHEN requester = ? THEN 1 ELSE 0 END), 0) AS mine \
                 FROM sign_in_email_events WHERE org_id = ? AND user_id = ? AND at > ? \
                 AND kind IN ('code_sent', 'notice_sent')",
            )
            .bind(requester)
            .bind(org_id)
            .bind(user_id)
            .bind(since),
        )
        .await?;
    Ok((row.int("total")?, row.int("mine")?))
}

/// Wrong tries of `requester` at the code `code_id`.
pub async fn wrong_tries(
    tx: &mut Tx,
    org_id: &OrgId,
    user_id: &UserId,
    code_id: &str,
    requester: &str,
) -> Result<i64, StoreError> {
    tx.fetch_one(
        Q::new(
            "SELECT COUNT(*) AS n FROM sign_in_email_events WHERE org_id = ? AND user_id = ? \
             AND kind = 'wrong_code' AND code_id = ? AND requester = ?",
        )
        .bind(org_id)
        .bind(user_id)
        .bind(code_id)
        .bind(requester),
    )
    .await?
    .int("n")
}
