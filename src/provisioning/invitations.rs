//! Joining emails and invitation links (DESIGN.md "Provisioning rules" 4).
//!
//! A membership that gets its seat is sent one email naming the org and the team, with a
//! link `<public URL>/invitations/<token>`. The token is `<membership id>.<expiry, unix
//! seconds>.<base64url HMAC-SHA256 of both>`, keyed with a random secret stored once in
//! the database (so every process signs and verifies alike). Tokens and the key are
//! never logged.

use super::Error;
use super::effects::{self, Recorded};
use super::server_keys;
use crate::clock::format_timestamp;
use crate::outbox::Email;
use crate::store::effects::{self as sql, TeamInfo, UserInfo};
use crate::store::invitations as invited;
use crate::store::teams::Membership;
use crate::store::{Store, audit};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac as _};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use time::OffsetDateTime;

/// The name of the signing key in `server_secrets`.
const KEY_NAME: &str = "invitation_hmac_key";

/// Default validity of an invitation link.
pub const DEFAULT_TTL_DAYS: u32 = 7;

/// What signs invitation links and where they point. `Debug` hides the key.
#[derive(Clone)]
pub struct Invitations {
    key: Hmac<Sha256>,
    /// `https://rollcall.example.com` (no trailing slash).
    base_url: String,
    ttl: time::Duration,
}

impl std::fmt::Debug for Invitations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invitations")
            .field("base_url", &self.base_url)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// Why an invitation token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInvitation {
    #[error("the invitation link is malformed")]
    Malformed,
    #[error("the invitation link's signature does not match")]
    BadSignature,
    #[error("the invitation link has expired")]
    Expired,
}

impl Invitations {
    /// Loads the shared signing key from the database, creating it on first start.
    pub async fn load(
        store: &Store,
        base_url: &str,
        ttl_days: u32,
        now: OffsetDateTime,
    ) -> Result<Invitations, Error> {
        let key = server_keys::load_or_create(store, KEY_NAME, now).await?;
        Invitations::with_key(&key, base_url, ttl_days)
    }

    /// With a given key (tests, or a key from configuration).
    pub fn with_key(key: &[u8], base_url: &str, ttl_days: u32) -> Result<Invitations, Error> {
        Ok(Invitations {
            key: <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(key)
                .map_err(|_| Error::Internal("invalid invitation key length".into()))?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            ttl: time::Duration::days(i64::from(ttl_days.max(1))),
        })
    }

    /// When an invitation sent at `now` expires (whole seconds, as in the token).
    pub fn expiry(&self, now: OffsetDateTime) -> OffsetDateTime {
        let at = now + self.ttl;
        OffsetDateTime::from_unix_timestamp(at.unix_timestamp()).unwrap_or(at)
    }

    fn mac(&self, membership_id: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac = self.key.clone();
        mac.update(format!("rollcall-invitation.v1.{membership_id}.{expires}").as_bytes());
        mac
    }

    /// The signed token for a membership, valid until `expires`.
    pub fn token(&self, membership_id: &str, expires: OffsetDateTime) -> String {
        let exp = expires.unix_timestamp();
        let sig = self.mac(membership_id, exp).finalize().into_bytes();
        format!("{membership_id}.{exp}.{}", B64.encode(sig))
    }

    /// The invitation link carrying `token`.
    pub fn link(&self, token: &str) -> String {
        format!("{}/invitations/{token}", self.base_url)
    }

    /// Checks a token's form and signature, whether or not it has expired: an expired
    /// link still names its membership, so it can be renewed.
    pub fn check(&self, token: &str, now: OffsetDateTime) -> Result<Checked, InvalidInvitation> {
        let mut parts = token.split('.');
        let (Some(id), Some(exp), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(InvalidInvitation::Malformed);
        };
        let exp = parse_expiry(exp).ok_or(InvalidInvitation::Malformed)?;
        let sig = B64.decode(sig).map_err(|_| InvalidInvitation::Malformed)?;
        // `verify_slice` compares in constant time.
        self.mac(id, exp)
            .verify_slice(&sig)
            .map_err(|_| InvalidInvitation::BadSignature)?;
        let expires =
            OffsetDateTime::from_unix_timestamp(exp).map_err(|_| InvalidInvitation::Malformed)?;
        Ok(Checked {
            membership_id: id.to_owned(),
            expires,
            expired: now.unix_timestamp() >= exp,
        })
    }

