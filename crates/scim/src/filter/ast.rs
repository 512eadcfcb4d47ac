//! The filter AST.

use std::fmt;

/// An attribute path: `[URN ":"] name ["." sub]`, RFC 7644 §3.10.
///
/// Names are kept as the client wrote them; resolution against the schema (which is
/// case-insensitive) happens in `schema::Registry::resolve`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// The schema URN prefix, e.g. `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
    pub urn: Option<String>,
    /// The attribute name, e.g. `emails`.
    pub name: String,
    /// The sub-attribute name, e.g. `value` in `emails.value`.
    pub sub: Option<String>,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A comparison value: RFC 7644 `compValue = false / null / true / number / string`.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(String),
}

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attrPath op compValue`
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    /// `attrPath pr`
    Present(AttrPath),
    /// `attrPath "[" valFilter "]"`: the inner filter's paths are relative to the
    /// elements of the multi-valued attribute named by `path` (which has no `sub`).
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        write!(f, "{}", self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl CompareOp {
    /// The operator as RFC 7644 §3.4.2.2 spells it, in lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Every operator, for tables and tests.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Prints the value as JSON, which is exactly the `compValue` syntax.
impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::Str(s) => {
                let json = serde_json::to_string(s).map_err(|_| fmt::Error)?;
                f.write_str(&json)
            }
        }
    }
}

/// Prints the canonical form: lower-case operators, single spaces, JSON values, and only
/// the parentheses needed so that `parse` rebuilds exactly this tree. `and` binds tighter
/// than `or` and both associate to the left, so a left operand of the same operator needs
/// no parentheses; this keeps long `or` chains flat and within `MAX_FILTER_DEPTH`.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Or(l, r) => {
                write!(f, "{l} or ")?;
                operand(f, r, matches!(**r, Filter::Or(..)))
            }
            Filter::And(l, r) => {
                operand(f, l, matches!(**l, Filter::Or(..)))?;
                f.write_str(" and ")?;
                operand(f, r, matches!(**r, Filter::And(..) | Filter::Or(..)))
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

fn operand(f: &mut fmt::Formatter<'_>, filter: &Filter, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({filter})")
    } else {
        write!(f, "{filter}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::parse;

    #[test]
    fn canonical_form() {
        let cases = [
            (r#"userName EQ "x""#, r#"userName eq "x""#),
            ("title  PR", "title pr"),
            (r#"x eq "a\"b\\c\u00e9\n""#, r#"x eq "a\"b\\cé\n""#),
            ("x gt 1E3", "x gt 1000.0"),
            ("x ne -5", "x ne -5"),
            ("x eq TRUE", "x eq true"),
            ("x eq Null", "x eq null"),
            ("a pr OR b pr or c pr", "a pr or b pr or c pr"),
            ("a pr or (b pr or c pr)", "a pr or (b pr or c pr)"),
            ("a pr and (b pr and c pr)", "a pr and (b pr and c pr)"),
            ("(a pr or b pr) and c pr", "(a pr or b pr) and c pr"),
            ("c pr and (a pr or b pr)", "c pr and (a pr or b pr)"),
            (
                "a pr and b pr or c pr and d pr",
                "a pr and b pr or c pr and d pr",
            ),
            ("(a pr)", "a pr"),
            ("not(a pr and b pr)", "not (a pr and b pr)"),
            (r#"emails[ type eq "work" ]"#, r#"emails[type eq "work"]"#),
            (
                r#"EMAILS[type eq "work" and not (value ew "@x")]"#,
                r#"EMAILS[type eq "work" and not (value ew "@x")]"#,
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"1\"",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"1\"",
            ),
        ];
        for (input, want) in cases {
            let f = parse(input).unwrap();
            assert_eq!(f.to_string(), want, "{input}");
            assert_eq!(parse(want).unwrap(), f);
        }
    }

    #[test]
    fn long_chains_print_flat() {
        let chain = vec!["a pr"; 200].join(" or ");
        let f = parse(&chain).unwrap();
        assert_eq!(f.to_string(), chain);
    }

    #[test]
    fn ops_print_lower_case() {
        for op in CompareOp::ALL {
            assert_eq!(op.to_string(), op.as_str());
            assert_eq!(op.as_str(), op.as_str().to_lowercase());
        }
    }
}
