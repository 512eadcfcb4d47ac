//! Creating an organization with what provisioning needs from the start: a subscription
//! of its seats, an initial team named after it, and that team as the default team, so
//! a user created over SCIM lands in it.

use super::Error;
use crate::domain::kinds::{LoginType, SeatOverflow};
use crate::domain::time::Timestamp;
use crate::domain::{OrgId, SubscriptionId, TeamId};
use crate::store::orgs::{self, Org};
use crate::store::teams::{self, OrgSettings, Subscription, Team};
use crate::store::{Store, StoreError};

/// Why an organization could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateOrgError {
    #[error("an organization named {0:?} already exists")]
    NameTaken(String),
    #[error("the organization name cannot be empty")]
    EmptyName,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CreateOrgError> for Error {
    fn from(e: CreateOrgError) -> Self {
        match e {
            CreateOrgError::Store(s) => Error::Store(s),
            other => Error::Internal(other.to_string()),
        }
    }
}

/// Creates an organization, its subscription of `seats` seats (unlimited when None), its
/// initial team, and settings making that team the default. One transaction.
pub async fn create_org(
    store: &Store,
    name: &str,
    seats: Option<i64>,
    now: &Timestamp,
) -> Result<(Org, Team), CreateOrgError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(CreateOrgError::EmptyName);
    }
    let org = Org {
        id: OrgId::new_v4(),
        name: name.to_owned(),
        seats,
        created: now.clone(),
    };
    let subscription = Subscription {
        id: SubscriptionId::new_v4(),
        org_id: org.id.clone(),
        label: format!("{name} subscription"),
        plan: "standard".to_owned(),
        // No --seats: no limit (i64::MAX keeps the arithmetic simple).
        seats: seats.unwrap_or(i64::MAX),
        created: now.clone(),
    };
    let team = Team {
        id: TeamId::new_v4(),
        org_id: org.id.clone(),
        name: name.to_owned(),
        description: String::new(),
        login_type: LoginType::Email,
        subscription_id: subscription.id.clone(),
        reserved_seats: None,
        created: now.clone(),
    };
    let mut tx = store.write().await?;
    match orgs::insert(&mut tx, &org).await {
        Err(StoreError::Conflict { .. }) => return Err(CreateOrgError::NameTaken(org.name)),
        other => other?,
    }
    teams::insert_subscription(&mut tx, &subscription).await?;
    teams::insert_team(&mut tx, &team).await?;
    teams::put_settings(
        &mut tx,
        &org.id,
        &OrgSettings {
            initial_team_id: Some(team.id.clone()),
            default_team_id: Some(team.id.clone()),
            seat_overflow: SeatOverflow::Waitlist,
            idp_managed_teams: false,
        },
    )
    .await?;
    tx.commit().await?;
    Ok((org, team))
}
