//! The test phone's UAC: client transactions and their timers, the messages it builds (INVITE, ACK, BYE,
//! CANCEL, its responses to the portal's requests), parsing what arrives, and offer/answer.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use portal_sip::codec::{EchoHeaders, Message, Request, Response, decode_datagram};
use portal_sip::sdp::{self, LocalMedia, NegotiatedMedia, SessionDescription};
use portal_sip::syntax::{Method, NameAddr, parse_cseq};
use rand::RngExt;
use rand::rngs::StdRng;

use super::{HangUpBy, TELEPHONE_EVENT_PT, TestPhone, earliest};

/// RFC 3261 T2: the cap of non-INVITE retransmission intervals.
const T2: Duration = Duration::from_secs(4);

/// A client transaction: the request, its branch and its retransmission timers.
#[derive(Debug)]
pub(super) struct ClientTx {
    pub(super) branch: String,
    bytes: Vec<u8>,
    /// Next retransmission (`None` once a response stopped them).
    resend_at: Option<Instant>,
    interval: Duration,
    /// Timer B / F: no final response by then ends the transaction with a local 408.
    give_up: Option<Instant>,
    /// The final status (408 when it timed out).
    pub(super) status: Option<u16>,
}

impl ClientTx {
    pub(super) fn new(now: Instant, t1: Duration, branch: String, bytes: Vec<u8>) -> ClientTx {
        ClientTx {
            branch,
            bytes,
            resend_at: Some(now + t1),
            interval: t1,
            give_up: Some(now + t1 * 64),
            status: None,
        }
    }

    pub(super) fn deadline(&self) -> Option<Instant> {
        earliest([self.resend_at, self.give_up])
    }

    /// Stops retransmitting. A final response ends the give-up timer too, and so does an INVITE's 1xx
    /// (Timer B only runs while calling; the portal may take its time to answer).
    fn responded(&mut self, status: u16, invite: bool) {
        self.resend_at = None;
        if status >= 200 || invite {
            self.give_up = None;
        }
        if status >= 200 {
            self.status.get_or_insert(status);
        }
    }

    /// Retransmits when due (`cap`: T2 for non-INVITE, none for INVITE); returns what to send.
    fn on_timeout(&mut self, now: Instant, cap: Option<Duration>) -> Option<Vec<u8>> {
        if self.give_up.is_some_and(|at| at <= now) {
            self.give_up = None;
            self.resend_at = None;
            self.status.get_or_insert(408);
            return None;
        }
        let at = self.resend_at.filter(|&at| at <= now)?;
        self.interval = cap.map_or(self.interval * 2, |cap| (self.interval * 2).min(cap));
        self.resend_at = Some(at + self.interval);
        Some(self.bytes.clone())
    }
}

/// `ip:port`, or `[v6]:port`, as written in a URI.
pub(super) fn uri_host(addr: SocketAddr) -> String {
    addr.to_string()
}

fn start_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.lines().next().unwrap_or_default().to_owned()
}

