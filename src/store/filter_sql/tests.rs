//! The SQL text and bound values [`compile`] writes on each dialect, for the filters IdPs
//! send and the forms the grammar allows. Nothing runs here: tests/api/filter_sql.rs runs
//! compiled filters against both databases.

use super::*;
use crate::store::sql::SqlValue;
use scim::filter::parse;
use scim::schema::ResourceKind::{Group, User};

fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.to_owned())
}

fn compiled(dialect: Dialect, kind: ResourceKind, filter: &str) -> (String, Vec<SqlValue>) {
    let registry = Registry::load().unwrap();
    let rt = registry.resource_type(kind);
    let q = compile(
        &registry,
        rt,
        dialect,
        &OrgId::from("org-1"),
        &parse(filter).unwrap(),
    )
    .unwrap();
    (q.sql, q.args)
}

/// A filter on a resource type, the SQL it compiles to and the values bound, in order.
type Case<'a> = (ResourceKind, &'a str, &'a str, &'a [SqlValue]);

fn check(dialect: Dialect, cases: &[Case<'_>]) {
    for (kind, filter, sql, args) in cases {
        let (got_sql, got_args) = compiled(dialect, *kind, filter);
        assert_eq!(got_sql, *sql, "{dialect:?} {kind:?} {filter}");
        assert_eq!(got_args, *args, "{dialect:?} {kind:?} {filter}");
    }
}

/// Columns and side tables read alike on both dialects: case-insensitive attributes
/// compare a folded column (`*_norm`) with a value folded in Rust, `not` and `ne` treat an
/// absent value as false before negating, `emails.value` and `members` go to their side
/// tables (`members[value eq ...]` as `members.value eq ...`).
#[test]
fn both_dialects_write_the_same_sql_for_columns_and_side_tables() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        check(
            dialect,
            &[
                (
                    User,
                    r#"userName eq "Bjensen""#,
                    "(r.user_name_norm = ?)",
                    &[text("bjensen")],
                ),
                (
                    User,
                    "externalId pr",
                    "(r.external_id IS NOT NULL AND r.external_id <> '')",
                    &[],
                ),
                (
                    User,
                    "active eq true",
                    "(r.active = ?)",
                    &[SqlValue::Bool(true)],
                ),
                (
                    User,
                    r#"emails.value eq "A@Example.com""#,
                    "r.seq IN (SELECT e.user_seq FROM scim_user_emails e WHERE e.org_id = ? AND (e.value_norm = ?))",
                    &[text("org-1"), text("a@example.com")],
                ),
                (
                    User,
                    r#"userName ne "x""#,
                    "(NOT COALESCE((r.user_name_norm = ?), FALSE))",
                    &[text("x")],
                ),
                (
                    User,
                    r#"groups.value eq "g-1""#,
                    "r.seq IN (SELECT ru.seq FROM scim_group_members gm JOIN scim_users ru ON ru.id = gm.member_id JOIN scim_groups g ON g.id = gm.group_id WHERE (gm.group_id = ?))",
                    &[text("g-1")],
                ),
                (
                    Group,
                    r#"members.value eq "u-1""#,
                    "r.seq IN (SELECT rg.seq FROM scim_group_members gm JOIN scim_groups rg ON rg.id = gm.group_id LEFT JOIN scim_users mu ON mu.id = gm.member_id LEFT JOIN scim_groups mg ON mg.id = gm.member_id WHERE (gm.member_id = ?))",
                    &[text("u-1")],
                ),
                (
                    Group,
                    r#"members[value eq "u-1"]"#,
                    "r.seq IN (SELECT rg.seq FROM scim_group_members gm JOIN scim_groups rg ON rg.id = gm.group_id LEFT JOIN scim_users mu ON mu.id = gm.member_id LEFT JOIN scim_groups mg ON mg.id = gm.member_id WHERE (gm.member_id = ?))",
                    &[text("u-1")],
                ),
                (
                    Group,
                    "members pr",
                    "r.seq IN (SELECT rg.seq FROM scim_group_members gm JOIN scim_groups rg ON rg.id = gm.group_id LEFT JOIN scim_users mu ON mu.id = gm.member_id LEFT JOIN scim_groups mg ON mg.id = gm.member_id WHERE (gm.member_id IS NOT NULL AND gm.member_id <> ''))",
                    &[],
                ),
                (
                    Group,
                    r#"displayName eq "Admins""#,
                    "(r.display_name_norm = ?)",
                    &[text("admins")],
                ),
            ],
        );
    }
}

