//! Scenario files: a conversation with the portal written down, one step per line, for
//! `vportal-harness run --scenario FILE` (one run) and `vportal-harness load --scenario FILE` (many).
//!
//! ```text
//! // A settled user logs in and leaves.
//! from 5551001
//! to 5558000
//! timeout 20              // seconds any step may wait, unless it says `within`
//!
//! start welcome           // welcome has begun playing: the next keys barge in
//! press 1357924#
//! expect main_menu within 5s
//! press 9 after 200ms
//! expect goodbye
//! expect hangup
//! ```
//!
//! **Header** (before the first step): `from NUMBER` (the calling number), `to NUMBER` (the number dialed;
//! default `5558000`), `transport udp|tcp` (how SIP travels; default `udp`; RTP is always UDP),
//! `dtmf rfc4733|info|inband`, `telephone-event PT|none` (default 101; `dtmf inband` alone implies none),
//! `codecs pcmu,pcma` (offered in this order), `timeout SECONDS` (default 20), `digit-ms N` and `gap-ms N`
//! (how long a key is held and the pause after it, default 100 each), and `sip-header NAME: VALUE` (one more
//! header line for the INVITE, the rest of the line as written; repeat it for several), for a phone that
//! plays a PBX forwarding a call (`sip-header Diversion: <sip:5551001@pbx.example>;reason=no-answer`).
//!
//! **Steps**: the steps of [`crate::script`] (`expect P...`, `expect hangup`, `start P`, `press KEYS`,
//! `say MS|FILE.wav`, `wait MS`, `hangup`), one per line, and two suffixes: `within DURATION` on `expect` and
//! `start` (instead of the header's timeout), and on `press` either `after DURATION` (wait, then press) or
//! `at DURATION` (wait until the *last* key of the step goes out that long after the run began, so that many
//! callers of one `load` can submit an entry in the same instant; for `load` the run begins when the first
//! caller starts; a caller already past that moment presses at once). A WAV path is relative to the scenario
//! file.
//!
//! **Several calls**: a line `call [from NUMBER] [to NUMBER]` ends one call and starts the next (same header,
//! numbers overridden); every call ends with a BYE from us unless the portal already hung up.
//!
//! **Durations**: `500ms`, `5s`, `1.5s`; a bare number is milliseconds, except in the header's `timeout`,
//! where it is seconds. **Comments** start with `//` (anywhere on a line; `#` is a key).
//!
//! A failed step is reported with its line number and text, what was expected and what was heard instead
//! ([`StepFailure`]).

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::script::{self, Step};
use crate::{Codec, DialOptions, DtmfMode, HarnessError, Heard, Phone, SipTransport};

mod parse;
pub use parse::parse_duration;

/// The number dialed when the header names none (the demo portal's).
pub const DEFAULT_TO: &str = "5558000";

/// How long a step may wait when neither the header nor the step says.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// A scenario read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The header's settings.
    pub header: Header,
    /// The calls, in order (at least one).
    pub calls: Vec<ScenarioCall>,
}

/// What the header sets for every call.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// The calling number.
    pub from: Option<String>,
    /// The number dialed.
    pub to: String,
    /// How SIP travels.
    pub transport: SipTransport,
    /// How keys are sent.
    pub dtmf: DtmfMode,
    /// telephone-event's payload type in the offer (`None`: none).
    pub telephone_event: Option<u8>,
    /// The codecs offered, in order.
    pub codecs: Vec<Codec>,
    /// How long a waiting step may take.
    pub timeout: Duration,
    /// How long each key is held.
    pub digit_ms: u32,
    /// The pause after each key.
    pub gap_ms: u32,
    /// More header lines for the INVITE (`sip-header`), in order.
    pub sip_headers: Vec<String>,
}

