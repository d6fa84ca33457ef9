//! Small parsers for the header fields the UAS reads: URIs, name-addr (From/To/Contact/Route), Via and CSeq.
//!
//! rsip 0.4 cannot read IPv6 references (`sip:[2001:db8::1]`), `tel:` URIs, extension methods in CSeq or Via
//! parameters with whitespace around `;`/`=`, all of which RFC 3261 allows, so these fields are read here.

use std::fmt;
use std::net::IpAddr;

/// A request method; extension methods keep their token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Info,
    Register,
    Prack,
    Update,
    Subscribe,
    Notify,
    Refer,
    Message,
    Publish,
    /// Any other token (methods are case-sensitive, RFC 3261 §7.1).
    Extension(String),
}

impl Method {
    /// Reads a method token; `None` when it is not a token.
    pub fn parse(token: &str) -> Option<Method> {
        if token.is_empty() || !token.bytes().all(is_token_byte) {
            return None;
        }
        Some(match token {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "REGISTER" => Method::Register,
            "PRACK" => Method::Prack,
            "UPDATE" => Method::Update,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            "PUBLISH" => Method::Publish,
            other => Method::Extension(other.to_owned()),
        })
    }

    /// The method's name when it is one of the standard methods above; `None` for an extension.
    pub fn standard_name(&self) -> Option<&'static str> {
        Some(match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Register => "REGISTER",
            Method::Prack => "PRACK",
            Method::Update => "UPDATE",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Extension(_) => return None,
        })
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Extension(token) => token,
            standard => standard.standard_name().unwrap_or_default(),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// RFC 3261 `token` characters.
pub fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&byte)
}

/// Characters of a SIP URI's `userinfo` (RFC 3261 §25.1: `unreserved`, `escaped`, `user-unreserved`, the
/// password's characters and the ':' before it).
fn is_userinfo_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-_.!~*'()%&=+$,;?/:".contains(&byte)
}

/// A `sip:`, `sips:` or `tel:` URI as far as the UAS needs it; `raw` keeps the text for echoing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    pub raw: String,
    pub scheme: UriScheme,
    /// The user part, percent-decoded (for `tel:` the number).
    pub user: Option<String>,
    /// The host as written, IPv6 references with their brackets.
    pub host: String,
    pub port: Option<u16>,
    pub params: Vec<(String, Option<String>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriScheme {
    Sip,
    Sips,
    Tel,
}

impl SipUri {
    /// Parses a URI; unknown schemes are `Err(UriError::UnsupportedScheme)` (answered with 416).
    pub fn parse(text: &str) -> Result<SipUri, UriError> {
        let text = text.trim();
        let (scheme, rest) = text.split_once(':').ok_or(UriError::Malformed)?;
        let scheme = if scheme.eq_ignore_ascii_case("sip") {
            UriScheme::Sip
        } else if scheme.eq_ignore_ascii_case("sips") {
            UriScheme::Sips
        } else if scheme.eq_ignore_ascii_case("tel") {
            UriScheme::Tel
        } else if !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            return Err(UriError::UnsupportedScheme);
        } else {
            return Err(UriError::Malformed);
        };
        if rest.is_empty()
            || rest
                .bytes()
                .any(|b| b <= b' ' || b == b'<' || b == b'>' || b == b'"')
        {
            return Err(UriError::Malformed);
        }
        if scheme == UriScheme::Tel {
            let (number, params) = split_params(rest);
            return Ok(SipUri {
                raw: text.to_owned(),
                scheme,
                user: Some(percent_decode(number)),
                host: String::new(),
                port: None,
                params: parse_params(params),
            });
        }
        // URI headers (`?a=b`) are ignored; '@' and ';' before them belong to userinfo/params. The user part
        // may itself hold '?', ';' and '/' (RFC 3261 `user-unreserved`), and neither parameters nor headers
        // may hold an unescaped '@', so an '@' after a '?' ends a userinfo when all before it can be one.
        let without_headers = match rest.split_once('@') {
            Some((userinfo, after_at))
                if userinfo.contains('?') && userinfo.bytes().all(is_userinfo_byte) =>
            {
                let headers_at = after_at
                    .find('?')
                    .map_or(rest.len(), |at| userinfo.len() + 1 + at);
                &rest[..headers_at]
            }
            _ => rest.split_once('?').map_or(rest, |(before, _)| before),
        };
        let (user, host_part) = match without_headers.split_once('@') {
            Some((userinfo, host_part)) => {
                let user = userinfo
                    .split_once(':')
                    .map_or(userinfo, |(user, _password)| user);
                if user.is_empty() {
                    return Err(UriError::Malformed);
                }
                (Some(percent_decode(user)), host_part)
            }
            None => (None, without_headers),
        };
        let (hostport, params) = split_params(host_part);
        let (host, port) = parse_host_port(hostport).ok_or(UriError::Malformed)?;
        Ok(SipUri {
            raw: text.to_owned(),
            scheme,
            user,
            host: host.to_owned(),
            port,
            params: parse_params(params),
        })
    }

    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }

    /// The host as an IP address when it is a literal (IPv6 without brackets).
    pub fn ip(&self) -> Option<IpAddr> {
        host_ip(&self.host)
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error("malformed URI")]
    Malformed,
    #[error("unsupported URI scheme")]
    UnsupportedScheme,
}

