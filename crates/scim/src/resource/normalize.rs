//! Checking and normalising incoming resources (POST/PUT bodies, PATCH results) against
//! the schema.

use super::{Incoming, MemberRef};
use crate::ScimError;
use crate::limits;
use crate::schema::{
    AttrType, Attribute, Mutability, Registry, ResourceKind, ResourceTypeDef, canonical_spelling,
    find_attr,
};
use crate::text::fold_eq;
use serde_json::{Map, Value};

/// Checks and normalises a POST/PUT body (or a PATCHed document).
///
/// Lenient where real IdPs need it, strict where a value would be stored wrongly:
/// - names match case-insensitively and come out canonical (`username` → `userName`);
///   dotted keys (`name.givenName`) and URN-qualified keys are folded into their attribute;
/// - unknown attributes and sub-attributes, `null`s, empty arrays and readOnly attributes
///   are dropped (RFC 7643 §2.5: null and `[]` mean unassigned; RFC 7644 §3.5.1: readOnly
///   values SHALL be ignored);
/// - `"True"`/`"false"` strings become booleans, one value becomes an array for a
///   multi-valued attribute and a one-element array becomes its element for a single-valued
///   one; every other type mismatch is `InvalidValue`;
/// - `schemas` is not required and its URIs are not checked, so a PATCH result normalises
///   too, and the function is idempotent on its own output; if present it must be an array
///   of strings.
pub fn normalize(
    registry: &Registry,
    rt: &ResourceTypeDef,
    body: &Value,
) -> Result<Incoming, ScimError> {
    let Some(body) = body.as_object() else {
        return Err(ScimError::InvalidSyntax(format!(
            "a {} must be a JSON object",
            rt.name
        )));
    };
    let core = registry.core_schema(rt).ok_or_else(|| {
        ScimError::InvalidSyntax(format!("no schema for resource type {}", rt.name))
    })?;
    let extensions: Vec<_> = registry.extension_schemas(rt).collect();

    // Pass 1: route every key to (schema, attribute), merging dotted keys into their
    // complex attribute. Values stay raw.
    let mut core_raw = Map::new();
    let mut ext_raw: Vec<Map<String, Value>> = vec![Map::new(); extensions.len()];
    let core_lookup = |name: &str| {
        find_attr(&core.attributes, name).or_else(|| find_attr(registry.common_attributes(), name))
    };
    // Keys that name nothing are dropped, but not without bound: each one is work.
    let mut unknown = 0;
    for (key, value) in body {
        if key.eq_ignore_ascii_case("schemas") {
            // RFC 7643 §3: `schemas` is a multi-valued list of URIs. Which ones it lists is
            // not checked (IdPs differ), but a string in its place is not one.
            let listed = match value {
                Value::Array(items) => items.iter().all(Value::is_string),
                other => other.is_null(),
            };
            if !listed {
                return Err(ScimError::InvalidValue(
                    "\"schemas\" must be an array of schema URIs".into(),
                ));
            }
            continue;
        }
        if let Some((i, (schema, _))) = extensions
            .iter()
            .enumerate()
            .find(|(_, (s, _))| s.id.eq_ignore_ascii_case(key))
        {
            let Some(raw) = ext_raw.get_mut(i) else {
                continue;
            };
            match value {
                Value::Null => {}
                Value::Object(obj) => {
                    for (k, v) in obj {
                        if !route(&|n| find_attr(&schema.attributes, n), k, v, raw) {
                            unknown += 1;
                        }
                    }
                }
                _ => {
                    return Err(ScimError::InvalidValue(format!(
                        "\"{}\" must be an object, got {}",
                        schema.id,
                        json_type(value)
                    )));
                }
            }
            continue;
        }
        // `urn:...:enterprise:2.0:User:department` as a key: some clients flatten
        // extension attributes that way (and it is how PATCH paths address them).
        if let Some((i, rest)) = extensions
            .iter()
            .enumerate()
            .find_map(|(i, (s, _))| strip_urn(key, &s.id).map(|rest| (i, rest)))
        {
            if let (Some((schema, _)), Some(raw)) = (extensions.get(i), ext_raw.get_mut(i))
                && !route(&|n| find_attr(&schema.attributes, n), rest, value, raw)
            {
                unknown += 1;
            }
            continue;
        }
        let key = strip_urn(key, &core.id).unwrap_or(key);
        if !route(&core_lookup, key, value, &mut core_raw) {
            unknown += 1;
        }
    }
    limits::check_unknown(&format!("the {}", rt.name), unknown)?;

    // Pass 2: check and canonicalise each attribute, in schema order.
    let mut incoming = Incoming {
        doc: Map::new(),
        password: None,
        members: None,
    };
    let core_attrs = registry.common_attributes().iter().chain(&core.attributes);
    for attr in core_attrs {
        let Some(raw) = core_raw.get(&attr.name) else {
            continue;
        };
        if rt.kind == ResourceKind::Group && attr.name == "members" {
            if !raw.is_null() {
                incoming.members = Some(members(attr, raw)?);
            }
            continue;
        }
        let Some(value) = norm_value(attr, raw, &attr.name)? else {
            continue;
        };
        if attr.mutability == Mutability::WriteOnly && attr.name == "password" {
            // Okta sends the initial password on POST /Users; it is hashed by the caller and
            // never stored in the document.
            incoming.password = value.as_str().map(str::to_string);
            continue;
        }
        incoming.doc.insert(attr.name.clone(), value);
    }
    check_required(&core.attributes, &incoming.doc, "")?;

    for ((schema, required), raw) in extensions.iter().zip(&ext_raw) {
        let mut out = Map::new();
        for attr in &schema.attributes {
            let Some(raw) = raw.get(&attr.name) else {
                continue;
            };
            let label = format!("{}:{}", schema.id, attr.name);
            if let Some(value) = norm_value(attr, raw, &label)? {
                out.insert(attr.name.clone(), value);
            }
        }
        if out.is_empty() {
            if *required {
                return Err(ScimError::InvalidValue(format!(
                    "extension {} is required",
                    schema.id
                )));
            }
            continue;
        }
        check_required(&schema.attributes, &out, &format!("{}:", schema.id))?;
        incoming.doc.insert(schema.id.clone(), Value::Object(out));
    }
    limits::check_resource_size(rt.name, &incoming.doc)?;
    Ok(incoming)
}

