//! The conversation of one portal call.

use std::collections::VecDeque;
use std::mem;
use std::sync::Arc;
use std::time::Instant;

use crate::config::{CallConfig, CallContext, Caller};
use crate::io::{
    Account, Audio, Audit, ChangeKind, ChangeReason, Digit, EndReason, Input, Login, Output,
    PlayId, RecordingHandle, RecordingKind, Reply, Request, RequestId, SetOutcome, VerifyOutcome,
};
use crate::rules::RuleViolation;
use crate::{MAX_ENTRY_DIGITS, Passcode, PromptId};

use PromptId as P;

/// A prompt that waits for the caller's keys, and what the keys mean there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Passcode for the caller's own mailbox (after `welcome`); `*` leads to `enter_mailbox`.
    OwnPasscode,
    /// Mailbox number or extension, from another phone.
    MailboxNumber,
    /// Passcode for the mailbox (or portal) entered at `enter_mailbox`.
    MailboxPasscode,
    /// A new passcode, first entry.
    NewPasscode,
    /// The new passcode again.
    ConfirmPasscode,
    MainMenu,
    GreetingsMenu,
    AdminMenu,
    /// Accept, record again (or listen, for the portal's greetings) after a recording.
    Review(RecordingKind),
}

impl Stage {
    /// Whether the stage collects several digits ended by `#` (otherwise one key decides).
    fn collects_entry(self) -> bool {
        matches!(
            self,
            Stage::OwnPasscode
                | Stage::MailboxNumber
                | Stage::MailboxPasscode
                | Stage::NewPasscode
                | Stage::ConfirmPasscode
        )
    }

    /// The prompt that asks again, after silence or an empty entry.
    fn ask(self) -> PromptId {
        match self {
            Stage::OwnPasscode | Stage::MailboxPasscode => P::EnterPasscode,
            Stage::MailboxNumber => P::EnterMailbox,
            Stage::NewPasscode => P::EnterNewPasscode,
            Stage::ConfirmPasscode => P::ReenterNewPasscode,
            Stage::MainMenu => P::MainMenu,
            Stage::GreetingsMenu => P::GreetingsMenu,
            Stage::AdminMenu => P::AdminMenu,
            Stage::Review(kind) => review_prompt(kind),
        }
    }
}

/// What a pending request was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    Caller,
    /// A verification submitted from this stage (where a wrong passcode returns to).
    Verify(Stage),
    SetPasscode,
    SaveRecording(RecordingKind),
}

/// What follows an announcement (a playlist without barge-in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum After {
    HangUp(EndReason),
    Record(RecordingKind),
    Ask(Stage),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Collect(Stage),
    Announce(After),
    Pending(RequestId, Pending),
    /// Recording; `stopping` once `StopRecording` was sent and `RecordingDone` is awaited.
    Recording {
        kind: RecordingKind,
        stopping: bool,
    },
    Ended,
}

/// Where a caller is in the conversation, for logs and tests (see the crate docs' diagram).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallState {
    /// Waiting for the driver's reply to a request.
    AwaitingReply,
    /// Entering the passcode of their own mailbox.
    EnteringOwnPasscode,
    /// Entering a mailbox number (not calling from their own phone).
    EnteringMailbox,
    /// Entering the passcode of the mailbox or portal they named.
    EnteringMailboxPasscode,
    /// Choosing a new passcode.
    ChoosingPasscode,
    /// Entering the new passcode again.
    ConfirmingPasscode,
    /// At the main menu.
    MainMenu,
    /// At the greetings menu.
    GreetingsMenu,
    /// At the portal's admin menu.
    AdminMenu,
    /// Reviewing a recording.
    Reviewing,
    /// Being recorded.
    Recording,
    /// Hearing an announcement that takes no keys.
    Announcement,
    /// The call is over.
    Ended,
}