    /// Checks a token; returns the membership id it names.
    pub fn verify(&self, token: &str, now: OffsetDateTime) -> Result<String, InvalidInvitation> {
        let checked = self.check(token, now)?;
        if checked.expired {
            return Err(InvalidInvitation::Expired);
        }
        Ok(checked.membership_id)
    }
}

/// The expiry as [`Invitations::token`] writes it, and only so: decimal digits without a
/// sign or leading zeros. `i64::from_str` also takes `+1700000000` and `01700000000`,
/// which would give one invitation many valid spellings of its link.
fn parse_expiry(exp: &str) -> Option<i64> {
    let canonical = exp.bytes().all(|b| b.is_ascii_digit()) && !exp.starts_with('0');
    canonical.then(|| exp.parse().ok()).flatten()
}

/// A token whose signature holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub membership_id: String,
    pub expires: OffsetDateTime,
    pub expired: bool,
}

/// Whether members of `team` must sign in through the org's SSO connection: the effective
/// `sso_enforced` setting, which the org's SSO policy sets to true for its teams (see
/// `crate::store::policies::effective`; [`TeamInfo::settings`] are effective settings).
pub fn sso_enforced(team: &TeamInfo) -> bool {
    team.settings
        .get("sso_enforced")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Which email to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// The joining email, sent once when the membership gets its seat.
    Joining,
    /// The joining email again, with a new link (admin "resend invite").
    Reminder,
    /// How to sign in (admin "send instructions").
    Instructions,
    /// A new link, asked for by the person from an expired one.
    Renewal,
}

/// The address to write to: the primary email, else the first, else a userName that is
/// an address. None if nothing is sendable.
pub fn address(user: &UserInfo) -> Option<String> {
    let emails = user.doc.get("emails").and_then(Value::as_array);
    let value = |e: &Value| e.get("value").and_then(Value::as_str).map(str::to_owned);
    let candidates = emails
        .into_iter()
        .flatten()
        .filter(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .filter_map(value)
        .chain(emails.into_iter().flatten().filter_map(value))
        .chain(std::iter::once(user.user_name.clone()));
    for to in candidates {
        let email = Email {
            to: to.clone(),
            subject: String::new(),
            text_body: String::new(),
            html_body: None,
            reply_to: None,
        };
        if email.validate().is_ok() {
            return Some(to);
        }
    }
    None
}

fn greeting(user: &UserInfo) -> String {
    let given = user
        .doc
        .get("name")
        .and_then(|n| n.get("givenName"))
        .and_then(Value::as_str);
    let display = user.doc.get("displayName").and_then(Value::as_str);
    match given.or(display) {
        Some(name) => format!("Hello {name},"),
        None => "Hello,".to_owned(),
    }
}

/// Writes the email for `template` (role `user`|`admin`, the team's SSO rule).
pub fn compose(
    template: Template,
    team: &TeamInfo,
    user: &UserInfo,
    to: String,
    role: &str,
    link: &str,
    expires: OffsetDateTime,
) -> Email {
    let org = &team.org_name;
    let name = &team.name;
    let sso = sso_enforced(team);
    let admin = role == "admin";
    let until = format_timestamp(expires);
    let what = if admin {
        format!("an admin of the team {name} at {org}")
    } else {
        format!("a member of the team {name} at {org}")
    };
    let sign_in = if sso {
        format!(
            "{org} requires single sign-on for this team: accept the invitation, then sign in \
             with your {org} account through your company's identity provider."
        )
    } else {
        "Accept the invitation, then sign in with this email address.".to_owned()
    };
    let admin_note = if admin {
        "\r\nAs a team admin you can see the team's members, seats and invitations.\r\n"
    } else {
        ""
    };
    let (subject, body) = match template {
        Template::Joining | Template::Reminder | Template::Renewal => {
            let subject = match (template, admin) {
                (Template::Reminder, _) => format!("Reminder: your invitation to {name} at {org}"),
                (Template::Renewal, _) => {
                    format!("Your new invitation link to {name} at {org}")
                }
                (_, true) => format!("You are now an admin of {name} at {org}"),
                (_, false) => format!("You have been added to {name} at {org}"),
            };
            let body = format!(
                "{}\r\n\r\n{org} has made you {what}.\r\n{admin_note}\r\n{sign_in}\r\n\r\n\
                 Accept your invitation: {link}\r\n\r\nThis link expires at {until}.\r\n",
                greeting(user)
            );
            (subject, body)
        }
        Template::Instructions => {
            let subject = format!("How to sign in to {name} at {org}");
            let body = format!(
                "{}\r\n\r\nYou are {what}.\r\n{admin_note}\r\n{sign_in}\r\n\r\n\
                 Your invitation link, if you have not accepted it yet: {link}\r\n\
                 (it expires at {until}).\r\n",
                greeting(user)
            );
            (subject, body)
        }
    };
    Email {
        to,
        subject,
        text_body: body,
        html_body: None,
        reply_to: None,
    }
}

/// What an admin action did for each user asked about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    /// Users an email was queued for.
    pub sent: Vec<String>,
    /// Users skipped, with why (not a member, waiting for a seat, no address ...).
    pub skipped: Vec<(String, String)>,
}

