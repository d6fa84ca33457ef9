//! End to end: the real `vportal serve` (demo data, short timers) called through the harness phone, set up
//! and inspected with `vportal admin`, as issue 5 lists: lockout over two calls, admin reset with the emailed
//! temporary passcode, onboarding under the generated policy, expiry, minimum days between changes, the
//! admin passcode and the auto-attendant greeting, first-digit and inter-digit timeouts, hang-up mid-change,
//! eight callers guessing one mailbox at once, and no passcode in the log or the data.
//!
//! Keys barge in (`start` then `press`) wherever the portal allows it, so the long prompts do not slow the
//! suite; announcements that take no keys are heard to their end.

use std::time::Duration;

use portal_harness::{Expect, HangUpBy, Phone, PromptId as P};
use vportal_tests::{CALL_WAIT, Server, count_kind, dial_from, emailed_passcodes, must};

/// One call, for tests that read like transcripts.
struct Call<'a> {
    server: &'a Server,
    phone: Phone,
}

impl<'a> Call<'a> {
    fn from(server: &'a Server, number: &str) -> Call<'a> {
        Call {
            server,
            phone: dial_from(server, number),
        }
    }

    /// The next things heard are exactly these (each to its end, or cut by a key).
    fn hears(&self, prompts: &[P]) -> &Self {
        must(
            self.server,
            &self.phone,
            self.phone.wait_for(prompts, CALL_WAIT),
        );
        self
    }

    /// This prompt has begun (keys pressed next barge in).
    fn starts(&self, prompt: P) -> &Self {
        must(
            self.server,
            &self.phone,
            self.phone.wait_for_start(prompt, CALL_WAIT),
        );
        self
    }

    /// "Your name is" and the recording just made, played back.
    fn hears_name_played_back(&self) -> &Self {
        must(
            self.server,
            &self.phone,
            self.phone
                .expect(&[Expect::Prompt(P::NameIs), Expect::Audio], CALL_WAIT),
        );
        self
    }

    /// After the tone: speaks 2 s, `#`, hears it played back, and keeps it (`1`).
    fn records_a_name_and_keeps_it(&self) -> &Self {
        self.say(2000)
            .press("#")
            .hears_name_played_back()
            .starts(P::NameReview)
            .press("1")
            .hears(&[P::NameSaved])
    }

    fn press(&self, keys: &str) -> &Self {
        must(self.server, &self.phone, self.phone.press(keys));
        self
    }

    fn say(&self, ms: u64) -> &Self {
        let speech = portal_harness::script::test_speech(Duration::from_millis(ms));
        must(self.server, &self.phone, self.phone.say_samples(&speech));
        self
    }

    /// The portal hangs up.
    fn is_hung_up_on(&self) {
        must(
            self.server,
            &self.phone,
            self.phone.wait_for_hang_up(CALL_WAIT),
        );
        assert_eq!(self.phone.hung_up_by(), Some(HangUpBy::Portal));
    }

    fn hang_up(&self) {
        must(self.server, &self.phone, self.phone.hang_up());
    }
}

/// A settled login from the user's own phone, up to the main menu.
fn log_in<'a>(server: &'a Server, from: &str, passcode: &str) -> Call<'a> {
    let call = Call::from(server, from);
    call.starts(P::Welcome)
        .press(&format!("{passcode}#"))
        .starts(P::MainMenu);
    call
}

/// The JSON field `"name": value` of `vportal admin ... show` output, as text.
fn field(json: &str, name: &str) -> String {
    let key = format!("\"{name}\":");
    json.lines()
        .find_map(|line| line.trim().strip_prefix(&key))
        .map(|value| {
            value
                .trim()
                .trim_end_matches(',')
                .trim_matches('"')
                .to_owned()
        })
        .unwrap_or_else(|| panic!("no {name} in {json}"))
}

