//! The discovery documents: `/ServiceProviderConfig` (RFC 7643 §5, with the RFC 9865
//! `pagination` block), `/ResourceTypes` (RFC 7643 §6) and `/Schemas` (RFC 7643 §7).
//! The server wraps the lists in a ListResponse.

use crate::schema::{Registry, ResourceKind, ResourceTypeDef};
use serde_json::{Map, Value, json};

/// ServiceProviderConfig schema URN, RFC 7643 §5.
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// ResourceType schema URN, RFC 7643 §6.
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";

/// Which paging a list request without `startIndex` or `cursor` gets, RFC 9865 §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaginationMethod {
    Index,
    Cursor,
}

impl PaginationMethod {
    fn as_str(self) -> &'static str {
        match self {
            PaginationMethod::Index => "index",
            PaginationMethod::Cursor => "cursor",
        }
    }
}

/// What the server advertises about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The SCIM base URL without a trailing slash, e.g. `https://host/scim/v2`; every
    /// `meta.location` starts with it.
    pub base_url: String,
    /// `filter.maxResults`: the most resources one list response holds.
    pub max_results: usize,
    /// `bulk.maxOperations`; 0 advertises bulk as unsupported.
    pub bulk_max_operations: usize,
    /// `bulk.maxPayloadSize` in bytes.
    pub bulk_max_payload: usize,
    /// RFC 9865 `defaultPaginationMethod`. Index paging is what Entra and Okta use.
    pub default_pagination: PaginationMethod,
    /// RFC 9865 `defaultPageSize`: the page size when `count` is absent.
    pub default_page_size: usize,
    /// RFC 9865 `maxPageSize`.
    pub max_page_size: usize,
    /// RFC 9865 `cursorTimeout`, in seconds: how long a cursor stays valid.
    pub cursor_timeout_secs: u64,
    /// `documentationUri`, when there is a page for humans.
    pub documentation_uri: Option<String>,
}

fn base(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// The `/ServiceProviderConfig` document, RFC 7643 §5.
pub fn service_provider_config(limits: &Limits) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert("schemas".into(), json!([SERVICE_PROVIDER_CONFIG_SCHEMA]));
    if let Some(uri) = &limits.documentation_uri {
        doc.insert("documentationUri".into(), json!(uri));
    }
    doc.insert("patch".into(), json!({"supported": true}));
    doc.insert(
        "bulk".into(),
        json!({
            "supported": limits.bulk_max_operations > 0,
            "maxOperations": limits.bulk_max_operations,
            "maxPayloadSize": limits.bulk_max_payload,
        }),
    );
    doc.insert(
        "filter".into(),
        json!({"supported": true, "maxResults": limits.max_results}),
    );
    doc.insert("changePassword".into(), json!({"supported": false}));
    doc.insert("sort".into(), json!({"supported": true}));
    doc.insert("etag".into(), json!({"supported": true}));
    // RFC 9865 §4: both paging methods are offered.
    doc.insert(
        "pagination".into(),
        json!({
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": limits.default_pagination.as_str(),
            "defaultPageSize": limits.default_page_size,
            "maxPageSize": limits.max_page_size,
            "cursorTimeout": limits.cursor_timeout_secs,
        }),
    );
    doc.insert(
        "authenticationSchemes".into(),
        json!([{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication scheme using the OAuth Bearer Token Standard",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }]),
    );
    // The limits of `crate::limits` are not in this document: RFC 7643 §5 has no attribute
    // for them, and strict clients (scim2-tester's models among them) refuse a document with
    // an extension here. README lists them.
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", base(&limits.base_url)),
        }),
    );
    doc
}

/// One `/ResourceTypes/{name}` document, RFC 7643 §6.
pub fn resource_type(rt: &ResourceTypeDef, base_url: &str) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert("schemas".into(), json!([RESOURCE_TYPE_SCHEMA]));
    doc.insert("id".into(), json!(rt.name));
    doc.insert("name".into(), json!(rt.name));
    doc.insert("endpoint".into(), json!(rt.endpoint));
    let description = match rt.kind {
        ResourceKind::User => "User Account",
        ResourceKind::Group => "Group",
    };
    doc.insert("description".into(), json!(description));
    doc.insert("schema".into(), json!(rt.schema));
    // RFC 7643 §8.6 leaves `schemaExtensions` out for a type without extensions.
    if !rt.extensions.is_empty() {
        let exts: Vec<Value> = rt
            .extensions
            .iter()
            .map(|(urn, required)| json!({"schema": urn, "required": required}))
            .collect();
        doc.insert("schemaExtensions".into(), Value::Array(exts));
    }
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/{}", base(base_url), rt.name),
        }),
    );
    doc
}

/// All `/ResourceTypes` documents.
pub fn resource_types(registry: &Registry, base_url: &str) -> Vec<Map<String, Value>> {
    registry
        .resource_types()
        .iter()
        .map(|rt| resource_type(rt, base_url))
        .collect()
}

