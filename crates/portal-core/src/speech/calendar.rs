//! Civil dates and times of day, as the driver reads them off its clock in the organization's time zone.

/// A day of the week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Weekday {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

impl Weekday {
    /// Monday to Sunday.
    pub const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];
}

/// A date of the proleptic Gregorian calendar. Built by [`CalendarDate::new`], so it is always a real date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CalendarDate {
    year: i32,
    month: u8,
    day: u8,
}

impl CalendarDate {
    /// The date `year`-`month`-`day` (month 1 to 12), or `None` when there is no such day (2023-02-29).
    pub fn new(year: i32, month: u8, day: u8) -> Option<CalendarDate> {
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if is_leap_year(year) => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days_in_month)
            .contains(&day)
            .then_some(CalendarDate { year, month, day })
    }

    /// The year (not spoken today; an envelope is about a recent message).
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month, 1 (January) to 12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// The day of the month, 1 to 31.
    pub fn day(self) -> u8 {
        self.day
    }

    /// The day of the week, computed from the date (so the two can never disagree).
    pub fn weekday(self) -> Weekday {
        // 1970-01-01 was a Thursday.
        let index = (days_from_civil(self) + 3).rem_euclid(7);
        Weekday::ALL[index as usize]
    }
}

fn is_leap_year(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days from 1970-01-01 to `date` (Howard Hinnant's `days_from_civil`: years start in March, so the leap day
/// is the last day of its year).
fn days_from_civil(date: CalendarDate) -> i64 {
    let month = i64::from(date.month);
    let year = i64::from(date.year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + i64::from(date.day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// A time of day on the 24-hour clock, to the minute. Built by [`TimeOfDay::new`], so it is always valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimeOfDay {
    hour: u8,
    minute: u8,
}

impl TimeOfDay {
    /// `hour`:`minute` (0 to 23, 0 to 59), or `None` when out of range.
    pub fn new(hour: u8, minute: u8) -> Option<TimeOfDay> {
        (hour < 24 && minute < 60).then_some(TimeOfDay { hour, minute })
    }

    /// The hour, 0 to 23.
    pub fn hour(self) -> u8 {
        self.hour
    }

    /// The minute, 0 to 59.
    pub fn minute(self) -> u8 {
        self.minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u8, day: u8) -> CalendarDate {
        CalendarDate::new(year, month, day).unwrap()
    }

    #[test]
    fn only_real_dates_and_times_exist() {
        assert!(CalendarDate::new(2024, 2, 29).is_some());
        assert!(CalendarDate::new(2000, 2, 29).is_some());
        for (year, month, day) in [(2023, 2, 29), (1900, 2, 29), (2024, 4, 31), (2024, 13, 1)] {
            assert_eq!(
                CalendarDate::new(year, month, day),
                None,
                "{year}-{month}-{day}"
            );
        }
        assert_eq!(CalendarDate::new(2024, 1, 0), None);
        assert_eq!(CalendarDate::new(2024, 0, 1), None);
        assert!(TimeOfDay::new(23, 59).is_some());
        assert_eq!(TimeOfDay::new(24, 0), None);
        assert_eq!(TimeOfDay::new(12, 60), None);
        let d = date(2021, 12, 6);
        assert_eq!((d.year(), d.month(), d.day()), (2021, 12, 6));
        let t = TimeOfDay::new(15, 45).unwrap();
        assert_eq!((t.hour(), t.minute()), (15, 45));
    }

    #[test]
    fn weekdays_of_known_dates() {
        assert_eq!(date(1970, 1, 1).weekday(), Weekday::Thursday);
        assert_eq!(date(1969, 12, 31).weekday(), Weekday::Wednesday);
        assert_eq!(date(2000, 2, 29).weekday(), Weekday::Tuesday);
        assert_eq!(date(2021, 12, 6).weekday(), Weekday::Monday);
        assert_eq!(date(2024, 3, 1).weekday(), Weekday::Friday);
        assert_eq!(date(1600, 1, 1).weekday(), Weekday::Saturday);
    }

    #[test]
    fn every_day_from_1899_to_2101_follows_the_one_before() {
        let mut previous = days_from_civil(date(1899, 12, 31));
        let mut weekday = date(1899, 12, 31).weekday() as usize;
        for year in 1900..=2100 {
            for month in 1..=12 {
                for day in 1..=31 {
                    let Some(today) = CalendarDate::new(year, month, day) else {
                        continue;
                    };
                    let number = days_from_civil(today);
                    assert_eq!(number, previous + 1, "{today:?}");
                    weekday = (weekday + 1) % 7;
                    assert_eq!(today.weekday(), Weekday::ALL[weekday], "{today:?}");
                    previous = number;
                }
            }
        }
        assert_eq!(days_from_civil(date(1970, 1, 1)), 0);
    }
}
