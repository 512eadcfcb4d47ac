//! Admin token authentication and the request extractors of the admin API.

use super::error::AdminApiError;
use crate::http::AppState;
use crate::provisioning::admin::AdminActor;
use crate::secrets;
use crate::store::tokens::{self, TokenKind};
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Request, State};
use axum::http::Method;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use serde::de::DeserializeOwned;

/// The largest admin request body.
const MAX_BODY: usize = 1 << 20;

/// Authenticates an admin token (never a SCIM token) and attaches the [`AdminActor`].
pub async fn authenticate(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, AdminApiError> {
    let token = crate::http::extract::bearer_token(req.headers()).ok_or_else(|| {
        AdminApiError::Unauthorized(
            "An admin token is required: send it as \"Authorization: Bearer <token>\".".into(),
        )
    })?;
    let hash = secrets::token_hash(token);
    let mut tx = state.store.read().await?;
    let found = tokens::find_live_kind(&mut tx, TokenKind::Admin, &hash).await?;
    drop(tx);
    let found = crate::http::extract::verified(found, &hash).ok_or_else(|| {
        AdminApiError::Unauthorized(
            "The bearer token is not a valid admin token (SCIM tokens do not work here) \
                 or it was revoked."
                .into(),
        )
    })?;
    req.extensions_mut().insert(AdminActor {
        org_id: found.org_id,
        label: found.label,
    });
    Ok(next.run(req).await)
}

impl<S: Send + Sync> FromRequestParts<S> for AdminActor {
    type Rejection = AdminApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AdminApiError> {
        parts
            .extensions
            .get::<AdminActor>()
            .cloned()
            .ok_or_else(|| AdminApiError::Unauthorized("An admin token is required.".into()))
    }
}

/// A JSON request body decoded into `T`; anything else is a 400 saying what is wrong.
#[derive(Debug)]
pub struct AdminJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AdminJson<T> {
    type Rejection = AdminApiError;

    async fn from_request(req: Request<Body>, _: &S) -> Result<Self, AdminApiError> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| {
                AdminApiError::PayloadTooLarge(format!(
                    "The request body exceeds the maximum of {MAX_BODY} bytes."
                ))
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(AdminApiError::BadRequest(
                "The request body is empty; send a JSON object.".into(),
            ));
        }
        // serde would also read a struct from a JSON array of its fields in order.
        if bytes.trim_ascii_start().first() != Some(&b'{') {
            return Err(AdminApiError::BadRequest(
                "The request body must be a JSON object.".into(),
            ));
        }
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            AdminApiError::BadRequest(format!("The request body is not valid: {e}."))
        })?;
        if let Some(at) = crate::http::text::forbidden_char_at(&value) {
            return Err(AdminApiError::BadRequest(format!(
                "{at} contains a control character; only tab, line feed and carriage return \
                 are allowed."
            )));
        }
        let value: T = serde_path_to_error::deserialize(&value).map_err(|e| {
            let field = e.path().to_string();
            let at = if field == "." {
                String::new()
            } else {
                format!(" at {field}")
            };
            AdminApiError::BadRequest(format!(
                "The request body is not valid{at}: {}.",
                e.into_inner()
            ))
        })?;
        Ok(AdminJson(value))
    }
}

/// Unknown admin routes.
pub async fn not_found(OriginalUri(uri): OriginalUri) -> AdminApiError {
    AdminApiError::NotFound(format!("There is no admin endpoint {}.", uri.path()))
}

/// A known admin route with the wrong method.
pub async fn method_not_allowed(OriginalUri(uri): OriginalUri, method: Method) -> AdminApiError {
    AdminApiError::MethodNotAllowed(format!("{method} is not allowed on {}.", uri.path()))
}
