//! Training: examples from simulated users with features computed by the shared spec code,
//! a logistic regression fitted by Newton's method, and the held-out AUC.
//!
//! Examples are (features at time t, was there a purchase in (t, t + 30 min]). Features at t
//! come from [`FeatureItem::apply`] and [`evaluate`], the code feature-updates writes with and
//! inference reads with. Users are split, not examples: the held-out AUC is on users the model
//! never saw.

use rand::Rng;
use rand::rngs::StdRng;
use shared::events::ActivityType;
use shared::features::spec::FeatureKind;
use shared::features::{EVENT_TYPE_CODES, FeatureItem, SpecVersion, evaluate};
use time::OffsetDateTime;

use crate::artifact::{Column, FORMAT, Model, TrainingSummary, linear, sigmoid};
use crate::history::UserEvent;
use crate::simulate::{simulate_user, user_rng};

/// What the score is the probability of.
pub const TARGET: &str = "purchase-30m";
/// How far after an example's time its label looks: a purchase in (t, t + 30 min].
pub const HORIZON_MS: i64 = 30 * 60_000;
const DAY_MS: i64 = 86_400_000;
/// Simulated time starts here (2026-01-01T00:00:00Z), so training is reproducible.
pub const START_MS: i64 = 1_767_225_600_000;
/// Two days of history before the sampling day, so every window is filled.
const WARM_UP_DAYS: u32 = 2;

/// The knobs of one training run on simulated users.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingConfig {
    pub seed: u64,
    pub users: usize,
    pub held_out_users: usize,
    pub examples_per_user: usize,
    /// L2 penalty on the weights (not the intercept).
    pub l2: f64,
    /// The feature spec version the rows are computed at.
    pub spec_version: SpecVersion,
}

impl TrainingConfig {
    /// The configuration the checked-in model was trained with.
    pub const REFERENCE: TrainingConfig = TrainingConfig {
        seed: 20_261_123,
        users: 1_500,
        held_out_users: 500,
        examples_per_user: 16,
        l2: 1.0,
        spec_version: SpecVersion::V1,
    };

    /// The command that trains with this configuration.
    pub fn command(&self) -> String {
        format!(
            "cargo run -p model --bin model-train -- --seed {} --users {} --held-out-users {} --examples-per-user {} --l2 {} --spec-version {}",
            self.seed,
            self.users,
            self.held_out_users,
            self.examples_per_user,
            self.l2,
            self.spec_version
        )
    }
}

/// Labelled model input rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Examples {
    pub rows: Vec<Vec<f64>>,
    pub labels: Vec<bool>,
}

impl Examples {
    pub fn positives(&self) -> usize {
        self.labels.iter().filter(|label| **label).count()
    }
}

/// Examples of users `users` of the population seeded `seed`, at spec `version`.
pub fn examples(
    seed: u64,
    users: std::ops::Range<usize>,
    examples_per_user: usize,
    version: SpecVersion,
) -> Examples {
    let mut examples = Examples::default();
    let first = START_MS + i64::from(WARM_UP_DAYS) * DAY_MS;
    let last = first + DAY_MS - HORIZON_MS;
    for index in users {
        let user = simulate_user(seed, index, START_MS, WARM_UP_DAYS + 1);
        let mut rng = user_rng(seed, user.index, 1);
        let times = sample_times(&mut rng, &user.events, first..last, examples_per_user);
        user_examples(&user.events, &times, version, &mut examples);
    }
    examples
}

/// `count` times in `range` to read a user's features at: half at random times, half just
/// after one of the user's events in the range, where scoring requests come from. Sorted.
pub fn sample_times(
    rng: &mut StdRng,
    events: &[UserEvent],
    range: std::ops::Range<i64>,
    count: usize,
) -> Vec<i64> {
    if range.is_empty() {
        return Vec::new();
    }
    let active: Vec<i64> = events
        .iter()
        .map(|event| event.at_ms)
        .filter(|at| range.contains(at))
        .collect();
    let mut times: Vec<i64> = (0..count)
        .map(|n| {
            if n % 2 == 1 && !active.is_empty() {
                let after = active[rng.random_range(0..active.len())];
                (after + rng.random_range(0..120_000)).min(range.end - 1)
            } else {
                rng.random_range(range.clone())
            }
        })
        .collect();
    times.sort_unstable();
    times
}

