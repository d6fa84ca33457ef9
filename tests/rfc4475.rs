//! RFC 4475 "SIP Torture Test Messages" against the portal's SIP endpoint.
//!
//! Every message of the RFC sits in `tests/rfc4475/<name>.dat`, byte for byte as on the wire (see the README
//! there). Each is fed to a fresh [`Endpoint`] as one UDP datagram and the outcome (what is transmitted, what
//! events come out) is compared with what the RFC's text says an element should do with it, for a UAS that is
//! no registrar and no proxy. Rows where the endpoint does something else are listed in [`KNOWN_GAPS`] with
//! what it does today, so the test fails both when a gap appears and when one is fixed without updating the
//! list.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use portal_sip::endpoint::{Config, ConnectionId, Endpoint, Event, Transmit, Transport};

/// What one datagram led to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// 100 Trying sent and an `IncomingCall` event raised: the INVITE reached the application.
    Call,
    /// Exactly one response with this status sent, and no event.
    Status(u16),
    /// Nothing sent, no event: consumed (a response) or dropped.
    Silent,
    /// Anything else, described.
    Other(String),
}

use Outcome::{Call, Silent, Status};

struct Row {
    name: &'static str,
    section: &'static str,
    /// What RFC 4475 asks for (or allows), for this UAS.
    expect: Outcome,
}

const fn row(name: &'static str, section: &'static str, expect: Outcome) -> Row {
    Row {
        name,
        section,
        expect,
    }
}

