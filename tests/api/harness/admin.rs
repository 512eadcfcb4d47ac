//! The admin API (`/admin/v1`) as an org admin's automation uses it: admin tokens, an
//! admin client with typed helpers, and the checks of the admin error body.

use super::{Resp, TestApp, insert_token};
use reqwest::Method;
use rollcall::domain::OrgId;
use rollcall::store::tokens::TokenKind;
use serde_json::Value;

/// An admin token for the test org, labelled `label`.
pub async fn admin_token(app: &TestApp, label: &str) -> String {
    admin_token_for(app, app.org_id.as_str(), label).await
}

/// An admin token for any org of the test database.
pub async fn admin_token_for(app: &TestApp, org_id: &str, label: &str) -> String {
    let org_id = OrgId::from(org_id);
    insert_token(&app.database_url, TokenKind::Admin, &org_id, label)
        .await
        .0
}

/// An admin client: the test app and an admin token.
pub struct Admin<'a> {
    pub app: &'a TestApp,
    pub token: String,
}

impl<'a> Admin<'a> {
    pub async fn new(app: &'a TestApp) -> Admin<'a> {
        Admin {
            app,
            token: admin_token(app, "ops console").await,
        }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Resp {
        let url = format!("{}/admin/v1{path}", self.app.address);
        self.app
            .request_with(method, &url, body, Some(&self.token), &[])
            .await
    }
    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.call(Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.call(Method::PATCH, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.call(Method::PUT, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates a team from `body` (at least `{"name": ...}`); its id.
    pub async fn create_team(&self, body: &Value) -> String {
        let r = self.post("/teams", body).await;
        assert_eq!(r.status.as_u16(), 201, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// The org's teams by name.
    pub async fn team_named(&self, name: &str) -> Value {
        let r = self.get("/teams").await;
        r.body
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no team {name}: {:?}", r.body))
    }

    /// The id of the org's (only) subscription.
    pub async fn subscription_id(&self) -> String {
        self.get("/subscriptions").await.body[0]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Sets the pool size of the org's subscription.
    pub async fn set_pool(&self, seats: i64) -> Resp {
        let id = self.subscription_id().await;
        self.patch(
            &format!("/subscriptions/{id}"),
            &serde_json::json!({"seats": seats}),
        )
        .await
    }
}

/// Asserts an admin error: status, code, and a message mentioning each of `needles`.
pub fn assert_error(r: &Resp, status: u16, code: &str, needles: &[&str]) {
    assert_eq!(r.status.as_u16(), status, "{:?}", r.body);
    assert_eq!(r.body["error"], code, "{:?}", r.body);
    let message = r.body["message"].as_str().unwrap_or_default();
    for n in needles {
        assert!(message.contains(n), "{message:?} should mention {n:?}");
    }
    assert!(r.body.get("schemas").is_none(), "not a SCIM error body");
}

/// user id -> membership state in one team.
pub async fn member_states(
    app: &TestApp,
    team_id: &str,
) -> std::collections::BTreeMap<String, String> {
    app.team_members(team_id)
        .await
        .into_iter()
        .map(|m| (m.user_id.into_string(), m.state.to_string()))
        .collect()
}

impl TestApp {
    /// An admin client of the test org, with an admin token of its own.
    pub async fn admin(&self) -> Admin<'_> {
        Admin::new(self).await
    }
}
