//! Key presses: RFC 4733 telephone events, in-band DTMF tones, and the rule that one press is one digit.
//!
//! - [`TelephoneEventReceiver`] turns RFC 4733 packets into one [`DtmfUpdate::Pressed`] per event, reported at
//!   the first packet that arrives (so barge-in is fast), however many start, update or end packets are
//!   repeated or lost.
//! - [`InbandDetector`] finds DTMF tones in decoded audio (Goertzel filters), for calls that did not negotiate
//!   telephone-event.
//! - [`KeyPressDeduper`] merges the same press arriving by SIP INFO and by RTP.
//! - [`telephone_event_packets`] and [`dtmf_tone`] generate both kinds for tests and the test harness.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use portal_core::Digit;

use crate::rtp::{CLOCK_RATE, RtpPacket, timestamp_delta};
use crate::signal::{add_sine, dbm0_to_amplitude};

/// The DTMF low (row) group frequencies in Hz.
pub const ROW_FREQUENCIES: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// The DTMF high (column) group frequencies in Hz.
pub const COLUMN_FREQUENCIES: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

/// The keypad by row and column; RFC 4733 event codes for A-D are 12-15 and have no portal digit.
const KEYPAD: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// The digit an RFC 4733 event code stands for: 0-9, 10 is `*`, 11 is `#`. Events 12-15 (A-D) and all other
/// events (tones, flash) are not portal digits.
pub fn event_to_digit(event: u8) -> Option<Digit> {
    match event {
        0..=9 => Some(Digit::Number(event)),
        10 => Some(Digit::Star),
        11 => Some(Digit::Pound),
        _ => None,
    }
}

/// The RFC 4733 event code of a digit.
pub fn digit_to_event(digit: Digit) -> u8 {
    match digit {
        Digit::Number(n) => n.min(9),
        Digit::Star => 10,
        Digit::Pound => 11,
    }
}

/// The row and column frequencies of a digit's tone pair.
pub fn digit_frequencies(digit: Digit) -> (f32, f32) {
    let key = digit.as_char();
    for (row, keys) in KEYPAD.iter().enumerate() {
        if let Some(column) = keys.iter().position(|&k| k == key) {
            return (ROW_FREQUENCIES[row], COLUMN_FREQUENCIES[column]);
        }
    }
    unreachable!("every digit is on the keypad")
}

/// One RFC 4733 event payload block (4 bytes): event code, end bit, volume and duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code (0-9, 10 `*`, 11 `#`, 12-15 A-D, others non-DTMF).
    pub event: u8,
    /// The E bit: this packet reports the end of the event.
    pub end: bool,
    /// Power level as -dBm0, 0-63 (6 bits).
    pub volume: u8,
    /// Duration so far in timestamp units (samples at 8 kHz).
    pub duration: u16,
}

impl TelephoneEvent {
    /// Length of the payload block.
    pub const LEN: usize = 4;

    /// Parses the first block of a payload; `None` if shorter than 4 bytes. Trailing bytes are ignored.
    pub fn parse(payload: &[u8]) -> Option<TelephoneEvent> {
        let &[event, flags, duration_high, duration_low, ..] = payload else {
            return None;
        };
        Some(TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([duration_high, duration_low]),
        })
    }

    /// The payload bytes (the reserved bit is zero; volume is cut to 6 bits).
    pub fn to_bytes(self) -> [u8; 4] {
        let flags = if self.end { 0x80 } else { 0 } | (self.volume & 0x3F);
        let [duration_high, duration_low] = self.duration.to_be_bytes();
        [self.event, flags, duration_high, duration_low]
    }

    /// The portal digit of this event, if it is one.
    pub fn digit(self) -> Option<Digit> {
        event_to_digit(self.event)
    }
}

/// What one telephone-event packet changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtmfUpdate {
    /// A new key press: report it to the conversation now. Exactly one per event.
    Pressed(Digit),
    /// The end of a press reported earlier, with its total duration in samples. At most one per event, and
    /// only when the event's end arrives after its first packet.
    Released {
        /// The key.
        digit: Digit,
        /// How long the key was held, in samples (8 kHz).
        duration_samples: u32,
    },
}

/// One event the receiver has seen, remembered so its repeats are recognised.
#[derive(Clone, Copy, Debug)]
struct EventState {
    ssrc: u32,
    timestamp: u32,
    event: u8,
    ended: bool,
    /// Samples of earlier segments of a long event (RFC 4733 §2.5.1.3), plus this segment's latest duration.
    earlier_segments: u32,
    duration: u16,
}

/// Events remembered; more than enough for stragglers of the previous few presses.
const REMEMBERED_EVENTS: usize = 8;
/// A new event whose timestamp is behind the newest one by less than this (60 s) is a straggler, not a press.
const STALE_WINDOW: i32 = 60 * CLOCK_RATE as i32;
/// Slack allowed around the 0xFFFF step between segments of a long event (100 ms).
const SEGMENT_SLACK: i64 = 800;

/// Turns RFC 4733 telephone-event packets into key presses: one per event, keyed by (SSRC, RTP timestamp).
///
/// The press is reported by the first packet of the event that arrives, whether that is the start packet,
/// an update or one of the (normally three) end packets. Later packets of the same event, duplicates, and
/// stragglers of earlier events report nothing, except one [`DtmfUpdate::Released`] when the end arrives.
#[derive(Debug, Default)]
pub struct TelephoneEventReceiver {
    recent: VecDeque<EventState>,
}

impl TelephoneEventReceiver {
    /// A receiver that has seen no events.
    pub fn new() -> TelephoneEventReceiver {
        TelephoneEventReceiver {
            recent: VecDeque::with_capacity(REMEMBERED_EVENTS + 1),
        }
    }

    /// Feeds one packet that carries the negotiated telephone-event payload type.
    pub fn receive(&mut self, packet: &RtpPacket<'_>) -> Option<DtmfUpdate> {
        self.receive_payload(packet.ssrc, packet.timestamp, packet.marker, packet.payload)
    }

