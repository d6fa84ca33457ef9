//! Not calling from one's own phone: the star key, then the mailbox number, then its passcode; the portal's own
//! number leads to the admin passcode and the auto-attendant greetings menu (seed: "If you are not calling
//! from your own phone, press the star key").

use portal_core::PromptId as P;

use crate::support::server::ServerTimers;
use crate::support::{Pair, PairOptions};

/// From a number no mailbox has: `enter_mailbox`, `account`, `enter_passcode`, `passcode`, then `menu` is heard
/// and left with 9. Returns the transcript.
fn star_key_login_then_leave(account: &str, passcode: &str, menu: P) -> Vec<String> {
    let mut pair = Pair::new(PairOptions::default());
    let phone = pair.call("5559999", "5558000");
    pair.hears(phone, P::EnterMailbox)
        .press(phone, &format!("{account}#"))
        .hears(phone, P::EnterPasscode)
        .press(phone, &format!("{passcode}#"))
        .hears(phone, menu)
        .press(phone, "9")
        .hears(phone, P::Goodbye)
        .until_over(phone);
    pair.transcript(phone)
}

#[test]
fn from_another_phone_the_mailbox_then_its_passcode_open_the_main_menu() {
    assert_eq!(
        star_key_login_then_leave("1001", "1357924", P::MainMenu),
        [
            "enter_mailbox (cut)",
            "enter_passcode (cut)",
            "main_menu (cut)",
            "goodbye"
        ]
    );
}

#[test]
fn the_star_key_at_the_welcome_of_ones_own_phone_asks_for_the_mailbox() {
    let mut pair = Pair::new(PairOptions::default());
    let phone = pair.call("5551001", "5558000");
    pair.hears(phone, P::Welcome)
        .press(phone, "*")
        .hears(phone, P::EnterMailbox)
        .press(phone, "1004#")
        .hears(phone, P::EnterPasscode)
        .press(phone, "2580147#")
        .hears(phone, P::MustRecordName)
        .hang_up(phone)
        .until_over(phone);
    assert_eq!(
        pair.transcript(phone)[..3],
        [
            "welcome (cut)",
            "enter_mailbox (cut)",
            "enter_passcode (cut)"
        ]
    );
    assert_eq!(pair.audit_kinds("1004").last().unwrap(), "login_ok");
    assert!(!pair.audit_kinds("1001").contains(&"login_ok".to_owned()));
}

#[test]
fn the_portals_own_extension_and_admin_passcode_open_the_greetings_menu() {
    assert_eq!(
        star_key_login_then_leave("8000", "8642097", P::AdminMenu),
        [
            "enter_mailbox (cut)",
            "enter_passcode (cut)",
            "admin_menu (cut)",
            "goodbye"
        ]
    );
}

/// A portal that vouches for no network: From is not believed, whoever it names.
fn trusting_nobody() -> Pair {
    Pair::new(PairOptions {
        timers: ServerTimers {
            identify_from: Vec::new(),
            ..ServerTimers::default()
        },
        ..PairOptions::default()
    })
}

#[test]
fn from_a_network_the_portal_does_not_vouch_for_a_users_number_reveals_nothing() {
    let mut pair = trusting_nobody();
    // A user's number, a user without a passcode, and no user at all: the same first prompt.
    for number in ["5551001", "5551005", "5559999"] {
        let phone = pair.call(number, "5558000");
        pair.hears(phone, P::EnterMailbox)
            .hang_up(phone)
            .until_over(phone);
        assert_eq!(pair.transcript(phone), ["enter_mailbox (cut)"], "{number}");
    }
    // The user still logs in, by the star-key path.
    let phone = pair.call("5551001", "5558000");
    pair.hears(phone, P::EnterMailbox)
        .press(phone, "1001#")
        .hears(phone, P::EnterPasscode)
        .press(phone, "1357924#")
        .hears(phone, P::MainMenu)
        .hang_up(phone)
        .until_over(phone);
    // The voicemail button needs to know who calls: without that, it reaches no portal.
    let button = pair.call("5551001", "voicemail");
    pair.until_over(button);
    assert_eq!(pair.phone(button).rejected(), Some(404));
}
