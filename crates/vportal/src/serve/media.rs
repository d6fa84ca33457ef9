//! The media plane: one thread sends every call's RTP from a pacing wheel and reads what callers send.
//!
//! Why one thread: a call's audio is a 160-byte frame every 20 ms, and the work per frame is tiny (the prompts
//! are encoded once at start). Per-call timers and per-call tasks would cost more than the frames themselves;
//! here the thread wakes once a millisecond, serves one slot of a 20-slot wheel (each call sits in one slot, so
//! it is served exactly every 20 ms) and drains whatever arrived on the RTP sockets. Store work (argon2) never
//! runs on this thread.
//!
//! Sockets are shared: one UDP socket serves up to [`CALLS_PER_SOCKET`] calls (SDP lets every call name any
//! port). Arriving packets are told apart by their source address, so two calls on one socket never share a
//! remote address; a call whose remote address is already used on every socket gets a socket of its own.
//! Phones are expected to send RTP from the address they announce in SDP (symmetric RTP, RFC 4961). A phone
//! on a host with several addresses may announce one and send from another (same port, other IP): a call that
//! has received nothing yet follows the first packet from its announced port at another IP, when no other call
//! on the socket could claim that packet; audio then goes back to where the packet came from. Other packets
//! from unknown addresses are dropped, so a stranger on another port cannot feed keys into a call.
//!
//! The call task talks to the plane through a [`MediaHandle`] (commands) and receives [`MediaEvent`]s
//! (keys, the end of a playlist, a finished recording).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError, channel};
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use portal_core::{Digit, PlayId};
use portal_media::dtmf::{DtmfUpdate, InbandDetector, KeySource, TelephoneEventReceiver};
use portal_media::g711::Codec;
use portal_media::prompts::{PlayItem, Playout, Tick};
use portal_media::recording::{Recorder, RecorderConfig, Recording};
use portal_media::rtp::{RtpPacket, RtpSender, SAMPLES_PER_FRAME};
use tokio::sync::{mpsc, oneshot};

/// Calls one RTP socket serves at most.
pub(crate) const CALLS_PER_SOCKET: usize = 256;
/// Receive buffer asked for each RTP socket: about 1,000 packets.
const RECEIVE_BUFFER: usize = 1 << 20;
/// Slots of the pacing wheel: one per millisecond of a 20 ms frame.
const SLOTS: usize = 20;
const SLOT: Duration = Duration::from_millis(1);
/// If the thread was held up longer than this, it sends what is due once and starts afresh rather than
/// bursting every missed frame.
const MAX_CATCH_UP: u32 = 100;

/// Identifies one call on the media plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct MediaCallId {
    index: u32,
    generation: u32,
}

/// What the media plane needs to stream one call's audio, from the SDP negotiation.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StreamSetup {
    /// Where the caller receives RTP (and sends it from).
    pub remote: SocketAddr,
    pub codec: Codec,
    pub payload_type: u8,
    pub telephone_event_pt: Option<u8>,
    /// Whether the caller listens (false while it holds the call).
    pub send: bool,
}

/// What the media plane reports to a call.
#[derive(Debug)]
pub(crate) enum MediaEvent {
    /// A key, from an RFC 4733 event or an in-band tone.
    Key(Digit, KeySource),
    /// The playlist played to its end.
    PromptDone(PlayId),
    /// The recording ended (stopped, silence, or maximum length).
    RecordingDone(Recording),
}

enum Command {
    Open {
        remote_hint: Option<SocketAddr>,
        events: mpsc::UnboundedSender<MediaEvent>,
        reply: oneshot::Sender<io::Result<(MediaCallId, SocketAddr)>>,
    },
    Stream(MediaCallId, StreamSetup),
    Play(MediaCallId, PlayId, Vec<PlayItem>),
    StopPlayback(MediaCallId),
    Record(MediaCallId, RecorderConfig),
    StopRecording(MediaCallId),
    Close(MediaCallId),
}

