//! [`Phone`]: one call, from the INVITE to the BYE.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use portal_core::{Digit, PromptId};
use portal_media::g711::Codec;
use portal_media::rtp::{RtpPacket, SAMPLES_PER_FRAME};
use portal_sip::codec::{Message, Request};
use portal_sip::sdp::{
    self, Direction, MediaDescription, NegotiatedMedia, Origin, RtpMap, SessionDescription,
};
use portal_sip::syntax::{Method, NameAddr};

use crate::media::{self, Job, Media, MediaConfig};
use crate::recognizer::{Heard, PromptCatalog, PromptRecognizer};
use crate::rtp_in::{self, Registration, RtpSink};
use crate::sip::{
    self, Dialog, Incoming, SipReceiver, SipSocket, cseq_method, header, header_list, request_text,
    response_text, tag_of, token, uri_host,
};
use crate::{DialOptions, DtmfMode, HarnessError, IdleAudio, SipTransport};

/// After the call ended, how long a wait still gives late audio the chance to be attributed.
const HANG_UP_GRACE: Duration = Duration::from_millis(600);

/// Who ended the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangUpBy {
    /// The portal sent BYE.
    Portal,
    /// We sent BYE.
    Us,
}

impl fmt::Display for HangUpBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HangUpBy::Portal => "the portal hung up",
            HangUpBy::Us => "we hung up",
        })
    }
}

/// One thing to expect next in what the portal plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// This prompt (whole, or cut short by a key press).
    Prompt(PromptId),
    /// Audio that is no prompt (a recording played back).
    Audio,
    /// Anything.
    Any,
}

impl Expect {
    fn matches(self, heard: &Heard) -> bool {
        match self {
            Expect::Prompt(id) => heard.prompt == Some(id),
            Expect::Audio => heard.prompt.is_none(),
            Expect::Any => true,
        }
    }
}

impl From<PromptId> for Expect {
    fn from(id: PromptId) -> Expect {
        Expect::Prompt(id)
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Prompt(id) => write!(f, "{id}"),
            Expect::Audio => f.write_str("<audio>"),
            Expect::Any => f.write_str("<anything>"),
        }
    }
}

/// What offer/answer settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The G.711 law both sides use.
    pub codec: Codec,
    /// Its RTP payload type.
    pub payload_type: u8,
    /// telephone-event's payload type in the answer, if it kept it.
    pub telephone_event_pt: Option<u8>,
    /// Where the portal wants our RTP.
    pub remote_rtp: SocketAddr,
    /// Our direction as the answer leaves it.
    pub direction: Direction,
}

/// A SIP message the phone received from the portal, as far as a test needs to look at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedSip {
    /// `INVITE`, `BYE`, ... for a request; the status code for a response.
    pub kind: ReceivedKind,
    /// The topmost Via value: the portal's own for its requests, ours echoed in responses
    /// (`SIP/2.0/TCP 127.0.0.1:40312;branch=...`).
    pub top_via: Option<String>,
    /// The Contact value, when the message has one.
    pub contact: Option<String>,
    /// The CSeq value (`1 INVITE`).
    pub cseq: Option<String>,
    /// When it arrived.
    pub at: Instant,
}

/// What kind of SIP message was received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceivedKind {
    /// A request, by method name.
    Request(String),
    /// A response, by status code.
    Response(u16),
}

impl ReceivedSip {
    fn of(message: &Message, at: Instant) -> ReceivedSip {
        let headers = message.headers();
        ReceivedSip {
            kind: match message {
                Message::Request(request) => ReceivedKind::Request(request.method.to_string()),
                Message::Response(response) => ReceivedKind::Response(response.status),
            },
            top_via: header_list(headers, "Via").into_iter().next(),
            contact: header(headers, "Contact"),
            cseq: header(headers, "CSeq"),
            at,
        }
    }
}

/// What the threads share.
struct Inner {
    sip: Arc<SipSocket>,
    started: Instant,
    state: Mutex<State>,
    changed: Condvar,
    /// Set when the call is over: the threads stop.
    stop: Arc<AtomicBool>,
}

struct State {
    dialog: Option<Dialog>,
    recognizer: Option<PromptRecognizer>,
    hung_up: Option<(HangUpBy, Instant)>,
    /// Timestamped events: SIP messages, key presses, speech.
    log: Vec<(Instant, String)>,
    /// How many heard entries [`Phone::expect`] has consumed.
    cursor: usize,
    /// A prompt [`Phone::wait_for_start`] returned on: its entry is consumed when it appears.
    skip_next: Option<PromptId>,
    /// Our SDP (answers a re-INVITE).
    local_sdp: String,
    /// INFO bodies the portal sent us.
    infos: Vec<String>,
    /// Every SIP message received, in order.
    sip_received: Vec<ReceivedSip>,
    /// Every key sent, with the moment its first packet (or its INFO request) went out.
    keys_sent: Vec<(Digit, Instant)>,
    /// The portal's last audio packet: (ssrc, sequence, timestamp, arrival).
    last_rtp: Option<(u32, u16, u32, Instant)>,
    /// For each audio packet that directly follows the previous one (same SSRC, next sequence number, the
    /// timestamp one frame on): how far its arrival gap was from 20 ms, in microseconds.
    arrival_deviation_us: Vec<u32>,
    /// From sending the INVITE to receiving its 2xx.
    setup_time: Option<Duration>,
}