/// Admin "resend invite": a new link (new token and expiry) and a new email for each
/// member of `team_id` among `user_ids` who holds a seat and has not accepted yet.
pub async fn resend(
    dir: &super::Directory,
    actor: &str,
    org_id: &str,
    team_id: &str,
    user_ids: &[String],
) -> Result<Sent, Error> {
    send(dir, actor, org_id, team_id, user_ids, Template::Reminder).await
}

/// Admin "send instructions": how to sign in, for each member of `team_id` among
/// `user_ids` who holds a seat.
pub async fn send_instructions(
    dir: &super::Directory,
    actor: &str,
    org_id: &str,
    team_id: &str,
    user_ids: &[String],
) -> Result<Sent, Error> {
    send(
        dir,
        actor,
        org_id,
        team_id,
        user_ids,
        Template::Instructions,
    )
    .await
}

async fn send(
    dir: &super::Directory,
    actor: &str,
    org_id: &str,
    team_id: &str,
    user_ids: &[String],
    template: Template,
) -> Result<Sent, Error> {
    let now = dir.clock.now();
    let stamp = format_timestamp(now);
    let mut tx = dir.store.write().await?;
    let teams = sql::team_infos(&mut tx, org_id, &[team_id.to_owned()]).await?;
    let team = teams
        .get(team_id)
        .ok_or_else(|| Error::NotFound(format!("team {team_id} not found")))?;
    let members = sql::members_of_team(&mut tx, org_id, team_id, user_ids).await?;
    let users = sql::user_infos(&mut tx, org_id, user_ids).await?;
    let inv = &dir.invitations;
    let expires = inv.expiry(now);
    let mut out = Sent::default();
    let mut emails = Vec::new();
    let mut renewed = Vec::new();
    let mut entries: Vec<(String, Value)> = Vec::new();
    let action = match template {
        Template::Instructions => "membership.instructions_sent",
        Template::Joining | Template::Reminder | Template::Renewal => {
            "membership.invitation_resent"
        }
    };
    for user_id in dedup(user_ids) {
        let Some(m) = members.iter().find(|m| m.user_id == *user_id) else {
            out.skipped
                .push((user_id.clone(), "not a member of the team".into()));
            continue;
        };
        let skip = match (template, m.state.as_str()) {
            (_, "awaiting_seat") => Some("waiting for a seat"),
            (Template::Reminder, "pending_app_login" | "active") => {
                Some("has already accepted the invitation")
            }
            _ => None,
        };
        if let Some(why) = skip {
            out.skipped.push((user_id.clone(), why.into()));
            continue;
        }
        let Some(user) = users.get(user_id) else {
            out.skipped.push((user_id.clone(), "no such user".into()));
            continue;
        };
        let Some(to) = address(user) else {
            out.skipped
                .push((user_id.clone(), "the user has no email address".into()));
            continue;
        };
        // Instructions repeat the current link only while the invitation is open; a
        // resend always starts a new one.
        let link = inv.link(&inv.token(&m.id, expires));
        let email = compose(template, team, user, to, &m.role, &link, expires);
        let key = format!(
            "{}:{}:{}",
            match template {
                Template::Instructions => "instructions",
                Template::Joining | Template::Reminder | Template::Renewal => "invite-resend",
            },
            m.id,
            uuid::Uuid::new_v4()
        );
        emails.push((key, email));
        if m.state == "invited" {
            renewed.push(m.id.clone());
        }
        entries.push((
            format!("membership:{team_id}/{user_id}"),
            json!({"membership_id": m.id, "team_id": team_id, "user_id": user_id}),
        ));
        out.sent.push(user_id.clone());
    }
    if !renewed.is_empty() {
        sql::set_invited(&mut tx, &renewed, &stamp, &format_timestamp(expires)).await?;
    }
    let audit_entries: Vec<audit::NewEntry<'_>> = entries
        .iter()
        .map(|(target, after)| audit::NewEntry {
            org_id,
            at: &stamp,
            actor,
            action,
            target,
            before: None,
            after: Some(after),
        })
        .collect();
    audit::insert_many(&mut tx, &audit_entries).await?;
    crate::outbox::enqueue_batch(&mut tx, org_id, &emails, &[], now)
        .await
        .map_err(effects::outbox_error)?;
    tx.commit().await?;
    Ok(out)
}

