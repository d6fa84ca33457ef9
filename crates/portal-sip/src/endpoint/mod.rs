//! The SIP endpoint: one sans-IO value holding every transaction, dialog and call, and the types the
//! application meets (events, commands, transmits, settings). This file is its public surface and routes input;
//! the work is done in the submodules, one job each:
//!
//! - `transaction`: server transactions (RFC 3261 §17.2), our BYE's client transaction (§17.1.2), their keys;
//! - `dialog`: calls and dialogs (§12): the call's state, our 2xx resent until the ACK, route set, BYE target;
//! - `response`: where responses go, how they are built, and the request readers deciding them;
//! - `statistics`: counts of messages in and out, by method and status, for metrics.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rsip::Header;
use rsip::headers::{self, UntypedHeader};

use crate::access::{AccessPolicy, InviteLimiter};
use crate::codec::{self, EchoHeaders, FramingError, Message, Request, StreamFramer};
use crate::sdp::SessionDescription;
use crate::syntax::{Method, NameAddr, parse_cseq};
use crate::timer::{Backoff, TimerConfig, TimerHeap, TimerOwner};

use connection::Connections;
pub use connection::{ConnectionLimits, ConnectionRefused};
use dialog::{Call, CallState, UnackedOk, call_deadline};
use response::{
    ReplyRoute, allow_header, build_response, options_headers, response_context,
    unsupported_requirements,
};
pub use statistics::{Direction, SipStatistics};
use transaction::{ClientTransaction, ServerTransaction, TransactionKey, transaction_key};

mod connection;
mod dialog;
mod response;
mod statistics;
#[cfg(test)]
mod tests;
mod transaction;

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
    /// The caller the portal may believe: a trusted peer's asserted identity, else the From user when the
    /// INVITE came from a network the operator declared (`AccessPolicy::identify_from`), else `None` (From is
    /// not authenticated: the caller takes the star-key path).
    pub identified_user: Option<String>,
    pub from_display: Option<String>,
    pub to_user: Option<String>,
    /// `None` when the INVITE carried no SDP: answer with an offer, the answer comes in the ACK.
    pub offer: Option<SessionDescription>,
    /// Where the INVITE came from.
    pub remote: SocketAddr,
    pub transport: Transport,
    pub call_id: String,
    /// The user this call was forwarded for and why (RFC 4458, History-Info or Diversion), only when the
    /// INVITE came from a trusted peer: from anyone else it is ignored, since it would let a stranger leave
    /// messages in any mailbox and learn, from the greeting, which numbers have one.
    pub redirection: Option<crate::redirection::Redirection>,
    /// The INVITE's Priority is `urgent` or `emergency` (RFC 3261 §20.26).
    pub urgent: bool,
}

/// Why a call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallFailure {
    /// Our 2xx was never acknowledged (Timer H).
    NoAck,
}

/// What happened, for the application.
// One IncomingCall a call, moved out at once: boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
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
    /// Close this stream connection: nothing complete arrived on it for the idle timeout.
    CloseConnection {
        connection: ConnectionId,
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
    /// Stream connections: caps and idle timeout.
    pub connections: ConnectionLimits,
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
            connections: ConnectionLimits::default(),
        }
    }
}

/// The SIP endpoint: every transaction, dialog and call behind one set of signalling addresses, as a value.
///
/// It does no I/O and reads no clock: bytes and [`Instant`]s come in as arguments, bytes and events go out
/// through queues. Its methods come in four kinds, as quinn-proto's `Connection`'s do:
///
/// - **Getters** read state without changing it: [`call_count`](Self::call_count).
/// - **`handle_*`** feed input: [`handle_datagram`](Self::handle_datagram) with what a socket received and
///   [`connection_closed`](Self::connection_closed) when a stream ends. The application's commands
///   ([`answer`](Self::answer), [`reject`](Self::reject), [`hang_up`](Self::hang_up),
///   [`set_refusing_new_calls`](Self::set_refusing_new_calls)) are input of the same kind.
/// - **Timers**: [`poll_timeout`](Self::poll_timeout) gives the earliest deadline, and
///   [`handle_timeout`](Self::handle_timeout) runs every timer due at the instant passed.
/// - **`poll_*`** drain output: [`poll_event`](Self::poll_event) for the application,
///   [`poll_transmit`](Self::poll_transmit) for the sockets; each returns `None` once empty.
///
/// The drain rule: after every `handle_*` call or command, drain `poll_event` and `poll_transmit` until both
/// return `None`, then sleep until `poll_timeout` (or the next packet) and call `handle_timeout`. A command
/// given while reacting to an event queues more output, so drain again after it. Nothing is lost by draining
/// late, but it is sent late, and a stale `poll_timeout` may miss a timer set since.
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
    connections: Connections,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    refusing_new_calls: bool,
    invite_limiter: InviteLimiter,
    rate_limited: RateLimited,
    refusals: VecDeque<Refusal>,
    statistics: SipStatistics,
}

