//! Who may talk to the portal: networks allowed to send requests (others get 403), trusted peers (a PBX or
//! SBC in front, exempt from rate limits and believed when they assert a caller's identity), and a per-source
//! INVITE rate limit so a flood cannot starve calls in progress.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// An IP network in CIDR notation (`10.0.0.0/8`, `::1/128`; a bare address is a /32 or /128).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpNetwork {
    base: IpAddr,
    prefix: u8,
}

/// Text that is not a network.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an IP network (like 10.0.0.0/8 or ::1/128)")]
pub struct BadNetwork(pub String);

impl IpNetwork {
    /// Whether `ip` is inside the network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.base, ip) {
            (IpAddr::V4(base), IpAddr::V4(ip)) => {
                prefix_matches(&base.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(base), IpAddr::V6(ip)) => {
                prefix_matches(&base.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_matches(base: &[u8], ip: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    if base[..full] != ip[..full] {
        return false;
    }
    let rest = prefix % 8;
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        base[full] & mask == ip[full] & mask
    }
}

impl FromStr for IpNetwork {
    type Err = BadNetwork;

    fn from_str(text: &str) -> Result<IpNetwork, BadNetwork> {
        let bad = || BadNetwork(text.to_owned());
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let base: IpAddr = address.trim().parse().map_err(|_| bad())?;
        let most = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.trim().parse::<u8>().map_err(|_| bad())?,
            None => most,
        };
        if prefix > most {
            return Err(bad());
        }
        Ok(IpNetwork { base, prefix })
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

/// How many new INVITEs one source may send: `per_second` on average, `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Sustained INVITEs per second.
    pub per_second: f64,
    /// INVITEs allowed at once.
    pub burst: u32,
}

/// The access rules of an endpoint.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct AccessPolicy {
    /// Networks whose requests are served; empty means every network. Others get 403.
    pub allowed: Vec<IpNetwork>,
    /// Peers that are exempt from the rate limit and whose P-Asserted-Identity is believed.
    pub trusted: Vec<IpNetwork>,
    /// The per-source limit on new INVITEs (none when `None`).
    pub invite_rate: Option<RateLimit>,
    /// Networks whose callers are recognised by their From (phones on a network the operator vouches for).
    /// From is not authenticated: callers from anywhere else (trusted peers aside, whose P-Asserted-Identity
    /// is believed) are not recognised at all, so a spoofed From can neither reveal that a number has a
    /// mailbox nor start a login to it.
    pub identify_from: Vec<IpNetwork>,
}

impl AccessPolicy {
    /// Whether requests from `ip` are served.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allowed.is_empty()
            || self.trusts(ip)
            || self.allowed.iter().any(|net| net.contains(ip))
    }

    /// Whether `ip` is a trusted peer.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(ip))
    }

    /// Whether a caller from `ip` is recognised by the From header.
    pub fn identifies_by_from(&self, ip: IpAddr) -> bool {
        self.identify_from.iter().any(|net| net.contains(ip))
    }
}

/// Sources remembered by each table of the rate limiter before the idlest are forgotten.
const MAX_TRACKED_SOURCES: usize = 10_000;

/// One host (IP address) may send this many times a single source's limit, over all its ports: a scanner
/// rotating ports is still held back, while a phone sharing a NAT address with it keeps its own bucket.
const HOST_FACTOR: f64 = 10.0;

/// 503s one host gets at most: this many per second, after a first `REFUSAL_BURST`. Past that, over-limit
/// INVITEs are dropped without an answer, so a flood (or a spoofed source) is never answered more than this.
const REFUSALS_PER_SECOND: f64 = 2.0;
const REFUSAL_BURST: u32 = 10;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets by key.
#[derive(Debug)]
struct Buckets<K> {
    buckets: HashMap<K, Bucket>,
}

impl<K> Default for Buckets<K> {
    fn default() -> Self {
        Buckets {
            buckets: HashMap::new(),
        }
    }
}

