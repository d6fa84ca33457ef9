//! A bounded pool of threads for the store's blocking work (argon2 verification, SQL), so that it never runs on
//! the threads that pace RTP and a login storm queues instead of spawning without limit.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Why a job was not accepted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Every worker is busy and the queue is full; the caller should answer "try later" rather than wait.
    #[error("the store's work queue is full")]
    Full,
    /// The pool is shutting down.
    #[error("the store's work pool has stopped")]
    Stopped,
}

/// A fixed number of worker threads fed from a bounded queue.
pub struct BlockingPool {
    queue: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
}

impl BlockingPool {
    /// Starts `threads` workers (at least one) behind a queue of `queue_length` waiting jobs.
    pub fn new(threads: usize, queue_length: usize, name: &str) -> std::io::Result<BlockingPool> {
        BlockingPool::with_thread_start(threads, queue_length, name, || {})
    }

    /// Like [`BlockingPool::new`], with `on_start` run first on each worker thread (to lower its priority,
    /// say, so the heavy store work yields to threads that keep time).
    pub fn with_thread_start(
        threads: usize,
        queue_length: usize,
        name: &str,
        on_start: impl Fn() + Send + Sync + 'static,
    ) -> std::io::Result<BlockingPool> {
        let (queue, jobs) = mpsc::sync_channel::<Job>(queue_length);
        let jobs = Arc::new(Mutex::new(jobs));
        let on_start = Arc::new(on_start);
        let workers = (0..threads.max(1))
            .map(|index| {
                let jobs = Arc::clone(&jobs);
                let on_start = Arc::clone(&on_start);
                std::thread::Builder::new()
                    .name(format!("{name}-{index}"))
                    .spawn(move || {
                        on_start();
                        work(&jobs)
                    })
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(BlockingPool {
            queue: Some(queue),
            workers,
        })
    }

    /// Queues `job` without waiting; refuses it when the queue is full.
    pub fn try_submit(&self, job: impl FnOnce() + Send + 'static) -> Result<(), PoolError> {
        let queue = self.queue.as_ref().ok_or(PoolError::Stopped)?;
        queue.try_send(Box::new(job)).map_err(|error| match error {
            TrySendError::Full(_) => PoolError::Full,
            TrySendError::Disconnected(_) => PoolError::Stopped,
        })
    }

    /// Runs `job` on the pool and returns a receiver for its result (waiting for room in the queue).
    pub fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Receiver<T>, PoolError> {
        let queue = self.queue.as_ref().ok_or(PoolError::Stopped)?;
        let (result, receiver) = mpsc::sync_channel(1);
        queue
            .send(Box::new(move || {
                let _ = result.send(job());
            }))
            .map_err(|_| PoolError::Stopped)?;
        Ok(receiver)
    }

    /// How many worker threads run.
    pub fn threads(&self) -> usize {
        self.workers.len()
    }
}

fn work(jobs: &Mutex<Receiver<Job>>) {
    loop {
        // Hold the lock only to take a job, not while running it.
        let job = match jobs.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return, // the pool was dropped
        }
    }
}

impl Drop for BlockingPool {
    /// Lets queued jobs finish, then joins the workers.
    fn drop(&mut self) {
        self.queue.take();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Barrier, mpsc};
    use std::time::Duration;

    #[test]
    fn no_more_jobs_run_at_once_than_there_are_workers() {
        let pool = BlockingPool::new(3, 64, "test").unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        // The first three jobs meet at a barrier: they can only finish if three run at once.
        let together = Arc::new(Barrier::new(3));
        let results: Vec<_> = (0..24)
            .map(|i| {
                let (running, most) = (Arc::clone(&running), Arc::clone(&most));
                let together = Arc::clone(&together);
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    if i < 3 {
                        together.wait();
                    }
                    std::thread::sleep(Duration::from_millis(5));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i * 2
                })
                .unwrap()
            })
            .collect();
        let sum: usize = results.iter().map(|r| r.recv().unwrap()).sum();
        assert_eq!(sum, (0..24).map(|i| i * 2).sum::<usize>());
        assert_eq!(most.load(Ordering::SeqCst), 3, "three at once, never more");
    }

    #[test]
    fn a_full_queue_refuses_instead_of_growing() {
        let pool = BlockingPool::new(1, 1, "test").unwrap();
        let started = Arc::new(Barrier::new(2));
        let (release, wait) = mpsc::channel::<()>();
        let gate = Arc::clone(&started);
        pool.try_submit(move || {
            gate.wait();
            let _ = wait.recv();
        })
        .unwrap();
        started.wait(); // the worker is busy
        pool.try_submit(|| {}).unwrap(); // one waits in the queue
        assert_eq!(pool.try_submit(|| {}), Err(PoolError::Full));
        release.send(()).unwrap();
    }

    #[test]
    fn dropping_the_pool_finishes_queued_jobs() {
        let done = Arc::new(AtomicUsize::new(0));
        {
            let pool = BlockingPool::new(2, 16, "test").unwrap();
            for _ in 0..10 {
                let done = Arc::clone(&done);
                pool.try_submit(move || {
                    done.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            }
        }
        assert_eq!(done.load(Ordering::SeqCst), 10);
    }
}
