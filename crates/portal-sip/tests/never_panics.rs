//! Whatever bytes arrive, the endpoint neither panics nor stops working.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use portal_sip::endpoint::{Config, ConnectionId, Endpoint, Transport};
use proptest::prelude::*;

const VALID: &str = "INVITE sip:8000@[2001:db8::1] SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKfuzz;rport\r\n\
f: \"A\" <sip:1001@example.com>;tag=a\r\n\
To: <sip:8000@example.com>\r\n\
i: fuzz@192.0.2.10\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:1001@192.0.2.10:5062>\r\n\
Require: \r\n\
Content-Type: application/sdp\r\n\
Content-Length: 92\r\n\r\n\
v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\n";

fn endpoint() -> Endpoint {
    let mut config = Config::new("198.51.100.1:5060".parse().unwrap());
    config.rng_seed = Some(1);
    Endpoint::new(config)
}

/// Feeds bytes, runs a while of timers and drains everything.
fn exercise(endpoint: &mut Endpoint, start: Instant, transport: Transport, bytes: &[u8]) {
    let from: SocketAddr = "192.0.2.10:5062".parse().unwrap();
    let _ = endpoint.handle_datagram(start, from, transport, bytes);
    while let Some(event) = endpoint.poll_event() {
        if let portal_sip::endpoint::Event::IncomingCall(call) = event {
            let offer = portal_sip::sdp::make_offer(&portal_sip::sdp::LocalMedia::new(
                "198.51.100.1:4000".parse().unwrap(),
                1,
            ));
            let _ = endpoint.answer(start, call.call, &offer);
            let _ = endpoint.hang_up(start, call.call);
        }
    }
    let end = start + Duration::from_secs(40);
    while let Some(at) = endpoint.poll_timeout().filter(|&at| at <= end) {
        endpoint.handle_timeout(at);
    }
    while endpoint.poll_transmit().is_some() {}
}

fn mutate(base: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut bytes = base.to_vec();
    for &(position, kind, value) in edits {
        if bytes.is_empty() {
            bytes.push(value);
            continue;
        }
        let at = position % bytes.len();
        match kind % 4 {
            0 => bytes[at] = value,
            1 => bytes.insert(at, value),
            2 => {
                bytes.remove(at);
            }
            _ => bytes.truncate(at),
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_datagrams(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut endpoint = endpoint();
        exercise(&mut endpoint, Instant::now(), Transport::Udp, &bytes);
    }

    #[test]
    fn mutated_invites(edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..12)) {
        let mut endpoint = endpoint();
        let start = Instant::now();
        let bytes = mutate(VALID.as_bytes(), &edits);
        exercise(&mut endpoint, start, Transport::Udp, &bytes);
        // Still serves a valid call afterwards.
        let from: SocketAddr = "192.0.2.10:5062".parse().unwrap();
        let fresh = VALID.replace("z9hG4bKfuzz", "z9hG4bKfresh").replace("fuzz@", "fresh@");
        endpoint.handle_datagram(start, from, Transport::Udp, fresh.as_bytes()).unwrap();
        let offered = std::iter::from_fn(|| endpoint.poll_event())
            .any(|event| matches!(event, portal_sip::endpoint::Event::IncomingCall(_)));
        prop_assert!(offered);
    }

    #[test]
    fn mutated_stream_chunks(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8),
        chunk in 1usize..64,
    ) {
        let mut endpoint = endpoint();
        let start = Instant::now();
        let mut stream = mutate(VALID.as_bytes(), &edits);
        stream.extend_from_slice(VALID.as_bytes());
        for piece in stream.chunks(chunk) {
            exercise(&mut endpoint, start, Transport::Tcp(ConnectionId(1)), piece);
        }
    }

    #[test]
    fn printable_noise_with_sip_words(words in proptest::collection::vec(
        prop_oneof![
            Just("INVITE ".to_owned()), Just("SIP/2.0".to_owned()), Just("\r\n".to_owned()), Just("\n".to_owned()),
            Just("Via: SIP/2.0/UDP [::1]:5060;branch=z9hG4bK1".to_owned()), Just("Content-Length: 4".to_owned()),
            Just("l: 99999999999999999999".to_owned()), Just(" ".to_owned()), Just(":".to_owned()), Just(";".to_owned()),
            Just("sip:a@[".to_owned()), Just("CSeq: 1 ACK".to_owned()), Just("To: <sip:a@h>;tag=".to_owned()),
            Just("From: \"\\".to_owned()), Just("i: x".to_owned()), "[ -~]{0,12}".prop_map(|s| s),
        ],
        0..40,
    )) {
        let mut endpoint = endpoint();
        exercise(&mut endpoint, Instant::now(), Transport::Udp, words.concat().as_bytes());
    }
}
