//! SAML 2.0 sign-in: SP metadata, SP-initiated start, the ACS and every refusal, against
//! real signed Responses from an independent IdP implementation (pysaml2 signing through
//! Debian's xmlsec1: tests/peers/saml/idp.py, one process shared by the tests), generated
//! fresh in each test with a key pair generated for the test.

use crate::harness::admin_token_for;
use crate::harness::{Backend, Resp, Running, TestApp, create_org_and_token};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::io::Read as _;

const IDP_ENTITY_ID: &str = "https://idp.example.test/saml";
const IDP_SSO_URL: &str = "https://idp.example.test/sso";
const USER: &str = "bjensen@example.com";

/// Runs one command of the SAML peer (tests/peers/saml/idp.py) in the shared peer process.
async fn run_peer(args: &[String]) -> String {
    let peer = crate::peers::saml().await;
    let answer = peer
        .call(json!({ "args": args }))
        .await
        .unwrap_or_else(|e| panic!("the SAML peer failed {args:?}: {e}\n{}", peer.output()));
    answer["output"].as_str().unwrap().to_owned()
}

/// A test IdP: a fresh RSA key pair and self-signed certificate.
struct Idp {
    dir: tempfile::TempDir,
}

impl Idp {
    async fn new() -> Idp {
        let dir = tempfile::tempdir().unwrap();
        run_peer(&["keygen".into(), dir.path().display().to_string()]).await;
        Idp { dir }
    }

    fn certificate(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("idp.crt")).unwrap()
    }

    /// A base64 SAMLResponse built and signed by the peer.
    async fn response(&self, r: &Response) -> String {
        let mut args: Vec<String> = vec![
            "response".into(),
            "--key".into(),
            self.dir.path().join("idp.key").display().to_string(),
            "--cert".into(),
            self.dir.path().join("idp.crt").display().to_string(),
            "--issuer".into(),
            r.issuer.clone(),
            "--audience".into(),
            r.audience.clone(),
            "--recipient".into(),
            r.recipient.clone(),
            "--destination".into(),
            r.destination.clone(),
            "--name-id".into(),
            r.name_id.clone(),
            "--sign".into(),
            r.sign.into(),
            "--alg".into(),
            r.alg.into(),
            "--variant".into(),
            r.variant.into(),
            format!("--not-before={}", r.not_before),
            format!("--not-on-or-after={}", r.not_on_or_after),
        ];
        if let Some(irt) = &r.in_response_to {
            args.extend(["--in-response-to".into(), irt.clone()]);
        }
        if let Some(forged) = &r.forged_name_id {
            args.push(format!("--forged-name-id={forged}"));
        }
        for (name, value) in &r.attributes {
            args.extend(["--attr".into(), format!("{name}={value}")]);
        }
        run_peer(&args).await
    }
}

/// What the peer is asked to issue; `Saml::response` fills in the right values.
#[derive(Debug, Clone)]
struct Response {
    issuer: String,
    audience: String,
    recipient: String,
    destination: String,
    in_response_to: Option<String>,
    name_id: String,
    attributes: Vec<(String, String)>,
    sign: &'static str,
    alg: &'static str,
    variant: &'static str,
    not_before: i64,
    not_on_or_after: i64,
    /// The name the attack variants put in (tamper, XSW) or cut at (comment).
    forged_name_id: Option<String>,
}

/// A test app with an org admin, a provisioned user and a SAML connection to an `Idp`.
struct Saml {
    app: TestApp,
    idp: Idp,
    admin: String,
    connection: Value,
    client: reqwest::Client,
}

impl Saml {
    async fn new(app: TestApp) -> Saml {
        Saml::with(app, json!({})).await
    }