    /// Feeds the fields of one telephone-event packet. Never panics, whatever the payload.
    pub fn receive_payload(
        &mut self,
        ssrc: u32,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Option<DtmfUpdate> {
        let block = TelephoneEvent::parse(payload)?;
        if let Some(known) = self
            .recent
            .iter_mut()
            .find(|state| state.ssrc == ssrc && state.timestamp == timestamp)
        {
            if known.event != block.event {
                // Two events cannot share a start time; a sender that reuses one is confused. Ignore it.
                return None;
            }
            known.duration = known.duration.max(block.duration);
            if block.end && !known.ended {
                known.ended = true;
                let total = known.earlier_segments + u32::from(known.duration);
                return event_to_digit(known.event).map(|digit| DtmfUpdate::Released {
                    digit,
                    duration_samples: total,
                });
            }
            return None;
        }

        if let Some(previous) = self.next_segment_of(ssrc, timestamp, marker, block.event) {
            // The same key still held past 0xFFFF samples: a new segment of the same press.
            let earlier = previous.earlier_segments + timestamp.wrapping_sub(previous.timestamp);
            previous.ended = true;
            self.remember(EventState {
                ssrc,
                timestamp,
                event: block.event,
                ended: block.end,
                earlier_segments: earlier,
                duration: block.duration,
            });
            return None;
        }

        let newest_for_ssrc = self.recent.iter().rev().find(|state| state.ssrc == ssrc);
        if let Some(newest) = newest_for_ssrc {
            let behind = timestamp_delta(newest.timestamp, timestamp);
            if behind < 0 && behind > -STALE_WINDOW {
                // A late packet of an event we have already forgotten.
                return None;
            }
        }

        self.remember(EventState {
            ssrc,
            timestamp,
            event: block.event,
            ended: block.end,
            earlier_segments: 0,
            duration: block.duration,
        });
        event_to_digit(block.event).map(DtmfUpdate::Pressed)
    }

    /// The unfinished event that a packet at `timestamp` continues as a new segment (RFC 4733 §2.5.1.3).
    fn next_segment_of(
        &mut self,
        ssrc: u32,
        timestamp: u32,
        marker: bool,
        event: u8,
    ) -> Option<&mut EventState> {
        if marker {
            return None;
        }
        self.recent.iter_mut().rev().find(|state| {
            let step = i64::from(timestamp_delta(state.timestamp, timestamp));
            state.ssrc == ssrc
                && state.event == event
                && !state.ended
                && (step - 0xFFFF).abs() <= SEGMENT_SLACK
        })
    }

    fn remember(&mut self, state: EventState) {
        if self.recent.len() == REMEMBERED_EVENTS {
            self.recent.pop_front();
        }
        self.recent.push_back(state);
    }
}

/// How [`telephone_event_packets`] paces an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TelephoneEventPacing {
    /// Samples between update packets while the key is held (400 = 50 ms).
    pub update_interval: u32,
    /// How many end packets to send (RFC 4733 asks for three).
    pub end_packets: u8,
    /// Samples between the end packets (160 = 20 ms).
    pub end_interval: u32,
    /// Volume field, as -dBm0.
    pub volume: u8,
}

impl Default for TelephoneEventPacing {
    fn default() -> Self {
        TelephoneEventPacing {
            update_interval: 400,
            end_packets: 3,
            end_interval: 160,
            volume: 10,
        }
    }
}

/// One packet of a generated telephone event: when to send it and what goes in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TelephoneEventPacket {
    /// When to send it, in samples after the key went down.
    pub send_at: u32,
    /// The marker bit (set on the first packet of the event only).
    pub marker: bool,
    /// The RTP timestamp: the start of the event (or of its segment, for events longer than 0xFFFF).
    pub timestamp: u32,
    /// The payload block.
    pub event: TelephoneEvent,
}

/// The RFC 4733 packets a phone sends for one key held `duration` samples from `start_timestamp`: a first
/// packet with the marker bit (duration 0: the key just went down), updates every `update_interval`, then the
/// end packets, all with the same timestamp and final duration. Events longer than 0xFFFF samples are split
/// into segments with new timestamps.
pub fn telephone_event_packets(
    digit: Digit,
    start_timestamp: u32,
    duration: u32,
    pacing: TelephoneEventPacing,
) -> Vec<TelephoneEventPacket> {
    let event = digit_to_event(digit);
    let interval = pacing.update_interval.max(1);
    let block = |elapsed_in_segment: u32, end: bool| TelephoneEvent {
        event,
        end,
        volume: pacing.volume,
        duration: elapsed_in_segment.min(0xFFFF) as u16,
    };
    let mut packets = Vec::new();
    let mut send_at = 0;
    while send_at < duration.max(1) {
        let segment_start = (send_at / 0xFFFF) * 0xFFFF;
        packets.push(TelephoneEventPacket {
            send_at,
            marker: send_at == 0,
            timestamp: start_timestamp.wrapping_add(segment_start),
            event: block(send_at - segment_start, false),
        });
        send_at += interval;
    }
    let last_segment_start = (duration.saturating_sub(1) / 0xFFFF) * 0xFFFF;
    for repeat in 0..u32::from(pacing.end_packets) {
        packets.push(TelephoneEventPacket {
            send_at: duration + repeat * pacing.end_interval,
            marker: false,
            timestamp: start_timestamp.wrapping_add(last_segment_start),
            event: block(duration - last_segment_start, true),
        });
    }
    packets
}

/// Adds the tone pair of `digit` at `level_dbm0` per tone onto `samples`.
pub fn add_dtmf_tone(samples: &mut [i16], digit: Digit, level_dbm0: f32) {
    let (row, column) = digit_frequencies(digit);
    let amplitude = dbm0_to_amplitude(level_dbm0);
    add_sine(samples, row, amplitude);
    add_sine(samples, column, amplitude);
}

/// `len` samples of the tone pair of `digit` at `level_dbm0` per tone.
pub fn dtmf_tone(digit: Digit, len: usize, level_dbm0: f32) -> Vec<i16> {
    let mut samples = vec![0; len];
    add_dtmf_tone(&mut samples, digit, level_dbm0);
    samples
}

