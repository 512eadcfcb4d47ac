//! Value-level helpers of the PATCH engine: canonical sub-attribute names, merging,
//! equivalence of elements, `primary`.
//!
//! Every value the engine handles is first put in canonical form (known sub-attribute
//! names spelled as the schema spells them), so later comparisons and merges see one
//! spelling. Types are not checked here: `resource::normalize` does that afterwards.

use crate::ScimError;
use crate::filter::{CompValue, CompareOp, Filter};
use crate::schema::{AttrType, Attribute, find_attr};
use serde_json::{Map, Value};

/// Sub-attributes that describe an element without being its value: an element left with
/// only these carries nothing.
const DESCRIPTIVE: [&str; 3] = ["type", "primary", "display"];

/// Takes the attribute `name` out of `map`, whatever the case of its key (RFC 7643 §2.1),
/// preferring the exact spelling. Every spelling is removed, so the caller writes back one.
pub(super) fn take(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let exact = map.shift_remove(name);
    let mut other = None;
    while let Some(key) = map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned() {
        let value = map.shift_remove(&key);
        other = other.or(value);
    }
    exact.or(other)
}

/// Writes an attribute back; `None` leaves it unassigned.
pub(super) fn put(map: &mut Map<String, Value>, name: &str, value: Option<Value>) {
    if let Some(value) = value {
        map.insert(name.to_string(), value);
    }
}

/// Known sub-attribute names in their canonical spelling; unknown ones are kept for
/// `normalize` to drop.
pub(super) fn canon_keys(attr: &Attribute, obj: Map<String, Value>) -> Map<String, Value> {
    obj.into_iter()
        .map(|(k, v)| match find_attr(&attr.sub_attributes, &k) {
            Some(sub) => (sub.name.clone(), v),
            None => (k, v),
        })
        .collect()
}

/// True when a complex attribute has a `value` sub-attribute, so that a bare string can
/// stand for `{"value": ...}`.
fn has_value_sub(attr: &Attribute) -> bool {
    attr.kind == AttrType::Complex && find_attr(&attr.sub_attributes, "value").is_some()
}

fn wrap_value(s: &str) -> Map<String, Value> {
    let mut obj = Map::new();
    obj.insert("value".into(), Value::String(s.to_string()));
    obj
}

/// One element (or single value) in canonical form. A bare string where a complex value
/// with a `value` sub-attribute belongs becomes `{"value": ...}`: Entra sends the
/// enterprise manager as its bare id.
pub(super) fn canon_element(attr: &Attribute, value: Value) -> Value {
    if attr.kind != AttrType::Complex {
        return value;
    }
    match value {
        Value::Object(obj) => Value::Object(canon_keys(attr, obj)),
        Value::String(s) if has_value_sub(attr) => Value::Object(wrap_value(&s)),
        other => other,
    }
}

/// The elements a value adds to or sets on a multi-valued attribute: an array, or one
/// value standing for a one-element array. `null` elements are nothing.
pub(super) fn items(attr: &Attribute, value: &Value) -> Vec<Value> {
    match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| canon_element(attr, v.clone()))
            .collect(),
        single => vec![canon_element(attr, single.clone())],
    }
}

/// The current elements of a multi-valued attribute, in canonical form.
pub(super) fn list(attr: &Attribute, current: Option<Value>) -> Vec<Value> {
    match current {
        None => Vec::new(),
        Some(value) => items(attr, &value),
    }
}

/// The current value of a single-valued complex attribute, in canonical form.
pub(super) fn object(attr: &Attribute, current: Option<Value>) -> Map<String, Value> {
    match current {
        Some(Value::Object(obj)) => canon_keys(attr, obj),
        _ => Map::new(),
    }
}

/// RFC 7643 §2.5: an empty array is unassigned.
pub(super) fn non_empty_list(list: Vec<Value>) -> Option<Value> {
    (!list.is_empty()).then_some(Value::Array(list))
}

/// A complex value with no sub-attribute left is unassigned.
pub(super) fn non_empty_object(obj: Map<String, Value>) -> Option<Value> {
    (!obj.is_empty()).then_some(Value::Object(obj))
}

/// The sub-attributes a value sets on a complex attribute or element. `Ok(None)` for
/// `null`. A one-element array stands for its element (some IdPs wrap single values).
pub(super) fn complex_value(
    attr: &Attribute,
    value: &Value,
    label: &str,
) -> Result<Option<Map<String, Value>>, ScimError> {
    match value {
        Value::Null => Ok(None),
        Value::Object(obj) => Ok(Some(canon_keys(attr, obj.clone()))),
        Value::String(s) if has_value_sub(attr) => Ok(Some(wrap_value(s))),
        Value::Array(items) => match items.as_slice() {
            [one] if !one.is_array() => complex_value(attr, one, label),
            _ => Err(ScimError::InvalidValue(format!(
                "{label} takes one object of sub-attributes, got an array of {}",
                items.len()
            ))),
        },
        _ => Err(ScimError::InvalidValue(format!(
            "{label} takes an object of sub-attributes, got {}",
            json_type(value)
        ))),
    }
}

/// Merges sub-attributes into a complex value: RFC 7644 §3.5.2.3, "Sub-attributes that
/// are not specified in the value parameter are left unchanged"; a `null` unassigns.
///
/// A `$ref` describes `value`: when `value` changes and no new `$ref` comes with it, the
/// old one would point at the previous target (the previous manager), so it goes.
pub(super) fn merge(attr: &Attribute, target: &mut Map<String, Value>, patch: Map<String, Value>) {
    let stale_ref = find_attr(&attr.sub_attributes, "$ref").is_some()
        && !patch.contains_key("$ref")
        && patch
            .get("value")
            .is_some_and(|v| target.get("value") != Some(v));
    if stale_ref {
        target.shift_remove("$ref");
    }
    for (key, value) in patch {
        if value.is_null() {
            target.shift_remove(&key);
        } else {
            target.insert(key, value);
        }
    }
}

