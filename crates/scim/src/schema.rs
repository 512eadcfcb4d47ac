//! SCIM schemas (RFC 7643 §7) loaded from the JSON documents in `scim-schemas/`, and the
//! resolution of attribute paths against them (case-insensitive, URN-qualified).

use crate::ScimError;
use crate::filter::AttrPath;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Core User schema URN.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group schema URN.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Enterprise User extension URN.
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// rollcall User extension URN.
pub const ROLLCALL_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:rollcall:2.0:User";

/// An attribute's data type, RFC 7643 §2.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

/// RFC 7643 §7 `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// RFC 7643 §7 `returned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

/// RFC 7643 §7 `uniqueness`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

/// One attribute definition, deserialised straight from the schema document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: AttrType,
    #[serde(default)]
    pub multi_valued: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub case_exact: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canonical_values: Vec<String>,
    pub mutability: Mutability,
    pub returned: Returned,
    #[serde(default = "uniqueness_none")]
    pub uniqueness: Uniqueness,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reference_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_attributes: Vec<Attribute>,
}

fn uniqueness_none() -> Uniqueness {
    Uniqueness::None
}

/// A schema document, RFC 7643 §7.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub attributes: Vec<Attribute>,
}

/// The resource types rollcall serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

/// A resource type, RFC 7643 §6: its core schema and extensions.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceTypeDef {
    pub kind: ResourceKind,
    /// "User" or "Group".
    pub name: &'static str,
    /// "/Users" or "/Groups".
    pub endpoint: &'static str,
    pub schema: &'static str,
    /// Extension schema URNs and whether each is required.
    pub extensions: Vec<(&'static str, bool)>,
}

/// An attribute path resolved against a resource type's schemas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolved<'a> {
    /// The URN of the schema that defines the attribute.
    pub schema: &'a str,
    /// True when that schema is the resource type's core schema (attribute stored at the
    /// top level of the resource) rather than an extension (stored under the URN key).
    pub core: bool,
    /// The top-level attribute.
    pub attr: &'a Attribute,
    /// The sub-attribute, when the path names one.
    pub sub: Option<&'a Attribute>,
}

/// The URN every schema document declares in its `schemas`, RFC 7643 §7.
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// The schema documents, embedded at build time so the binary carries no loose files.
const SCHEMA_FILES: [(&str, &str); 4] = [
    ("user.json", include_str!("../../../scim-schemas/user.json")),
    (
        "enterprise-user.json",
        include_str!("../../../scim-schemas/enterprise-user.json"),
    ),
    (
        "rollcall-user.json",
        include_str!("../../../scim-schemas/rollcall-user.json"),
    ),
    (
        "group.json",
        include_str!("../../../scim-schemas/group.json"),
    ),
];

