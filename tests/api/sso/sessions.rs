//! Sign-in and sessions (issue 4, points 2 and 5), on SQLite and PostgreSQL.
//!
//! The OIDC, SAML and email flows that produce a `VerifiedLogin` are tested in their own
//! modules; here the test drives `sign_in` through the library against the running
//! server's own database, and does everything else over HTTP: the JWKS, the token
//! endpoint, introspection, SCIM and the admin API. Webhooks go to a real receiver and are
//! checked with the independent `standardwebhooks` implementation; tokens are checked with
//! the keys the server publishes.

use crate::effects::{PATCH_OP, ROLLCALL, add_team, default_team, set_pool, store, user_body};
use crate::harness::{Resp, TestApp, create_org_and_token};
use crate::harness::{admin_token, admin_token_for};
use crate::outbox::receiver::Receiver;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use reqwest::{Method, StatusCode};
use rollcall::domain::OrgId;
use rollcall::outbox::{self, NewEndpoint, WebhookSecret};
use rollcall::sso::signin::{
    JitProfile, MatchBy, Refusal, SignInMethod, SignedIn, VerifiedLogin, sign_in,
};
use rollcall::store::Q;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use std::time::Duration;

crate::both_backends!(setup = crate::harness::spawn_fast_outbox;
    sign_in_matches_by_user_name_email_or_external_id_within_the_org,
    deactivated_and_unknown_users_are_refused,
    just_in_time_creation_only_when_on_and_under_the_seat_rules,
    refresh_rotates_and_reuse_revokes_the_whole_session,
    token_endpoint_answers_oauth_errors,
    introspection_answers_active_only_for_live_tokens_of_the_callers_org,
    introspection_reports_the_current_teams_and_org_role,
    forged_tokens_are_inactive,
    deprovisioning_revokes_sessions_at_once,
    key_rotation_keeps_issued_tokens_valid,
    me_answers_the_signed_in_user,
);

/// On the app's clock, moved by the test: expiry and "last active moves on" without real
/// waiting, no race with a loaded machine.
mod on_manual_clock {
    use super::*;

    crate::both_backends!(setup = crate::harness::spawn_on_manual_clock;
        sign_in_activates_memberships_and_issues_a_token_the_jwks_verifies,
        expired_access_tokens_are_inactive_and_refresh_renews_them,
    );
}

// ---- helpers ----

fn login(app: &TestApp, by: MatchBy, value: &str) -> VerifiedLogin {
    login_to(app.org_id.as_str(), by, value)
}

fn login_to(org_id: &str, by: MatchBy, value: &str) -> VerifiedLogin {
    VerifiedLogin {
        org_id: OrgId::from(org_id.to_owned()),
        method: SignInMethod::Oidc {
            connection_id: "okta".into(),
        },
        match_by: by,
        value: value.to_owned(),
        jit: None,
    }
}

async fn signed_in(app: &TestApp, by: MatchBy, value: &str) -> SignedIn {
    match sign_in(&app.sso, login(app, by, value)).await {
        Ok(s) => s,
        Err(e) => panic!("sign-in of {value} refused: {e}"),
    }
}

/// Creates a user with a work email and optional extras; returns its id.
async fn create_user(app: &TestApp, body: Value) -> String {
    let r = app.post("/Users", &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn http(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    form: Option<&[(&str, &str)]>,
) -> Resp {
    let mut req = app.client.request(method, format!("{}{path}", app.address));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(f) = form {
        req = req
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(f).unwrap());
    }
    Resp::read(req.send().await.unwrap()).await
}

async fn jwks(app: &TestApp) -> JwkSet {
    let r = http(app, Method::GET, "/.well-known/jwks.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/jwk-set+json"));
    serde_json::from_value(r.body).unwrap()
}

/// Verifies a token with the published JWKS as a relying party would: EdDSA only, the
/// key found by `kid`, issuer and expiry checked. Returns the header and the claims.
async fn verify(app: &TestApp, token: &str) -> (Header, Value) {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    let kid = header.kid.clone().expect("the header names its key");
    let set = jwks(app).await;
    let jwk = set.find(&kid).expect("the token's key is published");
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[app.address.as_str()]);
    validation.validate_aud = false;
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation).unwrap();
    (header, data.claims)
}

