//! The RFC 4733 telephone-event side of key presses: the 4-byte payload and its event codes, the receiver that
//! turns a stream of event packets into one press per key, and the generator of the packets a phone sends.

use std::collections::VecDeque;

use portal_core::Digit;

use crate::rtp::{CLOCK_RATE, RtpPacket, timestamp_delta};

/// The digit an RFC 4733 event code stands for: 0-9, 10 is `*`, 11 is `#`. Events 12-15 (A-D) and all other
/// events (tones, flash) are not portal digits.
pub fn event_to_digit(event: u8) -> Option<Digit> {
    match event {
        0..=9 => Some(Digit::Number(event)),
        10 => Some(Digit::Star),
        11 => Some(Digit::Pound),
        _ => None,
    }
}

/// The RFC 4733 event code of a digit.
pub fn digit_to_event(digit: Digit) -> u8 {
    match digit {
        Digit::Number(n) => n.min(9),
        Digit::Star => 10,
        Digit::Pound => 11,
    }
}

/// One RFC 4733 event payload block (4 bytes): event code, end bit, volume and duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code (0-9, 10 `*`, 11 `#`, 12-15 A-D, others non-DTMF).
    pub event: u8,
    /// The E bit: this packet reports the end of the event.
    pub end: bool,
    /// Power level as -dBm0, 0-63 (6 bits).
    pub volume: u8,
    /// Duration so far in timestamp units (samples at 8 kHz).
    pub duration: u16,
}

impl TelephoneEvent {
    /// Length of the payload block.
    pub const LEN: usize = 4;

    /// Parses the first block of a payload; `None` if shorter than 4 bytes. Trailing bytes are ignored.
    pub fn parse(payload: &[u8]) -> Option<TelephoneEvent> {
        let &[event, flags, duration_high, duration_low, ..] = payload else {
            return None;
        };
        Some(TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([duration_high, duration_low]),
        })
    }

    /// The payload bytes (the reserved bit is zero; volume is cut to 6 bits).
    pub fn to_bytes(self) -> [u8; 4] {
        let flags = if self.end { 0x80 } else { 0 } | (self.volume & 0x3F);
        let [duration_high, duration_low] = self.duration.to_be_bytes();
        [self.event, flags, duration_high, duration_low]
    }

    /// The portal digit of this event, if it is one.
    pub fn digit(self) -> Option<Digit> {
        event_to_digit(self.event)
    }
}

/// What one telephone-event packet changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtmfUpdate {
    /// A new key press: report it to the conversation now. Exactly one per event.
    Pressed(Digit),
    /// The end of a press reported earlier, with its total duration in samples. At most one per event, and
    /// only when the event's end arrives after its first packet.
    Released {
        /// The key.
        digit: Digit,
        /// How long the key was held, in samples (8 kHz).
        duration_samples: u32,
    },
}

/// One event the receiver has seen, remembered so its repeats are recognised.
#[derive(Clone, Copy, Debug)]
struct EventState {
    ssrc: u32,
    timestamp: u32,
    event: u8,
    ended: bool,
    /// Samples of earlier segments of a long event (RFC 4733 §2.5.1.3), plus this segment's latest duration.
    earlier_segments: u32,
    duration: u16,
}

/// Events remembered; more than enough for stragglers of the previous few presses.
const REMEMBERED_EVENTS: usize = 8;
/// A new event whose timestamp is behind the newest one by less than this (60 s) is a straggler, not a press.
const STALE_WINDOW: i32 = 60 * CLOCK_RATE as i32;
/// Slack allowed around the 0xFFFF step between segments of a long event (100 ms).
const SEGMENT_SLACK: i64 = 800;

/// Turns RFC 4733 telephone-event packets into key presses: one per event, keyed by (SSRC, RTP timestamp).
///
/// The press is reported by the first packet of the event that arrives, whether that is the start packet,
/// an update or one of the (normally three) end packets. Later packets of the same event, duplicates, and
/// stragglers of earlier events report nothing, except one [`DtmfUpdate::Released`] when the end arrives.
#[derive(Debug, Default)]
pub struct TelephoneEventReceiver {
    recent: VecDeque<EventState>,
}

