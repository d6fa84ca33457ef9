//! The SQLite back end: one database file in WAL mode, recordings and voice messages as WAV files beside it.
//!
//! This file opens the store and lists the [`AccountStore`] operations, each forwarded to the file of its
//! concern: [`policy`], [`portals`], [`users`], [`passcodes`] (chosen, reset, history), [`lockout`] (verifying
//! and counting attempts, unlocking), [`recordings`], [`messages`] (deposit, list, heard, saved, deleted,
//! quota), [`expiry`] (messages deleted under the policy) and [`audit`]. [`connection`] lends the connections.

mod audit;
mod connection;
mod expiry;
mod lockout;
mod messages;
mod passcodes;
mod policy;
mod portals;
mod recordings;
mod users;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use portal_core::{Day, Passcode, RecordingKind};
use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use crate::error::{Result, StoreError};
use crate::hashing::{HashParams, Hasher};
use crate::messages::{
    MailboxUsage, MessageCounts, MessageId, MessageList, MessagePolicy, MessageSummary, NewMessage,
    QuotaOverride,
};
use crate::model::{
    AuditEntry, AuditQuery, IssuedPasscode, KnownCaller, Moment, NewPortal, NewUser, Onboarded,
    Policy, Portal, PortalChanges, Recording, RecordingId, RecordingOwner, Source, UserView,
    Verification, duration_seconds,
};
use crate::schema;
use crate::sealing::{SealingKey, fill_random};
use crate::store::AccountStore;

use self::policy::{initial_mode_name, reset_mode_name, rules_json};

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "vportal.db";
/// Directory of the recordings inside the data directory.
pub const RECORDINGS_DIR: &str = "recordings";
/// Directory of the voice messages inside the data directory (mode 0700: they are private).
pub const MESSAGES_DIR: &str = "messages";
/// How often a verification or passcode write starts over when the account changed under it.
const MAX_RACE_RETRIES: usize = 3;

/// How to open a [`SqliteStore`].
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Holds `vportal.db`, `recordings/` and `messages/`; created if missing.
    pub data_dir: PathBuf,
    /// Seals the default passcode. Kept outside the database.
    pub sealing_key: SealingKey,
    /// argon2id cost of new hashes (and of the decoy hash unknown mailboxes are verified against).
    pub hash_params: HashParams,
    /// Most numbers without a mailbox whose failures are counted at once (oldest dropped first).
    pub decoy_capacity: u32,
    /// How long failures (and the lock) of a number without a mailbox are remembered after its last attempt.
    pub decoy_lifetime: Duration,
    /// How long a write waits for another writer before failing.
    pub busy_timeout: Duration,
    /// `synchronous=FULL` (every commit is on disk when it returns) rather than `NORMAL` (a power cut may lose
    /// the last commits, never tear one; a process crash loses nothing either way).
    pub synchronous_full: bool,
    /// Idle connections kept for reuse.
    pub max_idle_connections: usize,
}

impl StoreConfig {
    /// Defaults: argon2 default cost, 10,000 decoys for 24 hours, 10 s busy timeout, FULL sync, 8 idle connections.
    pub fn new(data_dir: impl Into<PathBuf>, sealing_key: SealingKey) -> StoreConfig {
        StoreConfig {
            data_dir: data_dir.into(),
            sealing_key,
            hash_params: HashParams::default(),
            decoy_capacity: 10_000,
            decoy_lifetime: Duration::from_secs(24 * 3600),
            busy_timeout: Duration::from_secs(10),
            synchronous_full: true,
            max_idle_connections: 8,
        }
    }
}

