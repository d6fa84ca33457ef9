//! # portal-core: the conversation of a vportal call
//!
//! This crate is what a caller talks to when they dial the voice portal: the welcome, the passcode, the star key
//! for "not my own phone", the forced passcode change and personalized name of a first login, the lockout
//! message, the main and greetings menus, and the portal's admin menu for auto-attendant greetings. It is a pure
//! state machine: it does no I/O, reads no clock, draws no random numbers and hashes nothing. A driver (the SIP
//! front end, a test, the console) feeds it [`Input`]s and carries out the [`Output`]s it drains.
//!
//! Who decides what: the core decides what the caller hears next; the store decides whether a passcode is right
//! and whether the mailbox is now locked (the core sends [`Request::Verify`] and reacts to the
//! [`VerifyOutcome`]); media decides what a key press was and feeds exactly one [`Digit`] per press.
//!
//! ## Driving a call
//!
//! A [`Call`] is one value; its methods are of four kinds, as in quinn-proto's `Connection`:
//!
//! - **getters** read where the call is and change nothing: [`Call::state`], [`Call::is_ended`];
//! - **[`Call::handle`]** feeds one [`Input`] (a key, the end of a prompt or a recording, a reply, a timeout,
//!   the caller hanging up) with the instant it happened;
//! - **timers**: [`Call::poll_timeout`] says when to feed [`Input::Timeout`] (at most one timer per call);
//! - **polling**: [`Call::poll_output`] hands out, one at a time, the [`Output`]s the driver must carry out.
//!
//! The drain rule: after [`Call::new`] and after every [`Call::handle`], call [`Call::poll_output`] until it
//! returns `None`, then sleep until the next input or [`Call::poll_timeout`], whichever comes first (read it
//! again each time: any input may set, move or clear the timer). A [`Request`] comes back as [`Input::Reply`]
//! with its [`RequestId`]; the call sends one at a time, and a verification's reply names the account it answers.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::{Duration, Instant};
//! use portal_core::*;
//!
//! let config = Arc::new(CallConfig::default());
//! let context = CallContext {
//!     caller: Caller::Recognised(CallerMailbox { mailbox: "1001".into(), has_passcode: true }),
//!     dialed: Dialed::VoicemailButton,
//!     portal: PortalIdentity { number: "5558000".into(), extension: "8000".into() },
//!     today: Day(20_400),
//! };
//! let mut call = Call::new(context, config);
//! let mut now = Instant::now();
//! // What a caller does: let the welcome play, type a passcode, then hang up at the main menu.
//! let mut keys = "2580147#".chars().map(|key| Digit::from_char(key).unwrap());
//! let mut heard = Vec::new();
//! while !call.is_ended() {
//!     let mut input = None;
//!     while let Some(output) = call.poll_output() {
//!         match output {
//!             Output::Play { id, audio, .. } => {
//!                 heard.extend(audio);
//!                 input = Some(Input::PromptDone(id)); // the driver would stream it, then report its end
//!             }
//!             Output::Request(id, Request::Verify { account, passcode }) => {
//!                 // The driver runs this on its verification pool; here the store says yes.
//!                 assert_eq!(passcode.expose(), "2580147");
//!                 let login = Login { mailbox: "1001".into(), name_recorded: true, ..Login::default() };
//!                 let outcome = VerifyOutcome::Ok(login);
//!                 input = Some(Input::Reply(id, Reply::Verified { account, outcome }));
//!             }
//!             _ => {}
//!         }
//!     }
//!     let input = match (input, call.state()) {
//!         (Some(input), _) => input,
//!         (None, CallState::MainMenu) => Input::HungUp,
//!         (None, _) => match keys.next() {
//!             Some(digit) => Input::Digit(digit),
//!             None => {
//!                 // Nothing to say: sleep until the call's timer.
//!                 now = call.poll_timeout().expect("a waiting call has a timer");
//!                 Input::Timeout
//!             }
//!         },
//!     };
//!     now += Duration::from_millis(20);
//!     call.handle(input, now);
//! }
//! assert_eq!(heard, [Audio::Prompt(PromptId::Welcome), Audio::Prompt(PromptId::MainMenu)]);
//! ```
//!
//! ## Driver bugs fail closed
//!
//! Some inputs arrive late and are ignored: the end of a prompt that a key stopped or a newer prompt replaced,
//! a timeout before the deadline, anything after the call ended (a reply to a request that ran while the caller
//! hung up, the end of their recording). Others cannot happen in the state the call is in: a reply nobody waits
//! for (answered twice, or an id made up), a reply of another kind than its request, a verification answered for
//! another account, the end of a recording never started. Those are [`DriverError`]s. A debug build panics on
//! them, so tests find the bug where it is; a release build ends the call at once with
//! [`Audit::DriverError`], [`Output::HangUp`] and [`Audit::CallEnded`] with [`EndReason::DriverError`], for
//! the driver to log. No default stands in for what the call does not know: nothing leads to the admin menu but
//! a verified admin passcode.
//!
//! ## Two kinds of time
//!
//! - **Timer instants** ([`std::time::Instant`]): every input comes with `now`, and [`Call::poll_timeout`] says
//!   when to feed [`Input::Timeout`] (first-digit and inter-digit timeouts, maximum recording length). A call
//!   has at most one timer; no timer runs while a prompt plays or a request is pending.
//! - **Calendar days** ([`Day`]): today's date in [`CallContext::today`] and the day a passcode was set in
//!   [`Login::passcode_set_on`] decide expiry and the minimum days between changes.
//!
//! The core never reads a clock, so the same inputs at the same instants always give the same outputs.
//!
//! ## The conversation
//!
//! ```text
//!                 recognised caller               unrecognised caller
//!                 (own phone, voicemail button)   (or * during welcome/passcode)
//!                        |                                 |
//!                 welcome: passcode#  ---- * ---->  enter_mailbox: digits#   (* clears and asks again)
//!                        |                                 |
//!                        |                          enter_passcode: passcode#   (portal's number/extension:
//!                        |                                 |                    its admin passcode)
//!                        +------------> Verify <-----------+
//!                   wrong: passcode_incorrect, enter_passcode again
//!                   locked (or the locking failure): locked_out, goodbye, hang up
//!                   as many failures in the call as the lockout count: goodbye, hang up
//!                                      | ok
//!        admin passcode ok: admin_menu (1 business hours, 2 after hours greeting; 9 exit)
//!                                      |
//!    must change? (initial, temporary, reset, expired: passcode_expired first)
//!        must_change_and_record_name | must_change_passcode
//!        new passcode# -> rules -> reenter_new_passcode -> SetPasscode (history) -> passcode_changed
//!        (3 failed tries: goodbye)
//!                                      |
//!    no name? must_record_name, record_name, tone, record, name_is <name> name_review (1 keep, 2 again)
//!        -> SaveRecording -> name_saved
//!                                      |
//!    main_menu: 1 messages, 3 greetings_menu (1 name, 2 busy, 3 no-answer; * back), 8 change passcode,
//!               9 goodbye, # repeat
//!                                      | 1
//!    ListMessages (expiry on access first) -> none: you_have_no_messages -> main_menu
//!        "you have N new messages and M saved messages", then each message, new ones oldest first, then saved:
//!        FetchMessage -> envelope, the message (played to its end: MarkMessageHeard), message_menu:
//!        # save and next, 7 delete and next, 2 replay, 5 envelope, 4 previous, 6 next, * main_menu
//!        after the last: no_more_messages -> main_menu
//! ```
//!
//! Each flow lives in a module of `call/` named after it: `login` (welcome, star key, mailbox, passcode,
//! verification, lockout), `passcode_change` (forced and voluntary), `recording` (name and greetings: record,
//! review, save), `messages` (hearing and managing voice messages) and `menus` (main, greetings, admin), with `call/mod.rs` holding [`Call`] and dispatching
//! inputs, `state` the phases and `output` what every flow says with.
//!
//! [`CallState`] names where a call is. Prompts that ask for input allow barge-in (a key stops them and
//! counts); announcements of an outcome do not (keys are dropped); keys pressed while a request is pending are
//! applied, in order, after its reply. The passcode rules live in [`rules`]; every prompt id is a [`PromptId`];
//! [`speech`] turns numbers, dates and times into the prompt ids that say them in each language.

mod call;
mod config;
mod day;
mod io;
pub mod prompt;
pub mod rules;
mod secret;
pub mod speech;

pub use call::{Absence, Call, CallState, Deposit};
pub use config::{CallConfig, CallContext, Caller, Dialed, PortalIdentity};
pub use day::Day;
pub use io::{
    Account, Audio, Audit, CallerMailbox, ChangeKind, ChangeReason, Digit, DriverError, EndReason,
    Input, Login, MessageAudio, MessageFolder, MessageInfo, MessageRef, Output, PlayId,
    RecordingHandle, RecordingKind, Reply, Request, RequestId, SetOutcome, VerifyOutcome,
};
pub use prompt::PromptId;
pub use rules::{PasscodeRules, RuleViolation, RulesError};
pub use secret::{MAX_ENTRY_DIGITS, Passcode, PasscodeSyntaxError};
