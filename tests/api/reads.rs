//! Reading: `attributes`/`excludedAttributes`, sorting, index paging, cursor paging
//! (RFC 9865), `meta` and `Location`, and the `.search` endpoints.

use crate::harness::TestApp;
use crate::harness::{
    ENTERPRISE, GROUP_SCHEMA, LIST_SCHEMA, SEARCH_REQUEST, USER_SCHEMA, assert_scim_error,
    bulk_users, list_of, post_user, resources, set, set_of, walk_cursor, with_query,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

async fn full_user(app: &TestApp, user_name: &str) -> String {
    post_user(
        app,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": user_name,
            "externalId": format!("ext-{user_name}"),
            "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Barbara Jensen"},
            "displayName": "Babs",
            "title": "Guide",
            "emails": [{"value": user_name, "type": "work", "primary": true}],
            "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
            "active": true,
            ENTERPRISE: {"department": "Sales", "costCenter": "42"}
        }),
    )
    .await
}

async fn attributes_parameter_returns_only_what_was_asked(app: TestApp) {
    let id = full_user(&app, "bjensen@example.com").await;
    let r = app.get(&format!("/Users/{id}?attributes=userName")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(keys(&r.body), set(&["id", "schemas", "userName"]));
    assert_eq!(r.body["userName"], "bjensen@example.com");
    assert_eq!(r.body["id"], id.as_str());

    let r = app
        .get(&format!("/Users/{id}?attributes=name.familyName,EMAILS"))
        .await;
    assert_eq!(keys(&r.body), set(&["id", "schemas", "name", "emails"]));
    assert_eq!(keys(&r.body["name"]), set(&["familyName"]));
    assert_eq!(r.body["emails"][0]["value"], "bjensen@example.com");

    let r = app
        .get(&format!("/Users/{id}?attributes={ENTERPRISE}:department"))
        .await;
    assert_eq!(
        r.body[ENTERPRISE],
        json!({"department": "Sales"}),
        "{:?}",
        r.body
    );
    assert!(r.body.get("userName").is_none(), "{:?}", r.body);

    // On lists too, for every resource.
    post_user(
        &app,
        json!({"userName": "second@example.com", "title": "x"}),
    )
    .await;
    let r = app.get("/Users?attributes=userName").await;
    assert_eq!(r.body["totalResults"], 2);
    for u in resources(&r.body) {
        assert_eq!(keys(&u), set(&["id", "schemas", "userName"]), "{u}");
    }
}

async fn excluded_attributes_drop_what_was_excluded(app: TestApp) {
    let id = full_user(&app, "bjensen@example.com").await;
    let r = app
        .get(&format!(
            "/Users/{id}?excludedAttributes=emails,name,{ENTERPRISE}"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for gone in ["emails", "name", ENTERPRISE] {
        assert!(
            r.body.get(gone).is_none(),
            "{gone} should be excluded: {:?}",
            r.body
        );
    }
    assert_eq!(r.body["userName"], "bjensen@example.com");
    assert_eq!(r.body["title"], "Guide");
    // `id` is returned always, whatever is excluded (RFC 7643 §3.1).
    let r = app
        .get(&format!("/Users/{id}?excludedAttributes=id,title"))
        .await;
    assert_eq!(r.body["id"], id.as_str());
    assert!(r.body.get("title").is_none());

    // A group without its members: what Entra and Okta ask for on big groups.
    let group = app.create_group("Sales", &[&id]).await;
    let r = app
        .get(&format!("/Groups/{group}?excludedAttributes=members"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body.get("members").is_none(), "{:?}", r.body);
    assert_eq!(r.body["displayName"], "Sales");
    let r = app.get("/Groups?excludedAttributes=members").await;
    assert_eq!(r.body["totalResults"], 1);
    assert!(r.body["Resources"][0].get("members").is_none());
    // And with it, by default.
    let r = app.get(&format!("/Groups/{group}")).await;
    assert_eq!(r.body["members"][0]["value"], id.as_str(), "{:?}", r.body);
}

async fn sort_by_orders_results_in_either_direction(app: TestApp) {
    // Case-insensitive order differs from byte order here: "Baker" < "adams" in bytes.
    for (user, family) in [
        ("u1@sort.test", "carter"),
        ("u2@sort.test", "Baker"),
        ("u3@sort.test", "adams"),
        ("u4@sort.test", "Davis"),
    ] {
        post_user(
            &app,
            json!({"userName": user, "name": {"familyName": family, "givenName": "G"}}),
        )
        .await;
    }
    let families = |query: &'static str| {
        let app = &app;
        async move {
            let r = app.get(&format!("/Users?{query}")).await;
            assert_eq!(r.status, StatusCode::OK, "{query}: {:?}", r.body);
            resources(&r.body)
                .iter()
                .map(|u| u["name"]["familyName"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        families("sortBy=name.familyName").await,
        ["adams", "Baker", "carter", "Davis"]
    );
    assert_eq!(
        families("sortBy=name.familyName&sortOrder=ascending").await,
        ["adams", "Baker", "carter", "Davis"]
    );
    assert_eq!(
        families("sortBy=name.familyName&sortOrder=descending").await,
        ["Davis", "carter", "Baker", "adams"]
    );
    assert_eq!(
        families("sortBy=userName&sortOrder=descending").await,
        ["Davis", "adams", "Baker", "carter"]
    );
    // Sorting applies before paging.
    assert_eq!(
        families("sortBy=name.familyName&startIndex=2&count=2").await,
        ["Baker", "carter"]
    );
    let r = app.get("/Users?sortBy=nosuch").await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, None);
    let r = app.get("/Users?sortBy=userName&sortOrder=sideways").await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
}

async fn index_paging_walks_every_user_once_in_a_stable_order(app: TestApp) {
    for i in 0..7 {
        app.create_user(&format!("p{i}@page.test")).await;
    }
    let mut seen = Vec::new();
    for start in [1, 4, 7] {
        let r = app.get(&format!("/Users?startIndex={start}&count=3")).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["schemas"][0], LIST_SCHEMA);
        assert_eq!(r.body["totalResults"], 7);
        assert_eq!(r.body["startIndex"], start);
        let page = list_of(&r.body, "userName");
        assert_eq!(r.body["itemsPerPage"], page.len());
        assert_eq!(page.len(), if start == 7 { 1 } else { 3 });
        // The same page twice is the same page.
        let again = app.get(&format!("/Users?startIndex={start}&count=3")).await;
        assert_eq!(list_of(&again.body, "userName"), page);
        seen.extend(page);
    }
    let unique: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), 7, "{seen:?}");
    assert_eq!(unique.len(), 7, "a user appeared twice: {seen:?}");
    // Past the end: an empty page, still the total.
    let r = app.get("/Users?startIndex=50&count=3").await;
    assert_eq!(r.body["totalResults"], 7);
    assert_eq!(resources(&r.body).len(), 0);
    // startIndex below 1 means 1 (RFC 7644 §3.4.2.4).
    let r = app.get("/Users?startIndex=0&count=2").await;
    assert_eq!(r.body["startIndex"], 1);
    assert_eq!(list_of(&r.body, "userName"), seen[..2]);
    // count=0: no resources, but still a whole ListResponse (clients index into it).
    let r = app.get("/Users?count=0&startIndex=3").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["schemas"][0], LIST_SCHEMA);
    assert_eq!(r.body["totalResults"], 7);
    assert_eq!(r.body["itemsPerPage"], 0, "{:?}", r.body);
    assert_eq!(r.body["startIndex"], 3, "{:?}", r.body);
    assert_eq!(r.body["Resources"], json!([]), "{:?}", r.body);
    let r = app.get("/Users?count=0&cursor").await;
    assert_eq!(r.body["totalResults"], 7);
    assert_eq!(r.body["itemsPerPage"], 0, "{:?}", r.body);
    assert_eq!(r.body["Resources"], json!([]), "{:?}", r.body);
    let r = app
        .get("/Users?count=0&filter=userName%20sw%20%22p1%22")
        .await;
    assert_eq!(r.body["totalResults"], 1);
    let r = app.get("/Users?count=many").await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
}

async fn count_above_the_maximum_is_clamped_to_max_results(app: TestApp) {
    let _heavy = crate::harness::heavy().await;
    let config = app.get("/ServiceProviderConfig").await;
    let max = config.body["filter"]["maxResults"].as_u64().unwrap() as usize;
    assert!(max > 0 && max <= 1000, "{:?}", config.body);
    bulk_users(&app, "clamp", 0..max + 1).await;
    let r = app.get(&format!("/Users?count={}", max * 10)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body["detail"]);
    assert_eq!(r.body["totalResults"], max + 1);
    assert_eq!(r.body["itemsPerPage"], max);
    assert_eq!(resources(&r.body).len(), max);
}

async fn cursor_paging_walks_every_user_exactly_once(app: TestApp) {
    let mut created = Vec::new();
    for i in 0..8 {
        created.push(app.create_user(&format!("c{i}@cursor.test")).await);
    }
    let first = app.get("/Users?cursor=&count=3").await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(first.body["totalResults"], 8);
    assert_eq!(resources(&first.body).len(), 3);
    assert!(first.body["nextCursor"].is_string(), "{:?}", first.body);

    let ids = walk_cursor(&app, "/Users?cursor=&count=3").await;
    assert_eq!(ids.len(), 8, "{ids:?}");
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>(),
        created.iter().collect::<BTreeSet<_>>()
    );

    // A user created mid-walk does not make another appear twice or go missing.
    let r = app.get("/Users?cursor=&count=3").await;
    let mut seen = list_of(&r.body, "id");
    let late = app.create_user("late@cursor.test").await;
    let next = r.body["nextCursor"].as_str().unwrap().to_owned();
    let mut rest = walk_cursor(
        &app,
        &with_query("/Users", &[("count", "3"), ("cursor", &next)]),
    )
    .await;
    seen.append(&mut rest);
    let unique: BTreeSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "duplicates: {seen:?}");
    for id in &created {
        assert!(seen.contains(id), "{id} missing from {seen:?}");
    }
    assert!(seen.contains(&late));

    // Sorted cursor paging also walks all, in order.
    let sorted = walk_cursor(
        &app,
        "/Users?cursor=&count=3&sortBy=userName&sortOrder=descending",
    )
    .await;
    assert_eq!(sorted.len(), 9);
    let r = app
        .get("/Users?sortBy=userName&sortOrder=descending&count=100")
        .await;
    assert_eq!(sorted, list_of(&r.body, "id"));

    for bad in ["garbage", "czE5eA", "!!!", "bzEw"] {
        let r = app.get(&with_query("/Users", &[("cursor", bad)])).await;
        // "bzEw" is a sorted-list cursor: refused on an unsorted list.
        assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidCursor"));
    }
}

