//! Key presses: RFC 4733 telephone events, in-band DTMF tones, and the rule that one press is one digit.
//!
//! - [`TelephoneEventReceiver`] turns RFC 4733 packets into one [`DtmfUpdate::Pressed`] per event, reported at
//!   the first packet that arrives (so barge-in is fast), however many start, update or end packets are
//!   repeated or lost.
//! - [`InbandDetector`] finds DTMF tones in decoded audio (Goertzel filters), for calls that did not negotiate
//!   telephone-event.
//! - [`KeyPressDeduper`] merges the same press arriving by SIP INFO and by RTP.
//! - [`telephone_event_packets`] and [`dtmf_tone`] generate both kinds for tests and the test harness.
//!
//! What's where (every item is re-exported here, so paths are `dtmf::X`):
//! - `telephone_event.rs`: the payload ([`TelephoneEvent`], [`event_to_digit`], [`digit_to_event`]), the
//!   receiver ([`TelephoneEventReceiver`], [`DtmfUpdate`]) and the packet generator
//!   ([`telephone_event_packets`], [`TelephoneEventPacing`], [`TelephoneEventPacket`]);
//! - `inband.rs`: the detector ([`InbandDetector`], [`InbandConfig`], [`InbandDigit`]) and the keypad's tones
//!   ([`dtmf_tone`], [`add_dtmf_tone`], [`digit_frequencies`], [`ROW_FREQUENCIES`], [`COLUMN_FREQUENCIES`]);
//! - `key_press.rs`: merging presses from several sources ([`KeySource`], [`KeyPressDeduper`],
//!   [`DEFAULT_DEDUP_WINDOW`]).

mod inband;
mod key_press;
mod telephone_event;

pub use inband::{
    COLUMN_FREQUENCIES, InbandConfig, InbandDetector, InbandDigit, ROW_FREQUENCIES, add_dtmf_tone,
    digit_frequencies, dtmf_tone,
};
pub use key_press::{DEFAULT_DEDUP_WINDOW, KeyPressDeduper, KeySource};
pub use telephone_event::{
    DtmfUpdate, TelephoneEvent, TelephoneEventPacing, TelephoneEventPacket, TelephoneEventReceiver,
    digit_to_event, event_to_digit, telephone_event_packets,
};

/// Every portal digit, for the tests of the submodules.
#[cfg(test)]
const ALL_DIGITS: [portal_core::Digit; 12] = [
    portal_core::Digit::Number(0),
    portal_core::Digit::Number(1),
    portal_core::Digit::Number(2),
    portal_core::Digit::Number(3),
    portal_core::Digit::Number(4),
    portal_core::Digit::Number(5),
    portal_core::Digit::Number(6),
    portal_core::Digit::Number(7),
    portal_core::Digit::Number(8),
    portal_core::Digit::Number(9),
    portal_core::Digit::Star,
    portal_core::Digit::Pound,
];
