//! Delivery results: one shared result per batch, one small future per record.
//!
//! Every record of a batch succeeds or fails together, so the outcome is stored once per batch
//! ([`BatchResult`]) and each record's [`DeliveryFuture`] holds a reference to it plus its index:
//! no allocation per record.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use super::RecordMetadata;
use crate::error::{Error, Result};

/// Makes the error each record of a failed batch gets (errors are not `Clone`).
pub(crate) type ErrorFactory = Arc<dyn Fn() -> Error + Send + Sync>;

#[derive(Clone)]
enum Outcome {
    /// Base offset (-1 when unknown: acks=0 or a duplicate) and the broker's LogAppendTime.
    Written {
        base_offset: i64,
        log_append_time: Option<i64>,
    },
    Failed(ErrorFactory),
    /// The batch was split (MESSAGE_TOO_LARGE): records before `at` continue in `head`, the
    /// others in `tail` at `index - at`.
    Split {
        at: u32,
        head: Arc<BatchResult>,
        tail: Arc<BatchResult>,
    },
}

/// The outcome of one batch, shared by the futures of its records.
pub(crate) struct BatchResult {
    topic: Arc<str>,
    partition: i32,
    outcome: OnceLock<Outcome>,
    wakers: Mutex<Vec<Waker>>,
}

impl fmt::Debug for BatchResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchResult")
            .field("done", &self.outcome.get().is_some())
            .finish()
    }
}

impl BatchResult {
    fn complete(&self, outcome: Outcome) {
        if self.outcome.set(outcome).is_err() {
            return; // already completed: the first outcome stands
        }
        let wakers = std::mem::take(&mut *self.wakers.lock().unwrap_or_else(|e| e.into_inner()));
        for w in wakers {
            w.wake();
        }
    }

    pub(crate) fn succeed(&self, base_offset: i64, log_append_time: Option<i64>) {
        self.complete(Outcome::Written {
            base_offset,
            log_append_time,
        });
    }

    pub(crate) fn fail(&self, error: ErrorFactory) {
        self.complete(Outcome::Failed(error));
    }

    fn split(&self, at: u32, head: Arc<BatchResult>, tail: Arc<BatchResult>) {
        self.complete(Outcome::Split { at, head, tail });
    }

    pub(crate) fn is_done(&self) -> bool {
        self.outcome.get().is_some()
    }
}

/// The producer's handle on a batch's result. Dropping it without an outcome (the producer
/// went away) fails the batch's records with [`Error::Closed`] instead of leaving them waiting.
#[derive(Debug)]
pub(crate) struct Completer(Arc<BatchResult>);

impl Completer {
    pub(crate) fn new(topic: Arc<str>, partition: i32) -> Self {
        Self(Arc::new(BatchResult {
            topic,
            partition,
            outcome: OnceLock::new(),
            wakers: Mutex::new(Vec::new()),
        }))
    }

    /// A handle for a record's future.
    pub(crate) fn result(&self) -> Arc<BatchResult> {
        self.0.clone()
    }

    pub(crate) fn succeed(&self, base_offset: i64, log_append_time: Option<i64>) {
        self.0.succeed(base_offset, log_append_time);
    }

    pub(crate) fn fail(&self, error: ErrorFactory) {
        self.0.fail(error);
    }

    /// Hands the records over to two batches: those before `at` to `head` (same index), the
    /// others to `tail` (index - `at`).
    pub(crate) fn split(&self, at: u32, head: &Completer, tail: &Completer) {
        self.0.split(at, head.0.clone(), tail.0.clone());
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        if !self.0.is_done() {
            self.0.fail(Arc::new(|| Error::Closed));
        }
    }
}

/// The outcome of one `send`; resolves when the record is acknowledged or has failed.
///
/// Dropping it does not cancel the record.
pub struct DeliveryFuture {
    pub(crate) result: Arc<BatchResult>,
    pub(crate) index: u32,
    pub(crate) timestamp: i64,
}

impl fmt::Debug for DeliveryFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeliveryFuture")
            .field("topic", &self.result.topic)
            .field("partition", &self.result.partition)
            .field("done", &self.result.is_done())
            .finish()
    }
}

