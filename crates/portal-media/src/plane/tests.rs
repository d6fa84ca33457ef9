//! The plane on a simulated clock: what each call's caller receives, and where their packets go.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use super::*;
use crate::dtmf::{TelephoneEventPacing, telephone_event_packets};
use crate::prompts::PromptAudio;

const PORTAL: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 20_000);

fn phone(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)), port)
}

fn setup(remote: SocketAddr) -> StreamSetup {
    StreamSetup {
        remote,
        codec: Codec::Pcmu,
        payload_type: 0,
        telephone_event_pt: Some(101),
        send: true,
        rtcp_mux: false,
    }
}

/// A plane with one socket, and a call on it streaming to `remote`.
fn plane_with_call(start: Instant, remote: SocketAddr) -> (MediaPlane, MediaCallId) {
    let mut plane = MediaPlane::new(1, WallClock::now());
    plane.add_socket(PORTAL);
    let call = plane.open(start, Some(remote)).unwrap();
    plane.stream(start, call, setup(remote));
    (plane, call)
}

/// Runs the plane from `*now` for `ms` milliseconds of simulated time; returns (destination, packet) sent.
fn run_for(plane: &mut MediaPlane, now: &mut Instant, ms: u64) -> Vec<(SocketAddr, Vec<u8>)> {
    let end = *now + Duration::from_millis(ms);
    let mut sent = Vec::new();
    while let Some(due) = plane.poll_timeout().filter(|due| *due < end) {
        *now = due.max(*now);
        plane.handle_timeout(*now);
        while let Some(transmit) = plane.poll_transmit() {
            sent.push((transmit.destination, transmit.payload.to_vec()));
        }
    }
    *now = end;
    sent
}

fn events(plane: &mut MediaPlane) -> Vec<MediaEvent> {
    std::iter::from_fn(|| plane.poll_event()).collect()
}

/// The RFC 4733 packets of one key press (payload type 101).
fn key_packets(key: char, ssrc: u32) -> Vec<Vec<u8>> {
    let mut sender = RtpSender::with_state(ssrc, 1, 1000);
    let digit = Digit::from_char(key).unwrap();
    telephone_event_packets(digit, 1000, 800, TelephoneEventPacing::default())
        .into_iter()
        .map(|packet| {
            let mut buffer = [0u8; 64];
            let len = sender
                .build_with_timestamp(
                    101,
                    packet.marker,
                    packet.timestamp,
                    &packet.event.to_bytes(),
                    &mut buffer,
                )
                .unwrap();
            buffer[..len].to_vec()
        })
        .collect()
}

fn press(plane: &mut MediaPlane, now: Instant, from: SocketAddr, key: char) -> Vec<Ownership> {
    key_packets(key, 9)
        .iter()
        .map(|packet| plane.handle_datagram(now, SocketId(0), from, packet))
        .collect()
}

#[test]
fn a_call_hears_silence_then_its_prompt_then_silence_one_frame_every_20_ms() {
    let start = Instant::now();
    let mut now = start;
    let caller = phone(4000);
    let (mut plane, call) = plane_with_call(start, caller);
    let silence = vec![0xFF; SAMPLES_PER_FRAME];
    let before = run_for(&mut plane, &mut now, 100);
    assert_eq!(before.len(), 5, "a frame every 20 ms");
    assert!(before.iter().all(|(to, _)| *to == caller));
    let first = RtpPacket::parse(&before[0].1).unwrap();
    assert!(first.marker, "the stream starts a talkspurt");
    assert_eq!(first.payload, silence.as_slice());

    // Five frames of a prompt (a ramp, so no frame is silence).
    let samples: Vec<i16> = (0..5 * SAMPLES_PER_FRAME as i32)
        .map(|i| (i * 7 % 8000 + 100) as i16)
        .collect();
    let prompt = Arc::new(PromptAudio::from_samples(&samples));
    plane.play(call, PlayId(7), vec![PlayItem::Prompt(Arc::clone(&prompt))]);
    let during = run_for(&mut plane, &mut now, 200);
    assert_eq!(during.len(), 10);
    let packets: Vec<RtpPacket<'_>> = during
        .iter()
        .map(|(_, bytes)| RtpPacket::parse(bytes).unwrap())
        .collect();
    let last_before = RtpPacket::parse(&before[4].1).unwrap();
    let mut sequence = last_before.sequence;
    let mut timestamp = last_before.timestamp;
    for packet in &packets {
        assert_eq!(packet.sequence, sequence.wrapping_add(1), "no sequence gap");
        assert_eq!(packet.timestamp, timestamp.wrapping_add(160), "no gap");
        (sequence, timestamp) = (packet.sequence, packet.timestamp);
    }
    for (i, packet) in packets[..5].iter().enumerate() {
        assert_eq!(packet.payload, prompt.frame(Codec::Pcmu, i).unwrap());
        assert_eq!(
            packet.marker,
            i == 0,
            "marker on the prompt's first frame only"
        );
    }
    assert_eq!(packets[5].payload, silence.as_slice());
    assert!(packets[5].marker, "silence after it is a new talkspurt");
    assert!(!packets[6].marker);
    assert_eq!(
        events(&mut plane),
        [MediaEvent::PlaylistDone {
            call,
            play: PlayId(7)
        }]
    );
}

