//! The media plane: every call's RTP paced from one 20-slot wheel, and what callers send routed to their call,
//! as one sans-IO value.
//!
//! Why one wheel: a call's audio is a 160-byte frame every 20 ms and the work per frame is tiny (prompts are
//! encoded once at start). Per-call timers would cost more than the frames; here the driver wakes once a
//! millisecond ([`MediaPlane::poll_timeout`]), the plane serves one slot of the wheel (each call sits in one
//! slot, so it is served exactly every 20 ms) and the driver sends what it produced. A server with several
//! cores runs one plane per media thread, each with its own wheel and sockets; a call lives on one plane.
//!
//! Phones are expected to send RTP from the address they announce in SDP (symmetric RTP, RFC 4961). A phone
//! on a host with several addresses may announce one and send from another (same port, other IP): a call that
//! has received nothing yet follows the first packet from its announced port at another IP, when no other call
//! on the socket could claim that packet; audio then goes back to where the packet came from. Other packets
//! from unknown addresses are dropped ([`Ownership::Unknown`]), so a stranger cannot feed keys into a call.
//!
//! # Kinds of method
//!
//! - getters: [`local_addr`](MediaPlane::local_addr), [`owner`](MediaPlane::owner),
//!   [`call_count`](MediaPlane::call_count) (the calls the plane holds),
//!   [`pacing_lateness`](MediaPlane::pacing_lateness) (frames by how late they went out);
//! - calls and sockets: [`add_socket`](MediaPlane::add_socket), [`open`](MediaPlane::open),
//!   [`close`](MediaPlane::close), and per call [`stream`](MediaPlane::stream), [`play`](MediaPlane::play),
//!   [`stop_playback`](MediaPlane::stop_playback), [`record`](MediaPlane::record),
//!   [`stop_recording`](MediaPlane::stop_recording);
//! - `handle_*`: [`handle_datagram`](MediaPlane::handle_datagram) for each datagram a socket received;
//! - timers: [`poll_timeout`](MediaPlane::poll_timeout) says when to call
//!   [`handle_timeout`](MediaPlane::handle_timeout), which sends the frames due;
//! - `poll_*`: [`poll_transmit`](MediaPlane::poll_transmit) (datagrams to send) and
//!   [`poll_event`](MediaPlane::poll_event) (keys, ends of playlists, recordings).
//!
//! Drain rule: after any call of the first three kinds, drain `poll_transmit` and `poll_event` until both
//! return `None`, then sleep until `poll_timeout` or the next datagram. The plane never reads a clock: every
//! method that needs the time takes `now`.
//!
//! Inside: `sockets` (which shared socket a call uses, which call a packet is from), `pacing` (each slot of
//! the wheel), `receive` (RTP and RTCP from callers), `rtcp` (sender reports and what callers report back).

mod pacing;
mod receive;
mod rtcp;
mod sockets;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Duration, Instant};

use portal_core::{Digit, PlayId};

use crate::dtmf::{InbandDetector, KeySource, TelephoneEventReceiver};
use crate::g711::Codec;
use crate::prompts::{PlayItem, Playout};
use crate::recording::{Recorder, RecorderConfig, Recording};
use crate::rtp::{RtpPacket, RtpSender, SAMPLES_PER_FRAME};

pub use pacing::LatenessCounts;
pub use rtcp::{REPORT_INTERVAL, ReceptionStats, WallClock};
use sockets::SocketTable;
pub use sockets::{CALLS_PER_SOCKET, PortRotation, Released, SocketId};

/// Slots of the pacing wheel: one per millisecond of a 20 ms frame.
const SLOTS: usize = 20;
const SLOT: Duration = Duration::from_millis(1);
/// If the driver was held up longer than this many slots, the plane sends what is due once and starts afresh
/// rather than bursting every missed frame.
const MAX_CATCH_UP: u32 = 100;

