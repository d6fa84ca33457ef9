//! The phones' incoming RTP: one thread for every phone of the process waits on all their RTP sockets at once
//! (mio, edge-triggered: each ready socket is read, [`BATCH`] datagrams a system call, until it is empty) and
//! hands each packet to its phone's [`RtpSink`]. A phone that received nothing for [`IDLE`] is told so (the
//! recogniser ends a talkspurt on silence), but only once its socket has been found empty: a thread that fell
//! behind must not take packets still queued for silence. A phone whose call ended keeps receiving for
//! [`LINGER`], then is finished and leaves.

use std::collections::HashMap;
use std::io;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};

use crate::recv_batch::DatagramBatch;

/// Nothing received for this long: the sink's [`RtpSink::idle`] is called (then again each time as long).
const IDLE: Duration = Duration::from_millis(50);
/// How often the phones are checked for idleness and for having stopped.
const SWEEP: Duration = Duration::from_millis(25);
/// How long a phone keeps receiving after its call ended.
const LINGER: Duration = Duration::from_millis(300);
const WAKER: Token = Token(0);
/// Datagrams read from a socket in one system call. A phone gets one packet every 20 ms, so a socket holds
/// more than one only when this thread fell behind; then it catches up in fewer calls.
const BATCH: usize = 8;

/// Where a phone's RTP goes.
pub(crate) trait RtpSink: Send + Sync {
    /// A datagram arrived at `now`.
    fn packet(&self, bytes: &[u8], now: Instant);
    /// Nothing arrived for a while.
    fn idle(&self, now: Instant);
    /// Whether the call is over.
    fn stopped(&self) -> bool;
    /// The phone leaves: no more packets.
    fn finish(&self);
}

/// A phone's socket on the receiving thread; dropping it takes the phone off (its sink finished).
#[derive(Debug)]
pub(crate) struct Registration {
    token: Token,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let shared = receiver();
        let _ = shared.lock().send(Command::Remove(self.token));
        let _ = shared.waker.wake();
    }
}

/// Starts receiving on `socket` (a duplicate of it, in non-blocking mode: the socket itself becomes
/// non-blocking too) for `sink`.
pub(crate) fn register(socket: &UdpSocket, sink: Arc<dyn RtpSink>) -> io::Result<Registration> {
    let duplicate = socket.try_clone()?;
    duplicate.set_nonblocking(true)?;
    let socket = mio::net::UdpSocket::from_std(duplicate);
    let shared = receiver();
    let token = Token(shared.next_token.fetch_add(1, Ordering::Relaxed));
    shared
        .lock()
        .send(Command::Add(token, socket, sink))
        .map_err(|_| io::Error::other("the RTP receiving thread is gone"))?;
    shared.waker.wake()?;
    Ok(Registration { token })
}

enum Command {
    Add(Token, mio::net::UdpSocket, Arc<dyn RtpSink>),
    Remove(Token),
}

struct Shared {
    commands: Mutex<mpsc::Sender<Command>>,
    waker: Waker,
    next_token: AtomicUsize,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, mpsc::Sender<Command>> {
        self.commands
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The process's receiving thread, started on first use.
fn receiver() -> &'static Shared {
    static RECEIVER: OnceLock<Shared> = OnceLock::new();
    RECEIVER.get_or_init(|| {
        let started = Poll::new().and_then(|poll| {
            let waker = Waker::new(poll.registry(), WAKER)?;
            let (commands, incoming) = mpsc::channel();
            std::thread::Builder::new()
                .name("harness-rtp-in".into())
                .spawn(move || run(poll, &incoming))?;
            Ok(Shared {
                commands: Mutex::new(commands),
                waker,
                next_token: AtomicUsize::new(1),
            })
        });
        started.unwrap_or_else(|error| panic!("cannot start the RTP receiving thread: {error}"))
    })
}

struct Entry {
    socket: mio::net::UdpSocket,
    sink: Arc<dyn RtpSink>,
    /// The last packet, or the last call of `idle`.
    last: Instant,
    stopped_at: Option<Instant>,
}

impl Entry {
    /// Hands every datagram queued on the socket to the sink; returns how many there were.
    fn drain(&mut self, batch: &mut DatagramBatch) -> usize {
        let mut total = 0;
        let mut errors = 0;
        loop {
            match batch.receive(&self.socket) {
                Ok(read) => {
                    let now = Instant::now();
                    for datagram in batch.datagrams() {
                        self.sink.packet(datagram, now);
                    }
                    if read > 0 {
                        self.last = now;
                    }
                    total += read;
                    if read < batch.capacity() {
                        // Empty now; a datagram that comes after this raises a new readiness event.
                        return total;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return total,
                // An interrupted read, or a pending socket error (an ICMP port unreachable for what the phone
                // sent) that reporting clears: datagrams may still be queued behind it, so read on.
                Err(_) if errors < 3 => errors += 1,
                Err(_) => return total,
            }
        }
    }
}

fn run(mut poll: Poll, commands: &mpsc::Receiver<Command>) {
    crate::media::hurry_rtp_thread();
    let mut events = Events::with_capacity(4096);
    let mut entries: HashMap<Token, Entry> = HashMap::new();
    let mut batch = DatagramBatch::new(BATCH);
    let mut next_sweep = Instant::now() + SWEEP;
    loop {
        let timeout = next_sweep.saturating_duration_since(Instant::now());
        if let Err(error) = poll.poll(&mut events, Some(timeout))
            && error.kind() != io::ErrorKind::Interrupted
        {
            std::thread::sleep(SWEEP);
        }
        // Commands first: a socket's events only come once it is registered here.
        for command in commands.try_iter() {
            match command {
                Command::Add(token, mut socket, sink) => {
                    if poll
                        .registry()
                        .register(&mut socket, token, Interest::READABLE)
                        .is_ok()
                    {
                        entries.insert(
                            token,
                            Entry {
                                socket,
                                sink,
                                last: Instant::now(),
                                stopped_at: None,
                            },
                        );
                    }
                }
                Command::Remove(token) => {
                    if let Some(mut entry) = entries.remove(&token) {
                        let _ = poll.registry().deregister(&mut entry.socket);
                        entry.sink.finish();
                    }
                }
            }
        }
        for event in &events {
            if let Some(entry) = entries.get_mut(&event.token()) {
                entry.drain(&mut batch);
            }
        }
        let now = Instant::now();
        if now >= next_sweep {
            entries.retain(|_, entry| {
                if entry.sink.stopped() {
                    let since = *entry.stopped_at.get_or_insert(now);
                    if now.saturating_duration_since(since) > LINGER {
                        let _ = poll.registry().deregister(&mut entry.socket);
                        entry.sink.finish();
                        return false;
                    }
                }
                if now.saturating_duration_since(entry.last) >= IDLE && entry.drain(&mut batch) == 0
                {
                    entry.sink.idle(now);
                    entry.last = now;
                }
                true
            });
            next_sweep = now + SWEEP;
        }
    }
}
