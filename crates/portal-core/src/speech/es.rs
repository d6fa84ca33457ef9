//! Spanish: "cien" and "ciento", masculine counts ("veintiún mensajes"), 12-hour times with the part of the day.

use super::{HUNDREDS, MINUTES_OH, THOUSANDS, TimeOfDay, UP_TO_99, at_hour, cardinal_parts};
use crate::PromptId as P;
use crate::PromptId;

pub(super) fn number(n: u32) -> Vec<PromptId> {
    let Some((thousands, hundreds, rest)) = cardinal_parts(n) else {
        return super::digits(super::Language::Spanish, &n.to_string());
    };
    let mut words = Vec::with_capacity(3);
    if thousands > 0 {
        words.push(THOUSANDS[thousands - 1]);
    }
    match hundreds {
        0 => {}
        // "cien" alone, "ciento" when more follows.
        1 if rest > 0 => words.push(P::NumberOneHundredCompound),
        _ => words.push(HUNDREDS[hundreds - 1]),
    }
    if rest > 0 || n == 0 {
        words.push(UP_TO_99[rest]);
    }
    words
}

/// `n` before a masculine noun: a last word ending in "uno" loses its "o" ("un", "veintiún", "treinta y un").
pub(super) fn number_before_masculine_noun(n: u32) -> Vec<PromptId> {
    let mut words = number(n);
    // Above the cardinals the last word is a digit, not a count.
    if n <= super::MAX_CARDINAL
        && let Some(last) = words.last_mut()
    {
        *last = masculine(*last);
    }
    words
}

fn masculine(word: PromptId) -> PromptId {
    match word {
        P::NumberOne => P::NumberOneMasculine,
        P::NumberTwentyOne => P::NumberTwentyOneMasculine,
        P::NumberThirtyOne => P::NumberThirtyOneMasculine,
        P::NumberFortyOne => P::NumberFortyOneMasculine,
        P::NumberFiftyOne => P::NumberFiftyOneMasculine,
        P::NumberSixtyOne => P::NumberSixtyOneMasculine,
        P::NumberSeventyOne => P::NumberSeventyOneMasculine,
        P::NumberEightyOne => P::NumberEightyOneMasculine,
        P::NumberNinetyOne => P::NumberNinetyOneMasculine,
        other => other,
    }
}

/// "a las tres y cuarenta y cinco de la tarde", "a la una y cinco de la madrugada", "a las nueve de la mañana".
pub(super) fn time(time: TimeOfDay) -> Vec<PromptId> {
    let mut words = vec![at_hour(time)];
    match time.minute() {
        0 => {}
        minute @ 1..=9 => words.push(MINUTES_OH[usize::from(minute - 1)]),
        minute => words.extend([P::And, UP_TO_99[usize::from(minute)]]),
    }
    words.push(match time.hour() {
        1..=5 => P::PeriodEarlyMorning,
        6..=11 => P::PeriodMorning,
        12 => P::PeriodNoon,
        13..=20 => P::PeriodAfternoon,
        _ => P::PeriodNight,
    });
    words
}

#[cfg(test)]
mod tests {
    use super::super::testing::{said_as, say};
    use super::super::*;

    const SPANISH: Language = Language::Spanish;

    #[test]
    fn numbers() {
        said_as(
            SPANISH,
            |n| number(SPANISH, n),
            &[
                (0, "cero"),
                (1, "uno"),
                (2, "dos"),
                (15, "quince"),
                (16, "dieciséis"),
                (20, "veinte"),
                (21, "veintiuno"),
                (22, "veintidós"),
                (30, "treinta"),
                (31, "treinta y uno"),
                (99, "noventa y nueve"),
                (100, "cien"),
                (101, "ciento uno"),
                (115, "ciento quince"),
                (200, "doscientos"),
                (500, "quinientos"),
                (555, "quinientos cincuenta y cinco"),
                (700, "setecientos"),
                (999, "novecientos noventa y nueve"),
                (1000, "mil"),
                (1001, "mil uno"),
                (1100, "mil cien"),
                (1115, "mil ciento quince"),
                (2021, "dos mil veintiuno"),
                (9999, "nueve mil novecientos noventa y nueve"),
                (10_001, "uno cero cero cero uno"),
            ],
        );
    }

    #[test]
    fn counts_agree_with_mensaje() {
        said_as(
            SPANISH,
            |n| count(SPANISH, n, MessageKind::New),
            &[
                (0, "cero mensajes nuevos"),
                (1, "un mensaje nuevo"),
                (2, "dos mensajes nuevos"),
                (11, "once mensajes nuevos"),
                (21, "veintiún mensajes nuevos"),
                (31, "treinta y un mensajes nuevos"),
                (41, "cuarenta y un mensajes nuevos"),
                (51, "cincuenta y un mensajes nuevos"),
                (61, "sesenta y un mensajes nuevos"),
                (71, "setenta y un mensajes nuevos"),
                (81, "ochenta y un mensajes nuevos"),
                (91, "noventa y un mensajes nuevos"),
                (100, "cien mensajes nuevos"),
                (101, "ciento un mensajes nuevos"),
                (111, "ciento once mensajes nuevos"),
                (121, "ciento veintiún mensajes nuevos"),
                (201, "doscientos un mensajes nuevos"),
                (1000, "mil mensajes nuevos"),
                (1001, "mil un mensajes nuevos"),
                (2021, "dos mil veintiún mensajes nuevos"),
                // Beyond the cardinals, digit by digit: the last digit is a digit, not a count.
                (10_001, "uno cero cero cero uno mensajes nuevos"),
            ],
        );
        said_as(
            SPANISH,
            |n| count(SPANISH, n, MessageKind::Saved),
            &[(1, "un mensaje guardado"), (3, "tres mensajes guardados")],
        );
    }