/// Every header line of a parsed message as `(name, value)`, in order (rsip prints each as `Name: value`).
fn header_lines(message: &Message) -> Vec<(String, String)> {
    message
        .headers()
        .iter()
        .filter_map(|header| {
            let printed = header.to_string();
            let (name, value) = printed.split_once(':')?;
            Some((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// A message as text: start line, headers, Content-Type when there is a body, Content-Length, body.
fn message_text(start: &str, headers: &[String], body: Option<&str>) -> Vec<u8> {
    let mut text = format!("{start}\r\n");
    for header in headers {
        text.push_str(header);
        text.push_str("\r\n");
    }
    let body = body.unwrap_or_default();
    if !body.is_empty() {
        text.push_str("Content-Type: application/sdp\r\n");
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    text.into_bytes()
}

pub(super) fn token(rng: &mut StdRng) -> String {
    format!("{:016x}", rng.random::<u64>())
}

impl TestPhone {
    pub(super) fn branch(&mut self) -> String {
        format!("z9hG4bK{}", token(&mut self.rng))
    }

    fn via(&self, branch: &str) -> String {
        format!(
            "Via: SIP/2.0/UDP {};branch={branch};rport",
            uri_host(self.config.sip)
        )
    }

    pub(super) fn send_sip(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        self.transmits.push_back((self.config.sip, to, bytes));
    }

    /// PCMU 0, and telephone-event 101 when configured.
    pub(super) fn offer(&mut self) -> SessionDescription {
        let session_id = u64::from(self.rng.random::<u32>());
        let events = self
            .config
            .telephone_event
            .then_some((TELEPHONE_EVENT_PT, "0-16"));
        sdp::audio_offer(
            "pair-phone",
            session_id,
            self.config.rtp,
            &[sdp::Codec::Pcmu],
            events,
        )
    }

    /// The INVITE on `branch`, carrying `body` (our offer) unless the offer is late.
    pub(super) fn invite_message(&self, branch: &str, body: Option<&str>) -> Vec<u8> {
        let mut headers = vec![
            self.via(branch),
            "Max-Forwards: 70".to_owned(),
            format!("From: {}", self.from),
            format!("To: {}", self.to),
            format!("Call-ID: {}", self.call_id),
            "CSeq: 1 INVITE".to_owned(),
            format!("Contact: {}", self.contact),
            "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO".to_owned(),
            "User-Agent: vportal-pair-phone".to_owned(),
        ];
        headers.extend(self.config.invite_headers.iter().cloned());
        let start = format!("INVITE {} SIP/2.0", self.request_uri);
        message_text(&start, &headers, body)
    }

    /// Cancels the pending INVITE: a CANCEL on its branch, retransmitted on Timer E.
    pub(super) fn send_cancel(&mut self, now: Instant) {
        let Some(invite) = &self.invite else {
            return;
        };
        let headers = [
            self.via(&invite.branch),
            "Max-Forwards: 70".to_owned(),
            format!("From: {}", self.from),
            format!("To: {}", self.to),
            format!("Call-ID: {}", self.call_id),
            "CSeq: 1 CANCEL".to_owned(),
        ];
        let bytes = message_text(
            &format!("CANCEL {} SIP/2.0", self.request_uri),
            &headers,
            None,
        );
        let branch = invite.branch.clone();
        self.send_sip(self.config.server, bytes.clone());
        self.cancel = Some(ClientTx::new(now, self.config.t1, branch, bytes));
    }

    /// An in-dialog request (ACK, BYE) with a new branch; returns (branch, bytes).
    fn dialog_request(&mut self, method: &str, cseq: u32, body: Option<&str>) -> (String, Vec<u8>) {
        let branch = self.branch();
        let target = self.remote_target.as_deref().unwrap_or(&self.request_uri);
        let to = self.remote_to.as_deref().unwrap_or(&self.to);
        let headers = [
            self.via(&branch),
            "Max-Forwards: 70".to_owned(),
            format!("From: {}", self.from),
            format!("To: {to}"),
            format!("Call-ID: {}", self.call_id),
            format!("CSeq: {cseq} {method}"),
            format!("Contact: {}", self.contact),
        ];
        let bytes = message_text(&format!("{method} {target} SIP/2.0"), &headers, body);
        (branch, bytes)
    }

    pub(super) fn send_bye(&mut self, now: Instant) {
        self.cseq += 1;
        let (branch, bytes) = self.dialog_request("BYE", self.cseq, None);
        self.send_sip(self.config.server, bytes.clone());
        self.bye = Some(ClientTx::new(now, self.config.t1, branch, bytes));
    }

    /// The transactions' timers: retransmissions, and Timer B ending an unanswered call as a 408.
    pub(super) fn sip_timeouts(&mut self, now: Instant) {
        let calling = self.invite.as_ref().is_some_and(|tx| tx.status.is_none());
        if let Some(bytes) = self.invite.as_mut().and_then(|tx| tx.on_timeout(now, None)) {
            self.send_sip(self.config.server, bytes);
        }
        if calling && let Some(status) = self.invite.as_ref().and_then(|tx| tx.status) {
            self.rejected = Some(status); // Timer B: no answer at all
        }
        for tx in [self.bye.as_mut(), self.cancel.as_mut()]
            .into_iter()
            .flatten()
        {
            if let Some(bytes) = tx.on_timeout(now, Some(T2)) {
                self.transmits
                    .push_back((self.config.sip, self.config.server, bytes));
            }
        }
    }

    pub(super) fn handle_sip(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.sip_received.push(start_line(bytes));
        let Ok(message) = decode_datagram(bytes) else {
            return;
        };
        let lines = header_lines(&message);
        let Some(echo) = EchoHeaders::from_headers(message.headers()) else {
            return;
        };
        match message {
            Message::Response(response) => self.handle_response(now, &response, &echo, &lines),
            Message::Request(request) => self.handle_request(now, from, &request, &echo),
        }
    }

    fn handle_response(
        &mut self,
        now: Instant,
        response: &Response,
        echo: &EchoHeaders,
        lines: &[(String, String)],
    ) {
        if echo.call_id != self.call_id {
            return;
        }
        let Some((_, method)) = parse_cseq(&echo.cseq) else {
            return;
        };
        let branch = echo.top_via.branch().unwrap_or_default();
        let tx = match method {
            Method::Invite => return self.invite_response(now, response, echo, lines),
            Method::Bye => self.bye.as_mut(),
            Method::Cancel => self.cancel.as_mut(),
            _ => None,
        };
        if let Some(tx) = tx.filter(|tx| tx.branch == branch) {
            tx.responded(response.status, false);
        }
    }

    fn invite_response(
        &mut self,
        now: Instant,
        response: &Response,
        echo: &EchoHeaders,
        lines: &[(String, String)],
    ) {
        let status = response.status;
        let Some(invite) = self
            .invite
            .as_mut()
            .filter(|tx| echo.top_via.branch() == Some(tx.branch.as_str()))
        else {
            return;
        };
        let first_final = status >= 200 && invite.status.is_none();
        invite.responded(status, true);
        if status < 200 {
            return;
        }
        if !first_final {
            // The final response again: our ACK was lost or is still on its way.
            if let Some(ack) = self.ack.clone() {
                self.send_sip(self.config.server, ack);
            }
            return;
        }
        self.remote_to = Some(echo.to.clone());
        if status >= 300 {
            // The ACK of a non-2xx final is part of the INVITE transaction: its branch and Request-URI.
            let branch = invite.branch.clone();
            self.rejected = Some(status);
            let headers = [
                self.via(&branch),
                "Max-Forwards: 70".to_owned(),
                format!("From: {}", self.from),
                format!("To: {}", echo.to),
                format!("Call-ID: {}", self.call_id),
                "CSeq: 1 ACK".to_owned(),
            ];
            let ack = message_text(&format!("ACK {} SIP/2.0", self.request_uri), &headers, None);
            self.ack = Some(ack.clone());
            self.send_sip(self.config.server, ack);
            self.flushed = true;
            return;
        }
        self.answered = true;
        self.remote_target = lines
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("Contact"))
            .and_then(|(_, value)| NameAddr::parse(value).ok())
            .map(|contact| contact.uri.raw);
        let negotiated = self.negotiate(&response.body);
        let answer = match &negotiated {
            Ok((answer, _)) => answer.clone(),
            Err(_) => None,
        };
        let (_, ack) = self.dialog_request("ACK", 1, answer.as_deref());
        self.ack = Some(ack.clone());
        self.send_sip(self.config.server, ack);
        match negotiated {
            Ok((_, negotiated)) => self.start_media(now, negotiated),
            Err(error) => {
                self.answer_error = Some(error);
                self.hang_up(now);
            }
        }
        if self.hung_up == Some(HangUpBy::Us) && self.bye.is_none() {
            // We hung up while the INVITE was pending, and the portal answered anyway.
            self.send_bye(now);
        }
    }

    /// Reads the 2xx's SDP: the answer to our offer, or (late offer) the portal's offer, answered by us.
    /// Returns our answer's text (late offer) and the media settled.
    fn negotiate(&mut self, body: &[u8]) -> Result<(Option<String>, NegotiatedMedia), String> {
        let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
        let theirs = SessionDescription::parse(text).map_err(|e| format!("{e}: {text:?}"))?;
        if let Some(offer) = self.local_sdp.as_ref().filter(|_| self.config.offer_sdp) {
            let negotiated = sdp::negotiated_from_answer(offer, &theirs)
                .map_err(|e| format!("{e}: {text:?}"))?;
            return Ok((None, negotiated));
        }
        let session_id = u64::from(self.rng.random::<u32>());
        let local = LocalMedia::new(self.config.rtp, session_id);
        let (mut answer, mut negotiated) =
            sdp::negotiate(&theirs, &local).map_err(|e| format!("{e}: {text:?}"))?;
        if !self.config.telephone_event
            && let Some(pt) = negotiated.telephone_event_pt.take()
        {
            for section in &mut answer.media {
                section.formats.retain(|format| *format != pt.to_string());
                section.rtpmaps.retain(|map| map.payload_type != pt);
                section.fmtps.retain(|(fmtp_pt, _)| *fmtp_pt != pt);
            }
        }
        let text = answer.to_string();
        self.local_sdp = Some(answer);
        Ok((Some(text), negotiated))
    }

    fn handle_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        request: &Request,
        echo: &EchoHeaders,
    ) {
        let ours = echo.call_id == self.call_id;
        let (status, body) = match &request.method {
            Method::Ack => return,
            Method::Bye if ours => {
                self.ended(now, HangUpBy::Portal);
                (200, None)
            }
            Method::Info if ours => (200, None),
            Method::Options => (200, None),
            // A re-INVITE: keep the media as it is and answer with our session.
            Method::Invite if ours && self.answered => {
                (200, self.local_sdp.as_ref().map(|sdp| sdp.to_string()))
            }
            Method::Bye | Method::Info | Method::Invite | Method::Cancel => (481, None),
            _ => (501, None),
        };
        let mut headers: Vec<String> = echo.vias.iter().map(|via| format!("Via: {via}")).collect();
        let tagged = NameAddr::parse(&echo.to)
            .ok()
            .is_some_and(|to| to.tag().is_some());
        headers.extend([
            format!("From: {}", echo.from),
            if tagged {
                format!("To: {}", echo.to)
            } else {
                format!("To: {};tag={}", echo.to, self.local_tag)
            },
            format!("Call-ID: {}", echo.call_id),
            format!("CSeq: {}", echo.cseq),
            format!("Contact: {}", self.contact),
            "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO".to_owned(),
        ]);
        let start = format!(
            "SIP/2.0 {status} {}",
            portal_sip::codec::reason_phrase(status)
        );
        let bytes = message_text(&start, &headers, body.as_deref());
        self.send_sip(from, bytes);
    }
}