/// Sends commands to the media plane; the plane's thread ends when the last handle is dropped.
#[derive(Clone)]
pub(crate) struct MediaHandle {
    commands: Sender<Command>,
}

impl MediaHandle {
    /// Starts the media plane's thread. RTP sockets are bound on `ip`, on even ports of `ports`.
    pub(crate) fn start(ip: IpAddr, ports: (u16, u16)) -> io::Result<MediaHandle> {
        let (commands, received) = channel();
        let plane = Plane::new(ip, ports, received)?;
        std::thread::Builder::new()
            .name("vportal-media".into())
            .spawn(move || {
                super::priority::hurry_media();
                plane.run()
            })?;
        Ok(MediaHandle { commands })
    }

    /// Opens a call's media: its local RTP address. `remote_hint` (from the offer) helps place the call on a
    /// socket where its remote address is not used yet. The call is silent until [`MediaCall::stream`].
    pub(crate) async fn open(
        &self,
        remote_hint: Option<SocketAddr>,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> io::Result<MediaCall> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Open {
                remote_hint,
                events,
                reply,
            })
            .map_err(|_| io::Error::other("the media plane stopped"))?;
        let (id, local) = answer
            .await
            .map_err(|_| io::Error::other("the media plane stopped"))??;
        Ok(MediaCall {
            id,
            local,
            commands: self.commands.clone(),
        })
    }
}

/// One call's media on the plane; dropping it ends the call's media.
pub(crate) struct MediaCall {
    id: MediaCallId,
    local: SocketAddr,
    commands: Sender<Command>,
}

impl MediaCall {
    /// The local RTP address for SDP.
    pub(crate) fn local(&self) -> SocketAddr {
        self.local
    }

    fn send(&self, command: Command) {
        // The plane only stops when the server does.
        let _ = self.commands.send(command);
    }

    /// Starts (or changes, after a re-INVITE) the stream: from now on a frame goes out every 20 ms, the
    /// playlist's or silence.
    pub(crate) fn stream(&self, setup: StreamSetup) {
        self.send(Command::Stream(self.id, setup));
    }

    /// Replaces whatever plays with `items`; [`MediaEvent::PromptDone`] with `id` follows their end.
    pub(crate) fn play(&self, id: PlayId, items: Vec<PlayItem>) {
        self.send(Command::Play(self.id, id, items));
    }

    /// Stops playback at once (barge-in); no `PromptDone` follows.
    pub(crate) fn stop_playback(&self) {
        self.send(Command::StopPlayback(self.id));
    }

    /// Starts recording the caller.
    pub(crate) fn record(&self, config: RecorderConfig) {
        self.send(Command::Record(self.id, config));
    }

    /// Ends the recording; [`MediaEvent::RecordingDone`] follows.
    pub(crate) fn stop_recording(&self) {
        self.send(Command::StopRecording(self.id));
    }
}

impl Drop for MediaCall {
    fn drop(&mut self) {
        self.send(Command::Close(self.id));
    }
}

/// One shared RTP socket.
struct RtpSocket {
    socket: UdpSocket,
    /// Calls on this socket by their remote address.
    remotes: HashMap<SocketAddr, MediaCallId>,
    calls: usize,
}

/// A call's stream state on the plane.
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
    socket: usize,
    slot: usize,
    events: mpsc::UnboundedSender<MediaEvent>,
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
    /// The address under which the socket's map holds this call: reserved from the offer when the call opens
    /// (so calls set up at the same moment from one address land on different sockets), then the stream's.
    remote_key: Option<SocketAddr>,
}

impl CallMedia {
    fn emit(&self, event: MediaEvent) {
        let _ = self.events.send(event);
    }

    fn finish_recording(&mut self) {
        if let Some(recorder) = self.recorder.take() {
            self.emit(MediaEvent::RecordingDone(recorder.finish()));
        }
    }
}

