//! A call's media end to end, with the portal on one side and a phone made of the same parts on the other,
//! exchanging datagrams in memory on a simulated clock.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portal_core::{Digit, PromptId};
use portal_media::dtmf::add_dtmf_tone;
use portal_media::signal::{dbm0_to_amplitude, sine};
use portal_media::{
    Codec, DtmfUpdate, InbandDetector, KeyPressDeduper, KeySource, PlayItem, Playout,
    PromptLibrary, Recorder, RecorderConfig, RecordingEnd, RtpPacket, RtpSender, SAMPLES_PER_FRAME,
    SEND_BUFFER_LEN, TelephoneEventPacing, TelephoneEventReceiver, Tick, telephone_event_packets,
};

const TELEPHONE_EVENT: u8 = 101;
const TICK: Duration = Duration::from_millis(20);

/// Every English prompt, each a different constant level so the phone can tell them apart.
fn write_prompts(root: &Path) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    std::fs::create_dir_all(root.join("en")).unwrap();
    for (i, id) in PromptId::ALL.iter().enumerate() {
        if *id == PromptId::Tone {
            continue;
        }
        let mut wav =
            hound::WavWriter::create(root.join(format!("en/{}.wav", id.id())), spec).unwrap();
        // 130 ms: not a whole number of frames, so padding shows.
        for _ in 0..1040 {
            wav.write_sample(100 * (i as i16 + 1)).unwrap();
        }
        wav.finalize().unwrap();
    }
}

/// The portal's side of one call.
struct Portal {
    playout: Playout,
    sender: RtpSender,
    events: TelephoneEventReceiver,
    deduper: KeyPressDeduper,
    buffer: [u8; SEND_BUFFER_LEN],
    finished: usize,
}

impl Portal {
    /// One 20 ms tick: the datagram to send, if any.
    fn tick(&mut self) -> Option<Vec<u8>> {
        let codec = self.playout.codec();
        match self.playout.tick() {
            Tick::Frame(payload) => {
                let len = self
                    .sender
                    .build_audio(codec.payload_type(), payload, &mut self.buffer)
                    .unwrap();
                Some(self.buffer[..len].to_vec())
            }
            Tick::Finished => {
                self.finished += 1;
                self.sender.skip(SAMPLES_PER_FRAME as u32);
                None
            }
            Tick::Idle => {
                self.sender.skip(SAMPLES_PER_FRAME as u32);
                None
            }
        }
    }

    /// A datagram from the phone: returns the key press to pass to the conversation, if it is a new one.
    fn receive(&mut self, datagram: &[u8], now: Instant) -> Option<Digit> {
        let packet = RtpPacket::parse(datagram).ok()?;
        if packet.payload_type != TELEPHONE_EVENT {
            return None;
        }
        match self.events.receive(&packet)? {
            DtmfUpdate::Pressed(digit)
                if self.deduper.accept(digit, KeySource::TelephoneEvent, now) =>
            {
                self.playout.stop();
                Some(digit)
            }
            _ => None,
        }
    }
}

