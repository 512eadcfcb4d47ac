//! The types that carry the product's domain through every layer, below `http`,
//! `provisioning`, `sso`, `outbox` and `store`, with no I/O of their own: the ids of the
//! stored records, the closed sets of values (states, roles, kinds) with their stored and
//! JSON spellings, and the stored timestamp.

pub mod ids;
pub mod kinds;
pub mod time;

pub use ids::{GroupId, MappingId, MembershipId, OrgId, SubscriptionId, TeamId, UserId, WebhookId};
