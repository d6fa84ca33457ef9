//! The phone's RTP side: its place on the process's send and receive threads, key presses and speech as
//! media jobs, and every received packet fed to the recogniser (waking the waits when what is heard changes).

use std::net::UdpSocket;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use portal_core::Digit;
use portal_media::rtp::{RtpPacket, SAMPLES_PER_FRAME};

use super::{Inner, Negotiated, Phone, State};
use crate::media::{self, Job, Media, MediaConfig};
use crate::rtp_in::{self, Registration, RtpSink};
use crate::{DialOptions, DtmfMode, HarnessError, IdleAudio};

/// Puts the answered call's RTP on the process's shared threads: receiving (to the recogniser) and sending
/// (the 20 ms wheel, fed jobs through the returned channel).
pub(super) fn start_media(
    inner: &Arc<Inner>,
    rtp_socket: &Arc<UdpSocket>,
    options: &DialOptions,
    negotiated: &Negotiated,
) -> Result<(Registration, mpsc::Sender<Job>, Media), HarnessError> {
    let rtp_in = rtp_in::register(rtp_socket, Arc::clone(inner) as Arc<dyn RtpSink>)?;
    let (jobs_tx, jobs_rx) = mpsc::channel();
    let config = MediaConfig {
        remote: negotiated.remote_rtp,
        codec: negotiated.codec,
        payload_type: negotiated.payload_type,
        telephone_event_pt: options
            .telephone_event_pt
            .and(negotiated.telephone_event_pt),
        idle_silence: options.idle == IdleAudio::Silence,
    };
    let media = media::start(
        Arc::clone(rtp_socket),
        config,
        jobs_rx,
        Arc::clone(&inner.stop),
    );
    Ok((rtp_in, jobs_tx, media))
}

impl Phone {
    /// Runs a media job; returns when its first packet was due to go out.
    fn run_job(
        &self,
        actions: Vec<(u32, media::Action)>,
        end: u32,
    ) -> Result<Instant, HarnessError> {
        let jobs = self.media_jobs.as_ref().ok_or(HarnessError::CallEnded)?;
        let (done, finished) = mpsc::channel();
        jobs.send(Job { actions, end, done })
            .map_err(|_| HarnessError::CallEnded)?;
        finished.recv().map_err(|_| HarnessError::CallEnded)
    }

    fn key_sent(&self, digit: Digit, at: Instant) {
        self.inner.lock().keys_sent.push((digit, at));
    }

    /// Presses `keys` one after the other (`0`-`9`, `*`, `#`; spaces are ignored) in the call's
    /// [`DtmfMode`], each held `digit_ms` with `gap_ms` after it. Returns when the last one has been sent.
    pub fn press(&self, keys: &str) -> Result<(), HarnessError> {
        let digits = keys
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| Digit::from_char(c).ok_or(HarnessError::BadKey(c)))
            .collect::<Result<Vec<_>, _>>()?;
        self.ensure_up()?;
        self.inner.log(format!(
            "press {keys} ({})",
            match self.options.dtmf_mode {
                DtmfMode::Rfc4733 => format!(
                    "RFC 4733, pt {}",
                    self.options
                        .telephone_event_pt
                        .map_or_else(|| "none".into(), |pt| pt.to_string())
                ),
                DtmfMode::SipInfo => "SIP INFO".to_owned(),
                DtmfMode::Inband => "in-band".to_owned(),
            }
        ));
        let (digit_ms, gap_ms) = (self.options.digit_ms, self.options.gap_ms);
        for digit in digits {
            self.ensure_up()?;
            match self.options.dtmf_mode {
                DtmfMode::Rfc4733 => {
                    let (actions, end) = media::rfc4733_job(digit, digit_ms, gap_ms);
                    let at = self.run_job(actions, end)?;
                    self.key_sent(digit, at);
                }
                DtmfMode::Inband => {
                    let (actions, end) =
                        media::inband_job(self.negotiated.codec, digit, digit_ms, gap_ms);
                    let at = self.run_job(actions, end)?;
                    self.key_sent(digit, at);
                }
                DtmfMode::SipInfo => {
                    let body = format!("Signal={}\r\nDuration={digit_ms}\r\n", digit.as_char());
                    let at = Instant::now();
                    self.request("INFO", Some("application/dtmf-relay"), &body)?;
                    self.key_sent(digit, at);
                    std::thread::sleep(Duration::from_millis(u64::from(digit_ms + gap_ms)));
                }
            }
        }
        Ok(())
    }

    /// Speaks 8 kHz linear samples, one frame every 20 ms; returns when the last frame has been sent.
    pub fn say_samples(&self, samples: &[i16]) -> Result<(), HarnessError> {
        self.ensure_up()?;
        self.inner.log(format!(
            "say {} ms of audio",
            samples.len() as u64 * 1000 / 8000
        ));
        let actions = media::audio_actions(self.negotiated.codec, samples, 0);
        let end = (actions.len() * 160) as u32;
        self.run_job(actions, end).map(|_| ())
    }

    /// Speaks an 8 kHz mono 16-bit WAV file.
    pub fn say_wav(&self, path: &Path) -> Result<(), HarnessError> {
        let samples = portal_media::prompts::read_wav(path)?;
        self.say_samples(&samples)
    }
}

