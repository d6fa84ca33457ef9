//! A new user's first call: the organization's default passcode forces a new passcode and the personalized
//! name before anything else (seed: "must choose a new passcode and record a personalized name").

use std::time::Duration;

use portal_core::PromptId as P;

use crate::support::{Pair, PairOptions};

#[test]
fn the_default_passcode_leads_to_a_new_passcode_then_the_name_then_the_main_menu() {
    let mut pair = Pair::new(PairOptions::default());
    let phone = pair.call("5551002", "5558000");
    pair.hears(phone, P::Welcome)
        .press(phone, "2718281#")
        .hears(phone, P::MustChangeAndRecordName)
        .press(phone, "3691470#")
        .hears(phone, P::ReenterNewPasscode)
        .press(phone, "3691470#")
        .hears(phone, P::PasscodeChanged)
        .hears(phone, P::Tone)
        .says(phone, Duration::from_secs(2))
        .hears(phone, P::NameIs)
        .hears(phone, P::NameReview)
        .press(phone, "1")
        .hears(phone, P::NameSaved)
        .hears(phone, P::MainMenu)
        .press(phone, "9")
        .hears(phone, P::Goodbye)
        .until_over(phone);
    let heard = pair.transcript(phone);
    let prompts: Vec<&str> = heard
        .iter()
        .map(String::as_str)
        .filter(|label| !label.starts_with("<audio"))
        .collect();
    assert_eq!(
        prompts,
        [
            "welcome (cut)",
            "must_change_and_record_name (cut)",
            "reenter_new_passcode (cut)",
            "passcode_changed",
            "record_name",
            "tone",
            "name_is",
            "name_review (cut)",
            "name_saved",
            "main_menu (cut)",
            "goodbye",
        ],
        "{heard:?}"
    );
    assert!(
        heard.iter().any(|label| label.starts_with("<audio")),
        "the name was played back: {heard:?}"
    );
    assert_eq!(
        pair.audit_kinds("1002"),
        [
            "user_added",
            "login_ok",
            "passcode_changed",
            "recording_saved"
        ],
    );
}
