//! End to end, against the real `vportal serve`: what a black-box attack run on loopback tried, repeated.
//! Idle, half-sent and excess TCP connections; an oversized TCP message; an INVITE flood from one source; a
//! From the portal should not believe; an IPv6 offer to an IPv4 portal. After each, calls still work, and the
//! refusals are in the `security` log. And the RTCP a call now gets.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use portal_harness::{PromptId as P, SipTransport};
use vportal_tests::{CALL_WAIT, Server, call_options, dial_from, must};

/// A settled login (1001 from its own phone) to the main menu and out: the portal still serves calls.
fn a_call_logs_in(server: &Server, transport: SipTransport) {
    let mut options = call_options(server, "5551001");
    options.transport = transport;
    let phone = match portal_harness::Phone::dial(options) {
        Ok(phone) => phone,
        Err(error) => panic!("dial failed: {error}\n{}", server.log_tail(40)),
    };
    must(server, &phone, phone.wait_for_start(P::Welcome, CALL_WAIT));
    must(server, &phone, phone.press("1357924#"));
    must(server, &phone, phone.wait_for_start(P::MainMenu, CALL_WAIT));
    must(server, &phone, phone.hang_up());
}

/// A TCP connection to the portal from the loopback address `source` (127.0.0.x), reading with a timeout.
fn connect_from(server: &Server, source: [u8; 4]) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from((source, 0)).into()).unwrap();
    socket.connect(&server.sip.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    stream
}