    #[test]
    fn only_numbers_ending_in_uno_have_a_masculine_form() {
        for (n, &word) in UP_TO_99.iter().enumerate() {
            let short = super::masculine(word);
            if n % 10 == 1 && n != 11 {
                assert_eq!(short.id(), format!("{}_masculine", word.id()));
            } else {
                assert_eq!(short, word, "{n}");
            }
        }
    }

    #[test]
    fn message_count_sentences() {
        let cases = [
            ((0, 0), "No tiene mensajes."),
            ((1, 0), "Tiene un mensaje nuevo"),
            ((0, 3), "Tiene tres mensajes guardados"),
            ((2, 1), "Tiene dos mensajes nuevos y un mensaje guardado"),
            (
                (21, 1000),
                "Tiene veintiún mensajes nuevos y mil mensajes guardados",
            ),
        ];
        for ((new, saved), expected) in cases {
            assert_eq!(say(SPANISH, &message_counts(SPANISH, new, saved)), expected);
        }
    }

    #[test]
    fn times_with_the_part_of_the_day() {
        let cases = [
            ((0, 0), "a las doce de la noche"),
            ((0, 5), "a las doce y cinco de la noche"),
            ((1, 0), "a la una de la madrugada"),
            ((1, 1), "a la una y uno de la madrugada"),
            ((5, 59), "a las cinco y cincuenta y nueve de la madrugada"),
            ((6, 0), "a las seis de la mañana"),
            ((11, 10), "a las once y diez de la mañana"),
            ((12, 0), "a las doce del mediodía"),
            ((12, 30), "a las doce y treinta del mediodía"),
            ((13, 45), "a la una y cuarenta y cinco de la tarde"),
            ((15, 21), "a las tres y veintiuno de la tarde"),
            ((20, 59), "a las ocho y cincuenta y nueve de la tarde"),
            ((21, 0), "a las nueve de la noche"),
            ((23, 59), "a las once y cincuenta y nueve de la noche"),
        ];
        for ((hour, minute), expected) in cases {
            let at = TimeOfDay::new(hour, minute).unwrap();
            assert_eq!(say(SPANISH, &time(SPANISH, at)), expected, "{at:?}");
        }
    }

    #[test]
    fn weekdays_months_and_days() {
        let weekdays: Vec<_> = Weekday::ALL
            .into_iter()
            .map(|day| say(SPANISH, &weekday(SPANISH, day)))
            .collect();
        assert_eq!(
            weekdays.join(", "),
            "el lunes, el martes, el miércoles, el jueves, el viernes, el sábado, el domingo"
        );
        let months: Vec<_> = (1..=12)
            .map(|month| {
                say(
                    SPANISH,
                    &date(SPANISH, CalendarDate::new(2021, month, 1).unwrap()),
                )
            })
            .collect();
        assert_eq!(
            months.join(", "),
            "uno de enero, uno de febrero, uno de marzo, uno de abril, uno de mayo, uno de junio, \
             uno de julio, uno de agosto, uno de septiembre, uno de octubre, uno de noviembre, uno de diciembre"
        );
        let days: Vec<_> = [2, 6, 16, 21, 22, 30, 31]
            .into_iter()
            .map(|day| {
                say(
                    SPANISH,
                    &date(SPANISH, CalendarDate::new(2021, 12, day).unwrap()),
                )
            })
            .collect();
        assert_eq!(
            days.join(", "),
            "dos de diciembre, seis de diciembre, dieciséis de diciembre, veintiuno de diciembre, \
             veintidós de diciembre, treinta de diciembre, treinta y uno de diciembre"
        );
    }

    #[test]
    fn digits_one_by_one() {
        assert_eq!(
            say(SPANISH, &digits(SPANISH, "+34 555 1002")),
            "tres cuatro cinco cinco cinco uno cero cero dos"
        );
    }

    #[test]
    fn envelopes() {
        let known = Envelope {
            received_on: CalendarDate::new(2021, 12, 6).unwrap(),
            received_at: TimeOfDay::new(15, 45).unwrap(),
            caller: Some("5551002".into()),
        };
        assert_eq!(
            say(SPANISH, &envelope(SPANISH, &known)),
            "recibido el lunes seis de diciembre a las tres y cuarenta y cinco de la tarde \
             del número cinco cinco cinco uno cero cero dos"
        );
        let unknown = Envelope {
            caller: None,
            received_at: TimeOfDay::new(1, 0).unwrap(),
            ..known
        };
        assert_eq!(
            say(SPANISH, &envelope(SPANISH, &unknown)),
            "recibido el lunes seis de diciembre a la una de la madrugada de un número desconocido"
        );
    }
}