/// One caller's conversation with the portal: a value fed with [`Input`]s and drained of [`Output`]s.
/// See the crate documentation for the driver loop.
#[derive(Debug)]
pub struct Call {
    config: Arc<CallConfig>,
    context: CallContext,
    phase: Phase,
    /// Digits of the entry being typed.
    entry: String,
    /// Whose passcode the caller is entering (own mailbox, an entered mailbox, the portal).
    account: Option<Account>,
    /// Set by a successful mailbox login.
    login: Option<Login>,
    /// The first entry of a new passcode, awaiting its confirmation.
    new_passcode: Option<Passcode>,
    change: Option<ChangeKind>,
    /// `must_change_and_record_name` was played, so `must_record_name` is not played again.
    combined_prompt_played: bool,
    /// Where a saved recording returns to.
    recording_return: Stage,
    recording: Option<RecordingHandle>,
    failures: u32,
    change_tries: u8,
    silent_reprompts: u8,
    deadline: Option<Instant>,
    /// The playlist playing now, and whether it takes barge-in.
    playing: Option<(PlayId, bool)>,
    /// Keys pressed while a request is pending, applied in order after the reply.
    held_keys: VecDeque<Digit>,
    outputs: VecDeque<Output>,
    next_id: u32,
}

impl Call {
    /// Starts a call. The first outputs (the welcome, or a caller lookup) are ready at once; no timer runs
    /// until the first prompt has played.
    pub fn new(context: CallContext, config: Arc<CallConfig>) -> Call {
        let mut call = Call {
            config,
            context,
            phase: Phase::Ended,
            entry: String::with_capacity(MAX_ENTRY_DIGITS),
            account: None,
            login: None,
            new_passcode: None,
            change: None,
            combined_prompt_played: false,
            recording_return: Stage::MainMenu,
            recording: None,
            failures: 0,
            change_tries: 0,
            silent_reprompts: 0,
            deadline: None,
            playing: None,
            held_keys: VecDeque::new(),
            outputs: VecDeque::with_capacity(4),
            next_id: 0,
        };
        match call.context.caller.clone() {
            Caller::Identify(number) => {
                call.request(Pending::Caller, Request::LookupCaller { number });
            }
            Caller::Recognised(mailbox) => call.greet(Some(mailbox)),
            Caller::Unrecognised => call.greet(None),
        }
        call
    }

    /// Feeds one input; `now` is the driver's clock when it happened.
    pub fn handle(&mut self, input: Input, now: Instant) {
        match input {
            Input::Digit(digit) => self.on_digit(digit, now),
            Input::PromptDone(id) => self.on_prompt_done(id, now),
            Input::RecordingDone {
                recording,
                duration,
            } => self.on_recording_done(recording, duration),
            Input::Reply(id, reply) => self.on_reply(id, reply, now),
            Input::Timeout => self.on_timeout(now),
            Input::HungUp => self.on_hang_up(),
        }
    }

    /// The next thing the driver must do, or `None` when there is nothing until the next input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to feed [`Input::Timeout`], if a timer runs (at most one per call).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the call is over (after `HangUp` was issued or the caller hung up).
    pub fn is_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// Where the caller is now.
    pub fn state(&self) -> CallState {
        match self.phase {
            Phase::Collect(stage) => match stage {
                Stage::OwnPasscode => CallState::EnteringOwnPasscode,
                Stage::MailboxNumber => CallState::EnteringMailbox,
                Stage::MailboxPasscode => CallState::EnteringMailboxPasscode,
                Stage::NewPasscode => CallState::ChoosingPasscode,
                Stage::ConfirmPasscode => CallState::ConfirmingPasscode,
                Stage::MainMenu => CallState::MainMenu,
                Stage::GreetingsMenu => CallState::GreetingsMenu,
                Stage::AdminMenu => CallState::AdminMenu,
                Stage::Review(_) => CallState::Reviewing,
            },
            Phase::Announce(_) => CallState::Announcement,
            Phase::Pending(..) => CallState::AwaitingReply,
            Phase::Recording { .. } => CallState::Recording,
            Phase::Ended => CallState::Ended,
        }
    }

    // ---- inputs ----

    fn on_digit(&mut self, digit: Digit, now: Instant) {
        match self.phase {
            Phase::Collect(stage) => {
                if let Some((_, true)) = self.playing.take() {
                    self.outputs.push_back(Output::StopPlayback);
                }
                self.silent_reprompts = 0;
                if stage.collects_entry() {
                    self.entry_key(stage, digit, now);
                } else {
                    self.menu_key(stage, digit);
                }
            }
            Phase::Pending(..) => self.held_keys.push_back(digit),
            Phase::Recording {
                stopping: false, ..
            } if digit == Digit::Pound => self.stop_recording(),
            // Announcements take no keys; other keys while recording are part of the recording.
            Phase::Announce(_) | Phase::Recording { .. } | Phase::Ended => {}
        }
    }

