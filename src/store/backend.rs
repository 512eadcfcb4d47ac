//! Connecting, migrating and running [`Q`] queries on SQLite or PostgreSQL.

use super::StoreError;
use super::durability::SqliteSynchronous;
use super::reader_ledger::{HeldReader, ReaderLedger};
use super::seal::MasterKey;
use super::sql::{Dialect, Q, Row, SqlValue};
use super::sqlite_checkpointer::Checkpointer;
use super::sqlite_readers::{ReadConn, Readers};
use super::sqlite_writer::{WriteTx, Writer};
use sqlx::Connection as _;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, Postgres};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode};
use sqlx::{AssertSqlSafe, Column as _, Row as _, TypeInfo as _, ValueRef as _};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub(super) static SQLITE_MIGRATIONS: sqlx::migrate::Migrator =
    sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a SQLite connection waits for another process's lock (e.g. the CLI's).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite read connections: more than the cores, since a request holds its reader across
/// awaits (rendering, the next query).
const SQLITE_READERS: usize = 8;

#[derive(Debug, Clone)]
enum Pools {
    /// One writer connection (SQLite allows one writer at a time anyway; queueing on its
    /// mutex is cheaper than SQLITE_BUSY retries) and several readers on the WAL; both
    /// run statements inline. `opts` opens the one-off connection that migrates.
    Sqlite {
        writer: Writer,
        readers: Readers,
        opts: Arc<SqliteConnectOptions>,
        _checkpointer: Arc<Checkpointer>,
    },
    Postgres(PgPool),
}

/// A handle on the database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pools: Pools,
    /// Seals and opens secret columns ([`super::sealed_columns`]); None only for stores
    /// that never touch them (test set-up).
    master_key: Option<Arc<MasterKey>>,
    /// The readers each task holds, so that a write can refuse to start beside one.
    readers_held: ReaderLedger,
}

