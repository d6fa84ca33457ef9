//! [`Phone`]: one call, from the INVITE to the BYE. This file holds the public types, the state the threads
//! share, [`Phone::dial`] (which puts the two sides together) and the waits on what is heard.
//!
//! - [`signalling`]: the SIP side (offer, INVITE and ACK, in-dialog requests, BYE, the SIP receiving thread);
//! - [`media`]: the RTP side (sending keys and speech, feeding received packets to the recogniser).

use std::fmt;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use portal_core::{Digit, PromptId};
use portal_media::g711::Codec;
use portal_sip::sdp::Direction;

use crate::media::{Job, Media};
use crate::recognizer::{Heard, PromptCatalog, PromptRecognizer};
use crate::rtp_in::Registration;
use crate::sip::{Dialog, SipSocket};
use crate::{DialOptions, HarnessError, SipTransport};

mod media;
mod signalling;

/// After the call ended, how long a wait still gives late audio the chance to be attributed.
const HANG_UP_GRACE: Duration = Duration::from_millis(600);

/// Who ended the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangUpBy {
    /// The portal sent BYE.
    Portal,
    /// We sent BYE.
    Us,
}

impl fmt::Display for HangUpBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HangUpBy::Portal => "the portal hung up",
            HangUpBy::Us => "we hung up",
        })
    }
}

/// One thing to expect next in what the portal plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// This prompt (whole, or cut short by a key press).
    Prompt(PromptId),
    /// Audio that is no prompt (a recording played back).
    Audio,
    /// Anything.
    Any,
}

impl Expect {
    fn matches(self, heard: &Heard) -> bool {
        match self {
            Expect::Prompt(id) => heard.prompt == Some(id),
            Expect::Audio => heard.prompt.is_none(),
            Expect::Any => true,
        }
    }
}

impl From<PromptId> for Expect {
    fn from(id: PromptId) -> Expect {
        Expect::Prompt(id)
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Prompt(id) => write!(f, "{id}"),
            Expect::Audio => f.write_str("<audio>"),
            Expect::Any => f.write_str("<anything>"),
        }
    }
}

/// What offer/answer settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The G.711 law both sides use.
    pub codec: Codec,
    /// Its RTP payload type.
    pub payload_type: u8,
    /// telephone-event's payload type in the answer, if it kept it.
    pub telephone_event_pt: Option<u8>,
    /// Where the portal wants our RTP.
    pub remote_rtp: SocketAddr,
    /// Our direction as the answer leaves it.
    pub direction: Direction,
}

/// A SIP message the phone received from the portal, as far as a test needs to look at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedSip {
    /// `INVITE`, `BYE`, ... for a request; the status code for a response.
    pub kind: ReceivedKind,
    /// The topmost Via value: the portal's own for its requests, ours echoed in responses
    /// (`SIP/2.0/TCP 127.0.0.1:40312;branch=...`).
    pub top_via: Option<String>,
    /// The Contact value, when the message has one.
    pub contact: Option<String>,
    /// The CSeq value (`1 INVITE`).
    pub cseq: Option<String>,
    /// When it arrived.
    pub at: Instant,
}

/// What kind of SIP message was received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceivedKind {
    /// A request, by method name.
    Request(String),
    /// A response, by status code.
    Response(u16),
}

/// What the threads share.
struct Inner {
    sip: Arc<SipSocket>,
    started: Instant,
    state: Mutex<State>,
    changed: Condvar,
    /// Set when the call is over: the threads stop.
    stop: Arc<AtomicBool>,
}

struct State {
    dialog: Option<Dialog>,
    recognizer: Option<PromptRecognizer>,
    hung_up: Option<(HangUpBy, Instant)>,
    /// Timestamped events: SIP messages, key presses, speech.
    log: Vec<(Instant, String)>,
    /// How many heard entries [`Phone::expect`] has consumed.
    cursor: usize,
    /// A prompt [`Phone::wait_for_start`] returned on: its entry is consumed when it appears.
    skip_next: Option<PromptId>,
    /// Our SDP (answers a re-INVITE).
    local_sdp: String,
    /// INFO bodies the portal sent us.
    infos: Vec<String>,
    /// Every SIP message received, in order.
    sip_received: Vec<ReceivedSip>,
    /// Every key sent, with the moment its first packet (or its INFO request) went out.
    keys_sent: Vec<(Digit, Instant)>,
    /// The portal's last audio packet: (ssrc, sequence, timestamp, arrival).
    last_rtp: Option<(u32, u16, u32, Instant)>,
    /// For each audio packet that directly follows the previous one (same SSRC, next sequence number, the
    /// timestamp one frame on): how far its arrival gap was from 20 ms, in microseconds.
    arrival_deviation_us: Vec<u32>,
    /// From sending the INVITE to receiving its 2xx.
    setup_time: Option<Duration>,
}