/// Scenario 2: an administrator sets the passcode of a user who never called (1002, still on the organization's
/// default) with `vportal admin user set-pin`; the first call then asks only for the name, not for a change.
#[test]
fn a_passcode_set_by_the_administrator_before_the_first_call_leaves_only_the_name() {
    let server = Server::start_demo("");
    server.admin(&["user", "set-pin", "1002"], "4826015\n");
    let user = server.admin(&["user", "show", "1002"], "");
    assert_eq!(field(&user, "must_change"), "null", "{user}");
    assert_eq!(field(&user, "name_recorded"), "false", "{user}");
    let call = Call::from(&server, "5551002");
    call.starts(P::Welcome)
        .press("4826015#")
        .hears(&[P::MustRecordName, P::RecordName, P::Tone])
        .records_a_name_and_keeps_it()
        .starts(P::MainMenu)
        .hang_up();
    let audit = server.audit("1002");
    assert_eq!(count_kind(&audit, "passcode_changed"), 0, "{audit:#?}");
    assert_eq!(count_kind(&audit, "recording_saved"), 1, "{audit:#?}");
    let user = server.admin(&["user", "show", "1002"], "");
    assert_eq!(field(&user, "name_recorded"), "true", "{user}");
}

#[test]
fn four_failures_over_two_calls_lock_the_mailbox_even_for_the_right_passcode() {
    let server = Server::start_demo("");
    // Call 1: two wrong passcodes, then the caller gives up.
    let call = Call::from(&server, "5551001");
    call.starts(P::Welcome).press("1111111#");
    call.hears(&[P::PasscodeIncorrect])
        .starts(P::EnterPasscode)
        .press("2222222#");
    call.hears(&[P::PasscodeIncorrect])
        .starts(P::EnterPasscode)
        .hang_up();
    assert_eq!(
        field(
            &server.admin(&["user", "show", "1001"], ""),
            "failed_attempts"
        ),
        "2"
    );
    // Call 2: the third failure is announced; the fourth locks.
    let call = Call::from(&server, "5551001");
    call.starts(P::Welcome).press("3333333#");
    call.hears(&[P::PasscodeIncorrect])
        .starts(P::EnterPasscode)
        .press("4444444#");
    call.hears(&[P::LockedOut, P::Goodbye]).is_hung_up_on();
    // Call 3: the right passcode, and still locked.
    let call = Call::from(&server, "5551001");
    call.starts(P::Welcome).press("1357924#");
    call.hears(&[P::LockedOut, P::Goodbye]).is_hung_up_on();

    let user = server.admin(&["user", "show", "1001"], "");
    assert_eq!(field(&user, "locked"), "true", "{user}");
    let audit = server.audit("1001");
    assert_eq!(count_kind(&audit, "login_failed"), 4, "{audit:#?}");
    assert_eq!(count_kind(&audit, "locked"), 1, "{audit:#?}");
    assert_eq!(count_kind(&audit, "login_refused_locked"), 1, "{audit:#?}");
}

#[test]
fn an_admin_reset_emails_a_temporary_passcode_that_forces_a_change() {
    let server = Server::start_demo("");
    // Lock the mailbox first: the reset unlocks it too.
    let call = Call::from(&server, "5551001");
    call.starts(P::Welcome);
    for wrong in ["1111111#", "2222222#", "3333333#"] {
        call.press(wrong)
            .hears(&[P::PasscodeIncorrect])
            .starts(P::EnterPasscode);
    }
    call.press("4444444#")
        .hears(&[P::LockedOut, P::Goodbye])
        .is_hung_up_on();

    server.admin(&["user", "reset-pin", "1001"], "");
    let emailed = emailed_passcodes(&server.data, "user1001@example.org");
    assert_eq!(emailed.len(), 1, "one reset email: {emailed:?}");
    let temporary = &emailed[0];

    // The old passcode no longer works; the temporary one opens only the forced change (the name is recorded).
    let call = Call::from(&server, "5551001");
    call.starts(P::Welcome).press("1357924#");
    call.hears(&[P::PasscodeIncorrect])
        .starts(P::EnterPasscode)
        .press(&format!("{temporary}#"))
        .starts(P::MustChangePasscode)
        .press("2468013#")
        .starts(P::ReenterNewPasscode)
        .press("2468013#")
        .hears(&[P::PasscodeChanged])
        .starts(P::MainMenu)
        .press("9")
        .hears(&[P::Goodbye])
        .is_hung_up_on();

    // The temporary passcode stopped working; the new one is settled.
    let call = Call::from(&server, "5551001");
    call.starts(P::Welcome).press(&format!("{temporary}#"));
    call.hears(&[P::PasscodeIncorrect]).hang_up();
    log_in(&server, "5551001", "2468013").hang_up();
}

