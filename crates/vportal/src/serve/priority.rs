//! Thread priorities: store work (argon2 at its full cost) must not delay the media thread's 20 ms frames.
//!
//! The store's worker threads lower their own scheduling priority (nice 10), which needs no privilege. When
//! both cores are busy verifying passcodes, the scheduler then gives the media thread and the signalling
//! runtime about nine tenths of the time they ask for; on an otherwise idle machine argon2 runs at full speed.

/// The nice value store threads take.
pub(crate) const STORE_NICE: i32 = 10;

/// Lowers the calling thread's priority to [`STORE_NICE`]. Failure (some sandboxes forbid it) is logged and
/// otherwise harmless.
pub(crate) fn yield_to_media() {
    if let Err(error) = set_this_thread_nice(STORE_NICE) {
        tracing::warn!(%error, "could not lower the store thread's priority");
    }
}

/// On Linux, `setpriority(PRIO_PROCESS, 0, ...)` applies to the calling thread only.
#[allow(unsafe_code)]
fn set_this_thread_nice(nice: i32) -> std::io::Result<()> {
    // SAFETY: setpriority takes plain integers and touches no memory of ours.
    let result = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The calling thread's nice value (for tests).
#[cfg(test)]
#[allow(unsafe_code)]
fn this_thread_nice() -> i32 {
    // SAFETY: getpriority takes plain integers and touches no memory of ours.
    unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
