//! Speaking numbers, dates and times: values turned into the prompts that say them, in each portal language.
//!
//! The portal never speaks text it puts together at run time: it plays recordings of the catalogue. So a count
//! of messages, a caller's number or the moment a message arrived is said by joining short recorded words
//! ("twenty-one", "new messages", "a las tres"). Each function here returns the [`PromptId`]s to play, in order,
//! for one [`Language`]; the conversation hands them to the driver in an `Output::Play`. The words are
//! catalogue entries of kind `word` (`prompts/catalog.toml`), recorded without the trailing silence of other
//! prompts so that joined words follow each other closely.
//!
//! What they say, in English and in Spanish:
//!
//! - [`message_counts`]: "You have two new messages and one saved message", "Tiene dos mensajes nuevos y un
//!   mensaje guardado"; with none, "You have no messages.", "No tiene mensajes."
//! - [`count`]: "twenty-one new messages", "veintiún mensajes nuevos".
//! - [`number`]: "two thousand twenty-one", "dos mil veintiuno".
//! - [`digits`]: "five five five one zero zero two", "cinco cinco cinco uno cero cero dos".
//! - [`weekday`] and [`date`]: "Monday", "December sixth"; "el lunes", "seis de diciembre".
//! - [`time`]: "at three forty-five P.M.", "a las tres y cuarenta y cinco de la tarde".
//! - [`envelope`]: "received Monday December sixth at three forty-five P.M. from five five five one zero zero
//!   two", "recibido el lunes seis de diciembre a las tres y cuarenta y cinco de la tarde del número cinco cinco
//!   cinco uno cero cero dos".
//!
//! ```
//! use portal_core::PromptId::{NewMessage, NumberOneMasculine, YouHave};
//! use portal_core::speech::{self, Language};
//!
//! // "Tiene un mensaje nuevo": the conversation plays these three recordings back to back.
//! let words = speech::message_counts(Language::Spanish, 1, 0);
//! assert_eq!(words, [YouHave, NumberOneMasculine, NewMessage]);
//! ```
//!
//! ## Choices
//!
//! - **Numbers** 0 to 9999 are said as cardinals, enough for any mailbox; a larger one is said digit by digit
//!   rather than refused. 0 to 99 are one recording each in both languages (a pause inside "twenty-one" or
//!   "cuarenta y cinco" would sound wrong), the hundreds and the thousands one each ("two hundred",
//!   "doscientos", "dos mil"). English says 101 "one hundred one", without "and". Spanish says 100 alone
//!   "cien" and "ciento" before more ("ciento quince").
//! - **Spanish gender.** A count agrees with "mensaje", masculine: "un mensaje", "veintiún mensajes", "treinta y
//!   un mensajes", "ciento un mensajes"; a number said alone ends in "uno" ("veintiuno"). Hours are feminine,
//!   with the article in the recording ("a la una", "a las dos"). Zero is plural: "cero mensajes nuevos".
//! - **Times.** English uses the 12-hour clock with A.M. and P.M.: "at three forty-five P.M.", "at twelve oh
//!   five P.M.", and nothing for the minutes on the hour ("at nine A.M."); midnight is "twelve A.M.", noon
//!   "twelve P.M.". Spanish uses the 12-hour clock with the part of the day, minutes as numbers ("y treinta",
//!   not "y media"): "a las tres y cuarenta y cinco de la tarde", "a la una de la madrugada". The parts of the
//!   day: 0 h "de la noche", 1 to 5 h "de la madrugada", 6 to 11 h "de la mañana", 12 h "del mediodía", 13 to
//!   20 h "de la tarde", 21 to 23 h "de la noche".
//! - **Dates.** English "December sixth" (ordinal days), Spanish "seis de diciembre" ("uno de" on the first).
//!   Weekdays stand alone in English, with their article in Spanish ("el lunes"). The year is not said.
//! - **Digits** are said one by one ("zero", not "oh"); anything but 0 to 9 in the string (a leading `+`,
//!   separators) is skipped.
//! - **An envelope** without a caller number says "from an unknown caller" ("de un número desconocido").
//! - **One-language words.** Spanish says "ciento", the masculine forms and the parts of the day; English says
//!   A.M. and P.M. Such a word still has a text and a recording in the other language, a stand-in marked `only`
//!   in the catalogue, because the prompt loader and vportal's catalogue want every prompt in English (the
//!   fallback language) and vportal's tests want a Spanish recording of each; the tests here prove that no
//!   sequence asks for a stand-in.
//!
//! The core reads no clock and knows no time zone: the driver turns a message's timestamp into the
//! organization's local [`CalendarDate`] and [`TimeOfDay`]. The weekday is computed from the date, so the two
//! cannot disagree.

mod calendar;
mod en;
mod es;

pub use calendar::{CalendarDate, TimeOfDay, Weekday};

