//! PATCH engine tests: the RFC 7644 §3.5.2 rules, then the bodies Okta, Entra ID and
//! Google send, then apply + normalize end to end, atomicity, and a never-panics property.

use super::*;
use crate::resource::normalize;
use crate::schema::{ENTERPRISE_USER_SCHEMA as ENT, Registry, ResourceKind};
use proptest::prelude::*;
use serde_json::json;

pub(crate) fn reg() -> Registry {
    Registry::load().unwrap()
}

pub(crate) fn body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

/// A stored (canonical) user document.
fn bjensen() -> Value {
    json!({
        "userName": "bjensen@example.com",
        "externalId": "bjensen",
        "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara"},
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
        ENT: {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d"}
        }
    })
}

/// A freshly provisioned user with little more than a userName.
fn jdoe() -> Value {
    json!({"userName": "jdoe@example.com", "active": true})
}

fn group() -> Value {
    json!({"displayName": "Engineering", "externalId": "eng"})
}

fn run(kind: ResourceKind, doc: &Value, request: Value) -> Result<(Value, Outcome), ScimError> {
    let r = reg();
    let rt = r.resource_type(kind);
    let ops = parse_request(&request)?;
    let mut d = obj(doc.clone());
    let outcome = apply(&r, rt, &mut d, &ops)?;
    Ok((Value::Object(d), outcome))
}

/// PATCHes a user; a user PATCH never yields member changes.
fn patch_user(doc: &Value, ops: Value) -> Result<Value, ScimError> {
    let (doc, outcome) = run(ResourceKind::User, doc, body(ops))?;
    assert!(outcome.members.is_empty());
    Ok(doc)
}

fn ok_user(doc: &Value, ops: Value) -> Value {
    patch_user(doc, ops).unwrap_or_else(|e| panic!("{e:?}"))
}

fn patch_group(doc: &Value, ops: Value) -> Result<(Value, Vec<MemberChange>), ScimError> {
    run(ResourceKind::Group, doc, body(ops)).map(|(d, o)| (d, o.members))
}

fn ok_group(ops: Value) -> (Value, Vec<MemberChange>) {
    patch_group(&group(), ops).unwrap_or_else(|e| panic!("{e:?}"))
}

/// What the caller stores: the PATCH result after `resource::normalize`.
fn normalized(kind: ResourceKind, doc: &Value) -> crate::resource::Incoming {
    let r = reg();
    normalize(&r, r.resource_type(kind), doc).unwrap_or_else(|e| panic!("{e:?}"))
}

fn member(id: &str) -> MemberRef {
    MemberRef {
        value: id.into(),
        kind: None,
    }
}

fn ids(list: &[&str]) -> MemberChange {
    MemberChange::Remove(list.iter().map(|s| s.to_string()).collect())
}

#[track_caller]
fn assert_err(result: Result<impl std::fmt::Debug, ScimError>, scim_type: &str, detail: &str) {
    match result {
        Err(e) => {
            assert_eq!(e.scim_type(), scim_type, "{e:?}");
            assert!(
                e.detail().contains(detail),
                "{:?} lacks {detail:?}",
                e.detail()
            );
        }
        Ok(v) => panic!("expected {scim_type}, got {v:?}"),
    }
}

// ---------------------------------------------------------------- parse_request

#[test]
fn parses_the_rfc_body() {
    let ops = parse_request(&body(json!([
        {"op": "add", "path": "nickName", "value": "Babs"},
        {"op": "remove", "path": "emails[type eq \"home\"]"},
        {"op": "replace", "value": {"title": "x"}}
    ])))
    .unwrap();
    assert_eq!(ops.len(), 3);
    assert_eq!(ops[0].op, OpKind::Add);
    assert_eq!(ops[0].path.as_ref().unwrap().attr.name, "nickName");
    assert_eq!(ops[0].value, Some(json!("Babs")));
    assert_eq!(ops[1].op, OpKind::Remove);
    assert!(ops[1].path.as_ref().unwrap().filter.is_some());
    assert_eq!(ops[1].value, None);
    assert_eq!(ops[2].op, OpKind::Replace);
    assert!(ops[2].path.is_none());
}

#[test]
fn parse_is_lenient_where_idps_need_it() {
    let cases = [
        // Member names in any case; op names in any case (Entra: "Add", "Replace").
        json!({"schemas": [PATCH_OP_SCHEMA], "operations": [{"Op": "Add", "Path": "title", "Value": "x"}]}),
        json!({"SCHEMAS": [PATCH_OP_SCHEMA.to_uppercase()], "OPERATIONS": [{"op": "REPLACE", "path": "title", "value": "x"}]}),
        json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": " replace ", "path": "title", "value": "x"}]}),
    ];
    for case in cases {
        let ops = parse_request(&case).unwrap_or_else(|e| panic!("{case}: {e:?}"));
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].value, Some(json!("x")));
    }
    // An empty or null path is no path.
    for path in [json!(""), json!("  "), Value::Null] {
        let ops = parse_request(&body(
            json!([{"op": "replace", "path": path, "value": {"title": "x"}}]),
        ))
        .unwrap();
        assert!(ops[0].path.is_none());
    }
    // remove needs no value; null is a value.
    let ops = parse_request(&body(json!([{"op": "remove", "path": "title"}, {"op": "replace", "path": "title", "value": null}]))).unwrap();
    assert_eq!(ops[0].value, None);
    assert_eq!(ops[1].value, Some(Value::Null));
}

