//! A call from INVITE to BYE: answering, the ACK, CANCEL, re-INVITE, INFO, the resend timers, and the
//! same call over IPv6, TCP and from a branchless RFC 2543 peer.

use super::*;

#[test]
fn invite_is_trying_at_once_and_offered_to_the_application() {
    let mut harness = Harness::new();
    harness.feed(&invite("z9hG4bKinv1", Some(OFFER)));
    let sent = harness.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, PHONE.parse().unwrap());
    let trying = String::from_utf8(sent[0].bytes.clone()).unwrap();
    assert!(trying.starts_with("SIP/2.0 100 Trying\r\n"));
    assert_eq!(header(&trying, "Call-ID"), Some("call-1@192.0.2.10"));
    assert_eq!(header(&trying, "CSeq"), Some("1 INVITE"));
    let events = harness.events();
    let [Event::IncomingCall(call)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(call.request_uri_user.as_deref(), Some("8000"));
    assert_eq!(call.from_user.as_deref(), Some("1001"));
    assert_eq!(call.from_display.as_deref(), Some("Alice Caller"));
    assert_eq!(call.to_user.as_deref(), Some("8000"));
    assert_eq!(call.remote, PHONE.parse().unwrap());
    assert_eq!(call.offer.as_ref().unwrap().media[0].port, 4000);
}

#[test]
fn ok_is_resent_with_doubling_intervals_capped_at_t2_until_ack() {
    let mut harness = Harness::new();
    let call = harness.incoming_call();
    let tag = harness.answer(call);
    let resends = harness.run_until(Duration::from_millis(15_600));
    let times: Vec<u128> = resends.iter().map(|(at, _)| *at).collect();
    assert_eq!(times, [500, 1500, 3500, 7500, 11_500, 15_500]);
    assert!(resends.iter().all(|(_, line)| line == "SIP/2.0 200 OK"));
    harness.feed(&ack(&tag, 1));
    assert_eq!(harness.events(), [Event::CallAcked { call, answer: None }]);
    assert!(harness.run_until(Duration::from_secs(60)).is_empty());
    assert_eq!(harness.endpoint.call_count(), 1);
}

#[test]
fn ok_carries_contact_to_tag_and_sdp() {
    let mut harness = Harness::new();
    let call = harness.incoming_call();
    let (answer, _) =
        sdp::negotiate(&SessionDescription::parse(OFFER).unwrap(), &local_media()).unwrap();
    harness.endpoint.answer(harness.now, call, &answer).unwrap();
    let ok = String::from_utf8(harness.sent().remove(0).bytes).unwrap();
    assert_eq!(
        header(&ok, "Contact"),
        Some("<sip:vportal@198.51.100.1:5060>")
    );
    assert_eq!(header(&ok, "Content-Type"), Some("application/sdp"));
    assert!(
        header(&ok, "To")
            .unwrap()
            .starts_with("<sip:8000@example.com>;tag=")
    );
    assert!(ok.ends_with(&answer.to_string()));
    assert_eq!(
        header(&ok, "Content-Length"),
        Some(answer.to_string().len().to_string().as_str())
    );
}

#[test]
fn missing_ack_fails_the_call_after_timer_h_and_ends_it_with_bye() {
    let mut harness = Harness::new();
    let call = harness.incoming_call();
    harness.answer(call);
    let sent = harness.run_until(Duration::from_millis(31_999));
    assert!(sent.iter().all(|(_, line)| line == "SIP/2.0 200 OK"));
    assert!(harness.events().is_empty());
    let sent = harness.run_until(Duration::from_secs(32));
    assert_eq!(
        harness.events(),
        [Event::CallFailed {
            call,
            reason: CallFailure::NoAck
        }]
    );
    assert_eq!(
        sent.last().map(|(_, line)| line.as_str()),
        Some("BYE sip:1001@192.0.2.10:5062 SIP/2.0")
    );
}

