//! Administration: policy, portals, users and their voice messages, as library functions. The `vportal admin`
//! command is a thin layer over them, and a later REST API calls the same functions. Every operation that hands
//! a user a passcode emails it through the [`Notifier`]; nothing here returns or prints a passcode. Voice
//! messages and quotas are in [`messages`].

mod messages;

pub use messages::{MessageLine, MessagePolicyChanges, QuotaChanges};

use std::time::Duration;

use portal_core::rules::PasscodeRules;
use portal_core::{ChangeReason, Passcode};
use portal_notify::{Delivery, Notice, Notifier, NotifyError, Recipient};
use portal_store::{
    AccountStore, AuditQuery, InitialMode, IssuedKind, IssuedPasscode, MessagePolicy, Moment,
    NewPortal, NewUser, Policy, Portal, PortalChanges, ResetMode, Source, StoreError, UserView,
};
use serde::Serialize;

/// Why an administrative operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The request itself is wrong (unknown mailbox, a passcode that breaks the rules, a taken number...).
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error("{0}")]
    Store(StoreError),
    /// The change is made, but the user could not be emailed.
    #[error("{done}, but the email to {to} failed: {error}")]
    NotDelivered {
        /// What was done.
        done: String,
        /// The address.
        to: String,
        /// Why delivery failed.
        error: NotifyError,
    },
}

impl AdminError {
    /// Whether the administrator asked for something invalid (as opposed to a failure of the system).
    pub fn is_invalid_request(&self) -> bool {
        matches!(self, AdminError::Invalid(_))
    }
}

impl From<StoreError> for AdminError {
    fn from(error: StoreError) -> AdminError {
        match error {
            StoreError::Rejected(violation) => {
                AdminError::Invalid(format!("passcode refused: {violation}"))
            }
            StoreError::InvalidRules(_)
            | StoreError::MissingDefaultPasscode
            | StoreError::CannotGenerate
            | StoreError::UnknownMailbox(_)
            | StoreError::UnknownPortal(_)
            | StoreError::AlreadyExists(_)
            | StoreError::NotDigits(_)
            | StoreError::UnknownMessage(_)
            | StoreError::QuotaFull { .. }
            | StoreError::InvalidSetting(_) => AdminError::Invalid(error.to_string()),
            other => AdminError::Store(other),
        }
    }
}

/// The organization's policy as an administrator sees it (the default passcode only as "set or not").
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PolicyView {
    /// `default`, `generated` or `none`.
    pub initial_pin: &'static str,
    /// `default` or `generated`.
    pub reset_pin: &'static str,
    /// Whether a default passcode is stored (sealed).
    pub default_pin_set: bool,
    /// How long a generated temporary passcode works.
    pub temporary_pin_lifetime_hours: u64,
    /// The passcode rules.
    pub rules: PasscodeRules,
    /// When expired voice messages are deleted: `off`, `permissive` (heard ones, when the user opens the
    /// mailbox) or `strict` (all, on schedule).
    pub message_deletion: &'static str,
    /// Days after which a voice message expires (kept while deletion is off).
    pub message_expiry_days: u16,
    /// Every user's mailbox quota in messages, unless they have their own.
    pub mailbox_quota_messages: u32,
    /// Every user's mailbox quota in minutes, unless they have their own.
    pub mailbox_quota_minutes: u32,
}

/// Changes to the policy; `None` leaves a setting as it is.
#[derive(Clone, Debug, Default)]
pub struct PolicyChanges {
    /// What new users get.
    pub initial: Option<InitialMode>,
    /// What a reset gives.
    pub reset: Option<ResetMode>,
    /// Start from the "exactly 7 digits" preset before the rule changes below.
    pub seven_digit_preset: bool,
    /// Rule changes, applied in order after the preset.
    pub rules: Vec<RuleChange>,
    /// How long generated passcodes work.
    pub temporary_lifetime: Option<Duration>,
    /// Changes to the voice message policy (quota, expiry).
    pub messages: MessagePolicyChanges,
}