    fn on_prompt_done(&mut self, id: PlayId, now: Instant) {
        if self.playing.map(|(playing, _)| playing) != Some(id) {
            return; // stopped by barge-in, or superseded
        }
        self.playing = None;
        match self.phase {
            Phase::Collect(_) => {
                let wait = if self.entry.is_empty() {
                    self.config.first_digit_timeout
                } else {
                    self.config.inter_digit_timeout
                };
                self.deadline = Some(now + wait);
            }
            Phase::Announce(after) => self.after_announcement(after, now),
            Phase::Pending(..) | Phase::Recording { .. } | Phase::Ended => {}
        }
    }

    fn on_recording_done(&mut self, recording: RecordingHandle, duration: std::time::Duration) {
        let Phase::Recording { kind, .. } = self.phase else {
            return;
        };
        self.deadline = None;
        if duration < self.config.min_recording {
            self.announce(
                vec![
                    Audio::Prompt(P::RecordingTooShort),
                    Audio::Prompt(record_prompt(kind)),
                    Audio::Prompt(P::Tone),
                ],
                After::Record(kind),
            );
            return;
        }
        self.recording = Some(recording);
        self.review(kind, true);
    }

    fn on_reply(&mut self, id: RequestId, reply: Reply, now: Instant) {
        let Phase::Pending(pending_id, pending) = self.phase else {
            return;
        };
        if pending_id != id {
            return;
        }
        match (pending, reply) {
            (Pending::Caller, Reply::Caller(mailbox)) => self.greet(mailbox),
            (Pending::Verify(stage), Reply::Verified(outcome)) => self.verified(stage, outcome),
            (Pending::SetPasscode, Reply::PasscodeSet(outcome)) => self.passcode_set(outcome),
            (Pending::SaveRecording(kind), Reply::RecordingSaved(saved)) => {
                self.recording_saved(kind, saved)
            }
            // A reply of the wrong kind is the driver's bug; keep waiting for the right one.
            _ => return,
        }
        // Keys typed ahead while waiting are applied now, in order (they may be held again).
        let held = mem::take(&mut self.held_keys);
        for digit in held {
            self.on_digit(digit, now);
        }
    }

    fn on_timeout(&mut self, now: Instant) {
        match self.deadline {
            Some(deadline) if now >= deadline => self.deadline = None,
            _ => return,
        }
        match self.phase {
            Phase::Collect(stage) => {
                if stage.collects_entry() && !self.entry.is_empty() {
                    self.submit(stage);
                } else if self.silent_reprompts >= self.config.max_silent_reprompts {
                    self.say_goodbye(Vec::new(), EndReason::NoInput);
                } else {
                    self.silent_reprompts += 1;
                    self.ask(stage, vec![Audio::Prompt(stage.ask())]);
                }
            }
            Phase::Recording {
                stopping: false, ..
            } => self.stop_recording(),
            Phase::Announce(_) | Phase::Pending(..) | Phase::Recording { .. } | Phase::Ended => {}
        }
    }

    fn on_hang_up(&mut self) {
        if self.phase != Phase::Ended {
            self.end();
            self.outputs
                .push_back(Output::Audit(Audit::CallEnded(EndReason::CallerHungUp)));
        }
    }

    // ---- the conversation ----

    /// The start of the conversation, once it is known who is calling.
    fn greet(&mut self, mailbox: Option<crate::io::CallerMailbox>) {
        match mailbox {
            Some(mailbox) if mailbox.has_passcode => {
                self.account = Some(Account::Mailbox(mailbox.mailbox));
                self.ask(Stage::OwnPasscode, vec![Audio::Prompt(P::Welcome)]);
            }
            Some(_) => self.announce(
                vec![Audio::Prompt(P::PasscodeNotSet)],
                After::HangUp(EndReason::PasscodeNotSet),
            ),
            None => self.ask(Stage::MailboxNumber, vec![Audio::Prompt(P::EnterMailbox)]),
        }
    }

