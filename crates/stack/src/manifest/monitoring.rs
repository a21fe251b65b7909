//! The manifest's `monitoring` section: the alarms, their topic, the dashboard and the optional
//! budget that both templates deploy. Nothing here runs locally (CloudWatch, SNS and Budgets are
//! not emulated); the types exist so the manifest is checked the same way everywhere, and a
//! typo in an alarm is refused before a deploy instead of by CloudFormation half-way through.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Stack, StackError, check_parameter_name, check_resource_key};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitoringSpec {
    pub alarm_topic: AlarmTopicSpec,
    /// Alarms on one resource each, by key: deployed as `<prefix>-<key>`.
    #[serde(default)]
    pub alarms: BTreeMap<String, AlarmSpec>,
    /// Alarms every function gets, by key: deployed as `<prefix>-<function>-<key>`.
    #[serde(default)]
    pub function_alarms: BTreeMap<String, AlarmSpec>,
    pub dashboard: DashboardSpec,
    #[serde(default)]
    pub budget: Option<BudgetSpec>,
    #[serde(default)]
    pub reasons: BTreeMap<String, String>,
}

/// The SNS topic every alarm and budget notification goes to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmTopicSpec {
    pub key: String,
    /// The deploy-time parameter with an address to subscribe by email (empty: none).
    pub email_parameter: String,
}

/// One CloudWatch metric alarm. `target` picks the namespace and dimensions (see
/// [`AlarmTarget`]); function alarms have none, their function is the target.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmSpec {
    pub description: String,
    #[serde(default)]
    pub target: Option<AlarmTarget>,
    pub metric: String,
    /// A statistic (`Sum`, `Average`, ...) or a percentile such as `p99`.
    pub statistic: String,
    pub period_seconds: u32,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub comparison: Comparison,
    pub threshold: serde_json::Number,
    pub treat_missing_data: MissingData,
}

