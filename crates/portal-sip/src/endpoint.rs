//! The UAS endpoint: server transactions (RFC 3261 §17.2), the client transaction of our BYE (§17.1.2),
//! dialogs (§12) and the calls the application sees, driven sans-IO.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rsip::Header;
use rsip::headers::{self, UntypedHeader};

use crate::access::{AccessPolicy, InviteLimiter};
use crate::codec::{self, EchoHeaders, FramingError, Message, Request, Response, StreamFramer};
use crate::dtmf::{self, InfoDigit};
use crate::sdp::{self, SessionDescription};
use crate::syntax::{Method, NameAddr, SipUri, host_ip, parse_cseq, split_list, uri_host};
use crate::timer::{Backoff, TimerConfig, TimerHeap, TimerOwner};

/// RFC 3261 branch prefix marking transaction ids that are unique (§8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// Methods we answer; sent in Allow.
pub const ALLOWED_METHODS: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO";

/// A stream connection, named by the binary that owns the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// How bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp(ConnectionId),
}

impl Transport {
    fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp(_))
    }

    fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp(_) => "TCP",
        }
    }
}

/// Bytes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub to: SocketAddr,
    pub transport: Transport,
    pub bytes: Vec<u8>,
}

/// Names one call for the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallHandle(pub u64);

/// A new call offered to the application; answer it with [`Endpoint::answer`] or refuse it with
/// [`Endpoint::reject`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingCall {
    pub call: CallHandle,
    /// The user part of the Request-URI: what was dialed.
    pub request_uri_user: Option<String>,
    pub from_user: Option<String>,
    /// The user of P-Asserted-Identity, only when the INVITE came from a trusted peer (RFC 3325).
    pub asserted_user: Option<String>,
    pub from_display: Option<String>,
    pub to_user: Option<String>,
    /// `None` when the INVITE carried no SDP: answer with an offer, the answer comes in the ACK.
    pub offer: Option<SessionDescription>,
    /// Where the INVITE came from.
    pub remote: SocketAddr,
    pub transport: Transport,
    pub call_id: String,
}

/// Why a call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallFailure {
    /// Our 2xx was never acknowledged (Timer H).
    NoAck,
}

/// What happened, for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    IncomingCall(IncomingCall),
    /// The caller acknowledged our 2xx; `answer` holds SDP when our 2xx carried the offer.
    CallAcked {
        call: CallHandle,
        answer: Option<SessionDescription>,
    },
    /// The caller gave up before we answered (we sent 200 to the CANCEL and 487 to the INVITE).
    CallCancelled {
        call: CallHandle,
    },
    /// The call is over: `by_remote` when the caller sent BYE, else our BYE was answered or timed out.
    CallEnded {
        call: CallHandle,
        by_remote: bool,
    },
    CallFailed {
        call: CallHandle,
        reason: CallFailure,
    },
    /// A key press sent in an INFO request.
    Dtmf {
        call: CallHandle,
        digit: char,
        duration: Option<Duration>,
    },
    /// A re-INVITE (hold, resume, new address); answer with [`Endpoint::answer`] or [`Endpoint::reject`].
    MediaChanged {
        call: CallHandle,
        offer: Option<SessionDescription>,
    },
}

/// A command that does not fit the call's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("no such call")]
    UnknownCall,
    #[error("the call has no INVITE waiting for an answer")]
    NothingToAnswer,
    #[error("status code {0} cannot refuse an INVITE")]
    InvalidStatus(u16),
}

/// Endpoint settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our signalling addresses as the phones reach them (one per IP family), used in Contact and Via.
    pub local_addrs: Vec<SocketAddr>,
    /// The user part of our Contact URI.
    pub contact_user: String,
    /// Sent in the Server and User-Agent headers.
    pub user_agent: String,
    pub timers: TimerConfig,
    /// Seeds tags and branches for reproducible tests; `None` seeds from the operating system.
    pub rng_seed: Option<u64>,
    /// Allowed and trusted networks, and the per-source INVITE rate limit.
    pub access: AccessPolicy,
}

impl Config {
    pub fn new(local_addr: SocketAddr) -> Config {
        Config {
            local_addrs: vec![local_addr],
            contact_user: "vportal".into(),
            user_agent: "vportal".into(),
            timers: TimerConfig::default(),
            rng_seed: None,
            access: AccessPolicy::default(),
        }
    }
}

/// Transaction key (RFC 3261 §17.2.3); ACK uses INVITE's so it finds the INVITE transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum TransactionKey {
    Branch {
        branch: String,
        sent_by: String,
        method: Method,
    },
    /// RFC 2543 peers without the magic cookie.
    Legacy {
        call_id: String,
        cseq: u32,
        from_tag: Option<String>,
        via: String,
        method: Method,
    },
}

fn transaction_key(request: &Request, echo: &EchoHeaders, cseq: u32) -> TransactionKey {
    let method = match request.method {
        Method::Ack => Method::Invite,
        ref other => other.clone(),
    };
    match echo.top_via.branch() {
        Some(branch) if branch.starts_with(MAGIC_COOKIE) => TransactionKey::Branch {
            branch: branch.to_owned(),
            sent_by: echo.top_via.sent_by(),
            method,
        },
        _ => TransactionKey::Legacy {
            call_id: echo.call_id.clone(),
            cseq,
            from_tag: NameAddr::parse(&echo.from)
                .ok()
                .and_then(|from| from.tag().map(str::to_owned)),
            via: echo.vias[0].clone(),
            method,
        },
    }
}

#[derive(Debug)]
enum ServerState {
    /// INVITE: 100 or another provisional sent.
    Proceeding,
    /// INVITE: 3xx-6xx sent, waiting for ACK (Timer G resends, Timer H gives up).
    Completed {
        resend: Option<Backoff>,
        give_up_at: Instant,
    },
    /// INVITE: ACK for the 3xx-6xx received; absorbing ACK retransmissions until Timer I.
    Confirmed { until: Instant },
    /// INVITE: 2xx sent; the call resends it. Absorbs INVITE retransmissions until 64*T1 (RFC 6026 Timer L).
    Accepted { until: Instant },
    /// Non-INVITE: final response sent; resent on request retransmissions until Timer J.
    NonInviteCompleted { until: Instant },
}

