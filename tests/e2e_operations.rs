//! End to end, against the real `vportal serve`: what an operator runs it with. The Prometheus metrics and
//! health endpoints during and after a call (and that no label names a number), and a configuration reload on
//! SIGHUP that narrows the allowed networks while a call goes on.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use portal_harness::PromptId as P;
use vportal_tests::{CALL_WAIT, Server, call_options, dial_from, must};

const METRICS_ON: &str = "[metrics]\nlisten = \"127.0.0.1:0\"\n";

/// GETs `path` from the metrics listener: its status and body.
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut response = ureq::get(format!("http://{addr}{path}"))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap_or_else(|error| panic!("GET {path}: {error}"));
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap();
    (status, body)
}

/// The value of the series of `name` whose labels include every `labels` pair, if it is exposed.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, number) = line.rsplit_once(' ')?;
            let (series_name, series_labels) = match series.split_once('{') {
                Some((series_name, rest)) => (series_name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let wanted = labels
                .iter()
                .all(|(key, val)| series_labels.contains(&format!("{key}=\"{val}\"")));
            (series_name == name && wanted).then(|| number.parse().ok())?
        })
}

/// Every `key="value"` label pair in the exposition.
fn label_pairs(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let Some((_, rest)) = line.split_once('{') else {
            continue;
        };
        let Some((labels, _)) = rest.rsplit_once('}') else {
            continue;
        };
        for pair in labels.split("\",") {
            if let Some((key, val)) = pair.split_once("=\"") {
                pairs.push((key.to_owned(), val.trim_end_matches('"').to_owned()));
            }
        }
    }
    pairs
}

#[test]
fn metrics_count_a_call_and_its_login_and_no_label_names_a_number() {
    let server = Server::start_demo_with("", &[], METRICS_ON);
    let metrics = server
        .metrics
        .expect("the server prints its metrics address");
    assert_eq!(get(metrics, "/healthz"), (200, "ok\n".into()));
    assert_eq!(get(metrics, "/readyz"), (200, "ready\n".into()));
    assert_eq!(get(metrics, "/nothing-here").0, 404);

    let phone = dial_from(&server, "5551001");
    must(&server, &phone, phone.wait_for_start(P::Welcome, CALL_WAIT));
    must(&server, &phone, phone.press("1357924#"));
    must(
        &server,
        &phone,
        phone.wait_for_start(P::MainMenu, CALL_WAIT),
    );
    must(&server, &phone, phone.hang_up());

    // The call's end is counted at once; the SIP counts are copied once a second.
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let (status, text) = get(metrics, "/metrics");
        assert_eq!(status, 200);
        let ended = value(
            &text,
            "vportal_calls_total",
            &[("outcome", "caller_hung_up")],
        );
        let byes = value(
            &text,
            "vportal_sip_requests_total",
            &[("direction", "received"), ("method", "BYE")],
        );
        if ended == Some(1.0) && byes == Some(1.0) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "the call was not counted:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let expect = |name: &str, labels: &[(&str, &str)], wanted: f64| {
        assert_eq!(
            value(&text, name, labels),
            Some(wanted),
            "{name} {labels:?} in\n{text}"
        );
    };
    expect(
        "vportal_logins_total",
        &[("account", "mailbox"), ("result", "ok")],
        1.0,
    );
    expect("vportal_passcode_verify_seconds_count", &[], 1.0);
    expect(
        "vportal_key_presses_total",
        &[("source", "telephone_event")],
        8.0,
    );
    expect(
        "vportal_sip_requests_total",
        &[("direction", "received"), ("method", "INVITE")],
        1.0,
    );
    expect(
        "vportal_sip_requests_total",
        &[("direction", "received"), ("method", "ACK")],
        1.0,
    );
    expect(
        "vportal_sip_responses_total",
        &[("direction", "sent"), ("status", "200")],
        2.0,
    );
    expect("vportal_calls_in_progress", &[], 0.0);
    expect("vportal_store_queue_depth", &[("pool", "passcode")], 0.0);
    expect("vportal_build_info", &[], 1.0);
    assert!(value(&text, "vportal_passcode_verify_seconds_sum", &[]).unwrap() > 0.0);
    // The call lasted over a second: 50 frames a second, nearly all within a millisecond of their slot.
    let sent = value(&text, "vportal_rtp_frames_sent_total", &[]).unwrap();
    let on_time = value(
        &text,
        "vportal_rtp_frames_late_total",
        &[("late_by", "le_1ms")],
    )
    .unwrap();
    assert!(
        sent >= 50.0 && on_time > 0.0,
        "{sent} frames, {on_time} within 1 ms"
    );

    // Nothing names the caller, the mailbox or the passcode: label values are words (statuses, bucket bounds,
    // a media thread's index and the build's version are numbers by nature).
    assert!(
        !text.contains("5551001") && !text.contains("1357924"),
        "{text}"
    );
    for (key, val) in label_pairs(&text) {
        if ![
            "status", "le", "quantile", "version", "revision", "late_by", "thread",
        ]
        .contains(&key.as_str())
        {
            assert!(
                !val.chars().any(|c| c.is_ascii_digit()),
                "label {key}=\"{val}\" carries digits"
            );
        }
    }
}

