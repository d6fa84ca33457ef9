//! `vportal serve`: the SIP/RTP front end on a tokio runtime, a thin driver of the sans-IO values.
//!
//! One signalling task owns the sans-IO SIP [`Endpoint`] and the SIP sockets (UDP, and TCP connections framed
//! by Content-Length). Each call runs in a task of its own ([`call`]) that drives a
//! [`portal_session::Session`] and wakes only for its inputs (a key, the end of a prompt, a store reply, a SIP
//! message, a timer). Media threads ([`media`], `[media] threads`, one per core by default) each drive a
//! [`portal_media::MediaPlane`] that paces its share of the calls' RTP over its own shared RTP sockets and
//! reads what their callers send; a call stays on the thread it was opened on. Store work runs on bounded
//! [`BlockingPool`]s, never on a media thread: passcode work (argon2) on `store_threads` threads at a lower
//! priority (`vportal-passcode`), and routing, caller lookups and recordings on a thread of their own
//! (`vportal-lookup`), so new calls never wait behind a login storm.

mod call;
mod maintenance;
mod media;
mod media_thread;
mod priority;
pub mod reload;
mod security;
mod tcp;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use portal_core::CallConfig;
use portal_media::prompts::PromptLibrary;
use portal_notify::Notifier;
use portal_session::{SessionConfig, SessionInput};
use portal_sip::access::AccessPolicy;
use portal_sip::endpoint::{
    CallHandle, ConnectionId, ConnectionLimits, Direction, Endpoint, Event, Transport,
};
use portal_sip::sdp::SessionDescription;
use portal_store::{BlockingPool, SqliteStore};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::Instrument;

pub use crate::config::{MediaSettings, RtpSettings, ServeSettings, SipSettings, TimerSettings};
use crate::telemetry::{self, Readiness};
pub use media::{MediaStats, MediaThreadStats};
use security::SecurityLog;
use tcp::TcpEvent;

/// How often the SIP endpoint's counts are copied into the metrics.
const STATISTICS_INTERVAL: Duration = Duration::from_secs(1);

