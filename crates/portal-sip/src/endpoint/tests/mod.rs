//! Tests of the endpoint on a fake clock: the harness and the message builders they share.

use super::*;
use crate::sdp;

mod calls;
mod connections;
mod requests;

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

fn harness_with(access: AccessPolicy) -> Harness {
    let mut harness = Harness::new();
    let mut config = config();
    config.access = access;
    harness.endpoint = Endpoint::new(config);
    harness
}
