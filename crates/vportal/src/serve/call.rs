//! One call: routing, media negotiation and the conversation core, in one task. The call's RTP is paced and
//! read by the media plane ([`super::media`]), which reports keys, playlist ends and recordings back.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use portal_core::{
    Audio, Call, CallConfig, CallContext, Caller, Dialed, Digit, Input, Output, RecordingHandle,
    Reply, Request, RequestId,
};
use portal_media::dtmf::{KeyPressDeduper, KeySource};
use portal_media::g711::Codec;
use portal_media::prompts::PlayItem;
use portal_media::recording::{RecorderConfig, Recording};
use portal_sip::endpoint::{CallHandle, IncomingCall};
use portal_sip::sdp::{self, LocalMedia, NegotiatedMedia, SessionDescription};
use portal_store::{AccountStore, Moment, Policy, Portal, Source};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::media::{MediaCall, MediaEvent, StreamSetup};
use super::{Shared, ToCall, ToSignalling};
use crate::bridge::{CallRecordings, Services, call_config, carry_out, portal_identity};

/// Runs one call from its INVITE to its end.
pub(crate) async fn run(
    shared: Arc<Shared>,
    incoming: IncomingCall,
    mut from_signalling: mpsc::UnboundedReceiver<ToCall>,
    to_signalling: mpsc::UnboundedSender<ToSignalling>,
) {
    let handle = incoming.call;
    let finished = |status: Option<u16>| {
        if let Some(status) = status {
            let _ = to_signalling.send(ToSignalling::Reject(handle, status));
        }
        let _ = to_signalling.send(ToSignalling::Finished(handle));
    };
    let route = match route(&shared, &incoming).await {
        Ok(route) => route,
        Err(status) => return finished(Some(status)),
    };
    let (media_events, media_events_rx) = mpsc::unbounded_channel();
    let remote_hint = incoming.offer.as_ref().and_then(sdp::offered_rtp_address);
    let media_call = match shared.media.open(remote_hint, media_events).await {
        Ok(media_call) => media_call,
        Err(error) => {
            tracing::warn!(%error, "no RTP port");
            return finished(Some(503));
        }
    };
    let local_rtp = media_call.local();
    let local = LocalMedia::new(local_rtp, session_id());
    // With an offer, answer it; without one, offer ours and learn the answer from the ACK.
    let (answer_sdp, mut media) = match &incoming.offer {
        Some(offer) => match sdp::negotiate(offer, &local) {
            Ok((answer, negotiated)) => (answer, Some(negotiated)),
            Err(refused) => return finished(Some(refused.status_code())),
        },
        None => (sdp::make_offer(&local), None),
    };
    let our_offer = media.is_none().then(|| answer_sdp.clone());
    let answer_after = Duration::from_millis(shared.settings.sip.answer_after_ms);
    if !answer_after.is_zero() {
        tokio::select! {
            _ = tokio::time::sleep(answer_after) => {}
            message = from_signalling.recv() => match message {
                // Cancelled before the answer: the endpoint already answered 487.
                Some(ToCall::Ended) | None => return finished(None),
                Some(ToCall::Shutdown) => return finished(Some(503)),
                Some(_) => {}
            },
        }
    }
    let _ = to_signalling.send(ToSignalling::Answer(handle, answer_sdp));
    if media.is_none() {
        // Wait for the ACK carrying the answer.
        loop {
            match from_signalling.recv().await {
                Some(ToCall::Acked(Some(answer))) => {
                    match our_offer
                        .as_ref()
                        .map(|offer| sdp::negotiated_from_answer(offer, &answer))
                    {
                        Some(Ok(negotiated)) => {
                            media = Some(negotiated);
                            break;
                        }
                        _ => {
                            let _ = to_signalling.send(ToSignalling::HangUp(handle));
                            return finished(None);
                        }
                    }
                }
                Some(ToCall::Acked(None)) => {
                    let _ = to_signalling.send(ToSignalling::HangUp(handle));
                    return finished(None);
                }
                Some(ToCall::Ended) | None => return finished(None),
                Some(ToCall::Shutdown) => {
                    let _ = to_signalling.send(ToSignalling::HangUp(handle));
                    return finished(None);
                }
                Some(_) => {}
            }
        }
    }
    let Some(media) = media else {
        return finished(None);
    };
    let call = CallMedia::new(
        shared,
        route,
        incoming,
        media_call,
        local,
        media,
        to_signalling.clone(),
    );
    call.run(from_signalling, media_events_rx).await;
    finished(None);
}

