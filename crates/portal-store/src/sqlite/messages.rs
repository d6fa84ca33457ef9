//! Voice messages: depositing one (its WAV file under `messages/`, then its row, the quota checked in the
//! insert's transaction), listing and counting a mailbox's messages, reading one's audio, marking it heard,
//! saving and deleting it, and a user's own quota. Expiry is in [`expiry`](super::expiry).
//!
//! Every operation names the mailbox as well as the message, and a message of another mailbox is
//! [`StoreError::UnknownMessage`] exactly like one that does not exist, so a caller logged into one mailbox can
//! never reach another's messages by guessing ids.
//!
//! Atomicity, the same way recordings do it: the file is written to a temporary name, fsynced, renamed and the
//! directory fsynced ([`wav::write_new`]) before the row naming it is inserted; a failed insert (quota full, the
//! mailbox removed meanwhile) removes the file. Deleting removes the row first and the file after the commit.
//! So after a crash at any moment a message is either fully there (row and complete file) or absent, and at
//! worst a file no row names is left, which the sweep at open removes ([`sweep_orphans`]).

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::audit::{Subject, audit};
use super::policy::read_message_policy;
use super::recordings::{remove_files, sweep_orphans};
use super::{SqliteStore, immediate};
use crate::error::{Result, StoreError};
use crate::messages::{
    Folder, MailboxUsage, MessageCounts, MessageId, MessageList, MessageSummary, NewMessage,
    QuotaOverride, caller_text, duration_ms,
};
use crate::model::{AuditKind, Moment, Source};
use crate::wav;

const SUMMARY_COLUMNS: &str = "id, mailbox, caller_number, caller_name, received_at, duration_ms, folder, \
     heard, urgent, forwarded_by";

