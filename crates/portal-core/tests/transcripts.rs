//! Transcripts of portal calls: one test per path of the conversation, read as what the caller hears and does.

mod support;

use std::time::Duration;

use portal_core::{
    Account, Audit, CallConfig, CallContext, Caller, CallerMailbox, ChangeReason, Day, Dialed,
    EndReason, Login, PasscodeRules, RecordingKind, Reply, RuleViolation, SetOutcome,
};
use support::*;

// ---- own phone ----

#[test]
fn own_phone_right_passcode_reaches_the_main_menu_and_leaves_with_9() {
    Phone::own_phone("1001")
        .hears("welcome")
        .presses("1357924#")
        .verifies_mailbox("1001", "1357924")
        .login_ok(settled("1001"))
        .hears("main_menu")
        .presses("9")
        .hears_announcement("goodbye")
        .is_hung_up()
        .ended_because(EndReason::CallerLeft);
}

#[test]
fn voicemail_button_leads_to_the_callers_own_mailbox() {
    let context = CallContext {
        caller: own("1001"),
        dialed: Dialed::VoicemailButton,
        portal: portal(),
        today: TODAY,
    };
    Phone::start(context, CallConfig::default())
        .hears("welcome")
        .presses("1357924#")
        .verifies_mailbox("1001", "1357924");
}

#[test]
fn the_driver_may_ask_the_core_to_look_the_caller_up_first() {
    Phone::call(Caller::Identify("5551001".into()), CallConfig::default())
        .looks_up_caller("5551001")
        .store_answers(Reply::Caller(Some(CallerMailbox {
            mailbox: "1001".into(),
            has_passcode: true,
        })))
        .hears("welcome");
    Phone::call(Caller::Identify("5559999".into()), CallConfig::default())
        .looks_up_caller("5559999")
        .store_answers(Reply::Caller(None))
        .hears("enter_mailbox");
}

#[test]
fn wrong_passcode_is_announced_and_asked_again() {
    let mut phone = Phone::own_phone("1001");
    phone
        .hears("welcome")
        .presses("111222#")
        .verifies_mailbox("1001", "111222")
        .passcode_wrong()
        .hears("passcode_incorrect enter_passcode")
        .presses("1357924#")
        .verifies_mailbox("1001", "1357924")
        .login_ok(settled("1001"))
        .hears("main_menu");
    assert_eq!(phone.failed_logins(), 1);
}

#[test]
fn the_failure_that_locks_says_locked_out_without_passcode_incorrect() {
    Phone::own_phone("1001")
        .hears("welcome")
        .presses("111222#")
        .verifies_mailbox("1001", "111222")
        .account_locked()
        .hears_announcement("locked_out goodbye")
        .is_hung_up()
        .ended_because(EndReason::LockedOut);
}

#[test]
fn a_locked_mailbox_refuses_even_the_right_passcode() {
    // The store answers Locked for a locked mailbox whatever was entered; the core only reacts.
    let mut phone = Phone::own_phone("1001");
    phone
        .hears("welcome")
        .presses("1357924#")
        .verifies_mailbox("1001", "1357924")
        .account_locked()
        .hears_start_of_announcement("locked_out goodbye")
        .presses("1357924#")
        .announcement_ends()
        .is_hung_up();
    assert!(
        phone
            .audits
            .contains(&Audit::LockedOut(Account::Mailbox("1001".into())))
    );
}

#[test]
fn the_admin_passcode_at_the_own_phone_prompt_is_just_a_wrong_passcode_for_the_mailbox() {
    Phone::own_phone("1001")
        .hears("welcome")
        .presses("8642097#")
        .verifies_mailbox("1001", "8642097")
        .passcode_wrong()
        .hears("passcode_incorrect enter_passcode");
}

#[test]
fn a_recognised_caller_without_a_passcode_hears_passcode_not_set_and_the_call_ends() {
    let caller = Caller::Recognised(CallerMailbox {
        mailbox: "1003".into(),
        has_passcode: false,
    });
    Phone::call(caller, CallConfig::default())
        .hears_announcement("passcode_not_set")
        .is_hung_up()
        .ended_because(EndReason::PasscodeNotSet);
}

// ---- star key: not calling from one's own phone ----

#[test]
fn star_during_welcome_asks_for_the_mailbox_then_its_passcode() {
    Phone::own_phone("1001")
        .hears_start_of("welcome")
        .presses("*")
        .prompt_stops()
        .hears("enter_mailbox")
        .presses("1002#")
        .hears("enter_passcode")
        .presses("2468013#")
        .verifies_mailbox("1002", "2468013")
        .login_ok(settled("1002"))
        .hears("main_menu");
}

