//! The values of voice messages: a message to deposit and a message as listed, the mailbox's counts and quota
//! use, and the organization's message policy (quota and expiry).
//!
//! Choices made here, and why:
//! - A message's duration is computed from its samples (8,000 a second), never taken from the caller, so the
//!   row and the file cannot disagree.
//! - A quota is a number of messages and a number of minutes. A deposit is refused when the mailbox would hold
//!   more than either, so the total never exceeds the quota; [`MailboxUsage::remaining_ms`] lets the call flow
//!   stop a recording at the time left. Defaults: 100 messages and 30 minutes (ordinary PBX voicemail sizes; a
//!   typical message is 20 to 30 seconds, so the minutes usually bind first), adjustable per organization and
//!   per user.
//! - Expiry follows Webex Calling's organization voicemail settings (`messageExpiryEnabled`,
//!   `numberOfDaysForMessageExpiry` 1 to 180, `strictDeletionEnabled`): off by default; when on, a message
//!   expires `expiry_days` after it was received. `permissive` deletes expired messages the user has heard when
//!   the user opens the mailbox and keeps unheard ones; `strict` deletes every expired message, heard or not, on
//!   schedule (and when the user opens the mailbox, so none is ever played after it expired). The days default
//!   to 10, Webex's own example value, so turning expiry on without a number does something sensible.

use std::fmt;

use crate::error::{Result, StoreError};
use crate::model::Moment;
use crate::wav::SAMPLE_RATE;

/// Most messages a quota may allow.
pub const MAX_QUOTA_MESSAGES: u32 = 10_000;
/// Most minutes a quota may allow (100 hours).
pub const MAX_QUOTA_MINUTES: u32 = 6_000;
/// Longest expiry, in days (Webex's bound).
pub const MAX_EXPIRY_DAYS: u16 = 180;
/// Longest caller number or display name kept, in characters; longer ones are cut.
pub const MAX_CALLER_TEXT: usize = 256;

/// A stored voice message's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(pub i64);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a message sits in its mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Folder {
    /// Not yet saved by the user (heard or not).
    New,
    /// Kept by the user.
    Saved,
}

impl Folder {
    /// The name stored and shown: `new` or `saved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Folder::New => "new",
            Folder::Saved => "saved",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Folder> {
        match name {
            "new" => Some(Folder::New),
            "saved" => Some(Folder::Saved),
            _ => None,
        }
    }
}

/// A message a caller left, to deposit with its audio.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    /// The mailbox it is for.
    pub mailbox: String,
    /// The calling number as received (any text; cut to [`MAX_CALLER_TEXT`] characters).
    pub caller_number: Option<String>,
    /// The caller's display name as received (any text; cut to [`MAX_CALLER_TEXT`] characters).
    pub caller_name: Option<String>,
    /// When the caller left it (also the audit entry's time).
    pub received_at: Moment,
    /// The caller marked it urgent.
    pub urgent: bool,
}

/// A message as listed: everything but the audio.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageSummary {
    /// Id.
    pub id: MessageId,
    /// The mailbox it is in.
    pub mailbox: String,
    /// The calling number as received.
    pub caller_number: Option<String>,
    /// The caller's display name as received.
    pub caller_name: Option<String>,
    /// When it was received (unix seconds, UTC).
    pub received_at: i64,
    /// Its length in milliseconds.
    pub duration_ms: u64,
    /// New or saved.
    pub folder: Folder,
    /// The user has heard it.
    pub heard: bool,
    /// The caller marked it urgent.
    pub urgent: bool,
    /// The mailbox that forwarded it here, if it was forwarded.
    pub forwarded_by: Option<String>,
}

/// How many messages a mailbox holds, by folder and urgency (what a message-waiting lamp reports:
/// `Voice-Message: new/saved (urgent new/urgent saved)` in RFC 3842's terms).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MessageCounts {
    /// Messages in the new folder.
    pub new: u32,
    /// Messages in the saved folder.
    pub saved: u32,
    /// Urgent messages in the new folder.
    pub urgent_new: u32,
    /// Urgent messages in the saved folder.
    pub urgent_saved: u32,
}

impl MessageCounts {
    /// All messages.
    pub fn total(&self) -> u32 {
        self.new + self.saved
    }
}

