//! The training part of the demo: the stack's own events become a model that serves, through
//! the rollout of feature spec version 2 as docs/operations.md describes it.
//!
//! 1. **History.** Simulated users' activity over the last `days` days (the simulation of
//!    model/src/simulate.rs, stamped with real times) goes to the event bus, and through the
//!    pipeline into the feature store and, by the emulated Firehose, the archive.
//! 2. **Items of the previous release.** The demo rewrites those users' items as the release
//!    before version 2 left them (marked version 1, no cart times), then publishes a live tail
//!    (a cart for some users): the running writer keeps such items at version 1 and keeps
//!    their cart times from then on.
//! 3. **Backfill.** A version-2 read refuses every rewritten item; `feature-backfill`'s code
//!    folds the archive into them, after which every user of the archive reads, at version 2,
//!    exactly what the spec code computes from the archived events at the same time (train/serve
//!    parity against the stack).
//! 4. **Training.** A version-2 model is trained on the archive, split in time, and its
//!    held-out AUC is set beside the checked-in simulated-data model's on the same examples.
//! 5. **Rollout.** The model gets an endpoint of its own; inference is switched to it and to
//!    version 2 in one configuration update while predictions keep being asked for: none may
//!    fail or fall back. Then `/predict/batch` answers from the new model at version 2.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use hyper::Method;
use model::Model;
use model::archive::{Archive, read_s3};
use model::archive_training::{ArchiveTrainingConfig, held_out_auc, train_on_archive};
use model::backfill::{self, BackfillOptions};
use model::simulate::simulate_user;
use model::train::{Examples, moment, rfc3339, user_examples};
use serde_json::{Value, json};
use shared::events::ActivityType;
use shared::features::item::epoch_ms;
use shared::features::{FeatureItem, SpecVersion, evaluate};
use time::OffsetDateTime;

use crate::demo::events::publish;
use crate::demo::features::read_item;
use crate::report::{Checks, render_verdict};
use emulator::http_client::HttpClient;
use emulator::running_stack::RunningStack;
use emulator::token;

const DAY_MS: i64 = 86_400_000;
/// Users of the live tail, published after the items were rewritten.
const TAIL_USERS: usize = 20;

#[derive(Debug, Clone)]
pub struct TrainingOptions {
    /// Simulated users whose history is published.
    pub users: usize,
    pub days: u32,
    pub seed: u64,
    /// The archive's first hours give no examples (model-train's --warm-up-hours).
    pub warm_up_hours: u32,
    /// The checked-in model (simulated data) the new one is compared with.
    pub reference_model_dir: PathBuf,
    /// Where the new model and the backfill's progress file go.
    pub out_dir: PathBuf,
    pub write_units_per_second: f64,
    /// How long the pipeline may take to apply the history.
    pub settle_timeout: Duration,
}

#[derive(Debug, Default)]
pub struct TrainingReport {
    pub published: usize,
    pub publish_time: Duration,
    pub apply_time: Duration,
    /// Items rewritten as version 1, and of those, refused by a version-2 read before the
    /// backfill.
    pub rewritten: usize,
    pub refused_before_backfill: usize,
    pub archive_uri: String,
    /// What the archive held ([`Archive::summary`]).
    pub archive_summary: String,
    pub backfill: Option<backfill::Summary>,
    /// Users whose online features at version 2 equal the archive's, of those compared.
    pub parity_equal: usize,
    pub parity_users: usize,
    pub model: Option<Model>,
    /// The checked-in model's AUC on the same held-out range, at its own spec version.
    pub reference_auc: Option<(String, u32, f64)>,
    pub endpoint: String,
    /// Answers to the predictions asked for during the switch: by spec version, errors,
    /// fallbacks.
    pub switch_answers: usize,
    pub switch_versions: Vec<u64>,
    pub switch_errors: Vec<String>,
    pub switch_fallbacks: usize,
    pub scored_after: usize,
    pub elapsed: Duration,
    pub checks: Checks,
}

