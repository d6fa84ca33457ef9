//! What a notice says: one variant per event, rendered to a subject and a plain-text body.

use std::fmt;

use portal_core::Passcode;

use crate::time::UtcTime;

/// Where a notice goes: an email address and, optionally, the person's name for the greeting and the `To:`
/// header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// The address, as `ada@example.org`.
    pub address: String,
    /// The person's name, as `Ada Lovelace`, if known.
    pub name: Option<String>,
}

impl Recipient {
    /// A recipient known only by address.
    pub fn new(address: impl Into<String>) -> Recipient {
        Recipient {
            address: address.into(),
            name: None,
        }
    }

    /// A recipient with a name for the greeting and the `To:` header.
    pub fn named(name: impl Into<String>, address: impl Into<String>) -> Recipient {
        Recipient {
            address: address.into(),
            name: Some(name.into()),
        }
    }
}

/// An event a user hears about by email.
///
/// Numbers are text because they are shown as the administrator configured them (`+1 555 0100`, `8000`).
/// Times are unix seconds and appear in UTC. Only the variants that must hand over a passcode carry one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A new mailbox whose first passcode is the organization's default; it must be changed at first login.
    OnboardedWithDefaultPasscode {
        /// The user's mailbox number.
        mailbox: String,
        /// The number to call to reach the voice portal.
        portal_number: String,
        /// The organization's default passcode.
        passcode: Passcode,
    },
    /// A new mailbox whose first passcode was generated for this user; it works until a deadline or until the
    /// user has chosen a passcode, whichever comes first, and only to choose that passcode.
    OnboardedWithTemporaryPasscode {
        /// The user's mailbox number.
        mailbox: String,
        /// The number to call to reach the voice portal.
        portal_number: String,
        /// The generated one-time passcode.
        passcode: Passcode,
        /// When the temporary passcode stops working, in unix seconds.
        valid_until_unix: u64,
    },
    /// An administrator reset the passcode to a generated temporary one.
    ResetToTemporaryPasscode {
        /// The user's mailbox number.
        mailbox: String,
        /// The number to call to reach the voice portal.
        portal_number: String,
        /// The generated one-time passcode.
        passcode: Passcode,
        /// When the temporary passcode stops working, in unix seconds.
        valid_until_unix: u64,
    },
    /// An administrator reset the passcode to the organization's default; it must be changed at next login.
    ResetToDefaultPasscode {
        /// The user's mailbox number.
        mailbox: String,
        /// The number to call to reach the voice portal.
        portal_number: String,
        /// The organization's default passcode, as a reminder.
        passcode: Passcode,
    },
    /// The mailbox locked itself after too many wrong passcodes in a row.
    LockedOut {
        /// The user's mailbox number.
        mailbox: String,
        /// The number to call to reach the voice portal.
        portal_number: String,
        /// When the mailbox locked, in unix seconds.
        locked_at_unix: u64,
    },
    /// The passcode was changed (by the user, over the phone).
    PasscodeChanged {
        /// The user's mailbox number.
        mailbox: String,
        /// The number to call to reach the voice portal.
        portal_number: String,
        /// When the passcode changed, in unix seconds.
        changed_at_unix: u64,
    },
}

/// A notice as text: the subject line and the plain-text body (lines end in `\n`; lettre turns them into
/// CRLF).
///
/// `Debug` shows the subject and the body's length only, because the body may hold a passcode.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedNotice {
    /// The `Subject:` line; never holds a passcode.
    pub subject: String,
    /// The message text.
    pub body: String,
}

impl fmt::Debug for RenderedNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenderedNotice")
            .field("subject", &self.subject)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// Body text is wrapped at this width so that it reads well in any mail client and stays within RFC 5322's
/// recommended 78 characters.
const WRAP_WIDTH: usize = 72;