/// Which portal the call reached and who is calling.
struct Route {
    portal: Portal,
    dialed: Dialed,
    /// The organization's policy when the call arrived (its rules apply for the whole call).
    policy: Policy,
}

/// Finds the portal from the Request-URI (a portal's number or extension, or a voicemail-button pilot).
async fn route(shared: &Arc<Shared>, incoming: &IncomingCall) -> Result<Route, u16> {
    let dialed = incoming.request_uri_user.clone().unwrap_or_default();
    let caller = incoming
        .asserted_user
        .clone()
        .or(incoming.from_user.clone());
    let pilot = shared.settings.sip.voicemail_pilots.contains(&dialed);
    let store = Arc::clone(&shared.store);
    let lookup = move || -> Result<Option<(Portal, Policy)>, portal_store::StoreError> {
        let portal = if pilot {
            let Some(known) =
                caller.and_then(|number| store.caller_mailbox(&number).ok().flatten())
            else {
                return Ok(None);
            };
            Some(store.portal(&known.portal)?)
        } else {
            store.portal_by_dialed(&dialed)?
        };
        match portal {
            Some(portal) => Ok(Some((portal, store.policy()?))),
            None => Ok(None),
        }
    };
    let found = on_pool(&shared.quick_pool, lookup).await.ok_or(503u16)?;
    match found {
        Ok(Some((portal, policy))) => Ok(Route {
            portal,
            policy,
            dialed: if pilot {
                Dialed::VoicemailButton
            } else {
                Dialed::Portal(incoming.request_uri_user.clone().unwrap_or_default())
            },
        }),
        Ok(None) => Err(404),
        Err(error) => {
            tracing::error!(%error, "routing failed");
            Err(500)
        }
    }
}