/// One `/Schemas/{urn}` document (URN matched case-insensitively): the document from
/// `scim-schemas/` with `meta` added (RFC 7643 §7; erratum 8417 gives schema
/// representations `schemas` and `meta`).
pub fn schema(registry: &Registry, urn: &str, base_url: &str) -> Option<Map<String, Value>> {
    let index = registry
        .schemas()
        .iter()
        .position(|s| s.id.eq_ignore_ascii_case(urn))?;
    let raw = registry.raw_schemas().get(index)?.as_object()?;
    let id = registry.schemas().get(index)?.id.as_str();
    let mut doc = raw.clone();
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": "Schema",
            "location": format!("{}/Schemas/{id}", base(base_url)),
        }),
    );
    Some(doc)
}

/// All `/Schemas` documents.
pub fn schemas(registry: &Registry, base_url: &str) -> Vec<Map<String, Value>> {
    registry
        .schemas()
        .iter()
        .filter_map(|s| schema(registry, &s.id, base_url))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{
        ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, ROLLCALL_USER_SCHEMA, SCHEMA_SCHEMA, USER_SCHEMA,
    };

    const BASE: &str = "http://host/scim/v2/";

    fn limits() -> Limits {
        Limits {
            base_url: BASE.into(),
            max_results: 200,
            bulk_max_operations: 1000,
            bulk_max_payload: 1_048_576,
            default_pagination: PaginationMethod::Index,
            default_page_size: 100,
            max_page_size: 200,
            cursor_timeout_secs: 3600,
            documentation_uri: None,
        }
    }

    #[test]
    fn service_provider_config_advertises_what_we_do() {
        let doc = Value::Object(service_provider_config(&limits()));
        assert_eq!(
            doc,
            json!({
                "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
                "patch": {"supported": true},
                "bulk": {"supported": true, "maxOperations": 1000, "maxPayloadSize": 1048576},
                "filter": {"supported": true, "maxResults": 200},
                "changePassword": {"supported": false},
                "sort": {"supported": true},
                "etag": {"supported": true},
                "pagination": {
                    "cursor": true,
                    "index": true,
                    "defaultPaginationMethod": "index",
                    "defaultPageSize": 100,
                    "maxPageSize": 200,
                    "cursorTimeout": 3600
                },
                "authenticationSchemes": [{
                    "type": "oauthbearertoken",
                    "name": "OAuth Bearer Token",
                    "description": "Authentication scheme using the OAuth Bearer Token Standard",
                    "specUri": "https://www.rfc-editor.org/info/rfc6750",
                    "primary": true
                }],
                "meta": {
                    "resourceType": "ServiceProviderConfig",
                    "location": "http://host/scim/v2/ServiceProviderConfig"
                }
            })
        );
        let mut l = limits();
        l.bulk_max_operations = 0;
        l.default_pagination = PaginationMethod::Cursor;
        l.documentation_uri = Some("https://docs.example/scim".into());
        let doc = service_provider_config(&l);
        assert_eq!(doc["bulk"]["supported"], json!(false));
        assert_eq!(
            doc["pagination"]["defaultPaginationMethod"],
            json!("cursor")
        );
        assert_eq!(doc["documentationUri"], json!("https://docs.example/scim"));
    }

    #[test]
    fn resource_types_with_extensions() {
        let r = Registry::load().unwrap();
        let docs = resource_types(&r, BASE);
        assert_eq!(docs.len(), 2);
        assert_eq!(
            Value::Object(docs[0].clone()),
            json!({
                "schemas": [RESOURCE_TYPE_SCHEMA],
                "id": "User",
                "name": "User",
                "endpoint": "/Users",
                "description": "User Account",
                "schema": USER_SCHEMA,
                "schemaExtensions": [
                    {"schema": ENTERPRISE_USER_SCHEMA, "required": false},
                    {"schema": ROLLCALL_USER_SCHEMA, "required": false}
                ],
                "meta": {
                    "resourceType": "ResourceType",
                    "location": "http://host/scim/v2/ResourceTypes/User"
                }
            })
        );
        let group = resource_type(r.resource_type(ResourceKind::Group), "http://h/scim/v2");
        assert_eq!(group["schema"], json!(GROUP_SCHEMA));
        assert!(!group.contains_key("schemaExtensions"));
        assert_eq!(
            group["meta"]["location"],
            json!("http://h/scim/v2/ResourceTypes/Group")
        );
    }

    #[test]
    fn schemas_are_the_documents_with_meta() {
        let r = Registry::load().unwrap();
        let docs = schemas(&r, BASE);
        assert_eq!(docs.len(), 4);
        for doc in &docs {
            assert_eq!(doc["schemas"], json!([SCHEMA_SCHEMA]));
            let id = doc["id"].as_str().unwrap();
            assert_eq!(
                doc["meta"],
                json!({
                    "resourceType": "Schema",
                    "location": format!("http://host/scim/v2/Schemas/{id}")
                })
            );
            assert!(doc["attributes"].is_array());
        }
        let user = schema(&r, &USER_SCHEMA.to_uppercase(), BASE).unwrap();
        assert_eq!(user["id"], json!(USER_SCHEMA));
        assert_eq!(user["attributes"][0]["name"], json!("userName"));
        assert!(schema(&r, "urn:nope", BASE).is_none());
    }
}