struct Plane {
    ip: IpAddr,
    ports: (u16, u16),
    next_port: u32,
    commands: Receiver<Command>,
    poll: Poll,
    sockets: Vec<Option<RtpSocket>>,
    calls: Vec<Option<CallMedia>>,
    generations: Vec<u32>,
    free_calls: Vec<usize>,
    /// Call indices per slot of the pacing wheel.
    wheel: [Vec<usize>; SLOTS],
    open_calls: usize,
    packet: [u8; 1500],
    received: Vec<u8>,
    decoded: Vec<i16>,
    silence_pcmu: [u8; SAMPLES_PER_FRAME],
    silence_pcma: [u8; SAMPLES_PER_FRAME],
}

impl Plane {
    fn new(ip: IpAddr, ports: (u16, u16), commands: Receiver<Command>) -> io::Result<Plane> {
        Ok(Plane {
            ip,
            ports,
            next_port: 0,
            commands,
            poll: Poll::new()?,
            sockets: Vec::new(),
            calls: Vec::new(),
            generations: Vec::new(),
            free_calls: Vec::new(),
            wheel: Default::default(),
            open_calls: 0,
            packet: [0; 1500],
            received: vec![0; 2048],
            decoded: Vec::with_capacity(SAMPLES_PER_FRAME),
            silence_pcmu: [Codec::Pcmu.silence_code(); SAMPLES_PER_FRAME],
            silence_pcma: [Codec::Pcma.silence_code(); SAMPLES_PER_FRAME],
        })
    }

