//! SAML 2.0 service provider (issue 4): per-connection SP metadata, SP-initiated sign-in
//! (AuthnRequest over the HTTP-Redirect binding, its id remembered in the database) and
//! the Assertion Consumer Service (HTTP-POST binding), which verifies the Response
//! ([`response`]), consumes the request it answers and the assertion's ID in one
//! transaction, and hands the identity to [`crate::sso::signin::sign_in`].
//!
//! Our entity id and ACS URL derive from the public base URL, per connection:
//! `{base}/sso/saml/{connection_id}/metadata` (the entity id) and `.../acs`.

pub mod connections;
#[cfg(test)]
mod fuzz;
pub mod response;

pub use connections::{
    MatchField, NewSamlConnection, SamlConnectionUpdate, SamlConnectionView, SamlConnections,
};
pub use response::Rejected;

use super::Sso;
use super::signin::{self, JitProfile, Refusal, SignInMethod, SignedIn, VerifiedLogin};
use crate::clock::format_timestamp;
use crate::domain::ids::SamlConnectionId;
use crate::store::StoreError;
use crate::store::sso_saml::{self, SamlConnection};
use time::{Duration, OffsetDateTime};

/// How long an AuthnRequest may wait for its Response.
pub const REQUEST_TTL: Duration = Duration::minutes(10);

/// The HTTP-POST binding, where our ACS listens.
const POST_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// Our side of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpUrls {
    /// Our entity id: the metadata URL.
    pub entity_id: String,
    pub acs_url: String,
    pub metadata_url: String,
    pub start_url: String,
}

/// The SP URLs of connection `id` under `base` (no trailing slash).
pub fn sp_urls(base: &str, id: &str) -> SpUrls {
    let base = base.trim_end_matches('/');
    let prefix = format!("{base}/sso/saml/{id}");
    SpUrls {
        entity_id: format!("{prefix}/metadata"),
        acs_url: format!("{prefix}/acs"),
        metadata_url: format!("{prefix}/metadata"),
        start_url: format!("{prefix}/start"),
    }
}

/// Why a SAML sign-in did not happen. Messages are for the person; none carries the
/// assertion.
#[derive(Debug, thiserror::Error)]
pub enum SamlError {
    #[error("There is no SAML connection {0:?}.")]
    NoConnection(String),
    #[error("This organization has no enabled SAML connection.")]
    NoOrgConnection,
    #[error("This SAML connection is disabled; ask your IT admin.")]
    Disabled,
    #[error(transparent)]
    Rejected(#[from] Rejected),
    #[error(
        "This sign-in does not answer a request we sent, or the request expired or was already used; start the sign-in again."
    )]
    UnknownRequest,
    #[error(
        "Sign-in started at the identity provider is not enabled for this connection; start the sign-in from the application."
    )]
    Unsolicited,
    #[error("This SAML assertion was already used; sign in again.")]
    Replayed,
    #[error("The SAML assertion does not carry {0}, which identifies you for this connection.")]
    NoIdentity(String),
    #[error(transparent)]
    SignIn(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Our fault; logged, not shown.
    #[error("{0}")]
    Internal(String),
}

async fn connection(sso: &Sso, id: &str) -> Result<SamlConnection, SamlError> {
    let mut tx = sso.store.read().await?;
    let c = sso_saml::find_connection(&mut tx, &SamlConnectionId::from(id))
        .await?
        .ok_or_else(|| SamlError::NoConnection(id.to_owned()))?;
    if !c.enabled {
        return Err(SamlError::Disabled);
    }
    Ok(c)
}