/// Thresholds of the in-band detector. The defaults follow the usual DTMF receiver requirements: accept tones
/// of 40 ms or more (38 ms at any alignment in our tests; none under 30 ms) down to -31 dBm0 per tone, with up
/// to 8 dB of twist and frequencies off by 1.5% (up to about 2.5%; 3% and more are rejected), and require a
/// pause of about 20 ms before the same key counts again (shorter dropouts are bridged).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InbandConfig {
    /// Samples per analysis window (102..=205 are sensible; 160 is one 20 ms frame).
    pub window: usize,
    /// Samples between the starts of successive windows (80: windows overlap by half).
    pub hop: usize,
    /// Weakest tone accepted, per tone, in dBm0.
    pub min_level_dbm0: f32,
    /// How much louder the high tone may be than the low one, in dB.
    pub max_high_twist_db: f32,
    /// How much louder the low tone may be than the high one, in dB.
    pub max_low_twist_db: f32,
    /// How far each tone must stand above the other tones of its group, in dB.
    pub min_group_margin_db: f32,
    /// Share of the window's energy the two tones must hold (rejects speech, noise and chords).
    pub min_tone_share: f32,
    /// Shortest tone reported, in samples.
    pub min_duration: usize,
    /// Pause before the same key counts again, in samples: counted in windows without the tone, and windows
    /// only partly covered by it count too, so the silence itself may be shorter (20 ms with the defaults).
    pub min_gap: usize,
}

impl Default for InbandConfig {
    fn default() -> Self {
        InbandConfig {
            window: 160,
            hop: 80,
            min_level_dbm0: -32.0,
            max_high_twist_db: 8.0,
            max_low_twist_db: 8.0,
            min_group_margin_db: 6.0,
            min_tone_share: 0.7,
            min_duration: 320,
            min_gap: 240,
        }
    }
}

/// A digit found in-band, with where the detector was sure of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InbandDigit {
    /// The key.
    pub digit: Digit,
    /// Samples fed to the detector up to the moment it was sure (the tone began about `min_duration` before).
    pub at_sample: u64,
}

/// Relative offsets probed around each DTMF frequency. Keypads may be off by up to 1.5%, more than half a
/// Goertzel bin at 160 samples for the high group; the strongest of three probes measures such a tone fully.
const PROBE_OFFSETS: [f32; 3] = [-0.015, 0.0, 0.015];

/// Number of Goertzel filters: three probes for each of the eight frequencies.
const PROBES: usize = 24;

/// Goertzel coefficients (2·cos ω): for each DTMF frequency (rows, then columns) its three probes, in order.
fn goertzel_coefficients() -> [f32; PROBES] {
    let mut coefficients = [0.0; PROBES];
    let frequencies = ROW_FREQUENCIES.iter().chain(COLUMN_FREQUENCIES.iter());
    let probed =
        frequencies.flat_map(|frequency| PROBE_OFFSETS.map(|offset| frequency * (1.0 + offset)));
    for (coefficient, frequency) in coefficients.iter_mut().zip(probed) {
        *coefficient = 2.0 * (std::f32::consts::TAU * frequency / CLOCK_RATE as f32).cos();
    }
    coefficients
}

/// Finds DTMF tones in 8 kHz linear audio: Goertzel filters on overlapping windows, level, twist and
/// energy-share checks per window, then a minimum duration and a minimum pause between presses.
///
/// Use it only when telephone-event was not negotiated: with RFC 4733 the phone usually still leaks some
/// tone into the audio, which would count twice.
#[derive(Debug, Clone)]
pub struct InbandDetector {
    config: InbandConfig,
    coefficients: [f32; PROBES],
    /// Thresholds precomputed from `config`.
    min_power: f32,
    high_twist: f32,
    low_twist: f32,
    group_margin: f32,
    windows_for_press: u32,
    windows_for_gap: u32,
    /// The last `window` samples (oldest first).
    history: Vec<i16>,
    samples_since_window: usize,
    samples_seen: u64,
    run_key: Option<usize>,
    run_windows: u32,
    gap_windows: u32,
    /// The key currently held, once reported (blocks repeats until a pause).
    held_key: Option<usize>,
    found: VecDeque<InbandDigit>,
}

impl InbandDetector {
    /// A detector with the default thresholds.
    pub fn new() -> InbandDetector {
        InbandDetector::with_config(InbandConfig::default())
    }

    /// A detector with explicit thresholds.
    ///
    /// # Panics
    /// If `window` or `hop` is zero, or `hop` exceeds `window`.
    pub fn with_config(config: InbandConfig) -> InbandDetector {
        assert!(config.window > 0 && config.hop > 0 && config.hop <= config.window);
        let db = |value: f32| 10f32.powf(value / 10.0);
        // Goertzel power of a full-window sine of peak A is (A·N/2)².
        let min_amplitude = dbm0_to_amplitude(config.min_level_dbm0);
        let min_power = (min_amplitude * config.window as f32 / 2.0).powi(2);
        let windows_for_press =
            (config.min_duration.saturating_sub(config.window)).div_ceil(config.hop) as u32 + 1;
        let windows_for_gap = config.min_gap.div_ceil(config.hop).max(1) as u32;
        InbandDetector {
            config,
            coefficients: goertzel_coefficients(),
            min_power,
            high_twist: db(config.max_high_twist_db),
            low_twist: db(config.max_low_twist_db),
            group_margin: db(config.min_group_margin_db),
            windows_for_press,
            windows_for_gap,
            history: vec![0; config.window],
            samples_since_window: 0,
            samples_seen: 0,
            run_key: None,
            run_windows: 0,
            gap_windows: windows_for_gap,
            held_key: None,
            found: VecDeque::new(),
        }
    }

    /// The thresholds in use.
    pub fn config(&self) -> &InbandConfig {
        &self.config
    }

