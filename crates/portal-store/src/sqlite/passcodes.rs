//! Passcodes written to a mailbox: chosen by the user (rules and history apply), issued by the store (default or
//! generated, on onboarding and reset), and the history of chosen ones.

use std::time::Duration;

use portal_core::rules::{PasscodeRules, RuleViolation};
use portal_core::{ChangeReason, Day, Passcode};
use rusqlite::{Connection, Transaction, params};

use super::audit::{Subject, audit};
use super::policy::{read_policy, reset_mode_name};
use super::users::{MailboxRow, load_mailbox};
use super::{MAX_RACE_RETRIES, SqliteStore, Step, immediate};
use crate::error::{Result, StoreError};
use crate::generate::generate_passcode;
use crate::model::{
    AuditKind, IssuedKind, IssuedPasscode, Moment, ResetMode, Source, change_reason_name,
    duration_seconds,
};

/// History rows kept per mailbox whatever the policy says, so raising `history_length` later still has data.
const HISTORY_KEPT: i64 = PasscodeRules::MAX_HISTORY_LENGTH as i64;

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
    pub(super) fn reset_pin(
        &self,
        mailbox: &str,
        at: Moment,
        source: &Source,
    ) -> Result<IssuedPasscode> {
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

    pub(super) fn set_pin(
        &self,
        mailbox: &str,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        self.choose_passcode(mailbox, passcode, at, source, true)
    }

    pub(super) fn change_passcode(
        &self,
        mailbox: &str,
        passcode: &Passcode,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        self.choose_passcode(mailbox, passcode, at, source, false)
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

    /// A passcode the store hands out (default or generated), per the given mode.
    pub(super) fn issue(
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
