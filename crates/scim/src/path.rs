//! PATCH paths, RFC 7644 §3.5.2: `PATH = attrPath / valuePath [subAttr]`.
//!
//! The bracketed value filter is parsed by the filter parser, so both grammars share one
//! lexer, the same limits and the same error wording.

use std::fmt;

use crate::ScimError;
use crate::filter::{
    AttrPath, Filter, Grammar, Parser, SyntaxError, TokenKind, attr_path, is_attr_name, quote,
};

/// A parsed PATCH path.
///
/// `name.givenName` → `attr = {name, sub: givenName}`, no filter.
/// `emails[type eq "work"].value` → `attr = {emails}`, `filter = type eq "work"`,
/// `value_sub = Some("value")`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    pub value_sub: Option<String>,
}

/// Prints the canonical form, which `parse_path` reads back to the same value.
impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.value_sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// Parses a PATCH path. Surrounding whitespace is ignored (IdPs send odd spacing).
/// A bare schema URN such as `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`
/// parses as `urn = "urn:...:2.0"`, `name = "User"`; schema resolution recognises it.
/// Errors are `ScimError::InvalidPath`.
pub fn parse_path(input: &str) -> Result<PatchPath, ScimError> {
    let mut p = Parser::new(input, Grammar::Path)?;
    match path(&mut p) {
        Ok(path) => Ok(path),
        Err(e) => Err(p.fail(e)),
    }
}