    fn entry_key(&mut self, stage: Stage, digit: Digit, now: Instant) {
        match digit {
            Digit::Number(n) => {
                self.entry.push(char::from(b'0' + n.min(9)));
                if self.entry.len() >= MAX_ENTRY_DIGITS {
                    self.submit(stage);
                } else {
                    self.deadline = Some(now + self.config.inter_digit_timeout);
                }
            }
            Digit::Pound => self.submit(stage),
            Digit::Star => match stage {
                // Not calling from one's own phone, or correcting the mailbox: ask for the mailbox.
                Stage::OwnPasscode | Stage::MailboxNumber | Stage::MailboxPasscode => {
                    self.account = None;
                    self.ask(Stage::MailboxNumber, vec![Audio::Prompt(P::EnterMailbox)]);
                }
                // Start the new passcode over.
                _ => {
                    self.new_passcode = None;
                    self.ask(Stage::NewPasscode, vec![Audio::Prompt(P::EnterNewPasscode)]);
                }
            },
        }
    }

    fn submit(&mut self, stage: Stage) {
        let entry = mem::take(&mut self.entry);
        if entry.is_empty() {
            // `#` alone: ask again, it is not an attempt.
            self.ask(stage, vec![Audio::Prompt(stage.ask())]);
            return;
        }
        let Ok(entered) = Passcode::parse(&entry) else {
            // Unreachable: entries hold 1 to 30 digits. Asking again is the safe answer.
            self.ask(stage, vec![Audio::Prompt(stage.ask())]);
            return;
        };
        match stage {
            Stage::OwnPasscode | Stage::MailboxPasscode => {
                let Some(account) = self.account.clone() else {
                    self.ask(Stage::MailboxNumber, vec![Audio::Prompt(P::EnterMailbox)]);
                    return;
                };
                self.request(
                    Pending::Verify(stage),
                    Request::Verify {
                        account,
                        passcode: entered,
                    },
                );
            }
            Stage::MailboxNumber => {
                let account = if self.context.portal.is_named_by(&entry) {
                    Account::PortalAdmin
                } else {
                    Account::Mailbox(entry)
                };
                self.account = Some(account);
                self.ask(
                    Stage::MailboxPasscode,
                    vec![Audio::Prompt(P::EnterPasscode)],
                );
            }
            Stage::NewPasscode => {
                let login = self.login.as_ref();
                let numbers: Vec<&str> = login
                    .map(|login| login.user_numbers.iter().map(String::as_str).collect())
                    .unwrap_or_default();
                match self.config.rules.check(&entered, &numbers) {
                    Ok(()) => {
                        self.new_passcode = Some(entered);
                        self.ask(
                            Stage::ConfirmPasscode,
                            vec![Audio::Prompt(P::ReenterNewPasscode)],
                        );
                    }
                    Err(violation) => self.change_failed(violation.prompt(), Some(violation)),
                }
            }
            Stage::ConfirmPasscode => match (self.new_passcode.take(), &self.login) {
                (Some(first), Some(login)) if first == entered => {
                    let request = Request::SetPasscode {
                        mailbox: login.mailbox.clone(),
                        passcode: first,
                        kind: self.change.unwrap_or(ChangeKind::Voluntary),
                    };
                    self.request(Pending::SetPasscode, request);
                }
                _ => self.change_failed(P::PasscodeMismatch, None),
            },
            Stage::MainMenu | Stage::GreetingsMenu | Stage::AdminMenu | Stage::Review(_) => {}
        }
    }

