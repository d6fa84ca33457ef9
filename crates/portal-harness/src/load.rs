//! Load: many callers running one scenario at once, and what it cost the portal.
//!
//! [`run`] starts `calls` callers, one every `1 / rate` seconds, each on its own thread running the whole
//! scenario (every step is checked: the prompts heard are recognised as in a single call). With a `duration`,
//! each caller runs the scenario again and again until that much time has passed since the first start
//! (sustained load); without, once. The [`LoadReport`] counts and measures:
//!
//! - **calls ok / failed**: a "call" is one run of the scenario by one caller (for a scenario of several
//!   `call`s, all of them); it is ok when every step did what it said;
//! - **digits lost**: keys the portal did not act on. A `press` step is lost when the first step after it
//!   that waits for the portal (`expect`, `start`, `expect hangup`) fails: the prompt the keys should have
//!   brought did not come in time, or something else came (a passcode missing a digit is "incorrect"). All
//!   the keys of a lost press step count;
//! - **call setup**: from sending the INVITE to receiving its 2xx, p50 and p99;
//! - **`#` to prompt**: from the first packet of a `#` key to the first audio frame of the next thing heard
//!   (only when that comes before the next key), p50 and p99: the portal's reaction to a submitted entry,
//!   argon2 verification included;
//! - **RTP inter-arrival deviation**: for every received audio packet that directly follows the previous one
//!   (same SSRC, next sequence number, timestamp one 20 ms frame on), `|arrival gap - 20 ms|`, p50, p99 and
//!   max: how evenly the portal paces its RTP, as seen by the callers (the callers' own scheduling adds to
//!   it);
//! - **server CPU time and peak RSS** (given its pid, Linux): `utime + stime` from `/proc/PID/stat` at the end
//!   minus at the start (in clock ticks of 1/100 s), and `VmHWM` from `/proc/PID/status` at the end (the
//!   process's peak resident set since it started).
//!
//! Percentiles are nearest-rank over all calls' samples.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::SipTransport;
use crate::scenario::{CallRecord, Scenario};

/// How to load the portal.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The portal's SIP address.
    pub server: SocketAddr,
    /// Concurrent callers.
    pub calls: usize,
    /// Callers started per second.
    pub rate: f64,
    /// Keep every caller going (scenario after scenario) this long; `None`: each runs it once.
    pub duration: Option<Duration>,
    /// The server's process id, for its CPU time and peak memory.
    pub server_pid: Option<u32>,
    /// The prompts directory, if not the repository's.
    pub prompts_dir: Option<PathBuf>,
    /// RFC 3261 T1 for the callers' retransmissions.
    pub t1: Duration,
    /// How the callers' SIP travels, instead of what the scenario's header says.
    pub transport: Option<SipTransport>,
    /// Caller `i` calls from the scenario's calling number plus `i` ([`caller_number`]).
    pub number_per_caller: bool,
}

/// The calling number of caller `index` under [`LoadOptions::number_per_caller`]: `number` plus `index`, as
/// many digits as `number` at least (`0100` + 1 is `0101`). `None` when `number` is not all digits or the sum
/// does not fit.
pub fn caller_number(number: &str, index: usize) -> Option<String> {
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum = number.parse::<u128>().ok()?.checked_add(index as u128)?;
    Some(format!("{sum:0width$}", width = number.len()))
}

/// Milliseconds at the 50th and 99th percentiles (and the maximum where it is reported).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Spread {
    /// How many samples.
    pub samples: usize,
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Largest, ms.
    pub max_ms: f64,
}

impl Spread {
    /// The spread of `values` (sorted here).
    pub fn of(mut values: Vec<Duration>) -> Spread {
        values.sort();
        let rank = |p: f64| -> f64 {
            if values.is_empty() {
                return 0.0;
            }
            let index = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1;
            values[index].as_secs_f64() * 1000.0
        };
        Spread {
            samples: values.len(),
            p50_ms: rank(0.50),
            p99_ms: rank(0.99),
            max_ms: values.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        }
    }
}

/// The server's cost over the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ServerCost {
    /// The pid measured.
    pub pid: u32,
    /// User plus system CPU time used during the run, seconds.
    pub cpu_seconds: f64,
    /// CPU time over wall time (1.0 = one core busy).
    pub cpu_cores: f64,
    /// Peak resident set size (`VmHWM`), KiB.
    pub peak_rss_kib: u64,
}

