//! Checking a SAML Response received at the ACS (SAML 2.0 Web Browser SSO profile,
//! saml-profiles §4.1.4.3, and saml-core §2-3), without state: the stateful checks
//! (InResponseTo of a stored request, the replay cache) are the caller's.
//!
//! The order matters for signature wrapping (XSW): the raw document must hold exactly one
//! assertion, directly inside the Response; samael/xmlsec verifies every signature against
//! the connection's certificates only and hands back the canonical form of what the
//! signature covers (the bytes that were digested); every value we use is then read from
//! that verified, canonical document, never from the original one. Unsigned parts of the
//! Response (Destination, InResponseTo, Status) are only used to refuse, never to accept.
//!
//! Reading the canonical form is what makes comments and CDATA harmless: exclusive c14n
//! without comments (xmldsig-core §4.3.3, the SAML profile's transform) drops comments
//! and writes CDATA as text, so `alice@x<!---->.evil.com` is the one text
//! `alice@x.evil.com` the IdP signed, never `alice@x` (CVE-2017-11427).

use samael::crypto::ReduceMode;
use samael::crypto::{AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider as _};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// How far the IdP's clock may be off ours.
pub const CLOCK_SKEW: Duration = Duration::minutes(2);

/// The largest SAMLResponse accepted (base64 text); real ones are a few KiB.
pub const MAX_RESPONSE_LEN: usize = 512 * 1024;

const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
/// RSA-SHA256 or better (and ECDSA), as samael names them.
const STRONG: [AllowedSignatureAlgorithm; 6] = [
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// What the Response must match: the connection and our own SP identity.
#[derive(Debug)]
pub struct Expected<'a> {
    pub idp_entity_id: &'a str,
    /// DER certificates of the IdP; nothing else can vouch for a Response.
    pub certificates: &'a [Vec<u8>],
    pub allow_sha1: bool,
    /// Our entity id: the audience.
    pub entity_id: &'a str,
    /// Our ACS URL: Destination and Recipient.
    pub acs_url: &'a str,
    pub now: OffsetDateTime,
}

/// One `<Attribute>` of the verified assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlAttribute {
    pub name: String,
    pub friendly_name: Option<String>,
    pub values: Vec<String>,
}

/// What a verified assertion says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub assertion_id: String,
    /// The request this answers (None: IdP-initiated).
    pub in_response_to: Option<String>,
    pub name_id: Option<String>,
    pub name_id_format: Option<String>,
    pub attributes: Vec<SamlAttribute>,
    /// Until when the assertion could be presented: how long its ID is remembered.
    pub expires_at: OffsetDateTime,
}

/// Why a Response is refused; the messages are for the person signing in and their IT admin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("The SAML response is malformed: {0}.")]
    Malformed(String),
    #[error(
        "The SAML response is not signed. The identity provider must sign the Response or the Assertion."
    )]
    Unsigned,
    #[error(
        "The signature of the SAML response does not verify against the certificate configured for this connection."
    )]
    BadSignature,
    #[error(
        "The SAML response is signed with SHA-1, which this connection does not accept; configure the identity provider to sign with RSA-SHA256."
    )]
    Sha1,
    #[error("The SAML response uses a signature algorithm that is not accepted: {0}.")]
    Algorithm(String),
    #[error(
        "The SAML response must carry exactly one assertion, directly inside the Response (encrypted or wrapped assertions are refused)."
    )]
    AssertionCount,
    #[error("The identity provider did not sign you in (status {0}).")]
    Status(String),
    #[error(
        "The SAML response was issued by {found:?}, not by this connection's identity provider."
    )]
    Issuer { found: String },
    #[error("The SAML assertion is meant for another service (its audience is not {expected}).")]
    Audience { expected: String },
    #[error("The SAML response was sent to {found:?}, not to this service ({expected}).")]
    Destination { found: String, expected: String },
    #[error("The SAML assertion is meant for another recipient, not {expected}.")]
    Recipient { expected: String },
    #[error("The SAML assertion has expired; sign in again.")]
    Expired,
    #[error("The SAML assertion is not valid yet; check the identity provider's clock.")]
    NotYetValid,
    #[error("The SAML assertion has no bearer subject confirmation.")]
    NoBearer,
    #[error("The SAML Response and its assertion answer different requests.")]
    InResponseToMismatch,
}

