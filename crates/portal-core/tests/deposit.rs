//! Transcripts of leaving a message: a call a PBX forwarded to the portal for a user who did not take it.
//! The greeting (the user's own by cause, else their name, else their number), the tone, the recording ended
//! by `#`, silence, the maximum length or hang-up, too short, a full mailbox, and a failed deposit.

mod support;

use std::time::Duration;

use portal_core::speech::Language;
use portal_core::{
    Absence, Audio, CallConfig, CallContext, Caller, Deposit, Dialed, EndReason, RecordingHandle,
    RecordingKind, Reply,
};
use support::*;

const NAME: RecordingHandle = RecordingHandle(101);
const BUSY: RecordingHandle = RecordingHandle(102);
const NO_ANSWER: RecordingHandle = RecordingHandle(103);

/// A call forwarded for mailbox 1001 (number 5551001), from 5552000, with everything recorded and room left.
fn forwarded(absence: Absence) -> Deposit {
    Deposit {
        mailbox: "1001".into(),
        absence,
        number: "5551001".into(),
        language: Language::English,
        name: Some(NAME),
        busy_greeting: Some(BUSY),
        no_answer_greeting: Some(NO_ANSWER),
        room: Duration::from_secs(30 * 60),
        caller_number: Some("5552000".into()),
        caller_name: Some("Bob".into()),
        urgent: false,
    }
}

fn call_with(deposit: Deposit, config: CallConfig) -> Phone {
    Phone::start(
        CallContext {
            caller: Caller::Unrecognised,
            dialed: Dialed::Redirected(Box::new(deposit)),
            portal: portal(),
            today: TODAY,
        },
        config,
    )
}

fn call(deposit: Deposit) -> Phone {
    call_with(deposit, CallConfig::default())
}

#[test]
fn a_busy_user_s_own_busy_greeting_then_the_tone_then_the_message_until_pound() {
    let mut phone = call(forwarded(Absence::Busy));
    phone.hears_announcement("<recording> leave_message tone");
    assert_eq!(phone.last_heard[0], Audio::Recording(BUSY));
    phone
        .is_recorded_for(RecordingKind::Message)
        .presses("12#")
        .recording_stops()
        .recorded_seconds(7.5)
        .deposits_message("1001", Some("5552000"), false)
        .store_answers(Reply::MessageDeposited(true))
        .hears_announcement("message_sent goodbye")
        .is_hung_up()
        .ended_because(EndReason::MessageLeft);
}

#[test]
fn no_answer_unconditional_and_unknown_causes_play_the_no_answer_greeting() {
    // The driver maps every cause but busy to `NoAnswer`; the no-answer greeting plays.
    let mut phone = call(forwarded(Absence::NoAnswer));
    phone.hears_announcement("<recording> leave_message tone");
    assert_eq!(phone.last_heard[0], Audio::Recording(NO_ANSWER));
}

#[test]
fn without_the_greeting_for_the_cause_the_name_says_busy_or_not_available() {
    let mut phone = call(Deposit {
        busy_greeting: None,
        ..forwarded(Absence::Busy)
    });
    phone.hears_announcement("<recording> is_busy leave_message tone");
    assert_eq!(phone.last_heard[0], Audio::Recording(NAME));

    // The other greeting does not stand in for the missing one.
    let mut phone = call(Deposit {
        no_answer_greeting: None,
        ..forwarded(Absence::NoAnswer)
    });
    phone.hears_announcement("<recording> is_not_available leave_message tone");
    assert_eq!(phone.last_heard[0], Audio::Recording(NAME));
}

#[test]
fn without_a_greeting_or_a_name_the_number_is_said_digit_by_digit() {
    let nothing_recorded = |absence| Deposit {
        name: None,
        busy_greeting: None,
        no_answer_greeting: None,
        ..forwarded(absence)
    };
    call(nothing_recorded(Absence::NoAnswer)).hears_announcement(
        "person_at number_5 number_5 number_5 number_1 number_0 number_0 number_1 \
         is_not_available leave_message tone",
    );
    call(Deposit {
        number: "+1 (555) 100-2".into(),
        ..nothing_recorded(Absence::Busy)
    })
    .hears_announcement(
        "person_at number_1 number_5 number_5 number_5 number_1 number_0 number_0 number_2 \
         is_busy leave_message tone",
    );
    // A target with no digits (a SIP user name) is "the person you called".
    call(Deposit {
        number: "bob".into(),
        ..nothing_recorded(Absence::Busy)
    })
    .hears_announcement("person_you_called is_busy leave_message tone");
}

#[test]
fn a_caller_who_hangs_up_keeps_the_message() {
    call(forwarded(Absence::NoAnswer))
        .hears_announcement("<recording> leave_message tone")
        .is_recorded_for(RecordingKind::Message)
        .hangs_up()
        .recording_stops()
        .recorded_seconds(3.0)
        .deposits_message("1001", Some("5552000"), false)
        .store_answers(Reply::MessageDeposited(true))
        .silence()
        .ended_because(EndReason::CallerHungUp);
}

