//! # portal-media: the media side of vportal, sans-IO
//!
//! Everything a portal call does with audio, as plain values you feed and drain: G.711 (μ-law and A-law),
//! RTP packets, prompt playout, key presses (RFC 4733 telephone events, in-band DTMF, SIP INFO merging),
//! recording the caller, and the [`MediaPlane`] that puts them together for every call of a server. It contains
//! no conversation logic: that is `portal-core`'s job.
//!
//! The crate does no I/O. It opens no sockets, starts no tasks and never reads a clock: packets come in and go
//! out as byte slices, and time comes in as RTP timestamps or as `std::time::Instant`s the driver passes. The
//! one exception is [`PromptLibrary::load`], which reads the WAV files once at start.
//!
//! [`MediaPlane`] is what a server drives (the `vportal` binary's media thread does, over mio sockets; the pair
//! tests do, on a simulated clock): see [`plane`] for its kinds of method and drain rule. Inside, for each call
//! and each 20 ms frame, it does what this example does by hand:
//!
//! 1. asks the call's [`Playout`] for the next payload and writes it with the call's [`RtpSender`] into a
//!    reused buffer (no allocation per packet), or lets the media clock run with [`RtpSender::skip`];
//! 2. for each datagram received, parses it with [`RtpPacket::parse`] and routes it by payload type: telephone
//!    events to a [`TelephoneEventReceiver`], audio to the [`Recorder`] while recording and, when no
//!    telephone-event was negotiated, to an [`InbandDetector`];
//! 3. reports each digit; the call's session (portal-session) passes it through a [`KeyPressDeduper`] (SIP
//!    INFO may report the same press) before handing it to the conversation, and a digit usually stops
//!    playback ([`Playout::stop`], barge-in).
//!
//! Prompts are decoded and encoded once per codec when the library loads and shared by all calls through
//! `Arc`; a playout only hands out slices of them.
//!
//! ```
//! use std::sync::Arc;
//! use portal_core::{Digit, PromptId};
//! use portal_media::{
//!     Codec, DtmfUpdate, PlayItem, Playout, PromptLibrary, RtpPacket, RtpSender, SEND_BUFFER_LEN,
//!     TelephoneEventReceiver, Tick,
//! };
//!
//! // A prompt folder with every English prompt (100 ms of silence each, just for the example).
//! let root = tempfile::tempdir()?;
//! let spec = hound::WavSpec {
//!     channels: 1,
//!     sample_rate: 8000,
//!     bits_per_sample: 16,
//!     sample_format: hound::SampleFormat::Int,
//! };
//! std::fs::create_dir(root.path().join("en"))?;
//! for id in PromptId::ALL.iter().filter(|&&id| id != PromptId::Tone) {
//!     let mut wav = hound::WavWriter::create(root.path().join(format!("en/{}.wav", id.id())), spec)?;
//!     for _ in 0..800 {
//!         wav.write_sample(0i16)?;
//!     }
//!     wav.finalize()?;
//! }
//! let library = Arc::new(PromptLibrary::load(root.path(), &["en"])?);
//!
//! // Play the welcome prompt: one packet per 20 ms tick, into a buffer reused for every packet.
//! let mut playout = Playout::new(Codec::Pcmu);
//! playout.play([PlayItem::Prompt(library.get("en", PromptId::Welcome))]);
//! let mut sender = RtpSender::from_seed(7);
//! let mut buffer = [0u8; SEND_BUFFER_LEN];
//! let mut sent = 0;
//! loop {
//!     match playout.tick() {
//!         Tick::Frame(payload) => {
//!             let len = sender.build_audio(Codec::Pcmu.payload_type(), payload, &mut buffer)?;
//!             let _datagram = &buffer[..len]; // the driver sends this
//!             sent += 1;
//!         }
//!         Tick::Finished => break, // tell the conversation the prompt is done
//!         Tick::Idle => sender.skip(160),
//!     }
//! }
//! assert_eq!(sent, 5);
//!
//! // The caller presses `#`: the first RFC 4733 packet of the event is enough.
//! let datagram = [0x80, 0xE5, 0, 1, 0, 0, 0x03, 0xE8, 0, 0, 0, 9, 11, 0x0A, 0, 0];
//! let packet = RtpPacket::parse(&datagram)?;
//! assert_eq!(packet.payload_type, 101);
//! let mut events = TelephoneEventReceiver::new();
//! assert_eq!(events.receive(&packet), Some(DtmfUpdate::Pressed(Digit::Pound)));
//! assert_eq!(events.receive(&packet), None); // repeats of the same event say nothing new
//! playout.stop();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Modules: [`plane`] every call's RTP on one value, [`g711`] codecs, [`rtp`] packets and sender state, [`prompts`] library and playout, [`dtmf`] key
//! presses, [`recording`] the caller's audio, [`signal`] levels and tones,
//! [`thread_priority`] for the threads that pace media.

pub mod dtmf;
pub mod g711;
pub mod plane;
pub mod prompts;
pub mod recording;
pub mod rtp;
pub mod signal;
pub mod thread_priority;

pub use dtmf::{
    DtmfUpdate, InbandConfig, InbandDetector, InbandDigit, KeyPressDeduper, KeySource,
    TelephoneEvent, TelephoneEventPacing, TelephoneEventPacket, TelephoneEventReceiver, dtmf_tone,
    telephone_event_packets,
};
pub use g711::Codec;
pub use plane::{
    MediaCallId, MediaEvent, MediaPlane, NeedSocket, Ownership, PortRotation, SocketId,
    StreamSetup, Transmit,
};
pub use prompts::{PlayItem, Playout, PromptAudio, PromptError, PromptLibrary, Tick};
pub use recording::{Recorder, RecorderConfig, Recording, RecordingEnd, ReorderBuffer};
pub use rtp::{RtpError, RtpPacket, RtpSender, SAMPLES_PER_FRAME, SEND_BUFFER_LEN};
