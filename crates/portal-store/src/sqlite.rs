//! The SQLite back end: one database file in WAL mode, recordings as WAV files beside it.

use std::fs;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use portal_core::rules::{PasscodeRules, RuleViolation};
use portal_core::{ChangeReason, Day, Login, Passcode, RecordingKind, VerifyOutcome};
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Row, Transaction, TransactionBehavior, params,
};

use crate::error::{Result, StoreError};
use crate::generate::generate_passcode;
use crate::hashing::{HashParams, Hasher};
use crate::model::{
    AuditEntry, AuditKind, AuditQuery, InitialMode, IssuedKind, IssuedPasscode, KnownCaller,
    Moment, NewPortal, NewUser, Onboarded, Policy, Portal, PortalChanges, Recording, RecordingId,
    RecordingOwner, ResetMode, Source, UserView, change_reason_from_name, change_reason_name,
    duration_seconds, recording_kind_from_name, recording_kind_name,
};
use crate::sealing::{SealingKey, fill_random};
use crate::store::AccountStore;
use crate::{schema, wav};

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "vportal.db";
/// Directory of the recordings inside the data directory.
pub const RECORDINGS_DIR: &str = "recordings";
/// How often a verification or passcode write starts over when the account changed under it.
const MAX_RACE_RETRIES: usize = 3;
/// History rows kept per mailbox whatever the policy says, so raising `history_length` later still has data.
const HISTORY_KEPT: i64 = PasscodeRules::MAX_HISTORY_LENGTH as i64;
/// Temporary and orphaned recording files younger than this are left alone (another process may be mid-save).
const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

/// How to open a [`SqliteStore`].
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Holds `vportal.db` and `recordings/`; created if missing.
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

/// A pooled connection, returned to the pool on drop.
struct Pooled<'a> {
    conn: Option<Connection>,
    store: &'a SqliteStore,
}

impl Deref for Pooled<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("connection present until drop")
    }
}

impl DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("connection present until drop")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // A connection left inside a transaction (after a panic) is not reused.
            if conn.is_autocommit()
                && let Ok(mut idle) = self.store.idle.lock()
                && idle.len() < self.store.config.max_idle_connections
            {
                idle.push(conn);
            }
        }
    }
}

/// What one pass of a verification or write decided.
enum Step<T> {
    Done(T),
    /// The account changed between the read and the write: start over.
    Retry,
}

/// Whose lockout counter an attempt touches.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    Mailbox(String),
    PortalAdmin(String),
    /// A number that matches no mailbox at this portal.
    Decoy {
        portal: String,
        entered: String,
    },
}

/// The part of an account an attempt needs.
#[derive(Clone, Debug, PartialEq, Eq)]
struct LockState {
    hash: Option<String>,
    failed_attempts: u32,
    locked: bool,
    temporary_expires_at: Option<i64>,
}

/// A mailbox row.
#[derive(Clone, Debug)]
struct MailboxRow {
    mailbox: String,
    portal: String,
    phone_number: Option<String>,
    extension: Option<String>,
    email: Option<String>,
    hash: Option<String>,
    set_on: Option<Day>,
    must_change: Option<ChangeReason>,
    temporary_expires_at: Option<i64>,
    failed_attempts: u32,
    locked_at: Option<i64>,
    name_recording: Option<i64>,
    busy_greeting: Option<i64>,
    no_answer_greeting: Option<i64>,
}

const MAILBOX_COLUMNS: &str = "mailbox, portal, phone_number, extension, email, passcode_hash, passcode_set_on, \
     must_change, temporary_expires_at, failed_attempts, locked_at, name_recording, busy_greeting, no_answer_greeting";

impl MailboxRow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<MailboxRow> {
        let must_change: Option<String> = row.get(7)?;
        Ok(MailboxRow {
            mailbox: row.get(0)?,
            portal: row.get(1)?,
            phone_number: row.get(2)?,
            extension: row.get(3)?,
            email: row.get(4)?,
            hash: row.get(5)?,
            set_on: row.get::<_, Option<i64>>(6)?.map(Day),
            must_change: must_change.as_deref().and_then(change_reason_from_name),
            temporary_expires_at: row.get(8)?,
            failed_attempts: row.get(9)?,
            locked_at: row.get(10)?,
            name_recording: row.get(11)?,
            busy_greeting: row.get(12)?,
            no_answer_greeting: row.get(13)?,
        })
    }

    fn user_numbers(&self) -> Vec<String> {
        [
            self.extension.clone(),
            self.phone_number.clone(),
            Some(self.mailbox.clone()),
        ]
        .into_iter()
        .flatten()
        .filter(|number| !number.is_empty())
        .collect()
    }

    /// The stored reason, else expiry as of `today`.
    fn must_change(&self, rules: &PasscodeRules, today: Day) -> Option<ChangeReason> {
        self.must_change.or_else(|| {
            self.set_on
                .filter(|set_on| self.hash.is_some() && rules.is_expired(*set_on, today))
                .map(|_| ChangeReason::Expired)
        })
    }

    fn view(&self, rules: &PasscodeRules, today: Day) -> UserView {
        UserView {
            mailbox: self.mailbox.clone(),
            portal: self.portal.clone(),
            phone_number: self.phone_number.clone(),
            extension: self.extension.clone(),
            email: self.email.clone(),
            has_passcode: self.hash.is_some(),
            passcode_set_on: self.set_on,
            passcode_age_days: self.set_on.map(|set_on| today.days_since(set_on)),
            must_change: self.must_change(rules, today),
            temporary_expires_at: self.temporary_expires_at,
            failed_attempts: self.failed_attempts,
            locked_at: self.locked_at,
            name_recorded: self.name_recording.is_some(),
            busy_greeting: self.busy_greeting.map(RecordingId),
            no_answer_greeting: self.no_answer_greeting.map(RecordingId),
        }
    }

    fn login(&self, rules: &PasscodeRules, today: Day) -> Login {
        Login {
            mailbox: self.mailbox.clone(),
            must_change: self.must_change(rules, today),
            name_recorded: self.name_recording.is_some(),
            passcode_set_on: self.set_on,
            user_numbers: self.user_numbers(),
        }
    }
}

