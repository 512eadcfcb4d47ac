//! `attributes` / `excludedAttributes`, RFC 7644 §3.4.2.5 and §3.9.
//!
//! Names that resolve to nothing are ignored rather than rejected: RFC 7644 does not say
//! what to do with them, and an IdP asking for an attribute we do not have should get the
//! resource without it, not a failed sync.

use crate::ScimError;
use crate::filter::AttrPath;
use crate::schema::{AttrType, Attribute, Registry, ResourceTypeDef, Returned, find_attr};
use serde_json::{Map, Value};

/// Parses the comma-separated value of `attributes` or `excludedAttributes` (RFC 7644
/// §3.9: `attrPath` values, URN-qualified or not). Empty items are skipped; a name that
/// is not an attribute name is `InvalidValue`.
pub fn parse_attr_list(s: &str) -> Result<Vec<AttrPath>, ScimError> {
    s.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(parse_item)
        .collect()
}

/// `[URN ":"] ATTRNAME ["." subAttr]` (RFC 7644 §3.10). A URN runs to the last colon, so
/// `urn:...:enterprise:2.0:User` alone parses as URN `urn:...:enterprise:2.0` and name
/// `User`, which `Registry::schema_of_path` recognises as the whole extension.
fn parse_item(item: &str) -> Result<AttrPath, ScimError> {
    let bad =
        |why: &str| ScimError::InvalidValue(format!("invalid attribute name {item:?}: {why}"));
    let is_urn = item
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    let (urn, rest) = match item.rsplit_once(':') {
        Some((urn, rest)) if is_urn => (Some(urn.to_string()), rest),
        Some(_) => return Err(bad("only a schema URN may contain ':'")),
        None => (None, item),
    };
    let (name, sub) = match rest.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (rest, None),
    };
    if !valid_name(name) {
        return Err(bad("expected ALPHA *(\"-\" / \"_\" / DIGIT / ALPHA)"));
    }
    if let Some(sub) = sub
        && !valid_name(sub)
        && sub != "$ref"
    {
        return Err(bad("bad sub-attribute name"));
    }
    Ok(AttrPath {
        urn,
        name: name.to_string(),
        sub: sub.map(str::to_string),
    })
}

/// RFC 7643 §2.1 `ATTRNAME = ALPHA *(nameChar)`. Schema URNs end in a version such as
/// `2.0`, so a digit-led "name" only happens for a malformed item.
fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Where a requested path lands in a rendered resource.
#[derive(Debug, Clone, PartialEq)]
enum Target<'a> {
    /// A whole extension object, by canonical URN.
    Extension(&'a str),
    /// An attribute (`ext` is the extension URN, `None` for core/common) and optionally one
    /// of its sub-attributes, by canonical names.
    Attr {
        ext: Option<&'a str>,
        attr: &'a Attribute,
        sub: Option<&'a str>,
    },
}

fn targets<'a>(
    registry: &'a Registry,
    rt: &ResourceTypeDef,
    paths: &[AttrPath],
) -> Vec<Target<'a>> {
    paths
        .iter()
        .filter_map(|p| {
            if let Some(schema) = registry.schema_of_path(rt, p)
                && schema.id != rt.schema
            {
                return Some(Target::Extension(&schema.id));
            }
            let r = registry.resolve(rt, p).ok()?;
            Some(Target::Attr {
                ext: (!r.core).then_some(r.schema),
                attr: r.attr,
                sub: r.sub.map(|s| s.name.as_str()),
            })
        })
        .collect()
}

