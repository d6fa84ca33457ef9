//! `vportal admin`: every subcommand, what it emails, and what bad input gets.

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn fresh() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    (dir, data)
}

/// A portal 5558000 (extension 8000, admin passcode 8642097) and nothing else.
fn with_portal() -> (tempfile::TempDir, PathBuf) {
    let (dir, data) = fresh();
    admin_ok(
        &data,
        &[
            "portal",
            "add",
            "--number",
            "5558000",
            "--extension",
            "8000",
            "--name",
            "HQ",
        ],
        "8642097\n",
    );
    (dir, data)
}

fn add_user(data: &Path, mailbox: &str) -> String {
    admin_ok(
        data,
        &[
            "user",
            "add",
            "--mailbox",
            mailbox,
            "--number",
            &format!("555{mailbox}"),
            "--extension",
            mailbox,
            "--email",
            &format!("user{mailbox}@example.org"),
        ],
        "",
    )
}

#[test]
fn policy_show_and_set_with_a_default_passcode_from_stdin() {
    let (_dir, data) = fresh();
    let shown = json(&admin_ok(&data, &["policy", "show"], ""));
    assert_eq!(
        shown["initial_pin"], "generated",
        "a new organization generates"
    );
    assert_eq!(shown["reset_pin"], "generated");
    assert_eq!(shown["default_pin_set"], false);
    assert_eq!(shown["temporary_pin_lifetime_hours"], 72);
    assert_eq!(shown["rules"]["failed_attempts_before_lockout"], 4);

    let set = json(&admin_ok(
        &data,
        &[
            "policy",
            "set",
            "--initial-pin",
            "default",
            "--reset-pin",
            "default",
            "--default-pin-stdin",
            "--preset",
            "exactly-7-digits",
            "--expiry-days",
            "90",
            "--min-days-between-changes",
            "1",
            "--history",
            "5",
            "--lockout-attempts",
            "5",
            "--temporary-pin-hours",
            "24",
        ],
        "2718281\n",
    ));
    assert_eq!(set["initial_pin"], "default");
    assert_eq!(set["reset_pin"], "default");
    assert_eq!(set["default_pin_set"], true);
    assert_eq!(set["temporary_pin_lifetime_hours"], 24);
    assert_eq!(set["rules"]["min_length"], 7);
    assert_eq!(set["rules"]["max_length"], 7);
    assert_eq!(set["rules"]["expiry_days"], 90);
    assert_eq!(set["rules"]["min_days_between_changes"], 1);
    assert_eq!(set["rules"]["history_length"], 5);
    assert_eq!(set["rules"]["failed_attempts_before_lockout"], 5);
    assert_eq!(json(&admin_ok(&data, &["policy", "show"], "")), set);
    assert!(!admin_ok(&data, &["policy", "show"], "").contains("2718281"));

    let off = json(&admin_ok(
        &data,
        &["policy", "set", "--expiry-days", "off"],
        "",
    ));
    assert_eq!(off["rules"]["expiry_days"], serde_json::Value::Null);
}

#[test]
fn bad_policy_input_is_refused_and_changes_nothing() {
    let (_dir, data) = fresh();
    let before = admin_ok(&data, &["policy", "show"], "");
    let refused = admin_refused(
        &data,
        &[
            "policy",
            "set",
            "--initial-pin",
            "default",
            "--default-pin-stdin",
        ],
        "1234567\n",
    );
    assert!(refused.contains("passcode refused"), "{refused}");
    let refused = admin_refused(&data, &["policy", "set", "--initial-pin", "default"], "");
    assert!(refused.contains("default passcode"), "{refused}");
    let refused = admin_refused(
        &data,
        &["policy", "set", "--min-length", "9", "--max-length", "8"],
        "",
    );
    assert!(refused.contains("invalid passcode rules"), "{refused}");
    let refused = admin_refused(
        &data,
        &[
            "policy",
            "set",
            "--initial-pin",
            "default",
            "--default-pin-stdin",
        ],
        "27a8281\n",
    );
    assert!(refused.contains("only the digits"), "{refused}");
    let refused = admin_refused(&data, &["policy", "set", "--expiry-days", "soon"], "");
    assert!(refused.contains("soon"), "{refused}");
    let refused = admin_refused(&data, &["policy", "set", "--initial-pin", "sometimes"], "");
    assert!(refused.contains("sometimes"), "{refused}");
    assert_eq!(admin_ok(&data, &["policy", "show"], ""), before);
}

