//! One bounded queue for generation work (music, images, remote AI calls): at most `workers`
//! jobs run at once, at most `capacity` wait, and priority jobs (the Unlimited tier's "priority
//! processing") wait ahead of standard ones, first come first served within each. A full queue
//! refuses at once with 503 and Retry-After instead of piling up memory and CPU.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::error::{AppError, AppResult};
use crate::plans::Tier;

pub const QUEUE_WAITING: &str = "optima_generation_queue_waiting";
pub const QUEUE_RUNNING: &str = "optima_generation_queue_running";
pub const QUEUE_WAIT: &str = "optima_generation_queue_wait_seconds";
pub const QUEUE_REFUSED: &str = "optima_generation_queue_refused_total";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    Standard,
    High,
}

impl Priority {
    pub fn of(tier: Tier) -> Self {
        if tier == Tier::Unlimited { Priority::High } else { Priority::Standard }
    }

    fn as_str(self) -> &'static str {
        match self {
            Priority::Standard => "standard",
            Priority::High => "high",
        }
    }
}

struct Waiter {
    priority: Priority,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl Ord for Waiter {
    fn cmp(&self, other: &Self) -> Ordering {
        // The heap pops its greatest: higher priority first, then the earlier arrival.
        self.priority.cmp(&other.priority).then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}

impl Eq for Waiter {}

#[derive(Default)]
struct State {
    running: usize,
    waiting: BinaryHeap<Waiter>,
    next_seq: u64,
}

pub struct WorkQueue {
    workers: usize,
    capacity: usize,
    state: Mutex<State>,
}

/// A running slot; the next waiter gets it when this is dropped.
struct Slot<'a>(&'a WorkQueue);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// A place in the line. Dropped before its turn (the client went away), it leaves the line;
/// dropped just after being handed a slot, it gives the slot on.
struct Place<'a> {
    queue: &'a WorkQueue,
    seq: u64,
    turn: oneshot::Receiver<()>,
    served: bool,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        if self.served {
            return;
        }
        let mut state = self.queue.lock();
        let before = state.waiting.len();
        state.waiting.retain(|w| w.seq != self.seq);
        let left_the_line = state.waiting.len() < before;
        self.queue.publish(&state);
        drop(state);
        if !left_the_line && self.turn.try_recv().is_ok() {
            self.queue.release();
        }
    }
}

