//! Transcripts of how keys and time are taken: `#` and 30-digit entries, the inter-digit and first-digit
//! timeouts, silence, keys typed ahead of a reply, keys during announcements.

mod support;

use std::time::Duration;

use portal_core::{ChangeReason, EndReason, Login};
use support::*;

#[test]
fn pound_alone_asks_again_without_counting_a_failure() {
    let mut phone = Phone::own_phone("1001");
    phone
        .hears("welcome")
        .presses("#")
        .hears("enter_passcode")
        .presses("#")
        .hears("enter_passcode")
        .presses("1357924#")
        .verifies_mailbox("1001", "1357924");
    assert_eq!(phone.failed_logins(), 0);
}

#[test]
fn an_entry_reaching_30_digits_is_submitted_without_pound() {
    let thirty = "123456789012345678901234567890";
    Phone::own_phone("1001")
        .hears("welcome")
        .presses(thirty)
        .verifies_mailbox("1001", thirty);
}

#[test]
fn the_inter_digit_timeout_submits_the_entry() {
    let mut phone = Phone::own_phone("1001");
    phone.hears("welcome").presses("1357");
    assert_eq!(
        phone.call.poll_timeout(),
        Some(phone.now + Duration::from_secs(5))
    );
    phone
        .waits_for(Duration::from_secs(4))
        .silence()
        .waits()
        .verifies_mailbox("1001", "1357");
}

#[test]
fn silence_repeats_the_prompt_three_times_then_says_goodbye() {
    let mut phone = Phone::own_phone("1001");
    phone.hears("welcome");
    assert_eq!(
        phone.call.poll_timeout(),
        Some(phone.now + Duration::from_secs(10))
    );
    phone
        .waits()
        .hears("enter_passcode")
        .waits()
        .hears("enter_passcode")
        .waits()
        .hears("enter_passcode")
        .waits()
        .hears_announcement("goodbye")
        .is_hung_up()
        .ended_because(EndReason::NoInput);
}

#[test]
fn a_key_resets_the_count_of_silent_reprompts() {
    let mut phone = Phone::own_phone("1001");
    phone
        .hears("welcome")
        .waits()
        .hears("enter_passcode")
        .waits()
        .hears("enter_passcode")
        .waits()
        .hears("enter_passcode")
        .presses("#")
        .hears("enter_passcode")
        .waits()
        .hears("enter_passcode");
}

#[test]
fn no_timer_runs_while_a_prompt_plays() {
    let mut phone = Phone::own_phone("1001");
    assert_eq!(phone.call.poll_timeout(), None);
    phone.hears("welcome");
    assert!(phone.call.poll_timeout().is_some());
}

#[test]
fn keys_pressed_while_a_verification_is_pending_apply_after_the_reply_in_order() {
    Phone::own_phone("1001")
        .hears("welcome")
        .presses("1357924#")
        .presses("9")
        .verifies_mailbox("1001", "1357924")
        .login_ok(settled("1001"))
        .hears_start_of("main_menu")
        .prompt_stops()
        .hears_announcement("goodbye")
        .is_hung_up();
}

#[test]
fn keys_during_an_announcement_are_dropped() {
    Phone::own_phone("1001")
        .hears("welcome")
        .presses("1357924#")
        .verifies_mailbox("1001", "1357924")
        .login_ok(Login {
            must_change: Some(ChangeReason::Initial),
            ..settled("1001")
        })
        .hears("must_change_passcode")
        .presses("2580147#")
        .hears("reenter_new_passcode")
        .presses("2580147#")
        .sets_passcode("1001", "2580147")
        .passcode_stored()
        .hears_start_of_announcement("passcode_changed")
        .presses("9")
        .announcement_ends()
        .hears("main_menu");
}