/// What an alarm watches: `AWS/SQS` by `QueueName`, `AWS/Kinesis` by `StreamName`,
/// `AWS/SageMaker` by `EndpointName` and `VariantName`, or `AWS/ApiGateway` by `ApiId`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AlarmTarget {
    Queue(String),
    Stream(String),
    Endpoint(String),
    HttpApi(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum Comparison {
    GreaterThanThreshold,
    GreaterThanOrEqualToThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MissingData {
    Breaching,
    NotBreaching,
    Ignore,
    Missing,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardSpec {
    pub key: String,
    /// The dashboard's JSON, a file beside the manifest.
    pub body: String,
}

/// An AWS Budgets cost budget, deployed only when its amount parameter is set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetSpec {
    pub amount_parameter: String,
    pub time_unit: BudgetTimeUnit,
    /// The cost-allocation tag whose value scopes the budget.
    pub filter_tag: String,
    pub notifications: Vec<BudgetNotification>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BudgetTimeUnit {
    Daily,
    Monthly,
    Quarterly,
    Annually,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetNotification {
    #[serde(rename = "type")]
    pub kind: BudgetNotificationType,
    pub threshold_percent: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BudgetNotificationType {
    Actual,
    Forecasted,
}

const STATISTICS: [&str; 5] = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"];

/// CloudWatch evaluates at most one day of periods.
const MAX_EVALUATION_SECONDS: u64 = 86_400;

impl AlarmSpec {
    /// A percentile statistic (`p99`, `p99.9`) goes to `ExtendedStatistic`, anything else to
    /// `Statistic`.
    pub fn is_percentile(&self) -> bool {
        percentile(&self.statistic).is_some()
    }

    fn check(&self, name: &str) -> Result<(), StackError> {
        let invalid =
            |message: String| Err(StackError::Invalid(format!("alarm {name}: {message}")));
        if self.metric.is_empty() || self.description.is_empty() {
            return invalid("needs a metric and a description".into());
        }
        if !STATISTICS.contains(&self.statistic.as_str()) && !self.is_percentile() {
            return invalid(format!(
                "statistic {:?} is neither one of {STATISTICS:?} nor a percentile such as p99",
                self.statistic
            ));
        }
        // Standard resolution: a minute or more, in whole minutes (10 and 30 s are high resolution).
        if self.period_seconds < 60 || !self.period_seconds.is_multiple_of(60) {
            return invalid(format!(
                "period_seconds {} is not a whole number of minutes",
                self.period_seconds
            ));
        }
        if self.evaluation_periods == 0
            || u64::from(self.period_seconds) * u64::from(self.evaluation_periods)
                > MAX_EVALUATION_SECONDS
        {
            return invalid(format!(
                "{} periods of {} s is not within CloudWatch's 1 period..=one day",
                self.evaluation_periods, self.period_seconds
            ));
        }
        if !(1..=self.evaluation_periods).contains(&self.datapoints_to_alarm) {
            return invalid(format!(
                "datapoints_to_alarm {} is outside 1..=evaluation_periods ({})",
                self.datapoints_to_alarm, self.evaluation_periods
            ));
        }
        Ok(())
    }
}

/// `p99` → 99.0; `None` for anything that is not `p` and a number in (0, 100).
fn percentile(statistic: &str) -> Option<f64> {
    let value: f64 = statistic.strip_prefix('p')?.parse().ok()?;
    (value > 0.0 && value < 100.0).then_some(value)
}

impl Stack {
    pub(super) fn check_monitoring(&self, monitoring: &MonitoringSpec) -> Result<(), StackError> {
        let invalid = |message: String| Err(StackError::Invalid(message));
        check_resource_key(&monitoring.alarm_topic.key)?;
        check_parameter_name(
            "monitoring: alarm_topic.email_parameter",
            &monitoring.alarm_topic.email_parameter,
        )?;
        check_resource_key(&monitoring.dashboard.key)?;
        let body = &monitoring.dashboard.body;
        if !body.ends_with(".json") || body.contains(['/', '\\']) {
            return invalid(format!(
                "monitoring: dashboard body {body:?} must be a .json file beside the manifest"
            ));
        }

        // Deployed alarm names, to refuse two alarms that would get the same one.
        let mut names = BTreeMap::new();
        for (key, alarm) in &monitoring.alarms {
            check_resource_key(key)?;
            alarm.check(key)?;
            let known = match &alarm.target {
                None => return invalid(format!("alarm {key}: needs a target")),
                Some(AlarmTarget::Queue(queue)) => self.queues.contains_key(queue),
                Some(AlarmTarget::Stream(stream)) => self.streams.contains_key(stream),
                Some(AlarmTarget::Endpoint(endpoint)) => {
                    self.model_endpoints.contains_key(endpoint)
                }
                Some(AlarmTarget::HttpApi(on)) => *on && self.http_api.is_some(),
            };
            if !known {
                return invalid(format!(
                    "alarm {key}: its target {:?} is not defined in the manifest",
                    alarm.target
                ));
            }
            names.insert(key.clone(), key.clone());
        }
        for (key, alarm) in &monitoring.function_alarms {
            check_resource_key(key)?;
            alarm.check(key)?;
            if alarm.target.is_some() {
                return invalid(format!(
                    "function alarm {key}: takes no target, every function is one"
                ));
            }
            for function in self.functions.keys() {
                let name = format!("{function}-{key}");
                if let Some(other) = names.insert(name.clone(), format!("{key} of {function}")) {
                    return invalid(format!(
                        "function alarm {key} of {function} and alarm {other} would both be named <prefix>-{name}"
                    ));
                }
            }
        }

        if let Some(budget) = &monitoring.budget {
            check_parameter_name(
                "monitoring: budget.amount_parameter",
                &budget.amount_parameter,
            )?;
            if !self.cost_allocation_tags.contains(&budget.filter_tag) {
                return invalid(format!(
                    "monitoring: budget filter_tag {} is not one of the cost_allocation_tags",
                    budget.filter_tag
                ));
            }
            if budget.notifications.is_empty() {
                return invalid("monitoring: a budget without notifications alerts nobody".into());
            }
            if let Some(bad) = budget
                .notifications
                .iter()
                .find(|n| !(1..=1000).contains(&n.threshold_percent))
            {
                return invalid(format!(
                    "monitoring: budget threshold_percent {} is outside 1..=1000",
                    bad.threshold_percent
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::manifest::tests::{manifest_with, refused};

    #[test]
    fn the_workspace_monitoring_covers_every_function_and_the_places_events_wait() {
        let stack = Stack::workspace();
        let monitoring = stack
            .monitoring
            .as_ref()
            .expect("the manifest has monitoring");
        assert!(monitoring.function_alarms.contains_key("errors"));
        assert!(monitoring.function_alarms.contains_key("throttles"));
        // Every queue nothing reads from (where events wait for a person) has a depth alarm.
        let readers: Vec<&str> = stack
            .functions
            .values()
            .flat_map(|f| f.event_sources.iter())
            .filter_map(|source| source.queue.as_deref())
            .collect();
        let watched: Vec<&AlarmTarget> = monitoring
            .alarms
            .values()
            .filter_map(|a| a.target.as_ref())
            .collect();
        for (queue, spec) in &stack.queues {
            if readers.contains(&queue.as_str()) || spec.fifo {
                continue;
            }
            assert!(
                watched.contains(&&AlarmTarget::Queue(queue.clone())),
                "queue {queue} holds set-aside messages and has no alarm"
            );
        }
        for stream in stack.streams.keys() {
            assert!(
                watched.contains(&&AlarmTarget::Stream(stream.clone())),
                "stream {stream} has no iterator-age alarm"
            );
        }
        assert!(watched.contains(&&AlarmTarget::HttpApi(true)));
        assert!(watched.contains(&&AlarmTarget::Endpoint("model".into())));
        let latency = &monitoring.alarms["http-api-latency-p99"];
        assert!(latency.is_percentile());
        assert!(!monitoring.alarms["http-api-5xx-rate"].is_percentile());
        let budget = monitoring.budget.as_ref().unwrap();
        assert!(stack.cost_allocation_tags.contains(&budget.filter_tag));
    }

    #[test]
    fn bad_alarms_are_refused_with_the_reason() {
        let message = refused(|m| {
            m["monitoring"]["alarms"]["rejects-messages"]["target"] =
                serde_json::json!({"queue": "nope"})
        });
        assert!(
            message.contains("alarm rejects-messages: its target"),
            "{message}"
        );
        let message =
            refused(|m| m["monitoring"]["alarms"]["model-errors"]["statistic"] = "Median".into());
        assert!(message.contains("statistic \"Median\""), "{message}");
        let message =
            refused(|m| m["monitoring"]["alarms"]["model-errors"]["statistic"] = "p100".into());
        assert!(message.contains("statistic \"p100\""), "{message}");
        let message =
            refused(|m| m["monitoring"]["alarms"]["model-errors"]["period_seconds"] = 90.into());
        assert!(message.contains("period_seconds 90"), "{message}");
        let message = refused(|m| {
            m["monitoring"]["alarms"]["model-errors"]["evaluation_periods"] = 289.into()
        });
        assert!(message.contains("289 periods of 300 s"), "{message}");
        let message = refused(|m| {
            m["monitoring"]["alarms"]["model-errors"]["datapoints_to_alarm"] = 2.into()
        });
        assert!(message.contains("datapoints_to_alarm 2"), "{message}");
        let message = refused(|m| {
            m["monitoring"]["alarms"]["model-errors"]["comparison"] = "GreaterThan".into()
        });
        assert!(message.contains("GreaterThan"), "{message}");
        let message = refused(|m| {
            m["monitoring"]["function_alarms"]["errors"]["target"] =
                serde_json::json!({"queue": "ingest"})
        });
        assert!(message.contains("takes no target"), "{message}");
        let message = refused(|m| {
            m["monitoring"]["alarms"]["rejects-messages"]["target"] =
                serde_json::json!({"http_api": false})
        });
        assert!(message.contains("its target"), "{message}");
    }

    #[test]
    fn two_alarms_with_one_deployed_name_are_refused() {
        let message = refused(|m| {
            let copy = m["monitoring"]["alarms"]["model-errors"].clone();
            m["monitoring"]["alarms"]["inference-errors"] = copy;
        });
        assert!(
            message.contains("would both be named <prefix>-inference-errors"),
            "{message}"
        );
    }

    #[test]
    fn bad_budget_topic_and_dashboard_settings_are_refused() {
        let message = refused(|m| m["monitoring"]["budget"]["filter_tag"] = "team".into());
        assert!(message.contains("filter_tag team"), "{message}");
        let message =
            refused(|m| m["monitoring"]["budget"]["notifications"] = serde_json::json!([]));
        assert!(message.contains("alerts nobody"), "{message}");
        let message = refused(|m| {
            m["monitoring"]["budget"]["notifications"][0]["threshold_percent"] = 0.into()
        });
        assert!(message.contains("threshold_percent 0"), "{message}");
        let message =
            refused(|m| m["monitoring"]["alarm_topic"]["email_parameter"] = "alarm-email".into());
        assert!(
            message.contains("not a template parameter name"),
            "{message}"
        );
        let message =
            refused(|m| m["monitoring"]["dashboard"]["body"] = "../dashboard.json".into());
        assert!(message.contains("beside the manifest"), "{message}");
        let message = refused(|m| m["monitoring"]["budget"]["time_unit"] = "WEEKLY".into());
        assert!(message.contains("WEEKLY"), "{message}");
        // No budget at all is fine: it is optional, but its reasons must go with it.
        let message = refused(|m| {
            m["monitoring"].as_object_mut().unwrap().remove("budget");
        });
        assert!(
            message.contains("monitoring has no setting budget"),
            "{message}"
        );
        manifest_with(|m| {
            m["monitoring"].as_object_mut().unwrap().remove("budget");
            let reasons = m["monitoring"]["reasons"].as_object_mut().unwrap();
            reasons.retain(|path, _| !path.starts_with("budget"));
        })
        .unwrap();
    }
}
