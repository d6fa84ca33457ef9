//! Secrets at rest: no passcode in clear anywhere in the data directory; the sealed default passcode and its key.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::*;
use portal_core::rules::PasscodeRules;
use portal_core::{Passcode, RecordingKind};
use portal_store::{
    AccountStore, InitialMode, KeySource, Policy, RecordingOwner, ResetMode, SealingKey, Source,
    StoreError,
};

fn all_bytes_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(all_bytes_under(&path));
        } else {
            files.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    files
}

/// Passcodes of 12 digits, so a chance match inside base64 hashes or binary pages is practically impossible.
#[test]
fn no_passcode_is_stored_in_clear() {
    let test = TestStore::new();
    let policy = Policy {
        initial: InitialMode::Default,
        reset: ResetMode::Generated,
        rules: PasscodeRules {
            min_length: 12,
            ..PasscodeRules::default()
        },
        ..Policy::default()
    };
    let default = pin("258047136925");
    test.store
        .set_policy(&policy, Some(&default), t0(), &Source::Admin)
        .unwrap();
    test.store
        .set_portal_admin_passcode("hq", &pin("741852963014"), t0(), &Source::Admin)
        .unwrap();
    let mut used: Vec<Passcode> = vec![default.clone(), pin("741852963014")];
    for mailbox in ["4711", "4712", "4713"] {
        assert_eq!(test.add_user(mailbox), Some(default.clone()));
        test.login(mailbox, default.expose(), t0());
        let chosen = pin(&format!("{mailbox}96385207"));
        test.store
            .change_passcode(mailbox, &chosen, t0(), &call("c"))
            .unwrap();
        test.verify(mailbox, "100200300400", t0());
        used.push(chosen);
        used.push(
            test.store
                .reset_pin(mailbox, t0(), &Source::Admin)
                .unwrap()
                .passcode,
        );
    }
    test.store
        .save_recording(
            &RecordingOwner::Mailbox("4711".into()),
            RecordingKind::Name,
            &[1, 2, 3],
            t0(),
            &call("c"),
        )
        .unwrap();
    let files = all_bytes_under(test.dir.path());
    assert!(files.iter().any(|(name, _)| name.ends_with("vportal.db")));
    // The search does see what was written (so the absence below means something).
    assert!(
        files
            .iter()
            .any(|(_, bytes)| bytes.windows(16).any(|w| w == b"4713@example.com"))
    );
    for passcode in &used {
        let digits = passcode.expose().as_bytes();
        assert_eq!(digits.len(), 12);
        for (name, bytes) in &files {
            assert!(
                !bytes.windows(digits.len()).any(|w| w == digits),
                "a passcode appears in clear in {name}"
            );
        }
    }
}

#[test]
fn the_sealed_default_passcode_opens_only_with_its_key() {
    let test = TestStore::new();
    let policy = Policy {
        initial: InitialMode::Default,
        ..Policy::default()
    };
    test.store
        .set_policy(&policy, Some(&pin("2580471")), t0(), &Source::Admin)
        .unwrap();
    drop(test.store.policy());

    let same_key = test.reopen(test.key.clone());
    assert_eq!(same_key.default_passcode().unwrap(), Some(pin("2580471")));

    let other_key = test.reopen(SealingKey::generate().unwrap());
    assert!(matches!(
        other_key.default_passcode(),
        Err(StoreError::Unseal)
    ));
    let onboarding = other_key.add_user(&user("4711", "hq"), t0(), &Source::Admin);
    assert!(matches!(onboarding, Err(StoreError::Unseal)));
    // Nothing was written by the failed onboarding.
    assert!(matches!(
        same_key.user("4711", t0().today),
        Err(StoreError::UnknownMailbox(_))
    ));
}

#[test]
fn the_key_file_is_created_private_and_refused_when_others_can_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sealing.key");
    let key = SealingKey::load(&KeySource::File(path.clone())).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), key.to_hex());

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(
        SealingKey::load(&KeySource::File(path.clone())),
        Err(StoreError::Key(_))
    ));
}

/// Child side of the environment-variable test (the test cannot set its own environment without `unsafe`).
#[test]
#[ignore = "run by key_from_environment_variable in a child process"]
fn child_prints_key_from_environment() {
    let key = SealingKey::load(&KeySource::Env("VPORTAL_TEST_SEALING_KEY".into())).unwrap();
    println!("KEY={}", key.to_hex());
}

#[test]
fn key_from_environment_variable() {
    let key = SealingKey::generate().unwrap();
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_prints_key_from_environment",
            "--nocapture",
        ])
        .env("VPORTAL_TEST_SEALING_KEY", key.to_hex())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("KEY={}", key.to_hex())),
        "{stdout}"
    );

    let missing = SealingKey::load(&KeySource::Env("VPORTAL_TEST_NO_SUCH_VARIABLE".into()));
    assert!(matches!(missing, Err(StoreError::Key(_))));
}
