//! What the two OpenAPI documents (the admin API's, the sign-in and session API's) share:
//! the admin token's security scheme, the `Retry-After` of a 429, and the stored-text rule
//! (`http::text`): every string a request body carries gets a pattern without control
//! characters other than tab, line feed and carriage return, so a client generated from a
//! document knows what the server refuses with 400. Response schemas are left alone: they
//! describe what is stored.

use std::collections::BTreeSet;
use utoipa::Modify;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayItems, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, RefOr};

/// The `admin_token` security scheme: a bearer admin token.
pub struct AdminToken;

impl Modify for AdminToken {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Runs its function on every operation of a document, with the operation's path (each
/// document's common responses).
pub struct EachOperation(pub fn(&str, &mut Operation));

impl Modify for EachOperation {
    fn modify(&self, openapi: &mut OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            for op in operations_mut(item) {
                (self.0)(path, op);
            }
        }
    }
}

/// The operations of a path.
pub fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.patch,
        &mut item.delete,
    ]
    .into_iter()
    .flatten()
}

/// The `Retry-After` header of a 429.
pub fn retry_after() -> Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::Integer))
        .description(Some("Seconds to wait before trying again"))
        .build()
}

/// Adds `scim::limits::TEXT_PATTERN` to the strings of every request body (following
/// references) that have no pattern of their own.
pub struct RequestText;

impl Modify for RequestText {
    fn modify(&self, openapi: &mut OpenApi) {
        let mut roots = Vec::new();
        for item in openapi.paths.paths.values_mut() {
            for op in operations_mut(item) {
                let Some(body) = op.request_body.as_mut() else {
                    continue;
                };
                for content in body.content.values_mut() {
                    if let Some(schema) = content.schema.as_mut() {
                        constrain(schema, &mut roots);
                    }
                }
            }
        }
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let mut done = BTreeSet::new();
        while let Some(name) = roots.pop() {
            if !done.insert(name.clone()) {
                continue;
            }
            if let Some(schema) = components.schemas.get_mut(&name) {
                constrain(schema, &mut roots);
            }
        }
    }
}

/// Patterns the strings of `schema`; the components it refers to are pushed on `refs`.
fn constrain(schema: &mut RefOr<Schema>, refs: &mut Vec<String>) {
    let schema = match schema {
        RefOr::Ref(r) => {
            if let Some(name) = r.ref_location.strip_prefix("#/components/schemas/") {
                refs.push(name.to_owned());
            }
            return;
        }
        RefOr::T(s) => s,
    };
    match schema {
        Schema::Object(o) => {
            if is_string(&o.schema_type) && o.enum_values.is_none() && o.pattern.is_none() {
                o.pattern = Some(scim::limits::TEXT_PATTERN.to_owned());
            }
            for property in o.properties.values_mut() {
                constrain(property, refs);
            }
            if let Some(extra) = o.additional_properties.as_mut()
                && let AdditionalProperties::RefOr(extra) = extra.as_mut()
            {
                constrain(extra, refs);
            }
        }
        Schema::Array(a) => {
            if let ArrayItems::RefOrSchema(items) = &mut a.items {
                constrain(items, refs);
            }
        }
        Schema::OneOf(o) => o.items.iter_mut().for_each(|s| constrain(s, refs)),
        Schema::AnyOf(o) => o.items.iter_mut().for_each(|s| constrain(s, refs)),
        Schema::AllOf(o) => o.items.iter_mut().for_each(|s| constrain(s, refs)),
        _ => {}
    }
}

fn is_string(t: &SchemaType) -> bool {
    match t {
        SchemaType::Type(t) => *t == Type::String,
        SchemaType::Array(types) => types.contains(&Type::String),
        SchemaType::AnyValue => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// The request strings of both documents with a pattern of their own: a name that
    /// is not blank, a settings key that is not `sso_enforced`, or an ASCII-only format
    /// (webhook URL and secret). Any other would have to state the rule by hand.
    #[test]
    fn every_request_string_states_the_rule() {
        for doc in [crate::http::admin::document(), crate::http::sso::document()] {
            let doc = serde_json::to_value(doc).unwrap();
            let mut patterns = Vec::new();
            collect_patterns(&doc["components"]["schemas"], &mut patterns);
            assert!(patterns.contains(&scim::limits::TEXT_PATTERN.to_owned()));
            for p in patterns {
                let ascii_format = p.starts_with("^https?://") || p.starts_with("^whsec_");
                let policy_key = format!(
                    "^(?!sso_enforced(?![\\s\\S])){}",
                    scim::limits::TEXT_PATTERN.trim_start_matches('^')
                );
                let known = [scim::limits::TEXT_PATTERN, scim::limits::NAME_PATTERN];
                let answer_only = ["^Bearer$", "^OKP$", "^Ed25519$", "^EdDSA$", "^sig$"];
                assert!(
                    known.contains(&p.as_str())
                        || ascii_format
                        || p == policy_key
                        || answer_only.contains(&p.as_str()),
                    "{p}"
                );
            }
        }
    }

    fn collect_patterns(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(p)) = o.get("pattern") {
                    out.push(p.clone());
                }
                o.values().for_each(|v| collect_patterns(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| collect_patterns(v, out)),
            _ => {}
        }
    }
}
