//! The command line: what an operator types, with the help clap prints. `vportal --help` says what the
//! program is for; each subcommand's help says what it does for the operator.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The version line: the package version and the git revision it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("VPORTAL_GIT_REVISION"),
    ")"
);
/// vportal: the voice portal callers dial to reach their voicemail: it asks for their passcode, locks a mailbox
/// after repeated wrong ones, makes new users choose a passcode and record their name, and lets administrators
/// set the passcode policy, onboard users and unlock them.
///
/// Start it with `vportal serve`; try a call without a phone with `vportal console`; administer it with
/// `vportal admin`. Logs go to standard error (VPORTAL_LOG sets what, VPORTAL_LOG_FORMAT=json the format).
#[derive(Parser)]
#[command(name = "vportal", version = VERSION)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Where the portal's data lives.
#[derive(Args)]
pub(crate) struct DataArgs {
    /// The data directory (created if missing): the database, recordings/ and outbox/.
    #[arg(long, value_name = "DIR")]
    pub(crate) data: PathBuf,
    /// The configuration file (see examples/vportal.toml).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// The file holding the key that seals the organization's default passcode (default: DIR.key beside the
    /// data directory; the environment variable VPORTAL_SEALING_KEY wins over it).
    #[arg(long, value_name = "FILE")]
    pub(crate) sealing_key: Option<PathBuf>,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Call the portal from this terminal: prompts are printed, typed keys are key presses.
    Console {
        #[command(flatten)]
        data: DataArgs,
        /// Seed the data directory with a demo portal and users when it is empty, and print how to log in.
        #[arg(long)]
        demo: bool,
        /// The number the call comes from (omit it to call from a phone no mailbox knows).
        #[arg(long, value_name = "NUMBER")]
        from: Option<String>,
        /// The portal number or extension dialed (default: the only portal).
        #[arg(long, value_name = "NUMBER", conflicts_with = "voicemail_button")]
        dial: Option<String>,
        /// Press the phone's voicemail button instead of dialing (needs --from).
        #[arg(long, requires = "from")]
        voicemail_button: bool,
    },
    /// Run the voice portal: SIP (UDP and TCP) and RTP. Stops on SIGINT or SIGTERM: new calls get 503, calls in
    /// progress are hung up.
    Serve {
        #[command(flatten)]
        data: DataArgs,
        /// Where SIP listens, UDP and TCP (overrides [sip] listen).
        #[arg(long, value_name = "ADDR")]
        sip_listen: Option<std::net::SocketAddr>,
        /// The RTP port range (overrides [rtp] port_min and port_max).
        #[arg(long, value_name = "LOW-HIGH", value_parser = port_range)]
        rtp_ports: Option<(u16, u16)>,
        /// The prompts directory (overrides [media] prompts).
        #[arg(long, value_name = "DIR")]
        prompts: Option<PathBuf>,
        /// Serve Prometheus metrics, /healthz and /readyz over HTTP here (overrides [metrics] listen).
        #[arg(long, value_name = "ADDR")]
        metrics_listen: Option<std::net::SocketAddr>,
        /// Seed the data directory with a demo portal and users when it is empty, and print how to call them.
        #[arg(long)]
        demo: bool,
    },
    /// Administer the voicemail passcode policy, the portals and the users (what an administrator does in the
    /// admin portal), and read the audit trail.
    Admin {
        #[command(flatten)]
        data: DataArgs,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Print a shell completion script for vportal (bash, zsh, fish, elvish or powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print vportal's manual page (roff), for `man -l -` or /usr/share/man/man1/vportal.1.
    Manpage,
}

#[derive(Subcommand)]
pub(crate) enum AdminCommand {
    /// The organization's voicemail passcode policy.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Voice portals.
    Portal {
        #[command(subcommand)]
        command: PortalCommand,
    },
    /// Users and their mailboxes.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The audit trail (logins, failures, locks, resets, changes), newest first, as JSON lines.
    Audit {
        /// Only this mailbox (or number a caller entered).
        #[arg(long)]
        mailbox: Option<String>,
        /// At most this many entries.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

#[derive(Subcommand)]
pub(crate) enum PolicyCommand {
    /// Print the policy as JSON (the default passcode only as whether it is set).
    Show,
    /// Change the policy. Existing users keep their passcodes.
    Set(PolicySetArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum InitialPin {
    /// The organization's default passcode (emailed to each new user, changed at first login).
    Default,
    /// A random temporary passcode per user (emailed, changed at first login).
    Generated,
    /// No passcode: each new user sets one in their settings first (`user set-pin`).
    None,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ResetPin {
    /// Back to the organization's default passcode.
    Default,
    /// A random temporary passcode.
    Generated,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Preset {
    /// Passcodes of exactly 7 digits (the usual rule for an organization's default passcode).
    #[value(name = "exactly-7-digits")]
    Exactly7Digits,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Allowance {
    Allow,
    Forbid,
}

#[derive(Args)]
pub(crate) struct PolicySetArgs {
    /// What new users get as their first passcode.
    #[arg(long)]
    pub(crate) initial_pin: Option<InitialPin>,
    /// What an administrator's reset gives.
    #[arg(long)]
    pub(crate) reset_pin: Option<ResetPin>,
    /// Read a new default passcode from standard input (asked twice on a terminal; never on the command line).
    #[arg(long)]
    pub(crate) default_pin_stdin: bool,
    /// Start the rules from a preset, before the rule flags below.
    #[arg(long)]
    pub(crate) preset: Option<Preset>,
    /// Fewest digits a passcode may have.
    #[arg(long, value_name = "N")]
    pub(crate) min_length: Option<u8>,
    /// Most digits a passcode may have (at most 30).
    #[arg(long, value_name = "N")]
    pub(crate) max_length: Option<u8>,
    /// Longest run of one digit (0: no limit).
    #[arg(long, value_name = "N")]
    pub(crate) max_repeated_digits: Option<u8>,
    /// Longest ascending or descending run of digits (0: no limit).
    #[arg(long, value_name = "N")]
    pub(crate) max_sequence_length: Option<u8>,
    /// Passcodes that repeat a pattern, like 121212.
    #[arg(long)]
    pub(crate) repeated_patterns: Option<Allowance>,
    /// Passcodes equal to the user's extension, phone number or mailbox, or their reverse.
    #[arg(long)]
    pub(crate) user_numbers: Option<Allowance>,
    /// How many previous passcodes may not be reused (0: off).
    #[arg(long, value_name = "N")]
    pub(crate) history: Option<u8>,
    /// Days after which a passcode expires, or `off`.
    #[arg(long, value_name = "DAYS|off", value_parser = days_or_off)]
    pub(crate) expiry_days: Option<Days>,
    /// Days between voluntary passcode changes, or `off`.
    #[arg(long, value_name = "DAYS|off", value_parser = days_or_off)]
    pub(crate) min_days_between_changes: Option<Days>,
    /// Wrong passcodes in a row before the mailbox locks.
    #[arg(long, value_name = "N")]
    pub(crate) lockout_attempts: Option<u32>,
    /// Hours a generated temporary passcode works.
    #[arg(long, value_name = "HOURS")]
    pub(crate) temporary_pin_hours: Option<u64>,
    /// When expired voice messages are deleted.
    #[arg(long)]
    pub(crate) message_deletion: Option<MessageDeletionArg>,
    /// Days after which a voice message expires (1 to 180).
    #[arg(long, value_name = "DAYS", value_parser = expiry_days)]
    pub(crate) message_expiry_days: Option<u16>,
    /// Every user's mailbox quota in messages, unless they have their own (1 to 10000).
    #[arg(long, value_name = "N", value_parser = quota_messages)]
    pub(crate) mailbox_quota_messages: Option<u32>,
    /// Every user's mailbox quota in minutes of messages, unless they have their own (1 to 6000).
    #[arg(long, value_name = "MINUTES", value_parser = quota_minutes)]
    pub(crate) mailbox_quota_minutes: Option<u32>,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum MessageDeletionArg {
    /// Messages never expire.
    Off,
    /// Expired messages the user has heard are deleted when they open the mailbox; unheard ones are kept.
    Permissive,
    /// Every expired message, heard or not, is deleted on schedule.
    Strict,
}

/// A whole number from `low` to `high`.
fn bounded(text: &str, low: u32, high: u32) -> Result<u32, String> {
    text.parse::<u32>()
        .ok()
        .filter(|value| (low..=high).contains(value))
        .ok_or_else(|| format!("`{text}` is not a number from {low} to {high}"))
}

pub(crate) fn expiry_days(text: &str) -> Result<u16, String> {
    bounded(text, 1, u32::from(portal_store::MAX_EXPIRY_DAYS)).map(|days| days as u16)
}

pub(crate) fn quota_messages(text: &str) -> Result<u32, String> {
    bounded(text, 1, portal_store::MAX_QUOTA_MESSAGES)
}

pub(crate) fn quota_minutes(text: &str) -> Result<u32, String> {
    bounded(text, 1, portal_store::MAX_QUOTA_MINUTES)
}

/// A user's own quota value, or `default` for the organization's.
#[derive(Clone, Copy)]
pub(crate) struct OwnQuota(pub(crate) Option<u32>);

fn own_quota(text: &str, parse: fn(&str) -> Result<u32, String>) -> Result<OwnQuota, String> {
    if text == "default" {
        return Ok(OwnQuota(None));
    }
    parse(text)
        .map(|value| OwnQuota(Some(value)))
        .map_err(|error| format!("{error}, nor `default`"))
}

pub(crate) fn own_quota_messages(text: &str) -> Result<OwnQuota, String> {
    own_quota(text, quota_messages)
}

pub(crate) fn own_quota_minutes(text: &str) -> Result<OwnQuota, String> {
    own_quota(text, quota_minutes)
}

pub(crate) fn port_range(text: &str) -> Result<(u16, u16), String> {
    let (low, high) = text
        .split_once('-')
        .ok_or_else(|| format!("`{text}`: write the range as LOW-HIGH, like 16384-32767"))?;
    let parse = |port: &str| {
        port.trim()
            .parse::<u16>()
            .map_err(|_| format!("`{port}` is not a port number"))
    };
    let (low, high) = (parse(low)?, parse(high)?);
    if low == 0 || low > high {
        return Err(format!("`{text}` is not a range of ports"));
    }
    Ok((low, high))
}

/// A number of days, or none (`off`).
#[derive(Clone, Copy)]
pub(crate) struct Days(pub(crate) Option<u32>);

pub(crate) fn days_or_off(text: &str) -> Result<Days, String> {
    if text == "off" {
        return Ok(Days(None));
    }
    text.parse::<u32>()
        .map(|days| Days(Some(days)))
        .map_err(|_| format!("`{text}` is neither a number of days nor `off`"))
}

/// A portal's own time zone (an IANA name the system's time zone database knows), or `None` for the
/// server's (`default`).
#[derive(Clone)]
pub(crate) struct PortalZone(pub(crate) Option<String>);

pub(crate) fn portal_zone(text: &str) -> Result<PortalZone, String> {
    if text == "default" {
        return Ok(PortalZone(None));
    }
    vportal::admin::check_time_zone(text).map(|()| PortalZone(Some(text.to_owned())))
}

/// On or off.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Switch {
    On,
    Off,
}

#[derive(Subcommand)]
pub(crate) enum PortalCommand {
    /// Create a portal; its admin passcode is read from standard input.
    Add {
        /// The portal's phone number (also its id).
        #[arg(long)]
        number: String,
        /// The portal's extension.
        #[arg(long)]
        extension: Option<String>,
        /// The portal's name.
        #[arg(long)]
        name: String,
        /// The prompt language.
        #[arg(long, default_value = "en")]
        language: String,
        /// The time zone message envelopes are said in (an IANA name, like Europe/Madrid); without it, or with
        /// `default`, the server's `[messages] time_zone`.
        #[arg(long, value_name = "ZONE|default", value_parser = portal_zone)]
        time_zone: Option<PortalZone>,
    },
    /// Change a portal's name, number, extension, language or time zone.
    Set {
        /// The portal (number, extension or id).
        portal: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        number: Option<String>,
        #[arg(long)]
        extension: Option<String>,
        #[arg(long)]
        language: Option<String>,
        /// The time zone message envelopes are said in (an IANA name, like Europe/Madrid), or `default` for
        /// the server's `[messages] time_zone`.
        #[arg(long, value_name = "ZONE|default", value_parser = portal_zone)]
        time_zone: Option<PortalZone>,
    },
    /// Print a portal as JSON.
    Show {
        /// The portal (number, extension or id).
        portal: String,
    },
    /// List the portals as JSON.
    List,
    /// Clear a locked admin passcode.
    Unlock {
        /// The portal (number, extension or id).
        portal: String,
    },
    /// Set the admin passcode, read from standard input (also unlocks).
    SetPasscode {
        /// The portal (number, extension or id).
        portal: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Onboard a user; their first passcode (per the policy) is emailed to them.
    Add {
        /// The mailbox number.
        #[arg(long)]
        mailbox: String,
        /// The user's phone number.
        #[arg(long)]
        number: Option<String>,
        /// The user's extension.
        #[arg(long)]
        extension: Option<String>,
        /// The email address passcodes are sent to.
        #[arg(long)]
        email: String,
        /// The user's portal (number, extension or id); needed only when there are several.
        #[arg(long)]
        portal: Option<String>,
    },
    /// Print a user as JSON: locked, failed attempts, must-change and why, name recorded, passcode age.
    Show { mailbox: String },
    /// List the users as JSON.
    List,
    /// Remove a user, their passcode history and recordings.
    Remove { mailbox: String },
    /// Reset the passcode per the policy (unlocks, clears failures, forces a change, emails the new passcode).
    ResetPin { mailbox: String },
    /// The user's own new passcode, read from standard input, as from a settings page (unlocks, no forced change).
    SetPin { mailbox: String },
    /// Unlock a mailbox (the passcode stays).
    Unlock { mailbox: String },
    /// Change a user's own settings: their mailbox quota (`default` returns a part to the organization's) and
    /// whether callers can leave them messages.
    Set {
        mailbox: String,
        /// Most voice messages the mailbox holds, or `default`.
        #[arg(long, value_name = "N|default", value_parser = own_quota_messages)]
        mailbox_quota_messages: Option<OwnQuota>,
        /// Most minutes of voice messages the mailbox holds, or `default`.
        #[arg(long, value_name = "MINUTES|default", value_parser = own_quota_minutes)]
        mailbox_quota_minutes: Option<OwnQuota>,
        /// Whether callers diverted to the user can leave messages (off: they get the ordinary portal; the
        /// user still logs in and keeps their messages).
        #[arg(long)]
        voicemail: Option<Switch>,
    },
    /// List a mailbox's voice messages as JSON (new ones oldest first, then saved ones; never the audio).
    Messages { mailbox: String },
    /// Delete one of a mailbox's voice messages (its audio too), by the id `messages` shows.
    MessageDelete { mailbox: String, id: i64 },
}
