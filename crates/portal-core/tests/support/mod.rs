//! A phone for transcript tests: each call of a test reads as a line of what the caller hears and does. Shared
//! by the transcript files, one per flow (login, keys and timers, first login, menus, recording, driver errors).

#![allow(dead_code)] // each test file uses a different part of the phone

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portal_core::{
    Account, Audio, Audit, Call, CallConfig, CallContext, Caller, CallerMailbox, Day, Dialed,
    Digit, DriverError, EndReason, Input, Login, MessageAudio, MessageRef, Output, PlayId,
    PortalIdentity, RecordingHandle, RecordingKind, Reply, Request, RequestId, SetOutcome,
    VerifyOutcome,
};

pub const TODAY: Day = Day(20_000);
pub const PORTAL_NUMBER: &str = "5558000";
pub const PORTAL_EXTENSION: &str = "8000";

pub fn portal() -> PortalIdentity {
    PortalIdentity {
        number: PORTAL_NUMBER.into(),
        extension: PORTAL_EXTENSION.into(),
    }
}

/// A mailbox whose owner logged in before: passcode set 10 days ago, name recorded.
pub fn settled(mailbox: &str) -> Login {
    Login {
        mailbox: mailbox.into(),
        must_change: None,
        name_recorded: true,
        passcode_set_on: Some(Day(TODAY.0 - 10)),
        user_numbers: vec![mailbox.into(), format!("555{mailbox}")],
    }
}

pub struct Phone {
    pub call: Call,
    pub now: Instant,
    queue: VecDeque<Output>,
    pub audits: Vec<Audit>,
    playing: Option<PlayId>,
    request: Option<(RequestId, Request)>,
    next_recording: u64,
    /// The playlist heard last, item by item (to tell recordings apart).
    pub last_heard: Vec<Audio>,
}

impl Phone {
    pub fn call(caller: Caller, config: CallConfig) -> Phone {
        let context = CallContext {
            caller,
            dialed: Dialed::Portal(PORTAL_NUMBER.into()),
            portal: portal(),
            today: TODAY,
        };
        Phone::start(context, config)
    }

    pub fn start(context: CallContext, config: CallConfig) -> Phone {
        let call = Call::new(context, Arc::new(config));
        let mut phone = Phone {
            call,
            now: Instant::now(),
            queue: VecDeque::new(),
            audits: Vec::new(),
            playing: None,
            request: None,
            next_recording: 0,
            last_heard: Vec::new(),
        };
        phone.drain();
        phone
    }

    /// The owner of `mailbox` calls from their own phone.
    pub fn own_phone(mailbox: &str) -> Phone {
        Phone::call(own(mailbox), CallConfig::default())
    }

    /// Someone calls from a phone no mailbox recognises.
    pub fn other_phone() -> Phone {
        Phone::call(Caller::Unrecognised, CallConfig::default())
    }

    fn drain(&mut self) {
        while let Some(output) = self.call.poll_output() {
            match output {
                Output::Audit(audit) => self.audits.push(audit),
                other => self.queue.push_back(other),
            }
        }
    }

    pub fn input(&mut self, input: Input) -> &mut Self {
        self.call.handle(input, self.now);
        self.drain();
        self
    }

    fn next(&mut self, what: &str) -> Output {
        self.queue
            .pop_front()
            .unwrap_or_else(|| panic!("expected {what}, but the portal did nothing more"))
    }

    fn take_play(&mut self, expected: &str, barge_in: bool) -> PlayId {
        match self.next(expected) {
            Output::Play {
                id,
                audio,
                barge_in: actual,
            } => {
                assert_eq!(describe(&audio), expected, "what the caller hears");
                assert_eq!(actual, barge_in, "barge-in of `{expected}`");
                self.last_heard = audio;
                self.playing = Some(id);
                id
            }
            other => panic!("expected to hear `{expected}`, got {other:?}"),
        }
    }

    /// Hears a prompt that asks for keys (barge-in allowed) to its end. `expected` lists prompt ids separated
    /// by spaces; `<recording>` stands for played-back audio.
    pub fn hears(&mut self, expected: &str) -> &mut Self {
        let id = self.take_play(expected, true);
        self.input(Input::PromptDone(id))
    }

    /// Hears an announcement that takes no keys, to its end.
    pub fn hears_announcement(&mut self, expected: &str) -> &mut Self {
        let id = self.take_play(expected, false);
        self.input(Input::PromptDone(id))
    }