impl TrainingReport {
    pub fn passed(&self) -> bool {
        self.checks.all_passed()
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "training summary ({:.1} s)\n  history: {} events published in {:.1} s, in the feature store {:.1} s later\n",
            self.elapsed.as_secs_f64(),
            self.published,
            self.publish_time.as_secs_f64(),
            self.apply_time.as_secs_f64()
        );
        out.push_str(&format!(
            "  archive {}: {}\n",
            self.archive_uri, self.archive_summary
        ));
        out.push_str(&format!(
            "  previous release: {} items rewritten at spec version 1; a version-2 read refused {} before the backfill\n",
            self.rewritten, self.refused_before_backfill
        ));
        if let Some(summary) = &self.backfill {
            out.push_str(&format!(
                "  backfill in {:.2} s: {}\n",
                summary.elapsed.as_secs_f64(),
                summary.counts
            ));
        }
        out.push_str(&format!(
            "  parity: {} of {} users' stored features at version 2 equal the archive's at the same time\n",
            self.parity_equal, self.parity_users
        ));
        if let Some(model) = &self.model {
            let t = &model.training;
            out.push_str(&format!(
                "  model {} (spec version {}): {} training examples ({} positive); held-out AUC {:.4} on {} examples ({} positive) from {}\n",
                model.version,
                model.feature_spec_version,
                t.examples,
                t.positives,
                t.held_out_auc,
                t.held_out_examples,
                t.held_out_positives,
                t.archive.as_ref().map_or("", |a| a.held_out_from.as_str())
            ));
        }
        if let Some((version, spec, auc)) = &self.reference_auc {
            out.push_str(&format!(
                "  the checked-in simulated-data model {version} (spec version {spec}) on the same held-out examples: AUC {auc:.4}\n"
            ));
        }
        out.push_str(&format!(
            "  rollout: endpoint {}; {} predictions during the switch, spec versions {:?} in order, {} errors, {} fallbacks; {} users scored by the new model after\n",
            self.endpoint,
            self.switch_answers,
            self.switch_versions,
            self.switch_errors.len(),
            self.switch_fallbacks,
            self.scored_after
        ));
        self.checks.render(&mut out);
        render_verdict(&mut out, "training", self.passed());
        out
    }
}

/// Runs the training demo against `stack`; see the module's documentation.
pub async fn run(stack: &mut RunningStack, options: &TrainingOptions) -> TrainingReport {
    let started = Instant::now();
    let mut report = TrainingReport::default();
    if let Err(failure) = drive(stack, options, &mut report).await {
        report.checks.failures.push(failure);
    }
    report.elapsed = started.elapsed();
    report
}

