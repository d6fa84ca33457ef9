//! Carries a call's store work to the account store and brings back the answers: the routing query of a new
//! call ([`route`]) and the conversation core's requests ([`carry_out`]). Every driver (the SIP front end, the
//! console, the pair tests) uses this one mapping, so a call behaves the same whichever way it arrives.

use std::sync::Arc;
use std::time::Duration;

use portal_core::speech::{CalendarDate, Envelope, TimeOfDay};
use portal_core::{
    Account, Audit, CallConfig, Caller, MessageAudio, MessageFolder, MessageInfo, MessageRef,
    Reply, Request, SetOutcome, VerifyOutcome,
};
use portal_notify::Notifier;
use portal_session::{DepositRoute, Route, RouteQuery, Routing};
use portal_sip::redirection::Redirection;
use portal_store::{
    AccountStore, Folder, KnownCaller, MessageId, MessageSummary, Moment, NewMessage, Policy,
    Portal, RecordingId, RecordingOwner, Source, StoreError,
};

use crate::admin::{notify_locked_out, notify_passcode_changed};

/// What a call's requests are carried out with.
#[derive(Clone, Copy)]
pub struct Services<'a> {
    /// Accounts, passcodes, recordings.
    pub store: &'a dyn AccountStore,
    /// Lockout and passcode-changed notices to users.
    pub notifier: &'a dyn Notifier,
    /// Where message envelopes are said in when the portal called has no time zone of its own (see
    /// [`envelope_zone`]): a message's received-at (UTC) becomes that zone's date and time before the core sees it.
    pub time_zone: &'a jiff::tz::TimeZone,
}

/// Logs what the conversation reports: a driver error (a bug of ours, which ended the call) at error level,
/// the rest at info; and counts it in the metrics.
pub fn log_audit(audit: &Audit) {
    crate::telemetry::record_audit(audit);
    match audit {
        Audit::DriverError(error) => tracing::error!(?error, "the call ended on a driver error"),
        other => tracing::info!(audit = ?other, "call event"),
    }
}

/// Call settings from the organization's policy; timers at their defaults unless the driver changes them.
pub fn call_config(policy: &Policy) -> CallConfig {
    CallConfig {
        rules: policy.rules.clone(),
        ..CallConfig::default()
    }
}

/// Routes a new call: the portal dialed (or, for the voicemail button, the calling user's own portal), the
/// policy, and who is calling, in one pass over the store so a call looks its caller up once. A failure is
/// logged and answered as [`Routing::Failed`].
///
/// A call a trusted peer forwarded for a user (`query.redirection`) goes to that user's portal to leave a
/// message, with the user's greetings, name and room under the quota, found in the same pass. A redirection
/// to a number no mailbox has, to a user whose voicemail is off, or to the caller's own mailbox (the owner
/// calling their forwarded number), is routed as if there were none: the ordinary welcome, so the answer never tells which numbers exist.
pub fn route(store: &dyn AccountStore, query: &RouteQuery, at: Moment) -> Routing {
    let lookup = || -> Result<Routing, StoreError> {
        // A caller lookup that fails leaves the caller unrecognised (the star-key path), as it always did.
        let caller = query.caller.as_ref().and_then(|number| {
            store.caller_mailbox(number).unwrap_or_else(|error| {
                tracing::error!(%error, "caller lookup failed; treating the caller as unrecognised");
                None
            })
        });
        let deposit = match &query.redirection {
            Some(redirection) => deposit_route(store, redirection, caller.as_ref(), at)?,
            None => None,
        };
        let portal = if let Some((_, portal)) = &deposit {
            Some(store.portal(portal)?)
        } else if query.voicemail_button {
            match &caller {
                Some(known) => Some(store.portal(&known.portal)?),
                None => None,
            }
        } else {
            store.portal_by_dialed(&query.dialed)?
        };
        let Some(portal) = portal else {
            return Ok(Routing::NotFound);
        };
        Ok(Routing::Found(Box::new(Route {
            portal,
            policy: store.policy()?,
            caller: match caller {
                Some(known) => Caller::Recognised(known.into()),
                None => Caller::Unrecognised,
            },
            today: at.today,
            deposit: deposit.map(|(deposit, _)| deposit),
        })))
    };
    lookup().unwrap_or_else(|error| {
        tracing::error!(%error, "routing failed");
        Routing::Failed
    })
}

