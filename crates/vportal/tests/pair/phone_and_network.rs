//! Self-tests of the pair harness's test phone and simulated network, without the portal: the phone is fed
//! hand-made SIP and RTP, and the network is checked on its own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portal_core::PromptId;
use portal_harness::recognizer::{LANGUAGES, PromptCatalog};
use portal_media::dtmf::{DtmfUpdate, TelephoneEventReceiver};
use portal_media::g711::Codec;
use portal_media::prompts::PromptLibrary;
use portal_media::rtp::{RtpPacket, RtpSender, SAMPLES_PER_FRAME, SEND_BUFFER_LEN};
use portal_sip::codec::{EchoHeaders, Message, Request, decode_datagram};
use portal_sip::sdp::SessionDescription;
use portal_sip::syntax::Method;

use crate::support::network::{Datagram, LinkConfig, SimNetwork};
use crate::support::phone::{HangUpBy, PhoneConfig, TestPhone, Transmit};

const PHONE_SIP: &str = "10.0.0.2:5060";
const PHONE_RTP: &str = "10.0.0.2:40000";
const PORTAL_SIP: &str = "10.0.0.1:5060";
const PORTAL_RTP: &str = "10.0.0.1:30000";

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn prompts_dir() -> std::path::PathBuf {
    portal_harness::default_prompts_dir()
}

fn catalog() -> Arc<PromptCatalog> {
    PromptCatalog::shared(&prompts_dir()).unwrap()
}

fn config() -> PhoneConfig {
    PhoneConfig::new(
        addr(PHONE_SIP),
        addr(PHONE_RTP),
        addr(PORTAL_SIP),
        "5551001",
        "5558000",
        catalog(),
    )
}

fn drain(phone: &mut TestPhone) -> Vec<Transmit> {
    std::iter::from_fn(|| phone.poll_transmit()).collect()
}

fn request(bytes: &[u8]) -> Request {
    match decode_datagram(bytes).expect("a SIP message") {
        Message::Request(request) => request,
        Message::Response(response) => panic!("a response: {}", response.status),
    }
}

fn echo(request: &Request) -> EchoHeaders {
    EchoHeaders::from_headers(&request.headers).unwrap()
}

