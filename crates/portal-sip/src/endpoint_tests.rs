use super::*;

const PHONE: &str = "192.0.2.10:5062";
const PORTAL: &str = "198.51.100.1:5060";

const OFFER: &str = "v=0\r\no=phone 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

/// One endpoint on a fake clock, as a test drives it.
struct Harness {
    endpoint: Endpoint,
    start: Instant,
    now: Instant,
}

fn config() -> Config {
    let mut config = Config::new(PORTAL.parse().unwrap());
    config
        .local_addrs
        .push("[2001:db8::1]:5060".parse().unwrap());
    config.rng_seed = Some(7);
    config
}

impl Harness {
    fn new() -> Harness {
        let start = Instant::now();
        Harness {
            endpoint: Endpoint::new(config()),
            start,
            now: start,
        }
    }

    fn feed_from(&mut self, from: &str, text: &str) {
        self.endpoint
            .handle_datagram(
                self.now,
                from.parse().unwrap(),
                Transport::Udp,
                text.as_bytes(),
            )
            .unwrap();
    }

    fn feed(&mut self, text: &str) {
        self.feed_from(PHONE, text);
    }

    fn sent(&mut self) -> Vec<Transmit> {
        std::iter::from_fn(|| self.endpoint.poll_transmit()).collect()
    }

    /// Start lines of what was sent.
    fn sent_lines(&mut self) -> Vec<String> {
        self.sent().iter().map(|t| first_line(&t.bytes)).collect()
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.endpoint.poll_event()).collect()
    }

    /// Runs timers up to `offset` from the start; returns (ms since start, start line) of each transmit.
    fn run_until(&mut self, offset: Duration) -> Vec<(u128, String)> {
        let until = self.start + offset;
        let mut sent = Vec::new();
        while let Some(at) = self.endpoint.poll_timeout().filter(|&at| at <= until) {
            self.now = at;
            self.endpoint.handle_timeout(at);
            for transmit in self.sent() {
                sent.push(((at - self.start).as_millis(), first_line(&transmit.bytes)));
            }
        }
        self.now = until;
        sent
    }

    /// An INVITE arrives and the call is offered; returns its handle.
    fn incoming_call(&mut self) -> CallHandle {
        self.feed(&invite("z9hG4bKinv1", Some(OFFER)));
        assert_eq!(self.sent_lines(), ["SIP/2.0 100 Trying"]);
        match self.events().as_slice() {
            [Event::IncomingCall(call)] => call.call,
            other => panic!("expected IncomingCall, got {other:?}"),
        }
    }

    /// Answers and returns our To tag from the 200.
    fn answer(&mut self, call: CallHandle) -> String {
        let sdp = SessionDescription::parse(OFFER).unwrap();
        let (answer, _) = sdp::negotiate(&sdp, &local_media()).unwrap();
        self.endpoint.answer(self.now, call, &answer).unwrap();
        let sent = self.sent();
        assert_eq!(sent.len(), 1);
        let text = String::from_utf8(sent[0].bytes.clone()).unwrap();
        assert!(text.starts_with("SIP/2.0 200 OK\r\n"), "{text}");
        to_tag_of(&text)
    }

    fn established(&mut self) -> (CallHandle, String) {
        let call = self.incoming_call();
        let tag = self.answer(call);
        self.feed(&ack(&tag, 1));
        assert_eq!(self.events(), [Event::CallAcked { call, answer: None }]);
        (call, tag)
    }
}

fn local_media() -> sdp::LocalMedia {
    sdp::LocalMedia::new("198.51.100.1:40000".parse().unwrap(), 1)
}

fn first_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.lines().next().unwrap_or("").to_owned()
}

fn to_tag_of(text: &str) -> String {
    let to = text.lines().find(|line| line.starts_with("To:")).unwrap();
    to.split("tag=").nth(1).unwrap().trim().to_owned()
}

fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        line.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(": "))
    })
}

