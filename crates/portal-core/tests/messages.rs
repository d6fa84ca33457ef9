//! Transcripts of hearing and managing voice messages (main menu key 1): the counts, the envelope, every
//! message key, heard after playing to the end, save, delete, the ends of the list, failures of the store.

mod support;

use portal_core::speech::{CalendarDate, Envelope, Language, TimeOfDay};
use portal_core::{CallConfig, MessageFolder, MessageInfo, MessageRef, Reply};
use support::*;

/// Monday January 6th at 3:45 P.M., from 5551002.
const FIRST_ENVELOPE: &str = "received weekday_monday month_january day_6 at_hour_3 number_45 pm \
                              from number_5 number_5 number_5 number_1 number_0 number_0 number_2";
/// Tuesday January 7th at 9:05 A.M., from an unknown caller.
const SECOND_ENVELOPE: &str =
    "received weekday_tuesday month_january day_7 at_hour_9 minute_05 am from_unknown_caller";
const THIRD_ENVELOPE: &str =
    "received weekday_wednesday month_january day_8 at_hour_12 pm from number_4 number_2";

fn message(
    id: i64,
    day: u8,
    time: (u8, u8),
    caller: Option<&str>,
    folder: MessageFolder,
) -> MessageInfo {
    MessageInfo {
        id: MessageRef(id),
        envelope: Envelope {
            received_on: CalendarDate::new(2025, 1, day).unwrap(),
            received_at: TimeOfDay::new(time.0, time.1).unwrap(),
            caller: caller.map(str::to_owned),
        },
        folder,
        heard: folder == MessageFolder::Saved,
    }
}

/// Two new messages (ids 11 and 12) and one saved (13), in the store's playing order.
fn mailbox() -> Vec<MessageInfo> {
    vec![
        message(11, 6, (15, 45), Some("5551002"), MessageFolder::New),
        message(12, 7, (9, 5), None, MessageFolder::New),
        message(13, 8, (12, 0), Some("42"), MessageFolder::Saved),
    ]
}

/// 1001 logs in, presses 1, and the store lists `messages`.
fn opens(messages: Vec<MessageInfo>) -> Phone {
    opens_with(messages, CallConfig::default())
}

fn opens_with(messages: Vec<MessageInfo>, config: CallConfig) -> Phone {
    let mut phone = at_main_menu(settled("1001"), config);
    phone
        .presses("1")
        .lists_messages("1001")
        .store_answers(Reply::Messages(Some(messages)));
    phone
}

/// The first message of `mailbox()` is being heard, with the counts before it; it has not ended yet.
fn hearing_the_first() -> Phone {
    let mut phone = opens(mailbox());
    phone
        .fetches_message("1001", 11)
        .message_fetched()
        .hears_start_of(&format!(
            "you_have number_2 new_messages and number_1 saved_message {FIRST_ENVELOPE} <message 11>"
        ));
    phone
}

#[test]
fn an_empty_mailbox_says_so_and_returns_to_the_main_menu() {
    opens(Vec::new())
        .hears_announcement("you_have_no_messages")
        .hears("main_menu");
}

#[test]
fn counts_are_singular_and_plural() {
    opens(vec![message(
        11,
        6,
        (15, 45),
        Some("5551002"),
        MessageFolder::New,
    )])
    .fetches_message("1001", 11)
    .message_fetched()
    .hears_start_of(&format!(
        "you_have number_1 new_message {FIRST_ENVELOPE} <message 11>"
    ));
    opens(vec![
        message(12, 7, (9, 5), None, MessageFolder::Saved),
        message(13, 8, (12, 0), Some("42"), MessageFolder::Saved),
    ])
    .fetches_message("1001", 12)
    .message_fetched()
    .hears_start_of(&format!(
        "you_have number_2 saved_messages {SECOND_ENVELOPE} <message 12>"
    ));
}

#[test]
fn counts_and_envelopes_are_said_in_the_portal_s_language() {
    let config = CallConfig {
        language: Language::Spanish,
        ..CallConfig::default()
    };
    opens_with(
        vec![message(12, 7, (9, 5), None, MessageFolder::New)],
        config,
    )
    .fetches_message("1001", 12)
    .message_fetched()
    .hears_start_of(
        "you_have number_1_masculine new_message received weekday_tuesday day_7 month_january \
             at_hour_9 minute_05 period_morning from_unknown_caller <message 12>",
    );
}

#[test]
fn a_message_played_to_its_end_becomes_heard_then_the_keys_are_offered() {
    hearing_the_first()
        .announcement_ends()
        .updates_message("heard", "1001", 11)
        .message_updated(true)
        .hears("message_menu")
        // Replayed to its end, it is heard already: nothing more is asked of the store.
        .presses("2")
        .hears("<message 11>")
        .hears("message_menu")
        .silence();
}

#[test]
fn a_saved_message_heard_again_is_not_marked_again() {
    opens(vec![message(
        13,
        8,
        (12, 0),
        Some("42"),
        MessageFolder::Saved,
    )])
    .fetches_message("1001", 13)
    .message_fetched()
    .hears(&format!(
        "you_have number_1 saved_message {THIRD_ENVELOPE} <message 13>"
    ))
    .hears("message_menu");
}

#[test]
fn one_and_three_during_the_message_skip_back_and_forward_and_it_plays_on_to_be_heard() {
    let five_seconds = std::time::Duration::from_secs(5);
    hearing_the_first()
        .presses("3")
        .playback_skips(false, five_seconds)
        .presses("1")
        .playback_skips(true, five_seconds)
        .announcement_ends()
        .updates_message("heard", "1001", 11)
        .message_updated(true)
        // At the message menu, with nothing playing, they are no message keys.
        .hears("message_menu")
        .presses("3")
        .hears("invalid_option message_menu");
}