/// How long accepting stops after an accept failed (so running out of descriptors is no busy loop).
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The settings do not work together.
    #[error("{0}")]
    Settings(String),
    /// The prompts could not be loaded.
    #[error("prompts: {0}")]
    Prompts(#[from] portal_media::prompts::PromptError),
    /// The bound SIP socket could not tell its own address.
    #[error("the SIP socket's local address: {0}")]
    LocalAddress(#[source] std::io::Error),
    /// A store thread pool could not start.
    #[error("the {pool} threads: {source}")]
    StorePool {
        /// Which pool.
        pool: &'static str,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A media thread could not start.
    #[error("the media threads: {0}")]
    MediaThread(#[source] std::io::Error),
}

/// What every call shares.
pub(crate) struct Shared {
    pub store: Arc<SqliteStore>,
    pub notifier: Arc<dyn Notifier>,
    /// Passcode work (argon2): `store_threads` threads at a lower priority.
    pub passcode_pool: BlockingPool,
    /// Quick store work (routing, caller lookups, recordings): one thread.
    pub lookup_pool: BlockingPool,
    /// What every new call's session shares: pilots, answer delay, timers, prompts. A reload replaces it;
    /// calls in progress keep the one they started with.
    pub session: std::sync::RwLock<Arc<SessionConfig>>,
    pub settings: ServeSettings,
    pub rtp_ip: IpAddr,
    pub media: media::MediaHandle,
    /// Whether the server takes calls (for `/readyz`).
    pub readiness: Readiness,
    /// Where message envelopes are said in (`[messages] time_zone`).
    pub time_zone: jiff::tz::TimeZone,
}

/// What a call task asks of the signalling task.
#[derive(Debug)]
pub(crate) enum ToSignalling {
    Answer(CallHandle, SessionDescription),
    Reject(CallHandle, u16),
    HangUp(CallHandle),
    Finished(CallHandle),
}

/// A running server.
pub struct Server {
    /// Where SIP listens (UDP and TCP).
    pub sip_addr: SocketAddr,
    shared: Arc<Shared>,
    udp: Arc<UdpSocket>,
    tcp: TcpListener,
    access: AccessPolicy,
}

impl Server {
    /// Opens the sockets and loads the prompts.
    pub async fn bind(
        store: Arc<SqliteStore>,
        notifier: Arc<dyn Notifier>,
        settings: ServeSettings,
    ) -> Result<Server, ServeError> {
        let access = settings.sip.access_policy().map_err(ServeError::Settings)?;
        if settings.rtp.port_min > settings.rtp.port_max || settings.rtp.port_min == 0 {
            return Err(ServeError::Settings(format!(
                "the RTP port range {}-{} is empty",
                settings.rtp.port_min, settings.rtp.port_max
            )));
        }
        let udp = UdpSocket::bind(settings.sip.listen)
            .await
            .map_err(|source| ServeError::Bind {
                addr: settings.sip.listen,
                source,
            })?;
        let sip_addr = udp.local_addr().map_err(ServeError::LocalAddress)?;
        let tcp = TcpListener::bind(sip_addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: sip_addr,
                source,
            })?;
        let rtp_ip = match settings.rtp.address {
            Some(ip) => ip,
            None if sip_addr.ip().is_unspecified() => {
                return Err(ServeError::Settings(
                    "SIP listens on a wildcard address: set [rtp] address to the address phones reach".into(),
                ));
            }
            None => sip_addr.ip(),
        };
        let prompts = PromptLibrary::load(&settings.media.prompts, &["en", "es"])?;
        let time_zone = settings.messages.zone().map_err(ServeError::Settings)?;
        let lookup_pool = BlockingPool::new(1, 4096, "vportal-lookup").map_err(|source| {
            ServeError::StorePool {
                pool: "lookup",
                source,
            }
        })?;
        let passcode_pool = BlockingPool::with_thread_start(
            settings.media.store_threads,
            4096,
            "vportal-passcode",
            priority::yield_to_media,
        )
        .map_err(|source| ServeError::StorePool {
            pool: "passcode",
            source,
        })?;
        let media = media::MediaHandle::start(
            rtp_ip,
            (settings.rtp.port_min, settings.rtp.port_max),
            settings.media.threads,
        )
        .map_err(ServeError::MediaThread)?;
        let shared = Arc::new(Shared {
            store,
            notifier,
            passcode_pool,
            lookup_pool,
            session: std::sync::RwLock::new(Arc::new(session_config(&settings, Arc::new(prompts)))),
            media,
            settings,
            rtp_ip,
            readiness: Readiness::default(),
            time_zone,
        });
        Ok(Server {
            sip_addr,
            shared,
            udp: Arc::new(udp),
            tcp,
            access,
        })
    }

    /// The RTP address and port range.
    pub fn rtp_description(&self) -> String {
        format!(
            "{} ports {}-{}",
            self.shared.rtp_ip,
            self.shared.settings.rtp.port_min,
            self.shared.settings.rtp.port_max
        )
    }

    /// Whether the server takes calls: set while [`Server::run`] serves, cleared when it starts shutting down.
    pub fn readiness(&self) -> Readiness {
        self.shared.readiness.clone()
    }

    /// Reads each media thread's calls and pacing (for metrics); take it before [`Server::run`].
    pub fn media_stats(&self) -> MediaStats {
        self.shared.media.stats()
    }

    /// Runs until `shutdown` resolves; then refuses new calls (503), hangs up the calls in progress and returns
    /// once they have ended (or after 5 s).
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let (_keep, reloads) = mpsc::unbounded_channel();
        self.run_with_reloads(shutdown, reloads).await;
    }

    /// [`Server::run`], applying the reloadable parts of each settings that arrive on `reloads` (see
    /// [`reload`]).
    pub async fn run_with_reloads(
        self,
        shutdown: impl std::future::Future<Output = ()>,
        reloads: mpsc::UnboundedReceiver<ServeSettings>,
    ) {
        let access = self.access;
        let sweeping = tokio::spawn(maintenance::sweep_messages(Arc::clone(&self.shared)));
        let mut signalling = Signalling::new(self.shared, self.udp, self.sip_addr, access);
        signalling.run(self.tcp, shutdown, reloads).await;
        sweeping.abort();
    }
}

/// What every call's session shares, from the settings.
fn session_config(settings: &ServeSettings, prompts: Arc<PromptLibrary>) -> SessionConfig {
    let timers = &settings.timers;
    SessionConfig {
        voicemail_pilots: settings.sip.voicemail_pilots.clone(),
        answer_after: Duration::from_millis(settings.sip.answer_after_ms),
        call: CallConfig {
            first_digit_timeout: Duration::from_millis(timers.first_digit_ms),
            inter_digit_timeout: Duration::from_millis(timers.inter_digit_ms),
            max_silent_reprompts: timers.max_silent_reprompts,
            min_recording: Duration::from_millis(timers.min_recording_ms),
            max_recording: Duration::from_millis(timers.max_recording_ms),
            ..CallConfig::default()
        },
        recording_end_silence: Duration::from_millis(timers.recording_end_silence_ms),
        prompts,
    }
}

struct Signalling {
    shared: Arc<Shared>,
    endpoint: Endpoint,
    udp: Arc<UdpSocket>,
    calls: HashMap<CallHandle, mpsc::UnboundedSender<SessionInput>>,
    /// Each connection's writer; dropping one closes its connection once what was queued is written.
    tcp_writers: HashMap<ConnectionId, mpsc::UnboundedSender<Vec<u8>>>,
    security: SecurityLog,
    /// The settings in force: those the server started with, with the reloaded parts of later ones.
    settings: ServeSettings,
    /// Shutting down: new calls get 503 for that reason, not the rate limit.
    stopping: bool,
    from_calls: mpsc::UnboundedReceiver<ToSignalling>,
    to_signalling: mpsc::UnboundedSender<ToSignalling>,
    next_connection: u64,
}

impl Signalling {
    fn new(
        shared: Arc<Shared>,
        udp: Arc<UdpSocket>,
        sip_addr: SocketAddr,
        access: AccessPolicy,
    ) -> Signalling {
        let mut config = portal_sip::endpoint::Config::new(sip_addr);
        config.access = access;
        config.timers.t1 = Duration::from_millis(shared.settings.sip.t1_ms.max(1));
        let sip = &shared.settings.sip;
        let budget = tcp::connection_budget().unwrap_or(sip.tcp_max_connections);
        config.connections = ConnectionLimits {
            idle_timeout: Duration::from_secs(sip.tcp_idle_timeout_s.max(1)),
            max_connections: sip.tcp_max_connections.min(budget),
            max_per_source: sip.tcp_max_connections_per_source,
        };
        if budget < sip.tcp_max_connections {
            tracing::warn!(
                max_connections = budget,
                "the open-file limit leaves room for fewer TCP connections than configured"
            );
        }
        let (to_signalling, from_calls) = mpsc::unbounded_channel();
        let settings = shared.settings.clone();
        Signalling {
            shared,
            endpoint: Endpoint::new(config),
            udp,
            calls: HashMap::new(),
            tcp_writers: HashMap::new(),
            security: SecurityLog::default(),
            settings,
            stopping: false,
            from_calls,
            to_signalling,
            next_connection: 0,
        }
    }

    async fn run(
        &mut self,
        tcp: TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
        mut reloads: mpsc::UnboundedReceiver<ServeSettings>,
    ) {
        let (tcp_events, mut tcp_rx) = mpsc::unbounded_channel();
        let mut buffer = vec![0u8; 65_536];
        let mut accept_paused_until = Instant::now();
        tokio::pin!(shutdown);
        let mut stopping_since: Option<Instant> = None;
        let mut publish = tokio::time::interval(STATISTICS_INTERVAL);
        self.shared.readiness.set(true);
        loop {
            self.flush().await;
            if let Some(since) = stopping_since
                && (self.calls.is_empty() || since.elapsed() > Duration::from_secs(5))
            {
                self.flush().await;
                return;
            }
            let deadline = self
                .endpoint
                .poll_timeout()
                .map(Instant::from_std)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                received = self.udp.recv_from(&mut buffer) => match received {
                    Ok((len, from)) => {
                        let _ = self.endpoint.handle_datagram(std::time::Instant::now(), from, Transport::Udp, &buffer[..len]);
                    }
                    Err(error) => tracing::debug!(%error, "SIP UDP receive failed"),
                },
                accepted = tcp.accept(), if Instant::now() >= accept_paused_until => match accepted {
                    Ok((stream, peer)) => self.accepted(stream, peer, &tcp_events),
                    Err(error) => {
                        // Out of descriptors, most likely: wait a little instead of spinning on accept.
                        self.security.note(std::time::Instant::now(), None, "accept failed", &error.to_string());
                        accept_paused_until = Instant::now() + ACCEPT_PAUSE;
                    }
                },
                _ = tokio::time::sleep_until(accept_paused_until), if Instant::now() < accept_paused_until => {}
                Some(event) = tcp_rx.recv() => match event {
                    TcpEvent::Data(id, from, bytes) => {
                        let framed = self.endpoint.handle_datagram(std::time::Instant::now(), from, Transport::Tcp(id), &bytes);
                        if let Err(error) = framed {
                            self.security.note(std::time::Instant::now(), Some(from.ip()), "unframeable stream", &error.to_string());
                            // Send what the endpoint answered (a 513) before the connection closes.
                            self.flush().await;
                            self.tcp_writers.remove(&id);
                        }
                    }
                    TcpEvent::Closed(id) => {
                        self.tcp_writers.remove(&id);
                        self.endpoint.connection_closed(id);
                    }
                },
                Some(command) = self.from_calls.recv() => self.command(command),
                _ = tokio::time::sleep_until(deadline) => self.endpoint.handle_timeout(std::time::Instant::now()),
                _ = publish.tick() => self.publish_statistics(),
                Some(settings) = reloads.recv() => self.reload(settings),
                _ = &mut shutdown, if stopping_since.is_none() => {
                    self.shared.readiness.set(false);
                    tracing::info!(calls = self.calls.len(), "shutting down: refusing new calls, ending calls in progress");
                    self.endpoint.set_refusing_new_calls(true);
                    self.stopping = true;
                    for call in self.calls.values() {
                        let _ = call.send(SessionInput::Shutdown);
                    }
                    stopping_since = Some(Instant::now());
                }
            }
            self.events();
        }
    }

    /// A TCP connection came in: served, or closed at once when a cap is reached.
    fn accepted(
        &mut self,
        stream: TcpStream,
        peer: SocketAddr,
        events: &mpsc::UnboundedSender<TcpEvent>,
    ) {
        self.next_connection += 1;
        let id = ConnectionId(self.next_connection);
        let now = std::time::Instant::now();
        if let Err(refused) = self.endpoint.connection_opened(now, id, peer) {
            self.security.note(
                now,
                Some(peer.ip()),
                "connection refused",
                &refused.to_string(),
            );
            return; // dropping the stream closes it
        }
        let (writer, writes) = mpsc::unbounded_channel();
        self.tcp_writers.insert(id, writer);
        tokio::spawn(tcp::serve_connection(
            stream,
            peer,
            id,
            events.clone(),
            writes,
        ));
    }

    fn command(&mut self, command: ToSignalling) {
        let now = std::time::Instant::now();
        let result = match command {
            ToSignalling::Answer(call, sdp) => self.endpoint.answer(now, call, &sdp),
            ToSignalling::Reject(call, status) => {
                self.calls.remove(&call);
                self.endpoint.reject(now, call, status)
            }
            ToSignalling::HangUp(call) => self.endpoint.hang_up(now, call),
            ToSignalling::Finished(call) => {
                self.calls.remove(&call);
                Ok(())
            }
        };
        if let Err(error) = result {
            tracing::debug!(%error, "SIP command not applicable");
        }
    }

    fn events(&mut self) {
        let now = std::time::Instant::now();
        while let Some(refusal) = self.endpoint.poll_refusal() {
            let kind = match refusal.status {
                None => "rate limit, dropped",
                Some(400) => "unreadable request",
                Some(403) => "network not allowed",
                Some(404) => "no such number",
                Some(405 | 501) => "method not served",
                Some(503) if !self.stopping => "rate limit",
                Some(513) => "message too large",
                Some(_) => "refused",
            };
            let status = refusal.status.map(|status| status.to_string());
            self.security.note(
                now,
                Some(refusal.from),
                kind,
                status.as_deref().unwrap_or("no answer"),
            );
        }
        while let Some(event) = self.endpoint.poll_event() {
            match event {
                Event::IncomingCall(incoming) => {
                    let (to_call, inputs) = mpsc::unbounded_channel();
                    self.calls.insert(incoming.call, to_call.clone());
                    let shared = Arc::clone(&self.shared);
                    let to_signalling = self.to_signalling.clone();
                    // One span per call, carrying its Call-ID, over everything the call's task does.
                    let span = tracing::info_span!("call", call_id = %incoming.call_id);
                    tokio::spawn(
                        call::run(shared, incoming, to_call, inputs, to_signalling)
                            .instrument(span),
                    );
                }
                Event::CallAcked { call, answer } => self.tell(call, SessionInput::Acked(answer)),
                Event::Dtmf { call, digit, .. } => self.tell(call, SessionInput::InfoDigit(digit)),
                Event::MediaChanged { call, offer } => {
                    self.tell(call, SessionInput::MediaChanged(offer))
                }
                Event::CloseConnection { connection } => {
                    tracing::debug!(?connection, "closing an idle SIP connection");
                    self.tcp_writers.remove(&connection);
                }
                Event::CallCancelled { call }
                | Event::CallEnded { call, .. }
                | Event::CallFailed { call, .. } => {
                    if let Some(task) = self.calls.remove(&call) {
                        let _ = task.send(SessionInput::Ended);
                    }
                }
            }
        }
    }

    /// Copies the endpoint's counts into the metrics (they are the endpoint's, so they are set, not added).
    fn publish_statistics(&self) {
        let statistics = self.endpoint.statistics();
        for (direction, method, count) in statistics.requests() {
            metrics::counter!(telemetry::SIP_REQUESTS, "direction" => direction_label(direction), "method" => method)
                .absolute(count);
        }
        for (direction, status, count) in statistics.responses() {
            metrics::counter!(telemetry::SIP_RESPONSES, "direction" => direction_label(direction), "status" => status.to_string())
                .absolute(count);
        }
        metrics::counter!(telemetry::SIP_UNREADABLE).absolute(statistics.unreadable());
        let limited = self.endpoint.rate_limited();
        metrics::counter!(telemetry::RATE_LIMITED, "action" => "refused").absolute(limited.refused);
        metrics::counter!(telemetry::RATE_LIMITED, "action" => "dropped").absolute(limited.dropped);
        metrics::gauge!(telemetry::CALLS_IN_PROGRESS).set(self.calls.len() as f64);
        let mut lateness = portal_media::plane::LatenessCounts::default();
        let mut held_up = 0;
        for (index, thread) in self.shared.media.stats().threads().iter().enumerate() {
            lateness.merge(&thread.pacing_lateness);
            held_up += thread.times_held_up;
            metrics::gauge!(telemetry::MEDIA_THREAD_CALLS, "thread" => index.to_string())
                .set(thread.calls as f64);
        }
        for (bucket, frames) in telemetry::LATE_BY.iter().zip(lateness.buckets()) {
            metrics::counter!(telemetry::FRAMES_LATE, "late_by" => *bucket).absolute(frames);
        }
        metrics::counter!(telemetry::FRAMES_SENT).absolute(lateness.frames());
        metrics::counter!(telemetry::MEDIA_HELD_UP).absolute(held_up);
    }

    fn tell(&self, call: CallHandle, message: SessionInput) {
        if let Some(task) = self.calls.get(&call) {
            let _ = task.send(message);
        }
    }

    async fn flush(&mut self) {
        while let Some(transmit) = self.endpoint.poll_transmit() {
            match transmit.transport {
                Transport::Udp => {
                    if let Err(error) = self.udp.send_to(&transmit.bytes, transmit.to).await {
                        tracing::debug!(%error, to = %transmit.to, "SIP UDP send failed");
                    }
                }
                Transport::Tcp(id) => {
                    if let Some(writer) = self.tcp_writers.get(&id) {
                        let _ = writer.send(transmit.bytes);
                    }
                }
            }
        }
    }
}

fn direction_label(direction: Direction) -> &'static str {
    match direction {
        Direction::Received => "received",
        Direction::Sent => "sent",
    }
}
