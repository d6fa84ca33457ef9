//! RFC 3261 timer values, the retransmission back-off, and the one deadline heap the endpoint keeps for all of
//! its transactions and calls.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// The protocol timer bases (RFC 3261 §17.1.1.1 and table 4). Shorten them in tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// Round-trip estimate; retransmissions start at T1.
    pub t1: Duration,
    /// The cap of the retransmission interval for non-INVITE requests and INVITE responses.
    pub t2: Duration,
    /// How long a message may stay in the network.
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl TimerConfig {
    /// Timers B, F, H, J and L: 64*T1.
    pub fn transaction_timeout(&self) -> Duration {
        self.t1 * 64
    }
}

/// A retransmission schedule starting at T1 and doubling up to a cap (Timers A, E, G and 2xx resends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub next_at: Instant,
    interval: Duration,
    cap: Duration,
}

impl Backoff {
    pub fn new(now: Instant, first: Duration, cap: Duration) -> Backoff {
        Backoff {
            next_at: now + first,
            interval: first,
            cap,
        }
    }

    /// Called when `next_at` passed: schedules the next resend.
    pub fn advance(&mut self, now: Instant) {
        self.interval = (self.interval * 2).min(self.cap);
        self.next_at = now + self.interval;
    }

    /// A provisional response to our request: resend every T2 from now on (RFC 3261 §17.1.2.2).
    pub fn slow_down(&mut self, now: Instant) {
        self.interval = self.cap;
        self.next_at = now + self.cap;
    }
}

/// What a deadline belongs to. The owner re-checks its own state when the deadline fires, so entries left
/// behind by state changes are harmless and simply skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimerOwner {
    ServerTransaction(u64),
    ClientTransaction(u64),
    Call(u64),
    /// A stream connection's idle deadline.
    Connection(u64),
}

/// A min-heap of (deadline, owner).
#[derive(Debug, Default)]
pub struct TimerHeap {
    heap: BinaryHeap<Reverse<(Instant, TimerOwner)>>,
}

impl TimerHeap {
    pub fn schedule(&mut self, at: Instant, owner: TimerOwner) {
        self.heap.push(Reverse((at, owner)));
    }

    /// The earliest deadline, after dropping entries `is_live` rejects.
    pub fn next_deadline(
        &mut self,
        mut is_live: impl FnMut(Instant, TimerOwner) -> bool,
    ) -> Option<Instant> {
        while let Some(Reverse((at, owner))) = self.heap.peek().copied() {
            if is_live(at, owner) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// Removes and returns an entry due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<TimerOwner> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => {
                self.heap.pop().map(|Reverse((_, owner))| owner)
            }
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let start = Instant::now();
        let config = TimerConfig::default();
        let mut backoff = Backoff::new(start, config.t1, config.t2);
        let mut now = start;
        let mut intervals = Vec::new();
        for _ in 0..6 {
            intervals.push((backoff.next_at - now).as_millis());
            now = backoff.next_at;
            backoff.advance(now);
        }
        assert_eq!(intervals, [500, 1000, 2000, 4000, 4000, 4000]);
    }

    #[test]
    fn heap_returns_earliest_and_skips_dead_entries() {
        let start = Instant::now();
        let mut heap = TimerHeap::default();
        heap.schedule(start + Duration::from_secs(2), TimerOwner::Call(1));
        heap.schedule(start + Duration::from_secs(1), TimerOwner::Call(2));
        assert_eq!(
            heap.next_deadline(|_, _| true),
            Some(start + Duration::from_secs(1))
        );
        assert_eq!(
            heap.next_deadline(|_, owner| owner != TimerOwner::Call(2)),
            Some(start + Duration::from_secs(2))
        );
        assert_eq!(heap.pop_due(start), None);
        assert_eq!(
            heap.pop_due(start + Duration::from_secs(2)),
            Some(TimerOwner::Call(1))
        );
        assert!(heap.is_empty());
    }
}
