//! Rendering stored resources back into SCIM JSON.

use super::Meta;
use crate::schema::{AttrType, Attribute, Registry, ResourceTypeDef, Returned, find_attr};
use serde_json::{Map, Value};

/// Which values a rendering leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returning {
    /// Only `returned: never`: for a read that names `attributes` or
    /// `excludedAttributes`, projected afterwards.
    All,
    /// `returned: never` and `returned: request` (attributes and sub-attributes) and
    /// extensions left with nothing, as [`crate::project::project`] with two empty lists
    /// would, without building the whole resource first and walking it again.
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

/// Renders a stored resource as SCIM JSON: `schemas` (the core URN, then each extension
/// present), `id`, `externalId`, the other attributes, `extra` (attributes the caller
/// keeps outside the document, such as Group `members` or User `groups`), then `meta`.
/// Values whose schema says `returned: never` (RFC 7643 §7, `password`) are never
/// rendered, wherever they come from; [`Returning::Default`] also leaves out what is
/// `returned: request`.
pub fn render(
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
