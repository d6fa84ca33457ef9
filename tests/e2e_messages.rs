//! End to end: voice messages over SIP against the real `vportal serve --demo`, its `[sip] trusted` naming
//! loopback, so the callers here play the PBX that forwards a call its user (5551001, demo mailbox 1001) did
//! not take.
//!
//! - SIPp deposits with each form of the redirection (an RFC 4458 Request-URI, History-Info, Diversion),
//!   speaking a PCMU pcap: the messages are kept, with the caller's number and name, the length spoken, the
//!   urgency the PBX asked for, and exactly the audio sent;
//! - a harness caller hears the greeting, speaks and hangs up mid-message: the message is kept; then the
//!   owner logs in, hears the counts, an envelope and the audio deposited, saves one message and deletes
//!   another, and the administrator's list agrees.
//!
//! Needs Debian's sip-tester (scripts/test installs it); under `CI=true` a missing sipp fails the tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use portal_core::PromptId as P;
use portal_core::speech::{self, CalendarDate, Envelope, Language, TimeOfDay};
use portal_harness::{Expect, HangUpBy, Phone};
use vportal_tests::{
    CALL_WAIT, Server, call_options, count_kind, dial_from, must, peer, sipp_report, speech_like,
    workspace_root, write_pcmu_pcap,
};

/// The demo server, trusting loopback (where SIPp and the harness call from) to say who a call is for.
fn trusted_server() -> Server {
    Server::start_demo("trusted = [\"127.0.0.1/32\"]\n")
}

/// What SIPp speaks: 3 s of a voice stand-in.
fn sipp_speech() -> Vec<i16> {
    speech_like(3)
}

/// One form of the redirection, as `tests/sipp/deposit.xml` takes it.
struct Form {
    /// What it is, for failure messages.
    name: &'static str,
    /// The calling number (each form its own, so each message tells which form left it).
    caller: &'static str,
    /// The Request-URI.
    ruri: String,
    /// One header line.
    redirection: String,
    /// The Priority header's value.
    priority: &'static str,
}

/// The three forms, each naming user 5551001 to the portal at `server`.
fn forms(server: &Server) -> [Form; 3] {
    let portal = format!("sip:5558000@{}", server.sip);
    [
        Form {
            name: "RFC 4458 Request-URI",
            caller: "5552001",
            ruri: format!("{portal};target=sip:5551001%40pbx.example;cause=486"),
            redirection: "Subject: forwarded to voicemail".into(),
            priority: "normal",
        },
        Form {
            name: "History-Info",
            caller: "5552002",
            ruri: portal.clone(),
            // RFC 7044 §4: the user (index 1), their phone that did not answer (1.1, left with 408), then the
            // portal, mapped from index 1, cause 408.
            redirection: format!(
                "History-Info: <sip:5551001@pbx.example>;index=1, \
                 <sip:5551001@192.0.2.20?Reason=SIP%3Bcause%3D408>;index=1.1;rc=1, \
                 <{portal};cause=408>;index=1.2;mp=1"
            ),
            priority: "normal",
        },
        Form {
            name: "Diversion",
            caller: "5552003",
            ruri: portal,
            redirection: "Diversion: <sip:5551001@pbx.example>;reason=no-answer;counter=1".into(),
            priority: "urgent",
        },
    ]
}

/// SIPp running `tests/sipp/deposit.xml` once with `form`, in `dir` (where it finds `speech.pcap` and leaves
/// its error log); `None` outside CI when sipp is missing.
fn start_sipp(server: &Server, dir: &Path, form: &Form) -> Option<Child> {
    let mut command = Command::new(peer("sipp", "sip-tester")?);
    command
        .current_dir(dir)
        .arg(server.sip.to_string())
        .arg("-sf")
        .arg(workspace_root().join("tests/sipp/deposit.xml"))
        .args(["-s", "5558000", "-i", "127.0.0.1", "-p", "0", "-mp", "0"])
        .args([
            "-timeout",
            "40s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
        ])
        .args(["-m", "1", "-l", "1", "-t", "u1"])
        .args(["-key", "ruri", &form.ruri])
        .args(["-key", "redirection", &form.redirection])
        .args(["-key", "priority", form.priority])
        .args(["-key", "caller", form.caller])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Some(command.spawn().expect("sipp starts"))
}

