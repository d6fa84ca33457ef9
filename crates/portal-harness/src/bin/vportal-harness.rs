//! `vportal-harness`: call the voice portal from a scenario file or a one-line script and print the transcript;
//! or run a scenario as many concurrent callers, for load, and report what it measured.
//!
//! ```text
//! vportal-harness run --server 127.0.0.1:5060 --scenario examples/scenarios/settled_login.vps
//! vportal-harness load --server 127.0.0.1:5060 --scenario examples/scenarios/load_settled.vps \
//!     --calls 200 --rate 20 [--duration S] [--server-pid PID] [--json] [--number-per-caller]
//! vportal-harness call --server 127.0.0.1:5070 --from 5551001 --to 5558000 \
//!     --script "expect welcome; press 1357924#; expect main_menu; press 9; expect goodbye; expect hangup"
//! ```
//!
//! `vportal-harness --help` and `vportal-harness COMMAND --help` describe every option. Scenario files are
//! described in `portal_harness::scenario`, the script language in `portal_harness::script`, the load report
//! in `portal_harness::load`. Exit status: 0 when every call followed its script, 1 when one did not, 2 for a
//! bad command line (with a usage line) or a scenario that cannot be read.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use portal_harness::load::{self, LoadOptions};
use portal_harness::scenario::Scenario;
use portal_harness::script::{self, Step};
use portal_harness::{Codec, DialOptions, DtmfMode, Phone, SipTransport};

const SCENARIO_HELP: &str = "\
A scenario FILE has a header (from N, to N, transport udp|tcp, dtmf rfc4733|info|inband,
telephone-event PT|none, codecs pcmu,pcma, timeout SECONDS, digit-ms N, gap-ms N), then one step per
line: expect PROMPT... | expect hangup | start PROMPT | press KEYS | say MS | say FILE.wav | wait MS |
hangup, with `expect P within 5s`, `press K after 500ms`, `press K at 12s` (its last key 12 s after the
run began), and `call [from N] [to N]` for the next call; // starts a comment.
See crates/portal-harness/README.md and examples/scenarios/.";

const STEPS_HELP: &str = "\
STEPS are separated by ';': expect PROMPT... | expect hangup | start PROMPT | press KEYS | say MS |
say FILE.wav | wait MS | hangup   (<audio> in expect is audio that is no prompt)";

const EXIT_HELP: &str = "\
Exit status: 0 when every call followed its script, 1 when one did not, 2 for a bad command line or a
scenario that cannot be read.";

/// vportal-harness: a test phone for vportal. It calls the portal over the network, presses keys, recognises
/// the prompts it hears, and prints what happened.
#[derive(Debug, Parser)]
// The hand-written parser let a repeated option's last value win; keep that for existing scripts.
#[command(name = "vportal-harness", version, after_help = EXIT_HELP, args_override_self = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Place the calls of a scenario file and print each call's transcript.
    ///
    /// Each step is printed as it starts; a failing step stops the run with its line, what was expected and
    /// what was heard instead.
    #[command(after_help = SCENARIO_HELP)]
    Run(RunArgs),
    /// Run a scenario as many concurrent callers and report the measurements.
    ///
    /// Reports call setup, lost keys, the reaction to `#`, RTP timing and, with --server-pid, the server's
    /// CPU and memory, as a table or JSON. The portal must exempt this source from its per-source INVITE
    /// limit (`[sip] invite_rate_per_second = 0.0`, or the source in `trusted`), or it answers 503.
    #[command(after_help = SCENARIO_HELP)]
    Load(LoadArgs),
    /// Place a call that follows a script given on the command line and print its transcript.
    ///
    /// With --calls N it places N such calls, --parallel at a time, and prints a summary instead.
    #[command(after_help = STEPS_HELP)]
    Call(CallArgs),
}

