//! [`TestPhone`]: a desk phone as a value, for pair tests on a simulated clock.
//!
//! It does what the socket-based `portal_harness::Phone` does, sans-IO: dials (INVITE over UDP, early or late
//! offer), ACKs, sends RTP every 20 ms (silence, RFC 4733 keys or in-band tones, loud audio), hears the
//! portal's prompts through `portal_harness::PromptRecognizer`, and hangs up or answers the portal's BYE.
//! Messages are parsed with `portal_sip` and media built with `portal_media`; only the UAC glue is here.
//!
//! Kinds of method, as in quinn-proto's `Connection`:
//! - commands: [`TestPhone::dial`], [`TestPhone::press`], [`TestPhone::say`], [`TestPhone::hang_up`];
//! - `handle_*`: [`TestPhone::handle_datagram`] (every datagram addressed to the phone's SIP or RTP address)
//!   and [`TestPhone::handle_timeout`];
//! - `poll_*`: [`TestPhone::poll_transmit`] and [`TestPhone::poll_timeout`];
//! - getters: [`TestPhone::heard`], [`TestPhone::is_answered`], [`TestPhone::sip_received`], ...
//!
//! **Drain rule.** After every command or `handle_*` call, call `poll_transmit` until it returns `None` and
//! put each datagram on the network; then `poll_timeout` says when to call `handle_timeout` next (call it at
//! that instant or later; earlier is harmless). Commands and `handle_*` never send anything themselves, and
//! `poll_timeout` changes nothing. Heard prompts become final only after [`TestPhone::finish`] or
//! [`HANG_UP_GRACE`] after the hang-up ([`TestPhone::is_finished`]): the last talkspurt is attributed then.

#![allow(dead_code)] // each test binary uses its own part of the support code

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portal_core::{Digit, PromptId};
use portal_harness::recognizer::{Heard, PromptCatalog, PromptRecognizer, TALKSPURT_IDLE};
use portal_media::dtmf::{
    TelephoneEventPacing, TelephoneEventPacket, dtmf_tone, telephone_event_packets,
};
use portal_media::g711::Codec;
use portal_media::rtp::{RtpPacket, RtpSender, SAMPLES_PER_FRAME, SEND_BUFFER_LEN, sequence_delta};
use portal_media::signal::{dbm0_to_amplitude, sine};
use portal_sip::codec::{EchoHeaders, Message, Request, Response, decode_datagram};
use portal_sip::sdp::{
    self, Direction, LocalMedia, MediaDescription, NegotiatedMedia, Origin, RtpMap,
    SessionDescription,
};
use portal_sip::syntax::{Method, NameAddr, parse_cseq};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// RFC 3261 T2: the cap of non-INVITE retransmission intervals.
const T2: Duration = Duration::from_secs(4);
/// The RTP packet interval.
const FRAME: Duration = Duration::from_millis(20);
const FRAME_SAMPLES: u32 = SAMPLES_PER_FRAME as u32;
/// After the call ends, RTP still in flight is heard this long before what is left is attributed.
pub const HANG_UP_GRACE: Duration = Duration::from_millis(500);
/// The payload type offered for telephone-event.
pub const TELEPHONE_EVENT_PT: u8 = 101;
/// Level of in-band key tones and of the `say` tone (the recorder counts speech above -40 dBm0).
const TONE_LEVEL_DBM0: f32 = -10.0;
/// `say` sends this tone: 400 Hz is exactly 8 periods in a 20 ms frame, so one encoded frame repeats seamlessly.
const SAY_FREQUENCY_HZ: f32 = 400.0;

/// A datagram the phone wants sent: (from, to, bytes).
pub type Transmit = (SocketAddr, SocketAddr, Vec<u8>);

/// How to build a phone. [`PhoneConfig::new`] fills in the usual desk phone.
#[derive(Debug, Clone)]
pub struct PhoneConfig {
    /// Where the phone sends and receives SIP.
    pub sip: SocketAddr,
    /// Where it receives RTP (and sends it from).
    pub rtp: SocketAddr,
    /// The portal's SIP address: every request goes there (Contact and Record-Route are not followed).
    pub server: SocketAddr,
    /// The From user (the caller's number).
    pub user: String,
    /// The Request-URI and To user (the number dialed).
    pub dial: String,
    pub catalog: Arc<PromptCatalog>,
    /// The portal's language, for the test's own assertions; the recogniser knows every language anyway.
    pub language: String,
    /// Offer telephone-event 101. Without it (or when the answer drops it) keys are sent as in-band tones.
    pub telephone_event: bool,
    /// `false`: late offer, an INVITE without SDP; the portal offers in its 2xx and we answer in the ACK.
    pub offer_sdp: bool,
    /// Seeds tags, branches, Call-ID, SDP session id and the RTP stream's SSRC/sequence/timestamp.
    pub seed: u64,
    /// RFC 3261 T1.
    pub t1: Duration,
    /// How long each key is held.
    pub key_duration: Duration,
    /// Silence after each key.
    pub key_gap: Duration,
    /// Playout delay for packets that arrive out of order: they are put back in sequence order before the
    /// recogniser sees them, waiting at most this long for a missing one (a lost packet's gap then passes).
    /// Zero feeds every packet on arrival.
    pub jitter_buffer: Duration,
}

