//! In-band DTMF: the keypad's tone pairs, the Goertzel detector that finds them in decoded audio (for calls
//! without telephone-event), and the tone generator used by tests and the test harness.

use std::collections::VecDeque;

use portal_core::Digit;

use crate::rtp::CLOCK_RATE;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtmf::ALL_DIGITS;
    use crate::g711::Codec;
    use proptest::prelude::*;

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
    }
}
