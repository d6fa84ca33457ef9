//! The media threads, as the call tasks see them: a [`MediaHandle`] that opens a call's media on one of them,
//! and the [`MediaCall`] each task keeps for the rest of the call.
//!
//! `[media] threads` threads (one per core by default) each drive a [`MediaPlane`] of their own
//! ([`super::media_thread`]): their own pacing wheel, their own RTP sockets (ports come from one rotation over
//! the `[rtp]` range, and a port one thread holds is simply taken for the others) and their own command
//! channel. A new call goes to the thread holding the fewest calls, and stays there: every later command for it
//! goes down that thread's channel, and its events come back to the call's task from that thread. Nothing is
//! shared between the threads on the packet path; the only shared values are a counter of calls per thread
//! (touched when a call opens or closes) and what each thread publishes about itself once a loop
//! ([`MediaStats`]).
//!
//! [`MediaPlane`]: portal_media::plane::MediaPlane

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, channel};

use portal_core::PlayId;
use portal_media::plane::{LatenessCounts, MediaCallId, PortRotation, StreamSetup};
use portal_media::prompts::PlayItem;
use portal_media::recording::RecorderConfig;
use portal_session::SessionInput;
use tokio::sync::{mpsc, oneshot};

use super::media_thread::{Command, MediaThread, Published};

/// One media thread as the rest of the server reaches it.
struct ThreadLink {
    commands: Sender<Command>,
    /// Calls placed on the thread and not yet closed (what placement compares).
    held: AtomicUsize,
    published: Arc<Published>,
}

/// Opens calls' media on the media threads; the threads end when the last handle (and call) is dropped.
#[derive(Clone)]
pub(crate) struct MediaHandle {
    threads: Vec<Arc<ThreadLink>>,
}

impl MediaHandle {
    /// Starts `threads` media threads (at least one), named `vportal-media0`, `vportal-media1`, ... (Linux
    /// keeps 15 bytes of a thread's name: this keeps up to 100 of them apart). RTP sockets are bound on `ip`,
    /// on even ports of `ports`, each with its RTCP port above it.
    pub(crate) fn start(ip: IpAddr, ports: (u16, u16), threads: usize) -> io::Result<MediaHandle> {
        // Each RTP port has its RTCP port above it: both stay inside the range.
        let rotation = Arc::new(PortRotation::new(ports.0, ports.1.saturating_sub(1)));
        let links = (0..threads.max(1))
            .map(|index| {
                let (commands, received) = channel();
                let published = Arc::new(Published::default());
                let driver =
                    MediaThread::new(ip, Arc::clone(&rotation), received, Arc::clone(&published))?;
                std::thread::Builder::new()
                    .name(format!("vportal-media{index}"))
                    .spawn(move || {
                        super::priority::hurry_media();
                        driver.run()
                    })?;
                Ok(Arc::new(ThreadLink {
                    commands,
                    held: AtomicUsize::new(0),
                    published,
                }))
            })
            .collect::<io::Result<_>>()?;
        Ok(MediaHandle { threads: links })
    }

    /// Opens a call's media on the least busy thread: its local RTP address. `remote_hint` (from the offer)
    /// helps place the call on a socket where its remote address is not used yet. The call is silent until
    /// [`MediaCall::stream`].
    pub(crate) async fn open(
        &self,
        remote_hint: Option<SocketAddr>,
        events: mpsc::UnboundedSender<SessionInput>,
    ) -> io::Result<MediaCall> {
        let thread = least_busy(
            self.threads
                .iter()
                .map(|thread| thread.held.load(Ordering::Relaxed)),
        );
        // Counted from now, so calls opened at the same moment spread; given back if the open fails.
        let held = Held::on(&self.threads[thread]);
        let (reply, answer) = oneshot::channel();
        held.0
            .commands
            .send(Command::Open {
                remote_hint,
                events,
                reply,
            })
            .map_err(|_| io::Error::other("the media thread stopped"))?;
        let (id, local) = answer
            .await
            .map_err(|_| io::Error::other("the media thread stopped"))??;
        Ok(MediaCall { id, local, held })
    }

