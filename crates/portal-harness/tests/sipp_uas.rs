//! The harness's SIP against SIPp's built-in UAS, a third-party peer: the plain SIP part of a call (INVITE, 100,
//! 200 with SDP, ACK, BYE and its 200) must satisfy it. Needs Debian's sip-tester; under `CI=true` a missing
//! sipp fails the test.

use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::Duration;

use portal_harness::{DialOptions, Phone};

#[test]
fn a_call_to_sipps_uas_is_answered_acknowledged_and_hung_up_cleanly() {
    let Some(sipp) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("sipp"))
            .find(|path| path.is_file())
    }) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "sipp is missing: install the Debian package sip-tester (scripts/test does)"
        );
        eprintln!("NOTE: sipp is missing (Debian package sip-tester); this test did not run");
        return;
    };
    let port = UdpSocket::bind("127.0.0.1:0")
        .and_then(|socket| socket.local_addr())
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let uas = Command::new(sipp)
        .current_dir(dir.path())
        .args([
            "-sn",
            "uas",
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-m",
            "1",
        ])
        .args([
            "-nostdin",
            "-trace_err",
            "-timeout",
            "20s",
            "-timeout_error",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp starts");
    // SIPp needs a moment to bind its socket.
    std::thread::sleep(Duration::from_millis(500));
    let server = format!("127.0.0.1:{port}").parse().unwrap();
    let mut options = DialOptions::new(server, "5551001", "service");
    options.answer_timeout = Duration::from_secs(10);
    let phone = Phone::dial(options).expect("SIPp's UAS answers the INVITE");
    let negotiated = phone.negotiated();
    assert_eq!(
        negotiated.remote_rtp.ip().to_string(),
        "127.0.0.1",
        "{negotiated:?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    phone.hang_up().expect("SIPp answers the BYE with 200");
    let output = uas.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "SIPp's UAS saw one clean call: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
