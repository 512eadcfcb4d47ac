//! Tests of normalising and rendering, on the bodies real IdPs send.

use super::normalize::{immutable_attr, norm_single};
use super::*;
use crate::ScimError;
use crate::schema::{
    AttrType, Attribute, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Mutability, Registry, ResourceKind,
    Returned, USER_SCHEMA, Uniqueness,
};
use proptest::prelude::*;
use serde_json::json;

fn reg() -> Registry {
    Registry::load().unwrap()
}

fn user(body: Value) -> Result<Incoming, ScimError> {
    let r = reg();
    normalize(&r, r.resource_type(ResourceKind::User), &body)
}

fn group(body: Value) -> Result<Incoming, ScimError> {
    let r = reg();
    normalize(&r, r.resource_type(ResourceKind::Group), &body)
}

fn invalid_value(res: Result<Incoming, ScimError>) -> String {
    match res {
        Err(ScimError::InvalidValue(msg)) => msg,
        other => panic!("expected InvalidValue, got {other:?}"),
    }
}

fn meta() -> Meta {
    Meta {
        created: "2024-05-01T10:00:00Z".into(),
        last_modified: "2024-05-02T10:00:00Z".into(),
        location: "http://host/scim/v2/Users/42".into(),
        version: "W/\"3\"".into(),
    }
}

/// Okta's POST /Users, as its SCIM 2.0 test suite sends it.
fn okta_post() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "isaac.brock@example.com",
        "name": {"givenName": "Isaac", "familyName": "Brock"},
        "emails": [{"primary": true, "value": "isaac.brock@example.com", "type": "work"}],
        "displayName": "Isaac Brock",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

/// Entra ID's POST /Users: strings for booleans, `meta` sent back, empty `roles`.
fn entra_post() -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee@testuser.com",
        "active": "True",
        "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "1234",
            "department": "Sales",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        }
    })
}

/// Google Workspace's minimal user.
fn google_post() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "active": true,
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}]
    })
}

#[test]
fn okta_user_with_password() {
    let inc = user(okta_post()).unwrap();
    assert_eq!(inc.password.as_deref(), Some("1mz050nq"));
    assert_eq!(inc.members, None);
    assert_eq!(
        Value::Object(inc.doc),
        json!({
            "externalId": "00ujl29u0le5T6Aj10h7",
            "userName": "isaac.brock@example.com",
            "name": {"familyName": "Brock", "givenName": "Isaac"},
            "displayName": "Isaac Brock",
            "locale": "en-US",
            "active": true,
            "emails": [{"value": "isaac.brock@example.com", "type": "work", "primary": true}]
        })
    );
}

#[test]
fn entra_user_with_string_boolean_and_enterprise_manager() {
    let inc = user(entra_post()).unwrap();
    assert_eq!(inc.password, None);
    let doc = &inc.doc;
    assert_eq!(doc["active"], json!(true));
    assert!(!doc.contains_key("meta"));
    assert!(!doc.contains_key("roles"));
    assert!(!doc.contains_key("schemas"));
    assert_eq!(
        doc[ENTERPRISE_USER_SCHEMA],
        json!({
            "employeeNumber": "1234",
            "department": "Sales",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        })
    );
    // Keys come out in schema order: externalId, then core, then extensions.
    let keys: Vec<&str> = doc.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "externalId",
            "userName",
            "name",
            "active",
            "emails",
            ENTERPRISE_USER_SCHEMA
        ]
    );
}

#[test]
fn google_minimal_user() {
    let inc = user(google_post()).unwrap();
    assert_eq!(inc.doc["userName"], json!("bjensen@example.com"));
    assert_eq!(inc.doc.len(), 4);
}

