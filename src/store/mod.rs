//! Storage: SQLite (the embedded default) and PostgreSQL behind one [`Store`].
//!
//! Every query is written once (see [`sql`]) and run natively by the backend in use; the
//! few places where the SQL differs go through [`sql::Dialect`]. Nothing outside this
//! module sees sqlx.

pub mod audit;
mod backend;
mod durability;
pub mod effects;
pub mod filter_sql;
pub mod fold_keys;
pub mod invitations;
pub mod mappings;
pub mod members;
pub mod org_roles;
pub mod orgs;
pub mod outbox;
pub mod policies;
mod reader_ledger;
pub mod resources;
pub mod seal;
pub mod sealed_columns;
pub mod sessions;
pub mod sign_in_codes;
pub mod sql;
pub mod sqlite_alloc;
mod sqlite_checkpointer;
#[cfg(test)]
mod sqlite_checks_migration;
mod sqlite_inline;
mod sqlite_readers;
mod sqlite_writer;
mod sso_connections;
pub mod sso_oidc;
pub mod sso_saml;
pub mod team_admin;
pub mod teams;
pub mod tokens;

pub use backend::{Store, Tx, redact_url};
pub use durability::{SqliteSynchronous, postgres_unsafe_settings};
pub use sql::{Dialect, Q, Row, SqlValue, can_match};

/// Storage failures, mapped by callers to HTTP or CLI errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness constraint was violated; `constraint` names it (index or columns).
    #[error("conflict on {constraint}")]
    Conflict { constraint: String },
    /// The database could not be reached or refused the connection.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(String),
    /// A row did not have the expected shape.
    #[error("unexpected row: {0}")]
    Decode(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(String),
    /// The database URL names no supported backend.
    #[error("unsupported database URL {0:?}: use sqlite:PATH or postgres://...")]
    UnsupportedUrl(String),
    /// A sealed secret could not be sealed or opened (wrong or missing master key).
    #[error(transparent)]
    Seal(#[from] seal::SealError),
    /// A secret column was written or read on a store given no master key.
    #[error("no master key: secrets cannot be sealed or opened")]
    NoMasterKey,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation => {
                StoreError::Conflict {
                    constraint: db
                        .constraint()
                        .map_or_else(|| db.message().to_owned(), ToOwned::to_owned),
                }
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
                StoreError::Connect(e.to_string())
            }
            _ => StoreError::Database(e.to_string()),
        }
    }
}
