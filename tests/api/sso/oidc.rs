//! OIDC sign-in against a real OpenID provider (the certified npm `oidc-provider`, see
//! tests/peers/oidc/provider.js), one of its own per test, served on loopback by the peer
//! process the tests share (tests/api/peers.rs), driven by a real HTTP client that follows
//! the redirects itself with a cookie jar, like a browser:
//! `/sso/{org}/start` → provider → `/sso/oidc/callback` → tokens.

use crate::harness::TestApp;
use crate::harness::{Admin, admin_token_for, assert_error};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

const CLIENT_ID: &str = "rollcall-test";
const CLIENT_SECRET: &str = "peer-client-secret-0123456789-abcdefgh";

/// A provider of the test's own in the shared peer process; closed when dropped.
pub struct OidcPeer {
    pub issuer: String,
}

/// The provider's accounts: login name (what `login_hint` says) → claims.
fn accounts() -> Value {
    json!({
        "alice": {"sub": "sub-alice", "email": "alice@example.com", "email_verified": true,
                  "given_name": "Alice", "family_name": "Liddell",
                  "preferred_username": "alice"},
        "bob": {"sub": "sub-bob", "email": "bob@example.com", "email_verified": true,
                "given_name": "Bob", "family_name": "Builder", "preferred_username": "bob"},
        "carol": {"sub": "sub-carol", "email": "carol@example.com", "email_verified": true,
                  "given_name": "Carol", "family_name": "Danvers",
                  "preferred_username": "carol"},
        "mallory": {"sub": "sub-mallory", "email": "mallory@example.com",
                    "email_verified": false, "preferred_username": "mallory"}
    })
}

impl OidcPeer {
    /// Starts a provider whose client sends people back to `app`'s callback.
    /// `claims_in_id_token: false` serves email/profile claims by userinfo only.
    pub async fn start(app: &TestApp, claims_in_id_token: bool) -> OidcPeer {
        OidcPeer::start_with(app, json!({"claims_in_id_token": claims_in_id_token})).await
    }

    /// As [`OidcPeer::start`], with provider settings of the test's own (`id_token_alg`).
    pub async fn start_with(app: &TestApp, settings: Value) -> OidcPeer {
        let mut config = json!({
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": format!("{}/sso/oidc/callback", app.address),
            "accounts": accounts(),
            "claims_in_id_token": true,
        });
        for (k, v) in settings.as_object().unwrap() {
            config[k] = v.clone();
        }
        let peer = crate::peers::oidc().await;
        let answer = peer
            .call(json!({ "provider": config }))
            .await
            .unwrap_or_else(|e| panic!("the OIDC peer refused a provider: {e}\n{}", peer.output()));
        OidcPeer {
            issuer: answer["issuer"].as_str().unwrap().to_owned(),
        }
    }
}

impl Drop for OidcPeer {
    fn drop(&mut self) {
        if let Some(peer) = crate::peers::OIDC.get() {
            peer.notify(json!({ "close": self.issuer }));
        }
    }
}

/// A browser: its own cookie jar, redirects followed by hand.
pub struct Browser {
    client: reqwest::Client,
}

/// An answer, its body kept as text.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Page {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }
    pub fn location(&self) -> String {
        self.headers
            .get("location")
            .unwrap_or_else(|| panic!("no Location: {} {:?}", self.status, self.text))
            .to_str()
            .unwrap()
            .to_owned()
    }
}

