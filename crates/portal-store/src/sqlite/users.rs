//! Users and their mailboxes: onboarding, listing, removing, recognising a calling phone, and the mailbox row
//! the other concerns read.

use portal_core::rules::PasscodeRules;
use portal_core::{ChangeReason, Day, Login};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::audit::{Subject, audit};
use super::policy::{initial_mode_name, read_policy};
use super::portals::portal_exists;
use super::{SqliteStore, check_digits, immediate, unique_violation};
use crate::error::{Result, StoreError};
use crate::messages::QuotaOverride;
use crate::model::{
    AuditKind, InitialMode, IssuedKind, KnownCaller, Moment, NewUser, Onboarded, RecordingId,
    Source, UserView, change_reason_from_name, change_reason_name,
};

/// A mailbox row.
#[derive(Clone, Debug)]
pub(super) struct MailboxRow {
    pub(super) mailbox: String,
    pub(super) portal: String,
    pub(super) phone_number: Option<String>,
    pub(super) extension: Option<String>,
    pub(super) email: Option<String>,
    pub(super) hash: Option<String>,
    pub(super) set_on: Option<Day>,
    pub(super) must_change: Option<ChangeReason>,
    pub(super) temporary_expires_at: Option<i64>,
    pub(super) failed_attempts: u32,
    pub(super) locked_at: Option<i64>,
    pub(super) name_recording: Option<i64>,
    pub(super) busy_greeting: Option<i64>,
    pub(super) no_answer_greeting: Option<i64>,
    pub(super) quota: QuotaOverride,
    pub(super) voicemail: bool,
}

const MAILBOX_COLUMNS: &str = "mailbox, portal, phone_number, extension, email, passcode_hash, passcode_set_on, \
     must_change, temporary_expires_at, failed_attempts, locked_at, name_recording, busy_greeting, no_answer_greeting, \
     quota_messages, quota_minutes, voicemail";

impl MailboxRow {
    pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<MailboxRow> {
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
            quota: QuotaOverride {
                max_messages: row.get(14)?,
                max_minutes: row.get(15)?,
            },
            voicemail: row.get(16)?,
        })
    }

    pub(super) fn user_numbers(&self) -> Vec<String> {
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
    pub(super) fn must_change(&self, rules: &PasscodeRules, today: Day) -> Option<ChangeReason> {
        self.must_change.or_else(|| {
            self.set_on
                .filter(|set_on| self.hash.is_some() && rules.is_expired(*set_on, today))
                .map(|_| ChangeReason::Expired)
        })
    }

    pub(super) fn view(&self, rules: &PasscodeRules, today: Day) -> UserView {
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
            name_recording: self.name_recording.map(RecordingId),
            busy_greeting: self.busy_greeting.map(RecordingId),
            no_answer_greeting: self.no_answer_greeting.map(RecordingId),
            quota: self.quota,
            voicemail: self.voicemail,
        }
    }

    pub(super) fn login(&self, rules: &PasscodeRules, today: Day) -> Login {
        Login {
            mailbox: self.mailbox.clone(),
            must_change: self.must_change(rules, today),
            name_recorded: self.name_recording.is_some(),
            passcode_set_on: self.set_on,
            user_numbers: self.user_numbers(),
        }
    }
}

impl SqliteStore {
    pub(super) fn add_user(
        &self,
        user: &NewUser,
        at: Moment,
        source: &Source,
    ) -> Result<Onboarded> {
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

    pub(super) fn user(&self, mailbox: &str, today: Day) -> Result<UserView> {
        let conn = self.connection()?;
        let rules = self.rules(&conn)?;
        let row = load_mailbox(&conn, mailbox)?
            .ok_or_else(|| StoreError::UnknownMailbox(mailbox.to_owned()))?;
        Ok(row.view(&rules, today))
    }

    pub(super) fn list_users(&self, today: Day) -> Result<Vec<UserView>> {
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

    /// Removes the user with their recordings and voice messages (rows in one transaction, files after it).
    pub(super) fn remove_user(&self, mailbox: &str, at: Moment, source: &Source) -> Result<()> {
        let mut conn = self.connection()?;
        let (files, message_files) = immediate(&mut conn, |tx| {
            let row = load_mailbox(tx, mailbox)?
                .ok_or_else(|| StoreError::UnknownMailbox(mailbox.to_owned()))?;
            let file_names = |sql: &str| -> Result<Vec<String>> {
                let mut statement = tx.prepare(sql)?;
                let names = statement
                    .query_map([mailbox], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(names)
            };
            let files = file_names(
                "SELECT file_name FROM recordings WHERE owner_kind = 'mailbox' AND owner = ?1",
            )?;
            let message_files = file_names("SELECT file_name FROM messages WHERE mailbox = ?1")?;
            tx.execute("DELETE FROM messages WHERE mailbox = ?1", [mailbox])?;
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
            Ok((files, message_files))
        })?;
        self.remove_recording_files(&files);
        self.remove_message_files(&message_files);
        Ok(())
    }

    pub(super) fn caller_mailbox(&self, number_or_extension: &str) -> Result<Option<KnownCaller>> {
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
}

pub(super) fn load_mailbox(conn: &Connection, mailbox: &str) -> Result<Option<MailboxRow>> {
    Ok(conn
        .query_row(
            &format!("SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE mailbox = ?1"),
            [mailbox],
            MailboxRow::from_row,
        )
        .optional()?)
}

/// The mailbox a caller means at `portal`: a mailbox id first, else an extension of that portal.
pub(super) fn find_mailbox(
    conn: &Connection,
    portal: &str,
    entered: &str,
) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT mailbox FROM mailboxes WHERE mailbox = ?2 OR (portal = ?1 AND extension = ?2)
             ORDER BY mailbox = ?2 DESC LIMIT 1",
            params![portal, entered],
            |row| row.get(0),
        )
        .optional()?)
}
