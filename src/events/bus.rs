//! This server's side of the event log: one follower task reads what is new and hands each
//! event to every subscriber through a broadcast channel of fixed capacity. A subscriber that
//! falls behind (a slow client, a long catch-up) loses its place in the channel, not memory: it
//! reads what it missed from the log, page by page, and joins the channel again. A subscriber
//! that resumes from a last id reads the log from there the same way, so whether an event
//! reaches a client never depends on which server it is connected to or when.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

use super::{Event, EventSignal};
use super::store::EventStore;
use crate::error::AppResult;

/// How many events the follower reads from the log at once, and a catching-up subscriber too.
const PAGE: u32 = 256;

pub struct EventBus {
    store: Arc<dyn EventStore>,
    sender: broadcast::Sender<Arc<Event>>,
    /// The newest id the follower has handed out.
    head: AtomicU64,
    /// Wakes the follower after this server appended (a write's trigger, or [`Self::publish`]).
    signal: EventSignal,
    /// True once the server is shutting down: subscriptions end.
    closing: watch::Sender<bool>,
}

/// What a subscription yields next.
#[derive(Debug, Clone)]
pub enum Delivery {
    Event(Arc<Event>),
    /// The client's last id is older than the log keeps (or one this log never gave): events
    /// after it may be gone. Delivery goes on from `from`.
    Missed { last: u64, from: u64 },
    /// The server is shutting down: end the stream, and the client reconnects (elsewhere).
    Closing,
}

/// The follower task; stopping it also closes every subscription.
pub struct BusHandle {
    bus: Arc<EventBus>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl BusHandle {
    pub async fn stop(self) {
        self.bus.close();
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "the event follower ended abnormally");
        }
    }
}

impl EventBus {
    /// A bus whose subscribers may fall `capacity` events behind before they read the log
    /// instead. Starts at the log's head: events before it are for resuming clients only.
    pub async fn new(store: Arc<dyn EventStore>, signal: EventSignal, capacity: usize) -> AppResult<Arc<Self>> {
        let head = store.head().await?;
        let (sender, _) = broadcast::channel(capacity.max(16));
        let (closing, _) = watch::channel(false);
        Ok(Arc::new(Self { store, sender, head: AtomicU64::new(head), signal, closing }))
    }

    /// Starts the follower. It reads the log when woken by this server's appends, by
    /// `wakeups` (PostgreSQL's notifications of other servers' appends) and every `poll`.
    pub fn start(self: &Arc<Self>, wakeups: Option<mpsc::Receiver<()>>, poll: Duration) -> BusHandle {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(self.clone().follow(wakeups, poll, stopped));
        BusHandle { bus: self.clone(), stop, task }
    }

    /// Appends an event that is not a row change, and wakes the follower.
    pub async fn publish(&self, topic: &str, kind: &str, subject_id: &str, payload: Option<&Value>) -> AppResult<u64> {
        let seq = self.store.append(topic, kind, subject_id, payload).await?;
        self.signal.appended();
        Ok(seq)
    }

    /// Ends every subscription (at shutdown).
    pub fn close(&self) {
        let _ = self.closing.send(true);
    }

    /// The newest id handed to subscribers.
    pub fn head(&self) -> u64 {
        self.head.load(Ordering::Acquire)
    }

    /// Events on `topics` from now on, or, with `resume`, every one after that id first.
    pub async fn subscribe(self: &Arc<Self>, topics: Vec<String>, resume: Option<u64>) -> AppResult<Subscription> {
        // Joined before the log is read: nothing committed in between can fall between the two.
        let rx = self.sender.subscribe();
        let mut sub = Subscription {
            bus: self.clone(),
            topics,
            rx,
            after: self.head(),
            backlog: VecDeque::new(),
            catching_up: false,
            missed: None,
            closing: self.closing.subscribe(),
        };
        if let Some(last) = resume {
            let (horizon, head) = (self.store.horizon().await?, self.store.head().await?);
            // An id beyond the head is not one this log gave (the database was replaced): from now.
            let from = if last > head { head } else { last.max(horizon) };
            if from != last {
                sub.missed = Some(Delivery::Missed { last, from });
            }
            sub.after = from;
            sub.catching_up = true;
        }
        Ok(sub)
    }

