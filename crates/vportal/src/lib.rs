//! # vportal: the voice portal
//!
//! The `vportal` binary and the library behind it: opening the data directory, carrying the conversation
//! core's requests to the account store ([`bridge`]), the prompt catalogue ([`catalog`]), a call in a terminal
//! ([`console`]) and the demo data ([`demo`]). The conversation itself is `portal-core`; accounts and
//! passcodes are `portal-store`.

pub mod bridge;
pub mod catalog;
pub mod console;
pub mod data;
pub mod demo;
