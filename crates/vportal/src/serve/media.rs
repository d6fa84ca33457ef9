//! The media thread: the driver of the sans-IO [`MediaPlane`]. It owns the RTP sockets (mio, non-blocking),
//! applies what call tasks ask through a [`MediaHandle`], feeds the plane what the sockets received and the
//! time, sends what the plane queued, and passes each call's [`MediaEvent`]s to its task. Everything the plane
//! decides (socket placement, pacing, which call a packet belongs to) is tested in portal-media on a
//! simulated clock; this file only carries bytes and messages.
//!
//! The thread wakes once a millisecond while calls are open (the plane's wheel has 20 one-millisecond slots;
//! it also looks at commands and sockets then) and sleeps on its command channel otherwise. Store work (argon2) never runs on it.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError, channel};
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use portal_core::PlayId;
use portal_media::plane::{
    MediaCallId, MediaPlane, NeedSocket, PortRotation, Released, SocketId, WallClock,
};
use portal_media::plane::{MediaEvent, StreamSetup};
use portal_media::prompts::PlayItem;
use portal_media::recording::RecorderConfig;
use portal_session::SessionInput;
use tokio::sync::{mpsc, oneshot};

/// Receive buffer asked for each RTP socket: about 1,000 packets.
const RECEIVE_BUFFER: usize = 1 << 20;
/// The longest the thread sleeps while calls are open.
const LOOK_AT_LEAST_EVERY: Duration = Duration::from_millis(1);

enum Command {
    Open {
        remote_hint: Option<SocketAddr>,
        events: mpsc::UnboundedSender<SessionInput>,
        reply: oneshot::Sender<io::Result<(MediaCallId, SocketAddr)>>,
    },
    Stream(MediaCallId, StreamSetup),
    Play(MediaCallId, PlayId, Vec<PlayItem>),
    StopPlayback(MediaCallId),
    Record(MediaCallId, RecorderConfig),
    StopRecording(MediaCallId),
    Close(MediaCallId),
}

/// Sends commands to the media thread; the thread ends when the last handle is dropped.
#[derive(Clone)]
pub(crate) struct MediaHandle {
    commands: Sender<Command>,
}

impl MediaHandle {
    /// Starts the media thread. RTP sockets are bound on `ip`, on even ports of `ports`.
    pub(crate) fn start(ip: IpAddr, ports: (u16, u16)) -> io::Result<MediaHandle> {
        let (commands, received) = channel();
        let driver = MediaThread::new(ip, ports, received)?;
        std::thread::Builder::new()
            .name("vportal-media".into())
            .spawn(move || {
                super::priority::hurry_media();
                driver.run()
            })?;
        Ok(MediaHandle { commands })
    }

    /// Opens a call's media: its local RTP address. `remote_hint` (from the offer) helps place the call on a
    /// socket where its remote address is not used yet. The call is silent until [`MediaCall::stream`].
    pub(crate) async fn open(
        &self,
        remote_hint: Option<SocketAddr>,
        events: mpsc::UnboundedSender<SessionInput>,
    ) -> io::Result<MediaCall> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Open {
                remote_hint,
                events,
                reply,
            })
            .map_err(|_| io::Error::other("the media thread stopped"))?;
        let (id, local) = answer
            .await
            .map_err(|_| io::Error::other("the media thread stopped"))??;
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
        // The thread only stops when the server does.
        let _ = self.commands.send(command);
    }

    /// See [`MediaPlane::stream`].
    pub(crate) fn stream(&self, setup: StreamSetup) {
        self.send(Command::Stream(self.id, setup));
    }

    /// See [`MediaPlane::play`].
    pub(crate) fn play(&self, id: PlayId, items: Vec<PlayItem>) {
        self.send(Command::Play(self.id, id, items));
    }

    /// See [`MediaPlane::stop_playback`].
    pub(crate) fn stop_playback(&self) {
        self.send(Command::StopPlayback(self.id));
    }

    /// See [`MediaPlane::record`].
    pub(crate) fn record(&self, config: RecorderConfig) {
        self.send(Command::Record(self.id, config));
    }

    /// See [`MediaPlane::stop_recording`].
    pub(crate) fn stop_recording(&self) {
        self.send(Command::StopRecording(self.id));
    }
}

impl Drop for MediaCall {
    fn drop(&mut self) {
        self.send(Command::Close(self.id));
    }
}

struct MediaThread {
    ip: IpAddr,
    ports: PortRotation,
    commands: Receiver<Command>,
    poll: Poll,
    plane: MediaPlane,
    /// The plane's sockets, by [`SocketId`] (also the mio token).
    sockets: Vec<Option<UdpSocket>>,
    /// Where each call's events go.
    calls: HashMap<MediaCallId, mpsc::UnboundedSender<SessionInput>>,
    received: Vec<u8>,
}