#[test]
fn names_are_matched_case_insensitively_and_made_canonical() {
    let inc = user(json!({
        "USERNAME": "a@x.io",
        "Name": {"GivenName": "Ann", "FAMILYNAME": "Lee"},
        "Emails": [{"VALUE": "a@x.io", "Primary": "true"}],
        "urn:ietf:params:scim:schemas:extension:ENTERPRISE:2.0:user": {"Department": "R&D"}
    }))
    .unwrap();
    assert_eq!(
        Value::Object(inc.doc),
        json!({
            "userName": "a@x.io",
            "name": {"familyName": "Lee", "givenName": "Ann"},
            "emails": [{"value": "a@x.io", "primary": true}],
            ENTERPRISE_USER_SCHEMA: {"department": "R&D"}
        })
    );
}

#[test]
fn dotted_and_urn_qualified_keys_fold_into_their_attribute() {
    let inc = user(json!({
        "userName": "a@x.io",
        "Name.GivenName": "Ann",
        "name.familyName": "Lee",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Ops",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value": "m-1",
        "urn:ietf:params:scim:schemas:core:2.0:User:displayName": "Ann Lee"
    }))
    .unwrap();
    assert_eq!(
        inc.doc["name"],
        json!({"familyName": "Lee", "givenName": "Ann"})
    );
    assert_eq!(inc.doc["displayName"], json!("Ann Lee"));
    assert_eq!(
        inc.doc[ENTERPRISE_USER_SCHEMA],
        json!({"department": "Ops", "manager": {"value": "m-1"}})
    );
}

#[test]
fn unknown_attributes_and_sub_attributes_are_dropped() {
    let inc = user(json!({
        "userName": "a@x.io",
        "shoeSize": 44,
        "name": {"givenName": "Ann", "favouriteColour": "blue"},
        "emails": [{"value": "a@x.io", "verified": true}],
        "urn:example:custom:1.0:User": {"x": 1},
        "department": "only valid with its URN"
    }))
    .unwrap();
    assert_eq!(
        Value::Object(inc.doc),
        json!({
            "userName": "a@x.io",
            "name": {"givenName": "Ann"},
            "emails": [{"value": "a@x.io"}]
        })
    );
}

/// Each limit of `crate::limits`, at its edge: the largest accepted, one more refused
/// with a detail naming the attribute and the limit.
#[test]
fn values_beyond_the_limits_are_refused_naming_the_attribute() {
    use crate::limits::*;
    let long = |n: usize| "é".repeat(n);
    assert!(user(json!({"userName": "a", "displayName": long(MAX_STRING_CHARS)})).is_ok());
    let e = user(json!({"userName": "a", "displayName": long(MAX_STRING_CHARS + 1)})).unwrap_err();
    assert_eq!(e.scim_type(), "invalidValue");
    assert_eq!(e.detail(), "displayName is longer than 4096 characters");

    let emails = |n: usize| {
        (0..n)
            .map(|i| json!({"value": format!("{i}@x.io")}))
            .collect::<Vec<_>>()
    };
    assert!(user(json!({"userName": "a", "emails": emails(MAX_VALUES)})).is_ok());
    let e = user(json!({"userName": "a", "emails": emails(MAX_VALUES + 1)})).unwrap_err();
    assert_eq!(
        e.detail(),
        "emails has 1001 values; at most 1000 are accepted"
    );

    let unknown = |n: usize| {
        let mut body = json!({"userName": "a"});
        for i in 0..n {
            body[format!("custom{i}")] = json!(i);
        }
        body
    };
    assert!(user(unknown(MAX_UNKNOWN_ATTRIBUTES)).is_ok());
    let e = user(unknown(MAX_UNKNOWN_ATTRIBUTES + 1)).unwrap_err();
    assert_eq!(
        e.detail(),
        "the User has 1001 attributes that are not in the schema; at most 1000 are accepted"
    );

    // Within every per-value limit, the whole resource is still bounded.
    let big: Vec<Value> = (0..40)
        .map(|i| json!({"value": format!("{i}{}", "x".repeat(2000))}))
        .collect();
    let e = user(json!({"userName": "a", "entitlements": big})).unwrap_err();
    assert!(e.detail().starts_with("the User is "), "{e}");
    assert!(e.detail().ends_with("at most 65536 are accepted"), "{e}");

    let members: Vec<Value> = (0..=MAX_MEMBERS_PER_REQUEST)
        .map(|i| json!({"value": i.to_string()}))
        .collect();
    let e = group(json!({"displayName": "g", "members": members})).unwrap_err();
    assert_eq!(e.scim_type(), "tooMany");
}