    /// Feeds decoded audio (any length; typically one 20 ms frame). Found digits wait in [`poll`](Self::poll).
    pub fn push(&mut self, samples: &[i16]) {
        let window = self.config.window;
        let hop = self.config.hop;
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (hop - self.samples_since_window).min(rest.len());
            self.history.copy_within(take.., 0);
            self.history[window - take..].copy_from_slice(&rest[..take]);
            rest = &rest[take..];
            self.samples_since_window += take;
            self.samples_seen += take as u64;
            if self.samples_since_window == hop {
                self.samples_since_window = 0;
                if self.samples_seen >= window as u64 {
                    let key = self.classify_index(&self.history);
                    self.step(key);
                }
            }
        }
    }

    /// The next digit found, oldest first.
    pub fn poll(&mut self) -> Option<InbandDigit> {
        self.found.pop_front()
    }

    /// Feeds one frame and returns the first digit found in it, if any (a 20 ms frame holds at most one).
    pub fn push_frame(&mut self, samples: &[i16]) -> Option<Digit> {
        self.push(samples);
        self.poll().map(|found| found.digit)
    }

    /// Forgets any tone in progress (for example when the call's audio restarts).
    pub fn reset(&mut self) {
        *self = InbandDetector::with_config(self.config);
    }

    /// The keypad key (`0`-`9`, `*`, `#`, or `A`-`D`) whose tone pair fills one window of audio, judged on its
    /// own (no duration or pause rules); `None` if the window holds no clean DTMF pair.
    pub fn classify(&self, window: &[i16]) -> Option<char> {
        self.classify_index(window)
            .map(|key| KEYPAD[key / 4][key % 4])
    }

    /// Like [`classify`](Self::classify), as the key's index on the keypad (row * 4 + column).
    fn classify_index(&self, window: &[i16]) -> Option<usize> {
        let probe_powers = goertzel_powers(window, &self.coefficients);
        let mut powers = [0f32; 8];
        for (power, probes) in powers
            .iter_mut()
            .zip(probe_powers.chunks_exact(PROBE_OFFSETS.len()))
        {
            *power = probes.iter().copied().fold(0.0, f32::max);
        }
        let energy: f32 = window.iter().map(|&s| f32::from(s) * f32::from(s)).sum();
        self.judge(&powers, energy, window.len())
    }

    fn judge(&self, powers: &[f32; 8], energy: f32, len: usize) -> Option<usize> {
        let (rows, columns) = powers.split_at(4);
        let row = strongest(rows);
        let column = strongest(columns);
        let row_power = rows[row];
        let column_power = columns[column];
        // Scale the level threshold to the window (only differs from `min_power` for short input).
        let min_power = self.min_power * (len as f32 / self.config.window as f32).powi(2);
        if row_power < min_power || column_power < min_power {
            return None;
        }
        if column_power > row_power * self.high_twist || row_power > column_power * self.low_twist {
            return None;
        }
        let stands_out = |group: &[f32], best: usize| {
            group
                .iter()
                .enumerate()
                .all(|(i, &power)| i == best || power * self.group_margin <= group[best])
        };
        if !stands_out(rows, row) || !stands_out(columns, column) {
            return None;
        }
        // A sine's Goertzel power is N/2 times its energy, so this is the tones' share of the window energy.
        let tone_energy = (row_power + column_power) * 2.0 / len as f32;
        if tone_energy < self.config.min_tone_share * energy {
            return None;
        }
        Some(row * 4 + column)
    }

    fn step(&mut self, key: Option<usize>) {
        let Some(key) = key else {
            self.run_key = None;
            self.run_windows = 0;
            self.gap_windows = self.gap_windows.saturating_add(1);
            if self.gap_windows >= self.windows_for_gap {
                self.held_key = None;
            }
            return;
        };
        self.gap_windows = 0;
        if self.run_key == Some(key) {
            self.run_windows += 1;
        } else {
            self.run_key = Some(key);
            self.run_windows = 1;
        }
        if self.run_windows == self.windows_for_press && self.held_key != Some(key) {
            self.held_key = Some(key);
            let key_char = KEYPAD[key / 4][key % 4];
            if let Some(digit) = Digit::from_char(key_char) {
                self.found.push_back(InbandDigit {
                    digit,
                    at_sample: self.samples_seen,
                });
            }
        }
    }
}

impl Default for InbandDetector {
    fn default() -> Self {
        InbandDetector::new()
    }
}

/// Goertzel filter output powers |X(ω)|² of all probes over `samples`.
///
/// The filters run side by side, one sample at a time: each filter's recurrence is a serial chain, but the
/// 24 chains are independent, so the compiler can vectorise across them.
#[inline]
fn goertzel_powers(samples: &[i16], coefficients: &[f32; PROBES]) -> [f32; PROBES] {
    let mut previous = [0f32; PROBES];
    let mut before_previous = [0f32; PROBES];
    for &sample in samples {
        let input = f32::from(sample);
        for k in 0..PROBES {
            let current = input + coefficients[k] * previous[k] - before_previous[k];
            before_previous[k] = previous[k];
            previous[k] = current;
        }
    }
    let mut powers = [0f32; PROBES];
    for k in 0..PROBES {
        powers[k] = previous[k] * previous[k] + before_previous[k] * before_previous[k]
            - coefficients[k] * previous[k] * before_previous[k];
    }
    powers
}

fn strongest(powers: &[f32]) -> usize {
    let mut best = 0;
    for (i, &power) in powers.iter().enumerate() {
        if power > powers[best] {
            best = i;
        }
    }
    best
}

/// Where a key press came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeySource {
    /// A SIP INFO request (`application/dtmf-relay` or `application/dtmf`).
    SipInfo,
    /// An RFC 4733 telephone event.
    TelephoneEvent,
    /// A tone found in the audio.
    Inband,
}

impl KeySource {
    fn bit(self) -> u8 {
        match self {
            KeySource::SipInfo => 1,
            KeySource::TelephoneEvent => 2,
            KeySource::Inband => 4,
        }
    }
}

/// How close together the same digit from two sources must be to count as one press.
pub const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_millis(200);

#[derive(Clone, Copy, Debug)]
struct AcceptedPress {
    digit: Digit,
    at: Instant,
    /// Sources already matched to this press (each source reports a press at most once).
    sources: u8,
}

/// Merges one key press reported by several signalling paths: the same digit from a different source within
/// the window (200 ms) is the same press. The same digit twice from one source is two presses, because each
/// source already reports exactly one digit per press.
#[derive(Debug)]
pub struct KeyPressDeduper {
    window: Duration,
    recent: VecDeque<AcceptedPress>,
}

impl KeyPressDeduper {
    /// A deduper with the default 200 ms window.
    pub fn new() -> KeyPressDeduper {
        KeyPressDeduper::with_window(DEFAULT_DEDUP_WINDOW)
    }