/// A response to `request` as the portal would write it, with a To tag, a Contact and `sdp` as the body.
fn response_to(request: &Request, status: u16, sdp: Option<&str>) -> Vec<u8> {
    let echo = echo(request);
    let mut text = format!("SIP/2.0 {status} Whatever\r\n");
    for via in &echo.vias {
        text.push_str(&format!("Via: {via}\r\n"));
    }
    let to = if echo.to.contains("tag=") {
        echo.to.clone()
    } else {
        format!("{};tag=portal1", echo.to)
    };
    text.push_str(&format!(
        "From: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\nContact: <sip:5558000@{PORTAL_SIP}>\r\n",
        echo.from, echo.call_id, echo.cseq
    ));
    let body = sdp.unwrap_or_default();
    if !body.is_empty() {
        text.push_str("Content-Type: application/sdp\r\n");
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    text.into_bytes()
}

fn portal_sdp(telephone_event: bool) -> String {
    let (formats, te) = if telephone_event {
        (
            "0 101",
            "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n",
        )
    } else {
        ("0", "")
    };
    format!(
        "v=0\r\no=vportal 7 7 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
         m=audio 30000 RTP/AVP {formats}\r\na=rtpmap:0 PCMU/8000\r\n{te}a=ptime:20\r\na=sendrecv\r\n"
    )
}

/// Runs the phone alone for `duration`, collecting what it sends with the instant it was sent.
fn run(phone: &mut TestPhone, now: &mut Instant, duration: Duration) -> Vec<(Instant, Transmit)> {
    let until = *now + duration;
    let mut sent = Vec::new();
    while let Some(at) = phone.poll_timeout().filter(|&at| at <= until) {
        *now = at.max(*now);
        phone.handle_timeout(*now);
        sent.extend(drain(phone).into_iter().map(|t| (*now, t)));
    }
    *now = until;
    sent
}

/// Dials and answers with a hand-made 200 OK; returns the phone, the clock and the INVITE.
fn answered_phone(config: PhoneConfig) -> (TestPhone, Instant, Request) {
    let mut now = Instant::now();
    let mut phone = TestPhone::new(config);
    phone.dial(now);
    let invite = request(&drain(&mut phone)[0].2);
    now += Duration::from_millis(30);
    let sdp = portal_sdp(true);
    phone.handle_datagram(
        now,
        addr(PORTAL_SIP),
        addr(PHONE_SIP),
        &response_to(&invite, 200, Some(&sdp)),
    );
    (phone, now, invite)
}

#[test]
fn the_invite_parses_with_portal_sip_and_is_retransmitted_on_timer_a() {
    let mut now = Instant::now();
    let mut phone = TestPhone::new(config());
    phone.dial(now);
    let sent = drain(&mut phone);
    assert_eq!(sent.len(), 1);
    let (from, to, bytes) = &sent[0];
    assert_eq!((*from, *to), (addr(PHONE_SIP), addr(PORTAL_SIP)));
    let invite = request(bytes);
    assert_eq!(invite.method, Method::Invite);
    assert_eq!(invite.uri.raw, format!("sip:5558000@{PORTAL_SIP}"));
    assert_eq!(echo(&invite).call_id, phone.call_id());
    let offer = SessionDescription::parse(std::str::from_utf8(&invite.body).unwrap()).unwrap();
    let audio = &offer.media[0];
    assert_eq!(audio.port, 40000);
    assert_eq!(audio.formats, ["0", "101"]);
    assert!(
        audio
            .rtpmaps
            .iter()
            .any(|m| m.payload_type == 101 && m.encoding == "telephone-event")
    );

    // Nothing answers: the same INVITE again after T1, then 2·T1 later.
    assert_eq!(phone.poll_timeout(), Some(now + Duration::from_millis(500)));
    let sent = run(&mut phone, &mut now, Duration::from_millis(1600));
    let resent: Vec<_> = sent.iter().map(|(at, t)| (*at, t.2.clone())).collect();
    let start = resent[0].0 - Duration::from_millis(500);
    assert_eq!(
        resent,
        [
            (start + Duration::from_millis(500), bytes.clone()),
            (start + Duration::from_millis(1500), bytes.clone()),
        ]
    );

    // A 100 Trying stops the retransmissions.
    phone.handle_datagram(
        now,
        addr(PORTAL_SIP),
        addr(PHONE_SIP),
        &response_to(&invite, 100, None),
    );
    assert!(run(&mut phone, &mut now, Duration::from_secs(60)).is_empty());
    assert!(!phone.is_answered());
    assert_eq!(phone.sip_received(), ["SIP/2.0 100 Whatever"]);

    // Seeded: the same config gives the same INVITE.
    let mut again = TestPhone::new(config());
    again.dial(now);
    assert_eq!(drain(&mut again)[0].2, *bytes);
}

#[test]
fn no_answer_at_all_is_a_local_408_after_64_t1() {
    let mut now = Instant::now();
    let mut phone = TestPhone::new(config());
    phone.dial(now);
    let first = drain(&mut phone);
    let sent = run(&mut phone, &mut now, Duration::from_secs(40));
    // T1 doubling: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s.
    assert_eq!(sent.len() + first.len(), 7);
    assert_eq!(phone.rejected(), Some(408));
    assert!(phone.is_finished());
}

#[test]
fn a_2xx_is_acked_and_starts_rtp_every_20_ms_to_the_answered_address() {
    let (mut phone, mut now, invite) = answered_phone(config());
    assert!(phone.is_answered());
    let sent = drain(&mut phone);
    let ack_bytes = sent[0].2.clone();
    let ack = request(&ack_bytes);
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri.raw, format!("sip:5558000@{PORTAL_SIP}"));
    assert_eq!(echo(&ack).cseq, "1 ACK");
    assert!(echo(&ack).to.contains("tag=portal1"));
    assert_eq!(phone.negotiated().unwrap().remote_rtp, addr(PORTAL_RTP));
    // Only the ACK: the first RTP packet is due at once, on the next handle_timeout.
    assert_eq!(sent.len(), 1);
    assert_eq!(phone.poll_timeout(), Some(now));
    let start = now;

    let sent = run(&mut phone, &mut now, Duration::from_millis(1000));
    let mut previous: Option<(u16, u32)> = None;
    assert_eq!(sent.len(), 51);
    for (index, (at, (from, to, bytes))) in sent.iter().enumerate() {
        assert_eq!(*at, start + Duration::from_millis(20 * index as u64));
        assert_eq!((*from, *to), (addr(PHONE_RTP), addr(PORTAL_RTP)));
        let packet = RtpPacket::parse(bytes).unwrap();
        assert_eq!(packet.payload_type, 0);
        assert!(
            packet
                .payload
                .iter()
                .all(|&b| b == Codec::Pcmu.silence_code())
        );
        if let Some((sequence, timestamp)) = previous {
            assert_eq!(packet.sequence, sequence.wrapping_add(1));
            assert_eq!(packet.timestamp, timestamp.wrapping_add(160));
        }
        previous = Some((packet.sequence, packet.timestamp));
    }

    // The 200 again (our ACK lost): the same ACK again.
    let sdp = portal_sdp(true);
    phone.handle_datagram(
        now,
        addr(PORTAL_SIP),
        addr(PHONE_SIP),
        &response_to(&invite, 200, Some(&sdp)),
    );
    let again: Vec<_> = drain(&mut phone)
        .into_iter()
        .filter(|t| t.1 == addr(PORTAL_SIP))
        .collect();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].2, ack_bytes);
}

