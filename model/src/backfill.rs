//! Migrating the features table to the latest spec version from the archive, so a model of that
//! version can be served without a window in which users read as unmigrated.
//!
//! feature-updates writes the latest version's state into every item it writes, but an item
//! created before it ran holds that state only for the events since (and stays marked with its
//! old version). The backfill folds each user's archived events into it: version 2's state is
//! the newest `add_to_cart` and `purchase` times, maxima of event times, so folding them in is
//! idempotent and commutes with the writer's own updates (whatever order they land in, the
//! item ends with the newest of both).
//!
//! **When a folded item is complete.** Version 2's feature looks back 24 hours from the read
//! (`OPEN_CART_HORIZON_MS`), and a read is never before the item's newest event, so only events
//! from 24 hours before the writer started writing version 2's state matter: once the archive
//! holds every event from then until the writer started, every folded item holds version 2's
//! state in full, and is marked so, whether its user has archived events or not.
//!
//! **How.** The table is scanned (eventually consistent: half a read unit per 4 KB), and every
//! item below the latest version gets one UpdateItem setting the cart times, the version mark
//! and the item's `version` (so a writer's cached copy fails its conditional write and reads the
//! item again), conditional on the `version` scanned; a lost race reads the item again and
//! retries. Items at the latest version cost nothing but the scan. Writes are paced to a
//! write-unit budget, progress is reported as it goes, and a progress file lets a stopped run
//! go on after the last item it handled; running it again changes nothing that is migrated.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use serde::{Deserialize, Serialize};
use shared::dynamo::item_size;
use shared::events::ActivityType;
use shared::features::{FeatureItem, SpecVersion};

use crate::archive::Archive;
use crate::history::UserEvent;

/// Attempts at one user's write when the item keeps changing between read and write.
const MAX_ATTEMPTS: u32 = 5;
/// The progress file is written after this many items (and at the end).
const SAVE_EVERY: usize = 100;

/// The state version 2 adds, from a user's archived events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CartTimes {
    pub last_cart_at: Option<i64>,
    pub last_purchase_at: Option<i64>,
}

/// The newest cart and purchase times among `events`.
pub fn cart_times(events: &[UserEvent]) -> CartTimes {
    let newest = |wanted: ActivityType| {
        events
            .iter()
            .filter(|event| event.activity_type == wanted)
            .map(|event| event.at_ms)
            .max()
    };
    CartTimes {
        last_cart_at: newest(ActivityType::AddToCart),
        last_purchase_at: newest(ActivityType::Purchase),
    }
}

#[derive(Debug, Clone)]
pub struct BackfillOptions {
    pub table: String,
    /// Where the events came from (recorded in the progress file: a resume must read the same).
    pub source: String,
    /// Write units a second, on average, at most.
    pub write_units_per_second: f64,
    pub progress_file: Option<PathBuf>,
    /// Stop after this many items (a trial on part of the table; run again to go on).
    pub max_items: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("--write-units-per-second must be a number above 0; it is {0}")]
    Budget(f64),
    #[error("cannot scan {table}: {reason}")]
    Scan { table: String, reason: String },
    #[error("cannot read the progress file {path}: {reason}")]
    ReadProgress { path: String, reason: String },
    #[error("cannot write the progress file {path}: {reason}")]
    WriteProgress { path: String, reason: String },
    #[error(
        "the progress file {path} is of a backfill of {table} from {source_uri}; this one is of {this_table} from {this_source}: use another file"
    )]
    OtherRun {
        path: String,
        table: String,
        source_uri: String,
        this_table: String,
        this_source: String,
    },
}

/// Where a run is, saved as JSON so another run can go on from it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub table: String,
    pub source: String,
    /// The scan has handled every item up to this user's, in the table's scan order.
    pub done_through: Option<String>,
    /// The scan reached the end of the table.
    pub complete: bool,
    /// Users whose items failed: the next run tries them again first.
    #[serde(default)]
    pub failed_users: Vec<String>,
    #[serde(flatten)]
    pub counts: Counts,
}

