//! Filter tokens.
//!
//! RFC 7644 §3.4.2.2 separates tokens with single spaces; we accept any run of whitespace
//! because IdPs and hand-written queries vary. The lexer only knows brackets, parentheses,
//! JSON strings and "words" (every other run of non-blank characters). Whether a word is an
//! attribute path, an operator, a keyword or a number depends on where it stands, so the
//! parser decides: that way `not` or `eq` can still be attribute names.

/// A syntax error at a byte offset of the input; the parser turns it into a
/// `ScimError` whose message names the character position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    /// Byte offset (always on a char boundary) where the problem was found.
    pub at: usize,
    /// What was expected and what was found.
    pub msg: String,
}

impl SyntaxError {
    pub(crate) fn new(at: usize, msg: impl Into<String>) -> Self {
        SyntaxError {
            at,
            msg: msg.into(),
        }
    }
}

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// A JSON string, already decoded.
    Str(String),
    /// Any other run of non-blank characters other than `()[]"`.
    Word,
    /// The end of the input.
    Eof,
}

/// One token and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub kind: TokenKind,
    /// The source text of the token (a string token keeps its quotes; empty at the end).
    pub text: &'a str,
    /// Byte offset in the input.
    pub start: usize,
}

/// A lazy lexer with one token of look-ahead, so errors come out in input order.
pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    peeked: Option<Token<'a>>,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Lexer {
            src,
            pos: 0,
            peeked: None,
        }
    }

    /// The next token, without consuming it.
    pub(crate) fn peek(&mut self) -> Result<&Token<'a>, SyntaxError> {
        let tok = match self.peeked.take() {
            Some(t) => t,
            None => self.scan()?,
        };
        Ok(self.peeked.insert(tok))
    }

    /// Consumes and returns the next token.
    pub(crate) fn next_token(&mut self) -> Result<Token<'a>, SyntaxError> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.scan(),
        }
    }

    fn rest(&self) -> &'a str {
        // `pos` only ever moves by whole characters, so `get` never fails; the fallback
        // keeps this panic-free regardless.
        self.src.get(self.pos..).unwrap_or("")
    }

    fn scan(&mut self) -> Result<Token<'a>, SyntaxError> {
        let rest = self.rest();
        let trimmed = rest.trim_start();
        self.pos += rest.len() - trimmed.len();
        let start = self.pos;
        let Some(c) = trimmed.chars().next() else {
            return Ok(Token {
                kind: TokenKind::Eof,
                text: "",
                start,
            });
        };
        let single = match c {
            '(' => Some(TokenKind::LParen),
            ')' => Some(TokenKind::RParen),
            '[' => Some(TokenKind::LBracket),
            ']' => Some(TokenKind::RBracket),
            _ => None,
        };
        if let Some(kind) = single {
            self.pos += 1;
            return Ok(Token {
                kind,
                text: trimmed.get(..1).unwrap_or(""),
                start,
            });
        }
        if c == '"' {
            return self.string(start);
        }
        let len = trimmed
            .find(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"'))
            .unwrap_or(trimmed.len());
        self.pos += len;
        Ok(Token {
            kind: TokenKind::Word,
            text: trimmed.get(..len).unwrap_or(""),
            start,
        })
    }

    /// A JSON string (RFC 7644 §3.4.2.2 `compValue` uses RFC 7159 strings), starting at
    /// the opening quote at `start`.
    fn string(&mut self, start: usize) -> Result<Token<'a>, SyntaxError> {
        let mut out = String::new();
        let mut i = start + 1;
        loop {
            let rest = self.src.get(i..).unwrap_or("");
            let Some(c) = rest.chars().next() else {
                return Err(SyntaxError::new(
                    start,
                    "unterminated string: the closing '\"' is missing",
                ));
            };
            match c {
                '"' => {
                    self.pos = i + 1;
                    return Ok(Token {
                        kind: TokenKind::Str(out),
                        text: self.src.get(start..=i).unwrap_or(""),
                        start,
                    });
                }
                '\\' => {
                    let (decoded, used) = escape(rest).map_err(|msg| SyntaxError::new(i, msg))?;
                    out.push(decoded);
                    i += used;
                }
                c if (c as u32) < 0x20 => {
                    return Err(SyntaxError::new(
                        i,
                        format!(
                            "control character U+{:04X} inside a string must be escaped",
                            c as u32
                        ),
                    ));
                }
                c => {
                    out.push(c);
                    i += c.len_utf8();
                }
            }
        }
    }
}