#[test]
fn star_after_some_passcode_digits_discards_them_and_asks_for_the_mailbox() {
    Phone::own_phone("1001")
        .hears("welcome")
        .presses("135*")
        .hears("enter_mailbox")
        .presses("1002#")
        .hears("enter_passcode")
        .presses("2468013#")
        .verifies_mailbox("1002", "2468013");
}

#[test]
fn a_caller_no_mailbox_recognises_gets_no_welcome() {
    Phone::other_phone()
        .hears("enter_mailbox")
        .presses("1002#")
        .hears("enter_passcode")
        .presses("2468013#")
        .verifies_mailbox("1002", "2468013");
}

#[test]
fn star_during_mailbox_entry_clears_it_and_asks_again() {
    Phone::other_phone()
        .hears("enter_mailbox")
        .presses("10*")
        .hears("enter_mailbox")
        .presses("1002#")
        .hears("enter_passcode")
        .presses("2468013#")
        .verifies_mailbox("1002", "2468013");
}

#[test]
fn an_unknown_mailbox_is_verified_like_any_other() {
    // The core has no way to tell: it sends exactly what was entered and the store answers Wrong.
    Phone::other_phone()
        .hears("enter_mailbox")
        .presses("9999#")
        .hears("enter_passcode")
        .presses("2468013#")
        .verifies_mailbox("9999", "2468013")
        .passcode_wrong()
        .hears("passcode_incorrect enter_passcode")
        .presses("2468013#")
        .verifies_mailbox("9999", "2468013");
}

#[test]
fn as_many_failures_as_the_lockout_count_in_one_call_end_it_whatever_the_mailboxes() {
    let mut phone = Phone::other_phone();
    phone.hears("enter_mailbox");
    for (round, mailbox) in ["1002", "1003", "1004"].iter().enumerate() {
        if round > 0 {
            phone.presses("*").prompt_stops().hears("enter_mailbox");
        }
        phone
            .presses(&format!("{mailbox}#"))
            .hears("enter_passcode")
            .presses("111222#")
            .verifies_mailbox(mailbox, "111222")
            .passcode_wrong()
            .hears_start_of("passcode_incorrect enter_passcode");
    }
    phone
        .presses("222333#")
        .prompt_stops()
        .verifies_mailbox("1004", "222333")
        .passcode_wrong()
        .hears_announcement("passcode_incorrect goodbye")
        .is_hung_up()
        .ended_because(EndReason::TooManyFailures);
    assert_eq!(phone.failed_logins(), 4);
}

// ---- entries ----

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

// ---- first login: forced change and name ----

#[test]
fn scenario_1_default_passcode_forces_change_with_mismatch_and_rule_then_name_then_menu() {
    let mut phone = Phone::own_phone("1001");
    phone
        .hears("welcome")
        .presses("7654321#")
        .verifies_mailbox("1001", "7654321")
        .login_ok(Login {
            must_change: Some(ChangeReason::Initial),
            name_recorded: false,
            passcode_set_on: Some(TODAY),
            ..settled("1001")
        })
        .hears("must_change_and_record_name")
        // a rule violation: 1234 is an ascending run of four
        .presses("123485#")
        .hears("rule_sequence enter_new_passcode")
        // entered twice, differently
        .presses("2580147#")
        .hears("reenter_new_passcode")
        .presses("2580148#")
        .hears("passcode_mismatch enter_new_passcode")
        .presses("2580147#")
        .hears("reenter_new_passcode")
        .presses("2580147#")
        .sets_passcode("1001", "2580147")
        .passcode_stored()
        // the combined prompt already asked for the name: no must_record_name
        .hears_announcement("passcode_changed record_name tone")
        .is_recorded_for(RecordingKind::Name)
        .presses("#")
        .recording_stops()
        .recorded_seconds(2.5)
        .hears("name_is <recording> name_review")
        .presses("1")
        .saves_recording(Account::Mailbox("1001".into()), RecordingKind::Name)
        .recording_stored()
        .hears_announcement("name_saved")
        .hears("main_menu");
    assert!(
        phone
            .audits
            .contains(&Audit::PasscodeRefused(RuleViolation::Sequence))
    );
}

