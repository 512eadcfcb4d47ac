//! In-memory evaluation of a filter against one JSON object (an element of a
//! multi-valued attribute, or a whole resource).
//!
//! Semantics follow RFC 7644 §3.4.2.2: attribute names match case-insensitively; string
//! comparisons fold case unless the attribute is `caseExact`; a comparison on a
//! multi-valued attribute holds when any value satisfies it; a type mismatch never matches.

use std::cmp::Ordering;

use super::ast::{AttrPath, CompValue, CompareOp, Filter};
use crate::text::fold_key;
use serde_json::{Number, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How deep `pr` looks into nested values before calling them present. SCIM values are at
/// most two levels deep; the bound only keeps hostile input from exhausting the stack.
const MAX_VALUE_DEPTH: usize = 16;

/// Core schema URNs name attributes that sit at the top level of a resource, not under
/// their URN (RFC 7643 §3.3 puts only extensions under their URN).
const CORE_URN_PREFIX: &str = "urn:ietf:params:scim:schemas:core:";

/// Evaluates `filter` against `object`. `case_exact` tells, for a path, whether string
/// comparisons on it are case-sensitive (from the schema).
///
/// Inside a value path `emails[type eq "work"]`, the inner paths are relative to the
/// elements; `case_exact` then receives the full path (`emails.type`, with the outer URN),
/// so one schema lookup serves both. Never panics; recursion follows the filter's shape,
/// which `parse` bounds with `MAX_FILTER_DEPTH` and `MAX_FILTER_TERMS`.
pub fn eval(filter: &Filter, object: &Value, case_exact: &dyn Fn(&AttrPath) -> bool) -> bool {
    match filter {
        Filter::And(l, r) => eval(l, object, case_exact) && eval(r, object, case_exact),
        Filter::Or(l, r) => eval(l, object, case_exact) || eval(r, object, case_exact),
        Filter::Not(inner) => !eval(inner, object, case_exact),
        Filter::Present(path) => values(object, path)
            .iter()
            .any(|v| is_present(v, MAX_VALUE_DEPTH)),
        Filter::Compare { path, op, value } => {
            compare(&values(object, path), *op, value, case_exact(path))
        }
        Filter::ValuePath { path, filter } => {
            let relative = |inner: &AttrPath| case_exact(&qualify(path, inner));
            let whole = AttrPath {
                sub: None,
                ..path.clone()
            };
            values(object, &whole)
                .iter()
                .any(|element| eval(filter, element, &relative))
        }
    }
}

/// `emails` + `type` → `emails.type`; paths that are already qualified stay as they are.
fn qualify(outer: &AttrPath, inner: &AttrPath) -> AttrPath {
    if inner.urn.is_none() && inner.sub.is_none() {
        AttrPath {
            urn: outer.urn.clone(),
            name: outer.name.clone(),
            sub: Some(inner.name.clone()),
        }
    } else {
        inner.clone()
    }
}

/// The values a path names, with one level of arrays flattened: `emails.value` on a
/// resource gives every email's value; `emails` gives every element.
fn values<'v>(object: &'v Value, path: &AttrPath) -> Vec<&'v Value> {
    let mut out = Vec::new();
    let Some(base) = scope(object, path.urn.as_deref()) else {
        return out;
    };
    let Some(value) = get(base, &path.name) else {
        return out;
    };
    match &path.sub {
        None => flatten(value, &mut out),
        Some(sub) => match value {
            Value::Array(items) => {
                for item in items {
                    if let Some(v) = get(item, sub) {
                        flatten(v, &mut out);
                    }
                }
            }
            other => {
                if let Some(v) = get(other, sub) {
                    flatten(v, &mut out);
                }
            }
        },
    }
    out
}

fn flatten<'v>(value: &'v Value, out: &mut Vec<&'v Value>) {
    match value {
        Value::Array(items) => out.extend(items),
        other => out.push(other),
    }
}

