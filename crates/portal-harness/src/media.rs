//! The phones' outgoing RTP, each on a 20 ms media clock. Between jobs a phone sends a silence frame per tick
//! (or lets the clock run without sending); a job (a key press, a stretch of speech) is a list of packets at
//! sample offsets from its start, sent on its clock with the call's one [`RtpSender`].
//!
//! One thread serves every phone of the process: a wheel of 20 one-millisecond slots, each phone in one slot
//! (the least busy when it joined), served every 20 ms on an absolute schedule. A job's packets go out at the
//! first tick at or after their offset.

use std::fmt;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, mpsc};
use std::time::{Duration, Instant};

use portal_core::Digit;
use portal_media::dtmf::{TelephoneEventPacing, dtmf_tone, telephone_event_packets};
use portal_media::g711::Codec;
use portal_media::rtp::{RtpSender, SAMPLES_PER_FRAME, SEND_BUFFER_LEN};

/// Level of each of the two tones of an in-band key press, in dBm0.
pub const INBAND_LEVEL_DBM0: f32 = -10.0;

/// What goes out at one moment of a job.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// One audio frame (160 codes); the audio clock advances by it.
    Audio(Box<[u8; SAMPLES_PER_FRAME]>),
    /// One telephone-event packet with a timestamp relative to the job's start.
    Event {
        marker: bool,
        timestamp_offset: u32,
        payload: [u8; 4],
    },
}

/// Packets at sample offsets from the job's start; the job takes `end` samples of media time.
#[derive(Debug)]
pub(crate) struct Job {
    pub actions: Vec<(u32, Action)>,
    pub end: u32,
    /// Told when the job's first packet was due, once the job is done.
    pub done: mpsc::Sender<Instant>,
}

/// How the media thread sends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MediaConfig {
    pub remote: SocketAddr,
    pub codec: Codec,
    pub payload_type: u8,
    pub telephone_event_pt: Option<u8>,
    pub idle_silence: bool,
}

fn round_up_to_frame(samples: u32) -> u32 {
    samples.div_ceil(SAMPLES_PER_FRAME as u32) * SAMPLES_PER_FRAME as u32
}

fn ms_to_samples(ms: u32) -> u32 {
    ms * 8
}

/// Audio frames of `samples`, the last one padded with silence.
pub(crate) fn audio_actions(codec: Codec, samples: &[i16], offset: u32) -> Vec<(u32, Action)> {
    samples
        .chunks(SAMPLES_PER_FRAME)
        .enumerate()
        .map(|(index, chunk)| {
            let mut frame = Box::new([codec.silence_code(); SAMPLES_PER_FRAME]);
            codec.encode(chunk, &mut frame[..]);
            (
                offset + (index * SAMPLES_PER_FRAME) as u32,
                Action::Audio(frame),
            )
        })
        .collect()
}

/// An RFC 4733 key press: the key held `digit_ms`, then `gap_ms` without packets.
pub(crate) fn rfc4733_job(digit: Digit, digit_ms: u32, gap_ms: u32) -> (Vec<(u32, Action)>, u32) {
    let duration = ms_to_samples(digit_ms.max(1));
    let packets = telephone_event_packets(digit, 0, duration, TelephoneEventPacing::default());
    let last = packets.last().map_or(0, |p| p.send_at);
    let actions = packets
        .into_iter()
        .map(|p| {
            (
                p.send_at,
                Action::Event {
                    marker: p.marker,
                    timestamp_offset: p.timestamp,
                    payload: p.event.to_bytes(),
                },
            )
        })
        .collect();
    let end = round_up_to_frame((duration + ms_to_samples(gap_ms)).max(last + 1));
    (actions, end)
}

/// An in-band key press: `digit_ms` of the tone pair, then `gap_ms` of silence frames.
pub(crate) fn inband_job(
    codec: Codec,
    digit: Digit,
    digit_ms: u32,
    gap_ms: u32,
) -> (Vec<(u32, Action)>, u32) {
    let tone_len = round_up_to_frame(ms_to_samples(digit_ms.max(20)));
    let gap_len = round_up_to_frame(ms_to_samples(gap_ms.max(20)));
    let mut samples = dtmf_tone(digit, tone_len as usize, INBAND_LEVEL_DBM0);
    samples.resize((tone_len + gap_len) as usize, 0);
    (audio_actions(codec, &samples, 0), tone_len + gap_len)
}