impl Default for Header {
    fn default() -> Header {
        Header {
            from: None,
            to: DEFAULT_TO.to_owned(),
            transport: SipTransport::Udp,
            dtmf: DtmfMode::Rfc4733,
            telephone_event: Some(101),
            codecs: vec![Codec::Pcmu, Codec::Pcma],
            timeout: DEFAULT_TIMEOUT,
            digit_ms: 100,
            gap_ms: 100,
            sip_headers: Vec::new(),
        }
    }
}

/// One call of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioCall {
    /// The line that started it (its `call` line, or the first step's).
    pub line: usize,
    /// The calling number.
    pub from: String,
    /// The number dialed.
    pub to: String,
    /// Its steps.
    pub steps: Vec<ScenarioStep>,
}

/// One step, where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioStep {
    /// Its line number, from 1.
    pub line: usize,
    /// The line as written (without its comment).
    pub text: String,
    /// What to do.
    pub step: Step,
    /// `within`: how long this step may wait (else the header's timeout).
    pub within: Option<Duration>,
    /// `after`: how long to wait before pressing.
    pub after: Option<Duration>,
    /// `at`: when, after the run began, the last key of this press goes out.
    pub at: Option<Duration>,
}

impl ScenarioStep {
    /// Whether the step waits for the portal (`expect`, `expect hangup`, `start`).
    pub fn waits(&self) -> bool {
        matches!(
            self.step,
            Step::Expect(_) | Step::ExpectHangUp | Step::Start(_)
        )
    }
}

/// A scenario that cannot be read: which line, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} ({text:?}): {problem}")]
pub struct ScenarioError {
    /// The line number, from 1 (0: the file as a whole).
    pub line: usize,
    /// The line as written.
    pub text: String,
    /// What is wrong with it.
    pub problem: String,
}

