//! The phone's SIP side: a small UAC over one UDP socket or one TCP connection. Requests are written as text;
//! what comes back is read with `portal-sip`'s codec (over TCP, its stream framer cuts the byte stream into
//! messages by Content-Length). Client transactions over UDP retransmit on the RFC 3261 schedule (T1 doubling;
//! for non-INVITE requests capped at T2); over TCP they send once. Either way they give up after 64·T1
//! without a final response.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use portal_sip::codec::{Framed, Message, Request, Response, StreamFramer, decode_datagram};
use portal_sip::syntax::{NameAddr, SipUri, Via, split_list};

use crate::{HarnessError, SipTransport};

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

/// How long a read waits before the receiving thread looks at whether the call is over. Each phone has such
/// a thread, so this is how often thousands of them wake for nothing in a load run.
const READ_TIMEOUT: Duration = Duration::from_millis(200);

/// Where our SIP messages go out.
#[derive(Debug)]
enum Outgoing {
    /// Each message a datagram to the address given.
    Udp(UdpSocket),
    /// Every message on the one connection, whatever address it names; locked so that messages sent from
    /// different threads never interleave.
    Tcp(Mutex<TcpStream>),
}

/// The SIP socket (or connection) and the client transactions waiting for responses.
#[derive(Debug)]
pub(crate) struct SipSocket {
    outgoing: Outgoing,
    pub local: SocketAddr,
    pub transport: SipTransport,
    pub t1: Duration,
    pub trace: bool,
    /// Client transactions by Via branch.
    pending: Mutex<HashMap<String, mpsc::Sender<Response>>>,
    /// Set when the connection is gone: no response can come any more.
    closed: AtomicBool,
}

impl SipSocket {
    /// Binds a UDP socket at `local` (port 0: any); returns the sending side and the receiving side.
    pub fn udp(
        local: SocketAddr,
        t1: Duration,
        trace: bool,
    ) -> std::io::Result<(SipSocket, SipReceiver)> {
        let socket = UdpSocket::bind(local)?;
        socket.set_read_timeout(Some(READ_TIMEOUT))?;
        let local = socket.local_addr()?;
        let receiver = SipReceiver {
            incoming: IncomingKind::Udp {
                socket: socket.try_clone()?,
                buffer: vec![0u8; 65_536],
            },
            local,
            trace,
        };
        let sip = SipSocket {
            outgoing: Outgoing::Udp(socket),
            local,
            transport: SipTransport::Udp,
            t1,
            trace,
            pending: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
        };
        Ok((sip, receiver))
    }

    /// Connects to `server` over TCP (waiting at most `connect_timeout`); returns the sending side and the
    /// receiving side of the connection.
    pub fn tcp(
        server: SocketAddr,
        connect_timeout: Duration,
        t1: Duration,
        trace: bool,
    ) -> std::io::Result<(SipSocket, SipReceiver)> {
        let stream = TcpStream::connect_timeout(&server, connect_timeout)?;
        stream.set_nodelay(true)?;
        let reading = stream.try_clone()?;
        reading.set_read_timeout(Some(READ_TIMEOUT))?;
        let local = stream.local_addr()?;
        let receiver = SipReceiver {
            incoming: IncomingKind::Tcp(StreamReader::new(reading, server)),
            local,
            trace,
        };
        let sip = SipSocket {
            outgoing: Outgoing::Tcp(Mutex::new(stream)),
            local,
            transport: SipTransport::Tcp,
            t1,
            trace,
            pending: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
        };
        Ok((sip, receiver))
    }

    /// Sends one message: a datagram to `to` over UDP; over TCP, on the connection (`to` is only printed).
    pub fn send(&self, bytes: &[u8], to: SocketAddr) -> std::io::Result<()> {
        if self.trace {
            eprintln!(
                "harness {} -> {to} ({})\n{}",
                self.local,
                self.transport,
                String::from_utf8_lossy(bytes)
            );
        }
        match &self.outgoing {
            Outgoing::Udp(socket) => socket.send_to(bytes, to).map(|_| ()),
            Outgoing::Tcp(stream) => stream
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .write_all(bytes),
        }
    }

    /// Whether the transport delivers what it accepts (TCP): then requests are not retransmitted.
    fn reliable(&self) -> bool {
        self.transport == SipTransport::Tcp
    }

