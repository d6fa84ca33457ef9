//! End to end: every scenario in `examples/scenarios/` against its own fresh `vportal serve --demo` (short
//! timers), as `vportal-harness run` would run it. A failure names the scenario's line and step and what
//! was heard instead.

use std::path::{Path, PathBuf};

use portal_harness::scenario::Scenario;
use vportal_tests::{Server, call_options, workspace_root};

fn scenarios_dir() -> PathBuf {
    workspace_root().join("examples/scenarios")
}

fn run(file: &str) {
    let path = scenarios_dir().join(file);
    let scenario = Scenario::load(&path).unwrap_or_else(|error| panic!("{file}: {error}"));
    let server = Server::start_demo("");
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
);
