//! RTP packets (RFC 3550) in and out, and the sending side's header state.
//!
//! Parsing and serialising go through the `rtp-rs` crate; this module keeps its types out of our API so the
//! rest of the crate (and the binary) sees one small [`RtpPacket`] view.

use rand::{Rng, SeedableRng, rngs::StdRng};
use rtp_rs::{RtpPacketBuildError, RtpPacketBuilder, RtpReader, RtpReaderError, Seq};

/// Length of an RTP header with no CSRCs and no extension, which is all we send.
pub const RTP_HEADER_LEN: usize = 12;

/// Samples in one 20 ms frame at 8 kHz: the portal's packet size for G.711.
pub const SAMPLES_PER_FRAME: usize = 160;

/// The RTP clock rate of G.711 and of telephone-event as we negotiate them.
pub const CLOCK_RATE: u32 = 8_000;

/// A buffer size that holds any packet the portal sends (a 20 ms G.711 frame or a telephone event).
pub const SEND_BUFFER_LEN: usize = RTP_HEADER_LEN + SAMPLES_PER_FRAME;

/// Why bytes are not an RTP packet we can use, or why a packet could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Fewer bytes than the fixed header.
    #[error("RTP packet of {0} bytes is shorter than the 12-byte header")]
    TooShort(usize),
    /// The version field is not 2.
    #[error("RTP version {0} is not supported (only version 2)")]
    UnsupportedVersion(u8),
    /// The CSRC list or header extension runs past the end of the packet.
    #[error("RTP headers need {header_len} bytes but the packet has {packet_len}")]
    HeadersTruncated {
        /// Bytes the headers claim.
        header_len: usize,
        /// Bytes the packet has.
        packet_len: usize,
    },
    /// The padding count is zero or larger than the payload.
    #[error("RTP padding length {0} is invalid")]
    InvalidPadding(u8),
    /// The output buffer cannot hold the packet.
    #[error("buffer of {buffer_len} bytes is too small for a {packet_len}-byte RTP packet")]
    BufferTooSmall {
        /// Bytes the packet needs.
        packet_len: usize,
        /// Bytes the buffer has.
        buffer_len: usize,
    },
    /// A payload type above 127 cannot be sent.
    #[error("RTP payload type {0} is out of range 0..=127")]
    InvalidPayloadType(u8),
}

impl From<RtpReaderError> for RtpError {
    fn from(error: RtpReaderError) -> Self {
        match error {
            RtpReaderError::BufferTooShort(len) => RtpError::TooShort(len),
            RtpReaderError::UnsupportedVersion(version) => RtpError::UnsupportedVersion(version),
            RtpReaderError::HeadersTruncated {
                header_len,
                buffer_len,
            } => RtpError::HeadersTruncated {
                header_len,
                packet_len: buffer_len,
            },
            RtpReaderError::PaddingLengthInvalid(len) => RtpError::InvalidPadding(len),
        }
    }
}

/// One RTP packet, borrowed from the datagram it was parsed from (or about to be written).
///
/// CSRCs and header extensions are skipped when parsing; padding is removed from the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// The marker bit: first packet of a talkspurt for audio, first packet of an event for telephone-event.
    pub marker: bool,
    /// Sequence number, wrapping at 65 536.
    pub sequence: u16,
    /// Media timestamp in clock-rate units, wrapping at 2^32.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// The payload, without padding.
    pub payload: &'a [u8],
}

