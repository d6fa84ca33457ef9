//! Demo data: one portal and a user for each way a first call can go, so a newcomer can try every path, and two
//! new voice messages in mailbox 1001 to listen to.

use std::f32::consts::TAU;

use portal_core::{Passcode, RecordingKind};
use portal_store::{
    AccountStore, InitialMode, Moment, NewMessage, NewPortal, NewUser, Policy, RecordingOwner,
    ResetMode, SAMPLE_RATE, Source, StoreError,
};

/// The demo portal's number and extension.
pub const PORTAL_NUMBER: &str = "5558000";
/// The demo portal's extension.
pub const PORTAL_EXTENSION: &str = "8000";

/// One demo user and how to log in as them.
#[derive(Debug)]
pub struct DemoUser {
    /// Mailbox id (also the extension).
    pub mailbox: &'static str,
    /// The phone number to call from.
    pub phone_number: &'static str,
    /// What their first call shows.
    pub case: &'static str,
    /// The passcode to enter, if they have one.
    pub passcode: Option<Passcode>,
}

/// What was seeded.
#[derive(Debug)]
pub struct DemoData {
    /// The portal's admin passcode.
    pub admin_passcode: Passcode,
    /// The users.
    pub users: Vec<DemoUser>,
}

/// The demo messages' audio, spoken by espeak-ng (`demo/README.md` says how): 8 kHz mono 16-bit WAVs.
pub const MESSAGE_FROM_1002: &[u8] = include_bytes!("../demo/message_1.wav");
/// The second demo message, from an unknown caller.
pub const MESSAGE_FROM_UNKNOWN: &[u8] = include_bytes!("../demo/message_2.wav");

/// The samples of a 16-bit PCM WAV file: its `data` chunk, found by walking the RIFF chunks.
pub fn wav_samples(wav: &[u8]) -> Vec<i16> {
    let mut at = 12; // "RIFF", size, "WAVE"
    while at + 8 <= wav.len() {
        let id = &wav[at..at + 4];
        let size =
            u32::from_le_bytes([wav[at + 4], wav[at + 5], wav[at + 6], wav[at + 7]]) as usize;
        let body = &wav[at + 8..(at + 8 + size).min(wav.len())];
        if id == b"data" {
            return body
                .chunks_exact(2)
                .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
                .collect();
        }
        at += 8 + size + size % 2;
    }
    Vec::new()
}

const DEFAULT_PASSCODE: &str = "2718281";
const ADMIN_PASSCODE: &str = "8642097";

fn digits(text: &str) -> Passcode {
    Passcode::parse(text).expect("demo passcodes are digits")
}

/// Seeds an empty store; returns `None` (touching nothing) when it already has a portal.
pub fn seed(store: &dyn AccountStore, at: Moment) -> Result<Option<DemoData>, StoreError> {
    if !store.list_portals()?.is_empty() {
        return Ok(None);
    }
    let admin = Source::Admin;
    let admin_passcode = digits(ADMIN_PASSCODE);
    store.add_portal(
        &NewPortal {
            id: "main".into(),
            name: "Main office".into(),
            number: Some(PORTAL_NUMBER.into()),
            extension: Some(PORTAL_EXTENSION.into()),
            language: "en".into(),
            admin_passcode: Some(admin_passcode.clone()),
            time_zone: None,
        },
        at,
        &admin,
    )?;

    let user = |mailbox: &str| NewUser {
        mailbox: mailbox.into(),
        portal: "main".into(),
        phone_number: Some(format!("555{mailbox}")),
        extension: Some(mailbox.into()),
        email: Some(format!("user{mailbox}@example.org")),
    };
    let mut policy = Policy::default();
    let mut users = Vec::new();

    // Users who set their own passcode in their settings, before any call.
    policy.initial = InitialMode::None;
    store.set_policy(&policy, None, at, &admin)?;
    store.add_user(&user("1001"), at, &admin)?;
    let settled = digits("1357924");
    store.set_pin("1001", &settled, at, &Source::UserSettings)?;
    let name: Vec<i16> = (0..2 * SAMPLE_RATE as usize)
        .map(|i| ((i as f32 * TAU * 220.0 / SAMPLE_RATE as f32).sin() * 5000.0) as i16)
        .collect();
    store.save_recording(
        &RecordingOwner::Mailbox("1001".into()),
        RecordingKind::Name,
        &name,
        at,
        &admin,
    )?;
    users.push(DemoUser {
        mailbox: "1001",
        phone_number: "5551001",
        case: "existing passcode and name: straight to the main menu, two new messages",
        passcode: Some(settled),
    });
    // Two messages a day apart: from 1002's phone two days ago, from a withheld number yesterday.
    for (caller, days_ago, audio) in [
        (Some("5551002"), 2, MESSAGE_FROM_1002),
        (None, 1, MESSAGE_FROM_UNKNOWN),
    ] {
        let message = NewMessage {
            mailbox: "1001".into(),
            caller_number: caller.map(str::to_owned),
            caller_name: None,
            received_at: Moment::from_unix_utc(at.unix_seconds - days_ago * 86_400),
            urgent: false,
        };
        store.deposit_message(&message, &wav_samples(audio), &admin)?;
    }
    store.add_user(&user("1004"), at, &admin)?;
    let own_choice = digits("2580147");
    store.set_pin("1004", &own_choice, at, &Source::UserSettings)?;
    users.push(DemoUser {
        mailbox: "1004",
        phone_number: "5551004",
        case: "passcode set in the user settings: records the name only",
        passcode: Some(own_choice),
    });
    store.add_user(&user("1005"), at, &admin)?;
    users.push(DemoUser {
        mailbox: "1005",
        phone_number: "5551005",
        case: "no passcode yet: hears passcode_not_set",
        passcode: None,
    });

    // A system-generated temporary passcode, as emailed at onboarding.
    policy.initial = InitialMode::Generated;
    store.set_policy(&policy, None, at, &admin)?;
    let onboarded = store.add_user(&user("1003"), at, &admin)?;
    users.push(DemoUser {
        mailbox: "1003",
        phone_number: "5551003",
        case: "system-generated temporary passcode: must change it and record the name",
        passcode: onboarded.issued.map(|issued| issued.passcode),
    });

    // The organization's default passcode, which stays the policy for users added later.
    policy.initial = InitialMode::Default;
    policy.reset = ResetMode::Generated;
    store.set_policy(&policy, Some(&digits(DEFAULT_PASSCODE)), at, &admin)?;
    let onboarded = store.add_user(&user("1002"), at, &admin)?;
    users.push(DemoUser {
        mailbox: "1002",
        phone_number: "5551002",
        case: "organization default passcode: must change it and record the name",
        passcode: onboarded.issued.map(|issued| issued.passcode),
    });
    users.sort_by_key(|user| user.mailbox);
    Ok(Some(DemoData {
        admin_passcode,
        users,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_messages_are_seconds_of_speech() {
        for wav in [MESSAGE_FROM_1002, MESSAGE_FROM_UNKNOWN] {
            let samples = wav_samples(wav);
            let seconds = samples.len() as f64 / f64::from(SAMPLE_RATE);
            assert!((5.0..15.0).contains(&seconds), "{seconds} s");
            assert!(samples.iter().any(|&sample| sample.unsigned_abs() > 1000));
        }
        assert!(wav_samples(b"RIFF\0\0\0\0WAVE").is_empty());
    }
}
