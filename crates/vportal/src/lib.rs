//! # vportal: the voice portal
//!
//! The `vportal` binary and the library behind it:
//! - [`admin`]: policy, portals and users, as functions the CLI (and later an API) calls;
//! - [`bridge`]: carries the conversation core's requests to the account store and the notifier;
//! - [`catalog`]: the prompt texts; [`config`]: the configuration file; [`data`]: the data directory and the
//!   sealing key; [`console`]: a call in a terminal; [`demo`]: the demo data;
//! - [`serve`]: the SIP/RTP front end (`vportal serve`); [`telemetry`]: its metrics and health endpoints.
//!
//! The conversation itself is `portal-core`; accounts and passcodes are `portal-store`; email is
//! `portal-notify`.

pub mod admin;
pub mod bridge;
pub mod catalog;
pub mod config;
pub mod console;
pub mod data;
pub mod demo;
pub mod serve;
pub mod telemetry;
