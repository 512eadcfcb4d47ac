//! What one resource may hold, and which characters a stored string may carry. Checked in
//! `resource::normalize`, so POST, PUT and the result of a PATCH all meet the same rules
//! before anything reaches a database; listed in README (not in `/ServiceProviderConfig`: strict clients refuse an extension there).
//!
//! The numbers are meant to sit far above what an IdP sends for a real person or group
//! (the conformance/ scenarios carry a handful of emails and short names) and far below
//! what makes a page of users tens of megabytes or a statement bind more parameters than
//! a database takes.

use crate::ScimError;
use serde_json::{Value, json};

/// Characters in one string value (`displayName`, `emails.value`, an extension value ...).
pub const MAX_STRING_CHARS: usize = 4096;
/// Characters in one `binary` value (base64: `x509Certificates.value` holds a whole
/// certificate).
pub const MAX_BINARY_CHARS: usize = 16 * 1024;
/// Values of one multi-valued attribute (`emails`, `phoneNumbers`, `roles` ...), group
/// `members` excepted.
pub const MAX_VALUES: usize = 1000;
/// Group members one request may add or remove (a 1 MiB body holds about 21,000). A group
/// may grow far beyond it through several PATCH requests; tests/api/large_groups.rs
/// creates one of 10,000 members in a single POST.
pub const MAX_MEMBERS_PER_REQUEST: usize = 20_000;
/// Keys in one request body that name no attribute of the resource type (they are
/// dropped, RFC 7643 §3.1 lets a server ignore them), counted per object.
pub const MAX_UNKNOWN_ATTRIBUTES: usize = 1000;
/// Bytes of one resource as stored (its JSON, without group members).
pub const MAX_RESOURCE_BYTES: usize = 64 * 1024;

