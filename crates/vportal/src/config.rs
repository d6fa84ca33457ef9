//! The configuration file (TOML). Every section is optional; see `examples/vportal.toml`.

use std::path::Path;

use portal_notify::{EmailConfig, Notifier, NotifyError, Outbox};
use serde::Deserialize;

use crate::serve::{MediaSettings, RtpSettings, ServeSettings, SipSettings, TimerSettings};

/// The `From:` of notices when the configuration names none.
pub const DEFAULT_FROM: &str = "vportal <voicemail@localhost>";

/// The whole configuration file.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Email: the sender and, optionally, an SMTP relay. Without it notices go to `DATA/outbox/`.
    #[serde(default)]
    pub email: Option<EmailConfig>,
    /// Where SIP listens and which numbers mean the voicemail button.
    #[serde(default)]
    pub sip: SipSettings,
    /// RTP ports and address.
    #[serde(default)]
    pub rtp: RtpSettings,
    /// The conversation's timers.
    #[serde(default)]
    pub timers: TimerSettings,
    /// Prompts and the store's worker threads.
    #[serde(default)]
    pub media: MediaSettings,
}

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not a valid configuration.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        source: toml::de::Error,
    },
}

impl Config {
    /// Reads `path`, or the defaults when there is no file.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.display().to_string(),
            source,
        })
    }

    /// The settings of `vportal serve`.
    pub fn serve_settings(&self) -> ServeSettings {
        ServeSettings {
            sip: self.sip.clone(),
            rtp: self.rtp.clone(),
            timers: self.timers.clone(),
            media: self.media.clone(),
        }
    }

    /// How users are emailed: the configured SMTP relay, else the outbox in `data`.
    pub fn notifier(&self, data: &Path) -> Result<Box<dyn Notifier>, NotifyError> {
        match &self.email {
            Some(email) => portal_notify::notifier_for(email, data),
            None => Ok(Box::new(Outbox::in_data_dir(data, DEFAULT_FROM)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_configuration_parses() {
        let example = include_str!("../../../examples/vportal.toml");
        let config: Config = toml::from_str(example).unwrap();
        assert!(config.email.is_some());
    }

    #[test]
    fn unknown_settings_are_refused_and_no_file_means_defaults() {
        assert!(toml::from_str::<Config>("[emial]\nfrom = \"x\"\n").is_err());
        assert_eq!(Config::load(None).unwrap(), Config::default());
        let missing = Config::load(Some(Path::new("/nonexistent/vportal.toml"))).unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/vportal.toml"));
    }
}
