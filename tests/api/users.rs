//! Users: create, read, replace, delete, uniqueness, isolation between organizations.

use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::json;

async fn creates_reads_and_deletes_a_user(app: TestApp) {
    let r = app
        .post(
            "/Users",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "bjensen@example.com",
                "externalId": "00u1dhhb1fkIGP7RL1d8",
                "name": {"givenName": "Barbara", "familyName": "Jensen"},
                "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
                "password": "t1meMa$heen",
                "active": true
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    let id = r.body["id"].as_str().unwrap().to_owned();
    let location = r.header("location").unwrap().to_owned();
    assert_eq!(location, format!("{}/Users/{id}", app.base));
    assert_eq!(r.body["meta"]["location"], location);
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert_eq!(r.body["meta"]["version"], r.header("etag").unwrap());
    assert!(
        r.body.get("password").is_none(),
        "password must never be returned"
    );
    assert_eq!(r.body["userName"], "bjensen@example.com");

    let got = app.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["name"]["familyName"], "Jensen");
    assert!(got.body.get("password").is_none());

    let del = app.delete(&format!("/Users/{id}")).await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let gone = app.get(&format!("/Users/{id}")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.body["status"], "404");
    assert_eq!(
        gone.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
}

async fn user_name_is_unique_case_insensitively(app: TestApp) {
    app.create_user("Alice@Example.com").await;
    let r = app
        .post("/Users", &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice@example.COM"}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["scimType"], "uniqueness");
    assert_eq!(r.body["status"], "409");
}

async fn organizations_never_see_each_other(app: TestApp) {
    let id = app.create_user("carol@example.com").await;
    let other = app.other_org("Globex").await;
    let get = app
        .request_with(
            reqwest::Method::GET,
            &format!("/Users/{id}"),
            None,
            Some(&other),
            &[],
        )
        .await;
    assert_eq!(get.status, StatusCode::NOT_FOUND);
    // Same userName in another org is no conflict, and counts don't leak.
    let create = app
        .request_with(
            reqwest::Method::POST,
            "/Users",
            Some(&json!({"userName": "carol@example.com"})),
            Some(&other),
            &[],
        )
        .await;
    assert_eq!(create.status, StatusCode::CREATED);
    let list = app
        .request_with(reqwest::Method::GET, "/Users", None, Some(&other), &[])
        .await;
    assert_eq!(list.body["totalResults"], 1);
}

crate::both_backends!(
    creates_reads_and_deletes_a_user,
    user_name_is_unique_case_insensitively,
    organizations_never_see_each_other,
);
