//! baresip, a real softphone, against `vportal serve`: it dials the portal from demo users' numbers, keys
//! passcodes as RFC 4733 events (typed on its console), speaks a name from a WAV file, and is hung up on. What it
//! heard is checked in its own recording of the decoded audio, what happened in the portal's audit. Needs Debian's baresip-core (scripts/test installs it); under
//! `CI=true` a missing baresip fails the test.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use portal_core::PromptId;
use vportal_tests::{Server, find_prompt, peer, vportal_binary};

/// baresip on a config of its own: account `<sip:FROM@127.0.0.1>`, G.711 only, no sound card (what it hears is
/// recorded to a WAV file; what it says is `voice`, a WAV file, or the portal's own audio looped back).
struct Softphone {
    dir: tempfile::TempDir,
}

impl Softphone {
    fn new(from: &str, voice: Option<&std::path::Path>) -> Softphone {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("conf");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::create_dir_all(dir.path().join("heard")).unwrap();
        let rtp_low = 40_000
            + (std::process::id() % 100) as u16 * 200
            + if from.ends_with('2') { 100 } else { 0 };
        let source = match voice {
            Some(path) => format!("aufile,{}", path.display()),
            None => "aubridge,nil".to_owned(),
        };
        std::fs::write(
            config.join("config"),
            format!(
                "poll_method epoll\nsip_listen 127.0.0.1:0\naudio_player aubridge,nil\naudio_source {source}\n\
                 audio_alert aubridge,nil\naudio_srate 8000\naudio_channels 1\nrtp_ports {rtp_low}-{}\n\
                 module_path /usr/lib/baresip/modules\nmodule stdio.so\nmodule g711.so\nmodule aubridge.so\n\
                 module aufile.so\nmodule sndfile.so\nmodule_app account.so\nmodule_app menu.so\nsnd_path {}\n",
                rtp_low + 99,
                dir.path().join("heard").display()
            ),
        )
        .unwrap();
        std::fs::write(
            config.join("accounts"),
            format!("<sip:{from}@127.0.0.1>;regint=0\n"),
        )
        .unwrap();
        Softphone { dir }
    }

    /// Dials the portal, types each `(at_ms, keys)` at its time (keys become RFC 4733 events), and returns
    /// what baresip printed and the audio it heard; `None` outside CI when baresip is missing.
    fn call(
        &self,
        server: &Server,
        keys: &[(u64, &str)],
        seconds: u32,
    ) -> Option<(String, Vec<i16>)> {
        let baresip = peer("baresip", "baresip-core")?;
        let mut phone = Command::new(baresip)
            .arg("-f")
            .arg(self.dir.path().join("conf"))
            .arg("-e")
            .arg(format!("/dial sip:5558000@{}", server.sip))
            .args(["-t", &seconds.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("baresip starts");
        let mut input = phone.stdin.take().unwrap();
        let started = std::time::Instant::now();
        for (at_ms, typed) in keys {
            let due = Duration::from_millis(*at_ms);
            std::thread::sleep(due.saturating_sub(started.elapsed()));
            input.write_all(typed.as_bytes()).unwrap();
            input.flush().unwrap();
        }
        let output = phone.wait_with_output().unwrap();
        let dump = std::fs::read_dir(self.dir.path().join("heard"))
            .unwrap()
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|path| path.to_string_lossy().ends_with("-dec.wav"))
            .expect("baresip recorded what it heard");
        let heard = portal_media::prompts::read_wav(&dump).expect("baresip's recording reads");
        Some((String::from_utf8_lossy(&output.stdout).into_owned(), heard))
    }
}

fn audit(server: &Server, mailbox: &str) -> String {
    let output = Command::new(vportal_binary())
        .args(["admin", "--data"])
        .arg(&server.data)
        .args(["audit", "--mailbox", mailbox])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn baresip_logs_in_hears_the_main_menu_and_is_hung_up_on_after_9() {
    let server = Server::start_demo("");
    // Into the welcome prompt: the passcode (barging in), then 9 at the main menu.
    let Some((said, heard)) =
        Softphone::new("5551001", None).call(&server, &[(2500, "1357924#"), (5500, "9")], 10)
    else {
        return;
    };
    assert!(said.contains("terminated"), "the call ended: {said}");
    let welcome = find_prompt(&heard, PromptId::Welcome).expect("heard the welcome");
    let menu = find_prompt(&heard, PromptId::MainMenu).expect("heard the main menu");
    let goodbye = find_prompt(&heard, PromptId::Goodbye).expect("heard goodbye");
    assert!(
        welcome < menu && menu < goodbye,
        "in order: {welcome} {menu} {goodbye}"
    );
    assert_eq!(find_prompt(&heard, PromptId::PasscodeIncorrect), None);
    let audit = audit(&server, "1001");
    assert!(audit.contains("\"kind\":\"login_ok\""), "{audit}");

    // The passcode went through the whole server, logging at trace level: it is in none of its logs.
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "the log ran at trace level"
    );
    assert!(
        log.contains("key press"),
        "the key presses were logged, as events"
    );
    assert!(
        !log.contains("1357924"),
        "the passcode is in the server's log"
    );
}

#[test]
fn baresip_first_login_changes_the_default_passcode_and_records_the_name() {
    let server = Server::start_demo("");
    let voice = tempfile::NamedTempFile::with_suffix(".wav").unwrap();
    vportal_tests::write_wav(voice.path(), &vportal_tests::speech_like(60));
    let keys = [
        // baresip sends typed keys one after another, about 250 ms each.
        (2500, "2718281#"), // the organization's default passcode, into the welcome
        (7000, "3691470#"), // the new passcode, into must_change_and_record_name
        (11_000, "3691470#"), // again, into reenter_new_passcode
        (28_000, "1"),      // keep the recorded name (4 s of voice), into the review
        (33_000, "9"),      // leave, from the main menu
    ];
    let Some((said, heard)) =
        Softphone::new("5551002", Some(voice.path())).call(&server, &keys, 38)
    else {
        return;
    };
    assert!(said.contains("terminated"), "the call ended: {said}");
    let order = [
        PromptId::Welcome,
        PromptId::MustChangeAndRecordName,
        PromptId::PasscodeChanged,
        PromptId::RecordName,
        PromptId::NameSaved,
        PromptId::MainMenu,
        PromptId::Goodbye,
    ];
    let found: Vec<Option<usize>> = order
        .iter()
        .map(|prompt| find_prompt(&heard, *prompt))
        .collect();
    let at: Vec<usize> = order
        .iter()
        .zip(&found)
        .map(|(prompt, at)| {
            at.unwrap_or_else(|| {
                panic!(
                    "did not hear {prompt}: {found:?}\n{}",
                    audit(&server, "1002")
                )
            })
        })
        .collect();
    assert!(
        at.windows(2).all(|pair| pair[0] < pair[1]),
        "heard in order {order:?}: {at:?}"
    );
    let audit = audit(&server, "1002");
    assert!(audit.contains("\"kind\":\"passcode_changed\""), "{audit}");
    assert!(audit.contains("\"kind\":\"recording_saved\""), "{audit}");
}