/// Runs `job` on a store pool and waits for it without blocking the runtime; `None` if the pool stopped.
/// A full queue is waited out (the job is kept and offered again), so a login storm queues rather than fails.
pub(crate) async fn on_pool<T: Send + 'static>(
    pool: &portal_store::BlockingPool,
    job: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (done, result) = tokio::sync::oneshot::channel();
    let slot = Arc::new(std::sync::Mutex::new(Some((job, done))));
    loop {
        let offered = Arc::clone(&slot);
        let submitted = pool.try_submit(move || {
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
            Err(portal_store::PoolError::Stopped) => return None,
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

fn stream_setup(media: &NegotiatedMedia) -> StreamSetup {
    StreamSetup {
        remote: media.remote_rtp,
        codec: media_codec(media.codec),
        payload_type: media.payload_type,
        telephone_event_pt: media.telephone_event_pt,
        send: !media.is_on_hold(),
    }
}

fn media_codec(codec: sdp::Codec) -> Codec {
    match codec {
        sdp::Codec::Pcmu => Codec::Pcmu,
        sdp::Codec::Pcma => Codec::Pcma,
    }
}

/// The conversation and media of an answered call.
struct CallMedia {
    shared: Arc<Shared>,
    route: Route,
    handle: CallHandle,
    call_id: String,
    caller: Option<String>,
    media_call: MediaCall,
    local: LocalMedia,
    to_signalling: mpsc::UnboundedSender<ToSignalling>,
    call: Call,
    deduper: KeyPressDeduper,
    recordings: CallRecordings,
    next_recording: u64,
    /// Store replies come back here from the pool.
    reply_sender: mpsc::UnboundedSender<(RequestId, Reply)>,
    replies: mpsc::UnboundedReceiver<(RequestId, Reply)>,
    ended: bool,
}

impl CallMedia {
    fn new(
        shared: Arc<Shared>,
        route: Route,
        incoming: IncomingCall,
        media_call: MediaCall,
        local: LocalMedia,
        media: NegotiatedMedia,
        to_signalling: mpsc::UnboundedSender<ToSignalling>,
    ) -> CallMedia {
        let config = call_settings(&shared, &route.policy);
        let context = CallContext {
            // A trusted peer's assertion names the caller; otherwise the From user does.
            caller: match incoming
                .asserted_user
                .as_ref()
                .or(incoming.from_user.as_ref())
            {
                Some(number) => Caller::Identify(number.clone()),
                None => Caller::Unrecognised,
            },
            dialed: route.dialed.clone(),
            portal: portal_identity(&route.portal),
            today: Moment::now_utc().today,
        };
        media_call.stream(stream_setup(&media));
        let (reply_sender, replies) = mpsc::unbounded_channel();
        CallMedia {
            call: Call::new(context, Arc::new(config)),
            handle: incoming.call,
            call_id: incoming.call_id,
            caller: incoming.asserted_user.or(incoming.from_user),
            deduper: KeyPressDeduper::new(),
            recordings: HashMap::new(),
            next_recording: 0,
            reply_sender,
            replies,
            ended: false,
            shared,
            route,
            media_call,
            local,
            to_signalling,
        }
    }

    async fn run(
        mut self,
        mut from_signalling: mpsc::UnboundedReceiver<ToCall>,
        mut media_events: mpsc::UnboundedReceiver<MediaEvent>,
    ) {
        self.drain();
        while !self.ended {
            let deadline = self
                .call
                .poll_timeout()
                .map(Instant::from_std)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                event = media_events.recv() => match event {
                    Some(MediaEvent::Key(digit, source)) => self.key(digit, source),
                    Some(MediaEvent::PromptDone(id)) => self.feed(Input::PromptDone(id)),
                    Some(MediaEvent::RecordingDone(recording)) => self.recording_done(recording),
                    // The media plane stopped: the server is going down.
                    None => {
                        self.feed(Input::HungUp);
                        let _ = self.to_signalling.send(ToSignalling::HangUp(self.handle));
                        self.ended = true;
                    }
                },
                message = from_signalling.recv() => match message {
                    Some(ToCall::InfoDigit(key)) => {
                        if let Some(digit) = Digit::from_char(key) {
                            self.key(digit, KeySource::SipInfo);
                        }
                    }
                    Some(ToCall::MediaChanged(offer)) => self.renegotiate(offer),
                    Some(ToCall::Acked(_)) => {}
                    Some(ToCall::Ended) | None => {
                        self.feed(Input::HungUp);
                        self.ended = true;
                    }
                    Some(ToCall::Shutdown) => {
                        self.feed(Input::HungUp);
                        let _ = self.to_signalling.send(ToSignalling::HangUp(self.handle));
                        self.ended = true;
                    }
                },
                Some((id, reply)) = self.replies.recv() => self.feed(Input::Reply(id, reply)),
                _ = tokio::time::sleep_until(deadline) => self.timeout(),
            }
        }
    }

    fn key(&mut self, digit: Digit, source: KeySource) {
        if self
            .deduper
            .accept(digit, source, std::time::Instant::now())
        {
            tracing::debug!(source = ?source, "key press");
            self.feed(Input::Digit(digit));
        }
    }

    fn timeout(&mut self) {
        if self
            .call
            .poll_timeout()
            .is_some_and(|deadline| deadline <= std::time::Instant::now())
        {
            self.feed(Input::Timeout);
        }
    }

    fn renegotiate(&mut self, offer: Option<SessionDescription>) {
        let answer = match offer {
            Some(offer) => match sdp::negotiate(&offer, &self.local) {
                Ok((answer, negotiated)) => {
                    self.media_call.stream(stream_setup(&negotiated));
                    answer
                }
                Err(refused) => {
                    let _ = self
                        .to_signalling
                        .send(ToSignalling::Reject(self.handle, refused.status_code()));
                    return;
                }
            },
            None => sdp::make_offer(&self.local),
        };
        let _ = self
            .to_signalling
            .send(ToSignalling::Answer(self.handle, answer));
    }

    fn recording_done(&mut self, recording: Recording) {
        self.next_recording += 1;
        let handle = RecordingHandle(self.next_recording);
        let duration = recording.duration();
        self.recordings.insert(handle, recording.samples);
        self.feed(Input::RecordingDone {
            recording: handle,
            duration,
        });
    }

    fn feed(&mut self, input: Input) {
        self.call.handle(input, std::time::Instant::now());
        self.drain();
    }

    /// Carries out everything the core asks for.
    fn drain(&mut self) {
        while let Some(output) = self.call.poll_output() {
            match output {
                Output::Play { id, audio, .. } => {
                    let language = self.route.portal.language.clone();
                    let items = audio.into_iter().filter_map(|item| match item {
                        Audio::Prompt(prompt) => {
                            Some(PlayItem::Prompt(self.shared.prompts.get(&language, prompt)))
                        }
                        Audio::Recording(handle) => self
                            .recordings
                            .get(&handle)
                            .map(|samples| PlayItem::Samples(Arc::from(samples.as_slice()))),
                    });
                    self.media_call.play(id, items.collect());
                }
                Output::StopPlayback => self.media_call.stop_playback(),
                Output::StartRecording { max_length, .. } => {
                    let config = RecorderConfig {
                        max_length,
                        end_silence: Duration::from_millis(
                            self.shared.settings.timers.recording_end_silence_ms,
                        ),
                        ..RecorderConfig::default()
                    };
                    self.media_call.record(config);
                }
                Output::StopRecording => self.media_call.stop_recording(),
                Output::Request(id, request) => self.request(id, request),
                Output::HangUp => {
                    let _ = self.to_signalling.send(ToSignalling::HangUp(self.handle));
                    self.ended = true;
                }
                Output::Audit(audit) => tracing::info!(?audit, "call event"),
            }
        }
    }

    /// Runs a store request on the pool; its reply comes back through `replies`.
    fn request(&mut self, id: RequestId, request: Request) {
        let shared = Arc::clone(&self.shared);
        let portal = self.route.portal.clone();
        let source = Source::Call {
            call_id: self.call_id.clone(),
            caller: self.caller.clone(),
        };
        let recordings: CallRecordings = match &request {
            Request::SaveRecording { recording, .. } => self
                .recordings
                .get(recording)
                .map(|samples| HashMap::from([(*recording, samples.clone())]))
                .unwrap_or_default(),
            _ => HashMap::new(),
        };
        let replies = self.reply_sender.clone();
        // Passcode work (argon2) queues on its own pool, so lookups and saves never wait behind a login storm.
        let hashes = matches!(
            request,
            Request::Verify { .. } | Request::SetPasscode { .. }
        );
        tokio::spawn(async move {
            let pool_shared = Arc::clone(&shared);
            let pool = if hashes {
                &pool_shared.pool
            } else {
                &pool_shared.quick_pool
            };
            let reply = on_pool(pool, move || {
                let services = Services {
                    store: shared.store.as_ref() as &dyn AccountStore,
                    notifier: shared.notifier.as_ref(),
                };
                carry_out(
                    services,
                    &portal,
                    &source,
                    request,
                    &recordings,
                    Moment::now_utc(),
                )
            })
            .await;
            if let Some(reply) = reply {
                let _ = replies.send((id, reply));
            }
        });
    }
}

/// The conversation's settings for a call: the policy's rules and the configured timers.
fn call_settings(shared: &Shared, policy: &Policy) -> CallConfig {
    let timers = &shared.settings.timers;
    CallConfig {
        first_digit_timeout: Duration::from_millis(timers.first_digit_ms),
        inter_digit_timeout: Duration::from_millis(timers.inter_digit_ms),
        max_silent_reprompts: timers.max_silent_reprompts,
        min_recording: Duration::from_millis(timers.min_recording_ms),
        max_recording: Duration::from_millis(timers.max_recording_ms),
        ..call_config(policy)
    }
}
