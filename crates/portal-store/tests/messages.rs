//! Voice messages: deposit, listing order and counts, heard, saved, deleted (file gone), quotas (exact under
//! concurrency), expiry both ways with the clock passed in, and the audit trail.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, SystemTime};

use common::*;
use portal_store::{
    AccountStore, AuditKind, AuditQuery, Folder, MessageCounts, MessageDeletion, MessageId,
    MessagePolicy, MessageQuota, Moment, NewMessage, QuotaLimit, QuotaOverride, Source,
    SqliteStore, StoreError,
};

/// `ms` milliseconds of a tone.
fn audio(ms: usize) -> Vec<i16> {
    (0..ms * 8)
        .map(|i| ((i as f32 * 0.3).sin() * 8000.0) as i16)
        .collect()
}

fn message(mailbox: &str, when: Moment, urgent: bool) -> NewMessage {
    NewMessage {
        mailbox: mailbox.to_owned(),
        caller_number: Some("+15550199".to_owned()),
        caller_name: Some("Zoë \"Z\" Example".to_owned()),
        received_at: when,
        urgent,
    }
}

fn deposit(store: &SqliteStore, mailbox: &str, when: Moment, ms: usize) -> MessageId {
    store
        .deposit_message(&message(mailbox, when, false), &audio(ms), &call("deposit"))
        .unwrap()
}