impl PolicyChanges {
    /// Whether the passcode part of the policy changes.
    fn touches_passcodes(&self) -> bool {
        self.initial.is_some()
            || self.reset.is_some()
            || self.seven_digit_preset
            || !self.rules.is_empty()
            || self.temporary_lifetime.is_some()
    }
}

/// One change to one passcode rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleChange {
    /// Fewest digits.
    MinLength(u8),
    /// Most digits.
    MaxLength(u8),
    /// Longest run of one digit (0 = off).
    MaxRepeatedDigits(u8),
    /// Longest ascending or descending run (0 = off).
    MaxSequenceLength(u8),
    /// Refuse repeated patterns.
    ForbidRepeatedPatterns(bool),
    /// Refuse the user's own numbers.
    ForbidUserNumbers(bool),
    /// Previous passcodes that may not return (0 = off).
    HistoryLength(u8),
    /// Days until a passcode expires (`None` = never).
    ExpiryDays(Option<u32>),
    /// Days between voluntary changes (`None` = no minimum).
    MinDaysBetweenChanges(Option<u32>),
    /// Wrong passcodes in a row before the lock.
    FailedAttemptsBeforeLockout(u32),
}

impl RuleChange {
    fn apply(self, rules: &mut PasscodeRules) {
        match self {
            RuleChange::MinLength(value) => rules.min_length = value,
            RuleChange::MaxLength(value) => rules.max_length = value,
            RuleChange::MaxRepeatedDigits(value) => rules.max_repeated_digits = value,
            RuleChange::MaxSequenceLength(value) => rules.max_sequence_length = value,
            RuleChange::ForbidRepeatedPatterns(value) => rules.forbid_repeated_patterns = value,
            RuleChange::ForbidUserNumbers(value) => rules.forbid_user_numbers = value,
            RuleChange::HistoryLength(value) => rules.history_length = value,
            RuleChange::ExpiryDays(value) => rules.expiry_days = value,
            RuleChange::MinDaysBetweenChanges(value) => rules.min_days_between_changes = value,
            RuleChange::FailedAttemptsBeforeLockout(value) => {
                rules.failed_attempts_before_lockout = value
            }
        }
    }
}

/// Checks that `name` is a time zone the system's database knows (an IANA name like `Europe/Madrid`); the
/// error names the field.
pub fn check_time_zone(name: &str) -> Result<(), String> {
    jiff::tz::TimeZone::get(name)
        .map(|_| ())
        .map_err(|_| format!("time zone `{name}` is not an IANA time zone name this system knows"))
}

/// A portal as an administrator sees it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PortalView {
    /// Identifier (its number, or its extension when it has no number).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Phone number.
    pub number: Option<String>,
    /// Extension.
    pub extension: Option<String>,
    /// Prompt language.
    pub language: String,
    /// Whether the admin passcode is set.
    pub admin_passcode_set: bool,
    /// Whether the admin passcode is locked.
    pub admin_locked: bool,
    /// Wrong admin passcodes in a row.
    pub admin_failed_attempts: u32,
    /// Whether the business-hours greeting is recorded.
    pub business_hours_greeting: bool,
    /// Whether the after-hours greeting is recorded.
    pub after_hours_greeting: bool,
    /// The portal's own time zone for message envelopes (`null`: the server's `[messages] time_zone`).
    pub time_zone: Option<String>,
}

impl From<Portal> for PortalView {
    fn from(portal: Portal) -> PortalView {
        PortalView {
            id: portal.id,
            name: portal.name,
            number: portal.number,
            extension: portal.extension,
            language: portal.language,
            admin_passcode_set: portal.admin_passcode_set,
            admin_locked: portal.admin_locked_at.is_some(),
            admin_failed_attempts: portal.admin_failed_attempts,
            business_hours_greeting: portal.business_hours_greeting.is_some(),
            after_hours_greeting: portal.after_hours_greeting.is_some(),
            time_zone: portal.time_zone,
        }
    }
}

