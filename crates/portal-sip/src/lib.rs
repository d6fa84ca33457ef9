//! # portal-sip: the SIP side of the vportal front end
//!
//! Phones call the portal over SIP. This crate turns the bytes they send into call events for the binary
//! (a new call with its SDP offer, the ACK, a CANCEL, a BYE, a key press sent in INFO, a hold) and turns the
//! binary's decisions (answer, reject, hang up) into SIP messages. It is a user agent server with just enough
//! client behaviour to send its own BYE.
//!
//! It is **sans-IO**: no sockets, no runtime, no clock. Bytes come in as slices with the address and transport
//! they arrived on, bytes go out as [`Transmit`](endpoint::Transmit)s, and time exists only as the
//! [`Instant`](std::time::Instant)s passed in. The binary owns the UDP and TCP sockets and runs the loop; tests
//! drive the same [`Endpoint`](endpoint::Endpoint) with a fake clock in microseconds.
//!
//! ## The driving loop
//!
//! ```
//! use std::time::{Duration, Instant};
//! use portal_sip::endpoint::{Config, Endpoint, Event, Transport};
//! use portal_sip::sdp::{self, LocalMedia};
//!
//! let mut endpoint = Endpoint::new(Config::new("192.0.2.1:5060".parse().unwrap()));
//! let media = LocalMedia::new("192.0.2.1:40000".parse().unwrap(), 1);
//! let invite = b"INVITE sip:8000@192.0.2.1 SIP/2.0\r\n\
//! Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1\r\nFrom: <sip:1001@example.com>;tag=a\r\n\
//! To: <sip:8000@example.com>\r\nCall-ID: doc@192.0.2.10\r\nCSeq: 1 INVITE\r\n\
//! Contact: <sip:1001@192.0.2.10>\r\nContent-Type: application/sdp\r\nContent-Length: 92\r\n\r\n\
//! v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\n";
//!
//! let mut now = Instant::now();
//! // 1. Feed what a socket received (a UDP datagram, or a chunk of a TCP stream).
//! endpoint.handle_datagram(now, "192.0.2.10:5060".parse().unwrap(), Transport::Udp, invite).unwrap();
//! // 2. React to events with commands.
//! while let Some(event) = endpoint.poll_event() {
//!     match event {
//!         Event::IncomingCall(call) => match call.offer.as_ref().map(|offer| sdp::negotiate(offer, &media)) {
//!             Some(Ok((answer, _negotiated))) => endpoint.answer(now, call.call, &answer).unwrap(),
//!             Some(Err(refused)) => endpoint.reject(now, call.call, refused.status_code()).unwrap(),
//!             None => endpoint.answer(now, call.call, &sdp::make_offer(&media)).unwrap(),
//!         },
//!         other => println!("{other:?}"),
//!     }
//! }
//! // 3. Send everything it wants sent.
//! while let Some(transmit) = endpoint.poll_transmit() {
//!     // socket.send_to(&transmit.bytes, transmit.to)
//!     assert!(!transmit.bytes.is_empty());
//! }
//! // 4. Sleep until the next packet or the earliest timer, then tell it the time.
//! if let Some(deadline) = endpoint.poll_timeout() {
//!     now = deadline; // tokio::time::sleep_until(deadline) in the binary
//!     endpoint.handle_timeout(now);
//! }
//! assert!(endpoint.poll_transmit().is_some()); // our 200 OK, resent after T1 until the ACK comes
//! # let _ = Duration::ZERO;
//! ```
//!
//! ## Modules
//!
//! - [`codec`]: framing, normalisation and parsing; serialisation of what we send; the TCP stream framer.
//! - [`syntax`]: our readers for the fields the UAS needs (URIs, name-addr, Via, CSeq).
//! - [`endpoint`]: the [`Endpoint`](endpoint::Endpoint) value, its events and commands, and input routing. One
//!   timer heap serves every transaction and call; [`poll_timeout`](endpoint::Endpoint::poll_timeout) returns the
//!   earliest deadline. Its private submodules, one job each:
//!   - `endpoint::transaction`: server transactions (RFC 3261 §17.2 INVITE and non-INVITE), the §17.1.2
//!     non-INVITE client transaction of our BYE, and transaction keys;
//!   - `endpoint::dialog`: calls and dialogs (§12): call state, our 2xx resent until the ACK, route set, BYE
//!     target;
//!   - `endpoint::response`: where responses go, building them, and the request readers that decide them
//!     (Require, Accept, Content-Type, the SDP offer, INFO bodies, P-Asserted-Identity).
//! - [`timer`]: T1, T2, T4 (configurable so tests can shorten them), the back-off and the heap.
//! - [`sdp`]: a small SDP reader and writer and the RFC 3264 offer/answer for G.711 and telephone-event.
//! - [`dtmf`]: key presses in INFO bodies.
//! - [`redirection`]: a forwarded call's redirection (RFC 4458 voicemail URI, History-Info, Diversion) and
//!   Priority, read from trusted peers only.
//!
//! ## What rsip does and what our codec layer adds
//!
//! rsip 0.4 does:
//! - map every header line onto its [`rsip::Header`] enum (typed variants for the RFC 3261 headers, `Other`
//!   for the rest), which is how [`codec::Request`] and [`codec::Response`] carry their headers;
//! - print headers when we serialise responses and our BYE.
//!
//! Our codec layer, before rsip sees anything:
//! - refuses messages over 64 KiB ([`codec::MAX_MESSAGE_SIZE`]);
//! - skips CRLFs before the start line, accepts bare LF line ends and joins folded header lines;
//! - accepts whitespace before a header's colon (`Via  : ...`) and a run of spaces in the request line;
//! - expands the compact header names (`i m f t v l c k s e o r u x a b d j y n`);
//! - reads the start line itself: extension methods, `sip`/`sips`/`tel` Request-URIs, IPv6 references,
//!   case-insensitive `SIP/2.0`, and 505 for other versions;
//! - honours Content-Length: on UDP the body is exactly that long (extra bytes dropped; shorter gives 400 for
//!   a request, a silent drop for a response; absent means the rest of the datagram); on TCP
//!   ([`codec::StreamFramer`]) it cuts the stream and a message without it closes the connection; CRLF
//!   keep-alives are skipped;
//! - answers unreadable requests with 400 (416 for an unknown URI scheme) when Via, From, To, Call-ID and
//!   CSeq can be read, and drops them otherwise;
//! - writes its own reason phrases and Content-Length.
//!
//! ## rsip gaps (0.4.0), all worked around here
//!
//! RFC 3261 allows all of these; rsip refuses or misreads them, so [`syntax`] reads those fields instead of
//! rsip's typed headers, and the start line never goes through rsip:
//! - IPv6 references anywhere in a URI: `sip:alice@[2001:db8::10]:5070`, `Via: SIP/2.0/UDP [2001:db8::9:1]`,
//!   `Contact: <sip:bob@[::1]:5062>` all fail with "invalid digit found in string"; a Via `received=[...]`
//!   parameter comes back empty.
//! - Extension methods: `NEWMETHOD sip:a@h SIP/2.0` fails ("invalid method"), so no 405 could be sent; CSeq's
//!   typed form fails the same way.
//! - `tel:+1-201-555-0123` as Request-URI fails ("number too large to fit in target type").
//! - A user part holding `;` (`sip:user;par=u%40example.net@example.com`) fails to tokenize.
//! - Whitespace before the header colon (`To    :`), lower-case `sip/2.0` and versions other than 2.0 fail the
//!   whole message (so 505 could not be sent).
//! - Compact header names are not expanded (`i: x` stays `Other("i", "x")`); folded lines are not joined.
//! - `Via: SIP/2.0/TLS h:5061 ; branch = z9hG4bK1` parses with the branch silently lost.
//! - Display names keep their quotes and backslash escapes (`"\"Bob \\\"B\\\"\""`).
//! - A comma-separated Contact list fails to parse as one typed Contact.
//! - Status codes print as the enum variant name: `486 BusyHere`, `299 Other`.
//!
//! ## Choices worth knowing
//!
//! - The route set of a dialog is the INVITE's Record-Route list **in the order received**, which is what
//!   RFC 3261 §12.1.1 prescribes for a UAS (the reversal in §12.1.2 is for a UAC). In-dialog requests go to
//!   the first route (loose routing; strict routers are handled by §12.2.1.1) or the remote target, when that
//!   host is an IP literal; otherwise (a DNS name, which a sans-IO crate cannot resolve) and always on TCP,
//!   they go where the INVITE came from.
//! - Responses go per Via (RFC 3261 §18.2.2, RFC 3581): `received` is added when the source address differs
//!   from the sent-by host, `rport` is filled when asked for and then the response goes to the source port.
//! - The 2xx to an INVITE is resent by the call (T1 doubling to T2) until the ACK; the INVITE transaction
//!   stays in RFC 6026's Accepted state meanwhile, absorbing INVITE retransmissions with the same 2xx.
//! - No option tags are supported: any `Require` gets 420 with `Unsupported` listing them.
//! - An INVITE whose SDP has no PCMU/PCMA audio with a connection address is refused with 488 before the
//!   application sees it; one function of [`sdp`] decides that, and [`sdp::negotiate`] answers from what it found.

pub mod access;
pub mod codec;
pub mod dtmf;
pub mod endpoint;
pub mod redirection;
pub mod sdp;
pub mod syntax;
pub mod timer;