#[test]
fn each_call_gets_exactly_one_frame_per_20_ms_whatever_the_number_of_calls() {
    let start = Instant::now();
    let mut now = start;
    let mut plane = MediaPlane::new(3, WallClock::now());
    plane.add_socket(PORTAL);
    let callers: Vec<SocketAddr> = (0..50).map(|i| phone(5000 + 2 * i)).collect();
    for caller in &callers {
        let call = plane.open(now, Some(*caller)).unwrap();
        plane.stream(now, call, setup(*caller));
    }
    let sent = run_for(&mut plane, &mut now, 1000);
    for caller in &callers {
        assert_eq!(sent.iter().filter(|(to, _)| to == caller).count(), 50);
    }
}

#[test]
fn a_driver_held_up_gets_the_frames_due_once_not_a_burst_of_every_missed_one() {
    let start = Instant::now();
    let caller = phone(4000);
    let (mut plane, _call) = plane_with_call(start, caller);
    plane.handle_timeout(start);
    while plane.poll_transmit().is_some() {}
    // Two seconds without a wake-up: 100 frames were due.
    plane.handle_timeout(start + Duration::from_secs(2));
    let burst = std::iter::from_fn(|| plane.poll_transmit().map(|_| ())).count();
    assert!(burst <= 6, "{burst} frames at once");
    assert_eq!(plane.times_held_up(), 1);
    assert!(plane.poll_timeout().unwrap() > start + Duration::from_secs(2));
}

#[test]
fn frames_are_counted_by_how_late_the_driver_served_their_slot() {
    let start = Instant::now();
    let caller = phone(4000);
    let (mut plane, call) = plane_with_call(start, caller);
    // The call's slot is due every 20 ms from `start`; the driver comes this late (in µs) each time.
    let lateness = [0, 1_000, 1_500, 4_000, 10_000, 10_500, 15_000];
    for (frame, late) in lateness.into_iter().enumerate() {
        plane.handle_timeout(start + Duration::from_micros(20_000 * frame as u64 + late));
        assert_eq!(
            std::iter::from_fn(|| plane.poll_transmit().map(|_| ())).count(),
            1
        );
    }
    // <= 1 ms (bounds included), <= 2, <= 5, <= 10, over 10 ms.
    assert_eq!(plane.pacing_lateness().buckets(), [2, 1, 1, 1, 2]);
    assert_eq!(plane.pacing_lateness().frames(), 7);

    // A held call sends nothing, so no frame of it is counted.
    let mut now = start + Duration::from_millis(140);
    plane.stream(
        now,
        call,
        StreamSetup {
            send: false,
            ..setup(caller)
        },
    );
    assert!(run_for(&mut plane, &mut now, 100).is_empty());
    assert_eq!(plane.pacing_lateness().frames(), 7);
}