fn dedup(ids: &[String]) -> Vec<&String> {
    let mut seen = std::collections::BTreeSet::new();
    ids.iter().filter(|id| seen.insert(id.as_str())).collect()
}

/// Why a membership that got its seat got no joining email, as the audit log and the
/// admin member view say it.
pub const NO_ADDRESS: &str = "no address";

/// Writes the joining emails of the memberships `recorded` granted (called by
/// [`effects::record`]); returns the ids of the memberships that were invited, and the
/// memberships left without an email because their user has no usable address.
pub(super) fn joining_emails<'r>(
    inv: &Invitations,
    recorded: &Recorded<'r>,
    now: OffsetDateTime,
    emails: &mut Vec<(String, Email)>,
) -> (Vec<String>, Vec<&'r Membership>) {
    let expires = inv.expiry(now);
    let mut invited = Vec::new();
    let mut no_address = Vec::new();
    for m in recorded.granted {
        let (Some(team), Some(user)) = (recorded.teams.get(&m.team_id), recorded.user(&m.user_id))
        else {
            continue;
        };
        let Some(to) = address(user) else {
            tracing::warn!(user = %m.user_id, team = %m.team_id, "no email address: no joining email");
            no_address.push(m);
            continue;
        };
        let link = inv.link(&inv.token(&m.id, expires));
        let email = compose(Template::Joining, team, user, to, &m.role, &link, expires);
        // One joining email per grant: a membership takes its seat once in its life
        // (removal deletes it; a new one gets a new id).
        emails.push((format!("invite:{}", m.id), email));
        invited.push(m.id.clone());
    }
    (invited, no_address)
}