impl State {
    /// Where the unconsumed part of `heard` starts, after consuming the entry of a prompt
    /// [`Phone::wait_for_start`] already returned on, once it has appeared.
    fn unconsumed(&mut self, heard: &[Heard]) -> usize {
        let mut start = self.cursor.min(heard.len());
        if let Some(skip) = self.skip_next
            && let Some(first) = heard.get(start)
        {
            if first.prompt == Some(skip) {
                start += 1;
            }
            self.skip_next = None;
            self.cursor = start;
        }
        start
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until the state changes (a packet, a SIP message) or `timeout` passes, and locks it again.
    fn wait_for_change<'a>(
        &self,
        state: MutexGuard<'a, State>,
        timeout: Duration,
    ) -> MutexGuard<'a, State> {
        self.changed
            .wait_timeout(state, timeout)
            .map(|(guard, _)| guard)
            .unwrap_or_else(|poisoned| poisoned.into_inner().0)
    }

    fn log(&self, line: impl Into<String>) {
        let mut state = self.lock();
        state.log.push((Instant::now(), line.into()));
    }

    fn end(&self, by: HangUpBy) {
        let mut state = self.lock();
        if state.hung_up.is_none() {
            state.hung_up = Some((by, Instant::now()));
            state
                .log
                .push((Instant::now(), format!("call ended: {by}")));
        }
        self.stop.store(true, Ordering::Relaxed);
        drop(state);
        self.changed.notify_all();
    }
}

/// When a wait for what is heard must look again though nothing changed: at its deadline, or when the hang-up
/// grace runs out. Every packet, SIP message and hang-up wakes it besides; a thousand callers waiting must not
/// poll.
fn next_check(state: &State, deadline: Instant) -> Instant {
    match state.hung_up {
        Some((_, at)) => deadline.min(at + HANG_UP_GRACE),
        None => deadline,
    }
}

/// A phone in a call with the portal. See the [crate documentation](crate).
pub struct Phone {
    inner: Arc<Inner>,
    options: DialOptions,
    negotiated: Negotiated,
    media_jobs: Option<mpsc::Sender<Job>>,
    /// The phone's place on the process's media wheel.
    media: Option<Media>,
    /// The phone's RTP socket on the process's receiving thread.
    rtp_in: Option<Registration>,
    threads: Vec<JoinHandle<()>>,
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Phone")
            .field("from", &self.options.from)
            .field("to", &self.options.to)
            .field("negotiated", &self.negotiated)
            .finish_non_exhaustive()
    }
}