#[test]
fn a_slot_of_several_calls_counts_each_of_their_frames_and_a_catch_up_counts_as_late() {
    let start = Instant::now();
    let mut plane = MediaPlane::new(3, WallClock::now());
    plane.add_socket(PORTAL);
    // 40 calls on a 20-slot wheel: two per slot.
    for port in 0..40 {
        let caller = phone(5000 + 2 * port);
        let call = plane.open(start, Some(caller)).unwrap();
        plane.stream(start, call, setup(caller));
    }
    // One wake-up 3 ms late for the first slot: slots 0 to 3 (due at 0, 1, 2, 3 ms) are served at once.
    plane.handle_timeout(start + Duration::from_millis(3));
    while plane.poll_transmit().is_some() {}
    assert_eq!(plane.pacing_lateness().buckets(), [4, 2, 2, 0, 0]);
    // Then held up for 50 ms: the 50 slots due from 4 to 53 ms are served at 53 ms, each as late as it was.
    plane.handle_timeout(start + Duration::from_millis(53));
    while plane.poll_transmit().is_some() {}
    // Slots due at 52-53, 51, 48-50, 43-47 and 4-42 ms, two frames each, on top of the first wake-up's.
    assert_eq!(
        plane.pacing_lateness().buckets(),
        [4 + 4, 2 + 2, 2 + 6, 10, 78]
    );

    let mut total = LatenessCounts::default();
    total.merge(plane.pacing_lateness());
    total.merge(plane.pacing_lateness());
    assert_eq!(total.frames(), 2 * plane.pacing_lateness().frames());
}

#[test]
fn calls_share_a_socket_unless_they_share_a_remote_address() {
    let now = Instant::now();
    let mut plane = MediaPlane::new(1, WallClock::now());
    let first_socket = plane.add_socket(PORTAL);
    let (a, b) = (phone(4000), phone(4002));
    let first_a = plane.open(now, Some(a)).unwrap();
    let from_b = plane.open(now, Some(b)).unwrap();
    assert_eq!(plane.open(now, Some(a)), Err(NeedSocket));
    let second_socket = plane.add_socket(SocketAddr::new(PORTAL.ip(), 20_002));
    let second_a = plane.open(now, Some(a)).unwrap();
    assert_eq!(plane.local_addr(first_a), Some(PORTAL));
    assert_eq!(plane.local_addr(from_b), Some(PORTAL));
    assert_eq!(plane.local_addr(second_a).unwrap().port(), 20_002);
    assert_eq!(plane.owner(first_socket, a), Some(first_a));
    assert_eq!(plane.owner(second_socket, a), Some(second_a));
    assert_eq!(
        plane.close(second_a),
        Some(Released {
            rtp: second_socket,
            rtcp: None
        }),
        "an empty socket is released"
    );
    assert_eq!(plane.close(first_a), None, "b still uses the first");
    assert_eq!(plane.close(first_a), None, "closing twice is harmless");
    assert_eq!(plane.call_count(), 1);
}

#[test]
fn keys_reach_only_the_call_whose_caller_sent_them() {
    let now = Instant::now();
    let (a, b, stranger) = (phone(4000), phone(4002), phone(4444));
    let (mut plane, call_a) = plane_with_call(now, a);
    let call_b = plane.open(now, Some(b)).unwrap();
    plane.stream(now, call_b, setup(b));
    assert!(
        press(&mut plane, now, stranger, '3')
            .iter()
            .all(|owner| *owner == Ownership::Unknown)
    );
    assert!(
        press(&mut plane, now, b, '5')
            .iter()
            .all(|owner| *owner == Ownership::Owned(call_b))
    );
    press(&mut plane, now, a, '8');
    assert_eq!(
        events(&mut plane),
        [
            MediaEvent::Key {
                call: call_b,
                digit: Digit::Number(5),
                source: KeySource::TelephoneEvent
            },
            MediaEvent::Key {
                call: call_a,
                digit: Digit::Number(8),
                source: KeySource::TelephoneEvent
            },
        ]
    );
}