    fn menu_key(&mut self, stage: Stage, digit: Digit) {
        use Digit::{Number, Pound, Star};
        match (stage, digit) {
            (_, Pound) => self.ask(stage, vec![Audio::Prompt(stage.ask())]),
            (Stage::MainMenu, Number(3)) => {
                self.ask(Stage::GreetingsMenu, vec![Audio::Prompt(P::GreetingsMenu)])
            }
            (Stage::MainMenu, Number(8)) => self.start_voluntary_change(),
            (Stage::MainMenu | Stage::AdminMenu, Number(9)) => {
                self.say_goodbye(Vec::new(), EndReason::CallerLeft)
            }
            (Stage::GreetingsMenu, Number(1)) => self.record(RecordingKind::Name, stage),
            (Stage::GreetingsMenu, Number(2)) => self.record(RecordingKind::BusyGreeting, stage),
            (Stage::GreetingsMenu, Number(3)) => {
                self.record(RecordingKind::NoAnswerGreeting, stage)
            }
            (Stage::GreetingsMenu, Star) => {
                self.ask(Stage::MainMenu, vec![Audio::Prompt(P::MainMenu)])
            }
            (Stage::AdminMenu, Number(1)) => {
                self.record(RecordingKind::BusinessHoursGreeting, stage)
            }
            (Stage::AdminMenu, Number(2)) => self.record(RecordingKind::AfterHoursGreeting, stage),
            (Stage::Review(kind), Number(1)) => match (self.recording, self.owner(kind)) {
                (Some(recording), Some(owner)) => self.request(
                    Pending::SaveRecording(kind),
                    Request::SaveRecording {
                        owner,
                        kind,
                        recording,
                    },
                ),
                _ => self.record(kind, self.recording_return),
            },
            (Stage::Review(kind), Number(2)) => self.record(kind, self.recording_return),
            (Stage::Review(kind), Number(3)) if is_portal_greeting(kind) => self.review(kind, true),
            _ => self.ask(
                stage,
                vec![Audio::Prompt(P::InvalidOption), Audio::Prompt(stage.ask())],
            ),
        }
    }

    fn verified(&mut self, stage: Stage, outcome: VerifyOutcome) {
        let account = self.account.clone().unwrap_or(Account::PortalAdmin);
        match outcome {
            VerifyOutcome::Ok(login) => {
                self.outputs
                    .push_back(Output::Audit(Audit::LoginSucceeded(account.clone())));
                if account == Account::PortalAdmin {
                    self.ask(Stage::AdminMenu, vec![Audio::Prompt(P::AdminMenu)]);
                } else {
                    self.logged_in(login);
                }
            }
            VerifyOutcome::Wrong => {
                self.outputs
                    .push_back(Output::Audit(Audit::LoginFailed(account)));
                self.failures += 1;
                if self.failures >= self.config.rules.failed_attempts_before_lockout {
                    self.say_goodbye(
                        vec![Audio::Prompt(P::PasscodeIncorrect)],
                        EndReason::TooManyFailures,
                    );
                } else {
                    self.ask(
                        stage,
                        vec![
                            Audio::Prompt(P::PasscodeIncorrect),
                            Audio::Prompt(P::EnterPasscode),
                        ],
                    );
                }
            }
            VerifyOutcome::Locked => {
                self.outputs
                    .push_back(Output::Audit(Audit::LockedOut(account)));
                self.say_goodbye(vec![Audio::Prompt(P::LockedOut)], EndReason::LockedOut);
            }
        }
    }

    /// After a mailbox login: the forced change, then the name, then the main menu.
    fn logged_in(&mut self, login: Login) {
        let rules = &self.config.rules;
        let expired = login
            .passcode_set_on
            .is_some_and(|set_on| rules.is_expired(set_on, self.context.today));
        let reason = login
            .must_change
            .or(expired.then_some(ChangeReason::Expired));
        let name_recorded = login.name_recorded;
        self.login = Some(login);
        if let Some(reason) = reason {
            self.change = Some(ChangeKind::Forced(reason));
            self.change_tries = 0;
            let mut playlist = Vec::with_capacity(2);
            if reason == ChangeReason::Expired {
                playlist.push(Audio::Prompt(P::PasscodeExpired));
            }
            // Both prompts end by asking for the new passcode.
            if name_recorded {
                playlist.push(Audio::Prompt(P::MustChangePasscode));
            } else {
                playlist.push(Audio::Prompt(P::MustChangeAndRecordName));
                self.combined_prompt_played = true;
            }
            self.ask(Stage::NewPasscode, playlist);
        } else if !name_recorded {
            self.recording_return = Stage::MainMenu;
            self.announce(
                vec![
                    Audio::Prompt(P::MustRecordName),
                    Audio::Prompt(P::RecordName),
                    Audio::Prompt(P::Tone),
                ],
                After::Record(RecordingKind::Name),
            );
        } else {
            self.ask(Stage::MainMenu, vec![Audio::Prompt(P::MainMenu)]);
        }
    }

