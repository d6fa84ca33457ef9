//! The portal on the simulated network: the same sans-IO values `vportal serve` drives (the SIP endpoint, one
//! session a call, the media plane) and the real SQLite store with the demo data, carried out by the same
//! bridge. Store work answers after a configurable latency, as a pool would.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portal_core::{Audit, CallConfig};
use portal_media::plane::{MediaCallId, MediaEvent, MediaPlane, NeedSocket, SocketId, WallClock};
use portal_media::prompts::PromptLibrary;
use portal_notify::Outbox;
use portal_session::{Session, SessionConfig, SessionInput, SessionOutput};
use portal_sip::endpoint::{CallHandle, Config, Endpoint, Event, Transport};
use portal_store::{AccountStore, Moment, SqliteStore};
use vportal::bridge::{Services, carry_out, route};

/// The portal's SIP address on the simulated network.
pub const PORTAL_SIP: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 5060);
/// The first RTP port the portal binds.
const FIRST_RTP_PORT: u16 = 20_000;

/// Timers of the pair tests: the portal's defaults, except what a test changes.
#[derive(Clone, Debug)]
pub struct ServerTimers {
    /// The conversation's timers.
    pub call: CallConfig,
    /// How long store work takes before its answer comes back.
    pub store_latency: Duration,
    /// The answer delay.
    pub answer_after: Duration,
    /// Networks whose callers are recognised by From (the portal's `[sip] identify_from`).
    pub identify_from: Vec<portal_sip::access::IpNetwork>,
    /// Trusted peers (the portal's `[sip] trusted`): PBXs whose redirections and assertions are believed.
    pub trusted: Vec<portal_sip::access::IpNetwork>,
}

impl Default for ServerTimers {
    fn default() -> Self {
        ServerTimers {
            call: CallConfig::default(),
            store_latency: Duration::from_millis(5),
            answer_after: Duration::ZERO,
            identify_from: vec!["10.0.0.0/8".parse().unwrap()],
            trusted: Vec::new(),
        }
    }
}

/// What the server did, for assertions.
#[derive(Debug, Default)]
pub struct ServerLog {
    /// Every audit the conversations reported, by call.
    pub audits: Vec<(CallHandle, Audit)>,
    /// Final statuses the server refused calls with.
    pub refusals: Vec<u16>,
}

/// The portal.
pub struct SimServer {
    pub endpoint: Endpoint,
    pub plane: MediaPlane,
    pub store: SqliteStore,
    notifier: Outbox,
    config: Arc<SessionConfig>,
    store_latency: Duration,
    at: Moment,
    sessions: HashMap<CallHandle, Session>,
    media_calls: HashMap<CallHandle, MediaCallId>,
    calls_by_media: HashMap<MediaCallId, CallHandle>,
    /// The plane's sockets' addresses (RTP and RTCP), by socket id.
    rtp_sockets: Vec<Option<SocketAddr>>,
    next_rtp_port: u16,
    /// Inputs that arrive later (store answers), with when.
    delayed: Vec<(Instant, CallHandle, SessionInput)>,
    next_session_id: u64,
    pub log: ServerLog,
}

impl SimServer {
    /// A portal over the store in `data` (already seeded), speaking the repository's prompts.
    pub fn new(
        data: &Path,
        store: SqliteStore,
        prompts: Arc<PromptLibrary>,
        timers: ServerTimers,
    ) -> SimServer {
        let mut config = Config::new(PORTAL_SIP);
        // The simulated network is private: its phones are recognised by From, as the portal's default does.
        config.access.identify_from = timers.identify_from.clone();
        config.access.trusted = timers.trusted.clone();
        let endpoint = Endpoint::new(config);
        SimServer {
            endpoint,
            plane: MediaPlane::new(7, WallClock::now()),
            store,
            notifier: Outbox::in_data_dir(data, "vportal <voicemail@localhost>").unwrap(),
            config: Arc::new(SessionConfig {
                voicemail_pilots: vec!["voicemail".into()],
                answer_after: timers.answer_after,
                call: timers.call,
                recording_end_silence: Duration::from_secs(3),
                prompts,
            }),
            store_latency: timers.store_latency,
            at: Moment::now_utc(),
            sessions: HashMap::new(),
            media_calls: HashMap::new(),
            calls_by_media: HashMap::new(),
            rtp_sockets: Vec::new(),
            next_rtp_port: FIRST_RTP_PORT,
            delayed: Vec::new(),
            next_session_id: 1,
            log: ServerLog::default(),
        }
    }

