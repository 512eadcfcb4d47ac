//! Issue 16, point 4: case-insensitive keys are Unicode full case folding of the NFC form
//! (`scim::text::fold_key`), not simple lower-casing. `ΣΑΣ` and `σασ`, `groß` and
//! `GROSS`, a composed and a decomposed `é` are one name for uniqueness and for filters;
//! keys stored by earlier versions are recomputed once at start, and names that now
//! collide are reported, never merged.

use crate::harness::assert_error;
use crate::harness::{Backend, TestApp, spawn_app};
use crate::harness::{GROUP_SCHEMA, PATCH_OP, USER_SCHEMA, assert_scim_error, filter, set, set_of};
use reqwest::StatusCode;
use rollcall::store::{Q, Store};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};

async fn post_user(app: &TestApp, user_name: &str) -> crate::harness::Resp {
    app.post(
        "/Users",
        &json!({"schemas": [USER_SCHEMA], "userName": user_name}),
    )
    .await
}

async fn post_group(app: &TestApp, name: &str) -> crate::harness::Resp {
    app.post(
        "/Groups",
        &json!({"schemas": [GROUP_SCHEMA], "displayName": name}),
    )
    .await
}

/// Pairs a simple lower-casing told apart: the second of each is taken.
const SAME_NAMES: [(&str, &str); 4] = [
    ("ΣΑΣ@c.com", "σασ@c.com"),
    ("groß@c.com", "GROSS@c.com"),
    ("\u{e9}mile@c.com", "e\u{301}mile@c.com"),
    ("ﬁle@c.com", "FILE@c.com"),
];

async fn user_names_equal_under_full_case_folding_are_409_uniqueness(app: TestApp) {
    for (first, second) in SAME_NAMES {
        let r = post_user(&app, first).await;
        assert_eq!(r.status, StatusCode::CREATED, "{first}: {:?}", r.body);
        assert_scim_error(
            &post_user(&app, second).await,
            StatusCode::CONFLICT,
            Some("uniqueness"),
        );
    }
    // A rename onto a taken name is refused too.
    let id = post_user(&app, "other@c.com").await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .put(
            &format!("/Users/{id}"),
            &json!({"schemas": [USER_SCHEMA], "userName": "GROẞ@C.COM"}),
        )
        .await;
    assert_scim_error(&r, StatusCode::CONFLICT, Some("uniqueness"));
    let all = filter(&app, "/Users", "userName pr").await.body;
    assert_eq!(
        set_of(&all, "userName"),
        set(&[
            "ΣΑΣ@c.com",
            "groß@c.com",
            "\u{e9}mile@c.com",
            "ﬁle@c.com",
            "other@c.com"
        ])
    );
}

async fn group_display_names_equal_under_full_case_folding_are_409_uniqueness(app: TestApp) {
    for (first, second) in [("Straße", "STRASSE"), ("Caf\u{e9}", "CAFE\u{301}")] {
        let r = post_group(&app, first).await;
        assert_eq!(r.status, StatusCode::CREATED, "{first}: {:?}", r.body);
        assert_scim_error(
            &post_group(&app, second).await,
            StatusCode::CONFLICT,
            Some("uniqueness"),
        );
    }
}

async fn filters_match_user_names_and_emails_under_full_case_folding(app: TestApp) {
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "groß@c.com", "displayName": "Straße",
                    "emails": [{"value": "Groß@c.com", "type": "work"}, {"value": "x@c.com"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    post_user(&app, "gros@c.com").await;
    let sigma = post_user(&app, "ΣΑΣ@c.com").await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let only = |list: &Value| set_of(list, "id");
    for f in [
        r#"userName eq "GROSS@C.COM""#,
        r#"userName eq "groß@c.com""#,
        r#"userName sw "GROSS""#,
        r#"userName co "SS@""#,
        r#"userName ew "OSS@C.COM""#,
        r#"emails.value eq "GROSS@C.COM""#,
        r#"emails eq "gross@c.com""#,
        r#"emails[value eq "GROSS@C.COM" and type eq "WORK"]"#,
        r#"displayName eq "STRASSE""#,
        r#"displayName sw "strass""#,
    ] {
        assert_eq!(
            only(&filter(&app, "/Users", f).await.body),
            set(&[&id]),
            "{f}"
        );
    }
    for f in [r#"userName eq "σας@C.COM""#, r#"userName eq "Σας@c.com""#] {
        assert_eq!(
            only(&filter(&app, "/Users", f).await.body),
            set(&[&sigma]),
            "{f}"
        );
    }
}

async fn group_filters_match_display_names_under_full_case_folding(app: TestApp) {
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "m@c.com", "displayName": "Maß"}),
        )
        .await;
    let member = r.body["id"].as_str().unwrap().to_owned();
    let group = app.create_group("Straße", &[&member]).await;
    app.create_group("Strasbourg", &[]).await;
    for f in [
        r#"displayName eq "STRASSE""#,
        r#"displayName eq "strasse""#,
        r#"displayName ew "SSE""#,
        r#"members[display eq "MASS"]"#,
    ] {
        assert_eq!(
            set_of(&filter(&app, "/Groups", f).await.body, "id"),
            set(&[&group]),
            "{f}"
        );
    }
}

