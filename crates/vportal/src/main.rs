//! The `vportal` command: see `vportal --help` and the README.

use std::io::{self, BufReader};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use portal_core::Dialed;
use portal_store::{AccountStore, Moment};
use tracing_subscriber::EnvFilter;
use vportal::bridge::call_config;
use vportal::catalog::Catalog;
use vportal::console::ConsoleCall;
use vportal::{data, demo};

/// vportal: a voice portal for voicemail passcodes, first logins, lockout and greetings.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Call the portal from this terminal: prompts are printed, typed keys are key presses.
    Console {
        /// The data directory (created if missing).
        #[arg(long)]
        data: PathBuf,
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
        /// The file holding the key that seals the default passcode (default: DATA.key beside DATA;
        /// the environment variable VPORTAL_SEALING_KEY wins over it).
        #[arg(long, value_name = "FILE")]
        sealing_key: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("VPORTAL_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("vportal: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Console {
            data,
            demo,
            from,
            dial,
            voicemail_button,
            sealing_key,
        } => {
            let store =
                data::open_store(&data, sealing_key.as_deref()).map_err(|e| e.to_string())?;
            if demo
                && let Some(seeded) =
                    demo::seed(&store, Moment::now_utc()).map_err(|e| e.to_string())?
            {
                print_demo(&seeded);
            }
            let portal = if voicemail_button {
                let number = from.as_deref().unwrap_or_default();
                let known = store.caller_mailbox(number).map_err(|e| e.to_string())?;
                let known = known.ok_or_else(|| {
                    format!("no mailbox has the number {number}: the voicemail button needs one")
                })?;
                store.portal(&known.portal).map_err(|e| e.to_string())?
            } else {
                match &dial {
                    Some(number) => store
                        .portal_by_dialed(number)
                        .map_err(|e| e.to_string())?
                        .ok_or_else(|| {
                            format!("no voice portal has the number or extension {number}")
                        })?,
                    None => {
                        let mut portals = store.list_portals().map_err(|e| e.to_string())?;
                        match portals.len() {
                            1 => portals.remove(0),
                            0 => return Err("no voice portal is set up yet (try --demo)".into()),
                            _ => return Err("several voice portals: say which with --dial".into()),
                        }
                    }
                }
            };
            let dialed = if voicemail_button {
                Dialed::VoicemailButton
            } else {
                Dialed::Portal(dial.or(portal.number.clone()).unwrap_or_default())
            };
            let policy = store.policy().map_err(|e| e.to_string())?;
            let catalog = Catalog::embedded();
            let call = ConsoleCall {
                store: &store,
                portal: &portal,
                caller: from.as_deref(),
                dialed,
                config: call_config(&policy),
                catalog: &catalog,
                call_id: format!("console-{}", std::process::id()),
            };
            call.run(BufReader::new(io::stdin()), &mut io::stdout().lock())
                .map_err(|e| e.to_string())
        }
    }
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
