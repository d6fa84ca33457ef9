//! Why a notice could not be delivered.

use std::io;
use std::path::PathBuf;

/// Why a notice could not be built, written or sent.
///
/// No variant holds a passcode or a message body: errors are logged and shown to administrators, and the body
/// of most notices carries a passcode. SMTP errors carry the server's reply, which never echoes the body.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// An email address (the configured sender or a recipient) does not parse.
    #[error("invalid {role} address {address:?}: {reason}")]
    InvalidAddress {
        /// `"from"` or `"to"`.
        role: &'static str,
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The SMTP settings are unusable (for example a password without a user name).
    #[error("invalid SMTP configuration: {0}")]
    Config(String),
    /// The config names an environment variable for the SMTP password, and it is not set.
    #[error(
        "the SMTP password is to come from the environment variable {variable}, which is not set or not valid UTF-8"
    )]
    MissingPasswordVariable {
        /// The variable's name.
        variable: String,
    },
    /// The configured CA file could not be read or holds no usable certificate.
    #[error("cannot use the CA certificate file {path}: {reason}")]
    CaFile {
        /// The file from the config.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// lettre refused to assemble the message (a header it cannot encode, for example).
    #[error("cannot build the email message: {0}")]
    Message(#[from] lettre::error::Error),
    /// Writing to the outbox directory failed.
    #[error("outbox: cannot {action} {path}: {source}")]
    Outbox {
        /// What was being done, as a verb phrase.
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The SMTP exchange failed: the server could not be reached, refused TLS, authentication or a recipient,
    /// or the timeout passed.
    #[error("SMTP delivery through {server} failed: {source}")]
    Smtp {
        /// `host:port` of the relay.
        server: String,
        /// lettre's error, with the server's reply when there was one.
        source: lettre::transport::smtp::Error,
    },
}
