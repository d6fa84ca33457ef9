//! The `vportal` command: see `vportal --help` and the README.

use std::io::{self, BufRead, BufReader, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use portal_core::{Dialed, Passcode};
use portal_notify::Notifier;
use portal_store::{
    AccountStore, AuditQuery, InitialMode, Moment, PortalChanges, ResetMode, Source, SqliteStore,
};
use serde::Serialize;
use tracing_subscriber::EnvFilter;
use vportal::admin::{
    Admin, AdminError, Emailed, PolicyChanges, RuleChange, UserToAdd, only_portal,
};
use vportal::bridge::{Services, call_config};
use vportal::catalog::Catalog;
use vportal::config::{Config, LogFormat};
use vportal::console::ConsoleCall;
use vportal::serve::{ServeError, Server};
use vportal::{data, demo};

/// vportal: a voice portal for voicemail passcodes, first logins, lockout and greetings.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the portal's data lives.
#[derive(Args)]
struct DataArgs {
    /// The data directory (created if missing): the database, recordings/ and outbox/.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// The configuration file (see examples/vportal.toml).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The file holding the key that seals the organization's default passcode (default: DIR.key beside the
    /// data directory; the environment variable VPORTAL_SEALING_KEY wins over it).
    #[arg(long, value_name = "FILE")]
    sealing_key: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
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
        /// Seed the data directory with a demo portal and users when it is empty, and print how to call them.
        #[arg(long)]
        demo: bool,
    },
    /// Administer the policy, portals and users.
    Admin {
        #[command(flatten)]
        data: DataArgs,
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
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
enum PolicyCommand {
    /// Print the policy as JSON (the default passcode only as whether it is set).
    Show,
    /// Change the policy. Existing users keep their passcodes.
    Set(PolicySetArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum InitialPin {
    /// The organization's default passcode (emailed to each new user, changed at first login).
    Default,
    /// A random temporary passcode per user (emailed, changed at first login).
    Generated,
    /// No passcode: each new user sets one in their settings first (`user set-pin`).
    None,
}

#[derive(Clone, Copy, ValueEnum)]
enum ResetPin {
    /// Back to the organization's default passcode.
    Default,
    /// A random temporary passcode.
    Generated,
}

#[derive(Clone, Copy, ValueEnum)]
enum Preset {
    /// Passcodes of exactly 7 digits (the usual rule for an organization's default passcode).
    #[value(name = "exactly-7-digits")]
    Exactly7Digits,
}

#[derive(Clone, Copy, ValueEnum)]
enum Allowance {
    Allow,
    Forbid,
}

#[derive(Args)]
struct PolicySetArgs {
    /// What new users get as their first passcode.
    #[arg(long)]
    initial_pin: Option<InitialPin>,
    /// What an administrator's reset gives.
    #[arg(long)]
    reset_pin: Option<ResetPin>,
    /// Read a new default passcode from standard input (asked twice on a terminal; never on the command line).
    #[arg(long)]
    default_pin_stdin: bool,
    /// Start the rules from a preset, before the rule flags below.
    #[arg(long)]
    preset: Option<Preset>,
    /// Fewest digits a passcode may have.
    #[arg(long, value_name = "N")]
    min_length: Option<u8>,
    /// Most digits a passcode may have (at most 30).
    #[arg(long, value_name = "N")]
    max_length: Option<u8>,
    /// Longest run of one digit (0: no limit).
    #[arg(long, value_name = "N")]
    max_repeated_digits: Option<u8>,
    /// Longest ascending or descending run of digits (0: no limit).
    #[arg(long, value_name = "N")]
    max_sequence_length: Option<u8>,
    /// Passcodes that repeat a pattern, like 121212.
    #[arg(long)]
    repeated_patterns: Option<Allowance>,
    /// Passcodes equal to the user's extension, phone number or mailbox, or their reverse.
    #[arg(long)]
    user_numbers: Option<Allowance>,
    /// How many previous passcodes may not be reused (0: off).
    #[arg(long, value_name = "N")]
    history: Option<u8>,
    /// Days after which a passcode expires, or `off`.
    #[arg(long, value_name = "DAYS|off", value_parser = days_or_off)]
    expiry_days: Option<Days>,
    /// Days between voluntary passcode changes, or `off`.
    #[arg(long, value_name = "DAYS|off", value_parser = days_or_off)]
    min_days_between_changes: Option<Days>,
    /// Wrong passcodes in a row before the mailbox locks.
    #[arg(long, value_name = "N")]
    lockout_attempts: Option<u32>,
    /// Hours a generated temporary passcode works.
    #[arg(long, value_name = "HOURS")]
    temporary_pin_hours: Option<u64>,
}

fn port_range(text: &str) -> Result<(u16, u16), String> {
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
struct Days(Option<u32>);

fn days_or_off(text: &str) -> Result<Days, String> {
    if text == "off" {
        return Ok(Days(None));
    }
    text.parse::<u32>()
        .map(|days| Days(Some(days)))
        .map_err(|_| format!("`{text}` is neither a number of days nor `off`"))
}

#[derive(Subcommand)]
enum PortalCommand {
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
    },
    /// Change a portal's name, number, extension or language.
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
enum UserCommand {
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
}

/// How a command failed: a bad request (exit status 2) or a failure of the system (1).
enum Failure {
    Usage(String),
    Runtime(String),
}

impl From<AdminError> for Failure {
    fn from(error: AdminError) -> Failure {
        if error.is_invalid_request() {
            Failure::Usage(error.to_string())
        } else {
            Failure::Runtime(error.to_string())
        }
    }
}

fn runtime(error: impl std::fmt::Display) -> Failure {
    Failure::Runtime(error.to_string())
}

/// Logs to standard error, filtered by `VPORTAL_LOG`: as text (colours only on a terminal, so a log file holds
/// no escape codes), or one JSON object a line with the call's span fields when `VPORTAL_LOG_FORMAT=json` or
/// the configuration's `[log] format = "json"` says so (the environment wins).
fn init_logging(cli: &Cli) {
    let filter = EnvFilter::try_from_env("VPORTAL_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let configured = || {
        let (Command::Console { data, .. }
        | Command::Serve { data, .. }
        | Command::Admin { data, .. }) = &cli.command;
        // A configuration that cannot be read is reported by the command itself, with the log set up.
        Config::load(data.config.as_deref())
            .map(|config| config.log.format)
            .unwrap_or_default()
    };
    let format = match std::env::var("VPORTAL_LOG_FORMAT").as_deref() {
        Ok("json") => LogFormat::Json,
        Ok("text") => LogFormat::Text,
        _ => configured(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr);
    match format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
        LogFormat::Text => builder.with_ansi(io::stderr().is_terminal()).init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("vportal: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(message)) => {
            eprintln!("vportal: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The opened data directory and configuration.
struct Opened {
    store: SqliteStore,
    notifier: Box<dyn Notifier>,
}

fn open(args: &DataArgs) -> Result<Opened, Failure> {
    let config = Config::load(args.config.as_deref()).map_err(|e| Failure::Usage(e.to_string()))?;
    let store = data::open_store(&args.data, args.sealing_key.as_deref()).map_err(runtime)?;
    let notifier = config.notifier(&args.data).map_err(runtime)?;
    Ok(Opened { store, notifier })
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Console {
            data,
            demo,
            from,
            dial,
            voicemail_button,
        } => console(&data, demo, from, dial, voicemail_button),
        Command::Serve {
            data,
            sip_listen,
            rtp_ports,
            prompts,
            demo,
        } => serve(&data, sip_listen, rtp_ports, prompts, demo),
        Command::Admin { data, command } => {
            let opened = open(&data)?;
            let admin = Admin {
                store: &opened.store,
                notifier: opened.notifier.as_ref(),
                at: Moment::now_utc(),
                source: Source::Admin,
            };
            administer(&admin, command)
        }
    }
}

fn serve(
    args: &DataArgs,
    sip_listen: Option<std::net::SocketAddr>,
    rtp_ports: Option<(u16, u16)>,
    prompts: Option<PathBuf>,
    seed_demo: bool,
) -> Result<(), Failure> {
    let config = Config::load(args.config.as_deref()).map_err(|e| Failure::Usage(e.to_string()))?;
    let mut settings = config.serve_settings();
    if let Some(listen) = sip_listen {
        settings.sip.listen = listen;
    }
    if let Some((low, high)) = rtp_ports {
        settings.rtp.port_min = low;
        settings.rtp.port_max = high;
    }
    if let Some(prompts) = prompts {
        settings.media.prompts = prompts;
    }
    let store = data::open_store(&args.data, args.sealing_key.as_deref()).map_err(runtime)?;
    let notifier = config.notifier(&args.data).map_err(runtime)?;
    let seeded = if seed_demo {
        demo::seed(&store, Moment::now_utc()).map_err(runtime)?
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(runtime)?;
    runtime.block_on(async move {
        let server = Server::bind(Arc::new(store), Arc::from(notifier), settings)
            .await
            .map_err(|error| match error {
                ServeError::Settings(_) => Failure::Usage(error.to_string()),
                other => Failure::Runtime(other.to_string()),
            })?;
        if let Some(seeded) = &seeded {
            print_demo(seeded);
        }
        println!(
            "vportal: SIP on udp and tcp {}; RTP on {}; data in {}",
            server.sip_addr,
            server.rtp_description(),
            args.data.display()
        );
        if seed_demo {
            println!(
                "vportal: dial sip:{}@{} from a phone whose number is a demo user's (sip:5551002@...), \
                 or from any other number for the star-key path",
                demo::PORTAL_NUMBER,
                server.sip_addr
            );
        }
        server.run(shutdown_signal()).await;
        println!("vportal: stopped");
        Ok(())
    })
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

fn console(
    args: &DataArgs,
    seed_demo: bool,
    from: Option<String>,
    dial: Option<String>,
    voicemail_button: bool,
) -> Result<(), Failure> {
    let Opened { store, notifier } = open(args)?;
    if seed_demo && let Some(seeded) = demo::seed(&store, Moment::now_utc()).map_err(runtime)? {
        print_demo(&seeded);
    }
    let portal = if voicemail_button {
        let number = from.as_deref().unwrap_or_default();
        let known = store
            .caller_mailbox(number)
            .map_err(runtime)?
            .ok_or_else(|| {
                Failure::Usage(format!(
                    "no mailbox has the number {number}: the voicemail button needs one"
                ))
            })?;
        store.portal(&known.portal).map_err(runtime)?
    } else {
        match &dial {
            Some(number) => store
                .portal_by_dialed(number)
                .map_err(runtime)?
                .ok_or_else(|| {
                    Failure::Usage(format!(
                        "no voice portal has the number or extension {number}"
                    ))
                })?,
            None => only_portal(&store)?,
        }
    };
    let dialed = if voicemail_button {
        Dialed::VoicemailButton
    } else {
        Dialed::Portal(dial.or(portal.number.clone()).unwrap_or_default())
    };
    let policy = store.policy().map_err(runtime)?;
    let catalog = Catalog::embedded();
    let call = ConsoleCall {
        services: Services {
            store: &store,
            notifier: notifier.as_ref(),
        },
        portal: &portal,
        caller: from.as_deref(),
        dialed,
        config: call_config(&policy),
        catalog: &catalog,
        call_id: format!("console-{}", std::process::id()),
    };
    call.run(BufReader::new(io::stdin()), &mut io::stdout().lock())
        .map_err(runtime)
}

fn administer(admin: &Admin<'_>, command: AdminCommand) -> Result<(), Failure> {
    match command {
        AdminCommand::Policy { command } => match command {
            PolicyCommand::Show => print_json(&admin.policy()?),
            PolicyCommand::Set(args) => {
                let default_pin = if args.default_pin_stdin {
                    Some(read_passcode("new default passcode")?)
                } else {
                    None
                };
                let changes = policy_changes(&args);
                print_json(&admin.set_policy(&changes, default_pin.as_ref())?)
            }
        },
        AdminCommand::Portal { command } => match command {
            PortalCommand::Add {
                number,
                extension,
                name,
                language,
            } => {
                let passcode = read_passcode("portal admin passcode")?;
                print_json(&admin.add_portal(
                    &name,
                    Some(&number),
                    extension.as_deref(),
                    &language,
                    &passcode,
                )?)
            }
            PortalCommand::Set {
                portal,
                name,
                number,
                extension,
                language,
            } => {
                let changes = PortalChanges {
                    name,
                    number,
                    extension,
                    language,
                };
                if changes == PortalChanges::default() {
                    return Err(Failure::Usage(
                        "nothing to change: give --name, --number, --extension or --language"
                            .into(),
                    ));
                }
                print_json(&admin.update_portal(&portal, &changes)?)
            }
            PortalCommand::Show { portal } => print_json(&admin.portal(&portal)?),
            PortalCommand::List => print_json(&admin.portals()?),
            PortalCommand::Unlock { portal } => {
                admin.unlock_portal(&portal)?;
                println!("portal {portal}: admin passcode unlocked");
                Ok(())
            }
            PortalCommand::SetPasscode { portal } => {
                admin.find_portal(&portal)?;
                let passcode = read_passcode("portal admin passcode")?;
                admin.set_portal_passcode(&portal, &passcode)?;
                println!("portal {portal}: admin passcode set");
                Ok(())
            }
        },
        AdminCommand::User { command } => match command {
            UserCommand::Add {
                mailbox,
                number,
                extension,
                email,
                portal,
            } => {
                let (user, emailed) = admin.add_user(&UserToAdd {
                    mailbox,
                    number,
                    extension,
                    email,
                    portal,
                })?;
                match emailed {
                    Some(emailed) => {
                        report_email(&format!("user {} added", user.mailbox), &emailed)
                    }
                    None => println!(
                        "user {} added without a passcode: they set one in their settings (`user set-pin`)",
                        user.mailbox
                    ),
                }
                Ok(())
            }
            UserCommand::Show { mailbox } => print_json(&admin.user(&mailbox)?),
            UserCommand::List => print_json(&admin.users()?),
            UserCommand::Remove { mailbox } => {
                admin.remove_user(&mailbox)?;
                println!("user {mailbox} removed");
                Ok(())
            }
            UserCommand::ResetPin { mailbox } => {
                let emailed = admin.reset_pin(&mailbox)?;
                report_email(
                    &format!("user {mailbox}: passcode reset, mailbox unlocked"),
                    &emailed,
                );
                Ok(())
            }
            UserCommand::SetPin { mailbox } => {
                admin.user(&mailbox)?;
                let passcode = read_passcode("new passcode")?;
                admin.set_pin(&mailbox, &passcode)?;
                println!("user {mailbox}: passcode set, mailbox unlocked");
                Ok(())
            }
            UserCommand::Unlock { mailbox } => {
                admin.unlock_user(&mailbox)?;
                println!("user {mailbox}: mailbox unlocked");
                Ok(())
            }
        },
        AdminCommand::Audit { mailbox, limit } => {
            let lines = admin.audit(&AuditQuery {
                mailbox,
                limit,
                ..AuditQuery::default()
            })?;
            for line in lines {
                println!("{}", serde_json::to_string(&line).map_err(runtime)?);
            }
            Ok(())
        }
    }
}

fn policy_changes(args: &PolicySetArgs) -> PolicyChanges {
    let forbid = |allowance: Allowance| matches!(allowance, Allowance::Forbid);
    let rules = [
        args.min_length.map(RuleChange::MinLength),
        args.max_length.map(RuleChange::MaxLength),
        args.max_repeated_digits.map(RuleChange::MaxRepeatedDigits),
        args.max_sequence_length.map(RuleChange::MaxSequenceLength),
        args.repeated_patterns
            .map(|a| RuleChange::ForbidRepeatedPatterns(forbid(a))),
        args.user_numbers
            .map(|a| RuleChange::ForbidUserNumbers(forbid(a))),
        args.history.map(RuleChange::HistoryLength),
        args.expiry_days
            .map(|Days(days)| RuleChange::ExpiryDays(days)),
        args.min_days_between_changes
            .map(|Days(days)| RuleChange::MinDaysBetweenChanges(days)),
        args.lockout_attempts
            .map(RuleChange::FailedAttemptsBeforeLockout),
    ];
    PolicyChanges {
        initial: args.initial_pin.map(|mode| match mode {
            InitialPin::Default => InitialMode::Default,
            InitialPin::Generated => InitialMode::Generated,
            InitialPin::None => InitialMode::None,
        }),
        reset: args.reset_pin.map(|mode| match mode {
            ResetPin::Default => ResetMode::Default,
            ResetPin::Generated => ResetMode::Generated,
        }),
        seven_digit_preset: matches!(args.preset, Some(Preset::Exactly7Digits)),
        rules: rules.into_iter().flatten().collect(),
        temporary_lifetime: args
            .temporary_pin_hours
            .map(|hours| Duration::from_secs(hours.saturating_mul(3600))),
    }
}

/// Reads a passcode from standard input: twice, without echo, on a terminal; one line otherwise.
fn read_passcode(what: &str) -> Result<Passcode, Failure> {
    let text = if io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("{what}: ")).map_err(runtime)?;
        let again = rpassword::prompt_password(format!("{what} again: ")).map_err(runtime)?;
        if first != again {
            return Err(Failure::Usage(format!(
                "the two entries of the {what} differ"
            )));
        }
        first
    } else {
        let mut line = String::new();
        io::stdin().lock().read_line(&mut line).map_err(runtime)?;
        line
    };
    Passcode::parse(&text).map_err(|error| Failure::Usage(format!("{what}: {error}")))
}

fn report_email(done: &str, emailed: &Emailed) {
    match emailed.delivery.outbox_path() {
        Some(path) => println!(
            "{done}; email to {} written to {}",
            emailed.to,
            path.display()
        ),
        None => println!("{done}; email sent to {}", emailed.to),
    }
}

fn print_json(value: &impl Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(runtime)?;
    println!("{text}");
    Ok(())
}

fn print_demo(seeded: &demo::DemoData) {
    println!(
        "Demo data: portal {} (extension {}).",
        demo::PORTAL_NUMBER,
        demo::PORTAL_EXTENSION
    );
    println!(
        "Demo credentials (a real portal emails these; they are shown here once because this is a demo):"
    );
    for user in &seeded.users {
        let passcode = user.passcode.as_ref().map_or("(none)", |p| p.expose());
        println!(
            "  mailbox {}  --from {}  passcode {:<9} {}",
            user.mailbox, user.phone_number, passcode, user.case
        );
    }
    println!(
        "  portal admin passcode {}: call without --from, enter {} as the mailbox",
        seeded.admin_passcode.expose(),
        demo::PORTAL_EXTENSION
    );
    println!();
}
