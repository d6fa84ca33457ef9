//! Failed-attempt accounting: exact counts under concurrency, locks (and which attempt set them), unknown
//! mailboxes, the admin passcode.

mod common;

use std::sync::{Arc, Barrier};

use common::*;
use portal_core::VerifyOutcome;
use portal_store::{
    AccountStore, AuditKind, AuditQuery, HashParams, InitialMode, Policy, Source, Verification,
};

fn audit_count(store: &portal_store::SqliteStore, mailbox: &str, kind: AuditKind) -> usize {
    store
        .audit(&AuditQuery {
            mailbox: Some(mailbox.to_owned()),
            kind: Some(kind),
            limit: 1000,
            ..AuditQuery::default()
        })
        .unwrap()
        .len()
}

#[test]
fn sixteen_concurrent_wrong_passcodes_record_exactly_four_failures() {
    let test = Arc::new(TestStore::new());
    test.add_user_with_pin("4711", "2580471");
    let barrier = Arc::new(Barrier::new(16));
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let test = Arc::clone(&test);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                test.store
                    .verify_mailbox(
                        "hq",
                        "4711",
                        &pin("9999999"),
                        t0(),
                        &call(&format!("race-{i}")),
                    )
                    .unwrap()
            })
        })
        .collect();
    let reports: Vec<Verification> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let outcomes: Vec<VerifyOutcome> = reports.iter().map(|r| r.outcome.clone()).collect();

    let wrong = outcomes
        .iter()
        .filter(|o| **o == VerifyOutcome::Wrong)
        .count();
    let locked = outcomes
        .iter()
        .filter(|o| **o == VerifyOutcome::Locked)
        .count();
    assert_eq!((wrong, locked), (3, 13), "{outcomes:?}");
    let locked_now: Vec<_> = reports.iter().filter(|r| r.locked_now).collect();
    assert_eq!(locked_now.len(), 1, "{reports:?}");
    assert_eq!(locked_now[0].outcome, VerifyOutcome::Locked);
    assert!(reports.iter().all(|r| r.mailbox.as_deref() == Some("4711")));
    assert_eq!(audit_count(&test.store, "4711", AuditKind::LoginFailed), 4);
    assert_eq!(audit_count(&test.store, "4711", AuditKind::Locked), 1);
    assert_eq!(
        audit_count(&test.store, "4711", AuditKind::LoginRefusedLocked),
        12
    );
    let view = test.store.user("4711", t0().today).unwrap();
    assert!(view.locked());
    assert_eq!(view.failed_attempts, 4);

    // The right passcode no longer opens it.
    assert_eq!(test.verify("4711", "2580471", t0()), VerifyOutcome::Locked);

    // An administrator's reset unlocks it and forces a change.
    let issued = test
        .store
        .reset_pin("4711", at(60), &Source::Admin)
        .unwrap();
    let view = test.store.user("4711", t0().today).unwrap();
    assert!(!view.locked());
    assert_eq!(view.failed_attempts, 0);
    let login = test.login("4711", issued.passcode.expose(), at(120));
    assert!(login.must_change.is_some());
}

#[test]
fn the_fourth_failure_answers_locked_and_success_resets_the_count() {
    let test = TestStore::new();
    test.add_user_with_pin("4711", "2580471");
    assert_eq!(test.verify("4711", "1111000", t0()), VerifyOutcome::Wrong);
    assert_eq!(test.verify("4711", "1111000", t0()), VerifyOutcome::Wrong);
    assert_eq!(test.verify("4711", "1111000", t0()), VerifyOutcome::Wrong);
    assert_eq!(
        test.store.user("4711", t0().today).unwrap().failed_attempts,
        3
    );
    test.login("4711", "2580471", t0());
    assert_eq!(
        test.store.user("4711", t0().today).unwrap().failed_attempts,
        0
    );
    for _ in 0..3 {
        assert_eq!(test.verify("4711", "1111000", t0()), VerifyOutcome::Wrong);
    }
    assert_eq!(test.verify("4711", "1111000", t0()), VerifyOutcome::Locked);
    assert_eq!(test.verify("4711", "2580471", t0()), VerifyOutcome::Locked);

    // The lock survives restarts and time; only an administrator (or the user's own reset) lifts it.
    let reopened = test.reopen(test.key.clone());
    let later = at(30 * DAY);
    let outcome = reopened
        .verify_mailbox("hq", "4711", &pin("2580471"), later, &call("later"))
        .unwrap()
        .outcome;
    assert_eq!(outcome, VerifyOutcome::Locked);
    reopened.unlock_user("4711", later, &Source::Admin).unwrap();
    test.login("4711", "2580471", later);
}

