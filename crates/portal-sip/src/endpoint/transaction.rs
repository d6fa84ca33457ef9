//! Transactions: the INVITE and non-INVITE server transactions of RFC 3261 §17.2 (with RFC 6026's Accepted
//! state), the non-INVITE client transaction of our BYE (§17.1.2), and the keys requests are matched by
//! (§17.2.3). They absorb retransmissions and resend on their timers; what a request means for a call is
//! decided in [`dialog`](super::dialog).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rsip::Header;

use super::dialog::PendingInvite;
use super::response::{ReplyRoute, ResponseContext, allow_header, build_response};
use super::{CallHandle, Endpoint, Event, MAGIC_COOKIE, Transmit, Transport};
use crate::codec::{EchoHeaders, Request, Response};
use crate::syntax::{Method, NameAddr};
use crate::timer::{Backoff, TimerOwner};

/// Transaction key (RFC 3261 §17.2.3); ACK uses INVITE's so it finds the INVITE transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum TransactionKey {
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

impl TransactionKey {
    /// The key of the INVITE a CANCEL with this key cancels: the same but for the method (RFC 3261 §9.2).
    fn of_invite(&self) -> TransactionKey {
        match self {
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
        }
    }
}

pub(super) fn transaction_key(request: &Request, echo: &EchoHeaders, cseq: u32) -> TransactionKey {
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
pub(super) struct ServerTransaction {
    key: TransactionKey,
    reply: ReplyRoute,
    /// The last response, resent when the request is retransmitted.
    last_response: Vec<u8>,
    state: ServerState,
    call: Option<CallHandle>,
}

impl ServerTransaction {
    pub(super) fn deadline(&self) -> Option<Instant> {
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
pub(super) struct ClientTransaction {
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
    pub(super) fn deadline(&self) -> Instant {
        self.resend.map_or(self.give_up_at, |resend| {
            resend.next_at.min(self.give_up_at)
        })
    }
}

impl Endpoint {
    /// A retransmitted request: resends what its transaction last sent (RFC 3261 §17.2.1, §17.2.2). False
    /// when no transaction has this key.
    pub(super) fn absorb_retransmission(&mut self, key: &TransactionKey) -> bool {
        let Some(&id) = self.server_index.get(key) else {
            return false;
        };
        if let Some(transaction) = self.server_transactions.get(&id) {
            let (route, bytes) = (transaction.reply.clone(), transaction.last_response.clone());
            self.queue(&route, bytes);
        }
        true
    }

    /// An ACK for our 3xx-6xx, which belongs to the INVITE's transaction (§17.2.1). False when the ACK is
    /// not for one, so it must be for a 2xx.
    pub(super) fn absorb_ack(&mut self, now: Instant, key: &TransactionKey) -> bool {
        let Some(&id) = self.server_index.get(key) else {
            return false;
        };
        let Some(transaction) = self.server_transactions.get_mut(&id) else {
            return false;
        };
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
                true
            }
            ServerState::Confirmed { .. } => true,
            _ => false,
        }
    }

    /// CANCEL (RFC 3261 §9.2): 200 when it matches an INVITE transaction, 481 otherwise; the call decides
    /// whether the INVITE is still pending.
    pub(super) fn handle_cancel(
        &mut self,
        now: Instant,
        key: TransactionKey,
        context: &ResponseContext,
    ) {
        if self.absorb_retransmission(&key) {
            return;
        }
        let Some(invite) = self.server_index.get(&key.of_invite()).copied() else {
            return self.respond_non_invite(now, key, context, 481, Vec::new());
        };
        self.respond_non_invite(now, key, context, 200, Vec::new());
        if let Some(call) = self.server_transactions.get(&invite).and_then(|t| t.call) {
            self.cancel_invite(now, call, invite);
        }
    }

    /// A response to our BYE: a provisional one slows the resends down, a final one ends the transaction.
    pub(super) fn handle_response(&mut self, now: Instant, response: Response) {
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

    pub(super) fn server_timer(&mut self, now: Instant, id: u64) {
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

    pub(super) fn client_timer(&mut self, now: Instant, id: u64) {
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

    fn insert_server_transaction(&mut self, id: u64, transaction: ServerTransaction) {
        if let Some(at) = transaction.deadline() {
            self.timers.schedule(at, TimerOwner::ServerTransaction(id));
        }
        self.server_index.insert(transaction.key.clone(), id);
        self.server_transactions.insert(id, transaction);
    }

    /// Our 2xx went out: the INVITE transaction keeps it for retransmitted INVITEs until Timer L (RFC 6026).
    pub(super) fn accept_invite(&mut self, now: Instant, transaction: u64, ok: Vec<u8>) {
        let until = now + self.config.timers.transaction_timeout();
        if let Some(entry) = self.server_transactions.get_mut(&transaction) {
            entry.last_response = ok;
            entry.state = ServerState::Accepted { until };
            self.timers
                .schedule(until, TimerOwner::ServerTransaction(transaction));
        }
    }

    /// Sends a final non-2xx response to a pending INVITE and moves its transaction to Completed.
    pub(super) fn finish_invite(
        &mut self,
        now: Instant,
        pending: &PendingInvite,
        status: u16,
        tag: &str,
        extra: Vec<Header>,
    ) {
        let bytes = build_response(&pending.context, status, Some(tag), extra, &[]);
        self.queue(&pending.context.route, bytes.clone());
        self.note_refusal(&pending.context, Some(status));
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

    /// Answers an INVITE with 100 Trying at once and opens its server transaction (RFC 3261 §17.2.1).
    pub(super) fn start_invite_transaction(
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

    /// Refuses an INVITE, with a fresh To tag when the request has none.
    pub(super) fn refuse_invite(
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

    pub(super) fn refuse_invite_with_tag(
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

    /// Refuses a method the portal does not serve: 405 with `Allow` for a method SIP defines (RFC 3261
    /// §21.4.6), 501 for one it does not recognise at all (§21.5.2).
    pub(super) fn refuse_method(
        &mut self,
        now: Instant,
        key: TransactionKey,
        context: &ResponseContext,
        method: &Method,
    ) {
        let status = match method {
            Method::Extension(_) => 501,
            _ => 405,
        };
        self.respond_non_invite(now, key, context, status, vec![allow_header()]);
    }

    /// Answers a non-INVITE request and keeps the response for retransmissions until Timer J.
    pub(super) fn respond_non_invite(
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
        self.note_refusal(context, Some(status));
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

    /// Answers without a transaction, for requests no transaction can be keyed for.
    pub(super) fn respond_stateless(
        &mut self,
        context: &ResponseContext,
        status: u16,
        extra: Vec<Header>,
    ) {
        let bytes = build_response(context, status, None, extra, &[]);
        self.queue(&context.route, bytes);
        self.note_refusal(context, Some(status));
    }

    /// Reports a request refused with `status` (4xx to 6xx; a CANCELled INVITE's 487 is no refusal) or, with
    /// `None`, dropped unanswered, for the driver's security log.
    pub(super) fn note_refusal(&mut self, context: &ResponseContext, status: Option<u16>) {
        if status.is_some_and(|status| status < 400 || status == 487) {
            return;
        }
        if self.refusals.len() >= super::MAX_PENDING_REFUSALS {
            self.refusals.pop_front();
        }
        self.refusals.push_back(super::Refusal {
            from: context.route.to.ip(),
            status,
        });
    }

    /// Sends our BYE, whose top Via carries `branch`, as a non-INVITE client transaction (RFC 3261 §17.1.2).
    pub(super) fn start_client_transaction(
        &mut self,
        now: Instant,
        call: CallHandle,
        branch: String,
        bye: Transmit,
        report_end: bool,
    ) {
        let timers = self.config.timers;
        let id = self.fresh_id();
        let transaction = ClientTransaction {
            call,
            request: bye.bytes.clone(),
            destination: bye.to,
            transport: bye.transport,
            resend: (!bye.transport.is_reliable()).then(|| Backoff::new(now, timers.t1, timers.t2)),
            give_up_at: now + timers.transaction_timeout(),
            report_end,
        };
        self.timers
            .schedule(transaction.deadline(), TimerOwner::ClientTransaction(id));
        self.client_transactions.insert(id, transaction);
        self.client_index.insert(branch, id);
        self.transmits.push_back(bye);
    }
}