/// The digits a portal would decode from what the phone sent, in order.
fn decoded_digits(sent: &[(Instant, Transmit)]) -> String {
    let mut receiver = TelephoneEventReceiver::new();
    let mut digits = String::new();
    for (_, (_, _, bytes)) in sent {
        let packet = RtpPacket::parse(bytes).unwrap();
        if packet.payload_type == 101
            && let Some(DtmfUpdate::Pressed(digit)) = receiver.receive(&packet)
        {
            digits.push(digit.as_char());
        }
    }
    digits
}

#[test]
fn keys_go_out_as_rfc_4733_events_on_the_20_ms_clock() {
    let (mut phone, mut now, _) = answered_phone(config());
    drain(&mut phone);
    phone.press(now, "1357924#");
    let sent = run(&mut phone, &mut now, Duration::from_secs(3));
    assert!(phone.media_idle());
    assert_eq!(decoded_digits(&sent), "1357924#");
    let keys: String = phone.keys_sent().iter().map(|(key, _)| *key).collect();
    assert_eq!(keys, "1357924#");

    // One packet a tick throughout; each key: 5 tone packets (100 ms) and 3 end packets, then 100 ms of
    // silence, so a key every 260 ms.
    for pair in sent.windows(2) {
        assert_eq!(pair[1].0 - pair[0].0, Duration::from_millis(20));
    }
    let gaps: Vec<Duration> = phone
        .keys_sent()
        .windows(2)
        .map(|pair| pair[1].1 - pair[0].1)
        .collect();
    assert!(gaps.iter().all(|&gap| gap == Duration::from_millis(260)));
    let first_key: Vec<_> = sent
        .iter()
        .map(|(_, t)| RtpPacket::parse(&t.2).unwrap())
        .skip_while(|p| p.payload_type != 101)
        .take(9)
        .map(|p| {
            let end = (p.payload_type == 101).then(|| p.payload[1] >> 7);
            (p.payload_type, p.marker, end)
        })
        .collect();
    assert_eq!(
        first_key,
        [
            (101, true, Some(0)),
            (101, false, Some(0)),
            (101, false, Some(0)),
            (101, false, Some(0)),
            (101, false, Some(0)),
            (101, false, Some(1)),
            (101, false, Some(1)),
            (101, false, Some(1)),
            (0, true, None), // the silence after the key starts a talkspurt
        ]
    );

    // Sequence numbers run on across events and audio.
    let sequences: Vec<u16> = sent
        .iter()
        .map(|(_, t)| RtpPacket::parse(&t.2).unwrap().sequence)
        .collect();
    assert!(
        sequences
            .windows(2)
            .all(|pair| pair[1] == pair[0].wrapping_add(1))
    );
}

