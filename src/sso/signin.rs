//! The one door every sign-in goes through: a login that a protocol module has verified is
//! matched to a provisioned, active user of the org (or created just in time where the org
//! allows it), the user's memberships become `active`, and a session is opened.
//!
//! All of it is one transaction: the just-in-time user, the membership changes, the audit
//! entry, the `user.signed_in` webhook and the session either all happen or none does.

use super::session::SessionError;
use crate::clock::format_timestamp;
use crate::domain::kinds::MembershipState;
use crate::domain::{OrgId, UserId};
use crate::outbox::{self, Event, EventType};
use crate::provisioning;
use crate::store::sessions::{self as sql, MatchColumn};
use crate::store::{StoreError, Tx, audit, effects as effects_sql};
use scim::text::fold_key;
use serde_json::{Map, Value, json};

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

impl SignInMethod {
    /// How sessions, the audit log and webhooks name the method: `oidc:<connection>`,
    /// `saml:<connection>`, `email_code`.
    pub fn name(&self) -> String {
        match self {
            SignInMethod::Oidc { connection_id } => format!("oidc:{connection_id}"),
            SignInMethod::Saml { connection_id } => format!("saml:{connection_id}"),
            SignInMethod::EmailCode => "email_code".to_owned(),
        }
    }
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
    pub org_id: OrgId,
    pub method: SignInMethod,
    pub match_by: MatchBy,
    /// The claim's value (an email, a NameID, a `sub`).
    pub value: String,
    /// Present only when the connection allows just-in-time creation.
    pub jit: Option<JitProfile>,
}

/// A session opened by a successful sign-in (RFC 6749 §5.1 token response fields).
/// `Debug` leaves the tokens out.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub user_id: UserId,
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until `access_token` expires.
    pub expires_in: u64,
    /// The session the tokens belong to (the access token's `sid`).
    pub session_id: String,
    /// Whether the user was created just in time by this sign-in.
    pub created: bool,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("user_id", &self.user_id)
            .field("session_id", &self.session_id)
            .field("expires_in", &self.expires_in)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// Why a verified login still does not get in; each says so to the person.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// No provisioned user of this org matches, and just-in-time creation is off.
    #[error(
        "no user of this organization matches this sign-in; ask your IT admin to assign you the app"
    )]
    NoSuchUser,
    /// More than one user of this org matches (e.g. two users share the email).
    #[error(
        "more than one user of this organization matches this sign-in; ask your IT admin to \
         make the address unique"
    )]
    Ambiguous,
    /// The matching user is deactivated (`active: false`).
    #[error("this account is deactivated")]
    Deactivated,
    /// The database cannot be reached: nothing was changed, try again.
    #[error("sign-in is not available right now; try again in a moment")]
    Unavailable,
    /// The provisioning rules refused a just-in-time user (e.g. no seat with overflow
    /// `reject`), or the database failed.
    #[error(transparent)]
    Provisioning(#[from] provisioning::Error),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Connect(_) => Refusal::Unavailable,
            other => Refusal::Provisioning(provisioning::Error::Store(other)),
        }
    }
}

impl From<SessionError> for Refusal {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Store(s) => s.into(),
            SessionError::Internal(m) => Refusal::Provisioning(provisioning::Error::Internal(m)),
        }
    }
}

/// Matches `login` to a user of its org and opens a session: the user's memberships
/// holding a seat become `active` (first sign-in and last active times set), an audit
/// entry and the `user.signed_in` webhook are recorded, all in one transaction.
pub async fn sign_in(sso: &super::Sso, login: VerifiedLogin) -> Result<SignedIn, Refusal> {
    let at = sso.clock.now();
    let now = format_timestamp(at);
    let method = login.method.name();
    let actor = format!("sso:{method}");
    let mut tx = sso.store.write().await?;
    let (user_id, created) = match find_user(&mut tx, &login).await? {
        Found::One(u) if !u.active => return Err(Refusal::Deactivated),
        Found::One(u) => (UserId::from(u.id), false),
        Found::Many => return Err(Refusal::Ambiguous),
        Found::None => {
            let Some(profile) = &login.jit else {
                return Err(Refusal::NoSuchUser);
            };
            let body = jit_user(profile, &login);
            let view = sso
                .directory
                .create_user_in(&mut tx, &login.org_id, &actor, &body)
                .await?;
            (UserId::from(view.stored.id), true)
        }
    };
    let before = sql::memberships_for_sign_in(&mut tx, &login.org_id, &user_id).await?;
    sql::activate_memberships(&mut tx, &login.org_id, &user_id, &now).await?;
    let issued = sso
        .sessions
        .open(&mut tx, &login.org_id, &user_id, &method, at)
        .await?;
    let activated: Vec<Value> = before
        .iter()
        .filter(|m| {
            matches!(
                m.state,
                MembershipState::Invited | MembershipState::PendingAppLogin
            )
        })
        .map(|m| json!({"id": m.id, "team_id": m.team_id, "previous_state": m.state}))
        .collect();
    let first_sign_in = before
        .iter()
        .any(|m| m.state.holds_seat() && m.first_sign_in_at.is_none());
    let after = json!({
        "method": method,
        "session_id": issued.session_id,
        "activated": activated,
        "first_sign_in": first_sign_in,
    });
    audit::insert(
        &mut tx,
        &audit::NewEntry {
            org_id: &login.org_id,
            at: &now,
            actor: &actor,
            action: "user.signed_in",
            target: &format!("user:{user_id}"),
            before: None,
            after: Some(&after),
        },
    )
    .await?;
    signed_in_event(&mut tx, &login.org_id, &user_id, &method, &issued, at).await?;
    tx.commit().await?;
    tracing::info!(org = %login.org_id, user = %user_id, method = %method, "signed in");
    Ok(SignedIn {
        user_id,
        access_token: issued.access_token,
        refresh_token: issued.refresh_token,
        expires_in: issued.expires_in,
        session_id: issued.session_id,
        created,
    })
}