use crate::PromptId as P;
use crate::PromptId;

/// A language the portal speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Language {
    /// English (`en`), the fallback language of the prompt catalogue.
    English,
    /// Spanish (`es`).
    Spanish,
}

impl Language {
    /// Every language the portal speaks.
    pub const ALL: [Language; 2] = [Language::English, Language::Spanish];

    /// The code of the catalogue and of the prompt folders: `en`, `es`.
    pub const fn code(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::Spanish => "es",
        }
    }

    /// The language a portal's configured code names, if the portal speaks it.
    pub fn from_code(code: &str) -> Option<Language> {
        Language::ALL
            .into_iter()
            .find(|language| language.code() == code)
    }
}

/// Which messages a count is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// Messages not yet listened to.
    New,
    /// Messages kept after listening.
    Saved,
}

/// What is said before a message plays: when it was received and from whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The local date it was received on.
    pub received_on: CalendarDate,
    /// The local time it was received at.
    pub received_at: TimeOfDay,
    /// The calling number, or `None` when it was withheld or unknown.
    pub caller: Option<String>,
}

/// The largest number said as a cardinal; larger ones are said digit by digit.
pub const MAX_CARDINAL: u32 = 9999;

/// `n` as a cardinal said alone: "two thousand twenty-one", "dos mil veintiuno".
pub fn number(language: Language, n: u32) -> Vec<PromptId> {
    match language {
        Language::English => en::number(n),
        Language::Spanish => es::number(n),
    }
}

/// `n` messages of one kind: "one new message", "veintiún mensajes nuevos", "zero saved messages".
pub fn count(language: Language, n: u32, kind: MessageKind) -> Vec<PromptId> {
    let mut words = match language {
        Language::English => en::number(n),
        Language::Spanish => es::number_before_masculine_noun(n),
    };
    words.push(message_noun(kind, n == 1));
    words
}

/// The sentence of a mailbox's counts: "You have two new messages and one saved message", "You have three saved
/// messages", "You have no messages." (a kind with no messages is left out).
pub fn message_counts(language: Language, new: u32, saved: u32) -> Vec<PromptId> {
    if new == 0 && saved == 0 {
        return vec![P::YouHaveNoMessages];
    }
    let mut words = vec![P::YouHave];
    if new > 0 {
        words.extend(count(language, new, MessageKind::New));
    }
    if new > 0 && saved > 0 {
        words.push(P::And);
    }
    if saved > 0 {
        words.extend(count(language, saved, MessageKind::Saved));
    }
    words
}

/// Each digit of `digits` in turn: "five five five one zero zero two". Other characters are skipped.
pub fn digits(language: Language, digits: &str) -> Vec<PromptId> {
    // Every language says a digit with its number word; the match makes a new language decide.
    match language {
        Language::English | Language::Spanish => digits
            .chars()
            .filter_map(|c| c.to_digit(10))
            .map(|digit| UP_TO_99[digit as usize])
            .collect(),
    }
}

/// The day of the week: "Monday", "el lunes".
pub fn weekday(language: Language, weekday: Weekday) -> Vec<PromptId> {
    match language {
        Language::English | Language::Spanish => vec![WEEKDAYS[weekday as usize]],
    }
}

/// The month and day: "December sixth", "seis de diciembre".
pub fn date(language: Language, date: CalendarDate) -> Vec<PromptId> {
    let month = MONTHS[usize::from(date.month() - 1)];
    let day = DAYS_OF_MONTH[usize::from(date.day() - 1)];
    match language {
        Language::English => vec![month, day],
        Language::Spanish => vec![day, month],
    }
}

/// The time of day, with its "at": "at three forty-five P.M.", "a las tres y cuarenta y cinco de la tarde".
pub fn time(language: Language, time: TimeOfDay) -> Vec<PromptId> {
    match language {
        Language::English => en::time(time),
        Language::Spanish => es::time(time),
    }
}

/// The envelope of a message: "received Monday December sixth at three forty-five P.M. from five five five one
/// zero zero two", or "... from an unknown caller" when there is no number (or it has no digit).
pub fn envelope(language: Language, envelope: &Envelope) -> Vec<PromptId> {
    let mut words = vec![P::Received];
    words.extend(weekday(language, envelope.received_on.weekday()));
    words.extend(date(language, envelope.received_on));
    words.extend(time(language, envelope.received_at));
    let number = digits(language, envelope.caller.as_deref().unwrap_or(""));
    if number.is_empty() {
        words.push(P::FromUnknownCaller);
    } else {
        words.push(P::From);
        words.extend(number);
    }
    words
}

fn message_noun(kind: MessageKind, singular: bool) -> PromptId {
    match (kind, singular) {
        (MessageKind::New, true) => P::NewMessage,
        (MessageKind::New, false) => P::NewMessages,
        (MessageKind::Saved, true) => P::SavedMessage,
        (MessageKind::Saved, false) => P::SavedMessages,
    }
}

