//! The values that cross the boundary between a [`Call`](crate::Call) and its driver: inputs fed in, outputs
//! drained, requests the driver carries out and the replies it brings back.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::rules::RuleViolation;
use crate::speech::Envelope;
use crate::{Day, Passcode, PromptId};

/// One key of the phone's keypad, as media decided it (exactly one per key press).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Digit {
    /// A decimal digit key, 0 to 9.
    Number(u8),
    /// The star key, `*`.
    Star,
    /// The pound key, `#`.
    Pound,
}

impl Digit {
    /// The key for a keypad character (`0`-`9`, `*`, `#`); `None` for anything else. RFC 4733 events A-D have
    /// no key on the portal's keypad and are not digits.
    pub fn from_char(key: char) -> Option<Digit> {
        match key {
            '0'..='9' => Some(Digit::Number(key as u8 - b'0')),
            '*' => Some(Digit::Star),
            '#' => Some(Digit::Pound),
            _ => None,
        }
    }

    /// The keypad character of this key.
    pub fn as_char(self) -> char {
        match self {
            Digit::Number(n) => char::from(b'0' + n.min(9)),
            Digit::Star => '*',
            Digit::Pound => '#',
        }
    }
}

/// Identifies one `Play` output, so a late `PromptDone` for playback that was already stopped is ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PlayId(pub u32);

/// Identifies one request, so a reply reaches the request it answers and stale replies are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(pub u32);

/// The driver's handle for audio it recorded during this call (the core never sees the samples).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecordingHandle(pub u64);

/// One item of a playlist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Audio {
    /// A catalogue prompt in the portal's language.
    Prompt(PromptId),
    /// Audio the caller recorded earlier in this call (played back for review).
    Recording(RecordingHandle),
    /// A stored voice message, fetched with [`Request::FetchMessage`] just before (the driver keeps the audio
    /// of the message it fetched last).
    Message(MessageRef),
}

/// What a recording is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordingKind {
    /// The mailbox owner's personalized name.
    Name,
    /// The mailbox's busy greeting.
    BusyGreeting,
    /// The mailbox's no-answer greeting.
    NoAnswerGreeting,
    /// The portal's auto-attendant greeting for business hours.
    BusinessHoursGreeting,
    /// The portal's auto-attendant greeting for after hours.
    AfterHoursGreeting,
    /// A voice message a forwarded caller leaves in a mailbox (deposited as it is, never reviewed).
    Message,
}

impl RecordingKind {
    /// Its name in the store, the audit trail and the metrics.
    pub const fn name(self) -> &'static str {
        match self {
            RecordingKind::Name => "name",
            RecordingKind::BusyGreeting => "busy_greeting",
            RecordingKind::NoAnswerGreeting => "no_answer_greeting",
            RecordingKind::BusinessHoursGreeting => "business_hours_greeting",
            RecordingKind::AfterHoursGreeting => "after_hours_greeting",
            RecordingKind::Message => "message",
        }
    }
}

/// Whose passcode a verification is for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Account {
    /// A mailbox: the caller's own mailbox id, or exactly the digits a caller entered at `enter_mailbox`
    /// (a mailbox number or extension, which may match no mailbox at all: the store answers the same way).
    Mailbox(String),
    /// The admin passcode of the portal this call reached.
    PortalAdmin,
}

/// Why a passcode must be changed before anything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeReason {
    /// The organization's default passcode, given at onboarding.
    Initial,
    /// A system-generated temporary passcode (onboarding or reset).
    Temporary,
    /// An administrator reset the passcode.
    Reset,
    /// The passcode is older than the policy's expiry.
    Expired,
}

/// Whether a new passcode is chosen because the call must, or because the caller asked to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// Forced before the mailbox can be used.
    Forced(ChangeReason),
    /// Key 8 of the main menu.
    Voluntary,
}