#[derive(Debug)]
struct ServerTransaction {
    key: TransactionKey,
    reply: ReplyRoute,
    /// The last response, resent when the request is retransmitted.
    last_response: Vec<u8>,
    state: ServerState,
    call: Option<CallHandle>,
}

impl ServerTransaction {
    fn deadline(&self) -> Option<Instant> {
        match &self.state {
            ServerState::Proceeding => None,
            ServerState::Completed { resend, give_up_at } => {
                Some(resend.map_or(*give_up_at, |resend| resend.next_at.min(*give_up_at)))
            }
            ServerState::Confirmed { until }
            | ServerState::Accepted { until }
            | ServerState::NonInviteCompleted { until } => Some(*until),
        }
    }
}

/// Our BYE in flight.
#[derive(Debug)]
struct ClientTransaction {
    call: CallHandle,
    request: Vec<u8>,
    destination: SocketAddr,
    transport: Transport,
    /// Timer E (UDP only).
    resend: Option<Backoff>,
    /// Timer F.
    give_up_at: Instant,
    /// Whether the application still waits for a CallEnded about this call.
    report_end: bool,
}

impl ClientTransaction {
    fn deadline(&self) -> Instant {
        self.resend.map_or(self.give_up_at, |resend| {
            resend.next_at.min(self.give_up_at)
        })
    }
}

/// Where responses to one request go (RFC 3261 §18.2.2, RFC 3581).
#[derive(Debug, Clone)]
struct ReplyRoute {
    to: SocketAddr,
    transport: Transport,
}

/// The echo headers with the top Via stamped with `received`/`rport`, and the route for responses.
#[derive(Debug, Clone)]
struct ResponseContext {
    echo: EchoHeaders,
    route: ReplyRoute,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallState {
    /// Initial INVITE not answered yet.
    Offered,
    /// 2xx sent, ACK not received.
    Answered,
    Confirmed,
    /// Our BYE is out.
    Ending,
}

/// An INVITE (initial or re-INVITE) waiting for the application's answer.
#[derive(Debug)]
struct PendingInvite {
    transaction: u64,
    context: ResponseContext,
    cseq: u32,
}

/// Our 2xx to an INVITE, resent until ACK (RFC 3261 §13.3.1.4).
#[derive(Debug)]
struct UnackedOk {
    cseq: u32,
    bytes: Vec<u8>,
    route: ReplyRoute,
    resend: Backoff,
    give_up_at: Instant,
    /// Whether the 2xx carried our offer (the ACK then carries the answer).
    carried_offer: bool,
}

#[derive(Debug)]
struct Call {
    state: CallState,
    call_id: String,
    local_tag: String,
    /// The INVITE's To value without tag: our URI in this dialog.
    local_uri: String,
    /// The INVITE's From value, with the caller's tag.
    remote_party: String,
    remote_tag: Option<String>,
    remote_target: Option<SipUri>,
    /// Record-Route entries in the order received (RFC 3261 §12.1.1).
    route_set: Vec<String>,
    remote_cseq: u32,
    local_cseq: u32,
    signalling: ReplyRoute,
    pending_invite: Option<PendingInvite>,
    unacked_ok: Option<UnackedOk>,
    /// The application hung up before the ACK; the BYE waits for it (RFC 3261 §15).
    bye_after_ack: bool,
    invite_had_offer: bool,
}

/// The SIP endpoint. Feed it datagrams, stream bytes, timeouts and commands; drain transmits and events.
#[derive(Debug)]
pub struct Endpoint {
    config: Config,
    rng: StdRng,
    timers: TimerHeap,
    next_id: u64,
    server_transactions: HashMap<u64, ServerTransaction>,
    server_index: HashMap<TransactionKey, u64>,
    client_transactions: HashMap<u64, ClientTransaction>,
    client_index: HashMap<String, u64>,
    calls: HashMap<u64, Call>,
    /// (Call-ID, our tag) to call.
    dialogs: HashMap<(String, String), u64>,
    framers: HashMap<ConnectionId, StreamFramer>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    refusing_new_calls: bool,
    invite_limiter: InviteLimiter,
}

impl Endpoint {
    pub fn new(config: Config) -> Endpoint {
        let rng = match config.rng_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => rand::make_rng(),
        };
        Endpoint {
            config,
            rng,
            timers: TimerHeap::default(),
            next_id: 1,
            server_transactions: HashMap::new(),
            server_index: HashMap::new(),
            client_transactions: HashMap::new(),
            client_index: HashMap::new(),
            calls: HashMap::new(),
            dialogs: HashMap::new(),
            framers: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            refusing_new_calls: false,
            invite_limiter: InviteLimiter::default(),
        }
    }