/// Waits for a SIPp run; fails the test with what it printed, its error log and the server's log unless its
/// call succeeded.
fn sipp_passes(server: &Server, dir: &Path, form: &Form, sipp: Child) {
    let output = sipp.wait_with_output().expect("sipp runs");
    assert!(
        output.status.success(),
        "{}: {}\n--- server log (tail) ---\n{}",
        form.name,
        sipp_report(form.name, dir, &output),
        server.log_tail(40)
    );
}

/// A directory for one SIPp run, holding the speech it plays; returns how long that speech lasts.
fn sipp_dir() -> (tempfile::TempDir, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let length = write_pcmu_pcap(&dir.path().join("speech.pcap"), &sipp_speech());
    (dir, length)
}

/// One line of `vportal admin user messages`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Message {
    id: i64,
    from: Option<String>,
    from_name: Option<String>,
    received_at: i64,
    duration_ms: u64,
    folder: String,
    heard: bool,
    urgent: bool,
}

/// `vportal admin user messages MAILBOX`, read from its JSON (an array of flat objects, one field a line).
fn messages(server: &Server, mailbox: &str) -> Vec<Message> {
    let json = server.admin(&["user", "messages", mailbox], "");
    let mut list = Vec::new();
    for line in json.lines().map(str::trim) {
        if line.starts_with('{') {
            list.push(Message::default());
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim().trim_matches('"');
        let value = value.trim().trim_end_matches(',');
        let text = (value != "null").then(|| {
            value
                .trim_matches('"')
                .replace("\\\"", "\"")
                .replace("\\\\", "\\")
        });
        let message = list.last_mut().expect("a field inside an object");
        match key {
            "id" => message.id = value.parse().unwrap(),
            "from" => message.from = text,
            "from_name" => message.from_name = text,
            "received_at" => message.received_at = value.parse().unwrap(),
            "duration_ms" => message.duration_ms = value.parse().unwrap(),
            "folder" => message.folder = text.unwrap_or_default(),
            "heard" => message.heard = value == "true",
            "urgent" => message.urgent = value == "true",
            other => panic!("an unknown field {other:?} in {json}"),
        }
    }
    list
}

/// The two messages `--demo` seeds for 1001, as listed before anyone touched them.
fn is_demo_message(message: &Message) -> bool {
    message.id <= 2 && message.from_name.is_none()
}

/// The stored audio of message `id` (its WAV file, found through the store's own table), as 8 kHz samples.
fn stored_audio(server: &Server, id: i64) -> Vec<i16> {
    let db = rusqlite::Connection::open_with_flags(
        server.data.join("vportal.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let file: String = db
        .query_row(
            "SELECT file_name FROM messages WHERE id = ?1",
            [id],
            |row| row.get(0),
        )
        .unwrap();
    let path: PathBuf = server.data.join("messages").join(file);
    portal_media::prompts::read_wav(&path).expect("the message's WAV reads")
}

/// `samples` as a phone hears them after PCMU: encoded and decoded again.
fn through_pcmu(samples: &[i16]) -> Vec<i16> {
    use portal_media::g711::Codec;
    samples
        .iter()
        .map(|&sample| Codec::Pcmu.decode_sample(Codec::Pcmu.encode_sample(sample)))
        .collect()
}

#[test]
fn sipp_deposits_as_a_trusted_pbx_in_each_redirection_form_are_kept_with_the_audio_sent() {
    let server = trusted_server();
    let forms = forms(&server);
    // The three calls at once: each hears a 9 s greeting first.
    let mut runs = Vec::new();
    for form in &forms {
        let (dir, length) = sipp_dir();
        let Some(sipp) = start_sipp(&server, dir.path(), form) else {
            return;
        };
        runs.push((form, dir, length, sipp));
    }
    let mut length = Duration::ZERO;
    for (form, dir, spoken, sipp) in runs {
        sipp_passes(&server, dir.path(), form, sipp);
        length = spoken;
    }
    assert_eq!(length, Duration::from_secs(3));

    let list = messages(&server, "1001");
    assert_eq!(
        list.len(),
        5,
        "the two demo messages and three new: {list:#?}"
    );
    assert_eq!(
        list.iter().filter(|m| is_demo_message(m)).count(),
        2,
        "{list:#?}"
    );
    let expected_audio = through_pcmu(&sipp_speech());
    for form in &forms {
        let found: Vec<&Message> = list
            .iter()
            .filter(|m| m.from.as_deref() == Some(form.caller))
            .collect();
        let [message] = found[..] else {
            panic!(
                "{}: one message from {}: {list:#?}\n--- server log (tail) ---\n{}",
                form.name,
                form.caller,
                server.log_tail(60)
            );
        };
        assert_eq!(
            message.from_name.as_deref(),
            Some("SIPp Caller"),
            "{}",
            form.name
        );
        assert_eq!(
            (message.folder.as_str(), message.heard),
            ("new", false),
            "{}",
            form.name
        );
        assert_eq!(
            message.urgent,
            form.priority == "urgent",
            "{}: {message:?}",
            form.name
        );
        // The recording starts as the tone ends; SIPp starts speaking a second later and hangs up 0.4 s after
        // its last packet: the message is what it said.
        assert!(
            message.duration_ms.abs_diff(length.as_millis() as u64) <= 300,
            "{}: {} ms for {length:?} spoken",
            form.name,
            message.duration_ms
        );
        let stored = stored_audio(&server, message.id);
        if let Some(at) = (0..stored.len().max(expected_audio.len()))
            .find(|&i| stored.get(i) != expected_audio.get(i))
        {
            panic!(
                "{}: the stored audio ({} samples) differs from what SIPp sent ({} samples, through PCMU) \
                 from sample {at} on",
                form.name,
                stored.len(),
                expected_audio.len()
            );
        }
    }
    // Each deposit is audited (the demo seeds two).
    assert_eq!(
        count_kind(&server.audit("1001"), "message_deposited"),
        5,
        "{:#?}",
        server.audit("1001")
    );
}

/// The local (UTC: the demo's `[messages] time_zone`) date and time of a Unix time.
fn utc(unix_seconds: i64) -> (CalendarDate, TimeOfDay) {
    let days = unix_seconds.div_euclid(86_400);
    let seconds = unix_seconds.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (
        CalendarDate::new(year, month, day).unwrap(),
        TimeOfDay::new((seconds / 3600) as u8, (seconds / 60 % 60) as u8).unwrap(),
    )
}

/// What the owner hears before message `message` plays: "received <day> <date> at <time> from <digits>".
fn envelope_of(message: &Message) -> Vec<P> {
    let (received_on, received_at) = utc(message.received_at);
    speech::envelope(
        Language::English,
        &Envelope {
            received_on,
            received_at,
            caller: message.from.clone(),
        },
    )
}

#[test]
fn a_caller_who_hangs_up_mid_message_keeps_it_and_the_owner_hears_saves_and_deletes() {
    let server = trusted_server();
    // SIPp leaves one message (RFC 4458, busy) while the harness leaves another.
    let sipp_form = forms(&server).into_iter().next().unwrap();
    let (sipp_dir, _) = sipp_dir();
    let Some(sipp) = start_sipp(&server, sipp_dir.path(), &sipp_form) else {
        return;
    };

    // The harness plays a PBX forwarding 5553000's call that 5551001 did not answer.
    let mut options = call_options(&server, "5553000");
    options.extra_headers =
        vec!["Diversion: <sip:5551001@pbx.example>;reason=no-answer;counter=1".into()];
    let caller = match Phone::dial(options) {
        Ok(phone) => phone,
        Err(error) => panic!(
            "dial failed: {error}\n--- server log (tail) ---\n{}",
            server.log_tail(40)
        ),
    };
    // 1001's name (no greeting recorded), "is not available", "leave a message after the tone", the tone.
    let greeting = must(
        &server,
        &caller,
        caller.expect(
            &[
                Expect::Audio,
                Expect::Prompt(P::IsNotAvailable),
                Expect::Prompt(P::LeaveMessage),
                Expect::Prompt(P::Tone),
            ],
            CALL_WAIT,
        ),
    );
    assert!(
        greeting[0].duration.abs_diff(Duration::from_secs(2)) <= Duration::from_millis(100),
        "the name is 2 s: {:?}",
        caller.transcript()
    );
    let spoken = speech_like(2);
    must(&server, &caller, caller.say_samples(&spoken));
    must(&server, &caller, caller.hang_up());
    assert_eq!(caller.hung_up_by(), Some(HangUpBy::Us));
    // Nothing after the tone: the portal recorded until the hang-up and said nothing more.
    let heard: Vec<String> = caller.heard().iter().map(|h| h.label()).collect();
    assert_eq!(heard.len(), 4, "{:?}", caller.transcript());
    sipp_passes(&server, sipp_dir.path(), &sipp_form, sipp);

    let before = messages(&server, "1001");
    let harness_message = before
        .iter()
        .find(|m| m.from.as_deref() == Some("5553000"))
        .unwrap_or_else(|| {
            panic!(
                "the caller who hung up kept the message: {before:#?}\n--- transcript ---\n{}\n\
                 --- server log (tail) ---\n{}",
                caller.transcript().join("\n"),
                server.log_tail(60)
            )
        });
    // The recording runs from the end of the tone (as the portal played it) to the hang-up: the speech and
    // the few silent frames the phone sent before it. The phone sends its BYE right after its last frame, so
    // the portal may end the recording before the last frame or two arrive.
    assert!(
        (1_900..=2_300).contains(&harness_message.duration_ms),
        "{harness_message:?}"
    );
    assert_eq!(
        (
            harness_message.folder.as_str(),
            harness_message.heard,
            harness_message.urgent
        ),
        ("new", false, false)
    );
    assert_eq!(before.len(), 4, "{before:#?}");
    // New messages oldest first: the demo's two, then the two just left, in the order they were stored.
    assert!(
        is_demo_message(&before[0]) && is_demo_message(&before[1]),
        "{before:#?}"
    );
    let (third, fourth) = (&before[2], &before[3]);

    // The owner calls.
    let owner = dial_from(&server, "5551001");
    must(&server, &owner, owner.wait_for_start(P::Welcome, CALL_WAIT));
    must(&server, &owner, owner.press("1357924#"));
    must(
        &server,
        &owner,
        owner.wait_for_start(P::MainMenu, CALL_WAIT),
    );
    must(&server, &owner, owner.press("1"));
    must(
        &server,
        &owner,
        owner.wait_for(&[P::YouHave, P::NumberFour, P::NewMessages], CALL_WAIT),
    );
    // The demo's two: 6 (next; each stays new) as soon as its envelope begins.
    for _ in 0..2 {
        must(
            &server,
            &owner,
            owner.wait_for_start(P::Received, CALL_WAIT),
        );
        must(&server, &owner, owner.press("6"));
    }
    // The third: its whole envelope, then its audio, which is what was deposited.
    let mut envelope = Vec::new();
    let audio = loop {
        let heard = must(&server, &owner, owner.expect(&[Expect::Any], CALL_WAIT)).remove(0);
        match heard.prompt {
            Some(prompt) if envelope.len() < 40 => envelope.push(prompt),
            Some(_) => panic!("no audio after {envelope:?}"),
            None => break heard,
        }
    };
    assert_eq!(
        envelope,
        envelope_of(third),
        "{third:?}\n--- transcript ---\n{}",
        owner.transcript().join("\n")
    );
    assert!(
        audio
            .duration
            .as_millis()
            .abs_diff(u128::from(third.duration_ms))
            <= 100,
        "heard {} of {third:?}\n--- transcript ---\n{}",
        audio.label(),
        owner.transcript().join("\n")
    );
    // Played to its end, it is heard; # saves it, and the fourth's envelope begins: 7 deletes that one.
    must(
        &server,
        &owner,
        owner.wait_for_start(P::MessageMenu, CALL_WAIT),
    );
    must(&server, &owner, owner.press("#"));
    must(
        &server,
        &owner,
        owner.wait_for(&[P::MessageSaved], CALL_WAIT),
    );
    must(
        &server,
        &owner,
        owner.wait_for_start(P::Received, CALL_WAIT),
    );
    must(&server, &owner, owner.press("7"));
    must(
        &server,
        &owner,
        owner.wait_for(&[P::MessageDeleted, P::NoMoreMessages], CALL_WAIT),
    );
    must(
        &server,
        &owner,
        owner.wait_for_start(P::MainMenu, CALL_WAIT),
    );
    must(&server, &owner, owner.hang_up());

    // The administrator's list agrees: the demo's two untouched, the third saved and heard, the fourth gone.
    let after = messages(&server, "1001");
    let mut saved = third.clone();
    saved.folder = "saved".into();
    saved.heard = true;
    assert_eq!(
        after,
        [before[0].clone(), before[1].clone(), saved],
        "deleted: {fourth:?}\n--- transcript ---\n{}",
        owner.transcript().join("\n")
    );
    let audit = server.audit("1001");
    for (kind, count) in [
        ("message_deposited", 4),
        ("message_heard", 1),
        ("message_saved", 1),
        ("message_deleted", 1),
    ] {
        assert_eq!(count_kind(&audit, kind), count, "{kind}: {audit:#?}");
    }
}
