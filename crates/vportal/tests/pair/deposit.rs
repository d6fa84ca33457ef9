//! Leaving a message: a trusted PBX forwards a call for a user who did not answer (Diversion), the caller
//! hears the user's name and "is not available", the tone, speaks and hangs up; the message is in the store
//! with the length spoken (seed 002: "Users ... access their voicemail messages").

use std::time::Duration;

use portal_core::PromptId as P;
use portal_store::{AccountStore, Folder, Moment, Source};

use crate::support::server::ServerTimers;
use crate::support::{Pair, PairOptions};

/// A pair whose first phone (10.0.1.2) is a trusted PBX.
fn with_trusted_pbx() -> Pair {
    Pair::new(PairOptions {
        timers: ServerTimers {
            trusted: vec!["10.0.1.2/32".parse().unwrap()],
            ..ServerTimers::default()
        },
        ..PairOptions::default()
    })
}

const DIVERSION: &str = "Diversion: <sip:5551001@pbx.example>;reason=no-answer;counter=1";

#[test]
fn a_caller_forwarded_by_a_trusted_pbx_speaks_three_seconds_hangs_up_and_the_message_is_kept() {
    let mut pair = with_trusted_pbx();
    let phone = pair.call_with("5552000", "5558000", |config| {
        config.invite_headers = vec![DIVERSION.into(), "Priority: urgent".into()];
    });
    pair.hears(phone, P::IsNotAvailable)
        .hears(phone, P::LeaveMessage)
        .hears(phone, P::Tone);
    // The caller speaks once the tone is over, as people do.
    let tone_over = pair.run_until(Duration::from_secs(2), |pair| {
        pair.phone(phone).playing() != Some(P::Tone)
    });
    assert!(tone_over);
    pair.says(phone, Duration::from_secs(3));
    pair.run_for(Duration::from_secs(3));
    pair.hang_up(phone).until_over(phone);

    let transcript = pair.transcript(phone);
    // The demo's user 1001 has a name recorded (2 s): it stands in for the greetings they have not recorded.
    assert!(transcript[0].starts_with("<audio"), "{transcript:?}");
    assert_eq!(
        transcript[1..],
        ["is_not_available", "leave_message", "tone"]
    );
    // The demo seeds two messages for 1001; the third is this caller's.
    let list = pair.server.store.list_messages("1001").unwrap();
    let [message] = deposited_by(&list, "5552000")[..] else {
        panic!("{list:?}")
    };
    assert_eq!(message.folder, Folder::New);
    assert!(message.urgent);
    assert!(!message.heard);
    // What the phone said, to a frame: the recording starts as the tone ends at the portal, the phone's audio
    // a millisecond later (the link's latency), and the hang-up ends it.
    assert!(
        message.duration_ms.abs_diff(3_000) <= 20,
        "{} ms",
        message.duration_ms
    );
    assert!(
        pair.audit_kinds("1001")
            .contains(&"message_deposited".to_owned())
    );
}

#[test]
fn the_same_diversion_from_a_peer_that_is_not_trusted_gets_the_ordinary_portal() {
    let mut pair = Pair::new(PairOptions::default());
    let phone = pair.call_with("5552000", "5558000", |config| {
        config.invite_headers = vec![DIVERSION.into()];
    });
    pair.hears(phone, P::EnterMailbox)
        .hang_up(phone)
        .until_over(phone);
    let list = pair.server.store.list_messages("1001").unwrap();
    assert!(deposited_by(&list, "5552000").is_empty(), "{list:?}");
}

#[test]
fn the_trusted_diversion_to_a_user_without_voicemail_gets_the_ordinary_portal() {
    let mut pair = with_trusted_pbx();
    pair.server
        .store
        .set_voicemail("1001", false, Moment::now_utc(), &Source::Admin)
        .unwrap();
    let phone = pair.call_with("5552000", "5558000", |config| {
        config.invite_headers = vec![DIVERSION.into()];
    });
    pair.hears(phone, P::EnterMailbox)
        .hang_up(phone)
        .until_over(phone);
    let transcript = pair.transcript(phone);
    assert!(
        !transcript.iter().any(|said| said == "is_not_available"),
        "{transcript:?}"
    );
    let list = pair.server.store.list_messages("1001").unwrap();
    assert!(deposited_by(&list, "5552000").is_empty(), "{list:?}");
}

#[test]
fn the_owner_calling_their_own_forwarded_number_gets_the_login() {
    let mut pair = with_trusted_pbx();
    let phone = pair.call_with("5551001", "5558000", |config| {
        config.invite_headers = vec![DIVERSION.into()];
    });
    pair.hears(phone, P::Welcome)
        .hang_up(phone)
        .until_over(phone);
}

#[test]
fn a_redirection_to_a_number_without_a_mailbox_gets_the_ordinary_portal() {
    let mut pair = with_trusted_pbx();
    let phone = pair.call_with("5552000", "5558000", |config| {
        config.invite_headers =
            vec!["Diversion: <sip:5559999@pbx.example>;reason=user-busy".into()];
    });
    pair.hears(phone, P::EnterMailbox)
        .hang_up(phone)
        .until_over(phone);
}

/// The messages of `list` whose caller is `number`.
fn deposited_by<'a>(
    list: &'a portal_store::MessageList,
    number: &str,
) -> Vec<&'a portal_store::MessageSummary> {
    list.messages
        .iter()
        .filter(|message| message.caller_number.as_deref() == Some(number))
        .collect()
}