    /// A deduper with its own window.
    pub fn with_window(window: Duration) -> KeyPressDeduper {
        KeyPressDeduper {
            window,
            recent: VecDeque::new(),
        }
    }

    /// Whether `digit` from `source` at `now` is a new key press (`true`: pass it to the conversation) or
    /// another report of one already accepted (`false`).
    pub fn accept(&mut self, digit: Digit, source: KeySource, now: Instant) -> bool {
        let window = self.window;
        self.recent.retain(|press| {
            now.checked_duration_since(press.at)
                .is_none_or(|age| age <= window)
        });
        let bit = source.bit();
        if let Some(press) = self
            .recent
            .iter_mut()
            .find(|press| press.digit == digit && press.sources & bit == 0)
        {
            press.sources |= bit;
            return false;
        }
        self.recent.push_back(AcceptedPress {
            digit,
            at: now,
            sources: bit,
        });
        true
    }
}

impl Default for KeyPressDeduper {
    fn default() -> Self {
        KeyPressDeduper::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::g711::Codec;
    use proptest::prelude::*;

    const ALL_DIGITS: [Digit; 12] = [
        Digit::Number(0),
        Digit::Number(1),
        Digit::Number(2),
        Digit::Number(3),
        Digit::Number(4),
        Digit::Number(5),
        Digit::Number(6),
        Digit::Number(7),
        Digit::Number(8),
        Digit::Number(9),
        Digit::Star,
        Digit::Pound,
    ];

    // ---- RFC 4733 ----

    #[test]
    fn event_codes_map_to_digits() {
        for digit in ALL_DIGITS {
            assert_eq!(event_to_digit(digit_to_event(digit)), Some(digit));
        }
        assert_eq!(event_to_digit(10), Some(Digit::Star));
        assert_eq!(event_to_digit(11), Some(Digit::Pound));
        for event in 12..=255 {
            assert_eq!(event_to_digit(event), None);
        }
    }

    #[test]
    fn payload_round_trips() {
        let block = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 1234,
        };
        assert_eq!(block.to_bytes(), [11, 0x8A, 0x04, 0xD2]);
        assert_eq!(TelephoneEvent::parse(&block.to_bytes()), Some(block));
        assert_eq!(
            TelephoneEvent::parse(&[11, 0xCA, 0, 1, 99]).unwrap().volume,
            10
        );
        assert_eq!(TelephoneEvent::parse(&[1, 2, 3]), None);
    }

    fn feed(
        receiver: &mut TelephoneEventReceiver,
        ssrc: u32,
        packets: &[TelephoneEventPacket],
    ) -> Vec<DtmfUpdate> {
        packets
            .iter()
            .filter_map(|p| {
                receiver.receive_payload(ssrc, p.timestamp, p.marker, &p.event.to_bytes())
            })
            .collect()
    }

    #[test]
    fn one_press_per_event_reported_at_the_first_packet() {
        let packets = telephone_event_packets(
            Digit::Number(5),
            1000,
            1600,
            TelephoneEventPacing::default(),
        );
        // 0, 400, 800, 1200 then three ends.
        assert_eq!(packets.len(), 7);
        assert!(packets[0].marker && packets[1..].iter().all(|p| !p.marker));
        assert!(packets.iter().all(|p| p.timestamp == 1000));
        assert!(
            packets[4..]
                .iter()
                .all(|p| p.event.end && p.event.duration == 1600)
        );
        let mut receiver = TelephoneEventReceiver::new();
        let first = receiver.receive_payload(1, 1000, true, &packets[0].event.to_bytes());
        assert_eq!(first, Some(DtmfUpdate::Pressed(Digit::Number(5))));
        assert_eq!(
            feed(&mut receiver, 1, &packets[1..]),
            vec![DtmfUpdate::Released {
                digit: Digit::Number(5),
                duration_samples: 1600
            }]
        );
    }

    #[test]
    fn lost_start_and_lost_ends_still_give_one_press() {
        let packets =
            telephone_event_packets(Digit::Star, 50, 2000, TelephoneEventPacing::default());
        // Only the end packets arrive.
        let mut receiver = TelephoneEventReceiver::new();
        let ends: Vec<_> = packets.iter().copied().filter(|p| p.event.end).collect();
        assert_eq!(
            feed(&mut receiver, 9, &ends),
            vec![DtmfUpdate::Pressed(Digit::Star)]
        );
        // Only the start arrives, all ends lost.
        let mut receiver = TelephoneEventReceiver::new();
        assert_eq!(
            feed(&mut receiver, 9, &packets[..1]),
            vec![DtmfUpdate::Pressed(Digit::Star)]
        );
        // Only one update in the middle arrives.
        let mut receiver = TelephoneEventReceiver::new();
        assert_eq!(
            feed(&mut receiver, 9, &packets[2..3]),
            vec![DtmfUpdate::Pressed(Digit::Star)]
        );
    }

    #[test]
    fn same_digit_twice_is_two_presses_and_stragglers_are_ignored() {
        let pacing = TelephoneEventPacing::default();
        let first = telephone_event_packets(Digit::Number(1), 8000, 800, pacing);
        let second = telephone_event_packets(Digit::Number(1), 8000 + 1600, 800, pacing);
        let mut receiver = TelephoneEventReceiver::new();
        let mut all = first.clone();
        // The last end packet of the first press arrives after the second press began.
        let late = all.pop().unwrap();
        all.extend_from_slice(&second[..2]);
        all.push(late);
        all.extend_from_slice(&second[2..]);
        let presses: Vec<_> = feed(&mut receiver, 3, &all)
            .into_iter()
            .filter(|u| matches!(u, DtmfUpdate::Pressed(_)))
            .collect();
        assert_eq!(presses, vec![DtmfUpdate::Pressed(Digit::Number(1)); 2]);
    }

    #[test]
    fn forgotten_old_events_do_not_come_back() {
        let mut receiver = TelephoneEventReceiver::new();
        let pacing = TelephoneEventPacing::default();
        for i in 0..20u32 {
            let packets = telephone_event_packets(Digit::Number(2), i * 4000, 800, pacing);
            assert_eq!(feed(&mut receiver, 4, &packets).len(), 2);
        }
        // An end packet of the first event, very late.
        let stale = telephone_event_packets(Digit::Number(2), 0, 800, pacing);
        assert_eq!(feed(&mut receiver, 4, &stale[stale.len() - 1..]), vec![]);
    }