/// The common attributes of RFC 7643 §3.1. They belong to every resource but to no schema
/// document, so they are defined here; `resolve` finds them (filters such as
/// `meta.lastModified gt ...`, `sortBy=externalId`).
const COMMON_ATTRIBUTES: &str = r#"[
  {
    "name": "id",
    "type": "string",
    "multiValued": false,
    "description": "A unique identifier for a SCIM resource as defined by the service provider.",
    "required": false,
    "caseExact": true,
    "mutability": "readOnly",
    "returned": "always",
    "uniqueness": "server"
  },
  {
    "name": "externalId",
    "type": "string",
    "multiValued": false,
    "description": "A String that is an identifier for the resource as defined by the provisioning client.",
    "required": false,
    "caseExact": true,
    "mutability": "readWrite",
    "returned": "default",
    "uniqueness": "none"
  },
  {
    "name": "meta",
    "type": "complex",
    "multiValued": false,
    "description": "A complex attribute containing resource metadata.",
    "required": false,
    "mutability": "readOnly",
    "returned": "default",
    "subAttributes": [
      {
        "name": "resourceType",
        "type": "string",
        "multiValued": false,
        "description": "The name of the resource type of the resource.",
        "required": false,
        "caseExact": true,
        "mutability": "readOnly",
        "returned": "default",
        "uniqueness": "none"
      },
      {
        "name": "created",
        "type": "dateTime",
        "multiValued": false,
        "description": "The DateTime that the resource was added to the service provider.",
        "required": false,
        "mutability": "readOnly",
        "returned": "default",
        "uniqueness": "none"
      },
      {
        "name": "lastModified",
        "type": "dateTime",
        "multiValued": false,
        "description": "The most recent DateTime that the details of this resource were updated at the service provider.",
        "required": false,
        "mutability": "readOnly",
        "returned": "default",
        "uniqueness": "none"
      },
      {
        "name": "location",
        "type": "reference",
        "referenceTypes": ["uri"],
        "multiValued": false,
        "description": "The URI of the resource being returned.",
        "required": false,
        "caseExact": true,
        "mutability": "readOnly",
        "returned": "default",
        "uniqueness": "none"
      },
      {
        "name": "version",
        "type": "string",
        "multiValued": false,
        "description": "The version of the resource being returned.",
        "required": false,
        "caseExact": true,
        "mutability": "readOnly",
        "returned": "default",
        "uniqueness": "none"
      }
    ]
  }
]"#;

/// All schemas and resource types, loaded once at start-up.
#[derive(Debug, Clone)]
pub struct Registry {
    schemas: Vec<Schema>,
    /// The documents as written in `scim-schemas/`, served by `/Schemas` unchanged.
    raw: Vec<Value>,
    /// Indexed by `ResourceKind`: User then Group.
    resource_types: [ResourceTypeDef; 2],
    common: Vec<Attribute>,
}

fn load_error(file: &str, detail: impl std::fmt::Display) -> ScimError {
    ScimError::InvalidSyntax(format!("scim-schemas/{file}: {detail}"))
}

/// `value` in the canonical spelling `attr` lists for it, compared case-insensitively,
/// or `value` as given when it is not one: "user" from a lax client still means a User.
pub fn canonical_spelling(attr: Option<&Attribute>, value: &str) -> String {
    attr.and_then(|a| {
        a.canonical_values
            .iter()
            .find(|c| c.eq_ignore_ascii_case(value))
    })
    .map_or_else(|| value.to_string(), String::clone)
}

