//! Calendar days, the second kind of time the core takes (the first is `Instant` for timers).

use serde::{Deserialize, Serialize};

/// A calendar day, counted from 1970-01-01 (day 0) in the organization's time zone. The driver computes it from
/// its clock; the core only compares days, for passcode expiry and the minimum days between changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Day(pub i64);

impl Day {
    /// Whole days from `earlier` to `self` (negative when `earlier` is later).
    pub fn days_since(self, earlier: Day) -> i64 {
        self.0 - earlier.0
    }

    /// The day `days` after this one.
    pub fn plus_days(self, days: i64) -> Day {
        Day(self.0 + days)
    }
}