/// An OPTIONS from loopback: the status line of the answer, or `None` after a second without one.
fn options_status(server: &Server, branch: &str) -> Option<String> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let port = socket.local_addr().unwrap().port();
    let request = format!(
        "OPTIONS sip:5558000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:5558000@127.0.0.1>\r\n\
         Call-ID: {branch}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    socket.send_to(request.as_bytes(), server.sip).unwrap();
    let mut buffer = [0u8; 4096];
    let (len, _) = socket.recv_from(&mut buffer).ok()?;
    let text = String::from_utf8_lossy(&buffer[..len]).into_owned();
    text.lines().next().map(str::to_owned)
}

fn hang_up_signal(server: &Server) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits until the server's log has `needle` `count` times.
fn wait_for_log(server: &Server, needle: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(&server.log).unwrap_or_default();
        if log.matches(needle).count() >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the log:\n{}",
            server.log_tail(30)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sighup_narrows_the_allowed_networks_for_new_requests_while_a_call_goes_on() {
    let server = Server::start_demo_with("", &[], METRICS_ON);
    let metrics = server.metrics.unwrap();
    assert_eq!(
        options_status(&server, "before").as_deref(),
        Some("SIP/2.0 200 OK")
    );
    let phone = dial_from(&server, "5551001");
    must(&server, &phone, phone.wait_for_start(P::Welcome, CALL_WAIT));

    // Loopback is no longer allowed: new requests from it are refused.
    let config = std::fs::read_to_string(&server.config).unwrap();
    let narrowed = config.replacen("[sip]\n", "[sip]\nallow = [\"10.0.0.0/8\"]\n", 1);
    std::fs::write(&server.config, narrowed).unwrap();
    hang_up_signal(&server);
    wait_for_log(&server, "configuration reloaded", 1);
    assert_eq!(
        options_status(&server, "after").as_deref(),
        Some("SIP/2.0 403 Forbidden")
    );
    assert!(
        portal_harness::Phone::dial(call_options(&server, "5551002")).is_err(),
        "a new call from a network no longer allowed is refused"
    );

    // The call in progress goes on to the end: keys over RTP, and its BYE is answered.
    must(&server, &phone, phone.press("1357924#"));
    must(
        &server,
        &phone,
        phone.wait_for_start(P::MainMenu, CALL_WAIT),
    );
    must(&server, &phone, phone.hang_up());

    // A file that does not read is refused whole; the settings in force stay.
    std::fs::write(&server.config, "[sip]\nallow = [\"not a network\"]\n").unwrap();
    hang_up_signal(&server);
    wait_for_log(&server, "configuration reload refused", 1);
    assert_eq!(
        options_status(&server, "refused").as_deref(),
        Some("SIP/2.0 403 Forbidden")
    );
    let text = get(metrics, "/metrics").1;
    assert_eq!(
        value(
            &text,
            "vportal_config_reloads_total",
            &[("result", "applied")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "vportal_config_reloads_total",
            &[("result", "refused")]
        ),
        Some(1.0)
    );
}
