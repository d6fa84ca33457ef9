//! The test phone's media: the 20 ms RTP clock (silence, RFC 4733 keys or in-band tones, loud audio), and
//! the portal's RTP through a jitter buffer ([`Playout`]) to the prompt recogniser.

use std::sync::Arc;
use std::time::{Duration, Instant};

use portal_core::Digit;
use portal_harness::recognizer::{PromptRecognizer, TALKSPURT_IDLE};
use portal_media::dtmf::{
    TelephoneEventPacing, TelephoneEventPacket, dtmf_tone, telephone_event_packets,
};
use portal_media::g711::Codec;
use portal_media::rtp::{RtpPacket, RtpSender, SAMPLES_PER_FRAME, SEND_BUFFER_LEN, sequence_delta};
use portal_media::signal::{dbm0_to_amplitude, sine};
use portal_sip::sdp::{self, NegotiatedMedia};
use rand::RngExt;

use super::{TELEPHONE_EVENT_PT, TestPhone};

/// The RTP packet interval.
const FRAME: Duration = Duration::from_millis(20);
const FRAME_SAMPLES: u32 = SAMPLES_PER_FRAME as u32;
/// Level of in-band key tones and of the `say` tone (the recorder counts speech above -40 dBm0).
const TONE_LEVEL_DBM0: f32 = -10.0;
/// `say` sends this tone: 400 Hz is exactly 8 periods in a 20 ms frame, so one encoded frame repeats seamlessly.
const SAY_FREQUENCY_HZ: f32 = 400.0;

/// One thing the phone's media clock does next.
#[derive(Debug, Clone, Copy)]
pub(super) enum Job {
    Key(Digit),
    /// Silence frames.
    Gap(u32),
    /// Loud frames.
    Say(u32),
}

/// The job on the media clock now.
#[derive(Debug)]
pub(super) enum Running {
    /// RFC 4733 packets, each sent at the tick whose 20 ms window holds its `send_at`.
    Event {
        packets: Vec<TelephoneEventPacket>,
        next: usize,
        tick: u32,
    },
    /// In-band tone frames, already encoded.
    Tone {
        frames: Vec<[u8; SAMPLES_PER_FRAME]>,
    },
    Frames {
        loud: bool,
        left: u32,
    },
}

/// The media of an answered call.
#[derive(Debug)]
pub(super) struct Media {
    pub(super) negotiated: NegotiatedMedia,
    codec: Codec,
    sender: RtpSender,
    pub(super) next_tick: Instant,
    pub(super) running: Option<Running>,
    silence: [u8; SAMPLES_PER_FRAME],
    loud: [u8; SAMPLES_PER_FRAME],
}

/// Puts the portal's packets back in sequence order (see [`PhoneConfig::jitter_buffer`]).
///
/// [`PhoneConfig::jitter_buffer`]: super::PhoneConfig::jitter_buffer
#[derive(Debug)]
pub(super) struct Playout {
    delay: Duration,
    ssrc: Option<u32>,
    next: Option<u16>,
    held: Vec<(u16, Instant, Vec<u8>)>,
    /// Packets that came after their place had passed.
    pub(super) late: u64,
}

impl Playout {
    pub(super) fn new(delay: Duration) -> Playout {
        Playout {
            delay,
            ssrc: None,
            next: None,
            held: Vec::new(),
            late: 0,
        }
    }

    fn push(&mut self, now: Instant, packet: &RtpPacket<'_>, bytes: &[u8], out: &mut Vec<Vec<u8>>) {
        if self.ssrc != Some(packet.ssrc) {
            self.drain(out);
            self.ssrc = Some(packet.ssrc);
            self.next = None;
        }
        let late = self
            .next
            .is_some_and(|next| sequence_delta(next, packet.sequence) < 0);
        if late || self.held.iter().any(|h| h.0 == packet.sequence) {
            self.late += u64::from(late);
            return;
        }
        self.held.push((packet.sequence, now, bytes.to_vec()));
        self.release(now, out);
    }