impl Notice {
    /// A short stable name for logs and metrics, such as `reset-to-temporary-passcode`.
    pub fn kind(&self) -> &'static str {
        match self {
            Notice::OnboardedWithDefaultPasscode { .. } => "onboarded-with-default-passcode",
            Notice::OnboardedWithTemporaryPasscode { .. } => "onboarded-with-temporary-passcode",
            Notice::ResetToTemporaryPasscode { .. } => "reset-to-temporary-passcode",
            Notice::ResetToDefaultPasscode { .. } => "reset-to-default-passcode",
            Notice::LockedOut { .. } => "locked-out",
            Notice::PasscodeChanged { .. } => "passcode-changed",
        }
    }

    /// The mailbox the notice is about.
    pub fn mailbox(&self) -> &str {
        match self {
            Notice::OnboardedWithDefaultPasscode { mailbox, .. }
            | Notice::OnboardedWithTemporaryPasscode { mailbox, .. }
            | Notice::ResetToTemporaryPasscode { mailbox, .. }
            | Notice::ResetToDefaultPasscode { mailbox, .. }
            | Notice::LockedOut { mailbox, .. }
            | Notice::PasscodeChanged { mailbox, .. } => mailbox,
        }
    }

    /// The subject line alone (it never holds a passcode, so it may be logged).
    pub fn subject(&self) -> String {
        let mailbox = self.mailbox();
        match self {
            Notice::OnboardedWithDefaultPasscode { .. } => {
                format!("Your new voicemail mailbox {mailbox}")
            }
            Notice::OnboardedWithTemporaryPasscode { .. } => {
                format!("Your new voicemail mailbox {mailbox}: temporary passcode")
            }
            Notice::ResetToTemporaryPasscode { .. } => {
                format!("Your voicemail passcode was reset (mailbox {mailbox})")
            }
            Notice::ResetToDefaultPasscode { .. } => {
                format!("Your voicemail passcode was reset to the default (mailbox {mailbox})")
            }
            Notice::LockedOut { .. } => format!("Your voicemail mailbox {mailbox} is locked"),
            Notice::PasscodeChanged { .. } => {
                format!("Your voicemail passcode was changed (mailbox {mailbox})")
            }
        }
    }

    /// The subject and the body, greeting `to` by name when it has one.
    pub fn render(&self, to: &Recipient) -> RenderedNotice {
        let mut text = Text::new(to.name.as_deref());
        match self {
            Notice::OnboardedWithDefaultPasscode {
                mailbox,
                portal_number,
                passcode,
            } => {
                text.paragraph(
                    "A voicemail mailbox has been set up for you on vportal, your voice portal.",
                );
                text.facts(&[
                    ("Mailbox number", mailbox),
                    ("Portal number", portal_number),
                    ("Passcode", passcode.expose()),
                ]);
                text.paragraph(
                    "This passcode is your organization's default voicemail passcode. You must change it \
                     at your first login: the voice portal asks you to choose a passcode of your own before \
                     it lets you do anything else.",
                );
                text.how_to_log_in(portal_number);
                text.keep_private();
            }
            Notice::OnboardedWithTemporaryPasscode {
                mailbox,
                portal_number,
                passcode,
                valid_until_unix,
            } => {
                text.paragraph(
                    "A voicemail mailbox has been set up for you on vportal, your voice portal.",
                );
                text.temporary_passcode(mailbox, portal_number, passcode, *valid_until_unix);
                text.how_to_log_in(portal_number);
                text.keep_private();
            }
            Notice::ResetToTemporaryPasscode {
                mailbox,
                portal_number,
                passcode,
                valid_until_unix,
            } => {
                text.paragraph(
                    "Your administrator has reset the passcode of your voicemail mailbox on vportal, your \
                     voice portal. Your previous passcode no longer works.",
                );
                text.temporary_passcode(mailbox, portal_number, passcode, *valid_until_unix);
                text.how_to_log_in(portal_number);
                text.paragraph("If you did not ask for this reset, tell your administrator.");
                text.keep_private();
            }
            Notice::ResetToDefaultPasscode {
                mailbox,
                portal_number,
                passcode,
            } => {
                text.paragraph(
                    "Your administrator has reset the passcode of your voicemail mailbox on vportal, your \
                     voice portal, to your organization's default voicemail passcode. Your previous \
                     passcode no longer works. As a reminder, here is the default passcode:",
                );
                text.facts(&[
                    ("Mailbox number", mailbox),
                    ("Portal number", portal_number),
                    ("Default passcode", passcode.expose()),
                ]);
                text.paragraph(
                    "You must change it at your next login: the voice portal asks you to choose a new \
                     passcode of your own before it lets you do anything else.",
                );
                text.how_to_log_in(portal_number);
                text.paragraph("If you did not ask for this reset, tell your administrator.");
                text.keep_private();
            }
            Notice::LockedOut {
                mailbox,
                portal_number,
                locked_at_unix,
            } => {
                text.paragraph(
                    "Your voicemail mailbox on vportal, your voice portal, has been locked because a wrong \
                     passcode was entered too many times in a row.",
                );
                text.facts(&[
                    ("Mailbox number", mailbox),
                    ("Portal number", portal_number),
                    (
                        "Locked at",
                        &UtcTime::from_unix(*locked_at_unix).for_people(),
                    ),
                ]);
                text.paragraph(
                    "While the mailbox is locked, nobody can log in to it, not even with the right \
                     passcode. Contact your group administrator to have it unlocked.",
                );
                text.paragraph(
                    "If you did not try to log in yourself, someone else may have been guessing your \
                     passcode. Please tell your administrator about that as well.",
                );
            }
            Notice::PasscodeChanged {
                mailbox,
                portal_number,
                changed_at_unix,
            } => {
                text.paragraph(
                    "The passcode of your voicemail mailbox on vportal, your voice portal, has been \
                     changed.",
                );
                text.facts(&[
                    ("Mailbox number", mailbox),
                    ("Portal number", portal_number),
                    (
                        "Changed at",
                        &UtcTime::from_unix(*changed_at_unix).for_people(),
                    ),
                ]);
                text.paragraph(
                    "If you made this change, there is nothing more to do. If this was not you, contact \
                     your administrator at once: someone else may know your passcode.",
                );
            }
        }
        RenderedNotice {
            subject: self.subject(),
            body: text.finish(),
        }
    }
}