#[test]
fn each_rule_is_named_by_its_prompt_in_order() {
    let cases = [
        ("12345", "rule_too_short"),
        ("123456789", "rule_too_long"),
        ("1111", "rule_too_short"),
        ("5111173", "rule_repeated_digits"),
        ("9876503", "rule_sequence"),
        ("363636", "rule_repeated_pattern"),
        ("5551001", "rule_user_number"),
        ("1001555", "rule_user_number"),
    ];
    for (candidate, prompt) in cases {
        let config = CallConfig {
            max_change_tries: 10,
            rules: PasscodeRules {
                max_length: 8,
                ..PasscodeRules::default()
            },
            ..CallConfig::default()
        };
        let mut phone = Phone::call(own("1001"), config);
        phone
            .hears("welcome")
            .presses("7654321#")
            .verifies_mailbox("1001", "7654321")
            .login_ok(Login {
                must_change: Some(ChangeReason::Initial),
                ..settled("1001")
            })
            .hears("must_change_passcode");
        phone
            .presses(&format!("{candidate}#"))
            .hears(&format!("{prompt} enter_new_passcode"));
    }
}

#[test]
fn scenario_2_passcode_set_elsewhere_records_only_the_name() {
    Phone::own_phone("1001")
        .hears("welcome")
        .presses("2580147#")
        .verifies_mailbox("1001", "2580147")
        .login_ok(Login {
            name_recorded: false,
            ..settled("1001")
        })
        .hears_announcement("must_record_name record_name tone")
        .is_recorded_for(RecordingKind::Name)
        .recorded_seconds(0.4)
        .hears_announcement("recording_too_short record_name tone")
        .is_recorded_for(RecordingKind::Name)
        .recorded_seconds(2.0)
        .hears("name_is <recording> name_review")
        .presses("2")
        .hears_announcement("record_name tone")
        .is_recorded_for(RecordingKind::Name)
        .recorded_seconds(3.0)
        .hears("name_is <recording> name_review")
        .presses("1")
        .saves_recording(Account::Mailbox("1001".into()), RecordingKind::Name)
        .recording_stored()
        .hears_announcement("name_saved")
        .hears("main_menu");
}

#[test]
fn a_forced_change_with_a_recorded_name_uses_must_change_passcode_and_skips_the_name() {
    Phone::own_phone("1001")
        .hears("welcome")
        .presses("5036142#")
        .verifies_mailbox("1001", "5036142")
        .login_ok(Login {
            must_change: Some(ChangeReason::Reset),
            ..settled("1001")
        })
        .hears("must_change_passcode")
        .presses("2580147#")
        .hears("reenter_new_passcode")
        .presses("2580147#")
        .sets_passcode("1001", "2580147")
        .passcode_stored()
        .hears_announcement("passcode_changed")
        .hears("main_menu");
}

#[test]
fn an_expired_passcode_without_a_name_hears_the_combined_prompt_and_records_the_name_after() {
    let config = CallConfig {
        rules: PasscodeRules {
            expiry_days: Some(90),
            ..PasscodeRules::default()
        },
        ..CallConfig::default()
    };
    Phone::call(own("1001"), config)
        .hears("welcome")
        .presses("2580147#")
        .verifies_mailbox("1001", "2580147")
        .login_ok(Login {
            name_recorded: false,
            passcode_set_on: Some(Day(TODAY.0 - 90)),
            ..settled("1001")
        })
        .hears("passcode_expired must_change_and_record_name")
        .presses("3691470#")
        .hears("reenter_new_passcode")
        .presses("3691470#")
        .sets_passcode("1001", "3691470")
        .passcode_stored()
        .hears_announcement("passcode_changed record_name tone");
}

#[test]
fn an_expired_passcode_plays_passcode_expired_first() {
    let config = CallConfig {
        rules: PasscodeRules {
            expiry_days: Some(90),
            ..PasscodeRules::default()
        },
        ..CallConfig::default()
    };
    let mut phone = Phone::call(own("1001"), config.clone());
    phone
        .hears("welcome")
        .presses("2580147#")
        .verifies_mailbox("1001", "2580147")
        .login_ok(Login {
            passcode_set_on: Some(Day(TODAY.0 - 90)),
            ..settled("1001")
        })
        .hears("passcode_expired must_change_passcode");
    // one day earlier it has not expired yet
    Phone::call(own("1001"), config)
        .hears("welcome")
        .presses("2580147#")
        .verifies_mailbox("1001", "2580147")
        .login_ok(Login {
            passcode_set_on: Some(Day(TODAY.0 - 89)),
            ..settled("1001")
        })
        .hears("main_menu");
}

