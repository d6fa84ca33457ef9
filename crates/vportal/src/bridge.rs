//! Carries a call's store work to the account store and brings back the answers: the routing query of a new
//! call ([`route`]) and the conversation core's requests ([`carry_out`]). Every driver (the SIP front end, the
//! console, the pair tests) uses this one mapping, so a call behaves the same whichever way it arrives.

use portal_core::{Account, Audit, CallConfig, Caller, Reply, Request, SetOutcome, VerifyOutcome};
use portal_notify::Notifier;
use portal_session::{Route, RouteQuery, Routing};
use portal_store::{AccountStore, Moment, Policy, Portal, RecordingOwner, Source, StoreError};

use crate::admin::{notify_locked_out, notify_passcode_changed};

/// What a call's requests are carried out with.
#[derive(Clone, Copy)]
pub struct Services<'a> {
    /// Accounts, passcodes, recordings.
    pub store: &'a dyn AccountStore,
    /// Lockout and passcode-changed notices to users.
    pub notifier: &'a dyn Notifier,
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
pub fn route(store: &dyn AccountStore, query: &RouteQuery, at: Moment) -> Routing {
    let lookup = || -> Result<Routing, StoreError> {
        // A caller lookup that fails leaves the caller unrecognised (the star-key path), as it always did.
        let caller = query.caller.as_ref().and_then(|number| {
            store.caller_mailbox(number).unwrap_or_else(|error| {
                tracing::error!(%error, "caller lookup failed; treating the caller as unrecognised");
                None
            })
        });
        let portal = if query.voicemail_button {
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
        })))
    };
    lookup().unwrap_or_else(|error| {
        tracing::error!(%error, "routing failed");
        Routing::Failed
    })
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
    }
}
