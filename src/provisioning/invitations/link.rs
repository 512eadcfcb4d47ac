//! What an invitation link does for the person holding it: show, accept, renew.

use super::{Checked, InvalidInvitation, Template, address, compose, sso_enforced};
use crate::clock::{Timestamp, format_timestamp};
use crate::domain::kinds::{MembershipState, TeamRole};
use crate::provisioning::effects;
use crate::provisioning::{Directory, Error};
use crate::store::effects::{self as sql, TeamInfo, UserInfo};
use crate::store::invitations as invited;
use crate::store::{Tx, audit};
use serde_json::{Value, json};
use time::OffsetDateTime;

/// What an invitation link shows the person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct InvitationView {
    pub membership_id: String,
    pub org_name: String,
    pub team_id: String,
    pub team_name: String,
    /// `user` or `admin`
    #[schema(value_type = String)]
    pub role: TeamRole,
    /// `invited` (waiting to be accepted) or `accepted`.
    pub status: &'static str,
    /// When this link expires.
    #[schema(value_type = String)]
    pub expires: Timestamp,
    /// When the invitation was accepted.
    #[schema(value_type = Option<String>)]
    pub accepted: Option<Timestamp>,
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

async fn load(tx: &mut Tx, checked: &Checked, lock: bool) -> Result<Loaded, InvitationError> {
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
    let accepted = matches!(
        m.state,
        MembershipState::PendingAppLogin | MembershipState::Active
    );
    let view = InvitationView {
        membership_id: m.id.to_string(),
        org_name: team.org_name.clone(),
        team_id: team.id.to_string(),
        team_name: team.name.clone(),
        role: m.role,
        status: if accepted { "accepted" } else { "invited" },
        expires: Timestamp::from(checked.expires),
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
    match l.m.state {
        MembershipState::Invited => {}
        MembershipState::PendingAppLogin | MembershipState::Active => {
            return Err(InvitationError::AlreadyAccepted(Box::new(l.view.clone())));
        }
        MembershipState::AwaitingSeat => return Err(InvitationError::NotWaiting),
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
pub async fn show(dir: &Directory, token: &str) -> Result<InvitationView, InvitationError> {
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

/// A POST on a link: its time (and as a timestamp), the link checked, and the membership
/// it names loaded under lock in a write transaction.
struct Post(OffsetDateTime, Timestamp, Checked, Tx, Loaded);

async fn post(dir: &Directory, token: &str) -> Result<Post, InvitationError> {
    let now = dir.clock.now();
    let checked = dir
        .invitations
        .check(token, now)
        .map_err(InvitationError::Invalid)?;
    let mut tx = dir.store.write().await?;
    let l = load(&mut tx, &checked, true).await?;
    Ok(Post(now, Timestamp::from(now), checked, tx, l))
}

/// Records `action` on the loaded membership in the audit log, done by its user.
async fn audit_by_user(
    tx: &mut Tx,
    l: &Loaded,
    at: &Timestamp,
    action: &str,
    before: Option<&Value>,
    after: &Value,
) -> Result<(), InvitationError> {
    let actor = format!("user:{}", l.m.user_id);
    let target = format!("membership:{}/{}", l.m.team_id, l.m.user_id);
    let entry = audit::NewEntry {
        org_id: &l.m.org_id,
        at,
        actor: &actor,
        action,
        target: &target,
        before,
        after: Some(after),
    };
    audit::insert(tx, &entry).await?;
    Ok(())
}

fn membership_event(l: &Loaded, state: MembershipState) -> Value {
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
pub async fn accept(dir: &Directory, token: &str) -> Result<InvitationView, InvitationError> {
    let Post(now, stamp, checked, mut tx, l) = post(dir, token).await?;
    judge(&l, &checked)?;
    if !invited::accept(&mut tx, &l.m.id, &stamp).await? {
        // Cannot happen under the lock; say what a second click would.
        return Err(InvitationError::AlreadyAccepted(Box::new(l.view)));
    }
    let before = json!({"id": l.m.id, "state": MembershipState::Invited});
    let after =
        json!({"id": l.m.id, "state": MembershipState::PendingAppLogin, "accepted_at": stamp});
    let action = "membership.accepted";
    audit_by_user(&mut tx, &l, &stamp, action, Some(&before), &after).await?;
    let kind = crate::outbox::EventType::InvitationAccepted;
    // A membership is accepted once in its life: the key names that fact.
    let events = [(
        format!("{}:{}", kind.as_str(), l.m.id),
        crate::outbox::Event {
            kind,
            data: membership_event(&l, MembershipState::PendingAppLogin),
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
    #[schema(value_type = String)]
    pub expires: Timestamp,
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
pub async fn renew(dir: &Directory, token: &str) -> Result<Renewed, InvitationError> {
    let Post(now, stamp, checked, mut tx, l) = post(dir, token).await?;
    match judge(&l, &checked) {
        Err(InvitationError::Expired { .. }) => {}
        Ok(()) => return Err(InvitationError::StillValid),
        Err(e) => return Err(e),
    }
    if let Some(current) = &l.m.invitation_expires
        && current.as_str() > stamp.as_str()
    {
        return Err(InvitationError::AlreadyRenewed(current.to_string()));
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
        l.m.role,
        &link,
        expires,
    );
    let until = Timestamp::from(expires);
    sql::set_invited(&mut tx, std::slice::from_ref(&l.m.id), &stamp, &until).await?;
    let after = json!({"id": l.m.id, "invitation_expires_at": until});
    let action = "membership.invitation_renewed";
    audit_by_user(&mut tx, &l, &stamp, action, None, &after).await?;
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