/// Splits `a;b=c;d` into `a` and `;b=c;d`.
fn split_params(text: &str) -> (&str, &str) {
    match text.find(';') {
        Some(at) => (&text[..at], &text[at..]),
        None => (text, ""),
    }
}

/// Reads `;name[=value]` pairs, tolerating whitespace around `;` and `=`.
pub fn parse_params(text: &str) -> Vec<(String, Option<String>)> {
    text.split(';')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((name, value)) => (
                name.trim().to_ascii_lowercase(),
                Some(value.trim().to_owned()),
            ),
            None => (part.to_ascii_lowercase(), None),
        })
        .collect()
}

pub fn find_param<'a>(
    params: &'a [(String, Option<String>)],
    name: &str,
) -> Option<Option<&'a str>> {
    params
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_deref())
}

/// `host[:port]`, where host may be an IPv6 reference in brackets.
pub fn parse_host_port(text: &str) -> Option<(&str, Option<u16>)> {
    let text = text.trim();
    let (host, port) = if text.starts_with('[') {
        let close = text.find(']')?;
        let host = &text[..=close];
        host_ip(host)?;
        let rest = &text[close + 1..];
        let port = match rest.strip_prefix(':') {
            Some(port) => Some(port.trim().parse().ok()?),
            None if rest.is_empty() => None,
            None => return None,
        };
        (host, port)
    } else {
        match text.split_once(':') {
            Some((host, port)) => (host, Some(port.trim().parse().ok()?)),
            None => (text, None),
        }
    };
    let host = host.trim();
    let valid_host = !host.is_empty()
        && (host.starts_with('[')
            || host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'));
    valid_host.then_some((host, port))
}

/// An IP literal host (`192.0.2.1` or `[2001:db8::1]`).
pub fn host_ip(host: &str) -> Option<IpAddr> {
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6),
        None => host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4),
    }
}

/// Formats an address as a URI host: IPv6 in brackets.
pub fn uri_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// `text` with its `%XX` escapes decoded (invalid ones kept as they are; bytes that are no UTF-8 replaced).
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[index] == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(index + 1).copied().and_then(hex),
                bytes.get(index + 2).copied().and_then(hex),
            )
        {
            out.push((high * 16 + low) as u8);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a header value at commas that are outside quotes and angle brackets (RFC 3261 §7.3.1), dropping
/// empty elements.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut parts = split_list_keeping_empty(value);
    parts.retain(|part| !part.is_empty());
    parts
}