#[test]
fn prompts_reach_the_phone_sample_exact_and_a_key_press_barges_in_once() {
    let root = tempfile::tempdir().unwrap();
    write_prompts(root.path());
    let library = Arc::new(PromptLibrary::load(root.path(), &["en"]).unwrap());
    let codec = Codec::Pcma;
    let mut portal = Portal {
        playout: Playout::new(codec),
        sender: RtpSender::from_seed(11),
        events: TelephoneEventReceiver::new(),
        deduper: KeyPressDeduper::new(),
        buffer: [0; SEND_BUFFER_LEN],
        finished: 0,
    };
    let start = Instant::now();
    let mut phone_recorder = Recorder::new(
        codec,
        RecorderConfig {
            trim_tail: false,
            ..RecorderConfig::default()
        },
        start,
    );

    // The portal plays two prompts back to back; the phone records what it hears.
    let welcome = library.get("en", PromptId::Welcome);
    let passcode = library.get("en", PromptId::EnterPasscode);
    portal.playout.play([
        PlayItem::Prompt(welcome.clone()),
        PlayItem::Prompt(passcode.clone()),
    ]);
    let mut sent = Vec::new();
    let mut now = start;
    while let Some(datagram) = portal.tick() {
        let packet = RtpPacket::parse(&datagram).unwrap();
        phone_recorder.receive(&packet, now);
        sent.push((packet.sequence, packet.timestamp, packet.marker));
        now += TICK;
    }
    assert_eq!(portal.finished, 1);
    assert_eq!(sent.len(), 2 * 7);
    for pair in sent.windows(2) {
        assert_eq!(pair[1].0, pair[0].0.wrapping_add(1));
        assert_eq!(pair[1].1, pair[0].1.wrapping_add(160));
    }
    assert!(
        sent[0].2 && sent[1..].iter().all(|p| !p.2),
        "marker on the first packet only"
    );
    let heard = phone_recorder.finish();
    let mut expected = Vec::new();
    for prompt in [&welcome, &passcode] {
        codec.decode_append(prompt.encoded(codec), &mut expected);
    }
    assert_eq!(heard.samples, expected);

    // 100 ms later the portal starts the next prompt: a new talkspurt, the clock kept running.
    for _ in 0..5 {
        assert!(portal.tick().is_none());
        now += TICK;
    }
    portal
        .playout
        .play([PlayItem::Prompt(library.get("en", PromptId::MainMenu))]);
    let first = portal.tick().unwrap();
    let packet = RtpPacket::parse(&first).unwrap();
    let last = sent.last().unwrap();
    assert!(packet.marker);
    assert_eq!(packet.sequence, last.0.wrapping_add(1));
    // The last packet's own 20 ms, then one Finished and five idle ticks: 7 frames of media time.
    assert_eq!(packet.timestamp, last.1.wrapping_add(160 * 7));

    // The caller presses 1: the network loses the event's first packet, duplicates and reorders the rest,
    // and the phone also reports the press by SIP INFO.
    let mut phone = RtpSender::from_seed(12);
    let event_start = phone.timestamp();
    let mut packets = telephone_event_packets(
        Digit::Number(1),
        event_start,
        960,
        TelephoneEventPacing::default(),
    );
    packets.remove(0);
    let duplicate = packets[1];
    packets.insert(3, duplicate);
    packets.swap(0, 1);
    let mut pressed = Vec::new();
    for packet in &packets {
        let mut buffer = [0u8; SEND_BUFFER_LEN];
        let payload = packet.event.to_bytes();
        let len = phone
            .build_with_timestamp(
                TELEPHONE_EVENT,
                packet.marker,
                packet.timestamp,
                &payload,
                &mut buffer,
            )
            .unwrap();
        let at = now + Duration::from_micros(u64::from(packet.send_at) * 125);
        pressed.extend(portal.receive(&buffer[..len], at));
    }
    assert_eq!(pressed, vec![Digit::Number(1)]);
    assert!(!portal.deduper.accept(
        Digit::Number(1),
        KeySource::SipInfo,
        now + Duration::from_millis(80)
    ));
    // Barge-in: playback stopped, and no "finished" for it.
    assert!(!portal.playout.is_playing());
    assert!(portal.tick().is_none());
    assert_eq!(portal.finished, 1);
}

#[test]
fn recording_a_name_ended_by_an_inband_pound() {
    // The phone negotiated no telephone-event: its `#` is a tone in the PCMU audio.
    let codec = Codec::Pcmu;
    let start = Instant::now();
    let mut recorder = Recorder::new(codec, RecorderConfig::default(), start);
    let mut detector = InbandDetector::new();
    let mut phone = RtpSender::from_seed(5);

    // 1.5 s of "speech", then `#` held for 100 ms, then 1 s of line noise that should never be recorded.
    let mut audio = sine(220.0, dbm0_to_amplitude(-12.0), 12_000);
    let tone_at = audio.len();
    audio.resize(tone_at + 800, 0);
    add_dtmf_tone(&mut audio[tone_at..], Digit::Pound, -8.0);
    audio.resize(audio.len() + 8000, 0);

    let mut codes = [0u8; SAMPLES_PER_FRAME];
    let mut buffer = [0u8; SEND_BUFFER_LEN];
    let mut decoded = [0i16; SAMPLES_PER_FRAME];
    let mut stopped_at = None;
    for (i, frame) in audio.chunks(SAMPLES_PER_FRAME).enumerate() {
        let now = start + TICK * i as u32;
        codec.encode(frame, &mut codes);
        let len = phone
            .build_audio(codec.payload_type(), &codes, &mut buffer)
            .unwrap();
        let packet = RtpPacket::parse(&buffer[..len]).unwrap();
        recorder.receive(&packet, now);
        codec.decode(packet.payload, &mut decoded);
        if detector.push_frame(&decoded) == Some(Digit::Pound) {
            // The conversation hears `#` and tells media to stop recording.
            assert!(recorder.stop());
            stopped_at = Some(i);
            break;
        }
    }
    let stopped_at = stopped_at.expect("the pound key was detected");
    // Detected within about 40 ms of the tone's start.
    assert!(
        (76..=78).contains(&stopped_at),
        "stopped at frame {stopped_at}"
    );
    let recording = recorder.finish();
    assert_eq!(recording.end, RecordingEnd::Stopped);
    // The speech is all there; the tone is cut and replaced by a short silence.
    assert!(
        recording.samples.len() <= 12_000 + 800,
        "{}",
        recording.samples.len()
    );
    assert!(recording.samples.len() >= 12_000 - SAMPLES_PER_FRAME);
    assert!(recording.samples[12_000..].iter().all(|&s| s == 0));
}