    fn run(mut self) {
        let mut events = Events::with_capacity(256);
        let mut slot = 0;
        let mut slot_due = Instant::now();
        loop {
            if self.open_calls == 0 {
                // Nothing to pace: wait for a command instead of waking every millisecond.
                match self.commands.recv_timeout(Duration::from_millis(100)) {
                    Ok(command) => self.command(command),
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
                slot_due = Instant::now();
            }
            loop {
                match self.commands.try_recv() {
                    Ok(command) => self.command(command),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return,
                }
            }
            if self.poll.poll(&mut events, Some(Duration::ZERO)).is_ok() {
                for event in events.iter() {
                    self.drain_socket(event.token().0);
                }
            }
            let now = Instant::now();
            let mut served = 0;
            while slot_due <= now {
                self.pace_slot(slot, now);
                slot = (slot + 1) % SLOTS;
                slot_due += SLOT;
                served += 1;
                if served > MAX_CATCH_UP {
                    slot_due = now + SLOT;
                    tracing::warn!("media pacing was held up; frames were skipped");
                }
            }
            if let Some(wait) = slot_due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Open {
                remote_hint,
                events,
                reply,
            } => {
                let _ = reply.send(self.open(remote_hint, events));
            }
            Command::Stream(id, setup) => self.set_stream(id, setup),
            Command::Play(id, play, items) => {
                if let Some(call) = self.call_mut(id) {
                    match call.stream.as_mut() {
                        Some(stream) => {
                            stream.playout.play(items);
                            call.playing = Some(play);
                            call.sender.start_talkspurt();
                        }
                        // Nothing can be heard before the stream exists: the playlist is over at once.
                        None => call.emit(MediaEvent::PromptDone(play)),
                    }
                }
            }
            Command::StopPlayback(id) => {
                if let Some(call) = self.call_mut(id) {
                    if let Some(stream) = call.stream.as_mut() {
                        stream.playout.stop();
                    }
                    call.playing = None;
                }
            }
            Command::Record(id, config) => {
                if let Some(call) = self.call_mut(id) {
                    match &call.stream {
                        Some(stream) => {
                            call.recorder =
                                Some(Recorder::new(stream.setup.codec, config, Instant::now()))
                        }
                        None => call.pending_recording = Some(config),
                    }
                }
            }
            Command::StopRecording(id) => {
                if let Some(call) = self.call_mut(id) {
                    if let Some(recorder) = call.recorder.as_mut() {
                        recorder.stop();
                    }
                    call.finish_recording();
                }
            }
            Command::Close(id) => self.close(id),
        }
    }

    fn call_mut(&mut self, id: MediaCallId) -> Option<&mut CallMedia> {
        self.calls
            .get_mut(id.index as usize)?
            .as_mut()
            .filter(|call| call.generation == id.generation)
    }

    fn open(
        &mut self,
        remote_hint: Option<SocketAddr>,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> io::Result<(MediaCallId, SocketAddr)> {
        let socket = self.place(remote_hint)?;
        let local = self.sockets[socket]
            .as_ref()
            .map(|s| s.socket.local_addr())
            .transpose()?
            .ok_or_else(|| io::Error::other("socket vanished"))?;
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
        self.calls[index] = Some(CallMedia {
            generation,
            socket,
            slot,
            events,
            sender: RtpSender::new(),
            stream: None,
            playing: None,
            was_playing: false,
            recorder: None,
            pending_recording: None,
            heard_from: false,
            remote_key: None,
        });
        let id = MediaCallId {
            index: index as u32,
            generation,
        };
        if let Some(socket) = self.sockets[socket].as_mut() {
            socket.calls += 1;
        }
        self.open_calls += 1;
        if let Some(remote) = remote_hint {
            self.set_remote_key(id, remote);
        }
        Ok((id, local))
    }

    /// The least busy socket with room whose calls do not use `remote` yet (spreading what arrives over the
    /// sockets' receive buffers); a new one if there is none.
    fn place(&mut self, remote: Option<SocketAddr>) -> io::Result<usize> {
        let fits = |socket: &RtpSocket| {
            socket.calls < CALLS_PER_SOCKET
                && remote.is_none_or(|remote| !socket.remotes.contains_key(&remote))
        };
        let least_busy = self
            .sockets
            .iter()
            .enumerate()
            .filter_map(|(index, socket)| Some((index, socket.as_ref().filter(|s| fits(s))?.calls)))
            .min_by_key(|&(_, calls)| calls);
        match least_busy {
            Some((index, _)) => Ok(index),
            None => self.bind_socket(),
        }
    }

    /// Files call `id` under `remote` in its socket's map, in place of its previous address.
    fn set_remote_key(&mut self, id: MediaCallId, remote: SocketAddr) {
        let Some(call) = self.call_mut(id) else {
            return;
        };
        let previous = call.remote_key.replace(remote);
        let socket_index = call.socket;
        let Some(socket) = self.sockets[socket_index].as_mut() else {
            return;
        };
        if let Some(previous) = previous
            && socket.remotes.get(&previous) == Some(&id)
        {
            socket.remotes.remove(&previous);
        }
        if let Some(displaced) = socket.remotes.insert(remote, id)
            && displaced != id
        {
            // Only when a late offer or a re-INVITE lands on an address already in use on this socket.
            tracing::warn!(%remote, "two calls share an RTP address; the newer one receives");
        }
    }

    /// Binds a socket on the next free even port of the range.
    fn bind_socket(&mut self) -> io::Result<usize> {
        let (low, high) = self.ports;
        let span = u32::from(high.saturating_sub(low)) / 2 + 1;
        let mut last_error = None;
        for _ in 0..span {
            let port = u32::from(low) + (self.next_port % span) * 2;
            self.next_port = self.next_port.wrapping_add(1);
            let Ok(port) = u16::try_from(port) else {
                continue;
            };
            match bind_udp(SocketAddr::new(self.ip, port)) {
                Ok(mut socket) => {
                    let index = match self.sockets.iter().position(Option::is_none) {
                        Some(index) => index,
                        None => {
                            self.sockets.push(None);
                            self.sockets.len() - 1
                        }
                    };
                    self.poll
                        .registry()
                        .register(&mut socket, Token(index), Interest::READABLE)?;
                    self.sockets[index] = Some(RtpSocket {
                        socket,
                        remotes: HashMap::new(),
                        calls: 0,
                    });
                    return Ok(index);
                }
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("no RTP port is free")))
    }

    fn set_stream(&mut self, id: MediaCallId, mut setup: StreamSetup) {
        let Some(call) = self.call_mut(id) else {
            return;
        };
        let announced = setup.remote;
        match &call.stream {
            // A re-INVITE announcing the same address again: keep the address the caller really sends from.
            Some(stream) if stream.announced == announced => setup.remote = stream.setup.remote,
            _ => call.heard_from = false,
        }
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
                if call.stream.is_some()
                    && let Some(play) = call.playing.take()
                {
                    call.emit(MediaEvent::PromptDone(play));
                }
                call.stream = Some(Stream {
                    announced,
                    playout: Playout::new(setup.codec),
                    telephone_events: TelephoneEventReceiver::new(),
                    inband: setup.telephone_event_pt.is_none().then(InbandDetector::new),
                    setup: setup.clone(),
                });
                if let Some(config) = call.pending_recording.take() {
                    call.recorder = Some(Recorder::new(setup.codec, config, Instant::now()));
                }
            }
        }
        self.set_remote_key(id, setup.remote);
    }

