//! SAML connections as the admin API manages them: the IdP's entity id, SSO URL and
//! signing certificate (given, or read from the IdP's metadata XML), and how a verified
//! assertion finds its user. A connection without a certificate is refused: samael skips
//! signature verification when it has no IdP signing key.

use super::{SpUrls, sp_urls};
use crate::domain::OrgId;
use crate::domain::ids::SamlConnectionId;
use crate::domain::time::Timestamp;
use crate::provisioning::admin::{AdminActor, AdminError};
use crate::sso::Sso;
use crate::sso::connections::{self, Change, ConnectionKind, record_change};
use crate::sso::signin::MatchBy;
use crate::store::{StoreError, Tx, sso_saml};
use serde::{Deserialize, Deserializer, Serialize};

const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/// Which of our user attributes the identifying value is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchField {
    /// `userName`, case-insensitively.
    UserName,
    /// Any of the user's emails, case-insensitively.
    Email,
    /// `externalId`, exactly.
    ExternalId,
}

impl MatchField {
    fn as_str(self) -> &'static str {
        match self {
            MatchField::UserName => "user_name",
            MatchField::Email => "email",
            MatchField::ExternalId => "external_id",
        }
    }

    pub(super) fn parse(s: &str) -> Result<MatchField, String> {
        match s {
            "user_name" => Ok(MatchField::UserName),
            "email" => Ok(MatchField::Email),
            "external_id" => Ok(MatchField::ExternalId),
            other => Err(format!("stored match_by {other:?}")),
        }
    }

    /// The sign-in door's name for it.
    pub fn match_by(self) -> MatchBy {
        match self {
            MatchField::UserName => MatchBy::UserName,
            MatchField::Email => MatchBy::Email,
            MatchField::ExternalId => MatchBy::ExternalId,
        }
    }
}

/// A SAML connection as an admin sees it, with the values to give the IdP.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SamlConnectionView {
    #[schema(value_type = String)]
    pub id: SamlConnectionId,
    pub idp_entity_id: String,
    /// Where sign-ins start (HTTP-Redirect binding).
    pub idp_sso_url: String,
    /// The IdP's signing certificate(s), PEM.
    pub idp_certificate: String,
    pub allow_sha1: bool,
    pub allow_idp_initiated: bool,
    /// The attribute that identifies the user; null: the NameID.
    pub identity_attribute: Option<String>,
    pub match_by: MatchField,
    /// Create unknown users on first sign-in (through the provisioning rules).
    pub jit: bool,
    pub enabled: bool,
    /// Our entity id (the audience the IdP must put in its assertions).
    pub sp_entity_id: String,
    /// Our Assertion Consumer Service URL (HTTP-POST binding).
    pub acs_url: String,
    /// Our SP metadata.
    pub metadata_url: String,
    /// Where a browser starts an SP-initiated sign-in.
    pub start_url: String,
    pub created: String,
    pub updated: String,
}

/// A connection to create: `idp_metadata_xml`, or `idp_entity_id`, `idp_sso_url` and
/// `idp_certificate` (explicit fields win over the metadata's).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSamlConnection {
    /// The IdP's metadata (an EntityDescriptor with an IDPSSODescriptor).
    pub idp_metadata_xml: Option<String>,
    pub idp_entity_id: Option<String>,
    pub idp_sso_url: Option<String>,
    /// PEM; required (here or in the metadata).
    pub idp_certificate: Option<String>,
    /// Default false: SHA-1 signatures are refused.
    pub allow_sha1: Option<bool>,
    /// Default false: only responses to our own requests are accepted.
    pub allow_idp_initiated: Option<bool>,
    /// Default null: the NameID identifies the user.
    pub identity_attribute: Option<String>,
    /// Default `email`.
    pub match_by: Option<MatchField>,
    /// Default false.
    pub jit: Option<bool>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// Changes to a connection; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SamlConnectionUpdate {
    pub idp_metadata_xml: Option<String>,
    pub idp_entity_id: Option<String>,
    pub idp_sso_url: Option<String>,
    pub idp_certificate: Option<String>,
    pub allow_sha1: Option<bool>,
    pub allow_idp_initiated: Option<bool>,
    /// An attribute name, or null for the NameID.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub identity_attribute: Option<Option<String>>,
    pub match_by: Option<MatchField>,
    pub jit: Option<bool>,
    pub enabled: Option<bool>,
}

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn invalid(m: impl Into<String>) -> AdminError {
    AdminError::Invalid(m.into())
}