#[test]
fn hanging_up_after_pound_keeps_the_message_too() {
    let mut phone = call(forwarded(Absence::NoAnswer));
    phone
        .hears_announcement("<recording> leave_message tone")
        .is_recorded_for(RecordingKind::Message)
        .presses("#")
        .recording_stops()
        .hangs_up()
        .silence()
        .recorded_seconds(2.0)
        .deposits_message("1001", Some("5552000"), false)
        .store_answers(Reply::MessageDeposited(true))
        .silence();
    assert!(phone.call.is_ended());
}

#[test]
fn hanging_up_during_the_greeting_leaves_nothing() {
    let mut phone = call(forwarded(Absence::Busy));
    phone
        .hears_start_of_announcement("<recording> leave_message tone")
        .hangs_up()
        .silence()
        .ended_because(EndReason::CallerHungUp);
    assert!(phone.call.is_ended());
}

#[test]
fn a_recording_shorter_than_the_minimum_is_not_kept() {
    // Media trims silence, so a silent recording arrives short too.
    call(forwarded(Absence::Busy))
        .hears_announcement("<recording> leave_message tone")
        .is_recorded_for(RecordingKind::Message)
        .presses("#")
        .recording_stops()
        .recorded_seconds(0.4)
        .hears_announcement("no_message_recorded goodbye")
        .is_hung_up()
        .ended_because(EndReason::NothingRecorded);
    // Hanging up with a too-short recording keeps nothing either, and says nothing.
    call(forwarded(Absence::Busy))
        .hears_announcement("<recording> leave_message tone")
        .is_recorded_for(RecordingKind::Message)
        .hangs_up()
        .recording_stops()
        .recorded_seconds(0.1)
        .silence()
        .ended_because(EndReason::CallerHungUp);
}

#[test]
fn silence_ends_the_message_like_pound() {
    // Media ends the recording on silence after speech and reports it; the message is deposited.
    call(forwarded(Absence::Busy))
        .hears_announcement("<recording> leave_message tone")
        .is_recorded_for(RecordingKind::Message)
        .recorded_seconds(12.0)
        .deposits_message("1001", Some("5552000"), false)
        .store_answers(Reply::MessageDeposited(true))
        .hears_announcement("message_sent goodbye")
        .is_hung_up();
}

#[test]
fn a_full_mailbox_says_so_after_the_greeting_and_records_nothing() {
    call(Deposit {
        room: Duration::ZERO,
        ..forwarded(Absence::Busy)
    })
    .hears_announcement("<recording> mailbox_full goodbye")
    .is_hung_up()
    .ended_because(EndReason::MailboxFull);
    // Less room than the shortest message kept is full too.
    call(Deposit {
        room: Duration::from_millis(900),
        ..forwarded(Absence::Busy)
    })
    .hears_announcement("<recording> mailbox_full goodbye")
    .is_hung_up();
}

#[test]
fn the_recording_is_capped_at_the_maximum_or_the_room_the_quota_leaves() {
    let mut phone = call(forwarded(Absence::Busy));
    phone
        .hears_announcement("<recording> leave_message tone")
        .is_recorded_for(RecordingKind::Message);
    assert_eq!(
        phone.call.poll_timeout(),
        Some(phone.now + Duration::from_secs(180))
    );

    let mut phone = call(Deposit {
        room: Duration::from_secs(42),
        ..forwarded(Absence::Busy)
    });
    phone
        .hears_announcement("<recording> leave_message tone")
        .is_recorded_for(RecordingKind::Message);
    assert_eq!(
        phone.call.poll_timeout(),
        Some(phone.now + Duration::from_secs(42))
    );
    phone
        .waits()
        .recording_stops()
        .recorded_seconds(42.0)
        .deposits_message("1001", Some("5552000"), false)
        .store_answers(Reply::MessageDeposited(true))
        .hears_announcement("message_sent goodbye");
}

#[test]
fn an_urgent_call_deposits_an_urgent_message_and_a_refused_deposit_says_so() {
    call(Deposit {
        urgent: true,
        caller_number: None,
        ..forwarded(Absence::Busy)
    })
    .hears_announcement("<recording> leave_message tone")
    .is_recorded_for(RecordingKind::Message)
    .presses("#")
    .recording_stops()
    .recorded_seconds(5.0)
    .deposits_message("1001", None, true)
    // The mailbox filled up meanwhile (the store's quota check is the one that holds), or the disk failed.
    .store_answers(Reply::MessageDeposited(false))
    .hears_announcement("save_failed goodbye")
    .is_hung_up()
    .ended_because(EndReason::StoreFailed);
}

#[test]
fn keys_during_the_greeting_are_dropped_and_keys_other_than_pound_are_part_of_the_message() {
    call(forwarded(Absence::Busy))
        .hears_start_of_announcement("<recording> leave_message tone")
        .presses("#*1")
        .announcement_ends()
        .is_recorded_for(RecordingKind::Message)
        .presses("*123")
        .silence()
        .presses("#")
        .recording_stops();
}
