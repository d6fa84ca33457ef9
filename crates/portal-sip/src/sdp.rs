//! A small SDP (RFC 4566) reader and writer for audio, and the offer/answer rules (RFC 3264) the portal needs:
//! G.711 (PCMU, PCMA) in the offerer's order of preference plus telephone-event (RFC 4733) at whatever payload
//! type the offer uses.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// A session description. Lines we do not model are kept in `other_lines` so nothing is silently lost when
/// the parsed value is printed again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    pub origin: Origin,
    pub session_name: String,
    /// Session-level `c=`.
    pub connection: Option<IpAddr>,
    pub timing: (u64, u64),
    /// Session-level direction attribute.
    pub direction: Option<Direction>,
    pub media: Vec<MediaDescription>,
    pub other_lines: Vec<String>,
}

/// `o=<username> <sess-id> <sess-version> IN IP4|IP6 <address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    pub session_id: u64,
    pub session_version: u64,
    pub address: IpAddr,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, `image`, ...
    pub kind: String,
    pub port: u16,
    /// `RTP/AVP`, `udptl`, ...
    pub protocol: String,
    /// Format tokens as listed (payload type numbers for RTP).
    pub formats: Vec<String>,
    pub connection: Option<IpAddr>,
    pub rtpmaps: Vec<RtpMap>,
    /// `a=fmtp:<pt> <parameters>`.
    pub fmtps: Vec<(u8, String)>,
    pub ptime: Option<u32>,
    pub direction: Option<Direction>,
    /// Other `a=` lines (without the `a=` prefix) and unmodelled lines, kept in order.
    pub other_attributes: Vec<String>,
}

/// `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub payload_type: u8,
    pub encoding: String,
    pub clock_rate: u32,
    pub channels: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn parse(name: &str) -> Option<Direction> {
        Some(match name {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The answer's direction for an offer's (RFC 3264 §6.1).
    pub fn mirrored(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            same => same,
        }
    }

    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SDP line {line}: {problem}")]
pub struct SdpError {
    pub line: usize,
    pub problem: &'static str,
}

fn parse_connection(value: &str) -> Option<IpAddr> {
    let mut parts = value.split_ascii_whitespace();
    if parts.next()? != "IN" {
        return None;
    }
    let family = parts.next()?;
    // Multicast TTL/count suffixes ("/127") are not for us but must not break parsing.
    let address = parts.next()?.split('/').next()?;
    match family {
        "IP4" => address.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
        "IP6" => address.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6),
        _ => None,
    }
}

fn address_line(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => format!("IN IP4 {v4}"),
        IpAddr::V6(v6) => format!("IN IP6 {v6}"),
    }
}

