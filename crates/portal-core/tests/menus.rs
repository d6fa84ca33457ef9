//! Transcripts of the menus a login leads to: the main menu with its voluntary passcode change, and the
//! portal's admin menu.

mod support;

use portal_core::{Account, CallConfig, Day, Login, PasscodeRules, RecordingKind};
use support::*;

#[test]
fn main_menu_repeats_on_pound_and_refuses_other_keys() {
    at_main_menu(settled("1001"), CallConfig::default())
        .presses("#")
        .hears("main_menu")
        .presses("2")
        .hears("invalid_option main_menu")
        .presses("*")
        .hears("invalid_option main_menu")
        .presses("9")
        .hears_announcement("goodbye")
        .is_hung_up();
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
