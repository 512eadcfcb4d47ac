//! Sending invitation emails: the joining email when a membership gets its seat, and the
//! admin's "resend invite" and "send instructions".

use super::{Invitations, Template, address, compose};
use crate::clock::format_timestamp;
use crate::domain::kinds::MembershipState;
use crate::domain::{MembershipId, OrgId, TeamId, UserId};
use crate::outbox::Email;
use crate::provisioning::effects::{self, Recorded};
use crate::provisioning::{Directory, Error};
use crate::store::audit;
use crate::store::effects as sql;
use crate::store::teams::TeamMembership;
use serde_json::{Value, json};
use time::OffsetDateTime;

/// What an admin action did for each user asked about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    /// Users an email was queued for.
    pub sent: Vec<UserId>,
    /// Users skipped, with why (not a member, waiting for a seat, no address ...).
    pub skipped: Vec<(UserId, String)>,
}

/// What an admin sends to chosen members of a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminMail {
    /// "Resend invite": a new link (new token and expiry) and a new email, for each
    /// member who holds a seat and has not accepted yet.
    Invitation,
    /// "Send instructions": how to sign in, for each member who holds a seat.
    Instructions,
}

impl AdminMail {
    fn template(self) -> Template {
        match self {
            AdminMail::Invitation => Template::Reminder,
            AdminMail::Instructions => Template::Instructions,
        }
    }

    /// The audit action.
    fn action(self) -> &'static str {
        match self {
            AdminMail::Invitation => "membership.invitation_resent",
            AdminMail::Instructions => "membership.instructions_sent",
        }
    }

    /// The first part of the outbox row's key.
    fn key_prefix(self) -> &'static str {
        match self {
            AdminMail::Invitation => "invite-resend",
            AdminMail::Instructions => "instructions",
        }
    }
}

/// Queues `mail` for each member of `team_id` among `user_ids` it applies to; says who
/// was skipped and why.
pub async fn send_to_members(
    dir: &Directory,
    actor: &str,
    org_id: &OrgId,
    team_id: &TeamId,
    user_ids: &[UserId],
    mail: AdminMail,
) -> Result<Sent, Error> {
    let now = dir.clock.now();
    let stamp = format_timestamp(now);
    let mut tx = dir.store.write().await?;
    let teams = sql::team_infos(&mut tx, org_id, std::slice::from_ref(team_id)).await?;
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
    let action = mail.action();
    for user_id in dedup(user_ids) {
        let Some(m) = members.iter().find(|m| m.user_id == *user_id) else {
            out.skipped
                .push((user_id.clone(), "not a member of the team".into()));
            continue;
        };
        let skip = match (mail, m.state) {
            (_, MembershipState::AwaitingSeat) => Some("waiting for a seat"),
            (AdminMail::Invitation, MembershipState::PendingAppLogin | MembershipState::Active) => {
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
        let email = compose(mail.template(), team, user, to, m.role, &link, expires);
        let key = format!("{}:{}:{}", mail.key_prefix(), m.id, uuid::Uuid::new_v4());
        emails.push((key, email));
        if m.state == MembershipState::Invited {
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

fn dedup(ids: &[UserId]) -> Vec<&UserId> {
    let mut seen = std::collections::BTreeSet::new();
    ids.iter().filter(|id| seen.insert(id.as_str())).collect()
}

/// Why a membership that got its seat got no joining email, as the audit log and the
/// admin member view say it.
pub const NO_ADDRESS: &str = "no address";

/// Writes the joining emails of the memberships `recorded` granted (called by
/// [`effects::record`]); returns the ids of the memberships that were invited, and the
/// memberships left without an email because their user has no usable address.
pub(in crate::provisioning) fn joining_emails<'r>(
    inv: &Invitations,
    recorded: &Recorded<'r>,
    now: OffsetDateTime,
    emails: &mut Vec<(String, Email)>,
) -> (Vec<MembershipId>, Vec<&'r TeamMembership>) {
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
        let email = compose(Template::Joining, team, user, to, m.role, &link, expires);
        // One joining email per grant: a membership takes its seat once in its life
        // (removal deletes it; a new one gets a new id).
        emails.push((format!("invite:{}", m.id), email));
        invited.push(m.id.clone());
    }
    (invited, no_address)
}
