//! Which shared RTP socket a call uses, and which call a packet from a given address belongs to.
//!
//! Sockets are shared: one serves up to [`CALLS_PER_SOCKET`] calls (SDP lets every call name any port), so a
//! packet is told apart by its source address. Two calls on one socket therefore never share a remote
//! address; a call whose remote address is already used on every socket needs a new one. The driver owns the
//! sockets: the table only knows their ids and local addresses.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};

use super::MediaCallId;

/// Calls one RTP socket serves at most.
pub const CALLS_PER_SOCKET: usize = 256;

/// Names one of the driver's RTP sockets (an index the driver may use for its own table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u32);

struct SharedSocket {
    local: SocketAddr,
    /// Calls on this socket by the remote address their packets come from.
    remotes: HashMap<SocketAddr, MediaCallId>,
    calls: usize,
    /// The RTCP socket beside it (the next port up), if the driver bound one.
    rtcp: Option<SocketId>,
}

/// An RTP socket (shared by calls), or the RTCP socket of one.
enum Entry {
    Rtp(SharedSocket),
    Rtcp { rtp: SocketId, local: SocketAddr },
}

/// The sockets a socket released when its last call closed: the driver closes both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Released {
    /// The RTP socket.
    pub rtp: SocketId,
    /// Its RTCP socket, if it had one.
    pub rtcp: Option<SocketId>,
}

/// The sockets and the remote address each call is filed under.
#[derive(Default)]
pub(super) struct SocketTable {
    sockets: Vec<Option<Entry>>,
}

impl SocketTable {
    /// Adds an RTP socket the driver bound; its id is the first free index.
    pub(super) fn add(&mut self, local: SocketAddr) -> SocketId {
        self.insert(Entry::Rtp(SharedSocket {
            local,
            remotes: HashMap::new(),
            calls: 0,
            rtcp: None,
        }))
    }

    /// Adds the RTCP socket of RTP socket `rtp`.
    pub(super) fn add_rtcp(&mut self, rtp: SocketId, local: SocketAddr) -> SocketId {
        let id = self.insert(Entry::Rtcp { rtp, local });
        if let Some(socket) = self.get_mut(rtp) {
            socket.rtcp = Some(id);
        }
        id
    }

    fn insert(&mut self, entry: Entry) -> SocketId {
        match self.sockets.iter().position(Option::is_none) {
            Some(index) => {
                self.sockets[index] = Some(entry);
                SocketId(index as u32)
            }
            None => {
                self.sockets.push(Some(entry));
                SocketId(self.sockets.len() as u32 - 1)
            }
        }
    }

    /// The local address of any socket, RTP or RTCP.
    pub(super) fn local(&self, socket: SocketId) -> Option<SocketAddr> {
        match self.sockets.get(socket.0 as usize)?.as_ref()? {
            Entry::Rtp(shared) => Some(shared.local),
            Entry::Rtcp { local, .. } => Some(*local),
        }
    }

    /// The RTP socket whose RTCP socket `socket` is.
    pub(super) fn rtp_of(&self, socket: SocketId) -> Option<SocketId> {
        match self.sockets.get(socket.0 as usize)?.as_ref()? {
            Entry::Rtcp { rtp, .. } => Some(*rtp),
            Entry::Rtp(_) => None,
        }
    }

    /// The RTCP socket of RTP socket `socket`.
    pub(super) fn rtcp_of(&self, socket: SocketId) -> Option<SocketId> {
        self.get(socket)?.rtcp
    }

    /// The least busy socket with room whose calls do not use `remote` yet (spreading what arrives over the
    /// sockets' receive buffers), if any.
    pub(super) fn place(&self, remote: Option<SocketAddr>) -> Option<SocketId> {
        self.sockets
            .iter()
            .enumerate()
            .filter_map(|(index, socket)| {
                let Some(Entry::Rtp(socket)) = socket else {
                    return None;
                };
                let fits = socket.calls < CALLS_PER_SOCKET
                    && remote.is_none_or(|remote| !socket.remotes.contains_key(&remote));
                fits.then_some((index, socket.calls))
            })
            .min_by_key(|&(_, calls)| calls)
            .map(|(index, _)| SocketId(index as u32))
    }

    pub(super) fn join(&mut self, socket: SocketId) {
        if let Some(socket) = self.get_mut(socket) {
            socket.calls += 1;
        }
    }

    /// Takes call `id` (filed under `remote`) off `socket`; returns the socket (and its RTCP socket) when no
    /// call uses it any more, so the driver can close them.
    pub(super) fn leave(
        &mut self,
        socket_id: SocketId,
        id: MediaCallId,
        remote: Option<SocketAddr>,
    ) -> Option<Released> {
        let socket = self.get_mut(socket_id)?;
        if let Some(remote) = remote
            && socket.remotes.get(&remote) == Some(&id)
        {
            socket.remotes.remove(&remote);
        }
        socket.calls = socket.calls.saturating_sub(1);
        if socket.calls > 0 {
            return None;
        }
        let rtcp = socket.rtcp;
        self.sockets[socket_id.0 as usize] = None;
        if let Some(rtcp) = rtcp {
            self.sockets[rtcp.0 as usize] = None;
        }
        Some(Released {
            rtp: socket_id,
            rtcp,
        })
    }