/// Refuses a change to an immutable attribute that already had a value (RFC 7643 §2.2:
/// immutable values may be set once, on creation or when first assigned, and never
/// updated; RFC 7644 §3.5.1: a PUT must repeat them unchanged). Removing such a value is a
/// change too. `old_doc` and `new_doc` are normalised documents.
///
/// Elements of a multi-valued attribute have no identity across requests, so immutable
/// sub-attributes there (Group `members.value`) are not compared: adding and removing
/// whole elements is allowed.
pub fn check_immutable(
    registry: &Registry,
    rt: &ResourceTypeDef,
    old_doc: &Map<String, Value>,
    new_doc: &Map<String, Value>,
) -> Result<(), ScimError> {
    if let Some(core) = registry.core_schema(rt) {
        for attr in registry.common_attributes().iter().chain(&core.attributes) {
            immutable_attr(
                attr,
                old_doc.get(&attr.name),
                new_doc.get(&attr.name),
                &attr.name,
            )?;
        }
    }
    for (schema, _) in registry.extension_schemas(rt) {
        let old = old_doc.get(&schema.id).and_then(Value::as_object);
        let new = new_doc.get(&schema.id).and_then(Value::as_object);
        for attr in &schema.attributes {
            immutable_attr(
                attr,
                old.and_then(|o| o.get(&attr.name)),
                new.and_then(|n| n.get(&attr.name)),
                &format!("{}:{}", schema.id, attr.name),
            )?;
        }
    }
    Ok(())
}

pub(super) fn immutable_attr(
    attr: &Attribute,
    old: Option<&Value>,
    new: Option<&Value>,
    label: &str,
) -> Result<(), ScimError> {
    let Some(old) = old.filter(|v| !v.is_null()) else {
        return Ok(());
    };
    if attr.mutability == Mutability::Immutable {
        let same = match (old, new) {
            (Value::String(a), Some(Value::String(b))) if !attr.case_exact => fold_eq(a, b),
            (a, Some(b)) => a == b,
            (_, None) => false,
        };
        if !same {
            return Err(ScimError::Mutability(format!(
                "{label} is immutable: it cannot change once set"
            )));
        }
        return Ok(());
    }
    if attr.kind == AttrType::Complex && !attr.multi_valued {
        for sub in &attr.sub_attributes {
            immutable_attr(
                sub,
                old.get(&sub.name),
                new.and_then(|n| n.get(&sub.name)),
                &format!("{label}.{}", sub.name),
            )?;
        }
    }
    Ok(())
}