async fn introspect(app: &TestApp, admin: &str, token: &str) -> Value {
    let r = http(
        app,
        Method::POST,
        "/oauth/introspect",
        Some(admin),
        Some(&[("token", token)]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    r.body
}

async fn refresh(app: &TestApp, refresh_token: &str) -> Resp {
    http(
        app,
        Method::POST,
        "/oauth/token",
        None,
        Some(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ]),
    )
    .await
}

/// (team, state, first_sign_in_at, last_active_at) of a user's memberships, by team.
async fn memberships(
    app: &TestApp,
    user_id: &str,
) -> Vec<(String, String, Option<String>, Option<String>)> {
    let mut out = Vec::new();
    for m in app.memberships_of(user_id).await {
        let detail = app
            .team_members(m.team_id.as_str())
            .await
            .into_iter()
            .find(|d| d.user_id == user_id)
            .unwrap();
        out.push((
            m.team_id.into_string(),
            m.state.to_string(),
            detail.first_sign_in.map(|t| t.to_string()),
            detail.last_active.map(|t| t.to_string()),
        ));
    }
    out.sort();
    out
}

async fn user_count(app: &TestApp) -> i64 {
    let r = app.get("/Users?count=0").await;
    r.body["totalResults"].as_i64().unwrap()
}

async fn webhook_endpoint(app: &TestApp) -> (Receiver, WebhookSecret) {
    let receiver = Receiver::start(&[]).await;
    let secret = WebhookSecret::generate().unwrap();
    let s = store(app).await;
    let mut tx = s.write().await.unwrap();
    outbox::create_endpoint(
        &mut tx,
        &app.org_id,
        NewEndpoint {
            url: receiver.url.clone(),
            secret: Some(secret.clone()),
            event_types: None,
            enabled: true,
        },
        time::OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    s.close().await;
    (receiver, secret)
}

/// The verified webhook bodies of type `kind`, once there are `n` (or after 10 s).
async fn events(receiver: &Receiver, secret: &WebhookSecret, kind: &str, n: usize) -> Vec<Value> {
    let verifier = standardwebhooks::Webhook::new(secret.expose()).unwrap();
    let mut got = Vec::new();
    for _ in 0..200 {
        got = receiver
            .deliveries()
            .iter()
            .map(|d| {
                verifier.verify(&d.body, &d.headers).unwrap();
                serde_json::from_slice::<Value>(&d.body).unwrap()
            })
            .filter(|e| e["type"] == kind)
            .collect();
        if got.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    got
}

async fn audit_actions(app: &TestApp, admin: &str) -> Vec<Value> {
    let r = http(
        app,
        Method::GET,
        "/admin/v1/audit?limit=500",
        Some(admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["entries"].as_array().unwrap().clone()
}

fn with_team(user_name: &str, team: &str, role: &str) -> Value {
    let mut body = user_body(user_name);
    body["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User", ROLLCALL]);
    body[ROLLCALL] = json!({"teams": [{"value": team, "role": role}]});
    body
}

// ---- tests ----

async fn sign_in_activates_memberships_and_issues_a_token_the_jwks_verifies(app: TestApp) {
    let admin = admin_token(&app, "ops").await;
    let (receiver, secret) = webhook_endpoint(&app).await;
    let beta = add_team(&app, "Beta").await;
    // Two seats: Zed takes one, so of Ada's two teams one gets a seat and one waits.
    set_pool(&app, 2).await;
    create_user(&app, user_body("zed@example.com")).await;
    let ada = create_user(&app, with_team("ada@example.com", &beta, "admin")).await;
    let r = app
        .request_with(
            Method::POST,
            &format!("{}/admin/v1/org-roles", app.address),
            Some(&json!({"user_id": ada, "role": "org_admin"})),
            Some(&admin),
            &[],
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let before = memberships(&app, &ada).await;
    assert_eq!(before.len(), 2, "{before:?}");
    let seated: Vec<_> = before.iter().filter(|m| m.1 == "invited").collect();
    let waiting: Vec<_> = before.iter().filter(|m| m.1 == "awaiting_seat").collect();
    assert_eq!((seated.len(), waiting.len()), (1, 1), "{before:?}");
    let seated_team = seated[0].0.clone();
    let seated_role = if seated_team == beta { "admin" } else { "user" };
    assert!(before.iter().all(|m| m.2.is_none() && m.3.is_none()));

    let s = signed_in(&app, MatchBy::Email, "ADA@example.com").await;
    assert_eq!(s.user_id, ada);
    assert_eq!(s.expires_in, 900);
    assert!(!s.created);
    assert!(s.refresh_token.starts_with("rcr_"));

    // The seat-holding membership is active with both times set; the waiting one is not.
    let after = memberships(&app, &ada).await;
    let active = after.iter().find(|m| m.0 == seated_team).unwrap();
    assert_eq!(active.1, "active");
    let first = active.2.clone().expect("first sign-in time set");
    assert_eq!(active.3.as_deref(), Some(first.as_str()));
    let still_waiting = after.iter().find(|m| m.0 != seated_team).unwrap();
    assert_eq!(
        (still_waiting.1.as_str(), &still_waiting.2, &still_waiting.3),
        ("awaiting_seat", &None, &None)
    );

    // The access token verifies with the published key and carries who and what.
    let (header, claims) = verify(&app, &s.access_token).await;
    assert!(header.kid.is_some());
    assert_eq!(claims["iss"], app.address.as_str());
    assert_eq!(claims["sub"], ada.as_str());
    assert_eq!(claims["org"], app.org_id.as_str());
    assert_eq!(
        claims["teams"],
        json!([{"id": seated_team, "role": seated_role}])
    );
    assert_eq!(claims["org_role"], "org_admin");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert_eq!(claims["sid"], s.session_id.as_str());
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));

    // Audit entry and a signed webhook.
    let entries = audit_actions(&app, &admin).await;
    let entry = entries
        .iter()
        .find(|e| e["action"] == "user.signed_in")
        .expect("sign-in audited");
    assert_eq!(entry["actor"], "sso:oidc:okta");
    assert_eq!(entry["target"], format!("user:{ada}"));
    assert_eq!(entry["after"]["session_id"], s.session_id.as_str());
    assert_eq!(
        entry["after"]["activated"][0]["team_id"],
        seated_team.as_str()
    );
    let got = events(&receiver, &secret, "user.signed_in", 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["data"]["user"]["id"], ada.as_str());
    assert_eq!(got[0]["data"]["user"]["userName"], "ada@example.com");
    assert_eq!(got[0]["data"]["method"], "oidc:okta");
    assert_eq!(got[0]["data"]["session_id"], s.session_id.as_str());

    // A second sign-in keeps the first time and moves last active on.
    app.advance(time::Duration::seconds(1));
    let again = signed_in(&app, MatchBy::UserName, "ada@example.com").await;
    assert_ne!(again.session_id, s.session_id);
    let later = memberships(&app, &ada).await;
    let active = later.iter().find(|m| m.0 == seated_team).unwrap();
    assert_eq!(active.2.as_deref(), Some(first.as_str()));
    assert!(active.3.as_deref().unwrap() > first.as_str());
    assert_eq!(
        events(&receiver, &secret, "user.signed_in", 2).await.len(),
        2
    );
}

async fn sign_in_matches_by_user_name_email_or_external_id_within_the_org(app: TestApp) {
    let mut body = user_body("ada.l");
    body["emails"] = json!([
        {"value": "Ada@Example.com", "type": "work", "primary": true},
        {"value": "ada@home.example", "type": "home"}
    ]);
    body["externalId"] = json!("00u-ADA");
    let ada = create_user(&app, body).await;

    assert_eq!(
        signed_in(&app, MatchBy::UserName, "ADA.L").await.user_id,
        ada
    );
    assert_eq!(
        signed_in(&app, MatchBy::Email, "ada@example.COM")
            .await
            .user_id,
        ada
    );
    assert_eq!(
        signed_in(&app, MatchBy::Email, "ada@home.example")
            .await
            .user_id,
        ada
    );
    assert_eq!(
        signed_in(&app, MatchBy::ExternalId, "00u-ADA")
            .await
            .user_id,
        ada
    );
    // externalId is exact; an email is not a userName.
    for (by, value) in [
        (MatchBy::ExternalId, "00u-ada"),
        (MatchBy::UserName, "ada@example.com"),
        (MatchBy::Email, "ada.l"),
        (MatchBy::Email, ""),
    ] {
        let r = sign_in(&app.sso, login(&app, by, value)).await;
        assert!(
            matches!(r, Err(Refusal::NoSuchUser)),
            "{by:?} {value}: {r:?}"
        );
    }

    // A user of another org never matches, even with the same email.
    let (globex, globex_scim) = create_org_and_token(&app.database_url, "Globex").await;
    let r = app
        .request_with(
            Method::POST,
            "/Users",
            Some(&user_body("grace@example.com")),
            Some(&globex_scim),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = sign_in(&app.sso, login(&app, MatchBy::Email, "grace@example.com")).await;
    assert!(matches!(r, Err(Refusal::NoSuchUser)), "{r:?}");
    let r = sign_in(
        &app.sso,
        login_to(globex.as_str(), MatchBy::Email, "ada@example.com"),
    )
    .await;
    assert!(matches!(r, Err(Refusal::NoSuchUser)), "{r:?}");
    let grace = sign_in(
        &app.sso,
        login_to(globex.as_str(), MatchBy::Email, "grace@example.com"),
    )
    .await
    .unwrap();
    let (_, claims) = verify(&app, &grace.access_token).await;
    assert_eq!(claims["org"], globex.as_str());

    // Two users sharing an address: refused rather than guessed.
    let mut twin = user_body("ada.twin");
    twin["emails"] = json!([{"value": "ada@example.com", "type": "work"}]);
    create_user(&app, twin).await;
    let r = sign_in(&app.sso, login(&app, MatchBy::Email, "ada@example.com")).await;
    assert!(matches!(r, Err(Refusal::Ambiguous)), "{r:?}");
}

async fn deactivated_and_unknown_users_are_refused(app: TestApp) {
    let mut body = user_body("ada@example.com");
    body["active"] = json!(false);
    create_user(&app, body).await;
    let r = sign_in(&app.sso, login(&app, MatchBy::Email, "ada@example.com")).await;
    assert!(matches!(r, Err(Refusal::Deactivated)), "{r:?}");
    // Even where just-in-time creation is on: the deactivated user is not replaced.
    let mut jit = login(&app, MatchBy::Email, "ada@example.com");
    jit.jit = Some(JitProfile {
        user_name: "ada2@example.com".into(),
        email: Some("ada@example.com".into()),
        ..JitProfile::default()
    });
    let r = sign_in(&app.sso, jit).await;
    assert!(matches!(r, Err(Refusal::Deactivated)), "{r:?}");
    let r = sign_in(&app.sso, login(&app, MatchBy::Email, "nobody@example.com")).await;
    let e = r.unwrap_err();
    assert!(matches!(e, Refusal::NoSuchUser));
    assert!(e.to_string().contains("ask your IT admin"), "{e}");
    assert_eq!(user_count(&app).await, 1);
}

async fn just_in_time_creation_only_when_on_and_under_the_seat_rules(app: TestApp) {
    let admin = admin_token(&app, "ops").await;
    let acme = default_team(&app).await;
    set_pool(&app, 1).await;
    let jit = |value: &str| {
        let mut l = login(&app, MatchBy::Email, value);
        l.jit = Some(JitProfile {
            user_name: value.to_owned(),
            email: Some(value.to_owned()),
            given_name: Some("New".into()),
            family_name: Some("Person".into()),
            external_id: Some(format!("ext-{value}")),
        });
        l
    };

    // Off: refused, nothing created.
    let r = sign_in(&app.sso, login(&app, MatchBy::Email, "ann@example.com")).await;
    assert!(matches!(r, Err(Refusal::NoSuchUser)), "{r:?}");
    assert_eq!(user_count(&app).await, 0);

    // On: created through the SCIM rules (default team, seat taken) and signed in.
    let ann = sign_in(&app.sso, jit("ann@example.com")).await.unwrap();
    assert!(ann.created);
    let user = app.get(&format!("/Users/{}", ann.user_id)).await;
    assert_eq!(user.status, StatusCode::OK);
    assert_eq!(user.body["userName"], "ann@example.com");
    assert_eq!(user.body["externalId"], "ext-ann@example.com");
    assert_eq!(user.body["name"]["givenName"], "New");
    assert_eq!(
        memberships(&app, ann.user_id.as_str()).await[0].0.as_str(),
        acme.as_str()
    );
    assert_eq!(memberships(&app, ann.user_id.as_str()).await[0].1, "active");
    let (_, claims) = verify(&app, &ann.access_token).await;
    assert_eq!(claims["teams"], json!([{"id": acme, "role": "user"}]));
    let entries = audit_actions(&app, &admin).await;
    let created = entries
        .iter()
        .find(|e| e["action"] == "user.created")
        .unwrap();
    assert_eq!(created["actor"], "sso:oidc:okta");
    // Signing in again finds the user made just in time.
    let again = sign_in(&app.sso, jit("ann@example.com")).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.user_id, ann.user_id);

    // The pool is full. Waitlist (the default): created, waiting, no team in the token.
    let bo = sign_in(&app.sso, jit("bo@example.com")).await.unwrap();
    assert_eq!(
        memberships(&app, bo.user_id.as_str()).await[0].1,
        "awaiting_seat"
    );
    let (_, claims) = verify(&app, &bo.access_token).await;
    assert_eq!(claims["teams"], json!([]));

    // Reject: the sign-in fails naming the team, and nothing is created.
    let r = app
        .request_with(
            Method::PATCH,
            &format!("{}/admin/v1/settings", app.address),
            Some(&json!({"seat_overflow": "reject"})),
            Some(&admin),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let before = user_count(&app).await;
    let r = sign_in(&app.sso, jit("cy@example.com")).await;
    match r {
        Err(Refusal::Provisioning(e)) => assert!(e.to_string().contains("Acme"), "{e}"),
        other => panic!("expected a seat refusal, got {other:?}"),
    }
    assert_eq!(user_count(&app).await, before);
}

async fn refresh_rotates_and_reuse_revokes_the_whole_session(app: TestApp) {
    let admin = admin_token(&app, "backend").await;
    let (receiver, secret) = webhook_endpoint(&app).await;
    let ada = app.create_user("ada@example.com").await;
    let s = signed_in(&app, MatchBy::Email, "ada@example.com").await;

    let r = refresh(&app, &s.refresh_token).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    let access2 = r.body["access_token"].as_str().unwrap().to_owned();
    let refresh2 = r.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh2, s.refresh_token);
    assert_ne!(access2, s.access_token);
    let (_, claims) = verify(&app, &access2).await;
    assert_eq!(claims["sid"], s.session_id.as_str());
    assert_eq!(claims["sub"], ada.as_str());
    assert_eq!(introspect(&app, &admin, &access2).await["active"], true);

    // The retired token comes back: refused, and the whole family is revoked.
    let r = refresh(&app, &s.refresh_token).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"], "invalid_grant");
    let r = refresh(&app, &refresh2).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(r.body["error"], "invalid_grant");
    assert_eq!(
        introspect(&app, &admin, &access2).await,
        json!({"active": false})
    );
    assert_eq!(
        introspect(&app, &admin, &s.access_token).await,
        json!({"active": false})
    );
    let got = events(&receiver, &secret, "user.sessions_revoked", 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["data"]["reason"], "refresh_token_reuse");
    assert_eq!(got[0]["data"]["user"]["id"], ada.as_str());

    // Other sessions of the same user are untouched.
    let other = signed_in(&app, MatchBy::Email, "ada@example.com").await;
    assert_eq!(
        refresh(&app, &other.refresh_token).await.status,
        StatusCode::OK
    );

    // Only the hash is stored.
    let s2 = store(&app).await;
    let mut tx = s2.read().await.unwrap();
    let rows = tx
        .fetch_all(Q::new("SELECT token_hash FROM refresh_tokens"))
        .await
        .unwrap();
    drop(tx);
    s2.close().await;
    assert!(rows.len() >= 3);
    for r in rows {
        let h = r.text("token_hash").unwrap();
        assert_eq!(h.len(), 64);
        assert_ne!(h, other.refresh_token);
    }
}

async fn token_endpoint_answers_oauth_errors(app: TestApp) {
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("refresh_token", "x")], "invalid_request"),
        (
            &[("grant_type", "password"), ("refresh_token", "x")],
            "unsupported_grant_type",
        ),
        (&[("grant_type", "refresh_token")], "invalid_request"),
        (
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "rcr_nope"),
            ],
            "invalid_grant",
        ),
    ];
    for (form, code) in cases {
        let r = http(&app, Method::POST, "/oauth/token", None, Some(form)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{form:?}: {:?}", r.body);
        assert_eq!(r.body["error"], code, "{form:?}");
        assert!(r.body["error_description"].as_str().is_some());
    }
    let r = app
        .request_with(
            Method::POST,
            &format!("{}/oauth/token", app.address),
            Some(&json!({"grant_type": "refresh_token"})),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

async fn introspection_answers_active_only_for_live_tokens_of_the_callers_org(app: TestApp) {
    let admin = admin_token(&app, "backend").await;
    let acme = default_team(&app).await;
    let ada = app.create_user("ada@example.com").await;
    let s = signed_in(&app, MatchBy::Email, "ada@example.com").await;

    let body = introspect(&app, &admin, &s.access_token).await;
    assert_eq!(body["active"], true, "{body:?}");
    assert_eq!(body["sub"], ada.as_str());
    assert_eq!(body["org"], app.org_id.as_str());
    assert_eq!(body["teams"], json!([{"id": acme, "role": "user"}]));
    assert_eq!(body["sid"], s.session_id.as_str());
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["exp"].as_i64().unwrap() > body["iat"].as_i64().unwrap());
    assert!(body.get("org_role").is_none());

    // The caller must be an admin token: none, a SCIM token, garbage → 401.
    for caller in [None, Some(app.token.as_str()), Some("rca_nope")] {
        let r = http(
            &app,
            Method::POST,
            "/oauth/introspect",
            caller,
            Some(&[("token", s.access_token.as_str())]),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{caller:?}");
        assert_eq!(r.body["error"], "invalid_token");
        assert!(r.header("www-authenticate").is_some());
    }
    // Another org's admin learns nothing about this org's token.
    let (globex, _) = create_org_and_token(&app.database_url, "Globex").await;
    let other_admin = admin_token_for(&app, globex.as_str(), "globex backend").await;
    assert_eq!(
        introspect(&app, &other_admin, &s.access_token).await,
        json!({"active": false})
    );
    // Not a token at all; a refresh token; a missing parameter.
    for junk in ["", "not.a.jwt", "a.b.c", s.refresh_token.as_str()] {
        if junk.is_empty() {
            let r = http(
                &app,
                Method::POST,
                "/oauth/introspect",
                Some(&admin),
                Some(&[]),
            )
            .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST);
            assert_eq!(r.body["error"], "invalid_request");
            continue;
        }
        assert_eq!(
            introspect(&app, &admin, junk).await,
            json!({"active": false}),
            "{junk}"
        );
    }
}

/// Introspection answers the teams and org role as they are now, not as they were signed
/// into the token: a person the IdP removed from a team after signing in is no longer
/// reported a member of it (issue 16, point 12).
async fn introspection_reports_the_current_teams_and_org_role(app: TestApp) {
    let admin = admin_token(&app, "backend").await;
    let acme = default_team(&app).await;
    let beta = add_team(&app, "Beta").await;
    let ada = create_user(&app, with_team("ada@example.com", &beta, "admin")).await;
    let org_roles = format!("{}/admin/v1/org-roles", app.address);
    let r = app
        .request_with(
            Method::POST,
            &org_roles,
            Some(&json!({"user_id": ada, "role": "org_analyst"})),
            Some(&admin),
            &[],
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let s = signed_in(&app, MatchBy::Email, "ada@example.com").await;
    let mut both = vec![
        json!({"id": acme, "role": "user"}),
        json!({"id": beta, "role": "admin"}),
    ];
    both.sort_by_key(|t| t["id"].as_str().unwrap().to_owned());
    let body = introspect(&app, &admin, &s.access_token).await;
    assert_eq!(body["teams"], json!(both), "{body:?}");
    assert_eq!(body["org_role"], "org_analyst", "{body:?}");

    // The IdP takes Ada out of Beta; an admin takes her org role away.
    let r = app
        .patch(
            &format!("/Users/{ada}"),
            &json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "remove", "path": format!("{ROLLCALL}:teams[value eq \"{beta}\"]")}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app
        .request_with(
            Method::DELETE,
            &format!("{org_roles}/{ada}"),
            None,
            Some(&admin),
            &[],
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);

    let body = introspect(&app, &admin, &s.access_token).await;
    assert_eq!(body["active"], true, "{body:?}");
    assert_eq!(
        body["teams"],
        json!([{"id": acme, "role": "user"}]),
        "{body:?}"
    );
    assert!(body.get("org_role").is_none(), "{body:?}");
    // The token itself still says what was true when it was issued.
    let (_, claims) = verify(&app, &s.access_token).await;
    assert_eq!(claims["teams"], json!(both));
}

/// Sets a JWT's segments from JSON and a signature.
fn jwt(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string()),
        B64.encode(signature)
    )
}

