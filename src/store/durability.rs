//! How commits reach the disk: SQLite's `synchronous` setting, and the PostgreSQL server
//! settings rollcall relies on.

use super::{Q, StoreError, Tx};

/// SQLite's `synchronous` in WAL mode (<https://sqlite.org/pragma.html#pragma_synchronous>).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SqliteSynchronous {
    /// The WAL is synced at every commit: a write rollcall acknowledged survives a power
    /// cut. The writer's group commit makes that one fsync per batch of requests.
    #[default]
    Full,
    /// The WAL is synced only at checkpoints: a killed process loses nothing, but a power
    /// cut or operating-system crash may roll back the last acknowledged commits.
    Normal,
}

impl SqliteSynchronous {
    /// The PRAGMA's value, as SQLite spells it.
    pub fn pragma(self) -> &'static str {
        match self {
            SqliteSynchronous::Full => "FULL",
            SqliteSynchronous::Normal => "NORMAL",
        }
    }

    /// The number `PRAGMA synchronous` reads back.
    pub fn from_level(level: i64) -> Option<SqliteSynchronous> {
        match level {
            2 => Some(SqliteSynchronous::Full),
            1 => Some(SqliteSynchronous::Normal),
            _ => None,
        }
    }
}

impl std::str::FromStr for SqliteSynchronous {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Ok(SqliteSynchronous::Full),
            "normal" => Ok(SqliteSynchronous::Normal),
            _ => Err(format!("{s:?}: expected full or normal")),
        }
    }
}

impl std::fmt::Display for SqliteSynchronous {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SqliteSynchronous::Full => "full",
            SqliteSynchronous::Normal => "normal",
        })
    }
}

/// PostgreSQL server settings under which an acknowledged commit may be lost, as
/// `(name, value)`: rollcall relies on `fsync` and `synchronous_commit` being on.
pub async fn postgres_unsafe_settings(tx: &mut Tx) -> Result<Vec<(String, String)>, StoreError> {
    let rows = tx
        .fetch_all(Q::new(
            "SELECT name, setting FROM pg_settings \
             WHERE (name = 'fsync' AND setting <> 'on') \
                OR (name = 'synchronous_commit' AND setting = 'off') \
             ORDER BY name",
        ))
        .await?;
    rows.iter()
        .map(|r| Ok((r.text("name")?, r.text("setting")?)))
        .collect()
}
