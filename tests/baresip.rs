//! baresip, a real softphone, against `vportal serve`: it dials the portal from a demo user's number, keys the
//! passcode as RFC 4733 events, hears the main menu, presses 9 and is hung up on. What it heard is checked
//! from its own recording of the decoded audio. Needs Debian's baresip-core (scripts/test installs it); under
//! `CI=true` a missing baresip fails the test.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use portal_core::PromptId;
use vportal_tests::{Server, find_prompt, peer, vportal_binary};

#[test]
fn baresip_logs_in_hears_the_main_menu_and_is_hung_up_on_after_9() {
    let server = Server::start_demo("");
    let Some(baresip) = peer("baresip", "baresip-core") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("conf");
    let recordings = dir.path().join("heard");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::create_dir_all(&recordings).unwrap();
    let rtp_low = 40_000 + (std::process::id() % 200) as u16 * 100;
    std::fs::write(
        config.join("config"),
        format!(
            "poll_method epoll\nsip_listen 127.0.0.1:0\naudio_player aubridge,nil\naudio_source aubridge,nil\n\
             audio_alert aubridge,nil\naudio_srate 8000\naudio_channels 1\nrtp_ports {rtp_low}-{}\n\
             module_path /usr/lib/baresip/modules\nmodule stdio.so\nmodule g711.so\nmodule aubridge.so\n\
             module sndfile.so\nmodule_app account.so\nmodule_app menu.so\nsnd_path {}\n",
            rtp_low + 99,
            recordings.display()
        ),
    )
    .unwrap();
    std::fs::write(
        config.join("accounts"),
        "<sip:5551001@127.0.0.1>;regint=0\n",
    )
    .unwrap();
    let mut phone = Command::new(baresip)
        .arg("-f")
        .arg(&config)
        .arg("-e")
        .arg(format!("/dial sip:5558000@{}", server.sip))
        .args(["-t", "10"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("baresip starts");
    let mut keys = phone.stdin.take().unwrap();
    // Into the welcome prompt: the passcode (barging in), then 9 at the main menu.
    std::thread::sleep(Duration::from_millis(2500));
    keys.write_all(b"1357924#").unwrap();
    keys.flush().unwrap();
    std::thread::sleep(Duration::from_millis(3000));
    keys.write_all(b"9").unwrap();
    keys.flush().unwrap();
    let output = phone.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("terminated"), "the call ended: {said}");

    let dump = std::fs::read_dir(&recordings)
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.to_string_lossy().ends_with("-dec.wav"))
        .expect("baresip recorded what it heard");
    let heard = portal_media::prompts::read_wav(&dump).expect("baresip's recording reads");
    let welcome = find_prompt(&heard, PromptId::Welcome).expect("heard the welcome");
    let menu = find_prompt(&heard, PromptId::MainMenu).expect("heard the main menu");
    let goodbye = find_prompt(&heard, PromptId::Goodbye).expect("heard goodbye");
    assert!(
        welcome < menu && menu < goodbye,
        "in order: {welcome} {menu} {goodbye}"
    );
    assert_eq!(find_prompt(&heard, PromptId::PasscodeIncorrect), None);

    let audit = Command::new(vportal_binary())
        .args(["admin", "--data"])
        .arg(&server.data)
        .args(["audit", "--mailbox", "1001"])
        .output()
        .unwrap();
    let audit = String::from_utf8_lossy(&audit.stdout);
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