#[test]
fn a_reused_passcode_is_refused_by_the_store_and_asked_again() {
    let mut phone = Phone::own_phone("1001");
    phone
        .hears("welcome")
        .presses("5036142#")
        .verifies_mailbox("1001", "5036142")
        .login_ok(Login {
            must_change: Some(ChangeReason::Temporary),
            ..settled("1001")
        })
        .hears("must_change_passcode")
        .presses("2580147#")
        .hears("reenter_new_passcode")
        .presses("2580147#")
        .sets_passcode("1001", "2580147")
        .store_answers(Reply::PasscodeSet(SetOutcome::Rejected(
            RuleViolation::Reused,
        )))
        .hears("rule_reused enter_new_passcode")
        .presses("3691470#")
        .hears("reenter_new_passcode");
    assert!(
        phone
            .audits
            .contains(&Audit::PasscodeRefused(RuleViolation::Reused))
    );
}

#[test]
fn three_failed_tries_at_a_new_passcode_say_goodbye() {
    Phone::own_phone("1001")
        .hears("welcome")
        .presses("5036142#")
        .verifies_mailbox("1001", "5036142")
        .login_ok(Login {
            must_change: Some(ChangeReason::Initial),
            ..settled("1001")
        })
        .hears("must_change_passcode")
        .presses("12#")
        .hears("rule_too_short enter_new_passcode")
        .presses("2580147#")
        .hears("reenter_new_passcode")
        .presses("2580000#")
        .hears("passcode_mismatch enter_new_passcode")
        .presses("2580147#")
        .hears("reenter_new_passcode")
        .presses("2580147#")
        .sets_passcode("1001", "2580147")
        .store_answers(Reply::PasscodeSet(SetOutcome::Rejected(
            RuleViolation::Reused,
        )))
        .hears_announcement("rule_reused goodbye")
        .is_hung_up()
        .ended_because(EndReason::TooManyChangeTries);
}

#[test]
fn hanging_up_mid_change_leaves_the_obligation_for_the_next_call() {
    let owed = Login {
        must_change: Some(ChangeReason::Initial),
        name_recorded: false,
        ..settled("1001")
    };
    let mut phone = Phone::own_phone("1001");
    phone
        .hears("welcome")
        .presses("7654321#")
        .verifies_mailbox("1001", "7654321")
        .login_ok(owed.clone())
        .hears("must_change_and_record_name")
        .presses("2580147#")
        .hears_start_of("reenter_new_passcode")
        .hangs_up()
        .silence()
        .ended_because(EndReason::CallerHungUp);
    // nothing was set, so the store still owes the change: the next call asks again
    Phone::own_phone("1001")
        .hears("welcome")
        .presses("7654321#")
        .verifies_mailbox("1001", "7654321")
        .login_ok(owed)
        .hears("must_change_and_record_name");
}

#[test]
fn hanging_up_before_the_name_is_saved_leaves_the_name_owed() {
    let mut phone = Phone::own_phone("1001");
    phone
        .hears("welcome")
        .presses("2580147#")
        .verifies_mailbox("1001", "2580147")
        .login_ok(Login {
            name_recorded: false,
            ..settled("1001")
        })
        .hears_announcement("must_record_name record_name tone")
        .is_recorded_for(RecordingKind::Name)
        .recorded_seconds(2.0)
        .hears_start_of("name_is <recording> name_review")
        .hangs_up()
        .silence();
    assert!(
        !phone
            .audits
            .iter()
            .any(|a| matches!(a, Audit::RecordingSaved(_)))
    );
}

// ---- main menu ----

fn at_main_menu(login: Login, config: CallConfig) -> Phone {
    let mut phone = Phone::call(own(&login.mailbox.clone()), config);
    phone
        .hears("welcome")
        .presses("2580147#")
        .verifies_mailbox(&login.mailbox.clone(), "2580147")
        .login_ok(login)
        .hears("main_menu");
    phone
}

#[test]
fn main_menu_repeats_on_pound_and_refuses_other_keys() {
    at_main_menu(settled("1001"), CallConfig::default())
        .presses("#")
        .hears("main_menu")
        .presses("1")
        .hears("invalid_option main_menu")
        .presses("*")
        .hears("invalid_option main_menu")
        .presses("9")
        .hears_announcement("goodbye")
        .is_hung_up();
}

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
fn voluntary_change_with_8_returns_to_the_main_menu() {
    at_main_menu(settled("1001"), CallConfig::default())
        .presses("8")
        .hears("enter_new_passcode")
        .presses("3691470#")
        .hears("reenter_new_passcode")
        .presses("3691470#")
        .sets_passcode("1001", "3691470")
        .passcode_stored()
        .hears_announcement("passcode_changed")
        .hears("main_menu");
}