/// The document through `json_extract`/`json_each` (folded values in `doc_ci`), `co`/`sw`/`ew`
/// as GLOB patterns with `*`, `?` and `[` escaped; `and` binds tighter than `or`; dates
/// are bound in the stored format.
#[test]
fn sqlite_sql_and_bound_values() {
    check(
        Dialect::Sqlite,
        &[
            (
                User,
                r#"userName co "a%b_c\\d""#,
                "(r.user_name_norm GLOB ?)",
                &[text(r#"*a%b_c\d*"#)],
            ),
            (
                User,
                r#"userName sw "J""#,
                "(r.user_name_norm GLOB ?)",
                &[text("j*")],
            ),
            (
                User,
                r#"name.familyName ew "sen""#,
                r#"(json_extract(r.doc_ci, '$."name"."familyName"') GLOB ?)"#,
                &[text("*sen")],
            ),
            (
                User,
                "title pr",
                r#"(json_extract(r.doc_ci, '$."title"') IS NOT NULL AND json_extract(r.doc_ci, '$."title"') <> '')"#,
                &[],
            ),
            (
                User,
                r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
                "(r.updated_at > ?)",
                &[text("2011-05-13T04:42:34.000Z")],
            ),
            (
                User,
                r#"meta.created ge "2011-05-13T04:42:34Z""#,
                "(r.created_at >= ?)",
                &[text("2011-05-13T04:42:34.000Z")],
            ),
            (
                User,
                r#"userName gt "m""#,
                "(r.user_name_norm > ?)",
                &[text("m")],
            ),
            (
                User,
                r#"displayName eq "ÉMILE""#,
                r#"(json_extract(r.doc_ci, '$."displayName"') = ?)"#,
                &[text("émile")],
            ),
            (
                User,
                r#"userName eq "a" and (title pr or not (active eq false))"#,
                r#"((r.user_name_norm = ?) AND ((json_extract(r.doc_ci, '$."title"') IS NOT NULL AND json_extract(r.doc_ci, '$."title"') <> '') OR (NOT COALESCE((r.active = ?), FALSE))))"#,
                &[text("a"), SqlValue::Bool(false)],
            ),
            (
                User,
                r#"emails[type eq "work"]"#,
                r#"EXISTS (SELECT 1 FROM json_each(r.doc, '$."emails"') AS je JOIN json_each(r.doc_ci, '$."emails"') AS jc ON jc.key = je.key WHERE (json_extract(jc.value, '$."type"') = ?))"#,
                &[text("work")],
            ),
            (
                User,
                r#"userName co "a*b?[c""#,
                "(r.user_name_norm GLOB ?)",
                &[text("*a[*]b[?][[]c*")],
            ),
            (
                User,
                r#"title eq "X" or title eq "Y" and not (title pr)"#,
                r#"((json_extract(r.doc_ci, '$."title"') = ?) OR ((json_extract(r.doc_ci, '$."title"') = ?) AND (NOT COALESCE((json_extract(r.doc_ci, '$."title"') IS NOT NULL AND json_extract(r.doc_ci, '$."title"') <> ''), FALSE))))"#,
                &[text("x"), text("y")],
            ),
            (
                User,
                r#"emails[type eq "work" and value co "@example.com"]"#,
                r#"EXISTS (SELECT 1 FROM json_each(r.doc, '$."emails"') AS je JOIN json_each(r.doc_ci, '$."emails"') AS jc ON jc.key = je.key WHERE ((json_extract(jc.value, '$."type"') = ?) AND (json_extract(jc.value, '$."value"') GLOB ?)))"#,
                &[text("work"), text("*@example.com*")],
            ),
            (
                User,
                r#"emails.type eq "work""#,
                r#"EXISTS (SELECT 1 FROM json_each(r.doc_ci, '$."emails"') AS je WHERE (json_extract(je.value, '$."type"') = ?))"#,
                &[text("work")],
            ),
            (
                User,
                r#"manager eq "m-1""#,
                r#"(json_extract(r.doc, '$."urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"."manager"."value"') = ?)"#,
                &[text("m-1")],
            ),
        ],
    );
}

/// The same filters as on SQLite: the document through `->`/`->>` and
/// `jsonb_array_elements`, `co`/`sw`/`ew` as `LIKE` with `%`, `_` and `\` escaped, ordering
/// comparisons in byte order (`COLLATE "C"`) rather than the database's collation.
#[test]
fn postgres_sql_and_bound_values() {
    check(
        Dialect::Postgres,
        &[
            (
                User,
                r#"userName co "a%b_c\\d""#,
                r#"(r.user_name_norm LIKE ? ESCAPE '\')"#,
                &[text(r#"%a\%b\_c\\d%"#)],
            ),
            (
                User,
                r#"userName sw "J""#,
                r#"(r.user_name_norm LIKE ? ESCAPE '\')"#,
                &[text("j%")],
            ),
            (
                User,
                r#"name.familyName ew "sen""#,
                r#"(((r.doc_ci -> 'name') ->> 'familyName') LIKE ? ESCAPE '\')"#,
                &[text("%sen")],
            ),
            (
                User,
                "title pr",
                "((r.doc_ci ->> 'title') IS NOT NULL AND (r.doc_ci ->> 'title') <> '')",
                &[],
            ),
            (
                User,
                r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
                r#"((r.updated_at) COLLATE "C" > ?)"#,
                &[text("2011-05-13T04:42:34.000Z")],
            ),
            (
                User,
                r#"meta.created ge "2011-05-13T04:42:34Z""#,
                r#"((r.created_at) COLLATE "C" >= ?)"#,
                &[text("2011-05-13T04:42:34.000Z")],
            ),
            (
                User,
                r#"userName gt "m""#,
                r#"((r.user_name_norm) COLLATE "C" > ?)"#,
                &[text("m")],
            ),
            (
                User,
                r#"displayName eq "ÉMILE""#,
                "((r.doc_ci ->> 'displayName') = ?)",
                &[text("émile")],
            ),
            (
                User,
                r#"userName eq "a" and (title pr or not (active eq false))"#,
                "((r.user_name_norm = ?) AND (((r.doc_ci ->> 'title') IS NOT NULL AND (r.doc_ci ->> 'title') <> '') OR (NOT COALESCE((r.active = ?), FALSE))))",
                &[text("a"), SqlValue::Bool(false)],
            ),
            (
                User,
                r#"emails[type eq "work"]"#,
                "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof((r.doc -> 'emails')) = 'array' THEN (r.doc -> 'emails') ELSE '[]'::jsonb END) WITH ORDINALITY AS je(v, n) JOIN jsonb_array_elements(CASE WHEN jsonb_typeof((r.doc_ci -> 'emails')) = 'array' THEN (r.doc_ci -> 'emails') ELSE '[]'::jsonb END) WITH ORDINALITY AS jc(v, n) ON jc.n = je.n WHERE ((jc.v ->> 'type') = ?))",
                &[text("work")],
            ),
            (
                User,
                r#"userName co "a*b?[c""#,
                r#"(r.user_name_norm LIKE ? ESCAPE '\')"#,
                &[text("%a*b?[c%")],
            ),
            (
                User,
                r#"title eq "X" or title eq "Y" and not (title pr)"#,
                "(((r.doc_ci ->> 'title') = ?) OR (((r.doc_ci ->> 'title') = ?) AND (NOT COALESCE(((r.doc_ci ->> 'title') IS NOT NULL AND (r.doc_ci ->> 'title') <> ''), FALSE))))",
                &[text("x"), text("y")],
            ),
            (
                User,
                r#"emails[type eq "work" and value co "@example.com"]"#,
                r#"EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof((r.doc -> 'emails')) = 'array' THEN (r.doc -> 'emails') ELSE '[]'::jsonb END) WITH ORDINALITY AS je(v, n) JOIN jsonb_array_elements(CASE WHEN jsonb_typeof((r.doc_ci -> 'emails')) = 'array' THEN (r.doc_ci -> 'emails') ELSE '[]'::jsonb END) WITH ORDINALITY AS jc(v, n) ON jc.n = je.n WHERE (((jc.v ->> 'type') = ?) AND ((jc.v ->> 'value') LIKE ? ESCAPE '\')))"#,
                &[text("work"), text("%@example.com%")],
            ),
            (
                User,
                r#"emails.type eq "work""#,
                "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof((r.doc_ci -> 'emails')) = 'array' THEN (r.doc_ci -> 'emails') ELSE '[]'::jsonb END) WITH ORDINALITY AS je(v, n) WHERE ((je.v ->> 'type') = ?))",
                &[text("work")],
            ),
            (
                User,
                r#"manager eq "m-1""#,
                "((((r.doc -> 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User') -> 'manager') ->> 'value') = ?)",
                &[text("m-1")],
            ),
        ],
    );
}

/// A value that looks like SQL stays a bound value on both dialects.
#[test]
fn filter_values_are_bound_never_written_into_the_sql() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let (sql, args) = compiled(dialect, User, r#"userName eq "x' OR '1'='1""#);
        assert_eq!(sql, "(r.user_name_norm = ?)");
        assert_eq!(args, [text("x' or '1'='1")]);
    }
}