    /// Hears the start of an announcement (keys pressed now are dropped).
    pub fn hears_start_of_announcement(&mut self, expected: &str) -> &mut Self {
        self.take_play(expected, false);
        self
    }

    /// The prompt starts; the caller will press a key before it ends.
    pub fn hears_start_of(&mut self, expected: &str) -> &mut Self {
        self.take_play(expected, true);
        self
    }

    /// The announcement that started earlier ends now.
    pub fn announcement_ends(&mut self) -> &mut Self {
        let id = self.playing.expect("nothing is playing");
        self.input(Input::PromptDone(id))
    }

    /// The portal moves within what plays (keys 1 and 3 in a message), which goes on.
    pub fn playback_skips(&mut self, back: bool, by: Duration) -> &mut Self {
        match self.next("a skip within the playback") {
            Output::SkipPlayback {
                back: actual_back,
                by: actual_by,
            } => {
                assert_eq!((actual_back, actual_by), (back, by), "the skip");
                self
            }
            other => panic!("expected a skip within the playback, got {other:?}"),
        }
    }

    /// The portal stops the prompt because a key was pressed.
    pub fn prompt_stops(&mut self) -> &mut Self {
        match self.next("the prompt to stop") {
            Output::StopPlayback => self,
            other => panic!("expected the prompt to stop, got {other:?}"),
        }
    }

    pub fn presses(&mut self, keys: &str) -> &mut Self {
        for key in keys.chars() {
            let digit = Digit::from_char(key).unwrap_or_else(|| panic!("no key {key:?}"));
            self.input(Input::Digit(digit));
        }
        self
    }

    /// Says nothing until the portal's timer fires.
    pub fn waits(&mut self) -> &mut Self {
        let deadline = self
            .call
            .poll_timeout()
            .expect("the portal is not waiting for anything");
        self.now = deadline;
        self.input(Input::Timeout)
    }

    /// Time passes without reaching the portal's timer.
    pub fn waits_for(&mut self, duration: Duration) -> &mut Self {
        self.now += duration;
        if self
            .call
            .poll_timeout()
            .is_some_and(|deadline| deadline <= self.now)
        {
            self.input(Input::Timeout);
        }
        self
    }

    fn take_request(&mut self, expected: &str) -> Request {
        match self.next(expected) {
            Output::Request(id, request) => {
                self.request = Some((id, request.clone()));
                request
            }
            other => panic!("expected {expected}, got {other:?}"),
        }
    }

    /// The portal asks the store to verify `passcode` for `account`.
    pub fn verifies(&mut self, account: Account, passcode: &str) -> &mut Self {
        match self.take_request("a passcode verification") {
            Request::Verify {
                account: actual,
                passcode: entered,
            } => {
                assert_eq!(actual, account, "the account verified");
                assert_eq!(entered.expose(), passcode, "the passcode verified");
            }
            other => panic!("expected a passcode verification, got {other:?}"),
        }
        self
    }

    pub fn verifies_mailbox(&mut self, mailbox: &str, passcode: &str) -> &mut Self {
        self.verifies(Account::Mailbox(mailbox.into()), passcode)
    }

    /// The portal asks the store to look up the calling number.
    pub fn looks_up_caller(&mut self, number: &str) -> &mut Self {
        match self.take_request("a caller lookup") {
            Request::LookupCaller { number: actual } => assert_eq!(actual, number),
            other => panic!("expected a caller lookup, got {other:?}"),
        }
        self
    }

    /// The portal asks the store to set `passcode` for `mailbox`.
    pub fn sets_passcode(&mut self, mailbox: &str, passcode: &str) -> &mut Self {
        match self.take_request("a passcode change") {
            Request::SetPasscode {
                mailbox: actual,
                passcode: new,
                ..
            } => {
                assert_eq!(actual, mailbox);
                assert_eq!(new.expose(), passcode);
            }
            other => panic!("expected a passcode change, got {other:?}"),
        }
        self
    }

    /// The portal asks the store to keep the last recording as `kind` of `owner`.
    pub fn saves_recording(&mut self, owner: Account, kind: RecordingKind) -> &mut Self {
        let expected = RecordingHandle(self.next_recording);
        match self.take_request("a recording to save") {
            Request::SaveRecording {
                owner: actual_owner,
                kind: actual_kind,
                recording,
            } => {
                assert_eq!(
                    (actual_owner, actual_kind, recording),
                    (owner, kind, expected)
                );
            }
            other => panic!("expected a recording to save, got {other:?}"),
        }
        self
    }

