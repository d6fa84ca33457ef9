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
//! Scenario files are described in `portal_harness::scenario`, the load report in `portal_harness::load`.
//!
//! Options: `--transport udp|tcp` (SIP over UDP, the default, or over one TCP connection; on `run` and `load`
//! it overrides the scenario's `transport` line), `--dtmf rfc4733|info|inband`, `--telephone-event PT|none`, `--codecs pcmu,pcma`, `--digit-ms N`,
//! `--gap-ms N`, `--prompts DIR`, `--timeout-s N`, `--trace-sip`, and for load `--calls N --parallel M`
//! (every call runs the script; a summary follows). The script language is described in
//! `portal_harness::script`. Exit status: 0 when every call followed its script, 1 when one did not, 2 for a
//! bad command line.

use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use portal_harness::load::{self, LoadOptions};
use portal_harness::scenario::Scenario;
use portal_harness::script::{self, Step};
use portal_harness::{Codec, DialOptions, DtmfMode, Phone, SipTransport};

const USAGE: &str = "usage: vportal-harness run --server ADDR --scenario FILE [--transport udp|tcp] [--prompts DIR]
        [--trace-sip]
       vportal-harness load --server ADDR --scenario FILE --calls N --rate R [--duration S]
        [--transport udp|tcp] [--server-pid PID] [--json] [--prompts DIR] [--number-per-caller]
       vportal-harness call --server ADDR --from NUMBER --to NUMBER --script STEPS
        [--transport udp|tcp] [--dtmf rfc4733|info|inband] [--telephone-event PT|none] [--codecs pcmu,pcma]
        [--digit-ms N] [--gap-ms N] [--prompts DIR] [--timeout-s N] [--trace-sip]
        [--calls N --parallel M]

STEPS are separated by ';': expect PROMPT... | expect hangup | start PROMPT | press KEYS |
say MS | say FILE.wav | wait MS | hangup   (<audio> in expect is audio that is no prompt)
A scenario FILE has a header (from N, to N, transport udp|tcp, dtmf rfc4733|info|inband, telephone-event PT|none,
codecs pcmu,pcma, timeout SECONDS, digit-ms N, gap-ms N), then one step per line (the steps above,
`expect P within 5s`, `press K after 500ms`, `press K at 12s` (its last key 12 s after the run began),
`call [from N] [to N]` for the next call); // comments. --number-per-caller: load caller i calls from N + i.";

/// What `run` and `load` take.
#[derive(Debug)]
struct ScenarioArgs {
    server: std::net::SocketAddr,
    path: std::path::PathBuf,
    prompts: Option<std::path::PathBuf>,
    trace: bool,
    calls: usize,
    rate: f64,
    duration: Option<Duration>,
    server_pid: Option<u32>,
    json: bool,
    /// Overrides the scenario's `transport` line.
    transport: Option<SipTransport>,
    /// Caller `i` calls from the scenario's number plus `i`.
    number_per_caller: bool,
}