/// The nice value the process's two RTP threads (this sending wheel, the receiving thread) ask for.
const RTP_THREAD_NICE: i32 = -10;

/// Raises the calling RTP thread's priority to [`RTP_THREAD_NICE`] when allowed (root, CAP_SYS_NICE). A
/// load run has a thread per caller besides, and thousands of them must not hold every caller's packets
/// back; without the privilege the thread runs on at the normal priority.
pub(crate) fn hurry_rtp_thread() {
    let _ = portal_media::thread_priority::set_this_thread_nice(RTP_THREAD_NICE);
}

/// Slots of the wheel: one a millisecond, so each phone is served every 20 ms.
const SLOTS: usize = 20;
/// How long one slot lasts.
const SLOT: Duration = Duration::from_millis(1);
/// A frame's worth of samples.
const FRAME: u32 = SAMPLES_PER_FRAME as u32;

/// A phone's outgoing media on the process's media wheel; dropping it takes the phone off the wheel.
pub(crate) struct Media {
    id: u64,
    slot: usize,
}

impl fmt::Debug for Media {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Media")
            .field("id", &self.id)
            .field("slot", &self.slot)
            .finish()
    }
}

impl Drop for Media {
    fn drop(&mut self) {
        let mut wheel = wheel().lock();
        wheel.slots[self.slot].retain(|entry| entry.id != self.id);
    }
}

/// Puts a phone on the media wheel: from now on, every 20 ms, it sends its next frame (silence, or the next
/// packets of the job in progress) from `socket`. It leaves the wheel when `stop` is set (after finishing the
/// job in progress on the clock, without sending), when the job channel closes, or when the [`Media`] is
/// dropped.
pub(crate) fn start(
    socket: Arc<UdpSocket>,
    config: MediaConfig,
    jobs: mpsc::Receiver<Job>,
    stop: Arc<AtomicBool>,
) -> Media {
    let shared = wheel();
    let mut wheel = shared.lock();
    let id = wheel.next_id;
    wheel.next_id += 1;
    let slot = (0..SLOTS)
        .min_by_key(|&slot| wheel.slots[slot].len())
        .unwrap_or(0);
    wheel.slots[slot].push(Entry {
        id,
        socket,
        config,
        jobs,
        stop,
        sender: RtpSender::new(),
        current: None,
        visit_in: None,
    });
    drop(wheel);
    shared.added.notify_all();
    Media { id, slot }
}

/// A job in progress.
struct Current {
    job: Job,
    /// When its first packet was due.
    start: Instant,
    /// The RTP timestamp at its start.
    base: u32,
    /// Media time of the next tick, in samples from the start.
    position: u32,
    /// Media time of the last tick.
    ticked: u32,
    /// The next action to send.
    next: usize,
    /// The phone stopped: the job runs out on the clock without sending.
    aborted: bool,
}

impl Current {
    /// When the next packet is due, in whole milliseconds after the last tick, if before the next tick (a
    /// telephone-event packet off the 20 ms grid).
    fn next_due_ms(&self) -> Option<u32> {
        let (at, _) = self.job.actions.get(self.next)?;
        let ms = at.checked_sub(self.ticked)?.div_ceil(8);
        (ms > 0 && (ms as usize) < SLOTS).then_some(ms)
    }
}

/// One phone on the wheel: what its media thread used to keep.
struct Entry {
    id: u64,
    socket: Arc<UdpSocket>,
    config: MediaConfig,
    jobs: mpsc::Receiver<Job>,
    stop: Arc<AtomicBool>,
    sender: RtpSender,
    current: Option<Current>,
    /// Set by a tick: the job has a packet due this many milliseconds after it, before the next tick.
    visit_in: Option<u32>,
}

impl Entry {
    fn send(&self, bytes: &[u8]) {
        let _ = self.socket.send_to(bytes, self.config.remote);
    }