impl Phone {
    /// Places a call and returns once it is answered (ACK sent, RTP flowing both ways).
    pub fn dial(options: DialOptions) -> Result<Phone, HarnessError> {
        let catalog = PromptCatalog::shared(&options.prompts_dir)?;
        let (sip, sip_receiver, local_ip) = signalling::open(&options)?;
        let sip = Arc::new(sip);
        let rtp_socket = Arc::new(UdpSocket::bind(SocketAddr::new(local_ip, 0))?);
        let rtp_local = rtp_socket.local_addr()?;
        let our_offer = signalling::offer(&options, rtp_local);
        let offer_text = our_offer.to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let inner = Arc::new(Inner {
            sip: Arc::clone(&sip),
            started: Instant::now(),
            state: Mutex::new(State {
                dialog: None,
                recognizer: None,
                hung_up: None,
                log: Vec::new(),
                cursor: 0,
                skip_next: None,
                local_sdp: offer_text.clone(),
                infos: Vec::new(),
                sip_received: Vec::new(),
                keys_sent: Vec::new(),
                last_rtp: None,
                arrival_deviation_us: Vec::new(),
                setup_time: None,
            }),
            changed: Condvar::new(),
            stop: Arc::clone(&stop),
        });
        let mut threads = Vec::new();
        {
            let inner = Arc::clone(&inner);
            threads.push(
                std::thread::Builder::new()
                    .name("harness-sip".into())
                    .spawn(move || signalling::sip_receive(&inner, sip_receiver))?,
            );
        }
        let mut phone_threads = PhoneThreads {
            inner: Arc::clone(&inner),
            threads,
        };

        let (dialog, answer_text) = signalling::invite(&inner, &options, local_ip, &offer_text)?;
        let negotiated = match signalling::negotiate(&our_offer, &answer_text) {
            Ok(negotiated) => negotiated,
            Err(error) => {
                inner.lock().dialog = Some(dialog);
                let phone = Phone {
                    inner: Arc::clone(&inner),
                    options,
                    negotiated: Negotiated {
                        codec: Codec::Pcmu,
                        payload_type: 0,
                        telephone_event_pt: None,
                        remote_rtp: SocketAddr::new(local_ip, 9),
                        direction: Direction::Inactive,
                    },
                    media_jobs: None,
                    media: None,
                    rtp_in: None,
                    threads: std::mem::take(&mut phone_threads.threads),
                };
                let _ = phone.hang_up();
                return Err(error);
            }
        };
        inner.log(format!(
            "answer: {} (pt {}), telephone-event {}, portal RTP at {}",
            negotiated.codec.encoding_name(),
            negotiated.payload_type,
            negotiated
                .telephone_event_pt
                .map_or_else(|| "none".to_owned(), |pt| format!("pt {pt}")),
            negotiated.remote_rtp
        ));
        {
            let mut state = inner.lock();
            state.dialog = Some(dialog);
            state.recognizer = Some(PromptRecognizer::new(
                catalog,
                negotiated.codec,
                negotiated.payload_type,
            ));
        }

        let (rtp_in, jobs_tx, media) =
            media::start_media(&inner, &rtp_socket, &options, &negotiated)?;
        Ok(Phone {
            inner,
            options,
            negotiated,
            media_jobs: Some(jobs_tx),
            media: Some(media),
            rtp_in: Some(rtp_in),
            threads: std::mem::take(&mut phone_threads.threads),
        })
    }

    /// What offer/answer settled.
    pub fn negotiated(&self) -> Negotiated {
        self.negotiated
    }

    /// The options the call was placed with.
    pub fn options(&self) -> &DialOptions {
        &self.options
    }

    /// The Call-ID.
    pub fn call_id(&self) -> String {
        self.inner
            .lock()
            .dialog
            .as_ref()
            .map(|d| d.call_id.clone())
            .unwrap_or_default()
    }

    fn ensure_up(&self) -> Result<(), HarnessError> {
        if self.inner.lock().hung_up.is_some() {
            return Err(HarnessError::CallEnded);
        }
        Ok(())
    }

    /// Everything recognised so far.
    pub fn heard(&self) -> Vec<Heard> {
        self.inner
            .lock()
            .recognizer
            .as_ref()
            .map(|r| r.heard().to_vec())
            .unwrap_or_default()
    }

    /// The prompt playing now, once it can be told apart from every other prompt.
    pub fn playing(&self) -> Option<PromptId> {
        self.inner.lock().recognizer.as_ref()?.playing()
    }

