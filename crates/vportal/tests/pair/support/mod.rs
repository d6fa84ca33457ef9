//! The pair harness, in quinn-proto's manner: the portal ([`server::SimServer`]: SIP endpoint, sessions,
//! media plane, store) and test phones ([`phone::TestPhone`]) stepped together on one simulated clock over a
//! [`network::SimNetwork`] with latency, jitter and loss. Nothing sleeps and nothing reads a clock: a call of
//! a minute runs in milliseconds, and the same seed gives the same call.
//!
//! A test reads as a transcript: `pair.hears(phone, Welcome)`, `pair.press(phone, "1357924#")`, ... and at the
//! end compares everything the phone heard with what it should have.

#![allow(dead_code)] // each test uses its own part of the harness

pub mod network;
pub mod phone;
pub mod server;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portal_core::PromptId;
use portal_harness::recognizer::PromptCatalog;
use portal_media::prompts::PromptLibrary;
use portal_store::{Moment, SqliteStore};
use tempfile::TempDir;
use vportal::demo::DemoData;

use network::{LinkConfig, SimNetwork};
use phone::{PhoneConfig, TestPhone};
use server::{PORTAL_SIP, ServerTimers, SimServer};

/// The repository's prompts, loaded once per test binary.
fn prompts() -> (Arc<PromptLibrary>, Arc<PromptCatalog>) {
    static LOADED: std::sync::OnceLock<(Arc<PromptLibrary>, Arc<PromptCatalog>)> =
        std::sync::OnceLock::new();
    LOADED
        .get_or_init(|| {
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../prompts");
            // The demo portal speaks English: the other language would only slow every test binary down.
            let library = PromptLibrary::load(dir.as_ref(), &["en"]).unwrap();
            let catalog = Arc::new(PromptCatalog::from_library(&library));
            (Arc::new(library), catalog)
        })
        .clone()
}

/// How a pair is set up.
#[derive(Clone, Debug)]
pub struct PairOptions {
    /// The network between the phones and the portal.
    pub link: LinkConfig,
    /// The portal's timers and store latency.
    pub timers: ServerTimers,
}

impl Default for PairOptions {
    fn default() -> Self {
        PairOptions {
            link: LinkConfig::perfect(1),
            timers: ServerTimers::default(),
        }
    }
}

/// Which phone of the pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhoneId(usize);

/// The portal, its phones and the network between them, on one clock.
pub struct Pair {
    pub now: Instant,
    pub start: Instant,
    pub network: SimNetwork,
    pub server: SimServer,
    pub phones: Vec<TestPhone>,
    /// Heard entries of each phone already seen by [`Pair::hears`].
    marks: Vec<usize>,
    pub demo: DemoData,
    catalog: Arc<PromptCatalog>,
    _data: TempDir,
}

/// How long a transcript step may take in simulated time before the test fails.
const STEP_LIMIT: Duration = Duration::from_secs(120);

impl Pair {
    /// A portal with the demo data (portal 5558000, users 1001-1005) in a fresh directory.
    pub fn new(options: PairOptions) -> Pair {
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        let key = data.path().join("data.key");
        let store: SqliteStore = vportal::data::open_store(&dir, Some(&key)).unwrap();
        let demo = vportal::demo::seed(&store, Moment::now_utc())
            .unwrap()
            .expect("an empty store is seeded");
        let (library, catalog) = prompts();
        let server = SimServer::new(&dir, store, library, options.timers);
        let start = Instant::now();
        Pair {
            now: start,
            start,
            network: SimNetwork::new(options.link),
            server,
            phones: Vec::new(),
            marks: Vec::new(),
            demo,
            catalog,
            _data: data,
        }
    }

    /// A phone with number `from` that dials `to` now.
    pub fn call(&mut self, from: &str, to: &str) -> PhoneId {
        self.call_with(from, to, |_| {})
    }

    /// Like [`Pair::call`], with the phone's configuration adjusted by `adjust` first.
    pub fn call_with(
        &mut self,
        from: &str,
        to: &str,
        adjust: impl FnOnce(&mut PhoneConfig),
    ) -> PhoneId {
        let index = self.phones.len();
        let host = IpAddr::V4(Ipv4Addr::new(10, 0, 1, index as u8 + 2));
        let mut config = PhoneConfig::new(
            SocketAddr::new(host, 5060),
            SocketAddr::new(host, 40_000),
            PORTAL_SIP,
            from,
            to,
            Arc::clone(&self.catalog),
        );
        config.seed = index as u64 + 1;
        adjust(&mut config);
        let mut phone = TestPhone::new(config);
        phone.dial(self.now);
        self.phones.push(phone);
        self.marks.push(0);
        self.flush();
        PhoneId(index)
    }

    pub fn phone(&self, id: PhoneId) -> &TestPhone {
        &self.phones[id.0]
    }

    /// The next moment anything happens.
    fn next_event(&mut self) -> Option<Instant> {
        let server = self.server.poll_timeout();
        let phones = self.phones.iter().filter_map(TestPhone::poll_timeout);
        [self.network.next_delivery(), server]
            .into_iter()
            .flatten()
            .chain(phones)
            .min()
    }

