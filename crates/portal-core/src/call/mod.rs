//! The conversation of one portal call: [`Call`], its public surface, and the dispatch of each input to the flow
//! it belongs to. Each flow lives in a module named after it:
//!
//! - `login`: welcome, star key, mailbox number, passcode, verification, lockout;
//! - `passcode_change`: the forced change (first login, reset, expiry) and key 8's voluntary change;
//! - `recording`: the name and the greetings: record, review, save;
//! - `menus`: the main, greetings and admin menus;
//! - `messages`: hearing and managing voice messages (main menu key 1);
//! - `deposit`: a forwarded caller leaves a message;
//! - `output`: what every flow says with (ask, announce, goodbye, request, hang up);
//! - `state`: where a call is (its phases, and the stages that wait for keys).

mod deposit;
mod login;
mod menus;
mod messages;
mod output;
mod passcode_change;
mod recording;
mod state;

use std::collections::VecDeque;
use std::mem;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{CallConfig, CallContext, Caller};
use crate::io::{
    Account, Audit, ChangeKind, Digit, DriverError, EndReason, Input, Login, Output, PlayId,
    RecordingHandle, Reply, RequestId,
};
use crate::{MAX_ENTRY_DIGITS, Passcode};

pub use deposit::{Absence, Deposit};
pub use state::CallState;
use state::{After, Pending, Phase, Stage};

