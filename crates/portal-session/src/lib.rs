//! # portal-session: one vportal call as a sans-IO value
//!
//! A phone's INVITE becomes a [`Session`]: it asks the driver to route the call (which portal, which policy,
//! who is calling: one store query), to open the call's media on the plane, answers the SDP offer (or makes
//! one and learns the answer from the ACK), waits the configured answer delay, and from then on carries the
//! conversation core's outputs to the media plane (prompts as audio, recordings), to the store (as
//! [`StoreJob`]s) and to SIP (BYE). Keys arrive from RTP and from SIP INFO; a press reported both ways counts
//! once.
//!
//! Like `portal-core`, `portal-sip` and `portal-media`'s plane, it does no I/O and reads no clock: the driver
//! feeds [`SessionInput`]s with the time, drains [`SessionOutput`]s until `None`, and sleeps until
//! [`Session::poll_timeout`]. `vportal serve` drives it on tokio, one task a call; the pair tests drive it
//! with the SIP endpoint, the media plane and a test phone on one simulated clock. The [`Conversation`]
//! inside is what the console drives without SIP or RTP: both drivers drain the core through it.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::{Duration, Instant};
//! use portal_session::{Session, SessionConfig, SessionOutput};
//! # fn incoming() -> portal_sip::endpoint::IncomingCall { unimplemented!() }
//! # fn driver(session: &mut Session, output: SessionOutput, now: Instant) {}
//! # fn run(config: Arc<SessionConfig>) {
//! let mut session = Session::new(incoming(), config, 1);
//! let mut now = Instant::now();
//! while !session.is_finished() {
//!     while let Some(output) = session.poll_output() {
//!         driver(&mut session, output, now); // may feed inputs: route, media, store replies, SIP events
//!     }
//!     now = session.poll_timeout().unwrap_or(now + Duration::from_millis(20));
//!     session.handle_timeout(now);
//! }
//! # }
//! ```

mod config;
mod conversation;
mod session;

pub use config::SessionConfig;
pub use conversation::{Conversation, ConversationOutput, StoreJob};
pub use session::{
    DepositRoute, Route, RouteQuery, Routing, Session, SessionInput, SessionOutput,
    portal_identity, portal_language,
};
