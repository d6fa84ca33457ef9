//! Call scripts: a conversation as text, the way the `vportal-harness` CLI takes it.
//!
//! Steps are separated by `;` or new lines:
//!
//! | step | meaning |
//! |---|---|
//! | `expect welcome` | the next thing heard is `welcome` (several: `expect passcode_incorrect enter_passcode`) |
//! | `expect name_is <audio> name_review` | `<audio>` is audio that is no prompt (a recording played back); `*` is anything |
//! | `expect hangup` | the portal hangs up |
//! | `start main_menu` | `main_menu` has started playing (keys pressed next barge in) |
//! | `press 1357924#` | key presses, in the call's DTMF mode |
//! | `say 2000` | speak 2000 ms of a generated test signal ([`test_speech`]) |
//! | `say FILE.wav` | speak an 8 kHz mono 16-bit WAV file |
//! | `wait 500` | do nothing for 500 ms |
//! | `hangup` | hang up (BYE) |

use std::path::PathBuf;
use std::time::Duration;

use portal_core::PromptId;

use crate::{Expect, HarnessError, Phone};

/// One step of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Expect these next.
    Expect(Vec<Expect>),
    /// Expect the portal to hang up.
    ExpectHangUp,
    /// Wait until this prompt has started.
    Start(PromptId),
    /// Press these keys.
    Press(String),
    /// Speak the generated test signal this long.
    SayFor(Duration),
    /// Speak a WAV file.
    SayWav(PathBuf),
    /// Do nothing this long.
    Pause(Duration),
    /// Hang up.
    HangUp,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Expect(items) => {
                f.write_str("expect")?;
                for item in items {
                    write!(f, " {item}")?;
                }
                Ok(())
            }
            Step::ExpectHangUp => f.write_str("expect hangup"),
            Step::Start(id) => write!(f, "start {id}"),
            Step::Press(keys) => write!(f, "press {keys}"),
            Step::SayFor(duration) => write!(f, "say {}", duration.as_millis()),
            Step::SayWav(path) => write!(f, "say {}", path.display()),
            Step::Pause(duration) => write!(f, "wait {}", duration.as_millis()),
            Step::HangUp => f.write_str("hangup"),
        }
    }
}

/// A script that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("step {step} ({text:?}): {problem}")]
pub struct ScriptError {
    /// The step's number, from 1.
    pub step: usize,
    /// The step as written.
    pub text: String,
    /// What is wrong with it.
    pub problem: String,
}