/// A mailbox's messages: new ones oldest first, then saved ones oldest first, with the counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageList {
    /// The messages in playing order.
    pub messages: Vec<MessageSummary>,
    /// The counts.
    pub counts: MessageCounts,
}

/// A quota: most messages and most minutes of audio a mailbox may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageQuota {
    /// Most messages (1 to [`MAX_QUOTA_MESSAGES`]).
    pub max_messages: u32,
    /// Most minutes in all (1 to [`MAX_QUOTA_MINUTES`]).
    pub max_minutes: u32,
}

impl Default for MessageQuota {
    /// 100 messages, 30 minutes.
    fn default() -> Self {
        MessageQuota {
            max_messages: 100,
            max_minutes: 30,
        }
    }
}

/// A user's own quota; `None` takes the organization's value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct QuotaOverride {
    /// Most messages, or the organization's.
    pub max_messages: Option<u32>,
    /// Most minutes, or the organization's.
    pub max_minutes: Option<u32>,
}

impl QuotaOverride {
    /// The quota in force: these values where set, the organization's otherwise.
    pub fn over(&self, organization: MessageQuota) -> MessageQuota {
        MessageQuota {
            max_messages: self.max_messages.unwrap_or(organization.max_messages),
            max_minutes: self.max_minutes.unwrap_or(organization.max_minutes),
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if let Some(messages) = self.max_messages {
            check_quota_messages(messages)?;
        }
        if let Some(minutes) = self.max_minutes {
            check_quota_minutes(minutes)?;
        }
        Ok(())
    }
}

/// Which limit of a quota a deposit would break.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuotaLimit {
    /// The number of messages.
    Messages,
    /// The minutes of audio.
    Minutes,
}

impl fmt::Display for QuotaLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QuotaLimit::Messages => "messages",
            QuotaLimit::Minutes => "minutes",
        })
    }
}

/// What a mailbox holds against its quota in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MailboxUsage {
    /// Messages held.
    pub messages: u32,
    /// Their length in all, in milliseconds.
    pub duration_ms: u64,
    /// The quota in force (the user's own where set, else the organization's).
    pub quota: MessageQuota,
}

impl MailboxUsage {
    /// Milliseconds a new message may still last (0 when no message fits).
    pub fn remaining_ms(&self) -> u64 {
        if self.messages >= self.quota.max_messages {
            return 0;
        }
        quota_ms(self.quota).saturating_sub(self.duration_ms)
    }

    /// No message fits any more: a caller should be told the mailbox is full before recording.
    pub fn is_full(&self) -> bool {
        self.remaining_ms() == 0
    }

    /// The limit a message of `duration_ms` would break, if any.
    pub fn refuses(&self, duration_ms: u64) -> Option<QuotaLimit> {
        if self.messages >= self.quota.max_messages {
            Some(QuotaLimit::Messages)
        } else if self.duration_ms.saturating_add(duration_ms) > quota_ms(self.quota) {
            Some(QuotaLimit::Minutes)
        } else {
            None
        }
    }
}

fn quota_ms(quota: MessageQuota) -> u64 {
    u64::from(quota.max_minutes) * 60_000
}

/// When expired messages are deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MessageDeletion {
    /// Messages never expire.
    #[default]
    Off,
    /// Expired messages the user has heard are deleted when the user opens the mailbox; unheard ones stay.
    Permissive,
    /// Every expired message, heard or not, is deleted by the scheduled sweep (and when the user opens the
    /// mailbox).
    Strict,
}

impl MessageDeletion {
    /// The name stored and shown: `off`, `permissive` or `strict`.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageDeletion::Off => "off",
            MessageDeletion::Permissive => "permissive",
            MessageDeletion::Strict => "strict",
        }
    }

    /// The mode named `name`.
    pub fn from_name(name: &str) -> Option<MessageDeletion> {
        match name {
            "off" => Some(MessageDeletion::Off),
            "permissive" => Some(MessageDeletion::Permissive),
            "strict" => Some(MessageDeletion::Strict),
            _ => None,
        }
    }
}

/// The organization's voice message policy: the default quota and message expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessagePolicy {
    /// Every user's quota unless they have their own.
    pub quota: MessageQuota,
    /// Whether and how expired messages are deleted.
    pub deletion: MessageDeletion,
    /// Days after which a message expires (1 to [`MAX_EXPIRY_DAYS`]); kept while deletion is off.
    pub expiry_days: u16,
}