    #[test]
    fn events_are_keyed_by_ssrc_too() {
        let packets =
            telephone_event_packets(Digit::Pound, 700, 800, TelephoneEventPacing::default());
        let mut receiver = TelephoneEventReceiver::new();
        assert_eq!(
            feed(&mut receiver, 1, &packets[..1]),
            vec![DtmfUpdate::Pressed(Digit::Pound)]
        );
        // A new SSRC (the phone restarted its stream) with the same timestamp is a new press.
        assert_eq!(
            feed(&mut receiver, 2, &packets[..1]),
            vec![DtmfUpdate::Pressed(Digit::Pound)]
        );
    }

    #[test]
    fn keys_a_to_d_are_ignored() {
        let mut receiver = TelephoneEventReceiver::new();
        for event in 12..=15u8 {
            let block = TelephoneEvent {
                event,
                end: false,
                volume: 10,
                duration: 0,
            };
            assert_eq!(
                receiver.receive_payload(1, u32::from(event) * 1000, true, &block.to_bytes()),
                None
            );
            let end = TelephoneEvent { end: true, ..block };
            assert_eq!(
                receiver.receive_payload(1, u32::from(event) * 1000, false, &end.to_bytes()),
                None
            );
        }
    }

    #[test]
    fn long_press_split_into_segments_is_one_press() {
        // 10 s held: 80 000 samples, two segments.
        let packets = telephone_event_packets(
            Digit::Number(0),
            u32::MAX - 1000,
            80_000,
            TelephoneEventPacing::default(),
        );
        let timestamps: std::collections::BTreeSet<u32> =
            packets.iter().map(|p| p.timestamp).collect();
        assert_eq!(timestamps.len(), 2);
        let mut receiver = TelephoneEventReceiver::new();
        assert_eq!(
            feed(&mut receiver, 5, &packets),
            vec![
                DtmfUpdate::Pressed(Digit::Number(0)),
                DtmfUpdate::Released {
                    digit: Digit::Number(0),
                    duration_samples: 80_000
                }
            ]
        );
    }

    #[test]
    fn receive_reads_rtp_packets() {
        let packets =
            telephone_event_packets(Digit::Number(9), 123, 800, TelephoneEventPacing::default());
        let bytes = packets[0].event.to_bytes();
        let packet = RtpPacket {
            payload_type: 101,
            marker: true,
            sequence: 1,
            timestamp: 123,
            ssrc: 77,
            payload: &bytes,
        };
        let mut receiver = TelephoneEventReceiver::new();
        assert_eq!(
            receiver.receive(&packet),
            Some(DtmfUpdate::Pressed(Digit::Number(9)))
        );
        assert_eq!(receiver.receive(&packet), None);
    }