async fn drive(
    stack: &mut RunningStack,
    options: &TrainingOptions,
    report: &mut TrainingReport,
) -> Result<(), String> {
    let bus = stack
        .resources
        .event_buses
        .values()
        .next()
        .cloned()
        .ok_or("the stack has no event bus")?;
    let features_table = stack
        .resources
        .tables
        .get("features")
        .cloned()
        .ok_or("the stack has no features table")?;
    let (archive_bucket, archive_prefix, archive_uri) = {
        let delivery = stack
            .archives
            .values()
            .next()
            .ok_or("the stack has no archive")?;
        let settings = &delivery.settings;
        (
            settings.bucket.clone(),
            format!("{}/", settings.spec.prefix),
            settings.spec.uri(&settings.bucket),
        )
    };
    report.archive_uri.clone_from(&archive_uri);
    let run_id = ulid::Ulid::new().to_string().to_lowercase();
    let user_id = |index: usize| format!("train-{run_id}-{index:03}");

    // 1. The history, published in event-time order.
    let end_ms = epoch_ms(OffsetDateTime::now_utc()) - 60_000;
    let start_ms = end_ms - i64::from(options.days) * DAY_MS;
    let mut timed: Vec<(i64, Value)> = Vec::new();
    let mut newest: HashMap<String, i64> = HashMap::new();
    for index in 0..options.users {
        let user = simulate_user(options.seed, index, start_ms, options.days);
        for (n, event) in user.events.iter().enumerate() {
            let mut detail = json!({
                "eventId": format!("{run_id}-t-{index}-{n}"),
                "userId": user_id(index),
                "type": event.activity_type,
                "timestamp": rfc3339(event.at_ms),
            });
            if let Some(amount) = event.amount {
                detail["amount"] = json!(amount);
            }
            timed.push((event.at_ms, detail));
            newest.insert(user_id(index), event.at_ms);
        }
    }
    timed.sort_by_key(|(at, _)| *at);
    let entries: Vec<(String, Value)> = timed
        .into_iter()
        .map(|(_, detail)| ("user_activity".to_owned(), detail))
        .collect();
    let publishing = Instant::now();
    let (published, failures) = publish(&stack.clients, &bus, &entries).await;
    report.published = published;
    report.publish_time = publishing.elapsed();
    if !report
        .checks
        .check(failures.is_empty(), || failures.join("; "))
    {
        return Ok(());
    }
    let applying = Instant::now();
    let waited = wait_for_newest(stack, &features_table, &newest, options.settle_timeout).await?;
    report.apply_time = applying.elapsed();
    if !report.checks.check(waited.is_empty(), || {
        format!(
            "{} users' newest events were not in the feature store after {:?}: {:?}",
            waited.len(),
            options.settle_timeout,
            &waited[..waited.len().min(5)]
        )
    }) {
        return Ok(());
    }

    // 2. The items as the release before version 2 left them, then a live tail.
    let users: Vec<String> = newest.keys().cloned().collect();
    for user in &users {
        rewrite_as_version_1(stack, &features_table, user).await?;
        report.rewritten += 1;
    }
    let tail_at = epoch_ms(OffsetDateTime::now_utc()) - 1_000;
    let mut tail_users: Vec<String> = users.iter().take(TAIL_USERS).cloned().collect();
    tail_users.sort();
    let tail: Vec<(String, Value)> = tail_users
        .iter()
        .map(|user| {
            newest.insert(user.clone(), tail_at);
            (
                "user_activity".to_owned(),
                json!({"eventId": format!("{run_id}-tail-{user}"), "userId": user,
                       "type": ActivityType::AddToCart, "timestamp": rfc3339(tail_at)}),
            )
        })
        .collect();
    let (_, failures) = publish(&stack.clients, &bus, &tail).await;
    report
        .checks
        .check(failures.is_empty(), || failures.join("; "));
    let tail_newest: HashMap<String, i64> =
        tail_users.iter().map(|u| (u.clone(), tail_at)).collect();
    let waited =
        wait_for_newest(stack, &features_table, &tail_newest, options.settle_timeout).await?;
    report.checks.check(waited.is_empty(), || {
        format!("the live tail did not reach {} users' items", waited.len())
    });
    for user in &tail_users {
        let item = read_item(&stack.clients, &features_table, user).await?;
        report.checks.check(
            item.as_ref()
                .is_some_and(|item| item.spec_version == 1 && item.last_cart_at == Some(tail_at)),
            || format!("{user}: the writer did not keep the version-1 item's cart time: {item:?}"),
        );
    }
    let now = moment(epoch_ms(OffsetDateTime::now_utc()));
    for user in &users {
        let item = read_item(&stack.clients, &features_table, user).await?;
        report.refused_before_backfill += usize::from(
            evaluate(item.as_ref(), now, SpecVersion::V2)
                .is_err_and(|error| error.to_string().contains("backfill")),
        );
    }
    let refused = report.refused_before_backfill;
    report.checks.check(refused == users.len(), || {
        format!(
            "a version-2 read refused {refused} of {} rewritten items",
            users.len()
        )
    });

    // 3. The archive, then the backfill from it, then parity.
    stack.flush_archives().await?;
    let archive = read_s3(&stack.clients.s3, &archive_bucket, &archive_prefix)
        .await
        .map_err(|error| error.to_string())?;
    report.archive_summary = archive.summary();
    report.checks.check(archive.stats.malformed == 0, || {
        format!(
            "malformed archive records: {:?}",
            archive.stats.first_malformed
        )
    });
    std::fs::create_dir_all(&options.out_dir)
        .map_err(|e| format!("cannot create {}: {e}", options.out_dir.display()))?;
    let progress_file = options.out_dir.join("backfill-progress.json");
    let _ = std::fs::remove_file(&progress_file);
    let summary = backfill::run(
        &stack.clients.dynamodb,
        &archive,
        &BackfillOptions {
            table: features_table.clone(),
            source: archive_uri.clone(),
            write_units_per_second: options.write_units_per_second,
            progress_file: Some(progress_file),
            max_items: None,
        },
        |_| {},
    )
    .await
    .map_err(|error| error.to_string())?;
    report.checks.check(
        summary.counts.migrated >= users.len() && summary.counts.failed == 0,
        || {
            format!(
                "the backfill migrated {} of {} items: {:?}",
                summary.counts.migrated,
                users.len(),
                summary.failures
            )
        },
    );
    report.backfill = Some(summary);
    parity(stack, &features_table, &archive, report).await?;

    // 4. Training on the archive, beside the simulated-data model.
    let config = ArchiveTrainingConfig {
        seed: options.seed,
        warm_up_hours: options.warm_up_hours,
        spec_version: SpecVersion::V2,
        ..ArchiveTrainingConfig::DEFAULT
    };
    let model = train_on_archive(&archive, &archive_uri, &config).map_err(|e| e.to_string())?;
    let model_dir = options.out_dir.join(&model.version);
    std::fs::create_dir_all(&model_dir)
        .map_err(|e| format!("cannot create {}: {e}", model_dir.display()))?;
    std::fs::write(
        model_dir.join(model::artifact::ARTIFACT_FILE),
        serde_json::to_string_pretty(&model).expect("a model serializes") + "\n",
    )
    .map_err(|e| format!("cannot write the model: {e}"))?;
    report.checks.check(model.training.held_out_auc > 0.5, || {
        format!("held-out AUC {}", model.training.held_out_auc)
    });
    if let Ok(reference) = Model::load(&options.reference_model_dir)
        && let Ok(reference_auc) = held_out_auc(&archive, &config, &reference)
    {
        report.reference_auc = Some((
            reference.version.clone(),
            reference.feature_spec_version,
            reference_auc,
        ));
    }

    // 5. The rollout: a new endpoint, inference switched to it under load.
    let endpoint = format!(
        "{}-{}",
        stack
            .resources
            .model_endpoints
            .values()
            .next()
            .cloned()
            .unwrap_or_else(|| "model".into()),
        model.version
    );
    report.endpoint.clone_from(&endpoint);
    let url = stack
        .start_model_endpoint(&endpoint, model_dir)
        .await
        .map_err(|e| e.to_string())?;
    let answers = Arc::new(Mutex::new(Vec::<Result<Value, String>>::new()));
    let asking = tokio::spawn(ask_continuously(
        stack.api_url.clone(),
        users[0].clone(),
        Arc::clone(&answers),
    ));
    // Some answers from the version in service first.
    let deadline = Instant::now() + Duration::from_secs(10);
    while answers.lock().unwrap().len() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stack
        .update_function_environment(
            "inference",
            &[
                ("MODEL_ENDPOINT_NAME".into(), endpoint.clone()),
                ("FEATURE_SPEC_VERSION".into(), "2".into()),
                ("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME".into(), url),
            ],
        )
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    asking.abort();
    let _ = asking.await;
    let answers = std::mem::take(&mut *answers.lock().unwrap());
    report.switch_answers = answers.len();
    for answer in &answers {
        match answer {
            Ok(body) => {
                let version = body["featureSpecVersion"].as_u64().unwrap_or_default();
                if report.switch_versions.last() != Some(&version) {
                    report.switch_versions.push(version);
                }
                report.switch_fallbacks += usize::from(body["fallback"] != false);
            }
            Err(error) => report.switch_errors.push(error.clone()),
        }
    }
    let (errors, fallbacks, versions) = (
        report.switch_errors.clone(),
        report.switch_fallbacks,
        report.switch_versions.clone(),
    );
    report
        .checks
        .check(errors.is_empty() && fallbacks == 0, || {
            format!("during the switch: {fallbacks} fallbacks, errors {errors:?}")
        });
    report.checks.check(versions == [1, 2], || {
        format!(
            "spec versions answered during the switch, in order: {versions:?} (expected [1, 2])"
        )
    });
    let scored = score_after(&stack.api_url, &users, &model.version).await;
    match scored {
        Ok(count) => report.scored_after = count,
        Err(failure) => report.checks.failures.push(failure),
    }
    let scored = report.scored_after;
    report.checks.check(scored == users.len().min(10), || {
        format!("{scored} users scored by the new model after the switch")
    });
    report.model = Some(model);
    Ok(())
}

