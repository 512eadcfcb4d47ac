//! Incoming resources (POST/PUT bodies, PATCH results) checked and normalised against the
//! schema, and stored resources rendered back into SCIM JSON.

use crate::ScimError;
use crate::limits;
use crate::schema::{
    AttrType, Attribute, Mutability, Registry, ResourceKind, ResourceTypeDef, Returned, find_attr,
};
use crate::text::fold_eq;
use serde_json::{Map, Value};

/// A group member as sent by the client: `{"value": id, "type": "User"|"Group", "display"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    pub value: String,
    pub kind: Option<String>,
}

/// A normalised resource ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// Attributes with canonical names: core attributes at the top level, extension
    /// attributes under their URN key. No `id`, `meta`, `schemas`, readOnly attributes,
    /// `password` or `members`.
    pub doc: Map<String, Value>,
    /// The cleartext password if one was sent (to be hashed by the caller).
    pub password: Option<String>,
    /// Group members if the body carried `members`. `Some(vec![])` when the body sent an
    /// empty list (a PUT that clears the group), `None` when it sent none at all.
    pub members: Option<Vec<MemberRef>>,
}

/// The `meta` values of a stored resource, already formatted by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// RFC 3339 timestamp.
    pub created: String,
    /// RFC 3339 timestamp.
    pub last_modified: String,
    /// Absolute URL of the resource.
    pub location: String,
    /// The ETag, e.g. `W/"3"`.
    pub version: String,
}

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

fn immutable_attr(
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

/// Renders a stored resource as SCIM JSON: `schemas` (the core URN, then each extension
/// present), `id`, `externalId`, the other attributes, `extra` (attributes the caller
/// keeps outside the document, such as Group `members` or User `groups`), then `meta`.
/// Values whose schema says `returned: never` (RFC 7643 §7, `password`) are never
/// rendered, wherever they come from.
pub fn render(
    registry: &Registry,
    rt: &ResourceTypeDef,
    id: &str,
    doc: &Map<String, Value>,
    meta: &Meta,
    extra: Vec<(&str, Value)>,
) -> Map<String, Value> {
    render_with(registry, rt, id, doc, meta, extra, Returning::All)
}

/// [`render`] for a read without `attributes` or `excludedAttributes`: also leaves out
/// what is `returned: request` (attributes and sub-attributes) and extensions left with
/// nothing, as [`crate::project::project`] with two empty lists would, without building
/// the whole resource first and walking it again.
pub fn render_default(
    registry: &Registry,
    rt: &ResourceTypeDef,
    id: &str,
    doc: &Map<String, Value>,
    meta: &Meta,
    extra: Vec<(&str, Value)>,
) -> Map<String, Value> {
    render_with(registry, rt, id, doc, meta, extra, Returning::Default)
}

/// Which values a rendering leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Returning {
    /// Only `returned: never`.
    All,
    /// `returned: never` and `returned: request`.
    Default,
}

impl Returning {
    fn shows(self, returned: Returned) -> bool {
        match returned {
            Returned::Never => false,
            Returned::Request => self == Returning::All,
            Returned::Always | Returned::Default => true,
        }
    }
}