/// The examples of one user at `times` (sorted): the features at t from the events at or before
/// t only, applied with [`FeatureItem::apply`] and read with [`evaluate`] (the code
/// feature-updates writes with and inference reads with), and the label from the events after
/// t: a purchase in (t, t + 30 min]. `events` are sorted by time.
pub fn user_examples(
    events: &[UserEvent],
    times: &[i64],
    version: SpecVersion,
    out: &mut Examples,
) {
    let mut item = FeatureItem::new("training");
    let mut applied = 0;
    for &at in times {
        while applied < events.len() && events[applied].at_ms <= at {
            let event = events[applied];
            item.apply(moment(event.at_ms), event.activity_type, event.amount);
            applied += 1;
        }
        let features = evaluate(Some(&item), moment(at), version)
            .expect("a new item holds the latest version's state");
        let label = events[applied..]
            .iter()
            .take_while(|event| event.at_ms <= at + HORIZON_MS)
            .any(|event| event.activity_type == ActivityType::Purchase);
        out.rows.push(features.model_row());
        out.labels.push(label);
    }
}

/// The time of epoch milliseconds `at_ms`.
pub fn moment(at_ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000)
        .expect("event times are in range")
}

/// Epoch milliseconds `at_ms` in RFC 3339, as events and summaries write times.
pub fn rfc3339(at_ms: i64) -> String {
    moment(at_ms)
        .format(&time::format_description::well_known::Rfc3339)
        .expect("a time in range formats")
}

/// The untrained model for the columns of `version`, with each numeric column's
/// standardization taken from `rows`.
fn columns_from(rows: &[Vec<f64>], version: SpecVersion) -> Vec<Column> {
    version
        .definitions()
        .iter()
        .enumerate()
        .map(|(position, definition)| match definition.kind {
            FeatureKind::LastEventType => Column::Category {
                name: definition.name.clone(),
                weights: vec![0.0; EVENT_TYPE_CODES.len()],
            },
            _ => {
                let n = rows.len().max(1) as f64;
                let values = rows.iter().map(|row| row[position].ln_1p());
                let mean = values.clone().sum::<f64>() / n;
                let variance = values.map(|v| (v - mean).powi(2)).sum::<f64>() / n;
                Column::Log1p {
                    name: definition.name.clone(),
                    mean,
                    // A constant column contributes nothing; a scale of 1 keeps it finite.
                    scale: if variance > 1e-12 {
                        variance.sqrt()
                    } else {
                        1.0
                    },
                    weight: 0.0,
                }
            }
        })
        .collect()
}

/// Trains on `config.users` users and measures AUC on the next `config.held_out_users`.
pub fn train(config: &TrainingConfig) -> Model {
    let version = config.spec_version;
    let training = examples(
        config.seed,
        0..config.users,
        config.examples_per_user,
        version,
    );
    let held_out = examples(
        config.seed,
        config.users..config.users + config.held_out_users,
        config.examples_per_user,
        version,
    );
    let summary = TrainingSummary {
        command: config.command(),
        seed: config.seed,
        users: config.users,
        examples: 0,
        positives: 0,
        l2: config.l2,
        iterations: 0,
        held_out_users: config.held_out_users,
        held_out_examples: 0,
        held_out_positives: 0,
        held_out_auc: 0.0,
        archive: None,
    };
    fit_model(&training, &held_out, version, summary)
}

/// Fits a model on `training` at `version` and measures it on `held_out`; `summary` says how
/// the examples came about, and gets the counts, iterations and AUC.
pub fn fit_model(
    training: &Examples,
    held_out: &Examples,
    version: SpecVersion,
    mut summary: TrainingSummary,
) -> Model {
    summary.examples = training.rows.len();
    summary.positives = training.positives();
    summary.held_out_examples = held_out.rows.len();
    summary.held_out_positives = held_out.positives();
    let mut model = Model {
        format: FORMAT.into(),
        version: String::new(),
        feature_spec_version: version.number(),
        target: TARGET.into(),
        columns: columns_from(&training.rows, version),
        intercept: 0.0,
        training: summary,
    };
    let design: Vec<Vec<f64>> = training
        .rows
        .iter()
        .enumerate()
        .map(|(index, row)| model.expand(index, row).expect("spec rows are valid"))
        .collect();
    let fit = fit_logistic(&design, &training.labels, model.training.l2);
    model.intercept = fit.intercept;
    model.set_weights(&fit.weights);
    model.training.iterations = fit.iterations;
    model.version = model.parameter_version();
    let scores = model
        .score_rows(&held_out.rows)
        .expect("spec rows are valid");
    model.training.held_out_auc = auc(&scores, &held_out.labels);
    model
}