async fn every_resource_carries_meta_and_create_returns_location(app: TestApp) {
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "meta@example.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let user_location = format!("{}/Users/{id}", app.base);
    assert_eq!(r.header("location"), Some(user_location.as_str()));
    let g = app
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "Meta", "members": [{"value": id}]}),
        )
        .await;
    assert_eq!(g.status, StatusCode::CREATED, "{:?}", g.body);
    let gid = g.body["id"].as_str().unwrap().to_owned();
    let group_location = format!("{}/Groups/{gid}", app.base);
    assert_eq!(g.header("location"), Some(group_location.as_str()));

    let check = |v: &Value, kind: &str, location: &str| {
        let meta = &v["meta"];
        assert_eq!(meta["resourceType"], kind, "{v}");
        assert_eq!(meta["location"], location, "{v}");
        for ts in ["created", "lastModified"] {
            let t = meta[ts]
                .as_str()
                .unwrap_or_else(|| panic!("no meta.{ts}: {v}"));
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|e| panic!("meta.{ts} {t:?} is not RFC 3339: {e}"));
        }
        assert!(
            meta["version"]
                .as_str()
                .is_some_and(|s| s.starts_with("W/\"")),
            "{v}"
        );
    };
    check(&r.body, "User", &user_location);
    check(&g.body, "Group", &group_location);
    check(
        &app.get(&format!("/Users/{id}")).await.body,
        "User",
        &user_location,
    );
    check(
        &app.get(&format!("/Groups/{gid}")).await.body,
        "Group",
        &group_location,
    );
    check(
        &app.get("/Users").await.body["Resources"][0],
        "User",
        &user_location,
    );
    check(
        &app.get("/Groups").await.body["Resources"][0],
        "Group",
        &group_location,
    );
    // The user lists the group it belongs to.
    let u = app.get(&format!("/Users/{id}")).await;
    assert_eq!(u.body["groups"][0]["value"], gid.as_str(), "{:?}", u.body);
    assert_eq!(u.body["groups"][0]["display"], "Meta");
    let put = app
        .put(
            &format!("/Users/{id}"),
            &json!({"userName": "meta@example.com", "title": "t"}),
        )
        .await;
    check(&put.body, "User", &user_location);
    assert_eq!(put.body["meta"]["created"], r.body["meta"]["created"]);
}