/// The message a forwarded call leaves, and the portal of its mailbox; `None` when the redirection names no
/// mailbox, a mailbox whose voicemail is off, or the caller's own.
fn deposit_route(
    store: &dyn AccountStore,
    redirection: &Redirection,
    caller: Option<&KnownCaller>,
    at: Moment,
) -> Result<Option<(DepositRoute, String)>, StoreError> {
    let Some(user) = store.caller_mailbox(&redirection.target)? else {
        return Ok(None);
    };
    if caller.is_some_and(|caller| caller.mailbox == user.mailbox) {
        return Ok(None);
    }
    let view = store.user(&user.mailbox, at.today)?;
    // A user without voicemail takes no messages: the call gets the ordinary welcome, like an unknown number.
    if !view.voicemail {
        return Ok(None);
    }
    let usage = store.mailbox_usage(&user.mailbox)?;
    let load = |id: Option<RecordingId>| -> Option<Arc<[i16]>> {
        let id = id?;
        let loaded = store
            .recording(id)
            .map_err(|error| error.to_string())
            .and_then(|recording| {
                portal_media::prompts::read_wav(&recording.path).map_err(|error| error.to_string())
            });
        match loaded {
            Ok(samples) => Some(Arc::from(samples)),
            Err(error) => {
                // The caller hears the next greeting in line instead.
                tracing::error!(%error, ?id, "a greeting could not be read");
                None
            }
        }
    };
    let deposit = DepositRoute {
        mailbox: user.mailbox.clone(),
        cause: redirection.cause,
        number: redirection.target.clone(),
        name: load(view.name_recording),
        busy_greeting: load(view.busy_greeting),
        no_answer_greeting: load(view.no_answer_greeting),
        room: Duration::from_millis(usage.remaining_ms()),
    };
    Ok(Some((deposit, user.portal)))
}