enum TxInner {
    Sqlite(WriteTx),
    Postgres(sqlx::Transaction<'static, Postgres>),
    /// Reads run in autocommit on a pooled connection: no BEGIN/ROLLBACK round trips on
    /// the hot lookup path. Each statement still sees one consistent snapshot.
    SqliteRead(ReadConn),
    PostgresRead(PoolConnection<Postgres>),
}

/// The connection a statement runs on.
enum Conn<'a> {
    SqliteWrite(&'a mut WriteTx),
    SqliteRead(&'a mut ReadConn),
    Postgres(&'a mut PgConnection),
}

/// A transaction. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    inner: TxInner,
    master_key: Option<Arc<MasterKey>>,
    /// For a read connection: its entry in the store's [`ReaderLedger`].
    _reader: Option<HeldReader>,
}

impl Store {
    /// Connects to `url` (`sqlite:PATH` or `postgres://...`), creating a SQLite file if
    /// missing, with SQLite's durable default. Does not migrate.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_with(url, SqliteSynchronous::default()).await
    }

    /// As [`Store::connect`], with SQLite's `synchronous` setting for every connection that
    /// writes (the writer, the migrations' connection, the checkpointer).
    pub async fn connect_with(
        url: &str,
        synchronous: SqliteSynchronous,
    ) -> Result<Store, StoreError> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::Connect(e.to_string()))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(match synchronous {
                    SqliteSynchronous::Full => sqlx::sqlite::SqliteSynchronous::Full,
                    SqliteSynchronous::Normal => sqlx::sqlite::SqliteSynchronous::Normal,
                })
                .foreign_keys(true)
                .busy_timeout(BUSY_TIMEOUT);
            crate::private_files::private_sqlite_files(opts.get_filename()).map_err(|e| {
                StoreError::Connect(format!(
                    "cannot make the database file {} private: {e}",
                    opts.get_filename().display()
                ))
            })?;
            // The writer first: it creates the file (and turns on WAL) the readers open.
            let writer = Writer::open(opts.get_filename(), BUSY_TIMEOUT, synchronous)?;
            let readers = Readers::open(opts.get_filename(), BUSY_TIMEOUT, SQLITE_READERS)?;
            let checkpointer = Checkpointer::start(opts.get_filename(), BUSY_TIMEOUT, synchronous)?;
            Ok(Store {
                pools: Pools::Sqlite {
                    writer,
                    readers,
                    opts: Arc::new(opts),
                    _checkpointer: Arc::new(checkpointer),
                },
                master_key: None,
                readers_held: ReaderLedger::default(),
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts =
                PgConnectOptions::from_str(url).map_err(|e| StoreError::Connect(e.to_string()))?;
            // One direct connection first: a pool only reports "timed out", hiding
            // "connection refused" or "database does not exist".
            let probe =
                tokio::time::timeout(Duration::from_secs(10), PgConnection::connect_with(&opts))
                    .await
                    .map_err(|_| {
                        StoreError::Connect(format!(
                            "{} did not answer within 10 s",
                            redact_url(url)
                        ))
                    })?
                    .map_err(|e| StoreError::Connect(format!("{}: {e}", redact_url(url))))?;
            let _ = probe.close().await;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await
                .map_err(|e| StoreError::Connect(e.to_string()))?;
            Ok(Store {
                pools: Pools::Postgres(pool),
                master_key: None,
                readers_held: ReaderLedger::default(),
            })
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }

    /// This store, sealing and opening secret columns with `key`.
    pub fn with_master_key(mut self, key: Arc<MasterKey>) -> Store {
        self.master_key = Some(key);
        self
    }

    /// The master key given to [`Store::with_master_key`].
    pub fn master_key(&self) -> Option<&Arc<MasterKey>> {
        self.master_key.as_ref()
    }

    /// Applies the embedded migrations of this backend, then (with a master key) seals
    /// the secrets still stored in clear and checks that every sealed one is this key's
    /// (see [`super::sealed_columns::seal_clear_values`]).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.migrate_sql().await?;
        if let Some(key) = &self.master_key {
            let mut tx = self.write().await?;
            super::sealed_columns::seal_clear_values(&mut tx, key).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    async fn migrate_sql(&self) -> Result<(), StoreError> {
        match &self.pools {
            Pools::Sqlite { opts, .. } => {
                // sqlx's migrator wants a sqlx connection: a one-off one.
                let mut conn = SqliteConnection::connect_with(opts.as_ref())
                    .await
                    .map_err(|e| StoreError::Migrate(e.to_string()))?;
                let ran = SQLITE_MIGRATIONS.run(&mut conn).await;
                let _ = conn.close().await;
                ran
            }
            Pools::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        }
        .map_err(|e| StoreError::Migrate(e.to_string()))
    }

    /// `PRAGMA synchronous` as each SQLite connection that writes reads it back: the
    /// writer, the migrations' connection and the checkpointer (empty on PostgreSQL).
    pub async fn sqlite_synchronous(
        &self,
    ) -> Result<Vec<(&'static str, Option<SqliteSynchronous>)>, StoreError> {
        let Pools::Sqlite {
            writer,
            opts,
            _checkpointer: checkpointer,
            ..
        } = &self.pools
        else {
            return Ok(Vec::new());
        };
        let mut conn = SqliteConnection::connect_with(opts.as_ref()).await?;
        let migrations: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut conn)
            .await?;
        let _ = conn.close().await;
        Ok(vec![
            (
                "writer",
                SqliteSynchronous::from_level(writer.synchronous().await?),
            ),
            ("migrations", SqliteSynchronous::from_level(migrations)),
            (
                "checkpointer",
                SqliteSynchronous::from_level(checkpointer.synchronous()),
            ),
        ])
    }

    /// Which SQL dialect this store speaks.
    pub fn dialect(&self) -> Dialect {
        match self.pools {
            Pools::Sqlite { .. } => Dialect::Sqlite,
            Pools::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Begins a write transaction. On SQLite it is `BEGIN IMMEDIATE` on the single writer,
    /// so the transaction holds the write lock from its first statement.
    ///
    /// Debug builds panic when the calling task still holds a reader from
    /// [`Store::read`] or [`Store::read_snapshot`] (see [`super::reader_ledger`]).
    pub async fn write(&self) -> Result<Tx, StoreError> {
        self.readers_held.assert_none_held();
        let inner = match &self.pools {
            Pools::Sqlite { writer, .. } => TxInner::Sqlite(writer.begin().await?),
            Pools::Postgres(pool) => TxInner::Postgres(Box::pin(pool.begin()).await?),
        };
        Ok(Tx {
            inner,
            master_key: self.master_key.clone(),
            _reader: None,
        })
    }

    /// A connection for reading (autocommit, from the reader pool on SQLite).
    pub async fn read(&self) -> Result<Tx, StoreError> {
        let inner = match &self.pools {
            Pools::Sqlite { readers, .. } => TxInner::SqliteRead(readers.acquire().await?),
            Pools::Postgres(pool) => TxInner::PostgresRead(Box::pin(pool.acquire()).await?),
        };
        Ok(Tx {
            inner,
            master_key: self.master_key.clone(),
            _reader: Some(self.readers_held.hold()),
        })
    }

    /// A connection for reading several statements from one snapshot (a read transaction
    /// on SQLite, where it also takes the shared locks once instead of per statement).
    /// On PostgreSQL the same as [`Store::read`].
    pub async fn read_snapshot(&self) -> Result<Tx, StoreError> {
        let mut tx = self.read().await?;
        if let TxInner::SqliteRead(c) = &mut tx.inner {
            c.begin_snapshot()?;
        }
        Ok(tx)
    }

    /// Runs one statement outside any transaction (e.g. `CREATE DATABASE` in test
    /// set-up). Never pass it request data.
    pub async fn execute_raw(&self, sql: &str) -> Result<(), StoreError> {
        match &self.pools {
            Pools::Sqlite { writer, .. } => writer.execute_raw(sql).await?,
            Pools::Postgres(pool) => {
                sqlx::query(AssertSqlSafe(sql)).execute(pool).await?;
            }
        }
        Ok(())
    }

    /// Closes all connections.
    pub async fn close(&self) {
        match &self.pools {
            // The writer closes when the last clone of the store is dropped.
            Pools::Sqlite { readers, .. } => readers.close(),
            Pools::Postgres(pool) => pool.close().await,
        }
    }
}

// PostgreSQL's futures are boxed: held inline, sqlx's state machines made every
// statement's future, and so every handler's, kilobytes large on SQLite too, and each
// layer of the router copied them when it boxed its inner future.
impl Tx {
    /// The master key of the store this transaction came from.
    pub(super) fn master_key(&self) -> Result<&MasterKey, StoreError> {
        self.master_key.as_deref().ok_or(StoreError::NoMasterKey)
    }

    /// The dialect of the backend this transaction runs on.
    pub fn dialect(&self) -> Dialect {
        match self.inner {
            TxInner::Sqlite(_) | TxInner::SqliteRead(_) => Dialect::Sqlite,
            TxInner::Postgres(_) | TxInner::PostgresRead(_) => Dialect::Postgres,
        }
    }

    /// Commits (nothing to do for a read connection).
    pub async fn commit(self) -> Result<(), StoreError> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.commit().await?,
            TxInner::Postgres(tx) => Box::pin(tx.commit()).await?,
            TxInner::SqliteRead(_) | TxInner::PostgresRead(_) => {}
        }
        Ok(())
    }

    fn conn(&mut self) -> Conn<'_> {
        match &mut self.inner {
            TxInner::Sqlite(tx) => Conn::SqliteWrite(tx),
            TxInner::SqliteRead(c) => Conn::SqliteRead(c),
            TxInner::Postgres(tx) => Conn::Postgres(&mut *tx),
            TxInner::PostgresRead(c) => Conn::Postgres(c),
        }
    }

