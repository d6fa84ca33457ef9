//! SIPp, the field's SIP test tool, against `vportal serve`: the plain SIP part of the portal (OPTIONS, a call
//! with its INVITE, ACK and BYE, CANCEL, and what the portal refuses), over UDP, TCP and IPv6, callers keying
//! their passcode as RFC 4733 events, and the BYE the portal sends when it stops.
//! Needs Debian's sip-tester (scripts/test installs it); under `CI=true` a missing sipp fails the tests.

use std::path::Path;
use std::process::{Command, Stdio};

use vportal_tests::{Server, peer, sipp_report, workspace_root};

/// One SIPp run of `tests/sipp/SCENARIO.xml` against `server`, dialing `dialed`.
struct Sipp<'a> {
    server: &'a Server,
    scenario: &'a str,
    dialed: &'a str,
    calls: u32,
    /// Calls at once.
    limit: u32,
    tcp: bool,
}

impl Sipp<'_> {
    fn new<'a>(server: &'a Server, scenario: &'a str) -> Sipp<'a> {
        Sipp {
            server,
            scenario,
            dialed: "5558000",
            calls: 1,
            limit: 4,
            tcp: false,
        }
    }

    /// The command, run in `dir` (where a scenario finds the files it plays and SIPp leaves its error log);
    /// `None` outside CI when sipp is missing.
    fn command(&self, dir: &Path) -> Option<Command> {
        let mut command = Command::new(peer("sipp", "sip-tester")?);
        command
            .current_dir(dir)
            .arg(self.server.sip.to_string())
            .arg("-sf")
            .arg(
                workspace_root()
                    .join("tests/sipp")
                    .join(format!("{}.xml", self.scenario)),
            )
            .args(["-s", self.dialed, "-i"])
            .arg(if self.server.sip.is_ipv6() {
                "::1"
            } else {
                "127.0.0.1"
            })
            .args([
                "-p",
                "0",
                "-mp",
                "0",
                "-r",
                "10",
                "-timeout",
                "40s",
                "-timeout_error",
            ])
            .args(["-nostdin", "-trace_err", "-m"])
            .arg(self.calls.to_string())
            .arg("-l")
            .arg(self.limit.to_string())
            .args(["-t", if self.tcp { "t1" } else { "u1" }])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Some(command)
    }

    /// Runs it to the end in `dir`; fails the test unless every call succeeded.
    fn passes_in(&self, dir: &Path) {
        let Some(mut command) = self.command(dir) else {
            return;
        };
        let output = command.output().expect("sipp runs");
        assert!(
            output.status.success(),
            "{}",
            sipp_report(self.scenario, dir, &output)
        );
    }

    fn passes(&self) {
        self.passes_in(tempfile::tempdir().unwrap().path());
    }
}

fn check(server: &Server, scenario: &str, tcp: bool, calls: u32) {
    Sipp {
        calls,
        tcp,
        ..Sipp::new(server, scenario)
    }
    .passes();
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
    Sipp {
        dialed: "5559999",
        ..Sipp::new(&server, "not_found")
    }
    .passes();
}

#[test]
fn an_invite_without_sdp_gets_an_offer_in_the_200_and_the_answer_in_the_ack_is_taken() {
    let server = Server::start_demo("");
    check(&server, "late_offer", false, 2);
}

#[test]
fn a_re_invite_puts_the_call_on_hold_and_resumes_it() {
    let server = Server::start_demo("");
    check(&server, "hold", false, 2);
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
    let dir = tempfile::tempdir().unwrap();
    let two_calls = Sipp {
        calls: 2,
        limit: 2,
        ..Sipp::new(&server, "bye_from_portal")
    };
    let Some(mut command) = two_calls.command(dir.path()) else {
        return;
    };
    let caller = command.spawn().expect("sipp runs");
    // Let both calls be answered and acknowledged.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        server.terminate(),
        "the server exits with success after SIGTERM"
    );
    let output = caller.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "both calls got the portal's BYE: {}",
        sipp_report("bye_from_portal", dir.path(), &output)
    );
}

#[test]
fn sipp_callers_key_the_passcode_with_rfc_4733_and_are_said_goodbye() {
    let server = Server::start_demo("");
    let dir = tempfile::tempdir().unwrap();
    // Into the welcome: the passcode (barging in); a second later, at the main menu, 9.
    vportal_tests::write_dtmf_pcap(&dir.path().join("dtmf.pcap"), "1357924#,9", 96, 2500);
    // One caller, then a small load: six more, three at a time.
    for (calls, limit) in [(1, 1), (6, 3)] {
        Sipp {
            calls,
            limit,
            ..Sipp::new(&server, "login_dtmf")
        }
        .passes_in(dir.path());
    }
    if vportal_tests::peer("sipp", "sip-tester").is_none() {
        return;
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
