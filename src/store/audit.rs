//! The audit log: every change with its actor, action, target and before/after.

use super::sql::{Q, Row};
use super::{StoreError, Tx};
use crate::domain::OrgId;
use crate::domain::time::Timestamp;

/// An entry to record. `before`/`after` are JSON snapshots (None where there is none).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry<'a> {
    pub org_id: &'a OrgId,
    pub at: &'a str,
    /// Who: `scim:<token label>`, `admin:<token label>`, `system` ...
    pub actor: &'a str,
    /// What, dotted: `user.created`, `membership.granted`, `team.updated` ...
    pub action: &'a str,
    /// What it happened to: `user:<id>`, `team:<id>`, `membership:<team>/<user>` ...
    pub target: &'a str,
    pub before: Option<&'a serde_json::Value>,
    pub after: Option<&'a serde_json::Value>,
}

/// A recorded entry; `seq` orders the org's log and is its paging cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub seq: i64,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Records an entry in the caller's transaction, so it lands exactly when the change does.
pub async fn insert(tx: &mut Tx, e: &NewEntry<'_>) -> Result<(), StoreError> {
    let json_in = tx.dialect().json_in();
    let mut q = Q::new(
        "INSERT INTO audit_log (org_id, at, actor, action, target, before, after) VALUES (?, ?, ?, ?, ?, ",
    );
    q.push(json_in).push(", ").push(json_in).push(")");
    let q = q
        .bind(e.org_id)
        .bind(e.at)
        .bind(e.actor)
        .bind(e.action)
        .bind(e.target)
        .bind(e.before.map(ToString::to_string))
        .bind(e.after.map(ToString::to_string));
    tx.execute(q).await?;
    Ok(())
}

/// Records several entries with one statement (a SCIM request's change and the
/// memberships it moved). Nothing to do for an empty list.
pub async fn insert_many(tx: &mut Tx, entries: &[NewEntry<'_>]) -> Result<(), StoreError> {
    let dialect = tx.dialect();
    for chunk in entries.chunks(100) {
        let mut q = Q::new(
            "INSERT INTO audit_log (org_id, at, actor, action, target, before, after) VALUES ",
        );
        for (i, e) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(")
                .push_bind(e.org_id)
                .push(", ")
                .push_bind(e.at)
                .push(", ")
                .push_bind(e.actor)
                .push(", ")
                .push_bind(e.action)
                .push(", ")
                .push_bind(e.target)
                .push(", ");
            q.push_json(dialect, e.before.map(ToString::to_string));
            q.push(", ");
            q.push_json(dialect, e.after.map(ToString::to_string));
            q.push(")");
        }
        tx.execute(q).await?;
    }
    Ok(())
}

/// The org's entries after `after_seq` (oldest first), at most `limit`.
pub async fn list(
    tx: &mut Tx,
    org_id: &OrgId,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<Entry>, StoreError> {
    let d = tx.dialect();
    let sql = format!(
        "SELECT seq, at, actor, action, target, {} AS before, {} AS after FROM audit_log \
         WHERE org_id = ? AND seq > ? ORDER BY seq",
        d.json_out("before"),
        d.json_out("after"),
    );
    let mut q = Q::new(&sql).bind(org_id).bind(after_seq);
    q.push_limit(limit);
    let rows = tx.fetch_all(q).await?;
    rows.iter().map(decode).collect()
}

fn decode(r: &Row) -> Result<Entry, StoreError> {
    let json = |name: &str| -> Result<Option<serde_json::Value>, StoreError> {
        r.opt_text(name)?
            .map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Decode(e.to_string())))
            .transpose()
    };
    Ok(Entry {
        seq: r.int("seq")?,
        at: r.parse("at")?,
        actor: r.text("actor")?,
        action: r.text("action")?,
        target: r.text("target")?,
        before: json("before")?,
        after: json("after")?,
    })
}