#[test]
fn a_stopped_recording_comes_back_with_what_the_caller_said() {
    let now = Instant::now();
    let caller = phone(4000);
    let (mut plane, call) = plane_with_call(now, caller);
    plane.record(now, call, RecorderConfig::default());
    let mut sender = RtpSender::with_state(5, 1, 0);
    let mut frame = [0u8; SAMPLES_PER_FRAME];
    let loud: Vec<i16> = (0..SAMPLES_PER_FRAME)
        .map(|i| if i % 2 == 0 { 8000 } else { -8000 })
        .collect();
    Codec::Pcmu.encode(&loud, &mut frame);
    for i in 0..25 {
        let mut buffer = [0u8; 256];
        let len = sender.build_audio(0, &frame, &mut buffer).unwrap();
        let at = now + Duration::from_millis(20 * i);
        plane.handle_datagram(at, SocketId(0), caller, &buffer[..len]);
    }
    plane.stop_recording(call);
    match events(&mut plane).as_slice() {
        [
            MediaEvent::RecordingDone {
                call: done,
                recording,
            },
        ] => {
            assert_eq!(*done, call);
            assert_eq!(recording.samples.len(), 25 * SAMPLES_PER_FRAME);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_recording_asked_for_before_the_stream_starts_with_it() {
    let now = Instant::now();
    let mut plane = MediaPlane::new(1, WallClock::now());
    plane.add_socket(PORTAL);
    let call = plane.open(now, None).unwrap();
    plane.record(now, call, RecorderConfig::default());
    plane.play(call, PlayId(1), Vec::new());
    assert_eq!(
        events(&mut plane),
        [MediaEvent::PlaylistDone {
            call,
            play: PlayId(1)
        }],
        "nothing plays before the stream exists"
    );
    plane.stream(now, call, setup(phone(4000)));
    plane.stop_recording(call);
    assert!(matches!(
        events(&mut plane).as_slice(),
        [MediaEvent::RecordingDone { .. }]
    ));
}

#[test]
fn a_caller_sending_from_another_ip_of_its_host_is_followed_and_answered_there() {
    let start = Instant::now();
    let mut now = start;
    // It announces 127.0.0.9 but sends from 127.0.0.10, on the same port.
    let announced = phone(4000);
    let actual = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10)), 4000);
    let (mut plane, call) = plane_with_call(start, announced);
    let owners = press(&mut plane, now, actual, '4');
    assert_eq!(owners[0], Ownership::Followed(call));
    assert!(
        owners[1..]
            .iter()
            .all(|owner| *owner == Ownership::Owned(call))
    );
    assert_eq!(plane.owner(SocketId(0), announced), None);
    let sent = run_for(&mut plane, &mut now, 40);
    assert!(sent.iter().all(|(to, _)| *to == actual));
    // Once a call has heard from its caller, nobody else is followed.
    let elsewhere = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11)), 4000);
    assert_eq!(
        press(&mut plane, now, elsewhere, '1')[0],
        Ownership::Unknown
    );
}

#[test]
fn a_held_call_keeps_its_media_clock_but_sends_nothing() {
    let start = Instant::now();
    let mut now = start;
    let caller = phone(4000);
    let (mut plane, call) = plane_with_call(start, caller);
    let before = run_for(&mut plane, &mut now, 40);
    plane.stream(
        now,
        call,
        StreamSetup {
            send: false,
            ..setup(caller)
        },
    );
    assert!(run_for(&mut plane, &mut now, 100).is_empty());
    plane.stream(now, call, setup(caller));
    let after = run_for(&mut plane, &mut now, 20);
    let (last, next) = (
        RtpPacket::parse(&before[1].1).unwrap(),
        RtpPacket::parse(&after[0].1).unwrap(),
    );
    assert_eq!(next.sequence, last.sequence.wrapping_add(6));
}

#[test]
fn the_driver_wakes_only_for_slots_that_hold_calls() {
    let start = Instant::now();
    let (mut plane, call) = plane_with_call(start, phone(4000));
    let mut wake_ups = Vec::new();
    for _ in 0..3 {
        let now = plane.poll_timeout().unwrap();
        wake_ups.push(now.duration_since(start));
        plane.handle_timeout(now);
        while plane.poll_transmit().is_some() {}
    }
    assert_eq!(
        wake_ups,
        [0, 20, 40].map(Duration::from_millis),
        "one call: one wake-up per frame"
    );
    plane.close(call);
    assert_eq!(plane.poll_timeout(), None, "no call: no timer");
}

#[test]
fn frames_queued_for_a_socket_released_before_they_were_sent_are_dropped() {
    let start = Instant::now();
    let (mut plane, call) = plane_with_call(start, phone(4000));
    plane.handle_timeout(start);
    let released = plane.close(call).expect("its socket is released");
    assert_eq!(plane.poll_transmit(), None, "nothing for {released:?}");
}

/// A plane whose socket has its RTCP socket (port + 1), and a call streaming to `remote`.
fn plane_with_rtcp(
    start: Instant,
    remote: SocketAddr,
    rtcp_mux: bool,
) -> (MediaPlane, MediaCallId) {
    let mut plane = MediaPlane::new(1, WallClock::now());
    let rtp = plane.add_socket(PORTAL);
    plane.add_rtcp_socket(rtp, SocketAddr::new(PORTAL.ip(), PORTAL.port() + 1));
    let call = plane.open(start, Some(remote)).unwrap();
    plane.stream(
        start,
        call,
        StreamSetup {
            rtcp_mux,
            ..setup(remote)
        },
    );
    (plane, call)
}

