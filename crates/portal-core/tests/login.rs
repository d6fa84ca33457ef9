//! Transcripts of logging in: the welcome on one's own phone, the star key and `enter_mailbox` from another
//! phone, wrong passcodes, the lockout, the portal's admin passcode.

mod support;

use portal_core::{
    Account, Audit, CallConfig, CallContext, Caller, CallerMailbox, Dialed, EndReason, Reply,
};
use support::*;

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
