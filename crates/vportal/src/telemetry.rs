//! What an operator watches: Prometheus metrics and the health endpoints of `vportal serve`.
//!
//! The code that sees an event records it through the `metrics` facade (a no-op until [`install`] sets the
//! Prometheus recorder, so the console and the tests pay nothing). `[metrics] listen` serves, over HTTP:
//!
//! - `/metrics`: the Prometheus text exposition (rendered by `metrics-exporter-prometheus`);
//! - `/healthz`: 200 while the process runs (liveness);
//! - `/readyz`: 200 while the server takes calls and its store answers, 503 otherwise (before it has bound its
//!   sockets, while it shuts down, or when a store read fails).
//!
//! Label values are fixed words (a method, a status, an outcome, a key source), never a number, a mailbox or a
//! passcode, so the metrics leak nothing and their number stays bounded. The metric names are the constants
//! below; README.md lists them for operators.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use portal_core::{Account, Audit, ChangeKind, EndReason};
use portal_store::{AccountStore, SqliteStore};

/// Calls the server holds now.
pub const CALLS_IN_PROGRESS: &str = "vportal_calls_in_progress";
/// Calls ended, by `outcome`.
pub const CALLS: &str = "vportal_calls_total";
/// Passcode verifications, by `account` (`mailbox`, `portal_admin`) and `result` (`ok`, `wrong`, `locked`).
pub const LOGINS: &str = "vportal_logins_total";
/// Accounts locked by a wrong passcode (the attempt that reached the lockout count).
pub const LOCKOUTS: &str = "vportal_lockouts_total";
/// Passcodes changed by callers, by `kind` (`forced`, `voluntary`).
pub const PASSCODE_CHANGES: &str = "vportal_passcode_changes_total";
/// New passcodes refused by a rule.
pub const PASSCODES_REFUSED: &str = "vportal_passcodes_refused_total";
/// How long a passcode verification took (argon2id and its transaction), in seconds.
pub const VERIFY_SECONDS: &str = "vportal_passcode_verify_seconds";
/// Store jobs waiting for a thread, by `pool` (`passcode`, `lookup`).
pub const STORE_QUEUE: &str = "vportal_store_queue_depth";
/// Key presses as reported, by `source` (`sip_info`, `telephone_event` (RFC 4733), `inband`); one press reported two ways counts
/// under each.
pub const KEY_PRESSES: &str = "vportal_key_presses_total";
/// SIP requests, by `direction` (`received`, `sent`) and `method` (`other` for non-standard ones).
pub const SIP_REQUESTS: &str = "vportal_sip_requests_total";
/// SIP responses, by `direction` and `status`.
pub const SIP_RESPONSES: &str = "vportal_sip_responses_total";
/// SIP datagrams or stream messages that could not be read.
pub const SIP_UNREADABLE: &str = "vportal_sip_unreadable_total";
/// INVITEs over the rate limit, by `action` (`refused`: one 503; `dropped`: no answer).
pub const RATE_LIMITED: &str = "vportal_invites_rate_limited_total";
/// Recordings saved, by `kind`.
pub const RECORDINGS: &str = "vportal_recordings_saved_total";
/// RTP audio frames sent, by how long after their 20 ms slot was due they left: `late_by` one of [`LATE_BY`].
pub const FRAMES_LATE: &str = "vportal_rtp_frames_late_total";
/// The `late_by` buckets, in the order of `portal_media::plane::LatenessCounts::buckets`.
pub const LATE_BY: [&str; portal_media::plane::LatenessCounts::BUCKETS] =
    ["le_1ms", "le_2ms", "le_5ms", "le_10ms", "over_10ms"];
/// RTP audio frames sent (the sum over `late_by`).
pub const FRAMES_SENT: &str = "vportal_rtp_frames_sent_total";
/// Calls each media thread holds, by `thread` (its index: `vportal-media0` is `0`).
pub const MEDIA_THREAD_CALLS: &str = "vportal_media_thread_calls";
/// Times a media thread was held up so long that frames were skipped.
pub const MEDIA_HELD_UP: &str = "vportal_media_held_up_total";
/// Messages deleted by the strict expiry sweep.
pub const MESSAGES_EXPIRED: &str = "vportal_messages_expired_total";
/// Voice messages callers left (deposited in a mailbox).
pub const MESSAGES_DEPOSITED: &str = "vportal_messages_deposited_total";
/// Configuration reloads (SIGHUP), by `result` (`applied`, `refused`).
pub const RELOADS: &str = "vportal_config_reloads_total";
/// 1, labelled with the `version` and git `revision` of the running binary.
pub const BUILD_INFO: &str = "vportal_build_info";

