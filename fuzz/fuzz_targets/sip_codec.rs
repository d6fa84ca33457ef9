//! Any datagram through the SIP codec, and any byte stream through the TCP framer: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portal_sip::codec::{StreamFramer, decode_datagram};

fuzz_target!(|data: &[u8]| {
    let _ = decode_datagram(data);
    let mut framer = StreamFramer::default();
    // Feed the stream in two chunks split at a point the input chooses.
    let split = data.first().map_or(0, |&b| usize::from(b) % (data.len() + 1));
    framer.push(&data[..split]);
    while let Ok(Some(_)) = framer.next_message() {}
    framer.push(&data[split..]);
    while let Ok(Some(_)) = framer.next_message() {}
});
