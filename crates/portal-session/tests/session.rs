//! A session's set-up, fed by hand: routing outcomes, offer and late offer, the answer delay, CANCEL and
//! shutdown at each phase, keys reported twice. Whole calls over the network are the pair tests' job
//! (crates/vportal/tests/pair_*.rs).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portal_core::{CallConfig, Caller, CallerMailbox, Day, Digit, PlayId};
use portal_media::dtmf::KeySource;
use portal_media::plane::MediaEvent;
use portal_media::prompts::PromptLibrary;
use portal_session::{
    DepositRoute, Route, Routing, Session, SessionConfig, SessionInput, SessionOutput,
};
use portal_sip::endpoint::{CallHandle, IncomingCall, Transport};
use portal_sip::sdp::{self, LocalMedia, SessionDescription};
use portal_store::{Policy, Portal};

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
const LOCAL_RTP: &str = "192.0.2.1:20000";

fn config(answer_after: Duration) -> Arc<SessionConfig> {
    let prompts = concat!(env!("CARGO_MANIFEST_DIR"), "/../../prompts");
    Arc::new(SessionConfig {
        voicemail_pilots: vec!["voicemail".into()],
        answer_after,
        call: CallConfig::default(),
        recording_end_silence: Duration::from_secs(3),
        prompts: Arc::new(PromptLibrary::load(prompts.as_ref(), &["en"]).unwrap()),
    })
}

fn incoming(dialed: &str, offer: bool) -> IncomingCall {
    IncomingCall {
        call: CallHandle(1),
        request_uri_user: Some(dialed.into()),
        from_user: Some("5551001".into()),
        asserted_user: None,
        identified_user: Some("5551001".into()),
        from_display: None,
        to_user: Some(dialed.into()),
        offer: offer.then(|| SessionDescription::parse(OFFER).unwrap()),
        remote: "192.0.2.10:5060".parse().unwrap(),
        transport: Transport::Udp,
        call_id: "session-test".into(),
        redirection: None,
        urgent: false,
    }
}

fn found() -> Routing {
    Routing::Found(Box::new(Route {
        portal: Portal {
            id: "main".into(),
            name: "Main office".into(),
            number: Some("5558000".into()),
            extension: Some("8000".into()),
            language: "en".into(),
            admin_passcode_set: true,
            admin_failed_attempts: 0,
            admin_locked_at: None,
            business_hours_greeting: None,
            after_hours_greeting: None,
            time_zone: None,
        },
        policy: Policy::default(),
        caller: Caller::Recognised(CallerMailbox {
            mailbox: "1001".into(),
            has_passcode: true,
        }),
        today: Day(20_000),
        deposit: None,
    }))
}

fn drain(session: &mut Session) -> Vec<SessionOutput> {
    std::iter::from_fn(|| session.poll_output()).collect()
}

/// Routes and opens media; returns what followed the media.
fn set_up(session: &mut Session, now: Instant) -> Vec<SessionOutput> {
    assert!(matches!(
        drain(session).as_slice(),
        [SessionOutput::Route(query)] if query.dialed == "5558000" && query.caller.as_deref() == Some("5551001")
    ));
    session.handle(SessionInput::Routed(found()), now);
    match drain(session).as_slice() {
        // The offer's address places the call; a late offer has none yet.
        [SessionOutput::OpenMedia { remote_hint }] => assert!(
            remote_hint.is_none_or(|hint| hint == "192.0.2.10:4000".parse().unwrap()),
            "{remote_hint:?}"
        ),
        other => panic!("{other:?}"),
    }
    session.handle(
        SessionInput::MediaOpened(Some(LOCAL_RTP.parse().unwrap())),
        now,
    );
    drain(session)
}

/// Routes, opens media, and acknowledges an answered offer; returns what followed the ACK.
fn answered(session: &mut Session, now: Instant) -> Vec<SessionOutput> {
    let outputs = set_up(session, now);
    assert!(matches!(
        outputs.as_slice(),
        [SessionOutput::Answer(_), SessionOutput::Stream(_)]
    ));
    session.handle(SessionInput::Acked(None), now);
    drain(session)
}

