//! Stream connections: the caps in all and per source, the idle timeout, RFC 5626 keep-alive pings, and the
//! 513 for a message too large for the stream.

use super::*;

fn limited(max_connections: usize, max_per_source: usize) -> Harness {
    let mut config = config();
    config.connections = ConnectionLimits {
        idle_timeout: Duration::from_secs(60),
        max_connections,
        max_per_source,
    };
    let start = Instant::now();
    Harness {
        endpoint: Endpoint::new(config),
        start,
        now: start,
    }
}

fn peer(last: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, last)), port)
}

fn on_stream(h: &mut Harness, connection: u64, from: SocketAddr, bytes: &[u8]) -> bool {
    h.endpoint
        .handle_datagram(h.now, from, Transport::Tcp(ConnectionId(connection)), bytes)
        .is_ok()
}

#[test]
fn connections_past_the_caps_are_refused_and_a_closed_one_frees_its_place() {
    let mut h = limited(3, 2);
    let now = h.now;
    let open =
        |h: &mut Harness, id, from| h.endpoint.connection_opened(now, ConnectionId(id), from);
    assert_eq!(open(&mut h, 1, peer(10, 4001)), Ok(()));
    assert_eq!(open(&mut h, 2, peer(10, 4002)), Ok(()));
    assert_eq!(
        open(&mut h, 3, peer(10, 4003)),
        Err(ConnectionRefused::TooManyFromSource)
    );
    assert_eq!(open(&mut h, 4, peer(11, 4001)), Ok(()));
    assert_eq!(
        open(&mut h, 5, peer(12, 4001)),
        Err(ConnectionRefused::TooMany)
    );
    h.endpoint.connection_closed(ConnectionId(1));
    assert_eq!(open(&mut h, 6, peer(10, 4004)), Ok(()));
    assert_eq!(h.endpoint.connection_count(), 3);
}

#[test]
fn a_connection_without_a_complete_message_is_closed_after_the_idle_timeout() {
    let mut h = limited(10, 10);
    let (idle, half_sent, talking) = (ConnectionId(1), ConnectionId(2), ConnectionId(3));
    for (id, from) in [
        (idle, peer(10, 1)),
        (half_sent, peer(10, 2)),
        (talking, peer(10, 3)),
    ] {
        h.endpoint.connection_opened(h.now, id, from).unwrap();
    }
    // Half a request: no complete message, so it does not count as activity.
    assert!(on_stream(
        &mut h,
        2,
        peer(10, 2),
        b"OPTIONS sip:8000@198.51.100.1 SIP/2.0\r\nVia: SIP/2.0/TCP"
    ));
    h.run_until(Duration::from_secs(30));
    let options = out_of_dialog("OPTIONS", "").replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    assert!(on_stream(&mut h, 3, peer(10, 3), options.as_bytes()));
    assert_eq!(h.sent_lines(), ["SIP/2.0 200 OK"]);
    h.run_until(Duration::from_secs(61));
    let closed: Vec<ConnectionId> = h
        .events()
        .into_iter()
        .filter_map(|event| match event {
            Event::CloseConnection { connection } => Some(connection),
            _ => None,
        })
        .collect();
    assert_eq!(
        closed,
        [idle, half_sent],
        "the one that talked at 30 s stays"
    );
    assert_eq!(h.endpoint.connection_count(), 1);
    h.run_until(Duration::from_secs(91));
    assert!(matches!(
        h.events().as_slice(),
        [Event::CloseConnection { connection }] if *connection == talking
    ));
    assert_eq!(h.endpoint.connection_count(), 0);
}

#[test]
fn a_keep_alive_ping_gets_a_pong_and_keeps_the_connection_open() {
    let mut h = limited(10, 10);
    let from = peer(10, 5);
    h.endpoint
        .connection_opened(h.now, ConnectionId(1), from)
        .unwrap();
    h.run_until(Duration::from_secs(50));
    assert!(on_stream(&mut h, 1, from, b"\r\n\r\n"));
    let pong = h.sent();
    assert_eq!(pong.len(), 1);
    assert_eq!(pong[0].bytes, b"\r\n");
    assert_eq!(pong[0].to, from);
    h.run_until(Duration::from_secs(100));
    assert!(h.events().is_empty(), "the ping at 50 s kept it open");
    h.run_until(Duration::from_secs(111));
    assert_eq!(h.events().len(), 1);
}

#[test]
fn a_request_too_large_for_the_stream_gets_513_and_the_connection_is_to_be_closed() {
    let mut h = limited(10, 10);
    let from = peer(10, 6);
    h.endpoint
        .connection_opened(h.now, ConnectionId(1), from)
        .unwrap();
    let head = out_of_dialog("OPTIONS", "")
        .replace("SIP/2.0/UDP", "SIP/2.0/TCP")
        .replace("Content-Length: 0", "Content-Length: 70000");
    assert!(
        !on_stream(&mut h, 1, from, head.as_bytes()),
        "the stream cannot go on"
    );
    assert_eq!(h.sent_lines(), ["SIP/2.0 513 Message Too Large"]);
    // A head alone longer than the limit cannot be answered: nothing is sent.
    let mut h = limited(10, 10);
    let endless = format!(
        "OPTIONS sip:8000@198.51.100.1 SIP/2.0\r\nX-Filler: {}",
        "a".repeat(70_000)
    );
    assert!(!on_stream(&mut h, 2, from, endless.as_bytes()));
    assert!(h.sent().is_empty());
}

#[test]
fn the_connection_of_a_call_in_progress_is_not_idle() {
    let mut h = limited(10, 10);
    let from: SocketAddr = PHONE.parse().unwrap();
    h.endpoint
        .connection_opened(h.now, ConnectionId(1), from)
        .unwrap();
    let invite = invite("z9hG4bKtcpcall", Some(OFFER)).replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    assert!(on_stream(&mut h, 1, from, invite.as_bytes()));
    let call = match h.events().as_slice() {
        [Event::IncomingCall(call)] => call.call,
        other => panic!("{other:?}"),
    };
    h.sent();
    let tag = h.answer(call);
    let ack = ack(&tag, 1).replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    assert!(on_stream(&mut h, 1, from, ack.as_bytes()));
    assert!(matches!(h.events().as_slice(), [Event::CallAcked { .. }]));
    h.run_until(Duration::from_secs(150));
    assert!(
        !h.events()
            .iter()
            .any(|event| matches!(event, Event::CloseConnection { .. })),
        "two and a half idle periods into the call"
    );
    assert_eq!(h.endpoint.connection_count(), 1);
}
