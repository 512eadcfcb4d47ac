//! A small dialect-neutral query and row layer shared by both backends.
//!
//! Queries are written once with `?` placeholders and bound values ([`Q`]); each backend
//! executes them natively (PostgreSQL gets `$n` placeholders). Rows come back as a neutral
//! [`Row`]. This keeps one copy of every query, so SQLite and PostgreSQL cannot drift; the
//! places where the SQL itself differs go through [`Dialect`].

use super::StoreError;
use crate::domain::{
    GroupId, MappingId, MembershipId, OrgId, SubscriptionId, TeamId, UserId, WebhookId,
};
use std::sync::Arc;

/// Whether a key (an id, an org id, a filter literal) can name a stored row. No stored
/// text holds NUL: PostgreSQL's `text` refuses it and input with one is refused before it
/// is stored. So a key with one names nothing, on both backends alike, and is answered
/// without a statement PostgreSQL would fail ("invalid byte sequence ... 0x00").
pub fn can_match(key: &str) -> bool {
    !key.contains('\0')
}

/// A value bound to a placeholder, or read from a column.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_owned())
    }
}
impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}
impl From<&String> for SqlValue {
    fn from(v: &String) -> Self {
        SqlValue::Text(v.clone())
    }
}

/// Ids bind as their text, so a query takes `id` itself rather than `id.as_str()`.
macro_rules! id_binds_as_text {
    ($($id:ty),* $(,)?) => {$(
        impl From<$id> for SqlValue {
            fn from(v: $id) -> Self {
                SqlValue::Text(v.into_string())
            }
        }
        impl From<&$id> for SqlValue {
            fn from(v: &$id) -> Self {
                SqlValue::Text(v.as_str().to_owned())
            }
        }
    )*};
}
id_binds_as_text!(
    OrgId,
    UserId,
    GroupId,
    TeamId,
    SubscriptionId,
    MembershipId,
    MappingId,
    WebhookId,
);
impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Int(v)
    }
}
impl From<bool> for SqlValue {
    fn from(v: bool) -> Self {
        SqlValue::Bool(v)
    }
}
impl<T: crate::domain::kinds::Spelled> From<T> for SqlValue {
    fn from(v: T) -> Self {
        SqlValue::Text(v.as_str().to_owned())
    }
}
impl From<&crate::domain::time::Timestamp> for SqlValue {
    fn from(v: &crate::domain::time::Timestamp) -> Self {
        SqlValue::Text(v.as_str().to_owned())
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// A query under construction: SQL text with `?` placeholders and their values in order.
/// Values are only ever bound, never formatted into the text.
#[derive(Debug, Clone, Default)]
pub struct Q {
    pub(crate) sql: String,
    pub(crate) args: Vec<SqlValue>,
}

impl Q {
    /// Starts a query with a static SQL fragment.
    pub fn new(sql: &str) -> Q {
        Q {
            sql: sql.to_owned(),
            args: Vec::new(),
        }
    }

    /// Binds the next `?` already present in the text.
    pub fn bind(mut self, v: impl Into<SqlValue>) -> Q {
        self.args.push(v.into());
        self
    }

    /// Appends SQL text (never user input).
    pub fn push(&mut self, sql: &str) -> &mut Q {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder and binds its value.
    pub fn push_bind(&mut self, v: impl Into<SqlValue>) -> &mut Q {
        self.sql.push('?');
        self.args.push(v.into());
        self
    }

    /// Appends a JSON placeholder (`?`, or `?::jsonb` on PostgreSQL) bound to the JSON
    /// text (or NULL).
    pub fn push_json(&mut self, dialect: Dialect, text: impl Into<SqlValue>) -> &mut Q {
        self.sql.push_str(dialect.json_in());
        self.args.push(text.into());
        self
    }

    /// Appends ` LIMIT n` with `n` written out, not bound: SQLite peeks at a bound LIMIT
    /// when it plans, which marks the statement to be prepared again on every execution.
    pub fn push_limit(&mut self, n: i64) -> &mut Q {
        self.sql.push_str(" LIMIT ");
        self.sql.push_str(&n.to_string());
        self
    }

    /// Appends `?, ?, ...` binding each value: the inside of an `IN (...)`.
    pub fn push_list<T: Into<SqlValue> + Clone>(&mut self, values: &[T]) -> &mut Q {
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.push_bind(v.clone());
        }
        self
    }

    /// Appends another query's text and values.
    pub fn append(&mut self, other: Q) -> &mut Q {
        self.sql.push_str(&other.sql);
        self.args.extend(other.args);
        self
    }

    /// The text with `?` rewritten to `$1, $2, ...` (PostgreSQL), and the values to bind.
    /// NULLs are written inline: a bound NULL would carry a type (text) that PostgreSQL
    /// refuses for other columns. `?` inside single-quoted literals is left alone.
    pub(crate) fn into_numbered(self) -> (String, Vec<SqlValue>) {
        let mut out = String::with_capacity(self.sql.len() + 16);
        let mut args = Vec::with_capacity(self.args.len());
        let mut values = self.args.into_iter();
        let mut in_literal = false;
        for c in self.sql.chars() {
            match c {
                '\'' => {
                    in_literal = !in_literal;
                    out.push(c);
                }
                '?' if !in_literal => match values.next() {
                    Some(SqlValue::Null) | None => out.push_str("NULL"),
                    Some(v) => {
                        args.push(v);
                        out.push('$');
                        out.push_str(&args.len().to_string());
                    }
                },
                _ => out.push(c),
            }
        }
        (out, args)
    }
}

/// A row read from either backend.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// Names are shared by every row of a result (SQLite), not copied into each.
    pub(crate) columns: Vec<(Arc<str>, SqlValue)>,
}

impl Row {
    fn get(&self, name: &str) -> Result<&SqlValue, StoreError> {
        self.columns
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v)
            .ok_or_else(|| StoreError::Decode(format!("no column {name}")))
    }