    /// The connection is gone: every transaction still waiting fails now, and so will every new one.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        if let Ok(mut pending) = self.pending.lock() {
            pending.clear();
        }
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

    /// Sends a request and waits for its final response, retransmitting meanwhile over UDP. `provisional` sees
    /// every 1xx. After a provisional response an INVITE stops retransmitting and waits up to `answer_timeout`.
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
        // Checked after registering, so a connection closing meanwhile cannot leave this wait forgotten.
        if self.closed.load(Ordering::Relaxed) {
            return Err(HarnessError::CallEnded);
        }
        let sent = self.send(bytes, to);
        if self.reliable() {
            // A connection that cannot take the request will not answer it either.
            sent?;
        }
        let started = Instant::now();
        let mut give_up = started + self.t1 * 64;
        let mut interval = self.t1;
        let mut resend_at = (!self.reliable()).then_some(started + interval);
        let mut answered_provisionally = false;
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
                    if invite && !answered_provisionally {
                        answered_provisionally = true;
                        resend_at = None;
                        give_up = Instant::now() + answer_timeout;
                    }
                }
                Ok(response) => return Ok(response),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(at) = resend_at
                        && Instant::now() >= at
                    {
                        let _ = self.send(bytes, to);
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
    /// How the dialog's requests travel (named in their Via).
    pub transport: SipTransport,
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
            format!(
                "Via: SIP/2.0/{} {};branch={branch};rport",
                self.transport.via_name(),
                uri_host(local)
            ),
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

/// What the receiving side got.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A message from `from`, or why it could not be read (the transport goes on).
    Message {
        from: SocketAddr,
        message: Result<Message, String>,
    },
    /// Nothing arrived within the read timeout.
    Nothing,
    /// The connection is closed or broken: nothing more will come.
    Closed(String),
}

/// The receiving side of the phone's SIP transport, owned by the SIP receiving thread.
#[derive(Debug)]
pub(crate) struct SipReceiver {
    incoming: IncomingKind,
    local: SocketAddr,
    trace: bool,
}

#[derive(Debug)]
enum IncomingKind {
    /// Each datagram one message.
    Udp { socket: UdpSocket, buffer: Vec<u8> },
    /// The connection's byte stream, cut into messages.
    Tcp(StreamReader<TcpStream>),
}

impl SipReceiver {
    /// The next message, or [`Incoming::Nothing`] after the read timeout.
    pub fn receive(&mut self) -> Incoming {
        match &mut self.incoming {
            IncomingKind::Udp { socket, buffer } => match socket.recv_from(buffer) {
                Ok((len, from)) => {
                    if self.trace {
                        eprintln!(
                            "harness {} <- {from} (UDP)\n{}",
                            self.local,
                            String::from_utf8_lossy(&buffer[..len])
                        );
                    }
                    Incoming::Message {
                        from,
                        message: decode_datagram(&buffer[..len]).map_err(|e| e.to_string()),
                    }
                }
                Err(error) if timed_out(&error) => Incoming::Nothing,
                Err(error) => Incoming::Closed(error.to_string()),
            },
            IncomingKind::Tcp(reader) => {
                reader.trace = self.trace.then_some(self.local);
                reader.next_message()
            }
        }
    }
}

