//! `/admin/v1/openapi.json` as a client generator reads it: every operation's errors and
//! their body, and request constraints that are exactly the ones the server enforces.

use crate::harness::TestApp;
use crate::harness::assert_error;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;

async fn document(app: &TestApp) -> Value {
    let url = format!("{}/admin/v1/openapi.json", app.address);
    let r = app.request_with(Method::GET, &url, None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    r.body
}

/// The schema `s` points to, following `$ref`s into the document's components.
fn resolve<'a>(doc: &'a Value, s: &'a Value) -> &'a Value {
    match s["$ref"].as_str() {
        Some(r) => {
            let name = r.strip_prefix("#/components/schemas/").unwrap();
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => s,
    }
}

/// The properties of a component, looking into `allOf` for components with rules between
/// their fields.
fn property<'a>(doc: &'a Value, component: &str, name: &str) -> &'a Value {
    let c = &doc["components"]["schemas"][component];
    let object = c["allOf"].get(0).unwrap_or(c);
    let p = &object["properties"][name];
    assert!(p.is_object(), "{component}.{name} in {object}");
    p
}

/// The enum values a property allows (an optional one is `oneOf` null and the enum).
fn enum_values(doc: &Value, schema: &Value) -> Vec<String> {
    let schema = resolve(doc, schema);
    if let Some(values) = schema["enum"].as_array() {
        return values
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
    }
    let alternatives = schema["oneOf"].as_array().unwrap_or_else(|| {
        panic!("{schema} is neither an enum nor one of null and an enum");
    });
    let values: Vec<Vec<String>> = alternatives
        .iter()
        .filter(|a| a["type"] != "null")
        .map(|a| enum_values(doc, a))
        .collect();
    assert_eq!(values.len(), 1, "{schema}");
    values.into_iter().next().unwrap()
}

async fn every_operation_lists_its_errors_with_the_error_body(app: TestApp) {
    let doc = document(&app).await;
    let error_body = json!({"$ref": "#/components/schemas/ErrorBody"});
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let responses = op["responses"].as_object().unwrap();
            let status = |s: &str| {
                responses
                    .get(s)
                    .unwrap_or_else(|| panic!("{method} {path} lists no {s}"))
            };
            assert!(status("401")["headers"]["WWW-Authenticate"].is_object());
            assert!(status("429")["headers"]["Retry-After"].is_object());
            status("414");
            if op.get("requestBody").is_some() {
                status("400");
                status("413");
            }
            if path.contains('{') {
                status("404");
            }
            for (code, response) in responses {
                assert!(
                    !response["description"].as_str().unwrap().is_empty(),
                    "{method} {path} {code} says what it means"
                );
                if code.starts_with('4') || code.starts_with('5') {
                    assert_eq!(
                        response["content"]["application/json"]["schema"], error_body,
                        "{method} {path} {code}"
                    );
                }
            }
        }
    }
    assert!(operations >= 49, "{operations} operations");

    // The code of the error a client gets is one the document lists.
    let codes = enum_values(&doc, property(&doc, "ErrorBody", "error"));
    let url = format!("{}/admin/v1/teams", app.address);
    let r = app.request_with(Method::GET, &url, None, None, &[]).await;
    assert_error(&r, 401, "unauthorized", &["admin token"]);
    let admin = app.admin().await;
    let r = admin
        .post("/teams", &json!({"name": "x", "login_type": "sms"}))
        .await;
    for answered in [&r.body["error"], &json!("unauthorized")] {
        assert!(
            codes.contains(&answered.as_str().unwrap().to_owned()),
            "{answered}"
        );
    }
}

