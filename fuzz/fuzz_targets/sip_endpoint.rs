//! Any sequence of datagrams into the endpoint, with time passing between them: never a panic.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use portal_sip::endpoint::{Config, Endpoint, Transport};

fuzz_target!(|data: &[u8]| {
    let mut config = Config::new("127.0.0.1:5060".parse().unwrap());
    config.rng_seed = Some(1);
    let mut endpoint = Endpoint::new(config);
    let mut now = Instant::now();
    // Datagrams separated by 0xfe bytes; the first byte of each also says how far the clock moves after it.
    for datagram in data.split(|&b| b == 0xfe) {
        let _ = endpoint.handle_datagram(now, "127.0.0.1:5062".parse().unwrap(), Transport::Udp, datagram);
        while endpoint.poll_transmit().is_some() {}
        while endpoint.poll_event().is_some() {}
        now += Duration::from_millis(u64::from(datagram.first().copied().unwrap_or(0)) * 50);
        endpoint.handle_timeout(now);
    }
});