    /// The portal asks the store to deposit the last recording as a message for `mailbox`, from `caller`.
    pub fn deposits_message(
        &mut self,
        mailbox: &str,
        caller: Option<&str>,
        urgent: bool,
    ) -> &mut Self {
        let expected = RecordingHandle(self.next_recording);
        match self.take_request("a message to deposit") {
            Request::DepositMessage {
                mailbox: actual,
                caller_number,
                urgent: actual_urgent,
                recording,
                ..
            } => assert_eq!(
                (
                    actual.as_str(),
                    caller_number.as_deref(),
                    actual_urgent,
                    recording
                ),
                (mailbox, caller, urgent, expected)
            ),
            other => panic!("expected a message to deposit, got {other:?}"),
        }
        self
    }

    /// The store answers the pending request.
    pub fn store_answers(&mut self, reply: Reply) -> &mut Self {
        let (id, _) = self.request.take().expect("no request is pending");
        self.input(Input::Reply(id, reply))
    }

    /// The store answers the pending verification, for the account it named.
    pub fn verified(&mut self, outcome: VerifyOutcome) -> &mut Self {
        let account = match &self.request {
            Some((_, Request::Verify { account, .. })) => account.clone(),
            other => panic!("expected a pending verification, got {other:?}"),
        };
        self.store_answers(Reply::Verified { account, outcome })
    }

    pub fn login_ok(&mut self, login: Login) -> &mut Self {
        self.verified(VerifyOutcome::Ok(login))
    }

    pub fn passcode_wrong(&mut self) -> &mut Self {
        self.verified(VerifyOutcome::Wrong)
    }

    pub fn account_locked(&mut self) -> &mut Self {
        self.verified(VerifyOutcome::Locked)
    }

    /// The id of the pending request, for tests that answer it wrongly.
    pub fn pending_request(&self) -> RequestId {
        self.request.as_ref().expect("no request is pending").0
    }

    /// The driver feeds an input the call cannot receive where it is. Debug builds panic (`debug_assert`),
    /// which this checks; release builds end the call with `error`, which this checks too. The same test
    /// thus covers both builds: `cargo test` and `cargo test --release`.
    pub fn driver_bug(&mut self, input: Input, error: DriverError) {
        let now = self.now;
        let call = &mut self.call;
        let fed = panic::catch_unwind(AssertUnwindSafe(|| call.handle(input, now)));
        if cfg!(debug_assertions) {
            let payload = fed.expect_err("a debug build panics on a driver error");
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .unwrap_or_default();
            assert!(
                message.starts_with("driver error"),
                "panicked for another reason: {message}"
            );
            return;
        }
        assert!(
            fed.is_ok(),
            "a release build ends the call instead of panicking"
        );
        self.drain();
        assert_eq!(
            self.audits.last(),
            Some(&Audit::CallEnded(EndReason::DriverError))
        );
        assert!(self.audits.contains(&Audit::DriverError(error)));
        self.is_hung_up();
        assert_eq!(self.call.poll_timeout(), None);
    }

    pub fn passcode_stored(&mut self) -> &mut Self {
        self.store_answers(Reply::PasscodeSet(SetOutcome::Changed))
    }

    pub fn recording_stored(&mut self) -> &mut Self {
        self.store_answers(Reply::RecordingSaved(true))
    }

    /// The portal asks the store for `mailbox`'s messages.
    pub fn lists_messages(&mut self, mailbox: &str) -> &mut Self {
        match self.take_request("the message list") {
            Request::ListMessages { mailbox: actual } => assert_eq!(actual, mailbox),
            other => panic!("expected the message list, got {other:?}"),
        }
        self
    }

    /// The portal asks for the audio of message `id` of `mailbox`.
    pub fn fetches_message(&mut self, mailbox: &str, id: i64) -> &mut Self {
        match self.take_request("a message's audio") {
            Request::FetchMessage {
                mailbox: actual,
                message,
            } => {
                assert_eq!((actual.as_str(), message), (mailbox, MessageRef(id)))
            }
            other => panic!("expected a message's audio, got {other:?}"),
        }
        self
    }

