//! Calls and their dialogs (RFC 3261 §12): a new INVITE becomes a call offered to the application, requests
//! inside the dialog (BYE, INFO, OPTIONS, re-INVITE, ACK, CANCEL) act on it, our 2xx is resent until the ACK
//! (§13.3.1.4), and our BYE follows the route set to the remote target (§12.2.1.1).

use std::net::SocketAddr;
use std::time::Instant;

use rsip::Header;
use rsip::headers::{self, UntypedHeader};

use super::response::{
    InfoBody, ReplyRoute, ResponseContext, accepts_sdp, asserted_identity, options_headers,
    read_info, read_offer,
};
use super::transaction::TransactionKey;
use super::{
    CallError, CallFailure, CallHandle, Endpoint, Event, IncomingCall, MAGIC_COOKIE, Transmit,
    Transport,
};
use crate::access::Admission;
use crate::codec::{self, Request};
use crate::sdp::{self, SessionDescription};
use crate::syntax::{Method, NameAddr, SipUri, parse_cseq, split_list, uri_host};
use crate::timer::{Backoff, TimerOwner};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CallState {
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
pub(super) struct PendingInvite {
    pub(super) transaction: u64,
    pub(super) context: ResponseContext,
    pub(super) cseq: u32,
}

/// Our 2xx to an INVITE, resent until ACK (RFC 3261 §13.3.1.4).
#[derive(Debug)]
pub(super) struct UnackedOk {
    pub(super) cseq: u32,
    pub(super) bytes: Vec<u8>,
    pub(super) route: ReplyRoute,
    pub(super) resend: Backoff,
    pub(super) give_up_at: Instant,
    /// Whether the 2xx carried our offer (the ACK then carries the answer).
    pub(super) carried_offer: bool,
}

#[derive(Debug)]
pub(super) struct Call {
    pub(super) state: CallState,
    call_id: String,
    pub(super) local_tag: String,
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
    pub(super) signalling: ReplyRoute,
    pub(super) pending_invite: Option<PendingInvite>,
    pub(super) unacked_ok: Option<UnackedOk>,
    /// The application hung up before the ACK; the BYE waits for it (RFC 3261 §15).
    pub(super) bye_after_ack: bool,
    pub(super) invite_had_offer: bool,
}

pub(super) fn call_deadline(call: &Call) -> Option<Instant> {
    call.unacked_ok
        .as_ref()
        .map(|ok| ok.resend.next_at.min(ok.give_up_at))
}

impl Endpoint {
    /// Our Contact in the call's dialog, on the address family and transport the caller used.
    pub(super) fn contact_header(&self, call: CallHandle) -> Result<Header, CallError> {
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

    /// An INVITE outside any dialog: refused, or a new call offered to the application.
    pub(super) fn handle_new_invite(
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
        let source = context.route.to;
        if let Some(limit) = self.config.access.invite_rate
            && !self.config.access.trusts(source.ip())
        {
            match self.invite_limiter.admit(source, limit, now) {
                Admission::Admit => {}
                // Stateless (RFC 3261 §8.2.7): one 503, never retransmitted, so a flood from a spoofed
                // source is not amplified. A caller that missed it retransmits its INVITE and is answered
                // again, at most once per INVITE received.
                Admission::Refuse => {
                    self.rate_limited.refused += 1;
                    let extra = vec![Header::RetryAfter(headers::RetryAfter::new("5"))];
                    return self.respond_stateless(&context, 503, extra);
                }
                Admission::Drop => {
                    self.rate_limited.dropped += 1;
                    return self.note_refusal(&context, None);
                }
            }
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
        let remote_target = first_contact(&request).map(|contact| contact.uri);
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
        let source = context.route.to.ip();
        let asserted_user = self
            .config
            .access
            .trusts(source)
            .then(|| asserted_identity(&request.headers))
            .flatten();
        // A redirection is believed only from a trusted peer, like an asserted identity (see `redirection`).
        let redirection = self
            .config
            .access
            .trusts(source)
            .then(|| crate::redirection::read_redirection(&request.uri, &request.headers))
            .flatten();
        let urgent = crate::redirection::is_urgent(&request.headers);
        let identified_user = asserted_user.clone().or_else(|| {
            self.config
                .access
                .identifies_by_from(source)
                .then(|| from.uri.user.clone())
                .flatten()
        });
        self.events.push_back(Event::IncomingCall(IncomingCall {
            call: handle,
            request_uri_user: request.uri.user.clone(),
            asserted_user,
            identified_user,
            from_user: from.uri.user,
            from_display: from.display,
            to_user: to.uri.user,
            offer,
            remote: context.route.to,
            transport: context.route.transport,
            call_id: context.echo.call_id.clone(),
            redirection,
            urgent,
        }));
    }

    /// A request (other than ACK and CANCEL) whose To carries a tag: it must name one of our dialogs.
    pub(super) fn handle_in_dialog(
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
            _ => self.refuse_method(now, key, &context, &request.method),
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
        if let Some(contact) = first_contact(&request) {
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

    pub(super) fn handle_ack(
        &mut self,
        now: Instant,
        key: TransactionKey,
        request: &Request,
        context: &ResponseContext,
    ) {
        if self.absorb_ack(now, &key) {
            return;
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

    /// A CANCEL matched the INVITE transaction `invite` of `handle`: 487 to that INVITE if it still waits for
    /// the application, and the call is gone if that was its initial INVITE.
    pub(super) fn cancel_invite(&mut self, now: Instant, handle: CallHandle, invite: u64) {
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

    /// Resends our unacknowledged 2xx, or gives up on the call when no ACK came in time.
    pub(super) fn call_timer(&mut self, now: Instant, id: u64) {
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

    pub(super) fn remove_call(&mut self, call: CallHandle) {
        if let Some(entry) = self.calls.remove(&call.0) {
            self.dialogs.remove(&(entry.call_id, entry.local_tag));
        }
    }

    /// Sends our BYE within the call's dialog (RFC 3261 §15.1.1) as a non-INVITE client transaction.
    pub(super) fn send_bye(&mut self, now: Instant, call: CallHandle, report_end: bool) {
        let branch = format!("{MAGIC_COOKIE}{}", self.random_token());
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
        let bye = Transmit {
            to: destination,
            transport,
            bytes,
        };
        self.start_client_transaction(now, call, branch, bye, report_end);
    }
}

/// The first Contact of a request, our remote target in the dialog.
fn first_contact(request: &Request) -> Option<NameAddr> {
    request.headers.iter().find_map(|header| match header {
        Header::Contact(contact) => split_list(contact.value())
            .first()
            .and_then(|c| NameAddr::parse(c).ok()),
        _ => None,
    })
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