/// Work the core asks the driver to do; the answer comes back as [`Input::Reply`] with the same id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Find the mailbox of the number the call comes from (answered with [`Reply::Caller`]).
    LookupCaller {
        /// The caller's number or extension as signalled.
        number: String,
    },
    /// Check a passcode and account for the attempt (answered with [`Reply::Verified`]).
    /// The store counts failures and decides the lock, atomically across calls.
    Verify {
        /// Whose passcode.
        account: Account,
        /// What the caller entered.
        passcode: Passcode,
    },
    /// Store a new passcode that passed the rules the core can check; the store checks the history
    /// (answered with [`Reply::PasscodeSet`]).
    SetPasscode {
        /// The mailbox that logged in.
        mailbox: String,
        /// The new passcode, entered twice alike.
        passcode: Passcode,
        /// Why it is being changed.
        kind: ChangeKind,
    },
    /// Keep a reviewed recording (answered with [`Reply::RecordingSaved`]).
    SaveRecording {
        /// The mailbox or the portal it belongs to.
        owner: Account,
        /// What it is for.
        kind: RecordingKind,
        /// Which recording of this call.
        recording: RecordingHandle,
    },
    /// Open the mailbox's messages: apply the message expiry on access, then list them, new ones oldest first,
    /// then saved ones oldest first (answered with [`Reply::Messages`]).
    ListMessages {
        /// The mailbox that logged in.
        mailbox: String,
    },
    /// Read a message's audio so it can be played as [`Audio::Message`] (answered with
    /// [`Reply::MessageAudio`]).
    FetchMessage {
        /// The mailbox that logged in.
        mailbox: String,
        /// Which message.
        message: MessageRef,
    },
    /// Mark a message heard: it played to its end (answered with [`Reply::MessageUpdated`]).
    MarkMessageHeard {
        /// The mailbox that logged in.
        mailbox: String,
        /// Which message.
        message: MessageRef,
    },
    /// Move a message to the saved folder (answered with [`Reply::MessageUpdated`]).
    SaveMessage {
        /// The mailbox that logged in.
        mailbox: String,
        /// Which message.
        message: MessageRef,
    },
    /// Delete a message, row and audio, at once: there is no undelete (answered with
    /// [`Reply::MessageUpdated`]).
    DeleteMessage {
        /// The mailbox that logged in.
        mailbox: String,
        /// Which message.
        message: MessageRef,
    },
    /// Deposit the message a forwarded caller left (answered with [`Reply::MessageDeposited`]). The store
    /// checks the mailbox's quota again as it inserts it.
    DepositMessage {
        /// The mailbox it is for.
        mailbox: String,
        /// The calling number as received.
        caller_number: Option<String>,
        /// The caller's display name as received.
        caller_name: Option<String>,
        /// The caller marked the call urgent.
        urgent: bool,
        /// Which recording of this call.
        recording: RecordingHandle,
    },
}

/// The store's id of a voice message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageRef(pub i64);

/// Where a message sits in its mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageFolder {
    /// Not saved by the user yet (heard or not).
    New,
    /// Kept by the user.
    Saved,
}

/// A voice message as the conversation needs it: no audio, and its envelope already in the organization's
/// local time (the driver converts; the core knows no time zone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageInfo {
    /// The store's id.
    pub id: MessageRef,
    /// When it was received (local date and time) and from which number.
    pub envelope: Envelope,
    /// New or saved.
    pub folder: MessageFolder,
    /// Whether the user has heard it to its end (a saved message counts as heard).
    pub heard: bool,
}

/// The samples of a stored message (8 kHz mono), read by the driver for playback. The core only carries it
/// from the reply back to its driver, which keeps it for [`Audio::Message`]; it never reads the samples.
#[derive(Clone, PartialEq, Eq)]
pub struct MessageAudio(Arc<[i16]>);

impl MessageAudio {
    /// Wraps the samples.
    pub fn new(samples: impl Into<Arc<[i16]>>) -> MessageAudio {
        MessageAudio(samples.into())
    }