/// A user's doc as an email needs it.
pub(super) fn user_info(id: &str, user_name: &str, doc: &Map<String, Value>) -> UserInfo {
    UserInfo {
        id: id.to_owned(),
        user_name: user_name.to_owned(),
        doc: doc.clone(),
    }
}

/// What an invitation link shows the person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct InvitationView {
    pub membership_id: String,
    pub org_name: String,
    pub team_id: String,
    pub team_name: String,
    /// `user` or `admin`
    pub role: String,
    /// `invited` (waiting to be accepted) or `accepted`.
    pub status: &'static str,
    /// When this link expires.
    pub expires: String,
    /// When the invitation was accepted.
    pub accepted: Option<String>,
    /// Whether the team enforces SSO (then sign-in goes through the company's IdP).
    pub sso_enforced: bool,
}

/// Why an invitation link does not do what was asked; each message is for the person.
#[derive(Debug, thiserror::Error)]
pub enum InvitationError {
    /// Malformed or tampered with.
    #[error("this invitation link is not valid ({0}); use the link from your email as it is")]
    Invalid(InvalidInvitation),
    /// The link expired while the invitation still waits: a new link can be sent.
    #[error(
        "this invitation link expired at {expired_at}; ask for a new link and we will email \
         it to you"
    )]
    Expired {
        view: Box<InvitationView>,
        expired_at: String,
    },
    /// The membership was removed (or never existed).
    #[error(
        "this invitation is no longer valid: the membership it was for no longer exists; \
         ask your IT admin if you should still have access"
    )]
    Gone,
    /// Accepted before.
    #[error("this invitation was already accepted; you can sign in")]
    AlreadyAccepted(Box<InvitationView>),
    /// The membership does not wait for acceptance (it waits for a seat).
    #[error("this invitation is not waiting to be accepted: the team has no seat for you yet")]
    NotWaiting,
    /// A renewal asked for while the link is still valid.
    #[error("this invitation link is still valid; accept it instead of asking for a new one")]
    StillValid,
    /// A newer link was already sent and is still valid.
    #[error("a new invitation link was already sent to your email address; it is valid until {0}")]
    AlreadyRenewed(String),
    /// The user has no address a new link could go to.
    #[error("we have no email address to send a new link to; ask your IT admin")]
    NoAddress,
    #[error(transparent)]
    Provisioning(#[from] Error),
}

impl From<crate::store::StoreError> for InvitationError {
    fn from(e: crate::store::StoreError) -> Self {
        InvitationError::Provisioning(Error::Store(e))
    }
}

/// The membership a token names, with its team and user, read in `tx`.
struct Loaded {
    m: invited::Invited,
    team: TeamInfo,
    user: Option<UserInfo>,
    view: InvitationView,
}

async fn load(
    tx: &mut crate::store::Tx,
    checked: &Checked,
    lock: bool,
) -> Result<Loaded, InvitationError> {
    let m = invited::get(tx, &checked.membership_id, lock)
        .await?
        .ok_or(InvitationError::Gone)?;
    let team = sql::team_infos(tx, &m.org_id, std::slice::from_ref(&m.team_id))
        .await?
        .remove(&m.team_id)
        .ok_or(InvitationError::Gone)?;
    let user = sql::user_infos(tx, &m.org_id, std::slice::from_ref(&m.user_id))
        .await?
        .remove(&m.user_id);
    let accepted = matches!(m.state.as_str(), "pending_app_login" | "active");
    let view = InvitationView {
        membership_id: m.id.clone(),
        org_name: team.org_name.clone(),
        team_id: team.id.clone(),
        team_name: team.name.clone(),
        role: m.role.clone(),
        status: if accepted { "accepted" } else { "invited" },
        expires: format_timestamp(checked.expires),
        accepted: m.accepted.clone(),
        sso_enforced: sso_enforced(&team),
    };
    Ok(Loaded {
        m,
        team,
        user,
        view,
    })
}