impl SqliteStore {
    pub(super) fn deposit_message(
        &self,
        message: &NewMessage,
        samples: &[i16],
        source: &Source,
    ) -> Result<MessageId> {
        let mailbox = message.mailbox.as_str();
        let duration = duration_ms(samples.len());
        let mut conn = self.connection()?;
        // Refuse early, before writing a file, what would be refused anyway; the transaction checks again.
        check_quota(&mailbox_usage(&conn, mailbox)?, mailbox, duration)?;
        let file_name = wav::write_new(&self.messages, samples)?;
        let result = immediate(&mut conn, |tx| {
            let portal = mailbox_portal(tx, mailbox)?;
            // Read under the write lock: concurrent deposits are counted one after the other.
            check_quota(&mailbox_usage(tx, mailbox)?, mailbox, duration)?;
            tx.execute(
                "INSERT INTO messages (mailbox, caller_number, caller_name, received_at, duration_ms, folder,
                     heard, urgent, file_name)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'new', 0, ?6, ?7)",
                params![
                    mailbox,
                    caller_text(&message.caller_number),
                    caller_text(&message.caller_name),
                    message.received_at.unix_seconds,
                    duration as i64,
                    message.urgent,
                    file_name,
                ],
            )?;
            let id = tx.last_insert_rowid();
            let detail = format!(
                "message {id}, {duration} ms{}",
                if message.urgent { ", urgent" } else { "" }
            );
            audit(
                tx,
                message.received_at,
                AuditKind::MessageDeposited,
                &Subject::mailbox(&portal, mailbox),
                source,
                Some(&detail),
            )?;
            Ok(MessageId(id))
        });
        if result.is_err() {
            remove_files(&self.messages, &[file_name]);
        }
        result
    }

    pub(super) fn list_messages(&self, mailbox: &str) -> Result<MessageList> {
        let conn = self.connection()?;
        mailbox_portal(&conn, mailbox)?;
        let mut statement = conn.prepare(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM messages WHERE mailbox = ?1
             ORDER BY folder = 'saved', received_at, id"
        ))?;
        let messages = statement
            .query_map([mailbox], summary_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        let mut counts = MessageCounts::default();
        for message in &messages {
            let (all, urgent) = match message.folder {
                Folder::New => (&mut counts.new, &mut counts.urgent_new),
                Folder::Saved => (&mut counts.saved, &mut counts.urgent_saved),
            };
            *all += 1;
            *urgent += u32::from(message.urgent);
        }
        Ok(MessageList { messages, counts })
    }

    pub(super) fn message_counts(&self, mailbox: &str) -> Result<MessageCounts> {
        let conn = self.connection()?;
        mailbox_portal(&conn, mailbox)?;
        Ok(conn.query_row(
            "SELECT COALESCE(SUM(folder = 'new'), 0), COALESCE(SUM(folder = 'saved'), 0),
                    COALESCE(SUM(folder = 'new' AND urgent), 0), COALESCE(SUM(folder = 'saved' AND urgent), 0)
             FROM messages WHERE mailbox = ?1",
            [mailbox],
            |row| {
                Ok(MessageCounts {
                    new: row.get(0)?,
                    saved: row.get(1)?,
                    urgent_new: row.get(2)?,
                    urgent_saved: row.get(3)?,
                })
            },
        )?)
    }

    pub(super) fn mailbox_usage(&self, mailbox: &str) -> Result<MailboxUsage> {
        mailbox_usage(&*self.connection()?, mailbox)
    }

    pub(super) fn message(&self, mailbox: &str, id: MessageId) -> Result<MessageSummary> {
        let conn = self.connection()?;
        conn.query_row(
            &format!("SELECT {SUMMARY_COLUMNS} FROM messages WHERE id = ?1 AND mailbox = ?2"),
            params![id.0, mailbox],
            summary_from_row,
        )
        .optional()?
        .ok_or(StoreError::UnknownMessage(id.0))?
    }

    pub(super) fn message_audio(&self, mailbox: &str, id: MessageId) -> Result<Vec<i16>> {
        let file_name = message_file(&*self.connection()?, mailbox, id)?;
        wav::read(&self.messages.join(file_name))
    }

    pub(super) fn mark_message_heard(
        &self,
        mailbox: &str,
        id: MessageId,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        self.change_message(
            mailbox,
            id,
            "UPDATE messages SET heard = 1 WHERE id = ?1 AND mailbox = ?2 AND heard = 0",
            AuditKind::MessageHeard,
            at,
            source,
        )
    }

    pub(super) fn save_message(
        &self,
        mailbox: &str,
        id: MessageId,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        // A message the user keeps has been dealt with: it counts as heard (and so expires like a heard one).
        self.change_message(
            mailbox,
            id,
            "UPDATE messages SET folder = 'saved', heard = 1 WHERE id = ?1 AND mailbox = ?2 AND folder = 'new'",
            AuditKind::MessageSaved,
            at,
            source,
        )
    }

    /// Runs `update` (bound to the id and the mailbox) and audits it if it changed the message; a message
    /// already in that state is left as it is, without an entry.
    fn change_message(
        &self,
        mailbox: &str,
        id: MessageId,
        update: &str,
        kind: AuditKind,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        let mut conn = self.connection()?;
        immediate(&mut conn, |tx| {
            message_file(tx, mailbox, id)?;
            if tx.execute(update, params![id.0, mailbox])? == 1 {
                let portal = mailbox_portal(tx, mailbox)?;
                let detail = format!("message {id}");
                audit(
                    tx,
                    at,
                    kind,
                    &Subject::mailbox(&portal, mailbox),
                    source,
                    Some(&detail),
                )?;
            }
            Ok(())
        })
    }

    pub(super) fn delete_message(
        &self,
        mailbox: &str,
        id: MessageId,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        let mut conn = self.connection()?;
        let file_name = immediate(&mut conn, |tx| {
            let file_name = message_file(tx, mailbox, id)?;
            let portal = mailbox_portal(tx, mailbox)?;
            tx.execute("DELETE FROM messages WHERE id = ?1", [id.0])?;
            let detail = format!("message {id}");
            audit(
                tx,
                at,
                AuditKind::MessageDeleted,
                &Subject::mailbox(&portal, mailbox),
                source,
                Some(&detail),
            )?;
            Ok(file_name)
        })?;
        // The row is gone; a crash before this line leaves an orphan file, which the sweep at open removes.
        remove_files(&self.messages, &[file_name]);
        Ok(())
    }

    pub(super) fn set_mailbox_quota(
        &self,
        mailbox: &str,
        quota: &QuotaOverride,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        quota.validate()?;
        let mut conn = self.connection()?;
        immediate(&mut conn, |tx| {
            let portal = mailbox_portal(tx, mailbox)?;
            tx.execute(
                "UPDATE mailboxes SET quota_messages = ?2, quota_minutes = ?3 WHERE mailbox = ?1",
                params![mailbox, quota.max_messages, quota.max_minutes],
            )?;
            let part =
                |value: Option<u32>| value.map_or("the organization's".into(), |v| v.to_string());
            let detail = format!(
                "messages {}, minutes {}",
                part(quota.max_messages),
                part(quota.max_minutes)
            );
            audit(
                tx,
                at,
                AuditKind::QuotaChanged,
                &Subject::mailbox(&portal, mailbox),
                source,
                Some(&detail),
            )
        })
    }

    pub(super) fn set_voicemail(
        &self,
        mailbox: &str,
        on: bool,
        at: Moment,
        source: &Source,
    ) -> Result<()> {
        let mut conn = self.connection()?;
        immediate(&mut conn, |tx| {
            let portal = mailbox_portal(tx, mailbox)?;
            tx.execute(
                "UPDATE mailboxes SET voicemail = ?2 WHERE mailbox = ?1",
                params![mailbox, on],
            )?;
            audit(
                tx,
                at,
                AuditKind::VoicemailChanged,
                &Subject::mailbox(&portal, mailbox),
                source,
                Some(if on { "on" } else { "off" }),
            )
        })
    }

    /// Removes temporary message files and message files no row names, if older than an hour (see
    /// [`SqliteStore::sweep_recordings`]); [`SqliteStore::open`] runs it.
    pub fn sweep_message_files(&self) -> Result<usize> {
        sweep_orphans(&*self.connection()?, &self.messages, "messages")
    }

    pub(super) fn remove_message_files(&self, names: &[String]) {
        remove_files(&self.messages, names);
    }
}

