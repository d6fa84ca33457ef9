//! One SIP call from its INVITE to its end: routing, media, offer/answer, the answer delay, the ACK, and then
//! the [`Conversation`].
//!
//! ```text
//!  new --Route--> Routing --Routed(found)--> OpeningMedia --MediaOpened--> (negotiate the offer, or make one)
//!                    | not found 404, failed 500,        | no port 503       |
//!                    | unavailable 503                                       v
//!                    v                                   Answering (answer_after) --Answer--> AwaitingAck
//!                 Finished <---- late offer: no answer in the ACK, or a bad one: HangUp ----'  | ACK
//!                                                                                              v
//!                                      Talking: the conversation, re-INVITEs, keys from INFO and RTP
//!
//! The stream starts with the answer (silence), the conversation with the ACK: a caller whose 2xx was lost
//! and resent still hears the first prompt from its start.
//! ```
//!
//! A CANCEL or BYE ([`SessionInput::Ended`]) ends the session in any phase; a server shutdown
//! ([`SessionInput::Shutdown`]) refuses an unanswered call with 503 and hangs up an answered one.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portal_core::speech::Language;
use portal_core::{
    Absence, Audit, CallConfig, CallContext, Caller, Day, Deposit, Dialed, PlayId, PortalIdentity,
    RecordingHandle,
};
use portal_media::dtmf::KeySource;
use portal_media::g711::Codec;
use portal_media::plane::{MediaEvent, StreamSetup};
use portal_media::prompts::PlayItem;
use portal_media::recording::RecorderConfig;
use portal_sip::endpoint::{CallHandle, IncomingCall};
use portal_sip::redirection::{RedirectCause, Redirection};
use portal_sip::sdp::{self, LocalMedia, NegotiatedMedia, SessionDescription};
use portal_store::{Policy, Portal, Source};

use crate::config::SessionConfig;
use crate::conversation::{Conversation, ConversationOutput, StoreJob};

/// What the driver looks up to route a call (one store query, on its quick pool).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteQuery {
    /// The Request-URI's user: a portal's number or extension, or a voicemail-button pilot.
    pub dialed: String,
    /// The call is the voicemail button: it goes to the calling user's own portal.
    pub voicemail_button: bool,
    /// The caller the endpoint identified (a trusted peer's assertion, or the From user from a network the
    /// operator vouches for), `None` otherwise. Looked up in the same query, so a call looks its caller up
    /// once; an unidentified caller takes the star-key path, and the voicemail button cannot route it.
    pub caller: Option<String>,
    /// The user a trusted peer forwarded the call for, and why (see [`Route::deposit`]).
    pub redirection: Option<Redirection>,
}

/// Where a call goes.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    /// The portal reached.
    pub portal: Portal,
    /// The organization's policy when the call arrived (its rules apply for the whole call).
    pub policy: Policy,
    /// Who is calling, as far as the lookup found: `Recognised` or `Unrecognised` when the query looked the
    /// caller up, `Identify` to let the conversation ask.
    pub caller: Caller,
    /// The organization's calendar day, for passcode expiry.
    pub today: Day,
    /// Set when the call was forwarded for a user with a mailbox, other than the caller: the caller leaves
    /// that user a message. A redirection to nobody known, or the owner calling their own forwarded number,
    /// routes as if there were none.
    pub deposit: Option<DepositRoute>,
}

/// A forwarded call that leaves a message: for whom, why, and the user's recordings its greeting is made of.
#[derive(Clone, Debug, PartialEq)]
pub struct DepositRoute {
    /// The mailbox the message is for.
    pub mailbox: String,
    /// Why the call was forwarded.
    pub cause: RedirectCause,
    /// The number or extension the redirection named (said digit by digit when no name is recorded).
    pub number: String,
    /// The user's name recording (8 kHz mono).
    pub name: Option<Arc<[i16]>>,
    /// The user's busy greeting.
    pub busy_greeting: Option<Arc<[i16]>>,
    /// The user's no-answer greeting.
    pub no_answer_greeting: Option<Arc<[i16]>>,
    /// How long a message may still be under the mailbox's quota (zero when it is full).
    pub room: Duration,
}

