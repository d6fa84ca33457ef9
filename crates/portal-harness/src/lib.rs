//! # portal-harness: a SIP phone in a library, for testing vportal from the outside
//!
//! The harness calls the voice portal the way a desk phone does, and only over the network: SIP to the
//! portal's signalling address, over UDP or over one TCP connection ([`SipTransport`]), and RTP (always UDP)
//! to whatever address the portal's SDP answer names. It never links the
//! server (`vportal`); it shares only the codecs (`portal-sip` for message parsing and SDP, `portal-media`
//! for G.711, RTP and DTMF) and the prompt identifiers of `portal-core`. End-to-end tests use it to hold a
//! conversation with a real `vportal serve` and assert the transcript; the `vportal-harness` binary runs the
//! same conversations from a script, for a person at a terminal or for load.
//!
//! What a [`Phone`] does:
//! - **dials** ([`Phone::dial`]): an INVITE with an SDP offer (the codecs in the order given, and
//!   telephone-event at a payload type of the caller's choosing, or none), retransmitted on the RFC 3261
//!   schedule over UDP; 1xx, then a 2xx it ACKs (a non-2xx final comes back as [`HarnessError::Rejected`]).
//!   Over TCP every message of the call, both ways, travels on the one connection, framed by Content-Length
//!   (a message split over several reads, or several in one read, come out whole); the portal's messages are
//!   kept for inspection ([`Phone::sip_received`]);
//! - **talks**: from the answer on, its own RTP stream on a 20 ms clock: silence frames (or nothing) while
//!   idle, key presses as RFC 4733 events, as SIP INFO (`application/dtmf-relay`) or as in-band tones
//!   ([`DtmfMode`], [`Phone::press`]), and speech from samples or a WAV file ([`Phone::say_samples`]);
//! - **listens**: every RTP packet from the portal goes through a [`PromptRecognizer`], which names the
//!   catalogue prompts the audio is made of by exact frame comparison (the portal plays prompts
//!   sample-exact), marks prompts cut short by a key press, and reports other audio (a recording played back)
//!   as `<audio N ms>` ([`Phone::heard`], [`Phone::expect`], [`Phone::wait_for`]); the silence frames the
//!   portal sends between prompts are nothing heard;
//! - **hangs up** ([`Phone::hang_up`], BYE and its 200) or notices the portal's BYE, answers it and reports
//!   it ([`Phone::is_hung_up`], [`Phone::wait_for_hang_up`]); other in-dialog requests (INFO, OPTIONS, a
//!   re-INVITE) get a sensible answer.
//!
//! The API is synchronous: each phone runs three threads (SIP receive, RTP receive, RTP send) and the calling
//! thread blocks in [`Phone::press`], [`Phone::expect`] and friends. A load test simply runs many phones on
//! many threads.
//!
//! ```no_run
//! use std::time::Duration;
//! use portal_core::PromptId;
//! use portal_harness::{DialOptions, Phone};
//!
//! let server = "127.0.0.1:5070".parse()?;
//! let phone = Phone::dial(DialOptions::new(server, "5551001", "5558000"))?;
//! let wait = Duration::from_secs(20);
//! phone.wait_for(&[PromptId::Welcome], wait)?;
//! phone.press("1357924#")?;
//! phone.wait_for(&[PromptId::MainMenu], wait)?;
//! phone.press("9")?;
//! phone.wait_for(&[PromptId::Goodbye], wait)?;
//! phone.wait_for_hang_up(wait)?;
//! for line in phone.transcript() {
//!     println!("{line}");
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Modules: [`recognizer`] (prompt recognition), [`script`] (the CLI's call scripts), [`scenario`] (scenario
//! files: header, one step per line, line numbers in failures), [`load`] (many callers, with a report). The SIP user agent and
//! the media clock are private.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

pub use portal_core::PromptId;
pub use portal_media::g711::Codec;

pub mod load;
mod media;
mod phone;
pub mod recognizer;
mod recv_batch;
mod rtp_in;
pub mod scenario;
pub mod script;
mod sip;

pub use phone::{Expect, HangUpBy, Negotiated, Phone, ReceivedKind, ReceivedSip};
pub use recognizer::{Heard, PromptCatalog, PromptRecognizer};

/// How the phone sends key presses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DtmfMode {
    /// RFC 4733 telephone-event packets in the RTP stream (needs telephone-event in the answer).
    #[default]
    Rfc4733,
    /// SIP INFO requests with an `application/dtmf-relay` body (`Signal=5`, `Duration=100`).
    SipInfo,
    /// The DTMF tone pair in the audio itself. The portal only listens for these when telephone-event was not
    /// negotiated, so offer none (`telephone_event_pt: None`).
    Inband,
}

/// What the phone sends while it has nothing to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdleAudio {
    /// A silence frame every 20 ms, like a phone without voice activity detection.
    #[default]
    Silence,
    /// Nothing (the RTP clock keeps running; the next packet carries the marker bit).
    Nothing,
}

/// How the phone's SIP messages travel to the portal (RTP is always UDP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SipTransport {
    /// One UDP socket; requests are retransmitted on the RFC 3261 schedule until answered.
    #[default]
    Udp,
    /// One TCP connection to the portal's SIP address, opened at the dial and used both ways: our requests
    /// and responses, and the portal's (its BYE, a re-INVITE). Messages are framed by Content-Length (RFC
    /// 3261 §18.3) and never retransmitted.
    Tcp,
}