#[test]
fn parse_errors() {
    let op = |o: Value| body(json!([o]));
    let cases = [
        (json!([]), "invalidSyntax", "must be a JSON object"),
        (json!("add"), "invalidSyntax", "must be a JSON object"),
        (
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": [{"op": "add", "path": "title", "value": "x"}]}),
            "invalidSyntax",
            "\"schemas\" must be an array that contains \"urn:ietf:params:scim:api:messages:2.0:PatchOp\"",
        ),
        (
            json!({"schemas": 7, "Operations": []}),
            "invalidSyntax",
            "\"schemas\" must be an array that contains",
        ),
        // RFC 7644 §3.5.2: a PatchOp names its schema, in an array.
        (
            json!({"Operations": [{"op": "add", "path": "title", "value": "x"}]}),
            "invalidSyntax",
            "\"schemas\" must be an array that contains",
        ),
        (
            json!({"schemas": null, "Operations": [{"op": "add", "path": "title", "value": "x"}]}),
            "invalidSyntax",
            "\"schemas\" must be an array that contains",
        ),
        (
            json!({"schemas": PATCH_OP_SCHEMA, "Operations": [{"op": "add", "path": "title", "value": "x"}]}),
            "invalidSyntax",
            "\"schemas\" must be an array that contains",
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA]}),
            "invalidSyntax",
            "needs \"Operations\"",
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": {"op": "add"}}),
            "invalidSyntax",
            "\"Operations\" must be an array",
        ),
        (body(json!([])), "invalidSyntax", "at least one operation"),
        (
            op(json!("add")),
            "invalidSyntax",
            "Operations[0]: an operation must be a JSON object",
        ),
        (
            op(json!({"path": "title", "value": "x"})),
            "invalidSyntax",
            "needs \"op\"",
        ),
        (
            op(json!({"op": 1, "path": "title", "value": "x"})),
            "invalidSyntax",
            "\"op\" must be a string",
        ),
        (
            op(json!({"op": "merge", "path": "title", "value": "x"})),
            "invalidSyntax",
            "unknown op \"merge\": expected \"add\", \"remove\" or \"replace\"",
        ),
        (
            op(json!({"op": "add", "path": "title"})),
            "invalidSyntax",
            "\"add\" needs a \"value\"",
        ),
        (
            op(json!({"op": "replace"})),
            "invalidSyntax",
            "\"replace\" needs a \"value\"",
        ),
        (
            op(json!({"op": "add", "path": 5, "value": "x"})),
            "invalidPath",
            "\"path\" must be a string",
        ),
        (
            op(json!({"op": "add", "path": "emails[type eq", "value": "x"})),
            "invalidPath",
            "Operations[0]: invalid path at character",
        ),
    ];
    for (request, scim_type, detail) in cases {
        assert_err(parse_request(&request), scim_type, detail);
    }
    // The index names the failing operation; a long op name is cut short.
    let long = "x".repeat(500);
    let request =
        body(json!([{"op": "add", "path": "title", "value": "x"}, {"op": long, "value": 1}]));
    let err = parse_request(&request).unwrap_err();
    assert!(
        err.detail().starts_with("Operations[1]: unknown op \"xxx"),
        "{err:?}"
    );
    assert!(err.detail().len() < 150, "{err:?}");
}

#[test]
fn operation_count_is_limited() {
    let one = json!({"op": "replace", "path": "title", "value": "x"});
    let ops = parse_request(&body(Value::Array(vec![one.clone(); MAX_OPERATIONS]))).unwrap();
    assert_eq!(ops.len(), MAX_OPERATIONS);
    let r = reg();
    let mut doc = obj(jdoe());
    apply(&r, r.resource_type(ResourceKind::User), &mut doc, &ops).unwrap();
    assert_err(
        parse_request(&body(Value::Array(vec![one; MAX_OPERATIONS + 1]))),
        "tooMany",
        "at most 1000 operations, got 1001",
    );
    let mut too_many = ops.clone();
    too_many.push(ops[0].clone());
    assert_err(
        apply(&r, r.resource_type(ResourceKind::User), &mut doc, &too_many),
        "tooMany",
        "at most 1000",
    );
}

// ---------------------------------------------------------------- add (§3.5.2.1)

#[test]
fn add_simple_attributes() {
    let doc = ok_user(
        &jdoe(),
        json!([
            {"op": "add", "path": "nickName", "value": "Babs"},
            {"op": "add", "path": "title", "value": "Guide"},
            {"op": "add", "path": "title", "value": "Senior Guide"}
        ]),
    );
    assert_eq!(doc["nickName"], "Babs");
    // "If the target location specifies a single-valued attribute, the existing value is replaced."
    assert_eq!(doc["title"], "Senior Guide");
    // Adding null adds nothing.
    let doc = ok_user(
        &bjensen(),
        json!([{"op": "add", "path": "title", "value": null}]),
    );
    assert_eq!(doc, bjensen());
}

#[test]
fn add_sub_attribute_and_complex_merge() {
    let doc = ok_user(
        &jdoe(),
        json!([{"op": "add", "path": "name.givenName", "value": "John"}]),
    );
    assert_eq!(doc["name"], json!({"givenName": "John"}));
    let doc = ok_user(
        &bjensen(),
        json!([
            {"op": "add", "path": "name", "value": {"GIVENNAME": "Babs", "middleName": "J"}}
        ]),
    );
    assert_eq!(
        doc["name"],
        json!({"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Babs", "middleName": "J"})
    );
    assert_err(
        patch_user(
            &bjensen(),
            json!([{"op": "add", "path": "name", "value": 5}]),
        ),
        "invalidValue",
        "name takes an object of sub-attributes, got a number",
    );
}