/// What happened to the items, and what it cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Items of the table handled.
    pub items: usize,
    /// Items folded and marked with the latest version.
    pub migrated: usize,
    /// Of those, items whose user has events in the archive (the others are marked only: no
    /// event of theirs in the archive's span).
    pub with_archived_events: usize,
    /// Items at the latest version already: untouched.
    pub already_latest: usize,
    /// Items that could not be migrated (unreadable, or the writes kept failing).
    pub failed: usize,
    /// Capacity units as DynamoDB reported them.
    pub read_units: f64,
    pub write_units: f64,
    /// Capacity units as DynamoDB bills them by item size (the scan: half a read unit per 4 KB
    /// started of each page; a write: a unit per KB started of the larger of the item before
    /// and after): what the budget is held to when the service reports less (an emulator).
    pub billed_read_units: f64,
    pub billed_write_units: f64,
    /// Writes retried after the item changed between read and write.
    pub conflicts: usize,
}

impl Counts {
    /// What the budget counts: the larger of the reported and the billed write units.
    pub fn spent_write_units(&self) -> f64 {
        self.write_units.max(self.billed_write_units)
    }
}

/// The counts as the command's progress and summary and the demo print them.
impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} items: {} migrated ({} with archived events), {} already at the latest version, {} failed; {:.0} write units billed ({:.1} reported), {:.1} read units billed ({:.1} reported), {} conflicts retried",
            self.items,
            self.migrated,
            self.with_archived_events,
            self.already_latest,
            self.failed,
            self.billed_write_units,
            self.write_units,
            self.billed_read_units,
            self.read_units,
            self.conflicts
        )
    }
}

/// The end of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub counts: Counts,
    /// Items an earlier run handled (counted in `counts` too).
    pub resumed_after: usize,
    /// Whether the scan reached the end of the table (else `max_items` stopped it).
    pub complete: bool,
    pub elapsed: Duration,
    /// The first failures, user and reason.
    pub failures: Vec<(String, String)>,
}

enum Outcome {
    Migrated,
    AlreadyLatest,
}

/// Items a scan page asks for.
const PAGE_ITEMS: i32 = 100;

/// Scans the features table and migrates every item below [`SpecVersion::LATEST`], folding in
/// its user's events from `archive`; `report` is called with the counts so far every few
/// seconds and at the end.
pub async fn run(
    client: &aws_sdk_dynamodb::Client,
    archive: &Archive,
    options: &BackfillOptions,
    mut report: impl FnMut(&Counts),
) -> Result<Summary, BackfillError> {
    if !(options.write_units_per_second > 0.0 && options.write_units_per_second.is_finite()) {
        return Err(BackfillError::Budget(options.write_units_per_second));
    }
    let started = Instant::now();
    let mut progress = match &options.progress_file {
        Some(path) => load_progress(path, options)?,
        None => Progress::default(),
    };
    progress.table.clone_from(&options.table);
    progress.source.clone_from(&options.source);
    let resumed_after = progress.counts.items;
    let spent_before = progress.counts.spent_write_units();
    let mut failures = Vec::new();
    let mut last_report = Instant::now();
    let mut handled = 0;
    let mut since_save = 0;
    // The items that failed in an earlier run, read again.
    for user_id in std::mem::take(&mut progress.failed_users) {
        let archived = archived_cart_times(archive, &user_id);
        let counts = &mut progress.counts;
        match migrate(client, &options.table, &user_id, None, archived, counts).await {
            Ok(outcome) => {
                counts.failed -= 1;
                count(outcome, counts, archive.users.contains_key(&user_id));
            }
            Err(reason) => {
                remember_failure(&mut failures, &user_id, reason);
                progress.failed_users.push(user_id);
            }
        }
    }
    'pages: while !progress.complete {
        let start = progress
            .done_through
            .as_ref()
            .map(|user| HashMap::from([("userId".to_owned(), AttributeValue::S(user.clone()))]));
        let page = client
            .scan()
            .table_name(&options.table)
            .limit(PAGE_ITEMS)
            .set_exclusive_start_key(start)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| BackfillError::Scan {
                table: options.table.clone(),
                reason: aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string(),
            })?;
        let counts = &mut progress.counts;
        counts.read_units += page
            .consumed_capacity()
            .and_then(|c| c.capacity_units())
            .unwrap_or_default();
        let page_bytes: usize = page.items().iter().map(item_size).sum();
        counts.billed_read_units += page_bytes.div_ceil(4_096).max(1) as f64 / 2.0;
        let end_of_table = page.last_evaluated_key().is_none();
        for stored in page.items.unwrap_or_default() {
            if options.max_items.is_some_and(|max| handled >= max) {
                break 'pages;
            }
            let Some(AttributeValue::S(user_id)) = stored.get("userId").cloned() else {
                continue;
            };
            let archived = archived_cart_times(archive, &user_id);
            let counts = &mut progress.counts;
            counts.items += 1;
            handled += 1;
            match migrate(
                client,
                &options.table,
                &user_id,
                Some(stored),
                archived,
                counts,
            )
            .await
            {
                Ok(outcome) => count(outcome, counts, archive.users.contains_key(&user_id)),
                Err(reason) => {
                    counts.failed += 1;
                    remember_failure(&mut failures, &user_id, reason);
                    progress.failed_users.push(user_id.clone());
                }
            }
            progress.done_through = Some(user_id);
            // Paced: the units this run spent, over the budget, is the least time it may take.
            let owed = Duration::from_secs_f64(
                (progress.counts.spent_write_units() - spent_before)
                    / options.write_units_per_second,
            );
            if let Some(wait) = owed.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
            since_save += 1;
            if since_save >= SAVE_EVERY {
                since_save = 0;
                save_progress(options, &progress)?;
            }
            if last_report.elapsed() >= Duration::from_secs(5) {
                last_report = Instant::now();
                report(&progress.counts);
            }
        }
        // Normally the last item's key; also when a page comes back empty (a scan may stop
        // early), so the next page starts after it.
        if let Some(AttributeValue::S(last)) = page
            .last_evaluated_key
            .as_ref()
            .and_then(|key| key.get("userId"))
        {
            progress.done_through = Some(last.clone());
        }
        progress.complete = end_of_table;
    }
    save_progress(options, &progress)?;
    report(&progress.counts);
    Ok(Summary {
        counts: progress.counts,
        resumed_after,
        complete: progress.complete,
        elapsed: started.elapsed(),
        failures,
    })
}