fn not_found(id: &SamlConnectionId) -> AdminError {
    connections::not_found::<SamlConnections>(id)
}

/// What the IdP's metadata says.
#[derive(Debug, Default, PartialEq, Eq)]
struct IdpMetadata {
    entity_id: Option<String>,
    sso_url: Option<String>,
    certificates: Vec<String>,
}

fn parse_metadata(xml: &str) -> Result<IdpMetadata, AdminError> {
    let doc = roxmltree::Document::parse(xml)
        .map_err(|e| invalid(format!("idp_metadata_xml is not well-formed XML: {e}")))?;
    let is = |n: &roxmltree::Node<'_, '_>, ns: &str, name: &str| {
        n.is_element() && n.tag_name().namespace() == Some(ns) && n.tag_name().name() == name
    };
    let entities: Vec<_> = doc
        .descendants()
        .filter(|n| {
            is(n, MD, "EntityDescriptor") && n.children().any(|c| is(&c, MD, "IDPSSODescriptor"))
        })
        .collect();
    let [entity] = entities.as_slice() else {
        return Err(invalid(
            "idp_metadata_xml must hold exactly one EntityDescriptor with an IDPSSODescriptor",
        ));
    };
    let mut found = IdpMetadata {
        entity_id: entity.attribute("entityID").map(ToOwned::to_owned),
        ..IdpMetadata::default()
    };
    for idp in entity.children().filter(|c| is(c, MD, "IDPSSODescriptor")) {
        for key in idp.children().filter(|c| is(c, MD, "KeyDescriptor")) {
            // saml-metadata §2.4.1.1: no `use` means signing and encryption.
            if key.attribute("use").is_some_and(|u| u != "signing") {
                continue;
            }
            for cert in key.descendants().filter(|c| is(c, DS, "X509Certificate")) {
                found
                    .certificates
                    .push(cert.text().unwrap_or_default().to_owned());
            }
        }
        if found.sso_url.is_none() {
            found.sso_url = idp
                .children()
                .find(|c| {
                    is(c, MD, "SingleSignOnService")
                        && c.attribute("Binding") == Some(REDIRECT_BINDING)
                })
                .and_then(|c| c.attribute("Location").map(ToOwned::to_owned));
        }
    }
    Ok(found)
}

/// The certificates of a PEM text, checked; returned as normalised PEM.
fn certificate_pem(pem: &str) -> Result<String, AdminError> {
    let certs = openssl::x509::X509::stack_from_pem(pem.trim().as_bytes()).map_err(|_| {
        invalid("idp_certificate is not a PEM certificate (-----BEGIN CERTIFICATE-----)")
    })?;
    normalise(certs)
}

fn certificate_from_base64(b64: &[String]) -> Result<String, AdminError> {
    use base64::Engine as _;
    let mut certs = Vec::new();
    for text in b64 {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|_| invalid("an X509Certificate of the metadata is not base64"))?;
        certs.push(
            openssl::x509::X509::from_der(&der)
                .map_err(|_| invalid("an X509Certificate of the metadata is not a certificate"))?,
        );
    }
    normalise(certs)
}

fn normalise(certs: Vec<openssl::x509::X509>) -> Result<String, AdminError> {
    if certs.is_empty() {
        return Err(invalid("idp_certificate holds no certificate"));
    }
    let mut out = String::new();
    for cert in certs {
        let key = cert
            .public_key()
            .map_err(|_| invalid("the certificate's public key cannot be read"))?;
        let id = key.id();
        if id != openssl::pkey::Id::RSA && id != openssl::pkey::Id::EC {
            return Err(invalid("the certificate's key must be RSA or EC"));
        }
        let pem = cert
            .to_pem()
            .map_err(|e| AdminError::Internal(format!("encode certificate: {e}")))?;
        out.push_str(&String::from_utf8_lossy(&pem));
    }
    Ok(out)
}

/// The DER certificates of a stored PEM text (what signatures are checked against).
pub fn certificates_der(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    openssl::x509::X509::stack_from_pem(pem.as_bytes())
        .map_err(|e| format!("stored certificate: {e}"))?
        .iter()
        .map(|c| c.to_der().map_err(|e| format!("stored certificate: {e}")))
        .collect()
}

fn check_url(url: &str) -> Result<String, AdminError> {
    let parsed = url::Url::parse(url.trim())
        .map_err(|_| invalid(format!("idp_sso_url {url:?} is not an absolute URL")))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(invalid("idp_sso_url must be an http(s) URL"));
    }
    Ok(parsed.to_string())
}

