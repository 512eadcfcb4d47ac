//! Email sign-in (issue 4, point 3): a one-time code by email, for members of teams that
//! do not enforce SSO. The code arrives as a real `.eml` file from the outbox worker; the
//! clock is the test's, so codes expire when the test says.

use super::invitations::{Env, mail_to, unfold};
use crate::effects::{queued_emails, store};
use crate::harness::Admin;
use crate::outbox::fixture::body;
use reqwest::{Method, StatusCode};
use rollcall::store::Q;
use serde_json::{Value, json};

/// The six-digit code in a sign-in email.
fn code_in(eml: &str) -> String {
    let text = unfold(body(eml));
    text.split_whitespace()
        .find(|w| w.len() == 6 && w.chars().all(|c| c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no code in {text}"))
        .to_owned()
}

async fn ask(env: &Env, email: &str) -> (StatusCode, Value) {
    ask_via(env, &env.app.client, email).await
}

/// Asks through `client` (e.g. a stranger's, from another address).
async fn ask_via(env: &Env, client: &reqwest::Client, email: &str) -> (StatusCode, Value) {
    let org = env.app.org_id.clone();
    let body = json!({"org_id": org, "email": email});
    let (status, _, json) = env
        .call_with(
            client,
            Method::POST,
            "/sign-in/email",
            Some(&body),
            "application/json",
        )
        .await;
    (status, json)
}

async fn verify(env: &Env, email: &str, code: &str) -> (StatusCode, Value) {
    verify_via(env, &env.app.client, email, code).await
}

async fn verify_via(
    env: &Env,
    client: &reqwest::Client,
    email: &str,
    code: &str,
) -> (StatusCode, Value) {
    let org = env.app.org_id.clone();
    let body = json!({"org_id": org, "email": email, "code": code});
    let (status, _, json) = env
        .call_with(
            client,
            Method::POST,
            "/sign-in/email/verify",
            Some(&body),
            "application/json",
        )
        .await;
    (status, json)
}

/// The codes of the sign-in emails queued, in the order they were sent (the keys carry
/// time-ordered code ids).
async fn queued_codes(env: &Env) -> Vec<String> {
    let mut queued: Vec<(String, Value)> = queued_emails(&env.app)
        .await
        .into_iter()
        .filter(|(k, _)| k.starts_with("sign-in-code:"))
        .collect();
    queued.sort_by(|a, b| a.0.cmp(&b.0));
    queued
        .iter()
        .map(|(_, e)| code_in(&format!("\r\n\r\n{}", e["text_body"].as_str().unwrap())))
        .collect()
}

/// Sign-in codes queued so far.
async fn codes_sent(env: &Env) -> usize {
    queued_emails(&env.app)
        .await
        .iter()
        .filter(|(key, _)| key.starts_with("sign-in-code:"))
        .count()
}

/// A code that is not `code`.
fn other_than(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

fn assert_rejected(r: &(StatusCode, Value)) {
    assert_eq!(r.0, StatusCode::BAD_REQUEST, "{:?}", r.1);
    assert_eq!(r.1["error"], "invalid_code", "{:?}", r.1);
    assert!(
        r.1["message"]
            .as_str()
            .unwrap()
            .contains("ask for a new code")
    );
}

/// A verified code opens a session: the token response of RFC 6749 §5.1.
fn assert_signed_in(r: &(StatusCode, Value)) {
    assert_eq!(r.0, StatusCode::OK, "{:?}", r.1);
    assert!(r.1["access_token"].is_string(), "{:?}", r.1);
    assert!(r.1["refresh_token"].is_string(), "{:?}", r.1);
    assert_eq!(r.1["token_type"], "Bearer");
}

async fn a_code_arrives_by_email_and_works_once(env: Env) {
    let ada = env.app.create_user("ada@example.com").await;
    let (status, answer) = ask(&env, "Ada@Example.com ").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer:?}");
    let mail = mail_to(&env.app, 2, "ada@example.com", "Your sign-in code for Acme").await;
    let code = code_in(&mail);
    assert!(
        crate::outbox::fixture::header(&mail, "Subject")
            .unwrap()
            .ends_with(&code)
    );
    // Only a hash is stored.
    let s = store(&env.app).await;
    let mut tx = s.read().await.unwrap();
    let row = tx
        .fetch_one(
            Q::new("SELECT code_hash, attempts FROM email_sign_in_codes WHERE user_id = ?")
                .bind(ada.as_str()),
        )
        .await
        .unwrap();
    drop(tx);
    s.close().await;
    let stored = row.text("code_hash").unwrap();
    assert!(!stored.contains(&code) && stored.len() == 64, "{stored}");

    assert_rejected(&verify(&env, "ada@example.com", &other_than(&code)).await);
    let first = verify(
        &env,
        "ADA@example.com",
        &format!("{} {}", &code[..3], &code[3..]),
    )
    .await;
    assert_signed_in(&first);
    // The session is Ada's, and her membership is active now.
    let me = env
        .app
        .client
        .get(format!("{}/Me", env.app.base))
        .bearer_auth(first.1["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["id"], ada.as_str());
    let memberships = env.app.memberships_of(&ada).await;
    assert!(!memberships.is_empty());
    for m in memberships {
        assert_eq!(m.state.as_str(), "active");
    }
    // Single use.
    assert_rejected(&verify(&env, "ada@example.com", &code).await);
}

async fn unknown_addresses_get_the_same_answer(env: Env) {
    env.app.create_user("ada@example.com").await;
    let known = ask(&env, "ada@example.com").await;
    assert_eq!(known.0, StatusCode::ACCEPTED);
    assert_eq!(codes_sent(&env).await, 1);
    // Nobody, a deactivated user, another org: the same answer, no email.
    let carl = env.app.create_user("carl@example.com").await;
    let r = env
        .app
        .patch(
            &format!("/Users/{carl}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "value": {"active": false}}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Dora waits for a seat: nothing to sign in to yet.
    crate::effects::set_pool(&env.app, 1).await;
    let dora = env.app.create_user("dora@example.com").await;
    let team = crate::effects::default_team(&env.app).await;
    assert_eq!(
        crate::harness::member_states(&env.app, &team).await[&dora],
        "awaiting_seat"
    );
    for email in ["nobody@example.com", "carl@example.com", "dora@example.com"] {
        assert_eq!(ask(&env, email).await, known, "{email}");
    }
    let org = env.app.org_id.clone();
    let other = env
        .json(
            Method::POST,
            "/sign-in/email",
            Some(&json!({"org_id": "another-org", "email": "ada@example.com"})),
        )
        .await;
    assert_eq!(other, known);
    assert_eq!(codes_sent(&env).await, 1, "no code for any of them");
    // Verifying for an unknown address fails like a wrong code.
    assert_rejected(&verify(&env, "nobody@example.com", "123456").await);
    // Bad input is told apart from a refusal.
    for (body, needle) in [
        (
            json!({"org_id": org, "email": "not an address"}),
            "not an email address",
        ),
        (json!({"org_id": org}), "email"),
        (
            json!({"org_id": org, "email": "a@example.com", "extra": 1}),
            "extra",
        ),
    ] {
        let (status, err) = env.json(Method::POST, "/sign-in/email", Some(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{err:?}");
        assert_eq!(err["error"], "invalid_request");
        assert!(err["message"].as_str().unwrap().contains(needle), "{err:?}");
    }
    let (status, err) = env
        .json(
            Method::POST,
            "/sign-in/email/verify",
            Some(&json!({"org_id": org, "email": "ada@example.com", "code": "12ab"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        err["message"].as_str().unwrap().contains("6 digits"),
        "{err:?}"
    );
}

async fn expired_replaced_and_exhausted_codes_are_refused(env: Env) {
    env.app.create_user("ada@example.com").await;
    ask(&env, "ada@example.com").await;
    let first = code_in(&mail_to(&env.app, 2, "ada@example.com", "sign-in code").await);
    env.advance(time::Duration::minutes(10) + time::Duration::seconds(1));
    assert_rejected(&verify(&env, "ada@example.com", &first).await);

    // A new code replaces the old one.
    ask(&env, "ada@example.com").await;
    ask(&env, "ada@example.com").await;
    assert_eq!(codes_sent(&env).await, 3);
    let codes = queued_codes(&env).await;
    let (second, third) = (codes[1].clone(), codes[2].clone());
    if second != third {
        assert_rejected(&verify(&env, "ada@example.com", &second).await);
    }
    // Five wrong tries from one address lock the code for it: the right one no longer works.
    for _ in 0..5 {
        assert_rejected(&verify(&env, "ada@example.com", &other_than(&third)).await);
    }
    assert_rejected(&verify(&env, "ada@example.com", &third).await);

    // At most five codes an hour asked from one address; the sixth answers the same and sends nothing.
    for _ in 0..3 {
        assert_eq!(ask(&env, "ada@example.com").await.0, StatusCode::ACCEPTED);
    }
    assert_eq!(codes_sent(&env).await, 5, "five codes within the hour");
    let before = codes_sent(&env).await;
    assert_eq!(ask(&env, "ada@example.com").await.0, StatusCode::ACCEPTED);
    assert_eq!(codes_sent(&env).await, before);
    env.advance(time::Duration::hours(1) + time::Duration::seconds(1));
    assert_eq!(ask(&env, "ada@example.com").await.0, StatusCode::ACCEPTED);
    assert_eq!(codes_sent(&env).await, before + 1);
    let latest = queued_emails(&env.app).await.last().unwrap().1["text_body"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = code_in(&format!("\r\n\r\n{latest}"));
    assert_signed_in(&verify(&env, "ada@example.com", &code).await);
}

async fn members_of_sso_enforced_teams_are_told_to_use_their_company_sso_by_email(env: Env) {
    let app = &env.app;
    let admin = Admin::new(app).await;
    let team = admin.team_named("Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.create_user("ada@example.com").await;
    // A code asked for before the policy ...
    ask(&env, "ada@example.com").await;
    let code = code_in(&mail_to(app, 2, "ada@example.com", "sign-in code").await);
    let r = admin
        .put("/policies/sso", &json!({"team_ids": [team]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let sent = codes_sent(&env).await;
    // Asking answers as it does for a stranger: nobody learns who is a member of which
    // team. The reason goes to the person's own mailbox.
    let member = ask(&env, "ada@example.com").await;
    assert_eq!(member, ask(&env, "nobody@example.com").await);
    assert_eq!(member.0, StatusCode::ACCEPTED, "{member:?}");
    let notice = unfold(body(
        &mail_to(app, 3, "ada@example.com", "company's SSO").await,
    ));
    assert!(
        notice.contains("single sign-on") && notice.contains("identity provider (SSO)"),
        "{notice}"
    );
    assert!(notice.contains("Acme"), "{notice}");
    assert_eq!(codes_sent(&env).await, sent, "no code for an SSO member");
    // A guessed code gets the one refusal, which points at the email.
    let guess = verify(&env, "ada@example.com", &other_than(&code)).await;
    assert_rejected(&guess);
    assert!(
        guess.1["message"].as_str().unwrap().contains("SSO"),
        "{guess:?}"
    );
    // The code from before the policy proves the address: now the reason may be told,
    // and the code stays unused.
    let (status, err) = verify(&env, "ada@example.com", &code).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err:?}");
    assert_eq!(err["error"], "sso_required");
    // Lifting the policy lets the same code through.
    let r = admin.put("/policies/sso", &json!({"team_ids": []})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_signed_in(&verify(&env, "ada@example.com", &code).await);
}

async fn a_stranger_uses_up_their_own_budget_not_the_persons(env: Env) {
    env.app.create_user("ada@example.com").await;
    let stranger = crate::rate_limits::client_from("127.0.0.2");
    // The stranger asks again and again: five codes reach Ada, then nothing more.
    for _ in 0..7 {
        let r = ask_via(&env, &stranger, "ada@example.com").await;
        assert_eq!(r.0, StatusCode::ACCEPTED, "{r:?}");
    }
    assert_eq!(codes_sent(&env).await, 5);
    // Ada, from her own address, still gets a code.
    assert_eq!(ask(&env, "ada@example.com").await.0, StatusCode::ACCEPTED);
    assert_eq!(codes_sent(&env).await, 6);
    let code = queued_codes(&env).await.pop().unwrap();
    // The stranger's wrong guesses lock the code for the stranger, even the right one ...
    for _ in 0..5 {
        assert_rejected(&verify_via(&env, &stranger, "ada@example.com", &other_than(&code)).await);
    }
    assert_rejected(&verify_via(&env, &stranger, "ada@example.com", &code).await);
    // ... but not for Ada.
    assert_signed_in(&verify(&env, "ada@example.com", &code).await);
}

/// A person deactivated after the code was sent is refused with the code every sign-in
/// route uses for it (OIDC and SAML too): `user_deactivated`.
async fn a_user_deactivated_after_the_code_was_sent_is_refused_as_deactivated(env: Env) {
    let ada = env.app.create_user("ada@example.com").await;
    assert_eq!(ask(&env, "ada@example.com").await.0, StatusCode::ACCEPTED);
    let code = queued_codes(&env).await.pop().unwrap();
    let r = env
        .app
        .patch(
            &format!("/Users/{ada}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "value": {"active": false}}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (status, body) = verify(&env, "ada@example.com", &code).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body:?}");
    assert_eq!(body["error"], "user_deactivated", "{body:?}");
    assert!(body.get("access_token").is_none());
}

crate::both_backends!(setup = crate::sso::invitations::Env::new;
    a_user_deactivated_after_the_code_was_sent_is_refused_as_deactivated,
    a_code_arrives_by_email_and_works_once,
    unknown_addresses_get_the_same_answer,
    expired_replaced_and_exhausted_codes_are_refused,
    members_of_sso_enforced_teams_are_told_to_use_their_company_sso_by_email,
    a_stranger_uses_up_their_own_budget_not_the_persons,
);
