//! Why a call reached the portal on someone else's behalf: the redirection a PBX or SBC signals when it
//! forwards a call its user did not take, so the caller can leave that user a message; and whether the caller
//! marked the call urgent.
//!
//! Three forms are read, in this order (the first one present decides):
//!
//! 1. an RFC 4458 voicemail URI: the Request-URI carries `target=` (the URI of the user the call was for,
//!    percent-encoded) and `cause=` (a SIP status code naming why: RFC 4458 §2.2's table);
//! 2. History-Info (RFC 7044): the last entry retargeted to the portal (one with `mp=`, or with a `cause=` or
//!    `target=` URI parameter) and the entry its `mp=` names, which is the user the call came from; the cause
//!    is that last entry's `cause=` URI parameter, else the `Reason` header escaped in the URI of the entry
//!    before it (RFC 7044 §4.2.1: why that target was left);
//! 3. Diversion (RFC 5806): the first (most recent) diversion's URI and its `reason=`.
//!
//! None of this is authenticated: anyone can write these headers. The endpoint believes them only from a
//! `[sip] trusted` peer (see [`AccessPolicy::trusts`](crate::access::AccessPolicy::trusts)), like
//! P-Asserted-Identity. Believed from anyone, a forged redirection would let a stranger fill any mailbox, and
//! worse, the greeting played (the user's own, a name, or not) would tell which numbers have a mailbox.

use rsip::Header;
use rsip::prelude::UntypedHeader;

use crate::syntax::{NameAddr, SipUri, find_param, percent_decode, split_list};

/// Why the user did not take the call, as the redirection says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RedirectCause {
    /// The user was busy (486, `user-busy`).
    Busy,
    /// The user did not answer (408, 480, 487, `no-answer`).
    NoAnswer,
    /// The user forwards every call (302, `unconditional`).
    Unconditional,
    /// Any other cause, or none given.
    Unknown,
}

impl RedirectCause {
    /// The cause of an RFC 4458 `cause=` value (a SIP status code, RFC 4458 §2.2): 486 user busy; 408 no
    /// reply, 480 deflection immediate response and 487 deflection during alerting (the user let it ring or
    /// turned it away, so did not answer); 302 unconditional; 404, 503 and the rest unknown.
    pub fn from_status(code: &str) -> RedirectCause {
        match code.trim() {
            "486" => RedirectCause::Busy,
            "408" | "480" | "487" => RedirectCause::NoAnswer,
            "302" => RedirectCause::Unconditional,
            _ => RedirectCause::Unknown,
        }
    }

    /// The cause of a Diversion `reason=` (RFC 5806 §3); unknown, unavailable, time-of-day, do-not-disturb,
    /// deflection, follow-me, out-of-service, away and extensions are [`RedirectCause::Unknown`].
    pub fn from_diversion_reason(reason: &str) -> RedirectCause {
        let reason = unquote(reason);
        if reason.eq_ignore_ascii_case("user-busy") {
            RedirectCause::Busy
        } else if reason.eq_ignore_ascii_case("no-answer") {
            RedirectCause::NoAnswer
        } else if reason.eq_ignore_ascii_case("unconditional") {
            RedirectCause::Unconditional
        } else {
            RedirectCause::Unknown
        }
    }
}

/// A call forwarded to the portal for a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirection {
    /// The user part of the user's URI: a number or an extension (percent-decoded; for `tel:` the number
    /// without visual separators).
    pub target: String,
    /// Why the call was forwarded.
    pub cause: RedirectCause,
}

/// The redirection an INVITE carries, in the order the module documentation gives; `None` when it carries
/// none that names a user.
pub fn read_redirection(request_uri: &SipUri, headers: &rsip::Headers) -> Option<Redirection> {
    voicemail_uri(request_uri)
        .or_else(|| history_info(&header_values(headers, "History-Info")))
        .or_else(|| diversion(&header_values(headers, "Diversion")))
}

/// Whether the INVITE's Priority is `urgent` or `emergency` (RFC 3261 §20.26).
pub fn is_urgent(headers: &rsip::Headers) -> bool {
    headers.iter().any(|header| match header {
        Header::Priority(priority) => {
            let value = priority.value().trim();
            value.eq_ignore_ascii_case("urgent") || value.eq_ignore_ascii_case("emergency")
        }
        _ => false,
    })
}

/// RFC 4458: `target=` and `cause=` on a URI (the Request-URI, or a History-Info entry's).
fn voicemail_uri(uri: &SipUri) -> Option<Redirection> {
    let target = uri.param("target").flatten()?;
    Some(Redirection {
        target: target_user(target)?,
        cause: uri
            .param("cause")
            .flatten()
            .map_or(RedirectCause::Unknown, RedirectCause::from_status),
    })
}

