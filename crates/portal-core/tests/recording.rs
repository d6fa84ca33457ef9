//! Transcripts of recording the name and greetings: record, review, save, the maximum length, a failed save.

mod support;

use std::time::Duration;

use portal_core::{Account, CallConfig, RecordingKind, Reply};
use support::*;

#[test]
fn greetings_menu_records_the_busy_greeting_with_review_and_returns() {
    at_main_menu(settled("1001"), CallConfig::default())
        .presses("3")
        .hears("greetings_menu")
        .presses("2")
        .hears_announcement("record_busy_greeting tone")
        .is_recorded_for(RecordingKind::BusyGreeting)
        .presses("#")
        .recording_stops()
        .recorded_seconds(4.0)
        .hears("greeting_is <recording> greeting_review")
        .presses("1")
        .saves_recording(Account::Mailbox("1001".into()), RecordingKind::BusyGreeting)
        .recording_stored()
        .hears_announcement("greeting_saved")
        .hears("greetings_menu")
        .presses("3")
        .hears_announcement("record_no_answer_greeting tone")
        .is_recorded_for(RecordingKind::NoAnswerGreeting)
        .recorded_seconds(3.0)
        .hears("greeting_is <recording> greeting_review")
        .presses("5")
        .hears("invalid_option greeting_review")
        .presses("1")
        .saves_recording(
            Account::Mailbox("1001".into()),
            RecordingKind::NoAnswerGreeting,
        )
        .recording_stored()
        .hears_announcement("greeting_saved")
        .hears("greetings_menu")
        .presses("1")
        .hears_announcement("record_name tone")
        .is_recorded_for(RecordingKind::Name)
        .recorded_seconds(2.0)
        .hears("name_is <recording> name_review")
        .presses("1")
        .saves_recording(Account::Mailbox("1001".into()), RecordingKind::Name)
        .recording_stored()
        .hears_announcement("name_saved")
        .hears("greetings_menu")
        .presses("*")
        .hears("main_menu");
}

#[test]
fn a_recording_ends_at_the_maximum_length() {
    let mut phone = at_main_menu(settled("1001"), CallConfig::default());
    phone
        .presses("3")
        .hears("greetings_menu")
        .presses("3")
        .hears_announcement("record_no_answer_greeting tone")
        .is_recorded_for(RecordingKind::NoAnswerGreeting);
    assert_eq!(
        phone.call.poll_timeout(),
        Some(phone.now + Duration::from_secs(60))
    );
    phone
        .waits()
        .recording_stops()
        .recorded_seconds(60.0)
        .hears("greeting_is <recording> greeting_review");
}

#[test]
fn a_failed_save_says_so_and_offers_the_review_again() {
    at_main_menu(settled("1001"), CallConfig::default())
        .presses("3")
        .hears("greetings_menu")
        .presses("2")
        .hears_announcement("record_busy_greeting tone")
        .is_recorded_for(RecordingKind::BusyGreeting)
        .recorded_seconds(2.0)
        .hears("greeting_is <recording> greeting_review")
        .presses("1")
        .saves_recording(Account::Mailbox("1001".into()), RecordingKind::BusyGreeting)
        .store_answers(Reply::RecordingSaved(false))
        .hears_announcement("save_failed")
        .hears("greeting_review");
}