impl Scenario {
    /// Reads a scenario file; WAV paths in it are taken relative to its directory.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|error| ScenarioError {
            line: 0,
            text: path.display().to_string(),
            problem: format!("cannot read it: {error}"),
        })?;
        Scenario::parse(&text, path.parent())
    }

    /// Dial options for `call` to `server`, from the header.
    pub fn dial_options(&self, call: &ScenarioCall, server: SocketAddr) -> DialOptions {
        let mut options = DialOptions::new(server, call.from.clone(), call.to.clone());
        options.transport = self.header.transport;
        options.dtmf_mode = self.header.dtmf;
        options.telephone_event_pt = self.header.telephone_event;
        options.codecs = self.header.codecs.clone();
        options.digit_ms = self.header.digit_ms;
        options.gap_ms = self.header.gap_ms;
        options.extra_headers = self.header.sip_headers.clone();
        options
    }

    /// Runs every call in order on phones dialed with `options(call)`; stops at the first call that fails.
    /// `on_step` sees each step before it runs. `press ... at` counts from now.
    pub fn run(
        &self,
        options: impl FnMut(&ScenarioCall) -> DialOptions,
        on_step: impl FnMut(usize, &ScenarioStep),
    ) -> Vec<CallRecord> {
        self.run_from(Instant::now(), options, on_step)
    }

    /// [`Scenario::run`], with `press ... at` counted from `began` (for `load`, the first caller's start).
    pub fn run_from(
        &self,
        began: Instant,
        mut options: impl FnMut(&ScenarioCall) -> DialOptions,
        mut on_step: impl FnMut(usize, &ScenarioStep),
    ) -> Vec<CallRecord> {
        let mut records = Vec::with_capacity(self.calls.len());
        for (index, call) in self.calls.iter().enumerate() {
            let record = self.run_call(call, options(call), began, |step| on_step(index, step));
            let failed = record.result.is_err();
            records.push(record);
            if failed {
                break;
            }
        }
        records
    }

    /// Places one call and runs its steps; hangs up at the end unless the portal did. `press ... at` counts
    /// from `began`.
    pub fn run_call(
        &self,
        call: &ScenarioCall,
        options: DialOptions,
        began: Instant,
        mut on_step: impl FnMut(&ScenarioStep),
    ) -> CallRecord {
        let mut record = CallRecord {
            from: options.from.clone(),
            to: call.to.clone(),
            result: Ok(()),
            transcript: Vec::new(),
            heard: Vec::new(),
            setup_time: None,
            keys_sent: Vec::new(),
            pound_to_prompt: Vec::new(),
            arrival_deviations: Vec::new(),
            keys_pressed: 0,
            digits_lost: 0,
        };
        let key_period =
            Duration::from_millis(u64::from(options.digit_ms) + u64::from(options.gap_ms));
        let phone = match Phone::dial(options) {
            Ok(phone) => phone,
            Err(error) => {
                record.result = Err(StepFailure {
                    line: call.line,
                    step: format!("dial {} from {}", call.to, record.from),
                    error,
                });
                return record;
            }
        };
        // The keys of the last press step, until a waiting step shows whether the portal acted on them.
        let mut unconfirmed_keys = 0usize;
        for step in &call.steps {
            on_step(step);
            let timeout = step.within.unwrap_or(self.header.timeout);
            let result = match &step.step {
                Step::Expect(items) => phone.expect(items, timeout).map(|_| ()),
                Step::ExpectHangUp => phone.wait_for_hang_up(timeout),
                Step::Start(id) => phone.wait_for_start(*id, timeout),
                Step::Press(keys) => {
                    let count = keys.chars().filter(|c| !c.is_whitespace()).count();
                    if let Some(after) = step.after {
                        std::thread::sleep(after);
                    }
                    if let Some(at) = step.at {
                        let first_key_at = (began + at)
                            .checked_sub(key_period * count.saturating_sub(1) as u32)
                            .unwrap_or(began);
                        let now = Instant::now();
                        if first_key_at > now {
                            std::thread::sleep(first_key_at - now);
                        }
                    }
                    let pressed = phone.press(keys);
                    if pressed.is_ok() {
                        record.keys_pressed += count;
                        unconfirmed_keys = count;
                    }
                    pressed
                }
                Step::SayFor(duration) => phone.say_samples(&script::test_speech(*duration)),
                Step::SayWav(path) => phone.say_wav(path),
                Step::Pause(duration) => {
                    std::thread::sleep(*duration);
                    Ok(())
                }
                Step::HangUp => phone.hang_up(),
            };
            if step.waits() {
                if result.is_err() {
                    record.digits_lost += unconfirmed_keys;
                }
                unconfirmed_keys = 0;
            }
            if let Err(error) = result {
                record.result = Err(StepFailure {
                    line: step.line,
                    step: step.text.clone(),
                    error,
                });
                break;
            }
        }
        let _ = phone.hang_up();
        record.setup_time = phone.setup_time();
        record.heard = phone.heard();
        record.keys_sent = phone.keys_sent();
        record.pound_to_prompt = pound_to_prompt(&record.keys_sent, &record.heard);
        record.arrival_deviations = phone.arrival_deviations();
        record.transcript = phone.transcript();
        record
    }
}

/// For each `#` sent: the time from its first packet to the start of the next thing heard, when that came
/// before the next key.
fn pound_to_prompt(keys: &[(char, Instant)], heard: &[Heard]) -> Vec<Duration> {
    keys.iter()
        .enumerate()
        .filter(|(_, (key, _))| *key == '#')
        .filter_map(|(index, (_, at))| {
            let next = heard.iter().find(|h| h.started > *at)?;
            let next_key = keys.get(index + 1).map(|(_, t)| *t);
            if next_key.is_some_and(|k| k < next.started) {
                return None;
            }
            Some(next.started - *at)
        })
        .collect()
}

/// A step that failed: where, and how.
#[derive(Debug)]
pub struct StepFailure {
    /// The step's line in the scenario file.
    pub line: usize,
    /// The step as written.
    pub step: String,
    /// What happened (it names what was heard instead).
    pub error: HarnessError,
}

impl fmt::Display for StepFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: `{}` failed: {}",
            self.line, self.step, self.error
        )
    }
}

impl std::error::Error for StepFailure {}