/// RFC 7643 §2.2 `required`: the attribute must have a non-empty value. readOnly attributes
/// are the server's to fill, and attributes taken out of the document (password, members)
/// are checked by the caller.
fn check_required(
    attrs: &[Attribute],
    doc: &Map<String, Value>,
    prefix: &str,
) -> Result<(), ScimError> {
    for attr in attrs {
        if !attr.required
            || attr.mutability == Mutability::ReadOnly
            || attr.name == "members"
            || attr.name == "password"
        {
            continue;
        }
        let present = match doc.get(&attr.name) {
            Some(Value::String(s)) => !s.trim().is_empty(),
            Some(_) => true,
            None => false,
        };
        if !present {
            return Err(ScimError::InvalidValue(format!(
                "{prefix}{} is required",
                attr.name
            )));
        }
    }
    Ok(())
}

/// `key` without the `urn:` prefix `urn` and its `:` separator, case-insensitively.
fn strip_urn<'k>(key: &'k str, urn: &str) -> Option<&'k str> {
    let head = key.get(..urn.len())?;
    let rest = key.get(urn.len()..)?.strip_prefix(':')?;
    (head.eq_ignore_ascii_case(urn) && !rest.is_empty()).then_some(rest)
}

/// Puts `value` into `into` under the canonical name of the attribute `key` names. A
/// dotted key (`name.givenName`, Entra's PATCH no-path style) sets one sub-attribute of a
/// single-valued complex attribute. Unknown names are dropped: `false`.
fn route<'s>(
    lookup: &dyn Fn(&str) -> Option<&'s Attribute>,
    key: &str,
    value: &Value,
    into: &mut Map<String, Value>,
) -> bool {
    match key.split_once('.') {
        None => {
            let Some(attr) = lookup(key) else {
                return false;
            };
            into.insert(attr.name.clone(), value.clone());
        }
        Some((name, sub)) => {
            let Some(attr) = lookup(name) else {
                return false;
            };
            if attr.kind != AttrType::Complex || attr.multi_valued {
                return false;
            }
            let Some(sub) = find_attr(&attr.sub_attributes, sub) else {
                return false;
            };
            let slot = into
                .entry(attr.name.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(obj) = slot {
                obj.insert(sub.name.clone(), value.clone());
            }
        }
    }
    true
}

/// Normalises the value of one attribute. `Ok(None)` means "absent".
fn norm_value(attr: &Attribute, raw: &Value, label: &str) -> Result<Option<Value>, ScimError> {
    // RFC 7644 §3.5.1: readOnly values sent by the client SHALL be ignored.
    if attr.mutability == Mutability::ReadOnly {
        return Ok(None);
    }
    if attr.multi_valued {
        let items: Vec<&Value> = match raw {
            Value::Null => return Ok(None),
            Value::Array(items) => items.iter().collect(),
            // A lone value where an array belongs: wrap it.
            single => vec![single],
        };
        limits::check_values(label, items.len())?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(v) = norm_single(attr, item, label)? {
                out.push(v);
            }
        }
        // RFC 7643 §2.4: "primary" true MUST appear no more than once.
        let primaries = out
            .iter()
            .filter(|v| v.get("primary") == Some(&Value::Bool(true)))
            .count();
        if primaries > 1 {
            return Err(ScimError::InvalidValue(format!(
                "at most one of {label} may be primary, got {primaries}"
            )));
        }
        // RFC 7643 §2.5: an empty array is unassigned.
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    match raw {
        Value::Array(items) => match items.as_slice() {
            [] => Ok(None),
            // Some IdPs send single values wrapped in an array.
            [one] => norm_single(attr, one, label),
            _ => Err(ScimError::InvalidValue(format!(
                "{label} is single-valued, got an array of {}",
                items.len()
            ))),
        },
        single => norm_single(attr, single, label),
    }
}

/// Normalises one value (an element, for a multi-valued attribute).
pub(super) fn norm_single(
    attr: &Attribute,
    raw: &Value,
    label: &str,
) -> Result<Option<Value>, ScimError> {
    let mismatch = |expected: &str| {
        ScimError::InvalidValue(format!(
            "{label} must be {expected}, got {}",
            json_type(raw)
        ))
    };
    let value = match (attr.kind, raw) {
        (_, Value::Null) => return Ok(None),
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(s)) => {
            let max = match attr.kind {
                AttrType::Binary => limits::MAX_BINARY_CHARS,
                _ => limits::MAX_STRING_CHARS,
            };
            limits::check_string(label, s, max)?;
            raw.clone()
        }
        (AttrType::String | AttrType::Reference | AttrType::Binary, _) => {
            return Err(mismatch("a string"));
        }
        (AttrType::Boolean, Value::Bool(_)) => raw.clone(),
        // Entra sends booleans as the strings "True" and "False".
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => {
            Value::Bool(true)
        }
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Value::Bool(false)
        }
        (AttrType::Boolean, _) => return Err(mismatch("a boolean")),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => raw.clone(),
        (AttrType::Integer, _) => return Err(mismatch("an integer")),
        (AttrType::Decimal, Value::Number(_)) => raw.clone(),
        (AttrType::Decimal, _) => return Err(mismatch("a number")),
        // RFC 7643 §2.3.5: an xsd:dateTime, which RFC 3339 timestamps are.
        (AttrType::DateTime, Value::String(s)) => {
            if time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .is_err()
            {
                return Err(ScimError::InvalidValue(format!(
                    "{label} must be an RFC 3339 date-time, got {s:?}"
                )));
            }
            raw.clone()
        }
        (AttrType::DateTime, _) => return Err(mismatch("an RFC 3339 date-time string")),
        (AttrType::Complex, Value::Object(obj)) => return norm_complex(attr, obj, label),
        // Entra sends the enterprise `manager` as the bare manager id (PATCH value
        // "manager-id" rather than {"value": "manager-id"}).
        (AttrType::Complex, Value::String(_))
            if !attr.multi_valued && find_attr(&attr.sub_attributes, "value").is_some() =>
        {
            let mut obj = Map::new();
            obj.insert("value".to_string(), raw.clone());
            return norm_complex(attr, &obj, label);
        }
        (AttrType::Complex, _) => return Err(mismatch("an object")),
    };
    Ok(Some(value))
}

