//! The prompt catalogue as audio, and the playout cursor that turns a playlist into 20 ms payloads.
//!
//! [`PromptLibrary::load`] reads every `prompts/<lang>/<id>.wav` once at start and encodes it once per codec
//! into whole 20 ms frames; calls share the result through `Arc`. A [`Playout`] per call walks a playlist and
//! hands out the next frame on each 20 ms tick without copying prompt audio.

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use portal_core::PromptId;

use crate::g711::Codec;
use crate::rtp::{CLOCK_RATE, SAMPLES_PER_FRAME};
use crate::signal::{dbm0_to_amplitude, sine};

/// The language every prompt must exist in; other languages fall back to it prompt by prompt.
pub const FALLBACK_LANGUAGE: &str = "en";

/// Frequency of the generated `tone` prompt (the beep before recording).
pub const TONE_FREQUENCY_HZ: f32 = 1_000.0;
/// Length of the generated `tone` prompt: 0.45 s.
pub const TONE_SAMPLES: usize = 3_600;
/// Level of the generated `tone` prompt.
pub const TONE_LEVEL_DBM0: f32 = -13.0;

/// Why the prompt library could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// An English prompt is missing: English is the fallback for every language, so it must be complete.
    #[error("prompt file {path} is missing (every prompt must exist in English)")]
    MissingPrompt {
        /// The file that was expected.
        path: PathBuf,
    },
    /// The file is not a WAV file we can read.
    #[error("cannot read prompt file {path}: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: hound::Error,
    },
    /// The file is a WAV file but not 8 kHz mono 16-bit PCM.
    #[error(
        "prompt file {path} is {channels} channel(s), {sample_rate} Hz, {bits_per_sample}-bit {format}; \
         prompts must be 8000 Hz mono 16-bit PCM"
    )]
    WrongFormat {
        /// The file.
        path: PathBuf,
        /// Its channel count.
        channels: u16,
        /// Its sample rate.
        sample_rate: u32,
        /// Its sample size.
        bits_per_sample: u16,
        /// `integer` or `float`.
        format: &'static str,
    },
}

/// One prompt, encoded for every codec into whole 20 ms frames (the last one padded with silence).
#[derive(Debug, PartialEq, Eq)]
pub struct PromptAudio {
    sample_len: usize,
    pcmu: Box<[u8]>,
    pcma: Box<[u8]>,
}

impl PromptAudio {
    /// Encodes 8 kHz linear samples for every codec.
    pub fn from_samples(samples: &[i16]) -> PromptAudio {
        let frames = samples.len().div_ceil(SAMPLES_PER_FRAME);
        let encode = |codec: Codec| {
            let mut codes =
                vec![codec.silence_code(); frames * SAMPLES_PER_FRAME].into_boxed_slice();
            codec.encode(samples, &mut codes);
            codes
        };
        PromptAudio {
            sample_len: samples.len(),
            pcmu: encode(Codec::Pcmu),
            pcma: encode(Codec::Pcma),
        }
    }

    /// Samples of the original audio, before padding.
    pub fn sample_len(&self) -> usize {
        self.sample_len
    }

    /// How long the prompt plays, padding included.
    pub fn duration(&self) -> Duration {
        Duration::from_millis(
            (self.frame_count() * SAMPLES_PER_FRAME) as u64 * 1000 / u64::from(CLOCK_RATE),
        )
    }

    /// Number of 20 ms frames.
    pub fn frame_count(&self) -> usize {
        self.pcmu.len() / SAMPLES_PER_FRAME
    }

    /// All frames of one codec, back to back.
    pub fn encoded(&self, codec: Codec) -> &[u8] {
        match codec {
            Codec::Pcmu => &self.pcmu,
            Codec::Pcma => &self.pcma,
        }
    }

    /// Frame `index` (160 bytes) of one codec.
    pub fn frame(&self, codec: Codec, index: usize) -> Option<&[u8]> {
        let start = index.checked_mul(SAMPLES_PER_FRAME)?;
        self.encoded(codec).get(start..start + SAMPLES_PER_FRAME)
    }
}