/// Control characters (NUL above all: PostgreSQL cannot store it) are refused in every
/// string a resource stores, the attribute named; tab, LF and CR stay allowed.
#[test]
fn control_characters_are_refused_in_every_stored_string() {
    let cases = [
        (json!({"userName": "a\0b"}), "userName"),
        (
            json!({"userName": "a", "name": {"givenName": "A\u{1}"}}),
            "name.givenName",
        ),
        (
            json!({"userName": "a", "emails": [{"value": "a@x\0"}]}),
            "emails.value",
        ),
        (
            json!({"userName": "a", "externalId": "\u{1b}[31m"}),
            "externalId",
        ),
        (
            json!({"userName": "a", ENTERPRISE_USER_SCHEMA: {"department": "R\0D"}}),
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        ),
    ];
    for (body, label) in cases {
        let e = user(body).unwrap_err();
        assert_eq!(e.scim_type(), "invalidValue");
        assert!(
            e.detail()
                .starts_with(&format!("{label} contains the control character")),
            "{e}"
        );
    }
    let e = group(json!({"displayName": "g\0"})).unwrap_err();
    assert!(e.detail().starts_with("displayName contains"), "{e}");
    let e = group(json!({"displayName": "g", "members": [{"value": "\0"}]})).unwrap_err();
    assert!(e.detail().starts_with("members.value contains"), "{e}");
    let ok = user(json!({
        "userName": "a",
        "addresses": [{"streetAddress": "1 Main St\r\nSuite 2\tBack"}]
    }));
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn nulls_are_absent_everywhere() {
    let inc = user(json!({
        "userName": "a@x.io",
        "displayName": null,
        "name": {"givenName": null, "familyName": "Lee"},
        "emails": [null, {"value": "a@x.io", "type": null}],
        "phoneNumbers": null,
        "addresses": [{"country": null}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": null
    }))
    .unwrap();
    assert_eq!(
        Value::Object(inc.doc),
        json!({
            "userName": "a@x.io",
            "name": {"familyName": "Lee"},
            "emails": [{"value": "a@x.io"}]
        })
    );
}

#[test]
fn read_only_attributes_are_dropped() {
    let inc = user(json!({
        "id": "client-chosen",
        "meta": {"created": "2020-01-01T00:00:00Z"},
        "userName": "a@x.io",
        "groups": [{"value": "g1", "display": "Admins"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "manager": {"value": "m-1", "displayName": "Boss"}
        }
    }))
    .unwrap();
    assert_eq!(
        Value::Object(inc.doc),
        json!({
            "userName": "a@x.io",
            ENTERPRISE_USER_SCHEMA: {"manager": {"value": "m-1"}}
        })
    );
}

#[test]
fn boolean_strings_are_coerced() {
    for (sent, want) in [
        (json!("True"), true),
        (json!("False"), false),
        (json!("true"), true),
        (json!("FALSE"), false),
        (json!(false), false),
    ] {
        let inc = user(json!({"userName": "a", "active": sent})).unwrap();
        assert_eq!(inc.doc["active"], json!(want));
    }
    let msg = invalid_value(user(json!({"userName": "a", "active": "yes"})));
    assert!(msg.contains("active") && msg.contains("boolean"), "{msg}");
    let msg = invalid_value(user(json!({"userName": "a", "active": 1})));
    assert!(msg.contains("active"), "{msg}");
}

#[test]
fn type_violations_name_the_attribute() {
    let cases = [
        (json!({"userName": 42}), "userName", "string"),
        (
            json!({"userName": "a", "name": "Ann Lee"}),
            "name",
            "object",
        ),
        (
            json!({"userName": "a", "name": {"givenName": true}}),
            "name.givenName",
            "string",
        ),
        (
            json!({"userName": "a", "emails": [{"value": 5}]}),
            "emails.value",
            "string",
        ),
        (
            json!({"userName": "a", "emails": ["a@x.io"]}),
            "emails",
            "object",
        ),
        (
            json!({"userName": "a", "profileUrl": {}}),
            "profileUrl",
            "string",
        ),
        (
            json!({"userName": "a", "x509Certificates": [{"value": 1}]}),
            "x509Certificates.value",
            "string",
        ),
        (
            json!({"userName": "a", "externalId": 7}),
            "externalId",
            "string",
        ),
        (
            json!({"userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": "Sales"}),
            ENTERPRISE_USER_SCHEMA,
            "object",
        ),
        (
            json!({"userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": 3}}),
            "enterprise:2.0:User:department",
            "string",
        ),
    ];
    for (body, attr, expected) in cases {
        let msg = invalid_value(user(body.clone()));
        assert!(
            msg.contains(attr) && msg.contains(expected),
            "{body}: {msg}"
        );
    }
}

fn attr(kind: AttrType) -> Attribute {
    Attribute {
        name: "x".into(),
        kind,
        multi_valued: false,
        description: None,
        required: false,
        case_exact: false,
        canonical_values: vec![],
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        reference_types: vec![],
        sub_attributes: vec![],
    }
}

#[test]
fn scalar_types_no_schema_of_ours_uses_yet() {
    let ok = |kind, v: Value| norm_single(&attr(kind), &v, "x").unwrap();
    let err = |kind, v: Value| match norm_single(&attr(kind), &v, "x") {
        Err(ScimError::InvalidValue(m)) => m,
        other => panic!("{v}: {other:?}"),
    };
    assert_eq!(ok(AttrType::Integer, json!(42)), Some(json!(42)));
    assert_eq!(ok(AttrType::Integer, json!(-1)), Some(json!(-1)));
    assert!(err(AttrType::Integer, json!(1.5)).contains("integer"));
    assert!(err(AttrType::Integer, json!("42")).contains("integer"));
    assert_eq!(ok(AttrType::Decimal, json!(1.5)), Some(json!(1.5)));
    assert_eq!(ok(AttrType::Decimal, json!(2)), Some(json!(2)));
    assert!(err(AttrType::Decimal, json!("1.5")).contains("number"));
    let t = json!("2024-05-01T10:00:00.123+02:00");
    assert_eq!(ok(AttrType::DateTime, t.clone()), Some(t));
    assert!(err(AttrType::DateTime, json!("2024-05-01")).contains("date-time"));
    assert!(err(AttrType::DateTime, json!("yesterday")).contains("date-time"));
    assert!(err(AttrType::DateTime, json!(1714557600)).contains("date-time"));
    assert_eq!(ok(AttrType::Binary, json!("TWFu")), Some(json!("TWFu")));
    assert!(err(AttrType::Binary, json!([1, 2])).contains("string"));
}

#[test]
fn a_lone_value_is_wrapped_for_a_multi_valued_attribute() {
    let inc =
        user(json!({"userName": "a", "emails": {"value": "a@x.io", "type": "work"}})).unwrap();
    assert_eq!(
        inc.doc["emails"],
        json!([{"value": "a@x.io", "type": "work"}])
    );
}

#[test]
fn a_one_element_array_is_unwrapped_for_a_single_valued_attribute() {
    let inc =
        user(json!({"userName": ["a"], "name": [{"givenName": "Ann"}], "title": []})).unwrap();
    assert_eq!(inc.doc["userName"], json!("a"));
    assert_eq!(inc.doc["name"], json!({"givenName": "Ann"}));
    assert!(!inc.doc.contains_key("title"));
    let msg = invalid_value(user(json!({"userName": "a", "displayName": ["A", "B"]})));
    assert!(
        msg.contains("displayName") && msg.contains("single-valued"),
        "{msg}"
    );
}

#[test]
fn at_most_one_primary() {
    let msg = invalid_value(user(json!({
        "userName": "a",
        "emails": [
            {"value": "a@x.io", "primary": true},
            {"value": "b@x.io", "primary": "True"}
        ]
    })));
    assert!(msg.contains("emails") && msg.contains("primary"), "{msg}");
    let ok = user(json!({
        "userName": "a",
        "emails": [{"value": "a@x.io", "primary": true}, {"value": "b@x.io", "primary": false}]
    }));
    assert!(ok.is_ok());
}

#[test]
fn required_attributes() {
    for body in [
        json!({"name": {"givenName": "Ann"}}),
        json!({"userName": ""}),
        json!({"userName": "   "}),
        json!({"userName": null}),
        json!({"userName": []}),
    ] {
        assert_eq!(invalid_value(user(body)), "userName is required");
    }
    assert_eq!(
        invalid_value(group(json!({"members": []}))),
        "displayName is required"
    );
    assert_eq!(
        invalid_value(group(json!({"displayName": ""}))),
        "displayName is required"
    );
}

#[test]
fn password_must_be_a_string() {
    let msg = invalid_value(user(json!({"userName": "a", "password": 1234})));
    assert!(msg.contains("password") && !msg.contains("1234"), "{msg}");
    let inc = user(json!({"userName": "a", "PassWord": "s3cret"})).unwrap();
    assert_eq!(inc.password.as_deref(), Some("s3cret"));
    assert!(!inc.doc.contains_key("password"));
}

#[test]
fn group_members_are_taken_out_of_the_document() {
    let inc = group(json!({
        "schemas": [GROUP_SCHEMA],
        "displayName": "Engineering",
        "externalId": "okta-00g1",
        "members": [
            {"value": "u-1", "display": "Ann Lee", "$ref": "http://host/scim/v2/Users/u-1"},
            {"value": "g-2", "type": "group"},
            {"value": "u-3", "type": "User"},
            null
        ]
    }))
    .unwrap();
    assert_eq!(
        Value::Object(inc.doc),
        json!({"externalId": "okta-00g1", "displayName": "Engineering"})
    );
    assert_eq!(
        inc.members.unwrap(),
        vec![
            MemberRef {
                value: "u-1".into(),
                kind: None
            },
            MemberRef {
                value: "g-2".into(),
                kind: Some("Group".into())
            },
            MemberRef {
                value: "u-3".into(),
                kind: Some("User".into())
            },
        ]
    );
    let inc = group(json!({"displayName": "Empty", "members": []})).unwrap();
    assert_eq!(inc.members, Some(vec![]));
    let inc = group(json!({"displayName": "Unsaid"})).unwrap();
    assert_eq!(inc.members, None);
    let inc = group(json!({"displayName": "Null", "members": null})).unwrap();
    assert_eq!(inc.members, None);
    // A single member object is a list of one.
    let inc = group(json!({"displayName": "One", "Members": {"Value": "u-1"}})).unwrap();
    assert_eq!(inc.members.unwrap().len(), 1);
}

#[test]
fn group_member_without_value_is_invalid() {
    for members in [
        json!([{"display": "Ann"}]),
        json!([{"value": ""}]),
        json!([{}]),
        json!([{"value": 7}]),
        json!(["u-1"]),
    ] {
        let msg = invalid_value(group(json!({"displayName": "G", "members": members})));
        assert!(msg.contains("members"), "{msg}");
    }
}

#[test]
fn entra_manager_as_a_bare_id() {
    let inc = user(json!({
        "userName": "a",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": "m-7"}
    }))
    .unwrap();
    assert_eq!(
        inc.doc[ENTERPRISE_USER_SCHEMA],
        json!({"manager": {"value": "m-7"}})
    );
}

#[test]
fn an_extension_left_empty_is_dropped() {
    let inc = user(json!({
        "userName": "a",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"displayName": "Boss"}},
        "urn:ietf:params:scim:schemas:extension:rollcall:2.0:User": {"teams": []}
    }))
    .unwrap();
    assert_eq!(Value::Object(inc.doc), json!({"userName": "a"}));
}

