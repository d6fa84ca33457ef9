//! The values the store takes and returns (besides the core's `Login`, `VerifyOutcome`, `ChangeReason` and
//! `RecordingKind`, which it uses as they are).

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use portal_core::rules::PasscodeRules;
use portal_core::{ChangeReason, Day, Passcode, RecordingKind, VerifyOutcome};

use crate::messages::QuotaOverride;

/// A point in time as the store sees it: the wall clock in unix seconds (for temporary passcode expiry, locks and
/// the audit) and the calendar day in the organization's time zone (for passcode age). Passed in by the caller so
/// tests can move the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Moment {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix_seconds: i64,
    /// The organization's calendar day at that instant.
    pub today: Day,
}

impl Moment {
    /// The given instant and day.
    pub fn new(unix_seconds: i64, today: Day) -> Moment {
        Moment {
            unix_seconds,
            today,
        }
    }

    /// The instant, with the day taken in UTC.
    pub fn from_unix_utc(unix_seconds: i64) -> Moment {
        Moment {
            unix_seconds,
            today: Day(unix_seconds.div_euclid(86_400)),
        }
    }

    /// The system clock, with the day in UTC.
    pub fn now_utc() -> Moment {
        Moment::from_unix_utc(unix_seconds(SystemTime::now()))
    }

    /// This moment plus `duration`, the day taken in UTC.
    pub fn later_utc(self, duration: Duration) -> Moment {
        Moment::from_unix_utc(self.unix_seconds + duration_seconds(duration))
    }
}

pub(crate) fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => duration_seconds(after),
        Err(before) => -duration_seconds(before.duration()),
    }
}

pub(crate) fn duration_seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// Who did something, for the audit. Never holds a passcode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A phone call to a portal.
    Call {
        /// The SIP Call-ID.
        call_id: String,
        /// The calling number, when known.
        caller: Option<String>,
    },
    /// An administrator (CLI or admin API).
    Admin,
    /// The user in their own settings.
    UserSettings,
    /// The store's scheduled maintenance (the strict expiry sweep).
    Maintenance,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Call {
                call_id,
                caller: Some(caller),
            } => write!(f, "call {call_id} from {caller}"),
            Source::Call {
                call_id,
                caller: None,
            } => write!(f, "call {call_id}"),
            Source::Admin => f.write_str("admin"),
            Source::UserSettings => f.write_str("user settings"),
            Source::Maintenance => f.write_str("maintenance"),
        }
    }
}

/// What new users get as their first passcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InitialMode {
    /// The organization's default passcode, to be changed at first login.
    Default,
    /// A random passcode per user, temporary and to be changed at first login.
    Generated,
    /// No passcode: the user sets one in their settings before the portal lets them in.
    None,
}

/// What an administrator's reset gives the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResetMode {
    /// The organization's default passcode again.
    Default,
    /// A random temporary passcode.
    Generated,
}

/// The organization's voicemail passcode policy. Changing it never touches existing users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// What new users get.
    pub initial: InitialMode,
    /// What a reset gives.
    pub reset: ResetMode,
    /// Which passcodes users may choose, expiry, lockout count.
    pub rules: PasscodeRules,
    /// How long a generated (temporary) passcode opens the mailbox.
    pub temporary_lifetime: Duration,
}

impl Default for Policy {
    /// A new organization: generated initial passcodes, generated resets, default rules, 72 hours.
    fn default() -> Self {
        Policy {
            initial: InitialMode::Generated,
            reset: ResetMode::Generated,
            rules: PasscodeRules::default(),
            temporary_lifetime: Duration::from_secs(72 * 3600),
        }
    }
}

/// A voice portal to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPortal {
    /// A short stable identifier chosen by the administrator (for example the location's name).
    pub id: String,
    /// The name announced and shown.
    pub name: String,
    /// The phone number that reaches it, if any.
    pub number: Option<String>,
    /// The extension that reaches it, if any.
    pub extension: Option<String>,
    /// The prompt language, e.g. `en`.
    pub language: String,
    /// The admin passcode, set in the same transaction as the portal (it must pass the policy's rules).
    pub admin_passcode: Option<Passcode>,
    /// The portal's IANA time zone (message envelopes); `None` takes the server's. The store keeps the name as
    /// given: the caller validates it.
    pub time_zone: Option<String>,
}