    fn start_voluntary_change(&mut self) {
        let set_on = self.login.as_ref().and_then(|login| login.passcode_set_on);
        if !self.config.rules.change_allowed(set_on, self.context.today) {
            self.outputs.push_back(Output::Audit(Audit::PasscodeRefused(
                RuleViolation::ChangeTooSoon,
            )));
            self.ask(
                Stage::MainMenu,
                vec![
                    Audio::Prompt(P::RuleChangeTooSoon),
                    Audio::Prompt(P::MainMenu),
                ],
            );
            return;
        }
        self.change = Some(ChangeKind::Voluntary);
        self.change_tries = 0;
        self.ask(Stage::NewPasscode, vec![Audio::Prompt(P::EnterNewPasscode)]);
    }

    /// A try at choosing a new passcode failed: name why, then ask again or, after too many, say goodbye.
    fn change_failed(&mut self, reason: PromptId, violation: Option<RuleViolation>) {
        if let Some(violation) = violation {
            self.outputs
                .push_back(Output::Audit(Audit::PasscodeRefused(violation)));
        }
        self.new_passcode = None;
        self.change_tries = self.change_tries.saturating_add(1);
        if self.change_tries >= self.config.max_change_tries {
            self.say_goodbye(vec![Audio::Prompt(reason)], EndReason::TooManyChangeTries);
        } else {
            self.ask(
                Stage::NewPasscode,
                vec![Audio::Prompt(reason), Audio::Prompt(P::EnterNewPasscode)],
            );
        }
    }

    fn passcode_set(&mut self, outcome: SetOutcome) {
        match outcome {
            SetOutcome::Changed => {
                let kind = self.change.take().unwrap_or(ChangeKind::Voluntary);
                self.outputs
                    .push_back(Output::Audit(Audit::PasscodeChanged(kind)));
                let today = self.context.today;
                let Some(login) = self.login.as_mut() else {
                    return;
                };
                login.must_change = None;
                login.passcode_set_on = Some(today);
                let mut playlist = vec![Audio::Prompt(P::PasscodeChanged)];
                if login.name_recorded {
                    self.announce(playlist, After::Ask(Stage::MainMenu));
                } else {
                    if !self.combined_prompt_played {
                        playlist.push(Audio::Prompt(P::MustRecordName));
                    }
                    playlist.extend([Audio::Prompt(P::RecordName), Audio::Prompt(P::Tone)]);
                    self.recording_return = Stage::MainMenu;
                    self.announce(playlist, After::Record(RecordingKind::Name));
                }
            }
            SetOutcome::Rejected(violation) => {
                self.change_failed(violation.prompt(), Some(violation))
            }
            SetOutcome::Failed => {
                self.say_goodbye(vec![Audio::Prompt(P::SaveFailed)], EndReason::StoreFailed)
            }
        }
    }

    fn recording_saved(&mut self, kind: RecordingKind, saved: bool) {
        if !saved {
            self.announce(
                vec![Audio::Prompt(P::SaveFailed)],
                After::Ask(Stage::Review(kind)),
            );
            return;
        }
        self.outputs
            .push_back(Output::Audit(Audit::RecordingSaved(kind)));
        self.recording = None;
        let saved_prompt = if kind == RecordingKind::Name {
            if let Some(login) = self.login.as_mut() {
                login.name_recorded = true;
            }
            P::NameSaved
        } else {
            P::GreetingSaved
        };
        self.announce(
            vec![Audio::Prompt(saved_prompt)],
            After::Ask(self.recording_return),
        );
    }

    /// Asks for a recording from a menu: its prompt, the tone, then recording.
    fn record(&mut self, kind: RecordingKind, return_to: Stage) {
        self.recording_return = return_to;
        self.announce(
            vec![Audio::Prompt(record_prompt(kind)), Audio::Prompt(P::Tone)],
            After::Record(kind),
        );
    }

