//! The configuration file (TOML). Every section is optional; see `examples/vportal.toml`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use portal_notify::{EmailConfig, Notifier, NotifyError, Outbox};
use serde::Deserialize;

use portal_sip::access::{AccessPolicy, IpNetwork, RateLimit};

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
    /// Prompts, the media threads and the store's worker threads.
    #[serde(default)]
    pub media: MediaSettings,
    /// How the log is written.
    #[serde(default)]
    pub log: LogSettings,
    /// Prometheus metrics and health endpoints.
    #[serde(default)]
    pub metrics: MetricsSettings,
    /// How voice messages are presented.
    #[serde(default)]
    pub messages: MessageSettings,
}

/// The `[messages]` section.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct MessageSettings {
    /// The IANA time zone (`Europe/Madrid`, `America/New_York`) in which a message's envelope says when it was
    /// received, for portals without a time zone of their own (`admin portal set --time-zone`). Default `UTC`.
    pub time_zone: String,
}

impl Default for MessageSettings {
    fn default() -> Self {
        MessageSettings {
            time_zone: "UTC".into(),
        }
    }
}

impl MessageSettings {
    /// The time zone named by `time_zone`, read from the system's time zone database.
    pub fn zone(&self) -> Result<jiff::tz::TimeZone, String> {
        jiff::tz::TimeZone::get(&self.time_zone)
            .map_err(|error| format!("[messages] time_zone {:?}: {error}", self.time_zone))
    }
}

/// The `[metrics]` section.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// Where `/metrics`, `/healthz` and `/readyz` are served over HTTP (off when absent). Anyone who reaches it
    /// reads call counts, so keep it on loopback or a management network.
    pub listen: Option<SocketAddr>,
}

/// The `[log]` section.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `text` (the default) or `json`; `VPORTAL_LOG_FORMAT` overrides it. What is logged is set by `VPORTAL_LOG`.
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines; colours only when standard error is a terminal.
    #[default]
    Text,
    /// One JSON object a line, with the fields of the spans it happened in (a call's `call_id`).
    Json,
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
    /// A setting parses but names nothing usable.
    #[error("{path}: {what}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        what: String,
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
        let config: Config = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.display().to_string(),
            source,
        })?;
        config
            .messages
            .zone()
            .map_err(|what| ConfigError::Invalid {
                path: path.display().to_string(),
                what,
            })?;
        Ok(config)
    }

    /// The settings of `vportal serve`.
    pub fn serve_settings(&self) -> ServeSettings {
        ServeSettings {
            sip: self.sip.clone(),
            rtp: self.rtp.clone(),
            timers: self.timers.clone(),
            media: self.media.clone(),
            messages: self.messages.clone(),
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

/// The `[sip]`, `[rtp]`, `[timers]` and `[media]` sections of the configuration file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServeSettings {
    /// `[sip]`
    pub sip: SipSettings,
    /// `[rtp]`
    pub rtp: RtpSettings,
    /// `[timers]`
    pub timers: TimerSettings,
    /// `[media]`
    pub media: MediaSettings,
    /// `[messages]`
    pub messages: MessageSettings,
}

/// Where SIP listens and which numbers mean what.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SipSettings {
    /// The address SIP listens on, UDP and TCP (`[::1]:5060` for IPv6).
    pub listen: SocketAddr,
    /// Request-URI users that mean "the voicemail button": the call goes to the caller's own portal.
    pub voicemail_pilots: Vec<String>,
    /// RFC 3261 T1 in milliseconds (tests shorten it).
    pub t1_ms: u64,
    /// How long a call waits before it is answered (0: at once). A caller may CANCEL meanwhile.
    pub answer_after_ms: u64,
    /// Networks whose requests are served (CIDR); others get 403. Default: loopback and private networks.
    pub allow: Vec<String>,
    /// Networks whose phones are recognised by their From (CIDR): a caller from there dialing from a user's
    /// number hears `welcome`. From is not authenticated, so callers from anywhere else take the star-key path
    /// (trusted peers are recognised by P-Asserted-Identity). Default: loopback and private networks.
    pub identify_from: Vec<String>,
    /// Trusted peers (a PBX or SBC in front, CIDR): exempt from the rate limit; their P-Asserted-Identity names
    /// the caller.
    pub trusted: Vec<String>,
    /// New INVITEs per second one source (address and port) may send on average (0: no limit); a host may send
    /// ten times that over all its ports. More get one 503 with Retry-After, never retransmitted; past ten
    /// refusals (then two a second) per host, no answer at all, so a flood is never amplified.
    pub invite_rate_per_second: f64,
    /// New INVITEs one source may send at once.
    pub invite_burst: u32,
    /// A TCP connection without a complete message (or RFC 5626 keep-alive) for this many seconds is closed.
    pub tcp_idle_timeout_s: u64,
    /// TCP connections open at once (fewer when the open-file limit leaves less beside a reserve for RTP and
    /// the store); more are closed as they come.
    pub tcp_max_connections: usize,
    /// TCP connections one IP address may hold open at once.
    pub tcp_max_connections_per_source: usize,
}

/// Loopback and the private networks (RFC 1918, RFC 4193): whom `allow` and `identify_from` name by default.
const LOCAL_NETWORKS: [&str; 6] = [
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
];

