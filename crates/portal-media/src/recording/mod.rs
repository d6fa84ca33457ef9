//! Recording the caller: RTP in, 8 kHz 16-bit linear samples out.
//!
//! A [`ReorderBuffer`] puts packets back in sequence order (holding a few), drops duplicates and stragglers
//! and fills real gaps with silence. A [`Recorder`] decodes what comes out and decides when the recording
//! ends: the app says so (the caller pressed `#`), the caller stopped talking, never started, or the maximum
//! length was reached.

use std::time::{Duration, Instant};

use crate::dtmf::InbandDetector;
use crate::g711::Codec;
use crate::rtp::{CLOCK_RATE, RtpPacket, SAMPLES_PER_FRAME};
use crate::signal::block_dbm0;

mod reorder;

pub use reorder::{MAX_GAP_FILL, Ordered, ReorderBuffer, ReorderStats};

/// Why a recording ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordingEnd {
    /// The app stopped it (the caller pressed `#`, or hung up).
    Stopped,
    /// The caller spoke, then stayed silent for the configured time.
    Silence,
    /// The caller never spoke within the initial timeout.
    NoSpeech,
    /// The maximum length was reached.
    MaxLength,
}

/// When a recording ends, and how its tail is cleaned.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecorderConfig {
    /// Longest recording.
    pub max_length: Duration,
    /// Silence after speech that ends the recording.
    pub end_silence: Duration,
    /// Silence from the start that ends the recording with [`RecordingEnd::NoSpeech`].
    pub initial_silence: Duration,
    /// 20 ms blocks quieter than this are silence, in dBm0.
    pub silence_level_dbm0: f32,
    /// Out-of-order packets held before a gap is filled.
    pub reorder_depth: usize,
    /// Cut trailing silence and a trailing DTMF tone when the recording is finished.
    pub trim_tail: bool,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        RecorderConfig {
            max_length: Duration::from_secs(120),
            end_silence: Duration::from_secs(3),
            initial_silence: Duration::from_secs(5),
            silence_level_dbm0: -40.0,
            reorder_depth: 4,
            trim_tail: true,
        }
    }
}

/// A finished recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recording {
    /// 8 kHz mono 16-bit samples.
    pub samples: Vec<i16>,
    /// Why it ended.
    pub end: RecordingEnd,
}

impl Recording {
    /// Its length.
    pub fn duration(&self) -> Duration {
        samples_to_duration(self.samples.len())
    }
}

/// Silence kept after the last sound when trimming (100 ms), so the end does not sound cut off.
pub const TRIM_KEEP_SAMPLES: usize = 800;

/// Cuts trailing 20 ms blocks that are silent (below `silence_level_dbm0`) or hold a DTMF tone (the `#` that
/// ended the recording), then ends with up to [`TRIM_KEEP_SAMPLES`] of silence in their place.
pub fn trim_tail(samples: &mut Vec<i16>, silence_level_dbm0: f32) {
    let detector = InbandDetector::new();
    let mut end = samples.len();
    while end > 0 {
        let start = end.saturating_sub(SAMPLES_PER_FRAME);
        let block = &samples[start..end];
        let silent = block_dbm0(block) < silence_level_dbm0;
        if !silent && detector.classify(block).is_none() {
            break;
        }
        end = start;
    }
    if end == 0 {
        // Nothing but silence (or tone): nothing worth keeping.
        samples.clear();
        return;
    }
    // The cut tail may hold the tone, so what is kept of it is replaced by true silence.
    let kept = (samples.len() - end).min(TRIM_KEEP_SAMPLES);
    samples.truncate(end);
    samples.resize(end + kept, 0);
}

fn samples_to_duration(samples: usize) -> Duration {
    Duration::from_micros(samples as u64 * 1_000_000 / u64::from(CLOCK_RATE))
}

fn duration_to_samples(duration: Duration) -> usize {
    (duration.as_micros() * u128::from(CLOCK_RATE) / 1_000_000) as usize
}

/// How long after the last packet the recorder waits before deciding the stream stopped (packets lost
/// or a muted phone): the deadlines of [`Recorder::poll_timeout`] add this.
const WALL_CLOCK_SLACK: Duration = Duration::from_millis(500);

