//! Throughput of the media hot paths on one core: `cargo bench -p portal-media`.
//!
//! Prints packets (or blocks) per second and how many concurrent calls that rate would carry, since one call
//! sends 50 packets per second and the in-band detector looks at 100 windows per second.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portal_core::Digit;
use portal_media::dtmf::{
    InbandDetector, TelephoneEventPacing, dtmf_tone, telephone_event_packets,
};
use portal_media::signal::{dbm0_to_amplitude, sine};
use portal_media::{
    Codec, PlayItem, Playout, PromptAudio, RtpPacket, RtpSender, SEND_BUFFER_LEN,
    TelephoneEventReceiver, Tick,
};

const RUN_FOR: Duration = Duration::from_secs(1);

/// Runs `batch` until `RUN_FOR` has passed; returns items per second (each call of `batch` does `per_batch`).
fn measure(per_batch: u64, mut batch: impl FnMut()) -> f64 {
    // Warm up caches and branch predictors.
    for _ in 0..3 {
        batch();
    }
    let start = Instant::now();
    let mut items = 0u64;
    while start.elapsed() < RUN_FOR {
        batch();
        items += per_batch;
    }
    items as f64 / start.elapsed().as_secs_f64()
}

fn prompt_playout_pcmu() -> f64 {
    // A 10 s prompt, encoded once, as the library holds it.
    let audio = sine(440.0, dbm0_to_amplitude(-15.0), 80_000);
    let prompt = Arc::new(PromptAudio::from_samples(&audio));
    let mut playout = Playout::new(Codec::Pcmu);
    let mut sender = RtpSender::from_seed(1);
    let mut buffer = [0u8; SEND_BUFFER_LEN];
    let batch = 1_000u64;
    measure(batch, || {
        for _ in 0..batch {
            let len = match playout.tick() {
                Tick::Frame(payload) => sender
                    .build_audio(0, payload, &mut buffer)
                    .expect("buffer fits"),
                Tick::Finished | Tick::Idle => {
                    playout.play([PlayItem::Prompt(prompt.clone())]);
                    0
                }
            };
            black_box(&buffer[..len]);
        }
    })
}

fn telephone_event_parsing() -> f64 {
    // 100 presses, each as a phone sends it (start, updates, three ends), as datagrams.
    let mut sender = RtpSender::from_seed(2);
    let mut datagrams = Vec::new();
    for press in 0..100u32 {
        let digit = Digit::Number((press % 10) as u8);
        for packet in
            telephone_event_packets(digit, press * 4_000, 1_200, TelephoneEventPacing::default())
        {
            let mut buffer = [0u8; SEND_BUFFER_LEN];
            let payload = packet.event.to_bytes();
            let len = sender
                .build_with_timestamp(101, packet.marker, packet.timestamp, &payload, &mut buffer)
                .expect("buffer fits");
            datagrams.push(buffer[..len].to_vec());
        }
    }
    let count = datagrams.len() as u64;
    measure(count, || {
        // A fresh receiver each round, so every round sees new events rather than stale ones.
        let mut receiver = TelephoneEventReceiver::new();
        for datagram in &datagrams {
            let packet = RtpPacket::parse(datagram).expect("valid packet");
            black_box(receiver.receive(&packet));
        }
    })
}

fn goertzel_windows() -> f64 {
    let detector = InbandDetector::new();
    let tone = dtmf_tone(Digit::Number(5), 160, -20.0);
    let batch = 1_000u64;
    measure(batch, || {
        for _ in 0..batch {
            black_box(detector.classify(black_box(&tone)));
        }
    })
}

fn detector_streaming() -> f64 {
    // Ten seconds of keys and pauses, pushed frame by frame as the driver would.
    let mut audio = Vec::new();
    for key in 0..25u8 {
        audio.extend(dtmf_tone(Digit::Number(key % 10), 800, -15.0));
        audio.extend(std::iter::repeat_n(0i16, 2_400));
    }
    let mut detector = InbandDetector::new();
    let frames = audio.len().div_ceil(160) as u64;
    measure(frames, || {
        for frame in audio.chunks(160) {
            detector.push(frame);
            while let Some(found) = detector.poll() {
                black_box(found);
            }
        }
    })
}

fn main() {
    let report = |name: &str, rate: f64, unit: &str, per_call: f64| {
        println!(
            "{name:<44} {:>12.0} {unit}/s per core  (~{:.0} calls at {per_call} {unit}/s each)",
            rate,
            rate / per_call
        );
    };
    println!(
        "portal-media benchmarks ({} s each, one thread)",
        RUN_FOR.as_secs()
    );
    report(
        "prompt playout, PCMU RTP packets built",
        prompt_playout_pcmu(),
        "packets",
        50.0,
    );
    report(
        "RFC 4733 packets parsed and received",
        telephone_event_parsing(),
        "packets",
        50.0,
    );
    report(
        "Goertzel detector windows (160 samples)",
        goertzel_windows(),
        "windows",
        100.0,
    );
    report(
        "in-band detector, 20 ms frames pushed",
        detector_streaming(),
        "frames",
        50.0,
    );
}