impl Sso {
    fn sp(&self, connection_id: &str) -> Result<SpUrls, SamlError> {
        if self.public_base_url.is_empty() {
            return Err(SamlError::Internal(
                "the public base URL is not set on Sso".into(),
            ));
        }
        Ok(sp_urls(&self.public_base_url, connection_id))
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Our SP metadata for connection `connection_id` (saml-metadata §2.4.4).
///
/// `WantAssertionsSigned="false"` because a signed Response alone is accepted (its
/// signature covers the assertion inside), as is a signed assertion in an unsigned
/// Response: Okta signs either as configured, Entra signs the assertion by default, and
/// some IdPs sign only the Response. Saying "true" while accepting a Response-only
/// signature would promise what the ACS does not enforce. Something is always signed:
/// an unsigned Response with an unsigned assertion is refused.
pub async fn metadata(sso: &Sso, connection_id: &str) -> Result<String, SamlError> {
    let mut tx = sso.store.read().await?;
    // Served for disabled connections too: an admin sets up the IdP before enabling.
    sso_saml::find_connection(&mut tx, &SamlConnectionId::from(connection_id))
        .await?
        .ok_or_else(|| SamlError::NoConnection(connection_id.to_owned()))?;
    drop(tx);
    let urls = sso.sp(connection_id)?;
    Ok(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}">
  <md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:AssertionConsumerService Binding="{POST_BINDING}" Location="{acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#,
        entity = escape(&urls.entity_id),
        acs = escape(&urls.acs_url),
    ))
}

/// A request id: saml-core §1.3.4 wants 128 bits of randomness; an xs:ID starts with a
/// letter or underscore.
fn new_request_id() -> Result<String, SamlError> {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).map_err(|e| SamlError::Internal(format!("random: {e}")))?;
    Ok(format!("_{}", hex::encode(bytes)))
}

fn chrono_time(t: OffsetDateTime) -> Result<chrono::DateTime<chrono::Utc>, SamlError> {
    chrono::DateTime::from_timestamp(t.unix_timestamp(), 0)
        .ok_or_else(|| SamlError::Internal("time out of range".into()))
}

/// Starts an SP-initiated sign-in on connection `connection_id`: remembers a new
/// AuthnRequest and returns the IdP URL (HTTP-Redirect binding, saml-bindings §3.4) to
/// send the browser to. `relay_state` (at most 80 bytes, §3.4.3) comes back to the ACS.
pub async fn start(
    sso: &Sso,
    connection_id: &str,
    relay_state: Option<&str>,
) -> Result<String, SamlError> {
    let c = connection(sso, connection_id).await?;
    start_on(sso, &c, relay_state).await
}

/// As [`start`], on a connection already read (the org-level start chose it).
pub(crate) async fn start_on(
    sso: &Sso,
    c: &SamlConnection,
    relay_state: Option<&str>,
) -> Result<String, SamlError> {
    let urls = sso.sp(c.id.as_str())?;
    let now = sso.clock.now();
    let id = new_request_id()?;
    let request = samael::schema::AuthnRequest {
        id: id.clone(),
        version: "2.0".into(),
        issue_instant: chrono_time(now)?,
        destination: Some(c.idp_sso_url.clone()),
        issuer: Some(samael::schema::Issuer {
            value: Some(urls.entity_id.clone()),
            ..samael::schema::Issuer::default()
        }),
        assertion_consumer_service_url: Some(urls.acs_url.clone()),
        protocol_binding: Some(POST_BINDING.into()),
        ..samael::schema::AuthnRequest::default()
    };
    let url = request
        .redirect(relay_state.unwrap_or_default())
        .map_err(|e| SamlError::Internal(format!("AuthnRequest: {e}")))?
        .ok_or_else(|| SamlError::Internal("AuthnRequest without destination".into()))?;
    let mut tx = sso.store.write().await?;
    sso_saml::insert_request(
        &mut tx,
        c,
        &id,
        &format_timestamp(now),
        &format_timestamp(now + REQUEST_TTL),
    )
    .await?;
    tx.commit().await?;
    Ok(url.to_string())
}

