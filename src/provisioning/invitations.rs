//! Joining emails and invitation links (DESIGN.md "Provisioning rules" 4).
//!
//! A membership that gets its seat is sent one email naming the org and the team, with a
//! link `<public URL>/invitations/<token>`. The token is `<membership id>.<expiry, unix
//! seconds>.<base64url HMAC-SHA256 of both>`, keyed with a random secret stored once in
//! the database (so every process signs and verifies alike). Tokens and the key are
//! never logged.

use super::Error;
use super::effects::{self, Recorded};
use crate::clock::format_timestamp;
use crate::outbox::Email;
use crate::store::effects::{self as sql, TeamInfo, UserInfo};
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
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).map_err(|e| Error::Internal(format!("random: {e}")))?;
        let mut tx = store.write().await?;
        let stored = sql::secret_or_insert(
            &mut tx,
            KEY_NAME,
            &hex::encode(fresh),
            &format_timestamp(now),
        )
        .await?;
        tx.commit().await?;
        let key = hex::decode(stored)
            .map_err(|_| Error::Internal("the stored invitation key is not hex".into()))?;
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

    /// Checks a token; returns the membership id it names.
    pub fn verify(&self, token: &str, now: OffsetDateTime) -> Result<String, InvalidInvitation> {
        let mut parts = token.split('.');
        let (Some(id), Some(exp), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(InvalidInvitation::Malformed);
        };
        let exp: i64 = exp.parse().map_err(|_| InvalidInvitation::Malformed)?;
        let sig = B64.decode(sig).map_err(|_| InvalidInvitation::Malformed)?;
        self.mac(id, exp)
            .verify_slice(&sig)
            .map_err(|_| InvalidInvitation::BadSignature)?;
        if now.unix_timestamp() >= exp {
            return Err(InvalidInvitation::Expired);
        }
        Ok(id.to_owned())
    }
}

/// Whether members of `team` must sign in through the org's SSO connection. For now the
/// team's `settings.sso_enforced`; SSO policies (DESIGN.md "Policies") will decide here.
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
        Template::Joining | Template::Reminder => {
            let subject = match (template, admin) {
                (Template::Reminder, _) => format!("Reminder: your invitation to {name} at {org}"),
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
        Template::Joining | Template::Reminder => "membership.invitation_resent",
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
                Template::Joining | Template::Reminder => "invite-resend",
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

/// Writes the joining emails of the memberships `recorded` granted (called by
/// [`effects::record`]); returns the ids of the memberships that were invited.
pub(super) fn joining_emails(
    inv: &Invitations,
    recorded: &Recorded<'_>,
    now: OffsetDateTime,
    emails: &mut Vec<(String, Email)>,
) -> Vec<String> {
    let expires = inv.expiry(now);
    let mut invited = Vec::new();
    for m in recorded.granted {
        let (Some(team), Some(user)) = (recorded.teams.get(&m.team_id), recorded.user(&m.user_id))
        else {
            continue;
        };
        let Some(to) = address(user) else {
            tracing::warn!(user = %m.user_id, team = %m.team_id, "no email address: no joining email");
            continue;
        };
        let link = inv.link(&inv.token(&m.id, expires));
        let email = compose(Template::Joining, team, user, to, &m.role, &link, expires);
        // One joining email per grant: a membership takes its seat once in its life
        // (removal deletes it; a new one gets a new id).
        emails.push((format!("invite:{}", m.id), email));
        invited.push(m.id.clone());
    }
    invited
}

/// A user's doc as an email needs it.
pub(super) fn user_info(id: &str, user_name: &str, doc: &Map<String, Value>) -> UserInfo {
    UserInfo {
        id: id.to_owned(),
        user_name: user_name.to_owned(),
        doc: doc.clone(),
    }
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
        assert!(!format!("{inv:?}").contains("key"));
    }
}