#[test]
fn an_offer_is_answered_at_once_the_stream_starts_and_the_welcome_waits_for_the_ack() {
    let now = Instant::now();
    let mut session = Session::new(incoming("5558000", true), config(Duration::ZERO), 9);
    let outputs = set_up(&mut session, now);
    assert!(matches!(&outputs[0], SessionOutput::Answer(answer) if answer.media[0].port == 20_000));
    assert!(matches!(&outputs[1], SessionOutput::Stream(setup)
        if setup.remote == "192.0.2.10:4000".parse::<SocketAddr>().unwrap() && setup.telephone_event_pt == Some(101)));
    assert_eq!(
        outputs.len(),
        2,
        "nothing plays before the ACK: {outputs:?}"
    );
    session.handle(SessionInput::Acked(None), now);
    let outputs = drain(&mut session);
    assert!(
        matches!(outputs.as_slice(), [SessionOutput::Play(_, items)] if items.len() == 1),
        "{outputs:?}"
    );
    session.handle(SessionInput::Acked(None), now);
    assert!(
        drain(&mut session).is_empty(),
        "a second ACK changes nothing"
    );
    assert!(!session.is_finished());
}

#[test]
fn unknown_numbers_failures_and_a_stopping_server_are_refused_with_their_status() {
    for (routing, status) in [
        (Routing::NotFound, 404),
        (Routing::Failed, 500),
        (Routing::Unavailable, 503),
    ] {
        let mut session = Session::new(incoming("5550000", true), config(Duration::ZERO), 9);
        drain(&mut session);
        session.handle(SessionInput::Routed(routing), Instant::now());
        let outputs = drain(&mut session);
        assert!(
            matches!(outputs.as_slice(), [SessionOutput::Reject(s), SessionOutput::Finished] if *s == status),
            "{outputs:?}"
        );
    }
    let mut session = Session::new(incoming("5558000", true), config(Duration::ZERO), 9);
    drain(&mut session);
    session.handle(SessionInput::Routed(found()), Instant::now());
    drain(&mut session);
    session.handle(SessionInput::MediaOpened(None), Instant::now());
    assert!(matches!(
        drain(&mut session).as_slice(),
        [SessionOutput::Reject(503), SessionOutput::Finished]
    ));
}

#[test]
fn the_answer_waits_for_its_delay_and_a_cancel_meanwhile_sends_nothing() {
    let now = Instant::now();
    let delay = Duration::from_millis(1500);
    let mut session = Session::new(incoming("5558000", true), config(delay), 9);
    assert!(
        set_up(&mut session, now).is_empty(),
        "nothing before the delay"
    );
    assert_eq!(session.poll_timeout(), Some(now + delay));
    session.handle_timeout(now + Duration::from_millis(1000));
    assert!(
        drain(&mut session).is_empty(),
        "an early wake-up does nothing"
    );
    session.handle_timeout(now + delay);
    assert!(matches!(
        drain(&mut session).first(),
        Some(SessionOutput::Answer(_))
    ));

    let mut cancelled = Session::new(incoming("5558000", true), config(delay), 9);
    set_up(&mut cancelled, now);
    cancelled.handle(SessionInput::Ended, now + Duration::from_millis(100));
    assert!(matches!(
        drain(&mut cancelled).as_slice(),
        [SessionOutput::Finished]
    ));

    let mut stopping = Session::new(incoming("5558000", true), config(delay), 9);
    set_up(&mut stopping, now);
    stopping.handle(SessionInput::Shutdown, now);
    assert!(matches!(
        drain(&mut stopping).as_slice(),
        [SessionOutput::Reject(503), SessionOutput::Finished]
    ));
}

