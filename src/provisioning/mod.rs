//! The SCIM directory: creating, replacing, patching, deleting and listing users and
//! groups of one organization, each request in one transaction. The membership rules of
//! DESIGN.md ("Provisioning rules") build on this.

pub mod admin;
mod cursors;
mod directory;
pub mod effects;
pub mod fold_keys;
pub mod invitations;
mod list;
mod members;
pub mod orgs;
mod roles;
pub mod rules;
mod server_keys;
mod write;

pub use cursors::CursorKey;
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

/// Whether an `If-Match` header value matches `version`: `*`, or a list of entity-tags
/// (RFC 9110 §8.8.3, §13.1.1) one of which is weakly equal to the version's. A value that
/// is not such a list (`3`, `W/"4`, `W/"4"x`) matches nothing, so a precondition that
/// cannot be read never lets a write through.
pub fn if_match_holds(header: &str, version: i64) -> bool {
    if header.trim() == "*" {
        return true;
    }
    let current = version.to_string();
    entity_tags(header).is_some_and(|tags| tags.contains(&current.as_str()))
}

/// The opaque parts of `#entity-tag` (RFC 9110 §8.8.3), or `None` if `header` is not one.
fn entity_tags(header: &str) -> Option<Vec<&str>> {
    const OWS: [char; 2] = [' ', '\t'];
    // etagc = %x21 / %x23-7E / obs-text; the closing quote is found, not matched here.
    let etagc = |b: u8| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80;
    let mut tags = Vec::new();
    let mut rest = header.trim_start_matches(OWS);
    loop {
        let quoted = rest.strip_prefix("W/").unwrap_or(rest).strip_prefix('"')?;
        let end = quoted.find('"')?;
        let (opaque, after) = quoted.split_at(end);
        if !opaque.bytes().all(etagc) {
            return None;
        }
        tags.push(opaque);
        rest = after[1..].trim_start_matches(OWS);
        if rest.is_empty() {
            return Some(tags);
        }
        rest = rest.strip_prefix(',')?.trim_start_matches(OWS);
    }
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
        assert!(if_match_holds("\"a,b\" , W/\"3\"", 3));
        // Not entity-tags: never a match, whatever the version.
        for header in [
            "3",
            "W/\"3",
            "W/3",
            "\"3\"x",
            "W/\"3\",",
            "\"3\" \"3\"",
            "",
            "*, \"3\"",
        ] {
            assert!(!if_match_holds(header, 3), "{header:?}");
        }
        assert_eq!(etag(7), "W/\"7\"");
    }
}
