//! SAML connections of an org, the AuthnRequests awaiting a Response, and the replay cache
//! of consumed assertion IDs (migration 0008).

use super::sql::{Q, Row, SqlValue};
use super::sso_connections::{ConnectionTable, Times};
use super::{StoreError, Tx};
use crate::domain::OrgId;
use crate::domain::ids::SamlConnectionId;
use crate::domain::time::Timestamp;

/// A SAML connection as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlConnection {
    pub id: SamlConnectionId,
    pub org_id: OrgId,
    pub idp_entity_id: String,
    pub idp_sso_url: String,
    /// One or more PEM certificates.
    pub idp_certificate: String,
    pub allow_sha1: bool,
    pub allow_idp_initiated: bool,
    /// None: the NameID identifies the user.
    pub identity_attribute: Option<String>,
    /// `user_name`, `email` or `external_id`.
    pub match_by: String,
    pub jit: bool,
    pub enabled: bool,
    pub created: Timestamp,
    pub updated: Timestamp,
}

/// `saml_connections`; the settings are bound by [`settings`].
const TABLE: ConnectionTable<SamlConnection> = ConnectionTable {
    table: "saml_connections",
    settings: &[
        "idp_entity_id",
        "idp_sso_url",
        "idp_certificate",
        "allow_sha1",
        "allow_idp_initiated",
        "identity_attribute",
        "match_by",
        "jit",
        "enabled",
    ],
    decode: |r, _| decode(r),
};

fn decode(r: &Row) -> Result<SamlConnection, StoreError> {
    Ok(SamlConnection {
        id: r.id("id")?,
        org_id: r.id("org_id")?,
        idp_entity_id: r.text("idp_entity_id")?,
        idp_sso_url: r.text("idp_sso_url")?,
        idp_certificate: r.text("idp_certificate")?,
        allow_sha1: r.bool("allow_sha1")?,
        allow_idp_initiated: r.bool("allow_idp_initiated")?,
        identity_attribute: r.opt_text("identity_attribute")?,
        match_by: r.text("match_by")?,
        jit: r.bool("jit")?,
        enabled: r.bool("enabled")?,
        created: r.parse("created_at")?,
        updated: r.parse("updated_at")?,
    })
}

/// The values of [`TABLE`]'s settings.
fn settings(c: &SamlConnection) -> Vec<SqlValue> {
    vec![
        c.idp_entity_id.as_str().into(),
        c.idp_sso_url.as_str().into(),
        c.idp_certificate.as_str().into(),
        c.allow_sha1.into(),
        c.allow_idp_initiated.into(),
        c.identity_attribute.clone().into(),
        c.match_by.as_str().into(),
        c.jit.into(),
        c.enabled.into(),
    ]
}

/// Stores a new connection.
pub async fn insert_connection(tx: &mut Tx, c: &SamlConnection) -> Result<(), StoreError> {
    let times = Times {
        created: &c.created,
        updated: &c.updated,
    };
    TABLE
        .insert(tx, &c.org_id, c.id.as_str(), settings(c), times)
        .await
}

/// Rewrites a connection's settings. Returns false if the org has no such connection.
pub async fn update_connection(tx: &mut Tx, c: &SamlConnection) -> Result<bool, StoreError> {
    TABLE
        .update(tx, &c.org_id, c.id.as_str(), settings(c), &c.updated)
        .await
}

/// The org's connections, oldest first.
pub async fn list_connections(
    tx: &mut Tx,
    org_id: &OrgId,
) -> Result<Vec<SamlConnection>, StoreError> {
    TABLE.list(tx, org_id).await
}

/// One connection of the org.
pub async fn get_connection(
    tx: &mut Tx,
    org_id: &OrgId,
    id: &SamlConnectionId,
) -> Result<Option<SamlConnection>, StoreError> {
    TABLE.get(tx, org_id, id.as_str()).await
}

/// A connection by its id alone: the sign-in URLs carry only the connection id.
pub async fn find_connection(
    tx: &mut Tx,
    id: &SamlConnectionId,
) -> Result<Option<SamlConnection>, StoreError> {
    TABLE.find(tx, id.as_str()).await
}

/// Deletes a connection (its pending requests and replay cache go with it).
pub async fn delete_connection(
    tx: &mut Tx,
    org_id: &OrgId,
    id: &SamlConnectionId,
) -> Result<bool, StoreError> {
    TABLE.delete(tx, org_id, id.as_str()).await
}

/// Remembers an AuthnRequest we sent, until `expires_at`.
pub async fn insert_request(
    tx: &mut Tx,
    c: &SamlConnection,
    request_id: &str,
    now: &str,
    expires_at: &str,
) -> Result<(), StoreError> {
    tx.execute(
        Q::new(
            "INSERT INTO saml_requests (id, connection_id, org_id, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(request_id)
        .bind(c.id.as_str())
        .bind(c.org_id.as_str())
        .bind(now)
        .bind(expires_at),
    )
    .await?;
    Ok(())
}

/// Consumes a pending, unexpired AuthnRequest of the connection. Deleting is the check,
/// so two Responses to one request cannot both succeed, on any process.
pub async fn take_request(
    tx: &mut Tx,
    connection_id: &SamlConnectionId,
    request_id: &str,
    now: &str,
) -> Result<bool, StoreError> {
    Ok(tx
        .execute(
            Q::new(
                "DELETE FROM saml_requests WHERE id = ? AND connection_id = ? AND expires_at > ?",
            )
            .bind(request_id)
            .bind(connection_id.as_str())
            .bind(now),
        )
        .await?
        == 1)
}

/// Records a consumed assertion ID until `expires_at`. Returns false if it was already
/// there: a replay. The primary key decides, so concurrent replays cannot both pass.
pub async fn insert_assertion(
    tx: &mut Tx,
    c: &SamlConnection,
    assertion_id: &str,
    expires_at: &str,
) -> Result<bool, StoreError> {
    let inserted = tx
        .execute(
            Q::new(
                "INSERT INTO saml_assertions (connection_id, assertion_id, org_id, expires_at) \
                 VALUES (?, ?, ?, ?) ON CONFLICT (connection_id, assertion_id) DO NOTHING",
            )
            .bind(c.id.as_str())
            .bind(assertion_id)
            .bind(c.org_id.as_str())
            .bind(expires_at),
        )
        .await?;
    Ok(inserted == 1)
}

/// Forgets expired requests and assertion IDs (an expired assertion fails the time checks
/// anyway, so it no longer needs remembering).
pub async fn purge_expired(tx: &mut Tx, now: &str) -> Result<(), StoreError> {
    tx.execute(Q::new("DELETE FROM saml_requests WHERE expires_at <= ?").bind(now))
        .await?;
    tx.execute(Q::new("DELETE FROM saml_assertions WHERE expires_at <= ?").bind(now))
        .await?;
    Ok(())
}
