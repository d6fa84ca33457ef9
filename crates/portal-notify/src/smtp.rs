//! Sending through an SMTP relay.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};
use serde::Deserialize;

use crate::error::NotifyError;
use crate::message::{compose, parse_sender};
use crate::notice::{Notice, Recipient};
use crate::{Delivery, Notifier};

/// How the connection to the relay is protected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain text. Only for a relay on the same host or a trusted network: passcodes, and the SMTP password
    /// if one is configured, travel in the clear.
    None,
    /// Plain connection upgraded with STARTTLS, which the server must offer (no fallback to plain text).
    #[default]
    Starttls,
    /// TLS from the first byte ("implicit TLS", SMTPS).
    Tls,
}

impl SmtpSecurity {
    /// The usual port for this mode: 25, 587 or 465.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::None => 25,
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
        }
    }
}

fn default_timeout_seconds() -> u64 {
    30
}

/// The `[email.smtp]` section: how to reach the relay.
///
/// ```toml
/// [email.smtp]
/// host = "smtp.example.org"
/// security = "starttls"            # none | starttls | tls (default starttls)
/// port = 587                       # default by security: 25, 587, 465
/// username = "vportal"
/// password_env = "VPORTAL_SMTP_PASSWORD"
/// timeout_seconds = 30
/// ```
///
/// The password is given either directly (`password`) or, preferably, as the name of an environment variable
/// (`password_env`) read when the notifier is built. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The relay's host name (checked against its certificate) or IP address.
    pub host: String,
    /// The relay's port; when absent, [`SmtpSecurity::default_port`].
    #[serde(default)]
    pub port: Option<u16>,
    /// How the connection is protected.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// The user name for SMTP AUTH; no authentication when absent.
    #[serde(default)]
    pub username: Option<String>,
    /// The password for SMTP AUTH, written in the config. Prefer `password_env`.
    #[serde(default)]
    pub password: Option<String>,
    /// The name of an environment variable holding the password, such as `VPORTAL_SMTP_PASSWORD`.
    #[serde(default)]
    pub password_env: Option<String>,
    /// A PEM file with a CA certificate to trust in addition to the system's, for a relay with a private CA.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// How long to wait on the relay for each step of the exchange.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
}

impl SmtpConfig {
    /// A relay at `host` with the given security, on that mode's usual port, without authentication.
    pub fn new(host: impl Into<String>, security: SmtpSecurity) -> SmtpConfig {
        SmtpConfig {
            host: host.into(),
            port: None,
            security,
            username: None,
            password: None,
            password_env: None,
            ca_file: None,
            timeout_seconds: default_timeout_seconds(),
        }
    }

    /// The port to connect to.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or_else(|| self.security.default_port())
    }

    /// User name and password, with the password looked up through `env` when the config names a variable.
    fn credentials(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Credentials>, NotifyError> {
        let password = match (&self.password, &self.password_env) {
            (Some(_), Some(_)) => {
                return Err(NotifyError::Config(
                    "give either password or password_env, not both".to_owned(),
                ));
            }
            (Some(password), None) => Some(password.clone()),
            (None, Some(variable)) => {
                Some(
                    env(variable).ok_or_else(|| NotifyError::MissingPasswordVariable {
                        variable: variable.clone(),
                    })?,
                )
            }
            (None, None) => None,
        };
        match (&self.username, password) {
            (Some(username), Some(password)) => {
                Ok(Some(Credentials::new(username.clone(), password)))
            }
            (None, None) => Ok(None),
            (Some(_), None) => Err(NotifyError::Config(
                "a username needs a password (password or password_env)".to_owned(),
            )),
            (None, Some(_)) => Err(NotifyError::Config(
                "a password needs a username".to_owned(),
            )),
        }
    }

    fn tls_parameters(&self) -> Result<TlsParameters, NotifyError> {
        let mut builder = TlsParameters::builder(self.host.clone());
        if let Some(path) = &self.ca_file {
            let unusable = |reason: String| NotifyError::CaFile {
                path: path.clone(),
                reason,
            };
            let pem = std::fs::read(path).map_err(|error| unusable(error.to_string()))?;
            let certificate =
                Certificate::from_pem(&pem).map_err(|error| unusable(error.to_string()))?;
            builder = builder.add_root_certificate(certificate);
        }
        builder
            .build_rustls()
            .map_err(|error| NotifyError::Config(format!("TLS setup failed: {error}")))
    }
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("password_env", &self.password_env)
            .field("ca_file", &self.ca_file)
            .field("timeout_seconds", &self.timeout_seconds)
            .finish()
    }
}

