//! The one door every sign-in goes through: a login that a protocol module has verified is
//! matched to a provisioned, active user of the org (or created just in time where the org
//! allows it), the user's memberships become `active`, and a session is opened.

/// How the person proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInMethod {
    /// The org's OIDC connection `connection_id`.
    Oidc { connection_id: String },
    /// The org's SAML connection `connection_id`.
    Saml { connection_id: String },
    /// A one-time code sent by email.
    EmailCode,
}

/// Which attribute of our users the IdP's claim is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchBy {
    /// `userName`, case-insensitively.
    UserName,
    /// Any of the user's `emails.value`, case-insensitively.
    Email,
    /// `externalId`, exactly.
    ExternalId,
}

/// What a just-in-time created user gets, from the IdP's claims.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JitProfile {
    pub user_name: String,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub external_id: Option<String>,
}

/// A login whose protocol checks passed: the IdP (or the code) vouches for `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLogin {
    pub org_id: String,
    pub method: SignInMethod,
    pub match_by: MatchBy,
    /// The claim's value (an email, a NameID, a `sub`).
    pub value: String,
    /// Present only when the connection allows just-in-time creation.
    pub jit: Option<JitProfile>,
}

/// A session opened by a successful sign-in (RFC 6749 §5.1 token response fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub user_id: String,
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until `access_token` expires.
    pub expires_in: u64,
}

/// Why a verified login still does not get in; each says so to the person.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// No provisioned user of this org matches, and just-in-time creation is off.
    #[error(
        "no user of this organization matches this sign-in; ask your IT admin to assign you the app"
    )]
    NoSuchUser,
    /// The matching user is deactivated (`active: false`).
    #[error("this account is deactivated")]
    Deactivated,
    /// Sign-in is not wired up yet.
    #[error("sign-in is not available yet")]
    Unavailable,
    /// The provisioning rules refused a just-in-time user (e.g. no seat with overflow `reject`).
    #[error(transparent)]
    Provisioning(#[from] crate::provisioning::Error),
}

/// Matches `login` to a user of its org and opens a session.
pub async fn sign_in(sso: &super::Sso, login: VerifiedLogin) -> Result<SignedIn, Refusal> {
    let _ = (sso, login);
    Err(Refusal::Unavailable)
}
