//! What the admin API does for an org admin: teams, subscriptions and seat allocations,
//! group mappings, org settings, org roles, manual memberships. Each change runs in one
//! transaction with the provisioning rules it triggers and its audit log entry.

mod audit;
mod kinds;
mod mappings;
mod members;
mod roles;
mod seats;
mod settings;
mod teams;
mod webhooks;

pub use audit::{AuditEntryView, AuditPage};
pub(crate) use audit::{record, to_json};
pub use kinds::{LoginType, OrgRole, TeamRole};
pub use mappings::{MappingChange, MappingEffects, MappingView, NewMapping};
pub use members::{MemberList, MemberView, NewMember};
pub use roles::{NewOrgRole, OrgRoleView};
pub use seats::{AllocationUpdate, NewSubscription, SubscriptionUpdate, SubscriptionView};
pub use settings::{SettingsUpdate, SettingsView};
pub use teams::{NewTeam, TeamUpdate, TeamView};
pub use webhooks::{NewWebhook, WebhookUpdate, WebhookView};

use super::effects::{self, Origin};
use super::invitations::Invitations;
use super::rules::Changes;
use super::{Directory, Error};

use crate::clock::{Clock, Timestamp};
use crate::domain::OrgId;
use crate::store::{Store, StoreError, Tx};
use std::sync::Arc;

/// Who is making an admin request: the org of the admin token and its label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminActor {
    pub org_id: OrgId,
    pub label: String,
}

impl AdminActor {
    /// How the audit log names this actor.
    pub fn audit_name(&self) -> String {
        format!("admin:{}", self.label)
    }
}

/// Why an admin operation failed; every message is meant for the admin to read.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No such thing in this org (another org's ids are not found either).
    #[error("{0}")]
    NotFound(String),
    /// The request asks for something impossible or malformed.
    #[error("{0}")]
    Invalid(String),
    /// The change conflicts with the current state (a name taken, a team not empty ...).
    #[error("{0}")]
    Conflict(String),
    /// The change would leave the org without an org admin.
    #[error("{0}")]
    LastOrgAdmin(String),
    /// A team is full and the org rejects provisioning beyond its seats.
    #[error("{0}")]
    SeatLimit(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Our fault; logged, not shown.
    #[error("{0}")]
    Internal(String),
}

impl From<Error> for AdminError {
    fn from(e: Error) -> Self {
        match e {
            Error::Scim(e) => AdminError::Invalid(e.detail().to_owned()),
            Error::NotFound(m) => AdminError::NotFound(m),
            Error::PreconditionFailed(m) => AdminError::Conflict(m),
            Error::SeatLimit(m) => AdminError::SeatLimit(m),
            Error::LastOrgAdmin(m) => AdminError::LastOrgAdmin(m),
            Error::Store(e) => AdminError::Store(e),
            Error::Internal(m) => AdminError::Internal(m),
        }
    }
}

/// The admin operations of every org.
#[derive(Debug, Clone)]
pub struct Admin {
    store: Store,
    clock: Arc<dyn Clock>,
    invitations: Arc<Invitations>,
}

impl Directory {
    /// The admin operations, over the same store and clock.
    pub fn admin(&self) -> Admin {
        Admin {
            store: self.store.clone(),
            clock: self.clock.clone(),
            invitations: self.invitations.clone(),
        }
    }
}

impl Admin {
    fn now(&self) -> Timestamp {
        Timestamp::from(self.clock.now())
    }

    async fn write(&self) -> Result<Tx, AdminError> {
        Ok(self.store.write().await?)
    }

    async fn read(&self) -> Result<Tx, AdminError> {
        Ok(self.store.read().await?)
    }

    /// The effects of membership changes an admin caused, as for SCIM changes: audit
    /// entries per membership, webhooks, and a joining email for every seat granted.
    async fn effects(
        &self,
        tx: &mut Tx,
        actor: &AdminActor,
        changes: &Changes,
    ) -> Result<(), AdminError> {
        let name = actor.audit_name();
        let origin = Origin {
            org_id: &actor.org_id,
            actor: &name,
            now: self.clock.now(),
        };
        effects::record(tx, &self.invitations, origin, None, changes).await?;
        Ok(())
    }
}