    /// Waits until the next things heard (after what earlier waits consumed) are exactly `expected`, in order;
    /// returns them and consumes them. Fails as soon as something else is heard, when the call ends first, or
    /// after `timeout`; the error names what was heard instead.
    pub fn expect(
        &self,
        expected: &[Expect],
        timeout: Duration,
    ) -> Result<Vec<Heard>, HarnessError> {
        let deadline = Instant::now() + timeout;
        let expected_text = join(expected.iter().map(Expect::to_string));
        let mut state = self.inner.lock();
        loop {
            let heard = state
                .recognizer
                .as_ref()
                .map(|r| r.heard().to_vec())
                .unwrap_or_default();
            let start = state.unconsumed(&heard);
            let fresh = &heard[start..];
            for (index, (want, got)) in expected.iter().zip(fresh).enumerate() {
                if !want.matches(got) {
                    return Err(HarnessError::Unexpected {
                        expected: expected_text,
                        heard: join(fresh[..=index].iter().map(Heard::label)),
                    });
                }
            }
            if fresh.len() >= expected.len() {
                state.cursor = start + expected.len();
                return Ok(fresh[..expected.len()].to_vec());
            }
            let now = Instant::now();
            let heard_text = || {
                let mut labels: Vec<String> = fresh.iter().map(Heard::label).collect();
                if let Some(playing) = state.recognizer.as_ref().and_then(|r| r.playing()) {
                    labels.push(format!("{playing} (playing)"));
                }
                join(labels.into_iter())
            };
            if let Some((by, at)) = state.hung_up
                && now >= at + HANG_UP_GRACE
            {
                return Err(HarnessError::HungUp {
                    expected: expected_text,
                    heard: heard_text(),
                    by,
                });
            }
            if now >= deadline {
                return Err(HarnessError::Timeout {
                    expected: expected_text,
                    heard: heard_text(),
                    after: timeout,
                });
            }
            let wake = next_check(&state, deadline);
            state = self
                .inner
                .wait_for_change(state, wake.saturating_duration_since(now));
        }
    }

    /// [`expect`](Self::expect) for a list of prompts.
    pub fn wait_for(&self, prompts: &[PromptId], timeout: Duration) -> Result<(), HarnessError> {
        let expected: Vec<Expect> = prompts.iter().copied().map(Expect::Prompt).collect();
        self.expect(&expected, timeout).map(|_| ())
    }

    /// Waits until `prompt` has started playing (recognised, not necessarily finished: keys pressed now barge
    /// in). Everything heard before it must have been consumed; the prompt's own entry is consumed when it ends.
    /// After a key press, only a start after the key counts: the same prompt still playing from before it
    /// (the portal did not act on the key) is not a start.
    pub fn wait_for_start(&self, prompt: PromptId, timeout: Duration) -> Result<(), HarnessError> {
        let deadline = Instant::now() + timeout;
        let mut state = self.inner.lock();
        loop {
            let heard = state
                .recognizer
                .as_ref()
                .map(|r| r.heard().to_vec())
                .unwrap_or_default();
            let start = state.unconsumed(&heard);
            let fresh = &heard[start..];
            let playing = state.recognizer.as_ref().and_then(|r| r.playing());
            if let Some(first) = fresh.first() {
                if first.prompt == Some(prompt) {
                    state.cursor = start + 1;
                    return Ok(());
                }
                return Err(HarnessError::Unexpected {
                    expected: prompt.to_string(),
                    heard: join(fresh.iter().map(Heard::label)),
                });
            }
            // Only asked when the prompt is playing: `playing_since` walks the match again.
            let began_after_keys = || {
                let since = state.recognizer.as_ref().and_then(|r| r.playing_since());
                state
                    .keys_sent
                    .last()
                    .is_none_or(|&(_, key)| since.is_some_and(|since| since > key))
            };
            if playing == Some(prompt) && began_after_keys() {
                state.skip_next = Some(prompt);
                return Ok(());
            }
            let now = Instant::now();
            if let Some((by, at)) = state.hung_up
                && now >= at + HANG_UP_GRACE
            {
                return Err(HarnessError::HungUp {
                    expected: prompt.to_string(),
                    heard: "nothing".into(),
                    by,
                });
            }
            if now >= deadline {
                return Err(HarnessError::Timeout {
                    expected: prompt.to_string(),
                    heard: playing.map_or_else(|| "nothing".into(), |p| format!("{p} (playing)")),
                    after: timeout,
                });
            }
            let wake = next_check(&state, deadline);
            state = self
                .inner
                .wait_for_change(state, wake.saturating_duration_since(now));
        }
    }

    /// Whether the call has ended (either side).
    pub fn is_hung_up(&self) -> bool {
        self.inner.lock().hung_up.is_some()
    }

    /// Who ended the call, if it has ended.
    pub fn hung_up_by(&self) -> Option<HangUpBy> {
        self.inner.lock().hung_up.map(|(by, _)| by)
    }