    /// With connection settings `extra` merged into the defaults.
    async fn with(app: TestApp, extra: Value) -> Saml {
        let idp = Idp::new().await;
        let admin = admin_token_for(&app, app.org_id.as_str(), "sso setup").await;
        app.create_user(USER).await;
        let mut body = json!({
            "idp_entity_id": IDP_ENTITY_ID,
            "idp_sso_url": IDP_SSO_URL,
            "idp_certificate": idp.certificate(),
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = admin_call(
            &app,
            &admin,
            Method::POST,
            "/sso/saml-connections",
            Some(&body),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        Saml {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            connection: r.body,
            app,
            idp,
            admin,
        }
    }

    fn url(&self, field: &str) -> String {
        self.connection[field].as_str().unwrap().to_owned()
    }

    /// The URL `field` names, on this server's socket: the public base URL may be a load
    /// balancer's.
    fn local(&self, field: &str) -> String {
        on(&self.app.address, &self.url(field))
    }

    /// A valid response for USER answering `in_response_to`, signed over the Response.
    fn response(&self, in_response_to: Option<&str>) -> Response {
        Response {
            issuer: IDP_ENTITY_ID.into(),
            audience: self.url("sp_entity_id"),
            recipient: self.url("acs_url"),
            destination: self.url("acs_url"),
            in_response_to: in_response_to.map(ToOwned::to_owned),
            name_id: USER.into(),
            attributes: vec![("email".into(), USER.into())],
            sign: "response",
            alg: "sha256",
            variant: "none",
            not_before: -60,
            not_on_or_after: 300,
            forged_name_id: None,
        }
    }

    /// Starts an SP-initiated sign-in; returns the AuthnRequest's ID read from the redirect.
    async fn start(&self) -> String {
        self.start_at(&self.local("start_url")).await
    }

    /// Starts at `url` (the connection's start, or the org's `/sso/{org}/start`) and
    /// returns the AuthnRequest's ID.
    async fn start_at(&self, url: &str) -> String {
        let r = self.client.get(url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FOUND);
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(IDP_SSO_URL), "{location}");
        let url = url::Url::parse(&location).unwrap();
        let encoded = url
            .query_pairs()
            .find(|(k, _)| k == "SAMLRequest")
            .map(|(_, v)| v.into_owned())
            .expect("the redirect carries a SAMLRequest");
        // saml-bindings §3.4.4.1: DEFLATE, then base64.
        use base64::Engine as _;
        let deflated = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(deflated.as_slice())
            .read_to_string(&mut xml)
            .unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "AuthnRequest");
        assert_eq!(
            root.attribute("AssertionConsumerServiceURL"),
            Some(self.url("acs_url").as_str())
        );
        assert_eq!(root.attribute("Destination"), Some(IDP_SSO_URL));
        let issuer = root
            .children()
            .find(|c| c.tag_name().name() == "Issuer")
            .and_then(|c| c.text());
        assert_eq!(issuer, Some(self.url("sp_entity_id").as_str()));
        root.attribute("ID").unwrap().to_owned()
    }

    /// Posts a SAMLResponse to the ACS as a browser's form would.
    async fn post_acs_to(&self, acs_url: &str, saml_response: &str) -> Resp {
        let body = serde_urlencoded::to_string([
            ("SAMLResponse", saml_response),
            ("RelayState", "ignored"),
        ])
        .unwrap();
        let r = self
            .client
            .post(acs_url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        Resp {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        }
    }

    async fn post_acs(&self, saml_response: &str) -> Resp {
        self.post_acs_to(&self.local("acs_url"), saml_response)
            .await
    }

    /// Issues `r` with the peer and posts it.
    async fn sign_in_with(&self, r: &Response) -> Resp {
        let encoded = self.idp.response(r).await;
        self.post_acs(&encoded).await
    }

    async fn admin(&self, method: Method, path: &str, body: Option<&Value>) -> Resp {
        admin_call(&self.app, &self.admin, method, path, body).await
    }
}

/// `url`'s path on the server at `address`.
fn on(address: &str, url: &str) -> String {
    format!("{address}{}", url::Url::parse(url).unwrap().path())
}

async fn admin_call(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Resp {
    let url = format!("{}/admin/v1{path}", app.address);
    let mut req = app.client.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    Resp {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

/// Every SAML check passed and the shared sign-in door opened a session: the token
/// response of RFC 6749 §5.1.
fn assert_reached_sign_in(r: &Resp) {
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["token_type"], "Bearer");
    assert!(
        r.body["access_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert!(
        r.body["refresh_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert!(r.body["expires_in"].as_u64().is_some_and(|s| s > 0));
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

fn assert_refused(r: &Resp, status: StatusCode, code: &str, says: &str) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.body["error"], code, "{:?}", r.body);
    let message = r.body["message"].as_str().unwrap();
    assert!(message.contains(says), "{message:?} should say {says:?}");
    // Never the assertion back.
    assert!(
        !message.contains("Assertion ID") && !message.contains('<'),
        "{message}"
    );
}

// ---- SP metadata and start ------------------------------------------------------------

async fn sp_metadata_names_our_entity_id_and_acs(app: TestApp) {
    let s = Saml::new(app).await;
    let r = s.client.get(s.local("metadata_url")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/samlmetadata+xml");
    let xml = r.text().await.unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert_eq!(
        root.attribute("entityID"),
        Some(s.url("sp_entity_id").as_str())
    );
    let acs = doc
        .descendants()
        .find(|n| n.tag_name().name() == "AssertionConsumerService")
        .unwrap();
    assert_eq!(
        acs.attribute("Binding"),
        Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
    );
    assert_eq!(acs.attribute("Location"), Some(s.url("acs_url").as_str()));
    // The metadata promises what the ACS enforces: a signed Response without a signed
    // assertion is accepted, so it must not say that assertions have to be signed.
    let sp = doc
        .descendants()
        .find(|n| n.tag_name().name() == "SPSSODescriptor")
        .unwrap();
    assert_eq!(sp.attribute("WantAssertionsSigned"), Some("false"));
    let request_id = s.start().await;
    let response_only = s.response(Some(&request_id));
    assert_eq!(response_only.sign, "response");
    assert_reached_sign_in(&s.sign_in_with(&response_only).await);
    // Derived from the server's public base URL, per connection.
    let id = s.url("id");
    assert_eq!(
        s.url("acs_url"),
        format!("{}/sso/saml/{id}/acs", s.app.address)
    );
    let unknown = s
        .client
        .get(format!("{}/sso/saml/nope/metadata", s.app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

// ---- accepted sign-ins ----------------------------------------------------------------

async fn sp_initiated_sign_in_passes_every_check(app: TestApp) {
    let s = Saml::new(app).await;
    let request_id = s.start().await;
    let r = s.sign_in_with(&s.response(Some(&request_id))).await;
    assert_reached_sign_in(&r);
}

async fn a_signed_assertion_in_an_unsigned_response_is_accepted(app: TestApp) {
    let s = Saml::new(app).await;
    let request_id = s.start().await;
    let mut r = s.response(Some(&request_id));
    r.sign = "assertion";
    assert_reached_sign_in(&s.sign_in_with(&r).await);
    let request_id = s.start().await;
    let mut both = s.response(Some(&request_id));
    both.sign = "both";
    assert_reached_sign_in(&s.sign_in_with(&both).await);
}

async fn idp_initiated_is_accepted_where_the_connection_allows_it(app: TestApp) {
    let s = Saml::with(app, json!({"allow_idp_initiated": true})).await;
    assert_reached_sign_in(&s.sign_in_with(&s.response(None)).await);
}

async fn a_clock_skew_of_a_minute_is_tolerated(app: TestApp) {
    let s = Saml::new(app).await;
    let request_id = s.start().await;
    let mut r = s.response(Some(&request_id));
    r.not_on_or_after = -60;
    assert_reached_sign_in(&s.sign_in_with(&r).await);
    let request_id = s.start().await;
    let mut r = s.response(Some(&request_id));
    r.not_before = 60;
    assert_reached_sign_in(&s.sign_in_with(&r).await);
}

// ---- signatures -------------------------------------------------------------------------

async fn sha1_is_accepted_where_the_connection_opts_in(app: TestApp) {
    let s = Saml::with(app, json!({"allow_sha1": true})).await;
    let request_id = s.start().await;
    let mut r = s.response(Some(&request_id));
    r.alg = "sha1";
    r.sign = "both";
    assert_reached_sign_in(&s.sign_in_with(&r).await);
}

// ---- refusals of a response that breaks one rule ---------------------------------------

/// Who signs a row's response.
#[derive(Debug, Clone, Copy)]
enum Signer {
    /// The connection's IdP.
    Idp,
    /// A key the connection does not know.
    OtherKey,
}

/// One response the ACS must refuse: how the valid response is altered, who signs it, and
/// the refusal expected.
struct Refusal {
    name: &'static str,
    alter: fn(&mut Response),
    signer: Signer,
    status: StatusCode,
    code: &'static str,
    says: &'static str,
    /// Whether to check that the refusal left the request usable: the genuine response
    /// to it still signs in.
    request_survives: bool,
}

fn refusals() -> Vec<Refusal> {
    let refused = |name, alter, says| Refusal {
        name,
        alter,
        signer: Signer::Idp,
        status: StatusCode::FORBIDDEN,
        code: "saml_response_refused",
        says,
        request_survives: false,
    };
    vec![
        // Signatures.
        Refusal {
            request_survives: true,
            ..refused(
                "a tampered signature",
                |r| r.variant = "tamper",
                "does not verify",
            )
        },
        refused(
            "an unsigned response and assertion",
            |r| r.sign = "none",
            "not signed",
        ),
        Refusal {
            signer: Signer::OtherKey,
            ..refused(
                "a response signed by another key",
                |_| {},
                "does not verify",
            )
        },
        refused("SHA-1 (by default)", |r| r.alg = "sha1", "SHA-1"),
        // Signature wrapping (XSW).
        refused(
            "a forged assertion before the signed one",
            |r| (r.sign, r.variant) = ("assertion", "xsw-before"),
            "exactly one assertion",
        ),
        refused(
            "a forged assertion after the signed one",
            |r| (r.sign, r.variant) = ("assertion", "xsw-after"),
            "exactly one assertion",
        ),
        refused(
            "a signed assertion moved into Extensions",
            |r| (r.sign, r.variant) = ("assertion", "xsw-extensions"),
            "exactly one assertion",
        ),
        // Conditions.
        refused(
            "a wrong audience",
            |r| r.audience = "https://another-sp.example/metadata".into(),
            "another service",
        ),
        refused(
            "a wrong recipient",
            |r| r.recipient = "https://another-sp.example/acs".into(),
            "another recipient",
        ),
        refused(
            "a wrong destination",
            |r| r.destination = "https://another-sp.example/acs".into(),
            "was sent to",
        ),
        refused(
            "a wrong issuer",
            |r| r.issuer = "https://other-idp.example".into(),
            "issued by",
        ),
        refused(
            "an expired assertion",
            |r| (r.not_before, r.not_on_or_after) = (-900, -300),
            "expired",
        ),
        refused(
            "a not yet valid assertion",
            |r| (r.not_before, r.not_on_or_after) = (300, 900),
            "not valid yet",
        ),
        // InResponseTo.
        Refusal {
            code: "unsolicited_response",
            ..refused(
                "IdP-initiated (by default)",
                |r| r.in_response_to = None,
                "not enabled",
            )
        },
        Refusal {
            code: "unknown_request",
            ..refused(
                "an unknown InResponseTo",
                |r| r.in_response_to = Some("_not-a-request-we-sent".into()),
                "does not answer a request",
            )
        },
    ]
}

/// Every row of [`refusals`] on one app and connection: a response to a request of its
/// own, altered as the row says, is refused as the row says (and, where the row says so,
/// the genuine response to that request still signs in). Failing rows are named.
async fn responses_that_break_one_rule_are_refused(app: TestApp) {
    let s = Saml::new(app).await;
    let other_key = Idp::new().await;
    let mut failures = Vec::new();
    for row in refusals() {
        let request_id = s.start().await;
        let mut r = s.response(Some(&request_id));
        (row.alter)(&mut r);
        let encoded = match row.signer {
            Signer::Idp => s.idp.response(&r).await,
            Signer::OtherKey => other_key.response(&r).await,
        };
        let answer = s.post_acs(&encoded).await;
        let message = answer.body["message"].as_str().unwrap_or_default();
        if answer.status != row.status
            || answer.body["error"] != row.code
            || !message.contains(row.says)
        {
            failures.push(format!(
                "{}: expected {} {} saying {:?}, got {} {:?}",
                row.name, row.status, row.code, row.says, answer.status, answer.body
            ));
        }
        // Never the assertion back.
        if message.contains("Assertion ID") || message.contains('<') {
            failures.push(format!(
                "{}: the refusal quotes the assertion: {message}",
                row.name
            ));
        }
        if !row.request_survives {
            continue;
        }
        let genuine = s.sign_in_with(&s.response(Some(&request_id))).await;
        if genuine.status != StatusCode::OK {
            failures.push(format!(
                "{}: the refusal used up the request: {:?}",
                row.name, genuine.body
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

async fn garbage_is_a_bad_request(app: TestApp) {
    let s = Saml::new(app).await;
    let answer = s.post_acs("not base64 at all!").await;
    assert_refused(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_saml_response",
        "base64",
    );
    use base64::Engine as _;
    let dtd = base64::engine::general_purpose::STANDARD
        .encode("<!DOCTYPE r [<!ENTITY a \"b\">]><r>&a;</r>");
    let answer = s.post_acs(&dtd).await;
    assert_refused(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_saml_response",
        "XML",
    );
    // A browser gets a page saying the same.
    let r = s
        .client
        .post(s.local("acs_url"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "text/html")
        .body("RelayState=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.text().await.unwrap().contains("no SAMLResponse"));
}

// ---- InResponseTo and replay (database state) -----------------------------------------

async fn a_request_is_answered_once(app: TestApp) {
    let s = Saml::new(app).await;
    let request_id = s.start().await;
    assert_reached_sign_in(&s.sign_in_with(&s.response(Some(&request_id))).await);
    // A second, different assertion answering the same request.
    let answer = s.sign_in_with(&s.response(Some(&request_id))).await;
    assert_refused(
        &answer,
        StatusCode::FORBIDDEN,
        "unknown_request",
        "already used",
    );
}

async fn a_request_of_another_connection_is_refused(app: TestApp) {
    let s = Saml::new(app).await;
    let r = s
        .admin(
            Method::POST,
            "/sso/saml-connections",
            Some(&json!({
                "idp_entity_id": IDP_ENTITY_ID,
                "idp_sso_url": IDP_SSO_URL,
                "idp_certificate": s.idp.certificate(),
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let other_start = on(&s.app.address, r.body["start_url"].as_str().unwrap());
    let redirect = s.client.get(other_start).send().await.unwrap();
    assert_eq!(redirect.status(), StatusCode::FOUND);
    // Our own request id is not known to the other connection and vice versa; use a
    // request of ours on the other connection's ACS.
    let request_id = s.start().await;
    let mut resp = s.response(Some(&request_id));
    let other_acs = r.body["acs_url"].as_str().unwrap().to_owned();
    resp.audience = r.body["sp_entity_id"].as_str().unwrap().into();
    resp.recipient = other_acs.clone();
    resp.destination = other_acs.clone();
    let encoded = s.idp.response(&resp).await;
    let answer = s
        .post_acs_to(&on(&s.app.address, &other_acs), &encoded)
        .await;
    assert_refused(
        &answer,
        StatusCode::FORBIDDEN,
        "unknown_request",
        "does not answer a request",
    );
}

async fn a_replayed_assertion_is_refused(app: TestApp) {
    let s = Saml::with(app, json!({"allow_idp_initiated": true})).await;
    let encoded = s.idp.response(&s.response(None)).await;
    assert_reached_sign_in(&s.post_acs(&encoded).await);
    let answer = s.post_acs(&encoded).await;
    assert_refused(
        &answer,
        StatusCode::FORBIDDEN,
        "assertion_replayed",
        "already used",
    );
}

/// The public URL both replicas of the two-instance test answer for.
const PUBLIC_URL: &str = "https://rollcall.example.test";

/// A second server on the test's database, as a replica behind a load balancer.
async fn second_instance(app: &TestApp) -> (String, (Running, tempfile::TempDir)) {
    use rollcall::config::{Config, Overrides};
    let data_dir = tempfile::tempdir().unwrap();
    let config = Config::load(&Overrides {
        database_url: Some(app.database_url.clone()),
        data_dir: Some(data_dir.path().to_owned()),
        listen: Some("127.0.0.1:0".into()),
        public_url: Some(PUBLIC_URL.into()),
        // Replicas share the master key, as they share the database.
        master_key: Some(app.master_key_text.clone()),
        ..Overrides::default()
    })
    .unwrap();
    let other = rollcall::app::App::build(config).await.unwrap();
    let address = format!("http://{}", other.address());
    (address, (Running::spawn(other), data_dir))
}

async fn two_replicas() -> (Saml, String, (Running, tempfile::TempDir)) {
    let app = TestApp::builder(Backend::Postgres)
        .overrides(rollcall::config::Overrides {
            public_url: Some(PUBLIC_URL.into()),
            ..Default::default()
        })
        .spawn()
        .await;
    let s = Saml::with(app, json!({"allow_idp_initiated": true})).await;
    assert!(s.url("acs_url").starts_with(PUBLIC_URL));
    let (other, dir) = second_instance(&s.app).await;
    (s, other, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_on_another_replica_sharing_postgres_is_refused() {
    let (s, other, _dir) = two_replicas().await;
    let encoded = s.idp.response(&s.response(None)).await;
    assert_reached_sign_in(&s.post_acs(&encoded).await);
    let answer = s
        .post_acs_to(&on(&other, &s.url("acs_url")), &encoded)
        .await;
    assert_refused(
        &answer,
        StatusCode::FORBIDDEN,
        "assertion_replayed",
        "already used",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_started_on_one_replica_completes_on_another() {
    let (s, other, _dir) = two_replicas().await;
    let request_id = s.start().await;
    let encoded = s.idp.response(&s.response(Some(&request_id))).await;
    assert_reached_sign_in(
        &s.post_acs_to(&on(&other, &s.url("acs_url")), &encoded)
            .await,
    );
    // ... once: the first replica knows the request is used.
    let again = s.idp.response(&s.response(Some(&request_id))).await;
    let answer = s.post_acs(&again).await;
    assert_refused(
        &answer,
        StatusCode::FORBIDDEN,
        "unknown_request",
        "already used",
    );
}

// ---- who may sign in (the shared sign-in door) ---------------------------------------
//
// The verified identity goes through `sso::signin::sign_in`: SCIM decides who gets in.

async fn a_provisioned_user_signs_in(app: TestApp) {
    let s = Saml::new(app).await;
    let request_id = s.start().await;
    assert_reached_sign_in(&s.sign_in_with(&s.response(Some(&request_id))).await);
}

async fn the_orgs_start_picks_its_saml_connection(app: TestApp) {
    let org_start = format!("{}/sso/{}/start", app.address, app.org_id);
    let s = Saml::new(app).await;
    let request_id = s.start_at(&org_start).await;
    assert_reached_sign_in(&s.sign_in_with(&s.response(Some(&request_id))).await);
}

async fn a_user_not_provisioned_is_refused(app: TestApp) {
    let s = Saml::new(app).await;
    let request_id = s.start().await;
    let mut r = s.response(Some(&request_id));
    r.name_id = "nobody@example.com".into();
    r.attributes = vec![];
    let answer = s.sign_in_with(&r).await;
    assert_refused(
        &answer,
        StatusCode::FORBIDDEN,
        "no_such_user",
        "no user of this organization",
    );
}

async fn a_deactivated_user_is_refused(app: TestApp) {
    let s = Saml::new(app).await;
    let users = s
        .app
        .get(&format!("/Users?filter=userName%20eq%20%22{USER}%22"))
        .await;
    let id = users.body["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .app
        .patch(
            &format!("/Users/{id}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "active", "value": false}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let request_id = s.start().await;
    let answer = s.sign_in_with(&s.response(Some(&request_id))).await;
    assert_refused(
        &answer,
        StatusCode::FORBIDDEN,
        "user_deactivated",
        "deactivated",
    );
}

async fn a_user_of_another_org_is_refused(app: TestApp) {
    let s = Saml::new(app).await;
    let (_, globex_token) = create_org_and_token(&s.app.database_url, "Globex").await;
    let carol = "carol@globex.example";
    let r = s
        .app
        .request_with(
            Method::POST,
            "/Users",
            Some(
                &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                         "userName": carol, "emails": [{"value": carol, "primary": true}]}),
            ),
            Some(&globex_token),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let request_id = s.start().await;
    let mut r = s.response(Some(&request_id));
    r.name_id = carol.into();
    r.attributes = vec![("email".into(), carol.into())];
    let answer = s.sign_in_with(&r).await;
    assert_refused(
        &answer,
        StatusCode::FORBIDDEN,
        "no_such_user",
        "no user of this organization",
    );
}

/// The user a sign-in answer's access token is for (its `sub`).
fn signed_in_user(r: &Resp) -> String {
    use base64::Engine as _;
    let token = r.body["access_token"].as_str().unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["sub"].as_str().unwrap().to_owned()
}

async fn user_id(app: &TestApp, user_name: &str) -> String {
    let users = app
        .get(&format!("/Users?filter=userName%20eq%20%22{user_name}%22"))
        .await;
    users.body["Resources"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no user {user_name}: {:?}", users.body))
        .to_owned()
}

async fn a_comment_in_the_name_id_does_not_truncate_it(app: TestApp) {
    let s = Saml::new(app).await;
    // The IdP vouches for "bjensen@example.com.evil.example", a comment after
    // "bjensen@example.com": xmlsec verifies it (exclusive c14n drops comments), and the
    // NameID read from the canonical form is the whole name, which matches nobody here.
    let evil = format!("{USER}.evil.example");
    let split = |request_id: &str| {
        let mut r = s.response(Some(request_id));
        r.name_id = evil.clone();
        r.attributes = vec![];
        r.variant = "comment";
        r.forged_name_id = Some(USER.into());
        r
    };
    let request_id = s.start().await;
    let answer = s.sign_in_with(&split(&request_id)).await;
    assert_refused(
        &answer,
        StatusCode::FORBIDDEN,
        "no_such_user",
        "no user of this organization",
    );
    // Once that name is provisioned, the same split NameID signs in as that user, never
    // as USER.
    s.app.create_user(&evil).await;
    let request_id = s.start().await;
    let answer = s.sign_in_with(&split(&request_id)).await;
    assert_reached_sign_in(&answer);
    assert_eq!(signed_in_user(&answer), user_id(&s.app, &evil).await);
}

/// CDATA inside signed content is text to c14n: a Response signed over it verifies and
/// the NameID and attribute values read as their text, whichever part is signed.
async fn cdata_in_signed_values_reads_as_their_text(app: TestApp) {
    let s = Saml::with(app, json!({"identity_attribute": "email"})).await;
    let ours = user_id(&s.app, USER).await;
    for sign in ["response", "assertion"] {
        let request_id = s.start().await;
        let mut r = s.response(Some(&request_id));
        // NameID `bjensen@<![CDATA[example.com]]>`, the email attribute likewise.
        r.variant = "cdata";
        r.forged_name_id = Some("bjensen@".into());
        r.sign = sign;
        let answer = s.sign_in_with(&r).await;
        assert_reached_sign_in(&answer);
        assert_eq!(signed_in_user(&answer), ours, "{sign}");
    }
    // And a comment and CDATA together, in the NameID the default connection reads.
    let r = s
        .admin(
            Method::PATCH,
            &format!("/sso/saml-connections/{}", s.url("id")),
            Some(&json!({"identity_attribute": null})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let request_id = s.start().await;
    let mut r = s.response(Some(&request_id));
    r.variant = "cdata";
    r.forged_name_id = Some("bjensen@".into());
    r.attributes = vec![];
    let signed = s.idp.response(&r).await;
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let xml = String::from_utf8(b64.decode(&signed).unwrap()).unwrap();
    let both = xml.replacen("bjensen@<![CDATA[", "bjen<!-- IdP note -->sen@<![CDATA[", 1);
    assert_ne!(both, xml, "the peer wrote the CDATA section");
    let answer = s.post_acs(&b64.encode(both)).await;
    assert_reached_sign_in(&answer);
    assert_eq!(signed_in_user(&answer), ours);
}

// ---- admin API ------------------------------------------------------------------------

async fn a_connection_without_certificate_is_refused(app: TestApp) {
    let admin = admin_token_for(&app, app.org_id.as_str(), "sso setup").await;
    let r = admin_call(
        &app,
        &admin,
        Method::POST,
        "/sso/saml-connections",
        Some(&json!({"idp_entity_id": IDP_ENTITY_ID, "idp_sso_url": IDP_SSO_URL})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(r.body["error"], "invalid_request");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("idp_certificate is required"),
        "{:?}",
        r.body
    );
    // Metadata without a signing key is no better.
    let metadata = format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{IDP_ENTITY_ID}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{IDP_SSO_URL}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    );
    let r = admin_call(
        &app,
        &admin,
        Method::POST,
        "/sso/saml-connections",
        Some(&json!({"idp_metadata_xml": metadata})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    // Nor is something that is not a certificate.
    let r = admin_call(
        &app,
        &admin,
        Method::POST,
        "/sso/saml-connections",
        Some(&json!({"idp_entity_id": IDP_ENTITY_ID, "idp_sso_url": IDP_SSO_URL,
                     "idp_certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let list = admin_call(&app, &admin, Method::GET, "/sso/saml-connections", None).await;
    assert_eq!(list.body, json!([]));
}

async fn connections_are_managed_per_org_and_read_from_metadata(app: TestApp) {
    let s = Saml::new(app).await;
    let id = s.url("id");
    assert_eq!(s.connection["allow_sha1"], false);
    assert_eq!(s.connection["allow_idp_initiated"], false);
    assert_eq!(s.connection["match_by"], "email");
    assert_eq!(s.connection["identity_attribute"], Value::Null);
    assert_eq!(s.connection["enabled"], true);

    // From the IdP's metadata.
    let cert_b64: String = s
        .idp
        .certificate()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let metadata = format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://meta.example/idp"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://meta.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    );
    let m = s
        .admin(
            Method::POST,
            "/sso/saml-connections",
            Some(&json!({"idp_metadata_xml": metadata, "match_by": "user_name", "jit": true})),
        )
        .await;
    assert_eq!(m.status, StatusCode::CREATED, "{:?}", m.body);
    assert_eq!(m.body["idp_entity_id"], "https://meta.example/idp");
    assert_eq!(m.body["idp_sso_url"], "https://meta.example/sso");
    assert_eq!(m.body["idp_certificate"], s.connection["idp_certificate"]);
    assert_eq!(m.body["match_by"], "user_name");

    let list = s.admin(Method::GET, "/sso/saml-connections", None).await;
    assert_eq!(list.body.as_array().unwrap().len(), 2);

    let u = s
        .admin(
            Method::PATCH,
            &format!("/sso/saml-connections/{id}"),
            Some(&json!({"allow_idp_initiated": true, "identity_attribute": "email", "enabled": false})),
        )
        .await;
    assert_eq!(u.status, StatusCode::OK, "{:?}", u.body);
    assert_eq!(u.body["allow_idp_initiated"], true);
    assert_eq!(u.body["identity_attribute"], "email");
    assert_eq!(u.body["idp_certificate"], s.connection["idp_certificate"]);
    // Disabled: no sign-in starts.
    let start = s.client.get(s.local("start_url")).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::FORBIDDEN);

    // Another org's admin sees none of it.
    let (globex, _) = create_org_and_token(&s.app.database_url, "Globex").await;
    let globex_admin = admin_token_for(&s.app, globex.as_str(), "globex").await;
    let path = format!("/sso/saml-connections/{id}");
    let r = admin_call(&s.app, &globex_admin, Method::GET, &path, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = admin_call(&s.app, &globex_admin, Method::DELETE, &path, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = admin_call(
        &s.app,
        &globex_admin,
        Method::GET,
        "/sso/saml-connections",
        None,
    )
    .await;
    assert_eq!(r.body, json!([]));
    let audit = s.admin(Method::GET, "/audit", None).await;
    assert!(
        audit.body.to_string().contains("saml_connection.updated"),
        "{:?}",
        audit.body
    );

    let d = s
        .admin(Method::DELETE, &format!("/sso/saml-connections/{id}"), None)
        .await;
    assert_eq!(d.status, StatusCode::NO_CONTENT);
    let g = s
        .admin(Method::GET, &format!("/sso/saml-connections/{id}"), None)
        .await;
    assert_eq!(g.status, StatusCode::NOT_FOUND);
    assert_eq!(g.body["error"], "not_found");
    let message = g.body["message"].as_str().unwrap_or_default();
    assert!(message.contains("no SAML connection with id"), "{message}");
    let audit = s.admin(Method::GET, "/audit", None).await.body;
    super::assert_connection_deletion_audited(&audit, "saml_connection", &id);
    let acs = s.sign_in_with(&s.response(None)).await;
    assert_eq!(acs.status, StatusCode::NOT_FOUND);
}

crate::both_backends!(
    responses_that_break_one_rule_are_refused,
    a_provisioned_user_signs_in,
    the_orgs_start_picks_its_saml_connection,
    a_user_not_provisioned_is_refused,
    a_deactivated_user_is_refused,
    a_user_of_another_org_is_refused,
    a_comment_in_the_name_id_does_not_truncate_it,
    cdata_in_signed_values_reads_as_their_text,
    sp_initiated_sign_in_passes_every_check,
    idp_initiated_is_accepted_where_the_connection_allows_it,
    a_request_is_answered_once,
    a_request_of_another_connection_is_refused,
    a_replayed_assertion_is_refused,
    a_connection_without_certificate_is_refused,
    connections_are_managed_per_org_and_read_from_metadata,
);

/// Checks that do not touch the database beyond the setup: SQLite only.
mod protocol {
    use super::*;

    crate::both_backends!(sqlite_only, setup = crate::harness::spawn_app;
        sp_metadata_names_our_entity_id_and_acs,
        a_signed_assertion_in_an_unsigned_response_is_accepted,
        a_clock_skew_of_a_minute_is_tolerated,
        sha1_is_accepted_where_the_connection_opts_in,
        garbage_is_a_bad_request,
    );
}
