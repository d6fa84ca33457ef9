//! # portal-store: vportal's accounts
//!
//! Everything vportal remembers about people and passcodes: the organization's voicemail policy, voice portals,
//! users and their mailboxes, passcode hashes and history, lockout counters, recordings, voice messages and the
//! audit trail.
//! The conversation (`portal-core`) asks; this crate decides whether a passcode is right and whether the
//! mailbox is now locked, atomically across calls, threads and processes.
//!
//! - **Storage**: one SQLite file, `DATA/vportal.db`, in WAL mode with `synchronous=FULL`, schema migrations
//!   kept in code and numbered by `PRAGMA user_version`. Recordings and voice messages are 8 kHz mono 16-bit
//!   WAV files under `DATA/recordings/` and `DATA/messages/` (0700), written to a temporary file, fsynced and
//!   renamed before the row naming them is inserted, and deleted after their row: a row never exists without
//!   its file, and a file a crash left without a row is removed at the next open. Every change is one transaction, so a crash at any moment
//!   leaves each account with its old or its new passcode. The operations are the [`AccountStore`] trait, so a
//!   PostgreSQL back end can follow; [`SqliteStore`] implements it.
//! - **Passcodes** are stored only as argon2id PHC strings (salts from the OS generator; cost from
//!   [`HashParams`], the argon2 defaults unless configured). The one exception is the organization's default
//!   passcode, which must be recoverable because it is emailed to new users: it is sealed with
//!   ChaCha20-Poly1305 under a 32-byte [`SealingKey`] that never enters the database. The key comes from a key
//!   file (created with mode 0600 if missing; a file group or others can read is refused) or from an
//!   environment variable in hex. A stolen database alone reveals no passcode.
//! - **Policy** ([`Policy`]): initial passcodes are the default passcode, generated per user, or none (the user
//!   sets one in their settings); resets give the default passcode or a generated one. Generated passcodes are
//!   random, satisfy the [`PasscodeRules`](portal_core::rules::PasscodeRules), and are temporary: they stop
//!   working after the policy's lifetime (72 hours by default). Default and temporary passcodes only open the
//!   forced change, and stop working once the user chooses a passcode. Changing the policy never touches
//!   existing users.
//!
//! - **Voice messages** ([`NewMessage`], [`MessageSummary`], [`MessagePolicy`]): a deposit stores the audio and
//!   the row, or nothing, and is refused with [`StoreError::QuotaFull`] when the mailbox would exceed its quota
//!   (messages and minutes; the organization's, 100 and 30 by default, or the user's own), decided in the
//!   insert's transaction so concurrent deposits never overshoot. Messages are listed new then saved, oldest
//!   first, and marked heard, saved or deleted, each audited (never the audio). Expiry follows Webex's
//!   organization setting: off, or after 1 to 180 days either `permissive` (heard messages go when the user
//!   opens the mailbox) or `strict` (all go, by [`AccountStore::sweep_expired`]); both take the time as an
//!   argument.
//! - **Where the work runs**: every operation blocks (argon2 by design takes tens of milliseconds). Servers run
//!   them on a [`BlockingPool`]: a fixed number of threads behind a bounded queue, never the threads that pace
//!   RTP, so a login storm queues (or is refused with [`PoolError::Full`]) instead of stalling audio.
//!
//! ## Lockout: how an attempt is counted
//!
//! argon2 takes tens of milliseconds by design. Verifying inside a `BEGIN IMMEDIATE` transaction would hold
//! SQLite's single write lock for that long and serialize every login of the organization. Instead an attempt
//! (1) reads the account's hash and lock state without a transaction, (2) verifies outside any transaction, and
//! (3) applies the outcome in one `BEGIN IMMEDIATE` transaction that re-reads the state: if the account locked
//! meanwhile the answer is `Locked`; if its hash changed meanwhile (a reset or a new passcode) the verification is
//! stale and the attempt starts over (at most three times, then [`StoreError::Conflict`]); otherwise the failure
//! count is incremented from the value read under the write lock, the lock set when it reaches the policy's
//! `failed_attempts_before_lockout`, and the audit entry written, all in that transaction. So concurrent wrong
//! attempts each add exactly one failure, the one that reaches the count answers `Locked` (and alone reports
//! [`Verification::locked_now`], so the driver can tell the user once), later ones (right or wrong) answer
//! `Locked` without being counted, and a success sets the count back to zero. An attempt on a locked account is
//! refused without verifying.
//!
//! ## Unknown mailboxes look like real ones
//!
//! A caller must not learn which mailbox numbers exist. A number that matches no mailbox is verified against a
//! decoy argon2id hash of a random secret, made at open with the same cost as real hashes, and its failures are
//! counted in a decoy table keyed by (portal, number entered), so it answers Wrong, Wrong, Wrong, Locked exactly
//! like a real mailbox. The table is bounded: an entry is forgotten 24 hours after its last attempt, and beyond
//! 10,000 entries the ones attacked longest ago are dropped (both configurable in [`StoreConfig`]). A decoy lock
//! therefore lifts by itself after a day while a real lock waits for an administrator; that difference shows
//! only to someone who waits a day per guess. A mailbox without a passcode yet answers like a wrong passcode
//! (also verified against the decoy hash, also counted). The portal admin passcode has the same lockout. A
//! verification returns a [`Verification`]: only its `outcome` reaches the caller; which mailbox was meant and
//! whether this attempt set the lock are for the driver, to email the user a lockout notice.
//!
//! ## Using it
//!
//! The API is synchronous and blocking; the binary runs it on a bounded blocking pool. [`SqliteStore`] is
//! `Send + Sync`: each operation borrows a connection from a small pool (SQLite serializes the writers, with a
//! busy timeout). Time is passed in as a [`Moment`] (unix seconds and the organization's calendar day) so tests
//! can move the clock; [`Moment::now_utc`] reads the system clock.
//!
//! ```no_run
//! use portal_core::{Passcode, VerifyOutcome};
//! use portal_store::{AccountStore, Moment, NewPortal, NewUser, SealingKey, Source, SqliteStore, StoreConfig};
//!
//! # fn main() -> Result<(), portal_store::StoreError> {
//! let key = SealingKey::from_file("/etc/vportal/sealing.key".as_ref())?;
//! let store = SqliteStore::open(StoreConfig::new("/var/lib/vportal", key))?;
//! let now = Moment::now_utc();
//! store.add_portal(
//!     &NewPortal { id: "hq".into(), name: "HQ".into(), number: Some("+15550100".into()),
//!                  extension: Some("8000".into()), language: "en".into(), admin_passcode: None,
//!                  time_zone: None },
//!     now, &Source::Admin)?;
//! let onboarded = store.add_user(
//!     &NewUser { mailbox: "4711".into(), portal: "hq".into(), phone_number: None,
//!                extension: Some("4711".into()), email: Some("ann@example.com".into()) },
//!     now, &Source::Admin)?;
//! let first = onboarded.issued.expect("generated by default").passcode; // email this
//! let call = Source::Call { call_id: "a84b4c76e66710".into(), caller: None };
//! match store.verify_mailbox("hq", "4711", &first, now, &call)?.outcome {
//!     VerifyOutcome::Ok(login) => assert!(login.must_change.is_some()),
//!     VerifyOutcome::Wrong | VerifyOutcome::Locked => unreachable!(),
//! }
//! store.change_passcode("4711", &Passcode::parse("5820461").unwrap(), now, &call)?;
//! # Ok(())
//! # }
//! ```

