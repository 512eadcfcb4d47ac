//! `/openapi.json`, the sign-in and session API's document, as a client generator reads
//! it; and the control-character rule that both documents state and the server applies.

use crate::harness::TestApp;
use crate::harness::assert_error;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;

async fn document(app: &TestApp, path: &str) -> Value {
    let url = format!("{}{path}", app.address);
    let r = app.request_with(Method::GET, &url, None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{path}");
    r.body
}

async fn form(app: &TestApp, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let mut request = app
        .client
        .post(format!("{}{path}", app.address))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let r = request.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// The names of a component's properties and the ones it requires.
fn fields(doc: &Value, component: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let c = &doc["components"]["schemas"][component];
    let names = c["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let required = c["required"]
        .as_array()
        .map(|r| r.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    (names, required)
}

/// Every public operation is in the document with the errors it can answer, each in the
/// error format of its route, and real answers have the documented shape.
async fn the_sign_in_document_covers_every_public_operation(app: TestApp) {
    let doc = document(&app, "/openapi.json").await;
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations.insert(format!("{} {path}", method.to_uppercase()));
            let responses = op["responses"].as_object().unwrap();
            let status = |s: &str| {
                responses
                    .get(s)
                    .unwrap_or_else(|| panic!("{method} {path} lists no {s}"))
            };
            assert!(status("429")["headers"]["Retry-After"].is_object());
            for s in ["414", "500", "503"] {
                status(s);
            }
            if op.get("requestBody").is_some() {
                status("413");
            }
            let error = if path.starts_with("/oauth/") {
                "OAuthErrorBody"
            } else {
                "SignInError"
            };
            for (code, response) in responses {
                if code.starts_with('4') || code.starts_with('5') {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        format!("#/components/schemas/{error}"),
                        "{method} {path} {code}"
                    );
                }
            }
        }
    }
    let expected: BTreeSet<String> = [
        "GET /invitations/{token}",
        "POST /invitations/{token}",
        "POST /invitations/{token}/renew",
        "POST /sign-in/email",
        "POST /sign-in/email/verify",
        "GET /.well-known/jwks.json",
        "POST /oauth/token",
        "POST /oauth/introspect",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(operations, expected);
    assert_eq!(
        doc["paths"]["/oauth/introspect"]["post"]["security"],
        json!([{"admin_token": []}])
    );

    // Real answers carry the documented fields.
    let r = app
        .request_with(
            Method::POST,
            &format!("{}/sign-in/email", app.address),
            Some(&json!({"org_id": app.org_id, "email": "nobody@example.com"})),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let answered: BTreeSet<String> = r.body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(answered, fields(&doc, "CodeSent").0);

    let (status, body) = form(
        &app,
        "/oauth/token",
        None,
        "grant_type=refresh_token&refresh_token=nope",
    )
    .await;
    assert_eq!(status, 400);
    let answered: BTreeSet<String> = body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(answered, fields(&doc, "OAuthErrorBody").1, "{body}");

    let jwks = document(&app, "/.well-known/jwks.json").await;
    let (names, _) = fields(&doc, "Jwk");
    for key in jwks["keys"].as_array().unwrap() {
        let answered: BTreeSet<String> = key.as_object().unwrap().keys().cloned().collect();
        assert_eq!(answered, names);
    }
}

/// Both documents give request strings the pattern of the server's rule (no control
/// characters but tab, LF and CR), and the server refuses exactly that on each route.
async fn both_documents_state_the_control_character_rule(app: TestApp) {
    let admin_doc = document(&app, "/admin/v1/openapi.json").await;
    let public_doc = document(&app, "/openapi.json").await;
    // (`scim::limits` tests that the patterns match exactly what the rule allows.)
    for (doc, component, field, pattern) in [
        (&admin_doc, "NewTeam", "name", scim::limits::NAME_PATTERN),
        (
            &admin_doc,
            "NewTeam",
            "description",
            scim::limits::TEXT_PATTERN,
        ),
        (
            &public_doc,
            "CodeRequest",
            "email",
            scim::limits::TEXT_PATTERN,
        ),
        (
            &public_doc,
            "CodeVerification",
            "code",
            scim::limits::TEXT_PATTERN,
        ),
        (
            &public_doc,
            "IntrospectForm",
            "token",
            scim::limits::TEXT_PATTERN,
        ),
    ] {
        assert_eq!(
            doc["components"]["schemas"][component]["properties"][field]["pattern"], pattern,
            "{component}.{field}"
        );
    }
    // Answers are not constrained: they show what is stored.
    assert!(
        admin_doc["components"]["schemas"]["TeamView"]["properties"]["name"]["pattern"].is_null()
    );

    let admin = app.admin().await;
    let r = admin.post("/teams", &json!({"name": "Ops\u{1}"})).await;
    assert_error(&r, 400, "invalid_request", &["name", "control character"]);
    let r = admin.post("/teams", &json!({"name": "Ops\tNorth"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);

    let r = app
        .request_with(
            Method::POST,
            &format!("{}/sign-in/email", app.address),
            Some(&json!({"org_id": app.org_id, "email": "ada\u{7}@example.com"})),
            None,
            &[],
        )
        .await;
    assert_error(&r, 400, "invalid_request", &["email", "control character"]);
    let (status, body) = form(
        &app,
        "/sign-in/email",
        None,
        &format!("org_id={}&email=ada%1B%40example.com", app.org_id),
    )
    .await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_request")));

    let (status, body) = form(&app, "/oauth/introspect", Some(&admin.token), "token=a%01b").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("control character")
    );
    // Without the character, the same request is judged: not a live token.
    let (status, body) = form(&app, "/oauth/introspect", Some(&admin.token), "token=ab").await;
    assert_eq!((status, body), (200, json!({"active": false})));
}

/// A sign-in form names each field once, as the JSON body can only do.
async fn a_sign_in_form_with_a_repeated_field_is_refused(app: TestApp) {
    let (status, body) = form(
        &app,
        "/sign-in/email",
        None,
        &format!(
            "org_id={}&email=a%40example.com&email=b%40example.com",
            app.org_id
        ),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("email is repeated"),
        "{body}"
    );
    let (status, body) = form(
        &app,
        "/sign-in/email",
        None,
        &format!("org_id={}&email=a%40example.com", app.org_id),
    )
    .await;
    assert_eq!(status, 202, "{body}");
}

crate::both_backends!(
    a_sign_in_form_with_a_repeated_field_is_refused,
    the_sign_in_document_covers_every_public_operation,
    both_documents_state_the_control_character_rule,
);
