//! One media thread: the driver of one sans-IO [`MediaPlane`]. It owns its RTP sockets (mio, non-blocking;
//! no other thread reads or writes them), applies the commands its own channel brings, feeds the plane what
//! the sockets received and the time, sends what the plane queued, and passes each call's [`MediaEvent`]s to
//! its task. Everything the plane decides (socket placement, pacing, which call a packet belongs to) is tested
//! in portal-media on a simulated clock; this file only carries bytes and messages. Which thread a call goes
//! to is decided in [`super::media`].
//!
//! The thread wakes once a millisecond while it holds calls (the plane's wheel has 20 one-millisecond slots;
//! it also looks at commands and sockets then) and sleeps on its command channel otherwise, so a command
//! wakes an idle thread at once and waits at most a millisecond on a busy one. Once a loop it publishes its
//! figures ([`Published`]) for readers on other threads. Store work (argon2) never runs on it.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use portal_core::PlayId;
use portal_media::plane::{
    LatenessCounts, MediaCallId, MediaEvent, MediaPlane, NeedSocket, Ownership, PortRotation,
    Released, SocketId, StreamSetup, WallClock,
};
use portal_media::prompts::PlayItem;
use portal_media::recording::RecorderConfig;
use portal_session::SessionInput;
use tokio::sync::{mpsc, oneshot};

/// Receive buffer asked for each RTP socket: about 1,000 packets.
const RECEIVE_BUFFER: usize = 1 << 20;
/// The longest the thread sleeps while calls are open.
const LOOK_AT_LEAST_EVERY: Duration = Duration::from_millis(1);
/// How long an idle thread waits on its channel before it looks again (it has nothing else to do).
const IDLE_WAIT: Duration = Duration::from_millis(100);

/// What a call's task asks of its media thread.
pub(super) enum Command {
    Open {
        remote_hint: Option<SocketAddr>,
        events: mpsc::UnboundedSender<SessionInput>,
        reply: oneshot::Sender<io::Result<(MediaCallId, SocketAddr)>>,
    },
    Stream(MediaCallId, StreamSetup),
    Play(MediaCallId, PlayId, Vec<PlayItem>),
    StopPlayback(MediaCallId),
    SkipPlayback(MediaCallId, bool, std::time::Duration),
    Record(MediaCallId, RecorderConfig),
    StopRecording(MediaCallId),
    Close(MediaCallId),
}

/// What a media thread tells the rest of the server about itself, written once a loop (relaxed stores to a
/// cache line only this thread writes) and read whenever someone asks: never a lock, never per packet.
#[derive(Debug, Default)]
pub(super) struct Published {
    calls: AtomicUsize,
    late: [AtomicU64; LatenessCounts::BUCKETS],
    held_up: AtomicU64,
}

impl Published {
    fn publish(&self, plane: &MediaPlane) {
        self.calls.store(plane.call_count(), Ordering::Relaxed);
        for (slot, frames) in self.late.iter().zip(plane.pacing_lateness().buckets()) {
            slot.store(frames, Ordering::Relaxed);
        }
        self.held_up.store(plane.times_held_up(), Ordering::Relaxed);
    }

    /// Calls held, frames by lateness, and times held up, as last published.
    pub(super) fn read(&self) -> (usize, LatenessCounts, u64) {
        let late = std::array::from_fn(|bucket| self.late[bucket].load(Ordering::Relaxed));
        (
            self.calls.load(Ordering::Relaxed),
            LatenessCounts::from_buckets(late),
            self.held_up.load(Ordering::Relaxed),
        )
    }
}

pub(super) struct MediaThread {
    ip: IpAddr,
    /// Shared by every media thread: each binds its own sockets, none shares one.
    ports: Arc<PortRotation>,
    commands: Receiver<Command>,
    published: Arc<Published>,
    poll: Poll,
    plane: MediaPlane,
    /// The plane's sockets, by [`SocketId`] (also the mio token).
    sockets: Vec<Option<UdpSocket>>,
    /// Where each call's events go.
    calls: HashMap<MediaCallId, mpsc::UnboundedSender<SessionInput>>,
    received: Vec<u8>,
}

impl MediaThread {
    pub(super) fn new(
        ip: IpAddr,
        ports: Arc<PortRotation>,
        commands: Receiver<Command>,
        published: Arc<Published>,
    ) -> io::Result<MediaThread> {
        Ok(MediaThread {
            ip,
            ports,
            commands,
            published,
            poll: Poll::new()?,
            plane: MediaPlane::new(rand::random(), WallClock::now()),
            sockets: Vec::new(),
            calls: HashMap::new(),
            received: vec![0; 2048],
        })
    }

    /// Runs until every sender of its channel is gone (the server stopped).
    pub(super) fn run(mut self) {
        let mut events = Events::with_capacity(256);
        loop {
            if self.plane.call_count() == 0 {
                // Nothing to pace: wait for a command instead of waking every millisecond.
                match self.commands.recv_timeout(IDLE_WAIT) {
                    Ok(command) => self.command(command),
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
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
                    self.drain_socket(SocketId(event.token().0 as u32));
                }
            }
            self.plane.handle_timeout(Instant::now());
            self.flush();
            self.published.publish(&self.plane);
            // Commands and sockets are looked at every millisecond at least, even when the next slot with a
            // call is further off, so a key or a new playlist never waits for a frame's worth of time.
            if let Some(wait) = self
                .plane
                .poll_timeout()
                .and_then(|due| due.checked_duration_since(Instant::now()))
            {
                std::thread::sleep(wait.min(LOOK_AT_LEAST_EVERY));
            }
        }
    }

