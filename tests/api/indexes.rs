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

use crate::harness::{Backend, TestApp};
use crate::harness::{GROUP_SCHEMA, bulk_created, bulk_users};
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
    let groups = bulk_created(app, ops).await;
    (users, groups)
}

/// The plans of the page query and the count query for `filter`, for both paging modes.
async fn plans(store: &Store, app: &TestApp, kind: ResourceKind, filter: &str) -> Vec<String> {
    let registry = Registry::load().unwrap();
    let rt = registry.resource_type(kind);
    let parsed = scim::filter::parse(filter).unwrap();
    let compiled =
        rollcall::store::filter_sql::compile(&registry, rt, store.dialect(), &app.org_id, &parsed)
            .unwrap();
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

/// Columns whose equality (or an `IN` list / join on them) makes an access to the
/// resource table a lookup rather than a walk.
const KEYS: [&str; 6] = [
    "id",
    "user_name_norm",
    "external_id",
    "display_name_norm",
    "seq",
    "rowid",
];

/// Whether an index condition pins one of the `KEYS` (`org_id` alone, or a range on
/// `seq` as a page boundary, walks the organization).
fn keyed(cond: &str) -> bool {
    KEYS.iter().any(|k| {
        // SQLite: `(org_id=? AND seq=?)`; PostgreSQL: `((org_id = 'x') AND (seq = e.user_seq))`.
        [format!("({k}="), format!(" {k}="), format!("({k} = ")]
            .iter()
            .any(|p| cond.contains(p.as_str()))
    })
}

/// Why the plan is not index lookups only, if it is not: no table is scanned, and the
/// resource table (alias `r`) is reached by a key.
fn not_indexed(backend: Backend, plan: &[String]) -> Option<&'static str> {
    match backend {
        Backend::Sqlite => {
            for line in plan.iter().map(|l| l.trim()) {
                if line.starts_with("SCAN ") && !line.starts_with("SCAN CONSTANT ROW") {
                    return Some("SQLite scans a table");
                }
                if line.starts_with("SEARCH r ") && !keyed(line) {
                    return Some("the resource table is searched by organization, not by key");
                }
            }
        }
        Backend::Postgres => {
            for (i, line) in plan.iter().enumerate() {
                if line.contains("Seq Scan") {
                    return Some("PostgreSQL scans a table");
                }
                if line.contains(" on scim_users r") || line.contains(" on scim_groups r") {
                    // The node's own conditions follow it, up to the next plan node.
                    let conds: Vec<&String> = plan[i + 1..]
                        .iter()
                        .take_while(|l| !l.contains("->") && !l.trim_start().starts_with("SubPlan"))
                        .filter(|l| l.contains("Index Cond:") || l.contains("Recheck Cond:"))
                        .collect();
                    if !conds.iter().any(|c| keyed(c)) {
                        return Some("the resource table is read by organization, not by key");
                    }
                }
                if line.trim_start().starts_with("SubPlan") {
                    return Some("a correlated subquery runs once per row of the organization");
                }
            }
        }
    }
    if !plan.iter().any(|l| l.contains(" r ")) {
        return Some("the plan never reads the resource table");
    }
    None
}

async fn idp_lookups_are_answered_from_indexes(app: TestApp) {
    let _heavy = crate::harness::heavy().await;
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
        if std::env::var_os("ROLLCALL_SHOW_PLANS").is_some() {
            eprintln!("{:?} {kind:?} {f}\n  {}", app.backend, plan.join("\n  "));
        }
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
    let r = crate::harness::filter(&app, "/Groups", &group_lookups[4]).await;
    assert_eq!(r.body["totalResults"], 1, "{:?}", r.body);
    assert_eq!(r.body["Resources"][0]["id"], group.as_str());
    let r = crate::harness::filter(&app, "/Users", &user_lookups[4]).await;
    assert_eq!(r.body["totalResults"], 1, "{:?}", r.body);
    assert_eq!(r.body["Resources"][0]["id"], user.as_str());
    store.close().await;
}

crate::both_backends!(idp_lookups_are_answered_from_indexes);
