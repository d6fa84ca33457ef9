//! Where a call is: the public [`CallState`], and the phases and stages behind it.

use crate::PromptId;
use crate::io::{Account, ChangeKind, EndReason, RecordingKind, RequestId};

use super::recording::review_prompt;

use PromptId as P;

/// A prompt that waits for the caller's keys, and what the keys mean there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stage {
    /// Passcode for the caller's own mailbox (after `welcome`); `*` leads to `enter_mailbox`.
    OwnPasscode,
    /// Mailbox number or extension, from another phone.
    MailboxNumber,
    /// Passcode for the mailbox (or portal) entered at `enter_mailbox`.
    MailboxPasscode,
    /// A new passcode, first entry.
    NewPasscode,
    /// The new passcode again.
    ConfirmPasscode,
    MainMenu,
    GreetingsMenu,
    AdminMenu,
    /// Accept, record again (or listen, for the portal's greetings) after a recording.
    Review(RecordingKind),
    /// A voice message is playing (with its envelope) or was just played: the message keys.
    Message,
}

impl Stage {
    /// Whether the stage collects several digits ended by `#` (otherwise one key decides).
    pub(super) fn collects_entry(self) -> bool {
        matches!(
            self,
            Stage::OwnPasscode
                | Stage::MailboxNumber
                | Stage::MailboxPasscode
                | Stage::NewPasscode
                | Stage::ConfirmPasscode
        )
    }

    /// The prompt that asks again, after silence or an empty entry.
    pub(super) fn ask(self) -> PromptId {
        match self {
            Stage::OwnPasscode | Stage::MailboxPasscode => P::EnterPasscode,
            Stage::MailboxNumber => P::EnterMailbox,
            Stage::NewPasscode => P::EnterNewPasscode,
            Stage::ConfirmPasscode => P::ReenterNewPasscode,
            Stage::MainMenu => P::MainMenu,
            Stage::GreetingsMenu => P::GreetingsMenu,
            Stage::AdminMenu => P::AdminMenu,
            Stage::Review(kind) => review_prompt(kind),
            Stage::Message => P::MessageMenu,
        }
    }
}

/// What a pending request was for: the reply it takes, and what acting on that reply needs. Kept here rather
/// than re-read from the call, so a reply is judged against the request it answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Pending {
    Caller,
    /// A verification of `account`'s passcode submitted from `stage` (where a wrong passcode returns to).
    Verify {
        stage: Stage,
        account: Account,
    },
    /// A new passcode, chosen for this reason.
    SetPasscode(ChangeKind),
    SaveRecording(RecordingKind),
    /// The mailbox's message list.
    ListMessages,
    /// The current message's audio.
    FetchMessage,
    /// The current message heard, saved or deleted.
    UpdateMessage(MessageUpdate),
    DepositMessage,
}

/// What was asked of the store for the current message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum MessageUpdate {
    Heard,
    Save,
    Delete,
}

/// What follows an announcement (a playlist without barge-in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum After {
    HangUp(EndReason),
    Record(RecordingKind),
    Ask(Stage),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    Collect(Stage),
    Announce(After),
    Pending(RequestId, Pending),
    /// Recording; `stopping` once `StopRecording` was sent and `RecordingDone` is awaited.
    Recording {
        kind: RecordingKind,
        stopping: bool,
    },
    Ended,
}

impl Phase {
    pub(super) fn state(&self) -> CallState {
        match self {
            Phase::Collect(stage) => match stage {
                Stage::OwnPasscode => CallState::EnteringOwnPasscode,
                Stage::MailboxNumber => CallState::EnteringMailbox,
                Stage::MailboxPasscode => CallState::EnteringMailboxPasscode,
                Stage::NewPasscode => CallState::ChoosingPasscode,
                Stage::ConfirmPasscode => CallState::ConfirmingPasscode,
                Stage::MainMenu => CallState::MainMenu,
                Stage::GreetingsMenu => CallState::GreetingsMenu,
                Stage::AdminMenu => CallState::AdminMenu,
                Stage::Review(_) => CallState::Reviewing,
                Stage::Message => CallState::Messages,
            },
            Phase::Announce(_) => CallState::Announcement,
            Phase::Pending(..) => CallState::AwaitingReply,
            Phase::Recording { .. } => CallState::Recording,
            Phase::Ended => CallState::Ended,
        }
    }
}

/// Where a caller is in the conversation, for logs and tests (see the crate docs' diagram).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallState {
    /// Waiting for the driver's reply to a request.
    AwaitingReply,
    /// Entering the passcode of their own mailbox.
    EnteringOwnPasscode,
    /// Entering a mailbox number (not calling from their own phone).
    EnteringMailbox,
    /// Entering the passcode of the mailbox or portal they named.
    EnteringMailboxPasscode,
    /// Choosing a new passcode.
    ChoosingPasscode,
    /// Entering the new passcode again.
    ConfirmingPasscode,
    /// At the main menu.
    MainMenu,
    /// At the greetings menu.
    GreetingsMenu,
    /// At the portal's admin menu.
    AdminMenu,
    /// Reviewing a recording.
    Reviewing,
    /// Being recorded.
    Recording,
    /// Hearing an announcement that takes no keys.
    Announcement,
    /// The call is over.
    Ended,
    /// Hearing a voice message, or at the keys that manage it.
    Messages,
}
