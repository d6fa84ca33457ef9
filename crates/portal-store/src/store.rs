//! The operations every account store offers, so a PostgreSQL back end can follow the SQLite one: accounts,
//! policy, lockout, recordings, audit and voice messages.

use portal_core::{Day, Passcode, RecordingKind};

use crate::error::Result;
use crate::messages::{
    MailboxUsage, MessageCounts, MessageId, MessageList, MessagePolicy, MessageSummary, NewMessage,
    QuotaOverride,
};
use crate::model::{
    AuditEntry, AuditQuery, IssuedPasscode, KnownCaller, Moment, NewPortal, NewUser, Onboarded,
    Policy, Portal, PortalChanges, Recording, RecordingId, RecordingOwner, Source, UserView,
    Verification,
};

/// Accounts, policy, lockout, recordings, audit and voice messages. Synchronous and blocking (argon2 takes tens of
/// milliseconds, SQL touches disk): call it from a blocking pool, never from threads that pace RTP.
/// Implementations are `Send + Sync` and safe to share between threads and processes.
pub trait AccountStore: Send + Sync {
    /// The organization's voicemail policy.
    fn policy(&self) -> Result<Policy>;

    /// Replaces the policy. Existing users keep their passcodes. `default_passcode`, when given, replaces the
    /// sealed default passcode and must pass the new rules; a mode `default` needs one given now or before.
    fn set_policy(
        &self,
        policy: &Policy,
        default_passcode: Option<&Passcode>,
        at: Moment,
        source: &Source,
    ) -> Result<()>;

    /// The organization's default passcode, unsealed, if one is set.
    fn default_passcode(&self) -> Result<Option<Passcode>>;

    /// Creates a voice portal, with its admin passcode when one is given (checked against the rules; a refused
    /// passcode creates nothing).
    fn add_portal(&self, portal: &NewPortal, at: Moment, source: &Source) -> Result<()>;

    /// Changes a portal's name, number, extension or language; returns the portal as it is now.
    fn update_portal(
        &self,
        id: &str,
        changes: &PortalChanges,
        at: Moment,
        source: &Source,
    ) -> Result<Portal>;

    /// A portal by id.
    fn portal(&self, id: &str) -> Result<Portal>;

    /// The portal reached by this number or extension, if any.
    fn portal_by_dialed(&self, number_or_extension: &str) -> Result<Option<Portal>>;

    /// All portals, by id.
    fn list_portals(&self) -> Result<Vec<Portal>>;

    /// Sets a portal's admin passcode (it must pass the policy's rules); unlocks it.
    fn set_portal_admin_passcode(
        &self,
        portal: &str,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
    ) -> Result<()>;

    /// Clears a portal's admin lock and failure count.
    fn unlock_portal(&self, portal: &str, at: Moment, source: &Source) -> Result<()>;

    /// Checks a portal admin passcode and accounts for the attempt, with the same lockout as mailboxes. The
    /// report's `mailbox` is `None`.
    fn verify_portal_admin(
        &self,
        portal: &str,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
    ) -> Result<Verification>;

    /// Onboards a user under the current policy; returns the first passcode to email, if any.
    fn add_user(&self, user: &NewUser, at: Moment, source: &Source) -> Result<Onboarded>;

    /// A user's state as of `today` (for passcode age and expiry).
    fn user(&self, mailbox: &str, today: Day) -> Result<UserView>;

    /// All users, by mailbox.
    fn list_users(&self, today: Day) -> Result<Vec<UserView>>;

    /// Removes a user, their history and their recordings.
    fn remove_user(&self, mailbox: &str, at: Moment, source: &Source) -> Result<()>;

    /// An administrator's reset: a new default or temporary passcode (per the policy's reset mode) to email.
    /// Unlocks the mailbox, clears failures, and forces a change at the next login.
    fn reset_pin(&self, mailbox: &str, at: Moment, source: &Source) -> Result<IssuedPasscode>;

    /// The user sets their own passcode from their settings: rules and history apply; unlocks the mailbox,
    /// clears failures, no forced change follows.
    fn set_pin(
        &self,
        mailbox: &str,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
    ) -> Result<()>;

    /// The user changes the passcode during a call, after logging in: rules, history and (unless the change is
    /// forced) the minimum days between changes apply. Clears the forced change; a default or temporary
    /// passcode stops working.
    fn change_passcode(
        &self,
        mailbox: &str,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
    ) -> Result<()>;

    /// Clears a mailbox's lock and failure count (the passcode stays).
    fn unlock_user(&self, mailbox: &str, at: Moment, source: &Source) -> Result<()>;