/// `n` split the way both languages say it: (thousands digit, hundreds digit, last two digits), or `None` above
/// [`MAX_CARDINAL`].
fn cardinal_parts(n: u32) -> Option<(usize, usize, usize)> {
    (n <= MAX_CARDINAL).then_some((
        (n / 1000) as usize,
        (n / 100 % 10) as usize,
        (n % 100) as usize,
    ))
}

/// The number words 0 to 99, by value.
const UP_TO_99: [PromptId; 100] = [
    P::NumberZero,
    P::NumberOne,
    P::NumberTwo,
    P::NumberThree,
    P::NumberFour,
    P::NumberFive,
    P::NumberSix,
    P::NumberSeven,
    P::NumberEight,
    P::NumberNine,
    P::NumberTen,
    P::NumberEleven,
    P::NumberTwelve,
    P::NumberThirteen,
    P::NumberFourteen,
    P::NumberFifteen,
    P::NumberSixteen,
    P::NumberSeventeen,
    P::NumberEighteen,
    P::NumberNineteen,
    P::NumberTwenty,
    P::NumberTwentyOne,
    P::NumberTwentyTwo,
    P::NumberTwentyThree,
    P::NumberTwentyFour,
    P::NumberTwentyFive,
    P::NumberTwentySix,
    P::NumberTwentySeven,
    P::NumberTwentyEight,
    P::NumberTwentyNine,
    P::NumberThirty,
    P::NumberThirtyOne,
    P::NumberThirtyTwo,
    P::NumberThirtyThree,
    P::NumberThirtyFour,
    P::NumberThirtyFive,
    P::NumberThirtySix,
    P::NumberThirtySeven,
    P::NumberThirtyEight,
    P::NumberThirtyNine,
    P::NumberForty,
    P::NumberFortyOne,
    P::NumberFortyTwo,
    P::NumberFortyThree,
    P::NumberFortyFour,
    P::NumberFortyFive,
    P::NumberFortySix,
    P::NumberFortySeven,
    P::NumberFortyEight,
    P::NumberFortyNine,
    P::NumberFifty,
    P::NumberFiftyOne,
    P::NumberFiftyTwo,
    P::NumberFiftyThree,
    P::NumberFiftyFour,
    P::NumberFiftyFive,
    P::NumberFiftySix,
    P::NumberFiftySeven,
    P::NumberFiftyEight,
    P::NumberFiftyNine,
    P::NumberSixty,
    P::NumberSixtyOne,
    P::NumberSixtyTwo,
    P::NumberSixtyThree,
    P::NumberSixtyFour,
    P::NumberSixtyFive,
    P::NumberSixtySix,
    P::NumberSixtySeven,
    P::NumberSixtyEight,
    P::NumberSixtyNine,
    P::NumberSeventy,
    P::NumberSeventyOne,
    P::NumberSeventyTwo,
    P::NumberSeventyThree,
    P::NumberSeventyFour,
    P::NumberSeventyFive,
    P::NumberSeventySix,
    P::NumberSeventySeven,
    P::NumberSeventyEight,
    P::NumberSeventyNine,
    P::NumberEighty,
    P::NumberEightyOne,
    P::NumberEightyTwo,
    P::NumberEightyThree,
    P::NumberEightyFour,
    P::NumberEightyFive,
    P::NumberEightySix,
    P::NumberEightySeven,
    P::NumberEightyEight,
    P::NumberEightyNine,
    P::NumberNinety,
    P::NumberNinetyOne,
    P::NumberNinetyTwo,
    P::NumberNinetyThree,
    P::NumberNinetyFour,
    P::NumberNinetyFive,
    P::NumberNinetySix,
    P::NumberNinetySeven,
    P::NumberNinetyEight,
    P::NumberNinetyNine,
];

/// 100 to 900 (as said alone in Spanish: "cien"), by hundreds digit less one.
const HUNDREDS: [PromptId; 9] = [
    P::NumberOneHundred,
    P::NumberTwoHundred,
    P::NumberThreeHundred,
    P::NumberFourHundred,
    P::NumberFiveHundred,
    P::NumberSixHundred,
    P::NumberSevenHundred,
    P::NumberEightHundred,
    P::NumberNineHundred,
];

/// 1000 to 9000, by thousands digit less one.
const THOUSANDS: [PromptId; 9] = [
    P::NumberOneThousand,
    P::NumberTwoThousand,
    P::NumberThreeThousand,
    P::NumberFourThousand,
    P::NumberFiveThousand,
    P::NumberSixThousand,
    P::NumberSevenThousand,
    P::NumberEightThousand,
    P::NumberNineThousand,
];

