//! Leaving a message: a call a PBX forwarded to the portal for a user who did not take it. The caller hears
//! the user's greeting (or one the portal makes from the user's recorded name, or from the number they
//! called), the tone, and is recorded until `#`, silence, the maximum length, or hang-up; the message is then
//! deposited in the user's mailbox.
//!
//! - The greeting, in order of what exists: the user's busy greeting when the user was busy, the no-answer
//!   greeting otherwise (no answer, unconditional forwarding, unknown cause); else the name recording followed
//!   by "is busy" / "is not available"; else "the person at", the number digit by digit, and the same ending.
//! - A full mailbox (no room for a message of the minimum length) says so after the greeting and records
//!   nothing. Otherwise the recording is capped at the room the quota leaves.
//! - **A caller who hangs up keeps the message**: the recording so far is asked for, deposited, and the call
//!   ends without another word. Recordings shorter than the minimum (silence is trimmed by media, so a silent
//!   one is short) are not kept.

use std::time::Duration;

use crate::PromptId;
use crate::io::{Audio, EndReason, Output, RecordingHandle, RecordingKind, Request};
use crate::speech::{self, Language};

use super::Call;
use super::state::{After, Pending, Phase};

use PromptId as P;

/// Why the user did not take the forwarded call, as far as the greeting goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Absence {
    /// The user was busy: the busy greeting, "is busy".
    Busy,
    /// Any other reason (no answer, unconditional forwarding, unknown): the no-answer greeting, "is not
    /// available".
    NoAnswer,
}

/// A forwarded call that leaves a message for a mailbox: everything the conversation needs, found by the
/// driver when it routed the call (see [`Dialed::Redirected`](crate::Dialed::Redirected)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deposit {
    /// The mailbox the message is for.
    pub mailbox: String,
    /// Why the call was forwarded.
    pub absence: Absence,
    /// The number or extension the caller called, said digit by digit when the user has no name recorded.
    pub number: String,
    /// The portal's language, for the digits.
    pub language: Language,
    /// The user's name recording, loaded by the driver for this call.
    pub name: Option<RecordingHandle>,
    /// The user's busy greeting, loaded by the driver for this call.
    pub busy_greeting: Option<RecordingHandle>,
    /// The user's no-answer greeting, loaded by the driver for this call.
    pub no_answer_greeting: Option<RecordingHandle>,
    /// How long a message may still be under the mailbox's quota (zero when it is full).
    pub room: Duration,
    /// The calling number as received, kept with the message.
    pub caller_number: Option<String>,
    /// The caller's display name as received, kept with the message.
    pub caller_name: Option<String>,
    /// The caller marked the call urgent (SIP Priority).
    pub urgent: bool,
}

impl Call {
    /// The deposit this call is for, if it was forwarded for a user.
    fn deposit(&self) -> Option<&Deposit> {
        match &self.context.dialed {
            crate::Dialed::Redirected(deposit) => Some(deposit),
            _ => None,
        }
    }

    /// The first thing a forwarded call hears: the greeting, then the tone (or that the mailbox is full).
    pub(super) fn start_deposit(&mut self) {
        let Some(deposit) = self.deposit() else {
            return;
        };
        let mut playlist = greeting(deposit);
        if deposit.room < self.config.min_recording {
            playlist.push(Audio::Prompt(P::MailboxFull));
            return self.say_goodbye(playlist, EndReason::MailboxFull);
        }
        playlist.extend([Audio::Prompt(P::LeaveMessage), Audio::Prompt(P::Tone)]);
        self.announce(playlist, After::Record(RecordingKind::Message));
    }

    /// How long the message may last: the configured maximum, or less when the quota leaves less.
    pub(super) fn message_max_length(&self) -> Duration {
        let room = self
            .deposit()
            .map_or(Duration::ZERO, |deposit| deposit.room);
        self.config.max_message.min(room)
    }

    /// Whether hanging up now still deposits the message: the caller is being recorded, or the recording
    /// is being handed over.
    pub(super) fn hang_up_keeps_message(&self) -> bool {
        matches!(
            self.phase,
            Phase::Recording {
                kind: RecordingKind::Message,
                ..
            }
        )
    }

    /// The caller hung up while leaving a message: ask media for what was recorded (unless it is already
    /// asked for) and deposit it when it comes; nothing more is played.
    pub(super) fn hung_up_while_recording_message(&mut self) {
        self.caller_gone = true;
        if let Phase::Recording {
            stopping: false, ..
        } = self.phase
        {
            self.stop_recording();
        }
    }

    /// Media reports the message: deposit it, unless it is too short to be one.
    pub(super) fn message_recorded(&mut self, recording: RecordingHandle, duration: Duration) {
        self.deadline = None;
        let Some(deposit) = self.deposit() else {
            return;
        };
        if duration < self.config.min_recording {
            let prompts = vec![Audio::Prompt(P::NoMessageRecorded)];
            return self.end_deposit(prompts, EndReason::NothingRecorded);
        }
        let request = Request::DepositMessage {
            mailbox: deposit.mailbox.clone(),
            caller_number: deposit.caller_number.clone(),
            caller_name: deposit.caller_name.clone(),
            urgent: deposit.urgent,
            recording,
        };
        self.request(Pending::DepositMessage, request);
    }

    /// The store's answer to the deposit.
    pub(super) fn message_deposited(&mut self, deposited: bool) {
        if deposited {
            self.end_deposit(vec![Audio::Prompt(P::MessageSent)], EndReason::MessageLeft);
        } else {
            self.end_deposit(vec![Audio::Prompt(P::SaveFailed)], EndReason::StoreFailed);
        }
    }

    /// Says `prompts` and goodbye, or, when the caller is gone already, just ends.
    fn end_deposit(&mut self, prompts: Vec<Audio>, reason: EndReason) {
        if self.caller_gone {
            self.end();
            self.outputs
                .push_back(Output::Audit(crate::Audit::CallEnded(
                    EndReason::CallerHungUp,
                )));
        } else {
            self.say_goodbye(prompts, reason);
        }
    }
}

/// What the caller hears before the tone (see the module documentation).
fn greeting(deposit: &Deposit) -> Vec<Audio> {
    let (own, ending) = match deposit.absence {
        Absence::Busy => (deposit.busy_greeting, P::IsBusy),
        Absence::NoAnswer => (deposit.no_answer_greeting, P::IsNotAvailable),
    };
    if let Some(greeting) = own {
        return vec![Audio::Recording(greeting)];
    }
    let mut playlist = Vec::with_capacity(deposit.number.len() + 2);
    match deposit.name {
        Some(name) => playlist.push(Audio::Recording(name)),
        None => {
            let digits = speech::digits(deposit.language, &deposit.number);
            if digits.is_empty() {
                playlist.push(Audio::Prompt(P::PersonYouCalled));
            } else {
                playlist.push(Audio::Prompt(P::PersonAt));
                playlist.extend(digits.into_iter().map(Audio::Prompt));
            }
        }
    }
    playlist.push(Audio::Prompt(ending));
    playlist
}
