//! The audit trail: one row per change or attempt, written in the transaction that makes it, listed newest first.

use rusqlite::{Connection, params};

use super::SqliteStore;
use crate::error::{Result, StoreError};
use crate::model::{AuditEntry, AuditKind, AuditQuery, Moment, Source};

/// What an audit entry is about.
pub(super) struct Subject {
    pub(super) portal: Option<String>,
    pub(super) mailbox: Option<String>,
}

impl Subject {
    pub(super) fn mailbox(portal: &str, mailbox: &str) -> Subject {
        Subject {
            portal: Some(portal.to_owned()),
            mailbox: Some(mailbox.to_owned()),
        }
    }

    pub(super) fn portal(portal: &str) -> Subject {
        Subject {
            portal: Some(portal.to_owned()),
            mailbox: None,
        }
    }

    pub(super) fn organization() -> Subject {
        Subject {
            portal: None,
            mailbox: None,
        }
    }
}

pub(super) fn audit(
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

impl SqliteStore {
    pub(super) fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
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