fn message_files(store: &SqliteStore) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(store.messages_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn ids(store: &SqliteStore, mailbox: &str) -> Vec<MessageId> {
    store
        .list_messages(mailbox)
        .unwrap()
        .messages
        .iter()
        .map(|m| m.id)
        .collect()
}

fn audit_kinds(store: &SqliteStore, mailbox: &str) -> Vec<AuditKind> {
    store
        .audit(&AuditQuery {
            mailbox: Some(mailbox.to_owned()),
            ..AuditQuery::default()
        })
        .unwrap()
        .into_iter()
        .map(|entry| entry.kind)
        .collect()
}

fn set_policy(store: &SqliteStore, policy: MessagePolicy) {
    store
        .set_message_policy(&policy, t0(), &Source::Admin)
        .unwrap();
}

#[test]
fn a_deposited_message_is_listed_heard_saved_and_deleted_with_its_file() {
    let test = TestStore::new();
    test.add_user("4711");
    let store = &test.store;
    let samples = audio(1500);
    let first = store
        .deposit_message(&message("4711", at(10), false), &samples, &call("a"))
        .unwrap();
    let urgent = store
        .deposit_message(&message("4711", at(20), true), &audio(250), &call("b"))
        .unwrap();
    let third = deposit(store, "4711", at(30), 100);

    let list = store.list_messages("4711").unwrap();
    assert_eq!(
        list.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
        [first, urgent, third]
    );
    let summary = &list.messages[0];
    assert_eq!(summary.mailbox, "4711");
    assert_eq!(summary.caller_number.as_deref(), Some("+15550199"));
    assert_eq!(summary.caller_name.as_deref(), Some("Zoë \"Z\" Example"));
    assert_eq!(summary.received_at, T0 + 10);
    assert_eq!(summary.duration_ms, 1500);
    assert_eq!(summary.folder, Folder::New);
    assert!(!summary.heard && !summary.urgent);
    assert_eq!(summary.forwarded_by, None);
    assert!(list.messages[1].urgent);
    let counts = MessageCounts {
        new: 3,
        saved: 0,
        urgent_new: 1,
        urgent_saved: 0,
    };
    assert_eq!(list.counts, counts);
    assert_eq!(store.message_counts("4711").unwrap(), counts);
    assert_eq!(store.message_audio("4711", first).unwrap(), samples);
    assert_eq!(message_files(store).len(), 3);

    store
        .mark_message_heard("4711", third, at(40), &call("c"))
        .unwrap();
    store
        .mark_message_heard("4711", third, at(41), &call("c"))
        .unwrap();
    assert!(store.message("4711", third).unwrap().heard);

    // Saved ones come after the new ones, oldest first; saving counts as hearing.
    store
        .save_message("4711", first, at(50), &call("c"))
        .unwrap();
    store
        .save_message("4711", urgent, at(51), &call("c"))
        .unwrap();
    assert_eq!(ids(store, "4711"), [third, first, urgent]);
    let saved = store.message("4711", urgent).unwrap();
    assert_eq!(saved.folder, Folder::Saved);
    assert!(saved.heard);
    assert_eq!(
        store.message_counts("4711").unwrap(),
        MessageCounts {
            new: 1,
            saved: 2,
            urgent_new: 0,
            urgent_saved: 1,
        }
    );

    store
        .delete_message("4711", first, at(60), &call("c"))
        .unwrap();
    assert_eq!(ids(store, "4711"), [third, urgent]);
    assert_eq!(message_files(store).len(), 2);
    assert!(matches!(
        store.message_audio("4711", first),
        Err(StoreError::UnknownMessage(_))
    ));
    assert!(matches!(
        store.delete_message("4711", first, at(61), &call("c")),
        Err(StoreError::UnknownMessage(_))
    ));

    // Heard twice is one entry; the audit never holds the audio or the caller's name.
    let kinds = audit_kinds(store, "4711");
    let count = |kind| kinds.iter().filter(|k| **k == kind).count();
    assert_eq!(count(AuditKind::MessageDeposited), 3);
    assert_eq!(count(AuditKind::MessageHeard), 1);
    assert_eq!(count(AuditKind::MessageSaved), 2);
    assert_eq!(count(AuditKind::MessageDeleted), 1);
    let entries = store
        .audit(&AuditQuery {
            kind: Some(AuditKind::MessageDeposited),
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(
        entries.last().unwrap().detail.as_deref(),
        Some(format!("message {first}, 1500 ms").as_str())
    );
    assert!(entries[1].detail.as_deref().unwrap().ends_with(", urgent"));
    assert_eq!(entries[0].source, "call deposit from +15550199");

    // Removing the user removes their messages and files.
    store.remove_user("4711", t0(), &Source::Admin).unwrap();
    assert!(message_files(store).is_empty());
    assert!(matches!(
        store.list_messages("4711"),
        Err(StoreError::UnknownMailbox(_))
    ));
}

#[test]
fn another_mailbox_s_message_is_no_message_at_all() {
    let test = TestStore::new();
    test.add_user("4711");
    test.add_user("4712");
    let store = &test.store;
    let theirs = deposit(store, "4712", t0(), 100);
    let unknown = |result: Result<_, StoreError>| {
        assert!(
            matches!(result, Err(StoreError::UnknownMessage(id)) if id == theirs.0),
            "{result:?}"
        )
    };
    unknown(store.message("4711", theirs).map(|_| ()));
    unknown(store.message_audio("4711", theirs).map(|_| ()));
    unknown(store.mark_message_heard("4711", theirs, t0(), &call("x")));
    unknown(store.save_message("4711", theirs, t0(), &call("x")));
    unknown(store.delete_message("4711", theirs, t0(), &call("x")));
    let missing = store.delete_message("4711", MessageId(9999), t0(), &Source::Admin);
    assert!(matches!(missing, Err(StoreError::UnknownMessage(9999))));
    let after = store.message("4712", theirs).unwrap();
    assert!(!after.heard);
    assert_eq!(after.folder, Folder::New);
    assert_eq!(message_files(store).len(), 1);
    // A deposit for a mailbox that does not exist leaves no file.
    let nobody = store.deposit_message(&message("9999", t0(), false), &audio(10), &call("x"));
    assert!(matches!(nobody, Err(StoreError::UnknownMailbox(_))));
    assert_eq!(message_files(store).len(), 1);
}

#[test]
fn caller_texts_are_kept_as_received_and_cut_when_huge() {
    let test = TestStore::new();
    test.add_user("4711");
    let anonymous = NewMessage {
        caller_number: None,
        caller_name: None,
        ..message("4711", t0(), false)
    };
    let id = test
        .store
        .deposit_message(&anonymous, &audio(10), &call("x"))
        .unwrap();
    let shown = test.store.message("4711", id).unwrap();
    assert_eq!((shown.caller_number, shown.caller_name), (None, None));
    let odd = NewMessage {
        caller_number: Some("sip:anonymous@anonymous.invalid'; DROP TABLE messages;--".to_owned()),
        caller_name: Some("é".repeat(1000)),
        ..message("4711", t0(), false)
    };
    let id = test
        .store
        .deposit_message(&odd, &audio(10), &call("x"))
        .unwrap();
    let shown = test.store.message("4711", id).unwrap();
    assert_eq!(shown.caller_number, odd.caller_number);
    assert_eq!(shown.caller_name.unwrap().chars().count(), 256);
}

#[test]
fn the_quota_counts_messages_and_minutes_and_a_user_may_have_their_own() {
    let test = TestStore::new();
    test.add_user("4711");
    test.add_user("4712");
    let store = &test.store;
    assert_eq!(store.message_policy().unwrap(), MessagePolicy::default());
    assert_eq!(
        MessagePolicy::default().quota,
        MessageQuota {
            max_messages: 100,
            max_minutes: 30
        }
    );
    set_policy(
        store,
        MessagePolicy {
            quota: MessageQuota {
                max_messages: 3,
                max_minutes: 1,
            },
            ..MessagePolicy::default()
        },
    );

    // Count: the fourth is refused, and refused deposits leave no file.
    for second in 0..3 {
        deposit(store, "4711", at(second), 1000);
    }
    let usage = store.mailbox_usage("4711").unwrap();
    assert_eq!((usage.messages, usage.duration_ms), (3, 3000));
    assert!(usage.is_full());
    let refused = store.deposit_message(&message("4711", at(5), false), &audio(1), &call("x"));
    assert!(matches!(
        refused,
        Err(StoreError::QuotaFull { ref mailbox, limit: QuotaLimit::Messages }) if mailbox == "4711"
    ));
    assert_eq!(message_files(store).len(), 3);

    // Minutes: exactly a minute fits, a millisecond more does not.
    deposit(store, "4712", t0(), 40_000);
    assert_eq!(store.mailbox_usage("4712").unwrap().remaining_ms(), 20_000);
    let over = store.deposit_message(&message("4712", at(1), false), &audio(20_001), &call("x"));
    assert!(matches!(
        over,
        Err(StoreError::QuotaFull {
            limit: QuotaLimit::Minutes,
            ..
        })
    ));
    deposit(store, "4712", at(2), 20_000);
    assert!(store.mailbox_usage("4712").unwrap().is_full());

    // A user's own quota wins over the organization's, part by part; clearing it returns to the organization's.
    store
        .set_mailbox_quota(
            "4711",
            &QuotaOverride {
                max_messages: Some(4),
                max_minutes: None,
            },
            t0(),
            &Source::Admin,
        )
        .unwrap();
    let view = store.user("4711", t0().today).unwrap();
    assert_eq!(view.quota.max_messages, Some(4));
    assert_eq!(
        store.mailbox_usage("4711").unwrap().quota,
        MessageQuota {
            max_messages: 4,
            max_minutes: 1
        }
    );
    deposit(store, "4711", at(6), 1000);
    store
        .set_mailbox_quota("4711", &QuotaOverride::default(), t0(), &Source::Admin)
        .unwrap();
    assert_eq!(store.mailbox_usage("4711").unwrap().quota.max_messages, 3);
    assert!(audit_kinds(store, "4711").contains(&AuditKind::QuotaChanged));

    // Bounds.
    let zero = QuotaOverride {
        max_messages: Some(0),
        max_minutes: None,
    };
    assert!(matches!(
        store.set_mailbox_quota("4711", &zero, t0(), &Source::Admin),
        Err(StoreError::InvalidSetting(_))
    ));
    assert!(matches!(
        store.set_mailbox_quota("9999", &QuotaOverride::default(), t0(), &Source::Admin),
        Err(StoreError::UnknownMailbox(_))
    ));
    for bad in [
        MessagePolicy {
            expiry_days: 181,
            ..MessagePolicy::default()
        },
        MessagePolicy {
            quota: MessageQuota {
                max_messages: 1,
                max_minutes: 0,
            },
            ..MessagePolicy::default()
        },
    ] {
        assert!(matches!(
            store.set_message_policy(&bad, t0(), &Source::Admin),
            Err(StoreError::InvalidSetting(_))
        ));
    }
    assert_eq!(store.message_policy().unwrap().quota.max_messages, 3);
}

#[test]
fn concurrent_deposits_at_one_below_the_quota_leave_exactly_the_quota() {
    const QUOTA: u32 = 5;
    const DEPOSITORS: usize = 6;
    for _ in 0..3 {
        let test = TestStore::new();
        test.add_user("4711");
        set_policy(
            &test.store,
            MessagePolicy {
                quota: MessageQuota {
                    max_messages: QUOTA,
                    max_minutes: 30,
                },
                ..MessagePolicy::default()
            },
        );
        for second in 0..QUOTA - 1 {
            deposit(&test.store, "4711", at(i64::from(second)), 100);
        }
        // Each depositor opens its own store (as separate processes would) and all start at once.
        let barrier = Arc::new(Barrier::new(DEPOSITORS));
        let threads: Vec<_> = (0..DEPOSITORS)
            .map(|index| {
                let barrier = Arc::clone(&barrier);
                let store = test.reopen(test.key.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    store.deposit_message(
                        &message("4711", at(100), false),
                        &audio(100),
                        &call(&format!("concurrent-{index}")),
                    )
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let stored = results.iter().filter(|result| result.is_ok()).count();
        let full = results
            .iter()
            .filter(|result| {
                matches!(
                    result,
                    Err(StoreError::QuotaFull {
                        limit: QuotaLimit::Messages,
                        ..
                    })
                )
            })
            .count();
        assert_eq!((stored, full), (1, DEPOSITORS - 1), "{results:?}");
        assert_eq!(
            test.store.message_counts("4711").unwrap().total(),
            QUOTA,
            "exactly the quota"
        );
        assert_eq!(message_files(&test.store).len(), QUOTA as usize);
    }
}

#[test]
fn permissive_expiry_deletes_heard_expired_messages_when_the_user_opens_the_mailbox() {
    let test = TestStore::new();
    test.add_user("4711");
    test.add_user("4712");
    let store = &test.store;
    let heard_old = deposit(store, "4711", t0(), 100);
    let unheard_old = deposit(store, "4711", at(HOUR), 100);
    let saved_old = deposit(store, "4711", at(2 * HOUR), 100);
    let heard_young = deposit(store, "4711", at(9 * DAY), 100);
    let other_heard_old = deposit(store, "4712", t0(), 100);
    store
        .mark_message_heard("4711", heard_old, at(DAY), &call("c"))
        .unwrap();
    store
        .save_message("4711", saved_old, at(DAY), &call("c"))
        .unwrap();
    store
        .mark_message_heard("4711", heard_young, at(9 * DAY), &call("c"))
        .unwrap();
    store
        .mark_message_heard("4712", other_heard_old, at(DAY), &call("c"))
        .unwrap();

    // Off (the default): nothing expires.
    assert_eq!(
        store
            .expire_on_access("4711", at(365 * DAY), &call("c"))
            .unwrap(),
        0
    );
    set_policy(
        store,
        MessagePolicy {
            deletion: MessageDeletion::Permissive,
            expiry_days: 10,
            ..MessagePolicy::default()
        },
    );
    // A second before ten days, nothing; at ten days, the heard and saved ones of this mailbox only.
    assert_eq!(
        store
            .expire_on_access("4711", at(10 * DAY - 1), &call("c"))
            .unwrap(),
        0
    );
    assert_eq!(
        store.sweep_expired(at(30 * DAY)).unwrap(),
        0,
        "permissive is not swept"
    );
    let now = at(10 * DAY + 2 * HOUR);
    assert_eq!(store.expire_on_access("4711", now, &call("c")).unwrap(), 2);
    assert_eq!(ids(store, "4711"), [unheard_old, heard_young]);
    assert_eq!(ids(store, "4712"), [other_heard_old]);
    assert_eq!(message_files(store).len(), 3);
    let expired = store
        .audit(&AuditQuery {
            kind: Some(AuditKind::MessageExpired),
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(expired.len(), 2);
    assert_eq!(expired[0].at, now.unix_seconds);
    assert!(
        expired[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("permissive after 10 days")
    );
}

#[test]
fn strict_expiry_sweeps_every_expired_message_heard_or_not() {
    let test = TestStore::new();
    test.add_user("4711");
    test.add_user("4712");
    let store = &test.store;
    let old = deposit(store, "4711", t0(), 100);
    let old_saved = deposit(store, "4711", at(1), 100);
    let young = deposit(store, "4711", at(DAY), 100);
    let other_old = deposit(store, "4712", t0(), 100);
    store
        .save_message("4711", old_saved, at(2), &call("c"))
        .unwrap();
    assert_eq!(
        store.sweep_expired(at(400 * DAY)).unwrap(),
        0,
        "off by default"
    );
    set_policy(
        store,
        MessagePolicy {
            deletion: MessageDeletion::Strict,
            expiry_days: 1,
            ..MessagePolicy::default()
        },
    );
    // Opening the mailbox in strict mode deletes that mailbox's expired messages, heard or not.
    assert_eq!(
        store
            .expire_on_access("4711", at(DAY + 1), &call("c"))
            .unwrap(),
        2
    );
    assert_eq!(ids(store, "4711"), [young]);
    assert_eq!(ids(store, "4712"), [other_old]);
    // The sweep takes the rest as it expires.
    assert_eq!(store.sweep_expired(at(DAY + 2)).unwrap(), 1);
    assert_eq!(store.sweep_expired(at(2 * DAY - 1)).unwrap(), 0);
    assert_eq!(store.sweep_expired(at(2 * DAY)).unwrap(), 1);
    assert!(ids(store, "4711").is_empty() && ids(store, "4712").is_empty());
    assert!(message_files(store).is_empty());
    let swept = store
        .audit(&AuditQuery {
            mailbox: Some("4712".into()),
            kind: Some(AuditKind::MessageExpired),
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(swept.len(), 1);
    assert_eq!(swept[0].source, "maintenance");
    assert_eq!(
        swept[0].detail.as_deref(),
        Some(format!("message {other_old}, received at {T0}, strict after 1 day").as_str())
    );
    let _ = old;
}

#[test]
fn a_large_backlog_is_swept_in_batches() {
    let test = TestStore::new();
    test.add_user("4711");
    set_policy(
        &test.store,
        MessagePolicy {
            quota: MessageQuota {
                max_messages: 2000,
                max_minutes: 30,
            },
            deletion: MessageDeletion::Strict,
            expiry_days: 1,
        },
    );
    // One more than a batch of 500.
    for second in 0..501 {
        deposit(&test.store, "4711", at(second), 1);
    }
    assert_eq!(test.store.sweep_expired(at(2 * DAY)).unwrap(), 501);
    assert!(message_files(&test.store).is_empty());
}

#[test]
fn a_message_file_without_a_row_is_removed_at_open_once_old_enough() {
    let test = TestStore::new();
    test.add_user("4711");
    deposit(&test.store, "4711", t0(), 100);
    let dir = test.store.messages_dir().to_owned();
    // What a crash leaves at worst: a file written (or half written) whose row never came, or whose row went.
    std::fs::write(dir.join("0123456789abcdef01234567.wav"), b"RIFF").unwrap();
    std::fs::write(dir.join("0123456789abcdef01234568.tmp"), b"RI").unwrap();
    let young = test.reopen(test.key.clone());
    assert_eq!(
        message_files(&young).len(),
        3,
        "young files may be mid-deposit"
    );
    for name in message_files(&young) {
        let file = std::fs::File::options()
            .write(true)
            .open(dir.join(name))
            .unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(2 * 3600))
            .unwrap();
    }
    let reopened = test.reopen(test.key.clone());
    assert_eq!(message_files(&reopened).len(), 1);
    let list = reopened.list_messages("4711").unwrap();
    assert_eq!(
        reopened
            .message_audio("4711", list.messages[0].id)
            .unwrap()
            .len(),
        800
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "messages are private");
    }
}

#[test]
fn voicemail_is_on_by_default_and_switches_off_and_on_with_an_audit() {
    let t = TestStore::new();
    t.add_user("4711");
    t.add_user("4712");
    let store = &t.store;
    assert!(store.user("4711", t0().today).unwrap().voicemail);
    store
        .set_voicemail("4711", false, t0(), &Source::Admin)
        .unwrap();
    assert!(!store.user("4711", t0().today).unwrap().voicemail);
    assert!(
        store.user("4712", t0().today).unwrap().voicemail,
        "others untouched"
    );
    assert!(audit_kinds(store, "4711").contains(&AuditKind::VoicemailChanged));
    store
        .set_voicemail("4711", true, t0(), &Source::Admin)
        .unwrap();
    assert!(store.user("4711", t0().today).unwrap().voicemail);
    assert!(matches!(
        store.set_voicemail("9999", false, t0(), &Source::Admin),
        Err(StoreError::UnknownMailbox(_))
    ));
}