    async fn follow(self: Arc<Self>, mut wakeups: Option<mpsc::Receiver<()>>, poll: Duration, mut stopped: watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.read_new().await {
                tracing::warn!(error = %e, "the event log could not be read; trying again at the next poll");
            }
            let woken_by_peer = async {
                match wakeups.as_mut() {
                    Some(rx) => rx.recv().await.is_some(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stopped.changed() => return,
                _ = self.signal.woken() => {}
                open = woken_by_peer => if !open { wakeups = None },
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// Hands every event after the head to the subscribers, in order.
    async fn read_new(&self) -> AppResult<()> {
        loop {
            let events = self.store.after(self.head(), &[], PAGE).await?;
            let full = events.len() == PAGE as usize;
            for event in events {
                self.head.store(event.seq, Ordering::Release);
                // No receiver is not an error: nobody is watching.
                let _ = self.sender.send(Arc::new(event));
            }
            if !full {
                return Ok(());
            }
        }
    }
}

/// One client's view of the log: the events on its topics, in order, each once.
pub struct Subscription {
    bus: Arc<EventBus>,
    topics: Vec<String>,
    rx: broadcast::Receiver<Arc<Event>>,
    /// The id of the last event delivered (or skipped as before the start).
    after: u64,
    backlog: VecDeque<Arc<Event>>,
    /// Reading the log rather than the channel (resuming, or after falling behind).
    catching_up: bool,
    missed: Option<Delivery>,
    closing: watch::Receiver<bool>,
}

impl Subscription {
    fn wants(&self, event: &Event) -> bool {
        self.topics.is_empty() || self.topics.contains(&event.topic)
    }

    /// The id of the last event delivered.
    pub fn last_id(&self) -> u64 {
        self.after
    }

    /// The next event, waiting for it; [`Delivery::Closing`] once the server shuts down.
    pub async fn next(&mut self) -> AppResult<Delivery> {
        if let Some(missed) = self.missed.take() {
            return Ok(missed);
        }
        loop {
            if *self.closing.borrow() {
                return Ok(Delivery::Closing);
            }
            if let Some(event) = self.backlog.pop_front() {
                self.after = event.seq;
                return Ok(Delivery::Event(event));
            }
            if self.catching_up {
                let page = self.bus.store.after(self.after, &self.topics, PAGE).await?;
                self.catching_up = page.len() == PAGE as usize;
                self.backlog.extend(page.into_iter().map(Arc::new));
                continue;
            }
            tokio::select! {
                _ = self.closing.changed() => {}
                received = self.rx.recv() => match received {
                    Ok(event) if event.seq > self.after && self.wants(&event) => {
                        self.after = event.seq;
                        return Ok(Delivery::Event(event));
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => self.catching_up = true,
                    Err(broadcast::error::RecvError::Closed) => return Ok(Delivery::Closing),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::events::store::sqlite::SqliteEventStore;

    async fn bus(dir: &std::path::Path, capacity: usize) -> (Arc<EventBus>, BusHandle) {
        let db = Db::open(&dir.join("optima.db"), &crate::config::Config::default().database).unwrap();
        let bus = EventBus::new(Arc::new(SqliteEventStore::new(db)), EventSignal::new(), capacity).await.unwrap();
        let handle = bus.start(None, Duration::from_secs(60));
        (bus, handle)
    }

    async fn next_seq(sub: &mut Subscription) -> u64 {
        match tokio::time::timeout(Duration::from_secs(5), sub.next()).await.expect("an event within 5 s").unwrap() {
            Delivery::Event(e) => e.seq,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_past_the_channel_reads_the_log_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (bus, handle) = bus(dir.path(), 16).await;
        let mut sub = bus.subscribe(vec!["t".into()], None).await.unwrap();
        let mut published = Vec::new();
        for n in 0..100 {
            published.push(bus.publish(if n % 3 == 0 { "other" } else { "t" }, "k", "s", None).await.unwrap());
        }
        // Let the follower hand all of them out while the subscriber reads none.
        while bus.head() < *published.last().unwrap() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let wanted: Vec<u64> = published.iter().enumerate().filter(|(n, _)| n % 3 != 0).map(|(_, s)| *s).collect();
        let mut got = Vec::new();
        for _ in 0..wanted.len() {
            got.push(next_seq(&mut sub).await);
        }
        assert_eq!(got, wanted, "every event of its topic, in order, once");
        handle.stop().await;
        assert!(matches!(sub.next().await.unwrap(), Delivery::Closing));
    }

    #[tokio::test]
    async fn resuming_before_the_horizon_is_told_so_and_an_unknown_id_goes_on_from_now() {
        let dir = tempfile::tempdir().unwrap();
        let (bus, _handle) = bus(dir.path(), 64).await;
        let mut seqs = Vec::new();
        for _ in 0..5 {
            seqs.push(bus.publish("t", "k", "s", None).await.unwrap());
        }
        assert_eq!(bus.store.prune(Duration::from_secs(3600), 2).await.unwrap(), 3);
        let mut sub = bus.subscribe(vec!["t".into()], Some(seqs[0])).await.unwrap();
        assert!(matches!(sub.next().await.unwrap(), Delivery::Missed { last, from } if last == seqs[0] && from == seqs[2]));
        assert_eq!(next_seq(&mut sub).await, seqs[3]);
        assert_eq!(next_seq(&mut sub).await, seqs[4]);

        let mut from_the_future = bus.subscribe(vec!["t".into()], Some(seqs[4] + 1_000)).await.unwrap();
        assert!(matches!(from_the_future.next().await.unwrap(), Delivery::Missed { from, .. } if from == seqs[4]));
        let next = bus.publish("t", "k", "s", None).await.unwrap();
        assert_eq!(next_seq(&mut from_the_future).await, next);
    }
}
