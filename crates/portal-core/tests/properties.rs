//! Properties of the conversation over random calls: random keys, timeouts, prompt ends, recordings, store
//! answers and hang-ups, driven the way a driver would drive a call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use portal_core::speech::{CalendarDate, Envelope, TimeOfDay};
use portal_core::{
    Account, Audio, Audit, Call, CallConfig, CallContext, CallState, Caller, CallerMailbox,
    ChangeReason, Day, Dialed, Digit, Input, Login, MessageAudio, MessageFolder, MessageInfo,
    MessageRef, Output, PlayId, PortalIdentity, PromptId, RecordingHandle, RecordingKind, Reply,
    Request, RequestId, RuleViolation, SetOutcome, VerifyOutcome,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Action {
    Key(char),
    /// Several keys at once: the portal's extension, a mailbox, a passcode the rules accept, so random calls
    /// reach the paths behind them.
    Keys(&'static str),
    /// The playlist playing now ends.
    PromptEnds,
    /// The driver's timer fires.
    TimerFires,
    /// The store answers the pending request; the number picks the answer.
    StoreAnswers(u8),
    /// The recording in progress ends with this many milliseconds of audio.
    RecordingEnds(u16),
    /// A prompt end arrives that belongs to nothing current; after the call ended, a reply may instead.
    Stale(u32),
    HangsUp,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        24 => prop::sample::select("0123456789*#".chars().collect::<Vec<_>>()).prop_map(Action::Key),
        10 => prop::sample::select(vec!["8000#", "1001#", "2580147#", "2580147#", "2580147#"]).prop_map(Action::Keys),
        20 => Just(Action::PromptEnds),
        4 => Just(Action::TimerFires),
        14 => any::<u8>().prop_map(Action::StoreAnswers),
        6 => (0u16..5000).prop_map(Action::RecordingEnds),
        2 => any::<u32>().prop_map(Action::Stale),
        1 => Just(Action::HangsUp),
    ]
}

/// How the call starts; the number picks one of the ways a call can start.
fn context(start: u8) -> CallContext {
    let caller = match start % 4 {
        0 => Caller::Recognised(CallerMailbox {
            mailbox: "1001".into(),
            has_passcode: true,
        }),
        1 => Caller::Unrecognised,
        2 => Caller::Identify("5551001".into()),
        _ => Caller::Recognised(CallerMailbox {
            mailbox: "1001".into(),
            has_passcode: false,
        }),
    };
    CallContext {
        caller,
        dialed: Dialed::Portal("8000".into()),
        portal: PortalIdentity {
            number: "5558000".into(),
            extension: "8000".into(),
        },
        today: Day(20_000),
    }
}

fn config(start: u8) -> CallConfig {
    let mut config = CallConfig::default();
    if start & 4 != 0 {
        config.rules.expiry_days = Some(30);
        config.rules.min_days_between_changes = Some(5);
    }
    config
}

/// A store answer for `request`, picked by `choice`.
fn answer(request: &Request, choice: u8) -> Reply {
    match request {
        Request::LookupCaller { .. } => {
            Reply::Caller((!choice.is_multiple_of(3)).then(|| CallerMailbox {
                mailbox: "1001".into(),
                has_passcode: choice % 3 == 1,
            }))
        }
        Request::Verify { account, .. } => Reply::Verified {
            account: account.clone(),
            outcome: match choice % 4 {
                0 | 1 => VerifyOutcome::Wrong,
                2 => VerifyOutcome::Locked,
                _ => VerifyOutcome::Ok(Login {
                    mailbox: "1001".into(),
                    must_change: [
                        None,
                        Some(ChangeReason::Initial),
                        Some(ChangeReason::Temporary),
                        Some(ChangeReason::Reset),
                    ][usize::from(choice / 4 % 4)],
                    name_recorded: (choice / 16).is_multiple_of(2),
                    passcode_set_on: Some(Day(20_000 - i64::from(choice / 32 % 4) * 20)),
                    user_numbers: vec!["1001".into()],
                }),
            },
        },
        Request::SetPasscode { .. } => Reply::PasscodeSet(match choice % 4 {
            0 => SetOutcome::Rejected(RuleViolation::Reused),
            1 => SetOutcome::Failed,
            _ => SetOutcome::Changed,
        }),
        Request::SaveRecording { .. } => Reply::RecordingSaved(!choice.is_multiple_of(4)),
        Request::ListMessages { .. } => Reply::Messages((!choice.is_multiple_of(5)).then(|| {
            (0..i64::from(choice % 4))
                .map(|id| MessageInfo {
                    id: MessageRef(id),
                    envelope: Envelope {
                        received_on: CalendarDate::new(2025, 1, 6).unwrap(),
                        received_at: TimeOfDay::new(15, 45).unwrap(),
                        caller: (id % 2 == 0).then(|| "5551002".into()),
                    },
                    folder: if id == 3 {
                        MessageFolder::Saved
                    } else {
                        MessageFolder::New
                    },
                    heard: id == 3,
                })
                .collect()
        })),
        Request::FetchMessage { .. } => Reply::MessageAudio(
            (!choice.is_multiple_of(5)).then(|| MessageAudio::new(vec![0i16; 160])),
        ),
        Request::MarkMessageHeard { .. }
        | Request::SaveMessage { .. }
        | Request::DeleteMessage { .. } => Reply::MessageUpdated(!choice.is_multiple_of(4)),
        Request::DepositMessage { .. } => Reply::MessageDeposited(!choice.is_multiple_of(4)),
    }
}

/// Everything that came out of a call, and what it was fed, one step per input.
#[derive(Debug, PartialEq)]
struct Step {
    input: Input,
    outputs: Vec<Output>,
    state: CallState,
}

/// Drives one call through `actions` like a driver would, returning every step.
fn run(start: u8, actions: &[Action]) -> Vec<Step> {
    let mut now = Instant::now();
    let mut call = Call::new(context(start), Arc::new(config(start)));
    let mut steps = vec![Step {
        input: Input::Timeout, // stands for the call's creation
        outputs: std::iter::from_fn(|| call.poll_output()).collect(),
        state: call.state(),
    }];
    let mut playing: Option<PlayId> = None;
    let mut pending: Option<(RequestId, Request)> = None;
    let mut recording = false;
    let mut recordings = 0;
    let track = |outputs: &[Output],
                 playing: &mut Option<PlayId>,
                 pending: &mut Option<(RequestId, Request)>,
                 recording: &mut bool| {
        for output in outputs {
            match output {
                Output::Play { id, .. } => *playing = Some(*id),
                Output::StopPlayback => *playing = None,
                Output::Request(id, request) => *pending = Some((*id, request.clone())),
                Output::StartRecording { .. } => *recording = true,
                _ => {}
            }
        }
    };
    track(
        &steps[0].outputs,
        &mut playing,
        &mut pending,
        &mut recording,
    );
    let expanded = actions.iter().flat_map(|action| match action {
        Action::Keys(keys) => keys.chars().map(Action::Key).collect(),
        other => vec![other.clone()],
    });
    for action in expanded {
        let input = match &action {
            Action::Key(key) => Input::Digit(Digit::from_char(*key).unwrap()),
            Action::PromptEnds => match playing.take() {
                Some(id) => Input::PromptDone(id),
                None => continue,
            },
            Action::TimerFires => match call.poll_timeout() {
                Some(deadline) => {
                    now = now.max(deadline);
                    Input::Timeout
                }
                None => continue,
            },
            Action::StoreAnswers(choice) => match pending.take() {
                Some((id, request)) => Input::Reply(id, answer(&request, *choice)),
                None => continue,
            },
            Action::RecordingEnds(millis) => {
                if !recording {
                    continue;
                }
                recording = false;
                recordings += 1;
                Input::RecordingDone {
                    recording: RecordingHandle(recordings),
                    duration: Duration::from_millis(u64::from(*millis)),
                }
            }
            // A reply nobody waits for is legitimate only once the call ended (the caller hung up while the
            // request ran); before, it is a driver bug, which the driver-error transcripts cover.
            Action::Stale(id) => {
                if id % 2 == 1 && call.is_ended() {
                    Input::Reply(RequestId(id | 0x8000_0000), Reply::RecordingSaved(true))
                } else {
                    Input::PromptDone(PlayId(id | 0x8000_0000))
                }
            }
            Action::HangsUp => Input::HungUp,
            Action::Keys(_) => unreachable!("expanded above"),
        };
        now += Duration::from_millis(250);
        call.handle(input.clone(), now);
        let outputs: Vec<Output> = std::iter::from_fn(|| call.poll_output()).collect();
        track(&outputs, &mut playing, &mut pending, &mut recording);
        steps.push(Step {
            input,
            outputs,
            state: call.state(),
        });
    }
    steps
}

fn plays(output: &Output, prompt: PromptId) -> bool {
    matches!(output, Output::Play { audio, .. } if audio.contains(&Audio::Prompt(prompt)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn the_same_inputs_give_the_same_outputs(start in any::<u8>(), actions in prop::collection::vec(action(), 0..120)) {
        prop_assert_eq!(run(start, &actions), run(start, &actions));
    }

    #[test]
    fn conversation_invariants_hold(start in any::<u8>(), actions in prop::collection::vec(action(), 0..300)) {
        check_invariants(start, &run(start, &actions))?;
    }
}

/// Checks one call's steps: the menus only after the logins and obligations they need, verifications only of
/// entered digits, one request at a time, nothing after the end, no driver error.
fn check_invariants(start: u8, steps: &[Step]) -> Result<(), TestCaseError> {
    let config = config(start);
    // What the store has said so far in this call.
    let mut login: Option<Login> = None;
    let mut admin = false;
    let mut change_owed = false;
    let mut name_owed = false;
    let mut pending: Option<(RequestId, Request)> = None;
    let mut typed = String::new();
    let mut ended = false;
    for step in steps {
        if let Input::Digit(Digit::Number(n)) = step.input {
            typed.push(char::from(b'0' + n));
        }
        if let Input::Reply(id, reply) = &step.input
            && let Some((_, request)) = pending.as_ref().filter(|(pending_id, _)| pending_id == id)
        {
            match (request, reply) {
                (
                    Request::Verify {
                        account: Account::PortalAdmin,
                        ..
                    },
                    Reply::Verified {
                        outcome: VerifyOutcome::Ok(_),
                        ..
                    },
                ) => admin = true,
                (
                    Request::Verify { .. },
                    Reply::Verified {
                        outcome: VerifyOutcome::Ok(l),
                        ..
                    },
                ) => {
                    let expired = l
                        .passcode_set_on
                        .is_some_and(|d| config.rules.is_expired(d, Day(20_000)));
                    change_owed = l.must_change.is_some() || expired;
                    name_owed = !l.name_recorded;
                    login = Some(l.clone());
                }
                (Request::SetPasscode { .. }, Reply::PasscodeSet(SetOutcome::Changed)) => {
                    change_owed = false
                }
                (
                    Request::SaveRecording {
                        kind: RecordingKind::Name,
                        ..
                    },
                    Reply::RecordingSaved(true),
                ) => name_owed = false,
                _ => {}
            }
            pending = None;
        }
        if ended {
            prop_assert!(
                step.outputs.is_empty(),
                "outputs after the call ended: {:?}",
                step.outputs
            );
        }
        for output in &step.outputs {
            if plays(output, PromptId::MainMenu) {
                prop_assert!(
                    login.is_some(),
                    "main menu without a verified mailbox login"
                );
                prop_assert!(!change_owed, "main menu while a passcode change is owed");
                prop_assert!(!name_owed, "main menu while the name is owed");
            }
            if plays(output, PromptId::AdminMenu) {
                prop_assert!(admin, "admin menu without a verified admin passcode");
            }
            if let Output::Request(id, request) = output {
                prop_assert!(pending.is_none(), "a second request while one is pending");
                if let Request::Verify { passcode, .. } = request {
                    prop_assert!(
                        matches!(
                            step.input,
                            Input::Digit(_) | Input::Timeout | Input::Reply(..)
                        ),
                        "verification not caused by an entry: {:?}",
                        step.input
                    );
                    // The passcode is a run of the digits typed since the previous verification
                    // (keys typed ahead while a request was pending may follow it).
                    let Some(at) = typed.find(passcode.expose()) else {
                        return Err(TestCaseError::fail(format!(
                            "verified {:?} but the caller typed {:?}",
                            passcode.expose(),
                            typed
                        )));
                    };
                    typed.drain(..at + passcode.len());
                }
                pending = Some((*id, request.clone()));
            }
            // This driver follows the rules, so the call never reports it broke them (in release; debug panics).
            prop_assert!(
                !matches!(output, Output::Audit(Audit::DriverError(_))),
                "a driver error from a driver that follows the rules: {:?}",
                output
            );
            if *output == Output::HangUp {
                ended = true;
            }
        }
        if step.input == Input::HungUp {
            ended = true;
        }
    }
    Ok(())
}

/// The properties above mean something only if random calls get everywhere: check that they do.
#[test]
fn random_calls_visit_every_state() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::collections::HashSet;

    let mut runner = TestRunner::deterministic();
    let strategy = (any::<u8>(), prop::collection::vec(action(), 0..300));
    let mut seen = HashSet::new();
    for _ in 0..3000 {
        let (start, actions) = strategy.new_tree(&mut runner).unwrap().current();
        seen.extend(run(start, &actions).iter().map(|step| step.state));
    }
    let all = [
        CallState::AwaitingReply,
        CallState::EnteringOwnPasscode,
        CallState::EnteringMailbox,
        CallState::EnteringMailboxPasscode,
        CallState::ChoosingPasscode,
        CallState::ConfirmingPasscode,
        CallState::MainMenu,
        CallState::GreetingsMenu,
        CallState::AdminMenu,
        CallState::Reviewing,
        CallState::Recording,
        CallState::Announcement,
        CallState::Ended,
    ];
    let missed: Vec<_> = all.iter().filter(|state| !seen.contains(state)).collect();
    assert!(missed.is_empty(), "random calls never reached {missed:?}");
}
