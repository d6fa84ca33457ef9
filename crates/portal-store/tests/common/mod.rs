//! Helpers shared by the integration tests: a store on a real SQLite file in a temporary directory.
#![allow(dead_code)]

use std::path::Path;

use portal_core::{Login, Passcode, VerifyOutcome};
use portal_store::{
    AccountStore, HashParams, Moment, NewPortal, NewUser, SealingKey, Source, SqliteStore,
    StoreConfig,
};
use tempfile::TempDir;

/// 2023-11-14T22:13:20Z: an arbitrary fixed start for the test clock.
pub const T0: i64 = 1_700_000_000;
pub const HOUR: i64 = 3600;
pub const DAY: i64 = 86_400;

pub fn at(offset_seconds: i64) -> Moment {
    Moment::from_unix_utc(T0 + offset_seconds)
}

pub fn t0() -> Moment {
    at(0)
}

pub fn pin(digits: &str) -> Passcode {
    Passcode::parse(digits).expect("test passcodes are digits")
}

pub fn call(id: &str) -> Source {
    Source::Call {
        call_id: id.to_owned(),
        caller: Some("+15550199".to_owned()),
    }
}

pub struct TestStore {
    pub dir: TempDir,
    pub key: SealingKey,
    pub store: SqliteStore,
}

impl TestStore {
    /// A store with cheap argon2 parameters and one portal, `hq`.
    pub fn new() -> TestStore {
        TestStore::with_params(HashParams::low_cost_for_tests())
    }

    pub fn with_params(params: HashParams) -> TestStore {
        let dir = tempfile::tempdir().unwrap();
        let key = SealingKey::generate().unwrap();
        let store = open(dir.path(), key.clone(), params);
        store
            .add_portal(&portal("hq", "+15550100", "8000"), t0(), &Source::Admin)
            .unwrap();
        TestStore { dir, key, store }
    }

    pub fn reopen(&self, key: SealingKey) -> SqliteStore {
        open(self.dir.path(), key, HashParams::low_cost_for_tests())
    }

    /// Adds a user with extension = mailbox and a phone number derived from it.
    pub fn add_user(&self, mailbox: &str) -> Option<Passcode> {
        self.store
            .add_user(&user(mailbox, "hq"), t0(), &Source::Admin)
            .unwrap()
            .issued
            .map(|issued| issued.passcode)
    }

    /// Adds a user and gives them `passcode` as if set in their settings.
    pub fn add_user_with_pin(&self, mailbox: &str, passcode: &str) {
        self.add_user(mailbox);
        self.store
            .set_pin(mailbox, &pin(passcode), t0(), &Source::UserSettings)
            .unwrap();
    }

    pub fn verify(&self, entered: &str, passcode: &str, when: Moment) -> VerifyOutcome {
        self.store
            .verify_mailbox("hq", entered, &pin(passcode), when, &call("test-call"))
            .unwrap()
            .outcome
    }

    pub fn login(&self, entered: &str, passcode: &str, when: Moment) -> Login {
        match self.verify(entered, passcode, when) {
            VerifyOutcome::Ok(login) => login,
            other => panic!("expected a login for {entered}, got {other:?}"),
        }
    }
}

pub fn open(dir: &Path, key: SealingKey, params: HashParams) -> SqliteStore {
    let mut config = StoreConfig::new(dir, key);
    config.hash_params = params;
    SqliteStore::open(config).unwrap()
}

pub fn portal(id: &str, number: &str, extension: &str) -> NewPortal {
    NewPortal {
        id: id.to_owned(),
        name: format!("Portal {id}"),
        number: Some(number.to_owned()),
        extension: Some(extension.to_owned()),
        language: "en".to_owned(),
        admin_passcode: None,
        time_zone: None,
    }
}

pub fn user(mailbox: &str, portal: &str) -> NewUser {
    NewUser {
        mailbox: mailbox.to_owned(),
        portal: portal.to_owned(),
        phone_number: Some(format!("+1555{mailbox}")),
        extension: Some(mailbox.to_owned()),
        email: Some(format!("{mailbox}@example.com")),
    }
}
