//! Store upkeep on a schedule while the server runs: the strict message-expiry sweep (the organization's
//! deletion policy; in permissive mode and with expiry off the sweep deletes nothing). It runs on the lookup
//! pool, never on a call's or the media's thread, once at start and then every [`SWEEP_INTERVAL`].

use std::sync::Arc;
use std::time::Duration;

use portal_store::{AccountStore, Moment};

use super::Shared;
use super::call::on_pool;
use crate::telemetry;

/// How often expired messages are swept. Expiry is counted in days, so an hour late is on time.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(3600);

/// Sweeps expired messages now and every [`SWEEP_INTERVAL`], until the runtime ends.
pub(crate) async fn sweep_messages(shared: Arc<Shared>) {
    let mut every = tokio::time::interval(SWEEP_INTERVAL);
    loop {
        every.tick().await;
        let store = Arc::clone(&shared.store);
        let swept = on_pool(&shared.lookup_pool, "lookup", move || {
            store.sweep_expired(Moment::now_utc())
        })
        .await;
        match swept {
            Some(Ok(0)) | None => {}
            Some(Ok(deleted)) => {
                metrics::counter!(telemetry::MESSAGES_EXPIRED).increment(deleted as u64);
                tracing::info!(deleted, "expired messages deleted (strict deletion policy)");
            }
            Some(Err(error)) => tracing::error!(%error, "the message expiry sweep failed"),
        }
    }
}