#[test]
fn keys_pressed_before_the_answer_wait_for_it_and_say_sends_loud_audio() {
    let mut now = Instant::now();
    let mut phone = TestPhone::new(config());
    phone.dial(now);
    let invite = request(&drain(&mut phone)[0].2);
    phone.press(now, "9");
    phone.say(now, Duration::from_millis(200));
    assert!(run(&mut phone, &mut now, Duration::from_millis(400)).is_empty());
    let sdp = portal_sdp(true);
    phone.handle_datagram(
        now,
        addr(PORTAL_SIP),
        addr(PHONE_SIP),
        &response_to(&invite, 200, Some(&sdp)),
    );
    let mut sent: Vec<_> = drain(&mut phone).into_iter().map(|t| (now, t)).collect();
    sent.retain(|(_, t)| t.1 == addr(PORTAL_RTP));
    sent.extend(run(&mut phone, &mut now, Duration::from_secs(1)));
    assert_eq!(decoded_digits(&sent), "9");
    let loud = sent
        .iter()
        .map(|(_, t)| RtpPacket::parse(&t.2).unwrap())
        .filter(|p| p.payload_type == 0 && p.payload.iter().any(|&b| b != 0xFF))
        .count();
    assert_eq!(loud, 10);
}

#[test]
fn without_telephone_event_keys_are_in_band_tones() {
    let mut now = Instant::now();
    let mut phone = TestPhone::new(PhoneConfig {
        telephone_event: false,
        ..config()
    });
    phone.dial(now);
    let invite = request(&drain(&mut phone)[0].2);
    let offer = String::from_utf8(invite.body.clone()).unwrap();
    assert!(!offer.contains("telephone-event"));
    let sdp = portal_sdp(false);
    phone.handle_datagram(
        now,
        addr(PORTAL_SIP),
        addr(PHONE_SIP),
        &response_to(&invite, 200, Some(&sdp)),
    );
    drain(&mut phone);
    phone.press(now, "5#");
    let sent = run(&mut phone, &mut now, Duration::from_secs(1));
    let mut detector = portal_media::dtmf::InbandDetector::new();
    let mut samples = vec![0i16; SAMPLES_PER_FRAME];
    let mut digits = String::new();
    for (_, (_, _, bytes)) in &sent {
        let packet = RtpPacket::parse(bytes).unwrap();
        assert_eq!(packet.payload_type, 0);
        Codec::Pcmu.decode(packet.payload, &mut samples);
        detector.push(&samples);
        while let Some(found) = detector.poll() {
            digits.push(found.digit.as_char());
        }
    }
    assert_eq!(digits, "5#");
}

#[test]
fn the_portals_bye_gets_200_and_ends_the_call_and_its_rtp() {
    let (mut phone, mut now, invite) = answered_phone(config());
    drain(&mut phone);
    run(&mut phone, &mut now, Duration::from_millis(100));
    let echo = echo(&invite);
    let bye = format!(
        "BYE sip:5551001@{PHONE_SIP} SIP/2.0\r\nVia: SIP/2.0/UDP {PORTAL_SIP};branch=z9hG4bKbye1\r\n\
         From: {};tag=portal1\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 9 BYE\r\nContent-Length: 0\r\n\r\n",
        echo.to, echo.from, echo.call_id
    );
    phone.handle_datagram(now, addr(PORTAL_SIP), addr(PHONE_SIP), bye.as_bytes());
    assert!(phone.is_hung_up());
    assert_eq!(phone.hung_up_by(), Some(HangUpBy::Portal));
    let sent = drain(&mut phone);
    assert_eq!(sent.len(), 1);
    let ok = String::from_utf8(sent[0].2.clone()).unwrap();
    assert!(ok.starts_with("SIP/2.0 200 OK\r\n"), "{ok}");
    assert!(ok.contains("CSeq: 9 BYE"), "{ok}");
    assert_eq!(sent[0].1, addr(PORTAL_SIP));
    // No more RTP; the call is finished once the grace has passed.
    assert!(run(&mut phone, &mut now, Duration::from_secs(2)).is_empty());
    assert!(phone.is_finished());
    // A retransmitted BYE (our 200 lost) is answered again.
    phone.handle_datagram(now, addr(PORTAL_SIP), addr(PHONE_SIP), bye.as_bytes());
    assert_eq!(drain(&mut phone).len(), 1);
    assert_eq!(
        phone.sip_received().last().unwrap(),
        &bye.lines().next().unwrap()
    );
}

