//! Nothing `speech` asks for is missing: every word it says in a language has a recording in that language
//! (`prompts/<lang>/<id>.wav`) that is not a stand-in, and every word of the catalogue is said somewhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::OnceLock;

use portal_core::PromptId;
use portal_core::speech::{
    self, CalendarDate, Envelope, Language, MAX_CARDINAL, MessageKind, TimeOfDay, Weekday,
};
use proptest::prelude::*;

const CATALOG: &str = include_str!("../../../prompts/catalog.toml");

/// The catalogue's words (kind "word"), each with the languages that really speak it.
fn words() -> &'static BTreeMap<PromptId, Vec<Language>> {
    static WORDS: OnceLock<BTreeMap<PromptId, Vec<Language>>> = OnceLock::new();
    WORDS.get_or_init(|| {
        let table: toml::Table = CATALOG.parse().expect("catalog.toml is valid TOML");
        let prompts = table["prompts"].as_table().expect("a [prompts] table");
        let mut words = BTreeMap::new();
        for (id, entry) in prompts {
            if entry.get("kind").and_then(|kind| kind.as_str()) != Some("word") {
                continue;
            }
            let word = PromptId::from_id(id).unwrap_or_else(|| panic!("no prompt `{id}`"));
            let only = entry.get("only").and_then(|only| only.as_str());
            let speakers = Language::ALL
                .into_iter()
                .filter(|language| only.is_none_or(|only| only == language.code()))
                .collect();
            words.insert(word, speakers);
        }
        words
    })
}

/// The words `language` may ask for: its own (not stand-ins), each with a recording in its folder.
fn playable(language: Language) -> &'static BTreeSet<PromptId> {
    static PLAYABLE: OnceLock<[BTreeSet<PromptId>; 2]> = OnceLock::new();
    let sets = PLAYABLE.get_or_init(|| {
        Language::ALL.map(|language| {
            let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../prompts")
                .join(language.code());
            words()
                .iter()
                .filter(|(_, speakers)| speakers.contains(&language))
                .map(|(&word, _)| word)
                .filter(|word| folder.join(format!("{}.wav", word.id())).is_file())
                .collect()
        })
    });
    &sets[Language::ALL.iter().position(|&l| l == language).unwrap()]
}

/// Asserts `said` is something and that `language` can play all of it; remembers the words in `used`.
fn check(language: Language, what: &str, said: &[PromptId], used: &mut BTreeSet<PromptId>) {
    assert!(!said.is_empty(), "{what} in {language:?} says nothing");
    for word in said {
        assert!(
            playable(language).contains(word),
            "{what} in {language:?} asks for `{word}`, which {language:?} cannot play"
        );
    }
    used.extend(said);
}

#[test]
fn every_number_time_date_and_sentence_can_be_played_and_every_word_is_used() {
    let mut used = BTreeSet::new();
    for language in Language::ALL {
        for n in (0..=MAX_CARDINAL).chain([MAX_CARDINAL + 1, 123_456, u32::MAX]) {
            check(
                language,
                &format!("number {n}"),
                &speech::number(language, n),
                &mut used,
            );
            for kind in [MessageKind::New, MessageKind::Saved] {
                let said = speech::count(language, n, kind);
                check(language, &format!("count {n} {kind:?}"), &said, &mut used);
            }
        }
        let some = [0, 1, 2, 11, 21, 100, 101, 1001, 9999, 10_000];
        for new in some {
            for saved in some {
                let said = speech::message_counts(language, new, saved);
                check(
                    language,
                    &format!("counts {new}, {saved}"),
                    &said,
                    &mut used,
                );
            }
        }
        for hour in 0..24 {
            for minute in 0..60 {
                let at = TimeOfDay::new(hour, minute).unwrap();
                check(
                    language,
                    &format!("{at:?}"),
                    &speech::time(language, at),
                    &mut used,
                );
            }
        }
        for month in 1..=12 {
            for day in 1..=31 {
                if let Some(on) = CalendarDate::new(2024, month, day) {
                    check(
                        language,
                        &format!("{on:?}"),
                        &speech::date(language, on),
                        &mut used,
                    );
                }
            }
        }
        for day in Weekday::ALL {
            check(
                language,
                &format!("{day:?}"),
                &speech::weekday(language, day),
                &mut used,
            );
        }
        check(
            language,
            "digits",
            &speech::digits(language, "0123456789"),
            &mut used,
        );
        for caller in [Some("5551002".to_owned()), None] {
            let envelope = Envelope {
                received_on: CalendarDate::new(2021, 12, 6).unwrap(),
                received_at: TimeOfDay::new(15, 45).unwrap(),
                caller,
            };
            check(
                language,
                "an envelope",
                &speech::envelope(language, &envelope),
                &mut used,
            );
        }
    }
    // The greeting a forwarded caller hears joins words too ("the person at" + digits + "is busy"); the deposit
    // transcripts (tests/deposit.rs) say them.
    let deposit_greeting = [
        PromptId::PersonAt,
        PromptId::PersonYouCalled,
        PromptId::IsBusy,
        PromptId::IsNotAvailable,
    ];
    let unused: Vec<_> = words()
        .keys()
        .filter(|word| !used.contains(word) && !deposit_greeting.contains(word))
        .collect();
    assert!(unused.is_empty(), "words nothing says: {unused:?}");
}

#[test]
fn stand_ins_are_the_one_language_words_only() {
    let one_language: Vec<_> = words()
        .iter()
        .filter(|(_, speakers)| speakers.len() == 1)
        .map(|(word, speakers)| format!("{word} {}", speakers[0].code()))
        .collect();
    assert_eq!(one_language.len(), 17, "{one_language:?}");
    assert!(one_language.contains(&"number_21_masculine es".to_owned()));
    assert!(one_language.contains(&"am en".to_owned()));
}

fn any_language() -> impl Strategy<Value = Language> {
    prop::sample::select(Language::ALL.to_vec())
}

proptest! {
    #[test]
    fn any_mailbox_counts_can_be_played(language in any_language(), new in 0..20_000u32, saved in 0..20_000u32) {
        let mut used = BTreeSet::new();
        check(language, "counts", &speech::message_counts(language, new, saved), &mut used);
    }

    #[test]
    fn any_envelope_can_be_played(
        language in any_language(),
        (year, month, day) in (1900..2200i32, 1..=12u8, 1..=31u8),
        (hour, minute) in (0..24u8, 0..60u8),
        caller in proptest::option::of("[+0-9 ()-]{0,16}"),
    ) {
        let received_on = CalendarDate::new(year, month, day).unwrap_or(CalendarDate::new(year, month, 28).unwrap());
        let received_at = TimeOfDay::new(hour, minute).unwrap();
        let envelope = Envelope { received_on, received_at, caller };
        let said = speech::envelope(language, &envelope);
        let mut used = BTreeSet::new();
        check(language, "an envelope", &said, &mut used);
        prop_assert_eq!(said[0], PromptId::Received);
        let has_digits = envelope.caller.as_deref().is_some_and(|c| c.chars().any(|c| c.is_ascii_digit()));
        prop_assert_eq!(said.contains(&PromptId::FromUnknownCaller), !has_digits);
    }
}