mod error;
mod generate;
mod hashing;
mod messages;
mod model;
mod pool;
mod schema;
mod sealing;
mod sqlite;
mod store;
mod wav;

pub use error::{Result, StoreError};
pub use generate::generate_passcode;
pub use hashing::HashParams;
pub use messages::{
    Folder, MAX_CALLER_TEXT, MAX_EXPIRY_DAYS, MAX_QUOTA_MESSAGES, MAX_QUOTA_MINUTES, MailboxUsage,
    MessageCounts, MessageDeletion, MessageId, MessageList, MessagePolicy, MessageQuota,
    MessageSummary, NewMessage, QuotaLimit, QuotaOverride,
};
pub use model::{
    AuditEntry, AuditKind, AuditQuery, InitialMode, IssuedKind, IssuedPasscode, KnownCaller,
    Moment, NewPortal, NewUser, Onboarded, Policy, Portal, PortalChanges, Recording, RecordingId,
    RecordingOwner, ResetMode, Source, UserView, Verification,
};
pub use pool::{BlockingPool, PoolError};
pub use schema::SCHEMA_VERSION;
pub use sealing::{KEY_LEN, KeySource, SealingKey};
pub use sqlite::{DATABASE_FILE, MESSAGES_DIR, RECORDINGS_DIR, SqliteStore, StoreConfig};
pub use store::AccountStore;
pub use wav::SAMPLE_RATE;