/// What a load run measured. See the [module documentation](self) for each field's definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LoadReport {
    /// The scenario file.
    pub scenario: String,
    /// Callers.
    pub callers: usize,
    /// Callers started per second.
    pub rate: f64,
    /// Wall time of the whole run, seconds.
    pub wall_seconds: f64,
    /// Scenario runs placed (`calls_ok + calls_failed`).
    pub calls: usize,
    /// Runs where every step did what it said.
    pub calls_ok: usize,
    /// Runs where a step failed (or the dial).
    pub calls_failed: usize,
    /// Keys pressed, in all runs.
    pub digits_pressed: usize,
    /// Keys the portal did not act on.
    pub digits_lost: usize,
    /// INVITE to 2xx.
    pub call_setup: Spread,
    /// `#` to the next prompt.
    pub pound_to_prompt: Spread,
    /// RTP inter-arrival deviation from 20 ms.
    pub rtp_deviation: Spread,
    /// The server's CPU and memory, when its pid was given.
    pub server: Option<ServerCost>,
    /// The first few failures, as `line N: ... failed: ...`.
    pub failures: Vec<String>,
}

/// At most this many failure messages are kept in the report.
pub const MAX_FAILURES_KEPT: usize = 10;

/// `utime + stime` of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `VmHWM` of `pid`, KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// Clock ticks per second of `/proc/PID/stat` (`USER_HZ`, 100 on Linux).
pub const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// Runs the load and measures it. `scenario_name` is only reported.
pub fn run(scenario: &Scenario, scenario_name: &str, options: &LoadOptions) -> LoadReport {
    let records: Mutex<Vec<Vec<CallRecord>>> = Mutex::new(Vec::new());
    let cpu_before = options.server_pid.and_then(cpu_ticks);
    let started = Instant::now();
    let interval = if options.rate > 0.0 {
        Duration::from_secs_f64(1.0 / options.rate)
    } else {
        Duration::ZERO
    };
    let dial = |caller: usize, call: &crate::scenario::ScenarioCall| {
        let mut dial = scenario.dial_options(call, options.server);
        if options.number_per_caller {
            // Checked by the caller of `run`; a number that cannot be offset is dialed as written.
            if let Some(number) = caller_number(&call.from, caller) {
                dial.from = number;
            }
        }
        dial.t1 = options.t1;
        if let Some(transport) = options.transport {
            dial.transport = transport;
        }
        if let Some(prompts) = &options.prompts_dir {
            dial.prompts_dir = prompts.clone();
        }
        dial
    };
    std::thread::scope(|scope| {
        for caller in 0..options.calls {
            let start_at = started + interval.mul_f64(caller as f64);
            let records = &records;
            let dial = &dial;
            let spawned = std::thread::Builder::new()
                .name(format!("caller-{caller}"))
                .stack_size(512 * 1024)
                .spawn_scoped(scope, move || {
                    let now = Instant::now();
                    if start_at > now {
                        std::thread::sleep(start_at - now);
                    }
                    loop {
                        let run = scenario.run_from(started, |call| dial(caller, call), |_, _| {});
                        if let Ok(mut records) = records.lock() {
                            records.push(run);
                        }
                        match options.duration {
                            Some(duration) if started.elapsed() < duration => continue,
                            _ => break,
                        }
                    }
                });
            if spawned.is_err()
                && let Ok(mut records) = records.lock()
            {
                records.push(Vec::new()); // a caller that never started counts as failed
            }
        }
    });
    let wall = started.elapsed();
    let server = options.server_pid.map(|pid| {
        let ticks = match (cpu_before, cpu_ticks(pid)) {
            (Some(before), Some(after)) => after.saturating_sub(before),
            _ => 0,
        };
        let cpu_seconds = ticks as f64 / CLOCK_TICKS_PER_SECOND;
        ServerCost {
            pid,
            cpu_seconds,
            cpu_cores: cpu_seconds / wall.as_secs_f64().max(1e-9),
            peak_rss_kib: peak_rss_kib(pid).unwrap_or(0),
        }
    });
    let runs = records.into_inner().unwrap_or_default();
    let mut report = LoadReport {
        scenario: scenario_name.to_owned(),
        callers: options.calls,
        rate: options.rate,
        wall_seconds: wall.as_secs_f64(),
        server,
        ..LoadReport::default()
    };
    let mut setups = Vec::new();
    let mut pounds = Vec::new();
    let mut deviations = Vec::new();
    for run in &runs {
        let ok = run.len() == scenario.calls.len() && run.iter().all(|r| r.result.is_ok());
        report.calls += 1;
        if ok {
            report.calls_ok += 1;
        } else {
            report.calls_failed += 1;
            if report.failures.len() < MAX_FAILURES_KEPT {
                let message = run
                    .iter()
                    .find_map(|r| r.result.as_ref().err().map(ToString::to_string))
                    .unwrap_or_else(|| "the caller did not start".into());
                report.failures.push(message);
            }
        }
        for record in run {
            report.digits_pressed += record.keys_pressed;
            report.digits_lost += record.digits_lost;
            setups.extend(record.setup_time);
            pounds.extend_from_slice(&record.pound_to_prompt);
            deviations.extend_from_slice(&record.arrival_deviations);
        }
    }
    report.call_setup = Spread::of(setups);
    report.pound_to_prompt = Spread::of(pounds);
    report.rtp_deviation = Spread::of(deviations);
    report
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let spread = |s: &Spread, max: bool| {
            let mut text = format!("p50 {:.1} ms, p99 {:.1} ms", s.p50_ms, s.p99_ms);
            if max {
                text.push_str(&format!(", max {:.1} ms", s.max_ms));
            }
            format!("{text} ({} samples)", s.samples)
        };
        let rows: Vec<(&str, String)> = vec![
            ("scenario", self.scenario.clone()),
            (
                "callers",
                format!(
                    "{} started at {}/s, {:.1} s in all",
                    self.callers, self.rate, self.wall_seconds
                ),
            ),
            (
                "calls",
                format!(
                    "{} ok, {} failed (of {})",
                    self.calls_ok, self.calls_failed, self.calls
                ),
            ),
            (
                "digits lost",
                format!("{} of {} pressed", self.digits_lost, self.digits_pressed),
            ),
            (
                "call setup (INVITE to 200)",
                spread(&self.call_setup, false),
            ),
            ("# to next prompt", spread(&self.pound_to_prompt, false)),
            (
                "RTP inter-arrival - 20 ms",
                spread(&self.rtp_deviation, true),
            ),
            (
                "server CPU time",
                self.server.map_or_else(
                    || "- (no --server-pid)".into(),
                    |s| {
                        format!(
                            "{:.2} s ({:.2} cores) [pid {}]",
                            s.cpu_seconds, s.cpu_cores, s.pid
                        )
                    },
                ),
            ),
            (
                "server peak RSS (VmHWM)",
                self.server.map_or_else(
                    || "- (no --server-pid)".into(),
                    |s| format!("{:.1} MiB", s.peak_rss_kib as f64 / 1024.0),
                ),
            ),
        ];
        let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        for (name, value) in rows {
            writeln!(f, "{name:<width$}  {value}")?;
        }
        for failure in &self.failures {
            writeln!(f, "failed: {failure}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let ms = |v: u64| Duration::from_millis(v);
        let spread = Spread::of((1..=100).rev().map(ms).collect());
        assert_eq!(spread.samples, 100);
        assert_eq!(spread.p50_ms, 50.0);
        assert_eq!(spread.p99_ms, 99.0);
        assert_eq!(spread.max_ms, 100.0);
        assert_eq!(Spread::of(Vec::new()), Spread::default());
        let one = Spread::of(vec![ms(7)]);
        assert_eq!((one.p50_ms, one.p99_ms, one.max_ms), (7.0, 7.0, 7.0));
    }

    #[test]
    fn caller_numbers_count_up_and_keep_their_width() {
        assert_eq!(caller_number("55520000", 0).as_deref(), Some("55520000"));
        assert_eq!(caller_number("55520000", 199).as_deref(), Some("55520199"));
        assert_eq!(caller_number("0100", 1).as_deref(), Some("0101"));
        assert_eq!(caller_number("99", 1).as_deref(), Some("100"));
        assert_eq!(caller_number("+4455", 1), None);
        assert_eq!(caller_number("", 1), None);
        assert_eq!(caller_number(&"9".repeat(40), 1), None);
    }

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        assert!(cpu_ticks(pid).is_some());
        assert!(peak_rss_kib(pid).unwrap() > 0);
    }
}