#[test]
fn add_to_multi_valued_appends_once() {
    // One value or an array; an equal value (ignoring case where the schema does, and
    // "True" vs true) is not added twice.
    let doc = ok_user(
        &bjensen(),
        json!([
            {"op": "add", "path": "emails", "value": {"value": "b@x.org", "type": "other"}},
            {"op": "add", "path": "emails", "value": [{"value": "B@X.ORG", "type": "other"}, {"value": "babs@jensen.org", "type": "home"}]},
            {"op": "add", "path": "phoneNumbers", "value": []}
        ]),
    );
    let emails = doc["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 3);
    assert_eq!(emails[2], json!({"value": "b@x.org", "type": "other"}));
    assert_eq!(doc["phoneNumbers"], bjensen()["phoneNumbers"]);
    // Into an absent attribute.
    let doc = ok_user(
        &jdoe(),
        json!([{"op": "add", "path": "emails", "value": [{"value": "j@x.org", "type": "work"}]}]),
    );
    assert_eq!(doc["emails"], json!([{"value": "j@x.org", "type": "work"}]));
}

#[test]
fn a_new_primary_demotes_the_others() {
    // RFC 7644 §3.5.2: primary true on a new value sets the others' primary to false.
    let doc = ok_user(
        &bjensen(),
        json!([
            {"op": "add", "path": "emails", "value": [{"value": "new@x.org", "type": "work", "primary": true}]}
        ]),
    );
    assert_eq!(
        doc["emails"],
        json!([
            {"value": "bjensen@example.com", "type": "work", "primary": false},
            {"value": "babs@jensen.org", "type": "home"},
            {"value": "new@x.org", "type": "work", "primary": true}
        ])
    );
    // Re-adding an existing value as primary promotes it instead of duplicating it.
    let doc = ok_user(
        &bjensen(),
        json!([
            {"op": "add", "path": "emails", "value": {"value": "babs@jensen.org", "type": "home", "primary": "True"}}
        ]),
    );
    assert_eq!(
        doc["emails"],
        json!([
            {"value": "bjensen@example.com", "type": "work", "primary": false},
            {"value": "babs@jensen.org", "type": "home", "primary": true}
        ])
    );
    // Through a value filter too.
    let doc = ok_user(
        &bjensen(),
        json!([
            {"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}
        ]),
    );
    assert_eq!(doc["emails"][0]["primary"], false);
    assert_eq!(doc["emails"][1]["primary"], true);
}

#[test]
fn add_extension_attributes() {
    let doc = ok_user(
        &jdoe(),
        json!([
            {"op": "add", "path": format!("{ENT}:department"), "value": "Sales"},
            {"op": "add", "path": format!("{}:costCenter", ENT.to_lowercase()), "value": "4130"}
        ]),
    );
    assert_eq!(
        doc[ENT],
        json!({"department": "Sales", "costCenter": "4130"})
    );
    // A bare extension URN path with an object merges into the extension.
    let doc = ok_user(
        &bjensen(),
        json!([
            {"op": "add", "path": ENT, "value": {"division": "Theme Park", "Department": "Rides", "nonsense": 1, "manager.value": "m2"}}
        ]),
    );
    assert_eq!(
        doc[ENT],
        json!({"employeeNumber": "701984", "department": "Rides", "manager": {"value": "m2"}, "division": "Theme Park"})
    );
    assert_err(
        patch_user(
            &bjensen(),
            json!([{"op": "add", "path": ENT, "value": "x"}]),
        ),
        "invalidValue",
        "must be an object of its attributes",
    );
}

// ---------------------------------------------------------------- replace (§3.5.2.3)

#[test]
fn replace_rules() {
    let doc = ok_user(
        &bjensen(),
        json!([
            {"op": "replace", "path": "displayName", "value": "Barbara"},
            // Multi-valued without a filter: "the attribute and all values are replaced".
            {"op": "replace", "path": "emails", "value": [{"value": "only@x.org", "type": "work"}]},
            // Complex: given sub-attributes replaced, the others left unchanged.
            {"op": "replace", "path": "name", "value": {"givenName": "Babs"}},
            // An attribute that does not exist: treated as add.
            {"op": "replace", "path": "nickName", "value": "B"},
            // null unassigns (RFC 7643 §2.5).
            {"op": "replace", "path": "title", "value": null},
            {"op": "replace", "path": "phoneNumbers", "value": []}
        ]),
    );
    assert_eq!(doc["displayName"], "Barbara");
    assert_eq!(
        doc["emails"],
        json!([{"value": "only@x.org", "type": "work"}])
    );
    assert_eq!(doc["name"]["givenName"], "Babs");
    assert_eq!(doc["name"]["familyName"], "Jensen");
    assert_eq!(doc["nickName"], "B");
    assert!(doc.get("title").is_none());
    assert!(doc.get("phoneNumbers").is_none());
}

#[test]
fn replace_with_a_value_filter() {
    // With a sub-attribute: the sub-attribute of every matched element.
    let doc = ok_user(
        &bjensen(),
        json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "babs@example.com"}
        ]),
    );
    assert_eq!(
        doc["emails"][0],
        json!({"value": "babs@example.com", "type": "work", "primary": true})
    );
    assert_eq!(doc["emails"][1], bjensen()["emails"][1]);
    // Without: the value is merged into the matched elements (type and primary stay).
    let doc = ok_user(
        &bjensen(),
        json!([
            {"op": "replace", "path": "emails[type eq \"work\"]", "value": {"value": "babs@example.com"}}
        ]),
    );
    assert_eq!(
        doc["emails"][0],
        json!({"value": "babs@example.com", "type": "work", "primary": true})
    );
    // Filters compare case-insensitively unless caseExact (RFC 7644 §3.4.2.2).
    let doc = ok_user(
        &bjensen(),
        json!([
            {"op": "replace", "path": "emails[value eq \"BJENSEN@EXAMPLE.COM\"].type", "value": "other"}
        ]),
    );
    assert_eq!(doc["emails"][0]["type"], "other");
    // Every matched element.
    let doc = ok_user(
        &bjensen(),
        json!([
            {"op": "replace", "path": "emails[value pr].type", "value": "other"}
        ]),
    );
    assert!(
        doc["emails"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] == "other")
    );
}

#[test]
fn filter_matching_nothing() {
    // add and replace create the element an `eq`-only filter describes (Entra); other
    // filters get noTarget (RFC 7644 §3.5.2.3).
    for op in ["add", "replace"] {
        let doc = ok_user(
            &bjensen(),
            json!([
                {"op": op, "path": "phoneNumbers[type eq \"mobile\" and primary eq false].value", "value": "555-1"}
            ]),
        );
        assert_eq!(
            doc["phoneNumbers"][1],
            json!({"type": "mobile", "primary": false, "value": "555-1"})
        );
        let doc = ok_user(
            &jdoe(),
            json!([
                {"op": op, "path": "emails[type eq \"work\"]", "value": {"value": "j@x.org", "primary": true}}
            ]),
        );
        assert_eq!(
            doc["emails"],
            json!([{"type": "work", "value": "j@x.org", "primary": true}])
        );
        for filter in [
            "type ne \"work\"",
            "type eq \"work\" or type eq \"home\"",
            "value co \"@\"",
            "not (type eq \"x\")",
        ] {
            assert_err(
                patch_user(
                    &jdoe(),
                    json!([{"op": op, "path": format!("emails[{filter}].value"), "value": "x"}]),
                ),
                "noTarget",
                "does not describe a new one",
            );
        }
    }
    // remove: matched values are removed, and none matched is a no-op (§3.5.2.2 names no
    // failure; retries must succeed).
    let doc = ok_user(
        &bjensen(),
        json!([
            {"op": "remove", "path": "emails[type eq \"other\"]"},
            {"op": "remove", "path": "ims[type eq \"aim\"].value"}
        ]),
    );
    assert_eq!(doc, bjensen());
}

// ---------------------------------------------------------------- remove (§3.5.2.2)