/// The answer to [`SessionOutput::Route`].
#[derive(Clone, Debug, PartialEq)]
pub enum Routing {
    /// The call reaches this portal.
    Found(Box<Route>),
    /// No portal has that number, or a voicemail-button caller has no mailbox (404).
    NotFound,
    /// The lookup failed (500).
    Failed,
    /// The lookup could not run: the server is stopping (503).
    Unavailable,
}

/// What happens to a session.
#[derive(Debug)]
pub enum SessionInput {
    /// The answer to [`SessionOutput::Route`].
    Routed(Routing),
    /// The answer to [`SessionOutput::OpenMedia`]: the call's local RTP address, or `None` when no RTP port
    /// could be had.
    MediaOpened(Option<SocketAddr>),
    /// The caller acknowledged our 2xx; with SDP when our 2xx carried the offer.
    Acked(Option<SessionDescription>),
    /// A key sent in SIP INFO.
    InfoDigit(char),
    /// A re-INVITE (hold, resume, new address), with its offer if it had one.
    MediaChanged(Option<SessionDescription>),
    /// Something the media plane reported for this call.
    Media(MediaEvent),
    /// The reply to a [`StoreJob`].
    StoreReply(portal_core::RequestId, portal_core::Reply),
    /// The dialog is over (CANCEL, BYE, no ACK): nothing more is sent for it.
    Ended,
    /// The server is stopping.
    Shutdown,
}

/// What a session asks its driver to do.
#[derive(Debug)]
pub enum SessionOutput {
    /// Look this up and answer with [`SessionInput::Routed`].
    Route(RouteQuery),
    /// Open the call's media on the plane and answer with [`SessionInput::MediaOpened`]. `remote_hint` (the
    /// offer's RTP address) helps place it.
    OpenMedia {
        /// Where the caller will send RTP from, if the offer says.
        remote_hint: Option<SocketAddr>,
    },
    /// Start or change the call's stream.
    Stream(StreamSetup),
    /// Play these, then report `PlaylistDone` with `play`.
    Play(PlayId, Vec<PlayItem>),
    /// Stop playback at once.
    StopPlayback,
    /// Move within the item playing, back or forward by the duration.
    SkipPlayback {
        /// Back or forward.
        back: bool,
        /// How far.
        by: Duration,
    },
    /// Start recording the caller.
    Record(RecorderConfig),
    /// Stop recording.
    StopRecording,
    /// Answer the INVITE (or the re-INVITE) with this SDP.
    Answer(SessionDescription),
    /// Refuse the INVITE (or the re-INVITE) with this status.
    Reject(u16),
    /// Send BYE.
    HangUp,
    /// Carry out this store job and answer with [`SessionInput::StoreReply`].
    Store(StoreJob),
    /// Something worth logging happened in the conversation.
    Audit(Audit),
    /// The session is over: close its media and forget it. Nothing follows.
    Finished,
}

#[derive(Debug)]
enum Phase {
    Routing,
    OpeningMedia,
    /// The answer is ready and goes out at `at`.
    Answering {
        at: Instant,
        answer: SessionDescription,
        negotiated: Option<NegotiatedMedia>,
    },
    /// Our 2xx carried the offer; its answer comes in the ACK.
    /// Our 2xx is out; the conversation starts with the ACK, so a caller whose 2xx was lost (and resent)
    /// still hears the first prompt from its start.
    AwaitingAck(AckBrings),
    Talking,
    Finished,
}

/// What the ACK completes.
#[derive(Debug)]
enum AckBrings {
    /// Our 2xx answered the caller's offer: the stream already runs (silence), the ACK only confirms.
    Confirmation(NegotiatedMedia),
    /// Our 2xx carried our offer: the ACK carries the answer.
    Answer { offer: SessionDescription },
}