/// Buckets of the verification histogram: argon2id at the default cost takes 15 to 25 ms of a core; a storm
/// queues it for seconds.
const VERIFY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Installs the Prometheus recorder for this process (once; later calls return the same handle) and describes
/// every metric.
pub fn install() -> Result<PrometheusHandle, String> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(VERIFY_SECONDS.into()), &VERIFY_BUCKETS)
        .map_err(|error| error.to_string())?
        .install_recorder()
        .map_err(|error| error.to_string())?;
    describe();
    metrics::gauge!(
        BUILD_INFO,
        "version" => env!("CARGO_PKG_VERSION"),
        "revision" => env!("VPORTAL_GIT_REVISION"),
    )
    .set(1.0);
    Ok(HANDLE.get_or_init(|| handle).clone())
}

fn describe() {
    describe_gauge!(CALLS_IN_PROGRESS, "Calls the server holds now.");
    describe_counter!(CALLS, "Calls ended, by outcome.");
    describe_counter!(
        LOGINS,
        "Passcode verifications, by account kind and result."
    );
    describe_counter!(
        LOCKOUTS,
        "Accounts locked by the wrong passcode that reached the lockout count."
    );
    describe_counter!(PASSCODE_CHANGES, "Passcodes changed by callers, by kind.");
    describe_counter!(PASSCODES_REFUSED, "New passcodes refused by a rule.");
    describe_histogram!(
        VERIFY_SECONDS,
        Unit::Seconds,
        "Passcode verification time (argon2id and its transaction)."
    );
    describe_gauge!(STORE_QUEUE, "Store jobs waiting for a thread, by pool.");
    describe_counter!(KEY_PRESSES, "Key presses as reported, by source.");
    describe_counter!(SIP_REQUESTS, "SIP requests, by direction and method.");
    describe_counter!(SIP_RESPONSES, "SIP responses, by direction and status.");
    describe_counter!(SIP_UNREADABLE, "SIP messages that could not be read.");
    describe_counter!(RATE_LIMITED, "INVITEs over the rate limit, by action.");
    describe_counter!(RECORDINGS, "Recordings saved, by kind.");
    describe_counter!(
        FRAMES_LATE,
        "RTP frames sent after their slot was due, by how late."
    );
    describe_counter!(FRAMES_SENT, "RTP audio frames sent.");
    describe_gauge!(MEDIA_THREAD_CALLS, "Calls each media thread holds.");
    describe_counter!(
        MEDIA_HELD_UP,
        "Times a media thread was held up so long that frames were skipped."
    );
    describe_counter!(
        MESSAGES_EXPIRED,
        "Messages deleted by the strict expiry sweep."
    );
    describe_counter!(
        MESSAGES_DEPOSITED,
        "Voice messages callers left in a mailbox."
    );
    describe_counter!(RELOADS, "Configuration reloads, by result.");
    describe_gauge!(BUILD_INFO, "The running build.");
}

/// Counts what a call's conversation reports.
pub fn record_audit(audit: &Audit) {
    match audit {
        Audit::LoginSucceeded(account) => login(account, "ok"),
        Audit::LoginFailed(account) => login(account, "wrong"),
        Audit::LockedOut(account) => login(account, "locked"),
        Audit::PasscodeRefused(_) => metrics::counter!(PASSCODES_REFUSED).increment(1),
        Audit::PasscodeChanged(kind) => {
            let kind = match kind {
                ChangeKind::Forced(_) => "forced",
                ChangeKind::Voluntary => "voluntary",
            };
            metrics::counter!(PASSCODE_CHANGES, "kind" => kind).increment(1);
        }
        Audit::RecordingSaved(kind) => {
            metrics::counter!(RECORDINGS, "kind" => kind.name()).increment(1);
        }
        Audit::DriverError(_) | Audit::CallEnded(_) => {}
    }
}

