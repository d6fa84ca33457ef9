//! Stream connections (TCP, and TLS when it comes): how many there are in all and per source, and how long one
//! may stay open without a complete message (a connection that carries a call in progress stays). An attacker's idle, half-sent or one-request connections are
//! closed after the idle timeout instead of holding file descriptors for ever; past the caps new connections
//! are refused before they can starve the RTP sockets and the store of descriptors.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::{ConnectionId, Endpoint, Event, Transmit, Transport};
use crate::codec::FramingError;
use crate::timer::TimerOwner;

/// How many stream connections, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A connection with no complete message (or RFC 5626 keep-alive ping) for this long is closed.
    pub idle_timeout: Duration,
    /// Connections open at once, from everyone.
    pub max_connections: usize,
    /// Connections open at once from one IP address.
    pub max_per_source: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_per_source: 32,
        }
    }
}

/// Why [`Endpoint::connection_opened`] refused a connection: close it at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionRefused {
    /// As many connections are open as [`ConnectionLimits::max_connections`].
    #[error("the stream connection limit is reached")]
    TooMany,
    /// The source has [`ConnectionLimits::max_per_source`] connections open.
    #[error("this source has as many stream connections as it may")]
    TooManyFromSource,
}

#[derive(Debug)]
struct Connection {
    peer: SocketAddr,
    /// Closed when this passes without a complete message.
    idle_deadline: Instant,
}

/// The open stream connections.
#[derive(Debug, Default)]
pub(super) struct Connections {
    by_id: HashMap<ConnectionId, Connection>,
    per_source: HashMap<IpAddr, usize>,
}

impl Connections {
    fn remove(&mut self, id: ConnectionId) -> bool {
        let Some(connection) = self.by_id.remove(&id) else {
            return false;
        };
        let source = connection.peer.ip();
        if let Some(count) = self.per_source.get_mut(&source) {
            *count -= 1;
            if *count == 0 {
                self.per_source.remove(&source);
            }
        }
        true
    }

    pub(super) fn deadline(&self, id: ConnectionId) -> Option<Instant> {
        self.by_id
            .get(&id)
            .map(|connection| connection.idle_deadline)
    }

    pub(super) fn len(&self) -> usize {
        self.by_id.len()
    }
}

impl Endpoint {
    /// The driver accepted a stream connection from `peer`. `Err`: close it at once (a cap is reached); `Ok`:
    /// it is closed by [`Event::CloseConnection`] once idle for the configured time.
    pub fn connection_opened(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        peer: SocketAddr,
    ) -> Result<(), ConnectionRefused> {
        let limits = self.config.connections;
        if self.connections.by_id.len() >= limits.max_connections {
            return Err(ConnectionRefused::TooMany);
        }
        let from_source = self.connections.per_source.entry(peer.ip()).or_default();
        if *from_source >= limits.max_per_source {
            return Err(ConnectionRefused::TooManyFromSource);
        }
        *from_source += 1;
        self.track_connection(now, connection, peer);
        Ok(())
    }

    /// Files an open connection (already counted for its source) and starts its idle timer.
    fn track_connection(&mut self, now: Instant, connection: ConnectionId, peer: SocketAddr) {
        let idle_deadline = now + self.config.connections.idle_timeout;
        self.connections.by_id.insert(
            connection,
            Connection {
                peer,
                idle_deadline,
            },
        );
        self.timers
            .schedule(idle_deadline, TimerOwner::Connection(connection.0));
    }

    /// The driver closed or lost a stream connection.
    pub fn connection_closed(&mut self, connection: ConnectionId) {
        self.framers.remove(&connection);
        self.connections.remove(connection);
    }

    /// Stream connections open.
    pub fn connection_count(&self) -> usize {
        self.connections.len()
    }

    /// Bytes arrived on a stream connection: frames them, answers RFC 5626 keep-alive pings, and keeps the
    /// connection open for another idle period after each complete message or ping.
    pub(super) fn handle_stream(
        &mut self,
        now: Instant,
        from: SocketAddr,
        connection: ConnectionId,
        bytes: &[u8],
    ) -> Result<(), FramingError> {
        let transport = Transport::Tcp(connection);
        if !self.connections.by_id.contains_key(&connection) {
            // A driver that never said the connection opened: count it now, without refusing.
            *self.connections.per_source.entry(from.ip()).or_default() += 1;
            self.track_connection(now, connection, from);
        }
        self.framers.entry(connection).or_default().push(bytes);
        loop {
            let Some(framer) = self.framers.get_mut(&connection) else {
                return Ok(());
            };
            let framed = framer.next_message();
            let pings = framer.take_pings();
            if pings > 0 {
                // RFC 5626 §4.4.1: a double CRLF ping is answered with a single CRLF pong.
                self.transmits.push_back(Transmit {
                    to: from,
                    transport,
                    bytes: b"\r\n".repeat(pings),
                });
                self.refresh(now, connection);
            }
            match framed {
                Ok(Some(crate::codec::Framed::Message(message))) => {
                    self.refresh(now, connection);
                    self.handle_decoded(now, from, transport, Ok(message));
                }
                Ok(Some(crate::codec::Framed::Invalid(error))) => {
                    self.refresh(now, connection);
                    self.handle_decoded(now, from, transport, Err(error));
                }
                Ok(None) => return Ok(()),
                Err(error) => {
                    if let Some(reply) = framer_reply(self.framers.get(&connection), error) {
                        let context =
                            super::response::response_context(reply.echo, from, transport);
                        self.respond_stateless(&context, reply.status, Vec::new());
                    }
                    self.framers.remove(&connection);
                    return Err(error);
                }
            }
        }
    }

    fn refresh(&mut self, now: Instant, connection: ConnectionId) {
        let idle_timeout = self.config.connections.idle_timeout;
        if let Some(state) = self.connections.by_id.get_mut(&connection) {
            state.idle_deadline = now + idle_timeout;
            // The old timer entry finds a later deadline and reschedules; no entry per message.
        }
    }

    /// A connection's idle timer fired: close it if no message came meanwhile, else wait again.
    pub(super) fn connection_timer(&mut self, now: Instant, connection: ConnectionId) {
        let Some(deadline) = self.connections.deadline(connection) else {
            return;
        };
        if deadline > now {
            self.timers
                .schedule(deadline, TimerOwner::Connection(connection.0));
            return;
        }
        // A call's own connection is quiet while the caller listens: it stays while the call lasts.
        let carries_a_call = self
            .calls
            .values()
            .any(|call| call.signalling.transport == Transport::Tcp(connection));
        if carries_a_call {
            if let Some(peer) = self.connections.by_id.get(&connection).map(|c| c.peer) {
                self.track_connection(now, connection, peer);
            }
            return;
        }
        self.connection_closed(connection);
        self.events.push_back(Event::CloseConnection { connection });
    }
}

/// The 513 a message too large for the stream earns, when its head can be read (RFC 3261 §21.5.14).
fn framer_reply(
    framer: Option<&crate::codec::StreamFramer>,
    error: FramingError,
) -> Option<crate::codec::ErrorReply> {
    match error {
        FramingError::TooLarge => framer?.oversized_reply(),
        FramingError::MissingContentLength | FramingError::BadContentLength => None,
    }
}
