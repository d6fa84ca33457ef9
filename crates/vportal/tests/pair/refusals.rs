//! Calls the portal refuses at the door, with the status RFC 3261 names.

use std::net::SocketAddr;

use crate::support::{Pair, PairOptions};

#[test]
fn an_ipv6_offer_to_an_ipv4_portal_is_refused_with_488_and_nothing_is_left_open() {
    let mut pair = Pair::new(PairOptions::default());
    let phone = pair.call_with("5551001", "5558000", |config| {
        config.rtp = "[2001:db8::2]:40000".parse::<SocketAddr>().unwrap();
    });
    pair.until_over(phone);
    assert_eq!(pair.phone(phone).rejected(), Some(488));
    assert_eq!(pair.server.log.refusals, [488]);
    assert_eq!(pair.server.plane.call_count(), 0);
    assert!(pair.transcript(phone).is_empty());
}

#[test]
fn a_number_no_portal_has_is_refused_with_404() {
    let mut pair = Pair::new(PairOptions::default());
    let phone = pair.call("5551001", "5550000");
    pair.until_over(phone);
    assert_eq!(pair.phone(phone).rejected(), Some(404));
    assert_eq!(pair.server.log.refusals, [404]);
}
