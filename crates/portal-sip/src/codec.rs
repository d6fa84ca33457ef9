//! Framing, normalisation and parsing of SIP messages, and their serialisation.
//!
//! Our layer reads the start line and splits the header section (LF-only line ends, folded lines, whitespace
//! before the colon, compact names), applies the size limit and Content-Length, and then lets rsip map every
//! header line onto its [`rsip::Header`] enum. Outgoing messages are written with rsip's header printing.

use std::borrow::Cow;

use rsip::Header;
use rsip::prelude::UntypedHeader;

use crate::syntax::{
    Method, SipUri, UriError, Via, is_token_byte, split_list, via_value_is_well_formed,
};

/// Messages (header section and body) above this size are refused (RFC 3261 allows a UDP datagram up to
/// 65,535 bytes; anything bigger than this over TCP is not a call we want).
pub const MAX_MESSAGE_SIZE: usize = 64 * 1024;

/// A parsed request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub uri: SipUri,
    pub headers: rsip::Headers,
    pub body: Vec<u8>,
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: rsip::Headers,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone)]
pub enum Message {
    Request(Request),
    Response(Response),
}

impl Message {
    pub fn headers(&self) -> &rsip::Headers {
        match self {
            Message::Request(request) => &request.headers,
            Message::Response(response) => &response.headers,
        }
    }
}

/// Why a message could not be read, and the response that tells the sender so when one can be addressed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct DecodeError {
    pub kind: DecodeErrorKind,
    /// `Some` for a request (other than ACK) whose top Via and CSeq could be read: answer with this status.
    pub reply: Option<Box<ErrorReply>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    #[error("message larger than {MAX_MESSAGE_SIZE} bytes")]
    TooLarge,
    #[error("empty message")]
    Empty,
    #[error("malformed start line")]
    StartLine,
    #[error("unsupported SIP version")]
    Version,
    #[error("malformed header")]
    Header,
    #[error("missing or malformed mandatory header")]
    MandatoryHeader,
    #[error("malformed Content-Length")]
    ContentLength,
    #[error("body shorter than Content-Length")]
    TruncatedBody,
    #[error("malformed Request-URI")]
    RequestUri,
    #[error("unsupported Request-URI scheme")]
    UriScheme,
    #[error("single-valued header repeated")]
    DuplicateHeader,
}

/// The status to answer a broken request with and the headers a response must echo (RFC 3261 §8.2.6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    pub status: u16,
    pub echo: EchoHeaders,
}

/// The header values every response copies from its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoHeaders {
    /// All Via entries, topmost first; the first one parsed.
    pub vias: Vec<String>,
    pub top_via: Via,
    /// From, To and Call-ID are never empty in a parsed message; in an [`ErrorReply`] they are empty when the
    /// request lacked them, and the response then leaves them out.
    pub from: String,
    pub to: String,
    pub call_id: String,
    pub cseq: String,
}

impl EchoHeaders {
    /// Reads the echo headers of a parsed message.
    pub fn from_headers(headers: &rsip::Headers) -> Option<EchoHeaders> {
        let mut vias = Vec::new();
        let (mut from, mut to, mut call_id, mut cseq) = (None, None, None, None);
        for header in headers.iter() {
            match header {
                Header::Via(via) => {
                    vias.extend(split_list(via.value()).into_iter().map(str::to_owned))
                }
                Header::From(value) => from = from.or(Some(value.value())),
                Header::To(value) => to = to.or(Some(value.value())),
                Header::CallId(value) => call_id = call_id.or(Some(value.value())),
                Header::CSeq(value) => cseq = cseq.or(Some(value.value())),
                _ => {}
            }
        }
        let top_via = Via::parse(vias.first()?)?;
        let call_id = call_id.filter(|id| !id.is_empty())?;
        Some(EchoHeaders {
            vias,
            top_via,
            from: from?.to_owned(),
            to: to?.to_owned(),
            call_id: call_id.to_owned(),
            cseq: cseq?.to_owned(),
        })
    }
}

