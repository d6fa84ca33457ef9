//! Prompt recognition: which catalogue prompts a stream of received G.711 frames is made of.
//!
//! The portal plays prompts sample-exact: every prompt is encoded once into whole 20 ms frames, and those
//! frames go out unchanged. So recognition is exact byte comparison, frame by frame, against the same encoding
//! of the same WAV files ([`PromptCatalog`]). The received stream is cut into talkspurts (the marker bit, a jump
//! in the RTP timestamp, a new SSRC, or a pause in arrival), and each talkspurt is matched greedily from its
//! start: at each position the longest prompt whose frames all follow wins. What matches no prompt (the
//! caller's own recording played back) becomes an `<audio N ms>` entry. A talkspurt that ends inside a prompt
//! (barge-in) still names that prompt, marked `cut`, when enough of it was heard to tell it apart from every
//! other prompt: all the frames it shares with another prompt (the leading silence, words another prompt also
//! starts with) plus [`CUT_MIN_DISTINCT_FRAMES`].
//!
//! **Silence.** Between prompts the portal keeps its RTP going with silence frames (every code the law's
//! silence code), the first one marked like a new talkspurt. Prompts contain silence too (their leading and
//! trailing padding, pauses between sentences), so silence frames are matched like any others, with three
//! rules that keep silence from ever being heard as something: other audio made only of silence is not
//! reported; a prompt is only named (cut, or [`PromptRecognizer::playing`]) once it was heard past its cut
//! threshold counting up to its last frame that is not silence; and a silence frame that the prompt being
//! matched does not continue with, once that prompt can be named, ends it there, cut, even without a marker
//! bit. A prompt followed by silence is complete; a prompt stopped by a key, then silence, is cut. (Other
//! audio is told from the silence after it only by the marker bit: without one, that silence would count
//! into the audio's length, as recordings may hold exact silence of their own.)

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use portal_core::PromptId;
use portal_media::g711::Codec;
use portal_media::prompts::{FALLBACK_LANGUAGE, PromptError, PromptLibrary};
use portal_media::rtp::{RtpPacket, SAMPLES_PER_FRAME};

/// The languages whose prompts the recogniser knows.
pub const LANGUAGES: [&str; 2] = ["en", "es"];

/// Frames a prompt cut short must have beyond what it shares with any other prompt to be named.
pub const CUT_MIN_DISTINCT_FRAMES: usize = 3;

/// A pause in arrival this long ends a talkspurt. The portal sends a frame every 20 ms while it plays, but a
/// loaded machine (tests running side by side) can hold a packet back for a few hundred milliseconds; the
/// timestamps and the marker bit tell a new playlist anyway, so the pause only has to be longer than a stall.
pub const TALKSPURT_IDLE: Duration = Duration::from_millis(1000);

/// One prompt of one language as frames in one codec.
#[derive(Debug)]
struct CatalogEntry {
    id: PromptId,
    language: &'static str,
    /// The encoded frames, back to back (a multiple of 160 bytes).
    encoded: Box<[u8]>,
    /// The longest run of leading frames this prompt shares with any other prompt.
    shared_prefix: usize,
    /// For each frame, whether it is silence (every code the law's silence code): a silence frame received
    /// is matched against these flags, not byte by byte, as silence flows between every prompt.
    silent: Box<[bool]>,
}

impl CatalogEntry {
    fn frame_count(&self) -> usize {
        self.encoded.len() / SAMPLES_PER_FRAME
    }

    fn frame(&self, index: usize) -> &[u8] {
        &self.encoded[index * SAMPLES_PER_FRAME..(index + 1) * SAMPLES_PER_FRAME]
    }

    /// Whether `frame` is this prompt's frame at `index`: by the silence flags when either is silence (equal
    /// codes then), byte by byte otherwise.
    fn frame_is(&self, index: usize, frame: &Frame) -> bool {
        match self.silent.get(index) {
            None => false,
            Some(&silent) if frame.silent || silent => silent == frame.silent,
            Some(_) => self.frame(index) == frame.codes,
        }
    }

    /// Frames needed to name this prompt when it was cut short.
    fn cut_threshold(&self) -> usize {
        (self.shared_prefix + CUT_MIN_DISTINCT_FRAMES).min(self.frame_count())
    }
}

/// Every prompt of the catalogue in every language the portal plays, encoded in both G.711 laws exactly as the
/// portal encodes them. Build it once and share it ([`PromptCatalog::shared`] caches one per directory).
#[derive(Debug)]
pub struct PromptCatalog {
    pcmu: Vec<CatalogEntry>,
    pcma: Vec<CatalogEntry>,
}