/// Merges into one element of a multi-valued attribute.
pub(super) fn merge_element(attr: &Attribute, element: &mut Value, patch: Map<String, Value>) {
    let mut obj = match std::mem::take(element) {
        Value::Object(obj) => obj,
        // Not an object (a stored oddity): the merge result is only what is set now.
        _ => Map::new(),
    };
    merge(attr, &mut obj, patch);
    *element = Value::Object(obj);
}

/// A boolean, also from the strings Entra sends (`"True"`, `"false"`).
pub(super) fn truthy(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Whether an element says `primary: true`.
pub(super) fn is_primary(element: &Value) -> bool {
    element.get("primary").and_then(truthy).unwrap_or(false)
}

/// RFC 7644 §3.5.2: a value added or set with `primary: true` makes the server set
/// `primary` to false on the other values. Only elements the operation did not touch are
/// demoted; two touched primaries are the client's error, reported by `normalize`.
pub(super) fn demote_others(list: &mut [Value], touched: &[bool]) {
    let was_touched = |i: usize| touched.get(i).copied().unwrap_or(false);
    let promoted = list
        .iter()
        .enumerate()
        .any(|(i, e)| was_touched(i) && is_primary(e));
    if !promoted {
        return;
    }
    for (i, element) in list.iter_mut().enumerate() {
        if !was_touched(i)
            && is_primary(element)
            && let Value::Object(obj) = element
        {
            obj.insert("primary".into(), Value::Bool(false));
        }
    }
}

/// Whether two elements are the same value, ignoring `primary`: the same sub-attributes,
/// booleans compared as booleans (`"True"` is `true`), strings compared ignoring case
/// unless the schema says `caseExact` (RFC 7643 §2.2).
/// The engine matches by `keys::element`; this is the reference it is tested against.
#[cfg(test)]
pub(super) fn same_element(attr: &Attribute, a: &Value, b: &Value) -> bool {
    super::keys::tally();
    match (a, b) {
        (Value::Object(x), Value::Object(y)) if attr.kind == AttrType::Complex => x
            .keys()
            .chain(y.keys())
            .filter(|k| k.as_str() != "primary")
            .all(|k| same_scalar(find_attr(&attr.sub_attributes, k), x.get(k), y.get(k))),
        _ => same_scalar(Some(attr), Some(a), Some(b)),
    }
}

/// Whether `given` (from a remove's value) names `element`: by `value` when it has one
/// (Entra and Okta send `[{"value": id}]`), else as the same element.
/// The engine matches by `keys::Named`; this is the reference it is tested against.
#[cfg(test)]
pub(super) fn identifies(attr: &Attribute, given: &Value, element: &Value) -> bool {
    match (given, element) {
        (Value::Object(g), Value::Object(e)) if g.get("value").is_some_and(|v| !v.is_null()) => {
            same_scalar(
                find_attr(&attr.sub_attributes, "value"),
                g.get("value"),
                e.get("value"),
            )
        }
        _ => same_element(attr, given, element),
    }
}

#[cfg(test)]
fn same_scalar(def: Option<&Attribute>, a: Option<&Value>, b: Option<&Value>) -> bool {
    let a = a.filter(|v| !v.is_null());
    let b = b.filter(|v| !v.is_null());
    let (a, b) = match (a, b) {
        (None, None) => return true,
        (Some(a), Some(b)) => (a, b),
        _ => return false,
    };
    match def {
        Some(d) if d.kind == AttrType::Boolean => match (truthy(a), truthy(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
        Some(d) if !d.case_exact => match (a, b) {
            (Value::String(x), Value::String(y)) => crate::text::fold_eq(x, y),
            _ => a == b,
        },
        _ => a == b,
    }
}

/// An element with nothing but descriptive sub-attributes (`type`, `primary`, `display`)
/// left, e.g. `{"type": "work"}` once its `value` is removed.
pub(super) fn is_hollow(element: &Value) -> bool {
    match element {
        Value::Object(obj) => obj
            .iter()
            .all(|(k, v)| v.is_null() || DESCRIPTIVE.iter().any(|d| k.eq_ignore_ascii_case(d))),
        _ => false,
    }
}

/// The element a value filter describes when it is only `sub eq value` terms joined by
/// `and` (`type eq "work"` → `{"type": "work"}`); `None` for any other filter.
pub(super) fn element_from_filter(attr: &Attribute, filter: &Filter) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    collect_eq(attr, filter, &mut out).then_some(out)
}

fn collect_eq(attr: &Attribute, filter: &Filter, out: &mut Map<String, Value>) -> bool {
    match filter {
        Filter::And(l, r) => collect_eq(attr, l, out) && collect_eq(attr, r, out),
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none() && path.sub.is_none() => {
            let Some(sub) = find_attr(&attr.sub_attributes, &path.name) else {
                return false;
            };
            let value = match value {
                // `x eq null` means "x absent": nothing to set.
                CompValue::Null => return true,
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Str(s) => Value::String(s.clone()),
            };
            out.insert(sub.name.clone(), value);
            true
        }
        _ => false,
    }
}

pub(super) use crate::resource::json_type;