fn parse_scenario_args(load: bool, args: &[String]) -> Result<ScenarioArgs, String> {
    let mut parsed = ScenarioArgs {
        server: "127.0.0.1:5060".parse().map_err(|_| "address")?,
        path: Default::default(),
        prompts: None,
        trace: false,
        calls: 1,
        rate: 10.0,
        duration: None,
        server_pid: None,
        json: false,
        transport: None,
        number_per_caller: false,
    };
    let (mut server, mut path, mut calls, mut rate) = (false, false, false, false);
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        match flag.as_str() {
            "--trace-sip" if !load => {
                parsed.trace = true;
                continue;
            }
            "--json" if load => {
                parsed.json = true;
                continue;
            }
            "--number-per-caller" if load => {
                parsed.number_per_caller = true;
                continue;
            }
            _ => {}
        }
        let value = iter
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .as_str();
        let bad = || format!("{flag}: {value:?} is not valid");
        match flag.as_str() {
            "--server" => {
                parsed.server = value.parse().map_err(|_| bad())?;
                server = true;
            }
            "--scenario" => {
                parsed.path = value.into();
                path = true;
            }
            "--prompts" => parsed.prompts = Some(value.into()),
            "--transport" => parsed.transport = Some(parse_transport(value)?),
            "--calls" if load => {
                parsed.calls = value.parse().ok().filter(|&n| n > 0).ok_or_else(bad)?;
                calls = true;
            }
            "--rate" if load => {
                parsed.rate = value
                    .parse()
                    .ok()
                    .filter(|&r: &f64| r > 0.0 && r.is_finite())
                    .ok_or_else(bad)?;
                rate = true;
            }
            "--duration" if load => {
                let seconds: f64 = value
                    .parse()
                    .ok()
                    .filter(|&s: &f64| s >= 0.0 && s.is_finite())
                    .ok_or_else(bad)?;
                parsed.duration = Some(Duration::from_secs_f64(seconds));
            }
            "--server-pid" if load => parsed.server_pid = Some(value.parse().map_err(|_| bad())?),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if !server {
        return Err("--server is required".into());
    }
    if !path {
        return Err("--scenario is required".into());
    }
    if load && !(calls && rate) {
        return Err("load needs --calls and --rate".into());
    }
    Ok(parsed)
}

fn parse_transport(value: &str) -> Result<SipTransport, String> {
    SipTransport::parse(value).ok_or_else(|| format!("--transport: {value:?} is not udp or tcp"))
}

/// `vportal-harness run`: every call of the scenario, with its transcript.
fn run_scenario(args: &ScenarioArgs) -> ExitCode {
    let scenario = match Scenario::load(&args.path) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("vportal-harness: {}: {error}", args.path.display());
            return ExitCode::from(2);
        }
    };
    let records = scenario.run(
        |call| {
            let mut options = scenario.dial_options(call, args.server);
            options.trace_sip = args.trace;
            if let Some(transport) = args.transport {
                options.transport = transport;
            }
            if let Some(prompts) = &args.prompts {
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
            eprintln!("vportal-harness: {}: {failure}", args.path.display());
            status = ExitCode::from(1);
        }
    }
    if status == ExitCode::SUCCESS {
        println!(
            "ok: {} call(s) followed {}",
            records.len(),
            args.path.display()
        );
    }
    status
}

/// `vportal-harness load`: the report, as a table or JSON.
fn run_load(args: &ScenarioArgs) -> ExitCode {
    let scenario = match Scenario::load(&args.path) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("vportal-harness: {}: {error}", args.path.display());
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
        server: args.server,
        calls: args.calls,
        rate: args.rate,
        duration: args.duration,
        server_pid: args.server_pid,
        prompts_dir: args.prompts.clone(),
        t1: Duration::from_millis(500),
        transport: args.transport,
        number_per_caller: args.number_per_caller,
    };
    let report = load::run(&scenario, &args.path.display().to_string(), &options);
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

