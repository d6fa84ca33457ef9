//! English: cardinals without "and" ("one hundred one"), 12-hour times with A.M. and P.M.

use super::{HUNDREDS, MINUTES_OH, THOUSANDS, TimeOfDay, UP_TO_99, at_hour, cardinal_parts};
use crate::PromptId as P;
use crate::PromptId;

pub(super) fn number(n: u32) -> Vec<PromptId> {
    let Some((thousands, hundreds, rest)) = cardinal_parts(n) else {
        return super::digits(super::Language::English, &n.to_string());
    };
    let mut words = Vec::with_capacity(3);
    if thousands > 0 {
        words.push(THOUSANDS[thousands - 1]);
    }
    if hundreds > 0 {
        words.push(HUNDREDS[hundreds - 1]);
    }
    if rest > 0 || n == 0 {
        words.push(UP_TO_99[rest]);
    }
    words
}

/// "at three forty-five P.M.", "at twelve oh five A.M.", "at nine A.M."
pub(super) fn time(time: TimeOfDay) -> Vec<PromptId> {
    let mut words = vec![at_hour(time)];
    match time.minute() {
        0 => {}
        minute @ 1..=9 => words.push(MINUTES_OH[usize::from(minute - 1)]),
        minute => words.push(UP_TO_99[usize::from(minute)]),
    }
    words.push(if time.hour() < 12 { P::Am } else { P::Pm });
    words
}

#[cfg(test)]
mod tests {
    use super::super::testing::{said_as, say};
    use super::super::*;

    const ENGLISH: Language = Language::English;

    #[test]
    fn numbers() {
        said_as(
            ENGLISH,
            |n| number(ENGLISH, n),
            &[
                (0, "zero"),
                (1, "one"),
                (2, "two"),
                (15, "fifteen"),
                (16, "sixteen"),
                (20, "twenty"),
                (21, "twenty-one"),
                (30, "thirty"),
                (99, "ninety-nine"),
                (100, "one hundred"),
                (101, "one hundred one"),
                (115, "one hundred fifteen"),
                (200, "two hundred"),
                (999, "nine hundred ninety-nine"),
                (1000, "one thousand"),
                (1001, "one thousand one"),
                (1100, "one thousand one hundred"),
                (2021, "two thousand twenty-one"),
                (9999, "nine thousand nine hundred ninety-nine"),
                (10_000, "one zero zero zero zero"),
            ],
        );
    }

    #[test]
    fn counts_are_singular_only_for_one() {
        said_as(
            ENGLISH,
            |n| count(ENGLISH, n, MessageKind::New),
            &[
                (0, "zero new messages"),
                (1, "one new message"),
                (2, "two new messages"),
                (21, "twenty-one new messages"),
                (101, "one hundred one new messages"),
                (1001, "one thousand one new messages"),
            ],
        );
        said_as(
            ENGLISH,
            |n| count(ENGLISH, n, MessageKind::Saved),
            &[(1, "one saved message"), (3, "three saved messages")],
        );
    }

    #[test]
    fn message_count_sentences() {
        let cases = [
            ((0, 0), "You have no messages."),
            ((1, 0), "You have one new message"),
            ((0, 3), "You have three saved messages"),
            ((2, 1), "You have two new messages and one saved message"),
            (
                (21, 1000),
                "You have twenty-one new messages and one thousand saved messages",
            ),
        ];
        for ((new, saved), expected) in cases {
            assert_eq!(say(ENGLISH, &message_counts(ENGLISH, new, saved)), expected);
        }
    }

    #[test]
    fn times_on_the_12_hour_clock() {
        let cases = [
            ((0, 0), "at twelve A.M."),
            ((0, 5), "at twelve oh five A.M."),
            ((1, 0), "at one A.M."),
            ((9, 10), "at nine ten A.M."),
            ((11, 59), "at eleven fifty-nine A.M."),
            ((12, 0), "at twelve P.M."),
            ((12, 5), "at twelve oh five P.M."),
            ((12, 30), "at twelve thirty P.M."),
            ((13, 45), "at one forty-five P.M."),
            ((15, 45), "at three forty-five P.M."),
            ((23, 59), "at eleven fifty-nine P.M."),
        ];
        for ((hour, minute), expected) in cases {
            let at = TimeOfDay::new(hour, minute).unwrap();
            assert_eq!(say(ENGLISH, &time(ENGLISH, at)), expected, "{at:?}");
        }
    }

    #[test]
    fn weekdays_months_and_days() {
        let weekdays: Vec<_> = Weekday::ALL
            .into_iter()
            .map(|day| say(ENGLISH, &weekday(ENGLISH, day)))
            .collect();
        assert_eq!(
            weekdays.join(" "),
            "Monday Tuesday Wednesday Thursday Friday Saturday Sunday"
        );
        let months: Vec<_> = (1..=12)
            .map(|month| {
                say(
                    ENGLISH,
                    &date(ENGLISH, CalendarDate::new(2021, month, 1).unwrap()),
                )
            })
            .collect();
        assert_eq!(
            months.join(", "),
            "January first, February first, March first, April first, May first, June first, \
             July first, August first, September first, October first, November first, December first"
        );
        let days: Vec<_> = [2, 3, 6, 11, 12, 13, 20, 21, 22, 23, 30, 31]
            .into_iter()
            .map(|day| {
                say(
                    ENGLISH,
                    &date(ENGLISH, CalendarDate::new(2021, 12, day).unwrap()),
                )
            })
            .collect();
        assert_eq!(
            days.join(", "),
            "December second, December third, December sixth, December eleventh, December twelfth, \
             December thirteenth, December twentieth, December twenty-first, December twenty-second, \
             December twenty-third, December thirtieth, December thirty-first"
        );
    }

    #[test]
    fn digits_one_by_one() {
        assert_eq!(
            say(ENGLISH, &digits(ENGLISH, "+1 (555) 100-2")),
            "one five five five one zero zero two"
        );
        assert!(digits(ENGLISH, "anonymous").is_empty());
    }

    #[test]
    fn envelopes() {
        let received_on = CalendarDate::new(2021, 12, 6).unwrap();
        let received_at = TimeOfDay::new(15, 45).unwrap();
        let known = Envelope {
            received_on,
            received_at,
            caller: Some("5551002".into()),
        };
        assert_eq!(
            say(ENGLISH, &envelope(ENGLISH, &known)),
            "received Monday December sixth at three forty-five P.M. from five five five one zero zero two"
        );
        for caller in [None, Some(String::new()), Some("anonymous".into())] {
            let unknown = Envelope {
                caller,
                ..known.clone()
            };
            assert_eq!(
                say(ENGLISH, &envelope(ENGLISH, &unknown)),
                "received Monday December sixth at three forty-five P.M. from an unknown caller"
            );
        }
    }
}