/// What a passcode write sets on a mailbox.
struct PasscodeWrite {
    hash: String,
    set_on: Day,
    must_change: Option<ChangeReason>,
    temporary_expires_at: Option<i64>,
    unlock: bool,
    /// Whether the user chose it (then it enters the history).
    chosen_by_user: bool,
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `config.data_dir`: runs migrations, writes the default policy for
    /// a new organization, removes leftover temporary recording files.
    pub fn open(config: StoreConfig) -> Result<SqliteStore> {
        let recordings = config.data_dir.join(RECORDINGS_DIR);
        fs::create_dir_all(&recordings).map_err(StoreError::io(&recordings))?;
        let hasher = Hasher::new(config.hash_params)?;
        // A random secret nobody knows: unknown mailboxes never verify, at the cost of a real verification.
        let mut secret = [0u8; 16];
        fill_random(&mut secret)?;
        let decoy_hash = hasher.hash_bytes(&secret)?;
        let store = SqliteStore {
            database: config.data_dir.join(DATABASE_FILE),
            recordings,
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

    /// argon2 verifications done by this store so far (including decoy verifications).
    pub fn verifications(&self) -> u64 {
        self.hasher.verifications()
    }

    /// Removes temporary recording files and WAV files no row names, if older than an hour. A crash between
    /// writing a recording's file and inserting its row leaves such a file; never the other way round.
    pub fn sweep_recordings(&self) -> Result<usize> {
        let conn = self.connection()?;
        let mut removed = 0;
        let entries = fs::read_dir(&self.recordings).map_err(StoreError::io(&self.recordings))?;
        for entry in entries {
            let entry = entry.map_err(StoreError::io(&self.recordings))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let old_enough = entry
                .metadata()
                .and_then(|meta| meta.modified())
                .ok()
                .and_then(|modified| SystemTime::now().duration_since(modified).ok())
                .is_some_and(|age| age >= ORPHAN_GRACE);
            if !old_enough {
                continue;
            }
            let orphan = if name.ends_with(".tmp") {
                true
            } else if name.ends_with(".wav") {
                conn.query_row(
                    "SELECT 1 FROM recordings WHERE file_name = ?1",
                    [&name],
                    |_| Ok(()),
                )
                .optional()?
                .is_none()
            } else {
                false
            };
            if orphan && fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn connection(&self) -> Result<Pooled<'_>> {
        let reused = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match reused {
            Some(conn) => conn,
            None => self.open_connection()?,
        };
        Ok(Pooled {
            conn: Some(conn),
            store: self,
        })
    }

    fn open_connection(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.database,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(self.config.busy_timeout)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.pragma_update(
            None,
            "synchronous",
            if self.config.synchronous_full {
                "FULL"
            } else {
                "NORMAL"
            },
        )?;
        Ok(conn)
    }

    fn rules(&self, conn: &Connection) -> Result<PasscodeRules> {
        Ok(read_policy(conn)?.0.rules)
    }

    /// Runs an attempt on a lockable account. The slow argon2 verification happens outside any transaction, so
    /// verifications of different accounts (and of the same one) run in parallel; the outcome is then applied in
    /// one `BEGIN IMMEDIATE` transaction that re-reads the state it depends on. If the account locked meanwhile
    /// the answer is Locked; if its hash changed meanwhile (reset, new passcode) the verification is stale and
    /// the attempt starts over. Failures are counted from the state re-read under the write lock, so concurrent
    /// wrong attempts add exactly one each and stop adding at the lock.
    fn attempt(
        &self,
        portal: &str,
        who: &Who<'_>,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
    ) -> Result<VerifyOutcome> {
        let mut conn = self.connection()?;
        let rules = self.rules(&conn)?;
        if !portal_exists(&conn, portal)? {
            return Err(StoreError::UnknownPortal(portal.to_owned()));
        }
        let threshold = rules.failed_attempts_before_lockout.max(1);
        let kinds = who.audit_kinds();
        for _ in 0..MAX_RACE_RETRIES {
            let target = who.resolve(&conn, portal)?;
            let before = match self.lock_state(&conn, &target, at) {
                // Removed between the two reads: resolve again.
                Err(StoreError::UnknownMailbox(_)) => continue,
                state => state?,
            };
            let verified = if before.locked {
                None
            } else {
                let hash = before.hash.as_deref().unwrap_or(&self.decoy_hash);
                let matches =
                    self.hasher
                        .verify(passcode.expose().as_bytes(), hash, &self.decoy_hash);
                Some(matches && before.hash.is_some())
            };
            let step = immediate(&mut conn, |tx| {
                if who.resolve(tx, portal)? != target {
                    return Ok(Step::Retry);
                }
                let now = match self.lock_state(tx, &target, at) {
                    Err(StoreError::UnknownMailbox(_)) => return Ok(Step::Retry),
                    state => state?,
                };
                let audit_subject = target.audit_subject(portal, who);
                if now.locked {
                    audit(
                        tx,
                        at,
                        kinds.refused,
                        &audit_subject,
                        source,
                        target.detail(),
                    )?;
                    return Ok(Step::Done(VerifyOutcome::Locked));
                }
                let Some(matches) = verified else {
                    return Ok(Step::Retry);
                };
                if now.hash != before.hash {
                    return Ok(Step::Retry);
                }
                let temporary_expired = now
                    .temporary_expires_at
                    .is_some_and(|expires| at.unix_seconds >= expires);
                if matches && !temporary_expired {
                    self.record_success(tx, &target)?;
                    let login = match &target {
                        Target::Mailbox(mailbox) => load_mailbox(tx, mailbox)?
                            .ok_or_else(|| StoreError::UnknownMailbox(mailbox.clone()))?
                            .login(&rules, at.today),
                        _ => Login::default(),
                    };
                    let detail = login
                        .must_change
                        .map(|reason| format!("must change: {}", change_reason_name(reason)));
                    audit(tx, at, kinds.ok, &audit_subject, source, detail.as_deref())?;
                    return Ok(Step::Done(VerifyOutcome::Ok(login)));
                }
                let failed = now.failed_attempts.saturating_add(1);
                let locks = failed >= threshold;
                self.record_failure(tx, &target, failed, locks, at)?;
                let detail = if matches && temporary_expired {
                    Some("temporary passcode expired")
                } else if now.hash.is_none() {
                    target.detail().or(Some("no passcode set"))
                } else {
                    None
                };
                audit(tx, at, kinds.failed, &audit_subject, source, detail)?;
                if locks {
                    audit(
                        tx,
                        at,
                        kinds.locked,
                        &audit_subject,
                        source,
                        target.detail(),
                    )?;
                    Ok(Step::Done(VerifyOutcome::Locked))
                } else {
                    Ok(Step::Done(VerifyOutcome::Wrong))
                }
            })?;
            if let Step::Done(outcome) = step {
                return Ok(outcome);
            }
        }
        Err(StoreError::Conflict)
    }

    fn lock_state(&self, conn: &Connection, target: &Target, at: Moment) -> Result<LockState> {
        match target {
            Target::Mailbox(mailbox) => {
                let row = load_mailbox(conn, mailbox)?.ok_or_else(|| StoreError::UnknownMailbox(mailbox.clone()))?;
                Ok(LockState {
                    hash: row.hash,
                    failed_attempts: row.failed_attempts,
                    locked: row.locked_at.is_some(),
                    temporary_expires_at: row.temporary_expires_at,
                })
            }
            Target::PortalAdmin(portal) => conn
                .query_row(
                    "SELECT admin_passcode_hash, admin_failed_attempts, admin_locked_at FROM portals WHERE id = ?1",
                    [portal],
                    |row| {
                        Ok(LockState {
                            hash: row.get(0)?,
                            failed_attempts: row.get(1)?,
                            locked: row.get::<_, Option<i64>>(2)?.is_some(),
                            temporary_expires_at: None,
                        })
                    },
                )
                .optional()?
                .ok_or_else(|| StoreError::UnknownPortal(portal.clone())),
            Target::Decoy { portal, entered } => {
                let remembered_since = at.unix_seconds - duration_seconds(self.config.decoy_lifetime);
                let row = conn
                    .query_row(
                        "SELECT failed_attempts, locked_at FROM decoy_attempts
                         WHERE portal = ?1 AND entered = ?2 AND last_attempt_at > ?3",
                        params![portal, entered, remembered_since],
                        |row| Ok((row.get::<_, u32>(0)?, row.get::<_, Option<i64>>(1)?)),
                    )
                    .optional()?;
                let (failed_attempts, locked_at) = row.unwrap_or((0, None));
                Ok(LockState {
                    hash: None,
                    failed_attempts,
                    locked: locked_at.is_some(),
                    temporary_expires_at: None,
                })
            }
        }
    }

    fn record_success(&self, tx: &Transaction<'_>, target: &Target) -> Result<()> {
        match target {
            Target::Mailbox(mailbox) => {
                tx.execute(
                    "UPDATE mailboxes SET failed_attempts = 0 WHERE mailbox = ?1",
                    [mailbox],
                )?;
            }
            Target::PortalAdmin(portal) => {
                tx.execute(
                    "UPDATE portals SET admin_failed_attempts = 0 WHERE id = ?1",
                    [portal],
                )?;
            }
            Target::Decoy { .. } => {}
        }
        Ok(())
    }

    fn record_failure(
        &self,
        tx: &Transaction<'_>,
        target: &Target,
        failed: u32,
        locks: bool,
        at: Moment,
    ) -> Result<()> {
        let locked_at = locks.then_some(at.unix_seconds);
        match target {
            Target::Mailbox(mailbox) => {
                tx.execute(
                    "UPDATE mailboxes SET failed_attempts = ?2, locked_at = ?3 WHERE mailbox = ?1",
                    params![mailbox, failed, locked_at],
                )?;
            }
            Target::PortalAdmin(portal) => {
                tx.execute(
                    "UPDATE portals SET admin_failed_attempts = ?2, admin_locked_at = ?3 WHERE id = ?1",
                    params![portal, failed, locked_at],
                )?;
            }
            Target::Decoy { portal, entered } => {
                let forget_before = at.unix_seconds - duration_seconds(self.config.decoy_lifetime);
                tx.execute(
                    "DELETE FROM decoy_attempts WHERE last_attempt_at <= ?1",
                    [forget_before],
                )?;
                let inserted = tx.execute(
                    "INSERT INTO decoy_attempts (portal, entered, failed_attempts, last_attempt_at, locked_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (portal, entered) DO UPDATE SET
                         failed_attempts = excluded.failed_attempts,
                         last_attempt_at = excluded.last_attempt_at,
                         locked_at = excluded.locked_at",
                    params![portal, entered, failed, at.unix_seconds, locked_at],
                )?;
                if inserted > 0 && failed == 1 {
                    // Keep the table bounded: drop the entries attacked longest ago.
                    tx.execute(
                        "DELETE FROM decoy_attempts WHERE rowid IN (
                             SELECT rowid FROM decoy_attempts ORDER BY last_attempt_at ASC, rowid ASC
                             LIMIT max(0, (SELECT count(*) FROM decoy_attempts) - ?1))",
                        [self.config.decoy_capacity],
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Refuses a candidate equal to the current passcode, or (with its reverse) to one of the last
    /// `history_length` passcodes the user chose. Salted hashes leave no other way than verifying each.
    fn reused(
        &self,
        conn: &Connection,
        row: &MailboxRow,
        candidate: &Passcode,
        rules: &PasscodeRules,
    ) -> Result<bool> {
        let mut hashes: Vec<String> = Vec::new();
        if rules.history_length > 0 {
            let mut statement = conn.prepare(
                "SELECT hash FROM passcode_history WHERE mailbox = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = statement.query_map(params![row.mailbox, rules.history_length], |r| {
                r.get::<_, String>(0)
            })?;
            for hash in rows {
                hashes.push(hash?);
            }
        }
        if let Some(current) = &row.hash
            && !hashes.contains(current)
        {
            hashes.push(current.clone());
        }
        let forward = candidate.expose().as_bytes().to_vec();
        let mut reverse = forward.clone();
        reverse.reverse();
        for hash in &hashes {
            if self.hasher.verify(&forward, hash, &self.decoy_hash)
                || (reverse != forward && self.hasher.verify(&reverse, hash, &self.decoy_hash))
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A user-chosen passcode (set in settings or changed in a call): rules, history, then an atomic write that
    /// only applies if the passcode did not change since it was read.
    fn choose_passcode(
        &self,
        mailbox: &str,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
        from_settings: bool,
    ) -> Result<()> {
        let mut conn = self.connection()?;
        let rules = self.rules(&conn)?;
        for _ in 0..MAX_RACE_RETRIES {
            let row = load_mailbox(&conn, mailbox)?
                .ok_or_else(|| StoreError::UnknownMailbox(mailbox.to_owned()))?;
            let forced = row.must_change(&rules, at.today).is_some();
            if !from_settings && !forced && !rules.change_allowed(row.set_on, at.today) {
                return Err(StoreError::Rejected(RuleViolation::ChangeTooSoon));
            }
            let numbers = row.user_numbers();
            let numbers: Vec<&str> = numbers.iter().map(String::as_str).collect();
            rules
                .check(passcode, &numbers)
                .map_err(StoreError::Rejected)?;
            if self.reused(&conn, &row, passcode, &rules)? {
                return Err(StoreError::Rejected(RuleViolation::Reused));
            }
            let write = PasscodeWrite {
                hash: self.hasher.hash(passcode)?,
                set_on: at.today,
                must_change: None,
                temporary_expires_at: None,
                unlock: from_settings,
                chosen_by_user: true,
            };
            let step = immediate(&mut conn, |tx| {
                let current = load_mailbox(tx, mailbox)?
                    .ok_or_else(|| StoreError::UnknownMailbox(mailbox.to_owned()))?;
                if current.hash != row.hash {
                    return Ok(Step::Retry);
                }
                write_passcode(tx, mailbox, &write)?;
                let (kind, detail) = if from_settings {
                    (AuditKind::PasscodeSet, None)
                } else {
                    (
                        AuditKind::PasscodeChanged,
                        row.must_change.map(change_reason_name),
                    )
                };
                audit(
                    tx,
                    at,
                    kind,
                    &Subject::mailbox(&row.portal, mailbox),
                    source,
                    detail,
                )?;
                Ok(Step::Done(()))
            })?;
            if let Step::Done(()) = step {
                return Ok(());
            }
        }
        Err(StoreError::Conflict)
    }

    /// A passcode the store hands out (default or generated), per the given mode.
    fn issue(
        &self,
        conn: &Connection,
        use_default: bool,
        rules: &PasscodeRules,
        lifetime: Duration,
        user_numbers: &[&str],
        at: Moment,
    ) -> Result<IssuedPasscode> {
        if use_default {
            let passcode = self
                .unseal_default(conn)?
                .ok_or(StoreError::MissingDefaultPasscode)?;
            Ok(IssuedPasscode {
                passcode,
                kind: IssuedKind::Default,
                expires_at: None,
            })
        } else {
            Ok(IssuedPasscode {
                passcode: generate_passcode(rules, user_numbers)?,
                kind: IssuedKind::Generated,
                expires_at: Some(at.unix_seconds + duration_seconds(lifetime)),
            })
        }
    }

    fn unseal_default(&self, conn: &Connection) -> Result<Option<Passcode>> {
        let (_, sealed) = read_policy(conn)?;
        sealed
            .map(|sealed| self.config.sealing_key.open(&sealed))
            .transpose()
    }

    fn recording_file(&self, name: &str) -> PathBuf {
        self.recordings.join(name)
    }

    fn remove_recording_files(&self, names: &[String]) {
        for name in names {
            // A file left behind is harmless (the sweep removes it); a row without its file never exists.
            let _ = fs::remove_file(self.recording_file(name));
        }
    }
}

/// Who a verification is for, before it is resolved to a lockout counter.
enum Who<'a> {
    /// What the caller entered (mailbox id, or extension at this portal).
    Entered(&'a str),
    /// The portal's admin passcode.
    PortalAdmin,
}

struct AttemptKinds {
    ok: AuditKind,
    failed: AuditKind,
    locked: AuditKind,
    refused: AuditKind,
}

impl Who<'_> {
    fn resolve(&self, conn: &Connection, portal: &str) -> Result<Target> {
        match self {
            Who::Entered(entered) => Ok(match find_mailbox(conn, portal, entered)? {
                Some(mailbox) => Target::Mailbox(mailbox),
                None => Target::Decoy {
                    portal: portal.to_owned(),
                    entered: (*entered).to_owned(),
                },
            }),
            Who::PortalAdmin => Ok(Target::PortalAdmin(portal.to_owned())),
        }
    }

    fn audit_kinds(&self) -> AttemptKinds {
        match self {
            Who::Entered(_) => AttemptKinds {
                ok: AuditKind::LoginOk,
                failed: AuditKind::LoginFailed,
                locked: AuditKind::Locked,
                refused: AuditKind::LoginRefusedLocked,
            },
            Who::PortalAdmin => AttemptKinds {
                ok: AuditKind::AdminLoginOk,
                failed: AuditKind::AdminLoginFailed,
                locked: AuditKind::AdminLocked,
                refused: AuditKind::AdminLoginRefusedLocked,
            },
        }
    }
}

impl Target {
    fn detail(&self) -> Option<&'static str> {
        match self {
            Target::Decoy { .. } => Some("unknown mailbox"),
            _ => None,
        }
    }

    fn audit_subject(&self, portal: &str, who: &Who<'_>) -> Subject {
        match (self, who) {
            (Target::Mailbox(mailbox), _) => Subject::mailbox(portal, mailbox),
            (Target::Decoy { entered, .. }, _) => Subject::mailbox(portal, entered),
            (Target::PortalAdmin(_), _) => Subject::portal(portal),
        }
    }
}

/// What an audit entry is about.
struct Subject {
    portal: Option<String>,
    mailbox: Option<String>,
}

impl Subject {
    fn mailbox(portal: &str, mailbox: &str) -> Subject {
        Subject {
            portal: Some(portal.to_owned()),
            mailbox: Some(mailbox.to_owned()),
        }
    }

    fn portal(portal: &str) -> Subject {
        Subject {
            portal: Some(portal.to_owned()),
            mailbox: None,
        }
    }

    fn organization() -> Subject {
        Subject {
            portal: None,
            mailbox: None,
        }
    }
}

fn immediate<T>(
    conn: &mut Connection,
    body: impl FnOnce(&Transaction<'_>) -> Result<T>,
) -> Result<T> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let value = body(&tx)?;
    tx.commit()?;
    Ok(value)
}

/// After an UPDATE of one portal: an unknown portal if no row changed, else the change in the audit.
fn portal_changed(
    tx: &Transaction<'_>,
    changed: usize,
    portal: &str,
    kind: AuditKind,
    at: Moment,
    source: &Source,
) -> Result<()> {
    if changed == 0 {
        return Err(StoreError::UnknownPortal(portal.to_owned()));
    }
    audit(tx, at, kind, &Subject::portal(portal), source, None)
}

fn audit(
    conn: &Connection,
    at: Moment,
    kind: AuditKind,
    subject: &Subject,
    source: &Source,
    detail: Option<&str>,
) -> Result<()> {
    conn.execute(
        "INSERT INTO audit (at, kind, portal, mailbox, source, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![at.unix_seconds, kind.as_str(), subject.portal, subject.mailbox, source.to_string(), detail],
    )?;
    Ok(())
}

fn read_policy(conn: &Connection) -> Result<(Policy, Option<Vec<u8>>)> {
    let (initial, reset, sealed, rules, lifetime) = conn.query_row(
        "SELECT initial_mode, reset_mode, sealed_default_passcode, rules_json, temporary_lifetime_secs
         FROM policy WHERE id = 1",
        [],
        |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<Vec<u8>>>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i64>(4)?,
            ))
        },
    )?;
    let initial = match initial.as_str() {
        "default" => InitialMode::Default,
        "generated" => InitialMode::Generated,
        "none" => InitialMode::None,
        other => return Err(StoreError::Corrupt(format!("initial mode {other}"))),
    };
    let reset = match reset.as_str() {
        "default" => ResetMode::Default,
        "generated" => ResetMode::Generated,
        other => return Err(StoreError::Corrupt(format!("reset mode {other}"))),
    };
    let rules: PasscodeRules = serde_json::from_str(&rules)
        .map_err(|e| StoreError::Corrupt(format!("passcode rules: {e}")))?;
    let policy = Policy {
        initial,
        reset,
        rules,
        temporary_lifetime: Duration::from_secs(u64::try_from(lifetime).unwrap_or(1)),
    };
    Ok((policy, sealed))
}

fn rules_json(rules: &PasscodeRules) -> Result<String> {
    serde_json::to_string(rules).map_err(|e| StoreError::Corrupt(format!("passcode rules: {e}")))
}

fn initial_mode_name(mode: InitialMode) -> &'static str {
    match mode {
        InitialMode::Default => "default",
        InitialMode::Generated => "generated",
        InitialMode::None => "none",
    }
}

fn reset_mode_name(mode: ResetMode) -> &'static str {
    match mode {
        ResetMode::Default => "default",
        ResetMode::Generated => "generated",
    }
}

fn load_mailbox(conn: &Connection, mailbox: &str) -> Result<Option<MailboxRow>> {
    Ok(conn
        .query_row(
            &format!("SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE mailbox = ?1"),
            [mailbox],
            MailboxRow::from_row,
        )
        .optional()?)
}

/// The mailbox a caller means at `portal`: a mailbox id first, else an extension of that portal.
fn find_mailbox(conn: &Connection, portal: &str, entered: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT mailbox FROM mailboxes WHERE mailbox = ?2 OR (portal = ?1 AND extension = ?2)
             ORDER BY mailbox = ?2 DESC LIMIT 1",
            params![portal, entered],
            |row| row.get(0),
        )
        .optional()?)
}