/// A user as an administrator sees them: state, never a hash or a passcode.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct UserSummary {
    /// Mailbox id.
    pub mailbox: String,
    /// Portal id.
    pub portal: String,
    /// Phone number.
    pub number: Option<String>,
    /// Extension.
    pub extension: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Whether the user has a passcode yet.
    pub has_passcode: bool,
    /// Whether the mailbox is locked.
    pub locked: bool,
    /// Wrong passcodes in a row.
    pub failed_attempts: u32,
    /// Why the next login must change the passcode (`initial`, `temporary`, `reset`, `expired`), if it must.
    pub must_change: Option<&'static str>,
    /// Whether the personalized name is recorded.
    pub name_recorded: bool,
    /// Days since the passcode was set.
    pub passcode_age_days: Option<i64>,
    /// The user's own mailbox quota in messages (`null`: the organization's).
    pub mailbox_quota_messages: Option<u32>,
    /// The user's own mailbox quota in minutes (`null`: the organization's).
    pub mailbox_quota_minutes: Option<u32>,
    /// Whether callers diverted to the user can leave messages (off: the ordinary portal; the user still logs
    /// in).
    pub voicemail: bool,
}

impl From<UserView> for UserSummary {
    fn from(user: UserView) -> UserSummary {
        UserSummary {
            locked: user.locked(),
            mailbox: user.mailbox,
            portal: user.portal,
            number: user.phone_number,
            extension: user.extension,
            email: user.email,
            has_passcode: user.has_passcode,
            failed_attempts: user.failed_attempts,
            must_change: user.must_change.map(reason_name),
            name_recorded: user.name_recorded,
            passcode_age_days: user.passcode_age_days,
            mailbox_quota_messages: user.quota.max_messages,
            mailbox_quota_minutes: user.quota.max_minutes,
            voicemail: user.voicemail,
        }
    }
}

fn reason_name(reason: ChangeReason) -> &'static str {
    match reason {
        ChangeReason::Initial => "initial",
        ChangeReason::Temporary => "temporary",
        ChangeReason::Reset => "reset",
        ChangeReason::Expired => "expired",
    }
}

/// A user to onboard, as the administrator describes them.
#[derive(Clone, Debug)]
pub struct UserToAdd {
    /// Mailbox id.
    pub mailbox: String,
    /// Phone number.
    pub number: Option<String>,
    /// Extension.
    pub extension: Option<String>,
    /// Where the first passcode is emailed.
    pub email: String,
    /// The portal (id, number or extension); may be left out when there is only one.
    pub portal: Option<String>,
}

/// What an operation that emails a user did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Emailed {
    /// The address.
    pub to: String,
    /// Where it went (SMTP relay or outbox file).
    pub delivery: Delivery,
}

/// The administrative operations, at one moment, on behalf of one source.
pub struct Admin<'a> {
    /// Where accounts live.
    pub store: &'a dyn AccountStore,
    /// How users are emailed.
    pub notifier: &'a dyn Notifier,
    /// When the operations happen.
    pub at: Moment,
    /// Who does them (for the audit).
    pub source: Source,
}

