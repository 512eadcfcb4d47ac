//! Recursive-descent parser for RFC 7644 §3.4.2.2 filters.
//!
//! ```text
//! FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//! valuePath = attrPath "[" valFilter "]"
//! attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//! attrPath  = [URI ":"] ATTRNAME *1subAttr
//! ```
//! Precedence is `not` > `and` > `or`; `and` and `or` associate to the left. Plain
//! parentheses group, as in the RFC's examples. Inside `[...]` the grammar is the same
//! except that value paths cannot nest (RFC 7644 errata 4690 and 7322).

use super::ast::{AttrPath, CompValue, CompareOp, Filter};
use super::lexer::{Lexer, SyntaxError, Token, TokenKind};
use crate::ScimError;

/// Longest filter (or PATCH path) accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 8192;
/// Deepest nesting of parentheses, `not (...)` and value paths `[...]` accepted.
pub const MAX_FILTER_DEPTH: usize = 32;
/// Most comparisons and `pr` terms in one filter. Long `or` chains make deep left-leaning
/// trees, and everything that walks the AST (printing, evaluation, SQL) recurses.
pub const MAX_FILTER_TERMS: usize = 200;

const OPERATORS: [(&str, CompareOp); 9] = [
    ("eq", CompareOp::Eq),
    ("ne", CompareOp::Ne),
    ("co", CompareOp::Co),
    ("sw", CompareOp::Sw),
    ("ew", CompareOp::Ew),
    ("gt", CompareOp::Gt),
    ("ge", CompareOp::Ge),
    ("lt", CompareOp::Lt),
    ("le", CompareOp::Le),
];

const EXPECTED_OPERATOR: &str = "an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)";

/// Parses a filter. Errors are `ScimError::InvalidFilter`.
pub fn parse(input: &str) -> Result<Filter, ScimError> {
    let mut p = Parser::new(input, Grammar::Filter)?;
    match p.whole_filter() {
        Ok(f) => Ok(f),
        Err(e) => Err(p.fail(e)),
    }
}

/// Parses a lone attribute path (as in `sortBy` or `attributes`), allowing surrounding
/// whitespace. Errors are `ScimError::InvalidFilter`; callers remap them as they need.
pub fn parse_attr_path(input: &str) -> Result<AttrPath, ScimError> {
    let mut p = Parser::new(input, Grammar::AttrPath)?;
    match p.whole_attr_path() {
        Ok(a) => Ok(a),
        Err(e) => Err(p.fail(e)),
    }
}

/// Which grammar is being parsed: it decides the error variant and wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grammar {
    Filter,
    AttrPath,
    Path,
}

impl Grammar {
    fn noun(self) -> &'static str {
        match self {
            Grammar::Filter => "filter",
            Grammar::AttrPath => "attribute path",
            Grammar::Path => "path",
        }
    }

    fn error(self, msg: String) -> ScimError {
        match self {
            Grammar::Filter | Grammar::AttrPath => ScimError::InvalidFilter(msg),
            Grammar::Path => ScimError::InvalidPath(msg),
        }
    }
}

/// The parser state, shared with `crate::path` for the bracketed part of PATCH paths.
pub(crate) struct Parser<'a> {
    src: &'a str,
    lex: Lexer<'a>,
    grammar: Grammar,
    /// Current nesting of `(`, `not (` and `[`.
    depth: usize,
    /// Comparisons and `pr` terms seen so far.
    terms: usize,
    in_value_filter: bool,
    /// Source text of the last consumed token, for "after ..." in messages.
    last: &'a str,
}

impl<'a> Parser<'a> {
    /// Checks the length limit and starts lexing.
    pub(crate) fn new(src: &'a str, grammar: Grammar) -> Result<Self, ScimError> {
        if src.len() > MAX_FILTER_LEN {
            return Err(grammar.error(format!(
                "the {} is {} bytes long; the limit is {MAX_FILTER_LEN}",
                grammar.noun(),
                src.len()
            )));
        }
        Ok(Parser {
            src,
            lex: Lexer::new(src),
            grammar,
            depth: 0,
            terms: 0,
            in_value_filter: false,
            last: "",
        })
    }

    /// Turns a syntax error into the `ScimError` of this grammar, naming the 1-based
    /// character position.
    pub(crate) fn fail(&self, e: SyntaxError) -> ScimError {
        self.grammar.error(format!(
            "invalid {} at character {}: {}",
            self.grammar.noun(),
            self.char_pos(e.at),
            e.msg
        ))
    }

    fn char_pos(&self, byte: usize) -> usize {
        self.src.get(..byte).map_or(0, |s| s.chars().count()) + 1
    }