async fn forged_tokens_are_inactive(app: TestApp) {
    let admin = admin_token(&app, "backend").await;
    app.create_user("ada@example.com").await;
    let s = signed_in(&app, MatchBy::Email, "ada@example.com").await;
    let (header, claims) = verify(&app, &s.access_token).await;
    let kid = header.kid.clone().unwrap();
    assert_eq!(
        introspect(&app, &admin, &s.access_token).await["active"],
        true
    );
    let set = jwks(&app).await;
    let x = serde_json::to_value(set.find(&kid).unwrap()).unwrap()["x"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut forged = Vec::new();
    // `alg: none`, unsigned (RFC 7519 §6), with and without a kid.
    forged.push(jwt(
        &json!({"alg": "none", "typ": "JWT", "kid": kid}),
        &claims,
        b"",
    ));
    forged.push(jwt(&json!({"alg": "none"}), &claims, b""));
    // HS256 "signed" with the public key, as the raw bytes and as the published text: the
    // classic algorithm confusion attack.
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(kid.clone());
    for secret in [B64.decode(&x).unwrap(), x.clone().into_bytes()] {
        forged
            .push(jsonwebtoken::encode(&hs, &claims, &EncodingKey::from_secret(&secret)).unwrap());
    }
    // A real signature over different claims: another user's id swapped in.
    let parts: Vec<&str> = s.access_token.split('.').collect();
    let mut other = claims.clone();
    other["sub"] = json!("someone-else");
    forged.push(format!(
        "{}.{}.{}",
        parts[0],
        B64.encode(other.to_string()),
        parts[2]
    ));
    // Signed by a key of our own under the server's kid, and under an unknown kid.
    let seed = [7u8; 32];
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&seed);
    let attacker = EncodingKey::from_ed_der(&der);
    for k in [kid.clone(), "attacker-key".to_owned()] {
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = Some(k);
        forged.push(jsonwebtoken::encode(&h, &claims, &attacker).unwrap());
    }
    // No kid at all.
    forged.push(jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &attacker).unwrap());
    for token in &forged {
        assert_eq!(
            introspect(&app, &admin, token).await,
            json!({"active": false}),
            "{token}"
        );
        let r = http(&app, Method::GET, "/scim/v2/Me", Some(token), None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{token}");
    }
    // The genuine token is still fine.
    assert_eq!(
        introspect(&app, &admin, &s.access_token).await["active"],
        true
    );
}

