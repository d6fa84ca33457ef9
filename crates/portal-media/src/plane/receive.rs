//! What callers send: RTP to the call it comes from (following a caller's other address when that is the only
//! reading), keys and recordings out of it, and RTCP reports kept.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use super::SocketId;
use super::{CallMedia, MediaCallId, MediaEvent, MediaPlane, Ownership, rtcp};
use crate::dtmf::{DtmfUpdate, KeySource};
use crate::rtp::RtpPacket;

impl MediaPlane {
    /// An RTCP datagram for call `owner`: its report about our stream is kept; anything unreadable, or from
    /// no call's address, is dropped and counted.
    pub(super) fn receive_rtcp(
        &mut self,
        owner: Option<MediaCallId>,
        datagram: &[u8],
    ) -> Ownership {
        let Some(id) = owner else {
            self.rtcp.dropped += 1;
            return Ownership::Unknown;
        };
        let Some(call) = self.call_mut(id) else {
            return Ownership::Unknown;
        };
        match rtcp::report_about(datagram, call.sender.ssrc()) {
            Ok(report) => {
                if report.is_some() {
                    call.reception = report;
                }
                self.rtcp.received += 1;
            }
            Err(()) => self.rtcp.dropped += 1,
        }
        Ownership::Owned(id)
    }

    /// The call on `socket` that a packet from the unknown address `from` belongs to, if exactly one call that
    /// has heard nothing yet announced `from`'s port at another IP; that call's remote address becomes `from`.
    pub(super) fn follow(&mut self, socket: SocketId, from: SocketAddr) -> Option<MediaCallId> {
        let (announced, id) = {
            let calls = &self.calls;
            let mut candidates =
                self.sockets
                    .same_port_elsewhere(socket, from)
                    .filter(|(_, id)| {
                        calls[id.index as usize].as_ref().is_some_and(|call| {
                            call.generation == id.generation && !call.heard_from
                        })
                    });
            let only = candidates.next()?;
            if candidates.next().is_some() {
                return None;
            }
            only
        };
        self.set_remote_key(id, from);
        if let Some(stream) = self.call_mut(id)?.stream.as_mut() {
            stream.setup.remote = from;
        }
        tracing::debug!(%announced, %from, "the caller sends RTP from another address; following it");
        Some(id)
    }
}

/// One packet from a caller: a telephone event, or audio for the in-band detector and the recorder.
pub(super) fn receive_into(
    id: MediaCallId,
    call: &mut CallMedia,
    packet: &RtpPacket<'_>,
    decoded: &mut Vec<i16>,
    now: Instant,
    events: &mut VecDeque<MediaEvent>,
) {
    let Some(stream) = call.stream.as_mut() else {
        return;
    };
    call.heard_from = true;
    if Some(packet.payload_type) == stream.setup.telephone_event_pt {
        if let Some(DtmfUpdate::Pressed(digit)) = stream.telephone_events.receive(packet) {
            events.push_back(MediaEvent::Key {
                call: id,
                digit,
                source: KeySource::TelephoneEvent,
            });
        }
        return;
    }
    if packet.payload_type != stream.setup.payload_type {
        return;
    }
    let codec = stream.setup.codec;
    if let Some(detector) = stream.inband.as_mut() {
        decoded.clear();
        codec.decode_append(packet.payload, decoded);
        if let Some(digit) = detector.push_frame(decoded) {
            events.push_back(MediaEvent::Key {
                call: id,
                digit,
                source: KeySource::Inband,
            });
        }
    }
    if let Some(recorder) = call.recorder.as_mut()
        && recorder.receive(packet, now).is_some()
        && let Some(recorder) = call.recorder.take()
    {
        events.push_back(MediaEvent::RecordingDone {
            call: id,
            recording: recorder.finish(),
        });
    }
}