    /// Waits until the portal hangs up (its BYE answered with 200).
    pub fn wait_for_hang_up(&self, timeout: Duration) -> Result<(), HarnessError> {
        let deadline = Instant::now() + timeout;
        let mut state = self.inner.lock();
        loop {
            if state.hung_up.is_some() {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                let heard = state
                    .recognizer
                    .as_ref()
                    .map(|r| {
                        join(
                            r.heard()[state.cursor.min(r.heard().len())..]
                                .iter()
                                .map(Heard::label),
                        )
                    })
                    .unwrap_or_default();
                return Err(HarnessError::Timeout {
                    expected: "the portal's BYE".into(),
                    heard,
                    after: timeout,
                });
            }
            state = self.inner.wait_for_change(state, deadline - now);
        }
    }

    /// Every SIP message received from the portal so far, in order of arrival.
    pub fn sip_received(&self) -> Vec<ReceivedSip> {
        self.inner.lock().sip_received.clone()
    }

    /// How the call's SIP travels.
    pub fn transport(&self) -> SipTransport {
        self.options.transport
    }

    /// The portal's Contact URI from its 2xx: where the call's requests go (`;transport=tcp` when the portal
    /// saw the call arrive over TCP).
    pub fn remote_target(&self) -> Option<String> {
        self.inner
            .lock()
            .dialog
            .as_ref()
            .map(|d| d.remote_target.clone())
    }

    /// INFO bodies the portal sent.
    pub fn infos_received(&self) -> Vec<String> {
        self.inner.lock().infos.clone()
    }

    /// Every key sent so far, with the moment its first RFC 4733 packet or tone frame was due on the media
    /// clock (for SIP INFO: when the request was sent).
    pub fn keys_sent(&self) -> Vec<(char, Instant)> {
        self.inner
            .lock()
            .keys_sent
            .iter()
            .map(|(digit, at)| (digit.as_char(), *at))
            .collect()
    }

    /// Call-setup time: from sending the INVITE to receiving its 2xx (retransmissions included).
    pub fn setup_time(&self) -> Option<Duration> {
        self.inner.lock().setup_time
    }

    /// RTP arrival deviations: for each audio packet from the portal that directly follows the previous one
    /// (same SSRC, next sequence number, timestamp one 20 ms frame later), how far the time since the previous
    /// packet's arrival was from 20 ms. Gaps between prompts and lost packets are not counted.
    pub fn arrival_deviations(&self) -> Vec<Duration> {
        self.inner
            .lock()
            .arrival_deviation_us
            .iter()
            .map(|&us| Duration::from_micros(u64::from(us)))
            .collect()
    }

    /// The call as text: SIP messages, key presses and what was heard, in time order, in seconds from the
    /// dial.
    pub fn transcript(&self) -> Vec<String> {
        let state = self.inner.lock();
        let mut lines: Vec<(Instant, String)> = state.log.clone();
        if let Some(recognizer) = state.recognizer.as_ref() {
            lines.extend(
                recognizer
                    .heard()
                    .iter()
                    .map(|h| (h.started, format!("heard {}", h.label()))),
            );
        }
        lines.sort_by_key(|(at, _)| *at);
        lines
            .into_iter()
            .map(|(at, line)| {
                let since = at.saturating_duration_since(self.inner.started);
                format!("{:>7.3} {line}", since.as_secs_f64())
            })
            .collect()
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        if !self.is_hung_up() {
            // Best effort: tell the portal, without waiting for its answer.
            self.send_bye_unanswered();
            self.inner.end(HangUpBy::Us);
        }
        self.inner.stop.store(true, Ordering::Relaxed);
        self.media_jobs = None;
        self.media = None;
        self.rtp_in = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Stops and joins the threads when [`Phone::dial`] fails before a [`Phone`] owns them.
struct PhoneThreads {
    inner: Arc<Inner>,
    threads: Vec<JoinHandle<()>>,
}

impl Drop for PhoneThreads {
    fn drop(&mut self) {
        if self.threads.is_empty() {
            return;
        }
        self.inner.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn join(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    if items.is_empty() {
        "nothing".to_owned()
    } else {
        items.join(", ")
    }
}
