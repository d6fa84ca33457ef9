//! The store's error type.

use std::path::PathBuf;

use portal_core::rules::{RuleViolation, RulesError};

use crate::messages::QuotaLimit;

/// Why a store operation failed. A passcode never appears in an error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The new passcode breaks a rule of the policy (or was used recently, or changed too soon).
    #[error("passcode rejected: {0:?}")]
    Rejected(RuleViolation),
    /// The passcode rules themselves are inconsistent.
    #[error("invalid passcode rules: {0:?}")]
    InvalidRules(RulesError),
    /// The policy needs a default passcode (initial or reset mode `default`) but none was given or stored.
    #[error("the policy uses a default passcode but none is set")]
    MissingDefaultPasscode,
    /// No passcode satisfying the rules could be generated (the rules leave too few candidates).
    #[error("could not generate a passcode that satisfies the rules")]
    CannotGenerate,
    /// No such mailbox.
    #[error("no mailbox {0}")]
    UnknownMailbox(String),
    /// No such voice portal.
    #[error("no voice portal {0}")]
    UnknownPortal(String),
    /// No such recording.
    #[error("no recording {0}")]
    UnknownRecording(i64),
    /// No such voice message in this mailbox (a message of another mailbox is reported the same way).
    #[error("no message {0}")]
    UnknownMessage(i64),
    /// The mailbox cannot take this message: it would hold more messages or more minutes than its quota.
    #[error("mailbox {mailbox} is full (its quota of {limit})")]
    QuotaFull {
        /// The mailbox.
        mailbox: String,
        /// The limit the message would break.
        limit: QuotaLimit,
    },
    /// A setting is out of its bounds (a quota, an expiry in days); the message names it and the bounds.
    #[error("{0}")]
    InvalidSetting(String),
    /// A mailbox, phone number or extension is already taken.
    #[error("already in use: {0}")]
    AlreadyExists(String),
    /// A mailbox id, number or extension is not made of digits.
    #[error("not a digit string: {0}")]
    NotDigits(String),
    /// The account changed under a write three times in a row; the caller may try again.
    #[error("the account changed concurrently; try again")]
    Conflict,
    /// The sealing key cannot be used (bad length, bad hex, unsafe file permissions, ...).
    #[error("sealing key: {0}")]
    Key(String),
    /// The sealed default passcode does not open with this key (wrong key, or the data was altered).
    #[error("the sealed default passcode does not open with this key")]
    Unseal,
    /// The database holds something this version cannot read (a newer schema, a corrupt value).
    #[error("database content: {0}")]
    Corrupt(String),
    /// argon2 failed (it only does with invalid parameters).
    #[error("argon2: {0}")]
    Hash(String),
    /// The operating system's random generator failed.
    #[error("random generator: {0}")]
    Random(String),
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { path, source }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