    /// The samples, shared.
    pub fn samples(&self) -> &Arc<[i16]> {
        &self.0
    }
}

impl fmt::Debug for MessageAudio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageAudio({} samples)", self.0.len())
    }
}

/// A mailbox the calling number belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerMailbox {
    /// The mailbox id (what [`Account::Mailbox`] names for this caller).
    pub mailbox: String,
    /// False when the organization lets users set their first passcode in their settings and this user has not.
    pub has_passcode: bool,
}

/// What the store knows about a mailbox once its passcode was verified.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Login {
    /// The mailbox id.
    pub mailbox: String,
    /// Set when the passcode must change before anything else (expiry may also be found by the core).
    pub must_change: Option<ChangeReason>,
    /// Whether a personalized name is recorded.
    pub name_recorded: bool,
    /// The day the current passcode was set, for expiry and the minimum days between changes.
    pub passcode_set_on: Option<Day>,
    /// The user's extension, phone number and mailbox number: a new passcode may not equal them.
    pub user_numbers: Vec<String>,
}

/// The answer to [`Request::Verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyOutcome {
    /// The passcode is right. For [`Account::PortalAdmin`] the login's fields are not used.
    Ok(Login),
    /// The passcode is wrong (also for mailboxes that do not exist, or have no passcode yet).
    Wrong,
    /// The account is locked, either before this attempt or by this failure.
    Locked,
}

/// The answer to [`Request::SetPasscode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOutcome {
    /// The new passcode is stored; the forced change, if any, is done.
    Changed,
    /// The store refused it (usually [`RuleViolation::Reused`]: one of the last passcodes).
    Rejected(RuleViolation),
    /// The store could not write it; nothing changed.
    Failed,
}

/// A reply from the driver to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Answer to [`Request::LookupCaller`]: the caller's mailbox, or `None` for a caller no mailbox recognises.
    Caller(Option<CallerMailbox>),
    /// Answer to [`Request::Verify`], naming the account it answers for (the one the request named; the call
    /// checks it, so a reply carried to the wrong request cannot log anyone in).
    Verified {
        /// The account of the request.
        account: Account,
        /// What the store decided.
        outcome: VerifyOutcome,
    },
    /// Answer to [`Request::SetPasscode`].
    PasscodeSet(SetOutcome),
    /// Answer to [`Request::SaveRecording`]: `true` when saved.
    RecordingSaved(bool),
    /// Answer to [`Request::ListMessages`]: the messages in playing order, or `None` when the store could not
    /// read them.
    Messages(Option<Vec<MessageInfo>>),
    /// Answer to [`Request::FetchMessage`]: the audio, or `None` when it could not be read.
    MessageAudio(Option<MessageAudio>),
    /// Answer to [`Request::MarkMessageHeard`], [`Request::SaveMessage`] and [`Request::DeleteMessage`]:
    /// `true` when done.
    MessageUpdated(bool),
    /// Answer to [`Request::DepositMessage`]: `true` when the message is in the mailbox.
    MessageDeposited(bool),
}

/// What happens to a call; fed with [`Call::handle`](crate::Call::handle).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// The caller pressed a key.
    Digit(Digit),
    /// The playlist of that `Play` finished playing (not sent for playback the core stopped).
    PromptDone(PlayId),
    /// Recording ended (by `StopRecording`, by silence, or by the maximum length) and is kept by the driver.
    RecordingDone {
        /// The driver's handle for it.
        recording: RecordingHandle,
        /// How much audio it holds.
        duration: Duration,
    },
    /// The answer to a request.
    Reply(RequestId, Reply),
    /// The instant returned by `poll_timeout` was reached.
    Timeout,
    /// The caller hung up.
    HungUp,
}

