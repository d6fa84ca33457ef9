//! Message expiry under the organization's policy (see [`MessageDeletion`]): the deletions done when a user
//! opens their mailbox ([`SqliteStore::expire_on_access`]) and the scheduled sweep of strict mode
//! ([`SqliteStore::sweep_expired`]). Both take the time as an argument; nothing here reads a clock.
//!
//! A message expires `expiry_days` after it was received, to the second. Each expired message gets its own
//! audit entry (`message_expired`). Deletions go in batches of [`BATCH`] per transaction, so a first sweep over
//! a large backlog never holds SQLite's write lock for long; files are removed after each commit, as
//! [`delete_message`](SqliteStore::delete_message) does.

use rusqlite::params;

use super::audit::{Subject, audit};
use super::policy::read_message_policy;
use super::{SqliteStore, immediate};
use crate::error::Result;
use crate::messages::MessageDeletion;
use crate::model::{AuditKind, Moment, Source};

/// Most messages deleted in one transaction.
const BATCH: usize = 500;

/// Which expired messages to delete.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// Those of one mailbox, heard ones only (permissive) or all (strict).
    Mailbox { mailbox: &'a str, heard_only: bool },
    /// Those of every mailbox (strict).
    All,
}

impl SqliteStore {
    /// What the store does when the user opens their mailbox at `at` (the call flow calls it after the login,
    /// before listing). Permissive: deletes the user's expired messages they have heard, keeps unheard ones.
    /// Strict: deletes all of the user's expired messages, so none is played after it expired even if the
    /// sweep has not run yet. Off: nothing. Returns how many were deleted.
    pub(super) fn expire_on_access(
        &self,
        mailbox: &str,
        at: Moment,
        source: &Source,
    ) -> Result<usize> {
        let heard_only = match read_message_policy(&*self.connection()?)?.deletion {
            MessageDeletion::Off => return Ok(0),
            MessageDeletion::Permissive => true,
            MessageDeletion::Strict => false,
        };
        self.expire(
            Scope::Mailbox {
                mailbox,
                heard_only,
            },
            at,
            source,
        )
    }

    /// The scheduled sweep (run it, say, hourly): in strict mode deletes every expired message of every
    /// mailbox, heard or not. In permissive mode and with expiry off it deletes nothing (permissive expiry
    /// happens when the user opens the mailbox). Returns how many were deleted.
    pub(super) fn sweep_expired(&self, at: Moment) -> Result<usize> {
        match read_message_policy(&*self.connection()?)?.deletion {
            MessageDeletion::Strict => self.expire(Scope::All, at, &Source::Maintenance),
            MessageDeletion::Off | MessageDeletion::Permissive => Ok(0),
        }
    }

    fn expire(&self, scope: Scope<'_>, at: Moment, source: &Source) -> Result<usize> {
        let mut deleted = 0;
        loop {
            let mut conn = self.connection()?;
            let files = immediate(&mut conn, |tx| {
                // The policy is read again under the write lock: a change meanwhile is honoured.
                let policy = read_message_policy(tx)?;
                let Some(cutoff) = policy.expired_before(at) else {
                    return Ok(Vec::new());
                };
                let (mailbox, heard_only) = match scope {
                    Scope::Mailbox {
                        mailbox,
                        heard_only,
                    } => (Some(mailbox), heard_only),
                    Scope::All => (None, false),
                };
                let mut statement = tx.prepare(
                    "SELECT m.id, m.mailbox, b.portal, m.file_name, m.received_at
                     FROM messages m JOIN mailboxes b ON b.mailbox = m.mailbox
                     WHERE m.received_at <= ?1 AND (?2 IS NULL OR m.mailbox = ?2) AND (NOT ?3 OR m.heard)
                     ORDER BY m.id LIMIT ?4",
                )?;
                let expired = statement
                    .query_map(params![cutoff, mailbox, heard_only, BATCH as i64], |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, String>(2)?,
                            row.get::<_, String>(3)?,
                            row.get::<_, i64>(4)?,
                        ))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                drop(statement);
                let mut files = Vec::with_capacity(expired.len());
                for (id, mailbox, portal, file_name, received_at) in expired {
                    tx.execute("DELETE FROM messages WHERE id = ?1", [id])?;
                    let detail = format!(
                        "message {id}, received at {received_at}, {} after {} day{}",
                        policy.deletion.as_str(),
                        policy.expiry_days,
                        if policy.expiry_days == 1 { "" } else { "s" }
                    );
                    audit(
                        tx,
                        at,
                        AuditKind::MessageExpired,
                        &Subject::mailbox(&portal, &mailbox),
                        source,
                        Some(&detail),
                    )?;
                    files.push(file_name);
                }
                Ok(files)
            })?;
            self.remove_message_files(&files);
            deleted += files.len();
            if files.len() < BATCH {
                return Ok(deleted);
            }
        }
    }
}