#[test]
fn body_must_be_an_object() {
    for body in [json!([]), json!("x"), json!(null), json!(1)] {
        assert!(matches!(user(body), Err(ScimError::InvalidSyntax(_))));
    }
}

/// What the server stores and renders, turned back into a body as a PUT or PATCH would.
fn round_trip(kind: ResourceKind, body: Value) {
    let r = reg();
    let rt = r.resource_type(kind);
    let first = normalize(&r, rt, &body).unwrap();
    let mut extra = vec![];
    if let Some(members) = &first.members {
        let members = members
            .iter()
            .map(|m| json!({"value": m.value, "type": m.kind, "display": "shown"}))
            .collect();
        extra.push(("members", Value::Array(members)));
    }
    let rendered = render(&r, rt, "id-1", &first.doc, &meta(), extra, Returning::All);
    let second = normalize(&r, rt, &Value::Object(rendered)).unwrap();
    assert_eq!(second.doc, first.doc);
    assert_eq!(second.members, first.members);
    let third = normalize(&r, rt, &Value::Object(first.doc.clone())).unwrap();
    assert_eq!(third.doc, first.doc);
    assert_eq!(third.password, None);
}

#[test]
fn normalize_is_idempotent() {
    round_trip(ResourceKind::User, okta_post());
    round_trip(ResourceKind::User, entra_post());
    round_trip(ResourceKind::User, google_post());
    round_trip(
        ResourceKind::Group,
        json!({"displayName": "G", "members": [{"value": "u-1", "type": "user"}]}),
    );
}