impl<'a> RtpPacket<'a> {
    /// Parses a datagram. Never panics, whatever the bytes.
    pub fn parse(datagram: &'a [u8]) -> Result<RtpPacket<'a>, RtpError> {
        let reader = RtpReader::new(datagram)?;
        Ok(RtpPacket {
            payload_type: reader.payload_type(),
            marker: reader.mark(),
            sequence: u16::from(reader.sequence_number()),
            timestamp: reader.timestamp(),
            ssrc: reader.ssrc(),
            payload: reader.payload(),
        })
    }

    /// The length [`write_into`](Self::write_into) produces.
    pub fn wire_len(&self) -> usize {
        RTP_HEADER_LEN + self.payload.len()
    }

    /// Writes the packet into `buffer` and returns its length. Does not allocate.
    pub fn write_into(&self, buffer: &mut [u8]) -> Result<usize, RtpError> {
        if self.payload_type > 127 {
            return Err(RtpError::InvalidPayloadType(self.payload_type));
        }
        let builder = RtpPacketBuilder::new()
            .payload_type(self.payload_type)
            .marked(self.marker)
            .sequence(Seq::from(self.sequence))
            .timestamp(self.timestamp)
            .ssrc(self.ssrc)
            .payload(self.payload);
        builder.build_into(buffer).map_err(|error| match error {
            RtpPacketBuildError::BufferTooSmall => RtpError::BufferTooSmall {
                packet_len: self.wire_len(),
                buffer_len: buffer.len(),
            },
            // Payload type is checked above and we never add an extension.
            _ => RtpError::InvalidPayloadType(self.payload_type),
        })
    }
}

/// How far `to` is ahead of `from` in sequence-number space (negative: behind), across the 16-bit wrap.
#[inline]
pub fn sequence_delta(from: u16, to: u16) -> i16 {
    to.wrapping_sub(from) as i16
}

/// How far `to` is ahead of `from` in timestamp space (negative: behind), across the 32-bit wrap.
#[inline]
pub fn timestamp_delta(from: u32, to: u32) -> i32 {
    to.wrapping_sub(from) as i32
}

/// The header state of one outgoing RTP stream: SSRC, next sequence number, media clock and the marker bit.
///
/// Sequence numbers and timestamps continue across prompts and silences for the whole call (RFC 3550 §5.1);
/// the first packet after a silence carries the marker bit (RFC 3551 §4.1).
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: u32,
    next_sequence: u16,
    /// Media timestamp of the next audio sample to send.
    timestamp: u32,
    talkspurt_pending: bool,
}

impl RtpSender {
    /// A stream with random SSRC, initial sequence number and timestamp (RFC 3550 §5.1 asks for random
    /// starting values).
    pub fn new() -> RtpSender {
        RtpSender::from_rng(&mut rand::rng())
    }

    /// A stream whose random starting values come from `seed`: the same seed gives the same stream (tests).
    pub fn from_seed(seed: u64) -> RtpSender {
        RtpSender::from_rng(&mut StdRng::seed_from_u64(seed))
    }

    fn from_rng(rng: &mut impl Rng) -> RtpSender {
        let ssrc = rng.next_u32();
        let next_sequence = rng.next_u32() as u16;
        let timestamp = rng.next_u32();
        RtpSender::with_state(ssrc, next_sequence, timestamp)
    }

    /// A stream with the given starting values.
    pub fn with_state(ssrc: u32, next_sequence: u16, timestamp: u32) -> RtpSender {
        RtpSender {
            ssrc,
            next_sequence,
            timestamp,
            talkspurt_pending: true,
        }
    }

    /// The stream's SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The sequence number the next packet gets.
    pub fn next_sequence(&self) -> u16 {
        self.next_sequence
    }

    /// The media timestamp the next audio packet gets.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }

    /// Marks the next audio packet as the first of a talkspurt.
    pub fn start_talkspurt(&mut self) {
        self.talkspurt_pending = true;
    }

    /// Lets `samples` of media time pass without sending (a pause between prompts, or while a telephone event
    /// is sent). The next audio packet starts a talkspurt.
    pub fn skip(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
        self.talkspurt_pending = true;
    }

    /// Writes the next audio packet carrying `payload` (G.711: one byte per sample) into `buffer` and returns
    /// its length. Advances the sequence number by one and the timestamp by the payload's sample count.
    pub fn build_audio(
        &mut self,
        payload_type: u8,
        payload: &[u8],
        buffer: &mut [u8],
    ) -> Result<usize, RtpError> {
        let samples = payload.len() as u32;
        let len = self.build_with_timestamp(
            payload_type,
            self.talkspurt_pending,
            self.timestamp,
            payload,
            buffer,
        )?;
        self.talkspurt_pending = false;
        self.timestamp = self.timestamp.wrapping_add(samples);
        Ok(len)
    }