#[test]
fn the_user_setting_a_passcode_unlocks_the_mailbox() {
    let test = TestStore::new();
    test.add_user_with_pin("4711", "2580471");
    for _ in 0..4 {
        test.verify("4711", "1111000", t0());
    }
    assert!(test.store.user("4711", t0().today).unwrap().locked());
    test.store
        .set_pin("4711", &pin("3692581"), at(60), &Source::UserSettings)
        .unwrap();
    assert!(!test.store.user("4711", t0().today).unwrap().locked());
    let login = test.login("4711", "3692581", at(120));
    assert_eq!(login.must_change, None);
}

#[test]
fn unknown_mailbox_answers_exactly_like_a_real_one() {
    let test = TestStore::new();
    test.add_user_with_pin("4711", "2580471");
    let reports = |entered: &str| -> Vec<(Verification, u64)> {
        (0..5)
            .map(|_| {
                let before = test.store.verifications();
                let report = test
                    .store
                    .verify_mailbox("hq", entered, &pin("1357900"), t0(), &call("c"))
                    .unwrap();
                (report, test.store.verifications() - before)
            })
            .collect()
    };
    let (real, unknown) = (reports("4711"), reports("4712"));
    // Only the driver sees which number is a mailbox; the lock is reported alike, so a driver that keyed
    // anything audible on `locked_now` would still not tell them apart.
    let locked_now = |reports: &[(Verification, u64)]| -> Vec<bool> {
        reports.iter().map(|(r, _)| r.locked_now).collect()
    };
    assert_eq!(locked_now(&real), [false, false, false, true, false]);
    assert_eq!(locked_now(&unknown), locked_now(&real));
    assert!(
        real.iter()
            .all(|(r, _)| r.mailbox.as_deref() == Some("4711"))
    );
    assert!(unknown.iter().all(|(r, _)| r.mailbox.is_none()));
    assert!(unknown.iter().all(|(r, _)| r.locked_mailbox().is_none()));
    let heard = |reports: Vec<(Verification, u64)>| -> Vec<(VerifyOutcome, u64)> {
        reports.into_iter().map(|(r, n)| (r.outcome, n)).collect()
    };
    let (real, unknown) = (heard(real), heard(unknown));
    let expected = vec![
        (VerifyOutcome::Wrong, 1),
        (VerifyOutcome::Wrong, 1),
        (VerifyOutcome::Wrong, 1),
        (VerifyOutcome::Locked, 1),
        (VerifyOutcome::Locked, 0),
    ];
    assert_eq!(real, expected);
    assert_eq!(unknown, expected);
    assert_eq!(audit_count(&test.store, "4712", AuditKind::LoginFailed), 4);
    assert_eq!(audit_count(&test.store, "4712", AuditKind::Locked), 1);
}

/// The decoy verification is a real argon2id verification at the production cost: an unknown number takes as
/// many verifications as a real mailbox (and no verification is skipped for it).
#[test]
fn unknown_mailbox_costs_an_argon2_verification_at_default_cost() {
    let test = TestStore::with_params(HashParams::default());
    test.add_user_with_pin("4711", "2580471");
    for entered in ["4711", "4712"] {
        let before = test.store.verifications();
        assert_eq!(test.verify(entered, "1357900", t0()), VerifyOutcome::Wrong);
        assert_eq!(test.store.verifications() - before, 1, "{entered}");
    }
}

