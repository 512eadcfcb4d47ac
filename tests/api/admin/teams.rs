//! Admin tokens, teams, subscriptions and allocations, the audit log and the OpenAPI
//! document.

use crate::harness::TestApp;
use crate::harness::{Admin, admin_token_for, assert_error};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret as _;
use serde_json::json;

async fn a_scim_token_is_refused_on_admin_and_an_admin_token_on_scim(app: TestApp) {
    let admin = app.admin().await;
    let url = format!("{}/admin/v1/teams", app.address);
    let r = app
        .request_with(Method::GET, &url, None, Some(&app.token), &[])
        .await;
    assert_error(&r, 401, "unauthorized", &["admin token"]);
    let r = app.request_with(Method::GET, &url, None, None, &[]).await;
    assert_error(&r, 401, "unauthorized", &["admin token"]);
    let r = app
        .request_with(Method::GET, "/Users", None, Some(&admin.token), &[])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    assert_eq!(admin.get("/teams").await.status, StatusCode::OK);
    assert_error(
        &admin.get("/nothing-here").await,
        404,
        "not_found",
        &["/admin/v1/nothing-here"],
    );
    assert_error(
        &admin.call(Method::PUT, "/teams", None).await,
        405,
        "method_not_allowed",
        &["PUT", "/admin/v1/teams"],
    );
}