async fn search_endpoints_take_a_search_request_body(app: TestApp) {
    let alice = post_user(
        &app,
        json!({"userName": "alice@example.com", "externalId": "shared-1", "name": {"familyName": "Zeta"}}),
    )
    .await;
    post_user(
        &app,
        json!({"userName": "bob@example.com", "name": {"familyName": "Alpha"}}),
    )
    .await;
    post_user(
        &app,
        json!({"userName": "carol@example.com", "name": {"familyName": "Mu"}}),
    )
    .await;
    let g = app
        .post(
            "/Groups",
            &json!({"displayName": "Engineering", "externalId": "shared-2", "members": [{"value": alice}]}),
        )
        .await;
    assert_eq!(g.status, StatusCode::CREATED);

    let r = app
        .post(
            "/Users/.search",
            &json!({
                "schemas": [SEARCH_REQUEST],
                "filter": "userName ew \"@example.com\"",
                "attributes": ["userName", "name.familyName"],
                "sortBy": "name.familyName",
                "sortOrder": "descending",
                "startIndex": 1,
                "count": 2
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    assert_eq!(r.body["schemas"][0], LIST_SCHEMA);
    assert_eq!(r.body["totalResults"], 3);
    assert_eq!(
        list_of(&r.body, "userName"),
        ["alice@example.com", "carol@example.com"]
    );
    let first = &r.body["Resources"][0];
    assert_eq!(
        keys(first),
        set(&["id", "schemas", "userName", "name"]),
        "{first}"
    );

    let r = app
        .post(
            "/Groups/.search",
            &json!({"schemas": [SEARCH_REQUEST], "filter": "displayName eq \"engineering\"", "excludedAttributes": ["members"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(set_of(&r.body, "displayName"), set(&["Engineering"]));
    assert!(r.body["Resources"][0].get("members").is_none());

    // Root search spans resource types.
    let r = app
        .post(
            "/.search",
            &json!({"schemas": [SEARCH_REQUEST], "filter": "externalId sw \"shared\""}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["totalResults"], 2);
    let types: BTreeSet<String> = resources(&r.body)
        .iter()
        .map(|v| v["meta"]["resourceType"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types, set(&["Group", "User"]));
    // A filter only users can answer finds only users.
    let r = app
        .post(
            "/.search",
            &json!({"schemas": [SEARCH_REQUEST], "filter": "userName sw \"bob\""}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(set_of(&r.body, "userName"), set(&["bob@example.com"]));

    // A body that is not a SearchRequest is refused.
    let r = app
        .post(
            "/Users/.search",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}),
        )
        .await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
}

crate::both_backends!(
    attributes_parameter_returns_only_what_was_asked,
    excluded_attributes_drop_what_was_excluded,
    sort_by_orders_results_in_either_direction,
    index_paging_walks_every_user_once_in_a_stable_order,
    count_above_the_maximum_is_clamped_to_max_results,
    cursor_paging_walks_every_user_exactly_once,
    every_resource_carries_meta_and_create_returns_location,
    search_endpoints_take_a_search_request_body,
);