impl PhoneConfig {
    /// A phone offering PCMU and telephone-event in its INVITE, keys held 100 ms with 100 ms gaps, T1 500 ms,
    /// a 60 ms jitter buffer, language `en`, seed 1.
    pub fn new(
        sip: SocketAddr,
        rtp: SocketAddr,
        server: SocketAddr,
        user: impl Into<String>,
        dial: impl Into<String>,
        catalog: Arc<PromptCatalog>,
    ) -> PhoneConfig {
        PhoneConfig {
            sip,
            rtp,
            server,
            user: user.into(),
            dial: dial.into(),
            catalog,
            language: "en".into(),
            telephone_event: true,
            offer_sdp: true,
            seed: 1,
            t1: Duration::from_millis(500),
            key_duration: Duration::from_millis(100),
            key_gap: Duration::from_millis(100),
            jitter_buffer: Duration::from_millis(60),
        }
    }
}

/// Who ended the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangUpBy {
    Portal,
    Us,
}

/// A client transaction: the request, its branch and its retransmission timers.
#[derive(Debug)]
struct ClientTx {
    branch: String,
    bytes: Vec<u8>,
    /// Next retransmission (`None` once a response stopped them).
    resend_at: Option<Instant>,
    interval: Duration,
    /// Timer B / F: no final response by then ends the transaction with a local 408.
    give_up: Option<Instant>,
    /// The final status (408 when it timed out).
    status: Option<u16>,
}

impl ClientTx {
    fn new(now: Instant, t1: Duration, branch: String, bytes: Vec<u8>) -> ClientTx {
        ClientTx {
            branch,
            bytes,
            resend_at: Some(now + t1),
            interval: t1,
            give_up: Some(now + t1 * 64),
            status: None,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        earliest([self.resend_at, self.give_up])
    }

    /// Stops retransmitting. A final response ends the give-up timer too, and so does an INVITE's 1xx
    /// (Timer B only runs while calling; the portal may take its time to answer).
    fn responded(&mut self, status: u16, invite: bool) {
        self.resend_at = None;
        if status >= 200 || invite {
            self.give_up = None;
        }
        if status >= 200 {
            self.status.get_or_insert(status);
        }
    }

    /// Retransmits when due (`cap`: T2 for non-INVITE, none for INVITE); returns what to send.
    fn on_timeout(&mut self, now: Instant, cap: Option<Duration>) -> Option<Vec<u8>> {
        if self.give_up.is_some_and(|at| at <= now) {
            self.give_up = None;
            self.resend_at = None;
            self.status.get_or_insert(408);
            return None;
        }
        let at = self.resend_at.filter(|&at| at <= now)?;
        self.interval = cap.map_or(self.interval * 2, |cap| (self.interval * 2).min(cap));
        self.resend_at = Some(at + self.interval);
        Some(self.bytes.clone())
    }
}

/// One thing the phone's media clock does next.
#[derive(Debug, Clone, Copy)]
enum Job {
    Key(Digit),
    /// Silence frames.
    Gap(u32),
    /// Loud frames.
    Say(u32),
}

/// The job on the media clock now.
#[derive(Debug)]
enum Running {
    /// RFC 4733 packets, each sent at the tick whose 20 ms window holds its `send_at`.
    Event {
        packets: Vec<TelephoneEventPacket>,
        next: usize,
        tick: u32,
    },
    /// In-band tone frames, already encoded.
    Tone {
        frames: Vec<[u8; SAMPLES_PER_FRAME]>,
    },
    Frames {
        loud: bool,
        left: u32,
    },
}

/// The media of an answered call.
#[derive(Debug)]
struct Media {
    negotiated: NegotiatedMedia,
    codec: Codec,
    sender: RtpSender,
    next_tick: Instant,
    running: Option<Running>,
    silence: [u8; SAMPLES_PER_FRAME],
    loud: [u8; SAMPLES_PER_FRAME],
}

/// Puts the portal's packets back in sequence order (see [`PhoneConfig::jitter_buffer`]).
#[derive(Debug)]
struct Playout {
    delay: Duration,
    ssrc: Option<u32>,
    next: Option<u16>,
    held: Vec<(u16, Instant, Vec<u8>)>,
    /// Packets that came after their place had passed.
    late: u64,
}

impl Playout {
    fn push(&mut self, now: Instant, packet: &RtpPacket<'_>, bytes: &[u8], out: &mut Vec<Vec<u8>>) {
        if self.ssrc != Some(packet.ssrc) {
            self.drain(out);
            self.ssrc = Some(packet.ssrc);
            self.next = None;
        }
        let late = self
            .next
            .is_some_and(|next| sequence_delta(next, packet.sequence) < 0);
        if late || self.held.iter().any(|h| h.0 == packet.sequence) {
            self.late += u64::from(late);
            return;
        }
        self.held.push((packet.sequence, now, bytes.to_vec()));
        self.release(now, out);
    }

    /// Releases the next packet in sequence while it is there, or the lowest held one once the packet held
    /// longest has waited `delay` (a gap given up on).
    fn release(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) {
        while let Some(first) = self.held.first() {
            let anchor = self.next.unwrap_or(first.0);
            let (index, lowest) = self
                .held
                .iter()
                .enumerate()
                .min_by_key(|(_, h)| sequence_delta(anchor, h.0))
                .map(|(index, h)| (index, h.0))
                .unwrap_or((0, anchor));
            let waited = self.deadline().is_some_and(|at| at <= now);
            if self.next != Some(lowest) && !waited {
                return;
            }
            let (sequence, _, bytes) = self.held.swap_remove(index);
            self.next = Some(sequence.wrapping_add(1));
            out.push(bytes);
        }
    }