impl PromptCatalog {
    /// Loads `dir/<lang>/<id>.wav` for [`LANGUAGES`] (English must be complete, others fall back to it).
    pub fn load(dir: &Path) -> Result<PromptCatalog, PromptError> {
        let library = PromptLibrary::load(dir, &LANGUAGES)?;
        Ok(PromptCatalog::from_library(&library))
    }

    /// The catalogue of an already loaded library (for [`LANGUAGES`]).
    pub fn from_library(library: &PromptLibrary) -> PromptCatalog {
        let build = |codec: Codec| {
            let mut entries = Vec::new();
            for language in LANGUAGES {
                for &id in PromptId::ALL {
                    if language != FALLBACK_LANGUAGE && !library.has_own(language, id) {
                        continue;
                    }
                    let audio = library.get(language, id);
                    let encoded: Box<[u8]> = audio.encoded(codec).into();
                    let silence = codec.silence_code();
                    let silent = encoded
                        .chunks(SAMPLES_PER_FRAME)
                        .map(|frame| frame.iter().all(|&code| code == silence))
                        .collect();
                    entries.push(CatalogEntry {
                        id,
                        language,
                        encoded,
                        shared_prefix: 0,
                        silent,
                    });
                }
            }
            let shared: Vec<usize> = (0..entries.len())
                .map(|i| {
                    (0..entries.len())
                        .filter(|&j| j != i)
                        .map(|j| common_frames(&entries[i], &entries[j]))
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            for (entry, shared) in entries.iter_mut().zip(shared) {
                entry.shared_prefix = shared;
            }
            entries
        };
        PromptCatalog {
            pcmu: build(Codec::Pcmu),
            pcma: build(Codec::Pcma),
        }
    }

    /// The catalogue of `dir`, loaded once per process and shared by every phone.
    pub fn shared(dir: &Path) -> Result<Arc<PromptCatalog>, PromptError> {
        static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<PromptCatalog>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
        let key = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
        // Held while loading, so phones dialing at once load the catalogue once.
        let mut cache = cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(found) = cache.get(&key) {
            return Ok(Arc::clone(found));
        }
        let catalog = Arc::new(PromptCatalog::load(dir)?);
        cache.insert(key, Arc::clone(&catalog));
        Ok(catalog)
    }

    fn entries(&self, codec: Codec) -> &[CatalogEntry] {
        match codec {
            Codec::Pcmu => &self.pcmu,
            Codec::Pcma => &self.pcma,
        }
    }

    /// How many (prompt, language) recordings the catalogue holds per codec.
    pub fn len(&self) -> usize {
        self.pcmu.len()
    }

    /// Whether the catalogue is empty (it never is once loaded: English is complete).
    pub fn is_empty(&self) -> bool {
        self.pcmu.is_empty()
    }

    /// How long `id` plays in `language` (padding included), if the catalogue has it.
    pub fn duration(&self, id: PromptId, language: &str) -> Option<Duration> {
        self.pcmu
            .iter()
            .find(|entry| entry.id == id && entry.language == language)
            .map(|entry| frames_duration(entry.frame_count()))
    }
}

fn common_frames(a: &CatalogEntry, b: &CatalogEntry) -> usize {
    (0..a.frame_count().min(b.frame_count()))
        .take_while(|&k| a.frame(k) == b.frame(k))
        .count()
}

fn frames_duration(frames: usize) -> Duration {
    Duration::from_millis(frames as u64 * 20)
}

/// One thing heard: a prompt (whole or cut short) or audio that is no prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    /// The prompt, or `None` for audio that matched no prompt (e.g. the caller's recording played back).
    pub prompt: Option<PromptId>,
    /// The language of the prompt's recording (`None` for other audio).
    pub language: Option<&'static str>,
    /// When its first frame arrived.
    pub started: Instant,
    /// How much of it was heard.
    pub duration: Duration,
    /// The talkspurt ended before the prompt did (barge-in).
    pub cut: bool,
}

impl Heard {
    /// `welcome`, `welcome (cut)`, `<audio 2040 ms>`.
    pub fn label(&self) -> String {
        match self.prompt {
            Some(id) if self.cut => format!("{id} (cut)"),
            Some(id) => id.to_string(),
            None => format!("<audio {} ms>", self.duration.as_millis()),
        }
    }
}

impl std::fmt::Display for Heard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

/// One received audio frame.
#[derive(Debug, Clone)]
struct Frame {
    arrived: Instant,
    codes: [u8; SAMPLES_PER_FRAME],
    /// Every code is the codec's silence code.
    silent: bool,
}

/// A run of frames that matched no prompt.
#[derive(Debug, Clone, Copy)]
struct OtherAudio {
    /// When its first frame arrived.
    started: Instant,
    frames: usize,
    /// Some frame of it is not silence: only then is it reported.
    sounds: bool,
}

/// Turns the portal's RTP audio into [`Heard`] entries, incrementally, one packet at a time.
#[derive(Debug)]
pub struct PromptRecognizer {
    catalog: Arc<PromptCatalog>,
    codec: Codec,
    payload_type: u8,
    /// Frames of the current talkspurt not yet attributed.
    frames: Vec<Frame>,
    /// An empty buffer [`consume`](Self::consume) rebuilds `frames` into, kept to spare an allocation a frame.
    spare_frames: Vec<Frame>,
    /// How many of `frames` run up to the last one that is not silence (0: silence only, or none).
    sounding: usize,
    /// Catalogue entries matching every frame in `frames` so far (only while `frames` is not empty).
    live: Vec<usize>,
    /// The longest entry fully matched at the start of `frames`: (entry, frames).
    complete: Option<(usize, usize)>,
    /// Frames already attributed to no prompt, not yet reported.
    other: Option<OtherAudio>,
    /// Where the current talkspurt's stream is: (ssrc, next expected timestamp).
    stream: Option<(u32, u32)>,
    last_sequence: Option<u16>,
    last_arrival: Option<Instant>,
    heard: Vec<Heard>,
    /// Frames of the expected payload type received.
    pub frames_received: u64,
    /// Packets of another payload type or size, ignored.
    pub packets_ignored: u64,
}

impl PromptRecognizer {
    /// A recogniser for a stream in `codec` carried with RTP payload type `payload_type`.
    pub fn new(catalog: Arc<PromptCatalog>, codec: Codec, payload_type: u8) -> PromptRecognizer {
        PromptRecognizer {
            catalog,
            codec,
            payload_type,
            frames: Vec::new(),
            spare_frames: Vec::new(),
            sounding: 0,
            live: Vec::new(),
            complete: None,
            other: None,
            stream: None,
            last_sequence: None,
            last_arrival: None,
            heard: Vec::new(),
            frames_received: 0,
            packets_ignored: 0,
        }
    }