#[test]
fn check_immutable_on_documents() {
    let r = reg();
    let rt = r.resource_type(ResourceKind::User);
    let old = user(entra_post()).unwrap().doc;
    let mut new = old.clone();
    new.insert("userName".into(), json!("renamed"));
    assert!(check_immutable(&r, rt, &old, &new).is_ok());
    assert!(check_immutable(&r, rt, &Map::new(), &new).is_ok());
}

#[test]
fn immutable_values_may_be_set_once_but_not_changed() {
    let mut a = attr(AttrType::String);
    a.mutability = Mutability::Immutable;
    assert!(immutable_attr(&a, None, Some(&json!("v1")), "x").is_ok());
    assert!(immutable_attr(&a, Some(&Value::Null), Some(&json!("v1")), "x").is_ok());
    assert!(immutable_attr(&a, Some(&json!("v1")), Some(&json!("v1")), "x").is_ok());
    // Not caseExact: a change of case is no change.
    assert!(immutable_attr(&a, Some(&json!("v1")), Some(&json!("V1")), "x").is_ok());
    for new in [Some(json!("v2")), None, Some(json!(2))] {
        match immutable_attr(&a, Some(&json!("v1")), new.as_ref(), "x") {
            Err(ScimError::Mutability(m)) => assert!(m.contains('x'), "{m}"),
            other => panic!("{new:?}: {other:?}"),
        }
    }
    a.case_exact = true;
    assert!(immutable_attr(&a, Some(&json!("v1")), Some(&json!("V1")), "x").is_err());

    // An immutable sub-attribute of a single-valued complex attribute.
    let mut c = attr(AttrType::Complex);
    let mut sub = attr(AttrType::String);
    sub.name = "code".into();
    sub.mutability = Mutability::Immutable;
    c.sub_attributes = vec![sub, attr(AttrType::String)];
    let old = json!({"code": "A", "x": "1"});
    assert!(immutable_attr(&c, Some(&old), Some(&json!({"code": "A", "x": "2"})), "c").is_ok());
    match immutable_attr(&c, Some(&old), Some(&json!({"code": "B"})), "c") {
        Err(ScimError::Mutability(m)) => assert!(m.contains("c.code"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn render_orders_keys_and_fills_meta() {
    let r = reg();
    let rt = r.resource_type(ResourceKind::User);
    let inc = user(entra_post()).unwrap();
    let groups = json!([{"value": "g-1", "display": "Admins", "type": "direct"}]);
    let out = render(
        &r,
        rt,
        "42",
        &inc.doc,
        &meta(),
        vec![("groups", groups.clone())],
        Returning::All,
    );
    let keys: Vec<&str> = out.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "schemas",
            "id",
            "externalId",
            "userName",
            "name",
            "active",
            "emails",
            ENTERPRISE_USER_SCHEMA,
            "groups",
            "meta"
        ]
    );
    assert_eq!(out["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
    assert_eq!(out["id"], json!("42"));
    assert_eq!(out["groups"], groups);
    assert_eq!(
        out["meta"],
        json!({
            "resourceType": "User",
            "created": "2024-05-01T10:00:00Z",
            "lastModified": "2024-05-02T10:00:00Z",
            "location": "http://host/scim/v2/Users/42",
            "version": "W/\"3\""
        })
    );
    let g = r.resource_type(ResourceKind::Group);
    let out = render(&r, g, "g", &Map::new(), &meta(), vec![], Returning::All);
    assert_eq!(out["schemas"], json!([GROUP_SCHEMA]));
    assert_eq!(out["meta"]["resourceType"], json!("Group"));
}

#[test]
fn render_never_returns_returned_never() {
    let r = reg();
    let rt = r.resource_type(ResourceKind::User);
    let mut doc = Map::new();
    doc.insert("userName".into(), json!("a"));
    doc.insert("password".into(), json!("leaked?"));
    let out = render(
        &r,
        rt,
        "1",
        &doc,
        &meta(),
        vec![("password", json!("leaked?"))],
        Returning::All,
    );
    assert!(!out.contains_key("password"));
    assert!(!Value::Object(out).to_string().contains("leaked"));
}

/// Arbitrary JSON, with keys drawn mostly from real attribute names in odd cases so
/// the generator reaches deep into the schema.
fn arb_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("userName".to_string()),
        Just("USERNAME".to_string()),
        Just("name".to_string()),
        Just("givenName".to_string()),
        Just("name.givenName".to_string()),
        Just("emails".to_string()),
        Just("value".to_string()),
        Just("primary".to_string()),
        Just("type".to_string()),
        Just("active".to_string()),
        Just("password".to_string()),
        Just("members".to_string()),
        Just("displayName".to_string()),
        Just("groups".to_string()),
        Just("manager".to_string()),
        Just("meta".to_string()),
        Just("x509Certificates".to_string()),
        Just(ENTERPRISE_USER_SCHEMA.to_string()),
        Just(format!("{ENTERPRISE_USER_SCHEMA}:manager.value")),
        Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:".to_string()),
        ".{0,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop_oneof![
            Just("True".to_string()),
            Just("2024-01-01T00:00:00Z".to_string()),
            ".{0,8}"
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A top-level object that passes the required checks, so idempotence is exercised
/// on many accepted documents rather than on the few random ones that pass.
fn arb_body() -> impl Strategy<Value = Value> {
    prop::collection::vec(arb_json(), 1..4).prop_map(|parts| {
        let mut body = Map::new();
        for part in parts {
            if let Value::Object(obj) = part {
                body.extend(obj);
            }
        }
        body.insert("userName".into(), json!("u"));
        body.insert("displayName".into(), json!("g"));
        Value::Object(body)
    })
}

/// `name` with the letters whose bit is set in `mask` flipped in case.
fn recase(name: &str, mask: u32) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 32) & 1 == 1 {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            } else {
                c
            }
        })
        .collect()
}