#[test]
fn a_late_offer_is_answered_by_the_ack_or_the_call_hangs_up() {
    let now = Instant::now();
    let mut session = Session::new(incoming("5558000", false), config(Duration::ZERO), 9);
    let outputs = set_up(&mut session, now);
    let offer = match outputs.as_slice() {
        [SessionOutput::Answer(offer)] => offer.clone(),
        other => panic!("our offer first: {other:?}"),
    };
    // The phone answers our offer in its ACK.
    let phone = LocalMedia::new("192.0.2.10:4000".parse().unwrap(), 3);
    let (answer, _) = sdp::negotiate(&offer, &phone).unwrap();
    session.handle(SessionInput::Acked(Some(answer)), now);
    let outputs = drain(&mut session);
    assert!(matches!(&outputs[0], SessionOutput::Stream(setup) if setup.remote.port() == 4000));
    assert!(matches!(&outputs[1], SessionOutput::Play(..)));

    let mut no_answer = Session::new(incoming("5558000", false), config(Duration::ZERO), 9);
    set_up(&mut no_answer, now);
    no_answer.handle(SessionInput::Acked(None), now);
    assert!(matches!(
        drain(&mut no_answer).as_slice(),
        [SessionOutput::HangUp, SessionOutput::Finished]
    ));
}

#[test]
fn a_key_reported_by_info_and_by_rtp_counts_once_and_a_bye_ends_the_session_quietly() {
    let now = Instant::now();
    let mut session = Session::new(incoming("5558000", true), config(Duration::ZERO), 9);
    let outputs = answered(&mut session, now);
    let SessionOutput::Play(welcome, _) = &outputs[0] else {
        panic!("{outputs:?}")
    };
    let welcome: PlayId = *welcome;
    let key = |digit| {
        SessionInput::Media(MediaEvent::Key {
            call: first_media_call(),
            digit,
            source: KeySource::TelephoneEvent,
        })
    };
    session.handle(key(Digit::Number(1)), now);
    session.handle(
        SessionInput::InfoDigit('1'),
        now + Duration::from_millis(30),
    );
    let outputs = drain(&mut session);
    assert!(
        matches!(outputs.as_slice(), [SessionOutput::StopPlayback]),
        "barge-in once: {outputs:?}"
    );
    session.handle(
        SessionInput::Media(MediaEvent::PlaylistDone {
            call: first_media_call(),
            play: welcome,
        }),
        now,
    );
    session.handle(SessionInput::Ended, now + Duration::from_secs(1));
    let outputs = drain(&mut session);
    assert!(
        matches!(outputs.last(), Some(SessionOutput::Finished)),
        "{outputs:?}"
    );
    assert!(
        !outputs
            .iter()
            .any(|output| matches!(output, SessionOutput::HangUp)),
        "no BYE after the caller's"
    );
}

/// A media call id: the session ignores it (the driver routed the event by it already).
fn first_media_call() -> portal_media::plane::MediaCallId {
    let mut plane = portal_media::plane::MediaPlane::new(1, portal_media::plane::WallClock::now());
    plane.add_socket(LOCAL_RTP.parse().unwrap());
    plane.open(Instant::now(), None).unwrap()
}

#[test]
fn an_input_the_call_never_asked_for_is_a_driver_error_that_ends_the_call() {
    let now = Instant::now();
    let mut session = Session::new(incoming("5558000", true), config(Duration::ZERO), 9);
    answered(&mut session, now);
    // A second routing answer: the driver has mixed two calls up.
    let fed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        session.handle(SessionInput::Routed(found()), now)
    }));
    if cfg!(debug_assertions) {
        // Debug builds stop on the bug, so tests find it.
        let message = fed.unwrap_err();
        let message = message.downcast_ref::<String>().unwrap();
        assert!(message.starts_with("driver error"), "{message}");
    } else {
        // Release builds end the call rather than guess.
        assert!(matches!(
            drain(&mut session).as_slice(),
            [SessionOutput::HangUp, SessionOutput::Finished]
        ));
    }
}