/// Changes to a portal's settings; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortalChanges {
    /// The new display name.
    pub name: Option<String>,
    /// The new phone number.
    pub number: Option<String>,
    /// The new extension.
    pub extension: Option<String>,
    /// The new prompt language.
    pub language: Option<String>,
    /// The new IANA time zone; `Some(None)` clears it (back to the server's).
    pub time_zone: Option<Option<String>>,
}

/// A voice portal as stored (no hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Portal {
    /// Identifier.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Phone number.
    pub number: Option<String>,
    /// Extension.
    pub extension: Option<String>,
    /// Prompt language.
    pub language: String,
    /// Whether an admin passcode is set.
    pub admin_passcode_set: bool,
    /// Wrong admin passcodes in a row.
    pub admin_failed_attempts: u32,
    /// When the admin passcode locked (unix seconds), if it is locked.
    pub admin_locked_at: Option<i64>,
    /// Auto-attendant greeting for business hours.
    pub business_hours_greeting: Option<RecordingId>,
    /// Auto-attendant greeting for after hours.
    pub after_hours_greeting: Option<RecordingId>,
    /// The portal's IANA time zone, if it has its own (else the server's applies).
    pub time_zone: Option<String>,
}

/// A user (and their mailbox) to onboard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUser {
    /// Mailbox id (digits), unique in the organization.
    pub mailbox: String,
    /// The portal of the user's location.
    pub portal: String,
    /// The user's phone number (digits, optionally with a leading `+`), unique.
    pub phone_number: Option<String>,
    /// The user's extension (digits), unique within the portal.
    pub extension: Option<String>,
    /// Where passcode notifications go.
    pub email: Option<String>,
}

/// Where an issued passcode came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IssuedKind {
    /// The organization's default passcode.
    Default,
    /// A random temporary passcode.
    Generated,
}

/// A passcode the store gave a user, to be emailed to them. `Debug` hides the digits (see [`Passcode`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedPasscode {
    /// The passcode itself.
    pub passcode: Passcode,
    /// Default or generated.
    pub kind: IssuedKind,
    /// When a generated passcode stops working (unix seconds); `None` for the default passcode.
    pub expires_at: Option<i64>,
}

/// The result of onboarding a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Onboarded {
    /// The new mailbox.
    pub mailbox: String,
    /// The first passcode to email, unless the policy's initial mode is `none`.
    pub issued: Option<IssuedPasscode>,
}

/// A user as an administrator sees them: state, never a hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserView {
    /// Mailbox id.
    pub mailbox: String,
    /// Portal id.
    pub portal: String,
    /// Phone number.
    pub phone_number: Option<String>,
    /// Extension.
    pub extension: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Whether the user has any passcode.
    pub has_passcode: bool,
    /// The day the passcode was set.
    pub passcode_set_on: Option<Day>,
    /// Days since then, as of the day asked about.
    pub passcode_age_days: Option<i64>,
    /// Whether the next login must change the passcode, and why (including expiry as of the day asked about).
    pub must_change: Option<ChangeReason>,
    /// When the current temporary passcode stops working (unix seconds).
    pub temporary_expires_at: Option<i64>,
    /// Wrong passcodes in a row.
    pub failed_attempts: u32,
    /// When the mailbox locked (unix seconds), if it is locked.
    pub locked_at: Option<i64>,
    /// Whether a personalized name is recorded.
    pub name_recorded: bool,
    /// The personalized name, if recorded.
    pub name_recording: Option<RecordingId>,
    /// The busy greeting, if recorded.
    pub busy_greeting: Option<RecordingId>,
    /// The no-answer greeting, if recorded.
    pub no_answer_greeting: Option<RecordingId>,
    /// The user's own mailbox quota (unset parts take the organization's).
    pub quota: QuotaOverride,
    /// Whether callers can leave this user messages (default on). Off, a call diverted to the user gets the
    /// ordinary portal; the user still logs in and keeps their messages, passcode and greetings.
    pub voicemail: bool,
}

impl UserView {
    /// Whether the mailbox is locked.
    pub fn locked(&self) -> bool {
        self.locked_at.is_some()
    }
}

