//! Verifying a passcode and accounting for the attempt: failure counts, the lock, decoys for numbers that are no
//! mailbox, and an administrator lifting a lock.

use portal_core::{Login, Passcode, VerifyOutcome};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::audit::{Subject, audit};
use super::portals::{portal_changed, portal_exists};
use super::users::{find_mailbox, load_mailbox};
use super::{MAX_RACE_RETRIES, SqliteStore, Step, check_digits, immediate};
use crate::error::{Result, StoreError};
use crate::model::{AuditKind, Moment, Source, Verification, change_reason_name, duration_seconds};

impl SqliteStore {
    pub(super) fn verify_mailbox(
        &self,
        portal: &str,
        entered: &str,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
    ) -> Result<Verification> {
        check_digits(entered, false)?;
        self.attempt(portal, &Who::Entered(entered), passcode, at, source)
    }

    pub(super) fn verify_portal_admin(
        &self,
        portal: &str,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
    ) -> Result<Verification> {
        self.attempt(portal, &Who::PortalAdmin, passcode, at, source)
    }

    pub(super) fn unlock_user(&self, mailbox: &str, at: Moment, source: &Source) -> Result<()> {
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

    pub(super) fn unlock_portal(&self, portal: &str, at: Moment, source: &Source) -> Result<()> {
        let mut conn = self.connection()?;
        immediate(&mut conn, |tx| {
            let changed = tx.execute(
                "UPDATE portals SET admin_failed_attempts = 0, admin_locked_at = NULL WHERE id = ?1",
                [portal],
            )?;
            portal_changed(tx, changed, portal, AuditKind::PortalUnlocked, at, source)
        })
    }

    /// Runs an attempt on a lockable account. The slow argon2 verification happens outside any transaction, so
    /// verifications of different accounts (and of the same one) run in parallel; the outcome is then applied in
    /// one `BEGIN IMMEDIATE` transaction that re-reads the state it depends on. If the account locked meanwhile
    /// the answer is Locked; if its hash changed meanwhile (reset, new passcode) the verification is stale and
    /// the attempt starts over. Failures are counted from the state re-read under the write lock, so concurrent
    /// wrong attempts add exactly one each, stop adding at the lock, and exactly one reports `locked_now`.
    fn attempt(
        &self,
        portal: &str,
        who: &Who<'_>,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
    ) -> Result<Verification> {
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
            // IMMEDIATE takes the database's one write lock before the re-read below, so no other attempt can
            // write between this read and our write: the count we add to is the count we read, and only one
            // attempt can be the one that reaches the threshold. WAL readers never see a half-applied attempt.
            let step = immediate(&mut conn, |tx| {
                let report = |outcome, locked_now| Verification {
                    outcome,
                    locked_now,
                    mailbox: target.mailbox().map(str::to_owned),
                };
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
                    return Ok(Step::Done(report(VerifyOutcome::Locked, false)));
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
                    return Ok(Step::Done(report(VerifyOutcome::Ok(login), false)));
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
                    Ok(Step::Done(report(VerifyOutcome::Locked, true)))
                } else {
                    Ok(Step::Done(report(VerifyOutcome::Wrong, false)))
                }
            })?;
            if let Step::Done(verification) = step {
                return Ok(verification);
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
    /// The real mailbox this counter belongs to, if it is one.
    fn mailbox(&self) -> Option<&str> {
        match self {
            Target::Mailbox(mailbox) => Some(mailbox),
            _ => None,
        }
    }

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
