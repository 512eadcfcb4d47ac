//! The org's OIDC connections as the admin API manages them: validated, checked against
//! the issuer's discovery document before they are saved, recorded in the audit log. The
//! client secret goes in and never comes out.

use super::{Oidc, discover};
use crate::domain::OrgId;
use crate::domain::ids::OidcConnectionId;
use crate::domain::time::Timestamp;
use crate::provisioning::admin::{AdminActor, AdminError};
use crate::sso::Sso;
use crate::sso::connections::{self, Change, ConnectionKind, record_change};
use crate::sso::signin::MatchBy;
use crate::store::sso_oidc::{self, OidcConnectionRow};
use crate::store::{StoreError, Tx};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

/// A connection as an admin sees it (never the client secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OidcConnectionView {
    #[schema(value_type = String)]
    pub id: OidcConnectionId,
    pub name: String,
    /// The issuer URL; `{issuer}/.well-known/openid-configuration` is its discovery document.
    pub issuer: String,
    pub client_id: String,
    /// Scopes requested besides `openid`.
    pub scopes: Vec<String>,
    /// Whether the userinfo endpoint is called for claims the ID token lacks.
    pub use_userinfo: bool,
    /// The claim that names the user, e.g. `email`, `sub`, `preferred_username`.
    pub claim: String,
    /// Which attribute of the org's users the claim is compared with:
    /// `userName`, `email` or `externalId`.
    pub match_by: String,
    /// Whether a login that matches no user creates one (through the provisioning rules).
    pub jit: bool,
    pub enabled: bool,
    /// The redirect URI to register at the identity provider.
    pub redirect_uri: String,
    /// Where people start signing in with this connection.
    pub sign_in_url: String,
    pub created: String,
    pub updated: String,
}

/// A connection to create.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOidcConnection {
    /// A label for admins; default: the issuer's host.
    pub name: Option<String>,
    /// The issuer URL (http or https); its discovery document must be reachable.
    pub issuer: String,
    pub client_id: String,
    /// Stored for the token request; never returned.
    #[schema(value_type = String)]
    #[serde(deserialize_with = "secret")]
    pub client_secret: SecretString,
    /// Default `["email", "profile"]`; `openid` is always requested.
    pub scopes: Option<Vec<String>>,
    /// Default false.
    pub use_userinfo: Option<bool>,
    /// Default `email`.
    pub claim: Option<String>,
    /// Default: `email` for the `email` claim, `externalId` for `sub`, else `userName`.
    pub match_by: Option<String>,
    /// Default false.
    pub jit: Option<bool>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// Changes to a connection; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcConnectionUpdate {
    pub name: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    #[schema(value_type = Option<String>)]
    #[serde(default, deserialize_with = "optional_secret")]
    pub client_secret: Option<SecretString>,
    pub scopes: Option<Vec<String>>,
    pub use_userinfo: Option<bool>,
    pub claim: Option<String>,
    pub match_by: Option<String>,
    pub jit: Option<bool>,
    pub enabled: Option<bool>,
}

/// Reads a secret straight into a [`SecretString`], so no plain copy lingers in `Debug`.
fn secret<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    String::deserialize(d).map(SecretString::from)
}

fn optional_secret<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<SecretString>, D::Error> {
    Option::<String>::deserialize(d).map(|s| s.map(SecretString::from))
}

/// `MatchBy` as stored and shown.
pub fn match_by_name(m: MatchBy) -> &'static str {
    match m {
        MatchBy::UserName => "userName",
        MatchBy::Email => "email",
        MatchBy::ExternalId => "externalId",
    }
}

/// Parses a stored or requested `match_by`.
pub fn parse_match_by(s: &str) -> Option<MatchBy> {
    match s {
        "userName" => Some(MatchBy::UserName),
        "email" => Some(MatchBy::Email),
        "externalId" => Some(MatchBy::ExternalId),
        _ => None,
    }
}

fn invalid(m: impl Into<String>) -> AdminError {
    AdminError::Invalid(m.into())
}

fn not_found(id: &OidcConnectionId) -> AdminError {
    connections::not_found::<OidcConnections>(id)
}

/// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
fn valid_scope(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

fn check_scopes(scopes: &[String]) -> Result<String, AdminError> {
    let mut out: Vec<&str> = Vec::new();
    for s in scopes {
        if !valid_scope(s) {
            return Err(invalid(format!(
                "scope {s:?} is not a valid OAuth scope (RFC 6749 §3.3: no spaces, quotes or backslashes)"
            )));
        }
        if s != "openid" && !out.contains(&s.as_str()) {
            out.push(s);
        }
    }
    Ok(out.join(" "))
}

fn check_issuer(issuer: &str) -> Result<String, AdminError> {
    let issuer = issuer.trim();
    let url = openidconnect::url::Url::parse(issuer)
        .map_err(|e| invalid(format!("issuer {issuer:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(format!(
            "issuer {issuer:?} must be an http:// or https:// URL"
        )));
    }
    // OIDC Discovery §2: the issuer has no query or fragment.
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(format!(
            "issuer {issuer:?} must not have a query or fragment"
        )));
    }
    Ok(issuer.to_owned())
}

