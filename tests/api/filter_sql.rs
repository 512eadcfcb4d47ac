//! Filters compiled by `store::filter_sql` run as they are against each database, outside
//! the list code: the SQL text its unit tests pin down per dialect is SQL that backend
//! accepts, and it selects the resources the filter means.

use crate::harness::TestApp;
use crate::harness::{post_user, set};
use rollcall::store::{Q, Store, filter_sql};
use scim::schema::{Registry, ResourceKind};
use serde_json::json;
use std::collections::BTreeSet;

/// The ids of the org's resources of `kind` that the compiled `filter` selects.
async fn selected(app: &TestApp, kind: ResourceKind, filter: &str) -> BTreeSet<String> {
    let registry = Registry::load().unwrap();
    let rt = registry.resource_type(kind);
    let store = Store::connect(&app.database_url).await.unwrap();
    let filter = scim::filter::parse(filter).unwrap();
    let condition =
        filter_sql::compile(&registry, rt, store.dialect(), &app.org_id, &filter).unwrap();
    let table = match kind {
        ResourceKind::User => "scim_users",
        ResourceKind::Group => "scim_groups",
    };
    let mut q = Q::new(&format!(
        "SELECT {a}.id FROM {table} {a} WHERE {a}.org_id = ? AND ",
        a = filter_sql::ALIAS
    ))
    .bind(app.org_id.as_str());
    q.append(condition);
    let mut tx = store.read().await.unwrap();
    let rows = tx.fetch_all(q).await.unwrap();
    drop(tx);
    store.close().await;
    rows.iter().map(|r| r.text("id").unwrap()).collect()
}

async fn compiled_filters_select_the_resources_they_mean(app: TestApp) {
    let ann = post_user(
        &app,
        json!({
            "userName": "Ann",
            "title": "Engineer",
            "emails": [
                {"value": "ANN@Example.com", "type": "work"},
                {"value": "ann@home.test", "type": "home"}
            ]
        }),
    )
    .await;
    let bob = post_user(
        &app,
        json!({
            "userName": "Bob",
            "active": false,
            "emails": [{"value": "bob@home.test", "type": "work"}]
        }),
    )
    .await;
    let admins = app.create_group("Admins", &[&ann]).await;
    app.create_group("Empty", &[]).await;

    let users = |f: &'static str| selected(&app, ResourceKind::User, f);
    assert_eq!(users(r#"userName eq "ANN""#).await, set(&[&ann]));
    assert_eq!(users(r#"userName sw "b""#).await, set(&[&bob]));
    assert_eq!(
        users(r#"emails[type eq "work" and value co "@EXAMPLE."]"#).await,
        set(&[&ann])
    );
    assert_eq!(
        users(r#"emails.value eq "bob@HOME.test""#).await,
        set(&[&bob])
    );
    assert_eq!(
        users(r#"title pr or (active eq false and not (userName eq "x"))"#).await,
        set(&[&ann, &bob])
    );
    assert_eq!(users(r#"userName ne "Ann""#).await, set(&[&bob]));
    assert_eq!(users(r#"groups.value eq "missing""#).await, set(&[]));
    assert_eq!(
        users(r#"meta.created gt "2000-01-01T00:00:00Z""#).await,
        set(&[&ann, &bob])
    );

    let groups = |f: &'static str| selected(&app, ResourceKind::Group, f);
    let member = format!(r#"members[value eq "{ann}"]"#);
    assert_eq!(
        selected(&app, ResourceKind::Group, &member).await,
        set(&[&admins])
    );
    assert_eq!(groups("members pr").await, set(&[&admins]));
    assert_eq!(groups(r#"displayName eq "ADMINS""#).await, set(&[&admins]));
}

crate::both_backends!(compiled_filters_select_the_resources_they_mean);