async fn teams_are_created_listed_updated_and_deleted_when_empty(app: TestApp) {
    let admin = app.admin().await;
    let initial = admin.team_named("Acme").await;
    assert_eq!(initial["initial"], true);
    assert_eq!(initial["default"], true);

    let r = admin
        .post(
            "/teams",
            &json!({"name": "Support", "description": "Front line", "login_type": "device",
                    "settings": {"locale": "fr"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["login_type"], "device");
    assert_eq!(r.body["settings"]["locale"], "fr");
    assert_eq!(r.body["assigned_seats"], 0);
    assert_eq!(r.body["waiting"], 0);
    assert_eq!(r.body["reserved_seats"], serde_json::Value::Null);

    assert_error(
        &admin.post("/teams", &json!({"name": "support"})).await,
        409,
        "conflict",
        &["\"support\"", "already exists"],
    );
    assert_error(
        &admin
            .post("/teams", &json!({"name": "X", "login_type": "sms"}))
            .await,
        400,
        "invalid_request",
        &["login_type"],
    );
    assert_error(
        &admin.post("/teams", &json!({"nme": "typo"})).await,
        400,
        "invalid_request",
        &["nme"],
    );

    let r = admin
        .patch(
            &format!("/teams/{id}"),
            &json!({"name": "Customer Support", "settings": {"locale": "de"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["name"], "Customer Support");
    assert_eq!(r.body["description"], "Front line");
    assert_eq!(r.body["settings"]["locale"], "de");
    let listed = admin.team_named("Customer Support").await;
    assert_eq!(listed["id"], id.as_str());

    // The initial team (with a member) cannot go; an empty team can.
    app.create_user("ann@example.com").await;
    let acme = initial["id"].as_str().unwrap();
    assert_error(
        &admin.delete(&format!("/teams/{acme}")).await,
        409,
        "conflict",
        &["initial team"],
    );
    assert_eq!(
        admin.get(&format!("/teams/{acme}")).await.body["assigned_seats"],
        1
    );
    assert_eq!(
        admin.delete(&format!("/teams/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &admin.get(&format!("/teams/{id}")).await,
        404,
        "not_found",
        &[&id],
    );

    // Another org's team is not found, not forbidden.
    app.other_org("Globex").await;
    let globex = {
        let s = rollcall::store::Store::connect(&app.database_url)
            .await
            .unwrap();
        let mut tx = s.read().await.unwrap();
        let org = rollcall::store::orgs::find(&mut tx, "Globex")
            .await
            .unwrap()
            .unwrap();
        drop(tx);
        s.close().await;
        org.id
    };
    let other = Admin {
        app: &app,
        token: admin_token_for(&app, globex.as_str(), "globex admin").await,
    };
    let globex_team = other.team_named("Globex").await;
    let gid = globex_team["id"].as_str().unwrap();
    assert_error(
        &admin.get(&format!("/teams/{gid}")).await,
        404,
        "not_found",
        &[],
    );
    assert_error(
        &admin
            .patch(&format!("/teams/{gid}"), &json!({"name": "mine"}))
            .await,
        404,
        "not_found",
        &[],
    );
    assert_eq!(admin.get("/teams").await.body.as_array().unwrap().len(), 1);
}

async fn a_team_with_members_cannot_be_deleted(app: TestApp) {
    let admin = app.admin().await;
    let r = admin.post("/teams", &json!({"name": "Ops"})).await;
    let ops = r.body["id"].as_str().unwrap().to_owned();
    // Make Ops the default team so the next SCIM user lands in it.
    let r = admin
        .patch("/settings", &json!({"default_team_id": ops}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    app.create_user("bob@example.com").await;
    assert_error(
        &admin.delete(&format!("/teams/{ops}")).await,
        409,
        "conflict",
        &["default team"],
    );
}

async fn reservations_above_the_pool_are_refused_with_the_numbers(app: TestApp) {
    let admin = app.admin().await;
    assert_eq!(admin.set_pool(10).await.status, StatusCode::OK);
    let r = admin
        .post("/teams", &json!({"name": "Sales", "reserved_seats": 6}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["reserved_seats"], 6);
    let r = admin
        .post("/teams", &json!({"name": "Legal", "reserved_seats": 5}))
        .await;
    assert_error(
        &r,
        409,
        "conflict",
        &["5 seats", "10 seats", "reserve 6", "at most 4"],
    );
    let r = admin.post("/teams", &json!({"name": "Legal"})).await;
    let legal = r.body["id"].as_str().unwrap().to_owned();
    let r = admin
        .put(
            &format!("/teams/{legal}/allocation"),
            &json!({"reserved_seats": 5}),
        )
        .await;
    assert_error(&r, 409, "conflict", &["Legal", "10 seats"]);
    let r = admin
        .put(
            &format!("/teams/{legal}/allocation"),
            &json!({"reserved_seats": 4}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["reserved_seats"], 4);
    // The pool cannot shrink below its reservations.
    assert_error(
        &admin.set_pool(9).await,
        409,
        "conflict",
        &["9 seats", "reserve 10"],
    );
    let subs = admin.get("/subscriptions").await;
    assert_eq!(subs.body[0]["seats"], 10);
    assert_eq!(subs.body[0]["reserved_seats"], 10);
    // Clearing a reservation gives its seats back to the shared pool.
    let r = admin.delete(&format!("/teams/{legal}/allocation")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["reserved_seats"], serde_json::Value::Null);
}

async fn growing_the_pool_seats_waiters_first_come_first_served(app: TestApp) {
    let admin = app.admin().await;
    assert_eq!(admin.set_pool(2).await.status, StatusCode::OK);
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(app.create_user(&format!("w{i}@example.com")).await);
    }
    let team = admin.team_named("Acme").await;
    assert_eq!(team["assigned_seats"], 2);
    assert_eq!(team["waiting"], 3);
    let r = admin.set_pool(4).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["assigned_seats"], 4);
    let team = admin.team_named("Acme").await;
    assert_eq!(team["assigned_seats"], 4);
    assert_eq!(team["waiting"], 1);
    let states = crate::harness::member_states(&app, team["id"].as_str().unwrap()).await;
    for id in &ids[..4] {
        assert_eq!(states[id], "invited");
    }
    assert_eq!(
        states[&ids[4]], "awaiting_seat",
        "the last to come still waits"
    );
}

async fn the_audit_log_shows_admin_changes_with_their_actor_page_by_page(app: TestApp) {
    let admin = app.admin().await;
    for name in ["One", "Two", "Three"] {
        assert_eq!(
            admin.post("/teams", &json!({"name": name})).await.status,
            StatusCode::CREATED
        );
    }
    let one = admin.team_named("One").await;
    admin
        .patch(
            &format!("/teams/{}", one["id"].as_str().unwrap()),
            &json!({"description": "first"}),
        )
        .await;
    let page = admin.get("/audit?limit=2").await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
    let entries = page.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["action"], "team.created");
    assert_eq!(entries[0]["actor"], "admin:ops console");
    assert_eq!(entries[0]["after"]["name"], "One");
    assert_eq!(
        entries[0]["target"],
        format!("team:{}", one["id"].as_str().unwrap())
    );
    let next = page.body["next"].as_i64().unwrap();
    let page = admin.get(&format!("/audit?after={next}&limit=2")).await;
    let entries = page.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["after"]["name"], "Three");
    assert_eq!(entries[1]["action"], "team.updated");
    assert_eq!(entries[1]["before"]["description"], "");
    assert_eq!(entries[1]["after"]["description"], "first");
    let last = admin
        .get(&format!(
            "/audit?after={}&limit=2",
            page.body["next"].as_i64().unwrap()
        ))
        .await;
    assert_eq!(last.body["entries"].as_array().unwrap().len(), 0);
    assert!(last.body["next"].is_null());
    assert_error(
        &admin.get("/audit?limit=0").await,
        400,
        "invalid_request",
        &["limit"],
    );
    assert_error(
        &admin.get("/audit?after=x").await,
        400,
        "invalid_request",
        &[],
    );
}

async fn the_openapi_document_lists_the_admin_paths(app: TestApp) {
    let url = format!("{}/admin/v1/openapi.json", app.address);
    let r = app.request_with(Method::GET, &url, None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths = r.body["paths"].as_object().unwrap();
    for p in [
        "/admin/v1/teams",
        "/admin/v1/teams/{id}",
        "/admin/v1/teams/{id}/allocation",
        "/admin/v1/teams/{id}/subscription",
        "/admin/v1/subscriptions",
        "/admin/v1/subscriptions/{id}",
        "/admin/v1/teams/{id}/members",
        "/admin/v1/teams/{id}/members/{user_id}",
        "/admin/v1/teams/{id}/waitlist",
        "/admin/v1/group-mappings",
        "/admin/v1/group-mappings/{id}",
        "/admin/v1/settings",
        "/admin/v1/org-roles",
        "/admin/v1/org-roles/{user_id}",
        "/admin/v1/webhooks",
        "/admin/v1/webhooks/{id}",
        "/admin/v1/audit",
    ] {
        assert!(paths.contains_key(p), "{p} missing from {:?}", paths.keys());
    }
    assert!(paths["/admin/v1/teams"]["post"].is_object());
    assert!(r.body["components"]["securitySchemes"]["admin_token"].is_object());
}

async fn a_team_moves_to_another_subscription_only_if_it_has_room(app: TestApp) {
    let admin = app.admin().await;
    assert_eq!(admin.set_pool(3).await.status, StatusCode::OK);
    let r = admin
        .post(
            "/subscriptions",
            &json!({"label": "Pilot", "plan": "trial", "seats": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["plan"], "trial");
    let pilot = r.body["id"].as_str().unwrap().to_owned();
    let r = admin.post("/teams", &json!({"name": "Ops"})).await;
    let ops = r.body["id"].as_str().unwrap().to_owned();
    let mut users = Vec::new();
    for name in ["a", "b", "c", "d"] {
        users.push(app.create_user(&format!("{name}@example.com")).await);
    }
    // Acme holds all 3 seats of the pool; d waits.
    assert_eq!(admin.team_named("Acme").await["waiting"], 1);
    for u in &users[..2] {
        admin
            .post(&format!("/teams/{ops}/members"), &json!({"user_id": u}))
            .await;
    }
    // Ops' two members wait too: the shared pool is full.
    assert_eq!(admin.get(&format!("/teams/{ops}")).await.body["waiting"], 2);
    let r = admin
        .put(
            &format!("/teams/{ops}/subscription"),
            &json!({"subscription_id": pilot}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // In the Pilot pool, the first of Ops' waiters gets its one seat.
    assert_eq!(r.body["subscription_id"], pilot.as_str());
    assert_eq!(r.body["assigned_seats"], 1);
    assert_eq!(r.body["waiting"], 1);
    // Moving back is refused: Acme's pool has no free seat for the one Ops holds.
    let main = admin.get("/subscriptions").await.body[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = admin
        .put(
            &format!("/teams/{ops}/subscription"),
            &json!({"subscription_id": main}),
        )
        .await;
    assert_error(
        &r,
        409,
        "conflict",
        &["Ops", "hold 1 seats", "0 unreserved seats free"],
    );
    assert_error(
        &admin
            .put(
                &format!("/teams/{ops}/subscription"),
                &json!({"subscription_id": "nope"}),
            )
            .await,
        404,
        "not_found",
        &["subscription"],
    );
    let subs = admin.get("/subscriptions").await.body;
    assert_eq!(subs[1]["teams"], 1);
    assert_eq!(subs[1]["assigned_seats"], 1);
}

crate::both_backends!(
    a_scim_token_is_refused_on_admin_and_an_admin_token_on_scim,
    teams_are_created_listed_updated_and_deleted_when_empty,
    a_team_with_members_cannot_be_deleted,
    reservations_above_the_pool_are_refused_with_the_numbers,
    growing_the_pool_seats_waiters_first_come_first_served,
    the_audit_log_shows_admin_changes_with_their_actor_page_by_page,
    the_openapi_document_lists_the_admin_paths,
    admin_tokens_are_created_listed_and_revoked_on_the_command_line,
    a_team_moves_to_another_subscription_only_if_it_has_room,
);

/// `rollcall admin-token create|list|revoke` against the test database.
async fn admin_tokens_are_created_listed_and_revoked_on_the_command_line(app: TestApp) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rollcall"))
            .arg("--database-url")
            .arg(&app.database_url)
            .arg("--data-dir")
            .arg(app.data_dir.path())
            .args(args)
            .env_remove("ROLLCALL_CONFIG")
            .env("ROLLCALL_MASTER_KEY", app.master_key_text.expose_secret())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let token = run(&[
        "admin-token",
        "create",
        "--org",
        "acme",
        "--label",
        "portal",
    ]);
    let token = token.trim_end_matches('\n').to_owned();
    assert!(
        token.starts_with("rca_") && !token.contains('\n'),
        "{token:?}"
    );
    let admin = Admin {
        app: &app,
        token: token.clone(),
    };
    assert_eq!(admin.get("/teams").await.status, StatusCode::OK);
    let r = app
        .request_with(Method::GET, "/Users", None, Some(&token), &[])
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "an admin token is no SCIM token"
    );
    let listed = run(&["admin-token", "list", "--org", app.org_id.as_str()]);
    let line = listed.lines().find(|l| l.contains("portal")).unwrap();
    assert!(line.ends_with("active"), "{line}");
    assert!(
        !listed.contains(&token),
        "the token itself is never shown again"
    );
    assert!(
        !run(&["token", "list", "--org", app.org_id.as_str()]).contains("portal"),
        "SCIM tokens and admin tokens are listed apart"
    );
    let id = line.split('\t').next().unwrap();
    run(&["admin-token", "revoke", id]);
    assert_error(
        &admin.get("/teams").await,
        401,
        "unauthorized",
        &["revoked"],
    );
}