/// One History-Info entry.
struct HistoryEntry {
    uri: SipUri,
    index: Option<String>,
    mapped_from: Option<String>,
}

/// RFC 7044: the last entry retargeted to the portal, and the user it came from.
fn history_info(values: &[String]) -> Option<Redirection> {
    let entries: Vec<HistoryEntry> = values
        .iter()
        .flat_map(|value| split_list(value))
        .filter_map(|entry| NameAddr::parse(entry).ok())
        .map(|entry| HistoryEntry {
            index: find_param(&entry.params, "index")
                .flatten()
                .map(str::to_owned),
            mapped_from: find_param(&entry.params, "mp").flatten().map(str::to_owned),
            uri: entry.uri,
        })
        .collect();
    let at = entries.iter().rposition(|entry| {
        entry.mapped_from.is_some()
            || entry.uri.param("cause").is_some()
            || entry.uri.param("target").is_some()
    })?;
    let to_portal = &entries[at];
    if let Some(redirection) = voicemail_uri(&to_portal.uri) {
        return Some(redirection);
    }
    // The user it came from: the entry `mp` names, else its parent index (RFC 7044 §10.3), else the one
    // before it.
    let from_index = to_portal.mapped_from.clone().or_else(|| {
        to_portal
            .index
            .as_deref()
            .and_then(|index| index.rsplit_once('.'))
            .map(|(parent, _)| parent.to_owned())
    });
    let from = from_index
        .and_then(|wanted| {
            entries[..at]
                .iter()
                .find(|entry| entry.index.as_deref() == Some(wanted.as_str()))
        })
        .or_else(|| at.checked_sub(1).map(|before| &entries[before]))?;
    let cause = match to_portal.uri.param("cause").flatten() {
        Some(code) => RedirectCause::from_status(code),
        None => at
            .checked_sub(1)
            .and_then(|before| reason_cause(&entries[before].uri))
            .map_or(RedirectCause::Unknown, RedirectCause::from_status),
    };
    Some(Redirection {
        target: uri_user(&from.uri)?,
        cause,
    })
}

/// RFC 5806: the first Diversion entry (the most recent diversion).
fn diversion(values: &[String]) -> Option<Redirection> {
    let first = values.iter().flat_map(|value| split_list(value)).next()?;
    let entry = NameAddr::parse(first).ok()?;
    Some(Redirection {
        target: uri_user(&entry.uri)?,
        cause: find_param(&entry.params, "reason")
            .flatten()
            .map_or(RedirectCause::Unknown, RedirectCause::from_diversion_reason),
    })
}

/// The values of every header named `name`, in order (rsip keeps these as `Other`).
fn header_values(headers: &rsip::Headers, name: &str) -> Vec<String> {
    headers
        .iter()
        .filter_map(|header| match header {
            Header::Other(other, value) if other.eq_ignore_ascii_case(name) => Some(value.clone()),
            _ => None,
        })
        .collect()
}

/// The user of a `target=` value: a percent-encoded URI (`sip:+15555551002%40example.com`), or bare digits
/// as some PBXs send.
fn target_user(value: &str) -> Option<String> {
    let decoded = percent_decode(unquote(value));
    match SipUri::parse(&decoded) {
        Ok(uri) => uri_user(&uri),
        Err(_) if is_user_text(&decoded) => Some(decoded),
        Err(_) => None,
    }
}

/// A URI's user part as a number or extension: `tel:` numbers lose their visual separators (RFC 3966), and
/// a `sip:` user loses any `;` parameters it carries (`sip:+1555;npdi@host`).
fn uri_user(uri: &SipUri) -> Option<String> {
    let user = uri.user.as_deref()?;
    let user = user.split(';').next().unwrap_or_default();
    let user: String = match uri.scheme {
        crate::syntax::UriScheme::Tel => user
            .chars()
            .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
            .collect(),
        _ => user.to_owned(),
    };
    is_user_text(&user).then_some(user)
}

fn is_user_text(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-_.*#".contains(&b))
}

/// The `cause=` of a `Reason` header escaped in a URI (`sip:bob@host?Reason=SIP%3Bcause%3D486`).
fn reason_cause(uri: &SipUri) -> Option<&'static str> {
    let (_, headers) = uri.raw.split_once('?')?;
    headers.split('&').find_map(|header| {
        let (name, value) = header.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("Reason") {
            return None;
        }
        let value = percent_decode(value);
        let mut parts = value.split(';');
        if !parts.next()?.trim().eq_ignore_ascii_case("SIP") {
            return None;
        }
        parts.find_map(|param| {
            let (name, code) = param.split_once('=')?;
            if !name.trim().eq_ignore_ascii_case("cause") {
                return None;
            }
            // Only the codes that mean something here; the rest are unknown.
            ["486", "408", "480", "487", "302"]
                .into_iter()
                .find(|known| *known == code.trim())
        })
    })
}

