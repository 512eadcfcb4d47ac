//! Invitation links (issue 4, point 3): the joining email's link shows the invitation on
//! GET (changing nothing: mail scanners prefetch) and accepts it on POST; twice says so;
//! an expired link offers a new one, sent once to the user's own address; tampered or
//! stale links are refused. A real server on a clock the test moves, on both backends.

use crate::effects::{ROLLCALL, eml_files, queued_emails, store};
use crate::harness::{Admin, member_states};
use crate::harness::{Backend, TestApp, spawn_on_manual_clock};
use crate::outbox::fixture::{body, header};
use reqwest::{Method, StatusCode};
use rollcall::clock::{Clock as _, ManualClock};
use rollcall::domain::MembershipId;
use rollcall::store::Q;
use serde_json::{Value, json};
use std::sync::Arc;

/// A test server whose clock only moves when the test says, with an admin client.
pub struct Env {
    pub app: TestApp,
    pub clock: Arc<ManualClock>,
}

impl Env {
    pub async fn new(backend: Backend) -> Env {
        let app = spawn_on_manual_clock(backend).await;
        let clock = app.clock().clone();
        Env { app, clock }
    }

    pub fn advance(&self, by: time::Duration) {
        self.clock.advance(by);
    }

    /// A request to a root path (`/invitations/...`, `/sign-in/...`), no token;
    /// `accept` is the Accept header. The body as text, and as JSON when it is JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        accept: &str,
    ) -> (StatusCode, String, Value) {
        self.call_with(&self.app.client, method, path, body, accept)
            .await
    }

    /// As [`Env::call`], through `client` (e.g. one on another client address).
    pub async fn call_with(
        &self,
        client: &reqwest::Client,
        method: Method,
        path: &str,
        body: Option<&Value>,
        accept: &str,
    ) -> (StatusCode, String, Value) {
        let mut req = client
            .request(method, format!("{}{path}", self.app.address))
            .header("Accept", accept);
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, text, json)
    }

    pub async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let (status, _, json) = self.call(method, path, body, "application/json").await;
        (status, json)
    }

    pub async fn html(&self, method: Method, path: &str) -> (StatusCode, String) {
        let (status, text, _) = self.call(method, path, None, "text/html").await;
        (status, text)
    }
}

pub use crate::outbox::fixture::unfold;

/// The invitation path (`/invitations/<token>`) in an email.
fn link_in(eml: &str, address: &str) -> String {
    let text = unfold(body(eml));
    let prefix = format!("{address}/invitations/");
    let start = text
        .find(&prefix)
        .unwrap_or_else(|| panic!("no link in {text}"))
        + address.len();
    text[start..]
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap()
        .to_owned()
}

/// The `.eml` file sent to `to` with `subject`, waiting for it.
pub async fn mail_to(app: &TestApp, n: usize, to: &str, subject: &str) -> String {
    let files = eml_files(app, n).await;
    files
        .into_iter()
        .find(|f| {
            header(f, "To").as_deref() == Some(to)
                && header(f, "Subject").is_some_and(|s| s.contains(subject))
        })
        .unwrap_or_else(|| panic!("no email to {to} about {subject:?}"))
}

/// The user's membership of the org's default team as the admin API shows it.
async fn member(admin: &Admin<'_>, team: &str, user: &str) -> Value {
    let r = admin.get(&format!("/teams/{team}/members")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == user)
        .cloned()
        .unwrap_or_else(|| panic!("{user} is not a member: {:?}", r.body))
}