/// The table: every fixture, with the outcome RFC 4475 asks for. The comment on each row gives the RFC's
/// reason (quoted where the words are the RFC's, else summarised).
const TABLE: &[Row] = &[
    // ---- 3.1.1 Valid messages ---------------------------------------------------------------------------
    // "A Short Tortuous INVITE": valid; its To carries a tag (`tag = 1918181833n`) naming no dialog of ours,
    // so the UAS answers 481 (RFC 3261 §12.2.2).
    row("wsinv", "3.1.1.1", Status(481)),
    // "Wide Range of Valid Characters": a valid request with an unknown (extension) method: 501 (RFC 3261
    // §21.5.2: the UAS does not recognise the method). Its Request-URI's user part holds '?', ';' and '/', all
    // `user-unreserved` (RFC 3261 §25.1), and no parameter or header may hold an unescaped '@', so the '@'
    // after the '?' ends the userinfo.
    row("intmeth", "3.1.1.2", Status(501)),
    // "Valid Use of the % Escaping Mechanism": a valid INVITE; its SDP offers PCMU, so the call is offered.
    row("esc01", "3.1.1.3", Call),
    // "Escaped Nulls in URIs": a valid REGISTER; we are no registrar: 405.
    row("escnull", "3.1.1.4", Status(405)),
    // "Use of % When It Is Not an Escape": the method RE%47IST%45R "is unknown. It is NOT equivalent to
    // REGISTER": 501.
    row("esc02", "3.1.1.5", Status(501)),
    // "Message with No LWS between Display Name and <": a valid OPTIONS: 200.
    row("lwsdisp", "3.1.1.6", Status(200)),
    // "Long Values in Header Fields": a valid INVITE (PCMU offered): the call is offered.
    row("longreq", "3.1.1.7", Call),
    // "Extra Trailing Octets in a UDP Datagram": handle the REGISTER (405 here), discard the trailing INVITE.
    row("dblreq", "3.1.1.8", Status(405)),
    // "Semicolon-Separated Parameters in URI User Part": a valid OPTIONS: 200.
    row("semiuri", "3.1.1.9", Status(200)),
    // "Varied and Unknown Transport Types": a valid OPTIONS: 200.
    row("transports", "3.1.1.10", Status(200)),
    // "Multipart MIME Message": a valid MESSAGE; we do not implement MESSAGE: 405.
    row("mpart01", "3.1.1.11", Status(405)),
    // "Unusual Reason Phrase": a valid 200 response matching no transaction: absorbed silently.
    row("unreason", "3.1.1.12", Silent),
    // "Empty Reason Phrase": a valid 100 response matching no transaction: absorbed silently.
    row("noreason", "3.1.1.13", Silent),
    // ---- 3.1.2 Invalid messages -------------------------------------------------------------------------
    // `Via: SIP/2.0/UDP 192.0.2.15;;,;,,`: "This message is syntactically invalid. An element receiving this
    // request should respond with a 400 Bad Request error." The empty Via elements and parameters are refused
    // (the Contact's `;;;;` alone would be tolerated); the 400 echoes the readable top Via only.
    row("badinv01", "3.1.2.1", Status(400)),
    // Content-Length larger than the datagram: "When sent over UDP ... the receiving element should respond
    // with a 400 Bad Request error."
    row("clerr", "3.1.2.2", Status(400)),
    // Negative Content-Length: "An element receiving this message should respond with an error."
    row("ncl", "3.1.2.3", Status(400)),
    // Overlarge CSeq (and Max-Forwards, Expires): 400 "due to the CSeq error".
    row("scalar02", "3.1.2.4", Status(400)),
    // Response with overlarge scalars: "An element receiving this response will simply discard it."
    row("scalarlg", "3.1.2.5", Silent),
    // Unterminated quoted display name: 400.
    row("quotbal", "3.1.2.6", Status(400)),
    // "It is reasonable always to reject a request with this error with a 400 Bad Request."
    row("ltgtruri", "3.1.2.7", Status(400)),
    // LWS inside the Request-URI: the request line cannot be read: 400.
    row("lwsruri", "3.1.2.8", Status(400)),
    // Multiple SP in the request line: rejecting is acceptable, "an element that is liberal in what it
    // accepts may ignore these extra SP characters": we accept (PCMU offered).
    row("lwsstart", "3.1.2.9", Call),
    // SP at the end of the request line: rejecting is acceptable, a liberal element may ignore it: 200.
    row("trws", "3.1.2.10", Status(200)),
    // Escaped headers in the Request-URI: 400 is acceptable, an element "could choose to be liberal in what
    // it accepts and ignore the escaped headers": we accept.
    row("escruri", "3.1.2.11", Call),
    // Non-GMT Date: rejecting is acceptable but an element that does not use Date may ignore it: we accept.
    row("baddate", "3.1.2.12", Call),
    // Contact URI with an escaped header outside <>: malformed for a registrar; we are none and refuse the
    // method before inspecting headers (RFC 3261 §8.2.1 before §8.2.2): 405.
    row("regbadct", "3.1.2.13", Status(405)),
    // "It is reasonable to reject this request with a 400 Bad Request response. Elements attempting to be
    // liberal may ignore the spaces." We are liberal: 200.
    row("badaspec", "3.1.2.14", Status(200)),
    // "It is reasonable always to reject this kind of error with a 400 ... An element may attempt to be
    // liberal in what it receives and infer the missing quotes." We are liberal: 200.
    row("baddn", "3.1.2.15", Status(200)),
    // "The element should respond to the request with a 505 Version Not Supported error." The 505 is
    // addressed through the `SIP/7.0/UDP` Via, read whatever its version and echoed as written.
    row("badvers", "3.1.2.16", Status(505)),
    // CSeq method differs from the request method: 400.
    row("mismatch01", "3.1.2.17", Status(400)),
    // Unknown method with CSeq mismatch: "should respond with a 501 Not Implemented. A 400 Bad Request is
    // also acceptable."
    row("mismatch02", "3.1.2.18", Status(400)),
    // "This response has a response code larger than 699. An element receiving this response should simply
    // drop it."
    row("bigcode", "3.1.2.19", Silent),
    // ---- 3.2 Transaction layer semantics ----------------------------------------------------------------
    // Branch "z9hG4bK" with no identifier: "could reject the request with a 400 ... or it could fall back
    // to the RFC 2543-style transaction identifier." We fall back: 200 to the OPTIONS.
    row("badbranch", "3.2.1", Status(200)),
    // ---- 3.3 Application layer semantics ----------------------------------------------------------------
    // No Call-ID, From or To: "must not break ... Ideally, it will respond with a 400 Bad Request error."
    // The Via and CSeq address the 400 (which leaves out the missing headers).
    row("insuf", "3.3.1", Status(400)),
    // Unknown Request-URI scheme: 416 Unsupported URI Scheme.
    row("unkscm", "3.3.2", Status(416)),
    // Known but atypical scheme (soap.beep) we do not serve: 416.
    row("novelsc", "3.3.3", Status(416)),
    // Unknown schemes in To and From of a REGISTER: parse and go on; we are no registrar: 405.
    row("unksm2", "3.3.4", Status(405)),
    // Require and Proxy-Require with unknown option tags: a UAS answers 420 Bad Extension listing the
    // Require tags (see `bext01_lists_only_the_require_tags`).
    row("bext01", "3.3.5", Status(420)),
    // Body of unknown type: "An endpoint receiving this request would reject it with a 415 Unsupported Media
    // Type error."
    row("invut", "3.3.6", Status(415)),
    // Unknown Authorization scheme on a REGISTER: a registrar would challenge; we are no registrar: 405.
    row("regaut01", "3.3.7", Status(405)),
    // Two Call-IDs, CSeqs, Tos, Froms and Max-Forwards: "An element receiving this request would respond
    // with a 400 Bad Request error." Only single-valued headers count (RFC 3261 §7.3.1): repeated Via,
    // Route, Contact, Allow, Supported... lines stay valid.
    row("multi01", "3.3.8", Status(400)),
    // Two different Content-Lengths: respond with an error; on UDP discard the rest of the datagram: 400.
    row("mcl01", "3.3.9", Status(400)),
    // 200 OK whose second Via is the broadcast address: "An endpoint receiving this message should simply
    // discard it."
    row("bcast", "3.3.10", Silent),
    // Max-Forwards: 0 matters to proxies; an endpoint processes the OPTIONS: 200.
    row("zeromf", "3.3.11", Status(200)),
    // REGISTER with a Contact header parameter: registrar semantics; we are no registrar: 405.
    row("cparam01", "3.3.12", Status(405)),
    // REGISTER with a url-parameter in <>: registrar semantics; we are no registrar: 405.
    row("cparam02", "3.3.13", Status(405)),
    // REGISTER with an escaped header in the Contact URI: registrar semantics; we are no registrar: 405.
    row("regescrt", "3.3.14", Status(405)),
    // Accept without application/sdp on an INVITE: "could respond with a 406 Not Acceptable ... It is also
    // appropriate to respond with a 400 Bad Request". 406 is the RFC's first choice: our answers carry SDP
    // only (RFC 3261 §20.1: without Accept, application/sdp is assumed).
    row("sdp01", "3.3.15", Status(406)),
    // ---- 3.4 Backward compatibility ---------------------------------------------------------------------
    // RFC 2543 INVITE (no branch, no From tag): "should be accepted by RFC 3261 elements that want to
    // maintain backwards compatibility" (PCMU offered).
    row("inv2543", "3.4.1", Call),
];

