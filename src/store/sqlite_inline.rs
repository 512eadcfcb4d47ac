//! Running a [`Q`] on a rusqlite connection, inline on the calling task: shared by the
//! writer and the reader pool. An indexed statement takes microseconds, less than a
//! hand-off to another thread and back would.

use super::StoreError;
use super::sql::{Q, Row, SqlValue};
use rusqlite::OpenFlags;
use rusqlite::types::{Value, ValueRef};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Distinct statements kept prepared per connection (IN lists of different lengths are
/// distinct).
pub(super) const STATEMENT_CACHE: usize = 512;

/// Opens a connection on the database file; it waits up to `busy_timeout` for a lock
/// another process (e.g. the CLI) holds.
pub(super) fn open(
    path: &Path,
    flags: OpenFlags,
    busy_timeout: Duration,
) -> Result<rusqlite::Connection, StoreError> {
    let conn = rusqlite::Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::Connect(format!("{}: {e}", path.display())))?;
    conn.busy_timeout(busy_timeout).map_err(from_sqlite)?;
    Ok(conn)
}

/// Runs a statement and returns the number of rows it changed.
pub(super) fn execute(conn: &rusqlite::Connection, q: Q) -> Result<u64, StoreError> {
    let mut stmt = conn.prepare_cached(&q.sql).map_err(from_sqlite)?;
    let n = stmt
        .execute(rusqlite::params_from_iter(q.args.into_iter().map(value)))
        .map_err(from_sqlite)?;
    Ok(n as u64)
}

/// Runs a query and returns its rows, at most `max`.
pub(super) fn fetch(conn: &rusqlite::Connection, q: Q, max: usize) -> Result<Vec<Row>, StoreError> {
    let mut stmt = conn.prepare_cached(&q.sql).map_err(from_sqlite)?;
    let names: Vec<Arc<str>> = stmt.column_names().into_iter().map(Arc::from).collect();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(q.args.into_iter().map(value)))
        .map_err(from_sqlite)?;
    let mut out = Vec::new();
    while out.len() < max
        && let Some(row) = rows.next().map_err(from_sqlite)?
    {
        let mut columns = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let v = match row.get_ref(i).map_err(from_sqlite)? {
                ValueRef::Null => SqlValue::Null,
                ValueRef::Integer(n) => SqlValue::Int(n),
                ValueRef::Real(f) => SqlValue::Float(f),
                ValueRef::Text(t) => SqlValue::Text(
                    std::str::from_utf8(t)
                        .map_err(|e| StoreError::Decode(format!("column {name}: {e}")))?
                        .to_owned(),
                ),
                ValueRef::Blob(_) => {
                    return Err(StoreError::Decode(format!(
                        "column {name} has unsupported type BLOB"
                    )));
                }
            };
            columns.push((name.clone(), v));
        }
        out.push(Row { columns });
    }
    Ok(out)
}

fn value(v: SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Int(i) => Value::Integer(i),
        SqlValue::Float(f) => Value::Real(f),
        SqlValue::Text(s) => Value::Text(s),
        SqlValue::Bool(b) => Value::Integer(i64::from(b)),
    }
}

pub(super) fn from_sqlite(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, message)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            StoreError::Conflict {
                constraint: message.clone().unwrap_or_else(|| e.to_string()),
            }
        }
        _ => StoreError::Database(e.to_string()),
    }
}