/// One call; see the module documentation.
///
/// Kinds of method, as quinn-proto's `Connection` has them: getters ([`call`](Self::call),
/// [`call_id`](Self::call_id), [`source`](Self::source), [`route`](Self::route),
/// [`is_finished`](Self::is_finished)); [`handle`](Self::handle) for every input; timers
/// ([`poll_timeout`](Self::poll_timeout), [`handle_timeout`](Self::handle_timeout)); and
/// [`poll_output`](Self::poll_output). Drain rule: after `new` and after every `handle`/`handle_timeout`,
/// drain `poll_output` until `None`, then sleep until `poll_timeout` or the next input. It never reads a
/// clock; it draws no random numbers (the driver passes the SDP session id).
#[derive(Debug)]
pub struct Session {
    config: Arc<SessionConfig>,
    call: CallHandle,
    call_id: String,
    caller: Option<String>,
    /// The caller's display name as received (kept with a message they leave).
    caller_name: Option<String>,
    /// The INVITE's Priority said urgent.
    urgent: bool,
    /// The caller hung up while the conversation still had work (a message being deposited): no BYE is sent,
    /// and the session ends when the conversation does.
    caller_gone: bool,
    /// What the caller dialed: a portal's number or extension, or the voicemail button.
    dialed: Dialed,
    offer: Option<SessionDescription>,
    sdp_session_id: u64,
    phase: Phase,
    route: Option<Route>,
    local: Option<LocalMedia>,
    conversation: Option<Conversation>,
    outputs: VecDeque<SessionOutput>,
}

impl Session {
    /// A session for a new INVITE; its first output asks to route it. `sdp_session_id` is the `o=` session
    /// id of our SDP (unique per call).
    pub fn new(incoming: IncomingCall, config: Arc<SessionConfig>, sdp_session_id: u64) -> Session {
        let dialed = incoming.request_uri_user.clone().unwrap_or_default();
        // Whom the endpoint believes (a trusted peer's assertion, or From from a network the operator vouches
        // for) is looked up; the number as signalled only goes to the audit.
        let identified = incoming.identified_user;
        let caller = incoming.asserted_user.or(incoming.from_user);
        let voicemail_button = config.voicemail_pilots.contains(&dialed);
        let mut session = Session {
            config,
            call: incoming.call,
            call_id: incoming.call_id,
            caller: caller.clone(),
            caller_name: incoming.from_display,
            urgent: incoming.urgent,
            caller_gone: false,
            dialed: if voicemail_button {
                Dialed::VoicemailButton
            } else {
                Dialed::Portal(dialed.clone())
            },
            offer: incoming.offer,
            sdp_session_id,
            phase: Phase::Routing,
            route: None,
            local: None,
            conversation: None,
            outputs: VecDeque::new(),
        };
        session.outputs.push_back(SessionOutput::Route(RouteQuery {
            dialed,
            voicemail_button,
            caller: identified,
            redirection: incoming.redirection,
        }));
        session
    }

    // ---- getters ----

    /// The endpoint's handle of this call.
    pub fn call(&self) -> CallHandle {
        self.call
    }

    /// The SIP Call-ID.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Who the store's audit says acted.
    pub fn source(&self) -> Source {
        Source::Call {
            call_id: self.call_id.clone(),
            caller: self.caller.clone(),
        }
    }

    /// The portal and policy, once routed.
    pub fn route(&self) -> Option<&Route> {
        self.route.as_ref()
    }

    /// The conversation, once the call is answered and its media negotiated.
    pub fn conversation(&self) -> Option<&Conversation> {
        self.conversation.as_ref()
    }

