//! The phone's SIP side: a small UAC over one UDP socket. Requests are written as text; what comes back is
//! read with `portal-sip`'s codec. Client transactions retransmit on the RFC 3261 schedule (T1 doubling; for
//! non-INVITE requests capped at T2) until a final response or 64·T1.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portal_sip::codec::{Message, Request, Response};
use portal_sip::syntax::{NameAddr, SipUri, Via, split_list};

use crate::HarnessError;

/// RFC 3261 T2: the cap of non-INVITE retransmission intervals.
const T2: Duration = Duration::from_secs(4);

/// A random token for tags, branches and Call-IDs.
pub(crate) fn token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// `host` or `[v6]` as written in a URI.
pub(crate) fn uri_host(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(v4) => format!("{}:{}", v4.ip(), v4.port()),
        SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
    }
}

/// Every header of a parsed message as (name, value), in order, one entry per header line.
pub(crate) fn headers_of(headers: &rsip::Headers) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|header| {
            let printed = header.to_string();
            let (name, value) = printed.split_once(':')?;
            Some((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// The first value of header `name` (case-insensitive).
pub(crate) fn header(headers: &rsip::Headers, name: &str) -> Option<String> {
    headers_of(headers)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Every value of header `name`, comma-separated lists split.
pub(crate) fn header_list(headers: &rsip::Headers, name: &str) -> Vec<String> {
    headers_of(headers)
        .into_iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| {
            split_list(&v)
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The branch of the topmost Via.
pub(crate) fn top_branch(headers: &rsip::Headers) -> Option<String> {
    let via = header_list(headers, "Via").into_iter().next()?;
    Via::parse(&via)?.branch().map(str::to_owned)
}

/// The method named in CSeq.
pub(crate) fn cseq_method(headers: &rsip::Headers) -> Option<String> {
    let cseq = header(headers, "CSeq")?;
    cseq.split_ascii_whitespace().nth(1).map(str::to_owned)
}

/// The `tag` parameter of a From or To value.
pub(crate) fn tag_of(value: &str) -> Option<String> {
    NameAddr::parse(value).ok()?.tag().map(str::to_owned)
}

/// Where a URI points when its host is an IP literal.
pub(crate) fn uri_addr(uri: &str) -> Option<SocketAddr> {
    let uri = SipUri::parse(uri).ok()?;
    Some(SocketAddr::new(uri.ip()?, uri.port.unwrap_or(5060)))
}

/// A request as text: start line, headers, Content-Length, body.
pub(crate) fn request_text(
    method: &str,
    uri: &str,
    headers: &[String],
    content_type: Option<&str>,
    body: &str,
) -> Vec<u8> {
    let mut text = format!("{method} {uri} SIP/2.0\r\n");
    for header in headers {
        text.push_str(header);
        text.push_str("\r\n");
    }
    if let Some(content_type) = content_type {
        text.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    text.into_bytes()
}

/// The response to a request we received: its Via, From, To (with `local_tag` added when it has none),
/// Call-ID and CSeq echoed.
pub(crate) fn response_text(
    request: &Request,
    status: u16,
    local_tag: &str,
    extra: &[String],
    content_type: Option<&str>,
    body: &str,
) -> Vec<u8> {
    let mut text = format!(
        "SIP/2.0 {status} {}\r\n",
        portal_sip::codec::reason_phrase(status)
    );
    for (name, value) in headers_of(&request.headers) {
        let name_lower = name.to_ascii_lowercase();
        match name_lower.as_str() {
            "via" | "from" | "call-id" | "cseq" => text.push_str(&format!("{name}: {value}\r\n")),
            "to" => {
                if tag_of(&value).is_some() || status == 100 {
                    text.push_str(&format!("To: {value}\r\n"));
                } else {
                    text.push_str(&format!("To: {value};tag={local_tag}\r\n"));
                }
            }
            _ => {}
        }
    }
    for header in extra {
        text.push_str(header);
        text.push_str("\r\n");
    }
    if let Some(content_type) = content_type {
        text.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    text.into_bytes()
}

/// A one-line summary of a message for the transcript.
pub(crate) fn summary(message: &Message) -> String {
    match message {
        Message::Request(request) => {
            let cseq = header(&request.headers, "CSeq").unwrap_or_default();
            format!("{} {} (CSeq {cseq})", request.method, request.uri.raw)
        }
        Message::Response(response) => {
            let cseq = header(&response.headers, "CSeq").unwrap_or_default();
            format!("{} {} (CSeq {cseq})", response.status, response.reason)
        }
    }
}

/// The SIP socket and the client transactions waiting for responses.
#[derive(Debug)]
pub(crate) struct SipSocket {
    pub socket: UdpSocket,
    pub local: SocketAddr,
    pub t1: Duration,
    pub trace: bool,
    /// Client transactions by Via branch.
    pending: Mutex<HashMap<String, mpsc::Sender<Response>>>,
}

impl SipSocket {
    pub fn new(socket: UdpSocket, t1: Duration, trace: bool) -> std::io::Result<SipSocket> {
        Ok(SipSocket {
            local: socket.local_addr()?,
            socket,
            t1,
            trace,
            pending: Mutex::new(HashMap::new()),
        })
    }

    pub fn send(&self, bytes: &[u8], to: SocketAddr) {
        if self.trace {
            eprintln!(
                "harness {} -> {to}\n{}",
                self.local,
                String::from_utf8_lossy(bytes)
            );
        }
        let _ = self.socket.send_to(bytes, to);
    }

    /// Hands a response to the transaction waiting for it; gives it back when none is.
    pub fn deliver(&self, response: Response) -> Option<Response> {
        let Some(branch) = top_branch(&response.headers) else {
            return Some(response);
        };
        let pending = self.pending.lock().ok()?;
        match pending.get(&branch) {
            Some(waiting) => waiting.send(response).err().map(|e| e.0),
            None => Some(response),
        }
    }

    /// Sends a request and waits for its final response, retransmitting meanwhile. `provisional` sees every
    /// 1xx. After a provisional response an INVITE stops retransmitting and waits up to `answer_timeout`.
    pub fn transaction(
        &self,
        bytes: &[u8],
        branch: &str,
        to: SocketAddr,
        invite: bool,
        answer_timeout: Duration,
        mut provisional: impl FnMut(&Response),
    ) -> Result<Response, HarnessError> {
        let (tx, rx) = mpsc::channel();
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(branch.to_owned(), tx);
        }
        let _forget = Forget {
            socket: self,
            branch,
        };
        self.send(bytes, to);
        let started = Instant::now();
        let mut give_up = started + self.t1 * 64;
        let mut interval = self.t1;
        let mut resend_at = Some(started + interval);
        loop {
            let now = Instant::now();
            if now >= give_up {
                return Err(HarnessError::NoResponse {
                    request: String::from_utf8_lossy(bytes)
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                    after: now - started,
                });
            }
            let wake = resend_at.map_or(give_up, |at| at.min(give_up));
            match rx.recv_timeout(wake.saturating_duration_since(now)) {
                Ok(response) if response.status < 200 => {
                    provisional(&response);
                    if invite && resend_at.is_some() {
                        resend_at = None;
                        give_up = Instant::now() + answer_timeout;
                    }
                }
                Ok(response) => return Ok(response),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(at) = resend_at
                        && Instant::now() >= at
                    {
                        self.send(bytes, to);
                        interval = if invite {
                            interval * 2
                        } else {
                            (interval * 2).min(T2)
                        };
                        resend_at = Some(Instant::now() + interval);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(HarnessError::CallEnded);
                }
            }
        }
    }
}

/// Removes a transaction's entry when its wait ends, however it ends.
struct Forget<'a> {
    socket: &'a SipSocket,
    branch: &'a str,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        if let Ok(mut pending) = self.socket.pending.lock() {
            pending.remove(self.branch);
        }
    }
}

/// The dialog an answered INVITE created, seen from the caller.
#[derive(Debug, Clone)]
pub(crate) struct Dialog {
    pub call_id: String,
    /// Our From value, with our tag.
    pub local: String,
    /// The To value, with the portal's tag.
    pub remote: String,
    pub local_tag: String,
    /// The portal's Contact URI.
    pub remote_target: String,
    /// Route values (the 2xx's Record-Route reversed).
    pub routes: Vec<String>,
    /// Where in-dialog requests go.
    pub next_hop: SocketAddr,
    /// The CSeq number of our last request.
    pub cseq: u32,
    /// The ACK for the 2xx, resent when the 2xx is.
    pub ack: Vec<u8>,
    /// Our Contact value.
    pub contact: String,
}

impl Dialog {
    /// A new in-dialog request (the next CSeq), with its branch.
    pub fn request(
        &mut self,
        method: &str,
        local: SocketAddr,
        content_type: Option<&str>,
        body: &str,
    ) -> (Vec<u8>, String) {
        self.cseq += 1;
        let branch = format!("z9hG4bK{}", token());
        let mut headers = vec![
            format!("Via: SIP/2.0/UDP {};branch={branch};rport", uri_host(local)),
            "Max-Forwards: 70".to_owned(),
        ];
        headers.extend(self.routes.iter().map(|route| format!("Route: {route}")));
        headers.extend([
            format!("From: {}", self.local),
            format!("To: {}", self.remote),
            format!("Call-ID: {}", self.call_id),
            format!("CSeq: {} {method}", self.cseq),
            format!("Contact: {}", self.contact),
            "User-Agent: vportal-harness".to_owned(),
        ]);
        let bytes = request_text(method, &self.remote_target, &headers, content_type, body);
        (bytes, branch)
    }
}
