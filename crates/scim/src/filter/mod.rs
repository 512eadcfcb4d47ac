//! SCIM filters, RFC 7644 §3.4.2.2: lexer, parser, AST, printer and an in-memory evaluator.
//!
//! The AST is shared by the SQL compiler (in the store), the PATCH engine (value-filter
//! paths) and the in-memory evaluator used on multi-valued attribute elements.

mod ast;
mod eval;
mod lexer;
mod parser;

pub use ast::{AttrPath, CompValue, CompareOp, Filter};
pub use eval::eval;
pub use parser::{MAX_FILTER_DEPTH, MAX_FILTER_LEN, MAX_FILTER_TERMS, parse, parse_attr_path};

pub(crate) use lexer::{SyntaxError, TokenKind};
pub(crate) use parser::{Grammar, Parser, attr_path, is_attr_name, quote};

#[cfg(test)]
pub(crate) mod proptests;
