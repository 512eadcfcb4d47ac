//! Teams and seats: a SCIM user lands in the default team, seats are never over-sold
//! under concurrency (also with two server processes on one PostgreSQL database), and
//! deprovisioning hands freed seats to the waitlist first come, first served.

use crate::harness::{Backend, TestApp, serve_process};
use reqwest::StatusCode;
use rollcall::domain::{GroupId, MappingId, SubscriptionId, TeamId};
use rollcall::store::{Q, Store};
use secrecy::ExposeSecret as _;
use serde_json::json;
use std::collections::BTreeMap;

async fn store(app: &TestApp) -> Store {
    Store::connect(&app.database_url).await.unwrap()
}

/// Sets the pool of the org's subscription.
async fn set_pool(app: &TestApp, seats: i64) {
    let s = store(app).await;
    let mut tx = s.write().await.unwrap();
    tx.execute(
        Q::new("UPDATE subscriptions SET seats = ? WHERE org_id = ?")
            .bind(seats)
            .bind(app.org_id.as_str()),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    s.close().await;
}

async fn set_overflow_reject(app: &TestApp) {
    let s = store(app).await;
    let mut tx = s.write().await.unwrap();
    tx.execute(
        Q::new("UPDATE org_settings SET seat_overflow = 'reject' WHERE org_id = ?")
            .bind(app.org_id.as_str()),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    s.close().await;
}

/// user id -> membership state, for the org's default team.
async fn states(app: &TestApp) -> BTreeMap<String, String> {
    let team = app.default_team().await;
    app.team_members(&team)
        .await
        .into_iter()
        .map(|m| (m.user_id.into_string(), m.state.to_string()))
        .collect()
}

/// The held-seats counter every seat decision reads (kept by triggers) agrees with the
/// memberships themselves, in every team of the org.
async fn assert_held_seats_agree(app: &TestApp) {
    let s = store(app).await;
    let mut tx = s.read().await.unwrap();
    let rows = tx
        .fetch_all(
            Q::new(
                "SELECT t.name, CAST(t.held_seats AS BIGINT) AS counter, \
                 (SELECT COUNT(*) FROM memberships m WHERE m.team_id = t.id \
                   AND m.state <> 'awaiting_seat') AS actual \
                 FROM teams t WHERE t.org_id = ?",
            )
            .bind(app.org_id.as_str()),
        )
        .await
        .unwrap();
    drop(tx);
    s.close().await;
    assert!(!rows.is_empty());
    for r in rows {
        assert_eq!(
            r.int("counter").unwrap(),
            r.int("actual").unwrap(),
            "held seats of team {}",
            r.text("name").unwrap()
        );
    }
}

fn count(states: &BTreeMap<String, String>, state: &str) -> usize {
    states.values().filter(|s| *s == state).count()
}

async fn a_scim_user_lands_in_the_default_team(app: TestApp) {
    let id = app.create_user("new@example.com").await;
    let s = states(&app).await;
    assert_eq!(s.get(&id).map(String::as_str), Some("invited"), "{s:?}");
}

/// Creates `n` users concurrently through `bases` (round robin) and returns their ids.
async fn create_concurrently(app: &TestApp, bases: &[String], n: usize) -> Vec<String> {
    let mut tasks = Vec::new();
    for i in 0..n {
        let client = app.client.clone();
        let url = format!("{}/Users", bases[i % bases.len()]);
        let token = app.token.clone();
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .header("Content-Type", "application/scim+json")
                .body(json!({"userName": format!("racer{i}@example.com")}).to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            let body: serde_json::Value = r.json().await.unwrap();
            body["id"].as_str().unwrap().to_owned()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids
}

async fn forty_concurrent_creates_into_ten_seats_give_ten_holders(app: TestApp) {
    set_pool(&app, 10).await;
    create_concurrently(&app, std::slice::from_ref(&app.base), 40).await;
    let s = states(&app).await;
    assert_eq!(s.len(), 40);
    assert_eq!(count(&s, "invited"), 10, "{s:?}");
    assert_eq!(count(&s, "awaiting_seat"), 30, "{s:?}");
    assert_held_seats_agree(&app).await;
}

async fn deprovisioning_three_holders_seats_exactly_three_waiters(app: TestApp) {
    set_pool(&app, 10).await;
    let mut ids = Vec::new();
    for i in 0..14 {
        ids.push(app.create_user(&format!("u{i:02}@example.com")).await);
    }
    let before = states(&app).await;
    assert_eq!(count(&before, "invited"), 10);
    // Three ways out: active false (Okta), DELETE, active "False" (Entra).
    let r = app
        .patch(&format!("/Users/{}", ids[0]), &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": false}}]}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        app.delete(&format!("/Users/{}", ids[1])).await.status,
        StatusCode::NO_CONTENT
    );
    let r = app
        .patch(&format!("/Users/{}", ids[2]), &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let after = states(&app).await;
    assert_eq!(count(&after, "invited"), 10, "{after:?}");
    assert_eq!(count(&after, "awaiting_seat"), 1, "{after:?}");
    // First come, first served: users 10, 11, 12 got the seats; 13 still waits.
    for id in &ids[10..13] {
        assert_eq!(after.get(id).map(String::as_str), Some("invited"));
    }
    assert_eq!(
        after.get(&ids[13]).map(String::as_str),
        Some("awaiting_seat")
    );
    for id in &ids[0..3] {
        assert!(!after.contains_key(id), "deprovisioned users hold nothing");
    }
    // Reactivation recomputes: back in the queue, behind user 13.
    let r = app
        .patch(&format!("/Users/{}", ids[0]), &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": true}}]}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let again = states(&app).await;
    assert_eq!(
        again.get(&ids[0]).map(String::as_str),
        Some("awaiting_seat")
    );
    assert_held_seats_agree(&app).await;
}

async fn a_full_team_with_overflow_reject_refuses_the_request_and_changes_nothing(app: TestApp) {
    set_pool(&app, 1).await;
    set_overflow_reject(&app).await;
    app.create_user("first@example.com").await;
    let r = app
        .post("/Users", &json!({"userName": "second@example.com"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("Acme") && detail.contains("1 held"),
        "{detail}"
    );
    let found = app
        .get("/Users?filter=userName%20eq%20%22second@example.com%22")
        .await;
    assert_eq!(
        found.body["totalResults"], 0,
        "the rejected user must not exist"
    );
}

crate::both_backends!(
    a_scim_user_lands_in_the_default_team,
    forty_concurrent_creates_into_ten_seats_give_ten_holders,
    deprovisioning_three_holders_seats_exactly_three_waiters,
    a_full_team_with_overflow_reject_refuses_the_request_and_changes_nothing,
    mapped_groups_grant_teams_and_removal_takes_them_away,
);

/// Two `rollcall serve` processes on one PostgreSQL database, 40 creates spread over both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_database_never_oversell() {
    let _heavy = crate::harness::heavy().await;
    let app = crate::harness::spawn_app(Backend::Postgres).await;
    set_pool(&app, 10).await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let servers: Vec<_> = dirs
        .iter()
        .map(|d| {
            serve_process(
                std::process::Command::new(env!("CARGO_BIN_EXE_rollcall"))
                    .env("ROLLCALL_MASTER_KEY", app.master_key_text.expose_secret()),
                d.path(),
                &["--database-url", &app.database_url],
            )
        })
        .collect();
    let bases: Vec<String> = servers
        .iter()
        .map(|s| format!("http://{}/scim/v2", s.address))
        .collect();
    create_concurrently(&app, &bases, 40).await;
    let s = states(&app).await;
    assert_eq!(s.len(), 40);
    assert_eq!(count(&s, "invited"), 10, "{s:?}");
    assert_eq!(count(&s, "awaiting_seat"), 30, "{s:?}");
    drop(servers);
}

/// Maps a SCIM group to a new team (10 reserved seats) with `role`; returns the team id.
async fn map_group_to_new_team(app: &TestApp, group_id: &str, team: &str, role: &str) -> String {
    use rollcall::store::teams;
    let subscription = app.subscription_id().await;
    let s = store(app).await;
    let mut tx = s.write().await.unwrap();
    let team_id = uuid::Uuid::new_v4().to_string();
    teams::insert_team(
        &mut tx,
        &teams::Team {
            id: TeamId::from(team_id.clone()),
            org_id: app.org_id.clone(),
            name: team.to_owned(),
            description: String::new(),
            login_type: rollcall::domain::kinds::LoginType::Email,
            subscription_id: SubscriptionId::from(subscription),
            reserved_seats: Some(10),
            created: "2026-01-01T00:00:00.000Z".parse().unwrap(),
        },
    )
    .await
    .unwrap();
    teams::insert_mapping(
        &mut tx,
        &teams::GroupMapping {
            id: MappingId::new_v4(),
            org_id: app.org_id.clone(),
            group_id: GroupId::from(group_id.to_owned()),
            team_id: Some(TeamId::from(team_id.clone())),
            team_role: Some(role.parse().unwrap()),
            org_role: None,
            created: "2026-01-01T00:00:00.000Z".parse().unwrap(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    s.close().await;
    team_id
}

/// user id -> (role, state) in one team.
async fn team_members(app: &TestApp, team_id: &str) -> BTreeMap<String, (String, String)> {
    app.team_members(team_id)
        .await
        .into_iter()
        .map(|m| {
            (
                m.user_id.into_string(),
                (m.role.to_string(), m.state.to_string()),
            )
        })
        .collect()
}

async fn mapped_groups_grant_teams_and_removal_takes_them_away(app: TestApp) {
    let ann = app.create_user("ann@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let eng = app.create_group("Engineering", &[]).await;
    let leads = app.create_group("Eng Leads", &[]).await;
    let team = map_group_to_new_team(&app, &eng, "Platform", "user").await;
    {
        // Same team through a second group, as admin: the highest role wins.
        let s = store(&app).await;
        let mut tx = s.write().await.unwrap();
        rollcall::store::teams::insert_mapping(
            &mut tx,
            &rollcall::store::teams::GroupMapping {
                id: MappingId::new_v4(),
                org_id: app.org_id.clone(),
                group_id: GroupId::from(leads.clone()),
                team_id: Some(TeamId::from(team.clone())),
                team_role: Some(rollcall::domain::kinds::TeamRole::Admin),
                org_role: None,
                created: "2026-01-01T00:00:00.000Z".parse().unwrap(),
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        s.close().await;
    }
    let patch = |members: serde_json::Value, op: &str| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": op, "path": "members", "value": members}]})
    };
    let r = app
        .patch(
            &format!("/Groups/{eng}"),
            &patch(json!([{"value": ann}, {"value": bob}]), "Add"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app
        .patch(
            &format!("/Groups/{leads}"),
            &patch(json!([{"value": ann}]), "Add"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let m = team_members(&app, &team).await;
    assert_eq!(
        m.get(&ann),
        Some(&("admin".to_owned(), "invited".to_owned()))
    );
    assert_eq!(
        m.get(&bob),
        Some(&("user".to_owned(), "invited".to_owned()))
    );

    // Leaving the admin group demotes; leaving the last mapped group removes.
    let r = app
        .patch(
            &format!("/Groups/{leads}"),
            &patch(json!([{"value": ann}]), "Remove"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        team_members(&app, &team)
            .await
            .get(&ann)
            .map(|m| m.0.as_str()),
        Some("user")
    );
    let r = app
        .patch(
            &format!("/Groups/{eng}"),
            &patch(json!([{"value": bob}]), "Remove"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(!team_members(&app, &team).await.contains_key(&bob));
    // The default team is untouched by group changes.
    assert_eq!(
        states(&app).await.get(&bob).map(String::as_str),
        Some("invited")
    );

    // Deleting a mapped group deprovisions its members from the team.
    assert_eq!(
        app.delete(&format!("/Groups/{eng}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert!(team_members(&app, &team).await.is_empty());
    assert_held_seats_agree(&app).await;
}
