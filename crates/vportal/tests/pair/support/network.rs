//! A pretend UDP network for pair tests: datagrams between plain `SocketAddr`s, delayed by a base latency plus
//! random jitter (so packets can overtake each other), some lost, all decided by a seeded RNG so that the same
//! seed always gives the same run. Sans-IO: time is only the `Instant`s passed in.
//!
//! Drive it like the endpoints it carries: `send` what they transmit, sleep (in simulated time) until
//! [`SimNetwork::next_delivery`], then hand each [`SimNetwork::deliver_due`] datagram to its addressee.

#![allow(dead_code)] // each test binary uses its own part of the support code

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// One datagram on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct Datagram {
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
}

impl Datagram {
    /// RTP (and RTCP) carry version 2 in the first two bits; SIP starts with an ASCII letter, whose first two
    /// bits are `01`, so the first byte tells them apart without parsing.
    pub fn is_rtp(&self) -> bool {
        self.bytes.first().is_some_and(|byte| byte >> 6 == 2)
    }

    /// Anything that is not RTP is signalling.
    pub fn is_sip(&self) -> bool {
        !self.is_rtp()
    }

    /// The SIP start line (`INVITE sip:...`, `SIP/2.0 200 OK`), for filters and failure messages.
    pub fn start_line(&self) -> Option<&str> {
        if self.is_rtp() {
            return None;
        }
        let end = self
            .bytes
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or(self.bytes.len());
        std::str::from_utf8(&self.bytes[..end]).ok()
    }
}

impl fmt::Debug for Datagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.start_line() {
            Some(line) => line.to_owned(),
            None => format!("RTP {} bytes", self.bytes.len()),
        };
        write!(f, "{} -> {}: {what}", self.from, self.to)
    }
}

/// How the link behaves. Loss is separate for SIP and RTP because tests want to stress one without the other.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// Every datagram takes at least this long.
    pub latency: Duration,
    /// Plus a uniform random extra in `0..=jitter`; jitter above the 20 ms RTP interval reorders packets.
    pub jitter: Duration,
    /// Probability (0.0..=1.0) that a SIP datagram is lost.
    pub sip_loss: f64,
    /// Probability (0.0..=1.0) that an RTP datagram is lost.
    pub rtp_loss: f64,
    pub seed: u64,
}

impl LinkConfig {
    /// A LAN: 1 ms, no jitter, no loss.
    pub fn perfect(seed: u64) -> LinkConfig {
        LinkConfig {
            latency: Duration::from_millis(1),
            jitter: Duration::ZERO,
            sip_loss: 0.0,
            rtp_loss: 0.0,
            seed,
        }
    }
}

/// Decides, for a datagram being sent, to drop it (`true`) whatever the loss draw says: for targeted faults
/// such as "lose the first 200 OK".
pub type DropFilter = Box<dyn FnMut(&Datagram) -> bool>;

/// The network. See the module docs.
pub struct SimNetwork {
    config: LinkConfig,
    rng: StdRng,
    /// In flight, by (delivery time, send order): ties leave in the order they were sent.
    in_flight: BTreeMap<(Instant, u64), (u64, Datagram)>,
    next_order: u64,
    /// Per (from, to): the latest send order delivered, to count overtaking.
    latest_delivered: HashMap<(SocketAddr, SocketAddr), u64>,
    filter: Option<DropFilter>,
    sent: u64,
    lost: u64,
    delivered: u64,
    reordered: u64,
}

impl fmt::Debug for SimNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimNetwork")
            .field("config", &self.config)
            .field("in_flight", &self.in_flight.len())
            .field("sent", &self.sent)
            .field("lost", &self.lost)
            .finish_non_exhaustive()
    }
}

impl SimNetwork {
    pub fn new(config: LinkConfig) -> SimNetwork {
        assert!((0.0..=1.0).contains(&config.sip_loss) && (0.0..=1.0).contains(&config.rtp_loss));
        SimNetwork {
            config,
            rng: StdRng::seed_from_u64(config.seed),
            in_flight: BTreeMap::new(),
            next_order: 0,
            latest_delivered: HashMap::new(),
            filter: None,
            sent: 0,
            lost: 0,
            delivered: 0,
            reordered: 0,
        }
    }

    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// Changes latency and loss from now on (datagrams in flight keep their delivery time); the RNG goes on.
    pub fn set_config(&mut self, config: LinkConfig) {
        self.config = LinkConfig {
            seed: self.config.seed,
            ..config
        };
    }

    /// Installs (or with `None` removes) a filter that drops the datagrams it returns `true` for. Filtered
    /// datagrams count as lost.
    pub fn set_drop_filter(&mut self, filter: Option<DropFilter>) {
        self.filter = filter;
    }

    /// Puts a datagram on the wire at `now`.
    pub fn send(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, bytes: Vec<u8>) {
        let datagram = Datagram { from, to, bytes };
        self.sent += 1;
        // Both draws happen for every datagram, so the latency of the others does not depend on the loss rates.
        let roll: f64 = self.rng.random();
        let jitter_us = self.config.jitter.as_micros() as u64;
        let extra = Duration::from_micros(self.rng.random_range(0..=jitter_us));
        let loss = if datagram.is_rtp() {
            self.config.rtp_loss
        } else {
            self.config.sip_loss
        };
        let filtered = self.filter.as_mut().is_some_and(|drop| drop(&datagram));
        if filtered || roll < loss {
            self.lost += 1;
            return;
        }
        let order = self.next_order;
        self.next_order += 1;
        let at = now + self.config.latency + extra;
        self.in_flight.insert((at, order), (order, datagram));
    }

    /// When the next datagram arrives, if any is in flight.
    pub fn next_delivery(&self) -> Option<Instant> {
        self.in_flight.keys().next().map(|&(at, _)| at)
    }

    /// The earliest datagram due at `now` (call until `None`).
    pub fn deliver_due(&mut self, now: Instant) -> Option<Datagram> {
        let first = self.in_flight.first_entry()?;
        if first.key().0 > now {
            return None;
        }
        let (order, datagram) = first.remove();
        self.delivered += 1;
        let latest = self
            .latest_delivered
            .entry((datagram.from, datagram.to))
            .or_insert(order);
        if order < *latest {
            self.reordered += 1;
        } else {
            *latest = order;
        }
        Some(datagram)
    }

    /// Datagrams still on the wire.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Datagrams handed to [`SimNetwork::send`].
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Datagrams dropped (by the loss draw or the filter).
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Datagrams handed out by [`SimNetwork::deliver_due`].
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Deliveries that arrived after a datagram sent later on the same (from, to) path.
    pub fn reordered(&self) -> u64 {
        self.reordered
    }
}
