//! Transcripts of what a driver may and may not feed. Inputs that come late (the end of a stopped prompt, a
//! reply or recording after the caller hung up, an early timer) are ignored. Inputs that cannot happen are the
//! driver's bugs: debug builds panic, release builds end the call (fail closed). `Phone::driver_bug` checks
//! whichever the build does, so run these with and without `--release`.

mod support;

use std::time::Duration;

use portal_core::{
    Account, Audit, DriverError, EndReason, Input, Login, PlayId, RecordingHandle, Reply,
    RequestId, SetOutcome, VerifyOutcome,
};
use support::*;

// ---- late inputs: ignored ----

#[test]
fn the_late_end_of_a_stopped_prompt_is_ignored() {
    let mut phone = Phone::own_phone("1001");
    phone.hears_start_of("welcome").presses("1").prompt_stops();
    // no first-digit timer replaces the inter-digit one
    let deadline = phone.call.poll_timeout();
    phone.input(Input::PromptDone(PlayId(1))).silence();
    assert_eq!(phone.call.poll_timeout(), deadline);
    phone.presses("357924#").verifies_mailbox("1001", "1357924");
}

#[test]
fn a_reply_after_the_caller_hung_up_is_ignored() {
    let mut phone = Phone::own_phone("1001");
    phone
        .hears("welcome")
        .presses("1357924#")
        .verifies_mailbox("1001", "1357924")
        .hangs_up()
        .login_ok(settled("1001"))
        .silence();
    assert_eq!(
        phone.audits,
        [Audit::CallEnded(EndReason::CallerHungUp)],
        "no login after the end"
    );
}

#[test]
fn a_recording_that_ends_after_the_caller_hung_up_is_ignored() {
    let mut phone = at_main_menu(settled("1001"), Default::default());
    phone
        .presses("3")
        .hears("greetings_menu")
        .presses("2")
        .hears_announcement("record_busy_greeting tone")
        .is_recorded_for(portal_core::RecordingKind::BusyGreeting)
        .hangs_up()
        .recorded_seconds(3.0)
        .silence()
        .ended_because(EndReason::CallerHungUp);
}

#[test]
fn a_timer_that_fires_early_is_ignored() {
    let mut phone = Phone::own_phone("1001");
    phone.hears("welcome");
    let deadline = phone.call.poll_timeout();
    phone.input(Input::Timeout).silence();
    assert_eq!(phone.call.poll_timeout(), deadline);
}

#[test]
fn nothing_happens_after_the_call_ended() {
    let mut phone = Phone::own_phone("1001");
    phone.hears("welcome").hangs_up();
    phone
        .presses("123#")
        .waits_for(Duration::from_secs(60))
        .hangs_up()
        .silence();
    assert_eq!(phone.call.poll_timeout(), None);
    assert_eq!(
        phone
            .audits
            .iter()
            .filter(|a| matches!(a, Audit::CallEnded(_)))
            .count(),
        1
    );
}

// ---- driver bugs: the call ends ----

#[test]
fn a_verification_answered_for_another_account_logs_nobody_in() {
    // The reply of another call's admin verification, carried here by mistake, must not open the admin menu.
    let mut phone = Phone::own_phone("1001");
    phone
        .hears("welcome")
        .presses("1357924#")
        .verifies_mailbox("1001", "1357924");
    let id = phone.pending_request();
    phone.driver_bug(
        Input::Reply(
            id,
            Reply::Verified {
                account: Account::PortalAdmin,
                outcome: VerifyOutcome::Ok(Login::default()),
            },
        ),
        DriverError::ReplyForAnotherAccount {
            id,
            asked: Account::Mailbox("1001".into()),
            answered: Account::PortalAdmin,
        },
    );
    assert!(
        !phone
            .audits
            .iter()
            .any(|a| matches!(a, Audit::LoginSucceeded(_)))
    );
}

#[test]
fn a_reply_of_the_wrong_kind_ends_the_call() {
    let mut phone = Phone::own_phone("1001");
    phone
        .hears("welcome")
        .presses("1357924#")
        .verifies_mailbox("1001", "1357924");
    let id = phone.pending_request();
    phone.driver_bug(
        Input::Reply(id, Reply::PasscodeSet(SetOutcome::Changed)),
        DriverError::MismatchedReply(id),
    );
}

#[test]
fn a_reply_nobody_asked_for_ends_the_call() {
    let mut phone = Phone::own_phone("1001");
    phone.hears("welcome");
    phone.driver_bug(
        Input::Reply(RequestId(77), Reply::RecordingSaved(true)),
        DriverError::UnexpectedReply(RequestId(77)),
    );
}

#[test]
fn a_verification_answered_twice_counts_once_and_ends_the_call() {
    // A wrong passcode answered again as right must not log in.
    let mut phone = Phone::own_phone("1001");
    phone
        .hears("welcome")
        .presses("111222#")
        .verifies_mailbox("1001", "111222");
    let id = phone.pending_request();
    phone
        .passcode_wrong()
        .hears_start_of("passcode_incorrect enter_passcode");
    phone.driver_bug(
        Input::Reply(
            id,
            Reply::Verified {
                account: Account::Mailbox("1001".into()),
                outcome: VerifyOutcome::Ok(settled("1001")),
            },
        ),
        DriverError::UnexpectedReply(id),
    );
    assert_eq!(phone.failed_logins(), 1);
}

#[test]
fn the_end_of_a_recording_never_started_ends_the_call() {
    let mut phone = Phone::own_phone("1001");
    phone.hears("welcome");
    phone.driver_bug(
        Input::RecordingDone {
            recording: RecordingHandle(9),
            duration: Duration::from_secs(2),
        },
        DriverError::UnexpectedRecording(RecordingHandle(9)),
    );
}
