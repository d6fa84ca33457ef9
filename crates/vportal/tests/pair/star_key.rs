//! Not calling from one's own phone: the star key, then the mailbox number, then its passcode; the portal's own
//! number leads to the admin passcode and the auto-attendant greetings menu (seed: "If you are not calling
//! from your own phone, press the star key").

use portal_core::PromptId as P;

use crate::support::{Pair, PairOptions};

#[test]
fn from_another_phone_the_mailbox_then_its_passcode_open_the_main_menu() {
    let mut pair = Pair::new(PairOptions::default());
    let phone = pair.call("5559999", "5558000");
    pair.hears(phone, P::EnterMailbox)
        .press(phone, "1001#")
        .hears(phone, P::EnterPasscode)
        .press(phone, "1357924#")
        .hears(phone, P::MainMenu)
        .press(phone, "9")
        .hears(phone, P::Goodbye)
        .until_over(phone);
    assert_eq!(
        pair.transcript(phone),
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
    let mut pair = Pair::new(PairOptions::default());
    let phone = pair.call("5559999", "5558000");
    pair.hears(phone, P::EnterMailbox)
        .press(phone, "8000#")
        .hears(phone, P::EnterPasscode)
        .press(phone, "8642097#")
        .hears(phone, P::AdminMenu)
        .press(phone, "9")
        .hears(phone, P::Goodbye)
        .until_over(phone);
    assert_eq!(
        pair.transcript(phone),
        [
            "enter_mailbox (cut)",
            "enter_passcode (cut)",
            "admin_menu (cut)",
            "goodbye"
        ]
    );
}