    /// Whether `addr` is one of the portal's (SIP or RTP).
    pub fn owns(&self, addr: SocketAddr) -> bool {
        addr == PORTAL_SIP || self.rtp_socket(addr).is_some()
    }

    fn rtp_socket(&self, addr: SocketAddr) -> Option<SocketId> {
        self.rtp_sockets
            .iter()
            .position(|socket| *socket == Some(addr))
            .map(|index| SocketId(index as u32))
    }

    /// Calls in progress.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// A datagram for the portal.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        bytes: &[u8],
    ) {
        if to == PORTAL_SIP {
            let _ = self
                .endpoint
                .handle_datagram(now, from, Transport::Udp, bytes);
        } else if let Some(socket) = self.rtp_socket(to) {
            self.plane.handle_datagram(now, socket, from, bytes);
        }
        self.process(now);
    }

    /// The earliest of the endpoint's, the plane's, the sessions' and the store's deadlines.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let delayed = self.delayed.iter().map(|(at, _, _)| *at);
        let sessions = self.sessions.values().filter_map(Session::poll_timeout);
        [self.endpoint.poll_timeout(), self.plane.poll_timeout()]
            .into_iter()
            .flatten()
            .chain(delayed)
            .chain(sessions)
            .min()
    }

    /// Fires everything due by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.endpoint.poll_timeout().is_some_and(|due| due <= now) {
            self.endpoint.handle_timeout(now);
        }
        if self.plane.poll_timeout().is_some_and(|due| due <= now) {
            self.plane.handle_timeout(now);
        }
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.delayed)
            .into_iter()
            .partition(|(at, _, _)| *at <= now);
        self.delayed = later;
        for (_, call, input) in due {
            if let Some(session) = self.sessions.get_mut(&call) {
                session.handle(input, now);
            }
        }
        for session in self.sessions.values_mut() {
            if session.poll_timeout().is_some_and(|due| due <= now) {
                session.handle_timeout(now);
            }
        }
        self.process(now);
    }

    /// Datagrams to send: (from, to, bytes).
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, SocketAddr, Vec<u8>)> {
        if let Some(transmit) = self.endpoint.poll_transmit() {
            return Some((PORTAL_SIP, transmit.to, transmit.bytes));
        }
        let transmit = self.plane.poll_transmit()?;
        let from = self.rtp_sockets[transmit.socket.0 as usize].expect("a socket the plane uses");
        Some((from, transmit.destination, transmit.payload.to_vec()))
    }

    /// Carries events and outputs between the endpoint, the sessions and the plane until all are quiet.
    fn process(&mut self, now: Instant) {
        loop {
            let mut busy = false;
            while let Some(event) = self.endpoint.poll_event() {
                busy = true;
                self.endpoint_event(event, now);
            }
            while let Some(event) = self.plane.poll_event() {
                busy = true;
                let call = match &event {
                    MediaEvent::Key { call, .. }
                    | MediaEvent::PlaylistDone { call, .. }
                    | MediaEvent::RecordingDone { call, .. } => *call,
                };
                if let Some(handle) = self.calls_by_media.get(&call)
                    && let Some(session) = self.sessions.get_mut(handle)
                {
                    session.handle(SessionInput::Media(event), now);
                }
            }
            let handles: Vec<CallHandle> = self.sessions.keys().copied().collect();
            for handle in handles {
                while let Some(output) = self
                    .sessions
                    .get_mut(&handle)
                    .and_then(Session::poll_output)
                {
                    busy = true;
                    self.carry_out(handle, output, now);
                }
            }
            if !busy {
                return;
            }
        }
    }

    fn endpoint_event(&mut self, event: Event, now: Instant) {
        let (call, input) = match event {
            Event::IncomingCall(incoming) => {
                let call = incoming.call;
                self.next_session_id += 1;
                let session =
                    Session::new(incoming, Arc::clone(&self.config), self.next_session_id);
                self.sessions.insert(call, session);
                return;
            }
            Event::CallAcked { call, answer } => (call, SessionInput::Acked(answer)),
            Event::Dtmf { call, digit, .. } => (call, SessionInput::InfoDigit(digit)),
            Event::MediaChanged { call, offer } => (call, SessionInput::MediaChanged(offer)),
            // The pair tests run over UDP only.
            Event::CloseConnection { .. } => return,
            Event::CallCancelled { call }
            | Event::CallEnded { call, .. }
            | Event::CallFailed { call, .. } => (call, SessionInput::Ended),
        };
        if let Some(session) = self.sessions.get_mut(&call) {
            session.handle(input, now);
        }
    }

    /// What `vportal serve`'s call task does with each output, on the simulated clock.
    fn carry_out(&mut self, call: CallHandle, output: SessionOutput, now: Instant) {
        let media = self.media_calls.get(&call).copied();
        match output {
            SessionOutput::Route(query) => {
                let routing = route(&self.store, &query, self.at);
                self.later(now, call, SessionInput::Routed(routing));
            }
            SessionOutput::OpenMedia { remote_hint } => {
                let opened = match self.plane.open(now, remote_hint) {
                    Ok(id) => Some(id),
                    Err(NeedSocket) => {
                        // An RTP port and its RTCP port above it, as serve binds them.
                        let local = SocketAddr::new(PORTAL_SIP.ip(), self.next_rtp_port);
                        let rtcp = SocketAddr::new(PORTAL_SIP.ip(), self.next_rtp_port + 1);
                        self.next_rtp_port += 2;
                        let socket = self.plane.add_socket(local);
                        self.keep_socket(socket, local);
                        let rtcp_socket = self.plane.add_rtcp_socket(socket, rtcp);
                        self.keep_socket(rtcp_socket, rtcp);
                        self.plane.open(now, remote_hint).ok()
                    }
                };
                let local = opened.and_then(|id| {
                    self.media_calls.insert(call, id);
                    self.calls_by_media.insert(id, call);
                    self.plane.local_addr(id)
                });
                if let Some(session) = self.sessions.get_mut(&call) {
                    session.handle(SessionInput::MediaOpened(local), now);
                }
            }
            SessionOutput::Stream(setup) => {
                if let Some(id) = media {
                    self.plane.stream(now, id, setup);
                }
            }
            SessionOutput::Play(play, items) => {
                if let Some(id) = media {
                    self.plane.play(id, play, items);
                }
            }
            SessionOutput::StopPlayback => {
                if let Some(id) = media {
                    self.plane.stop_playback(id);
                }
            }
            SessionOutput::SkipPlayback { back, by } => {
                if let Some(id) = media {
                    self.plane.skip_playback(id, back, by);
                }
            }
            SessionOutput::Record(config) => {
                if let Some(id) = media {
                    self.plane.record(now, id, config);
                }
            }
            SessionOutput::StopRecording => {
                if let Some(id) = media {
                    self.plane.stop_recording(id);
                }
            }
            SessionOutput::Answer(sdp) => {
                let _ = self.endpoint.answer(now, call, &sdp);
            }
            SessionOutput::Reject(status) => {
                self.log.refusals.push(status);
                let _ = self.endpoint.reject(now, call, status);
            }
            SessionOutput::HangUp => {
                let _ = self.endpoint.hang_up(now, call);
            }
            SessionOutput::Store(job) => {
                let Some(session) = self.sessions.get(&call) else {
                    return;
                };
                let Some(route) = session.route() else {
                    return;
                };
                let services = Services {
                    store: &self.store as &dyn AccountStore,
                    notifier: &self.notifier,
                    time_zone: &jiff::tz::TimeZone::UTC,
                };
                let reply = carry_out(
                    services,
                    &route.portal,
                    &session.source(),
                    job.request,
                    job.audio.as_deref(),
                    self.at,
                );
                self.later(now, call, SessionInput::StoreReply(job.id, reply));
            }
            SessionOutput::Audit(audit) => self.log.audits.push((call, audit)),
            SessionOutput::Finished => {
                self.sessions.remove(&call);
                if let Some(id) = self.media_calls.remove(&call) {
                    self.calls_by_media.remove(&id);
                    if let Some(released) = self.plane.close(id) {
                        for socket in [Some(released.rtp), released.rtcp].into_iter().flatten() {
                            self.rtp_sockets[socket.0 as usize] = None;
                        }
                    }
                }
            }
        }
    }

    /// Remembers the address of the plane's socket `id` (RTP or RTCP).
    fn keep_socket(&mut self, id: SocketId, local: SocketAddr) {
        let index = id.0 as usize;
        if self.rtp_sockets.len() <= index {
            self.rtp_sockets.resize(index + 1, None);
        }
        self.rtp_sockets[index] = Some(local);
    }

    fn later(&mut self, now: Instant, call: CallHandle, input: SessionInput) {
        self.delayed.push((now + self.store_latency, call, input));
    }
}