/// A request the endpoint refused, for the driver's security log and metrics (see [`Endpoint::poll_refusal`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The source address.
    pub from: IpAddr,
    /// The status it was refused with (400 unreadable, 403 network not allowed, 404, 405/501 method, 420, 481,
    /// 488, 503 rate limit or shutdown, 513 too large ...), or `None` when it was dropped unanswered (rate
    /// limited past the refusal budget).
    pub status: Option<u16>,
}

/// Refusals kept for the driver at most; past that the oldest go (they only feed a log).
const MAX_PENDING_REFUSALS: usize = 1024;

/// INVITEs the per-source rate limit turned away, since the endpoint started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimited {
    /// Answered with one 503 (not retransmitted).
    pub refused: u64,
    /// Dropped without an answer: their host had used up its refusals.
    pub dropped: u64,
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
            connections: Connections::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            refusing_new_calls: false,
            invite_limiter: InviteLimiter::default(),
            rate_limited: RateLimited::default(),
            refusals: VecDeque::new(),
            statistics: SipStatistics::default(),
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
            Transport::Tcp(connection) => self.handle_stream(now, from, connection, bytes),
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let transmit = self.transmits.pop_front()?;
        self.statistics.sent(&transmit.bytes);
        Some(transmit)
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest moment [`Endpoint::handle_timeout`] has work to do.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let (servers, clients, calls, connections) = (
            &self.server_transactions,
            &self.client_transactions,
            &self.calls,
            &self.connections,
        );
        self.timers.next_deadline(|at, owner| match owner {
            TimerOwner::ServerTransaction(id) => {
                servers.get(&id).and_then(ServerTransaction::deadline) == Some(at)
            }
            TimerOwner::ClientTransaction(id) => {
                clients.get(&id).map(ClientTransaction::deadline) == Some(at)
            }
            TimerOwner::Call(id) => calls.get(&id).and_then(call_deadline) == Some(at),
            // Fires at or before the connection's idle deadline; the handler waits on if it moved.
            TimerOwner::Connection(id) => connections.deadline(ConnectionId(id)).is_some(),
        })
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(owner) = self.timers.pop_due(now) {
            match owner {
                TimerOwner::ServerTransaction(id) => self.server_timer(now, id),
                TimerOwner::ClientTransaction(id) => self.client_timer(now, id),
                TimerOwner::Call(id) => self.call_timer(now, id),
                TimerOwner::Connection(id) => self.connection_timer(now, ConnectionId(id)),
            }
        }
    }

    /// Replaces the allowed and trusted networks and the rate limit (a configuration reload). Calls in
    /// progress keep their dialogs even when their network is no longer allowed; new requests meet the new
    /// rules.
    pub fn set_access_policy(&mut self, access: AccessPolicy) {
        self.config.access = access;
    }

    /// New INVITEs are refused with 503 while set (during shutdown); calls in progress go on.
    pub fn set_refusing_new_calls(&mut self, refusing: bool) {
        self.refusing_new_calls = refusing;
    }

    /// Calls the endpoint still tracks.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// The next request refused since the last call, or `None`. Only the latest
    /// [`MAX_PENDING_REFUSALS`] are kept, so a driver that never asks loses nothing but log lines.
    pub fn poll_refusal(&mut self) -> Option<Refusal> {
        self.refusals.pop_front()
    }

    /// SIP messages read and sent so far, by method and status.
    pub fn statistics(&self) -> &SipStatistics {
        &self.statistics
    }

    /// INVITEs the rate limit refused or dropped so far.
    pub fn rate_limited(&self) -> RateLimited {
        self.rate_limited
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
            allow_header(),
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
        self.accept_invite(now, pending.transaction, bytes);
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
            Ok(Message::Request(request)) => {
                self.statistics
                    .request(Direction::Received, &request.method);
                self.handle_request(now, from, transport, request)
            }
            Ok(Message::Response(response)) => {
                self.statistics
                    .response(Direction::Received, response.status);
                self.handle_response(now, response)
            }
            Err(error) => {
                self.statistics.unreadable_message();
                if let Some(reply) = error.reply {
                    let context = response_context(reply.echo, from, transport);
                    self.respond_stateless(&context, reply.status, Vec::new());
                }
            }
        }
    }

    /// Routes a request: to its transaction when retransmitted, else past the access and Require checks to
    /// a dialog or a new call.
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
            self.respond_stateless(&context, 400, Vec::new());
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
        if self.absorb_retransmission(&key) {
            return;
        }
        let to_tag = NameAddr::parse(&context.echo.to)
            .ok()
            .and_then(|to| to.tag().map(str::to_owned));
        // A call in progress keeps its dialog when a reload narrows the allowed networks.
        let in_known_dialog = to_tag.as_ref().is_some_and(|tag| {
            self.dialogs
                .contains_key(&(context.echo.call_id.clone(), tag.clone()))
        });
        if !in_known_dialog && !self.config.access.allows(from.ip()) {
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
                _ => self.refuse_method(now, key, &context, &request.method),
            },
        }
    }
}
