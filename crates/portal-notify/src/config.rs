//! The `[email]` section of the server's config, and choosing a notifier from it.

use std::path::Path;

use serde::Deserialize;

use crate::Notifier;
use crate::error::NotifyError;
use crate::outbox::Outbox;
use crate::smtp::{Smtp, SmtpConfig};

/// The `[email]` section: who messages come from and, optionally, the SMTP relay.
///
/// ```toml
/// [email]
/// from = "vportal <voicemail@example.org>"
///
/// [email.smtp]                       # leave out to write messages to DATA/outbox/ instead
/// host = "smtp.example.org"
/// password_env = "VPORTAL_SMTP_PASSWORD"
/// username = "vportal"
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The `From:` of every message, as `vportal <voicemail@example.org>` or a bare address.
    pub from: String,
    /// The relay; without one, messages go to the outbox.
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
}

/// The notifier `config` asks for: [`Smtp`] when a relay is configured, else the [`Outbox`] in
/// `data_dir/outbox`.
///
/// Fails on a bad `from` address, unusable SMTP settings, a missing password variable, or an outbox
/// directory that cannot be created, so that these show at start-up rather than at the first notice.
pub fn notifier_for(
    config: &EmailConfig,
    data_dir: &Path,
) -> Result<Box<dyn Notifier>, NotifyError> {
    Ok(match &config.smtp {
        Some(smtp) => Box::new(Smtp::new(smtp, &config.from)?),
        None => Box::new(Outbox::in_data_dir(data_dir, &config.from)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::SmtpSecurity;

    #[test]
    fn an_email_section_without_smtp_means_the_outbox() {
        let config: EmailConfig =
            toml::from_str(r#"from = "vportal <voicemail@example.org>""#).unwrap();
        assert_eq!(config.smtp, None);
        let data_dir = tempfile::tempdir().unwrap();
        notifier_for(&config, data_dir.path()).unwrap();
        assert!(data_dir.path().join("outbox").is_dir());
    }

    #[test]
    fn an_email_section_with_smtp_means_the_relay() {
        let config: EmailConfig = toml::from_str(
            r#"
            from = "voicemail@example.org"
            [smtp]
            host = "127.0.0.1"
            security = "none"
            port = 2525
            "#,
        )
        .unwrap();
        let smtp = config.smtp.as_ref().unwrap();
        assert_eq!(smtp.security, SmtpSecurity::None);
        let data_dir = tempfile::tempdir().unwrap();
        notifier_for(&config, data_dir.path()).unwrap();
        assert!(!data_dir.path().join("outbox").exists());
    }

    #[test]
    fn a_bad_sender_fails_at_start_up() {
        let config = EmailConfig {
            from: "vportal at example dot org".into(),
            smtp: None,
        };
        let data_dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            notifier_for(&config, data_dir.path()),
            Err(NotifyError::InvalidAddress { role: "from", .. })
        ));
    }
}