/// An [`AccountStore`] in one SQLite file. Cheap to share (`Arc`); each operation borrows a connection from a
/// small pool, so operations of different threads run in parallel and writers serialize in SQLite.
pub struct SqliteStore {
    config: StoreConfig,
    database: PathBuf,
    recordings: PathBuf,
    messages: PathBuf,
    idle: Mutex<Vec<Connection>>,
    hasher: Hasher,
    /// What unknown mailboxes and mailboxes without a passcode are verified against, so they cost the same.
    decoy_hash: String,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `config.data_dir`: runs migrations, writes the default policy for
    /// a new organization, removes leftover temporary recording and message files (and files no row names).
    pub fn open(config: StoreConfig) -> Result<SqliteStore> {
        let recordings = config.data_dir.join(RECORDINGS_DIR);
        fs::create_dir_all(&recordings).map_err(StoreError::io(&recordings))?;
        let messages = config.data_dir.join(MESSAGES_DIR);
        create_private_dir(&messages)?;
        let hasher = Hasher::new(config.hash_params)?;
        // A random secret nobody knows: unknown mailboxes never verify, at the cost of a real verification.
        let mut secret = [0u8; 16];
        fill_random(&mut secret)?;
        let decoy_hash = hasher.hash_bytes(&secret)?;
        let store = SqliteStore {
            database: config.data_dir.join(DATABASE_FILE),
            recordings,
            messages,
            idle: Mutex::new(Vec::new()),
            hasher,
            decoy_hash,
            config,
        };
        let mut conn = store.connection()?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |row| {
            row.get::<_, String>(0)
        })?;
        schema::migrate(&mut conn)?;
        let defaults = Policy::default();
        conn.execute(
            "INSERT OR IGNORE INTO policy (id, initial_mode, reset_mode, rules_json, temporary_lifetime_secs)
             VALUES (1, ?1, ?2, ?3, ?4)",
            params![
                initial_mode_name(defaults.initial),
                reset_mode_name(defaults.reset),
                rules_json(&defaults.rules)?,
                duration_seconds(defaults.temporary_lifetime),
            ],
        )?;
        drop(conn);
        store.sweep_recordings()?;
        store.sweep_message_files()?;
        Ok(store)
    }

    /// Where the database file is.
    pub fn database_path(&self) -> &Path {
        &self.database
    }

    /// Where the recordings are.
    pub fn recordings_dir(&self) -> &Path {
        &self.recordings
    }

    /// Where the voice messages are.
    pub fn messages_dir(&self) -> &Path {
        &self.messages
    }

    /// argon2 verifications done by this store so far (including decoy verifications).
    pub fn verifications(&self) -> u64 {
        self.hasher.verifications()
    }
}

/// What one pass of a verification or write decided.
enum Step<T> {
    Done(T),
    /// The account changed between the read and the write: start over.
    Retry,
}

/// Runs `body` in a `BEGIN IMMEDIATE` transaction: it takes SQLite's one write lock before its first read, so
/// what the body reads cannot change before it commits.
fn immediate<T>(
    conn: &mut Connection,
    body: impl FnOnce(&Transaction<'_>) -> Result<T>,
) -> Result<T> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let value = body(&tx)?;
    tx.commit()?;
    Ok(value)
}

fn check_digits(text: &str, allow_plus: bool) -> Result<()> {
    let digits = if allow_plus {
        text.strip_prefix('+').unwrap_or(text)
    } else {
        text
    };
    if digits.is_empty()
        || digits.len() > portal_core::MAX_ENTRY_DIGITS
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(StoreError::NotDigits(text.to_owned()));
    }
    Ok(())
}

/// Creates `dir` if missing, readable by its owner only (on Unix).
fn create_private_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(StoreError::io(dir))?;
    }
    Ok(())
}

/// Maps a uniqueness violation to [`StoreError::AlreadyExists`].
fn unique_violation(what: String) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |error| match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::AlreadyExists(what),
        _ => StoreError::Sql(error),
    }
}

/// Each operation lives in the file of its concern; see the module docs.
impl AccountStore for SqliteStore {
    fn policy(&self) -> Result<Policy> {
        SqliteStore::policy(self)
    }

    fn set_policy(
        &self,
        policy: &Policy,
        default_passcode: Option<&Passcode>,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        SqliteStore::set_policy(self, policy, default_passcode, at, source)
    }

    fn default_passcode(&self) -> Result<Option<Passcode>> {
        SqliteStore::default_passcode(self)
    }

    fn add_portal(&self, portal: &NewPortal, at: Moment, source: &Source) -> Result<()> {
        SqliteStore::add_portal(self, portal, at, source)
    }

    fn update_portal(
        &self,
        id: &str,
        changes: &PortalChanges,
        at: Moment,
        source: &Source,
    ) -> Result<Portal> {
        SqliteStore::update_portal(self, id, changes, at, source)
    }

    fn portal(&self, id: &str) -> Result<Portal> {
        SqliteStore::portal(self, id)
    }

    fn portal_by_dialed(&self, number_or_extension: &str) -> Result<Option<Portal>> {
        SqliteStore::portal_by_dialed(self, number_or_extension)
    }

    fn list_portals(&self) -> Result<Vec<Portal>> {
        SqliteStore::list_portals(self)
    }

    fn set_portal_admin_passcode(
        &self,
        portal: &str,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        SqliteStore::set_portal_admin_passcode(self, portal, passcode, at, source)
    }

    fn unlock_portal(&self, portal: &str, at: Moment, source: &Source) -> Result<()> {
        SqliteStore::unlock_portal(self, portal, at, source)
    }

    fn verify_portal_admin(
        &self,
        portal: &str,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
    ) -> Result<Verification> {
        SqliteStore::verify_portal_admin(self, portal, passcode, at, source)
    }