/// Whether `c` may not be stored: every control character but tab, line feed and
/// carriage return. CR stays allowed: Entra sends Active Directory's multi-line
/// `streetAddress` with CRLF line ends. NUL in particular cannot be stored at all on
/// PostgreSQL, whose `text` refuses it.
pub fn is_forbidden_char(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// [`is_forbidden_char`] as an ECMA-262 pattern, for OpenAPI documents: a string without
/// the characters it refuses.
pub const TEXT_PATTERN: &str = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$";

/// [`TEXT_PATTERN`] with at least one character that is not whitespace
/// (`char::is_whitespace`): a name that is not blank. utoipa's `pattern` takes a literal
/// only, so the schemas that use it spell it out; `http::openapi_text` checks they agree.
pub const NAME_PATTERN: &str = concat!(
    r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*",
    r"[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]",
    r"[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
);

/// Refuses a string value with a control character or longer than `max` characters;
/// `label` names the attribute.
pub fn check_string(label: &str, s: &str, max: usize) -> Result<(), ScimError> {
    if let Some(c) = s.chars().find(|c| is_forbidden_char(*c)) {
        return Err(ScimError::InvalidValue(format!(
            "{label} contains the control character U+{:04X}; only tab, line feed and carriage return are allowed",
            u32::from(c)
        )));
    }
    // `len` bounds the character count from above: most values skip the count.
    if s.len() > max && s.chars().count() > max {
        return Err(ScimError::InvalidValue(format!(
            "{label} is longer than {max} characters"
        )));
    }
    Ok(())
}

/// Refuses more than [`MAX_VALUES`] values for one multi-valued attribute.
pub fn check_values(label: &str, n: usize) -> Result<(), ScimError> {
    if n > MAX_VALUES {
        return Err(ScimError::InvalidValue(format!(
            "{label} has {n} values; at most {MAX_VALUES} are accepted"
        )));
    }
    Ok(())
}

/// Refuses more than [`MAX_MEMBERS_PER_REQUEST`] group members in one request.
pub fn check_members(n: usize) -> Result<(), ScimError> {
    if n > MAX_MEMBERS_PER_REQUEST {
        return Err(ScimError::TooMany(format!(
            "the request names {n} group members; at most {MAX_MEMBERS_PER_REQUEST} are accepted \
             per request: send larger changes as several PATCH requests"
        )));
    }
    Ok(())
}

/// Refuses an object with more than [`MAX_UNKNOWN_ATTRIBUTES`] keys that name nothing.
pub fn check_unknown(where_: &str, n: usize) -> Result<(), ScimError> {
    if n > MAX_UNKNOWN_ATTRIBUTES {
        return Err(ScimError::InvalidValue(format!(
            "{where_} has {n} attributes that are not in the schema; at most \
             {MAX_UNKNOWN_ATTRIBUTES} are accepted"
        )));
    }
    Ok(())
}

/// Refuses a resource whose stored JSON would exceed [`MAX_RESOURCE_BYTES`].
pub fn check_resource_size(
    kind: &str,
    doc: &serde_json::Map<String, Value>,
) -> Result<(), ScimError> {
    let size = serde_json::to_vec(doc).map_or(usize::MAX, |b| b.len());
    if size > MAX_RESOURCE_BYTES {
        return Err(ScimError::InvalidValue(format!(
            "the {kind} is {size} bytes as stored; at most {MAX_RESOURCE_BYTES} are accepted"
        )));
    }
    Ok(())
}

/// The limits as a JSON object (for documents that may carry them; not the
/// ServiceProviderConfig, see the module doc).
pub fn advertised() -> Value {
    json!({
        "maxStringLength": MAX_STRING_CHARS,
        "maxBinaryLength": MAX_BINARY_CHARS,
        "maxValuesPerAttribute": MAX_VALUES,
        "maxMembersPerRequest": MAX_MEMBERS_PER_REQUEST,
        "maxUnknownAttributes": MAX_UNKNOWN_ATTRIBUTES,
        "maxResourceBytes": MAX_RESOURCE_BYTES,
        "forbiddenCharacters": "control characters other than tab, line feed and carriage return",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The patterns name exactly the characters the rule refuses (and, for names, the
    /// whitespace that makes one blank), over the first 12,000 code points and beyond.
    #[test]
    fn the_documented_patterns_state_the_rule() {
        let text = regex::Regex::new(TEXT_PATTERN).unwrap();
        let name = regex::Regex::new(NAME_PATTERN).unwrap();
        let chars = (0u32..0x3100)
            .chain([0xFEFF, 0x1F600])
            .filter_map(char::from_u32);
        for c in chars {
            let s = format!("a{c}b");
            assert_eq!(
                text.is_match(&s),
                !is_forbidden_char(c),
                "U+{:04X}",
                c as u32
            );
            assert_eq!(
                name.is_match(&s),
                !is_forbidden_char(c),
                "U+{:04X}",
                c as u32
            );
            let alone = c.to_string();
            let blank = c.is_whitespace() || is_forbidden_char(c);
            assert_eq!(name.is_match(&alone), !blank, "U+{:04X} alone", c as u32);
        }
        assert!(text.is_match("") && !name.is_match(""));
        assert!(!name.is_match(" \t\u{3000}\r\n"));
        assert!(name.is_match("  Platform team\r\n"));
    }

    #[test]
    fn control_characters_are_refused_but_tab_lf_and_cr_pass() {
        for ok in ["plain", "two\nlines", "crlf\r\nline", "a\tb", "ünïcödé"] {
            assert!(
                check_string("displayName", ok, MAX_STRING_CHARS).is_ok(),
                "{ok:?}"
            );
        }
        for bad in ["nul\0", "\u{1}", "bell\u{7}", "del\u{7f}", "c1\u{85}"] {
            let e = check_string("displayName", bad, MAX_STRING_CHARS).unwrap_err();
            assert_eq!(e.scim_type(), "invalidValue");
            assert!(e.detail().starts_with("displayName contains"), "{e}");
        }
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let max = 4;
        assert!(check_string("x", "éééé", max).is_ok());
        assert!(check_string("x", "ééééé", max).is_err());
    }
}