/// What `run` and `load` share.
#[derive(Debug, clap::Args)]
struct ScenarioArgs {
    /// The portal's SIP address (UDP and TCP listen on the same port).
    #[arg(long, value_name = "ADDR")]
    server: SocketAddr,
    /// The scenario file to follow.
    #[arg(long, value_name = "FILE")]
    scenario: PathBuf,
    /// How SIP travels to the portal; overrides the scenario's `transport` line (RTP is always UDP).
    #[arg(long, value_enum, ignore_case = true)]
    transport: Option<Transport>,
    /// The prompt recordings to recognise what the portal plays (default: the repository's prompts/).
    #[arg(long, value_name = "DIR")]
    prompts: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Print every SIP message sent and received to standard error.
    #[arg(long)]
    trace_sip: bool,
}

#[derive(Debug, clap::Args)]
struct LoadArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// How many callers to start, each running the scenario on its own thread.
    #[arg(long, value_name = "N", value_parser = positive_count)]
    calls: usize,
    /// Callers started per second.
    #[arg(long, value_name = "R", value_parser = positive_rate)]
    rate: f64,
    /// Keep every caller running the scenario again until S seconds have passed since the first started
    /// (sustained load); without it each runs it once.
    #[arg(long, value_name = "S", value_parser = seconds)]
    duration: Option<Duration>,
    /// Measure this server process's CPU time and peak memory (from /proc) during the run.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Caller i (from 0) calls from each call's number plus i, so that each caller is its own user; every
    /// calling number must be digits.
    #[arg(long)]
    number_per_caller: bool,
}