    /// The driver read the message's audio (a second of silence).
    pub fn message_fetched(&mut self) -> &mut Self {
        let audio = MessageAudio::new(vec![0i16; 8000]);
        self.store_answers(Reply::MessageAudio(Some(audio)))
    }

    /// The portal asks the store to mark message `id` of `mailbox` heard, save it or delete it (`what` is
    /// `heard`, `save` or `delete`).
    pub fn updates_message(&mut self, what: &str, mailbox: &str, id: i64) -> &mut Self {
        let request = self.take_request("a message update");
        let (actual_what, actual_mailbox, message) = match request {
            Request::MarkMessageHeard { mailbox, message } => ("heard", mailbox, message),
            Request::SaveMessage { mailbox, message } => ("save", mailbox, message),
            Request::DeleteMessage { mailbox, message } => ("delete", mailbox, message),
            other => panic!("expected a message update, got {other:?}"),
        };
        assert_eq!(
            (actual_what, actual_mailbox.as_str(), message),
            (what, mailbox, MessageRef(id))
        );
        self
    }

    /// The store did (`true`) or could not do the update.
    pub fn message_updated(&mut self, done: bool) -> &mut Self {
        self.store_answers(Reply::MessageUpdated(done))
    }

    /// The portal starts recording the caller.
    pub fn is_recorded_for(&mut self, kind: RecordingKind) -> &mut Self {
        match self.next("a recording to start") {
            Output::StartRecording { kind: actual, .. } => assert_eq!(actual, kind),
            other => panic!("expected a recording to start, got {other:?}"),
        }
        self
    }

    /// The portal stops the recording (after `#` or the maximum length).
    pub fn recording_stops(&mut self) -> &mut Self {
        match self.next("the recording to stop") {
            Output::StopRecording => self,
            other => panic!("expected the recording to stop, got {other:?}"),
        }
    }

    /// Media reports the recording ended, holding `seconds` of audio.
    pub fn recorded_seconds(&mut self, seconds: f64) -> &mut Self {
        self.next_recording += 1;
        self.input(Input::RecordingDone {
            recording: RecordingHandle(self.next_recording),
            duration: Duration::from_secs_f64(seconds),
        })
    }

    /// The portal hangs up.
    pub fn is_hung_up(&mut self) -> &mut Self {
        match self.next("the portal to hang up") {
            Output::HangUp => {}
            other => panic!("expected the portal to hang up, got {other:?}"),
        }
        assert!(self.call.is_ended());
        self.silence()
    }

    pub fn ended_because(&mut self, reason: EndReason) -> &mut Self {
        assert_eq!(self.audits.last(), Some(&Audit::CallEnded(reason)));
        self
    }

    /// The caller hangs up.
    pub fn hangs_up(&mut self) -> &mut Self {
        self.input(Input::HungUp)
    }

    /// The portal does nothing more for now.
    pub fn silence(&mut self) -> &mut Self {
        assert_eq!(self.queue.pop_front(), None, "the portal did more");
        self
    }

    pub fn failed_logins(&self) -> usize {
        self.audits
            .iter()
            .filter(|audit| matches!(audit, Audit::LoginFailed(_)))
            .count()
    }
}

/// The owner of `login`'s mailbox calls from their own phone and logs in with it: the main menu has played.
pub fn at_main_menu(login: Login, config: CallConfig) -> Phone {
    let mailbox = login.mailbox.clone();
    let mut phone = Phone::call(own(&mailbox), config);
    phone
        .hears("welcome")
        .presses("2580147#")
        .verifies_mailbox(&mailbox, "2580147")
        .login_ok(login)
        .hears("main_menu");
    phone
}

/// A caller the driver recognised as the owner of `mailbox`, who has a passcode.
pub fn own(mailbox: &str) -> Caller {
    Caller::Recognised(CallerMailbox {
        mailbox: mailbox.into(),
        has_passcode: true,
    })
}

/// A playlist as the transcript spells it.
pub fn describe(audio: &[Audio]) -> String {
    audio
        .iter()
        .map(|item| match item {
            Audio::Prompt(prompt) => prompt.id().to_owned(),
            Audio::Recording(_) => "<recording>".to_owned(),
            Audio::Message(message) => format!("<message {}>", message.0),
        })
        .collect::<Vec<_>>()
        .join(" ")
}