#[test]
fn hang_up_sends_bye_until_its_200_and_in_dialog_info_gets_200() {
    let (mut phone, mut now, invite) = answered_phone(config());
    drain(&mut phone);
    let dialog = echo(&invite);
    let info = format!(
        "INFO sip:5551001@{PHONE_SIP} SIP/2.0\r\nVia: SIP/2.0/UDP {PORTAL_SIP};branch=z9hG4bKinfo\r\n\
         From: {};tag=portal1\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 3 INFO\r\nContent-Length: 0\r\n\r\n",
        dialog.to, dialog.from, dialog.call_id
    );
    phone.handle_datagram(now, addr(PORTAL_SIP), addr(PHONE_SIP), info.as_bytes());
    let ok = String::from_utf8(drain(&mut phone)[0].2.clone()).unwrap();
    assert!(ok.starts_with("SIP/2.0 200 OK\r\n"), "{ok}");

    phone.hang_up(now);
    assert_eq!(phone.hung_up_by(), Some(HangUpBy::Us));
    let sent = drain(&mut phone);
    assert_eq!(sent.len(), 1);
    let bye = request(&sent[0].2);
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(bye.uri.raw, format!("sip:5558000@{PORTAL_SIP}"));
    assert_eq!(echo(&bye).cseq, "2 BYE");
    // Lost: sent again after T1 and 2·T1, and no RTP any more.
    let resent = run(&mut phone, &mut now, Duration::from_millis(1600));
    assert_eq!(resent.len(), 2);
    assert!(resent.iter().all(|(_, t)| t.2 == sent[0].2));
    phone.handle_datagram(
        now,
        addr(PORTAL_SIP),
        addr(PHONE_SIP),
        &response_to(&bye, 200, None),
    );
    assert_eq!(phone.bye_status(), Some(200));
    assert!(run(&mut phone, &mut now, Duration::from_secs(10)).is_empty());
    assert!(phone.is_finished());
}

#[test]
fn a_rejection_is_acked_on_the_invite_branch_and_recorded() {
    let mut now = Instant::now();
    let mut phone = TestPhone::new(config());
    phone.dial(now);
    let invite = request(&drain(&mut phone)[0].2);
    let busy = response_to(&invite, 486, None);
    phone.handle_datagram(now, addr(PORTAL_SIP), addr(PHONE_SIP), &busy);
    assert_eq!(phone.rejected(), Some(486));
    assert!(!phone.is_answered());
    let ack = request(&drain(&mut phone)[0].2);
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri.raw, invite.uri.raw);
    assert_eq!(echo(&ack).top_via.branch(), echo(&invite).top_via.branch());
    assert!(echo(&ack).to.contains("tag=portal1"));
    // Retransmitted 486: ACKed again; nothing else ever.
    phone.handle_datagram(now, addr(PORTAL_SIP), addr(PHONE_SIP), &busy);
    assert_eq!(drain(&mut phone).len(), 1);
    assert!(run(&mut phone, &mut now, Duration::from_secs(60)).is_empty());
    assert!(phone.is_finished());
}

#[test]
fn a_late_offer_is_answered_in_the_ack() {
    let mut now = Instant::now();
    let mut phone = TestPhone::new(PhoneConfig {
        offer_sdp: false,
        ..config()
    });
    phone.dial(now);
    let invite = request(&drain(&mut phone)[0].2);
    assert!(invite.body.is_empty());
    let offer = portal_sdp(true);
    phone.handle_datagram(
        now,
        addr(PORTAL_SIP),
        addr(PHONE_SIP),
        &response_to(&invite, 200, Some(&offer)),
    );
    let ack = request(&drain(&mut phone)[0].2);
    assert_eq!(ack.method, Method::Ack);
    let answer = SessionDescription::parse(std::str::from_utf8(&ack.body).unwrap()).unwrap();
    assert_eq!(answer.media[0].port, 40000);
    assert_eq!(answer.media[0].formats, ["0", "101"]);
    assert_eq!(phone.negotiated().unwrap().remote_rtp, addr(PORTAL_RTP));
    phone.press(now, "#");
    let sent = run(&mut phone, &mut now, Duration::from_millis(500));
    assert_eq!(decoded_digits(&sent), "#");
}

