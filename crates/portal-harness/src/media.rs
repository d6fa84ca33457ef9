//! The phone's outgoing RTP: one thread on a 20 ms media clock. Between jobs it sends a silence frame per tick
//! (or lets the clock run without sending); a job (a key press, a stretch of speech) is a list of packets at
//! sample offsets from its start, sent on time with the call's one [`RtpSender`].

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portal_core::Digit;
use portal_media::dtmf::{TelephoneEventPacing, dtmf_tone, telephone_event_packets};
use portal_media::g711::Codec;
use portal_media::rtp::{RtpSender, SAMPLES_PER_FRAME, SEND_BUFFER_LEN};

/// Level of each of the two tones of an in-band key press, in dBm0.
pub const INBAND_LEVEL_DBM0: f32 = -10.0;

/// What goes out at one moment of a job.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// One audio frame (160 codes); the audio clock advances by it.
    Audio(Box<[u8; SAMPLES_PER_FRAME]>),
    /// One telephone-event packet with a timestamp relative to the job's start.
    Event {
        marker: bool,
        timestamp_offset: u32,
        payload: [u8; 4],
    },
}

/// Packets at sample offsets from the job's start; the job takes `end` samples of media time.
#[derive(Debug)]
pub(crate) struct Job {
    pub actions: Vec<(u32, Action)>,
    pub end: u32,
    /// Told when the job's first packet was due, once the job is done.
    pub done: mpsc::Sender<Instant>,
}

/// How the media thread sends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MediaConfig {
    pub remote: SocketAddr,
    pub codec: Codec,
    pub payload_type: u8,
    pub telephone_event_pt: Option<u8>,
    pub idle_silence: bool,
}

fn round_up_to_frame(samples: u32) -> u32 {
    samples.div_ceil(SAMPLES_PER_FRAME as u32) * SAMPLES_PER_FRAME as u32
}

fn ms_to_samples(ms: u32) -> u32 {
    ms * 8
}

fn samples_to_duration(samples: u32) -> Duration {
    Duration::from_micros(u64::from(samples) * 125)
}

/// Audio frames of `samples`, the last one padded with silence.
pub(crate) fn audio_actions(codec: Codec, samples: &[i16], offset: u32) -> Vec<(u32, Action)> {
    samples
        .chunks(SAMPLES_PER_FRAME)
        .enumerate()
        .map(|(index, chunk)| {
            let mut frame = Box::new([codec.silence_code(); SAMPLES_PER_FRAME]);
            codec.encode(chunk, &mut frame[..]);
            (
                offset + (index * SAMPLES_PER_FRAME) as u32,
                Action::Audio(frame),
            )
        })
        .collect()
}

/// An RFC 4733 key press: the key held `digit_ms`, then `gap_ms` without packets.
pub(crate) fn rfc4733_job(digit: Digit, digit_ms: u32, gap_ms: u32) -> (Vec<(u32, Action)>, u32) {
    let duration = ms_to_samples(digit_ms.max(1));
    let packets = telephone_event_packets(digit, 0, duration, TelephoneEventPacing::default());
    let last = packets.last().map_or(0, |p| p.send_at);
    let actions = packets
        .into_iter()
        .map(|p| {
            (
                p.send_at,
                Action::Event {
                    marker: p.marker,
                    timestamp_offset: p.timestamp,
                    payload: p.event.to_bytes(),
                },
            )
        })
        .collect();
    let end = round_up_to_frame((duration + ms_to_samples(gap_ms)).max(last + 1));
    (actions, end)
}

/// An in-band key press: `digit_ms` of the tone pair, then `gap_ms` of silence frames.
pub(crate) fn inband_job(
    codec: Codec,
    digit: Digit,
    digit_ms: u32,
    gap_ms: u32,
) -> (Vec<(u32, Action)>, u32) {
    let tone_len = round_up_to_frame(ms_to_samples(digit_ms.max(20)));
    let gap_len = round_up_to_frame(ms_to_samples(gap_ms.max(20)));
    let mut samples = dtmf_tone(digit, tone_len as usize, INBAND_LEVEL_DBM0);
    samples.resize((tone_len + gap_len) as usize, 0);
    (audio_actions(codec, &samples, 0), tone_len + gap_len)
}