    fn close(&mut self, id: MediaCallId) {
        let index = id.index as usize;
        let Some(call) = self
            .calls
            .get_mut(index)
            .and_then(|slot| slot.take_if(|call| call.generation == id.generation))
        else {
            return;
        };
        self.wheel[call.slot].retain(|&other| other != index);
        self.free_calls.push(index);
        self.open_calls -= 1;
        let socket_index = call.socket;
        let mut empty = false;
        if let Some(socket) = self.sockets[socket_index].as_mut() {
            if let Some(remote) = call.remote_key
                && socket.remotes.get(&remote) == Some(&id)
            {
                socket.remotes.remove(&remote);
            }
            socket.calls -= 1;
            empty = socket.calls == 0;
        }
        if empty && let Some(mut socket) = self.sockets[socket_index].take() {
            let _ = self.poll.registry().deregister(&mut socket.socket);
        }
    }

    /// Sends the next frame of every call in `slot`, and ends recordings whose time is up.
    fn pace_slot(&mut self, slot: usize, now: Instant) {
        for position in 0..self.wheel[slot].len() {
            let index = self.wheel[slot][position];
            let Some(call) = self.calls[index].as_mut() else {
                continue;
            };
            if let Some(recorder) = call.recorder.as_mut()
                && recorder.handle_timeout(now).is_some()
            {
                call.finish_recording();
            }
            let Some(stream) = call.stream.as_mut() else {
                continue;
            };
            let silence = match stream.setup.codec {
                Codec::Pcmu => &self.silence_pcmu,
                Codec::Pcma => &self.silence_pcma,
            };
            let payload = match stream.playout.tick() {
                Tick::Frame(frame) => {
                    call.was_playing = true;
                    frame
                }
                Tick::Finished | Tick::Idle => {
                    if std::mem::take(&mut call.was_playing) {
                        // Silence after a playlist is a new talkspurt (the marker tells listeners).
                        call.sender.start_talkspurt();
                    }
                    silence
                }
            };
            let Ok(len) =
                call.sender
                    .build_audio(stream.setup.payload_type, payload, &mut self.packet)
            else {
                continue;
            };
            if stream.setup.send
                && let Some(socket) = self.sockets[call.socket].as_ref()
            {
                // A full socket buffer drops this frame; the next one is on time regardless.
                let _ = socket
                    .socket
                    .send_to(&self.packet[..len], stream.setup.remote);
            }
            if !stream.playout.is_playing()
                && let Some(play) = call.playing.take()
            {
                call.emit(MediaEvent::PromptDone(play));
            }
        }
    }

    /// Reads everything waiting on one socket.
    fn drain_socket(&mut self, socket_index: usize) {
        loop {
            let Some(socket) = self.sockets.get(socket_index).and_then(Option::as_ref) else {
                return;
            };
            let (len, from) = match socket.socket.recv_from(&mut self.received) {
                Ok(received) => received,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => continue,
            };
            let id = match socket.remotes.get(&from) {
                Some(&id) => id,
                None => match self.follow(socket_index, from) {
                    Some(id) => id,
                    None => {
                        tracing::trace!(%from, "RTP from an address no call announced: dropped");
                        continue;
                    }
                },
            };
            let received = std::mem::take(&mut self.received);
            self.receive(id, &received[..len]);
            self.received = received;
        }
    }