/// What the driver must do; drained with [`Call::poll_output`](crate::Call::poll_output).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Play these items in order, replacing anything playing. With `barge_in`, the first key stops it
    /// (the core then sends `StopPlayback`); without it, keys pressed meanwhile are dropped.
    Play {
        /// Matches the `PromptDone` that reports the end of this playlist.
        id: PlayId,
        /// What to play.
        audio: Vec<Audio>,
        /// Whether a key press interrupts it.
        barge_in: bool,
    },
    /// Stop what is playing now (the caller barged in); no `PromptDone` follows.
    StopPlayback,
    /// Move within the item playing now, back or forward by `by` (keys 1 and 3 during a voice message); the
    /// playlist goes on, and its `PromptDone` still follows.
    SkipPlayback {
        /// Back (towards the item's start) or forward.
        back: bool,
        /// How far.
        by: std::time::Duration,
    },
    /// Start recording the caller; end it after `max_length`, on silence, or on `StopRecording`.
    StartRecording {
        /// What the recording is for.
        kind: RecordingKind,
        /// The longest recording kept.
        max_length: Duration,
    },
    /// End the recording now (the caller pressed `#`, or the maximum length passed).
    StopRecording,
    /// Carry out this request and feed back the reply.
    Request(RequestId, Request),
    /// Hang up the call. Nothing more comes out after it.
    HangUp,
    /// Something worth recording in the call's log; never carries a passcode.
    Audit(Audit),
}

/// Events of the conversation for the call's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audit {
    /// A passcode was verified as right.
    LoginSucceeded(Account),
    /// A passcode was wrong.
    LoginFailed(Account),
    /// The account is locked (an attempt met the lock, or caused it).
    LockedOut(Account),
    /// A new passcode was refused by a rule.
    PasscodeRefused(RuleViolation),
    /// A new passcode is set.
    PasscodeChanged(ChangeKind),
    /// A recording was saved.
    RecordingSaved(RecordingKind),
    /// The driver fed an input the call cannot receive where it is; the call ends (see [`DriverError`]).
    DriverError(DriverError),
    /// The call ended.
    CallEnded(EndReason),
}

/// An input a call cannot receive in the state it is in: a bug in the driver, never the caller's doing. Debug
/// builds panic on it; release builds end the call with [`Audit::DriverError`], [`Output::HangUp`] and
/// [`EndReason::DriverError`], so the driver logs it and nothing runs on a conversation that lost its thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DriverError {
    /// A reply while the call waits for none, or for another request than the one it waits for. The call sends
    /// one request at a time and leaves it only by its reply or its end, so this reply came twice or was made up.
    UnexpectedReply(RequestId),
    /// A reply of another kind than its request (say, `PasscodeSet` for a `Verify`).
    MismatchedReply(RequestId),
    /// A verification reply for another account than the request named.
    ReplyForAnotherAccount {
        /// The request's id.
        id: RequestId,
        /// The account the request named.
        asked: Account,
        /// The account the reply named.
        answered: Account,
    },
    /// `RecordingDone` while nothing was being recorded.
    UnexpectedRecording(RecordingHandle),
}

/// Why a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// The caller hung up.
    CallerHungUp,
    /// The caller chose to leave (key 9).
    CallerLeft,
    /// The account is locked.
    LockedOut,
    /// The call had as many failed passcodes as the lockout count.
    TooManyFailures,
    /// The caller did not answer the same prompt repeatedly.
    NoInput,
    /// The caller failed to choose an acceptable new passcode too often.
    TooManyChangeTries,
    /// The caller's mailbox has no passcode to log in with.
    PasscodeNotSet,
    /// The driver could not store something.
    StoreFailed,
    /// The driver fed an input the call cannot receive (see [`DriverError`]).
    DriverError,
    /// A forwarded caller left a message.
    MessageLeft,
    /// A forwarded caller found the mailbox full.
    MailboxFull,
    /// A forwarded caller's recording was too short to be a message.
    NothingRecorded,
}