/// The link's checks in the order a person needs the answers: is it ours, does the
/// membership exist, was it accepted, does it wait, has the link expired.
fn judge(l: &Loaded, checked: &Checked) -> Result<(), InvitationError> {
    match l.m.state.as_str() {
        "invited" => {}
        "pending_app_login" | "active" => {
            return Err(InvitationError::AlreadyAccepted(Box::new(l.view.clone())));
        }
        _ => return Err(InvitationError::NotWaiting),
    }
    if checked.expired {
        return Err(InvitationError::Expired {
            view: Box::new(l.view.clone()),
            expired_at: format_timestamp(checked.expires),
        });
    }
    Ok(())
}

/// What a GET of the link shows. Changes nothing: mail scanners prefetch links.
pub async fn show(dir: &super::Directory, token: &str) -> Result<InvitationView, InvitationError> {
    let checked = dir
        .invitations
        .check(token, dir.clock.now())
        .map_err(InvitationError::Invalid)?;
    let mut tx = dir.store.read().await?;
    let l = load(&mut tx, &checked, false).await?;
    match judge(&l, &checked) {
        // Accepted: the page says so, without an Accept button.
        Err(InvitationError::AlreadyAccepted(view)) => Ok(*view),
        Err(e) => Err(e),
        Ok(()) => Ok(l.view),
    }
}

fn membership_event(l: &Loaded, state: &str) -> Value {
    json!({
        "membership": {
            "id": l.m.id,
            "team": {"id": l.team.id, "name": l.team.name},
            "user": {"id": l.m.user_id, "userName": l.user.as_ref().map(|u| u.user_name.as_str())},
            "role": l.m.role,
            "state": state,
        }
    })
}

/// Accepts the invitation (POST): `invited` → `pending_app_login` with `accepted_at`, an
/// audit entry and an `invitation.accepted` webhook, in one transaction.
pub async fn accept(
    dir: &super::Directory,
    token: &str,
) -> Result<InvitationView, InvitationError> {
    let now = dir.clock.now();
    let stamp = format_timestamp(now);
    let checked = dir
        .invitations
        .check(token, now)
        .map_err(InvitationError::Invalid)?;
    let mut tx = dir.store.write().await?;
    let l = load(&mut tx, &checked, true).await?;
    judge(&l, &checked)?;
    if !invited::accept(&mut tx, &l.m.id, &stamp).await? {
        // Cannot happen under the lock; say what a second click would.
        return Err(InvitationError::AlreadyAccepted(Box::new(l.view)));
    }
    let actor = format!("user:{}", l.m.user_id);
    let target = format!("membership:{}/{}", l.m.team_id, l.m.user_id);
    let before = json!({"id": l.m.id, "state": "invited"});
    let after = json!({"id": l.m.id, "state": "pending_app_login", "accepted_at": stamp});
    audit::insert(
        &mut tx,
        &audit::NewEntry {
            org_id: &l.m.org_id,
            at: &stamp,
            actor: &actor,
            action: "membership.accepted",
            target: &target,
            before: Some(&before),
            after: Some(&after),
        },
    )
    .await?;
    let kind = crate::outbox::EventType::InvitationAccepted;
    // A membership is accepted once in its life: the key names that fact.
    let events = [(
        format!("{}:{}", kind.as_str(), l.m.id),
        crate::outbox::Event {
            kind,
            data: membership_event(&l, "pending_app_login"),
        },
    )];
    crate::outbox::enqueue_batch(&mut tx, &l.m.org_id, &[], &events, now)
        .await
        .map_err(effects::outbox_error)?;
    tx.commit().await?;
    Ok(InvitationView {
        status: "accepted",
        accepted: Some(stamp),
        ..l.view
    })
}

/// Where a renewed link went.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Renewed {
    /// The address, partly hidden (`a***@example.com`).
    pub sent_to: String,
    /// When the new link expires.
    pub expires: String,
}

