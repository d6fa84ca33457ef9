//! End to end: every scenario in `examples/scenarios/` against its own fresh `vportal serve --demo` (short
//! timers), as `vportal-harness run` would run it. A failure names the scenario's line and step and what
//! was heard instead.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use portal_harness::load::{self, LoadOptions};
use portal_harness::scenario::Scenario;
use vportal_tests::{Server, call_options, count_kind, workspace_root};

fn scenarios_dir() -> PathBuf {
    workspace_root().join("examples/scenarios")
}

fn run(file: &str) {
    let path = scenarios_dir().join(file);
    let scenario = Scenario::load(&path).unwrap_or_else(|error| panic!("{file}: {error}"));
    // A scenario that sends its own SIP headers plays a PBX (its redirections are believed only from a trusted
    // peer): its server trusts loopback.
    let server = Server::start_demo(if scenario.header.sip_headers.is_empty() {
        ""
    } else {
        "trusted = [\"127.0.0.1/32\"]\n"
    });
    let records = scenario.run(
        |call| {
            let mut options = scenario.dial_options(call, server.sip);
            options.t1 = call_options(&server, &call.from).t1;
            options
        },
        |_, _| {},
    );
    for record in &records {
        if let Err(failure) = &record.result {
            panic!(
                "{file}: {failure}\n--- transcript ---\n{}\n--- server log (tail) ---\n{}",
                record.transcript.join("\n"),
                server.log_tail(30)
            );
        }
    }
    assert_eq!(
        records.len(),
        scenario.calls.len(),
        "{file}: every call ran"
    );
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run(concat!(stringify!($name), ".scenario"));
            }
        )*

        /// Every file in examples/scenarios/ is run above, and reads.
        #[test]
        fn every_example_scenario_is_run_here() {
            let listed = [$(concat!(stringify!($name), ".scenario")),*];
            let mut found: Vec<String> = std::fs::read_dir(scenarios_dir())
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| Path::new(name).extension().is_some_and(|e| e == "scenario"))
                .collect();
            found.sort();
            for name in &found {
                assert!(listed.contains(&name.as_str()), "{name} is not run by this suite");
                Scenario::load(&scenarios_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            assert_eq!(found.len(), listed.len(), "{found:?}");
        }
    };
}

scenarios!(
    settled_login,
    first_login_default_passcode,
    name_only,
    star_key_from_another_phone,
    unknown_mailbox,
    too_many_failures_in_one_call,
    locked_out,
    admin_business_hours_greeting,
    greetings_menu,
    voluntary_change,
    first_digit_timeout,
    inter_digit_timeout,
    passcode_not_set,
    leave_message,
    leave_message_pound,
    listen_to_messages,
);

/// What the login storm bench needs from `vportal-harness load`: with `--number-per-caller` each caller is its
/// own user (caller `i` calls from the scenario's number plus `i`), and `press KEYS at T` sends the last key
/// (`#`) T after the run began. Two users, mailboxes 2000 and 2001 called from 5552000 and 5552001, have their
/// passcodes set by the administrator, so the prompt after a right passcode is must_record_name.
#[test]
fn load_callers_each_call_from_their_own_number_and_press_at_the_planned_moment() {
    let server = Server::start_demo("");
    server.admin(&["policy", "set", "--initial-pin", "none"], "");
    for mailbox in ["2000", "2001"] {
        let number = format!("555{mailbox}");
        let email = format!("user{mailbox}@example.org");
        server.admin(
            &[
                "user",
                "add",
                "--mailbox",
                mailbox,
                "--number",
                &number,
                "--extension",
                mailbox,
                "--email",
                &email,
            ],
            "",
        );
        server.admin(&["user", "set-pin", mailbox], "1357924\n");
    }
    let scenario = Scenario::parse(
        "from 5552000\nstart welcome\npress 1357924# at 3s\nexpect must_record_name within 10s\nhangup",
        None,
    )
    .unwrap();
    let t1 = call_options(&server, "5552000").t1;

    // One run: the # goes out 3 s after the run began (on the media clock's 20 ms grid, so a little later).
    let began = Instant::now();
    let records = scenario.run_from(
        began,
        |call| {
            let mut options = scenario.dial_options(call, server.sip);
            options.t1 = t1;
            options
        },
        |_, _| {},
    );
    assert!(records[0].result.is_ok(), "{:?}", records[0].result);
    let keys: String = records[0].keys_sent.iter().map(|(key, _)| key).collect();
    assert_eq!(keys, "1357924#");
    let pound_at = records[0].keys_sent[7].1 - began;
    assert!(
        pound_at >= Duration::from_secs(3) && pound_at < Duration::from_millis(3250),
        "# went out {pound_at:?} after the run began"
    );

    // A load of two callers, each from its own number.
    let report = load::run(
        &scenario,
        "two users",
        &LoadOptions {
            server: server.sip,
            calls: 2,
            rate: 4.0,
            duration: None,
            server_pid: None,
            prompts_dir: None,
            t1,
            transport: None,
            number_per_caller: true,
        },
    );
    assert_eq!((report.calls_ok, report.digits_lost), (2, 0), "{report}");
    assert_eq!(count_kind(&server.audit("2000"), "login_ok"), 2);
    assert_eq!(count_kind(&server.audit("2001"), "login_ok"), 1);
}
