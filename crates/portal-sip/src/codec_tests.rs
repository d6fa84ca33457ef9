//! Test vectors in the spirit of RFC 4475's torture tests, written for this crate.

use super::*;
use rsip::prelude::UntypedHeader;

fn request(bytes: &str) -> Request {
    match decode_datagram(bytes.as_bytes()) {
        Ok(Message::Request(request)) => request,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn call_id(headers: &rsip::Headers) -> Option<&str> {
    headers.iter().find_map(|header| match header {
        Header::CallId(id) => Some(id.value()),
        _ => None,
    })
}

const BASIC: &str = "OPTIONS sip:portal@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbasic\r\n\
From: <sip:a@example.com>;tag=1\r\n\
To: <sip:portal@example.com>\r\n\
Call-ID: basic@192.0.2.1\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n";

#[test]
fn a_plain_request() {
    let parsed = request(BASIC);
    assert_eq!(parsed.method, Method::Options);
    assert_eq!(parsed.uri.user.as_deref(), Some("portal"));
    assert_eq!(call_id(&parsed.headers), Some("basic@192.0.2.1"));
    assert!(parsed.body.is_empty());
}

#[test]
fn line_folding_whitespace_and_odd_case() {
    // Folded values, tabs, whitespace before colons, lower-case names, runs of spaces in the request line.
    let text = "INVITE   sip:vivekg@chair-dnrc.example.com;unknownparam   SIP/2.0\r\n\
TO :\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n\
from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8\r\n\
MaX-fOrWaRdS: 0068\r\n\
Call-ID: wsinv.ndaksdj@192.0.2.1\r\n\
cseq: 0009\r\n  INVITE\r\n\
Via  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=z9hG4bK390skdjuw\r\n\
s :\r\n\
NewFangledHeader:   newfangled value\r\n continued newfangled value\r\n\
v:  SIP/2.0/TCP t1.example.com;branch=z9hG4bKanother\r\n\
m:\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33\r\n\
Content-Length: 0\r\n\r\n";
    let parsed = request(text);
    assert_eq!(parsed.method, Method::Invite);
    let echo = EchoHeaders::from_headers(&parsed.headers).unwrap();
    assert_eq!(echo.vias.len(), 2);
    assert_eq!(echo.top_via.branch(), Some("z9hG4bK390skdjuw"));
    assert_eq!(echo.top_via.host, "192.0.2.2");
    assert_eq!(
        crate::syntax::parse_cseq(&echo.cseq),
        Some((9, Method::Invite))
    );
    let from = crate::syntax::NameAddr::parse(&echo.from).unwrap();
    assert_eq!(from.tag(), Some("98asjd8"));
    assert_eq!(from.display.as_deref(), Some("J Rosenberg \\\""));
    let to = crate::syntax::NameAddr::parse(&echo.to).unwrap();
    assert_eq!(to.tag(), Some("1918181833n"));
    let other = parsed.headers.iter().find_map(|h| match h {
        Header::Other(name, value) if name == "NewFangledHeader" => Some(value.clone()),
        _ => None,
    });
    assert_eq!(
        other.as_deref(),
        Some("newfangled value continued newfangled value")
    );
}

#[test]
fn every_compact_form_is_expanded() {
    let text = "MESSAGE sip:portal@example.com SIP/2.0\r\n\
v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKc\r\nf: <sip:a@example.com>;tag=1\r\nt: <sip:portal@example.com>\r\n\
i: compact@h\r\nCSeq: 2 MESSAGE\r\nm: <sip:a@192.0.2.1>\r\nc: text/plain\r\nk: path\r\ns: hi\r\ne: gzip\r\n\
o: dialog\r\nr: <sip:x@h>\r\nu: dialog\r\nx: 1800\r\na: *;audio\r\nb: <sip:y@h>\r\nd: proxy\r\nj: *;video\r\n\
y: abc\r\nn: <https://h/c>\r\nl: 2\r\n\r\nhi";
    let parsed = request(text);
    let names: Vec<String> = parsed
        .headers
        .iter()
        .map(|h| {
            h.to_string()
                .split(':')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    for expected in [
        "Via",
        "From",
        "To",
        "Call-ID",
        "Contact",
        "Content-Type",
        "Supported",
        "Subject",
        "Content-Encoding",
        "Event",
        "Refer-To",
        "Allow-Events",
        "Session-Expires",
        "Accept-Contact",
        "Referred-By",
        "Request-Disposition",
        "Reject-Contact",
        "Identity",
        "Identity-Info",
        "Content-Length",
    ] {
        assert!(
            names.iter().any(|name| name.eq_ignore_ascii_case(expected)),
            "{expected} missing from {names:?}"
        );
    }
    assert_eq!(parsed.body, b"hi");
}

#[test]
fn bare_line_feeds_are_accepted() {
    let parsed = request(&BASIC.replace("\r\n", "\n"));
    assert_eq!(call_id(&parsed.headers), Some("basic@192.0.2.1"));
}

#[test]
fn leading_blank_lines_are_skipped() {
    request(&format!("\r\n\r\n{BASIC}"));
}

#[test]
fn escaped_and_unusual_uris() {
    let text = BASIC.replace(
        "OPTIONS sip:portal@example.com",
        "OPTIONS sip:%70ortal;par=u%40example.net@example.com;transport=udp?subject=x",
    );
    let parsed = request(&text);
    assert_eq!(parsed.uri.user.as_deref(), Some("portal;par=u@example.net"));
    let text = BASIC.replace(
        "OPTIONS sip:portal@example.com",
        "OPTIONS tel:+1-201-555-0123",
    );
    assert_eq!(request(&text).uri.user.as_deref(), Some("+1-201-555-0123"));
}

#[test]
fn ipv6_references() {
    let text = BASIC
        .replace(
            "sip:portal@example.com SIP",
            "sip:portal@[2001:db8::10]:5070 SIP",
        )
        .replace(
            "192.0.2.1:5060",
            "[2001:db8::9:1]:5060;received=[2001:db8::9:255]",
        );
    let parsed = request(&text);
    assert_eq!(parsed.uri.host, "[2001:db8::10]");
    let echo = EchoHeaders::from_headers(&parsed.headers).unwrap();
    assert_eq!(echo.top_via.host, "[2001:db8::9:1]");
    // A reference without brackets in the Request-URI is not an IPv6 host.
    let bad = BASIC.replace("sip:portal@example.com SIP", "sip:portal@2001:db8::10 SIP");
    assert_eq!(
        decode_datagram(bad.as_bytes()).unwrap_err().kind,
        DecodeErrorKind::RequestUri
    );
}

#[test]
fn many_methods() {
    for method in [
        "INVITE",
        "ACK",
        "BYE",
        "CANCEL",
        "REGISTER",
        "PRACK",
        "UPDATE",
        "SUBSCRIBE",
        "NOTIFY",
        "REFER",
        "MESSAGE",
        "PUBLISH",
        "INFO",
        "!interesting-Method0123456789_*+`.%indeed'~",
    ] {
        let text = BASIC.replace("OPTIONS", method);
        assert_eq!(request(&text).method.as_str(), method);
    }
}

#[test]
fn content_length_decides_the_body_on_udp() {
    let with_body = BASIC.replace("Content-Length: 0", "Content-Length: 3");
    assert_eq!(request(&format!("{with_body}abcdef")).body, b"abc");
    let error = decode_datagram(format!("{with_body}ab").as_bytes()).unwrap_err();
    assert_eq!(error.kind, DecodeErrorKind::TruncatedBody);
    assert_eq!(error.reply.map(|r| r.status), Some(400));
    let no_length = BASIC.replace("Content-Length: 0\r\n", "");
    assert_eq!(
        request(&format!("{no_length}rest of datagram")).body,
        b"rest of datagram"
    );
    let conflicting = BASIC.replace("Content-Length: 0\r\n", "Content-Length: 0\r\nl: 5\r\n");
    assert_eq!(
        decode_datagram(conflicting.as_bytes()).unwrap_err().kind,
        DecodeErrorKind::ContentLength
    );
    let negative = BASIC.replace("Content-Length: 0", "Content-Length: -1");
    assert_eq!(
        decode_datagram(negative.as_bytes())
            .unwrap_err()
            .reply
            .map(|r| r.status),
        Some(400)
    );
}

#[test]
fn truncated_responses_are_dropped_silently() {
    let response = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKr\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: r\r\nCSeq: 1 BYE\r\nContent-Length: 10\r\n\r\nabc";
    let error = decode_datagram(response.as_bytes()).unwrap_err();
    assert_eq!(error.kind, DecodeErrorKind::TruncatedBody);
    assert_eq!(error.reply, None);
}

#[test]
fn versions() {
    let error =
        decode_datagram(BASIC.replace("SIP/2.0\r\nVia", "SIP/7.0\r\nVia").as_bytes()).unwrap_err();
    assert_eq!(error.kind, DecodeErrorKind::Version);
    assert_eq!(error.reply.map(|r| r.status), Some(505));
    request(&BASIC.replace("SIP/2.0\r\nVia", "sip/2.0\r\nVia"));
    let error =
        decode_datagram(BASIC.replace("SIP/2.0\r\nVia", "SIP/2\r\nVia").as_bytes()).unwrap_err();
    assert_eq!(error.reply.map(|r| r.status), Some(400));
}

#[test]
fn requests_we_cannot_address_are_dropped() {
    // Without the top Via or a CSeq the sender could not match a response to its request.
    for missing in [
        "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbasic\r\n",
        "CSeq: 1 OPTIONS\r\n",
    ] {
        let text = BASIC
            .replace(missing, "")
            .replace("Content-Length: 0", "Bad Header Line");
        let error = decode_datagram(text.as_bytes()).unwrap_err();
        assert_eq!(error.reply, None, "without {missing:?}");
    }
    let broken_header = BASIC.replace("Content-Length: 0\r\n", "this line has no colon\r\n");
    assert_eq!(
        decode_datagram(broken_header.as_bytes())
            .unwrap_err()
            .reply
            .map(|r| r.status),
        Some(400)
    );
}

#[test]
fn size_limit() {
    let big = format!(
        "{}{}",
        BASIC.replace(
            "Content-Length: 0",
            &format!("Content-Length: {MAX_MESSAGE_SIZE}")
        ),
        "x".repeat(MAX_MESSAGE_SIZE)
    );
    assert_eq!(
        decode_datagram(big.as_bytes()).unwrap_err().kind,
        DecodeErrorKind::TooLarge
    );
    let mut framer = StreamFramer::new();
    framer.push(big.as_bytes());
    assert_eq!(framer.next_message().unwrap_err(), FramingError::TooLarge);
}

#[test]
fn stream_framer_cuts_by_content_length_and_skips_keep_alives() {
    let with_body = BASIC.replace("Content-Length: 0", "Content-Length: 5");
    let stream = format!("\r\n\r\n{with_body}hello\r\n{BASIC}{with_body}he");
    let mut framer = StreamFramer::new();
    let mut found = Vec::new();
    for chunk in stream.as_bytes().chunks(7) {
        framer.push(chunk);
        while let Some(framed) = framer.next_message().unwrap() {
            match framed {
                Framed::Message(Message::Request(request)) => found.push(request.body),
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(found, [b"hello".to_vec(), Vec::new()]);
    assert!(framer.buffered() > 0);
    framer.push(b"llo");
    let Some(Framed::Message(Message::Request(last))) = framer.next_message().unwrap() else {
        panic!()
    };
    assert_eq!(last.body, b"hello");
}

#[test]
fn stream_without_content_length_is_an_error() {
    let mut framer = StreamFramer::new();
    framer.push(BASIC.replace("Content-Length: 0\r\n", "").as_bytes());
    assert_eq!(
        framer.next_message().unwrap_err(),
        FramingError::MissingContentLength
    );
}

#[test]
fn encoding_writes_content_length() {
    let headers = [Header::CallId(rsip::headers::CallId::new("x"))];
    let bytes = encode_response(486, &headers, b"");
    assert_eq!(
        bytes,
        b"SIP/2.0 486 Busy Here\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n"
    );
    let bytes = encode_request(&Method::Bye, "sip:[::1]:5060", &headers, b"ab");
    assert_eq!(
        bytes,
        b"BYE sip:[::1]:5060 SIP/2.0\r\nCall-ID: x\r\nContent-Length: 2\r\n\r\nab"
    );
}

#[test]
fn requests_without_from_to_or_call_id_get_400_without_them() {
    // RFC 4475 §3.3.1 (insuf): "Ideally, it will respond with a 400 Bad Request error."
    let text = BASIC
        .replace("From: <sip:a@example.com>;tag=1\r\n", "")
        .replace("To: <sip:portal@example.com>\r\n", "")
        .replace("Call-ID: basic@192.0.2.1\r\n", "");
    let error = decode_datagram(text.as_bytes()).unwrap_err();
    assert_eq!(error.kind, DecodeErrorKind::MandatoryHeader);
    let reply = error.reply.expect("Via and CSeq address a 400");
    assert_eq!(reply.status, 400);
    assert_eq!(
        (
            reply.echo.from.as_str(),
            reply.echo.to.as_str(),
            reply.echo.call_id.as_str()
        ),
        ("", "", "")
    );
    assert_eq!(reply.echo.cseq, "1 OPTIONS");
    assert_eq!(reply.echo.top_via.branch(), Some("z9hG4bKbasic"));
}

#[test]
fn a_broken_ack_is_never_answered() {
    let ack = BASIC.replace("OPTIONS", "ACK");
    for broken in [
        ack.replace("Call-ID: basic@192.0.2.1\r\n", ""),
        ack.replace("SIP/2.0\r\nVia", "SIP/3.0\r\nVia"),
        ack.replace("Content-Length: 0", "Content-Length: 0\r\nCSeq: 2 ACK"),
        ack.replace("Content-Length: 0", "Content-Length: 9"),
    ] {
        let error = decode_datagram(broken.as_bytes()).unwrap_err();
        assert_eq!(error.reply, None, "{:?}", error.kind);
    }
}

#[test]
fn another_version_is_answered_505_through_its_via() {
    // RFC 4475 §3.1.2.16 (badvers): SIP/7.0 in the request line and in the Via; the Via is read whatever its
    // version to address the 505, and echoed as written.
    let text = BASIC.replace("SIP/2.0", "SIP/7.0");
    let error = decode_datagram(text.as_bytes()).unwrap_err();
    assert_eq!(error.kind, DecodeErrorKind::Version);
    let reply = error.reply.expect("505 addressed through the Via");
    assert_eq!(reply.status, 505);
    assert_eq!(reply.echo.top_via.version, "7.0");
    assert_eq!(reply.echo.top_via.port, Some(5060));
    assert_eq!(
        reply.echo.top_via.to_string(),
        "SIP/7.0/UDP 192.0.2.1:5060;branch=z9hG4bKbasic"
    );
}

#[test]
fn repeated_single_valued_headers_are_refused() {
    // RFC 4475 §3.3.8 (multi01): "An element receiving this request would respond with a 400 Bad Request".
    for repeated in [
        "To: <sip:other@example.net>",
        "f: <sip:b@example.net>;tag=2",
        "i: other@192.0.2.2",
        "CSeq: 59 OPTIONS",
        "Max-Forwards: 70\r\nMax-Forwards: 5",
        "Content-Type: application/sdp\r\nc: application/sdp",
        "l: 0",
    ] {
        let text = BASIC.replace(
            "Content-Length: 0\r\n",
            &format!("Content-Length: 0\r\n{repeated}\r\n"),
        );
        let error = decode_datagram(text.as_bytes()).unwrap_err();
        assert_eq!(error.kind, DecodeErrorKind::DuplicateHeader, "{repeated}");
        assert_eq!(error.reply.map(|r| r.status), Some(400), "{repeated}");
    }
}

#[test]
fn headers_that_may_repeat_do_not_make_a_request_invalid() {
    // RFC 3261 §7.3.1: list headers may come as several lines; real phones and proxies do so.
    let repeated = "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp2\r\n\
Route: <sip:p1.example.com;lr>\r\nRoute: <sip:p2.example.com;lr>\r\n\
Record-Route: <sip:p1.example.com;lr>\r\nRecord-Route: <sip:p2.example.com;lr>\r\n\
Contact: <sip:a@192.0.2.1>\r\nm: <sip:a@192.0.2.2>\r\n\
Allow: INVITE, ACK\r\nAllow: BYE\r\nSupported: timer\r\nk: replaces\r\n\
Require: \r\nRequire: \r\nAccept: application/sdp\r\nAccept: application/dtmf-relay\r\n\
P-Asserted-Identity: <sip:a@example.com>\r\nP-Asserted-Identity: <tel:+15550100>\r\n";
    let text = BASIC.replace(
        "Content-Length: 0\r\n",
        &format!("{repeated}Content-Length: 0\r\n"),
    );
    let parsed = request(&text);
    let echo = EchoHeaders::from_headers(&parsed.headers).unwrap();
    assert_eq!(echo.vias.len(), 2);
    // Responses are not held to it: a duplicated header in an answer to our BYE is no reason to drop it.
    let response = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKr\r\nFrom: <sip:a@h>;tag=1\r\n\
To: <sip:b@h>;tag=2\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: r\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n";
    assert!(matches!(
        decode_datagram(response.as_bytes()),
        Ok(Message::Response(_))
    ));
}

#[test]
fn empty_via_elements_and_parameters_are_refused() {
    // RFC 4475 §3.1.2.1 (badinv01): `Via: SIP/2.0/UDP 192.0.2.15;;,;,,` is syntactically invalid: 400. The
    // response echoes the readable top Via, not the garbage after it.
    for via in [
        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbasic;;,;,,",
        "SIP/2.0/UDP 192.0.2.1:5060;;branch=z9hG4bKbasic",
        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbasic,,SIP/2.0/UDP h",
        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbasic, ;received=1.2.3.4",
        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbasic;=x",
    ] {
        let text = BASIC.replace("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbasic", via);
        let error = decode_datagram(text.as_bytes()).unwrap_err();
        assert_eq!(error.kind, DecodeErrorKind::Header, "{via}");
        let reply = error.reply.expect("the top Via is readable");
        assert_eq!(reply.status, 400);
        assert!(
            reply.echo.vias.iter().all(|v| v.starts_with("SIP/")),
            "{via}: {:?}",
            reply.echo.vias
        );
    }
    // A single `;` ending an entry is tolerated.
    request(&BASIC.replace("z9hG4bKbasic", "z9hG4bKbasic;"));
}
