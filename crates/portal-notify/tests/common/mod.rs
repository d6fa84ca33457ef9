//! Helpers shared by the integration tests: sample notices and a small reader for RFC 5322 messages.

#![allow(dead_code)] // each test file uses a different part

use portal_core::Passcode;
use portal_notify::{Notice, Recipient};

pub const FROM: &str = "vportal <voicemail@example.org>";
pub const DEFAULT_PASSCODE: &str = "8642097";
pub const TEMPORARY_PASSCODE: &str = "482913";
/// 2026-11-26 07:00 UTC
pub const EXPIRY: u64 = 1_795_676_400;

pub fn ada() -> Recipient {
    Recipient::named("Ada Lovelace", "ada@example.org")
}

pub fn default_onboarding() -> Notice {
    Notice::OnboardedWithDefaultPasscode {
        mailbox: "4711".into(),
        portal_number: "+1 555 0100".into(),
        passcode: Passcode::parse(DEFAULT_PASSCODE).unwrap(),
    }
}

pub fn temporary_reset() -> Notice {
    Notice::ResetToTemporaryPasscode {
        mailbox: "4711".into(),
        portal_number: "+1 555 0100".into(),
        passcode: Passcode::parse(TEMPORARY_PASSCODE).unwrap(),
        valid_until_unix: EXPIRY,
    }
}

pub fn lockout() -> Notice {
    Notice::LockedOut {
        mailbox: "4711".into(),
        portal_number: "+1 555 0100".into(),
        locked_at_unix: EXPIRY,
    }
}

/// A message split into unfolded headers and body.
pub struct ParsedMessage {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl ParsedMessage {
    /// Splits at the first empty line; `line_end` is `"\r\n"` for the wire format, `"\n"` for a Maildir.
    pub fn parse(text: &str, line_end: &str) -> ParsedMessage {
        let separator = format!("{line_end}{line_end}");
        let (head, body) = text
            .split_once(&separator)
            .expect("a blank line between headers and body");
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split(line_end) {
            if line.starts_with([' ', '\t']) {
                let (_, value) = headers.last_mut().expect("a folded line follows a header");
                value.push_str(line);
            } else {
                let (name, value) = line.split_once(':').expect("a header line has a colon");
                headers.push((name.to_owned(), value.trim().to_owned()));
            }
        }
        ParsedMessage {
            headers,
            body: body.to_owned(),
        }
    }

    /// The value of the only header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> &str {
        let mut values = self
            .headers
            .iter()
            .filter(|(header, _)| header.eq_ignore_ascii_case(name));
        let (_, value) = values.next().unwrap_or_else(|| panic!("no {name} header"));
        assert!(values.next().is_none(), "more than one {name} header");
        value
    }
}
