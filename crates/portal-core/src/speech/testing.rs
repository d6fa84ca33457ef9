//! Test help: a sequence of words read back as the catalogue's text, so a test reads like what the caller hears.

use std::sync::OnceLock;

use super::Language;
use crate::PromptId;

const CATALOG: &str = include_str!("../../../../prompts/catalog.toml");

fn catalog() -> &'static toml::Table {
    static PARSED: OnceLock<toml::Table> = OnceLock::new();
    PARSED.get_or_init(|| {
        let mut file: toml::Table = CATALOG.parse().expect("catalog.toml is valid TOML");
        match file.remove("prompts") {
            Some(toml::Value::Table(prompts)) => prompts,
            _ => panic!("catalog.toml has no [prompts] table"),
        }
    })
}

/// The words' texts in `language`, joined by spaces. Panics on a word without text in `language` or one only
/// another language speaks (its text there is a stand-in).
pub(crate) fn say(language: Language, words: &[PromptId]) -> String {
    let code = language.code();
    let texts: Vec<&str> = words
        .iter()
        .map(|word| {
            let entry = &catalog()[word.id()];
            assert_eq!(
                entry.get("kind").and_then(|k| k.as_str()),
                Some("word"),
                "{word}"
            );
            if let Some(only) = entry.get("only").and_then(|only| only.as_str()) {
                assert_eq!(only, code, "`{word}` is a stand-in in {code}");
            }
            entry[code].as_str().expect("a text")
        })
        .collect();
    texts.join(" ")
}

/// Checks that `speak(n)` says each case's text in `language`.
pub(crate) fn said_as(
    language: Language,
    speak: impl Fn(u32) -> Vec<PromptId>,
    cases: &[(u32, &str)],
) {
    for &(n, expected) in cases {
        assert_eq!(say(language, &speak(n)), expected, "{n} in {language:?}");
    }
}