#[test]
fn remove_rules() {
    let doc = ok_user(
        &bjensen(),
        json!([
            {"op": "remove", "path": "title"},
            {"op": "remove", "path": "name.formatted"},
            {"op": "remove", "path": "phoneNumbers"},
            {"op": "remove", "path": format!("{ENT}:department")},
            {"op": "remove", "path": "nickName"}
        ]),
    );
    assert!(doc.get("title").is_none());
    assert_eq!(
        doc["name"],
        json!({"familyName": "Jensen", "givenName": "Barbara"})
    );
    assert!(doc.get("phoneNumbers").is_none());
    assert!(doc[ENT].get("department").is_none());
    // A complex attribute whose last sub-attribute goes is unassigned; so is an
    // extension whose last attribute goes.
    let doc = ok_user(
        &bjensen(),
        json!([
            {"op": "remove", "path": "name.formatted"},
            {"op": "remove", "path": "name.familyName"},
            {"op": "remove", "path": "NAME.GIVENNAME"},
            {"op": "remove", "path": format!("{ENT}:employeeNumber")},
            {"op": "remove", "path": format!("{ENT}:department")},
            {"op": "remove", "path": format!("{ENT}:manager")}
        ]),
    );
    assert!(doc.get("name").is_none());
    assert!(doc.get(ENT).is_none());
    // The whole extension by its URN.
    let doc = ok_user(&bjensen(), json!([{"op": "remove", "path": ENT}]));
    assert!(doc.get(ENT).is_none());
    assert_err(
        patch_user(
            &bjensen(),
            json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:core:2.0:User"}]),
        ),
        "invalidPath",
        "is the resource itself",
    );
}

#[test]
fn remove_with_a_value_filter() {
    let doc = ok_user(
        &bjensen(),
        json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
    );
    assert_eq!(
        doc["emails"],
        json!([{"value": "babs@jensen.org", "type": "home"}])
    );
    // The last matched value goes: the attribute is unassigned.
    let doc = ok_user(
        &bjensen(),
        json!([{"op": "remove", "path": "emails[value ew \".org\" or value ew \".com\"]"}]),
    );
    assert!(doc.get("emails").is_none());
    // A sub-attribute of the matched elements; an email left without its value goes.
    let doc = ok_user(
        &bjensen(),
        json!([{"op": "remove", "path": "emails[type eq \"work\"].value"}]),
    );
    assert_eq!(
        doc["emails"],
        json!([{"value": "babs@jensen.org", "type": "home"}])
    );
    let doc = ok_user(
        &bjensen(),
        json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]),
    );
    assert_eq!(
        doc["emails"][0],
        json!({"value": "bjensen@example.com", "type": "work"})
    );
    let with_address = ok_user(
        &bjensen(),
        json!([
            {"op": "add", "path": "addresses", "value": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood"}]}
        ]),
    );
    let doc = ok_user(
        &with_address,
        json!([{"op": "remove", "path": "addresses[type eq \"work\"].streetAddress"}]),
    );
    assert_eq!(
        doc["addresses"],
        json!([{"type": "work", "locality": "Hollywood"}])
    );
}

#[test]
fn remove_listed_values_of_a_multi_valued_attribute() {
    let doc = ok_user(
        &bjensen(),
        json!([
            {"op": "remove", "path": "emails", "value": [{"value": "BABS@jensen.org"}]}
        ]),
    );
    assert_eq!(
        doc["emails"],
        json!([{"value": "bjensen@example.com", "type": "work", "primary": true}])
    );
    let doc = ok_user(
        &bjensen(),
        json!([{"op": "remove", "path": "emails", "value": []}]),
    );
    assert_eq!(doc, bjensen());
    let doc = ok_user(
        &bjensen(),
        json!([{"op": "remove", "path": "emails", "value": null}]),
    );
    assert!(doc.get("emails").is_none());
}

#[test]
fn remove_errors() {
    // RFC 7644 §3.5.2.2: no path is noTarget; a required attribute is mutability.
    assert_err(
        patch_user(&bjensen(), json!([{"op": "remove"}])),
        "noTarget",
        "needs a \"path\"",
    );
    assert_err(
        patch_user(&bjensen(), json!([{"op": "remove", "path": "userName"}])),
        "mutability",
        "userName is required",
    );
    assert_err(
        patch_user(
            &bjensen(),
            json!([{"op": "replace", "path": "userName", "value": null}]),
        ),
        "mutability",
        "userName is required",
    );
    assert_err(
        patch_group(&group(), json!([{"op": "remove", "path": "displayName"}])),
        "mutability",
        "displayName is required",
    );
}

// ---------------------------------------------------------------- paths

#[test]
fn names_resolve_case_insensitively_to_canonical_ones() {
    let doc = ok_user(
        &jdoe(),
        json!([
            {"op": "add", "path": "NICKNAME", "value": "J"},
            {"op": "add", "path": "Name.FamilyName", "value": "Doe"},
            {"op": "add", "path": "Emails[Type eq \"work\"].VALUE", "value": "j@x.org"},
            {"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:User:title", "value": "T"},
            {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:Manager.Value", "value": "m1"}
        ]),
    );
    assert_eq!(
        doc,
        json!({
            "userName": "jdoe@example.com",
            "active": true,
            "nickName": "J",
            "name": {"familyName": "Doe"},
            "emails": [{"type": "work", "value": "j@x.org"}],
            "title": "T",
            ENT: {"manager": {"value": "m1"}}
        })
    );
}

#[test]
fn path_errors() {
    let cases = [
        (
            json!({"op": "add", "path": "shoeSize", "value": 1}),
            "invalidPath",
            "unknown attribute \"shoeSize\"",
        ),
        (
            json!({"op": "remove", "path": "name.nickname"}),
            "invalidPath",
            "unknown attribute",
        ),
        (
            json!({"op": "add", "path": "department", "value": "x"}),
            "invalidPath",
            "unknown attribute",
        ),
        (
            json!({"op": "add", "path": "urn:example:x:Thing:a", "value": "x"}),
            "invalidPath",
            "unknown schema",
        ),
        (
            json!({"op": "add", "path": "emails[type eq \"work\"].nope", "value": "x"}),
            "invalidPath",
            "unknown attribute \"emails.nope\"",
        ),
        (
            json!({"op": "add", "path": "emails[kind eq \"work\"].value", "value": "x"}),
            "invalidPath",
            "\"kind\" in the filter is not a sub-attribute of emails",
        ),
        (
            json!({"op": "add", "path": "emails[emails.type eq \"work\"].value", "value": "x"}),
            "invalidPath",
            "not a sub-attribute",
        ),
        (
            json!({"op": "add", "path": "name[givenName eq \"x\"].familyName", "value": "x"}),
            "invalidPath",
            "\"name\" is not one",
        ),
        (
            json!({"op": "add", "path": "userName[value eq \"x\"]", "value": "x"}),
            "invalidPath",
            "is not one",
        ),
        (
            json!({"op": "add", "path": "members", "value": [{"value": "u1"}]}),
            "invalidPath",
            "unknown attribute \"members\"",
        ),
        // readOnly paths (RFC 7644 §3.5.2: a client MUST NOT modify them).
        (
            json!({"op": "replace", "path": "id", "value": "x"}),
            "mutability",
            "id is readOnly",
        ),
        (
            json!({"op": "remove", "path": "meta"}),
            "mutability",
            "meta is readOnly",
        ),
        (
            json!({"op": "replace", "path": "meta.lastModified", "value": "2020-01-01T00:00:00Z"}),
            "mutability",
            "meta.lastModified is readOnly",
        ),
        (
            json!({"op": "add", "path": "groups", "value": [{"value": "g1"}]}),
            "mutability",
            "groups is readOnly",
        ),
        (
            json!({"op": "remove", "path": "groups[value eq \"g1\"]"}),
            "mutability",
            "readOnly",
        ),
        (
            json!({"op": "add", "path": "groups[value eq \"g1\"].display", "value": "x"}),
            "mutability",
            "groups[value eq \"g1\"].display is readOnly",
        ),
        (
            json!({"op": "replace", "path": format!("{ENT}:manager.displayName"), "value": "x"}),
            "mutability",
            "manager.displayName is readOnly",
        ),
    ];
    for (op, scim_type, detail) in cases {
        assert_err(patch_user(&bjensen(), json!([op])), scim_type, detail);
    }
}

#[test]
fn schemas_path_is_accepted_and_changes_nothing() {
    let doc = ok_user(
        &bjensen(),
        json!([
            {"op": "add", "path": "schemas", "value": [ENT]},
            {"op": "replace", "value": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}}
        ]),
    );
    assert_eq!(doc, bjensen());
}