async fn deprovisioning_revokes_sessions_at_once(app: TestApp) {
    let admin = admin_token(&app, "backend").await;
    let (receiver, secret) = webhook_endpoint(&app).await;
    // No default team: Cy's only membership comes from a team attribute, so removing it
    // leaves Cy with none.
    let r = app
        .request_with(
            Method::PATCH,
            &format!("{}/admin/v1/settings", app.address),
            Some(&json!({"default_team_id": null})),
            Some(&admin),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let beta = add_team(&app, "Beta").await;
    let ada = create_user(&app, with_team("ada@example.com", &beta, "user")).await;
    let bob = create_user(&app, with_team("bob@example.com", &beta, "user")).await;
    let cy = create_user(&app, with_team("cy@example.com", &beta, "user")).await;
    let dan = create_user(&app, with_team("dan@example.com", &beta, "user")).await;
    // Eve is in Beta only through a mapped IdP group.
    let eve = create_user(&app, user_body("eve@example.com")).await;
    let engineering = app.create_group("Engineering", &[eve.as_str()]).await;
    let r = app
        .request_with(
            Method::POST,
            &format!("{}/admin/v1/group-mappings", app.address),
            Some(&json!({"group_id": engineering, "team_id": beta, "team_role": "user"})),
            Some(&admin),
            &[],
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    assert_eq!(memberships(&app, &eve).await.len(), 1);
    let mut sessions = std::collections::BTreeMap::new();
    for (id, name) in [
        (&ada, "ada"),
        (&bob, "bob"),
        (&cy, "cy"),
        (&dan, "dan"),
        (&eve, "eve"),
    ] {
        let s = signed_in(&app, MatchBy::Email, &format!("{name}@example.com")).await;
        assert_eq!(
            introspect(&app, &admin, &s.access_token).await["active"],
            true
        );
        sessions.insert(id.clone(), s);
    }

    // Ada: active false (PATCH). Bob: DELETE. Cy: loses the last membership (PUT without
    // the team attribute).
    let deactivate = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "active", "value": false}
    ]});
    assert_eq!(
        app.patch(&format!("/Users/{ada}"), &deactivate)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.delete(&format!("/Users/{bob}")).await.status,
        StatusCode::NO_CONTENT
    );
    let r = app
        .put(&format!("/Users/{cy}"), &user_body("cy@example.com"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(memberships(&app, &cy).await.is_empty());
    // Eve: removed from the mapped group.
    let leave = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "remove", "path": format!("members[value eq \"{eve}\"]")}
    ]});
    let r = app.patch(&format!("/Groups/{engineering}"), &leave).await;
    assert!(r.status.is_success(), "{:?}", r.body);
    assert!(memberships(&app, &eve).await.is_empty());

    let revoked = [
        (&ada, "deactivated"),
        (&bob, "deleted"),
        (&cy, "no_membership"),
        (&eve, "no_membership"),
    ];
    for (user, reason) in revoked {
        let s = &sessions[user];
        assert_eq!(
            introspect(&app, &admin, &s.access_token).await,
            json!({"active": false}),
            "{reason}"
        );
        let r = refresh(&app, &s.refresh_token).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{reason}");
        assert_eq!(r.body["error"], "invalid_grant");
        let r = http(
            &app,
            Method::GET,
            "/scim/v2/Me",
            Some(&s.access_token),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{reason}");
    }
    // Dan is untouched.
    let d = &sessions[&dan];
    assert_eq!(
        introspect(&app, &admin, &d.access_token).await["active"],
        true
    );
    assert_eq!(refresh(&app, &d.refresh_token).await.status, StatusCode::OK);

    let got = events(&receiver, &secret, "user.sessions_revoked", 4).await;
    assert_eq!(got.len(), 4, "{got:#?}");
    for (user, reason) in revoked {
        let e = got
            .iter()
            .find(|e| e["data"]["user"]["id"] == user.as_str())
            .unwrap_or_else(|| panic!("no revocation event for {reason}"));
        assert_eq!(e["data"]["reason"], reason);
        assert_eq!(
            e["data"]["sessions"],
            json!([sessions[user].session_id.clone()])
        );
    }
    let entries = audit_actions(&app, &admin).await;
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["action"] == "user.sessions_revoked")
            .count(),
        4
    );
    // A reactivated user signs in afresh; the old session stays revoked.
    let reactivate = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "active", "value": true}
    ]});
    assert_eq!(
        app.patch(&format!("/Users/{ada}"), &reactivate)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        introspect(&app, &admin, &sessions[&ada].access_token).await,
        json!({"active": false})
    );
    let fresh = signed_in(&app, MatchBy::Email, "ada@example.com").await;
    assert_eq!(
        introspect(&app, &admin, &fresh.access_token).await["active"],
        true
    );
}