    /// A text column that may be NULL.
    pub fn opt_text(&self, name: &str) -> Result<Option<String>, StoreError> {
        match self.get(name)? {
            SqlValue::Null => Ok(None),
            SqlValue::Text(s) => Ok(Some(s.clone())),
            other => Err(StoreError::Decode(format!(
                "{name}: expected text, got {other:?}"
            ))),
        }
    }

    /// A text column, borrowed: for a value that is only parsed, such as a document.
    pub fn str(&self, name: &str) -> Result<&str, StoreError> {
        match self.get(name)? {
            SqlValue::Text(s) => Ok(s),
            SqlValue::Null => Err(StoreError::Decode(format!("{name} is NULL"))),
            other => Err(StoreError::Decode(format!(
                "{name}: expected text, got {other:?}"
            ))),
        }
    }

    /// A text column.
    pub fn text(&self, name: &str) -> Result<String, StoreError> {
        self.opt_text(name)?
            .ok_or_else(|| StoreError::Decode(format!("{name} is NULL")))
    }

    /// A text column holding an id.
    pub fn id<T: From<String>>(&self, name: &str) -> Result<T, StoreError> {
        self.text(name).map(T::from)
    }

    /// A text column holding an id, which may be NULL.
    pub fn opt_id<T: From<String>>(&self, name: &str) -> Result<Option<T>, StoreError> {
        Ok(self.opt_text(name)?.map(T::from))
    }

    /// A text column holding one of a closed set of values: an unknown spelling is a
    /// Decode error.
    pub fn parse<T: std::str::FromStr>(&self, name: &str) -> Result<T, StoreError>
    where
        T::Err: std::fmt::Display,
    {
        self.str(name)?
            .parse()
            .map_err(|e| StoreError::Decode(format!("{name}: {e}")))
    }

    /// [`Row::parse`] for a column that may be NULL.
    pub fn opt_parse<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, StoreError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(name)? {
            SqlValue::Null => Ok(None),
            _ => self.parse(name).map(Some),
        }
    }

    /// An integer column that may be NULL.
    pub fn opt_int(&self, name: &str) -> Result<Option<i64>, StoreError> {
        match self.get(name)? {
            SqlValue::Null => Ok(None),
            SqlValue::Int(i) => Ok(Some(*i)),
            other => Err(StoreError::Decode(format!(
                "{name}: expected integer, got {other:?}"
            ))),
        }
    }

    /// An integer column.
    pub fn int(&self, name: &str) -> Result<i64, StoreError> {
        self.opt_int(name)?
            .ok_or_else(|| StoreError::Decode(format!("{name} is NULL")))
    }

    /// A boolean column (SQLite stores booleans as 0/1).
    pub fn bool(&self, name: &str) -> Result<bool, StoreError> {
        match self.get(name)? {
            SqlValue::Bool(b) => Ok(*b),
            SqlValue::Int(i) => Ok(*i != 0),
            other => Err(StoreError::Decode(format!(
                "{name}: expected boolean, got {other:?}"
            ))),
        }
    }
}

/// The SQL that differs between the backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// An expression reading a JSON document column as text for SELECT.
    pub fn json_out(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => column.to_owned(),
            Dialect::Postgres => format!("{column}::text"),
        }
    }

    /// The placeholder for a JSON document value being written.
    pub fn json_in(self) -> &'static str {
        match self {
            Dialect::Sqlite => "?",
            Dialect::Postgres => "?::jsonb",
        }
    }

    /// The prefix that makes a statement print its query plan instead of running.
    pub fn explain(self) -> &'static str {
        match self {
            Dialect::Sqlite => "EXPLAIN QUERY PLAN ",
            Dialect::Postgres => "EXPLAIN ",
        }
    }

    /// Row lock suffix for a SELECT that precedes an update in the same transaction.
    /// SQLite needs none: its write transactions are `BEGIN IMMEDIATE` on one writer.
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }
}