fn mask(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

/// Sends a new link for an expired one (POST), only while the membership still waits for
/// acceptance, and only to the user's own address: whoever holds an old link cannot
/// send mail anywhere else. At most one renewal per link lifetime: while a newer link is
/// valid, asking again sends nothing.
pub async fn renew(dir: &super::Directory, token: &str) -> Result<Renewed, InvitationError> {
    let now = dir.clock.now();
    let stamp = format_timestamp(now);
    let checked = dir
        .invitations
        .check(token, now)
        .map_err(InvitationError::Invalid)?;
    let mut tx = dir.store.write().await?;
    let l = load(&mut tx, &checked, true).await?;
    match judge(&l, &checked) {
        Err(InvitationError::Expired { .. }) => {}
        Ok(()) => return Err(InvitationError::StillValid),
        Err(e) => return Err(e),
    }
    if let Some(current) = &l.m.invitation_expires
        && current.as_str() > stamp.as_str()
    {
        return Err(InvitationError::AlreadyRenewed(current.clone()));
    }
    let user = l.user.as_ref().ok_or(InvitationError::Gone)?;
    let to = address(user).ok_or(InvitationError::NoAddress)?;
    let inv = &dir.invitations;
    let expires = inv.expiry(now);
    let link = inv.link(&inv.token(&l.m.id, expires));
    let email = compose(
        Template::Renewal,
        &l.team,
        user,
        to.clone(),
        &l.m.role,
        &link,
        expires,
    );
    let until = format_timestamp(expires);
    sql::set_invited(&mut tx, std::slice::from_ref(&l.m.id), &stamp, &until).await?;
    let actor = format!("user:{}", l.m.user_id);
    let target = format!("membership:{}/{}", l.m.team_id, l.m.user_id);
    let after = json!({"id": l.m.id, "invitation_expires_at": until});
    audit::insert(
        &mut tx,
        &audit::NewEntry {
            org_id: &l.m.org_id,
            at: &stamp,
            actor: &actor,
            action: "membership.invitation_renewed",
            target: &target,
            before: None,
            after: Some(&after),
        },
    )
    .await?;
    // The key names this renewal: the new expiry is unique to it.
    let emails = [(format!("invite-renew:{}:{until}", l.m.id), email)];
    crate::outbox::enqueue_batch(&mut tx, &l.m.org_id, &emails, &[], now)
        .await
        .map_err(effects::outbox_error)?;
    tx.commit().await?;
    Ok(Renewed {
        sent_to: mask(&to),
        expires: until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_expire_and_resist_tampering() {
        let inv = Invitations::with_key(&[7; 32], "https://r.test/", 7).unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let exp = inv.expiry(now);
        assert_eq!(exp - now, time::Duration::days(7));
        let t = inv.token("m-1", exp);
        assert_eq!(inv.verify(&t, now).unwrap(), "m-1");
        assert!(inv.link(&t).starts_with("https://r.test/invitations/m-1."));
        assert_eq!(inv.verify(&t, exp), Err(InvalidInvitation::Expired));
        let forged = t.replacen("m-1", "m-2", 1);
        assert_eq!(
            inv.verify(&forged, now),
            Err(InvalidInvitation::BadSignature)
        );
        let other = Invitations::with_key(&[8; 32], "https://r.test", 7).unwrap();
        assert_eq!(other.verify(&t, now), Err(InvalidInvitation::BadSignature));
        assert_eq!(inv.verify("x.y", now), Err(InvalidInvitation::Malformed));
        let exp = exp.unix_timestamp().to_string();
        for spelling in [
            format!("0{exp}"),
            format!("+{exp}"),
            format!("-{exp}"),
            " 1".into(),
        ] {
            let other = t.replacen(&format!(".{exp}."), &format!(".{spelling}."), 1);
            assert_eq!(
                inv.verify(&other, now),
                Err(InvalidInvitation::Malformed),
                "{spelling}"
            );
        }
        assert!(!format!("{inv:?}").contains("key"));
    }
}
