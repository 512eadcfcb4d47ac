//! What admin requests read: the closed sets of values they choose from (defined in
//! [`crate::domain::kinds`]; requests deserialize into them, so the OpenAPI document lists
//! exactly the values the server accepts) and whole numbers.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

pub use crate::domain::kinds::{LoginType, OrgRole, SeatOverflow, TeamRole};

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
