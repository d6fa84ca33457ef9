//! The conversation of an answered call, as drivers see it: the core's [`Call`] plus what every driver would
//! otherwise keep beside it (the recordings by handle, the voice message being heard, the merging of key presses
//! reported twice, the recorder's settings). The SIP [`Session`](crate::Session) and the console both drain it with
//! [`Conversation::poll_output`]; that is the one drain of the core's outputs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portal_core::{
    Audio, Audit, Call, CallConfig, CallContext, Digit, Input, MessageRef, Output, PlayId,
    RecordingHandle, Reply, Request, RequestId,
};
use portal_media::dtmf::{KeyPressDeduper, KeySource};
use portal_media::prompts::{PlayItem, PromptLibrary};
use portal_media::recording::RecorderConfig;
use portal_store::SAMPLE_RATE;

/// A store request the driver carries out off the media path, with the audio it needs.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreJob {
    /// Feed the reply back with this id.
    pub id: RequestId,
    /// What to do.
    pub request: Request,
    /// The recording a `SaveRecording` saves or a `DepositMessage` deposits (shared with playback, not
    /// copied).
    pub audio: Option<Arc<[i16]>>,
}

impl StoreJob {
    /// Whether the job hashes or verifies a passcode (argon2), so the driver can queue it apart from quick
    /// work.
    pub fn hashes_passcode(&self) -> bool {
        matches!(
            self.request,
            Request::Verify { .. } | Request::SetPasscode { .. }
        )
    }
}

/// What the conversation asks of its driver.
#[derive(Clone, Debug, PartialEq)]
pub enum ConversationOutput {
    /// Play these items in order, replacing anything playing; report the end with
    /// [`Conversation::playlist_done`]. A media driver turns them into audio with
    /// [`Conversation::play_items`].
    Play {
        /// Names the playlist.
        play: PlayId,
        /// What to play.
        audio: Vec<Audio>,
    },
    /// Stop what is playing (the caller barged in).
    StopPlayback,
    /// Move within the item playing, back or forward by the duration.
    SkipPlayback {
        /// Back or forward.
        back: bool,
        /// How far.
        by: std::time::Duration,
    },
    /// Start recording the caller; report the end with [`Conversation::recording_done`].
    Record(RecorderConfig),
    /// Stop recording (the recording comes back through [`Conversation::recording_done`]).
    StopRecording,
    /// Carry out this store request; feed the reply to [`Conversation::reply`].
    Store(StoreJob),
    /// End the call.
    HangUp,
    /// Something worth logging happened.
    Audit(Audit),
}

/// An answered call's conversation; see the module documentation.
///
/// Kinds of method: getters ([`is_ended`](Self::is_ended), [`recording`](Self::recording),
/// [`play_items`](Self::play_items)); inputs ([`key`](Self::key), [`playlist_done`](Self::playlist_done),
/// [`recording_done`](Self::recording_done), [`reply`](Self::reply), [`hung_up`](Self::hung_up)); timers
/// ([`poll_timeout`](Self::poll_timeout), [`handle_timeout`](Self::handle_timeout)); and
/// [`poll_output`](Self::poll_output), drained until `None` after every input.
#[derive(Debug)]
pub struct Conversation {
    call: Call,
    deduper: KeyPressDeduper,
    recordings: HashMap<RecordingHandle, Arc<[i16]>>,
    next_recording: u64,
    recording_end_silence: Duration,
    language: String,
    /// The fetch of a voice message's audio in flight: its request and the message.
    fetching: Option<(RequestId, MessageRef)>,
    /// The audio of the voice message fetched last (the one being heard), for [`Audio::Message`]. One at a
    /// time, so a long mailbox never holds more than one message in memory.
    message: Option<(MessageRef, Arc<[i16]>)>,
}

impl Conversation {
    /// Starts the conversation of a call in `context`, spoken in `language`. `recording_end_silence` is the
    /// silence after speech that ends a recording.
    pub fn new(
        context: CallContext,
        config: Arc<CallConfig>,
        language: &str,
        recording_end_silence: Duration,
    ) -> Conversation {
        Conversation::with_recordings(context, config, language, recording_end_silence, Vec::new())
    }

    /// [`Conversation::new`] for a call that plays stored audio from its start (a forwarded call's greeting
    /// and name, loaded when it was routed): `recordings` are held under the handles `context` names for
    /// them, and this call's own recordings get handles above them.
    pub fn with_recordings(
        context: CallContext,
        config: Arc<CallConfig>,
        language: &str,
        recording_end_silence: Duration,
        recordings: Vec<(RecordingHandle, Arc<[i16]>)>,
    ) -> Conversation {
        let next_recording = recordings
            .iter()
            .map(|(handle, _)| handle.0)
            .max()
            .unwrap_or(0);
        let recordings: HashMap<_, _> = recordings.into_iter().collect();
        Conversation {
            // The recordings are in place before the first `Play` is drained.
            call: Call::new(context, config),
            deduper: KeyPressDeduper::new(),
            recordings,
            next_recording,
            recording_end_silence,
            language: language.to_owned(),
            fetching: None,
            message: None,
        }
    }