fn portal_exists(conn: &Connection, portal: &str) -> Result<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM portals WHERE id = ?1", [portal], |_| Ok(()))
        .optional()?
        .is_some())
}

fn write_passcode(tx: &Transaction<'_>, mailbox: &str, write: &PasscodeWrite) -> Result<()> {
    tx.execute(
        "UPDATE mailboxes SET passcode_hash = ?2, passcode_set_on = ?3, must_change = ?4, temporary_expires_at = ?5,
             failed_attempts = CASE WHEN ?6 THEN 0 ELSE failed_attempts END,
             locked_at = CASE WHEN ?6 THEN NULL ELSE locked_at END
         WHERE mailbox = ?1",
        params![
            mailbox,
            write.hash,
            write.set_on.0,
            write.must_change.map(change_reason_name),
            write.temporary_expires_at,
            write.unlock,
        ],
    )?;
    if write.chosen_by_user {
        tx.execute(
            "INSERT INTO passcode_history (mailbox, hash) VALUES (?1, ?2)",
            params![mailbox, write.hash],
        )?;
        tx.execute(
            "DELETE FROM passcode_history WHERE mailbox = ?1 AND id NOT IN (
                 SELECT id FROM passcode_history WHERE mailbox = ?1 ORDER BY id DESC LIMIT ?2)",
            params![mailbox, HISTORY_KEPT],
        )?;
    }
    Ok(())
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

