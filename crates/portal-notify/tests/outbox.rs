//! The outbox writes whole, private, well-formed `.eml` files.

mod common;

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use portal_notify::{Delivery, Notifier, NotifyError, Outbox, Recipient};

fn outbox_in(data_dir: &Path) -> Outbox {
    Outbox::in_data_dir(data_dir, FROM).unwrap()
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    paths.sort();
    paths
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_notice_becomes_one_private_eml_file_with_the_usual_headers() {
    let data_dir = tempfile::tempdir().unwrap();
    let outbox = outbox_in(data_dir.path());
    let delivery = outbox.send(&ada(), &default_onboarding()).unwrap();

    let outbox_dir = data_dir.path().join("outbox");
    assert_eq!(outbox.dir(), outbox_dir);
    assert_eq!(mode(&outbox_dir), 0o700);
    let Delivery::Outbox { path, message_id } = &delivery else {
        panic!("{delivery:?}")
    };
    assert_eq!(entries(&outbox_dir), vec![path.clone()]);
    assert_eq!(mode(path), 0o600);

    let name = path.file_name().unwrap().to_str().unwrap();
    // 20261123T073501.482913Z-0123456789abcdef.eml
    assert_eq!(
        name.len(),
        "20261123T073501.482913Z-0123456789abcdef.eml".len(),
        "{name}"
    );
    assert!(name.ends_with(".eml"));
    assert_eq!(&name[8..9], "T");
    assert_eq!(&name[15..16], ".");
    assert_eq!(&name[22..24], "Z-");

    let text = fs::read_to_string(path).unwrap();
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "bare LF in {text:?}"
    );
    assert!(
        !text.replace("\r\n", "").contains('\r'),
        "bare CR in {text:?}"
    );
    let message = ParsedMessage::parse(&text, "\r\n");
    assert_eq!(message.header("From"), "vportal <voicemail@example.org>");
    assert_eq!(message.header("To"), "\"Ada Lovelace\" <ada@example.org>");
    assert_eq!(message.header("Subject"), "Your new voicemail mailbox 4711");
    assert_eq!(message.header("Message-ID"), message_id);
    assert!(message_id.starts_with('<') && message_id.ends_with("@example.org>"));
    assert_eq!(message.header("MIME-Version"), "1.0");
    assert_eq!(message.header("Content-Type"), "text/plain; charset=utf-8");
    assert_eq!(message.header("Content-Transfer-Encoding"), "7bit");
    assert_eq!(message.header("Auto-Submitted"), "auto-generated");
    let date = message.header("Date");
    // RFC 5322 date-time, as `Mon, 23 Nov 2026 07:35:01 +0000`.
    let fields: Vec<&str> = date.split(' ').collect();
    assert_eq!(fields.len(), 6, "{date}");
    assert!(
        ["Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,"].contains(&fields[0]),
        "{date}"
    );
    assert_eq!(fields[4].len(), "07:35:01".len(), "{date}");
    assert!(message.body.starts_with("Hello Ada Lovelace,\r\n"));
    assert!(
        message
            .body
            .contains(&format!("Passcode:        {DEFAULT_PASSCODE}\r\n"))
    );
}