fn malformed(what: impl Into<String>) -> Rejected {
    Rejected::Malformed(what.into())
}

/// Decodes the POST binding's base64 (saml-bindings §3.5.4); IdPs may wrap lines.
pub fn decode_base64(encoded: &str) -> Result<String, Rejected> {
    use base64::Engine as _;
    if encoded.len() > MAX_RESPONSE_LEN {
        return Err(malformed("it is too large"));
    }
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| malformed("SAMLResponse is not base64"))?;
    String::from_utf8(bytes).map_err(|_| malformed("it is not UTF-8 XML"))
}

type Node<'a> = roxmltree::Node<'a, 'a>;

fn is(n: &Node<'_>, ns: &str, name: &str) -> bool {
    n.is_element() && n.tag_name().namespace() == Some(ns) && n.tag_name().name() == name
}

fn child<'a>(n: &Node<'a>, ns: &str, name: &str) -> Option<Node<'a>> {
    n.children().find(|c| is(c, ns, name))
}

fn children<'a>(n: &Node<'a>, ns: &'a str, name: &'a str) -> impl Iterator<Item = Node<'a>> {
    n.children().filter(move |c| is(c, ns, name))
}

/// All the text inside `n`. The canonical form has no comments left to split a text, and
/// an IdP signing with comments kept (c14n "WithComments") still gets the whole text read,
/// not the part before the first comment (CVE-2017-11427).
fn text(n: &Node<'_>) -> String {
    n.descendants()
        .filter(roxmltree::Node::is_text)
        .filter_map(|t| t.text())
        .collect::<String>()
        .trim()
        .to_owned()
}

fn parse(xml: &str) -> Result<roxmltree::Document<'_>, Rejected> {
    // roxmltree refuses DTDs by default: no entity expansion, no external entities.
    roxmltree::Document::parse(xml).map_err(|e| malformed(format!("not well-formed XML ({e})")))
}

/// A SAML dateTime (saml-core §1.3.3: UTC; a missing "Z" is read as UTC).
fn instant(n: &Node<'_>, attribute: &str) -> Result<Option<OffsetDateTime>, Rejected> {
    let Some(v) = n.attribute(attribute) else {
        return Ok(None);
    };
    OffsetDateTime::parse(v, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&format!("{v}Z"), &Rfc3339))
        .map(Some)
        .map_err(|_| malformed(format!("{attribute} is not a date-time")))
}

/// The raw document's shape, checked before any cryptography.
struct Raw {
    assertion_id: String,
    destination: Option<String>,
    in_response_to: Option<String>,
    status: Option<String>,
    issuer: Option<String>,
}

fn check_algorithms(doc: &roxmltree::Document<'_>, allow_sha1: bool) -> Result<usize, Rejected> {
    let strong_sig = |a: &str| STRONG.iter().any(|s| s.signature_uri() == a);
    let strong_digest = |a: &str| STRONG.iter().any(|s| s.digest_uri() == a);
    let mut count = 0;
    for sig in doc.descendants().filter(|n| is(n, DS, "Signature")) {
        count += 1;
        let info = child(&sig, DS, "SignedInfo")
            .ok_or_else(|| malformed("Signature without SignedInfo"))?;
        let method = child(&info, DS, "SignatureMethod")
            .and_then(|m| m.attribute("Algorithm"))
            .ok_or_else(|| malformed("Signature without SignatureMethod"))?;
        let ok = strong_sig(method) || (allow_sha1 && method == RSA_SHA1);
        if !ok {
            return Err(if method == RSA_SHA1 {
                Rejected::Sha1
            } else {
                Rejected::Algorithm(method.to_owned())
            });
        }
        let mut references = 0;
        for r in children(&info, DS, "Reference") {
            references += 1;
            let digest = child(&r, DS, "DigestMethod")
                .and_then(|m| m.attribute("Algorithm"))
                .ok_or_else(|| malformed("Reference without DigestMethod"))?;
            if !(strong_digest(digest) || (allow_sha1 && digest == SHA1)) {
                return Err(if digest == SHA1 {
                    Rejected::Sha1
                } else {
                    Rejected::Algorithm(digest.to_owned())
                });
            }
        }
        if references == 0 {
            return Err(malformed("Signature without Reference"));
        }
    }
    Ok(count)
}