#[test]
fn a_key_during_the_message_stops_it_and_leaves_it_unheard() {
    hearing_the_first()
        .presses("6")
        .prompt_stops()
        .fetches_message("1001", 12)
        .message_fetched()
        .hears_start_of(&format!("{SECOND_ENVELOPE} <message 12>"))
        .presses("*")
        .prompt_stops()
        .hears("main_menu")
        .silence();
}

#[test]
fn pound_saves_and_plays_the_next_message() {
    hearing_the_first()
        .presses("#")
        .prompt_stops()
        .updates_message("save", "1001", 11)
        .message_updated(true)
        .fetches_message("1001", 12)
        .message_fetched()
        .hears_start_of(&format!("message_saved {SECOND_ENVELOPE} <message 12>"));
}

#[test]
fn seven_deletes_and_plays_the_next_message() {
    hearing_the_first()
        .presses("7")
        .prompt_stops()
        .updates_message("delete", "1001", 11)
        .message_updated(true)
        .fetches_message("1001", 12)
        .message_fetched()
        .hears_start_of(&format!("message_deleted {SECOND_ENVELOPE} <message 12>"))
        // The deleted message is gone from the list: the previous one is none.
        .presses("4")
        .prompt_stops()
        .hears("no_previous_message message_menu");
}

#[test]
fn a_failed_save_or_delete_says_so_and_stays_on_the_message() {
    hearing_the_first()
        .presses("#")
        .prompt_stops()
        .updates_message("save", "1001", 11)
        .message_updated(false)
        .hears("save_failed message_menu")
        .presses("7")
        .updates_message("delete", "1001", 11)
        .message_updated(false)
        .hears("save_failed message_menu")
        .presses("2")
        .hears_start_of("<message 11>");
}

#[test]
fn previous_at_the_first_message_says_so() {
    hearing_the_first()
        .presses("4")
        .prompt_stops()
        .hears("no_previous_message message_menu");
}

#[test]
fn four_goes_back_and_six_goes_on() {
    hearing_the_first()
        .presses("6")
        .prompt_stops()
        .fetches_message("1001", 12)
        .message_fetched()
        .hears_start_of(&format!("{SECOND_ENVELOPE} <message 12>"))
        .presses("4")
        .prompt_stops()
        .fetches_message("1001", 11)
        .message_fetched()
        .hears_start_of(&format!("{FIRST_ENVELOPE} <message 11>"));
}

#[test]
fn five_says_the_envelope_again_and_two_replays_without_it() {
    hearing_the_first()
        .presses("5")
        .prompt_stops()
        .hears(&format!("{FIRST_ENVELOPE} message_menu"))
        .presses("2")
        .hears_start_of("<message 11>");
}

#[test]
fn other_keys_are_invalid_and_silence_repeats_the_menu() {
    hearing_the_first()
        .presses("9")
        .prompt_stops()
        .hears("invalid_option message_menu")
        .waits()
        .hears("message_menu")
        .presses("0")
        .hears("invalid_option message_menu");
}

#[test]
fn after_the_last_message_no_more_messages_then_the_main_menu() {
    hearing_the_first()
        .presses("6")
        .prompt_stops()
        .fetches_message("1001", 12)
        .message_fetched()
        .hears_start_of(&format!("{SECOND_ENVELOPE} <message 12>"))
        .presses("6")
        .prompt_stops()
        .fetches_message("1001", 13)
        .message_fetched()
        .hears_start_of(&format!("{THIRD_ENVELOPE} <message 13>"))
        .presses("7")
        .prompt_stops()
        .updates_message("delete", "1001", 13)
        .message_updated(true)
        .hears_announcement("message_deleted no_more_messages")
        .hears("main_menu")
        // Opening the mailbox again lists it afresh.
        .presses("1")
        .lists_messages("1001");
}

#[test]
fn star_returns_to_the_main_menu() {
    hearing_the_first()
        .announcement_ends()
        .updates_message("heard", "1001", 11)
        .message_updated(true)
        .hears("message_menu")
        .presses("*")
        .hears("main_menu")
        .presses("9")
        .hears_announcement("goodbye")
        .is_hung_up();
}

#[test]
fn a_mark_that_failed_still_offers_the_keys() {
    hearing_the_first()
        .announcement_ends()
        .updates_message("heard", "1001", 11)
        .message_updated(false)
        .hears("message_menu");
}

#[test]
fn keys_typed_while_the_store_works_apply_after_its_answer() {
    hearing_the_first()
        .presses("#")
        .prompt_stops()
        .updates_message("save", "1001", 11)
        .presses("6")
        .message_updated(true)
        .fetches_message("1001", 12)
        .message_fetched()
        .hears_start_of(&format!("message_saved {SECOND_ENVELOPE} <message 12>"))
        .prompt_stops()
        .fetches_message("1001", 13);
}

#[test]
fn a_store_that_cannot_read_the_messages_says_so() {
    let mut phone = at_main_menu(settled("1001"), CallConfig::default());
    phone
        .presses("1")
        .lists_messages("1001")
        .store_answers(Reply::Messages(None))
        .hears_announcement("messages_unavailable")
        .hears("main_menu");
    opens(mailbox())
        .fetches_message("1001", 11)
        .store_answers(Reply::MessageAudio(None))
        .hears_announcement("messages_unavailable")
        .hears("main_menu");
}

#[test]
fn hanging_up_while_listening_ends_the_call() {
    hearing_the_first()
        .hangs_up()
        .ended_because(portal_core::EndReason::CallerHungUp)
        .silence();
}