    /// Runs a statement and returns the number of rows it changed.
    pub async fn execute(&mut self, q: Q) -> Result<u64, StoreError> {
        match self.conn() {
            Conn::SqliteWrite(tx) => tx.execute(q),
            Conn::SqliteRead(c) => c.execute(q),
            Conn::Postgres(tx) => {
                let (sql, args) = q.into_numbered();
                let query = bind_pg(sqlx::query(AssertSqlSafe(sql)), args);
                Ok(Box::pin(query.execute(&mut *tx)).await?.rows_affected())
            }
        }
    }

    /// Runs an INSERT of one row and returns its `key`, the table's INTEGER PRIMARY KEY,
    /// or None when the statement inserted nothing (an `ON CONFLICT DO NOTHING` that hit
    /// its conflict): the caller must say what that means, since SQLite's last inserted
    /// rowid would then be an earlier row's. SQLite reads the key off the connection (a
    /// RETURNING clause costs SQLite a temporary b-tree, a second SELECT a statement);
    /// PostgreSQL returns it.
    pub async fn insert_returning_key(
        &mut self,
        mut q: Q,
        key: &str,
    ) -> Result<Option<i64>, StoreError> {
        match self.conn() {
            Conn::SqliteWrite(tx) => match tx.execute(q)? {
                0 => Ok(None),
                1 => tx.last_insert_rowid().map(Some),
                n => Err(StoreError::Database(format!(
                    "an INSERT meant for one row inserted {n}"
                ))),
            },
            Conn::SqliteRead(_) => Err(StoreError::Database(
                "an INSERT on a read connection".into(),
            )),
            Conn::Postgres(_) => {
                q.push(" RETURNING ").push(key);
                let mut rows = self.fetch_all(q).await?;
                match rows.len() {
                    0 => Ok(None),
                    1 => rows.pop().map(|r| r.int(key)).transpose(),
                    n => Err(StoreError::Database(format!(
                        "an INSERT meant for one row inserted {n}"
                    ))),
                }
            }
        }
    }

