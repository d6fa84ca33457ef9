//! `cargo bench -p portal-store`: what a verification costs.
//!
//! 1. argon2id verifications per second on one core at the default parameters (the cost every login pays);
//! 2. the same through the store (`verify_mailbox`: lookup, argon2id, the accounting transaction);
//! 3. attempt-accounting transactions per second with a negligible hash, i.e. SQLite's part alone, with
//!    `synchronous=FULL` (the default) and `NORMAL`, on one thread and on two.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use portal_core::Passcode;
use portal_store::{
    AccountStore, HashParams, Moment, NewPortal, NewUser, SealingKey, Source, SqliteStore,
    StoreConfig,
};

const RUN_FOR: Duration = Duration::from_secs(3);

/// Calls `work` until `RUN_FOR` passes; returns calls per second.
fn rate(mut work: impl FnMut()) -> f64 {
    work(); // warm up
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < RUN_FOR {
        work();
        count += 1;
    }
    count as f64 / start.elapsed().as_secs_f64()
}

fn pin(digits: &str) -> Passcode {
    Passcode::parse(digits).unwrap()
}

fn store(
    dir: &std::path::Path,
    params: HashParams,
    synchronous_full: bool,
    users: usize,
) -> SqliteStore {
    let mut config = StoreConfig::new(dir, SealingKey::generate().unwrap());
    config.hash_params = params;
    config.synchronous_full = synchronous_full;
    let store = SqliteStore::open(config).unwrap();
    let now = Moment::now_utc();
    store
        .add_portal(
            &NewPortal {
                id: "hq".into(),
                name: "HQ".into(),
                number: None,
                extension: Some("8000".into()),
                language: "en".into(),
                admin_passcode: None,
                time_zone: None,
            },
            now,
            &Source::Admin,
        )
        .unwrap();
    for n in 0..users {
        let mailbox = format!("{}", 4700 + n);
        store
            .add_user(
                &NewUser {
                    mailbox: mailbox.clone(),
                    portal: "hq".into(),
                    phone_number: None,
                    extension: Some(mailbox.clone()),
                    email: None,
                },
                now,
                &Source::Admin,
            )
            .unwrap();
        store
            .set_pin(&mailbox, &pin("2580471"), now, &Source::UserSettings)
            .unwrap();
    }
    store
}

fn call() -> Source {
    Source::Call {
        call_id: "bench".into(),
        caller: None,
    }
}

/// Alternates a wrong and the right passcode, so every call writes (a failure or a reset) and nothing locks.
fn accounting_rate(store: &SqliteStore, mailbox: &str) -> f64 {
    let (right, wrong) = (pin("2580471"), pin("9517530"));
    let mut flip = false;
    rate(|| {
        flip = !flip;
        let passcode = if flip { &wrong } else { &right };
        black_box(
            store
                .verify_mailbox("hq", mailbox, passcode, Moment::now_utc(), &call())
                .unwrap(),
        );
    })
}

fn main() {
    let default = HashParams::default();
    println!(
        "argon2id default parameters: m = {} KiB, t = {}, p = {}",
        default.memory_kib, default.iterations, default.parallelism
    );

    let argon2 = Argon2::default();
    let phc = argon2.hash_password(b"2580471").unwrap().to_string();
    let parsed = PasswordHash::new(&phc).unwrap();
    let raw = rate(|| {
        black_box(
            argon2
                .verify_password(black_box(b"2580471"), &parsed)
                .is_ok(),
        );
    });
    println!(
        "argon2id verify, 1 thread:                      {raw:8.1} /s  ({:.1} ms each)",
        1000.0 / raw
    );

    let dir = tempfile::tempdir().unwrap();
    let real = store(dir.path(), default, true, 1);
    let through_store = accounting_rate(&real, "4700");
    println!(
        "verify_mailbox at default cost, 1 thread:       {through_store:8.1} /s  ({:.1} ms each)",
        1000.0 / through_store
    );
    drop(real);

    // The smallest argon2 cost, so what is left is SQLite: lookup, BEGIN IMMEDIATE, re-read, update, audit, commit.
    let cheap = HashParams {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
    for synchronous_full in [true, false] {
        let label = if synchronous_full { "FULL  " } else { "NORMAL" };
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(store(dir.path(), cheap, synchronous_full, 2));
        let one = accounting_rate(&store, "4700");
        println!("attempt accounting, synchronous={label}, 1 thread:  {one:8.0} tx/s");
        let threads: Vec<_> = ["4700", "4701"]
            .into_iter()
            .map(|mailbox| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || accounting_rate(&store, mailbox))
            })
            .collect();
        let two: f64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        println!("attempt accounting, synchronous={label}, 2 threads: {two:8.0} tx/s");
    }
}
