//! How fast the conversation runs, and how much memory one call holds.
//!
//! Runs complete calls (a returning user's login, and a first login with forced change and name recording)
//! through the core with a scripted driver, on one thread, and prints inputs per second, calls per second,
//! the size of a `Call` and the heap one live call holds. `cargo bench -p portal-core`.

// A counting allocator is the only way to see a call's heap; it forwards to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use portal_core::{
    Call, CallConfig, CallContext, Caller, CallerMailbox, ChangeReason, Day, Dialed, Digit, Input,
    Login, Output, PlayId, PortalIdentity, RecordingHandle, Reply, Request, RequestId, SetOutcome,
    VerifyOutcome,
};

struct CountingAllocator;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call forwards to `System` with the same arguments; the counter has no effect on memory.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// One step of a scripted caller and store.
#[derive(Clone, Copy)]
enum Step {
    /// The playlist playing now ends.
    PromptEnds,
    Keys(&'static str),
    /// The store answers the verification with this login.
    LoginOk {
        must_change: bool,
        name_recorded: bool,
    },
    PasscodeStored,
    RecordingEnds,
    RecordingStored,
}

const RETURNING_USER: &[Step] = &[
    Step::PromptEnds, // welcome
    Step::Keys("2580147#"),
    Step::LoginOk {
        must_change: false,
        name_recorded: true,
    },
    Step::PromptEnds, // main_menu
    Step::Keys("9"),
    Step::PromptEnds, // goodbye
];

const FIRST_LOGIN: &[Step] = &[
    Step::PromptEnds, // welcome
    Step::Keys("7654321#"),
    Step::LoginOk {
        must_change: true,
        name_recorded: false,
    },
    Step::PromptEnds, // must_change_and_record_name
    Step::Keys("2580147#"),
    Step::PromptEnds, // reenter_new_passcode
    Step::Keys("2580147#"),
    Step::PasscodeStored,
    Step::PromptEnds, // passcode_changed record_name tone
    Step::Keys("#"),  // ends the recording
    Step::RecordingEnds,
    Step::Keys("1"), // keeps the name, barging into the review
    Step::RecordingStored,
    Step::PromptEnds, // name_saved
    Step::PromptEnds, // main_menu
    Step::Keys("9"),
    Step::PromptEnds, // goodbye
];

fn context() -> CallContext {
    CallContext {
        caller: Caller::Recognised(CallerMailbox {
            mailbox: "1001".into(),
            has_passcode: true,
        }),
        dialed: Dialed::VoicemailButton,
        portal: PortalIdentity {
            number: "5558000".into(),
            extension: "8000".into(),
        },
        today: Day(20_400),
    }
}

/// A driver that remembers the last play and request, as a real one would.
struct Driver {
    call: Call,
    playing: Option<PlayId>,
    request: Option<(RequestId, Request)>,
    inputs: u64,
}

impl Driver {
    fn new(config: &Arc<CallConfig>) -> Driver {
        let mut driver = Driver {
            call: Call::new(context(), Arc::clone(config)),
            playing: None,
            request: None,
            inputs: 0,
        };
        driver.drain();
        driver
    }

    fn drain(&mut self) {
        while let Some(output) = self.call.poll_output() {
            match output {
                Output::Play { id, .. } => self.playing = Some(id),
                Output::StopPlayback => self.playing = None,
                Output::Request(id, request) => self.request = Some((id, request)),
                other => {
                    black_box(other);
                }
            }
        }
    }

    fn feed(&mut self, input: Input, now: Instant) {
        self.inputs += 1;
        self.call.handle(input, now);
        self.drain();
    }

    fn step(&mut self, step: Step, now: Instant) {
        match step {
            Step::PromptEnds => {
                let id = self.playing.take().expect("a prompt is playing");
                self.feed(Input::PromptDone(id), now);
            }
            Step::Keys(keys) => {
                for key in keys.chars() {
                    self.feed(Input::Digit(Digit::from_char(key).unwrap()), now);
                }
            }
            Step::LoginOk {
                must_change,
                name_recorded,
            } => {
                let login = Login {
                    mailbox: "1001".into(),
                    must_change: must_change.then_some(ChangeReason::Initial),
                    name_recorded,
                    passcode_set_on: Some(Day(20_300)),
                    user_numbers: Vec::new(),
                };
                // The reply names the account the request did (moved from it), as the store's answer would.
                let Some((id, Request::Verify { account, .. })) = self.request.take() else {
                    panic!("a verification is pending")
                };
                let outcome = VerifyOutcome::Ok(login);
                self.feed(Input::Reply(id, Reply::Verified { account, outcome }), now);
            }
            Step::PasscodeStored => self.reply(Reply::PasscodeSet(SetOutcome::Changed), now),
            Step::RecordingStored => self.reply(Reply::RecordingSaved(true), now),
            Step::RecordingEnds => self.feed(
                Input::RecordingDone {
                    recording: RecordingHandle(1),
                    duration: Duration::from_secs(2),
                },
                now,
            ),
        }
    }

    fn reply(&mut self, reply: Reply, now: Instant) {
        let (id, _) = self.request.take().expect("a request is pending");
        self.feed(Input::Reply(id, reply), now);
    }
}

/// Runs `calls` complete calls of `script` one after another; returns inputs fed and the time taken.
fn run(script: &[Step], calls: u32, config: &Arc<CallConfig>) -> (u64, Duration) {
    let now = Instant::now();
    let started = Instant::now();
    let mut inputs = 0;
    for _ in 0..calls {
        let mut driver = Driver::new(config);
        for step in script {
            driver.step(*step, now);
        }
        assert!(driver.call.is_ended(), "the script ends the call");
        inputs += driver.inputs;
    }
    (inputs, started.elapsed())
}

/// Heap held by `count` live calls, each stopped after the first `steps` of `script`, per call.
fn heap_per_call(script: &[Step], steps: usize, config: &Arc<CallConfig>) -> isize {
    let count = 10_000;
    let now = Instant::now();
    let mut calls = Vec::with_capacity(count);
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    for _ in 0..count {
        let mut driver = Driver::new(config);
        for step in &script[..steps] {
            driver.step(*step, now);
        }
        calls.push(driver);
    }
    // `calls` was allocated before counting began: what grew is the calls' own heap.
    let after = LIVE_BYTES.load(Ordering::Relaxed);
    black_box(&calls);
    (after - before) / count as isize
}

fn main() {
    let config = Arc::new(CallConfig::default());
    // Warm up caches and the allocator.
    run(FIRST_LOGIN, 10_000, &config);
    for (name, script, calls) in [
        ("returning user login", RETURNING_USER, 1_000_000),
        ("first login (change + name)", FIRST_LOGIN, 400_000),
    ] {
        let (inputs, took) = run(script, calls, &config);
        let seconds = took.as_secs_f64();
        println!(
            "{name:<28} {calls:>9} calls {inputs:>10} inputs in {seconds:6.3} s: {:>6.2} M inputs/s, {:>8.0} calls/s",
            inputs as f64 / seconds / 1e6,
            f64::from(calls) / seconds,
        );
    }
    println!("size of one Call value: {} bytes", size_of::<Call>());
    println!(
        "heap per call waiting at the welcome: {} bytes; at the main menu after a first login: {} bytes",
        heap_per_call(FIRST_LOGIN, 0, &config),
        heap_per_call(FIRST_LOGIN, FIRST_LOGIN.len() - 2, &config),
    );
}