fn path(p: &mut Parser<'_>) -> Result<PatchPath, SyntaxError> {
    let tok = p.next_token()?;
    let attr = match tok.kind {
        TokenKind::Word => attr_path(tok.text, tok.start)?,
        TokenKind::Eof => return Err(SyntaxError::new(tok.start, "the path is empty")),
        _ => {
            return Err(SyntaxError::new(
                tok.start,
                format!("expected an attribute name, found {}", p.describe(&tok)),
            ));
        }
    };
    let tok = p.peek_owned()?;
    match tok.kind {
        TokenKind::Eof => {
            return Ok(PatchPath {
                attr,
                filter: None,
                value_sub: None,
            });
        }
        TokenKind::LBracket if attr.sub.is_some() => {
            return Err(SyntaxError::new(
                tok.start,
                format!(
                    "a value filter [...] applies to a multi-valued attribute, not to the sub-attribute \"{attr}\""
                ),
            ));
        }
        TokenKind::LBracket => {}
        _ => {
            return Err(SyntaxError::new(
                tok.start,
                format!(
                    "expected \"[\" or the end of the path {}",
                    p.after_found(&tok)
                ),
            ));
        }
    }
    p.next_token()?;
    let filter = p.value_filter(tok.start)?;
    let tok = p.peek_owned()?;
    let value_sub = match (&tok.kind, tok.text.strip_prefix('.')) {
        (TokenKind::Eof, _) => None,
        (TokenKind::Word, Some(sub)) => {
            if !is_attr_name(sub) {
                return Err(SyntaxError::new(
                    tok.start + 1,
                    format!(
                        "{} is not a valid sub-attribute name (names start with a letter and contain letters, digits, \"-\" and \"_\")",
                        quote(sub)
                    ),
                ));
            }
            p.next_token()?;
            Some(sub.to_string())
        }
        _ => {
            return Err(SyntaxError::new(
                tok.start,
                format!(
                    "expected \".subAttribute\" or the end of the path {}",
                    p.after_found(&tok)
                ),
            ));
        }
    };
    let tok = p.peek_owned()?;
    if tok.kind != TokenKind::Eof {
        return Err(SyntaxError::new(
            tok.start,
            format!("expected the end of the path {}", p.after_found(&tok)),
        ));
    }
    Ok(PatchPath {
        attr,
        filter: Some(filter),
        value_sub,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{CompValue, CompareOp, MAX_FILTER_DEPTH, MAX_FILTER_LEN};

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn attr(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: urn.map(Into::into),
            name: name.into(),
            sub: sub.map(Into::into),
        }
    }

    fn eq(name: &str, value: &str) -> Filter {
        Filter::Compare {
            path: attr(None, name, None),
            op: CompareOp::Eq,
            value: CompValue::Str(value.into()),
        }
    }

    fn err(input: &str) -> String {
        match parse_path(input) {
            Err(ScimError::InvalidPath(msg)) => msg,
            other => panic!("{input:?}: expected InvalidPath, got {other:?}"),
        }
    }

    #[test]
    fn valid_paths() {
        let plain = |a: AttrPath| PatchPath {
            attr: a,
            filter: None,
            value_sub: None,
        };
        let cases = [
            ("userName", plain(attr(None, "userName", None))),
            (
                "name.givenName",
                plain(attr(None, "name", Some("givenName"))),
            ),
            (
                "  name.givenName\t",
                plain(attr(None, "name", Some("givenName"))),
            ),
            ("members", plain(attr(None, "members", None))),
            (
                r#"emails[type eq "work"].value"#,
                PatchPath {
                    attr: attr(None, "emails", None),
                    filter: Some(eq("type", "work")),
                    value_sub: Some("value".into()),
                },
            ),
            (
                r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
                PatchPath {
                    attr: attr(None, "members", None),
                    filter: Some(eq("value", "2819c223-7f76-453a-919d-413861904646")),
                    value_sub: None,
                },
            ),
            (
                r#"addresses[type eq "work"].streetAddress"#,
                PatchPath {
                    attr: attr(None, "addresses", None),
                    filter: Some(eq("type", "work")),
                    value_sub: Some("streetAddress".into()),
                },
            ),
            (
                r#" emails[ type EQ "work" ] "#,
                PatchPath {
                    attr: attr(None, "emails", None),
                    filter: Some(eq("type", "work")),
                    value_sub: None,
                },
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                plain(attr(Some(ENTERPRISE), "manager", None)),
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
                plain(attr(Some(ENTERPRISE), "employeeNumber", None)),
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                plain(attr(Some(ENTERPRISE), "manager", Some("value"))),
            ),
            (
                ENTERPRISE,
                plain(attr(
                    Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0"),
                    "User",
                    None,
                )),
            ),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq \"work\"].value",
                PatchPath {
                    attr: attr(
                        Some("urn:ietf:params:scim:schemas:core:2.0:User"),
                        "emails",
                        None,
                    ),
                    filter: Some(eq("type", "work")),
                    value_sub: Some("value".into()),
                },
            ),
            ("members.$ref", plain(attr(None, "members", Some("$ref")))),
        ];
        for (input, want) in cases {
            assert_eq!(parse_path(input).unwrap(), want, "{input}");
        }
        let input = r#"emails[type eq "work" and not (primary eq true)].display"#;
        let complex = parse_path(input).unwrap();
        assert!(matches!(complex.filter, Some(Filter::And(..))));
        assert_eq!(complex.to_string(), input);
    }

    #[test]
    fn errors() {
        let cases = [
            ("", "at character 1: the path is empty"),
            ("   ", "the path is empty"),
            ("emails[", r#"after "[", found the end of the path"#),
            (
                r#"emails[type eq "work""#,
                r#"missing "]" to close the "[" at character 7"#,
            ),
            (
                r#"emails[type eq "work"].value.x"#,
                r#""value.x" is not a valid sub-attribute name"#,
            ),
            (
                r#"emails[type eq "work"].1x"#,
                "not a valid sub-attribute name",
            ),
            (
                r#"emails[type eq "work"]value"#,
                r#"expected ".subAttribute" or the end of the path after "]", found "value""#,
            ),
            (
                r#"emails[type eq "work"].value[x eq "y"]"#,
                r#"expected the end of the path after ".value", found "[""#,
            ),
            (r#"emails[type eq "work"]]"#, "expected \".subAttribute\""),
            (
                r#"emails[type eq "a" and x[y eq "b"]]"#,
                "value paths cannot be nested",
            ),
            (
                r#"name.givenName[x eq "y"]"#,
                "not to the sub-attribute \"name.givenName\"",
            ),
            (
                "name givenName",
                r#"expected "[" or the end of the path after "name", found "givenName""#,
            ),
            ("a.b.c", "more than one sub-attribute"),
            ("1a", "not a valid attribute name"),
            (
                r#""userName""#,
                "expected an attribute name, found the string",
            ),
            (
                "[type eq \"x\"]",
                r#"expected an attribute name, found "[""#,
            ),
            ("emails[]", "empty value filter"),
            (r#"emails[type eqq "work"]"#, r#"found "eqq""#),
            (
                r#"emails[type eq work]"#,
                "strings must be in double quotes",
            ),
            (
                r#"emails[type eq "wo"#,
                "at character 16: unterminated string",
            ),
            ("urn:x", "not a valid schema URN"),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:",
                "expected an attribute name",
            ),
            ("na😀me", "not a valid attribute name"),
            (
                "emails[type eq \"é\"] é",
                "at character 21: expected \".subAttribute\"",
            ),
        ];
        for (input, want) in cases {
            let msg = err(input);
            assert!(msg.starts_with("invalid path at character "), "{msg}");
            assert!(msg.contains(want), "{input:?}: {msg:?} lacks {want:?}");
        }
    }

    #[test]
    fn limits() {
        let long = format!("emails[value eq \"{}\"]", "a".repeat(MAX_FILTER_LEN));
        assert!(err(&long).contains("the limit is 8192"));
        let nested = |n: usize| format!("emails[{}type pr{}]", "(".repeat(n), ")".repeat(n));
        assert!(parse_path(&nested(MAX_FILTER_DEPTH - 1)).is_ok());
        assert!(err(&nested(MAX_FILTER_DEPTH)).contains("deep"));
        let many = format!("emails[{}]", vec!["type pr"; 201].join(" or "));
        assert!(err(&many).contains("more than 200 comparisons"));
    }
}