/// The cart times of `user_id`'s archived events (none when the archive has none).
fn archived_cart_times(archive: &Archive, user_id: &str) -> CartTimes {
    archive
        .users
        .get(user_id)
        .map(|events| cart_times(events))
        .unwrap_or_default()
}

fn count(outcome: Outcome, counts: &mut Counts, with_archived_events: bool) {
    match outcome {
        Outcome::Migrated => {
            counts.migrated += 1;
            counts.with_archived_events += usize::from(with_archived_events);
        }
        Outcome::AlreadyLatest => counts.already_latest += 1,
    }
}

/// Keeps the first failures' reasons for the summary.
fn remember_failure(failures: &mut Vec<(String, String)>, user_id: &str, reason: String) {
    if failures.len() < 20 {
        failures.push((user_id.to_owned(), reason));
    }
}

/// Migrates `user_id`'s item: `stored` as the scan read it, or (`None`, and after a write
/// that lost a race) as a strongly consistent read finds it.
async fn migrate(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    user_id: &str,
    stored: Option<shared::dynamo::Item>,
    archived: CartTimes,
    counts: &mut Counts,
) -> Result<Outcome, String> {
    let key = HashMap::from([("userId".to_owned(), AttributeValue::S(user_id.to_owned()))]);
    let mut scanned = stored;
    for _ in 0..MAX_ATTEMPTS {
        let stored = match scanned.take() {
            Some(stored) => stored,
            None => {
                let read = client
                    .get_item()
                    .table_name(table)
                    .set_key(Some(key.clone()))
                    .consistent_read(true)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map_err(|e| {
                        format!(
                            "GetItem: {}",
                            aws_sdk_dynamodb::error::DisplayErrorContext(e)
                        )
                    })?;
                counts.read_units += read
                    .consumed_capacity()
                    .and_then(|c| c.capacity_units())
                    .unwrap_or_default();
                // Expired or deleted since the scan: nothing left to migrate.
                let Some(item) = read.item else {
                    return Ok(Outcome::AlreadyLatest);
                };
                counts.billed_read_units += item_size(&item).div_ceil(4_096).max(1) as f64;
                item
            }
        };
        let size_before = item_size(&stored);
        let mut item = FeatureItem::from_stored(stored)?;
        if item.held_version().map_err(|e| e.to_string())? >= SpecVersion::LATEST {
            return Ok(Outcome::AlreadyLatest);
        }
        item.merge_cart_times(archived.last_cart_at, archived.last_purchase_at);
        let size_after = serde_dynamo::to_item::<_, shared::dynamo::Item>(&item)
            .map(|after| item_size(&after))
            .unwrap_or(size_before);
        let mut set = vec!["specVersion = :latest", "version = :next"];
        let mut values = HashMap::from([
            (
                ":latest".to_owned(),
                AttributeValue::N(SpecVersion::LATEST.number().to_string()),
            ),
            (
                ":next".to_owned(),
                AttributeValue::N((item.version + 1).to_string()),
            ),
            (
                ":read".to_owned(),
                AttributeValue::N(item.version.to_string()),
            ),
        ]);
        if let Some(cart) = item.last_cart_at {
            set.push("lastCartAt = :cart");
            values.insert(":cart".to_owned(), AttributeValue::N(cart.to_string()));
        }
        if let Some(purchase) = item.last_purchase_at {
            set.push("lastPurchaseAt = :purchase");
            values.insert(
                ":purchase".to_owned(),
                AttributeValue::N(purchase.to_string()),
            );
        }
        let written = client
            .update_item()
            .table_name(table)
            .set_key(Some(key.clone()))
            .update_expression(format!("SET {}", set.join(", ")))
            .condition_expression("version = :read")
            .set_expression_attribute_values(Some(values))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match written {
            Ok(output) => {
                counts.billed_write_units += size_before.max(size_after).div_ceil(1_024) as f64;
                counts.write_units += output
                    .consumed_capacity()
                    .and_then(|c| c.capacity_units())
                    .unwrap_or_default();
                return Ok(Outcome::Migrated);
            }
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                // The writer got there between the read and this write: read it again.
                counts.conflicts += 1;
            }
            Err(error) => {
                return Err(format!(
                    "UpdateItem: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(error)
                ));
            }
        }
    }
    Err(format!(
        "the item changed between read and write {MAX_ATTEMPTS} times"
    ))
}

