//! Nothing the crate logs holds a passcode, even at trace level.
//!
//! This lives in its own test binary: tracing caches per-callsite interest, and other tests registering the
//! same callsites concurrently without a subscriber could make these events invisible here.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use portal_notify::{Notifier, Outbox, Recipient};

/// Everything the crate logs, at the most verbose level, while it delivers notices with passcodes.
#[test]
fn logs_name_recipient_and_subject_but_never_a_passcode() {
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let data_dir = tempfile::tempdir().unwrap();
    tracing::subscriber::with_default(subscriber, || {
        let outbox = Outbox::in_data_dir(data_dir.path(), FROM).unwrap();
        outbox.send(&ada(), &default_onboarding()).unwrap();
        outbox.send(&ada(), &temporary_reset()).unwrap();
        outbox
            .send(&Recipient::new("not an address"), &default_onboarding())
            .unwrap_err();
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("ada@example.org"), "{logs}");
    assert!(logs.contains("Your new voicemail mailbox 4711"), "{logs}");
    assert!(logs.contains("reset-to-temporary-passcode"), "{logs}");
    assert!(!logs.contains(DEFAULT_PASSCODE), "{logs}");
    assert!(!logs.contains(TEMPORARY_PASSCODE), "{logs}");
}