    /// Plays the recording back (when `play_back`) with its review menu.
    fn review(&mut self, kind: RecordingKind, play_back: bool) {
        let mut playlist = Vec::with_capacity(3);
        if let (true, Some(recording)) = (play_back, self.recording) {
            let intro = if kind == RecordingKind::Name {
                P::NameIs
            } else {
                P::GreetingIs
            };
            playlist.extend([Audio::Prompt(intro), Audio::Recording(recording)]);
        }
        playlist.push(Audio::Prompt(review_prompt(kind)));
        self.ask(Stage::Review(kind), playlist);
    }

    fn owner(&self, kind: RecordingKind) -> Option<Account> {
        if is_portal_greeting(kind) {
            Some(Account::PortalAdmin)
        } else {
            self.login
                .as_ref()
                .map(|login| Account::Mailbox(login.mailbox.clone()))
        }
    }

    fn after_announcement(&mut self, after: After, now: Instant) {
        match after {
            After::HangUp(reason) => {
                self.end();
                self.outputs.push_back(Output::HangUp);
                self.outputs
                    .push_back(Output::Audit(Audit::CallEnded(reason)));
            }
            After::Record(kind) => {
                self.phase = Phase::Recording {
                    kind,
                    stopping: false,
                };
                self.deadline = Some(now + self.config.max_recording);
                self.outputs.push_back(Output::StartRecording {
                    kind,
                    max_length: self.config.max_recording,
                });
            }
            After::Ask(Stage::Review(kind)) => self.review(kind, false),
            After::Ask(stage) => self.ask(stage, vec![Audio::Prompt(stage.ask())]),
        }
    }

    fn stop_recording(&mut self) {
        if let Phase::Recording { kind, .. } = self.phase {
            self.phase = Phase::Recording {
                kind,
                stopping: true,
            };
            self.deadline = None;
            self.outputs.push_back(Output::StopRecording);
        }
    }

    // ---- output helpers ----

    /// Plays a prompt that asks for keys (barge-in allowed) and waits in `stage`.
    fn ask(&mut self, stage: Stage, audio: Vec<Audio>) {
        self.entry.clear();
        self.phase = Phase::Collect(stage);
        self.play(audio, true);
    }

    /// Plays an announcement that takes no keys, then does `after`.
    fn announce(&mut self, audio: Vec<Audio>, after: After) {
        self.phase = Phase::Announce(after);
        self.play(audio, false);
    }

    fn say_goodbye(&mut self, mut audio: Vec<Audio>, reason: EndReason) {
        audio.push(Audio::Prompt(P::Goodbye));
        self.announce(audio, After::HangUp(reason));
    }

    fn play(&mut self, audio: Vec<Audio>, barge_in: bool) {
        let id = PlayId(self.next_id());
        self.deadline = None;
        self.playing = Some((id, barge_in));
        self.outputs.push_back(Output::Play {
            id,
            audio,
            barge_in,
        });
    }

    fn request(&mut self, pending: Pending, request: Request) {
        let id = RequestId(self.next_id());
        self.deadline = None;
        self.playing = None;
        self.phase = Phase::Pending(id, pending);
        self.outputs.push_back(Output::Request(id, request));
    }

    fn end(&mut self) {
        self.phase = Phase::Ended;
        self.deadline = None;
        self.playing = None;
        self.entry.clear();
        self.new_passcode = None;
        self.held_keys.clear();
    }

    fn next_id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }
}

fn is_portal_greeting(kind: RecordingKind) -> bool {
    matches!(
        kind,
        RecordingKind::BusinessHoursGreeting | RecordingKind::AfterHoursGreeting
    )
}

fn record_prompt(kind: RecordingKind) -> PromptId {
    match kind {
        RecordingKind::Name => P::RecordName,
        RecordingKind::BusyGreeting => P::RecordBusyGreeting,
        RecordingKind::NoAnswerGreeting => P::RecordNoAnswerGreeting,
        RecordingKind::BusinessHoursGreeting => P::RecordBusinessHoursGreeting,
        RecordingKind::AfterHoursGreeting => P::RecordAfterHoursGreeting,
    }
}

fn review_prompt(kind: RecordingKind) -> PromptId {
    match kind {
        RecordingKind::Name => P::NameReview,
        RecordingKind::BusyGreeting | RecordingKind::NoAnswerGreeting => P::GreetingReview,
        RecordingKind::BusinessHoursGreeting | RecordingKind::AfterHoursGreeting => {
            P::AdminGreetingReview
        }
    }
}
