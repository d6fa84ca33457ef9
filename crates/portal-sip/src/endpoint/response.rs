//! Responses: where they go (RFC 3261 §18.2.2, RFC 3581), how they are built, and the readers of the request
//! headers and bodies that decide what we answer (Require, Accept, Content-Type, the SDP offer, INFO key
//! presses, P-Asserted-Identity). No state: plain functions the transaction and dialog code call.

use std::net::SocketAddr;

use rsip::Header;
use rsip::headers::{self, UntypedHeader};

use super::{ALLOWED_METHODS, Transport};
use crate::codec::{self, EchoHeaders, Request};
use crate::dtmf::{self, InfoDigit};
use crate::sdp::SessionDescription;
use crate::syntax::{NameAddr, host_ip, split_list};

/// Where responses to one request go (RFC 3261 §18.2.2, RFC 3581).
#[derive(Debug, Clone)]
pub(super) struct ReplyRoute {
    pub(super) to: SocketAddr,
    pub(super) transport: Transport,
}

/// The echo headers with the top Via stamped with `received`/`rport`, and the route for responses.
#[derive(Debug, Clone)]
pub(super) struct ResponseContext {
    pub(super) echo: EchoHeaders,
    pub(super) route: ReplyRoute,
}

/// Stamps the top Via and picks where responses go.
pub(super) fn response_context(
    mut echo: EchoHeaders,
    from: SocketAddr,
    transport: Transport,
) -> ResponseContext {
    let via = &mut echo.top_via;
    let wants_rport = via.param("rport").is_some();
    if wants_rport || host_ip(&via.host) != Some(from.ip()) {
        via.set_param("received", Some(from.ip().to_string()));
    }
    if wants_rport {
        via.set_param("rport", Some(from.port().to_string()));
    }
    let to = match transport {
        Transport::Tcp(_) => from,
        Transport::Udp if wants_rport => from,
        // RFC 3261 §18.2.2: the received address and the sent-by port.
        Transport::Udp => SocketAddr::new(from.ip(), via.port.unwrap_or(5060)),
    };
    echo.vias[0] = via.to_string();
    ResponseContext {
        echo,
        route: ReplyRoute { to, transport },
    }
}

/// A response echoing the request's Via, From, To (with `to_tag` added if it has none), Call-ID and CSeq.
pub(super) fn build_response(
    context: &ResponseContext,
    status: u16,
    to_tag: Option<&str>,
    extra: Vec<Header>,
    body: &[u8],
) -> Vec<u8> {
    let echo = &context.echo;
    let mut list: Vec<Header> = echo
        .vias
        .iter()
        .map(|via| Header::Via(headers::Via::new(via.clone())))
        .collect();
    // From, To and Call-ID are empty only when refusing a request that lacked them: left out then.
    if !echo.from.is_empty() {
        list.push(Header::From(headers::From::new(echo.from.clone())));
    }
    let to = match to_tag {
        Some(tag) if NameAddr::parse(&echo.to).is_ok_and(|to| to.tag().is_none()) => {
            format!("{};tag={tag}", echo.to)
        }
        _ => echo.to.clone(),
    };
    if !to.is_empty() {
        list.push(Header::To(headers::To::new(to)));
    }
    if !echo.call_id.is_empty() {
        list.push(Header::CallId(headers::CallId::new(echo.call_id.clone())));
    }
    list.push(Header::CSeq(headers::CSeq::new(echo.cseq.clone())));
    list.extend(extra);
    codec::encode_response(status, &list, body)
}

pub(super) fn allow_header() -> Header {
    Header::Allow(headers::Allow::new(ALLOWED_METHODS))
}

pub(super) fn options_headers() -> Vec<Header> {
    vec![
        allow_header(),
        Header::Accept(headers::Accept::new("application/sdp")),
    ]
}

/// Option tags in Require we do not support: we support none (RFC 3261 §8.2.2.3).
pub(super) fn unsupported_requirements(headers: &rsip::Headers) -> Vec<String> {
    headers
        .iter()
        .filter_map(|header| match header {
            Header::Require(require) => Some(
                require
                    .value()
                    .split(',')
                    .map(|tag| tag.trim().to_owned())
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .filter(|tag| !tag.is_empty())
        .collect()
}

/// Whether the request's Accept headers let our answer carry SDP, the only body an INVITE's responses carry
/// here. No Accept means application/sdp (RFC 3261 §20.1); a range with `q=0` excludes. An Accept without a
/// value is ignored rather than read as "nothing acceptable", to be liberal with phones sending it empty.
/// RFC 4475 §3.3.15 has an INVITE accepting only `text/nobodyKnowsThis` answered with 406.
pub(super) fn accepts_sdp(headers: &rsip::Headers) -> bool {
    let ranges: Vec<&str> = headers
        .iter()
        .filter_map(|header| match header {
            Header::Accept(accept) => Some(split_list(accept.value())),
            _ => None,
        })
        .flatten()
        .collect();
    ranges.is_empty()
        || ranges.iter().any(|range| {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let excluded = parts.any(|param| {
                param.split_once('=').is_some_and(|(name, value)| {
                    name.trim().eq_ignore_ascii_case("q")
                        && value.trim().parse::<f32>().is_ok_and(|q| q == 0.0)
                })
            });
            let matches = match media.split_once('/') {
                Some((kind, subtype)) => {
                    (kind.trim() == "*" || kind.trim() == "application")
                        && (subtype.trim() == "*" || subtype.trim() == "sdp")
                }
                None => false,
            };
            matches && !excluded
        })
}

fn content_type(headers: &rsip::Headers) -> Option<String> {
    headers.iter().find_map(|header| match header {
        Header::ContentType(kind) => Some(
            kind.value()
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase(),
        ),
        _ => None,
    })
}

/// The SDP offer of an INVITE, or the status refusing it.
pub(super) fn read_offer(
    request: &Request,
) -> Result<Option<SessionDescription>, (u16, Vec<Header>)> {
    if request.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if content_type(&request.headers).as_deref() != Some("application/sdp") {
        return Err((
            415,
            vec![Header::Accept(headers::Accept::new("application/sdp"))],
        ));
    }
    let text = std::str::from_utf8(&request.body).map_err(|_| (400, Vec::new()))?;
    SessionDescription::parse(text)
        .map(Some)
        .map_err(|_| (400, Vec::new()))
}

/// What an INFO request's body holds.
pub(super) enum InfoBody {
    Digit(InfoDigit),
    Empty,
    Unreadable,
    UnsupportedType,
}

pub(super) fn read_info(request: &Request) -> InfoBody {
    if request.body.iter().all(u8::is_ascii_whitespace) {
        return InfoBody::Empty;
    }
    let Ok(text) = std::str::from_utf8(&request.body) else {
        return InfoBody::Unreadable;
    };
    let press = match content_type(&request.headers).as_deref() {
        Some("application/dtmf-relay") => dtmf::parse_dtmf_relay(text),
        Some("application/dtmf") => dtmf::parse_dtmf(text),
        _ => return InfoBody::UnsupportedType,
    };
    press.map_or(InfoBody::Unreadable, InfoBody::Digit)
}

/// The user part of the first P-Asserted-Identity (RFC 3325), if the request has one.
pub(super) fn asserted_identity(headers: &rsip::Headers) -> Option<String> {
    headers.iter().find_map(|header| match header {
        Header::Other(name, value) if name.eq_ignore_ascii_case("P-Asserted-Identity") => {
            split_list(value)
                .first()
                .and_then(|first| NameAddr::parse(first).ok())
                .and_then(|identity| identity.uri.user)
        }
        _ => None,
    })
}