    /// Bytes that arrived: one UDP datagram, or a chunk of a TCP stream. An error means the stream cannot be
    /// framed any more and the connection should be closed.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        bytes: &[u8],
    ) -> Result<(), FramingError> {
        match transport {
            Transport::Udp => {
                let decoded = codec::decode_datagram(bytes);
                self.handle_decoded(now, from, transport, decoded);
                Ok(())
            }
            Transport::Tcp(connection) => {
                let framer = self.framers.entry(connection).or_default();
                framer.push(bytes);
                loop {
                    let Some(framer) = self.framers.get_mut(&connection) else {
                        return Ok(());
                    };
                    match framer.next_message() {
                        Ok(Some(codec::Framed::Message(message))) => {
                            self.handle_decoded(now, from, transport, Ok(message))
                        }
                        Ok(Some(codec::Framed::Invalid(error))) => {
                            self.handle_decoded(now, from, transport, Err(error))
                        }
                        Ok(None) => return Ok(()),
                        Err(error) => {
                            self.framers.remove(&connection);
                            return Err(error);
                        }
                    }
                }
            }
        }
    }

    /// The binary closed or lost a stream connection.
    pub fn connection_closed(&mut self, connection: ConnectionId) {
        self.framers.remove(&connection);
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest moment [`Endpoint::handle_timeout`] has work to do.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let (servers, clients, calls) = (
            &self.server_transactions,
            &self.client_transactions,
            &self.calls,
        );
        self.timers.next_deadline(|at, owner| match owner {
            TimerOwner::ServerTransaction(id) => {
                servers.get(&id).and_then(ServerTransaction::deadline) == Some(at)
            }
            TimerOwner::ClientTransaction(id) => {
                clients.get(&id).map(ClientTransaction::deadline) == Some(at)
            }
            TimerOwner::Call(id) => calls.get(&id).and_then(call_deadline) == Some(at),
        })
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(owner) = self.timers.pop_due(now) {
            match owner {
                TimerOwner::ServerTransaction(id) => self.server_timer(now, id),
                TimerOwner::ClientTransaction(id) => self.client_timer(now, id),
                TimerOwner::Call(id) => self.call_timer(now, id),
            }
        }
    }

    /// New INVITEs are refused with 503 while set (during shutdown); calls in progress go on.
    pub fn set_refusing_new_calls(&mut self, refusing: bool) {
        self.refusing_new_calls = refusing;
    }

    /// Calls the endpoint still tracks.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Answers the call's pending INVITE (initial or re-INVITE) with 200 OK carrying `sdp`: our answer, or our
    /// offer when the INVITE came without one.
    pub fn answer(
        &mut self,
        now: Instant,
        call: CallHandle,
        sdp: &SessionDescription,
    ) -> Result<(), CallError> {
        let contact = self.contact_header(call)?;
        let user_agent = self.config.user_agent.clone();
        let timers = self.config.timers;
        let entry = self.calls.get_mut(&call.0).ok_or(CallError::UnknownCall)?;
        let pending = entry
            .pending_invite
            .take()
            .ok_or(CallError::NothingToAnswer)?;
        let body = sdp.to_bytes();
        let extra = vec![
            contact,
            Header::Allow(headers::Allow::new(ALLOWED_METHODS)),
            Header::ContentType(headers::ContentType::new("application/sdp")),
            Header::Server(headers::Server::new(user_agent)),
        ];
        let bytes = build_response(&pending.context, 200, Some(&entry.local_tag), extra, &body);
        entry.unacked_ok = Some(UnackedOk {
            cseq: pending.cseq,
            bytes: bytes.clone(),
            route: pending.context.route.clone(),
            resend: Backoff::new(now, timers.t1, timers.t2),
            give_up_at: now + timers.transaction_timeout(),
            carried_offer: !entry.invite_had_offer,
        });
        if entry.state == CallState::Offered {
            entry.state = CallState::Answered;
        }
        self.timers
            .schedule(now + timers.t1, TimerOwner::Call(call.0));
        self.queue(&pending.context.route, bytes.clone());
        if let Some(transaction) = self.server_transactions.get_mut(&pending.transaction) {
            transaction.last_response = bytes;
            transaction.state = ServerState::Accepted {
                until: now + timers.transaction_timeout(),
            };
            self.timers.schedule(
                now + timers.transaction_timeout(),
                TimerOwner::ServerTransaction(pending.transaction),
            );
        }
        Ok(())
    }

    /// Refuses the call's pending INVITE with a 3xx-6xx status. For the initial INVITE the call ends here;
    /// refusing a re-INVITE keeps the call with its current media.
    pub fn reject(&mut self, now: Instant, call: CallHandle, status: u16) -> Result<(), CallError> {
        if !(300..700).contains(&status) {
            return Err(CallError::InvalidStatus(status));
        }
        let entry = self.calls.get_mut(&call.0).ok_or(CallError::UnknownCall)?;
        let pending = entry
            .pending_invite
            .take()
            .ok_or(CallError::NothingToAnswer)?;
        let tag = entry.local_tag.clone();
        let initial = entry.state == CallState::Offered;
        let mut extra = Vec::new();
        if status == 488 {
            extra.push(Header::Accept(headers::Accept::new("application/sdp")));
        }
        self.finish_invite(now, &pending, status, &tag, extra);
        if initial {
            self.remove_call(call);
        }
        Ok(())
    }

    /// Ends the call: an unanswered call is refused with 480, an answered one gets our BYE (sent once the
    /// caller has acknowledged our 2xx). [`Event::CallEnded`] follows when the BYE is answered or times out.
    pub fn hang_up(&mut self, now: Instant, call: CallHandle) -> Result<(), CallError> {
        let entry = self.calls.get_mut(&call.0).ok_or(CallError::UnknownCall)?;
        match entry.state {
            CallState::Offered => return self.reject(now, call, 480),
            CallState::Answered => entry.bye_after_ack = true,
            CallState::Confirmed => {
                if let Some(pending) = entry.pending_invite.take() {
                    let tag = entry.local_tag.clone();
                    self.finish_invite(now, &pending, 487, &tag, Vec::new());
                }
                self.send_bye(now, call, true);
            }
            CallState::Ending => {}
        }
        Ok(())
    }

    fn contact_header(&self, call: CallHandle) -> Result<Header, CallError> {
        let entry = self.calls.get(&call.0).ok_or(CallError::UnknownCall)?;
        let local = self.local_addr_for(entry.signalling.to.ip());
        let transport = match entry.signalling.transport {
            Transport::Udp => "",
            Transport::Tcp(_) => ";transport=tcp",
        };
        Ok(Header::Contact(headers::Contact::new(format!(
            "<sip:{}@{}:{}{}>",
            self.config.contact_user,
            uri_host(local.ip()),
            local.port(),
            transport
        ))))
    }

    fn local_addr_for(&self, remote: IpAddr) -> SocketAddr {
        let addrs = &self.config.local_addrs;
        addrs
            .iter()
            .find(|addr| addr.is_ipv6() == remote.is_ipv6())
            .or(addrs.first())
            .copied()
            .unwrap_or_else(|| SocketAddr::new(remote, 5060))
    }

    fn fresh_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn random_token(&mut self) -> String {
        format!("{:016x}", self.rng.next_u64())
    }

    fn queue(&mut self, route: &ReplyRoute, bytes: Vec<u8>) {
        self.transmits.push_back(Transmit {
            to: route.to,
            transport: route.transport,
            bytes,
        });
    }

    fn handle_decoded(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        decoded: Result<Message, codec::DecodeError>,
    ) {
        match decoded {
            Ok(Message::Request(request)) => self.handle_request(now, from, transport, request),
            Ok(Message::Response(response)) => self.handle_response(now, response),
            Err(error) => {
                if let Some(reply) = error.reply {
                    let context = response_context(reply.echo, from, transport);
                    let bytes = build_response(&context, reply.status, None, Vec::new(), &[]);
                    self.queue(&context.route, bytes);
                }
            }
        }
    }

    fn handle_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        request: Request,
    ) {
        let Some(echo) = EchoHeaders::from_headers(&request.headers) else {
            return;
        };
        let Some((cseq, cseq_method)) = parse_cseq(&echo.cseq) else {
            let context = response_context(echo, from, transport);
            let bytes = build_response(&context, 400, None, Vec::new(), &[]);
            self.queue(&context.route, bytes);
            return;
        };
        let key = transaction_key(&request, &echo, cseq);
        let context = response_context(echo, from, transport);
        if cseq_method != request.method {
            // ACK and CANCEL carry their own method in CSeq too (RFC 3261 §8.1.1.5).
            self.respond_stateless(&context, 400, Vec::new());
            return;
        }
        match request.method {
            Method::Ack => return self.handle_ack(now, key, &request, &context),
            Method::Cancel => return self.handle_cancel(now, key, &context),
            _ => {}
        }
        if let Some(&id) = self.server_index.get(&key) {
            // A retransmission: resend what we last sent (RFC 3261 §17.2.1, §17.2.2).
            if let Some(transaction) = self.server_transactions.get(&id) {
                let (route, bytes) = (transaction.reply.clone(), transaction.last_response.clone());
                self.queue(&route, bytes);
            }
            return;
        }
        if !self.config.access.allows(from.ip()) {
            return match request.method {
                Method::Invite => self.refuse_invite(now, key, &context, 403, Vec::new()),
                _ => self.respond_non_invite(now, key, &context, 403, Vec::new()),
            };
        }
        let unsupported = unsupported_requirements(&request.headers);
        if !unsupported.is_empty() {
            let extra = vec![Header::Unsupported(headers::Unsupported::new(
                unsupported.join(", "),
            ))];
            self.respond_non_invite(now, key, &context, 420, extra);
            return;
        }
        let to_tag = NameAddr::parse(&context.echo.to)
            .ok()
            .and_then(|to| to.tag().map(str::to_owned));
        match to_tag {
            Some(tag) => self.handle_in_dialog(now, key, request, context, cseq, tag),
            None => match request.method {
                Method::Invite => self.handle_new_invite(now, key, request, context, cseq),
                Method::Options => {
                    self.respond_non_invite(now, key, &context, 200, options_headers())
                }
                Method::Bye | Method::Info => {
                    self.respond_non_invite(now, key, &context, 481, Vec::new())
                }
                _ => self.respond_non_invite(now, key, &context, 405, vec![allow_header()]),
            },
        }
    }

    fn handle_new_invite(
        &mut self,
        now: Instant,
        key: TransactionKey,
        request: Request,
        context: ResponseContext,
        cseq: u32,
    ) {
        if self.refusing_new_calls {
            return self.refuse_invite(now, key, &context, 503, Vec::new());
        }
        let source = context.route.to.ip();
        if let Some(limit) = self.config.access.invite_rate
            && !self.config.access.trusts(source)
            && !self.invite_limiter.admit(source, limit, now)
        {
            let extra = vec![Header::RetryAfter(headers::RetryAfter::new("5"))];
            return self.refuse_invite(now, key, &context, 503, extra);
        }
        if !accepts_sdp(&request.headers) {
            return self.refuse_invite(now, key, &context, 406, Vec::new());
        }
        let offer = match read_offer(&request) {
            Ok(offer) => offer,
            Err((status, extra)) => return self.refuse_invite(now, key, &context, status, extra),
        };
        if offer
            .as_ref()
            .is_some_and(|offer| !sdp::offer_is_acceptable(offer))
        {
            let extra = vec![Header::Accept(headers::Accept::new("application/sdp"))];
            return self.refuse_invite(now, key, &context, 488, extra);
        }
        let Ok(from) = NameAddr::parse(&context.echo.from) else {
            return self.refuse_invite(now, key, &context, 400, Vec::new());
        };
        let Ok(to) = NameAddr::parse(&context.echo.to) else {
            return self.refuse_invite(now, key, &context, 400, Vec::new());
        };
        let remote_target = request
            .headers
            .iter()
            .find_map(|header| match header {
                Header::Contact(contact) => split_list(contact.value())
                    .first()
                    .and_then(|c| NameAddr::parse(c).ok()),
                _ => None,
            })
            .map(|contact| contact.uri);
        let handle = CallHandle(self.fresh_id());
        let local_tag = self.random_token();
        let transaction = self.start_invite_transaction(key, &context, handle);
        let call = Call {
            state: CallState::Offered,
            call_id: context.echo.call_id.clone(),
            local_tag: local_tag.clone(),
            local_uri: context.echo.to.clone(),
            remote_party: context.echo.from.clone(),
            remote_tag: from.tag().map(str::to_owned),
            remote_target,
            route_set: record_routes(&request.headers),
            remote_cseq: cseq,
            local_cseq: 0,
            signalling: context.route.clone(),
            pending_invite: Some(PendingInvite {
                transaction,
                context: context.clone(),
                cseq,
            }),
            unacked_ok: None,
            bye_after_ack: false,
            invite_had_offer: offer.is_some(),
        };
        self.dialogs
            .insert((call.call_id.clone(), local_tag), handle.0);
        self.calls.insert(handle.0, call);
        self.events.push_back(Event::IncomingCall(IncomingCall {
            call: handle,
            request_uri_user: request.uri.user.clone(),
            asserted_user: self
                .config
                .access
                .trusts(context.route.to.ip())
                .then(|| asserted_identity(&request.headers))
                .flatten(),
            from_user: from.uri.user,
            from_display: from.display,
            to_user: to.uri.user,
            offer,
            remote: context.route.to,
            transport: context.route.transport,
            call_id: context.echo.call_id.clone(),
        }));
    }

    fn handle_in_dialog(
        &mut self,
        now: Instant,
        key: TransactionKey,
        request: Request,
        context: ResponseContext,
        cseq: u32,
        to_tag: String,
    ) {
        let Some(&id) = self.dialogs.get(&(context.echo.call_id.clone(), to_tag)) else {
            return match request.method {
                Method::Invite => self.refuse_invite(now, key, &context, 481, Vec::new()),
                _ => self.respond_non_invite(now, key, &context, 481, Vec::new()),
            };
        };
        let handle = CallHandle(id);
        let from_tag = NameAddr::parse(&context.echo.from)
            .ok()
            .and_then(|from| from.tag().map(str::to_owned));
        let Some(call) = self
            .calls
            .get_mut(&id)
            .filter(|call| call.remote_tag == from_tag)
        else {
            return self.respond_non_invite(now, key, &context, 481, Vec::new());
        };
        if cseq <= call.remote_cseq {
            // Out of order (RFC 3261 §12.2.2).
            let extra = vec![Header::RetryAfter(headers::RetryAfter::new("1"))];
            return match request.method {
                Method::Invite => self.refuse_invite(now, key, &context, 500, extra),
                _ => self.respond_non_invite(now, key, &context, 500, extra),
            };
        }
        call.remote_cseq = cseq;
        match request.method {
            Method::Bye => {
                let tag = call.local_tag.clone();
                if let Some(pending) = call.pending_invite.take() {
                    self.finish_invite(now, &pending, 487, &tag, Vec::new());
                }
                self.respond_non_invite(now, key, &context, 200, Vec::new());
                self.remove_call(handle);
                self.events.push_back(Event::CallEnded {
                    call: handle,
                    by_remote: true,
                });
            }
            Method::Info => {
                let (status, extra) = match read_info(&request) {
                    InfoBody::Digit(press) => {
                        self.events.push_back(Event::Dtmf {
                            call: handle,
                            digit: press.digit,
                            duration: press.duration,
                        });
                        (200, Vec::new())
                    }
                    InfoBody::Empty => (200, Vec::new()),
                    InfoBody::Unreadable => (400, Vec::new()),
                    InfoBody::UnsupportedType => (
                        415,
                        vec![Header::Accept(headers::Accept::new(
                            "application/dtmf-relay, application/dtmf",
                        ))],
                    ),
                };
                self.respond_non_invite(now, key, &context, status, extra);
            }
            Method::Options => self.respond_non_invite(now, key, &context, 200, options_headers()),
            Method::Invite => self.handle_reinvite(now, key, request, context, cseq, handle),
            _ => self.respond_non_invite(now, key, &context, 405, vec![allow_header()]),
        }
    }

    fn handle_reinvite(
        &mut self,
        now: Instant,
        key: TransactionKey,
        request: Request,
        context: ResponseContext,
        cseq: u32,
        handle: CallHandle,
    ) {
        let Some(call) = self.calls.get(&handle.0) else {
            return;
        };
        if call.pending_invite.is_some()
            || call.unacked_ok.is_some()
            || call.state != CallState::Confirmed
        {
            // One INVITE at a time (RFC 3261 §14.2).
            let extra = vec![Header::RetryAfter(headers::RetryAfter::new("2"))];
            return self.refuse_invite(now, key, &context, 500, extra);
        }
        let tag = call.local_tag.clone();
        if !accepts_sdp(&request.headers) {
            return self.refuse_invite_with_tag(now, key, &context, 406, Vec::new(), &tag);
        }
        let offer = match read_offer(&request) {
            Ok(offer) => offer,
            Err((status, extra)) => return self.refuse_invite(now, key, &context, status, extra),
        };
        if offer
            .as_ref()
            .is_some_and(|offer| !sdp::offer_is_acceptable(offer))
        {
            let extra = vec![Header::Accept(headers::Accept::new("application/sdp"))];
            return self.refuse_invite_with_tag(now, key, &context, 488, extra, &tag);
        }
        let transaction = self.start_invite_transaction(key, &context, handle);
        let Some(call) = self.calls.get_mut(&handle.0) else {
            return;
        };
        if let Some(contact) = request.headers.iter().find_map(|header| match header {
            Header::Contact(contact) => split_list(contact.value())
                .first()
                .and_then(|c| NameAddr::parse(c).ok()),
            _ => None,
        }) {
            // A target refresh (RFC 3261 §12.2.2).
            call.remote_target = Some(contact.uri);
        }
        call.invite_had_offer = offer.is_some();
        call.pending_invite = Some(PendingInvite {
            transaction,
            context,
            cseq,
        });
        self.events.push_back(Event::MediaChanged {
            call: handle,
            offer,
        });
    }

    fn handle_ack(
        &mut self,
        now: Instant,
        key: TransactionKey,
        request: &Request,
        context: &ResponseContext,
    ) {
        // ACK for a 3xx-6xx: same transaction as the INVITE.
        if let Some(&id) = self.server_index.get(&key)
            && let Some(transaction) = self.server_transactions.get_mut(&id)
        {
            match transaction.state {
                ServerState::Completed { .. } => {
                    let linger = if transaction.reply.transport.is_reliable() {
                        Duration::ZERO
                    } else {
                        self.config.timers.t4
                    };
                    transaction.state = ServerState::Confirmed {
                        until: now + linger,
                    };
                    self.timers
                        .schedule(now + linger, TimerOwner::ServerTransaction(id));
                    return;
                }
                ServerState::Confirmed { .. } => return,
                _ => {}
            }
        }
        // ACK for a 2xx: its own transaction, matched to the dialog (RFC 3261 §13.3.1.4).
        let Some(to_tag) = NameAddr::parse(&context.echo.to)
            .ok()
            .and_then(|to| to.tag().map(str::to_owned))
        else {
            return;
        };
        let Some(&id) = self.dialogs.get(&(context.echo.call_id.clone(), to_tag)) else {
            return;
        };
        let Some(cseq) = parse_cseq(&context.echo.cseq).map(|(number, _)| number) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.unacked_ok.as_ref().is_none_or(|ok| ok.cseq != cseq) {
            return;
        }
        let ok = call.unacked_ok.take();
        call.state = if call.state == CallState::Ending {
            CallState::Ending
        } else {
            CallState::Confirmed
        };
        let answer = match ok.is_some_and(|ok| ok.carried_offer) {
            true => std::str::from_utf8(&request.body)
                .ok()
                .and_then(|body| SessionDescription::parse(body).ok()),
            false => None,
        };
        let send_bye = std::mem::take(&mut call.bye_after_ack);
        self.events.push_back(Event::CallAcked {
            call: CallHandle(id),
            answer,
        });
        if send_bye {
            self.send_bye(now, CallHandle(id), true);
        }
    }

    fn handle_cancel(&mut self, now: Instant, key: TransactionKey, context: &ResponseContext) {
        if let Some(&id) = self.server_index.get(&key) {
            // A retransmitted CANCEL.
            if let Some(transaction) = self.server_transactions.get(&id) {
                let (route, bytes) = (transaction.reply.clone(), transaction.last_response.clone());
                self.queue(&route, bytes);
            }
            return;
        }
        let invite_key = match &key {
            TransactionKey::Branch {
                branch, sent_by, ..
            } => TransactionKey::Branch {
                branch: branch.clone(),
                sent_by: sent_by.clone(),
                method: Method::Invite,
            },
            TransactionKey::Legacy {
                call_id,
                cseq,
                from_tag,
                via,
                ..
            } => TransactionKey::Legacy {
                call_id: call_id.clone(),
                cseq: *cseq,
                from_tag: from_tag.clone(),
                via: via.clone(),
                method: Method::Invite,
            },
        };
        let invite = self.server_index.get(&invite_key).copied();
        let Some(invite) = invite else {
            return self.respond_non_invite(now, key, context, 481, Vec::new());
        };
        self.respond_non_invite(now, key, context, 200, Vec::new());
        let Some(handle) = self.server_transactions.get(&invite).and_then(|t| t.call) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&handle.0) else {
            return;
        };
        let pending_here = call
            .pending_invite
            .as_ref()
            .is_some_and(|p| p.transaction == invite);
        if !pending_here {
            // Already answered: the CANCEL has no effect (RFC 3261 §9.2).
            return;
        }
        let pending = call.pending_invite.take();
        let tag = call.local_tag.clone();
        let initial = call.state == CallState::Offered;
        if let Some(pending) = pending {
            self.finish_invite(now, &pending, 487, &tag, Vec::new());
        }
        if initial {
            self.remove_call(handle);
            self.events.push_back(Event::CallCancelled { call: handle });
        }
    }

    fn handle_response(&mut self, now: Instant, response: Response) {
        let Some(echo) = EchoHeaders::from_headers(&response.headers) else {
            return;
        };
        let Some(branch) = echo.top_via.branch() else {
            return;
        };
        let Some(&id) = self.client_index.get(branch) else {
            return;
        };
        if response.status < 200 {
            if let Some(transaction) = self.client_transactions.get_mut(&id)
                && let Some(resend) = transaction.resend.as_mut()
            {
                resend.slow_down(now);
                let at = transaction.deadline();
                self.timers.schedule(at, TimerOwner::ClientTransaction(id));
            }
            return;
        }
        self.finish_client_transaction(id);
    }

    fn finish_client_transaction(&mut self, id: u64) {
        let Some(transaction) = self.client_transactions.remove(&id) else {
            return;
        };
        self.client_index.retain(|_, &mut value| value != id);
        self.remove_call(transaction.call);
        if transaction.report_end {
            self.events.push_back(Event::CallEnded {
                call: transaction.call,
                by_remote: false,
            });
        }
    }

    fn server_timer(&mut self, now: Instant, id: u64) {
        let Some(transaction) = self.server_transactions.get_mut(&id) else {
            return;
        };
        let mut resend_now = false;
        let finished = match &mut transaction.state {
            ServerState::Proceeding => false,
            ServerState::Completed { resend, give_up_at } => {
                if now >= *give_up_at {
                    true // Timer H: the ACK never came; the call is already gone.
                } else {
                    if let Some(resend) = resend.as_mut().filter(|resend| now >= resend.next_at) {
                        resend.advance(now);
                        resend_now = true; // Timer G
                    }
                    false
                }
            }
            ServerState::Confirmed { until }
            | ServerState::Accepted { until }
            | ServerState::NonInviteCompleted { until } => now >= *until,
        };
        if finished {
            if let Some(transaction) = self.server_transactions.remove(&id) {
                self.server_index.remove(&transaction.key);
            }
            return;
        }
        if resend_now {
            let (route, bytes) = (transaction.reply.clone(), transaction.last_response.clone());
            self.queue(&route, bytes);
        }
        if let Some(at) = self
            .server_transactions
            .get(&id)
            .and_then(ServerTransaction::deadline)
        {
            self.timers.schedule(at, TimerOwner::ServerTransaction(id));
        }
    }

    fn client_timer(&mut self, now: Instant, id: u64) {
        let Some(transaction) = self.client_transactions.get_mut(&id) else {
            return;
        };
        if now >= transaction.give_up_at {
            // Timer F: nobody answered our BYE; the call is over all the same.
            return self.finish_client_transaction(id);
        }
        if let Some(resend) = transaction
            .resend
            .as_mut()
            .filter(|resend| now >= resend.next_at)
        {
            resend.advance(now);
            let transmit = Transmit {
                to: transaction.destination,
                transport: transaction.transport,
                bytes: transaction.request.clone(),
            };
            self.transmits.push_back(transmit);
        }
        let at = transaction.deadline();
        self.timers.schedule(at, TimerOwner::ClientTransaction(id));
    }

    fn call_timer(&mut self, now: Instant, id: u64) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(ok) = call.unacked_ok.as_mut() else {
            return;
        };
        if now >= ok.give_up_at {
            // No ACK within 64*T1: the call failed; end the session with a BYE (RFC 3261 §13.3.1.4).
            call.unacked_ok = None;
            call.bye_after_ack = false;
            call.state = CallState::Confirmed;
            self.events.push_back(Event::CallFailed {
                call: CallHandle(id),
                reason: CallFailure::NoAck,
            });
            self.send_bye(now, CallHandle(id), false);
            return;
        }
        if now >= ok.resend.next_at {
            ok.resend.advance(now);
            let transmit = Transmit {
                to: ok.route.to,
                transport: ok.route.transport,
                bytes: ok.bytes.clone(),
            };
            self.transmits.push_back(transmit);
        }
        if let Some(at) = call_deadline(call) {
            self.timers.schedule(at, TimerOwner::Call(id));
        }
    }

    fn insert_server_transaction(&mut self, id: u64, transaction: ServerTransaction) {
        if let Some(at) = transaction.deadline() {
            self.timers.schedule(at, TimerOwner::ServerTransaction(id));
        }
        self.server_index.insert(transaction.key.clone(), id);
        self.server_transactions.insert(id, transaction);
    }

    /// Sends a final non-2xx response to a pending INVITE and moves its transaction to Completed.
    fn finish_invite(
        &mut self,
        now: Instant,
        pending: &PendingInvite,
        status: u16,
        tag: &str,
        extra: Vec<Header>,
    ) {
        let bytes = build_response(&pending.context, status, Some(tag), extra, &[]);
        self.queue(&pending.context.route, bytes.clone());
        let timers = self.config.timers;
        if let Some(transaction) = self.server_transactions.get_mut(&pending.transaction) {
            let resend = (!transaction.reply.transport.is_reliable())
                .then(|| Backoff::new(now, timers.t1, timers.t2));
            transaction.last_response = bytes;
            transaction.state = ServerState::Completed {
                resend,
                give_up_at: now + timers.transaction_timeout(),
            };
            if let Some(at) = transaction.deadline() {
                self.timers
                    .schedule(at, TimerOwner::ServerTransaction(pending.transaction));
            }
        }
    }

    /// Refuses an INVITE before any call exists, with a fresh To tag.
    /// Answers an INVITE with 100 Trying at once and opens its server transaction (RFC 3261 §17.2.1).
    fn start_invite_transaction(
        &mut self,
        key: TransactionKey,
        context: &ResponseContext,
        handle: CallHandle,
    ) -> u64 {
        let transaction = self.fresh_id();
        let trying = build_response(context, 100, None, Vec::new(), &[]);
        self.queue(&context.route, trying.clone());
        self.insert_server_transaction(
            transaction,
            ServerTransaction {
                key,
                reply: context.route.clone(),
                last_response: trying,
                state: ServerState::Proceeding,
                call: Some(handle),
            },
        );
        transaction
    }

    fn refuse_invite(
        &mut self,
        now: Instant,
        key: TransactionKey,
        context: &ResponseContext,
        status: u16,
        extra: Vec<Header>,
    ) {
        let tag = self.random_token();
        self.refuse_invite_with_tag(now, key, context, status, extra, &tag);
    }

    fn refuse_invite_with_tag(
        &mut self,
        now: Instant,
        key: TransactionKey,
        context: &ResponseContext,
        status: u16,
        extra: Vec<Header>,
        tag: &str,
    ) {
        let id = self.fresh_id();
        self.insert_server_transaction(
            id,
            ServerTransaction {
                key,
                reply: context.route.clone(),
                last_response: Vec::new(),
                state: ServerState::Proceeding,
                call: None,
            },
        );
        let pending = PendingInvite {
            transaction: id,
            context: context.clone(),
            cseq: 0,
        };
        self.finish_invite(now, &pending, status, tag, extra);
    }

    /// Answers a non-INVITE request and keeps the response for retransmissions until Timer J.
    fn respond_non_invite(
        &mut self,
        now: Instant,
        key: TransactionKey,
        context: &ResponseContext,
        status: u16,
        extra: Vec<Header>,
    ) {
        let tag = (status != 100).then(|| self.random_token());
        let to_has_tag = NameAddr::parse(&context.echo.to).is_ok_and(|to| to.tag().is_some());
        let tag = if to_has_tag { None } else { tag };
        let bytes = build_response(context, status, tag.as_deref(), extra, &[]);
        self.queue(&context.route, bytes.clone());
        if context.route.transport.is_reliable() {
            return; // Timer J is zero on reliable transports.
        }
        let id = self.fresh_id();
        let until = now + self.config.timers.transaction_timeout();
        self.insert_server_transaction(
            id,
            ServerTransaction {
                key,
                reply: context.route.clone(),
                last_response: bytes,
                state: ServerState::NonInviteCompleted { until },
                call: None,
            },
        );
    }

    fn respond_stateless(&mut self, context: &ResponseContext, status: u16, extra: Vec<Header>) {
        let bytes = build_response(context, status, None, extra, &[]);
        self.queue(&context.route, bytes);
    }

    fn remove_call(&mut self, call: CallHandle) {
        if let Some(entry) = self.calls.remove(&call.0) {
            self.dialogs.remove(&(entry.call_id, entry.local_tag));
        }
    }

    /// Sends our BYE within the call's dialog (RFC 3261 §15.1.1) as a non-INVITE client transaction.
    fn send_bye(&mut self, now: Instant, call: CallHandle, report_end: bool) {
        let branch = format!("{MAGIC_COOKIE}{}", self.random_token());
        let timers = self.config.timers;
        let Some(entry) = self.calls.get(&call.0) else {
            return;
        };
        let local = self.local_addr_for(entry.signalling.to.ip());
        let transport = entry.signalling.transport;
        let (request_uri, routes, next_hop) = bye_target(entry);
        let destination = match (transport, next_hop) {
            (Transport::Udp, Some(hop)) => hop,
            _ => entry.signalling.to,
        };
        let local_cseq = entry.local_cseq + 1;
        let mut request_headers = vec![
            Header::Via(headers::Via::new(format!(
                "SIP/2.0/{} {}:{};branch={branch};rport",
                transport.via_name(),
                uri_host(local.ip()),
                local.port()
            ))),
            Header::MaxForwards(headers::MaxForwards::new("70")),
        ];
        request_headers.extend(
            routes
                .into_iter()
                .map(|route| Header::Route(headers::Route::new(route))),
        );
        request_headers.extend([
            Header::From(headers::From::new(format!(
                "{};tag={}",
                entry.local_uri, entry.local_tag
            ))),
            Header::To(headers::To::new(entry.remote_party.clone())),
            Header::CallId(headers::CallId::new(entry.call_id.clone())),
            Header::CSeq(headers::CSeq::new(format!("{local_cseq} BYE"))),
            Header::UserAgent(headers::UserAgent::new(self.config.user_agent.clone())),
        ]);
        let bytes = codec::encode_request(&Method::Bye, &request_uri, &request_headers, &[]);
        if let Some(entry) = self.calls.get_mut(&call.0) {
            entry.local_cseq = local_cseq;
            entry.state = CallState::Ending;
        }
        let id = self.fresh_id();
        let transaction = ClientTransaction {
            call,
            request: bytes.clone(),
            destination,
            transport,
            resend: (!transport.is_reliable()).then(|| Backoff::new(now, timers.t1, timers.t2)),
            give_up_at: now + timers.transaction_timeout(),
            report_end,
        };
        self.timers
            .schedule(transaction.deadline(), TimerOwner::ClientTransaction(id));
        self.client_transactions.insert(id, transaction);
        self.client_index.insert(branch, id);
        self.transmits.push_back(Transmit {
            to: destination,
            transport,
            bytes,
        });
    }
}