#[test]
fn portals_are_added_shown_changed_listed_unlocked_and_given_a_new_passcode() {
    let (_dir, data) = with_portal();
    let shown = json(&admin_ok(&data, &["portal", "show", "8000"], ""));
    assert_eq!(shown["id"], "5558000");
    assert_eq!(shown["admin_passcode_set"], true);
    assert!(!shown.to_string().contains("8642097"));

    let changed = json(&admin_ok(
        &data,
        &[
            "portal",
            "set",
            "5558000",
            "--name",
            "Head office",
            "--language",
            "es",
        ],
        "",
    ));
    assert_eq!(changed["name"], "Head office");
    assert_eq!(changed["language"], "es");
    assert_eq!(changed["extension"], "8000");
    let listed = json(&admin_ok(&data, &["portal", "list"], ""));
    assert_eq!(listed.as_array().unwrap().len(), 1);

    // Lock the admin passcode from the console, then unlock it.
    for _ in 0..2 {
        console_call(&data, &[], &["8000#", "1111000#", "1111001#", "h"]);
    }
    assert_eq!(
        json(&admin_ok(&data, &["portal", "show", "8000"], ""))["admin_locked"],
        true
    );
    let locked = console_call(&data, &[], &["8000#", "8642097#"]);
    assert_eq!(
        heard(&locked),
        ["enter_mailbox", "enter_passcode", "locked_out", "goodbye"]
    );
    admin_ok(&data, &["portal", "unlock", "8000"], "");
    assert_eq!(
        json(&admin_ok(&data, &["portal", "show", "8000"], ""))["admin_locked"],
        false
    );

    admin_ok(&data, &["portal", "set-passcode", "8000"], "9753186\n");
    let new = console_call(&data, &[], &["8000#", "9753186#", "9"]);
    assert_eq!(
        heard(&new),
        ["enter_mailbox", "enter_passcode", "admin_menu", "goodbye"]
    );

    admin_refused(&data, &["portal", "set", "8000"], "");
    admin_refused(&data, &["portal", "show", "7777"], "");
    admin_refused(&data, &["portal", "set-passcode", "8000"], "12\n");
    let duplicate = admin_refused(
        &data,
        &["portal", "add", "--number", "5558000", "--name", "Again"],
        "8642097\n",
    );
    assert!(duplicate.contains("already in use"), "{duplicate}");
}

#[test]
fn a_generated_onboarding_email_carries_a_passcode_that_opens_the_forced_change() {
    let (_dir, data) = with_portal();
    let added = add_user(&data, "1001");
    assert!(added.contains("user 1001 added"), "{added}");
    let emails = outbox(&data);
    assert_eq!(emails.len(), 1);
    assert!(emails[0].contains("To: user1001@example.org"));
    let temporary =
        field(&emails[0], "Temporary passcode").expect("a temporary passcode in the email");
    assert_eq!(temporary.len(), 7);
    assert!(
        !added.contains(&temporary),
        "the passcode is only in the email"
    );

    let shown = json(&admin_ok(&data, &["user", "show", "1001"], ""));
    assert_eq!(shown["must_change"], "temporary");
    assert_eq!(shown["locked"], false);
    assert_eq!(shown["name_recorded"], false);
    assert!(!shown.to_string().contains("argon2"));

    let call = console_call(
        &data,
        &["--from", "5551001"],
        &[&format!("{temporary}#"), "h"],
    );
    assert_eq!(heard(&call), ["welcome", "must_change_and_record_name"]);
}

