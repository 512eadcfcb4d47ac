//! What the tables of OIDC and SAML connections share: every row belongs to an org, has an
//! id and its creation and update times, and is read, listed, deleted, inserted and
//! updated the same way. Each kind names its table, the columns an admin sets and how a
//! row decodes ([`ConnectionTable`]).

use super::sql::{Q, Row, SqlValue};
use super::{StoreError, Tx};
use crate::domain::OrgId;
use crate::domain::time::Timestamp;

/// One table of connections.
pub(super) struct ConnectionTable<T> {
    /// The table's name.
    pub table: &'static str,
    /// The columns an admin sets, in the order the kind's settings are bound.
    pub settings: &'static [&'static str],
    /// A row as the kind stores it; the transaction opens sealed columns.
    pub decode: fn(&Row, &Tx) -> Result<T, StoreError>,
}

/// The times of a row, as written.
pub(super) struct Times<'a> {
    pub created: &'a Timestamp,
    pub updated: &'a Timestamp,
}

impl<T> ConnectionTable<T> {
    fn select(&self) -> Q {
        Q::new(&format!(
            "SELECT id, org_id, {}, created_at, updated_at FROM {}",
            self.settings.join(", "),
            self.table
        ))
    }

    fn decode_all(&self, tx: &Tx, rows: &[Row]) -> Result<Vec<T>, StoreError> {
        rows.iter().map(|r| (self.decode)(r, tx)).collect()
    }

    fn decode_one(&self, tx: &Tx, row: Option<Row>) -> Result<Option<T>, StoreError> {
        row.as_ref().map(|r| (self.decode)(r, tx)).transpose()
    }

    /// One connection of the org.
    pub async fn get(
        &self,
        tx: &mut Tx,
        org_id: &OrgId,
        id: &str,
    ) -> Result<Option<T>, StoreError> {
        let mut q = self.select();
        q.push(" WHERE org_id = ")
            .push_bind(org_id)
            .push(" AND id = ")
            .push_bind(id);
        let row = tx.fetch_optional(q).await?;
        self.decode_one(tx, row)
    }

    /// A connection by its id alone.
    pub async fn find(&self, tx: &mut Tx, id: &str) -> Result<Option<T>, StoreError> {
        let mut q = self.select();
        q.push(" WHERE id = ").push_bind(id);
        let row = tx.fetch_optional(q).await?;
        self.decode_one(tx, row)
    }

    /// The org's connections, oldest first.
    pub async fn list(&self, tx: &mut Tx, org_id: &OrgId) -> Result<Vec<T>, StoreError> {
        let mut q = self.select();
        q.push(" WHERE org_id = ")
            .push_bind(org_id)
            .push(" ORDER BY created_at, id");
        let rows = tx.fetch_all(q).await?;
        self.decode_all(tx, &rows)
    }

    /// Deletes one connection of the org (what references it goes with it, by the
    /// foreign keys). Returns false if the org has none with that id.
    pub async fn delete(&self, tx: &mut Tx, org_id: &OrgId, id: &str) -> Result<bool, StoreError> {
        let q = Q::new(&format!(
            "DELETE FROM {} WHERE org_id = ? AND id = ?",
            self.table
        ))
        .bind(org_id)
        .bind(id);
        Ok(tx.execute(q).await? == 1)
    }

    /// Inserts a connection; `settings` follow [`ConnectionTable::settings`].
    pub async fn insert(
        &self,
        tx: &mut Tx,
        org_id: &OrgId,
        id: &str,
        settings: Vec<SqlValue>,
        times: Times<'_>,
    ) -> Result<(), StoreError> {
        let marks = vec!["?"; self.settings.len() + 4].join(", ");
        let mut q = Q::new(&format!(
            "INSERT INTO {} ({}, updated_at, org_id, id, created_at) VALUES ({marks})",
            self.table,
            self.settings.join(", "),
        ));
        q.args.extend(settings);
        let q = q
            .bind(times.updated)
            .bind(org_id)
            .bind(id)
            .bind(times.created);
        tx.execute(q).await?;
        Ok(())
    }

    /// Replaces the settings of a connection. Returns false if the org has no such
    /// connection.
    pub async fn update(
        &self,
        tx: &mut Tx,
        org_id: &OrgId,
        id: &str,
        settings: Vec<SqlValue>,
        updated: &Timestamp,
    ) -> Result<bool, StoreError> {
        let mut q = Q::new(&format!(
            "UPDATE {} SET {} = ?, updated_at = ? WHERE org_id = ? AND id = ?",
            self.table,
            self.settings.join(" = ?, "),
        ));
        q.args.extend(settings);
        let q = q.bind(updated).bind(org_id).bind(id);
        Ok(tx.execute(q).await? == 1)
    }
}
