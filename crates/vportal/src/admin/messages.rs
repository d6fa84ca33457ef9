//! Administration of voice messages: a mailbox's messages as an administrator sees them (never the audio),
//! deleting one, a user's own mailbox quota, and the message half of the policy (default quota, expiry).
//! Bounds are checked before anything is written, so a refused request changes nothing.

use portal_store::{MessageDeletion, MessageId, MessagePolicy, MessageSummary, QuotaOverride};
use serde::Serialize;

use super::{Admin, AdminError, UserSummary};

/// Changes to the message policy; `None` leaves a setting as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessagePolicyChanges {
    /// When expired messages are deleted: off, permissive or strict.
    pub deletion: Option<MessageDeletion>,
    /// Days after which a message expires (1 to 180).
    pub expiry_days: Option<u16>,
    /// Every user's quota in messages, unless they have their own.
    pub quota_messages: Option<u32>,
    /// Every user's quota in minutes, unless they have their own.
    pub quota_minutes: Option<u32>,
}

impl MessagePolicyChanges {
    /// Whether any setting changes.
    pub fn is_empty(&self) -> bool {
        *self == MessagePolicyChanges::default()
    }

    /// `policy` with these changes, checked against the bounds.
    pub(super) fn apply(&self, mut policy: MessagePolicy) -> Result<MessagePolicy, AdminError> {
        if let Some(deletion) = self.deletion {
            policy.deletion = deletion;
        }
        if let Some(days) = self.expiry_days {
            policy.expiry_days = days;
        }
        if let Some(messages) = self.quota_messages {
            policy.quota.max_messages = messages;
        }
        if let Some(minutes) = self.quota_minutes {
            policy.quota.max_minutes = minutes;
        }
        policy.validate()?;
        Ok(policy)
    }
}

/// Changes to a user's own quota: `None` leaves a part as it is, `Some(None)` returns it to the
/// organization's, `Some(Some(n))` sets the user's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuotaChanges {
    /// Most messages.
    pub max_messages: Option<Option<u32>>,
    /// Most minutes.
    pub max_minutes: Option<Option<u32>>,
}

/// A message as an administrator sees it: who left it, when, how long, where it is (never the audio).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct MessageLine {
    /// Id, for `message-delete`.
    pub id: i64,
    /// The calling number as received.
    pub from: Option<String>,
    /// The caller's display name as received.
    pub from_name: Option<String>,
    /// When it was received (unix seconds, UTC).
    pub received_at: i64,
    /// Its length in milliseconds.
    pub duration_ms: u64,
    /// `new` or `saved`.
    pub folder: &'static str,
    /// The user has heard it.
    pub heard: bool,
    /// The caller marked it urgent.
    pub urgent: bool,
}

impl From<MessageSummary> for MessageLine {
    fn from(message: MessageSummary) -> MessageLine {
        MessageLine {
            id: message.id.0,
            from: message.caller_number,
            from_name: message.caller_name,
            received_at: message.received_at,
            duration_ms: message.duration_ms,
            folder: message.folder.as_str(),
            heard: message.heard,
            urgent: message.urgent,
        }
    }
}

impl Admin<'_> {
    /// A mailbox's messages: new ones oldest first, then saved ones oldest first. Listing deletes nothing
    /// (permissive expiry happens when the user opens the mailbox, not when an administrator looks).
    pub fn messages(&self, mailbox: &str) -> Result<Vec<MessageLine>, AdminError> {
        Ok(self
            .store
            .list_messages(mailbox)?
            .messages
            .into_iter()
            .map(MessageLine::from)
            .collect())
    }

    /// Deletes a message of a mailbox (its audio too). An id that is not this mailbox's is no such message.
    pub fn delete_message(&self, mailbox: &str, id: i64) -> Result<(), AdminError> {
        self.store.user(mailbox, self.at.today)?;
        match self
            .store
            .delete_message(mailbox, MessageId(id), self.at, &self.source)
        {
            Err(portal_store::StoreError::UnknownMessage(_)) => Err(AdminError::Invalid(format!(
                "no such message: mailbox {mailbox} has no message {id}"
            ))),
            other => Ok(other?),
        }
    }

    /// Sets or clears parts of a user's own mailbox quota; returns the user as they are now.
    pub fn set_user_quota(
        &self,
        mailbox: &str,
        changes: &QuotaChanges,
    ) -> Result<UserSummary, AdminError> {
        let current = self.store.user(mailbox, self.at.today)?.quota;
        let quota = QuotaOverride {
            max_messages: changes.max_messages.unwrap_or(current.max_messages),
            max_minutes: changes.max_minutes.unwrap_or(current.max_minutes),
        };
        self.store
            .set_mailbox_quota(mailbox, &quota, self.at, &self.source)?;
        self.user(mailbox)
    }

    /// Switches a user's voicemail on or off; returns the user as they are now.
    pub fn set_voicemail(&self, mailbox: &str, on: bool) -> Result<UserSummary, AdminError> {
        self.store
            .set_voicemail(mailbox, on, self.at, &self.source)?;
        self.user(mailbox)
    }
}
