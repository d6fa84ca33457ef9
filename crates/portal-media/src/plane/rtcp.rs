//! RTCP for each call (RFC 3550 §6): a sender report with the call's CNAME every [`REPORT_INTERVAL`], and what
//! the caller's receiver reports say about the portal's audio. Packets are written and read by the `rtcp`
//! crate (webrtc-rs); this module only decides what goes in and keeps what came back.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rtcp::packet::Packet;
use rtcp::receiver_report::ReceiverReport;
use rtcp::reception_report::ReceptionReport;
use rtcp::sender_report::SenderReport;
use rtcp::source_description::{
    SdesType, SourceDescription, SourceDescriptionChunk, SourceDescriptionItem,
};

/// How often a call's sender report goes out.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(5);

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// The wall clock at one instant, so the plane can stamp reports without reading a clock.
#[derive(Clone, Copy, Debug)]
pub struct WallClock {
    /// An instant of the driver's clock.
    pub at: Instant,
    /// The time of day then.
    pub time: SystemTime,
}

impl WallClock {
    /// The wall clock now (for drivers; tests pass a fixed one).
    pub fn now() -> WallClock {
        WallClock {
            at: Instant::now(),
            time: SystemTime::now(),
        }
    }

    /// `now` as a 64-bit NTP timestamp (RFC 3550 §4): seconds since 1900 and a binary fraction.
    fn ntp(&self, now: Instant) -> u64 {
        let since_unix = self
            .time
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_add(now.saturating_duration_since(self.at));
        let seconds = since_unix.as_secs() + NTP_UNIX_OFFSET;
        let fraction = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
        (seconds << 32) | fraction
    }
}

/// What a call has sent, for its sender report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Sent {
    pub(super) packets: u32,
    pub(super) octets: u32,
}

/// What the caller last reported about the portal's audio (an RTCP reception report block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceptionStats {
    /// The share of packets lost since the caller's previous report, out of 256.
    pub fraction_lost: u8,
    /// Packets lost since the call began.
    pub total_lost: u32,
    /// Interarrival jitter, in RTP timestamp units (1/8000 s for G.711).
    pub jitter: u32,
}

/// A compound RTCP packet (RFC 3550 §6.1): the call's sender report and its CNAME.
pub(super) fn sender_report(
    ssrc: u32,
    cname: &str,
    clock: &WallClock,
    now: Instant,
    rtp_time: u32,
    sent: Sent,
) -> Option<Bytes> {
    let packets: Vec<Box<dyn Packet + Send + Sync>> = vec![
        Box::new(SenderReport {
            ssrc,
            ntp_time: clock.ntp(now),
            rtp_time,
            packet_count: sent.packets,
            octet_count: sent.octets,
            reports: Vec::new(),
            profile_extensions: Bytes::new(),
        }),
        Box::new(SourceDescription {
            chunks: vec![SourceDescriptionChunk {
                source: ssrc,
                items: vec![SourceDescriptionItem {
                    sdes_type: SdesType::SdesCname,
                    text: Bytes::copy_from_slice(cname.as_bytes()),
                }],
            }],
        }),
    ];
    rtcp::packet::marshal(&packets).ok()
}

/// The reception report about `our_ssrc` in a compound packet from the caller (in an RR, or in the reports of
/// the caller's own SR). `Err` when the datagram is no readable RTCP.
pub(super) fn report_about(datagram: &[u8], our_ssrc: u32) -> Result<Option<ReceptionStats>, ()> {
    let mut buffer = Bytes::copy_from_slice(datagram);
    let packets = rtcp::packet::unmarshal(&mut buffer).map_err(|_| ())?;
    let about_us = |reports: &[ReceptionReport]| {
        reports
            .iter()
            .find(|report| report.ssrc == our_ssrc)
            .map(|report| ReceptionStats {
                fraction_lost: report.fraction_lost,
                total_lost: report.total_lost,
                jitter: report.jitter,
            })
    };
    Ok(packets.iter().find_map(|packet| {
        let any = packet.as_any();
        if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
            about_us(&rr.reports)
        } else if let Some(sr) = any.downcast_ref::<SenderReport>() {
            about_us(&sr.reports)
        } else {
            None
        }
    }))
}

/// Whether a datagram on a multiplexed RTP port is RTCP (RFC 5761 §4: packet types 192 to 223 in the second
/// octet, where RTP would have a payload type of 64 to 95 with the marker bit).
pub(super) fn is_rtcp(datagram: &[u8]) -> bool {
    datagram.len() >= 8 && datagram[0] >> 6 == 2 && (192..=223).contains(&datagram[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_time_counts_from_1900_with_a_binary_fraction() {
        let at = Instant::now();
        let clock = WallClock {
            at,
            time: UNIX_EPOCH + Duration::from_secs(1_000),
        };
        let ntp = clock.ntp(at + Duration::from_millis(500));
        assert_eq!(ntp >> 32, 1_000 + NTP_UNIX_OFFSET);
        assert_eq!(ntp & 0xFFFF_FFFF, 1 << 31, "half a second");
    }

    #[test]
    fn a_sender_report_reads_back_with_its_counts_and_is_told_from_rtp() {
        let clock = WallClock::now();
        let sent = Sent {
            packets: 250,
            octets: 40_000,
        };
        let bytes = sender_report(0x1234, "vportal@192.0.2.1", &clock, clock.at, 99, sent).unwrap();
        assert!(is_rtcp(&bytes));
        let mut buffer = bytes.clone();
        let packets = rtcp::packet::unmarshal(&mut buffer).unwrap();
        let sr = packets[0].as_any().downcast_ref::<SenderReport>().unwrap();
        assert_eq!(
            (sr.ssrc, sr.rtp_time, sr.packet_count, sr.octet_count),
            (0x1234, 99, 250, 40_000)
        );
        assert!(
            packets[1]
                .as_any()
                .downcast_ref::<SourceDescription>()
                .is_some()
        );
        // An RTP packet of payload type 0 (marker or not) is not RTCP.
        assert!(!is_rtcp(&[0x80, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]));
        assert!(!is_rtcp(&[0x80, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]));
    }

    #[test]
    fn the_callers_report_about_our_stream_is_found_and_garbage_is_refused() {
        let rr = ReceiverReport {
            ssrc: 7,
            reports: vec![
                ReceptionReport {
                    ssrc: 99,
                    ..ReceptionReport::default()
                },
                ReceptionReport {
                    ssrc: 0x1234,
                    fraction_lost: 25,
                    total_lost: 3,
                    jitter: 40,
                    ..ReceptionReport::default()
                },
            ],
            profile_extensions: Bytes::new(),
        };
        let packets: Vec<Box<dyn Packet + Send + Sync>> = vec![Box::new(rr)];
        let bytes = rtcp::packet::marshal(&packets).unwrap();
        assert_eq!(
            report_about(&bytes, 0x1234),
            Ok(Some(ReceptionStats {
                fraction_lost: 25,
                total_lost: 3,
                jitter: 40
            }))
        );
        assert_eq!(report_about(&bytes, 0x9999), Ok(None));
        assert!(report_about(&[0x80, 201, 0, 9, 1, 2], 0x1234).is_err());
        assert!(report_about(&[], 0x1234).is_err());
    }
}