/// Maps a uniqueness violation to [`StoreError::AlreadyExists`].
fn unique_violation(what: String) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |error| match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::AlreadyExists(what),
        _ => StoreError::Sql(error),
    }
}

fn portal_from_row(row: &Row<'_>) -> rusqlite::Result<Portal> {
    Ok(Portal {
        id: row.get(0)?,
        name: row.get(1)?,
        number: row.get(2)?,
        extension: row.get(3)?,
        language: row.get(4)?,
        admin_passcode_set: row.get::<_, Option<String>>(5)?.is_some(),
        admin_failed_attempts: row.get(6)?,
        admin_locked_at: row.get(7)?,
        business_hours_greeting: row.get::<_, Option<i64>>(8)?.map(RecordingId),
        after_hours_greeting: row.get::<_, Option<i64>>(9)?.map(RecordingId),
    })
}

const PORTAL_COLUMNS: &str = "id, name, number, extension, language, admin_passcode_hash, admin_failed_attempts, \
     admin_locked_at, business_hours_greeting, after_hours_greeting";

/// The table and column that hold an owner's recording of a kind.
fn recording_slot(
    owner: &RecordingOwner,
    kind: RecordingKind,
) -> Result<(&'static str, &'static str, &str, &str)> {
    match (owner, kind) {
        (RecordingOwner::Mailbox(id), RecordingKind::Name) => {
            Ok(("mailboxes", "name_recording", "mailbox", id))
        }
        (RecordingOwner::Mailbox(id), RecordingKind::BusyGreeting) => {
            Ok(("mailboxes", "busy_greeting", "mailbox", id))
        }
        (RecordingOwner::Mailbox(id), RecordingKind::NoAnswerGreeting) => {
            Ok(("mailboxes", "no_answer_greeting", "mailbox", id))
        }
        (RecordingOwner::Portal(id), RecordingKind::BusinessHoursGreeting) => {
            Ok(("portals", "business_hours_greeting", "id", id))
        }
        (RecordingOwner::Portal(id), RecordingKind::AfterHoursGreeting) => {
            Ok(("portals", "after_hours_greeting", "id", id))
        }
        (RecordingOwner::Mailbox(id), _) => Err(StoreError::UnknownMailbox(format!(
            "{id} (a mailbox has no {})",
            recording_kind_name(kind)
        ))),
        (RecordingOwner::Portal(id), _) => Err(StoreError::UnknownPortal(format!(
            "{id} (a portal has no {})",
            recording_kind_name(kind)
        ))),
    }
}