#[test]
fn a_caller_who_hangs_up_while_leaving_a_message_keeps_it_and_no_bye_is_sent() {
    let now = Instant::now();
    let mut forwarded = incoming("5558000", true);
    forwarded.redirection = Some(portal_sip::redirection::Redirection {
        target: "5551002".into(),
        cause: portal_sip::redirection::RedirectCause::Busy,
    });
    forwarded.urgent = true;
    forwarded.from_display = Some("Ann".into());
    let mut session = Session::new(forwarded, config(Duration::ZERO), 9);
    assert!(matches!(
        drain(&mut session).as_slice(),
        [SessionOutput::Route(query)] if query.redirection.as_ref().is_some_and(|r| r.target == "5551002")
    ));
    let greeting: Arc<[i16]> = Arc::from(vec![100i16; 8000]);
    let Routing::Found(mut route) = found() else {
        unreachable!()
    };
    route.caller = Caller::Unrecognised;
    route.deposit = Some(DepositRoute {
        mailbox: "1002".into(),
        cause: portal_sip::redirection::RedirectCause::Busy,
        number: "5551002".into(),
        name: None,
        busy_greeting: Some(Arc::clone(&greeting)),
        no_answer_greeting: None,
        room: Duration::from_secs(600),
    });
    session.handle(SessionInput::Routed(Routing::Found(route)), now);
    drain(&mut session);
    session.handle(
        SessionInput::MediaOpened(Some(LOCAL_RTP.parse().unwrap())),
        now,
    );
    drain(&mut session);
    session.handle(SessionInput::Acked(None), now);
    // The user's busy greeting (the stored samples, shared), "leave a message", the tone.
    let outputs = drain(&mut session);
    let [SessionOutput::Play(play, items)] = outputs.as_slice() else {
        panic!("{outputs:?}")
    };
    assert_eq!(items.len(), 3);
    assert!(
        matches!(&items[0], portal_media::prompts::PlayItem::Samples(samples) if Arc::ptr_eq(samples, &greeting))
    );
    let play = *play;
    session.handle(
        SessionInput::Media(MediaEvent::PlaylistDone {
            call: first_media_call(),
            play,
        }),
        now,
    );
    assert!(matches!(
        drain(&mut session).as_slice(),
        [SessionOutput::Record(_)]
    ));
    // The caller hangs up: the recording is asked for, and the session waits for it.
    session.handle(SessionInput::Ended, now + Duration::from_secs(3));
    assert!(matches!(
        drain(&mut session).as_slice(),
        [SessionOutput::StopRecording]
    ));
    assert!(!session.is_finished());
    session.handle(
        SessionInput::Media(MediaEvent::RecordingDone {
            call: first_media_call(),
            recording: portal_media::recording::Recording {
                samples: vec![7; 24_000],
                end: portal_media::recording::RecordingEnd::Stopped,
            },
        }),
        now + Duration::from_secs(3),
    );
    let outputs = drain(&mut session);
    let [SessionOutput::Store(job)] = outputs.as_slice() else {
        panic!("{outputs:?}")
    };
    assert!(matches!(
        &job.request,
        portal_core::Request::DepositMessage { mailbox, caller_number, caller_name, urgent: true, .. }
            if mailbox == "1002" && caller_number.as_deref() == Some("5551001") && caller_name.as_deref() == Some("Ann")
    ));
    assert_eq!(job.audio.as_ref().map(|audio| audio.len()), Some(24_000));
    session.handle(
        SessionInput::StoreReply(job.id, portal_core::Reply::MessageDeposited(true)),
        now + Duration::from_secs(3),
    );
    let outputs = drain(&mut session);
    assert!(
        matches!(outputs.last(), Some(SessionOutput::Finished)),
        "{outputs:?}"
    );
    assert!(
        !outputs
            .iter()
            .any(|output| matches!(output, SessionOutput::HangUp | SessionOutput::Play(..))),
        "nothing more for a caller who is gone: {outputs:?}"
    );
}