#[test]
fn a_user_onboarded_under_the_generated_policy_must_change_the_emailed_passcode() {
    let server = Server::start_demo("");
    server.admin(&["policy", "set", "--initial-pin", "generated"], "");
    server.admin(
        &[
            "user",
            "add",
            "--mailbox",
            "1006",
            "--number",
            "5551006",
            "--extension",
            "1006",
            "--email",
            "ann@example.org",
        ],
        "",
    );
    let emailed = emailed_passcodes(&server.data, "ann@example.org");
    assert_eq!(emailed.len(), 1, "one onboarding email: {emailed:?}");
    let call = Call::from(&server, "5551006");
    call.starts(P::Welcome)
        .press(&format!("{}#", emailed[0]))
        .starts(P::MustChangeAndRecordName)
        .press("3691470#")
        .starts(P::ReenterNewPasscode)
        .press("3691470#")
        .hears(&[P::PasscodeChanged, P::RecordName, P::Tone])
        .records_a_name_and_keeps_it()
        .starts(P::MainMenu)
        .hang_up();
    let user = server.admin(&["user", "show", "1006"], "");
    assert_eq!(field(&user, "must_change"), "null", "{user}");
    assert_eq!(field(&user, "name_recorded"), "true", "{user}");
}

#[test]
fn an_expired_passcode_must_be_changed() {
    let server = Server::start_demo("");
    server.admin(&["policy", "set", "--expiry-days", "30"], "");
    // Not yet expired: straight to the main menu.
    log_in(&server, "5551001", "1357924").hang_up();
    // Make the passcode 40 days old, in the test's own database.
    let db = rusqlite::Connection::open(server.data.join("vportal.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    let changed = db
        .execute(
            "UPDATE mailboxes SET passcode_set_on = passcode_set_on - 40 WHERE mailbox = '1001'",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(db);
    let user = server.admin(&["user", "show", "1001"], "");
    assert_eq!(field(&user, "must_change"), "expired", "{user}");

    let call = Call::from(&server, "5551001");
    call.starts(P::Welcome).press("1357924#");
    call.hears(&[P::PasscodeExpired])
        .starts(P::MustChangePasscode)
        .press("2468013#")
        .starts(P::ReenterNewPasscode)
        .press("2468013#")
        .hears(&[P::PasscodeChanged])
        .starts(P::MainMenu)
        .hang_up();
    log_in(&server, "5551001", "2468013").hang_up();
}

#[test]
fn a_voluntary_change_too_soon_after_the_last_is_refused() {
    let server = Server::start_demo("");
    server.admin(&["policy", "set", "--min-days-between-changes", "1"], "");
    // 1001's passcode was set today (at seeding).
    let call = log_in(&server, "5551001", "1357924");
    call.press("8")
        .hears(&[P::RuleChangeTooSoon])
        .starts(P::MainMenu)
        .press("9")
        .hears(&[P::Goodbye])
        .is_hung_up_on();
    let audit = server.audit("1001");
    assert_eq!(count_kind(&audit, "passcode_changed"), 0, "{audit:#?}");
}

#[test]
fn the_admin_passcode_leads_to_the_auto_attendant_greeting_which_is_saved() {
    let server = Server::start_demo("");
    let before = server.admin(&["portal", "show", "8000"], "");
    assert_eq!(field(&before, "business_hours_greeting"), "false");
    let call = Call::from(&server, "5559999");
    call.starts(P::EnterMailbox)
        .press("8000#")
        .starts(P::EnterPasscode)
        .press("8642097#")
        .starts(P::AdminMenu)
        .press("1")
        .hears(&[P::RecordBusinessHoursGreeting, P::Tone])
        .say(3000)
        .press("#");
    let heard = must(
        &server,
        &call.phone,
        call.phone
            .expect(&[Expect::Prompt(P::GreetingIs), Expect::Audio], CALL_WAIT),
    );
    let played = heard[1].duration;
    assert!(
        played >= Duration::from_millis(2000) && played <= Duration::from_millis(4000),
        "the greeting played back for {played:?}"
    );
    call.starts(P::AdminGreetingReview)
        .press("1")
        .hears(&[P::GreetingSaved])
        .starts(P::AdminMenu)
        .press("9")
        .hears(&[P::Goodbye])
        .is_hung_up_on();
    let after = server.admin(&["portal", "show", "8000"], "");
    assert_eq!(field(&after, "business_hours_greeting"), "true", "{after}");
    assert_eq!(field(&after, "after_hours_greeting"), "false", "{after}");
}

#[test]
fn the_first_digit_timeout_asks_again_and_the_inter_digit_timeout_submits() {
    let server = Server::start_demo("");
    let call = Call::from(&server, "5551001");
    // No key after welcome: the first-digit timeout (1.5 s here) asks again.
    call.hears(&[P::Welcome, P::EnterPasscode]);
    // Four digits, then nothing: the inter-digit timeout submits them as an attempt.
    call.press("1357");
    call.hears(&[P::PasscodeIncorrect])
        .starts(P::EnterPasscode)
        .press("1357924"); // no #: submitted after the inter-digit timeout
    call.starts(P::MainMenu).hang_up();
}

#[test]
fn hanging_up_mid_change_keeps_the_obligation() {
    let server = Server::start_demo("");
    // Hang up after the first entry of the new passcode.
    let call = Call::from(&server, "5551002");
    call.starts(P::Welcome)
        .press("2718281#")
        .starts(P::MustChangeAndRecordName)
        .press("3691470#")
        .starts(P::ReenterNewPasscode)
        .hang_up();
    // The default passcode still works, and only for the change.
    let call = Call::from(&server, "5551002");
    call.starts(P::Welcome)
        .press("2718281#")
        .starts(P::MustChangeAndRecordName)
        .press("3691470#")
        .starts(P::ReenterNewPasscode)
        .press("3691470#")
        .hears(&[P::PasscodeChanged, P::RecordName, P::Tone])
        .hang_up(); // before recording the name
    // The change is done; the name is still owed.
    let call = Call::from(&server, "5551002");
    call.starts(P::Welcome).press("3691470#");
    call.hears(&[P::MustRecordName, P::RecordName, P::Tone])
        .hang_up();
    let user = server.admin(&["user", "show", "1002"], "");
    assert_eq!(field(&user, "name_recorded"), "false", "{user}");
    assert_eq!(field(&user, "must_change"), "null", "{user}");
}

/// Eight callers guess mailbox 1001's passcode at the same moment, from numbers no mailbox knows. The store
/// counts failures and decides the lock in one transaction, so exactly four attempts fail (`login_failed`):
/// the first three are answered `passcode_incorrect`, `enter_passcode` (the caller tries again at once), the
/// fourth locks the mailbox and is answered `locked_out`, `goodbye`, and every attempt after that, right or
/// wrong, is refused with `locked_out`, `goodbye`. No caller can reach four failures of their own (there are
/// only three `passcode_incorrect` answers in all), so none hears `passcode_incorrect`, `goodbye`: every one
/// of the eight ends on `locked_out`, `goodbye`, and the portal hangs up.
#[test]
fn eight_callers_guessing_one_mailbox_lock_it_after_exactly_four_failures() {
    let server = Server::start_demo("");
    let ready = std::sync::Barrier::new(8);
    let outcomes: Vec<(usize, Vec<String>)> = std::thread::scope(|scope| {
        let callers: Vec<_> = (0..8)
            .map(|index| {
                let server = &server;
                let ready = &ready;
                scope.spawn(move || {
                    let phone = dial_from(server, &format!("55590{index:02}"));
                    must(
                        server,
                        &phone,
                        phone.wait_for_start(P::EnterMailbox, CALL_WAIT),
                    );
                    must(server, &phone, phone.press("1001#"));
                    must(
                        server,
                        &phone,
                        phone.wait_for_start(P::EnterPasscode, CALL_WAIT),
                    );
                    ready.wait();
                    let mut incorrect = 0;
                    loop {
                        must(
                            server,
                            &phone,
                            phone.press(&format!("{}#", 2_000_000 + index)),
                        );
                        let heard = must(server, &phone, phone.expect(&[Expect::Any], CALL_WAIT));
                        match heard[0].prompt {
                            Some(P::PasscodeIncorrect) => {
                                incorrect += 1;
                                must(
                                    server,
                                    &phone,
                                    phone.wait_for_start(P::EnterPasscode, CALL_WAIT),
                                );
                            }
                            Some(P::LockedOut) => {
                                must(server, &phone, phone.wait_for(&[P::Goodbye], CALL_WAIT));
                                must(server, &phone, phone.wait_for_hang_up(CALL_WAIT));
                                break;
                            }
                            _ => panic!(
                                "caller {index} heard {}\n{}",
                                heard[0].label(),
                                phone.transcript().join("\n")
                            ),
                        }
                    }
                    let labels = phone.heard().iter().map(|h| h.label()).collect();
                    assert_eq!(phone.hung_up_by(), Some(HangUpBy::Portal));
                    (incorrect, labels)
                })
            })
            .collect();
        callers.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let incorrect: usize = outcomes.iter().map(|(n, _)| n).sum();
    assert_eq!(
        incorrect, 3,
        "three passcode_incorrect in all: {outcomes:#?}"
    );
    for (_, heard) in &outcomes {
        let tail: Vec<&str> = heard[heard.len() - 2..]
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(tail, ["locked_out", "goodbye"], "{heard:?}");
    }
    let audit = server.audit("1001");
    assert_eq!(count_kind(&audit, "login_failed"), 4, "{audit:#?}");
    assert_eq!(count_kind(&audit, "locked"), 1, "{audit:#?}");
    // 3 wrong + 8 final attempts: the locking one and 7 refused.
    assert_eq!(count_kind(&audit, "login_refused_locked"), 7, "{audit:#?}");
    assert_eq!(count_kind(&audit, "login_ok"), 0, "{audit:#?}");
    let user = server.admin(&["user", "show", "1001"], "");
    assert_eq!(field(&user, "locked"), "true", "{user}");
    assert_eq!(field(&user, "failed_attempts"), "4", "{user}");
}

/// Every passcode a caller or administrator used (right, wrong, new, admin, default), searched for in the
/// server's trace-level log and in every file of the data directory except the outbox (whose emails carry
/// passcodes by design): none is there.
#[test]
fn no_passcode_reaches_the_text_log_or_the_data_directory_and_the_log_has_no_escape_codes() {
    let server = Server::start_demo("");
    no_passcode_reaches_the_log_or_the_data_directory(&server);
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(
        !log.contains('\u{1b}'),
        "a log file holds no terminal escape codes"
    );
}

#[test]
fn no_passcode_reaches_the_json_log_which_is_one_object_a_line_with_the_call_id() {
    let server = Server::start_demo_with_env("", &[("VPORTAL_LOG_FORMAT", "json")]);
    no_passcode_reaches_the_log_or_the_data_directory(&server);
    let log = std::fs::read_to_string(&server.log).unwrap();
    let lines: Vec<&str> = log.lines().filter(|line| !line.is_empty()).collect();
    assert!(
        lines
            .iter()
            .all(|line| line.starts_with('{') && line.ends_with('}')),
        "{}",
        lines
            .iter()
            .find(|line| !line.starts_with('{'))
            .unwrap_or(&"")
    );
    assert!(lines.iter().any(|line| line.contains("\"call_id\":\"")));
}

fn no_passcode_reaches_the_log_or_the_data_directory(server: &Server) {
    let passcodes = [
        "1357924", "2718281", "3691470", "8642097", "2580147", "4713862", "5926031",
    ];
    log_in(server, "5551001", "1357924").hang_up();
    let call = Call::from(server, "5551001");
    call.starts(P::Welcome).press("4713862#"); // wrong
    call.hears(&[P::PasscodeIncorrect]).hang_up();
    let call = Call::from(server, "5551002");
    call.starts(P::Welcome)
        .press("2718281#")
        .starts(P::MustChangeAndRecordName)
        .press("3691470#")
        .starts(P::ReenterNewPasscode)
        .press("3691470#")
        .hears(&[P::PasscodeChanged])
        .hang_up();
    let call = Call::from(server, "5559999");
    call.starts(P::EnterMailbox)
        .press("8000#")
        .starts(P::EnterPasscode)
        .press("8642097#")
        .starts(P::AdminMenu)
        .hang_up();
    server.admin(&["user", "set-pin", "1004"], "5926031\n");
    // Let the server finish writing.
    std::thread::sleep(Duration::from_millis(500));

    let mut files = vec![server.log.clone()];
    let mut dirs = vec![server.data.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "outbox") {
                    dirs.push(path);
                }
            } else {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 3, "{files:?}");
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(log.len() > 10_000, "the trace log is written");
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for passcode in passcodes {
            let found = bytes
                .windows(passcode.len())
                .any(|window| window == passcode.as_bytes());
            assert!(!found, "{passcode} is in {}", file.display());
        }
    }
}