    /// The RTP payload type of the audio it recognises.
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// Everything recognised so far (the talkspurt in progress is not included until it is attributed).
    pub fn heard(&self) -> &[Heard] {
        &self.heard
    }

    /// The prompt being played now, once enough of it was heard that it would be named even if it stopped
    /// here (the same rule as for a prompt cut short: silence alone never names one).
    pub fn playing(&self) -> Option<PromptId> {
        if self.frames.is_empty() {
            return None;
        }
        let entries = self.catalog.entries(self.codec);
        let mut named = self
            .live
            .iter()
            .filter(|&&e| self.heard_past_threshold(&entries[e]))
            .map(|&e| entries[e].id);
        let first = named.next()?;
        named.all(|id| id == first).then_some(first)
    }

    /// When the first frame of what [`PromptRecognizer::playing`] names arrived (`None` while it names
    /// nothing): tells a prompt that began after a key press from one that was already playing.
    pub fn playing_since(&self) -> Option<Instant> {
        self.playing()?;
        self.frames.first().map(|frame| frame.arrived)
    }

    /// Whether `frames` holds enough of `entry` to name it if it stopped here: its cut threshold, counted up
    /// to the last frame that is not silence (the silence after a prompt that was stopped is no part of it).
    fn heard_past_threshold(&self, entry: &CatalogEntry) -> bool {
        self.sounding > 0 && self.sounding >= entry.cut_threshold()
    }

