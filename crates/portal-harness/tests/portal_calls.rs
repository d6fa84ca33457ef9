//! End-to-end calls to a real `vportal serve`, over loopback, with the harness phone.

mod support;

use std::time::Duration;

use portal_harness::{
    Codec, DtmfMode, Expect, HangUpBy, Phone, PromptId as P, ReceivedKind, ReceivedSip,
    SipTransport, script,
};
use support::{Server, WAIT, check, dial};

/// The settled user's whole short call: welcome, passcode, main menu, 9, goodbye, the portal hangs up.
/// Returns the server and the ended call, to look at.
fn settled_user_logs_in_and_leaves(
    name: &str,
    adjust: impl FnOnce(&mut portal_harness::DialOptions),
) -> (Server, Phone) {
    let server = Server::start(name);
    let mut options = server.call("5551001");
    adjust(&mut options);
    let phone = dial(&server, options);
    check(&server, &phone, phone.wait_for(&[P::Welcome], WAIT));
    check(&server, &phone, phone.press("1357924#"));
    check(&server, &phone, phone.wait_for(&[P::MainMenu], WAIT));
    check(&server, &phone, phone.press("9"));
    check(&server, &phone, phone.wait_for(&[P::Goodbye], WAIT));
    check(&server, &phone, phone.wait_for_hang_up(WAIT));
    assert_eq!(phone.hung_up_by(), Some(HangUpBy::Portal));
    println!("{}", phone.transcript().join("\n"));
    (server, phone)
}

/// Whether a message's topmost Via names TCP.
fn via_is_tcp(message: &ReceivedSip) -> bool {
    message
        .top_via
        .as_deref()
        .is_some_and(|via| via.starts_with("SIP/2.0/TCP "))
}

#[test]
fn settled_user_over_tcp_and_the_portal_hangs_up_on_the_connection() {
    let (_server, phone) = settled_user_logs_in_and_leaves("tcp", |options| {
        options.transport = SipTransport::Tcp;
    });
    assert_eq!(phone.transport(), SipTransport::Tcp);
    let received = phone.sip_received();
    let answer = received
        .iter()
        .find(|m| m.kind == ReceivedKind::Response(200) && m.cseq.as_deref() == Some("1 INVITE"))
        .unwrap_or_else(|| panic!("no 200 for the INVITE: {received:?}"));
    assert!(via_is_tcp(answer), "{answer:?}");
    // The portal writes its Contact from the transport the INVITE really came over.
    let target = phone.remote_target().expect("a dialog");
    assert!(target.ends_with(";transport=tcp"), "{target}");
    // The portal's BYE came on the connection, with the portal's own Via saying TCP.
    let bye = received
        .iter()
        .find(|m| m.kind == ReceivedKind::Request("BYE".into()))
        .unwrap_or_else(|| panic!("no BYE from the portal: {received:?}"));
    assert!(via_is_tcp(bye), "{bye:?}");
    assert!(
        phone
            .transcript()
            .iter()
            .any(|line| line.contains("over TCP")),
        "{:?}",
        phone.transcript()
    );
}

#[test]
fn sip_info_keys_and_our_bye_over_tcp() {
    let server = Server::start("tcp_info");
    let mut options = server.call("5551001");
    options.transport = SipTransport::Tcp;
    options.dtmf_mode = DtmfMode::SipInfo;
    let phone = dial(&server, options);
    check(&server, &phone, phone.wait_for(&[P::Welcome], WAIT));
    check(&server, &phone, phone.press("1357924#"));
    check(&server, &phone, phone.wait_for(&[P::MainMenu], WAIT));
    check(&server, &phone, phone.hang_up());
    assert_eq!(phone.hung_up_by(), Some(HangUpBy::Us));
    let received = phone.sip_received();
    // Every INFO (one per key) and our BYE got their 200 on the connection.
    let answered = |method: &str| {
        received
            .iter()
            .filter(|m| {
                m.kind == ReceivedKind::Response(200)
                    && m.cseq.as_deref().is_some_and(|c| c.ends_with(method))
                    && via_is_tcp(m)
            })
            .count()
    };
    assert_eq!(answered(" INFO"), 8, "{received:?}");
    assert_eq!(answered(" BYE"), 1, "{received:?}");
}