/// Records one caller: feed it the caller's audio packets, stop it when the app says, and read the result.
///
/// Time is counted in received audio (RTP timestamps) for the silence and length limits. Because a muted or
/// silence-suppressing phone may send nothing at all, [`handle_timeout`](Self::handle_timeout) applies the
/// same limits on the wall clock the driver passes in.
///
/// Kinds of method: input ([`receive`](Self::receive), [`stop`](Self::stop)); timers
/// ([`poll_timeout`](Self::poll_timeout), [`handle_timeout`](Self::handle_timeout)); getters
/// ([`end`](Self::end), [`recorded`](Self::recorded)); and [`finish`](Self::finish), which hands the audio
/// over. Drain rule: each input and timeout returns the end reason when it ended the recording; then
/// `finish`. [`MediaPlane`](crate::MediaPlane) drives one per recording call.
#[derive(Debug)]
pub struct Recorder {
    codec: Codec,
    config: RecorderConfig,
    reorder: ReorderBuffer,
    samples: Vec<i16>,
    /// Samples of `samples` already judged speech or silence (whole 20 ms blocks).
    judged: usize,
    speech_started: bool,
    silent_run: usize,
    max_samples: usize,
    end_silence_samples: usize,
    initial_silence_samples: usize,
    ssrc: Option<u32>,
    started_at: Instant,
    last_packet_at: Instant,
    end: Option<RecordingEnd>,
}

impl Recorder {
    /// Starts recording a caller who uses `codec`, at `now`.
    pub fn new(codec: Codec, config: RecorderConfig, now: Instant) -> Recorder {
        let max_samples = duration_to_samples(config.max_length);
        Recorder {
            codec,
            config,
            reorder: ReorderBuffer::new(config.reorder_depth),
            // Room for 10 s up front so a typical name or greeting grows the buffer rarely.
            samples: Vec::with_capacity(max_samples.min(10 * CLOCK_RATE as usize)),
            judged: 0,
            speech_started: false,
            silent_run: 0,
            max_samples,
            end_silence_samples: duration_to_samples(config.end_silence),
            initial_silence_samples: duration_to_samples(config.initial_silence),
            ssrc: None,
            started_at: now,
            last_packet_at: now,
            end: None,
        }
    }

    /// Feeds one packet from the caller. Packets of other payload types (telephone events, comfort noise) are
    /// ignored. Returns the end reason if this packet ended the recording.
    pub fn receive(&mut self, packet: &RtpPacket<'_>, now: Instant) -> Option<RecordingEnd> {
        if self.end.is_some() || packet.payload_type != self.codec.payload_type() {
            return None;
        }
        self.last_packet_at = now;
        if self.ssrc.is_some_and(|ssrc| ssrc != packet.ssrc) {
            // A new stream (the phone restarted it): finish the old one's order, then follow the new one.
            self.flush_reorder();
            self.reorder = ReorderBuffer::new(self.config.reorder_depth);
        }
        self.ssrc = Some(packet.ssrc);
        let codec = self.codec;
        let samples = &mut self.samples;
        self.reorder.push(
            packet.sequence,
            packet.timestamp,
            packet.payload,
            &mut |ordered| append(codec, samples, ordered),
        );
        self.judge_new_audio()
    }

    /// Ends the recording now (the caller pressed `#`, or hung up). Returns `false` if it had already ended.
    pub fn stop(&mut self) -> bool {
        if self.end.is_some() {
            return false;
        }
        self.end = Some(RecordingEnd::Stopped);
        true
    }

