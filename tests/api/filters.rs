//! Filters, RFC 7644 §3.4.2.2, over a seeded directory: every operator, the logical
//! operators and grouping, value paths, URN-qualified paths, case rules from the schema,
//! and the errors an IdP gets for a filter the server cannot run.

use crate::harness::TestApp;
use crate::harness::{
    ENTERPRISE, USER_SCHEMA, assert_scim_error, filter, post_user, set, set_of, with_query,
};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeSet;

/// The seeded users' ids by userName.
struct Seed {
    bjensen: String,
    jsmith: String,
}

/// Four users that differ in every attribute the filters below look at:
///
/// | userName            | externalId | active | department  | emails                                    |
/// |---------------------|------------|--------|-------------|-------------------------------------------|
/// | bjensen@example.com | EXT-bj-1   | true   | Sales       | work bjensen@example.com, home babs@...   |
/// | åsa@x               | ext-asa    | true   | Engineering | work asa@x.se                             |
/// | jsmith@acme.com     | ext-js     | false  | Engineering | work John.Smith@Acme.com, home js@x.org   |
/// | zed@x.com           | —          | true   | —           | home zed@x.com                            |
async fn seed(app: &TestApp) -> Seed {
    let bjensen = post_user(
        app,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "bjensen@example.com",
            "externalId": "EXT-bj-1",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "displayName": "Babs Jensen",
            "title": "Tour Guide",
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "active": true,
            ENTERPRISE: {"department": "Sales", "employeeNumber": "701984"}
        }),
    )
    .await;
    post_user(
        app,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "åsa@x",
            "externalId": "ext-asa",
            "name": {"givenName": "Åsa", "familyName": "Öberg"},
            "emails": [{"value": "asa@x.se", "type": "work"}],
            "active": true,
            ENTERPRISE: {"department": "Engineering"}
        }),
    )
    .await;
    let jsmith = post_user(
        app,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "jsmith@acme.com",
            "externalId": "ext-js",
            "name": {"givenName": "John", "familyName": "Smith"},
            "title": "Engineer",
            "emails": [
                {"value": "John.Smith@Acme.com", "type": "work"},
                {"value": "js@x.org", "type": "home"}
            ],
            "active": false,
            ENTERPRISE: {"department": "Engineering"}
        }),
    )
    .await;
    post_user(
        app,
        json!({
            "schemas": [USER_SCHEMA],
            "userName": "zed@x.com",
            "name": {"givenName": "Zed", "familyName": "Adams"},
            "emails": [{"value": "zed@x.com", "type": "home"}]
        }),
    )
    .await;
    Seed { bjensen, jsmith }
}

const ALL: [&str; 4] = [
    "bjensen@example.com",
    "åsa@x",
    "jsmith@acme.com",
    "zed@x.com",
];

/// The userNames a `/Users` filter matches.
async fn users(app: &TestApp, f: &str) -> BTreeSet<String> {
    let r = filter(app, "/Users", f).await;
    let found = set_of(&r.body, "userName");
    assert_eq!(
        r.body["totalResults"],
        found.len(),
        "totalResults must count what the filter matches: {f}"
    );
    found
}

async fn assert_users(app: &TestApp, f: &str, expected: &[&str]) {
    assert_eq!(users(app, f).await, set(expected), "filter: {f}");
}