    /// Releases the next packet in sequence while it is there, or the lowest held one once the packet held
    /// longest has waited `delay` (a gap given up on).
    fn release(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) {
        while let Some(first) = self.held.first() {
            let anchor = self.next.unwrap_or(first.0);
            let (index, lowest) = self
                .held
                .iter()
                .enumerate()
                .min_by_key(|(_, h)| sequence_delta(anchor, h.0))
                .map(|(index, h)| (index, h.0))
                .unwrap_or((0, anchor));
            let waited = self.deadline().is_some_and(|at| at <= now);
            if self.next != Some(lowest) && !waited {
                return;
            }
            let (sequence, _, bytes) = self.held.swap_remove(index);
            self.next = Some(sequence.wrapping_add(1));
            out.push(bytes);
        }
    }

    pub(super) fn drain(&mut self, out: &mut Vec<Vec<u8>>) {
        if let Some(anchor) = self.next.or(self.held.first().map(|h| h.0)) {
            self.held.sort_by_key(|h| sequence_delta(anchor, h.0));
        }
        out.extend(self.held.drain(..).map(|h| h.2));
    }

    pub(super) fn deadline(&self) -> Option<Instant> {
        self.held
            .iter()
            .map(|h| h.1)
            .min()
            .map(|at| at + self.delay)
    }
}

fn g711(codec: sdp::Codec) -> Codec {
    match codec {
        sdp::Codec::Pcmu => Codec::Pcmu,
        sdp::Codec::Pcma => Codec::Pcma,
    }
}

impl TestPhone {
    pub(super) fn start_media(&mut self, now: Instant, negotiated: NegotiatedMedia) {
        let codec = g711(negotiated.codec);
        self.recognizer = Some(PromptRecognizer::new(
            Arc::clone(&self.config.catalog),
            codec,
            negotiated.payload_type,
        ));
        let mut loud = [0u8; SAMPLES_PER_FRAME];
        let tone = sine(
            SAY_FREQUENCY_HZ,
            dbm0_to_amplitude(TONE_LEVEL_DBM0),
            SAMPLES_PER_FRAME,
        );
        codec.encode(&tone, &mut loud);
        self.media = Some(Media {
            negotiated,
            codec,
            sender: RtpSender::from_seed(self.rng.random::<u64>()),
            next_tick: now,
            running: None,
            silence: [codec.silence_code(); SAMPLES_PER_FRAME],
            loud,
        });
    }

    /// The media timers: 20 ms ticks (catching up when `now` is late), the jitter buffer, the talkspurt's end.
    pub(super) fn media_timeouts(&mut self, now: Instant) {
        while self.hung_up.is_none()
            && let Some(media) = self.media.as_mut()
            && media.next_tick <= now
        {
            let at = media.next_tick;
            media.next_tick += FRAME;
            self.tick(at);
        }
        if !self.flushed && self.playout.deadline().is_some_and(|at| at <= now) {
            let mut released = Vec::new();
            self.playout.release(now, &mut released);
            self.hear(now, released);
        }
        if self.idle_at.is_some_and(|at| at <= now) {
            self.idle_at = None;
            if let Some(recognizer) = self.recognizer.as_mut() {
                recognizer.idle(now);
            }
        }
    }