/// Waits until each user's item has its newest event at the time given; the users still
/// waited for at the deadline.
async fn wait_for_newest(
    stack: &RunningStack,
    table: &str,
    newest: &HashMap<String, i64>,
    timeout: Duration,
) -> Result<Vec<String>, String> {
    let deadline = Instant::now() + timeout;
    let mut waiting: Vec<String> = newest.keys().cloned().collect();
    loop {
        let mut still = Vec::new();
        for user in waiting {
            let item = read_item(&stack.clients, table, &user).await?;
            if item.and_then(|item| item.last_event_at) != Some(newest[&user]) {
                still.push(user);
            }
        }
        if still.is_empty() || Instant::now() > deadline {
            return Ok(still);
        }
        waiting = still;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Rewrites `user`'s item as the release before spec version 2 wrote it: marked version 1,
/// without the cart times (and a new `version`, as any write makes).
async fn rewrite_as_version_1(stack: &RunningStack, table: &str, user: &str) -> Result<(), String> {
    stack
        .clients
        .dynamodb
        .update_item()
        .table_name(table)
        .key("userId", AttributeValue::S(user.to_owned()))
        .update_expression(
            "SET specVersion = :one, version = version + :one REMOVE lastCartAt, lastPurchaseAt",
        )
        .condition_expression("attribute_exists(userId)")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "rewriting {user}'s item: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            )
        })
}