/// Sends each notice through an SMTP relay, one connection per message.
///
/// `send` blocks until the relay accepts the message or the timeout passes; run it on a blocking pool, never
/// on the threads that pace RTP.
pub struct Smtp {
    transport: SmtpTransport,
    from: Mailbox,
    server: String,
}

impl Smtp {
    /// A notifier for the relay in `config`, sending as `from` (`vportal <voicemail@example.org>`).
    ///
    /// Reads the password's environment variable now, so a missing one shows at start-up. Does not connect;
    /// see [`Smtp::check_connection`].
    pub fn new(config: &SmtpConfig, from: &str) -> Result<Smtp, NotifyError> {
        Smtp::with_environment(config, from, |name| std::env::var(name).ok())
    }

    fn with_environment(
        config: &SmtpConfig,
        from: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Smtp, NotifyError> {
        if config.host.trim().is_empty() {
            return Err(NotifyError::Config("the host is empty".to_owned()));
        }
        if config.timeout_seconds == 0 {
            return Err(NotifyError::Config(
                "timeout_seconds must be at least 1".to_owned(),
            ));
        }
        let from = parse_sender(from)?;
        let tls = match config.security {
            SmtpSecurity::None => Tls::None,
            SmtpSecurity::Starttls => Tls::Required(config.tls_parameters()?),
            SmtpSecurity::Tls => Tls::Wrapper(config.tls_parameters()?),
        };
        let mut builder = SmtpTransport::builder_dangerous(config.host.clone())
            .port(config.effective_port())
            .tls(tls)
            .timeout(Some(Duration::from_secs(config.timeout_seconds)));
        if let Some(credentials) = config.credentials(env)? {
            builder = builder.credentials(credentials);
        }
        Ok(Smtp {
            transport: builder.build(),
            from,
            server: format!("{}:{}", config.host, config.effective_port()),
        })
    }

    /// Connects to the relay, negotiates TLS and authenticates as configured, then hangs up: a start-up or
    /// `check-config` probe that sends nothing.
    pub fn check_connection(&self) -> Result<(), NotifyError> {
        match self.transport.test_connection() {
            Ok(true) => Ok(()),
            Ok(false) => Err(NotifyError::Config(format!(
                "the relay {} did not answer NOOP",
                self.server
            ))),
            Err(source) => Err(self.failed(source)),
        }
    }

    fn failed(&self, source: lettre::transport::smtp::Error) -> NotifyError {
        NotifyError::Smtp {
            server: self.server.clone(),
            source,
        }
    }
}

impl fmt::Debug for Smtp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Smtp")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Notifier for Smtp {
    fn send(&self, to: &Recipient, notice: &Notice) -> Result<Delivery, NotifyError> {
        let composed = compose(&self.from, to, notice, SystemTime::now())?;
        self.transport
            .send(&composed.message)
            .map_err(|source| self.failed(source))?;
        tracing::debug!(
            to = %to.address,
            subject = %composed.subject,
            kind = notice.kind(),
            server = %self.server,
            "notice sent by SMTP"
        );
        Ok(Delivery::Smtp {
            message_id: composed.message_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FROM: &str = "vportal <voicemail@example.org>";

    fn no_environment(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn config_reads_from_toml_with_defaults() {
        let config: SmtpConfig = toml::from_str(r#"host = "smtp.example.org""#).unwrap();
        assert_eq!(config.security, SmtpSecurity::Starttls);
        assert_eq!(config.effective_port(), 587);
        assert_eq!(config.timeout_seconds, 30);
        assert_eq!(
            config,
            SmtpConfig::new("smtp.example.org", SmtpSecurity::Starttls)
        );

        let config: SmtpConfig = toml::from_str(
            r#"
            host = "mail.example.org"
            security = "tls"
            username = "vportal"
            password_env = "VPORTAL_SMTP_PASSWORD"
            timeout_seconds = 5
            "#,
        )
        .unwrap();
        assert_eq!(config.security, SmtpSecurity::Tls);
        assert_eq!(config.effective_port(), 465);
        assert_eq!(
            config.password_env.as_deref(),
            Some("VPORTAL_SMTP_PASSWORD")
        );

        let plain: SmtpConfig =
            toml::from_str("host = \"127.0.0.1\"\nsecurity = \"none\"\nport = 2525").unwrap();
        assert_eq!(plain.effective_port(), 2525);
    }

    #[test]
    fn config_rejects_unknown_keys_and_modes() {
        assert!(toml::from_str::<SmtpConfig>("host = \"h\"\nsecurity = \"ssl\"").is_err());
        assert!(toml::from_str::<SmtpConfig>("host = \"h\"\npasword = \"x\"").is_err());
    }

    #[test]
    fn password_comes_from_the_named_environment_variable() {
        let mut config = SmtpConfig::new("smtp.example.org", SmtpSecurity::Starttls);
        config.username = Some("vportal".into());
        config.password_env = Some("VPORTAL_SMTP_PASSWORD".into());
        let environment =
            |name: &str| (name == "VPORTAL_SMTP_PASSWORD").then(|| "s3cret".to_owned());
        let credentials = config.credentials(environment).unwrap();
        assert_eq!(
            credentials,
            Some(Credentials::new("vportal".into(), "s3cret".into()))
        );
        assert!(Smtp::with_environment(&config, FROM, environment).is_ok());

        let error = Smtp::with_environment(&config, FROM, no_environment).unwrap_err();
        assert!(
            matches!(&error, NotifyError::MissingPasswordVariable { variable } if variable == "VPORTAL_SMTP_PASSWORD")
        );
        assert!(error.to_string().contains("VPORTAL_SMTP_PASSWORD"));
    }

    #[test]
    fn inconsistent_credentials_are_refused() {
        let mut both = SmtpConfig::new("smtp.example.org", SmtpSecurity::Starttls);
        both.username = Some("vportal".into());
        both.password = Some("s3cret".into());
        both.password_env = Some("VPORTAL_SMTP_PASSWORD".into());
        assert!(matches!(
            both.credentials(no_environment),
            Err(NotifyError::Config(_))
        ));

        let mut user_only = SmtpConfig::new("smtp.example.org", SmtpSecurity::Starttls);
        user_only.username = Some("vportal".into());
        assert!(matches!(
            user_only.credentials(no_environment),
            Err(NotifyError::Config(_))
        ));

        let mut password_only = SmtpConfig::new("smtp.example.org", SmtpSecurity::Starttls);
        password_only.password = Some("s3cret".into());
        let error = password_only.credentials(no_environment).unwrap_err();
        assert!(!error.to_string().contains("s3cret"));

        let anonymous = SmtpConfig::new("smtp.example.org", SmtpSecurity::Starttls);
        assert_eq!(anonymous.credentials(no_environment).unwrap(), None);
    }

    #[test]
    fn bad_settings_fail_when_the_notifier_is_built() {
        let empty_host = SmtpConfig::new(" ", SmtpSecurity::None);
        assert!(matches!(
            Smtp::new(&empty_host, FROM),
            Err(NotifyError::Config(_))
        ));

        let mut no_timeout = SmtpConfig::new("smtp.example.org", SmtpSecurity::None);
        no_timeout.timeout_seconds = 0;
        assert!(matches!(
            Smtp::new(&no_timeout, FROM),
            Err(NotifyError::Config(_))
        ));

        let good = SmtpConfig::new("smtp.example.org", SmtpSecurity::Tls);
        assert!(matches!(
            Smtp::new(&good, "not an address"),
            Err(NotifyError::InvalidAddress { role: "from", .. })
        ));

        let mut missing_ca = SmtpConfig::new("smtp.example.org", SmtpSecurity::Starttls);
        missing_ca.ca_file = Some("/nonexistent/ca.pem".into());
        assert!(matches!(
            Smtp::new(&missing_ca, FROM),
            Err(NotifyError::CaFile { .. })
        ));
    }

    #[test]
    fn debug_output_hides_the_password() {
        let mut config = SmtpConfig::new("smtp.example.org", SmtpSecurity::Starttls);
        config.username = Some("vportal".into());
        config.password = Some("s3cret".into());
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("***"));
        let smtp = Smtp::new(&config, FROM).unwrap();
        assert!(!format!("{smtp:?}").contains("s3cret"));
    }
}