/// Whether the portal closed `stream` within `wait` (EOF or reset), reading and ignoring anything it sent.
fn closed_within(mut stream: &TcpStream, wait: Duration) -> bool {
    let until = Instant::now() + wait;
    let mut buffer = [0u8; 4096];
    while Instant::now() < until {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

fn options_request(branch: &str, transport: &str) -> String {
    format!(
        "OPTIONS sip:5558000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{transport} 127.0.0.1:5999;branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:5558000@127.0.0.1>\r\n\
         Call-ID: {branch}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn more_tcp_connections_than_the_limits_are_refused_and_calls_go_on_over_udp_and_tcp() {
    let server =
        Server::start_demo("tcp_max_connections = 24\ntcp_max_connections_per_source = 10\n");
    // Three attacking addresses, 14 connections each: 42, over both caps.
    let mut held = Vec::new();
    for host in 2..=4u8 {
        for _ in 0..14 {
            held.push(connect_from(&server, [127, 0, 0, host]));
        }
    }
    let closed = held
        .iter()
        .filter(|stream| closed_within(stream, Duration::from_millis(300)))
        .count();
    // 10 per source are kept (30), minus what the total cap of 24 refuses: 18 closed at once.
    assert_eq!(closed, 42 - 24, "{}", server.log_tail(20));
    a_call_logs_in(&server, SipTransport::Udp);
    // The legitimate phone's own connection needs a place: the attackers hold every one, so it is refused;
    // once they let go (or the idle timeout frees them), it is served.
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    a_call_logs_in(&server, SipTransport::Tcp);
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(
        log.lines()
            .any(|line| line.contains("security") && line.contains("connection refused")),
        "the refusals are logged"
    );
}

#[test]
fn idle_and_half_sent_connections_are_closed_after_the_idle_timeout_and_pings_keep_one_open() {
    let server = Server::start_demo("tcp_idle_timeout_s = 1\n");
    let idle = connect_from(&server, [127, 0, 0, 1]);
    let mut half_sent = connect_from(&server, [127, 0, 0, 1]);
    half_sent
        .write_all(b"OPTIONS sip:5558000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP")
        .unwrap();
    let mut pinging = connect_from(&server, [127, 0, 0, 1]);
    let started = Instant::now();
    let mut pongs = Vec::new();
    // Ping every 400 ms for 2.4 s: the pinging connection outlives the idle timeout several times.
    for _ in 0..6 {
        pinging.write_all(b"\r\n\r\n").unwrap();
        let mut pong = [0u8; 2];
        pinging.read_exact(&mut pong).unwrap();
        pongs.push(pong);
        std::thread::sleep(Duration::from_millis(400));
    }
    assert!(pongs.iter().all(|pong| pong == b"\r\n"), "{pongs:?}");
    assert!(closed_within(&idle, Duration::from_secs(1)));
    assert!(closed_within(&half_sent, Duration::from_secs(1)));
    assert!(started.elapsed() > Duration::from_secs(2));
    pinging
        .write_all(options_request("alive", "TCP").as_bytes())
        .unwrap();
    let mut answer = [0u8; 12];
    pinging.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"SIP/2.0 200 ");
    a_call_logs_in(&server, SipTransport::Tcp);
}

#[test]
fn a_tcp_message_over_64_kib_gets_513_then_its_connection_closes() {
    let server = Server::start_demo("");
    let mut stream = connect_from(&server, [127, 0, 0, 1]);
    let request =
        options_request("big", "TCP").replace("Content-Length: 0", "Content-Length: 70000");
    stream.write_all(request.as_bytes()).unwrap();
    let mut received = Vec::new();
    let until = Instant::now() + Duration::from_secs(5);
    let mut buffer = [0u8; 4096];
    while Instant::now() < until {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(len) => received.extend_from_slice(&buffer[..len]),
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&received);
    assert!(
        text.starts_with("SIP/2.0 513 Message Too Large\r\n"),
        "{text}"
    );
    assert!(Instant::now() < until, "and the connection was closed");
    a_call_logs_in(&server, SipTransport::Udp);
}

#[test]
fn an_invite_flood_gets_at_most_one_response_per_refused_invite_and_calls_go_on() {
    let server = Server::start_demo("");
    let flood = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = flood.local_addr().unwrap().port();
    flood
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    for i in 0..300 {
        let invite = format!(
            "INVITE sip:5558000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKflood{i}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:5559999@127.0.0.1>;tag=f{i}\r\nTo: <sip:5558000@127.0.0.1>\r\n\
             Call-ID: flood{i}@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:5559999@127.0.0.1:{port}>\r\n\
             Content-Length: 0\r\n\r\n"
        );
        flood.send_to(invite.as_bytes(), server.sip).unwrap();
    }
    // Listen for 3 s: time for any 503 to be (wrongly) resent at T1 = 100 ms, 200, 400, ...
    let mut refusals = std::collections::HashMap::<String, usize>::new();
    let until = Instant::now() + Duration::from_secs(3);
    let mut buffer = [0u8; 65_536];
    while Instant::now() < until {
        if let Ok(len) = flood.recv(&mut buffer) {
            let text = String::from_utf8_lossy(&buffer[..len]);
            if text.starts_with("SIP/2.0 503") {
                let call_id = text
                    .lines()
                    .find_map(|line| line.strip_prefix("Call-ID: "))
                    .unwrap()
                    .to_owned();
                *refusals.entry(call_id).or_default() += 1;
            }
        }
    }
    assert!(!refusals.is_empty(), "the flood was refused");
    assert!(
        refusals.values().all(|&count| count == 1),
        "one 503 per refused INVITE: {refusals:?}"
    );
    // Ten refusals at once, then two a second, per host: the rest of the 300 went unanswered.
    assert!(refusals.len() <= 20, "{} refusals", refusals.len());
    // A caller on another port of the same address is not held back by the flood's bucket... but the host's
    // ten-fold cap is spent; after a second it refills.
    std::thread::sleep(Duration::from_secs(1));
    let phone = dial_from(&server, "5551001");
    must(&server, &phone, phone.wait_for_start(P::Welcome, CALL_WAIT));
    must(&server, &phone, phone.hang_up());
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(
        log.lines()
            .any(|line| line.contains("security") && line.contains("rate limit")),
        "the flood is logged"
    );
}

#[test]
fn from_a_network_the_portal_does_not_vouch_for_a_users_number_gets_the_star_key_path() {
    let server = Server::start_demo("identify_from = []\n");
    // A user's number, and a user's number without a passcode: the same prompt as any stranger's.
    for number in ["5551001", "5551005"] {
        let phone = dial_from(&server, number);
        must(
            &server,
            &phone,
            phone.wait_for_start(P::EnterMailbox, CALL_WAIT),
        );
        must(&server, &phone, phone.hang_up());
    }
    let phone = dial_from(&server, "5551001");
    must(
        &server,
        &phone,
        phone.wait_for_start(P::EnterMailbox, CALL_WAIT),
    );
    must(&server, &phone, phone.press("1001#"));
    must(
        &server,
        &phone,
        phone.wait_for_start(P::EnterPasscode, CALL_WAIT),
    );
    must(&server, &phone, phone.press("1357924#"));
    must(
        &server,
        &phone,
        phone.wait_for_start(P::MainMenu, CALL_WAIT),
    );
    must(&server, &phone, phone.hang_up());
}

/// An INVITE from `socket` (a bare-bones phone) whose SDP offers PCMU at `c=` `address` and `m=` port `rtp_port`.
fn invite_with_offer(socket: &UdpSocket, server: &Server, address: &str, rtp_port: u16) -> String {
    let port = socket.local_addr().unwrap().port();
    let family = if address.contains(':') { "IP6" } else { "IP4" };
    let sdp = format!(
        "v=0\r\no=- 1 1 IN {family} {address}\r\ns=-\r\nc=IN {family} {address}\r\nt=0 0\r\n\
         m=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    );
    let invite = format!(
        "INVITE sip:5558000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKbare{rtp_port}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:5551001@127.0.0.1>;tag=bare\r\nTo: <sip:5558000@127.0.0.1>\r\n\
         Call-ID: bare{rtp_port}@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:5551001@127.0.0.1:{port}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    socket.send_to(invite.as_bytes(), server.sip).unwrap();
    invite
}

/// The first final response to arrive on `socket` within 5 s.
fn final_response(socket: &UdpSocket) -> String {
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    let mut buffer = [0u8; 65_536];
    while Instant::now() < until {
        if let Ok(len) = socket.recv(&mut buffer) {
            let text = String::from_utf8_lossy(&buffer[..len]).into_owned();
            if text.starts_with("SIP/2.0 ") && !text.starts_with("SIP/2.0 1") {
                return text;
            }
        }
    }
    panic!("no final response");
}

#[test]
fn an_ipv6_offer_to_an_ipv4_portal_gets_488() {
    let server = Server::start_demo("");
    let phone = UdpSocket::bind("127.0.0.1:0").unwrap();
    invite_with_offer(&phone, &server, "2001:db8::10", 40_000);
    let response = final_response(&phone);
    assert!(response.starts_with("SIP/2.0 488 "), "{response}");
    a_call_logs_in(&server, SipTransport::Udp);
}

#[test]
fn a_call_gets_an_rtcp_sender_report_on_the_port_above_its_rtp_5_s_in() {
    let server = Server::start_demo("");
    let phone = UdpSocket::bind("127.0.0.1:0").unwrap();
    // The phone's RTP port and the RTCP port above it (another pair if that one is taken).
    let (rtp, rtcp) = (0..50)
        .find_map(|_| {
            let rtp = UdpSocket::bind("127.0.0.1:0").ok()?;
            let port = rtp.local_addr().ok()?.port().checked_add(1)?;
            let rtcp = UdpSocket::bind(("127.0.0.1", port)).ok()?;
            Some((rtp, rtcp))
        })
        .expect("a free pair of ports");
    let rtp_port = rtp.local_addr().unwrap().port();
    let invite = invite_with_offer(&phone, &server, "127.0.0.1", rtp_port);
    let ok = final_response(&phone);
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
    let header = |text: &str, name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap()
            .trim()
            .to_owned()
    };
    let ack = format!(
        "ACK sip:5558000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bKbareack\r\nMax-Forwards: 70\r\n\
         From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
        phone.local_addr().unwrap(),
        header(&invite, "From:"),
        header(&ok, "To:"),
        header(&invite, "Call-ID:"),
    );
    phone.send_to(ack.as_bytes(), server.sip).unwrap();
    rtcp.set_read_timeout(Some(Duration::from_secs(7))).unwrap();
    let mut buffer = [0u8; 1500];
    let (len, from) = rtcp
        .recv_from(&mut buffer)
        .expect("a sender report within 7 s");
    let report = &buffer[..len];
    assert_eq!(report[0] >> 6, 2, "RTCP version 2");
    assert_eq!(report[1], 200, "a sender report first (RFC 3550 §6.1)");
    assert_eq!(
        from.port() % 2,
        1,
        "sent from the portal's RTCP port, the odd one above its RTP port"
    );
    // The report's SSRC is the one of the audio the call receives.
    let mut audio = [0u8; 1500];
    rtp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let (audio_len, _) = rtp.recv_from(&mut audio).unwrap();
    assert!(audio_len >= 12);
    assert_eq!(report[4..8], audio[8..12], "the same SSRC");
}

#[test]
fn an_unknown_method_gets_501_an_unreadable_request_400_and_both_reach_the_security_log() {
    let server = Server::start_demo("");
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    // Responses go where the Via says: this socket.
    let here = format!("127.0.0.1:{}", probe.local_addr().unwrap().port());
    let request = |branch: &str| options_request(branch, "UDP").replace("127.0.0.1:5999", &here);
    probe
        .send_to(
            request("newmethod")
                .replace("OPTIONS", "NEWMETHOD")
                .as_bytes(),
            server.sip,
        )
        .unwrap();
    assert!(final_response(&probe).starts_with("SIP/2.0 501 Not Implemented\r\n"));
    // Two Call-IDs: RFC 3261 allows one.
    let broken = request("broken").replace(
        "CSeq: 1 OPTIONS\r\n",
        "CSeq: 1 OPTIONS\r\nCall-ID: another@127.0.0.1\r\n",
    );
    probe.send_to(broken.as_bytes(), server.sip).unwrap();
    assert!(final_response(&probe).starts_with("SIP/2.0 400 "));
    std::thread::sleep(Duration::from_millis(200));
    let log = std::fs::read_to_string(&server.log).unwrap();
    for kind in ["method not served", "unreadable request"] {
        assert!(
            log.lines()
                .any(|line| line.contains("security") && line.contains(kind)),
            "{kind} is logged"
        );
    }
    a_call_logs_in(&server, SipTransport::Udp);
}