impl<K: std::hash::Hash + Eq + Copy> Buckets<K> {
    /// The bucket of `key` refilled to `now` (a new key starts full); `None` when the table is full of keys
    /// that are all still refilling.
    fn refilled(&mut self, key: K, limit: RateLimit, now: Instant) -> Option<&mut Bucket> {
        if self.buckets.len() >= MAX_TRACKED_SOURCES && !self.buckets.contains_key(&key) {
            // Forget keys that have refilled completely: they behave as new ones anyway.
            let full_after =
                Duration::from_secs_f64(f64::from(limit.burst) / limit.per_second.max(1e-9));
            self.buckets
                .retain(|_, bucket| now.saturating_duration_since(bucket.updated) < full_after);
            if self.buckets.len() >= MAX_TRACKED_SOURCES {
                return None;
            }
        }
        let burst = f64::from(limit.burst.max(1));
        let bucket = self.buckets.entry(key).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.per_second).min(burst);
        bucket.updated = now;
        Some(bucket)
    }
}

/// What to do with a new INVITE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Within the limits: serve it.
    Admit,
    /// Over the limit: answer 503 once, without retransmitting it.
    Refuse,
    /// Over the limit and past the host's refusal budget: no answer at all.
    Drop,
}

/// The per-source INVITE limit: a token bucket per source address and port, one per host at
/// [`HOST_FACTOR`] times the limit, and a budget of refusals per host.
#[derive(Debug, Default)]
pub(crate) struct InviteLimiter {
    by_source: Buckets<SocketAddr>,
    by_host: Buckets<IpAddr>,
    refusals: Buckets<IpAddr>,
}

