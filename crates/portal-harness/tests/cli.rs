//! The `vportal-harness` command against a real `vportal serve`: `run` with scenario files (over UDP and over
//! TCP; a failure names the line, the step and what was heard) and `load` (the JSON report parses and its
//! counts add up); and its command line: help and version exit 0, a bad command line exits 2 with a usage line.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::Server;

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vportal-harness"))
        .args(args)
        .output()
        .expect("vportal-harness runs")
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/scenarios")
        .join(name)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn run_follows_a_scenario_and_names_the_line_that_failed() {
    let server = Server::start("cli_run");
    let sip = server.sip.to_string();
    let settled = example("settled_login.scenario");
    let output = harness(&[
        "run",
        "--server",
        &sip,
        "--scenario",
        settled.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    assert!(
        text(&output.stdout).contains("heard goodbye"),
        "{}",
        text(&output.stdout)
    );

    // The same scenario with SIP over TCP: the trace shows the portal's messages arriving on the connection.
    let output = harness(&[
        "run",
        "--server",
        &sip,
        "--scenario",
        settled.to_str().unwrap(),
        "--transport",
        "tcp",
        "--trace-sip",
    ]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("over TCP") && stdout.contains("heard goodbye"),
        "{stdout}"
    );
    // Bytes read from the connection, and the portal's Contact written for a call that came over TCP.
    assert!(stderr.contains("(TCP, "), "{stderr}");
    assert!(
        stderr.contains(&format!("<sip:vportal@{sip};transport=tcp>")),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.scenario");
    std::fs::write(
        &wrong,
        "// expects the wrong thing on line 6\nfrom 5551001\ntimeout 15\nstart welcome\npress 1357924#\n\
         expect goodbye   // it is the main menu\nexpect hangup\n",
    )
    .unwrap();
    let output = harness(&[
        "run",
        "--server",
        &sip,
        "--scenario",
        wrong.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("line 6: `expect goodbye` failed"),
        "{stderr}"
    );
    assert!(stderr.contains("heard main_menu"), "{stderr}");

    std::fs::write(&wrong, "from 5551001\nstart welcome\npress 12x\n").unwrap();
    let output = harness(&[
        "run",
        "--server",
        &sip,
        "--scenario",
        wrong.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("line 3"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn load_reports_json_whose_counts_add_up() {
    // One source address places every call: the per-source INVITE rate limit is off.
    let server = Server::start_configured("cli_load", "invite_rate_per_second = 0.0", "");
    let sip = server.sip.to_string();
    let pid = server.pid().to_string();
    let settled = example("settled_login.scenario");
    let output = harness(&[
        "load",
        "--server",
        &sip,
        "--scenario",
        settled.to_str().unwrap(),
        "--calls",
        "20",
        "--rate",
        "10",
        "--server-pid",
        &pid,
        "--json",
    ]);
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}\n{}",
        text(&output.stderr),
        server.log_tail(30)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("the report is JSON");
    let number = |path: &str| -> f64 {
        report
            .pointer(path)
            .and_then(serde_json::Value::as_f64)
            .unwrap_or_else(|| panic!("{path} in {stdout}"))
    };
    assert_eq!(number("/calls"), 20.0);
    assert_eq!(number("/calls_ok"), 20.0);
    assert_eq!(
        number("/calls_ok") + number("/calls_failed"),
        number("/calls")
    );
    // 1357924# then 9, in each call.
    assert_eq!(number("/digits_pressed"), 180.0);
    assert_eq!(number("/digits_lost"), 0.0);
    assert_eq!(number("/call_setup/samples"), 20.0);
    assert_eq!(number("/pound_to_prompt/samples"), 20.0);
    assert!(number("/rtp_deviation/samples") > 100.0, "{stdout}");
    for spread in ["call_setup", "pound_to_prompt", "rtp_deviation"] {
        let (p50, p99, max) = (
            number(&format!("/{spread}/p50_ms")),
            number(&format!("/{spread}/p99_ms")),
            number(&format!("/{spread}/max_ms")),
        );
        assert!(0.0 <= p50 && p50 <= p99 && p99 <= max, "{spread}: {stdout}");
    }
    assert!(number("/server/cpu_seconds") > 0.0, "{stdout}");
    assert!(number("/server/peak_rss_kib") > 1000.0, "{stdout}");
    assert_eq!(report["failures"].as_array().map(Vec::len), Some(0));

    // A scenario whose passcode is wrong: every call fails at the step after the press, whose 8 keys count
    // as lost; the table names the failure.
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.scenario");
    std::fs::write(
        &wrong,
        "from 5551001\ntimeout 15\nstart welcome\npress 1111111#\nstart main_menu\n",
    )
    .unwrap();
    let output = harness(&[
        "load",
        "--server",
        &sip,
        "--scenario",
        wrong.to_str().unwrap(),
        "--calls",
        "2",
        "--rate",
        "5",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let table = text(&output.stdout);
    assert!(table.contains("0 ok, 2 failed (of 2)"), "{table}");
    assert!(table.contains("16 of 16 pressed"), "{table}");
    assert!(
        table.contains("line 5: `start main_menu` failed"),
        "{table}"
    );
}

/// `--number-per-caller` needs calling numbers it can count up from: anything else is refused before a call
/// is placed (no server is needed to see it).
#[test]
fn number_per_caller_refuses_a_number_that_is_not_digits() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("plus.scenario");
    std::fs::write(&scenario, "from +4455501\nstart welcome\nhangup\n").unwrap();
    let output = harness(&[
        "load",
        "--server",
        "127.0.0.1:9",
        "--scenario",
        scenario.to_str().unwrap(),
        "--calls",
        "3",
        "--rate",
        "1",
        "--number-per-caller",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("--number-per-caller") && stderr.contains("+4455501"),
        "{stderr}"
    );
}

#[test]
fn help_and_version_exit_0_and_list_the_commands() {
    let output = harness(&["--help"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let help = text(&output.stdout);
    assert!(help.contains("Usage: vportal-harness <COMMAND>"), "{help}");
    for command in ["run", "load", "call"] {
        assert!(
            help.contains(&format!("\n  {command} ")),
            "{command}: {help}"
        );
    }

    // Every option of every command is listed with its help line.
    for (command, options) in [
        (
            "run",
            "--server --scenario --transport --prompts --trace-sip",
        ),
        (
            "load",
            "--server --scenario --calls --rate --duration --transport --server-pid --json --prompts \
             --number-per-caller",
        ),
        (
            "call",
            "--server --from --to --script --transport --dtmf --telephone-event --codecs --digit-ms --gap-ms \
             --prompts --timeout-s --trace-sip --calls --parallel",
        ),
    ] {
        let output = harness(&[command, "--help"]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let help = text(&output.stdout);
        let usage = format!("Usage: vportal-harness {command} ");
        assert!(help.contains(&usage), "{help}");
        // `-h` keeps each option and its help on one line: the option, its value name, spaces, the help.
        let short = text(&harness(&[command, "-h"]).stdout);
        for option in options.split_whitespace() {
            let listed = option_line(&help, option);
            assert!(listed.is_some(), "{command} {option}: {help}");
            let line = option_line(&short, option);
            assert!(
                line.is_some_and(|line| line
                    .split("  ")
                    .skip(1)
                    .any(|part| !part.trim().is_empty())),
                "{command} {option} has no help line: {short}"
            );
        }
    }

    let output = harness(&["--version"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(text(&output.stdout).starts_with("vportal-harness "));
}

/// Exit status 2, nothing on standard output, and `expected` in the message; no server is needed.
#[test]
fn a_bad_command_line_exits_2_with_a_usage_line() {
    let refused = |args: &str, expected: &str| {
        let output = harness(&args.split_whitespace().collect::<Vec<_>>());
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args}: {stderr}");
        assert!(stderr.contains(expected), "{args}: {stderr}");
        assert!(output.stdout.is_empty(), "{args}");
    };
    refused("--bogus", "Usage: vportal-harness <COMMAND>");
    refused("", "Usage: vportal-harness <COMMAND>");
    refused("dance", "Usage: vportal-harness <COMMAND>");
    let run = "run --server 127.0.0.1:9 --scenario a.scenario";
    refused(&format!("{run} --bogus"), "Usage: vportal-harness run ");
    // An option of another command is unknown here.
    refused(&format!("{run} --json"), "Usage: vportal-harness run ");
    refused("run --server nowhere --scenario a.scenario", "--server");
    let load = "load --server 127.0.0.1:9 --scenario a.scenario";
    refused(&format!("{load} --calls 3"), "Usage: vportal-harness load ");
    refused(&format!("{load} --calls 0 --rate 1"), "--calls");

    // A value that is not valid: the message names the option.
    let call = "call --server 127.0.0.1:9 --from 1 --to 2";
    refused(&format!("{call} --script dance"), "--script");
    refused(
        &format!("{call} --script hangup --digit-ms x"),
        "--digit-ms",
    );
    refused(
        &format!("{call} --script hangup --telephone-event 90"),
        "96-127 or none",
    );
    refused(&format!("{call} --script hangup --codecs g729"), "--codecs");
    refused(&format!("{call} --script hangup --dtmf tones"), "--dtmf");
}

/// The line of a help text that lists `option`.
fn option_line<'a>(help: &'a str, option: &str) -> Option<&'a str> {
    help.lines()
        .map(str::trim)
        .find(|line| *line == option || line.starts_with(&format!("{option} ")))
}