/// Identifies one call on the plane (an index and a generation, so a stale id never reaches a new call).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MediaCallId {
    index: u32,
    generation: u32,
}

/// What the plane needs to stream one call's audio, from the SDP negotiation.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamSetup {
    /// Where the caller receives RTP (and sends it from).
    pub remote: SocketAddr,
    /// The audio codec.
    pub codec: Codec,
    /// Its payload type.
    pub payload_type: u8,
    /// RFC 4733 telephone-event's payload type, if negotiated (else keys are heard in-band).
    pub telephone_event_pt: Option<u8>,
    /// Whether the caller listens (false while it holds the call).
    pub send: bool,
    /// RTCP shares the RTP port (RFC 5761, `a=rtcp-mux` offered and answered); else it uses the next port up.
    pub rtcp_mux: bool,
}

/// What the plane reports about a call.
#[derive(Debug, PartialEq)]
pub enum MediaEvent {
    /// A key, from an RFC 4733 event or an in-band tone.
    Key {
        /// The call.
        call: MediaCallId,
        /// The key.
        digit: Digit,
        /// How it was signalled.
        source: KeySource,
    },
    /// The playlist played to its end.
    PlaylistDone {
        /// The call.
        call: MediaCallId,
        /// The playlist.
        play: PlayId,
    },
    /// The recording ended (stopped, silence, or maximum length).
    RecordingDone {
        /// The call.
        call: MediaCallId,
        /// What the caller said.
        recording: Recording,
    },
}

/// A datagram to send.
#[derive(Debug, PartialEq, Eq)]
pub struct Transmit<'a> {
    /// The socket to send it from.
    pub socket: SocketId,
    /// Where to.
    pub destination: SocketAddr,
    /// The RTP packet.
    pub payload: &'a [u8],
}

/// Which call a received datagram belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// The call announced this address.
    Owned(MediaCallId),
    /// A call that had heard nothing yet announced this port at another IP: it now follows this address.
    Followed(MediaCallId),
    /// No call on this socket claims the address: dropped.
    Unknown,
}

/// [`MediaPlane::open`] found no socket with room for the call: bind one, [`MediaPlane::add_socket`] it, and
/// open again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("every RTP socket is full or already serves this remote address: a new socket is needed")]
pub struct NeedSocket;

/// A call's stream state.
struct Stream {
    /// Where SDP said to send (`setup.remote` may have followed the caller elsewhere since).
    announced: SocketAddr,
    setup: StreamSetup,
    playout: Playout,
    telephone_events: TelephoneEventReceiver,
    inband: Option<InbandDetector>,
}

struct CallMedia {
    generation: u32,
    socket: SocketId,
    slot: usize,
    sender: RtpSender,
    stream: Option<Stream>,
    playing: Option<PlayId>,
    /// The last frame sent was part of a playlist (so silence after it starts a new talkspurt).
    was_playing: bool,
    recorder: Option<Recorder>,
    /// A recording asked for before the stream was set up (late offer), started with it.
    pending_recording: Option<RecorderConfig>,
    /// Whether a packet from the caller arrived (its address is then settled).
    heard_from: bool,
    /// The address under which the socket table files this call: reserved from the offer when the call
    /// opens (so calls set up at the same moment from one address land on different sockets), then the
    /// stream's.
    remote_key: Option<SocketAddr>,
    /// RTP sent, for the sender reports.
    sent: rtcp::Sent,
    /// When the next sender report is due (from the stream's start).
    report_due: Option<Instant>,
    /// What the caller's last receiver report said about our stream.
    reception: Option<ReceptionStats>,
}

impl CallMedia {
    fn rtcp_mux(&self) -> bool {
        self.stream
            .as_ref()
            .is_some_and(|stream| stream.setup.rtcp_mux)
    }
}

/// A queued datagram: its socket, destination and bytes in the plane's send buffer.
struct Queued {
    socket: SocketId,
    destination: SocketAddr,
    bytes: Range<usize>,
}