/// A fitted logistic regression.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub intercept: f64,
    pub weights: Vec<f64>,
    pub iterations: usize,
}

/// Maximizes the L2-penalized log-likelihood by Newton's method (iteratively reweighted least
/// squares). Deterministic: the same input gives the same bits. The model is a few dozen
/// weights, so a dense Hessian and a Cholesky solve are all it needs.
pub fn fit_logistic(design: &[Vec<f64>], labels: &[bool], l2: f64) -> Fit {
    let width = design.first().map_or(0, Vec::len) + 1;
    // Parameter 0 is the intercept; the rest are the weights.
    let mut beta = vec![0.0; width];
    let mut iterations = 0;
    for _ in 0..50 {
        iterations += 1;
        let mut gradient = vec![0.0; width];
        let mut hessian = vec![0.0; width * width];
        for (row, &label) in design.iter().zip(labels) {
            let p = sigmoid(linear(beta[0], &beta[1..], row));
            let residual = p - if label { 1.0 } else { 0.0 };
            let curvature = (p * (1.0 - p)).max(1e-12);
            let x = |i: usize| if i == 0 { 1.0 } else { row[i - 1] };
            for i in 0..width {
                let xi = x(i);
                if xi == 0.0 {
                    continue;
                }
                gradient[i] += residual * xi;
                for j in 0..=i {
                    hessian[i * width + j] += curvature * xi * x(j);
                }
            }
        }
        for i in 1..width {
            gradient[i] += l2 * beta[i];
            hessian[i * width + i] += l2;
        }
        let step = cholesky_solve(&mut hessian, &gradient, width);
        let mut largest: f64 = 0.0;
        for (b, s) in beta.iter_mut().zip(&step) {
            *b -= s;
            largest = largest.max(s.abs());
        }
        if largest < 1e-10 {
            break;
        }
    }
    Fit {
        intercept: beta[0],
        weights: beta[1..].to_vec(),
        iterations,
    }
}