fn owner_missing(owner: &RecordingOwner) -> StoreError {
    match owner {
        RecordingOwner::Mailbox(id) => StoreError::UnknownMailbox(id.clone()),
        RecordingOwner::Portal(id) => StoreError::UnknownPortal(id.clone()),
    }
}

impl AccountStore for SqliteStore {
    fn policy(&self) -> Result<Policy> {
        Ok(read_policy(&*self.connection()?)?.0)
    }

    fn set_policy(
        &self,
        policy: &Policy,
        default_passcode: Option<&Passcode>,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        policy.rules.validate().map_err(StoreError::InvalidRules)?;
        if policy.temporary_lifetime.as_secs() == 0 {
            return Err(StoreError::Corrupt(
                "the temporary passcode lifetime must be at least a second".into(),
            ));
        }
        let sealed = match default_passcode {
            Some(passcode) => {
                policy
                    .rules
                    .check(passcode, &[])
                    .map_err(StoreError::Rejected)?;
                Some(self.config.sealing_key.seal(passcode)?)
            }
            None => None,
        };
        let needs_default =
            policy.initial == InitialMode::Default || policy.reset == ResetMode::Default;
        let mut conn = self.connection()?;
        immediate(&mut conn, |tx| {
            let (_, stored) = read_policy(tx)?;
            let sealed = sealed.or(stored);
            if needs_default && sealed.is_none() {
                return Err(StoreError::MissingDefaultPasscode);
            }
            tx.execute(
                "UPDATE policy SET initial_mode = ?1, reset_mode = ?2, sealed_default_passcode = ?3, rules_json = ?4,
                     temporary_lifetime_secs = ?5 WHERE id = 1",
                params![
                    initial_mode_name(policy.initial),
                    reset_mode_name(policy.reset),
                    sealed,
                    rules_json(&policy.rules)?,
                    duration_seconds(policy.temporary_lifetime),
                ],
            )?;
            let detail = format!(
                "initial {}, reset {}{}",
                initial_mode_name(policy.initial),
                reset_mode_name(policy.reset),
                if default_passcode.is_some() {
                    ", new default passcode"
                } else {
                    ""
                }
            );
            audit(
                tx,
                at,
                AuditKind::PolicyChanged,
                &Subject::organization(),
                source,
                Some(&detail),
            )
        })
    }