    /// Files call `id` under `remote` in place of `previous`. Returns false when `remote` was another call's,
    /// which then stops receiving (only a late offer or a re-INVITE can land on an address in use).
    pub(super) fn file(
        &mut self,
        socket: SocketId,
        id: MediaCallId,
        previous: Option<SocketAddr>,
        remote: SocketAddr,
    ) -> bool {
        let Some(socket) = self.get_mut(socket) else {
            return true;
        };
        if let Some(previous) = previous
            && socket.remotes.get(&previous) == Some(&id)
        {
            socket.remotes.remove(&previous);
        }
        socket
            .remotes
            .insert(remote, id)
            .is_none_or(|displaced| displaced == id)
    }

    /// The call filed under `from` on `socket`.
    pub(super) fn owner(&self, socket: SocketId, from: SocketAddr) -> Option<MediaCallId> {
        self.get(socket)?.remotes.get(&from).copied()
    }

    /// The calls on `socket` whose address has `port` at another IP, for a phone that announced one of its
    /// host's addresses and sends from another.
    pub(super) fn same_port_elsewhere(
        &self,
        socket: SocketId,
        from: SocketAddr,
    ) -> impl Iterator<Item = (SocketAddr, MediaCallId)> + '_ {
        self.get(socket)
            .into_iter()
            .flat_map(|socket| socket.remotes.iter())
            .filter(move |(announced, _)| announced.port() == from.port() && **announced != from)
            .map(|(&announced, &id)| (announced, id))
    }

    fn get(&self, socket: SocketId) -> Option<&SharedSocket> {
        match self.sockets.get(socket.0 as usize)?.as_ref()? {
            Entry::Rtp(shared) => Some(shared),
            Entry::Rtcp { .. } => None,
        }
    }

    fn get_mut(&mut self, socket: SocketId) -> Option<&mut SharedSocket> {
        match self.sockets.get_mut(socket.0 as usize)?.as_mut()? {
            Entry::Rtp(shared) => Some(shared),
            Entry::Rtcp { .. } => None,
        }
    }
}

/// Even ports of an RTP range, handed out in rotation so a port just closed is not reused at once (a late
/// packet of the old call would reach the new one). Several drivers (media threads) may share one rotation:
/// each takes its next port with one atomic add, so the whole range rotates whichever thread closed a port,
/// and a port another thread holds is found taken when it is bound, and skipped.
#[derive(Debug)]
pub struct PortRotation {
    low: u16,
    span: u32,
    next: AtomicU32,
}

impl PortRotation {
    /// The even ports from `low` to `high`.
    pub fn new(low: u16, high: u16) -> PortRotation {
        PortRotation {
            low,
            span: u32::from(high.saturating_sub(low)) / 2 + 1,
            next: AtomicU32::new(0),
        }
    }

    /// How many ports the range holds: the most tries a bind needs.
    pub fn len(&self) -> usize {
        self.span as usize
    }

    /// Whether the range holds no port.
    pub fn is_empty(&self) -> bool {
        self.span == 0
    }

    /// The next port to try.
    pub fn next_port(&self) -> Option<u16> {
        // Only the count matters, not its order with other memory: relaxed is enough.
        let next = self.next.fetch_add(1, Ordering::Relaxed);
        let port = u32::from(self.low) + (next % self.span) * 2;
        u16::try_from(port).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_rotate_over_the_even_ports_of_the_range() {
        let ports = PortRotation::new(20_000, 20_005);
        assert_eq!(ports.len(), 3);
        let tried: Vec<_> = (0..4).map(|_| ports.next_port().unwrap()).collect();
        assert_eq!(tried, [20_000, 20_002, 20_004, 20_000]);
    }

    #[test]
    fn a_port_past_the_top_of_the_port_space_is_not_offered() {
        let ports = PortRotation::new(65_534, 65_535);
        assert_eq!(ports.next_port(), Some(65_534));
    }

    #[test]
    fn threads_sharing_a_rotation_take_each_port_once_per_round() {
        let ports = std::sync::Arc::new(PortRotation::new(20_000, 20_799));
        let takers: Vec<_> = (0..4)
            .map(|_| {
                let ports = std::sync::Arc::clone(&ports);
                std::thread::spawn(move || {
                    (0..100)
                        .map(|_| ports.next_port().unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut taken: Vec<u16> = takers
            .into_iter()
            .flat_map(|taker| taker.join().unwrap())
            .collect();
        taken.sort_unstable();
        let every_port: Vec<u16> = (0..400).map(|i| 20_000 + 2 * i).collect();
        assert_eq!(taken, every_port);
    }
}