impl Admin<'_> {
    /// The organization's policy.
    pub fn policy(&self) -> Result<PolicyView, AdminError> {
        let policy = self.store.policy()?;
        let default_pin_set = self.store.default_passcode()?.is_some();
        let messages = self.store.message_policy()?;
        Ok(policy_view(&policy, default_pin_set, &messages))
    }

    /// Changes the policy; `default_pin`, when given, becomes the organization's default passcode. Existing
    /// users keep their passcodes, and their messages (even beyond a smaller quota).
    pub fn set_policy(
        &self,
        changes: &PolicyChanges,
        default_pin: Option<&Passcode>,
    ) -> Result<PolicyView, AdminError> {
        // The message half is checked first and written last: a refused passcode change writes nothing.
        let messages = changes.messages.apply(self.store.message_policy()?)?;
        let mut policy = self.store.policy()?;
        if let Some(initial) = changes.initial {
            policy.initial = initial;
        }
        if let Some(reset) = changes.reset {
            policy.reset = reset;
        }
        if changes.seven_digit_preset {
            policy.rules = PasscodeRules {
                failed_attempts_before_lockout: policy.rules.failed_attempts_before_lockout,
                expiry_days: policy.rules.expiry_days,
                min_days_between_changes: policy.rules.min_days_between_changes,
                ..PasscodeRules::exactly_seven_digits()
            };
        }
        for change in &changes.rules {
            change.apply(&mut policy.rules);
        }
        policy
            .rules
            .validate()
            .map_err(|error| AdminError::Invalid(format!("invalid passcode rules: {error}")))?;
        if let Some(lifetime) = changes.temporary_lifetime {
            policy.temporary_lifetime = lifetime;
        }
        if changes.touches_passcodes() || default_pin.is_some() || changes.messages.is_empty() {
            self.store
                .set_policy(&policy, default_pin, self.at, &self.source)?;
        }
        if !changes.messages.is_empty() {
            self.store
                .set_message_policy(&messages, self.at, &self.source)?;
        }
        self.policy()
    }

    /// Creates a portal with its admin passcode. Its id is its number (or its extension without a number).
    pub fn add_portal(
        &self,
        name: &str,
        number: Option<&str>,
        extension: Option<&str>,
        language: &str,
        time_zone: Option<&str>,
        admin_passcode: &Passcode,
    ) -> Result<PortalView, AdminError> {
        if let Some(zone) = time_zone {
            check_time_zone(zone).map_err(AdminError::Invalid)?;
        }
        let id = number
            .or(extension)
            .ok_or_else(|| AdminError::Invalid("a portal needs a number or an extension".into()))?;
        self.store.add_portal(
            &NewPortal {
                id: id.to_owned(),
                name: name.to_owned(),
                number: number.map(str::to_owned),
                extension: extension.map(str::to_owned),
                language: language.to_owned(),
                admin_passcode: Some(admin_passcode.clone()),
                time_zone: time_zone.map(str::to_owned),
            },
            self.at,
            &self.source,
        )?;
        Ok(self.store.portal(id)?.into())
    }

    /// The portal with this id, number or extension.
    pub fn find_portal(&self, which: &str) -> Result<Portal, AdminError> {
        match self.store.portal(which) {
            Ok(portal) => Ok(portal),
            Err(StoreError::UnknownPortal(_)) => self
                .store
                .portal_by_dialed(which)?
                .ok_or_else(|| AdminError::Invalid(format!("no voice portal {which}"))),
            Err(error) => Err(error.into()),
        }
    }

    /// A portal.
    pub fn portal(&self, which: &str) -> Result<PortalView, AdminError> {
        Ok(self.find_portal(which)?.into())
    }

    /// All portals.
    pub fn portals(&self) -> Result<Vec<PortalView>, AdminError> {
        Ok(self
            .store
            .list_portals()?
            .into_iter()
            .map(PortalView::from)
            .collect())
    }

    /// Changes a portal's settings.
    pub fn update_portal(
        &self,
        which: &str,
        changes: &PortalChanges,
    ) -> Result<PortalView, AdminError> {
        if let Some(Some(zone)) = &changes.time_zone {
            check_time_zone(zone).map_err(AdminError::Invalid)?;
        }
        let portal = self.find_portal(which)?;
        Ok(self
            .store
            .update_portal(&portal.id, changes, self.at, &self.source)?
            .into())
    }

    /// Sets a portal's admin passcode (and unlocks it).
    pub fn set_portal_passcode(&self, which: &str, passcode: &Passcode) -> Result<(), AdminError> {
        let portal = self.find_portal(which)?;
        Ok(self
            .store
            .set_portal_admin_passcode(&portal.id, passcode, self.at, &self.source)?)
    }

    /// Unlocks a portal's admin passcode.
    pub fn unlock_portal(&self, which: &str) -> Result<(), AdminError> {
        let portal = self.find_portal(which)?;
        Ok(self
            .store
            .unlock_portal(&portal.id, self.at, &self.source)?)
    }

    /// Onboards a user and emails their first passcode (none when the policy's initial mode is `none`).
    pub fn add_user(&self, user: &UserToAdd) -> Result<(UserSummary, Option<Emailed>), AdminError> {
        let portal = match &user.portal {
            Some(which) => self.find_portal(which)?,
            None => only_portal(self.store)?,
        };
        let onboarded = self.store.add_user(
            &NewUser {
                mailbox: user.mailbox.clone(),
                portal: portal.id.clone(),
                phone_number: user.number.clone(),
                extension: user.extension.clone(),
                email: Some(user.email.clone()),
            },
            self.at,
            &self.source,
        )?;
        let summary = self.user(&user.mailbox)?;
        let emailed = match onboarded.issued {
            Some(issued) => {
                let notice = issued_notice(&user.mailbox, &portal, issued, true);
                Some(self.email(
                    &user.email,
                    &notice,
                    &format!("user {} added", user.mailbox),
                )?)
            }
            None => None,
        };
        Ok((summary, emailed))
    }

    /// A user.
    pub fn user(&self, mailbox: &str) -> Result<UserSummary, AdminError> {
        Ok(self.store.user(mailbox, self.at.today)?.into())
    }

    /// All users.
    pub fn users(&self) -> Result<Vec<UserSummary>, AdminError> {
        Ok(self
            .store
            .list_users(self.at.today)?
            .into_iter()
            .map(UserSummary::from)
            .collect())
    }

    /// Removes a user, their passcode history and their recordings.
    pub fn remove_user(&self, mailbox: &str) -> Result<(), AdminError> {
        Ok(self.store.remove_user(mailbox, self.at, &self.source)?)
    }

    /// Resets a user's passcode per the policy's reset mode: unlocks the mailbox, clears the failures, forces
    /// a change at the next login, and emails the temporary (or default) passcode.
    pub fn reset_pin(&self, mailbox: &str) -> Result<Emailed, AdminError> {
        let user = self.store.user(mailbox, self.at.today)?;
        let email = user.email.clone().ok_or_else(|| {
            AdminError::Invalid(format!(
                "mailbox {mailbox} has no email address to send a passcode to"
            ))
        })?;
        let portal = self.store.portal(&user.portal)?;
        let issued = self.store.reset_pin(mailbox, self.at, &self.source)?;
        let notice = issued_notice(mailbox, &portal, issued, false);
        self.email(
            &email,
            &notice,
            &format!("the passcode of mailbox {mailbox} was reset"),
        )
    }

    /// The user's own new passcode, as from a settings page: rules and history apply; unlocks; no forced change.
    pub fn set_pin(&self, mailbox: &str, passcode: &Passcode) -> Result<(), AdminError> {
        self.store
            .set_pin(mailbox, passcode, self.at, &Source::UserSettings)?;
        notify_passcode_changed(self.store, self.notifier, mailbox, self.at);
        Ok(())
    }

    /// Unlocks a mailbox (its passcode stays).
    pub fn unlock_user(&self, mailbox: &str) -> Result<(), AdminError> {
        Ok(self.store.unlock_user(mailbox, self.at, &self.source)?)
    }

    /// Audit entries, newest first.
    pub fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditLine>, AdminError> {
        Ok(self
            .store
            .audit(query)?
            .into_iter()
            .map(|entry| AuditLine {
                at: entry.at,
                kind: entry.kind.as_str(),
                portal: entry.portal,
                mailbox: entry.mailbox,
                source: entry.source,
                detail: entry.detail,
            })
            .collect())
    }

    fn email(&self, to: &str, notice: &Notice, done: &str) -> Result<Emailed, AdminError> {
        match self.notifier.send(&Recipient::new(to), notice) {
            Ok(delivery) => Ok(Emailed {
                to: to.to_owned(),
                delivery,
            }),
            Err(error) => Err(AdminError::NotDelivered {
                done: done.to_owned(),
                to: to.to_owned(),
                error,
            }),
        }
    }
}