    /// Whether the session is over ([`SessionOutput::Finished`] was queued).
    pub fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Finished)
    }

    // ---- input ----

    /// Feeds one input at `now`.
    pub fn handle(&mut self, input: SessionInput, now: Instant) {
        if self.is_finished() {
            return;
        }
        match input {
            SessionInput::Routed(routing) => self.routed(routing),
            SessionInput::MediaOpened(local) => self.media_opened(local, now),
            SessionInput::Acked(answer) => self.acked(answer),
            SessionInput::MediaChanged(offer) => self.media_changed(offer),
            SessionInput::InfoDigit(key) => {
                if let (Some(digit), Some(conversation)) = (
                    portal_core::Digit::from_char(key),
                    self.conversation.as_mut(),
                ) {
                    conversation.key(digit, KeySource::SipInfo, now);
                }
            }
            SessionInput::Media(event) => {
                if let Some(conversation) = self.conversation.as_mut() {
                    match event {
                        MediaEvent::Key { digit, source, .. } => {
                            conversation.key(digit, source, now)
                        }
                        MediaEvent::PlaylistDone { play, .. } => {
                            conversation.playlist_done(play, now)
                        }
                        MediaEvent::RecordingDone { recording, .. } => {
                            conversation.recording_done(recording.samples, now)
                        }
                    }
                }
            }
            SessionInput::StoreReply(id, reply) => match self.conversation.as_mut() {
                Some(conversation) => conversation.reply(id, reply, now),
                None => self.driver_error("a store reply before the conversation asked anything"),
            },
            SessionInput::Ended => {
                self.caller_gone = true;
                if let Some(conversation) = self.conversation.as_mut() {
                    conversation.hung_up(now);
                }
            }
            SessionInput::Shutdown => self.shutdown(now),
        }
        self.drain_conversation();
        // After the caller hung up, the session lives only as long as the conversation has work (a message
        // being handed to the store).
        if self.caller_gone
            && self
                .conversation
                .as_ref()
                .is_none_or(Conversation::is_ended)
        {
            self.finish();
        }
    }

    // ---- timers ----

    /// When [`Session::handle_timeout`] is due: the answer delay, or the conversation's timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Answering { at, .. } => Some(*at),
            Phase::Talking => self.conversation.as_ref()?.poll_timeout(),
            _ => None,
        }
    }

    /// Fires what is due by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match &self.phase {
            Phase::Answering { at, .. } if *at <= now => self.answer(),
            Phase::Talking => {
                if let Some(conversation) = self.conversation.as_mut() {
                    conversation.handle_timeout(now);
                }
                self.drain_conversation();
            }
            _ => {}
        }
    }

    // ---- output ----

    /// The next thing to do, or `None` until the next input.
    pub fn poll_output(&mut self) -> Option<SessionOutput> {
        self.outputs.pop_front()
    }

    // ---- inside ----

    fn routed(&mut self, routing: Routing) {
        if !matches!(self.phase, Phase::Routing) {
            return self.driver_error("a routing answer the call did not ask for");
        }
        match &routing {
            Routing::Found(route) => tracing::debug!(portal = %route.portal.id, "routed"),
            other => tracing::debug!(?other, "not routed"),
        }
        match routing {
            Routing::Found(route) => {
                self.route = Some(*route);
                self.phase = Phase::OpeningMedia;
                let remote_hint = self.offer.as_ref().and_then(sdp::offered_rtp_address);
                self.outputs
                    .push_back(SessionOutput::OpenMedia { remote_hint });
            }
            Routing::NotFound => self.refuse(404),
            Routing::Failed => self.refuse(500),
            Routing::Unavailable => self.refuse(503),
        }
    }

    fn media_opened(&mut self, local_rtp: Option<SocketAddr>, now: Instant) {
        if !matches!(self.phase, Phase::OpeningMedia) {
            return self.driver_error("media opened that the call did not ask for");
        }
        let Some(local_rtp) = local_rtp else {
            return self.refuse(503);
        };
        tracing::debug!(%local_rtp, "media opened");
        let local = LocalMedia::new(local_rtp, self.sdp_session_id);
        // With an offer, answer it; without one, offer ours and learn the answer from the ACK.
        let (answer, negotiated) = match &self.offer {
            Some(offer) => match sdp::negotiate(offer, &local) {
                Ok((answer, negotiated)) => (answer, Some(negotiated)),
                Err(refused) => return self.refuse(refused.status_code()),
            },
            None => (sdp::make_offer(&local), None),
        };
        self.local = Some(local);
        self.phase = Phase::Answering {
            at: now + self.config.answer_after,
            answer,
            negotiated,
        };
        if self.config.answer_after.is_zero() {
            self.answer();
        }
    }

    fn answer(&mut self) {
        let Phase::Answering {
            answer, negotiated, ..
        } = std::mem::replace(&mut self.phase, Phase::Talking)
        else {
            return;
        };
        self.outputs
            .push_back(SessionOutput::Answer(answer.clone()));
        self.phase = Phase::AwaitingAck(match negotiated {
            Some(negotiated) => {
                // Media flows from the answer on (silence keeps NAT bindings and SBC timers alive).
                self.outputs
                    .push_back(SessionOutput::Stream(stream_setup(&negotiated)));
                AckBrings::Confirmation(negotiated)
            }
            None => AckBrings::Answer { offer: answer },
        });
    }

    fn acked(&mut self, answer: Option<SessionDescription>) {
        if !matches!(self.phase, Phase::AwaitingAck(_)) {
            return; // a later ACK (of a re-INVITE's 2xx): nothing to learn
        }
        let Phase::AwaitingAck(brings) = std::mem::replace(&mut self.phase, Phase::Talking) else {
            return;
        };
        match brings {
            AckBrings::Confirmation(negotiated) => self.start_talking(negotiated, false),
            AckBrings::Answer { offer } => {
                match answer.map(|answer| sdp::negotiated_from_answer(&offer, &answer)) {
                    Some(Ok(negotiated)) => self.start_talking(negotiated, true),
                    // No answer in the ACK, or one that does not fit our offer: nothing can be heard.
                    _ => self.hang_up(),
                }
            }
        }
    }

    /// Starts the conversation (and the stream, when the ACK brought the answer).
    fn start_talking(&mut self, negotiated: NegotiatedMedia, start_stream: bool) {
        tracing::debug!(?negotiated, "acknowledged; the conversation starts");
        let Some(route) = &self.route else {
            return self.hang_up();
        };
        if start_stream {
            self.outputs
                .push_back(SessionOutput::Stream(stream_setup(&negotiated)));
        }
        let (dialed, recordings) = match &route.deposit {
            Some(deposit) => {
                let (deposit, recordings) = deposit_context(deposit, &route.portal.language, self);
                (Dialed::Redirected(Box::new(deposit)), recordings)
            }
            None => (self.dialed.clone(), Vec::new()),
        };
        let context = CallContext {
            caller: route.caller.clone(),
            dialed,
            portal: portal_identity(&route.portal),
            today: route.today,
        };
        let config = CallConfig {
            rules: route.policy.rules.clone(),
            language: portal_language(&route.portal),
            ..self.config.call.clone()
        };
        let conversation = Conversation::with_recordings(
            context,
            Arc::new(config),
            &route.portal.language,
            self.config.recording_end_silence,
            recordings,
        );
        self.conversation = Some(conversation);
    }

    fn media_changed(&mut self, offer: Option<SessionDescription>) {
        let Some(local) = &self.local else {
            return self.outputs.push_back(SessionOutput::Reject(491));
        };
        let answer = match offer {
            Some(offer) => match sdp::negotiate(&offer, local) {
                Ok((answer, negotiated)) => {
                    self.outputs
                        .push_back(SessionOutput::Stream(stream_setup(&negotiated)));
                    answer
                }
                Err(refused) => {
                    return self
                        .outputs
                        .push_back(SessionOutput::Reject(refused.status_code()));
                }
            },
            None => sdp::make_offer(local),
        };
        self.outputs.push_back(SessionOutput::Answer(answer));
    }

    fn shutdown(&mut self, now: Instant) {
        if self.caller_gone {
            return self.finish();
        }
        match self.phase {
            Phase::Routing | Phase::OpeningMedia | Phase::Answering { .. } => self.refuse(503),
            Phase::AwaitingAck(_) => self.hang_up(),
            Phase::Talking => {
                if let Some(conversation) = self.conversation.as_mut() {
                    conversation.hung_up(now);
                }
                self.drain_conversation();
                self.hang_up();
            }
            Phase::Finished => {}
        }
    }

    /// Carries the conversation's outputs to media, the store and SIP.
    fn drain_conversation(&mut self) {
        let Some(conversation) = self.conversation.as_mut() else {
            return;
        };
        let mut hang_up = false;
        while let Some(output) = conversation.poll_output() {
            let output = match output {
                ConversationOutput::Play { play, audio } => {
                    SessionOutput::Play(play, conversation.play_items(&audio, &self.config.prompts))
                }
                ConversationOutput::StopPlayback => SessionOutput::StopPlayback,
                ConversationOutput::SkipPlayback { back, by } => {
                    SessionOutput::SkipPlayback { back, by }
                }
                ConversationOutput::Record(config) => SessionOutput::Record(config),
                ConversationOutput::StopRecording => SessionOutput::StopRecording,
                ConversationOutput::Store(job) => SessionOutput::Store(job),
                ConversationOutput::Audit(audit) => SessionOutput::Audit(audit),
                ConversationOutput::HangUp => {
                    hang_up = true;
                    continue;
                }
            };
            self.outputs.push_back(output);
        }
        if hang_up && !self.is_finished() {
            if self.caller_gone {
                self.finish();
            } else {
                self.hang_up();
            }
        }
    }

    /// The driver fed an input that cannot happen where the call is: a bug of ours. Debug builds stop on it
    /// (tests find it); release builds log it and end the call rather than guess.
    fn driver_error(&mut self, what: &str) {
        debug_assert!(false, "driver error: {what}");
        tracing::error!(what, "driver error; the call ends");
        match self.phase {
            Phase::Routing | Phase::OpeningMedia | Phase::Answering { .. } => self.refuse(500),
            Phase::AwaitingAck(_) | Phase::Talking => self.hang_up(),
            Phase::Finished => {}
        }
    }

    fn refuse(&mut self, status: u16) {
        tracing::debug!(status, "call refused");
        self.outputs.push_back(SessionOutput::Reject(status));
        self.finish();
    }

    fn hang_up(&mut self) {
        tracing::debug!("hanging up");
        self.outputs.push_back(SessionOutput::HangUp);
        self.finish();
    }

    fn finish(&mut self) {
        if !self.is_finished() {
            self.phase = Phase::Finished;
            self.outputs.push_back(SessionOutput::Finished);
        }
    }
}

