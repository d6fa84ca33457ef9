//! Pair tests: whole calls, the portal's sans-IO values (SIP endpoint, session, media plane) and the real store
//! against a sans-IO test phone, on one simulated clock (see `support`). One file a flow of the seeds.

mod support;

mod deposit;
mod first_login;
mod lockout;
mod messages;
mod phone_and_network;
mod refusals;
mod star_key;
mod timeouts;