#[derive(Debug)]
struct Args {
    options: DialOptions,
    steps: Vec<Step>,
    timeout: Duration,
    calls: usize,
    parallel: usize,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut iter = args.iter();
    match iter.next().map(String::as_str) {
        Some("call") => {}
        Some("-h" | "--help") | None => return Err(String::new()),
        Some(other) => return Err(format!("unknown command {other:?}")),
    }
    let mut server = None;
    let mut from = None;
    let mut to = None;
    let mut script_text = None;
    let mut transport = SipTransport::Udp;
    let mut dtmf = DtmfMode::Rfc4733;
    let mut telephone_event = Some(101);
    let mut codecs = vec![Codec::Pcmu, Codec::Pcma];
    let mut digit_ms = 100;
    let mut gap_ms = 100;
    let mut prompts = None;
    let mut timeout = Duration::from_secs(30);
    let mut trace = false;
    let mut calls = 1;
    let mut parallel = 1;
    while let Some(flag) = iter.next() {
        if flag == "--trace-sip" {
            trace = true;
            continue;
        }
        let value = iter
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .as_str();
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: {v:?} is not a number"))
        };
        match flag.as_str() {
            "--server" => {
                server = Some(
                    value
                        .parse()
                        .map_err(|_| format!("--server: {value:?} is not an address"))?,
                )
            }
            "--from" => from = Some(value.to_owned()),
            "--to" => to = Some(value.to_owned()),
            "--script" => script_text = Some(value.to_owned()),
            "--transport" => transport = parse_transport(value)?,
            "--dtmf" => {
                dtmf = match value {
                    "rfc4733" => DtmfMode::Rfc4733,
                    "info" => DtmfMode::SipInfo,
                    "inband" => DtmfMode::Inband,
                    other => {
                        return Err(format!("--dtmf: {other:?} is not rfc4733, info or inband"));
                    }
                }
            }
            "--telephone-event" => {
                telephone_event = match value {
                    "none" => None,
                    pt => Some(
                        pt.parse::<u8>()
                            .ok()
                            .filter(|pt| (96..=127).contains(pt))
                            .ok_or_else(|| {
                                format!("--telephone-event: {pt:?} is not 96-127 or none")
                            })?,
                    ),
                }
            }
            "--codecs" => {
                codecs = value
                    .split(',')
                    .map(|c| match c.trim().to_ascii_lowercase().as_str() {
                        "pcmu" => Ok(Codec::Pcmu),
                        "pcma" => Ok(Codec::Pcma),
                        other => Err(format!("--codecs: {other:?} is not pcmu or pcma")),
                    })
                    .collect::<Result<_, _>>()?
            }
            "--digit-ms" => digit_ms = number(value)? as u32,
            "--gap-ms" => gap_ms = number(value)? as u32,
            "--prompts" => prompts = Some(value.into()),
            "--timeout-s" => timeout = Duration::from_secs(number(value)?),
            "--calls" => calls = number(value)?.max(1) as usize,
            "--parallel" => parallel = number(value)?.max(1) as usize,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    let server = server.ok_or("--server is required")?;
    let from = from.ok_or("--from is required")?;
    let to = to.ok_or("--to is required")?;
    let steps =
        script::parse(&script_text.ok_or("--script is required")?).map_err(|e| e.to_string())?;
    let mut options = DialOptions::new(server, from, to);
    options.transport = transport;
    options.dtmf_mode = dtmf;
    options.telephone_event_pt = if dtmf == DtmfMode::Inband && telephone_event == Some(101) {
        None // in-band keys are only heard without telephone-event
    } else {
        telephone_event
    };
    options.codecs = codecs;
    options.digit_ms = digit_ms;
    options.gap_ms = gap_ms;
    if let Some(prompts) = prompts {
        options.prompts_dir = prompts;
    }
    options.trace_sip = trace;
    Ok(Args {
        options,
        steps,
        timeout,
        calls,
        parallel: parallel.min(calls),
    })
}

/// One call: dial, run the script, hang up if the script did not end the call.
fn one_call(args: &Args, print: bool) -> (Result<(), String>, Vec<String>, Option<Duration>) {
    let dialed = Instant::now();
    let phone = match Phone::dial(args.options.clone()) {
        Ok(phone) => phone,
        Err(error) => return (Err(format!("dial: {error}")), Vec::new(), None),
    };
    let result = script::run(&phone, &args.steps, args.timeout, |step| {
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

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if let Some(command @ ("run" | "load")) = raw.first().map(String::as_str) {
        let load = command == "load";
        return match parse_scenario_args(load, &raw[1..]) {
            Ok(args) if load => run_load(&args),
            Ok(args) => run_scenario(&args),
            Err(problem) => {
                eprintln!("vportal-harness: {problem}");
                eprintln!("{USAGE}");
                ExitCode::from(2)
            }
        };
    }
    let args = match parse_args(&raw) {
        Ok(args) => args,
        Err(problem) => {
            if !problem.is_empty() {
                eprintln!("vportal-harness: {problem}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if args.calls == 1 {
        let (result, transcript, _) = one_call(&args, true);
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
        for _ in 0..args.parallel {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= args.calls {
                        return;
                    }
                    let (result, transcript, first) = one_call(&args, false);
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
        args.parallel
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Result<Args, String> {
        parse_args(
            &text
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn reads_a_call() {
        let parsed = args(
            "call --server 127.0.0.1:5070 --from 5551001 --to 5558000 --script expect_welcome_placeholder \
             --dtmf inband --codecs pcma,pcmu --calls 4 --parallel 8",
        );
        // The script word is not a step: the error names it.
        assert!(parsed.unwrap_err().contains("expect_welcome_placeholder"));
        let parsed = args(
            "call --server 127.0.0.1:5070 --from 5551001 --to 5558000 --script hangup --dtmf inband \
             --codecs pcma,pcmu --calls 4 --parallel 8",
        )
        .unwrap();
        assert_eq!(parsed.options.dtmf_mode, DtmfMode::Inband);
        assert_eq!(parsed.options.transport, SipTransport::Udp);
        assert_eq!(parsed.options.telephone_event_pt, None);
        assert_eq!(parsed.options.codecs, [Codec::Pcma, Codec::Pcmu]);
        assert_eq!((parsed.calls, parsed.parallel), (4, 4));
        let tcp = args(
            "call --server 127.0.0.1:5070 --from 5551001 --to 5558000 --script hangup --transport tcp",
        )
        .unwrap();
        assert_eq!(tcp.options.transport, SipTransport::Tcp);
        let wrong = args(
            "call --server 127.0.0.1:5070 --from 5551001 --to 5558000 --script hangup --transport sctp",
        );
        assert!(wrong.unwrap_err().contains("udp or tcp"));
        assert!(args("call --from 1").is_err());
        assert!(args("dance").is_err());
        assert!(args("call --server x --from 1 --to 2 --script hangup").is_err());
    }

    #[test]
    fn reads_run_and_load() {
        let words =
            |text: &str| -> Vec<String> { text.split_whitespace().map(str::to_owned).collect() };
        let run = parse_scenario_args(
            false,
            &words("--server 127.0.0.1:5060 --scenario a.vps --trace-sip"),
        )
        .unwrap();
        assert!(run.trace);
        assert_eq!(run.transport, None);
        let run = parse_scenario_args(
            false,
            &words("--server 127.0.0.1:5060 --scenario a.vps --transport TCP"),
        )
        .unwrap();
        assert_eq!(run.transport, Some(SipTransport::Tcp));
        assert!(
            parse_scenario_args(
                false,
                &words("--server 127.0.0.1:5060 --scenario a.vps --calls 3")
            )
            .is_err()
        );
        let load = parse_scenario_args(
            true,
            &words("--server 127.0.0.1:5060 --scenario a.vps --calls 20 --rate 5 --duration 30 --server-pid 42 --json --transport udp"),
        )
        .unwrap();
        assert_eq!(
            (load.calls, load.rate, load.server_pid, load.json),
            (20, 5.0, Some(42), true)
        );
        assert_eq!(load.transport, Some(SipTransport::Udp));
        assert_eq!(load.duration, Some(Duration::from_secs(30)));
        assert!(!load.number_per_caller);
        let load = parse_scenario_args(
            true,
            &words(
                "--server 127.0.0.1:5060 --scenario a.vps --calls 2 --rate 1 --number-per-caller",
            ),
        )
        .unwrap();
        assert!(load.number_per_caller);
        assert!(
            parse_scenario_args(
                false,
                &words("--server 127.0.0.1:5060 --scenario a.vps --number-per-caller")
            )
            .is_err()
        );
        assert!(
            parse_scenario_args(
                true,
                &words("--server 127.0.0.1:5060 --scenario a.vps --calls 20")
            )
            .is_err()
        );
        assert!(
            parse_scenario_args(
                true,
                &words("--server 127.0.0.1:5060 --scenario a.vps --calls 0 --rate 1")
            )
            .is_err()
        );
        assert!(parse_scenario_args(false, &words("--scenario a.vps")).is_err());
    }
}
