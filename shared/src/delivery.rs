//! Sending entries with retries: only the entries that failed transiently are sent again, with
//! jittered exponential backoff, while the invocation has time; what still fails is handed back,
//! so the caller reports exactly the records it came from for redelivery.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// Why one entry was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Throttling, a timeout, a 5xx: may succeed if sent again.
    Transient(String),
    /// Will fail again (no such stream, access denied, invalid entry).
    Permanent(String),
}

/// Backoff between attempts: `first`, doubled each time up to `max`, with full jitter.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The pause before try `attempt + 1` (after `attempt` failed tries, from 1): a random
    /// share of `first` doubled per failed try, at most `max`.
    pub fn pause(&self, attempt: u32) -> Duration {
        let ceiling = self
            .first
            .saturating_mul(1 << attempt.saturating_sub(1).min(20))
            .min(self.max);
        ceiling.mul_f64(rand::random::<f64>())
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            first: Duration::from_millis(50),
            max: Duration::from_secs(2),
        }
    }
}

/// The outcome of delivering a set of entries.
#[derive(Debug)]
pub struct Delivery<E> {
    /// Entries that were never accepted, with the last reason.
    pub failed: Vec<(E, String)>,
    /// How many of `failed` failed permanently (sending them again cannot help), rather than
    /// still failing transiently at the deadline.
    pub permanent: usize,
    /// Entries sent again after a transient failure (counted per resend).
    pub retried: usize,
    /// Calls made to the service.
    pub calls: usize,
}

/// Sends `entries` with `send` (one call per chunk the caller chooses inside), resending the
/// transient failures until they succeed or `deadline` leaves no room for another backoff.
pub async fn deliver<E, F, Fut>(
    entries: Vec<E>,
    deadline: Instant,
    backoff: Backoff,
    mut send: F,
) -> Delivery<E>
where
    E: Clone,
    F: FnMut(Vec<E>) -> Fut,
    Fut: Future<Output = (Vec<(E, Failure)>, usize)>,
{
    let mut delivery = Delivery {
        failed: Vec::new(),
        permanent: 0,
        retried: 0,
        calls: 0,
    };
    let mut pending = entries;
    let mut attempt = 0;
    while !pending.is_empty() {
        // A call still running at the deadline is abandoned: its entries count as failed, so
        // the invocation answers in time instead of being killed with nothing reported.
        let sent = pending.clone();
        let Ok((failures, calls)) = tokio::time::timeout_at(deadline, send(pending)).await else {
            delivery.calls += 1;
            delivery.failed.extend(sent.into_iter().map(|entry| {
                (
                    entry,
                    "no answer before the invocation's deadline".to_owned(),
                )
            }));
            break;
        };
        delivery.calls += calls;
        let mut transient = Vec::new();
        for (entry, failure) in failures {
            match failure {
                Failure::Transient(reason) => transient.push((entry, reason)),
                Failure::Permanent(reason) => {
                    delivery.permanent += 1;
                    delivery.failed.push((entry, reason));
                }
            }
        }
        if transient.is_empty() {
            break;
        }
        attempt += 1;
        let pause = backoff.pause(attempt);
        if Instant::now() + pause >= deadline {
            delivery.failed.extend(transient);
            break;
        }
        tokio::time::sleep(pause).await;
        delivery.retried += transient.len();
        pending = transient.into_iter().map(|(entry, _)| entry).collect();
    }
    delivery
}

/// Splits `entries` into chunks of at most `max_entries` entries and `max_bytes` bytes.
pub fn chunks<E>(
    entries: Vec<E>,
    max_entries: usize,
    max_bytes: usize,
    size: impl Fn(&E) -> usize,
) -> Vec<Vec<E>> {
    let mut chunks = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for entry in entries {
        let entry_bytes = size(&entry);
        if !current.is_empty() && (current.len() == max_entries || bytes + entry_bytes > max_bytes)
        {
            chunks.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += entry_bytes;
        current.push(entry);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_call_still_running_at_the_deadline_fails_its_entries() {
        let delivery = deliver(
            vec![1, 2],
            Instant::now() + Duration::from_secs(5),
            Backoff::default(),
            |_batch: Vec<i32>| async {
                tokio::time::sleep(Duration::from_secs(15)).await;
                (Vec::new(), 1)
            },
        )
        .await;
        let failed: Vec<i32> = delivery.failed.iter().map(|(n, _)| *n).collect();
        assert_eq!(failed, [1, 2]);
        assert!(delivery.failed[0].1.contains("deadline"));
    }

    #[test]
    fn chunks_respect_count_and_bytes() {
        let sizes: Vec<usize> = (0..1001).map(|_| 1).collect();
        let counted = chunks(sizes, 500, usize::MAX, |s| *s);
        assert_eq!(
            counted.iter().map(Vec::len).collect::<Vec<_>>(),
            [500, 500, 1]
        );
        let weighed = chunks(vec![6, 5, 5, 1], 500, 10, |s| *s);
        assert_eq!(weighed, [vec![6], vec![5, 5], vec![1]]);
    }

    #[tokio::test(start_paused = true)]
    async fn only_transient_failures_are_resent_until_they_pass() {
        let sent = RefCell::new(Vec::new());
        let delivery = deliver(
            vec![1, 2, 3, 4],
            Instant::now() + Duration::from_secs(10),
            Backoff::default(),
            |batch: Vec<i32>| {
                sent.borrow_mut().push(batch.clone());
                let round = sent.borrow().len();
                async move {
                    let failures = batch
                        .into_iter()
                        .filter_map(|n| match (n, round) {
                            (2, _) => Some((n, Failure::Permanent("no such stream".into()))),
                            (3, 1) | (3, 2) => Some((n, Failure::Transient("throttled".into()))),
                            _ => None,
                        })
                        .collect();
                    (failures, 1)
                }
            },
        )
        .await;
        assert_eq!(*sent.borrow(), [vec![1, 2, 3, 4], vec![3], vec![3]]);
        assert_eq!(delivery.failed, [(2, "no such stream".to_owned())]);
        assert_eq!(delivery.permanent, 1);
        assert_eq!((delivery.retried, delivery.calls), (2, 3));
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_past_the_deadline_are_reported() {
        let delivery = deliver(
            vec![1],
            Instant::now() + Duration::from_millis(1),
            Backoff {
                first: Duration::from_secs(1),
                max: Duration::from_secs(1),
            },
            |batch: Vec<i32>| async move {
                (
                    batch
                        .into_iter()
                        .map(|n| (n, Failure::Transient("throttled".into())))
                        .collect(),
                    1,
                )
            },
        )
        .await;
        // With jitter the first pause may be tiny; either way the entry ends failed.
        assert_eq!(delivery.failed.len(), 1);
        assert_eq!(delivery.failed[0].1, "throttled");
        assert_eq!(delivery.permanent, 0, "still transient at the deadline");
    }
}