    /// The mailbox of a calling phone number (or, failing that, of a unique extension).
    fn caller_mailbox(&self, number_or_extension: &str) -> Result<Option<KnownCaller>>;

    /// Checks a passcode for what a caller entered at `portal` (a mailbox id, or an extension of that portal)
    /// and accounts for the attempt atomically. Unknown numbers get exactly the outcome real mailboxes get; the
    /// report also says, for the driver only, whether this attempt set the lock and which mailbox was meant.
    fn verify_mailbox(
        &self,
        portal: &str,
        entered: &str,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
    ) -> Result<Verification>;

    /// Stores a recording (8 kHz mono 16-bit samples) as the owner's `kind`, replacing the previous one.
    fn save_recording(
        &self,
        owner: &RecordingOwner,
        kind: RecordingKind,
        samples: &[i16],
        at: Moment,
        source: &Source,
    ) -> Result<RecordingId>;

    /// A recording's metadata and file.
    fn recording(&self, id: RecordingId) -> Result<Recording>;

    /// Audit entries, newest first.
    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>>;

    // Voice messages. Every operation on a message names its mailbox too: a message of another mailbox is
    // `UnknownMessage`, exactly like one that does not exist.

    /// The organization's voice message policy (default quota, expiry).
    fn message_policy(&self) -> Result<MessagePolicy>;

    /// Replaces the voice message policy (checked against its bounds: `InvalidSetting`). Messages already
    /// stored stay, even beyond a smaller quota; expiry applies from the next access or sweep.
    fn set_message_policy(&self, policy: &MessagePolicy, at: Moment, source: &Source)
    -> Result<()>;

    /// Sets or clears (`None` parts) a user's own quota.
    fn set_mailbox_quota(
        &self,
        mailbox: &str,
        quota: &QuotaOverride,
        at: Moment,
        source: &Source,
    ) -> Result<()>;

    /// Switches a user's voicemail on or off (audited). Off, callers diverted to the user get the ordinary
    /// portal instead of a deposit; the user still logs in, and stored messages stay.
    fn set_voicemail(&self, mailbox: &str, on: bool, at: Moment, source: &Source) -> Result<()>;

    /// What a mailbox holds against its quota in force: whether it is full, how long a message may still be.
    fn mailbox_usage(&self, mailbox: &str) -> Result<MailboxUsage>;

    /// Stores a message a caller left (8 kHz mono 16-bit samples; the duration is computed from them) in the
    /// mailbox's new folder, unheard. `QuotaFull` when the mailbox would hold more messages or minutes than its
    /// quota, decided in the insert's transaction, so concurrent deposits never exceed it. After a crash at any
    /// moment the message is either fully stored or absent.
    fn deposit_message(
        &self,
        message: &NewMessage,
        samples: &[i16],
        source: &Source,
    ) -> Result<MessageId>;

    /// A mailbox's messages, new ones oldest first, then saved ones oldest first, with the counts. Deletes
    /// nothing (see [`expire_on_access`](Self::expire_on_access)).
    fn list_messages(&self, mailbox: &str) -> Result<MessageList>;

    /// A mailbox's counts: new, saved, urgent new, urgent saved.
    fn message_counts(&self, mailbox: &str) -> Result<MessageCounts>;

    /// One message of a mailbox, without its audio.
    fn message(&self, mailbox: &str, id: MessageId) -> Result<MessageSummary>;

    /// A message's audio (8 kHz mono 16-bit samples).
    fn message_audio(&self, mailbox: &str, id: MessageId) -> Result<Vec<i16>>;

    /// Marks a message heard (audited the first time only).
    fn mark_message_heard(
        &self,
        mailbox: &str,
        id: MessageId,
        at: Moment,
        source: &Source,
    ) -> Result<()>;

    /// Moves a message to the saved folder; a saved message counts as heard.
    fn save_message(&self, mailbox: &str, id: MessageId, at: Moment, source: &Source)
    -> Result<()>;

    /// Deletes a message: its row, then its file.
    fn delete_message(
        &self,
        mailbox: &str,
        id: MessageId,
        at: Moment,
        source: &Source,
    ) -> Result<()>;

    /// Applies message expiry as the user opens their mailbox at `at`: permissive mode deletes their expired
    /// messages they have heard, strict mode all their expired messages. Returns how many were deleted.
    fn expire_on_access(&self, mailbox: &str, at: Moment, source: &Source) -> Result<usize>;

    /// The scheduled expiry sweep at `at`: in strict mode deletes every expired message of every mailbox;
    /// otherwise nothing. Returns how many were deleted.
    fn sweep_expired(&self, at: Moment) -> Result<usize>;
}