    /// Feeds one received RTP packet that arrived at `at`.
    pub fn push(&mut self, packet: &RtpPacket<'_>, at: Instant) {
        if packet.payload_type != self.payload_type || packet.payload.len() != SAMPLES_PER_FRAME {
            self.packets_ignored += 1;
            return;
        }
        if self.last_sequence == Some(packet.sequence) {
            return; // a duplicate
        }
        self.last_sequence = Some(packet.sequence);
        self.frames_received += 1;
        let continues = self.stream == Some((packet.ssrc, packet.timestamp))
            && !packet.marker
            && self
                .last_arrival
                .is_none_or(|last| at.saturating_duration_since(last) < TALKSPURT_IDLE);
        if !continues {
            self.end_talkspurt();
        }
        self.stream = Some((
            packet.ssrc,
            packet.timestamp.wrapping_add(SAMPLES_PER_FRAME as u32),
        ));
        self.last_arrival = Some(at);
        let mut codes = [0u8; SAMPLES_PER_FRAME];
        codes.copy_from_slice(packet.payload);
        let silence = self.codec.silence_code();
        let frame = Frame {
            arrived: at,
            codes,
            silent: codes.iter().all(|&code| code == silence),
        };
        if frame.silent {
            self.end_stopped_prompt(&frame);
        }
        self.append(frame);
        self.resolve(false);
        // Other audio (a recording played back) ends where a prompt that can be named begins: report it now,
        // not when that prompt ends, so a caller waiting for it can barge into the prompt.
        if self.other.is_some() && self.playing().is_some() {
            self.flush_other();
        }
    }

    /// The portal stopped the prompt being matched (a key barged in) and went on with silence in the same
    /// talkspurt: `silence` is a frame the prompt does not continue with, and the prompt was heard past its
    /// cut threshold. It is named cut, up to its last sound; what followed is matched afresh. (With the marker
    /// bit on that silence, as the portal sends it, the talkspurt has already ended there.)
    fn end_stopped_prompt(&mut self, silence: &Frame) {
        let index = self.frames.len();
        let catalog = Arc::clone(&self.catalog);
        let entries = catalog.entries(self.codec);
        // Live entries are longer than `frames`, so each has a frame at `index`.
        let stopped = self.live.iter().copied().find(|&e| {
            !entries[e].frame_is(index, silence) && self.heard_past_threshold(&entries[e])
        });
        if let Some(entry) = stopped {
            let heard = self.sounding;
            self.emit_prompt(&entries[entry], heard, true);
            self.consume(heard);
        }
    }

    /// Ends the talkspurt in progress when nothing arrived for [`TALKSPURT_IDLE`] before `now`.
    pub fn idle(&mut self, now: Instant) {
        if let Some(last) = self.last_arrival
            && now.saturating_duration_since(last) >= TALKSPURT_IDLE
        {
            self.end_talkspurt();
        }
    }

    /// Ends the talkspurt in progress: what is left is attributed (a prompt cut short, or other audio).
    pub fn end_talkspurt(&mut self) {
        self.resolve(true);
        self.flush_other();
        self.stream = None;
        self.last_arrival = None;
    }

    /// Adds a frame to the talkspurt's unattributed frames and narrows the match by it.
    fn append(&mut self, frame: Frame) {
        let silent = frame.silent;
        self.frames.push(frame);
        if !silent {
            self.sounding = self.frames.len();
        }
        self.extend();
    }

    /// Narrows `live` by the newest frame (or starts matching when it is the first).
    fn extend(&mut self) {
        let entries = self.catalog.entries(self.codec);
        let index = self.frames.len() - 1;
        let frame = &self.frames[index];
        if index == 0 {
            self.live.clear();
            self.live
                .extend((0..entries.len()).filter(|&e| entries[e].frame_is(0, frame)));
            self.complete = None;
        } else {
            self.live.retain(|&e| entries[e].frame_is(index, frame));
        }
        let matched = index + 1;
        for &e in &self.live {
            if entries[e].frame_count() == matched
                && self.complete.is_none_or(|(_, len)| len < matched)
            {
                self.complete = Some((e, matched));
            }
        }
        // Entries that are complete cannot be extended: keep only those still longer than what was matched.
        self.live.retain(|&e| entries[e].frame_count() > matched);
    }

    /// Attributes frames from the start of `frames` while that can be decided (always, when `end`).
    fn resolve(&mut self, end: bool) {
        let entries = Arc::clone(&self.catalog);
        let entries = entries.entries(self.codec);
        while !self.frames.is_empty() {
            if !self.live.is_empty() && !end {
                return; // a longer prompt may still follow: wait for more frames
            }
            if let Some((entry, len)) = self.complete {
                self.emit_prompt(&entries[entry], len, false);
                self.consume(len);
                continue;
            }
            let matched = self.frames.len();
            let cut = self
                .live
                .iter()
                .copied()
                .find(|&e| self.heard_past_threshold(&entries[e]));
            if let Some(entry) = cut {
                self.emit_prompt(&entries[entry], matched, true);
                self.consume(matched);
                continue;
            }
            // The first frame starts no prompt: it is other audio.
            let first = &self.frames[0];
            let other = self.other.get_or_insert(OtherAudio {
                started: first.arrived,
                frames: 0,
                sounds: false,
            });
            other.frames += 1;
            other.sounds |= !first.silent;
            self.consume(1);
        }
    }

