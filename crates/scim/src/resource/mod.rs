//! Incoming resources (POST/PUT bodies, PATCH results) checked and normalised against the
//! schema, and stored resources rendered back into SCIM JSON.

mod normalize;
mod render;
#[cfg(test)]
mod tests;

pub(crate) use normalize::json_type;
pub use normalize::{check_immutable, normalize};
pub use render::{Returning, render};

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