impl TelephoneEventReceiver {
    /// A receiver that has seen no events.
    pub fn new() -> TelephoneEventReceiver {
        TelephoneEventReceiver {
            recent: VecDeque::with_capacity(REMEMBERED_EVENTS + 1),
        }
    }

    /// Feeds one packet that carries the negotiated telephone-event payload type.
    pub fn receive(&mut self, packet: &RtpPacket<'_>) -> Option<DtmfUpdate> {
        self.receive_payload(packet.ssrc, packet.timestamp, packet.marker, packet.payload)
    }

    /// Feeds the fields of one telephone-event packet. Never panics, whatever the payload.
    pub fn receive_payload(
        &mut self,
        ssrc: u32,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Option<DtmfUpdate> {
        let block = TelephoneEvent::parse(payload)?;
        if let Some(known) = self
            .recent
            .iter_mut()
            .find(|state| state.ssrc == ssrc && state.timestamp == timestamp)
        {
            if known.event != block.event {
                // Two events cannot share a start time; a sender that reuses one is confused. Ignore it.
                return None;
            }
            known.duration = known.duration.max(block.duration);
            if block.end && !known.ended {
                known.ended = true;
                let total = known.earlier_segments + u32::from(known.duration);
                return event_to_digit(known.event).map(|digit| DtmfUpdate::Released {
                    digit,
                    duration_samples: total,
                });
            }
            return None;
        }

        if let Some(previous) = self.next_segment_of(ssrc, timestamp, marker, block.event) {
            // The same key still held past 0xFFFF samples: a new segment of the same press.
            let earlier = previous.earlier_segments + timestamp.wrapping_sub(previous.timestamp);
            previous.ended = true;
            self.remember(EventState {
                ssrc,
                timestamp,
                event: block.event,
                ended: block.end,
                earlier_segments: earlier,
                duration: block.duration,
            });
            return None;
        }

        let newest_for_ssrc = self.recent.iter().rev().find(|state| state.ssrc == ssrc);
        if let Some(newest) = newest_for_ssrc {
            let behind = timestamp_delta(newest.timestamp, timestamp);
            if behind < 0 && behind > -STALE_WINDOW {
                // A late packet of an event we have already forgotten.
                return None;
            }
        }

        self.remember(EventState {
            ssrc,
            timestamp,
            event: block.event,
            ended: block.end,
            earlier_segments: 0,
            duration: block.duration,
        });
        event_to_digit(block.event).map(DtmfUpdate::Pressed)
    }

    /// The unfinished event that a packet at `timestamp` continues as a new segment (RFC 4733 §2.5.1.3).
    fn next_segment_of(
        &mut self,
        ssrc: u32,
        timestamp: u32,
        marker: bool,
        event: u8,
    ) -> Option<&mut EventState> {
        if marker {
            return None;
        }
        self.recent.iter_mut().rev().find(|state| {
            let step = i64::from(timestamp_delta(state.timestamp, timestamp));
            state.ssrc == ssrc
                && state.event == event
                && !state.ended
                && (step - 0xFFFF).abs() <= SEGMENT_SLACK
        })
    }

    fn remember(&mut self, state: EventState) {
        if self.recent.len() == REMEMBERED_EVENTS {
            self.recent.pop_front();
        }
        self.recent.push_back(state);
    }
}

/// How [`telephone_event_packets`] paces an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TelephoneEventPacing {
    /// Samples between update packets while the key is held (400 = 50 ms).
    pub update_interval: u32,
    /// How many end packets to send (RFC 4733 asks for three).
    pub end_packets: u8,
    /// Samples between the end packets (160 = 20 ms).
    pub end_interval: u32,
    /// Volume field, as -dBm0.
    pub volume: u8,
}

