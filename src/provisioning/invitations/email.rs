//! The invitation emails: who to write to and what to say.

use crate::clock::format_timestamp;
use crate::domain::UserId;
use crate::domain::kinds::TeamRole;
use crate::outbox::Email;
use crate::store::effects::{TeamInfo, UserInfo};
use serde_json::{Map, Value};
use time::OffsetDateTime;

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
    role: TeamRole,
    link: &str,
    expires: OffsetDateTime,
) -> Email {
    let org = &team.org_name;
    let name = &team.name;
    let sso = sso_enforced(team);
    let admin = role == TeamRole::Admin;
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

/// A user's doc as an email needs it.
pub(in crate::provisioning) fn user_info(
    id: &UserId,
    user_name: &str,
    doc: &Map<String, Value>,
) -> UserInfo {
    UserInfo {
        id: id.clone(),
        user_name: user_name.to_owned(),
        doc: doc.clone(),
    }
}