/// What one call of a scenario did.
#[derive(Debug)]
pub struct CallRecord {
    /// The calling number.
    pub from: String,
    /// The number dialed.
    pub to: String,
    /// Whether every step did what it said.
    pub result: Result<(), StepFailure>,
    /// The call as text ([`Phone::transcript`]).
    pub transcript: Vec<String>,
    /// Everything heard.
    pub heard: Vec<Heard>,
    /// INVITE to 2xx.
    pub setup_time: Option<Duration>,
    /// Each key pressed and when its first packet (or INFO) went out ([`Phone::keys_sent`]).
    pub keys_sent: Vec<(char, Instant)>,
    /// For each `#` pressed, the time to the start of the next prompt (see [`Phone::keys_sent`]).
    pub pound_to_prompt: Vec<Duration>,
    /// RTP arrival deviations from 20 ms ([`Phone::arrival_deviations`]).
    pub arrival_deviations: Vec<Duration>,
    /// Keys pressed.
    pub keys_pressed: usize,
    /// Keys of press steps whose next waiting step failed: the portal did not do what they should have
    /// made it do.
    pub digits_lost: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Expect, PromptId};

    const SETTLED: &str = "// settled\nfrom 5551001\ntimeout 15\ncodecs pcma,pcmu\ntelephone-event 96\n\
        transport tcp\n\nstart welcome\npress 1357924#   // the passcode\nexpect main_menu within 5s\n\
        press 9 after 500ms\nexpect goodbye\nexpect hangup\n";

    #[test]
    fn reads_header_and_steps() {
        let scenario = Scenario::parse(SETTLED, Some(Path::new("/s"))).unwrap();
        assert_eq!(scenario.header.from.as_deref(), Some("5551001"));
        assert_eq!(scenario.header.to, DEFAULT_TO);
        assert_eq!(scenario.header.timeout, Duration::from_secs(15));
        assert_eq!(scenario.header.codecs, [Codec::Pcma, Codec::Pcmu]);
        assert_eq!(scenario.header.telephone_event, Some(96));
        assert_eq!(scenario.header.transport, SipTransport::Tcp);
        assert_eq!(scenario.calls.len(), 1);
        let server = "127.0.0.1:5060".parse().unwrap();
        let dial = scenario.dial_options(&scenario.calls[0], server);
        assert_eq!(dial.transport, SipTransport::Tcp);
        let steps = &scenario.calls[0].steps;
        assert_eq!(steps.len(), 6);
        assert_eq!(steps[0].line, 8);
        assert_eq!(steps[1].step, Step::Press("1357924#".into()));
        assert_eq!(steps[1].text, "press 1357924#");
        assert_eq!(
            steps[2].step,
            Step::Expect(vec![Expect::Prompt(PromptId::MainMenu)])
        );
        assert_eq!(steps[2].within, Some(Duration::from_secs(5)));
        assert_eq!(steps[3].after, Some(Duration::from_millis(500)));
        assert_eq!(steps[3].at, None);
        let at = Scenario::parse("from 1\npress 1357924# at 6.5s", None).unwrap();
        let press = &at.calls[0].steps[0];
        assert_eq!(
            (press.at, press.after, &press.step),
            (
                Some(Duration::from_millis(6500)),
                None,
                &Step::Press("1357924#".into())
            )
        );
        assert_eq!(steps[5].step, Step::ExpectHangUp);
    }

    #[test]
    fn several_calls_and_wav_paths() {
        let scenario = Scenario::parse(
            "from 5559999\ndtmf inband\nexpect enter_mailbox\nsay name.wav\ncall from 5551001\nexpect welcome\n\
             call to 8000\nhangup",
            Some(Path::new("/s")),
        )
        .unwrap();
        assert_eq!(scenario.header.telephone_event, None);
        assert_eq!(scenario.header.transport, SipTransport::Udp);
        assert_eq!(scenario.calls.len(), 3);
        assert_eq!(scenario.calls[0].from, "5559999");
        assert_eq!(
            scenario.calls[0].steps[1].step,
            Step::SayWav("/s/name.wav".into())
        );
        assert_eq!(scenario.calls[1].from, "5551001");
        assert_eq!(scenario.calls[1].line, 5);
        assert_eq!(
            (
                scenario.calls[2].from.as_str(),
                scenario.calls[2].to.as_str()
            ),
            ("5559999", "8000")
        );
    }

    #[test]
    fn names_the_line_that_is_wrong() {
        let error = Scenario::parse("from 1\nexpect welcome\n\npress 12a", None).unwrap_err();
        assert_eq!(error.line, 4);
        let error = Scenario::parse("from 1\nexpect welcom", None).unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.problem.contains("welcom"), "{error}");
        let error = Scenario::parse("from 1\nexpect welcome\nfrom 2", None).unwrap_err();
        assert_eq!(error.line, 3);
        assert!(Scenario::parse("expect welcome", None).is_err()); // no from
        assert!(Scenario::parse("from 1\npress 1 within 5s", None).is_err());
        assert!(Scenario::parse("from 1\nexpect welcome after 5s", None).is_err());
        assert!(Scenario::parse("from 1\nexpect welcome at 5s", None).is_err());
        assert!(Scenario::parse("from 1\npress 1 at noon", None).is_err());
        assert!(Scenario::parse("from 1\nexpect welcome within soon", None).is_err());
        assert!(Scenario::parse("from 1\ntimeout 20\n", None).is_err()); // no steps
        let error = Scenario::parse("from 1\ntransport sctp\nhangup", None).unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.problem.contains("udp or tcp"), "{error}");
    }

    #[test]
    fn sip_header_lines_go_into_the_invite_as_written() {
        let scenario = Scenario::parse(
            "from 5552000 // a PBX forwarding\n\
             sip-header Diversion: <sip:5551001@pbx.example>;reason=no-answer;counter=1\n\
             sip-header Priority: urgent\nexpect tone\nhangup",
            None,
        )
        .unwrap();
        let expected = [
            "Diversion: <sip:5551001@pbx.example>;reason=no-answer;counter=1",
            "Priority: urgent",
        ];
        assert_eq!(scenario.header.sip_headers, expected);
        let server = "127.0.0.1:5060".parse().unwrap();
        assert_eq!(
            scenario
                .dial_options(&scenario.calls[0], server)
                .extra_headers,
            expected
        );
        for wrong in [
            "sip-header Diversion",
            "sip-header : x",
            "sip-header A B: c",
            "sip-header X:",
        ] {
            let error = Scenario::parse(&format!("from 1\n{wrong}\nhangup"), None).unwrap_err();
            assert_eq!(error.line, 2, "{wrong}: {error}");
        }
        let late =
            Scenario::parse("from 1\nhangup\nsip-header Priority: urgent", None).unwrap_err();
        assert_eq!(late.line, 3);
    }

    #[test]
    fn durations() {
        let ms = Duration::from_millis(1);
        assert_eq!(
            parse_duration("500ms", ms),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            parse_duration("1.5s", ms),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_duration("250", ms), Some(Duration::from_millis(250)));
        assert_eq!(
            parse_duration("20", Duration::from_secs(1)),
            Some(Duration::from_secs(20))
        );
        assert_eq!(parse_duration("soon", ms), None);
        assert_eq!(parse_duration("-1s", ms), None);
    }

    #[test]
    fn pound_to_prompt_pairs_each_pound_with_what_follows() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let heard = |ms: u64| Heard {
            prompt: Some(PromptId::MainMenu),
            language: Some("en"),
            started: at(ms),
            duration: Duration::from_millis(100),
            cut: false,
        };
        let keys = [
            ('1', at(0)),
            ('#', at(200)),
            ('#', at(1000)),
            ('9', at(1100)),
        ];
        let got = pound_to_prompt(&keys, &[heard(50), heard(450), heard(1500)]);
        // The second # is followed by a key before any prompt: not counted.
        assert_eq!(got, [Duration::from_millis(250)]);
    }
}