/// By [`Weekday`] order, Monday first.
const WEEKDAYS: [PromptId; 7] = [
    P::WeekdayMonday,
    P::WeekdayTuesday,
    P::WeekdayWednesday,
    P::WeekdayThursday,
    P::WeekdayFriday,
    P::WeekdaySaturday,
    P::WeekdaySunday,
];

/// January to December.
const MONTHS: [PromptId; 12] = [
    P::MonthJanuary,
    P::MonthFebruary,
    P::MonthMarch,
    P::MonthApril,
    P::MonthMay,
    P::MonthJune,
    P::MonthJuly,
    P::MonthAugust,
    P::MonthSeptember,
    P::MonthOctober,
    P::MonthNovember,
    P::MonthDecember,
];

/// The 1st to the 31st.
const DAYS_OF_MONTH: [PromptId; 31] = [
    P::DayFirst,
    P::DaySecond,
    P::DayThird,
    P::DayFourth,
    P::DayFifth,
    P::DaySixth,
    P::DaySeventh,
    P::DayEighth,
    P::DayNinth,
    P::DayTenth,
    P::DayEleventh,
    P::DayTwelfth,
    P::DayThirteenth,
    P::DayFourteenth,
    P::DayFifteenth,
    P::DaySixteenth,
    P::DaySeventeenth,
    P::DayEighteenth,
    P::DayNineteenth,
    P::DayTwentieth,
    P::DayTwentyFirst,
    P::DayTwentySecond,
    P::DayTwentyThird,
    P::DayTwentyFourth,
    P::DayTwentyFifth,
    P::DayTwentySixth,
    P::DayTwentySeventh,
    P::DayTwentyEighth,
    P::DayTwentyNinth,
    P::DayThirtieth,
    P::DayThirtyFirst,
];

/// "at one" ("a la una") to "at twelve" ("a las doce"), by the hour of the 12-hour clock less one.
const AT_HOURS: [PromptId; 12] = [
    P::AtHourOne,
    P::AtHourTwo,
    P::AtHourThree,
    P::AtHourFour,
    P::AtHourFive,
    P::AtHourSix,
    P::AtHourSeven,
    P::AtHourEight,
    P::AtHourNine,
    P::AtHourTen,
    P::AtHourEleven,
    P::AtHourTwelve,
];

/// Minutes 1 to 9 ("oh five", "y cinco"), by minute less one.
const MINUTES_OH: [PromptId; 9] = [
    P::MinuteOhOne,
    P::MinuteOhTwo,
    P::MinuteOhThree,
    P::MinuteOhFour,
    P::MinuteOhFive,
    P::MinuteOhSix,
    P::MinuteOhSeven,
    P::MinuteOhEight,
    P::MinuteOhNine,
];

/// The hour's word ("at three", "a las tres") on the 12-hour clock both languages use.
fn at_hour(time: TimeOfDay) -> PromptId {
    let hour = match time.hour() % 12 {
        0 => 12,
        hour => hour,
    };
    AT_HOURS[usize::from(hour - 1)]
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_table_holds_its_words_in_order() {
        let ids = |table: &[PromptId]| table.iter().map(|word| word.id()).collect::<Vec<_>>();
        let expected = |prefix: &str, values: &mut dyn Iterator<Item = u32>| {
            values.map(|n| format!("{prefix}{n}")).collect::<Vec<_>>()
        };
        assert_eq!(ids(&UP_TO_99), expected("number_", &mut (0..100)));
        assert_eq!(
            ids(&HUNDREDS),
            expected("number_", &mut (1..10).map(|n| n * 100))
        );
        assert_eq!(
            ids(&THOUSANDS),
            expected("number_", &mut (1..10).map(|n| n * 1000))
        );
        assert_eq!(ids(&DAYS_OF_MONTH), expected("day_", &mut (1..32)));
        assert_eq!(ids(&AT_HOURS), expected("at_hour_", &mut (1..13)));
        assert_eq!(ids(&MINUTES_OH), expected("minute_0", &mut (1..10)));
        let weekdays: Vec<_> = Weekday::ALL
            .iter()
            .map(|day| format!("weekday_{}", format!("{day:?}").to_lowercase()))
            .collect();
        assert_eq!(ids(&WEEKDAYS), weekdays);
        let months =
            "january february march april may june july august september october november december";
        assert_eq!(ids(&MONTHS), expected_words("month_", months));
    }

    fn expected_words(prefix: &str, words: &str) -> Vec<String> {
        words
            .split(' ')
            .map(|word| format!("{prefix}{word}"))
            .collect()
    }

    #[test]
    fn languages_by_code() {
        for language in Language::ALL {
            assert_eq!(Language::from_code(language.code()), Some(language));
        }
        assert_eq!(Language::from_code("fr"), None);
        assert_eq!(Language::from_code("EN"), None);
    }
}