/// Decodes one JSON escape at the start of `s` (which begins with a backslash); returns
/// the character and the number of bytes used.
fn escape(s: &str) -> Result<(char, usize), String> {
    let mut chars = s.chars().skip(1);
    let c = match chars.next() {
        Some('"') => '"',
        Some('\\') => '\\',
        Some('/') => '/',
        Some('b') => '\u{8}',
        Some('f') => '\u{c}',
        Some('n') => '\n',
        Some('r') => '\r',
        Some('t') => '\t',
        Some('u') => return unicode_escape(s),
        Some(other) => {
            return Err(format!(
                "invalid escape \"\\{other}\" in a string (JSON allows \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)"
            ));
        }
        None => return Err("unterminated string: the closing '\"' is missing".to_string()),
    };
    Ok((c, 2))
}

/// Decodes `\uXXXX`, joining a UTF-16 surrogate pair written as two escapes.
fn unicode_escape(s: &str) -> Result<(char, usize), String> {
    let first = hex4(s, 2)?;
    if (0xDC00..=0xDFFF).contains(&first) {
        return Err(format!(
            "\\u{first:04X} is a lone low surrogate; it must follow a high surrogate"
        ));
    }
    if (0xD800..=0xDBFF).contains(&first) {
        let second = if s.get(6..8) == Some("\\u") {
            hex4(s, 8)?
        } else {
            0
        };
        if !(0xDC00..=0xDFFF).contains(&second) {
            return Err(format!(
                "\\u{first:04X} is a high surrogate and must be followed by a low surrogate \\uDC00-\\uDFFF"
            ));
        }
        let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
        let c = char::from_u32(code).ok_or_else(|| format!("invalid code point U+{code:X}"))?;
        return Ok((c, 12));
    }
    let c = char::from_u32(first).ok_or_else(|| format!("invalid code point U+{first:04X}"))?;
    Ok((c, 6))
}

/// Four hex digits at byte offset `at` of `s`.
fn hex4(s: &str, at: usize) -> Result<u32, String> {
    let digits = s
        .get(at..at + 4)
        .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| "\\u must be followed by four hex digits".to_string())?;
    u32::from_str_radix(digits, 16).map_err(|_| "\\u must be followed by four hex digits".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Result<Vec<(TokenKind, String)>, SyntaxError> {
        let mut lx = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let t = lx.next_token()?;
            if t.kind == TokenKind::Eof {
                return Ok(out);
            }
            out.push((t.kind, t.text.to_string()));
        }
    }

    fn string(src: &str) -> Result<String, SyntaxError> {
        match kinds(src)?.into_iter().next() {
            Some((TokenKind::Str(s), _)) => Ok(s),
            other => panic!("not a string: {other:?}"),
        }
    }

    #[test]
    fn splits_words_brackets_and_strings() {
        let toks = kinds("emails[type eq\t\"work\"]\n or  not(x pr)").unwrap();
        let texts: Vec<_> = toks.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(
            texts,
            [
                "emails", "[", "type", "eq", "\"work\"", "]", "or", "not", "(", "x", "pr", ")"
            ]
        );
        assert_eq!(toks[4].0, TokenKind::Str("work".into()));
    }

    #[test]
    fn decodes_every_json_escape() {
        let cases = [
            (r#""a\"b""#, "a\"b"),
            (r#""a\\b""#, "a\\b"),
            (r#""a\/b""#, "a/b"),
            (r#""\b\f\n\r\t""#, "\u{8}\u{c}\n\r\t"),
            (r#""\u00e9\u00E9""#, "éé"),
            (r#""\ud83d\ude00""#, "😀"),
            (r#""héllo 😀""#, "héllo 😀"),
            (r#""""#, ""),
        ];
        for (src, want) in cases {
            assert_eq!(string(src).unwrap(), want, "{src}");
        }
    }

    #[test]
    fn rejects_bad_strings() {
        for src in [
            r#""abc"#,
            r#""abc\"#,
            r#""\x""#,
            r#""\u12""#,
            r#""\u+123""#,
            r#""\ud83d""#,
            r#""\ud83d\u0041""#,
            r#""\ude00""#,
            "\"a\nb\"",
            r#""\é""#,
            "\"\\u12é\"",
        ] {
            assert!(kinds(src).is_err(), "{src:?} should fail");
        }
    }

    #[test]
    fn positions_are_byte_offsets() {
        let mut lx = Lexer::new("é  x");
        assert_eq!(lx.next_token().unwrap().start, 0);
        assert_eq!(lx.next_token().unwrap().start, 4);
        assert_eq!(lx.peek().unwrap().kind, TokenKind::Eof);
    }
}