#[test]
fn cancel_before_answer_gets_200_and_the_invite_487() {
    let mut harness = Harness::new();
    let call = harness.incoming_call();
    let cancel = "CANCEL sip:8000@198.51.100.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKinv1\r\n\
From: \"Alice Caller\" <sip:1001@example.com>;tag=caller1\r\n\
To: <sip:8000@example.com>\r\n\
Call-ID: call-1@192.0.2.10\r\n\
CSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n";
    harness.feed(cancel);
    let sent = harness.sent();
    let texts: Vec<String> = sent
        .iter()
        .map(|t| String::from_utf8(t.bytes.clone()).unwrap())
        .collect();
    assert!(texts[0].starts_with("SIP/2.0 200 OK\r\n"));
    assert_eq!(header(&texts[0], "CSeq"), Some("1 CANCEL"));
    assert!(texts[1].starts_with("SIP/2.0 487 Request Terminated\r\n"));
    assert_eq!(header(&texts[1], "CSeq"), Some("1 INVITE"));
    assert_eq!(harness.events(), [Event::CallCancelled { call }]);
    // Timer G resends the 487 until the ACK, which the INVITE transaction absorbs.
    let resends = harness.run_until(Duration::from_millis(600));
    assert_eq!(
        resends,
        [(500, "SIP/2.0 487 Request Terminated".to_owned())]
    );
    let tag = to_tag_of(&texts[1]);
    let ack = in_dialog("ACK", "z9hG4bKinv1", &tag, 1, "", "", "");
    harness.feed(&ack);
    assert!(harness.sent().is_empty());
    assert!(harness.events().is_empty());
    assert!(harness.run_until(Duration::from_secs(60)).is_empty());
    assert_eq!(harness.endpoint.call_count(), 0);
    assert_eq!(harness.endpoint.poll_timeout(), None);
}

#[test]
fn bye_from_caller_ends_the_call() {
    let mut harness = Harness::new();
    let (call, tag) = harness.established();
    harness.feed(&in_dialog("BYE", "z9hG4bKbye1", &tag, 2, "", "", ""));
    assert_eq!(harness.sent_lines(), ["SIP/2.0 200 OK"]);
    assert_eq!(
        harness.events(),
        [Event::CallEnded {
            call,
            by_remote: true
        }]
    );
    // A retransmitted BYE gets the same 200 from the transaction.
    harness.feed(&in_dialog("BYE", "z9hG4bKbye1", &tag, 2, "", "", ""));
    assert_eq!(harness.sent_lines(), ["SIP/2.0 200 OK"]);
    assert!(harness.events().is_empty());
    assert_eq!(harness.endpoint.call_count(), 0);
}

#[test]
fn our_bye_is_resent_until_its_200() {
    let mut harness = Harness::new();
    let (call, tag) = harness.established();
    harness.endpoint.hang_up(harness.now, call).unwrap();
    let sent = harness.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, PHONE.parse().unwrap());
    let bye = String::from_utf8(sent[0].bytes.clone()).unwrap();
    assert!(
        bye.starts_with("BYE sip:1001@192.0.2.10:5062 SIP/2.0\r\n"),
        "{bye}"
    );
    assert_eq!(
        header(&bye, "From"),
        Some(format!("<sip:8000@example.com>;tag={tag}").as_str())
    );
    assert_eq!(
        header(&bye, "To"),
        Some("\"Alice Caller\" <sip:1001@example.com>;tag=caller1")
    );
    assert_eq!(header(&bye, "CSeq"), Some("1 BYE"));
    assert_eq!(header(&bye, "Max-Forwards"), Some("70"));
    let resends = harness.run_until(Duration::from_millis(1600));
    assert_eq!(
        resends.iter().map(|(at, _)| *at).collect::<Vec<_>>(),
        [500, 1500]
    );
    let via = header(&bye, "Via").unwrap();
    let ok = format!(
        "SIP/2.0 200 OK\r\nVia: {via}\r\nFrom: <sip:8000@example.com>;tag={tag}\r\n\
To: \"Alice Caller\" <sip:1001@example.com>;tag=caller1\r\nCall-ID: call-1@192.0.2.10\r\nCSeq: 1 BYE\r\n\
Content-Length: 0\r\n\r\n"
    );
    harness.feed(&ok);
    assert_eq!(
        harness.events(),
        [Event::CallEnded {
            call,
            by_remote: false
        }]
    );
    assert!(harness.run_until(Duration::from_secs(60)).is_empty());
    assert_eq!(harness.endpoint.call_count(), 0);
}

