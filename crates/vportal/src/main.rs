//! The `vportal` command: see `vportal --help` and the README.

use std::io::{self, BufRead, BufReader, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use portal_core::{Dialed, Passcode};
use portal_notify::Notifier;
use portal_store::MessageDeletion;
use portal_store::{
    AccountStore, AuditQuery, InitialMode, Moment, PortalChanges, ResetMode, Source, SqliteStore,
};
use serde::Serialize;
use tracing_subscriber::EnvFilter;
use vportal::admin::{
    Admin, AdminError, Emailed, MessagePolicyChanges, PolicyChanges, QuotaChanges, RuleChange,
    UserToAdd, only_portal,
};
use vportal::bridge::{Services, call_config};
use vportal::catalog::Catalog;
use vportal::config::{Config, LogFormat};
use vportal::console::ConsoleCall;
use vportal::serve::{ServeError, Server};
use vportal::{data, demo, telemetry};

mod cli;

use cli::{
    AdminCommand, Allowance, Cli, Command, DataArgs, Days, InitialPin, MessageDeletionArg,
    OwnQuota, PolicyCommand, PolicySetArgs, PortalCommand, PortalZone, Preset, ResetPin, Switch,
    UserCommand,
};

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
    // By default warnings, and the outcome of a configuration reload (an operator who reloads wants to see it).
    let filter = EnvFilter::try_from_env("VPORTAL_LOG")
        .unwrap_or_else(|_| EnvFilter::new("warn,vportal::serve::reload=info"));
    let configured = || {
        let (Command::Console { data, .. }
        | Command::Serve { data, .. }
        | Command::Admin { data, .. }) = &cli.command
        else {
            return LogFormat::default();
        };
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
    /// `[messages] time_zone`, checked when the configuration was loaded.
    time_zone: jiff::tz::TimeZone,
}

fn open(args: &DataArgs) -> Result<Opened, Failure> {
    let config = Config::load(args.config.as_deref()).map_err(|e| Failure::Usage(e.to_string()))?;
    let store = data::open_store(&args.data, args.sealing_key.as_deref()).map_err(runtime)?;
    let notifier = config.notifier(&args.data).map_err(runtime)?;
    let time_zone = config.messages.zone().map_err(Failure::Usage)?;
    Ok(Opened {
        store,
        notifier,
        time_zone,
    })
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
            metrics_listen,
            demo,
        } => serve(
            &data,
            ServeOverrides {
                sip_listen,
                rtp_ports,
                prompts,
                metrics_listen,
            },
            demo,
        ),
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
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "vportal", &mut io::stdout());
            Ok(())
        }
        Command::Manpage => clap_mangen::Man::new(Cli::command())
            .render(&mut io::stdout())
            .map_err(runtime),
    }
}

/// What `vportal serve`'s flags set over the configuration file.
#[derive(Clone)]
struct ServeOverrides {
    sip_listen: Option<std::net::SocketAddr>,
    rtp_ports: Option<(u16, u16)>,
    prompts: Option<PathBuf>,
    metrics_listen: Option<std::net::SocketAddr>,
}

impl ServeOverrides {
    /// The serve settings of `config` with these flags over them.
    fn settings(&self, config: &Config) -> vportal::serve::ServeSettings {
        let mut settings = config.serve_settings();
        if let Some(listen) = self.sip_listen {
            settings.sip.listen = listen;
        }
        if let Some((low, high)) = self.rtp_ports {
            settings.rtp.port_min = low;
            settings.rtp.port_max = high;
        }
        if let Some(prompts) = &self.prompts {
            settings.media.prompts = prompts.clone();
        }
        settings
    }
}

fn serve(args: &DataArgs, overrides: ServeOverrides, seed_demo: bool) -> Result<(), Failure> {
    let config = Config::load(args.config.as_deref()).map_err(|e| Failure::Usage(e.to_string()))?;
    let settings = overrides.settings(&config);
    let metrics_listen = overrides.metrics_listen.or(config.metrics.listen);
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
        let store = Arc::new(store);
        let server = Server::bind(Arc::clone(&store), Arc::from(notifier), settings)
            .await
            .map_err(|error| match error {
                ServeError::Settings(_) => Failure::Usage(error.to_string()),
                other => Failure::Runtime(other.to_string()),
            })?;
        if let Some(listen) = metrics_listen {
            let handle = telemetry::install().map_err(Failure::Runtime)?;
            let (local, serving) = telemetry::bind(listen, handle, server.readiness(), store)
                .await
                .map_err(|error| Failure::Runtime(format!("cannot listen on {listen}: {error}")))?;
            tokio::spawn(serving);
            println!("vportal: metrics on http://{local}/metrics (also /healthz, /readyz)");
        }
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
        let reloads = reload_on_hangup(args.config.clone(), overrides);
        server.run_with_reloads(shutdown_signal(), reloads).await;
        println!("vportal: stopped");
        Ok(())
    })
}