/// The generated `tone` prompt: a 1 kHz beep of 0.45 s at -13 dBm0, with 5 ms ramps so it does not click.
pub fn generate_tone() -> Vec<i16> {
    let mut samples = sine(
        TONE_FREQUENCY_HZ,
        dbm0_to_amplitude(TONE_LEVEL_DBM0),
        TONE_SAMPLES,
    );
    let ramp = 40;
    for i in 0..ramp {
        let gain = i as f32 / ramp as f32;
        let head = &mut samples[i];
        *head = (f32::from(*head) * gain) as i16;
        let tail = &mut samples[TONE_SAMPLES - 1 - i];
        *tail = (f32::from(*tail) * gain) as i16;
    }
    samples
}

/// Reads an 8 kHz mono 16-bit PCM WAV file.
pub fn read_wav(path: &Path) -> Result<Vec<i16>, PromptError> {
    let unreadable = |source| PromptError::Unreadable {
        path: path.to_owned(),
        source,
    };
    let reader = hound::WavReader::open(path).map_err(unreadable)?;
    let spec = reader.spec();
    if spec.channels != 1
        || spec.sample_rate != CLOCK_RATE
        || spec.bits_per_sample != 16
        || spec.sample_format != hound::SampleFormat::Int
    {
        return Err(PromptError::WrongFormat {
            path: path.to_owned(),
            channels: spec.channels,
            sample_rate: spec.sample_rate,
            bits_per_sample: spec.bits_per_sample,
            format: match spec.sample_format {
                hound::SampleFormat::Int => "integer",
                hound::SampleFormat::Float => "float",
            },
        });
    }
    // The data chunk as bytes in one read: hound's per-sample iterator is slow unoptimized, and debug test binaries
    // load the whole catalogue (hundreds of prompts since the spoken words).
    let expected = u64::from(reader.len()) * 2;
    let mut bytes = Vec::with_capacity(expected as usize);
    reader
        .into_inner()
        .take(expected)
        .read_to_end(&mut bytes)
        .map_err(|error| unreadable(hound::Error::IoError(error)))?;
    if bytes.len() as u64 != expected {
        let truncated = std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the data chunk is shorter than its header says",
        );
        return Err(unreadable(hound::Error::IoError(truncated)));
    }
    Ok(bytes
        .chunks_exact(2)
        .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
        .collect())
}

/// Every prompt of the catalogue, encoded once, for English and any other languages.
#[derive(Debug)]
pub struct PromptLibrary {
    english: HashMap<PromptId, Arc<PromptAudio>>,
    /// Only the prompts a language actually has; the rest fall back to English.
    localized: HashMap<String, HashMap<PromptId, Arc<PromptAudio>>>,
}

impl PromptLibrary {
    /// Loads `root/en/<id>.wav` for every [`PromptId`] (all must exist) and `root/<lang>/<id>.wav` for each of
    /// `languages` where present. `tone` is generated, never loaded.
    pub fn load(root: &Path, languages: &[&str]) -> Result<PromptLibrary, PromptError> {
        let mut english = HashMap::new();
        for &id in PromptId::ALL {
            let audio = if id == PromptId::Tone {
                generate_tone()
            } else {
                let path = prompt_path(root, FALLBACK_LANGUAGE, id);
                if !path.is_file() {
                    return Err(PromptError::MissingPrompt { path });
                }
                read_wav(&path)?
            };
            english.insert(id, Arc::new(PromptAudio::from_samples(&audio)));
        }
        let mut localized = HashMap::new();
        for &language in languages
            .iter()
            .filter(|&&language| language != FALLBACK_LANGUAGE)
        {
            let mut prompts = HashMap::new();
            for &id in PromptId::ALL.iter().filter(|&&id| id != PromptId::Tone) {
                let path = prompt_path(root, language, id);
                if path.is_file() {
                    prompts.insert(id, Arc::new(PromptAudio::from_samples(&read_wav(&path)?)));
                }
            }
            localized.insert(language.to_owned(), prompts);
        }
        Ok(PromptLibrary { english, localized })
    }

    /// The prompt in `language`, or in English when that language lacks it (or was not loaded).
    pub fn get(&self, language: &str, id: PromptId) -> Arc<PromptAudio> {
        self.localized
            .get(language)
            .and_then(|prompts| prompts.get(&id))
            .unwrap_or_else(|| &self.english[&id])
            .clone()
    }