#[test]
fn files_sort_by_time_and_never_collide() {
    let data_dir = tempfile::tempdir().unwrap();
    let outbox = Arc::new(outbox_in(data_dir.path()));
    let mut in_order = Vec::new();
    for _ in 0..5 {
        in_order.push(
            outbox
                .send(&ada(), &lockout())
                .unwrap()
                .outbox_path()
                .unwrap()
                .to_owned(),
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let mut sorted = in_order.clone();
    sorted.sort();
    assert_eq!(in_order, sorted);

    let threads: Vec<_> = (0..8)
        .map(|_| {
            let outbox = Arc::clone(&outbox);
            std::thread::spawn(move || {
                (0..10)
                    .map(|_| {
                        outbox
                            .send(&ada(), &temporary_reset())
                            .unwrap()
                            .outbox_path()
                            .unwrap()
                            .to_owned()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let written: HashSet<PathBuf> = threads
        .into_iter()
        .flat_map(|thread| thread.join().unwrap())
        .collect();
    assert_eq!(written.len(), 80);
    let on_disk = entries(outbox.dir());
    assert_eq!(on_disk.len(), 85);
    for path in &on_disk {
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            name.ends_with(".eml") && !name.starts_with('.'),
            "leftover {name}"
        );
        assert_eq!(mode(path), 0o600);
        let text = fs::read_to_string(path).unwrap();
        assert!(text.ends_with("your voice portal.\r\n"), "truncated {name}");
    }
}

#[test]
fn a_missing_outbox_is_created_private_and_an_existing_one_is_left_as_it_is() {
    let data_dir = tempfile::tempdir().unwrap();
    let nested = data_dir.path().join("var/lib/vportal");
    let outbox = outbox_in(&nested);
    assert_eq!(mode(outbox.dir()), 0o700);

    // Removed while the server runs: the next notice recreates it.
    fs::remove_dir(outbox.dir()).unwrap();
    outbox.send(&ada(), &lockout()).unwrap();
    assert_eq!(mode(outbox.dir()), 0o700);
    assert_eq!(entries(outbox.dir()).len(), 1);

    // An operator's choice (say, a group that forwards the mail) is kept.
    let shared = data_dir.path().join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o750)).unwrap();
    let outbox = Outbox::new(&shared, FROM).unwrap();
    let path = outbox
        .send(&ada(), &lockout())
        .unwrap()
        .outbox_path()
        .unwrap()
        .to_owned();
    assert_eq!(mode(&shared), 0o750);
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn a_bad_recipient_writes_nothing() {
    let data_dir = tempfile::tempdir().unwrap();
    let outbox = outbox_in(data_dir.path());
    let error = outbox
        .send(
            &Recipient::new("ada at example dot org"),
            &default_onboarding(),
        )
        .unwrap_err();
    assert!(
        matches!(error, NotifyError::InvalidAddress { role: "to", .. }),
        "{error:?}"
    );
    assert!(!error.to_string().contains(DEFAULT_PASSCODE));
    assert!(entries(outbox.dir()).is_empty());
}

#[test]
fn an_unwritable_outbox_is_an_error_without_the_passcode() {
    let data_dir = tempfile::tempdir().unwrap();
    let outbox = outbox_in(data_dir.path());
    // Replace the directory by a file: this fails even for root, who ignores permission bits.
    fs::remove_dir(outbox.dir()).unwrap();
    fs::write(outbox.dir(), b"not a directory").unwrap();
    let error = outbox.send(&ada(), &default_onboarding()).unwrap_err();
    assert!(matches!(error, NotifyError::Outbox { .. }), "{error:?}");
    let shown = format!("{error} {error:?}");
    assert!(shown.contains("outbox"), "{shown}");
    assert!(!shown.contains(DEFAULT_PASSCODE), "{shown}");
}

#[test]
fn non_ascii_names_are_encoded_and_the_body_stays_utf8() {
    let data_dir = tempfile::tempdir().unwrap();
    let outbox = outbox_in(data_dir.path());
    let zoe = Recipient::named("Zoë Ångström", "zoe@example.org");
    let path = outbox
        .send(&zoe, &default_onboarding())
        .unwrap()
        .outbox_path()
        .unwrap()
        .to_owned();
    let text = fs::read_to_string(path).unwrap();
    assert!(text.is_ascii(), "headers and body are transfer-encoded");
    let message = ParsedMessage::parse(&text, "\r\n");
    assert!(
        message.header("To").starts_with("=?utf-8?"),
        "{}",
        message.header("To")
    );
    assert!(message.header("To").ends_with("<zoe@example.org>"));
    assert_eq!(message.header("Content-Type"), "text/plain; charset=utf-8");
    assert_ne!(message.header("Content-Transfer-Encoding"), "7bit");
}