fn with_body(head: &str, content_type: &str, body: &str) -> String {
    if body.is_empty() {
        format!("{head}Content-Length: 0\r\n\r\n")
    } else {
        format!(
            "{head}Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }
}

fn invite(branch: &str, sdp: Option<&str>) -> String {
    with_body(
        &format!(
            "INVITE sip:8000@198.51.100.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5062;branch={branch}\r\n\
Max-Forwards: 70\r\n\
From: \"Alice Caller\" <sip:1001@example.com>;tag=caller1\r\n\
To: <sip:8000@example.com>\r\n\
Call-ID: call-1@192.0.2.10\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:1001@192.0.2.10:5062>\r\n"
        ),
        "application/sdp",
        sdp.unwrap_or(""),
    )
}

fn in_dialog(
    method: &str,
    branch: &str,
    tag: &str,
    cseq: u32,
    extra: &str,
    content_type: &str,
    body: &str,
) -> String {
    with_body(
        &format!(
            "{method} sip:1001@192.0.2.10:5062 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5062;branch={branch}\r\n\
Max-Forwards: 70\r\n\
From: \"Alice Caller\" <sip:1001@example.com>;tag=caller1\r\n\
To: <sip:8000@example.com>;tag={tag}\r\n\
Call-ID: call-1@192.0.2.10\r\n\
CSeq: {cseq} {method}\r\n\
{extra}"
        ),
        content_type,
        body,
    )
}

fn ack(tag: &str, cseq: u32) -> String {
    in_dialog("ACK", "z9hG4bKack1", tag, cseq, "", "", "")
}

fn out_of_dialog(method: &str, extra: &str) -> String {
    format!(
        "{method} sip:8000@198.51.100.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKood\r\n\
From: <sip:1001@example.com>;tag=x\r\n\
To: <sip:8000@example.com>\r\n\
Call-ID: ood@192.0.2.10\r\n\
CSeq: 5 {method}\r\n\
{extra}Content-Length: 0\r\n\r\n"
    )
}

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
fn cancel_for_unknown_transaction_is_481() {
    let mut harness = Harness::new();
    harness.feed(&out_of_dialog("CANCEL", ""));
    assert_eq!(
        harness.sent_lines(),
        ["SIP/2.0 481 Call/Transaction Does Not Exist"]
    );
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
fn options_lists_allow_and_accept() {
    let mut harness = Harness::new();
    harness.feed(&out_of_dialog("OPTIONS", ""));
    let sent = harness.sent();
    let text = String::from_utf8(sent[0].bytes.clone()).unwrap();
    assert!(text.starts_with("SIP/2.0 200 OK\r\n"));
    assert_eq!(header(&text, "Allow"), Some(ALLOWED_METHODS));
    assert_eq!(header(&text, "Accept"), Some("application/sdp"));
}

#[test]
fn unknown_method_is_405_with_allow() {
    let mut harness = Harness::new();
    harness.feed(&out_of_dialog("NEWMETHOD", ""));
    let text = String::from_utf8(harness.sent().remove(0).bytes).unwrap();
    assert!(
        text.starts_with("SIP/2.0 405 Method Not Allowed\r\n"),
        "{text}"
    );
    assert_eq!(header(&text, "Allow"), Some(ALLOWED_METHODS));
    assert_eq!(header(&text, "CSeq"), Some("5 NEWMETHOD"));
    harness.feed(&out_of_dialog("REGISTER", ""));
    assert_eq!(harness.sent_lines(), ["SIP/2.0 405 Method Not Allowed"]);
}

#[test]
fn unknown_required_extension_is_420_with_unsupported() {
    let mut harness = Harness::new();
    harness.feed(&out_of_dialog("OPTIONS", "Require: 100rel, foo\r\n"));
    let text = String::from_utf8(harness.sent().remove(0).bytes).unwrap();
    assert!(text.starts_with("SIP/2.0 420 Bad Extension\r\n"));
    assert_eq!(header(&text, "Unsupported"), Some("100rel, foo"));
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
fn requests_in_unknown_dialogs_are_481() {
    let mut harness = Harness::new();
    harness.feed(&in_dialog("BYE", "z9hG4bKb", "nosuchtag", 2, "", "", ""));
    assert_eq!(
        harness.sent_lines(),
        ["SIP/2.0 481 Call/Transaction Does Not Exist"]
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
fn offer_without_g711_is_488() {
    let mut harness = Harness::new();
    let offer = OFFER.replace("RTP/AVP 0 8 101", "RTP/AVP 18 101");
    harness.feed(&invite("z9hG4bKg729", Some(&offer)));
    assert_eq!(harness.sent_lines(), ["SIP/2.0 488 Not Acceptable Here"]);
    assert!(harness.events().is_empty());
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
fn refusing_new_calls_answers_503() {
    let mut harness = Harness::new();
    harness.endpoint.set_refusing_new_calls(true);
    harness.feed(&invite("z9hG4bKlate", Some(OFFER)));
    assert_eq!(harness.sent_lines(), ["SIP/2.0 503 Service Unavailable"]);
    assert!(harness.events().is_empty());
}

#[test]
fn broken_requests_are_answered_or_dropped() {
    let mut harness = Harness::new();
    // Body shorter than Content-Length: 400.
    let short =
        invite("z9hG4bKshort", Some(OFFER)).replacen("Content-Length: ", "Content-Length: 9", 1);
    harness.feed(&short);
    assert_eq!(harness.sent_lines(), ["SIP/2.0 400 Bad Request"]);
    // Another SIP version: 505.
    harness.feed(&out_of_dialog("OPTIONS", "").replace("SIP/2.0\r\n", "SIP/3.0\r\n"));
    assert_eq!(harness.sent_lines(), ["SIP/2.0 505 Version Not Supported"]);
    // No Call-ID: 400 all the same (RFC 4475 §3.3.1), without a Call-ID line.
    harness.feed(&out_of_dialog("OPTIONS", "").replace("Call-ID: ood@192.0.2.10\r\n", ""));
    let sent = harness.sent();
    let text = String::from_utf8(sent[0].bytes.clone()).unwrap();
    assert!(text.starts_with("SIP/2.0 400 Bad Request\r\n"), "{text}");
    assert_eq!(header(&text, "Call-ID"), None);
    assert_eq!(header(&text, "CSeq"), Some("5 OPTIONS"));
    // No CSeq: nothing the sender could match a response with.
    harness.feed(&out_of_dialog("OPTIONS", "").replace("CSeq: 5 OPTIONS\r\n", ""));
    assert!(harness.sent().is_empty());
    // Garbage and a response matching nothing.
    harness.feed("hello world\r\n\r\n");
    harness.feed("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 BYE\r\n\r\n");
    assert!(harness.sent().is_empty());
    assert!(harness.events().is_empty());
    // Unsupported URI scheme: 416.
    harness.feed(&out_of_dialog("OPTIONS", "").replace(
        "OPTIONS sip:8000@198.51.100.1",
        "OPTIONS http://example.com/",
    ));
    assert_eq!(harness.sent_lines(), ["SIP/2.0 416 Unsupported URI Scheme"]);
}

#[test]
fn compact_headers_and_bare_line_feeds() {
    let mut harness = Harness::new();
    let compact = "INVITE sip:8000@198.51.100.1 SIP/2.0\n\
v: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKcompact\n\
f: <sip:1001@example.com>;tag=c1\n\
t: <sip:8000@example.com>\n\
i: compact@192.0.2.10\n\
CSeq: 1 INVITE\n\
m: <sip:1001@192.0.2.10:5062>\n\
c: application/sdp\n";
    let text = format!("{compact}l: {}\n\n{OFFER}", OFFER.len());
    harness.feed(&text);
    assert_eq!(harness.sent_lines(), ["SIP/2.0 100 Trying"]);
    let events = harness.events();
    let [Event::IncomingCall(call)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(call.call_id, "compact@192.0.2.10");
    assert!(call.offer.is_some());
}

#[test]
fn received_and_rport_are_stamped_on_the_top_via() {
    let mut harness = Harness::new();
    let text = out_of_dialog("OPTIONS", "").replace(
        "192.0.2.10:5062;branch=z9hG4bKood",
        "phone.example.com;rport;branch=z9hG4bKood",
    );
    harness.feed_from("203.0.113.7:40123", &text);
    let sent = harness.sent();
    assert_eq!(sent[0].to, "203.0.113.7:40123".parse().unwrap());
    let response = String::from_utf8(sent[0].bytes.clone()).unwrap();
    assert_eq!(
        header(&response, "Via"),
        Some("SIP/2.0/UDP phone.example.com;rport=40123;branch=z9hG4bKood;received=203.0.113.7")
    );
    // Without rport, the response goes to the source address and the Via port.
    let text = out_of_dialog("OPTIONS", "").replace(
        "192.0.2.10:5062;branch=z9hG4bKood",
        "phone.example.com:5070;branch=z9hG4bKo2",
    );
    harness.feed_from("203.0.113.7:40123", &text);
    assert_eq!(harness.sent()[0].to, "203.0.113.7:5070".parse().unwrap());
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
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].transport, connection);
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

fn harness_with(access: AccessPolicy) -> Harness {
    let mut harness = Harness::new();
    let mut config = config();
    config.access = access;
    harness.endpoint = Endpoint::new(config);
    harness
}

#[test]
fn requests_from_outside_the_allowed_networks_get_403() {
    let mut h = harness_with(AccessPolicy {
        allowed: vec!["10.0.0.0/8".parse().unwrap()],
        ..AccessPolicy::default()
    });
    h.feed(&invite("z9hG4bKout1", Some(OFFER)));
    assert_eq!(h.sent_lines(), ["SIP/2.0 403 Forbidden"]);
    assert!(h.events().is_empty(), "no call is offered");
    h.feed(&out_of_dialog("OPTIONS", ""));
    assert_eq!(h.sent_lines(), ["SIP/2.0 403 Forbidden"]);
    let inside = out_of_dialog("OPTIONS", "").replace("z9hG4bKood", "z9hG4bKinside");
    h.feed_from("10.1.2.3:5060", &inside);
    assert_eq!(h.sent_lines(), ["SIP/2.0 200 OK"]);
}

#[test]
fn a_source_over_the_invite_rate_gets_503_and_trusted_peers_are_exempt() {
    let mut h = harness_with(AccessPolicy {
        trusted: vec!["192.0.2.99".parse().unwrap()],
        invite_rate: Some(crate::access::RateLimit {
            per_second: 1.0,
            burst: 2,
        }),
        ..AccessPolicy::default()
    });
    for branch in ["z9hG4bKr1", "z9hG4bKr2"] {
        h.feed(&invite(branch, Some(OFFER)).replace("Call-ID: ", &format!("Call-ID: {branch}")));
        assert_eq!(h.sent_lines(), ["SIP/2.0 100 Trying"]);
    }
    h.feed(&invite("z9hG4bKr3", Some(OFFER)).replace("Call-ID: ", "Call-ID: r3"));
    let refused = h.sent();
    assert_eq!(
        first_line(&refused[0].bytes),
        "SIP/2.0 503 Service Unavailable"
    );
    assert!(String::from_utf8_lossy(&refused[0].bytes).contains("Retry-After: 5"));
    assert_eq!(h.events().len(), 2, "only the first two calls were offered");
    for branch in ["z9hG4bKt1", "z9hG4bKt2", "z9hG4bKt3", "z9hG4bKt4"] {
        h.feed_from(
            "192.0.2.99:5060",
            &invite(branch, Some(OFFER)).replace("Call-ID: ", &format!("Call-ID: {branch}")),
        );
        assert_eq!(
            h.sent_lines(),
            ["SIP/2.0 100 Trying"],
            "the trusted peer is never limited"
        );
    }
}

#[test]
fn p_asserted_identity_is_believed_only_from_trusted_peers() {
    let mut h = harness_with(AccessPolicy {
        trusted: vec!["192.0.2.99/32".parse().unwrap()],
        ..AccessPolicy::default()
    });
    let with_pai = |branch: &str| {
        invite(branch, Some(OFFER))
            .replace("Call-ID: ", &format!("Call-ID: {branch}"))
            .replace(
                "CSeq: ",
                "P-Asserted-Identity: \"Ann\" <sip:5551001@pbx.example>\r\nCSeq: ",
            )
    };
    h.feed_from("192.0.2.99:5060", &with_pai("z9hG4bKpai1"));
    h.feed(&with_pai("z9hG4bKpai2"));
    let asserted: Vec<Option<String>> = h
        .events()
        .into_iter()
        .filter_map(|event| match event {
            Event::IncomingCall(call) => Some(call.asserted_user),
            _ => None,
        })
        .collect();
    assert_eq!(asserted, [Some("5551001".to_owned()), None]);
}

#[test]
fn invite_whose_accept_lacks_sdp_is_406() {
    // RFC 4475 §3.3.15 (sdp01): Accept: text/nobodyKnowsThis on an INVITE "could respond with a 406 Not
    // Acceptable"; our answers carry SDP only.
    let with_accept = |accept: &str| {
        invite("z9hG4bKacc", Some(OFFER))
            .replace("CSeq: 1 INVITE\r\n", &format!("CSeq: 1 INVITE\r\n{accept}"))
    };
    for refused in [
        "Accept: text/nobodyKnowsThis\r\n",
        "Accept: application/sdp;q=0, text/plain\r\n",
    ] {
        let mut harness = Harness::new();
        harness.feed(&with_accept(refused));
        assert_eq!(
            harness.sent_lines(),
            ["SIP/2.0 406 Not Acceptable"],
            "{refused}"
        );
        assert!(harness.events().is_empty());
    }
    for accepted in [
        "",
        "Accept: application/SDP\r\n",
        "Accept: text/plain, application/sdp;level=1\r\n",
        "Accept: text/plain\r\nAccept: application/sdp\r\n",
        "Accept: application/*\r\n",
        "Accept: */*;q=0.1\r\n",
        "Accept: \r\n",
    ] {
        let mut harness = Harness::new();
        harness.feed(&with_accept(accepted));
        assert_eq!(harness.sent_lines(), ["SIP/2.0 100 Trying"], "{accepted:?}");
        assert!(matches!(
            harness.events().as_slice(),
            [Event::IncomingCall(_)]
        ));
    }
}

#[test]
fn reinvite_whose_accept_lacks_sdp_is_406_in_the_dialog() {
    let mut harness = Harness::new();
    let (_, tag) = harness.established();
    harness.feed(&in_dialog(
        "INVITE",
        "z9hG4bKre406",
        &tag,
        2,
        "Accept: text/plain\r\n",
        "application/sdp",
        OFFER,
    ));
    let sent = harness.sent();
    let text = String::from_utf8(sent[0].bytes.clone()).unwrap();
    assert!(text.starts_with("SIP/2.0 406 Not Acceptable\r\n"), "{text}");
    assert_eq!(to_tag_of(&text), tag);
    assert!(harness.events().is_empty());
}

#[test]
fn invite_with_empty_via_parameters_is_400_echoing_a_clean_via() {
    // RFC 4475 §3.1.2.1 (badinv01).
    let mut harness = Harness::new();
    harness.feed(
        &invite("z9hG4bKbad", Some(OFFER))
            .replace(";branch=z9hG4bKbad\r\n", ";branch=z9hG4bKbad;;,;,,\r\n"),
    );
    let sent = harness.sent();
    assert_eq!(sent.len(), 1);
    let text = String::from_utf8(sent[0].bytes.clone()).unwrap();
    assert!(text.starts_with("SIP/2.0 400 Bad Request\r\n"), "{text}");
    let vias: Vec<&str> = text.lines().filter(|l| l.starts_with("Via:")).collect();
    assert_eq!(vias, ["Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKbad"]);
    assert!(harness.events().is_empty());
}

#[test]
fn another_sip_version_gets_505_at_the_via_address() {
    // RFC 4475 §3.1.2.16 (badvers): the 505 goes where the SIP/7.0 Via says (received, sent-by port).
    let mut harness = Harness::new();
    let request = out_of_dialog("OPTIONS", "")
        .replace(" SIP/2.0\r\n", " SIP/7.0\r\n")
        .replace(
            "SIP/2.0/UDP 192.0.2.10:5062",
            "SIP/7.0/UDP c.example.com:5070",
        );
    harness.feed(&request);
    let sent = harness.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "192.0.2.10:5070".parse().unwrap());
    let text = String::from_utf8(sent[0].bytes.clone()).unwrap();
    assert!(
        text.starts_with("SIP/2.0 505 Version Not Supported\r\n"),
        "{text}"
    );
    assert_eq!(
        header(&text, "Via"),
        Some("SIP/7.0/UDP c.example.com:5070;branch=z9hG4bKood;received=192.0.2.10")
    );
}

#[test]
fn repeated_single_valued_headers_are_400_and_list_headers_are_fine() {
    // RFC 4475 §3.3.8 (multi01): two Call-IDs (or To, From, CSeq, Max-Forwards) make the INVITE invalid.
    let mut harness = Harness::new();
    harness.feed(&invite("z9hG4bKdup", Some(OFFER)).replace(
        "CSeq: 1 INVITE\r\n",
        "CSeq: 1 INVITE\r\nCall-ID: other@192.0.2.2\r\n",
    ));
    assert_eq!(harness.sent_lines(), ["SIP/2.0 400 Bad Request"]);
    assert!(harness.events().is_empty());
    // What a phone behind two proxies sends: repeated Via, Record-Route, Allow, Supported lines.
    let mut harness = Harness::new();
    harness.feed(&invite("z9hG4bKphone", Some(OFFER)).replace(
        "Max-Forwards: 70\r\n",
        "Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bKp1;received=192.0.2.20\r\n\
Max-Forwards: 70\r\n\
Record-Route: <sip:192.0.2.10;lr>\r\nRecord-Route: <sip:192.0.2.20;lr>\r\n\
Allow: INVITE, ACK, CANCEL\r\nAllow: BYE, INFO\r\nSupported: replaces\r\nSupported: timer\r\n\
Accept: application/sdp\r\nAccept: application/dtmf-relay\r\n",
    ));
    assert_eq!(harness.sent_lines(), ["SIP/2.0 100 Trying"]);
    assert!(matches!(
        harness.events().as_slice(),
        [Event::IncomingCall(_)]
    ));
}
