//! Thread priorities: store work (argon2 at its full cost) must not delay the media thread's 20 ms frames.
//!
//! The store's worker threads lower their own scheduling priority (nice 10), which needs no privilege. When
//! both cores are busy verifying passcodes, the scheduler then gives the media thread and the signalling
//! runtime about nine tenths of the time they ask for; on an otherwise idle machine argon2 runs at full speed.
//! The media thread also asks for real-time scheduling (SCHED_FIFO at a low real-time priority), which the
//! system grants to root or with CAP_SYS_NICE: then even other busy programs on the machine (a load generator,
//! say) cannot hold its frames back. It sleeps between its 1 ms slots, so it cannot starve the machine. Without
//! the privilege it tries nice -10, and failing that runs at the normal priority.

use portal_media::thread_priority::{set_this_thread_nice, set_this_thread_realtime};

/// The nice value store threads take.
pub(crate) const STORE_NICE: i32 = 10;
/// The nice value the media thread asks for.
pub(crate) const MEDIA_NICE: i32 = -10;

/// The SCHED_FIFO priority the media thread asks for (1 is the lowest real-time priority, 99 the highest).
pub(crate) const MEDIA_REALTIME_PRIORITY: i32 = 10;

/// Raises the calling (media) thread's priority: real-time when allowed, else [`MEDIA_NICE`], else nothing.
pub(crate) fn hurry_media() {
    match set_this_thread_realtime(MEDIA_REALTIME_PRIORITY) {
        Ok(()) => tracing::debug!("media thread runs at real-time priority"),
        Err(error) => match set_this_thread_nice(MEDIA_NICE) {
            Ok(()) => tracing::debug!(%error, nice = MEDIA_NICE, "media thread priority raised"),
            Err(error) => tracing::debug!(%error, "media thread keeps the normal priority"),
        },
    }
}

/// Lowers the calling thread's priority to [`STORE_NICE`]. Failure (some sandboxes forbid it) is logged and
/// otherwise harmless.
pub(crate) fn yield_to_media() {
    if let Err(error) = set_this_thread_nice(STORE_NICE) {
        tracing::warn!(%error, "could not lower the store thread's priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_media::thread_priority::this_thread_nice;

    #[test]
    fn a_store_thread_lowers_its_own_priority_and_no_other() {
        let before = this_thread_nice();
        let on_the_thread = std::thread::spawn(|| {
            yield_to_media();
            this_thread_nice()
        })
        .join()
        .unwrap();
        assert_eq!(on_the_thread, STORE_NICE.max(before));
        assert_eq!(
            this_thread_nice(),
            before,
            "the calling thread is untouched"
        );
    }

    #[allow(unsafe_code)]
    fn this_thread_policy() -> i32 {
        // SAFETY: takes a plain integer and touches no memory of ours.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[test]
    fn the_media_thread_raises_its_priority_when_allowed_and_runs_on_when_not() {
        let (policy_before, nice_before) = (this_thread_policy(), this_thread_nice());
        let (policy, nice) = std::thread::spawn(|| {
            hurry_media();
            (this_thread_policy(), this_thread_nice())
        })
        .join()
        .unwrap();
        // Raising needs privilege: real-time, or nice -10, or untouched.
        assert!(
            policy == libc::SCHED_FIFO
                || (policy == policy_before && (nice == MEDIA_NICE || nice == nice_before)),
            "policy {policy}, nice {nice}"
        );
        assert_eq!(
            this_thread_policy(),
            policy_before,
            "the calling thread is untouched"
        );
        assert_eq!(this_thread_nice(), nice_before);
    }
}