// ---------------------------------------------------------------- no path

#[test]
fn no_path_keys_are_paths() {
    let doc = ok_user(
        &bjensen(),
        json!([{"op": "replace", "value": {
            "displayName": "Barbara",
            "name.givenName": "Babs",
            "NAME.familyName": "J",
            "emails[type eq \"work\"].value": "babs@example.com",
            format!("{ENT}:department"): "Rides",
            ENT: {"employeeNumber": "1", "manager": "m2"},
            "urn:ietf:params:scim:schemas:core:2.0:User:title": "Lead",
            "urn:ietf:params:scim:schemas:core:2.0:User": {"nickName": "B"},
            // readOnly and unknown keys are ignored.
            "id": "x", "meta": {"created": "2020-01-01T00:00:00Z"}, "groups": [{"value": "g"}],
            format!("{ENT}:manager.displayName"): "ignored",
            "shoeSize": 44, "urn:example:x:Thing": {"a": 1}, "emails[": 1, "": 2
        }}]),
    );
    assert_eq!(doc["displayName"], "Barbara");
    assert_eq!(
        doc["name"],
        json!({"formatted": "Ms. Barbara J Jensen III", "familyName": "J", "givenName": "Babs"})
    );
    assert_eq!(
        doc["emails"][0],
        json!({"value": "babs@example.com", "type": "work", "primary": true})
    );
    assert_eq!(doc["title"], "Lead");
    assert_eq!(doc["nickName"], "B");
    assert_eq!(
        doc[ENT],
        json!({"employeeNumber": "1", "department": "Rides", "manager": {"value": "m2"}})
    );
    for key in ["id", "meta", "groups", "shoeSize", "urn:example:x:Thing"] {
        assert!(doc.get(key).is_none(), "{key}");
    }
    // Multi-valued attributes: add appends, replace replaces.
    let added = ok_user(
        &bjensen(),
        json!([{"op": "add", "value": {"emails": [{"value": "n@x.org"}]}}]),
    );
    assert_eq!(added["emails"].as_array().unwrap().len(), 3);
    let replaced = ok_user(
        &bjensen(),
        json!([{"op": "replace", "value": {"emails": [{"value": "n@x.org"}]}}]),
    );
    assert_eq!(replaced["emails"], json!([{"value": "n@x.org"}]));
    assert_err(
        patch_user(&bjensen(), json!([{"op": "replace", "value": "x"}])),
        "invalidValue",
        "without a \"path\", the value of \"replace\" must be an object",
    );
    assert_err(
        patch_user(&bjensen(), json!([{"op": "add", "value": {ENT: 5}}])),
        "invalidValue",
        "must be an object of its attributes",
    );
    // A null extension: replace removes it, add adds nothing.
    let doc = ok_user(&bjensen(), json!([{"op": "replace", "value": {ENT: null}}]));
    assert!(doc.get(ENT).is_none());
    let doc = ok_user(&bjensen(), json!([{"op": "add", "value": {ENT: null}}]));
    assert_eq!(doc, bjensen());
}

#[test]
fn password_stays_in_the_document_for_normalize() {
    let doc = ok_user(
        &bjensen(),
        json!([{"op": "replace", "value": {"password": "t1meMa$heen"}}]),
    );
    assert_eq!(doc["password"], "t1meMa$heen");
    let incoming = normalized(ResourceKind::User, &doc);
    assert_eq!(incoming.password.as_deref(), Some("t1meMa$heen"));
    assert!(!incoming.doc.contains_key("password"));
    let doc = ok_user(
        &bjensen(),
        json!([{"op": "replace", "path": "password", "value": "x"}]),
    );
    assert_eq!(doc["password"], "x");
}

// ---------------------------------------------------------------- enterprise manager

#[test]
fn manager_forms() {
    let id = "26118915-6090-4610-87e4-49d8ca9f808d";
    let path = format!("{ENT}:manager");
    // A bare id (Entra), {"value": id}, or manager.value; a changed value drops the
    // stale $ref.
    for op in [
        json!({"op": "Add", "path": path, "value": "m2"}),
        json!({"op": "replace", "path": path, "value": {"value": "m2"}}),
        json!({"op": "replace", "path": format!("{path}.value"), "value": "m2"}),
        json!({"op": "replace", "path": path, "value": [{"value": "m2"}]}),
    ] {
        let doc = ok_user(&bjensen(), json!([op]));
        assert_eq!(doc[ENT]["manager"], json!({"value": "m2"}), "{op}");
    }
    let doc = ok_user(
        &bjensen(),
        json!([{"op": "replace", "path": path, "value": {"value": id}}]),
    );
    assert_eq!(doc, bjensen());
    let doc = ok_user(&jdoe(), json!([{"op": "add", "path": path, "value": id}]));
    assert_eq!(doc[ENT], json!({"manager": {"value": id}}));
    assert_err(
        patch_user(
            &bjensen(),
            json!([{"op": "replace", "path": path, "value": [{"value": "a"}, {"value": "b"}]}]),
        ),
        "invalidValue",
        "takes one object of sub-attributes, got an array of 2",
    );
}