impl WorkQueue {
    /// `workers` = 0 means one per CPU core.
    pub fn new(workers: usize, capacity: usize) -> Self {
        let workers = if workers == 0 { std::thread::available_parallelism().map_or(2, |n| n.get()) } else { workers };
        Self { workers, capacity, state: Mutex::new(State::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn publish(&self, state: &State) {
        metrics::gauge!(QUEUE_WAITING).set(state.waiting.len() as f64);
        metrics::gauge!(QUEUE_RUNNING).set(state.running as f64);
    }

    /// Jobs waiting for a worker now.
    pub fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        self.lock().running
    }

    /// Runs `job` when a worker is free. `kind` labels the wait-time metric.
    pub async fn run<F: Future>(&self, kind: &'static str, priority: Priority, job: F) -> AppResult<F::Output> {
        let queued_at = Instant::now();
        let _slot = self.admit(priority).await?;
        metrics::histogram!(QUEUE_WAIT, "kind" => kind, "priority" => priority.as_str()).record(queued_at.elapsed().as_secs_f64());
        Ok(job.await)
    }

    async fn admit(&self, priority: Priority) -> AppResult<Slot<'_>> {
        let mut place = {
            let mut state = self.lock();
            if state.running < self.workers && state.waiting.is_empty() {
                state.running += 1;
                self.publish(&state);
                return Ok(Slot(self));
            }
            if state.waiting.len() >= self.capacity {
                metrics::counter!(QUEUE_REFUSED, "priority" => priority.as_str()).increment(1);
                return Err(self.full(state.waiting.len()));
            }
            let (wake, turn) = oneshot::channel();
            let seq = state.next_seq;
            state.next_seq += 1;
            state.waiting.push(Waiter { priority, seq, wake });
            self.publish(&state);
            Place { queue: self, seq, turn, served: false }
        };
        // The sender lives in the line until it is used, so this ends only with a turn.
        let _ = (&mut place.turn).await;
        place.served = true;
        Ok(Slot(self))
    }

    /// Hands a finished job's worker to the next waiter still there, or frees it.
    fn release(&self) {
        let mut state = self.lock();
        while let Some(next) = state.waiting.pop() {
            if next.wake.send(()).is_ok() {
                self.publish(&state);
                return;
            }
        }
        state.running -= 1;
        self.publish(&state);
    }

    fn full(&self, waiting: usize) -> AppError {
        AppError::Unavailable {
            code: "generation_busy",
            message: format!(
                "the generation queue is full ({waiting} jobs waiting for {} workers); retry shortly",
                self.workers
            ),
            retry_after_secs: Some(Self::RETRY_AFTER.as_secs()),
        }
    }

    const RETRY_AFTER: Duration = Duration::from_secs(5);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// Waits until `n` jobs are queued (they are spawned tasks).
    async fn until_waiting(q: &WorkQueue, n: usize) {
        while q.waiting() != n {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn priority_jobs_go_first_then_arrival_order() {
        let q = Arc::new(WorkQueue::new(1, 10));
        let order = Arc::new(Mutex::new(Vec::new()));
        let (release_first, hold) = oneshot::channel::<()>();
        let first = tokio::spawn({
            let q = q.clone();
            async move { q.run("test", Priority::Standard, async { hold.await.unwrap() }).await.unwrap() }
        });
        while q.running() == 0 {
            tokio::task::yield_now().await;
        }
        let mut jobs = Vec::new();
        for (i, (name, priority)) in
            [("s1", Priority::Standard), ("s2", Priority::Standard), ("h1", Priority::High), ("s3", Priority::Standard), ("h2", Priority::High)]
                .into_iter()
                .enumerate()
        {
            let (job_q, order) = (q.clone(), order.clone());
            jobs.push(tokio::spawn(async move {
                job_q.run("test", priority, async { order.lock().unwrap().push(name) }).await.unwrap()
            }));
            until_waiting(&q, i + 1).await;
        }
        release_first.send(()).unwrap();
        first.await.unwrap();
        for job in jobs {
            job.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["h1", "h2", "s1", "s2", "s3"]);
        assert_eq!((q.running(), q.waiting()), (0, 0));
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_with_retry_after() {
        let q = Arc::new(WorkQueue::new(1, 1));
        let (release, hold) = oneshot::channel::<()>();
        let running = tokio::spawn({
            let q = q.clone();
            async move { q.run("test", Priority::High, async { hold.await.unwrap() }).await.unwrap() }
        });
        while q.running() == 0 {
            tokio::task::yield_now().await;
        }
        let waiting = tokio::spawn({
            let q = q.clone();
            async move { q.run("test", Priority::Standard, async { 7 }).await.unwrap() }
        });
        until_waiting(&q, 1).await;
        let refused = q.run("test", Priority::High, async {}).await.unwrap_err();
        assert_eq!(refused.status(), 503);
        assert_eq!(refused.code(), "generation_busy");
        assert_eq!(refused.retry_after_secs(), Some(5));
        release.send(()).unwrap();
        running.await.unwrap();
        assert_eq!(waiting.await.unwrap(), 7);
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_leaves_the_line_and_the_slot_is_not_lost() {
        let q = Arc::new(WorkQueue::new(1, 4));
        let (release, hold) = oneshot::channel::<()>();
        let running = tokio::spawn({
            let q = q.clone();
            async move { q.run("test", Priority::Standard, async { hold.await.unwrap() }).await.unwrap() }
        });
        while q.running() == 0 {
            tokio::task::yield_now().await;
        }
        let abandoned = tokio::spawn({
            let q = q.clone();
            async move { q.run("test", Priority::Standard, async {}).await }
        });
        until_waiting(&q, 1).await;
        abandoned.abort();
        let _ = abandoned.await;
        assert_eq!(q.waiting(), 0);
        release.send(()).unwrap();
        running.await.unwrap();
        assert_eq!(q.running(), 0);
        q.run("test", Priority::Standard, async {}).await.expect("the worker is free again");
    }
}
