//! Joining emails: one per membership that gets a seat, written in the same transaction,
//! never twice for a replayed request; templates by role and SSO; invitation links whose
//! token verifies; admin resend and instructions; SMTP delivery to aiosmtpd.

use super::{
    ROLLCALL, add_team, default_team, eml_files, patch, queued_emails, set_pool, set_team, store,
    user_body,
};
use crate::harness::{Backend, TestApp};
use crate::outbox::fixture::{body, header};
use crate::outbox::sink::SmtpSink;
use reqwest::StatusCode;
use rollcall::clock::SystemClock;
use rollcall::config::Overrides;
use rollcall::domain::{TeamId, UserId};
use rollcall::outbox::State;
use rollcall::provisioning::invitations::{self, AdminMail, Invitations};
use rollcall::provisioning::{CursorKey, Directory};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

async fn invitations(app: &TestApp) -> Invitations {
    let s = store(app).await;
    let inv = Invitations::load(&s, &app.address, 7, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    s.close().await;
    inv
}

/// membership id of (team, user), and when its invitation expires.
async fn membership_id(app: &TestApp, team: &str, user: &str) -> (String, Option<String>) {
    let m = app
        .team_members(team)
        .await
        .into_iter()
        .find(|m| m.user_id == user)
        .unwrap_or_else(|| panic!("{user} is not a member of {team}"));
    (
        m.id.into_string(),
        m.invitation_expires.map(|t| t.to_string()),
    )
}

/// The invitation token in an email body.
fn token_in(text: &str, address: &str) -> String {
    // Undo quoted-printable soft line breaks (long lines in .eml files and SMTP).
    let text = text
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let prefix = format!("{address}/invitations/");
    let start = text
        .find(&prefix)
        .unwrap_or_else(|| panic!("no link in {text}"))
        + prefix.len();
    text[start..]
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap()
        .to_owned()
}

async fn each_seat_gets_one_joining_email_even_when_requests_are_replayed(app: TestApp) {
    let team = default_team(&app).await;
    set_team(&app, &team, "Engineering", &json!({})).await;
    set_pool(&app, 2).await;
    let ada = app.create_user("ada@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let carol = app.create_user("carol@example.com").await;
    let queued = queued_emails(&app).await;
    assert_eq!(queued.len(), 2, "Carol waits for a seat: no email yet");
    let (ada_m, expires) = membership_id(&app, &team, &ada).await;
    assert_eq!(queued[0].0, format!("invite:{ada_m}"));
    assert!(expires.is_some(), "the invitation expiry is recorded");

    let files = eml_files(&app, 2).await;
    assert_eq!(files.len(), 2);
    let ada_mail = files
        .iter()
        .find(|f| header(f, "To").unwrap() == "ada@example.com")
        .unwrap();
    assert_eq!(
        header(ada_mail, "Subject").unwrap(),
        "You have been added to Engineering at Acme"
    );
    let text = body(ada_mail);
    assert!(text.contains("Hello Given,"), "{text}");
    assert!(text.contains("the team Engineering at Acme"), "{text}");
    assert!(!text.contains("single sign-on"), "{text}");
    let token = token_in(text, &app.address);
    let inv = invitations(&app).await;
    let now = time::OffsetDateTime::now_utc();
    assert_eq!(inv.verify(&token, now).unwrap(), ada_m);
    assert!(
        inv.verify(&token, now + time::Duration::days(8)).is_err(),
        "expires in 7 days"
    );

    // Replays: the same POST (409) and the same PATCH twice queue nothing more.
    let r = app.post("/Users", &user_body("ada@example.com")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let rename = patch(json!([{"op": "replace", "path": "displayName", "value": "Bob"}]));
    for _ in 0..2 {
        assert_eq!(
            app.patch(&format!("/Users/{bob}"), &rename).await.status,
            StatusCode::OK
        );
    }
    let put = app
        .put(&format!("/Users/{bob}"), &user_body("bob@example.com"))
        .await;
    assert_eq!(put.status, StatusCode::OK);
    assert_eq!(queued_emails(&app).await.len(), 2);

    // Ada leaves: Carol gets her seat and her joining email.
    assert_eq!(
        app.delete(&format!("/Users/{ada}")).await.status,
        StatusCode::NO_CONTENT
    );
    let queued = queued_emails(&app).await;
    assert_eq!(queued.len(), 3);
    let (carol_m, _) = membership_id(&app, &team, &carol).await;
    assert_eq!(queued[2].0, format!("invite:{carol_m}"));
    assert_eq!(queued[2].1["to"], "carol@example.com");
    let files = eml_files(&app, 3).await;
    assert_eq!(files.len(), 3);
    // Every email row delivered: the worker writes no second copy of any.
    app.outbox_settled().await;
    assert_eq!(eml_files(&app, 3).await.len(), 3, "no second copy");
}

async fn templates_follow_the_team_role_and_sso(app: TestApp) {
    let platform = add_team(&app, "Platform").await;
    set_team(&app, &platform, "Platform", &json!({"sso_enforced": true})).await;
    let mut body_json = user_body("ada@example.com");
    body_json["schemas"]
        .as_array_mut()
        .unwrap()
        .push(ROLLCALL.into());
    body_json[ROLLCALL] = json!({"teams": [{"value": platform, "role": "admin"}]});
    let r = app.post("/Users", &body_json).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let queued = queued_emails(&app).await;
    assert_eq!(queued.len(), 2, "one per team");
    let admin = queued
        .iter()
        .find(|(_, e)| e["subject"] == "You are now an admin of Platform at Acme")
        .unwrap_or_else(|| panic!("{queued:?}"));
    let text = admin.1["text_body"].as_str().unwrap();
    assert!(text.contains("single sign-on"), "{text}");
    assert!(text.contains("team admin"), "{text}");
    let user = queued
        .iter()
        .find(|(_, e)| e["subject"] == "You have been added to Acme at Acme")
        .unwrap_or_else(|| panic!("{queued:?}"));
    let text = user.1["text_body"].as_str().unwrap();
    assert!(
        !text.contains("single sign-on") && !text.contains("team admin"),
        "{text}"
    );
}

async fn admins_can_resend_invitations_and_send_instructions(app: TestApp) {
    let team = default_team(&app).await;
    set_pool(&app, 1).await;
    let ada = app.create_user("ada@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let s = store(&app).await;
    let dir = Directory::new(
        s.clone(),
        Arc::new(scim::schema::Registry::load().unwrap()),
        Arc::new(SystemClock),
        invitations(&app).await,
        CursorKey::load(&s, time::OffsetDateTime::now_utc())
            .await
            .unwrap(),
    );
    let ids: Vec<UserId> = [ada.as_str(), bob.as_str(), "nobody", ada.as_str()]
        .into_iter()
        .map(UserId::from)
        .collect();
    let team = TeamId::from(team.as_str());
    let sent = invitations::send_to_members(
        &dir,
        "admin:test",
        &app.org_id,
        &team,
        &ids,
        AdminMail::Invitation,
    )
    .await
    .unwrap();
    assert_eq!(sent.sent, vec![ada.clone()]);
    assert_eq!(sent.skipped.len(), 2, "{sent:?}");
    let sent = invitations::send_to_members(
        &dir,
        "admin:test",
        &app.org_id,
        &team,
        std::slice::from_ref(&ids[0]),
        AdminMail::Instructions,
    )
    .await
    .unwrap();
    assert_eq!(sent.sent, vec![ada.clone()]);
    // And again: every admin action is a new email.
    invitations::send_to_members(
        &dir,
        "admin:test",
        &app.org_id,
        &team,
        std::slice::from_ref(&ids[0]),
        AdminMail::Invitation,
    )
    .await
    .unwrap();
    let queued = queued_emails(&app).await;
    let subjects: Vec<&str> = queued
        .iter()
        .map(|(_, e)| e["subject"].as_str().unwrap())
        .collect();
    assert_eq!(
        subjects,
        [
            "You have been added to Acme at Acme",
            "Reminder: your invitation to Acme at Acme",
            "How to sign in to Acme at Acme",
            "Reminder: your invitation to Acme at Acme",
        ]
    );
    let (ada_m, _) = membership_id(&app, team.as_str(), &ada).await;
    let inv = invitations(&app).await;
    let token = token_in(queued[1].1["text_body"].as_str().unwrap(), &app.address);
    assert_eq!(
        inv.verify(&token, time::OffsetDateTime::now_utc()).unwrap(),
        ada_m
    );
    let mut tx = s.read().await.unwrap();
    let log = rollcall::store::audit::list(&mut tx, &app.org_id, 0, 100)
        .await
        .unwrap();
    drop(tx);
    let actions: Vec<&str> = log
        .iter()
        .filter(|e| e.actor == "admin:test")
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "membership.invitation_resent",
            "membership.instructions_sent",
            "membership.invitation_resent"
        ]
    );
    s.close().await;
}

async fn the_admin_api_resends_invitations_and_sends_instructions(app: TestApp) {
    let team = default_team(&app).await;
    set_pool(&app, 1).await;
    let ada = app.create_user("ada@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let admin = app.admin().await;
    let path = |what: &str| format!("/teams/{team}/members/{what}");
    let r = admin
        .post(
            &path("resend-invite"),
            &json!({"user_ids": [ada, bob, "nobody"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["sent"], json!([ada]));
    let skipped: Vec<&str> = r.body["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(skipped, [bob.as_str(), "nobody"]);
    assert!(
        r.body["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("seat")
    );
    let r = admin
        .post(&path("send-instructions"), &json!({"user_ids": [ada]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["sent"], json!([ada]));
    let subjects: Vec<String> = queued_emails(&app)
        .await
        .into_iter()
        .map(|(_, e)| e["subject"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        subjects,
        [
            "You have been added to Acme at Acme",
            "Reminder: your invitation to Acme at Acme",
            "How to sign in to Acme at Acme",
        ]
    );
    crate::harness::assert_error(
        &admin
            .post(&path("resend-invite"), &json!({"user_ids": []}))
            .await,
        400,
        "invalid_request",
        &["user_ids"],
    );
    crate::harness::assert_error(
        &admin
            .post(
                "/teams/no-such-team/members/send-instructions",
                &json!({"user_ids": [ada]}),
            )
            .await,
        404,
        "not_found",
        &["no-such-team"],
    );
    // A SCIM token does not open the admin API.
    let url = format!("{}/admin/v1{}", app.address, path("resend-invite"));
    let r = app
        .request_with(
            reqwest::Method::POST,
            &url,
            Some(&json!({"user_ids": [ada]})),
            Some(&app.token),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let doc = admin.get("/openapi.json").await;
    assert!(
        doc.body["paths"]
            .get("/admin/v1/teams/{id}/members/resend-invite")
            .is_some()
    );
}

/// A user with no usable address (no email value, a userName that is not an address)
/// still gets the seat (`invited`), but no email row: the audit log and the admin's
/// member view say why.
async fn a_member_without_an_address_is_shown_as_not_emailed(app: TestApp) {
    let team = default_team(&app).await;
    set_pool(&app, 10).await;
    let admin = app.admin().await;
    let ada = app.create_user("ada@example.com").await;
    let r = app
        .post(
            "/Users",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "kiosk-7",
                "active": true
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let kiosk = r.body["id"].as_str().unwrap().to_owned();

    let queued = queued_emails(&app).await;
    assert_eq!(queued.len(), 1, "only Ada is emailed: {queued:?}");
    assert_eq!(queued[0].1["to"], "ada@example.com");

    let members = admin.get(&format!("/teams/{team}/members")).await;
    assert_eq!(members.status, StatusCode::OK, "{:?}", members.body);
    let member = |id: &str| {
        members
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["user_id"] == id)
            .cloned()
            .unwrap()
    };
    let k = member(&kiosk);
    assert_eq!(k["state"], "invited", "the seat is held");
    assert_eq!(k["invitation_not_sent"], "no address", "{k}");
    assert!(
        member(&ada).get("invitation_not_sent").is_none(),
        "{}",
        member(&ada)
    );

    let audit = admin.get("/audit?limit=500").await;
    let entries = audit.body["entries"].as_array().unwrap();
    let not_sent: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| e["action"] == "membership.invitation_not_sent")
        .collect();
    assert_eq!(not_sent.len(), 1, "{entries:?}");
    assert_eq!(not_sent[0]["target"], format!("membership:{team}/{kiosk}"));
    assert_eq!(not_sent[0]["after"]["reason"], "no address");
    assert!(not_sent[0]["actor"].as_str().unwrap().starts_with("scim:"));
}

crate::both_backends!(setup = crate::harness::spawn_fast_outbox;
    a_member_without_an_address_is_shown_as_not_emailed,
    the_admin_api_resends_invitations_and_sends_instructions,
    each_seat_gets_one_joining_email_even_when_requests_are_replayed,
    templates_follow_the_team_role_and_sso,
    admins_can_resend_invitations_and_send_instructions,
);

/// The joining email over SMTP, to a real server (aiosmtpd, from the venv of .ci/run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_emails_go_out_over_smtp() {
    let sink = SmtpSink::plain().await;
    let app = TestApp::builder(Backend::Sqlite)
        .overrides(Overrides {
            mail_from: Some("Acme via rollcall <noreply@rollcall.test>".into()),
            ..Overrides::default()
        })
        .fast_outbox()
        .smtp(sink.url())
        .spawn()
        .await;
    app.create_user("ada@example.com").await;
    let got = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpt_tos, ["ada@example.com"]);
    assert_eq!(
        header(&got[0].data, "Subject").unwrap(),
        "You have been added to Acme at Acme"
    );
    let token = token_in(&got[0].data, &app.address);
    assert!(
        invitations(&app)
            .await
            .verify(&token, time::OffsetDateTime::now_utc())
            .is_ok()
    );
    // The row delivered: the worker sends it no more.
    let sent = app.outbox_settled().await;
    assert!(sent.iter().all(|m| m.state == State::Delivered), "{sent:?}");
    assert_eq!(sink.received().len(), 1, "sent once");
}