/// The user's `memberships` as the IdP reads them through SCIM.
async fn scim_states(app: &TestApp, user: &str) -> Vec<String> {
    let r = app
        .get(&format!("/Users/{user}?attributes={ROLLCALL}:memberships"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body[ROLLCALL]["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap().to_owned())
        .collect()
}

async fn audit_actions(app: &TestApp) -> Vec<(String, String)> {
    let s = store(app).await;
    let mut tx = s.read().await.unwrap();
    let log = rollcall::store::audit::list(&mut tx, &app.org_id, 0, 500)
        .await
        .unwrap();
    drop(tx);
    s.close().await;
    log.into_iter().map(|e| (e.actor, e.action)).collect()
}

async fn a_get_shows_the_invitation_and_only_a_post_accepts_it(env: Env) {
    let app = &env.app;
    let admin = Admin::new(app).await;
    // A webhook endpoint, so that acceptance has somewhere to be announced (delivery is
    // not the point here: the outbox tests cover it).
    let r = admin
        .post("/webhooks", &json!({"url": "http://127.0.0.1:9/hooks"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let team = admin.team_named("Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ada = app.create_user("ada@example.com").await;
    let mail = mail_to(app, 1, "ada@example.com", "You have been added to Acme").await;
    let link = link_in(&mail, &app.address);

    // GET, as a browser and as a program (and twice, as a mail scanner would): the page
    // names the team and posts back; nothing changes.
    let (status, page) = env.html(Method::GET, &link).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Join Acme at Acme"), "{page}");
    assert!(page.contains("<form method=\"post\""), "{page}");
    assert!(page.contains(&format!("action=\"{link}\"")), "{page}");
    let (status, view) = env.json(Method::GET, &link, None).await;
    assert_eq!(status, StatusCode::OK, "{view:?}");
    assert_eq!(view["status"], "invited");
    assert_eq!(view["team_name"], "Acme");
    assert_eq!(view["org_name"], "Acme");
    assert_eq!(member(&admin, &team, &ada).await["state"], "invited");
    assert_eq!(scim_states(app, &ada).await, ["invited"]);

    // POST accepts.
    let (status, view) = env.json(Method::POST, &link, None).await;
    assert_eq!(status, StatusCode::OK, "{view:?}");
    assert_eq!(view["status"], "accepted");
    let m = member(&admin, &team, &ada).await;
    assert_eq!(m["state"], "pending_app_login");
    assert!(m["accepted"].is_string(), "{m:?}");
    assert_eq!(scim_states(app, &ada).await, ["pending_app_login"]);
    let actions = audit_actions(app).await;
    assert!(
        actions.contains(&(format!("user:{ada}"), "membership.accepted".into())),
        "{actions:?}"
    );
    let s = store(app).await;
    let mut tx = s.read().await.unwrap();
    let hooks = rollcall::outbox::list_messages(&mut tx, &app.org_id, 100)
        .await
        .unwrap();
    drop(tx);
    s.close().await;
    let accepted: Vec<_> = hooks
        .iter()
        .filter(|m| m.dedupe_key.starts_with("invitation.accepted:"))
        .collect();
    assert_eq!(accepted.len(), 1, "one invitation.accepted webhook");
    let payload: Value = serde_json::from_str(&accepted[0].payload).unwrap();
    assert_eq!(payload["type"], "invitation.accepted", "{payload}");
    assert_eq!(payload["data"]["membership"]["user"]["id"], ada.as_str());

    // Twice: says so, changes nothing.
    let (status, err) = env.json(Method::POST, &link, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{err:?}");
    assert_eq!(err["error"], "already_accepted");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("already accepted")
    );
    let (status, page) = env.html(Method::GET, &link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("already accepted"), "{page}");
    assert!(!page.contains("<form"), "no Accept button any more: {page}");
    let again = member(&admin, &team, &ada).await;
    assert_eq!(again["accepted"], m["accepted"], "accepted_at is not moved");
}

async fn an_expired_link_says_so_and_sends_one_new_link(env: Env) {
    let app = &env.app;
    let admin = Admin::new(app).await;
    let team = admin.team_named("Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ada = app.create_user("ada@example.com").await;
    let mail = mail_to(app, 1, "ada@example.com", "You have been added").await;
    let link = link_in(&mail, &app.address);
    env.advance(time::Duration::days(7) + time::Duration::seconds(1));

    let (status, err) = env.json(Method::GET, &link, None).await;
    assert_eq!(status, StatusCode::GONE, "{err:?}");
    assert_eq!(err["error"], "invitation_expired");
    assert!(err["message"].as_str().unwrap().contains("expired"));
    let renew = err["renew_url"].as_str().unwrap().to_owned();
    assert_eq!(renew, format!("{link}/renew"));
    let (status, page) = env.html(Method::GET, &link).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("expired"), "{page}");
    assert!(page.contains(&format!("action=\"{renew}\"")), "{page}");
    // Accepting an expired link fails and changes nothing.
    let (status, err) = env.json(Method::POST, &link, None).await;
    assert_eq!(status, StatusCode::GONE, "{err:?}");
    assert_eq!(member_states(app, &team).await[&ada], "invited");

    // A GET of the renewal URL is not a renewal.
    let (status, _) = env.json(Method::GET, &renew, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let before = queued_emails(app).await.len();
    let (status, sent) = env.json(Method::POST, &renew, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent:?}");
    assert_eq!(sent["sent_to"], "a***@example.com");
    // Again, from the same old link: a valid new link exists, nothing is sent.
    let (status, err) = env.json(Method::POST, &renew, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{err:?}");
    assert_eq!(err["error"], "already_renewed");
    let queued = queued_emails(app).await;
    assert_eq!(queued.len(), before + 1, "exactly one new email");
    let (_, email) = queued.last().unwrap();
    assert_eq!(
        email["to"], "ada@example.com",
        "only to the user's own address"
    );

    let mail = mail_to(app, 2, "ada@example.com", "Your new invitation link").await;
    let fresh = link_in(&mail, &app.address);
    assert_ne!(fresh, link);
    // Accepted from the page, as a browser posts its form.
    let (status, page) = env.html(Method::POST, &fresh).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("You have joined the team Acme at Acme"),
        "{page}"
    );
    assert!(page.contains("Sign in with your email address"), "{page}");
    assert_eq!(member_states(app, &team).await[&ada], "pending_app_login");
    let actions = audit_actions(app).await;
    assert!(actions.contains(&(
        format!("user:{ada}"),
        "membership.invitation_renewed".into()
    )));
    // Once accepted, the old link cannot renew any more.
    env.advance(time::Duration::days(8));
    let (status, err) = env.json(Method::POST, &renew, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{err:?}");
    assert_eq!(err["error"], "already_accepted");
    assert_eq!(queued_emails(app).await.len(), before + 1);
}

async fn tampered_and_stale_links_are_refused(env: Env) {
    let app = &env.app;
    let admin = Admin::new(app).await;
    let team = admin.team_named("Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ada = app.create_user("ada@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let ada_link = link_in(
        &mail_to(app, 2, "ada@example.com", "added").await,
        &app.address,
    );
    let bob_link = link_in(
        &mail_to(app, 2, "bob@example.com", "added").await,
        &app.address,
    );

    // Another membership's id under Ada's signature; a flipped signature character; a
    // later expiry; garbage.
    let bob_id = bob_link
        .trim_start_matches("/invitations/")
        .split('.')
        .next()
        .unwrap();
    let (ada_id, rest) = ada_link
        .trim_start_matches("/invitations/")
        .split_once('.')
        .unwrap();
    let (exp, sig) = rest.split_once('.').unwrap();
    let flipped: String = {
        let mut c: Vec<char> = sig.chars().collect();
        c[3] = if c[3] == 'A' { 'B' } else { 'A' };
        c.into_iter().collect()
    };
    let later: i64 = exp.parse::<i64>().unwrap() + 86_400;
    for bad in [
        format!("/invitations/{bob_id}.{exp}.{sig}"),
        format!("/invitations/{ada_id}.{exp}.{flipped}"),
        format!("/invitations/{ada_id}.{later}.{sig}"),
        "/invitations/not-a-token".to_owned(),
    ] {
        for method in [Method::GET, Method::POST] {
            let (status, err) = env.json(method.clone(), &bad, None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {err:?}");
            assert_eq!(err["error"], "invalid_invitation");
            assert!(err["message"].as_str().unwrap().contains("not valid"));
        }
        let (status, _) = env.json(Method::POST, &format!("{bad}/renew"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let (status, page) = env.html(Method::GET, "/invitations/x.1.y").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("not valid"), "{page}");
    let states = member_states(app, &team).await;
    assert_eq!(
        (states[&ada].as_str(), states[&bob].as_str()),
        ("invited", "invited")
    );

    // Bob is deprovisioned: his membership (and its seat) is gone, and the link says so.
    assert_eq!(
        app.delete(&format!("/Users/{bob}")).await.status,
        StatusCode::NO_CONTENT
    );
    let (status, err) = env.json(Method::GET, &bob_link, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err:?}");
    assert_eq!(err["error"], "invitation_not_found");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("no longer exists")
    );
    let (status, _) = env.json(Method::POST, &bob_link, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A membership that waits for a seat has no invitation to accept (the token is
    // forged with the server's own key, as only a bug could produce it).
    let s = store(app).await;
    let inv = rollcall::provisioning::invitations::Invitations::load(
        &s,
        &app.address,
        7,
        env.clock.now(),
    )
    .await
    .unwrap();
    let mut tx = s.write().await.unwrap();
    tx.execute(
        Q::new("UPDATE memberships SET state = 'awaiting_seat' WHERE user_id = ?")
            .bind(ada.as_str()),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    s.close().await;
    let token = inv.token(
        &MembershipId::from(ada_id),
        env.clock.now() + time::Duration::days(1),
    );
    let (status, err) = env
        .json(Method::POST, &format!("/invitations/{token}"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err:?}");
    assert_eq!(err["error"], "not_invited");
}

/// A link has one spelling: the expiry as the server wrote it. A leading zero or a plus
/// sign (`%2B` in the path) signs the same number, and was accepted as the same link.
async fn other_spellings_of_the_expiry_are_refused(env: Env) {
    let app = &env.app;
    let ada = app.create_user("ada@example.com").await;
    let link = link_in(
        &mail_to(app, 1, "ada@example.com", "added").await,
        &app.address,
    );
    let (id, rest) = link
        .trim_start_matches("/invitations/")
        .split_once('.')
        .unwrap();
    let (exp, sig) = rest.split_once('.').unwrap();
    for spelling in [format!("0{exp}"), format!("%2B{exp}"), format!("+{exp}")] {
        let bad = format!("/invitations/{id}.{spelling}.{sig}");
        for method in [Method::GET, Method::POST] {
            let (status, err) = env.json(method.clone(), &bad, None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {err:?}");
            assert_eq!(err["error"], "invalid_invitation", "{bad}: {err:?}");
        }
    }
    // Nothing was accepted; the link as sent still works.
    assert_eq!(scim_states(app, &ada).await, ["invited"]);
    let (status, view) = env.json(Method::POST, &link, None).await;
    assert_eq!(status, StatusCode::OK, "{view:?}");
}

crate::both_backends!(setup = crate::sso::invitations::Env::new;
    other_spellings_of_the_expiry_are_refused,
    a_get_shows_the_invitation_and_only_a_post_accepts_it,
    an_expired_link_says_so_and_sends_one_new_link,
    tampered_and_stale_links_are_refused,
);