impl Default for TelephoneEventPacing {
    fn default() -> Self {
        TelephoneEventPacing {
            update_interval: 400,
            end_packets: 3,
            end_interval: 160,
            volume: 10,
        }
    }
}

/// One packet of a generated telephone event: when to send it and what goes in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TelephoneEventPacket {
    /// When to send it, in samples after the key went down.
    pub send_at: u32,
    /// The marker bit (set on the first packet of the event only).
    pub marker: bool,
    /// The RTP timestamp: the start of the event (or of its segment, for events longer than 0xFFFF).
    pub timestamp: u32,
    /// The payload block.
    pub event: TelephoneEvent,
}

/// The RFC 4733 packets a phone sends for one key held `duration` samples from `start_timestamp`: a first
/// packet with the marker bit (duration 0: the key just went down), updates every `update_interval`, then the
/// end packets, all with the same timestamp and final duration. Events longer than 0xFFFF samples are split
/// into segments with new timestamps.
pub fn telephone_event_packets(
    digit: Digit,
    start_timestamp: u32,
    duration: u32,
    pacing: TelephoneEventPacing,
) -> Vec<TelephoneEventPacket> {
    let event = digit_to_event(digit);
    let interval = pacing.update_interval.max(1);
    let block = |elapsed_in_segment: u32, end: bool| TelephoneEvent {
        event,
        end,
        volume: pacing.volume,
        duration: elapsed_in_segment.min(0xFFFF) as u16,
    };
    let mut packets = Vec::new();
    let mut send_at = 0;
    while send_at < duration.max(1) {
        let segment_start = (send_at / 0xFFFF) * 0xFFFF;
        packets.push(TelephoneEventPacket {
            send_at,
            marker: send_at == 0,
            timestamp: start_timestamp.wrapping_add(segment_start),
            event: block(send_at - segment_start, false),
        });
        send_at += interval;
    }
    let last_segment_start = (duration.saturating_sub(1) / 0xFFFF) * 0xFFFF;
    for repeat in 0..u32::from(pacing.end_packets) {
        packets.push(TelephoneEventPacket {
            send_at: duration + repeat * pacing.end_interval,
            marker: false,
            timestamp: start_timestamp.wrapping_add(last_segment_start),
            event: block(duration - last_segment_start, true),
        });
    }
    packets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtmf::ALL_DIGITS;
    use proptest::prelude::*;

    #[test]
    fn event_codes_map_to_digits() {
        for digit in ALL_DIGITS {
            assert_eq!(event_to_digit(digit_to_event(digit)), Some(digit));
        }
        assert_eq!(event_to_digit(10), Some(Digit::Star));
        assert_eq!(event_to_digit(11), Some(Digit::Pound));
        for event in 12..=255 {
            assert_eq!(event_to_digit(event), None);
        }
    }

    #[test]
    fn payload_round_trips() {
        let block = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 1234,
        };
        assert_eq!(block.to_bytes(), [11, 0x8A, 0x04, 0xD2]);
        assert_eq!(TelephoneEvent::parse(&block.to_bytes()), Some(block));
        assert_eq!(
            TelephoneEvent::parse(&[11, 0xCA, 0, 1, 99]).unwrap().volume,
            10
        );
        assert_eq!(TelephoneEvent::parse(&[1, 2, 3]), None);
    }

    fn feed(
        receiver: &mut TelephoneEventReceiver,
        ssrc: u32,
        packets: &[TelephoneEventPacket],
    ) -> Vec<DtmfUpdate> {
        packets
            .iter()
            .filter_map(|p| {
                receiver.receive_payload(ssrc, p.timestamp, p.marker, &p.event.to_bytes())
            })
            .collect()
    }

    #[test]
    fn one_press_per_event_reported_at_the_first_packet() {
        let packets = telephone_event_packets(
            Digit::Number(5),
            1000,
            1600,
            TelephoneEventPacing::default(),
        );
        // 0, 400, 800, 1200 then three ends.
        assert_eq!(packets.len(), 7);
        assert!(packets[0].marker && packets[1..].iter().all(|p| !p.marker));
        assert!(packets.iter().all(|p| p.timestamp == 1000));
        assert!(
            packets[4..]
                .iter()
                .all(|p| p.event.end && p.event.duration == 1600)
        );
        let mut receiver = TelephoneEventReceiver::new();
        let first = receiver.receive_payload(1, 1000, true, &packets[0].event.to_bytes());
        assert_eq!(first, Some(DtmfUpdate::Pressed(Digit::Number(5))));
        assert_eq!(
            feed(&mut receiver, 1, &packets[1..]),
            vec![DtmfUpdate::Released {
                digit: Digit::Number(5),
                duration_samples: 1600
            }]
        );
    }

    #[test]
    fn lost_start_and_lost_ends_still_give_one_press() {
        let packets =
            telephone_event_packets(Digit::Star, 50, 2000, TelephoneEventPacing::default());
        // Only the end packets arrive.
        let mut receiver = TelephoneEventReceiver::new();
        let ends: Vec<_> = packets.iter().copied().filter(|p| p.event.end).collect();
        assert_eq!(
            feed(&mut receiver, 9, &ends),
            vec![DtmfUpdate::Pressed(Digit::Star)]
        );
        // Only the start arrives, all ends lost.
        let mut receiver = TelephoneEventReceiver::new();
        assert_eq!(
            feed(&mut receiver, 9, &packets[..1]),
            vec![DtmfUpdate::Pressed(Digit::Star)]
        );
        // Only one update in the middle arrives.
        let mut receiver = TelephoneEventReceiver::new();
        assert_eq!(
            feed(&mut receiver, 9, &packets[2..3]),
            vec![DtmfUpdate::Pressed(Digit::Star)]
        );
    }

    #[test]
    fn same_digit_twice_is_two_presses_and_stragglers_are_ignored() {
        let pacing = TelephoneEventPacing::default();
        let first = telephone_event_packets(Digit::Number(1), 8000, 800, pacing);
        let second = telephone_event_packets(Digit::Number(1), 8000 + 1600, 800, pacing);
        let mut receiver = TelephoneEventReceiver::new();
        let mut all = first.clone();
        // The last end packet of the first press arrives after the second press began.
        let late = all.pop().unwrap();
        all.extend_from_slice(&second[..2]);
        all.push(late);
        all.extend_from_slice(&second[2..]);
        let presses: Vec<_> = feed(&mut receiver, 3, &all)
            .into_iter()
            .filter(|u| matches!(u, DtmfUpdate::Pressed(_)))
            .collect();
        assert_eq!(presses, vec![DtmfUpdate::Pressed(Digit::Number(1)); 2]);
    }

    #[test]
    fn forgotten_old_events_do_not_come_back() {
        let mut receiver = TelephoneEventReceiver::new();
        let pacing = TelephoneEventPacing::default();
        for i in 0..20u32 {
            let packets = telephone_event_packets(Digit::Number(2), i * 4000, 800, pacing);
            assert_eq!(feed(&mut receiver, 4, &packets).len(), 2);
        }
        // An end packet of the first event, very late.
        let stale = telephone_event_packets(Digit::Number(2), 0, 800, pacing);
        assert_eq!(feed(&mut receiver, 4, &stale[stale.len() - 1..]), vec![]);
    }

    #[test]
    fn events_are_keyed_by_ssrc_too() {
        let packets =
            telephone_event_packets(Digit::Pound, 700, 800, TelephoneEventPacing::default());
        let mut receiver = TelephoneEventReceiver::new();
        assert_eq!(
            feed(&mut receiver, 1, &packets[..1]),
            vec![DtmfUpdate::Pressed(Digit::Pound)]
        );
        // A new SSRC (the phone restarted its stream) with the same timestamp is a new press.
        assert_eq!(
            feed(&mut receiver, 2, &packets[..1]),
            vec![DtmfUpdate::Pressed(Digit::Pound)]
        );
    }

    #[test]
    fn keys_a_to_d_are_ignored() {
        let mut receiver = TelephoneEventReceiver::new();
        for event in 12..=15u8 {
            let block = TelephoneEvent {
                event,
                end: false,
                volume: 10,
                duration: 0,
            };
            assert_eq!(
                receiver.receive_payload(1, u32::from(event) * 1000, true, &block.to_bytes()),
                None
            );
            let end = TelephoneEvent { end: true, ..block };
            assert_eq!(
                receiver.receive_payload(1, u32::from(event) * 1000, false, &end.to_bytes()),
                None
            );
        }
    }

    #[test]
    fn long_press_split_into_segments_is_one_press() {
        // 10 s held: 80 000 samples, two segments.
        let packets = telephone_event_packets(
            Digit::Number(0),
            u32::MAX - 1000,
            80_000,
            TelephoneEventPacing::default(),
        );
        let timestamps: std::collections::BTreeSet<u32> =
            packets.iter().map(|p| p.timestamp).collect();
        assert_eq!(timestamps.len(), 2);
        let mut receiver = TelephoneEventReceiver::new();
        assert_eq!(
            feed(&mut receiver, 5, &packets),
            vec![
                DtmfUpdate::Pressed(Digit::Number(0)),
                DtmfUpdate::Released {
                    digit: Digit::Number(0),
                    duration_samples: 80_000
                }
            ]
        );
    }

    #[test]
    fn receive_reads_rtp_packets() {
        let packets =
            telephone_event_packets(Digit::Number(9), 123, 800, TelephoneEventPacing::default());
        let bytes = packets[0].event.to_bytes();
        let packet = RtpPacket {
            payload_type: 101,
            marker: true,
            sequence: 1,
            timestamp: 123,
            ssrc: 77,
            payload: &bytes,
        };
        let mut receiver = TelephoneEventReceiver::new();
        assert_eq!(
            receiver.receive(&packet),
            Some(DtmfUpdate::Pressed(Digit::Number(9)))
        );
        assert_eq!(receiver.receive(&packet), None);
    }

    proptest! {
        #[test]
        fn receiver_never_panics(packets in proptest::collection::vec(
            (any::<u32>(), any::<u32>(), any::<bool>(), proptest::collection::vec(any::<u8>(), 0..8)),
            0..40,
        )) {
            let mut receiver = TelephoneEventReceiver::new();
            for (ssrc, timestamp, marker, payload) in packets {
                let _ = receiver.receive_payload(ssrc % 3, timestamp % 5000, marker, &payload);
            }
        }

        #[test]
        fn any_surviving_subset_in_any_order_is_one_press(
            digit_index in 0usize..12,
            start: u32,
            duration in 160u32..8000,
            keep in proptest::collection::vec(any::<bool>(), 40),
            shuffle_seed: u64,
        ) {
            let digit = ALL_DIGITS[digit_index];
            let packets = telephone_event_packets(digit, start, duration, TelephoneEventPacing::default());
            let mut kept: Vec<_> = packets.iter().zip(keep.iter().cycle()).filter(|(_, k)| **k).map(|(p, _)| *p).collect();
            prop_assume!(!kept.is_empty());
            // Deterministic shuffle.
            let mut state = shuffle_seed | 1;
            for i in (1..kept.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                kept.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let mut receiver = TelephoneEventReceiver::new();
            let updates = feed(&mut receiver, 1, &kept);
            let presses = updates.iter().filter(|u| matches!(u, DtmfUpdate::Pressed(_))).count();
            prop_assert_eq!(presses, 1);
            prop_assert_eq!(updates[0], DtmfUpdate::Pressed(digit));
        }

        #[test]
        fn event_payloads_round_trip(event: u8, end: bool, volume in 0u8..64, duration: u16) {
            let block = TelephoneEvent { event, end, volume, duration };
            prop_assert_eq!(TelephoneEvent::parse(&block.to_bytes()), Some(block));
        }
    }
}