fn unquote(text: &str) -> &str {
    let text = text.trim();
    text.strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[(&str, &str)]) -> rsip::Headers {
        let mut headers = rsip::Headers::default();
        for (name, value) in lines {
            let header = if name.eq_ignore_ascii_case("Priority") {
                Header::Priority(rsip::headers::Priority::new(*value))
            } else {
                Header::Other((*name).to_owned(), (*value).to_owned())
            };
            headers.push(header);
        }
        headers
    }

    fn uri(text: &str) -> SipUri {
        SipUri::parse(text).unwrap()
    }

    fn redirection(target: &str, cause: RedirectCause) -> Option<Redirection> {
        Some(Redirection {
            target: target.to_owned(),
            cause,
        })
    }

    const PORTAL: &str = "sip:8000@vportal.example.com";

    #[test]
    fn rfc_4458_voicemail_uris_name_the_target_and_the_cause() {
        // Written as RFC 4458's examples are (a voicemail service, the target percent-encoded).
        let busy = uri("sip:voicemail@example.com;target=sip:+15555551002%40example.com;cause=486");
        assert_eq!(
            read_redirection(&busy, &headers(&[])),
            redirection("+15555551002", RedirectCause::Busy)
        );
        let no_reply =
            uri("sip:voicemail@example.com;target=sip:+15555551002%40example.com;cause=408");
        assert_eq!(
            read_redirection(&no_reply, &headers(&[])),
            redirection("+15555551002", RedirectCause::NoAnswer)
        );
        for (cause, expected) in [
            ("302", RedirectCause::Unconditional),
            ("480", RedirectCause::NoAnswer),
            ("487", RedirectCause::NoAnswer),
            ("404", RedirectCause::Unknown),
            ("503", RedirectCause::Unknown),
        ] {
            let text =
                format!("sip:8000@vm.example.com;target=sip:1001%40pbx.example;cause={cause}");
            assert_eq!(
                read_redirection(&uri(&text), &headers(&[])),
                redirection("1001", expected),
                "cause {cause}"
            );
        }
        // A tel: target, bare digits, and no cause at all.
        let tel = uri("sip:vm@example.com;target=tel:+1-555-555-1002;cause=486");
        assert_eq!(
            read_redirection(&tel, &headers(&[])),
            redirection("+15555551002", RedirectCause::Busy)
        );
        let bare = uri("sip:vm@example.com;target=1001");
        assert_eq!(
            read_redirection(&bare, &headers(&[])),
            redirection("1001", RedirectCause::Unknown)
        );
        // A cause without a target names nobody.
        let nobody = uri("sip:vm@example.com;cause=486");
        assert_eq!(read_redirection(&nobody, &headers(&[])), None);
        assert_eq!(read_redirection(&uri(PORTAL), &headers(&[])), None);
    }

    #[test]
    fn history_info_names_the_user_the_portal_entry_was_mapped_from() {
        // Shaped like RFC 7131's voicemail flow: Bob's two contacts fail (408, 486), then the call is mapped
        // to the voicemail server with an RFC 4458 URI.
        let value = "<sips:bob@example.com>;index=1, \
            <sips:office@192.0.2.3?Reason=SIP%3Bcause%3D408>;index=1.1;rc=1, \
            <sips:home@192.0.2.4?Reason=SIP%3Bcause%3D486>;index=1.2;rc=1, \
            <sips:vm@example.com;target=sips:bob%40example.com;cause=486>;index=1.3;mp=1";
        assert_eq!(
            read_redirection(&uri(PORTAL), &headers(&[("History-Info", value)])),
            redirection("bob", RedirectCause::Busy)
        );
        // Without target=: the user is the entry `mp` names, the cause the portal entry's cause=.
        let value = "<sip:5551001@pbx.example>;index=1, \
            <sip:5551001@192.0.2.20>;index=1.1;rc=1, \
            <sip:8000@vportal.example;cause=408>;index=1.2;mp=1";
        assert_eq!(
            read_redirection(&uri(PORTAL), &headers(&[("History-Info", value)])),
            redirection("5551001", RedirectCause::NoAnswer)
        );
        // The last retargeting wins (1001 forwarded to 1002, who was busy), over two header lines; with no
        // cause= the escaped Reason of the entry before says why.
        let first =
            "<sip:1001@pbx.example>;index=1, <sip:1002@pbx.example;cause=302>;index=1.1;mp=1";
        let second = "<sip:1002@192.0.2.30?Reason=SIP%3Bcause%3D486%3Btext%3D%22Busy%22>;index=1.1.1;rc=1.1, \
            <sip:8000@vportal.example>;index=1.1.1.1;mp=1.1";
        assert_eq!(
            read_redirection(
                &uri(PORTAL),
                &headers(&[("History-Info", first), ("history-info", second)])
            ),
            redirection("1002", RedirectCause::Busy)
        );
        // Entries only recording contacts (rc) were never retargeted to the portal.
        let value = "<sip:1001@pbx.example>;index=1, <sip:1001@192.0.2.20>;index=1.1;rc=1";
        assert_eq!(
            read_redirection(&uri(PORTAL), &headers(&[("History-Info", value)])),
            None
        );
    }

    #[test]
    fn diversion_names_the_most_recent_diverting_user() {
        // Two diversions, the most recent first, URIs in angle brackets (as the RFC 6044 errata write RFC
        // 5806's form).
        let value = "<sip:+15555551002@example.com>;reason=user-busy;counter=1;privacy=off, \
            <sip:+15555551001@example.com>;reason=no-answer;counter=1";
        assert_eq!(
            read_redirection(&uri(PORTAL), &headers(&[("Diversion", value)])),
            redirection("+15555551002", RedirectCause::Busy)
        );
        for (reason, expected) in [
            ("no-answer", RedirectCause::NoAnswer),
            ("\"unconditional\"", RedirectCause::Unconditional),
            ("unavailable", RedirectCause::Unknown),
            ("time-of-day", RedirectCause::Unknown),
        ] {
            let value = format!("<tel:555-1001>;reason={reason};counter=1");
            assert_eq!(
                read_redirection(&uri(PORTAL), &headers(&[("Diversion", &value)])),
                redirection("5551001", expected),
                "reason {reason}"
            );
        }
        // Two header lines: the first is the most recent.
        let lines = [
            ("Diversion", "<sip:1002@pbx.example>;reason=no-answer"),
            ("Diversion", "<sip:1001@pbx.example>;reason=user-busy"),
        ];
        assert_eq!(
            read_redirection(&uri(PORTAL), &headers(&lines)),
            redirection("1002", RedirectCause::NoAnswer)
        );
        // No reason: unknown.
        assert_eq!(
            read_redirection(
                &uri(PORTAL),
                &headers(&[("Diversion", "sip:1001@pbx.example")])
            ),
            redirection("1001", RedirectCause::Unknown)
        );
    }

    #[test]
    fn the_voicemail_uri_comes_before_history_info_and_history_info_before_diversion() {
        let lines = [
            ("Diversion", "<sip:3003@pbx.example>;reason=no-answer"),
            (
                "History-Info",
                "<sip:2002@pbx.example>;index=1, <sip:8000@vportal.example;cause=486>;index=1.1;mp=1",
            ),
        ];
        let voicemail = uri("sip:8000@vportal.example;target=sip:1001%40pbx.example;cause=302");
        assert_eq!(
            read_redirection(&voicemail, &headers(&lines)),
            redirection("1001", RedirectCause::Unconditional)
        );
        assert_eq!(
            read_redirection(&uri(PORTAL), &headers(&lines)),
            redirection("2002", RedirectCause::Busy)
        );
        assert_eq!(
            read_redirection(&uri(PORTAL), &headers(&lines[..1])),
            redirection("3003", RedirectCause::NoAnswer)
        );
    }

    #[test]
    fn nonsense_names_nobody() {
        for (name, value) in [
            ("Diversion", ""),
            ("Diversion", "garbage"),
            ("Diversion", "<sip:pbx.example>;reason=user-busy"),
            (
                "History-Info",
                "<sip:8000@vportal.example;cause=486>;index=1",
            ),
            ("History-Info", ",,,"),
        ] {
            assert_eq!(
                read_redirection(&uri(PORTAL), &headers(&[(name, value)])),
                None,
                "{name}: {value}"
            );
        }
        assert_eq!(
            read_redirection(&uri("sip:vm@example.com;target=%00%01"), &headers(&[])),
            None
        );
    }

    #[test]
    fn priority_urgent_or_emergency_is_urgent() {
        for (value, urgent) in [
            ("urgent", true),
            ("Emergency", true),
            ("normal", false),
            ("non-urgent", false),
        ] {
            assert_eq!(
                is_urgent(&headers(&[("Priority", value)])),
                urgent,
                "{value}"
            );
        }
        assert!(!is_urgent(&headers(&[])));
    }
}