impl SipTransport {
    /// The name in a Via header: `UDP` or `TCP`.
    pub fn via_name(self) -> &'static str {
        match self {
            SipTransport::Udp => "UDP",
            SipTransport::Tcp => "TCP",
        }
    }

    /// Reads `udp` or `tcp` (any case).
    pub fn parse(text: &str) -> Option<SipTransport> {
        match text.to_ascii_lowercase().as_str() {
            "udp" => Some(SipTransport::Udp),
            "tcp" => Some(SipTransport::Tcp),
            _ => None,
        }
    }
}

impl std::fmt::Display for SipTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.via_name())
    }
}

/// How to place a call.
#[derive(Debug, Clone)]
pub struct DialOptions {
    /// The portal's SIP address (the same port for UDP and TCP).
    pub server: SocketAddr,
    /// How SIP travels: UDP (the default) or TCP.
    pub transport: SipTransport,
    /// The caller's number: the user part of From (the portal recognises its users by it).
    pub from: String,
    /// The number dialed: the user part of the Request-URI and To (the portal's number or extension).
    pub to: String,
    /// The codecs offered, in order of preference.
    pub codecs: Vec<Codec>,
    /// The payload type offered for telephone-event; `None` offers none (for in-band key presses).
    pub telephone_event_pt: Option<u8>,
    /// How keys are sent.
    pub dtmf_mode: DtmfMode,
    /// How long each key is held.
    pub digit_ms: u32,
    /// The pause after each key.
    pub gap_ms: u32,
    /// The prompts directory (`<lang>/<id>.wav`), the same recordings the portal plays.
    pub prompts_dir: PathBuf,
    /// What to send between key presses and speech.
    pub idle: IdleAudio,
    /// RFC 3261 T1 for our retransmissions.
    pub t1: Duration,
    /// How long to wait for a final response once the portal answered provisionally.
    pub answer_timeout: Duration,
    /// The local address to bind (default: the address the system routes to the server from). Over TCP the
    /// system picks the connection's own address; this then only places RTP.
    pub local_ip: Option<IpAddr>,
    /// Print every SIP message sent and received to standard error.
    pub trace_sip: bool,
    /// More header lines for the INVITE, each `Name: value` as sent (say a PBX's `Diversion` or
    /// `History-Info` and `Priority`, when the phone plays a PBX forwarding a call). Empty by default.
    pub extra_headers: Vec<String>,
}

impl DialOptions {
    /// A call from `from` to `to` at `server` with the defaults: SIP over UDP, PCMU then PCMA, telephone-event
    /// at 101, RFC 4733 keys held 100 ms with 100 ms between them, the repository's `prompts/`, silence while
    /// idle.
    pub fn new(server: SocketAddr, from: impl Into<String>, to: impl Into<String>) -> DialOptions {
        DialOptions {
            server,
            transport: SipTransport::Udp,
            from: from.into(),
            to: to.into(),
            codecs: vec![Codec::Pcmu, Codec::Pcma],
            telephone_event_pt: Some(101),
            dtmf_mode: DtmfMode::Rfc4733,
            digit_ms: 100,
            gap_ms: 100,
            prompts_dir: default_prompts_dir(),
            idle: IdleAudio::Silence,
            t1: Duration::from_millis(500),
            answer_timeout: Duration::from_secs(30),
            local_ip: None,
            trace_sip: false,
            extra_headers: Vec::new(),
        }
    }
}

/// The repository's `prompts/` directory (as seen from this crate's source).
pub fn default_prompts_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../prompts"))
}

/// What went wrong with a call.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A socket operation failed.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// The prompt recordings could not be loaded.
    #[error("prompts: {0}")]
    Prompts(#[from] portal_media::prompts::PromptError),
    /// The portal refused the call (or a request in it) with a final non-2xx response.
    #[error("{request}: the portal answered {status} {reason}")]
    Rejected {
        /// The request's start line.
        request: String,
        /// The status code.
        status: u16,
        /// The reason phrase.
        reason: String,
    },
    /// No final response came.
    #[error("{request}: no final response after {after:?}")]
    NoResponse {
        /// The request's start line.
        request: String,
        /// How long we waited.
        after: Duration,
    },
    /// The portal's 2xx did not carry a usable SDP answer.
    #[error("the answer is unusable: {0}")]
    BadAnswer(String),
    /// Something other than what was expected was heard.
    #[error("expected {expected}, but heard {heard}")]
    Unexpected {
        /// What the caller waited for.
        expected: String,
        /// What was heard instead (since the last thing expected).
        heard: String,
    },
    /// What was expected did not come in time.
    #[error("waited {after:?} for {expected}; heard {heard}")]
    Timeout {
        /// What the caller waited for.
        expected: String,
        /// What was heard meanwhile (since the last thing expected), and what is playing.
        heard: String,
        /// How long we waited.
        after: Duration,
    },
    /// The call ended first.
    #[error("the call ended ({by}) while waiting for {expected}; heard {heard}")]
    HungUp {
        /// What the caller waited for.
        expected: String,
        /// What was heard meanwhile.
        heard: String,
        /// Who ended it.
        by: HangUpBy,
    },
    /// A key that is not on the keypad.
    #[error("{0:?} is not a key (0-9, * and # are)")]
    BadKey(char),
    /// The call has ended: nothing more can be sent.
    #[error("the call has ended")]
    CallEnded,
}

/// What [`Phone::dial`] fails with: a [`HarnessError`] ([`HarnessError::Rejected`] carries the status).
pub type DialError = HarnessError;
