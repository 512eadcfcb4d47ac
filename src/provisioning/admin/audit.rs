//! Recording admin changes in the audit log, and reading the log page by page.

use super::{Admin, AdminActor, AdminError};
use crate::domain::time::Timestamp;
use crate::store::{Tx, audit};
use serde::Serialize;
use serde_json::Value;

/// Records one admin change in the caller's transaction. The one way admin changes reach
/// the audit log, for the SSO admin code (connections, policies) as for the rest.
pub(crate) async fn record(
    tx: &mut Tx,
    actor: &AdminActor,
    now: &str,
    action: &str,
    target: &str,
    before: Option<&Value>,
    after: Option<&Value>,
) -> Result<(), AdminError> {
    let name = actor.audit_name();
    audit::insert(
        tx,
        &audit::NewEntry {
            org_id: &actor.org_id,
            at: now,
            actor: &name,
            action,
            target,
            before,
            after,
        },
    )
    .await?;
    Ok(())
}

/// A view as the audit log's `before` or `after`.
pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<Value, AdminError> {
    serde_json::to_value(v).map_err(|e| AdminError::Internal(format!("encode: {e}")))
}

/// One audit log entry.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntryView {
    /// Position in the org's log; pass the last one seen as `after` to page on.
    pub seq: i64,
    #[schema(value_type = String)]
    pub at: Timestamp,
    /// `admin:<token label>`, `scim:<token label>`, `system` ...
    pub actor: String,
    /// e.g. `team.created`
    pub action: String,
    /// e.g. `team:<id>`
    pub target: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
}

/// A page of the audit log, oldest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    /// The `after` of the next page; absent on the last page.
    pub next: Option<i64>,
}

/// The most entries one page returns.
pub const MAX_PAGE: i64 = 500;

impl Admin {
    /// The org's audit log after `after` (a `seq`), at most `limit` entries.
    pub async fn audit_log(
        &self,
        actor: &AdminActor,
        after: i64,
        limit: i64,
    ) -> Result<AuditPage, AdminError> {
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(AdminError::Invalid(format!(
                "limit must be between 1 and {MAX_PAGE}, not {limit}"
            )));
        }
        let mut tx = self.read().await?;
        let entries = audit::list(&mut tx, &actor.org_id, after, limit).await?;
        let next = if entries.len() as i64 == limit {
            entries.last().map(|e| e.seq)
        } else {
            None
        };
        Ok(AuditPage {
            entries: entries
                .into_iter()
                .map(|e| AuditEntryView {
                    seq: e.seq,
                    at: e.at,
                    actor: e.actor,
                    action: e.action,
                    target: e.target,
                    before: e.before,
                    after: e.after,
                })
                .collect(),
            next,
        })
    }
}