/// One caller's conversation with the portal: a value fed with [`Input`]s and drained of [`Output`]s. See the
/// crate documentation for the driver loop.
///
/// Its methods are of four kinds:
/// - getters: [`Call::state`] and [`Call::is_ended`] read where the call is and change nothing;
/// - [`Call::handle`] feeds one input with the instant it happened;
/// - timers: [`Call::poll_timeout`] says when to feed [`Input::Timeout`];
/// - [`Call::poll_output`] hands out, one by one, what the driver must do.
///
/// The drain rule: after [`Call::new`] and after every [`Call::handle`], call [`Call::poll_output`] until it
/// returns `None`, then read [`Call::poll_timeout`] again (any input may set, move or clear the timer).
///
/// An input the call cannot receive where it is is a [`DriverError`]: debug builds panic, release builds end the
/// call. Inputs that only come late are ignored: the end of a prompt that was stopped or replaced, anything after
/// the call ended, a timeout before the deadline.
#[derive(Debug)]
pub struct Call {
    config: Arc<CallConfig>,
    context: CallContext,
    phase: Phase,
    /// Digits of the entry being typed.
    entry: String,
    /// Whose passcode the caller is entering (own mailbox, an entered mailbox, the portal); a verification
    /// keeps its own copy in [`Pending::Verify`].
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
    /// The caller hung up while leaving a message, which is still deposited.
    caller_gone: bool,
    failures: u32,
    change_tries: u8,
    silent_reprompts: u8,
    deadline: Option<Instant>,
    /// The playlist playing now, and whether it takes barge-in.
    playing: Option<(PlayId, bool)>,
    /// Keys pressed while a request is pending, applied in order after the reply.
    held_keys: VecDeque<Digit>,
    /// The mailbox's messages while the caller hears them (from main menu key 1 until back at the main menu).
    listening: Option<messages::Listening>,
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
            caller_gone: false,
            failures: 0,
            change_tries: 0,
            silent_reprompts: 0,
            deadline: None,
            playing: None,
            held_keys: VecDeque::new(),
            listening: None,
            outputs: VecDeque::with_capacity(4),
            next_id: 0,
        };
        if matches!(call.context.dialed, crate::Dialed::Redirected(_)) {
            call.start_deposit();
            return call;
        }
        match call.context.caller.clone() {
            Caller::Identify(number) => call.look_up_caller(number),
            Caller::Recognised(mailbox) => call.greet(Some(mailbox)),
            Caller::Unrecognised => call.greet(None),
        }
        call
    }

    // ---- getters ----

    /// Whether the call is over (after `HangUp` was issued or the caller hung up).
    pub fn is_ended(&self) -> bool {
        matches!(self.phase, Phase::Ended)
    }

    /// Where the caller is now.
    pub fn state(&self) -> CallState {
        self.phase.state()
    }

    // ---- handle ----

    /// Feeds one input; `now` is the driver's clock when it happened. Drain [`Call::poll_output`] after it.
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

    // ---- timers ----

    /// When to feed [`Input::Timeout`], if a timer runs (at most one per call).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    // ---- poll ----

    /// The next thing the driver must do, or `None` when there is nothing until the next input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    // ---- inputs ----

    fn on_digit(&mut self, digit: Digit, now: Instant) {
        if matches!(self.phase, Phase::Collect(Stage::Message)) && self.skips_in_message(digit) {
            return;
        }
        match self.phase {
            Phase::Collect(stage) => {
                if let Some((_, true)) = self.playing.take() {
                    self.outputs.push_back(Output::StopPlayback);
                }
                self.silent_reprompts = 0;
                match stage {
                    _ if stage.collects_entry() => self.entry_key(stage, digit, now),
                    Stage::Review(kind) => self.review_key(kind, digit),
                    _ => self.menu_key(stage, digit),
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
            // Legitimate: playback stopped by barge-in or replaced by a newer `Play` may still report its end,
            // since media can finish it before the driver carries out the stop.
            return;
        }
        self.playing = None;
        match self.phase {
            Phase::Collect(stage) => {
                // A voice message played to its end: it becomes heard, then its keys are asked for.
                if stage == Stage::Message && self.message_played(id) {
                    return;
                }
                let wait = if self.entry.is_empty() {
                    self.config.first_digit_timeout
                } else {
                    self.config.inter_digit_timeout
                };
                self.deadline = Some(now + wait);
            }
            Phase::Announce(after) => self.after_announcement(after, now),
            // Nothing plays in these phases: a request, a recording and the end all clear `playing`.
            Phase::Pending(..) | Phase::Recording { .. } | Phase::Ended => {}
        }
    }

    fn on_recording_done(&mut self, recording: RecordingHandle, duration: Duration) {
        match self.phase {
            Phase::Recording { kind, .. } => self.recorded(kind, recording, duration),
            // Legitimate: the caller hung up while recording, and media reports what it had.
            Phase::Ended => {}
            // The call stays in `Recording` until the end of its one recording is reported, so this end was
            // reported twice or made up.
            Phase::Collect(_) | Phase::Announce(_) | Phase::Pending(..) => {
                self.driver_error(DriverError::UnexpectedRecording(recording))
            }
        }
    }

    fn on_reply(&mut self, id: RequestId, reply: Reply, now: Instant) {
        let pending = match &self.phase {
            Phase::Pending(pending_id, pending) if *pending_id == id => pending,
            // Legitimate: the caller hung up while the request ran.
            Phase::Ended => return,
            // No request is ever superseded: the call leaves one only by its reply or by ending, and sends one
            // at a time. So this reply came twice, or its id was made up.
            _ => return self.driver_error(DriverError::UnexpectedReply(id)),
        };
        match (pending, reply) {
            (Pending::Caller, Reply::Caller(mailbox)) => self.greet(mailbox),
            (
                Pending::Verify { stage, account },
                Reply::Verified {
                    account: answered,
                    outcome,
                },
            ) => {
                let stage = *stage;
                if answered != *account {
                    // The reply was carried to the wrong call or request: acting on it could log the caller
                    // into an account they never named.
                    let asked = account.clone();
                    return self.driver_error(DriverError::ReplyForAnotherAccount {
                        id,
                        asked,
                        answered,
                    });
                }
                self.verified(stage, answered, outcome);
            }
            (Pending::SetPasscode(kind), Reply::PasscodeSet(outcome)) => {
                let kind = *kind;
                self.passcode_set(kind, outcome);
            }
            (Pending::SaveRecording(kind), Reply::RecordingSaved(saved)) => {
                let kind = *kind;
                self.recording_saved(kind, saved);
            }
            (Pending::ListMessages, Reply::Messages(messages)) => self.messages_listed(messages),
            (Pending::FetchMessage, Reply::MessageAudio(audio)) => {
                self.message_fetched(audio.is_some())
            }
            (Pending::UpdateMessage(update), Reply::MessageUpdated(done)) => {
                let update = *update;
                self.message_updated(update, done);
            }
            (Pending::DepositMessage, Reply::MessageDeposited(deposited)) => {
                self.message_deposited(deposited)
            }
            // The right id with the wrong kind of answer: the driver mixed up its replies.
            _ => return self.driver_error(DriverError::MismatchedReply(id)),
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
            // Legitimate: a driver's timer may fire early, or after an input moved or cleared the deadline.
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
                    self.ask_again(stage);
                }
            }
            Phase::Recording {
                stopping: false, ..
            } => self.stop_recording(),
            // No timer runs in these phases: playing, requesting, stopping and ending all clear it.
            Phase::Announce(_) | Phase::Pending(..) | Phase::Recording { .. } | Phase::Ended => {}
        }
    }

    fn on_hang_up(&mut self) {
        if self.hang_up_keeps_message() {
            return self.hung_up_while_recording_message();
        }
        if !self.is_ended() {
            self.end();
            self.outputs
                .push_back(Output::Audit(Audit::CallEnded(EndReason::CallerHungUp)));
        }
    }

    // ---- dispatch to the flows ----

    /// A key at a stage that collects digits ended by `#`.
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
                Stage::NewPasscode | Stage::ConfirmPasscode => self.restart_new_passcode(),
                _ => self.ask_for_mailbox(),
            },
        }
    }

    /// The entry is complete (`#`, 30 digits, or the inter-digit timeout).
    fn submit(&mut self, stage: Stage) {
        let entry = mem::take(&mut self.entry);
        if entry.is_empty() {
            // `#` alone: ask again, it is not an attempt.
            self.ask_again(stage);
            return;
        }
        let Ok(entered) = Passcode::parse(&entry) else {
            // Unreachable: entries hold 1 to 30 digits. Asking again is the safe answer.
            self.ask_again(stage);
            return;
        };
        match stage {
            Stage::OwnPasscode | Stage::MailboxPasscode => self.submit_passcode(stage, entered),
            Stage::MailboxNumber => self.submit_mailbox(entry),
            Stage::NewPasscode => self.submit_new_passcode(entered),
            Stage::ConfirmPasscode => self.submit_confirmation(entered),
            // Menus take one key each and never submit (see `on_digit` and `on_timeout`).
            Stage::MainMenu
            | Stage::GreetingsMenu
            | Stage::AdminMenu
            | Stage::Review(_)
            | Stage::Message => {}
        }
    }

    /// An announcement played to its end.
    fn after_announcement(&mut self, after: After, now: Instant) {
        match after {
            After::HangUp(reason) => self.hang_up(reason),
            After::Record(kind) => self.start_recording(kind, now),
            After::Ask(Stage::Review(kind)) => self.review(kind, false),
            After::Ask(stage) => self.ask_again(stage),
        }
    }
}