fn call_deadline(call: &Call) -> Option<Instant> {
    call.unacked_ok
        .as_ref()
        .map(|ok| ok.resend.next_at.min(ok.give_up_at))
}

/// Request-URI, Route headers and next hop for a request in the dialog (RFC 3261 §12.2.1.1).
fn bye_target(call: &Call) -> (String, Vec<String>, Option<SocketAddr>) {
    let target = call.remote_target.as_ref();
    let target_text =
        target.map_or_else(|| remote_uri_of(&call.remote_party), |uri| uri.raw.clone());
    let hop = |uri: &SipUri| {
        uri.ip()
            .map(|ip| SocketAddr::new(ip, uri.port.unwrap_or(5060)))
    };
    let Some(first) = call
        .route_set
        .first()
        .and_then(|route| NameAddr::parse(route).ok())
    else {
        return (target_text, Vec::new(), target.and_then(hop));
    };
    if first.uri.param("lr").is_some() {
        (target_text, call.route_set.clone(), hop(&first.uri))
    } else {
        // Strict router: it becomes the Request-URI and the target goes last in Route.
        let mut routes: Vec<String> = call.route_set[1..].to_vec();
        routes.push(format!("<{target_text}>"));
        (first.uri.raw.clone(), routes, hop(&first.uri))
    }
}

