//! The calling thread's scheduling priority, for threads that pace or receive 20 ms media frames and must
//! not wait behind other work of their process or machine (the portal's media thread, a load generator's
//! RTP threads). Linux: both calls below apply to the calling thread only.

/// Asks for real-time scheduling (SCHED_FIFO at `priority`, 1 the lowest, 99 the highest); granted to root
/// or with CAP_SYS_NICE. A thread that asks must sleep between its frames, or it starves its core.
#[allow(unsafe_code)]
pub fn set_this_thread_realtime(priority: i32) -> std::io::Result<()> {
    let parameter = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: `parameter` is a valid sched_param that outlives the call; the kernel only reads it.
    let result = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &parameter) };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Sets the calling thread's nice value (-20 the most favoured, 19 the least). A higher value than the
/// current one needs no privilege; a lower one needs root or CAP_SYS_NICE.
#[allow(unsafe_code)]
pub fn set_this_thread_nice(nice: i32) -> std::io::Result<()> {
    // SAFETY: setpriority takes plain integers and touches no memory of ours.
    let result = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The calling thread's nice value.
#[allow(unsafe_code)]
pub fn this_thread_nice() -> i32 {
    // SAFETY: getpriority takes plain integers and touches no memory of ours.
    unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_higher_nice_value_applies_to_the_calling_thread_only() {
        let before = this_thread_nice();
        let wanted = (before + 5).min(19);
        let on_the_thread =
            std::thread::spawn(move || set_this_thread_nice(wanted).map(|()| this_thread_nice()))
                .join()
                .unwrap();
        assert_eq!(on_the_thread.unwrap(), wanted);
        assert_eq!(
            this_thread_nice(),
            before,
            "the calling thread is untouched"
        );
    }
}