    /// Drops the first `count` frames and rebuilds the match state over the rest.
    fn consume(&mut self, count: usize) {
        let mut rest = std::mem::replace(&mut self.frames, std::mem::take(&mut self.spare_frames));
        self.live.clear();
        self.complete = None;
        self.sounding = 0;
        for frame in rest.drain(..).skip(count) {
            self.append(frame);
        }
        self.spare_frames = rest;
    }

    fn emit_prompt(&mut self, entry: &CatalogEntry, frames: usize, cut: bool) {
        self.flush_other();
        self.heard.push(Heard {
            prompt: Some(entry.id),
            language: Some(entry.language),
            started: self.frames[0].arrived,
            duration: frames_duration(frames),
            cut,
        });
    }

    /// Reports the other audio attributed so far, unless it was only silence: what the portal sends between
    /// prompts (and a prompt stopped within its leading silence) is nothing heard.
    fn flush_other(&mut self) {
        if let Some(other) = self.other.take()
            && other.sounds
        {
            self.heard.push(Heard {
                prompt: None,
                language: None,
                started: other.started,
                duration: frames_duration(other.frames),
                cut: false,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_media::rtp::RtpSender;

    fn catalog() -> Arc<PromptCatalog> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../prompts");
        PromptCatalog::shared(&dir).unwrap()
    }

    fn library() -> PromptLibrary {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../prompts");
        PromptLibrary::load(&dir, &LANGUAGES).unwrap()
    }

    /// Plays `playlists` the way the portal does: each playlist one talkspurt, frames back to back.
    fn play(
        recognizer: &mut PromptRecognizer,
        codec: Codec,
        playlists: &[Vec<Vec<u8>>],
    ) -> Vec<String> {
        let mut sender = RtpSender::from_seed(3);
        let mut buffer = [0u8; 200];
        let start = Instant::now();
        let mut tick = 0u32;
        for playlist in playlists {
            sender.start_talkspurt();
            for frame in playlist
                .iter()
                .flat_map(|item| item.chunks(SAMPLES_PER_FRAME))
            {
                let len = sender
                    .build_audio(codec.payload_type(), frame, &mut buffer)
                    .unwrap();
                let packet = RtpPacket::parse(&buffer[..len]).unwrap();
                recognizer.push(&packet, start + Duration::from_millis(20 * u64::from(tick)));
                tick += 1;
            }
            sender.skip(160);
            tick += 1;
        }
        recognizer.end_talkspurt();
        recognizer.heard().iter().map(Heard::label).collect()
    }

    #[test]
    fn recognises_playlists_cut_prompts_and_other_audio() {
        let library = library();
        for codec in Codec::ALL {
            let mut recognizer = PromptRecognizer::new(catalog(), codec, codec.payload_type());
            let prompt = |id| library.get("en", id).encoded(codec).to_vec();
            let welcome = prompt(PromptId::Welcome);
            let cut_welcome = welcome[..welcome.len() / 2].to_vec();
            // Audio that is no prompt, beginning and ending with exact silence like a trimmed recording.
            let mut recording = vec![codec.silence_code(); 160 * 3];
            let mut samples = vec![0i16; 160 * 50];
            for (i, sample) in samples.iter_mut().enumerate() {
                *sample = ((i * 7919) % 4000) as i16 - 2000;
            }
            let mut encoded = vec![0u8; samples.len()];
            codec.encode(&samples, &mut encoded);
            recording.extend(encoded);
            recording.extend(vec![codec.silence_code(); 160 * 5]);
            let heard = play(
                &mut recognizer,
                codec,
                &[
                    vec![cut_welcome],
                    vec![
                        prompt(PromptId::PasscodeIncorrect),
                        prompt(PromptId::EnterPasscode),
                    ],
                    vec![
                        prompt(PromptId::NameIs),
                        recording,
                        prompt(PromptId::NameReview),
                    ],
                    vec![prompt(PromptId::Tone)],
                    vec![library.get("es", PromptId::Goodbye).encoded(codec).to_vec()],
                ],
            );
            assert_eq!(
                heard,
                [
                    "welcome (cut)",
                    "passcode_incorrect",
                    "enter_passcode",
                    "name_is",
                    "<audio 1160 ms>",
                    "name_review",
                    "tone",
                    "goodbye",
                ],
                "{codec:?}"
            );
            assert_eq!(recognizer.heard()[7].language, Some("es"));
        }
    }

    #[test]
    fn every_prompt_is_recognised_alone_and_named_early() {
        let library = library();
        let catalog = catalog();
        for language in LANGUAGES {
            for &id in PromptId::ALL {
                let codec = Codec::Pcmu;
                let mut recognizer = PromptRecognizer::new(Arc::clone(&catalog), codec, 0);
                let audio = library.get(language, id);
                let mut sender = RtpSender::from_seed(1);
                let mut buffer = [0u8; 200];
                let now = Instant::now();
                let mut named_at = None;
                for (k, frame) in audio.encoded(codec).chunks(160).enumerate() {
                    let len = sender.build_audio(0, frame, &mut buffer).unwrap();
                    recognizer.push(&RtpPacket::parse(&buffer[..len]).unwrap(), now);
                    if named_at.is_none()
                        && (recognizer.playing() == Some(id)
                            || recognizer.heard().first().and_then(|h| h.prompt) == Some(id))
                    {
                        named_at = Some(k);
                    }
                }
                recognizer.end_talkspurt();
                let heard: Vec<_> = recognizer.heard().iter().map(Heard::label).collect();
                assert_eq!(heard, [id.to_string()], "{language} {id}");
                assert!(
                    named_at.is_some(),
                    "{language} {id} never named while playing"
                );
            }
        }
    }

    #[test]
    fn playing_since_tells_a_restarted_prompt_from_the_one_before() {
        let library = library();
        let codec = Codec::Pcmu;
        let mut recognizer = PromptRecognizer::new(catalog(), codec, 0);
        let menu = library
            .get("en", PromptId::MainMenu)
            .encoded(codec)
            .to_vec();
        let mut sender = RtpSender::from_seed(3);
        let mut buffer = [0u8; 200];
        let t0 = Instant::now();
        let frame_at = |k: usize| t0 + Duration::from_millis(20) * k as u32;
        let mut push = |recognizer: &mut PromptRecognizer, frame: &[u8], k: usize| {
            let len = sender.build_audio(0, frame, &mut buffer).unwrap();
            recognizer.push(&RtpPacket::parse(&buffer[..len]).unwrap(), frame_at(k));
        };
        assert_eq!(recognizer.playing_since(), None);
        // The menu, 100 frames of it, then (a key barged in) the menu again from its start.
        for (k, frame) in menu.chunks(160).take(100).enumerate() {
            push(&mut recognizer, frame, k);
        }
        assert_eq!(recognizer.playing(), Some(PromptId::MainMenu));
        assert_eq!(recognizer.playing_since(), Some(t0));
        let restarted_at = frame_at(100);
        for (k, frame) in menu.chunks(160).take(100).enumerate() {
            push(&mut recognizer, frame, 100 + k);
        }
        assert_eq!(recognizer.playing(), Some(PromptId::MainMenu));
        assert_eq!(recognizer.playing_since(), Some(restarted_at));
        let heard: Vec<_> = recognizer.heard().iter().map(Heard::label).collect();
        assert_eq!(heard, ["main_menu (cut)"]);
    }

    #[test]
    fn a_prompt_cut_within_its_shared_prefix_is_other_audio() {
        let library = library();
        let codec = Codec::Pcma;
        let mut recognizer = PromptRecognizer::new(catalog(), codec, 8);
        // enter_mailbox shares its first 42 frames ("Please enter your ...") with enter_new_passcode.
        let entry = library
            .get("en", PromptId::EnterMailbox)
            .encoded(codec)
            .to_vec();
        let heard = play(&mut recognizer, codec, &[vec![entry[..20 * 160].to_vec()]]);
        assert_eq!(heard, ["<audio 400 ms>"]);
    }

    #[test]
    fn a_prompt_cut_within_its_leading_silence_is_nothing_heard() {
        let library = library();
        let codec = Codec::Pcma;
        let mut recognizer = PromptRecognizer::new(catalog(), codec, 8);
        let welcome = library.get("en", PromptId::Welcome).encoded(codec).to_vec();
        assert!(
            welcome[..320]
                .iter()
                .all(|&code| code == codec.silence_code())
        );
        let heard = play(&mut recognizer, codec, &[vec![welcome[..320].to_vec()]]);
        assert!(heard.is_empty(), "{heard:?}");
    }

    /// A stretch of what the portal sends: frames back to back, the first one with the marker bit or not.
    struct Stretch {
        marker: bool,
        codes: Vec<u8>,
    }

    fn marked(codes: Vec<u8>) -> Stretch {
        Stretch {
            marker: true,
            codes,
        }
    }

    fn silence(codec: Codec, frames: usize) -> Vec<u8> {
        vec![codec.silence_code(); frames * SAMPLES_PER_FRAME]
    }

    /// What one continuous stream did to a recogniser.
    struct Streamed {
        /// Labels of everything heard, once the stream ended.
        heard: Vec<String>,
        /// For each frame sent: what `playing()` said after it, and how many entries were heard by then.
        after_frame: Vec<(Option<PromptId>, usize)>,
        /// When each frame was sent.
        sent_at: Vec<Instant>,
    }

    /// Sends `stretches` the way the portal sends a call: one RTP stream, a frame every 20 ms, sequence numbers
    /// and timestamps never jumping (silence fills the time between prompts).
    fn stream(recognizer: &mut PromptRecognizer, codec: Codec, stretches: &[Stretch]) -> Streamed {
        let mut sender = RtpSender::from_seed(7);
        let mut buffer = [0u8; 200];
        let start = Instant::now();
        let mut streamed = Streamed {
            heard: Vec::new(),
            after_frame: Vec::new(),
            sent_at: Vec::new(),
        };
        for stretch in stretches {
            for (index, frame) in stretch.codes.chunks(SAMPLES_PER_FRAME).enumerate() {
                if index == 0 && stretch.marker {
                    sender.start_talkspurt();
                }
                let len = sender
                    .build_audio(codec.payload_type(), frame, &mut buffer)
                    .unwrap();
                let packet = RtpPacket::parse(&buffer[..len]).unwrap();
                let at = start + Duration::from_millis(20 * streamed.sent_at.len() as u64);
                recognizer.push(&packet, at);
                streamed.sent_at.push(at);
                streamed
                    .after_frame
                    .push((recognizer.playing(), recognizer.heard().len()));
            }
        }
        recognizer.end_talkspurt();
        streamed.heard = recognizer.heard().iter().map(Heard::label).collect();
        streamed
    }

    fn frames_of(codes: &[u8]) -> usize {
        codes.len() / SAMPLES_PER_FRAME
    }

    #[test]
    fn silence_between_prompts_is_nothing_heard() {
        let library = library();
        for codec in Codec::ALL {
            for marker_on_silence in [true, false] {
                let case = format!("{codec:?}, marker on silence: {marker_on_silence}");
                let mut recognizer = PromptRecognizer::new(catalog(), codec, codec.payload_type());
                let prompt = |id| library.get("en", id).encoded(codec).to_vec();
                let quiet = |frames| Stretch {
                    marker: marker_on_silence,
                    codes: silence(codec, frames),
                };
                let welcome = prompt(PromptId::Welcome);
                let enter_passcode = prompt(PromptId::EnterPasscode);
                let streamed = stream(
                    &mut recognizer,
                    codec,
                    &[
                        marked(welcome.clone()),
                        quiet(120),
                        marked(enter_passcode.clone()),
                        quiet(60),
                    ],
                );
                assert_eq!(streamed.heard, ["welcome", "enter_passcode"], "{case}");
                let heard = recognizer.heard();
                assert_eq!(heard[0].duration, frames_duration(frames_of(&welcome)));
                assert!(!heard[1].cut, "{case}");
                assert_eq!(
                    heard[1].duration,
                    frames_duration(frames_of(&enter_passcode))
                );
                // enter_passcode starts at its own first frame, not somewhere in the silence before it.
                let second_start = frames_of(&welcome) + 120;
                assert_eq!(heard[1].started, streamed.sent_at[second_start], "{case}");
                // Silence is never taken for a prompt playing, and a whole prompt is reported by the time the
                // silence after it has gone on for a second.
                assert!(
                    streamed.after_frame[frames_of(&welcome)..second_start]
                        .iter()
                        .all(|(playing, _)| playing.is_none()),
                    "{case}"
                );
                assert_eq!(
                    streamed.after_frame[frames_of(&welcome) + 50].1,
                    1,
                    "{case}"
                );
            }
        }
    }

    #[test]
    fn a_playlist_with_a_recording_followed_by_silence_is_heard_as_before() {
        let library = library();
        let codec = Codec::Pcmu;
        let mut recognizer = PromptRecognizer::new(catalog(), codec, 0);
        let prompt = |id| library.get("en", id).encoded(codec).to_vec();
        let samples: Vec<i16> = (0..160 * 40)
            .map(|i| ((i * 7919) % 4000) as i16 - 2000)
            .collect();
        let mut recording = silence(codec, 2);
        let mut encoded = vec![0u8; samples.len()];
        codec.encode(&samples, &mut encoded);
        recording.extend(encoded);
        recording.extend(silence(codec, 3));
        let playlist = [
            prompt(PromptId::NameIs),
            recording,
            prompt(PromptId::NameReview),
        ]
        .concat();
        let streamed = stream(
            &mut recognizer,
            codec,
            &[
                marked(silence(codec, 30)),
                marked(playlist),
                marked(silence(codec, 80)),
            ],
        );
        assert_eq!(streamed.heard, ["name_is", "<audio 900 ms>", "name_review"]);
    }

    #[test]
    fn silence_then_a_prompt_is_that_prompt_alone() {
        let library = library();
        for codec in Codec::ALL {
            for id in [PromptId::Welcome, PromptId::EnterMailbox, PromptId::Tone] {
                let codes = library.get("en", id).encoded(codec).to_vec();
                // As the portal sends it (the prompt marked), and without the marker: the prompt's own leading
                // silence is then found in the silence before it.
                for prompt_marked in [true, false] {
                    let mut recognizer =
                        PromptRecognizer::new(catalog(), codec, codec.payload_type());
                    let streamed = stream(
                        &mut recognizer,
                        codec,
                        &[
                            marked(silence(codec, 75)),
                            Stretch {
                                marker: prompt_marked,
                                codes: codes.clone(),
                            },
                        ],
                    );
                    let case = format!("{codec:?} {id}, prompt marked: {prompt_marked}");
                    assert_eq!(streamed.heard, [id.to_string()], "{case}");
                    assert_eq!(
                        recognizer.heard()[0].started,
                        streamed.sent_at[75],
                        "{case}"
                    );
                    assert!(
                        streamed.after_frame[..75]
                            .iter()
                            .all(|(p, n)| p.is_none() && *n == 0),
                        "{case}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_prompt_cut_short_then_silence_is_named_cut() {
        let library = library();
        for codec in Codec::ALL {
            let welcome = library.get("en", PromptId::Welcome).encoded(codec).to_vec();
            let silent = |k: usize| {
                welcome[k * 160..(k + 1) * 160]
                    .iter()
                    .all(|&c| c == codec.silence_code())
            };
            // Stopped at a frame with sound in it, some 2 s in (a key barged in).
            let cut_at = (100..).find(|&k| !silent(k - 1)).unwrap();
            for marker_on_silence in [true, false] {
                let case = format!("{codec:?}, marker on silence: {marker_on_silence}");
                let mut recognizer = PromptRecognizer::new(catalog(), codec, codec.payload_type());
                let streamed = stream(
                    &mut recognizer,
                    codec,
                    &[
                        marked(welcome[..cut_at * 160].to_vec()),
                        Stretch {
                            marker: marker_on_silence,
                            codes: silence(codec, 40),
                        },
                        marked(
                            library
                                .get("en", PromptId::EnterMailbox)
                                .encoded(codec)
                                .to_vec(),
                        ),
                        marked(silence(codec, 40)),
                    ],
                );
                assert_eq!(streamed.heard, ["welcome (cut)", "enter_mailbox"], "{case}");
                assert_eq!(
                    recognizer.heard()[0].duration,
                    frames_duration(cut_at),
                    "{case}"
                );
                // Named as soon as the silence shows it stopped, not when the next prompt comes.
                assert_eq!(streamed.after_frame[cut_at].1, 1, "{case}");
            }
        }
    }

    #[test]
    fn a_prompt_cut_too_early_to_name_then_silence_is_the_audio_heard() {
        let library = library();
        let codec = Codec::Pcmu;
        let entry = library
            .get("en", PromptId::EnterMailbox)
            .encoded(codec)
            .to_vec();
        let mut recognizer = PromptRecognizer::new(catalog(), codec, 0);
        let streamed = stream(
            &mut recognizer,
            codec,
            &[
                marked(entry[..20 * 160].to_vec()),
                marked(silence(codec, 40)),
                marked(library.get("en", PromptId::Goodbye).encoded(codec).to_vec()),
            ],
        );
        assert_eq!(streamed.heard, ["<audio 400 ms>", "goodbye"]);
    }
}