    /// The call on `socket_index` that a packet from the unknown address `from` belongs to, if exactly one
    /// call that has heard nothing yet announced `from`'s port at another IP; that call's remote address
    /// becomes `from`.
    fn follow(&mut self, socket_index: usize, from: SocketAddr) -> Option<MediaCallId> {
        let socket = self.sockets.get(socket_index)?.as_ref()?;
        let mut candidates = socket.remotes.iter().filter(|(announced, id)| {
            announced.port() == from.port()
                && self.calls[id.index as usize]
                    .as_ref()
                    .is_some_and(|call| !call.heard_from)
        });
        let (&announced, &id) = candidates.next()?;
        if candidates.next().is_some() {
            return None;
        }
        self.set_remote_key(id, from);
        let call = self.call_mut(id)?;
        if let Some(stream) = call.stream.as_mut() {
            stream.setup.remote = from;
        }
        tracing::debug!(%announced, %from, "the caller sends RTP from another address; following it");
        Some(id)
    }

    fn receive(&mut self, id: MediaCallId, datagram: &[u8]) {
        let Ok(packet) = RtpPacket::parse(datagram) else {
            return;
        };
        let mut decoded = std::mem::take(&mut self.decoded);
        if let Some(call) = self.call_mut(id) {
            receive_into(call, &packet, &mut decoded);
        }
        self.decoded = decoded;
    }
}

/// A non-blocking UDP socket on `addr` with a receive buffer for [`RECEIVE_BUFFER`] bytes, so a socket shared by
/// many talking callers does not overflow while the thread serves a slot.
fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // The kernel caps this at net.core.rmem_max; the default buffer is still there if it refuses.
    let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(UdpSocket::from_std(socket.into()))
}