/// Carries out one request for a call to `portal` and returns the core's reply. Store failures are logged
/// (without passcodes) and answered in the way that keeps the caller safe: a verification that could not run
/// is not a login.
pub fn carry_out(
    services: Services<'_>,
    portal: &Portal,
    source: &Source,
    request: Request,
    audio: Option<&[i16]>,
    at: Moment,
) -> Reply {
    let store = services.store;
    match request {
        Request::LookupCaller { number } => match store.caller_mailbox(&number) {
            Ok(found) => Reply::Caller(found.map(Into::into)),
            Err(error) => {
                tracing::error!(%error, "caller lookup failed; treating the caller as unrecognised");
                Reply::Caller(None)
            }
        },
        Request::Verify { account, passcode } => {
            let started = std::time::Instant::now();
            let verification = match &account {
                Account::Mailbox(entered) => {
                    store.verify_mailbox(&portal.id, entered, &passcode, at, source)
                }
                Account::PortalAdmin => {
                    store.verify_portal_admin(&portal.id, &passcode, at, source)
                }
            };
            metrics::histogram!(crate::telemetry::VERIFY_SECONDS)
                .record(started.elapsed().as_secs_f64());
            let outcome = match verification {
                Ok(verification) => {
                    if verification.locked_now {
                        metrics::counter!(crate::telemetry::LOCKOUTS).increment(1);
                    }
                    // The user is told by email, once; the caller hears only the outcome, so an unknown
                    // number still sounds like a mailbox.
                    if let Some(mailbox) = verification.locked_mailbox() {
                        notify_locked_out(store, services.notifier, mailbox, at);
                    }
                    verification.outcome
                }
                Err(error) => {
                    tracing::error!(%error, "passcode verification failed; answering as a wrong passcode");
                    VerifyOutcome::Wrong
                }
            };
            Reply::Verified { account, outcome }
        }
        Request::SetPasscode {
            mailbox, passcode, ..
        } => Reply::PasscodeSet(
            match store.change_passcode(&mailbox, &passcode, at, source) {
                Ok(()) => {
                    notify_passcode_changed(store, services.notifier, &mailbox, at);
                    SetOutcome::Changed
                }
                Err(StoreError::Rejected(violation)) => SetOutcome::Rejected(violation),
                Err(error) => {
                    tracing::error!(%error, "passcode change failed");
                    SetOutcome::Failed
                }
            },
        ),
        Request::SaveRecording {
            owner,
            kind,
            recording,
        } => {
            let owner = match owner {
                Account::Mailbox(mailbox) => RecordingOwner::Mailbox(mailbox),
                Account::PortalAdmin => RecordingOwner::Portal(portal.id.clone()),
            };
            let Some(samples) = audio else {
                tracing::error!(?recording, "no audio for this recording");
                return Reply::RecordingSaved(false);
            };
            match store.save_recording(&owner, kind, samples, at, source) {
                Ok(_) => Reply::RecordingSaved(true),
                Err(error) => {
                    tracing::error!(%error, "saving a recording failed");
                    Reply::RecordingSaved(false)
                }
            }
        }
        Request::ListMessages { mailbox } => {
            // Expiry on access comes first, so no expired message is ever counted or played. A failed expiry
            // is logged and the listing goes on: the user still hears their messages.
            if let Err(error) = store.expire_on_access(&mailbox, at, source) {
                tracing::error!(%error, "message expiry on access failed");
            }
            let zone = envelope_zone(portal, services.time_zone);
            match store.list_messages(&mailbox) {
                Ok(list) => Reply::Messages(Some(
                    list.messages
                        .iter()
                        .map(|message| message_info(message, &zone))
                        .collect(),
                )),
                Err(error) => {
                    tracing::error!(%error, "listing messages failed");
                    Reply::Messages(None)
                }
            }
        }
        Request::FetchMessage { mailbox, message } => {
            match store.message_audio(&mailbox, MessageId(message.0)) {
                Ok(samples) => Reply::MessageAudio(Some(MessageAudio::new(samples))),
                Err(error) => {
                    tracing::error!(%error, message = message.0, "reading a message's audio failed");
                    Reply::MessageAudio(None)
                }
            }
        }
        Request::MarkMessageHeard { mailbox, message } => message_updated(
            "marking a message heard",
            store.mark_message_heard(&mailbox, MessageId(message.0), at, source),
        ),
        Request::SaveMessage { mailbox, message } => message_updated(
            "saving a message",
            store.save_message(&mailbox, MessageId(message.0), at, source),
        ),
        Request::DeleteMessage { mailbox, message } => message_updated(
            "deleting a message",
            store.delete_message(&mailbox, MessageId(message.0), at, source),
        ),
        Request::DepositMessage {
            mailbox,
            caller_number,
            caller_name,
            urgent,
            recording,
        } => {
            let Some(samples) = audio else {
                tracing::error!(?recording, "no audio for this message");
                return Reply::MessageDeposited(false);
            };
            let message = NewMessage {
                mailbox,
                caller_number,
                caller_name,
                received_at: at,
                urgent,
            };
            match store.deposit_message(&message, samples, source) {
                Ok(id) => {
                    metrics::counter!(crate::telemetry::MESSAGES_DEPOSITED).increment(1);
                    tracing::info!(?id, "message deposited");
                    Reply::MessageDeposited(true)
                }
                // Another caller filled the mailbox meanwhile: the store's check is the one that holds.
                Err(error @ StoreError::QuotaFull { .. }) => {
                    tracing::warn!(%error, "message refused");
                    Reply::MessageDeposited(false)
                }
                Err(error) => {
                    tracing::error!(%error, "depositing a message failed");
                    Reply::MessageDeposited(false)
                }
            }
        }
    }
}

fn message_updated(what: &str, result: Result<(), StoreError>) -> Reply {
    if let Err(error) = &result {
        tracing::error!(%error, "{what} failed");
    }
    Reply::MessageUpdated(result.is_ok())
}

/// The zone a call to `portal` says message envelopes in: the portal's own time zone when it has one, else the
/// server's (`[messages] time_zone`). A portal zone the system's database no longer knows (names are checked
/// when they are set) is logged and the server's is used.
pub fn envelope_zone(portal: &Portal, server: &jiff::tz::TimeZone) -> jiff::tz::TimeZone {
    match portal.time_zone.as_deref() {
        Some(name) => jiff::tz::TimeZone::get(name).unwrap_or_else(|error| {
            tracing::error!(%error, portal = %portal.id, zone = name,
                "the portal's time zone is unknown; saying the server's");
            server.clone()
        }),
        None => server.clone(),
    }
}