async fn a_patch_value_filter_matches_under_full_case_folding(app: TestApp) {
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "p@c.com",
                    "emails": [{"value": "groß@c.com"}, {"value": "keep@c.com"}]}),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .patch(
            &format!("/Users/{id}"),
            &json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "remove", "path": "emails[value eq \"GROSS@C.COM\"]"}
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["emails"], json!([{"value": "keep@c.com"}]));
}

async fn team_names_equal_under_full_case_folding_are_409(app: TestApp) {
    let admin = app.admin().await;
    let r = admin.post("/teams", &json!({"name": "Straße"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_error(
        &admin.post("/teams", &json!({"name": "STRASSE"})).await,
        409,
        "conflict",
        &["already exists"],
    );
}

crate::both_backends!(
    user_names_equal_under_full_case_folding_are_409_uniqueness,
    group_display_names_equal_under_full_case_folding_are_409_uniqueness,
    filters_match_user_names_and_emails_under_full_case_folding,
    group_filters_match_display_names_under_full_case_folding,
    a_patch_value_filter_matches_under_full_case_folding,
    team_names_equal_under_full_case_folding_are_409,
);

/// Every string in `v` as `str::to_lowercase` left it: the folded document of earlier
/// versions.
fn lowercased(v: &Value) -> Value {
    match v {
        Value::String(s) => json!(s.to_lowercase()),
        Value::Array(a) => Value::Array(a.iter().map(lowercased).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), lowercased(v))).collect())
        }
        other => other.clone(),
    }
}