impl State {
    /// Notes an RTP packet's arrival for [`Phone::arrival_deviations`].
    fn arrival(&mut self, packet: &RtpPacket<'_>, now: Instant) {
        let audio = self
            .recognizer
            .as_ref()
            .is_some_and(|r| r.payload_type() == packet.payload_type);
        if !audio {
            return;
        }
        if let Some((ssrc, sequence, timestamp, at)) = self.last_rtp
            && ssrc == packet.ssrc
            && packet.sequence == sequence.wrapping_add(1)
            && packet.timestamp == timestamp.wrapping_add(SAMPLES_PER_FRAME as u32)
        {
            let gap = now.saturating_duration_since(at).as_micros() as i64;
            let deviation = (gap - 20_000).unsigned_abs().min(u64::from(u32::MAX)) as u32;
            self.arrival_deviation_us.push(deviation);
        }
        self.last_rtp = Some((packet.ssrc, packet.sequence, packet.timestamp, now));
    }
}

/// The phone's share of the process's RTP receiving thread: every packet to the recogniser.
impl RtpSink for Inner {
    fn packet(&self, bytes: &[u8], now: Instant) {
        let Ok(packet) = RtpPacket::parse(bytes) else {
            return;
        };
        self.recognize(|state| {
            state.arrival(&packet, now);
            if let Some(recognizer) = state.recognizer.as_mut() {
                recognizer.push(&packet, now);
            }
        });
    }

    fn idle(&self, now: Instant) {
        self.recognize(|state| {
            if let Some(recognizer) = state.recognizer.as_mut() {
                recognizer.idle(now);
            }
        });
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn finish(&self) {
        if let Some(recognizer) = self.lock().recognizer.as_mut() {
            recognizer.end_talkspurt();
        }
        self.changed.notify_all();
    }
}

impl Inner {
    /// Runs `update` on the state; wakes the waiters when what was heard, or what is playing, changed.
    fn recognize(&self, update: impl FnOnce(&mut State)) {
        let mut state = self.lock();
        let before = state.recognizer.as_ref().map_or(0, |r| r.heard().len());
        let playing_before = state.recognizer.as_ref().and_then(|r| r.playing());
        update(&mut state);
        let after = state.recognizer.as_ref().map_or(0, |r| r.heard().len());
        let playing_after = state.recognizer.as_ref().and_then(|r| r.playing());
        drop(state);
        if after != before || playing_after != playing_before {
            self.changed.notify_all();
        }
    }
}