/// A stored message as the core hears about it: its received-at (unix seconds, UTC) as the date and time of
/// day in `time_zone`.
pub fn message_info(message: &MessageSummary, time_zone: &jiff::tz::TimeZone) -> MessageInfo {
    let (received_on, received_at) = local_date_and_time(message.received_at, time_zone);
    MessageInfo {
        id: MessageRef(message.id.0),
        envelope: Envelope {
            received_on,
            received_at,
            caller: message.caller_number.clone(),
        },
        folder: match message.folder {
            Folder::New => MessageFolder::New,
            Folder::Saved => MessageFolder::Saved,
        },
        heard: message.heard,
    }
}

/// The date and time of day in `time_zone` at `unix_seconds`. An instant outside jiff's range (years -9999 to
/// 9999, which no stored message reaches) is said as the Unix epoch rather than refused.
fn local_date_and_time(
    unix_seconds: i64,
    time_zone: &jiff::tz::TimeZone,
) -> (CalendarDate, TimeOfDay) {
    let civil = jiff::Timestamp::from_second(unix_seconds)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(time_zone.clone())
        .datetime();
    let date = CalendarDate::new(
        i32::from(civil.year()),
        civil.month().unsigned_abs(),
        civil.day().unsigned_abs(),
    );
    let time = TimeOfDay::new(civil.hour().unsigned_abs(), civil.minute().unsigned_abs());
    // jiff's civil dates and times are always real ones, so the fallback is never taken.
    date.zip(time)
        .or_else(|| CalendarDate::new(1970, 1, 1).zip(TimeOfDay::new(0, 0)))
        .expect("1970-01-01 00:00 is a date and a time")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_at_is_said_in_the_configured_time_zone() {
        // 2025-01-06T23:30:00Z: Monday night in UTC, already Tuesday in Madrid (UTC+1 in winter).
        let instant = 1_736_206_200;
        let utc = jiff::tz::TimeZone::UTC;
        assert_eq!(
            local_date_and_time(instant, &utc),
            (
                CalendarDate::new(2025, 1, 6).unwrap(),
                TimeOfDay::new(23, 30).unwrap()
            )
        );
        let madrid = jiff::tz::TimeZone::get("Europe/Madrid").unwrap();
        assert_eq!(
            local_date_and_time(instant, &madrid),
            (
                CalendarDate::new(2025, 1, 7).unwrap(),
                TimeOfDay::new(0, 30).unwrap()
            )
        );
        // Summer time: UTC+2.
        let july = 1_751_374_800; // 2025-07-01T13:00:00Z
        assert_eq!(
            local_date_and_time(july, &madrid).1,
            TimeOfDay::new(15, 0).unwrap()
        );
    }

    fn portal_with_zone(time_zone: Option<&str>) -> Portal {
        Portal {
            id: "main".into(),
            name: "Main".into(),
            number: None,
            extension: Some("8000".into()),
            language: "en".into(),
            admin_passcode_set: false,
            admin_failed_attempts: 0,
            admin_locked_at: None,
            business_hours_greeting: None,
            after_hours_greeting: None,
            time_zone: time_zone.map(str::to_owned),
        }
    }

    #[test]
    fn the_portal_s_time_zone_wins_over_the_server_s() {
        let instant = 1_736_206_200; // 2025-01-06T23:30:00Z
        let server = jiff::tz::TimeZone::get("America/New_York").unwrap();
        let summary = MessageSummary {
            id: MessageId(7),
            mailbox: "1001".into(),
            caller_number: Some("5551002".into()),
            caller_name: None,
            received_at: instant,
            duration_ms: 1000,
            folder: Folder::New,
            heard: false,
            urgent: false,
            forwarded_by: None,
        };
        let said = |portal: &Portal| {
            let envelope = message_info(&summary, &envelope_zone(portal, &server)).envelope;
            (envelope.received_on, envelope.received_at)
        };
        assert_eq!(
            said(&portal_with_zone(Some("Europe/Madrid"))),
            (
                CalendarDate::new(2025, 1, 7).unwrap(),
                TimeOfDay::new(0, 30).unwrap()
            ),
            "the portal's own zone"
        );
        assert_eq!(
            said(&portal_with_zone(None)),
            (
                CalendarDate::new(2025, 1, 6).unwrap(),
                TimeOfDay::new(18, 30).unwrap()
            ),
            "no zone of its own: the server's"
        );
        assert_eq!(
            said(&portal_with_zone(Some("Nowhere/Atlantis"))),
            said(&portal_with_zone(None)),
            "a zone the database does not know: the server's"
        );
    }
}