/// A mailbox recognised from the calling number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownCaller {
    /// Mailbox id.
    pub mailbox: String,
    /// The mailbox's portal.
    pub portal: String,
    /// Whether the user has a passcode yet.
    pub has_passcode: bool,
}

impl From<KnownCaller> for portal_core::CallerMailbox {
    fn from(caller: KnownCaller) -> Self {
        portal_core::CallerMailbox {
            mailbox: caller.mailbox,
            has_passcode: caller.has_passcode,
        }
    }
}

/// What a passcode verification found. The caller hears only [`outcome`](Self::outcome), which is the same for
/// a mailbox that exists and a number that is none (no oracle). The other fields are for the driver, to tell a
/// user their mailbox was locked; they must never change what the caller hears.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// The answer for the caller.
    pub outcome: VerifyOutcome,
    /// This attempt's failure reached the lockout count and set the lock. `false` when the account was locked
    /// before (the outcome is `Locked` either way). A number that is no mailbox locks alike, so this is also
    /// set for it, once.
    pub locked_now: bool,
    /// The mailbox the entered digits named (its id, or an extension at the portal dialed). `None` for a number
    /// that is no mailbox and for the portal admin passcode.
    pub mailbox: Option<String>,
}

impl Verification {
    /// The mailbox this attempt locked, whose user is to be told.
    pub fn locked_mailbox(&self) -> Option<&str> {
        self.mailbox.as_deref().filter(|_| self.locked_now)
    }
}

/// A stored recording's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordingId(pub i64);

/// Whose recording it is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RecordingOwner {
    /// A mailbox (name, busy and no-answer greetings).
    Mailbox(String),
    /// A portal (auto-attendant greetings).
    Portal(String),
}

/// A recording as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recording {
    /// Id.
    pub id: RecordingId,
    /// Whose it is.
    pub owner: RecordingOwner,
    /// What it is for.
    pub kind: RecordingKind,
    /// The WAV file (8 kHz mono 16-bit PCM).
    pub path: PathBuf,
    /// Number of samples.
    pub samples: u64,
    /// When it was saved (unix seconds).
    pub created_at: i64,
}

/// What an audit entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditKind {
    /// A mailbox passcode was right.
    LoginOk,
    /// A mailbox passcode was wrong (or the mailbox does not exist, has no passcode, or its temporary passcode
    /// expired; the detail says which).
    LoginFailed,
    /// A failure reached the lockout count and locked the mailbox.
    Locked,
    /// An attempt on a locked mailbox was refused without checking the passcode.
    LoginRefusedLocked,
    /// A portal admin passcode was right.
    AdminLoginOk,
    /// A portal admin passcode was wrong.
    AdminLoginFailed,
    /// The portal admin passcode locked.
    AdminLocked,
    /// An attempt on a locked portal admin passcode was refused.
    AdminLoginRefusedLocked,
    /// An administrator reset a user's passcode.
    Reset,
    /// An administrator unlocked a mailbox.
    Unlocked,
    /// The user changed the passcode during a call.
    PasscodeChanged,
    /// The user set a passcode in their settings.
    PasscodeSet,
    /// A user was onboarded.
    UserAdded,
    /// A user was removed.
    UserRemoved,
    /// The policy changed.
    PolicyChanged,
    /// A portal was created.
    PortalAdded,
    /// A portal's name, number, extension or language changed.
    PortalChanged,
    /// A portal's admin passcode was set.
    PortalAdminPasscodeSet,
    /// A portal's admin passcode was unlocked.
    PortalUnlocked,
    /// A recording was saved.
    RecordingSaved,
    /// A caller left a voice message (the detail gives its id, length and urgency; never the audio).
    MessageDeposited,
    /// The user heard a message for the first time.
    MessageHeard,
    /// A message moved to the saved folder.
    MessageSaved,
    /// A message was deleted (by the user or an administrator).
    MessageDeleted,
    /// A message was deleted because it expired under the policy.
    MessageExpired,
    /// A user's own mailbox quota was set or cleared.
    QuotaChanged,
    /// A user's voicemail was switched on or off.
    VoicemailChanged,
}