impl InviteLimiter {
    /// Whether a new INVITE from `source` at `now` is within `limit` (taking its tokens if so), and how to
    /// refuse it if not.
    pub(crate) fn admit(
        &mut self,
        source: SocketAddr,
        limit: RateLimit,
        now: Instant,
    ) -> Admission {
        let host_limit = RateLimit {
            per_second: limit.per_second * HOST_FACTOR,
            burst: limit.burst.saturating_mul(HOST_FACTOR as u32),
        };
        let source_has = self
            .by_source
            .refilled(source, limit, now)
            .is_some_and(|bucket| bucket.tokens >= 1.0);
        let host_has = self
            .by_host
            .refilled(source.ip(), host_limit, now)
            .is_some_and(|bucket| bucket.tokens >= 1.0);
        if source_has && host_has {
            for bucket in [
                self.by_source.buckets.get_mut(&source),
                self.by_host.buckets.get_mut(&source.ip()),
            ]
            .into_iter()
            .flatten()
            {
                bucket.tokens -= 1.0;
            }
            return Admission::Admit;
        }
        let refusals = RateLimit {
            per_second: REFUSALS_PER_SECOND,
            burst: REFUSAL_BURST,
        };
        match self.refusals.refilled(source.ip(), refusals, now) {
            Some(bucket) if bucket.tokens >= 1.0 => {
                bucket.tokens -= 1.0;
                Admission::Refuse
            }
            _ => Admission::Drop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> IpNetwork {
        text.parse().unwrap()
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        assert!(net("10.0.0.0/8").contains("10.200.3.4".parse().unwrap()));
        assert!(!net("10.0.0.0/8").contains("11.0.0.1".parse().unwrap()));
        assert!(net("172.16.0.0/12").contains("172.31.255.255".parse().unwrap()));
        assert!(!net("172.16.0.0/12").contains("172.32.0.0".parse().unwrap()));
        assert!(net("192.0.2.7").contains("192.0.2.7".parse().unwrap()));
        assert!(!net("192.0.2.7").contains("192.0.2.8".parse().unwrap()));
        assert!(net("::1/128").contains("::1".parse().unwrap()));
        assert!(net("fc00::/7").contains("fd12::1".parse().unwrap()));
        assert!(!net("fc00::/7").contains("fe80::1".parse().unwrap()));
        assert!(net("127.0.0.0/8").contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!net("10.0.0.0/8").contains("::1".parse().unwrap()));
        assert!(net("0.0.0.0/0").contains("203.0.113.9".parse().unwrap()));
        for bad in ["10.0.0.0/33", "::/129", "ten/8", "10.0.0.0/x", ""] {
            assert!(bad.parse::<IpNetwork>().is_err(), "{bad}");
        }
        assert_eq!(net("10.0.0.0/8").to_string(), "10.0.0.0/8");
    }

    #[test]
    fn the_policy_allows_its_networks_and_trusted_peers() {
        let open = AccessPolicy::default();
        assert!(open.allows("203.0.113.9".parse().unwrap()));
        let policy = AccessPolicy {
            allowed: vec![net("10.0.0.0/8")],
            trusted: vec![net("192.0.2.1")],
            invite_rate: None,
            identify_from: vec![net("10.1.0.0/16")],
        };
        assert!(policy.identifies_by_from("10.1.1.1".parse().unwrap()));
        assert!(!policy.identifies_by_from("10.2.1.1".parse().unwrap()));
        assert!(
            !open.identifies_by_from("10.1.1.1".parse().unwrap()),
            "nobody by default"
        );
        assert!(policy.allows("10.1.1.1".parse().unwrap()));
        assert!(policy.allows("192.0.2.1".parse().unwrap()));
        assert!(!policy.allows("203.0.113.9".parse().unwrap()));
        assert!(policy.trusts("192.0.2.1".parse().unwrap()));
        assert!(!policy.trusts("10.1.1.1".parse().unwrap()));
    }

    #[test]
    fn the_limiter_allows_a_burst_then_the_rate_per_source_address_and_port() {
        let limit = RateLimit {
            per_second: 2.0,
            burst: 3,
        };
        let mut limiter = InviteLimiter::default();
        let source: SocketAddr = "192.0.2.9:5060".parse().unwrap();
        let same_host: SocketAddr = "192.0.2.9:5062".parse().unwrap();
        let other: SocketAddr = "192.0.2.10:5060".parse().unwrap();
        let start = Instant::now();
        let admit = |limiter: &mut InviteLimiter, from, at| limiter.admit(from, limit, at);
        assert!((0..3).all(|_| admit(&mut limiter, source, start) == Admission::Admit));
        assert_eq!(admit(&mut limiter, source, start), Admission::Refuse);
        assert_eq!(
            admit(&mut limiter, same_host, start),
            Admission::Admit,
            "a phone behind the same address has its own bucket"
        );
        assert_eq!(admit(&mut limiter, other, start), Admission::Admit);
        let later = |ms| start + Duration::from_millis(ms);
        assert_eq!(admit(&mut limiter, source, later(400)), Admission::Refuse);
        assert_eq!(admit(&mut limiter, source, later(500)), Admission::Admit);
        assert_eq!(admit(&mut limiter, source, later(600)), Admission::Refuse);
    }

    #[test]
    fn a_flood_gets_a_bounded_number_of_refusals_then_silence() {
        let limit = RateLimit {
            per_second: 10.0,
            burst: 20,
        };
        let mut limiter = InviteLimiter::default();
        let source: SocketAddr = "203.0.113.5:5060".parse().unwrap();
        let start = Instant::now();
        // 2,000 INVITEs in 5 s, as the attack run sent.
        let outcomes: Vec<Admission> = (0..2000)
            .map(|i| limiter.admit(source, limit, start + Duration::from_micros(i * 2500)))
            .collect();
        let count = |kind| outcomes.iter().filter(|&&outcome| outcome == kind).count();
        assert!(
            count(Admission::Admit) <= 20 + 50 + 1,
            "{}",
            count(Admission::Admit)
        );
        assert!(
            count(Admission::Refuse) <= 10 + 10 + 1,
            "{}",
            count(Admission::Refuse)
        );
        assert!(count(Admission::Drop) > 1800);
    }

    #[test]
    fn a_host_rotating_its_ports_is_held_at_ten_times_the_limit() {
        let limit = RateLimit {
            per_second: 1.0,
            burst: 2,
        };
        let mut limiter = InviteLimiter::default();
        let now = Instant::now();
        let admitted = (0..100u16)
            .filter(|port| {
                let source = SocketAddr::new("198.51.100.7".parse().unwrap(), 10_000 + port);
                limiter.admit(source, limit, now) == Admission::Admit
            })
            .count();
        assert_eq!(admitted, 20, "the host's burst: 10 x 2");
    }
}