fn render_with(
    registry: &Registry,
    rt: &ResourceTypeDef,
    id: &str,
    doc: &Map<String, Value>,
    meta: &Meta,
    extra: Vec<(&str, Value)>,
    returning: Returning,
) -> Map<String, Value> {
    let core = registry.core_schema(rt);
    let extensions: Vec<_> = registry
        .extension_schemas(rt)
        .map(|(s, _)| s)
        .filter(|s| doc.contains_key(&s.id))
        .collect();
    // Rendered first: with `Returning::Default` an extension left empty is not listed.
    let mut rendered_extensions = Vec::with_capacity(extensions.len());
    for schema in &extensions {
        let Some(Value::Object(ext)) = doc.get(&schema.id) else {
            continue;
        };
        let mut obj = Map::new();
        for (key, value) in ext {
            match find_attr(&schema.attributes, key) {
                Some(attr) => {
                    if let Some(v) = returnable(attr, value, returning) {
                        obj.insert(key.clone(), v);
                    }
                }
                None => {
                    obj.insert(key.clone(), value.clone());
                }
            }
        }
        if returning == Returning::All || !obj.is_empty() {
            rendered_extensions.push((schema.id.as_str(), obj));
        }
    }
    let mut out = Map::new();
    let schemas = std::iter::once(rt.schema)
        .chain(rendered_extensions.iter().map(|(id, _)| *id))
        .map(|s| Value::String(s.to_string()))
        .collect();
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), Value::String(id.to_string()));
    let core_attr = |name: &str| {
        core.and_then(|c| find_attr(&c.attributes, name))
            .or_else(|| find_attr(registry.common_attributes(), name))
    };
    if let Some(ext_id) = doc.get("externalId")
        && core_attr("externalId").is_none_or(|a| returning.shows(a.returned))
    {
        out.insert("externalId".into(), ext_id.clone());
    }
    for (key, value) in doc {
        let reserved = ["schemas", "id", "externalId", "meta"];
        if reserved.contains(&key.as_str()) || extensions.iter().any(|s| s.id == *key) {
            continue;
        }
        match core_attr(key) {
            Some(attr) => {
                if let Some(v) = returnable(attr, value, returning) {
                    out.insert(key.clone(), v);
                }
            }
            // Not in the schema (stored before a schema change): shown as stored.
            None => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    for (id, obj) in rendered_extensions {
        out.insert(id.to_string(), Value::Object(obj));
    }
    for (key, value) in extra {
        let value = match core_attr(key) {
            Some(attr) => returnable_owned(attr, value, returning),
            None => Some(value),
        };
        if let Some(value) = value {
            out.insert(key.to_string(), value);
        }
    }
    let mut m = Map::new();
    m.insert("resourceType".into(), Value::String(rt.name.to_string()));
    m.insert("created".into(), Value::String(meta.created.clone()));
    m.insert(
        "lastModified".into(),
        Value::String(meta.last_modified.clone()),
    );
    m.insert("location".into(), Value::String(meta.location.clone()));
    m.insert("version".into(), Value::String(meta.version.clone()));
    out.insert("meta".into(), Value::Object(m));
    out
}

/// What of `value` (of attribute `attr`) a rendering shows: `None` when the attribute is
/// left out, else the value without the sub-attributes left out.
fn returnable(attr: &Attribute, value: &Value, returning: Returning) -> Option<Value> {
    if !returning.shows(attr.returned) {
        return None;
    }
    if !hides_subs(attr, returning) {
        return Some(value.clone());
    }
    let strip = |v: &Value| match v {
        Value::Object(obj) => Value::Object(
            obj.iter()
                .filter(|(k, _)| shows_sub(attr, k, returning))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    };
    Some(match value {
        Value::Array(items) => Value::Array(items.iter().map(strip).collect()),
        other => strip(other),
    })
}

/// [`returnable`] for a value the caller hands over.
fn returnable_owned(attr: &Attribute, mut value: Value, returning: Returning) -> Option<Value> {
    if !returning.shows(attr.returned) {
        return None;
    }
    if hides_subs(attr, returning) {
        let strip = |v: &mut Value| {
            if let Value::Object(obj) = v {
                obj.retain(|k, _| shows_sub(attr, k, returning));
            }
        };
        match &mut value {
            Value::Array(items) => items.iter_mut().for_each(strip),
            other => strip(other),
        }
    }
    Some(value)
}

/// Whether some sub-attribute of `attr` is left out.
fn hides_subs(attr: &Attribute, returning: Returning) -> bool {
    attr.kind == AttrType::Complex
        && attr
            .sub_attributes
            .iter()
            .any(|s| !returning.shows(s.returned))
}

fn shows_sub(attr: &Attribute, key: &str, returning: Returning) -> bool {
    find_attr(&attr.sub_attributes, key).is_none_or(|s| returning.shows(s.returned))
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
fn norm_single(attr: &Attribute, raw: &Value, label: &str) -> Result<Option<Value>, ScimError> {
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
        let kind = obj.get("type").and_then(Value::as_str).map(|t| {
            // Canonical spelling, so "user" from a lax client still means a User.
            type_attr
                .and_then(|a| {
                    a.canonical_values
                        .iter()
                        .find(|c| c.eq_ignore_ascii_case(t))
                })
                .map_or_else(|| t.to_string(), String::clone)
        });
        out.push(MemberRef {
            value: value.clone(),
            kind,
        });
    }
    Ok(out)
}

/// The JSON type of a value, for error messages (never the value: it may be a password).
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA, Uniqueness};
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
        let e =
            user(json!({"userName": "a", "displayName": long(MAX_STRING_CHARS + 1)})).unwrap_err();
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
        let rendered = render(&r, rt, "id-1", &first.doc, &meta(), extra);
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
        let out = render(&r, g, "g", &Map::new(), &meta(), vec![]);
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
}
