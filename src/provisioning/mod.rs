//! The SCIM directory: creating, replacing, patching, deleting and listing users and
//! groups of one organization, each request in one transaction. The membership rules of
//! DESIGN.md ("Provisioning rules") build on this.

pub mod admin;
mod directory;
pub mod effects;
pub mod invitations;
mod list;
mod members;
pub mod orgs;
mod roles;
pub mod rules;
mod write;

pub use directory::{Actor, Directory, View};
pub use list::{ListPage, ListParams, PageRequest};

use crate::store::StoreError;
use scim::ScimError;

/// Why a directory operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is wrong in a way SCIM names (400/409 with a `scimType`).
    #[error(transparent)]
    Scim(#[from] ScimError),
    /// No such resource in this organization.
    #[error("{0}")]
    NotFound(String),
    /// `If-Match` did not match the current version.
    #[error("{0}")]
    PreconditionFailed(String),
    /// A team is full and the org rejects provisioning beyond its seats.
    #[error("{0}")]
    SeatLimit(String),
    /// The change would leave the org without an org admin (409; nothing changed).
    #[error("{0}")]
    LastOrgAdmin(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something that is our fault and not the database's (e.g. hashing failed).
    #[error("{0}")]
    Internal(String),
}

/// The weak ETag of a resource version, also its `meta.version`.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Whether an `If-Match` header value matches `version` (weak comparison, `*` matches).
pub fn if_match_holds(header: &str, version: i64) -> bool {
    let current = version.to_string();
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/").trim_matches('"') == current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_uses_weak_comparison() {
        assert!(if_match_holds("W/\"3\"", 3));
        assert!(if_match_holds("\"3\"", 3));
        assert!(if_match_holds("W/\"1\", W/\"3\"", 3));
        assert!(if_match_holds("*", 9));
        assert!(!if_match_holds("W/\"2\"", 3));
        assert_eq!(etag(7), "W/\"7\"");
    }
}