impl AuditKind {
    const ALL: [(AuditKind, &'static str); 27] = [
        (AuditKind::LoginOk, "login_ok"),
        (AuditKind::LoginFailed, "login_failed"),
        (AuditKind::Locked, "locked"),
        (AuditKind::LoginRefusedLocked, "login_refused_locked"),
        (AuditKind::AdminLoginOk, "admin_login_ok"),
        (AuditKind::AdminLoginFailed, "admin_login_failed"),
        (AuditKind::AdminLocked, "admin_locked"),
        (
            AuditKind::AdminLoginRefusedLocked,
            "admin_login_refused_locked",
        ),
        (AuditKind::Reset, "reset"),
        (AuditKind::Unlocked, "unlocked"),
        (AuditKind::PasscodeChanged, "passcode_changed"),
        (AuditKind::PasscodeSet, "passcode_set"),
        (AuditKind::UserAdded, "user_added"),
        (AuditKind::UserRemoved, "user_removed"),
        (AuditKind::PolicyChanged, "policy_changed"),
        (AuditKind::PortalAdded, "portal_added"),
        (AuditKind::PortalChanged, "portal_changed"),
        (
            AuditKind::PortalAdminPasscodeSet,
            "portal_admin_passcode_set",
        ),
        (AuditKind::PortalUnlocked, "portal_unlocked"),
        (AuditKind::RecordingSaved, "recording_saved"),
        (AuditKind::MessageDeposited, "message_deposited"),
        (AuditKind::MessageHeard, "message_heard"),
        (AuditKind::MessageSaved, "message_saved"),
        (AuditKind::MessageDeleted, "message_deleted"),
        (AuditKind::MessageExpired, "message_expired"),
        (AuditKind::QuotaChanged, "quota_changed"),
        (AuditKind::VoicemailChanged, "voicemail_changed"),
    ];

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        AuditKind::ALL
            .iter()
            .find(|(kind, _)| *kind == self)
            .map_or("unknown", |(_, name)| name)
    }

    /// The kind stored under `name`.
    pub fn from_name(name: &str) -> Option<AuditKind> {
        AuditKind::ALL
            .iter()
            .find(|(_, known)| *known == name)
            .map(|(kind, _)| *kind)
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audit entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Sequence number.
    pub id: i64,
    /// When (unix seconds).
    pub at: i64,
    /// What happened.
    pub kind: AuditKind,
    /// The portal involved.
    pub portal: Option<String>,
    /// The mailbox involved; for a failed login, exactly what the caller entered.
    pub mailbox: Option<String>,
    /// Who: a call (Call-ID and number), `admin`, `user settings`.
    pub source: String,
    /// More about it (e.g. `unknown mailbox`, `temporary passcode expired`, `reason temporary`); never a passcode.
    pub detail: Option<String>,
}

/// Which audit entries to list (newest first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this mailbox (or entered number).
    pub mailbox: Option<String>,
    /// Only this portal.
    pub portal: Option<String>,
    /// Only this kind.
    pub kind: Option<AuditKind>,
    /// At most this many (0 means 100).
    pub limit: usize,
}

pub(crate) fn change_reason_name(reason: ChangeReason) -> &'static str {
    match reason {
        ChangeReason::Initial => "initial",
        ChangeReason::Temporary => "temporary",
        ChangeReason::Reset => "reset",
        ChangeReason::Expired => "expired",
    }
}

pub(crate) fn change_reason_from_name(name: &str) -> Option<ChangeReason> {
    match name {
        "initial" => Some(ChangeReason::Initial),
        "temporary" => Some(ChangeReason::Temporary),
        "reset" => Some(ChangeReason::Reset),
        "expired" => Some(ChangeReason::Expired),
        _ => None,
    }
}

/// Messages are not recordings of the store (see `deposit_message`); their kind is named for errors only.
pub(crate) fn recording_kind_name(kind: RecordingKind) -> &'static str {
    kind.name()
}

pub(crate) fn recording_kind_from_name(name: &str) -> Option<RecordingKind> {
    [
        RecordingKind::Name,
        RecordingKind::BusyGreeting,
        RecordingKind::NoAnswerGreeting,
        RecordingKind::BusinessHoursGreeting,
        RecordingKind::AfterHoursGreeting,
    ]
    .into_iter()
    .find(|kind| recording_kind_name(*kind) == name)
}