    /// Whether `language` has its own recording of `id` (rather than falling back to English).
    pub fn has_own(&self, language: &str, id: PromptId) -> bool {
        if language == FALLBACK_LANGUAGE {
            return true;
        }
        self.localized
            .get(language)
            .is_some_and(|prompts| prompts.contains_key(&id))
    }
}

/// Where the WAV file of a prompt lives: `root/<lang>/<id>.wav`.
pub fn prompt_path(root: &Path, language: &str, id: PromptId) -> PathBuf {
    root.join(language).join(format!("{}.wav", id.id()))
}

/// One item of a playlist.
#[derive(Debug, Clone)]
pub enum PlayItem {
    /// A prompt from the library (already encoded).
    Prompt(Arc<PromptAudio>),
    /// Linear 8 kHz samples (e.g. the caller's recording played back), encoded frame by frame as played.
    Samples(Arc<[i16]>),
}

/// What one 20 ms tick of a [`Playout`] yields.
#[derive(Debug, PartialEq, Eq)]
pub enum Tick<'a> {
    /// Send this payload (160 bytes) now.
    Frame(&'a [u8]),
    /// The playlist played to its end: reported once, on the tick after its last frame (not after
    /// [`Playout::stop`]).
    Finished,
    /// Nothing to play.
    Idle,
}

/// A cursor over a playlist for one call: each tick yields the next 20 ms payload in the call's codec.
///
/// Items play back to back, sample-exact, with no mixing or gain. The caller's [`RtpSender`] keeps
/// sequence numbers and timestamps continuous across items; call [`RtpSender::skip`] on idle ticks so the
/// next playlist starts a new talkspurt.
///
/// [`RtpSender`]: crate::rtp::RtpSender
/// [`RtpSender::skip`]: crate::rtp::RtpSender::skip
#[derive(Debug)]
pub struct Playout {
    codec: Codec,
    items: VecDeque<PlayItem>,
    /// Frame index within the front item.
    frame_index: usize,
    finished_pending: bool,
    /// Encoding space for [`PlayItem::Samples`] frames, reused every tick.
    scratch: [u8; SAMPLES_PER_FRAME],
}

impl Playout {
    /// An idle playout for a call using `codec`.
    pub fn new(codec: Codec) -> Playout {
        Playout {
            codec,
            items: VecDeque::new(),
            frame_index: 0,
            finished_pending: false,
            scratch: [0; SAMPLES_PER_FRAME],
        }
    }

    /// The call's codec.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Replaces whatever is playing with a new playlist (an empty one just stops playback).
    pub fn play(&mut self, items: impl IntoIterator<Item = PlayItem>) {
        self.items.clear();
        self.items.extend(items);
        self.frame_index = 0;
        self.finished_pending = false;
    }

    /// Appends one item to the current playlist (or starts one).
    pub fn enqueue(&mut self, item: PlayItem) {
        self.items.push_back(item);
        self.finished_pending = false;
    }

    /// Stops playback at once (barge-in). Returns whether anything was playing. No [`Tick::Finished`] follows.
    pub fn stop(&mut self) -> bool {
        let was_playing = self.is_playing();
        self.items.clear();
        self.frame_index = 0;
        self.finished_pending = false;
        was_playing
    }

    /// Whether a playlist is still playing.
    pub fn is_playing(&self) -> bool {
        !self.items.is_empty()
    }

    /// Moves within the item playing now by `frames` 20 ms frames (back when negative): to its start at the
    /// most, and forward at most to its end (the next tick then goes on with the next item). Returns whether
    /// anything was playing.
    pub fn skip(&mut self, frames: i64) -> bool {
        let Some(item) = self.items.front() else {
            return false;
        };
        let moved = self.frame_index as i64 + frames;
        self.frame_index = moved.clamp(0, frame_count(item) as i64) as usize;
        true
    }