#[test]
fn unanswered_bye_times_out_with_timer_f() {
    let mut harness = Harness::new();
    let (call, _) = harness.established();
    harness.endpoint.hang_up(harness.now, call).unwrap();
    harness.sent();
    let resends = harness.run_until(Duration::from_secs(40));
    let times: Vec<u128> = resends.iter().map(|(at, _)| *at).collect();
    assert_eq!(
        times,
        [
            500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
    );
    assert_eq!(
        harness.events(),
        [Event::CallEnded {
            call,
            by_remote: false
        }]
    );
}

#[test]
fn hang_up_before_ack_waits_for_the_ack() {
    let mut harness = Harness::new();
    let call = harness.incoming_call();
    let tag = harness.answer(call);
    harness.endpoint.hang_up(harness.now, call).unwrap();
    assert!(harness.sent().is_empty());
    harness.feed(&ack(&tag, 1));
    assert_eq!(harness.events(), [Event::CallAcked { call, answer: None }]);
    assert_eq!(
        harness.sent_lines(),
        ["BYE sip:1001@192.0.2.10:5062 SIP/2.0"]
    );
}

#[test]
fn info_carries_key_presses() {
    let mut harness = Harness::new();
    let (call, tag) = harness.established();
    harness.feed(&in_dialog(
        "INFO",
        "z9hG4bKi1",
        &tag,
        2,
        "",
        "application/dtmf-relay",
        "Signal=5\r\nDuration=160\r\n",
    ));
    assert_eq!(harness.sent_lines(), ["SIP/2.0 200 OK"]);
    harness.feed(&in_dialog(
        "INFO",
        "z9hG4bKi2",
        &tag,
        3,
        "",
        "application/dtmf",
        "#",
    ));
    assert_eq!(harness.sent_lines(), ["SIP/2.0 200 OK"]);
    harness.feed(&in_dialog(
        "INFO",
        "z9hG4bKi3",
        &tag,
        4,
        "",
        "text/plain",
        "hello",
    ));
    assert_eq!(harness.sent_lines(), ["SIP/2.0 415 Unsupported Media Type"]);
    assert_eq!(
        harness.events(),
        [
            Event::Dtmf {
                call,
                digit: '5',
                duration: Some(Duration::from_millis(160))
            },
            Event::Dtmf {
                call,
                digit: '#',
                duration: None
            },
        ]
    );
}

#[test]
fn reinvite_for_hold_and_resume() {
    let mut harness = Harness::new();
    let (call, tag) = harness.established();
    for (cseq, direction, expected) in [
        (2, "sendonly", sdp::Direction::RecvOnly),
        (3, "sendrecv", sdp::Direction::SendRecv),
    ] {
        let offer = OFFER
            .replace("a=sendrecv", &format!("a={direction}"))
            .replace("o=phone 1 1", &format!("o=phone 1 {cseq}"));
        let branch = format!("z9hG4bKre{cseq}");
        harness.feed(&in_dialog(
            "INVITE",
            &branch,
            &tag,
            cseq,
            "Contact: <sip:1001@192.0.2.10:5062>\r\n",
            "application/sdp",
            &offer,
        ));
        assert_eq!(harness.sent_lines(), ["SIP/2.0 100 Trying"]);
        let events = harness.events();
        let [
            Event::MediaChanged {
                call: changed,
                offer: Some(offer),
            },
        ] = events.as_slice()
        else {
            panic!("{events:?}")
        };
        assert_eq!(*changed, call);
        let (answer, media) = sdp::negotiate(offer, &local_media()).unwrap();
        assert_eq!(media.direction, expected);
        harness.endpoint.answer(harness.now, call, &answer).unwrap();
        let ok = String::from_utf8(harness.sent().remove(0).bytes).unwrap();
        assert!(ok.starts_with("SIP/2.0 200 OK\r\n"));
        assert!(ok.contains(&format!("a={}\r\n", expected.as_str())));
        assert_eq!(to_tag_of(&ok), tag);
        harness.feed(&ack(&tag, cseq));
        assert_eq!(harness.events(), [Event::CallAcked { call, answer: None }]);
    }
}

#[test]
fn reinvite_moving_media_reports_the_new_address() {
    let mut harness = Harness::new();
    let (call, tag) = harness.established();
    let offer = OFFER
        .replace("c=IN IP4 192.0.2.10", "c=IN IP4 192.0.2.99")
        .replace("4000", "5000");
    harness.feed(&in_dialog(
        "INVITE",
        "z9hG4bKmove",
        &tag,
        2,
        "",
        "application/sdp",
        &offer,
    ));
    harness.sent();
    let events = harness.events();
    let [
        Event::MediaChanged {
            offer: Some(offer), ..
        },
    ] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    let (_, media) = sdp::negotiate(offer, &local_media()).unwrap();
    assert_eq!(media.remote_rtp, "192.0.2.99:5000".parse().unwrap());
    harness.endpoint.reject(harness.now, call, 488).unwrap();
    assert_eq!(harness.sent_lines(), ["SIP/2.0 488 Not Acceptable Here"]);
    assert_eq!(harness.endpoint.call_count(), 1);
}

#[test]
fn retransmitted_invite_is_absorbed() {
    let mut harness = Harness::new();
    let call = harness.incoming_call();
    harness.feed(&invite("z9hG4bKinv1", Some(OFFER)));
    assert_eq!(harness.sent_lines(), ["SIP/2.0 100 Trying"]);
    assert!(harness.events().is_empty());
    harness.answer(call);
    harness.feed(&invite("z9hG4bKinv1", Some(OFFER)));
    assert_eq!(harness.sent_lines(), ["SIP/2.0 200 OK"]);
    assert!(harness.events().is_empty());
}

#[test]
fn rejecting_a_call_resends_the_final_response_until_ack() {
    let mut harness = Harness::new();
    let call = harness.incoming_call();
    harness.endpoint.reject(harness.now, call, 486).unwrap();
    assert_eq!(harness.sent_lines(), ["SIP/2.0 486 Busy Here"]);
    harness.feed(&invite("z9hG4bKinv1", Some(OFFER)));
    assert_eq!(harness.sent_lines(), ["SIP/2.0 486 Busy Here"]);
    let resends = harness.run_until(Duration::from_secs(40));
    assert_eq!(resends.len(), 10, "{resends:?}");
    assert_eq!(harness.endpoint.poll_timeout(), None);
    assert_eq!(
        harness.endpoint.reject(harness.now, call, 486),
        Err(CallError::UnknownCall)
    );
    assert_eq!(
        harness.endpoint.reject(harness.now, CallHandle(99), 200),
        Err(CallError::InvalidStatus(200))
    );
}

#[test]
fn invite_without_sdp_gets_our_offer_and_the_answer_comes_in_the_ack() {
    let mut harness = Harness::new();
    harness.feed(&invite("z9hG4bKnosdp", None));
    harness.sent();
    let events = harness.events();
    let [Event::IncomingCall(incoming)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(incoming.offer, None);
    let offer = sdp::make_offer(&local_media());
    harness
        .endpoint
        .answer(harness.now, incoming.call, &offer)
        .unwrap();
    let ok = String::from_utf8(harness.sent().remove(0).bytes).unwrap();
    let tag = to_tag_of(&ok);
    let answer = OFFER.replace("0 8 101", "8 101");
    harness.feed(&in_dialog(
        "ACK",
        "z9hG4bKa",
        &tag,
        1,
        "",
        "application/sdp",
        &answer,
    ));
    let events = harness.events();
    let [
        Event::CallAcked {
            answer: Some(answer),
            ..
        },
    ] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    let media = sdp::negotiated_from_answer(&offer, answer).unwrap();
    assert_eq!(media.codec, sdp::Codec::Pcma);
}

#[test]
fn ipv6_call_end_to_end() {
    let mut harness = Harness::new();
    let phone = "[2001:db8::10]:5062";
    let offer = OFFER.replace("IN IP4 192.0.2.10", "IN IP6 2001:db8::10");
    let text = invite("z9hG4bKv6", Some(&offer))
        .replace(
            "INVITE sip:8000@198.51.100.1",
            "INVITE sip:8000@[2001:db8::1]",
        )
        .replace("192.0.2.10:5062", "[2001:db8::10]:5062");
    harness.feed_from(phone, &text);
    let sent = harness.sent();
    assert_eq!(sent[0].to, phone.parse().unwrap());
    let trying = String::from_utf8(sent[0].bytes.clone()).unwrap();
    assert_eq!(
        header(&trying, "Via"),
        Some("SIP/2.0/UDP [2001:db8::10]:5062;branch=z9hG4bKv6")
    );
    let events = harness.events();
    let [Event::IncomingCall(call)] = events.as_slice() else {
        panic!("{events:?}")
    };
    let local = sdp::LocalMedia::new("[2001:db8::1]:40000".parse().unwrap(), 1);
    let (answer, media) = sdp::negotiate(call.offer.as_ref().unwrap(), &local).unwrap();
    assert_eq!(media.remote_rtp, "[2001:db8::10]:4000".parse().unwrap());
    harness
        .endpoint
        .answer(harness.now, call.call, &answer)
        .unwrap();
    let ok = String::from_utf8(harness.sent().remove(0).bytes).unwrap();
    assert_eq!(
        header(&ok, "Contact"),
        Some("<sip:vportal@[2001:db8::1]:5060>")
    );
    assert!(ok.contains("c=IN IP6 2001:db8::1\r\n"));
    let tag = to_tag_of(&ok);
    harness.feed_from(
        phone,
        &ack(&tag, 1).replace("192.0.2.10:5062", "[2001:db8::10]:5062"),
    );
    harness.events();
    harness.endpoint.hang_up(harness.now, call.call).unwrap();
    let bye = harness.sent().remove(0);
    assert_eq!(bye.to, phone.parse().unwrap());
    let bye = String::from_utf8(bye.bytes).unwrap();
    assert!(
        bye.starts_with("BYE sip:1001@[2001:db8::10]:5062 SIP/2.0\r\n"),
        "{bye}"
    );
    assert!(
        header(&bye, "Via")
            .unwrap()
            .starts_with("SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK")
    );
}

#[test]
fn tcp_messages_are_framed_across_chunks() {
    let mut harness = Harness::new();
    let connection = Transport::Tcp(ConnectionId(9));
    let text = format!(
        "\r\n\r\n{}",
        invite("z9hG4bKtcp", Some(OFFER)).replace("UDP", "TCP")
    );
    let from: SocketAddr = PHONE.parse().unwrap();
    for chunk in text.as_bytes().chunks(37) {
        harness
            .endpoint
            .handle_datagram(harness.now, from, connection, chunk)
            .unwrap();
    }
    let sent = harness.sent();
    // The leading double CRLF is an RFC 5626 ping: a CRLF pong, then the INVITE's 100 Trying.
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].bytes, b"\r\n");
    assert_eq!(first_line(&sent[1].bytes), "SIP/2.0 100 Trying");
    assert!(sent.iter().all(|transmit| transmit.transport == connection));
    let events = harness.events();
    let [Event::IncomingCall(call)] = events.as_slice() else {
        panic!("{events:?}")
    };
    let (answer, _) = sdp::negotiate(call.offer.as_ref().unwrap(), &local_media()).unwrap();
    harness
        .endpoint
        .answer(harness.now, call.call, &answer)
        .unwrap();
    let ok = String::from_utf8(harness.sent().remove(0).bytes).unwrap();
    assert_eq!(
        header(&ok, "Contact"),
        Some("<sip:vportal@198.51.100.1:5060;transport=tcp>")
    );
    // A stream message without Content-Length cannot be framed: the connection must close.
    let broken = "OPTIONS sip:a@h SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKq\r\n\r\n";
    assert_eq!(
        harness
            .endpoint
            .handle_datagram(harness.now, from, connection, broken.as_bytes()),
        Err(FramingError::MissingContentLength)
    );
}

#[test]
fn legacy_branchless_retransmissions_are_matched_too() {
    let mut harness = Harness::new();
    let text = invite("old1", Some(OFFER));
    harness.feed(&text);
    assert_eq!(harness.sent_lines(), ["SIP/2.0 100 Trying"]);
    assert_eq!(harness.events().len(), 1);
    harness.feed(&text);
    assert_eq!(harness.sent_lines(), ["SIP/2.0 100 Trying"]);
    assert!(harness.events().is_empty());
}

#[test]
fn same_seed_same_bytes() {
    let run = || {
        let mut harness = Harness::new();
        let call = harness.incoming_call();
        harness.answer(call)
    };
    assert_eq!(run(), run());
}