fn check_claim(claim: &str) -> Result<String, AdminError> {
    let claim = claim.trim();
    if claim.is_empty()
        || claim.len() > 100
        || !claim
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.:/".contains(c))
    {
        return Err(invalid(format!(
            "claim {claim:?} is not a claim name (e.g. \"email\", \"sub\", \"preferred_username\")"
        )));
    }
    Ok(claim.to_owned())
}

fn check_text(what: &str, value: &str) -> Result<String, AdminError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(format!("{what} must not be empty")));
    }
    Ok(value.to_owned())
}

fn default_match_by(claim: &str) -> MatchBy {
    match claim {
        "email" => MatchBy::Email,
        "sub" => MatchBy::ExternalId,
        _ => MatchBy::UserName,
    }
}

fn check_match_by(s: &str) -> Result<String, AdminError> {
    parse_match_by(s)
        .map(|m| match_by_name(m).to_owned())
        .ok_or_else(|| {
            invalid(format!(
                "match_by {s:?} is not one of \"userName\", \"email\", \"externalId\""
            ))
        })
}

impl Oidc {
    /// The redirect URI of every connection: one callback for all orgs (the state says
    /// which login it finishes).
    pub fn redirect_uri(&self) -> String {
        format!("{}/sso/oidc/callback", self.public_base_url)
    }

    fn view(&self, c: &OidcConnectionRow) -> OidcConnectionView {
        OidcConnectionView {
            id: c.id.clone(),
            name: c.name.clone(),
            issuer: c.issuer.clone(),
            client_id: c.client_id.clone(),
            scopes: c.scopes.split_whitespace().map(str::to_owned).collect(),
            use_userinfo: c.use_userinfo,
            claim: c.claim.clone(),
            match_by: c.match_by.clone(),
            jit: c.jit,
            enabled: c.enabled,
            redirect_uri: self.redirect_uri(),
            sign_in_url: format!(
                "{}/sso/{}/start?connection={}",
                self.public_base_url, c.org_id, c.id
            ),
            created: c.created.to_string(),
            updated: c.updated.to_string(),
        }
    }

    /// Fetches the issuer's discovery document and checks it offers what we need; the
    /// admin reads the reason when it does not.
    async fn validate_issuer(&self, issuer: &str) -> Result<(), AdminError> {
        discover(&self.http, issuer).await.map(|_| ()).map_err(|e| {
            invalid(format!(
                "the issuer's OpenID Connect discovery failed: {e}; check the issuer URL \
                 (its /.well-known/openid-configuration must be reachable from this server)"
            ))
        })
    }
}

/// OIDC connections, in `oidc_connections`.
#[derive(Debug, Clone, Copy)]
pub struct OidcConnections;

impl ConnectionKind for OidcConnections {
    type Id = OidcConnectionId;
    type Row = OidcConnectionRow;
    type View = OidcConnectionView;
    const NAME: &'static str = "oidc_connection";
    const LABEL: &'static str = "OIDC";

    async fn list(tx: &mut Tx, org_id: &OrgId) -> Result<Vec<OidcConnectionRow>, StoreError> {
        sso_oidc::list_connections(tx, org_id).await
    }

    async fn get(
        tx: &mut Tx,
        org_id: &OrgId,
        id: &OidcConnectionId,
    ) -> Result<Option<OidcConnectionRow>, StoreError> {
        sso_oidc::get_connection(tx, org_id, id).await
    }

    async fn delete(
        tx: &mut Tx,
        org_id: &OrgId,
        id: &OidcConnectionId,
    ) -> Result<bool, StoreError> {
        sso_oidc::delete_connection(tx, org_id, id).await
    }

    fn view(sso: &Sso, row: &OidcConnectionRow) -> Result<OidcConnectionView, AdminError> {
        Ok(sso.oidc.view(row))
    }
}