/// On each SIGHUP, reads the configuration file again and hands its serve settings (with the command line's
/// flags over them) to the server, which applies the reloadable parts. A file that does not read is logged
/// and changes nothing.
fn reload_on_hangup(
    config: Option<PathBuf>,
    overrides: ServeOverrides,
) -> tokio::sync::mpsc::UnboundedReceiver<vportal::serve::ServeSettings> {
    let (reloads, receiver) = tokio::sync::mpsc::unbounded_channel();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(mut hangups) => {
                tokio::spawn(async move {
                    while hangups.recv().await.is_some() {
                        match Config::load(config.as_deref()) {
                            Ok(loaded) => {
                                if reloads.send(overrides.settings(&loaded)).is_err() {
                                    return;
                                }
                            }
                            Err(error) => {
                                metrics::counter!(telemetry::RELOADS, "result" => "refused")
                                    .increment(1);
                                tracing::error!(%error, "configuration reload refused; the settings in force stay");
                            }
                        }
                    }
                });
            }
            Err(error) => tracing::warn!(%error, "SIGHUP cannot be watched; reloading is off"),
        }
    }
    #[cfg(not(unix))]
    let _ = (config, overrides, &reloads);
    receiver
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
    let Opened {
        store,
        notifier,
        time_zone,
    } = open(args)?;
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
            time_zone: &time_zone,
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
                time_zone,
            } => {
                let passcode = read_passcode("portal admin passcode")?;
                print_json(&admin.add_portal(
                    &name,
                    Some(&number),
                    extension.as_deref(),
                    &language,
                    time_zone.and_then(|PortalZone(zone)| zone).as_deref(),
                    &passcode,
                )?)
            }
            PortalCommand::Set {
                portal,
                name,
                number,
                extension,
                language,
                time_zone,
            } => {
                let changes = PortalChanges {
                    name,
                    number,
                    extension,
                    language,
                    time_zone: time_zone.map(|PortalZone(zone)| zone),
                };
                if changes == PortalChanges::default() {
                    return Err(Failure::Usage(
                        "nothing to change: give --name, --number, --extension, --language or --time-zone"
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
            UserCommand::Set {
                mailbox,
                mailbox_quota_messages,
                mailbox_quota_minutes,
                voicemail,
            } => {
                let changes = QuotaChanges {
                    max_messages: mailbox_quota_messages.map(|OwnQuota(value)| value),
                    max_minutes: mailbox_quota_minutes.map(|OwnQuota(value)| value),
                };
                if changes == QuotaChanges::default() && voicemail.is_none() {
                    return Err(Failure::Usage(
                        "nothing to change: give --mailbox-quota-messages, --mailbox-quota-minutes or --voicemail"
                            .into(),
                    ));
                }
                if changes != QuotaChanges::default() {
                    admin.set_user_quota(&mailbox, &changes)?;
                }
                if let Some(switch) = voicemail {
                    admin.set_voicemail(&mailbox, matches!(switch, Switch::On))?;
                }
                print_json(&admin.user(&mailbox)?)
            }
            UserCommand::Messages { mailbox } => print_json(&admin.messages(&mailbox)?),
            UserCommand::MessageDelete { mailbox, id } => {
                admin.delete_message(&mailbox, id)?;
                println!("user {mailbox}: message {id} deleted");
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
        messages: MessagePolicyChanges {
            deletion: args.message_deletion.map(|deletion| match deletion {
                MessageDeletionArg::Off => MessageDeletion::Off,
                MessageDeletionArg::Permissive => MessageDeletion::Permissive,
                MessageDeletionArg::Strict => MessageDeletion::Strict,
            }),
            expiry_days: args.message_expiry_days,
            quota_messages: args.mailbox_quota_messages,
            quota_minutes: args.mailbox_quota_minutes,
        },
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
