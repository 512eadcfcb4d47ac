//! OIDC connections of each org (`oidc_connections`) and the logins in flight between the
//! start and the callback (`oidc_logins`).

use super::sealed_columns::OIDC_CLIENT_SECRETS;
use super::sql::{Q, Row, SqlValue};
use super::sso_connections::{ConnectionTable, Times};
use super::{StoreError, Tx};
use crate::domain::OrgId;
use crate::domain::ids::OidcConnectionId;
use crate::domain::time::Timestamp;
use secrecy::SecretString;

/// A connection as stored. `Debug` never prints the client secret.
#[derive(Debug, Clone)]
pub struct OidcConnectionRow {
    pub id: OidcConnectionId,
    pub org_id: OrgId,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// Space-separated scopes requested besides `openid`.
    pub scopes: String,
    pub use_userinfo: bool,
    pub claim: String,
    /// `userName`, `email` or `externalId`.
    pub match_by: String,
    pub jit: bool,
    pub enabled: bool,
    pub created: Timestamp,
    pub updated: Timestamp,
}

/// `oidc_connections`; the settings are bound by [`settings`].
const TABLE: ConnectionTable<OidcConnectionRow> = ConnectionTable {
    table: "oidc_connections",
    settings: &[
        "name",
        "issuer",
        "client_id",
        "client_secret",
        "scopes",
        "use_userinfo",
        "claim",
        "match_by",
        "jit",
        "enabled",
    ],
    decode,
};

fn decode(r: &Row, tx: &Tx) -> Result<OidcConnectionRow, StoreError> {
    let id: OidcConnectionId = r.id("id")?;
    let client_secret = tx.open(OIDC_CLIENT_SECRETS, id.as_str(), &r.text("client_secret")?)?;
    Ok(OidcConnectionRow {
        id,
        org_id: r.id("org_id")?,
        name: r.text("name")?,
        issuer: r.text("issuer")?,
        client_id: r.text("client_id")?,
        client_secret: SecretString::from(client_secret),
        scopes: r.text("scopes")?,
        use_userinfo: r.bool("use_userinfo")?,
        claim: r.text("claim")?,
        match_by: r.text("match_by")?,
        jit: r.bool("jit")?,
        enabled: r.bool("enabled")?,
        created: r.parse("created_at")?,
        updated: r.parse("updated_at")?,
    })
}

/// The values of [`TABLE`]'s settings, the client secret sealed.
fn settings(
    tx: &Tx,
    c: &OidcConnectionRow,
    client_secret: &str,
) -> Result<Vec<SqlValue>, StoreError> {
    let client_secret = tx.seal(OIDC_CLIENT_SECRETS, c.id.as_str(), client_secret)?;
    Ok(vec![
        c.name.as_str().into(),
        c.issuer.as_str().into(),
        c.client_id.as_str().into(),
        client_secret.into(),
        c.scopes.as_str().into(),
        c.use_userinfo.into(),
        c.claim.as_str().into(),
        c.match_by.as_str().into(),
        c.jit.into(),
        c.enabled.into(),
    ])
}

/// Inserts a connection.
pub async fn insert_connection(
    tx: &mut Tx,
    c: &OidcConnectionRow,
    client_secret: &str,
) -> Result<(), StoreError> {
    let values = settings(tx, c, client_secret)?;
    let times = Times {
        created: &c.created,
        updated: &c.updated,
    };
    TABLE
        .insert(tx, &c.org_id, c.id.as_str(), values, times)
        .await
}

/// Replaces every setting of a connection. Returns false if the org has no such connection.
pub async fn update_connection(
    tx: &mut Tx,
    c: &OidcConnectionRow,
    client_secret: &str,
) -> Result<bool, StoreError> {
    let values = settings(tx, c, client_secret)?;
    TABLE
        .update(tx, &c.org_id, c.id.as_str(), values, &c.updated)
        .await
}

/// Deletes a connection (and its logins in flight). Returns false if the org has none
/// with that id.
pub async fn delete_connection(
    tx: &mut Tx,
    org_id: &OrgId,
    id: &OidcConnectionId,
) -> Result<bool, StoreError> {
    TABLE.delete(tx, org_id, id.as_str()).await
}

/// One connection of the org.
pub async fn get_connection(
    tx: &mut Tx,
    org_id: &OrgId,
    id: &OidcConnectionId,
) -> Result<Option<OidcConnectionRow>, StoreError> {
    TABLE.get(tx, org_id, id.as_str()).await
}

/// The org's connections, oldest first.
pub async fn list_connections(
    tx: &mut Tx,
    org_id: &OrgId,
) -> Result<Vec<OidcConnectionRow>, StoreError> {
    TABLE.list(tx, org_id).await
}

/// A login between start and callback.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    pub state_hash: String,
    pub org_id: OrgId,
    pub connection_id: OidcConnectionId,
    pub browser_hash: String,
    pub nonce_hash: String,
    pub pkce_verifier: SecretString,
    pub created: Timestamp,
    pub expires: Timestamp,
}

/// Stores a login just started.
pub async fn insert_login(tx: &mut Tx, l: &PendingLogin, verifier: &str) -> Result<(), StoreError> {
    tx.execute(
        Q::new(
            "INSERT INTO oidc_logins (state_hash, org_id, connection_id, browser_hash, \
             nonce_hash, pkce_verifier, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(l.state_hash.as_str())
        .bind(l.org_id.as_str())
        .bind(l.connection_id.as_str())
        .bind(l.browser_hash.as_str())
        .bind(l.nonce_hash.as_str())
        .bind(verifier)
        .bind(&l.created)
        .bind(&l.expires),
    )
    .await?;
    Ok(())
}

/// The login with this state hash, if any (expired or not).
pub async fn get_login(tx: &mut Tx, state_hash: &str) -> Result<Option<PendingLogin>, StoreError> {
    let row = tx
        .fetch_optional(
            Q::new(
                "SELECT state_hash, org_id, connection_id, browser_hash, nonce_hash, \
                 pkce_verifier, created_at, expires_at FROM oidc_logins WHERE state_hash = ?",
            )
            .bind(state_hash),
        )
        .await?;
    row.map(|r| {
        Ok(PendingLogin {
            state_hash: r.text("state_hash")?,
            org_id: r.id("org_id")?,
            connection_id: r.id("connection_id")?,
            browser_hash: r.text("browser_hash")?,
            nonce_hash: r.text("nonce_hash")?,
            pkce_verifier: SecretString::from(r.text("pkce_verifier")?),
            created: r.parse("created_at")?,
            expires: r.parse("expires_at")?,
        })
    })
    .transpose()
}

/// Deletes a login; false if it was gone already (used by a concurrent callback).
pub async fn delete_login(tx: &mut Tx, state_hash: &str) -> Result<bool, StoreError> {
    let n = tx
        .execute(Q::new("DELETE FROM oidc_logins WHERE state_hash = ?").bind(state_hash))
        .await?;
    Ok(n == 1)
}

/// Forgets logins that expired before `now`, so abandoned ones do not pile up.
pub async fn delete_expired_logins(tx: &mut Tx, now: &str) -> Result<u64, StoreError> {
    tx.execute(Q::new("DELETE FROM oidc_logins WHERE expires_at < ?").bind(now))
        .await
}