    pub(crate) fn peek(&mut self) -> Result<&Token<'a>, SyntaxError> {
        self.lex.peek()
    }

    /// The next token, cloned, without consuming it: error messages then still say what
    /// came before it.
    pub(crate) fn peek_owned(&mut self) -> Result<Token<'a>, SyntaxError> {
        self.lex.peek().cloned()
    }

    pub(crate) fn next_token(&mut self) -> Result<Token<'a>, SyntaxError> {
        let tok = self.lex.next_token()?;
        if tok.kind != TokenKind::Eof {
            self.last = tok.text;
        }
        Ok(tok)
    }

    /// `after "x", found "y"` for error messages.
    pub(crate) fn after_found(&self, found: &Token<'_>) -> String {
        let last = if self.last.starts_with('"') {
            format!("the string {}", quote(self.last))
        } else {
            quote(self.last)
        };
        format!("after {last}, found {}", self.describe(found))
    }

    /// How a token is named in error messages.
    pub(crate) fn describe(&self, tok: &Token<'_>) -> String {
        match tok.kind {
            TokenKind::Eof => format!("the end of the {}", self.grammar.noun()),
            TokenKind::Str(_) => format!("the string {}", quote(tok.text)),
            _ => quote(tok.text),
        }
    }

    fn whole_filter(&mut self) -> Result<Filter, SyntaxError> {
        if self.peek()?.kind == TokenKind::Eof {
            return Err(SyntaxError::new(self.src.len(), "the filter is empty"));
        }
        let filter = self.filter()?;
        let tok = self.peek_owned()?;
        match tok.kind {
            TokenKind::Eof => Ok(filter),
            TokenKind::RParen => Err(SyntaxError::new(
                tok.start,
                "unexpected \")\" with no matching \"(\"",
            )),
            TokenKind::RBracket => Err(SyntaxError::new(
                tok.start,
                "unexpected \"]\" with no matching \"[\"",
            )),
            TokenKind::Word if tok.text.starts_with('.') && self.last == "]" => {
                Err(SyntaxError::new(
                    tok.start,
                    format!(
                        "a sub-attribute after a value filter ({}) is only allowed in PATCH paths; \
                         write the condition inside the brackets instead",
                        quote(tok.text)
                    ),
                ))
            }
            _ => Err(SyntaxError::new(
                tok.start,
                format!(
                    "expected \"and\", \"or\" or the end of the filter {}",
                    self.after_found(&tok)
                ),
            )),
        }
    }

    fn whole_attr_path(&mut self) -> Result<AttrPath, SyntaxError> {
        let tok = self.next_token()?;
        let path = match tok.kind {
            TokenKind::Word => attr_path(tok.text, tok.start)?,
            TokenKind::Eof => {
                return Err(SyntaxError::new(tok.start, "the attribute path is empty"));
            }
            _ => {
                return Err(SyntaxError::new(
                    tok.start,
                    format!("expected an attribute name, found {}", self.describe(&tok)),
                ));
            }
        };
        let tok = self.peek_owned()?;
        if tok.kind != TokenKind::Eof {
            return Err(SyntaxError::new(
                tok.start,
                format!(
                    "expected the end of the attribute path {}",
                    self.after_found(&tok)
                ),
            ));
        }
        Ok(path)
    }

    /// `FILTER`: `or` of `and`s, left-associative. Loops rather than recursing along a
    /// chain, so only nesting (bounded by `MAX_FILTER_DEPTH`) deepens the stack.
    fn filter(&mut self) -> Result<Filter, SyntaxError> {
        let mut left = self.conjunction()?;
        while self.peek_keyword("or")? {
            self.next_token()?;
            let right = self.conjunction()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn conjunction(&mut self) -> Result<Filter, SyntaxError> {
        let mut left = self.term()?;
        while self.peek_keyword("and")? {
            self.next_token()?;
            let right = self.term()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn peek_keyword(&mut self, keyword: &str) -> Result<bool, SyntaxError> {
        let tok = self.peek()?;
        Ok(tok.kind == TokenKind::Word && tok.text.eq_ignore_ascii_case(keyword))
    }

    /// `"(" FILTER ")"`, `not (FILTER)`, an attribute expression or a value path.
    fn term(&mut self) -> Result<Filter, SyntaxError> {
        let tok = self.peek_owned()?;
        match tok.kind {
            TokenKind::LParen => {
                self.next_token()?;
                self.group(tok.start)
            }
            TokenKind::Word if tok.text.eq_ignore_ascii_case("not") => {
                self.next_token()?;
                let next = self.peek()?;
                match next.kind {
                    TokenKind::LParen => {
                        let open = next.start;
                        self.next_token()?;
                        Ok(Filter::Not(Box::new(self.group(open)?)))
                    }
                    // An attribute that happens to be called "not".
                    TokenKind::LBracket => self.attr_expr(&tok),
                    TokenKind::Word if is_operator(next.text) => self.attr_expr(&tok),
                    _ => {
                        let found = next.clone();
                        Err(SyntaxError::new(
                            found.start,
                            format!(
                                "expected \"(\" after \"not\" (negation is written not (filter)), found {}",
                                self.describe(&found)
                            ),
                        ))
                    }
                }
            }
            TokenKind::Word => {
                self.next_token()?;
                self.attr_expr(&tok)
            }
            TokenKind::RParen if self.depth == 0 => Err(SyntaxError::new(
                tok.start,
                "unexpected \")\" with no matching \"(\"",
            )),
            TokenKind::RBracket if !self.in_value_filter => Err(SyntaxError::new(
                tok.start,
                "unexpected \"]\" with no matching \"[\"",
            )),
            TokenKind::LBracket => Err(SyntaxError::new(
                tok.start,
                "expected an attribute name before \"[\"",
            )),
            _ => {
                let what = if self.last.is_empty() {
                    format!("found {}", self.describe(&tok))
                } else {
                    self.after_found(&tok)
                };
                Err(SyntaxError::new(
                    tok.start,
                    format!("expected an attribute path, \"(\" or \"not\" {what}"),
                ))
            }
        }
    }

    /// The inside of `(...)` whose `(` is at `open`; consumes the `)`.
    fn group(&mut self, open: usize) -> Result<Filter, SyntaxError> {
        self.enter(open)?;
        let inner = self.filter()?;
        self.close(TokenKind::RParen, open)?;
        self.depth = self.depth.saturating_sub(1);
        Ok(inner)
    }

    /// The value filter of `attr[...]` whose `[` is at `open`; consumes the `]`.
    pub(crate) fn value_filter(&mut self, open: usize) -> Result<Filter, SyntaxError> {
        if self.in_value_filter {
            return Err(SyntaxError::new(
                open,
                "value paths cannot be nested inside another value path's [...]",
            ));
        }
        self.enter(open)?;
        self.in_value_filter = true;
        if self.peek()?.kind == TokenKind::RBracket {
            return Err(SyntaxError::new(
                open,
                "empty value filter: put a condition inside [...]",
            ));
        }
        let inner = self.filter()?;
        self.close(TokenKind::RBracket, open)?;
        self.in_value_filter = false;
        self.depth = self.depth.saturating_sub(1);
        Ok(inner)
    }

    fn enter(&mut self, at: usize) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(SyntaxError::new(
                at,
                format!(
                    "the {} nests parentheses, not (...) and [...] more than {MAX_FILTER_DEPTH} deep",
                    self.grammar.noun()
                ),
            ));
        }
        Ok(())
    }

    fn close(&mut self, want: TokenKind, open: usize) -> Result<(), SyntaxError> {
        let (closer, opener) = if want == TokenKind::RParen {
            ("\")\"", "\"(\"")
        } else {
            ("\"]\"", "\"[\"")
        };
        let tok = self.peek_owned()?;
        if tok.kind == want {
            self.next_token()?;
            return Ok(());
        }
        let msg = match tok.kind {
            TokenKind::Eof => format!(
                "missing {closer} to close the {opener} at character {}",
                self.char_pos(open)
            ),
            TokenKind::RParen | TokenKind::RBracket => format!(
                "found {} where {closer} was expected to close the {opener} at character {}",
                quote(tok.text),
                self.char_pos(open)
            ),
            _ => format!(
                "expected \"and\", \"or\" or {closer} {}",
                self.after_found(&tok)
            ),
        };
        Err(SyntaxError::new(tok.start, msg))
    }

    /// `attrPath pr`, `attrPath op value` or `attrPath [valFilter]`, after the path's word.
    fn attr_expr(&mut self, word: &Token<'a>) -> Result<Filter, SyntaxError> {
        let path = attr_path(word.text, word.start)?;
        let tok = self.peek_owned()?;
        let is_op = tok.kind == TokenKind::Word && is_operator(tok.text);
        if tok.kind == TokenKind::LBracket || is_op {
            self.next_token()?;
        }
        match tok.kind {
            TokenKind::LBracket => {
                if path.sub.is_some() {
                    return Err(SyntaxError::new(
                        tok.start,
                        format!(
                            "a value filter [...] applies to a multi-valued attribute, not to the sub-attribute {}",
                            quote(word.text)
                        ),
                    ));
                }
                let inner = self.value_filter(tok.start)?;
                let inner = match self.value_path_comparison()? {
                    // Entra sends `emails[type eq "work"].value eq "x"`, outside the RFC
                    // grammar; it means `emails[type eq "work" and value eq "x"]`.
                    Some(cmp) => Filter::And(Box::new(inner), Box::new(cmp)),
                    None => inner,
                };
                Ok(Filter::ValuePath {
                    path,
                    filter: Box::new(inner),
                })
            }
            TokenKind::Word if tok.text.eq_ignore_ascii_case("pr") => {
                self.count_term(word.start)?;
                Ok(Filter::Present(path))
            }
            TokenKind::Word => match operator(tok.text) {
                Some(op) => {
                    let value = self.comp_value(op)?;
                    self.count_term(word.start)?;
                    Ok(Filter::Compare { path, op, value })
                }
                None => Err(SyntaxError::new(
                    tok.start,
                    format!("expected {EXPECTED_OPERATOR} {}", self.after_found(&tok)),
                )),
            },
            _ => Err(SyntaxError::new(
                tok.start,
                format!("expected {EXPECTED_OPERATOR} {}", self.after_found(&tok)),
            )),
        }
    }

    /// `.sub op value` (or `.sub pr`) right after a value path's `]`, in filters only.
    fn value_path_comparison(&mut self) -> Result<Option<Filter>, SyntaxError> {
        if self.grammar != Grammar::Filter {
            return Ok(None);
        }
        let tok = self.peek_owned()?;
        let Some(sub) = tok
            .text
            .strip_prefix('.')
            .filter(|_| tok.kind == TokenKind::Word)
        else {
            return Ok(None);
        };
        self.next_token()?;
        let word = Token {
            kind: TokenKind::Word,
            text: sub,
            start: tok.start + 1,
        };
        match self.attr_expr(&word)? {
            f @ (Filter::Compare { .. } | Filter::Present(_)) => Ok(Some(f)),
            _ => Err(SyntaxError::new(
                tok.start,
                "expected an operator after the sub-attribute of a value path",
            )),
        }
    }

    fn count_term(&mut self, at: usize) -> Result<(), SyntaxError> {
        self.terms += 1;
        if self.terms > MAX_FILTER_TERMS {
            return Err(SyntaxError::new(
                at,
                format!(
                    "the {} has more than {MAX_FILTER_TERMS} comparisons",
                    self.grammar.noun()
                ),
            ));
        }
        Ok(())
    }

    /// `compValue = false / null / true / number / string`, checked against the operator.
    fn comp_value(&mut self, op: CompareOp) -> Result<CompValue, SyntaxError> {
        let tok = self.peek_owned()?;
        let value = match &tok.kind {
            TokenKind::Str(s) => CompValue::Str(s.clone()),
            TokenKind::Word => word_value(tok.text).map_err(|msg| {
                SyntaxError::new(tok.start, msg.unwrap_or_else(|| self.expected_value(&tok)))
            })?,
            _ => return Err(SyntaxError::new(tok.start, self.expected_value(&tok))),
        };
        self.next_token()?;
        // RFC 7644 §3.4.2.2: ordering on booleans (and null) is an invalidFilter error;
        // substring operators only make sense on strings.
        let ordering = matches!(
            op,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        );
        let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
        match value {
            CompValue::Null | CompValue::Bool(_) if ordering => Err(SyntaxError::new(
                tok.start,
                format!("\"{op}\" compares strings, numbers and dates, not {value}"),
            )),
            CompValue::Null | CompValue::Bool(_) | CompValue::Number(_) if substring => {
                Err(SyntaxError::new(
                    tok.start,
                    format!("\"{op}\" needs a string value, found {value}"),
                ))
            }
            value => Ok(value),
        }
    }

    fn expected_value(&self, tok: &Token<'_>) -> String {
        let hint = if tok.kind == TokenKind::Word {
            " (strings must be in double quotes)"
        } else {
            ""
        };
        format!(
            "expected a value (a \"string\", a number, true, false or null) {}{hint}",
            self.after_found(tok)
        )
    }
}

fn operator(word: &str) -> Option<CompareOp> {
    OPERATORS
        .iter()
        .find(|(name, _)| word.eq_ignore_ascii_case(name))
        .map(|(_, op)| *op)
}

fn is_operator(word: &str) -> bool {
    word.eq_ignore_ascii_case("pr") || operator(word).is_some()
}

/// `true`, `false`, `null` (any case) or a JSON number. `Err(None)` means "not a value at
/// all" (the caller words that); `Err(Some(msg))` is a malformed number.
fn word_value(word: &str) -> Result<CompValue, Option<String>> {
    if word.eq_ignore_ascii_case("true") {
        return Ok(CompValue::Bool(true));
    }
    if word.eq_ignore_ascii_case("false") {
        return Ok(CompValue::Bool(false));
    }
    if word.eq_ignore_ascii_case("null") {
        return Ok(CompValue::Null);
    }
    if !word.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return Err(None);
    }
    json_number(word)
        .map(CompValue::Number)
        .ok_or_else(|| Some(format!("{} is not a valid JSON number", quote(word))))
}