async fn the_documented_values_are_the_ones_the_server_accepts(app: TestApp) {
    let doc = document(&app).await;
    let admin = app.admin().await;

    let login_types = enum_values(&doc, property(&doc, "NewTeam", "login_type"));
    assert_eq!(login_types, ["email", "device"]);
    for t in &login_types {
        let r = admin
            .post(
                "/teams",
                &json!({"name": format!("by {t}"), "login_type": t}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{t}: {:?}", r.body);
        assert_eq!(&r.body["login_type"], t);
    }
    // Anything else is refused, the message naming the field and the values.
    let r = admin
        .post("/teams", &json!({"name": "X", "login_type": "Email"}))
        .await;
    assert_error(
        &r,
        400,
        "invalid_request",
        &["login_type", "email", "device"],
    );

    let overflow = enum_values(&doc, property(&doc, "SettingsUpdate", "seat_overflow"));
    assert_eq!(overflow, ["waitlist", "reject"]);
    for o in &overflow {
        let r = admin.patch("/settings", &json!({"seat_overflow": o})).await;
        assert_eq!(r.status, StatusCode::OK, "{o}: {:?}", r.body);
        assert_eq!(&r.body["seat_overflow"], o);
    }

    assert_eq!(
        enum_values(&doc, property(&doc, "NewOrgRole", "role")),
        ["org_admin", "org_analyst"]
    );
    assert_eq!(
        enum_values(&doc, property(&doc, "NewMember", "role")),
        ["user", "admin"]
    );
    assert_eq!(
        enum_values(&doc, property(&doc, "NewMapping", "org_role")),
        ["org_admin", "org_analyst"]
    );
    let event_types = &property(&doc, "NewWebhook", "event_types")["items"];
    let documented: BTreeSet<String> = enum_values(&doc, event_types).into_iter().collect();
    let accepted: BTreeSet<String> = rollcall::outbox::EventType::ALL
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    assert_eq!(documented, accepted);

    // Ranges: each bound is accepted, one past it refused.
    let limit = doc["paths"]["/admin/v1/audit"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap()["schema"]
        .clone();
    let (min, max) = (
        limit["minimum"].as_i64().unwrap(),
        limit["maximum"].as_i64().unwrap(),
    );
    for (n, status) in [(min, 200), (max, 200), (min - 1, 400), (max + 1, 400)] {
        let r = admin.get(&format!("/audit?limit={n}")).await;
        assert_eq!(r.status.as_u16(), status, "limit={n}: {:?}", r.body);
    }

    let seats = property(&doc, "NewSubscription", "seats");
    assert_eq!(seats["type"], "integer");
    assert_eq!(seats["minimum"], 0);
    // JSON Schema's integer is a whole number however it is written.
    for (n, status) in [
        (json!(0), 201),
        (json!(5.0), 201),
        (json!(-1), 400),
        (json!(2.5), 400),
    ] {
        let r = admin
            .post("/subscriptions", &json!({"label": "pool", "seats": n}))
            .await;
        assert_eq!(r.status.as_u16(), status, "seats {n}: {:?}", r.body);
    }

    let user_ids = property(&doc, "MemberSelection", "user_ids");
    let (min, max) = (
        user_ids["minItems"].as_u64().unwrap() as usize,
        user_ids["maxItems"].as_u64().unwrap() as usize,
    );
    let team = admin.team_named("Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (n, status) in [(min, 200), (max, 200), (min - 1, 400), (max + 1, 400)] {
        let ids: Vec<String> = (0..n).map(|i| format!("nobody-{i}")).collect();
        let r = admin
            .post(
                &format!("/teams/{team}/members/resend-invite"),
                &json!({"user_ids": ids}),
            )
            .await;
        assert_eq!(r.status.as_u16(), status, "{n} user ids: {:?}", r.body);
    }

    // Every request body is an object (serde would read a struct from an array too).
    assert_eq!(
        doc["components"]["schemas"]["SubscriptionUpdate"]["type"],
        "object"
    );
    let sub = admin.subscription_id().await;
    assert_error(
        &admin
            .patch(&format!("/subscriptions/{sub}"), &json!([null, null, 3]))
            .await,
        400,
        "invalid_request",
        &["JSON object"],
    );
}

crate::both_backends!(
    every_operation_lists_its_errors_with_the_error_body,
    the_documented_values_are_the_ones_the_server_accepts,
);