fn remote_uri_of(party: &str) -> String {
    NameAddr::parse(party)
        .map(|name_addr| name_addr.uri.raw)
        .unwrap_or_default()
}

fn record_routes(headers: &rsip::Headers) -> Vec<String> {
    headers
        .iter()
        .filter_map(|header| match header {
            Header::RecordRoute(route) => Some(split_list(route.value())),
            _ => None,
        })
        .flatten()
        .map(str::to_owned)
        .collect()
}

/// Stamps the top Via and picks where responses go.
fn response_context(
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

fn build_response(
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

fn allow_header() -> Header {
    Header::Allow(headers::Allow::new(ALLOWED_METHODS))
}

fn options_headers() -> Vec<Header> {
    vec![
        allow_header(),
        Header::Accept(headers::Accept::new("application/sdp")),
    ]
}

/// Option tags in Require we do not support: we support none (RFC 3261 §8.2.2.3).
fn unsupported_requirements(headers: &rsip::Headers) -> Vec<String> {
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
fn accepts_sdp(headers: &rsip::Headers) -> bool {
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
fn read_offer(request: &Request) -> Result<Option<SessionDescription>, (u16, Vec<Header>)> {
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

enum InfoBody {
    Digit(InfoDigit),
    Empty,
    Unreadable,
    UnsupportedType,
}

fn read_info(request: &Request) -> InfoBody {
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

#[cfg(test)]
#[path = "endpoint_tests.rs"]
mod tests;

/// The user part of the first P-Asserted-Identity (RFC 3325), if the request has one.
fn asserted_identity(headers: &rsip::Headers) -> Option<String> {
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