/// RFC 7159 §6 `number = [ "-" ] int [ frac ] [ exp ]`. Integers that fit stay exact;
/// the rest become the nearest f64 (std's parser rounds correctly, so printing with
/// serde_json and parsing again gives the same value). Infinite values are refused.
fn json_number(word: &str) -> Option<serde_json::Number> {
    let bytes = word.as_bytes();
    let mut i = usize::from(bytes.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    let int_start = i;
    if !digits(&mut i) || (bytes.get(int_start) == Some(&b'0') && i - int_start > 1) {
        return None;
    }
    let mut integer = true;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        integer = false;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        integer = false;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    if integer {
        if let Ok(n) = word.parse::<u64>() {
            return Some(n.into());
        }
        if let Ok(n) = word.parse::<i64>() {
            return Some(n.into());
        }
    }
    word.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
}

/// Parses the text of one word as `[URN ":"] ATTRNAME ["." ATTRNAME]` (RFC 7644 §3.10).
/// A URN prefix starts with `urn:` and may itself contain dots and colons, so it ends at
/// the last colon: `urn:...:enterprise:2.0:User:manager.value`.
pub(crate) fn attr_path(text: &str, start: usize) -> Result<AttrPath, SyntaxError> {
    let (urn, rest, rest_at) = match text.rsplit_once(':') {
        Some((urn, rest)) if has_urn_prefix(urn) || urn.eq_ignore_ascii_case("urn") => {
            check_urn(urn, start)?;
            (Some(urn.to_string()), rest, start + urn.len() + 1)
        }
        _ => (None, text, start),
    };
    let (name, sub) = match rest.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (rest, None),
    };
    check_name(name, rest_at)?;
    let sub = match sub {
        None => None,
        Some(sub) => {
            let sub_at = rest_at + name.len() + 1;
            if sub.contains('.') {
                return Err(SyntaxError::new(
                    sub_at,
                    format!(
                        "{} has more than one sub-attribute; SCIM paths are at most attribute.subAttribute",
                        quote(text)
                    ),
                ));
            }
            check_name(sub, sub_at)?;
            Some(sub.to_string())
        }
    };
    Ok(AttrPath {
        urn,
        name: name.to_string(),
        sub,
    })
}