/// [`split_list`] keeping the empty elements (`a,,b` gives three), trimmed.
fn split_list_keeping_empty(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut in_quotes, mut in_angle, mut escaped) = (false, false, false);
    let mut start = 0;
    for (index, ch) in value.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match ch {
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '<' if !in_quotes => in_angle = true,
            '>' if !in_quotes => in_angle = false,
            ',' if !in_quotes && !in_angle => {
                parts.push(value[start..index].trim());
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(value[start..].trim());
    parts
}

/// A From/To/Contact/Route/Record-Route value: `"Display" <uri>;params` or `uri;params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// Unquoted and unescaped.
    pub display: Option<String>,
    pub uri: SipUri,
    /// Header parameters (not URI parameters), e.g. `tag`.
    pub params: Vec<(String, Option<String>)>,
}

impl NameAddr {
    pub fn parse(text: &str) -> Result<NameAddr, UriError> {
        let text = text.trim();
        let (display, after_display) = if let Some(quoted) = text.strip_prefix('"') {
            let (display, rest) = read_quoted(quoted).ok_or(UriError::Malformed)?;
            (Some(display), rest.trim_start())
        } else if let Some(open) = text.find('<') {
            let display = text[..open].trim();
            (
                (!display.is_empty()).then(|| display.to_owned()),
                &text[open..],
            )
        } else {
            (None, text)
        };
        if let Some(inside) = after_display.strip_prefix('<') {
            let close = inside.find('>').ok_or(UriError::Malformed)?;
            let uri = SipUri::parse(&inside[..close])?;
            let rest = inside[close + 1..].trim();
            if !rest.is_empty() && !rest.starts_with(';') {
                return Err(UriError::Malformed);
            }
            Ok(NameAddr {
                display,
                uri,
                params: parse_params(rest),
            })
        } else if display.is_some() {
            Err(UriError::Malformed)
        } else {
            // addr-spec form: parameters after the URI are header parameters (RFC 3261 §20.10).
            let (uri, params) = split_params(after_display);
            Ok(NameAddr {
                display: None,
                uri: SipUri::parse(uri)?,
                params: parse_params(params),
            })
        }
    }

    pub fn tag(&self) -> Option<&str> {
        find_param(&self.params, "tag").flatten()
    }
}

/// Reads a quoted-string body after the opening quote; returns the unescaped text and what follows.
fn read_quoted(text: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((index, ch)) = chars.next() {
        match ch {
            '\\' => out.push(chars.next()?.1),
            '"' => return Some((out, &text[index + 1..])),
            other => out.push(other),
        }
    }
    None
}

/// One Via entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// The SIP version of `sent-protocol` as written: "2.0" unless read by [`Via::parse_any_version`].
    pub version: String,
    pub transport: String,
    /// As written; IPv6 with brackets.
    pub host: String,
    pub port: Option<u16>,
    pub params: Vec<(String, Option<String>)>,
}

impl Via {
    /// Reads a Via entry of SIP/2.0.
    pub fn parse(text: &str) -> Option<Via> {
        Via::parse_any_version(text).filter(|via| via.version == "2.0")
    }

    /// Reads a Via entry whatever its SIP version (`SIP/7.0/UDP host`), enough to address a 505 to it.
    pub fn parse_any_version(text: &str) -> Option<Via> {
        // sent-protocol is "SIP / 2.0 / UDP" with optional whitespace around the slashes.
        let mut rest = text.trim();
        let mut protocol = [""; 3];
        for (index, slot) in protocol.iter_mut().enumerate() {
            rest = rest.trim_start();
            let end = rest
                .find(|c: char| c == '/' || c.is_ascii_whitespace())
                .unwrap_or(rest.len());
            *slot = &rest[..end];
            rest = rest[end..].trim_start();
            if index < 2 {
                rest = rest.strip_prefix('/')?;
            }
        }
        let version_is_number = protocol[1].split_once('.').is_some_and(|(major, minor)| {
            [major, minor]
                .iter()
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
        });
        if !protocol[0].eq_ignore_ascii_case("SIP") || !version_is_number || protocol[2].is_empty()
        {
            return None;
        }
        if !protocol[2].bytes().all(is_token_byte) {
            return None;
        }
        let (sent_by, params) = split_params(rest);
        let (host, port) = parse_host_port(sent_by)?;
        Some(Via {
            version: protocol[1].to_owned(),
            transport: protocol[2].to_ascii_uppercase(),
            host: host.to_owned(),
            port,
            params: parse_params(params),
        })
    }

    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }

    pub fn branch(&self) -> Option<&str> {
        self.param("branch").flatten()
    }

    /// `host:port` as the transaction key uses it (port defaulted to 5060).
    pub fn sent_by(&self) -> String {
        format!(
            "{}:{}",
            self.host.to_ascii_lowercase(),
            self.port.unwrap_or(5060)
        )
    }

    pub fn set_param(&mut self, name: &str, value: Option<String>) {
        match self.params.iter_mut().find(|(key, _)| key == name) {
            Some(slot) => slot.1 = value,
            None => self.params.push((name.to_owned(), value)),
        }
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/{}/{} {}", self.version, self.transport, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        for (name, value) in &self.params {
            match value {
                Some(value) => write!(f, ";{name}={value}")?,
                None => write!(f, ";{name}")?,
            }
        }
        Ok(())
    }
}