/// RTCP the plane received and what became of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RtcpCounts {
    /// Compound packets read from callers.
    pub received: u64,
    /// Datagrams on an RTCP path that were no readable RTCP, or came from no call's address: dropped.
    pub dropped: u64,
    /// Sender reports sent.
    pub reports_sent: u64,
}

/// Every call's RTP on one value; see the module documentation for its kinds of method and drain rule.
pub struct MediaPlane {
    sockets: SocketTable,
    calls: Vec<Option<CallMedia>>,
    generations: Vec<u32>,
    free_calls: Vec<usize>,
    /// Call indices per slot of the wheel.
    wheel: [Vec<usize>; SLOTS],
    open_calls: usize,
    /// The next slot to serve and when it is due (`None` while no call is open).
    slot: usize,
    slot_due: Option<Instant>,
    /// Seeds each call's RTP starting values (RFC 3550 asks for random ones; the driver passes a random seed).
    seed: u64,
    /// Packets built by `handle_timeout`, sent from `poll_transmit` (reused: no allocation per packet).
    send_buffer: Vec<u8>,
    queued: Vec<Queued>,
    next_queued: usize,
    events: VecDeque<MediaEvent>,
    decoded: Vec<i16>,
    silence_pcmu: [u8; SAMPLES_PER_FRAME],
    silence_pcma: [u8; SAMPLES_PER_FRAME],
    held_up: u64,
    lateness: LatenessCounts,
    clock: WallClock,
    rtcp: RtcpCounts,
}

impl MediaPlane {
    /// An empty plane; `seed` seeds the RTP starting values of its calls (random in a server, fixed in tests);
    /// `clock` ties the driver's instants to the time of day, for the sender reports' NTP timestamps.
    pub fn new(seed: u64, clock: WallClock) -> MediaPlane {
        MediaPlane {
            sockets: SocketTable::default(),
            calls: Vec::new(),
            generations: Vec::new(),
            free_calls: Vec::new(),
            wheel: Default::default(),
            open_calls: 0,
            slot: 0,
            slot_due: None,
            seed,
            send_buffer: Vec::new(),
            queued: Vec::new(),
            next_queued: 0,
            events: VecDeque::new(),
            decoded: Vec::with_capacity(SAMPLES_PER_FRAME),
            silence_pcmu: [Codec::Pcmu.silence_code(); SAMPLES_PER_FRAME],
            silence_pcma: [Codec::Pcma.silence_code(); SAMPLES_PER_FRAME],
            held_up: 0,
            lateness: LatenessCounts::default(),
            clock,
            rtcp: RtcpCounts::default(),
        }
    }

    // ---- getters ----

    /// The local address of call `id`'s socket (for its SDP).
    pub fn local_addr(&self, id: MediaCallId) -> Option<SocketAddr> {
        self.sockets.local(self.call(id)?.socket)
    }

    /// The call a datagram from `from` on `socket` belongs to, without following anyone.
    pub fn owner(&self, socket: SocketId, from: SocketAddr) -> Option<MediaCallId> {
        self.sockets.owner(socket, from)
    }

    /// Calls open on the plane.
    pub fn call_count(&self) -> usize {
        self.open_calls
    }

    /// How often the driver was so late that frames were skipped (see [`MediaPlane::handle_timeout`]).
    pub fn times_held_up(&self) -> u64 {
        self.held_up
    }

    /// Audio frames sent so far, by how late after their slot's due time (the `now` given to
    /// [`MediaPlane::handle_timeout`] against the slot's due time): how well the driver keeps time.
    pub fn pacing_lateness(&self) -> &LatenessCounts {
        &self.lateness
    }

    /// What call `id`'s caller last reported about the portal's audio (RTCP), if anything.
    pub fn reception(&self, id: MediaCallId) -> Option<ReceptionStats> {
        self.call(id)?.reception
    }

