//! A voice portal call in a terminal: the portal's prompts are printed as text and the keys typed are the
//! caller's key presses. It drives the same conversation core and account store as a phone call does, with real
//! timers, so it is a way to try the portal (and to script it in tests) without a SIP phone.
//!
//! Input, one line at a time: the keys `0`-`9`, `*` and `#` (several per line); `~N` to speak for N seconds while
//! being recorded (the console has no microphone: it records a tone that long, and the recording ends by silence
//! as it would on a phone); `h` to hang up. The end of the input hangs up too.

use std::f32::consts::TAU;
use std::io::{self, BufRead, Write};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use portal_core::{Audio, CallConfig, CallContext, Caller, Dialed, Digit};
use portal_media::dtmf::KeySource;
use portal_media::recording::RecorderConfig;
use portal_session::{Conversation, ConversationOutput, portal_identity, portal_language};
use portal_store::{Moment, Portal, SAMPLE_RATE, Source};

use crate::bridge::{Services, carry_out, log_audit};
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
        let context = CallContext {
            caller: match self.caller {
                Some(number) => Caller::Identify(number.to_owned()),
                None => Caller::Unrecognised,
            },
            dialed: self.dialed.clone(),
            portal: portal_identity(self.portal),
            today: at.today,
        };
        let config = CallConfig {
            language: portal_language(self.portal),
            ..self.config.clone()
        };
        let mut conversation = Conversation::new(
            context,
            Arc::new(config),
            &self.portal.language,
            RecorderConfig::default().end_silence,
        );
        // Audio spoken since the recording started, and whether one is running.
        let mut recording: Option<Vec<i16>> = None;
        loop {
            while let Some(output) = conversation.poll_output() {
                let now = Instant::now();
                match output {
                    ConversationOutput::Play { play, audio } => {
                        for item in audio {
                            match item {
                                Audio::Prompt(prompt) => writeln!(
                                    out,
                                    "portal> [{prompt}] {}",
                                    self.catalog.text(prompt, &self.portal.language)
                                )?,
                                Audio::Recording(handle) => {
                                    let seconds =
                                        conversation.recording(handle).map_or(0.0, |samples| {
                                            samples.len() as f64 / f64::from(SAMPLE_RATE)
                                        });
                                    writeln!(out, "portal> [your recording, {seconds:.1} s]")?
                                }
                                Audio::Message(message) => {
                                    let seconds = conversation
                                        .message_audio(message)
                                        .map_or(0.0, |samples| {
                                            samples.len() as f64 / f64::from(SAMPLE_RATE)
                                        });
                                    writeln!(
                                        out,
                                        "portal> [message {}, {seconds:.1} s]",
                                        message.0
                                    )?
                                }
                            }
                        }
                        // Text "plays" at once.
                        conversation.playlist_done(play, now);
                    }
                    ConversationOutput::StopPlayback | ConversationOutput::SkipPlayback { .. } => {}
                    ConversationOutput::Record(config) => {
                        writeln!(
                            out,
                            "portal> (recording, at most {} s: type ~SECONDS to speak, # to stop)",
                            config.max_length.as_secs()
                        )?;
                        recording = Some(Vec::new());
                    }
                    ConversationOutput::StopRecording => {
                        if let Some(samples) = recording.take() {
                            conversation.recording_done(samples, now);
                        }
                    }
                    ConversationOutput::Store(job) => {
                        let reply = carry_out(
                            self.services,
                            self.portal,
                            &source,
                            job.request,
                            job.audio.as_deref(),
                            Moment::now_utc(),
                        );
                        conversation.reply(job.id, reply, Instant::now());
                    }
                    ConversationOutput::HangUp => writeln!(out, "portal> (hangs up)")?,
                    ConversationOutput::Audit(audit) => log_audit(&audit),
                }
            }
            out.flush()?;
            if conversation.is_ended() {
                return Ok(());
            }
            let event = match conversation.poll_timeout() {
                Some(deadline) => {
                    caller_events.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                }
                None => caller_events
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected),
            };
            let now = Instant::now();
            match event {
                // The console's keyboard is its only signalling path.
                Ok(Ok(CallerEvent::Key(digit))) => {
                    conversation.key(digit, KeySource::TelephoneEvent, now)
                }
                Ok(Ok(CallerEvent::Speak(length))) => match recording.take() {
                    Some(mut samples) => {
                        samples.extend(spoken_audio(length));
                        // The caller falls silent: media ends the recording.
                        conversation.recording_done(samples, now);
                    }
                    None => writeln!(out, "console> (nothing is being recorded now)")?,
                },
                Ok(Err(message)) => writeln!(out, "console> {message}")?,
                Ok(Ok(CallerEvent::HangUp)) | Err(RecvTimeoutError::Disconnected) => {
                    writeln!(out, "caller> (hangs up)")?;
                    conversation.hung_up(now);
                }
                Err(RecvTimeoutError::Timeout) => conversation.handle_timeout(now),
            }
        }
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