    /// One tick of the phone's 20 ms media clock; false when the phone leaves the wheel.
    fn tick(&mut self, buffer: &mut [u8; SEND_BUFFER_LEN]) -> bool {
        let stopped = self.stop.load(Ordering::Relaxed);
        loop {
            if let Some(mut current) = self.current.take() {
                if current.position >= current.job.end {
                    // The job's media time is over: the clock runs on from its end.
                    let lag = current
                        .base
                        .wrapping_add(current.job.end)
                        .wrapping_sub(self.sender.timestamp());
                    if lag > 0 && lag < 0x8000_0000 {
                        self.sender.skip(lag);
                    }
                    let _ = current.job.done.send(current.start);
                    continue;
                }
                current.aborted |= stopped;
                while let Some((at, action)) = current.job.actions.get(current.next) {
                    if *at > current.position {
                        break;
                    }
                    current.next += 1;
                    if !current.aborted {
                        self.act(current.base, *at, action, buffer);
                    }
                }
                current.ticked = current.position;
                current.position += FRAME;
                self.visit_in = current.next_due_ms();
                self.current = Some(current);
                return true;
            }
            if stopped {
                return false;
            }
            match self.jobs.try_recv() {
                Ok(job) => {
                    self.current = Some(Current {
                        job,
                        start: Instant::now(),
                        base: self.sender.timestamp(),
                        position: 0,
                        ticked: 0,
                        next: 0,
                        aborted: false,
                    });
                }
                Err(mpsc::TryRecvError::Empty) => {
                    if self.config.idle_silence {
                        let silence = [self.config.codec.silence_code(); SAMPLES_PER_FRAME];
                        if let Ok(len) =
                            self.sender
                                .build_audio(self.config.payload_type, &silence, buffer)
                        {
                            self.send(&buffer[..len]);
                        }
                    } else {
                        self.sender.skip(FRAME);
                    }
                    return true;
                }
                Err(mpsc::TryRecvError::Disconnected) => return false,
            }
        }
    }

    /// A visit between two ticks, `ms` after the last one: sends the job's packets due by now; returns when
    /// the next one is due, if before the next tick.
    fn visit(&mut self, ms: u32, buffer: &mut [u8; SEND_BUFFER_LEN]) -> Option<u32> {
        let mut current = self.current.take()?;
        current.aborted |= self.stop.load(Ordering::Relaxed);
        let now = current.ticked + ms * 8;
        while let Some((at, action)) = current.job.actions.get(current.next) {
            if *at > now {
                break;
            }
            current.next += 1;
            if !current.aborted {
                self.act(current.base, *at, action, buffer);
            }
        }
        let next = current.next_due_ms();
        self.current = Some(current);
        next
    }

    /// Sends one packet of a job that started at RTP timestamp `base`.
    fn act(&mut self, base: u32, at: u32, action: &Action, buffer: &mut [u8; SEND_BUFFER_LEN]) {
        match action {
            Action::Audio(frame) => {
                let lag = base.wrapping_add(at).wrapping_sub(self.sender.timestamp());
                if lag > 0 && lag < 0x8000_0000 {
                    self.sender.skip(lag);
                }
                if let Ok(len) =
                    self.sender
                        .build_audio(self.config.payload_type, &frame[..], buffer)
                {
                    self.send(&buffer[..len]);
                }
            }
            Action::Event {
                marker,
                timestamp_offset,
                payload,
            } => {
                let Some(pt) = self.config.telephone_event_pt else {
                    return;
                };
                if let Ok(len) = self.sender.build_with_timestamp(
                    pt,
                    *marker,
                    base.wrapping_add(*timestamp_offset),
                    payload,
                    buffer,
                ) {
                    self.send(&buffer[..len]);
                }
            }
        }
    }
}

struct Wheel {
    slots: [Vec<Entry>; SLOTS],
    next_id: u64,
}

impl Wheel {
    fn is_empty(&self) -> bool {
        self.slots.iter().all(Vec::is_empty)
    }
}