/// Solves `A x = b` for symmetric positive definite `A`, of which only the lower triangle
/// (row-major, `n`×`n`) is read; `A` is overwritten by its Cholesky factor.
fn cholesky_solve(a: &mut [f64], b: &[f64], n: usize) -> Vec<f64> {
    for j in 0..n {
        let mut diagonal = a[j * n + j];
        for k in 0..j {
            diagonal -= a[j * n + k] * a[j * n + k];
        }
        let diagonal = diagonal.max(1e-12).sqrt();
        a[j * n + j] = diagonal;
        for i in j + 1..n {
            let mut value = a[i * n + j];
            for k in 0..j {
                value -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = value / diagonal;
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        let mut value = b[i];
        for k in 0..i {
            value -= a[i * n + k] * y[k];
        }
        y[i] = value / a[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut value = y[i];
        for k in i + 1..n {
            value -= a[k * n + i] * x[k];
        }
        x[i] = value / a[i * n + i];
    }
    x
}

/// Area under the ROC curve: the probability that a random positive scores above a random
/// negative, ties counting half (the Mann–Whitney statistic).
pub fn auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut ranked: Vec<(f64, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = labels.iter().filter(|label| **label).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return f64::NAN;
    }
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < ranked.len() {
        let mut end = start;
        while end < ranked.len() && ranked[end].0 == ranked[start].0 {
            end += 1;
        }
        // Ranks start..end (1-based start+1..=end) share their average.
        let average_rank = (start + 1 + end) as f64 / 2.0;
        let tied_positives = ranked[start..end]
            .iter()
            .filter(|(_, label)| *label)
            .count();
        rank_sum += average_rank * tied_positives as f64;
        start = end;
    }
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_is_the_ranking_probability_with_ties_as_half() {
        assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]), 1.0);
        assert_eq!(auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]), 0.0);
        assert_eq!(auc(&[0.5, 0.5], &[false, true]), 0.5);
        // Positives at 0.4 and 0.7 against negatives 0.1, 0.5: 3 of 4 pairs ordered.
        assert_eq!(
            auc(&[0.1, 0.4, 0.5, 0.7], &[false, true, false, true]),
            0.75
        );
        assert!(auc(&[0.1], &[true]).is_nan());
    }

    #[test]
    fn newton_recovers_the_weights_of_a_known_logistic_model() {
        // Labels drawn from p = sigmoid(-1 + 2 x0 - 0.5 x1).
        let mut rng = user_rng(3, 0, 9);
        let mut design = Vec::new();
        let mut labels = Vec::new();
        for _ in 0..20_000 {
            let row = vec![rng.random_range(-2.0..2.0), rng.random_range(-2.0..2.0)];
            let p = sigmoid(-1.0 + 2.0 * row[0] - 0.5 * row[1]);
            labels.push(rng.random_bool(p));
            design.push(row);
        }
        let fit = fit_logistic(&design, &labels, 0.0);
        assert!((fit.intercept + 1.0).abs() < 0.1, "{fit:?}");
        assert!((fit.weights[0] - 2.0).abs() < 0.1, "{fit:?}");
        assert!((fit.weights[1] + 0.5).abs() < 0.1, "{fit:?}");
        assert!(fit.iterations < 15, "{fit:?}");
    }

    #[test]
    fn events_after_an_example_time_never_change_its_features() {
        for index in 0..40 {
            let user = simulate_user(7, index, START_MS, 3);
            let mut rng = user_rng(7, index, 1);
            let range = START_MS + DAY_MS..START_MS + 3 * DAY_MS - HORIZON_MS;
            let times = sample_times(&mut rng, &user.events, range, 12);
            let mut full = Examples::default();
            user_examples(&user.events, &times, SpecVersion::V2, &mut full);
            for (n, &at) in times.iter().enumerate() {
                // Only the events up to t, then a burst right after it that would move every
                // feature if it leaked in.
                let mut altered: Vec<UserEvent> = user
                    .events
                    .iter()
                    .copied()
                    .filter(|event| event.at_ms <= at)
                    .collect();
                for (offset, activity_type) in [
                    (1, ActivityType::AddToCart),
                    (2, ActivityType::Purchase),
                    (3, ActivityType::AddToCart),
                ] {
                    altered.push(UserEvent {
                        at_ms: at + offset,
                        activity_type,
                        amount: (activity_type == ActivityType::Purchase).then_some(9.0),
                    });
                }
                let mut alone = Examples::default();
                user_examples(&altered, &[at], SpecVersion::V2, &mut alone);
                assert_eq!(alone.rows[0], full.rows[n], "user {index} at {at}");
                assert!(alone.labels[0], "the burst is a purchase within 30 minutes");
            }
        }
    }

    #[test]
    fn labels_look_ahead_thirty_minutes_and_features_only_behind() {
        let events = vec![
            UserEvent {
                at_ms: START_MS,
                activity_type: ActivityType::AddToCart,
                amount: None,
            },
            UserEvent {
                at_ms: START_MS + 10 * 60_000,
                activity_type: ActivityType::Purchase,
                amount: Some(5.0),
            },
        ];
        let mut out = Examples::default();
        let times = [
            START_MS - 30 * 60_000 - 1,
            START_MS - 20 * 60_000,
            START_MS + 10 * 60_000,
        ];
        user_examples(&events, &times, SpecVersion::V2, &mut out);
        assert_eq!(out.labels, [false, true, false]);
        let column = |name: &str| SpecVersion::V2.column(name).unwrap();
        assert_eq!(out.rows[1][column("event_count_24h")], 0.0);
        assert_eq!(
            out.rows[2][column("purchase_count_5m")],
            1.0,
            "an event at t counts at t"
        );
        assert_eq!(out.rows[2][column("last_event_type")], 5.0);
        assert_eq!(out.rows[1][column("seconds_since_open_cart")], 86_400.0);
        assert_eq!(out.rows[2][column("seconds_since_open_cart")], 86_400.0);
    }
}
