//! Turning a notice into an RFC 5322 message with lettre.

use std::time::SystemTime;

use lettre::message::Mailbox;
use lettre::message::header::{self, ContentType, HeaderName, HeaderValue};
use lettre::{Address, Message};

use crate::error::NotifyError;
use crate::notice::{Notice, Recipient};
use crate::time::UtcTime;

/// A message ready to write or send, with the facts worth logging.
pub(crate) struct Composed {
    pub(crate) message: Message,
    pub(crate) message_id: String,
    pub(crate) subject: String,
}

/// Parses the configured sender, as `vportal <voicemail@example.org>` or `voicemail@example.org`.
pub(crate) fn parse_sender(from: &str) -> Result<Mailbox, NotifyError> {
    from.parse::<Mailbox>()
        .map_err(|error| NotifyError::InvalidAddress {
            role: "from",
            address: from.to_owned(),
            reason: error.to_string(),
        })
}

fn recipient_mailbox(to: &Recipient) -> Result<Mailbox, NotifyError> {
    let address =
        to.address
            .trim()
            .parse::<Address>()
            .map_err(|error| NotifyError::InvalidAddress {
                role: "to",
                address: to.address.clone(),
                reason: error.to_string(),
            })?;
    Ok(Mailbox::new(to.name.clone(), address))
}

/// Builds the message: `From`, `To`, `Subject`, `Date`, a unique `Message-ID` on the sender's domain, and a
/// plain-text UTF-8 body.
pub(crate) fn compose(
    from: &Mailbox,
    to: &Recipient,
    notice: &Notice,
    now: SystemTime,
) -> Result<Composed, NotifyError> {
    let rendered = notice.render(to);
    let message_id = new_message_id(from, now);
    let message = Message::builder()
        .from(from.clone())
        .to(recipient_mailbox(to)?)
        .subject(rendered.subject.clone())
        .date(now)
        .message_id(Some(message_id.clone()))
        .header(header::MIME_VERSION_1_0)
        .header(ContentType::TEXT_PLAIN)
        // RFC 3834: tells vacation responders and mailing lists not to answer a machine.
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_owned(),
        ))
        .body(rendered.body)?;
    Ok(Composed {
        message,
        message_id,
        subject: rendered.subject,
    })
}

/// `<20261123T073501.<32 hex digits>@example.org>`: the time makes it readable, 128 random bits make it
/// unique.
fn new_message_id(from: &Mailbox, now: SystemTime) -> String {
    format!(
        "<{}.{:032x}@{}>",
        UtcTime::from_system(now).compact(),
        rand::random::<u128>(),
        from.email.domain()
    )
}