    /// What each media thread last published, for metrics.
    pub(crate) fn stats(&self) -> MediaStats {
        MediaStats {
            threads: self
                .threads
                .iter()
                .map(|thread| Arc::clone(&thread.published))
                .collect(),
        }
    }
}

/// The index of the smallest count, the first of equals: the thread a new call goes to.
fn least_busy(held: impl IntoIterator<Item = usize>) -> usize {
    held.into_iter()
        .enumerate()
        .min_by_key(|&(_, calls)| calls)
        .map_or(0, |(index, _)| index)
}

/// A call counted on its thread; dropping it takes the call off the count.
struct Held(Arc<ThreadLink>);

impl Held {
    fn on(thread: &Arc<ThreadLink>) -> Held {
        thread.held.fetch_add(1, Ordering::Relaxed);
        Held(Arc::clone(thread))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.held.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One call's media on its thread; dropping it ends the call's media.
pub(crate) struct MediaCall {
    id: MediaCallId,
    local: SocketAddr,
    held: Held,
}

impl MediaCall {
    /// The local RTP address for SDP.
    pub(crate) fn local(&self) -> SocketAddr {
        self.local
    }

    fn send(&self, command: Command) {
        // The thread only stops when the server does.
        let _ = self.held.0.commands.send(command);
    }

    /// See [`MediaPlane::stream`](portal_media::plane::MediaPlane::stream).
    pub(crate) fn stream(&self, setup: StreamSetup) {
        self.send(Command::Stream(self.id, setup));
    }

    /// See [`MediaPlane::play`](portal_media::plane::MediaPlane::play).
    pub(crate) fn play(&self, id: PlayId, items: Vec<PlayItem>) {
        self.send(Command::Play(self.id, id, items));
    }

    /// See [`MediaPlane::stop_playback`](portal_media::plane::MediaPlane::stop_playback).
    pub(crate) fn stop_playback(&self) {
        self.send(Command::StopPlayback(self.id));
    }

    /// See [`MediaPlane::skip_playback`](portal_media::plane::MediaPlane::skip_playback).
    pub(crate) fn skip_playback(&self, back: bool, by: std::time::Duration) {
        self.send(Command::SkipPlayback(self.id, back, by));
    }

    /// See [`MediaPlane::record`](portal_media::plane::MediaPlane::record).
    pub(crate) fn record(&self, config: RecorderConfig) {
        self.send(Command::Record(self.id, config));
    }

    /// See [`MediaPlane::stop_recording`](portal_media::plane::MediaPlane::stop_recording).
    pub(crate) fn stop_recording(&self) {
        self.send(Command::StopRecording(self.id));
    }
}

impl Drop for MediaCall {
    fn drop(&mut self) {
        self.send(Command::Close(self.id));
    }
}

/// Reads what each media thread publishes about itself, from any thread, without disturbing them: for
/// metrics. Cheap to clone; it outlives the server.
#[derive(Clone, Debug)]
pub struct MediaStats {
    threads: Vec<Arc<Published>>,
}

/// One media thread's figures, as it last published them (at most a loop, about a millisecond, ago).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MediaThreadStats {
    /// Calls its plane holds.
    pub calls: usize,
    /// Frames it sent since it started, by how late each went out
    /// ([`MediaPlane::pacing_lateness`](portal_media::plane::MediaPlane::pacing_lateness)).
    pub pacing_lateness: LatenessCounts,
    /// How often it was held up so long that frames were skipped.
    pub times_held_up: u64,
}

impl MediaStats {
    /// Each media thread's figures, in the order of their names (`vportal-media0` first).
    pub fn threads(&self) -> Vec<MediaThreadStats> {
        self.threads
            .iter()
            .map(|published| {
                let (calls, pacing_lateness, times_held_up) = published.read();
                MediaThreadStats {
                    calls,
                    pacing_lateness,
                    times_held_up,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    //! The threads over real loopback sockets; what the plane decides is tested in portal-media.
    use super::*;
    use portal_media::dtmf::{KeySource, TelephoneEventPacing, telephone_event_packets};
    use portal_media::g711::Codec;
    use portal_media::plane::MediaEvent;
    use portal_media::rtp::{RtpPacket, RtpSender, SAMPLES_PER_FRAME};
    use std::net::{Ipv4Addr, UdpSocket as StdUdpSocket};
    use std::time::{Duration, Instant};

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    const WAIT: Duration = Duration::from_secs(5);

    fn media(threads: usize) -> MediaHandle {
        // A range of its own per test (tests run in parallel).
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let base = 41_000 + NEXT.fetch_add(1, Ordering::Relaxed) as u16 * 200;
        MediaHandle::start(LOOPBACK, (base, base + 198), threads).unwrap()
    }

    fn phone() -> StdUdpSocket {
        let socket = StdUdpSocket::bind((LOOPBACK, 0)).unwrap();
        socket.set_read_timeout(Some(WAIT)).unwrap();
        socket
    }

    fn setup(remote: SocketAddr) -> StreamSetup {
        StreamSetup {
            remote,
            codec: Codec::Pcmu,
            payload_type: 0,
            telephone_event_pt: Some(101),
            send: true,
            rtcp_mux: false,
        }
    }

    /// Opens a call streaming to `phone`; its events arrive on the receiver.
    async fn call_to(
        media: &MediaHandle,
        phone: &StdUdpSocket,
    ) -> (MediaCall, mpsc::UnboundedReceiver<SessionInput>) {
        let remote = phone.local_addr().unwrap();
        let (events, received) = mpsc::unbounded_channel();
        let call = media.open(Some(remote), events).await.unwrap();
        call.stream(setup(remote));
        (call, received)
    }

    fn held(media: &MediaHandle) -> Vec<usize> {
        let held = |thread: &Arc<ThreadLink>| thread.held.load(Ordering::Relaxed);
        media.threads.iter().map(held).collect()
    }

    fn thread_of(media: &MediaHandle, call: &MediaCall) -> usize {
        let on = |thread: &Arc<ThreadLink>| Arc::ptr_eq(thread, &call.held.0);
        media.threads.iter().position(on).unwrap()
    }

    /// Presses `digit` as RFC 4733 events from `phone` to `to`.
    fn press(phone: &StdUdpSocket, to: SocketAddr, digit: portal_core::Digit) {
        let mut sender = RtpSender::with_state(9, 1, 1000);
        let mut buffer = [0u8; 2048];
        for event in telephone_event_packets(digit, 1000, 800, TelephoneEventPacing::default()) {
            let len = sender
                .build_with_timestamp(
                    101,
                    event.marker,
                    event.timestamp,
                    &event.event.to_bytes(),
                    &mut buffer,
                )
                .unwrap();
            phone.send_to(&buffer[..len], to).unwrap();
        }
    }

    async fn key_from(events: &mut mpsc::UnboundedReceiver<SessionInput>) -> portal_core::Digit {
        match tokio::time::timeout(WAIT, events.recv()).await.unwrap() {
            Some(SessionInput::Media(MediaEvent::Key {
                digit,
                source: KeySource::TelephoneEvent,
                ..
            })) => digit,
            other => panic!("not a key: {other:?}"),
        }
    }

    #[test]
    fn the_thread_holding_the_fewest_calls_is_chosen_the_first_of_equals() {
        assert_eq!(least_busy([3, 1, 2]), 1);
        assert_eq!(least_busy([2, 0, 0]), 1);
        assert_eq!(least_busy([4, 4]), 0);
        assert_eq!(least_busy([7]), 0);
    }

    #[tokio::test]
    async fn a_caller_hears_the_stream_and_its_keys_come_back_to_its_call_only() {
        let media = media(1);
        let (a, b) = (phone(), phone());
        let (call_a, mut a_events) = call_to(&media, &a).await;
        let (call_b, mut b_events) = call_to(&media, &b).await;
        assert_eq!(call_a.local(), call_b.local(), "one shared socket");
        let rtcp = SocketAddr::new(call_a.local().ip(), call_a.local().port() + 1);
        assert_eq!(
            StdUdpSocket::bind(rtcp).unwrap_err().kind(),
            std::io::ErrorKind::AddrInUse,
            "its RTCP port is bound beside it"
        );
        let mut buffer = [0u8; 2048];
        let (len, from) = a.recv_from(&mut buffer).unwrap();
        assert_eq!(from, call_a.local());
        let packet = RtpPacket::parse(&buffer[..len]).unwrap();
        assert_eq!(packet.payload.len(), SAMPLES_PER_FRAME);

        let digit = portal_core::Digit::Number(5);
        press(&b, call_b.local(), digit);
        assert_eq!(key_from(&mut b_events).await, digit);
        assert!(a_events.try_recv().is_err());
    }

    #[tokio::test]
    async fn calls_go_to_the_least_busy_thread_and_stay_there_on_sockets_of_its_own() {
        let media = media(3);
        let phones: Vec<StdUdpSocket> = (0..6).map(|_| phone()).collect();
        let mut calls = Vec::new();
        for phone in &phones {
            calls.push(call_to(&media, phone).await.0);
        }
        let threads: Vec<usize> = calls.iter().map(|call| thread_of(&media, call)).collect();
        assert_eq!(threads, [0, 1, 2, 0, 1, 2]);
        assert_eq!(held(&media), [2, 2, 2]);
        // Calls from different addresses share a thread's socket; no socket is shared between threads.
        for (first, second) in [(0, 3), (1, 4), (2, 5)] {
            assert_eq!(calls[first].local(), calls[second].local());
        }
        let locals: std::collections::HashSet<SocketAddr> =
            calls[..3].iter().map(MediaCall::local).collect();
        assert_eq!(locals.len(), 3);

        // Two calls of the second thread end: the next call goes there.
        drop(calls.remove(4));
        drop(calls.remove(1));
        assert_eq!(held(&media), [2, 0, 2]);
        let next = call_to(&media, &phone()).await.0;
        assert_eq!(thread_of(&media, &next), 1);
        assert_eq!(held(&media), [2, 1, 2]);
    }

    #[tokio::test]
    async fn each_thread_streams_and_hears_its_own_calls_and_publishes_its_figures() {
        let media = media(2);
        let stats = media.stats();
        let (a, b) = (phone(), phone());
        let (call_a, mut a_events) = call_to(&media, &a).await;
        let (call_b, mut b_events) = call_to(&media, &b).await;
        assert_eq!(
            (thread_of(&media, &call_a), thread_of(&media, &call_b)),
            (0, 1)
        );
        let mut buffer = [0u8; 2048];
        for (phone, call) in [(&a, &call_a), (&b, &call_b)] {
            let (_, from) = phone.recv_from(&mut buffer).unwrap();
            assert_eq!(
                from,
                call.local(),
                "audio from the call's own thread's socket"
            );
        }
        let (one, two) = (portal_core::Digit::Number(1), portal_core::Digit::Number(2));
        press(&b, call_b.local(), two);
        press(&a, call_a.local(), one);
        assert_eq!(key_from(&mut b_events).await, two);
        assert_eq!(key_from(&mut a_events).await, one);

        // Each thread publishes its calls and frames once a loop.
        let until = |done: &dyn Fn(&[MediaThreadStats]) -> bool| {
            let deadline = Instant::now() + WAIT;
            loop {
                let now = stats.threads();
                if done(&now) {
                    return now;
                }
                assert!(Instant::now() < deadline, "never published: {now:?}");
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        let busy = until(&|threads| {
            threads
                .iter()
                .all(|thread| thread.calls == 1 && thread.pacing_lateness.frames() > 0)
        });
        assert_eq!(busy.len(), 2);
        drop((call_a, call_b));
        until(&|threads| threads.iter().all(|thread| thread.calls == 0));
    }
}
