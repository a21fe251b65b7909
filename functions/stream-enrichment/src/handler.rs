//! stream-enrichment as a consumer of the keyed-state core ([`shared::keyed_state`]), which
//! decodes each batch, keeps the users' aggregates exactly once and answers Kinesis:
//!
//! - the context of a user is its profile: from the warm cache, else read (eventually
//!   consistent: profiles may lag) while the core reads the states;
//! - applying a record counts it in the user's aggregates and places it in a session
//!   ([`crate::state`]), and gives the enriched record;
//! - the enriched records are put on the enriched stream before the states are written, so a
//!   state never says a record was applied before its enriched record exists. A retry either
//!   finds the state unchanged and emits the same records again (identical: downstream
//!   consumers keep them once by `eventId`), or finds them applied and skips them;
//! - a conditional write that loses a race reports the user's records for retry
//!   ([`ConflictPolicy::RetryRecords`]): the records already emitted came from the state that
//!   lost.

use std::sync::Mutex;

use shared::delivery::{Backoff, deliver};
use shared::enriched::{EnrichedEvent, ProfileAttributes};
use shared::keyed_state::{
    self, ConflictPolicy, Consumer, ContextRead, Emitted, Incoming, Outcome, ReportMetrics, Stats,
    StreamCore,
};
use shared::metrics::Invocation;
use shared::sinks::{self, StreamRecord};
use tokio::time::Instant;

use crate::config::Config;
use crate::profile_cache::ProfileCache;
use crate::state::UserState;
use crate::store::ProfileStore;

/// The function's name on the rejects it sends.
pub const REJECTED_BY: &str = "stream-enrichment";

/// The metric (EMF, namespace `RealtimePipeline`) of the records enriched in a batch, beside the
/// ones every consumer of the core records ([`shared::keyed_state::report`]).
pub const EVENTS_ENRICHED: &str = "EventsEnriched";

/// The core running stream-enrichment.
pub type Enricher = StreamCore<Enrichment>;
/// What one batch did.
pub type BatchReport = keyed_state::BatchReport<EnrichmentStats>;

/// stream-enrichment's own counts in a batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnrichmentStats {
    pub profile_cache_hits: usize,
    /// Users without a profile (or whose profile does not parse): enriched as `unknown`.
    pub profiles_unknown: usize,
    pub kinesis_calls: usize,
}

impl Stats for EnrichmentStats {
    fn add(&mut self, other: &Self) {
        self.profile_cache_hits += other.profile_cache_hits;
        self.profiles_unknown += other.profiles_unknown;
        self.kinesis_calls += other.kinesis_calls;
    }

    fn log(&self) {
        tracing::info!(
            profile_cache_hits = self.profile_cache_hits,
            profiles_unknown = self.profiles_unknown,
            kinesis_calls = self.kinesis_calls,
            "enrichment done"
        );
    }
}

impl ReportMetrics for EnrichmentStats {
    fn record(report: &BatchReport, invocation: &Invocation) {
        invocation.count(EVENTS_ENRICHED, report.applied as u64);
    }
}

/// Applies a new `record` to its user's `state` and gives its enriched record: the event, the
/// user's profile and the event's place in its session. Pure.
pub fn enrich(
    state: &mut UserState,
    record: &Incoming,
    profile: &ProfileAttributes,
) -> StreamRecord {
    let session = state.apply(&record.event);
    let data = serde_json::to_vec(&EnrichedEvent {
        event: record.event.clone(),
        profile: profile.clone(),
        session,
    })
    .expect("enriched events serialize");
    StreamRecord {
        origin: state.user_id.clone(),
        partition_key: state.user_id.clone(),
        data,
    }
}

/// What stream-enrichment gives the core.
pub struct Enrichment {
    profiles: ProfileStore,
    cache: Mutex<ProfileCache>,
    kinesis: aws_sdk_kinesis::Client,
    enriched_stream: String,
    backoff: Backoff,
}

/// stream-enrichment, ready for batches.
pub fn enricher(
    dynamodb: aws_sdk_dynamodb::Client,
    kinesis: aws_sdk_kinesis::Client,
    sqs: aws_sdk_sqs::Client,
    config: &Config,
) -> Enricher {
    let enrichment = Enrichment {
        profiles: ProfileStore::new(dynamodb.clone(), config.profiles_table.clone()),
        cache: Mutex::new(ProfileCache::new(
            config.profile_cache_size,
            config.profile_cache_ttl,
        )),
        kinesis,
        enriched_stream: config.enriched_stream.clone(),
        backoff: Backoff::default(),
    };
    StreamCore::new(enrichment, dynamodb, sqs, config.core.clone())
}

impl Consumer for Enrichment {
    type State = UserState;
    type Context = ProfileAttributes;
    type Output = StreamRecord;
    type Stats = EnrichmentStats;

    const NAME: &'static str = REJECTED_BY;

    fn conflict_policy(&self) -> ConflictPolicy {
        ConflictPolicy::RetryRecords
    }

    async fn read_context(
        &self,
        users: Vec<String>,
        deadline: Instant,
    ) -> ContextRead<ProfileAttributes, EnrichmentStats> {
        let started = Instant::now();
        let mut stats = EnrichmentStats::default();
        let mut contexts = std::collections::HashMap::new();
        let mut misses = Vec::new();
        {
            let mut cache = self.cache.lock().expect("profile cache lock");
            for user_id in users {
                match cache.get(&user_id, started) {
                    Some(profile) => {
                        stats.profile_cache_hits += 1;
                        contexts.insert(user_id, profile);
                    }
                    None => misses.push(user_id),
                }
            }
        }
        let read = self.profiles.read(&misses, deadline).await;
        {
            let mut cache = self.cache.lock().expect("profile cache lock");
            for (user_id, profile) in &read.profiles {
                cache.insert(user_id, profile.clone(), started);
            }
        }
        contexts.extend(read.profiles);
        stats.profiles_unknown = contexts.values().filter(|profile| !profile.found).count();
        ContextRead {
            contexts,
            unread: read.unread,
            calls: read.calls,
            read_units: read.capacity_units,
            billed_read_units: read.billed_units,
            stats,
        }
    }

    fn apply(
        &self,
        state: &mut UserState,
        record: &Incoming,
        profile: &ProfileAttributes,
    ) -> Outcome<StreamRecord> {
        Outcome::Applied(enrich(state, record, profile))
    }

    async fn emit(
        &self,
        outputs: Vec<StreamRecord>,
        deadline: Instant,
    ) -> Emitted<EnrichmentStats> {
        let emitted = deliver(outputs, deadline, self.backoff, |batch| {
            sinks::put_records(&self.kinesis, &self.enriched_stream, batch)
        })
        .await;
        let mut failed: Vec<(String, String)> = Vec::new();
        for (record, reason) in emitted.failed {
            if !failed.iter().any(|(user_id, _)| *user_id == record.origin) {
                failed.push((
                    record.origin,
                    format!("enriched record not written: {reason}"),
                ));
            }
        }
        Emitted {
            failed,
            calls: emitted.calls,
            stats: EnrichmentStats {
                kinesis_calls: emitted.calls,
                ..EnrichmentStats::default()
            },
        }
    }
}