/// Bodies shaped like what IdPs send, with their quirks mixed in at random: odd key
/// case, string booleans, nulls, lone values for arrays, one-element arrays for single
/// values, bare manager ids, dotted and URN-qualified keys.
fn arb_idp_body() -> impl Strategy<Value = Value> {
    let text = prop_oneof![
        Just(json!("Ann")),
        Just(json!("")),
        Just(Value::Null),
        ".{0,6}".prop_map(Value::String)
    ];
    let boolish = prop_oneof![
        Just(json!(true)),
        Just(json!(false)),
        Just(json!("True")),
        Just(json!("false")),
        Just(Value::Null),
    ];
    let email = (
        text.clone(),
        prop_oneof![Just(json!("work")), Just(json!("home"))],
        boolish.clone(),
    )
        .prop_map(|(v, t, p)| json!({"value": v, "type": t, "primary": p}));
    let emails = prop_oneof![
        prop::collection::vec(email.clone(), 0..3).prop_map(Value::Array),
        email,
        Just(Value::Null),
    ];
    let name = (text.clone(), text.clone(), any::<bool>()).prop_map(|(g, f, wrap)| {
        let n = json!({"givenName": g, "familyName": f});
        if wrap { json!([n]) } else { n }
    });
    let manager = prop_oneof![
        Just(json!("m-1")),
        Just(json!({"value": "m-2", "displayName": "Boss"})),
        Just(json!({"$ref": null, "value": "m-3"})),
        Just(Value::Null),
    ];
    let member = (
        text.clone(),
        prop_oneof![Just(json!("User")), Just(json!("group")), Just(Value::Null)],
    )
        .prop_map(|(v, t)| json!({"value": v, "type": t, "display": "x"}));
    let fields = (
        text.clone(),
        name,
        emails,
        boolish,
        (text.clone(), manager),
        prop::collection::vec(member, 0..3),
        text,
        any::<u32>(),
        0u8..4,
    );
    fields.prop_map(
        |(user_name, name, emails, active, (dept, manager), members, given, mask, style)| {
            let mut body = Map::new();
            body.insert(recase("userName", mask), user_name.clone());
            body.insert(recase("displayName", mask.rotate_left(3)), user_name);
            body.insert(recase("name", mask.rotate_left(7)), name);
            body.insert(recase("emails", mask.rotate_left(11)), emails);
            body.insert(recase("active", mask.rotate_left(13)), active);
            body.insert(
                recase("members", mask.rotate_left(17)),
                Value::Array(members),
            );
            match style {
                0 => {
                    body.insert(
                        recase(ENTERPRISE_USER_SCHEMA, mask),
                        json!({"department": dept, "manager": manager}),
                    );
                }
                1 => {
                    body.insert(format!("{ENTERPRISE_USER_SCHEMA}:department"), dept);
                    body.insert(format!("{ENTERPRISE_USER_SCHEMA}:manager"), manager);
                }
                2 => {
                    body.insert("name.givenName".into(), given);
                }
                _ => {
                    body.insert("id".into(), json!("client-id"));
                    body.insert("meta".into(), json!({"resourceType": "User"}));
                    body.insert("groups".into(), json!([{"value": "g"}]));
                }
            }
            Value::Object(body)
        },
    )
}

proptest! {
    #[test]
    fn normalize_never_panics_and_is_idempotent(
        body in prop_oneof![arb_json(), arb_body(), arb_idp_body()]
    ) {
        let r = reg();
        for kind in [ResourceKind::User, ResourceKind::Group] {
            let rt = r.resource_type(kind);
            if let Ok(first) = normalize(&r, rt, &body) {
                let again = normalize(&r, rt, &Value::Object(first.doc.clone()));
                prop_assert_eq!(again.map(|i| i.doc), Ok(first.doc));
            }
        }
    }
}