fn has_urn_prefix(s: &str) -> bool {
    s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

/// A schema URN: `urn:` then non-empty colon-separated segments of printable ASCII.
fn check_urn(urn: &str, at: usize) -> Result<(), SyntaxError> {
    let ok = urn
        .split(':')
        .skip(1)
        .all(|seg| !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_graphic()))
        && urn.contains(':');
    if ok {
        Ok(())
    } else {
        Err(SyntaxError::new(
            at,
            format!(
                "{} is not a valid schema URN (expected urn:segment:segment..., e.g. urn:ietf:params:scim:schemas:core:2.0:User)",
                quote(urn)
            ),
        ))
    }
}

/// `ATTRNAME = ALPHA *("-" / "_" / DIGIT / ALPHA)`; RFC 7643 also uses `$ref`.
fn check_name(name: &str, at: usize) -> Result<(), SyntaxError> {
    if is_attr_name(name) {
        return Ok(());
    }
    let msg = if name.is_empty() {
        "expected an attribute name".to_string()
    } else if name.contains(':') {
        format!(
            "{} is not a valid attribute name (schema URN prefixes start with \"urn:\")",
            quote(name)
        )
    } else {
        format!(
            "{} is not a valid attribute name (names start with a letter and contain letters, digits, \"-\" and \"_\")",
            quote(name)
        )
    };
    Err(SyntaxError::new(at, msg))
}

