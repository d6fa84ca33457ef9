//! Calendar time in UTC from unix seconds, for message text and outbox file names.
//!
//! Notices state times in UTC so that a message means the same thing wherever it is read; the few lines of
//! calendar arithmetic here spare the crate a date-time dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// A moment in UTC, to the second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UtcTime {
    year: u64,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

impl UtcTime {
    pub(crate) fn from_unix(seconds: u64) -> UtcTime {
        let days = seconds / 86_400;
        let in_day = seconds % 86_400;
        let (year, month, day) = civil_date(days);
        UtcTime {
            year,
            month,
            day,
            hour: (in_day / 3600) as u8,
            minute: (in_day % 3600 / 60) as u8,
            second: (in_day % 60) as u8,
        }
    }

    /// Times before 1970 cannot occur on a running server; they are clamped to the epoch.
    pub(crate) fn from_system(time: SystemTime) -> UtcTime {
        UtcTime::from_unix(
            time.duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs()),
        )
    }

    /// For people: `2026-11-26 07:00 UTC`. Seconds are left out; they would only add noise to an email.
    pub(crate) fn for_people(self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            self.year, self.month, self.day, self.hour, self.minute
        )
    }

    /// RFC 3339, as `2026-11-26T07:00:00Z`; the tests check dates with it.
    #[cfg(test)]
    pub(crate) fn rfc3339(self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// ISO 8601 basic format, as `20261126T070000`, without the zone letter; it sorts as text.
    pub(crate) fn compact(self) -> String {
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Year, month and day of the proleptic Gregorian calendar for a count of days since 1970-01-01.
///
/// Works in 400-year eras (146 097 days each) counted from 0000-03-01, so that the leap day falls at the end of
/// a counting year and months have a regular length pattern.
fn civil_date(days_since_epoch: u64) -> (u64, u8, u8) {
    const DAYS_FROM_0000_03_01_TO_EPOCH: u64 = 719_468;
    const DAYS_PER_ERA: u64 = 146_097;
    let days = days_since_epoch + DAYS_FROM_0000_03_01_TO_EPOCH;
    let era = days / DAYS_PER_ERA;
    let day_of_era = days % DAYS_PER_ERA;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months counted from March: 0 = March ... 11 = February.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month as u8, day as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_is_new_year_1970() {
        assert_eq!(UtcTime::from_unix(0).rfc3339(), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn known_moments_format_in_every_style() {
        // 2026-11-26T07:00:00Z
        let time = UtcTime::from_unix(1_795_676_400);
        assert_eq!(time.for_people(), "2026-11-26 07:00 UTC");
        assert_eq!(time.rfc3339(), "2026-11-26T07:00:00Z");
        assert_eq!(time.compact(), "20261126T070000");
        assert_eq!(
            UtcTime::from_unix(1_795_938_901).rfc3339(),
            "2026-11-29T07:55:01Z"
        );
    }

    #[test]
    fn leap_days_and_year_ends_land_on_the_right_date() {
        assert_eq!(
            UtcTime::from_unix(951_782_400).rfc3339(),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            UtcTime::from_unix(1_709_251_199).rfc3339(),
            "2024-02-29T23:59:59Z"
        );
        assert_eq!(
            UtcTime::from_unix(4_107_542_400).rfc3339(),
            "2100-03-01T00:00:00Z"
        );
        assert_eq!(
            UtcTime::from_unix(1_798_761_599).rfc3339(),
            "2026-12-31T23:59:59Z"
        );
    }

    #[test]
    fn every_day_follows_the_previous_one() {
        let mut previous = UtcTime::from_unix(0);
        for day in 1..(200 * 366) {
            let today = UtcTime::from_unix(day * 86_400);
            let next_in_month = today.year == previous.year
                && today.month == previous.month
                && today.day == previous.day + 1;
            let first_of_month = today.day == 1
                && ((today.year == previous.year && today.month == previous.month + 1)
                    || (today.year == previous.year + 1
                        && today.month == 1
                        && previous.month == 12));
            assert!(next_in_month || first_of_month, "{previous:?} -> {today:?}");
            assert!(previous.day >= 28 || !first_of_month);
            previous = today;
        }
    }
}
