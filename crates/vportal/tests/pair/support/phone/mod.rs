//! [`TestPhone`]: a desk phone as a value, for pair tests on a simulated clock.
//!
//! It does what the socket-based `portal_harness::Phone` does, sans-IO: dials (INVITE over UDP, early or late
//! offer), ACKs, sends RTP every 20 ms (silence, RFC 4733 keys or in-band tones, loud audio), hears the
//! portal's prompts through `portal_harness::PromptRecognizer`, and hangs up or answers the portal's BYE.
//! Messages are parsed with `portal_sip` and media built with `portal_media`; only the UAC glue is here.
//! This file holds the phone's surface; [`sip`] is the UAC (transactions, messages, offer/answer) and
//! [`media`] the 20 ms RTP clock, the jitter buffer and the recogniser.
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

mod media;
mod sip;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portal_core::{Digit, PromptId};
use portal_harness::recognizer::{Heard, PromptCatalog, PromptRecognizer};
use portal_sip::sdp::{NegotiatedMedia, SessionDescription};
use rand::SeedableRng;
use rand::rngs::StdRng;

use media::{Job, Media, Playout, frames_in};
use sip::{ClientTx, token, uri_host};

/// After the call ends, RTP still in flight is heard this long before what is left is attributed.
pub const HANG_UP_GRACE: Duration = Duration::from_millis(500);
/// The payload type offered for telephone-event.
pub const TELEPHONE_EVENT_PT: u8 = 101;

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
    /// Header lines added to the INVITE (a PBX's Diversion, say).
    pub invite_headers: Vec<String>,
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
            invite_headers: Vec::new(),
        }
    }
}

/// Who ended the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangUpBy {
    Portal,
    Us,
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
            playout: Playout::new(config.jitter_buffer),
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
        let bytes = self.invite_message(&branch, body.as_deref());
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
        } else if self.invite.as_ref().is_some_and(|tx| tx.status.is_none()) {
            self.send_cancel(now);
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
        self.sip_timeouts(now);
        self.media_timeouts(now);
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

    /// The call is over: RTP stops; what is in flight is heard until the grace ends.
    fn ended(&mut self, now: Instant, by: HangUpBy) {
        if self.hung_up.is_none() {
            self.hung_up = Some(by);
            self.flush_at = Some(now + HANG_UP_GRACE);
        }
    }
}
