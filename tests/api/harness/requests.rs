//! Requests to a test server: JSON and raw ones, SCIM filters and list responses, the
//! SCIM error check, and creating users and groups through the API.

use super::app::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A response: status, headers, JSON body (Null when empty).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    /// A response whose body is JSON or empty.
    pub async fn read(res: reqwest::Response) -> Resp {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A response whose body is kept as bytes (it may be empty or not JSON).
#[derive(Debug)]
pub struct RawResp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl RawResp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON; panics with the text when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text))
    }
}

/// Sends exactly these bytes and headers (no Content-Type unless given).
pub async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> RawResp {
    let url = if path.starts_with("http") {
        path.to_owned()
    } else {
        format!("{}{}", app.base, path)
    };
    let mut req = app.client.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let res = req.send().await.unwrap();
    RawResp {
        status: res.status(),
        headers: res.headers().clone(),
        text: res.text().await.unwrap(),
    }
}

/// `path?name=value&...` with the values URL-encoded.
pub fn with_query(path: &str, params: &[(&str, &str)]) -> String {
    format!("{path}?{}", serde_urlencoded::to_string(params).unwrap())
}

/// `GET {endpoint}?filter=...`, asserting 200.
pub async fn filter(app: &TestApp, endpoint: &str, filter: &str) -> Resp {
    let r = app
        .get(&with_query(
            endpoint,
            &[("filter", filter), ("count", "1000")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "filter {filter}: {:?}", r.body);
    r
}

/// The `Resources` of a ListResponse.
pub fn resources(list: &Value) -> Vec<Value> {
    list["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("no Resources in {list}"))
        .clone()
}

/// One string attribute of every resource of a ListResponse, as a set.
pub fn set_of(list: &Value, attr: &str) -> BTreeSet<String> {
    resources(list)
        .iter()
        .map(|r| {
            r[attr]
                .as_str()
                .unwrap_or_else(|| panic!("no {attr} in {r}"))
                .to_owned()
        })
        .collect()
}

/// One string attribute of every resource of a ListResponse, in order.
pub fn list_of(list: &Value, attr: &str) -> Vec<String> {
    resources(list)
        .iter()
        .map(|r| r[attr].as_str().unwrap_or_default().to_owned())
        .collect()
}

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Asserts a SCIM error response: status, `scimType` (if any) and the error schema.
pub fn assert_scim_error(r: &Resp, status: StatusCode, scim_type: Option<&str>) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.body["schemas"][0], ERROR_SCHEMA, "{:?}", r.body);
    assert_eq!(
        r.body["status"],
        status.as_u16().to_string(),
        "{:?}",
        r.body
    );
    if let Some(t) = scim_type {
        assert_eq!(r.body["scimType"], t, "{:?}", r.body);
    }
    assert!(
        r.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "an error needs a detail: {:?}",
        r.body
    );
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
}

/// Creates a user from a full body, returning its id.
pub async fn post_user(app: &TestApp, body: Value) -> String {
    let r = app.post("/Users", &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

/// Creates users `{prefix}{i}@seed.test` for `i` in `range` through `/Bulk` (1,000
/// operations per request) and returns their ids in order.
pub async fn bulk_users(app: &TestApp, prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    let all: Vec<usize> = range.collect();
    let mut ids = Vec::with_capacity(all.len());
    for chunk in all.chunks(1000) {
        let ops: Vec<Value> = chunk
            .iter()
            .map(|i| {
                json!({
                    "method": "POST",
                    "path": "/Users",
                    "bulkId": format!("u{i}"),
                    "data": {
                        "schemas": [USER_SCHEMA],
                        "userName": format!("{prefix}{i}@seed.test"),
                        "externalId": format!("{prefix}-ext-{i}"),
                        "name": {"givenName": "Seed", "familyName": format!("{prefix}{i:05}")},
                        "emails": [{"value": format!("{prefix}{i}@mail.seed.test"), "type": "work"}],
                        "active": true
                    }
                })
            })
            .collect();
        ids.extend(bulk_created(app, ops).await);
    }
    ids
}

/// Sends `ops` (POSTs) in one `/Bulk` request, checks that each created its resource and
/// returns their ids in order.
pub async fn bulk_created(app: &TestApp, ops: Vec<Value>) -> Vec<String> {
    let r = app
        .post(
            "/Bulk",
            &json!({"schemas": [BULK_REQUEST], "Operations": ops}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| {
            assert_eq!(op["status"], "201", "{op}");
            let location = op["location"].as_str().unwrap();
            location.rsplit('/').next().unwrap().to_owned()
        })
        .collect()
}

/// Follows `nextCursor` from `first` until there is none, repeating the other query
/// parameters as RFC 9865 asks; returns ids in order.
pub async fn walk_cursor(app: &TestApp, first: &str) -> Vec<String> {
    let (path, query) = first.split_once('?').unwrap();
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    let mut ids = Vec::new();
    let mut url = first.to_owned();
    for _ in 0..100 {
        let r = app.get(&url).await;
        assert_eq!(r.status, StatusCode::OK, "{url}: {:?}", r.body);
        assert!(r.body["totalResults"].as_u64().is_some(), "{:?}", r.body);
        ids.extend(list_of(&r.body, "id"));
        match r.body["nextCursor"].as_str() {
            Some(next) => {
                assert!(!next.is_empty());
                let next_params: Vec<(&str, &str)> = params
                    .iter()
                    .map(|(k, v)| (k.as_str(), if k == "cursor" { next } else { v.as_str() }))
                    .collect();
                url = with_query(path, &next_params);
            }
            None => return ids,
        }
    }
    panic!("the cursor never ended");
}

impl TestApp {
    pub async fn request_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{}", self.base, path)
        };
        let mut req = self.client.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/scim+json")
                .body(b.to_string());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Resp::read(req.send().await.unwrap()).await
    }

    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Resp {
        self.request_with(method, path, body, Some(&self.token), &[])
            .await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.request(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.request(Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.request(Method::PUT, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.request(Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.request(Method::DELETE, path, None).await
    }

    /// Creates a user and returns its id.
    pub async fn create_user(&self, user_name: &str) -> String {
        let r = self
            .post(
                "/Users",
                &serde_json::json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": user_name,
                    "name": {"givenName": "Given", "familyName": "Family"},
                    "emails": [{"value": user_name, "type": "work", "primary": true}],
                    "active": true
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// Creates a group with members and returns its id.
    pub async fn create_group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members
            .iter()
            .map(|m| serde_json::json!({"value": m}))
            .collect();
        let r = self
            .post(
                "/Groups",
                &serde_json::json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": name,
                    "members": members
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }
}