#[test]
fn a_mailbox_without_a_passcode_answers_like_a_wrong_passcode() {
    let test = TestStore::new();
    let policy = Policy {
        initial: InitialMode::None,
        ..Policy::default()
    };
    test.store
        .set_policy(&policy, None, t0(), &Source::Admin)
        .unwrap();
    assert_eq!(test.add_user("4711"), None);
    let before = test.store.verifications();
    let outcomes: Vec<_> = (0..4)
        .map(|_| test.verify("4711", "2580471", t0()))
        .collect();
    assert_eq!(
        outcomes,
        [
            VerifyOutcome::Wrong,
            VerifyOutcome::Wrong,
            VerifyOutcome::Wrong,
            VerifyOutcome::Locked
        ]
    );
    assert_eq!(test.store.verifications() - before, 4);
}

#[test]
fn unknown_numbers_are_forgotten_after_a_day_and_bounded_in_number() {
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        portal_store::StoreConfig::new(dir.path(), portal_store::SealingKey::generate().unwrap());
    config.hash_params = HashParams::low_cost_for_tests();
    config.decoy_capacity = 5;
    let store = portal_store::SqliteStore::open(config).unwrap();
    store
        .add_portal(&portal("hq", "+15550100", "8000"), t0(), &Source::Admin)
        .unwrap();
    let try_number = |number: &str, when| {
        store
            .verify_mailbox("hq", number, &pin("2580471"), when, &call("decoy"))
            .unwrap()
            .outcome
    };
    for _ in 0..4 {
        try_number("9000", t0());
    }
    assert_eq!(try_number("9000", at(23 * HOUR)), VerifyOutcome::Locked);
    // A day after the last attempt the number starts again from zero.
    assert_eq!(try_number("9000", at(47 * HOUR + 1)), VerifyOutcome::Wrong);

    for n in 0..20 {
        try_number(&format!("91{n:02}"), at(48 * HOUR + n));
    }
    let conn = rusqlite::Connection::open(store.database_path()).unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM decoy_attempts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 5);
}

#[test]
fn a_mailbox_is_found_by_id_or_by_extension_of_the_portal_dialed() {
    let test = TestStore::new();
    test.store
        .add_portal(&portal("branch", "+15550200", "8100"), t0(), &Source::Admin)
        .unwrap();
    let mut branch_user = user("5001", "branch");
    branch_user.extension = Some("201".to_owned());
    test.store
        .add_user(&branch_user, t0(), &Source::Admin)
        .unwrap();
    test.store
        .set_pin("5001", &pin("2580471"), t0(), &Source::UserSettings)
        .unwrap();

    // By mailbox id from any portal; by extension only at its own portal.
    assert_eq!(test.login("5001", "2580471", t0()).mailbox, "5001");
    let by_extension = test
        .store
        .verify_mailbox("branch", "201", &pin("2580471"), t0(), &call("x"))
        .unwrap();
    assert!(
        matches!(by_extension.outcome, VerifyOutcome::Ok(ref login) if login.mailbox == "5001")
    );
    assert_eq!(by_extension.mailbox.as_deref(), Some("5001"));
    assert_eq!(test.verify("201", "2580471", t0()), VerifyOutcome::Wrong);
}

#[test]
fn the_portal_admin_passcode_locks_the_same_way() {
    let test = TestStore::new();
    let store = &test.store;
    let admin = |passcode: &str| {
        store
            .verify_portal_admin("hq", &pin(passcode), t0(), &call("admin-call"))
            .unwrap()
    };
    let admin_outcome = |passcode: &str| admin(passcode).outcome;
    // No admin passcode yet: every attempt is wrong, and counted.
    assert_eq!(admin_outcome("2580471"), VerifyOutcome::Wrong);
    store
        .set_portal_admin_passcode("hq", &pin("7531594"), t0(), &Source::Admin)
        .unwrap();
    assert_eq!(store.portal("hq").unwrap().admin_failed_attempts, 0);
    assert!(matches!(admin_outcome("7531594"), VerifyOutcome::Ok(_)));
    for _ in 0..3 {
        assert_eq!(admin_outcome("2580471"), VerifyOutcome::Wrong);
    }
    let locking = admin("2580471");
    assert_eq!(locking.outcome, VerifyOutcome::Locked);
    assert!(locking.locked_now);
    assert_eq!(locking.mailbox, None, "the admin passcode is no mailbox");
    let refused = admin("7531594");
    assert_eq!(refused.outcome, VerifyOutcome::Locked);
    assert!(!refused.locked_now);
    assert!(store.portal("hq").unwrap().admin_locked_at.is_some());
    store.unlock_portal("hq", t0(), &Source::Admin).unwrap();
    assert!(matches!(admin_outcome("7531594"), VerifyOutcome::Ok(_)));
    let kinds: Vec<AuditKind> = store
        .audit(&AuditQuery {
            portal: Some("hq".into()),
            limit: 100,
            ..AuditQuery::default()
        })
        .unwrap()
        .into_iter()
        .map(|entry| entry.kind)
        .collect();
    assert!(kinds.contains(&AuditKind::AdminLocked));
    assert!(kinds.contains(&AuditKind::AdminLoginRefusedLocked));
    assert!(kinds.contains(&AuditKind::PortalUnlocked));
}

