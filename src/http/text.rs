//! The one rule on stored text outside SCIM (whose bodies `scim::limits` checks): no
//! control characters but tab, line feed and carriage return. NUL above all, which
//! PostgreSQL's `text` refuses and SQLite would store.

use serde_json::Value;

/// Whether `s` holds a character the rule refuses.
pub fn has_forbidden_char(s: &str) -> bool {
    s.chars().any(scim::limits::is_forbidden_char)
}

/// Where the first string (key or value) with a forbidden character is in `v`: a path
/// like `name` or `team_ids[2]` (`""` for `v` itself), for the error message.
pub fn forbidden_char_at(v: &Value) -> Option<String> {
    let bad = has_forbidden_char;
    match v {
        Value::String(s) => bad(s).then(String::new),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            forbidden_char_at(item).map(|rest| format!("[{i}]{}", dotted(&rest)))
        }),
        Value::Object(obj) => obj.iter().find_map(|(k, item)| {
            if bad(k) {
                return Some(k.escape_debug().to_string());
            }
            forbidden_char_at(item).map(|rest| format!("{k}{}", dotted(&rest)))
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

fn dotted(rest: &str) -> String {
    if rest.is_empty() || rest.starts_with('[') {
        rest.to_owned()
    } else {
        format!(".{rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::forbidden_char_at;
    use serde_json::json;

    #[test]
    fn names_the_field_with_a_control_character() {
        assert_eq!(forbidden_char_at(&json!({"name": "ok\r\n\t"})), None);
        assert_eq!(
            forbidden_char_at(&json!({"name": "a\0"})).as_deref(),
            Some("name")
        );
        assert_eq!(
            forbidden_char_at(&json!({"teams": ["a", {"id": "\u{7}"}]})).as_deref(),
            Some("teams[1].id")
        );
        assert_eq!(forbidden_char_at(&json!("\u{1b}")).as_deref(), Some(""));
    }
}