    /// RTCP received, dropped and sent so far.
    pub fn rtcp_counts(&self) -> RtcpCounts {
        self.rtcp
    }

    // ---- calls and sockets ----

    /// Adds an RTP socket the driver bound at `local`.
    pub fn add_socket(&mut self, local: SocketAddr) -> SocketId {
        self.sockets.add(local)
    }

    /// Adds the RTCP socket (at `local`, the RTP port plus one) of RTP socket `rtp`.
    pub fn add_rtcp_socket(&mut self, rtp: SocketId, local: SocketAddr) -> SocketId {
        self.sockets.add_rtcp(rtp, local)
    }

    /// Opens a call's media at `now`. `remote_hint` (from the offer) places the call on a socket where that
    /// address is not used yet. The call is silent until [`MediaPlane::stream`].
    pub fn open(
        &mut self,
        now: Instant,
        remote_hint: Option<SocketAddr>,
    ) -> Result<MediaCallId, NeedSocket> {
        let socket = self.sockets.place(remote_hint).ok_or(NeedSocket)?;
        let index = match self.free_calls.pop() {
            Some(index) => index,
            None => {
                self.calls.push(None);
                self.generations.push(0);
                self.calls.len() - 1
            }
        };
        self.generations[index] = self.generations[index].wrapping_add(1);
        let generation = self.generations[index];
        let slot = (0..SLOTS)
            .min_by_key(|&slot| self.wheel[slot].len())
            .unwrap_or(0);
        self.wheel[slot].push(index);
        let seed = self
            .seed
            .wrapping_add((index as u64) << 32 | u64::from(generation));
        self.calls[index] = Some(CallMedia {
            generation,
            socket,
            slot,
            sender: RtpSender::from_seed(seed),
            stream: None,
            playing: None,
            was_playing: false,
            recorder: None,
            pending_recording: None,
            heard_from: false,
            remote_key: None,
            sent: rtcp::Sent::default(),
            report_due: None,
            reception: None,
        });
        self.sockets.join(socket);
        self.open_calls += 1;
        if self.slot_due.is_none() {
            self.slot_due = Some(now);
        }
        let id = MediaCallId {
            index: index as u32,
            generation,
        };
        if let Some(remote) = remote_hint {
            self.set_remote_key(id, remote);
        }
        Ok(id)
    }

    /// Ends call `id`'s media. Returns its sockets when no call uses them any more: the driver closes them.
    pub fn close(&mut self, id: MediaCallId) -> Option<Released> {
        let index = id.index as usize;
        let call = self
            .calls
            .get_mut(index)?
            .take_if(|call| call.generation == id.generation)?;
        self.wheel[call.slot].retain(|&other| other != index);
        self.free_calls.push(index);
        self.open_calls -= 1;
        if self.open_calls == 0 {
            self.slot_due = None;
        }
        let released = self.sockets.leave(call.socket, id, call.remote_key)?;
        // Frames still queued for a released socket are dropped: its id may name a new socket soon.
        let pending = self.queued.split_off(self.next_queued);
        self.queued.extend(pending.into_iter().filter(|queued| {
            queued.socket != released.rtp && Some(queued.socket) != released.rtcp
        }));
        Some(released)
    }

