//! The columns that hold secrets the server must read back in full, sealed with the
//! master key ([`super::seal`]): sealing what an older version stored in clear, and
//! re-sealing everything under a new master key (`rollcall keys rotate-master`).

use super::seal::{self, MasterKey, SealError};
use super::sql::Q;
use super::{StoreError, Tx};

/// A column of sealed secrets and the column that names its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedColumn {
    pub table: &'static str,
    pub id: &'static str,
    pub column: &'static str,
}

impl SealedColumn {
    /// The sealed `column` of `table`, whose rows `id` names.
    pub const fn new(table: &'static str, id: &'static str, column: &'static str) -> Self {
        SealedColumn { table, id, column }
    }

    /// The associated data of row `id`: a value sealed for one row opens in no other.
    pub fn ad(&self, id: &str) -> String {
        format!("{}.{}:{id}", self.table, self.column)
    }

    /// `table.column`, as messages name it.
    pub fn name(&self) -> String {
        format!("{}.{}", self.table, self.column)
    }
}

/// Every `server_secrets` value (the invitation key, and any secret added later).
pub const SERVER_SECRETS: SealedColumn = SealedColumn::new("server_secrets", "name", "value");
/// The Ed25519 seeds of session signing keys ('' once retired).
pub const SIGNING_KEYS: SealedColumn = SealedColumn::new("signing_keys", "kid", "private_key");
pub const OIDC_CLIENT_SECRETS: SealedColumn =
    SealedColumn::new("oidc_connections", "id", "client_secret");
pub const WEBHOOK_SECRETS: SealedColumn = SealedColumn::new("webhook_endpoints", "id", "secret");

/// All of them.
pub const ALL: [SealedColumn; 4] = [
    SERVER_SECRETS,
    SIGNING_KEYS,
    OIDC_CLIENT_SECRETS,
    WEBHOOK_SECRETS,
];

impl Tx {
    /// `clear` sealed for row `id` of `col` with the store's master key.
    pub fn seal(&self, col: SealedColumn, id: &str, clear: &str) -> Result<String, StoreError> {
        Ok(self.master_key()?.seal(&col.ad(id), clear)?)
    }

    /// The clear value of row `id` of `col` as stored. A value still in clear (written
    /// by a version before sealing, e.g. during a rolling upgrade) is returned as it is:
    /// the next start seals it.
    pub fn open(&self, col: SealedColumn, id: &str, stored: &str) -> Result<String, StoreError> {
        if !seal::is_sealed(stored) {
            return Ok(stored.to_owned());
        }
        Ok(self.master_key()?.open(&col.ad(id), stored)?)
    }
}

/// (row id, stored value) of every non-empty value of `col`.
async fn stored_values(
    tx: &mut Tx,
    col: SealedColumn,
) -> Result<Vec<(String, String)>, StoreError> {
    let q = Q::new(&format!(
        "SELECT {id} AS id, {column} AS value FROM {table} WHERE {column} <> '' ORDER BY {id}",
        id = col.id,
        column = col.column,
        table = col.table
    ));
    tx.fetch_all(q)
        .await?
        .iter()
        .map(|r| Ok((r.text("id")?, r.text("value")?)))
        .collect()
}

/// Replaces `old` by `new` in row `id` (unless another process changed it meanwhile).
async fn replace(
    tx: &mut Tx,
    col: SealedColumn,
    id: &str,
    old: &str,
    new: &str,
) -> Result<(), StoreError> {
    tx.execute(
        Q::new(&format!(
            "UPDATE {table} SET {column} = ? WHERE {id} = ? AND {column} = ?",
            table = col.table,
            column = col.column,
            id = col.id
        ))
        .bind(new)
        .bind(id)
        .bind(old),
    )
    .await?;
    Ok(())
}

/// How many values of each column a pass sealed or re-sealed.
pub type Counts = Vec<(SealedColumn, u64)>;

/// Seals the values of every sealed column still stored in clear (a database from
/// before sealing) and checks that every sealed one is `key`'s, so that a server given
/// another key refuses to start rather than failing at the first sign-in. Idempotent;
/// runs at every start after the SQL migrations.
pub async fn seal_clear_values(tx: &mut Tx, key: &MasterKey) -> Result<Counts, StoreError> {
    let mut counts = Vec::new();
    for col in ALL {
        let mut sealed = 0;
        for (id, stored) in stored_values(tx, col).await? {
            match seal::sealed_with(&stored) {
                Some(found) if found == key.id() => {}
                Some(found) => {
                    return Err(SealError::OtherKey {
                        what: col.ad(&id),
                        found: found.to_owned(),
                        ours: key.id().to_owned(),
                    }
                    .into());
                }
                None if seal::is_sealed(&stored) => {
                    return Err(SealError::UnknownFormat { what: col.ad(&id) }.into());
                }
                None => {
                    let new = key.seal(&col.ad(&id), &stored)?;
                    replace(tx, col, &id, &stored, &new).await?;
                    sealed += 1;
                }
            }
        }
        if sealed > 0 {
            tracing::info!(column = %col.name(), sealed, "sealed secrets stored in clear");
        }
        counts.push((col, sealed));
    }
    Ok(counts)
}

/// Opens every sealed value with `old` (or takes it as it is, if still clear) and seals
/// it again with `new`. All in the caller's transaction: either every value moves to
/// the new key or none does.
pub async fn reseal(tx: &mut Tx, old: &MasterKey, new: &MasterKey) -> Result<Counts, StoreError> {
    let mut counts = Vec::new();
    for col in ALL {
        let mut resealed = 0;
        for (id, stored) in stored_values(tx, col).await? {
            let ad = col.ad(&id);
            let clear = if seal::is_sealed(&stored) {
                old.open(&ad, &stored)?
            } else {
                stored.clone()
            };
            replace(tx, col, &id, &stored, &new.seal(&ad, &clear)?).await?;
            resealed += 1;
        }
        counts.push((col, resealed));
    }
    Ok(counts)
}
