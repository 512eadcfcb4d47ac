//! The types that carry the product's domain through every layer: below `http`,
//! `provisioning`, `sso`, `outbox` and `store`, with no I/O of their own.

pub mod ids;

pub use ids::{GroupId, MappingId, MembershipId, OrgId, SubscriptionId, TeamId, UserId, WebhookId};