impl Default for MessagePolicy {
    /// 100 messages and 30 minutes a mailbox; no expiry (10 days once turned on).
    fn default() -> Self {
        MessagePolicy {
            quota: MessageQuota::default(),
            deletion: MessageDeletion::Off,
            expiry_days: 10,
        }
    }
}

impl MessagePolicy {
    /// Checks the bounds: quota values at least 1 and at most [`MAX_QUOTA_MESSAGES`] and
    /// [`MAX_QUOTA_MINUTES`], expiry 1 to 180 days.
    pub fn validate(&self) -> Result<()> {
        check_quota_messages(self.quota.max_messages)?;
        check_quota_minutes(self.quota.max_minutes)?;
        if !(1..=MAX_EXPIRY_DAYS).contains(&self.expiry_days) {
            return Err(StoreError::InvalidSetting(format!(
                "message expiry days must be from 1 to {MAX_EXPIRY_DAYS}, not {}",
                self.expiry_days
            )));
        }
        Ok(())
    }

    /// The unix second before which a message received has expired at `now`, if expiry is on.
    pub(crate) fn expired_before(&self, now: Moment) -> Option<i64> {
        match self.deletion {
            MessageDeletion::Off => None,
            MessageDeletion::Permissive | MessageDeletion::Strict => {
                Some(now.unix_seconds - i64::from(self.expiry_days) * 86_400)
            }
        }
    }
}

fn check_quota_messages(messages: u32) -> Result<()> {
    if (1..=MAX_QUOTA_MESSAGES).contains(&messages) {
        Ok(())
    } else {
        Err(StoreError::InvalidSetting(format!(
            "mailbox quota messages must be from 1 to {MAX_QUOTA_MESSAGES}, not {messages}"
        )))
    }
}

fn check_quota_minutes(minutes: u32) -> Result<()> {
    if (1..=MAX_QUOTA_MINUTES).contains(&minutes) {
        Ok(())
    } else {
        Err(StoreError::InvalidSetting(format!(
            "mailbox quota minutes must be from 1 to {MAX_QUOTA_MINUTES}, not {minutes}"
        )))
    }
}

/// The length of `samples` at the telephone rate, in milliseconds.
pub(crate) fn duration_ms(samples: usize) -> u64 {
    (samples as u64).saturating_mul(1000) / u64::from(SAMPLE_RATE)
}

/// `text` cut to [`MAX_CALLER_TEXT`] characters.
pub(crate) fn caller_text(text: &Option<String>) -> Option<String> {
    text.as_ref()
        .map(|text| text.chars().take(MAX_CALLER_TEXT).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(messages: u32, duration_ms: u64) -> MailboxUsage {
        MailboxUsage {
            messages,
            duration_ms,
            quota: MessageQuota {
                max_messages: 3,
                max_minutes: 1,
            },
        }
    }

    #[test]
    fn a_quota_refuses_what_would_exceed_it_and_nothing_else() {
        assert_eq!(usage(2, 0).refuses(60_000), None);
        assert_eq!(usage(3, 0).refuses(1), Some(QuotaLimit::Messages));
        assert_eq!(usage(1, 30_000).refuses(30_000), None);
        assert_eq!(usage(1, 30_000).refuses(30_001), Some(QuotaLimit::Minutes));
        assert_eq!(usage(1, 30_000).remaining_ms(), 30_000);
        assert!(usage(3, 0).is_full());
        assert!(usage(1, 60_000).is_full());
        assert!(!usage(2, 59_999).is_full());
    }

    #[test]
    fn a_message_lasts_a_millisecond_per_eight_samples() {
        assert_eq!(duration_ms(8000), 1000);
        assert_eq!(duration_ms(7), 0);
        assert_eq!(duration_ms(12), 1);
    }

    #[test]
    fn the_policy_bounds_are_webex_s() {
        let mut policy = MessagePolicy::default();
        assert!(policy.validate().is_ok());
        policy.expiry_days = 181;
        assert!(policy.validate().is_err());
        policy.expiry_days = 0;
        assert!(policy.validate().is_err());
        policy.expiry_days = 180;
        policy.quota.max_messages = 0;
        assert!(policy.validate().is_err());
        let cut = caller_text(&Some("x".repeat(1000))).unwrap();
        assert_eq!(cut.chars().count(), MAX_CALLER_TEXT);
    }
}
