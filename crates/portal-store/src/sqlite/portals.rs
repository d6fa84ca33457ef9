//! Voice portals: creating and changing them, finding one by the number dialed, and their admin passcode.

use portal_core::Passcode;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::audit::{Subject, audit};
use super::{SqliteStore, check_digits, immediate, unique_violation};
use crate::error::{Result, StoreError};
use crate::model::{AuditKind, Moment, NewPortal, Portal, PortalChanges, RecordingId, Source};

const PORTAL_COLUMNS: &str = "id, name, number, extension, language, admin_passcode_hash, admin_failed_attempts, \
     admin_locked_at, business_hours_greeting, after_hours_greeting, time_zone";

impl SqliteStore {
    pub(super) fn add_portal(&self, portal: &NewPortal, at: Moment, source: &Source) -> Result<()> {
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
                "INSERT INTO portals (id, name, number, extension, language, admin_passcode_hash, time_zone)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    portal.id,
                    portal.name,
                    portal.number,
                    portal.extension,
                    portal.language,
                    admin_hash,
                    portal.time_zone
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

    pub(super) fn update_portal(
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
                         extension = coalesce(?4, extension), language = coalesce(?5, language),
                         time_zone = CASE WHEN ?6 THEN ?7 ELSE time_zone END
                     WHERE id = ?1",
                    params![
                        id,
                        changes.name,
                        changes.number,
                        changes.extension,
                        changes.language,
                        changes.time_zone.is_some(),
                        changes.time_zone.clone().flatten()
                    ],
                )
                .map_err(unique_violation(format!(
                    "the number or extension of portal {id}"
                )))?;
            portal_changed(tx, changed, id, AuditKind::PortalChanged, at, source)
        })?;
        self.portal(id)
    }

    pub(super) fn portal(&self, id: &str) -> Result<Portal> {
        self.connection()?
            .query_row(
                &format!("SELECT {PORTAL_COLUMNS} FROM portals WHERE id = ?1"),
                [id],
                portal_from_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::UnknownPortal(id.to_owned()))
    }

    pub(super) fn portal_by_dialed(&self, number_or_extension: &str) -> Result<Option<Portal>> {
        Ok(self
            .connection()?
            .query_row(
                &format!("SELECT {PORTAL_COLUMNS} FROM portals WHERE number = ?1 OR extension = ?1 LIMIT 1"),
                [number_or_extension],
                portal_from_row,
            )
            .optional()?)
    }

    pub(super) fn list_portals(&self) -> Result<Vec<Portal>> {
        let conn = self.connection()?;
        let mut statement =
            conn.prepare(&format!("SELECT {PORTAL_COLUMNS} FROM portals ORDER BY id"))?;
        let portals = statement
            .query_map([], portal_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(portals)
    }

    pub(super) fn set_portal_admin_passcode(
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
}

/// After an UPDATE of one portal: an unknown portal if no row changed, else the change in the audit.
pub(super) fn portal_changed(
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

pub(super) fn portal_exists(conn: &Connection, portal: &str) -> Result<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM portals WHERE id = ?1", [portal], |_| Ok(()))
        .optional()?
        .is_some())
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
        time_zone: row.get(10)?,
    })
}
