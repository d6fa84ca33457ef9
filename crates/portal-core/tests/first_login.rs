//! Transcripts of a first login and the other forced changes: the new passcode and its rules, the personalized
//! name, expiry, and what hanging up midway leaves owed.

mod support;

use portal_core::{
    Account, Audit, CallConfig, ChangeReason, Day, EndReason, Login, PasscodeRules, RecordingKind,
    Reply, RuleViolation, SetOutcome,
};
use support::*;

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