// ---------------------------------------------------------------- group members

#[test]
fn members_become_member_changes() {
    let u = |ids: &[&str]| MemberChange::Add(ids.iter().map(|i| member(i)).collect());
    let cases = [
        (
            json!([{"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2", "display": "Two"}]}]),
            vec![u(&["u1", "u2"])],
        ),
        (
            json!([{"op": "add", "path": "members", "value": {"value": "u1"}}]),
            vec![u(&["u1"])],
        ),
        (
            json!([{"op": "add", "path": "members", "value": []}]),
            vec![],
        ),
        (
            json!([{"op": "add", "value": {"members": [{"value": "u1"}]}}]),
            vec![u(&["u1"])],
        ),
        (
            json!([{"op": "replace", "value": {"members": [{"value": "u1"}]}}]),
            vec![MemberChange::RemoveAll, u(&["u1"])],
        ),
        (
            json!([{"op": "remove", "path": "members[value eq \"u1\"]"}]),
            vec![ids(&["u1"])],
        ),
        (
            json!([{"op": "remove", "path": "members[value eq \"u1\" or VALUE eq \"u2\" or (value eq \"u3\")]"}]),
            vec![ids(&["u1", "u2", "u3"])],
        ),
        (
            json!([{"op": "remove", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}]),
            vec![ids(&["u1", "u2"])],
        ),
        (
            json!([{"op": "remove", "path": "members", "value": []}]),
            vec![],
        ),
        (
            json!([{"op": "remove", "path": "members"}]),
            vec![MemberChange::RemoveAll],
        ),
        (
            json!([{"op": "remove", "path": "members", "value": null}]),
            vec![MemberChange::RemoveAll],
        ),
        (
            json!([{"op": "replace", "path": "members", "value": [{"value": "u1"}]}]),
            vec![MemberChange::RemoveAll, u(&["u1"])],
        ),
        (
            json!([{"op": "replace", "path": "members", "value": []}]),
            vec![MemberChange::RemoveAll],
        ),
        (
            json!([{"op": "replace", "path": "members[value eq \"u1\"]", "value": {"value": "u2"}}]),
            vec![ids(&["u1"]), u(&["u2"])],
        ),
        (
            json!([{"op": "remove", "path": "members[type eq \"Group\"]"}]),
            vec![MemberChange::RemoveMatching(
                crate::filter::parse("type eq \"Group\"").unwrap(),
            )],
        ),
        (
            json!([{"op": "remove", "path": "members[value eq \"u1\" and type eq \"User\"]"}]),
            vec![MemberChange::RemoveMatching(
                crate::filter::parse("value eq \"u1\" and type eq \"User\"").unwrap(),
            )],
        ),
        // In request order.
        (
            json!([
                {"op": "remove", "path": "members"},
                {"op": "add", "path": "members", "value": [{"value": "u1"}]},
                {"op": "remove", "path": "members[value eq \"u1\"]"}
            ]),
            vec![MemberChange::RemoveAll, u(&["u1"]), ids(&["u1"])],
        ),
    ];
    for (ops, want) in cases {
        let (doc, changes) = ok_group(ops.clone());
        assert_eq!(changes, want, "{ops}");
        assert_eq!(doc, group(), "{ops}: the document never holds members");
    }
    // type comes out canonical.
    let (_, changes) = ok_group(
        json!([{"op": "add", "path": "members", "value": [{"value": "g1", "type": "group"}, {"value": "u1", "TYPE": "User"}]}]),
    );
    assert_eq!(
        changes,
        [MemberChange::Add(vec![
            MemberRef {
                value: "g1".into(),
                kind: Some("Group".into())
            },
            MemberRef {
                value: "u1".into(),
                kind: Some("User".into())
            },
        ])]
    );
}

#[test]
fn member_errors() {
    let cases = [
        (
            json!({"op": "add", "path": "members", "value": [{"display": "x"}]}),
            "invalidValue",
            "members.value is required",
        ),
        (
            json!({"op": "add", "path": "members", "value": [{"value": 5}]}),
            "invalidValue",
            "members.value is required",
        ),
        (
            json!({"op": "add", "path": "members", "value": [{"value": " "}]}),
            "invalidValue",
            "members.value is required",
        ),
        (
            json!({"op": "add", "path": "members", "value": ["u1"]}),
            "invalidValue",
            "each member must be an object",
        ),
        (
            json!({"op": "remove", "path": "members", "value": [{"id": "u1"}]}),
            "invalidValue",
            "members.value is required",
        ),
        (
            json!({"op": "add", "value": {"members": [{}]}}),
            "invalidValue",
            "members.value is required",
        ),
        (
            json!({"op": "add", "path": "members[value eq \"u1\"]", "value": [{"value": "u1"}]}),
            "invalidPath",
            "add members with the path \"members\"",
        ),
        (
            json!({"op": "remove", "path": "members[nope eq \"u1\"]"}),
            "invalidPath",
            "not a sub-attribute of members",
        ),
        (
            json!({"op": "replace", "path": "members.value", "value": "u1"}),
            "mutability",
            "members.value cannot be changed",
        ),
        (
            json!({"op": "remove", "path": "members[value eq \"u1\"].display"}),
            "mutability",
            "members.display cannot be changed",
        ),
        (
            json!({"op": "add", "path": "groups", "value": [{"value": "g"}]}),
            "invalidPath",
            "unknown attribute \"groups\"",
        ),
    ];
    for (op, scim_type, detail) in cases {
        assert_err(patch_group(&group(), json!([op])), scim_type, detail);
    }
}

// ---------------------------------------------------------------- atomicity