#[test]
fn hanging_up_before_the_answer_cancels() {
    let mut now = Instant::now();
    let mut phone = TestPhone::new(config());
    phone.dial(now);
    let invite = request(&drain(&mut phone)[0].2);
    phone.hang_up(now);
    let cancel = request(&drain(&mut phone)[0].2);
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(
        echo(&cancel).top_via.branch(),
        echo(&invite).top_via.branch()
    );
    phone.handle_datagram(
        now,
        addr(PORTAL_SIP),
        addr(PHONE_SIP),
        &response_to(&cancel, 200, None),
    );
    phone.handle_datagram(
        now,
        addr(PORTAL_SIP),
        addr(PHONE_SIP),
        &response_to(&invite, 487, None),
    );
    assert_eq!(phone.rejected(), Some(487));
    assert_eq!(request(&drain(&mut phone)[0].2).method, Method::Ack);
    run(&mut phone, &mut now, Duration::from_secs(60));
    assert!(phone.is_finished());
}

/// Sends `frames` as the portal's RTP through `network` to the phone, one every 20 ms, stepping both on one
/// clock (the phone's own transmits go nowhere); once all arrived, makes what was heard final.
fn play_to_phone(
    phone: &mut TestPhone,
    network: &mut SimNetwork,
    mut now: Instant,
    frames: &[&[u8]],
) {
    let mut sender = RtpSender::from_seed(99);
    let mut buffer = [0u8; SEND_BUFFER_LEN];
    let mut next_frame = now;
    let mut index = 0;
    while index < frames.len() || network.in_flight() > 0 {
        let to_send = (index < frames.len()).then_some(next_frame);
        let wake = [phone.poll_timeout(), network.next_delivery(), to_send];
        now = now.max(wake.into_iter().flatten().min().expect("RTP still to come"));
        if to_send.is_some_and(|at| at <= now) {
            let len = sender.build_audio(0, frames[index], &mut buffer).unwrap();
            network.send(
                now,
                addr(PORTAL_RTP),
                addr(PHONE_RTP),
                buffer[..len].to_vec(),
            );
            index += 1;
            next_frame += Duration::from_millis(20);
        }
        while let Some(Datagram { from, to, bytes }) = network.deliver_due(now) {
            phone.handle_datagram(now, from, to, &bytes);
        }
        if phone.poll_timeout().is_some_and(|at| at <= now) {
            phone.handle_timeout(now);
        }
        drain(phone);
    }
    phone.finish(now);
}

#[test]
fn the_phone_hears_a_prompt_through_a_jittery_network() {
    let library = PromptLibrary::load(&prompts_dir(), &LANGUAGES).unwrap();
    let welcome = library.get("en", PromptId::Welcome);
    let encoded = welcome.encoded(Codec::Pcmu);
    let silence = [Codec::Pcmu.silence_code(); SAMPLES_PER_FRAME];
    let mut frames: Vec<&[u8]> = vec![&silence[..]; 5];
    frames.extend(encoded.chunks(SAMPLES_PER_FRAME));
    frames.extend([&silence[..]; 10]);

    let (mut phone, now, _) = answered_phone(config());
    drain(&mut phone);
    let mut network = SimNetwork::new(LinkConfig {
        latency: Duration::from_millis(30),
        jitter: Duration::from_millis(45),
        sip_loss: 0.0,
        rtp_loss: 0.0,
        seed: 7,
    });
    play_to_phone(&mut phone, &mut network, now, &frames);
    assert!(
        network.reordered() > 10,
        "reordered {}",
        network.reordered()
    );
    assert_eq!(phone.heard(), ["welcome"]);
    assert_eq!(phone.heard_prompts(), [PromptId::Welcome]);
    assert_eq!(phone.rtp_late(), 0);
}

fn rtp_like(n: u32) -> Vec<u8> {
    let mut bytes = vec![0x80, 0, 0, 0];
    bytes.extend(n.to_be_bytes());
    bytes
}

fn deliveries(config: LinkConfig, count: u32) -> (Vec<(Instant, Datagram)>, SimNetwork) {
    let start = Instant::now();
    let mut network = SimNetwork::new(config);
    let (a, b) = (addr(PHONE_RTP), addr(PORTAL_RTP));
    let mut out = Vec::new();
    for n in 0..count {
        let now = start + Duration::from_millis(20 * u64::from(n));
        while let Some(datagram) = network.deliver_due(now) {
            out.push((now, datagram));
        }
        network.send(now, a, b, rtp_like(n));
    }
    while let Some(at) = network.next_delivery() {
        while let Some(datagram) = network.deliver_due(at) {
            out.push((at, datagram));
        }
    }
    // Relative times, so two runs compare equal.
    let out = out
        .into_iter()
        .map(|(at, d)| (Instant::now() + (at - start), d))
        .collect::<Vec<_>>();
    (out, network)
}