impl State {
    /// Where the unconsumed part of `heard` starts, after consuming the entry of a prompt
    /// [`Phone::wait_for_start`] already returned on, once it has appeared.
    fn unconsumed(&mut self, heard: &[Heard]) -> usize {
        let mut start = self.cursor.min(heard.len());
        if let Some(skip) = self.skip_next
            && let Some(first) = heard.get(start)
        {
            if first.prompt == Some(skip) {
                start += 1;
            }
            self.skip_next = None;
            self.cursor = start;
        }
        start
    }
}

impl State {
    /// Notes an RTP packet's arrival for [`Phone::arrival_deviations`].
    fn arrival(&mut self, packet: &RtpPacket<'_>, now: Instant) {
        let audio = self
            .recognizer
            .as_ref()
            .is_some_and(|r| r.payload_type() == packet.payload_type);
        if !audio {
            return;
        }
        if let Some((ssrc, sequence, timestamp, at)) = self.last_rtp
            && ssrc == packet.ssrc
            && packet.sequence == sequence.wrapping_add(1)
            && packet.timestamp == timestamp.wrapping_add(SAMPLES_PER_FRAME as u32)
        {
            let gap = now.saturating_duration_since(at).as_micros() as i64;
            let deviation = (gap - 20_000).unsigned_abs().min(u64::from(u32::MAX)) as u32;
            self.arrival_deviation_us.push(deviation);
        }
        self.last_rtp = Some((packet.ssrc, packet.sequence, packet.timestamp, now));
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until the state changes (a packet, a SIP message) or `timeout` passes, and locks it again.
    fn wait_for_change<'a>(
        &self,
        state: MutexGuard<'a, State>,
        timeout: Duration,
    ) -> MutexGuard<'a, State> {
        self.changed
            .wait_timeout(state, timeout)
            .map(|(guard, _)| guard)
            .unwrap_or_else(|poisoned| poisoned.into_inner().0)
    }

    fn log(&self, line: impl Into<String>) {
        let mut state = self.lock();
        state.log.push((Instant::now(), line.into()));
    }

    fn end(&self, by: HangUpBy) {
        let mut state = self.lock();
        if state.hung_up.is_none() {
            state.hung_up = Some((by, Instant::now()));
            state
                .log
                .push((Instant::now(), format!("call ended: {by}")));
        }
        self.stop.store(true, Ordering::Relaxed);
        drop(state);
        self.changed.notify_all();
    }
}

/// When a wait for what is heard must look again though nothing changed: at its deadline, or when the hang-up
/// grace runs out. Every packet, SIP message and hang-up wakes it besides; a thousand callers waiting must not
/// poll.
fn next_check(state: &State, deadline: Instant) -> Instant {
    match state.hung_up {
        Some((_, at)) => deadline.min(at + HANG_UP_GRACE),
        None => deadline,
    }
}

/// A phone in a call with the portal. See the [crate documentation](crate).
pub struct Phone {
    inner: Arc<Inner>,
    options: DialOptions,
    negotiated: Negotiated,
    media_jobs: Option<mpsc::Sender<Job>>,
    /// The phone's place on the process's media wheel.
    media: Option<Media>,
    /// The phone's RTP socket on the process's receiving thread.
    rtp_in: Option<Registration>,
    threads: Vec<JoinHandle<()>>,
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Phone")
            .field("from", &self.options.from)
            .field("to", &self.options.to)
            .field("negotiated", &self.negotiated)
            .finish_non_exhaustive()
    }
}

