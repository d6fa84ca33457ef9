//! A voice portal call in a terminal: the portal's prompts are printed as text and the keys typed are the
//! caller's key presses. It drives the same conversation core and account store as a phone call does, with real
//! timers, so it is a way to try the portal (and to script it in tests) without a SIP phone.
//!
//! Input, one line at a time: the keys `0`-`9`, `*` and `#` (several per line); `~N` to speak for N seconds while
//! being recorded (the console has no microphone: it records a tone that long, and the recording ends by silence
//! as it would on a phone); `h` to hang up. The end of the input hangs up too.

use std::collections::VecDeque;
use std::f32::consts::TAU;
use std::io::{self, BufRead, Write};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use portal_core::{Audio, Call, CallConfig, Dialed, Digit, Input, Output, RecordingHandle};
use portal_store::{Moment, Portal, SAMPLE_RATE, Source};

use crate::bridge::{CallRecordings, Services, call_context, carry_out};
use crate::catalog::Catalog;

/// What the person at the console did.
#[derive(Clone, Copy, Debug, PartialEq)]
enum CallerEvent {
    Key(Digit),
    Speak(Duration),
    HangUp,
}

/// Parses one line of console input into events; unknown text is reported in the error.
fn parse_line(line: &str) -> Result<Vec<CallerEvent>, String> {
    let line = line.trim();
    if line == "h" || line == "hangup" {
        return Ok(vec![CallerEvent::HangUp]);
    }
    if let Some(seconds) = line.strip_prefix('~') {
        return match seconds.trim().parse::<f64>() {
            Ok(seconds) if seconds.is_finite() && (0.0..=600.0).contains(&seconds) => {
                Ok(vec![CallerEvent::Speak(Duration::from_secs_f64(seconds))])
            }
            _ => Err(format!(
                "`~{seconds}`: say how many seconds to speak, 0 to 600"
            )),
        };
    }
    line.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| {
            Digit::from_char(c).map(CallerEvent::Key).ok_or_else(|| {
                format!("`{c}` is not a key: use 0-9, * and #, ~SECONDS to speak, h to hang up")
            })
        })
        .collect()
}

/// A tone standing in for the caller's voice.
fn spoken_audio(length: Duration) -> Vec<i16> {
    let samples = (length.as_secs_f64() * f64::from(SAMPLE_RATE)) as usize;
    let step = TAU * 330.0 / SAMPLE_RATE as f32;
    (0..samples)
        .map(|i| ((i as f32 * step).sin() * 6000.0) as i16)
        .collect()
}

/// How the call is placed.
pub struct ConsoleCall<'a> {
    /// Where accounts live, and how users are notified.
    pub services: Services<'a>,
    /// The portal called.
    pub portal: &'a Portal,
    /// The calling number, if the caller has one.
    pub caller: Option<&'a str>,
    /// What the caller dialed.
    pub dialed: Dialed,
    /// Timers and rules.
    pub config: CallConfig,
    /// Prompt texts.
    pub catalog: &'a Catalog,
    /// Names the call in logs and the audit.
    pub call_id: String,
}

