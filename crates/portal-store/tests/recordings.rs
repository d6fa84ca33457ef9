//! Recordings: WAV files written before their rows, replaced and removed with their owners.

mod common;

use common::*;
use portal_core::RecordingKind;
use portal_store::{AccountStore, RecordingOwner, Source, StoreError};

fn tone(samples: usize) -> Vec<i16> {
    (0..samples)
        .map(|i| ((i as f32 * 0.3).sin() * 8000.0) as i16)
        .collect()
}

fn wav_files(test: &TestStore) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(test.store.recordings_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_name_recording_is_a_wav_file_named_by_its_row() {
    let test = TestStore::new();
    test.add_user_with_pin("4711", "2580471");
    let owner = RecordingOwner::Mailbox("4711".into());
    let samples = tone(8000);
    let id = test
        .store
        .save_recording(&owner, RecordingKind::Name, &samples, t0(), &call("c"))
        .unwrap();
    let recording = test.store.recording(id).unwrap();
    assert_eq!(recording.owner, owner);
    assert_eq!(recording.kind, RecordingKind::Name);
    assert_eq!(recording.samples, 8000);
    let bytes = std::fs::read(&recording.path).unwrap();
    assert_eq!(bytes.len(), 44 + 16_000);
    assert_eq!(&bytes[0..4], b"RIFF");
    assert_eq!(u32::from_le_bytes(bytes[24..28].try_into().unwrap()), 8000);
    assert_eq!(i16::from_le_bytes([bytes[46], bytes[47]]), samples[1]);
    assert!(test.login("4711", "2580471", t0()).name_recorded);
    assert!(test.store.user("4711", t0().today).unwrap().name_recorded);

    // Re-recording replaces the row and the file.
    let again = test
        .store
        .save_recording(&owner, RecordingKind::Name, &tone(400), t0(), &call("c"))
        .unwrap();
    assert_ne!(again, id);
    assert!(matches!(
        test.store.recording(id),
        Err(StoreError::UnknownRecording(_))
    ));
    assert!(!recording.path.exists());
    assert_eq!(wav_files(&test).len(), 1);

    // Greetings sit beside the name.
    let busy = test
        .store
        .save_recording(
            &owner,
            RecordingKind::BusyGreeting,
            &tone(10),
            t0(),
            &call("c"),
        )
        .unwrap();
    assert_eq!(
        test.store.user("4711", t0().today).unwrap().busy_greeting,
        Some(busy)
    );
    assert_eq!(wav_files(&test).len(), 2);

    // Removing the user removes the files.
    test.store
        .remove_user("4711", t0(), &Source::Admin)
        .unwrap();
    assert!(wav_files(&test).is_empty());
}

#[test]
fn portal_greetings_belong_to_the_portal() {
    let test = TestStore::new();
    let owner = RecordingOwner::Portal("hq".into());
    let business = test
        .store
        .save_recording(
            &owner,
            RecordingKind::BusinessHoursGreeting,
            &tone(100),
            t0(),
            &Source::Admin,
        )
        .unwrap();
    let after = test
        .store
        .save_recording(
            &owner,
            RecordingKind::AfterHoursGreeting,
            &tone(100),
            t0(),
            &Source::Admin,
        )
        .unwrap();
    let portal = test.store.portal("hq").unwrap();
    assert_eq!(portal.business_hours_greeting, Some(business));
    assert_eq!(portal.after_hours_greeting, Some(after));
    assert_eq!(
        test.store.portal_by_dialed("8000").unwrap().unwrap().id,
        "hq"
    );
    assert_eq!(
        test.store
            .portal_by_dialed("+15550100")
            .unwrap()
            .unwrap()
            .id,
        "hq"
    );
    assert_eq!(test.store.portal_by_dialed("8001").unwrap(), None);
}

#[test]
fn a_recording_for_a_missing_owner_or_the_wrong_kind_leaves_nothing_behind() {
    let test = TestStore::new();
    let missing = test.store.save_recording(
        &RecordingOwner::Mailbox("9999".into()),
        RecordingKind::Name,
        &tone(10),
        t0(),
        &call("c"),
    );
    assert!(matches!(missing, Err(StoreError::UnknownMailbox(_))));
    let wrong_kind = test.store.save_recording(
        &RecordingOwner::Portal("hq".into()),
        RecordingKind::Name,
        &tone(10),
        t0(),
        &Source::Admin,
    );
    assert!(wrong_kind.is_err());
    assert!(wav_files(&test).is_empty());
}