    /// Starts (or changes, after a re-INVITE) call `id`'s stream: from now on a frame goes out every 20 ms,
    /// the playlist's or silence.
    pub fn stream(&mut self, now: Instant, id: MediaCallId, mut setup: StreamSetup) {
        let Some(call) = self.call_mut(id) else {
            return;
        };
        let announced = setup.remote;
        match &call.stream {
            // A re-INVITE announcing the same address again: keep the address the caller really sends from.
            Some(stream) if stream.announced == announced => setup.remote = stream.setup.remote,
            _ => call.heard_from = false,
        }
        let mut ended = None;
        match call.stream.as_mut() {
            Some(stream) if stream.setup.codec == setup.codec => {
                if stream.setup.telephone_event_pt != setup.telephone_event_pt {
                    stream.inband = setup.telephone_event_pt.is_none().then(InbandDetector::new);
                }
                stream.setup = setup.clone();
                stream.announced = announced;
            }
            _ => {
                // A new stream, or a new codec: what played in the old codec is over.
                if call.stream.is_some() {
                    ended = call.playing.take();
                }
                call.report_due.get_or_insert(now + REPORT_INTERVAL);
                call.stream = Some(Stream {
                    announced,
                    playout: Playout::new(setup.codec),
                    telephone_events: TelephoneEventReceiver::new(),
                    inband: setup.telephone_event_pt.is_none().then(InbandDetector::new),
                    setup: setup.clone(),
                });
                if let Some(config) = call.pending_recording.take() {
                    call.recorder = Some(Recorder::new(setup.codec, config, now));
                }
            }
        }
        if let Some(play) = ended {
            self.events
                .push_back(MediaEvent::PlaylistDone { call: id, play });
        }
        self.set_remote_key(id, setup.remote);
    }

    /// Replaces whatever plays on call `id` with `items`; [`MediaEvent::PlaylistDone`] with `play` follows
    /// their end (at once when the call has no stream yet: nothing can be heard).
    pub fn play(&mut self, id: MediaCallId, play: PlayId, items: Vec<PlayItem>) {
        let Some(call) = self.call_mut(id) else {
            return;
        };
        match call.stream.as_mut() {
            Some(stream) => {
                stream.playout.play(items);
                call.playing = Some(play);
                call.sender.start_talkspurt();
            }
            None => self
                .events
                .push_back(MediaEvent::PlaylistDone { call: id, play }),
        }
    }

    /// Stops playback on call `id` at once (barge-in); no `PlaylistDone` follows.
    pub fn stop_playback(&mut self, id: MediaCallId) {
        if let Some(call) = self.call_mut(id) {
            if let Some(stream) = call.stream.as_mut() {
                stream.playout.stop();
            }
            call.playing = None;
        }
    }

    /// Moves call `id`'s playback within the item playing now by `by` frames' worth of time, back or forward
    /// (a caller's "back 5 s" and "forward 5 s" in a voice message); whole 20 ms frames.
    pub fn skip_playback(&mut self, id: MediaCallId, back: bool, by: Duration) {
        let frames = (by.as_millis() / 20) as i64;
        if let Some(stream) = self.call_mut(id).and_then(|call| call.stream.as_mut()) {
            stream.playout.skip(if back { -frames } else { frames });
        }
    }

    /// Starts recording call `id`'s caller at `now` (with the stream, if it is not set up yet).
    pub fn record(&mut self, now: Instant, id: MediaCallId, config: RecorderConfig) {
        if let Some(call) = self.call_mut(id) {
            match &call.stream {
                Some(stream) => {
                    call.recorder = Some(Recorder::new(stream.setup.codec, config, now));
                }
                None => call.pending_recording = Some(config),
            }
        }
    }

    /// Ends call `id`'s recording; [`MediaEvent::RecordingDone`] follows.
    pub fn stop_recording(&mut self, id: MediaCallId) {
        if let Some(call) = self.call_mut(id)
            && let Some(mut recorder) = call.recorder.take()
        {
            recorder.stop();
            self.events.push_back(MediaEvent::RecordingDone {
                call: id,
                recording: recorder.finish(),
            });
        }
    }

    // ---- input ----

