//! Policy modes, temporary and default passcodes, forced changes, history, expiry.

mod common;

use std::time::Duration;

use common::*;
use portal_core::rules::{PasscodeRules, RuleViolation};
use portal_core::{ChangeReason, VerifyOutcome};
use portal_store::{AccountStore, InitialMode, IssuedKind, Policy, ResetMode, Source, StoreError};

fn default_policy(initial: InitialMode, reset: ResetMode) -> Policy {
    Policy {
        initial,
        reset,
        rules: PasscodeRules::exactly_seven_digits(),
        ..Policy::default()
    }
}

fn rejected(result: Result<(), StoreError>) -> RuleViolation {
    match result {
        Err(StoreError::Rejected(violation)) => violation,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn a_new_organization_generates_initial_and_reset_passcodes_for_72_hours() {
    let test = TestStore::new();
    let policy = test.store.policy().unwrap();
    assert_eq!(policy, Policy::default());
    assert_eq!(policy.initial, InitialMode::Generated);
    assert_eq!(policy.reset, ResetMode::Generated);
    assert_eq!(policy.temporary_lifetime, Duration::from_secs(72 * 3600));
    assert_eq!(test.store.default_passcode().unwrap(), None);
}

#[test]
fn the_default_passcode_must_pass_the_rules_and_exist_when_used() {
    let test = TestStore::new();
    let policy = default_policy(InitialMode::Default, ResetMode::Generated);
    let missing = test.store.set_policy(&policy, None, t0(), &Source::Admin);
    assert!(matches!(missing, Err(StoreError::MissingDefaultPasscode)));
    let six_digits = test
        .store
        .set_policy(&policy, Some(&pin("258047")), t0(), &Source::Admin);
    assert_eq!(rejected(six_digits), RuleViolation::TooShort);
    let sequence = test
        .store
        .set_policy(&policy, Some(&pin("1234567")), t0(), &Source::Admin);
    assert_eq!(rejected(sequence), RuleViolation::Sequence);
    test.store
        .set_policy(&policy, Some(&pin("2580471")), t0(), &Source::Admin)
        .unwrap();
    assert_eq!(test.store.default_passcode().unwrap(), Some(pin("2580471")));
    // Later changes keep the stored default unless a new one is given.
    test.store
        .set_policy(&policy, None, t0(), &Source::Admin)
        .unwrap();
    assert_eq!(test.store.default_passcode().unwrap(), Some(pin("2580471")));
    let bad_rules = Policy {
        rules: PasscodeRules {
            min_length: 0,
            ..PasscodeRules::default()
        },
        ..Policy::default()
    };
    let invalid = test
        .store
        .set_policy(&bad_rules, None, t0(), &Source::Admin);
    assert!(matches!(invalid, Err(StoreError::InvalidRules(_))));
}

#[test]
fn changing_the_policy_never_touches_existing_users() {
    let test = TestStore::new();
    let policy = default_policy(InitialMode::Default, ResetMode::Generated);
    test.store
        .set_policy(&policy, Some(&pin("2580471")), t0(), &Source::Admin)
        .unwrap();
    assert_eq!(test.add_user("4711"), Some(pin("2580471")));

    test.store
        .set_policy(&policy, Some(&pin("3691470")), at(HOUR), &Source::Admin)
        .unwrap();
    assert_eq!(test.add_user("4712"), Some(pin("3691470")));
    test.store
        .set_policy(
            &default_policy(InitialMode::Generated, ResetMode::Generated),
            None,
            at(2 * HOUR),
            &Source::Admin,
        )
        .unwrap();
    let generated = test.add_user("4713").unwrap();
    assert_ne!(generated, pin("3691470"));

    // The user onboarded under the old default keeps it; the new default does not open their mailbox.
    assert_eq!(
        test.verify("4711", "3691470", at(3 * HOUR)),
        VerifyOutcome::Wrong
    );
    let login = test.login("4711", "2580471", at(3 * HOUR));
    assert_eq!(login.must_change, Some(ChangeReason::Initial));
    assert_eq!(
        test.login("4712", "3691470", at(3 * HOUR)).must_change,
        Some(ChangeReason::Initial)
    );
    let login = test.login("4713", generated.expose(), at(3 * HOUR));
    assert_eq!(login.must_change, Some(ChangeReason::Temporary));
}

#[test]
fn a_default_passcode_is_one_time_it_works_until_the_change() {
    let test = TestStore::new();
    let policy = default_policy(InitialMode::Default, ResetMode::Default);
    test.store
        .set_policy(&policy, Some(&pin("2580471")), t0(), &Source::Admin)
        .unwrap();
    test.add_user("4711");
    // No time limit on the default passcode, and usable again until a new passcode is chosen.
    let login = test.login("4711", "2580471", at(10 * DAY));
    assert_eq!(login.must_change, Some(ChangeReason::Initial));
    assert!(!login.name_recorded);
    assert_eq!(login.user_numbers, vec!["4711", "+15554711", "4711"]);
    test.login("4711", "2580471", at(10 * DAY));

    test.store
        .change_passcode("4711", &pin("3692581"), at(10 * DAY), &call("c1"))
        .unwrap();
    assert_eq!(
        test.verify("4711", "2580471", at(10 * DAY)),
        VerifyOutcome::Wrong
    );
    let login = test.login("4711", "3692581", at(10 * DAY));
    assert_eq!(login.must_change, None);
    assert_eq!(login.passcode_set_on, Some(at(10 * DAY).today));

    // A reset in default mode gives the default passcode back, with reason Reset.
    let issued = test
        .store
        .reset_pin("4711", at(11 * DAY), &Source::Admin)
        .unwrap();
    assert_eq!(issued.kind, IssuedKind::Default);
    assert_eq!(issued.passcode, pin("2580471"));
    assert_eq!(issued.expires_at, None);
    assert_eq!(
        test.verify("4711", "3692581", at(11 * DAY)),
        VerifyOutcome::Wrong
    );
    let login = test.login("4711", "2580471", at(11 * DAY));
    assert_eq!(login.must_change, Some(ChangeReason::Reset));
}

#[test]
fn a_temporary_passcode_expires_after_its_lifetime_and_counts_as_a_failure() {
    let test = TestStore::new();
    let temporary = test.add_user("4711").unwrap();
    let view = test.store.user("4711", t0().today).unwrap();
    assert_eq!(view.temporary_expires_at, Some(T0 + 72 * HOUR));
    assert_eq!(view.must_change, Some(ChangeReason::Temporary));

    let login = test.login("4711", temporary.expose(), at(71 * HOUR));
    assert_eq!(login.must_change, Some(ChangeReason::Temporary));
    assert_eq!(
        test.verify("4711", temporary.expose(), at(72 * HOUR)),
        VerifyOutcome::Wrong
    );
    assert_eq!(
        test.store.user("4711", t0().today).unwrap().failed_attempts,
        1
    );

    // A reset issues a new temporary passcode with a new lifetime.
    let issued = test
        .store
        .reset_pin("4711", at(100 * HOUR), &Source::Admin)
        .unwrap();
    assert_eq!(issued.kind, IssuedKind::Generated);
    assert_eq!(issued.expires_at, Some(T0 + 172 * HOUR));
    assert_ne!(issued.passcode, temporary);
    let login = test.login("4711", issued.passcode.expose(), at(171 * HOUR));
    assert_eq!(login.must_change, Some(ChangeReason::Temporary));
    assert_eq!(
        test.verify("4711", issued.passcode.expose(), at(173 * HOUR)),
        VerifyOutcome::Wrong
    );
}

#[test]
fn a_temporary_passcode_forces_a_change_and_stops_working_after_it() {
    let test = TestStore::new();
    let temporary = test.add_user("4711").unwrap();
    // Usable again until a new passcode is chosen (the caller may hang up before choosing).
    for _ in 0..2 {
        let login = test.login("4711", temporary.expose(), at(HOUR));
        assert_eq!(login.must_change, Some(ChangeReason::Temporary));
    }
    // The temporary passcode itself is not an acceptable new passcode.
    let same = test
        .store
        .change_passcode("4711", &temporary, at(HOUR), &call("c1"));
    assert_eq!(rejected(same), RuleViolation::Reused);

    test.store
        .change_passcode("4711", &pin("3692581"), at(HOUR), &call("c1"))
        .unwrap();
    assert_eq!(
        test.verify("4711", temporary.expose(), at(2 * HOUR)),
        VerifyOutcome::Wrong
    );
    let login = test.login("4711", "3692581", at(2 * HOUR));
    assert_eq!(login.must_change, None);
    let view = test.store.user("4711", t0().today).unwrap();
    assert_eq!(view.temporary_expires_at, None);
    assert_eq!(view.must_change, None);
    // The new passcode has no time limit.
    test.login("4711", "3692581", at(400 * DAY));
}

#[test]
fn new_passcodes_must_pass_the_rules() {
    let test = TestStore::new();
    test.add_user_with_pin("4711", "2580471");
    let change = |digits: &str| {
        test.store
            .change_passcode("4711", &pin(digits), t0(), &call("c"))
    };
    assert_eq!(rejected(change("25804")), RuleViolation::TooShort);
    assert_eq!(rejected(change("2580000")), RuleViolation::RepeatedDigits);
    assert_eq!(rejected(change("2581234")), RuleViolation::Sequence);
    assert_eq!(rejected(change("258258")), RuleViolation::RepeatedPattern);
    assert_eq!(rejected(change("15554711")), RuleViolation::UserNumber);
    assert_eq!(rejected(change("1174")), RuleViolation::TooShort);
    change("3692581").unwrap();
}

#[test]
fn recent_passcodes_and_their_reverses_cannot_be_reused() {
    let test = TestStore::new();
    test.add_user_with_pin("4711", "2580471"); // A
    let change = |digits: &str| {
        test.store
            .change_passcode("4711", &pin(digits), t0(), &call("c"))
    };
    change("3691528").unwrap(); // B
    change("8204736").unwrap(); // C
    assert_eq!(
        rejected(change("8204736")),
        RuleViolation::Reused,
        "the current one"
    );
    assert_eq!(
        rejected(change("2580471")),
        RuleViolation::Reused,
        "A, two back"
    );
    assert_eq!(
        rejected(change("8251963")),
        RuleViolation::Reused,
        "B reversed"
    );
    assert_eq!(
        rejected(change("6374028")),
        RuleViolation::Reused,
        "C reversed"
    );
    change("4073918").unwrap(); // D: history is now B, C, D
    assert_eq!(
        rejected(change("3691528")),
        RuleViolation::Reused,
        "B, still among the last 3"
    );
    change("5927304").unwrap(); // E: history is C, D, E
    // A and B fell out of the last three.
    change("2580471").unwrap();
    change("3691528").unwrap();

    // set_pin (the user's own reset) applies the same history.
    let set = test
        .store
        .set_pin("4711", &pin("8251963"), t0(), &Source::UserSettings);
    assert_eq!(rejected(set), RuleViolation::Reused);
}

#[test]
fn a_voluntary_change_waits_for_the_minimum_days_but_a_forced_one_does_not() {
    let test = TestStore::new();
    let rules = PasscodeRules {
        min_days_between_changes: Some(2),
        ..PasscodeRules::default()
    };
    let policy = Policy {
        rules,
        ..Policy::default()
    };
    test.store
        .set_policy(&policy, None, t0(), &Source::Admin)
        .unwrap();
    test.add_user_with_pin("4711", "2580471");
    let too_soon = test
        .store
        .change_passcode("4711", &pin("3691528"), at(DAY), &call("c"));
    assert_eq!(rejected(too_soon), RuleViolation::ChangeTooSoon);
    test.store
        .change_passcode("4711", &pin("3691528"), at(2 * DAY), &call("c"))
        .unwrap();

    // After a reset the change is forced and allowed the same day.
    let issued = test
        .store
        .reset_pin("4711", at(2 * DAY), &Source::Admin)
        .unwrap();
    test.login("4711", issued.passcode.expose(), at(2 * DAY));
    test.store
        .change_passcode("4711", &pin("8204736"), at(2 * DAY), &call("c"))
        .unwrap();
}

#[test]
fn an_expired_passcode_forces_a_change_with_reason_expired() {
    let test = TestStore::new();
    let policy = Policy {
        rules: PasscodeRules {
            expiry_days: Some(30),
            ..PasscodeRules::default()
        },
        ..Policy::default()
    };
    test.store
        .set_policy(&policy, None, t0(), &Source::Admin)
        .unwrap();
    test.add_user_with_pin("4711", "2580471");
    assert_eq!(
        test.login("4711", "2580471", at(29 * DAY)).must_change,
        None
    );
    let login = test.login("4711", "2580471", at(30 * DAY));
    assert_eq!(login.must_change, Some(ChangeReason::Expired));
    assert_eq!(login.passcode_set_on, Some(t0().today));
    let view = test.store.user("4711", at(30 * DAY).today).unwrap();
    assert_eq!(view.must_change, Some(ChangeReason::Expired));
    assert_eq!(view.passcode_age_days, Some(30));

    test.store
        .change_passcode("4711", &pin("3691528"), at(30 * DAY), &call("c"))
        .unwrap();
    assert_eq!(
        test.login("4711", "3691528", at(31 * DAY)).must_change,
        None
    );
}

#[test]
fn initial_mode_none_leaves_the_user_without_a_passcode_until_set_pin() {
    let test = TestStore::new();
    let policy = Policy {
        initial: InitialMode::None,
        ..Policy::default()
    };
    test.store
        .set_policy(&policy, None, t0(), &Source::Admin)
        .unwrap();
    let onboarded = test
        .store
        .add_user(&user("4711", "hq"), t0(), &Source::Admin)
        .unwrap();
    assert_eq!(onboarded.issued, None);
    let caller = test.store.caller_mailbox("+15554711").unwrap().unwrap();
    assert_eq!(
        (
            caller.mailbox.as_str(),
            caller.portal.as_str(),
            caller.has_passcode
        ),
        ("4711", "hq", false)
    );
    test.store
        .set_pin("4711", &pin("2580471"), t0(), &Source::UserSettings)
        .unwrap();
    assert!(
        test.store
            .caller_mailbox("4711")
            .unwrap()
            .unwrap()
            .has_passcode
    );
    let login = test.login("4711", "2580471", t0());
    assert_eq!(login.must_change, None);
    assert!(!login.name_recorded);
}

#[test]
fn users_are_listed_viewed_and_removed() {
    let test = TestStore::new();
    test.add_user("4711");
    test.add_user("4712");
    let duplicate = test
        .store
        .add_user(&user("4711", "hq"), t0(), &Source::Admin);
    assert!(matches!(duplicate, Err(StoreError::AlreadyExists(_))));
    let elsewhere = test
        .store
        .add_user(&user("4713", "nowhere"), t0(), &Source::Admin);
    assert!(matches!(elsewhere, Err(StoreError::UnknownPortal(_))));
    let not_digits = test
        .store
        .add_user(&user("47a1", "hq"), t0(), &Source::Admin);
    assert!(matches!(not_digits, Err(StoreError::NotDigits(_))));

    let users = test.store.list_users(t0().today).unwrap();
    let mailboxes: Vec<&str> = users.iter().map(|u| u.mailbox.as_str()).collect();
    assert_eq!(mailboxes, ["4711", "4712"]);
    assert!(
        users
            .iter()
            .all(|u| u.has_passcode && !u.locked() && u.failed_attempts == 0)
    );
    assert_eq!(users[0].email.as_deref(), Some("4711@example.com"));

    test.store
        .remove_user("4711", t0(), &Source::Admin)
        .unwrap();
    assert!(matches!(
        test.store.user("4711", t0().today),
        Err(StoreError::UnknownMailbox(_))
    ));
    assert_eq!(test.store.caller_mailbox("+15554711").unwrap(), None);
    // Now an unknown number: it answers like any other.
    assert_eq!(test.verify("4711", "2580471", t0()), VerifyOutcome::Wrong);
}

#[test]
fn a_portals_settings_change_field_by_field_and_stay_unique() {
    let t = TestStore::new();
    let changed = t
        .store
        .update_portal(
            "hq",
            &portal_store::PortalChanges {
                name: Some("Head office".into()),
                extension: Some("8100".into()),
                ..Default::default()
            },
            t0(),
            &Source::Admin,
        )
        .unwrap();
    assert_eq!(changed.name, "Head office");
    assert_eq!(changed.extension.as_deref(), Some("8100"));
    assert_eq!(changed.number.as_deref(), Some("+15550100"), "untouched");
    assert_eq!(
        t.store.portal_by_dialed("8100").unwrap().map(|p| p.id),
        Some("hq".into())
    );
    assert!(t.store.portal_by_dialed("8000").unwrap().is_none());

    t.store
        .add_portal(&portal("branch", "+15550200", "9000"), t0(), &Source::Admin)
        .unwrap();
    let taken = t.store.update_portal(
        "branch",
        &portal_store::PortalChanges {
            extension: Some("8100".into()),
            ..Default::default()
        },
        t0(),
        &Source::Admin,
    );
    assert!(
        matches!(taken, Err(StoreError::AlreadyExists(_))),
        "{taken:?}"
    );
    assert_eq!(
        t.store.portal("branch").unwrap().extension.as_deref(),
        Some("9000")
    );
    let bad = t.store.update_portal(
        "branch",
        &portal_store::PortalChanges {
            number: Some("12ab".into()),
            ..Default::default()
        },
        t0(),
        &Source::Admin,
    );
    assert!(matches!(bad, Err(StoreError::NotDigits(_))));
    assert!(matches!(
        t.store
            .update_portal("nowhere", &Default::default(), t0(), &Source::Admin),
        Err(StoreError::UnknownPortal(_))
    ));
}

#[test]
fn a_portal_is_created_with_its_admin_passcode_or_not_at_all() {
    let t = TestStore::new();
    let mut branch = portal("branch", "+15550200", "9000");
    branch.admin_passcode = Some(pin("1234"));
    assert!(matches!(
        t.store.add_portal(&branch, t0(), &Source::Admin),
        Err(StoreError::Rejected(RuleViolation::TooShort))
    ));
    assert!(matches!(
        t.store.portal("branch"),
        Err(StoreError::UnknownPortal(_))
    ));
    branch.admin_passcode = Some(pin("8642097"));
    t.store.add_portal(&branch, t0(), &Source::Admin).unwrap();
    assert!(t.store.portal("branch").unwrap().admin_passcode_set);
    assert!(matches!(
        t.store
            .verify_portal_admin("branch", &pin("8642097"), t0(), &call("c1"))
            .unwrap()
            .outcome,
        VerifyOutcome::Ok(_)
    ));
}

#[test]
fn a_portals_time_zone_is_stored_changed_kept_and_cleared() {
    let t = TestStore::new();
    assert_eq!(t.store.portal("hq").unwrap().time_zone, None);
    let mut branch = portal("branch", "+15550200", "9000");
    branch.time_zone = Some("Europe/Madrid".into());
    t.store.add_portal(&branch, t0(), &Source::Admin).unwrap();
    assert_eq!(
        t.store.portal("branch").unwrap().time_zone.as_deref(),
        Some("Europe/Madrid")
    );
    let set = |changes: portal_store::PortalChanges| {
        t.store
            .update_portal("branch", &changes, t0(), &Source::Admin)
            .unwrap()
    };
    let renamed = set(portal_store::PortalChanges {
        name: Some("Branch".into()),
        ..Default::default()
    });
    assert_eq!(renamed.time_zone.as_deref(), Some("Europe/Madrid"), "kept");
    let moved = set(portal_store::PortalChanges {
        time_zone: Some(Some("America/New_York".into())),
        ..Default::default()
    });
    assert_eq!(moved.time_zone.as_deref(), Some("America/New_York"));
    let cleared = set(portal_store::PortalChanges {
        time_zone: Some(None),
        ..Default::default()
    });
    assert_eq!(cleared.time_zone, None);
    assert_eq!(t.store.portal("branch").unwrap().time_zone, None);
}
