//! What a call is created with: the portal's settings shared by all calls, and the context of one call.

use std::time::Duration;

use crate::Day;
use crate::io::CallerMailbox;
use crate::rules::PasscodeRules;
use crate::speech::Language;

/// Settings shared by every call of a portal (the driver builds it once, from its configuration and the
/// organization's policy, and shares it behind an `Arc`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallConfig {
    /// How long to wait for the first key after a prompt that asks for input ended. Default 10 s.
    pub first_digit_timeout: Duration,
    /// How long to wait for the next key of an entry; when it passes, the entry is submitted as if `#` was
    /// pressed. Default 5 s.
    pub inter_digit_timeout: Duration,
    /// How many times a prompt is repeated when the caller stays silent before the call says goodbye. Default 3.
    pub max_silent_reprompts: u8,
    /// Recordings shorter than this are refused with `recording_too_short`. Default 1 s.
    pub min_recording: Duration,
    /// Recordings end after this long. Default 60 s.
    pub max_recording: Duration,
    /// Messages callers leave end after this long (or sooner, when the mailbox's quota leaves less).
    /// Default 180 s.
    pub max_message: Duration,
    /// Failed tries at choosing a new passcode (a broken rule, a mismatch, a reused passcode) before the call
    /// says goodbye. Default 3.
    pub max_change_tries: u8,
    /// The organization's passcode rules; `failed_attempts_before_lockout` also bounds the failures one call may
    /// have, over all mailboxes it tries.
    pub rules: PasscodeRules,
    /// The language of the portal, in which counts, dates and numbers are put together. Default English.
    pub language: Language,
}

impl Default for CallConfig {
    fn default() -> Self {
        CallConfig {
            first_digit_timeout: Duration::from_secs(10),
            inter_digit_timeout: Duration::from_secs(5),
            max_silent_reprompts: 3,
            min_recording: Duration::from_secs(1),
            max_recording: Duration::from_secs(60),
            max_message: Duration::from_secs(180),
            max_change_tries: 3,
            rules: PasscodeRules::default(),
            language: Language::English,
        }
    }
}

/// The portal a call reached: entering its number or extension as the mailbox leads to its admin passcode.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortalIdentity {
    /// The portal's phone number (digits).
    pub number: String,
    /// The portal's extension (digits).
    pub extension: String,
}

impl PortalIdentity {
    /// Whether digits a caller entered at `enter_mailbox` name this portal.
    pub fn is_named_by(&self, entered: &str) -> bool {
        !entered.is_empty() && (entered == self.number || entered == self.extension)
    }
}

/// Who is calling, as far as the driver knows when the call starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// The calling number belongs to this mailbox.
    Recognised(CallerMailbox),
    /// No mailbox has the calling number (or it is withheld).
    Unrecognised,
    /// The driver has not looked the number up: the call starts with a `LookupCaller` request.
    Identify(String),
}

/// What the caller dialed to reach the portal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dialed {
    /// The portal's number or extension (the digits dialed).
    Portal(String),
    /// The phone's voicemail button, which leads to the caller's own portal.
    VoicemailButton,
    /// A PBX forwarded the call for a user who did not take it: the caller leaves that user a message.
    Redirected(Box<crate::Deposit>),
}

/// Everything one call starts with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallContext {
    /// Who is calling.
    pub caller: Caller,
    /// What was dialed (kept for the call's log; both ways lead to the same conversation).
    pub dialed: Dialed,
    /// The portal reached: the dialed one, or for the voicemail button the caller's own.
    pub portal: PortalIdentity,
    /// Today's date in the organization's time zone, for passcode expiry and minimum days between changes.
    pub today: Day,
}