/// saml-core §5.4.2: a signature's one Reference names the signed element by its ID, and
/// an ID is an `xs:ID` (an NCName). Anything else (an empty URI for the whole document,
/// an XPointer, which the verifier would evaluate as an XPath expression) is refused
/// before any cryptography.
fn check_references(doc: &roxmltree::Document<'_>, ids: &[Option<&str>]) -> Result<(), Rejected> {
    for id in ids.iter().flatten() {
        if !is_ncname(id) {
            return Err(malformed("an ID is not an xs:ID"));
        }
    }
    for r in doc.descendants().filter(|n| is(n, DS, "Reference")) {
        let named = r
            .attribute("URI")
            .and_then(|uri| uri.strip_prefix('#'))
            .is_some_and(|id| ids.contains(&Some(id)));
        if !named {
            return Err(malformed(
                "a signature Reference does not name the Response or the assertion by its ID",
            ));
        }
    }
    Ok(())
}

/// An XML NCName, as IdPs write IDs (`_` and a GUID, `id` and digits ...): a letter or
/// `_` first, then letters, digits, `.`, `-`, `_`.
fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

fn check_raw(xml: &str, allow_sha1: bool) -> Result<Raw, Rejected> {
    let doc = parse(xml)?;
    let root = doc.root_element();
    if !is(&root, SAMLP, "Response") {
        return Err(malformed("the root element is not a samlp:Response"));
    }
    // XSW: one assertion in the whole document, in its place. Wrapped copies (before,
    // after, inside Extensions or a Signature's Object) are refused outright.
    let assertions: Vec<Node<'_>> = doc
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name().ends_with("Assertion"))
        .collect();
    let [assertion] = assertions.as_slice() else {
        return Err(Rejected::AssertionCount);
    };
    if !is(assertion, SAML, "Assertion") || assertion.parent_element() != Some(root) {
        return Err(Rejected::AssertionCount);
    }
    let assertion_id = assertion
        .attribute("ID")
        .ok_or_else(|| malformed("the assertion has no ID"))?
        .to_owned();
    if check_algorithms(&doc, allow_sha1)? == 0 {
        return Err(Rejected::Unsigned);
    }
    check_references(&doc, &[root.attribute("ID"), Some(assertion_id.as_str())])?;
    Ok(Raw {
        assertion_id,
        destination: root.attribute("Destination").map(ToOwned::to_owned),
        in_response_to: root.attribute("InResponseTo").map(ToOwned::to_owned),
        status: child(&root, SAMLP, "Status")
            .and_then(|s| child(&s, SAMLP, "StatusCode"))
            .and_then(|c| c.attribute("Value").map(ToOwned::to_owned)),
        issuer: child(&root, SAML, "Issuer").map(|i| text(&i)),
    })
}

/// Verifies every signature with the connection's certificates and returns the canonical
/// form of what they cover, as digested (samael's `PreDigest`): the signed element is the
/// root; where both the Response and its assertion are signed, the Response's.
///
/// Not samael's `ValidateAndMarkNoAncestors`: it maps the canonical form back onto the
/// parsed document node by node, and a text split by a comment or written as CDATA (which
/// c14n joins into one text) does not map, so a Response that verifies was refused.
fn verified_xml(xml: &str, e: &Expected<'_>) -> Result<String, Rejected> {
    let certificates: Vec<CertificateDer> = e
        .certificates
        .iter()
        .map(|c| CertificateDer::from(c.clone()))
        .collect();
    if certificates.is_empty() {
        // samael skips verification without certificates; never let that happen.
        return Err(Rejected::BadSignature);
    }
    // SHA-1 is allowed by our own pre-check only where the connection opts in; samael's
    // list cannot name it, so then it checks signatures without an algorithm list.
    let allowed: Option<&[AllowedSignatureAlgorithm]> =
        if e.allow_sha1 { None } else { Some(&STRONG) };
    Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        xml,
        &certificates,
        ReduceMode::PreDigest,
        allowed,
    )
    .map_err(|_| Rejected::BadSignature)
}

