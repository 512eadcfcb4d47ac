//! Opaque paging cursors (RFC 9865). A cursor is sealed with XChaCha20-Poly1305 under a
//! server key, with the org and the query as associated data: a client learns nothing from
//! it (the row sequence it carries is global, so a readable one would show how many rows
//! other organizations created), and it opens only for the org and query it was issued for.

use super::{Error, server_keys};
use crate::store::Store;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use scim::ScimError;
use scim::filter::{AttrPath, Filter};
use scim::schema::ResourceKind;
use serde_json::json;
use time::OffsetDateTime;

/// The name of the cursor key in `server_secrets`.
const KEY_NAME: &str = "cursor_key";

const NONCE_LEN: usize = 24;
/// A tag byte and a big-endian i64: fixed, so the length tells nothing either.
const PLAIN_LEN: usize = 9;
const TAG_LEN: usize = 16;
const SEALED_LEN: usize = NONCE_LEN + PLAIN_LEN + TAG_LEN;

/// Where a cursor points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cursor {
    /// After this `seq` (unsorted lists: stable under inserts and deletes).
    AfterSeq(i64),
    /// At this 0-based offset (sorted lists).
    Offset(i64),
}

/// The query a cursor belongs to. Everything that decides which rows a page holds and in
/// what order; `count` and `attributes` may change between pages (RFC 9865 §2.1).
#[derive(Debug, Clone, Copy)]
pub(super) struct CursorScope<'a> {
    pub org_id: &'a str,
    pub kind: ResourceKind,
    pub filter: Option<&'a Filter>,
    pub sort_by: Option<&'a AttrPath>,
    pub descending: bool,
}

impl CursorScope<'_> {
    /// The associated data: a JSON array, so no two scopes share an encoding.
    fn associated_data(&self) -> Vec<u8> {
        let kind = match self.kind {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        };
        json!([
            "rollcall-cursor.v1",
            self.org_id,
            kind,
            self.filter.map(ToString::to_string),
            self.sort_by.map(ToString::to_string),
            self.descending,
        ])
        .to_string()
        .into_bytes()
    }
}

/// Seals and opens cursors. Loaded once at start; `Debug` hides the key.
#[derive(Clone)]
pub struct CursorKey {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CursorKey").finish_non_exhaustive()
    }
}

impl CursorKey {
    /// Loads the shared key from the database, creating it on first start, so a cursor
    /// issued by one process opens in every other.
    pub async fn load(store: &Store, now: OffsetDateTime) -> Result<CursorKey, Error> {
        let key = server_keys::load_or_create(store, KEY_NAME, now).await?;
        CursorKey::with_key(&key)
    }

    /// With a given 32-byte key (tests).
    pub fn with_key(key: &[u8]) -> Result<CursorKey, Error> {
        let cipher = XChaCha20Poly1305::new_from_slice(key)
            .map_err(|_| Error::Internal("the cursor key must be 32 bytes".into()))?;
        Ok(CursorKey { cipher })
    }

    /// The cursor text for `at` within `scope`: base64url, 66 characters.
    pub(super) fn seal(&self, at: Cursor, scope: &CursorScope<'_>) -> Result<String, Error> {
        let (tag, n) = match at {
            Cursor::AfterSeq(s) => (b's', s),
            Cursor::Offset(o) => (b'o', o),
        };
        let mut plain = [0u8; PLAIN_LEN];
        plain[0] = tag;
        plain[1..].copy_from_slice(&n.to_be_bytes());
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| Error::Internal(format!("random: {e}")))?;
        let aad = scope.associated_data();
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .map_err(|_| Error::Internal("cannot seal a cursor".into()))?;
        let mut out = Vec::with_capacity(SEALED_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(B64.encode(out))
    }