/// How the bytes arrived: a datagram holds one message; a stream message was cut by [`StreamFramer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Datagram,
    Stream,
}

/// Parses one UDP datagram.
pub fn decode_datagram(bytes: &[u8]) -> Result<Message, DecodeError> {
    decode(bytes, Framing::Datagram)
}

/// Full names of the compact forms (RFC 3261 §7.3.3 and later RFCs' registrations).
fn expand_compact_name(name: &str) -> Option<&'static str> {
    let [letter] = name.as_bytes() else {
        return None;
    };
    Some(match letter.to_ascii_lowercase() {
        b'i' => "Call-ID",
        b'm' => "Contact",
        b'f' => "From",
        b't' => "To",
        b'v' => "Via",
        b'l' => "Content-Length",
        b'c' => "Content-Type",
        b'k' => "Supported",
        b's' => "Subject",
        b'e' => "Content-Encoding",
        b'o' => "Event",
        b'r' => "Refer-To",
        b'u' => "Allow-Events",
        b'x' => "Session-Expires",
        b'a' => "Accept-Contact",
        b'b' => "Referred-By",
        b'd' => "Request-Disposition",
        b'j' => "Reject-Contact",
        b'y' => "Identity",
        b'n' => "Identity-Info",
        _ => return None,
    })
}

/// The header section cut into a start line and (name, value) pairs.
struct Head<'a> {
    start_line: &'a str,
    headers: Vec<(&'a str, Cow<'a, str>)>,
    /// Set when a line could not be read as a header; the message is then answered with 400.
    malformed: bool,
}

/// Finds the blank line ending the header section; returns (header section length, body offset).
/// Accepts CRLF and bare LF line ends.
fn find_head_end(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut index = 0;
    while let Some(offset) = bytes[index..].iter().position(|&b| b == b'\n') {
        let lf = index + offset;
        match bytes.get(lf + 1) {
            Some(b'\n') => return Some((lf, lf + 2)),
            Some(b'\r') if bytes.get(lf + 2) == Some(&b'\n') => return Some((lf, lf + 3)),
            _ => index = lf + 1,
        }
    }
    None
}

fn skip_leading_line_ends(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(bytes.len());
    &bytes[start..]
}

fn split_head(text: &str) -> Head<'_> {
    let mut lines = text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line));
    let start_line = lines.next().unwrap_or("");
    let mut headers: Vec<(&str, Cow<'_, str>)> = Vec::new();
    let mut malformed = false;
    for line in lines {
        if line.starts_with([' ', '\t']) {
            // A folded continuation line: joined to the previous value with one space (RFC 3261 §7.3.1).
            match headers.last_mut() {
                Some((_, value)) => {
                    let continuation = line.trim();
                    if !continuation.is_empty() {
                        let joined = value.to_mut();
                        if !joined.is_empty() {
                            joined.push(' ');
                        }
                        joined.push_str(continuation);
                    }
                }
                None => malformed = true,
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            malformed = true;
            continue;
        };
        let name = name.trim_end_matches([' ', '\t']);
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            malformed = true;
            continue;
        }
        let name = expand_compact_name(name).unwrap_or(name);
        headers.push((name, Cow::Borrowed(value.trim_matches([' ', '\t']))));
    }
    Head {
        start_line,
        headers,
        malformed,
    }
}

enum StartLine<'a> {
    Request {
        method: &'a str,
        uri: &'a str,
        version: &'a str,
    },
    Response {
        version: &'a str,
        status: u16,
        reason: &'a str,
    },
}

fn parse_start_line(line: &str) -> Option<StartLine<'_>> {
    if line
        .get(..4)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("SIP/"))
    {
        let mut parts = line.splitn(3, ' ');
        let version = parts.next()?;
        let status = parts.next()?;
        if status.len() != 3 {
            return None;
        }
        let status: u16 = status
            .parse()
            .ok()
            .filter(|code| (100..700).contains(code))?;
        Some(StartLine::Response {
            version,
            status,
            reason: parts.next().unwrap_or("").trim(),
        })
    } else {
        // Tolerate runs of whitespace between the three parts; the URI holds none.
        let mut parts = line.split_ascii_whitespace();
        let (method, uri, version) = (parts.next()?, parts.next()?, parts.next()?);
        parts.next().is_none().then_some(StartLine::Request {
            method,
            uri,
            version,
        })
    }
}