/// Checks a decoded SAML Response (XML text) against `e`.
pub fn verify(xml: &str, e: &Expected<'_>) -> Result<VerifiedAssertion, Rejected> {
    let raw = check_raw(xml, e.allow_sha1)?;
    let reduced = verified_xml(xml, e)?;
    let doc = parse(&reduced)?;
    let root = doc.root_element();
    let (assertion, signed_response) = if is(&root, SAMLP, "Response") {
        let mut found = children(&root, SAML, "Assertion");
        match (found.next(), found.next()) {
            (Some(a), None) => (a, Some(root)),
            _ => return Err(Rejected::AssertionCount),
        }
    } else if is(&root, SAML, "Assertion") {
        (root, None)
    } else {
        // A signature over something else (e.g. only the Issuer) vouches for nothing.
        return Err(Rejected::Unsigned);
    };
    // The verified assertion is the one in its place in the raw document.
    if assertion.attribute("ID") != Some(raw.assertion_id.as_str()) {
        return Err(Rejected::AssertionCount);
    }

    // Response level: verified when the Response is signed, else only grounds to refuse.
    let (destination, response_irt, status, response_issuer) = match signed_response {
        Some(r) => (
            r.attribute("Destination").map(ToOwned::to_owned),
            r.attribute("InResponseTo").map(ToOwned::to_owned),
            child(&r, SAMLP, "Status")
                .and_then(|s| child(&s, SAMLP, "StatusCode"))
                .and_then(|c| c.attribute("Value").map(ToOwned::to_owned)),
            child(&r, SAML, "Issuer").map(|i| text(&i)),
        ),
        None => (raw.destination, raw.in_response_to, raw.status, raw.issuer),
    };
    match &destination {
        // saml-bindings §3.5.5.2: a signed Response must carry its Destination.
        None if signed_response.is_some() => {
            return Err(Rejected::Destination {
                found: String::new(),
                expected: e.acs_url.to_owned(),
            });
        }
        Some(d) if d != e.acs_url => {
            return Err(Rejected::Destination {
                found: d.clone(),
                expected: e.acs_url.to_owned(),
            });
        }
        _ => {}
    }
    if let Some(code) = status
        && code != SUCCESS
    {
        return Err(Rejected::Status(code));
    }
    if let Some(found) = response_issuer
        && found != e.idp_entity_id
    {
        return Err(Rejected::Issuer { found });
    }

    // Assertion level, saml-profiles §4.1.4.2-3.
    let issuer = child(&assertion, SAML, "Issuer")
        .map(|i| text(&i))
        .ok_or_else(|| malformed("the assertion has no Issuer"))?;
    if issuer != e.idp_entity_id {
        return Err(Rejected::Issuer { found: issuer });
    }
    let now = e.now;
    let conditions = child(&assertion, SAML, "Conditions")
        .ok_or_else(|| malformed("the assertion has no Conditions"))?;
    let not_before = instant(&conditions, "NotBefore")?;
    let conditions_end = instant(&conditions, "NotOnOrAfter")?;
    if not_before.is_some_and(|t| now + CLOCK_SKEW < t) {
        return Err(Rejected::NotYetValid);
    }
    if conditions_end.is_some_and(|t| t + CLOCK_SKEW <= now) {
        return Err(Rejected::Expired);
    }
    // saml-profiles §4.1.4.2: the assertion MUST be restricted to our entity id; and
    // saml-core §2.5.1.4: we must be among the audiences of EVERY AudienceRestriction.
    let restrictions: Vec<Node<'_>> = children(&conditions, SAML, "AudienceRestriction").collect();
    let audience_ok = !restrictions.is_empty()
        && restrictions
            .iter()
            .all(|r| children(r, SAML, "Audience").any(|a| text(&a) == e.entity_id));
    if !audience_ok {
        return Err(Rejected::Audience {
            expected: e.entity_id.to_owned(),
        });
    }
    let subject = child(&assertion, SAML, "Subject")
        .ok_or_else(|| malformed("the assertion has no Subject"))?;
    let (confirmation_end, assertion_irt) = bearer_confirmation(&subject, e)?;
    let in_response_to = match (assertion_irt, response_irt) {
        (Some(a), Some(r)) if a != r => return Err(Rejected::InResponseToMismatch),
        (Some(a), _) => Some(a),
        // Trusted only if the Response itself is signed.
        (None, Some(r)) if signed_response.is_some() => Some(r),
        // An unsigned Response that claims to answer a request while its assertion does
        // not: refuse rather than treat it as unsolicited.
        (None, Some(_)) => return Err(Rejected::InResponseToMismatch),
        (None, None) => None,
    };
    // saml-profiles §4.1.4.2: a bearer assertion for sign-in carries an AuthnStatement.
    if child(&assertion, SAML, "AuthnStatement").is_none() {
        return Err(malformed("the assertion has no AuthnStatement"));
    }
    let name_id = child(&subject, SAML, "NameID");
    let attributes = children(&assertion, SAML, "AttributeStatement")
        .flat_map(|s| children(&s, SAML, "Attribute").collect::<Vec<_>>())
        .filter_map(|a| {
            Some(SamlAttribute {
                name: a.attribute("Name")?.to_owned(),
                friendly_name: a.attribute("FriendlyName").map(ToOwned::to_owned),
                values: children(&a, SAML, "AttributeValue")
                    .map(|v| text(&v))
                    .collect(),
            })
        })
        .collect();
    let expires_at =
        conditions_end.map_or(confirmation_end, |c| c.max(confirmation_end)) + CLOCK_SKEW;
    Ok(VerifiedAssertion {
        assertion_id: raw.assertion_id,
        in_response_to,
        name_id: name_id.as_ref().map(text).filter(|v| !v.is_empty()),
        name_id_format: name_id.and_then(|n| n.attribute("Format").map(ToOwned::to_owned)),
        attributes,
        expires_at,
    })
}

