//! SIPp, the field's SIP test tool, against `vportal serve`: the plain SIP part of the portal (OPTIONS, a call
//! with its INVITE, ACK and BYE, CANCEL, and what the portal refuses), over UDP and over TCP.
//! Needs Debian's sip-tester (scripts/test installs it); under `CI=true` a missing sipp fails the tests.

use std::process::Command;

use vportal_tests::{Server, peer, workspace_root};

/// Runs one SIPp scenario (`tests/sipp/NAME.xml`) for `calls` calls against `server`; returns whether every
/// call succeeded, with SIPp's output for the failure message.
fn sipp_to(
    server: &Server,
    scenario: &str,
    dialed: &str,
    tcp: bool,
    calls: u32,
) -> Option<(bool, String)> {
    let trace = tempfile::tempdir().unwrap();
    sipp_in(trace.path(), server, scenario, dialed, tcp, calls)
}

/// Runs SIPp in `dir` (where a scenario finds the files it plays).
fn sipp_in(
    dir: &std::path::Path,
    server: &Server,
    scenario: &str,
    dialed: &str,
    tcp: bool,
    calls: u32,
) -> Option<(bool, String)> {
    let sipp = peer("sipp", "sip-tester")?;
    let output = Command::new(sipp)
        .current_dir(dir)
        .arg(server.sip.to_string())
        .args(["-sf"])
        .arg(
            workspace_root()
                .join("tests/sipp")
                .join(format!("{scenario}.xml")),
        )
        .args(["-s", dialed, "-i"])
        .arg(if server.sip.is_ipv6() {
            "::1"
        } else {
            "127.0.0.1"
        })
        .args(["-p", "0", "-m"])
        .arg(calls.to_string())
        .args([
            "-l",
            "4",
            "-r",
            "10",
            "-timeout",
            "20s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
            "-mp",
            "0",
        ])
        .args(if tcp {
            &["-t", "t1"][..]
        } else {
            &["-t", "u1"][..]
        })
        .output()
        .expect("sipp runs");
    let errors: String = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().contains("errors"))
        .map(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default())
        .collect();
    let report = format!(
        "sipp {scenario} (tcp: {tcp}) exit {:?}\n{}\n{}\n{errors}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Some((output.status.success(), report))
}

fn check(server: &Server, scenario: &str, tcp: bool, calls: u32) {
    if let Some((ok, report)) = sipp_to(server, scenario, "5558000", tcp, calls) {
        assert!(ok, "{report}");
    }
}

fn check_to(server: &Server, scenario: &str, dialed: &str) {
    if let Some((ok, report)) = sipp_to(server, scenario, dialed, false, 1) {
        assert!(ok, "{report}");
    }
}

#[test]
fn options_is_answered_with_allow_and_accept_over_udp_and_tcp() {
    let server = Server::start_demo("");
    check(&server, "options", false, 3);
    check(&server, "options", true, 3);
}

#[test]
fn calls_are_answered_keeping_the_offered_telephone_event_type_and_end_with_bye() {
    let server = Server::start_demo("");
    check(&server, "call", false, 4);
    check(&server, "call", true, 2);
}

#[test]
fn ipv6_works_in_uris_via_and_sdp() {
    let server = Server::start_demo("listen = \"[::1]:0\"\n");
    assert!(server.sip.is_ipv6());
    check(&server, "options", false, 1);
    check(&server, "call_ipv6", false, 2);
}

#[test]
fn requests_from_networks_the_portal_does_not_serve_get_403() {
    let server = Server::start_demo("allow = [\"10.0.0.0/8\"]\n");
    check(&server, "forbidden", false, 1);
}

#[test]
fn a_call_to_a_number_that_is_no_portal_gets_404() {
    let server = Server::start_demo("");
    check_to(&server, "not_found", "5559999");
}

#[test]
fn a_cancelled_invite_gets_200_and_487() {
    // The portal answers at once by default; here it waits, so the CANCEL surely comes first.
    let server = Server::start_demo("answer_after_ms = 400\n");
    check(&server, "cancel", false, 3);
}

#[test]
fn unknown_methods_extensions_and_codecs_are_refused_with_the_right_status() {
    let server = Server::start_demo("");
    check(&server, "refused", false, 2);
}

#[test]
fn stopping_the_server_hangs_up_calls_in_progress_and_exits_cleanly() {
    let mut server = Server::start_demo("");
    let Some(sipp) = peer("sipp", "sip-tester") else {
        return;
    };
    let trace = tempfile::tempdir().unwrap();
    let caller = Command::new(sipp)
        .current_dir(trace.path())
        .arg(server.sip.to_string())
        .arg("-sf")
        .arg(workspace_root().join("tests/sipp/bye_from_portal.xml"))
        .args([
            "-s",
            "5558000",
            "-i",
            "127.0.0.1",
            "-p",
            "0",
            "-m",
            "2",
            "-l",
            "2",
            "-r",
            "10",
        ])
        .args([
            "-timeout",
            "20s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
            "-mp",
            "0",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("sipp runs");
    // Let both calls be answered and acknowledged.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        server.terminate(),
        "the server exits with success after SIGTERM"
    );
    let output = caller.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "both calls got the portal's BYE: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn sipp_callers_key_the_passcode_with_rfc_4733_and_are_said_goodbye() {
    let server = Server::start_demo("");
    let dir = tempfile::tempdir().unwrap();
    // Into the welcome: the passcode (barging in); a second later, at the main menu, 9.
    vportal_tests::write_dtmf_pcap(&dir.path().join("dtmf.pcap"), "1357924#,9", 96, 2500);
    // One caller, then a small load: six more, three at a time.
    for (calls, limit) in [(1, "1"), (6, "3")] {
        let Some((ok, report)) = sipp_with_limit(dir.path(), &server, calls, limit) else {
            return;
        };
        assert!(ok, "{report}");
    }
    let audit = Command::new(vportal_tests::vportal_binary())
        .args(["admin", "--data"])
        .arg(&server.data)
        .args(["audit", "--mailbox", "1001", "--limit", "50"])
        .output()
        .unwrap();
    let logins = String::from_utf8_lossy(&audit.stdout)
        .lines()
        .filter(|line| line.contains("\"kind\":\"login_ok\"") && line.contains("from 5551001"))
        .count();
    assert_eq!(logins, 7, "every caller logged in");
}

fn sipp_with_limit(
    dir: &std::path::Path,
    server: &Server,
    calls: u32,
    limit: &str,
) -> Option<(bool, String)> {
    let sipp = peer("sipp", "sip-tester")?;
    let output = Command::new(sipp)
        .current_dir(dir)
        .arg(server.sip.to_string())
        .arg("-sf")
        .arg(workspace_root().join("tests/sipp/login_dtmf.xml"))
        .args(["-s", "5558000", "-i", "127.0.0.1", "-p", "0", "-m"])
        .arg(calls.to_string())
        .args([
            "-l",
            limit,
            "-r",
            "3",
            "-timeout",
            "40s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
        ])
        .args(["-mp", "0"])
        .output()
        .expect("sipp runs");
    Some((
        output.status.success(),
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    ))
}