#[test]
fn a_failing_operation_changes_nothing() {
    let r = reg();
    let rt = r.resource_type(ResourceKind::User);
    let ops = parse_request(&body(json!([
        {"op": "replace", "path": "displayName", "value": "Changed"},
        {"op": "remove", "path": "emails"},
        {"op": "replace", "path": "id", "value": "x"}
    ])))
    .unwrap();
    let mut doc = obj(bjensen());
    let err = apply(&r, rt, &mut doc, &ops).unwrap_err();
    assert_eq!(err.scim_type(), "mutability");
    assert!(err.detail().starts_with("Operations[2]: "), "{err:?}");
    assert_eq!(Value::Object(doc), bjensen());

    let rt = r.resource_type(ResourceKind::Group);
    let ops = parse_request(&body(json!([
        {"op": "add", "path": "members", "value": [{"value": "u1"}]},
        {"op": "replace", "path": "displayName", "value": "X"},
        {"op": "add", "path": "members", "value": [{"value": null}]}
    ])))
    .unwrap();
    let mut doc = obj(group());
    assert_err(
        apply(&r, rt, &mut doc, &ops),
        "invalidValue",
        "Operations[2]: members.value",
    );
    assert_eq!(Value::Object(doc), group());
}

// ---------------------------------------------------------------- Okta

#[test]
fn okta_deactivate_and_password() {
    let doc = ok_user(
        &bjensen(),
        json!([{"op": "replace", "value": {"active": false}}]),
    );
    assert_eq!(doc["active"], false);
    let doc = ok_user(
        &bjensen(),
        json!([{"op": "replace", "value": {"password": "OktaSecret1"}}]),
    );
    assert_eq!(
        normalized(ResourceKind::User, &doc).password.as_deref(),
        Some("OktaSecret1")
    );
}

#[test]
fn okta_group_rename_ignores_id() {
    let (doc, changes) = ok_group(json!([
        {"op": "replace", "value": {"id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b", "displayName": "Test SCIMv2"}}
    ]));
    assert_eq!(
        doc,
        json!({"displayName": "Test SCIMv2", "externalId": "eng"})
    );
    assert!(changes.is_empty());
}

#[test]
fn okta_group_members() {
    let (_, changes) = ok_group(json!([
        {"op": "add", "path": "members", "value": [{"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"}]}
    ]));
    assert_eq!(
        changes,
        [MemberChange::Add(vec![member(
            "23a35c27-23d3-4c03-b4c5-6443c09e7173"
        )])]
    );
    let (_, changes) = ok_group(json!([
        {"op": "remove", "path": "members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"}
    ]));
    assert_eq!(changes, [ids(&["89bb1940-b905-4575-9e7f-6f887cfb368e"])]);
}

// ---------------------------------------------------------------- Entra ID

