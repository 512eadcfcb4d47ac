//! Group `members` in PATCH values and paths. Membership is a table, so these never touch
//! the document: they become `MemberChange`s.

use super::member;
use super::value::json_type;
use crate::ScimError;
use crate::filter::{CompValue, CompareOp, Filter};
use crate::resource::MemberRef;
use crate::schema::{Attribute, canonical_spelling, find_attr};
use serde_json::Value;

/// The members a value names: an array of `{"value": id, "type"?: ...}`, or one such
/// object. `null` (and `null` elements) name nobody. Every member needs a non-empty
/// string `value`; `type` comes out in its canonical spelling (`user` → `User`).
/// Other sub-attributes (`display`, `$ref`: Entra sends `"$ref": null`) are not kept.
pub(super) fn refs(attr: &Attribute, value: Option<&Value>) -> Result<Vec<MemberRef>, ScimError> {
    let items: Vec<&Value> = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter(|v| !v.is_null()).collect(),
        Some(single) => vec![single],
    };
    let type_attr = find_attr(&attr.sub_attributes, "type");
    items
        .into_iter()
        .map(|item| {
            let Value::Object(obj) = item else {
                return Err(ScimError::InvalidValue(format!(
                    "each member must be an object {{\"value\": id}}, got {}",
                    json_type(item)
                )));
            };
            let id = match member(obj, "value") {
                Some(Value::String(id)) if !id.trim().is_empty() => id.clone(),
                _ => {
                    return Err(ScimError::InvalidValue(
                        "members.value is required: each member is {\"value\": id}".into(),
                    ));
                }
            };
            crate::limits::check_string("members.value", &id, crate::limits::MAX_STRING_CHARS)?;
            let kind = member(obj, "type")
                .and_then(Value::as_str)
                .map(|t| canonical_spelling(type_attr, t));
            Ok(MemberRef { value: id, kind })
        })
        .collect()
}

/// The ids a `members[...]` filter names when it is `value eq "id"` terms joined by `or`
/// (what Okta and Entra send); `None` for any other filter.
pub(super) fn ids_of_filter(filter: &Filter) -> Option<Vec<String>> {
    let mut ids = Vec::new();
    collect_ids(filter, &mut ids).then_some(ids)
}

fn collect_ids(filter: &Filter, ids: &mut Vec<String>) -> bool {
    match filter {
        Filter::Or(l, r) => collect_ids(l, ids) && collect_ids(r, ids),
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Str(id),
        } if path.urn.is_none()
            && path.sub.is_none()
            && path.name.eq_ignore_ascii_case("value") =>
        {
            ids.push(id.clone());
            true
        }
        _ => false,
    }
}