/// Whether a Via header value has no empty element (`a,,b`) and no empty parameter (`;;`), which RFC 3261's
/// grammar forbids (RFC 4475 §3.1.2.1 calls such a request syntactically invalid). A single `;` ending an
/// entry is tolerated. Entries are not parsed further: only the topmost one is ours to read.
pub fn via_value_is_well_formed(value: &str) -> bool {
    split_list_keeping_empty(value).into_iter().all(|entry| {
        let (sent, params) = split_params(entry);
        let params: Vec<&str> = params.split(';').skip(1).map(str::trim).collect();
        let inner = params.split_last().map_or(&[][..], |(_, inner)| inner);
        !sent.trim().is_empty()
            && inner.iter().all(|param| !param.is_empty())
            && params.iter().all(|param| !param.starts_with('='))
    })
}

/// `CSeq: 4711 INVITE`.
pub fn parse_cseq(text: &str) -> Option<(u32, Method)> {
    let mut parts = text.split_ascii_whitespace();
    let number = parts.next()?.parse().ok()?;
    let method = Method::parse(parts.next()?)?;
    parts.next().is_none().then_some((number, method))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_with_ipv6_host_and_port() {
        let uri = SipUri::parse("sip:alice@[2001:db8::10]:5070;transport=udp").unwrap();
        assert_eq!(uri.user.as_deref(), Some("alice"));
        assert_eq!(uri.host, "[2001:db8::10]");
        assert_eq!(uri.port, Some(5070));
        assert_eq!(uri.ip(), Some("2001:db8::10".parse().unwrap()));
        assert_eq!(uri.param("transport"), Some(Some("udp")));
    }

    #[test]
    fn uri_user_is_unescaped_and_may_hold_semicolons() {
        let uri = SipUri::parse("sip:%61lice@example.com").unwrap();
        assert_eq!(uri.user.as_deref(), Some("alice"));
        let uri = SipUri::parse("sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(uri.user.as_deref(), Some("user;par=u@example.net"));
        assert_eq!(uri.host, "example.com");
    }

    #[test]
    fn tel_and_unknown_schemes() {
        let uri = SipUri::parse("tel:+1-201-555-0123;phone-context=x").unwrap();
        assert_eq!(uri.scheme, UriScheme::Tel);
        assert_eq!(uri.user.as_deref(), Some("+1-201-555-0123"));
        assert_eq!(
            SipUri::parse("http://example.com"),
            Err(UriError::UnsupportedScheme)
        );
        assert_eq!(SipUri::parse("sip:[::1"), Err(UriError::Malformed));
        assert_eq!(SipUri::parse("sip:a@h:99999"), Err(UriError::Malformed));
    }

    #[test]
    fn name_addr_forms() {
        let quoted = NameAddr::parse(r#""Bob \"B\" Smith" <sip:bob@[::1]:5062>;tag=a1"#).unwrap();
        assert_eq!(quoted.display.as_deref(), Some(r#"Bob "B" Smith"#));
        assert_eq!(quoted.uri.host, "[::1]");
        assert_eq!(quoted.tag(), Some("a1"));
        let tokens = NameAddr::parse("Bob Smith <sip:bob@h;lr>;tag=x").unwrap();
        assert_eq!(tokens.display.as_deref(), Some("Bob Smith"));
        assert_eq!(tokens.uri.param("lr"), Some(None));
        let bare = NameAddr::parse("sip:bob@h;tag=x").unwrap();
        assert_eq!(bare.tag(), Some("x"));
        assert!(bare.uri.params.is_empty());
        assert!(NameAddr::parse("\"unterminated <sip:a@h>").is_err());
    }

    #[test]
    fn via_with_whitespace_and_ipv6() {
        let via =
            Via::parse("SIP / 2.0 / udp [2001:db8::9:1]:5060 ; branch = z9hG4bK77 ;rport").unwrap();
        assert_eq!(via.transport, "UDP");
        assert_eq!(via.host, "[2001:db8::9:1]");
        assert_eq!(via.port, Some(5060));
        assert_eq!(via.branch(), Some("z9hG4bK77"));
        assert_eq!(via.param("rport"), Some(None));
        assert_eq!(
            via.to_string(),
            "SIP/2.0/UDP [2001:db8::9:1]:5060;branch=z9hG4bK77;rport"
        );
        assert!(Via::parse("SIP/3.0/UDP h").is_none());
    }

    #[test]
    fn user_part_may_hold_question_marks_and_semicolons() {
        // RFC 4475 §3.1.1.2 (intmeth): `user-unreserved` allows '?', ';', '/', '&', '=', '+', '$', ','.
        let uri = SipUri::parse(
            "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.\
             (doesn't-it)@example.com",
        )
        .unwrap();
        assert_eq!(
            uri.user.as_deref(),
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(uri.host, "example.com");
        assert!(uri.params.is_empty());
        let with_headers = SipUri::parse("sip:a?b@example.com;lr?subject=x").unwrap();
        assert_eq!(with_headers.user.as_deref(), Some("a?b"));
        assert_eq!(with_headers.param("lr"), Some(None));
        // Headers after a user-less host are still cut off.
        let no_user = SipUri::parse("sip:example.com;transport=tcp?subject=a%40b").unwrap();
        assert_eq!((no_user.user, no_user.host.as_str()), (None, "example.com"));
        let unescaped = SipUri::parse("sip:example.com?Call-Info=[x]@h").unwrap();
        assert_eq!(unescaped.host, "example.com");
    }

    #[test]
    fn via_of_another_version_and_malformed_via_lists() {
        let via = Via::parse_any_version("SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw").unwrap();
        assert_eq!(
            (via.version.as_str(), via.host.as_str()),
            ("7.0", "c.example.com")
        );
        assert_eq!(
            via.to_string(),
            "SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw"
        );
        assert!(Via::parse("SIP/7.0/UDP c.example.com").is_none());
        assert!(Via::parse_any_version("SIP/x.y/UDP h").is_none());
        assert!(via_value_is_well_formed(
            "SIP/2.0/UDP a;branch=z9hG4bK1;rport, SIP/2.0/TCP b_c.example.com;branch=x;"
        ));
        for bad in [
            "SIP/2.0/UDP 192.0.2.15;;,;,,",
            "SIP/2.0/UDP a;branch=x,",
            ", SIP/2.0/UDP a",
            "SIP/2.0/UDP a;;branch=x",
            "SIP/2.0/UDP a;=x",
            "",
        ] {
            assert!(!via_value_is_well_formed(bad), "{bad:?}");
        }
    }

    #[test]
    fn lists_split_outside_quotes_and_brackets() {
        assert_eq!(
            split_list(r#""a, b" <sip:x@h>, <sip:y@h;p=1,2>"#),
            vec![r#""a, b" <sip:x@h>"#, "<sip:y@h;p=1,2>"]
        );
    }

    #[test]
    fn cseq_with_extension_method() {
        assert_eq!(
            parse_cseq("8   NEWMETHOD"),
            Some((8, Method::Extension("NEWMETHOD".into())))
        );
        assert_eq!(parse_cseq("x INVITE"), None);
    }
}