    fn drain(&mut self, out: &mut Vec<Vec<u8>>) {
        if let Some(anchor) = self.next.or(self.held.first().map(|h| h.0)) {
            self.held.sort_by_key(|h| sequence_delta(anchor, h.0));
        }
        out.extend(self.held.drain(..).map(|h| h.2));
    }

    fn deadline(&self) -> Option<Instant> {
        self.held
            .iter()
            .map(|h| h.1)
            .min()
            .map(|at| at + self.delay)
    }
}

/// A desk phone as a value. See the module docs for its kinds of method and the drain rule.
#[derive(Debug)]
pub struct TestPhone {
    config: PhoneConfig,
    rng: StdRng,
    local_tag: String,
    call_id: String,
    request_uri: String,
    /// Our From value, with our tag.
    from: String,
    /// The To value of the INVITE (no tag).
    to: String,
    contact: String,
    /// Our SDP offer (early offer) or answer (late offer).
    local_sdp: Option<SessionDescription>,
    invite: Option<ClientTx>,
    /// The To value with the portal's tag, from the first final response.
    remote_to: Option<String>,
    /// Where in-dialog requests are addressed (the 2xx's Contact).
    remote_target: Option<String>,
    /// The ACK of the final response, sent again for each retransmission of it.
    ack: Option<Vec<u8>>,
    answered: bool,
    rejected: Option<u16>,
    /// Why the answer could not be used, when it could not.
    answer_error: Option<String>,
    cseq: u32,
    bye: Option<ClientTx>,
    cancel: Option<ClientTx>,
    hung_up: Option<HangUpBy>,
    /// When what is still in flight has been heard: the recogniser's last talkspurt is attributed then.
    flush_at: Option<Instant>,
    flushed: bool,
    jobs: VecDeque<Job>,
    media: Option<Media>,
    recognizer: Option<PromptRecognizer>,
    playout: Playout,
    /// When a pause in arrival ends the recogniser's talkspurt.
    idle_at: Option<Instant>,
    transmits: VecDeque<Transmit>,
    sip_received: Vec<String>,
    keys_sent: Vec<(char, Instant)>,
    rtp_sent: u64,
    rtp_received: u64,
}

fn earliest<const N: usize>(instants: [Option<Instant>; N]) -> Option<Instant> {
    instants.into_iter().flatten().min()
}

/// `ip:port`, or `[v6]:port`, as written in a URI.
fn uri_host(addr: SocketAddr) -> String {
    addr.to_string()
}

fn g711(codec: sdp::Codec) -> Codec {
    match codec {
        sdp::Codec::Pcmu => Codec::Pcmu,
        sdp::Codec::Pcma => Codec::Pcma,
    }
}

fn start_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.lines().next().unwrap_or_default().to_owned()
}

