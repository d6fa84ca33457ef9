//! `vportal serve`: the SIP/RTP front end on a tokio runtime.
//!
//! One signalling task owns the sans-IO SIP [`Endpoint`] and the SIP sockets (UDP, and TCP connections framed
//! by Content-Length). Each call runs in a task of its own ([`call`]) that owns the conversation core and wakes
//! only for events: a key, the end of a prompt, a store reply, a SIP message, a conversation timer. One media
//! thread ([`media`]) paces every call's RTP from a 20-slot wheel over shared RTP sockets and reads what
//! callers send. Store work runs on bounded [`BlockingPool`]s, never on the media thread: passcode work
//! (argon2) on `store_threads` threads at a lower priority, and quick work (routing, lookups, recordings) on a
//! thread of its own so new calls never wait behind a login storm.

mod call;
mod media;
mod priority;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use portal_media::prompts::PromptLibrary;
use portal_notify::Notifier;
use portal_sip::access::{AccessPolicy, IpNetwork, RateLimit};
use portal_sip::endpoint::{CallHandle, ConnectionId, Endpoint, Event, Transport};
use portal_sip::sdp::SessionDescription;
use portal_store::{BlockingPool, SqliteStore};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::Instrument;

/// The `[sip]`, `[rtp]`, `[timers]` and `[media]` sections of the configuration file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServeSettings {
    /// `[sip]`
    pub sip: SipSettings,
    /// `[rtp]`
    pub rtp: RtpSettings,
    /// `[timers]`
    pub timers: TimerSettings,
    /// `[media]`
    pub media: MediaSettings,
}

/// Where SIP listens and which numbers mean what.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SipSettings {
    /// The address SIP listens on, UDP and TCP (`[::1]:5060` for IPv6).
    pub listen: SocketAddr,
    /// Request-URI users that mean "the voicemail button": the call goes to the caller's own portal.
    pub voicemail_pilots: Vec<String>,
    /// RFC 3261 T1 in milliseconds (tests shorten it).
    pub t1_ms: u64,
    /// How long a call waits before it is answered (0: at once). A caller may CANCEL meanwhile.
    pub answer_after_ms: u64,
    /// Networks whose requests are served (CIDR); others get 403. Default: loopback and private networks.
    pub allow: Vec<String>,
    /// Trusted peers (a PBX or SBC in front, CIDR): exempt from the rate limit; their P-Asserted-Identity names
    /// the caller.
    pub trusted: Vec<String>,
    /// New INVITEs per second one source may send on average (0: no limit); more get 503.
    pub invite_rate_per_second: f64,
    /// New INVITEs one source may send at once.
    pub invite_burst: u32,
}

impl SipSettings {
    /// The endpoint's access rules from these settings.
    pub fn access_policy(&self) -> Result<AccessPolicy, String> {
        let parse = |list: &[String]| {
            list.iter()
                .map(|text| text.parse::<IpNetwork>().map_err(|error| error.to_string()))
                .collect::<Result<Vec<_>, _>>()
        };
        if !self.invite_rate_per_second.is_finite() || self.invite_rate_per_second < 0.0 {
            return Err("[sip] invite_rate_per_second must be 0 or more".into());
        }
        Ok(AccessPolicy {
            allowed: parse(&self.allow)?,
            trusted: parse(&self.trusted)?,
            invite_rate: (self.invite_rate_per_second > 0.0).then_some(RateLimit {
                per_second: self.invite_rate_per_second,
                burst: self.invite_burst.max(1),
            }),
        })
    }
}

impl Default for SipSettings {
    fn default() -> Self {
        SipSettings {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 5060),
            voicemail_pilots: vec!["voicemail".into()],
            t1_ms: 500,
            answer_after_ms: 0,
            allow: [
                "127.0.0.0/8",
                "::1/128",
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "fc00::/7",
            ]
            .map(str::to_owned)
            .to_vec(),
            trusted: Vec::new(),
            invite_rate_per_second: 10.0,
            invite_burst: 20,
        }
    }
}

/// The RTP ports and the address announced in SDP.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RtpSettings {
    /// Lowest RTP port.
    pub port_min: u16,
    /// Highest RTP port.
    pub port_max: u16,
    /// The address phones send RTP to; by default the SIP listen address (which must then not be a wildcard).
    pub address: Option<IpAddr>,
}

