//! Any datagram as RTP, and any payload as an RFC 4733 event: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portal_media::dtmf::TelephoneEventReceiver;
use portal_media::rtp::RtpPacket;

fuzz_target!(|data: &[u8]| {
    let mut receiver = TelephoneEventReceiver::new();
    for datagram in data.chunks(32) {
        if let Ok(packet) = RtpPacket::parse(datagram) {
            let _ = receiver.receive(&packet);
        }
        let _ = receiver.receive_payload(7, u32::from(datagram.len() as u8), false, datagram);
    }
});