enum Found {
    None,
    One(sql::MatchedUser),
    Many,
}

async fn find_user(tx: &mut Tx, login: &VerifiedLogin) -> Result<Found, StoreError> {
    let value = login.value.trim();
    if value.is_empty() {
        return Ok(Found::None);
    }
    // userName and emails are unique case-insensitively through their normalised
    // columns, filled with `fold_key` (provisioning/write.rs); externalId is exact.
    let (column, value) = match login.match_by {
        MatchBy::UserName => (MatchColumn::UserNameNorm, fold_key(value)),
        MatchBy::Email => (MatchColumn::EmailNorm, fold_key(value)),
        MatchBy::ExternalId => (MatchColumn::ExternalId, value.to_owned()),
    };
    let mut users = sql::match_users(tx, &login.org_id, column, &value, 2).await?;
    Ok(match users.len() {
        0 => Found::None,
        1 => users.pop().map_or(Found::None, Found::One),
        _ => Found::Many,
    })
}

/// The SCIM User a just-in-time sign-in creates, from the IdP's claims.
fn jit_user(p: &JitProfile, login: &VerifiedLogin) -> Value {
    let user_name = if p.user_name.trim().is_empty() {
        login.value.trim()
    } else {
        p.user_name.trim()
    };
    let mut user = Map::new();
    user.insert(
        "schemas".into(),
        json!(["urn:ietf:params:scim:schemas:core:2.0:User"]),
    );
    user.insert("userName".into(), json!(user_name));
    user.insert("active".into(), json!(true));
    let mut name = Map::new();
    if let Some(g) = &p.given_name {
        name.insert("givenName".into(), json!(g));
    }
    if let Some(f) = &p.family_name {
        name.insert("familyName".into(), json!(f));
    }
    if !name.is_empty() {
        user.insert("name".into(), Value::Object(name));
    }
    if let Some(e) = &p.email {
        user.insert(
            "emails".into(),
            json!([{"value": e, "type": "work", "primary": true}]),
        );
    }
    if let Some(x) = &p.external_id {
        user.insert("externalId".into(), json!(x));
    }
    Value::Object(user)
}

async fn signed_in_event(
    tx: &mut Tx,
    org_id: &OrgId,
    user_id: &UserId,
    method: &str,
    issued: &super::session::Issued,
    now: time::OffsetDateTime,
) -> Result<(), Refusal> {
    let info = effects_sql::user_infos(tx, org_id, std::slice::from_ref(user_id)).await?;
    let user = info.get(user_id).map_or_else(
        || json!({"id": user_id}),
        |u| {
            json!({
                "id": u.id,
                "userName": u.user_name,
                "externalId": u.doc.get("externalId"),
            })
        },
    );
    let event = Event {
        kind: EventType::UserSignedIn,
        data: json!({
            "user": user,
            "method": method,
            "session_id": issued.session_id,
            "teams": issued.claims.teams,
            "org_role": issued.claims.org_role,
        }),
    };
    let key = format!("{}:{}", EventType::UserSignedIn.as_str(), issued.session_id);
    outbox::enqueue_event(tx, org_id, &key, &event, now)
        .await
        .map_err(|e| match e {
            outbox::OutboxError::Store(s) => s.into(),
            other => Refusal::Provisioning(provisioning::Error::Internal(other.to_string())),
        })?;
    Ok(())
}