impl Browser {
    pub fn new() -> Browser {
        rollcall::tls::ensure_crypto_provider();
        Browser {
            client: reqwest::Client::builder()
                .cookie_provider(Arc::new(reqwest::cookie::Jar::default()))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    pub async fn get(&self, url: &str) -> Page {
        self.get_with(url, &[]).await
    }

    pub async fn get_with(&self, url: &str, headers: &[(&str, &str)]) -> Page {
        let mut req = self.client.get(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.unwrap();
        Page {
            status: res.status(),
            headers: res.headers().clone(),
            text: res.text().await.unwrap(),
        }
    }

    /// Follows redirects from `url` until one points at rollcall's callback, and returns
    /// that callback URL without visiting it.
    pub async fn to_callback(&self, app: &TestApp, url: &str) -> String {
        let callback = format!("{}/sso/oidc/callback", app.address);
        let mut url = url.to_owned();
        for _ in 0..10 {
            let page = self.get(&url).await;
            assert!(
                page.status.is_redirection(),
                "{url} answered {} {:?}",
                page.status,
                page.text
            );
            let next = page.location();
            let next = if next.starts_with('/') {
                let origin = url.split('/').take(3).collect::<Vec<_>>().join("/");
                format!("{origin}{next}")
            } else {
                next
            };
            if next.starts_with(&callback) {
                return next;
            }
            url = next;
        }
        panic!("no redirect to the callback");
    }

    /// `GET /sso/{org}/start?login_hint=...`, answering the provider's authorization URL.
    pub async fn start(&self, app: &TestApp, org_id: &str, query: &str) -> String {
        let page = self
            .get(&format!("{}/sso/{org_id}/start?{query}", app.address))
            .await;
        assert_eq!(page.status, StatusCode::FOUND, "{:?}", page.text);
        page.location()
    }

    /// The whole flow for `login`: start, provider, callback; the callback's answer.
    pub async fn sign_in(&self, app: &TestApp, org_id: &str, login: &str) -> Page {
        let authorize = self
            .start(app, org_id, &format!("login_hint={login}"))
            .await;
        let callback = self.to_callback(app, &authorize).await;
        self.get(&callback).await
    }
}

/// Creates the org's connection to `peer`; `extra` overrides the defaults.
pub async fn connect(admin: &Admin<'_>, peer: &OidcPeer, extra: Value) -> Value {
    let mut body = json!({
        "name": "Test IdP",
        "issuer": peer.issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scopes": ["email", "profile"],
        "claim": "email",
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = admin.post("/sso/oidc-connections", &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn replace_param(url: &str, name: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').unwrap();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .unwrap()
        .into_iter()
        .map(|(k, v)| {
            if k == name {
                (k, value.to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    format!("{base}?{}", serde_urlencoded::to_string(pairs).unwrap())
}

/// Asserts a sign-in refusal: status, code, and a message mentioning each of `needles`.
fn assert_refused(page: &Page, status: u16, code: &str, needles: &[&str]) {
    assert_eq!(page.status.as_u16(), status, "{:?}", page.text);
    let body = page.json();
    assert_eq!(body["error"], code, "{body:?}");
    let message = body["message"].as_str().unwrap();
    for n in needles {
        assert!(message.contains(n), "{message:?} should mention {n:?}");
    }
    assert_eq!(
        page.headers.get("cache-control").unwrap(),
        "no-store",
        "sign-in answers are never cached"
    );
}

/// A login that passed every protocol check and matched a provisioned user: the session's
/// tokens (RFC 6749 §5.1), never cached.
fn assert_signed_in(page: &Page) -> Value {
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.text);
    let body = page.json();
    assert_eq!(body["token_type"], "Bearer", "{body:?}");
    assert!(body["access_token"].as_str().is_some_and(|t| t.len() > 20));
    assert!(body["refresh_token"].as_str().is_some_and(|t| t.len() > 20));
    assert!(body["expires_in"].as_u64().is_some_and(|s| s > 0));
    assert_eq!(page.headers.get("cache-control").unwrap(), "no-store");
    body
}

/// The states of a user's memberships.
async fn membership_states(app: &TestApp, user_id: &str) -> Vec<String> {
    app.memberships_of(user_id)
        .await
        .into_iter()
        .map(|m| m.state.to_string())
        .collect()
}

async fn signs_in_through_a_real_provider(app: TestApp) {
    let admin = app.admin().await;
    let alice = app.create_user("alice@example.com").await;
    assert_eq!(membership_states(&app, &alice).await, ["invited"]);
    let peer = OidcPeer::start(&app, true).await;
    let conn = connect(&admin, &peer, json!({})).await;
    assert_eq!(
        conn["redirect_uri"],
        format!("{}/sso/oidc/callback", app.address)
    );
    assert!(conn.get("client_secret").is_none(), "{conn:?}");

    let browser = Browser::new();
    let authorize = browser
        .start(&app, app.org_id.as_str(), "login_hint=alice")
        .await;
    assert!(authorize.starts_with(&format!("{}/auth?", peer.issuer)));
    // RFC 7636: S256 only; OIDC Core: state, nonce, the login hint passed through.
    assert_eq!(
        query_param(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert!(query_param(&authorize, "code_challenge").is_some());
    assert!(query_param(&authorize, "state").is_some());
    assert!(query_param(&authorize, "nonce").is_some());
    assert_eq!(
        query_param(&authorize, "login_hint").as_deref(),
        Some("alice")
    );
    let scope = query_param(&authorize, "scope").unwrap();
    assert!(scope.split(' ').any(|s| s == "openid"), "{scope}");
    let callback = browser.to_callback(&app, &authorize).await;
    assert!(query_param(&callback, "code").is_some(), "{callback}");
    let page = browser.get(&callback).await;
    assert_signed_in(&page);
    // DESIGN.md: a successful sign-in moves the user's memberships to `active`.
    assert_eq!(membership_states(&app, &alice).await, ["active"]);
    // The client secret the token endpoint needed is sealed in the database (issue 16).
    let everything = crate::secrets_at_rest::database_text(&app.database_url).await;
    assert!(
        !everything.contains(CLIENT_SECRET),
        "client secret in clear"
    );
}

async fn userinfo_supplies_claims_the_id_token_lacks(app: TestApp) {
    let admin = app.admin().await;
    app.create_user("alice@example.com").await;
    // This provider keeps email out of the ID token (OIDC Core §5.4): only userinfo has it.
    let peer = OidcPeer::start(&app, false).await;
    let without = connect(&admin, &peer, json!({"use_userinfo": false})).await;
    let with = connect(&admin, &peer, json!({"use_userinfo": true})).await;

    let browser = Browser::new();
    let authorize = browser
        .start(
            &app,
            app.org_id.as_str(),
            &format!(
                "login_hint=alice&connection={}",
                without["id"].as_str().unwrap()
            ),
        )
        .await;
    let page = browser
        .get(&browser.to_callback(&app, &authorize).await)
        .await;
    assert_refused(&page, 403, "missing_claim", &["\"email\""]);

    let browser = Browser::new();
    let authorize = browser
        .start(
            &app,
            app.org_id.as_str(),
            &format!(
                "login_hint=alice&connection={}",
                with["id"].as_str().unwrap()
            ),
        )
        .await;
    let page = browser
        .get(&browser.to_callback(&app, &authorize).await)
        .await;
    assert_signed_in(&page);
}

async fn a_wrong_state_is_refused(app: TestApp) {
    let admin = app.admin().await;
    app.create_user("alice@example.com").await;
    let peer = OidcPeer::start(&app, true).await;
    connect(&admin, &peer, json!({})).await;
    let browser = Browser::new();
    let authorize = browser
        .start(&app, app.org_id.as_str(), "login_hint=alice")
        .await;
    let callback = browser.to_callback(&app, &authorize).await;
    let forged = replace_param(&callback, "state", "not-a-state-we-issued");
    assert_refused(
        &browser.get(&forged).await,
        400,
        "invalid_state",
        &["start the sign-in again"],
    );
    let missing = format!(
        "{}/sso/oidc/callback?code={}",
        app.address,
        query_param(&callback, "code").unwrap()
    );
    assert_refused(&browser.get(&missing).await, 400, "invalid_state", &[]);
    // The real state still works: a forged one consumed nothing.
    assert_signed_in(&browser.get(&callback).await);
}

async fn a_state_without_the_browsers_cookie_is_refused(app: TestApp) {
    let admin = app.admin().await;
    app.create_user("alice@example.com").await;
    let peer = OidcPeer::start(&app, true).await;
    connect(&admin, &peer, json!({})).await;
    let victim = Browser::new();
    let authorize = victim
        .start(&app, app.org_id.as_str(), "login_hint=alice")
        .await;
    let callback = victim.to_callback(&app, &authorize).await;

    // Another browser (no cookie) presenting the victim's callback: login CSRF / a leaked URL.
    let attacker = Browser::new();
    assert_refused(
        &attacker.get(&callback).await,
        400,
        "browser_mismatch",
        &["another browser"],
    );
    // A browser with a cookie of its own login presenting someone else's state.
    let _ = attacker
        .start(&app, app.org_id.as_str(), "login_hint=bob")
        .await;
    assert_refused(&attacker.get(&callback).await, 400, "browser_mismatch", &[]);
    // The browser that started it can still finish.
    assert_signed_in(&victim.get(&callback).await);
}

async fn a_replayed_callback_is_refused(app: TestApp) {
    let admin = app.admin().await;
    app.create_user("alice@example.com").await;
    let peer = OidcPeer::start(&app, true).await;
    connect(&admin, &peer, json!({})).await;
    let browser = Browser::new();
    let authorize = browser
        .start(&app, app.org_id.as_str(), "login_hint=alice")
        .await;
    let callback = browser.to_callback(&app, &authorize).await;
    let first = browser.get(&callback).await;
    assert_signed_in(&first);
    let replay = browser.get(&callback).await;
    assert_refused(&replay, 400, "invalid_state", &["already used"]);
}

async fn an_id_token_for_another_nonce_is_refused(app: TestApp) {
    let admin = app.admin().await;
    let peer = OidcPeer::start(&app, true).await;
    connect(&admin, &peer, json!({})).await;
    let browser = Browser::new();
    let authorize = browser
        .start(&app, app.org_id.as_str(), "login_hint=alice")
        .await;
    // The authorization request the provider sees carries another nonce (an injected
    // code, or an IdP echoing the wrong one): state, cookie and PKCE are all right, so
    // only the ID token's nonce tells this sign-in from another.
    let tampered = replace_param(&authorize, "nonce", "a-nonce-of-another-login");
    let callback = browser.to_callback(&app, &tampered).await;
    assert_refused(
        &browser.get(&callback).await,
        401,
        "nonce_mismatch",
        &["another sign-in"],
    );
}

async fn an_id_token_signed_with_the_client_secret_is_refused(app: TestApp) {
    let admin = app.admin().await;
    app.create_user("alice@example.com").await;
    // HS256 keyed with the client secret: anyone holding the secret could mint ID tokens,
    // so only the provider's asymmetric keys (its JWKS) are trusted.
    let peer = OidcPeer::start_with(&app, json!({"id_token_alg": "HS256"})).await;
    connect(&admin, &peer, json!({})).await;
    let page = Browser::new()
        .sign_in(&app, app.org_id.as_str(), "alice")
        .await;
    assert_refused(&page, 401, "invalid_id_token", &["not valid"]);
}

/// A reachable IdP sending a signed ID token whose claims break OIDC Core §2 (no `exp`,
/// `email` as a list) sent a bad token: 401 `invalid_id_token` naming the claim, not 502
/// `idp_unavailable` as if it were down (issue 16, point 12).
async fn an_id_token_with_a_missing_or_mistyped_claim_is_invalid_not_an_outage(app: TestApp) {
    let admin = app.admin().await;
    app.create_user("alice@example.com").await;
    let listed = json!(["alice@example.com", "alice@evil.example"]);
    for (changes, claim) in [
        (json!({"exp": null}), "exp"),
        (json!({"email": listed.clone()}), "email"),
    ] {
        let peer = OidcPeer::start_with(&app, json!({"id_token_claims": changes})).await;
        let conn = connect(&admin, &peer, json!({})).await;
        let page = Browser::new()
            .sign_in(&app, app.org_id.as_str(), "alice")
            .await;
        assert_refused(&page, 401, "invalid_id_token", &["not valid", claim]);
        let r = admin
            .delete(&format!(
                "/sso/oidc-connections/{}",
                conn["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    }

    // The same claim from userinfo (the ID token without it) is as bad.
    let mut accounts = accounts();
    accounts["alice"]["email"] = listed;
    let by_userinfo = OidcPeer::start_with(
        &app,
        json!({"claims_in_id_token": false, "accounts": accounts}),
    )
    .await;
    connect(&admin, &by_userinfo, json!({"use_userinfo": true})).await;
    let page = Browser::new()
        .sign_in(&app, app.org_id.as_str(), "alice")
        .await;
    assert_refused(&page, 401, "invalid_id_token", &["userinfo", "email"]);
}

async fn a_response_naming_another_issuer_is_refused(app: TestApp) {
    let admin = app.admin().await;
    let peer = OidcPeer::start(&app, true).await;
    connect(&admin, &peer, json!({})).await;
    let browser = Browser::new();
    let authorize = browser
        .start(&app, app.org_id.as_str(), "login_hint=alice")
        .await;
    let callback = browser.to_callback(&app, &authorize).await;
    assert_eq!(
        query_param(&callback, "iss").as_deref(),
        Some(peer.issuer.as_str())
    );
    // RFC 9207: a response whose `iss` is another IdP's is a mix-up attack.
    let mixed = replace_param(&callback, "iss", "https://evil.example.com");
    assert_refused(
        &browser.get(&mixed).await,
        400,
        "issuer_mismatch",
        &["another identity provider"],
    );
}

async fn an_idp_refusal_is_explained(app: TestApp) {
    let admin = app.admin().await;
    let peer = OidcPeer::start(&app, true).await;
    connect(&admin, &peer, json!({})).await;
    let browser = Browser::new();
    let authorize = browser
        .start(&app, app.org_id.as_str(), "login_hint=nobody")
        .await;
    let callback = browser.to_callback(&app, &authorize).await;
    assert_eq!(
        query_param(&callback, "error").as_deref(),
        Some("access_denied")
    );
    assert_refused(
        &browser.get(&callback).await,
        401,
        "idp_refused",
        &["access_denied", "nobody"],
    );
    // A browser asking for HTML gets a page saying the same.
    let browser = Browser::new();
    let authorize = browser
        .start(&app, app.org_id.as_str(), "login_hint=nobody")
        .await;
    let callback = browser.to_callback(&app, &authorize).await;
    let page = browser
        .get_with(&callback, &[("accept", "text/html,*/*;q=0.8")])
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text.contains("access_denied"), "{}", page.text);
    assert!(page.text.contains("&quot;nobody&quot;"), "{}", page.text);
}

async fn an_unverified_email_is_refused(app: TestApp) {
    let admin = app.admin().await;
    app.create_user("mallory@example.com").await;
    let peer = OidcPeer::start(&app, true).await;
    connect(&admin, &peer, json!({})).await;
    let page = Browser::new()
        .sign_in(&app, app.org_id.as_str(), "mallory")
        .await;
    assert_refused(&page, 403, "email_not_verified", &["not verified"]);
}

async fn start_picks_the_orgs_connection(app: TestApp) {
    let admin = app.admin().await;
    let browser = Browser::new();
    let url = format!("{}/sso/{}/start", app.address, app.org_id);
    assert_refused(&browser.get(&url).await, 404, "no_connection", &[]);
    let nowhere = format!("{}/sso/no-such-org/start", app.address);
    assert_refused(&browser.get(&nowhere).await, 404, "no_connection", &[]);

    let peer = OidcPeer::start(&app, true).await;
    let first = connect(&admin, &peer, json!({"name": "Primary"})).await;
    assert_eq!(browser.get(&url).await.status, StatusCode::FOUND);
    let second = connect(&admin, &peer, json!({"name": "Backup"})).await;
    let first_id = first["id"].as_str().unwrap();
    let second_id = second["id"].as_str().unwrap();
    assert_refused(
        &browser.get(&url).await,
        400,
        "connection_required",
        &[first_id, second_id, "Primary", "Backup"],
    );
    let chosen = browser.get(&format!("{url}?connection={second_id}")).await;
    assert_eq!(chosen.status, StatusCode::FOUND, "{:?}", chosen.text);
    assert!(
        chosen.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("HttpOnly")
    );
    assert_refused(
        &browser.get(&format!("{url}?connection=nope")).await,
        404,
        "unknown_connection",
        &["nope"],
    );
    // A disabled connection is not offered.
    let r = admin
        .patch(
            &format!("/sso/oidc-connections/{second_id}"),
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["enabled"], false);
    assert_eq!(browser.get(&url).await.status, StatusCode::FOUND);
    assert_refused(
        &browser.get(&format!("{url}?connection={second_id}")).await,
        404,
        "unknown_connection",
        &[],
    );
}

async fn admin_api_manages_and_validates_connections(app: TestApp) {
    let admin = app.admin().await;
    let peer = OidcPeer::start(&app, true).await;
    let base = json!({"issuer": peer.issuer, "client_id": CLIENT_ID,
                      "client_secret": CLIENT_SECRET});
    let with = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    // An issuer whose discovery fails: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let r = admin
        .post("/sso/oidc-connections", &with(json!({"issuer": dead})))
        .await;
    assert_error(&r, 400, "invalid_request", &["discovery failed"]);
    // An issuer that answers, but is not the issuer its document names.
    let r = admin
        .post(
            "/sso/oidc-connections",
            &with(json!({"issuer": format!("{}/", peer.issuer)})),
        )
        .await;
    assert_error(&r, 400, "invalid_request", &["discovery failed"]);
    let r = admin
        .post(
            "/sso/oidc-connections",
            &with(json!({"issuer": "not a url"})),
        )
        .await;
    assert_error(&r, 400, "invalid_request", &["not a URL"]);
    let r = admin
        .post(
            "/sso/oidc-connections",
            &with(json!({"match_by": "phoneNumber"})),
        )
        .await;
    assert_error(&r, 400, "invalid_request", &["phoneNumber"]);
    let r = admin
        .post(
            "/sso/oidc-connections",
            &with(json!({"scopes": ["email profile"]})),
        )
        .await;
    assert_error(&r, 400, "invalid_request", &["RFC 6749"]);
    let r = admin
        .post("/sso/oidc-connections", &with(json!({"client_secret": ""})))
        .await;
    assert_error(&r, 400, "invalid_request", &["client_secret"]);
    let r = admin
        .post("/sso/oidc-connections", &json!({"issuer": peer.issuer}))
        .await;
    assert_error(&r, 400, "invalid_request", &["client_id"]);
    assert_eq!(admin.get("/sso/oidc-connections").await.body, json!([]));

    // Defaults: claim email matched against emails; openid implied.
    let created = admin.post("/sso/oidc-connections", &base).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let c = created.body;
    let id = c["id"].as_str().unwrap();
    assert_eq!(c["claim"], "email");
    assert_eq!(c["match_by"], "email");
    assert_eq!(c["scopes"], json!(["email", "profile"]));
    assert_eq!(c["jit"], false);
    assert_eq!(c["enabled"], true);
    assert_eq!(c["name"], "127.0.0.1");
    assert!(!c.to_string().contains(CLIENT_SECRET));
    let sub = admin
        .post(
            "/sso/oidc-connections",
            &with(json!({"claim": "sub", "use_userinfo": true})),
        )
        .await;
    assert_eq!(sub.body["match_by"], "externalId");

    let got = admin.get(&format!("/sso/oidc-connections/{id}")).await;
    assert_eq!(got.body, c);
    let list = admin.get("/sso/oidc-connections").await;
    assert_eq!(list.body.as_array().unwrap().len(), 2);
    assert!(!list.body.to_string().contains(CLIENT_SECRET));

    let r = admin
        .patch(
            &format!("/sso/oidc-connections/{id}"),
            &json!({"claim": "preferred_username", "match_by": "userName", "jit": true,
                    "client_secret": "rotated-secret"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["claim"], "preferred_username");
    assert_eq!(r.body["match_by"], "userName");
    assert_eq!(r.body["jit"], true);
    assert!(!r.body.to_string().contains("rotated-secret"));
    let r = admin
        .patch(
            &format!("/sso/oidc-connections/{id}"),
            &json!({"issuer": dead}),
        )
        .await;
    assert_error(&r, 400, "invalid_request", &["discovery failed"]);

    // Another org's admin sees none of it.
    app.other_org("Globex").await;
    let globex = {
        let store = rollcall::store::Store::connect(&app.database_url)
            .await
            .unwrap();
        let mut tx = store.read().await.unwrap();
        let org = rollcall::store::orgs::find(&mut tx, "Globex")
            .await
            .unwrap()
            .unwrap();
        drop(tx);
        store.close().await;
        org.id
    };
    let other_admin = Admin {
        app: &app,
        token: admin_token_for(&app, globex.as_str(), "globex console").await,
    };
    assert_eq!(
        other_admin
            .get(&format!("/sso/oidc-connections/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other_admin.get("/sso/oidc-connections").await.body,
        json!([])
    );

    // The audit log names the changes, never the secret.
    let audit = admin.get("/audit").await;
    let text = audit.body.to_string();
    assert!(text.contains("oidc_connection.created"), "{text}");
    assert!(text.contains("oidc_connection.updated"), "{text}");
    assert!(!text.contains(CLIENT_SECRET) && !text.contains("rotated-secret"));

    let r = admin.delete(&format!("/sso/oidc-connections/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        admin
            .get(&format!("/sso/oidc-connections/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = admin.delete(&format!("/sso/oidc-connections/{id}")).await;
    assert_error(&r, 404, "not_found", &["no OIDC connection with id"]);
    let audit = admin.get("/audit").await.body;
    super::assert_connection_deletion_audited(&audit, "oidc_connection", id);
    let doc = admin.get("/openapi.json").await.body;
    assert!(doc["paths"]["/admin/v1/sso/oidc-connections"].is_object());
}

async fn a_user_who_is_not_provisioned_is_refused(app: TestApp) {
    let admin = app.admin().await;
    app.create_user("alice@example.com").await;
    let peer = OidcPeer::start(&app, true).await;
    connect(&admin, &peer, json!({})).await;
    let page = Browser::new()
        .sign_in(&app, app.org_id.as_str(), "bob")
        .await;
    assert_refused(&page, 403, "no_such_user", &["IT admin"]);
}

async fn a_deactivated_user_is_refused(app: TestApp) {
    let admin = app.admin().await;
    let id = app.create_user("bob@example.com").await;
    let r = app
        .patch(
            &format!("/Users/{id}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "value": {"active": false}}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let peer = OidcPeer::start(&app, true).await;
    connect(&admin, &peer, json!({})).await;
    let page = Browser::new()
        .sign_in(&app, app.org_id.as_str(), "bob")
        .await;
    assert_refused(&page, 403, "user_deactivated", &["deactivated"]);
}

async fn a_user_of_another_org_is_refused(app: TestApp) {
    let admin = app.admin().await;
    // Carol is provisioned in Globex only; she signs in at Acme's connection.
    let globex_token = app.other_org("Globex").await;
    let r = app
        .request_with(
            reqwest::Method::POST,
            "/Users",
            Some(
                &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                         "userName": "carol@example.com",
                         "emails": [{"value": "carol@example.com", "primary": true}]}),
            ),
            Some(&globex_token),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let peer = OidcPeer::start(&app, true).await;
    connect(&admin, &peer, json!({})).await;
    let page = Browser::new()
        .sign_in(&app, app.org_id.as_str(), "carol")
        .await;
    assert_refused(&page, 403, "no_such_user", &[]);
}

async fn jit_creates_the_user_through_the_rules(app: TestApp) {
    let admin = app.admin().await;
    let peer = OidcPeer::start(&app, true).await;
    connect(&admin, &peer, json!({"jit": true})).await;
    let page = Browser::new()
        .sign_in(&app, app.org_id.as_str(), "carol")
        .await;
    assert_signed_in(&page);
    // Created like a SCIM user: findable by SCIM, with the claims' name, in the org's
    // default team (the rules ran), and signed in.
    let r = app
        .get("/Users?filter=userName%20eq%20%22carol@example.com%22")
        .await;
    assert_eq!(r.body["totalResults"], 1, "{:?}", r.body);
    let user = &r.body["Resources"][0];
    assert_eq!(user["name"]["givenName"], "Carol");
    assert_eq!(user["emails"][0]["value"], "carol@example.com");
    let id = user["id"].as_str().unwrap();
    assert_eq!(membership_states(&app, id).await, ["active"]);
}

/// An org admin cannot point the server at internal addresses (issue 16, point 9): an
/// issuer on loopback, by address or by a name that resolves there, is refused unless the
/// operator allowed it, and every failure reads the same (refused, nothing listening, a
/// 404), so the answers map nothing.
async fn an_issuer_on_loopback_is_refused_unless_allowed(app: TestApp) {
    let strict = crate::harness::TestApp::builder(app.backend)
        .overrides(rollcall::config::Overrides {
            outbound_allow_hosts: Some(vec![]),
            ..Default::default()
        })
        .spawn()
        .await;
    let peer = OidcPeer::start(&strict, true).await;
    let port = peer.issuer.rsplit(':').next().unwrap().to_owned();
    let body = |issuer: &str| json!({"issuer": issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET});
    let refusing = Admin::new(&strict).await;
    let by_ip = refusing
        .post("/sso/oidc-connections", &body(&peer.issuer))
        .await;
    assert_error(
        &by_ip,
        400,
        "invalid_request",
        &[
            "discovery failed",
            "could not be reached or its answer could not be used",
        ],
    );
    let by_name = refusing
        .post(
            "/sso/oidc-connections",
            &body(&format!("http://localhost:{port}")),
        )
        .await;
    assert_eq!(by_name.status, StatusCode::BAD_REQUEST);
    assert_eq!(by_name.body, by_ip.body);
    assert_eq!(refusing.get("/sso/oidc-connections").await.body, json!([]));

    // Where loopback is allowed, the same issuer is reached; nothing listening and a 404
    // read exactly like the refusal.
    let allowing = app.admin().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    for issuer in [dead, format!("{}/nowhere", peer.issuer)] {
        let r = allowing.post("/sso/oidc-connections", &body(&issuer)).await;
        assert_eq!(r.body, by_ip.body, "{issuer}");
    }
    let created = allowing
        .post("/sso/oidc-connections", &body(&peer.issuer))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
}

crate::both_backends!(
    an_issuer_on_loopback_is_refused_unless_allowed,
    signs_in_through_a_real_provider,
    userinfo_supplies_claims_the_id_token_lacks,
    a_wrong_state_is_refused,
    a_state_without_the_browsers_cookie_is_refused,
    a_replayed_callback_is_refused,
    an_id_token_for_another_nonce_is_refused,
    an_id_token_signed_with_the_client_secret_is_refused,
    an_id_token_with_a_missing_or_mistyped_claim_is_invalid_not_an_outage,
    a_response_naming_another_issuer_is_refused,
    an_idp_refusal_is_explained,
    an_unverified_email_is_refused,
    start_picks_the_orgs_connection,
    admin_api_manages_and_validates_connections,
    a_user_who_is_not_provisioned_is_refused,
    a_deactivated_user_is_refused,
    a_user_of_another_org_is_refused,
    jit_creates_the_user_through_the_rules,
);