#[derive(Debug, clap::Args)]
struct CallArgs {
    /// The portal's SIP address (UDP and TCP listen on the same port).
    #[arg(long, value_name = "ADDR")]
    server: SocketAddr,
    /// The calling number (the portal recognises its users by it).
    #[arg(long, value_name = "NUMBER")]
    from: String,
    /// The number dialed.
    #[arg(long, value_name = "NUMBER")]
    to: String,
    /// What the call does, as steps separated by ';' (see below).
    #[arg(long, value_name = "STEPS", value_parser = steps)]
    script: Steps,
    /// How SIP travels to the portal (RTP is always UDP).
    #[arg(long, value_enum, ignore_case = true, default_value = "udp")]
    transport: Transport,
    /// How keys are sent: RFC 4733 events in RTP, SIP INFO requests, or tones in the audio.
    #[arg(long, value_enum, default_value = "rfc4733")]
    dtmf: Dtmf,
    /// The payload type offered for telephone-event (96-127), or none; with --dtmf inband the default
    /// becomes none, since the portal listens for tones only then.
    #[arg(long, value_name = "PT|none", value_parser = payload_type, default_value = "101")]
    telephone_event: PayloadType,
    /// The codecs offered, in order, separated by commas.
    #[arg(long, value_name = "pcmu,pcma", value_parser = codecs, default_value = "pcmu,pcma")]
    codecs: Codecs,
    /// How long each key is held, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 100)]
    digit_ms: u32,
    /// The pause after each key, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 100)]
    gap_ms: u32,
    /// The prompt recordings to recognise what the portal plays (default: the repository's prompts/).
    #[arg(long, value_name = "DIR")]
    prompts: Option<PathBuf>,
    /// How long any step may wait, in seconds.
    #[arg(long, value_name = "N", default_value_t = 30)]
    timeout_s: u64,
    /// Print every SIP message sent and received to standard error.
    #[arg(long)]
    trace_sip: bool,
    /// Place this many calls, each following the script, then print a summary (0 counts as 1).
    #[arg(long, value_name = "N", default_value_t = 1)]
    calls: usize,
    /// How many of those calls run at a time (at most --calls).
    #[arg(long, value_name = "M", default_value_t = 1)]
    parallel: usize,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Transport {
    Udp,
    Tcp,
}

impl From<Transport> for SipTransport {
    fn from(transport: Transport) -> Self {
        match transport {
            Transport::Udp => SipTransport::Udp,
            Transport::Tcp => SipTransport::Tcp,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Dtmf {
    Rfc4733,
    Info,
    Inband,
}

impl From<Dtmf> for DtmfMode {
    fn from(dtmf: Dtmf) -> Self {
        match dtmf {
            Dtmf::Rfc4733 => DtmfMode::Rfc4733,
            Dtmf::Info => DtmfMode::SipInfo,
            Dtmf::Inband => DtmfMode::Inband,
        }
    }
}

// Newtypes: clap's derive would read a bare `Vec` or `Option` field as "many values" or "optional".

/// A parsed `--script`.
#[derive(Debug, Clone)]
struct Steps(Vec<Step>);

/// `--telephone-event`: a payload type, or none.
#[derive(Debug, Clone, Copy)]
struct PayloadType(Option<u8>);

/// `--codecs`, in the order offered.
#[derive(Debug, Clone)]
struct Codecs(Vec<Codec>);

fn steps(text: &str) -> Result<Steps, String> {
    script::parse(text).map(Steps).map_err(|e| e.to_string())
}

fn payload_type(text: &str) -> Result<PayloadType, String> {
    if text == "none" {
        return Ok(PayloadType(None));
    }
    text.parse::<u8>()
        .ok()
        .filter(|pt| (96..=127).contains(pt))
        .map(|pt| PayloadType(Some(pt)))
        .ok_or_else(|| format!("{text:?} is not 96-127 or none"))
}

fn codecs(text: &str) -> Result<Codecs, String> {
    text.split(',')
        .map(|c| match c.trim().to_ascii_lowercase().as_str() {
            "pcmu" => Ok(Codec::Pcmu),
            "pcma" => Ok(Codec::Pcma),
            other => Err(format!("{other:?} is not pcmu or pcma")),
        })
        .collect::<Result<_, _>>()
        .map(Codecs)
}

fn positive_count(text: &str) -> Result<usize, String> {
    text.parse()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{text:?} is not a number above 0"))
}

fn positive_rate(text: &str) -> Result<f64, String> {
    text.parse()
        .ok()
        .filter(|&r: &f64| r > 0.0 && r.is_finite())
        .ok_or_else(|| format!("{text:?} is not a rate above 0"))
}

fn seconds(text: &str) -> Result<Duration, String> {
    text.parse()
        .ok()
        .filter(|&s: &f64| s >= 0.0 && s.is_finite())
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{text:?} is not a number of seconds"))
}

/// `vportal-harness run`: every call of the scenario, with its transcript.
fn run_scenario(args: &RunArgs) -> ExitCode {
    let path = &args.scenario.scenario;
    let scenario = match Scenario::load(path) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("vportal-harness: {}: {error}", path.display());
            return ExitCode::from(2);
        }
    };
    let records = scenario.run(
        |call| {
            let mut options = scenario.dial_options(call, args.scenario.server);
            options.trace_sip = args.trace_sip;
            if let Some(transport) = args.scenario.transport {
                options.transport = transport.into();
            }
            if let Some(prompts) = &args.scenario.prompts {
                options.prompts_dir = prompts.clone();
            }
            println!(
                "== call from {} to {} (line {})",
                call.from, call.to, call.line
            );
            options
        },
        |_, step| println!("# line {}: {}", step.line, step.text),
    );
    let mut status = ExitCode::SUCCESS;
    for record in &records {
        println!("-- transcript of the call from {} --", record.from);
        for line in &record.transcript {
            println!("{line}");
        }
        if let Err(failure) = &record.result {
            eprintln!("vportal-harness: {}: {failure}", path.display());
            status = ExitCode::from(1);
        }
    }
    if status == ExitCode::SUCCESS {
        println!("ok: {} call(s) followed {}", records.len(), path.display());
    }
    status
}

/// `vportal-harness load`: the report, as a table or JSON.
fn run_load(args: &LoadArgs) -> ExitCode {
    let path = &args.scenario.scenario;
    let scenario = match Scenario::load(path) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("vportal-harness: {}: {error}", path.display());
            return ExitCode::from(2);
        }
    };
    if args.number_per_caller {
        let last = args.calls - 1;
        if let Some(call) = scenario
            .calls
            .iter()
            .find(|call| load::caller_number(&call.from, last).is_none())
        {
            eprintln!(
                "vportal-harness: --number-per-caller: the calling number {:?} (line {}) is not digits that {} callers can count up from",
                call.from, call.line, args.calls
            );
            return ExitCode::from(2);
        }
    }
    let options = LoadOptions {
        server: args.scenario.server,
        calls: args.calls,
        rate: args.rate,
        duration: args.duration,
        server_pid: args.server_pid,
        prompts_dir: args.scenario.prompts.clone(),
        t1: Duration::from_millis(500),
        transport: args.scenario.transport.map(SipTransport::from),
        number_per_caller: args.number_per_caller,
    };
    let report = load::run(&scenario, &path.display().to_string(), &options);
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(error) => {
                eprintln!("vportal-harness: {error}");
                return ExitCode::from(1);
            }
        }
    } else {
        print!("{report}");
    }
    if report.calls_failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// One load call: its number, how it went, and when its first prompt started after the dial.