    /// Runs a query and returns all its rows.
    pub async fn fetch_all(&mut self, q: Q) -> Result<Vec<Row>, StoreError> {
        match self.conn() {
            Conn::SqliteWrite(tx) => tx.fetch(q, usize::MAX),
            Conn::SqliteRead(c) => c.fetch(q, usize::MAX),
            Conn::Postgres(tx) => {
                let (sql, args) = q.into_numbered();
                let query = bind_pg(sqlx::query(AssertSqlSafe(sql)), args);
                let rows = Box::pin(query.fetch_all(&mut *tx)).await?;
                rows.iter().map(pg_row).collect()
            }
        }
    }

    /// Runs `head` followed by `v1, v2, ...` and `tail` once per chunk of `chunk` values,
    /// and returns all the rows in chunk order: a statement's parameters stay bounded
    /// however many values. `head` ends inside `IN (` and `tail` closes it.
    pub async fn fetch_all_in<T: Into<SqlValue> + Clone>(
        &mut self,
        head: Q,
        values: &[T],
        tail: &str,
        chunk: usize,
    ) -> Result<Vec<Row>, StoreError> {
        let mut out = Vec::new();
        for part in values.chunks(chunk) {
            let mut q = head.clone();
            q.push_list(part).push(tail);
            out.extend(self.fetch_all(q).await?);
        }
        Ok(out)
    }

    /// Runs a query and returns its first row, if any.
    pub async fn fetch_optional(&mut self, q: Q) -> Result<Option<Row>, StoreError> {
        match self.conn() {
            Conn::SqliteWrite(tx) => Ok(tx.fetch(q, 1)?.pop()),
            Conn::SqliteRead(c) => Ok(c.fetch(q, 1)?.pop()),
            Conn::Postgres(tx) => {
                let (sql, args) = q.into_numbered();
                let query = bind_pg(sqlx::query(AssertSqlSafe(sql)), args);
                Box::pin(query.fetch_optional(&mut *tx))
                    .await?
                    .as_ref()
                    .map(pg_row)
                    .transpose()
            }
        }
    }

    /// Runs a query expected to return one row.
    pub async fn fetch_one(&mut self, q: Q) -> Result<Row, StoreError> {
        self.fetch_optional(q)
            .await?
            .ok_or_else(|| StoreError::Decode("query returned no row".into()))
    }
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

fn bind_pg(mut query: PgQuery<'_>, args: Vec<SqlValue>) -> PgQuery<'_> {
    for arg in args {
        query = match arg {
            SqlValue::Null => query.bind(None::<String>),
            SqlValue::Int(i) => query.bind(i),
            SqlValue::Float(f) => query.bind(f),
            SqlValue::Text(s) => query.bind(s),
            SqlValue::Bool(b) => query.bind(b),
        };
    }
    query
}

fn pg_row(row: &sqlx::postgres::PgRow) -> Result<Row, StoreError> {
    let mut columns = Vec::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let raw = row.try_get_raw(i)?;
        let value = if raw.is_null() {
            SqlValue::Null
        } else {
            match raw.type_info().name() {
                "INT8" => SqlValue::Int(row.try_get(i)?),
                "INT4" => SqlValue::Int(i64::from(row.try_get::<i32, _>(i)?)),
                "INT2" => SqlValue::Int(i64::from(row.try_get::<i16, _>(i)?)),
                "FLOAT8" => SqlValue::Float(row.try_get(i)?),
                "BOOL" => SqlValue::Bool(row.try_get(i)?),
                "TEXT" | "VARCHAR" | "NAME" => SqlValue::Text(row.try_get(i)?),
                other => {
                    return Err(StoreError::Decode(format!(
                        "column {} has unsupported type {other}",
                        col.name()
                    )));
                }
            }
        };
        columns.push((Arc::from(col.name()), value));
    }
    Ok(Row { columns })
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
