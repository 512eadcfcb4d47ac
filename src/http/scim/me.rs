//! `/Me` (RFC 7644 §3.11): the SCIM User behind a session access token.

use super::resources;
use crate::domain::OrgId;
use crate::http::extract::bearer_token;
use crate::http::{ApiError, AppState};
use crate::provisioning::Actor;
use crate::secrets;
use crate::sso::session::SessionError;
use crate::store::tokens;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use scim::schema::ResourceKind;

/// `GET /Me`: the signed-in user's resource. A SCIM provisioning token is valid but no
/// user stands behind it, which RFC 7644 §3.11 answers with 501; any other token is 401.
pub async fn get_me(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = bearer_token(&headers)
        .ok_or_else(|| ApiError::Unauthorized("a bearer token is required".into()))?;
    let live = state
        .sso
        .sessions()
        .live(token)
        .await
        .map_err(|e| match e {
            SessionError::Store(s) => ApiError::from(s),
            SessionError::Internal(m) => ApiError::Internal(m),
        })?;
    if let Some(live) = live {
        let span = tracing::Span::current();
        span.record("org", live.claims.org.as_str());
        let actor = Actor {
            org_id: OrgId::from(live.claims.org),
            label: format!("session:{}", live.claims.sid),
        };
        let call = resources::Call {
            state,
            actor,
            uri,
            headers,
        };
        return call.get(ResourceKind::User, live.claims.sub, None).await;
    }
    let hash = secrets::token_hash(token);
    let mut tx = state.store.read().await?;
    let scim_token = tokens::find_live(&mut tx, &hash).await?;
    drop(tx);
    if scim_token.is_some_and(|t| secrets::hashes_equal(&t.token_hash, &hash)) {
        return Err(ApiError::NotImplemented(
            "/Me needs a signed-in user's access token; this provisioning token belongs to \
             no user"
                .into(),
        ));
    }
    Err(ApiError::Unauthorized(
        "the bearer token is invalid, expired or revoked".into(),
    ))
}