    fn default_passcode(&self) -> Result<Option<Passcode>> {
        self.unseal_default(&*self.connection()?)
    }

    fn add_portal(&self, portal: &NewPortal, at: Moment, source: &Source) -> Result<()> {
        if portal.id.trim().is_empty() {
            return Err(StoreError::UnknownPortal("(empty id)".into()));
        }
        if let Some(number) = &portal.number {
            check_digits(number, true)?;
        }
        if let Some(extension) = &portal.extension {
            check_digits(extension, false)?;
        }
        let mut conn = self.connection()?;
        let admin_hash = match &portal.admin_passcode {
            Some(passcode) => {
                self.rules(&conn)?
                    .check(passcode, &[])
                    .map_err(StoreError::Rejected)?;
                Some(self.hasher.hash(passcode)?)
            }
            None => None,
        };
        immediate(&mut conn, |tx| {
            tx.execute(
                "INSERT INTO portals (id, name, number, extension, language, admin_passcode_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    portal.id,
                    portal.name,
                    portal.number,
                    portal.extension,
                    portal.language,
                    admin_hash
                ],
            )
            .map_err(unique_violation(format!(
                "portal {}, its number or extension",
                portal.id
            )))?;
            audit(
                tx,
                at,
                AuditKind::PortalAdded,
                &Subject::portal(&portal.id),
                source,
                None,
            )
        })
    }

    fn update_portal(
        &self,
        id: &str,
        changes: &PortalChanges,
        at: Moment,
        source: &Source,
    ) -> Result<Portal> {
        if let Some(number) = &changes.number {
            check_digits(number, true)?;
        }
        if let Some(extension) = &changes.extension {
            check_digits(extension, false)?;
        }
        let mut conn = self.connection()?;
        immediate(&mut conn, |tx| {
            let changed = tx
                .execute(
                    "UPDATE portals SET name = coalesce(?2, name), number = coalesce(?3, number),
                         extension = coalesce(?4, extension), language = coalesce(?5, language)
                     WHERE id = ?1",
                    params![
                        id,
                        changes.name,
                        changes.number,
                        changes.extension,
                        changes.language
                    ],
                )
                .map_err(unique_violation(format!(
                    "the number or extension of portal {id}"
                )))?;
            portal_changed(tx, changed, id, AuditKind::PortalChanged, at, source)
        })?;
        self.portal(id)
    }

    fn portal(&self, id: &str) -> Result<Portal> {
        self.connection()?
            .query_row(
                &format!("SELECT {PORTAL_COLUMNS} FROM portals WHERE id = ?1"),
                [id],
                portal_from_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::UnknownPortal(id.to_owned()))
    }

    fn portal_by_dialed(&self, number_or_extension: &str) -> Result<Option<Portal>> {
        Ok(self
            .connection()?
            .query_row(
                &format!("SELECT {PORTAL_COLUMNS} FROM portals WHERE number = ?1 OR extension = ?1 LIMIT 1"),
                [number_or_extension],
                portal_from_row,
            )
            .optional()?)
    }

    fn list_portals(&self) -> Result<Vec<Portal>> {
        let conn = self.connection()?;
        let mut statement =
            conn.prepare(&format!("SELECT {PORTAL_COLUMNS} FROM portals ORDER BY id"))?;
        let portals = statement
            .query_map([], portal_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(portals)
    }

    fn set_portal_admin_passcode(
        &self,
        portal: &str,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        let mut conn = self.connection()?;
        let rules = self.rules(&conn)?;
        rules.check(passcode, &[]).map_err(StoreError::Rejected)?;
        let hash = self.hasher.hash(passcode)?;
        immediate(&mut conn, |tx| {
            let changed = tx.execute(
                "UPDATE portals SET admin_passcode_hash = ?2, admin_failed_attempts = 0, admin_locked_at = NULL
                 WHERE id = ?1",
                params![portal, hash],
            )?;
            portal_changed(
                tx,
                changed,
                portal,
                AuditKind::PortalAdminPasscodeSet,
                at,
                source,
            )
        })
    }

    fn unlock_portal(&self, portal: &str, at: Moment, source: &Source) -> Result<()> {
        let mut conn = self.connection()?;
        immediate(&mut conn, |tx| {
            let changed = tx.execute(
                "UPDATE portals SET admin_failed_attempts = 0, admin_locked_at = NULL WHERE id = ?1",
                [portal],
            )?;
            portal_changed(tx, changed, portal, AuditKind::PortalUnlocked, at, source)
        })
    }

    fn verify_portal_admin(
        &self,
        portal: &str,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
    ) -> Result<VerifyOutcome> {
        self.attempt(portal, &Who::PortalAdmin, passcode, at, source)
    }

    fn add_user(&self, user: &NewUser, at: Moment, source: &Source) -> Result<Onboarded> {
        check_digits(&user.mailbox, false)?;
        if let Some(number) = &user.phone_number {
            check_digits(number, true)?;
        }
        if let Some(extension) = &user.extension {
            check_digits(extension, false)?;
        }
        let mut conn = self.connection()?;
        let (policy, _) = read_policy(&conn)?;
        let numbers: Vec<&str> = [
            user.extension.as_deref(),
            user.phone_number.as_deref(),
            Some(&user.mailbox),
        ]
        .into_iter()
        .flatten()
        .collect();
        let issued = match policy.initial {
            InitialMode::None => None,
            mode => Some(self.issue(
                &conn,
                mode == InitialMode::Default,
                &policy.rules,
                policy.temporary_lifetime,
                &numbers,
                at,
            )?),
        };
        let hash = issued
            .as_ref()
            .map(|issued| self.hasher.hash(&issued.passcode))
            .transpose()?;
        let must_change = issued.as_ref().map(|issued| match issued.kind {
            IssuedKind::Default => ChangeReason::Initial,
            IssuedKind::Generated => ChangeReason::Temporary,
        });
        immediate(&mut conn, |tx| {
            if !portal_exists(tx, &user.portal)? {
                return Err(StoreError::UnknownPortal(user.portal.clone()));
            }
            tx.execute(
                "INSERT INTO mailboxes (mailbox, portal, phone_number, extension, email, passcode_hash,
                     passcode_set_on, must_change, temporary_expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    user.mailbox,
                    user.portal,
                    user.phone_number,
                    user.extension,
                    user.email,
                    hash,
                    hash.as_ref().map(|_| at.today.0),
                    must_change.map(change_reason_name),
                    issued.as_ref().and_then(|issued| issued.expires_at),
                ],
            )
            .map_err(unique_violation(format!(
                "mailbox {}, its phone number or its extension",
                user.mailbox
            )))?;
            let detail = format!("initial {}", initial_mode_name(policy.initial));
            audit(
                tx,
                at,
                AuditKind::UserAdded,
                &Subject::mailbox(&user.portal, &user.mailbox),
                source,
                Some(&detail),
            )
        })?;
        Ok(Onboarded {
            mailbox: user.mailbox.clone(),
            issued,
        })
    }

    fn user(&self, mailbox: &str, today: Day) -> Result<UserView> {
        let conn = self.connection()?;
        let rules = self.rules(&conn)?;
        let row = load_mailbox(&conn, mailbox)?
            .ok_or_else(|| StoreError::UnknownMailbox(mailbox.to_owned()))?;
        Ok(row.view(&rules, today))
    }

    fn list_users(&self, today: Day) -> Result<Vec<UserView>> {
        let conn = self.connection()?;
        let rules = self.rules(&conn)?;
        let mut statement = conn.prepare(&format!(
            "SELECT {MAILBOX_COLUMNS} FROM mailboxes ORDER BY mailbox"
        ))?;
        let rows = statement.query_map([], MailboxRow::from_row)?;
        let mut users = Vec::new();
        for row in rows {
            users.push(row?.view(&rules, today));
        }
        Ok(users)
    }

    fn remove_user(&self, mailbox: &str, at: Moment, source: &Source) -> Result<()> {
        let mut conn = self.connection()?;
        let files = immediate(&mut conn, |tx| {
            let row = load_mailbox(tx, mailbox)?
                .ok_or_else(|| StoreError::UnknownMailbox(mailbox.to_owned()))?;
            let mut statement = tx.prepare(
                "SELECT file_name FROM recordings WHERE owner_kind = 'mailbox' AND owner = ?1",
            )?;
            let files = statement
                .query_map([mailbox], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            drop(statement);
            tx.execute("DELETE FROM mailboxes WHERE mailbox = ?1", [mailbox])?;
            tx.execute(
                "DELETE FROM recordings WHERE owner_kind = 'mailbox' AND owner = ?1",
                [mailbox],
            )?;
            audit(
                tx,
                at,
                AuditKind::UserRemoved,
                &Subject::mailbox(&row.portal, mailbox),
                source,
                None,
            )?;
            Ok(files)
        })?;
        self.remove_recording_files(&files);
        Ok(())
    }

    fn reset_pin(&self, mailbox: &str, at: Moment, source: &Source) -> Result<IssuedPasscode> {
        let mut conn = self.connection()?;
        let (policy, _) = read_policy(&conn)?;
        let row = load_mailbox(&conn, mailbox)?
            .ok_or_else(|| StoreError::UnknownMailbox(mailbox.to_owned()))?;
        let numbers = row.user_numbers();
        let numbers: Vec<&str> = numbers.iter().map(String::as_str).collect();
        let issued = self.issue(
            &conn,
            policy.reset == ResetMode::Default,
            &policy.rules,
            policy.temporary_lifetime,
            &numbers,
            at,
        )?;
        let reason = match issued.kind {
            IssuedKind::Default => ChangeReason::Reset,
            IssuedKind::Generated => ChangeReason::Temporary,
        };
        let write = PasscodeWrite {
            hash: self.hasher.hash(&issued.passcode)?,
            set_on: at.today,
            must_change: Some(reason),
            temporary_expires_at: issued.expires_at,
            unlock: true,
            chosen_by_user: false,
        };
        immediate(&mut conn, |tx| {
            if load_mailbox(tx, mailbox)?.is_none() {
                return Err(StoreError::UnknownMailbox(mailbox.to_owned()));
            }
            write_passcode(tx, mailbox, &write)?;
            let detail = format!("reset {}", reset_mode_name(policy.reset));
            audit(
                tx,
                at,
                AuditKind::Reset,
                &Subject::mailbox(&row.portal, mailbox),
                source,
                Some(&detail),
            )
        })?;
        Ok(issued)
    }

    fn set_pin(
        &self,
        mailbox: &str,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        self.choose_passcode(mailbox, passcode, at, source, true)
    }

    fn change_passcode(
        &self,
        mailbox: &str,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        self.choose_passcode(mailbox, passcode, at, source, false)
    }

    fn unlock_user(&self, mailbox: &str, at: Moment, source: &Source) -> Result<()> {
        let mut conn = self.connection()?;
        immediate(&mut conn, |tx| {
            let row = load_mailbox(tx, mailbox)?
                .ok_or_else(|| StoreError::UnknownMailbox(mailbox.to_owned()))?;
            tx.execute(
                "UPDATE mailboxes SET failed_attempts = 0, locked_at = NULL WHERE mailbox = ?1",
                [mailbox],
            )?;
            audit(
                tx,
                at,
                AuditKind::Unlocked,
                &Subject::mailbox(&row.portal, mailbox),
                source,
                None,
            )
        })
    }

    fn caller_mailbox(&self, number_or_extension: &str) -> Result<Option<KnownCaller>> {
        let conn = self.connection()?;
        let known = |row: &Row<'_>| {
            Ok(KnownCaller {
                mailbox: row.get(0)?,
                portal: row.get(1)?,
                has_passcode: row.get(2)?,
            })
        };
        if let Some(caller) = conn
            .query_row(
                "SELECT mailbox, portal, passcode_hash IS NOT NULL FROM mailboxes WHERE phone_number = ?1",
                [number_or_extension],
                known,
            )
            .optional()?
        {
            return Ok(Some(caller));
        }
        // An extension names a caller only if exactly one portal has it.
        let mut statement =
            conn.prepare("SELECT mailbox, portal, passcode_hash IS NOT NULL FROM mailboxes WHERE extension = ?1 LIMIT 2")?;
        let mut matches = statement
            .query_map([number_or_extension], known)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(if matches.len() == 1 {
            matches.pop()
        } else {
            None
        })
    }

    fn verify_mailbox(
        &self,
        portal: &str,
        entered: &str,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
    ) -> Result<VerifyOutcome> {
        check_digits(entered, false)?;
        self.attempt(portal, &Who::Entered(entered), passcode, at, source)
    }

    fn save_recording(
        &self,
        owner: &RecordingOwner,
        kind: RecordingKind,
        samples: &[i16],
        at: Moment,
        source: &Source,
    ) -> Result<RecordingId> {
        let (table, column, key, owner_id) = recording_slot(owner, kind)?;
        let (owner_kind, subject) = match owner {
            RecordingOwner::Mailbox(id) => (
                "mailbox",
                Subject {
                    portal: None,
                    mailbox: Some(id.clone()),
                },
            ),
            RecordingOwner::Portal(id) => ("portal", Subject::portal(id)),
        };
        let mut conn = self.connection()?;
        let owner_exists = |conn: &Connection| -> Result<bool> {
            Ok(conn
                .query_row(
                    &format!("SELECT 1 FROM {table} WHERE {key} = ?1"),
                    [owner_id],
                    |_| Ok(()),
                )
                .optional()?
                .is_some())
        };
        if !owner_exists(&conn)? {
            return Err(owner_missing(owner));
        }
        let mut name = [0u8; 12];
        fill_random(&mut name)?;
        let name: String = name.iter().map(|b| format!("{b:02x}")).collect();
        let file_name = format!("{name}.wav");
        // The file is complete and durable before the row that names it exists.
        wav::write_durably(
            &self.recordings,
            &format!("{name}.tmp"),
            &file_name,
            &wav::encode(samples),
        )?;
        let result = immediate(&mut conn, |tx| {
            if !owner_exists(tx)? {
                return Err(owner_missing(owner));
            }
            tx.execute(
                "INSERT INTO recordings (owner_kind, owner, kind, file_name, samples, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    owner_kind,
                    owner_id,
                    recording_kind_name(kind),
                    file_name,
                    samples.len() as i64,
                    at.unix_seconds
                ],
            )?;
            let id = tx.last_insert_rowid();
            let previous: Option<(i64, String)> = tx
                .query_row(
                    &format!(
                        "SELECT r.id, r.file_name FROM {table} o JOIN recordings r ON r.id = o.{column}
                         WHERE o.{key} = ?1"
                    ),
                    [owner_id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            tx.execute(
                &format!("UPDATE {table} SET {column} = ?2 WHERE {key} = ?1"),
                params![owner_id, id],
            )?;
            if let Some((previous_id, _)) = &previous {
                tx.execute("DELETE FROM recordings WHERE id = ?1", [previous_id])?;
            }
            audit(
                tx,
                at,
                AuditKind::RecordingSaved,
                &subject,
                source,
                Some(recording_kind_name(kind)),
            )?;
            Ok((id, previous.map(|(_, file)| file)))
        });
        match result {
            Ok((id, previous_file)) => {
                self.remove_recording_files(&previous_file.into_iter().collect::<Vec<_>>());
                Ok(RecordingId(id))
            }
            Err(error) => {
                self.remove_recording_files(&[file_name]);
                Err(error)
            }
        }
    }

    fn recording(&self, id: RecordingId) -> Result<Recording> {
        let conn = self.connection()?;
        let row = conn
            .query_row(
                "SELECT owner_kind, owner, kind, file_name, samples, created_at FROM recordings WHERE id = ?1",
                [id.0],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, i64>(4)?,
                        row.get::<_, i64>(5)?,
                    ))
                },
            )
            .optional()?
            .ok_or(StoreError::UnknownRecording(id.0))?;
        let (owner_kind, owner, kind, file_name, samples, created_at) = row;
        let owner = match owner_kind.as_str() {
            "mailbox" => RecordingOwner::Mailbox(owner),
            _ => RecordingOwner::Portal(owner),
        };
        let kind = recording_kind_from_name(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("recording kind {kind}")))?;
        Ok(Recording {
            id,
            owner,
            kind,
            path: self.recording_file(&file_name),
            samples: u64::try_from(samples).unwrap_or(0),
            created_at,
        })
    }

    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let conn = self.connection()?;
        let limit = if query.limit == 0 { 100 } else { query.limit } as i64;
        let mut statement = conn.prepare(
            "SELECT id, at, kind, portal, mailbox, source, detail FROM audit
             WHERE (?1 IS NULL OR mailbox = ?1) AND (?2 IS NULL OR portal = ?2) AND (?3 IS NULL OR kind = ?3)
             ORDER BY id DESC LIMIT ?4",
        )?;
        let rows = statement.query_map(
            params![
                query.mailbox,
                query.portal,
                query.kind.map(AuditKind::as_str),
                limit
            ],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, Option<String>>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, Option<String>>(6)?,
                ))
            },
        )?;
        let mut entries = Vec::new();
        for row in rows {
            let (id, at, kind, portal, mailbox, source, detail) = row?;
            let kind = AuditKind::from_name(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("audit kind {kind}")))?;
            entries.push(AuditEntry {
                id,
                at,
                kind,
                portal,
                mailbox,
                source,
                detail,
            });
        }
        Ok(entries)
    }
}
