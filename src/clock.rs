//! Time, behind a trait so tests can move it; and the one timestamp format we store.

pub use crate::domain::time::Timestamp;
use std::sync::Mutex;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// A clock stopped at `at`.
    pub fn new(at: OffsetDateTime) -> ManualClock {
        ManualClock(Mutex::new(at))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        self.0
            .lock()
            .map_or_else(|_| OffsetDateTime::now_utc(), |t| *t)
    }
}

/// Formats a time the way it is stored and served: UTC, millisecond precision, fixed
/// width (`2024-05-13T04:42:34.120Z`), so that text order is time order: the text of a
/// [`Timestamp`].
pub fn format_timestamp(t: OffsetDateTime) -> String {
    Timestamp::from(t).into_string()
}

/// Parses an RFC 3339 date-time (any offset, any precision) into the stored format.
pub fn normalize_timestamp(s: &str) -> Option<String> {
    OffsetDateTime::parse(s.trim(), &Rfc3339)
        .ok()
        .map(format_timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_timestamps_sort_as_text_in_time_order() {
        let a = normalize_timestamp("2024-05-13T04:42:34Z").unwrap();
        let b = normalize_timestamp("2024-05-13T04:42:34.5Z").unwrap();
        let c = normalize_timestamp("2024-05-13T06:42:34.5+02:00").unwrap();
        assert_eq!(a, "2024-05-13T04:42:34.000Z");
        assert!(a < b);
        assert_eq!(b, c);
        assert_eq!(normalize_timestamp("yesterday"), None);
    }
}
