//! One call's task: the tokio driver of a sans-IO [`Session`]. It carries the session's outputs to the
//! signalling task (answer, reject, BYE), the media thread (stream, prompts, recording) and the store pools,
//! and feeds back what they report, all through one channel of [`SessionInput`]s. What the call decides
//! (routing, offer/answer, answer delay, the conversation) is the session's, tested without a runtime.

use std::sync::Arc;
use std::time::Duration;

use portal_core::Audit;
use portal_media::{KeySource, MediaEvent};
use portal_session::{Routing, Session, SessionInput, SessionOutput, StoreJob};
use portal_sip::endpoint::IncomingCall;
use portal_store::{AccountStore, Moment};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::media::MediaCall;
use super::{Shared, ToSignalling};
use crate::bridge::{Services, carry_out, log_audit, route};
use crate::telemetry;

/// Runs one call from its INVITE to its end. `inputs` is the call's channel: the signalling task, the media
/// thread and the store pools all report into it (`input_sender` is its sending half, for the latter two).
pub(crate) async fn run(
    shared: Arc<Shared>,
    incoming: IncomingCall,
    input_sender: mpsc::UnboundedSender<SessionInput>,
    mut inputs: mpsc::UnboundedReceiver<SessionInput>,
    to_signalling: mpsc::UnboundedSender<ToSignalling>,
) {
    let mut driver = CallDriver {
        session: Session::new(incoming, current_session_config(&shared), session_id()),
        shared,
        media: None,
        input_sender,
        to_signalling,
        outcome: "ended_before_conversation",
    };
    driver.drain().await;
    while !driver.session.is_finished() {
        let deadline = driver
            .session
            .poll_timeout()
            .map(Instant::from_std)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            input = inputs.recv() => match input {
                Some(input) => {
                    count_key(&input);
                    driver.session.handle(input, std::time::Instant::now())
                }
                // Every sender is gone: the server is going down.
                None => driver.session.handle(SessionInput::Shutdown, std::time::Instant::now()),
            },
            _ = tokio::time::sleep_until(deadline) => {
                driver.session.handle_timeout(std::time::Instant::now());
            }
        }
        driver.drain().await;
    }
}

struct CallDriver {
    shared: Arc<Shared>,
    session: Session,
    /// The call's media on the media thread; dropping it closes the call's media.
    media: Option<MediaCall>,
    input_sender: mpsc::UnboundedSender<SessionInput>,
    to_signalling: mpsc::UnboundedSender<ToSignalling>,
    /// How the call ended, for the calls metric: refused, the conversation's end reason, or ended before the
    /// conversation began (a CANCEL, a lost ACK).
    outcome: &'static str,
}

/// The session settings in force now (a reload may have replaced them since the server started).
fn current_session_config(shared: &Shared) -> Arc<portal_session::SessionConfig> {
    match shared.session.read() {
        Ok(config) => Arc::clone(&config),
        Err(poisoned) => Arc::clone(&poisoned.into_inner()),
    }
}

/// Counts a key press by how it was signalled.
fn count_key(input: &SessionInput) {
    let source = match input {
        SessionInput::InfoDigit(_) => "sip_info",
        SessionInput::Media(MediaEvent::Key { source, .. }) => match source {
            KeySource::SipInfo => "sip_info",
            KeySource::TelephoneEvent => "telephone_event",
            KeySource::Inband => "inband",
        },
        _ => return,
    };
    metrics::counter!(telemetry::KEY_PRESSES, "source" => source).increment(1);
}