/// The local address the system would use to reach `server`.
fn local_ip_towards(server: SocketAddr) -> std::io::Result<IpAddr> {
    let any: IpAddr = match server {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let probe = UdpSocket::bind(SocketAddr::new(any, 0))?;
    probe.connect(server)?;
    Ok(probe.local_addr()?.ip())
}

fn offer(options: &DialOptions, rtp: SocketAddr) -> SessionDescription {
    let mut formats: Vec<String> = options
        .codecs
        .iter()
        .map(|c| c.payload_type().to_string())
        .collect();
    let mut rtpmaps: Vec<RtpMap> = options
        .codecs
        .iter()
        .map(|c| RtpMap {
            payload_type: c.payload_type(),
            encoding: c.encoding_name().into(),
            clock_rate: 8000,
            channels: None,
        })
        .collect();
    let mut fmtps = Vec::new();
    if let Some(pt) = options.telephone_event_pt {
        formats.push(pt.to_string());
        rtpmaps.push(RtpMap {
            payload_type: pt,
            encoding: "telephone-event".into(),
            clock_rate: 8000,
            channels: None,
        });
        fmtps.push((pt, "0-16".to_owned()));
    }
    let session_id = u64::from(rand::random::<u32>());
    SessionDescription {
        origin: Origin {
            username: "harness".into(),
            session_id,
            session_version: session_id,
            address: rtp.ip(),
        },
        session_name: "-".into(),
        connection: Some(rtp.ip()),
        timing: (0, 0),
        direction: None,
        media: vec![MediaDescription {
            kind: "audio".into(),
            port: rtp.port(),
            protocol: "RTP/AVP".into(),
            formats,
            connection: None,
            rtpmaps,
            fmtps,
            ptime: Some(20),
            direction: Some(Direction::SendRecv),
            other_attributes: Vec::new(),
        }],
        other_lines: Vec::new(),
    }
}

fn media_codec(codec: sdp::Codec) -> Codec {
    match codec {
        sdp::Codec::Pcmu => Codec::Pcmu,
        sdp::Codec::Pcma => Codec::Pcma,
    }
}

impl Phone {
    /// Places a call and returns once it is answered (ACK sent, RTP flowing both ways).
    pub fn dial(options: DialOptions) -> Result<Phone, HarnessError> {
        let catalog = PromptCatalog::shared(&options.prompts_dir)?;
        let (sip, sip_receiver, local_ip) = match options.transport {
            SipTransport::Udp => {
                let local_ip = match options.local_ip {
                    Some(ip) => ip,
                    None => local_ip_towards(options.server)?,
                };
                let (sip, receiver) =
                    SipSocket::udp(SocketAddr::new(local_ip, 0), options.t1, options.trace_sip)?;
                (sip, receiver, local_ip)
            }
            SipTransport::Tcp => {
                // Connecting is the first exchange with the portal: give it as long as a transaction.
                let (sip, receiver) = SipSocket::tcp(
                    options.server,
                    options.t1 * 64,
                    options.t1,
                    options.trace_sip,
                )?;
                let local_ip = options.local_ip.unwrap_or(sip.local.ip());
                (sip, receiver, local_ip)
            }
        };
        let sip = Arc::new(sip);
        let rtp_socket = Arc::new(UdpSocket::bind(SocketAddr::new(local_ip, 0))?);
        let rtp_local = rtp_socket.local_addr()?;
        let our_offer = offer(&options, rtp_local);
        let offer_text = our_offer.to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let inner = Arc::new(Inner {
            sip: Arc::clone(&sip),
            started: Instant::now(),
            state: Mutex::new(State {
                dialog: None,
                recognizer: None,
                hung_up: None,
                log: Vec::new(),
                cursor: 0,
                skip_next: None,
                local_sdp: offer_text.clone(),
                infos: Vec::new(),
                sip_received: Vec::new(),
                keys_sent: Vec::new(),
                last_rtp: None,
                arrival_deviation_us: Vec::new(),
                setup_time: None,
            }),
            changed: Condvar::new(),
            stop: Arc::clone(&stop),
        });
        let mut threads = Vec::new();
        {
            let inner = Arc::clone(&inner);
            threads.push(
                std::thread::Builder::new()
                    .name("harness-sip".into())
                    .spawn(move || sip_receive(&inner, sip_receiver))?,
            );
        }
        let mut phone_threads = PhoneThreads {
            inner: Arc::clone(&inner),
            threads,
        };

        // The INVITE.
        let local_tag = token();
        let call_id = format!("{}@{}", token(), local_ip);
        let branch = format!("z9hG4bK{}", token());
        let server_host = uri_host(options.server);
        let request_uri = format!("sip:{}@{server_host}", options.to);
        let from = format!(
            "<sip:{}@{}>;tag={local_tag}",
            options.from,
            uri_host(sip.local)
        );
        let to = format!("<sip:{}@{server_host}>", options.to);
        let transport = options.transport;
        let contact = match transport {
            SipTransport::Udp => format!("<sip:{}@{}>", options.from, uri_host(sip.local)),
            SipTransport::Tcp => format!(
                "<sip:{}@{};transport=tcp>",
                options.from,
                uri_host(sip.local)
            ),
        };
        let via = |branch: &str| {
            format!(
                "Via: SIP/2.0/{} {};branch={branch};rport",
                transport.via_name(),
                uri_host(sip.local)
            )
        };
        let invite_headers = vec![
            via(&branch),
            "Max-Forwards: 70".to_owned(),
            format!("From: {from}"),
            format!("To: {to}"),
            format!("Call-ID: {call_id}"),
            "CSeq: 1 INVITE".to_owned(),
            format!("Contact: {contact}"),
            "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO".to_owned(),
            "User-Agent: vportal-harness".to_owned(),
        ];
        let invite = request_text(
            "INVITE",
            &request_uri,
            &invite_headers,
            Some("application/sdp"),
            &offer_text,
        );
        inner.log(format!(
            "-> INVITE {request_uri} from {} over {transport} (offer {})",
            options.from,
            describe_offer(&options)
        ));
        let invite_sent = Instant::now();
        let response = sip.transaction(
            &invite,
            &branch,
            options.server,
            true,
            options.answer_timeout,
            |provisional| inner.log(format!("<- {} {}", provisional.status, provisional.reason)),
        )?;
        inner.log(format!("<- {} {}", response.status, response.reason));
        if response.status < 300 {
            inner.lock().setup_time = Some(invite_sent.elapsed());
        }
        let to_with_tag = header(&response.headers, "To").unwrap_or_else(|| to.clone());
        if response.status >= 300 {
            // The ACK of a non-2xx final is part of the INVITE transaction: same branch and Request-URI.
            let ack_headers = vec![
                via(&branch),
                "Max-Forwards: 70".to_owned(),
                format!("From: {from}"),
                format!("To: {to_with_tag}"),
                format!("Call-ID: {call_id}"),
                "CSeq: 1 ACK".to_owned(),
            ];
            let _ = sip.send(
                &request_text("ACK", &request_uri, &ack_headers, None, ""),
                options.server,
            );
            inner.log("-> ACK");
            inner.end(HangUpBy::Portal);
            return Err(HarnessError::Rejected {
                request: format!("INVITE {request_uri}"),
                status: response.status,
                reason: response.reason,
            });
        }

        // The dialog and the ACK.
        let remote_target = header_list(&response.headers, "Contact")
            .first()
            .and_then(|c| NameAddr::parse(c).ok())
            .map(|c| c.uri.raw)
            .unwrap_or_else(|| request_uri.clone());
        let mut routes = header_list(&response.headers, "Record-Route");
        routes.reverse();
        let next_hop = routes
            .first()
            .and_then(|r| NameAddr::parse(r).ok())
            .and_then(|r| sip::uri_addr(&r.uri.raw))
            .or_else(|| sip::uri_addr(&remote_target))
            .unwrap_or(options.server);
        let mut dialog = Dialog {
            call_id: call_id.clone(),
            local: from.clone(),
            remote: to_with_tag,
            local_tag: local_tag.clone(),
            remote_target,
            routes,
            next_hop,
            cseq: 0,
            ack: Vec::new(),
            contact,
            transport,
        };
        // The ACK carries the INVITE's CSeq number (1): the dialog's count starts at 0.
        let (ack, _) = dialog.request("ACK", sip.local, None, "");
        dialog.ack = ack.clone();
        let _ = sip.send(&ack, next_hop);
        inner.log("-> ACK");

        let answer_text = String::from_utf8_lossy(&response.body).into_owned();
        let negotiated = SessionDescription::parse(&answer_text)
            .map_err(|e| HarnessError::BadAnswer(format!("{e:?}: {answer_text:?}")))
            .and_then(|answer| {
                sdp::negotiated_from_answer(&our_offer, &answer)
                    .map_err(|e| HarnessError::BadAnswer(format!("{e}: {answer_text:?}")))
            });
        let negotiated: NegotiatedMedia = match negotiated {
            Ok(negotiated) => negotiated,
            Err(error) => {
                inner.lock().dialog = Some(dialog);
                let phone = Phone {
                    inner: Arc::clone(&inner),
                    options,
                    negotiated: Negotiated {
                        codec: Codec::Pcmu,
                        payload_type: 0,
                        telephone_event_pt: None,
                        remote_rtp: SocketAddr::new(local_ip, 9),
                        direction: Direction::Inactive,
                    },
                    media_jobs: None,
                    media: None,
                    rtp_in: None,
                    threads: std::mem::take(&mut phone_threads.threads),
                };
                let _ = phone.hang_up();
                return Err(error);
            }
        };
        let negotiated = Negotiated {
            codec: media_codec(negotiated.codec),
            payload_type: negotiated.payload_type,
            telephone_event_pt: negotiated.telephone_event_pt,
            remote_rtp: negotiated.remote_rtp,
            direction: negotiated.direction,
        };
        inner.log(format!(
            "answer: {} (pt {}), telephone-event {}, portal RTP at {}",
            negotiated.codec.encoding_name(),
            negotiated.payload_type,
            negotiated
                .telephone_event_pt
                .map_or_else(|| "none".to_owned(), |pt| format!("pt {pt}")),
            negotiated.remote_rtp
        ));
        {
            let mut state = inner.lock();
            state.dialog = Some(dialog);
            state.recognizer = Some(PromptRecognizer::new(
                catalog,
                negotiated.codec,
                negotiated.payload_type,
            ));
        }

        // Media: receive and send, on the process's shared threads.
        let rtp_in = rtp_in::register(&rtp_socket, Arc::clone(&inner) as Arc<dyn RtpSink>)?;
        let (jobs_tx, jobs_rx) = mpsc::channel();
        let media = {
            let config = MediaConfig {
                remote: negotiated.remote_rtp,
                codec: negotiated.codec,
                payload_type: negotiated.payload_type,
                telephone_event_pt: options
                    .telephone_event_pt
                    .and(negotiated.telephone_event_pt),
                idle_silence: options.idle == IdleAudio::Silence,
            };
            media::start(Arc::clone(&rtp_socket), config, jobs_rx, Arc::clone(&stop))
        };
        Ok(Phone {
            inner,
            options,
            negotiated,
            media_jobs: Some(jobs_tx),
            media: Some(media),
            rtp_in: Some(rtp_in),
            threads: std::mem::take(&mut phone_threads.threads),
        })
    }

    /// What offer/answer settled.
    pub fn negotiated(&self) -> Negotiated {
        self.negotiated
    }

    /// The options the call was placed with.
    pub fn options(&self) -> &DialOptions {
        &self.options
    }

    /// The Call-ID.
    pub fn call_id(&self) -> String {
        self.inner
            .lock()
            .dialog
            .as_ref()
            .map(|d| d.call_id.clone())
            .unwrap_or_default()
    }

    fn ensure_up(&self) -> Result<(), HarnessError> {
        if self.inner.lock().hung_up.is_some() {
            return Err(HarnessError::CallEnded);
        }
        Ok(())
    }

    /// Runs a media job; returns when its first packet was due to go out.
    fn run_job(
        &self,
        actions: Vec<(u32, media::Action)>,
        end: u32,
    ) -> Result<Instant, HarnessError> {
        let jobs = self.media_jobs.as_ref().ok_or(HarnessError::CallEnded)?;
        let (done, finished) = mpsc::channel();
        jobs.send(Job { actions, end, done })
            .map_err(|_| HarnessError::CallEnded)?;
        finished.recv().map_err(|_| HarnessError::CallEnded)
    }

    fn key_sent(&self, digit: Digit, at: Instant) {
        self.inner.lock().keys_sent.push((digit, at));
    }

    /// Presses `keys` one after the other (`0`-`9`, `*`, `#`; spaces are ignored) in the call's
    /// [`DtmfMode`], each held `digit_ms` with `gap_ms` after it. Returns when the last one has been sent.
    pub fn press(&self, keys: &str) -> Result<(), HarnessError> {
        let digits = keys
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| Digit::from_char(c).ok_or(HarnessError::BadKey(c)))
            .collect::<Result<Vec<_>, _>>()?;
        self.ensure_up()?;
        self.inner.log(format!(
            "press {keys} ({})",
            match self.options.dtmf_mode {
                DtmfMode::Rfc4733 => format!(
                    "RFC 4733, pt {}",
                    self.options
                        .telephone_event_pt
                        .map_or_else(|| "none".into(), |pt| pt.to_string())
                ),
                DtmfMode::SipInfo => "SIP INFO".to_owned(),
                DtmfMode::Inband => "in-band".to_owned(),
            }
        ));
        let (digit_ms, gap_ms) = (self.options.digit_ms, self.options.gap_ms);
        for digit in digits {
            self.ensure_up()?;
            match self.options.dtmf_mode {
                DtmfMode::Rfc4733 => {
                    let (actions, end) = media::rfc4733_job(digit, digit_ms, gap_ms);
                    let at = self.run_job(actions, end)?;
                    self.key_sent(digit, at);
                }
                DtmfMode::Inband => {
                    let (actions, end) =
                        media::inband_job(self.negotiated.codec, digit, digit_ms, gap_ms);
                    let at = self.run_job(actions, end)?;
                    self.key_sent(digit, at);
                }
                DtmfMode::SipInfo => {
                    let body = format!("Signal={}\r\nDuration={digit_ms}\r\n", digit.as_char());
                    let at = Instant::now();
                    self.request("INFO", Some("application/dtmf-relay"), &body)?;
                    self.key_sent(digit, at);
                    std::thread::sleep(Duration::from_millis(u64::from(digit_ms + gap_ms)));
                }
            }
        }
        Ok(())
    }

    /// Sends a request in the dialog and waits for its final response; a non-2xx is an error.
    pub fn request(
        &self,
        method: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> Result<u16, HarnessError> {
        let (bytes, branch, next_hop) = {
            let mut state = self.inner.lock();
            let dialog = state.dialog.as_mut().ok_or(HarnessError::CallEnded)?;
            let (bytes, branch) = dialog.request(method, self.inner.sip.local, content_type, body);
            (bytes, branch, dialog.next_hop)
        };
        let summary = match method {
            "INFO" => format!("-> INFO {}", body.replace("\r\n", " ").trim()),
            other => format!("-> {other}"),
        };
        self.inner.log(summary);
        let response =
            self.inner
                .sip
                .transaction(&bytes, &branch, next_hop, false, Duration::ZERO, |_| {})?;
        self.inner.log(format!(
            "<- {} {} ({method})",
            response.status, response.reason
        ));
        if response.status >= 300 {
            return Err(HarnessError::Rejected {
                request: String::from_utf8_lossy(&bytes)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                status: response.status,
                reason: response.reason,
            });
        }
        Ok(response.status)
    }

    /// Speaks 8 kHz linear samples, one frame every 20 ms; returns when the last frame has been sent.
    pub fn say_samples(&self, samples: &[i16]) -> Result<(), HarnessError> {
        self.ensure_up()?;
        self.inner.log(format!(
            "say {} ms of audio",
            samples.len() as u64 * 1000 / 8000
        ));
        let actions = media::audio_actions(self.negotiated.codec, samples, 0);
        let end = (actions.len() * 160) as u32;
        self.run_job(actions, end).map(|_| ())
    }

    /// Speaks an 8 kHz mono 16-bit WAV file.
    pub fn say_wav(&self, path: &Path) -> Result<(), HarnessError> {
        let samples = portal_media::prompts::read_wav(path)?;
        self.say_samples(&samples)
    }

    /// Everything recognised so far.
    pub fn heard(&self) -> Vec<Heard> {
        self.inner
            .lock()
            .recognizer
            .as_ref()
            .map(|r| r.heard().to_vec())
            .unwrap_or_default()
    }

    /// The prompt playing now, once it can be told apart from every other prompt.
    pub fn playing(&self) -> Option<PromptId> {
        self.inner.lock().recognizer.as_ref()?.playing()
    }

    /// Waits until the next things heard (after what earlier waits consumed) are exactly `expected`, in order;
    /// returns them and consumes them. Fails as soon as something else is heard, when the call ends first, or
    /// after `timeout`; the error names what was heard instead.
    pub fn expect(
        &self,
        expected: &[Expect],
        timeout: Duration,
    ) -> Result<Vec<Heard>, HarnessError> {
        let deadline = Instant::now() + timeout;
        let expected_text = join(expected.iter().map(Expect::to_string));
        let mut state = self.inner.lock();
        loop {
            let heard = state
                .recognizer
                .as_ref()
                .map(|r| r.heard().to_vec())
                .unwrap_or_default();
            let start = state.unconsumed(&heard);
            let fresh = &heard[start..];
            for (index, (want, got)) in expected.iter().zip(fresh).enumerate() {
                if !want.matches(got) {
                    return Err(HarnessError::Unexpected {
                        expected: expected_text,
                        heard: join(fresh[..=index].iter().map(Heard::label)),
                    });
                }
            }
            if fresh.len() >= expected.len() {
                state.cursor = start + expected.len();
                return Ok(fresh[..expected.len()].to_vec());
            }
            let now = Instant::now();
            let heard_text = || {
                let mut labels: Vec<String> = fresh.iter().map(Heard::label).collect();
                if let Some(playing) = state.recognizer.as_ref().and_then(|r| r.playing()) {
                    labels.push(format!("{playing} (playing)"));
                }
                join(labels.into_iter())
            };
            if let Some((by, at)) = state.hung_up
                && now >= at + HANG_UP_GRACE
            {
                return Err(HarnessError::HungUp {
                    expected: expected_text,
                    heard: heard_text(),
                    by,
                });
            }
            if now >= deadline {
                return Err(HarnessError::Timeout {
                    expected: expected_text,
                    heard: heard_text(),
                    after: timeout,
                });
            }
            let wake = next_check(&state, deadline);
            state = self
                .inner
                .wait_for_change(state, wake.saturating_duration_since(now));
        }
    }

    /// [`expect`](Self::expect) for a list of prompts.
    pub fn wait_for(&self, prompts: &[PromptId], timeout: Duration) -> Result<(), HarnessError> {
        let expected: Vec<Expect> = prompts.iter().copied().map(Expect::Prompt).collect();
        self.expect(&expected, timeout).map(|_| ())
    }

    /// Waits until `prompt` has started playing (recognised, not necessarily finished: keys pressed now barge
    /// in). Everything heard before it must have been consumed; the prompt's own entry is consumed when it ends.
    /// After a key press, only a start after the key counts: the same prompt still playing from before it
    /// (the portal did not act on the key) is not a start.
    pub fn wait_for_start(&self, prompt: PromptId, timeout: Duration) -> Result<(), HarnessError> {
        let deadline = Instant::now() + timeout;
        let mut state = self.inner.lock();
        loop {
            let heard = state
                .recognizer
                .as_ref()
                .map(|r| r.heard().to_vec())
                .unwrap_or_default();
            let start = state.unconsumed(&heard);
            let fresh = &heard[start..];
            let playing = state.recognizer.as_ref().and_then(|r| r.playing());
            if let Some(first) = fresh.first() {
                if first.prompt == Some(prompt) {
                    state.cursor = start + 1;
                    return Ok(());
                }
                return Err(HarnessError::Unexpected {
                    expected: prompt.to_string(),
                    heard: join(fresh.iter().map(Heard::label)),
                });
            }
            // Only asked when the prompt is playing: `playing_since` walks the match again.
            let began_after_keys = || {
                let since = state.recognizer.as_ref().and_then(|r| r.playing_since());
                state
                    .keys_sent
                    .last()
                    .is_none_or(|&(_, key)| since.is_some_and(|since| since > key))
            };
            if playing == Some(prompt) && began_after_keys() {
                state.skip_next = Some(prompt);
                return Ok(());
            }
            let now = Instant::now();
            if let Some((by, at)) = state.hung_up
                && now >= at + HANG_UP_GRACE
            {
                return Err(HarnessError::HungUp {
                    expected: prompt.to_string(),
                    heard: "nothing".into(),
                    by,
                });
            }
            if now >= deadline {
                return Err(HarnessError::Timeout {
                    expected: prompt.to_string(),
                    heard: playing.map_or_else(|| "nothing".into(), |p| format!("{p} (playing)")),
                    after: timeout,
                });
            }
            let wake = next_check(&state, deadline);
            state = self
                .inner
                .wait_for_change(state, wake.saturating_duration_since(now));
        }
    }

    /// Whether the call has ended (either side).
    pub fn is_hung_up(&self) -> bool {
        self.inner.lock().hung_up.is_some()
    }

    /// Who ended the call, if it has ended.
    pub fn hung_up_by(&self) -> Option<HangUpBy> {
        self.inner.lock().hung_up.map(|(by, _)| by)
    }

    /// Waits until the portal hangs up (its BYE answered with 200).
    pub fn wait_for_hang_up(&self, timeout: Duration) -> Result<(), HarnessError> {
        let deadline = Instant::now() + timeout;
        let mut state = self.inner.lock();
        loop {
            if state.hung_up.is_some() {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                let heard = state
                    .recognizer
                    .as_ref()
                    .map(|r| {
                        join(
                            r.heard()[state.cursor.min(r.heard().len())..]
                                .iter()
                                .map(Heard::label),
                        )
                    })
                    .unwrap_or_default();
                return Err(HarnessError::Timeout {
                    expected: "the portal's BYE".into(),
                    heard,
                    after: timeout,
                });
            }
            state = self.inner.wait_for_change(state, deadline - now);
        }
    }

    /// Hangs up: BYE, and waits for its final response. Does nothing when the call has already ended.
    pub fn hang_up(&self) -> Result<(), HarnessError> {
        if self.is_hung_up() {
            return Ok(());
        }
        let result = self.request("BYE", None, "");
        self.inner.end(HangUpBy::Us);
        result.map(|_| ())
    }

    /// Every SIP message received from the portal so far, in order of arrival.
    pub fn sip_received(&self) -> Vec<ReceivedSip> {
        self.inner.lock().sip_received.clone()
    }

    /// How the call's SIP travels.
    pub fn transport(&self) -> SipTransport {
        self.options.transport
    }

    /// The portal's Contact URI from its 2xx: where the call's requests go (`;transport=tcp` when the portal
    /// saw the call arrive over TCP).
    pub fn remote_target(&self) -> Option<String> {
        self.inner
            .lock()
            .dialog
            .as_ref()
            .map(|d| d.remote_target.clone())
    }

    /// INFO bodies the portal sent.
    pub fn infos_received(&self) -> Vec<String> {
        self.inner.lock().infos.clone()
    }

    /// Every key sent so far, with the moment its first RFC 4733 packet or tone frame was due on the media
    /// clock (for SIP INFO: when the request was sent).
    pub fn keys_sent(&self) -> Vec<(char, Instant)> {
        self.inner
            .lock()
            .keys_sent
            .iter()
            .map(|(digit, at)| (digit.as_char(), *at))
            .collect()
    }

    /// Call-setup time: from sending the INVITE to receiving its 2xx (retransmissions included).
    pub fn setup_time(&self) -> Option<Duration> {
        self.inner.lock().setup_time
    }

    /// RTP arrival deviations: for each audio packet from the portal that directly follows the previous one
    /// (same SSRC, next sequence number, timestamp one 20 ms frame later), how far the time since the previous
    /// packet's arrival was from 20 ms. Gaps between prompts and lost packets are not counted.
    pub fn arrival_deviations(&self) -> Vec<Duration> {
        self.inner
            .lock()
            .arrival_deviation_us
            .iter()
            .map(|&us| Duration::from_micros(u64::from(us)))
            .collect()
    }

    /// The call as text: SIP messages, key presses and what was heard, in time order, in seconds from the
    /// dial.
    pub fn transcript(&self) -> Vec<String> {
        let state = self.inner.lock();
        let mut lines: Vec<(Instant, String)> = state.log.clone();
        if let Some(recognizer) = state.recognizer.as_ref() {
            lines.extend(
                recognizer
                    .heard()
                    .iter()
                    .map(|h| (h.started, format!("heard {}", h.label()))),
            );
        }
        lines.sort_by_key(|(at, _)| *at);
        lines
            .into_iter()
            .map(|(at, line)| {
                let since = at.saturating_duration_since(self.inner.started);
                format!("{:>7.3} {line}", since.as_secs_f64())
            })
            .collect()
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        if !self.is_hung_up() {
            // Best effort: tell the portal, without waiting for its answer.
            let sent = {
                let mut state = self.inner.lock();
                state.dialog.as_mut().map(|dialog| {
                    let (bytes, _) = dialog.request("BYE", self.inner.sip.local, None, "");
                    (bytes, dialog.next_hop)
                })
            };
            if let Some((bytes, to)) = sent {
                let _ = self.inner.sip.send(&bytes, to);
            }
            self.inner.end(HangUpBy::Us);
        }
        self.inner.stop.store(true, Ordering::Relaxed);
        self.media_jobs = None;
        self.media = None;
        self.rtp_in = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Stops and joins the threads when [`Phone::dial`] fails before a [`Phone`] owns them.
struct PhoneThreads {
    inner: Arc<Inner>,
    threads: Vec<JoinHandle<()>>,
}

impl Drop for PhoneThreads {
    fn drop(&mut self) {
        if self.threads.is_empty() {
            return;
        }
        self.inner.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn join(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    if items.is_empty() {
        "nothing".to_owned()
    } else {
        items.join(", ")
    }
}

fn describe_offer(options: &DialOptions) -> String {
    let mut parts: Vec<String> = options
        .codecs
        .iter()
        .map(|c| c.encoding_name().to_owned())
        .collect();
    if let Some(pt) = options.telephone_event_pt {
        parts.push(format!("telephone-event/{pt}"));
    }
    parts.join(" ")
}

/// The SIP receiving thread: responses to their transactions, requests answered.
fn sip_receive(inner: &Inner, mut receiver: SipReceiver) {
    // Keep answering (a retransmitted BYE, say) a little after the call ended.
    let mut stopped_at: Option<Instant> = None;
    loop {
        if inner.stop.load(Ordering::Relaxed) {
            let since = *stopped_at.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_millis(200) {
                return;
            }
        }
        let (message, from) = match receiver.receive() {
            Incoming::Message {
                from,
                message: Ok(message),
            } => (message, from),
            Incoming::Message {
                from,
                message: Err(error),
            } => {
                inner.log(format!("<- unreadable SIP from {from}: {error}"));
                continue;
            }
            Incoming::Nothing => continue,
            Incoming::Closed(why) => {
                if !inner.stop.load(Ordering::Relaxed) {
                    inner.log(format!("SIP {} closed: {why}", inner.sip.transport));
                }
                // No response can come any more: the requests waiting for one fail now.
                inner.sip.close();
                return;
            }
        };
        inner
            .lock()
            .sip_received
            .push(ReceivedSip::of(&message, Instant::now()));
        match message {
            Message::Response(response) => {
                if let Some(unclaimed) = inner.sip.deliver(response) {
                    // A retransmitted 2xx to our INVITE: the ACK was lost, send it again.
                    let invite = cseq_method(&unclaimed.headers).as_deref() == Some("INVITE");
                    if invite && (200..300).contains(&unclaimed.status) {
                        let resend = inner
                            .lock()
                            .dialog
                            .as_ref()
                            .map(|d| (d.ack.clone(), d.next_hop));
                        if let Some((ack, to)) = resend {
                            let _ = inner.sip.send(&ack, to);
                            inner.log(format!(
                                "<- {} {} again; -> ACK again",
                                unclaimed.status, unclaimed.reason
                            ));
                        }
                    }
                }
            }
            Message::Request(request) => answer_request(inner, &request, from),
        }
    }
}

fn answer_request(inner: &Inner, request: &Request, from: SocketAddr) {
    let summary = sip::summary(&Message::Request(request.clone()));
    let (local_tag, ours, local_sdp) = {
        let state = inner.lock();
        let call_id = header(&request.headers, "Call-ID").unwrap_or_default();
        let to_tag = header(&request.headers, "To").and_then(|to| tag_of(&to));
        match state.dialog.as_ref() {
            Some(dialog) => (
                dialog.local_tag.clone(),
                dialog.call_id == call_id && to_tag.as_deref() == Some(dialog.local_tag.as_str()),
                state.local_sdp.clone(),
            ),
            None => (token(), false, state.local_sdp.clone()),
        }
    };
    let respond = |status: u16, extra: &[String], body: Option<&str>| {
        let bytes = match body {
            Some(body) => response_text(
                request,
                status,
                &local_tag,
                extra,
                Some("application/sdp"),
                body,
            ),
            None => response_text(request, status, &local_tag, extra, None, ""),
        };
        let _ = inner.sip.send(&bytes, from);
        inner.log(format!("<- {summary}; -> {status}"));
    };
    match request.method {
        Method::Ack => inner.log(format!("<- {summary}")),
        Method::Bye if ours => {
            respond(200, &[], None);
            inner.end(HangUpBy::Portal);
        }
        Method::Info if ours => {
            let body = String::from_utf8_lossy(&request.body).into_owned();
            inner.lock().infos.push(body);
            respond(200, &[], None);
        }
        Method::Options => respond(
            200,
            &["Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO".to_owned()],
            None,
        ),
        Method::Invite if ours => {
            // A re-INVITE: keep the media as it is and answer with our session.
            let contact = inner
                .lock()
                .dialog
                .as_ref()
                .map(|d| format!("Contact: {}", d.contact))
                .unwrap_or_default();
            respond(200, &[contact], Some(&local_sdp));
        }
        Method::Bye | Method::Info | Method::Invite | Method::Cancel => respond(481, &[], None),
        _ => respond(501, &[], None),
    }
}

/// The phone's share of the process's RTP receiving thread: every packet to the recogniser.
impl RtpSink for Inner {
    fn packet(&self, bytes: &[u8], now: Instant) {
        let Ok(packet) = RtpPacket::parse(bytes) else {
            return;
        };
        self.recognize(|state| {
            state.arrival(&packet, now);
            if let Some(recognizer) = state.recognizer.as_mut() {
                recognizer.push(&packet, now);
            }
        });
    }

    fn idle(&self, now: Instant) {
        self.recognize(|state| {
            if let Some(recognizer) = state.recognizer.as_mut() {
                recognizer.idle(now);
            }
        });
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn finish(&self) {
        if let Some(recognizer) = self.lock().recognizer.as_mut() {
            recognizer.end_talkspurt();
        }
        self.changed.notify_all();
    }
}

impl Inner {
    /// Runs `update` on the state; wakes the waiters when what was heard, or what is playing, changed.
    fn recognize(&self, update: impl FnOnce(&mut State)) {
        let mut state = self.lock();
        let before = state.recognizer.as_ref().map_or(0, |r| r.heard().len());
        let playing_before = state.recognizer.as_ref().and_then(|r| r.playing());
        update(&mut state);
        let after = state.recognizer.as_ref().map_or(0, |r| r.heard().len());
        let playing_after = state.recognizer.as_ref().and_then(|r| r.playing());
        drop(state);
        if after != before || playing_after != playing_before {
            self.changed.notify_all();
        }
    }
}