    /// One 20 ms tick of our stream: the next packet(s) of the job in progress, or a silence frame.
    fn tick(&mut self, at: Instant) {
        let Some(media) = self.media.as_mut() else {
            return;
        };
        if media.running.is_none()
            && let Some(job) = self.jobs.pop_front()
        {
            media.running = Some(match job {
                Job::Key(digit) => {
                    self.keys_sent.push((digit.as_char(), at));
                    let held = frames_in(self.config.key_duration).max(1) * FRAME_SAMPLES;
                    match media.negotiated.telephone_event_pt {
                        Some(_) => {
                            // An update every tick, so every tick of the key carries a packet.
                            let pacing = TelephoneEventPacing {
                                update_interval: FRAME_SAMPLES,
                                end_interval: FRAME_SAMPLES,
                                ..TelephoneEventPacing::default()
                            };
                            let start = media.sender.timestamp();
                            Running::Event {
                                packets: telephone_event_packets(digit, start, held, pacing),
                                next: 0,
                                tick: 0,
                            }
                        }
                        None => {
                            let samples = dtmf_tone(digit, held as usize, TONE_LEVEL_DBM0);
                            let mut frames: Vec<[u8; SAMPLES_PER_FRAME]> = samples
                                .chunks(SAMPLES_PER_FRAME)
                                .map(|chunk| {
                                    let mut frame = media.silence;
                                    media.codec.encode(chunk, &mut frame[..chunk.len()]);
                                    frame
                                })
                                .collect();
                            frames.reverse(); // popped from the end
                            Running::Tone { frames }
                        }
                    }
                }
                Job::Gap(left) => Running::Frames { loud: false, left },
                Job::Say(left) => Running::Frames { loud: true, left },
            });
        }
        let mut packets: Vec<Vec<u8>> = Vec::with_capacity(1);
        let done = match media.running.as_mut() {
            None => {
                let silence = media.silence;
                packets.push(audio_packet(media, &silence));
                false
            }
            Some(Running::Event {
                packets: events,
                next,
                tick,
            }) => {
                let pt = media
                    .negotiated
                    .telephone_event_pt
                    .unwrap_or(TELEPHONE_EVENT_PT);
                let window_end = (*tick + 1) * FRAME_SAMPLES;
                let mut event_buffer = [0u8; SEND_BUFFER_LEN];
                while let Some(event) = events.get(*next).filter(|e| e.send_at < window_end) {
                    let len = media
                        .sender
                        .build_with_timestamp(
                            pt,
                            event.marker,
                            event.timestamp,
                            &event.event.to_bytes(),
                            &mut event_buffer,
                        )
                        .expect("an event fits the send buffer");
                    packets.push(event_buffer[..len].to_vec());
                    *next += 1;
                }
                // The audio clock runs on under the event.
                media.sender.skip(FRAME_SAMPLES);
                *tick += 1;
                *next == events.len()
            }
            Some(Running::Tone { frames }) => {
                let frame = frames.pop().unwrap_or(media.silence);
                let left = frames.len();
                packets.push(audio_packet(media, &frame));
                left == 0
            }
            Some(Running::Frames { loud, left }) => {
                let frame = if *loud { media.loud } else { media.silence };
                *left = left.saturating_sub(1);
                let left = *left;
                packets.push(audio_packet(media, &frame));
                left == 0
            }
        };
        if done {
            media.running = None;
        }
        let remote = media.negotiated.remote_rtp;
        for packet in packets {
            self.rtp_sent += 1;
            self.transmits.push_back((self.config.rtp, remote, packet));
        }
    }

    pub(super) fn handle_rtp(&mut self, now: Instant, bytes: &[u8]) {
        let Ok(packet) = RtpPacket::parse(bytes) else {
            return;
        };
        self.rtp_received += 1;
        let Some(recognizer) = self.recognizer.as_mut() else {
            return;
        };
        // After the grace what was heard is final.
        if self.flushed || packet.payload_type != recognizer.payload_type() {
            return;
        }
        if self.playout.delay.is_zero() {
            recognizer.push(&packet, now);
            self.idle_at = Some(now + TALKSPURT_IDLE);
            return;
        }
        let mut released = Vec::new();
        self.playout.push(now, &packet, bytes, &mut released);
        self.hear(now, released);
    }

    /// Hands packets the jitter buffer released to the recogniser, as arriving now.
    pub(super) fn hear(&mut self, now: Instant, released: Vec<Vec<u8>>) {
        let Some(recognizer) = self.recognizer.as_mut() else {
            return;
        };
        for bytes in &released {
            if let Ok(packet) = RtpPacket::parse(bytes) {
                recognizer.push(&packet, now);
            }
        }
        if !released.is_empty() {
            self.idle_at = Some(now + TALKSPURT_IDLE);
        }
    }
}

/// The next audio packet of our stream, carrying `frame`.
fn audio_packet(media: &mut Media, frame: &[u8]) -> Vec<u8> {
    let mut buffer = [0u8; SEND_BUFFER_LEN];
    let len = media
        .sender
        .build_audio(media.negotiated.payload_type, frame, &mut buffer)
        .expect("a frame fits the send buffer");
    buffer[..len].to_vec()
}

/// Whole 20 ms frames in `duration`, rounded up.
pub(super) fn frames_in(duration: Duration) -> u32 {
    duration.as_micros().div_ceil(FRAME.as_micros()) as u32
}