/// One packet from a caller: a telephone event, or audio for the recorder and the in-band detector.
fn receive_into(call: &mut CallMedia, packet: &RtpPacket<'_>, decoded: &mut Vec<i16>) {
    let Some(stream) = call.stream.as_mut() else {
        return;
    };
    call.heard_from = true;
    if Some(packet.payload_type) == stream.setup.telephone_event_pt {
        if let Some(DtmfUpdate::Pressed(digit)) = stream.telephone_events.receive(packet) {
            call.emit(MediaEvent::Key(digit, KeySource::TelephoneEvent));
        }
        return;
    }
    if packet.payload_type != stream.setup.payload_type {
        return;
    }
    let codec = stream.setup.codec;
    if let Some(detector) = stream.inband.as_mut() {
        decoded.clear();
        codec.decode_append(packet.payload, decoded);
        if let Some(digit) = detector.push_frame(decoded) {
            call.emit(MediaEvent::Key(digit, KeySource::Inband));
        }
    }
    if let Some(recorder) = call.recorder.as_mut()
        && recorder.receive(packet, Instant::now()).is_some()
    {
        call.finish_recording();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_media::dtmf::{TelephoneEventPacing, telephone_event_packets};
    use portal_media::prompts::PromptAudio;
    use std::net::{Ipv4Addr, UdpSocket as StdUdpSocket};
    use std::sync::Arc;

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    const WAIT: Duration = Duration::from_secs(5);

    /// A caller's RTP socket on loopback.
    fn phone() -> StdUdpSocket {
        let socket = StdUdpSocket::bind((LOOPBACK, 0)).unwrap();
        socket.set_read_timeout(Some(WAIT)).unwrap();
        socket
    }

    fn plane() -> MediaHandle {
        // A range of its own per test (tests run in parallel).
        static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
        let base = 41_000 + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) * 200;
        MediaHandle::start(LOOPBACK, (base, base + 198)).unwrap()
    }

    /// A key press as RFC 4733 events (payload type 101), from the phone `from` to the portal's `to`.
    fn send_key(from: &StdUdpSocket, to: SocketAddr, key: char, ssrc: u32) {
        let mut sender = RtpSender::with_state(ssrc, 1, 1000);
        let mut buffer = [0u8; 64];
        let digit = Digit::from_char(key).unwrap();
        for packet in telephone_event_packets(digit, 1000, 800, TelephoneEventPacing::default()) {
            let len = sender
                .build_with_timestamp(
                    101,
                    packet.marker,
                    packet.timestamp,
                    &packet.event.to_bytes(),
                    &mut buffer,
                )
                .unwrap();
            from.send_to(&buffer[..len], to).unwrap();
        }
    }

    fn setup(remote: SocketAddr) -> StreamSetup {
        StreamSetup {
            remote,
            codec: Codec::Pcmu,
            payload_type: 0,
            telephone_event_pt: Some(101),
            send: true,
        }
    }

    /// The next packet the phone receives: (marker, sequence, timestamp, payload).
    fn next_packet(phone: &StdUdpSocket) -> (bool, u16, u32, Vec<u8>) {
        let mut buffer = [0u8; 2048];
        let (len, _) = phone.recv_from(&mut buffer).unwrap();
        let packet = RtpPacket::parse(&buffer[..len]).unwrap();
        (
            packet.marker,
            packet.sequence,
            packet.timestamp,
            packet.payload.to_vec(),
        )
    }

    async fn next_event(events: &mut mpsc::UnboundedReceiver<MediaEvent>) -> MediaEvent {
        tokio::time::timeout(WAIT, events.recv())
            .await
            .expect("an event in time")
            .expect("the plane runs")
    }

    #[tokio::test]
    async fn a_call_hears_silence_then_its_prompt_then_silence_in_one_continuous_stream() {
        let media = plane();
        let phone = phone();
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let call = media
            .open(Some(phone.local_addr().unwrap()), events_tx)
            .await
            .unwrap();
        call.stream(setup(phone.local_addr().unwrap()));
        let silence = vec![0xFF; SAMPLES_PER_FRAME];
        let (marker, mut sequence, mut timestamp, payload) = next_packet(&phone);
        assert!(marker, "the stream starts a talkspurt");
        assert_eq!(payload, silence);
        // Five frames of a prompt (a ramp, so no frame is silence).
        let samples: Vec<i16> = (0..5 * SAMPLES_PER_FRAME as i32)
            .map(|i| (i * 7 % 8000 + 100) as i16)
            .collect();
        let prompt = Arc::new(PromptAudio::from_samples(&samples));
        call.play(PlayId(7), vec![PlayItem::Prompt(Arc::clone(&prompt))]);
        let mut prompt_frames = Vec::new();
        let mut silence_after = None;
        for _ in 0..200 {
            let (marker, next_sequence, next_timestamp, payload) = next_packet(&phone);
            assert_eq!(next_sequence, sequence.wrapping_add(1), "no sequence gap");
            assert_eq!(
                next_timestamp,
                timestamp.wrapping_add(160),
                "no timestamp gap"
            );
            (sequence, timestamp) = (next_sequence, next_timestamp);
            if payload != silence {
                assert_eq!(
                    marker,
                    prompt_frames.is_empty(),
                    "marker on the first frame only"
                );
                prompt_frames.push(payload);
            } else if !prompt_frames.is_empty() {
                silence_after = Some(marker);
                break;
            }
        }
        let expected: Vec<Vec<u8>> = (0..5)
            .map(|i| prompt.frame(Codec::Pcmu, i).unwrap().to_vec())
            .collect();
        assert_eq!(prompt_frames, expected, "the prompt, sample-exact");
        assert_eq!(
            silence_after,
            Some(true),
            "silence after it is a new talkspurt"
        );
        assert!(matches!(
            next_event(&mut events).await,
            MediaEvent::PromptDone(PlayId(7))
        ));
    }

    #[tokio::test]
    async fn calls_share_a_socket_unless_they_share_a_remote_address() {
        let media = plane();
        let (a, b) = (phone(), phone());
        let (events_tx, _events) = mpsc::unbounded_channel();
        let first_a = media
            .open(Some(a.local_addr().unwrap()), events_tx.clone())
            .await
            .unwrap();
        first_a.stream(setup(a.local_addr().unwrap()));
        let from_b = media
            .open(Some(b.local_addr().unwrap()), events_tx.clone())
            .await
            .unwrap();
        from_b.stream(setup(b.local_addr().unwrap()));
        let second_a = media
            .open(Some(a.local_addr().unwrap()), events_tx)
            .await
            .unwrap();
        assert_eq!(first_a.local(), from_b.local());
        assert_ne!(first_a.local(), second_a.local());
        assert_eq!(first_a.local().port() % 2, 0, "RTP ports are even");
    }

    #[tokio::test]
    async fn keys_reach_only_the_call_whose_caller_sent_them() {
        let media = plane();
        let (a, b, stranger) = (phone(), phone(), phone());
        let (a_tx, mut a_events) = mpsc::unbounded_channel();
        let (b_tx, mut b_events) = mpsc::unbounded_channel();
        let call_a = media.open(None, a_tx).await.unwrap();
        call_a.stream(setup(a.local_addr().unwrap()));
        let call_b = media.open(None, b_tx).await.unwrap();
        call_b.stream(setup(b.local_addr().unwrap()));
        assert_eq!(call_a.local(), call_b.local());
        send_key(&stranger, call_a.local(), '3', 9);
        send_key(&b, call_a.local(), '5', 10);
        match next_event(&mut b_events).await {
            MediaEvent::Key(digit, KeySource::TelephoneEvent) => {
                assert_eq!(digit, Digit::from_char('5').unwrap())
            }
            other => panic!("{other:?}"),
        }
        send_key(&a, call_a.local(), '8', 11);
        match next_event(&mut a_events).await {
            MediaEvent::Key(digit, _) => assert_eq!(digit, Digit::from_char('8').unwrap()),
            other => panic!("{other:?}"),
        }
        assert!(
            a_events.try_recv().is_err(),
            "the stranger's key went nowhere"
        );
        assert!(b_events.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_stopped_recording_comes_back_with_what_the_caller_said() {
        let media = plane();
        let caller = phone();
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let call = media.open(None, events_tx).await.unwrap();
        call.stream(setup(caller.local_addr().unwrap()));
        call.record(RecorderConfig::default());
        // Let the command land before the audio does.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut sender = RtpSender::with_state(5, 1, 0);
        let mut buffer = [0u8; 256];
        let mut frame = [0u8; SAMPLES_PER_FRAME];
        let loud: Vec<i16> = (0..SAMPLES_PER_FRAME)
            .map(|i| if i % 2 == 0 { 8000 } else { -8000 })
            .collect();
        Codec::Pcmu.encode(&loud, &mut frame);
        for _ in 0..25 {
            let len = sender.build_audio(0, &frame, &mut buffer).unwrap();
            caller.send_to(&buffer[..len], call.local()).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        call.stop_recording();
        match next_event(&mut events).await {
            MediaEvent::RecordingDone(recording) => {
                assert_eq!(recording.samples.len(), 25 * SAMPLES_PER_FRAME)
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_caller_sending_from_another_ip_of_its_host_is_followed() {
        let media = plane();
        let caller = phone();
        let port = caller.local_addr().unwrap().port();
        // It announces 127.0.0.2 but sends from 127.0.0.1, on the same port.
        let announced = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), port);
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let call = media.open(Some(announced), events_tx).await.unwrap();
        call.stream(setup(announced));
        send_key(&caller, call.local(), '4', 3);
        assert!(matches!(
            next_event(&mut events).await,
            MediaEvent::Key(digit, _) if digit == Digit::from_char('4').unwrap()
        ));
        // Audio now comes back to where the caller sends from.
        let (_, _, _, payload) = next_packet(&caller);
        assert_eq!(payload.len(), SAMPLES_PER_FRAME);
    }
}
