//! `/admin/v1/audit`: the org's audit log, oldest first, paged by `seq`.

use super::error::AdminApiError;
use crate::http::AppState;
use crate::provisioning::admin::{AdminActor, AuditPage};
use axum::Json;
use axum::extract::State;
use axum::http::Uri;

/// Paging of the audit log.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Entries after this `seq` (the `next` of the previous page); default 0.
    pub after: Option<i64>,
    /// Entries per page; default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// A page of the audit log.
#[utoipa::path(get, path = "/admin/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage)))]
pub async fn list_audit(
    State(state): State<AppState>,
    actor: AdminActor,
    uri: Uri,
) -> Result<Json<AuditPage>, AdminApiError> {
    let q: AuditQuery = serde_urlencoded::from_str(uri.query().unwrap_or_default())
        .map_err(|e| AdminApiError::BadRequest(format!("The query string is not valid: {e}.")))?;
    Ok(Json(
        state
            .directory
            .admin()
            .audit_log(&actor, q.after.unwrap_or(0), q.limit.unwrap_or(100))
            .await?,
    ))
}
