//! Carries the conversation core's requests to the account store and brings back its replies. Every driver
//! (the console now, the SIP front end later) uses this one mapping, so a call behaves the same whichever way
//! it arrives.

use std::collections::HashMap;

use portal_core::{
    Account, CallConfig, CallContext, Caller, Dialed, PortalIdentity, RecordingHandle, Reply,
    Request, SetOutcome, VerifyOutcome,
};
use portal_notify::Notifier;
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

/// Audio a call recorded, by the handle the core knows it by (8 kHz mono 16-bit samples).
pub type CallRecordings = HashMap<RecordingHandle, Vec<i16>>;

/// The core's view of a portal: its number and extension.
pub fn portal_identity(portal: &Portal) -> PortalIdentity {
    PortalIdentity {
        number: portal.number.clone().unwrap_or_default(),
        extension: portal.extension.clone().unwrap_or_default(),
    }
}

/// The context of a call to `portal` from `caller` (a number to look up, or nobody known).
pub fn call_context(
    portal: &Portal,
    caller: Option<&str>,
    dialed: Dialed,
    at: Moment,
) -> CallContext {
    CallContext {
        caller: match caller {
            Some(number) => Caller::Identify(number.to_owned()),
            None => Caller::Unrecognised,
        },
        dialed,
        portal: portal_identity(portal),
        today: at.today,
    }
}

/// Call settings from the organization's policy; timers at their defaults unless the driver changes them.
pub fn call_config(policy: &Policy) -> CallConfig {
    CallConfig {
        rules: policy.rules.clone(),
        ..CallConfig::default()
    }
}

/// Carries out one request for a call to `portal` and returns the core's reply. Store failures are logged
/// (without passcodes) and answered in the way that keeps the caller safe: a verification that could not run
/// is not a login.
pub fn carry_out(
    services: Services<'_>,
    portal: &Portal,
    source: &Source,
    request: Request,
    recordings: &CallRecordings,
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
            let verification = match &account {
                Account::Mailbox(entered) => {
                    store.verify_mailbox(&portal.id, entered, &passcode, at, source)
                }
                Account::PortalAdmin => {
                    store.verify_portal_admin(&portal.id, &passcode, at, source)
                }
            };
            let outcome = match verification {
                Ok(verification) => {
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
            let Some(samples) = recordings.get(&recording) else {
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
