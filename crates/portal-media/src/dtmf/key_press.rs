//! Merging key presses: where a press came from ([`KeySource`]), and the [`KeyPressDeduper`] that counts one
//! press reported by SIP INFO and by RTP once.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use portal_core::Digit;

/// Where a key press came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeySource {
    /// A SIP INFO request (`application/dtmf-relay` or `application/dtmf`).
    SipInfo,
    /// An RFC 4733 telephone event.
    TelephoneEvent,
    /// A tone found in the audio.
    Inband,
}

impl KeySource {
    fn bit(self) -> u8 {
        match self {
            KeySource::SipInfo => 1,
            KeySource::TelephoneEvent => 2,
            KeySource::Inband => 4,
        }
    }
}

/// How close together the same digit from two sources must be to count as one press.
pub const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_millis(200);

#[derive(Clone, Copy, Debug)]
struct AcceptedPress {
    digit: Digit,
    at: Instant,
    /// Sources already matched to this press (each source reports a press at most once).
    sources: u8,
}

/// Merges one key press reported by several signalling paths: the same digit from a different source within
/// the window (200 ms) is the same press. The same digit twice from one source is two presses, because each
/// source already reports exactly one digit per press.
#[derive(Debug)]
pub struct KeyPressDeduper {
    window: Duration,
    recent: VecDeque<AcceptedPress>,
}

impl KeyPressDeduper {
    /// A deduper with the default 200 ms window.
    pub fn new() -> KeyPressDeduper {
        KeyPressDeduper::with_window(DEFAULT_DEDUP_WINDOW)
    }

    /// A deduper with its own window.
    pub fn with_window(window: Duration) -> KeyPressDeduper {
        KeyPressDeduper {
            window,
            recent: VecDeque::new(),
        }
    }

    /// Whether `digit` from `source` at `now` is a new key press (`true`: pass it to the conversation) or
    /// another report of one already accepted (`false`).
    pub fn accept(&mut self, digit: Digit, source: KeySource, now: Instant) -> bool {
        let window = self.window;
        self.recent.retain(|press| {
            now.checked_duration_since(press.at)
                .is_none_or(|age| age <= window)
        });
        let bit = source.bit();
        if let Some(press) = self
            .recent
            .iter_mut()
            .find(|press| press.digit == digit && press.sources & bit == 0)
        {
            press.sources |= bit;
            return false;
        }
        self.recent.push_back(AcceptedPress {
            digit,
            at: now,
            sources: bit,
        });
        true
    }
}

impl Default for KeyPressDeduper {
    fn default() -> Self {
        KeyPressDeduper::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_press_by_two_paths_counts_once() {
        let start = Instant::now();
        let ms = |n| start + Duration::from_millis(n);
        let mut deduper = KeyPressDeduper::new();
        assert!(deduper.accept(Digit::Number(4), KeySource::TelephoneEvent, ms(0)));
        assert!(!deduper.accept(Digit::Number(4), KeySource::SipInfo, ms(120)));
        // Outside the window: a new press.
        let mut deduper = KeyPressDeduper::new();
        assert!(deduper.accept(Digit::Number(4), KeySource::SipInfo, ms(0)));
        assert!(deduper.accept(Digit::Number(4), KeySource::TelephoneEvent, ms(201)));
        // Different digits never merge.
        assert!(deduper.accept(Digit::Number(5), KeySource::SipInfo, ms(210)));
    }

    #[test]
    fn fast_repeats_from_both_paths_count_per_press() {
        let start = Instant::now();
        let ms = |n| start + Duration::from_millis(n);
        let mut deduper = KeyPressDeduper::new();
        let reports = [
            (KeySource::TelephoneEvent, 0, true),
            (KeySource::SipInfo, 30, false),
            (KeySource::TelephoneEvent, 150, true),
            (KeySource::SipInfo, 180, false),
            (KeySource::SipInfo, 190, true),
        ];
        for (source, at, expected) in reports {
            assert_eq!(
                deduper.accept(Digit::Number(1), source, ms(at)),
                expected,
                "{source:?} at {at} ms"
            );
        }
    }

    #[test]
    fn deduper_tolerates_instants_out_of_order() {
        let start = Instant::now() + Duration::from_secs(1);
        let mut deduper = KeyPressDeduper::with_window(Duration::from_millis(50));
        assert!(deduper.accept(Digit::Star, KeySource::Inband, start));
        assert!(!deduper.accept(
            Digit::Star,
            KeySource::SipInfo,
            start - Duration::from_millis(10)
        ));
    }
}