/// Every header line of a parsed message as `(name, value)`, in order (rsip prints each as `Name: value`).
fn header_lines(message: &Message) -> Vec<(String, String)> {
    message
        .headers()
        .iter()
        .filter_map(|header| {
            let printed = header.to_string();
            let (name, value) = printed.split_once(':')?;
            Some((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// A message as text: start line, headers, Content-Type when there is a body, Content-Length, body.
fn message_text(start: &str, headers: &[String], body: Option<&str>) -> Vec<u8> {
    let mut text = format!("{start}\r\n");
    for header in headers {
        text.push_str(header);
        text.push_str("\r\n");
    }
    let body = body.unwrap_or_default();
    if !body.is_empty() {
        text.push_str("Content-Type: application/sdp\r\n");
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    text.into_bytes()
}

fn token(rng: &mut StdRng) -> String {
    format!("{:016x}", rng.random::<u64>())
}

impl TestPhone {
    /// A phone that has not dialed yet. Every random value is drawn here, from `config.seed`.
    pub fn new(config: PhoneConfig) -> TestPhone {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let local_tag = token(&mut rng);
        let call_id = format!("{}@{}", token(&mut rng), config.sip.ip());
        let server = uri_host(config.server);
        let sip = uri_host(config.sip);
        TestPhone {
            request_uri: format!("sip:{}@{server}", config.dial),
            from: format!("<sip:{}@{sip}>;tag={local_tag}", config.user),
            to: format!("<sip:{}@{server}>", config.dial),
            contact: format!("<sip:{}@{sip}>", config.user),
            local_tag,
            call_id,
            local_sdp: None,
            invite: None,
            remote_to: None,
            remote_target: None,
            ack: None,
            answered: false,
            rejected: None,
            answer_error: None,
            cseq: 0,
            bye: None,
            cancel: None,
            hung_up: None,
            flush_at: None,
            flushed: false,
            jobs: VecDeque::new(),
            media: None,
            recognizer: None,
            playout: Playout {
                delay: config.jitter_buffer,
                ssrc: None,
                next: None,
                held: Vec::new(),
                late: 0,
            },
            idle_at: None,
            transmits: VecDeque::new(),
            sip_received: Vec::new(),
            keys_sent: Vec::new(),
            rtp_sent: 0,
            rtp_received: 0,
            rng,
            config,
        }
    }

    // ---- commands ----

    /// Sends the INVITE (with our offer unless [`PhoneConfig::offer_sdp`] is false), retransmitted on Timer A
    /// (T1 doubling) until a response; no final response within 64·T1 ends the call as `rejected(408)`.
    pub fn dial(&mut self, now: Instant) {
        assert!(self.invite.is_none(), "a TestPhone dials once");
        let branch = self.branch();
        let body = self.config.offer_sdp.then(|| {
            let offer = self.offer();
            let text = offer.to_string();
            self.local_sdp = Some(offer);
            text
        });
        let headers = [
            self.via(&branch),
            "Max-Forwards: 70".to_owned(),
            format!("From: {}", self.from),
            format!("To: {}", self.to),
            format!("Call-ID: {}", self.call_id),
            "CSeq: 1 INVITE".to_owned(),
            format!("Contact: {}", self.contact),
            "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO".to_owned(),
            "User-Agent: vportal-pair-phone".to_owned(),
        ];
        let start = format!("INVITE {} SIP/2.0", self.request_uri);
        let bytes = message_text(&start, &headers, body.as_deref());
        self.cseq = 1;
        self.send_sip(self.config.server, bytes.clone());
        self.invite = Some(ClientTx::new(now, self.config.t1, branch, bytes));
    }

    /// Queues keys (`0`-`9`, `*`, `#`); each goes out on the 20 ms media clock, after what is queued before
    /// it: RFC 4733 events when telephone-event was negotiated (held [`PhoneConfig::key_duration`], an update
    /// packet every 20 ms, three end packets), else the tone pair in the audio; then
    /// [`PhoneConfig::key_gap`] of silence. Keys pressed before the answer wait for it. Panics on another key.
    pub fn press(&mut self, _now: Instant, keys: &str) {
        let gap = frames_in(self.config.key_gap);
        for key in keys.chars() {
            let digit = Digit::from_char(key).unwrap_or_else(|| panic!("{key:?} is not a key"));
            self.jobs.push_back(Job::Key(digit));
            if gap > 0 {
                self.jobs.push_back(Job::Gap(gap));
            }
        }
    }

    /// Queues `duration` of loud audio (a 400 Hz tone at -10 dBm0) instead of silence, e.g. to record.
    pub fn say(&mut self, _now: Instant, duration: Duration) {
        let frames = frames_in(duration);
        if frames > 0 {
            self.jobs.push_back(Job::Say(frames));
        }
    }

    /// Ends the call: BYE once answered (retransmitted on Timer E until its final response), CANCEL while
    /// the INVITE is unanswered (a 2xx that still comes is ACKed and BYEd). RTP stops now; what is in flight
    /// is still heard for [`HANG_UP_GRACE`].
    pub fn hang_up(&mut self, now: Instant) {
        if self.hung_up.is_some() || self.rejected.is_some() {
            return;
        }
        self.ended(now, HangUpBy::Us);
        if self.answered {
            self.send_bye(now);
        } else if let Some(invite) = &self.invite
            && invite.status.is_none()
        {
            let headers = [
                self.via(&invite.branch),
                "Max-Forwards: 70".to_owned(),
                format!("From: {}", self.from),
                format!("To: {}", self.to),
                format!("Call-ID: {}", self.call_id),
                "CSeq: 1 CANCEL".to_owned(),
            ];
            let bytes = message_text(
                &format!("CANCEL {} SIP/2.0", self.request_uri),
                &headers,
                None,
            );
            let branch = invite.branch.clone();
            self.send_sip(self.config.server, bytes.clone());
            self.cancel = Some(ClientTx::new(now, self.config.t1, branch, bytes));
        }
    }

    /// Attributes what the recogniser holds now (the talkspurt in progress, packets held for reordering)
    /// instead of waiting for the hang-up grace; later RTP is no longer heard.
    pub fn finish(&mut self, now: Instant) {
        let mut released = Vec::new();
        self.playout.drain(&mut released);
        self.hear(now, released);
        if let Some(recognizer) = self.recognizer.as_mut() {
            recognizer.end_talkspurt();
        }
        self.flushed = true;
        self.flush_at = None;
        self.idle_at = None;
    }

    // ---- handle_* ----

    /// Feeds a datagram the network delivered. Datagrams addressed to neither of the phone's addresses are
    /// ignored.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        bytes: &[u8],
    ) {
        let rtp = bytes.first().is_some_and(|byte| byte >> 6 == 2);
        if to == self.config.rtp && rtp {
            self.handle_rtp(now, bytes);
        } else if to == self.config.sip {
            self.handle_sip(now, from, bytes);
        }
    }

    /// Runs what is due at `now`: retransmissions, transaction timeouts, media ticks (catching up when `now`
    /// is late), the jitter buffer, the recogniser's idle and hang-up deadlines.
    pub fn handle_timeout(&mut self, now: Instant) {
        let calling = self.invite.as_ref().is_some_and(|tx| tx.status.is_none());
        if let Some(bytes) = self.invite.as_mut().and_then(|tx| tx.on_timeout(now, None)) {
            self.send_sip(self.config.server, bytes);
        }
        if calling && let Some(status) = self.invite.as_ref().and_then(|tx| tx.status) {
            self.rejected = Some(status); // Timer B: no answer at all
        }
        for tx in [self.bye.as_mut(), self.cancel.as_mut()]
            .into_iter()
            .flatten()
        {
            if let Some(bytes) = tx.on_timeout(now, Some(T2)) {
                self.transmits
                    .push_back((self.config.sip, self.config.server, bytes));
            }
        }
        while self.hung_up.is_none()
            && let Some(media) = self.media.as_mut()
            && media.next_tick <= now
        {
            let at = media.next_tick;
            media.next_tick += FRAME;
            self.tick(at);
        }
        if !self.flushed && self.playout.deadline().is_some_and(|at| at <= now) {
            let mut released = Vec::new();
            self.playout.release(now, &mut released);
            self.hear(now, released);
        }
        if self.idle_at.is_some_and(|at| at <= now) {
            self.idle_at = None;
            if let Some(recognizer) = self.recognizer.as_mut() {
                recognizer.idle(now);
            }
        }
        if self.flush_at.is_some_and(|at| at <= now) {
            self.finish(now);
        }
    }

    // ---- poll_* ----

    /// The next datagram to send, `(from, to, bytes)`; drain until `None` after every call that changes the
    /// phone.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// When [`TestPhone::handle_timeout`] must run next; `None` when nothing is pending (a finished call).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let tick = self
            .media
            .as_ref()
            .filter(|_| self.hung_up.is_none())
            .map(|media| media.next_tick);
        let playout = (!self.flushed).then(|| self.playout.deadline()).flatten();
        earliest([
            self.invite.as_ref().and_then(ClientTx::deadline),
            self.bye.as_ref().and_then(ClientTx::deadline),
            self.cancel.as_ref().and_then(ClientTx::deadline),
            tick,
            playout,
            self.idle_at,
            self.flush_at,
        ])
    }

    // ---- getters ----

    /// What was heard, as labels: `welcome`, `main_menu (cut)`, `<audio 2040 ms>`.
    pub fn heard(&self) -> Vec<String> {
        self.heard_entries().iter().map(Heard::label).collect()
    }

    /// What was heard, with timing and language.
    pub fn heard_entries(&self) -> &[Heard] {
        self.recognizer.as_ref().map_or(&[], |r| r.heard())
    }

    /// The prompts heard, whole or cut, in order (other audio left out).
    pub fn heard_prompts(&self) -> Vec<PromptId> {
        self.heard_entries()
            .iter()
            .filter_map(|heard| heard.prompt)
            .collect()
    }

    /// The prompt playing now, once enough of it arrived to name it.
    pub fn playing(&self) -> Option<PromptId> {
        self.recognizer.as_ref()?.playing()
    }

    pub fn is_answered(&self) -> bool {
        self.answered
    }

    /// The call ended by a BYE (either side's) or our CANCEL.
    pub fn is_hung_up(&self) -> bool {
        self.hung_up.is_some()
    }

    pub fn hung_up_by(&self) -> Option<HangUpBy> {
        self.hung_up
    }

    /// The INVITE's final non-2xx status (408 also when no final response came within 64·T1).
    pub fn rejected(&self) -> Option<u16> {
        self.rejected
    }

    /// Over: rejected, or hung up with the grace passed, and no request of ours still retransmitting.
    pub fn is_finished(&self) -> bool {
        let ended = self.rejected.is_some() || (self.hung_up.is_some() && self.flushed);
        let busy = [&self.invite, &self.bye, &self.cancel]
            .into_iter()
            .flatten()
            .any(|tx| tx.deadline().is_some());
        ended && !busy
    }

    /// The final status of our BYE (408 when none came).
    pub fn bye_status(&self) -> Option<u16> {
        self.bye.as_ref().and_then(|tx| tx.status)
    }

    /// Why a 2xx's SDP could not be used (the phone then ACKed and hung up).
    pub fn answer_error(&self) -> Option<&str> {
        self.answer_error.as_deref()
    }

    /// What offer/answer settled.
    pub fn negotiated(&self) -> Option<&NegotiatedMedia> {
        self.media.as_ref().map(|media| &media.negotiated)
    }

    /// Our SDP: the offer we sent, or (late offer) the answer in our ACK.
    pub fn local_sdp(&self) -> Option<&SessionDescription> {
        self.local_sdp.as_ref()
    }

    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    pub fn config(&self) -> &PhoneConfig {
        &self.config
    }

    /// Start lines of every SIP message received, in order (`SIP/2.0 200 OK`, `BYE sip:... SIP/2.0`).
    pub fn sip_received(&self) -> &[String] {
        &self.sip_received
    }

    /// Each key with the instant its first packet (or tone frame) went out.
    pub fn keys_sent(&self) -> &[(char, Instant)] {
        &self.keys_sent
    }

    /// Nothing queued or in progress on the media clock (every key pressed and sound said has gone out).
    pub fn media_idle(&self) -> bool {
        self.jobs.is_empty() && self.media.as_ref().is_none_or(|m| m.running.is_none())
    }

    pub fn rtp_sent(&self) -> u64 {
        self.rtp_sent
    }

    pub fn rtp_received(&self) -> u64 {
        self.rtp_received
    }

    /// Audio packets the jitter buffer dropped because their place had passed.
    pub fn rtp_late(&self) -> u64 {
        self.playout.late
    }

    // ---- SIP ----

    fn branch(&mut self) -> String {
        format!("z9hG4bK{}", token(&mut self.rng))
    }

    fn via(&self, branch: &str) -> String {
        format!(
            "Via: SIP/2.0/UDP {};branch={branch};rport",
            uri_host(self.config.sip)
        )
    }

    fn send_sip(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        self.transmits.push_back((self.config.sip, to, bytes));
    }

    /// PCMU 0, and telephone-event 101 when configured.
    fn offer(&mut self) -> SessionDescription {
        let session_id = u64::from(self.rng.random::<u32>());
        let rtp = self.config.rtp;
        let rtpmap = |payload_type: u8, encoding: &str| RtpMap {
            payload_type,
            encoding: encoding.into(),
            clock_rate: 8000,
            channels: None,
        };
        let mut formats = vec!["0".to_owned()];
        let mut rtpmaps = vec![rtpmap(0, "PCMU")];
        let mut fmtps = Vec::new();
        if self.config.telephone_event {
            formats.push(TELEPHONE_EVENT_PT.to_string());
            rtpmaps.push(rtpmap(TELEPHONE_EVENT_PT, "telephone-event"));
            fmtps.push((TELEPHONE_EVENT_PT, "0-16".to_owned()));
        }
        SessionDescription {
            origin: Origin {
                username: "pair-phone".into(),
                session_id,
                session_version: session_id,
                address: rtp.ip(),
            },
            session_name: "-".into(),
            connection: Some(rtp.ip()),
            timing: (0, 0),
            direction: None,
            media: vec![MediaDescription {
                kind: "audio".into(),
                port: rtp.port(),
                protocol: "RTP/AVP".into(),
                formats,
                connection: None,
                rtpmaps,
                fmtps,
                ptime: Some(20),
                direction: Some(Direction::SendRecv),
                other_attributes: Vec::new(),
            }],
            other_lines: Vec::new(),
        }
    }

    /// An in-dialog request (ACK, BYE) with a new branch; returns (branch, bytes).
    fn dialog_request(&mut self, method: &str, cseq: u32, body: Option<&str>) -> (String, Vec<u8>) {
        let branch = self.branch();
        let target = self.remote_target.as_deref().unwrap_or(&self.request_uri);
        let to = self.remote_to.as_deref().unwrap_or(&self.to);
        let headers = [
            self.via(&branch),
            "Max-Forwards: 70".to_owned(),
            format!("From: {}", self.from),
            format!("To: {to}"),
            format!("Call-ID: {}", self.call_id),
            format!("CSeq: {cseq} {method}"),
            format!("Contact: {}", self.contact),
        ];
        let bytes = message_text(&format!("{method} {target} SIP/2.0"), &headers, body);
        (branch, bytes)
    }

    fn send_bye(&mut self, now: Instant) {
        self.cseq += 1;
        let (branch, bytes) = self.dialog_request("BYE", self.cseq, None);
        self.send_sip(self.config.server, bytes.clone());
        self.bye = Some(ClientTx::new(now, self.config.t1, branch, bytes));
    }

    fn handle_sip(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.sip_received.push(start_line(bytes));
        let Ok(message) = decode_datagram(bytes) else {
            return;
        };
        let lines = header_lines(&message);
        let Some(echo) = EchoHeaders::from_headers(message.headers()) else {
            return;
        };
        match message {
            Message::Response(response) => self.handle_response(now, &response, &echo, &lines),
            Message::Request(request) => self.handle_request(now, from, &request, &echo),
        }
    }

    fn handle_response(
        &mut self,
        now: Instant,
        response: &Response,
        echo: &EchoHeaders,
        lines: &[(String, String)],
    ) {
        if echo.call_id != self.call_id {
            return;
        }
        let Some((_, method)) = parse_cseq(&echo.cseq) else {
            return;
        };
        let branch = echo.top_via.branch().unwrap_or_default();
        let tx = match method {
            Method::Invite => return self.invite_response(now, response, echo, lines),
            Method::Bye => self.bye.as_mut(),
            Method::Cancel => self.cancel.as_mut(),
            _ => None,
        };
        if let Some(tx) = tx.filter(|tx| tx.branch == branch) {
            tx.responded(response.status, false);
        }
    }

    fn invite_response(
        &mut self,
        now: Instant,
        response: &Response,
        echo: &EchoHeaders,
        lines: &[(String, String)],
    ) {
        let status = response.status;
        let Some(invite) = self
            .invite
            .as_mut()
            .filter(|tx| echo.top_via.branch() == Some(tx.branch.as_str()))
        else {
            return;
        };
        let first_final = status >= 200 && invite.status.is_none();
        invite.responded(status, true);
        if status < 200 {
            return;
        }
        if !first_final {
            // The final response again: our ACK was lost or is still on its way.
            if let Some(ack) = self.ack.clone() {
                self.send_sip(self.config.server, ack);
            }
            return;
        }
        self.remote_to = Some(echo.to.clone());
        if status >= 300 {
            // The ACK of a non-2xx final is part of the INVITE transaction: its branch and Request-URI.
            let branch = invite.branch.clone();
            self.rejected = Some(status);
            let headers = [
                self.via(&branch),
                "Max-Forwards: 70".to_owned(),
                format!("From: {}", self.from),
                format!("To: {}", echo.to),
                format!("Call-ID: {}", self.call_id),
                "CSeq: 1 ACK".to_owned(),
            ];
            let ack = message_text(&format!("ACK {} SIP/2.0", self.request_uri), &headers, None);
            self.ack = Some(ack.clone());
            self.send_sip(self.config.server, ack);
            self.flushed = true;
            return;
        }
        self.answered = true;
        self.remote_target = lines
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("Contact"))
            .and_then(|(_, value)| NameAddr::parse(value).ok())
            .map(|contact| contact.uri.raw);
        let negotiated = self.negotiate(&response.body);
        let answer = match &negotiated {
            Ok((answer, _)) => answer.clone(),
            Err(_) => None,
        };
        let (_, ack) = self.dialog_request("ACK", 1, answer.as_deref());
        self.ack = Some(ack.clone());
        self.send_sip(self.config.server, ack);
        match negotiated {
            Ok((_, negotiated)) => self.start_media(now, negotiated),
            Err(error) => {
                self.answer_error = Some(error);
                self.hang_up(now);
            }
        }
        if self.hung_up == Some(HangUpBy::Us) && self.bye.is_none() {
            // We hung up while the INVITE was pending, and the portal answered anyway.
            self.send_bye(now);
        }
    }

    /// Reads the 2xx's SDP: the answer to our offer, or (late offer) the portal's offer, answered by us.
    /// Returns our answer's text (late offer) and the media settled.
    fn negotiate(&mut self, body: &[u8]) -> Result<(Option<String>, NegotiatedMedia), String> {
        let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
        let theirs = SessionDescription::parse(text).map_err(|e| format!("{e}: {text:?}"))?;
        if let Some(offer) = self.local_sdp.as_ref().filter(|_| self.config.offer_sdp) {
            let negotiated = sdp::negotiated_from_answer(offer, &theirs)
                .map_err(|e| format!("{e}: {text:?}"))?;
            return Ok((None, negotiated));
        }
        let session_id = u64::from(self.rng.random::<u32>());
        let local = LocalMedia::new(self.config.rtp, session_id);
        let (mut answer, mut negotiated) =
            sdp::negotiate(&theirs, &local).map_err(|e| format!("{e}: {text:?}"))?;
        if !self.config.telephone_event
            && let Some(pt) = negotiated.telephone_event_pt.take()
        {
            for section in &mut answer.media {
                section.formats.retain(|format| *format != pt.to_string());
                section.rtpmaps.retain(|map| map.payload_type != pt);
                section.fmtps.retain(|(fmtp_pt, _)| *fmtp_pt != pt);
            }
        }
        let text = answer.to_string();
        self.local_sdp = Some(answer);
        Ok((Some(text), negotiated))
    }

    fn handle_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        request: &Request,
        echo: &EchoHeaders,
    ) {
        let ours = echo.call_id == self.call_id;
        let (status, body) = match &request.method {
            Method::Ack => return,
            Method::Bye if ours => {
                self.ended(now, HangUpBy::Portal);
                (200, None)
            }
            Method::Info if ours => (200, None),
            Method::Options => (200, None),
            // A re-INVITE: keep the media as it is and answer with our session.
            Method::Invite if ours && self.answered => {
                (200, self.local_sdp.as_ref().map(|sdp| sdp.to_string()))
            }
            Method::Bye | Method::Info | Method::Invite | Method::Cancel => (481, None),
            _ => (501, None),
        };
        let mut headers: Vec<String> = echo.vias.iter().map(|via| format!("Via: {via}")).collect();
        let tagged = NameAddr::parse(&echo.to)
            .ok()
            .is_some_and(|to| to.tag().is_some());
        headers.extend([
            format!("From: {}", echo.from),
            if tagged {
                format!("To: {}", echo.to)
            } else {
                format!("To: {};tag={}", echo.to, self.local_tag)
            },
            format!("Call-ID: {}", echo.call_id),
            format!("CSeq: {}", echo.cseq),
            format!("Contact: {}", self.contact),
            "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO".to_owned(),
        ]);
        let start = format!(
            "SIP/2.0 {status} {}",
            portal_sip::codec::reason_phrase(status)
        );
        let bytes = message_text(&start, &headers, body.as_deref());
        self.send_sip(from, bytes);
    }

    /// The call is over: RTP stops; what is in flight is heard until the grace ends.
    fn ended(&mut self, now: Instant, by: HangUpBy) {
        if self.hung_up.is_none() {
            self.hung_up = Some(by);
            self.flush_at = Some(now + HANG_UP_GRACE);
        }
    }

    // ---- RTP ----

    fn start_media(&mut self, now: Instant, negotiated: NegotiatedMedia) {
        let codec = g711(negotiated.codec);
        self.recognizer = Some(PromptRecognizer::new(
            Arc::clone(&self.config.catalog),
            codec,
            negotiated.payload_type,
        ));
        let mut loud = [0u8; SAMPLES_PER_FRAME];
        let tone = sine(
            SAY_FREQUENCY_HZ,
            dbm0_to_amplitude(TONE_LEVEL_DBM0),
            SAMPLES_PER_FRAME,
        );
        codec.encode(&tone, &mut loud);
        self.media = Some(Media {
            negotiated,
            codec,
            sender: RtpSender::from_seed(self.rng.random::<u64>()),
            next_tick: now,
            running: None,
            silence: [codec.silence_code(); SAMPLES_PER_FRAME],
            loud,
        });
    }

    /// One 20 ms tick of our stream: the next packet(s) of the job in progress, or a silence frame.
    fn tick(&mut self, at: Instant) {
        let Some(media) = self.media.as_mut() else {
            return;
        };
        if media.running.is_none()
            && let Some(job) = self.jobs.pop_front()
        {
            media.running = Some(match job {
                Job::Key(digit) => {
                    self.keys_sent.push((digit.as_char(), at));
                    let held = frames_in(self.config.key_duration).max(1) * FRAME_SAMPLES;
                    match media.negotiated.telephone_event_pt {
                        Some(_) => {
                            // An update every tick, so every tick of the key carries a packet.
                            let pacing = TelephoneEventPacing {
                                update_interval: FRAME_SAMPLES,
                                end_interval: FRAME_SAMPLES,
                                ..TelephoneEventPacing::default()
                            };
                            let start = media.sender.timestamp();
                            Running::Event {
                                packets: telephone_event_packets(digit, start, held, pacing),
                                next: 0,
                                tick: 0,
                            }
                        }
                        None => {
                            let samples = dtmf_tone(digit, held as usize, TONE_LEVEL_DBM0);
                            let mut frames: Vec<[u8; SAMPLES_PER_FRAME]> = samples
                                .chunks(SAMPLES_PER_FRAME)
                                .map(|chunk| {
                                    let mut frame = media.silence;
                                    media.codec.encode(chunk, &mut frame[..chunk.len()]);
                                    frame
                                })
                                .collect();
                            frames.reverse(); // popped from the end
                            Running::Tone { frames }
                        }
                    }
                }
                Job::Gap(left) => Running::Frames { loud: false, left },
                Job::Say(left) => Running::Frames { loud: true, left },
            });
        }
        let mut packets: Vec<Vec<u8>> = Vec::with_capacity(1);
        let done = match media.running.as_mut() {
            None => {
                let silence = media.silence;
                packets.push(audio_packet(media, &silence));
                false
            }
            Some(Running::Event {
                packets: events,
                next,
                tick,
            }) => {
                let pt = media
                    .negotiated
                    .telephone_event_pt
                    .unwrap_or(TELEPHONE_EVENT_PT);
                let window_end = (*tick + 1) * FRAME_SAMPLES;
                let mut event_buffer = [0u8; SEND_BUFFER_LEN];
                while let Some(event) = events.get(*next).filter(|e| e.send_at < window_end) {
                    let len = media
                        .sender
                        .build_with_timestamp(
                            pt,
                            event.marker,
                            event.timestamp,
                            &event.event.to_bytes(),
                            &mut event_buffer,
                        )
                        .expect("an event fits the send buffer");
                    packets.push(event_buffer[..len].to_vec());
                    *next += 1;
                }
                // The audio clock runs on under the event.
                media.sender.skip(FRAME_SAMPLES);
                *tick += 1;
                *next == events.len()
            }
            Some(Running::Tone { frames }) => {
                let frame = frames.pop().unwrap_or(media.silence);
                let left = frames.len();
                packets.push(audio_packet(media, &frame));
                left == 0
            }
            Some(Running::Frames { loud, left }) => {
                let frame = if *loud { media.loud } else { media.silence };
                *left = left.saturating_sub(1);
                let left = *left;
                packets.push(audio_packet(media, &frame));
                left == 0
            }
        };
        if done {
            media.running = None;
        }
        let remote = media.negotiated.remote_rtp;
        for packet in packets {
            self.rtp_sent += 1;
            self.transmits.push_back((self.config.rtp, remote, packet));
        }
    }

    fn handle_rtp(&mut self, now: Instant, bytes: &[u8]) {
        let Ok(packet) = RtpPacket::parse(bytes) else {
            return;
        };
        self.rtp_received += 1;
        let Some(recognizer) = self.recognizer.as_mut() else {
            return;
        };
        // After the grace what was heard is final.
        if self.flushed || packet.payload_type != recognizer.payload_type() {
            return;
        }
        if self.playout.delay.is_zero() {
            recognizer.push(&packet, now);
            self.idle_at = Some(now + TALKSPURT_IDLE);
            return;
        }
        let mut released = Vec::new();
        self.playout.push(now, &packet, bytes, &mut released);
        self.hear(now, released);
    }

    /// Hands packets the jitter buffer released to the recogniser, as arriving now.
    fn hear(&mut self, now: Instant, released: Vec<Vec<u8>>) {
        let Some(recognizer) = self.recognizer.as_mut() else {
            return;
        };
        for bytes in &released {
            if let Ok(packet) = RtpPacket::parse(bytes) {
                recognizer.push(&packet, now);
            }
        }
        if !released.is_empty() {
            self.idle_at = Some(now + TALKSPURT_IDLE);
        }
    }
}

/// The next audio packet of our stream, carrying `frame`.
fn audio_packet(media: &mut Media, frame: &[u8]) -> Vec<u8> {
    let mut buffer = [0u8; SEND_BUFFER_LEN];
    let len = media
        .sender
        .build_audio(media.negotiated.payload_type, frame, &mut buffer)
        .expect("a frame fits the send buffer");
    buffer[..len].to_vec()
}

/// Whole 20 ms frames in `duration`, rounded up.
fn frames_in(duration: Duration) -> u32 {
    duration.as_micros().div_ceil(FRAME.as_micros()) as u32
}