async fn every_comparison_operator_matches_the_right_users(app: TestApp) {
    seed(&app).await;
    assert_users(
        &app,
        r#"userName eq "bjensen@example.com""#,
        &["bjensen@example.com"],
    )
    .await;
    assert_users(
        &app,
        r#"userName ne "bjensen@example.com""#,
        &["åsa@x", "jsmith@acme.com", "zed@x.com"],
    )
    .await;
    assert_users(
        &app,
        r#"name.familyName co "ens""#,
        &["bjensen@example.com"],
    )
    .await;
    assert_users(&app, r#"userName sw "j""#, &["jsmith@acme.com"]).await;
    assert_users(&app, r#"userName ew "@acme.com""#, &["jsmith@acme.com"]).await;
    // Lexicographic (code point) order: "å" sorts after every ASCII letter.
    assert_users(
        &app,
        r#"userName gt "jsmith@acme.com""#,
        &["zed@x.com", "åsa@x"],
    )
    .await;
    assert_users(
        &app,
        r#"userName ge "jsmith@acme.com""#,
        &["jsmith@acme.com", "zed@x.com", "åsa@x"],
    )
    .await;
    assert_users(
        &app,
        r#"userName lt "jsmith@acme.com""#,
        &["bjensen@example.com"],
    )
    .await;
    assert_users(
        &app,
        r#"userName le "jsmith@acme.com""#,
        &["bjensen@example.com", "jsmith@acme.com"],
    )
    .await;
    assert_users(
        &app,
        "externalId pr",
        &["bjensen@example.com", "åsa@x", "jsmith@acme.com"],
    )
    .await;
    assert_users(
        &app,
        "title pr",
        &["bjensen@example.com", "jsmith@acme.com"],
    )
    .await;
    // `ne` holds where the attribute is absent (zed has no title).
    assert_users(
        &app,
        r#"title ne "Engineer""#,
        &["bjensen@example.com", "åsa@x", "zed@x.com"],
    )
    .await;
}

async fn logical_operators_and_parentheses_follow_precedence(app: TestApp) {
    seed(&app).await;
    assert_users(
        &app,
        r#"userName sw "b" or userName sw "z""#,
        &["bjensen@example.com", "zed@x.com"],
    )
    .await;
    assert_users(
        &app,
        r#"active eq true and title pr"#,
        &["bjensen@example.com"],
    )
    .await;
    // `and` binds tighter than `or`.
    assert_users(
        &app,
        r#"userName sw "b" or userName sw "j" and active eq true"#,
        &["bjensen@example.com"],
    )
    .await;
    assert_users(
        &app,
        r#"(userName sw "b" or userName sw "j") and active eq false"#,
        &["jsmith@acme.com"],
    )
    .await;
    assert_users(
        &app,
        r#"not (userName sw "b")"#,
        &["åsa@x", "jsmith@acme.com", "zed@x.com"],
    )
    .await;
    // `not` of a comparison on an absent attribute holds (zed has no department).
    assert_users(
        &app,
        &format!(r#"not ({ENTERPRISE}:department eq "Engineering")"#),
        &["bjensen@example.com", "zed@x.com"],
    )
    .await;
    assert_users(
        &app,
        r#"not (userName sw "b" or userName sw "z") and not (active eq false)"#,
        &["åsa@x"],
    )
    .await;
}

async fn value_path_binds_both_conditions_to_one_email(app: TestApp) {
    seed(&app).await;
    // jsmith has a work email and an email containing "@x", but not in the same element.
    assert_users(
        &app,
        r#"emails[type eq "work" and value co "@x"]"#,
        &["åsa@x"],
    )
    .await;
    assert_users(
        &app,
        r#"emails.type eq "work" and emails.value co "@x""#,
        &["åsa@x", "jsmith@acme.com"],
    )
    .await;
    assert_users(
        &app,
        r#"emails[type eq "home"]"#,
        &["bjensen@example.com", "jsmith@acme.com", "zed@x.com"],
    )
    .await;
    assert_users(
        &app,
        r#"emails[not (type eq "work")] and active eq true"#,
        &["bjensen@example.com", "zed@x.com"],
    )
    .await;
}

async fn urn_qualified_paths_address_core_and_enterprise_attributes(app: TestApp) {
    seed(&app).await;
    assert_users(
        &app,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen@example.com""#,
        &["bjensen@example.com"],
    )
    .await;
    assert_users(
        &app,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq "Smith""#,
        &["jsmith@acme.com"],
    )
    .await;
    assert_users(
        &app,
        &format!(r#"{ENTERPRISE}:department eq "Engineering""#),
        &["åsa@x", "jsmith@acme.com"],
    )
    .await;
    assert_users(
        &app,
        &format!(r#"{ENTERPRISE}:employeeNumber eq "701984""#),
        &["bjensen@example.com"],
    )
    .await;
    // The URN is matched case-insensitively like any attribute name.
    assert_users(
        &app,
        &format!(r#"{}:department eq "Sales""#, ENTERPRISE.to_uppercase()),
        &["bjensen@example.com"],
    )
    .await;
}

async fn case_rules_follow_the_schema(app: TestApp) {
    let s = seed(&app).await;
    // Attribute names match in any case.
    assert_users(
        &app,
        r#"USERNAME eq "bjensen@example.com""#,
        &["bjensen@example.com"],
    )
    .await;
    assert_users(
        &app,
        r#"Name.FamilyName eq "jensen""#,
        &["bjensen@example.com"],
    )
    .await;
    // userName, emails.value and the enterprise department are caseExact false.
    assert_users(
        &app,
        r#"userName eq "BJensen@Example.COM""#,
        &["bjensen@example.com"],
    )
    .await;
    assert_users(&app, r#"userName sw "BJEN""#, &["bjensen@example.com"]).await;
    assert_users(
        &app,
        r#"emails.value eq "JOHN.SMITH@ACME.COM""#,
        &["jsmith@acme.com"],
    )
    .await;
    assert_users(
        &app,
        r#"emails eq "john.smith@acme.com""#,
        &["jsmith@acme.com"],
    )
    .await;
    assert_users(
        &app,
        &format!(r#"{ENTERPRISE}:department eq "SALES""#),
        &["bjensen@example.com"],
    )
    .await;
    // externalId and id are caseExact true.
    assert_users(
        &app,
        r#"externalId eq "EXT-bj-1""#,
        &["bjensen@example.com"],
    )
    .await;
    assert_users(&app, r#"externalId eq "ext-bj-1""#, &[]).await;
    assert_users(&app, r#"externalId sw "EXT""#, &["bjensen@example.com"]).await;
    assert_users(
        &app,
        &format!(r#"id eq "{}""#, s.jsmith),
        &["jsmith@acme.com"],
    )
    .await;
    assert_users(
        &app,
        &format!(r#"id eq "{}""#, s.jsmith.to_uppercase()),
        &[],
    )
    .await;
}

async fn case_folding_covers_non_ascii_letters(app: TestApp) {
    seed(&app).await;
    assert_users(&app, r#"userName eq "ÅSA@x""#, &["åsa@x"]).await;
    assert_users(&app, r#"userName eq "ÅSA@X""#, &["åsa@x"]).await;
    assert_users(&app, r#"name.givenName eq "ÅSA""#, &["åsa@x"]).await;
    assert_users(&app, r#"name.familyName sw "ÖB""#, &["åsa@x"]).await;
    // And uniqueness folds the same way.
    let r = app
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "ÅSA@X"}),
        )
        .await;
    assert_scim_error(&r, StatusCode::CONFLICT, Some("uniqueness"));
}

async fn booleans_and_dates_compare_as_their_types(app: TestApp) {
    seed(&app).await;
    assert_users(&app, "active eq false", &["jsmith@acme.com"]).await;
    assert_users(
        &app,
        "active eq true",
        &["bjensen@example.com", "åsa@x", "zed@x.com"],
    )
    .await;
    assert_users(&app, "active ne true", &["jsmith@acme.com"]).await;
    assert_users(&app, r#"meta.lastModified gt "2000-01-01T00:00:00Z""#, &ALL).await;
    assert_users(&app, r#"meta.created lt "2000-01-01T00:00:00Z""#, &[]).await;

    // Modify one user strictly after every other change, then ask what changed since.
    let list = filter(&app, "/Users", "userName pr").await;
    let latest = crate::harness::resources(&list.body)
        .iter()
        .map(|u| u["meta"]["lastModified"].as_str().unwrap().to_owned())
        .max()
        .unwrap();
    app.advance(time::Duration::seconds(1));
    let bj = filter(&app, "/Users", r#"userName eq "bjensen@example.com""#).await;
    let id = bj.body["Resources"][0]["id"].as_str().unwrap().to_owned();
    let put = app
        .put(
            &format!("/Users/{id}"),
            &json!({"schemas": [USER_SCHEMA], "userName": "bjensen@example.com", "title": "Lead"}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    assert_users(
        &app,
        &format!(r#"meta.lastModified gt "{latest}""#),
        &["bjensen@example.com"],
    )
    .await;
    assert_users(
        &app,
        &format!(r#"meta.lastModified le "{latest}""#),
        &["åsa@x", "jsmith@acme.com", "zed@x.com"],
    )
    .await;
    let modified = put.body["meta"]["lastModified"].as_str().unwrap();
    assert_users(
        &app,
        &format!(r#"meta.lastModified ge "{modified}""#),
        &["bjensen@example.com"],
    )
    .await;
    // The same instant written with another offset is the same instant.
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let shifted = time::OffsetDateTime::parse(modified, rfc3339)
        .unwrap()
        .to_offset(time::macros::offset!(+2))
        .format(rfc3339)
        .unwrap();
    assert!(shifted.ends_with("+02:00"), "{shifted}");
    assert_users(
        &app,
        &format!(r#"meta.lastModified ge "{shifted}""#),
        &["bjensen@example.com"],
    )
    .await;
    let r = app
        .get(&with_query(
            "/Users",
            &[("filter", r#"meta.lastModified gt "yesterday""#)],
        ))
        .await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidFilter"));
}

/// Users whose `title` holds the characters SQL patterns treat specially, each with a
/// decoy that an unescaped pattern would also match.
async fn wildcard_characters_in_values_are_literal(app: TestApp) {
    let titles = [
        "50% off",
        "50 bucks",
        "a_b",
        "axb",
        "x*y",
        "xzzy",
        "why?",
        "whys",
        "[ops]",
        "p",
        r"back\slash",
        "backslash",
    ];
    for (i, title) in titles.iter().enumerate() {
        post_user(
            &app,
            json!({"schemas": [USER_SCHEMA], "userName": format!("t{i}@titles.test"), "title": title}),
        )
        .await;
    }
    let titled = |f: &str| {
        let app = &app;
        let f = f.to_owned();
        async move { set_of(&filter(app, "/Users", &f).await.body, "title") }
    };
    assert_eq!(titled(r#"title co "50%""#).await, set(&["50% off"]));
    assert_eq!(titled(r#"title co "%""#).await, set(&["50% off"]));
    assert_eq!(titled(r#"title co "a_b""#).await, set(&["a_b"]));
    assert_eq!(titled(r#"title sw "_""#).await, set(&[]));
    assert_eq!(titled(r#"title co "x*y""#).await, set(&["x*y"]));
    assert_eq!(titled(r#"title ew "y?""#).await, set(&["why?"]));
    assert_eq!(titled(r#"title co "[ops]""#).await, set(&["[ops]"]));
    assert_eq!(titled(r#"title sw "[""#).await, set(&["[ops]"]));
    assert_eq!(titled(r#"title co "\\""#).await, set(&[r"back\slash"]));
    assert_eq!(titled(r#"title eq "50% off""#).await, set(&["50% off"]));
}

async fn group_filters_answer_the_idp_membership_lookups(app: TestApp) {
    let s = seed(&app).await;
    let admins = app.create_group("Admins", &[&s.bjensen, &s.jsmith]).await;
    let sales = app.create_group("Sales Team", &[&s.bjensen]).await;
    app.create_group("Empty", &[]).await;
    let groups = |f: String| {
        let app = &app;
        async move { set_of(&filter(app, "/Groups", &f).await.body, "displayName") }
    };
    assert_eq!(
        groups(r#"displayName eq "Admins""#.into()).await,
        set(&["Admins"])
    );
    assert_eq!(
        groups(r#"displayName eq "ADMINS""#.into()).await,
        set(&["Admins"])
    );
    assert_eq!(
        groups(r#"displayName co "team""#.into()).await,
        set(&["Sales Team"])
    );
    assert_eq!(
        groups(format!(r#"members.value eq "{}""#, s.bjensen)).await,
        set(&["Admins", "Sales Team"])
    );
    assert_eq!(
        groups(format!(r#"members[value eq "{}"]"#, s.jsmith)).await,
        set(&["Admins"])
    );
    // Entra checks one membership with `id eq "g" and members.value eq "u"`.
    assert_eq!(
        groups(format!(
            r#"id eq "{admins}" and members.value eq "{}""#,
            s.jsmith
        ))
        .await,
        set(&["Admins"])
    );
    assert_eq!(
        groups(format!(
            r#"id eq "{sales}" and members.value eq "{}""#,
            s.jsmith
        ))
        .await,
        set(&[])
    );
    assert_eq!(
        groups("members pr".into()).await,
        set(&["Admins", "Sales Team"])
    );
    assert_eq!(groups("not (members pr)".into()).await, set(&["Empty"]));
    // A user's groups, the other way round.
    assert_users(
        &app,
        &format!(r#"groups.value eq "{sales}""#),
        &["bjensen@example.com"],
    )
    .await;
}

async fn bad_filters_are_400_invalid_filter(app: TestApp) {
    seed(&app).await;
    let cases = [
        r#"nosuchattribute eq "x""#.to_owned(),
        r#"name.nosuch eq "x""#.to_owned(),
        r#"urn:example:unknown:2.0:User:userName eq "x""#.to_owned(),
        r#"userName eq"#.to_owned(),
        r#"userName zz "x""#.to_owned(),
        r#"(userName eq "x""#.to_owned(),
        r#"userName eq "x" and"#.to_owned(),
        r#"userName eq "unterminated"#.to_owned(),
        r#"emails[type eq "work""#.to_owned(),
        r#"active gt true"#.to_owned(),
        r#"active eq "yes""#.to_owned(),
        r#"userName co 5"#.to_owned(),
        // Too long, too deep, too many comparisons.
        format!(r#"userName eq "{}""#, "a".repeat(10_000)),
        format!(r#"{}userName eq "x"{}"#, "(".repeat(100), ")".repeat(100)),
        format!(
            r#"{}userName eq "x"{}"#,
            "not (".repeat(100),
            ")".repeat(100)
        ),
        vec![r#"userName eq "x""#; 500].join(" or "),
    ];
    for f in &cases {
        let r = app.get(&with_query("/Users", &[("filter", f)])).await;
        let shown: String = f.chars().take(60).collect();
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{shown}: {:?}", r.body);
        assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidFilter"));
    }
    // The detail says what is wrong, not just that something is.
    let r = app
        .get(&with_query("/Users", &[("filter", r#"userName zz "x""#)]))
        .await;
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("zz"),
        "detail should point at the problem: {detail}"
    );
    let r = app
        .get(&with_query(
            "/Users",
            &[("filter", r#"nosuchattribute eq "x""#)],
        ))
        .await;
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("nosuchattribute"),
        "detail should name the attribute: {detail}"
    );
    // The same through POST /.search.
    let r = app
        .post(
            "/Users/.search",
            &json!({"schemas": [crate::harness::SEARCH_REQUEST], "filter": "userName eq"}),
        )
        .await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST, Some("invalidFilter"));
}

crate::both_backends!(
    every_comparison_operator_matches_the_right_users,
    logical_operators_and_parentheses_follow_precedence,
    value_path_binds_both_conditions_to_one_email,
    urn_qualified_paths_address_core_and_enterprise_attributes,
    case_rules_follow_the_schema,
    case_folding_covers_non_ascii_letters,
    wildcard_characters_in_values_are_literal,
    group_filters_answer_the_idp_membership_lookups,
    bad_filters_are_400_invalid_filter,
);

/// On a clock the test moves, so a later change has a strictly later timestamp.
mod on_manual_clock {
    use super::*;

    crate::both_backends!(setup = crate::harness::spawn_on_manual_clock;
        booleans_and_dates_compare_as_their_types,
    );
}