impl ConsoleCall<'_> {
    /// Runs the call until the portal or the caller hangs up. `input` is read on its own thread.
    pub fn run(self, input: impl BufRead + Send + 'static, out: &mut impl Write) -> io::Result<()> {
        let (events, caller_events) = mpsc::channel();
        let reader_errors = events.clone();
        std::thread::spawn(move || {
            for line in input.lines() {
                let Ok(line) = line else { break };
                match parse_line(&line) {
                    Ok(parsed) => {
                        for event in parsed {
                            if events.send(Ok(event)).is_err() {
                                return;
                            }
                        }
                    }
                    Err(message) => {
                        let _ = reader_errors.send(Err(message));
                    }
                }
            }
            let _ = events.send(Ok(CallerEvent::HangUp));
        });

        let source = Source::Call {
            call_id: self.call_id.clone(),
            caller: self.caller.map(str::to_owned),
        };
        let span = tracing::info_span!("call", call_id = %self.call_id);
        let _entered = span.enter();
        let at = Moment::now_utc();
        let context = call_context(self.portal, self.caller, self.dialed.clone(), at);
        let mut call = Call::new(context, Arc::new(self.config.clone()));
        let mut recordings = CallRecordings::new();
        let mut next_handle = 0;
        // Audio spoken since the recording started, and whether one is running.
        let mut recording: Option<Vec<i16>> = None;
        let mut inputs: VecDeque<Input> = VecDeque::new();
        loop {
            while let Some(output) = call.poll_output() {
                match output {
                    Output::Play { id, audio, .. } => {
                        for item in audio {
                            match item {
                                Audio::Prompt(prompt) => writeln!(
                                    out,
                                    "portal> [{prompt}] {}",
                                    self.catalog.text(prompt, &self.portal.language)
                                )?,
                                Audio::Recording(handle) => {
                                    let seconds = recordings.get(&handle).map_or(0.0, |samples| {
                                        samples.len() as f64 / f64::from(SAMPLE_RATE)
                                    });
                                    writeln!(out, "portal> [your recording, {seconds:.1} s]")?
                                }
                            }
                        }
                        // Text "plays" at once.
                        inputs.push_back(Input::PromptDone(id));
                    }
                    Output::StopPlayback => {}
                    Output::StartRecording { kind, max_length } => {
                        writeln!(
                            out,
                            "portal> (recording {kind:?}, at most {} s: type ~SECONDS to speak, # to stop)",
                            max_length.as_secs()
                        )?;
                        recording = Some(Vec::new());
                    }
                    Output::StopRecording => {
                        if let Some(samples) = recording.take() {
                            inputs.push_back(finish_recording(
                                samples,
                                &mut recordings,
                                &mut next_handle,
                            ));
                        }
                    }
                    Output::Request(id, request) => {
                        let reply = carry_out(
                            self.services,
                            self.portal,
                            &source,
                            request,
                            &recordings,
                            Moment::now_utc(),
                        );
                        inputs.push_back(Input::Reply(id, reply));
                    }
                    Output::HangUp => writeln!(out, "portal> (hangs up)")?,
                    Output::Audit(audit) => tracing::info!(?audit, "call event"),
                }
            }
            out.flush()?;
            if call.is_ended() {
                return Ok(());
            }
            if let Some(input) = inputs.pop_front() {
                call.handle(input, Instant::now());
                continue;
            }
            let event = match call.poll_timeout() {
                Some(deadline) => {
                    caller_events.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                }
                None => caller_events
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected),
            };
            let input = match event {
                Ok(Ok(CallerEvent::Key(digit))) => Input::Digit(digit),
                Ok(Ok(CallerEvent::Speak(length))) => match recording.as_mut() {
                    Some(samples) => {
                        samples.extend(spoken_audio(length));
                        // The caller falls silent: media ends the recording.
                        let samples = recording.take().unwrap_or_default();
                        finish_recording(samples, &mut recordings, &mut next_handle)
                    }
                    None => {
                        writeln!(out, "console> (nothing is being recorded now)")?;
                        continue;
                    }
                },
                Ok(Err(message)) => {
                    writeln!(out, "console> {message}")?;
                    continue;
                }
                Ok(Ok(CallerEvent::HangUp)) | Err(RecvTimeoutError::Disconnected) => {
                    writeln!(out, "caller> (hangs up)")?;
                    Input::HungUp
                }
                Err(RecvTimeoutError::Timeout) => Input::Timeout,
            };
            call.handle(input, Instant::now());
        }
    }
}

fn finish_recording(
    samples: Vec<i16>,
    recordings: &mut CallRecordings,
    next_handle: &mut u64,
) -> Input {
    *next_handle += 1;
    let handle = RecordingHandle(*next_handle);
    let duration = Duration::from_secs_f64(samples.len() as f64 / f64::from(SAMPLE_RATE));
    recordings.insert(handle, samples);
    Input::RecordingDone {
        recording: handle,
        duration,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_lines_become_caller_events() {
        assert_eq!(
            parse_line(" 12 3#").unwrap(),
            [
                CallerEvent::Key(Digit::Number(1)),
                CallerEvent::Key(Digit::Number(2)),
                CallerEvent::Key(Digit::Number(3)),
                CallerEvent::Key(Digit::Pound),
            ]
        );
        assert_eq!(
            parse_line("~2.5").unwrap(),
            [CallerEvent::Speak(Duration::from_millis(2500))]
        );
        assert_eq!(parse_line("h").unwrap(), [CallerEvent::HangUp]);
        assert!(parse_line("12a").unwrap_err().contains("`a` is not a key"));
        assert!(parse_line("~-1").is_err());
        assert!(parse_line("~lots").is_err());
    }

    #[test]
    fn spoken_audio_lasts_as_long_as_asked() {
        assert_eq!(
            spoken_audio(Duration::from_secs(2)).len(),
            2 * SAMPLE_RATE as usize
        );
    }
}