impl SessionDescription {
    /// Parses SDP text; accepts CRLF or LF line ends.
    pub fn parse(text: &str) -> Result<SessionDescription, SdpError> {
        let mut origin = None;
        let mut session_name = String::new();
        let mut connection = None;
        let mut timing = (0, 0);
        let mut direction = None;
        let mut media: Vec<MediaDescription> = Vec::new();
        let mut other_lines = Vec::new();
        let mut saw_version = false;
        for (index, raw_line) in text.lines().enumerate() {
            let number = index + 1;
            let fail = |problem| SdpError {
                line: number,
                problem,
            };
            let line = raw_line.trim_end();
            if line.is_empty() {
                continue;
            }
            let (kind, value) = line
                .split_once('=')
                .ok_or(fail("expected <type>=<value>"))?;
            if kind.len() != 1 {
                return Err(fail("expected a one-letter type"));
            }
            if index == 0 && kind != "v" {
                return Err(fail("SDP must start with v="));
            }
            match (kind, media.last_mut()) {
                ("v", _) => {
                    if value != "0" {
                        return Err(fail("unsupported SDP version"));
                    }
                    saw_version = true;
                }
                ("o", _) => {
                    let parts: Vec<&str> = value.split_ascii_whitespace().collect();
                    let [username, id, version, ..] = parts[..] else {
                        return Err(fail("short o= line"));
                    };
                    origin = Some(Origin {
                        username: username.to_owned(),
                        session_id: id.parse().map_err(|_| fail("bad session id"))?,
                        session_version: version
                            .parse()
                            .map_err(|_| fail("bad session version"))?,
                        address: parse_connection(&parts[3..].join(" "))
                            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                    });
                }
                ("s", _) => session_name = value.to_owned(),
                ("t", _) => {
                    let mut parts = value.split_ascii_whitespace().map(str::parse::<u64>);
                    match (parts.next(), parts.next()) {
                        (Some(Ok(start)), Some(Ok(stop))) => timing = (start, stop),
                        _ => return Err(fail("bad t= line")),
                    }
                }
                ("m", _) => {
                    let mut parts = value.split_ascii_whitespace();
                    let kind = parts.next().ok_or(fail("short m= line"))?;
                    // "port/count" is allowed; we read the base port.
                    let port = parts.next().and_then(|p| p.split('/').next()?.parse().ok());
                    let port = port.ok_or(fail("bad m= port"))?;
                    let protocol = parts.next().ok_or(fail("short m= line"))?;
                    media.push(MediaDescription {
                        kind: kind.to_owned(),
                        port,
                        protocol: protocol.to_owned(),
                        formats: parts.map(str::to_owned).collect(),
                        connection: None,
                        rtpmaps: Vec::new(),
                        fmtps: Vec::new(),
                        ptime: None,
                        direction: None,
                        other_attributes: Vec::new(),
                    });
                }
                ("c", current) => {
                    let address = parse_connection(value).ok_or(fail("bad c= line"))?;
                    match current {
                        Some(section) => section.connection = Some(address),
                        None => connection = Some(address),
                    }
                }
                ("a", current) => {
                    let (name, argument) = value.split_once(':').unwrap_or((value, ""));
                    match (Direction::parse(name), current) {
                        (Some(found), Some(section)) => section.direction = Some(found),
                        (Some(found), None) => direction = Some(found),
                        (None, Some(section)) => section.read_attribute(name, argument, value),
                        (None, None) => other_lines.push(line.to_owned()),
                    }
                }
                (_, Some(section)) => section.other_attributes.push(line.to_owned()),
                (_, None) => other_lines.push(line.to_owned()),
            }
        }
        if !saw_version {
            return Err(SdpError {
                line: 1,
                problem: "SDP must start with v=",
            });
        }
        let origin = origin.ok_or(SdpError {
            line: 0,
            problem: "missing o= line",
        })?;
        Ok(SessionDescription {
            origin,
            session_name,
            connection,
            timing,
            direction,
            media,
            other_lines,
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl MediaDescription {
    /// Whether the section has the attribute `name` (`a=name` or `a=name:value`) among those not modelled.
    pub fn has_attribute(&self, name: &str) -> bool {
        self.other_attributes.iter().any(|line| {
            line.strip_prefix("a=")
                .and_then(|attribute| attribute.strip_prefix(name))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(':'))
        })
    }

    fn read_attribute(&mut self, name: &str, argument: &str, whole: &str) {
        let mut keep = || self.other_attributes.push(format!("a={whole}"));
        match name {
            "rtpmap" => {
                let parsed = (|| {
                    let (pt, spec) = argument.split_once(' ')?;
                    let mut spec = spec.trim().split('/');
                    Some(RtpMap {
                        payload_type: pt.trim().parse().ok()?,
                        encoding: spec.next()?.to_owned(),
                        clock_rate: spec.next()?.parse().ok()?,
                        channels: spec.next().and_then(|c| c.parse().ok()),
                    })
                })();
                match parsed {
                    Some(map) => self.rtpmaps.push(map),
                    None => keep(),
                }
            }
            "fmtp" => match argument
                .split_once(' ')
                .and_then(|(pt, p)| Some((pt.parse().ok()?, p)))
            {
                Some((pt, parameters)) => self.fmtps.push((pt, parameters.trim().to_owned())),
                None => keep(),
            },
            "ptime" => match argument.trim().parse() {
                Ok(ptime) => self.ptime = Some(ptime),
                Err(_) => keep(),
            },
            _ => keep(),
        }
    }

    /// The connection address for this section (media level, else session level).
    pub fn address(&self, session: &SessionDescription) -> Option<IpAddr> {
        self.connection.or(session.connection)
    }

    /// The direction for this section (media level, else session level, else sendrecv).
    pub fn effective_direction(&self, session: &SessionDescription) -> Direction {
        self.direction
            .or(session.direction)
            .unwrap_or(Direction::SendRecv)
    }

    fn rtpmap(&self, payload_type: u8) -> Option<&RtpMap> {
        self.rtpmaps
            .iter()
            .find(|map| map.payload_type == payload_type)
    }

    /// The codec a listed format stands for, by rtpmap or else by static payload type.
    fn codec_of(&self, payload_type: u8) -> Option<Codec> {
        match self.rtpmap(payload_type) {
            Some(map) if map.clock_rate == 8000 && map.encoding.eq_ignore_ascii_case("PCMU") => {
                Some(Codec::Pcmu)
            }
            Some(map) if map.clock_rate == 8000 && map.encoding.eq_ignore_ascii_case("PCMA") => {
                Some(Codec::Pcma)
            }
            Some(_) => None,
            None => match payload_type {
                0 => Some(Codec::Pcmu),
                8 => Some(Codec::Pcma),
                _ => None,
            },
        }
    }

    fn is_rtp_audio(&self) -> bool {
        self.kind == "audio" && (self.protocol == "RTP/AVP" || self.protocol == "RTP/AVPF")
    }
}

impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origin = &self.origin;
        write!(
            f,
            "v=0\r\no={} {} {} {}\r\n",
            origin.username,
            origin.session_id,
            origin.session_version,
            address_line(origin.address)
        )?;
        let name = if self.session_name.is_empty() {
            "-"
        } else {
            &self.session_name
        };
        write!(f, "s={name}\r\n")?;
        if let Some(address) = self.connection {
            write!(f, "c={}\r\n", address_line(address))?;
        }
        write!(f, "t={} {}\r\n", self.timing.0, self.timing.1)?;
        for line in &self.other_lines {
            write!(f, "{line}\r\n")?;
        }
        if let Some(direction) = self.direction {
            write!(f, "a={}\r\n", direction.as_str())?;
        }
        for section in &self.media {
            write!(
                f,
                "m={} {} {}",
                section.kind, section.port, section.protocol
            )?;
            for format in &section.formats {
                write!(f, " {format}")?;
            }
            f.write_str("\r\n")?;
            if let Some(address) = section.connection {
                write!(f, "c={}\r\n", address_line(address))?;
            }
            for map in &section.rtpmaps {
                write!(
                    f,
                    "a=rtpmap:{} {}/{}",
                    map.payload_type, map.encoding, map.clock_rate
                )?;
                if let Some(channels) = map.channels {
                    write!(f, "/{channels}")?;
                }
                f.write_str("\r\n")?;
            }
            for (pt, parameters) in &section.fmtps {
                write!(f, "a=fmtp:{pt} {parameters}\r\n")?;
            }
            if let Some(ptime) = section.ptime {
                write!(f, "a=ptime:{ptime}\r\n")?;
            }
            for line in &section.other_attributes {
                write!(f, "{line}\r\n")?;
            }
            if let Some(direction) = section.direction {
                write!(f, "a={}\r\n", direction.as_str())?;
            }
        }
        Ok(())
    }
}

/// The G.711 law chosen for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Pcmu,
    Pcma,
}

