//! Policies in the admin API (issue 4, point 4): the org's SSO policy on chosen teams,
//! settings policies overriding their teams' settings (the most recently changed policy
//! wins a conflict), a team's effective settings with their sources, and the joining
//! email of an SSO-enforced team.

use crate::effects::{ROLLCALL, add_team, queued_emails, store, user_body};
use crate::harness::TestApp;
use crate::harness::{Admin, assert_error};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn effective(admin: &Admin<'_>, team: &str) -> Value {
    let r = admin
        .get(&format!("/teams/{team}/effective-settings"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

fn source(e: &Value, key: &str) -> (String, Option<String>) {
    let s = &e["sources"][key];
    (
        s["source"]
            .as_str()
            .unwrap_or_else(|| panic!("no source for {key}: {e}"))
            .to_owned(),
        s["policy_name"].as_str().map(str::to_owned),
    )
}

async fn policy_audit(app: &TestApp) -> Vec<String> {
    let s = store(app).await;
    let mut tx = s.read().await.unwrap();
    let log = rollcall::store::audit::list(&mut tx, &app.org_id, 0, 500)
        .await
        .unwrap();
    drop(tx);
    s.close().await;
    log.into_iter()
        .filter(|e| e.action.starts_with("policy."))
        .inspect(|e| assert!(e.target.starts_with("policy:"), "{}", e.target))
        .map(|e| format!("{} {}", e.actor, e.action))
        .collect()
}

async fn effective_settings_show_each_value_and_where_it_comes_from(app: TestApp) {
    let admin = app.admin().await;
    let team = admin.team_named("Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = add_team(&app, "Platform").await;
    let r = admin
        .patch(
            &format!("/teams/{team}"),
            &json!({"settings": {"theme": "dark", "locale": "fr"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let e = effective(&admin, &team).await;
    assert_eq!(e["settings"], json!({"theme": "dark", "locale": "fr"}));
    assert_eq!(source(&e, "theme").0, "team");
    assert_eq!(e["sso_enforced"], false);

    let r = admin
        .post(
            "/policies/settings",
            &json!({"name": "Security baseline", "settings": {"theme": "light", "session_minutes": 30},
                    "team_ids": [team, other]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let baseline = r.body["id"].as_str().unwrap().to_owned();
    let e = effective(&admin, &team).await;
    assert_eq!(
        e["settings"],
        json!({"theme": "light", "locale": "fr", "session_minutes": 30})
    );
    assert_eq!(
        source(&e, "theme"),
        ("settings_policy".into(), Some("Security baseline".into()))
    );
    assert_eq!(e["sources"]["theme"]["policy_id"], baseline.as_str());
    assert_eq!(source(&e, "locale").0, "team");
    assert_eq!(
        e["team_settings"],
        json!({"theme": "dark", "locale": "fr"}),
        "own settings kept"
    );
    // The team's own settings are untouched: the policy overrides, it does not rewrite.
    assert_eq!(admin.team_named("Acme").await["settings"]["theme"], "dark");

    // Conflict: a second policy sets the same key. The most recently changed one wins.
    let r = admin
        .post(
            "/policies/settings",
            &json!({"name": "Branding", "settings": {"theme": "blue"}, "team_ids": [team]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let branding = r.body["id"].as_str().unwrap().to_owned();
    let e = effective(&admin, &team).await;
    assert_eq!(e["settings"]["theme"], "blue");
    assert_eq!(source(&e, "theme").1.as_deref(), Some("Branding"));
    assert_eq!(
        source(&e, "session_minutes").1.as_deref(),
        Some("Security baseline")
    );
    let r = admin
        .patch(
            &format!("/policies/settings/{baseline}"),
            &json!({"settings": {"theme": "green", "session_minutes": 30}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let e = effective(&admin, &team).await;
    assert_eq!(e["settings"]["theme"], "green", "changed last, wins now");
    assert_eq!(source(&e, "theme").1.as_deref(), Some("Security baseline"));
    // The other team only has the baseline.
    let e = effective(&admin, &other).await;
    assert_eq!(
        e["settings"],
        json!({"theme": "green", "session_minutes": 30})
    );

    // Deleting the winner hands the key back to the next policy.
    let r = admin
        .delete(&format!("/policies/settings/{baseline}"))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let e = effective(&admin, &team).await;
    assert_eq!(e["settings"], json!({"theme": "blue", "locale": "fr"}));
    assert_eq!(
        admin
            .get(&format!("/policies/settings/{baseline}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let list = admin.get("/policies/settings").await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert_eq!(list.body[0]["id"], branding.as_str());

    // The SSO policy sets sso_enforced over anything else.
    let r = admin
        .put("/policies/sso", &json!({"team_ids": [team, team]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["team_ids"], json!([team]));
    let e = effective(&admin, &team).await;
    assert_eq!(e["sso_enforced"], true);
    assert_eq!(e["settings"]["sso_enforced"], true);
    assert_eq!(source(&e, "sso_enforced").0, "sso_policy");
    assert_eq!(effective(&admin, &other).await["sso_enforced"], false);
    assert_eq!(
        admin.get("/policies/sso").await.body["team_ids"],
        json!([team])
    );

    assert_eq!(
        policy_audit(&app).await,
        [
            "admin:ops console policy.settings.created",
            "admin:ops console policy.settings.created",
            "admin:ops console policy.settings.updated",
            "admin:ops console policy.settings.deleted",
            "admin:ops console policy.sso.updated",
        ]
    );
    let doc = admin.get("/openapi.json").await;
    for path in [
        "/admin/v1/policies/sso",
        "/admin/v1/policies/settings/{id}",
        "/admin/v1/teams/{id}/effective-settings",
    ] {
        assert!(doc.body["paths"].get(path).is_some(), "{path} documented");
    }
}

async fn bad_policies_are_refused_with_a_reason(app: TestApp) {
    let admin = app.admin().await;
    let team = admin.team_named("Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_error(
        &admin
            .post(
                "/policies/settings",
                &json!({"name": "x", "settings": {"a": 1}, "team_ids": [team, "no-such-team"]}),
            )
            .await,
        404,
        "not_found",
        &["no-such-team"],
    );
    assert_error(
        &admin
            .post(
                "/policies/settings",
                &json!({"name": "x", "settings": {"sso_enforced": false}, "team_ids": [team]}),
            )
            .await,
        400,
        "invalid_request",
        &["SSO policy"],
    );
    assert_error(
        &admin
            .post("/policies/settings", &json!({"name": " ", "settings": {}}))
            .await,
        400,
        "invalid_request",
        &["name"],
    );
    assert_error(
        &admin
            .post("/policies/settings", &json!({"name": "x", "settings": [1]}))
            .await,
        400,
        "invalid_request",
        &["object"],
    );
    assert_error(
        &admin
            .put("/policies/sso", &json!({"team_ids": ["nope"]}))
            .await,
        404,
        "not_found",
        &["nope"],
    );
    assert_error(
        &admin.get("/teams/nope/effective-settings").await,
        404,
        "not_found",
        &["nope"],
    );
    assert_error(
        &admin
            .patch("/policies/settings/nope", &json!({"name": "y"}))
            .await,
        404,
        "not_found",
        &["nope"],
    );
    // Another org's team is not ours to name, nor to look at.
    let (globex, _) = crate::harness::create_org_and_token(&app.database_url, "Globex").await;
    let globex_admin = Admin {
        app: &app,
        token: crate::harness::admin_token_for(&app, globex.as_str(), "globex ops").await,
    };
    let theirs = globex_admin.team_named("Globex").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_error(
        &admin
            .put("/policies/sso", &json!({"team_ids": [theirs]}))
            .await,
        404,
        "not_found",
        &[&theirs],
    );
    assert_error(
        &admin
            .get(&format!("/teams/{theirs}/effective-settings"))
            .await,
        404,
        "not_found",
        &[&theirs],
    );
    // Nothing was written.
    assert!(policy_audit(&app).await.is_empty());
    assert_eq!(admin.get("/policies/settings").await.body, json!([]));
    assert_eq!(admin.get("/policies/sso").await.body["team_ids"], json!([]));
}

async fn the_joining_email_of_an_sso_enforced_team_says_to_use_the_company_sso(app: TestApp) {
    let admin = app.admin().await;
    let platform = add_team(&app, "Platform").await;
    let r = admin
        .put("/policies/sso", &json!({"team_ids": [platform]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mut user = user_body("ada@example.com");
    user["schemas"]
        .as_array_mut()
        .unwrap()
        .push(ROLLCALL.into());
    user[ROLLCALL] = json!({"teams": [{"value": platform, "role": "user"}]});
    let r = app.post("/Users", &user).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let queued = queued_emails(&app).await;
    let text = |subject: &str| -> String {
        queued
            .iter()
            .find(|(_, e)| e["subject"] == subject)
            .unwrap_or_else(|| panic!("no {subject:?} in {queued:?}"))
            .1["text_body"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let sso = text("You have been added to Platform at Acme");
    assert!(sso.contains("requires single sign-on"), "{sso}");
    assert!(sso.contains("company's identity provider"), "{sso}");
    // The invitation page says so too.
    let start = sso.find("/invitations/").unwrap();
    let link = sso[start..].split_whitespace().next().unwrap();
    let r = app
        .request_with(
            reqwest::Method::GET,
            &format!("{}{link}", app.address),
            None,
            None,
            &[("Accept", "application/json")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["team_name"], "Platform");
    assert_eq!(r.body["sso_enforced"], true);
    let plain = text("You have been added to Acme at Acme");
    assert!(!plain.contains("single sign-on"), "{plain}");
    assert!(plain.contains("sign in with this email address"), "{plain}");

    // Off the policy, the next joining email of that team says to sign in by email.
    let r = admin.put("/policies/sso", &json!({"team_ids": []})).await;
    assert_eq!(r.status, StatusCode::OK);
    let mut bob = user_body("bob@example.com");
    bob["schemas"].as_array_mut().unwrap().push(ROLLCALL.into());
    bob[ROLLCALL] = json!({"teams": [{"value": platform, "role": "user"}]});
    assert_eq!(app.post("/Users", &bob).await.status, StatusCode::CREATED);
    let queued = queued_emails(&app).await;
    let bobs = queued
        .iter()
        .find(|(_, e)| {
            e["to"] == "bob@example.com"
                && e["subject"] == "You have been added to Platform at Acme"
        })
        .unwrap();
    assert!(
        !bobs.1["text_body"]
            .as_str()
            .unwrap()
            .contains("single sign-on")
    );
}

crate::both_backends!(
    effective_settings_show_each_value_and_where_it_comes_from,
    bad_policies_are_refused_with_a_reason,
    the_joining_email_of_an_sso_enforced_team_says_to_use_the_company_sso,
);