    /// Whether the conversation is over.
    pub fn is_ended(&self) -> bool {
        self.call.is_ended()
    }

    /// The samples of a recording made in this call.
    pub fn recording(&self, handle: RecordingHandle) -> Option<&[i16]> {
        self.recordings.get(&handle).map(|samples| &samples[..])
    }

    /// The samples of the voice message `message`, if it is the one fetched last.
    pub fn message_audio(&self, message: MessageRef) -> Option<&[i16]> {
        match &self.message {
            Some((held, samples)) if *held == message => Some(samples),
            _ => None,
        }
    }

    /// The audio of a playlist: prompts in the portal's language, recordings of this call and the voice message
    /// being heard shared, not copied.
    pub fn play_items(&self, audio: &[Audio], prompts: &PromptLibrary) -> Vec<PlayItem> {
        audio
            .iter()
            .filter_map(|item| match item {
                Audio::Prompt(prompt) => {
                    Some(PlayItem::Prompt(prompts.get(&self.language, *prompt)))
                }
                Audio::Recording(handle) => self
                    .recordings
                    .get(handle)
                    .map(|samples| PlayItem::Samples(Arc::clone(samples))),
                Audio::Message(message) => match &self.message {
                    Some((held, samples)) if held == message => {
                        Some(PlayItem::Samples(Arc::clone(samples)))
                    }
                    _ => None,
                },
            })
            .collect()
    }

    /// A key press, from any signalling path; a press reported twice (INFO and RTP) counts once.
    pub fn key(&mut self, digit: Digit, source: KeySource, now: Instant) {
        if self.deduper.accept(digit, source, now) {
            // Which key is never logged: keys are passcodes.
            tracing::debug!(?source, "key press");
            self.call.handle(Input::Digit(digit), now);
        } else {
            tracing::trace!(?source, "the same key press reported again: dropped");
        }
    }

    /// The playlist `play` played to its end.
    pub fn playlist_done(&mut self, play: PlayId, now: Instant) {
        self.call.handle(Input::PromptDone(play), now);
    }

    /// The recording ended with these samples (8 kHz mono).
    pub fn recording_done(&mut self, samples: Vec<i16>, now: Instant) {
        self.next_recording += 1;
        let handle = RecordingHandle(self.next_recording);
        let duration =
            Duration::from_micros(samples.len() as u64 * 1_000_000 / u64::from(SAMPLE_RATE));
        self.recordings.insert(handle, Arc::from(samples));
        self.call.handle(
            Input::RecordingDone {
                recording: handle,
                duration,
            },
            now,
        );
    }

    /// The reply to the store job `id`.
    pub fn reply(&mut self, id: RequestId, reply: Reply, now: Instant) {
        // A message's audio stays here for playback; the core only learns whether it came.
        if let Reply::MessageAudio(audio) = &reply
            && let Some((_, message)) = self.fetching.take_if(|(fetch, _)| *fetch == id)
        {
            self.message = audio
                .as_ref()
                .map(|audio| (message, Arc::clone(audio.samples())));
        }
        self.call.handle(Input::Reply(id, reply), now);
    }

    /// The caller hung up.
    pub fn hung_up(&mut self, now: Instant) {
        self.call.handle(Input::HungUp, now);
    }

    /// When [`Conversation::handle_timeout`] is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.call.poll_timeout()
    }

    /// Fires the conversation's timer if it is due by `now` (an early wake-up does nothing).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.call.poll_timeout().is_some_and(|due| due <= now) {
            self.call.handle(Input::Timeout, now);
        }
    }

    /// The next thing to do, or `None` until the next input.
    pub fn poll_output(&mut self) -> Option<ConversationOutput> {
        let output = self.call.poll_output()?;
        Some(match output {
            Output::Play { id, audio, .. } => ConversationOutput::Play { play: id, audio },
            Output::StopPlayback => ConversationOutput::StopPlayback,
            Output::SkipPlayback { back, by } => ConversationOutput::SkipPlayback { back, by },
            Output::StartRecording { max_length, .. } => {
                ConversationOutput::Record(RecorderConfig {
                    max_length,
                    end_silence: self.recording_end_silence,
                    ..RecorderConfig::default()
                })
            }
            Output::StopRecording => ConversationOutput::StopRecording,
            Output::Request(id, request) => {
                let audio = match &request {
                    Request::SaveRecording { recording, .. }
                    | Request::DepositMessage { recording, .. } => {
                        self.recordings.get(recording).cloned()
                    }
                    Request::FetchMessage { message, .. } => {
                        self.fetching = Some((id, *message));
                        None
                    }
                    _ => None,
                };
                ConversationOutput::Store(StoreJob { id, request, audio })
            }
            Output::HangUp => ConversationOutput::HangUp,
            Output::Audit(audit) => ConversationOutput::Audit(audit),
        })
    }
}
