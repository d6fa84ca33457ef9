//! The connection pool: idle connections kept for reuse, each opened with the store's pragmas.

use std::ops::{Deref, DerefMut};

use rusqlite::{Connection, OpenFlags};

use super::SqliteStore;
use crate::error::Result;

/// A pooled connection, returned to the pool on drop.
pub(super) struct Pooled<'a> {
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

impl SqliteStore {
    pub(super) fn connection(&self) -> Result<Pooled<'_>> {
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
}