/// Runs the media clock until `stop` is set or the job channel closes.
pub(crate) fn run(
    socket: Arc<UdpSocket>,
    config: MediaConfig,
    jobs: mpsc::Receiver<Job>,
    stop: Arc<AtomicBool>,
) {
    let mut sender = RtpSender::new();
    let mut buffer = [0u8; SEND_BUFFER_LEN];
    let silence = [config.codec.silence_code(); SAMPLES_PER_FRAME];
    let mut next_tick = Instant::now();
    let send = |bytes: &[u8]| {
        let _ = socket.send_to(bytes, config.remote);
    };
    while !stop.load(Ordering::Relaxed) {
        let wait = next_tick.saturating_duration_since(Instant::now());
        match jobs.recv_timeout(wait) {
            Ok(job) => {
                sleep_until(next_tick);
                let start = Instant::now().max(next_tick);
                let base = sender.timestamp();
                for (at, action) in &job.actions {
                    sleep_until(start + samples_to_duration(*at));
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    match action {
                        Action::Audio(frame) => {
                            let lag = base.wrapping_add(*at).wrapping_sub(sender.timestamp());
                            if lag > 0 && lag < 0x8000_0000 {
                                sender.skip(lag);
                            }
                            if let Ok(len) =
                                sender.build_audio(config.payload_type, &frame[..], &mut buffer)
                            {
                                send(&buffer[..len]);
                            }
                        }
                        Action::Event {
                            marker,
                            timestamp_offset,
                            payload,
                        } => {
                            let Some(pt) = config.telephone_event_pt else {
                                continue;
                            };
                            if let Ok(len) = sender.build_with_timestamp(
                                pt,
                                *marker,
                                base.wrapping_add(*timestamp_offset),
                                payload,
                                &mut buffer,
                            ) {
                                send(&buffer[..len]);
                            }
                        }
                    }
                }
                let lag = base.wrapping_add(job.end).wrapping_sub(sender.timestamp());
                if lag > 0 && lag < 0x8000_0000 {
                    sender.skip(lag);
                }
                next_tick = start + samples_to_duration(job.end);
                sleep_until(next_tick);
                let _ = job.done.send(start);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if config.idle_silence {
                    if let Ok(len) = sender.build_audio(config.payload_type, &silence, &mut buffer)
                    {
                        send(&buffer[..len]);
                    }
                } else {
                    sender.skip(SAMPLES_PER_FRAME as u32);
                }
                next_tick += Duration::from_millis(20);
                // After a stall, do not burst to catch up: resume on the clock from now.
                if Instant::now() > next_tick + Duration::from_millis(200) {
                    next_tick = Instant::now();
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
}

fn sleep_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        std::thread::sleep(deadline - now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4733_job_is_paced_and_ends_on_a_frame() {
        let (actions, end) = rfc4733_job(Digit::Pound, 100, 100);
        let times: Vec<u32> = actions.iter().map(|(at, _)| *at).collect();
        assert_eq!(times, [0, 400, 800, 960, 1120]);
        assert_eq!(end, 1600);
        let markers: Vec<bool> = actions
            .iter()
            .map(|(_, a)| matches!(a, Action::Event { marker: true, .. }))
            .collect();
        assert_eq!(markers, [true, false, false, false, false]);
        let Action::Event { payload, .. } = &actions[4].1 else {
            panic!("not an event");
        };
        assert_eq!(payload, &[11, 0x80 | 10, 0x03, 0x20]);
    }

    #[test]
    fn inband_job_is_tone_then_silence() {
        let (actions, end) = inband_job(Codec::Pcmu, Digit::Number(5), 100, 100);
        assert_eq!(actions.len(), 10);
        assert_eq!(end, 1600);
        let Action::Audio(last) = &actions[9].1 else {
            panic!("not audio");
        };
        assert!(last.iter().all(|&c| c == 0xFF));
    }
}