    /// A datagram arrived on `socket` from `from` at `now`: RTP, or RTCP (on an RTCP socket, or multiplexed on
    /// the RTP one). Returns which call it belonged to; packets no call claims are dropped.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        socket: SocketId,
        from: SocketAddr,
        datagram: &[u8],
    ) -> Ownership {
        if let Some(rtp_socket) = self.sockets.rtp_of(socket) {
            // RTCP comes from the port above the caller's RTP port (RFC 3550 §11).
            let rtp_from = SocketAddr::new(from.ip(), from.port().wrapping_sub(1));
            let owner = self.sockets.owner(rtp_socket, rtp_from);
            return self.receive_rtcp(owner, datagram);
        }
        if rtcp::is_rtcp(datagram) {
            let owner = self
                .sockets
                .owner(socket, from)
                .filter(|id| self.call(*id).is_some_and(|call| call.rtcp_mux()));
            return self.receive_rtcp(owner, datagram);
        }
        let ownership = match self.sockets.owner(socket, from) {
            Some(id) => Ownership::Owned(id),
            None => match self.follow(socket, from) {
                Some(id) => Ownership::Followed(id),
                None => return Ownership::Unknown,
            },
        };
        let (Ownership::Owned(id) | Ownership::Followed(id)) = ownership else {
            return ownership;
        };
        let Ok(packet) = RtpPacket::parse(datagram) else {
            return ownership;
        };
        let mut decoded = std::mem::take(&mut self.decoded);
        if let Some(call) = self.calls[id.index as usize]
            .as_mut()
            .filter(|call| call.generation == id.generation)
        {
            receive::receive_into(id, call, &packet, &mut decoded, now, &mut self.events);
        }
        self.decoded = decoded;
        ownership
    }

    // ---- timers ----

    /// When [`MediaPlane::handle_timeout`] is next due: the next slot of the wheel that holds a call (empty
    /// slots need no wake-up), `None` while no call is open.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let due = self.slot_due?;
        let ahead = (0..SLOTS)
            .find(|ahead| !self.wheel[(self.slot + ahead) % SLOTS].is_empty())
            .unwrap_or(0);
        Some(due + SLOT * ahead as u32)
    }

    /// Serves every slot due by `now`: each call in it gets its next frame (queued for
    /// [`MediaPlane::poll_transmit`]), and recordings whose time is up end.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut served = 0;
        while let Some(due) = self.slot_due.filter(|due| *due <= now) {
            let frames = self.pace_slot(self.slot, now);
            self.lateness
                .add(now.saturating_duration_since(due), frames);
            self.slot = (self.slot + 1) % SLOTS;
            served += 1;
            self.slot_due = Some(if served > MAX_CATCH_UP {
                self.held_up += 1;
                tracing::warn!("media pacing was held up; frames were skipped");
                now + SLOT
            } else {
                due + SLOT
            });
            if self.open_calls == 0 {
                self.slot_due = None;
            }
        }
    }

    // ---- output ----

    /// The next datagram to send, or `None` when everything queued was handed out.
    pub fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        let Some(queued) = self.queued.get(self.next_queued) else {
            self.queued.clear();
            self.send_buffer.clear();
            self.next_queued = 0;
            return None;
        };
        self.next_queued += 1;
        Some(Transmit {
            socket: queued.socket,
            destination: queued.destination,
            payload: &self.send_buffer[queued.bytes.clone()],
        })
    }

    /// The next thing to tell a call, or `None`.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    // ---- inside ----

    fn call(&self, id: MediaCallId) -> Option<&CallMedia> {
        self.calls
            .get(id.index as usize)?
            .as_ref()
            .filter(|call| call.generation == id.generation)
    }

    fn call_mut(&mut self, id: MediaCallId) -> Option<&mut CallMedia> {
        self.calls
            .get_mut(id.index as usize)?
            .as_mut()
            .filter(|call| call.generation == id.generation)
    }

    /// Files call `id` under `remote` in its socket's table, in place of its previous address.
    fn set_remote_key(&mut self, id: MediaCallId, remote: SocketAddr) {
        let Some(call) = self.call_mut(id) else {
            return;
        };
        let previous = call.remote_key.replace(remote);
        let socket = call.socket;
        if !self.sockets.file(socket, id, previous, remote) {
            tracing::warn!(%remote, "two calls share an RTP address; the newer one receives");
        }
    }
}

#[cfg(test)]
mod tests;