fn check_entity_id(id: &str) -> Result<String, AdminError> {
    let id = id.trim();
    if id.is_empty() || id.len() > 1024 {
        return Err(invalid("idp_entity_id must be 1 to 1024 characters"));
    }
    Ok(id.to_owned())
}

fn check_attribute(a: Option<String>) -> Result<Option<String>, AdminError> {
    match a.map(|a| a.trim().to_owned()) {
        Some(a) if a.is_empty() || a.len() > 1024 => Err(invalid(
            "identity_attribute must be an attribute name, or null for the NameID",
        )),
        other => Ok(other),
    }
}

/// IdP settings from metadata and/or explicit fields; the certificate is required.
fn idp_settings(
    metadata: Option<&str>,
    entity_id: Option<String>,
    sso_url: Option<String>,
    certificate: Option<String>,
    current: Option<&sso_saml::SamlConnection>,
) -> Result<(String, String, String), AdminError> {
    let meta = metadata
        .map(parse_metadata)
        .transpose()?
        .unwrap_or_default();
    let entity_id = entity_id
        .or(meta.entity_id)
        .or_else(|| current.map(|c| c.idp_entity_id.clone()))
        .ok_or_else(|| invalid("idp_entity_id is required (or idp_metadata_xml)"))?;
    let sso_url = sso_url
        .or(meta.sso_url)
        .or_else(|| current.map(|c| c.idp_sso_url.clone()))
        .ok_or_else(|| {
            invalid("idp_sso_url is required (or idp_metadata_xml with an HTTP-Redirect SingleSignOnService)")
        })?;
    let certificate = match (certificate, meta.certificates.is_empty()) {
        (Some(pem), _) => certificate_pem(&pem)?,
        (None, false) => certificate_from_base64(&meta.certificates)?,
        (None, true) => match current {
            Some(c) if metadata.is_none() => c.idp_certificate.clone(),
            _ => {
                return Err(invalid(
                    "idp_certificate is required: the IdP's signing certificate (PEM), or \
                     idp_metadata_xml with a signing KeyDescriptor. Without it no signature \
                     could be checked.",
                ));
            }
        },
    };
    Ok((
        check_entity_id(&entity_id)?,
        check_url(&sso_url)?,
        certificate,
    ))
}

fn view(c: &sso_saml::SamlConnection, urls: &SpUrls) -> Result<SamlConnectionView, AdminError> {
    Ok(SamlConnectionView {
        id: c.id.clone(),
        idp_entity_id: c.idp_entity_id.clone(),
        idp_sso_url: c.idp_sso_url.clone(),
        idp_certificate: c.idp_certificate.clone(),
        allow_sha1: c.allow_sha1,
        allow_idp_initiated: c.allow_idp_initiated,
        identity_attribute: c.identity_attribute.clone(),
        match_by: MatchField::parse(&c.match_by).map_err(AdminError::Internal)?,
        jit: c.jit,
        enabled: c.enabled,
        sp_entity_id: urls.entity_id.clone(),
        acs_url: urls.acs_url.clone(),
        metadata_url: urls.metadata_url.clone(),
        start_url: urls.start_url.clone(),
        created: c.created.to_string(),
        updated: c.updated.to_string(),
    })
}

/// SAML connections, in `saml_connections`.
#[derive(Debug, Clone, Copy)]
pub struct SamlConnections;

impl ConnectionKind for SamlConnections {
    type Id = SamlConnectionId;
    type Row = sso_saml::SamlConnection;
    type View = SamlConnectionView;
    const NAME: &'static str = "saml_connection";
    const LABEL: &'static str = "SAML";

    async fn list(
        tx: &mut Tx,
        org_id: &OrgId,
    ) -> Result<Vec<sso_saml::SamlConnection>, StoreError> {
        sso_saml::list_connections(tx, org_id).await
    }

    async fn get(
        tx: &mut Tx,
        org_id: &OrgId,
        id: &SamlConnectionId,
    ) -> Result<Option<sso_saml::SamlConnection>, StoreError> {
        sso_saml::get_connection(tx, org_id, id).await
    }

    async fn delete(
        tx: &mut Tx,
        org_id: &OrgId,
        id: &SamlConnectionId,
    ) -> Result<bool, StoreError> {
        sso_saml::delete_connection(tx, org_id, id).await
    }

    fn view(sso: &Sso, row: &sso_saml::SamlConnection) -> Result<SamlConnectionView, AdminError> {
        view(row, &sso.urls(&row.id))
    }
}

