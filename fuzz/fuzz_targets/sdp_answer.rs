//! Any text as an SDP offer: parsing and answering never panic, and an answer always parses back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portal_sip::sdp::{LocalMedia, SessionDescription, negotiate};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(offer) = SessionDescription::parse(text) else {
        return;
    };
    let local = LocalMedia::new("127.0.0.1:40000".parse().unwrap(), 1);
    if let Ok((answer, _)) = negotiate(&offer, &local) {
        let printed = answer.to_string();
        assert!(SessionDescription::parse(&printed).is_ok(), "our answer must parse: {printed}");
    }
});