/// A body under construction: paragraphs wrapped to [`WRAP_WIDTH`], separated by blank lines.
struct Text {
    body: String,
}

impl Text {
    fn new(name: Option<&str>) -> Text {
        // A name comes from the user directory; control characters in it must not start new lines.
        let name: Option<String> = name
            .map(|name| name.chars().filter(|c| !c.is_control()).collect())
            .filter(|name: &String| !name.trim().is_empty());
        let greeting = match name {
            Some(name) => format!("Hello {},\n", name.trim()),
            None => "Hello,\n".to_owned(),
        };
        Text { body: greeting }
    }

    fn paragraph(&mut self, paragraph: &str) {
        self.body.push('\n');
        let mut line_length = 0;
        for word in paragraph.split_whitespace() {
            let word_length = word.chars().count();
            if line_length > 0 && line_length + 1 + word_length > WRAP_WIDTH {
                self.body.push('\n');
                line_length = 0;
            }
            if line_length > 0 {
                self.body.push(' ');
                line_length += 1;
            }
            self.body.push_str(word);
            line_length += word_length;
        }
        self.body.push('\n');
    }

    /// An indented, aligned list of labelled values.
    fn facts(&mut self, facts: &[(&str, &str)]) {
        let label_width = facts
            .iter()
            .map(|(label, _)| label.len() + 1)
            .max()
            .unwrap_or(0);
        self.body.push('\n');
        for (label, value) in facts {
            let label = format!("{label}:");
            self.body
                .push_str(&format!("    {label:<label_width$}  {value}\n"));
        }
    }

    fn temporary_passcode(
        &mut self,
        mailbox: &str,
        portal_number: &str,
        passcode: &Passcode,
        valid_until_unix: u64,
    ) {
        let valid_until = UtcTime::from_unix(valid_until_unix).for_people();
        self.facts(&[
            ("Mailbox number", mailbox),
            ("Portal number", portal_number),
            ("Temporary passcode", passcode.expose()),
            ("Valid until", &valid_until),
        ]);
        self.paragraph(&format!(
            "This temporary passcode was generated for you alone. It works only until {valid_until}, and \
             only until you have chosen a passcode of your own. All it lets you do is choose that passcode: \
             right after you enter it, the voice portal asks you for a new passcode. If a call ends before \
             you have chosen one, the temporary passcode still works for the next call."
        ));
        self.paragraph(
            "If that time has passed before you could use it, ask your administrator for a new temporary \
             passcode.",
        );
    }

    fn how_to_log_in(&mut self, portal_number: &str) {
        self.paragraph(&format!(
            "To log in, call {portal_number} from any phone, or press the voicemail button on your own \
             phone. Enter your mailbox number if you are asked for it, then the passcode, and finish each \
             entry with the # key."
        ));
    }

    fn keep_private(&mut self) {
        self.paragraph(
            "Please do not forward this message. Once you have chosen your own passcode, it is of no \
             further use and you can delete it.",
        );
    }

