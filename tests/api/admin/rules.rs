//! Group mappings, org roles, org settings, manual memberships and webhooks through the
//! admin API, with the provisioning rules they trigger.

use crate::harness::TestApp;
use crate::harness::{Admin, assert_error};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn members_patch(op: &str, ids: &[&str]) -> Value {
    let members: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
           "Operations": [{"op": op, "path": "members", "value": members}]})
}

/// user name -> (role, source, state) of a team's members, from the admin API.
async fn roster(
    admin: &Admin<'_>,
    team: &str,
) -> std::collections::BTreeMap<String, (String, String, String)> {
    let r = admin.get(&format!("/teams/{team}/members")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user_name"].as_str().unwrap().to_owned(),
                (
                    m["role"].as_str().unwrap().to_owned(),
                    m["source"].as_str().unwrap().to_owned(),
                    m["state"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect()
}

fn entry(role: &str, source: &str, state: &str) -> (String, String, String) {
    (role.to_owned(), source.to_owned(), state.to_owned())
}

async fn waitlist_names(admin: &Admin<'_>, team: &str) -> Vec<String> {
    let r = admin.get(&format!("/teams/{team}/waitlist")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, m)| {
            assert_eq!(m["position"], i + 1);
            m["user_name"].as_str().unwrap().to_owned()
        })
        .collect()
}

async fn map(admin: &Admin<'_>, body: Value) -> Value {
    let r = admin.post("/group-mappings", &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body
}

async fn mapped_groups_provision_members_and_deleting_a_mapping_seats_the_waitlist(app: TestApp) {
    let admin = app.admin().await;
    let platform = admin
        .create_team(&json!({"name": "Platform", "reserved_seats": 2}))
        .await;
    let ann = app.create_user("ann@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let cat = app.create_user("cat@example.com").await;
    let dan = app.create_user("dan@example.com").await;
    let eng = app.create_group("Engineering", &[&ann, &bob]).await;
    let leads = app.create_group("Leads", &[&ann]).await;
    let contractors = app.create_group("Contractors", &[&cat]).await;

    let m = map(
        &admin,
        json!({"group_id": eng, "team_id": platform, "team_role": "user"}),
    )
    .await;
    assert_eq!(m["effects"]["seated"], 2);
    assert_eq!(m["mapping"]["group_name"], "Engineering");
    assert_eq!(m["mapping"]["team_name"], "Platform");
    map(
        &admin,
        json!({"group_id": leads, "team_id": platform, "team_role": "admin"}),
    )
    .await;
    let eng_contractors = map(
        &admin,
        json!({"group_id": contractors, "team_id": platform}),
    )
    .await;
    assert_eq!(eng_contractors["effects"]["waitlisted"], 1);
    // A user added to a mapped group over SCIM lands in the team (here: the waitlist).
    let r = app
        .patch(
            &format!("/Groups/{contractors}"),
            &members_patch("add", &[&dan]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let r = roster(&admin, &platform).await;
    assert_eq!(
        r["ann@example.com"],
        entry("admin", "group", "invited"),
        "highest role wins"
    );
    assert_eq!(r["bob@example.com"], entry("user", "group", "invited"));
    assert_eq!(
        r["cat@example.com"],
        entry("user", "group", "awaiting_seat")
    );
    assert_eq!(
        r["dan@example.com"],
        entry("user", "group", "awaiting_seat")
    );
    assert_eq!(
        waitlist_names(&admin, &platform).await,
        ["cat@example.com", "dan@example.com"]
    );
    let listed = admin.get("/group-mappings").await;
    assert_eq!(listed.body.as_array().unwrap().len(), 3);

    // Deleting the Engineering mapping: bob goes (ann stays, as admin, through Leads) and
    // his seat goes to cat, the first in line.
    let eng_mapping = m["mapping"]["id"].as_str().unwrap();
    let r = admin
        .delete(&format!("/group-mappings/{eng_mapping}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["effects"]["removed"], 1);
    let r = roster(&admin, &platform).await;
    assert!(!r.contains_key("bob@example.com"));
    assert_eq!(r["ann@example.com"], entry("admin", "group", "invited"));
    assert_eq!(r["cat@example.com"], entry("user", "group", "invited"));
    assert_eq!(waitlist_names(&admin, &platform).await, ["dan@example.com"]);
    let team = admin.get(&format!("/teams/{platform}")).await.body;
    assert_eq!(team["assigned_seats"], 2);
    assert_eq!(team["waiting"], 1);
    // Bob keeps the default team: only what came from the mapping went.
    let acme = admin.team_named("Acme").await;
    let acme = acme["id"].as_str().unwrap();
    assert!(roster(&admin, acme).await.contains_key("bob@example.com"));

    // Mapping checks: unknown group, both targets, an unknown org role.
    assert_error(
        &admin
            .post(
                "/group-mappings",
                &json!({"group_id": "nope", "team_id": platform}),
            )
            .await,
        404,
        "not_found",
        &["group"],
    );
    assert_error(
        &admin
            .post(
                "/group-mappings",
                &json!({"group_id": eng, "team_id": platform, "org_role": "org_admin"}),
            )
            .await,
        400,
        "invalid_request",
        &["either"],
    );
    assert_error(
        &admin
            .post(
                "/group-mappings",
                &json!({"group_id": eng, "org_role": "owner"}),
            )
            .await,
        400,
        "invalid_request",
        &["org_admin"],
    );
    let audit = admin.get("/audit?limit=100").await;
    let actions: Vec<&str> = audit.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"group_mapping.created") && actions.contains(&"group_mapping.deleted"),
        "{actions:?}"
    );
}

async fn the_last_org_admin_cannot_be_removed_by_admin_or_by_scim(app: TestApp) {
    let admin = app.admin().await;
    let ann = app.create_user("ann@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let r = admin
        .post("/org-roles", &json!({"user_id": ann, "role": "org_admin"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["source"], "manual");

    // Through the admin API: revoke, demote.
    let r = admin.delete(&format!("/org-roles/{ann}")).await;
    assert_error(
        &r,
        409,
        "last_org_admin",
        &["last org admin", "ann@example.com", "Nothing was changed"],
    );
    let r = admin
        .post(
            "/org-roles",
            &json!({"user_id": ann, "role": "org_analyst"}),
        )
        .await;
    assert_error(&r, 409, "last_org_admin", &["last org admin"]);
    assert_eq!(admin.get("/org-roles").await.body[0]["role"], "org_admin");

    // Through SCIM: deactivation and DELETE fail with a SCIM 409 and change nothing.
    let deactivate = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "replace", "value": {"active": false}}]});
    let r = app.patch(&format!("/Users/{ann}"), &deactivate).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(r.body["status"], "409");
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("last org admin")
    );
    let r = app.delete(&format!("/Users/{ann}")).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    let r = app.get(&format!("/Users/{ann}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["active"], true);

    // A mapped group makes bob an org admin (source group); now ann can go.
    let admins = app.create_group("Org Admins", &[&bob]).await;
    let m = map(&admin, json!({"group_id": admins, "org_role": "org_admin"})).await;
    let roles = admin.get("/org-roles").await.body;
    let bob_role = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["user_id"] == bob.as_str())
        .unwrap()
        .clone();
    assert_eq!(bob_role["role"], "org_admin");
    assert_eq!(bob_role["source"], "group");
    assert_error(
        &admin.delete(&format!("/org-roles/{bob}")).await,
        409,
        "conflict",
        &["mapped IdP group"],
    );
    assert_eq!(
        app.delete(&format!("/Users/{ann}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        admin.get("/org-roles").await.body.as_array().unwrap().len(),
        1
    );

    // Bob is the last admin now: leaving the group, deleting it, or deleting the mapping
    // all fail and change nothing.
    let r = app
        .patch(
            &format!("/Groups/{admins}"),
            &members_patch("remove", &[&bob]),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(
        app.delete(&format!("/Groups/{admins}")).await.status,
        StatusCode::CONFLICT
    );
    let group = app.get(&format!("/Groups/{admins}")).await;
    assert_eq!(group.body["members"][0]["value"], bob.as_str());
    let mapping = m["mapping"]["id"].as_str().unwrap();
    assert_error(
        &admin.delete(&format!("/group-mappings/{mapping}")).await,
        409,
        "last_org_admin",
        &["bob@example.com"],
    );
    assert_eq!(
        admin
            .get("/group-mappings")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        admin.get("/org-roles").await.body[0]["user_id"],
        bob.as_str()
    );

    let audit = admin.get("/audit?limit=100").await;
    let assigned = audit.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "org_role.assigned")
        .unwrap()
        .clone();
    assert_eq!(assigned["actor"], "admin:ops console");
    assert_eq!(assigned["target"], format!("user:{ann}"));
    assert_eq!(assigned["after"]["role"], "org_admin");
}

async fn changing_the_default_team_moves_everyone_and_org_roles_add_the_initial_team(app: TestApp) {
    let admin = app.admin().await;
    let acme = admin.team_named("Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ops = admin.create_team(&json!({"name": "Ops"})).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(app.create_user(&format!("u{i}@example.com")).await);
    }
    let r = admin
        .patch("/settings", &json!({"default_team_id": ops}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["default_team_id"], ops.as_str());
    assert_eq!(r.body["initial_team_id"], acme.as_str());
    assert!(roster(&admin, &acme).await.is_empty());
    let r = roster(&admin, &ops).await;
    assert_eq!(r.len(), 3);
    assert_eq!(r["u0@example.com"], entry("user", "default", "invited"));

    // An org role brings its holder into the initial team by hand (seat rules apply).
    let r = admin
        .post(
            "/org-roles",
            &json!({"user_id": ids[0], "role": "org_analyst"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        roster(&admin, &acme).await["u0@example.com"],
        entry("user", "manual", "invited")
    );
    assert_error(
        &admin
            .post(
                "/org-roles",
                &json!({"user_id": "nobody", "role": "org_admin"}),
            )
            .await,
        404,
        "not_found",
        &["nobody"],
    );

    let r = admin
        .patch(
            "/settings",
            &json!({"default_team_id": null, "seat_overflow": "reject"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body["default_team_id"].is_null());
    assert_eq!(r.body["seat_overflow"], "reject");
    assert!(roster(&admin, &ops).await.is_empty());
    assert_eq!(
        roster(&admin, &acme).await.len(),
        1,
        "the org role keeps its initial team"
    );
    assert_error(
        &admin
            .patch("/settings", &json!({"seat_overflow": "queue"}))
            .await,
        400,
        "invalid_request",
        &["waitlist"],
    );
    assert_error(
        &admin
            .patch("/settings", &json!({"default_team_id": "missing"}))
            .await,
        404,
        "not_found",
        &["missing"],
    );
}

async fn manual_members_are_added_and_removed_unless_teams_are_idp_managed(app: TestApp) {
    let admin = app.admin().await;
    let ops = admin
        .create_team(&json!({"name": "Ops", "reserved_seats": 1}))
        .await;
    let ann = app.create_user("ann@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let r = admin
        .post(
            &format!("/teams/{ops}/members"),
            &json!({"user_id": ann, "role": "admin"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["state"], "invited");
    assert_eq!(r.body["source"], "manual");
    let r = admin
        .post(&format!("/teams/{ops}/members"), &json!({"user_id": bob}))
        .await;
    assert_eq!(r.body["state"], "awaiting_seat");
    assert_error(
        &admin
            .post(&format!("/teams/{ops}/members"), &json!({"user_id": bob}))
            .await,
        409,
        "conflict",
        &["already a member"],
    );
    assert_eq!(waitlist_names(&admin, &ops).await, ["bob@example.com"]);
    assert_eq!(
        admin
            .delete(&format!("/teams/{ops}/members/{ann}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        roster(&admin, &ops).await["bob@example.com"],
        entry("user", "manual", "invited")
    );
    // A membership from the IdP (here the default team) is not removed by hand.
    let acme = admin.team_named("Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_error(
        &admin.delete(&format!("/teams/{acme}/members/{ann}")).await,
        409,
        "conflict",
        &["source default"],
    );
    // IdP-managed teams: no hand changes, and manual members go at once.
    let r = admin
        .patch("/settings", &json!({"idp_managed_teams": true}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(roster(&admin, &ops).await.is_empty());
    assert_error(
        &admin
            .post(&format!("/teams/{ops}/members"), &json!({"user_id": ann}))
            .await,
        409,
        "conflict",
        &["managed by the identity provider"],
    );
}

async fn webhook_endpoints_are_managed_and_only_http_urls_accepted(app: TestApp) {
    let admin = app.admin().await;
    let r = admin
        .post("/webhooks", &json!({"url": "https://hooks.example.com/rollcall", "event_types": ["membership.granted"]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert!(r.body["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(r.body["enabled"], true);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let listed = admin.get("/webhooks").await;
    assert_eq!(listed.body[0]["url"], "https://hooks.example.com/rollcall");
    assert!(
        listed.body[0].get("secret").is_none(),
        "the secret is shown only once"
    );
    assert_error(
        &admin
            .post("/webhooks", &json!({"url": "ftp://example.com/x"}))
            .await,
        400,
        "invalid_request",
        &["http"],
    );
    assert_error(
        &admin
            .post(
                "/webhooks",
                &json!({"url": "https://x.example", "event_types": ["user.exploded"]}),
            )
            .await,
        400,
        "invalid_request",
        &["user.exploded"],
    );
    let r = admin
        .patch(
            &format!("/webhooks/{id}"),
            &json!({"enabled": false, "event_types": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["enabled"], false);
    assert!(r.body["event_types"].is_null());
    assert_error(
        &admin
            .patch(
                &format!("/webhooks/{id}"),
                &json!({"url": "javascript:alert(1)"}),
            )
            .await,
        400,
        "invalid_request",
        &[],
    );
    assert_eq!(
        admin.delete(&format!("/webhooks/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &admin.get(&format!("/webhooks/{id}")).await,
        404,
        "not_found",
        &[],
    );
    let audit = admin.get("/audit").await;
    let text = audit.body.to_string();
    assert!(text.contains("webhook.created") && text.contains("webhook.deleted"));
    assert!(!text.contains("whsec_"), "no secret in the audit log");
}

async fn revoking_a_granted_role_leaves_the_role_a_mapped_group_gives(app: TestApp) {
    let admin = app.admin().await;
    let ann = app.create_user("ann@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let r = admin
        .post("/org-roles", &json!({"user_id": bob, "role": "org_admin"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let analysts = app.create_group("Analysts", &[&ann]).await;
    map(
        &admin,
        json!({"group_id": analysts, "org_role": "org_analyst"}),
    )
    .await;
    let r = admin
        .post("/org-roles", &json!({"user_id": ann, "role": "org_admin"}))
        .await;
    assert_eq!(r.body["source"], "manual");
    assert_eq!(
        admin.delete(&format!("/org-roles/{ann}")).await.status,
        StatusCode::NO_CONTENT
    );
    let roles = admin.get("/org-roles").await.body;
    let ann_role = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["user_id"] == ann.as_str())
        .unwrap()
        .clone();
    assert_eq!(ann_role["role"], "org_analyst");
    assert_eq!(ann_role["source"], "group");
    let audit = admin.get("/audit?limit=100").await.body.to_string();
    assert!(audit.contains("org_role.revoked"));
}

/// Two admins revoked at the same moment: one revocation wins, the other gets 409, and
/// the org keeps one admin (the org row lock serialises the count on PostgreSQL).
async fn two_racing_revocations_never_remove_both_org_admins(app: TestApp) {
    let admin = app.admin().await;
    let ann = app.create_user("ann@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    for round in 0..20 {
        for u in [&ann, &bob] {
            let r = admin
                .post("/org-roles", &json!({"user_id": u, "role": "org_admin"}))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        }
        let (pa, pb) = (format!("/org-roles/{ann}"), format!("/org-roles/{bob}"));
        let (a, b) = tokio::join!(admin.delete(&pa), admin.delete(&pb));
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [204, 409],
            "round {round}: {:?} {:?}",
            a.body,
            b.body
        );
        let roles = admin.get("/org-roles").await.body;
        assert_eq!(
            roles.as_array().unwrap().len(),
            1,
            "round {round}: {roles:?}"
        );
    }
}

/// Seats an admin change hands out get their joining email (and audit entries naming the
/// admin), like seats from SCIM changes.
async fn seats_granted_by_admin_changes_send_one_joining_email_each(app: TestApp) {
    let admin = app.admin().await;
    assert_eq!(admin.set_pool(1).await.status, StatusCode::OK);
    app.create_user("first@example.com").await;
    let second = app.create_user("second@example.com").await;
    assert_eq!(crate::effects::queued_emails(&app).await.len(), 1);
    assert_eq!(admin.set_pool(2).await.status, StatusCode::OK);
    let emails = crate::effects::queued_emails(&app).await;
    assert_eq!(emails.len(), 2, "{emails:?}");
    let ops = admin
        .create_team(&json!({"name": "Ops", "reserved_seats": 1}))
        .await;
    let r = admin
        .post(
            &format!("/teams/{ops}/members"),
            &json!({"user_id": second}),
        )
        .await;
    assert_eq!(r.body["state"], "invited");
    assert_eq!(crate::effects::queued_emails(&app).await.len(), 3);
    let audit = admin.get("/audit?limit=500").await.body;
    let granted: Vec<&Value> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "membership.granted" && e["actor"] == "admin:ops console")
        .collect();
    assert_eq!(granted.len(), 2, "{audit}");
}

crate::both_backends!(
    mapped_groups_provision_members_and_deleting_a_mapping_seats_the_waitlist,
    the_last_org_admin_cannot_be_removed_by_admin_or_by_scim,
    changing_the_default_team_moves_everyone_and_org_roles_add_the_initial_team,
    manual_members_are_added_and_removed_unless_teams_are_idp_managed,
    webhook_endpoints_are_managed_and_only_http_urls_accepted,
    revoking_a_granted_role_leaves_the_role_a_mapped_group_gives,
    two_racing_revocations_never_remove_both_org_admins,
    seats_granted_by_admin_changes_send_one_joining_email_each,
);