/// The core's view of a portal: its number and extension.
pub fn portal_identity(portal: &Portal) -> PortalIdentity {
    PortalIdentity {
        number: portal.number.clone().unwrap_or_default(),
        extension: portal.extension.clone().unwrap_or_default(),
    }
}

/// The language the core puts counts, dates and numbers together in: the portal's, or English (the prompt
/// catalogue's fallback) for a code the core does not speak.
pub fn portal_language(portal: &Portal) -> Language {
    Language::from_code(&portal.language).unwrap_or(Language::English)
}

/// Stored audio a conversation plays from its start, under the handles its context names.
type Preloaded = Vec<(RecordingHandle, Arc<[i16]>)>;

/// The core's view of a deposit, and the stored recordings it plays under the handles it names.
fn deposit_context(
    route: &DepositRoute,
    language: &str,
    session: &Session,
) -> (Deposit, Preloaded) {
    let mut recordings = Vec::new();
    let mut hold = |audio: &Option<Arc<[i16]>>| {
        audio.as_ref().map(|samples| {
            let handle = RecordingHandle(recordings.len() as u64 + 1);
            recordings.push((handle, Arc::clone(samples)));
            handle
        })
    };
    let deposit = Deposit {
        mailbox: route.mailbox.clone(),
        absence: match route.cause {
            RedirectCause::Busy => Absence::Busy,
            RedirectCause::NoAnswer | RedirectCause::Unconditional | RedirectCause::Unknown => {
                Absence::NoAnswer
            }
        },
        number: route.number.clone(),
        language: Language::from_code(language).unwrap_or(Language::English),
        name: hold(&route.name),
        busy_greeting: hold(&route.busy_greeting),
        no_answer_greeting: hold(&route.no_answer_greeting),
        room: route.room,
        caller_number: session.caller.clone(),
        caller_name: session.caller_name.clone(),
        urgent: session.urgent,
    };
    (deposit, recordings)
}

fn stream_setup(media: &NegotiatedMedia) -> StreamSetup {
    StreamSetup {
        remote: media.remote_rtp,
        codec: match media.codec {
            sdp::Codec::Pcmu => Codec::Pcmu,
            sdp::Codec::Pcma => Codec::Pcma,
        },
        payload_type: media.payload_type,
        telephone_event_pt: media.telephone_event_pt,
        send: !media.is_on_hold(),
        rtcp_mux: media.rtcp_mux,
    }
}