type Outcome = (usize, Result<(), String>, Option<Duration>);

/// What `call` places: the dial, the script, and how many calls at a time.
#[derive(Debug)]
struct CallPlan {
    options: DialOptions,
    steps: Vec<Step>,
    timeout: Duration,
    calls: usize,
    parallel: usize,
}

impl From<CallArgs> for CallPlan {
    fn from(args: CallArgs) -> Self {
        let dtmf = DtmfMode::from(args.dtmf);
        let mut options = DialOptions::new(args.server, args.from, args.to);
        options.transport = args.transport.into();
        options.dtmf_mode = dtmf;
        options.telephone_event_pt =
            if dtmf == DtmfMode::Inband && args.telephone_event.0 == Some(101) {
                None // in-band keys are only heard without telephone-event
            } else {
                args.telephone_event.0
            };
        options.codecs = args.codecs.0;
        options.digit_ms = args.digit_ms;
        options.gap_ms = args.gap_ms;
        if let Some(prompts) = args.prompts {
            options.prompts_dir = prompts;
        }
        options.trace_sip = args.trace_sip;
        let calls = args.calls.max(1);
        CallPlan {
            options,
            steps: args.script.0,
            timeout: Duration::from_secs(args.timeout_s),
            calls,
            parallel: args.parallel.clamp(1, calls),
        }
    }
}

/// One call: dial, run the script, hang up if the script did not end the call.
fn one_call(plan: &CallPlan, print: bool) -> (Result<(), String>, Vec<String>, Option<Duration>) {
    let dialed = Instant::now();
    let phone = match Phone::dial(plan.options.clone()) {
        Ok(phone) => phone,
        Err(error) => return (Err(format!("dial: {error}")), Vec::new(), None),
    };
    let result = script::run(&phone, &plan.steps, plan.timeout, |step| {
        if print {
            println!("# {step}");
        }
    })
    .map_err(|e| e.to_string());
    let _ = phone.hang_up();
    let first_prompt = phone
        .heard()
        .first()
        .map(|h| h.started.saturating_duration_since(dialed));
    (result, phone.transcript(), first_prompt)
}