#[test]
fn an_unknown_portal_is_an_error() {
    let test = TestStore::new();
    let result = test
        .store
        .verify_mailbox("nowhere", "4711", &pin("2580471"), t0(), &call("x"));
    assert!(matches!(
        result,
        Err(portal_store::StoreError::UnknownPortal(_))
    ));
}

#[test]
fn only_the_attempt_that_sets_the_lock_reports_locked_now() {
    let test = TestStore::new();
    test.add_user_with_pin("4711", "2580471");
    let attempt = |passcode: &str| {
        test.store
            .verify_mailbox("hq", "4711", &pin(passcode), t0(), &call("c"))
            .unwrap()
    };
    let report = |outcome, locked_now| Verification {
        outcome,
        locked_now,
        mailbox: Some("4711".to_owned()),
    };
    let wrong: Vec<_> = (0..6).map(|_| attempt("1111000")).collect();
    assert_eq!(
        wrong,
        [
            report(VerifyOutcome::Wrong, false),
            report(VerifyOutcome::Wrong, false),
            report(VerifyOutcome::Wrong, false),
            report(VerifyOutcome::Locked, true),
            report(VerifyOutcome::Locked, false),
            report(VerifyOutcome::Locked, false),
        ]
    );
    assert_eq!(wrong[3].locked_mailbox(), Some("4711"));
    assert!(wrong[4].locked_mailbox().is_none());
    // The right passcode meets the lock already in place.
    assert_eq!(attempt("2580471"), report(VerifyOutcome::Locked, false));

    // A lock lifted and reached again is reported again, once.
    test.store
        .unlock_user("4711", at(60), &Source::Admin)
        .unwrap();
    let again: Vec<bool> = (0..5).map(|_| attempt("1111000").locked_now).collect();
    assert_eq!(again, [false, false, false, true, false]);
}

#[test]
fn an_extension_resolves_to_its_mailbox_for_the_lockout_notice() {
    let test = TestStore::new();
    test.store
        .add_portal(&portal("branch", "+15550200", "8100"), t0(), &Source::Admin)
        .unwrap();
    let mut branch_user = user("5001", "branch");
    branch_user.extension = Some("201".to_owned());
    test.store
        .add_user(&branch_user, t0(), &Source::Admin)
        .unwrap();
    test.store
        .set_pin("5001", &pin("2580471"), t0(), &Source::UserSettings)
        .unwrap();
    let reports: Vec<_> = (0..4)
        .map(|_| {
            test.store
                .verify_mailbox("branch", "201", &pin("1111000"), t0(), &call("x"))
                .unwrap()
        })
        .collect();
    assert!(reports.iter().all(|r| r.mailbox.as_deref() == Some("5001")));
    assert_eq!(reports[3].outcome, VerifyOutcome::Locked);
    assert_eq!(reports[3].locked_mailbox(), Some("5001"));
    assert!(test.store.user("5001", t0().today).unwrap().locked());
    // The same digits at a portal where they name nobody resolve to no mailbox.
    let elsewhere = test
        .store
        .verify_mailbox("hq", "201", &pin("1111000"), t0(), &call("x"))
        .unwrap();
    assert_eq!(elsewhere.mailbox, None);
}
