//! Recordings: WAV files under `recordings/`, each named by one row, and the sweep of files no row names (which
//! voice messages share, for `messages/`).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use portal_core::RecordingKind;
use rusqlite::{Connection, OptionalExtension, params};

use super::audit::{Subject, audit};
use super::{SqliteStore, immediate};
use crate::error::{Result, StoreError};
use crate::model::{
    AuditKind, Moment, Recording, RecordingId, RecordingOwner, Source, recording_kind_from_name,
    recording_kind_name,
};
use crate::wav;

/// Temporary and orphaned recording files younger than this are left alone (another process may be mid-save).
const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

impl SqliteStore {
    pub(super) fn save_recording(
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
        // The file is complete and durable before the row that names it exists.
        let file_name = wav::write_new(&self.recordings, samples)?;
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

    pub(super) fn recording(&self, id: RecordingId) -> Result<Recording> {
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

    /// Removes temporary recording files and WAV files no row names, if older than an hour. A crash between
    /// writing a recording's file and inserting its row leaves such a file; never the other way round.
    pub fn sweep_recordings(&self) -> Result<usize> {
        sweep_orphans(&*self.connection()?, &self.recordings, "recordings")
    }

    fn recording_file(&self, name: &str) -> PathBuf {
        self.recordings.join(name)
    }

    pub(super) fn remove_recording_files(&self, names: &[String]) {
        remove_files(&self.recordings, names);
    }
}

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

/// Removes the temporary files and the WAV files no row of `table` names from `dir`, if older than
/// [`ORPHAN_GRACE`]. Files are written before their rows and rows deleted before their files, so a crash leaves
/// at worst such an orphan, never a row without its file. Younger files are left alone: another process may be
/// between writing one and inserting its row.
pub(super) fn sweep_orphans(conn: &Connection, dir: &Path, table: &str) -> Result<usize> {
    let mut removed = 0;
    let entries = fs::read_dir(dir).map_err(StoreError::io(dir))?;
    for entry in entries {
        let entry = entry.map_err(StoreError::io(dir))?;
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
                &format!("SELECT 1 FROM {table} WHERE file_name = ?1"),
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

/// Removes files of `dir` whose rows are gone. A file left behind (a crash right after the commit) is harmless:
/// the sweep at the next open removes it.
pub(super) fn remove_files(dir: &Path, names: &[String]) {
    for name in names {
        let _ = fs::remove_file(dir.join(name));
    }
}