/// One audit entry for output.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AuditLine {
    /// When (unix seconds).
    pub at: i64,
    /// What happened.
    pub kind: &'static str,
    /// The portal.
    pub portal: Option<String>,
    /// The mailbox (or what a caller entered).
    pub mailbox: Option<String>,
    /// Who.
    pub source: String,
    /// More about it.
    pub detail: Option<String>,
}

fn policy_view(policy: &Policy, default_pin_set: bool, messages: &MessagePolicy) -> PolicyView {
    PolicyView {
        initial_pin: match policy.initial {
            InitialMode::Default => "default",
            InitialMode::Generated => "generated",
            InitialMode::None => "none",
        },
        reset_pin: match policy.reset {
            ResetMode::Default => "default",
            ResetMode::Generated => "generated",
        },
        default_pin_set,
        temporary_pin_lifetime_hours: policy.temporary_lifetime.as_secs() / 3600,
        rules: policy.rules.clone(),
        message_deletion: messages.deletion.as_str(),
        message_expiry_days: messages.expiry_days,
        mailbox_quota_messages: messages.quota.max_messages,
        mailbox_quota_minutes: messages.quota.max_minutes,
    }
}

/// The portal, when exactly one exists (commands may leave it out then).
pub fn only_portal(store: &dyn AccountStore) -> Result<Portal, AdminError> {
    let mut portals = store.list_portals()?;
    match portals.len() {
        1 => Ok(portals.remove(0)),
        0 => Err(AdminError::Invalid(
            "no voice portal is set up yet (add one, or try the console's --demo)".into(),
        )),
        _ => Err(AdminError::Invalid(
            "there are several voice portals: say which one".into(),
        )),
    }
}