/// Where a path's name is looked up: under its URN key when the object has one (an
/// extension), at the top level for core-schema URNs and unqualified paths.
fn scope<'v>(object: &'v Value, urn: Option<&str>) -> Option<&'v Value> {
    let Some(urn) = urn else {
        return Some(object);
    };
    if let Some(extension) = get(object, urn) {
        return Some(extension);
    }
    let core = urn
        .get(..CORE_URN_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(CORE_URN_PREFIX));
    core.then_some(object)
}

/// A member of an object by case-insensitive name (RFC 7643 §2.1), preferring an exact
/// match when a client sent keys differing only in case.
fn get<'v>(object: &'v Value, name: &str) -> Option<&'v Value> {
    let map = object.as_object()?;
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// RFC 7644 §3.4.2.2 `pr`: a non-empty value, or a complex value with a non-empty
/// sub-attribute.
fn is_present(value: &Value, depth: usize) -> bool {
    if depth == 0 {
        return true;
    }
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(|v| is_present(v, depth - 1)),
        Value::Object(map) => map.values().any(|v| is_present(v, depth - 1)),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare(values: &[&Value], op: CompareOp, target: &CompValue, case_exact: bool) -> bool {
    match (op, target) {
        // Absent and null are the same thing to SCIM.
        (CompareOp::Eq, CompValue::Null) => values.iter().all(|v| v.is_null()),
        (CompareOp::Ne, CompValue::Null) => values.iter().any(|v| !v.is_null()),
        (CompareOp::Ne, target) => {
            // `ne` is "no value equals": true when absent, false when nothing is even
            // comparable (a type mismatch never matches).
            let mut comparable = values.iter().all(|v| v.is_null());
            for v in values.iter().filter(|v| !v.is_null()) {
                match matches(v, CompareOp::Eq, target, case_exact) {
                    Some(true) => return false,
                    Some(false) => comparable = true,
                    None => {}
                }
            }
            comparable
        }
        (op, target) => values
            .iter()
            .any(|v| matches(v, op, target, case_exact) == Some(true)),
    }
}

/// Whether one value satisfies `op target`; `None` when the types do not compare.
fn matches(value: &Value, op: CompareOp, target: &CompValue, case_exact: bool) -> Option<bool> {
    match (value, target) {
        (Value::String(a), CompValue::Str(b)) => Some(compare_str(a, op, b, case_exact)),
        (Value::Number(a), CompValue::Number(b)) => holds(op, compare_numbers(a, b)?),
        (Value::Bool(a), CompValue::Bool(b)) => match op {
            CompareOp::Eq => Some(a == b),
            CompareOp::Ne => Some(a != b),
            _ => None,
        },
        _ => None,
    }
}

fn compare_str(a: &str, op: CompareOp, b: &str, case_exact: bool) -> bool {
    // RFC 7643 §2.3.5: dateTime values compare as instants, whatever their offset or
    // fractional seconds.
    if !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
        && let (Ok(x), Ok(y)) = (
            OffsetDateTime::parse(a, &Rfc3339),
            OffsetDateTime::parse(b, &Rfc3339),
        )
    {
        return holds(op, x.cmp(&y)).unwrap_or(false);
    }
    let (a, b) = if case_exact {
        (a.to_string(), b.to_string())
    } else {
        (fold_key(a), fold_key(b))
    };
    match op {
        CompareOp::Co => a.contains(&b),
        CompareOp::Sw => a.starts_with(&b),
        CompareOp::Ew => a.ends_with(&b),
        op => holds(op, a.cmp(&b)).unwrap_or(false),
    }
}

/// Integers compare exactly; anything else as f64.
fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// Applies an ordering operator; `None` for the substring operators.
fn holds(op: CompareOp, ord: Ordering) -> Option<bool> {
    Some(match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::parse;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "2819c223",
            "userName": "BJensen@Example.com",
            "active": true,
            "title": "",
            "nickName": null,
            "loginCount": 42,
            "score": 2.5,
            "name": {"givenName": "Barbara", "familyName": "Jensen", "middleName": null},
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "members": [],
            "meta": {"lastModified": "2011-05-13T04:42:34Z"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "701984",
                "manager": {"value": "26118915"}
            }
        })
    }

    /// `userName` and `emails.value` fold case, everything else (like `id`) is exact.
    fn case_exact(p: &AttrPath) -> bool {
        let folded = ["username", "emails.value", "emails.type", "name.givenname"];
        let key = match &p.sub {
            Some(s) => format!("{}.{s}", p.name),
            None => p.name.clone(),
        };
        !folded.contains(&key.to_lowercase().as_str())
    }

    fn check(filter: &str) -> bool {
        eval(&parse(filter).unwrap(), &user(), &case_exact)
    }

    /// Issue 16 point 4: full case folding of the NFC form, not simple lower-casing.
    #[test]
    fn case_insensitive_strings_compare_folded() {
        let user = json!({"id": "Straße", "userName": "groß@c.com",
                          "emails": [{"value": "ΣΑΣ@c.com"}, {"value": "e\u{301}@c.com"}]});
        let cases = [
            (r#"userName eq "GROSS@C.COM""#, true),
            (r#"userName sw "GROSS""#, true),
            (r#"userName co "SS@""#, true),
            (r#"userName ew "OSS@C.COM""#, true),
            (r#"emails[value eq "σασ@c.com"]"#, true),
            (r#"emails.value eq "\u00c9@C.COM""#, true),
            (r#"id eq "STRASSE""#, false),
            (r#"id eq "Straße""#, true),
        ];
        for (filter, want) in cases {
            assert_eq!(
                eval(&parse(filter).unwrap(), &user, &case_exact),
                want,
                "{filter}"
            );
        }
    }

    #[test]
    fn table() {
        let cases = [
            // strings, case folding per attribute
            (r#"userName eq "bjensen@example.com""#, true),
            (r#"USERNAME eq "BJENSEN@EXAMPLE.COM""#, true),
            (r#"id eq "2819C223""#, false),
            (r#"id eq "2819c223""#, true),
            (r#"userName co "jensen@""#, true),
            (r#"userName sw "bj""#, true),
            (r#"userName ew ".COM""#, true),
            (r#"userName ew ".org""#, false),
            (r#"userName gt "a""#, true),
            (r#"userName lt "a""#, false),
            (r#"userName ge "bjensen@example.com""#, true),
            (r#"userName le "bjensen@example.com""#, true),
            (r#"userName ne "x""#, true),
            (r#"userName ne "bjensen@example.com""#, false),
            (r#"userName co """#, true),
            // numbers
            ("loginCount eq 42", true),
            ("loginCount eq 42.0", true),
            ("loginCount gt 41", true),
            ("loginCount ge 42", true),
            ("loginCount lt 42", false),
            ("loginCount le -1", false),
            ("score gt 2", true),
            ("score lt 2.6", true),
            ("loginCount ne 42", false),
            ("loginCount ne 7", true),
            // booleans
            ("active eq true", true),
            ("active eq false", false),
            ("active ne false", true),
            ("emails.primary eq true", true),
            // type mismatch never matches
            (r#"active eq "true""#, false),
            (r#"loginCount eq "42""#, false),
            ("userName eq 1", false),
            (r#"name eq "Barbara""#, false),
            (r#"loginCount ne "42""#, false),
            // null and absence
            ("nickName eq null", true),
            ("missing eq null", true),
            ("userName eq null", false),
            ("nickName ne null", false),
            ("userName ne null", true),
            (r#"missing ne "x""#, true),
            (r#"missing eq "x""#, false),
            ("members eq null", true),
            // pr
            ("userName pr", true),
            ("title pr", false),
            ("nickName pr", false),
            ("missing pr", false),
            ("members pr", false),
            ("name pr", true),
            ("name.middleName pr", false),
            ("emails pr", true),
            ("emails.display pr", false),
            // sub-attributes and multi-valued attributes
            (r#"name.givenName eq "barbara""#, true),
            (r#"name.familyName eq "jensen""#, false),
            (r#"emails.value eq "BABS@jensen.org""#, true),
            (r#"emails.type eq "home""#, true),
            (r#"emails.value ne "babs@jensen.org""#, false),
            (r#"emails.value ne "x""#, true),
            (r#"emails co "example.com""#, false),
            // value paths
            (
                r#"emails[type eq "work" and value co "@example.com"]"#,
                true,
            ),
            (
                r#"emails[type eq "home" and value co "@example.com"]"#,
                false,
            ),
            (r#"emails[TYPE eq "WORK"]"#, true),
            (r#"emails[not (type eq "work")]"#, true),
            (r#"emails[primary eq true and type eq "home"]"#, false),
            (r#"members[value eq "x"]"#, false),
            (r#"name[givenName eq "barbara"]"#, true),
            // URNs
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "BJ""#,
                true,
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
                true,
            ),
            (
                r#"URN:IETF:params:scim:schemas:extension:enterprise:2.0:USER:EMPLOYEENUMBER eq "701984""#,
                true,
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#,
                true,
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName pr"#,
                false,
            ),
            (r#"urn:example:other:1.0:Thing:userName pr"#, false),
            // dateTime compares as instants
            (r#"meta.lastModified gt "2011-05-13T04:42:33Z""#, true),
            (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
            (
                r#"meta.lastModified eq "2011-05-13T06:42:34.000+02:00""#,
                true,
            ),
            (r#"meta.lastModified lt "2011-05-13T05:42:34+02:00""#, false),
            (r#"meta.lastModified sw "2011-05-13""#, true),
            // logic
            (r#"title pr or userName eq "bjensen@example.com""#, true),
            (r#"title pr and userName eq "bjensen@example.com""#, false),
            (r#"not (title pr)"#, true),
            (
                r#"id eq "2819c223" and emails.value eq "bjensen@example.com""#,
                true,
            ),
            (
                r#"userName ne "x" and not (emails co "example.com" or emails.value co "example.org")"#,
                true,
            ),
        ];
        for (filter, want) in cases {
            assert_eq!(check(filter), want, "{filter}");
        }
    }

    #[test]
    fn case_exact_sees_qualified_paths() {
        let seen = std::cell::RefCell::new(Vec::new());
        let record = |p: &AttrPath| {
            seen.borrow_mut().push(p.to_string());
            true
        };
        let f = parse(r#"emails[type eq "work"] and name.givenName eq "x""#).unwrap();
        eval(&f, &user(), &record);
        assert_eq!(*seen.borrow(), ["emails.type", "name.givenName"]);
    }

    #[test]
    fn on_one_element() {
        let element =
            json!({"value": "2819c223", "display": "Babs", "$ref": "https://x/Users/2819c223"});
        let f = parse(r#"value eq "2819c223" and $ref pr"#).unwrap();
        assert!(eval(&f, &element, &|_| true));
        assert!(!eval(&f, &json!("2819c223"), &|_| true));
        assert!(!eval(&f, &Value::Null, &|_| true));
    }

    #[test]
    fn big_integers_compare_exactly() {
        let v = json!({"n": u64::MAX, "m": -9007199254740993i64});
        assert!(eval(
            &parse("n eq 18446744073709551615").unwrap(),
            &v,
            &|_| true
        ));
        assert!(!eval(
            &parse("n lt 18446744073709551615").unwrap(),
            &v,
            &|_| true
        ));
        assert!(eval(&parse("m lt -9007199254740992").unwrap(), &v, &|_| {
            true
        }));
    }
}
