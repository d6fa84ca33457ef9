//! Who may talk to the portal: networks allowed to send requests (others get 403), trusted peers (a PBX or
//! SBC in front, exempt from rate limits and believed when they assert a caller's identity), and a per-source
//! INVITE rate limit so a flood cannot starve calls in progress.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
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
}

/// Sources remembered by the rate limiter before the idlest are forgotten.
const MAX_TRACKED_SOURCES: usize = 10_000;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// A token bucket per source address.
#[derive(Debug, Default)]
pub(crate) struct InviteLimiter {
    buckets: HashMap<IpAddr, Bucket>,
}

impl InviteLimiter {
    /// Whether a new INVITE from `ip` at `now` is within `limit` (and takes a token if so).
    pub(crate) fn admit(&mut self, ip: IpAddr, limit: RateLimit, now: Instant) -> bool {
        if self.buckets.len() >= MAX_TRACKED_SOURCES && !self.buckets.contains_key(&ip) {
            // Forget sources that have refilled completely: they behave as new ones anyway.
            let full_after =
                Duration::from_secs_f64(f64::from(limit.burst) / limit.per_second.max(1e-9));
            self.buckets
                .retain(|_, bucket| now.saturating_duration_since(bucket.updated) < full_after);
            if self.buckets.len() >= MAX_TRACKED_SOURCES {
                return false;
            }
        }
        let burst = f64::from(limit.burst.max(1));
        let bucket = self.buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.per_second).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
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
        };
        assert!(policy.allows("10.1.1.1".parse().unwrap()));
        assert!(policy.allows("192.0.2.1".parse().unwrap()));
        assert!(!policy.allows("203.0.113.9".parse().unwrap()));
        assert!(policy.trusts("192.0.2.1".parse().unwrap()));
        assert!(!policy.trusts("10.1.1.1".parse().unwrap()));
    }

    #[test]
    fn the_limiter_allows_a_burst_then_the_rate() {
        let limit = RateLimit {
            per_second: 2.0,
            burst: 3,
        };
        let mut limiter = InviteLimiter::default();
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        let other: IpAddr = "192.0.2.10".parse().unwrap();
        let start = Instant::now();
        assert!((0..3).all(|_| limiter.admit(ip, limit, start)));
        assert!(!limiter.admit(ip, limit, start));
        assert!(
            limiter.admit(other, limit, start),
            "each source has its own bucket"
        );
        assert!(!limiter.admit(ip, limit, start + Duration::from_millis(400)));
        assert!(limiter.admit(ip, limit, start + Duration::from_millis(500)));
        assert!(!limiter.admit(ip, limit, start + Duration::from_millis(600)));
    }
}
