//! `vportal admin` for voice messages: listing a mailbox's messages, deleting one, a user's own quota, and the
//! message settings of the policy; bad input gets a message naming the field, status 2, and changes nothing.
//! The messages are deposited through the store, as the call flow will.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use portal_store::{AccountStore, Moment, NewMessage, Source};
use serde_json::Value;

/// A portal 5558000 with users 1001 and 1002.
fn with_users() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
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
    for mailbox in ["1001", "1002"] {
        admin_ok(
            &data,
            &[
                "user",
                "add",
                "--mailbox",
                mailbox,
                "--email",
                &format!("user{mailbox}@example.org"),
            ],
            "",
        );
    }
    (dir, data)
}

/// Deposits a message of `ms` milliseconds into `mailbox`, received at `unix_seconds`; returns its id.
fn deposit(data: &Path, mailbox: &str, unix_seconds: i64, ms: usize, urgent: bool) -> i64 {
    let store = vportal::data::open_store(data, None).unwrap();
    let message = NewMessage {
        mailbox: mailbox.to_owned(),
        caller_number: Some("+15550199".to_owned()),
        caller_name: Some("Ann Caller".to_owned()),
        received_at: Moment::from_unix_utc(unix_seconds),
        urgent,
    };
    let source = Source::Call {
        call_id: "deposit".to_owned(),
        caller: None,
    };
    store
        .deposit_message(&message, &vec![100i16; ms * 8], &source)
        .unwrap()
        .0
}

fn save(data: &Path, mailbox: &str, id: i64) {
    let store = vportal::data::open_store(data, None).unwrap();
    store
        .save_message(
            mailbox,
            portal_store::MessageId(id),
            Moment::now_utc(),
            &Source::Admin,
        )
        .unwrap();
}

fn messages(data: &Path, mailbox: &str) -> Vec<Value> {
    json(&admin_ok(data, &["user", "messages", mailbox], ""))
        .as_array()
        .unwrap()
        .clone()
}

fn message_files(data: &Path) -> usize {
    std::fs::read_dir(data.join("messages")).unwrap().count()
}

#[test]
fn messages_are_listed_new_then_saved_and_deleted_by_id_with_their_audio() {
    let (_dir, data) = with_users();
    assert!(messages(&data, "1001").is_empty());
    let old = deposit(&data, "1001", 1_700_000_000, 1500, false);
    let urgent = deposit(&data, "1001", 1_700_000_100, 200, true);
    let newest = deposit(&data, "1001", 1_700_000_200, 300, false);
    let theirs = deposit(&data, "1002", 1_700_000_000, 100, false);
    save(&data, "1001", old);

    let listed = messages(&data, "1001");
    let ids: Vec<i64> = listed.iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [urgent, newest, old], "new oldest first, then saved");
    let first = &listed[0];
    assert_eq!(first["from"], "+15550199");
    assert_eq!(first["from_name"], "Ann Caller");
    assert_eq!(first["received_at"], 1_700_000_100);
    assert_eq!(first["duration_ms"], 200);
    assert_eq!(first["folder"], "new");
    assert_eq!(first["heard"], false);
    assert_eq!(first["urgent"], true);
    assert_eq!(listed[2]["folder"], "saved");
    assert_eq!(listed[2]["heard"], true);
    let mut fields: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "duration_ms",
            "folder",
            "from",
            "from_name",
            "heard",
            "id",
            "received_at",
            "urgent"
        ]
    );
    assert_eq!(message_files(&data), 4);

    let deleted = admin_ok(
        &data,
        &["user", "message-delete", "1001", &urgent.to_string()],
        "",
    );
    assert!(
        deleted.contains(&format!("message {urgent} deleted")),
        "{deleted}"
    );
    assert_eq!(messages(&data, "1001").len(), 2);
    assert_eq!(message_files(&data), 3);

    // Another mailbox's message is no such message, exactly like one that does not exist; nothing changes.
    let refused = admin_refused(
        &data,
        &["user", "message-delete", "1001", &theirs.to_string()],
        "",
    );
    assert!(refused.contains("no such message"), "{refused}");
    let refused = admin_refused(&data, &["user", "message-delete", "1001", "424242"], "");
    assert!(refused.contains("no such message"), "{refused}");
    let refused = admin_refused(&data, &["user", "message-delete", "1001", "first"], "");
    assert!(refused.contains("<ID>"), "{refused}");
    let refused = admin_refused(&data, &["user", "message-delete", "9999", "1"], "");
    assert!(refused.contains("no mailbox 9999"), "{refused}");
    admin_refused(&data, &["user", "messages", "9999"], "");
    assert_eq!(messages(&data, "1002").len(), 1);
    assert_eq!(message_files(&data), 3);

    let audit = admin_ok(&data, &["audit", "--mailbox", "1001"], "");
    for kind in ["message_deposited", "message_saved", "message_deleted"] {
        assert!(audit.contains(kind), "{kind} in {audit}");
    }
    assert!(!audit.contains("Ann Caller"), "{audit}");
}