/// The ACS: verifies `saml_response` (the POST binding's base64 form field) for
/// connection `connection_id` and signs the user in.
pub async fn consume(
    sso: &Sso,
    connection_id: &str,
    saml_response: &str,
) -> Result<SignedIn, SamlError> {
    let c = connection(sso, connection_id).await?;
    let urls = sso.sp(c.id.as_str())?;
    let certificates =
        connections::certificates_der(&c.idp_certificate).map_err(SamlError::Internal)?;
    let xml = response::decode_base64(saml_response)?;
    let now = sso.clock.now();
    let (entity_id, acs_url, idp, allow_sha1) = (
        urls.entity_id.clone(),
        urls.acs_url.clone(),
        c.idp_entity_id.clone(),
        c.allow_sha1,
    );
    // libxml2/xmlsec work is CPU-bound: off the async workers.
    let verified = tokio::task::spawn_blocking(move || {
        response::verify(
            &xml,
            &response::Expected {
                idp_entity_id: &idp,
                certificates: &certificates,
                allow_sha1,
                entity_id: &entity_id,
                acs_url: &acs_url,
                now,
            },
        )
    })
    .await
    .map_err(|e| SamlError::Internal(format!("verification task: {e}")))??;

    let value = identity(&c, &verified)?;
    if verified.in_response_to.is_none() && !c.allow_idp_initiated {
        return Err(SamlError::Unsolicited);
    }
    // The request it answers and the assertion ID are consumed together: a replay, or a
    // second answer to the same request, fails on any process sharing the database.
    let stamp = format_timestamp(now);
    let mut tx = sso.store.write().await?;
    sso_saml::purge_expired(&mut tx, &stamp).await?;
    if let Some(request_id) = &verified.in_response_to
        && !sso_saml::take_request(&mut tx, &c.id, request_id, &stamp).await?
    {
        return Err(SamlError::UnknownRequest);
    }
    if !sso_saml::insert_assertion(
        &mut tx,
        &c,
        &verified.assertion_id,
        &format_timestamp(verified.expires_at),
    )
    .await?
    {
        return Err(SamlError::Replayed);
    }
    tx.commit().await?;

    let match_by = MatchField::parse(&c.match_by).map_err(SamlError::Internal)?;
    let login = VerifiedLogin {
        org_id: c.org_id.clone(),
        method: SignInMethod::Saml {
            connection_id: c.id.clone().into_string(),
        },
        match_by: match_by.match_by(),
        jit: c.jit.then(|| jit_profile(&value, &verified)),
        value,
    };
    Ok(signin::sign_in(sso, login).await?)
}

/// The identifying value: the NameID, or the configured attribute's first value.
fn identity(c: &SamlConnection, v: &response::VerifiedAssertion) -> Result<String, SamlError> {
    match &c.identity_attribute {
        None => v
            .name_id
            .clone()
            .ok_or_else(|| SamlError::NoIdentity("a NameID".into())),
        Some(name) => attribute(v, &[name.as_str()])
            .ok_or_else(|| SamlError::NoIdentity(format!("the attribute {name:?}"))),
    }
}

fn attribute(v: &response::VerifiedAssertion, names: &[&str]) -> Option<String> {
    v.attributes
        .iter()
        .find(|a| {
            names
                .iter()
                .any(|n| a.name == *n || a.friendly_name.as_deref() == Some(*n))
        })
        .and_then(|a| a.values.iter().find(|v| !v.is_empty()).cloned())
}

const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
const PERSISTENT_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";

/// A just-in-time profile from the usual attribute names (Okta's `email`/`firstName`,
/// Entra's claim URIs, the LDAP OIDs of eduPerson/InCommon).
fn jit_profile(value: &str, v: &response::VerifiedAssertion) -> JitProfile {
    let email = attribute(
        v,
        &[
            "email",
            "mail",
            "urn:oid:0.9.2342.19200300.100.1.3",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        ],
    )
    .or_else(|| {
        (v.name_id_format.as_deref() == Some(EMAIL_FORMAT))
            .then(|| v.name_id.clone())
            .flatten()
    });
    JitProfile {
        user_name: value.to_owned(),
        email,
        given_name: attribute(
            v,
            &[
                "givenName",
                "firstName",
                "urn:oid:2.5.4.42",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
            ],
        ),
        family_name: attribute(
            v,
            &[
                "sn",
                "surname",
                "lastName",
                "urn:oid:2.5.4.4",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
            ],
        ),
        external_id: (v.name_id_format.as_deref() == Some(PERSISTENT_FORMAT))
            .then(|| v.name_id.clone())
            .flatten(),
    }
}