impl Sso {
    /// Creates a connection once the issuer's discovery succeeded.
    pub async fn create_oidc_connection(
        &self,
        actor: &AdminActor,
        new: NewOidcConnection,
    ) -> Result<OidcConnectionView, AdminError> {
        let issuer = check_issuer(&new.issuer)?;
        let client_id = check_text("client_id", &new.client_id)?;
        let secret = check_text("client_secret", new.client_secret.expose_secret())?;
        let scopes = check_scopes(
            &new.scopes
                .unwrap_or_else(|| vec!["email".to_owned(), "profile".to_owned()]),
        )?;
        let claim = check_claim(new.claim.as_deref().unwrap_or("email"))?;
        let match_by = match &new.match_by {
            Some(m) => check_match_by(m)?,
            None => match_by_name(default_match_by(&claim)).to_owned(),
        };
        let name = match &new.name {
            Some(n) => check_text("name", n)?,
            None => openidconnect::url::Url::parse(&issuer)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_else(|| issuer.clone()),
        };
        // Network I/O before the transaction: never hold the write lock while an IdP answers.
        self.oidc.validate_issuer(&issuer).await?;
        let now = Timestamp::from(self.clock.now());
        let row = OidcConnectionRow {
            id: OidcConnectionId::new_v4(),
            org_id: actor.org_id.clone(),
            name,
            issuer,
            client_id,
            client_secret: SecretString::from(secret.clone()),
            scopes,
            use_userinfo: new.use_userinfo.unwrap_or(false),
            claim,
            match_by,
            jit: new.jit.unwrap_or(false),
            enabled: new.enabled.unwrap_or(true),
            created: now.clone(),
            updated: now.clone(),
        };
        let view = self.oidc.view(&row);
        let mut tx = self.store.write().await?;
        sso_oidc::insert_connection(&mut tx, &row, &secret).await?;
        record_change::<OidcConnections>(
            &mut tx,
            actor,
            &now,
            Change::Created,
            &row.id,
            None,
            Some(&view),
        )
        .await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Changes a connection; a new issuer is checked by discovery first.
    pub async fn update_oidc_connection(
        &self,
        actor: &AdminActor,
        id: &OidcConnectionId,
        update: OidcConnectionUpdate,
    ) -> Result<OidcConnectionView, AdminError> {
        let current = {
            let mut tx = self.store.read().await?;
            sso_oidc::get_connection(&mut tx, &actor.org_id, id)
                .await?
                .ok_or_else(|| not_found(id))?
        };
        let mut next = current.clone();
        if let Some(n) = &update.name {
            next.name = check_text("name", n)?;
        }
        if let Some(i) = &update.issuer {
            next.issuer = check_issuer(i)?;
        }
        if let Some(c) = &update.client_id {
            next.client_id = check_text("client_id", c)?;
        }
        if let Some(s) = &update.client_secret {
            next.client_secret =
                SecretString::from(check_text("client_secret", s.expose_secret())?);
        }
        if let Some(s) = &update.scopes {
            next.scopes = check_scopes(s)?;
        }
        if let Some(u) = update.use_userinfo {
            next.use_userinfo = u;
        }
        if let Some(c) = &update.claim {
            next.claim = check_claim(c)?;
        }
        if let Some(m) = &update.match_by {
            next.match_by = check_match_by(m)?;
        }
        if let Some(j) = update.jit {
            next.jit = j;
        }
        if let Some(e) = update.enabled {
            next.enabled = e;
        }
        if next.issuer != current.issuer {
            self.oidc.validate_issuer(&next.issuer).await?;
        }
        let now = Timestamp::from(self.clock.now());
        next.updated = now.clone();
        let mut tx = self.store.write().await?;
        let secret = next.client_secret.expose_secret().to_owned();
        if !sso_oidc::update_connection(&mut tx, &next, &secret).await? {
            return Err(not_found(id));
        }
        let mut after = self.oidc.view(&next);
        let before = self.oidc.view(&current);
        record_change::<OidcConnections>(
            &mut tx,
            actor,
            &now,
            Change::Updated,
            id,
            Some(&before),
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        after.updated = now.into_string();
        Ok(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_follow_rfc_6749_and_openid_is_implied() {
        assert_eq!(
            check_scopes(&[
                "openid".into(),
                "email".into(),
                "email".into(),
                "groups".into()
            ])
            .unwrap(),
            "email groups"
        );
        assert!(check_scopes(&["two words".into()]).is_err());
        assert!(check_scopes(&["quo\"te".into()]).is_err());
        assert!(check_scopes(&[String::new()]).is_err());
    }

    #[test]
    fn issuers_are_http_urls_without_query() {
        assert!(check_issuer("https://login.example.com/tenant/v2.0").is_ok());
        assert!(check_issuer("http://127.0.0.1:4000").is_ok());
        assert!(check_issuer("ftp://example.com").is_err());
        assert!(check_issuer("not a url").is_err());
        assert!(check_issuer("https://example.com/?tenant=1").is_err());
    }
}