    /// Applies the limits on the wall clock: for when packets stop coming. Returns the end reason if this
    /// call ended the recording.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<RecordingEnd> {
        if self.end.is_some() {
            return None;
        }
        let reason = if now >= self.started_at + self.config.max_length + WALL_CLOCK_SLACK {
            Some(RecordingEnd::MaxLength)
        } else if !self.speech_started
            && now >= self.started_at + self.config.initial_silence + WALL_CLOCK_SLACK
        {
            Some(RecordingEnd::NoSpeech)
        } else if self.speech_started
            && now >= self.last_packet_at + self.config.end_silence + WALL_CLOCK_SLACK
        {
            Some(RecordingEnd::Silence)
        } else {
            None
        };
        self.end = reason;
        reason
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called; `None` once ended.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.end.is_some() {
            return None;
        }
        let max = self.started_at + self.config.max_length + WALL_CLOCK_SLACK;
        let silence = if self.speech_started {
            self.last_packet_at + self.config.end_silence
        } else {
            self.started_at + self.config.initial_silence
        } + WALL_CLOCK_SLACK;
        Some(max.min(silence))
    }

    /// Why it ended, once it has.
    pub fn end(&self) -> Option<RecordingEnd> {
        self.end
    }

    /// Audio recorded so far (in order; held packets not yet included).
    pub fn recorded(&self) -> Duration {
        samples_to_duration(self.samples.len())
    }

    /// What the reorder buffer did.
    pub fn reorder_stats(&self) -> ReorderStats {
        self.reorder.stats()
    }

    /// The recording: held packets are added (unless it ended by length), the length limit applied and, if
    /// configured, the tail trimmed. A recording not yet ended counts as [`RecordingEnd::Stopped`].
    pub fn finish(mut self) -> Recording {
        if self.end != Some(RecordingEnd::MaxLength) {
            self.flush_reorder();
        }
        let mut samples = std::mem::take(&mut self.samples);
        samples.truncate(self.max_samples);
        if self.config.trim_tail {
            trim_tail(&mut samples, self.config.silence_level_dbm0);
        }
        Recording {
            samples,
            end: self.end.unwrap_or(RecordingEnd::Stopped),
        }
    }

    fn flush_reorder(&mut self) {
        let codec = self.codec;
        let samples = &mut self.samples;
        self.reorder
            .flush(&mut |ordered| append(codec, samples, ordered));
    }

    /// Judges each new whole 20 ms block as speech or silence and applies the limits in audio time.
    fn judge_new_audio(&mut self) -> Option<RecordingEnd> {
        while self.end.is_none() && self.judged + SAMPLES_PER_FRAME <= self.samples.len() {
            let block = &self.samples[self.judged..self.judged + SAMPLES_PER_FRAME];
            self.judged += SAMPLES_PER_FRAME;
            if block_dbm0(block) >= self.config.silence_level_dbm0 {
                self.speech_started = true;
                self.silent_run = 0;
            } else {
                self.silent_run += SAMPLES_PER_FRAME;
            }
            self.end = if self.judged >= self.max_samples {
                Some(RecordingEnd::MaxLength)
            } else if self.speech_started && self.silent_run >= self.end_silence_samples {
                Some(RecordingEnd::Silence)
            } else if !self.speech_started && self.judged >= self.initial_silence_samples {
                Some(RecordingEnd::NoSpeech)
            } else {
                None
            };
        }
        if self.samples.len() >= self.max_samples && self.end.is_none() {
            self.end = Some(RecordingEnd::MaxLength);
        }
        self.end
    }
}