/// `vportal-harness call`: one call with its transcript, or many with a summary.
fn run_calls(plan: &CallPlan) -> ExitCode {
    if plan.calls == 1 {
        let (result, transcript, _) = one_call(plan, true);
        for line in transcript {
            println!("{line}");
        }
        return match result {
            Ok(()) => {
                println!("ok");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("vportal-harness: {error}");
                ExitCode::from(1)
            }
        };
    }

    // Load: `parallel` workers take calls until `calls` have been placed.
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..plan.parallel {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= plan.calls {
                        return;
                    }
                    let (result, transcript, first) = one_call(plan, false);
                    let first_ms = first.map_or_else(|| "-".into(), |f| f.as_millis().to_string());
                    match &result {
                        Ok(()) => println!("call {index}: ok (first prompt after {first_ms} ms)"),
                        Err(error) => println!(
                            "call {index}: {error} (first prompt after {first_ms} ms)\n  {}",
                            transcript.join("\n  ")
                        ),
                    }
                    if let Ok(mut results) = results.lock() {
                        results.push((index, result, first));
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_default();
    let ok = results.iter().filter(|(_, r, _)| r.is_ok()).count();
    let mut firsts: Vec<Duration> = results.iter().filter_map(|(_, _, f)| *f).collect();
    firsts.sort();
    println!(
        "{ok} of {} calls followed the script in {:.1} s ({} at a time)",
        results.len(),
        started.elapsed().as_secs_f64(),
        plan.parallel
    );
    if let (Some(min), Some(max)) = (firsts.first(), firsts.last()) {
        let median = firsts[firsts.len() / 2];
        println!(
            "first prompt after the dial: min {} ms, median {} ms, max {} ms",
            min.as_millis(),
            median.as_millis(),
            max.as_millis()
        );
    }
    if ok == results.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn main() -> ExitCode {
    // clap exits 0 for --help and --version, 2 with a usage line for a bad command line.
    match Cli::parse().command {
        Command::Run(args) => run_scenario(&args),
        Command::Load(args) => run_load(&args),
        Command::Call(args) => run_calls(&CallPlan::from(args)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(text: &str) -> Result<Command, String> {
        Cli::try_parse_from(std::iter::once("vportal-harness").chain(text.split_whitespace()))
            .map(|cli| cli.command)
            .map_err(|e| e.to_string())
    }

    fn call(text: &str) -> Result<CallPlan, String> {
        match parse(text)? {
            Command::Call(args) => Ok(args.into()),
            other => panic!("not a call: {other:?}"),
        }
    }

    fn run(text: &str) -> Result<RunArgs, String> {
        match parse(&format!("run {text}"))? {
            Command::Run(args) => Ok(args),
            other => panic!("not a run: {other:?}"),
        }
    }

    fn load(text: &str) -> Result<LoadArgs, String> {
        match parse(&format!("load {text}"))? {
            Command::Load(args) => Ok(args),
            other => panic!("not a load: {other:?}"),
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn reads_a_call() {
        let parsed = call(
            "call --server 127.0.0.1:5070 --from 5551001 --to 5558000 --script expect_welcome_placeholder \
             --dtmf inband --codecs pcma,pcmu --calls 4 --parallel 8",
        );
        // The script word is not a step: the error names it.
        assert!(parsed.unwrap_err().contains("expect_welcome_placeholder"));
        let parsed = call(
            "call --server 127.0.0.1:5070 --from 5551001 --to 5558000 --script hangup --dtmf inband \
             --codecs pcma,pcmu --calls 4 --parallel 8",
        )
        .unwrap();
        assert_eq!(parsed.options.dtmf_mode, DtmfMode::Inband);
        assert_eq!(parsed.options.transport, SipTransport::Udp);
        assert_eq!(parsed.options.telephone_event_pt, None);
        assert_eq!(parsed.options.codecs, [Codec::Pcma, Codec::Pcmu]);
        assert_eq!((parsed.calls, parsed.parallel), (4, 4));
        let defaults =
            call("call --server 127.0.0.1:5070 --from 5551001 --to 5558000 --script hangup")
                .unwrap();
        assert_eq!(defaults.options.dtmf_mode, DtmfMode::Rfc4733);
        assert_eq!(defaults.options.telephone_event_pt, Some(101));
        assert_eq!(defaults.options.codecs, [Codec::Pcmu, Codec::Pcma]);
        assert_eq!(
            (defaults.options.digit_ms, defaults.options.gap_ms),
            (100, 100)
        );
        assert_eq!(defaults.timeout, Duration::from_secs(30));
        assert_eq!((defaults.calls, defaults.parallel), (1, 1));
        assert!(!defaults.options.trace_sip);
        let tcp = call(
            "call --server 127.0.0.1:5070 --from 5551001 --to 5558000 --script hangup --transport tcp \
             --telephone-event none --codecs PCMA --calls 0 --timeout-s 5 --trace-sip",
        )
        .unwrap();
        assert_eq!(tcp.options.transport, SipTransport::Tcp);
        assert_eq!(tcp.options.telephone_event_pt, None);
        assert_eq!(tcp.options.codecs, [Codec::Pcma]);
        assert_eq!((tcp.calls, tcp.parallel), (1, 1));
        assert_eq!(tcp.timeout, Duration::from_secs(5));
        assert!(tcp.options.trace_sip);
        let wrong = call(
            "call --server 127.0.0.1:5070 --from 5551001 --to 5558000 --script hangup --transport sctp",
        );
        assert!(wrong.unwrap_err().contains("--transport"));
        let wrong = call(
            "call --server 127.0.0.1:5070 --from 5551001 --to 5558000 --script hangup --telephone-event 90",
        );
        assert!(wrong.unwrap_err().contains("96-127 or none"));
        assert!(call("call --from 1").is_err());
        assert!(parse("dance").is_err());
        assert!(call("call --server x --from 1 --to 2 --script hangup").is_err());
        // A repeated option: the last one counts, as before clap.
        let twice = call(
            "call --server 127.0.0.1:5070 --from 1 --from 2 --to 3 --script hangup --dtmf info --dtmf inband",
        )
        .unwrap();
        assert_eq!(twice.options.from, "2");
        assert_eq!(twice.options.dtmf_mode, DtmfMode::Inband);
    }

    #[test]
    fn reads_run_and_load() {
        let parsed = run("--server 127.0.0.1:5060 --scenario a.vps --trace-sip").unwrap();
        assert!(parsed.trace_sip);
        assert!(parsed.scenario.transport.is_none());
        let parsed = run("--server 127.0.0.1:5060 --scenario a.vps --transport TCP").unwrap();
        assert!(matches!(parsed.scenario.transport, Some(Transport::Tcp)));
        assert!(run("--server 127.0.0.1:5060 --scenario a.vps --calls 3").is_err());
        let parsed = load(
            "--server 127.0.0.1:5060 --scenario a.vps --calls 20 --rate 5 --duration 30 --server-pid 42 \
             --json --transport udp",
        )
        .unwrap();
        assert_eq!(
            (parsed.calls, parsed.rate, parsed.server_pid, parsed.json),
            (20, 5.0, Some(42), true)
        );
        assert!(matches!(parsed.scenario.transport, Some(Transport::Udp)));
        assert_eq!(parsed.duration, Some(Duration::from_secs(30)));
        assert!(!parsed.number_per_caller);
        let parsed =
            load("--server 127.0.0.1:5060 --scenario a.vps --calls 2 --rate 1 --number-per-caller")
                .unwrap();
        assert!(parsed.number_per_caller);
        assert!(run("--server 127.0.0.1:5060 --scenario a.vps --number-per-caller").is_err());
        assert!(load("--server 127.0.0.1:5060 --scenario a.vps --calls 20").is_err());
        let zero = load("--server 127.0.0.1:5060 --scenario a.vps --calls 0 --rate 1");
        assert!(zero.unwrap_err().contains("--calls"));
        assert!(load("--server 127.0.0.1:5060 --scenario a.vps --calls 1 --rate 0").is_err());
        assert!(load("--server 127.0.0.1:5060 --scenario a.vps --calls 1 --rate inf").is_err());
        assert!(
            load("--server 127.0.0.1:5060 --scenario a.vps --calls 1 --rate 1 --duration -1")
                .is_err()
        );
        assert!(run("--scenario a.vps").is_err());
        assert!(run("--server 127.0.0.1:5060").is_err());
    }
}