#[test]
fn voluntary_change_is_refused_before_the_minimum_days_have_passed() {
    let config = CallConfig {
        rules: PasscodeRules {
            min_days_between_changes: Some(11),
            ..PasscodeRules::default()
        },
        ..CallConfig::default()
    };
    // passcode set 10 days ago, 11 required
    at_main_menu(settled("1001"), config.clone())
        .presses("8")
        .hears("rule_change_too_soon main_menu");
    // 11 days ago: allowed
    at_main_menu(
        Login {
            passcode_set_on: Some(Day(TODAY.0 - 11)),
            ..settled("1001")
        },
        config,
    )
    .presses("8")
    .hears("enter_new_passcode");
}

// ---- the portal's admin passcode ----

#[test]
fn the_portals_number_as_mailbox_leads_to_the_admin_menu_and_greetings() {
    let mut phone = Phone::other_phone();
    phone
        .hears("enter_mailbox")
        .presses(&format!("{PORTAL_NUMBER}#"))
        .hears("enter_passcode")
        .presses("8642097#")
        .verifies(Account::PortalAdmin, "8642097")
        .login_ok(Login::default())
        .hears("admin_menu")
        .presses("1")
        .hears_announcement("record_business_hours_greeting tone")
        .is_recorded_for(RecordingKind::BusinessHoursGreeting)
        .presses("#")
        .recording_stops()
        .recorded_seconds(5.0)
        .hears("greeting_is <recording> admin_greeting_review")
        .presses("3")
        .hears("greeting_is <recording> admin_greeting_review")
        .presses("2")
        .hears_announcement("record_business_hours_greeting tone")
        .is_recorded_for(RecordingKind::BusinessHoursGreeting)
        .recorded_seconds(6.0)
        .hears("greeting_is <recording> admin_greeting_review")
        .presses("1")
        .saves_recording(Account::PortalAdmin, RecordingKind::BusinessHoursGreeting)
        .recording_stored()
        .hears_announcement("greeting_saved")
        .hears("admin_menu")
        .presses("#")
        .hears("admin_menu")
        .presses("2")
        .hears_announcement("record_after_hours_greeting tone")
        .is_recorded_for(RecordingKind::AfterHoursGreeting)
        .recorded_seconds(5.0)
        .hears("greeting_is <recording> admin_greeting_review")
        .presses("1")
        .saves_recording(Account::PortalAdmin, RecordingKind::AfterHoursGreeting)
        .recording_stored()
        .hears_announcement("greeting_saved")
        .hears("admin_menu")
        .presses("7")
        .hears("invalid_option admin_menu")
        .presses("9")
        .hears_announcement("goodbye")
        .is_hung_up();
}

#[test]
fn the_portals_extension_also_names_it_and_its_admin_passcode_locks_like_a_users() {
    Phone::own_phone("1001")
        .hears("welcome")
        .presses("*")
        .hears("enter_mailbox")
        .presses(&format!("{PORTAL_EXTENSION}#"))
        .hears("enter_passcode")
        .presses("1111000#")
        .verifies(Account::PortalAdmin, "1111000")
        .passcode_wrong()
        .hears("passcode_incorrect enter_passcode")
        .presses("1111001#")
        .verifies(Account::PortalAdmin, "1111001")
        .account_locked()
        .hears_announcement("locked_out goodbye")
        .is_hung_up();
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

// ---- robustness ----

#[test]
fn stale_prompt_ends_and_replies_are_ignored() {
    let mut phone = Phone::own_phone("1001");
    phone.hears_start_of("welcome").presses("1").prompt_stops();
    // a late end of the stopped welcome changes nothing: no first-digit timer replaces the inter-digit one
    let deadline = phone.call.poll_timeout();
    phone.input(portal_core::Input::PromptDone(portal_core::PlayId(1)));
    assert_eq!(phone.call.poll_timeout(), deadline);
    phone
        .input(portal_core::Input::Reply(
            portal_core::RequestId(77),
            Reply::PasscodeSet(SetOutcome::Changed),
        ))
        .silence()
        .presses("357924#")
        .verifies_mailbox("1001", "1357924");
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