/// Runs `rollcall keys ARGS` on the app's database as a separate process.
async fn rollcall_keys(app: &TestApp, args: &[&str]) -> String {
    let url = app.database_url.clone();
    let dir = app.data_dir.path().to_owned();
    let key = app.master_key_text.clone();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || run_keys(&url, &dir, &key, &args))
        .await
        .unwrap()
}

fn run_keys(url: &str, dir: &std::path::Path, key: &SecretString, args: &[String]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .env("ROLLCALL_MASTER_KEY", key.expose_secret())
        .arg("--database-url")
        .arg(url)
        .arg("--data-dir")
        .arg(dir)
        .arg("keys")
        .args(args)
        .env_remove("ROLLCALL_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn key_rotation_keeps_issued_tokens_valid(app: TestApp) {
    let admin = admin_token(&app, "backend").await;
    app.create_user("ada@example.com").await;
    let before = signed_in(&app, MatchBy::Email, "ada@example.com").await;
    let (old_header, _) = verify(&app, &before.access_token).await;
    let old_kid = old_header.kid.unwrap();
    assert_eq!(jwks(&app).await.keys.len(), 1);

    // Rotated by another process (the CLI), while this server keeps running.
    let printed = rollcall_keys(&app, &["rotate"]).await;
    let new_kid = printed.trim().to_owned();
    assert!(!new_kid.is_empty() && new_kid != old_kid, "{printed}");
    let listed = rollcall_keys(&app, &["list"]).await;
    assert!(
        listed.contains(&new_kid) && listed.contains(&old_kid),
        "{listed}"
    );
    assert!(!listed.contains("private"), "{listed}");

    // The retired key's private half is gone from the database.
    let db = store(&app).await;
    let mut tx = db.read().await.unwrap();
    let row = tx
        .fetch_one(
            Q::new("SELECT private_key FROM signing_keys WHERE kid = ?").bind(old_kid.as_str()),
        )
        .await
        .unwrap();
    drop(tx);
    db.close().await;
    assert_eq!(row.text("private_key").unwrap(), "");

    // Both keys published; the old token still verifies and is still active.
    let set = jwks(&app).await;
    assert!(set.find(&old_kid).is_some());
    assert!(set.find(&new_kid).is_some());
    verify(&app, &before.access_token).await;
    assert_eq!(
        introspect(&app, &admin, &before.access_token).await["active"],
        true
    );
    // New tokens, from a sign-in or a refresh, carry the new kid.
    let after = signed_in(&app, MatchBy::Email, "ada@example.com").await;
    let (h, _) = verify(&app, &after.access_token).await;
    assert_eq!(h.kid.as_deref(), Some(new_kid.as_str()));
    let r = refresh(&app, &before.refresh_token).await;
    assert_eq!(r.status, StatusCode::OK);
    let (h, _) = verify(&app, r.body["access_token"].as_str().unwrap()).await;
    assert_eq!(h.kid.as_deref(), Some(new_kid.as_str()));
    assert_eq!(
        introspect(&app, &admin, &after.access_token).await["active"],
        true
    );
}

async fn me_answers_the_signed_in_user(app: TestApp) {
    let ada = app.create_user("ada@example.com").await;
    let s = signed_in(&app, MatchBy::Email, "ada@example.com").await;
    let r = http(
        &app,
        Method::GET,
        "/scim/v2/Me",
        Some(&s.access_token),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    assert_eq!(r.body["id"], ada.as_str());
    assert_eq!(r.body["userName"], "ada@example.com");
    assert!(r.header("etag").is_some());
    // A provisioning token has no user behind it: 501 in the SCIM error format.
    let r = http(&app, Method::GET, "/scim/v2/Me", Some(&app.token), None).await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED, "{:?}", r.body);
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    assert_eq!(r.body["status"], "501");
    for token in [None, Some("garbage"), Some(s.refresh_token.as_str())] {
        let r = http(&app, Method::GET, "/scim/v2/Me", token, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(r.body["status"], "401");
    }
    // A session token opens nothing else of SCIM.
    let r = http(
        &app,
        Method::GET,
        "/scim/v2/Users",
        Some(&s.access_token),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn expired_access_tokens_are_inactive_and_refresh_renews_them(app: TestApp) {
    let admin = admin_token(&app, "backend").await;
    app.create_user("ada@example.com").await;
    let s = signed_in(&app, MatchBy::Email, "ada@example.com").await;
    assert_eq!(s.expires_in, 900, "15 minutes by default");
    assert_eq!(
        introspect(&app, &admin, &s.access_token).await["active"],
        true
    );
    app.advance(time::Duration::seconds(901));
    assert_eq!(
        introspect(&app, &admin, &s.access_token).await,
        json!({"active": false})
    );
    let r = http(
        &app,
        Method::GET,
        "/scim/v2/Me",
        Some(&s.access_token),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = refresh(&app, &s.refresh_token).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let fresh = r.body["access_token"].as_str().unwrap();
    assert_eq!(introspect(&app, &admin, fresh).await["active"], true);
}