impl Codec {
    pub fn static_payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    pub fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }
}

/// What our side of the media looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// Where we receive RTP.
    pub rtp: SocketAddr,
    pub session_id: u64,
    pub session_version: u64,
    /// The payload type we use for telephone-event in our own offers (answers reuse the offer's).
    pub offer_telephone_event_pt: u8,
}

impl LocalMedia {
    pub fn new(rtp: SocketAddr, session_id: u64) -> LocalMedia {
        LocalMedia {
            rtp,
            session_id,
            session_version: session_id,
            offer_telephone_event_pt: 101,
        }
    }
}

/// The result of offer/answer: how to send and receive RTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegotiatedMedia {
    pub codec: Codec,
    pub payload_type: u8,
    pub telephone_event_pt: Option<u8>,
    pub remote_rtp: SocketAddr,
    /// Our direction: whether we may send and should expect to receive.
    pub direction: Direction,
    /// RTCP shares the RTP port (RFC 5761): the offer asked with `a=rtcp-mux` and the answer agreed.
    pub rtcp_mux: bool,
}

impl NegotiatedMedia {
    /// The peer put us on hold (it will not listen to our audio).
    pub fn is_on_hold(&self) -> bool {
        !self.direction.sends()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    #[error("the offer has no audio stream with PCMU or PCMA")]
    NoSupportedCodec,
    #[error("the offer has no connection address for its audio stream")]
    NoConnectionAddress,
    #[error("the answer does not fit our offer")]
    AnswerMismatch,
    #[error("the offer's audio address is of an address family our RTP address is not")]
    AddressFamily,
}

impl NegotiationError {
    /// The SIP status that refuses the offer.
    pub fn status_code(self) -> u16 {
        488
    }
}

const TELEPHONE_EVENT_PTIME: u32 = 20;

fn telephone_event_pt(section: &MediaDescription) -> Option<u8> {
    section
        .formats
        .iter()
        .filter_map(|format| format.parse::<u8>().ok())
        .find(|&pt| {
            section.rtpmap(pt).is_some_and(|m| {
                m.encoding.eq_ignore_ascii_case("telephone-event") && m.clock_rate == 8000
            })
        })
}

/// Where the stream [`negotiate`] would answer wants RTP, known before our own port is: a media server can place
/// the call (on a port this address does not use yet) before it writes the answer.
pub fn offered_rtp_address(offer: &SessionDescription) -> Option<SocketAddr> {
    let accepted = accept(offer).ok()?;
    Some(SocketAddr::new(
        accepted.remote_ip,
        offer.media[accepted.index].port,
    ))
}

/// The stream of an offer we answer, and how.
struct AcceptedStream {
    /// Its index among the offer's m-lines.
    index: usize,
    codec: Codec,
    payload_type: u8,
    remote_ip: IpAddr,
}

/// The one place that decides whether an offer is acceptable: the first audio m-line we can use, the codec
/// chosen from it (in the offerer's order of preference), and its connection address. The endpoint refuses
/// an INVITE with 488 when this fails, and [`negotiate`] answers from what it found.
fn accept(offer: &SessionDescription) -> Result<AcceptedStream, NegotiationError> {
    let (index, codec, payload_type) = offer
        .media
        .iter()
        .enumerate()
        .filter(|(_, section)| section.is_rtp_audio() && section.port != 0)
        .find_map(|(index, section)| {
            section
                .formats
                .iter()
                .filter_map(|format| format.parse::<u8>().ok())
                .find_map(|pt| section.codec_of(pt).map(|codec| (index, codec, pt)))
        })
        .ok_or(NegotiationError::NoSupportedCodec)?;
    let remote_ip = offer.media[index]
        .address(offer)
        .ok_or(NegotiationError::NoConnectionAddress)?;
    Ok(AcceptedStream {
        index,
        codec,
        payload_type,
        remote_ip,
    })
}

/// Whether we can answer an offer (see [`negotiate`]): why not, if not.
pub fn check_offer(offer: &SessionDescription) -> Result<(), NegotiationError> {
    accept(offer).map(|_| ())
}

/// Whether we can answer an offer (PCMU or PCMA audio with a connection address).
pub fn offer_is_acceptable(offer: &SessionDescription) -> bool {
    check_offer(offer).is_ok()
}

/// Answers an offer (RFC 3264 §6): one accepted audio stream, every other m-line refused with port 0.
pub fn negotiate(
    offer: &SessionDescription,
    local: &LocalMedia,
) -> Result<(SessionDescription, NegotiatedMedia), NegotiationError> {
    let AcceptedStream {
        index: chosen,
        codec,
        payload_type,
        remote_ip,
    } = accept(offer)?;
    // An IPv6 phone cannot reach an IPv4 RTP address (or the reverse): refuse rather than answer into silence.
    // c=0.0.0.0 (hold) is no address to reach, whatever its family.
    if !remote_ip.is_unspecified() && remote_ip.is_ipv4() != local.rtp.is_ipv4() {
        return Err(NegotiationError::AddressFamily);
    }
    let offered = &offer.media[chosen];
    let telephone_event_pt = telephone_event_pt(offered);
    // RFC 5761 §5.1.1: an offer of rtcp-mux is accepted by repeating it in the answer.
    let rtcp_mux = offered.has_attribute("rtcp-mux");
    let mut direction = offered.effective_direction(offer).mirrored();
    // c=0.0.0.0 is RFC 2543 hold: the peer will not receive what we send.
    if remote_ip.is_unspecified() {
        direction = match direction {
            Direction::SendRecv => Direction::RecvOnly,
            Direction::SendOnly => Direction::Inactive,
            other => other,
        };
    }
    let media = offer
        .media
        .iter()
        .enumerate()
        .map(|(index, section)| {
            if index == chosen {
                let mut answered = audio_section(
                    local.rtp.port(),
                    &[(codec, payload_type)],
                    telephone_event_pt.map(|pt| (pt, PORTAL_EVENTS)),
                    Some(direction),
                );
                if rtcp_mux {
                    answered.other_attributes.push("a=rtcp-mux".into());
                }
                answered
            } else {
                MediaDescription {
                    kind: section.kind.clone(),
                    port: 0,
                    protocol: section.protocol.clone(),
                    formats: section.formats.clone(),
                    connection: None,
                    rtpmaps: Vec::new(),
                    fmtps: Vec::new(),
                    ptime: None,
                    direction: None,
                    other_attributes: Vec::new(),
                }
            }
        })
        .collect();
    let answer = SessionDescription {
        origin: Origin {
            username: "vportal".into(),
            session_id: local.session_id,
            session_version: local.session_version,
            address: local.rtp.ip(),
        },
        session_name: "-".into(),
        connection: Some(local.rtp.ip()),
        timing: (0, 0),
        direction: None,
        media,
        other_lines: Vec::new(),
    };
    let negotiated = NegotiatedMedia {
        codec,
        payload_type,
        telephone_event_pt,
        remote_rtp: SocketAddr::new(remote_ip, offered.port),
        direction,
        rtcp_mux,
    };
    Ok((answer, negotiated))
}

/// The telephone events the portal takes: the digits, `*`, `#` and A-D (RFC 4733 §3.2), no flash.
const PORTAL_EVENTS: &str = "0-15";

/// An audio m-line: `codecs` with their payload types in order, then telephone-event at its payload type with
/// its events (an fmtp such as `0-15`) when given.
fn audio_section(
    port: u16,
    codecs: &[(Codec, u8)],
    telephone_event: Option<(u8, &str)>,
    direction: Option<Direction>,
) -> MediaDescription {
    let rtpmap = |payload_type: u8, encoding: &str| RtpMap {
        payload_type,
        encoding: encoding.into(),
        clock_rate: 8000,
        channels: None,
    };
    let mut formats: Vec<String> = codecs.iter().map(|(_, pt)| pt.to_string()).collect();
    let mut rtpmaps: Vec<RtpMap> = codecs
        .iter()
        .map(|(codec, pt)| rtpmap(*pt, codec.encoding_name()))
        .collect();
    let mut fmtps = Vec::new();
    if let Some((pt, events)) = telephone_event {
        formats.push(pt.to_string());
        rtpmaps.push(rtpmap(pt, "telephone-event"));
        fmtps.push((pt, events.to_owned()));
    }
    MediaDescription {
        kind: "audio".into(),
        port,
        protocol: "RTP/AVP".into(),
        formats,
        connection: None,
        rtpmaps,
        fmtps,
        ptime: Some(TELEPHONE_EVENT_PTIME),
        direction,
        other_attributes: Vec::new(),
    }
}

/// An offer of one send-and-receive audio stream at `rtp`: `codecs` at their static payload types in order,
/// then telephone-event when given as (payload type, events such as `0-16`). The portal's own offer
/// ([`make_offer`]) and the test phones' are built with it.
pub fn audio_offer(
    username: &str,
    session_id: u64,
    rtp: SocketAddr,
    codecs: &[Codec],
    telephone_event: Option<(u8, &str)>,
) -> SessionDescription {
    let codecs: Vec<(Codec, u8)> = codecs
        .iter()
        .map(|codec| (*codec, codec.static_payload_type()))
        .collect();
    SessionDescription {
        origin: Origin {
            username: username.into(),
            session_id,
            session_version: session_id,
            address: rtp.ip(),
        },
        session_name: "-".into(),
        connection: Some(rtp.ip()),
        timing: (0, 0),
        direction: None,
        media: vec![audio_section(
            rtp.port(),
            &codecs,
            telephone_event,
            Some(Direction::SendRecv),
        )],
        other_lines: Vec::new(),
    }
}

/// Our offer, for INVITEs that came without SDP: PCMU, PCMA and telephone-event.
pub fn make_offer(local: &LocalMedia) -> SessionDescription {
    let mut offer = audio_offer(
        "vportal",
        local.session_id,
        local.rtp,
        &[Codec::Pcmu, Codec::Pcma],
        Some((local.offer_telephone_event_pt, PORTAL_EVENTS)),
    );
    offer.origin.session_version = local.session_version;
    offer
}

/// Reads the answer to our own offer (INVITE without SDP, answer in the ACK).
pub fn negotiated_from_answer(
    offer: &SessionDescription,
    answer: &SessionDescription,
) -> Result<NegotiatedMedia, NegotiationError> {
    if answer.media.len() != offer.media.len() {
        return Err(NegotiationError::AnswerMismatch);
    }
    // The same rules as for an offer: the stream we can use, and where it is.
    let AcceptedStream {
        index,
        codec,
        payload_type,
        remote_ip,
    } = accept(answer)?;
    let section = &answer.media[index];
    // Our offer was sendrecv, so the answer's direction mirrored back is ours.
    let direction = section.effective_direction(answer).mirrored();
    Ok(NegotiatedMedia {
        codec,
        payload_type,
        telephone_event_pt: telephone_event_pt(section),
        remote_rtp: SocketAddr::new(remote_ip, section.port),
        direction,
        // Our offers do not offer rtcp-mux, so an answer cannot take it up.
        rtcp_mux: false,
    })
}

#[cfg(test)]
#[path = "sdp_tests.rs"]
mod tests;