struct Shared {
    wheel: Mutex<Wheel>,
    /// Told when a phone joins: the thread sleeps while the wheel is empty.
    added: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Wheel> {
        self.wheel
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The process's media wheel, its thread started on first use.
fn wheel() -> &'static Shared {
    static WHEEL: OnceLock<&'static Shared> = OnceLock::new();
    WHEEL.get_or_init(|| {
        let shared: &'static Shared = Box::leak(Box::new(Shared {
            wheel: Mutex::new(Wheel {
                slots: std::array::from_fn(|_| Vec::new()),
                next_id: 0,
            }),
            added: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("harness-media".into())
            .spawn(move || run_wheel(shared))
            .unwrap_or_else(|error| panic!("cannot start the media thread: {error}"));
        shared
    })
}

/// The media thread: serves one slot a millisecond, on an absolute schedule.
fn run_wheel(shared: &Shared) {
    hurry_rtp_thread();
    let mut buffer = [0u8; SEND_BUFFER_LEN];
    let mut slot = 0;
    // The slot count since the start, and the visits between ticks: (slot count due, entry, its slot, ms after
    // its tick).
    let mut count: u64 = 0;
    let mut visits: Vec<(u64, u64, usize, u32)> = Vec::new();
    let mut due = Vec::new();
    let mut next_slot = Instant::now();
    loop {
        {
            let mut wheel = shared.lock();
            while wheel.is_empty() {
                wheel = shared
                    .added
                    .wait(wheel)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                next_slot = Instant::now();
            }
        }
        sleep_until(next_slot);
        {
            let mut wheel = shared.lock();
            wheel.slots[slot].retain_mut(|entry| {
                let keep = entry.tick(&mut buffer);
                if let Some(ms) = entry.visit_in.take()
                    && keep
                {
                    visits.push((count + u64::from(ms), entry.id, slot, ms));
                }
                keep
            });
            visits.retain(|visit| {
                let now = visit.0 <= count;
                if now {
                    due.push(*visit);
                }
                !now
            });
            for (at, id, home, ms) in due.drain(..) {
                let next = wheel.slots[home]
                    .iter_mut()
                    .find(|entry| entry.id == id)
                    .and_then(|entry| entry.visit(ms, &mut buffer));
                if let Some(next) = next {
                    visits.push((at - u64::from(ms) + u64::from(next), id, home, next));
                }
            }
        }
        slot = (slot + 1) % SLOTS;
        count += 1;
        next_slot += SLOT;
        {
            // Sleep over slots with nothing to do: a process with one phone (a caller of its own) wakes every
            // 20 ms, not every millisecond.
            let wheel = shared.lock();
            let mut skipped = 0;
            while skipped < SLOTS - 1
                && wheel.slots[slot].is_empty()
                && !visits.iter().any(|visit| visit.0 <= count)
            {
                slot = (slot + 1) % SLOTS;
                count += 1;
                next_slot += SLOT;
                skipped += 1;
            }
        }
        // After a stall, do not burst to catch up: resume on the clock from now.
        let now = Instant::now();
        if now > next_slot + Duration::from_millis(200) {
            next_slot = now;
        }
    }
}

fn sleep_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        std::thread::sleep(deadline - now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4733_job_is_paced_and_ends_on_a_frame() {
        let (actions, end) = rfc4733_job(Digit::Pound, 100, 100);
        let times: Vec<u32> = actions.iter().map(|(at, _)| *at).collect();
        assert_eq!(times, [0, 400, 800, 960, 1120]);
        assert_eq!(end, 1600);
        let markers: Vec<bool> = actions
            .iter()
            .map(|(_, a)| matches!(a, Action::Event { marker: true, .. }))
            .collect();
        assert_eq!(markers, [true, false, false, false, false]);
        let Action::Event { payload, .. } = &actions[4].1 else {
            panic!("not an event");
        };
        assert_eq!(payload, &[11, 0x80 | 10, 0x03, 0x20]);
    }

    #[test]
    fn inband_job_is_tone_then_silence() {
        let (actions, end) = inband_job(Codec::Pcmu, Digit::Number(5), 100, 100);
        assert_eq!(actions.len(), 10);
        assert_eq!(end, 1600);
        let Action::Audio(last) = &actions[9].1 else {
            panic!("not audio");
        };
        assert!(last.iter().all(|&c| c == 0xFF));
    }
}
