//! Email sign-in: one-time codes sent through the outbox, for members of teams that do not
//! enforce SSO (DESIGN.md "SSO hooks": members of SSO-enforced teams cannot sign in any
//! other way).
//!
//! - A code is 6 digits, valid [`CODE_TTL_MINUTES`] minutes, single use; a new code
//!   replaces the user's previous one. Only `SHA-256(code id ":" code)` is stored, and
//!   compared in constant time. Codes are never logged.
//! - Budgets are kept per person *and per requesting client address*, so that a stranger
//!   who asks for or guesses at someone's code uses up the stranger's budget, not the
//!   person's: [`EMAILS_PER_HOUR_PER_REQUESTER`] emails to one person per address and hour
//!   (of [`EMAILS_PER_HOUR`] in all), [`WRONG_TRIES_PER_REQUESTER`] wrong tries per code
//!   and address (the code dies after [`MAX_ATTEMPTS`] from everyone together). Failed
//!   tries also count against the address's failed-authentication budget (`http::rate_limit`).
//! - Asking for a code answers the same 202 to everyone: whether the address belongs to
//!   someone, to nobody, or to a member of an SSO-enforced team (who is emailed "use your
//!   company SSO" instead of a code). A refused code answers the same whatever the reason.
//!   So neither endpoint tells who exists or which teams enforce SSO.

use super::Sso;
use super::signin::{self, MatchBy, Refusal, SignInMethod, SignedIn, VerifiedLogin};
use crate::clock::{Timestamp, format_timestamp};
use crate::domain::{OrgId, TeamId, UserId};
use crate::outbox::Email;
use crate::provisioning::invitations::sso_enforced;
use crate::secrets;
use crate::store::sign_in_codes::{self as sql, Code, EventKind, UserByEmail};
use crate::store::{StoreError, Tx, audit, effects as effects_sql};
use scim::text::fold_key;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// How long a code is valid.
pub const CODE_TTL_MINUTES: i64 = 10;
/// Wrong tries (from everyone together) before a code is dead.
pub const MAX_ATTEMPTS: i64 = 25;
/// Wrong tries at one code from one client address.
pub const WRONG_TRIES_PER_REQUESTER: i64 = 5;
/// Sign-in emails (codes and SSO notices) to one person per hour at most.
pub const EMAILS_PER_HOUR: i64 = 20;
/// Of those, asked for from one client address.
pub const EMAILS_PER_HOUR_PER_REQUESTER: i64 = 5;
/// Digits in a code.
const DIGITS: usize = 6;

/// Why email sign-in did not go ahead.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// The request itself is wrong (not an address, not a code).
    #[error("{0}")]
    Invalid(String),
    /// The person is a member of a team that enforces SSO (told only once the code
    /// proved they own the address).
    #[error("{}", sso_reason(org, team))]
    SsoRequired { org: String, team: String },
    /// Wrong, expired, used, locked, or nobody's: one answer for all (see the module doc).
    #[error(
        "this code is not valid: it may be mistyped, expired (codes last 10 minutes), already \
         used, or locked after too many wrong tries; ask for a new code. If your team signs \
         in through your company's identity provider (SSO), the email says so: use it instead"
    )]
    Rejected,
    /// The code was right, but sign-in refused the person.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Our fault (randomness, encoding); logged, not shown.
    #[error("{0}")]
    Internal(String),
}

fn sso_reason(org: &str, team: &str) -> String {
    format!(
        "{org} requires single sign-on for the team {team}: sign in with your {org} account \
         through your company's identity provider (SSO), not with an email code"
    )
}

/// An email address as typed: trimmed, checked, and its case-folded key for matching.
fn parse_email(raw: &str) -> Result<String, CodeError> {
    let email = raw.trim();
    let probe = Email {
        to: email.to_owned(),
        subject: String::new(),
        text_body: String::new(),
        html_body: None,
        reply_to: None,
    };
    if email.len() > 320 || !email.contains('@') || probe.validate().is_err() {
        return Err(CodeError::Invalid(format!(
            "{email:?} is not an email address"
        )));
    }
    Ok(fold_key(email))
}

/// A code as typed: spaces and dashes ignored, then exactly [`DIGITS`] digits.
fn parse_code(raw: &str) -> Result<String, CodeError> {
    let code: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if code.len() != DIGITS || !code.chars().all(|c| c.is_ascii_digit()) {
        return Err(CodeError::Invalid(format!(
            "a sign-in code is {DIGITS} digits, as in the email"
        )));
    }
    Ok(code)
}