fn login(account: &Account, result: &'static str) {
    let account = match account {
        Account::Mailbox(_) => "mailbox",
        Account::PortalAdmin => "portal_admin",
    };
    metrics::counter!(LOGINS, "account" => account, "result" => result).increment(1);
}

/// The `outcome` label of a call the conversation ended.
pub fn end_label(reason: EndReason) -> &'static str {
    match reason {
        EndReason::CallerHungUp => "caller_hung_up",
        EndReason::CallerLeft => "caller_left",
        EndReason::LockedOut => "locked_out",
        EndReason::TooManyFailures => "too_many_failures",
        EndReason::NoInput => "no_input",
        EndReason::TooManyChangeTries => "too_many_change_tries",
        EndReason::PasscodeNotSet => "passcode_not_set",
        EndReason::StoreFailed => "store_failed",
        EndReason::DriverError => "driver_error",
        EndReason::MessageLeft => "message_left",
        EndReason::MailboxFull => "mailbox_full",
        EndReason::NothingRecorded => "nothing_recorded",
    }
}

/// Whether the server takes calls; `/readyz` reads it.
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks the server as taking calls, or not.
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Relaxed);
    }

    fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Clone)]
struct HttpState {
    handle: PrometheusHandle,
    readiness: Readiness,
    store: Arc<SqliteStore>,
}

/// Binds `listen` for `/metrics`, `/healthz` and `/readyz`; the returned future serves until the runtime ends.
pub async fn bind(
    listen: SocketAddr,
    handle: PrometheusHandle,
    readiness: Readiness,
    store: Arc<SqliteStore>,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = ()>)> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let local = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(render))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(HttpState {
            handle,
            readiness,
            store,
        });
    let serve = async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the metrics listener stopped");
        }
    };
    Ok((local, serve))
}

async fn render(State(state): State<HttpState>) -> impl IntoResponse {
    // Histograms are summarised at upkeep; doing it per scrape keeps them current without a timer.
    state.handle.run_upkeep();
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.handle.render(),
    )
}

async fn ready(State(state): State<HttpState>) -> impl IntoResponse {
    if !state.readiness.get() {
        return (StatusCode::SERVICE_UNAVAILABLE, "not taking calls\n");
    }
    let store = Arc::clone(&state.store);
    let read = tokio::task::spawn_blocking(move || store.policy().is_ok());
    match tokio::time::timeout(Duration::from_secs(2), read).await {
        Ok(Ok(true)) => (StatusCode::OK, "ready\n"),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the store does not answer\n",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readyz_answers_503_until_the_server_takes_calls_and_again_once_it_stops() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let store = Arc::new(crate::data::open_store(&data, None).unwrap());
        let readiness = Readiness::default();
        let state = HttpState {
            handle: PrometheusBuilder::new().build_recorder().handle(),
            readiness: readiness.clone(),
            store,
        };
        let status =
            |state: HttpState| async move { ready(State(state)).await.into_response().status() };
        assert_eq!(status(state.clone()).await, StatusCode::SERVICE_UNAVAILABLE);
        readiness.set(true);
        assert_eq!(status(state.clone()).await, StatusCode::OK);
        readiness.set(false);
        assert_eq!(status(state).await, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn every_end_reason_has_a_label_without_digits() {
        let reasons = [
            EndReason::CallerHungUp,
            EndReason::CallerLeft,
            EndReason::LockedOut,
            EndReason::TooManyFailures,
            EndReason::NoInput,
            EndReason::TooManyChangeTries,
            EndReason::PasscodeNotSet,
            EndReason::StoreFailed,
            EndReason::DriverError,
            EndReason::MessageLeft,
            EndReason::MailboxFull,
            EndReason::NothingRecorded,
        ];
        let labels: std::collections::BTreeSet<_> = reasons.into_iter().map(end_label).collect();
        assert_eq!(labels.len(), reasons.len());
        assert!(
            labels
                .iter()
                .all(|label| !label.chars().any(|c| c.is_ascii_digit()))
        );
    }
}