fn append(codec: Codec, samples: &mut Vec<i16>, ordered: Ordered<'_>) {
    match ordered {
        Ordered::Silence(len) => samples.resize(samples.len() + len as usize, 0),
        Ordered::Payload(codes) => codec.decode_append(codes, samples),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtmf::dtmf_tone;
    use crate::signal::{dbm0_to_amplitude, sine};
    use portal_core::Digit;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn recorder_never_panics(
            packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..30),
        ) {
            let now = Instant::now();
            let mut recorder = Recorder::new(Codec::Pcmu, RecorderConfig::default(), now);
            for bytes in &packets {
                if let Ok(packet) = RtpPacket::parse(bytes) {
                    recorder.receive(&packet, now);
                }
                let mut forced = bytes.clone();
                if forced.len() >= 12 {
                    forced[0] = 0x80;
                    forced[1] &= 0x80;
                    if let Ok(packet) = RtpPacket::parse(&forced) {
                        recorder.receive(&packet, now);
                    }
                }
            }
            let recording = recorder.finish();
            prop_assert!(recording.samples.len() <= duration_to_samples(Duration::from_secs(120)));
        }
    }

    /// Sends `audio` as 20 ms packets through `recorder`, stopping when it ends; returns packets sent.
    fn send(recorder: &mut Recorder, codec: Codec, audio: &[i16], start: Instant) -> usize {
        let mut codes = [0u8; SAMPLES_PER_FRAME];
        for (i, frame) in audio.chunks(SAMPLES_PER_FRAME).enumerate() {
            codec.encode(frame, &mut codes);
            let packet = RtpPacket {
                payload_type: codec.payload_type(),
                marker: i == 0,
                sequence: 500 + i as u16,
                timestamp: 9_000 + (i * SAMPLES_PER_FRAME) as u32,
                ssrc: 42,
                payload: &codes[..frame.len()],
            };
            let now = start + Duration::from_millis(20 * i as u64);
            if recorder.receive(&packet, now).is_some() {
                return i + 1;
            }
        }
        audio.len().div_ceil(SAMPLES_PER_FRAME)
    }

    fn speech(seconds: f32) -> Vec<i16> {
        sine(300.0, dbm0_to_amplitude(-15.0), (seconds * 8000.0) as usize)
    }

    fn untrimmed() -> RecorderConfig {
        RecorderConfig {
            trim_tail: false,
            ..RecorderConfig::default()
        }
    }

    #[test]
    fn records_decoded_audio_until_the_app_stops_it() {
        let start = Instant::now();
        let audio = speech(1.0);
        let mut recorder = Recorder::new(Codec::Pcma, untrimmed(), start);
        send(&mut recorder, Codec::Pcma, &audio, start);
        assert_eq!(recorder.end(), None);
        assert!(recorder.stop());
        assert!(!recorder.stop());
        let recording = recorder.finish();
        assert_eq!(recording.end, RecordingEnd::Stopped);
        assert_eq!(recording.duration(), Duration::from_secs(1));
        let mut codes = vec![0u8; audio.len()];
        Codec::Pcma.encode(&audio, &mut codes);
        let mut decoded = vec![0i16; audio.len()];
        Codec::Pcma.decode(&codes, &mut decoded);
        assert_eq!(recording.samples, decoded);
    }

    #[test]
    fn ends_after_silence_following_speech() {
        let start = Instant::now();
        let mut audio = speech(1.0);
        audio.extend(vec![0; 8000 * 5]);
        let mut recorder = Recorder::new(Codec::Pcmu, untrimmed(), start);
        let sent = send(&mut recorder, Codec::Pcmu, &audio, start);
        assert_eq!(recorder.end(), Some(RecordingEnd::Silence));
        // 1 s of speech plus 3 s of silence.
        assert_eq!(sent, 200);
        assert_eq!(recorder.finish().duration(), Duration::from_secs(4));
    }

    #[test]
    fn ends_when_the_caller_never_speaks() {
        let start = Instant::now();
        let mut recorder = Recorder::new(Codec::Pcmu, RecorderConfig::default(), start);
        let sent = send(&mut recorder, Codec::Pcmu, &vec![3; 8000 * 10], start);
        assert_eq!(sent, 250);
        let recording = recorder.finish();
        assert_eq!(recording.end, RecordingEnd::NoSpeech);
        assert!(recording.samples.is_empty(), "all silence trims to nothing");
    }

    #[test]
    fn stops_at_the_maximum_length() {
        let start = Instant::now();
        let config = RecorderConfig {
            max_length: Duration::from_millis(1500),
            ..untrimmed()
        };
        let mut recorder = Recorder::new(Codec::Pcmu, config, start);
        let sent = send(&mut recorder, Codec::Pcmu, &speech(3.0), start);
        assert_eq!(sent, 75);
        let recording = recorder.finish();
        assert_eq!(recording.end, RecordingEnd::MaxLength);
        assert_eq!(recording.samples.len(), 12_000);
    }

    #[test]
    fn wall_clock_limits_apply_when_packets_stop() {
        let start = Instant::now();
        let mut recorder = Recorder::new(Codec::Pcmu, RecorderConfig::default(), start);
        let deadline = recorder.poll_timeout().unwrap();
        assert_eq!(deadline, start + Duration::from_millis(5500));
        assert_eq!(
            recorder.handle_timeout(deadline - Duration::from_millis(1)),
            None
        );
        assert_eq!(
            recorder.handle_timeout(deadline),
            Some(RecordingEnd::NoSpeech)
        );
        assert_eq!(recorder.poll_timeout(), None);

        // Speech, then the phone goes quiet on the network.
        let mut recorder = Recorder::new(Codec::Pcmu, RecorderConfig::default(), start);
        send(&mut recorder, Codec::Pcmu, &speech(0.5), start);
        let last_packet = start + Duration::from_millis(480);
        assert_eq!(
            recorder.poll_timeout(),
            Some(last_packet + Duration::from_millis(3500))
        );
        assert_eq!(
            recorder.handle_timeout(last_packet + Duration::from_millis(3500)),
            Some(RecordingEnd::Silence)
        );
    }

    #[test]
    fn wall_clock_maximum_applies_even_while_packets_trickle() {
        let start = Instant::now();
        let config = RecorderConfig {
            max_length: Duration::from_secs(2),
            ..RecorderConfig::default()
        };
        let mut recorder = Recorder::new(Codec::Pcmu, config, start);
        // Speech, but the phone sends only every fifth packet: audio time lags the wall clock.
        let audio = speech(0.2);
        let mut codes = [0u8; SAMPLES_PER_FRAME];
        Codec::Pcmu.encode(&audio[..SAMPLES_PER_FRAME], &mut codes);
        for i in 0..30u16 {
            let packet = RtpPacket {
                payload_type: 0,
                marker: false,
                sequence: i,
                timestamp: 0,
                ssrc: 1,
                payload: &codes,
            };
            recorder.receive(&packet, start + Duration::from_millis(100 * u64::from(i)));
        }
        assert_eq!(recorder.end(), None);
        assert_eq!(
            recorder.poll_timeout(),
            Some(start + Duration::from_millis(2500))
        );
        assert_eq!(
            recorder.handle_timeout(start + Duration::from_millis(2500)),
            Some(RecordingEnd::MaxLength)
        );
    }

    #[test]
    fn a_new_ssrc_continues_the_same_recording() {
        let start = Instant::now();
        let mut recorder = Recorder::new(Codec::Pcmu, untrimmed(), start);
        let codes = [0x80u8; SAMPLES_PER_FRAME];
        for (ssrc, first_sequence) in [(1u32, 100u16), (2, 9)] {
            for i in 0..3u16 {
                let packet = RtpPacket {
                    payload_type: 0,
                    marker: i == 0,
                    sequence: first_sequence + i,
                    timestamp: u32::from(i) * 160,
                    ssrc,
                    payload: &codes,
                };
                recorder.receive(&packet, start);
            }
        }
        let recording = recorder.finish();
        assert_eq!(recording.samples.len(), 6 * SAMPLES_PER_FRAME);
    }

    #[test]
    fn ignores_other_payload_types() {
        let start = Instant::now();
        let mut recorder = Recorder::new(Codec::Pcmu, untrimmed(), start);
        let event = [11u8, 0x0A, 0, 160];
        let packet = RtpPacket {
            payload_type: 101,
            marker: true,
            sequence: 1,
            timestamp: 1,
            ssrc: 1,
            payload: &event,
        };
        assert_eq!(recorder.receive(&packet, start), None);
        assert_eq!(recorder.recorded(), Duration::ZERO);
        assert_eq!(recorder.reorder_stats(), ReorderStats::default());
    }

    #[test]
    fn trim_cuts_trailing_silence_and_the_pound_tone() {
        let mut samples = speech(1.0);
        samples.extend(dtmf_tone(Digit::Pound, 800, -10.0));
        samples.extend(vec![0; 8000 * 2]);
        trim_tail(&mut samples, -40.0);
        assert_eq!(samples.len(), 8000 + TRIM_KEEP_SAMPLES);
        let mut quiet = vec![0i16; 4000];
        trim_tail(&mut quiet, -40.0);
        assert!(quiet.is_empty());
    }

    #[test]
    fn finish_trims_by_default() {
        let start = Instant::now();
        let mut audio = speech(1.0);
        audio.extend(vec![0; 8000 * 4]);
        let mut recorder = Recorder::new(Codec::Pcmu, RecorderConfig::default(), start);
        send(&mut recorder, Codec::Pcmu, &audio, start);
        let recording = recorder.finish();
        assert_eq!(recording.end, RecordingEnd::Silence);
        assert_eq!(recording.samples.len(), 8000 + TRIM_KEEP_SAMPLES);
    }
}