/// Normalises a complex value: canonical sub-attribute names, unknown ones dropped, each
/// sub-value checked. An object left empty is absent.
fn norm_complex(
    attr: &Attribute,
    obj: &Map<String, Value>,
    label: &str,
) -> Result<Option<Value>, ScimError> {
    let mut raw = Map::new();
    for (key, value) in obj {
        if let Some(sub) = find_attr(&attr.sub_attributes, key) {
            raw.insert(sub.name.clone(), value.clone());
        }
    }
    limits::check_unknown(label, obj.len().saturating_sub(raw.len()))?;
    let mut out = Map::new();
    for sub in &attr.sub_attributes {
        let Some(value) = raw.get(&sub.name) else {
            continue;
        };
        if let Some(v) = norm_value(sub, value, &format!("{label}.{}", sub.name))? {
            out.insert(sub.name.clone(), v);
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    check_required(&attr.sub_attributes, &out, &format!("{label}."))?;
    Ok(Some(Value::Object(out)))
}

/// Group `members`, taken out of the document: membership is a table, not a JSON array.
fn members(attr: &Attribute, raw: &Value) -> Result<Vec<MemberRef>, ScimError> {
    let items: Vec<&Value> = match raw {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    limits::check_members(items.len())?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if item.is_null() {
            continue;
        }
        let Some(Value::Object(obj)) = norm_single(attr, item, "members")? else {
            return Err(ScimError::InvalidValue("members.value is required".into()));
        };
        let Some(Value::String(value)) = obj.get("value") else {
            return Err(ScimError::InvalidValue("members.value is required".into()));
        };
        if value.trim().is_empty() {
            return Err(ScimError::InvalidValue("members.value is required".into()));
        }
        let type_attr = find_attr(&attr.sub_attributes, "type");
        let kind = obj
            .get("type")
            .and_then(Value::as_str)
            .map(|t| canonical_spelling(type_attr, t));
        out.push(MemberRef {
            value: value.clone(),
            kind,
        });
    }
    Ok(out)
}

/// The JSON type of a value, for error messages (never the value: it may be a password).
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