/// Rows where the endpoint does not do what [`TABLE`] asks, with what it does instead. Each is asserted as
/// is: fixing one fails the test until it is removed from here.
const KNOWN_GAPS: &[(&str, Outcome)] = &[
    // None today. An entry reads `("name", <what the endpoint does instead>)`, with a comment saying why.
];

const LOCAL: &str = "192.0.2.1:5060";
const REMOTE: &str = "192.0.2.200:5060";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rfc4475")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_dir().join(format!("{name}.dat"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn status_of(transmit: &Transmit) -> Option<u16> {
    let line = transmit.bytes.split(|&b| b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    line.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

/// Feeds one datagram to a fresh endpoint and collects what it sent and raised.
fn feed(bytes: &[u8]) -> (Vec<Transmit>, Vec<Event>) {
    let mut endpoint = Endpoint::new(Config::new(LOCAL.parse().unwrap()));
    endpoint
        .handle_datagram(
            Instant::now(),
            REMOTE.parse().unwrap(),
            Transport::Udp,
            bytes,
        )
        .expect("a UDP datagram never fails framing");
    let transmits = std::iter::from_fn(|| endpoint.poll_transmit()).collect();
    let events = std::iter::from_fn(|| endpoint.poll_event()).collect();
    (transmits, events)
}

fn outcome(transmits: &[Transmit], events: &[Event]) -> Outcome {
    let statuses: Vec<Option<u16>> = transmits.iter().map(status_of).collect();
    match (statuses.as_slice(), events) {
        ([], []) => Outcome::Silent,
        ([Some(100)], [Event::IncomingCall(_)]) => Outcome::Call,
        ([Some(status)], []) => Outcome::Status(*status),
        _ => Outcome::Other(format!("sent {statuses:?}, events {events:?}")),
    }
}

#[test]
fn the_table_covers_exactly_the_fixtures() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "dat"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let in_table: BTreeSet<String> = TABLE.iter().map(|row| row.name.to_owned()).collect();
    assert_eq!(TABLE.len(), in_table.len(), "a name appears twice in TABLE");
    assert_eq!(on_disk, in_table, "fixtures on disk and TABLE rows differ");
    assert_eq!(in_table.len(), 49, "RFC 4475 has 49 messages");
    for (name, _) in KNOWN_GAPS {
        assert!(in_table.contains(*name), "gap {name} is not in TABLE");
    }
}