fn load_progress(path: &Path, options: &BackfillOptions) -> Result<Progress, BackfillError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Progress::default());
        }
        Err(error) => {
            return Err(BackfillError::ReadProgress {
                path: path.display().to_string(),
                reason: error.to_string(),
            });
        }
    };
    let progress: Progress =
        serde_json::from_str(&text).map_err(|error| BackfillError::ReadProgress {
            path: path.display().to_string(),
            reason: error.to_string(),
        })?;
    if progress.table != options.table || progress.source != options.source {
        return Err(BackfillError::OtherRun {
            path: path.display().to_string(),
            table: progress.table,
            source_uri: progress.source,
            this_table: options.table.clone(),
            this_source: options.source.clone(),
        });
    }
    Ok(progress)
}

/// Written beside and renamed over the file, so a run stopped mid-write leaves the last one.
fn save_progress(options: &BackfillOptions, progress: &Progress) -> Result<(), BackfillError> {
    let Some(path) = &options.progress_file else {
        return Ok(());
    };
    let failed = |error: std::io::Error| BackfillError::WriteProgress {
        path: path.display().to_string(),
        reason: error.to_string(),
    };
    let text = serde_json::to_string_pretty(progress).expect("progress serializes") + "\n";
    let temporary = path.with_extension("partial");
    std::fs::write(&temporary, text).map_err(failed)?;
    std::fs::rename(&temporary, path).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at_ms: i64, activity_type: ActivityType) -> UserEvent {
        UserEvent {
            at_ms,
            activity_type,
            amount: None,
        }
    }

    #[test]
    fn cart_times_are_the_newest_of_each_whatever_the_order() {
        let events = [
            event(50, ActivityType::AddToCart),
            event(10, ActivityType::Purchase),
            event(70, ActivityType::View),
            event(30, ActivityType::AddToCart),
        ];
        assert_eq!(
            cart_times(&events),
            CartTimes {
                last_cart_at: Some(50),
                last_purchase_at: Some(10)
            }
        );
        assert_eq!(cart_times(&[]), CartTimes::default());
    }
}