    proptest! {
        #[test]
        fn receiver_never_panics(packets in proptest::collection::vec(
            (any::<u32>(), any::<u32>(), any::<bool>(), proptest::collection::vec(any::<u8>(), 0..8)),
            0..40,
        )) {
            let mut receiver = TelephoneEventReceiver::new();
            for (ssrc, timestamp, marker, payload) in packets {
                let _ = receiver.receive_payload(ssrc % 3, timestamp % 5000, marker, &payload);
            }
        }

        #[test]
        fn any_surviving_subset_in_any_order_is_one_press(
            digit_index in 0usize..12,
            start: u32,
            duration in 160u32..8000,
            keep in proptest::collection::vec(any::<bool>(), 40),
            shuffle_seed: u64,
        ) {
            let digit = ALL_DIGITS[digit_index];
            let packets = telephone_event_packets(digit, start, duration, TelephoneEventPacing::default());
            let mut kept: Vec<_> = packets.iter().zip(keep.iter().cycle()).filter(|(_, k)| **k).map(|(p, _)| *p).collect();
            prop_assume!(!kept.is_empty());
            // Deterministic shuffle.
            let mut state = shuffle_seed | 1;
            for i in (1..kept.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                kept.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let mut receiver = TelephoneEventReceiver::new();
            let updates = feed(&mut receiver, 1, &kept);
            let presses = updates.iter().filter(|u| matches!(u, DtmfUpdate::Pressed(_))).count();
            prop_assert_eq!(presses, 1);
            prop_assert_eq!(updates[0], DtmfUpdate::Pressed(digit));
        }
    }

    // ---- In-band ----

    fn detect_all(detector: &mut InbandDetector, audio: &[i16]) -> Vec<InbandDigit> {
        let mut found = Vec::new();
        for frame in audio.chunks(160) {
            detector.push(frame);
            while let Some(digit) = detector.poll() {
                found.push(digit);
            }
        }
        found
    }

    fn digits(found: &[InbandDigit]) -> Vec<Digit> {
        found.iter().map(|f| f.digit).collect()
    }

    /// Keys separated by pauses: `tone` samples of each, `pause` samples between, starting after `lead`.
    fn key_sequence(
        keys: &[Digit],
        lead: usize,
        tone: usize,
        pause: usize,
        level: f32,
    ) -> Vec<i16> {
        let mut audio = vec![0i16; lead];
        for &key in keys {
            audio.extend(dtmf_tone(key, tone, level));
            audio.extend(std::iter::repeat_n(0, pause));
        }
        audio
    }

    /// Deterministic white-ish noise with peak `amplitude`.
    fn noise(len: usize, amplitude: f32, seed: u64) -> Vec<i16> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let unit = (state >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0;
                (unit * amplitude) as i16
            })
            .collect()
    }

    #[test]
    fn detects_every_key_at_several_levels() {
        for level in [-3.0, -10.0, -20.0, -28.0] {
            let audio = key_sequence(&ALL_DIGITS, 400, 800, 800, level);
            let found = detect_all(&mut InbandDetector::new(), &audio);
            assert_eq!(digits(&found), ALL_DIGITS.to_vec(), "level {level} dBm0");
        }
    }

    #[test]
    fn ignores_tones_below_the_level_threshold() {
        let audio = key_sequence(&[Digit::Number(5)], 0, 800, 800, -40.0);
        assert!(detect_all(&mut InbandDetector::new(), &audio).is_empty());
    }

    #[test]
    fn survives_g711_round_trip() {
        for codec in Codec::ALL {
            for level in [-5.0, -25.0] {
                let audio = key_sequence(&ALL_DIGITS, 160, 560, 560, level);
                let mut codes = vec![0u8; audio.len()];
                codec.encode(&audio, &mut codes);
                let mut decoded = vec![0i16; audio.len()];
                codec.decode(&codes, &mut decoded);
                let found = detect_all(&mut InbandDetector::new(), &decoded);
                assert_eq!(
                    digits(&found),
                    ALL_DIGITS.to_vec(),
                    "{codec:?} at {level} dBm0"
                );
            }
        }
    }

    #[test]
    fn detects_through_moderate_noise() {
        // Tones at -15 dBm0 each; noise about 15 dB below the pair.
        let mut audio = key_sequence(&ALL_DIGITS, 400, 640, 640, -15.0);
        let tone_amplitude = dbm0_to_amplitude(-15.0);
        let noise = noise(audio.len(), tone_amplitude * 0.3, 7);
        for (sample, n) in audio.iter_mut().zip(noise) {
            *sample = sample.saturating_add(n);
        }
        let found = detect_all(&mut InbandDetector::new(), &audio);
        assert_eq!(digits(&found), ALL_DIGITS.to_vec());
    }

    #[test]
    fn noise_alone_detects_nothing() {
        for seed in 1..6 {
            let audio = noise(8000 * 2, 10_000.0, seed);
            assert!(
                detect_all(&mut InbandDetector::new(), &audio).is_empty(),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn speech_like_sounds_do_not_trigger() {
        let len = 8000;
        let amplitude = dbm0_to_amplitude(-10.0);
        let mut cases: Vec<(String, Vec<i16>)> = Vec::new();
        // Single sines, including the DTMF frequencies themselves.
        for frequency in ROW_FREQUENCIES
            .iter()
            .chain(COLUMN_FREQUENCIES.iter())
            .chain(&[440.0, 1000.0, 2000.0])
        {
            cases.push((
                format!("sine {frequency}"),
                crate::signal::sine(*frequency, amplitude, len),
            ));
        }
        // Chords that are not DTMF pairs: two rows, two columns, and pairs off frequency by 5%.
        let chords: [&[f32]; 5] = [
            &[697.0, 852.0],
            &[1209.0, 1477.0],
            &[697.0 * 1.05, 1209.0 * 1.05],
            &[440.0, 554.0, 659.0],
            &[300.0, 600.0, 900.0, 1200.0, 1500.0],
        ];
        for chord in chords {
            let mut samples = vec![0i16; len];
            for &frequency in chord {
                add_sine(
                    &mut samples,
                    frequency,
                    amplitude / chord.len() as f32 * 2.0,
                );
            }
            cases.push((format!("chord {chord:?}"), samples));
        }
        // Voiced speech: a fundamental with falling harmonics, at several pitches.
        for fundamental in [95.0, 120.0, 150.0, 210.0, 260.0] {
            let mut voiced = vec![0i16; len];
            for harmonic in 1..16 {
                let frequency = fundamental * harmonic as f32;
                if frequency < 3800.0 {
                    add_sine(&mut voiced, frequency, amplitude / harmonic as f32);
                }
            }
            cases.push((format!("voice at {fundamental} Hz"), voiced));
        }
        // A DTMF pair with a third, equally loud tone on top (a voice over the key) is not clean enough.
        let mut masked = dtmf_tone(Digit::Number(1), len, -10.0);
        add_sine(&mut masked, 500.0, amplitude);
        cases.push(("pair plus voice".into(), masked));
        for (name, samples) in cases {
            assert!(
                detect_all(&mut InbandDetector::new(), &samples).is_empty(),
                "{name} triggered"
            );
        }
    }

    #[test]
    fn accepts_keypads_off_by_one_and_a_half_percent_but_not_by_four() {
        for digit in ALL_DIGITS {
            let (row, column) = digit_frequencies(digit);
            for (error, expected) in [(0.015, 1), (-0.015, 1), (0.04, 0), (-0.04, 0)] {
                let mut audio = vec![0i16; 800];
                add_sine(&mut audio, row * (1.0 + error), dbm0_to_amplitude(-15.0));
                add_sine(&mut audio, column * (1.0 + error), dbm0_to_amplitude(-15.0));
                let found = detect_all(&mut InbandDetector::new(), &audio);
                assert_eq!(found.len(), expected, "{digit:?} off by {error}");
            }
        }
    }

    #[test]
    fn accepts_small_frequency_error_and_twist() {
        let mut audio = vec![0i16; 1600];
        add_sine(&mut audio, 770.0 * 1.015, dbm0_to_amplitude(-12.0));
        add_sine(&mut audio, 1336.0 * 0.985, dbm0_to_amplitude(-18.0));
        assert_eq!(
            digits(&detect_all(&mut InbandDetector::new(), &audio)),
            vec![Digit::Number(5)]
        );
        // 12 dB of twist is beyond the limit.
        let mut twisted = vec![0i16; 1600];
        add_sine(&mut twisted, 770.0, dbm0_to_amplitude(-6.0));
        add_sine(&mut twisted, 1336.0, dbm0_to_amplitude(-18.0));
        assert!(detect_all(&mut InbandDetector::new(), &twisted).is_empty());
    }

    #[test]
    fn duration_limits_hold_at_any_alignment() {
        for lead in (0..160).step_by(20) {
            let long_enough = key_sequence(&[Digit::Number(8)], lead, 320, 800, -20.0);
            assert_eq!(
                digits(&detect_all(&mut InbandDetector::new(), &long_enough)),
                vec![Digit::Number(8)],
                "40 ms tone after {lead} samples"
            );
            let too_short = key_sequence(&[Digit::Number(8)], lead, 160, 800, -20.0);
            assert!(
                detect_all(&mut InbandDetector::new(), &too_short).is_empty(),
                "20 ms tone after {lead} samples"
            );
        }
    }

    #[test]
    fn reports_soon_after_the_tone_starts() {
        let lead = 1000;
        let audio = key_sequence(&[Digit::Pound], lead, 1600, 400, -20.0);
        let found = detect_all(&mut InbandDetector::new(), &audio);
        assert_eq!(found.len(), 1);
        let delay = found[0].at_sample - lead as u64;
        // Sure within the minimum duration plus one hop; not before ~30 ms of tone.
        assert!(
            (240..=400).contains(&delay),
            "reported {delay} samples after onset"
        );
    }

    #[test]
    fn a_held_key_is_one_press_and_a_pause_makes_the_next() {
        // Held for 2 s: one press.
        let held = key_sequence(&[Digit::Number(3)], 0, 16_000, 400, -15.0);
        assert_eq!(detect_all(&mut InbandDetector::new(), &held).len(), 1);
        // The same key with 40 ms pauses: three presses.
        let repeated = key_sequence(&[Digit::Number(3); 3], 0, 480, 320, -15.0);
        assert_eq!(
            digits(&detect_all(&mut InbandDetector::new(), &repeated)),
            vec![Digit::Number(3); 3]
        );
        // A 10 ms dropout inside one press is not a pause.
        let mut dropout = dtmf_tone(Digit::Number(3), 1600, -15.0);
        dropout[800..880].fill(0);
        assert_eq!(detect_all(&mut InbandDetector::new(), &dropout).len(), 1);
    }

    #[test]
    fn push_accepts_any_chunking() {
        let audio = key_sequence(&ALL_DIGITS, 100, 480, 400, -12.0);
        let mut detector = InbandDetector::new();
        let mut found = Vec::new();
        let mut rest = &audio[..];
        let mut size = 1;
        while !rest.is_empty() {
            let take = size.min(rest.len());
            detector.push(&rest[..take]);
            rest = &rest[take..];
            size = size * 3 % 317 + 1;
            while let Some(f) = detector.poll() {
                found.push(f.digit);
            }
        }
        assert_eq!(found, ALL_DIGITS.to_vec());
        detector.reset();
        assert_eq!(detector.push_frame(&[0; 160]), None);
    }

    #[test]
    fn works_with_other_window_sizes() {
        for window in [102, 205] {
            let config = InbandConfig {
                window,
                hop: window / 2,
                ..InbandConfig::default()
            };
            let audio = key_sequence(&ALL_DIGITS, 100, 640, 640, -15.0);
            let found = detect_all(&mut InbandDetector::with_config(config), &audio);
            assert_eq!(digits(&found), ALL_DIGITS.to_vec(), "window {window}");
        }
    }

    #[test]
    fn classify_names_keys_including_a_to_d_which_are_never_reported() {
        let detector = InbandDetector::new();
        assert_eq!(
            detector.classify(&dtmf_tone(Digit::Pound, 160, -10.0)),
            Some('#')
        );
        assert_eq!(detector.classify(&[0; 160]), None);
        let mut key_a = vec![0i16; 1600];
        add_sine(&mut key_a, 697.0, dbm0_to_amplitude(-10.0));
        add_sine(&mut key_a, 1633.0, dbm0_to_amplitude(-10.0));
        assert_eq!(detector.classify(&key_a[..160]), Some('A'));
        assert!(detect_all(&mut InbandDetector::new(), &key_a).is_empty());
    }

    proptest! {
        #[test]
        fn detector_never_panics(
            samples in proptest::collection::vec(any::<i16>(), 0..2000),
            chunk in 1usize..400,
            window in 1usize..300,
            hop_divisor in 1usize..4,
        ) {
            let config = InbandConfig { window, hop: (window / hop_divisor).max(1), ..InbandConfig::default() };
            let mut detector = InbandDetector::with_config(config);
            for frame in samples.chunks(chunk) {
                detector.push(frame);
                while detector.poll().is_some() {}
            }
            let _ = detector.classify(&samples);
        }

        #[test]
        fn event_payloads_round_trip(event: u8, end: bool, volume in 0u8..64, duration: u16) {
            let block = TelephoneEvent { event, end, volume, duration };
            prop_assert_eq!(TelephoneEvent::parse(&block.to_bytes()), Some(block));
        }
    }

    // ---- Deduplication ----

    #[test]
    fn same_press_by_two_paths_counts_once() {
        let start = Instant::now();
        let ms = |n| start + Duration::from_millis(n);
        let mut deduper = KeyPressDeduper::new();
        assert!(deduper.accept(Digit::Number(4), KeySource::TelephoneEvent, ms(0)));
        assert!(!deduper.accept(Digit::Number(4), KeySource::SipInfo, ms(120)));
        // Outside the window: a new press.
        let mut deduper = KeyPressDeduper::new();
        assert!(deduper.accept(Digit::Number(4), KeySource::SipInfo, ms(0)));
        assert!(deduper.accept(Digit::Number(4), KeySource::TelephoneEvent, ms(201)));
        // Different digits never merge.
        assert!(deduper.accept(Digit::Number(5), KeySource::SipInfo, ms(210)));
    }

    #[test]
    fn fast_repeats_from_both_paths_count_per_press() {
        let start = Instant::now();
        let ms = |n| start + Duration::from_millis(n);
        let mut deduper = KeyPressDeduper::new();
        let reports = [
            (KeySource::TelephoneEvent, 0, true),
            (KeySource::SipInfo, 30, false),
            (KeySource::TelephoneEvent, 150, true),
            (KeySource::SipInfo, 180, false),
            (KeySource::SipInfo, 190, true),
        ];
        for (source, at, expected) in reports {
            assert_eq!(
                deduper.accept(Digit::Number(1), source, ms(at)),
                expected,
                "{source:?} at {at} ms"
            );
        }
    }

    #[test]
    fn deduper_tolerates_instants_out_of_order() {
        let start = Instant::now() + Duration::from_secs(1);
        let mut deduper = KeyPressDeduper::with_window(Duration::from_millis(50));
        assert!(deduper.accept(Digit::Star, KeySource::Inband, start));
        assert!(!deduper.accept(
            Digit::Star,
            KeySource::SipInfo,
            start - Duration::from_millis(10)
        ));
    }
}