impl SipSettings {
    /// The endpoint's access rules from these settings.
    pub fn access_policy(&self) -> Result<AccessPolicy, String> {
        let parse = |list: &[String]| {
            list.iter()
                .map(|text| text.parse::<IpNetwork>().map_err(|error| error.to_string()))
                .collect::<Result<Vec<_>, _>>()
        };
        if !self.invite_rate_per_second.is_finite() || self.invite_rate_per_second < 0.0 {
            return Err("[sip] invite_rate_per_second must be 0 or more".into());
        }
        Ok(AccessPolicy {
            allowed: parse(&self.allow)?,
            trusted: parse(&self.trusted)?,
            identify_from: parse(&self.identify_from)?,
            invite_rate: (self.invite_rate_per_second > 0.0).then_some(RateLimit {
                per_second: self.invite_rate_per_second,
                burst: self.invite_burst.max(1),
            }),
        })
    }
}

impl Default for SipSettings {
    fn default() -> Self {
        SipSettings {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 5060),
            voicemail_pilots: vec!["voicemail".into()],
            t1_ms: 500,
            answer_after_ms: 0,
            allow: LOCAL_NETWORKS.map(str::to_owned).to_vec(),
            trusted: Vec::new(),
            identify_from: LOCAL_NETWORKS.map(str::to_owned).to_vec(),
            invite_rate_per_second: 10.0,
            invite_burst: 20,
            tcp_idle_timeout_s: 60,
            tcp_max_connections: 1024,
            tcp_max_connections_per_source: 32,
        }
    }
}

/// The RTP ports and the address announced in SDP.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RtpSettings {
    /// Lowest RTP port.
    pub port_min: u16,
    /// Highest RTP port.
    pub port_max: u16,
    /// The address phones send RTP to; by default the SIP listen address (which must then not be a wildcard).
    pub address: Option<IpAddr>,
}

impl Default for RtpSettings {
    fn default() -> Self {
        RtpSettings {
            port_min: 16384,
            port_max: 32767,
            address: None,
        }
    }
}

/// The conversation's timers.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct TimerSettings {
    /// Wait for the first key after a prompt.
    pub first_digit_ms: u64,
    /// Wait between keys of an entry.
    pub inter_digit_ms: u64,
    /// Silent re-prompts before goodbye.
    pub max_silent_reprompts: u8,
    /// Shortest recording kept.
    pub min_recording_ms: u64,
    /// Longest recording.
    pub max_recording_ms: u64,
    /// Silence after speech that ends a recording.
    pub recording_end_silence_ms: u64,
}

impl Default for TimerSettings {
    fn default() -> Self {
        TimerSettings {
            first_digit_ms: 10_000,
            inter_digit_ms: 5_000,
            max_silent_reprompts: 3,
            min_recording_ms: 1_000,
            max_recording_ms: 60_000,
            recording_end_silence_ms: 3_000,
        }
    }
}

/// Where the prompt recordings are, and the threads that carry media and store work.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct MediaSettings {
    /// The prompts directory (holding `<lang>/<id>.wav`).
    pub prompts: PathBuf,
    /// Media threads: each paces and reads its own share of the calls over its own RTP sockets; a new call
    /// goes to the one holding the fewest. Default: one per core. 1 or more.
    #[serde(deserialize_with = "media_threads")]
    pub threads: usize,
    /// Threads for passcode work (argon2 verification and hashing, with its SQL). Routing, caller lookups and
    /// recordings have one thread of their own, so they never wait behind passcode work.
    pub store_threads: usize,
}

/// The prompts of this source tree, for a server started from elsewhere than the repository's root.
const BUILT_IN_PROMPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../prompts");

impl Default for MediaSettings {
    fn default() -> Self {
        let here = PathBuf::from("prompts");
        MediaSettings {
            prompts: if here.is_dir() {
                here
            } else {
                PathBuf::from(BUILT_IN_PROMPTS)
            },
            threads: one_per_core(),
            store_threads: 2,
        }
    }
}

/// The cores this process may use (1 when the system does not say): the default of `[media] threads`.
fn one_per_core() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// `[media] threads`: a count of at least one.
fn media_threads<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    match usize::deserialize(deserializer)? {
        0 => Err(serde::de::Error::custom(
            "[media] threads must be 1 or more (leave it out for one per core)",
        )),
        threads => Ok(threads),
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

    #[test]
    fn the_message_time_zone_is_utc_unless_a_known_one_is_named() {
        let defaults = Config::default();
        assert_eq!(defaults.messages.time_zone, "UTC");
        assert!(defaults.messages.zone().is_ok());
        let madrid: Config = toml::from_str("[messages]\ntime_zone = \"Europe/Madrid\"\n").unwrap();
        assert!(madrid.messages.zone().is_ok());
        let nowhere = MessageSettings {
            time_zone: "Mars/Olympus_Mons".into(),
        };
        assert!(nowhere.zone().unwrap_err().contains("Mars/Olympus_Mons"));
    }

    #[test]
    fn media_threads_default_to_one_per_core_and_zero_is_refused_by_name() {
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(Config::default().media.threads, cores);
        let unset: Config = toml::from_str("[media]\nstore_threads = 2\n").unwrap();
        assert_eq!(unset.media.threads, cores);
        let three: Config = toml::from_str("[media]\nthreads = 3\n").unwrap();
        assert_eq!(three.media.threads, 3);
        let zero = toml::from_str::<Config>("[media]\nthreads = 0\n").unwrap_err();
        assert!(
            zero.to_string()
                .contains("[media] threads must be 1 or more"),
            "{zero}"
        );
        assert!(toml::from_str::<Config>("[media]\nthreads = -1\n").is_err());
    }
}