#[test]
fn every_fixture_gets_the_outcome_rfc_4475_asks_for() {
    let mut failures = Vec::new();
    for row in TABLE {
        let bytes = fixture(row.name);
        let observed = match catch_unwind(AssertUnwindSafe(|| feed(&bytes))) {
            Ok((transmits, events)) => outcome(&transmits, &events),
            Err(_) => {
                failures.push(format!("{} (§{}): panicked", row.name, row.section));
                continue;
            }
        };
        let gap = KNOWN_GAPS.iter().find(|(name, _)| *name == row.name);
        match gap {
            None if observed != row.expect => failures.push(format!(
                "{} (§{}): RFC 4475 asks for {:?}, got {observed:?}",
                row.name, row.section, row.expect
            )),
            Some((_, today)) if observed != *today => failures.push(format!(
                "{} (§{}): listed as a known gap behaving as {today:?}, got {observed:?} (RFC 4475 asks \
                 for {:?}); update KNOWN_GAPS",
                row.name, row.section, row.expect
            )),
            Some((_, today)) if *today == row.expect => failures.push(format!(
                "{} (§{}): a known gap whose behaviour equals the expectation",
                row.name, row.section
            )),
            _ => {}
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_fixture_survives_a_stream_too() {
    // Not the RFC's transport for most of these, but framing them must not panic either.
    for row in TABLE {
        let bytes = fixture(row.name);
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut endpoint = Endpoint::new(Config::new(LOCAL.parse().unwrap()));
            let transport = Transport::Tcp(ConnectionId(1));
            let _ = endpoint.handle_datagram(
                Instant::now(),
                REMOTE.parse().unwrap(),
                transport,
                &bytes,
            );
            while endpoint.poll_transmit().is_some() {}
            while endpoint.poll_event().is_some() {}
        }));
        assert!(result.is_ok(), "{} panicked on TCP", row.name);
    }
}

#[test]
fn bext01_lists_only_the_require_tags() {
    // A UAS reports the Require tags it lacks; Proxy-Require is for proxies (RFC 3261 §8.2.2.3).
    let (transmits, _) = feed(&fixture("bext01"));
    let response = String::from_utf8_lossy(&transmits[0].bytes).into_owned();
    let unsupported = response
        .lines()
        .find_map(|line| line.strip_prefix("Unsupported:"))
        .expect("420 carries Unsupported");
    let tags: BTreeSet<&str> = unsupported.split(',').map(str::trim).collect();
    assert_eq!(
        tags,
        BTreeSet::from(["nothingSupportsThis", "nothingSupportsThisEither"])
    );
}

#[test]
fn dblreq_answers_the_register_and_ignores_the_trailing_invite() {
    let (transmits, events) = feed(&fixture("dblreq"));
    assert_eq!(transmits.len(), 1);
    assert!(events.is_empty());
    let response = String::from_utf8_lossy(&transmits[0].bytes).into_owned();
    assert!(response.contains("\r\nCSeq: 8 REGISTER\r\n"), "{response}");
}
