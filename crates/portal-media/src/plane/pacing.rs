//! Pacing: each slot of the wheel, every call in it gets its next frame (the playlist's or silence), and a
//! sender report when one is due; and how late the frames went out.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{MediaCallId, MediaEvent, MediaPlane, Queued, REPORT_INTERVAL, rtcp};
use crate::g711::Codec;
use crate::prompts::Tick;
use crate::rtp::SEND_BUFFER_LEN;

/// Audio frames sent, by how long after their slot was due they were handed to the driver: the driver's
/// wake-up lateness, seen from the plane (which reads no clock: it compares each slot's due time with the
/// `now` given to [`MediaPlane::handle_timeout`]). Frames not sent (a held call) are not counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatenessCounts {
    frames: [u64; LatenessCounts::BUCKETS],
}

impl LatenessCounts {
    /// How many buckets there are: one per bound in [`LatenessCounts::BOUNDS`], and one for later frames.
    pub const BUCKETS: usize = 5;
    /// The upper bound (inclusive) of each bucket but the last, which holds frames more than 10 ms late.
    pub const BOUNDS: [Duration; LatenessCounts::BUCKETS - 1] = [
        Duration::from_millis(1),
        Duration::from_millis(2),
        Duration::from_millis(5),
        Duration::from_millis(10),
    ];

    /// Counts from the frames in each bucket (in the order of [`LatenessCounts::buckets`]).
    pub fn from_buckets(frames: [u64; LatenessCounts::BUCKETS]) -> LatenessCounts {
        LatenessCounts { frames }
    }

    /// Frames in each bucket: at most 1 ms late, over 1 to 2 ms, over 2 to 5 ms, over 5 to 10 ms, over 10 ms
    /// (not cumulative).
    pub fn buckets(&self) -> [u64; LatenessCounts::BUCKETS] {
        self.frames
    }

    /// Frames counted in all.
    pub fn frames(&self) -> u64 {
        self.frames.iter().sum()
    }

    /// Counts `frames` frames sent `late` after their due time.
    pub fn add(&mut self, late: Duration, frames: u64) {
        let bucket = LatenessCounts::BOUNDS
            .iter()
            .position(|bound| late <= *bound)
            .unwrap_or(LatenessCounts::BUCKETS - 1);
        self.frames[bucket] += frames;
    }

    /// Adds another plane's counts (for a total over several).
    pub fn merge(&mut self, other: &LatenessCounts) {
        for (mine, theirs) in self.frames.iter_mut().zip(other.frames) {
            *mine += theirs;
        }
    }
}

impl MediaPlane {
    /// Queues the next frame of every call in `slot`, and ends recordings whose time is up. Returns how many
    /// audio frames it queued.
    pub(super) fn pace_slot(&mut self, slot: usize, now: Instant) -> u64 {
        let mut frames = 0;
        for position in 0..self.wheel[slot].len() {
            let index = self.wheel[slot][position];
            let Some(call) = self.calls[index].as_mut() else {
                continue;
            };
            let id = MediaCallId {
                index: index as u32,
                generation: call.generation,
            };
            if let Some(recorder) = call.recorder.as_mut()
                && recorder.handle_timeout(now).is_some()
                && let Some(recorder) = call.recorder.take()
            {
                self.events.push_back(MediaEvent::RecordingDone {
                    call: id,
                    recording: recorder.finish(),
                });
            }
            let Some(stream) = call.stream.as_mut() else {
                continue;
            };
            let silence = match stream.setup.codec {
                Codec::Pcmu => &self.silence_pcmu,
                Codec::Pcma => &self.silence_pcma,
            };
            let payload = match stream.playout.tick() {
                Tick::Frame(frame) => {
                    call.was_playing = true;
                    frame
                }
                Tick::Finished | Tick::Idle => {
                    if std::mem::take(&mut call.was_playing) {
                        // Silence after a playlist is a new talkspurt (the marker tells listeners).
                        call.sender.start_talkspurt();
                    }
                    silence
                }
            };
            let start = self.send_buffer.len();
            self.send_buffer.resize(start + SEND_BUFFER_LEN, 0);
            // The header is always written, so the stream's sequence runs on while the caller holds.
            let built = call.sender.build_audio(
                stream.setup.payload_type,
                payload,
                &mut self.send_buffer[start..],
            );
            match built {
                Ok(len) if stream.setup.send => {
                    self.send_buffer.truncate(start + len);
                    self.queued.push(Queued {
                        socket: call.socket,
                        destination: stream.setup.remote,
                        bytes: start..start + len,
                    });
                    frames += 1;
                    call.sent.packets = call.sent.packets.wrapping_add(1);
                    call.sent.octets = call.sent.octets.wrapping_add(payload.len() as u32);
                }
                _ => self.send_buffer.truncate(start),
            }
            if call.report_due.is_some_and(|due| due <= now) {
                call.report_due = Some(now + REPORT_INTERVAL);
                // Multiplexed: to the RTP address; else from the RTCP socket to the port above it.
                let route = if stream.setup.rtcp_mux {
                    Some((call.socket, stream.setup.remote))
                } else {
                    let remote = stream.setup.remote;
                    self.sockets.rtcp_of(call.socket).map(|socket| {
                        (
                            socket,
                            SocketAddr::new(remote.ip(), remote.port().wrapping_add(1)),
                        )
                    })
                };
                let cname = self.sockets.local(call.socket).map_or_else(
                    || "vportal".to_owned(),
                    |local| format!("vportal@{}", local.ip()),
                );
                let report = rtcp::sender_report(
                    call.sender.ssrc(),
                    &cname,
                    &self.clock,
                    now,
                    call.sender.timestamp(),
                    call.sent,
                );
                if let (Some((socket, destination)), Some(report)) = (route, report)
                    && stream.setup.send
                {
                    let start = self.send_buffer.len();
                    self.send_buffer.extend_from_slice(&report);
                    self.queued.push(Queued {
                        socket,
                        destination,
                        bytes: start..self.send_buffer.len(),
                    });
                    self.rtcp.reports_sent += 1;
                }
            }
            if !stream.playout.is_playing()
                && let Some(play) = call.playing.take()
            {
                self.events
                    .push_back(MediaEvent::PlaylistDone { call: id, play });
            }
        }
        frames
    }
}
