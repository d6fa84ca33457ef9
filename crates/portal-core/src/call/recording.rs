//! Recording the personalized name and the greetings (a mailbox's busy and no-answer greetings, the portal's
//! business-hours and after-hours greetings): the prompt and tone, recording until `#`, silence or the
//! maximum length, the review (keep, record again, listen), and saving.

use std::time::{Duration, Instant};

use crate::PromptId;
use crate::io::{Account, Audio, Audit, Digit, Output, RecordingHandle, RecordingKind, Request};

use super::Call;
use super::state::{After, Pending, Phase, Stage};

use PromptId as P;

impl Call {
    /// The name is owed: after `playlist` (`passcode_changed`, or nothing), ask for it, then the main menu.
    /// `must_record_name` is skipped when `must_change_and_record_name` already said so.
    pub(super) fn ask_for_name(&mut self, mut playlist: Vec<Audio>) {
        if !self.combined_prompt_played {
            playlist.push(Audio::Prompt(P::MustRecordName));
        }
        playlist.extend([Audio::Prompt(P::RecordName), Audio::Prompt(P::Tone)]);
        self.recording_return = Stage::MainMenu;
        self.announce(playlist, After::Record(RecordingKind::Name));
    }

    /// Asks for a recording from a menu: its prompt, the tone, then recording.
    pub(super) fn record(&mut self, kind: RecordingKind, return_to: Stage) {
        self.recording_return = return_to;
        self.announce(
            vec![Audio::Prompt(record_prompt(kind)), Audio::Prompt(P::Tone)],
            After::Record(kind),
        );
    }

    /// The tone played: record, for at most the configured length.
    pub(super) fn start_recording(&mut self, kind: RecordingKind, now: Instant) {
        let max_length = if kind == RecordingKind::Message {
            self.message_max_length()
        } else {
            self.config.max_recording
        };
        self.phase = Phase::Recording {
            kind,
            stopping: false,
        };
        self.deadline = Some(now + max_length);
        self.outputs
            .push_back(Output::StartRecording { kind, max_length });
    }

    /// `#` or the maximum length: ask media to end the recording and wait for it.
    pub(super) fn stop_recording(&mut self) {
        if let Phase::Recording { kind, .. } = self.phase {
            self.phase = Phase::Recording {
                kind,
                stopping: true,
            };
            self.deadline = None;
            self.outputs.push_back(Output::StopRecording);
        }
    }

    /// Media reports the recording of `kind`: too short is refused and asked again, otherwise reviewed.
    pub(super) fn recorded(
        &mut self,
        kind: RecordingKind,
        recording: RecordingHandle,
        duration: Duration,
    ) {
        if kind == RecordingKind::Message {
            return self.message_recorded(recording, duration);
        }
        self.deadline = None;
        if duration < self.config.min_recording {
            self.announce(
                vec![
                    Audio::Prompt(P::RecordingTooShort),
                    Audio::Prompt(record_prompt(kind)),
                    Audio::Prompt(P::Tone),
                ],
                After::Record(kind),
            );
            return;
        }
        self.recording = Some(recording);
        self.review(kind, true);
    }

    /// Plays the recording back (when `play_back`) with its review menu.
    pub(super) fn review(&mut self, kind: RecordingKind, play_back: bool) {
        let mut playlist = Vec::with_capacity(3);
        if let (true, Some(recording)) = (play_back, self.recording) {
            let intro = if kind == RecordingKind::Name {
                P::NameIs
            } else {
                P::GreetingIs
            };
            playlist.extend([Audio::Prompt(intro), Audio::Recording(recording)]);
        }
        playlist.push(Audio::Prompt(review_prompt(kind)));
        self.ask(Stage::Review(kind), playlist);
    }

    /// A key at the review: 1 keeps, 2 records again, 3 listens again (portal greetings), `#` repeats.
    pub(super) fn review_key(&mut self, kind: RecordingKind, digit: Digit) {
        let stage = Stage::Review(kind);
        match digit {
            Digit::Pound => self.ask_again(stage),
            Digit::Number(1) => match (self.recording, self.owner(kind)) {
                (Some(recording), Some(owner)) => self.request(
                    Pending::SaveRecording(kind),
                    Request::SaveRecording {
                        owner,
                        kind,
                        recording,
                    },
                ),
                // Unreachable: a review follows a recording, and a mailbox's after its login. Nothing is saved.
                _ => self.record(kind, self.recording_return),
            },
            Digit::Number(2) => self.record(kind, self.recording_return),
            Digit::Number(3) if is_portal_greeting(kind) => self.review(kind, true),
            _ => self.invalid_option(stage),
        }
    }

    /// The store's answer to saving the recording of `kind`.
    pub(super) fn recording_saved(&mut self, kind: RecordingKind, saved: bool) {
        if !saved {
            self.announce(
                vec![Audio::Prompt(P::SaveFailed)],
                After::Ask(Stage::Review(kind)),
            );
            return;
        }
        self.outputs
            .push_back(Output::Audit(Audit::RecordingSaved(kind)));
        self.recording = None;
        let saved_prompt = if kind == RecordingKind::Name {
            if let Some(login) = self.login.as_mut() {
                login.name_recorded = true;
            }
            P::NameSaved
        } else {
            P::GreetingSaved
        };
        self.announce(
            vec![Audio::Prompt(saved_prompt)],
            After::Ask(self.recording_return),
        );
    }

    /// Whose recording of `kind` this is: the portal's greetings are reached only from the admin menu.
    fn owner(&self, kind: RecordingKind) -> Option<Account> {
        if is_portal_greeting(kind) {
            Some(Account::PortalAdmin)
        } else {
            self.login
                .as_ref()
                .map(|login| Account::Mailbox(login.mailbox.clone()))
        }
    }
}

fn is_portal_greeting(kind: RecordingKind) -> bool {
    matches!(
        kind,
        RecordingKind::BusinessHoursGreeting | RecordingKind::AfterHoursGreeting
    )
}

fn record_prompt(kind: RecordingKind) -> PromptId {
    match kind {
        RecordingKind::Name => P::RecordName,
        RecordingKind::BusyGreeting => P::RecordBusyGreeting,
        RecordingKind::NoAnswerGreeting => P::RecordNoAnswerGreeting,
        RecordingKind::BusinessHoursGreeting => P::RecordBusinessHoursGreeting,
        RecordingKind::AfterHoursGreeting => P::RecordAfterHoursGreeting,
        RecordingKind::Message => P::LeaveMessage,
    }
}

/// The review menu's prompt for a recording of `kind`.
pub(super) fn review_prompt(kind: RecordingKind) -> PromptId {
    match kind {
        RecordingKind::Name => P::NameReview,
        RecordingKind::BusyGreeting | RecordingKind::NoAnswerGreeting => P::GreetingReview,
        RecordingKind::BusinessHoursGreeting | RecordingKind::AfterHoursGreeting => {
            P::AdminGreetingReview
        }
        // Never reviewed: a message is deposited as it is.
        RecordingKind::Message => P::GreetingReview,
    }
}