/// The bearer `<SubjectConfirmation>` (saml-profiles §4.1.4.2): Recipient is our ACS,
/// NotOnOrAfter present and not past. Returns its end and its InResponseTo.
fn bearer_confirmation(
    subject: &Node<'_>,
    e: &Expected<'_>,
) -> Result<(OffsetDateTime, Option<String>), Rejected> {
    let mut first_error = None;
    for c in children(subject, SAML, "SubjectConfirmation") {
        if c.attribute("Method") != Some(BEARER) {
            continue;
        }
        let Some(data) = child(&c, SAML, "SubjectConfirmationData") else {
            first_error.get_or_insert(Rejected::NoBearer);
            continue;
        };
        let result = check_confirmation(&data, e);
        match result {
            Ok(found) => return Ok(found),
            Err(err) => {
                first_error.get_or_insert(err);
            }
        }
    }
    Err(first_error.unwrap_or(Rejected::NoBearer))
}

fn check_confirmation(
    data: &Node<'_>,
    e: &Expected<'_>,
) -> Result<(OffsetDateTime, Option<String>), Rejected> {
    if data.attribute("Recipient") != Some(e.acs_url) {
        return Err(Rejected::Recipient {
            expected: e.acs_url.to_owned(),
        });
    }
    if instant(data, "NotBefore")?.is_some_and(|t| e.now + CLOCK_SKEW < t) {
        return Err(Rejected::NotYetValid);
    }
    let end = instant(data, "NotOnOrAfter")?
        .ok_or_else(|| malformed("SubjectConfirmationData has no NotOnOrAfter"))?;
    if end + CLOCK_SKEW <= e.now {
        return Err(Rejected::Expired);
    }
    Ok((end, data.attribute("InResponseTo").map(ToOwned::to_owned)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(now: OffsetDateTime) -> Expected<'static> {
        Expected {
            idp_entity_id: "https://idp.example",
            certificates: &[],
            allow_sha1: false,
            entity_id: "https://sp.example/metadata",
            acs_url: "https://sp.example/acs",
            now,
        }
    }

    const RESPONSE: &str = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="r1"><saml:Assertion ID="a1"/>SIG</samlp:Response>"#;

    #[test]
    fn a_response_without_signature_is_unsigned() {
        let xml = RESPONSE.replace("SIG", "");
        assert_eq!(
            verify(&xml, &expected(OffsetDateTime::now_utc())).unwrap_err(),
            Rejected::Unsigned
        );
    }

    #[test]
    fn no_certificates_never_means_no_verification() {
        let sig = r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#r1"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/></ds:Reference></ds:SignedInfo></ds:Signature>"##;
        let xml = RESPONSE.replace("SIG", sig);
        assert_eq!(
            verify(&xml, &expected(OffsetDateTime::now_utc())).unwrap_err(),
            Rejected::BadSignature
        );
    }

    #[test]
    fn sha1_is_named_when_refused() {
        let sig = r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"/><ds:Reference URI="#r1"><ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/></ds:Reference></ds:SignedInfo></ds:Signature>"##;
        let xml = RESPONSE.replace("SIG", sig);
        assert_eq!(
            verify(&xml, &expected(OffsetDateTime::now_utc())).unwrap_err(),
            Rejected::Sha1
        );
    }

    /// The verifier evaluates an XPointer reference as XPath: only `#<ID>` of the
    /// Response or the assertion is taken, and IDs are NCNames.
    #[test]
    fn references_name_the_response_or_the_assertion_by_id_and_nothing_else() {
        let with_reference = |uri: &str| {
            let sig = format!(
                r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="{uri}"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/></ds:Reference></ds:SignedInfo></ds:Signature>"##
            );
            RESPONSE.replace("SIG", &sig)
        };
        let now = OffsetDateTime::now_utc();
        for uri in ["", "#xpointer(id('a1'))", "#xpointer(/)", "#other", "r1"] {
            assert!(
                matches!(
                    verify(&with_reference(uri), &expected(now)).unwrap_err(),
                    Rejected::Malformed(m) if m.contains("Reference")
                ),
                "{uri:?}"
            );
        }
        // Named by ID, they reach the signature check (and fail it: no real signature).
        for uri in ["#r1", "#a1"] {
            assert_eq!(
                verify(&with_reference(uri), &expected(now)).unwrap_err(),
                Rejected::BadSignature,
                "{uri:?}"
            );
        }
        let quoted = with_reference("#a1").replace(r#"ID="a1""#, r#"ID="a'1""#);
        assert!(matches!(
            verify(&quoted, &expected(now)).unwrap_err(),
            Rejected::Malformed(m) if m.contains("xs:ID")
        ));
        for (id, ok) in [
            ("_8f2c-41.a", true),
            ("id123", true),
            ("1abc", false),
            ("a b", false),
            ("a)b", false),
        ] {
            assert_eq!(super::is_ncname(id), ok, "{id}");
        }
    }

    #[test]
    fn two_assertions_or_a_nested_one_are_refused_before_any_crypto() {
        let two = RESPONSE.replace("SIG", r#"<saml:Assertion ID="a2"/>"#);
        let nested = RESPONSE.replace(
            r#"<saml:Assertion ID="a1"/>SIG"#,
            r#"<samlp:Extensions><saml:Assertion ID="a1"/></samlp:Extensions>"#,
        );
        let encrypted = RESPONSE.replace(
            "<saml:Assertion ID=\"a1\"/>SIG",
            "<saml:EncryptedAssertion/>",
        );
        for xml in [two, nested, encrypted] {
            assert_eq!(
                verify(&xml, &expected(OffsetDateTime::now_utc())).unwrap_err(),
                Rejected::AssertionCount
            );
        }
    }

    #[test]
    fn text_reads_across_comments() {
        let doc =
            roxmltree::Document::parse("<NameID> admin@example.com<!---->.evil.example </NameID>")
                .unwrap();
        assert_eq!(text(&doc.root_element()), "admin@example.com.evil.example");
    }

    #[test]
    fn dtds_are_refused() {
        let xml = format!(
            "<!DOCTYPE r [<!ENTITY x \"y\">]>{}",
            RESPONSE.replace("SIG", "")
        );
        assert!(matches!(
            verify(&xml, &expected(OffsetDateTime::now_utc())).unwrap_err(),
            Rejected::Malformed(_)
        ));
    }
}