#[test]
fn settled_user_with_rfc4733_keys() {
    settled_user_logs_in_and_leaves("rfc4733", |_| {});
}

#[test]
fn settled_user_with_sip_info_keys() {
    settled_user_logs_in_and_leaves("sip_info", |options| {
        options.dtmf_mode = DtmfMode::SipInfo;
    });
}

#[test]
fn settled_user_with_inband_keys() {
    settled_user_logs_in_and_leaves("inband", |options| {
        options.dtmf_mode = DtmfMode::Inband;
        options.telephone_event_pt = None;
    });
}

#[test]
fn settled_user_with_telephone_event_at_96() {
    settled_user_logs_in_and_leaves("te96", |options| {
        options.telephone_event_pt = Some(96);
    });
}

#[test]
fn pcma_preferred_is_what_the_portal_plays() {
    let server = Server::start("pcma");
    let mut options = server.call("5551001");
    options.codecs = vec![Codec::Pcma, Codec::Pcmu];
    let phone = dial(&server, options);
    assert_eq!(phone.negotiated().codec, Codec::Pcma);
    assert_eq!(phone.negotiated().payload_type, 8);
    check(&server, &phone, phone.wait_for(&[P::Welcome], WAIT));
    check(&server, &phone, phone.press("1357924#"));
    check(&server, &phone, phone.wait_for(&[P::MainMenu], WAIT));
    check(&server, &phone, phone.hang_up());
    assert_eq!(phone.hung_up_by(), Some(HangUpBy::Us));
}

#[test]
fn a_wrong_passcode_is_announced_and_asked_again() {
    let server = Server::start("wrong_passcode");
    let phone = dial(&server, server.call("5551001"));
    check(&server, &phone, phone.wait_for(&[P::Welcome], WAIT));
    check(&server, &phone, phone.press("1111111#"));
    check(
        &server,
        &phone,
        phone.wait_for(&[P::PasscodeIncorrect, P::EnterPasscode], WAIT),
    );
    check(&server, &phone, phone.press("1357924#"));
    check(&server, &phone, phone.wait_for(&[P::MainMenu], WAIT));
    check(&server, &phone, phone.hang_up());
}

#[test]
fn first_login_changes_the_default_passcode_and_records_the_name() {
    let server = Server::start("first_login");
    let phone = dial(&server, server.call("5551002"));
    check(&server, &phone, phone.wait_for(&[P::Welcome], WAIT));
    check(&server, &phone, phone.press("2718281#"));
    check(
        &server,
        &phone,
        phone.wait_for(&[P::MustChangeAndRecordName], WAIT),
    );
    check(&server, &phone, phone.press("3691470#"));
    check(
        &server,
        &phone,
        phone.wait_for(&[P::ReenterNewPasscode], WAIT),
    );
    check(&server, &phone, phone.press("3691470#"));
    check(
        &server,
        &phone,
        phone.wait_for(&[P::PasscodeChanged, P::RecordName, P::Tone], WAIT),
    );
    check(
        &server,
        &phone,
        phone.say_samples(&script::test_speech(Duration::from_secs(2))),
    );
    check(&server, &phone, phone.press("#"));
    let heard = check(
        &server,
        &phone,
        phone.expect(
            &[
                Expect::Prompt(P::NameIs),
                Expect::Audio,
                Expect::Prompt(P::NameReview),
            ],
            WAIT,
        ),
    );
    // The recording played back is about what was said (trimmed, so a little more or less).
    let played = heard[1].duration;
    assert!(
        played >= Duration::from_millis(1500) && played <= Duration::from_millis(3500),
        "the recording played back for {played:?}"
    );
    check(&server, &phone, phone.press("1"));
    check(
        &server,
        &phone,
        phone.wait_for(&[P::NameSaved, P::MainMenu], WAIT),
    );
    check(&server, &phone, phone.hang_up());
    println!("{}", phone.transcript().join("\n"));

    // The next call with the new passcode goes straight to the main menu.
    let phone = dial(&server, server.call("5551002"));
    check(&server, &phone, phone.wait_for(&[P::Welcome], WAIT));
    check(&server, &phone, phone.press("3691470#"));
    check(&server, &phone, phone.wait_for(&[P::MainMenu], WAIT));
    check(&server, &phone, phone.hang_up());
}