    /// Advances the clock to the next event and handles it; false when nothing is left to happen.
    pub fn step(&mut self) -> bool {
        let Some(next) = self.next_event() else {
            return false;
        };
        self.now = self.now.max(next);
        let now = self.now;
        while let Some(datagram) = self.network.deliver_due(now) {
            if self.server.owns(datagram.to) {
                self.server
                    .handle_datagram(now, datagram.from, datagram.to, &datagram.bytes);
            } else if let Some(phone) = self.phones.iter_mut().find(|phone| {
                phone.config().sip == datagram.to || phone.config().rtp == datagram.to
            }) {
                phone.handle_datagram(now, datagram.from, datagram.to, &datagram.bytes);
            }
        }
        self.server.handle_timeout(now);
        for phone in &mut self.phones {
            if phone.poll_timeout().is_some_and(|due| due <= now) {
                phone.handle_timeout(now);
            }
        }
        self.flush();
        true
    }

    /// Puts everything the parties want sent on the network.
    fn flush(&mut self) {
        let now = self.now;
        while let Some((from, to, bytes)) = self.server.poll_transmit() {
            self.network.send(now, from, to, bytes);
        }
        for phone in &mut self.phones {
            while let Some((from, to, bytes)) = phone.poll_transmit() {
                self.network.send(now, from, to, bytes);
            }
        }
    }

    /// Runs until `done` holds, at most `limit` of simulated time; whether it held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Pair) -> bool) -> bool {
        let until = self.now + limit;
        while !done(self) {
            if self.next_event().is_none_or(|next| next > until) || !self.step() {
                self.now = self.now.max(until);
                return done(self);
            }
        }
        true
    }

    /// Runs for `length` of simulated time.
    pub fn run_for(&mut self, length: Duration) {
        let until = self.now + length;
        self.run_until(length, |pair| pair.now >= until);
    }

    /// Runs until `phone` hears `prompt` begin (after what earlier steps heard); fails the test otherwise.
    pub fn hears(&mut self, id: PhoneId, prompt: PromptId) -> &mut Pair {
        let mark = self.marks[id.0];
        let started = self.run_until(STEP_LIMIT, |pair| {
            let phone = &pair.phones[id.0];
            phone.playing() == Some(prompt)
                || phone.heard_entries()[mark.min(phone.heard_entries().len())..]
                    .iter()
                    .any(|heard| heard.prompt == Some(prompt))
        });
        let phone = &self.phones[id.0];
        assert!(
            started,
            "{prompt} never began; heard {:?}, playing {:?}",
            phone.heard(),
            phone.playing()
        );
        // Later steps look past what was heard up to here.
        self.marks[id.0] = phone.heard_entries().len();
        self
    }

    /// `phone` presses `keys`.
    pub fn press(&mut self, id: PhoneId, keys: &str) -> &mut Pair {
        self.phones[id.0].press(self.now, keys);
        self.marks[id.0] = self.phones[id.0].heard_entries().len();
        self.flush();
        self
    }

    /// `phone` speaks for `length` (loud audio instead of silence).
    pub fn says(&mut self, id: PhoneId, length: Duration) -> &mut Pair {
        self.phones[id.0].say(self.now, length);
        self.flush();
        self
    }

    /// `phone` hangs up.
    pub fn hang_up(&mut self, id: PhoneId) -> &mut Pair {
        self.phones[id.0].hang_up(self.now);
        self.flush();
        self
    }

    /// Runs until the call of `phone` is over on both sides and what it heard is final.
    pub fn until_over(&mut self, id: PhoneId) -> &mut Pair {
        let over = self.run_until(STEP_LIMIT, |pair| {
            pair.phones[id.0].is_finished() && pair.server.sessions() == 0
        });
        assert!(
            over,
            "the call did not end: phone hung up {}, sessions {}",
            self.phones[id.0].is_hung_up(),
            self.server.sessions()
        );
        // The drivers fed every call only what it asked for.
        let driver_errors: Vec<_> = self
            .server
            .log
            .audits
            .iter()
            .filter(|(_, audit)| matches!(audit, portal_core::Audit::DriverError(_)))
            .collect();
        assert!(driver_errors.is_empty(), "{driver_errors:?}");
        self
    }

    /// Everything `phone` heard, as labels (`welcome`, `welcome (cut)`, `<audio 2040 ms>`).
    pub fn transcript(&self, id: PhoneId) -> Vec<String> {
        self.phones[id.0].heard()
    }

    /// Simulated time since the pair was made.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// The audit entries the store holds for `mailbox`, by kind.
    pub fn audit_kinds(&self, mailbox: &str) -> Vec<String> {
        let query = portal_store::AuditQuery {
            mailbox: Some(mailbox.into()),
            limit: 1000,
            ..portal_store::AuditQuery::default()
        };
        let mut entries = portal_store::AccountStore::audit(&self.server.store, &query).unwrap();
        entries.reverse();
        entries
            .into_iter()
            .map(|entry| entry.kind.to_string())
            .collect()
    }
}