fn rtcp_sent(sent: &[(SocketAddr, Vec<u8>)]) -> Vec<(SocketAddr, Vec<u8>)> {
    sent.iter()
        .filter(|(_, bytes)| rtcp::is_rtcp(bytes))
        .cloned()
        .collect()
}

#[test]
fn a_sender_report_goes_to_the_port_above_the_callers_every_5_s_counting_what_was_sent() {
    let start = Instant::now();
    let mut now = start;
    let caller = phone(4000);
    let (mut plane, _call) = plane_with_rtcp(start, caller, false);
    let sent = run_for(&mut plane, &mut now, 12_000);
    let reports = rtcp_sent(&sent);
    assert_eq!(reports.len(), 2, "at 5 s and 10 s");
    assert!(
        reports
            .iter()
            .all(|(to, _)| to.port() == 4001 && to.ip() == caller.ip())
    );
    let mut bytes = bytes::Bytes::from(reports[1].1.clone());
    let packets = ::rtcp::packet::unmarshal(&mut bytes).unwrap();
    let report = packets[0]
        .as_any()
        .downcast_ref::<::rtcp::sender_report::SenderReport>()
        .unwrap();
    // 10 s of 50 frames a second went out before the second report: 500 frames, 160 octets each.
    assert!(
        (499..=501).contains(&report.packet_count),
        "{}",
        report.packet_count
    );
    assert_eq!(report.octet_count, report.packet_count * 160);
    assert_eq!(plane.rtcp_counts().reports_sent, 2);
}

#[test]
fn with_rtcp_mux_reports_share_the_rtp_address_and_the_callers_are_told_from_its_rtp() {
    let start = Instant::now();
    let mut now = start;
    let caller = phone(4000);
    let (mut plane, call) = plane_with_rtcp(start, caller, true);
    let sent = run_for(&mut plane, &mut now, 5_100);
    let reports = rtcp_sent(&sent);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].0, caller);
    // The caller's receiver report, on the RTP port.
    let our_ssrc = RtpPacket::parse(&sent[0].1).unwrap().ssrc;
    let rr = ::rtcp::receiver_report::ReceiverReport {
        ssrc: 77,
        reports: vec![::rtcp::reception_report::ReceptionReport {
            ssrc: our_ssrc,
            fraction_lost: 12,
            total_lost: 4,
            jitter: 30,
            ..Default::default()
        }],
        profile_extensions: bytes::Bytes::new(),
    };
    let packets: Vec<Box<dyn ::rtcp::packet::Packet + Send + Sync>> = vec![Box::new(rr)];
    let datagram = ::rtcp::packet::marshal(&packets).unwrap();
    assert_eq!(
        plane.handle_datagram(now, SocketId(0), caller, &datagram),
        Ownership::Owned(call)
    );
    assert_eq!(
        plane.reception(call),
        Some(ReceptionStats {
            fraction_lost: 12,
            total_lost: 4,
            jitter: 30
        })
    );
    assert!(events(&mut plane).is_empty(), "RTCP is no key and no audio");
}

#[test]
fn rtcp_from_strangers_or_unreadable_is_dropped_and_counted() {
    let start = Instant::now();
    let caller = phone(4000);
    let (mut plane, call) = plane_with_rtcp(start, caller, false);
    let rtcp_socket = SocketId(1);
    let garbage = [0x80, 201, 0, 9, 1, 2, 3, 4];
    assert_eq!(
        plane.handle_datagram(start, rtcp_socket, phone(4001), &garbage),
        Ownership::Owned(call),
        "the caller's RTCP port, but no readable RTCP"
    );
    assert_eq!(
        plane.handle_datagram(start, rtcp_socket, phone(5001), &garbage),
        Ownership::Unknown
    );
    assert_eq!(
        plane.rtcp_counts(),
        RtcpCounts {
            received: 0,
            dropped: 2,
            reports_sent: 0
        }
    );
    assert_eq!(plane.reception(call), None);
    assert_eq!(
        plane.close(call),
        Some(Released {
            rtp: SocketId(0),
            rtcp: Some(rtcp_socket)
        })
    );
}