#[test]
fn the_default_passcode_policy_emails_the_default_and_existing_users_keep_theirs() {
    let (_dir, data) = with_portal();
    add_user(&data, "1001");
    let first = field(&outbox(&data)[0], "Temporary passcode").unwrap();
    admin_ok(
        &data,
        &[
            "policy",
            "set",
            "--initial-pin",
            "default",
            "--default-pin-stdin",
        ],
        "2718281\n",
    );
    add_user(&data, "1002");
    let emails = outbox(&data);
    assert_eq!(
        field(&emails[1], "Passcode").as_deref(),
        Some("2718281"),
        "{}",
        emails[1]
    );
    // The earlier user still logs in with the passcode they were given.
    let call = console_call(&data, &["--from", "5551001"], &[&format!("{first}#"), "h"]);
    assert_eq!(heard(&call), ["welcome", "must_change_and_record_name"]);
    let call = console_call(&data, &["--from", "5551002"], &["2718281#", "h"]);
    assert_eq!(heard(&call), ["welcome", "must_change_and_record_name"]);
}

#[test]
fn reset_pin_unlocks_and_emails_a_temporary_passcode_that_forces_a_change() {
    let (_dir, data) = with_portal();
    admin_ok(&data, &["policy", "set", "--initial-pin", "none"], "");
    let added = add_user(&data, "1001");
    assert!(added.contains("without a passcode"), "{added}");
    assert!(outbox(&data).is_empty());
    admin_ok(&data, &["user", "set-pin", "1001"], "1357924\n");
    // Lock it: four wrong passcodes over two calls.
    console_call(&data, &["--from", "5551001"], &["111222#", "111333#", "h"]);
    console_call(&data, &["--from", "5551001"], &["111444#", "111555#"]);
    let shown = json(&admin_ok(&data, &["user", "show", "1001"], ""));
    assert_eq!(shown["locked"], true);
    assert_eq!(shown["failed_attempts"], 4);
    let lock_notices: Vec<String> = outbox(&data)
        .into_iter()
        .filter(|email| email.contains("Subject:") && email.to_lowercase().contains("locked"))
        .collect();
    assert_eq!(
        lock_notices.len(),
        1,
        "one lockout notice: {:?}",
        outbox(&data)
    );

    let reset = admin_ok(&data, &["user", "reset-pin", "1001"], "");
    assert!(reset.contains("passcode reset"), "{reset}");
    let email = outbox(&data).pop().unwrap();
    let temporary = field(&email, "Temporary passcode").expect("a temporary passcode");
    let shown = json(&admin_ok(&data, &["user", "show", "1001"], ""));
    assert_eq!(shown["locked"], false);
    assert_eq!(shown["failed_attempts"], 0);
    assert_eq!(shown["must_change"], "temporary");

    let call = console_call(
        &data,
        &["--from", "5551001"],
        &[
            &format!("{temporary}#"),
            "4826150#",
            "4826150#",
            "~2",
            "1",
            "9",
        ],
    );
    assert_eq!(
        heard(&call)[..6],
        [
            "welcome",
            "must_change_and_record_name",
            "reenter_new_passcode",
            "passcode_changed",
            "record_name",
            "tone"
        ]
    );
    let changed = outbox(&data).pop().unwrap();
    assert!(
        changed.contains("changed"),
        "a passcode-changed notice: {changed}"
    );
    assert!(!changed.contains("4826150"));
    // The temporary passcode stopped working.
    let again = console_call(
        &data,
        &["--from", "5551001"],
        &[&format!("{temporary}#"), "h"],
    );
    assert_eq!(
        heard(&again),
        ["welcome", "passcode_incorrect", "enter_passcode"]
    );
}

