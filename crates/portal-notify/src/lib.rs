//! Notifications for vportal: the emails that tell users about their voicemail passcode and mailbox.
//!
//! When an administrator onboards a user or resets a passcode, the user learns the passcode by email: either
//! the organization's default passcode (which must be changed at first login) or a passcode generated for
//! them alone (temporary and one-time: it only opens the forced change). Users are also told when their
//! mailbox locks after too many wrong passcodes and when their passcode changes; those two notices carry no
//! passcode.
//!
//! Everything goes through one trait, [`Notifier`], with two implementations:
//!
//! - [`Outbox`], the default when no SMTP relay is configured: each message is written as an RFC 5322 `.eml`
//!   file to `DATA/outbox/`, for an operator to pick up or forward. Files are written atomically (temporary
//!   file in the same directory, fsync, rename) so a reader never sees half a message, and are named by UTC
//!   time plus a random part so they sort by age. Because the files hold passcodes, the directory is
//!   created `0700` and each file `0600`.
//! - [`Smtp`], sending through a relay with lettre's blocking `SmtpTransport`, one connection per message
//!   (notices are rare). Security is `none`, `starttls` (required, never opportunistic) or `tls` (implicit
//!   TLS); rustls checks the server against the system's CA store plus an optional CA file. The password
//!   comes either from the config or, better, from an environment variable the config names (such as
//!   `VPORTAL_SMTP_PASSWORD`), so it need not sit in a file. Sending blocks for up to the configured timeout:
//!   callers run it on a blocking pool, never on the threads that pace RTP.
//!
//! [`EmailConfig`] is the `[email]` section of the server's config, and [`notifier_for`] turns it into the
//! right notifier.
//!
//! Passcodes appear only in message bodies. Subjects, errors ([`NotifyError`]) and log lines (a `tracing`
//! debug line per delivery, with recipient and subject) never hold one; lettre's own logging is not enabled.
//!
//! ```
//! use portal_core::Passcode;
//! use portal_notify::{EmailConfig, Notice, Recipient, notifier_for};
//!
//! let data_dir = tempfile::tempdir().unwrap();
//! let config: EmailConfig = toml::from_str(r#"from = "vportal <voicemail@example.org>""#).unwrap();
//! let notifier = notifier_for(&config, data_dir.path()).unwrap(); // no [email.smtp]: the outbox
//! let notice = Notice::OnboardedWithTemporaryPasscode {
//!     mailbox: "4711".into(),
//!     portal_number: "+1 555 0100".into(),
//!     passcode: Passcode::parse("482913").unwrap(),
//!     valid_until_unix: 1_795_676_400, // 2026-11-26 07:00 UTC
//! };
//! let delivery = notifier.send(&Recipient::named("Ada Lovelace", "ada@example.org"), &notice).unwrap();
//! assert!(delivery.outbox_path().unwrap().starts_with(data_dir.path().join("outbox")));
//! ```

mod config;
mod error;
mod message;
mod notice;
mod outbox;
mod smtp;
mod time;

use std::path::{Path, PathBuf};

pub use config::{EmailConfig, notifier_for};
pub use error::NotifyError;
pub use notice::{Notice, Recipient, RenderedNotice};
pub use outbox::Outbox;
pub use smtp::{Smtp, SmtpConfig, SmtpSecurity};

/// Something that delivers notices to users.
///
/// Implementations block (disk or network); call them from a blocking pool, not from the media path.
pub trait Notifier: Send + Sync {
    /// Builds the message for `notice` and delivers it to `to`.
    fn send(&self, to: &Recipient, notice: &Notice) -> Result<Delivery, NotifyError>;
}

/// Where a message went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The SMTP relay accepted the message.
    Smtp {
        /// The message's `Message-ID` header, angle brackets included.
        message_id: String,
    },
    /// The message was written to the outbox.
    Outbox {
        /// The message's `Message-ID` header, angle brackets included.
        message_id: String,
        /// The `.eml` file.
        path: PathBuf,
    },
}

impl Delivery {
    /// The `Message-ID` of the delivered message.
    pub fn message_id(&self) -> &str {
        match self {
            Delivery::Smtp { message_id } | Delivery::Outbox { message_id, .. } => message_id,
        }
    }

    /// The outbox file, when the message went to the outbox.
    pub fn outbox_path(&self) -> Option<&Path> {
        match self {
            Delivery::Smtp { .. } => None,
            Delivery::Outbox { path, .. } => Some(path),
        }
    }
}