/// Applies `attributes` and `excludedAttributes` to a rendered resource, in place
/// (RFC 7644 §3.4.2.5, §3.9).
///
/// With `attributes`, only the named attributes remain (`name.givenName` keeps `name`
/// with only `givenName`; an extension URN keeps the whole extension), plus those whose
/// `returned` is `always` (`id`, `schemas`). `meta` is returned by default, so it goes
/// unless named. `excludedAttributes` then removes what it names, except `returned:
/// always`. `schemas` is recomputed to drop extension URNs whose object went.
/// Without `attributes`, `returned: request` attributes and sub-attributes are removed;
/// naming an attribute in `attributes` returns all of it.
pub fn project(
    registry: &Registry,
    rt: &ResourceTypeDef,
    resource: &mut Map<String, Value>,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
) {
    let wanted = targets(registry, rt, attributes);
    let unwanted = targets(registry, rt, excluded);
    let extension_urns: Vec<&str> = rt.extensions.iter().map(|(u, _)| *u).collect();

    // The attribute definition of a top-level key of the rendered resource.
    let core_attr = |key: &str| registry.attribute(rt, key);
    let ext_schema = |key: &str| registry.extension(rt, key);

    if !attributes.is_empty() {
        let old = std::mem::take(resource);
        for (key, value) in old {
            if key == "schemas" {
                resource.insert(key, value);
                continue;
            }
            if let Some(schema) = ext_schema(&key) {
                let Value::Object(obj) = value else { continue };
                let whole = wanted
                    .iter()
                    .any(|t| matches!(t, Target::Extension(u) if *u == schema.id));
                let kept = if whole {
                    obj
                } else {
                    select(&obj, &wanted, Some(&schema.id), |k| {
                        find_attr(&schema.attributes, k)
                    })
                };
                if !kept.is_empty() {
                    resource.insert(key, Value::Object(kept));
                }
                continue;
            }
            let Some(attr) = core_attr(&key) else {
                continue;
            };
            if let Some(v) = selected_value(attr, &value, &wanted, None) {
                resource.insert(key, v);
            }
        }
    } else {
        // RFC 7643 §7: `returned: request` only when asked for, sub-attributes too.
        resource.retain(|key, _| core_attr(key).is_none_or(|a| a.returned != Returned::Request));
        for (key, value) in resource.iter_mut() {
            if let Some(schema) = ext_schema(key) {
                if let Value::Object(obj) = value {
                    obj.retain(|k, _| {
                        find_attr(&schema.attributes, k)
                            .is_none_or(|a| a.returned != Returned::Request)
                    });
                    for (k, v) in obj.iter_mut() {
                        if let Some(attr) = find_attr(&schema.attributes, k) {
                            drop_request_subs(attr, v);
                        }
                    }
                }
            } else if let Some(attr) = core_attr(key) {
                drop_request_subs(attr, value);
            }
        }
        // An extension left with nothing to show goes (and leaves `schemas`).
        resource.retain(|key, value| {
            ext_schema(key).is_none() || value.as_object().is_none_or(|o| !o.is_empty())
        });
    }

    for target in &unwanted {
        match target {
            Target::Extension(urn) => {
                resource.shift_remove(*urn);
            }
            Target::Attr { attr, .. } if attr.returned == Returned::Always => {}
            Target::Attr { ext, attr, sub } => {
                let container = match ext {
                    None => Some(&mut *resource),
                    Some(urn) => resource.get_mut(*urn).and_then(Value::as_object_mut),
                };
                let Some(container) = container else { continue };
                match sub {
                    None => {
                        container.shift_remove(&attr.name);
                    }
                    Some(sub) => {
                        let sub_always = find_attr(&attr.sub_attributes, sub)
                            .is_some_and(|s| s.returned == Returned::Always);
                        if sub_always {
                            continue;
                        }
                        let emptied = match container.get_mut(&attr.name) {
                            Some(Value::Object(obj)) => {
                                obj.shift_remove(*sub);
                                obj.is_empty()
                            }
                            Some(Value::Array(items)) => {
                                for item in items.iter_mut() {
                                    if let Value::Object(obj) = item {
                                        obj.shift_remove(*sub);
                                    }
                                }
                                items.retain(|i| i.as_object().is_none_or(|o| !o.is_empty()));
                                items.is_empty()
                            }
                            _ => false,
                        };
                        if emptied {
                            container.shift_remove(&attr.name);
                        }
                    }
                }
            }
        }
        // An extension whose every attribute was excluded goes entirely.
        if let Target::Attr { ext: Some(urn), .. } = target
            && resource
                .get(*urn)
                .and_then(Value::as_object)
                .is_some_and(Map::is_empty)
        {
            resource.shift_remove(*urn);
        }
    }

    // RFC 7643 §3: `schemas` lists the core schema and the extensions present.
    let present: Vec<Value> = std::iter::once(rt.schema)
        .chain(
            extension_urns
                .iter()
                .copied()
                .filter(|u| resource.contains_key(*u)),
        )
        .map(|u| Value::String(u.to_string()))
        .collect();
    match resource.get_mut("schemas") {
        Some(slot) => *slot = Value::Array(present),
        None => {
            resource.shift_insert(0, "schemas".to_string(), Value::Array(present));
        }
    }
}

/// Removes from a complex value the sub-attributes whose `returned` is `request`.
fn drop_request_subs(attr: &Attribute, value: &mut Value) {
    if attr.kind != AttrType::Complex
        || !attr
            .sub_attributes
            .iter()
            .any(|s| s.returned == Returned::Request)
    {
        return;
    }
    let strip = |v: &mut Value| {
        if let Value::Object(obj) = v {
            obj.retain(|k, _| {
                find_attr(&attr.sub_attributes, k).is_none_or(|s| s.returned != Returned::Request)
            });
        }
    };
    match value {
        Value::Array(items) => items.iter_mut().for_each(strip),
        other => strip(other),
    }
}

