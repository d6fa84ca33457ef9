//! What the portal does when the caller stays silent, stops typing half-way, or gives up before the answer.

use std::time::Duration;

use portal_core::PromptId as P;

use crate::support::server::ServerTimers;
use crate::support::{Pair, PairOptions};

#[test]
fn a_silent_caller_is_asked_three_more_times_then_hears_goodbye() {
    let mut pair = Pair::new(PairOptions::default());
    let phone = pair.call("5551001", "5558000");
    pair.until_over(phone);
    assert_eq!(
        pair.transcript(phone),
        [
            "welcome",
            "enter_passcode",
            "enter_passcode",
            "enter_passcode",
            "goodbye"
        ]
    );
    // Four prompts each followed by the 10 s first-digit timeout: well over 40 s of simulated time.
    assert!(
        pair.elapsed() > Duration::from_secs(40),
        "{:?}",
        pair.elapsed()
    );
}

#[test]
fn an_entry_without_the_pound_key_is_submitted_after_the_inter_digit_timeout() {
    let mut pair = Pair::new(PairOptions::default());
    let phone = pair.call("5551001", "5558000");
    pair.hears(phone, P::Welcome).press(phone, "1357924");
    let typed = pair.now;
    pair.hears(phone, P::MainMenu);
    let waited = pair.now - typed;
    // Seven keys take 1.8 s to send; then the 5 s inter-digit timeout submits them.
    assert!(waited > Duration::from_secs(6), "{waited:?}");
    pair.hang_up(phone).until_over(phone);
    assert_eq!(pair.transcript(phone), ["welcome (cut)", "main_menu (cut)"]);
}

#[test]
fn a_caller_who_hangs_up_during_the_answer_delay_is_cancelled_and_nothing_is_left() {
    let mut pair = Pair::new(PairOptions {
        timers: ServerTimers {
            answer_after: Duration::from_secs(3),
            ..ServerTimers::default()
        },
        ..PairOptions::default()
    });
    let phone = pair.call("5551001", "5558000");
    pair.run_for(Duration::from_secs(1));
    assert!(!pair.phone(phone).is_answered());
    pair.hang_up(phone).until_over(phone);
    assert_eq!(pair.phone(phone).rejected(), Some(487));
    assert!(pair.transcript(phone).is_empty());
    assert_eq!(pair.server.plane.call_count(), 0, "no media left open");
    assert!(
        pair.phone(phone)
            .sip_received()
            .iter()
            .any(|line| line.contains("487"))
    );
}
