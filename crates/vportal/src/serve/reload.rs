//! Reloading the configuration while calls go on (SIGHUP).
//!
//! What a reload changes, for new calls and new requests: the `[timers]`, `[sip]`'s `voicemail_pilots` and
//! `answer_after_ms`, the networks in `allow`, `identify_from` and `trusted`, and the INVITE rate limit. Calls
//! in progress keep the timers they started with and their dialogs, even when their network is no longer
//! allowed. A file that does not parse or whose networks do not read is refused whole, and the settings in
//! force stay. Everything else (addresses, ports, prompts, threads, TCP caps, email, logs, metrics) takes
//! effect at the next start; a reload that changes one of those says so in the log.

use std::sync::Arc;

use super::{ServeSettings, Signalling, session_config};
use crate::telemetry;

impl Signalling {
    /// Applies the reloadable parts of `settings`.
    pub(super) fn reload(&mut self, settings: ServeSettings) {
        let access = match settings.sip.access_policy() {
            Ok(access) => access,
            Err(error) => {
                tracing::error!(%error, "configuration reload refused; the settings in force stay");
                metrics::counter!(telemetry::RELOADS, "result" => "refused").increment(1);
                return;
            }
        };
        let at_next_start = needs_restart(&self.settings, &settings);
        if !at_next_start.is_empty() {
            tracing::warn!(
                sections = ?at_next_start,
                "these settings changed and take effect at the next start"
            );
        }
        self.endpoint.set_access_policy(access);
        let prompts = match self.shared.session.read() {
            Ok(current) => Arc::clone(&current.prompts),
            Err(poisoned) => Arc::clone(&poisoned.into_inner().prompts),
        };
        let session = Arc::new(session_config(&settings, prompts));
        match self.shared.session.write() {
            Ok(mut current) => *current = session,
            Err(poisoned) => *poisoned.into_inner() = session,
        }
        let sip = &mut self.settings.sip;
        sip.voicemail_pilots = settings.sip.voicemail_pilots;
        sip.answer_after_ms = settings.sip.answer_after_ms;
        sip.allow = settings.sip.allow;
        sip.identify_from = settings.sip.identify_from;
        sip.trusted = settings.sip.trusted;
        sip.invite_rate_per_second = settings.sip.invite_rate_per_second;
        sip.invite_burst = settings.sip.invite_burst;
        self.settings.timers = settings.timers;
        metrics::counter!(telemetry::RELOADS, "result" => "applied").increment(1);
        tracing::info!("configuration reloaded: timers, pilots, networks and rate limits");
    }
}

/// The settings that differ between `running` and `loaded` but are not reloaded, by name.
pub fn needs_restart(running: &ServeSettings, loaded: &ServeSettings) -> Vec<&'static str> {
    let (old, new) = (&running.sip, &loaded.sip);
    [
        ("[sip] listen", old.listen != new.listen),
        ("[sip] t1_ms", old.t1_ms != new.t1_ms),
        (
            "[sip] tcp_*",
            (
                old.tcp_idle_timeout_s,
                old.tcp_max_connections,
                old.tcp_max_connections_per_source,
            ) != (
                new.tcp_idle_timeout_s,
                new.tcp_max_connections,
                new.tcp_max_connections_per_source,
            ),
        ),
        ("[rtp]", running.rtp != loaded.rtp),
        ("[media]", running.media != loaded.media),
        ("[messages]", running.messages != loaded.messages),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_settings_that_are_not_reloaded_need_a_restart() {
        let running = ServeSettings::default();
        let mut loaded = running.clone();
        loaded.timers.first_digit_ms = 1;
        loaded.sip.allow = vec!["10.0.0.0/8".into()];
        loaded.sip.invite_rate_per_second = 1.0;
        assert!(needs_restart(&running, &loaded).is_empty());
        loaded.sip.listen = "127.0.0.1:5070".parse().unwrap();
        loaded.rtp.port_min = 20_000;
        assert_eq!(needs_restart(&running, &loaded), ["[sip] listen", "[rtp]"]);
    }
}