#[test]
fn entra_booleans_as_strings_end_to_end() {
    let doc = ok_user(
        &bjensen(),
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    );
    assert_eq!(doc["active"], "False");
    assert_eq!(normalized(ResourceKind::User, &doc).doc["active"], false);
    let doc = ok_user(
        &jdoe(),
        json!([
            {"op": "Add", "path": "roles", "value": [{"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}]}
        ]),
    );
    assert_eq!(
        normalized(ResourceKind::User, &doc).doc["roles"][0]["primary"],
        true
    );
}

#[test]
fn entra_value_filter_paths_create_missing_elements() {
    // Entra sends Add (and Replace) on a typed element the user may not have yet.
    let doc = ok_user(
        &jdoe(),
        json!([
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "jdoe@contoso.com"},
            {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
            {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Springfield"},
            {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"}
        ]),
    );
    assert_eq!(
        doc["emails"],
        json!([{"type": "work", "value": "jdoe@contoso.com"}])
    );
    assert_eq!(
        doc["addresses"],
        json!([{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield"}])
    );
    assert_eq!(
        doc["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0100"}])
    );
    // And on a user that has one, Add replaces the value in place (Entra's update).
    let doc = ok_user(
        &bjensen(),
        json!([
            {"op": "Replace", "path": "title", "value": "tester"},
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"}
        ]),
    );
    assert_eq!(doc["title"], "tester");
    assert_eq!(
        doc["emails"][0],
        json!({"value": "new@contoso.com", "type": "work", "primary": true})
    );
    assert_eq!(doc["emails"].as_array().unwrap().len(), 2);
}

#[test]
fn entra_reference_user_update() {
    // Microsoft's SCIM reference request: update a multi-valued and a sub-attribute.
    let doc = ok_user(
        &bjensen(),
        json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}
        ]),
    );
    assert_eq!(doc["emails"][0]["value"], "updatedEmail@microsoft.com");
    assert_eq!(doc["name"]["familyName"], "updatedFamilyName");
    // Microsoft's validator also sends the no-path form with dotted and URN keys.
    let doc = ok_user(
        &jdoe(),
        json!([{"op": "Add", "value": {
            "nickName": "Babs",
            "name.givenName": "Barbara",
            "emails[type eq \"work\"].value": "babs@contoso.com",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "701984",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "26118915-6090-4610-87e4-49d8ca9f808d"
        }}]),
    );
    let stored = normalized(ResourceKind::User, &doc).doc;
    assert_eq!(
        Value::Object(stored),
        json!({
            "userName": "jdoe@example.com",
            "name": {"givenName": "Barbara"},
            "nickName": "Babs",
            "active": true,
            "emails": [{"value": "babs@contoso.com", "type": "work"}],
            ENT: {"employeeNumber": "701984", "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}}
        })
    );
}

#[test]
fn entra_manager_add_and_remove() {
    let path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
    let doc = ok_user(
        &jdoe(),
        json!([
            {"op": "Add", "path": path, "value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        ]),
    );
    assert_eq!(
        doc[ENT]["manager"],
        json!({"value": "26118915-6090-4610-87e4-49d8ca9f808d"})
    );
    for op in [
        json!({"op": "Remove", "path": path}),
        json!({"op": "Remove", "path": path, "value": [{"value": "26118915-6090-4610-87e4-49d8ca9f808d"}]}),
        json!({"op": "Replace", "path": path, "value": null}),
    ] {
        let after = ok_user(&doc, json!([op]));
        assert!(after.get(ENT).is_none(), "{op}");
    }
    let after = ok_user(&bjensen(), json!([{"op": "Remove", "path": path}]));
    assert_eq!(
        after[ENT],
        json!({"employeeNumber": "701984", "department": "Tour Operations"})
    );
}

#[test]
fn entra_group_members_and_rename() {
    let (_, changes) = ok_group(json!([
        {"op": "Add", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}
    ]));
    assert_eq!(
        changes,
        [MemberChange::Add(vec![member("f648f8d5ea4e4cd38e9c")])]
    );
    // Remove with path members and a value removes those members, not all of them.
    let (_, changes) = ok_group(json!([
        {"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}, {"value": "a1"}]}
    ]));
    assert_eq!(changes, [ids(&["f648f8d5ea4e4cd38e9c", "a1"])]);
    let (doc, changes) = ok_group(json!([
        {"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}
    ]));
    assert_eq!(
        doc["displayName"],
        "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    );
    assert!(changes.is_empty());
}

// ---------------------------------------------------------------- Google Workspace

#[test]
fn google_replace_profile_without_path() {
    // Google sends whole attributes in a no-path replace.
    let doc = ok_user(
        &bjensen(),
        json!([{"op": "replace", "value": {
            "name": {"givenName": "Barbara", "familyName": "Jensen-Smith"},
            "emails": [{"value": "barbara@example.com", "type": "work", "primary": true}],
            "active": true,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Rides", "manager": {"value": "m9"}}
        }}]),
    );
    let stored = normalized(ResourceKind::User, &doc).doc;
    assert_eq!(
        stored["name"],
        json!({"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen-Smith", "givenName": "Barbara"})
    );
    assert_eq!(
        stored["emails"],
        json!([{"value": "barbara@example.com", "type": "work", "primary": true}])
    );
    assert_eq!(
        stored[ENT],
        json!({"employeeNumber": "701984", "department": "Rides", "manager": {"value": "m9"}})
    );
}

#[test]
fn google_suspend_and_restore() {
    let doc = ok_user(
        &bjensen(),
        json!([{"op": "replace", "path": "active", "value": false}]),
    );
    assert_eq!(normalized(ResourceKind::User, &doc).doc["active"], false);
    let doc = ok_user(
        &doc,
        json!([{"op": "replace", "path": "active", "value": true}]),
    );
    assert_eq!(
        Value::Object(normalized(ResourceKind::User, &doc).doc),
        bjensen()
    );
}

// ---------------------------------------------------------------- end to end

#[test]
fn apply_then_normalize_stays_canonical() {
    // A PATCH of a stored document, normalised, is what PUT would have stored: running
    // it again changes nothing.
    let ops = json!([
        {"op": "add", "path": "emails", "value": [{"Value": "n@x.org", "TYPE": "other", "display": "N"}]},
        {"op": "replace", "path": "name", "value": {"givenName": "B", "unknownSub": 1}},
        {"op": "remove", "path": "phoneNumbers[type eq \"work\"]"}
    ]);
    let once = normalized(ResourceKind::User, &ok_user(&bjensen(), ops.clone())).doc;
    assert_eq!(
        once["emails"][2],
        json!({"value": "n@x.org", "display": "N", "type": "other"})
    );
    assert!(once.get("phoneNumbers").is_none());
    let twice = normalized(
        ResourceKind::User,
        &ok_user(&Value::Object(once.clone()), ops),
    )
    .doc;
    assert_eq!(once, twice);
}

// ---------------------------------------------------------------- never panics

pub(crate) fn arb_json() -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "userName",
        "name",
        "givenName",
        "name.givenName",
        "emails",
        "value",
        "type",
        "primary",
        "members",
        "groups",
        "id",
        "meta",
        "active",
        "password",
        "schemas",
        "display",
        "$ref",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        "emails[type eq \"work\"].value",
        "displayName",
        "x",
    ])
    .prop_map(str::to_string);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec!["", "work", "True", "u1", "a@b.c"]).prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((names.clone(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn arb_path() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            "userName",
            "name",
            "name.givenName",
            "NAME.familyname",
            "emails",
            "emails.value",
            "emails[type eq \"work\"]",
            "emails[type eq \"work\"].value",
            "emails[value co \"@\"].primary",
            "emails[type eq \"work\" and primary eq true].value",
            "emails[not (type pr)]",
            "addresses[type eq \"work\"].streetAddress",
            "phoneNumbers",
            "roles",
            "active",
            "title",
            "members",
            "members[value eq \"u1\"]",
            "members[value eq \"a\" or value eq \"b\"]",
            "members[type eq \"User\"]",
            "members.value",
            "groups",
            "id",
            "meta.created",
            "schemas",
            "password",
            "displayName",
            "externalId",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:core:2.0:Group:members",
        ])
        .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        Just(Value::Null),
    ]
}

pub(crate) fn arb_op() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["add", "Add", "remove", "Replace", "REPLACE", "x"]),
        prop::option::of(arb_path()),
        prop::option::of(arb_json()),
    )
        .prop_map(|(op, path, value)| {
            let mut o = Map::new();
            o.insert("op".into(), op.into());
            if let Some(p) = path {
                o.insert("path".into(), p);
            }
            if let Some(v) = value {
                o.insert("value".into(), v);
            }
            Value::Object(o)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_and_failure_changes_nothing(
        ops in prop::collection::vec(prop_oneof![4 => arb_op(), 1 => arb_json()], 0..6),
        group_resource in any::<bool>(),
    ) {
        check_atomic(&reg(), &body(Value::Array(ops)), group_resource)?;
    }

    #[test]
    fn parse_request_never_panics(v in arb_json()) {
        let _ = parse_request(&v);
        let _ = parse_request(&json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [v]}));
    }
}

/// PATCHes bjensen (or a group) with `request`: it parses and applies whole, the same way
/// each time, or fails with a SCIM error (400, or 409 for a uniqueness clash) and leaves the document exactly as it was.
pub(crate) fn check_atomic(
    r: &Registry,
    request: &Value,
    group_resource: bool,
) -> Result<(), TestCaseError> {
    let (kind, start) = if group_resource {
        (ResourceKind::Group, group())
    } else {
        (ResourceKind::User, bjensen())
    };
    let rt = r.resource_type(kind);
    let parsed = match parse_request(request) {
        Ok(parsed) => parsed,
        Err(e) => {
            prop_assert_eq!(e.status(), 400, "{:?}", e);
            return Ok(());
        }
    };
    let mut doc = obj(start.clone());
    match apply(r, rt, &mut doc, &parsed) {
        Err(e) => {
            prop_assert!(matches!(e.status(), 400 | 409), "{:?}", e);
            prop_assert_eq!(Value::Object(doc), start);
        }
        Ok(outcome) => {
            if kind == ResourceKind::User {
                prop_assert!(outcome.members.is_empty());
            }
            let mut again = obj(start);
            prop_assert_eq!(apply(r, rt, &mut again, &parsed).ok(), Some(outcome));
            prop_assert_eq!(&again, &doc);
            // Whatever the ops did, normalize can judge the result without panicking.
            let _ = normalize(r, rt, &Value::Object(doc));
        }
    }
    Ok(())
}
