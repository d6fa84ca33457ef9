//! Hearing and managing voice messages over SIP and RTP: the demo's 1001 logs in, presses 1, hears the counts,
//! each envelope and each message's audio, saves the first and deletes the second (seed: "Users from the
//! location can call in and access their voicemail messages").

use std::time::Duration;

use portal_core::PromptId as P;
use portal_store::{AccountStore, Folder, SAMPLE_RATE};

use crate::support::{Pair, PairOptions, PhoneId};

/// How long a demo message lasts.
fn seconds_of(wav: &[u8]) -> Duration {
    let samples = vportal::demo::wav_samples(wav).len() as u64;
    Duration::from_millis(samples * 1000 / u64::from(SAMPLE_RATE))
}

/// Whether `label` is other audio (`<audio 8120 ms>`) within 100 ms of `expected`.
fn is_audio_of(label: &str, expected: Duration) -> bool {
    label
        .strip_prefix("<audio ")
        .and_then(|rest| rest.strip_suffix(" ms>"))
        .and_then(|ms| ms.parse::<u64>().ok())
        .is_some_and(|ms| ms.abs_diff(expected.as_millis() as u64) <= 100)
}

/// The demo's 1001 logs in from their own phone, presses 1 and hears the counts begin.
fn opens_the_messages() -> (Pair, PhoneId) {
    let mut pair = Pair::new(PairOptions::default());
    let phone = pair.call("5551001", "5558000");
    pair.hears(phone, P::Welcome)
        .press(phone, "1357924#")
        .hears(phone, P::MainMenu)
        .press(phone, "1")
        .hears(phone, P::YouHave);
    (pair, phone)
}

#[test]
fn the_owner_hears_the_demo_messages_saves_one_and_deletes_the_other() {
    let (mut pair, phone) = opens_the_messages();
    // The first message plays to its end (it becomes heard), then its keys are offered.
    pair.hears(phone, P::MessageMenu)
        .press(phone, "#")
        .hears(phone, P::MessageSaved)
        .hears(phone, P::MessageMenu)
        .press(phone, "7")
        .hears(phone, P::MessageDeleted)
        .hears(phone, P::NoMoreMessages)
        .hears(phone, P::MainMenu)
        .press(phone, "9")
        .hears(phone, P::Goodbye)
        .until_over(phone);

    let heard = pair.transcript(phone);
    let start = heard.iter().position(|label| label == "you_have").unwrap();
    assert_eq!(
        heard[start..start + 4],
        ["you_have", "number_2", "new_messages", "received"],
        "{heard:?}"
    );
    // The first envelope ends with the caller's number digit by digit, then the message itself.
    let from = heard.iter().position(|label| label == "from").unwrap();
    let number: Vec<_> = "5551002".chars().map(|d| format!("number_{d}")).collect();
    assert_eq!(heard[from + 1..from + 8], number, "{heard:?}");
    let first = seconds_of(vportal::demo::MESSAGE_FROM_1002);
    assert!(is_audio_of(&heard[from + 8], first), "{heard:?}");
    assert_eq!(heard[from + 9], "message_menu (cut)");
    // The second: saved, its envelope (an unknown caller), its audio, deleted.
    let saved = heard
        .iter()
        .position(|label| label == "message_saved")
        .unwrap();
    assert_eq!(heard[saved + 1], "received");
    let unknown = heard
        .iter()
        .position(|label| label == "from_unknown_caller")
        .unwrap();
    let second = seconds_of(vportal::demo::MESSAGE_FROM_UNKNOWN);
    assert!(is_audio_of(&heard[unknown + 1], second), "{heard:?}");
    assert_eq!(
        heard[unknown + 2..],
        [
            "message_menu (cut)",
            "message_deleted",
            "no_more_messages",
            "main_menu (cut)",
            "goodbye"
        ]
    );

    // The store agrees: one message left, saved (so heard), from 5551002.
    let list = pair.server.store.list_messages("1001").unwrap();
    assert_eq!(list.messages.len(), 1);
    let kept = &list.messages[0];
    assert_eq!(
        (kept.folder, kept.heard, kept.caller_number.as_deref()),
        (Folder::Saved, true, Some("5551002"))
    );
    let audit = pair.audit_kinds("1001");
    for kind in ["message_heard", "message_saved", "message_deleted"] {
        assert!(
            audit.iter().any(|entry| entry == kind),
            "{kind} in {audit:?}"
        );
    }
}

#[test]
fn three_during_a_message_skips_five_seconds_of_it_and_it_plays_on_to_its_end() {
    let (mut pair, phone) = opens_the_messages();
    pair.hears(phone, P::From)
        // The last digit of 5551002, then two seconds into the message.
        .hears(phone, P::NumberTwo);
    pair.run_for(Duration::from_millis(2_500));
    pair.press(phone, "3")
        .hears(phone, P::MessageMenu)
        .press(phone, "*")
        .hears(phone, P::MainMenu)
        .press(phone, "9")
        .hears(phone, P::Goodbye)
        .until_over(phone);

    let heard = pair.transcript(phone);
    let from = heard.iter().position(|label| label == "from").unwrap();
    let whole = seconds_of(vportal::demo::MESSAGE_FROM_1002);
    // What played before the key, then the rest less five seconds: five seconds short of the whole.
    assert!(
        is_audio_of(&heard[from + 8], whole - Duration::from_secs(5)),
        "{} of a {whole:?} message in {heard:?}",
        heard[from + 8]
    );
    // It still played to its end: heard.
    let list = pair.server.store.list_messages("1001").unwrap();
    assert!(list.messages[0].heard, "{list:?}");
}
