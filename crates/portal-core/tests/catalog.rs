//! `prompts/catalog.toml` has an English text for exactly the prompts the conversation can ask for, and a Spanish
//! one for each.

use std::collections::BTreeSet;

use portal_core::PromptId;

const CATALOG: &str = include_str!("../../../prompts/catalog.toml");

fn catalog() -> toml::Table {
    let table: toml::Table = CATALOG.parse().expect("catalog.toml is valid TOML");
    table["prompts"]
        .as_table()
        .expect("a [prompts] table")
        .clone()
}

#[test]
fn every_prompt_has_english_text_and_the_catalog_has_no_strays() {
    let prompts = catalog();
    for prompt in PromptId::ALL {
        let text = prompts
            .get(prompt.id())
            .and_then(|entry| entry.get("en"))
            .and_then(|text| text.as_str())
            .unwrap_or_else(|| panic!("no English text for `{prompt}`"));
        assert!(!text.trim().is_empty(), "empty text for `{prompt}`");
    }
    let known: BTreeSet<&str> = PromptId::ALL.iter().map(|p| p.id()).collect();
    let strays: Vec<&String> = prompts
        .keys()
        .filter(|id| !known.contains(id.as_str()))
        .collect();
    assert!(
        strays.is_empty(),
        "catalog entries no prompt uses: {strays:?}"
    );
}

#[test]
fn the_ids_the_portal_is_specified_with_exist_spelled_exactly() {
    let required = "welcome enter_mailbox enter_passcode passcode_incorrect locked_out goodbye \
        must_change_and_record_name must_change_passcode passcode_expired must_record_name enter_new_passcode \
        reenter_new_passcode passcode_mismatch passcode_changed rule_too_short rule_too_long rule_repeated_digits \
        rule_sequence rule_repeated_pattern rule_user_number rule_reused rule_change_too_soon record_name tone \
        name_is name_review name_saved main_menu greetings_menu invalid_option admin_menu passcode_not_set \
        recording_too_short";
    for id in required.split_whitespace() {
        assert!(PromptId::from_id(id).is_some(), "no prompt `{id}`");
    }
}

#[test]
fn the_locked_out_and_must_change_texts_are_word_for_word() {
    let prompts = catalog();
    let english = |id: &str| prompts[id]["en"].as_str().unwrap().to_owned();
    assert_eq!(
        english("locked_out"),
        "Your voice portal access is locked out. Please contact your group administrator to reset the passcode."
    );
    assert_eq!(
        english("must_change_and_record_name"),
        "Before you can use your voice portal, you must change your passcode and record your personalized name. \
         Please enter your new passcode, then press the pound key."
    );
}

#[test]
fn entries_hold_a_text_per_language_and_only_the_word_markers() {
    for (id, entry) in catalog() {
        let entry = entry.as_table().expect("an entry is a table");
        for (key, value) in entry {
            // vportal reads every value of an entry as a text, so the markers are strings too.
            let value = value
                .as_str()
                .unwrap_or_else(|| panic!("`{id}.{key}` is not a string"));
            match key.as_str() {
                "en" | "es" => assert!(!value.trim().is_empty(), "empty `{id}.{key}`"),
                "kind" => assert_eq!(value, "word", "`{id}.kind`"),
                "only" => {
                    assert!(["en", "es"].contains(&value), "`{id}.only` = {value:?}");
                    assert!(entry.contains_key("kind"), "`{id}`: only words have `only`");
                }
                other => panic!("`{id}` has an unknown key `{other}`"),
            }
        }
        for language in ["en", "es"] {
            assert!(
                entry.contains_key(language),
                "`{id}` has no `{language}` text"
            );
        }
    }
}