/// Whether `name` is an RFC 7644 `ATTRNAME` or `$ref`.
pub(crate) fn is_attr_name(name: &str) -> bool {
    if name.eq_ignore_ascii_case("$ref") {
        return true;
    }
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Quotes source text for a message, truncating long text at a character boundary.
pub(crate) fn quote(text: &str) -> String {
    const MAX: usize = 40;
    let short: String = text.chars().take(MAX).collect();
    let ellipsis = if short.len() < text.len() { "..." } else { "" };
    if short.starts_with('"') {
        format!("{short}{ellipsis}")
    } else {
        format!("\"{short}{ellipsis}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn path(name: &str) -> AttrPath {
        AttrPath {
            urn: None,
            name: name.into(),
            sub: None,
        }
    }

    fn sub(name: &str, sub: &str) -> AttrPath {
        AttrPath {
            sub: Some(sub.into()),
            ..path(name)
        }
    }

    fn urn(urn: &str, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: Some(urn.into()),
            name: name.into(),
            sub: sub.map(Into::into),
        }
    }

    fn cmp(path: AttrPath, op: CompareOp, value: CompValue) -> Filter {
        Filter::Compare { path, op, value }
    }

    fn s(v: &str) -> CompValue {
        CompValue::Str(v.into())
    }

    fn pr(name: &str) -> Filter {
        Filter::Present(path(name))
    }

    fn and(l: Filter, r: Filter) -> Filter {
        Filter::And(Box::new(l), Box::new(r))
    }

    fn or(l: Filter, r: Filter) -> Filter {
        Filter::Or(Box::new(l), Box::new(r))
    }

    fn not(f: Filter) -> Filter {
        Filter::Not(Box::new(f))
    }

    fn vp(name: &str, f: Filter) -> Filter {
        Filter::ValuePath {
            path: path(name),
            filter: Box::new(f),
        }
    }

    fn err(input: &str) -> String {
        match parse(input) {
            Err(ScimError::InvalidFilter(msg)) => msg,
            other => panic!("{input:?}: expected InvalidFilter, got {other:?}"),
        }
    }

    #[test]
    fn every_operator_in_any_case() {
        for (name, op) in OPERATORS {
            let upper = name.to_uppercase();
            let mixed = format!("{}{}", &upper[..1], &name[1..]);
            for spelled in [name.to_string(), upper, mixed] {
                let f = parse(&format!("userName {spelled} \"x\"")).unwrap();
                assert_eq!(f, cmp(path("userName"), op, s("x")), "{spelled}");
            }
        }
        for spelled in ["pr", "PR", "Pr"] {
            assert_eq!(parse(&format!("title {spelled}")).unwrap(), pr("title"));
        }
    }

    #[test]
    fn values() {
        let n = |v: serde_json::Value| match v {
            serde_json::Value::Number(n) => CompValue::Number(n),
            _ => unreachable!(),
        };
        let cases = [
            ("true", CompValue::Bool(true)),
            ("TRUE", CompValue::Bool(true)),
            ("False", CompValue::Bool(false)),
            ("null", CompValue::Null),
            ("NULL", CompValue::Null),
            ("0", n(serde_json::json!(0))),
            ("42", n(serde_json::json!(42))),
            ("-7", n(serde_json::json!(-7))),
            ("1.5", n(serde_json::json!(1.5))),
            ("1e3", n(serde_json::json!(1000.0))),
            ("-2.5E-3", n(serde_json::json!(-0.0025))),
            ("18446744073709551615", n(serde_json::json!(u64::MAX))),
            ("-9223372036854775808", n(serde_json::json!(i64::MIN))),
            (
                "18446744073709551616",
                n(serde_json::json!(18446744073709551616.0)),
            ),
            ("-0", n(serde_json::json!(0))),
            ("0.1", n(serde_json::json!(0.1))),
            ("1E+2", n(serde_json::json!(100.0))),
            (r#""""#, s("")),
            (
                r#""a \"q\" \\ \/ \n \u00e9 \ud83d\ude00""#,
                s("a \"q\" \\ / \n é 😀"),
            ),
            (r#""héllo wörld""#, s("héllo wörld")),
        ];
        for (text, want) in cases {
            let f = parse(&format!("x eq {text}")).unwrap();
            assert_eq!(f, cmp(path("x"), CompareOp::Eq, want), "{text}");
        }
    }

    #[test]
    fn precedence_and_grouping() {
        let cases = [
            ("a pr or b pr and c pr", or(pr("a"), and(pr("b"), pr("c")))),
            ("a pr and b pr or c pr", or(and(pr("a"), pr("b")), pr("c"))),
            ("a pr or b pr or c pr", or(or(pr("a"), pr("b")), pr("c"))),
            (
                "a pr and b pr and c pr",
                and(and(pr("a"), pr("b")), pr("c")),
            ),
            (
                "(a pr or b pr) and c pr",
                and(or(pr("a"), pr("b")), pr("c")),
            ),
            ("a pr or (b pr or c pr)", or(pr("a"), or(pr("b"), pr("c")))),
            ("not (a pr) and b pr", and(not(pr("a")), pr("b"))),
            (
                "NOT(a pr) OR b pr AND c pr",
                or(not(pr("a")), and(pr("b"), pr("c"))),
            ),
            ("not (a pr or b pr)", not(or(pr("a"), pr("b")))),
            ("not (not (a pr))", not(not(pr("a")))),
            ("((a pr))", pr("a")),
            ("  a pr\tAnd\n\nb pr  ", and(pr("a"), pr("b"))),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn keywords_can_be_attribute_names() {
        assert_eq!(parse("not pr").unwrap(), pr("not"));
        assert_eq!(
            parse("and eq \"x\" and or pr").unwrap(),
            and(cmp(path("and"), CompareOp::Eq, s("x")), pr("or"))
        );
        assert_eq!(parse("not[pr pr]").unwrap(), vp("not", pr("pr")));
    }

    #[test]
    fn attribute_paths() {
        let cases = [
            ("userName", path("userName")),
            ("name.givenName", sub("name", "givenName")),
            ("members.$ref", sub("members", "$ref")),
            ("$ref", path("$ref")),
            ("x-y_z9", path("x-y_z9")),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:userName",
                urn(
                    "urn:ietf:params:scim:schemas:core:2.0:User",
                    "userName",
                    None,
                ),
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                urn(ENTERPRISE, "manager", Some("value")),
            ),
            (
                "URN:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
                urn(
                    "URN:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                    "employeeNumber",
                    None,
                ),
            ),
            (
                ENTERPRISE,
                urn(
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0",
                    "User",
                    None,
                ),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse_attr_path(input).unwrap(), want, "{input}");
            assert_eq!(parse_attr_path(&format!("  {input} ")).unwrap(), want);
            assert_eq!(
                parse(&format!("{input} pr")).unwrap(),
                Filter::Present(want.clone())
            );
            assert_eq!(want.to_string(), input, "display");
        }
    }

    #[test]
    fn attribute_path_errors() {
        for input in [
            "",
            "  ",
            "a.b.c",
            "1abc",
            "emails[type eq \"work\"]",
            "a b",
            "\"x\"",
            "urn:x",
            "urn::x",
            "foo:bar",
            "name.",
            ".name",
            "名前",
            "(",
        ] {
            assert!(
                matches!(parse_attr_path(input), Err(ScimError::InvalidFilter(_))),
                "{input:?}"
            );
        }
    }

    #[test]
    fn value_paths() {
        let work = cmp(path("type"), CompareOp::Eq, s("work"));
        let cases = [
            (
                r#"emails[type eq "work" and value co "@x"]"#,
                vp(
                    "emails",
                    and(work.clone(), cmp(path("value"), CompareOp::Co, s("@x"))),
                ),
            ),
            (r#"emails [ type eq "work" ]"#, vp("emails", work.clone())),
            (
                r#"emails[not (type eq "work")] and x pr"#,
                and(vp("emails", not(work.clone())), pr("x")),
            ),
            (
                r#"emails[type eq "work" or (type eq "home" and value ew "@e.com")]"#,
                vp(
                    "emails",
                    or(
                        work.clone(),
                        and(
                            cmp(path("type"), CompareOp::Eq, s("home")),
                            cmp(path("value"), CompareOp::Ew, s("@e.com")),
                        ),
                    ),
                ),
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq "1"]"#,
                Filter::ValuePath {
                    path: urn(ENTERPRISE, "manager", None),
                    filter: Box::new(cmp(path("value"), CompareOp::Eq, s("1"))),
                },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn entra_value_path_with_a_trailing_comparison() {
        let f = parse(r#"emails[type eq "work"].value eq "a@b.c""#).unwrap();
        assert_eq!(
            f,
            Filter::ValuePath {
                path: path("emails"),
                filter: Box::new(Filter::And(
                    Box::new(cmp(path("type"), CompareOp::Eq, s("work"))),
                    Box::new(cmp(path("value"), CompareOp::Eq, s("a@b.c"))),
                )),
            }
        );
        assert!(parse(r#"emails[type eq "work"].value"#).is_err());
        assert!(parse(r#"emails[type eq "work"].value eq"#).is_err());
        assert!(crate::path::parse_path(r#"emails[type eq "work"].value eq "x""#).is_err());
    }

    #[test]
    fn real_idp_filters() {
        for input in [
            r#"userName eq "bjensen@example.com""#,
            r#"externalId eq "00u1dhhb1fkIGP7RL1d8""#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"displayName eq "Group 1""#,
            r#"members[value eq "abc"]"#,
            r#"id eq "x" and members.value eq "y""#,
            r#"title pr and userType eq "Employee""#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            r#"name.familyName co "O'Malley""#,
            r#"meta.resourceType eq "User" or meta.resourceType eq "Group""#,
            r#"userName Eq "john" and (emails[type eq "work"] or emails.value ew "@x.org")"#,
        ] {
            let f = parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(parse(&f.to_string()).unwrap(), f, "{input} -> {f}");
        }
        assert_eq!(
            parse(r#"id eq "x" and members.value eq "y""#).unwrap(),
            and(
                cmp(path("id"), CompareOp::Eq, s("x")),
                cmp(sub("members", "value"), CompareOp::Eq, s("y"))
            )
        );
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            err(r#"userName eqq "x""#),
            r#"invalid filter at character 10: expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after "userName", found "eqq""#
        );
        let cases = [
            ("", "at character 1: the filter is empty"),
            ("   ", "the filter is empty"),
            (r#"userName eq "abc"#, "character 13: unterminated string"),
            (r#"x eq "a\qb""#, "invalid escape"),
            (
                r#"userName eq "x" foo"#,
                r#"character 17: expected "and", "or" or the end of the filter after the string "x", found "foo""#,
            ),
            (
                r#"(userName eq "x""#,
                r#"missing ")" to close the "(" at character 1"#,
            ),
            (
                r#"a pr and (b pr or (c pr)"#,
                r#"missing ")" to close the "(" at character 10"#,
            ),
            (
                r#"userName eq "x")"#,
                r#"unexpected ")" with no matching "(""#,
            ),
            (")", r#"unexpected ")" with no matching "(""#),
            (
                r#"emails[type eq "work""#,
                r#"missing "]" to close the "[" at character 7"#,
            ),
            (
                r#"emails[type eq "work")"#,
                r#"found ")" where "]" was expected"#,
            ),
            (r#"(a eq "work"]"#, r#"found "]" where ")" was expected"#),
            (
                r#"emails[type eq "work"]]"#,
                r#"unexpected "]" with no matching "[""#,
            ),
            ("userName eq bjensen", "strings must be in double quotes"),
            (
                "userName eq",
                "expected a value (a \"string\", a number, true, false or null) after \"eq\", found the end of the filter",
            ),
            ("userName eq (", "expected a value"),
            ("userName", "found the end of the filter"),
            (
                "active gt true",
                r#""gt" compares strings, numbers and dates, not true"#,
            ),
            (
                "x LE null",
                r#""le" compares strings, numbers and dates, not null"#,
            ),
            ("x co 5", r#""co" needs a string value, found 5"#),
            ("x sw false", r#""sw" needs a string value"#),
            (
                r#"emails[type eq "a" and x[y eq "b"]]"#,
                "value paths cannot be nested",
            ),
            (
                r#"emails.value[type eq "x"]"#,
                "not to the sub-attribute \"emails.value\"",
            ),
            (r#"emails[type eq "work"].value"#, "expected an operator"),
            (
                r#"not userName eq "x""#,
                r#"expected "(" after "not" (negation is written not (filter)), found "userName""#,
            ),
            ("a.b.c pr", "more than one sub-attribute"),
            ("1abc pr", r#""1abc" is not a valid attribute name"#),
            ("urn:: pr", "not a valid schema URN"),
            ("urn:x pr", "not a valid schema URN"),
            ("foo:bar pr", "schema URN prefixes start with"),
            ("x eq 01", r#""01" is not a valid JSON number"#),
            ("x eq 1e999", "not a valid JSON number"),
            ("x eq -", "not a valid JSON number"),
            ("x eq 1.", "not a valid JSON number"),
            ("x eq 1e", "not a valid JSON number"),
            ("x eq 1e+", "not a valid JSON number"),
            ("x eq -01", "not a valid JSON number"),
            ("x eq 1x", "not a valid JSON number"),
            ("x eq 0x10", "not a valid JSON number"),
            ("x eq 1.5.5", "not a valid JSON number"),
            (
                "a pr and",
                r#"expected an attribute path, "(" or "not" after "and", found the end of the filter"#,
            ),
            ("a pr or or", "after \"or\", found the end of the filter"),
            (
                "()",
                r#"expected an attribute path, "(" or "not" after "(", found ")""#,
            ),
            ("emails[]", "empty value filter"),
            (r#"[x eq "1"]"#, r#"expected an attribute name before "[""#),
            (r#""x" eq "1""#, "found the string \"x\""),
            ("名前 eq \"x\"", r#""名前" is not a valid attribute name"#),
            ("x eq \"é😀\" é", "character 11: expected \"and\""),
            (&format!("x eq \"{}\" y", "a".repeat(100)), "found \"y\""),
        ];
        for (input, want) in cases {
            let msg = err(input);
            assert!(msg.contains(want), "{input:?}: {msg:?} lacks {want:?}");
        }
        // Long words are shortened in messages.
        let msg = err(&format!("x {} \"v\"", "q".repeat(100)));
        assert!(msg.contains(&format!("\"{}...\"", "q".repeat(40))), "{msg}");
    }

    #[test]
    fn depth_limit() {
        let nested = |n: usize, open: &str| format!("{}a pr{}", open.repeat(n), ")".repeat(n));
        for open in ["(", "not (", "NOT("] {
            assert!(parse(&nested(MAX_FILTER_DEPTH, open)).is_ok(), "{open}");
            let msg = err(&nested(MAX_FILTER_DEPTH + 1, open));
            assert!(msg.contains("more than 32 deep"), "{msg}");
        }
        // A value path counts as one level.
        let inner = format!(
            "{}x eq \"1\"{}",
            "(".repeat(MAX_FILTER_DEPTH - 1),
            ")".repeat(MAX_FILTER_DEPTH - 1)
        );
        assert!(parse(&format!("emails[{inner}]")).is_ok());
        assert!(parse(&format!("(emails[{inner}])")).is_err());
        // Far too deep: refused without exhausting the stack.
        assert!(err(&"(".repeat(MAX_FILTER_LEN)).contains("deep"));
        assert!(err(&"not (".repeat(1000)).contains("deep"));
    }

    #[test]
    fn term_limit() {
        let chain = |n: usize| vec!["a pr"; n].join(" or ");
        assert!(parse(&chain(MAX_FILTER_TERMS)).is_ok());
        assert!(err(&chain(MAX_FILTER_TERMS + 1)).contains("more than 200 comparisons"));
        let values = |n: usize| format!("emails[{}]", vec!["type eq 1"; n].join(" and "));
        assert!(parse(&values(MAX_FILTER_TERMS)).is_ok());
        assert!(parse(&values(MAX_FILTER_TERMS + 1)).is_err());
    }

    #[test]
    fn length_limit() {
        let fits = format!("x eq \"{}\"", "a".repeat(MAX_FILTER_LEN - 7));
        assert_eq!(fits.len(), MAX_FILTER_LEN);
        assert!(parse(&fits).is_ok());
        let long = format!("x eq \"{}\"", "a".repeat(MAX_FILTER_LEN - 6));
        assert!(err(&long).contains("8193 bytes long; the limit is 8192"));
        assert!(matches!(
            parse_attr_path(&"a".repeat(MAX_FILTER_LEN + 1)),
            Err(ScimError::InvalidFilter(_))
        ));
    }
}
