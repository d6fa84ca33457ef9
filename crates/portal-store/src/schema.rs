//! Versioned migrations, kept in code. `PRAGMA user_version` holds the number applied; each migration runs in
//! the same transaction as the version bump, so a crash leaves the schema at one version or the next.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Result, StoreError};

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: accounts, policy, recordings, audit, decoy attempts.
    r#"
    CREATE TABLE policy (
        id                      INTEGER PRIMARY KEY CHECK (id = 1),
        initial_mode            TEXT NOT NULL CHECK (initial_mode IN ('default', 'generated', 'none')),
        reset_mode              TEXT NOT NULL CHECK (reset_mode IN ('default', 'generated')),
        -- The default passcode sealed with ChaCha20-Poly1305 under a key kept outside the database.
        sealed_default_passcode BLOB,
        rules_json              TEXT NOT NULL,
        temporary_lifetime_secs INTEGER NOT NULL CHECK (temporary_lifetime_secs > 0)
    );

    CREATE TABLE recordings (
        id          INTEGER PRIMARY KEY,
        owner_kind  TEXT NOT NULL CHECK (owner_kind IN ('mailbox', 'portal')),
        owner       TEXT NOT NULL,
        kind        TEXT NOT NULL,
        file_name   TEXT NOT NULL UNIQUE,
        samples     INTEGER NOT NULL,
        created_at  INTEGER NOT NULL
    );
    CREATE INDEX recordings_by_owner ON recordings (owner_kind, owner);

    CREATE TABLE portals (
        id                       TEXT PRIMARY KEY,
        name                     TEXT NOT NULL,
        number                   TEXT UNIQUE,
        extension                TEXT UNIQUE,
        language                 TEXT NOT NULL,
        admin_passcode_hash      TEXT,
        admin_failed_attempts    INTEGER NOT NULL DEFAULT 0,
        admin_locked_at          INTEGER,
        business_hours_greeting  INTEGER REFERENCES recordings (id) ON DELETE SET NULL,
        after_hours_greeting     INTEGER REFERENCES recordings (id) ON DELETE SET NULL
    );

    CREATE TABLE mailboxes (
        mailbox               TEXT PRIMARY KEY,
        portal                TEXT NOT NULL REFERENCES portals (id),
        phone_number          TEXT UNIQUE,
        extension             TEXT,
        email                 TEXT,
        -- argon2id PHC string; NULL while the user has no passcode.
        passcode_hash         TEXT,
        passcode_set_on       INTEGER,
        must_change           TEXT CHECK (must_change IN ('initial', 'temporary', 'reset', 'expired')),
        temporary_expires_at  INTEGER,
        failed_attempts       INTEGER NOT NULL DEFAULT 0,
        locked_at             INTEGER,
        name_recording        INTEGER REFERENCES recordings (id) ON DELETE SET NULL,
        busy_greeting         INTEGER REFERENCES recordings (id) ON DELETE SET NULL,
        no_answer_greeting    INTEGER REFERENCES recordings (id) ON DELETE SET NULL,
        UNIQUE (portal, extension)
    );
    CREATE INDEX mailboxes_by_extension ON mailboxes (extension);

    -- Hashes of passcodes the user chose, newest last; the policy's history_length newest are checked.
    CREATE TABLE passcode_history (
        id       INTEGER PRIMARY KEY,
        mailbox  TEXT NOT NULL REFERENCES mailboxes (mailbox) ON DELETE CASCADE,
        hash     TEXT NOT NULL
    );
    CREATE INDEX passcode_history_by_mailbox ON passcode_history (mailbox, id);

    -- Failure counts for numbers that match no mailbox, so they lock like real ones. Bounded and expiring.
    CREATE TABLE decoy_attempts (
        portal           TEXT NOT NULL,
        entered          TEXT NOT NULL,
        failed_attempts  INTEGER NOT NULL,
        last_attempt_at  INTEGER NOT NULL,
        locked_at        INTEGER,
        PRIMARY KEY (portal, entered)
    );
    CREATE INDEX decoy_attempts_by_age ON decoy_attempts (last_attempt_at);

    CREATE TABLE audit (
        id       INTEGER PRIMARY KEY,
        at       INTEGER NOT NULL,
        kind     TEXT NOT NULL,
        portal   TEXT,
        mailbox  TEXT,
        source   TEXT NOT NULL,
        detail   TEXT
    );
    CREATE INDEX audit_by_mailbox ON audit (mailbox, id);
    "#,
    // 2: voice messages, mailbox quotas (the organization's and a user's own) and message expiry.
    r#"
    CREATE TABLE messages (
        id             INTEGER PRIMARY KEY,
        mailbox        TEXT NOT NULL REFERENCES mailboxes (mailbox) ON DELETE CASCADE,
        -- The calling number and display name as received (free text, either may be absent).
        caller_number  TEXT,
        caller_name    TEXT,
        received_at    INTEGER NOT NULL,
        duration_ms    INTEGER NOT NULL CHECK (duration_ms >= 0),
        folder         TEXT NOT NULL CHECK (folder IN ('new', 'saved')),
        heard          INTEGER NOT NULL DEFAULT 0 CHECK (heard IN (0, 1)),
        urgent         INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1)),
        -- The mailbox that forwarded the message here (a later feature); NULL for a message left by a caller.
        forwarded_by   TEXT,
        file_name      TEXT NOT NULL UNIQUE
    );
    CREATE INDEX messages_by_mailbox ON messages (mailbox, folder, received_at, id);
    CREATE INDEX messages_by_age ON messages (received_at);

    ALTER TABLE policy ADD COLUMN message_deletion TEXT NOT NULL DEFAULT 'off'
        CHECK (message_deletion IN ('off', 'permissive', 'strict'));
    ALTER TABLE policy ADD COLUMN message_expiry_days INTEGER NOT NULL DEFAULT 10
        CHECK (message_expiry_days BETWEEN 1 AND 180);
    ALTER TABLE policy ADD COLUMN mailbox_quota_messages INTEGER NOT NULL DEFAULT 100
        CHECK (mailbox_quota_messages > 0);
    ALTER TABLE policy ADD COLUMN mailbox_quota_minutes INTEGER NOT NULL DEFAULT 30
        CHECK (mailbox_quota_minutes > 0);

    -- A user's own quota; NULL means the organization's.
    ALTER TABLE mailboxes ADD COLUMN quota_messages INTEGER CHECK (quota_messages > 0);
    ALTER TABLE mailboxes ADD COLUMN quota_minutes INTEGER CHECK (quota_minutes > 0);
    "#,
    // 3: a portal's own time zone (message envelopes) and a user's voicemail switch.
    r#"
    -- An IANA time zone name; NULL means the server's [messages] time_zone.
    ALTER TABLE portals ADD COLUMN time_zone TEXT;
    -- 0: callers diverted to this user get the ordinary portal; the user can still log in.
    ALTER TABLE mailboxes ADD COLUMN voicemail INTEGER NOT NULL DEFAULT 1 CHECK (voicemail IN (0, 1));
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database to [`SCHEMA_VERSION`]; refuses a database from a newer build.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Corrupt(format!(
            "schema version {version} is newer than this build's {SCHEMA_VERSION}"
        )));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_newer() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(matches!(migrate(&mut conn), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn a_version_1_database_gains_messages_with_the_default_policy() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO policy (id, initial_mode, reset_mode, rules_json, temporary_lifetime_secs)
                 VALUES (1, 'generated', 'generated', '{}', 3600);
             INSERT INTO portals (id, name, language) VALUES ('hq', 'HQ', 'en');
             INSERT INTO mailboxes (mailbox, portal) VALUES ('4711', 'hq');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let policy: (String, i64, i64, i64) = conn
            .query_row(
                "SELECT message_deletion, message_expiry_days, mailbox_quota_messages, mailbox_quota_minutes
                 FROM policy",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(policy, ("off".to_owned(), 10, 100, 30));
        let own: (Option<i64>, Option<i64>) = conn
            .query_row(
                "SELECT quota_messages, quota_minutes FROM mailboxes WHERE mailbox = '4711'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(own, (None, None));
        let messages: i64 = conn
            .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
            .unwrap();
        assert_eq!(messages, 0);
    }

    #[test]
    fn a_version_2_database_gains_a_portal_time_zone_and_voicemail_on() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute_batch(MIGRATIONS[1]).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute_batch(
            "INSERT INTO policy (id, initial_mode, reset_mode, rules_json, temporary_lifetime_secs)
                 VALUES (1, 'generated', 'generated', '{}', 3600);
             INSERT INTO portals (id, name, language) VALUES ('hq', 'HQ', 'en');
             INSERT INTO mailboxes (mailbox, portal, quota_messages) VALUES ('4711', 'hq', 7);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 3);
        let zone: Option<String> = conn
            .query_row("SELECT time_zone FROM portals WHERE id = 'hq'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(zone, None);
        let row: (bool, Option<i64>) = conn
            .query_row(
                "SELECT voicemail, quota_messages FROM mailboxes WHERE mailbox = '4711'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            row,
            (true, Some(7)),
            "voicemail on by default, the rest kept"
        );
        assert!(
            conn.execute(
                "UPDATE mailboxes SET voicemail = 2 WHERE mailbox = '4711'",
                []
            )
            .is_err()
        );
    }
}
