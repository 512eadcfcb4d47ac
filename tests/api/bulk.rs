//! `/Bulk`, RFC 7644 §3.7: bulkId references, `failOnErrors`, and the advertised limits.

use crate::harness::TestApp;
use crate::harness::{BULK_REQUEST, GROUP_SCHEMA, USER_SCHEMA, filter, raw, set};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn bulk(ops: Vec<Value>) -> Value {
    json!({"schemas": [BULK_REQUEST], "Operations": ops})
}

fn create_user_op(bulk_id: &str, user_name: &str) -> Value {
    json!({
        "method": "POST",
        "path": "/Users",
        "bulkId": bulk_id,
        "data": {"schemas": [USER_SCHEMA], "userName": user_name}
    })
}

fn id_from_location(op: &Value) -> String {
    op["location"]
        .as_str()
        .unwrap_or_else(|| panic!("no location: {op}"))
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

async fn user_count(app: &TestApp) -> u64 {
    app.get("/Users?count=0").await.body["totalResults"]
        .as_u64()
        .unwrap()
}

async fn bulk_ids_link_operations_in_any_order(app: TestApp) {
    // The group comes first and names users created later in the same request.
    let r = app
        .post(
            "/Bulk",
            &bulk(vec![
                json!({
                    "method": "POST",
                    "path": "/Groups",
                    "bulkId": "g1",
                    "data": {
                        "schemas": [GROUP_SCHEMA],
                        "displayName": "Tour Guides",
                        "members": [{"type": "User", "value": "bulkId:u1"}, {"type": "User", "value": "bulkId:u2"}]
                    }
                }),
                create_user_op("u1", "alice@example.com"),
                create_user_op("u2", "bob@example.com"),
                json!({
                    "method": "PUT",
                    "path": "/Users/bulkId:u2",
                    "data": {"schemas": [USER_SCHEMA], "userName": "bob@example.com", "title": "Guide"}
                }),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
    );
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 4, "{ops:?}");
    let by_bulk_id = |b: &str| {
        ops.iter()
            .find(|o| o["bulkId"] == b)
            .unwrap_or_else(|| panic!("no result for {b}: {ops:?}"))
    };
    for b in ["g1", "u1", "u2"] {
        let op = by_bulk_id(b);
        assert_eq!(op["status"], "201", "{op}");
        assert!(
            op["version"].as_str().is_some_and(|v| v.starts_with("W/")),
            "{op}"
        );
    }
    let alice = id_from_location(by_bulk_id("u1"));
    let bob = id_from_location(by_bulk_id("u2"));
    let group = id_from_location(by_bulk_id("g1"));
    let put = ops.iter().find(|o| o["method"] == "PUT").unwrap();
    assert_eq!(put["status"], "200", "{put}");

    let g = app.get(&format!("/Groups/{group}")).await;
    assert_eq!(g.status, StatusCode::OK);
    let members: BTreeSet<String> = g.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(members, set(&[&alice, &bob]));
    assert_eq!(
        app.get(&format!("/Users/{bob}")).await.body["title"],
        "Guide"
    );
    let r = filter(&app, "/Users", &format!(r#"groups.value eq "{group}""#)).await;
    assert_eq!(r.body["totalResults"], 2);
}

async fn fail_on_errors_stops_after_that_many_errors(app: TestApp) {
    let ops = || {
        vec![
            create_user_op("a", "first@example.com"),
            json!({"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"schemas": [USER_SCHEMA], "title": "no userName"}}),
            create_user_op("dup", "first@example.com"),
            create_user_op("c", "third@example.com"),
        ]
    };
    let mut body = bulk(ops());
    body["failOnErrors"] = json!(1);
    let r = app.post("/Bulk", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let results = r.body["Operations"].as_array().unwrap();
    assert_eq!(
        results.len(),
        2,
        "processing must stop at the first error: {results:?}"
    );
    assert_eq!(results[0]["status"], "201");
    assert_eq!(results[1]["status"], "400");
    assert_eq!(results[1]["response"]["scimType"], "invalidValue");
    assert_eq!(results[1]["response"]["status"], "400");
    assert_eq!(user_count(&app).await, 1, "nothing after the error runs");

    // Without failOnErrors every operation runs and reports its own outcome.
    let mut ops = ops();
    for op in &mut ops {
        op["data"]["userName"] = match op["data"]["userName"].as_str() {
            Some(name) => json!(format!("again-{name}")),
            None => Value::Null,
        };
    }
    let r = app.post("/Bulk", &bulk(ops)).await;
    let results = r.body["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = results
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["201", "400", "409", "201"], "{results:?}");
    assert_eq!(results[2]["response"]["scimType"], "uniqueness");
    assert_eq!(user_count(&app).await, 3);
}

async fn more_than_max_operations_is_413(app: TestApp) {
    let spc = app.get("/ServiceProviderConfig").await.body;
    let max = spc["bulk"]["maxOperations"].as_u64().unwrap() as usize;
    let ops: Vec<Value> = (0..=max)
        .map(|i| create_user_op(&format!("u{i}"), &format!("u{i}@example.com")))
        .collect();
    let r = app.post("/Bulk", &bulk(ops)).await;
    crate::harness::assert_scim_error(&r, StatusCode::PAYLOAD_TOO_LARGE, None);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains(&max.to_string()),
        "the detail should state the limit: {:?}",
        r.body
    );
    assert_eq!(user_count(&app).await, 0);
}

async fn payload_above_max_payload_size_is_413(app: TestApp) {
    let spc = app.get("/ServiceProviderConfig").await.body;
    let max = spc["bulk"]["maxPayloadSize"].as_u64().unwrap() as usize;
    let mut op = create_user_op("big", "big@example.com");
    op["data"]["title"] = json!("x".repeat(max));
    let body = bulk(vec![op]).to_string();
    assert!(body.len() > max);
    let r = raw(
        &app,
        Method::POST,
        "/Bulk",
        Some(body.into_bytes()),
        Some(&app.token),
        &[("Content-Type", "application/scim+json")],
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    let body = r.json();
    assert_eq!(body["schemas"][0], crate::harness::ERROR_SCHEMA);
    assert_eq!(body["status"], "413");
    assert_eq!(user_count(&app).await, 0);
}

crate::both_backends!(
    bulk_ids_link_operations_in_any_order,
    fail_on_errors_stops_after_that_many_errors,
    more_than_max_operations_is_413,
    payload_above_max_payload_size_is_413,
);