impl Default for RtpSettings {
    fn default() -> Self {
        RtpSettings {
            port_min: 16384,
            port_max: 32767,
            address: None,
        }
    }
}

/// The conversation's timers.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct TimerSettings {
    /// Wait for the first key after a prompt.
    pub first_digit_ms: u64,
    /// Wait between keys of an entry.
    pub inter_digit_ms: u64,
    /// Silent re-prompts before goodbye.
    pub max_silent_reprompts: u8,
    /// Shortest recording kept.
    pub min_recording_ms: u64,
    /// Longest recording.
    pub max_recording_ms: u64,
    /// Silence after speech that ends a recording.
    pub recording_end_silence_ms: u64,
}

impl Default for TimerSettings {
    fn default() -> Self {
        TimerSettings {
            first_digit_ms: 10_000,
            inter_digit_ms: 5_000,
            max_silent_reprompts: 3,
            min_recording_ms: 1_000,
            max_recording_ms: 60_000,
            recording_end_silence_ms: 3_000,
        }
    }
}

/// Where the prompt recordings are.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct MediaSettings {
    /// The prompts directory (holding `<lang>/<id>.wav`).
    pub prompts: PathBuf,
    /// Threads for passcode work (argon2 verification and hashing, with its SQL). Routing, caller lookups and
    /// recordings have one thread of their own, so they never wait behind passcode work.
    pub store_threads: usize,
}

/// The prompts of this source tree, for a server started from elsewhere than the repository's root.
const BUILT_IN_PROMPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../prompts");

impl Default for MediaSettings {
    fn default() -> Self {
        let here = PathBuf::from("prompts");
        MediaSettings {
            prompts: if here.is_dir() {
                here
            } else {
                PathBuf::from(BUILT_IN_PROMPTS)
            },
            store_threads: 2,
        }
    }
}

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
    /// Another start-up failure.
    #[error("{0}")]
    Other(String),
}

/// What every call shares.
pub(crate) struct Shared {
    pub store: Arc<SqliteStore>,
    pub notifier: Arc<dyn Notifier>,
    /// Passcode work (argon2): `store_threads` threads at a lower priority.
    pub pool: BlockingPool,
    /// Quick store work (routing, caller lookups, recordings): one thread.
    pub quick_pool: BlockingPool,
    pub prompts: PromptLibrary,
    pub settings: ServeSettings,
    pub rtp_ip: IpAddr,
    pub media: media::MediaHandle,
}

/// What a call task asks of the signalling task.
#[derive(Debug)]
pub(crate) enum ToSignalling {
    Answer(CallHandle, SessionDescription),
    Reject(CallHandle, u16),
    HangUp(CallHandle),
    Finished(CallHandle),
}

/// What the signalling task tells a call task.
#[derive(Debug)]
pub(crate) enum ToCall {
    Acked(Option<SessionDescription>),
    InfoDigit(char),
    MediaChanged(Option<SessionDescription>),
    Ended,
    Shutdown,
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
        let sip_addr = udp
            .local_addr()
            .map_err(|e| ServeError::Other(e.to_string()))?;
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
        let quick_pool = BlockingPool::new(1, 4096, "vportal-lookup")
            .map_err(|e| ServeError::Other(e.to_string()))?;
        let pool = BlockingPool::with_thread_start(
            settings.media.store_threads,
            4096,
            "vportal-store",
            priority::yield_to_media,
        )
        .map_err(|e| ServeError::Other(e.to_string()))?;
        let media =
            media::MediaHandle::start(rtp_ip, (settings.rtp.port_min, settings.rtp.port_max))
                .map_err(|e| ServeError::Other(format!("media thread: {e}")))?;
        let shared = Arc::new(Shared {
            store,
            notifier,
            pool,
            quick_pool,
            prompts,
            media,
            settings,
            rtp_ip,
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

    /// Runs until `shutdown` resolves; then refuses new calls (503), hangs up the calls in progress and returns
    /// once they have ended (or after 5 s).
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let access = self.access;
        let mut signalling = Signalling::new(self.shared, self.udp, self.sip_addr, access);
        signalling.run(self.tcp, shutdown).await;
    }
}

enum TcpEvent {
    Data(ConnectionId, SocketAddr, Vec<u8>),
    Closed(ConnectionId),
}

struct Signalling {
    shared: Arc<Shared>,
    endpoint: Endpoint,
    udp: Arc<UdpSocket>,
    calls: HashMap<CallHandle, mpsc::UnboundedSender<ToCall>>,
    tcp_writers: HashMap<ConnectionId, mpsc::UnboundedSender<Vec<u8>>>,
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
        let (to_signalling, from_calls) = mpsc::unbounded_channel();
        Signalling {
            shared,
            endpoint: Endpoint::new(config),
            udp,
            calls: HashMap::new(),
            tcp_writers: HashMap::new(),
            from_calls,
            to_signalling,
            next_connection: 0,
        }
    }