    /// The position in a cursor this server issued for `scope`; anything else (garbage,
    /// a changed byte, another org's or another query's cursor) is `invalidCursor`.
    pub(super) fn open(&self, text: &str, scope: &CursorScope<'_>) -> Result<Cursor, ScimError> {
        // The text is the client's: never echo it (it may be huge or hold anything).
        let invalid = || {
            ScimError::InvalidCursor(
                "the cursor is not one this server issued for this organization and query \
                 (repeat the filter and sortBy/sortOrder of the first request)"
                    .into(),
            )
        };
        if text.len() > B64.encode([0u8; SEALED_LEN]).len() {
            return Err(invalid());
        }
        let raw = B64.decode(text).map_err(|_| invalid())?;
        if raw.len() != SEALED_LEN {
            return Err(invalid());
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let aad = scope.associated_data();
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| invalid())?;
        let (tag, num) = plain.split_first().ok_or_else(invalid)?;
        let n = i64::from_be_bytes(num.try_into().map_err(|_| invalid())?);
        match (tag, n >= 0) {
            (b's', true) => Ok(Cursor::AfterSeq(n)),
            (b'o', true) => Ok(Cursor::Offset(n)),
            _ => Err(invalid()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CursorKey {
        CursorKey::with_key(&[7u8; 32]).unwrap()
    }

    fn scope<'a>(org_id: &'a str, filter: Option<&'a Filter>) -> CursorScope<'a> {
        CursorScope {
            org_id,
            kind: ResourceKind::User,
            filter,
            sort_by: None,
            descending: false,
        }
    }

    fn refused(r: Result<Cursor, ScimError>) -> bool {
        matches!(r, Err(ScimError::InvalidCursor(_)))
    }

    #[test]
    fn cursors_round_trip_with_a_fixed_length() {
        let k = key();
        let s = scope("org-a", None);
        for c in [
            Cursor::AfterSeq(0),
            Cursor::AfterSeq(99_999),
            Cursor::Offset(300),
            Cursor::AfterSeq(i64::MAX),
        ] {
            let text = k.seal(c, &s).unwrap();
            assert_eq!(text.len(), 66, "{text}");
            assert_eq!(k.open(&text, &s).unwrap(), c);
        }
        // A fresh nonce each time: the same position never reads the same.
        let c = Cursor::AfterSeq(5);
        assert_ne!(k.seal(c, &s).unwrap(), k.seal(c, &s).unwrap());
    }

    #[test]
    fn a_cursor_opens_only_for_its_org_query_and_key() {
        let k = key();
        let f = scim::filter::parse("userName sw \"a\"").unwrap();
        let g = scim::filter::parse("userName sw \"b\"").unwrap();
        let sort = scim::filter::parse_attr_path("userName").unwrap();
        let issued = scope("org-a", Some(&f));
        let text = k.seal(Cursor::Offset(3), &issued).unwrap();
        assert!(refused(k.open(&text, &scope("org-b", Some(&f)))));
        assert!(refused(k.open(&text, &scope("org-a", Some(&g)))));
        assert!(refused(k.open(&text, &scope("org-a", None))));
        let groups = CursorScope {
            kind: ResourceKind::Group,
            ..issued
        };
        assert!(refused(k.open(&text, &groups)));
        let sorted = CursorScope {
            sort_by: Some(&sort),
            ..issued
        };
        assert!(refused(k.open(&text, &sorted)));
        let descending = CursorScope {
            descending: true,
            ..issued
        };
        assert!(refused(k.open(&text, &descending)));
        let other_key = CursorKey::with_key(&[8u8; 32]).unwrap();
        assert!(refused(other_key.open(&text, &issued)));
        assert_eq!(k.open(&text, &issued).unwrap(), Cursor::Offset(3));
    }

    #[test]
    fn changed_or_garbage_cursors_are_refused() {
        let k = key();
        let s = scope("org-a", None);
        let text = k.seal(Cursor::AfterSeq(42), &s).unwrap();
        let mut raw = B64.decode(&text).unwrap();
        for i in [0, NONCE_LEN, raw.len() - 1] {
            raw[i] ^= 1;
            assert!(refused(k.open(&B64.encode(&raw), &s)), "byte {i}");
            raw[i] ^= 1;
        }
        let long = "A".repeat(10_000);
        for bad in [
            "",
            "!!",
            "czE5eA",
            "bzEw",
            &text[..text.len() - 1],
            &format!("{text}A"),
            &long,
        ] {
            assert!(refused(k.open(bad, &s)), "{bad}");
        }
    }
}