    fn add_user(&self, user: &NewUser, at: Moment, source: &Source) -> Result<Onboarded> {
        SqliteStore::add_user(self, user, at, source)
    }

    fn user(&self, mailbox: &str, today: Day) -> Result<UserView> {
        SqliteStore::user(self, mailbox, today)
    }

    fn list_users(&self, today: Day) -> Result<Vec<UserView>> {
        SqliteStore::list_users(self, today)
    }

    fn remove_user(&self, mailbox: &str, at: Moment, source: &Source) -> Result<()> {
        SqliteStore::remove_user(self, mailbox, at, source)
    }

    fn reset_pin(&self, mailbox: &str, at: Moment, source: &Source) -> Result<IssuedPasscode> {
        SqliteStore::reset_pin(self, mailbox, at, source)
    }

    fn set_pin(
        &self,
        mailbox: &str,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        SqliteStore::set_pin(self, mailbox, passcode, at, source)
    }

    fn change_passcode(
        &self,
        mailbox: &str,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        SqliteStore::change_passcode(self, mailbox, passcode, at, source)
    }

    fn unlock_user(&self, mailbox: &str, at: Moment, source: &Source) -> Result<()> {
        SqliteStore::unlock_user(self, mailbox, at, source)
    }

    fn caller_mailbox(&self, number_or_extension: &str) -> Result<Option<KnownCaller>> {
        SqliteStore::caller_mailbox(self, number_or_extension)
    }

    fn verify_mailbox(
        &self,
        portal: &str,
        entered: &str,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
    ) -> Result<Verification> {
        SqliteStore::verify_mailbox(self, portal, entered, passcode, at, source)
    }

    fn save_recording(
        &self,
        owner: &RecordingOwner,
        kind: RecordingKind,
        samples: &[i16],
        at: Moment,
        source: &Source,
    ) -> Result<RecordingId> {
        SqliteStore::save_recording(self, owner, kind, samples, at, source)
    }

    fn recording(&self, id: RecordingId) -> Result<Recording> {
        SqliteStore::recording(self, id)
    }

    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        SqliteStore::audit(self, query)
    }

    fn message_policy(&self) -> Result<MessagePolicy> {
        SqliteStore::message_policy(self)
    }

    fn set_message_policy(
        &self,
        policy: &MessagePolicy,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        SqliteStore::set_message_policy(self, policy, at, source)
    }

    fn set_mailbox_quota(
        &self,
        mailbox: &str,
        quota: &QuotaOverride,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        SqliteStore::set_mailbox_quota(self, mailbox, quota, at, source)
    }

    fn set_voicemail(&self, mailbox: &str, on: bool, at: Moment, source: &Source) -> Result<()> {
        SqliteStore::set_voicemail(self, mailbox, on, at, source)
    }

    fn mailbox_usage(&self, mailbox: &str) -> Result<MailboxUsage> {
        SqliteStore::mailbox_usage(self, mailbox)
    }

    fn deposit_message(
        &self,
        message: &NewMessage,
        samples: &[i16],
        source: &Source,
    ) -> Result<MessageId> {
        SqliteStore::deposit_message(self, message, samples, source)
    }

    fn list_messages(&self, mailbox: &str) -> Result<MessageList> {
        SqliteStore::list_messages(self, mailbox)
    }

    fn message_counts(&self, mailbox: &str) -> Result<MessageCounts> {
        SqliteStore::message_counts(self, mailbox)
    }

    fn message(&self, mailbox: &str, id: MessageId) -> Result<MessageSummary> {
        SqliteStore::message(self, mailbox, id)
    }

    fn message_audio(&self, mailbox: &str, id: MessageId) -> Result<Vec<i16>> {
        SqliteStore::message_audio(self, mailbox, id)
    }

    fn mark_message_heard(
        &self,
        mailbox: &str,
        id: MessageId,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        SqliteStore::mark_message_heard(self, mailbox, id, at, source)
    }

    fn save_message(
        &self,
        mailbox: &str,
        id: MessageId,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        SqliteStore::save_message(self, mailbox, id, at, source)
    }

    fn delete_message(
        &self,
        mailbox: &str,
        id: MessageId,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        SqliteStore::delete_message(self, mailbox, id, at, source)
    }

    fn expire_on_access(&self, mailbox: &str, at: Moment, source: &Source) -> Result<usize> {
        SqliteStore::expire_on_access(self, mailbox, at, source)
    }

    fn sweep_expired(&self, at: Moment) -> Result<usize> {
        SqliteStore::sweep_expired(self, at)
    }
}
