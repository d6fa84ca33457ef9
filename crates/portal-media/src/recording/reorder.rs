//! Putting a caller's RTP packets back in sequence order (holding a few), dropping duplicates and stragglers,
//! and filling real gaps with silence, before the recorder decodes them.

use crate::rtp::{CLOCK_RATE, sequence_delta, timestamp_delta};

/// Longest gap the reorder buffer fills with silence in one go (10 s); larger timestamp jumps are a
/// restarted stream, not a pause.
pub const MAX_GAP_FILL: u32 = 10 * CLOCK_RATE;

/// A packet further ahead than this in sequence space restarts the stream instead of being held.
const MAX_SEQUENCE_JUMP: u16 = 1_000;

/// What the reorder buffer hands on, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Ordered<'a> {
    /// Samples that never arrived (or a pause in the sender's stream): this many samples of silence.
    Silence(u32),
    /// The payload of the next packet in sequence.
    Payload(&'a [u8]),
}

/// A held packet; the payload storage is reused from packet to packet.
#[derive(Debug, Default)]
struct Slot {
    sequence: u16,
    timestamp: u32,
    payload: Vec<u8>,
}

/// Counters of what the reorder buffer did, for call statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReorderStats {
    /// Packets passed on.
    pub delivered: u64,
    /// Packets dropped as duplicates or too late.
    pub dropped: u64,
    /// Samples of silence inserted for missing packets or pauses.
    pub silence_filled: u64,
}

/// Restores sequence order for one RTP stream of one-byte-per-sample audio (G.711).
///
/// Holds up to `depth` out-of-order packets. When a packet is missing and the buffer is full, the gap is given
/// up on and filled with silence; a packet arriving after its place was passed is dropped, as are duplicates.
/// Gaps are measured with RTP timestamps, so a sender's pause (no packets, timestamp jump) becomes silence of
/// the right length too.
#[derive(Debug)]
pub struct ReorderBuffer {
    depth: usize,
    /// Sequence number and timestamp expected next; `None` before the first packet.
    next: Option<(u16, u32)>,
    /// Held packets, in sequence order.
    held: Vec<Slot>,
    /// Emptied slots kept for reuse so holding a packet does not allocate once warmed up.
    spare: Vec<Slot>,
    stats: ReorderStats,
}

impl ReorderBuffer {
    /// A buffer holding at most `depth` packets (3-5 suits 20 ms packets).
    pub fn new(depth: usize) -> ReorderBuffer {
        ReorderBuffer {
            depth,
            next: None,
            held: Vec::with_capacity(depth + 1),
            spare: Vec::with_capacity(depth + 1),
            stats: ReorderStats::default(),
        }
    }

    /// What the buffer has done so far.
    pub fn stats(&self) -> ReorderStats {
        self.stats
    }