impl CallDriver {
    /// Carries out everything the session asks for.
    async fn drain(&mut self) {
        while let Some(output) = self.session.poll_output() {
            match output {
                SessionOutput::Route(query) => {
                    let store = Arc::clone(&self.shared.store);
                    let routing = on_pool(&self.shared.lookup_pool, "lookup", move || {
                        route(store.as_ref(), &query, Moment::now_utc())
                    })
                    .await
                    .unwrap_or(Routing::Unavailable);
                    self.session
                        .handle(SessionInput::Routed(routing), std::time::Instant::now());
                }
                SessionOutput::OpenMedia { remote_hint } => {
                    let opened = self
                        .shared
                        .media
                        .open(remote_hint, self.input_sender.clone())
                        .await;
                    let local = match opened {
                        Ok(media) => {
                            let local = media.local();
                            self.media = Some(media);
                            Some(local)
                        }
                        Err(error) => {
                            tracing::warn!(%error, "no RTP port");
                            None
                        }
                    };
                    self.session
                        .handle(SessionInput::MediaOpened(local), std::time::Instant::now());
                }
                SessionOutput::Stream(setup) => self.with_media(|media| media.stream(setup)),
                SessionOutput::Play(play, items) => {
                    self.with_media(|media| media.play(play, items))
                }
                SessionOutput::StopPlayback => self.with_media(MediaCall::stop_playback),
                SessionOutput::SkipPlayback { back, by } => {
                    self.with_media(|media| media.skip_playback(back, by))
                }
                SessionOutput::Record(config) => self.with_media(|media| media.record(config)),
                SessionOutput::StopRecording => self.with_media(MediaCall::stop_recording),
                SessionOutput::Answer(sdp) => {
                    self.signal(ToSignalling::Answer(self.session.call(), sdp))
                }
                SessionOutput::Reject(status) => {
                    self.outcome = "refused";
                    self.signal(ToSignalling::Reject(self.session.call(), status))
                }
                SessionOutput::HangUp => self.signal(ToSignalling::HangUp(self.session.call())),
                SessionOutput::Store(job) => self.store(job),
                SessionOutput::Audit(audit) => {
                    if let Audit::CallEnded(reason) = audit {
                        self.outcome = telemetry::end_label(reason);
                    }
                    log_audit(&audit)
                }
                SessionOutput::Finished => {
                    metrics::counter!(telemetry::CALLS, "outcome" => self.outcome).increment(1);
                    self.media = None;
                    self.signal(ToSignalling::Finished(self.session.call()));
                }
            }
        }
    }

    fn with_media(&self, command: impl FnOnce(&MediaCall)) {
        if let Some(media) = &self.media {
            command(media);
        }
    }

    fn signal(&self, message: ToSignalling) {
        let _ = self.to_signalling.send(message);
    }

    /// Runs a store job on a pool; its reply comes back through the call's channel.
    fn store(&self, job: StoreJob) {
        let Some(route) = self.session.route() else {
            return;
        };
        let portal = route.portal.clone();
        let source = self.session.source();
        let replies = self.input_sender.clone();
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move {
            // Passcode work (argon2) queues on its own pool, so lookups and saves never wait behind a login
            // storm.
            let (pool, pool_name) = if job.hashes_passcode() {
                (&shared.passcode_pool, "passcode")
            } else {
                (&shared.lookup_pool, "lookup")
            };
            let StoreJob { id, request, audio } = job;
            let work_shared = Arc::clone(&shared);
            let reply = on_pool(pool, pool_name, move || {
                let services = Services {
                    store: work_shared.store.as_ref() as &dyn AccountStore,
                    notifier: work_shared.notifier.as_ref(),
                    time_zone: &work_shared.time_zone,
                };
                carry_out(
                    services,
                    &portal,
                    &source,
                    request,
                    audio.as_deref(),
                    Moment::now_utc(),
                )
            })
            .await;
            if let Some(reply) = reply {
                let _ = replies.send(SessionInput::StoreReply(id, reply));
            }
        });
    }
}

/// Runs `job` on a store pool and waits for it without blocking the runtime; `None` if the pool stopped.
/// A full queue is waited out (the job is kept and offered again), so a login storm queues rather than fails.
/// The pool's queue depth metric counts the job from its submission until a thread takes it.
pub(crate) async fn on_pool<T: Send + 'static>(
    pool: &portal_store::BlockingPool,
    pool_name: &'static str,
    job: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (done, result) = tokio::sync::oneshot::channel();
    let slot = Arc::new(std::sync::Mutex::new(Some((job, done))));
    let queued = metrics::gauge!(telemetry::STORE_QUEUE, "pool" => pool_name);
    queued.increment(1.0);
    loop {
        let offered = Arc::clone(&slot);
        let started = queued.clone();
        let submitted = pool.try_submit(move || {
            started.decrement(1.0);
            let taken = offered.lock().ok().and_then(|mut slot| slot.take());
            if let Some((job, done)) = taken {
                let _ = done.send(job());
            }
        });
        match submitted {
            Ok(()) => return result.await.ok(),
            Err(portal_store::PoolError::Full) => {
                tokio::time::sleep(Duration::from_millis(10)).await
            }
            Err(portal_store::PoolError::Stopped) => {
                queued.decrement(1.0);
                return None;
            }
        }
    }
}

/// The SDP session id (RFC 4566 `o=`): the time in seconds with a running count below it, so calls of the same
/// second differ (they may share an RTP port).
fn session_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |elapsed| elapsed.as_secs());
    (seconds << 20) | (CALLS.fetch_add(1, Ordering::Relaxed) & 0xF_FFFF)
}
