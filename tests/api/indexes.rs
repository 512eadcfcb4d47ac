//! The lookups IdPs make before every change (`userName eq`, `externalId eq`, `id eq`,
//! `emails.value eq`, group `displayName eq`, `members.value eq`, Entra's
//! `id eq "g" and members.value eq "u"`) must be answered from an index on each backend,
//! never by walking the organization's rows: an org with 100,000 users would otherwise pay
//! a full scan per provisioning request.
//!
//! The SQL is built exactly as a list request builds it (filter compiler, then
//! `store::resources::list`/`count`), and the database's own plan is checked. PostgreSQL
//! plans are cost-based, so it gets 2,000 users and 200 groups and fresh statistics
//! (`ANALYZE`), as autovacuum would give it; sequential scans stay allowed.

use crate::helpers::{Backend, TestApp};
use crate::support::{BULK_REQUEST, GROUP_SCHEMA, bulk_users};
use reqwest::StatusCode;
use rollcall::store::Store;
use rollcall::store::resources::{self, ListQuery, Page, Table};
use scim::schema::{Registry, ResourceKind};
use serde_json::{Value, json};

const USERS: usize = 2_000;
const GROUPS: usize = 200;
const MEMBERS_PER_GROUP: usize = 10;

/// Seeds users and groups; returns (user ids, group ids).
async fn seed(app: &TestApp) -> (Vec<String>, Vec<String>) {
    let users = bulk_users(app, "idx", 0..USERS).await;
    let ops: Vec<Value> = (0..GROUPS)
        .map(|g| {
            let members: Vec<Value> = (0..MEMBERS_PER_GROUP)
                .map(|m| json!({"value": users[(g * MEMBERS_PER_GROUP + m) % USERS]}))
                .collect();
            json!({
                "method": "POST",
                "path": "/Groups",
                "bulkId": format!("g{g}"),
                "data": {
                    "schemas": [GROUP_SCHEMA],
                    "displayName": format!("Group {g:03}"),
                    "externalId": format!("grp-ext-{g}"),
                    "members": members
                }
            })
        })
        .collect();
    let r = app
        .post("/Bulk", &json!({"schemas": [BULK_REQUEST], "Operations": ops}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let groups = r.body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| {
            assert_eq!(op["status"], "201", "{op}");
            op["location"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    (users, groups)
}

/// The plans of the page query and the count query for `filter`, for both paging modes.
async fn plans(store: &Store, app: &TestApp, kind: ResourceKind, filter: &str) -> Vec<String> {
    let registry = Registry::load().unwrap();
    let rt = registry.resource_type(kind);
    let parsed = scim::filter::parse(filter).unwrap();
    let compiled =
        rollcall::store::filter_sql::compile(&registry, rt, store.dialect(), &parsed).unwrap();
    let table = match kind {
        ResourceKind::User => Table::Users,
        ResourceKind::Group => Table::Groups,
    };
    let mut lines = Vec::new();
    // What `provisioning::list` asks for: a default page of 100 plus one row.
    for page in [
        Page::Index {
            offset: 0,
            count: 101,
        },
        Page::After {
            after_seq: 0,
            count: 101,
        },
    ] {
        let query = ListQuery {
            filter: Some(compiled.clone()),
            sort: None,
            page,
        };
        let mut tx = store.read().await.unwrap();
        lines.extend(
            resources::explain_list(&mut tx, table, &app.org_id, &query)
                .await
                .unwrap(),
        );
    }
    lines
}

/// Why the plan is not index lookups only, if it is not.
fn not_indexed(backend: Backend, plan: &[String]) -> Option<&'static str> {
    let fail = |why: &'static str| Some(why);
    // Walking the (org_id, seq) index visits every row of the organization: a scan too.
    for line in plan {
        if line.contains("_org_seq") {
            return fail("walks the organization's rows in seq order");
        }
    }
    match backend {
        Backend::Sqlite => {
            for line in plan {
                let l = line.trim();
                if l.starts_with("SCAN ") && !l.starts_with("SCAN CONSTANT ROW") {
                    return fail("SQLite scans a table");
                }
            }
            // The resource table itself (alias r) is reached by key.
            if !plan.iter().any(|l| {
                l.contains("SEARCH r USING INDEX")
                    || l.contains("SEARCH r USING COVERING INDEX")
                    || l.contains("SEARCH r USING INTEGER PRIMARY KEY")
                    || l.contains("SEARCH r USING PRIMARY KEY")
            }) {
                return fail("the resource table is not searched through an index");
            }
        }
        Backend::Postgres => {
            if plan.iter().any(|l| l.contains("Seq Scan")) {
                return fail("PostgreSQL chose a sequential scan");
            }
            if !plan
                .iter()
                .any(|l| l.contains("Index Scan") || l.contains("Index Only Scan"))
            {
                return fail("no index scan in the plan");
            }
        }
    }
    None
}

async fn idp_lookups_are_answered_from_indexes(app: TestApp) {
    let (users, groups) = seed(&app).await;
    let store = Store::connect(&app.database_url).await.unwrap();
    if app.backend == Backend::Postgres {
        // Fresh statistics, as autovacuum's analyze would leave them.
        store.execute_raw("ANALYZE").await.unwrap();
    }
    let user = &users[1234];
    let member = &users[15];
    let group = &groups[1];
    let user_lookups = [
        format!(r#"id eq "{user}""#),
        r#"userName eq "idx1234@seed.test""#.to_owned(),
        r#"userName eq "IDX1234@Seed.Test""#.to_owned(),
        r#"externalId eq "idx-ext-1234""#.to_owned(),
        r#"emails.value eq "idx1234@mail.seed.test""#.to_owned(),
        r#"emails eq "idx1234@mail.seed.test""#.to_owned(),
        format!(r#"groups.value eq "{group}""#),
    ];
    let group_lookups = [
        format!(r#"id eq "{group}""#),
        r#"displayName eq "Group 042""#.to_owned(),
        r#"externalId eq "grp-ext-42""#.to_owned(),
        format!(r#"members.value eq "{member}""#),
        // Entra: is this user a member of this group?
        format!(r#"id eq "{group}" and members.value eq "{member}""#),
    ];
    let lookups = user_lookups
        .iter()
        .map(|f| (ResourceKind::User, f))
        .chain(group_lookups.iter().map(|f| (ResourceKind::Group, f)));
    let mut failures = Vec::new();
    for (kind, f) in lookups {
        let plan = plans(&store, &app, kind, f).await;
        if let Some(why) = not_indexed(app.backend, &plan) {
            failures.push(format!("{kind:?} {f}: {why}\n  {}", plan.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "lookups not answered from an index:\n{}",
        failures.join("\n")
    );
    // The lookups also return the right rows through the API.
    let r = crate::support::filter(&app, "/Groups", &group_lookups[4]).await;
    assert_eq!(r.body["totalResults"], 1, "{:?}", r.body);
    assert_eq!(r.body["Resources"][0]["id"], group.as_str());
    let r = crate::support::filter(&app, "/Users", &user_lookups[4]).await;
    assert_eq!(r.body["totalResults"], 1, "{:?}", r.body);
    assert_eq!(r.body["Resources"][0]["id"], user.as_str());
    store.close().await;
}

crate::backends!(idp_lookups_are_answered_from_indexes);