impl MediaThread {
    fn new(ip: IpAddr, ports: (u16, u16), commands: Receiver<Command>) -> io::Result<MediaThread> {
        Ok(MediaThread {
            ip,
            // Each RTP port has its RTCP port above it: both stay inside the range.
            ports: PortRotation::new(ports.0, ports.1.saturating_sub(1)),
            commands,
            poll: Poll::new()?,
            plane: MediaPlane::new(rand::random(), WallClock::now()),
            sockets: Vec::new(),
            calls: HashMap::new(),
            received: vec![0; 2048],
        })
    }

    fn run(mut self) {
        let mut events = Events::with_capacity(256);
        loop {
            if self.plane.call_count() == 0 {
                // Nothing to pace: wait for a command instead of waking every millisecond.
                match self.commands.recv_timeout(Duration::from_millis(100)) {
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
                if let Ok((id, _)) = &opened {
                    self.calls.insert(*id, events);
                }
                let _ = reply.send(opened);
            }
            Command::Stream(id, setup) => self.plane.stream(now, id, setup),
            Command::Play(id, play, items) => self.plane.play(id, play, items),
            Command::StopPlayback(id) => self.plane.stop_playback(id),
            Command::Record(id, config) => self.plane.record(now, id, config),
            Command::StopRecording(id) => self.plane.stop_recording(id),
            Command::Close(id) => {
                self.calls.remove(&id);
                if let Some(released) = self.plane.close(id) {
                    self.release(released);
                }
            }
        }
        self.flush();
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
    /// (RFC 3550 §11), and gives both to the plane.
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
            if ownership == portal_media::plane::Ownership::Unknown {
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

#[cfg(test)]
mod tests {
    //! The thread over real loopback sockets; what the plane decides is tested in portal-media.
    use super::*;
    use portal_media::dtmf::{KeySource, TelephoneEventPacing, telephone_event_packets};
    use portal_media::g711::Codec;
    use portal_media::rtp::{RtpPacket, RtpSender, SAMPLES_PER_FRAME};
    use std::net::{Ipv4Addr, UdpSocket as StdUdpSocket};

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    const WAIT: Duration = Duration::from_secs(5);

    fn media() -> MediaHandle {
        // A range of its own per test (tests run in parallel).
        static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
        let base = 41_000 + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) * 200;
        MediaHandle::start(LOOPBACK, (base, base + 198)).unwrap()
    }

    fn phone() -> StdUdpSocket {
        let socket = StdUdpSocket::bind((LOOPBACK, 0)).unwrap();
        socket.set_read_timeout(Some(WAIT)).unwrap();
        socket
    }

    fn setup(remote: SocketAddr) -> StreamSetup {
        StreamSetup {
            remote,
            codec: Codec::Pcmu,
            payload_type: 0,
            telephone_event_pt: Some(101),
            send: true,
            rtcp_mux: false,
        }
    }

    #[tokio::test]
    async fn a_caller_hears_the_stream_and_its_keys_come_back_to_its_call_only() {
        let media = media();
        let (a, b) = (phone(), phone());
        let (a_tx, mut a_events) = mpsc::unbounded_channel();
        let (b_tx, mut b_events) = mpsc::unbounded_channel();
        let call_a = media
            .open(Some(a.local_addr().unwrap()), a_tx)
            .await
            .unwrap();
        call_a.stream(setup(a.local_addr().unwrap()));
        let call_b = media
            .open(Some(b.local_addr().unwrap()), b_tx)
            .await
            .unwrap();
        call_b.stream(setup(b.local_addr().unwrap()));
        assert_eq!(call_a.local(), call_b.local(), "one shared socket");
        let rtcp = SocketAddr::new(call_a.local().ip(), call_a.local().port() + 1);
        assert_eq!(
            StdUdpSocket::bind(rtcp).unwrap_err().kind(),
            std::io::ErrorKind::AddrInUse,
            "its RTCP port is bound beside it"
        );
        let mut buffer = [0u8; 2048];
        let (len, from) = a.recv_from(&mut buffer).unwrap();
        assert_eq!(from, call_a.local());
        let packet = RtpPacket::parse(&buffer[..len]).unwrap();
        assert_eq!(packet.payload.len(), SAMPLES_PER_FRAME);

        let mut sender = RtpSender::with_state(9, 1, 1000);
        let digit = portal_core::Digit::Number(5);
        for event in telephone_event_packets(digit, 1000, 800, TelephoneEventPacing::default()) {
            let len = sender
                .build_with_timestamp(
                    101,
                    event.marker,
                    event.timestamp,
                    &event.event.to_bytes(),
                    &mut buffer,
                )
                .unwrap();
            b.send_to(&buffer[..len], call_b.local()).unwrap();
        }
        let event = tokio::time::timeout(WAIT, b_events.recv()).await.unwrap();
        assert!(matches!(
            event,
            Some(SessionInput::Media(MediaEvent::Key { digit: d, source: KeySource::TelephoneEvent, .. })) if d == digit
        ));
        assert!(a_events.try_recv().is_err());
    }
}