fn new_code() -> Result<String, CodeError> {
    // Rejection sampling below a multiple of 10^6: every code equally likely.
    const LIMIT: u32 = 4_294_000_000;
    loop {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).map_err(|e| CodeError::Internal(format!("random: {e}")))?;
        let n = u32::from_le_bytes(b);
        if n < LIMIT {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

fn code_hash(id: &str, code: &str) -> String {
    hex::encode(Sha256::digest(format!("{id}:{code}").as_bytes()))
}

/// The one user of the org with this address, if exactly one has it.
fn only(mut users: Vec<UserByEmail>) -> Option<UserByEmail> {
    if users.len() == 1 { users.pop() } else { None }
}

/// The address as the user's record spells it (the person typed some casing of it).
fn stored_address(user: &UserByEmail, norm: &str) -> String {
    user.doc
        .get("emails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("value").and_then(Value::as_str))
        .find(|v| fold_key(v) == norm)
        .unwrap_or(norm)
        .to_owned()
}

/// Refuses a member of an SSO-enforced team; returns whether the user holds a seat
/// anywhere (otherwise there is nothing to sign in to).
async fn check_teams(tx: &mut Tx, org_id: &OrgId, user_id: &UserId) -> Result<bool, CodeError> {
    let teams = effects_sql::teams_of_users(tx, std::slice::from_ref(user_id)).await?;
    let ids: Vec<TeamId> = teams.iter().map(|t| t.team_id.clone()).collect();
    let infos = effects_sql::team_infos(tx, org_id, &ids).await?;
    // Any membership counts, a waiting one too: such a person signs in through SSO.
    for t in &teams {
        if let Some(info) = infos.get(&t.team_id)
            && sso_enforced(info)
        {
            return Err(CodeError::SsoRequired {
                org: info.org_name.clone(),
                team: info.name.clone(),
            });
        }
    }
    Ok(teams.iter().any(|t| t.state.holds_seat()))
}

/// The email that tells a member of an SSO-enforced team how to sign in, instead of a code.
fn compose_sso_notice(to: String, org: &str, team: &str) -> Email {
    Email {
        to,
        subject: format!("Sign in to {org} through your company's SSO"),
        text_body: format!(
            "Hello,\r\n\r\nSomeone asked for an email sign-in code for this address. {}.\r\n\r\n\
             No code was sent. If you did not ask, ignore this email.\r\n",
            sso_reason(org, team)
        ),
        html_body: None,
        reply_to: None,
    }
}

fn compose(to: String, code: &str, org: &str) -> Email {
    Email {
        to,
        subject: format!("Your sign-in code for {org}: {code}"),
        text_body: format!(
            "Hello,\r\n\r\nYour code to sign in to {org} is:\r\n\r\n    {code}\r\n\r\n\
             It is valid for {CODE_TTL_MINUTES} minutes and works once. If you did not ask \
             for it, ignore this email: nobody can sign in without the code.\r\n"
        ),
        html_body: None,
        reply_to: None,
    }
}

/// What email sign-in does for a user who asked.
enum Answer {
    /// Email a code.
    Code,
    /// Email "use your company SSO": a member of this org's team that enforces it.
    SsoNotice { org: String, team: String },
    /// Nothing: no seat to sign in to.
    Nothing,
}

async fn answer_for(tx: &mut Tx, org_id: &OrgId, user: &UserByEmail) -> Result<Answer, CodeError> {
    if !user.active {
        return Ok(Answer::Nothing);
    }
    match check_teams(tx, org_id, &user.id).await {
        Ok(true) => Ok(Answer::Code),
        Ok(false) => Ok(Answer::Nothing),
        Err(CodeError::SsoRequired { org, team }) => Ok(Answer::SsoNotice { org, team }),
        Err(other) => Err(other),
    }
}

impl Sso {
    /// `POST /sign-in/email` from the client address `requester`: sends a code to `email`
    /// if it is the address of one active user of the org who holds a seat, or the SSO
    /// notice to a member of an SSO-enforced team; answers the same in every case.
    pub async fn send_email_code(
        &self,
        org_id: &OrgId,
        email: &str,
        requester: &str,
    ) -> Result<(), CodeError> {
        let norm = parse_email(email)?;
        let now = self.clock.now();
        let stamp = format_timestamp(now);
        let mut tx = self.store.write().await?;
        let Some(user) = only(sql::users_by_email(&mut tx, org_id, &norm).await?) else {
            return Ok(());
        };
        let answer = answer_for(&mut tx, org_id, &user).await?;
        if matches!(answer, Answer::Nothing) {
            return Ok(());
        }
        let hour_ago = format_timestamp(now - time::Duration::hours(1));
        let (all, mine) =
            sql::emails_since(&mut tx, org_id, &user.id, requester, &hour_ago).await?;
        if all >= EMAILS_PER_HOUR || mine >= EMAILS_PER_HOUR_PER_REQUESTER {
            tracing::info!(user = %user.id, "email sign-in: email limit reached, none sent");
            return Ok(());
        }
        let org = sql::org_name(&mut tx, org_id)
            .await?
            .unwrap_or_else(|| "rollcall".to_owned());
        // Time-ordered (v7): within one clock tick, the later code still sorts last, so
        // "the latest code" is the one sent last.
        let id = uuid::Uuid::now_v7().to_string();
        let to = stored_address(&user, &norm);
        let (email, key, kind, action) = match answer {
            Answer::Code => {
                let code = new_code()?;
                sql::insert(
                    &mut tx,
                    &Code {
                        id: id.clone(),
                        org_id: org_id.to_owned(),
                        user_id: user.id.clone(),
                        code_hash: code_hash(&id, &code),
                        attempts: 0,
                        created: Timestamp::from(now),
                        expires: Timestamp::from(now + time::Duration::minutes(CODE_TTL_MINUTES)),
                        used: None,
                    },
                )
                .await?;
                (
                    compose(to, &code, &org),
                    format!("sign-in-code:{id}"),
                    EventKind::CodeSent,
                    "user.sign_in_code_sent",
                )
            }
            Answer::SsoNotice { org, team } => (
                compose_sso_notice(to, &org, &team),
                format!("sign-in-sso-notice:{id}"),
                EventKind::NoticeSent,
                "user.sign_in_sso_notice_sent",
            ),
            Answer::Nothing => return Ok(()),
        };
        let day_ago = format_timestamp(now - time::Duration::days(1));
        let code_id = (kind == EventKind::CodeSent).then_some(id.as_str());
        sql::record_event(
            &mut tx,
            org_id,
            &user.id,
            requester,
            kind,
            code_id,
            (&stamp, &day_ago),
        )
        .await?;
        crate::outbox::enqueue_email(&mut tx, org_id, &key, &email, now)
            .await
            .map_err(|e| match e {
                crate::outbox::OutboxError::Store(s) => CodeError::Store(s),
                other => CodeError::Internal(other.to_string()),
            })?;
        let actor = format!("user:{}", user.id);
        audit::insert(
            &mut tx,
            &audit::NewEntry {
                org_id,
                at: &stamp,
                actor: &actor,
                action,
                target: &format!("user:{}", user.id),
                before: None,
                after: Some(&json!({"code_id": code_id})),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `POST /sign-in/email/verify` from the client address `requester`: checks the code,
    /// uses it up and signs the person in through the one door ([`signin::sign_in`]).
    ///
    /// The code is used up in its own transaction before sign-in opens its own: sign-in
    /// takes no transaction from the caller, and SQLite has one writer. A code that passed
    /// stays used even if sign-in then refuses the person.
    pub async fn verify_email_code(
        &self,
        org_id: &OrgId,
        email: &str,
        code: &str,
        requester: &str,
    ) -> Result<SignedIn, CodeError> {
        let norm = parse_email(email)?;
        let code = parse_code(code)?;
        let now = self.clock.now();
        let stamp = format_timestamp(now);
        let mut tx = self.store.write().await?;
        let Some(user) = only(sql::users_by_email(&mut tx, org_id, &norm).await?) else {
            return Err(CodeError::Rejected);
        };
        let Some(stored) = sql::latest(&mut tx, org_id, &user.id).await? else {
            return Err(CodeError::Rejected);
        };
        if stored.used.is_some()
            || stored.expires.as_str() <= stamp.as_str()
            || stored.attempts >= MAX_ATTEMPTS
        {
            return Err(CodeError::Rejected);
        }
        // This address's tries are spent; others' (the person's own) are not.
        if sql::wrong_tries(&mut tx, org_id, &user.id, &stored.id, requester).await?
            >= WRONG_TRIES_PER_REQUESTER
        {
            return Err(CodeError::Rejected);
        }
        if !secrets::hashes_equal(&stored.code_hash, &code_hash(&stored.id, &code)) {
            // The wrong try counts even though the request fails.
            sql::add_attempt(&mut tx, &stored.id).await?;
            let day_ago = format_timestamp(now - time::Duration::days(1));
            sql::record_event(
                &mut tx,
                org_id,
                &user.id,
                requester,
                EventKind::WrongCode,
                Some(&stored.id),
                (&stamp, &day_ago),
            )
            .await?;
            tx.commit().await?;
            return Err(CodeError::Rejected);
        }
        // The team may have come under the SSO policy since the code was sent.
        check_teams(&mut tx, org_id, &user.id).await?;
        if !sql::mark_used(&mut tx, &stored.id, &stamp).await? {
            return Err(CodeError::Rejected);
        }
        tx.commit().await?;
        Ok(signin::sign_in(
            self,
            VerifiedLogin {
                org_id: org_id.to_owned(),
                method: SignInMethod::EmailCode,
                match_by: MatchBy::Email,
                value: norm,
                jit: None,
            },
        )
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_input_is_forgiving_but_strict() {
        for _ in 0..50 {
            let c = new_code().unwrap();
            assert_eq!(c.len(), 6);
            assert!(c.chars().all(|c| c.is_ascii_digit()));
        }
        assert_eq!(parse_code(" 123-456 ").unwrap(), "123456");
        assert!(parse_code("12345").is_err());
        assert!(parse_code("12345a").is_err());
        assert_eq!(parse_email(" Ada@Example.COM ").unwrap(), "ada@example.com");
        assert!(parse_email("ada").is_err());
        assert_ne!(code_hash("a", "123456"), code_hash("b", "123456"));
    }
}