    async fn run(&mut self, tcp: TcpListener, shutdown: impl std::future::Future<Output = ()>) {
        let (tcp_events, mut tcp_rx) = mpsc::unbounded_channel();
        let mut buffer = vec![0u8; 65_536];
        tokio::pin!(shutdown);
        let mut stopping_since: Option<Instant> = None;
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
                accepted = tcp.accept() => if let Ok((stream, peer)) = accepted {
                    self.next_connection += 1;
                    let id = ConnectionId(self.next_connection);
                    let (writer, writes) = mpsc::unbounded_channel();
                    self.tcp_writers.insert(id, writer);
                    tokio::spawn(serve_tcp(stream, peer, id, tcp_events.clone(), writes));
                },
                Some(event) = tcp_rx.recv() => match event {
                    TcpEvent::Data(id, from, bytes) => {
                        if self.endpoint.handle_datagram(std::time::Instant::now(), from, Transport::Tcp(id), &bytes).is_err() {
                            self.tcp_writers.remove(&id);
                            self.endpoint.connection_closed(id);
                        }
                    }
                    TcpEvent::Closed(id) => {
                        self.tcp_writers.remove(&id);
                        self.endpoint.connection_closed(id);
                    }
                },
                Some(command) = self.from_calls.recv() => self.command(command),
                _ = tokio::time::sleep_until(deadline) => self.endpoint.handle_timeout(std::time::Instant::now()),
                _ = &mut shutdown, if stopping_since.is_none() => {
                    tracing::info!(calls = self.calls.len(), "shutting down: refusing new calls, ending calls in progress");
                    self.endpoint.set_refusing_new_calls(true);
                    for call in self.calls.values() {
                        let _ = call.send(ToCall::Shutdown);
                    }
                    stopping_since = Some(Instant::now());
                }
            }
            self.events();
        }
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
        while let Some(event) = self.endpoint.poll_event() {
            match event {
                Event::IncomingCall(incoming) => {
                    let (to_call, from_signalling) = mpsc::unbounded_channel();
                    self.calls.insert(incoming.call, to_call);
                    let shared = Arc::clone(&self.shared);
                    let to_signalling = self.to_signalling.clone();
                    // One span per call, carrying its Call-ID, over everything the call's task does.
                    let span = tracing::info_span!("call", call_id = %incoming.call_id);
                    tokio::spawn(
                        call::run(shared, incoming, from_signalling, to_signalling)
                            .instrument(span),
                    );
                }
                Event::CallAcked { call, answer } => self.tell(call, ToCall::Acked(answer)),
                Event::Dtmf { call, digit, .. } => self.tell(call, ToCall::InfoDigit(digit)),
                Event::MediaChanged { call, offer } => self.tell(call, ToCall::MediaChanged(offer)),
                Event::CallCancelled { call }
                | Event::CallEnded { call, .. }
                | Event::CallFailed { call, .. } => {
                    if let Some(task) = self.calls.remove(&call) {
                        let _ = task.send(ToCall::Ended);
                    }
                }
            }
        }
    }

    fn tell(&self, call: CallHandle, message: ToCall) {
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

async fn serve_tcp(
    stream: TcpStream,
    peer: SocketAddr,
    id: ConnectionId,
    events: mpsc::UnboundedSender<TcpEvent>,
    mut writes: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let (mut reader, mut writer) = stream.into_split();
    let write_task = tokio::spawn(async move {
        while let Some(bytes) = writes.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });
    let mut buffer = vec![0u8; 16_384];
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(len) => {
                if events
                    .send(TcpEvent::Data(id, peer, buffer[..len].to_vec()))
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    let _ = events.send(TcpEvent::Closed(id));
    write_task.abort();
}