impl DeliveryFuture {
    fn resolve(&self, outcome: &Outcome) -> Result<RecordMetadata> {
        match outcome {
            Outcome::Written {
                base_offset,
                log_append_time,
            } => Ok(RecordMetadata {
                topic: self.result.topic.clone(),
                partition: self.result.partition,
                offset: if *base_offset >= 0 {
                    base_offset + i64::from(self.index)
                } else {
                    -1
                },
                timestamp: log_append_time.unwrap_or(self.timestamp),
            }),
            Outcome::Failed(make) => Err(make()),
            // `poll` follows a split before it resolves.
            Outcome::Split { .. } => Err(Error::Closed),
        }
    }

    /// Follows splits to the batch that holds this record now.
    fn follow(&mut self) {
        while let Some(Outcome::Split { at, head, tail }) = self.result.outcome.get() {
            let next = if self.index < *at {
                head.clone()
            } else {
                self.index -= *at;
                tail.clone()
            };
            self.result = next;
        }
    }
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            this.follow();
            if let Some(outcome) = this.result.outcome.get() {
                return Poll::Ready(this.resolve(outcome));
            }
            {
                let mut wakers = this.result.wakers.lock().unwrap_or_else(|e| e.into_inner());
                // Check again under the lock: `complete` sets the outcome before taking the
                // wakers.
                if this.result.outcome.get().is_none() {
                    if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                        wakers.push(cx.waker().clone());
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn future(result: &Completer, index: u32) -> DeliveryFuture {
        DeliveryFuture {
            result: result.result(),
            index,
            timestamp: 100 + i64::from(index),
        }
    }

    #[tokio::test]
    async fn every_record_of_a_batch_gets_its_own_offset() {
        let result = Completer::new("t".into(), 2);
        let futures: Vec<_> = (0..3).map(|i| future(&result, i)).collect();
        let waiter = tokio::spawn(async move {
            let mut out = Vec::new();
            for f in futures {
                out.push(f.await.unwrap());
            }
            out
        });
        tokio::task::yield_now().await;
        result.succeed(40, None);
        let mds = waiter.await.unwrap();
        assert_eq!(
            mds.iter()
                .map(|m| (m.offset, m.timestamp))
                .collect::<Vec<_>>(),
            vec![(40, 100), (41, 101), (42, 102)]
        );
    }

    #[tokio::test]
    async fn a_failed_batch_fails_each_record_with_its_own_error() {
        let result = Completer::new("t".into(), 2);
        let (a, b) = (future(&result, 0), future(&result, 1));
        result.fail(Arc::new(|| Error::TransactionAbortable {
            message: "aborted".to_owned(),
            code: None,
        }));
        assert!(a.await.unwrap_err().is_abortable());
        assert!(b.await.unwrap_err().is_abortable());
        result.succeed(1, None);
        assert!(
            future(&result, 0).await.is_err(),
            "the first outcome stands"
        );
    }

    #[tokio::test]
    async fn a_batch_dropped_without_outcome_reports_closed() {
        let result = Completer::new("t".into(), 2);
        let f = future(&result, 0);
        drop(result);
        assert!(matches!(f.await, Err(Error::Closed)));
    }

    #[tokio::test]
    async fn records_of_a_split_batch_follow_their_half() {
        let whole = Completer::new("t".into(), 2);
        let futures: Vec<_> = (0..5).map(|i| future(&whole, i)).collect();
        let (head, tail) = (Completer::new("t".into(), 2), Completer::new("t".into(), 2));
        whole.split(2, &head, &tail);
        drop(whole);
        // The tail splits again before anything is written.
        let (tail_head, tail_tail) = (Completer::new("t".into(), 2), Completer::new("t".into(), 2));
        tail.split(1, &tail_head, &tail_tail);
        head.succeed(10, None);
        tail_head.succeed(20, None);
        tail_tail.fail(Arc::new(|| Error::Closed));
        let mut out = Vec::new();
        for f in futures {
            out.push(f.await.map(|m| (m.offset, m.timestamp)).ok());
        }
        assert_eq!(
            out,
            vec![
                Some((10, 100)),
                Some((11, 101)),
                Some((20, 102)),
                None,
                None
            ]
        );
    }
}