    /// Writes a packet with an explicit timestamp and marker (telephone events, whose timestamp is the event's
    /// start) and returns its length. Uses the next sequence number; leaves the audio clock alone.
    pub fn build_with_timestamp(
        &mut self,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload: &[u8],
        buffer: &mut [u8],
    ) -> Result<usize, RtpError> {
        let packet = RtpPacket {
            payload_type,
            marker,
            sequence: self.next_sequence,
            timestamp,
            ssrc: self.ssrc,
            payload,
        };
        let len = packet.write_into(buffer)?;
        self.next_sequence = self.next_sequence.wrapping_add(1);
        Ok(len)
    }
}

impl Default for RtpSender {
    fn default() -> Self {
        RtpSender::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn builds_and_parses_a_packet() {
        let payload = [0xFFu8; 160];
        let packet = RtpPacket {
            payload_type: 0,
            marker: true,
            sequence: 65_535,
            timestamp: 0xDEAD_BEEF,
            ssrc: 0x1234_5678,
            payload: &payload,
        };
        let mut buffer = [0u8; SEND_BUFFER_LEN];
        let len = packet.write_into(&mut buffer).unwrap();
        assert_eq!(len, 172);
        assert_eq!(buffer[0], 0x80);
        assert_eq!(buffer[1], 0x80);
        assert_eq!(RtpPacket::parse(&buffer[..len]).unwrap(), packet);
    }

    #[test]
    fn write_rejects_small_buffers_and_bad_payload_types() {
        let payload = [0u8; 4];
        let mut packet = RtpPacket {
            payload_type: 101,
            marker: false,
            sequence: 1,
            timestamp: 2,
            ssrc: 3,
            payload: &payload,
        };
        let mut small = [0u8; 15];
        assert_eq!(
            packet.write_into(&mut small),
            Err(RtpError::BufferTooSmall {
                packet_len: 16,
                buffer_len: 15
            })
        );
        packet.payload_type = 128;
        assert_eq!(
            packet.write_into(&mut [0u8; 64]),
            Err(RtpError::InvalidPayloadType(128))
        );
    }

    #[test]
    fn parse_skips_csrcs_extension_and_padding() {
        let mut datagram = vec![
            0b1011_0001, // V=2, padding, extension, one CSRC
            0x08,
            0x00,
            0x07,
            0,
            0,
            0,
            160,
            0xAA,
            0xBB,
            0xCC,
            0xDD,
        ];
        datagram.extend_from_slice(&[1, 2, 3, 4]); // CSRC
        datagram.extend_from_slice(&[0xBE, 0xDE, 0, 1, 9, 9, 9, 9]); // extension with one word
        datagram.extend_from_slice(&[0x55, 0x56]); // payload
        datagram.extend_from_slice(&[0, 0, 3]); // three bytes of padding
        let packet = RtpPacket::parse(&datagram).unwrap();
        assert_eq!(packet.payload_type, 8);
        assert_eq!(packet.sequence, 7);
        assert_eq!(packet.timestamp, 160);
        assert_eq!(packet.ssrc, 0xAABB_CCDD);
        assert_eq!(packet.payload, &[0x55, 0x56]);
    }

    #[test]
    fn parse_rejects_malformed_headers() {
        assert_eq!(RtpPacket::parse(&[0x80; 11]), Err(RtpError::TooShort(11)));
        assert_eq!(
            RtpPacket::parse(&[0x40; 12]),
            Err(RtpError::UnsupportedVersion(1))
        );
        assert!(matches!(
            RtpPacket::parse(&[0x82, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(RtpError::HeadersTruncated { .. })
        ));
        assert_eq!(
            RtpPacket::parse(&[0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(RtpError::InvalidPadding(0))
        );
    }

    #[test]
    fn sender_numbers_packets_continuously_and_marks_talkspurts() {
        let mut sender = RtpSender::with_state(7, 65_534, u32::MAX - 100);
        let frame = [0xFFu8; SAMPLES_PER_FRAME];
        let mut buffer = [0u8; SEND_BUFFER_LEN];
        let mut sent = Vec::new();
        for _ in 0..3 {
            let len = sender.build_audio(0, &frame, &mut buffer).unwrap();
            let packet = RtpPacket::parse(&buffer[..len]).unwrap();
            sent.push((packet.sequence, packet.timestamp, packet.marker));
        }
        // A 100 ms pause between two prompts: no packets, but the clock keeps running.
        sender.skip(800);
        let len = sender.build_audio(0, &frame, &mut buffer).unwrap();
        let packet = RtpPacket::parse(&buffer[..len]).unwrap();
        sent.push((packet.sequence, packet.timestamp, packet.marker));
        let start = u32::MAX - 100;
        assert_eq!(
            sent,
            vec![
                (65_534, start, true),
                (65_535, start.wrapping_add(160), false),
                (0, start.wrapping_add(320), false),
                (1, start.wrapping_add(480 + 800), true),
            ]
        );
        assert_eq!(packet.ssrc, 7);
    }

    #[test]
    fn explicit_timestamps_take_a_sequence_number_but_not_media_time() {
        let mut sender = RtpSender::with_state(1, 10, 1000);
        let mut buffer = [0u8; SEND_BUFFER_LEN];
        let len = sender
            .build_with_timestamp(101, true, 500, &[1, 2, 3, 4], &mut buffer)
            .unwrap();
        let packet = RtpPacket::parse(&buffer[..len]).unwrap();
        assert_eq!(
            (packet.sequence, packet.timestamp, packet.marker),
            (10, 500, true)
        );
        assert_eq!((sender.next_sequence(), sender.timestamp()), (11, 1000));
    }

    #[test]
    fn seeded_senders_are_deterministic_and_random_ones_differ() {
        let a = RtpSender::from_seed(42);
        let b = RtpSender::from_seed(42);
        assert_eq!(
            (a.ssrc(), a.next_sequence(), a.timestamp()),
            (b.ssrc(), b.next_sequence(), b.timestamp())
        );
        let c = RtpSender::from_seed(43);
        assert_ne!(a.ssrc(), c.ssrc());
        let ssrcs: std::collections::HashSet<u32> =
            (0..8).map(|_| RtpSender::new().ssrc()).collect();
        assert!(ssrcs.len() > 1);
    }

    #[test]
    fn deltas_wrap() {
        assert_eq!(sequence_delta(65_535, 0), 1);
        assert_eq!(sequence_delta(0, 65_535), -1);
        assert_eq!(timestamp_delta(u32::MAX, 159), 160);
        assert_eq!(timestamp_delta(159, u32::MAX), -160);
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = RtpPacket::parse(&bytes);
        }

        #[test]
        fn parse_never_panics_on_version_2(mut bytes in proptest::collection::vec(any::<u8>(), 12..64)) {
            // Most random bytes fail the version check; force it so the deeper checks are exercised.
            bytes[0] = (bytes[0] & 0x3F) | 0x80;
            if let Ok(packet) = RtpPacket::parse(&bytes) {
                prop_assert!(packet.payload.len() <= bytes.len() - RTP_HEADER_LEN);
            }
        }

        #[test]
        fn written_packets_parse_back(
            payload_type in 0u8..128,
            marker: bool,
            sequence: u16,
            timestamp: u32,
            ssrc: u32,
            payload in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let packet = RtpPacket { payload_type, marker, sequence, timestamp, ssrc, payload: &payload };
            let mut buffer = vec![0u8; packet.wire_len()];
            let len = packet.write_into(&mut buffer).unwrap();
            prop_assert_eq!(RtpPacket::parse(&buffer[..len]).unwrap(), packet);
        }
    }
}