impl Sso {
    fn urls(&self, id: &SamlConnectionId) -> SpUrls {
        sp_urls(&self.public_base_url, id.as_str())
    }

    /// Creates a connection; refused without a signing certificate.
    pub async fn create_saml_connection(
        &self,
        actor: &AdminActor,
        new: NewSamlConnection,
    ) -> Result<SamlConnectionView, AdminError> {
        let (idp_entity_id, idp_sso_url, idp_certificate) = idp_settings(
            new.idp_metadata_xml.as_deref(),
            new.idp_entity_id,
            new.idp_sso_url,
            new.idp_certificate,
            None,
        )?;
        let now = Timestamp::from(self.clock.now());
        let c = sso_saml::SamlConnection {
            id: SamlConnectionId::new_v4(),
            org_id: actor.org_id.clone(),
            idp_entity_id,
            idp_sso_url,
            idp_certificate,
            allow_sha1: new.allow_sha1.unwrap_or(false),
            allow_idp_initiated: new.allow_idp_initiated.unwrap_or(false),
            identity_attribute: check_attribute(new.identity_attribute)?,
            match_by: new
                .match_by
                .unwrap_or(MatchField::Email)
                .as_str()
                .to_owned(),
            jit: new.jit.unwrap_or(false),
            enabled: new.enabled.unwrap_or(true),
            created: now.clone(),
            updated: now.clone(),
        };
        let v = view(&c, &self.urls(&c.id))?;
        let mut tx = self.store.write().await?;
        sso_saml::insert_connection(&mut tx, &c).await?;
        record_change::<SamlConnections>(
            &mut tx,
            actor,
            &now,
            Change::Created,
            &c.id,
            None,
            Some(&v),
        )
        .await?;
        tx.commit().await?;
        Ok(v)
    }

    /// Changes a connection.
    pub async fn update_saml_connection(
        &self,
        actor: &AdminActor,
        id: &SamlConnectionId,
        u: SamlConnectionUpdate,
    ) -> Result<SamlConnectionView, AdminError> {
        let now = Timestamp::from(self.clock.now());
        let mut tx = self.store.write().await?;
        let before = sso_saml::get_connection(&mut tx, &actor.org_id, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let (idp_entity_id, idp_sso_url, idp_certificate) = idp_settings(
            u.idp_metadata_xml.as_deref(),
            u.idp_entity_id,
            u.idp_sso_url,
            u.idp_certificate,
            Some(&before),
        )?;
        let after = sso_saml::SamlConnection {
            idp_entity_id,
            idp_sso_url,
            idp_certificate,
            allow_sha1: u.allow_sha1.unwrap_or(before.allow_sha1),
            allow_idp_initiated: u.allow_idp_initiated.unwrap_or(before.allow_idp_initiated),
            identity_attribute: match u.identity_attribute {
                Some(a) => check_attribute(a)?,
                None => before.identity_attribute.clone(),
            },
            match_by: u
                .match_by
                .map_or_else(|| before.match_by.clone(), |m| m.as_str().to_owned()),
            jit: u.jit.unwrap_or(before.jit),
            enabled: u.enabled.unwrap_or(before.enabled),
            updated: now.clone(),
            ..before.clone()
        };
        if !sso_saml::update_connection(&mut tx, &after).await? {
            return Err(not_found(id));
        }
        let urls = self.urls(id);
        let v = view(&after, &urls)?;
        let before = view(&before, &urls)?;
        record_change::<SamlConnections>(
            &mut tx,
            actor,
            &now,
            Change::Updated,
            id,
            Some(&before),
            Some(&v),
        )
        .await?;
        tx.commit().await?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_gives_entity_id_redirect_url_and_signing_certificates_only() {
        let xml = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>ENC</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>SIGN</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example/post"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#;
        assert_eq!(
            parse_metadata(xml).unwrap(),
            IdpMetadata {
                entity_id: Some("https://idp.example".into()),
                sso_url: Some("https://idp.example/sso".into()),
                certificates: vec!["SIGN".into()],
            }
        );
    }

    #[test]
    fn no_certificate_is_refused() {
        let err = idp_settings(
            None,
            Some("https://idp.example".into()),
            Some("https://idp.example/sso".into()),
            None,
            None,
        )
        .unwrap_err();
        assert!(matches!(err, AdminError::Invalid(m) if m.contains("idp_certificate is required")));
        assert!(matches!(
            certificate_pem("not a cert"),
            Err(AdminError::Invalid(_))
        ));
    }
}