#[test]
fn an_unknown_number_is_asked_for_the_mailbox() {
    let server = Server::start("unknown_number");
    let phone = dial(&server, server.call("5559999"));
    check(&server, &phone, phone.wait_for(&[P::EnterMailbox], WAIT));
    check(&server, &phone, phone.press("1001#"));
    check(&server, &phone, phone.wait_for(&[P::EnterPasscode], WAIT));
    check(&server, &phone, phone.press("1357924#"));
    check(&server, &phone, phone.wait_for(&[P::MainMenu], WAIT));
    check(&server, &phone, phone.press("9"));
    check(&server, &phone, phone.wait_for(&[P::Goodbye], WAIT));
    check(&server, &phone, phone.wait_for_hang_up(WAIT));
}

#[test]
fn star_during_welcome_barges_in_and_asks_for_the_mailbox() {
    let server = Server::start("star_key");
    let phone = dial(&server, server.call("5551001"));
    check(&server, &phone, phone.wait_for_start(P::Welcome, WAIT));
    check(&server, &phone, phone.press("*"));
    check(&server, &phone, phone.wait_for(&[P::EnterMailbox], WAIT));
    let heard = phone.heard();
    assert_eq!(heard[0].prompt, Some(P::Welcome));
    assert!(
        heard[0].cut,
        "the key should have stopped welcome: {heard:?}"
    );
    check(&server, &phone, phone.press("1001#"));
    check(&server, &phone, phone.wait_for(&[P::EnterPasscode], WAIT));
    check(&server, &phone, phone.press("1357924#"));
    check(&server, &phone, phone.wait_for(&[P::MainMenu], WAIT));
    check(&server, &phone, phone.hang_up());
}

#[test]
fn the_portal_number_as_mailbox_leads_to_the_admin_menu() {
    let server = Server::start("admin");
    let phone = dial(&server, server.call("5559999"));
    check(&server, &phone, phone.wait_for(&[P::EnterMailbox], WAIT));
    check(&server, &phone, phone.press("8000#"));
    check(&server, &phone, phone.wait_for(&[P::EnterPasscode], WAIT));
    check(&server, &phone, phone.press("8642097#"));
    check(&server, &phone, phone.wait_for(&[P::AdminMenu], WAIT));
    check(&server, &phone, phone.press("9"));
    check(&server, &phone, phone.wait_for(&[P::Goodbye], WAIT));
    check(&server, &phone, phone.wait_for_hang_up(WAIT));
}

#[test]
fn silence_gets_three_reprompts_then_goodbye_and_the_portal_hangs_up() {
    let server = Server::start("silence");
    let phone = dial(&server, server.call("5551001"));
    check(
        &server,
        &phone,
        phone.wait_for(
            &[
                P::Welcome,
                P::EnterPasscode,
                P::EnterPasscode,
                P::EnterPasscode,
                P::Goodbye,
            ],
            Duration::from_secs(90),
        ),
    );
    check(&server, &phone, phone.wait_for_hang_up(WAIT));
    assert_eq!(phone.hung_up_by(), Some(HangUpBy::Portal));
}

#[test]
fn a_number_that_is_no_portal_is_refused() {
    let server = Server::start("no_portal");
    let mut options = server.call("5551001");
    options.to = "5550000".into();
    match portal_harness::Phone::dial(options) {
        Err(portal_harness::HarnessError::Rejected { status, .. }) => assert_eq!(status, 404),
        other => panic!(
            "expected a 404, got {other:?}\n--- server log ---\n{}",
            server.log_tail(20)
        ),
    }
}

#[test]
fn a_script_runs_the_whole_call() {
    let server = Server::start("script");
    let phone = dial(&server, server.call("5551001"));
    let steps = script::parse(
        "expect welcome; press 1357924#; expect main_menu; press 9; expect goodbye; expect hangup",
    )
    .unwrap();
    check(&server, &phone, script::run(&phone, &steps, WAIT, |_| {}));
}