    /// Takes one packet and passes on, through `out`, everything that is now in order.
    ///
    /// The first packets are held until the buffer is full, so a stream whose first packets arrive out of
    /// order starts at the right one; after that, packets in order pass straight through.
    pub fn push(
        &mut self,
        sequence: u16,
        timestamp: u32,
        payload: &[u8],
        out: &mut impl FnMut(Ordered<'_>),
    ) {
        if self.held.iter().any(|slot| slot.sequence == sequence) {
            self.stats.dropped += 1;
            return;
        }
        if let Some(reference) = self.reference_sequence() {
            let ahead = sequence_delta(reference, sequence);
            if ahead.unsigned_abs() > MAX_SEQUENCE_JUMP {
                // The sender restarted its numbering: pass on what we hold and follow the new numbers.
                self.flush(out);
                self.next = None;
            } else if ahead < 0 && self.next.is_some() {
                // Its place has passed: a duplicate of a delivered packet, or too late.
                self.stats.dropped += 1;
                return;
            }
        }
        self.hold(sequence, timestamp, payload);
        self.release_in_order(out);
        while self.held.len() > self.depth {
            // Give up on the missing packet(s): the earliest held packet goes next.
            self.release_front(out);
            self.release_in_order(out);
        }
    }

    /// The sequence number held packets are ordered from: the next expected, or the earliest held.
    fn reference_sequence(&self) -> Option<u16> {
        match self.next {
            Some((sequence, _)) => Some(sequence),
            None => self.held.first().map(|slot| slot.sequence),
        }
    }

    /// Passes on everything held, filling gaps (at the end of the recording).
    pub fn flush(&mut self, out: &mut impl FnMut(Ordered<'_>)) {
        while !self.held.is_empty() {
            self.release_front(out);
        }
    }

    fn hold(&mut self, sequence: u16, timestamp: u32, payload: &[u8]) {
        let mut slot = self.spare.pop().unwrap_or_default();
        slot.sequence = sequence;
        slot.timestamp = timestamp;
        slot.payload.clear();
        slot.payload.extend_from_slice(payload);
        let reference = self.reference_sequence().unwrap_or(sequence);
        let key = |slot: &Slot| sequence_delta(reference, slot.sequence);
        let position = self.held.partition_point(|held| key(held) < key(&slot));
        self.held.insert(position, slot);
    }

    fn release_front(&mut self, out: &mut impl FnMut(Ordered<'_>)) {
        let slot = self.held.remove(0);
        self.deliver(slot.sequence, slot.timestamp, &slot.payload, out);
        self.spare.push(slot);
    }

    fn release_in_order(&mut self, out: &mut impl FnMut(Ordered<'_>)) {
        while let (Some(front), Some((next_sequence, _))) = (self.held.first(), self.next) {
            if front.sequence != next_sequence {
                break;
            }
            self.release_front(out);
        }
    }

    fn deliver(
        &mut self,
        sequence: u16,
        timestamp: u32,
        payload: &[u8],
        out: &mut impl FnMut(Ordered<'_>),
    ) {
        if let Some((_, next_timestamp)) = self.next {
            let gap = timestamp_delta(next_timestamp, timestamp);
            if gap > 0 && gap as u32 <= MAX_GAP_FILL {
                self.stats.silence_filled += gap as u64;
                out(Ordered::Silence(gap as u32));
            }
        }
        self.stats.delivered += 1;
        out(Ordered::Payload(payload));
        self.next = Some((
            sequence.wrapping_add(1),
            timestamp.wrapping_add(payload.len() as u32),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Runs packets (sequence, timestamp, payload) through a reorder buffer; returns the output stream.
    fn reorder(depth: usize, packets: &[(u16, u32, Vec<u8>)]) -> (Vec<u8>, ReorderStats) {
        let mut buffer = ReorderBuffer::new(depth);
        let mut stream = Vec::new();
        let mut collect = |ordered: Ordered<'_>| match ordered {
            Ordered::Silence(len) => stream.extend(std::iter::repeat_n(0u8, len as usize)),
            Ordered::Payload(payload) => stream.extend_from_slice(payload),
        };
        for (sequence, timestamp, payload) in packets {
            buffer.push(*sequence, *timestamp, payload, &mut collect);
        }
        buffer.flush(&mut collect);
        (stream, buffer.stats())
    }

    /// Packet `i` of a stream starting at `first_sequence`: 4 samples, all equal to `i + 1`.
    fn packet(first_sequence: u16, i: u16) -> (u16, u32, Vec<u8>) {
        (
            first_sequence.wrapping_add(i),
            1000 + u32::from(i) * 4,
            vec![i as u8 + 1; 4],
        )
    }

    fn expected(indexes: &[Option<u16>]) -> Vec<u8> {
        indexes
            .iter()
            .flat_map(|i| match i {
                Some(i) => vec![*i as u8 + 1; 4],
                None => vec![0; 4],
            })
            .collect()
    }

    #[test]
    fn reorders_within_the_window_across_the_wrap() {
        let first = 65_533;
        let order = [0, 2, 1, 3, 5, 6, 4, 7];
        let packets: Vec<_> = order.iter().map(|&i| packet(first, i)).collect();
        let (stream, stats) = reorder(4, &packets);
        assert_eq!(stream, expected(&(0..8).map(Some).collect::<Vec<_>>()));
        assert_eq!(stats.dropped, 0);
        assert_eq!(stats.silence_filled, 0);
    }

    #[test]
    fn fills_lost_packets_with_silence_and_drops_late_and_duplicate_ones() {
        // 2 is lost; 3 comes twice; 1 arrives after its gap was given up on.
        let order = [0, 3, 3, 4, 5, 6, 7, 1, 8];
        let packets: Vec<_> = order.iter().map(|&i| packet(10, i)).collect();
        let (stream, stats) = reorder(3, &packets);
        let want: Vec<_> = (0..9)
            .map(|i| if i == 1 || i == 2 { None } else { Some(i) })
            .collect();
        assert_eq!(stream, expected(&want));
        assert_eq!(stats.dropped, 2);
        assert_eq!(stats.silence_filled, 8);
    }

    #[test]
    fn sender_pauses_become_silence_and_restarts_are_followed() {
        let mut packets = vec![packet(100, 0), packet(100, 1)];
        // Next packet in sequence, but 40 samples later (silence suppression).
        packets.push((102, 1000 + 8 + 40, vec![9; 4]));
        // Numbering restarts far away with a new timestamp base.
        packets.push((40_000, 7, vec![5; 4]));
        packets.push((40_001, 11, vec![6; 4]));
        let (stream, _) = reorder(4, &packets);
        let mut want = expected(&[Some(0), Some(1)]);
        want.extend([0; 40]);
        want.extend([9; 4]);
        want.extend([5; 4]);
        want.extend([6; 4]);
        assert_eq!(stream, want);
    }

    proptest! {
        #[test]
        fn reorder_never_panics_and_never_duplicates(
            packets in proptest::collection::vec((any::<u16>(), any::<u32>(), proptest::collection::vec(any::<u8>(), 0..8)), 0..60),
            depth in 0usize..6,
        ) {
            let (_, stats) = reorder(depth, &packets);
            prop_assert_eq!(stats.delivered + stats.dropped, packets.len() as u64);
        }

        #[test]
        fn shuffled_within_the_window_comes_out_in_order(
            swaps in proptest::collection::vec(0usize..40, 0..20),
            first: u16,
        ) {
            let mut order: Vec<u16> = (0..40).collect();
            // Adjacent swaps move no packet more than a couple of places: well within a window of 4.
            for &i in &swaps {
                if i + 1 < order.len() && i % 3 == 0 {
                    order.swap(i, i + 1);
                }
            }
            let packets: Vec<_> = order.iter().map(|&i| packet(first, i)).collect();
            let (stream, stats) = reorder(4, &packets);
            prop_assert_eq!(stream, expected(&(0..40).map(Some).collect::<Vec<_>>()));
            prop_assert_eq!(stats.dropped, 0);
        }
    }
}
