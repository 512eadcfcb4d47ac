//! POST and PUT: what is ignored, coerced and refused; replacement semantics; delete;
//! group uniqueness and member validation; isolation of organizations in errors.

use crate::harness::TestApp;
use crate::harness::{
    ENTERPRISE, GROUP_SCHEMA, USER_SCHEMA, assert_scim_error, filter, post_user, with_query,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn user_count(app: &TestApp) -> u64 {
    app.get("/Users?count=0").await.body["totalResults"]
        .as_u64()
        .unwrap()
}

async fn group_count(app: &TestApp) -> u64 {
    app.get("/Groups?count=0").await.body["totalResults"]
        .as_u64()
        .unwrap()
}

async fn read_only_and_unknown_attributes_are_ignored(app: TestApp) {
    let r = app
        .post(
            "/Users",
            &json!({
                "schemas": [USER_SCHEMA],
                "id": "chosen-by-client",
                "userName": "ro@example.com",
                "meta": {"created": "1999-01-01T00:00:00Z", "version": "W/\"42\"", "resourceType": "Group"},
                "groups": [{"value": "g1", "display": "Admins"}],
                "favoriteColor": "blue",
                "name": {"givenName": "Ro", "nickname-typo": "x"},
                "urn:example:unknown:2.0:User": {"badge": 7}
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_ne!(id, "chosen-by-client");
    let got = app.get(&format!("/Users/{id}")).await;
    let body = &got.body;
    assert_ne!(body["meta"]["created"], "1999-01-01T00:00:00Z");
    assert_eq!(body["meta"]["resourceType"], "User");
    assert_ne!(body["meta"]["version"], "W/\"42\"");
    assert_eq!(body["meta"]["version"], r.body["meta"]["version"]);
    assert!(
        body.get("groups")
            .is_none_or(|g| g.as_array().is_some_and(Vec::is_empty)),
        "{body}"
    );
    assert!(body.get("favoriteColor").is_none(), "{body}");
    assert!(body.get("urn:example:unknown:2.0:User").is_none(), "{body}");
    assert_eq!(body["name"], json!({"givenName": "Ro"}));
    assert_eq!(
        app.get("/Users/chosen-by-client").await.status,
        StatusCode::NOT_FOUND
    );
    // The same on PUT: a readOnly id in the body does not move the resource.
    let put = app
        .put(
            &format!("/Users/{id}"),
            &json!({"id": "other", "userName": "ro@example.com", "meta": {"version": "W/\"9\""}}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    assert_eq!(put.body["id"], id.as_str());
    assert_ne!(put.body["meta"]["version"], "W/\"9\"");
    assert_ne!(put.body["meta"]["version"], body["meta"]["version"]);
}

async fn string_booleans_are_coerced_and_nulls_are_absent(app: TestApp) {
    // Entra sends booleans as strings.
    let id = post_user(
        &app,
        json!({
            "schemas": [USER_SCHEMA],
            "userName": "coerce@example.com",
            "active": "False",
            "title": null,
            "emails": [],
            "name": {"givenName": null, "familyName": "Kept"},
            ENTERPRISE: null
        }),
    )
    .await;
    let got = app.get(&format!("/Users/{id}")).await.body;
    assert_eq!(got["active"], false, "{got}");
    assert!(got.get("title").is_none(), "{got}");
    assert!(got.get("emails").is_none(), "{got}");
    assert!(got.get(ENTERPRISE).is_none(), "{got}");
    assert_eq!(got["name"], json!({"familyName": "Kept"}));
    let r = filter(&app, "/Users", "active eq false").await;
    assert_eq!(r.body["totalResults"], 1);
    let r = filter(&app, "/Users", "title pr").await;
    assert_eq!(r.body["totalResults"], 0);

    let put = app
        .put(
            &format!("/Users/{id}"),
            &json!({"userName": "coerce@example.com", "active": "True"}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    assert_eq!(put.body["active"], true);
}

async fn wrong_types_are_400_invalid_value_and_create_nothing(app: TestApp) {
    let cases = [
        json!({"userName": 42}),
        json!({"userName": "t@example.com", "active": "maybe"}),
        json!({"userName": "t@example.com", "active": 1}),
        json!({"userName": "t@example.com", "name": "Bob"}),
        json!({"userName": "t@example.com", "emails": [{"value": 7}]}),
        json!({"userName": "t@example.com", "emails": [{"value": "a@b.c", "primary": "often"}]}),
        json!({"userName": "t@example.com", "title": ["a", "b"]}),
        json!({"userName": "t@example.com", ENTERPRISE: "Sales"}),
        json!({"userName": ["a@example.com", "b@example.com"]}),
        // RFC 7643 §3: `schemas` is an array of URIs, not a string.
        json!({"schemas": "x", "userName": "t@example.com"}),
        json!({"schemas": USER_SCHEMA, "userName": "t@example.com"}),
        json!({"schemas": [USER_SCHEMA, 7], "userName": "t@example.com"}),
    ];
    for body in &cases {
        let r = app.post("/Users", body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
        assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    }
    assert_eq!(user_count(&app).await, 0);
    let r = app.post("/Users", &json!(["not", "an", "object"])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(user_count(&app).await, 0);
}

async fn missing_required_attributes_are_400(app: TestApp) {
    for body in [
        json!({"schemas": [USER_SCHEMA]}),
        json!({"schemas": [USER_SCHEMA], "userName": null}),
        json!({"schemas": [USER_SCHEMA], "name": {"familyName": "NoUserName"}}),
    ] {
        let r = app.post("/Users", &body).await;
        assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
        let detail = r.body["detail"].as_str().unwrap();
        assert!(
            detail.contains("userName"),
            "detail should name userName: {detail}"
        );
    }
    let r = app
        .post("/Groups", &json!({"schemas": [GROUP_SCHEMA]}))
        .await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert_eq!(user_count(&app).await, 0);
    assert_eq!(group_count(&app).await, 0);
    // PUT needs them too, and a refused PUT changes nothing.
    let id = app.create_user("kept@example.com").await;
    let r = app
        .put(&format!("/Users/{id}"), &json!({"title": "x"}))
        .await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let got = app.get(&format!("/Users/{id}")).await;
    assert_eq!(got.body["userName"], "kept@example.com");
    assert!(got.body.get("title").is_none());
}

async fn password_is_never_returned(app: TestApp) {
    let r = app
        .post(
            "/Users",
            &json!({"userName": "pw@example.com", "password": "t1meMa$heen"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let responses: Vec<Value> = vec![
        r.body.clone(),
        app.get(&format!("/Users/{id}")).await.body,
        app.get(&format!("/Users/{id}?attributes=password"))
            .await
            .body,
        app.get("/Users").await.body,
        app.get("/Users?attributes=userName,password").await.body,
        app.put(
            &format!("/Users/{id}"),
            &json!({"userName": "pw@example.com", "password": "n3wPa$$"}),
        )
        .await
        .body,
    ];
    for body in responses {
        let text = body.to_string();
        assert!(
            !text.contains("password")
                && !text.contains("t1meMa$heen")
                && !text.contains("n3wPa$$"),
            "the password leaked: {text}"
        );
    }
}

async fn put_replaces_every_attribute(app: TestApp) {
    let id = post_user(
        &app,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "replace@example.com",
            "externalId": "ext-1",
            "title": "Old title",
            "nickName": "oldie",
            "name": {"givenName": "Old", "familyName": "Name"},
            "emails": [{"value": "old@example.com", "type": "work"}],
            ENTERPRISE: {"department": "Sales"}
        }),
    )
    .await;
    let put = app
        .put(
            &format!("/Users/{id}"),
            &json!({
                "schemas": [USER_SCHEMA],
                "userName": "replace@example.com",
                "externalId": "ext-1",
                "name": {"familyName": "New"}
            }),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    let got = app.get(&format!("/Users/{id}")).await.body;
    for gone in ["title", "nickName", "emails", ENTERPRISE] {
        assert!(got.get(gone).is_none(), "{gone} survived the PUT: {got}");
    }
    assert_eq!(got["name"], json!({"familyName": "New"}));
    // Filters see the replacement too, including the email index.
    for f in [
        r#"emails.value eq "old@example.com""#.to_owned(),
        r#"title pr"#.to_owned(),
        format!(r#"{ENTERPRISE}:department eq "Sales""#),
        r#"name.givenName eq "Old""#.to_owned(),
    ] {
        let r = filter(&app, "/Users", &f).await;
        assert_eq!(r.body["totalResults"], 0, "{f} still matches after PUT");
    }
    let r = filter(&app, "/Users", r#"name.familyName eq "New""#).await;
    assert_eq!(r.body["totalResults"], 1);
    // A PUT may rename: the new name is taken, the old one is free.
    let put = app
        .put(
            &format!("/Users/{id}"),
            &json!({"userName": "renamed@example.com", "externalId": "ext-1"}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK);
    app.create_user("replace@example.com").await;
    let r = app
        .post("/Users", &json!({"userName": "RENAMED@example.com"}))
        .await;
    assert_scim_error(&r, StatusCode::CONFLICT, Some("uniqueness"));
}

async fn deactivated_user_is_still_readable_and_found(app: TestApp) {
    let id = app.create_user("leaver@example.com").await;
    app.create_user("stayer@example.com").await;
    let put = app
        .put(
            &format!("/Users/{id}"),
            &json!({"userName": "leaver@example.com", "active": false}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK);
    assert_eq!(put.body["active"], false);
    let got = app.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["active"], false);
    let r = filter(&app, "/Users", r#"userName eq "leaver@example.com""#).await;
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["active"], false);
    let r = filter(&app, "/Users", "active eq false").await;
    assert_eq!(r.body["Resources"][0]["id"], id.as_str());
    assert_eq!(app.get("/Users").await.body["totalResults"], 2);
}

async fn delete_is_204_then_404(app: TestApp) {
    let id = app.create_user("gone@example.com").await;
    let del = app.delete(&format!("/Users/{id}")).await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    assert!(del.body.is_null(), "204 has no body: {:?}", del.body);
    assert_scim_error(
        &app.get(&format!("/Users/{id}")).await,
        StatusCode::NOT_FOUND,
        None,
    );
    assert_scim_error(
        &app.delete(&format!("/Users/{id}")).await,
        StatusCode::NOT_FOUND,
        None,
    );
    let put = app
        .put(
            &format!("/Users/{id}"),
            &json!({"userName": "gone@example.com"}),
        )
        .await;
    assert_scim_error(&put, StatusCode::NOT_FOUND, None);
    let r = filter(&app, "/Users", r#"userName eq "gone@example.com""#).await;
    assert_eq!(r.body["totalResults"], 0);
    assert_eq!(user_count(&app).await, 0);
    // The userName is free again.
    app.create_user("gone@example.com").await;
    // Groups the same way.
    let gid = app.create_group("Gone", &[]).await;
    assert_eq!(
        app.delete(&format!("/Groups/{gid}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_scim_error(
        &app.get(&format!("/Groups/{gid}")).await,
        StatusCode::NOT_FOUND,
        None,
    );
    assert_eq!(group_count(&app).await, 0);
}

async fn deleting_a_user_removes_it_from_every_group(app: TestApp) {
    let leaver = app.create_user("leaver@example.com").await;
    let stayer = app.create_user("stayer@example.com").await;
    let a = app.create_group("A", &[&leaver, &stayer]).await;
    let b = app.create_group("B", &[&leaver]).await;
    assert_eq!(
        app.delete(&format!("/Users/{leaver}")).await.status,
        StatusCode::NO_CONTENT
    );
    let ga = app.get(&format!("/Groups/{a}")).await.body;
    let members: Vec<&str> = ga["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, [stayer.as_str()]);
    let gb = app.get(&format!("/Groups/{b}")).await.body;
    assert!(
        gb.get("members")
            .is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)),
        "{gb}"
    );
    let r = filter(&app, "/Groups", &format!(r#"members.value eq "{leaver}""#)).await;
    assert_eq!(r.body["totalResults"], 0);
    // And the stayer's groups no longer include anything about the leaver.
    let s = app.get(&format!("/Users/{stayer}")).await.body;
    assert_eq!(s["groups"][0]["value"], a.as_str(), "{s}");
}

async fn conflict_details_show_the_value_as_json(app: TestApp) {
    // `i` and U+0307 COMBINING DOT ABOVE: Rust's `{:?}` would print `i\u{307}stanbul`.
    let name = "i\u{307}stanbul@example.com";
    app.create_user(name).await;
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": name}),
        )
        .await;
    assert_scim_error(&r, StatusCode::CONFLICT, Some("uniqueness"));
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains(&json!(name).to_string()), "{detail}");
    assert!(!detail.contains("\\u{"), "{detail}");
    let group = "Gr\u{fc}\u{308}n \"Team\"";
    app.create_group(group, &[]).await;
    let r = app
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": group}),
        )
        .await;
    assert_scim_error(&r, StatusCode::CONFLICT, Some("uniqueness"));
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains(&json!(group).to_string()), "{detail}");
    assert!(!detail.contains("\\u{"), "{detail}");
}

async fn group_display_name_is_unique_per_organization(app: TestApp) {
    let first = app.create_group("Admins", &[]).await;
    let r = app
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "ADMINS"}),
        )
        .await;
    assert_scim_error(&r, StatusCode::CONFLICT, Some("uniqueness"));
    assert_eq!(group_count(&app).await, 1);
    // Renaming another group onto the name conflicts too, and changes nothing.
    let other = app.create_group("Others", &[]).await;
    let r = app
        .put(
            &format!("/Groups/{other}"),
            &json!({"displayName": "admins"}),
        )
        .await;
    assert_scim_error(&r, StatusCode::CONFLICT, Some("uniqueness"));
    assert_eq!(
        app.get(&format!("/Groups/{other}")).await.body["displayName"],
        "Others"
    );
    // Another organization has its own namespace.
    let globex = app.other_org("Globex").await;
    let r = app
        .request_with(
            Method::POST,
            "/Groups",
            Some(&json!({"displayName": "Admins"})),
            Some(&globex),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_ne!(r.body["id"], first.as_str());
}

async fn unknown_or_foreign_member_ids_are_400_and_change_nothing(app: TestApp) {
    let mine = app.create_user("mine@example.com").await;
    let globex = app.other_org("Globex").await;
    let foreign = app
        .request_with(
            Method::POST,
            "/Users",
            Some(&json!({"userName": "foreign@globex.com"})),
            Some(&globex),
            &[],
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut details = Vec::new();
    for bad in [foreign.as_str(), "00000000-0000-0000-0000-000000000000"] {
        let r = app
            .post(
                "/Groups",
                &json!({"displayName": "Mixed", "members": [{"value": mine}, {"value": bad}]}),
            )
            .await;
        assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
        details.push(r.body["detail"].as_str().unwrap().replace(bad, "ID"));
    }
    // Another organization's id gets the same answer as an id that exists nowhere.
    assert_eq!(details[0], details[1]);
    assert_eq!(
        group_count(&app).await,
        0,
        "a refused create must create nothing"
    );
    // A PUT with a foreign member leaves the group as it was.
    let gid = app.create_group("Kept", &[&mine]).await;
    let r = app
        .put(
            &format!("/Groups/{gid}"),
            &json!({"displayName": "Renamed", "members": [{"value": foreign}]}),
        )
        .await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let g = app.get(&format!("/Groups/{gid}")).await.body;
    assert_eq!(g["displayName"], "Kept");
    assert_eq!(g["members"][0]["value"], mine.as_str());
    // And Globex's user was not touched.
    let theirs = app
        .request_with(
            Method::GET,
            &format!("/Users/{foreign}"),
            None,
            Some(&globex),
            &[],
        )
        .await;
    assert!(
        theirs
            .body
            .get("groups")
            .is_none_or(|g| g.as_array().is_some_and(Vec::is_empty))
    );
}

async fn conflicts_never_reveal_another_organization(app: TestApp) {
    let globex = app.other_org("Globex").await;
    let theirs = app
        .request_with(
            Method::POST,
            "/Users",
            Some(&json!({"userName": "shared@example.com", "externalId": "globex-secret"})),
            Some(&globex),
            &[],
        )
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED);
    let their_id = theirs.body["id"].as_str().unwrap().to_owned();
    // Same userName in this org: no conflict at all.
    let mine = app.create_user("shared@example.com").await;
    assert_ne!(mine, their_id);
    // A real conflict in this org says nothing about Globex.
    let r = app
        .post("/Users", &json!({"userName": "SHARED@example.com"}))
        .await;
    assert_scim_error(&r, StatusCode::CONFLICT, Some("uniqueness"));
    let text = r.body.to_string();
    for secret in [their_id.as_str(), "globex-secret", "Globex", mine.as_str()] {
        assert!(!text.contains(secret), "409 reveals {secret}: {text}");
    }
    // Filters and ids stay inside the org.
    let r = app
        .get(&with_query(
            "/Users",
            &[("filter", r#"userName eq "shared@example.com""#)],
        ))
        .await;
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["id"], mine.as_str());
    assert_scim_error(
        &app.get(&format!("/Users/{their_id}")).await,
        StatusCode::NOT_FOUND,
        None,
    );
    assert_scim_error(
        &app.delete(&format!("/Users/{their_id}")).await,
        StatusCode::NOT_FOUND,
        None,
    );
    let put = app
        .put(
            &format!("/Users/{their_id}"),
            &json!({"userName": "hijack@example.com"}),
        )
        .await;
    assert_scim_error(&put, StatusCode::NOT_FOUND, None);
    let still = app
        .request_with(
            Method::GET,
            &format!("/Users/{their_id}"),
            None,
            Some(&globex),
            &[],
        )
        .await;
    assert_eq!(still.body["userName"], "shared@example.com");
}

crate::both_backends!(
    read_only_and_unknown_attributes_are_ignored,
    string_booleans_are_coerced_and_nulls_are_absent,
    wrong_types_are_400_invalid_value_and_create_nothing,
    missing_required_attributes_are_400,
    password_is_never_returned,
    put_replaces_every_attribute,
    deactivated_user_is_still_readable_and_found,
    delete_is_204_then_404,
    deleting_a_user_removes_it_from_every_group,
    group_display_name_is_unique_per_organization,
    conflict_details_show_the_value_as_json,
    unknown_or_foreign_member_ids_are_400_and_change_nothing,
    conflicts_never_reveal_another_organization,
);