/// The portal of `mailbox`, or [`StoreError::UnknownMailbox`].
pub(super) fn mailbox_portal(conn: &Connection, mailbox: &str) -> Result<String> {
    conn.query_row(
        "SELECT portal FROM mailboxes WHERE mailbox = ?1",
        [mailbox],
        |row| row.get(0),
    )
    .optional()?
    .ok_or_else(|| StoreError::UnknownMailbox(mailbox.to_owned()))
}

/// What `mailbox` holds against its quota in force.
fn mailbox_usage(conn: &Connection, mailbox: &str) -> Result<MailboxUsage> {
    let own: QuotaOverride = conn
        .query_row(
            "SELECT quota_messages, quota_minutes FROM mailboxes WHERE mailbox = ?1",
            [mailbox],
            |row| {
                Ok(QuotaOverride {
                    max_messages: row.get(0)?,
                    max_minutes: row.get(1)?,
                })
            },
        )
        .optional()?
        .ok_or_else(|| StoreError::UnknownMailbox(mailbox.to_owned()))?;
    let quota = own.over(read_message_policy(conn)?.quota);
    let (messages, duration_ms) = conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(duration_ms), 0) FROM messages WHERE mailbox = ?1",
        [mailbox],
        |row| Ok((row.get::<_, u32>(0)?, row.get::<_, i64>(1)?)),
    )?;
    Ok(MailboxUsage {
        messages,
        duration_ms: u64::try_from(duration_ms).unwrap_or(0),
        quota,
    })
}

fn check_quota(usage: &MailboxUsage, mailbox: &str, duration_ms: u64) -> Result<()> {
    match usage.refuses(duration_ms) {
        Some(limit) => Err(StoreError::QuotaFull {
            mailbox: mailbox.to_owned(),
            limit,
        }),
        None => Ok(()),
    }
}

/// The file of message `id` of `mailbox`; a message of another mailbox is unknown too.
fn message_file(conn: &Connection, mailbox: &str, id: MessageId) -> Result<String> {
    conn.query_row(
        "SELECT file_name FROM messages WHERE id = ?1 AND mailbox = ?2",
        params![id.0, mailbox],
        |row| row.get(0),
    )
    .optional()?
    .ok_or(StoreError::UnknownMessage(id.0))
}

fn summary_from_row(row: &Row<'_>) -> rusqlite::Result<Result<MessageSummary>> {
    let folder: String = row.get(6)?;
    let Some(folder) = Folder::from_name(&folder) else {
        return Ok(Err(StoreError::Corrupt(format!("message folder {folder}"))));
    };
    Ok(Ok(MessageSummary {
        id: MessageId(row.get(0)?),
        mailbox: row.get(1)?,
        caller_number: row.get(2)?,
        caller_name: row.get(3)?,
        received_at: row.get(4)?,
        duration_ms: u64::try_from(row.get::<_, i64>(5)?).unwrap_or(0),
        folder,
        heard: row.get(7)?,
        urgent: row.get(8)?,
        forwarded_by: row.get(9)?,
    }))
}
