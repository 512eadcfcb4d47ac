//! The effects of SCIM changes (issue 3, points 3, 6, 7 and 8): the audit log, signed
//! webhooks, joining emails (file transport and SMTP) and the rollcall `teams` attribute.

mod audit;
mod emails;
mod teams;
mod webhooks;

use crate::harness::TestApp;
use crate::outbox::fixture::{body, header, unfold};
use rollcall::domain::{SubscriptionId, TeamId};
use rollcall::outbox::{self, Kind};
use rollcall::store::{Q, Store, teams as team_store};
use serde_json::{Value, json};
use std::time::Duration;

pub const ROLLCALL: &str = "urn:ietf:params:scim:schemas:extension:rollcall:2.0:User";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A store on the app's database with its master key (so it reads and writes secrets).
pub async fn store(app: &TestApp) -> Store {
    app.store().await
}

/// Runs one statement on the app's database.
pub async fn exec(app: &TestApp, q: Q) {
    let s = store(app).await;
    let mut tx = s.write().await.unwrap();
    tx.execute(q).await.unwrap();
    tx.commit().await.unwrap();
    s.close().await;
}

pub async fn set_pool(app: &TestApp, seats: i64) {
    exec(
        app,
        Q::new("UPDATE subscriptions SET seats = ? WHERE org_id = ?")
            .bind(seats)
            .bind(app.org_id.as_str()),
    )
    .await;
}

/// The org's default team (the initial team, named after the org).
pub async fn default_team(app: &TestApp) -> String {
    app.default_team().await
}

/// Renames a team and sets its settings JSON.
pub async fn set_team(app: &TestApp, team_id: &str, name: &str, settings: &Value) {
    let json_in = store(app).await.dialect().json_in();
    let sql =
        format!("UPDATE teams SET name = ?, name_norm = ?, settings = {json_in} WHERE id = ?");
    let q = Q::new(&sql)
        .bind(name)
        .bind(name.to_lowercase())
        .bind(settings.to_string())
        .bind(team_id);
    exec(app, q).await;
}

/// Adds a team to the org's subscription (no reservation); its id.
pub async fn add_team(app: &TestApp, name: &str) -> String {
    let sub = app.subscription_id().await;
    let s = store(app).await;
    let mut tx = s.write().await.unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    team_store::insert_team(
        &mut tx,
        &team_store::Team {
            id: TeamId::from(id.clone()),
            org_id: app.org_id.clone(),
            name: name.into(),
            description: String::new(),
            login_type: rollcall::domain::kinds::LoginType::Email,
            subscription_id: SubscriptionId::from(sub),
            reserved_seats: None,
            created: "2026-01-02T00:00:00.000Z".parse().unwrap(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    s.close().await;
    id
}

/// (team, user, role, source, state) of the org's memberships, by team and user.
pub async fn memberships(app: &TestApp) -> Vec<(String, String, String, String, String)> {
    app.org_members()
        .await
        .into_iter()
        .map(|m| {
            (
                m.team_id.into_string(),
                m.user_id.into_string(),
                m.role.to_string(),
                m.source.to_string(),
                m.state.to_string(),
            )
        })
        .collect()
}

/// The org's queued emails: (dedupe key, payload JSON). A delivered email's row has lost
/// its subject and body (scrubbed): they are read back from the `.eml` file it was
/// delivered as (the file transport writes it before the row records the delivery).
pub async fn queued_emails(app: &TestApp) -> Vec<(String, Value)> {
    let s = store(app).await;
    let mut tx = s.read().await.unwrap();
    let rows = outbox::list_messages(&mut tx, &app.org_id, 10_000)
        .await
        .unwrap();
    drop(tx);
    s.close().await;
    rows.into_iter()
        .filter(|m| m.kind == Kind::Email)
        .map(|m| {
            let mut payload: Value = serde_json::from_str(&m.payload).unwrap();
            if payload["scrubbed"] == true {
                let eml = app
                    .data_dir
                    .path()
                    .join("outbox")
                    .join(format!("{}.eml", m.id));
                let eml = std::fs::read_to_string(&eml).unwrap();
                payload["subject"] = header(&eml, "Subject").unwrap().into();
                payload["text_body"] = unfold(body(&eml)).into();
            }
            (m.dedupe_key, payload)
        })
        .collect()
}

/// The `.eml` files the file transport wrote, once there are `n` (or after 10 s).
pub async fn eml_files(app: &TestApp, n: usize) -> Vec<String> {
    let dir = app.data_dir.path().join("outbox");
    let read = || -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut out: Vec<String> = entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("eml"))
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        out.sort();
        out
    };
    for _ in 0..200 {
        if read().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    read()
}

pub fn user_body(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "active": true
    })
}

pub fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}
