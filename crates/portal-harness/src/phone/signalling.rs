//! The phone's SIP side: the socket, our SDP offer, the INVITE transaction and its ACK, requests in the
//! dialog (INFO, BYE), and the SIP receiving thread that answers the portal's requests.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use portal_media::g711::Codec;
use portal_sip::codec::{Message, Request};
use portal_sip::sdp::{self, SessionDescription};
use portal_sip::syntax::{Method, NameAddr};

use super::{HangUpBy, Inner, Negotiated, Phone, ReceivedKind, ReceivedSip};
use crate::sip::{
    self, Dialog, Incoming, SipReceiver, SipSocket, cseq_method, header, header_list, request_text,
    response_text, tag_of, token, uri_host,
};
use crate::{DialOptions, HarnessError, SipTransport};

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

/// Opens the call's SIP socket (or TCP connection); returns it, its receiving half and the local address
/// RTP is placed on.
pub(super) fn open(
    options: &DialOptions,
) -> Result<(SipSocket, SipReceiver, IpAddr), HarnessError> {
    Ok(match options.transport {
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
    })
}

/// Our SDP offer: the codecs in order, then telephone-event when offered.
pub(super) fn offer(options: &DialOptions, rtp: SocketAddr) -> SessionDescription {
    let codecs: Vec<sdp::Codec> = options
        .codecs
        .iter()
        .map(|codec| match codec {
            Codec::Pcmu => sdp::Codec::Pcmu,
            Codec::Pcma => sdp::Codec::Pcma,
        })
        .collect();
    let session_id = u64::from(rand::random::<u32>());
    sdp::audio_offer(
        "harness",
        session_id,
        rtp,
        &codecs,
        options.telephone_event_pt.map(|pt| (pt, "0-16")),
    )
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

fn media_codec(codec: sdp::Codec) -> Codec {
    match codec {
        sdp::Codec::Pcmu => Codec::Pcmu,
        sdp::Codec::Pcma => Codec::Pcma,
    }
}

/// Sends the INVITE with `offer_text` and waits for its final response. A 2xx is ACKed and gives the dialog
/// and the answer's text; a non-2xx is ACKed, ends the call and comes back as [`HarnessError::Rejected`].
pub(super) fn invite(
    inner: &Inner,
    options: &DialOptions,
    local_ip: IpAddr,
    offer_text: &str,
) -> Result<(Dialog, String), HarnessError> {
    let sip = &inner.sip;
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
    let mut invite_headers = vec![
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
    invite_headers.extend(options.extra_headers.iter().cloned());
    let invite = request_text(
        "INVITE",
        &request_uri,
        &invite_headers,
        Some("application/sdp"),
        offer_text,
    );
    inner.log(format!(
        "-> INVITE {request_uri} from {} over {transport} (offer {}){}",
        options.from,
        describe_offer(options),
        options
            .extra_headers
            .iter()
            .map(|header| format!("; {header}"))
            .collect::<String>()
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
    Ok((dialog, answer_text))
}

/// What the portal's answer settles for our offer.
pub(super) fn negotiate(
    our_offer: &SessionDescription,
    answer_text: &str,
) -> Result<Negotiated, HarnessError> {
    let negotiated = SessionDescription::parse(answer_text)
        .map_err(|e| HarnessError::BadAnswer(format!("{e:?}: {answer_text:?}")))
        .and_then(|answer| {
            sdp::negotiated_from_answer(our_offer, &answer)
                .map_err(|e| HarnessError::BadAnswer(format!("{e}: {answer_text:?}")))
        })?;
    Ok(Negotiated {
        codec: media_codec(negotiated.codec),
        payload_type: negotiated.payload_type,
        telephone_event_pt: negotiated.telephone_event_pt,
        remote_rtp: negotiated.remote_rtp,
        direction: negotiated.direction,
    })
}

impl Phone {
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

    /// Hangs up: BYE, and waits for its final response. Does nothing when the call has already ended.
    pub fn hang_up(&self) -> Result<(), HarnessError> {
        if self.is_hung_up() {
            return Ok(());
        }
        let result = self.request("BYE", None, "");
        self.inner.end(HangUpBy::Us);
        result.map(|_| ())
    }

    /// Sends a BYE in the dialog without waiting for its answer (when the phone is dropped mid-call).
    pub(super) fn send_bye_unanswered(&self) {
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
    }
}

/// The SIP receiving thread: responses to their transactions, requests answered.
pub(super) fn sip_receive(inner: &Inner, mut receiver: SipReceiver) {
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
