//! The one timestamp type: a time as rollcall stores and serves it.

use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// The stored form: UTC, millisecond precision, fixed width.
const FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// A time as it is stored (TEXT) and served (a JSON string): UTC, millisecond precision,
/// fixed width (`2024-05-13T04:42:34.120Z`), so that text order is time order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(String);

/// Text that is not a stored timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a timestamp of the form 2024-05-13T04:42:34.120Z: {0:?}")]
pub struct InvalidTimestamp(pub String);

impl Timestamp {
    /// The stored and served text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, owned.
    pub fn into_string(self) -> String {
        self.0
    }

    /// The time, to compute with (whole milliseconds, UTC).
    pub fn to_datetime(&self) -> OffsetDateTime {
        // Every Timestamp was formatted or parsed with FORMAT; the epoch only stands in
        // for a year beyond 9999, which `From<OffsetDateTime>` cannot write either.
        PrimitiveDateTime::parse(&self.0, FORMAT)
            .map_or(OffsetDateTime::UNIX_EPOCH, PrimitiveDateTime::assume_utc)
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(t: OffsetDateTime) -> Self {
        Timestamp(
            t.to_offset(UtcOffset::UTC)
                .format(FORMAT)
                .unwrap_or_else(|_| t.unix_timestamp().to_string()),
        )
    }
}

impl FromStr for Timestamp {
    type Err = InvalidTimestamp;

    /// Reads the stored form only (as written by `From<OffsetDateTime>`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match PrimitiveDateTime::parse(s, FORMAT) {
            Ok(_) => Ok(Timestamp(s.to_owned())),
            Err(_) => Err(InvalidTimestamp(s.to_owned())),
        }
    }
}

/// The stored text: a Timestamp goes wherever the store still takes `&str`.
impl std::ops::Deref for Timestamp {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl PartialEq<str> for Timestamp {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats_parses_and_orders_as_text() {
        let t = Timestamp::from(datetime!(2024-05-13 06:42:34.5123 +02:00));
        assert_eq!(t.as_str(), "2024-05-13T04:42:34.512Z");
        assert_eq!(t.to_datetime(), datetime!(2024-05-13 04:42:34.512 UTC));
        assert_eq!("2024-05-13T04:42:34.512Z".parse::<Timestamp>().unwrap(), t);
        assert!(t < Timestamp::from(datetime!(2024-05-13 04:42:34.513 UTC)));
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            "2024-05-13T04:42:34.512Z"
        );
        for bad in [
            "2024-05-13T04:42:34Z",
            "2024-05-13T04:42:34.512+00:00",
            "yesterday",
            "",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }
}