/// Reads a script.
pub fn parse(script: &str) -> Result<Vec<Step>, ScriptError> {
    let mut steps = Vec::new();
    for (index, text) in script
        .split([';', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty() && !s.starts_with("//"))
        .enumerate()
    {
        let fail = |problem: String| ScriptError {
            step: index + 1,
            text: text.to_owned(),
            problem,
        };
        let mut words = text.split_whitespace();
        let verb = words.next().unwrap_or_default();
        let rest: Vec<&str> = words.collect();
        let millis = |word: Option<&&str>| -> Result<Duration, ScriptError> {
            word.and_then(|w| w.trim_end_matches("ms").parse().ok())
                .map(Duration::from_millis)
                .ok_or_else(|| fail("expected a number of milliseconds".into()))
        };
        let step = match verb {
            "expect" if rest == ["hangup"] => Step::ExpectHangUp,
            "expect" if rest.is_empty() => return Err(fail("expect what?".into())),
            "expect" => Step::Expect(
                rest.iter()
                    .map(|word| match *word {
                        "<audio>" | "audio" => Ok(Expect::Audio),
                        "*" | "any" => Ok(Expect::Any),
                        id => PromptId::from_id(id)
                            .map(Expect::Prompt)
                            .ok_or_else(|| fail(format!("{id:?} is no prompt id"))),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            "start" => match rest.as_slice() {
                [id] => Step::Start(
                    PromptId::from_id(id).ok_or_else(|| fail(format!("{id:?} is no prompt id")))?,
                ),
                _ => return Err(fail("start takes one prompt id".into())),
            },
            "press" => {
                let keys = rest.concat();
                if keys.is_empty()
                    || !keys
                        .chars()
                        .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
                {
                    return Err(fail("press takes keys 0-9, * and #".into()));
                }
                Step::Press(keys)
            }
            "say" => match rest.first() {
                Some(word) if word.ends_with(".wav") => Step::SayWav(PathBuf::from(word)),
                word => Step::SayFor(millis(word)?),
            },
            "wait" => Step::Pause(millis(rest.first())?),
            "hangup" => Step::HangUp,
            other => return Err(fail(format!("unknown step {other:?}"))),
        };
        steps.push(step);
    }
    Ok(steps)
}

/// Runs `steps` on `phone`; every wait gives up after `timeout`. `on_step` sees each step before it runs.
pub fn run(
    phone: &Phone,
    steps: &[Step],
    timeout: Duration,
    mut on_step: impl FnMut(&Step),
) -> Result<(), HarnessError> {
    for step in steps {
        on_step(step);
        match step {
            Step::Expect(items) => {
                phone.expect(items, timeout)?;
            }
            Step::ExpectHangUp => phone.wait_for_hang_up(timeout)?,
            Step::Start(id) => phone.wait_for_start(*id, timeout)?,
            Step::Press(keys) => phone.press(keys)?,
            Step::SayFor(duration) => {
                phone.say_samples(&test_speech(*duration))?;
            }
            Step::SayWav(path) => phone.say_wav(path)?,
            Step::Pause(duration) => std::thread::sleep(*duration),
            Step::HangUp => phone.hang_up()?,
        }
    }
    Ok(())
}

/// A stand-in for speech: a warbling 300-500 Hz tone with some noise, about -16 dBm0, clear of every DTMF
/// frequency so it is never taken for a key.
pub fn test_speech(duration: Duration) -> Vec<i16> {
    let len = (duration.as_millis() as usize) * 8;
    let mut noise: u32 = 0x1234_5678;
    let mut phase = 0.0f32;
    (0..len)
        .map(|i| {
            let t = i as f32 / 8000.0;
            let frequency = 400.0 + 100.0 * (std::f32::consts::TAU * 3.0 * t).sin();
            phase += std::f32::consts::TAU * frequency / 8000.0;
            noise = noise.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let hiss = ((noise >> 16) as i32 - 32_768) as f32 / 32_768.0;
            (3_500.0 * phase.sin() + 300.0 * hiss) as i16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_steps() {
        let steps = parse(
            "expect welcome; press 1357924#; expect main_menu\npress 9; expect goodbye; expect hangup;\
             expect name_is <audio> name_review; start main_menu; say 2000; say name.wav; wait 300ms; hangup",
        )
        .unwrap();
        assert_eq!(
            steps,
            [
                Step::Expect(vec![Expect::Prompt(PromptId::Welcome)]),
                Step::Press("1357924#".into()),
                Step::Expect(vec![Expect::Prompt(PromptId::MainMenu)]),
                Step::Press("9".into()),
                Step::Expect(vec![Expect::Prompt(PromptId::Goodbye)]),
                Step::ExpectHangUp,
                Step::Expect(vec![
                    Expect::Prompt(PromptId::NameIs),
                    Expect::Audio,
                    Expect::Prompt(PromptId::NameReview)
                ]),
                Step::Start(PromptId::MainMenu),
                Step::SayFor(Duration::from_millis(2000)),
                Step::SayWav("name.wav".into()),
                Step::Pause(Duration::from_millis(300)),
                Step::HangUp,
            ]
        );
        assert_eq!(steps[6].to_string(), "expect name_is <audio> name_review");
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert_eq!(parse("expect welcom").unwrap_err().step, 1);
        assert!(parse("press 12a").is_err());
        assert!(
            parse("expect welcome; dance")
                .unwrap_err()
                .problem
                .contains("dance")
        );
        assert!(parse("wait soon").is_err());
    }

    #[test]
    fn test_speech_is_loud_enough_and_no_key() {
        let samples = test_speech(Duration::from_millis(1000));
        assert_eq!(samples.len(), 8000);
        let level = portal_media::signal::block_dbm0(&samples);
        assert!(level > -25.0 && level < -10.0, "{level}");
        let mut detector = portal_media::dtmf::InbandDetector::new();
        for frame in samples.chunks(160) {
            assert_eq!(detector.push_frame(frame), None);
        }
    }
}
