//! The `vportal` binary end to end: calls placed from the console against a real data directory.

mod common;

use std::process::{Command, Stdio};

use common::*;

fn seeded() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = console_call(&data, &["--demo"], &["h"]);
    assert!(String::from_utf8_lossy(&first.stdout).contains("Demo credentials"));
    (dir, data)
}

#[test]
fn a_returning_user_reaches_the_main_menu_and_records_a_greeting() {
    let (_dir, data) = seeded();
    let call = console_call(
        &data,
        &["--from", "5551001"],
        &["1357924#", "3", "2", "~3", "1", "*", "9"],
    );
    assert_eq!(
        heard(&call),
        [
            "welcome",
            "main_menu",
            "greetings_menu",
            "record_busy_greeting",
            "tone",
            "greeting_is",
            "your recording, 3.0 s",
            "greeting_review",
            "greeting_saved",
            "greetings_menu",
            "main_menu",
            "goodbye"
        ]
    );
    let recordings: Vec<_> = std::fs::read_dir(data.join("recordings"))
        .unwrap()
        .collect();
    assert!(
        recordings.len() >= 2,
        "the demo name and the new greeting are on disk"
    );
}

#[test]
fn first_login_with_the_default_passcode_changes_it_and_records_the_name_then_the_new_one_works() {
    let (_dir, data) = seeded();
    let first = console_call(
        &data,
        &["--from", "5551002"],
        &[
            "2718281#", "123485#", "3691470#", "3691470#", "~2", "1", "9",
        ],
    );
    assert_eq!(
        heard(&first),
        [
            "welcome",
            "must_change_and_record_name",
            "rule_sequence",
            "enter_new_passcode",
            "reenter_new_passcode",
            "passcode_changed",
            "record_name",
            "tone",
            "name_is",
            "your recording, 2.0 s",
            "name_review",
            "name_saved",
            "main_menu",
            "goodbye"
        ]
    );
    // The default passcode stopped working; the new one opens the main menu directly.
    let old = console_call(&data, &["--from", "5551002"], &["2718281#", "h"]);
    assert_eq!(
        heard(&old),
        ["welcome", "passcode_incorrect", "enter_passcode"]
    );
    let new = console_call(&data, &["--from", "5551002"], &["3691470#", "9"]);
    assert_eq!(heard(&new), ["welcome", "main_menu", "goodbye"]);
}

#[test]
fn four_wrong_passcodes_over_two_calls_lock_the_mailbox_even_for_the_right_passcode() {
    let (_dir, data) = seeded();
    let first = console_call(&data, &["--from", "5551001"], &["111222#", "111333#", "h"]);
    assert_eq!(
        heard(&first),
        [
            "welcome",
            "passcode_incorrect",
            "enter_passcode",
            "passcode_incorrect",
            "enter_passcode"
        ]
    );
    let second = console_call(&data, &["--from", "5551001"], &["111444#", "111555#"]);
    assert_eq!(
        heard(&second),
        [
            "welcome",
            "passcode_incorrect",
            "enter_passcode",
            "locked_out",
            "goodbye"
        ]
    );
    let third = console_call(&data, &["--from", "5551001"], &["1357924#"]);
    assert_eq!(heard(&third), ["welcome", "locked_out", "goodbye"]);
}

#[test]
fn an_unknown_mailbox_answers_exactly_like_a_real_one() {
    let (_dir, data) = seeded();
    let wrong = ["111222#", "111333#", "111444#", "111555#"];
    let real = console_call(&data, &[], &[&["1001#"][..], &wrong[..]].concat());
    let unknown = console_call(&data, &[], &[&["9999#"][..], &wrong[..]].concat());
    assert_eq!(heard(&real), heard(&unknown));
    assert_eq!(heard(&unknown).last().map(String::as_str), Some("goodbye"));
    assert!(heard(&unknown).contains(&"locked_out".to_owned()));
}

#[test]
fn the_portal_extension_opens_the_admin_menu_with_the_admin_passcode() {
    let (_dir, data) = seeded();
    let call = console_call(&data, &[], &["8000#", "8642097#", "1", "~4", "1", "9"]);
    assert_eq!(
        heard(&call),
        [
            "enter_mailbox",
            "enter_passcode",
            "admin_menu",
            "record_business_hours_greeting",
            "tone",
            "greeting_is",
            "your recording, 4.0 s",
            "admin_greeting_review",
            "greeting_saved",
            "admin_menu",
            "goodbye"
        ]
    );
}

#[test]
fn no_passcode_reaches_the_logs_or_the_data_directory_in_clear() {
    let (_dir, data) = seeded();
    let calls = [
        console_call(
            &data,
            &["--from", "5551002"],
            &["2718281#", "3691470#", "3691470#", "~2", "1", "9"],
        ),
        console_call(
            &data,
            &["--from", "5551001"],
            &["1357924#", "8", "4826150#", "4826150#", "9"],
        ),
        console_call(&data, &[], &["8000#", "8642097#", "9"]),
    ];
    let passcodes = [
        "2718281", "3691470", "1357924", "4826150", "8642097", "2580147",
    ];
    for call in &calls {
        let log = String::from_utf8_lossy(&call.stderr);
        assert!(
            log.contains("TRACE") || log.contains("INFO"),
            "the log ran at trace level: {log}"
        );
        for passcode in passcodes {
            assert!(
                !log.contains(passcode),
                "passcode {passcode} in the log:\n{log}"
            );
        }
    }
    for entry in walk(&data) {
        let bytes = std::fs::read(&entry).unwrap();
        for passcode in passcodes {
            assert!(
                !bytes
                    .windows(passcode.len())
                    .any(|window| window == passcode.as_bytes()),
                "passcode {passcode} in {}",
                entry.display()
            );
        }
    }
}

#[test]
fn bad_arguments_get_a_message_and_a_non_zero_exit() {
    let output = Command::new(env!("CARGO_BIN_EXE_vportal"))
        .args(["console", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--bogus"));
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_vportal"))
        .args(["console", "--data"])
        .arg(dir.path().join("empty"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no voice portal is set up yet"));
}