/// `Some(true)` for SIP/2.0, `Some(false)` for another well-formed SIP version.
fn check_version(version: &str) -> Option<bool> {
    let numbers = version
        .get(..4)
        .filter(|prefix| prefix.eq_ignore_ascii_case("SIP/"))
        .map(|_| &version[4..])?;
    let (major, minor) = numbers.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(major) && digits(minor))
        .then(|| major.trim_start_matches('0') == "2" && minor.trim_start_matches('0').is_empty())
}

/// The echo headers of a request being refused, read leniently: the top Via may carry another SIP version
/// (to address a 505) and From, To and Call-ID may be missing (RFC 4475 §3.3.1 asks for a 400 then). The top
/// Via and a readable CSeq are needed: without them the sender could not match the response to its request.
/// Via entries below the top that cannot be read at all are left out.
fn echo_from_pairs(headers: &[(&str, Cow<'_, str>)]) -> Option<EchoHeaders> {
    let find = |wanted: &str| {
        headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map_or("", |(_, value)| value.as_ref())
    };
    let mut vias = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("Via"))
        .flat_map(|(_, value)| split_list(value));
    let top = vias.next()?;
    let top_via = Via::parse_any_version(top)?;
    let vias: Vec<String> = std::iter::once(top)
        .chain(vias.filter(|via| Via::parse_any_version(via).is_some()))
        .map(str::to_owned)
        .collect();
    let cseq = find("CSeq");
    crate::syntax::parse_cseq(cseq)?;
    Some(EchoHeaders {
        vias,
        top_via,
        from: find("From").to_owned(),
        to: find("To").to_owned(),
        call_id: find("Call-ID").to_owned(),
        cseq: cseq.to_owned(),
    })
}

/// Headers a request may carry once only (RFC 3261 §7.3.1: only headers defined as comma-separated lists may
/// repeat; these are single-valued). RFC 4475 §3.3.8 has a request repeating them answered with 400.
const SINGLE_VALUED: &[&str] = &[
    "To",
    "From",
    "Call-ID",
    "CSeq",
    "Max-Forwards",
    "Content-Length",
    "Content-Type",
];

fn has_repeated_single_valued_header(headers: &[(&str, Cow<'_, str>)]) -> bool {
    SINGLE_VALUED.iter().any(|wanted| {
        headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .count()
            > 1
    })
}

fn content_length(headers: &[(&str, Cow<'_, str>)]) -> Result<Option<usize>, DecodeErrorKind> {
    let mut found = None;
    for (_, value) in headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("Content-Length"))
    {
        let length: usize = value.parse().map_err(|_| DecodeErrorKind::ContentLength)?;
        if found.is_some_and(|previous| previous != length) {
            return Err(DecodeErrorKind::ContentLength);
        }
        found = Some(length);
    }
    Ok(found)
}

fn decode(bytes: &[u8], framing: Framing) -> Result<Message, DecodeError> {
    let drop = |kind| DecodeError { kind, reply: None };
    if bytes.len() > MAX_MESSAGE_SIZE {
        return Err(drop(DecodeErrorKind::TooLarge));
    }
    let bytes = skip_leading_line_ends(bytes);
    if bytes.is_empty() {
        return Err(drop(DecodeErrorKind::Empty));
    }
    // A datagram without the blank line is read as headers only.
    let (head_len, body_start) = find_head_end(bytes).unwrap_or((bytes.len(), bytes.len()));
    let head_text = String::from_utf8_lossy(&bytes[..head_len]);
    let not_utf8 = matches!(head_text, Cow::Owned(_));
    let head = split_head(&head_text);
    let start = parse_start_line(head.start_line);
    let is_request =
        !matches!(start, Some(StartLine::Response { .. })) && !head.start_line.starts_with("SIP/");
    // An ACK is never answered (RFC 3261 §17.2.1, §17.2.3), however broken.
    let is_ack = matches!(start, Some(StartLine::Request { method: "ACK", .. }));
    // Refusals of requests are answered when the echo headers can be read.
    let refuse = |kind, status| DecodeError {
        kind,
        reply: if is_request && !is_ack {
            echo_from_pairs(&head.headers).map(|echo| Box::new(ErrorReply { status, echo }))
        } else {
            None
        },
    };
    let Some(start) = start else {
        return Err(refuse(DecodeErrorKind::StartLine, 400));
    };
    let version = match &start {
        StartLine::Request { version, .. } | StartLine::Response { version, .. } => version,
    };
    match check_version(version) {
        Some(true) => {}
        Some(false) => return Err(refuse(DecodeErrorKind::Version, 505)),
        None => return Err(refuse(DecodeErrorKind::StartLine, 400)),
    }
    if head.malformed || not_utf8 {
        return Err(refuse(DecodeErrorKind::Header, 400));
    }
    if is_request
        && head.headers.iter().any(|(name, value)| {
            name.eq_ignore_ascii_case("Via") && !via_value_is_well_formed(value)
        })
    {
        // Empty Via elements or parameters (RFC 4475 §3.1.2.1): syntactically invalid, 400.
        return Err(refuse(DecodeErrorKind::Header, 400));
    }
    let available = &bytes[body_start..];
    let body = match (content_length(&head.headers), framing) {
        (Err(kind), _) => return Err(refuse(kind, 400)),
        (Ok(Some(length)), _) if length > available.len() => {
            return Err(refuse(DecodeErrorKind::TruncatedBody, 400));
        }
        (Ok(Some(length)), _) => &available[..length],
        (Ok(None), Framing::Datagram) => available,
        (Ok(None), Framing::Stream) => return Err(refuse(DecodeErrorKind::ContentLength, 400)),
    };
    if is_request && has_repeated_single_valued_header(&head.headers) {
        return Err(refuse(DecodeErrorKind::DuplicateHeader, 400));
    }
    let mut headers = rsip::Headers::default();
    for (name, value) in &head.headers {
        let tokenizer = rsip::headers::header::Tokenizer {
            name: name.as_bytes(),
            value: value.as_bytes(),
        };
        let header: Header = tokenizer
            .try_into()
            .map_err(|_| refuse(DecodeErrorKind::Header, 400))?;
        headers.push(header);
    }
    if EchoHeaders::from_headers(&headers).is_none() {
        return Err(refuse(DecodeErrorKind::MandatoryHeader, 400));
    }
    match start {
        StartLine::Request { method, uri, .. } => {
            let method =
                Method::parse(method).ok_or_else(|| refuse(DecodeErrorKind::StartLine, 400))?;
            let uri = SipUri::parse(uri).map_err(|error| match error {
                UriError::UnsupportedScheme => refuse(DecodeErrorKind::UriScheme, 416),
                UriError::Malformed => refuse(DecodeErrorKind::RequestUri, 400),
            })?;
            Ok(Message::Request(Request {
                method,
                uri,
                headers,
                body: body.to_vec(),
            }))
        }
        StartLine::Response { status, reason, .. } => Ok(Message::Response(Response {
            status,
            reason: reason.to_owned(),
            headers,
            body: body.to_vec(),
        })),
    }
}

/// Cuts a TCP byte stream into messages by Content-Length, skipping CRLF keep-alives (RFC 5626 §3.5.1).
#[derive(Debug, Default)]
pub struct StreamFramer {
    buffer: Vec<u8>,
    /// RFC 5626 double-CRLF pings skipped and not yet reported by [`StreamFramer::take_pings`].
    pings: usize,
}

/// What the framer found next.
#[derive(Debug)]
pub enum Framed {
    Message(Message),
    /// A complete but unreadable message; the stream stays usable.
    Invalid(DecodeError),
}

/// The stream can no longer be framed; the connection should be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("message on a stream without Content-Length")]
    MissingContentLength,
    #[error("malformed Content-Length on a stream")]
    BadContentLength,
    #[error("message larger than {MAX_MESSAGE_SIZE} bytes")]
    TooLarge,
}

impl StreamFramer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Bytes held waiting for the rest of a message.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// How many keep-alive pings (a double CRLF between messages, RFC 5626 §3.5.1) were skipped since the
    /// last call: each is answered with a CRLF pong.
    pub fn take_pings(&mut self) -> usize {
        std::mem::take(&mut self.pings)
    }

    /// The 513 a request too large for the stream is answered with, when its head is complete and readable.
    pub fn oversized_reply(&self) -> Option<ErrorReply> {
        let (head_len, _) = find_head_end(&self.buffer)?;
        let head_text = String::from_utf8_lossy(&self.buffer[..head_len]);
        let head = split_head(&head_text);
        let is_request =
            !head.start_line.starts_with("SIP/") && !head.start_line.starts_with("ACK ");
        if !is_request {
            return None;
        }
        Some(ErrorReply {
            status: 513,
            echo: echo_from_pairs(&head.headers)?,
        })
    }

    /// The next complete message, `Ok(None)` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Framed>, FramingError> {
        let keep_alive = self
            .buffer
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(self.buffer.len());
        self.pings += self.buffer[..keep_alive]
            .windows(4)
            .filter(|window| window == b"\r\n\r\n")
            .count()
            .min(1);
        self.buffer.drain(..keep_alive);
        if self.buffer.is_empty() {
            return Ok(None);
        }
        let Some((head_len, body_start)) = find_head_end(&self.buffer) else {
            return if self.buffer.len() > MAX_MESSAGE_SIZE {
                Err(FramingError::TooLarge)
            } else {
                Ok(None)
            };
        };
        let head_text = String::from_utf8_lossy(&self.buffer[..head_len]);
        let head = split_head(&head_text);
        let length = match content_length(&head.headers) {
            Ok(Some(length)) => length,
            Ok(None) => return Err(FramingError::MissingContentLength),
            Err(_) => return Err(FramingError::BadContentLength),
        };
        let total = body_start
            .checked_add(length)
            .ok_or(FramingError::TooLarge)?;
        if total > MAX_MESSAGE_SIZE {
            return Err(FramingError::TooLarge);
        }
        if self.buffer.len() < total {
            return Ok(None);
        }
        let decoded = decode(&self.buffer[..total], Framing::Stream);
        self.buffer.drain(..total);
        Ok(Some(match decoded {
            Ok(message) => Framed::Message(message),
            Err(error) => Framed::Invalid(error),
        }))
    }
}

/// The reason phrase we send with a status code (rsip prints its enum variant names, e.g. `BusyHere`).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => match status / 100 {
            1 => "Session Progress",
            2 => "OK",
            3 => "Redirect",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}

/// Writes a message: start line, headers as rsip prints them, Content-Length, body.
fn encode(start_line: std::fmt::Arguments<'_>, headers: &[Header], body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::with_capacity(512 + body.len());
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{start_line}\r\n");
    for header in headers {
        let _ = write!(out, "{header}\r\n");
    }
    let _ = write!(out, "Content-Length: {}\r\n\r\n", body.len());
    out.extend_from_slice(body);
    out
}

pub fn encode_response(status: u16, headers: &[Header], body: &[u8]) -> Vec<u8> {
    encode(
        format_args!("SIP/2.0 {status} {}", reason_phrase(status)),
        headers,
        body,
    )
}

pub fn encode_request(method: &Method, uri: &str, headers: &[Header], body: &[u8]) -> Vec<u8> {
    encode(format_args!("{method} {uri} SIP/2.0"), headers, body)
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
