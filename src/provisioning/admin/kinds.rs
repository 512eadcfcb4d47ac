//! The closed sets of values admin requests choose from, with their JSON spelling in one
//! place: requests deserialize into them, so the OpenAPI document lists exactly the values
//! the server accepts.

use crate::store::teams::Overflow;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

/// How a team's members sign in to the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoginType {
    Email,
    Device,
}

impl LoginType {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginType::Email => "email",
            LoginType::Device => "device",
        }
    }
}

/// A member's role in a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TeamRole {
    User,
    Admin,
}

impl TeamRole {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TeamRole::User => "user",
            TeamRole::Admin => "admin",
        }
    }
}

/// A role in the whole organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgRole {
    /// Everything in the org.
    OrgAdmin,
    /// Reads everything but billing and secrets; changes nothing.
    OrgAnalyst,
}

impl OrgRole {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OrgRole::OrgAdmin => "org_admin",
            OrgRole::OrgAnalyst => "org_analyst",
        }
    }
}

/// Reads a JSON number that is a whole number, written as an integer or not (`5`, `5.0`,
/// `5e0`): JSON Schema's `integer`, which the OpenAPI document promises, counts them all.
pub fn whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    // i64::MAX as f64 rounds up to 2^63, which is out of range: hence `<`.
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 => Ok(f as i64),
        _ => Err(D::Error::custom(format!(
            "invalid value: {n}, expected a whole number that fits in 64 bits"
        ))),
    }
}

/// [`whole_number`] for an optional field (null: none).
pub fn optional_whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Whole(#[serde(deserialize_with = "whole_number")] i64);
    Ok(Option::<Whole>::deserialize(d)?.map(|Whole(n)| n))
}

/// What happens when a team is full (DESIGN.md "Provisioning rules" 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeatOverflow {
    /// The membership waits for a seat.
    Waitlist,
    /// The request fails and changes nothing.
    Reject,
}

impl From<Overflow> for SeatOverflow {
    fn from(o: Overflow) -> Self {
        match o {
            Overflow::Waitlist => SeatOverflow::Waitlist,
            Overflow::Reject => SeatOverflow::Reject,
        }
    }
}

impl From<SeatOverflow> for Overflow {
    fn from(o: SeatOverflow) -> Self {
        match o {
            SeatOverflow::Waitlist => Overflow::Waitlist,
            SeatOverflow::Reject => Overflow::Reject,
        }
    }
}