fn timed_out(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// SIP messages read from a byte stream (RFC 3261 §18.3): a message may come in several reads, and one read
/// may hold several messages (or the end of one and the start of the next); `portal-sip`'s framer cuts them
/// apart by Content-Length and skips CRLF keep-alives.
#[derive(Debug)]
pub(crate) struct StreamReader<R> {
    source: R,
    /// Who is at the other end (reported as each message's sender).
    peer: SocketAddr,
    framer: StreamFramer,
    chunk: Box<[u8]>,
    /// Our address, when every read should be printed.
    trace: Option<SocketAddr>,
}

impl<R: Read> StreamReader<R> {
    pub fn new(source: R, peer: SocketAddr) -> StreamReader<R> {
        StreamReader {
            source,
            peer,
            framer: StreamFramer::new(),
            chunk: vec![0u8; 16 * 1024].into_boxed_slice(),
            trace: None,
        }
    }

    /// The next complete message: one already buffered, else after as many reads as it takes, or
    /// [`Incoming::Nothing`] when a read times out first.
    pub fn next_message(&mut self) -> Incoming {
        loop {
            match self.framer.next_message() {
                Ok(Some(Framed::Message(message))) => {
                    return Incoming::Message {
                        from: self.peer,
                        message: Ok(message),
                    };
                }
                Ok(Some(Framed::Invalid(error))) => {
                    return Incoming::Message {
                        from: self.peer,
                        message: Err(error.to_string()),
                    };
                }
                Ok(None) => {}
                Err(error) => {
                    return Incoming::Closed(format!("the stream cannot be framed: {error}"));
                }
            }
            match self.source.read(&mut self.chunk) {
                Ok(0) => return Incoming::Closed("the portal closed the connection".into()),
                Ok(len) => {
                    if let Some(local) = self.trace {
                        eprintln!(
                            "harness {local} <- {} (TCP, {len} bytes)\n{}",
                            self.peer,
                            String::from_utf8_lossy(&self.chunk[..len])
                        );
                    }
                    self.framer.push(&self.chunk[..len]);
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) if timed_out(&error) => return Incoming::Nothing,
                Err(error) => return Incoming::Closed(error.to_string()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A byte stream that hands out the given chunks one read at a time, then times out.
    struct Chunks(VecDeque<Vec<u8>>);

    impl Read for Chunks {
        fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
            let Some(mut chunk) = self.0.pop_front() else {
                return Err(std::io::ErrorKind::WouldBlock.into());
            };
            let len = chunk.len().min(buffer.len());
            buffer[..len].copy_from_slice(&chunk[..len]);
            if len < chunk.len() {
                self.0.push_front(chunk.split_off(len));
            }
            Ok(len)
        }
    }

    fn bye(cseq: u32) -> Vec<u8> {
        request_text(
            "BYE",
            "sip:5551001@127.0.0.1:40000;transport=tcp",
            &[
                "Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKportal".to_owned(),
                "From: <sip:5558000@127.0.0.1>;tag=portal".to_owned(),
                "To: <sip:5551001@127.0.0.1>;tag=phone".to_owned(),
                "Call-ID: call-1".to_owned(),
                format!("CSeq: {cseq} BYE"),
            ],
            None,
            "",
        )
    }

    fn ok_with_body(body: &str) -> Vec<u8> {
        format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 127.0.0.1:40000;branch=z9hG4bKphone\r\n\
             From: <sip:5551001@127.0.0.1>;tag=phone\r\nTo: <sip:5558000@127.0.0.1>;tag=portal\r\n\
             Call-ID: call-1\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    /// Reads until the stream has nothing more; one line per message.
    fn read_all(chunks: Vec<Vec<u8>>) -> Vec<String> {
        let peer: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let mut reader = StreamReader::new(Chunks(chunks.into()), peer);
        let mut seen = Vec::new();
        loop {
            match reader.next_message() {
                Incoming::Message { from, message } => {
                    assert_eq!(from, peer);
                    let message = message.expect("a readable message");
                    let body = String::from_utf8_lossy(match &message {
                        Message::Request(request) => &request.body,
                        Message::Response(response) => &response.body,
                    })
                    .into_owned();
                    seen.push(format!(
                        "{} [{}]",
                        summary(&message),
                        body.replace("\r\n", "|")
                    ));
                }
                Incoming::Nothing => return seen,
                Incoming::Closed(why) => panic!("closed: {why}"),
            }
        }
    }

    #[test]
    fn a_stream_is_cut_into_messages_split_or_coalesced() {
        let body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n";
        let response = ok_with_body(body);
        let first_bye = bye(2);
        let second_bye = bye(3);
        let expected = [
            "200 OK (CSeq 1 INVITE) [v=0|o=- 1 1 IN IP4 127.0.0.1|s=-|]",
            "BYE sip:5551001@127.0.0.1:40000;transport=tcp (CSeq 2 BYE) []",
            "BYE sip:5551001@127.0.0.1:40000;transport=tcp (CSeq 3 BYE) []",
        ];
        let whole = [response.clone(), first_bye.clone(), second_bye.clone()].concat();

        // One message over several reads: inside the headers, inside the blank line, inside the body.
        let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let split = vec![
            response[..10].to_vec(),
            response[10..head_end + 2].to_vec(),
            response[head_end + 2..head_end + 9].to_vec(),
            response[head_end + 9..].to_vec(),
            first_bye.clone(),
            second_bye.clone(),
        ];
        assert_eq!(read_all(split), expected);

        // Everything in one read, with a CRLF keep-alive between two messages.
        let mut coalesced = [response.clone(), first_bye.clone()].concat();
        coalesced.extend_from_slice(b"\r\n\r\n");
        coalesced.extend_from_slice(&second_bye);
        assert_eq!(read_all(vec![coalesced]), expected);

        // The end of one message and the start of the next in the same read.
        let cut = response.len() + 30;
        assert_eq!(
            read_all(vec![whole[..cut].to_vec(), whole[cut..].to_vec()]),
            expected
        );

        // One byte per read.
        assert_eq!(
            read_all(whole.iter().map(|&byte| vec![byte]).collect()),
            expected
        );
    }

    #[test]
    fn a_message_not_yet_complete_waits_for_the_rest() {
        let response = ok_with_body("v=0\r\n");
        let peer: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let half = response.len() - 3;
        let mut reader =
            StreamReader::new(Chunks(VecDeque::from([response[..half].to_vec()])), peer);
        assert!(matches!(reader.next_message(), Incoming::Nothing));
        reader.source.0.push_back(response[half..].to_vec());
        assert!(matches!(
            reader.next_message(),
            Incoming::Message {
                message: Ok(Message::Response(_)),
                ..
            }
        ));
    }

    #[test]
    fn a_closed_stream_or_one_without_content_length_ends_the_reading() {
        let peer: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let mut closed = StreamReader::new(&b""[..], peer);
        assert!(matches!(closed.next_message(), Incoming::Closed(_)));
        let no_length = b"BYE sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK1\r\n\
            From: <sip:b@127.0.0.1>;tag=1\r\nTo: <sip:a@127.0.0.1>;tag=2\r\nCall-ID: c\r\nCSeq: 1 BYE\r\n\r\n";
        let mut unframed = StreamReader::new(&no_length[..], peer);
        assert!(matches!(unframed.next_message(), Incoming::Closed(_)));
    }
}
