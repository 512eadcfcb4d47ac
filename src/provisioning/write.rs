//! From a normalised SCIM resource to the row that stores it.

use super::Error;
use crate::store::SqlValue;
use crate::store::resources::{ResourceWrite, Table};
use argon2::password_hash::{PasswordHasher, SaltString};
use scim::ScimError;
use scim::schema::ResourceKind;
use scim::text::fold_key;
use serde_json::{Map, Value};

/// The table of a resource kind.
pub fn table(kind: ResourceKind) -> Table {
    match kind {
        ResourceKind::User => Table::Users,
        ResourceKind::Group => Table::Groups,
    }
}

fn text<'a>(doc: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    doc.get(key).and_then(Value::as_str)
}

/// The indexed columns derived from a normalised document.
pub fn resource_write(
    kind: ResourceKind,
    doc: Map<String, Value>,
    password_hash: Option<String>,
) -> Result<ResourceWrite, Error> {
    let external_id = text(&doc, "externalId").map(ToOwned::to_owned);
    let mut columns = Vec::new();
    let mut emails = Vec::new();
    match kind {
        ResourceKind::User => {
            let user_name = text(&doc, "userName")
                .ok_or_else(|| ScimError::InvalidValue("userName is required".into()))?
                .to_owned();
            columns.push(("user_name_norm", SqlValue::Text(fold_key(&user_name))));
            columns.push(("user_name", SqlValue::Text(user_name)));
            columns.push((
                "display_name",
                text(&doc, "displayName").map(ToOwned::to_owned).into(),
            ));
            // RFC 7643 §4.1.1: `active` absent means the service provider decides; a
            // provisioned user is active unless the IdP says otherwise.
            let active = doc.get("active").and_then(Value::as_bool).unwrap_or(true);
            columns.push(("active", SqlValue::Bool(active)));
            if let Some(hash) = password_hash {
                columns.push(("password_hash", SqlValue::Text(hash)));
            }
            emails = email_keys(&doc);
        }
        ResourceKind::Group => {
            let name = text(&doc, "displayName")
                .ok_or_else(|| ScimError::InvalidValue("displayName is required".into()))?
                .to_owned();
            columns.push(("display_name_norm", SqlValue::Text(fold_key(&name))));
            columns.push(("display_name", SqlValue::Text(name)));
        }
    }
    Ok(ResourceWrite::new(doc, external_id, columns, emails))
}

/// The folded `emails.value`s of a user document, each once, for the email index.
pub fn email_keys(doc: &Map<String, Value>) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    if let Some(Value::Array(list)) = doc.get("emails") {
        for v in list
            .iter()
            .filter_map(|e| e.get("value").and_then(Value::as_str))
        {
            let key = fold_key(v);
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys
}

/// Hashes a password with Argon2id (off the async threads: it is slow on purpose).
pub async fn hash_password(password: String) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| Error::Internal(format!("random: {e}")))?;
        let salt =
            SaltString::encode_b64(&salt).map_err(|e| Error::Internal(format!("salt: {e}")))?;
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("password hash: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(format!("password hash task: {e}")))?
}