/// Rewrites a resource's row as an earlier version stored it: `name` in the document
/// (users: as their one email too) and in the name column, every key lower-cased by
/// `str::to_lowercase`.
async fn store_old_style(store: &Store, table: &str, id: &str, name: &str) {
    let (attr, name_col, key_col) = match table {
        "scim_users" => ("userName", "user_name", "user_name_norm"),
        _ => ("displayName", "display_name", "display_name_norm"),
    };
    let mut tx = store.write().await.unwrap();
    let dialect = tx.dialect();
    let row = tx
        .fetch_one(
            Q::new(&format!(
                "SELECT {} AS doc FROM {table} WHERE id = ?",
                dialect.json_out("doc")
            ))
            .bind(id),
        )
        .await
        .unwrap();
    let mut doc: Value = serde_json::from_str(row.str("doc").unwrap()).unwrap();
    doc[attr] = json!(name);
    if table == "scim_users" {
        doc["emails"] = json!([{"value": name}]);
    }
    let json_in = dialect.json_in();
    let q = Q::new(&format!(
        "UPDATE {table} SET {name_col} = ?, {key_col} = ?, doc = {json_in}, doc_ci = {json_in} \
         WHERE id = ?"
    ))
    .bind(name)
    .bind(name.to_lowercase())
    .bind(doc.to_string())
    .bind(lowercased(&doc).to_string())
    .bind(id);
    tx.execute(q).await.unwrap();
    if table == "scim_users" {
        let seq = "(SELECT seq FROM scim_users WHERE id = ?)";
        tx.execute(
            Q::new(&format!(
                "DELETE FROM scim_user_emails WHERE user_seq = {seq}"
            ))
            .bind(id),
        )
        .await
        .unwrap();
        tx.execute(
            Q::new(
                "INSERT INTO scim_user_emails (user_seq, org_id, value_norm) \
                 SELECT seq, org_id, ? FROM scim_users WHERE id = ?",
            )
            .bind(name.to_lowercase())
            .bind(id),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

/// Keys stored with simple lower-casing are recomputed at the next start; names that
/// now fold to one key keep the older row's key, the later row gets another (found by
/// `sw`), and each collision is a WARN line at start and an audit entry.
async fn stored_keys_are_refolded_once_at_start_and_collisions_reported(backend: Backend) {
    let app = spawn_app(backend).await;
    // Distinct under simple lower-casing, one name under full case folding. The sigma
    // pair swaps keys: `ΣΑΣ` lower-cased was `σας` (final sigma) and becomes `σασ`,
    // the key `σασ` held until now.
    let older = app.create_user("a@c.com").await;
    let later = app.create_user("b@c.com").await;
    let sigma_older = app.create_user("c@c.com").await;
    let sigma_later = app.create_user("d@c.com").await;
    let plain = app.create_user("Ünal@c.com").await;
    let group_older = app.create_group("g1", &[]).await;
    let group_later = app.create_group("g2", &[]).await;
    let store = Store::connect(&app.database_url).await.unwrap();
    for (id, name) in [
        (&older, "groß@c.com"),
        (&later, "GROSS@c.com"),
        (&sigma_older, "ΣΑΣ@c.com"),
        (&sigma_later, "σασ@c.com"),
    ] {
        store_old_style(&store, "scim_users", id, name).await;
    }
    store_old_style(&store, "scim_groups", &group_older, "Straße").await;
    store_old_style(&store, "scim_groups", &group_later, "STRASSE").await;
    // As a database of an earlier version: the step has not run.
    store.execute_raw("DELETE FROM data_steps").await.unwrap();
    store.close().await;

    // A second server on the same database runs the step as it starts.
    let data_dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rollcall"));
    cmd.env("ROLLCALL_MASTER_KEY", app.master_key_text.expose_secret());
    let server = crate::harness::serve_process(
        &mut cmd,
        data_dir.path(),
        &["--database-url", &app.database_url],
    );
    let warnings: Vec<Value> = server
        .startup_log
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["level"] == "WARN" && v["fields"]["kept"].is_string())
        .collect();
    let named: Vec<(String, String, String)> = warnings
        .iter()
        .map(|w| {
            assert_eq!(w["fields"]["org"], app.org_id.as_str(), "{w}");
            let f = |k: &str| w["fields"][k].as_str().unwrap().to_owned();
            (f("kind"), f("kept"), f("moved"))
        })
        .collect();
    assert_eq!(
        named,
        [
            ("user".to_owned(), older.clone(), later.clone()),
            ("user".to_owned(), sigma_older.clone(), sigma_later.clone()),
            ("group".to_owned(), group_older.clone(), group_later.clone()),
        ],
        "{warnings:?}"
    );
    drop(server);

    let ids = |list: &Value| set_of(list, "id");
    // The older row has the key; the later one is still found by a prefix filter.
    for (f, want) in [
        (r#"userName eq "GROSS@C.COM""#, vec![&older]),
        (r#"userName eq "groß@c.com""#, vec![&older]),
        (r#"userName sw "gross@c.com""#, vec![&older, &later]),
        (r#"userName eq "σας@c.com""#, vec![&sigma_older]),
        (r#"userName sw "σασ@""#, vec![&sigma_older, &sigma_later]),
        (r#"userName eq "ünal@C.COM""#, vec![&plain]),
    ] {
        let want: Vec<&str> = want.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            ids(&filter(&app, "/Users", f).await.body),
            set(&want),
            "{f}"
        );
    }
    assert_eq!(
        ids(&filter(&app, "/Groups", r#"displayName eq "strasse""#)
            .await
            .body),
        set(&[&group_older])
    );
    // The email keys and the folded documents were recomputed too (emails need not be
    // unique).
    for f in [
        r#"emails.value eq "GROSS@C.COM""#,
        r#"emails[value eq "GROSS@C.COM"]"#,
    ] {
        assert_eq!(
            ids(&filter(&app, "/Users", f).await.body),
            set(&[&older, &later]),
            "{f}"
        );
    }
    // A sign-in by the name finds both users: ambiguous, never the other person.
    let store = Store::connect(&app.database_url).await.unwrap();
    let mut tx = store.read().await.unwrap();
    let matched = rollcall::store::sessions::match_users(
        &mut tx,
        &app.org_id,
        rollcall::store::sessions::MatchColumn::UserNameNorm,
        "gross@c.com",
        2,
    )
    .await
    .unwrap();
    assert_eq!(matched.len(), 2, "{matched:?}");
    drop(tx);
    store.close().await;
    // The name stays taken; the moved row can be renamed apart.
    assert_scim_error(
        &post_user(&app, "Groß@C.com").await,
        StatusCode::CONFLICT,
        Some("uniqueness"),
    );
    let r = app
        .put(
            &format!("/Users/{later}"),
            &json!({"schemas": [USER_SCHEMA], "userName": "gross2@c.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // An admin finds each collision in the org's audit log.
    let admin = app.admin().await;
    let audit = admin.get("/audit?limit=100").await.body;
    let collisions: Vec<(String, String, String)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().ends_with(".key_collision"))
        .map(|e| {
            assert_eq!(e["actor"], "system");
            (
                e["action"].as_str().unwrap().to_owned(),
                e["target"].as_str().unwrap().to_owned(),
                e["after"]["collides_with"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        collisions,
        [
            (
                "user.key_collision".to_owned(),
                format!("user:{later}"),
                format!("user:{older}")
            ),
            (
                "user.key_collision".to_owned(),
                format!("user:{sigma_later}"),
                format!("user:{sigma_older}")
            ),
            (
                "group.key_collision".to_owned(),
                format!("group:{group_later}"),
                format!("group:{group_older}")
            ),
        ]
    );

    // Once: the step does not run again.
    let store = Store::connect(&app.database_url).await.unwrap();
    let again = rollcall::provisioning::fold_keys::refold_keys(&store, "2026-01-02T00:00:00.000Z")
        .await
        .unwrap();
    assert_eq!(again, []);
    store.close().await;
}

/// Seeds its database before its own server starts.
mod own_server {
    use super::*;

    crate::both_backends!(setup = crate::harness::backend;
        stored_keys_are_refolded_once_at_start_and_collisions_reported,
    );
}