#[test]
fn set_pin_checks_the_rules_and_unlock_and_remove_work() {
    let (_dir, data) = with_portal();
    add_user(&data, "1001");
    let refused = admin_refused(&data, &["user", "set-pin", "1001"], "123456\n");
    assert!(refused.contains("passcode refused"), "{refused}");
    let refused = admin_refused(&data, &["user", "set-pin", "1001"], "5551001\n");
    assert!(refused.contains("passcode refused"), "{refused}");
    admin_ok(&data, &["user", "set-pin", "1001"], "1357924\n");
    assert_eq!(
        json(&admin_ok(&data, &["user", "show", "1001"], ""))["must_change"],
        serde_json::Value::Null
    );
    let refused = admin_refused(&data, &["user", "set-pin", "1001"], "1357924\n");
    assert!(
        refused.contains("passcode refused"),
        "the current passcode is reused: {refused}"
    );

    console_call(
        &data,
        &["--from", "5551001"],
        &["111222#", "111333#", "111444#", "111555#"],
    );
    assert_eq!(
        json(&admin_ok(&data, &["user", "show", "1001"], ""))["locked"],
        true
    );
    admin_ok(&data, &["user", "unlock", "1001"], "");
    let call = console_call(&data, &["--from", "5551001"], &["1357924#", "h"]);
    assert_eq!(
        heard(&call),
        ["welcome", "must_record_name", "record_name", "tone"]
    );

    add_user(&data, "1002");
    let listed = json(&admin_ok(&data, &["user", "list"], ""));
    assert_eq!(listed.as_array().unwrap().len(), 2);
    admin_ok(&data, &["user", "remove", "1002"], "");
    assert_eq!(
        json(&admin_ok(&data, &["user", "list"], ""))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    admin_refused(&data, &["user", "show", "1002"], "");
}

#[test]
fn bad_user_input_gets_a_message_status_2_and_writes_nothing() {
    let (_dir, data) = with_portal();
    add_user(&data, "1001");
    let before = admin_ok(&data, &["user", "list"], "");
    let emails = outbox(&data).len();
    let duplicate = admin_refused(
        &data,
        &[
            "user",
            "add",
            "--mailbox",
            "1001",
            "--email",
            "x@example.org",
        ],
        "",
    );
    assert!(duplicate.contains("already in use"), "{duplicate}");
    admin_refused(
        &data,
        &[
            "user",
            "add",
            "--mailbox",
            "12ab",
            "--email",
            "x@example.org",
        ],
        "",
    );
    admin_refused(&data, &["user", "add", "--mailbox", "1003"], "");
    admin_refused(&data, &["user", "reset-pin", "9999"], "");
    admin_refused(&data, &["user", "unlock", "9999"], "");
    admin_refused(&data, &["user", "remove", "9999"], "");
    admin_refused(&data, &["user", "set-pin", "9999"], "1357924\n");
    admin_refused(&data, &["user", "frobnicate"], "");
    admin_refused(&data, &["--bogus"], "");
    assert_eq!(admin_ok(&data, &["user", "list"], ""), before);
    assert_eq!(outbox(&data).len(), emails);
}

#[test]
fn the_audit_records_logins_failures_locks_and_resets_without_passcodes() {
    let (_dir, data) = with_portal();
    admin_ok(&data, &["policy", "set", "--initial-pin", "none"], "");
    add_user(&data, "1001");
    admin_ok(&data, &["user", "set-pin", "1001"], "1357924\n");
    console_call(&data, &["--from", "5551001"], &["111222#", "1357924#", "h"]);
    admin_ok(&data, &["user", "reset-pin", "1001"], "");
    let audit = admin_ok(&data, &["audit", "--mailbox", "1001"], "");
    let kinds: Vec<String> = audit
        .lines()
        .map(|line| json(line)["kind"].as_str().unwrap().to_owned())
        .collect();
    for kind in [
        "user_added",
        "passcode_set",
        "login_failed",
        "login_ok",
        "reset",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
    assert!(
        audit.contains("console-"),
        "the call's id is the source: {audit}"
    );
    for passcode in ["1357924", "111222"] {
        assert!(!audit.contains(passcode));
    }
}

#[test]
fn a_portal_s_time_zone_is_set_shown_cleared_and_an_unknown_name_is_refused() {
    let (_dir, data) = with_portal();
    let shown = json(&admin_ok(&data, &["portal", "show", "8000"], ""));
    assert_eq!(shown["time_zone"], serde_json::Value::Null, "the server's");

    let set = json(&admin_ok(
        &data,
        &["portal", "set", "8000", "--time-zone", "Europe/Madrid"],
        "",
    ));
    assert_eq!(set["time_zone"], "Europe/Madrid");
    assert_eq!(
        json(&admin_ok(&data, &["portal", "show", "8000"], ""))["time_zone"],
        "Europe/Madrid"
    );

    let refused = admin_refused(
        &data,
        &["portal", "set", "8000", "--time-zone", "Mars/Olympus_Mons"],
        "",
    );
    assert!(
        refused.contains("--time-zone"),
        "names the field: {refused}"
    );
    assert!(refused.contains("Mars/Olympus_Mons"), "{refused}");
    assert_eq!(
        json(&admin_ok(&data, &["portal", "show", "8000"], ""))["time_zone"],
        "Europe/Madrid",
        "nothing changed"
    );

    let cleared = json(&admin_ok(
        &data,
        &["portal", "set", "8000", "--time-zone", "default"],
        "",
    ));
    assert_eq!(cleared["time_zone"], serde_json::Value::Null);

    let added = json(&admin_ok(
        &data,
        &[
            "portal",
            "add",
            "--number",
            "5559000",
            "--name",
            "Branch",
            "--time-zone",
            "America/New_York",
        ],
        "8642097\n",
    ));
    assert_eq!(added["time_zone"], "America/New_York");
    admin_refused(
        &data,
        &[
            "portal",
            "add",
            "--number",
            "5559100",
            "--name",
            "Nowhere",
            "--time-zone",
            "Nowhere/Atlantis",
        ],
        "8642097\n",
    );
    admin_refused(&data, &["portal", "show", "5559100"], "");
}

#[test]
fn voicemail_switches_off_and_on_and_a_user_without_it_still_logs_in() {
    let (_dir, data) = with_portal();
    add_user(&data, "1001");
    admin_ok(&data, &["user", "set-pin", "1001"], "1357924\n");
    assert_eq!(
        json(&admin_ok(&data, &["user", "show", "1001"], ""))["voicemail"],
        true,
        "on by default"
    );
    let off = json(&admin_ok(
        &data,
        &["user", "set", "1001", "--voicemail", "off"],
        "",
    ));
    assert_eq!(off["voicemail"], false);
    assert_eq!(
        json(&admin_ok(&data, &["user", "show", "1001"], ""))["voicemail"],
        false
    );
    let audit = admin_ok(&data, &["audit", "--mailbox", "1001"], "");
    assert!(audit.contains("voicemail_changed"), "{audit}");

    // The user still logs in (passcode and greetings stay theirs to manage).
    let call = console_call(&data, &["--from", "5551001"], &["1357924#", "h"]);
    assert_eq!(
        heard(&call),
        ["welcome", "must_record_name", "record_name", "tone"]
    );

    admin_refused(&data, &["user", "set", "1001", "--voicemail", "maybe"], "");
    admin_refused(&data, &["user", "set", "1001"], "");
    let both = json(&admin_ok(
        &data,
        &[
            "user",
            "set",
            "1001",
            "--voicemail",
            "on",
            "--mailbox-quota-messages",
            "5",
        ],
        "",
    ));
    assert_eq!(both["voicemail"], true);
    assert_eq!(both["mailbox_quota_messages"], 5);
}