/// The number users dial to reach `portal`.
pub fn portal_number(portal: &Portal) -> String {
    portal
        .number
        .clone()
        .or_else(|| portal.extension.clone())
        .unwrap_or_default()
}

fn issued_notice(
    mailbox: &str,
    portal: &Portal,
    issued: IssuedPasscode,
    onboarding: bool,
) -> Notice {
    let mailbox = mailbox.to_owned();
    let portal_number = portal_number(portal);
    let valid_until_unix = issued.expires_at.unwrap_or_default().max(0) as u64;
    match (issued.kind, onboarding) {
        (IssuedKind::Default, true) => Notice::OnboardedWithDefaultPasscode {
            mailbox,
            portal_number,
            passcode: issued.passcode,
        },
        (IssuedKind::Default, false) => Notice::ResetToDefaultPasscode {
            mailbox,
            portal_number,
            passcode: issued.passcode,
        },
        (IssuedKind::Generated, true) => Notice::OnboardedWithTemporaryPasscode {
            mailbox,
            portal_number,
            passcode: issued.passcode,
            valid_until_unix,
        },
        (IssuedKind::Generated, false) => Notice::ResetToTemporaryPasscode {
            mailbox,
            portal_number,
            passcode: issued.passcode,
            valid_until_unix,
        },
    }
}

/// Tells a user their passcode changed (best effort: the change stands if the email fails, which is logged).
pub fn notify_passcode_changed(
    store: &dyn AccountStore,
    notifier: &dyn Notifier,
    mailbox: &str,
    at: Moment,
) {
    notify_user(store, notifier, mailbox, |portal_number| {
        Notice::PasscodeChanged {
            mailbox: mailbox.to_owned(),
            portal_number,
            changed_at_unix: at.unix_seconds.max(0) as u64,
        }
    });
}

/// Tells a user their mailbox locked (best effort, logged on failure).
pub fn notify_locked_out(
    store: &dyn AccountStore,
    notifier: &dyn Notifier,
    mailbox: &str,
    at: Moment,
) {
    notify_user(store, notifier, mailbox, |portal_number| {
        Notice::LockedOut {
            mailbox: mailbox.to_owned(),
            portal_number,
            locked_at_unix: at.unix_seconds.max(0) as u64,
        }
    });
}

fn notify_user(
    store: &dyn AccountStore,
    notifier: &dyn Notifier,
    mailbox: &str,
    notice: impl FnOnce(String) -> Notice,
) {
    let user = match store.user(mailbox, Moment::from_unix_utc(0).today) {
        Ok(user) => user,
        Err(error) => {
            tracing::warn!(%error, mailbox, "cannot notify: user not found");
            return;
        }
    };
    let Some(email) = user.email else {
        tracing::info!(mailbox, "no email address: notice not sent");
        return;
    };
    let portal_number = store
        .portal(&user.portal)
        .map(|portal| portal_number(&portal))
        .unwrap_or_default();
    let notice = notice(portal_number);
    if let Err(error) = notifier.send(&Recipient::new(email), &notice) {
        tracing::warn!(%error, mailbox, kind = notice.kind(), "notice not delivered");
    }
}