#[test]
fn the_network_reorders_loses_about_the_configured_share_and_repeats_with_a_seed() {
    let link = LinkConfig {
        latency: Duration::from_millis(40),
        jitter: Duration::from_millis(60),
        sip_loss: 0.0,
        rtp_loss: 0.1,
        seed: 42,
    };
    let (first, network) = deliveries(link, 2000);
    assert_eq!(network.sent(), 2000);
    assert_eq!(network.lost() + network.delivered(), 2000);
    assert!(
        (150..=250).contains(&network.lost()),
        "lost {}",
        network.lost()
    );
    assert!(
        network.reordered() > 100,
        "reordered {}",
        network.reordered()
    );

    let order = |run: &[(Instant, Datagram)]| -> Vec<Vec<u8>> {
        run.iter().map(|(_, d)| d.bytes.clone()).collect()
    };
    let (second, _) = deliveries(link, 2000);
    assert_eq!(order(&first), order(&second));
    let (other_seed, _) = deliveries(LinkConfig { seed: 43, ..link }, 2000);
    assert_ne!(order(&first), order(&other_seed));

    // Without jitter nothing overtakes; ties leave in send order.
    let steady = LinkConfig {
        jitter: Duration::ZERO,
        rtp_loss: 0.0,
        ..link
    };
    let (in_order, network) = deliveries(steady, 100);
    assert_eq!(network.reordered(), 0);
    let expected: Vec<Vec<u8>> = (0..100).map(rtp_like).collect();
    assert_eq!(order(&in_order), expected);
    let mut tied = SimNetwork::new(steady);
    let now = Instant::now();
    for n in 0..5 {
        tied.send(now, addr(PHONE_RTP), addr(PORTAL_RTP), rtp_like(n));
    }
    let at = tied.next_delivery().unwrap();
    assert_eq!(at, now + Duration::from_millis(40));
    let got: Vec<Vec<u8>> = std::iter::from_fn(|| tied.deliver_due(at))
        .map(|d| d.bytes)
        .collect();
    assert_eq!(got, (0..5).map(rtp_like).collect::<Vec<_>>());
}

#[test]
fn sip_and_rtp_loss_are_separate() {
    let mut network = SimNetwork::new(LinkConfig {
        rtp_loss: 1.0,
        ..LinkConfig::perfect(3)
    });
    let now = Instant::now();
    let sip = b"BYE sip:a@10.0.0.1 SIP/2.0\r\n\r\n".to_vec();
    for n in 0..50 {
        network.send(now, addr(PHONE_SIP), addr(PORTAL_SIP), sip.clone());
        network.send(now, addr(PHONE_RTP), addr(PORTAL_RTP), rtp_like(n));
    }
    assert_eq!(network.lost(), 50);
    let later = now + Duration::from_secs(1);
    let delivered: Vec<Datagram> = std::iter::from_fn(|| network.deliver_due(later)).collect();
    assert_eq!(delivered.len(), 50);
    assert!(
        delivered
            .iter()
            .all(|d| d.is_sip() && d.start_line() == Some("BYE sip:a@10.0.0.1 SIP/2.0"))
    );

    // A drop filter for targeted faults: lose only the first BYE.
    let mut network = SimNetwork::new(LinkConfig::perfect(3));
    let mut dropped = false;
    network.set_drop_filter(Some(Box::new(move |d: &Datagram| {
        let first_bye = !dropped && d.start_line().is_some_and(|l| l.starts_with("BYE"));
        dropped |= first_bye;
        first_bye
    })));
    network.send(now, addr(PHONE_SIP), addr(PORTAL_SIP), sip.clone());
    network.send(now, addr(PHONE_SIP), addr(PORTAL_SIP), sip.clone());
    assert_eq!(network.lost(), 1);
    assert_eq!(std::iter::from_fn(|| network.deliver_due(later)).count(), 1);
}