#[test]
fn policy_set_changes_the_message_settings_and_show_shows_them() {
    let (_dir, data) = with_users();
    let shown = json(&admin_ok(&data, &["policy", "show"], ""));
    assert_eq!(shown["message_deletion"], "off");
    assert_eq!(shown["message_expiry_days"], 10);
    assert_eq!(shown["mailbox_quota_messages"], 100);
    assert_eq!(shown["mailbox_quota_minutes"], 30);

    let set = json(&admin_ok(
        &data,
        &[
            "policy",
            "set",
            "--message-deletion",
            "strict",
            "--message-expiry-days",
            "180",
            "--mailbox-quota-messages",
            "2",
            "--mailbox-quota-minutes",
            "5",
        ],
        "",
    ));
    assert_eq!(set["message_deletion"], "strict");
    assert_eq!(set["message_expiry_days"], 180);
    assert_eq!(set["mailbox_quota_messages"], 2);
    assert_eq!(set["mailbox_quota_minutes"], 5);
    assert_eq!(
        set["initial_pin"], shown["initial_pin"],
        "passcode policy untouched"
    );
    assert_eq!(set["rules"], shown["rules"]);
    assert_eq!(json(&admin_ok(&data, &["policy", "show"], "")), set);
    let permissive = json(&admin_ok(
        &data,
        &["policy", "set", "--message-deletion", "permissive"],
        "",
    ));
    assert_eq!(permissive["message_deletion"], "permissive");
    assert_eq!(permissive["message_expiry_days"], 180);

    // The organization's quota now refuses a third message.
    deposit(&data, "1001", 1_700_000_000, 10, false);
    deposit(&data, "1001", 1_700_000_001, 10, false);
    let store = vportal::data::open_store(&data, None).unwrap();
    assert!(store.mailbox_usage("1001").unwrap().is_full());
}

#[test]
fn bad_message_policy_input_names_the_field_and_changes_nothing() {
    let (_dir, data) = with_users();
    let before = admin_ok(&data, &["policy", "show"], "");
    for (flag, value) in [
        ("--message-expiry-days", "0"),
        ("--message-expiry-days", "181"),
        ("--message-expiry-days", "soon"),
        ("--mailbox-quota-messages", "0"),
        ("--mailbox-quota-messages", "10001"),
        ("--mailbox-quota-minutes", "0.5"),
        ("--mailbox-quota-minutes", "6001"),
        ("--message-deletion", "sometimes"),
    ] {
        let refused = admin_refused(&data, &["policy", "set", flag, value], "");
        assert!(refused.contains(flag), "{flag} {value}: {refused}");
    }
    // A refused passcode change writes no message setting either.
    let refused = admin_refused(
        &data,
        &[
            "policy",
            "set",
            "--mailbox-quota-messages",
            "5",
            "--min-length",
            "9",
            "--max-length",
            "8",
        ],
        "",
    );
    assert!(refused.contains("invalid passcode rules"), "{refused}");
    assert_eq!(admin_ok(&data, &["policy", "show"], ""), before);
}

#[test]
fn user_set_gives_a_user_their_own_quota_and_default_returns_it() {
    let (_dir, data) = with_users();
    let shown = json(&admin_ok(&data, &["user", "show", "1001"], ""));
    assert_eq!(shown["mailbox_quota_messages"], Value::Null);
    assert_eq!(shown["mailbox_quota_minutes"], Value::Null);
    let set = json(&admin_ok(
        &data,
        &[
            "user",
            "set",
            "1001",
            "--mailbox-quota-messages",
            "1",
            "--mailbox-quota-minutes",
            "60",
        ],
        "",
    ));
    assert_eq!(set["mailbox"], "1001");
    assert_eq!(set["mailbox_quota_messages"], 1);
    assert_eq!(set["mailbox_quota_minutes"], 60);
    deposit(&data, "1001", 1_700_000_000, 10, false);
    {
        let store = vportal::data::open_store(&data, None).unwrap();
        assert!(store.mailbox_usage("1001").unwrap().is_full());
        assert!(!store.mailbox_usage("1002").unwrap().is_full());
    }
    let back = json(&admin_ok(
        &data,
        &["user", "set", "1001", "--mailbox-quota-messages", "default"],
        "",
    ));
    assert_eq!(back["mailbox_quota_messages"], Value::Null);
    assert_eq!(back["mailbox_quota_minutes"], 60, "the other part stays");
    assert!(admin_ok(&data, &["audit", "--mailbox", "1001"], "").contains("quota_changed"));

    let before = admin_ok(&data, &["user", "show", "1001"], "");
    for (flag, value) in [
        ("--mailbox-quota-messages", "0"),
        ("--mailbox-quota-messages", "lots"),
        ("--mailbox-quota-minutes", "6001"),
    ] {
        let refused = admin_refused(&data, &["user", "set", "1001", flag, value], "");
        assert!(refused.contains(flag), "{flag} {value}: {refused}");
    }
    let refused = admin_refused(&data, &["user", "set", "1001"], "");
    assert!(refused.contains("nothing to change"), "{refused}");
    let refused = admin_refused(
        &data,
        &["user", "set", "9999", "--mailbox-quota-messages", "5"],
        "",
    );
    assert!(refused.contains("no mailbox 9999"), "{refused}");
    assert_eq!(admin_ok(&data, &["user", "show", "1001"], ""), before);
}