/// Compares every archived user's stored features at version 2 with what the spec code computes
/// from the archived events at the same time; mismatches are looked at again for a while, as
/// the pipeline may still be applying the newest events.
async fn parity(
    stack: &RunningStack,
    table: &str,
    archive: &Archive,
    report: &mut TrainingReport,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut users: Vec<&String> = archive.users.keys().collect();
    report.parity_users = users.len();
    let mut unequal = Vec::new();
    loop {
        let read_ms = epoch_ms(OffsetDateTime::now_utc());
        unequal.clear();
        for user in users.iter().copied() {
            let item: Option<FeatureItem> = read_item(&stack.clients, table, user).await?;
            let online = evaluate(item.as_ref(), moment(read_ms), SpecVersion::V2)
                .map(|features| features.model_row());
            let mut offline = Examples::default();
            user_examples(
                &archive.users[user],
                &[read_ms],
                SpecVersion::V2,
                &mut offline,
            );
            if online.as_ref().ok() != offline.rows.first() {
                unequal.push((user, online, offline.rows.first().cloned()));
            }
        }
        if unequal.is_empty() || Instant::now() > deadline {
            break;
        }
        users = unequal.iter().map(|(user, _, _)| *user).collect();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    report.parity_equal = report.parity_users - unequal.len();
    report.checks.check(unequal.is_empty(), || {
        let (user, online, offline) = &unequal[0];
        format!(
            "{} users' stored features differ from the archive's; first {user}: stored {online:?}, archive {offline:?}",
            unequal.len()
        )
    });
    Ok(())
}

/// Asks for `user`'s prediction over and over, keeping each answer (its body, or what failed).
async fn ask_continuously(
    api_url: String,
    user: String,
    answers: Arc<Mutex<Vec<Result<Value, String>>>>,
) {
    let client = HttpClient::new(Duration::from_secs(35));
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let token = token::mint("demo-scoring-service", now, 3600);
    let url = format!("{api_url}/predict");
    loop {
        let answer = client
            .send_as(
                Some(&token),
                Method::POST,
                &url,
                &[],
                Some(json!({ "userId": user })),
            )
            .await;
        let kept = match answer {
            Ok(answer) if answer.status == 200 => {
                answer.json::<Value>().map_err(|e| format!("not JSON: {e}"))
            }
            Ok(answer) => Err(format!(
                "{} {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            )),
            Err(error) => Err(error.to_string()),
        };
        answers.lock().unwrap().push(kept);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `POST /predict/batch` for up to 10 of `users`: how many the model `version` scored at spec
/// version 2 with the version-2 feature among their features.
async fn score_after(api_url: &str, users: &[String], version: &str) -> Result<usize, String> {
    let client = HttpClient::new(Duration::from_secs(35));
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let token = token::mint("demo-scoring-service", now, 3600);
    let entries: Vec<Value> = users
        .iter()
        .take(10)
        .map(|user| json!({ "userId": user }))
        .collect();
    let answer = client
        .send_as(
            Some(&token),
            Method::POST,
            &format!("{api_url}/predict/batch"),
            &[],
            Some(json!({ "users": entries })),
        )
        .await
        .map_err(|e| format!("POST /predict/batch: {e}"))?;
    if answer.status != 200 {
        return Err(format!(
            "POST /predict/batch: {} {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        ));
    }
    let body: Value = answer.json().map_err(|e| format!("not JSON: {e}"))?;
    if body["modelVersion"] != version || body["featureSpecVersion"] != 2 {
        return Err(format!(
            "after the switch the batch was scored by {} at spec version {}",
            body["modelVersion"], body["featureSpecVersion"]
        ));
    }
    Ok(body["predictions"].as_array().map_or(0, |predictions| {
        predictions
            .iter()
            .filter(|p| p["fallback"] == false && p["features"]["seconds_since_open_cart"].is_u64())
            .count()
    }))
}