    fn command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Open {
                remote_hint,
                events,
                reply,
            } => {
                let opened = self.open(now, remote_hint);
                let id = opened.as_ref().ok().map(|(id, _)| *id);
                if let Some(id) = id {
                    self.calls.insert(id, events);
                }
                // A task that gave up waiting never gets its call's handle, so nobody would close it.
                if reply.send(opened).is_err()
                    && let Some(id) = id
                {
                    self.close(id);
                }
            }
            Command::Stream(id, setup) => self.plane.stream(now, id, setup),
            Command::Play(id, play, items) => self.plane.play(id, play, items),
            Command::StopPlayback(id) => self.plane.stop_playback(id),
            Command::SkipPlayback(id, back, by) => self.plane.skip_playback(id, back, by),
            Command::Record(id, config) => self.plane.record(now, id, config),
            Command::StopRecording(id) => self.plane.stop_recording(id),
            Command::Close(id) => self.close(id),
        }
        self.flush();
    }

    fn close(&mut self, id: MediaCallId) {
        self.calls.remove(&id);
        if let Some(released) = self.plane.close(id) {
            self.release(released);
        }
    }

    /// Opens a call on the plane, binding a new socket when the plane asks for one.
    fn open(
        &mut self,
        now: Instant,
        remote_hint: Option<SocketAddr>,
    ) -> io::Result<(MediaCallId, SocketAddr)> {
        let id = match self.plane.open(now, remote_hint) {
            Ok(id) => id,
            Err(NeedSocket) => {
                self.bind_socket()?;
                self.plane
                    .open(now, remote_hint)
                    .map_err(io::Error::other)?
            }
        };
        let local = self
            .plane
            .local_addr(id)
            .ok_or_else(|| io::Error::other("the call's socket vanished"))?;
        Ok((id, local))
    }

    /// Binds an RTP socket on the next free even port of the range and its RTCP socket on the port above
    /// (RFC 3550 §11), and gives both to the plane. A port another media thread holds is found taken here.
    fn bind_socket(&mut self) -> io::Result<()> {
        let mut last_error = None;
        for _ in 0..self.ports.len() {
            let Some(port) = self.ports.next_port() else {
                continue;
            };
            let bound = bind_udp(SocketAddr::new(self.ip, port)).and_then(|rtp| {
                let rtcp = bind_udp(SocketAddr::new(self.ip, port.wrapping_add(1)))?;
                Ok((rtp, rtcp))
            });
            match bound {
                Ok((rtp, rtcp)) => {
                    let rtp_id = self.plane.add_socket(rtp.local_addr()?);
                    self.register(rtp_id, rtp)?;
                    let rtcp_id = self.plane.add_rtcp_socket(rtp_id, rtcp.local_addr()?);
                    self.register(rtcp_id, rtcp)?;
                    return Ok(());
                }
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("no RTP port pair is free")))
    }

    /// Keeps `socket` as the plane's `id` and has mio report when it can be read.
    fn register(&mut self, id: SocketId, mut socket: UdpSocket) -> io::Result<()> {
        let index = id.0 as usize;
        if self.sockets.len() <= index {
            self.sockets.resize_with(index + 1, || None);
        }
        self.poll
            .registry()
            .register(&mut socket, Token(index), Interest::READABLE)?;
        self.sockets[index] = Some(socket);
        Ok(())
    }

    /// Closes the sockets the plane released.
    fn release(&mut self, released: Released) {
        for id in [Some(released.rtp), released.rtcp].into_iter().flatten() {
            if let Some(mut socket) = self.sockets.get_mut(id.0 as usize).and_then(Option::take) {
                let _ = self.poll.registry().deregister(&mut socket);
            }
        }
    }

    /// Reads everything waiting on one socket into the plane.
    fn drain_socket(&mut self, id: SocketId) {
        loop {
            let Some(socket) = self.sockets.get(id.0 as usize).and_then(Option::as_ref) else {
                return;
            };
            let (len, from) = match socket.recv_from(&mut self.received) {
                Ok(received) => received,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => continue,
            };
            let ownership =
                self.plane
                    .handle_datagram(Instant::now(), id, from, &self.received[..len]);
            if ownership == Ownership::Unknown {
                tracing::trace!(%from, "RTP from an address no call announced: dropped");
            }
        }
    }

    /// Sends what the plane queued and hands its events to the calls.
    fn flush(&mut self) {
        while let Some(transmit) = self.plane.poll_transmit() {
            if let Some(socket) = self
                .sockets
                .get(transmit.socket.0 as usize)
                .and_then(Option::as_ref)
            {
                // A full socket buffer drops this frame; the next one is on time regardless.
                let _ = socket.send_to(transmit.payload, transmit.destination);
            }
        }
        while let Some(event) = self.plane.poll_event() {
            let call = match &event {
                MediaEvent::Key { call, .. }
                | MediaEvent::PlaylistDone { call, .. }
                | MediaEvent::RecordingDone { call, .. } => *call,
            };
            if let Some(events) = self.calls.get(&call) {
                let _ = events.send(SessionInput::Media(event));
            }
        }
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