/// The part of `value` (of top-level attribute `attr`) that `wanted` selects, `None` when
/// nothing is. `ext` tells which container the attribute lives in.
fn selected_value(
    attr: &Attribute,
    value: &Value,
    wanted: &[Target<'_>],
    ext: Option<&str>,
) -> Option<Value> {
    if attr.returned == Returned::Always {
        return Some(value.clone());
    }
    let mut subs: Vec<&str> = Vec::new();
    for t in wanted {
        match t {
            Target::Attr {
                ext: e,
                attr: a,
                sub,
            } if *e == ext && a.name == attr.name => match sub {
                None => return Some(value.clone()),
                Some(s) => subs.push(s),
            },
            _ => {}
        }
    }
    if attr.kind != AttrType::Complex {
        return None;
    }
    // Sub-attributes whose `returned` is `always` come along with any selection.
    let keep = |k: &str| {
        subs.contains(&k)
            || find_attr(&attr.sub_attributes, k).is_some_and(|s| s.returned == Returned::Always)
    };
    let pick = |v: &Value| -> Option<Value> {
        let obj = v.as_object()?;
        let kept: Map<String, Value> = obj
            .iter()
            .filter(|(k, _)| keep(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        (!kept.is_empty()).then_some(Value::Object(kept))
    };
    if subs.is_empty() {
        return None;
    }
    match value {
        Value::Array(items) => {
            let kept: Vec<Value> = items.iter().filter_map(pick).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        other => pick(other),
    }
}

/// The attributes of an extension object that `wanted` selects.
fn select<'a>(
    obj: &Map<String, Value>,
    wanted: &[Target<'_>],
    ext: Option<&str>,
    lookup: impl Fn(&str) -> Option<&'a Attribute>,
) -> Map<String, Value> {
    obj.iter()
        .filter_map(|(k, v)| {
            let attr = lookup(k)?;
            selected_value(attr, v, wanted, ext).map(|v| (k.clone(), v))
        })
        .collect()
}

/// Whether the projected resource can contain `attr_name`, so the caller can skip loading
/// it: `excludedAttributes=members` or an `attributes` list without `members` means the
/// members of a 100,000-member group are never read. `attr_name` is a top-level core or
/// common attribute name, or an extension URN.
pub fn wants(
    registry: &Registry,
    rt: &ResourceTypeDef,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
    attr_name: &str,
) -> bool {
    let wanted = targets(registry, rt, attributes);
    let unwanted = targets(registry, rt, excluded);
    if let Some(schema) = registry.extension(rt, attr_name) {
        let id = schema.id.as_str();
        let names_it = |t: &Target<'_>| match t {
            Target::Extension(u) => *u == id,
            Target::Attr { ext, .. } => *ext == Some(id),
        };
        let excluded_whole = unwanted
            .iter()
            .any(|t| matches!(t, Target::Extension(u) if *u == id));
        return !excluded_whole && (attributes.is_empty() || wanted.iter().any(names_it));
    }
    let Some(attr) = registry.attribute(rt, attr_name) else {
        return false;
    };
    match attr.returned {
        Returned::Always => return true,
        Returned::Never => return false,
        Returned::Default | Returned::Request => {}
    }
    let names_it = |t: &Target<'_>, whole: bool| match t {
        Target::Attr {
            ext: None,
            attr: a,
            sub,
        } => a.name == attr.name && (!whole || sub.is_none()),
        _ => false,
    };
    if unwanted.iter().any(|t| names_it(t, true)) {
        return false;
    }
    if attributes.is_empty() {
        return attr.returned == Returned::Default;
    }
    wanted.iter().any(|t| names_it(t, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{Meta, Returning, normalize, render};
    use crate::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, ResourceKind, USER_SCHEMA};
    use serde_json::json;

    fn p(s: &str) -> Vec<AttrPath> {
        parse_attr_list(s).unwrap()
    }

    fn path(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: urn.map(str::to_string),
            name: name.to_string(),
            sub: sub.map(str::to_string),
        }
    }

    fn meta() -> Meta {
        Meta {
            created: "2024-05-01T10:00:00Z".into(),
            last_modified: "2024-05-01T10:00:00Z".into(),
            location: "http://host/scim/v2/Users/u1".into(),
            version: "W/\"1\"".into(),
        }
    }

    /// A rendered Entra-style user with the enterprise extension.
    fn rendered_user(r: &Registry) -> Map<String, Value> {
        let rt = r.resource_type(ResourceKind::User);
        let body = json!({
            "externalId": "ext-1",
            "userName": "ann@x.io",
            "name": {"givenName": "Ann", "familyName": "Lee"},
            "emails": [
                {"value": "ann@x.io", "type": "work", "primary": true},
                {"value": "ann@home.io", "type": "home"}
            ],
            "active": true,
            ENTERPRISE_USER_SCHEMA: {"department": "Ops", "costCenter": "42"}
        });
        let inc = normalize(r, rt, &body).unwrap();
        let groups = json!([{"value": "g1", "display": "Admins"}]);
        render(
            r,
            rt,
            "u1",
            &inc.doc,
            &meta(),
            vec![("groups", groups)],
            Returning::All,
        )
    }

    fn projected(attributes: &str, excluded: &str) -> Value {
        let r = Registry::load().unwrap();
        let rt = r.resource_type(ResourceKind::User);
        let mut res = rendered_user(&r);
        project(&r, rt, &mut res, &p(attributes), &p(excluded));
        Value::Object(res)
    }

    #[test]
    fn parses_attribute_lists() {
        assert_eq!(
            p(
                " userName, name.givenName ,,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
            ),
            vec![
                path(None, "userName", None),
                path(None, "name", Some("givenName")),
                path(
                    Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
                    "manager",
                    Some("value")
                ),
            ]
        );
        assert_eq!(
            p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
            vec![path(
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0"),
                "User",
                None
            )]
        );
        assert_eq!(p("members.$ref"), vec![path(None, "members", Some("$ref"))]);
        assert_eq!(p(""), vec![]);
        for bad in [
            "user name",
            "a:b",
            "9lives",
            "name.",
            "name.given.name",
            "name.giv€n",
        ] {
            match parse_attr_list(bad) {
                Err(ScimError::InvalidValue(m)) => assert!(m.contains("invalid attribute"), "{m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn no_parameters_change_nothing() {
        let r = Registry::load().unwrap();
        assert_eq!(projected("", ""), Value::Object(rendered_user(&r)));
    }

    #[test]
    fn attributes_user_name_gives_id_schemas_and_user_name() {
        assert_eq!(
            projected("userName", ""),
            json!({"schemas": [USER_SCHEMA], "id": "u1", "userName": "ann@x.io"})
        );
        // Names match case-insensitively; unknown names are ignored.
        assert_eq!(
            projected("USERNAME,shoeSize", ""),
            json!({"schemas": [USER_SCHEMA], "id": "u1", "userName": "ann@x.io"})
        );
        assert_eq!(
            projected("shoeSize", ""),
            json!({"schemas": [USER_SCHEMA], "id": "u1"})
        );
    }

    #[test]
    fn attributes_sub_attribute_keeps_only_it() {
        assert_eq!(
            projected("name.givenName", ""),
            json!({"schemas": [USER_SCHEMA], "id": "u1", "name": {"givenName": "Ann"}})
        );
        assert_eq!(
            projected("emails.value,name.familyName,name.givenName", ""),
            json!({
                "schemas": [USER_SCHEMA],
                "id": "u1",
                "name": {"givenName": "Ann", "familyName": "Lee"},
                "emails": [{"value": "ann@x.io"}, {"value": "ann@home.io"}]
            })
        );
    }

    #[test]
    fn attributes_urn_qualified() {
        assert_eq!(
            projected(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                ""
            ),
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                "id": "u1",
                ENTERPRISE_USER_SCHEMA: {"department": "Ops"}
            })
        );
        assert_eq!(
            projected(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User,userName",
                ""
            ),
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                "id": "u1",
                "userName": "ann@x.io",
                ENTERPRISE_USER_SCHEMA: {"department": "Ops", "costCenter": "42"}
            })
        );
        assert_eq!(
            projected(
                "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName",
                ""
            ),
            json!({"schemas": [USER_SCHEMA], "id": "u1", "name": {"familyName": "Lee"}})
        );
    }

    #[test]
    fn request_only_sub_attributes_come_when_their_attribute_is_named() {
        let r = Registry::load().unwrap();
        let rt = r.resource_type(ResourceKind::User);
        let urn = crate::schema::ROLLCALL_USER_SCHEMA;
        let teams = json!([{"value": "t1", "role": "admin", "display": "Ops",
            "state": "invited", "source": "group"}]);
        let run = |attributes: &str| {
            let mut res = rendered_user(&r);
            res.insert(urn.to_string(), json!({ "teams": teams.clone() }));
            project(&r, rt, &mut res, &p(attributes), &[]);
            Value::Object(res)
        };
        assert_eq!(
            run("")[urn],
            json!({"teams": [{"value": "t1", "role": "admin"}]})
        );
        assert_eq!(run(&format!("{urn}:teams"))[urn], json!({ "teams": teams }));
        assert_eq!(
            run(&format!("{urn}:teams.state"))[urn],
            json!({"teams": [{"state": "invited"}]})
        );
        // An extension holding only what is returned on request is left out entirely.
        let mut res = rendered_user(&r);
        res.insert(urn.to_string(), json!({"memberships": teams.clone()}));
        project(&r, rt, &mut res, &[], &[]);
        assert!(!res.contains_key(urn));
        assert!(!res["schemas"].as_array().unwrap().contains(&json!(urn)));
    }

    #[test]
    fn meta_only_when_asked_for() {
        let out = projected("meta.lastModified,userName", "");
        assert_eq!(out["meta"], json!({"lastModified": "2024-05-01T10:00:00Z"}));
        let out = projected("meta", "");
        assert_eq!(out["meta"]["resourceType"], json!("User"));
    }

    #[test]
    fn excluded_attributes() {
        let out = projected("", "emails,groups,id,schemas,name.givenName");
        let keys: Vec<&str> = out
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "schemas",
                "id",
                "externalId",
                "userName",
                "name",
                "active",
                ENTERPRISE_USER_SCHEMA,
                "meta"
            ]
        );
        assert_eq!(out["name"], json!({"familyName": "Lee"}));

        let out = projected(
            "",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        );
        assert!(out.get(ENTERPRISE_USER_SCHEMA).is_none());
        assert_eq!(out["schemas"], json!([USER_SCHEMA]));

        // Removing every attribute of an extension removes the extension and its URN.
        let out = projected(
            "",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department,\
             urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter",
        );
        assert!(out.get(ENTERPRISE_USER_SCHEMA).is_none());
        assert_eq!(out["schemas"], json!([USER_SCHEMA]));

        let out = projected("", "emails.value,emails.type,emails.primary");
        assert!(out.get("emails").is_none());
    }

    #[test]
    fn excluded_members_of_a_group() {
        let r = Registry::load().unwrap();
        let rt = r.resource_type(ResourceKind::Group);
        let inc = normalize(&r, rt, &json!({"displayName": "Eng"})).unwrap();
        let members = json!([{"value": "u1", "type": "User", "display": "Ann"}]);
        let mut res = render(
            &r,
            rt,
            "g1",
            &inc.doc,
            &meta(),
            vec![("members", members)],
            Returning::All,
        );
        project(&r, rt, &mut res, &[], &p("members"));
        let keys: Vec<&str> = res.keys().map(String::as_str).collect();
        assert_eq!(keys, ["schemas", "id", "displayName", "meta"]);
        assert_eq!(res["schemas"], json!([GROUP_SCHEMA]));

        assert!(!wants(&r, rt, &[], &p("members"), "members"));
        assert!(!wants(&r, rt, &p("displayName"), &[], "members"));
        assert!(wants(&r, rt, &p("members.value"), &[], "members"));
        assert!(wants(&r, rt, &p("Members"), &[], "members"));
        assert!(wants(&r, rt, &[], &[], "members"));
        assert!(wants(&r, rt, &[], &p("members.display"), "members"));
        assert!(wants(&r, rt, &p("displayName"), &p("id"), "id"));
    }

    #[test]
    fn wants_for_users() {
        let r = Registry::load().unwrap();
        let rt = r.resource_type(ResourceKind::User);
        assert!(wants(&r, rt, &[], &[], "groups"));
        assert!(!wants(&r, rt, &p("userName"), &[], "groups"));
        assert!(!wants(&r, rt, &[], &[], "password"));
        assert!(!wants(&r, rt, &[], &[], "noSuchThing"));
        assert!(wants(&r, rt, &p("userName"), &[], "id"));
        assert!(wants(&r, rt, &[], &[], ENTERPRISE_USER_SCHEMA));
        assert!(!wants(&r, rt, &p("userName"), &[], ENTERPRISE_USER_SCHEMA));
        assert!(wants(
            &r,
            rt,
            &p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"),
            &[],
            ENTERPRISE_USER_SCHEMA
        ));
        assert!(!wants(
            &r,
            rt,
            &[],
            &p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
            ENTERPRISE_USER_SCHEMA
        ));
    }
}