    fn finish(mut self) -> String {
        self.body.push_str(
            "\n-- \nThis message was sent automatically by vportal, your voice portal.\n",
        );
        self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAILBOX: &str = "4711";
    const PORTAL: &str = "+1 555 0100";
    /// 2026-11-26 07:00 UTC
    const EXPIRY: u64 = 1_795_676_400;

    fn passcode(digits: &str) -> Passcode {
        Passcode::parse(digits).unwrap()
    }

    fn ada() -> Recipient {
        Recipient::named("Ada Lovelace", "ada@example.org")
    }

    fn every_notice() -> Vec<Notice> {
        vec![
            Notice::OnboardedWithDefaultPasscode {
                mailbox: MAILBOX.into(),
                portal_number: PORTAL.into(),
                passcode: passcode("8642097"),
            },
            Notice::OnboardedWithTemporaryPasscode {
                mailbox: MAILBOX.into(),
                portal_number: PORTAL.into(),
                passcode: passcode("482913"),
                valid_until_unix: EXPIRY,
            },
            Notice::ResetToTemporaryPasscode {
                mailbox: MAILBOX.into(),
                portal_number: PORTAL.into(),
                passcode: passcode("730264"),
                valid_until_unix: EXPIRY,
            },
            Notice::ResetToDefaultPasscode {
                mailbox: MAILBOX.into(),
                portal_number: PORTAL.into(),
                passcode: passcode("8642097"),
            },
            Notice::LockedOut {
                mailbox: MAILBOX.into(),
                portal_number: PORTAL.into(),
                locked_at_unix: EXPIRY,
            },
            Notice::PasscodeChanged {
                mailbox: MAILBOX.into(),
                portal_number: PORTAL.into(),
                changed_at_unix: EXPIRY,
            },
        ]
    }

    /// Removes the digits the notice is allowed to show (mailbox, portal number, the time); what is left
    /// must have none.
    fn digits_beyond_known_numbers(text: &str) -> String {
        text.replace(MAILBOX, "")
            .replace(PORTAL, "")
            .replace("2026-11-26 07:00 UTC", "")
            .chars()
            .filter(char::is_ascii_digit)
            .collect()
    }

    #[test]
    fn default_passcode_onboarding_hands_over_the_default_and_demands_a_change() {
        let rendered = every_notice()[0].render(&ada());
        assert_eq!(rendered.subject, "Your new voicemail mailbox 4711");
        let body = &rendered.body;
        assert!(body.starts_with("Hello Ada Lovelace,\n"), "{body}");
        assert!(body.contains("    Passcode:        8642097\n"), "{body}");
        assert!(body.contains("    Mailbox number:  4711\n"), "{body}");
        assert!(
            body.contains("    Portal number:   +1 555 0100\n"),
            "{body}"
        );
        let prose = body.replace('\n', " ");
        assert!(prose.contains("organization's default voicemail passcode"));
        assert!(prose.contains("You must change it at your first login"));
        assert!(prose.contains("call +1 555 0100"));
        assert!(!prose.contains("Valid until"));
    }

    #[test]
    fn temporary_onboarding_says_until_when_it_works_and_that_it_only_opens_the_change() {
        let rendered = every_notice()[1].render(&ada());
        assert_eq!(
            rendered.subject,
            "Your new voicemail mailbox 4711: temporary passcode"
        );
        let body = rendered.body.replace('\n', " ");
        assert!(body.contains("Temporary passcode:  482913"), "{body}");
        assert!(
            body.contains("Valid until:         2026-11-26 07:00 UTC"),
            "{body}"
        );
        assert!(body.contains("generated for you alone"));
        assert!(
            body.contains(
                "It works only until 2026-11-26 07:00 UTC, and only until you have chosen"
            )
        );
        assert!(body.contains("All it lets you do is choose that passcode"));
        assert!(body.contains("still works for the next call"));
        assert!(!body.contains("default"));
    }

    #[test]
    fn reset_to_temporary_says_the_old_passcode_is_gone_and_when_the_new_one_expires() {
        let rendered = every_notice()[2].render(&ada());
        assert_eq!(
            rendered.subject,
            "Your voicemail passcode was reset (mailbox 4711)"
        );
        let body = rendered.body.replace('\n', " ");
        assert!(body.contains("Your previous passcode no longer works"));
        assert!(body.contains("Temporary passcode:  730264"), "{body}");
        assert!(body.contains("Valid until:         2026-11-26 07:00 UTC"));
        assert!(body.contains("only until you have chosen a passcode of your own"));
        assert!(body.contains("If you did not ask for this reset, tell your administrator."));
    }

    #[test]
    fn reset_to_default_reminds_the_user_of_the_default_passcode() {
        let rendered = every_notice()[3].render(&ada());
        assert_eq!(
            rendered.subject,
            "Your voicemail passcode was reset to the default (mailbox 4711)"
        );
        let body = rendered.body.replace('\n', " ");
        assert!(body.contains("As a reminder, here is the default passcode:"));
        assert!(body.contains("Default passcode:  8642097"), "{body}");
        assert!(body.contains("You must change it at your next login"));
    }

    #[test]
    fn lockout_notice_names_the_mailbox_and_the_administrator_but_no_passcode() {
        let rendered = every_notice()[4].render(&ada());
        assert_eq!(rendered.subject, "Your voicemail mailbox 4711 is locked");
        let body = rendered.body.replace('\n', " ");
        assert!(body.contains("wrong passcode was entered too many times in a row"));
        assert!(body.contains("Contact your group administrator"));
        assert!(
            body.contains("Locked at:       2026-11-26 07:00 UTC"),
            "{body}"
        );
        assert_eq!(digits_beyond_known_numbers(&rendered.body), "");
        assert_eq!(digits_beyond_known_numbers(&rendered.subject), "");
    }

    #[test]
    fn changed_notice_tells_whom_to_contact_and_carries_no_passcode() {
        let rendered = every_notice()[5].render(&ada());
        assert_eq!(
            rendered.subject,
            "Your voicemail passcode was changed (mailbox 4711)"
        );
        let body = rendered.body.replace('\n', " ");
        assert!(body.contains("If this was not you, contact your administrator"));
        assert!(
            body.contains("Changed at:      2026-11-26 07:00 UTC"),
            "{body}"
        );
        assert_eq!(digits_beyond_known_numbers(&rendered.body), "");
    }

    #[test]
    fn no_subject_holds_a_passcode_and_only_passcode_notices_hold_theirs() {
        for notice in every_notice() {
            let rendered = notice.render(&ada());
            assert_eq!(
                digits_beyond_known_numbers(&rendered.subject),
                "",
                "{notice:?}"
            );
            let passcode = match &notice {
                Notice::OnboardedWithDefaultPasscode { passcode, .. }
                | Notice::OnboardedWithTemporaryPasscode { passcode, .. }
                | Notice::ResetToTemporaryPasscode { passcode, .. }
                | Notice::ResetToDefaultPasscode { passcode, .. } => Some(passcode.expose()),
                Notice::LockedOut { .. } | Notice::PasscodeChanged { .. } => None,
            };
            match passcode {
                Some(digits) => assert!(rendered.body.contains(digits), "{notice:?}"),
                None => assert_eq!(digits_beyond_known_numbers(&rendered.body), ""),
            }
        }
    }

    #[test]
    fn text_speaks_of_vportal_and_stays_within_the_line_limit() {
        for notice in every_notice() {
            let body = notice.render(&ada()).body;
            assert!(body.contains("vportal, your voice portal"), "{body}");
            assert!(body.ends_with("sent automatically by vportal, your voice portal.\n"));
            for line in body.lines() {
                assert!(line.chars().count() <= WRAP_WIDTH, "{line:?}");
            }
            assert!(!body.contains("\n\n\n"), "{body}");
        }
    }

    #[test]
    fn greeting_uses_the_name_without_its_control_characters() {
        let body = every_notice()[5]
            .render(&Recipient::named(
                "Eve\r\nBcc: x@example.org",
                "eve@example.org",
            ))
            .body;
        assert!(body.starts_with("Hello EveBcc: x@example.org,\n"), "{body}");
        let anonymous = every_notice()[5]
            .render(&Recipient::new("someone@example.org"))
            .body;
        assert!(anonymous.starts_with("Hello,\n"));
        let blank = every_notice()[5]
            .render(&Recipient::named("  ", "someone@example.org"))
            .body;
        assert!(blank.starts_with("Hello,\n"));
    }

    #[test]
    fn debug_output_hides_the_body_and_the_passcode() {
        for notice in every_notice() {
            let rendered = notice.render(&ada());
            let debug = format!("{notice:?} {rendered:?}");
            for digits in ["8642097", "482913", "730264"] {
                assert!(!debug.contains(digits), "{debug}");
            }
            assert!(debug.contains(&rendered.subject));
        }
    }
}
