//! What the admin code of OIDC and SAML connections shares: listing, reading and deleting
//! a connection, and the audit entry of every change. The kinds differ only by the table
//! behind them and the view an admin sees ([`ConnectionKind`]); creating and updating stay
//! with each kind, whose checks differ (discovery and a client secret for OIDC, metadata
//! and a signing certificate for SAML).

use super::Sso;
use crate::clock::format_timestamp;
use crate::domain::OrgId;
use crate::provisioning::admin::{AdminActor, AdminError, record, to_json};
use crate::store::{StoreError, Tx};
use serde::Serialize;
use std::future::Future;

/// One kind of SSO connection: where its rows live and how an admin sees one.
pub trait ConnectionKind {
    /// A connection's id.
    type Id: std::fmt::Display + serde::de::DeserializeOwned + Send + Sync;
    /// A connection as stored.
    type Row: Send + Sync;
    /// A connection as an admin sees it (never a secret).
    type View: Serialize + Sync;
    /// The audit log's name: targets are `{NAME}:{id}`, actions `{NAME}.created` ...
    const NAME: &'static str;
    /// How messages name the kind: `OIDC`, `SAML`.
    const LABEL: &'static str;

    /// The org's connections, oldest first.
    fn list(
        tx: &mut Tx,
        org_id: &OrgId,
    ) -> impl Future<Output = Result<Vec<Self::Row>, StoreError>> + Send;
    /// One connection of the org.
    fn get(
        tx: &mut Tx,
        org_id: &OrgId,
        id: &Self::Id,
    ) -> impl Future<Output = Result<Option<Self::Row>, StoreError>> + Send;
    /// Deletes one connection of the org; false if it has none with that id.
    fn delete(
        tx: &mut Tx,
        org_id: &OrgId,
        id: &Self::Id,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The view of a stored connection.
    fn view(sso: &Sso, row: &Self::Row) -> Result<Self::View, AdminError>;
}

/// The answer for an id the org has no connection of kind `K` with.
pub(crate) fn not_found<K: ConnectionKind>(id: &K::Id) -> AdminError {
    AdminError::NotFound(format!(
        "no {} connection with id {:?} in this organization",
        K::LABEL,
        id.to_string()
    ))
}

/// What an admin did to a connection, as the audit action spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Created,
    Updated,
    Deleted,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Deleted => "deleted",
        }
    }
}

/// Records a change to connection `id` in the audit log, in the caller's transaction.
pub(crate) async fn record_change<K: ConnectionKind>(
    tx: &mut Tx,
    actor: &AdminActor,
    now: &str,
    change: Change,
    id: &K::Id,
    before: Option<&K::View>,
    after: Option<&K::View>,
) -> Result<(), AdminError> {
    let before = before.map(to_json).transpose()?;
    let after = after.map(to_json).transpose()?;
    record(
        tx,
        actor,
        now,
        &format!("{}.{}", K::NAME, change.as_str()),
        &format!("{}:{id}", K::NAME),
        before.as_ref(),
        after.as_ref(),
    )
    .await
}

impl Sso {
    /// The org's connections of kind `K`, oldest first.
    pub async fn list_connections<K: ConnectionKind>(
        &self,
        actor: &AdminActor,
    ) -> Result<Vec<K::View>, AdminError> {
        let mut tx = self.store.read().await?;
        K::list(&mut tx, &actor.org_id)
            .await?
            .iter()
            .map(|c| K::view(self, c))
            .collect()
    }

    /// One connection of kind `K` of the org.
    pub async fn get_connection<K: ConnectionKind>(
        &self,
        actor: &AdminActor,
        id: &K::Id,
    ) -> Result<K::View, AdminError> {
        let mut tx = self.store.read().await?;
        let c = K::get(&mut tx, &actor.org_id, id)
            .await?
            .ok_or_else(|| not_found::<K>(id))?;
        K::view(self, &c)
    }

    /// Deletes a connection of kind `K`, with its audit entry; sign-ins in flight through
    /// it fail.
    pub async fn delete_connection<K: ConnectionKind>(
        &self,
        actor: &AdminActor,
        id: &K::Id,
    ) -> Result<(), AdminError> {
        let now = format_timestamp(self.clock.now());
        let mut tx = self.store.write().await?;
        let before = K::get(&mut tx, &actor.org_id, id)
            .await?
            .ok_or_else(|| not_found::<K>(id))?;
        K::delete(&mut tx, &actor.org_id, id).await?;
        let before = K::view(self, &before)?;
        record_change::<K>(
            &mut tx,
            actor,
            &now,
            Change::Deleted,
            id,
            Some(&before),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