/// Finds an attribute by name, case-insensitively (RFC 7643 §2.1: names are
/// case-insensitive).
pub fn find_attr<'a>(attrs: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// Rejects two attributes whose names differ only in case, and sub-attributes anywhere
/// but under a complex attribute (RFC 7643 §2.3.8: no complex inside complex).
fn check_attributes(file: &str, attrs: &[Attribute], depth: usize) -> Result<(), ScimError> {
    for (i, a) in attrs.iter().enumerate() {
        if attrs
            .iter()
            .skip(i + 1)
            .any(|b| b.name.eq_ignore_ascii_case(&a.name))
        {
            return Err(load_error(file, format!("duplicate attribute {}", a.name)));
        }
        match a.kind {
            AttrType::Complex if depth == 0 => check_attributes(file, &a.sub_attributes, 1)?,
            AttrType::Complex => {
                return Err(load_error(file, format!("nested complex {}", a.name)));
            }
            _ if !a.sub_attributes.is_empty() => {
                return Err(load_error(
                    file,
                    format!("{} has sub-attributes but is not complex", a.name),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

impl Registry {
    /// Loads the schema documents embedded from `scim-schemas/`.
    pub fn load() -> Result<Registry, ScimError> {
        let mut schemas = Vec::new();
        let mut raw = Vec::new();
        for (file, text) in SCHEMA_FILES {
            let value: Value = serde_json::from_str(text).map_err(|e| load_error(file, e))?;
            let declared = value
                .get("schemas")
                .and_then(Value::as_array)
                .is_some_and(|s| s.iter().any(|u| u.as_str() == Some(SCHEMA_SCHEMA)));
            if !declared {
                return Err(load_error(
                    file,
                    format!("schemas must list {SCHEMA_SCHEMA}"),
                ));
            }
            let schema: Schema =
                serde_json::from_value(value.clone()).map_err(|e| load_error(file, e))?;
            check_attributes(file, &schema.attributes, 0)?;
            if schemas
                .iter()
                .any(|s: &Schema| s.id.eq_ignore_ascii_case(&schema.id))
            {
                return Err(load_error(
                    file,
                    format!("duplicate schema id {}", schema.id),
                ));
            }
            schemas.push(schema);
            raw.push(value);
        }
        let common: Vec<Attribute> =
            serde_json::from_str(COMMON_ATTRIBUTES).map_err(|e| load_error("common", e))?;
        check_attributes("common", &common, 0)?;

        let resource_types = [
            ResourceTypeDef {
                kind: ResourceKind::User,
                name: "User",
                endpoint: "/Users",
                schema: USER_SCHEMA,
                // The rollcall extension carries `teams`, which the provisioning rules
                // turn into memberships (scim-schemas/rollcall-user.json).
                extensions: vec![
                    (ENTERPRISE_USER_SCHEMA, false),
                    (ROLLCALL_USER_SCHEMA, false),
                ],
            },
            ResourceTypeDef {
                kind: ResourceKind::Group,
                name: "Group",
                endpoint: "/Groups",
                schema: GROUP_SCHEMA,
                extensions: Vec::new(),
            },
        ];
        for rt in &resource_types {
            let urns = std::iter::once(rt.schema).chain(rt.extensions.iter().map(|(u, _)| *u));
            for urn in urns {
                if !schemas.iter().any(|s| s.id == urn) {
                    return Err(load_error(
                        rt.name,
                        format!("resource type {} needs schema {urn}", rt.name),
                    ));
                }
            }
            // The common attributes live at the top level next to the core ones.
            if let Some(core) = schemas.iter().find(|s| s.id == rt.schema)
                && let Some(clash) = core
                    .attributes
                    .iter()
                    .find(|a| find_attr(&common, &a.name).is_some())
            {
                return Err(load_error(
                    rt.name,
                    format!("{} clashes with a common attribute", clash.name),
                ));
            }
        }
        Ok(Registry {
            schemas,
            raw,
            resource_types,
            common,
        })
    }

    /// All schema documents, in a fixed order.
    pub fn schemas(&self) -> &[Schema] {
        &self.schemas
    }

    /// The schema documents exactly as written in `scim-schemas/`, in the order of
    /// `schemas()`.
    pub fn raw_schemas(&self) -> &[Value] {
        &self.raw
    }

    /// One schema by URN (case-insensitive).
    pub fn schema(&self, urn: &str) -> Option<&Schema> {
        self.schemas.iter().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// The common attributes `id`, `externalId` and `meta` (RFC 7643 §3.1).
    pub fn common_attributes(&self) -> &[Attribute] {
        &self.common
    }

    /// All resource types.
    pub fn resource_types(&self) -> &[ResourceTypeDef] {
        &self.resource_types
    }

    /// The definition of one resource type.
    pub fn resource_type(&self, kind: ResourceKind) -> &ResourceTypeDef {
        let [user, group] = &self.resource_types;
        match kind {
            ResourceKind::User => user,
            ResourceKind::Group => group,
        }
    }

    /// The resource type's core schema.
    pub fn core_schema(&self, rt: &ResourceTypeDef) -> Option<&Schema> {
        self.schemas.iter().find(|s| s.id == rt.schema)
    }

    /// The resource type's extension schemas with their `required` flag, in declaration
    /// order.
    pub fn extension_schemas<'a>(
        &'a self,
        rt: &'a ResourceTypeDef,
    ) -> impl Iterator<Item = (&'a Schema, bool)> + 'a {
        rt.extensions
            .iter()
            .filter_map(|(urn, required)| self.schema(urn).map(|s| (s, *required)))
    }

    /// The extension of `rt` whose URN is `urn` (case-insensitive).
    pub fn extension<'a>(&'a self, rt: &'a ResourceTypeDef, urn: &str) -> Option<&'a Schema> {
        self.extension_schemas(rt)
            .map(|(s, _)| s)
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// A top-level attribute of the resource type addressed without a URN: a core schema
    /// attribute or a common one, matched case-insensitively.
    pub fn attribute(&self, rt: &ResourceTypeDef, name: &str) -> Option<&Attribute> {
        self.core_schema(rt)
            .and_then(|s| find_attr(&s.attributes, name))
            .or_else(|| find_attr(&self.common, name))
    }

    /// True when `name` is one of the common attributes (`id`, `externalId`, `meta`).
    pub fn is_common(&self, name: &str) -> bool {
        find_attr(&self.common, name).is_some()
    }

    /// Resolves a path against a resource type: URN prefix (if any) picks the schema,
    /// names match case-insensitively. `Err(ScimError::InvalidPath)` for unknown names.
    ///
    /// Without a URN only the core schema and the common attributes are searched: RFC 7644
    /// §3.10 has extension attributes addressed by their fully qualified name.
    pub fn resolve<'a>(
        &'a self,
        rt: &ResourceTypeDef,
        path: &AttrPath,
    ) -> Result<Resolved<'a>, ScimError> {
        let unknown = || {
            ScimError::InvalidPath(format!(
                "unknown attribute \"{path}\" for resource type {}",
                rt.name
            ))
        };
        let (schema, attr) = match &path.urn {
            Some(urn) => {
                let schema = self.schema_for(rt, urn).ok_or_else(|| {
                    ScimError::InvalidPath(format!(
                        "unknown schema \"{urn}\" in \"{path}\" for resource type {}",
                        rt.name
                    ))
                })?;
                let mut attr = find_attr(&schema.attributes, &path.name);
                // `urn:...:core:2.0:User:meta.lastModified` names a common attribute.
                if attr.is_none() && schema.id == rt.schema {
                    attr = find_attr(&self.common, &path.name);
                }
                (schema, attr.ok_or_else(unknown)?)
            }
            None => {
                let schema = self.core_schema(rt).ok_or_else(unknown)?;
                let attr = find_attr(&schema.attributes, &path.name)
                    .or_else(|| find_attr(&self.common, &path.name))
                    .ok_or_else(unknown)?;
                (schema, attr)
            }
        };
        let sub = match &path.sub {
            Some(sub) => Some(find_attr(&attr.sub_attributes, sub).ok_or_else(unknown)?),
            None => None,
        };
        Ok(Resolved {
            schema: &schema.id,
            core: schema.id == rt.schema,
            attr,
            sub,
        })
    }

    /// The schema of `rt` (core or extension) with URN `urn`, case-insensitively.
    fn schema_for<'a>(&'a self, rt: &ResourceTypeDef, urn: &str) -> Option<&'a Schema> {
        let allowed = |id: &str| id == rt.schema || rt.extensions.iter().any(|(u, _)| *u == id);
        self.schemas
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(urn) && allowed(&s.id))
    }

    /// When the whole path is a schema URN of `rt` — `urn:...:enterprise:2.0:User`, which
    /// parses as URN `urn:...:enterprise:2.0` and name `User` — that schema. Used by
    /// `attributes=`, `excludedAttributes=` and PATCH paths that address a whole extension.
    pub fn schema_of_path<'a>(
        &'a self,
        rt: &ResourceTypeDef,
        path: &AttrPath,
    ) -> Option<&'a Schema> {
        if path.sub.is_some() {
            return None;
        }
        let full = match &path.urn {
            Some(urn) => format!("{urn}:{}", path.name),
            None => path.name.clone(),
        };
        self.schema_for(rt, &full)
    }

    /// Whether string comparisons on `path` are case-sensitive (RFC 7643 §2.2 `caseExact`).
    /// A complex attribute without a sub-attribute stands for its `value` (RFC 7644
    /// §3.4.2.2: `emails eq "x"` compares `emails.value`). False for unknown paths.
    pub fn case_exact(&self, rt: &ResourceTypeDef, path: &AttrPath) -> bool {
        match self.resolve(rt, path) {
            Ok(Resolved { sub: Some(sub), .. }) => sub.case_exact,
            Ok(Resolved { attr, .. }) if attr.kind == AttrType::Complex => {
                find_attr(&attr.sub_attributes, "value").is_some_and(|v| v.case_exact)
            }
            Ok(Resolved { attr, .. }) => attr.case_exact,
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: urn.map(str::to_string),
            name: name.to_string(),
            sub: sub.map(str::to_string),
        }
    }

    fn reg() -> Registry {
        Registry::load().unwrap()
    }

    #[test]
    fn loads_the_four_schemas_and_two_resource_types() {
        let r = reg();
        let ids: Vec<&str> = r.schemas().iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                USER_SCHEMA,
                ENTERPRISE_USER_SCHEMA,
                ROLLCALL_USER_SCHEMA,
                GROUP_SCHEMA
            ]
        );
        assert_eq!(r.raw_schemas().len(), 4);
        let user = r.resource_type(ResourceKind::User);
        assert_eq!(user.endpoint, "/Users");
        assert_eq!(user.schema, USER_SCHEMA);
        assert_eq!(
            user.extensions,
            vec![
                (ENTERPRISE_USER_SCHEMA, false),
                (ROLLCALL_USER_SCHEMA, false)
            ]
        );
        let group = r.resource_type(ResourceKind::Group);
        assert_eq!(group.endpoint, "/Groups");
        assert!(group.extensions.is_empty());
        assert_eq!(r.resource_types().len(), 2);
    }

    #[test]
    fn schema_choices_that_matter() {
        let r = reg();
        let user = r.resource_type(ResourceKind::User);
        let group = r.resource_type(ResourceKind::Group);
        let un = r.attribute(user, "userName").unwrap();
        assert!(un.required && !un.case_exact);
        assert_eq!(un.uniqueness, Uniqueness::Server);
        let pw = r.attribute(user, "password").unwrap();
        assert_eq!(pw.mutability, Mutability::WriteOnly);
        assert_eq!(pw.returned, Returned::Never);
        assert_eq!(r.attribute(user, "active").unwrap().kind, AttrType::Boolean);
        assert_eq!(
            r.attribute(user, "groups").unwrap().mutability,
            Mutability::ReadOnly
        );
        assert!(!r.case_exact(user, &path(None, "emails", Some("value"))));
        let dn = r.attribute(group, "displayName").unwrap();
        assert!(dn.required && !dn.case_exact);
        assert_eq!(dn.uniqueness, Uniqueness::Server);
        let members = r.attribute(group, "members").unwrap();
        let sub = |n| find_attr(&members.sub_attributes, n).unwrap();
        assert_eq!(sub("value").mutability, Mutability::Immutable);
        assert_eq!(sub("display").mutability, Mutability::ReadOnly);
        assert_eq!(sub("type").mutability, Mutability::Immutable);
        assert_eq!(sub("type").canonical_values, ["User", "Group"]);
        assert_eq!(sub("$ref").kind, AttrType::Reference);
    }

    #[test]
    fn resolves_case_insensitively_to_canonical_names() {
        let r = reg();
        let user = r.resource_type(ResourceKind::User);
        let res = r
            .resolve(user, &path(None, "NAME", Some("givenname")))
            .unwrap();
        assert_eq!(res.attr.name, "name");
        assert_eq!(res.sub.unwrap().name, "givenName");
        assert_eq!(res.schema, USER_SCHEMA);
        assert!(res.core);
        let res = r.resolve(user, &path(None, "username", None)).unwrap();
        assert_eq!(res.attr.name, "userName");
        assert!(res.sub.is_none());
    }

    #[test]
    fn resolves_urn_qualified_paths() {
        let r = reg();
        let user = r.resource_type(ResourceKind::User);
        let urn = "URN:IETF:params:scim:schemas:extension:enterprise:2.0:user";
        let res = r
            .resolve(user, &path(Some(urn), "manager", Some("VALUE")))
            .unwrap();
        assert_eq!(res.schema, ENTERPRISE_USER_SCHEMA);
        assert!(!res.core);
        assert_eq!(res.attr.name, "manager");
        assert_eq!(res.sub.unwrap().name, "value");
        let res = r
            .resolve(user, &path(Some(USER_SCHEMA), "emails", Some("type")))
            .unwrap();
        assert!(res.core);
        assert_eq!(res.sub.unwrap().name, "type");
    }

    #[test]
    fn resolves_common_attributes() {
        let r = reg();
        for kind in [ResourceKind::User, ResourceKind::Group] {
            let rt = r.resource_type(kind);
            let res = r
                .resolve(rt, &path(None, "meta", Some("lastmodified")))
                .unwrap();
            assert_eq!(res.sub.unwrap().kind, AttrType::DateTime);
            assert!(res.core);
            let id = r.resolve(rt, &path(None, "ID", None)).unwrap().attr;
            assert_eq!(id.returned, Returned::Always);
            assert!(id.case_exact);
            assert!(r.case_exact(rt, &path(None, "externalId", None)));
        }
        let user = r.resource_type(ResourceKind::User);
        assert!(
            r.resolve(user, &path(Some(USER_SCHEMA), "meta", Some("created")))
                .is_ok()
        );
    }

    #[test]
    fn rejects_unknown_paths() {
        let r = reg();
        let user = r.resource_type(ResourceKind::User);
        let group = r.resource_type(ResourceKind::Group);
        let cases = [
            (user, path(None, "shoeSize", None)),
            (user, path(None, "name", Some("nickname"))),
            (user, path(None, "userName", Some("value"))),
            // Extension attributes need their URN.
            (user, path(None, "department", None)),
            (user, path(Some("urn:example:nope"), "userName", None)),
            // The enterprise extension is not one of Group's schemas.
            (
                group,
                path(Some(ENTERPRISE_USER_SCHEMA), "department", None),
            ),
            (group, path(None, "userName", None)),
        ];
        for (rt, p) in cases {
            match r.resolve(rt, &p) {
                Err(ScimError::InvalidPath(msg)) => assert!(msg.contains("unknown"), "{msg}"),
                other => panic!("{p}: {other:?}"),
            }
            assert!(!r.case_exact(rt, &p));
        }
    }

    #[test]
    fn a_path_naming_a_whole_extension_is_a_schema() {
        let r = reg();
        let user = r.resource_type(ResourceKind::User);
        let p = path(
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0"),
            "user",
            None,
        );
        assert_eq!(
            r.schema_of_path(user, &p).unwrap().id,
            ENTERPRISE_USER_SCHEMA
        );
        assert!(r.resolve(user, &p).is_err());
        assert!(
            r.schema_of_path(user, &path(None, "userName", None))
                .is_none()
        );
        let group = r.resource_type(ResourceKind::Group);
        assert!(r.schema_of_path(group, &p).is_none());
    }

    #[test]
    fn case_exact_of_complex_without_sub_is_that_of_value() {
        let r = reg();
        let user = r.resource_type(ResourceKind::User);
        assert!(!r.case_exact(user, &path(None, "emails", None)));
        assert!(!r.case_exact(user, &path(None, "userName", None)));
        assert!(r.case_exact(user, &path(None, "id", None)));
    }
}