    /// The next 20 ms payload, the end of the playlist, or nothing. Call once per 20 ms tick. Does not allocate.
    pub fn tick(&mut self) -> Tick<'_> {
        // Drop items that have played out (or were empty) before borrowing the next frame.
        while let Some(item) = self.items.front() {
            if self.frame_index < frame_count(item) {
                break;
            }
            self.items.pop_front();
            self.frame_index = 0;
            if self.items.is_empty() {
                self.finished_pending = true;
            }
        }
        let Some(item) = self.items.front() else {
            if std::mem::take(&mut self.finished_pending) {
                return Tick::Finished;
            }
            return Tick::Idle;
        };
        let start = self.frame_index * SAMPLES_PER_FRAME;
        self.frame_index += 1;
        match item {
            PlayItem::Prompt(prompt) => {
                Tick::Frame(&prompt.encoded(self.codec)[start..start + SAMPLES_PER_FRAME])
            }
            PlayItem::Samples(samples) => {
                let chunk = &samples[start..(start + SAMPLES_PER_FRAME).min(samples.len())];
                self.scratch.fill(self.codec.silence_code());
                self.codec.encode(chunk, &mut self.scratch);
                Tick::Frame(&self.scratch)
            }
        }
    }
}

fn frame_count(item: &PlayItem) -> usize {
    match item {
        PlayItem::Prompt(prompt) => prompt.frame_count(),
        PlayItem::Samples(samples) => samples.len().div_ceil(SAMPLES_PER_FRAME),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::g711::{alaw_encode, ulaw_encode};

    #[test]
    fn skipping_moves_within_the_item_playing_and_stops_at_its_ends() {
        let first: Vec<i16> = (0..800).map(|i| i as i16).collect(); // 5 frames
        let second = vec![7i16; 160];
        let mut playout = Playout::new(Codec::Pcmu);
        assert!(!playout.skip(1), "nothing plays");
        playout.play([
            PlayItem::Samples(first.clone().into()),
            PlayItem::Samples(second.into()),
        ]);
        let frame_of = |playout: &mut Playout| match playout.tick() {
            Tick::Frame(bytes) => bytes.to_vec(),
            other => panic!("{other:?}"),
        };
        let encoded = |range: std::ops::Range<usize>| {
            let mut out = [0u8; SAMPLES_PER_FRAME];
            Codec::Pcmu.encode(&first[range], &mut out);
            out.to_vec()
        };
        assert_eq!(frame_of(&mut playout), encoded(0..160));
        assert!(playout.skip(2));
        assert_eq!(frame_of(&mut playout), encoded(480..640));
        assert!(playout.skip(-100));
        assert_eq!(
            frame_of(&mut playout),
            encoded(0..160),
            "back to the start at most"
        );
        assert!(playout.skip(100));
        // Forward past the end goes on with the next item.
        let mut next = [0u8; SAMPLES_PER_FRAME];
        Codec::Pcmu.encode(&[7i16; 160], &mut next);
        assert_eq!(frame_of(&mut playout), next.to_vec());
    }

    pub(crate) fn write_wav(path: &Path, samples: &[i16], spec: hound::WavSpec) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut writer = hound::WavWriter::create(path, spec).unwrap();
        for &sample in samples {
            if spec.sample_format == hound::SampleFormat::Float {
                writer.write_sample(f32::from(sample) / 32768.0).unwrap();
            } else if spec.bits_per_sample == 8 {
                writer.write_sample((sample >> 8) as i8).unwrap();
            } else {
                writer.write_sample(sample).unwrap();
            }
        }
        writer.finalize().unwrap();
    }

    fn spec() -> hound::WavSpec {
        hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        }
    }

    /// Distinct, recognisable audio per prompt: `len` samples all equal to `value`.
    fn write_all_english(root: &Path, value: i16, len: usize) {
        for &id in PromptId::ALL {
            if id != PromptId::Tone {
                write_wav(&prompt_path(root, "en", id), &vec![value; len], spec());
            }
        }
    }

    #[test]
    fn encodes_whole_frames_padding_the_last_with_silence() {
        let samples: Vec<i16> = (0..170).map(|i| i * 100).collect();
        let audio = PromptAudio::from_samples(&samples);
        assert_eq!(audio.sample_len(), 170);
        assert_eq!(audio.frame_count(), 2);
        assert_eq!(audio.duration(), Duration::from_millis(40));
        let pcmu = audio.encoded(Codec::Pcmu);
        assert_eq!(pcmu.len(), 320);
        assert_eq!(pcmu[169], ulaw_encode(16_900));
        assert!(pcmu[170..].iter().all(|&code| code == 0xFF));
        assert_eq!(audio.frame(Codec::Pcma, 1).unwrap()[9], alaw_encode(16_900));
        assert_eq!(audio.frame(Codec::Pcma, 1).unwrap()[10], 0xD5);
        assert!(audio.frame(Codec::Pcma, 2).is_none());
        assert_eq!(PromptAudio::from_samples(&[]).frame_count(), 0);
    }

    #[test]
    fn loads_english_and_falls_back_per_prompt() {
        let dir = tempfile::tempdir().unwrap();
        write_all_english(dir.path(), 1000, 200);
        write_wav(
            &prompt_path(dir.path(), "de", PromptId::Welcome),
            &[2000; 100],
            spec(),
        );
        let library = PromptLibrary::load(dir.path(), &["en", "de", "fr"]).unwrap();

        let english_welcome = library.get("en", PromptId::Welcome);
        assert_eq!(english_welcome.sample_len(), 200);
        let german_welcome = library.get("de", PromptId::Welcome);
        assert_eq!(german_welcome.sample_len(), 100);
        assert_eq!(german_welcome.encoded(Codec::Pcmu)[0], ulaw_encode(2000));
        assert!(library.has_own("de", PromptId::Welcome));
        assert!(!library.has_own("de", PromptId::Goodbye));
        // Missing German prompt, a language with no folder and one never loaded: all English, and shared.
        let goodbye = library.get("en", PromptId::Goodbye);
        assert!(Arc::ptr_eq(&library.get("de", PromptId::Goodbye), &goodbye));
        assert!(Arc::ptr_eq(&library.get("fr", PromptId::Goodbye), &goodbye));
        assert!(Arc::ptr_eq(&library.get("xx", PromptId::Goodbye), &goodbye));
    }

    #[test]
    fn tone_is_generated_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        write_all_english(dir.path(), 0, 160);
        let library = PromptLibrary::load(dir.path(), &[]).unwrap();
        let tone = library.get("en", PromptId::Tone);
        assert_eq!(tone.sample_len(), TONE_SAMPLES);
        let samples = generate_tone();
        let level = crate::signal::block_dbm0(&samples[400..3200]);
        assert!((level - TONE_LEVEL_DBM0).abs() < 0.2, "tone level {level}");
        assert_eq!(tone.encoded(Codec::Pcmu)[1000], ulaw_encode(samples[1000]));
    }

    #[test]
    fn missing_english_prompt_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write_all_english(dir.path(), 0, 160);
        let missing = prompt_path(dir.path(), "en", PromptId::LockedOut);
        std::fs::remove_file(&missing).unwrap();
        let error = PromptLibrary::load(dir.path(), &[]).unwrap_err();
        assert!(matches!(&error, PromptError::MissingPrompt { path } if *path == missing));
        assert!(error.to_string().contains("locked_out.wav"), "{error}");
    }

    #[test]
    fn rejects_other_formats_clearly() {
        let dir = tempfile::tempdir().unwrap();
        write_all_english(dir.path(), 0, 160);
        let path = prompt_path(dir.path(), "en", PromptId::Goodbye);
        let cases = [
            (
                hound::WavSpec {
                    channels: 2,
                    ..spec()
                },
                "2 channel(s)",
            ),
            (
                hound::WavSpec {
                    sample_rate: 16_000,
                    ..spec()
                },
                "16000 Hz",
            ),
            (
                hound::WavSpec {
                    bits_per_sample: 8,
                    ..spec()
                },
                "8-bit",
            ),
            (
                hound::WavSpec {
                    bits_per_sample: 32,
                    sample_format: hound::SampleFormat::Float,
                    ..spec()
                },
                "32-bit float",
            ),
        ];
        for (bad_spec, expected) in cases {
            write_wav(&path, &[0; 160], bad_spec);
            let error = PromptLibrary::load(dir.path(), &[]).unwrap_err();
            let message = error.to_string();
            assert!(
                matches!(error, PromptError::WrongFormat { .. }),
                "{message}"
            );
            assert!(
                message.contains(expected) && message.contains("goodbye.wav"),
                "{message}"
            );
        }
        std::fs::write(&path, b"not a wav file").unwrap();
        let error = PromptLibrary::load(dir.path(), &[]).unwrap_err();
        assert!(matches!(error, PromptError::Unreadable { .. }), "{error}");
        assert!(error.to_string().contains("goodbye.wav"));
    }

    #[test]
    fn reads_samples_exactly_and_refuses_a_cut_data_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ramp.wav");
        let samples: Vec<i16> = (-500..500).map(|i| i * 37).collect();
        write_wav(&path, &samples, spec());
        assert_eq!(read_wav(&path).unwrap(), samples);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 11]).unwrap();
        let error = read_wav(&path).unwrap_err();
        assert!(matches!(error, PromptError::Unreadable { .. }), "{error}");
    }

    fn frames(playout: &mut Playout) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Tick::Frame(frame) = playout.tick() {
            out.push(frame.to_vec());
        }
        out
    }

    #[test]
    fn playout_plays_items_back_to_back_then_finishes_once() {
        let first = Arc::new(PromptAudio::from_samples(&[100; 300]));
        let second = Arc::new(PromptAudio::from_samples(&[-100; 160]));
        let recording: Arc<[i16]> = vec![500i16; 170].into();
        let mut playout = Playout::new(Codec::Pcmu);
        assert_eq!(playout.tick(), Tick::Idle);
        playout.play([
            PlayItem::Prompt(first.clone()),
            PlayItem::Samples(recording),
            PlayItem::Prompt(second),
        ]);
        assert!(playout.is_playing());
        let mut played = Vec::new();
        loop {
            match playout.tick() {
                Tick::Frame(frame) => played.push(frame.to_vec()),
                Tick::Finished => break,
                Tick::Idle => panic!("idle before finished"),
            }
        }
        assert_eq!(played.len(), 2 + 2 + 1);
        assert!(played.iter().all(|frame| frame.len() == SAMPLES_PER_FRAME));
        assert_eq!(played[0..2].concat(), first.encoded(Codec::Pcmu));
        assert_eq!(played[2], vec![ulaw_encode(500); 160]);
        assert_eq!(played[3][..10], [ulaw_encode(500); 10]);
        assert!(played[3][10..].iter().all(|&code| code == 0xFF));
        assert_eq!(played[4], vec![ulaw_encode(-100); 160]);
        assert!(!playout.is_playing());
        assert_eq!(playout.tick(), Tick::Idle);
    }

    #[test]
    fn stop_is_barge_in_and_reports_no_finish() {
        let prompt = Arc::new(PromptAudio::from_samples(&[7; 1600]));
        let mut playout = Playout::new(Codec::Pcma);
        playout.play([PlayItem::Prompt(prompt.clone())]);
        assert!(matches!(playout.tick(), Tick::Frame(_)));
        assert!(playout.stop());
        assert_eq!(playout.tick(), Tick::Idle);
        assert!(!playout.stop());
        // A new playlist replaces the old one from its start.
        playout.play([PlayItem::Prompt(prompt.clone())]);
        playout.play([PlayItem::Prompt(prompt.clone())]);
        assert_eq!(frames(&mut playout).len(), 10);
        assert_eq!(playout.tick(), Tick::Idle);
    }

    #[test]
    fn empty_items_and_enqueue() {
        let empty = Arc::new(PromptAudio::from_samples(&[]));
        let mut playout = Playout::new(Codec::Pcmu);
        playout.play([
            PlayItem::Prompt(empty),
            PlayItem::Samples(Arc::from(Vec::new())),
        ]);
        assert_eq!(playout.tick(), Tick::Finished);
        playout.enqueue(PlayItem::Samples(vec![1i16; 160].into()));
        assert_eq!(frames(&mut playout).len(), 1);
        assert_eq!(playout.tick(), Tick::Idle);
        assert_eq!(playout.codec(), Codec::Pcmu);
    }
}
