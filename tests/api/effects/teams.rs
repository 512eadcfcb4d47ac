//! The rollcall extension's `teams`: written by the IdP (value, role), rendered from the
//! memberships (display, state, source), feeding the rules as source `attribute`.

use super::{ROLLCALL, add_team, default_team, memberships, patch, set_pool, user_body};
use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Asks for everything of the extension: `display`, `state` and `source` of `teams`, and
/// `memberships`, are returned on request only.
fn all_of_teams() -> String {
    format!("attributes=userName,{ROLLCALL}:teams,{ROLLCALL}:memberships")
}

fn with_teams(user_name: &str, teams: Value) -> Value {
    let mut body = user_body(user_name);
    body["schemas"]
        .as_array_mut()
        .unwrap()
        .push(ROLLCALL.into());
    body[ROLLCALL] = json!({ "teams": teams });
    body
}

type Entry = (String, String, String, String, String);

fn entries(resource: &Value, name: &str) -> Vec<Entry> {
    resource[ROLLCALL][name]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|t| {
                    let s = |k: &str| t[k].as_str().unwrap_or("-").to_owned();
                    (s("value"), s("display"), s("role"), s("state"), s("source"))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn teams_of(resource: &Value) -> Vec<Entry> {
    entries(resource, "teams")
}

fn memberships_of(resource: &Value) -> Vec<Entry> {
    entries(resource, "memberships")
}

fn entry(team: &str, name: &str, role: &str, state: &str, source: &str) -> Entry {
    (
        team.to_owned(),
        name.to_owned(),
        role.to_owned(),
        state.to_owned(),
        source.to_owned(),
    )
}

async fn team_attributes_become_memberships_and_show_their_state(app: TestApp) {
    let acme = default_team(&app).await;
    let platform = add_team(&app, "Platform").await;
    set_pool(&app, 2).await;
    let r = app
        .post(
            &format!("/Users?{}", all_of_teams()),
            &with_teams(
                "ada@example.com",
                json!([{"value": platform, "role": "admin"}]),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let ada = r.body["id"].as_str().unwrap().to_owned();
    let platform_admin = entry(&platform, "Platform", "admin", "invited", "attribute");
    let acme_default = entry(&acme, "Acme", "user", "invited", "default");
    assert_eq!(
        teams_of(&r.body),
        std::slice::from_ref(&platform_admin),
        "{:#}",
        r.body
    );
    let both = vec![acme_default.clone(), platform_admin.clone()];
    assert_eq!(memberships_of(&r.body), both, "{:#}", r.body);
    assert!(
        r.body["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!(ROLLCALL)),
        "{:#}",
        r.body
    );
    let got = app.get(&format!("/Users/{ada}?{}", all_of_teams())).await;
    assert_eq!(teams_of(&got.body), std::slice::from_ref(&platform_admin));
    assert_eq!(memberships_of(&got.body), both);
    // By default a client reads back what it wrote: value and role.
    let plain = app.get(&format!("/Users/{ada}")).await;
    assert_eq!(
        plain.body[ROLLCALL],
        json!({"teams": [{"value": platform, "role": "admin"}]})
    );
    // Bob waits: the pool of two is Ada's.
    let bob = app.create_user("bob@example.com").await;
    let list = app
        .get(&format!("/Users?sortBy=userName&{}", all_of_teams()))
        .await;
    let rendered: Vec<_> = list.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(memberships_of)
        .collect();
    assert_eq!(rendered[0], both);
    assert_eq!(
        rendered[1],
        [entry(&acme, "Acme", "user", "awaiting_seat", "default")]
    );
    // Projection still applies to the extension.
    let slim = app.get(&format!("/Users/{ada}?attributes=userName")).await;
    assert!(slim.body.get(ROLLCALL).is_none(), "{:#}", slim.body);

    // The IdP removes the team: the membership goes, its seat goes to Bob.
    let r = app
        .patch(
            &format!("/Users/{ada}?{}", all_of_teams()),
            &patch(json!([{"op": "remove", "path": format!("{ROLLCALL}:teams[value eq \"{platform}\"]")}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(teams_of(&r.body).is_empty(), "{:#}", r.body);
    assert_eq!(memberships_of(&r.body), std::slice::from_ref(&acme_default));
    let m = memberships(&app).await;
    assert!(
        !m.iter().any(|(t, u, ..)| *t == platform && *u == ada),
        "{m:?}"
    );
    let bob_state = m.iter().find(|(_, u, ..)| *u == bob).unwrap();
    assert_eq!(
        bob_state.4, "invited",
        "the released seat went to the waiter"
    );

    // PATCH add brings it back (waiting now: Bob holds the second seat); adding it
    // again with another role sets the role.
    for role in ["admin", "user"] {
        let r = app
            .patch(
                &format!("/Users/{ada}?{}", all_of_teams()),
                &patch(json!([{"op": "add", "path": format!("{ROLLCALL}:teams"), "value": [{"value": platform, "role": role}]}])),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(
            teams_of(&r.body),
            [entry(
                &platform,
                "Platform",
                role,
                "awaiting_seat",
                "attribute"
            )]
        );
    }
}

async fn a_put_of_what_get_returned_keeps_sources(app: TestApp) {
    let acme = default_team(&app).await;
    let platform = add_team(&app, "Platform").await;
    let r = app
        .post(
            "/Users",
            &with_teams("ada@example.com", json!([{"value": platform}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let ada = r.body["id"].as_str().unwrap().to_owned();
    // Okta-style: GET, change a field, PUT everything back (teams included), with and
    // without the read-only parts.
    for query in [String::new(), all_of_teams()] {
        let mut body = app.get(&format!("/Users/{ada}?{query}")).await.body;
        body["displayName"] = json!("Ada");
        body["userName"] = json!("ada@example.com");
        let r = app.put(&format!("/Users/{ada}"), &body).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let m = memberships(&app).await;
    assert_eq!(
        m.iter().find(|(t, ..)| *t == acme).unwrap().3,
        "default",
        "the default team is not taken for the IdP's: {m:?}"
    );
    // Deactivating removes both; the IdP's team still reads back as written (with no
    // state); reactivating brings back what is wanted.
    let off = patch(json!([{"op": "replace", "path": "active", "value": false}]));
    let r = app
        .patch(&format!("/Users/{ada}?{}", all_of_teams()), &off)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(memberships(&app).await.is_empty());
    assert_eq!(teams_of(&r.body), [entry(&platform, "-", "user", "-", "-")]);
    assert!(memberships_of(&r.body).is_empty());
    let on = patch(json!([{"op": "replace", "path": "active", "value": true}]));
    let r = app
        .patch(&format!("/Users/{ada}?{}", all_of_teams()), &on)
        .await;
    let sources: Vec<(String, String)> = memberships_of(&r.body)
        .into_iter()
        .map(|(t, _, _, _, s)| (t, s))
        .collect();
    assert_eq!(
        sources,
        [
            (acme, "default".to_owned()),
            (platform, "attribute".to_owned())
        ]
    );
    // PUT without the extension drops the IdP's teams.
    let r = app
        .put(
            &format!("/Users/{ada}?{}", all_of_teams()),
            &user_body("ada@example.com"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(teams_of(&r.body).is_empty());
    assert_eq!(memberships_of(&r.body).len(), 1);
}

async fn unknown_teams_and_roles_are_refused(app: TestApp) {
    let r = app
        .post(
            "/Users",
            &with_teams("ada@example.com", json!([{"value": "no-such-team"}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(r.body["scimType"], "invalidValue");
    assert!(
        r.body["detail"].as_str().unwrap().contains("no-such-team"),
        "{:?}",
        r.body
    );
    let found = app
        .get("/Users?filter=userName%20eq%20%22ada@example.com%22")
        .await;
    assert_eq!(found.body["totalResults"], 0, "nothing was created");
    let acme = default_team(&app).await;
    let r = app
        .post(
            "/Users",
            &with_teams("ada@example.com", json!([{"value": acme, "role": "owner"}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains("owner"));
    // Another org's team is unknown here.
    let (globex, _) = crate::harness::create_org_and_token(&app.database_url, "Globex").await;
    let id = app.create_user("bob@example.com").await;
    let other = super::store(&app).await;
    let mut tx = other.read().await.unwrap();
    let foreign = rollcall::store::teams::settings(&mut tx, &globex).await;
    drop(tx);
    other.close().await;
    {
        let team = foreign.unwrap().initial_team_id.unwrap();
        let r = app
            .patch(
                &format!("/Users/{id}"),
                &patch(json!([{"op": "add", "path": format!("{ROLLCALL}:teams"), "value": [{"value": team}]}])),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    }
}

async fn discovery_lists_the_extension_on_user(app: TestApp) {
    let r = app.get("/ResourceTypes/User").await;
    let ext: Vec<&str> = r.body["schemaExtensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["schema"].as_str().unwrap())
        .collect();
    assert!(ext.contains(&ROLLCALL), "{:#}", r.body);
    // The org's team ids are the canonical values of teams.value (and only this org's).
    app.other_org("Globex").await;
    let acme = default_team(&app).await;
    let platform = add_team(&app, "Platform").await;
    for path in [format!("/Schemas/{ROLLCALL}"), "/Schemas".to_owned()] {
        let r = app.get(&path).await;
        let schema = match r.body["Resources"].as_array() {
            Some(list) => list.iter().find(|s| s["id"] == ROLLCALL).unwrap().clone(),
            None => r.body.clone(),
        };
        let value = schema["attributes"][0]["subAttributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "value")
            .unwrap()
            .clone();
        assert_eq!(value["canonicalValues"], json!([acme, platform]), "{path}");
    }
}

crate::both_backends!(setup = crate::harness::spawn_fast_outbox;
    team_attributes_become_memberships_and_show_their_state,
    a_put_of_what_get_returned_keeps_sources,
    unknown_teams_and_roles_are_refused,
    discovery_lists_the_extension_on_user,
);
