//! The `security` log target: what the portal refused, summarised per source and kind at most once per
//! interval, so a flood leaves a trace an operator can read without flooding the log itself. Never a passcode,
//! never a message's text: a source address, a kind, and how many.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Each (source, kind) is logged at most this often.
pub(crate) const INTERVAL: Duration = Duration::from_secs(10);
/// Sources remembered before the table is cleared (a spoofed flood cannot grow it without bound).
const MAX_SOURCES: usize = 10_000;

struct Tally {
    /// Events since the last line.
    unlogged: u64,
    /// When the last line was written (`None`: never).
    last_logged: Option<Instant>,
}

/// Rate-limited security log lines.
#[derive(Default)]
pub(crate) struct SecurityLog {
    tallies: HashMap<(Option<IpAddr>, &'static str), Tally>,
}

impl SecurityLog {
    /// Notes one `kind` event from `source` (`None`: not tied to a source, e.g. an accept failure) at `now`;
    /// logs it at once the first time, then at most once per [`INTERVAL`] with the count since.
    pub(crate) fn note(
        &mut self,
        now: Instant,
        source: Option<IpAddr>,
        kind: &'static str,
        detail: &str,
    ) {
        if self.tallies.len() >= MAX_SOURCES && !self.tallies.contains_key(&(source, kind)) {
            self.tallies.retain(|_, tally| {
                tally
                    .last_logged
                    .is_some_and(|at| now.duration_since(at) < INTERVAL)
            });
            if self.tallies.len() >= MAX_SOURCES {
                self.tallies.clear();
            }
        }
        let tally = self.tallies.entry((source, kind)).or_insert(Tally {
            unlogged: 0,
            last_logged: None,
        });
        tally.unlogged += 1;
        if tally
            .last_logged
            .is_none_or(|at| now.duration_since(at) >= INTERVAL)
        {
            let count = std::mem::take(&mut tally.unlogged);
            tally.last_logged = Some(now);
            match source {
                Some(source) => {
                    tracing::info!(target: "security", %source, kind, count, detail, "refused")
                }
                None => tracing::info!(target: "security", kind, count, detail, "refused"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_logged_once_then_once_an_interval_with_its_count() {
        let mut log = SecurityLog::default();
        let source = Some("192.0.2.9".parse().unwrap());
        let start = Instant::now();
        let logged = |log: &SecurityLog| log.tallies[&(source, "test")].unlogged;
        log.note(start, source, "test", "");
        assert_eq!(logged(&log), 0, "the first is logged at once");
        for i in 1..100 {
            log.note(start + Duration::from_millis(i * 50), source, "test", "");
        }
        assert_eq!(logged(&log), 99, "the rest wait for the interval");
        log.note(start + INTERVAL, source, "test", "");
        assert_eq!(logged(&log), 0, "then all 100 are logged in one line");
    }
}
